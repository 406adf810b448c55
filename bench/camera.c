/* Photographs as cameras make them (issue 13): cases made by the recipe of
 * MODEL.md's "The camera", restored with the true kernel under the
 * camera's model and under the linear one.
 *
 * Each case: a sharp sRGB photo of the shared data decoded to linear light
 * and exposed (a scene kind), blurred by a kernel (valid convolution),
 * clipped at white, encoded to sRGB, Gaussian noise added, rounded to 8
 * bits. The reference is the sharp scene encoded and clipped to 1, on the
 * window of the blurry photo. Scene kinds:
 *   day     the photo as it is (gain 1);
 *   bright  the exposure raised until BRIGHT_CLIPPED of the blurry frame
 *           is clipped;
 *   night   the photo at 1/8 of its light plus g l^4 (its highlights
 *           become lamps, windows and sky brighter than white), g raised
 *           until NIGHT_CLIPPED of the blurry frame is clipped, and small
 *           lights of 2 to 30 times white at random places.
 * Kernels: the eight of Levin et al. (13 to 27 pixels; read from the
 * shared data) and camera-shake trajectories made here (a random walk of
 * the velocity, drawn anti-aliased), 19 to 31 pixels, and one of 75.
 *
 * For every case it prints the clipped fraction, the PSNR of the blurry
 * photo and of deconv_deblur's restoration with the true kernel and the
 * defaults under --response linear and srgb, and the seconds. The summary
 * gives, per scene kind, the mean gain over the blurry photo and the
 * worst case.
 *
 * With --blind, the kernel is estimated instead (deconv_blind_kernel with
 * the true kernel size, under each model), and each column gives the
 * estimate's kernel correlation with the true kernel (best shift) and the
 * PSNR of the restoration with it (deconv blind's settings).
 *
 * Tuning (docs/tuning-camera.md): --tv-factors F1,F2,... restores each
 * case once per factor, with F times the automatic TV weight (the one
 * deconv_deblur picks for the model), one PSNR column per factor, and the
 * summary adds the mean gain per factor and the oracle (each case's best
 * factor); --tv L restores with the fixed weight L instead. --jpeg Q passes
 * the blurry photo through JPEG compression at quality Q (libjpeg, 4:2:0
 * for colour, as cameras save) and reads it back; with --png-base the
 * factors multiply the automatic weight of the photo before compression
 * (the weight had JPEG not touched the noise). --noise-list restores
 * nothing: per case, the true noise, deconv_deblur's estimate (the mean
 * of deconv_estimate_noise over the colour channels) and their ratio.
 * --first N starts at case N (the draws differ from those of a run that
 * starts at 0: the random generator is not advanced over the cases left
 * out).
 *
 *   camera [--data DIR] [--cases N] [--first N] [--seed N] [--threads N] [--gray]
 *          [--iterations N] [--only linear|srgb] [--save DIR] [--blind]
 *          [--starts N] [--scale S] (photos resized by S first)
 *          [--size-factor F] (--blind: the kernel size given is F times the
 *          true one, odd) [--auto-size] (--blind: no kernel size given)
 *          [--tv-factors F,...] [--tv L] [--jpeg Q] [--png-base] [--noise-list]
 *
 * DIR defaults to ../shared/data beside the source tree. --save writes
 * each case's sharp and blurry PNG and kernel CSV (to look at, or to run
 * the command line on). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jpeglib.h>

#include "deconv.h"
#include "internal.h" /* deconv_resize */
#include "measure.h"

#ifndef DECONV_SOURCE_DIR
#define DECONV_SOURCE_DIR "."
#endif

enum { SCENE_DAY, SCENE_BRIGHT, SCENE_NIGHT, SCENES };
static const char *const scene_names[SCENES] = {"day", "bright", "night"};
static const double BRIGHT_CLIPPED = 0.15, NIGHT_CLIPPED = 0.2;

static const char *const photo_files[] = {
    "photos/astronaut.png", "photos/coffee.png",   "sharp/manmade_03.png",
    "sharp/manmade_05.png", "sharp/natural_04.png", "sharp/people_05.png",
    "sharp/text_01.png",    "sharp/text_02.png",   "sharp/text_04.png",
    "photos/camera.png",
};
enum { PHOTOS = sizeof photo_files / sizeof photo_files[0] };

/* xorshift64 and Box-Muller: the same cases on every machine. */
static uint64_t rng_state = 88172645463325252ull;
static double uniform(void)
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return ((rng_state >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static double gaussian(void) { return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform()); }

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* A camera-shake trajectory in a k x k kernel: the velocity does a random
 * walk (a hand's shake is smooth), the path is scaled to span the kernel
 * and splatted bilinearly, a little heavier where it moves slowly. */
static deconv_kernel *shake_kernel(int k)
{
    deconv_kernel *ker = deconv_kernel_new(k, k);
    if (!ker)
        return NULL;
    enum { STEPS = 2000 };
    static double px[STEPS], py[STEPS];
    double vx = gaussian(), vy = gaussian(), x = 0, y = 0;
    for (int t = 0; t < STEPS; t++) {
        vx += 0.08 * gaussian() - 0.002 * x, vy += 0.08 * gaussian() - 0.002 * y;
        x += vx * 0.05, y += vy * 0.05;
        px[t] = x, py[t] = y;
    }
    double x0 = 1e30, x1 = -1e30, y0 = 1e30, y1 = -1e30;
    for (int t = 0; t < STEPS; t++) {
        x0 = fmin(x0, px[t]), x1 = fmax(x1, px[t]), y0 = fmin(y0, py[t]), y1 = fmax(y1, py[t]);
    }
    double span = fmax(x1 - x0, y1 - y0), scale = (k - 3) / (span > 0 ? span : 1);
    double cx = 0.5 * (x0 + x1), cy = 0.5 * (y0 + y1);
    for (int t = 0; t < STEPS; t++) {
        double u = (px[t] - cx) * scale + 0.5 * (k - 1), v = (py[t] - cy) * scale + 0.5 * (k - 1);
        int i = (int)floor(v), j = (int)floor(u);
        double fv = v - i, fu = u - j;
        for (int a = 0; a < 2; a++)
            for (int b = 0; b < 2; b++) {
                int ii = i + a, jj = j + b;
                if (ii >= 0 && ii < k && jj >= 0 && jj < k)
                    ker->data[ii * k + jj] += (float)((a ? fv : 1 - fv) * (b ? fu : 1 - fu));
            }
    }
    deconv_kernel_normalize(ker, NULL);
    return ker;
}

typedef struct {
    int photo, scene, kernel_kind; /* kernel_kind: 0..7 Levin, 8 shake */
    int ksize;
    double noise;
} case_spec;

/* The scene's linear light (planar, channels of im) for one case. */
static void expose(deconv_image *light, int scene, double gain)
{
    const size_t n = (size_t)light->width * light->height;
    for (int c = 0; c < light->channels; c++)
        for (size_t i = 0; i < n; i++) {
            float *l = light->data + c * n + i;
            *l = scene == SCENE_NIGHT ? 0.125f * *l + (float)gain * *l * *l * *l * *l
                                      : *l * (float)gain;
        }
    if (scene != SCENE_NIGHT)
        return;
    /* lights: small disks of 2 to 30 times white, one per 4000 pixels */
    int count = (int)(n / 4000) + 5;
    for (int l = 0; l < count; l++) {
        double ci = uniform() * light->height, cj = uniform() * light->width;
        double r = 0.7 + 2.3 * uniform(), level = 2 + 28 * uniform() * uniform();
        double tint[3] = {1, 0.7 + 0.3 * uniform(), 0.4 + 0.6 * uniform()};
        for (int i = (int)(ci - r - 1); i <= (int)(ci + r + 1); i++)
            for (int j = (int)(cj - r - 1); j <= (int)(cj + r + 1); j++) {
                if (i < 0 || j < 0 || i >= light->height || j >= light->width)
                    continue;
                double d = hypot(i - ci, j - cj), cover = fmin(1, fmax(0, r + 0.5 - d));
                for (int c = 0; c < light->channels && c < 3; c++) {
                    float *p = light->data + c * n + (size_t)i * light->width + j;
                    *p = (float)((1 - cover) * *p + cover * level * tint[light->channels == 1 ? 0 : c]);
                }
            }
    }
}

/* y = G(min(h * light, 1)) + noise, rounded to 8 bits; returns the
 * clipped fraction of y's samples. */
static double camera(const deconv_image *light, const deconv_kernel *k, double noise,
                     const deconv_response *srgb, deconv_image *y)
{
    const size_t ny = (size_t)y->width * y->height;
    size_t clipped = 0;
    for (int c = 0; c < y->channels; c++) {
        float *yc = deconv_image_plane(y, c);
        deconv_conv_valid(deconv_image_plane(light, c), light->width, light->height, k->data,
                          k->width, k->height, yc);
        for (size_t i = 0; i < ny; i++)
            if (yc[i] >= 1.0f)
                yc[i] = 1.0f, clipped++;
        deconv_response_encode(srgb, yc, yc, ny);
        for (size_t i = 0; i < ny; i++) {
            double v = yc[i] + noise * gaussian();
            v = v < 0 ? 0 : (v > 1 ? 1 : v);
            yc[i] = (float)(lround(v * 255) / 255.0);
        }
    }
    return (double)clipped / (ny * y->channels);
}

static double psnr_clipped(const deconv_image *ref, const deconv_image *x)
{
    double se = 0;
    size_t n = (size_t)ref->width * ref->height * ref->channels;
    for (size_t i = 0; i < n; i++) {
        double v = x->data[i] < 0 ? 0 : (x->data[i] > 1 ? 1 : x->data[i]);
        se += (v - ref->data[i]) * (v - ref->data[i]);
    }
    return 10 * log10(n / (se > 1e-20 ? se : 1e-20));
}

/* PSNR at the best integer shift within `shift` pixels (an estimated
 * kernel may be off centre by a pixel, which moves the restoration), the
 * `border` pixels at each side left out, values clipped to [0, 1]. */
static double psnr_shifted(const deconv_image *ref, const deconv_image *x, int shift, int border)
{
    const int w = ref->width, h = ref->height;
    const size_t n = (size_t)w * h;
    float *r = malloc(n * sizeof(float));
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

static deconv_kernel *levin_kernel(const char *data, int index)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/levin/kernels/kern%02d.csv", data, index + 1);
    return deconv_kernel_load(path, 1, NULL);
}

/* y through JPEG at the given quality and back, in memory (libjpeg's
 * defaults: 4:2:0 chroma for colour, as cameras and editors save). */
static int jpeg_roundtrip(deconv_image *y, int quality)
{
    const int w = y->width, h = y->height, ch = y->channels;
    const size_t n = (size_t)w * h;
    unsigned char *pix = malloc(n * ch), *buf = NULL;
    unsigned long size = 0;
    if (!pix)
        return 0;
    for (int c = 0; c < ch; c++)
        for (size_t i = 0; i < n; i++) {
            float v = y->data[c * n + i];
            pix[i * ch + c] = (unsigned char)lroundf(255 * (v < 0 ? 0 : (v > 1 ? 1 : v)));
        }
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &buf, &size);
    cinfo.image_width = w, cinfo.image_height = h, cinfo.input_components = ch;
    cinfo.in_color_space = ch == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = pix + (size_t)cinfo.next_scanline * w * ch;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);

    struct jpeg_decompress_struct dinfo;
    dinfo.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&dinfo);
    jpeg_mem_src(&dinfo, buf, size);
    jpeg_read_header(&dinfo, TRUE);
    jpeg_start_decompress(&dinfo);
    while (dinfo.output_scanline < dinfo.output_height) {
        JSAMPROW row = pix + (size_t)dinfo.output_scanline * w * ch;
        jpeg_read_scanlines(&dinfo, &row, 1);
    }
    jpeg_finish_decompress(&dinfo);
    jpeg_destroy_decompress(&dinfo);
    free(buf);
    for (int c = 0; c < ch; c++)
        for (size_t i = 0; i < n; i++)
            y->data[c * n + i] = pix[i * ch + c] / 255.0f;
    free(pix);
    return 1;
}

/* The automatic TV weight and noise estimate deconv_deblur picks for y
 * under p (a run of no iterations). */
static double automatic_weight(const deconv_image *y, const deconv_kernel *k,
                               const deconv_deblur_params *p, double *noise)
{
    deconv_deblur_params q = *p;
    deconv_report rep;
    q.iterations = 0;
    q.tv = -1;
    deconv_image *x = deconv_deblur(y, k, &q, &rep, NULL);
    int ok = x != NULL;
    deconv_image_free(x);
    if (noise)
        *noise = ok ? rep.noise : -1;
    return ok ? rep.tv : -1;
}

static void save_case(const char *dir, int index, const deconv_image *ref, const deconv_image *y,
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

int main(int argc, char **argv)
{
    const char *data = DECONV_SOURCE_DIR "/../shared/data", *only = NULL, *save = NULL;
    int cases = 12, first = 0, threads = 0, gray = 0, iterations = 0, blind = 0, starts = 0;
    double size_factor = 1; /* --blind: the kernel size given, over the true one; 0: none */
    double scale = 1, fixed_tv = -1;
    int jpeg = 0, noise_list = 0, nfactors = 0, png_base = 0;
    enum { MAX_FACTORS = 16 };
    double factors[MAX_FACTORS];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--cases") && i + 1 < argc) cases = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--first") && i + 1 < argc) first = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) rng_state ^= strtoull(argv[++i], NULL, 10) * 0x9E3779B97F4A7C15ull;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iterations") && i + 1 < argc) iterations = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--save") && i + 1 < argc) save = argv[++i];
        else if (!strcmp(argv[i], "--gray")) gray = 1;
        else if (!strcmp(argv[i], "--blind")) blind = 1;
        else if (!strcmp(argv[i], "--size-factor") && i + 1 < argc) size_factor = atof(argv[++i]);
        else if (!strcmp(argv[i], "--auto-size")) size_factor = 0;
        else if (!strcmp(argv[i], "--starts") && i + 1 < argc) starts = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--scale") && i + 1 < argc) scale = atof(argv[++i]);
        else if (!strcmp(argv[i], "--tv") && i + 1 < argc) fixed_tv = atof(argv[++i]);
        else if (!strcmp(argv[i], "--jpeg") && i + 1 < argc) jpeg = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--noise-list")) noise_list = 1;
        else if (!strcmp(argv[i], "--png-base")) png_base = 1;
        else if (!strcmp(argv[i], "--tv-factors") && i + 1 < argc) {
            char *s = argv[++i], *end;
            for (nfactors = 0; nfactors < MAX_FACTORS && *s; nfactors++) {
                factors[nfactors] = strtod(s, &end);
                if (end == s || !(factors[nfactors] > 0))
                    break;
                s = *end == ',' ? end + 1 : end;
            }
            if (*s) {
                fprintf(stderr, "camera: --tv-factors wants up to %d positive numbers, "
                                "comma-separated\n", MAX_FACTORS);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: camera [--data DIR] [--cases N] [--first N] [--seed N] "
                            "[--threads N] [--gray] [--iterations N] [--only linear|srgb] "
                            "[--save DIR] "
                            "[--blind] [--size-factor F] [--auto-size] [--starts N] [--scale S] [--tv-factors F,...] [--tv L] "
                            "[--jpeg Q] [--png-base] [--noise-list]\n");
            return 2;
        }
    }
    deconv_response srgb, models[2];
    deconv_response_srgb(&srgb);
    deconv_response_linear(&models[0]);
    deconv_response_srgb(&models[1]);
    const char *model_names[2] = {"linear", "srgb"};
    static const double noises[3] = {0.005, 0.01, 0.02};
    static const int shake_sizes[5] = {19, 23, 27, 31, 75};

    /* the restorations of each case under each model: one per factor */
    const int runs = nfactors > 0 ? nfactors : 1;
    if (noise_list)
        printf("%-4s %-22s %-6s %-9s %5s %6s %7s %8s %6s %9s\n", "case", "photo", "scene",
               "kernel", "noise", "clip%", "blurry", "estimate", "ratio", "tv(srgb)");
    else if (nfactors > 0) {
        printf("%-4s %-22s %-6s %-9s %5s %6s %7s %8s", "case", "photo", "scene", "kernel", "noise",
               "clip%", "blurry", "estimate");
        for (int m = 0; m < 2; m++)
            if (!only || !strcmp(only, model_names[m])) {
                printf(" %9s", m ? "tv(srgb)" : "tv(lin)");
                for (int f = 0; f < nfactors; f++) {
                    char head[32];
                    snprintf(head, sizeof head, "%c%g", m ? 's' : 'l', factors[f]);
                    printf(" %7s", head);
                }
            }
        printf(" %7s\n", "sec");
    } else
        printf("%-4s %-22s %-6s %-9s %5s %6s %7s %8s %8s %7s\n", "case", "photo", "scene",
               "kernel", "noise", "clip%", "blurry", "linear", "srgb", "sec");
    double gain[2][MAX_FACTORS][SCENES] = {{{0}}}, worst[2][MAX_FACTORS][SCENES];
    double oracle[2][SCENES] = {{0}}, oracle_worst[2][SCENES];
    double ratio_sum[SCENES][3] = {{0}}, ratio_min[SCENES][3], ratio_max[SCENES][3];
    int count[SCENES] = {0}, ratio_count[SCENES][3] = {{0}};
    for (int m = 0; m < 2; m++)
        for (int s = 0; s < SCENES; s++) {
            oracle_worst[m][s] = 1e9;
            for (int f = 0; f < MAX_FACTORS; f++)
                worst[m][f][s] = 1e9;
        }
    for (int s = 0; s < SCENES; s++)
        for (int l = 0; l < 3; l++)
            ratio_min[s][l] = 1e9, ratio_max[s][l] = -1e9;
    for (int ci = first; ci < first + cases; ci++) {
        case_spec cs;
        cs.photo = ci % PHOTOS;
        cs.scene = ci % SCENES;
        cs.kernel_kind = (ci % 3 == 1) ? ci / 3 % 8 : 8;
        cs.ksize = shake_sizes[(ci / 2) % 4];
        if (ci % 12 == 11)
            cs.ksize = shake_sizes[4];
        cs.noise = noises[(ci / 4) % 3];
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", data, photo_files[cs.photo]);
        deconv_error err;
        deconv_image *photo = deconv_image_read(path, 0, NULL, &err);
        if (!photo) {
            fprintf(stderr, "camera: %s (skipped; is the shared data there? --data DIR)\n",
                    err.message);
            return 0;
        }
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
        deconv_kernel *k = cs.kernel_kind < 8 ? levin_kernel(data, cs.kernel_kind)
                                              : shake_kernel(cs.ksize);
        if (!k) {
            fprintf(stderr, "camera: no kernel for case %d\n", ci);
            return 1;
        }
        const int N = photo->width - k->width + 1, M = photo->height - k->height + 1;
        deconv_image *light = deconv_image_clone(photo);
        deconv_response_decode(&srgb, light->data, light->data,
                               (size_t)light->width * light->height * light->channels);
        double g = cs.scene == SCENE_NIGHT ? 0 : 1.0;
        deconv_image *y = deconv_image_new(N, M, photo->channels);
        uint64_t saved = rng_state;
        if (cs.scene != SCENE_DAY) {
            /* the gain that clips the scene's fraction of the blurry frame */
            double target = cs.scene == SCENE_BRIGHT ? BRIGHT_CLIPPED : NIGHT_CLIPPED;
            double lo = cs.scene == SCENE_BRIGHT ? 1 : 0.01, hi = 64;
            for (int it = 0; it < 12; it++) {
                double mid = sqrt(lo * hi);
                deconv_image *l2 = deconv_image_clone(light);
                expose(l2, cs.scene, mid);
                rng_state = saved;
                double frac = camera(l2, k, 0, &srgb, y);
                deconv_image_free(l2);
                if (frac < target) lo = mid;
                else hi = mid;
            }
            g = sqrt(lo * hi);
            rng_state = saved;
        }
        expose(light, cs.scene, g);
        double clipped = camera(light, k, cs.noise, &srgb, y);
        /* the reference: the sharp scene encoded, clipped to 1, on y's window */
        deconv_image *ref = deconv_image_new(N, M, photo->channels);
        for (int c = 0; c < photo->channels; c++) {
            deconv_crop(deconv_image_plane(light, c), light->width, (k->height - 1) / 2,
                        (k->width - 1) / 2, N, M, deconv_image_plane(ref, c));
            float *rc = deconv_image_plane(ref, c);
            deconv_response_encode(&srgb, rc, rc, (size_t)N * M);
            for (size_t i = 0; i < (size_t)N * M; i++)
                rc[i] = rc[i] > 1 ? 1 : (rc[i] < 0 ? 0 : rc[i]);
        }
        /* --png-base: the factors multiply the weight of the uncompressed photo */
        deconv_image *y_png = jpeg > 0 && png_base ? deconv_image_clone(y) : NULL;
        if (jpeg > 0 && !jpeg_roundtrip(y, jpeg)) {
            fprintf(stderr, "camera: out of memory\n");
            return 1;
        }
        if (save)
            save_case(save, ci, ref, y, k);
        char kname[16];
        if (cs.kernel_kind < 8)
            snprintf(kname, sizeof kname, "levin%d", cs.kernel_kind + 1);
        else
            snprintf(kname, sizeof kname, "shake%d", cs.ksize);
        const char *slash = strrchr(photo_files[cs.photo], '/');
        /* blind: at the best shift (within 3 pixels, 8 left out at each side) */
        double blurry = blind ? psnr_shifted(ref, y, 3, 8) : psnr_clipped(ref, y), secs = 0;
        printf("%-4d %-22s %-6s %-9s %5.3f %6.1f %7.2f", ci, slash ? slash + 1 : photo_files[cs.photo],
               scene_names[cs.scene], kname, cs.noise, 100 * clipped, blurry);
        fflush(stdout);
        count[cs.scene]++;
        if (noise_list) {
            deconv_deblur_params p;
            deconv_deblur_defaults(&p);
            p.response = srgb;
            p.threads = threads;
            double sigma, tv = automatic_weight(y, k, &p, &sigma);
            int l = (ci / 4) % 3;
            double ratio = sigma / cs.noise;
            ratio_sum[cs.scene][l] += ratio, ratio_count[cs.scene][l]++;
            ratio_min[cs.scene][l] = fmin(ratio_min[cs.scene][l], ratio);
            ratio_max[cs.scene][l] = fmax(ratio_max[cs.scene][l], ratio);
            printf(" %8.5f %6.3f %9.3g\n", sigma, ratio, tv);
            goto next;
        }
        if (nfactors > 0) {
            double sigma = 0;
            deconv_deblur_params p;
            deconv_deblur_defaults(&p);
            automatic_weight(y, k, &p, &sigma);
            printf(" %8.5f", sigma);
        }
        for (int m = 0; m < 2; m++) {
            if (only && strcmp(only, model_names[m])) {
                if (nfactors == 0)
                    printf(" %8s", "-");
                continue;
            }
            deconv_deblur_params p;
            deconv_deblur_defaults(&p);
            p.response = models[m];
            p.threads = threads;
            if (iterations > 0)
                p.iterations = iterations;
            if (fixed_tv >= 0)
                p.tv = fixed_tv;
            double t0 = now();
            deconv_kernel *est = NULL;
            if (blind) {
                deconv_blind_params bp;
                deconv_blind_defaults(&bp);
                /* the size given: the true one times size_factor, odd;
                 * none (0 x 0: the library chooses) with --auto-size */
                bp.kernel_width = size_factor > 0 ? 2 * (int)lround(size_factor * k->width / 2) + 1 : 0;
                bp.kernel_height = size_factor > 0 ? 2 * (int)lround(size_factor * k->height / 2) + 1 : 0;
                if (size_factor == 1)
                    bp.kernel_width = k->width, bp.kernel_height = k->height;
                bp.response = models[m];
                bp.threads = threads;
                if (starts > 0)
                    bp.starts = starts;
                est = deconv_blind_kernel(y, &bp, &err);
                if (!est) {
                    printf(" failed: %s\n", err.message);
                    return 1;
                }
                deconv_blind_restore_defaults(&p);
                p.response = models[m];
                p.threads = threads;
                printf(" %5.2f", bench_kernel_ncc_sized(est->data, est->width, est->height, k->data,
                                                        k->width, k->height, 3));
                if (size_factor != 1)
                    printf(" %3dx%-3d", est->width, est->height);
                if (save) {
                    char kp[4096];
                    snprintf(kp, sizeof kp, "%s/case%02d-%s-kernel.png", save, ci, model_names[m]);
                    deconv_kernel_save(est, kp, NULL);
                }
            }
            double base = 0, best = -1e9;
            if (nfactors > 0) {
                base = automatic_weight(y_png ? y_png : y, est ? est : k, &p, NULL);
                printf(" %9.3g", base);
            }
            for (int f = 0; f < runs; f++) {
                if (nfactors > 0)
                    p.tv = factors[f] * base;
                deconv_image *x = deconv_deblur(y, est ? est : k, &p, NULL, &err);
                const deconv_kernel *used = est ? est : k;
                deconv_image *c = x ? deconv_crop_to_input(x, used->width, used->height) : NULL;
                double q = !c ? -1 : blind ? psnr_shifted(ref, c, 3, 8) : psnr_clipped(ref, c);
                printf(nfactors > 0 ? " %7.2f" : " %8.2f", q);
                fflush(stdout);
                gain[m][f][cs.scene] += q - blurry;
                if (q - blurry < worst[m][f][cs.scene])
                    worst[m][f][cs.scene] = q - blurry;
                best = fmax(best, q - blurry);
                deconv_image_free(c);
                deconv_image_free(x);
            }
            oracle[m][cs.scene] += best;
            oracle_worst[m][cs.scene] = fmin(oracle_worst[m][cs.scene], best);
            deconv_kernel_free(est);
            secs += now() - t0;
        }
        printf(" %7.1f\n", secs);
    next:
        deconv_image_free(y_png);
        deconv_image_free(ref);
        deconv_image_free(y);
        deconv_image_free(light);
        deconv_image_free(photo);
        deconv_kernel_free(k);
    }
    if (noise_list) {
        printf("\nestimate / true noise: mean (min, max)\n");
        for (int s = 0; s < SCENES; s++)
            for (int l = 0; l < 3; l++)
                if (ratio_count[s][l])
                    printf("  %-6s noise %.3f (%d cases)  %.3f (%.3f, %.3f)\n", scene_names[s],
                           noises[l], ratio_count[s][l], ratio_sum[s][l] / ratio_count[s][l],
                           ratio_min[s][l], ratio_max[s][l]);
        return 0;
    }
    printf("\ngain over the blurry photo, dB: mean (worst)\n");
    for (int s = 0; s < SCENES; s++) {
        if (!count[s])
            continue;
        printf("  %-6s (%d cases)", scene_names[s], count[s]);
        for (int m = 0; m < 2; m++) {
            if (only && strcmp(only, model_names[m]))
                continue;
            if (nfactors == 0) {
                printf("  %s %+.2f (%+.2f)", model_names[m], gain[m][0][s] / count[s],
                       worst[m][0][s]);
                continue;
            }
            printf("\n    %-6s", model_names[m]);
            for (int f = 0; f < nfactors; f++)
                printf("  x%g %+.2f (%+.2f)", factors[f], gain[m][f][s] / count[s],
                       worst[m][f][s]);
            printf("  oracle %+.2f (%+.2f)", oracle[m][s] / count[s], oracle_worst[m][s]);
        }
        printf("\n");
    }
    return 0;
}
