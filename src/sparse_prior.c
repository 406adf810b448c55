/* The L0-gradient image step of blind estimation: a sparse prior that keeps
 * the strong edges of x sharp and flattens everything else, the salient
 * structure the kernel step needs (Xu, Zheng and Jia, "Unnatural L0 sparse
 * representation for natural image deblurring", CVPR 2013; Pan, Hu, Su and
 * Yang, "Deblurring text images via L0-regularized intensity and gradient
 * prior", CVPR 2014).
 *
 *   F(x) = 1/2 ||h * x - y||^2 + lambda/2 ||grad x||_0
 *
 * Half-quadratic splitting with an auxiliary gradient field g:
 *
 *   1/2 ||h * x - y||^2 + beta/2 ||grad x - g||^2 + lambda/2 ||g||_0
 *
 *   g step: g = grad x where |grad x|^2 >= lambda / beta, else 0;
 *   x step: (H^T H + beta D^T D) x = H^T y + beta D^T g, solved exactly by
 *           FFT in a periodic domain holding x;
 *   beta doubles from 2 lambda to beta_max.
 *
 * The model's valid convolution is kept: y covers only the part of the
 * periodic product h (*) x where the kernel does not wrap around. The
 * other samples of the periodic data are filled with the current
 * prediction h (*) x before each x solve (a majorise-minimise step for the
 * masked data term), so x's border is estimated, not assumed.
 *
 * The transforms are fft.c's: rows and gathered blocks of columns shared
 * out on the threads, so results do not depend on their number. Work that
 * touches one row (the data fill, the g step and D^T g) or one block of
 * columns (the spectral products and the solve) is done between the 1-D
 * transforms, while the row or block is in cache. */
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fft.h"
#include "internal.h"
#include "sparse_prior.h"

struct deconv_l0 {
    int N, M, kw, kh, xw, xh, PW, PH;
    deconv_fft *fft;
    float *xs;                 /* x in the periodic domain, PH rows of PW (a work
                                  buffer's layout: XS floats a row) */
    size_t XS;
    fftwf_complex *H, *X;      /* spectra of h and x, as gathered blocks */
    fftwf_complex *W, *G;      /* work buffers (fft.h's layout): the data, D^T g */
    float *cos_row, *cos_col;  /* 2 cos(2 pi u / PH), 2 cos(2 pi v / PW): |D|^2 */
};

void deconv_l0_free(deconv_l0 *s)
{
    if (!s)
        return;
    deconv_fft_free(s->fft);
    free(s->xs), free(s->H), free(s->X), free(s->W), free(s->G);
    free(s->cos_row), free(s->cos_col);
    free(s);
}

deconv_l0 *deconv_l0_new(int N, int M, int kw, int kh)
{
    deconv_l0 *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->N = N, s->M = M, s->kw = kw, s->kh = kh, s->xw = N + kw - 1, s->xh = M + kh - 1;
    s->PW = deconv_fft_good_size(s->xw, 1), s->PH = deconv_fft_good_size(s->xh, 0);
    s->fft = deconv_fft_new(s->PH, s->PW, 1);
    if (!s->fft) {
        deconv_l0_free(s);
        return NULL;
    }
    /* every column of the blocks, those past the spectrum's (zeros) too */
    int cols = (int)deconv_fft_cstride(s->fft);
    s->xs = (float *)deconv_fft_alloc(s->fft), s->XS = 2 * deconv_fft_cstride(s->fft);
    s->H = deconv_fft_alloc_blocks(s->fft), s->X = deconv_fft_alloc_blocks(s->fft);
    s->W = deconv_fft_alloc(s->fft), s->G = deconv_fft_alloc(s->fft);
    s->cos_row = malloc((size_t)s->PH * sizeof(float));
    s->cos_col = malloc((size_t)cols * sizeof(float));
    if (!s->xs || !s->H || !s->X || !s->W || !s->G || !s->cos_row || !s->cos_col) {
        deconv_l0_free(s);
        return NULL;
    }
    for (int u = 0; u < s->PH; u++)
        s->cos_row[u] = (float)(2.0 * cos(2 * M_PI * u / s->PH));
    for (int v = 0; v < cols; v++)
        s->cos_col[v] = (float)(2.0 * cos(2 * M_PI * v / s->PW));
    return s;
}

/* g = grad x at one pixel, kept where |grad x|^2 >= t: the forward
 * differences a (along the row) and b (down), and which of them is
 * wanted. */
static inline float kept(float a, float b, float t, float want)
{
    return a * a + b * b >= t ? want : 0.0f;
}

/* Row p of D^T g, g = grad x (forward differences, periodic) where
 * |grad x|^2 >= t and 0 elsewhere, from the rows of xs around p:
 * (D^T g)[p][q] = gx[p][q-1] - gx[p][q] + gy[p-1][q] - gy[p][q]. */
static void divergence_row(const deconv_l0 *s, int p, float t, float *restrict out)
{
    const int PW = s->PW, PH = s->PH;
    const float *restrict up = s->xs + (size_t)((p + PH - 1) % PH) * s->XS;
    const float *restrict row = s->xs + (size_t)p * s->XS;
    const float *restrict down = s->xs + (size_t)((p + 1) % PH) * s->XS;
#define DIVERGENCE(q, ql, qr)                                                          \
    (kept(row[q] - row[ql], down[ql] - row[ql], t, row[q] - row[ql]) -                 \
     kept(row[qr] - row[q], down[q] - row[q], t, row[qr] - row[q]) +                   \
     kept(up[qr] - up[q], row[q] - up[q], t, row[q] - up[q]) -                         \
     kept(row[qr] - row[q], down[q] - row[q], t, down[q] - row[q]))
    out[0] = DIVERGENCE(0, PW - 1, 1 % PW);
#pragma omp simd
    for (int q = 1; q < PW - 1; q++)
        out[q] = DIVERGENCE(q, q - 1, q + 1);
    if (PW > 1)
        out[PW - 1] = DIVERGENCE(PW - 1, PW - 2, 0);
#undef DIVERGENCE
}

void deconv_l0_image_step(deconv_l0 *s, float *x, const float *y, const float *h,
                          double lambda, double beta_max)
{
    const int N = s->N, M = s->M, kw = s->kw, kh = s->kh, xw = s->xw, xh = s->xh;
    const int PW = s->PW, PH = s->PH;
    const deconv_fft *f = s->fft;
    const int nblocks = deconv_fft_nblocks(f);
    const size_t cs = deconv_fft_cstride(f);
    const size_t bn = (size_t)PH * DECONV_FFT_BLOCK; /* complex numbers a block */
    const float inv = (float)(1.0 / ((double)PW * PH));
    float *xs = s->xs;

#pragma omp parallel num_threads(deconv_fft_threads(f)) if ((size_t)PW * PH >= DECONV_PARALLEL_MIN)
    {
        float *restrict g = (float *)deconv_fft_scratch(f, 0);
        float *tmp = deconv_fft_row_scratch(f);
        /* the spectra of h (rows in W), h[a][b] at (a, b): (h (*) x)[p][q] =
         * sum h[a][b] x[p-a][q-b], so y[i][j] sits at (i+kh-1, j+kw-1);
         * and of x (rows in G), whose extra periodic samples (if any)
         * replicate the edges */
#pragma omp for schedule(static)
        for (int p = 0; p < PH; p++) {
            float *xsr = xs + (size_t)p * s->XS;
            if (p < kh) {
                memset(tmp, 0, (size_t)PW * sizeof(float));
                memcpy(tmp, h + (size_t)p * kw, (size_t)kw * sizeof(float));
                deconv_fft_row_forward(f, tmp, s->W + (size_t)p * cs);
            } else {
                deconv_fft_zero_row(f, s->W, p);
            }
            const float *src = x + (size_t)(p < xh ? p : xh - 1) * xw;
            memcpy(xsr, src, (size_t)xw * sizeof(float));
            for (int q = xw; q < PW; q++)
                xsr[q] = src[xw - 1];
            deconv_fft_row_forward(f, xsr, s->G + (size_t)p * cs);
        }
#pragma omp for schedule(static)
        for (int blk = 0; blk < nblocks; blk++) {
            deconv_fft_gather(f, s->W, blk, s->H + blk * bn);
            deconv_fft_block(f, s->H + blk * bn, blk, FFTW_FORWARD);
            deconv_fft_gather(f, s->G, blk, s->X + blk * bn);
            deconv_fft_block(f, s->X + blk * bn, blk, FFTW_FORWARD);
        }

        for (double beta = 2 * lambda; beta < beta_max; beta *= 2) {
            const float t = (float)(lambda / beta), bf = (float)beta;
            /* periodic data, y where it is observed and the prediction
             * h (*) x elsewhere: the product, back by columns ... */
#pragma omp for schedule(static)
            for (int blk = 0; blk < nblocks; blk++) {
                const float *restrict hb = (const float *)(s->H + blk * bn);
                const float *restrict xb = (const float *)(s->X + blk * bn);
#pragma omp simd
                for (size_t k = 0; k < bn; k++) {
                    float hr = hb[2 * k], hi = hb[2 * k + 1], xr = xb[2 * k], xi = xb[2 * k + 1];
                    g[2 * k] = inv * (hr * xr - hi * xi);
                    g[2 * k + 1] = inv * (hr * xi + hi * xr);
                }
                deconv_fft_block(f, (fftwf_complex *)g, blk, FFTW_BACKWARD);
                deconv_fft_scatter(f, (fftwf_complex *)g, blk, s->W, 0, PH);
            }
            /* ... then by rows, y put in, and forward again; D^T g of the
             * g step by rows */
#pragma omp for schedule(static)
            for (int p = 0; p < PH; p++) {
                deconv_fft_row_inverse(f, s->W + (size_t)p * cs, tmp);
                if (p >= kh - 1 && p < kh - 1 + M)
                    memcpy(tmp + kw - 1, y + (size_t)(p - kh + 1) * N, (size_t)N * sizeof(float));
                deconv_fft_row_forward(f, tmp, s->W + (size_t)p * cs);
                divergence_row(s, p, t, tmp);
                deconv_fft_row_forward(f, tmp, s->G + (size_t)p * cs);
            }
            /* x step by columns: X = (conj(H) Y + beta G) / (|H|^2 + beta |D|^2)
             * (G gathered where X was: X is replaced), and back */
#pragma omp for schedule(static)
            for (int blk = 0; blk < nblocks; blk++) {
                const float *restrict hb = (const float *)(s->H + blk * bn);
                float *restrict xb = (float *)(s->X + blk * bn);
                deconv_fft_gather(f, s->W, blk, (fftwf_complex *)g);
                deconv_fft_block(f, (fftwf_complex *)g, blk, FFTW_FORWARD);
                deconv_fft_gather(f, s->G, blk, (fftwf_complex *)xb);
                deconv_fft_block(f, (fftwf_complex *)xb, blk, FFTW_FORWARD);
                for (int v = 0; v < DECONV_FFT_BLOCK; v++) {
                    const float dc = 4.0f - s->cos_col[blk * DECONV_FFT_BLOCK + v];
                    const size_t o = (size_t)v * PH;
#pragma omp simd
                    for (int u = 0; u < PH; u++) {
                        size_t k = 2 * (o + u);
                        float hr = hb[k], hi = hb[k + 1], yr = g[k], yi = g[k + 1];
                        float re = hr * yr + hi * yi + bf * xb[k];
                        float im = hr * yi - hi * yr + bf * xb[k + 1];
                        float r = 1.0f / (hr * hr + hi * hi + bf * (dc - s->cos_row[u]));
                        xb[k] = re * r, xb[k + 1] = im * r;
                        g[k] = inv * xb[k], g[k + 1] = inv * xb[k + 1];
                    }
                }
                deconv_fft_block(f, (fftwf_complex *)g, blk, FFTW_BACKWARD);
                deconv_fft_scatter(f, (fftwf_complex *)g, blk, s->W, 0, PH);
            }
#pragma omp for schedule(static)
            for (int p = 0; p < PH; p++)
                deconv_fft_row_inverse(f, s->W + (size_t)p * cs, xs + (size_t)p * s->XS);
        }
    }
    for (int p = 0; p < xh; p++)
        memcpy(x + (size_t)p * xw, xs + (size_t)p * s->XS, xw * sizeof(float));
}

struct deconv_normal {
    int xw, xh, kw, kh, PW, PH;
    deconv_fft *fft;
    fftwf_complex *vx, *rx, *vy, *ry;   /* spectra of P_col, D_col y, P_row, D_row y */
};

void deconv_normal_free(deconv_normal *s)
{
    if (!s)
        return;
    deconv_fft_free(s->fft);
    free(s->vx), free(s->rx), free(s->vy), free(s->ry);
    free(s);
}

deconv_normal *deconv_normal_new(int xw, int xh, int kw, int kh)
{
    deconv_normal *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->xw = xw, s->xh = xh, s->kw = kw, s->kh = kh;
    /* no wrap-around for shifts below the kernel's size: at least
     * xw + kw - 1 by xh + kh - 1 */
    s->PW = deconv_fft_good_size(xw + kw - 1, 1), s->PH = deconv_fft_good_size(xh + kh - 1, 0);
    s->fft = deconv_fft_new(s->PH, s->PW, 4);
    if (s->fft) {
        s->vx = deconv_fft_alloc(s->fft), s->rx = deconv_fft_alloc(s->fft);
        s->vy = deconv_fft_alloc(s->fft), s->ry = deconv_fft_alloc(s->fft);
    }
    if (!s->fft || !s->vx || !s->rx || !s->vy || !s->ry) {
        deconv_normal_free(s);
        return NULL;
    }
    return s;
}

/* Row p of a w x h image into row p of buf, zero padded, and its row
 * transform (nothing to transform below the image). */
static void load_row(const deconv_fft *f, fftwf_complex *buf, int p, const float *v, int w,
                     int h, int pw, float *tmp)
{
    if (p < h) {
        memcpy(tmp, v + (size_t)p * w, (size_t)w * sizeof(float));
        memset(tmp + w, 0, (size_t)(pw - w) * sizeof(float));
        deconv_fft_row_forward(f, tmp, buf + (size_t)p * deconv_fft_cstride(f));
    } else {
        deconv_fft_zero_row(f, buf, p);
    }
}

void deconv_kernel_normal(deconv_normal *s, const float *px, const float *py,
                          const float *dy_c, const float *dy_r, double *ac, double *c)
{
    const int xw = s->xw, xh = s->xh, kw = s->kw, kh = s->kh, PW = s->PW, PH = s->PH;
    const deconv_fft *f = s->fft;
    const int nblocks = deconv_fft_nblocks(f);
    const size_t cs = deconv_fft_cstride(f), bn = (size_t)PH * DECONV_FFT_BLOCK;
    const double inv = 1.0 / ((double)PW * PH);

#pragma omp parallel num_threads(deconv_fft_threads(f)) if ((size_t)PW * PH >= DECONV_PARALLEL_MIN)
    {
        float *tmp = deconv_fft_row_scratch(f);
#pragma omp for schedule(static)
        for (int p = 0; p < PH; p++) {
            load_row(f, s->vx, p, px, xw - 1, xh, PW, tmp);
            load_row(f, s->rx, p, dy_c, xw - kw, xh - kh + 1, PW, tmp);
            load_row(f, s->vy, p, py, xw, xh - 1, PW, tmp);
            load_row(f, s->ry, p, dy_r, xw - kw + 1, xh - kh, PW, tmp);
        }
        /* by columns: the cross-correlations sum_i r[i] v[i + s] (conj(R) V)
         * and the autocorrelations (|V|^2) of both gradient directions,
         * added, and back: only the rows of shifts below the kernel's size,
         * 0 .. kh-1 for the cross-correlation, -(kh-1) .. kh-1 (wrapped)
         * for the autocorrelation (PH >= 2 kh - 1: distinct rows) */
        float *restrict g[4];
        fftwf_complex *bufs[4] = {s->vx, s->rx, s->vy, s->ry};
        for (int k = 0; k < 4; k++)
            g[k] = (float *)deconv_fft_scratch(f, k);
#pragma omp for schedule(static)
        for (int blk = 0; blk < nblocks; blk++) {
            for (int k = 0; k < 4; k++) {
                deconv_fft_gather(f, bufs[k], blk, (fftwf_complex *)g[k]);
                deconv_fft_block(f, (fftwf_complex *)g[k], blk, FFTW_FORWARD);
            }
            float *restrict vx = g[0], *restrict rx = g[1];
            const float *restrict vy = g[2], *restrict ry = g[3];
#pragma omp simd
            for (size_t t = 0; t < bn; t++) {
                size_t k = 2 * t;
                float cre = rx[k] * vx[k] + rx[k + 1] * vx[k + 1] + ry[k] * vy[k] + ry[k + 1] * vy[k + 1];
                float cim = rx[k] * vx[k + 1] - rx[k + 1] * vx[k] + ry[k] * vy[k + 1] - ry[k + 1] * vy[k];
                float a = vx[k] * vx[k] + vx[k + 1] * vx[k + 1] + vy[k] * vy[k] + vy[k + 1] * vy[k + 1];
                rx[k] = cre, rx[k + 1] = cim;
                vx[k] = a, vx[k + 1] = 0.0f;
            }
            deconv_fft_block(f, (fftwf_complex *)vx, blk, FFTW_BACKWARD);
            deconv_fft_block(f, (fftwf_complex *)rx, blk, FFTW_BACKWARD);
            deconv_fft_scatter(f, (fftwf_complex *)rx, blk, s->rx, 0, kh);
            deconv_fft_scatter(f, (fftwf_complex *)vx, blk, s->vx, 0, kh);
            deconv_fft_scatter(f, (fftwf_complex *)vx, blk, s->vx, PH - kh + 1, PH);
        }
        /* row sa of ac and row kh-1-sa of c (for sa < kh) */
        const int aw = 2 * kw - 1;
#pragma omp for schedule(static)
        for (int sa = 0; sa < 2 * kh - 1; sa++) {
            deconv_fft_row_inverse(f, s->vx + (size_t)((sa - (kh - 1) + PH) % PH) * cs, tmp);
            for (int sb = 0; sb < aw; sb++)
                ac[(size_t)sa * aw + sb] += inv * tmp[(sb - (kw - 1) + PW) % PW];
            if (sa < kh) {
                deconv_fft_row_inverse(f, s->rx + (size_t)sa * cs, tmp);
                for (int b = 0; b < kw; b++)
                    c[(kh - 1 - sa) * kw + b] += inv * tmp[kw - 1 - b];
            }
        }
    }
}
