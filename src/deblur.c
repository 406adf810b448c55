/* Non-blind restoration: the image step of MODEL.md by projected gradient
 * descent, and its driver over the channels of a photo.
 *
 * One iteration, for F(x) = 1/2||Hx - y||^2 + tv TV(x) + tik Tik(x):
 *   g  = H^T r + regulariser gradients        (convolution 1)
 *   d  = P(x - s g) - x    (with the box)  or  -s g   (without)
 *   Hd = H d                                   (convolution 2)
 *   t  from the step rule along d; x += t d; r += t Hd
 * Since x + t d stays in the box for t in [0, 1], the residual update by
 * Hd is exact and no third convolution is needed. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void deconv_deblur_defaults(deconv_deblur_params *p)
{
    memset(p, 0, sizeof *p);
    p->iterations = 200;
    p->tol = 1e-5;
    p->rule = DECONV_STEP_ARMIJO;
    p->step = 0;
    p->tv = -1;
    p->tv_eps = 1e-2;
    p->tikhonov = 0;
    p->clip = 1;
    p->threads = 0;
}

/* Buffers of one image step, made once and reused by every iteration. */
typedef struct {
    float *r, *g, *d, *hd, *xt;
} step_buffers;

static void free_buffers(step_buffers *b)
{
    deconv_free_floats(b->r);
    deconv_free_floats(b->g);
    deconv_free_floats(b->d);
    deconv_free_floats(b->hd);
    deconv_free_floats(b->xt);
}

static int alloc_buffers(step_buffers *b, size_t nx, size_t ny, int need_trial)
{
    memset(b, 0, sizeof *b);
    b->r = deconv_alloc_floats(ny);
    b->hd = deconv_alloc_floats(ny);
    b->g = deconv_alloc_floats(nx);
    b->d = deconv_alloc_floats(nx);
    b->xt = need_trial ? deconv_alloc_floats(nx) : NULL;
    if (!b->r || !b->hd || !b->g || !b->d || (need_trial && !b->xt)) {
        free_buffers(b);
        return 0;
    }
    return 1;
}

/* The regularisers' value at x, adding their weighted gradient into g. */
static double regularizers(const float *x, int w, int h, const deconv_deblur_params *p,
                           float *g)
{
    double v = 0.0;
    if (p->tv > 0)
        v += p->tv * deconv_tv(x, w, h, p->tv_eps, p->tv, g);
    if (p->tikhonov > 0)
        v += p->tikhonov * deconv_tikhonov(x, w, h, p->tikhonov, g);
    return v;
}

static double l1_norm(const float *h, int n)
{
    double s = 0;
    for (int t = 0; t < n; t++)
        s += fabs(h[t]);
    return s;
}

/* A step that never increases F for a kernel h: 1 / L with L bounding the
 * curvature of each term (||H|| <= ||h||_1; the discrete gradient has
 * norm^2 <= 8; TV's curvature is at most 1/eps times that of Tikhonov). */
static double safe_step(const float *h, int kw, int kh, const deconv_deblur_params *p)
{
    double l1 = l1_norm(h, kw * kh);
    double L = l1 * l1;
    if (p->tv > 0)
        L += 8.0 * p->tv / p->tv_eps;
    if (p->tikhonov > 0)
        L += 8.0 * p->tikhonov;
    return 1.0 / L;
}

static int all_finite(const float *v, size_t n)
{
    int ok = 1;
#pragma omp parallel for reduction(&& : ok) schedule(static)
    for (size_t i = 0; i < n; i++)
        ok = ok && isfinite(v[i]);
    return ok;
}

deconv_status deconv_image_step(float *x, const float *y, int N, int M, const float *h,
                                int kw, int kh, const deconv_deblur_params *p,
                                int channel, int channels, int *iters, double *final_obj,
                                deconv_error *err)
{
    const int xw = N + kw - 1, xh = M + kh - 1;
    const size_t nx = (size_t)xw * xh, ny = (size_t)N * M;
    const int regularized = p->tv > 0 || p->tikhonov > 0;
    step_buffers b;
    if (iters)
        *iters = 0;
    if (!alloc_buffers(&b, nx, ny, regularized))
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for a %d x %d image step",
                           xw, xh);

    deconv_status st = DECONV_OK;
    double s = p->step > 0 ? p->step : 1.0; /* 1 = 1/L of the data term */
    double fdata = deconv_objective(x, y, N, M, h, kw, kh, b.r, NULL, NULL);
    double F = fdata + regularizers(x, xw, xh, p, NULL);
    if (!isfinite(F)) {
        st = deconv_fail(err, DECONV_ERR_NUMERIC,
                         "the objective is not finite at the start (NaN or infinite input)");
        goto done;
    }

    int k;
    for (k = 1; k <= p->iterations; k++) {
        if (p->cancel && *p->cancel) {
            st = deconv_fail(err, DECONV_ERR_INTERRUPTED, "interrupted at iteration %d", k);
            break;
        }
        /* Every so often rebuild r from x so that the cheap updates
         * r += t Hd do not accumulate rounding. */
        if (k % 64 == 0)
            fdata = deconv_objective(x, y, N, M, h, kw, kh, b.r, NULL, NULL);
        deconv_corr_full(b.r, N, M, h, kw, kh, b.g);
        regularizers(x, xw, xh, p, b.g);

        const float sf = (float)s;
        if (p->clip) {
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < nx; i++) {
                float v = x[i] - sf * b.g[i];
                v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
                b.d[i] = v - x[i];
            }
        } else {
#pragma omp parallel for schedule(static)
            for (size_t i = 0; i < nx; i++)
                b.d[i] = -sf * b.g[i];
        }
        double gd = deconv_dot(b.g, b.d, nx);
        if (!(gd < 0)) /* no descent direction left: a stationary point */
            break;
        deconv_conv_valid(b.d, xw, xh, h, kw, kh, b.hd);
        double rhd = deconv_dot(b.r, b.hd, ny), hdhd = deconv_dot(b.hd, b.hd, ny);

        /* The data term along the ray is the exact quadratic
         * fdata + t <r,Hd> + t^2/2 ||Hd||^2; the regularisers are evaluated
         * at the trial point. */
        double t = 1.0, Fnew, fdata_new;
        if (p->rule == DECONV_STEP_EXACT) {
            double curv = hdhd;
            if (p->tikhonov > 0)
                curv += p->tikhonov * 2.0 * deconv_tikhonov(b.d, xw, xh, 0, NULL);
            t = curv > 0 ? -gd / curv : 1.0;
            if (p->clip && t > 1.0)
                t = 1.0;
        }
        for (int tries = 0;; tries++) {
            fdata_new = fdata + t * rhd + 0.5 * t * t * hdhd;
            Fnew = fdata_new;
            if (regularized) {
                const float tf = (float)t;
#pragma omp parallel for schedule(static)
                for (size_t i = 0; i < nx; i++)
                    b.xt[i] = x[i] + tf * b.d[i];
                Fnew += regularizers(b.xt, xw, xh, p, NULL);
            }
            if (p->rule == DECONV_STEP_NONE)
                break;
            /* Armijo's sufficient decrease; the exact rule only falls back
             * to it when the regulariser is not quadratic. */
            if (Fnew <= F + 1e-4 * t * gd || tries >= 40)
                break;
            t *= 0.5;
        }
        if (!isfinite(Fnew)) {
            st = deconv_fail(err, DECONV_ERR_NUMERIC,
                             "the objective became NaN or infinite at iteration %d", k);
            break;
        }
        if (p->rule == DECONV_STEP_NONE && Fnew > F * (1.0 + 1e-6) + 1e-12) {
            st = deconv_fail(err, DECONV_ERR_DIVERGED,
                             "the objective grew at iteration %d (%.6g to %.6g): step %g "
                             "is too large for this kernel; steps up to %.3g are safe",
                             k, F, Fnew, s, safe_step(h, kw, kh, p));
            break;
        }
        const float tf = (float)t;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < nx; i++)
            x[i] += tf * b.d[i];
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < ny; i++)
            b.r[i] += tf * b.hd[i];
        fdata = fdata_new;

        /* Adapt the trial step of the Armijo rule: longer after a full
         * step, shorter after backtracking. */
        if (p->rule == DECONV_STEP_ARMIJO)
            s = t >= 1.0 ? s * 1.5 : s * (t > 0.05 ? t * 1.5 : 0.1);
        else if (p->rule == DECONV_STEP_EXACT && p->clip)
            s = t >= 1.0 ? s * 1.5 : (t > 0.1 ? s * t * 1.5 : s * 0.25);

        double rel = (F - Fnew) / (F > 1e-300 ? F : 1e-300);
        F = Fnew;
        if (iters)
            *iters = k;
        if (p->progress) {
            deconv_progress pr = {k, channel, channels, F, fdata, t * s, "image", 0, 1};
            if (p->progress(&pr, p->progress_user)) {
                st = deconv_fail(err, DECONV_ERR_INTERRUPTED, "stopped at iteration %d", k);
                break;
            }
        }
        if (rel >= 0 && rel < p->tol)
            break;
    }
    if (st == DECONV_OK && !all_finite(x, nx))
        st = deconv_fail(err, DECONV_ERR_NUMERIC, "the image became NaN or infinite");
    if (final_obj)
        *final_obj = F;
done:
    free_buffers(&b);
    return st;
}

static deconv_status check_inputs(const deconv_image *y, const deconv_kernel *k,
                                  const deconv_deblur_params *p, deconv_error *err)
{
    if (!y || !k || !p)
        return deconv_fail(err, DECONV_ERR_ARG, "missing image, kernel or parameters");
    if (k->width > y->width || k->height > y->height)
        return deconv_fail(err, DECONV_ERR_KERNEL, "kernel %dx%d is larger than the image %dx%d",
                           k->width, k->height, y->width, y->height);
    for (int t = 0; t < k->width * k->height; t++)
        if (!isfinite(k->data[t]))
            return deconv_fail(err, DECONV_ERR_KERNEL, "kernel has a NaN or infinite entry");
    if (p->iterations < 0 || !(p->tol >= 0) || !isfinite(p->step) || !isfinite(p->tv) ||
        !(p->tikhonov >= 0) || !isfinite(p->tikhonov) || !(p->tv_eps > 0))
        return deconv_fail(err, DECONV_ERR_ARG, "parameters out of range");
    return DECONV_OK;
}

/* The TV weight that the defaults use, from the noise level of y: the MAP
 * weight of a Laplacian gradient prior grows with the noise variance.
 * The constants were chosen by measuring PSNR on blurred, noisy photos
 * (bench/tune_tv.sh). */
static double automatic_tv(double sigma)
{
    const double floor_sigma = 0.5 / 255.0; /* 8-bit quantisation */
    double s = sigma > floor_sigma ? sigma : floor_sigma;
    return 25.0 * s * s;
}

deconv_image *deconv_deblur(const deconv_image *y, const deconv_kernel *k,
                            const deconv_deblur_params *params, deconv_report *report,
                            deconv_error *err)
{
    if (check_inputs(y, k, params, err) != DECONV_OK)
        return NULL;
    deconv_deblur_params p = *params;
    const int kw = k->width, kh = k->height, N = y->width, M = y->height;
    const int xw = N + kw - 1, xh = M + kh - 1;
    const int top = (kh - 1) / 2, left = (kw - 1) / 2;
    const int colors = deconv_color_channels(y->channels);
    int saved_threads = omp_get_max_threads();
    if (p.threads > 0)
        omp_set_num_threads(p.threads);

    deconv_image *x = deconv_image_new(xw, xh, y->channels);
    if (!x) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for a %d x %d image", xw, xh);
        goto fail;
    }
    double sigma = 0;
    for (int c = 0; c < colors; c++)
        sigma += deconv_estimate_noise(deconv_image_plane(y, c), N, M) / colors;
    if (p.tv < 0)
        p.tv = automatic_tv(sigma);
    if (report) {
        memset(report, 0, sizeof *report);
        report->noise = sigma;
        report->tv = p.tv;
    }
    for (int c = 0; c < y->channels; c++) {
        float *xc = deconv_image_plane(x, c);
        const float *yc = deconv_image_plane(y, c);
        /* MODEL.md: start from y extended by edge replication. Alpha is
         * carried through: its centre is y's alpha unchanged. */
        deconv_pad_replicate(yc, N, M, top, kh - 1 - top, left, kw - 1 - left, xc);
        if (c >= colors)
            continue;
        int it = 0;
        double fobj = 0;
        if (deconv_image_step(xc, yc, N, M, k->data, kw, kh, &p, c, colors, &it, &fobj,
                              err) != DECONV_OK)
            goto fail;
        if (report) {
            report->iterations += it;
            report->objective = fobj;
        }
    }
    omp_set_num_threads(saved_threads);
    return x;
fail:
    omp_set_num_threads(saved_threads);
    deconv_image_free(x);
    return NULL;
}
