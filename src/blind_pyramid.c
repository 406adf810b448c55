/* One blind estimate (blind.c): the coarse-to-fine alternation of image
 * steps and kernel steps, level by level, then the refinement. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blind_internal.h"
#include "data_term.h"

void blind_level_free(level *l)
{
    deconv_free_floats(l->y);
    deconv_free_floats(l->x);
    deconv_free_floats(l->dy_c);
    deconv_free_floats(l->dy_r);
    deconv_free_floats(l->px);
    deconv_free_floats(l->py);
    free(l->h);
    free(l->ac);
    free(l->c);
    free(l->tmp);
    free(l->g);
    free(l->z);
    free(l->hp);
    free(l->stack);
    deconv_free_floats(l->clip);
    deconv_free_floats(l->yfit);
    deconv_free_floats(l->wdata);
    deconv_free_floats(l->wy);
    deconv_free_floats(l->wx);
    deconv_free_floats(l->shocked);
    deconv_l0_free(l->l0);
    deconv_normal_free(l->normal);
    kernel_fft_free(l->kfft);
    deconv_image_work_free(l->iwork);
    memset(l, 0, sizeof *l);
}

int blind_level_alloc(level *l, int N, int M, int kw, int kh)
{
    memset(l, 0, sizeof *l);
    l->N = N, l->M = M, l->kw = kw, l->kh = kh;
    l->xw = N + kw - 1, l->xh = M + kh - 1;
    size_t ny = (size_t)N * M, nx = (size_t)l->xw * l->xh, nk = (size_t)kw * kh;
    l->y = deconv_alloc_floats(ny);
    l->x = deconv_alloc_floats(nx);
    l->dy_c = deconv_alloc_floats(ny);
    l->dy_r = deconv_alloc_floats(ny);
    l->px = deconv_alloc_floats(nx);
    l->py = deconv_alloc_floats(nx);
    l->h = malloc(nk * sizeof(float));
    l->ac = malloc((size_t)(2 * kw - 1) * (2 * kh - 1) * sizeof(double));
    l->c = malloc(nk * sizeof(float));
    l->tmp = malloc(nk * sizeof(float));
    l->g = malloc(nk * sizeof(double));
    l->z = malloc(nk * sizeof(double));
    l->hp = malloc(nk * sizeof(double));
    l->stack = malloc(nk * sizeof(int));
    if (!l->y || !l->x || !l->dy_c || !l->dy_r || !l->px || !l->py || !l->h || !l->ac ||
        !l->c || !l->tmp || !l->g || !l->z || !l->hp || !l->stack) {
        blind_level_free(l);
        return 0;
    }
    return 1;
}

void blind_project_kernel(float *h, int kw, int kh)
{
    deconv_kernel k = {kw, kh, h};
    deconv_kernel_project(&k);
}

/* The state a level's later stages read; the rest is scratch or made on
 * first use. Returns 0 when out of memory. */
int blind_level_copy(level *dst, const level *src)
{
    if (!blind_level_alloc(dst, src->N, src->M, src->kw, src->kh))
        return 0;
    size_t ny = (size_t)src->N * src->M, nx = (size_t)src->xw * src->xh;
    memcpy(dst->y, src->y, ny * sizeof(float));
    memcpy(dst->dy_c, src->dy_c, ny * sizeof(float));
    memcpy(dst->dy_r, src->dy_r, ny * sizeof(float));
    memcpy(dst->x, src->x, nx * sizeof(float));
    memcpy(dst->h, src->h, (size_t)src->kw * src->kh * sizeof(float));
    if (src->clip) {
        dst->clip = deconv_alloc_floats(ny);
        dst->yfit = deconv_alloc_floats(ny);
        if (!dst->clip || !dst->yfit)
            return 0;
        memcpy(dst->clip, src->clip, ny * sizeof(float));
        memcpy(dst->yfit, src->yfit, ny * sizeof(float));
    }
    if (src->wy) {
        dst->wy = deconv_alloc_floats(ny);
        dst->wx = deconv_alloc_floats(nx);
        dst->wdata = deconv_alloc_floats(ny);
        if (!dst->wy || !dst->wx || !dst->wdata)
            return 0;
        memcpy(dst->wy, src->wy, ny * sizeof(float));
        memcpy(dst->wx, src->wx, nx * sizeof(float));
        memcpy(dst->wdata, src->wdata, ny * sizeof(float));
    }
    return 1;
}

/* The L0 image step on level l with weight lambda (sparse_prior.c), its
 * work made at the first call. Returns 0 when out of memory. */
static int l0_step(level *l, double lambda)
{
    if (!l->l0 && !(l->l0 = deconv_l0_new(l->N, l->M, l->kw, l->kh)))
        return 0;
    deconv_l0_image_step(l->l0, l->x, l->yfit ? l->yfit : l->y, l->h, lambda, 1e5);
    return 1;
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
    blind_project_kernel(l->h, l->kw, l->kh);
}

/* The h step of the loop: E(h) = 1/2 sum_d ||h * P_d - D_d y||^2 +
 * gamma/2 ||h||^2 + mu/2 ||grad h||^2, h >= 0, on the edges of x selected
 * with `count` a orientation (1e30: every non-zero gradient), the clipped
 * pixels masked, then the small values pruned. gamma and mu are
 * p->kernel_reg and `smooth` times the selected edges' energy. `where`
 * ends the out-of-memory message. */
static deconv_status kernel_step(level *cur, const deconv_blind_params *p, double count,
                                 double smooth, const char *where, deconv_error *err)
{
    blind_select_edges(cur, count);
    if (!blind_mask_clipped(cur))
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory %s", where);
    double energy = blind_kernel_setup(cur);
    cur->smooth = smooth * energy;
    deconv_status st = blind_kernel_steps(cur, p->kernel_iterations, p->kernel_reg * energy,
                                          p->kernel_rule, p->kernel_step, err);
    if (st == DECONV_OK)
        blind_prune_small(cur->h, cur->kw, cur->kh, PRUNE);
    return st;
}

/* Pyramid level lv of `levels` (0 the coarsest, scale sc): its problem made
 * from lum and from the level below (cur, which it replaces; prev_sc its
 * scale), then the TV alternation from tv0 to tv1, the kernel steps
 * smoothed by `smooth` (kernel_step). */
static deconv_status pyramid_level(const deconv_image *lum, const deconv_blind_params *p, int lv,
                                   int levels, double sc, double prev_sc, double tv0, double tv1,
                                   double smooth, int progress, level *cur, deconv_error *err)
{
    const int KW = p->kernel_width, KH = p->kernel_height, N = lum->width, M = lum->height;
    int kw = lv == levels - 1 ? KW : level_kernel_size(KW, sc);
    int kh = lv == levels - 1 ? KH : level_kernel_size(KH, sc);
    int n = lv == levels - 1 ? N : (int)lround(N * sc);
    int m = lv == levels - 1 ? M : (int)lround(M * sc);
    if (n < kw)
        n = kw;
    if (m < kh)
        m = kh;
    level next;
    if (!blind_level_alloc(&next, n, m, kw, kh))
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for pyramid level %d", lv + 1);
    deconv_resize(lum->data, N, M, next.y, n, m);
    if (lum->channels == 2) { /* blind_camera_input: the clip mask follows */
        size_t ny = (size_t)n * m;
        next.clip = deconv_alloc_floats(ny);
        next.yfit = deconv_alloc_floats(ny);
        if (!next.clip || !next.yfit) {
            blind_level_free(&next);
            return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for pyramid level %d", lv + 1);
        }
        deconv_resize(deconv_image_plane(lum, 1), N, M, next.clip, n, m);
        for (size_t i = 0; i < ny; i++) /* a level pixel mostly clipped */
            next.clip[i] = next.clip[i] > 0.5f ? 1.0f : 0.0f;
    }
    if (lv == 0) {
        deconv_pad_replicate(next.y, n, m, (kh - 1) / 2, kh - 1 - (kh - 1) / 2, (kw - 1) / 2,
                             kw - 1 - (kw - 1) / 2, next.x);
        initial_kernel(&next, p);
    } else {
        deconv_resize(cur->x, cur->xw, cur->xh, next.x, next.xw, next.xh);
        blind_resample_kernel(cur->h, cur->kw, cur->kh, sc / prev_sc, next.h, kw, kh);
        blind_project_kernel(next.h, kw, kh);
    }
    next.shock = cur->shock;
    next.one_sided = cur->one_sided;
    blind_level_free(cur);
    *cur = next;
    if (!deconv_response_is_linear(&p->response) && !blind_whiten_setup(cur, &p->response))
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for pyramid level %d", lv + 1);
    blind_differences(cur->y, cur->N, cur->M, cur->dy_c, cur->dy_r);
    blind_whiten_y(cur);

    deconv_deblur_params ip;
    deconv_deblur_defaults(&ip);
    ip.iterations = p->image_iterations;
    ip.tol = 0;
    ip.rule = p->rule;
    ip.step = p->step;
    ip.cancel = p->cancel;
    ip.tv_eps = 1e-3;
    if (cur->clip)
        blind_camera_step_response(&ip.response);
    double decay = pow(tv1 / tv0, 1.0 / (p->iterations > 1 ? p->iterations - 1 : 1));
    double count = 2.0 * sqrt((double)kw * kh);
    char where[32]; /* for kernel_step's messages */
    snprintf(where, sizeof where, "at level %d", lv + 1);
    for (int it = 0; it < p->iterations; it++) {
        if (p->cancel && *p->cancel)
            return deconv_fail(err, DECONV_ERR_INTERRUPTED, "interrupted at level %d", lv + 1);
        double f = 0;
        if (p->sparse_prior) {
            /* x step: F(x) = 1/2 ||h*x - y||^2 + lambda/2 ||grad x||_0,
             * lambda from 4e-3 to 4e-4 within the level (sparse_prior.c) */
            double lambda = 4e-3 * pow(0.1, it / (double)(p->iterations > 1 ? p->iterations - 1 : 1));
            if (!l0_step(cur, lambda))
                return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory at level %d", lv + 1);
        } else {
            /* x step: F(x) = 1/2 ||h*x - y||^2 + lambda TV(x), lambda
             * from tv to tv_final within the level (image_step.c); the
             * squares weighted under the camera's model (blind_whiten.c) */
            ip.tv = tv0 * pow(decay, it);
            if (!cur->iwork && !(cur->iwork = deconv_image_work_new()))
                return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory at level %d", lv + 1);
            deconv_status st =
                deconv_image_step_weighted(cur->x, cur->y, cur->wdata, cur->N, cur->M, cur->h,
                                           cur->kw, cur->kh, &ip, 0, 1, cur->iwork, NULL, &f,
                                           err);
            if (st != DECONV_OK)
                return st;
        }
        /* h step on the selected edges of x (every non-zero gradient with
         * the sparse prior, whose x is already piecewise flat) */
        deconv_status kst =
            kernel_step(cur, p, p->sparse_prior ? 1e30 : count * pow(1.1, it), smooth, where, err);
        if (kst != DECONV_OK)
            return kst;
        if (progress && p->progress) {
            deconv_progress pr = {it + 1, 0, 1, f, f, 0, "kernel", lv, levels};
            if (p->progress(&pr, p->progress_user))
                return deconv_fail(err, DECONV_ERR_INTERRUPTED, "stopped at level %d", lv + 1);
        }
    }
    return DECONV_OK;
}

/* Refinement at the finest level: the TV loop has found the kernel's
 * shape; a weak L0 prior now keeps nearly every gradient of x, which fits
 * the kernel far more accurately from a good start.
 *   x step: F(x) = 1/2 ||h*x - y||^2 + lambda/2 ||grad x||_0
 *   h step: E(h) as above, with every non-zero gradient of x */
static deconv_status refinement(const deconv_blind_params *p, double smooth, level *cur,
                                 deconv_error *err)
{
    for (int it = 0; it < p->refine; it++) {
        if (p->cancel && *p->cancel)
            return deconv_fail(err, DECONV_ERR_INTERRUPTED, "interrupted in the refinement");
        if (!blind_fit_target(cur) || !l0_step(cur, p->refine_lambda))
            return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory in the refinement");
        deconv_status kst = kernel_step(cur, p, 1e30, smooth, "in the refinement", err);
        if (kst != DECONV_OK)
            return kst;
    }
    return DECONV_OK;
}

/* One estimate of the kernel of the luminance lum, the TV schedule of the
 * blind loop starting at tv0, the kernel steps smoothed by `smooth`
 * (relative to the edges' energy: kernel_step), and the pieces of the
 * kernel holding less than the fraction `pieces` of its mass removed at
 * the end of each stage: the coarse-to-fine alternation, then the
 * refinement. Writes the kernel (KW x KH) to h_out. progress: whether to
 * call p->progress (only one of several concurrent estimates does).
 * record (or NULL): where the fork point for record->pieces is kept.
 * resume (or NULL): a fork point to start from instead of from the
 * coarsest level (its state is taken). shock: the shock filter's steps
 * before edge selection; one_sided: blind_mask_clipped's rule for large
 * clipped pieces. */
deconv_status blind_estimate(const deconv_image *lum, const deconv_blind_params *p, double tv0,
                             double smooth, double pieces, int shock, int one_sided,
                             int progress, fork_point *record, fork_point *resume, float *h_out,
                             deconv_error *err)
{
    deconv_status status = DECONV_OK;
    level cur = {0};
    const int KW = p->kernel_width, KH = p->kernel_height;
    const int levels = p->levels > 0 ? p->levels : automatic_levels(KW, KH, p->scale);
    const double tv1 = p->tv_final > 0 ? p->tv_final * tv0 / (p->tv > 0 ? p->tv : DEFAULT_TV)
                                       : tv0 / 10.0;
    int first = 0;
    double prev_sc = 1;
    if (resume) {
        cur = resume->state;
        memset(&resume->state, 0, sizeof resume->state);
        first = resume->stage;
    }
    cur.shock = shock;
    cur.one_sided = one_sided;
    /* stages 0 .. levels-1: the pyramid; stage `levels`: the refinement */
    for (int stage = first; stage <= levels; stage++) {
        int resumed = resume && stage == first;
        double sc = stage < levels ? pow(p->scale, levels - 1 - stage) : 1;
        if (stage == levels && p->refine == 0)
            break;
        if (!resumed) {
            status = stage < levels ? pyramid_level(lum, p, stage, levels, sc, prev_sc, tv0, tv1,
                                                    smooth, progress, &cur, err)
                                    : refinement(p, smooth, &cur, err);
            if (status != DECONV_OK)
                goto done;
        }
        prev_sc = sc;
        if (record && record->stage < 0 &&
            blind_prune_pieces(&cur, pieces, 1) != blind_prune_pieces(&cur, record->pieces, 1)) {
            if (!blind_level_copy(&record->state, &cur)) {
                status = deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
                goto done;
            }
            record->stage = stage;
        }
        blind_prune_pieces(&cur, pieces, 0);
        blind_recentre(&cur);
    }
    memcpy(h_out, cur.h, (size_t)KW * KH * sizeof(float));
done:
    blind_level_free(&cur);
    return status;
}
