/* The camera's noise in the blind estimate (MODEL.md, "The camera"). The
 * estimate runs in linear light, where the blur is a convolution, but the
 * noise is the file's: the same in every stored value, so in linear light
 * it grows with the brightness by the slope of the decoding (sRGB: a
 * bright page's noise is several times a dark coat's). Fitted as they
 * are, the bright parts' noise drowns the dark parts' signal, and the
 * kernel follows the bright edges. So both steps fit in the file's units:
 *
 * - the image step's data term weighs each pixel by s^2, s = G' the slope
 *   of the file's curve at the pixel's light: to first order, the
 *   residual in the file's values, whose noise is even (the weights over
 *   their mean, so that the TV weight keeps its scale);
 * - the kernel step scales the gradients of y and of x by s, and selects
 *   x's edges on the scaled ones: a weighted fit that keeps its FFT normal
 *   equations, as h * (s P) = s (h * P) where s is constant across the
 *   kernel's window.
 *
 * The light is y's averaged over a box of the kernel's size (y's own noise
 * left out). Measured on bench/camera's blind cases (docs/camera.md). */
#include <stdlib.h>
#include <string.h>

#include "blind_internal.h"

/* Below this light the slope is taken at it. The file's noise is even only
 * in the recipe's photos: a sensor's read noise, even in linear light,
 * makes a real photo's darks noisier in the file's values, and a pure
 * gamma curve's slope is infinite at black. On bench/camera's 18 gray
 * blind cases, from 1e-3 up (sRGB's slope 29 times white's) the night
 * scenes' darks outweighed everything (people_05 at night: correlation
 * 0.97 to 0.19); from 0.05 up (5.6 times white's), none lost much. */
static const float DARKEST = 0.05f;

/* out = the mean of in (w x h) over a box of bw x bh centred on each pixel,
 * the box cut at the borders. Returns 0 when out of memory. */
static int box_mean(const float *in, int w, int h, int bw, int bh, float *out)
{
    double *col = malloc(sizeof(double) * (size_t)w);
    double *run = malloc(sizeof(double) * (size_t)(w + 1));
    if (!col || !run) {
        free(col), free(run);
        return 0;
    }
    const int up = (bh - 1) / 2, down = bh - 1 - up, left = (bw - 1) / 2, right = bw - 1 - left;
    for (int i = 0; i < h; i++) {
        int i0 = i - up < 0 ? 0 : i - up, i1 = i + down >= h ? h - 1 : i + down;
        memset(col, 0, sizeof(double) * (size_t)w);
        for (int a = i0; a <= i1; a++)
            for (int j = 0; j < w; j++)
                col[j] += in[(size_t)a * w + j];
        run[0] = 0;
        for (int j = 0; j < w; j++)
            run[j + 1] = run[j] + col[j];
        for (int j = 0; j < w; j++) {
            int j0 = j - left < 0 ? 0 : j - left, j1 = j + right >= w ? w - 1 : j + right;
            out[(size_t)i * w + j] =
                (float)((run[j1 + 1] - run[j0]) / ((double)(j1 - j0 + 1) * (i1 - i0 + 1)));
        }
    }
    free(col), free(run);
    return 1;
}

int blind_whiten_setup(level *l, const deconv_response *resp)
{
    const size_t ny = (size_t)l->N * l->M;
    l->wy = deconv_alloc_floats(ny);
    l->wx = deconv_alloc_floats((size_t)l->xw * l->xh);
    l->wdata = deconv_alloc_floats(ny);
    if (!l->wy || !l->wx || !l->wdata || !box_mean(l->y, l->N, l->M, l->kw, l->kh, l->wy))
        return 0;
    double mean = 0;
    for (size_t i = 0; i < ny; i++) {
        float slope, light = l->wy[i] > DARKEST ? l->wy[i] : DARKEST;
        deconv_encode1(resp, light, &slope);
        l->wy[i] = slope;
        mean += (double)slope * slope;
    }
    mean /= (double)ny;
    for (size_t i = 0; i < ny; i++)
        l->wdata[i] = (float)(l->wy[i] * l->wy[i] / mean);
    /* x's pixel under the middle of y's window */
    deconv_pad_replicate(l->wy, l->N, l->M, (l->kh - 1) / 2, l->kh - 1 - (l->kh - 1) / 2,
                         (l->kw - 1) / 2, l->kw - 1 - (l->kw - 1) / 2, l->wx);
    return 1;
}

/* Forward differences of a w x h plane (dc (w-1) x h, dr w x (h-1), as
 * blind_differences lays them out) times s (w x h) at each one's first
 * pixel. */
static void scale_differences(const float *s, int w, int h, float *dc, float *dr)
{
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            float v = s[(size_t)i * w + j];
            if (j + 1 < w)
                dc[(size_t)i * (w - 1) + j] *= v;
            if (i + 1 < h)
                dr[(size_t)i * w + j] *= v;
        }
}

void blind_whiten_y(level *l)
{
    if (l->wy)
        scale_differences(l->wy, l->N, l->M, l->dy_c, l->dy_r);
}

void blind_whiten_x(level *l)
{
    if (l->wx)
        scale_differences(l->wx, l->xw, l->xh, l->px, l->py);
}

/* For the tests (tests/test_blind.c declares it; not part of the API): a
 * level's scales, for y N x M and a kw x kh kernel: s (wy) and the image
 * step's weights (N x M), and s under x ((N + kw - 1) x (M + kh - 1)).
 * Returns 0 on success. */
int deconv_blind_test_whiten(const float *y, int N, int M, int kw, int kh,
                             const deconv_response *resp, float *wy, float *weights, float *wx);
int deconv_blind_test_whiten(const float *y, int N, int M, int kw, int kh,
                             const deconv_response *resp, float *wy, float *weights, float *wx)
{
    level l;
    if (!blind_level_alloc(&l, N, M, kw, kh))
        return -1;
    memcpy(l.y, y, (size_t)N * M * sizeof(float));
    int ok = blind_whiten_setup(&l, resp);
    if (ok) {
        memcpy(wy, l.wy, (size_t)N * M * sizeof(float));
        memcpy(weights, l.wdata, (size_t)N * M * sizeof(float));
        memcpy(wx, l.wx, (size_t)l.xw * l.xh * sizeof(float));
    }
    blind_level_free(&l);
    return ok ? 0 : -1;
}
