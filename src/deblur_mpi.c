/* Distributed restoration (deconv.h: deconv_deblur_mpi): deconv_deblur's
 * algorithm, run by every process of a communicator on its band of rows
 * (band.h), with halos and row sums over MPI (mpi_comm.c). The image step
 * and the data term are the very code of one process, which is the
 * one-band case: hence the same bytes. */
#include <math.h>
#include <mpi.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "band.h"
#include "data_term.h"
#include "internal.h"
#include "mpi_comm.h"
#include "operator.h"

/* The band of this process, from the row block of the operator the data
 * term will make (the same on every process: it depends on the sizes and
 * the kernel only). */
static deconv_status band_of(MPI_Comm comm, int N, int M, const deconv_kernel *k,
                             const deconv_deblur_params *p, int *blk, deconv_band *b,
                             deconv_error *err)
{
    if (!k || !p || N < 1 || M < 1)
        return deconv_fail(err, DECONV_ERR_ARG, "missing kernel or parameters, or no image");
    if (k->width > N || k->height > M)
        return deconv_fail(err, DECONV_ERR_KERNEL, "kernel %dx%d is larger than the image %dx%d",
                           k->width, k->height, N, M);
    deconv_op *op = deconv_op_new(N, M, k->data, k->width, k->height, p->conv, err);
    if (!op)
        return err ? err->code : DECONV_ERR_NOMEM;
    *blk = deconv_op_row_block(op);
    deconv_op_free(op);
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    if (!deconv_band_split(N, M, k->width, k->height, *blk, rank, size, b)) {
        int need = k->height - 1 > *blk ? k->height - 1 : *blk;
        return deconv_fail(err, DECONV_ERR_ARG,
                           "the image's %d rows are too few for %d processes with a %d-row "
                           "kernel: each process needs at least %d rows",
                           M, size, k->height, need);
    }
    return DECONV_OK;
}

/* The rows of y a band reads: its own and the halo of y, and those that
 * deconv_deblur's start (y extended by edge replication) copies into the
 * band's held rows of x. */
static void input_rows(const deconv_band *b, int *in0, int *in1)
{
    const int top = (b->kh - 1) / 2;
    int lo = b->xs0 - top, hi = b->xs1 - 1 - top;
    lo = lo < 0 ? 0 : (lo > b->M - 1 ? b->M - 1 : lo);
    hi = hi < 0 ? 0 : (hi > b->M - 1 ? b->M - 1 : hi);
    *in0 = lo < b->ys0 ? lo : b->ys0;
    *in1 = hi + 1 > b->ys1 ? hi + 1 : b->ys1;
    /* the noise estimate's blocks that start in the band reach 7 rows on */
    int blocks_end = b->y1 + 7 < b->M ? b->y1 + 7 : b->M;
    *in1 = *in1 > blocks_end ? *in1 : blocks_end;
}

deconv_status deconv_mpi_rows_of(MPI_Comm comm, int width, int height, const deconv_kernel *k,
                                 const deconv_deblur_params *p, deconv_mpi_rows *rows,
                                 deconv_error *err)
{
    deconv_band b;
    int blk;
    deconv_status st = band_of(comm, width, height, k, p, &blk, &b, err);
    if (st != DECONV_OK)
        return st;
    input_rows(&b, &rows->in0, &rows->in1);
    rows->out0 = b.x0, rows->out1 = b.x1;
    return DECONV_OK;
}

/* The band's held rows of deconv_deblur's start: y extended by edge
 * replication, from y's rows [in0, ...). */
static void start_rows(const deconv_band *b, const float *y, int in0, float *x)
{
    const int top = (b->kh - 1) / 2, left = (b->kw - 1) / 2;
    for (int i = b->xs0; i < b->xs1; i++) {
        int si = i - top < 0 ? 0 : (i - top > b->M - 1 ? b->M - 1 : i - top);
        const float *src = y + (size_t)(si - in0) * b->N;
        float *dst = x + (size_t)(i - b->xs0) * b->xw;
        for (int j = 0; j < b->xw; j++) {
            int sj = j - left < 0 ? 0 : (j - left > b->N - 1 ? b->N - 1 : j - left);
            dst[j] = src[sj];
        }
    }
}

deconv_image *deconv_deblur_mpi(MPI_Comm comm, const deconv_image *y, int height, double noise,
                                const deconv_kernel *k, const deconv_deblur_params *params,
                                deconv_report *report, deconv_error *err)
{
    deconv_band b;
    int blk = 0;
    deconv_status st = y ? band_of(comm, y->width, height, k, params, &blk, &b, err)
                         : deconv_fail(err, DECONV_ERR_ARG, "missing image");
    int in0 = 0, in1 = 0;
    if (st == DECONV_OK) {
        input_rows(&b, &in0, &in1);
        if (y->height != in1 - in0)
            st = deconv_fail(err, DECONV_ERR_ARG,
                             "this process must pass rows %d to %d of the image (%d rows), "
                             "not %d rows (deconv_mpi_rows_of)",
                             in0, in1 - 1, in1 - in0, y->height);
    }
    if ((st = deconv_mpi_agree(comm, st, err)) != DECONV_OK)
        return NULL;
    deconv_deblur_params p = *params;
    const int kw = k->width, kh = k->height, N = y->width, M = height;
    const int colors = deconv_color_channels(y->channels);
    int saved_threads = omp_get_max_threads();
    if (p.threads > 0)
        omp_set_num_threads(p.threads);

    deconv_mpi_comm *mc = deconv_mpi_comm_new(comm, N, M, kw, kh, blk);
    deconv_image *x = deconv_image_new(b.xw, b.xs1 - b.xs0, y->channels);
    deconv_image_work *work = deconv_image_work_new(); /* the channels share it */
    st = mc && x && work ? DECONV_OK
                        : deconv_fail(err, DECONV_ERR_NOMEM,
                                      "out of memory for a band of %d x %d", b.xw, b.xs1 - b.xs0);
    if ((st = deconv_mpi_agree(comm, st, err)) != DECONV_OK)
        goto done;
    b.comm = deconv_mpi_comm_iface(mc);
    if (noise < 0) { /* deconv_image_noise, over the bands together */
        noise = 0;
        for (int c = 0; c < colors; c++)
            noise += deconv_noise_rows(deconv_image_plane(y, c) + (size_t)(b.y0 - in0) * N, N, M,
                                       b.y0, b.y1, deconv_mpi_comm_order(mc)) /
                     colors;
    }
    deconv_deblur_weight(&p, noise, report);
    for (int c = 0; c < y->channels; c++)
        start_rows(&b, deconv_image_plane(y, c), in0, deconv_image_plane(x, c));
    for (int c = 0; c < colors && st == DECONV_OK; c++) {
        const float *yc = deconv_image_plane(y, c) + (size_t)(b.ys0 - in0) * N;
        deconv_data *data = deconv_data_new_band(&b, k->data, p.conv, &p.response, yc, NULL, err);
        if ((st = deconv_mpi_agree(comm, data ? DECONV_OK : (err ? err->code : DECONV_ERR_NOMEM), err)) !=
            DECONV_OK) {
            deconv_data_free(data);
            break;
        }
        int it = 0;
        double fobj = 0;
        st = deconv_image_step_on(deconv_image_plane(x, c), data, N, M, k->data, kw, kh, &p, c,
                                  colors, work, &it, &fobj, err);
        deconv_data_free(data);
        if (report) {
            report->iterations += it;
            report->objective = fobj;
        }
        /* the image step's outcome rests on sums every band shares, so
         * every band stops alike; its failures to allocate are agreed */
        int partial = st == DECONV_ERR_NUMERIC || st == DECONV_ERR_DIVERGED ||
                      st == DECONV_ERR_INTERRUPTED;
        if (st != DECONV_OK && p.keep_partial && partial) {
            if (report)
                report->stopped = st;
            st = DECONV_OK;
            break;
        }
    }
    if (st == DECONV_OK) {
        /* the owned rows, moved to the front of each plane in place (each
         * channel's rows go to an earlier place than they leave), so the
         * result costs no second band */
        const size_t owned = (size_t)b.xw * (b.x1 - b.x0);
        const size_t held = deconv_band_held(&b, DECONV_PLANE_X);
        for (int c = 0; c < y->channels; c++)
            memmove(x->data + c * owned,
                    x->data + c * held + deconv_band_owned_offset(&b, DECONV_PLANE_X),
                    owned * sizeof(float));
        x->height = b.x1 - b.x0;
    }
done:
    deconv_image_work_free(work);
    omp_set_num_threads(saved_threads);
    if (report && mc)
        deconv_mpi_comm_seconds(mc, &report->halo_seconds, &report->sum_seconds);
    deconv_mpi_comm_free(mc);
    if (st != DECONV_OK) {
        deconv_image_free(x);
        return NULL;
    }
    return x;
}
