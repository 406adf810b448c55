/* The data term with the camera (data_term.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_term.h"
#include "internal.h"
#include "response.h"

struct deconv_data {
    int N, M, kw, kh;
    size_t nx, ny;
    deconv_response resp;
    int quadratic;
    const float *y, *m;
    deconv_op *op;
    float *light;     /* L(u), then H^T e: (N+kw-1) x (M+kh-1) */
    double *partial;  /* per-block sums */
};

deconv_data *deconv_data_new(int N, int M, const float *h, int kw, int kh,
                             deconv_conv_mode mode, const deconv_response *resp,
                             const float *y, const float *weights, deconv_error *err)
{
    if (resp && deconv_response_check(resp, err) != DECONV_OK)
        return NULL;
    deconv_data *d = calloc(1, sizeof *d);
    if (!d) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    d->N = N, d->M = M, d->kw = kw, d->kh = kh;
    d->nx = (size_t)(N + kw - 1) * (M + kh - 1), d->ny = (size_t)N * M;
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
    d->partial = malloc(deconv_block_count(d->ny) * sizeof(double));
    if ((!d->quadratic && !d->light) || !d->partial) {
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
    free(d->partial);
    free(d);
}

const float *deconv_data_observed(const deconv_data *d) { return d->y; }
int deconv_data_quadratic(const deconv_data *d) { return d->quadratic; }
deconv_op *deconv_data_op(deconv_data *d) { return d->op; }
double deconv_data_max(const deconv_data *d) { return deconv_response_max(&d->resp); }

void deconv_data_forward(deconv_data *d, const float *u, float *v)
{
    if (d->resp.kind == DECONV_RESPONSE_LINEAR) {
        deconv_op_apply(d->op, u, v);
        return;
    }
    deconv_response_decode(&d->resp, u, d->light, d->nx);
    deconv_op_apply(d->op, d->light, v);
}

double deconv_data_value(deconv_data *d, const float *v, float *e)
{
    const deconv_response *resp = &d->resp;
    const float *y = d->y, *m = d->m;
    const size_t n = d->ny, nb = deconv_block_count(n);
    const int clip = resp->soft_clip;
#pragma omp parallel for schedule(static) if (n >= DECONV_PARALLEL_MIN)
    for (size_t k = 0; k < nb; k++) {
        size_t lo = k * DECONV_SUM_BLOCK, hi = lo + DECONV_SUM_BLOCK < n ? lo + DECONV_SUM_BLOCK : n;
        double s = 0;
        for (size_t i = lo; i < hi; i++) {
            float rs = 1.0f, gs;
            float w = clip ? deconv_soft_clip(v[i], &rs) : v[i];
            float r = deconv_encode1(resp, w, &gs) - y[i];
            float mi = m ? m[i] : 1.0f;
            s += (double)mi * r * r;
            if (e)
                e[i] = mi * gs * rs * r;
        }
        d->partial[k] = s;
    }
    double s = 0;
    for (size_t k = 0; k < nb; k++)
        s += d->partial[k];
    return 0.5 * s;
}

void deconv_data_gradient(deconv_data *d, const float *u, const float *e, float *g)
{
    deconv_op_adjoint(d->op, e, g);
    if (d->resp.kind == DECONV_RESPONSE_LINEAR)
        return;
    const deconv_response *resp = &d->resp;
#pragma omp parallel for schedule(static) if (d->nx >= DECONV_PARALLEL_MIN)
    for (size_t i = 0; i < d->nx; i++) {
        float s;
        deconv_decode1(resp, u[i], &s);
        g[i] *= s;
    }
}

void deconv_data_kernel_gradient(deconv_data *d, const float *u, const float *e, float *gh)
{
    const float *l = u;
    if (d->resp.kind != DECONV_RESPONSE_LINEAR) {
        deconv_response_decode(&d->resp, u, d->light, d->nx);
        l = d->light;
    }
    deconv_corr_kernel(l, d->N + d->kw - 1, d->M + d->kh - 1, e, d->kw, d->kh, gh);
}
