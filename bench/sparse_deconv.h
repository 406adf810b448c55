/* The benchmark's standard non-blind deconvolution (sparse_deconv.c). */
#ifndef LEVIN_SPARSE_DECONV_H
#define LEVIN_SPARSE_DECONV_H

#include "deconv.h"

/* Restore the gray image y with kernel k (MODEL.md's h): the hyper-Laplacian
 * IRLS of Levin et al. 2007 with prior weight we and max_it conjugate
 * gradient iterations a solve. Returns x cropped to y's frame (NULL when
 * out of memory). */
deconv_image *levin_sparse_deconv(const deconv_image *y, const deconv_kernel *k, double we,
                                  int max_it);

#endif
