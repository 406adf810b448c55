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

#ifdef DECONV_HAVE_MPI

static int active, rank, size;

static void fail(deconv_error *err, deconv_status code, const char *message)
{
    err->code = code;
    snprintf(err->message, sizeof err->message, "%s", message);
}

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

deconv_image *cli_mpi_deblur(const deconv_image *y, const deconv_kernel *k,
                             deconv_deblur_params *p, deconv_report *rep, int *ok,
                             deconv_error *err)
{
    const MPI_Comm comm = MPI_COMM_WORLD;
    shape s = {0};
    if (rank == 0)
        s = (shape){y->width, y->height, y->channels, k->width, k->height};
    MPI_Bcast(&s, (int)sizeof s, MPI_BYTE, 0, comm);
    MPI_Bcast(&p->response, (int)sizeof p->response, MPI_BYTE, 0, comm);
    deconv_kernel *kr = rank == 0 ? NULL : deconv_kernel_new(s.kw, s.kh);
    const deconv_kernel *kk = rank == 0 ? k : kr;
    int have = kk != NULL, all = 0;
    MPI_Allreduce(&have, &all, 1, MPI_INT, MPI_LAND, comm);
    *ok = 0;
    if (!all) {
        deconv_kernel_free(kr);
        fail(err, DECONV_ERR_NOMEM, "out of memory for the kernel");
        return NULL;
    }
    MPI_Bcast(kk->data, s.kw * s.kh, MPI_FLOAT, 0, comm);
    if (rank != 0) /* rank 0 draws the progress and writes the log */
        p->progress = NULL;

    /* every rank's rows of y, sent by rank 0 */
    deconv_mpi_rows mine;
    deconv_status st = deconv_mpi_rows_of(comm, s.width, s.height, kk, p, &mine, err);
    deconv_image *band = NULL, *x = NULL, *out = NULL;
    if (st != DECONV_OK) /* the same on every rank */
        goto done;
    band = deconv_image_new(s.width, mine.in1 - mine.in0, s.channels);
    have = band != NULL;
    MPI_Allreduce(&have, &all, 1, MPI_INT, MPI_LAND, comm);
    if (!all) {
        fail(err, DECONV_ERR_NOMEM, "out of memory for a band of the image");
        goto done;
    }
    deconv_mpi_rows *rows = rank == 0 ? malloc((size_t)size * sizeof *rows) : NULL;
    MPI_Gather(&mine, 4, MPI_INT, rows, 4, MPI_INT, 0, comm);
    const size_t plane = (size_t)s.width * s.height;
    for (int c = 0; c < s.channels; c++) {
        float *dst = deconv_image_plane(band, c);
        if (rank != 0) {
            MPI_Recv(dst, s.width * (mine.in1 - mine.in0), MPI_FLOAT, 0, c, comm,
                     MPI_STATUS_IGNORE);
            continue;
        }
        for (int r = 0; r < size; r++) {
            const float *src = y->data + c * plane + (size_t)rows[r].in0 * s.width;
            int n = s.width * (rows[r].in1 - rows[r].in0);
            if (r == 0)
                memcpy(dst, src, (size_t)n * sizeof(float));
            else
                MPI_Send(src, n, MPI_FLOAT, r, c, comm);
        }
    }
    x = deconv_deblur_mpi(comm, band, s.height, -1, kk, p, rep, err);
    deconv_image_free(band);
    if (!x) {
        free(rows);
        goto done;
    }
    /* the result's bands, gathered by rank 0 */
    const int xw = s.width + s.kw - 1, xh = s.height + s.kh - 1;
    have = rank != 0 || (out = deconv_image_new(xw, xh, s.channels)) != NULL;
    MPI_Allreduce(&have, &all, 1, MPI_INT, MPI_LAND, comm);
    if (!all) {
        deconv_image_free(out);
        out = NULL;
        free(rows);
        fail(err, DECONV_ERR_NOMEM, "out of memory for the result");
        goto done;
    }
    for (int c = 0; c < s.channels; c++) {
        const float *src = deconv_image_plane(x, c);
        if (rank != 0) {
            MPI_Send(src, xw * (mine.out1 - mine.out0), MPI_FLOAT, 0, c, comm);
            continue;
        }
        float *dst = deconv_image_plane(out, c);
        for (int r = 0; r < size; r++) {
            float *at = dst + (size_t)rows[r].out0 * xw;
            int n = xw * (rows[r].out1 - rows[r].out0);
            if (r == 0)
                memcpy(at, src, (size_t)n * sizeof(float));
            else
                MPI_Recv(at, n, MPI_FLOAT, r, c, comm, MPI_STATUS_IGNORE);
        }
    }
    free(rows);
    *ok = 1;
done:
    deconv_image_free(x);
    deconv_kernel_free(kr);
    return out;
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
deconv_image *cli_mpi_deblur(const deconv_image *y, const deconv_kernel *k,
                             deconv_deblur_params *p, deconv_report *rep, int *ok,
                             deconv_error *err)
{
    (void)y, (void)k, (void)p, (void)rep, (void)err;
    *ok = 0;
    return NULL;
}
#endif
