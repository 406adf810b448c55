/* A development set for the blind estimate that is not Levin's benchmark
 * (issue 14): the ten photos of the shared data (photos/ and sharp/),
 * blurred by kernels of 13 to 75 pixels, with 0 % to 2 % noise, gray and
 * colour.
 *
 * The data are linear, as in Lai et al.'s synthetic set (and unlike
 * bench/camera's camera-like cases): each case is one photo, its stored
 * values (gray on the odd cases: Rec. 709 luminance), blurred by the
 * kernel with the valid convolution (the blurry image is smaller by the
 * kernel's size less one), Gaussian noise of sigma 0, 1 % or 2 % of the
 * range added, clipped to [0, 1] and rounded to 8 bits. The reference is
 * the sharp photo on the blurry image's window. Case i:
 *   photo   i mod 10 (the order of cases.c);
 *   gray    on odd i, colour on even i (camera.png, the one gray photo,
 *           comes on odd i);
 *   noise   0, 1 %, 2 % by turns every three cases (i / 3 mod 3);
 *   kernel  on i mod 3 = 0 a long shake trajectory (cases.c), 51, 75, 75,
 *           51 pixels by turns; otherwise the next of the short ones:
 *           Levin's eight (13 to 27 pixels, from the shared data) with
 *           trajectories of 15, 23 and 31 pixels among them.
 * So a third of the cases have a kernel of 51 or 75 pixels, and the
 * default 16 cover every noise level with short and long kernels, each
 * in gray and in colour. Every case draws from its own seed (the case
 * number and --seed): --first N gives the cases of a longer run.
 *
 * For every case, with the response linear (the data are linear) and the
 * true kernel size (--size-factor, --auto-size), it runs
 *   - the blind estimate, deconv_blind_kernel (default parameters but for
 *     the flags below), timed;
 *   - deconv blind's restoration with it (deconv_blind_restore_defaults:
 *     deblur's defaults with the floor on the automatic TV weight, as the
 *     command line's `deconv blind` restores);
 *   - deconv_deblur with deblur's defaults, with the estimate and with the
 *     true kernel;
 * and prints one row: the case, photo, gray or rgb, kernel (levinN or
 * shakeN) and its size, the noise sigma, the PSNR of the blurry image, the
 * kernel's normalised cross-correlation with the true one (best shift
 * within 3 pixels), the PSNR of blind's restoration, of deblur's with the
 * estimate and with the true kernel, Levin's error ratio (the SSD of
 * deblur's restoration with the estimate over that with the true kernel),
 * and the seconds of the estimate
 * (with --size-factor or --auto-size, the size estimated after the
 * correlation). Every PSNR is on values clipped to [0, 1] (as the output
 * is written), at the best integer shift within 3 pixels, the larger of
 * 8 pixels and the true kernel's half-size left out at each side. The
 * totals: the mean correlation and the cases at 0.7 or more, the cases at
 * error ratio 2 or less, 3 or less, and 3 or less with correlation 0.7 or
 * more (issue 14's goal for its noisy cases), the mean gain
 * of blind's restoration over the blurry image, the mean loss of deblur
 * with the estimate against the true kernel, the mean and worst of blind's
 * restoration against deblur's with the same estimate (what the TV floor
 * does), the median and total seconds, and the mean correlation and gain
 * by kernel size (31 or less, 51 to 75) and by noise level.
 *
 *   blindset [--data DIR] [--cases N] [--first N] [--seed N] [--threads N]
 *            [--scale S] (photos resized by S first) [--starts N]
 *            [--size-factor F] (the kernel size given is F times the true
 *            one, odd) [--auto-size] (no kernel size given) [--save DIR]
 *            [--set default|noisy] (the noisy set: noisy_case_of)
 *            [--noise S] (every case's noise sigma instead of the set's)
 *            [--all-starts] (every start's correlation and score, and their
 *            agreement, after the case's first columns; bench/measure.h)
 *            [blind flags: --iterations N --kernel-iterations N
 *            --image-iterations N --tv L --tv-final L --levels N
 *            --refine N --refine-lambda L --piece-fraction F
 *            --sparse-prior 0|1 --kernel-reg G --estimate-pixels N]
 *
 * DIR defaults to ../shared/data beside the source tree; N cases default
 * to 16. --save writes each case's sharp and blurry PNG, the true kernel
 * (CSV) and the estimate (CSV and PNG), to look at or to run the command
 * line on. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "deconv.h"
#include "measure.h"

#ifndef DECONV_SOURCE_DIR
#define DECONV_SOURCE_DIR "."
#endif

enum { SHIFT = 3, MIN_BORDER = 8, NOISES = 3 };
static const double NCC_GOOD = 0.7; /* the totals count the cases at this or more */
static const double noises[NOISES] = {0, 0.01, 0.02};
static const int long_sizes[4] = {51, 75, 75, 51};
/* The short kernels in turn: Levin's index 0 to 7, or -size for a shake. */
static const int short_kernels[11] = {0, -15, 1, 2, -23, 3, 4, -31, 5, 6, 7};

typedef struct {
    int photo, gray, noise; /* noise: index in noises */
    int levin;              /* 0 to 7; -1: a shake trajectory of size; BENCH_PATH: a
                               path (bench_path_kernel) of size */
    int size;
} case_spec;

/* The noisy set (--set noisy), issue 14's "noise" cases: every case gray,
 * 255 x 255 blurry pixels cut from the middle of the photo resized so its
 * shorter side is NOISY_SIDE, a shake trajectory that fills its kernel
 * (15 to 27 pixels by turns; a path of bench_path_kernel on even cases,
 * an orbit of bench_shake_kernel on odd ones), 1 % noise (--noise). */
enum { NOISY_BLURRY = 255, NOISY_SIDE = 320 };
static const int noisy_sizes[7] = {15, 19, 23, 27, 17, 21, 25};

static case_spec noisy_case_of(int i)
{
    case_spec cs = {i % BENCH_PHOTOS, 1, 1, i % 2 ? -1 : BENCH_PATH, noisy_sizes[i % 7]};
    return cs;
}

static case_spec case_of(int i)
{
    case_spec cs;
    cs.photo = i % BENCH_PHOTOS;
    cs.gray = i % 2;
    cs.noise = i / 3 % NOISES;
    if (i % 3 == 0) {
        cs.levin = -1, cs.size = long_sizes[i / 3 % 4];
    } else {
        int s = short_kernels[(2 * (i / 3) + i % 3 - 1) % 11];
        cs.levin = s >= 0 ? s : -1, cs.size = s >= 0 ? 0 : -s;
    }
    return cs;
}

/* y = round8(clip(h * x + sigma n)): the valid convolution on the stored
 * values. */
static deconv_image *blur(const deconv_image *x, const deconv_kernel *k, double sigma)
{
    const int N = x->width - k->width + 1, M = x->height - k->height + 1;
    deconv_image *y = deconv_image_new(N, M, x->channels);
    if (!y)
        return NULL;
    const size_t n = (size_t)N * M;
    for (int c = 0; c < x->channels; c++) {
        float *yc = deconv_image_plane(y, c);
        deconv_conv_valid(deconv_image_plane(x, c), x->width, x->height, k->data, k->width,
                          k->height, yc);
        for (size_t i = 0; i < n; i++) {
            double v = yc[i] + (sigma > 0 ? sigma * bench_gaussian() : 0);
            v = v < 0 ? 0 : (v > 1 ? 1 : v);
            yc[i] = (float)(lround(v * 255) / 255.0);
        }
    }
    return y;
}

/* y restored with k under p, cropped to y's frame, its PSNR against ref. */
static double restored_psnr(const deconv_image *y, const deconv_kernel *k,
                            const deconv_deblur_params *p, const deconv_image *ref, int border)
{
    deconv_error err;
    deconv_image *x = deconv_deblur(y, k, p, NULL, &err);
    if (!x) {
        fprintf(stderr, "blindset: deblur: %s\n", err.message);
        exit(1);
    }
    deconv_image *c = deconv_crop_to_input(x, k->width, k->height);
    deconv_image_free(x);
    if (!c) {
        fprintf(stderr, "blindset: out of memory\n");
        exit(1);
    }
    double q = bench_psnr_shifted(ref, c, SHIFT, border);
    deconv_image_free(c);
    return q;
}

/* Sums of one group of cases for the totals. */
typedef struct {
    int n;
    double ncc, gain;
} group;

static void add(group *g, double ncc, double gain) { g->n++, g->ncc += ncc, g->gain += gain; }

static void print_group(const char *name, const group *g)
{
    if (g->n)
        printf("  %-10s %3d cases  NCC %.3f  gain %+6.2f dB\n", name, g->n, g->ncc / g->n,
               g->gain / g->n);
}

int main(int argc, char **argv)
{
    const char *data = DECONV_SOURCE_DIR "/../shared/data", *save = NULL;
    int cases = 16, first = 0, threads = 0;
    uint64_t seed = 0;
    int noisy = 0;      /* --set noisy */
    double noise = -1;  /* --noise: every case's sigma instead of the set's */
    int all_starts = 0; /* every start's correlation, score and agreement */
    double scale = 1, size_factor = 1; /* the kernel size given over the true one; 0: none */
    deconv_blind_params bp;
    deconv_blind_defaults(&bp);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--auto-size")) { size_factor = 0; continue; }
        if (!strcmp(a, "--all-starts")) { all_starts = 1; continue; }
        if (!v || a[0] != '-') {
            fprintf(stderr,
                    "usage: blindset [--data DIR] [--cases N] [--first N] [--seed N] "
                    "[--threads N] [--scale S] [--starts N] [--size-factor F] [--auto-size] "
                    "[--save DIR] [--set default|noisy] [--noise S] [--all-starts] [--iterations N] "
                    "[--kernel-iterations N] "
                    "[--image-iterations N] [--tv L] [--tv-final L] [--levels N] "
                    "[--refine N] [--refine-lambda L] [--piece-fraction F] "
                    "[--sparse-prior 0|1] [--kernel-reg G] [--estimate-pixels N]\n");
            return 2;
        }
        i++;
        if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--cases")) cases = atoi(v);
        else if (!strcmp(a, "--first")) first = atoi(v);
        else if (!strcmp(a, "--seed")) seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--scale")) scale = atof(v);
        else if (!strcmp(a, "--save")) save = v;
        else if (!strcmp(a, "--noise")) noise = atof(v);
        else if (!strcmp(a, "--set")) {
            if (strcmp(v, "noisy") && strcmp(v, "default")) {
                fprintf(stderr, "blindset: --set is default or noisy\n");
                return 2;
            }
            noisy = !strcmp(v, "noisy");
        }
        else if (!strcmp(a, "--size-factor")) size_factor = atof(v);
        else if (!strcmp(a, "--estimate-pixels")) bp.estimate_pixels = atof(v);
        else if (!bench_blind_flag(a, v, &bp)) {
            fprintf(stderr, "blindset: unknown option %s\n", a);
            return 2;
        }
    }
    if (cases < 1 || first < 0) {
        fprintf(stderr, "blindset: --cases wants 1 or more, --first 0 or more\n");
        return 2;
    }
    /* as the command line does: without --threads, OpenMP may use fewer
     * threads when other processes keep the cores busy (the results do
     * not depend on the thread count; the seconds would, many times over,
     * the fourth start running on all the threads) */
    if (threads == 0 && !getenv("OMP_DYNAMIC"))
        omp_set_dynamic(1);
    deconv_response linear;
    deconv_response_linear(&linear);
    bp.response = linear;
    bp.threads = threads;
    deconv_deblur_params blind_p, deblur_p;
    deconv_blind_restore_defaults(&blind_p);
    deconv_deblur_defaults(&deblur_p);
    blind_p.response = deblur_p.response = linear;
    blind_p.threads = deblur_p.threads = threads;

    /* the shared data, before any output */
    for (int i = 0; i < BENCH_PHOTOS + 8; i++) {
        char path[4096];
        if (i < BENCH_PHOTOS)
            snprintf(path, sizeof path, "%s/%s", data, bench_photo_files[i]);
        else
            snprintf(path, sizeof path, "%s/levin/kernels/kern%02d.csv", data,
                     i - BENCH_PHOTOS + 1);
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "blindset: cannot read %s: the shared data are ../shared/data "
                            "beside the source tree, or give --data DIR\n", path);
            return 1;
        }
        fclose(f);
    }
    const int sized = size_factor != 1;
    printf("%-4s %-15s %-4s %-7s %4s %5s %6s %5s", "case", "photo", "mode", "kernel", "size",
           "noise", "blurry", "ncc");
    if (sized)
        printf(" %7s", "est");
    printf(" %6s %6s %6s %5s %6s\n", "blind", "deblur", "true", "err", "sec");
    double *secs = malloc(sizeof(double) * cases);
    if (!secs)
        return 1;
    double ncc_sum = 0, gain_sum = 0, true_sum = 0, floor_sum = 0, floor_worst = INFINITY;
    double total_secs = 0;
    int good = 0, n = 0, ratio2 = 0, ratio3 = 0, both = 0;
    group by_size[2] = {{0}}, by_noise[NOISES] = {{0}};
    for (int ci = first; ci < first + cases; ci++) {
        const case_spec cs = noisy ? noisy_case_of(ci) : case_of(ci);
        const double sigma = noise >= 0 ? noise : noises[cs.noise];
        /* the noisy set's case i draws apart from the default set's */
        bench_rng_state = bench_case_state(seed + (uint64_t)noisy * 1000, ci);
        deconv_error err;
        deconv_image *photo = bench_read_photo(data, cs.photo, scale, cs.gray, &err);
        if (photo && noisy) {
            deconv_image *x = bench_middle_square(photo, NOISY_SIDE, NOISY_BLURRY + cs.size - 1);
            deconv_image_free(photo);
            photo = x;
            if (!photo)
                snprintf(err.message, sizeof err.message, "out of memory");
        }
        deconv_kernel *k = cs.levin >= 0           ? bench_levin_kernel(data, cs.levin)
                           : cs.levin == BENCH_PATH ? bench_path_kernel(cs.size)
                                                    : bench_shake_kernel(cs.size);
        if (!photo || !k) {
            fprintf(stderr, "blindset: case %d: %s\n", ci,
                    !photo ? err.message : "cannot read its kernel");
            return 1;
        }
        const int ksize = k->width > k->height ? k->width : k->height;
        const int border = (ksize - 1) / 2 > MIN_BORDER ? (ksize - 1) / 2 : MIN_BORDER;
        if (photo->width - k->width + 1 <= 2 * border + 2 * SHIFT ||
            photo->height - k->height + 1 <= 2 * border + 2 * SHIFT) {
            fprintf(stderr, "blindset: case %d: the photo (%d x %d) is too small for its "
                            "%d-pixel kernel (--scale)\n",
                    ci, photo->width, photo->height, ksize);
            return 1;
        }
        deconv_image *y = blur(photo, k, sigma);
        deconv_image *ref = bench_window(photo, k->width, k->height);
        if (!y || !ref) {
            fprintf(stderr, "blindset: out of memory\n");
            return 1;
        }
        if (save)
            bench_save_case(save, ci, ref, y, k);
        char kname[16];
        bench_kernel_name(kname, sizeof kname, cs.levin, k->width);
        const double blurry = bench_psnr_shifted(ref, y, SHIFT, border);
        printf("%-4d %-15s %-4s %-7s %4d %5.3f %6.2f", ci, bench_photo_name(cs.photo),
               y->channels == 1 ? "gray" : "rgb", kname, k->width, sigma, blurry);
        fflush(stdout);

        bp.kernel_width = bench_given_size(size_factor, k->width);
        bp.kernel_height = bench_given_size(size_factor, k->height);
        const double t0 = bench_now();
        deconv_kernel *est = bench_blind_kernel(y, &bp, all_starts, k, &err);
        const double dt = bench_now() - t0;
        if (!est) {
            printf("\n");
            fprintf(stderr, "blindset: case %d: %s\n", ci, err.message);
            return 1;
        }
        const double ncc = bench_kernel_ncc_sized(est->data, est->width, est->height, k->data,
                                                  k->width, k->height, SHIFT);
        printf(" %5.3f", ncc);
        if (sized) {
            char es[16];
            snprintf(es, sizeof es, "%dx%d", est->width, est->height);
            printf(" %7s", es);
        }
        fflush(stdout);
        if (save) {
            char path[4096];
            snprintf(path, sizeof path, "%s/case%02d-estimate.csv", save, ci);
            deconv_kernel_save(est, path, NULL);
            snprintf(path, sizeof path, "%s/case%02d-estimate.png", save, ci);
            deconv_kernel_save(est, path, NULL);
        }
        const double q_blind = restored_psnr(y, est, &blind_p, ref, border);
        printf(" %6.2f", q_blind);
        fflush(stdout);
        const double q_est = restored_psnr(y, est, &deblur_p, ref, border);
        printf(" %6.2f", q_est);
        fflush(stdout);
        const double q_true = restored_psnr(y, k, &deblur_p, ref, border);
        /* Levin's error ratio, SSD(estimate) / SSD(true kernel), under the
         * same restoration: both PSNRs are on the same window */
        const double ratio = pow(10, (q_true - q_est) / 10);
        printf(" %6.2f %5.2f %6.1f\n", q_true, ratio, dt);
        fflush(stdout);

        ncc_sum += ncc, good += ncc >= NCC_GOOD;
        ratio2 += ratio <= 2, ratio3 += ratio <= 3, both += ratio <= 3 && ncc >= NCC_GOOD;
        gain_sum += q_blind - blurry, true_sum += q_true - q_est;
        floor_sum += q_blind - q_est, floor_worst = fmin(floor_worst, q_blind - q_est);
        secs[n++] = dt, total_secs += dt;
        add(&by_size[ksize > 31], ncc, q_blind - blurry);
        for (int l = 0; l < NOISES; l++)
            if (sigma == noises[l])
                add(&by_noise[l], ncc, q_blind - blurry);
        deconv_kernel_free(est);
        deconv_kernel_free(k);
        deconv_image_free(ref);
        deconv_image_free(y);
        deconv_image_free(photo);
    }
    bench_sort(secs, n);
    const double median = n % 2 ? secs[n / 2] : 0.5 * (secs[n / 2 - 1] + secs[n / 2]);
    printf("\n%d cases\n", n);
    printf("kernel NCC: mean %.3f; cases at %.1f or more: %d of %d\n", ncc_sum / n, NCC_GOOD,
           good, n);
    printf("error ratio (deblur, estimate over true kernel): %d at <= 2, %d at <= 3; "
           "%d at <= 3 with NCC %.1f or more\n", ratio2, ratio3, both, NCC_GOOD);
    printf("blind's restoration over the blurry image: mean %+.2f dB\n", gain_sum / n);
    printf("deblur, true kernel over the estimate: mean %+.2f dB\n", true_sum / n);
    printf("blind's restoration over deblur with its kernel: mean %+.2f dB, worst %+.2f dB\n",
           floor_sum / n, floor_worst);
    printf("seconds of the estimate: median %.1f, total %.1f\n", median, total_secs);
    printf("by kernel size (NCC and blind's gain, means):\n");
    print_group("<= 31", &by_size[0]);
    print_group("51-75", &by_size[1]);
    printf("by noise:\n");
    for (int l = 0; l < NOISES; l++) {
        char name[16];
        snprintf(name, sizeof name, "%g %%", 100 * noises[l]);
        print_group(name, &by_noise[l]);
    }
    free(secs);
    return 0;
}
