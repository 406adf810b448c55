/* Blind estimation of the kernel (MODEL.md's f(x, h) minimised over both),
 * after Perrone and Favaro, "Total variation blind deconvolution: the devil
 * is in the details" (CVPR 2014):
 *   - alternate an image step (TV-regularised, deblur.c) and a kernel step
 *     (projected gradient with the exact step along X d);
 *   - the TV weight starts large and decreases, so that sharp edges appear
 *     first and the kernel is fitted to them (a plain least-squares
 *     alternation would drift to the blurry image and a delta kernel);
 *   - the kernel is projected onto {h >= 0, sum h = 1} after each step;
 *   - coarse to fine: each pyramid level starts from the upsampled image and
 *     kernel of the level below;
 *   - the kernel is kept centred, moving the image with it. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void deconv_blind_defaults(deconv_blind_params *p)
{
    memset(p, 0, sizeof *p);
    p->iterations = 80;
    p->kernel_iterations = 2;
    p->image_iterations = 2;
    p->rule = DECONV_STEP_ARMIJO;
    p->tv = 0;            /* automatic */
    p->tv_final = 0;      /* automatic */
    p->levels = 0;        /* automatic */
    p->scale = 0.7071067811865476;
}

/* One pyramid level's problem: y is N x M, x is (N+kw-1) x (M+kh-1). */
typedef struct {
    int N, M, kw, kh, xw, xh;
    float *y, *x, *h;
    float *r, *xd;      /* N x M */
    float *g, *d;       /* kernel sized */
} level;

static void level_free(level *l)
{
    deconv_free_floats(l->y);
    deconv_free_floats(l->x);
    deconv_free_floats(l->r);
    deconv_free_floats(l->xd);
    free(l->h);
    free(l->g);
    free(l->d);
    memset(l, 0, sizeof *l);
}

static int level_alloc(level *l, int N, int M, int kw, int kh)
{
    memset(l, 0, sizeof *l);
    l->N = N, l->M = M, l->kw = kw, l->kh = kh;
    l->xw = N + kw - 1, l->xh = M + kh - 1;
    size_t ny = (size_t)N * M, nx = (size_t)l->xw * l->xh, nk = (size_t)kw * kh;
    l->y = deconv_alloc_floats(ny);
    l->x = deconv_alloc_floats(nx);
    l->r = deconv_alloc_floats(ny);
    l->xd = deconv_alloc_floats(ny);
    l->h = malloc(nk * sizeof(float));
    l->g = malloc(nk * sizeof(float));
    l->d = malloc(nk * sizeof(float));
    if (!l->y || !l->x || !l->r || !l->xd || !l->h || !l->g || !l->d) {
        level_free(l);
        return 0;
    }
    return 1;
}

static void project_kernel(float *h, int kw, int kh)
{
    deconv_kernel k = {kw, kh, h};
    deconv_kernel_project(&k);
}

/* Kernel steps for a fixed x: projected gradient. The trial point is the
 * projection of the exact steepest-descent step; the step along the
 * resulting direction d is the exact minimiser of MODEL.md (with X d),
 * capped at 1 so the kernel stays on the simplex. r must hold h*x - y on
 * entry and holds it on exit. */
static void kernel_steps(level *l, int iterations)
{
    size_t ny = (size_t)l->N * l->M;
    int nk = l->kw * l->kh;
    for (int it = 0; it < iterations; it++) {
        deconv_corr_kernel(l->x, l->xw, l->xh, l->r, l->kw, l->kh, l->g);
        deconv_conv_valid(l->x, l->xw, l->xh, l->g, l->kw, l->kh, l->xd);
        double gg = deconv_dot(l->g, l->g, nk), xg = deconv_dot(l->xd, l->xd, ny);
        if (!(gg > 0) || !(xg > 0))
            return;
        float s = (float)(gg / xg);
        for (int t = 0; t < nk; t++)
            l->d[t] = l->h[t] - s * l->g[t];
        project_kernel(l->d, l->kw, l->kh);
        for (int t = 0; t < nk; t++)
            l->d[t] -= l->h[t];
        double gd = deconv_dot(l->g, l->d, nk);
        if (!(gd < 0))
            return;
        deconv_conv_valid(l->x, l->xw, l->xh, l->d, l->kw, l->kh, l->xd);
        double dd = deconv_dot(l->xd, l->xd, ny);
        double step = dd > 0 ? -gd / dd : 1.0;
        float t = (float)(step < 1.0 ? step : 1.0);
        for (int k = 0; k < nk; k++)
            l->h[k] += t * l->d[k];
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < ny; i++)
            l->r[i] += t * l->xd[i];
    }
}

/* Shift the kernel so that its centre of mass is at its middle, and the
 * image the other way, which leaves h * x unchanged (up to the pixels that
 * cross the borders). */
static void recentre(level *l)
{
    double sum = 0, ci = 0, cj = 0;
    for (int a = 0; a < l->kh; a++)
        for (int b = 0; b < l->kw; b++) {
            double v = l->h[a * l->kw + b];
            sum += v, ci += v * a, cj += v * b;
        }
    if (!(sum > 0))
        return;
    int di = (int)lround(ci / sum - (l->kh - 1) / 2.0);
    int dj = (int)lround(cj / sum - (l->kw - 1) / 2.0);
    if (di == 0 && dj == 0)
        return;
    /* h'[a][b] = h[a+di][b+dj]; x'[p][q] = x[p-di][q-dj]. */
    int nk = l->kw * l->kh;
    memcpy(l->d, l->h, nk * sizeof(float));
    for (int a = 0; a < l->kh; a++)
        for (int b = 0; b < l->kw; b++) {
            int sa = a + di, sb = b + dj;
            l->h[a * l->kw + b] =
                sa >= 0 && sa < l->kh && sb >= 0 && sb < l->kw ? l->d[sa * l->kw + sb] : 0.0f;
        }
    project_kernel(l->h, l->kw, l->kh);
    size_t nx = (size_t)l->xw * l->xh;
    float *tmp = malloc(nx * sizeof(float));
    if (!tmp)
        return;
    memcpy(tmp, l->x, nx * sizeof(float));
    for (int p = 0; p < l->xh; p++) {
        int sp = p - di < 0 ? 0 : (p - di >= l->xh ? l->xh - 1 : p - di);
        for (int q = 0; q < l->xw; q++) {
            int sq = q - dj < 0 ? 0 : (q - dj >= l->xw ? l->xw - 1 : q - dj);
            l->x[(size_t)p * l->xw + q] = tmp[(size_t)sp * l->xw + sq];
        }
    }
    free(tmp);
}

/* A kernel size scaled for a pyramid level, keeping the parity of the
 * full size (odd kernels keep a middle pixel). */
static int level_kernel_size(int k, double scale)
{
    int s = (int)lround(k * scale);
    if (s < 3)
        s = 3;
    if ((s - k) % 2)
        s++;
    return s > k ? k : s;
}

static int automatic_levels(int kw, int kh, double scale)
{
    int k = kw > kh ? kw : kh;
    if (k <= 3)
        return 1;
    return 1 + (int)ceil(log(k / 3.0) / log(1.0 / scale));
}

static deconv_status check_params(const deconv_image *y, const deconv_blind_params *p,
                                  deconv_error *err)
{
    if (!y || !p)
        return deconv_fail(err, DECONV_ERR_ARG, "missing image or parameters");
    if (p->kernel_width < 1 || p->kernel_height < 1)
        return deconv_fail(err, DECONV_ERR_ARG, "kernel size %dx%d must be at least 1x1",
                           p->kernel_width, p->kernel_height);
    if (p->kernel_width > y->width || p->kernel_height > y->height)
        return deconv_fail(err, DECONV_ERR_KERNEL,
                           "kernel size %dx%d is larger than the image %dx%d",
                           p->kernel_width, p->kernel_height, y->width, y->height);
    if (p->iterations < 1 || p->kernel_iterations < 1 || p->image_iterations < 1 ||
        !(p->scale > 0.05 && p->scale < 1) || p->levels < 0 || !isfinite(p->tv) ||
        !isfinite(p->tv_final) || !isfinite(p->step) || !isfinite(p->kernel_step))
        return deconv_fail(err, DECONV_ERR_ARG, "blind parameters out of range");
    if (p->init && (p->init->width != p->kernel_width || p->init->height != p->kernel_height))
        return deconv_fail(err, DECONV_ERR_ARG,
                           "the starting kernel is %dx%d, not the kernel size %dx%d",
                           p->init->width, p->init->height, p->kernel_width, p->kernel_height);
    return DECONV_OK;
}

/* The starting kernel of the coarsest level. */
static void initial_kernel(level *l, const deconv_blind_params *p)
{
    int nk = l->kw * l->kh;
    if (p->init) {
        deconv_resize(p->init->data, p->init->width, p->init->height, l->h, l->kw, l->kh);
    } else if (p->init_gaussian) {
        double ci = (l->kh - 1) / 2.0, cj = (l->kw - 1) / 2.0;
        for (int a = 0; a < l->kh; a++)
            for (int b = 0; b < l->kw; b++)
                l->h[a * l->kw + b] = (float)exp(-((a - ci) * (a - ci) + (b - cj) * (b - cj)) / 2.0);
    } else {
        memset(l->h, 0, nk * sizeof(float));
        l->h[((l->kh - 1) / 2) * l->kw + (l->kw - 1) / 2] = 1.0f;
    }
    project_kernel(l->h, l->kw, l->kh);
}

deconv_kernel *deconv_blind_kernel(const deconv_image *y, const deconv_blind_params *p,
                                   deconv_error *err)
{
    if (check_params(y, p, err) != DECONV_OK)
        return NULL;
    int saved_threads = omp_get_max_threads();
    if (p->threads > 0)
        omp_set_num_threads(p->threads);

    deconv_kernel *result = NULL;
    level cur = {0}, next = {0};
    deconv_image *lum = deconv_image_luminance(y);
    if (!lum) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
        goto done;
    }
    const int KW = p->kernel_width, KH = p->kernel_height, N = y->width, M = y->height;
    const double scale = p->scale;
    const int levels = p->levels > 0 ? p->levels : automatic_levels(KW, KH, scale);
    const double tv0 = p->tv > 0 ? p->tv : 0.02;
    const double tv1 = p->tv_final > 0 ? p->tv_final : tv0 / 20.0;

    for (int lv = 0; lv < levels; lv++) {
        double sc = pow(scale, levels - 1 - lv);
        int kw = lv == levels - 1 ? KW : level_kernel_size(KW, sc);
        int kh = lv == levels - 1 ? KH : level_kernel_size(KH, sc);
        int n = lv == levels - 1 ? N : (int)lround(N * sc);
        int m = lv == levels - 1 ? M : (int)lround(M * sc);
        if (n < kw)
            n = kw;
        if (m < kh)
            m = kh;
        if (!level_alloc(&next, n, m, kw, kh)) {
            deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for pyramid level %d", lv + 1);
            goto done;
        }
        deconv_resize(lum->data, N, M, next.y, n, m);
        if (lv == 0) {
            deconv_pad_replicate(next.y, n, m, (kh - 1) / 2, kh - 1 - (kh - 1) / 2,
                                 (kw - 1) / 2, kw - 1 - (kw - 1) / 2, next.x);
            initial_kernel(&next, p);
        } else {
            deconv_resize(cur.x, cur.xw, cur.xh, next.x, next.xw, next.xh);
            deconv_resize(cur.h, cur.kw, cur.kh, next.h, kw, kh);
            project_kernel(next.h, kw, kh);
        }
        level_free(&cur);
        cur = next;
        memset(&next, 0, sizeof next);

        deconv_deblur_params ip;
        deconv_deblur_defaults(&ip);
        ip.iterations = p->image_iterations;
        ip.tol = 0;
        ip.rule = p->rule;
        ip.step = p->step;
        ip.cancel = p->cancel;
        double decay = pow(tv1 / tv0, 1.0 / (p->iterations > 1 ? p->iterations - 1 : 1));
        for (int it = 0; it < p->iterations; it++) {
            if (p->cancel && *p->cancel) {
                deconv_fail(err, DECONV_ERR_INTERRUPTED, "interrupted at level %d", lv + 1);
                goto done;
            }
            ip.tv = tv0 * pow(decay, it);
            deconv_status st = deconv_image_step(cur.x, cur.y, cur.N, cur.M, cur.h, cur.kw,
                                                 cur.kh, &ip, 0, 1, NULL, NULL, err);
            if (st != DECONV_OK)
                goto done;
            double f = deconv_objective(cur.x, cur.y, cur.N, cur.M, cur.h, cur.kw, cur.kh,
                                        cur.r, NULL, NULL);
            kernel_steps(&cur, p->kernel_iterations);
            if (it % 10 == 9)
                recentre(&cur);
            if (p->progress) {
                deconv_progress pr = {it + 1, 0, 1, f, f, 0, "kernel", lv, levels};
                if (p->progress(&pr, p->progress_user)) {
                    deconv_fail(err, DECONV_ERR_INTERRUPTED, "stopped at level %d", lv + 1);
                    goto done;
                }
            }
        }
        recentre(&cur);
    }
    result = deconv_kernel_new(KW, KH);
    if (!result) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(result->data, cur.h, (size_t)KW * KH * sizeof(float));
done:
    level_free(&cur);
    level_free(&next);
    deconv_image_free(lum);
    omp_set_num_threads(saved_threads);
    return result;
}
