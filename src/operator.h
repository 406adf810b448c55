/* The blur operator H of one problem (MODEL.md), made once and applied many
 * times: y = H x (valid convolution) and g = H^T r (full correlation). It
 * owns whatever makes repeated application cheap: FFT plans, the kernel's
 * spectrum, scratch buffers. Nothing is allocated by apply or adjoint. */
#ifndef DECONV_OPERATOR_H
#define DECONV_OPERATOR_H

#include "deconv.h"

typedef struct deconv_op deconv_op;

/* y is N x M (width x height), x is (N+kw-1) x (M+kh-1); h is copied.
 * mode AUTO picks the cheaper path by a cost model measured on this
 * machine. The operator runs with the caller's OpenMP threads; its results
 * do not depend on their number. Planning takes FFTW's planner lock (the
 * OpenMP critical section deconv_fftw_planner), so operators may be made
 * on several threads at once. */
deconv_op *deconv_op_new(int N, int M, const float *h, int kw, int kh,
                         deconv_conv_mode mode, deconv_error *err);
/* The FFT path with tiles of ph x pw transforms instead of the kernel's
 * (ph >= kh + 3, pw >= kw + 3; an image smaller than a tile still gets a
 * smaller one): for the benchmarks of the tile size and for tests of
 * tiles smaller than the kernel. */
deconv_op *deconv_op_new_tiles(int N, int M, const float *h, int kw, int kh, int ph, int pw,
                               deconv_error *err);
/* y = h * x (valid), N x M. */
void deconv_op_apply(deconv_op *op, const float *x, float *y);
/* g = H^T r (full correlation), (N+kw-1) x (M+kh-1). */
void deconv_op_adjoint(deconv_op *op, const float *r, float *g);
/* The same operators on a band of rows (one process's share in a
 * distributed run; apply and adjoint are the whole band [0, M) and
 * [0, M+kh-1)). The rows computed are byte for byte those of the whole
 * image's operator when the band starts at a multiple of
 * deconv_op_row_block and ends at one or at the image's end (y's row M,
 * g's M+kh-1; the direct path's bands may end anywhere).
 *   apply:   y's rows [y0, y1) (into y) from x, which points at x's row y0
 *            (rows y0 .. y1+kh-2 are read);
 *   adjoint: g's rows [g0, g1) (into g) from r, which points at r's row
 *            max(0, g0-kh+1) (rows up to min(M, g1)-1 are read; r is zero
 *            outside [0, M)). */
void deconv_op_apply_rows(deconv_op *op, const float *x, int y0, int y1, float *y);
void deconv_op_adjoint_rows(deconv_op *op, const float *r, int g0, int g1, float *g);
/* The rows a band must start at a multiple of (the direct path's strip
 * height; the FFT path's tile height). */
int deconv_op_row_block(const deconv_op *op);
/* The path chosen: DECONV_CONV_DIRECT or DECONV_CONV_FFT. */
deconv_conv_mode deconv_op_mode(const deconv_op *op);
/* The path DECONV_CONV_AUTO takes for these sizes and kernel (the cost
 * model of operator.c), without making an operator. */
deconv_conv_mode deconv_op_choose(int N, int M, const float *h, int kw, int kh);
void deconv_op_free(deconv_op *op);

/* The direct operators of conv.c with their tap tables made once (the
 * direct path of deconv_op; deconv_conv_valid / deconv_corr_full make one
 * per call). Same results as those functions, byte for byte. */
typedef struct deconv_direct deconv_direct;
deconv_direct *deconv_direct_new(const float *h, int kw, int kh);
/* y = h * x (valid); x is xw x xh */
void deconv_direct_apply(const deconv_direct *d, const float *x, int xw, int xh, float *y);
/* g = H^T r (full correlation); r is rw x rh */
void deconv_direct_adjoint(const deconv_direct *d, const float *r, int rw, int rh, float *g);
/* grows rows of the full correlation, output row p reading r's rows from
 * p + ro (r is rw x rh, zero outside): a band of deconv_direct_adjoint's
 * rows, whose first row has ro = -(kh-1). */
void deconv_direct_adjoint_rows(const deconv_direct *d, const float *r, int rw, int rh, int ro,
                                float *g, int grows);
void deconv_direct_free(deconv_direct *d);
/* The modelled work of the direct path per output sample, in units of one
 * tap of a large dense kernel (zero taps cost nothing; small kernels cost
 * more per tap). */
double deconv_direct_work(const float *h, int kw, int kh);

#endif
