/* The blur operator of one problem (operator.h): direct spatial sums
 * (conv.c) or FFTs of a zero-padded size (fft.c), chosen once.
 *
 * FFT path. x is xh x xw = (M+kh-1) x (N+kw-1); the padded size ph x pw is
 * the smallest product of 2, 3, 5, 7 not below it in each dimension, and
 * that is enough for both operators to be exact (no wrap-around):
 *   apply:   x at the origin, times K = FFT(h at the origin) / (ph pw):
 *            circular convolution; y is its window from (kh-1, kw-1), where
 *            no term wraps because ph >= xh, pw >= xw.
 *   adjoint: r placed at (kh-1, kw-1), times conj(K): circular correlation
 *            c[p] = sum h[a] buf[p+a] = sum h[a] r[p+a-(kh-1)], which is
 *            MODEL.md's full correlation; g is the window from (0, 0), and
 *            the indices p+a < xw+kw-1 wrap only onto the zeros that
 *            precede r.
 *
 * Cost. Each operator is one forward and one inverse 2-D transform of the
 * padded size, fused so that each column block goes forward, is multiplied
 * by the kernel's spectrum and goes back while it is in cache. Rows known
 * to be zero are not row-transformed, rows not wanted are not inverted.
 * An iteration of the image step (one adjoint, one apply) therefore costs
 * 4 FFT-sized transforms (2 forward, 2 inverse), plus 2 more every 64
 * iterations for the residual's rebuild: about 4.03. Getting to 3 is not
 * possible for the valid model with the box constraint: the four spatial
 * steps between the transforms are each non-linear or a crop (pad(r),
 * crop to g, the projection giving d, crop to Hd), so no spectrum can be
 * carried from one operator to the next (see the report of issue 4).
 *
 * Nothing is allocated by apply or adjoint: the work buffer, the kernel's
 * spectrum and each thread's column block are made in deconv_op_new (a
 * parallel region has at most the threads there were then). Every sample
 * is computed by one thread with the same 1-D plans whatever the thread
 * count, so the results do not depend on it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fft.h"
#include "internal.h"
#include "operator.h"

struct deconv_op {
    int N, M, kw, kh, xw, xh;
    float *h;
    deconv_conv_mode mode;
    deconv_direct *direct; /* direct path: tap tables */
    /* FFT path */
    deconv_fft *fft;
    int ph, pw;
    size_t cs;             /* complex numbers per row of buf */
    fftwf_complex *buf;    /* ph x cs work buffer */
    fftwf_complex *kspec;  /* FFT(h) / (ph pw), as gathered blocks */
};

/* The cost model of DECONV_CONV_AUTO: seconds of one deconv_op_apply on
 * one core of this machine (2-core Intel Xeon VM, Sapphire/Emerald Rapids
 * class, AVX-512; portable build). Measured with
 *     bench/speed --conv --threads 1 --reps 5 --mp 0.25,1,2,4,8,12
 * (dense random kernels 3x3 .. 63x63, 4:3 images), taking for each case
 * the fastest of three runs' medians (the machine is shared), and fitted
 * by least squares on the relative error (bench/fit_cost.py fits the FFT
 * part):
 *   direct: N M (DIRECT_C work + DIRECT_P), work = deconv_direct_work()
 *           (about the non-zero taps; more per tap for small kernels)
 *   fft:    P (FFT_A + FFT_B L), P = ph pw, L = log2 P
 * With the column passes on gathered blocks (fft.h) the FFT's cost per
 * point follows P log P from 0.25 to 12 megapixels (within 30 % on every
 * fitted case; the paths' crossover lies between 15x15 and 31x31 at every
 * size, where the two differ by 2x). Only the ratio matters, and both paths
 * scale alike with threads. Other machines: re-run and re-fit. */
#define DIRECT_C 1.714e-11
#define DIRECT_P 2.969e-10
#define FFT_A (-1.632e-9)
#define FFT_B 5.662e-10

static double direct_cost(int N, int M, const float *h, int kw, int kh)
{
    return (double)N * M * (DIRECT_C * deconv_direct_work(h, kw, kh) + DIRECT_P);
}

static double fft_cost(int ph, int pw)
{
    double P = (double)ph * pw, L = log2(P);
    return P * (FFT_A + FFT_B * L);
}

/* The padded size of the FFT path for an x of xh x xw. */
static void padded_size(int xw, int xh, int *pw, int *ph)
{
    *pw = deconv_fft_good_size(xw, 1);
    *ph = deconv_fft_good_size(xh, 0);
}

deconv_conv_mode deconv_op_choose(int N, int M, const float *h, int kw, int kh)
{
    int pw, ph;
    padded_size(N + kw - 1, M + kh - 1, &pw, &ph);
    return fft_cost(ph, pw) < direct_cost(N, M, h, kw, kh) ? DECONV_CONV_FFT
                                                           : DECONV_CONV_DIRECT;
}

/* Column pass: forward, times the kernel's spectrum (conjugated for the
 * adjoint), backward; one gathered block at a time, rows r0 <= i < r1
 * written back. Called inside a parallel region. */
static void spectral_product(deconv_op *op, int conj, int r0, int r1)
{
    const int nblocks = deconv_fft_nblocks(op->fft);
    const size_t n = (size_t)op->ph * DECONV_FFT_BLOCK;
    const float sgn = conj ? -1.0f : 1.0f;
    float *restrict g = (float *)deconv_fft_scratch(op->fft, 0);
#pragma omp for schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
        const float *restrict k = (const float *)(op->kspec + (size_t)blk * n);
        deconv_fft_gather(op->fft, op->buf, blk, (fftwf_complex *)g);
        deconv_fft_block(op->fft, (fftwf_complex *)g, blk, FFTW_FORWARD);
#pragma omp simd
        for (size_t t = 0; t < n; t++) {
            float br = g[2 * t], bi = g[2 * t + 1];
            float kr = k[2 * t], ki = sgn * k[2 * t + 1];
            g[2 * t] = br * kr - bi * ki;
            g[2 * t + 1] = br * ki + bi * kr;
        }
        deconv_fft_block(op->fft, (fftwf_complex *)g, blk, FFTW_BACKWARD);
        deconv_fft_scatter(op->fft, (fftwf_complex *)g, blk, op->buf, r0, r1);
    }
}

static deconv_status fft_init(deconv_op *op)
{
    padded_size(op->xw, op->xh, &op->pw, &op->ph);
    op->fft = deconv_fft_new(op->ph, op->pw, 1);
    if (!op->fft)
        return DECONV_ERR_NOMEM;
    op->cs = deconv_fft_cstride(op->fft);
    op->buf = deconv_fft_alloc(op->fft);
    op->kspec = deconv_fft_alloc_blocks(op->fft);
    if (!op->buf || !op->kspec)
        return DECONV_ERR_NOMEM;
    /* K = FFT(h at the origin) / (ph pw): the inverse's scale folded in. */
    const float scale = (float)(1.0 / ((double)op->ph * op->pw));
    const int nblocks = deconv_fft_nblocks(op->fft);
#pragma omp parallel num_threads(deconv_fft_threads(op->fft)) \
    if ((size_t)op->pw * op->ph >= DECONV_PARALLEL_MIN)
    {
        float *tmp = deconv_fft_row_scratch(op->fft);
#pragma omp for schedule(static)
        for (int i = 0; i < op->ph; i++) {
            fftwf_complex *row = op->buf + (size_t)i * op->cs;
            if (i < op->kh) {
                memset(tmp, 0, (size_t)op->pw * sizeof(float));
                for (int j = 0; j < op->kw; j++)
                    tmp[j] = op->h[(size_t)i * op->kw + j] * scale;
                deconv_fft_row_forward(op->fft, tmp, row);
            } else {
                deconv_fft_zero_row(op->fft, op->buf, i);
            }
        }
#pragma omp for schedule(static)
        for (int blk = 0; blk < nblocks; blk++) {
            fftwf_complex *k = op->kspec + (size_t)blk * op->ph * DECONV_FFT_BLOCK;
            deconv_fft_gather(op->fft, op->buf, blk, k);
            deconv_fft_block(op->fft, k, blk, FFTW_FORWARD);
        }
    }
    return DECONV_OK;
}

static void fft_free(deconv_op *op)
{
    deconv_fft_free(op->fft);
    free(op->buf);
    free(op->kspec);
}

deconv_op *deconv_op_new(int N, int M, const float *h, int kw, int kh,
                         deconv_conv_mode mode, deconv_error *err)
{
    if (N < 1 || M < 1 || kw < 1 || kh < 1) {
        deconv_fail(err, DECONV_ERR_ARG, "operator of %d x %d with a %d x %d kernel", N, M, kw,
                    kh);
        return NULL;
    }
    deconv_op *op = calloc(1, sizeof *op);
    if (op)
        op->h = malloc((size_t)kw * kh * sizeof(float));
    if (!op || !op->h) {
        free(op);
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(op->h, h, (size_t)kw * kh * sizeof(float));
    op->N = N, op->M = M, op->kw = kw, op->kh = kh;
    op->xw = N + kw - 1, op->xh = M + kh - 1;
    if (mode != DECONV_CONV_DIRECT && mode != DECONV_CONV_FFT)
        mode = deconv_op_choose(N, M, h, kw, kh);
    op->mode = mode;
    if (mode == DECONV_CONV_DIRECT && !(op->direct = deconv_direct_new(h, kw, kh))) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
        deconv_op_free(op);
        return NULL;
    }
    if (mode == DECONV_CONV_FFT && fft_init(op) != DECONV_OK) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for the FFTs of a %d x %d image",
                    op->pw, op->ph);
        deconv_op_free(op);
        return NULL;
    }
    return op;
}

/* The FFT path of both operators: `in` (in_rows rows of in_w) placed at
 * (in_top, in_left) in the zero-padded periodic domain, multiplied by h's
 * spectrum (conj: its conjugate, the correlation), and out_rows rows of
 * out_w read back from (out_top, out_left) into `out`. */
static void fft_apply(deconv_op *op, const float *in, int in_w, int in_rows, int in_top,
                      int in_left, int conj, float *out, int out_w, int out_rows, int out_top,
                      int out_left)
{
#pragma omp parallel num_threads(deconv_fft_threads(op->fft)) \
    if ((size_t)op->pw * op->ph >= DECONV_PARALLEL_MIN)
    {
        /* the thread's row: `in` between zeros, the zeros written once */
        float *tmp = deconv_fft_row_scratch(op->fft);
        memset(tmp, 0, (size_t)in_left * sizeof(float));
        memset(tmp + in_left + in_w, 0, (size_t)(op->pw - in_left - in_w) * sizeof(float));
#pragma omp for schedule(static)
        for (int i = 0; i < op->ph; i++) {
            fftwf_complex *row = op->buf + (size_t)i * op->cs;
            if (i >= in_top && i < in_top + in_rows) {
                memcpy(tmp + in_left, in + (size_t)(i - in_top) * in_w, (size_t)in_w * sizeof(float));
                deconv_fft_row_forward(op->fft, tmp, row);
            } else {
                deconv_fft_zero_row(op->fft, op->buf, i);
            }
        }
        spectral_product(op, conj, out_top, out_top + out_rows);
#pragma omp for schedule(static)
        for (int i = 0; i < out_rows; i++) {
            deconv_fft_row_inverse(op->fft, op->buf + (size_t)(i + out_top) * op->cs, tmp);
            memcpy(out + (size_t)i * out_w, tmp + out_left, (size_t)out_w * sizeof(float));
        }
    }
}

/* y = h * x (valid): x at the origin, y from (kh-1, kw-1). */
void deconv_op_apply(deconv_op *op, const float *x, float *y)
{
    deconv_op_apply_rows(op, x, 0, op->M, y);
}

/* g = h (full correlation) r: r at (kh-1, kw-1), g from the origin. */
void deconv_op_adjoint(deconv_op *op, const float *r, float *g)
{
    deconv_op_adjoint_rows(op, r, 0, op->xh, g);
}

void deconv_op_apply_rows(deconv_op *op, const float *x, int y0, int y1, float *y)
{
    const int rows = y1 - y0, xrows = rows + op->kh - 1;
    if (op->mode == DECONV_CONV_DIRECT)
        deconv_direct_apply(op->direct, x, op->xw, xrows, y);
    else
        fft_apply(op, x, op->xw, xrows, 0, 0, 0, y, op->N, rows, op->kh - 1, op->kw - 1);
}

void deconv_op_adjoint_rows(deconv_op *op, const float *r, int g0, int g1, float *g)
{
    const int r0 = g0 - (op->kh - 1) > 0 ? g0 - (op->kh - 1) : 0;
    const int r1 = g1 < op->M ? g1 : op->M;
    /* g's row g0 + p reads r's rows g0 + p - (kh-1) ..., r's row r0 first */
    const int ro = g0 - (op->kh - 1) - r0;
    if (op->mode == DECONV_CONV_DIRECT)
        deconv_direct_adjoint_rows(op->direct, r, op->N, r1 - r0, ro, g, g1 - g0);
    else /* r placed so that g's row g0 is the buffer's row 0 */
        fft_apply(op, r, op->N, r1 - r0, -ro, op->kw - 1, 1, g, op->xw, g1 - g0, 0, 0);
}

int deconv_op_row_block(const deconv_op *op)
{
    (void)op;
    return 4; /* conv.c's tallest strip */
}

deconv_conv_mode deconv_op_mode(const deconv_op *op) { return op->mode; }

void deconv_op_free(deconv_op *op)
{
    if (!op)
        return;
    fft_free(op);
    deconv_direct_free(op->direct);
    free(op->h);
    free(op);
}
