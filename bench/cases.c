/* What the synthetic benchmarks made from the shared photos need
 * (cases.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cases.h"
#include "internal.h" /* deconv_resize */
#include "measure.h"

const char *const bench_photo_files[BENCH_PHOTOS] = {
    "photos/astronaut.png", "photos/coffee.png",   "sharp/manmade_03.png",
    "sharp/manmade_05.png", "sharp/natural_04.png", "sharp/people_05.png",
    "sharp/text_01.png",    "sharp/text_02.png",   "sharp/text_04.png",
    "photos/camera.png",
};

const char *bench_photo_name(int i)
{
    const char *slash = strrchr(bench_photo_files[i], '/');
    return slash ? slash + 1 : bench_photo_files[i];
}

deconv_image *bench_read_photo(const char *data, int i, double scale, int gray,
                               deconv_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", data, bench_photo_files[i]);
    deconv_image *photo = deconv_image_read(path, 0, NULL, err);
    if (!photo)
        return NULL;
    if (scale > 0 && scale < 1) {
        int w2 = (int)lround(photo->width * scale), h2 = (int)lround(photo->height * scale);
        deconv_image *small = deconv_image_new(w2, h2, photo->channels);
        for (int c = 0; c < photo->channels; c++)
            deconv_resize(deconv_image_plane(photo, c), photo->width, photo->height,
                          deconv_image_plane(small, c), w2, h2);
        deconv_image_free(photo);
        photo = small;
    }
    if (gray || photo->channels < 3) {
        deconv_image *l = deconv_image_luminance(photo);
        deconv_image_free(photo);
        photo = l;
    } else if (photo->channels == 4) { /* drop alpha */
        deconv_image *rgb = deconv_image_new(photo->width, photo->height, 3);
        memcpy(rgb->data, photo->data, sizeof(float) * 3 * photo->width * photo->height);
        deconv_image_free(photo);
        photo = rgb;
    }
    return photo;
}

deconv_image *bench_middle_square(const deconv_image *photo, int shorter, int side)
{
    const int least = photo->width < photo->height ? photo->width : photo->height;
    const double s = (double)shorter / least;
    const int w = (int)lround(photo->width * s), h = (int)lround(photo->height * s);
    deconv_image *big = deconv_image_new(w, h, 1), *x = deconv_image_new(side, side, 1);
    if (!big || !x || deconv_resize(photo->data, photo->width, photo->height, big->data, w, h)) {
        deconv_image_free(big), deconv_image_free(x);
        return NULL;
    }
    deconv_crop(big->data, w, (h - side) / 2, (w - side) / 2, side, side, x->data);
    deconv_image_free(big);
    return x;
}

uint64_t bench_rng_state = 88172645463325252ull;

/* splitmix64 of the seed and the case number */
uint64_t bench_case_state(uint64_t seed, int i)
{
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + (uint64_t)(i + 1) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z ? z : 88172645463325252ull;
}

double bench_uniform(void)
{
    uint64_t s = bench_rng_state;
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    bench_rng_state = s;
    return ((s >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double bench_gaussian(void)
{
    double u = bench_uniform(), v = bench_uniform();
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* The path (px, py, n points) scaled to span k - 3 pixels, centred, and
 * splatted bilinearly into a k x k kernel, each point weighted by w (or 1),
 * normalised to sum 1. */
static deconv_kernel *splat_path(const double *px, const double *py, const double *w, int n,
                                 int k)
{
    deconv_kernel *ker = deconv_kernel_new(k, k);
    if (!ker)
        return NULL;
    double x0 = 1e30, x1 = -1e30, y0 = 1e30, y1 = -1e30;
    for (int t = 0; t < n; t++) {
        x0 = fmin(x0, px[t]), x1 = fmax(x1, px[t]), y0 = fmin(y0, py[t]), y1 = fmax(y1, py[t]);
    }
    double span = fmax(x1 - x0, y1 - y0), scale = (k - 3) / (span > 0 ? span : 1);
    double cx = 0.5 * (x0 + x1), cy = 0.5 * (y0 + y1);
    for (int t = 0; t < n; t++) {
        double u = (px[t] - cx) * scale + 0.5 * (k - 1), v = (py[t] - cy) * scale + 0.5 * (k - 1);
        int i = (int)floor(v), j = (int)floor(u);
        double fv = v - i, fu = u - j, wt = w ? w[t] : 1;
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++) {
                int ii = i + a, jj = j + b;
                if (ii >= 0 && ii < k && jj >= 0 && jj < k)
                    ker->data[ii * k + jj] += (float)(wt * (a ? fv : 1 - fv) * (b ? fu : 1 - fu));
            }
    }
    deconv_kernel_normalize(ker, NULL);
    return ker;
}

deconv_kernel *bench_shake_kernel(int k)
{
    enum { STEPS = 2000 };
    double *px = malloc(2 * STEPS * sizeof(double)), *py = px + STEPS;
    if (!px)
        return NULL;
    double vx = bench_gaussian(), vy = bench_gaussian(), x = 0, y = 0;
    for (int t = 0; t < STEPS; t++) {
        vx += 0.08 * bench_gaussian() - 0.002 * x, vy += 0.08 * bench_gaussian() - 0.002 * y;
        x += vx * 0.05, y += vy * 0.05;
        px[t] = x, py[t] = y;
    }
    deconv_kernel *ker = splat_path(px, py, NULL, STEPS, k);
    free(px);
    return ker;
}

deconv_kernel *bench_path_kernel(int k)
{
    enum { STEPS = 2000 };
    double *px = malloc(3 * STEPS * sizeof(double)), *py = px + STEPS, *w = py + STEPS;
    if (!px)
        return NULL;
    /* each path its own hand: how much it wanders, how hard it is pulled
     * back, how often it jerks */
    const double wander = 0.05 + 0.25 * bench_uniform(), pull = 0.7 * bench_uniform();
    const double jerks = 0.004 * bench_uniform();
    double angle = 2 * M_PI * bench_uniform(), turn = 0, speed = 0;
    double x = 0, y = 0;
    for (int t = 0; t < STEPS; t++) {
        px[t] = x, py[t] = y;
        /* the hand slows and speeds up smoothly: a point's exposure is the
         * time spent there, so the slow parts are the bright ones */
        speed = 0.995 * speed + 0.1 * bench_gaussian();
        const double v = exp(0.5 * speed);
        w[t] = 1 / v;
        /* the heading turns smoothly, towards the start when far from it */
        turn = 0.98 * turn + wander * 0.1 * bench_gaussian();
        const double r = hypot(x, y);
        if (r > 0) {
            double home = atan2(-y, -x) - angle;
            home = atan2(sin(home), cos(home));
            turn += pull * 0.002 * r * home / (1 + r);
        }
        if (bench_uniform() < jerks)
            angle += M_PI + (bench_uniform() - 0.5);
        angle += turn * 0.05;
        x += v * cos(angle), y += v * sin(angle);
    }
    deconv_kernel *ker = splat_path(px, py, w, STEPS, k);
    free(px);
    return ker;
}

deconv_kernel *bench_levin_kernel(const char *data, int index)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/levin/kernels/kern%02d.csv", data, index + 1);
    return deconv_kernel_load(path, 1, NULL);
}

void bench_kernel_name(char *name, size_t n, int levin_index, int size)
{
    if (levin_index >= 0)
        snprintf(name, n, "levin%d", levin_index + 1);
    else if (levin_index == BENCH_PATH)
        snprintf(name, n, "path%d", size);
    else
        snprintf(name, n, "shake%d", size);
}

int bench_given_size(double factor, int size)
{
    if (factor == 1)
        return size;
    return factor > 0 ? 2 * (int)lround(factor * size / 2) + 1 : 0;
}

deconv_image *bench_window(const deconv_image *x, int kw, int kh)
{
    const int N = x->width - kw + 1, M = x->height - kh + 1;
    deconv_image *w = deconv_image_new(N, M, x->channels);
    if (!w)
        return NULL;
    for (int c = 0; c < x->channels; c++)
        deconv_crop(deconv_image_plane(x, c), x->width, (kh - 1) / 2, (kw - 1) / 2, N, M,
                    deconv_image_plane(w, c));
    return w;
}

double bench_psnr_clipped(const deconv_image *ref, const deconv_image *x)
{
    double se = 0;
    size_t n = (size_t)ref->width * ref->height * ref->channels;
    for (size_t i = 0; i < n; i++) {
        double v = x->data[i] < 0 ? 0 : (x->data[i] > 1 ? 1 : x->data[i]);
        se += (v - ref->data[i]) * (v - ref->data[i]);
    }
    return 10 * log10(n / (se > 1e-20 ? se : 1e-20));
}

double bench_psnr_shifted(const deconv_image *ref, const deconv_image *x, int shift, int border)
{
    const int w = ref->width, h = ref->height;
    const size_t n = (size_t)w * h;
    float *r = malloc(n * sizeof(float));
    if (!r)
        return -1;
    double ssd = 0;
    for (int c = 0; c < ref->channels; c++) {
        const float *xc = deconv_image_plane(x, c);
        for (size_t i = 0; i < n; i++)
            r[i] = xc[i] < 0 ? 0 : (xc[i] > 1 ? 1 : xc[i]);
        ssd += bench_best_ssd(r, deconv_image_plane(ref, c), w, h, shift, border);
    }
    free(r);
    double count = (double)ref->channels * (w - 2 * border) * (h - 2 * border);
    return 10 * log10(count / (ssd > 1e-20 ? ssd : 1e-20));
}

void bench_save_case(const char *dir, int index, const deconv_image *ref, const deconv_image *y,
                     const deconv_kernel *k)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/case%02d-sharp.png", dir, index);
    deconv_image_write_png(ref, path, 8, NULL);
    snprintf(path, sizeof path, "%s/case%02d-blurry.png", dir, index);
    deconv_image_write_png(y, path, 8, NULL);
    snprintf(path, sizeof path, "%s/case%02d-kernel.csv", dir, index);
    deconv_kernel_save(k, path, NULL);
}

int bench_blind_flag(const char *flag, const char *v, deconv_blind_params *p)
{
    if (!strcmp(flag, "--iterations")) p->iterations = atoi(v);
    else if (!strcmp(flag, "--kernel-iterations")) p->kernel_iterations = atoi(v);
    else if (!strcmp(flag, "--image-iterations")) p->image_iterations = atoi(v);
    else if (!strcmp(flag, "--tv")) p->tv = atof(v);
    else if (!strcmp(flag, "--tv-final")) p->tv_final = atof(v);
    else if (!strcmp(flag, "--levels")) p->levels = atoi(v);
    else if (!strcmp(flag, "--kernel-reg")) p->kernel_reg = atof(v);
    else if (!strcmp(flag, "--kernel-smooth")) p->kernel_smooth = atof(v);
    else if (!strcmp(flag, "--sparse-prior")) p->sparse_prior = atoi(v);
    else if (!strcmp(flag, "--refine")) p->refine = atoi(v);
    else if (!strcmp(flag, "--refine-lambda")) p->refine_lambda = atof(v);
    else if (!strcmp(flag, "--piece-fraction")) p->piece_fraction = atof(v);
    else if (!strcmp(flag, "--starts")) p->starts = atoi(v);
    else return 0;
    return 1;
}
