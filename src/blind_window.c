/* The window of the photo the blind kernel is estimated on (blind.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blind_internal.h"

/* The window of the luminance (w x h at left, top) the kernel is estimated
 * on: p's region when it has one; the whole image when it has at most
 * p->estimate_pixels pixels (or that is 0); else a window of about
 * estimate_pixels with the image's aspect, at the position, on a grid of
 * 1/16 of the free range, where the sum of |grad| is largest. The kernel is the same everywhere in the model,
 * and the edges are what carry it; a few megapixels hold far more of them
 * than the kernel step needs, and the cost of the estimate is linear in
 * the pixels. */
void blind_choose_window(const deconv_image *lum, const deconv_blind_params *p, int *left,
                          int *top, int *w, int *h)
{
    const int N = lum->width, M = lum->height, kw = p->kernel_width, kh = p->kernel_height;
    const double max_pixels = p->estimate_pixels;
    if (p->region_width) {
        *left = p->region_x, *top = p->region_y, *w = p->region_width, *h = p->region_height;
        return;
    }
    *left = *top = 0, *w = N, *h = M;
    if (max_pixels <= 0 || (double)N * M <= max_pixels)
        return;
    int ww = (int)fmin(N, lround(sqrt(max_pixels * N / M)));
    int wh = (int)fmin(M, lround(max_pixels / ww));
    ww = ww < 2 * kw ? (2 * kw < N ? 2 * kw : N) : ww;
    wh = wh < 2 * kh ? (2 * kh < M ? 2 * kh : M) : wh;
    /* column sums of |grad| per row band would do; an integral image is
     * simplest: S[i][j] = sum over rows < i, columns < j */
    double *S = calloc((size_t)(N + 1) * (M + 1), sizeof(double));
    if (!S) {
        *left = (N - ww) / 2, *top = (M - wh) / 2, *w = ww, *h = wh;
        return;
    }
    for (int i = 0; i < M; i++) {
        double row = 0;
        for (int j = 0; j < N; j++) {
            const float *q = lum->data + (size_t)i * N + j;
            double g = (j + 1 < N ? fabs(q[1] - q[0]) : 0) + (i + 1 < M ? fabs(q[N] - q[0]) : 0);
            row += g;
            S[(size_t)(i + 1) * (N + 1) + j + 1] = S[(size_t)i * (N + 1) + j + 1] + row;
        }
    }
    double best = -1;
    for (int a = 0; a <= 16; a++)
        for (int b = 0; b <= 16; b++) {
            int t = (int)((long)(M - wh) * a / 16), l = (int)((long)(N - ww) * b / 16);
            double v = S[(size_t)(t + wh) * (N + 1) + l + ww] - S[(size_t)t * (N + 1) + l + ww] -
                       S[(size_t)(t + wh) * (N + 1) + l] + S[(size_t)t * (N + 1) + l];
            if (v > best)
                best = v, *left = l, *top = t;
        }
    *w = ww, *h = wh;
    free(S);
}

deconv_status deconv_blind_window(const deconv_image *y, const deconv_blind_params *p,
                                  int *left, int *top, int *width, int *height,
                                  deconv_error *err)
{
    deconv_status st = blind_check_params(y, p, err);
    if (st != DECONV_OK)
        return st;
    deconv_image *lum = deconv_image_luminance(y);
    if (!lum)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
    blind_choose_window(lum, p, left, top, width, height);
    deconv_image_free(lum);
    return DECONV_OK;
}
