/* The blur operator of one problem: direct spatial sums (conv.c). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "operator.h"

struct deconv_op {
    int N, M, kw, kh;
    float *h;
    deconv_conv_mode mode;
};

deconv_op *deconv_op_new(int N, int M, const float *h, int kw, int kh,
                         deconv_conv_mode mode, deconv_error *err)
{
    deconv_op *op = calloc(1, sizeof *op);
    if (op)
        op->h = malloc((size_t)kw * kh * sizeof(float));
    if (!op || !op->h) {
        free(op);
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(op->h, h, (size_t)kw * kh * sizeof(float));
    op->N = N, op->M = M, op->kw = kw, op->kh = kh;
    op->mode = DECONV_CONV_DIRECT;
    (void)mode;
    return op;
}

void deconv_op_apply(deconv_op *op, const float *x, float *y)
{
    deconv_conv_valid(x, op->N + op->kw - 1, op->M + op->kh - 1, op->h, op->kw, op->kh, y);
}

void deconv_op_adjoint(deconv_op *op, const float *r, float *g)
{
    deconv_corr_full(r, op->N, op->M, op->h, op->kw, op->kh, g);
}

deconv_conv_mode deconv_op_mode(const deconv_op *op) { return op->mode; }

void deconv_op_free(deconv_op *op)
{
    if (!op)
        return;
    free(op->h);
    free(op);
}
