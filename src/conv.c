/* The three operators of MODEL.md on single planes, direct (spatial) form:
 *   valid convolution  y = h * x
 *   its adjoint in x   g = H^T r   (full correlation of r with h)
 *   its adjoint in h   g = X^T r   (valid correlation of x with r)
 * Rows of the output are split between OpenMP threads; every output sample
 * is computed by one thread in a fixed order, so the bytes do not depend on
 * the thread count. Inner loops run along a row and vectorise. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* MODEL.md's sum over h[a][b] x[i+kh-1-a][j+kw-1-b] is a correlation with
 * the flipped kernel: flipped[a'][b'] = h[kh-1-a'][kw-1-b']. */
static void flip_kernel(const float *h, int kw, int kh, float *out)
{
    int n = kw * kh;
    for (int t = 0; t < n; t++)
        out[t] = h[n - 1 - t];
}

void deconv_conv_valid(const float *x, int xw, int xh, const float *h, int kw, int kh,
                       float *y)
{
    int yw = xw - kw + 1, yh = xh - kh + 1;
    float *hf = malloc((size_t)kw * kh * sizeof(float));
    if (!hf)
        return; /* unreachable in practice: a few KB; callers check sizes */
    flip_kernel(h, kw, kh, hf);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < yh; i++) {
        float *restrict yr = y + (size_t)i * yw;
        memset(yr, 0, (size_t)yw * sizeof(float));
        for (int a = 0; a < kh; a++) {
            const float *restrict xr = x + (size_t)(i + a) * xw;
            const float *ka = hf + (size_t)a * kw;
            for (int b = 0; b < kw; b++) {
                const float c = ka[b];
                if (c == 0.0f)
                    continue;
                const float *restrict xs = xr + b;
#pragma omp simd
                for (int j = 0; j < yw; j++)
                    yr[j] += c * xs[j];
            }
        }
    }
    free(hf);
}

void deconv_corr_full(const float *r, int rw, int rh, const float *h, int kw, int kh,
                      float *g)
{
    int gw = rw + kw - 1, gh = rh + kh - 1;
    float *hf = malloc((size_t)kw * kh * sizeof(float));
    if (!hf)
        return;
    flip_kernel(h, kw, kh, hf);
    /* g[p][q] = sum hf[a][b] r[p-a][q-b], r zero outside its frame. */
#pragma omp parallel for schedule(static)
    for (int p = 0; p < gh; p++) {
        float *restrict gr = g + (size_t)p * gw;
        memset(gr, 0, (size_t)gw * sizeof(float));
        int a0 = p - rh + 1 > 0 ? p - rh + 1 : 0, a1 = p < kh - 1 ? p : kh - 1;
        for (int a = a0; a <= a1; a++) {
            const float *restrict rr = r + (size_t)(p - a) * rw;
            const float *ka = hf + (size_t)a * kw;
            for (int b = 0; b < kw; b++) {
                const float c = ka[b];
                if (c == 0.0f)
                    continue;
                float *restrict gs = gr + b;
#pragma omp simd
                for (int j = 0; j < rw; j++)
                    gs[j] += c * rr[j];
            }
        }
    }
    free(hf);
}

void deconv_corr_kernel(const float *x, int xw, int xh, const float *r, int kw, int kh,
                        float *g)
{
    int rw = xw - kw + 1, rh = xh - kh + 1;
    /* G[a][b] = sum r[i][j] x[i+a][j+b]; MODEL.md's grad_h is G flipped.
     * One thread owns each kernel row a; a row of r and of x stay in cache
     * while all kw shifts are taken. Row sums in float, totals in double. */
    double *acc = calloc((size_t)kw * kh, sizeof(double));
    if (!acc)
        return;
#pragma omp parallel for schedule(dynamic, 1)
    for (int a = 0; a < kh; a++) {
        double *ga = acc + (size_t)a * kw;
        for (int i = 0; i < rh; i++) {
            const float *restrict rr = r + (size_t)i * rw;
            const float *restrict xr = x + (size_t)(i + a) * xw;
            for (int b = 0; b < kw; b++) {
                float s = 0.0f;
#pragma omp simd reduction(+ : s)
                for (int j = 0; j < rw; j++)
                    s += rr[j] * xr[j + b];
                ga[b] += s;
            }
        }
    }
    int n = kw * kh;
    for (int t = 0; t < n; t++)
        g[t] = (float)acc[n - 1 - t];
    free(acc);
}

/* Sums in fixed blocks, each in double, added in order: the same result
 * whatever the number of threads. */
#define DOT_BLOCK 8192

double deconv_dot(const float *a, const float *b, size_t n)
{
    size_t nb = (n + DOT_BLOCK - 1) / DOT_BLOCK;
    if (nb == 0)
        return 0.0;
    double stack[64], *part = nb <= 64 ? stack : malloc(nb * sizeof(double));
    if (!part)
        return 0.0 / 0.0;
#pragma omp parallel for schedule(static)
    for (size_t k = 0; k < nb; k++) {
        size_t lo = k * DOT_BLOCK, hi = lo + DOT_BLOCK < n ? lo + DOT_BLOCK : n;
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (size_t i = lo; i < hi; i++)
            s += (double)a[i] * (double)b[i];
        part[k] = s;
    }
    double s = 0.0;
    for (size_t k = 0; k < nb; k++)
        s += part[k];
    if (part != stack)
        free(part);
    return s;
}

double deconv_objective(const float *x, const float *y, int N, int M, const float *h,
                        int kw, int kh, float *r, float *grad_x, float *grad_h)
{
    int xw = N + kw - 1, xh = M + kh - 1;
    size_t n = (size_t)N * M;
    deconv_conv_valid(x, xw, xh, h, kw, kh, r);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        r[i] -= y[i];
    double f = 0.5 * deconv_dot(r, r, n);
    if (grad_x)
        deconv_corr_full(r, N, M, h, kw, kh, grad_x);
    if (grad_h)
        deconv_corr_kernel(x, xw, xh, r, kw, kh, grad_h);
    return f;
}
