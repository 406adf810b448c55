/* Blind estimation of the kernel: MODEL.md's f(x, h) minimised over both,
 * by alternating an image step and a kernel step, coarse to fine.
 *
 * The two objectives the loop alternates between (level by level):
 *
 *   image step   F(x) = 1/2 ||h * x - y||^2 + lambda TV(x)
 *                       projected (Nesterov) gradient steps of image_step.c,
 *                       warm started; lambda starts large and decreases
 *                       (Perrone and Favaro, CVPR 2014), so the strong
 *                       edges of x appear first and the kernel is fitted
 *                       to them. With sparse_prior, lambda/2 ||grad x||_0
 *                       instead (sparse_prior.c: half-quadratic splitting
 *                       by FFT).
 *
 *   kernel step  E(h) = 1/2 sum_{d = col, row} ||h * P_d - D_d y||^2
 *                       + gamma/2 ||h||^2,         h >= 0, then sum h = 1
 *                where D_d are forward differences and P_d = D_d x with
 *                the weak gradients removed (edge selection: only the
 *                strongest gradients of each orientation are kept, Cho and
 *                Lee 2009; Xu and Jia 2010). Fitting the kernel on
 *                gradients rather than intensities is far better
 *                conditioned; the selected edges carry the kernel's
 *                shape. E is minimised by accelerated projected gradient
 *                (FISTA). Its normal operator P^T P is applied through the
 *                autocorrelation of P over the kernel's shifts (the
 *                boundary terms of the valid window are neglected),
 *                computed once per step by FFT, so each kernel iteration
 *                costs a kernel-sized correlation, not an image-sized one.
 *
 * After each kernel step, values below max/50 are removed; at the end of a
 * level, pieces of the kernel not connected to its main mass (holding less
 * than piece_fraction of it) are removed and the kernel is recentred
 * (moving x with it). Each level starts from the image and kernel of the
 * level below, resampled.
 *
 * Last, a refinement at the finest level alternates `refine` times an L0
 * image step with a small weight (refine_lambda) and a kernel step on every
 * non-zero gradient of that x: from the TV loop's kernel, this fits the
 * kernel's fine structure, which the TV image (flattened, strong edges
 * only) cannot.
 *
 * The alternation is chaotic: a small change of its settings can move the
 * estimate far. deconv_blind_kernel runs up to five estimates (starts)
 * that differ in their TV weight or piece fraction (and, for kernels of 51
 * pixels or more, in the third, edges selected on a shock-filtered x; where
 * a clipped piece is larger than the kernel, in the fifth, its rule there) and
 * keeps the one whose restoration looks sharpest with the most compact
 * kernel (start_score); a kernel of 51 pixels or more on a noisy photo is
 * the shock-filtered start's alone (blind_starts.c).
 *
 * The parts, one job a file (blind_internal.h declares what they share):
 *   blind.c          the parameters and deconv_blind_kernel
 *   blind_window.c   the window of the photo the kernel is estimated on
 *   blind_starts.c   the starts, run side by side, and their score
 *   blind_pyramid.c  one estimate: the levels and the refinement
 *   blind_edges.c    gradients, edge selection and its shock filter
 *   kernel_step.c    the kernel step (FISTA on E)
 *   kernel_normal.c  its normal operator by FFT, for large kernels
 *   kernel_prune.c   small values and pieces removed, recentring, resampling
 *   blind_clip.c     the camera's clipped pixels (MODEL.md, "The camera")
 *   blind_whiten.c   the camera's noise: both steps fit in the file's units */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "blind_internal.h"

void deconv_blind_defaults(deconv_blind_params *p)
{
    memset(p, 0, sizeof *p);
    p->iterations = 50;
    p->kernel_iterations = 30;
    p->image_iterations = 8;
    p->rule = DECONV_STEP_ARMIJO;
    p->kernel_rule = DECONV_STEP_NONE; /* the safe step: no line search needed */
    p->tv = 0;            /* automatic: 0.02 */
    p->tv_final = 0;      /* automatic: tv / 10 */
    p->levels = 0;        /* automatic */
    p->scale = 0.7071067811865476;
    p->refine = 10;
    p->refine_lambda = 5e-4;
    p->kernel_smooth = DECONV_BLIND_KERNEL_SMOOTH;
    p->starts = 5;
    p->estimate_pixels = DECONV_BLIND_ESTIMATE_PIXELS;
    deconv_response_linear(&p->response);
}

deconv_status blind_check_params(const deconv_image *y, const deconv_blind_params *p,
                                  deconv_error *err)
{
    if (!y || !p)
        return deconv_fail(err, DECONV_ERR_ARG, "missing image or parameters");
    if (p->kernel_width == 0 && p->kernel_height == 0) {
        /* automatic: the smallest size must fit */
        if (y->width < DECONV_BLIND_MIN_AUTO_KERNEL || y->height < DECONV_BLIND_MIN_AUTO_KERNEL)
            return deconv_fail(err, DECONV_ERR_KERNEL,
                               "the image %dx%d is too small to choose a kernel size for "
                               "(at least %dx%d)",
                               y->width, y->height, DECONV_BLIND_MIN_AUTO_KERNEL,
                               DECONV_BLIND_MIN_AUTO_KERNEL);
    } else if (p->kernel_width < 1 || p->kernel_height < 1)
        return deconv_fail(err, DECONV_ERR_ARG, "kernel size %dx%d must be at least 1x1",
                           p->kernel_width, p->kernel_height);
    else if (p->kernel_width > y->width || p->kernel_height > y->height)
        return deconv_fail(err, DECONV_ERR_KERNEL,
                           "kernel size %dx%d is larger than the image %dx%d",
                           p->kernel_width, p->kernel_height, y->width, y->height);
    if (p->iterations < 1 || p->kernel_iterations < 1 || p->image_iterations < 1 ||
        !(p->scale > 0.05 && p->scale < 1) || p->levels < 0 || !isfinite(p->tv) ||
        !isfinite(p->tv_final) || !isfinite(p->step) || !isfinite(p->kernel_step) ||
        (p->kernel_rule != DECONV_STEP_NONE && p->kernel_rule != DECONV_STEP_ARMIJO &&
         p->kernel_rule != DECONV_STEP_EXACT) ||
        p->refine < 0 || (p->refine > 0 && !(p->refine_lambda > 0)) || p->starts < 0 ||
        p->starts > MAX_STARTS || !(p->estimate_pixels >= 0) || !(p->piece_fraction < 1) ||
        !(p->kernel_smooth >= 0 && p->kernel_smooth < INFINITY))
        return deconv_fail(err, DECONV_ERR_ARG, "blind parameters out of range");
    if (p->region_width || p->region_height) {
        if (p->region_x < 0 || p->region_y < 0 || p->region_width < 1 || p->region_height < 1 ||
            p->region_width > y->width - p->region_x || p->region_height > y->height - p->region_y)
            return deconv_fail(err, DECONV_ERR_ARG,
                               "the region %dx%d at (%d, %d) is not inside the %dx%d image",
                               p->region_width, p->region_height, p->region_x, p->region_y,
                               y->width, y->height);
        if (p->region_width < p->kernel_width || p->region_height < p->kernel_height)
            return deconv_fail(err, DECONV_ERR_KERNEL,
                               "the region %dx%d is smaller than the kernel %dx%d",
                               p->region_width, p->region_height, p->kernel_width,
                               p->kernel_height);
    }
    if (p->init && (p->kernel_width || p->kernel_height) &&
        (p->init->width != p->kernel_width || p->init->height != p->kernel_height))
        return deconv_fail(err, DECONV_ERR_ARG,
                           "the starting kernel is %dx%d, not the kernel size %dx%d",
                           p->init->width, p->init->height, p->kernel_width, p->kernel_height);
    return DECONV_OK;
}

/* What the estimate reads: the window of y's luminance (blind_window.c),
 * under the camera's model its light and clip mark (blind_camera_input).
 * NULL when out of memory. */
static deconv_image *estimate_input(const deconv_image *y, const deconv_blind_params *q)
{
    deconv_image *lum = deconv_image_luminance(y);
    if (!lum)
        return NULL;
    int left, top, w, ht;
    blind_choose_window(lum, q, &left, &top, &w, &ht);
    deconv_image *win = NULL;
    if (!deconv_response_is_linear(&q->response))
        win = blind_camera_input(y, lum, left, top, w, ht, &q->response);
    else if (w != lum->width || ht != lum->height) {
        win = deconv_image_new(w, ht, 1);
        if (win)
            deconv_crop(lum->data, lum->width, top, left, w, ht, win->data);
    } else
        win = lum, lum = NULL;
    deconv_image_free(lum);
    return win;
}

/* For the benches and tests (bench/camera --sizes, tests/test_blind.c;
 * not part of the API): the size deconv_blind_kernel would choose for y
 * with p, which gives none. Returns 0 on success. */
int deconv_blind_test_choose_size(const deconv_image *y, const deconv_blind_params *p, int *kw,
                                  int *kh);
int deconv_blind_test_choose_size(const deconv_image *y, const deconv_blind_params *p, int *kw,
                                  int *kh)
{
    deconv_error err;
    if (!p || p->kernel_width || p->kernel_height || blind_check_params(y, p, &err) != DECONV_OK)
        return -1;
    deconv_image *win = estimate_input(y, p);
    int ok = win && blind_choose_size(win, p, kw, kh, &err) == DECONV_OK;
    deconv_image_free(win);
    return ok ? 0 : -1;
}

deconv_kernel *deconv_blind_kernel(const deconv_image *y, const deconv_blind_params *p,
                                   deconv_error *err)
{
    return blind_kernel(y, p, NULL, err);
}

deconv_kernel *blind_kernel(const deconv_image *y, const deconv_blind_params *p,
                            const blind_spread *spread, deconv_error *err)
{
    if (!p)
        return blind_check_params(y, p, err), NULL;
    /* q: p with the kernel size it will have (a starting kernel gives its
     * own when none is asked for; else kernel_size.c chooses) */
    deconv_blind_params q = *p;
    if (q.kernel_width == 0 && q.kernel_height == 0 && q.init)
        q.kernel_width = q.init->width, q.kernel_height = q.init->height;
    if (blind_check_params(y, &q, err) != DECONV_OK)
        return NULL;
    int saved_threads = omp_get_max_threads();
    if (q.threads > 0)
        omp_set_num_threads(q.threads);
    const int starts = q.starts > 1 ? q.starts : 1;

    deconv_kernel *result = NULL;
    float *h = NULL;
    double *score = NULL;
    deconv_image *lum = estimate_input(y, &q);
    if (!lum) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (q.kernel_width == 0 &&
        blind_choose_size(lum, &q, &q.kernel_width, &q.kernel_height, err) != DECONV_OK)
        goto done;
    const int nk = q.kernel_width * q.kernel_height;
    h = malloc(sizeof(float) * nk * starts);
    score = malloc(sizeof(double) * starts);
    if (!h || !score) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
        goto done;
    }
    memset(h, 0, sizeof(float) * nk * starts);
    deconv_status st = blind_run_starts(lum, &q, spread ? spread->mine : NULL, h, score, err);
    if (spread) /* every process gets every start's kernel and score */
        st = spread->share(spread->ctx, h, score, starts, nk, st, err);
    if (st != DECONV_OK)
        goto done;
    int best = 0;
    for (int s = 1; s < starts; s++)
        if (score[s] < score[best])
            best = s;
    result = deconv_kernel_new(q.kernel_width, q.kernel_height);
    if (!result) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(result->data, h + (size_t)best * nk, sizeof(float) * nk);
done:
    deconv_image_free(lum);
    free(h), free(score);
    omp_set_num_threads(saved_threads);
    return result;
}
