/* The blind-deconvolution benchmark of Levin et al. (CVPR 2009): 4 images x
 * 8 camera-shake kernels. For each case: estimate the kernel with
 * deconv_blind_kernel at the true kernel size, restore y non-blind with the
 * estimate and with the true kernel (the same settings for both: those
 * `deconv blind` restores with, deconv_blind_restore_defaults, or a fixed
 * TV weight with --restore-tv, or deblur's own defaults with
 * --plain-restore), and print
 *   - the error ratio: SSD(estimated) / SSD(true), each at its best shift
 *     within SHIFT pixels, borders of BORDER pixels left out;
 *   - the normalised cross-correlation of the kernels at their best shift;
 *   - the seconds the blind estimate took;
 *   - the PSNR of both restorations (same shift and border);
 *   - the same ratio and PSNRs with the benchmark's standard restoration
 *     for both images (sparse_deconv.c: Levin et al. 2007's sparse prior,
 *     weight 0.0068, 70 iterations, as in the published comparisons), so
 *     that the figures are on the literature's scale; --no-sps skips it.
 * --out DIR writes each estimate (CSV and PNG) and its restoration;
 * --reuse DIR reads the CSV estimates of an earlier --out instead of
 * estimating (to compare non-blind settings on the same kernels); --oracle
 * fits the kernel on the true sharp image instead (see oracle_kernel).
 * The data are read from their folder (argument 1, default
 * ../shared/data/levin); nothing is copied. The stored kernels f are the
 * 180-degree rotation of MODEL.md's h (see the data's README).
 *
 *   levin [DATA_DIR] [--cases im01_kern01,...] [--out DIR] [--reuse DIR]
 *         [--restore-tv L] [--plain-restore] [--oracle] [--no-sps] [--threads N]
 *         [--size-factor F] (the kernel size given: F times the true one, odd)
 *         [--kernel-step S] [--kernel-line-search none|armijo|exact]
 *         [--auto-size] (no kernel size given: the library chooses; the
 *         kernel column gives the size estimated)
 *         [--all-starts] (a comment line before each case: every start's
 *         correlation and score, and their agreement; bench/measure.h)
 *         [blind flags: --iterations N --tv L --levels N --refine N
 *         --refine-lambda L --piece-fraction F --sparse-prior 0|1
 *         --starts N ...] */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "deconv.h"
#include "measure.h"
#include "sparse_deconv.h"

enum { SHIFT = 6, BORDER = 20 };

/* The standard protocol's restoration (sparse_deconv.c). */
static const double SPS_WEIGHT = 0.0068;
enum { SPS_ITERATIONS = 70 };

static const int kernel_sizes[8] = {19, 17, 15, 27, 13, 21, 23, 23};

/* Where conv2(x, h, 'valid') sits in y for each kernel: the window
 * y[ty : ty+256-kh, tx : tx+256-kw] (the data's README, Conventions 4). */
static const int window_row[8] = {9, 8, 8, 11, 6, 6, 9, 9};
static const int window_col[8] = {10, 7, 8, 16, 6, 14, 13, 13};

/* The kernel step of blind.c, for the tests and this benchmark (not part of
 * the API). */
int deconv_blind_test_kernel_step(const float *x, const float *y, int N, int M, float *h,
                                  int kw, int kh, double count, int iterations, double gamma,
                                  double *e0, double *e1);

/* --oracle: the kernel that blind.c's kernel step fits on the true sharp
 * image (every gradient, 300 iterations from a delta): what the kernel step
 * reaches when the image estimate is perfect. */
static deconv_kernel *oracle_kernel(const deconv_image *y, const deconv_image *sharp, int kn)
{
    int k = kernel_sizes[kn - 1], N = sharp->width + 1 - k, M = sharp->height + 1 - k;
    deconv_kernel *h = deconv_kernel_new(k, k);
    float *window = malloc(sizeof(float) * N * M);
    if (!h || !window) {
        free(window);
        deconv_kernel_free(h);
        return NULL;
    }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            window[i * N + j] =
                y->data[(i + window_row[kn - 1]) * y->width + j + window_col[kn - 1]];
    memset(h->data, 0, sizeof(float) * k * k);
    h->data[(k / 2) * k + k / 2] = 1;
    double e0, e1;
    deconv_blind_test_kernel_step(sharp->data, window, N, M, h->data, k, k, 0, 300, 0, &e0, &e1);
    free(window);
    return h;
}

/* SSD of the restored r against the sharp s at the best shift (measure.h). */
static double best_ssd(const deconv_image *r, const deconv_image *s)
{
    return bench_best_ssd(r->data, s->data, s->width, s->height, SHIFT, BORDER);
}

static deconv_image *restore(const deconv_image *y, const deconv_kernel *k, double tv, int plain)
{
    deconv_deblur_params p;
    if (plain)
        deconv_deblur_defaults(&p);
    else
        deconv_blind_restore_defaults(&p);
    if (tv >= 0)
        p.tv = tv;
    deconv_error err;
    deconv_image *x = deconv_deblur(y, k, &p, NULL, &err);
    if (!x) {
        fprintf(stderr, "levin: deblur: %s\n", err.message);
        exit(1);
    }
    deconv_image *c = deconv_crop_to_input(x, k->width, k->height);
    deconv_image_free(x);
    return c;
}

/* One summary line of the error ratios (sorts them). */
static void summarise(const char *what, double *r, int n)
{
    int le2 = 0, le3 = 0;
    for (int i = 0; i < n; i++)
        le2 += r[i] <= 2, le3 += r[i] <= 3;
    bench_sort(r, n);
    printf("# error ratio, %s: <= 2: %d, <= 3: %d, median %.2f, worst %.2f\n", what, le2, le3,
           r[n / 2], r[n - 1]);
}

int main(int argc, char **argv)
{
    const char *dir = "../shared/data/levin", *cases = NULL, *out = NULL, *reuse = NULL;
    double restore_tv = -1;
    int plain = 0, oracle = 0, sps = 1, all_starts = 0;
    double size_factor = 1; /* the kernel size given over the true one; 0: none */
    deconv_blind_params bp;
    deconv_blind_defaults(&bp);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (a[0] != '-') { dir = a; continue; }
        if (!strcmp(a, "--plain-restore")) { plain = 1; continue; }
        if (!strcmp(a, "--oracle")) { oracle = 1; continue; }
        if (!strcmp(a, "--no-sps")) { sps = 0; continue; }
        if (!strcmp(a, "--auto-size")) { size_factor = 0; continue; }
        if (!strcmp(a, "--all-starts")) { all_starts = 1; continue; }
        if (!v) { fprintf(stderr, "levin: %s needs a value\n", a); return 2; }
        i++;
        if (!strcmp(a, "--cases")) cases = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--reuse")) reuse = v;
        else if (!strcmp(a, "--restore-tv")) restore_tv = atof(v);
        else if (!strcmp(a, "--threads")) bp.threads = atoi(v);
        else if (!strcmp(a, "--scale")) bp.scale = atof(v); /* the pyramid's ratio */
        else if (!strcmp(a, "--size-factor")) size_factor = atof(v);
        else if (!strcmp(a, "--kernel-step")) bp.kernel_step = atof(v);
        else if (!strcmp(a, "--kernel-line-search"))
            bp.kernel_rule = !strcmp(v, "armijo") ? DECONV_STEP_ARMIJO
                             : !strcmp(v, "exact") ? DECONV_STEP_EXACT : DECONV_STEP_NONE;
        else if (!bench_blind_flag(a, v, &bp)) {
            fprintf(stderr, "levin: unknown option %s\n", a);
            return 2;
        }
    }
    printf("case,kernel,ratio,ncc,seconds,psnr_estimated,psnr_true,ratio_sps,"
           "psnr_sps_estimated,psnr_sps_true\n");
    double ratios[32], ratios_sps[32], nccs[32], secs[32];
    int n = 0;
    for (int im = 1; im <= 4; im++)
        for (int kn = 1; kn <= 8; kn++) {
            char name[32], path[1024];
            snprintf(name, sizeof name, "im%02d_kern%02d", im, kn);
            if (cases && !strstr(cases, name))
                continue;
            deconv_error err;
            snprintf(path, sizeof path, "%s/blurred/%s.png", dir, name);
            deconv_image *y = deconv_image_read(path, 0, NULL, &err);
            snprintf(path, sizeof path, "%s/sharp/%s.png", dir, name);
            deconv_image *sharp = deconv_image_read(path, 0, NULL, &err);
            snprintf(path, sizeof path, "%s/kernels/kern%02d.csv", dir, kn);
            deconv_kernel *f = deconv_kernel_load(path, 1, &err);
            if (!y || !sharp || !f) {
                fprintf(stderr, "levin: %s\n", err.message);
                return 1;
            }
            /* h = rot180(f) */
            int nk = f->width * f->height;
            deconv_kernel *h = deconv_kernel_new(f->width, f->height);
            for (int t = 0; t < nk; t++)
                h->data[t] = f->data[nk - 1 - t];
            bp.kernel_width = bp.kernel_height =
                size_factor > 0 ? 2 * (int)lround(size_factor * kernel_sizes[kn - 1] / 2) + 1 : 0;
            if (size_factor == 1)
                bp.kernel_width = bp.kernel_height = kernel_sizes[kn - 1];
            double t0 = omp_get_wtime();
            deconv_kernel *est;
            if (oracle) {
                est = oracle_kernel(y, sharp, kn);
            } else if (reuse) {
                snprintf(path, sizeof path, "%s/%s_kernel.csv", reuse, name);
                est = deconv_kernel_load(path, 1, &err);
            } else {
                if (all_starts) /* a comment line before the case's row */
                    printf("# %s starts", name);
                est = bench_blind_kernel(y, &bp, all_starts, h, &err);
                if (all_starts)
                    printf("\n");
            }
            if (!est) {
                fprintf(stderr, "levin: %s: %s\n", name, err.message);
                return 1;
            }
            double dt = omp_get_wtime() - t0;
            deconv_image *xe = restore(y, est, restore_tv, plain),
                         *xt = restore(y, h, restore_tv, plain);
            double ssd_e = best_ssd(xe, sharp), ssd_t = best_ssd(xt, sharp);
            double ratio = ssd_e / ssd_t;
            double npx = (double)(sharp->width - 2 * BORDER) * (sharp->height - 2 * BORDER);
            double ncc = bench_kernel_ncc_sized(est->data, est->width, est->height, h->data,
                                                h->width, h->height, SHIFT);
            double sps_e = NAN, sps_t = NAN;
            if (sps) {
                deconv_image *se = levin_sparse_deconv(y, est, SPS_WEIGHT, SPS_ITERATIONS),
                             *st = levin_sparse_deconv(y, h, SPS_WEIGHT, SPS_ITERATIONS);
                if (!se || !st) {
                    fprintf(stderr, "levin: out of memory\n");
                    return 1;
                }
                sps_e = best_ssd(se, sharp), sps_t = best_ssd(st, sharp);
                if (out) {
                    snprintf(path, sizeof path, "%s/%s_restored_sps.png", out, name);
                    deconv_image_write_png(se, path, 8, &err);
                }
                deconv_image_free(se), deconv_image_free(st);
            }
            printf("%s,%d,%.3f,%.3f,%.2f,%.2f,%.2f,%.3f,%.2f,%.2f\n", name, est->width,
                   ratio, ncc, dt, 10 * log10(npx / ssd_e), 10 * log10(npx / ssd_t),
                   sps_e / sps_t, 10 * log10(npx / sps_e), 10 * log10(npx / sps_t));
            fflush(stdout);
            if (out) {
                snprintf(path, sizeof path, "%s/%s_kernel.png", out, name);
                deconv_kernel_save(est, path, &err);
                snprintf(path, sizeof path, "%s/%s_kernel.csv", out, name);
                deconv_kernel_save(est, path, &err);
                snprintf(path, sizeof path, "%s/%s_restored.png", out, name);
                deconv_image_write_png(xe, path, 8, &err);
            }
            ratios[n] = ratio, ratios_sps[n] = sps_e / sps_t, nccs[n] = ncc, secs[n] = dt, n++;
            deconv_image_free(y), deconv_image_free(sharp), deconv_image_free(xe),
                deconv_image_free(xt);
            deconv_kernel_free(f), deconv_kernel_free(h), deconv_kernel_free(est);
        }
    if (!n)
        return 0;
    double mean_ncc = 0, total = 0;
    for (int i = 0; i < n; i++)
        mean_ncc += nccs[i] / n, total += secs[i];
    bench_sort(secs, n);
    printf("# %d cases: kernel NCC mean %.3f; seconds median %.2f, max %.2f, total %.1f\n", n,
           mean_ncc, secs[n / 2], secs[n - 1], total);
    summarise("deconv's restoration", ratios, n);
    if (sps)
        summarise("standard protocol (sparse deconvolution)", ratios_sps, n);
    return 0;
}
