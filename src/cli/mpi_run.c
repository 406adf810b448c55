/* The program under mpirun (mpi_run.h). Rank 0 holds the whole input and
 * the whole result; the others their bands: streaming rows from and to
 * the files is the next step for images larger than one node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef DECONV_HAVE_MPI
#include <mpi.h> /* before deconv.h, which then declares its MPI functions */
#endif
#include "mpi_run.h"

static void fail(deconv_error *err, deconv_status code, const char *message)
{
    err->code = code;
    snprintf(err->message, sizeof err->message, "%s", message);
}

#ifdef DECONV_HAVE_MPI

static int active, rank, size;

/* Open MPI, MPICH (Hydra) and Slurm's launchers set these in every process
 * they start. */
static int launched_by_mpi(void)
{
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

int cli_mpi_start(int *argc, char ***argv)
{
    if (!launched_by_mpi())
        return 0;
    int provided;
    /* only the main thread calls MPI; OpenMP threads compute between calls */
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    active = 1;
    return 1;
}

void cli_mpi_finish(void)
{
    if (active)
        MPI_Finalize();
    active = 0;
}

int cli_mpi_active(void) { return active; }
int cli_mpi_rank(void) { return rank; }

int cli_mpi_share_int(int v)
{
    if (active)
        MPI_Bcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return v;
}

deconv_kernel *cli_mpi_blind_kernel(const deconv_image *y, deconv_blind_params *p,
                                    deconv_error *err)
{
    const MPI_Comm comm = MPI_COMM_WORLD;
    /* the parameters, their pointers made this process's own */
    volatile const int *cancel = p->cancel;
    int init[2] = {0, 0};
    if (rank == 0 && p->init)
        init[0] = p->init->width, init[1] = p->init->height;
    MPI_Bcast(p, (int)sizeof *p, MPI_BYTE, 0, comm);
    MPI_Bcast(init, 2, MPI_INT, 0, comm);
    p->cancel = cancel;
    deconv_kernel *k0 = NULL;
    if (rank != 0) {
        p->progress = NULL, p->progress_user = NULL;
        p->init = NULL;
        if (init[0] && !(k0 = deconv_kernel_new(init[0], init[1])))
            MPI_Abort(comm, 1); /* a few KB: nothing else would run either */
        p->init = k0;
    }
    if (init[0])
        MPI_Bcast((float *)p->init->data, init[0] * init[1], MPI_FLOAT, 0, comm);
    /* the window, cut out by rank 0: the estimate's region is all of it */
    int shape[3] = {p->region_width, p->region_height, y ? y->channels : 0};
    MPI_Bcast(shape, 3, MPI_INT, 0, comm);
    deconv_image *win = deconv_image_new(shape[0], shape[1], shape[2]);
    int have = win != NULL, all = 0;
    MPI_Allreduce(&have, &all, 1, MPI_INT, MPI_LAND, comm);
    if (!all) {
        deconv_image_free(win);
        deconv_kernel_free(k0);
        if (rank != 0)
            p->init = NULL;
        fail(err, DECONV_ERR_NOMEM, "out of memory for the estimate's window");
        return NULL;
    }
    if (rank == 0)
        for (int c = 0; c < shape[2]; c++)
            deconv_crop(deconv_image_plane(y, c), y->width, p->region_y, p->region_x, shape[0],
                        shape[1], deconv_image_plane(win, c));
    MPI_Bcast(win->data, shape[0] * shape[1] * shape[2], MPI_FLOAT, 0, comm);
    deconv_blind_params q = *p;
    q.region_x = q.region_y = 0;
    deconv_kernel *k = deconv_blind_kernel_mpi(comm, win, &q, err);
    deconv_image_free(win);
    deconv_kernel_free(k0);
    if (rank != 0)
        p->init = NULL;
    return k;
}

/* What the other ranks need of the input: its shape and the kernel's
 * size (the noise is estimated by the processes together). */
typedef struct {
    int width, height, channels, kw, kh;
} shape;

/* Rank 0's status, on every rank; err, set on rank 0, stays there. */
static deconv_status share_status(deconv_status st)
{
    return (deconv_status)cli_mpi_share_int(st);
}

/* Whether every rank has ok. */
static int all_ok(int ok)
{
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    return all;
}

static deconv_status next_rows(const cli_rows_in *in, int n, float *out, deconv_error *err)
{
    if (in->reader)
        return deconv_row_reader_read(in->reader, n, out, err);
    const deconv_image *y = in->image;
    for (int c = 0; c < y->channels; c++)
        memcpy(out + (size_t)c * n * y->width,
               deconv_image_plane(y, c) + (size_t)in->next * y->width,
               (size_t)n * y->width * sizeof(float));
    ((cli_rows_in *)in)->next += n;
    return DECONV_OK;
}

/* Rank 0: every rank's input rows, in rank order, read as they are
 * needed into a window of rows that slides down the image (at most the
 * tallest band's rows), and sent; its own into band. */
static deconv_status scatter_rows(const cli_rows_in *in, const shape *s,
                                  const deconv_mpi_rows *rows, deconv_image *band,
                                  deconv_error *err)
{
    const int N = s->width, C = s->channels;
    int cap = 0;
    for (int r = 0; r < size; r++)
        cap = rows[r].in1 - rows[r].in0 > cap ? rows[r].in1 - rows[r].in0 : cap;
    enum { CHUNK = 64 };
    float *win = malloc((size_t)cap * N * C * sizeof(float));
    float *chunk = malloc((size_t)CHUNK * N * C * sizeof(float));
    deconv_status st = win && chunk ? DECONV_OK
                                    : (fail(err, DECONV_ERR_NOMEM, "out of memory for the rows "
                                                                   "being sent"),
                                       DECONV_ERR_NOMEM);
    int w0 = 0, w1 = 0; /* the window holds rows [w0, w1) */
    for (int r = 0; r < size; r++) {
        const int in0 = rows[r].in0, in1 = rows[r].in1;
        if (st == DECONV_OK) {
            int drop = in0 - w0 < w1 - w0 ? in0 - w0 : w1 - w0;
            for (int c = 0; c < C && drop > 0; c++)
                memmove(win + (size_t)c * cap * N, win + ((size_t)c * cap + drop) * N,
                        (size_t)(w1 - w0 - drop) * N * sizeof(float));
            w0 += drop;
            if (w1 < w0)
                w1 = w0;
            while (st == DECONV_OK && w1 < in1) {
                int n = in1 - w1 < CHUNK ? in1 - w1 : CHUNK;
                st = next_rows(in, n, chunk, err);
                for (int c = 0; c < C && st == DECONV_OK; c++)
                    memcpy(win + ((size_t)c * cap + (w1 - w0)) * N, chunk + (size_t)c * n * N,
                           (size_t)n * N * sizeof(float));
                w1 += n;
            }
        }
        /* sent even after a failure (its status follows), so no rank waits */
        for (int c = 0; c < C; c++) {
            const float *src = win ? win + ((size_t)c * cap + (in0 - w0)) * N : NULL;
            size_t n = (size_t)(in1 - in0) * N;
            if (r == 0) {
                if (st == DECONV_OK)
                    memcpy(deconv_image_plane(band, c), src, n * sizeof(float));
            } else if (st == DECONV_OK) {
                MPI_Send(src, (int)n, MPI_FLOAT, r, c, MPI_COMM_WORLD);
            } else {
                MPI_Send(deconv_image_plane(band, 0), 0, MPI_FLOAT, r, c, MPI_COMM_WORLD);
            }
        }
    }
    free(win), free(chunk);
    return st;
}

/* Rank 0's room for a band of the result (band) and its rows cut to the
 * output (cut). */
typedef struct {
    float *band, *cut;
} gather_room;

static int gather_room_alloc(const shape *s, const deconv_mpi_rows *rows, int full,
                             gather_room *g)
{
    const int xw = s->width + s->kw - 1, ow = full ? xw : s->width;
    int cap = 0;
    for (int r = 0; r < size; r++)
        cap = rows[r].out1 - rows[r].out0 > cap ? rows[r].out1 - rows[r].out0 : cap;
    g->band = malloc((size_t)cap * xw * s->channels * sizeof(float));
    g->cut = malloc((size_t)cap * ow * s->channels * sizeof(float));
    return g->band && g->cut;
}

/* Rank 0: every rank's rows of the result, in rank order, cropped to the
 * input's frame unless full, into the writer; received to the end even
 * after a failure to write, so that no rank waits. */
static deconv_status gather_rows(const shape *s, const deconv_mpi_rows *rows,
                                 const deconv_image *mine, deconv_row_writer *wr, int full,
                                 const gather_room *g, deconv_error *err)
{
    const int xw = s->width + s->kw - 1, C = s->channels;
    const int top = full ? 0 : (s->kh - 1) / 2, left = full ? 0 : (s->kw - 1) / 2;
    const int ow = full ? xw : s->width, oh = full ? s->height + s->kh - 1 : s->height;
    deconv_status st = DECONV_OK;
    for (int r = 0; r < size; r++) {
        const int out0 = rows[r].out0, n = rows[r].out1 - rows[r].out0;
        for (int c = 0; c < C; c++) {
            float *dst = g->band + (size_t)c * n * xw;
            if (r == 0)
                memcpy(dst, deconv_image_plane(mine, c), (size_t)n * xw * sizeof(float));
            else
                MPI_Recv(dst, n * xw, MPI_FLOAT, r, c, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        }
        /* the band's rows inside the output's frame [top, top + oh) */
        int i0 = out0 > top ? out0 : top, i1 = out0 + n < top + oh ? out0 + n : top + oh;
        if (st != DECONV_OK || i1 <= i0)
            continue;
        const int m = i1 - i0;
        for (int c = 0; c < C; c++)
            for (int i = 0; i < m; i++)
                memcpy(g->cut + ((size_t)c * m + i) * ow,
                       g->band + ((size_t)c * n + (i0 - out0 + i)) * xw + left,
                       (size_t)ow * sizeof(float));
        st = deconv_row_writer_write(wr, m, g->cut, err);
    }
    return st;
}

/* Every rank's MPI_Send of its rows to rank 0, matching gather_rows. */
static void send_rows(const shape *s, const deconv_mpi_rows *mine, const deconv_image *x)
{
    const int xw = s->width + s->kw - 1;
    for (int c = 0; c < s->channels; c++)
        MPI_Send(x ? deconv_image_plane(x, c) : NULL, x ? xw * (mine->out1 - mine->out0) : 0,
                 MPI_FLOAT, 0, c, MPI_COMM_WORLD);
}

deconv_status cli_mpi_restore(const cli_rows_in *in, const deconv_kernel *k,
                              deconv_deblur_params *p, const cli_rows_out *out,
                              deconv_report *rep, deconv_error *err)
{
    const MPI_Comm comm = MPI_COMM_WORLD;
    shape s = {0};
    if (rank == 0) {
        const deconv_image *y = in->image;
        s = y ? (shape){y->width, y->height, y->channels, k->width, k->height}
              : (shape){deconv_row_reader_width(in->reader), deconv_row_reader_height(in->reader),
                        deconv_row_reader_channels(in->reader), k->width, k->height};
    }
    MPI_Bcast(&s, (int)sizeof s, MPI_BYTE, 0, comm);
    MPI_Bcast(&p->response, (int)sizeof p->response, MPI_BYTE, 0, comm);
    deconv_kernel *kr = rank == 0 ? NULL : deconv_kernel_new(s.kw, s.kh);
    const deconv_kernel *kk = rank == 0 ? k : kr;
    deconv_mpi_rows mine, *rows = NULL;
    deconv_image *band = NULL, *x = NULL;
    deconv_status st = DECONV_OK;
    if (!all_ok(kk != NULL)) {
        fail(err, DECONV_ERR_NOMEM, "out of memory for the kernel");
        st = DECONV_ERR_NOMEM;
        goto done;
    }
    MPI_Bcast(kk->data, s.kw * s.kh, MPI_FLOAT, 0, comm);
    if (rank != 0) /* rank 0 draws the progress and writes the log */
        p->progress = NULL;
    if ((st = deconv_mpi_rows_of(comm, s.width, s.height, kk, p, &mine, err)) != DECONV_OK)
        goto done; /* the same on every rank */
    band = deconv_image_new(s.width, mine.in1 - mine.in0, s.channels);
    rows = rank == 0 ? malloc((size_t)size * sizeof *rows) : NULL;
    if (!all_ok(band != NULL && (rank != 0 || rows))) {
        fail(err, DECONV_ERR_NOMEM, "out of memory for a band of the image");
        st = DECONV_ERR_NOMEM;
        goto done;
    }
    MPI_Gather(&mine, 4, MPI_INT, rows, 4, MPI_INT, 0, comm);

    /* the input, a band a rank */
    if (rank == 0)
        st = scatter_rows(in, &s, rows, band, err);
    else
        for (int c = 0; c < s.channels; c++)
            MPI_Recv(deconv_image_plane(band, c), s.width * (mine.in1 - mine.in0), MPI_FLOAT,
                     0, c, comm, MPI_STATUS_IGNORE);
    if ((st = share_status(st)) != DECONV_OK)
        goto done;
    x = deconv_deblur_mpi(comm, band, s.height, -1, kk, p, rep, err);
    deconv_image_free(band);
    band = NULL;
    if (!x) {
        st = err->code != DECONV_OK ? err->code : DECONV_ERR_NOMEM;
        goto done;
    }

    /* the result, a band a rank, streamed into the output by rank 0 */
    deconv_row_writer *wr = NULL;
    gather_room room = {NULL, NULL};
    if (rank == 0) {
        const int full = out->full;
        const int ow = full ? s.width + s.kw - 1 : s.width;
        const int oh = full ? s.height + s.kh - 1 : s.height;
        if (p->cancel && *p->cancel)
            st = (fail(err, DECONV_ERR_INTERRUPTED, "interrupted"), DECONV_ERR_INTERRUPTED);
        else if (!gather_room_alloc(&s, rows, full, &room))
            st = (fail(err, DECONV_ERR_NOMEM, "out of memory for the rows being written"),
                  DECONV_ERR_NOMEM);
        else if (!(wr = deconv_row_writer_open(out->path, ow, oh, s.channels, out->options, err)))
            st = err->code;
    }
    if ((st = share_status(st)) != DECONV_OK) {
        free(room.band), free(room.cut);
        goto done;
    }
    if (rank == 0) {
        st = gather_rows(&s, rows, x, wr, out->full, &room, err);
        if (st == DECONV_OK)
            st = deconv_row_writer_commit(wr, err);
        else
            deconv_row_writer_abort(wr);
        free(room.band), free(room.cut);
    } else {
        send_rows(&s, &mine, x);
    }
    st = share_status(st);
done:
    free(rows);
    deconv_image_free(band);
    deconv_image_free(x);
    deconv_kernel_free(kr);
    return st;
}

#else /* without MPI: always the single process */

int cli_mpi_start(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    return 0;
}
void cli_mpi_finish(void) {}
int cli_mpi_active(void) { return 0; }
int cli_mpi_rank(void) { return 0; }
int cli_mpi_share_int(int v) { return v; }
deconv_kernel *cli_mpi_blind_kernel(const deconv_image *y, deconv_blind_params *p,
                                    deconv_error *err)
{
    (void)y, (void)p, (void)err;
    return NULL;
}
deconv_status cli_mpi_restore(const cli_rows_in *in, const deconv_kernel *k,
                              deconv_deblur_params *p, const cli_rows_out *out,
                              deconv_report *rep, deconv_error *err)
{
    (void)in, (void)k, (void)p, (void)out, (void)rep;
    fail(err, DECONV_ERR_ARG, "this deconv was built without MPI");
    return DECONV_ERR_ARG;
}
#endif
