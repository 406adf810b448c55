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

int deconv_l0_image_step(float *x, const float *y, int N, int M, const float *h, int kw, int kh,
                         double lambda, double beta_max)
{
    const int xw = N + kw - 1, xh = M + kh - 1;
    const int PW = deconv_fft_good_size(xw, 1), PH = deconv_fft_good_size(xh, 0);
    const int CW = PW / 2 + 1;
    const size_t np = (size_t)PW * PH, nc = (size_t)CW * PH;
    const float inv = 1.0f / (float)np;

    float *xs = fftwf_malloc(np * sizeof(float)), *w = fftwf_malloc(np * sizeof(float));
    float *gx = malloc(np * sizeof(float)), *gy = malloc(np * sizeof(float));
    float *den = malloc(nc * sizeof(float)), *dd = malloc(nc * sizeof(float));
    fftwf_complex *Hf = fftwf_malloc(nc * sizeof(fftwf_complex));
    fftwf_complex *Xf = fftwf_malloc(nc * sizeof(fftwf_complex));
    fftwf_complex *Yf = fftwf_malloc(nc * sizeof(fftwf_complex));
    fftwf_complex *Wf = fftwf_malloc(nc * sizeof(fftwf_complex));
    fftwf_plan fwd = NULL, bwd = NULL;
    int rc = -1;
    if (!xs || !w || !gx || !gy || !den || !dd || !Hf || !Xf || !Yf || !Wf)
        goto done;
#pragma omp critical(deconv_fftw_planner)
    {
        fwd = fftwf_plan_dft_r2c_2d(PH, PW, w, Wf, FFTW_ESTIMATE);
        bwd = fftwf_plan_dft_c2r_2d(PH, PW, Wf, w, FFTW_ESTIMATE);
    }
    if (!fwd || !bwd)
        goto done;

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
    rc = 0;
done:
#pragma omp critical(deconv_fftw_planner)
    {
        if (fwd)
            fftwf_destroy_plan(fwd);
        if (bwd)
            fftwf_destroy_plan(bwd);
    }
    fftwf_free(xs), fftwf_free(w), free(gx), free(gy), free(den), free(dd);
    fftwf_free(Hf), fftwf_free(Xf), fftwf_free(Yf), fftwf_free(Wf);
    return rc;
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
