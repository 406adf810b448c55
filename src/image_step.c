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

#include "band.h"
#include "data_term.h"
#include "internal.h"
#include "operator.h"

typedef struct {
    /* the problem */
    const float *y, *h;
    int N, M, kw, kh, xw, xh;
    const deconv_band *b; /* the rows held and owned (band.h) */
    size_t nx, ny;        /* samples held: every plane below is held */
    size_t xown, yown;    /* offset of the first owned sample */
    const deconv_deblur_params *p;
    int channel, channels;
    deconv_data *data; /* the data term: H (plans, spectra), the response */
    deconv_op *op;     /* its H */
    int own_data;      /* data was made here */
    float hi;          /* the box: 0 <= x <= hi */
    /* Work buffers, made once. The iterate, its predecessor and the
     * trial point rotate through x (the caller's), xa and xb by pointer
     * swaps; likewise the residuals through r, rprev and rz. */
    float *xa, *xb, *g, *d;
    float *r, *rprev, *rz, *hd;
    float *vprev;    /* H L(u) of the previous iterate, when L is linear (run_general) */
    double *rows;    /* row sums: two a row of x */
} problem;

/* The work buffers of one problem size, kept by a caller that runs many
 * image steps on it (the blind loop's alternations): fresh buffers of a
 * few megabytes come from the system as pages that fault on first touch,
 * which cost more than the arithmetic of a small image's step. */
struct deconv_image_work {
    size_t nx, ny;
    int nrows;
    float *xa, *xb, *g, *d;
    float *r, *rprev, *rz, *hd;
    float *vprev;
    double *rows;
};

deconv_image_work *deconv_image_work_new(void)
{
    return calloc(1, sizeof(deconv_image_work));
}

static void work_release(deconv_image_work *w)
{
    float *bufs[] = {w->xa, w->xb, w->g, w->d, w->r, w->rprev, w->rz, w->hd, w->vprev};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        deconv_free_floats(bufs[i]);
    free(w->rows);
    memset(w, 0, sizeof *w);
}

void deconv_image_work_free(deconv_image_work *w)
{
    if (!w)
        return;
    work_release(w);
    free(w);
}

/* The row sums' length: two a row of x or of y, the longer. */
static int row_sums(const problem *q)
{
    return 2 * (q->xh > q->M ? q->xh : q->M);
}

/* Hand the problem's buffers to w (made for its sizes), or free them. */
static void problem_free(problem *q, deconv_image_work *w)
{
    if (q->own_data)
        deconv_data_free(q->data);
    deconv_image_work held = {q->nx, q->ny, row_sums(q),
                              q->xa, q->xb, q->g, q->d, q->r, q->rprev, q->rz, q->hd,
                              q->vprev, q->rows};
    if (w)
        *w = held;
    else
        work_release(&held);
}

/* A buffer of n floats: w's when it has one (taken from it), else new. */
static float *take_floats(float **kept, size_t n)
{
    float *b = *kept;
    *kept = NULL;
    return b ? b : deconv_alloc_floats(n);
}

static int problem_alloc(problem *q, deconv_image_work *w)
{
    /* w's buffers serve a problem of its sizes; another's are let go */
    int nrows = row_sums(q);
    deconv_image_work none = {0};
    if (w && (w->nx != q->nx || w->ny != q->ny || w->nrows != nrows))
        work_release(w);
    if (!w)
        w = &none;
    /* the camera's model keeps three residual-sized buffers (the iterate's,
     * the extrapolated point's and the trial's) whatever the method */
    int nesterov = q->p->method == DECONV_METHOD_NESTEROV || !deconv_data_quadratic(q->data);
    q->xa = take_floats(&w->xa, q->nx);
    q->g = take_floats(&w->g, q->nx);
    q->d = take_floats(&w->d, q->nx);
    if (q->d) /* conjugate gradient reads the previous direction */
        memset(q->d, 0, q->nx * sizeof(float));
    q->r = take_floats(&w->r, q->ny);
    q->hd = take_floats(&w->hd, q->ny);
    q->rows = w->rows ? w->rows : malloc((size_t)nrows * sizeof(double));
    w->rows = NULL;
    if (nesterov) {
        q->xb = take_floats(&w->xb, q->nx);
        q->rprev = take_floats(&w->rprev, q->ny);
        q->rz = take_floats(&w->rz, q->ny);
    }
    /* and, when the forward map is linear (v = H u), the previous
     * iterate's v, from which the extrapolated point's follows */
    int vprev = !deconv_data_quadratic(q->data) && deconv_data_linear_forward(q->data) &&
                q->p->method == DECONV_METHOD_NESTEROV;
    if (vprev)
        q->vprev = take_floats(&w->vprev, q->ny);
    work_release(w); /* what this problem does not use */
    return q->xa && q->g && q->d && q->r && q->hd && q->rows &&
           (!nesterov || (q->xb && q->rprev && q->rz)) && (!vprev || q->vprev);
}

/* <a,b> and <c,e> in one pass over the owned rows of planes of one kind
 * (a sum a row, added in row order: band.h). */
static void two_dots(const problem *q, deconv_plane_kind kind, const float *a, const float *b,
                     const float *c, const float *e, double *ab, double *ce)
{
    double out[2];
    deconv_band_dots(q->b, kind, a, b, c, e, q->rows, out);
    *ab = out[0], *ce = out[1];
}

static double dot_y(const problem *q, const float *a)
{
    double out;
    deconv_band_dots(q->b, DECONV_PLANE_Y, a, a, NULL, NULL, q->rows, &out);
    return out;
}

static void swap_ptr(float **a, float **b)
{
    float *t = *a;
    *a = *b;
    *b = t;
}

/* Tikhonov's Tik(x) over the band's rows, adding its weighted gradient
 * into g. */
static double tikhonov(const problem *q, const float *x, double weight, float *g)
{
    const deconv_band *b = q->b;
    double v;
    deconv_tikhonov_rows(x, q->xw, q->xh, b->xs0, b->x0, b->x1, weight, g, q->rows);
    deconv_band_sum(b, DECONV_PLANE_X, q->rows, 1, &v);
    return v;
}

/* The regularisers' value at x, adding their weighted gradient into g. */
static double regularizers(const problem *q, const float *x, float *g)
{
    const deconv_band *b = q->b;
    double v = 0.0;
    if (q->p->tv > 0) {
        double tv;
        if (!deconv_tv_rows(x, q->xw, q->xh, b->xs0, b->x0, b->x1, q->p->tv_eps, q->p->tv, g,
                            q->rows))
            return NAN; /* out of memory: reported as a numerical failure */
        deconv_band_sum(b, DECONV_PLANE_X, q->rows, 1, &tv);
        v += q->p->tv * tv;
    }
    if (q->p->tikhonov > 0)
        v += q->p->tikhonov * tikhonov(q, x, q->p->tikhonov, g);
    return v;
}

/* H v into the owned rows of out, whose halo is then exchanged: v is
 * image-shaped, out residual-shaped. */
static void apply(problem *q, const float *v, float *out)
{
    const deconv_band *b = q->b;
    deconv_op_apply_rows(q->op, v + (size_t)(b->y0 - b->xs0) * b->xw, b->y0, b->y1,
                         out + q->yown);
    deconv_band_exchange(b, DECONV_PLANE_Y, out);
}

/* g = H^T r + the regularisers' gradient at z (owned rows), its halo
 * exchanged; returns the regularisers' value. */
static double gradient(problem *q, const float *r, const float *z)
{
    deconv_op_adjoint_rows(q->op, r, q->b->x0, q->b->x1, q->g + q->xown);
    double v = regularizers(q, z, q->g);
    deconv_band_exchange(q->b, DECONV_PLANE_X, q->g);
    return v;
}

/* A step that never increases F: 1 / L, L bounding the curvature of each
 * term (||H|| <= ||h||_1; the discrete gradient has norm^2 <= 8; TV's
 * curvature is at most 1/eps times Tikhonov's). */
static double kernel_l1(const problem *q)
{
    double l1 = 0;
    for (int t = 0; t < q->kw * q->kh; t++)
        l1 += fabs(q->h[t]);
    return l1;
}

static double safe_step(const problem *q)
{
    double l1 = kernel_l1(q);
    double L = l1 * l1;
    if (q->p->tv > 0)
        L += 8.0 * q->p->tv / q->p->tv_eps;
    if (q->p->tikhonov > 0)
        L += 8.0 * q->p->tikhonov;
    return L > 0 ? 1.0 / L : 1.0;
}

/* The first trial step: the user's; else the safe step for a fixed step;
 * else 1 / ||h||_1^2, the data term's bound, which Armijo shrinks if the
 * regularisers need it; the exact rule only uses it to scale d. */
static double first_step(const problem *q)
{
    if (q->p->step > 0)
        return q->p->step;
    if (q->p->rule == DECONV_STEP_NONE)
        return safe_step(q);
    double l1 = kernel_l1(q);
    return q->p->rule == DECONV_STEP_ARMIJO && l1 > 0 ? 1.0 / (l1 * l1) : 1.0;
}

/* r = H x - y, halo included */
static void residual(problem *q, const float *x, float *r)
{
    const deconv_band *b = q->b;
    deconv_op_apply_rows(q->op, x + (size_t)(b->y0 - b->xs0) * b->xw, b->y0, b->y1,
                         r + q->yown);
    const size_t lo = q->yown, hi = q->yown + (size_t)(b->y1 - b->y0) * q->N;
#pragma omp parallel for schedule(static) if (hi - lo >= DECONV_PARALLEL_MIN)
    for (size_t i = lo; i < hi; i++)
        r[i] -= q->y[i];
    deconv_band_exchange(b, DECONV_PLANE_Y, r);
}

/* out = a + beta (a - b), over n samples. */
static void extrapolate(float *out, const float *a, const float *b, float beta, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= DECONV_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + beta * (a[i] - b[i]);
}

/* out = a + t d */
static void axpy_to(float *out, const float *a, float t, const float *d, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= DECONV_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        out[i] = a[i] + t * d[i];
}

/* d = P(z - s g) - z with the box, -s g without; then <g,d> and <d,d>. */
static void direction(const problem *q, const float *z, float s, double *gd, double *dd)
{
    float *d = q->d;
    const float *g = q->g;
    if (q->p->clip) {
#pragma omp parallel for schedule(static) if (q->nx >= DECONV_PARALLEL_MIN)
        for (size_t i = 0; i < q->nx; i++) {
            float v = z[i] - s * g[i];
            v = v < 0.0f ? 0.0f : (v > q->hi ? q->hi : v);
            d[i] = v - z[i];
        }
    } else {
#pragma omp parallel for schedule(static) if (q->nx >= DECONV_PARALLEL_MIN)
        for (size_t i = 0; i < q->nx; i++)
            d[i] = -s * g[i];
    }
    two_dots(q, DECONV_PLANE_X, g, d, d, d, gd, dd);
}

/* The curvature of the quadratic part of F along d: ||Hd||^2 plus
 * Tikhonov's 2 tik Tik(d) (Tik(d) = 1/2 ||grad d||^2). */
static double quadratic_curvature(const problem *q, double hdhd)
{
    if (q->p->tikhonov > 0)
        hdhd += q->p->tikhonov * 2.0 * tikhonov(q, q->d, 0, NULL);
    return hdhd;
}

/* The outcome of a search along d from z. */
typedef struct {
    double t, F, data;
} trial;

/* Evaluate z + t d (into out) given the data term fz and <rz,Hd>, ||Hd||^2. */
static trial evaluate(const problem *q, const float *z, double t, double fz, double rhd,
                      double hdhd, float *out)
{
    trial tr = {t, 0, fz + t * rhd + 0.5 * t * t * hdhd};
    axpy_to(out, z, (float)t, q->d, q->nx);
    tr.F = tr.data + regularizers(q, out, NULL);
    return tr;
}

/* One step from z (data term fz, objective Fz, residual rz, gradient g
 * already in q->g) along the direction for trial step *s. The chosen point
 * is left in `out`; Hd in q->hd. Returns the trial; for
 * ARMIJO *s shrinks until the sufficient-decrease condition holds (each
 * retry costs a convolution); EXACT takes the closed-form t. */
static trial search(problem *q, const float *z, const float *rz, double fz, double Fz,
                    double *s, float *out)
{
    const deconv_deblur_params *p = q->p;
    trial tr = {0};
    for (int tries = 0; tries < 40; tries++) {
        double gd, dd;
        direction(q, z, (float)*s, &gd, &dd);
        if (!(gd < 0)) { /* stationary: nothing left to gain */
            tr = (trial){0, Fz, fz};
            memcpy(out, z, q->nx * sizeof(float));
            memset(q->hd, 0, q->ny * sizeof(float));
            return tr;
        }
        apply(q, q->d, q->hd);
        double rhd, hdhd;
        two_dots(q, DECONV_PLANE_Y, rz, q->hd, q->hd, q->hd, &rhd, &hdhd);
        if (p->rule == DECONV_STEP_NONE)
            return evaluate(q, z, 1.0, fz, rhd, hdhd, out);
        if (p->rule == DECONV_STEP_EXACT) {
            /* MODEL.md's alpha = -<g,d> / ||Hd||^2 (plus Tikhonov's exact
             * curvature), capped at 1 to stay in the box; TV is not
             * quadratic, so halve t until F decreases enough. */
            double curv = quadratic_curvature(q, hdhd);
            double t = curv > 0 ? -gd / curv : 1.0;
            if (p->clip && t > 1.0)
                t = 1.0;
            for (int halve = 0; halve < 40; halve++, t *= 0.5) {
                tr = evaluate(q, z, t, fz, rhd, hdhd, out);
                if (tr.F <= Fz + 1e-4 * t * gd)
                    break;
            }
            /* the next trial direction: as long as the exact step */
            *s *= t >= 1.0 ? 2.0 : (t > 0.25 ? t * 1.5 : 0.5);
            return tr;
        }
        /* ARMIJO: the quadratic upper bound of projected gradient methods
         * (Beck and Teboulle): F(z + d) <= F(z) + <g,d> + ||d||^2 / (2s). */
        tr = evaluate(q, z, 1.0, fz, rhd, hdhd, out);
        if (tr.F <= Fz + gd + dd / (2.0 * *s) && tr.F <= Fz) {
            return tr;
        }
        *s *= 0.5;
    }
    return tr;
}

/* A conjugate-gradient step for the quadratic objective (no TV, no box):
 * d = -g + beta d_prev (Fletcher-Reeves, beta = ||g||^2 / ||g_prev||^2),
 * then MODEL.md's exact step along d, which keeps the directions
 * conjugate. *gg_prev carries ||g||^2 between steps; 0 restarts. */
static trial cg_step(problem *q, const float *x, double fdata, double F, double *gg_prev,
                     float *out)
{
    double gg, unused;
    two_dots(q, DECONV_PLANE_X, q->g, q->g, q->g, q->g, &gg, &unused);
    float beta = *gg_prev > 0 ? (float)(gg / *gg_prev) : 0.0f;
    *gg_prev = gg;
    double gd, dd;
    for (;;) {
#pragma omp parallel for schedule(static) if (q->nx >= DECONV_PARALLEL_MIN)
        for (size_t i = 0; i < q->nx; i++)
            q->d[i] = -q->g[i] + beta * q->d[i];
        two_dots(q, DECONV_PLANE_X, q->g, q->d, q->d, q->d, &gd, &dd);
        if (gd < 0 || beta == 0.0f)
            break;
        beta = 0.0f; /* lost conjugacy to rounding: restart along -g */
    }
    if (!(gd < 0)) /* g = 0: a minimum */
        return (trial){0, F, fdata};
    apply(q, q->d, q->hd);
    double rhd, hdhd;
    two_dots(q, DECONV_PLANE_Y, q->r, q->hd, q->hd, q->hd, &rhd, &hdhd);
    double curv = quadratic_curvature(q, hdhd);
    double t = curv > 0 ? -gd / curv : 0.0;
    return evaluate(q, x, t, fdata, rhd, hdhd, out);
}

static deconv_status report_progress(problem *q, int k, double F, double data, double step,
                                     deconv_error *err)
{
    const deconv_deblur_params *p = q->p;
    int stop = 0;
    if (p->progress) {
        deconv_progress pr = {k, q->channel, q->channels, F, data, step, "image", 0, 1};
        stop = p->progress(&pr, p->progress_user);
    }
    if (deconv_band_any(q->b, stop)) /* every band stops with the one stopped */
        return deconv_fail(err, DECONV_ERR_INTERRUPTED, "stopped at iteration %d", k);
    return DECONV_OK;
}

/* The loop shared by both methods. With Nesterov, z extrapolates from the
 * last two iterates (FISTA's momentum); when a step would raise F, the
 * momentum restarts (O'Donoghue and Candes) and the iterate is kept, so F
 * never increases. With plain gradient descent z is x. */
static deconv_status run(problem *q, float *x_out, int *iters, double *final_obj,
                         deconv_error *err)
{
    const deconv_deblur_params *p = q->p;
    const int nesterov = p->method == DECONV_METHOD_NESTEROV;
    double s = first_step(q);
    /* x: the iterate; xprev: the one before (Nesterov); xfree: scratch
     * for z (Nesterov) or the trial point (gradient descent). */
    float *x = x_out, *xprev = q->xb, *xfree = q->xa;
    residual(q, x, q->r);
    double fdata = 0.5 * dot_y(q, q->r);
    double F = fdata + regularizers(q, x, NULL);
    deconv_status st = DECONV_OK;
    if (!isfinite(F)) {
        st = deconv_fail(err, DECONV_ERR_NUMERIC,
                         "the objective is not finite at the start (NaN or infinite input)");
        goto done;
    }
    double theta = 1.0;
    int momentum = 0;      /* xprev, rprev hold the previous iterate */
    double gg_prev = 0.0;  /* conjugate gradient: ||g||^2 of the last step */

    for (int k = 1; k <= p->iterations; k++) {
        if (deconv_band_any(q->b, p->cancel && *p->cancel)) {
            st = deconv_fail(err, DECONV_ERR_INTERRUPTED, "interrupted at iteration %d", k);
            break;
        }
        if (k % 64 == 0) { /* r += t Hd accumulates rounding: rebuild it */
            residual(q, x, q->r);
            fdata = 0.5 * dot_y(q, q->r);
            momentum = 0;
            gg_prev = 0;
        }
        /* the point z the step starts from, its residual and its value */
        const float *z = x, *rz = q->r;
        double fz = fdata, beta = 0, theta_next = 1.0;
        if (nesterov && momentum) {
            theta_next = 0.5 * (1.0 + sqrt(1.0 + 4.0 * theta * theta));
            beta = (theta - 1.0) / theta_next;
        }
        if (beta > 0) {
            extrapolate(xfree, x, xprev, (float)beta, q->nx);
            extrapolate(q->rz, q->r, q->rprev, (float)beta, q->ny);
            z = xfree, rz = q->rz;
            fz = 0.5 * dot_y(q, rz);
        }
        double Fz = fz + gradient(q, rz, z);

        /* The trial point needs a buffer that is neither x nor z: with
         * Nesterov, xprev has been used up in making z. */
        float *out = nesterov ? xprev : xfree;
        trial tr = p->method == DECONV_METHOD_CG ? cg_step(q, x, fdata, F, &gg_prev, out)
                                                 : search(q, z, rz, fz, Fz, &s, out);
        if (!isfinite(tr.F)) {
            st = deconv_fail(err, DECONV_ERR_NUMERIC,
                             "the objective became NaN or infinite at iteration %d", k);
            break;
        }
        if (tr.F > F) {
            if (beta > 0) { /* restart the momentum; keep x */
                theta = 1.0;
                momentum = 0;
                continue;
            }
            if (p->rule == DECONV_STEP_NONE && tr.F > F * (1.0 + 1e-6))
                st = deconv_fail(err, DECONV_ERR_DIVERGED,
                                 "the objective grew at iteration %d (%.6g to %.6g): step %g "
                                 "is too large for this kernel; steps up to %.3g are safe",
                                 k, F, tr.F, s, safe_step(q));
            break; /* or no decrease left at float precision: converged */
        }
        /* Accept: out becomes x, and r = rz + t Hd. With Nesterov the old
         * x and r become the previous iterate, by swapping pointers. */
        if (nesterov) {
            axpy_to(q->rprev, rz, (float)tr.t, q->hd, q->ny);
            swap_ptr(&q->r, &q->rprev);
            xprev = x;
            x = out;
            momentum = 1;
            theta = theta_next;
        } else {
            axpy_to(q->r, rz, (float)tr.t, q->hd, q->ny);
            swap_ptr(&x, &xfree);
        }
        double rel = (F - tr.F) / (F > 1e-300 ? F : 1e-300);
        fdata = tr.data;
        F = tr.F;
        if (iters)
            *iters = k;
        st = report_progress(q, k, F, fdata, tr.t * s, err);
        if (st != DECONV_OK || rel < p->tol)
            break;
    }
    if (final_obj)
        *final_obj = F;
done:
    if (x != x_out)
        memcpy(x_out, x, q->nx * sizeof(float));
    return st;
}

/* The loop for a data term that is not quadratic (the camera's model,
 * weights): the same accelerated projected gradient with restarts, but
 * every trial point costs a convolution (v = H L(u) is not linear along a
 * ray), and so does the extrapolated point of each step. EXACT has no
 * closed form here and searches as ARMIJO does. Three convolutions an
 * iteration instead of two; two when L is linear (the soft clip alone, or
 * weights), where the extrapolated point's v is that of the iterates
 * extrapolated and a trial's is v + H d. */
static deconv_status run_general(problem *q, float *x_out, int *iters, double *final_obj,
                                 deconv_error *err)
{
    const deconv_deblur_params *p = q->p;
    const int nesterov = p->method == DECONV_METHOD_NESTEROV;
    double s = first_step(q);
    float *x = x_out, *xprev = q->xb, *xfree = q->xa;
    /* v of the iterate, of z and of the trial point; e: the weighted
     * residual at z */
    float *vx = q->r, *vz = q->rz, *vt = q->rprev, *e = q->hd, *vprev = q->vprev;
    /* v by linearity (vprev != NULL): the owned rows, which are all that
     * the value reads; recomputed now and then, so that rounding does not
     * build up */
    const size_t vlo = deconv_band_owned_offset(q->b, DECONV_PLANE_Y);
    const size_t vn = (size_t)(q->b->y1 - q->b->y0) * q->N;
    int since_exact = 0;
    deconv_data_forward(q->data, x, vx);
    double fdata = deconv_data_value(q->data, vx, NULL);
    double F = fdata + regularizers(q, x, NULL);
    deconv_status st = DECONV_OK;
    if (!isfinite(F)) {
        st = deconv_fail(err, DECONV_ERR_NUMERIC,
                         "the objective is not finite at the start (NaN or infinite input)");
        goto done;
    }
    double theta = 1.0;
    int momentum = 0;
    for (int k = 1; k <= p->iterations; k++) {
        if (deconv_band_any(q->b, p->cancel && *p->cancel)) {
            st = deconv_fail(err, DECONV_ERR_INTERRUPTED, "interrupted at iteration %d", k);
            break;
        }
        const float *z = x;
        const float *v = vx;
        double beta = 0, theta_next = 1.0;
        if (nesterov && momentum) {
            theta_next = 0.5 * (1.0 + sqrt(1.0 + 4.0 * theta * theta));
            beta = (theta - 1.0) / theta_next;
        }
        if (beta > 0) {
            extrapolate(xfree, x, xprev, (float)beta, q->nx);
            z = xfree;
            if (vprev)
                extrapolate(vz + vlo, vx + vlo, vprev + vlo, (float)beta, vn);
            else
                deconv_data_forward(q->data, z, vz);
            v = vz;
        }
        double fz = deconv_data_value(q->data, v, e);
        deconv_data_gradient(q->data, z, e, q->g);
        double Fz = fz + regularizers(q, z, q->g);
        deconv_band_exchange(q->b, DECONV_PLANE_X, q->g);

        float *out = nesterov ? xprev : xfree;
        trial tr = {0, Fz, fz};
        int moved = 0;
        for (int tries = 0; tries < 40; tries++) {
            double gd, dd;
            direction(q, z, (float)s, &gd, &dd);
            if (!(gd < 0))
                break; /* stationary */
            axpy_to(out, z, 1.0f, q->d, q->nx);
            if (vprev) {
                deconv_data_forward(q->data, q->d, vt);
                axpy_to(vt + vlo, v + vlo, 1.0f, vt + vlo, vn);
            } else {
                deconv_data_forward(q->data, out, vt);
            }
            tr.t = 1.0;
            tr.data = deconv_data_value(q->data, vt, NULL);
            tr.F = tr.data + regularizers(q, out, NULL);
            moved = 1;
            if (p->rule == DECONV_STEP_NONE ||
                (tr.F <= Fz + gd + dd / (2.0 * s) && tr.F <= Fz))
                break;
            s *= 0.5;
        }
        if (!isfinite(tr.F)) {
            st = deconv_fail(err, DECONV_ERR_NUMERIC,
                             "the objective became NaN or infinite at iteration %d", k);
            break;
        }
        if (!moved || tr.F > F) {
            if (beta > 0) { /* restart the momentum; keep x */
                theta = 1.0;
                momentum = 0;
                continue;
            }
            if (moved && p->rule == DECONV_STEP_NONE && tr.F > F * (1.0 + 1e-6))
                st = deconv_fail(err, DECONV_ERR_DIVERGED,
                                 "the objective grew at iteration %d (%.6g to %.6g): step %g "
                                 "is too large for this kernel; under the linear model steps "
                                 "up to %.3g are safe, the camera's curve needs smaller ones "
                                 "(or the line search: --line-search armijo)",
                                 k, F, tr.F, s, safe_step(q));
            break;
        }
        /* accept: out becomes x, vt its v (and vx the previous one's) */
        float *tmp = vx;
        if (vprev) {
            vx = vt;
            vt = vprev;
            vprev = tmp;
            /* v by linearity drifts by rounding, and the extrapolation
             * amplifies it (by up to 1 / (1 - beta)): both v anew now and
             * then (the blind estimate's runs of 8 never get here) */
            if (++since_exact == 16) {
                deconv_data_forward(q->data, out, vx);
                deconv_data_forward(q->data, x, vprev);
                since_exact = 0;
            }
        } else {
            vx = vt;
            vt = tmp;
        }
        if (nesterov) {
            xprev = x;
            x = out;
            momentum = 1;
            theta = theta_next;
        } else {
            swap_ptr(&x, &xfree);
        }
        double rel = (F - tr.F) / (F > 1e-300 ? F : 1e-300);
        fdata = tr.data;
        F = tr.F;
        if (iters)
            *iters = k;
        st = report_progress(q, k, F, fdata, s, err);
        if (st != DECONV_OK || rel < p->tol)
            break;
    }
    if (final_obj)
        *final_obj = F;
done:
    if (x != x_out)
        memcpy(x_out, x, q->nx * sizeof(float));
    return st;
}

/* Whether every owned sample of an image-shaped plane is finite, in
 * every band. */
static int all_finite(problem *q, const float *v)
{
    const deconv_band *b = q->b;
#pragma omp parallel for schedule(static) if (q->nx >= DECONV_PARALLEL_MIN)
    for (int i = b->x0; i < b->x1; i++) {
        const float *row = v + (size_t)(i - b->xs0) * q->xw;
        int bad = 0;
        for (int j = 0; j < q->xw; j++)
            bad |= !isfinite(row[j]);
        q->rows[i] = bad;
    }
    double bad;
    deconv_band_sum(b, DECONV_PLANE_X, q->rows, 1, &bad);
    return bad == 0;
}

deconv_status deconv_image_step_on(float *x, deconv_data *data, int N, int M, const float *h,
                                   int kw, int kh, const deconv_deblur_params *p, int channel,
                                   int channels, deconv_image_work *work, int *iters,
                                   double *final_obj, deconv_error *err)
{
    problem q = {0};
    q.y = deconv_data_observed(data), q.h = h, q.N = N, q.M = M, q.kw = kw, q.kh = kh;
    q.xw = N + kw - 1, q.xh = M + kh - 1;
    q.b = deconv_data_band(data);
    q.nx = deconv_band_held(q.b, DECONV_PLANE_X), q.ny = deconv_band_held(q.b, DECONV_PLANE_Y);
    q.xown = deconv_band_owned_offset(q.b, DECONV_PLANE_X);
    q.yown = deconv_band_owned_offset(q.b, DECONV_PLANE_Y);
    q.p = p, q.channel = channel, q.channels = channels;
    q.data = data;
    q.op = deconv_data_op(data);
    q.hi = (float)deconv_data_max(data);
    if (iters)
        *iters = 0;
    int quadratic = deconv_data_quadratic(data);
    if (p->method == DECONV_METHOD_CG && (p->tv > 0 || p->clip || !quadratic))
        return deconv_fail(err, DECONV_ERR_ARG,
                           "conjugate gradient needs a quadratic objective: no TV, no box and "
                           "the linear model (--tv 0 --no-clip --response linear)");
    if (deconv_band_any(q.b, !problem_alloc(&q, work))) {
        problem_free(&q, work);
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for a %d x %d image step",
                           q.xw, q.xh);
    }
    deconv_status st = quadratic ? run(&q, x, iters, final_obj, err)
                                 : run_general(&q, x, iters, final_obj, err);
    if (st == DECONV_OK && !all_finite(&q, x))
        st = deconv_fail(err, DECONV_ERR_NUMERIC, "the image became NaN or infinite");
    problem_free(&q, work);
    return st;
}

deconv_status deconv_image_step_weighted(float *x, const float *y, const float *weights, int N,
                                         int M, const float *h, int kw, int kh,
                                         const deconv_deblur_params *p, int channel,
                                         int channels, deconv_image_work *work, int *iters,
                                         double *final_obj, deconv_error *err)
{
    if (iters)
        *iters = 0;
    deconv_data *data =
        deconv_data_new(N, M, h, kw, kh, p->conv, &p->response, y, weights, err);
    if (!data)
        return err ? err->code : DECONV_ERR_NOMEM;
    deconv_status st = deconv_image_step_on(x, data, N, M, h, kw, kh, p, channel, channels,
                                            work, iters, final_obj, err);
    deconv_data_free(data);
    return st;
}

deconv_status deconv_image_step(float *x, const float *y, int N, int M, const float *h,
                                int kw, int kh, const deconv_deblur_params *p,
                                int channel, int channels, int *iters, double *final_obj,
                                deconv_error *err)
{
    return deconv_image_step_weighted(x, y, NULL, N, M, h, kw, kh, p, channel, channels, NULL,
                                      iters, final_obj, err);
}
