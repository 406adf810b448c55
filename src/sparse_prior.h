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

/* The normal equations of fitting a kernel to one gradient image v (w x h)
 * against r ((w-kw+1) x (h-kh+1)), by FFT: adds the autocorrelation of v
 * over shifts |row| < kh, |col| < kw into ac ((2kw-1) x (2kh-1), as
 * blind.c's add_autocorrelation) and X^T r (MODEL.md's kernel gradient
 * with residual r) into c (kw x kh). Returns 0, or -1 out of memory. */
int deconv_kernel_normal_fft(const float *v, int w, int h, const float *r, int kw, int kh,
                             double *ac, double *c);

#endif
