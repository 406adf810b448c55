/* deconv_comm over MPI (mpi_comm.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_comm.h"

#include "internal.h"

struct deconv_mpi_comm {
    MPI_Comm cart;        /* 1-D, not periodic: the end bands' outer
                             neighbour is MPI_PROC_NULL */
    int rank, size, up, down;
    int N, M, kw, kh, blk;
    deconv_band *bands;   /* every rank's band, for counts and offsets */
    int *counts, *displs; /* rows owned by each rank, and the first one */
    MPI_Datatype xrow, yrow; /* one row of an image- or residual-shaped plane */
    MPI_Datatype vals[2];    /* a row's one or two sums */
    int typed;               /* the datatypes are made */
    double halo_seconds, sum_seconds;
    deconv_order order;
    deconv_comm iface;
};

/* Rows a plane of this kind is exchanged in: the halo rows a band holds
 * above (from the band above) and below (from the band below). */
static int halo_above(const deconv_band *b, deconv_plane_kind k)
{
    return k == DECONV_PLANE_X ? b->x0 - b->xs0 : b->y0 - b->ys0;
}
static int halo_below(const deconv_band *b, deconv_plane_kind k)
{
    return k == DECONV_PLANE_X ? b->xs1 - b->x1 : 0;
}

static void exchange(void *ctx, const deconv_band *b, deconv_plane_kind k, float *plane)
{
    deconv_mpi_comm *c = ctx;
    const double t0 = MPI_Wtime();
    const int w = k == DECONV_PLANE_X ? b->xw : b->N;
    const MPI_Datatype row = k == DECONV_PLANE_X ? c->xrow : c->yrow;
    const int first = k == DECONV_PLANE_X ? b->x0 : b->y0;  /* owned */
    const int last = k == DECONV_PLANE_X ? b->x1 : b->y1;
    const int held0 = k == DECONV_PLANE_X ? b->xs0 : b->ys0;
    const deconv_band *above = c->rank > 0 ? &c->bands[c->rank - 1] : NULL;
    const deconv_band *below = c->rank + 1 < c->size ? &c->bands[c->rank + 1] : NULL;
    /* upward: my first rows are the halo below of the band above; I
     * receive my halo below from the band below */
    int send_up = above ? halo_below(above, k) : 0, recv_down = halo_below(b, k);
    MPI_Sendrecv(plane + (size_t)(first - held0) * w, send_up, row, c->up, 1,
                 plane + (size_t)(last - held0) * w, below ? recv_down : 0, row, c->down, 1,
                 c->cart, MPI_STATUS_IGNORE);
    /* downward: my last rows are the halo above of the band below */
    int send_down = below ? halo_above(below, k) : 0, recv_up = halo_above(b, k);
    MPI_Sendrecv(plane + (size_t)(last - send_down - held0) * w, send_down, row, c->down, 2,
                 plane, above ? recv_up : 0, row, c->up, 2, c->cart, MPI_STATUS_IGNORE);
    c->halo_seconds += MPI_Wtime() - t0;
}

static void gather(void *ctx, const deconv_band *b, deconv_plane_kind k, double *rows,
                   int nvals)
{
    deconv_mpi_comm *c = ctx;
    (void)b;
    for (int r = 0; r < c->size; r++) {
        const deconv_band *o = &c->bands[r];
        c->counts[r] = k == DECONV_PLANE_X ? o->x1 - o->x0 : o->y1 - o->y0;
        c->displs[r] = k == DECONV_PLANE_X ? o->x0 : o->y0;
    }
    MPI_Datatype vals = c->vals[nvals - 1];
    const double t0 = MPI_Wtime();
    MPI_Allgatherv(MPI_IN_PLACE, 0, vals, rows, c->counts, c->displs, vals, c->cart);
    c->sum_seconds += MPI_Wtime() - t0;
}

static int any(void *ctx, int flag)
{
    deconv_mpi_comm *c = ctx;
    int all = 0;
    const double t0 = MPI_Wtime();
    MPI_Allreduce(&flag, &all, 1, MPI_INT, MPI_LOR, c->cart);
    c->sum_seconds += MPI_Wtime() - t0;
    return all;
}

static uint64_t count(void *ctx, uint64_t n)
{
    deconv_mpi_comm *c = ctx;
    uint64_t all = 0;
    MPI_Allreduce(&n, &all, 1, MPI_UINT64_T, MPI_SUM, c->cart); /* integers: exact */
    return all;
}

/* The k-th smallest of every band's values: non-negative floats order as
 * their bit patterns, so a radix selection over the bits, a byte at a
 * time, with every band's counts added, finds the exact value. */
static float select_kth(void *ctx, float *v, size_t n, uint64_t k)
{
    deconv_mpi_comm *c = ctx;
    uint32_t prefix = 0, mask = 0;
    for (int shift = 24; shift >= 0; shift -= 8) {
        uint64_t hist[256] = {0}, all[256];
        for (size_t i = 0; i < n; i++) {
            uint32_t u;
            memcpy(&u, &v[i], sizeof u);
            if ((u & mask) == prefix)
                hist[(u >> shift) & 255]++;
        }
        MPI_Allreduce(hist, all, 256, MPI_UINT64_T, MPI_SUM, c->cart);
        int b = 0;
        while (b < 255 && k >= all[b])
            k -= all[b++];
        prefix |= (uint32_t)b << shift;
        mask |= 255u << shift;
    }
    float f;
    memcpy(&f, &prefix, sizeof f);
    return f;
}

deconv_mpi_comm *deconv_mpi_comm_new(MPI_Comm comm, int N, int M, int kw, int kh, int blk)
{
    deconv_mpi_comm *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    int size;
    MPI_Comm_size(comm, &size);
    int dims[1] = {size}, periods[1] = {0};
    MPI_Cart_create(comm, 1, dims, periods, 0, &c->cart);
    MPI_Comm_rank(c->cart, &c->rank);
    MPI_Cart_shift(c->cart, 0, 1, &c->up, &c->down);
    c->size = size, c->N = N, c->M = M, c->kw = kw, c->kh = kh, c->blk = blk;
    c->bands = malloc((size_t)size * sizeof *c->bands);
    c->counts = malloc((size_t)size * sizeof(int));
    c->displs = malloc((size_t)size * sizeof(int));
    if (!c->bands || !c->counts || !c->displs) {
        deconv_mpi_comm_free(c);
        return NULL;
    }
    for (int r = 0; r < size; r++)
        deconv_band_split(N, M, kw, kh, blk, r, size, &c->bands[r]);
    MPI_Type_contiguous(N + kw - 1, MPI_FLOAT, &c->xrow);
    MPI_Type_commit(&c->xrow);
    MPI_Type_contiguous(N, MPI_FLOAT, &c->yrow);
    MPI_Type_commit(&c->yrow);
    for (int k = 0; k < 2; k++) {
        MPI_Type_contiguous(k + 1, MPI_DOUBLE, &c->vals[k]);
        MPI_Type_commit(&c->vals[k]);
    }
    c->typed = 1;
    c->iface = (deconv_comm){c, exchange, gather, any};
    c->order = (deconv_order){c, count, select_kth};
    return c;
}

void deconv_mpi_comm_free(deconv_mpi_comm *c)
{
    if (!c)
        return;
    if (c->typed) {
        MPI_Type_free(&c->xrow);
        MPI_Type_free(&c->yrow);
        MPI_Type_free(&c->vals[0]);
        MPI_Type_free(&c->vals[1]);
    }
    MPI_Comm_free(&c->cart);
    free(c->bands), free(c->counts), free(c->displs);
    free(c);
}

const deconv_comm *deconv_mpi_comm_iface(deconv_mpi_comm *c) { return &c->iface; }

const deconv_order *deconv_mpi_comm_order(deconv_mpi_comm *c) { return &c->order; }

void deconv_mpi_comm_seconds(const deconv_mpi_comm *c, double *halo, double *sums)
{
    *halo = c->halo_seconds, *sums = c->sum_seconds;
}

/* Every process's status made one: if any failed, all fail, with the
 * message of the first that did (its rank named on the others). */
deconv_status deconv_mpi_agree(MPI_Comm comm, deconv_status st, deconv_error *err)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int mine = st != DECONV_OK ? rank : size, first = size;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
    if (first == size)
        return DECONV_OK;
    deconv_error e = {st, ""};
    if (rank == first && err)
        e = *err;
    MPI_Bcast(&e, (int)sizeof e, MPI_BYTE, first, comm);
    if (rank != first)
        return deconv_fail(err, e.code, "process %d: %s", first, e.message);
    return e.code;
}
