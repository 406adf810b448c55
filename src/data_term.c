/* The data term with the camera (data_term.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "band.h"
#include "data_term.h"
#include "internal.h"
#include "response.h"

struct deconv_data {
    int N, M, kw, kh;
    deconv_band band; /* the rows held and owned (all of them in one process) */
    size_t nx, ny;    /* samples held */
    deconv_response resp;
    int quadratic;
    const float *y, *m;
    deconv_op *op;
    float *light;     /* L(u) of the last forward: (N+kw-1) x (M+kh-1) */
    const float *light_of; /* that forward's u, whose light the gradient may reuse */
    double *rows;     /* a sum a row of y */
};

deconv_data *deconv_data_new(int N, int M, const float *h, int kw, int kh,
                             deconv_conv_mode mode, const deconv_response *resp,
                             const float *y, const float *weights, deconv_error *err)
{
    deconv_band whole = deconv_band_whole(N, M, kw, kh);
    return deconv_data_new_band(&whole, h, mode, resp, y, weights, err);
}

deconv_data *deconv_data_new_band(const deconv_band *band, const float *h,
                                  deconv_conv_mode mode, const deconv_response *resp,
                                  const float *y, const float *weights, deconv_error *err)
{
    const int N = band->N, M = band->M, kw = band->kw, kh = band->kh;
    if (resp && deconv_response_check(resp, err) != DECONV_OK)
        return NULL;
    deconv_data *d = calloc(1, sizeof *d);
    if (!d) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    d->N = N, d->M = M, d->kw = kw, d->kh = kh;
    d->band = *band;
    d->nx = deconv_band_held(band, DECONV_PLANE_X), d->ny = deconv_band_held(band, DECONV_PLANE_Y);
    if (resp)
        d->resp = *resp;
    else
        deconv_response_linear(&d->resp);
    d->y = y, d->m = weights;
    d->quadratic = deconv_response_is_linear(&d->resp) && !weights;
    d->op = deconv_op_new(N, M, h, kw, kh, mode, err);
    if (!d->op) {
        free(d);
        return NULL;
    }
    d->light = d->quadratic ? NULL : deconv_alloc_floats(d->nx);
    d->rows = malloc((size_t)M * sizeof(double));
    if ((!d->quadratic && !d->light) || !d->rows) {
        deconv_data_free(d);
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for a %d x %d data term", N, M);
        return NULL;
    }
    return d;
}

void deconv_data_free(deconv_data *d)
{
    if (!d)
        return;
    deconv_op_free(d->op);
    deconv_free_floats(d->light);
    free(d->rows);
    free(d);
}

const float *deconv_data_observed(const deconv_data *d) { return d->y; }
int deconv_data_quadratic(const deconv_data *d) { return d->quadratic; }
int deconv_data_linear_forward(const deconv_data *d)
{
    return d->resp.kind == DECONV_RESPONSE_LINEAR;
}
const deconv_band *deconv_data_band(const deconv_data *d) { return &d->band; }
deconv_op *deconv_data_op(deconv_data *d) { return d->op; }
double deconv_data_max(const deconv_data *d) { return deconv_response_max(&d->resp); }

/* The parametric curve's maps over n samples, one clone an instruction
 * set (DECONV_CLONES): light = L(u); slope *= L'(u); and slope *= L'(u)
 * from light = L(u) already decoded, which saves the power (L' = a g L / t
 * where t = a u + b: the same bytes as decoding again). Written out,
 * without the single-sample helpers' pointers, so that the loops
 * vectorise. */
DECONV_CLONES static void parametric_light(const deconv_response *resp, const float *u,
                                           float *light, size_t n)
{
    const float a = (float)resp->a, b = (float)resp->b, c = (float)resp->c, d = (float)resp->d;
    const float g = (float)resp->gamma;
    for (size_t i = 0; i < n; i++) {
        float t = a * u[i] + b;
        float l = deconv_powf(t > 1e-30f ? t : 1e-30f, g);
        light[i] = u[i] >= d ? l : c * u[i];
    }
}

DECONV_CLONES static void parametric_slope(const deconv_response *resp, const float *u,
                                           const float *light, float *slope, size_t n)
{
    const float a = (float)resp->a, b = (float)resp->b, c = (float)resp->c, d = (float)resp->d;
    const float g = (float)resp->gamma;
    if (light) {
        for (size_t i = 0; i < n; i++) {
            float t = a * u[i] + b;
            t = t > 1e-30f ? t : 1e-30f;
            slope[i] *= u[i] >= d ? a * g * light[i] / t : c;
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float t = a * u[i] + b;
        t = t > 1e-30f ? t : 1e-30f;
        float l = deconv_powf(t, g);
        slope[i] *= u[i] >= d ? a * g * l / t : c; /* the chain rule, in place */
    }
}

/* Samples a task of the maps' parallel loops. */
#define MAP_CHUNK 16384
#define CHUNKS(n) (((n) + MAP_CHUNK - 1) / MAP_CHUNK)
#define CHUNK_LEN(n, lo) ((n) - (lo) < MAP_CHUNK ? (n) - (lo) : MAP_CHUNK)

/* light = L(u). */
static void decode_light(const deconv_response *resp, const float *u, float *light, size_t n)
{
    if (resp->kind == DECONV_RESPONSE_PARAMETRIC) {
#pragma omp parallel for schedule(static) if (n >= DECONV_PARALLEL_MIN)
        for (size_t k = 0; k < CHUNKS(n); k++)
            parametric_light(resp, u + k * MAP_CHUNK, light + k * MAP_CHUNK,
                             CHUNK_LEN(n, k * MAP_CHUNK));
        return;
    }
    deconv_response_decode(resp, u, light, n);
}

/* slope *= L'(u); light, if not NULL, holds L(u) already. */
static void apply_slope(const deconv_response *resp, const float *u, const float *light,
                        float *slope, size_t n)
{
    if (resp->kind == DECONV_RESPONSE_PARAMETRIC) {
#pragma omp parallel for schedule(static) if (n >= DECONV_PARALLEL_MIN)
        for (size_t k = 0; k < CHUNKS(n); k++)
            parametric_slope(resp, u + k * MAP_CHUNK, light ? light + k * MAP_CHUNK : NULL,
                             slope + k * MAP_CHUNK, CHUNK_LEN(n, k * MAP_CHUNK));
        return;
    }
#pragma omp parallel for schedule(static) if (n >= DECONV_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        float s;
        deconv_decode1(resp, u[i], &s);
        slope[i] *= s;
    }
}

void deconv_data_forward(deconv_data *d, const float *u, float *v)
{
    const deconv_band *b = &d->band;
    const float *l = u;
    if (d->resp.kind != DECONV_RESPONSE_LINEAR) {
        decode_light(&d->resp, u, d->light, d->nx);
        d->light_of = u;
        l = d->light;
    }
    deconv_op_apply_rows(d->op, l + (size_t)(b->y0 - b->xs0) * b->xw, b->y0, b->y1,
                         v + deconv_band_owned_offset(b, DECONV_PLANE_Y));
}

/* Below this v the soft clip is the identity to the last bit: 1 + exp(z)
 * rounds to 1 for z = a (v - 1) < -17, so R = v and R' = 1 exactly. */
#define SOFT_CLIP_IDENTITY_BELOW 0.64f

/* Samples lo <= i < hi of value_block: sq[i - lo] = m r^2 and e = m G'(w)
 * R'(v) r, the soft clip computed (clip) or known to be the identity there. */
static inline __attribute__((always_inline)) void value_run(const deconv_data *d, const float *v,
                                                            float *e, float *sq, size_t lo,
                                                            size_t hi, int weighted, int with_e,
                                                            int parametric, int clip)
{
    const deconv_response *resp = &d->resp;
    const float a = (float)resp->a, b = (float)resp->b, c = (float)resp->c;
    const float cd = (float)(resp->c * resp->d);
    const float inv_g = (float)(1.0 / (resp->gamma > 0 ? resp->gamma : 1));
    const float A = DECONV_SOFT_CLIP_SHARPNESS;
    const float *y = d->y, *m = d->m;
    /* deconv_soft_clip and the parametric G written out (response.h),
     * without the helpers' pointers, so that the loop vectorises */
    for (size_t i = lo; i < hi; i++) {
        float w = v[i], rs = 1.0f;
        if (clip) {
            float z = A * (v[i] - 1.0f);
            float az = z < 0.0f ? -z : z;
            float ex = deconv_exp2f(-1.4426950409f * az);
            float l1 = 0.6931471806f * deconv_log2f(1.0f + ex) / A;
            float inv = 1.0f / (1.0f + ex);
            rs = z > 0.0f ? ex * inv : inv;
            w = z > 0.0f ? 1.0f - l1 : v[i] - l1;
        }
        float g = w, gs = 1.0f;
        if (parametric) {
            float lp = w > 1e-30f ? w : 1e-30f;
            float t = deconv_powf(lp, inv_g); /* a u + b */
            int power = w >= cd;
            g = power ? (t - b) / a : w / c;
            gs = power ? t * inv_g / (a * lp) : 1.0f / c;
        }
        float r = g - y[i];
        float mi = weighted ? m[i] : 1.0f;
        sq[i - lo] = mi * r * r;
        if (with_e)
            e[i] = mi * gs * rs * r;
    }
}

/* One block of deconv_data_value for a parametric curve (or none) with the
 * soft clip; the flags are constants where it is called, so that each
 * variant vectorises. */
static inline __attribute__((always_inline)) double value_block(const deconv_data *d,
                                                                const float *v, float *e,
                                                                size_t lo, size_t hi,
                                                                int weighted, int with_e,
                                                                int parametric)
{
    double s = 0;
    float sq[256]; /* squared residuals of a run, summed in double after */
    for (size_t run = lo; run < hi; run += 256) {
        size_t end = run + 256 < hi ? run + 256 : hi;
        /* most of a photo is well below white: no exp2 and log2 there,
         * decided for pieces of 32 samples (of 256, a third of a day
         * photo's runs held a sample past 0.64; of 32, a tenth) */
        for (size_t lo2 = run; lo2 < end; lo2 += 32) {
            size_t hi2 = lo2 + 32 < end ? lo2 + 32 : end;
            float top = v[lo2];
#pragma omp simd reduction(max : top)
            for (size_t i = lo2; i < hi2; i++)
                top = v[i] > top ? v[i] : top;
            if (top < SOFT_CLIP_IDENTITY_BELOW)
                value_run(d, v, e, sq + (lo2 - run), lo2, hi2, weighted, with_e, parametric, 0);
            else
                value_run(d, v, e, sq + (lo2 - run), lo2, hi2, weighted, with_e, parametric, 1);
        }
        /* eight independent double sums (a chain of dependent additions was
         * half the time); the order is fixed, so is the result */
        size_t len = end - run, full = len & ~(size_t)7;
        double lanes[8] = {0};
        for (size_t i = 0; i < full; i += 8)
            for (int k = 0; k < 8; k++)
                lanes[k] += sq[i + k];
        for (size_t i = full; i < len; i++)
            lanes[0] += sq[i];
        for (int k = 0; k < 8; k++)
            s += lanes[k];
    }
    return s;
}

/* A row of deconv_data_value for a parametric curve (or none) with the
 * soft clip, one clone an instruction set. */
DECONV_CLONES static double value_row(const deconv_data *d, const float *v, float *e,
                                      size_t lo, size_t hi, int parametric)
{
    const int w = d->m != NULL;
    if (parametric)
        return e ? (w ? value_block(d, v, e, lo, hi, 1, 1, 1) : value_block(d, v, e, lo, hi, 0, 1, 1))
                 : (w ? value_block(d, v, e, lo, hi, 1, 0, 1) : value_block(d, v, e, lo, hi, 0, 0, 1));
    return e ? (w ? value_block(d, v, e, lo, hi, 1, 1, 0) : value_block(d, v, e, lo, hi, 0, 1, 0))
             : (w ? value_block(d, v, e, lo, hi, 1, 0, 0) : value_block(d, v, e, lo, hi, 0, 0, 0));
}

/* The general block: any response (a table: a search a sample). */
static double value_block_general(const deconv_data *d, const float *v, float *e, size_t lo,
                                  size_t hi)
{
    const deconv_response *resp = &d->resp;
    const float *y = d->y, *m = d->m;
    double s = 0;
    for (size_t i = lo; i < hi; i++) {
        float rs = 1.0f, gs;
        float w = resp->soft_clip ? deconv_soft_clip(v[i], &rs) : v[i];
        float r = deconv_encode1(resp, w, &gs) - y[i];
        float mi = m ? m[i] : 1.0f;
        s += (double)mi * r * r;
        if (e)
            e[i] = mi * gs * rs * r;
    }
    return s;
}

double deconv_data_value(deconv_data *d, const float *v, float *e)
{
    const deconv_response *resp = &d->resp;
    const deconv_band *b = &d->band;
    const size_t N = (size_t)d->N;
    const int fast = resp->soft_clip && resp->kind != DECONV_RESPONSE_TABLE;
    const int par = resp->kind == DECONV_RESPONSE_PARAMETRIC;
    /* one sum a row, over the owned rows */
#pragma omp parallel for schedule(static) if ((size_t)(b->y1 - b->y0) * N >= DECONV_PARALLEL_MIN)
    for (int row = b->y0; row < b->y1; row++) {
        size_t lo = (size_t)(row - b->ys0) * N, hi = lo + N;
        d->rows[row] = fast ? value_row(d, v, e, lo, hi, par) : value_block_general(d, v, e, lo, hi);
    }
    double s;
    deconv_band_sum(b, DECONV_PLANE_Y, d->rows, 1, &s);
    return 0.5 * s;
}

void deconv_data_gradient(deconv_data *d, const float *u, float *e, float *g)
{
    const deconv_band *b = &d->band;
    deconv_band_exchange(b, DECONV_PLANE_Y, e); /* the adjoint reads e's rows above */
    const size_t own = deconv_band_owned_offset(b, DECONV_PLANE_X);
    const size_t n = (size_t)(b->x1 - b->x0) * b->xw;
    deconv_op_adjoint_rows(d->op, e, b->x0, b->x1, g + own);
    if (d->resp.kind == DECONV_RESPONSE_LINEAR)
        return;
    /* g *= L'(u), from the light of the last forward when it was of u */
    const float *light = u == d->light_of ? d->light + own : NULL;
    apply_slope(&d->resp, u + own, light, g + own, n);
}

void deconv_data_kernel_gradient(deconv_data *d, const float *u, const float *e, float *gh)
{
    /* one process only: the blind estimate runs on a window */
    const float *l = u;
    if (d->resp.kind != DECONV_RESPONSE_LINEAR) {
        decode_light(&d->resp, u, d->light, d->nx);
        d->light_of = u;
        l = d->light;
    }
    deconv_corr_kernel(l, d->N + d->kw - 1, d->M + d->kh - 1, e, d->kw, d->kh, gh);
}
