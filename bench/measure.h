/* The measures the benchmarks compare estimates with (levin.c, starts.c). */
#ifndef DECONV_BENCH_MEASURE_H
#define DECONV_BENCH_MEASURE_H

#include "deconv.h"

/* Normalised cross-correlation of two w x h kernels at the best integer
 * shift of a within `shift` pixels (zero outside). */
double bench_kernel_ncc(const float *a, const float *b, int w, int h, int shift);

/* The same for kernels of different sizes (aw x ah, bw x bh), each centred
 * in the larger of the two sizes. */
double bench_kernel_ncc_sized(const float *a, int aw, int ah, const float *b, int bw, int bh,
                              int shift);

/* Sorts v (n values) in increasing order: for medians and the worst. */
void bench_sort(double *v, int n);

/* Sum of squared differences of the restored r against the sharp s (both
 * w x h), minimised over integer shifts of r within `shift` pixels, the
 * `border` pixels at each side of s left out (border >= shift). */
double bench_best_ssd(const float *r, const float *s, int w, int h, int shift, int border);

/* deconv_blind_kernel, and with all_starts set, every start's kernel and
 * score printed as " [c/s ...]": c its correlation with `truth` (within 3
 * pixels), s its score (lower is kept), * on the kept one; then
 * " {a ...}": each pair's correlation (0-1, 0-2, ..., 2-3), which tells
 * whether the starts agree. */
deconv_kernel *bench_blind_kernel(const deconv_image *y, const deconv_blind_params *p,
                                  int all_starts, const deconv_kernel *truth, deconv_error *err);

#endif
