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
 * masked data term), so x's border is estimated, not assumed. */
#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fft.h"
#include "internal.h"
#include "sparse_prior.h"

struct deconv_l0 {
    int N, M, kw, kh, xw, xh, PW, PH, CW;
    size_t np, nc;
    float *xs, *w, *gx, *gy, *den, *dd;
    fftwf_complex *Hf, *Xf, *Yf, *Wf;
    fftwf_plan fwd, bwd;
};

void deconv_l0_free(deconv_l0 *s)
{
    if (!s)
        return;
#pragma omp critical(deconv_fftw_planner)
    {
        if (s->fwd)
            fftwf_destroy_plan(s->fwd);
        if (s->bwd)
            fftwf_destroy_plan(s->bwd);
    }
    fftwf_free(s->xs), fftwf_free(s->w), free(s->gx), free(s->gy), free(s->den), free(s->dd);
    fftwf_free(s->Hf), fftwf_free(s->Xf), fftwf_free(s->Yf), fftwf_free(s->Wf);
    free(s);
}

deconv_l0 *deconv_l0_new(int N, int M, int kw, int kh)
{
    deconv_l0 *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->N = N, s->M = M, s->kw = kw, s->kh = kh, s->xw = N + kw - 1, s->xh = M + kh - 1;
    s->PW = deconv_fft_good_size(s->xw, 1), s->PH = deconv_fft_good_size(s->xh, 0);
    s->CW = s->PW / 2 + 1;
    s->np = (size_t)s->PW * s->PH, s->nc = (size_t)s->CW * s->PH;
    s->xs = fftwf_malloc(s->np * sizeof(float)), s->w = fftwf_malloc(s->np * sizeof(float));
    s->gx = malloc(s->np * sizeof(float)), s->gy = malloc(s->np * sizeof(float));
    s->den = malloc(s->nc * sizeof(float)), s->dd = malloc(s->nc * sizeof(float));
    s->Hf = fftwf_malloc(s->nc * sizeof(fftwf_complex));
    s->Xf = fftwf_malloc(s->nc * sizeof(fftwf_complex));
    s->Yf = fftwf_malloc(s->nc * sizeof(fftwf_complex));
    s->Wf = fftwf_malloc(s->nc * sizeof(fftwf_complex));
    if (!s->xs || !s->w || !s->gx || !s->gy || !s->den || !s->dd || !s->Hf || !s->Xf ||
        !s->Yf || !s->Wf) {
        deconv_l0_free(s);
        return NULL;
    }
#pragma omp critical(deconv_fftw_planner)
    {
        s->fwd = fftwf_plan_dft_r2c_2d(s->PH, s->PW, s->w, s->Wf, FFTW_ESTIMATE);
        s->bwd = fftwf_plan_dft_c2r_2d(s->PH, s->PW, s->Wf, s->w, FFTW_ESTIMATE);
    }
    if (!s->fwd || !s->bwd) {
        deconv_l0_free(s);
        return NULL;
    }
    return s;
}

void deconv_l0_image_step(deconv_l0 *s, float *x, const float *y, const float *h,
                          double lambda, double beta_max)
{
    const int N = s->N, M = s->M, kw = s->kw, kh = s->kh, xw = s->xw, xh = s->xh;
    const int PW = s->PW, PH = s->PH, CW = s->CW;
    const size_t np = s->np, nc = s->nc;
    const float inv = 1.0f / (float)np;
    float *xs = s->xs, *w = s->w, *gx = s->gx, *gy = s->gy, *den = s->den, *dd = s->dd;
    fftwf_complex *Hf = s->Hf, *Xf = s->Xf, *Yf = s->Yf, *Wf = s->Wf;
    fftwf_plan fwd = s->fwd, bwd = s->bwd;
    /* the kernel's spectrum, h[a][b] at (a, b): (h (*) x)[p][q] =
     * sum h[a][b] x[p-a][q-b], so y[i][j] sits at (i+kh-1, j+kw-1) */
    memset(w, 0, np * sizeof(float));
    for (int a = 0; a < kh; a++)
        for (int b = 0; b < kw; b++)
            w[(size_t)a * PW + b] = h[a * kw + b];
    fftwf_execute_dft_r2c(fwd, w, Hf);
    /* |D_col|^2 + |D_row|^2 of forward differences */
    for (int u = 0; u < PH; u++)
        for (int v = 0; v < CW; v++) {
            size_t k = (size_t)u * CW + v;
            dd[k] = (float)(4.0 - 2.0 * cos(2 * M_PI * v / PW) - 2.0 * cos(2 * M_PI * u / PH));
            den[k] = Hf[k][0] * Hf[k][0] + Hf[k][1] * Hf[k][1];
        }

    /* x into the periodic domain; the extra samples (if any) replicate the
     * edges */
#pragma omp parallel for schedule(static)
    for (int p = 0; p < PH; p++)
        for (int q = 0; q < PW; q++)
            xs[(size_t)p * PW + q] = x[(size_t)(p < xh ? p : xh - 1) * xw + (q < xw ? q : xw - 1)];
    memcpy(w, xs, np * sizeof(float));
    fftwf_execute_dft_r2c(fwd, w, Xf);

    for (double beta = 2 * lambda; beta < beta_max; beta *= 2) {
        /* periodic data: y where it is observed, the prediction elsewhere */
#pragma omp parallel for schedule(static)
        for (size_t k = 0; k < nc; k++) {
            float re = Hf[k][0] * Xf[k][0] - Hf[k][1] * Xf[k][1];
            float im = Hf[k][0] * Xf[k][1] + Hf[k][1] * Xf[k][0];
            Wf[k][0] = re, Wf[k][1] = im;
        }
        fftwf_execute_dft_c2r(bwd, Wf, w);
#pragma omp parallel for schedule(static)
        for (size_t k = 0; k < np; k++)
            w[k] *= inv;
        for (int i = 0; i < M; i++)
            memcpy(w + (size_t)(i + kh - 1) * PW + kw - 1, y + (size_t)i * N, N * sizeof(float));
        fftwf_execute_dft_r2c(fwd, w, Yf);

        /* g step, then D^T g into w */
        const float t = (float)(lambda / beta);
#pragma omp parallel for schedule(static)
        for (int p = 0; p < PH; p++) {
            const float *row = xs + (size_t)p * PW, *below = xs + (size_t)((p + 1) % PH) * PW;
            for (int q = 0; q < PW; q++) {
                float a = row[(q + 1) % PW] - row[q], b = below[q] - row[q];
                int keep = a * a + b * b >= t;
                gx[(size_t)p * PW + q] = keep ? a : 0.0f;
                gy[(size_t)p * PW + q] = keep ? b : 0.0f;
            }
        }
#pragma omp parallel for schedule(static)
        for (int p = 0; p < PH; p++) {
            const float *gxr = gx + (size_t)p * PW, *gyr = gy + (size_t)p * PW;
            const float *gya = gy + (size_t)((p + PH - 1) % PH) * PW;
            for (int q = 0; q < PW; q++)
                w[(size_t)p * PW + q] = gxr[(q + PW - 1) % PW] - gxr[q] + gya[q] - gyr[q];
        }
        fftwf_execute_dft_r2c(fwd, w, Wf);

        /* x step: X = (conj(H) Y + beta G) / (|H|^2 + beta |D|^2) */
        const float bf = (float)beta;
#pragma omp parallel for schedule(static)
        for (size_t k = 0; k < nc; k++) {
            float re = Hf[k][0] * Yf[k][0] + Hf[k][1] * Yf[k][1] + bf * Wf[k][0];
            float im = Hf[k][0] * Yf[k][1] - Hf[k][1] * Yf[k][0] + bf * Wf[k][1];
            float d = den[k] + bf * dd[k];
            Xf[k][0] = re / d, Xf[k][1] = im / d;
            Wf[k][0] = Xf[k][0], Wf[k][1] = Xf[k][1];
        }
        fftwf_execute_dft_c2r(bwd, Wf, xs);
#pragma omp parallel for schedule(static)
        for (size_t k = 0; k < np; k++)
            xs[k] *= inv;
    }
    for (int p = 0; p < xh; p++)
        memcpy(x + (size_t)p * xw, xs + (size_t)p * PW, xw * sizeof(float));
}

int deconv_kernel_normal_fft(const float *v, int w, int h, const float *r, int kw, int kh,
                             double *ac, double *c)
{
    const int PW = deconv_fft_good_size(w + kw, 1), PH = deconv_fft_good_size(h + kh, 0);
    const int CW = PW / 2 + 1, rw = w - kw + 1, rh = h - kh + 1;
    const size_t np = (size_t)PW * PH, nc = (size_t)CW * PH;
    const double inv = 1.0 / (double)np;
    float *buf = fftwf_malloc(np * sizeof(float));
    fftwf_complex *V = fftwf_malloc(nc * sizeof(fftwf_complex));
    fftwf_complex *R = fftwf_malloc(nc * sizeof(fftwf_complex));
    fftwf_plan fwd = NULL, bwd = NULL;
    int rc = -1;
    if (!buf || !V || !R)
        goto done;
#pragma omp critical(deconv_fftw_planner)
    {
        fwd = fftwf_plan_dft_r2c_2d(PH, PW, buf, V, FFTW_ESTIMATE);
        bwd = fftwf_plan_dft_c2r_2d(PH, PW, V, buf, FFTW_ESTIMATE);
    }
    if (!fwd || !bwd)
        goto done;
    memset(buf, 0, np * sizeof(float));
    for (int i = 0; i < h; i++)
        memcpy(buf + (size_t)i * PW, v + (size_t)i * w, w * sizeof(float));
    fftwf_execute_dft_r2c(fwd, buf, V);
    memset(buf, 0, np * sizeof(float));
    for (int i = 0; i < rh; i++)
        memcpy(buf + (size_t)i * PW, r + (size_t)i * rw, rw * sizeof(float));
    fftwf_execute_dft_r2c(fwd, buf, R);
    /* cross-correlation sum_i r[i] v[i + s], s >= 0: conj(R) V */
    for (size_t k = 0; k < nc; k++) {
        float re = R[k][0] * V[k][0] + R[k][1] * V[k][1];
        float im = R[k][0] * V[k][1] - R[k][1] * V[k][0];
        R[k][0] = re, R[k][1] = im;
    }
    fftwf_execute_dft_c2r(bwd, R, buf);
    for (int a = 0; a < kh; a++)
        for (int b = 0; b < kw; b++)
            c[a * kw + b] += inv * buf[(size_t)(kh - 1 - a) * PW + (kw - 1 - b)];
    /* autocorrelation sum_i v[i] v[i + s]: |V|^2, negative shifts wrapped */
    for (size_t k = 0; k < nc; k++) {
        V[k][0] = V[k][0] * V[k][0] + V[k][1] * V[k][1];
        V[k][1] = 0;
    }
    fftwf_execute_dft_c2r(bwd, V, buf);
    int aw = 2 * kw - 1;
    for (int sa = 0; sa < 2 * kh - 1; sa++)
        for (int sb = 0; sb < aw; sb++) {
            int di = (sa - (kh - 1) + PH) % PH, dj = (sb - (kw - 1) + PW) % PW;
            ac[(size_t)sa * aw + sb] += inv * buf[(size_t)di * PW + dj];
        }
    rc = 0;
done:
#pragma omp critical(deconv_fftw_planner)
    {
        if (fwd)
            fftwf_destroy_plan(fwd);
        if (bwd)
            fftwf_destroy_plan(bwd);
    }
    fftwf_free(buf), fftwf_free(V), fftwf_free(R);
    return rc;
}
