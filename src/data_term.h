/* The data term of MODEL.md with the camera, as one object the image step
 * and the kernel step both call, so that neither knows which model it
 * runs:
 *
 *   v = H L(u)          blur in linear light       (the operator, operator.h)
 *   w = R(v)            the sensor's soft clip
 *   r = G(w) - y        residual in the file's values
 *   f = 1/2 sum m r^2   m: per-pixel weights (1 without; 0 drops a pixel)
 *
 *   grad f = L'(u) . H^T e,   e = m G'(w) R'(v) r
 *
 * With the linear response (no curve, no clip) and no weights, v = H u and
 * e = r: MODEL.md's linear model, whose data term is quadratic along any
 * ray (deconv_data_quadratic), which the image step uses to search a ray
 * without a convolution a trial. */
#ifndef DECONV_DATA_TERM_H
#define DECONV_DATA_TERM_H

#include "band.h"
#include "deconv.h"
#include "operator.h"

typedef struct deconv_data deconv_data;

/* y is N x M, u (and the kernel's support) as in operator.h. resp is
 * copied; y and weights (N x M, or NULL) are the caller's and must outlive
 * the object. */
deconv_data *deconv_data_new(int N, int M, const float *h, int kw, int kh,
                             deconv_conv_mode mode, const deconv_response *resp,
                             const float *y, const float *weights, deconv_error *err);
/* The data term of one band (band.h): y and weights hold the band's rows
 * of y, and every plane below is held from its band's first held row;
 * only owned rows are computed, and the sums are the band's. */
deconv_data *deconv_data_new_band(const deconv_band *band, const float *h,
                                  deconv_conv_mode mode, const deconv_response *resp,
                                  const float *y, const float *weights, deconv_error *err);
void deconv_data_free(deconv_data *d);
const deconv_band *deconv_data_band(const deconv_data *d);

/* Whether f is the linear model's 1/2 ||H u - y||^2 (v = H u, e = r). */
int deconv_data_quadratic(const deconv_data *d);
/* Whether v = H L(u) is linear in u (no curve: L is the identity), so that
 * v along a ray follows from two convolutions. */
int deconv_data_linear_forward(const deconv_data *d);
/* The blur operator H (for the linear model's ray search). */
deconv_op *deconv_data_op(deconv_data *d);
/* The box the iterate is kept in: [0, deconv_data_max(d)]. */
double deconv_data_max(const deconv_data *d);

/* v = H L(u), N x M. */
void deconv_data_forward(deconv_data *d, const float *u, float *v);
/* f at v; e (N x M, or NULL) receives m G'(w) R'(v) r. Sums are taken a
 * row, then in row order (the same for any thread count and bands). */
double deconv_data_value(deconv_data *d, const float *v, float *e);
/* g = L'(u) . H^T e, (N+kw-1) x (M+kh-1); e's halo is exchanged first.
 * When u is the input of the last deconv_data_forward (the same pointer),
 * the light that call decoded is reused: u must not have changed since. */
void deconv_data_gradient(deconv_data *d, const float *u, float *e, float *g);

/* gh = X_L^T e, the kernel's gradient: the valid correlation of L(u)
 * with e (kw x kh). */
void deconv_data_kernel_gradient(deconv_data *d, const float *u, const float *e, float *gh);

/* The observed y the object was made with. */
const float *deconv_data_observed(const deconv_data *d);

/* The image step's work buffers, kept between the calls of a caller that
 * runs many steps on one problem size (NULL where it runs one): the same
 * results, without fresh pages at each call. */
typedef struct deconv_image_work deconv_image_work;
deconv_image_work *deconv_image_work_new(void);
void deconv_image_work_free(deconv_image_work *w);

/* deconv_image_step on a data term made by the caller (with weights, say):
 * h, kw, kh must be the ones it was made with; work may be NULL. */
deconv_status deconv_image_step_on(float *x, deconv_data *data, int N, int M, const float *h,
                                   int kw, int kh, const deconv_deblur_params *p, int channel,
                                   int channels, deconv_image_work *work, int *iters,
                                   double *final_obj, deconv_error *err);

/* deconv_image_step with the data term's per-pixel weights (N x M, or
 * NULL: deconv_image_step itself); work may be NULL. */
deconv_status deconv_image_step_weighted(float *x, const float *y, const float *weights, int N,
                                         int M, const float *h, int kw, int kh,
                                         const deconv_deblur_params *p, int channel,
                                         int channels, deconv_image_work *work, int *iters,
                                         double *final_obj, deconv_error *err);

#endif
