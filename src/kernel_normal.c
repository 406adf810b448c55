/* The kernel step's normal operator P^T P + gamma for large kernels, by
 * FFT (kernel_normal.h). The direct sums cost (kw kh)^2 a product; this
 * costs two transforms of about (2 kw) x (2 kh). Double precision (FFTW's
 * double library): FISTA runs in double, and the operator stays the same
 * linear map to 1e-15 of its scale, as the direct one. */
#include <fftw3.h>
#include <stdlib.h>
#include <string.h>

#include "fft.h"
#include "kernel_normal.h"

struct kernel_fft {
    int kw, kh, PW, PH, nc; /* nc = PW / 2 + 1 complex columns */
    double *buf;            /* PH x PW real */
    fftw_complex *spec;     /* PH x nc: the transform being worked on */
    fftw_complex *a;        /* PH x nc: conj(FFT(A)) / (PW PH) */
    fftw_plan fwd, bwd;
};

kernel_fft *kernel_fft_new(int kw, int kh)
{
    kernel_fft *k = calloc(1, sizeof *k);
    if (!k)
        return NULL;
    k->kw = kw, k->kh = kh;
    /* no wrap-around onto the kernel's support: at least 2 k - 1 */
    k->PW = deconv_fft_good_size(2 * kw - 1, 1);
    k->PH = deconv_fft_good_size(2 * kh - 1, 0);
    k->nc = k->PW / 2 + 1;
    k->buf = fftw_alloc_real((size_t)k->PH * k->PW);
    k->spec = fftw_alloc_complex((size_t)k->PH * k->nc);
    k->a = fftw_alloc_complex((size_t)k->PH * k->nc);
    int ok = k->buf && k->spec && k->a;
    if (ok) {
        /* FFTW's planner keeps global state and is not thread-safe;
         * FFTW_ESTIMATE: the same plan, so the same sums, on every run */
#pragma omp critical(deconv_fftw_planner)
        {
            k->fwd = fftw_plan_dft_r2c_2d(k->PH, k->PW, k->buf, k->spec, FFTW_ESTIMATE);
            k->bwd = fftw_plan_dft_c2r_2d(k->PH, k->PW, k->spec, k->buf, FFTW_ESTIMATE);
        }
        ok = k->fwd && k->bwd;
    }
    if (!ok) {
        kernel_fft_free(k);
        return NULL;
    }
    return k;
}

void kernel_fft_free(kernel_fft *k)
{
    if (!k)
        return;
#pragma omp critical(deconv_fftw_planner)
    {
        if (k->fwd)
            fftw_destroy_plan(k->fwd);
        if (k->bwd)
            fftw_destroy_plan(k->bwd);
    }
    fftw_free(k->buf), fftw_free(k->spec), fftw_free(k->a);
    free(k);
}

/* A (shift (da, db) at row da mod PH, column db mod PW) from acr, the
 * autocorrelation with each row reversed as kernel_step.c keeps it: shift
 * (da, db) is acr[da + kh - 1][kw - 1 - db]. */
void kernel_fft_set(kernel_fft *k, const double *acr)
{
    const int kw = k->kw, kh = k->kh, PW = k->PW, PH = k->PH, aw = 2 * kw - 1;
    memset(k->buf, 0, sizeof(double) * PH * PW);
    for (int da = -(kh - 1); da < kh; da++) {
        const double *row = acr + (size_t)(da + kh - 1) * aw;
        double *out = k->buf + (size_t)((da + PH) % PH) * PW;
        for (int db = -(kw - 1); db < kw; db++)
            out[(db + PW) % PW] = row[kw - 1 - db];
    }
    fftw_execute_dft_r2c(k->fwd, k->buf, k->a);
    /* out[a] = sum_d A[d] v[a + d], a correlation: V conj(FFT(A)) */
    const double scale = 1.0 / ((double)PW * PH);
    for (size_t t = 0; t < (size_t)PH * k->nc; t++) {
        k->a[t][0] *= scale;
        k->a[t][1] *= -scale;
    }
}

void kernel_fft_apply(kernel_fft *k, double gamma, const double *v, double *out)
{
    const int kw = k->kw, kh = k->kh, PW = k->PW, PH = k->PH;
    memset(k->buf, 0, sizeof(double) * PH * PW);
    for (int a = 0; a < kh; a++)
        memcpy(k->buf + (size_t)a * PW, v + (size_t)a * kw, sizeof(double) * kw);
    fftw_execute_dft_r2c(k->fwd, k->buf, k->spec);
    for (size_t t = 0; t < (size_t)PH * k->nc; t++) {
        double re = k->spec[t][0] * k->a[t][0] - k->spec[t][1] * k->a[t][1];
        double im = k->spec[t][0] * k->a[t][1] + k->spec[t][1] * k->a[t][0];
        k->spec[t][0] = re, k->spec[t][1] = im;
    }
    fftw_execute_dft_c2r(k->bwd, k->spec, k->buf);
    for (int a = 0; a < kh; a++)
        for (int b = 0; b < kw; b++)
            out[(size_t)a * kw + b] = k->buf[(size_t)a * PW + b] + gamma * v[(size_t)a * kw + b];
}
