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
 * --sizes restores nothing: per case, the true kernel's side, the size
 * deconv_blind_kernel would choose with none given (sRGB, or --only's
 * model) and their ratio, and how many lie within [true, 2 true + 5]: the
 * size probe's figures in about a minute instead of a blind run's
 * twenty-five.
 * --first N starts at case N; every case draws from its own seed (the case
 * number and --seed), so it is the same case in any run.
 *
 *   camera [--data DIR] [--cases N] [--first N] [--seed N] [--threads N] [--gray]
 *          [--iterations N] [--only linear|srgb] [--save DIR] [--blind]
 *          [--reuse DIR] (--blind: the estimates an earlier --save wrote,
 *          CSV, instead of estimating: to compare restorations)
 *          [--all-starts] (--blind: each start's kernel correlation and score,
 *          the kept one starred)
 *          [--starts N] [--kernel-smooth W] [--estimate-pixels N] (--blind: the
 *          window's pixels) [--scale S] (photos resized by S first, S < 1)
 *          [--size-factor F] (--blind: the kernel size given is F times the
 *          true one, odd) [--auto-size] (--blind: no kernel size given)
 *          [--tv-factors F,...] [--tv L] [--jpeg Q] [--png-base] [--noise-list] [--sizes]
 *          [--noise S] (every case's noise S instead of 0.5, 1 and 2 % by turns)
 *          [--short] (shake kernels of 19 to 31 pixels only, no 75: issue 13's
 *          hidden cases are made so, with 0.5 % noise)
 *
 * DIR defaults to ../shared/data beside the source tree. --save writes
 * each case's sharp and blurry PNG and kernel CSV (to look at, or to run
 * the command line on). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "cases.h"
#include "deconv.h"
#include "measure.h"

/* The library's kernel_size.c, through blind.c's hook for benches (not
 * part of the API): the size deconv_blind_kernel would choose. */
int deconv_blind_test_choose_size(const deconv_image *y, const deconv_blind_params *p, int *kw,
                                  int *kh);

#ifndef DECONV_SOURCE_DIR
#define DECONV_SOURCE_DIR "."
#endif

enum { SCENE_DAY, SCENE_BRIGHT, SCENE_NIGHT, SCENES };
static const char *const scene_names[SCENES] = {"day", "bright", "night"};
static const double BRIGHT_CLIPPED = 0.15, NIGHT_CLIPPED = 0.2;

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
        double ci = bench_uniform() * light->height, cj = bench_uniform() * light->width;
        double r = 0.7 + 2.3 * bench_uniform(), brightness = 2 + 28 * bench_uniform() * bench_uniform();
        double tint[3] = {1, 0.7 + 0.3 * bench_uniform(), 0.4 + 0.6 * bench_uniform()};
        for (int i = (int)(ci - r - 1); i <= (int)(ci + r + 1); i++)
            for (int j = (int)(cj - r - 1); j <= (int)(cj + r + 1); j++) {
                if (i < 0 || j < 0 || i >= light->height || j >= light->width)
                    continue;
                double d = hypot(i - ci, j - cj), cover = fmin(1, fmax(0, r + 0.5 - d));
                for (int c = 0; c < light->channels && c < 3; c++) {
                    float *p = light->data + c * n + (size_t)i * light->width + j;
                    *p = (float)((1 - cover) * *p + cover * brightness * tint[light->channels == 1 ? 0 : c]);
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
            double v = yc[i] + noise * bench_gaussian();
            v = v < 0 ? 0 : (v > 1 ? 1 : v);
            yc[i] = (float)(lround(v * 255) / 255.0);
        }
    }
    return (double)clipped / (ny * y->channels);
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

/* The file of case ci's estimate under a model, in DIR (--save writes it,
 * --reuse reads it): DIR/caseNN-MODEL-kernel.EXT. */
static void estimate_path(char *out, size_t size, const char *dir, int ci, const char *model,
                          const char *ext)
{
    snprintf(out, size, "%s/case%02d-%s-kernel.%s", dir, ci, model, ext);
}

int main(int argc, char **argv)
{
    const char *data = DECONV_SOURCE_DIR "/../shared/data", *only = NULL, *save = NULL,
               *reuse = NULL;
    int cases = 12, first = 0, threads = 0, gray = 0, iterations = 0, blind = 0, starts = 0;
    double kernel_smooth = -1; /* < 0: the default */
    double estimate_pixels = -1; /* < 0: the default */
    int all_starts = 0; /* --blind: every start's correlation and score */
    double size_factor = 1; /* --blind: the kernel size given, over the true one; 0: none */
    double scale = 1, fixed_tv = -1;
    uint64_t seed = 0;
    int jpeg = 0, noise_list = 0, nfactors = 0, png_base = 0;
    int sizes = 0; /* --sizes: only the kernel size the library would choose */
    int sized_right = 0, sized_count = 0;
    double fixed_noise = 0; /* --noise S: every case's noise */
    int short_kernels = 0;  /* --short: no 75-pixel kernel */
    enum { MAX_FACTORS = 16 };
    double factors[MAX_FACTORS];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--cases") && i + 1 < argc) cases = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--first") && i + 1 < argc) first = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iterations") && i + 1 < argc) iterations = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--save") && i + 1 < argc) save = argv[++i];
        else if (!strcmp(argv[i], "--reuse") && i + 1 < argc) reuse = argv[++i];
        else if (!strcmp(argv[i], "--gray")) gray = 1;
        else if (!strcmp(argv[i], "--blind")) blind = 1;
        else if (!strcmp(argv[i], "--all-starts")) all_starts = 1;
        else if (!strcmp(argv[i], "--size-factor") && i + 1 < argc) size_factor = atof(argv[++i]);
        else if (!strcmp(argv[i], "--auto-size")) size_factor = 0;
        else if (!strcmp(argv[i], "--starts") && i + 1 < argc) starts = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--kernel-smooth") && i + 1 < argc)
            kernel_smooth = atof(argv[++i]);
        else if (!strcmp(argv[i], "--scale") && i + 1 < argc) scale = atof(argv[++i]);
        else if (!strcmp(argv[i], "--estimate-pixels") && i + 1 < argc)
            estimate_pixels = atof(argv[++i]);
        else if (!strcmp(argv[i], "--tv") && i + 1 < argc) fixed_tv = atof(argv[++i]);
        else if (!strcmp(argv[i], "--jpeg") && i + 1 < argc) jpeg = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--noise-list")) noise_list = 1;
        else if (!strcmp(argv[i], "--sizes")) sizes = 1;
        else if (!strcmp(argv[i], "--noise") && i + 1 < argc) fixed_noise = atof(argv[++i]);
        else if (!strcmp(argv[i], "--short")) short_kernels = 1;
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
                            "[--save DIR] [--reuse DIR] "
                            "[--blind] [--all-starts] [--size-factor F] [--auto-size] [--starts N] [--kernel-smooth W] "
                            "[--estimate-pixels N] [--scale S] [--tv-factors F,...] [--tv L] "
                            "[--jpeg Q] [--png-base] [--noise-list] [--sizes] [--noise S] [--short]\n");
            return 2;
        }
    }
    /* as the command line and bench/blindset do: without --threads, OpenMP
     * may use fewer threads when other processes keep the cores busy (the
     * figures do not depend on it, the --blind seconds do) */
    if (threads == 0 && !getenv("OMP_DYNAMIC"))
        omp_set_dynamic(1);
    deconv_response srgb, models[2];
    deconv_response_srgb(&srgb);
    deconv_response_linear(&models[0]);
    deconv_response_srgb(&models[1]);
    const char *model_names[2] = {"linear", "srgb"};
    static const double noises[3] = {0.005, 0.01, 0.02};
    static const int shake_sizes[5] = {19, 23, 27, 31, 75};

    /* the restorations of each case under each model: one per factor */
    const int runs = nfactors > 0 ? nfactors : 1;
    /* --sizes: each case's chosen / true size, for the median */
    double *size_ratio = sizes ? malloc(sizeof(double) * (cases > 0 ? cases : 1)) : NULL;
    if (sizes && !size_ratio) {
        fprintf(stderr, "camera: out of memory\n");
        return 1;
    }
    if (sizes)
        printf("%-4s %-22s %-6s %-9s %5s %6s %7s %4s %6s %6s\n", "case", "photo", "scene",
               "kernel", "noise", "clip%", "blurry", "true", "chosen", "ratio");
    else if (noise_list)
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
        bench_rng_state = bench_case_state(seed, ci);
        cs.photo = ci % BENCH_PHOTOS;
        cs.scene = ci % SCENES;
        cs.kernel_kind = (ci % 3 == 1) ? ci / 3 % 8 : 8;
        cs.ksize = shake_sizes[(ci / 2) % 4];
        if (ci % 12 == 11 && !short_kernels)
            cs.ksize = shake_sizes[4];
        cs.noise = fixed_noise > 0 ? fixed_noise : noises[(ci / 4) % 3];
        deconv_error err;
        deconv_image *photo = bench_read_photo(data, cs.photo, scale, gray, &err);
        if (!photo) {
            fprintf(stderr, "camera: %s (skipped; is the shared data there? --data DIR)\n",
                    err.message);
            return 0;
        }
        deconv_kernel *k = cs.kernel_kind < 8 ? bench_levin_kernel(data, cs.kernel_kind)
                                              : bench_shake_kernel(cs.ksize);
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
        uint64_t saved = bench_rng_state;
        if (cs.scene != SCENE_DAY) {
            /* the gain that clips the scene's fraction of the blurry frame */
            double target = cs.scene == SCENE_BRIGHT ? BRIGHT_CLIPPED : NIGHT_CLIPPED;
            double lo = cs.scene == SCENE_BRIGHT ? 1 : 0.01, hi = 64;
            for (int it = 0; it < 12; it++) {
                double mid = sqrt(lo * hi);
                deconv_image *l2 = deconv_image_clone(light);
                expose(l2, cs.scene, mid);
                bench_rng_state = saved;
                double frac = camera(l2, k, 0, &srgb, y);
                deconv_image_free(l2);
                if (frac < target) lo = mid;
                else hi = mid;
            }
            g = sqrt(lo * hi);
            bench_rng_state = saved;
        }
        expose(light, cs.scene, g);
        double clipped = camera(light, k, cs.noise, &srgb, y);
        /* the reference: the sharp scene encoded, clipped to 1, on y's window */
        deconv_image *ref = bench_window(light, k->width, k->height);
        const size_t nref = (size_t)N * M * ref->channels;
        deconv_response_encode(&srgb, ref->data, ref->data, nref);
        for (size_t i = 0; i < nref; i++)
            ref->data[i] = ref->data[i] > 1 ? 1 : (ref->data[i] < 0 ? 0 : ref->data[i]);
        /* --png-base: the factors multiply the weight of the uncompressed photo */
        deconv_image *y_png = jpeg > 0 && png_base ? deconv_image_clone(y) : NULL;
        if (jpeg > 0 && !jpeg_roundtrip(y, jpeg)) {
            fprintf(stderr, "camera: out of memory\n");
            return 1;
        }
        if (save)
            bench_save_case(save, ci, ref, y, k);
        char kname[16];
        bench_kernel_name(kname, sizeof kname, cs.kernel_kind < 8 ? cs.kernel_kind : -1, cs.ksize);
        /* blind: at the best shift (within 3 pixels, 8 left out at each side) */
        double blurry = blind ? bench_psnr_shifted(ref, y, 3, 8) : bench_psnr_clipped(ref, y);
        double secs = 0;
        printf("%-4d %-22s %-6s %-9s %5.3f %6.1f %7.2f", ci, bench_photo_name(cs.photo),
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
        if (sizes) {
            /* the sRGB model (or --only's), as deconv blind reads a photo */
            deconv_blind_params bp;
            deconv_blind_defaults(&bp);
            bp.kernel_width = bp.kernel_height = 0;
            bp.response = only && !strcmp(only, "linear") ? models[0] : srgb;
            int kw = 0, kh = 0, side = k->width > k->height ? k->width : k->height;
            if (deconv_blind_test_choose_size(y, &bp, &kw, &kh) != 0) {
                printf(" failed\n");
                free(size_ratio);
                return 1;
            }
            int right = kw >= side && kw <= 2 * side + 5;
            size_ratio[sized_count++] = (double)kw / side;
            sized_right += right;
            printf(" %4d %6d %6.2f%s\n", side, kw, (double)kw / side, right ? "" : "  outside");
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
            double t0 = bench_now();
            deconv_kernel *est = NULL;
            if (blind) {
                deconv_blind_params bp;
                deconv_blind_defaults(&bp);
                /* the size given: the true one times size_factor, odd;
                 * none (0 x 0: the library chooses) with --auto-size */
                bp.kernel_width = bench_given_size(size_factor, k->width);
                bp.kernel_height = bench_given_size(size_factor, k->height);
                bp.response = models[m];
                bp.threads = threads;
                if (starts > 0)
                    bp.starts = starts;
                if (kernel_smooth >= 0)
                    bp.kernel_smooth = kernel_smooth;
                if (estimate_pixels >= 0)
                    bp.estimate_pixels = estimate_pixels;
                if (reuse) {
                    char kp[4096];
                    estimate_path(kp, sizeof kp, reuse, ci, model_names[m], "csv");
                    est = deconv_kernel_load(kp, 1, &err);
                } else {
                    est = bench_blind_kernel(y, &bp, all_starts, k, &err);
                }
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
                    estimate_path(kp, sizeof kp, save, ci, model_names[m], "png");
                    deconv_kernel_save(est, kp, NULL);
                    estimate_path(kp, sizeof kp, save, ci, model_names[m], "csv");
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
                double q = !c      ? -1
                           : blind ? bench_psnr_shifted(ref, c, 3, 8)
                                   : bench_psnr_clipped(ref, c);
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
            secs += bench_now() - t0;
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
    if (sizes) {
        const int n = sized_count;
        bench_sort(size_ratio, n);
        printf("\nsize chosen within [true, 2 true + 5]: %d of %d; chosen / true: median %.2f, "
               "min %.2f, max %.2f\n",
               sized_right, sized_count, n ? (size_ratio[(n - 1) / 2] + size_ratio[n / 2]) / 2 : 0,
               n ? size_ratio[0] : 0, n ? size_ratio[n - 1] : 0);
        free(size_ratio);
        return 0;
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
