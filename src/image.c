/* Image and kernel objects, and the plane operations every module shares:
 * padding, cropping, luminance and quality measures (the noise estimate:
 * noise.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

deconv_image *deconv_image_new(int width, int height, int channels)
{
    if (width <= 0 || height <= 0 || channels <= 0 || channels > 4)
        return NULL;
    size_t n = (size_t)width * (size_t)height;
    if (n > SIZE_MAX / 16 / (size_t)channels)
        return NULL;
    deconv_image *im = malloc(sizeof *im);
    if (!im)
        return NULL;
    im->width = width;
    im->height = height;
    im->channels = channels;
    im->data = deconv_alloc_floats(n * (size_t)channels);
    if (!im->data) {
        free(im);
        return NULL;
    }
    memset(im->data, 0, n * (size_t)channels * sizeof(float));
    return im;
}

deconv_image *deconv_image_clone(const deconv_image *im)
{
    deconv_image *c = deconv_image_new(im->width, im->height, im->channels);
    if (c)
        memcpy(c->data, im->data,
               (size_t)im->width * im->height * im->channels * sizeof(float));
    return c;
}

void deconv_image_free(deconv_image *im)
{
    if (!im)
        return;
    deconv_free_floats(im->data);
    free(im);
}

float *deconv_image_plane(const deconv_image *im, int c)
{
    return im->data + (size_t)c * im->width * im->height;
}

int deconv_color_channels(int channels) { return channels == 2 || channels == 4 ? channels - 1 : channels; }

void deconv_pad_replicate(const float *in, int w, int h, int pt, int pb, int pl, int pr,
                          float *out)
{
    int ow = w + pl + pr, oh = h + pt + pb;
#pragma omp parallel for schedule(static) if ((size_t)ow * oh >= DECONV_PARALLEL_MIN)
    for (int i = 0; i < oh; i++) {
        int si = i - pt < 0 ? 0 : (i - pt >= h ? h - 1 : i - pt);
        const float *src = in + (size_t)si * w;
        float *dst = out + (size_t)i * ow;
        for (int j = 0; j < pl; j++)
            dst[j] = src[0];
        memcpy(dst + pl, src, (size_t)w * sizeof(float));
        for (int j = 0; j < pr; j++)
            dst[pl + w + j] = src[w - 1];
    }
}

void deconv_crop(const float *in, int w, int top, int left, int ow, int oh, float *out)
{
    for (int i = 0; i < oh; i++)
        memcpy(out + (size_t)i * ow, in + (size_t)(top + i) * w + left, (size_t)ow * sizeof(float));
}

deconv_image *deconv_crop_to_input(const deconv_image *x, int kw, int kh)
{
    int ow = x->width - kw + 1, oh = x->height - kh + 1;
    deconv_image *out = deconv_image_new(ow, oh, x->channels);
    if (!out)
        return NULL;
    /* The frame of y inside x: MODEL.md's x[i + kh-1-a] puts y's pixel
     * (0,0) under kernel tap (kh-1)/2 at x's ((kh-1)/2 + ... ); the centre
     * window starts at the kernel's centre offset. */
    int top = (kh - 1) / 2, left = (kw - 1) / 2;
    for (int c = 0; c < x->channels; c++)
        deconv_crop(deconv_image_plane(x, c), x->width, top, left, ow, oh,
                    deconv_image_plane(out, c));
    return out;
}

const float deconv_luminance_weight[3] = {0.2126f, 0.7152f, 0.0722f};

deconv_image *deconv_image_luminance(const deconv_image *im)
{
    deconv_image *lum = deconv_image_new(im->width, im->height, 1);
    if (!lum)
        return NULL;
    size_t n = (size_t)im->width * im->height;
    if (deconv_color_channels(im->channels) == 1) {
        memcpy(lum->data, im->data, n * sizeof(float));
        return lum;
    }
    const float *r = deconv_image_plane(im, 0), *g = deconv_image_plane(im, 1),
                *b = deconv_image_plane(im, 2);
    for (size_t i = 0; i < n; i++)
        lum->data[i] = deconv_luminance_weight[0] * r[i] + deconv_luminance_weight[1] * g[i] +
                       deconv_luminance_weight[2] * b[i];
    return lum;
}

double deconv_psnr(const deconv_image *a, const deconv_image *b)
{
    size_t n = (size_t)a->width * a->height * a->channels;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)a->data[i] - b->data[i];
        s += e * e;
    }
    double mse = s / (double)n;
    return mse > 0 ? 10.0 * log10(1.0 / mse) : INFINITY;
}

/* Separable Gaussian blur (sigma 1.5, radius 5) with edge replication, the
 * window of Wang et al.'s SSIM. */
static void ssim_blur(const float *in, int w, int h, float *tmp, float *out)
{
    enum { R = 5 };
    float g[2 * R + 1], s = 0;
    for (int k = -R; k <= R; k++)
        s += g[k + R] = expf(-(float)(k * k) / (2 * 1.5f * 1.5f));
    for (int k = 0; k <= 2 * R; k++)
        g[k] /= s;
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            float acc = 0;
            for (int k = -R; k <= R; k++) {
                int jj = j + k < 0 ? 0 : (j + k >= w ? w - 1 : j + k);
                acc += g[k + R] * in[(size_t)i * w + jj];
            }
            tmp[(size_t)i * w + j] = acc;
        }
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            float acc = 0;
            for (int k = -R; k <= R; k++) {
                int ii = i + k < 0 ? 0 : (i + k >= h ? h - 1 : i + k);
                acc += g[k + R] * tmp[(size_t)ii * w + j];
            }
            out[(size_t)i * w + j] = acc;
        }
}

double deconv_ssim(const deconv_image *a, const deconv_image *b)
{
    int w = a->width, h = a->height;
    size_t n = (size_t)w * h;
    float *buf = malloc(8 * n * sizeof(float));
    if (!buf)
        return NAN;
    float *xy = buf, *xx = buf + n, *yy = buf + 2 * n, *mx = buf + 3 * n, *my = buf + 4 * n,
          *sxx = buf + 5 * n, *tmp = buf + 6 * n, *t2 = buf + 7 * n;
    const double c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
    double total = 0;
    for (int c = 0; c < a->channels; c++) {
        const float *pa = deconv_image_plane(a, c), *pb = deconv_image_plane(b, c);
        for (size_t i = 0; i < n; i++) {
            xy[i] = pa[i] * pb[i];
            xx[i] = pa[i] * pa[i];
            yy[i] = pb[i] * pb[i];
        }
        ssim_blur(pa, w, h, tmp, mx);
        ssim_blur(pb, w, h, tmp, my);
        ssim_blur(xx, w, h, tmp, sxx);
        ssim_blur(yy, w, h, tmp, t2);
        memcpy(xx, t2, n * sizeof(float));
        ssim_blur(xy, w, h, tmp, t2);
        double s = 0;
        for (size_t i = 0; i < n; i++) {
            double ux = mx[i], uy = my[i];
            double vx = sxx[i] - ux * ux, vy = xx[i] - uy * uy, cv = t2[i] - ux * uy;
            s += ((2 * ux * uy + c1) * (2 * cv + c2)) /
                 ((ux * ux + uy * uy + c1) * (vx + vy + c2));
        }
        total += s / (double)n;
    }
    free(buf);
    return total / a->channels;
}
