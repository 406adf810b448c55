/* The blur operator H of one problem (MODEL.md), made once and applied many
 * times: y = H x (valid convolution) and g = H^T r (full correlation). It
 * owns whatever makes repeated application cheap: FFT plans, the kernel's
 * spectrum, scratch buffers. Nothing is allocated by apply or adjoint. */
#ifndef DECONV_OPERATOR_H
#define DECONV_OPERATOR_H

#include "deconv.h"

typedef struct deconv_op deconv_op;

/* y is N x M, x is (N+kw-1) x (M+kh-1); h is copied. threads: the
 * OpenMP threads the caller runs with (for FFTW's plans). */
deconv_op *deconv_op_new(int N, int M, const float *h, int kw, int kh,
                         deconv_conv_mode mode, deconv_error *err);
/* y = h * x (valid), N x M. */
void deconv_op_apply(deconv_op *op, const float *x, float *y);
/* g = H^T r (full correlation), (N+kw-1) x (M+kh-1). */
void deconv_op_adjoint(deconv_op *op, const float *r, float *g);
/* The path chosen: DECONV_CONV_DIRECT or DECONV_CONV_FFT. */
deconv_conv_mode deconv_op_mode(const deconv_op *op);
void deconv_op_free(deconv_op *op);

#endif
