/* Iterations and seconds each method of the image step needs to reach a
 * fixed objective: F* + 1e-3 (F0 - F*), with F* the lowest value any
 * method reaches in a long run. Photos blurred by a motion kernel with 1 %
 * noise; the default objective (TV from the noise, box) for gd and
 * nesterov with each step rule, and the quadratic one (no TV, no box) where
 * conjugate gradient applies too. Prints a table; medians of 3 runs.
 *
 *   convergence [PHOTO.png ...]      (default: tests/data/camera.png) */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconv.h"

typedef struct {
    double target, t0;
    int reached_at;
    double seconds;
    double best;
} watch;

static int on_progress(const deconv_progress *p, void *user)
{
    watch *w = user;
    if (p->objective < w->best)
        w->best = p->objective;
    if (w->reached_at == 0 && p->objective <= w->target) {
        w->reached_at = p->iteration;
        w->seconds = omp_get_wtime() - w->t0;
        return 1; /* stop: reached */
    }
    return 0;
}

typedef struct {
    const char *name;
    deconv_method method;
    deconv_step_rule rule;
} variant;

static double run(const float *y, int N, int M, const deconv_kernel *k,
                  const deconv_deblur_params *base, variant v, int iterations, watch *w)
{
    int xw = N + k->width - 1, xh = M + k->height - 1;
    float *x = malloc(sizeof(float) * xw * xh);
    deconv_pad_replicate(y, N, M, (k->height - 1) / 2, k->height - 1 - (k->height - 1) / 2,
                         (k->width - 1) / 2, k->width - 1 - (k->width - 1) / 2, x);
    deconv_deblur_params p = *base;
    p.method = v.method, p.rule = v.rule, p.iterations = iterations, p.tol = 0;
    p.progress = on_progress, p.progress_user = w;
    w->reached_at = 0, w->best = INFINITY, w->t0 = omp_get_wtime();
    deconv_error err;
    double f = NAN;
    deconv_status st = deconv_image_step(x, y, N, M, k->data, k->width, k->height, &p, 0, 1,
                                         NULL, &f, &err);
    if (st != DECONV_OK && st != DECONV_ERR_INTERRUPTED)
        fprintf(stderr, "convergence: %s: %s\n", v.name, err.message);
    free(x);
    return w->best;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void table(const char *title, const float *y, int N, int M, const deconv_kernel *k,
                  const deconv_deblur_params *base, const variant *vs, int nv)
{
    /* F0 and F*: the start, and the lowest any method reaches in 1500. */
    double fstar = INFINITY, f0;
    watch w = {-INFINITY, 0, 0, 0, 0};
    for (int i = 0; i < nv; i++) {
        double f = run(y, N, M, k, base, vs[i], 1500, &w);
        if (f < fstar)
            fstar = f;
    }
    {
        int xw = N + k->width - 1, xh = M + k->height - 1;
        float *x = malloc(sizeof(float) * xw * xh), *r = malloc(sizeof(float) * N * M);
        deconv_pad_replicate(y, N, M, (k->height - 1) / 2, k->height - 1 - (k->height - 1) / 2,
                             (k->width - 1) / 2, k->width - 1 - (k->width - 1) / 2, x);
        f0 = deconv_objective(x, y, N, M, k->data, k->width, k->height, r, NULL, NULL);
        if (base->tv > 0)
            f0 += base->tv * deconv_tv(x, xw, xh, base->tv_eps, 0, NULL);
        free(x), free(r);
    }
    double target = fstar + 1e-3 * (f0 - fstar);
    printf("\n%s: F0 %.6g, F* %.6g, target F* + 1e-3 (F0 - F*)\n", title, f0, fstar);
    printf("  %-18s %10s %10s\n", "method", "iterations", "seconds");
    for (int i = 0; i < nv; i++) {
        double secs[3];
        int its = 0;
        for (int rep = 0; rep < 3; rep++) {
            w.target = target;
            run(y, N, M, k, base, vs[i], 1500, &w);
            its = w.reached_at;
            secs[rep] = w.reached_at ? w.seconds : INFINITY;
        }
        qsort(secs, 3, sizeof(double), cmp);
        if (its)
            printf("  %-18s %10d %10.3f\n", vs[i].name, its, secs[1]);
        else
            printf("  %-18s %10s %10s\n", vs[i].name, "> 1500", "-");
    }
}

int main(int argc, char **argv)
{
    const char *def[] = {DECONV_SOURCE_DIR "/tests/data/camera.png"};
    const char **photos = argc > 1 ? (const char **)argv + 1 : def;
    int nphotos = argc > 1 ? argc - 1 : 1;
    deconv_error err;
    deconv_kernel *k = deconv_kernel_motion(15, 30, &err);
    for (int ph = 0; ph < nphotos; ph++) {
        deconv_image *im = deconv_image_read(photos[ph], 0, NULL, &err);
        if (!im) {
            fprintf(stderr, "convergence: %s\n", err.message);
            return 1;
        }
        deconv_image *lum = deconv_image_luminance(im);
        int N = lum->width - k->width + 1, M = lum->height - k->height + 1;
        float *y = malloc(sizeof(float) * N * M);
        deconv_conv_valid(lum->data, lum->width, lum->height, k->data, k->width, k->height, y);
        unsigned long long s = 12345;
        for (int i = 0; i < N * M; i++) { /* 1 % Gaussian noise (Box-Muller) */
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            double u1 = ((s >> 11) + 1.0) / 9007199254740993.0;
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            double u2 = (s >> 11) / 9007199254740992.0;
            y[i] += (float)(0.01 * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
        }
        printf("== %s (%d x %d), motion 15 at 30 degrees, 1 %% noise\n", photos[ph], N, M);
        deconv_deblur_params p;
        deconv_deblur_defaults(&p);
        p.tv = 0.1 * 0.01; /* the default's weight for 1 % noise */
        variant regularised[] = {{"nesterov armijo", DECONV_METHOD_NESTEROV, DECONV_STEP_ARMIJO},
                                 {"nesterov exact", DECONV_METHOD_NESTEROV, DECONV_STEP_EXACT},
                                 {"gd armijo", DECONV_METHOD_GD, DECONV_STEP_ARMIJO},
                                 {"gd exact", DECONV_METHOD_GD, DECONV_STEP_EXACT}};
        table("TV and box (the defaults)", y, N, M, k, &p, regularised, 4);
        p.tv = 0, p.clip = 0;
        variant quadratic[] = {{"cg", DECONV_METHOD_CG, DECONV_STEP_EXACT},
                               {"nesterov armijo", DECONV_METHOD_NESTEROV, DECONV_STEP_ARMIJO},
                               {"gd exact", DECONV_METHOD_GD, DECONV_STEP_EXACT}};
        table("quadratic (--tv 0 --no-clip)", y, N, M, k, &p, quadratic, 3);
        free(y);
        deconv_image_free(lum), deconv_image_free(im);
    }
    deconv_kernel_free(k);
    return 0;
}
