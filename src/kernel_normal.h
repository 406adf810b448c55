/* The kernel step's normal operator by FFT (kernel_normal.c), for kernels
 * large enough that its two transforms cost less than the direct sums. */
#ifndef DECONV_KERNEL_NORMAL_H
#define DECONV_KERNEL_NORMAL_H

typedef struct kernel_fft kernel_fft;

/* Plans for a kw x kh kernel; NULL when out of memory. */
kernel_fft *kernel_fft_new(int kw, int kh);
void kernel_fft_free(kernel_fft *k);
/* The operator's autocorrelation, (2 kh - 1) rows of 2 kw - 1 shifts, each
 * row reversed (as kernel_step.c keeps it). */
void kernel_fft_set(kernel_fft *k, const double *acr);
/* out = (P^T P + gamma) v on kw x kh arrays. */
void kernel_fft_apply(kernel_fft *k, double gamma, const double *v, double *out);

#endif
