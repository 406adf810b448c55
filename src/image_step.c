/* The image step of MODEL.md: minimise over x, for a fixed kernel h,
 *   F(x) = 1/2 ||Hx - y||^2 + tv TV(x) + tik Tik(x)   (0 <= x <= 1 if clip)
 * by projected gradient descent, plain or accelerated (Nesterov).
 *
 * Every iteration costs two convolutions:
 *   g  = H^T r + regulariser gradients             (convolution 1)
 *   d  = P(z - s g) - z  (box)   or  -s g  (no box)
 *   Hd = H d                                        (convolution 2)
 * and the residual follows without a third: r_new = r + t Hd, because the
 * model is linear and z + t d stays in the box for t in [0, 1]. The data
 * term along the ray is the exact quadratic f + t <r,Hd> + t^2/2 ||Hd||^2,
 * so a line search costs no convolution; the regularisers are evaluated at
 * the trial point. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "operator.h"

typedef struct {
    /* the problem */
    const float *y, *h;
    int N, M, kw, kh, xw, xh;
    size_t nx, ny;
    const deconv_deblur_params *p;
    int channel, channels;
    deconv_op *op; /* H, made once: plans and spectra live here */
    /* work buffers, made once: x-sized and y-sized */
    float *x, *xprev, *z, *g, *d;
    float *r, *rprev, *rz, *hd;
} problem;

static void problem_free(problem *q)
{
    deconv_op_free(q->op);
    float *bufs[] = {q->xprev, q->z, q->g, q->d, q->r, q->rprev, q->rz, q->hd};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        deconv_free_floats(bufs[i]);
}

static int problem_alloc(problem *q)
{
    int nesterov = q->p->method == DECONV_METHOD_NESTEROV;
    q->z = deconv_alloc_floats(q->nx);
    q->g = deconv_alloc_floats(q->nx);
    q->d = deconv_alloc_floats(q->nx);
    q->r = deconv_alloc_floats(q->ny);
    q->hd = deconv_alloc_floats(q->ny);
    q->rz = deconv_alloc_floats(q->ny);
    if (nesterov) {
        q->xprev = deconv_alloc_floats(q->nx);
        q->rprev = deconv_alloc_floats(q->ny);
    }
    return q->z && q->g && q->d && q->r && q->hd && q->rz &&
           (!nesterov || (q->xprev && q->rprev));
}

/* The regularisers' value at x, adding their weighted gradient into g. */
static double regularizers(const problem *q, const float *x, float *g)
{
    double v = 0.0;
    if (q->p->tv > 0)
        v += q->p->tv * deconv_tv(x, q->xw, q->xh, q->p->tv_eps, q->p->tv, g);
    if (q->p->tikhonov > 0)
        v += q->p->tikhonov * deconv_tikhonov(x, q->xw, q->xh, q->p->tikhonov, g);
    return v;
}

/* A step that never increases F: 1 / L, L bounding the curvature of each
 * term (||H|| <= ||h||_1; the discrete gradient has norm^2 <= 8; TV's
 * curvature is at most 1/eps times Tikhonov's). */
static double safe_step(const problem *q)
{
    double l1 = 0;
    for (int t = 0; t < q->kw * q->kh; t++)
        l1 += fabs(q->h[t]);
    double L = l1 * l1;
    if (q->p->tv > 0)
        L += 8.0 * q->p->tv / q->p->tv_eps;
    if (q->p->tikhonov > 0)
        L += 8.0 * q->p->tikhonov;
    return L > 0 ? 1.0 / L : 1.0;
}

static void residual(problem *q, const float *x, float *r)
{
    deconv_op_apply(q->op, x, r);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < q->ny; i++)
        r[i] -= q->y[i];
}

/* out = a + beta (a - b), over n samples. */
static void extrapolate(float *out, const float *a, const float *b, float beta, size_t n)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + beta * (a[i] - b[i]);
}

/* out = a + t d */
static void axpy_to(float *out, const float *a, float t, const float *d, size_t n)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + t * d[i];
}

/* d = P(z - s g) - z with the box, -s g without. */
static void direction(const problem *q, const float *z, float s)
{
    float *d = q->d;
    const float *g = q->g;
    if (q->p->clip) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < q->nx; i++) {
            float v = z[i] - s * g[i];
            v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
            d[i] = v - z[i];
        }
    } else {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < q->nx; i++)
            d[i] = -s * g[i];
    }
}

/* The outcome of a search along d from z. */
typedef struct {
    double t, F, data;
    int ok; /* the rule's condition holds */
} trial;

/* Evaluate z + t d (into out) given the data term fz and <rz,Hd>, ||Hd||^2. */
static trial evaluate(const problem *q, const float *z, double t, double fz, double rhd,
                      double hdhd, float *out)
{
    trial tr = {t, 0, fz + t * rhd + 0.5 * t * t * hdhd, 0};
    axpy_to(out, z, (float)t, q->d, q->nx);
    tr.F = tr.data + regularizers(q, out, NULL);
    return tr;
}

/* One step from z (data term fz, objective Fz, residual rz, gradient g
 * already in q->g) along the direction for trial step *s. The chosen point
 * is left in q->z's companion `out`; Hd in q->hd. Returns the trial; for
 * ARMIJO *s shrinks until the sufficient-decrease condition holds (each
 * retry costs a convolution); EXACT takes the closed-form t. */
static trial search(problem *q, const float *z, const float *rz, double fz, double Fz,
                    double *s, float *out)
{
    const deconv_deblur_params *p = q->p;
    trial tr = {0};
    for (int tries = 0; tries < 40; tries++) {
        direction(q, z, (float)*s);
        double gd = deconv_dot(q->g, q->d, q->nx);
        if (!(gd < 0)) { /* stationary: nothing left to gain */
            tr = (trial){0, Fz, fz, 1};
            memcpy(out, z, q->nx * sizeof(float));
            memset(q->hd, 0, q->ny * sizeof(float));
            return tr;
        }
        deconv_op_apply(q->op, q->d, q->hd);
        double rhd = deconv_dot(rz, q->hd, q->ny), hdhd = deconv_dot(q->hd, q->hd, q->ny);
        if (p->rule == DECONV_STEP_NONE)
            return evaluate(q, z, 1.0, fz, rhd, hdhd, out);
        if (p->rule == DECONV_STEP_EXACT) {
            /* MODEL.md's alpha = -<g,d> / ||Hd||^2 (plus Tikhonov's exact
             * curvature), capped at 1 to stay in the box; TV is not
             * quadratic, so halve t until F decreases enough. */
            double curv = hdhd;
            if (p->tikhonov > 0)
                curv += p->tikhonov * 2.0 * deconv_tikhonov(q->d, q->xw, q->xh, 0, NULL);
            double t = curv > 0 ? -gd / curv : 1.0;
            if (p->clip && t > 1.0)
                t = 1.0;
            for (int halve = 0; halve < 40; halve++, t *= 0.5) {
                tr = evaluate(q, z, t, fz, rhd, hdhd, out);
                if (tr.F <= Fz + 1e-4 * t * gd)
                    break;
            }
            tr.ok = 1;
            /* the next trial direction: as long as the exact step */
            *s *= t >= 1.0 ? 2.0 : (t > 0.25 ? t * 1.5 : 0.5);
            return tr;
        }
        /* ARMIJO: the quadratic upper bound of projected gradient methods
         * (Beck and Teboulle): F(z + d) <= F(z) + <g,d> + ||d||^2 / (2s). */
        tr = evaluate(q, z, 1.0, fz, rhd, hdhd, out);
        double dd = deconv_dot(q->d, q->d, q->nx);
        if (tr.F <= Fz + gd + dd / (2.0 * *s) && tr.F <= Fz) {
            tr.ok = 1;
            return tr;
        }
        *s *= 0.5;
    }
    return tr;
}

static deconv_status report_progress(problem *q, int k, double F, double data, double step,
                                     deconv_error *err)
{
    const deconv_deblur_params *p = q->p;
    if (p->progress) {
        deconv_progress pr = {k, q->channel, q->channels, F, data, step, "image", 0, 1};
        if (p->progress(&pr, p->progress_user))
            return deconv_fail(err, DECONV_ERR_INTERRUPTED, "stopped at iteration %d", k);
    }
    return DECONV_OK;
}

/* The loop shared by both methods. With Nesterov, z extrapolates from the
 * last two iterates (FISTA's momentum); when a step would raise F, the
 * momentum restarts (O'Donoghue and Candes) and the iterate is kept, so F
 * never increases. With plain gradient descent z is x. */
static deconv_status run(problem *q, float *x, int *iters, double *final_obj,
                         deconv_error *err)
{
    const deconv_deblur_params *p = q->p;
    const int nesterov = p->method == DECONV_METHOD_NESTEROV;
    deconv_status st = DECONV_OK;
    double s = p->step > 0 ? p->step : (p->rule == DECONV_STEP_NONE ? safe_step(q) : 1.0);
    if (p->rule == DECONV_STEP_ARMIJO && p->step <= 0) {
        double l1 = 0;
        for (int t = 0; t < q->kw * q->kh; t++)
            l1 += fabs(q->h[t]);
        s = l1 > 0 ? 1.0 / (l1 * l1) : 1.0;
    }
    residual(q, x, q->r);
    double fdata = 0.5 * deconv_dot(q->r, q->r, q->ny);
    double F = fdata + regularizers(q, x, NULL);
    if (!isfinite(F))
        return deconv_fail(err, DECONV_ERR_NUMERIC,
                           "the objective is not finite at the start (NaN or infinite input)");
    double theta = 1.0;
    int momentum = 0; /* xprev, rprev hold the previous iterate */

    int k;
    for (k = 1; k <= p->iterations; k++) {
        if (p->cancel && *p->cancel)
            return deconv_fail(err, DECONV_ERR_INTERRUPTED, "interrupted at iteration %d", k);
        if (k % 64 == 0) { /* r += t Hd accumulates rounding: rebuild it */
            residual(q, x, q->r);
            fdata = 0.5 * deconv_dot(q->r, q->r, q->ny);
            momentum = 0;
        }
        /* the point z the step starts from, and its residual and value */
        const float *z = x, *rz = q->r;
        double fz = fdata, Fz = F, beta = 0;
        double theta_next = 1.0;
        if (nesterov && momentum) {
            theta_next = 0.5 * (1.0 + sqrt(1.0 + 4.0 * theta * theta));
            beta = (theta - 1.0) / theta_next;
        }
        if (beta > 0) {
            extrapolate(q->z, x, q->xprev, (float)beta, q->nx);
            extrapolate(q->rz, q->r, q->rprev, (float)beta, q->ny);
            z = q->z, rz = q->rz;
            fz = 0.5 * deconv_dot(rz, rz, q->ny);
            Fz = fz + regularizers(q, z, NULL);
        }
        deconv_op_adjoint(q->op, rz, q->g);
        regularizers(q, z, q->g);

        /* The trial point needs a buffer that is neither x nor z: with
         * Nesterov, xprev has been used up in making z. */
        float *out = nesterov ? q->xprev : q->z;
        trial tr = search(q, z, rz, fz, Fz, &s, out);
        if (!isfinite(tr.F))
            return deconv_fail(err, DECONV_ERR_NUMERIC,
                               "the objective became NaN or infinite at iteration %d", k);
        if (tr.F > F) {
            if (beta > 0) { /* restart the momentum; keep x */
                theta = 1.0;
                momentum = 0;
                continue;
            }
            if (p->rule == DECONV_STEP_NONE && tr.F > F * (1.0 + 1e-6))
                return deconv_fail(err, DECONV_ERR_DIVERGED,
                                   "the objective grew at iteration %d (%.6g to %.6g): step %g "
                                   "is too large for this kernel; steps up to %.3g are safe",
                                   k, F, tr.F, s, safe_step(q));
            break; /* no decrease left at float precision: converged */
        }
        /* Accept. The new residual is rz + t Hd; with Nesterov the old x
         * and r become the previous iterate (z is free by now). */
        if (nesterov) {
            memcpy(q->rprev, q->r, q->ny * sizeof(float));
            memcpy(q->z, x, q->nx * sizeof(float));
            float *old = q->z;
            q->z = q->xprev;
            q->xprev = old;
            momentum = 1;
            theta = theta_next;
        }
        axpy_to(q->r, rz, (float)tr.t, q->hd, q->ny);
        memcpy(x, out, q->nx * sizeof(float));
        double rel = (F - tr.F) / (F > 1e-300 ? F : 1e-300);
        fdata = tr.data;
        F = tr.F;
        if (iters)
            *iters = k;
        st = report_progress(q, k, F, fdata, tr.t * s, err);
        if (st != DECONV_OK)
            return st;
        if (rel < p->tol)
            break;
    }
    if (final_obj)
        *final_obj = F;
    return DECONV_OK;
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
    problem q = {0};
    q.y = y, q.h = h, q.N = N, q.M = M, q.kw = kw, q.kh = kh;
    q.xw = N + kw - 1, q.xh = M + kh - 1;
    q.nx = (size_t)q.xw * q.xh, q.ny = (size_t)N * M;
    q.p = p, q.channel = channel, q.channels = channels;
    if (iters)
        *iters = 0;
    q.op = deconv_op_new(N, M, h, kw, kh, p->conv, err);
    if (!q.op)
        return err ? err->code : DECONV_ERR_NOMEM;
    if (!problem_alloc(&q)) {
        problem_free(&q);
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for a %d x %d image step",
                           q.xw, q.xh);
    }
    deconv_status st = run(&q, x, iters, final_obj, err);
    if (st == DECONV_OK && !all_finite(x, q.nx))
        st = deconv_fail(err, DECONV_ERR_NUMERIC, "the image became NaN or infinite");
    problem_free(&q);
    return st;
}
