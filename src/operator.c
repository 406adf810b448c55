/* The blur operator of one problem (operator.h): direct spatial sums
 * (conv.c) or FFTs of tiles (fft.c), chosen once.
 *
 * FFT path: overlap-save on a fixed grid of tiles. The output (y for the
 * apply, g for the adjoint) is cut into tiles of th x tw samples on a grid
 * anchored at the image's (0, 0); each tile is one ph x pw transform
 * (ph >= th + kh - 1, pw >= tw + kw - 1) of its window of the input,
 * zero-padded, and no term wraps around:
 *   apply:   x's window from the tile's (i, j), (th+kh-1) x (tw+kw-1), at
 *            the origin, times K = FFT(h at the origin) / (ph pw): circular
 *            convolution, whose samples from (kh-1, kw-1) are the tile's y.
 *   adjoint: r's window from (i-(kh-1), j-(kw-1)), zero outside r, at the
 *            origin, times conj(K): circular correlation
 *            c[p] = sum h[a] w[p+a] = sum h[a] r[i+p+a-(kh-1)], MODEL.md's
 *            full correlation; the tile's g is c from (0, 0), p + a < ph.
 * Every tile, the partial ones at the right and bottom edges too, is the
 * same transform of a window of the same size (zeros past the image),
 * computed by one thread in its own buffer with the same plans. So a
 * sample's bytes depend on the grid and the data only: not on the thread
 * count, and not on the band of rows asked for, as long as it starts at a
 * multiple of th (deconv_op_row_block): distributed runs give the bytes of
 * one process.
 *
 * Tile size. The grid depends on the kernel only (an image smaller than a
 * tile gets one tile of the smallest good size that holds its g, as the
 * whole-image transform had): ph is the smallest of 512, 640, 1024, 1280,
 * 2048, ... with kh - 1 <= ph / 8, th = ph - kh + 1 rounded down to a
 * multiple of 4 (the direct path's row block); pw and tw likewise. A
 * tile's transform runs in cache (512 x 512: a 1 MB buffer), where a whole
 * image's streamed through memory. Measured per output sample on one core,
 * on images of whole tiles (bench/speed --tiles; docs/benchmarks.md, "The
 * FFT path's tiles"):
 *   - below 512 the overlap of the windows costs more than the cache
 *     gains (384: 19 to 46 % more a sample than 512 for kernels 15 to 151);
 *   - while the overlap is at most an eighth of the transform, 512 is
 *     within 10 % of the best size (640 to 1280), and it is still the
 *     best choice on photos: their right and bottom tiles are partial but
 *     computed whole, which wastes less with smaller tiles, the threads
 *     share more tiles (a 1-megapixel photo has 6, with 1024 it has 2),
 *     and the bands of a distributed run can be finer (480 rows at 31x31,
 *     1248 with 1280);
 *   - past it, larger kernels want larger tiles: at 101, 512 costs 25 %
 *     more a sample than 1024, the best with 1280;
 *   - powers of two and 5/4 of them, because FFTW's estimated plans of the
 *     other good sizes in between (448, 480, 576, 600, 720, 896, 960) were
 *     25 to 70 % slower a sample than the faster of their neighbours among
 *     these (768: 5 to 18 %; 1536 and 2048: 15 to 36 % slower than 1280).
 *
 * Cost of a tile: one forward and one inverse 2-D transform, fused so that
 * each column block goes forward, is multiplied by the kernel's spectrum
 * and goes back while it is in the first-level cache (fft.h). Rows of the
 * window known to be zero are not row-transformed, rows not wanted are
 * not inverted. An iteration of the image step (one adjoint, one apply)
 * therefore costs 4 transforms a tile, plus 2 more every 64 iterations for
 * the residual's rebuild. Getting to 3 is not possible for the valid model
 * with the box constraint: the four spatial steps between the transforms
 * are each non-linear or a crop (pad(r), crop to g, the projection giving
 * d, crop to Hd), so no spectrum can be carried from one operator to the
 * next (see the report of issue 4).
 *
 * Nothing is allocated by apply or adjoint: each thread's tile buffer, row
 * and column block and the kernel's spectrum are made in deconv_op_new (a
 * parallel region has at most the threads there were then). */
#include <math.h>
#include <omp.h>
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
    /* FFT path: tiles of th x tw outputs, each one ph x pw transform */
    deconv_fft *fft;
    int th, tw, ph, pw;
    size_t cs;             /* complex numbers per row of a tile's buffer */
    int threads;           /* tile buffers made: one a thread */
    fftwf_complex *tiles;  /* threads x ph x cs */
    fftwf_complex *kspec;  /* FFT(h) / (ph pw), as gathered blocks */
};

/* The cost model of DECONV_CONV_AUTO: seconds of one deconv_op_apply on
 * one core, fitted by least squares on the relative error, for each case
 * the fastest of three runs' medians (the machines are shared):
 *   direct: N M (DIRECT_C work + DIRECT_P), work = deconv_direct_work()
 *           (about the non-zero taps; more per tap for small kernels);
 *           refitted on the EPYC below with the same command (dense
 *           random kernels 3x3 .. 63x63, 4:3 images; first measured on an
 *           Intel Xeon VM, where the direct path was 1.8x slower).
 *   fft:    tiles P (FFT_A + FFT_B L): tiles of y, P = ph pw the points
 *           of a tile's transform, L = log2 P; measured on a 2-core AMD
 *           EPYC VM (Zen 5 class, AVX-512; portable build) with
 *               bench/speed --conv --threads 1 --reps 5 --mp 0.25,1,2,4,8,12
 *                   --kernels 3,7,15,31,63,101
 *           and fitted by bench/fit_cost.py: within 12 % on every case
 *           from 1 megapixel up (36 % at 0.25, whose tiles are clipped to
 *           the image). The tile depends on the kernel only, so the cost is
 *           nearly that of the tiles' points (FFT_B is small).
 * Only the ratio matters, and both paths scale alike with threads. Other
 * machines: re-run and re-fit. With both fitted on the EPYC, `bench/speed
 * --conv --threads 1,2 --reps 3 --mp 0.25,1,4,12 --kernels 7,11,15,19,23,31`
 * picks the faster path in 46 of 48 cases (not at 0.25 MP with 23x23,
 * 1.3x slower); with the Intel direct constants, the FFT path from 15x15,
 * where the direct one was 1.5 to 1.7x faster. */
#define DIRECT_C 9.611e-12
#define DIRECT_P 1.777e-10
#define FFT_A 2.718e-9
#define FFT_B 1.031e-11
/* An image that fits in one tile gets one transform of its own size (often
 * not a power of two) on one thread: 1.2 to 3.1 times the model above,
 * median 1.96, over 35 cases of 0.005 to 0.13 megapixels and kernels 7 to
 * 63 (bench/speed --conv --threads 1 --reps 5 --mp 0.005,0.01,0.03,0.065,
 * 0.13 --kernels 7,11,15,19,27,41,63). Without it auto took the FFT path
 * at 19x19 on Levin's 255 x 255 images, 2.3 times slower on one thread
 * and 3.2 on two, where the blind estimate spends its time. */
#define FFT_ONE_TILE 2.0

static double direct_cost(int N, int M, const float *h, int kw, int kh)
{
    return (double)N * M * (DIRECT_C * deconv_direct_work(h, kw, kh) + DIRECT_P);
}

/* The transform of a tile along one axis for a kernel of k taps: the
 * smallest of 512, 640, 1024, 1280, 2048, ... (powers of two and 5/4 of
 * them, FFTW's fastest sizes here) with k - 1 <= p / 8, so that the
 * window's overlap with the next tile's is at most an eighth of it (see
 * the top of this file). */
static int tile_padded(int k)
{
    for (int p = 512;; p *= 2) {
        if (p >= 8 * (k - 1))
            return p;
        if (p / 4 * 5 >= 8 * (k - 1))
            return p / 4 * 5;
    }
}

/* The tile along one axis (even: a row's transform, r2c) for a kernel of k
 * taps and outputs of at most `extent` samples (the adjoint's, n + k - 1):
 * t outputs (a multiple of 4) from one transform of p, which is `want` if
 * not 0, else the kernel's. An image smaller than a tile gets one tile no
 * larger than it needs. */
static void tile_size(int k, int extent, int even, int want, int *t, int *p)
{
    *p = want ? want : tile_padded(k);
    *t = (*p - k + 1) & ~3;
    if (*t >= extent) {
        *p = deconv_fft_good_size(((extent + 3) & ~3) + k - 1, even);
        *t = (*p - k + 1) & ~3;
    }
}

static double fft_cost(int N, int M, int kw, int kh)
{
    int th, tw, ph, pw;
    tile_size(kh, M + kh - 1, 0, 0, &th, &ph);
    tile_size(kw, N + kw - 1, 1, 0, &tw, &pw);
    double tiles = (double)((M + th - 1) / th) * ((N + tw - 1) / tw);
    double P = (double)ph * pw, L = log2(P);
    return tiles * P * (FFT_A + FFT_B * L) * (tiles == 1 ? FFT_ONE_TILE : 1);
}

deconv_conv_mode deconv_op_choose(int N, int M, const float *h, int kw, int kh)
{
    return fft_cost(N, M, kw, kh) < direct_cost(N, M, h, kw, kh) ? DECONV_CONV_FFT
                                                                : DECONV_CONV_DIRECT;
}

/* The calling thread's tile buffer. */
static fftwf_complex *tile_buffer(const deconv_op *op)
{
    return op->tiles + (size_t)omp_get_thread_num() * op->ph * op->cs;
}

/* Column pass of a tile: forward, times the kernel's spectrum (conjugated
 * for the adjoint), backward; one gathered block at a time, rows
 * r0 <= i < r1 written back. */
static void spectral_product(const deconv_op *op, fftwf_complex *buf, int conj, int r0, int r1)
{
    const int nblocks = deconv_fft_nblocks(op->fft);
    const size_t n = (size_t)op->ph * DECONV_FFT_BLOCK;
    const float sgn = conj ? -1.0f : 1.0f;
    float *restrict g = (float *)deconv_fft_scratch(op->fft, 0);
    for (int blk = 0; blk < nblocks; blk++) {
        const float *restrict k = (const float *)(op->kspec + (size_t)blk * n);
        deconv_fft_gather(op->fft, buf, blk, (fftwf_complex *)g);
        deconv_fft_block(op->fft, (fftwf_complex *)g, blk, FFTW_FORWARD);
#pragma omp simd
        for (size_t t = 0; t < n; t++) {
            float br = g[2 * t], bi = g[2 * t + 1];
            float kr = k[2 * t], ki = sgn * k[2 * t + 1];
            g[2 * t] = br * kr - bi * ki;
            g[2 * t + 1] = br * ki + bi * kr;
        }
        deconv_fft_block(op->fft, (fftwf_complex *)g, blk, FFTW_BACKWARD);
        deconv_fft_scatter(op->fft, (fftwf_complex *)g, blk, buf, r0, r1);
    }
}

/* One tile, on the calling thread: the window of `in` (in_w x in_h, zero
 * outside) of th+kh-1 rows and tw+kw-1 columns from (wr, wc) at the
 * buffer's origin, zeros past it; times K (conj: its conjugate); rows x
 * cols samples from the buffer's (ot, ol) into out (row stride out_w).
 * Rows of zeros are not transformed (their spectrum is zero), rows not
 * wanted are not inverted. */
static void tile_run(const deconv_op *op, const float *in, int in_w, int in_h, int wr, int wc,
                     int conj, float *out, int out_w, int rows, int cols, int ot, int ol)
{
    fftwf_complex *buf = tile_buffer(op);
    float *tmp = deconv_fft_row_scratch(op->fft);
    /* the window's rows [r0, r1) and columns [c0, c1) that lie in `in` */
    int r0 = wr < 0 ? -wr : 0, r1 = op->th + op->kh - 1;
    int c0 = wc < 0 ? -wc : 0, c1 = op->tw + op->kw - 1;
    if (wr + r1 > in_h)
        r1 = in_h - wr;
    if (wc + c1 > in_w)
        c1 = in_w - wc;
    memset(tmp, 0, (size_t)op->pw * sizeof(float));
    for (int i = 0; i < op->ph; i++) {
        if (i >= r0 && i < r1 && c0 < c1) {
            memcpy(tmp + c0, in + (size_t)(wr + i) * in_w + wc + c0,
                   (size_t)(c1 - c0) * sizeof(float));
            deconv_fft_row_forward(op->fft, tmp, buf + (size_t)i * op->cs);
        } else {
            deconv_fft_zero_row(op->fft, buf, i);
        }
    }
    spectral_product(op, buf, conj, ot, ot + rows);
    for (int i = 0; i < rows; i++) {
        deconv_fft_row_inverse(op->fft, buf + (size_t)(ot + i) * op->cs, tmp);
        memcpy(out + (size_t)i * out_w, tmp + ol, (size_t)cols * sizeof(float));
    }
}

/* The FFT path of both operators on a band: `rows` rows of out (out_w
 * wide) in tiles from the band's first row and column; the tile at
 * (i, j) of the band reads the window of `in` from (i + top, j + left).
 * Tiles run in parallel, each on one thread. */
static void fft_band(const deconv_op *op, const float *in, int in_w, int in_h, int top,
                     int left, int conj, float *out, int out_w, int rows)
{
    const int th = op->th, tw = op->tw;
    const int ni = (rows + th - 1) / th, nj = (out_w + tw - 1) / tw, n = ni * nj;
    const int ot = conj ? 0 : op->kh - 1, ol = conj ? 0 : op->kw - 1;
#pragma omp parallel for schedule(dynamic) num_threads(deconv_fft_threads(op->fft)) if (n > 1)
    for (int t = 0; t < n; t++) {
        const int i = t / nj * th, j = t % nj * tw;
        tile_run(op, in, in_w, in_h, i + top, j + left, conj, out + (size_t)i * out_w + j, out_w,
                 rows - i < th ? rows - i : th, out_w - j < tw ? out_w - j : tw, ot, ol);
    }
}

/* K = FFT(h at the origin) / (ph pw), the inverse's scale folded in: on
 * the calling thread's row and tile buffer, into op->kspec. */
static void kernel_spectrum(deconv_op *op)
{
    const float scale = (float)(1.0 / ((double)op->ph * op->pw));
    fftwf_complex *buf = tile_buffer(op);
    float *tmp = deconv_fft_row_scratch(op->fft);
    memset(tmp, 0, (size_t)op->pw * sizeof(float));
    for (int i = 0; i < op->ph; i++) {
        if (i < op->kh) {
            for (int j = 0; j < op->kw; j++)
                tmp[j] = op->h[(size_t)i * op->kw + j] * scale;
            deconv_fft_row_forward(op->fft, tmp, buf + (size_t)i * op->cs);
        } else {
            deconv_fft_zero_row(op->fft, buf, i);
        }
    }
    const size_t n = (size_t)op->ph * DECONV_FFT_BLOCK;
    for (int blk = 0; blk < deconv_fft_nblocks(op->fft); blk++) {
        deconv_fft_gather(op->fft, buf, blk, op->kspec + blk * n);
        deconv_fft_block(op->fft, op->kspec + blk * n, blk, FFTW_FORWARD);
    }
}

/* The FFT path's plans, buffers and K; tiles of ph x pw transforms (0: the
 * kernel's). */
static deconv_status fft_init(deconv_op *op, int ph, int pw)
{
    tile_size(op->kh, op->xh, 0, ph, &op->th, &op->ph);
    tile_size(op->kw, op->xw, 1, pw, &op->tw, &op->pw);
    op->fft = deconv_fft_new(op->ph, op->pw, 1);
    if (!op->fft)
        return DECONV_ERR_NOMEM;
    op->cs = deconv_fft_cstride(op->fft);
    op->threads = deconv_fft_threads(op->fft);
    op->tiles = deconv_fft_alloc_bytes((size_t)op->threads * op->ph * op->cs *
                                       sizeof(fftwf_complex));
    op->kspec = deconv_fft_alloc_blocks(op->fft);
    if (!op->tiles || !op->kspec)
        return DECONV_ERR_NOMEM;
    /* In a region of its own, whose one thread is number 0: made inside a
     * caller's parallel region, the operator would otherwise index the
     * scratch by the caller's thread number. */
#pragma omp parallel num_threads(1)
    kernel_spectrum(op);
    return DECONV_OK;
}

static void fft_free(deconv_op *op)
{
    deconv_fft_free(op->fft);
    free(op->tiles);
    free(op->kspec);
}

/* deconv_op_new, with the FFT path's tiles of ph x pw transforms (0: the
 * kernel's). */
static deconv_op *op_new(int N, int M, const float *h, int kw, int kh, deconv_conv_mode mode,
                         int ph, int pw, deconv_error *err)
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
    if (mode == DECONV_CONV_FFT && fft_init(op, ph, pw) != DECONV_OK) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for the FFTs of %d x %d tiles",
                    op->pw, op->ph);
        deconv_op_free(op);
        return NULL;
    }
    return op;
}

deconv_op *deconv_op_new(int N, int M, const float *h, int kw, int kh,
                         deconv_conv_mode mode, deconv_error *err)
{
    return op_new(N, M, h, kw, kh, mode, 0, 0, err);
}

deconv_op *deconv_op_new_tiles(int N, int M, const float *h, int kw, int kh, int ph, int pw,
                               deconv_error *err)
{
    if (ph < kh + 3 || pw < kw + 3) {
        deconv_fail(err, DECONV_ERR_ARG, "tiles of %d x %d for a %d x %d kernel", pw, ph, kw,
                    kh);
        return NULL;
    }
    return op_new(N, M, h, kw, kh, DECONV_CONV_FFT, ph, pw, err);
}

/* y = h * x (valid): the band of every row. */
void deconv_op_apply(deconv_op *op, const float *x, float *y)
{
    deconv_op_apply_rows(op, x, 0, op->M, y);
}

/* g = H^T r (full correlation): the band of every row. */
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
        fft_band(op, x, op->xw, xrows, 0, 0, 0, y, op->N, rows);
}

void deconv_op_adjoint_rows(deconv_op *op, const float *r, int g0, int g1, float *g)
{
    const int r0 = g0 - (op->kh - 1) > 0 ? g0 - (op->kh - 1) : 0;
    const int r1 = g1 < op->M ? g1 : op->M;
    /* g's row g0 + p reads r's rows g0 + p - (kh-1) ..., r's row r0 first */
    const int ro = g0 - (op->kh - 1) - r0;
    if (op->mode == DECONV_CONV_DIRECT)
        deconv_direct_adjoint_rows(op->direct, r, op->N, r1 - r0, ro, g, g1 - g0);
    else
        fft_band(op, r, op->N, r1 - r0, ro, -(op->kw - 1), 1, g, op->xw, g1 - g0);
}

int deconv_op_row_block(const deconv_op *op)
{
    return op->mode == DECONV_CONV_FFT ? op->th : 4; /* 4: conv.c's tallest strip */
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
