/* The measures the benchmarks compare estimates with (levin.c, starts.c). */
#ifndef DECONV_BENCH_MEASURE_H
#define DECONV_BENCH_MEASURE_H

/* Normalised cross-correlation of two w x h kernels at the best integer
 * shift of a within `shift` pixels (zero outside). */
double bench_kernel_ncc(const float *a, const float *b, int w, int h, int shift);

/* The same for kernels of different sizes (aw x ah, bw x bh), each centred
 * in the larger of the two sizes. */
double bench_kernel_ncc_sized(const float *a, int aw, int ah, const float *b, int bw, int bh,
                              int shift);

/* Sum of squared differences of the restored r against the sharp s (both
 * w x h), minimised over integer shifts of r within `shift` pixels, the
 * `border` pixels at each side of s left out (border >= shift). */
double bench_best_ssd(const float *r, const float *s, int w, int h, int shift, int border);

#endif
