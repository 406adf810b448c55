/* Internal helpers shared by the library's modules; not part of the API. */
#ifndef DECONV_INTERNAL_H
#define DECONV_INTERNAL_H

#include "deconv.h"

#if defined(__GNUC__)
#define DECONV_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DECONV_PRINTF(a, b)
#endif

/* Record a failure in err (if not NULL) and return code, so that callers can
 * write `return deconv_fail(err, DECONV_ERR_ARG, "...", ...);`. */
deconv_status deconv_fail(deconv_error *err, deconv_status code, const char *fmt, ...)
    DECONV_PRINTF(3, 4);

/* Kernels compiled for several instruction sets (conv.c's strips, blind.c's
 * normal equations): the target attributes, and the widest set this
 * processor runs, which picks the version. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define DECONV_X86 1
#define DECONV_TARGET_512 __attribute__((target("avx512f")))
#define DECONV_TARGET_256 __attribute__((target("avx2,fma")))
#endif
/* Loops elsewhere that gain from wider vectors (the camera's maps, the TV
 * term): GCC makes a clone for AVX2+FMA (x86-64-v3) and one for the
 * baseline, and the dynamic linker picks one at load (an ifunc), so the
 * binary stays portable. Their files are compiled without contraction
 * into fused multiply-adds (CMakeLists.txt), so both clones give the same
 * bytes. */
#if defined(DECONV_X86) && defined(__x86_64__) && defined(__ELF__)
#define DECONV_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define DECONV_CLONES
#endif
typedef enum { DECONV_ISA_SSE2, DECONV_ISA_AVX2, DECONV_ISA_AVX512 } deconv_isa;
static inline deconv_isa deconv_cpu_isa(void)
{
#ifdef DECONV_X86
    if (__builtin_cpu_supports("avx512f"))
        return DECONV_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return DECONV_ISA_AVX2;
#endif
    return DECONV_ISA_SSE2;
}

/* Loops over fewer samples than this (or direct convolutions of less work
 * than this many multiply-adds) run on one thread: below it, waking and
 * joining the threads costs more than the work, and far more when other
 * processes keep the cores busy. The result is the same either way. */
#define DECONV_PARALLEL_MIN 65536

/* Rec. 709 luminance weights of red, green and blue (image.c's
 * deconv_image_luminance; the blind estimate's light of some channels). */
extern const float deconv_luminance_weight[3];

/* Allocation of float buffers aligned for vector loads; NULL on failure or
 * on a size that overflows. Free with deconv_free_floats. */
float *deconv_alloc_floats(size_t n);
void deconv_free_floats(float *p);

/* Atomic file output (atomic_file.c): write to a temporary file beside
 * path, then rename it into place. */
typedef struct deconv_atomic_file deconv_atomic_file;
#include <stdio.h>
deconv_atomic_file *deconv_atomic_open(const char *path, deconv_error *err);
FILE *deconv_atomic_stream(deconv_atomic_file *f);
/* Flush, fsync and rename into place; frees f. */
deconv_status deconv_atomic_commit(deconv_atomic_file *f, deconv_error *err);
/* Remove the temporary file; frees f. Safe with NULL. */
void deconv_atomic_abort(deconv_atomic_file *f);

/* Rows [i0, i1) of deconv_tv and deconv_tikhonov on an image of h rows
 * of w, of which x (and g) hold rows [s0, ...): at least one row more on
 * either side of [i0, i1) unless at the image's edge. Row i's sum goes to
 * rows[i]; the weighted gradient is added into g's rows [i0, i1) only.
 * deconv_tv_rows returns 0 when out of memory. */
int deconv_tv_rows(const float *x, int w, int h, int s0, int i0, int i1, double eps,
                   double weight, float *g, double *rows);
void deconv_tikhonov_rows(const float *x, int w, int h, int s0, int i0, int i1, double weight,
                          float *g, double *rows);

/* deconv_deblur's start (deblur.c), which deconv_deblur_mpi shares: the
 * automatic TV weight from the noise level when p->tv < 0, and the
 * report (when not NULL) reset to the noise and weight used. */
void deconv_deblur_weight(deconv_deblur_params *p, double noise, deconv_report *report);

/* Order statistics pooled over the bands of a distributed run (noise.c):
 * count adds every band's n, select gives the k-th smallest (from 0) of
 * the values of every band together (v: this band's n values, which it
 * may reorder). */
#include <stdint.h>
typedef struct {
    void *ctx;
    uint64_t (*count)(void *ctx, uint64_t n);
    float (*select)(void *ctx, float *v, size_t n, uint64_t k);
} deconv_order;

/* deconv_estimate_noise of a plane of h rows, this band owning rows
 * [r0, r1): plane points at row r0 and holds the rows up to min(h, r1 + 7)
 * (the pixel pairs and 8 x 8 blocks that start in the band: any r0 will
 * do). The bands' statistics are pooled by o (NULL: one band, the whole
 * plane). */
double deconv_noise_rows(const float *plane, int w, int h, int r0, int r1,
                         const deconv_order *o);

/* Resampling (pyramid.c): resize a plane with a triangle (bilinear) filter
 * whose support widens when shrinking, so downsampling is anti-aliased.
 * Pixel centres are aligned: (o + 0.5) / scale - 0.5. */
deconv_status deconv_resize(const float *in, int w, int h, float *out, int ow, int oh);
#endif
