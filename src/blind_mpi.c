/* The blind estimate with its starts spread over the processes of a
 * communicator (deconv.h: deconv_blind_kernel_mpi). Each start computes
 * exactly what it computes in one process (its result does not depend on
 * the threads it has), so gathering every start's kernel and score and
 * picking the best gives one process's kernel. */
#include <mpi.h>

#include <stdlib.h>

#include "blind_internal.h"
#include "mpi_comm.h"

/* The starts as units of work: start 0 with starts 3 and 4 (which fork
 * from it or copy it) on rank 0; starts 1 and 2 on the next ranks, round
 * robin (with two processes both on rank 1, side by side, as rank 0 runs
 * two in turn). */
static int owner(int s, int size)
{
    if (s == 0 || s >= 3 || size == 1)
        return 0;
    return 1 + (s - 1) % (size - 1);
}

typedef struct {
    MPI_Comm comm;
    int size;
} spread_ctx;

static deconv_status share(void *ctx, float *h, double *score, int starts, int nk,
                           deconv_status st, deconv_error *err)
{
    spread_ctx *c = ctx;
    if ((st = deconv_mpi_agree(c->comm, st, err)) != DECONV_OK)
        return st;
    for (int s = 0; s < starts; s++) {
        MPI_Bcast(h + (size_t)s * nk, nk, MPI_FLOAT, owner(s, c->size), c->comm);
        MPI_Bcast(&score[s], 1, MPI_DOUBLE, owner(s, c->size), c->comm);
    }
    return DECONV_OK;
}

deconv_kernel *deconv_blind_kernel_mpi(MPI_Comm comm, const deconv_image *y,
                                       const deconv_blind_params *p, deconv_error *err)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    const int starts = p && p->starts > 1 ? p->starts : 1;
    unsigned char *mine = calloc((size_t)starts, 1);
    deconv_status st = mine ? DECONV_OK : DECONV_ERR_NOMEM;
    if (!mine)
        deconv_fail(err, st, "out of memory");
    if ((st = deconv_mpi_agree(comm, st, err)) != DECONV_OK) {
        free(mine);
        return NULL;
    }
    for (int s = 0; s < starts; s++)
        mine[s] = owner(s, size) == rank;
    spread_ctx ctx = {comm, size};
    blind_spread spread = {&ctx, mine, share};
    deconv_kernel *k = blind_kernel(y, p, &spread, err);
    /* a failure before the starts (the parameters, the size's probe) is
     * the same everywhere; agree on it too */
    st = deconv_mpi_agree(comm, k ? DECONV_OK : (err ? err->code : DECONV_ERR_NOMEM), err);
    free(mine);
    if (st != DECONV_OK) {
        deconv_kernel_free(k);
        return NULL;
    }
    return k;
}
