/* The L0-gradient image step of blind estimation (sparse_prior.c). Internal. */
#ifndef DECONV_SPARSE_PRIOR_H
#define DECONV_SPARSE_PRIOR_H

/* The work of the L0 image step for one problem size (y N x M, kernel
 * kw x kh): its buffers and FFTW plans, made once and used by every step
 * at that size. NULL when out of memory. Takes FFTW's planner lock. */
typedef struct deconv_l0 deconv_l0;
deconv_l0 *deconv_l0_new(int N, int M, int kw, int kh);
void deconv_l0_free(deconv_l0 *s);

/* Minimise over x, for a fixed kernel h (kw x kh),
 *   F(x) = 1/2 ||h * x - y||^2 + lambda/2 ||grad x||_0
 * (MODEL.md's valid convolution: y is N x M, x is (N+kw-1) x (M+kh-1),
 * updated in place; ||grad x||_0 counts the pixels whose forward
 * differences are not both zero), by half-quadratic splitting (Xu, Zheng
 * and Jia, CVPR 2013; Pan et al., CVPR 2014). beta grows from 2 lambda by
 * 2x up to beta_max. Sizes are those of s. */
void deconv_l0_image_step(deconv_l0 *s, float *x, const float *y, const float *h,
                          double lambda, double beta_max);

/* The normal equations of the kernel step for an x of xw x xh and a kernel
 * of kw x kh, by FFT: buffers and plans for one size, made once and used
 * by every kernel step at that size. NULL when out of memory. */
typedef struct deconv_normal deconv_normal;
deconv_normal *deconv_normal_new(int xw, int xh, int kw, int kh);
void deconv_normal_free(deconv_normal *s);

/* For the gradient images P = (px: (xw-1) x xh, py: xw x (xh-1)) fitted to
 * D y = (dy_c: (xw-kw) x (xh-kh+1), dy_r: (xw-kw+1) x (xh-kh)): adds the
 * autocorrelation of P over shifts |row| < kh, |col| < kw into ac
 * ((2kw-1) x (2kh-1), as blind.c's add_autocorrelation) and P^T D y
 * (MODEL.md's kernel gradient with residual D y, both directions summed)
 * into c (kw x kh). */
void deconv_kernel_normal(deconv_normal *s, const float *px, const float *py,
                          const float *dy_c, const float *dy_r, double *ac, double *c);

#endif
