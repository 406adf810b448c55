/* The kernel step's normal operator (P^T P + gamma) v: its direct sums
 * (kernel_step.c) against its FFT (kernel_normal.c), by kernel size, on one
 * thread. Prints for each size the median seconds an application of each
 * (of 7 batches; the FFT's plans and spectrum, made once a kernel step,
 * counted once a batch), their ratio and the largest difference relative to the
 * output's largest value. kernel_step.c takes the FFT from
 * KERNEL_FFT_MIN_TAPS on, from these figures.
 *
 *   kernel_normal [--sizes 15,19,...] */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "measure.h"

int deconv_blind_test_normal(int kw, int kh, const double *acr, double gamma, const double *v,
                             double *out, int fft, int reps);

/* median seconds of one application, by path */
static double time_apply(int k, const double *acr, const double *v, double *out, int fft)
{
    enum { BATCHES = 7 };
    double t[BATCHES];
    int reps = 1;
    for (;;) { /* a batch of at least 0.05 s */
        double t0 = bench_now();
        deconv_blind_test_normal(k, k, acr, 0.1, v, out, fft, reps);
        if (bench_now() - t0 > 0.05 || reps > 1 << 20)
            break;
        reps *= 2;
    }
    for (int b = 0; b < BATCHES; b++) {
        double t0 = bench_now();
        deconv_blind_test_normal(k, k, acr, 0.1, v, out, fft, reps);
        t[b] = (bench_now() - t0) / reps;
    }
    bench_sort(t, BATCHES);
    return t[BATCHES / 2];
}

int main(int argc, char **argv)
{
    int sizes[32] = {15, 19, 23, 27, 29, 31, 33, 35, 39, 45, 51, 61, 75, 101}, ns = 14;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
            ns = 0;
            for (char *s = strtok(argv[++i], ","); s && ns < 32; s = strtok(NULL, ","))
                sizes[ns++] = atoi(s);
        } else {
            fprintf(stderr, "usage: kernel_normal [--sizes 15,19,...]\n");
            return 2;
        }
    }
    omp_set_num_threads(1);
    bench_rng_state = bench_case_state(0, 0);
    printf("%5s %12s %12s %8s %10s\n", "size", "direct s", "fft s", "ratio", "rel diff");
    for (int s = 0; s < ns; s++) {
        const int k = sizes[s], aw = 2 * k - 1, nk = k * k;
        double *acr = malloc(sizeof(double) * aw * aw), *v = malloc(sizeof(double) * nk);
        double *o1 = malloc(sizeof(double) * nk), *o2 = malloc(sizeof(double) * nk);
        if (!acr || !v || !o1 || !o2)
            return 1;
        /* a symmetric autocorrelation (shift d and -d alike), rows reversed */
        for (int a = 0; a < aw; a++)
            for (int b = 0; b < aw; b++)
                acr[a * aw + b] = 0;
        for (int a = 0; a < aw; a++)
            for (int b = 0; b < aw; b++) {
                int ra = aw - 1 - a, rb = aw - 1 - b; /* shift -d */
                if (ra * aw + rb < a * aw + b)
                    continue;
                double g = bench_gaussian() * exp(-0.05 * ((a - k + 1) * (a - k + 1)));
                acr[a * aw + (aw - 1 - b)] = g, acr[ra * aw + (aw - 1 - rb)] = g;
            }
        for (int t = 0; t < nk; t++)
            v[t] = bench_uniform();
        deconv_blind_test_normal(k, k, acr, 0.1, v, o1, 0, 1);
        deconv_blind_test_normal(k, k, acr, 0.1, v, o2, 1, 1);
        double dmax = 0, omax = 0;
        for (int t = 0; t < nk; t++) {
            dmax = fmax(dmax, fabs(o1[t] - o2[t]));
            omax = fmax(omax, fabs(o1[t]));
        }
        double td = time_apply(k, acr, v, o1, 0), tf = time_apply(k, acr, v, o2, 1);
        printf("%5d %12.3e %12.3e %8.2f %10.1e\n", k, td, tf, td / tf, dmax / omax);
        free(acr), free(v), free(o1), free(o2);
    }
    return 0;
}
