/* Image and kernel objects, and the plane operations every module shares:
 * padding, cropping, luminance, noise estimation and quality measures. */
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
        lum->data[i] = 0.2126f * r[i] + 0.7152f * g[i] + 0.0722f * b[i];
    return lum;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The k-th smallest of v[0..n) (Hoare's selection; v is reordered). */
static float select_k(float *v, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (lo < hi) {
        float pivot = v[lo + (hi - lo) / 2];
        ptrdiff_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                float t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        if (kk <= j)
            hi = j;
        else if (kk >= i)
            lo = i;
        else
            break;
    }
    return v[kk];
}

/* The inverse of erf on [0, 1), by bisection (a few dozen calls). */
static double erf_inverse(double p)
{
    double lo = 0, hi = 6;
    for (int it = 0; it < 60; it++) {
        double mid = 0.5 * (lo + hi);
        if (erf(mid) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* JPEG's 8 x 8 blocks, as a decoder lays them out: from the origin. */
enum { BLOCK = 8 };

/* The orthonormal 2-D DCT of the 8 x 8 blocks of a plane, the grid starting
 * at row oi, column oj, in 8-bit levels: coef[f * nb + b] = |coefficient f|
 * of block b (row-major blocks), for the frequencies (u, v) with u, v >=
 * first, f = (u - first) * (8 - first) + v - first. Returns nb. */
static size_t block_dct(const float *plane, int w, int h, int oi, int oj, int first,
                        float *coef)
{
    const int bw = (w - oj) / BLOCK, bh = (h - oi) / BLOCK, side = BLOCK - first;
    const size_t nb = (size_t)bw * bh;
    float C[BLOCK][BLOCK];
    for (int u = 0; u < BLOCK; u++)
        for (int x = 0; x < BLOCK; x++)
            C[u][x] = (float)((u ? sqrt(2.0 / BLOCK) : sqrt(1.0 / BLOCK)) *
                              cos((2 * x + 1) * u * M_PI / (2 * BLOCK)));
#pragma omp parallel for schedule(static) if ((size_t)w * h >= DECONV_PARALLEL_MIN)
    for (int bi = 0; bi < bh; bi++)
        for (int bj = 0; bj < bw; bj++) {
            float t[BLOCK][BLOCK];
            const float *p = plane + (size_t)(oi + BLOCK * bi) * w + oj + BLOCK * bj;
            for (int u = first; u < BLOCK; u++)
                for (int j = 0; j < BLOCK; j++) {
                    float s = 0;
                    for (int i = 0; i < BLOCK; i++)
                        s += C[u][i] * p[(size_t)i * w + j];
                    t[u][j] = s;
                }
            for (int u = first; u < BLOCK; u++)
                for (int v = first; v < BLOCK; v++) {
                    float s = 0;
                    for (int j = 0; j < BLOCK; j++)
                        s += C[v][j] * t[u][j];
                    coef[(size_t)((u - first) * side + v - first) * nb + (size_t)bi * bw + bj] =
                        255.0f * fabsf(s);
                }
        }
    return nb;
}

/* The noise of a plane that JPEG has quantised (sigma in 8-bit levels), or
 * 0 when it cannot tell. JPEG rounds each DCT coefficient of its 8 x 8
 * blocks to a multiple of a step q (one per frequency): a coefficient of
 * noise sigma (and little signal) becomes 0 with probability
 * p0 = erf(q / (2 sqrt(2) sigma)), so sigma = q / (2 sqrt(2) erf^-1(p0)) at
 * every frequency whose step can be read (the nonzero values gather near
 * q) and whose p0 says something (0.2 to 0.98). Frequencies where a blurry
 * photo still has signal give too large a sigma, the five lowest most of
 * all (left out); the lower quartile of the others is the estimate.
 * coef: the aligned DCT of every block, 64 x nb. */
static double jpeg_noise(float *coef, size_t nb, float *scratch)
{
    const size_t min_count = nb / 50 > 20 ? nb / 50 : 20;
    double sig[BLOCK * BLOCK];
    int ns = 0;
    for (int f = 1; f < BLOCK * BLOCK; f++) {
        if (f / BLOCK + f % BLOCK <= 2)
            continue; /* (0,1) (1,0) (1,1) (0,2) (2,0): the photo's own */
        float *c = coef + (size_t)f * nb;
        /* the step: the values above the zero class (1 level: rounding to
         * 8 bits and, in colour, the chroma spread it), their 30th
         * percentile, then the median of those within q/2 of it */
        size_t m = 0;
        for (size_t b = 0; b < nb; b++)
            if (c[b] >= 1.0f)
                scratch[m++] = c[b];
        if (m < min_count)
            continue;
        float q0 = select_k(scratch, m, (size_t)(0.3 * m));
        size_t m2 = 0;
        for (size_t b = 0; b < nb; b++)
            if (c[b] >= 1.0f && c[b] >= 0.5f * q0 && c[b] < 1.5f * q0)
                scratch[m2++] = c[b];
        float q = m2 ? select_k(scratch, m2, m2 / 2) : q0;
        if (q < 1.5f)
            continue;
        size_t zero = 0;
        for (size_t b = 0; b < nb; b++)
            zero += c[b] < 0.5f * q;
        double p0 = (double)zero / nb;
        if (p0 < 0.2 || p0 > 0.98)
            continue;
        sig[ns++] = 0.5 * q / (sqrt(2.0) * erf_inverse(p0));
    }
    if (!ns)
        return 0;
    for (int i = 1; i < ns; i++) /* insertion sort: at most 58 */
        for (int j = i; j > 0 && sig[j] < sig[j - 1]; j--) {
            double t = sig[j];
            sig[j] = sig[j - 1];
            sig[j - 1] = t;
        }
    return sig[(ns - 1) / 4];
}

/* Whether a plane was saved through JPEG (with its blocks at the origin):
 * the high frequencies (u, v >= 4) of the 8 x 8 blocks JPEG used are
 * mostly rounded to zero, while those of blocks shifted by 4 pixels, which
 * straddle the seams, are not. Uncompressed photos: 0.99 to 1.02 on the
 * camera bench; JPEG at quality 95 or less: 1.2 and up. */
static int jpeg_blocks(const float *plane, int w, int h, float *hf, size_t *nb_out)
{
    const double ratio = 1.15;
    size_t nb = block_dct(plane, w, h, 0, 0, 4, hf);
    double aligned = select_k(hf, 16 * nb, 8 * nb);
    size_t ns = block_dct(plane, w, h, 4, 4, 4, hf);
    double shifted = select_k(hf, 16 * ns, 8 * ns);
    *nb_out = nb;
    return shifted > ratio * aligned;
}

double deconv_estimate_noise(const float *plane, int w, int h)
{
    /* Donoho's estimator: the finest diagonal Haar coefficients of a natural
     * image are mostly noise, and their median is robust to the edges. */
    int bw = w / 2, bh = h / 2;
    if (bw < 1 || bh < 1)
        return 0.0;
    size_t n = (size_t)bw * bh;
    float *d = malloc(n * sizeof(float));
    if (!d)
        return 0.0;
    for (int i = 0; i < bh; i++)
        for (int j = 0; j < bw; j++) {
            const float *p = plane + (size_t)(2 * i) * w + 2 * j;
            d[(size_t)i * bw + j] = fabsf(0.5f * (p[0] - p[1] - p[w] + p[w + 1]));
        }
    qsort(d, n, sizeof(float), cmp_float);
    double med = n % 2 ? d[n / 2] : 0.5 * (d[n / 2 - 1] + d[n / 2]);
    free(d);
    double sigma = med / 0.6745;

    /* JPEG rounds those coefficients to zero where the photo is smooth (a
     * night JPEG reads 0): from 64 blocks up, a plane saved through JPEG is
     * estimated from the quantised DCT as well, and the larger of the two
     * kept. Any other plane keeps the estimate above, to the bit. */
    if ((size_t)(w / BLOCK - 1) * (h / BLOCK - 1) < 64)
        return sigma;
    size_t nb_all = (size_t)(w / BLOCK) * (h / BLOCK);
    float *coef = malloc(BLOCK * BLOCK * nb_all * sizeof(float));
    float *scratch = malloc(nb_all * sizeof(float));
    size_t nb = 0;
    if (coef && scratch && jpeg_blocks(plane, w, h, coef, &nb)) {
        block_dct(plane, w, h, 0, 0, 0, coef);
        double s = jpeg_noise(coef, nb, scratch) / 255.0;
        sigma = s > sigma ? s : sigma;
    }
    free(coef);
    free(scratch);
    return sigma;
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
