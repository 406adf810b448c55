/* What the synthetic benchmarks made from the shared photos need (camera.c,
 * blindset.c): the photos, the kernels (Levin's and shake trajectories),
 * a random generator that gives the same cases on every machine, the
 * reference window and the PSNR (starts.c uses the generator too); and
 * the blind estimate's flags that blindset.c and levin.c pass through. */
#ifndef DECONV_BENCH_CASES_H
#define DECONV_BENCH_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "deconv.h"

/* The photos of the shared data (photos/ and sharp/), in the order the
 * benchmarks cycle over them. */
#define BENCH_PHOTOS 10
extern const char *const bench_photo_files[BENCH_PHOTOS];

/* The file name of photo i, without its folder. */
const char *bench_photo_name(int i);

/* Photo i of the data folder (its stored values), resized by scale first
 * when 0 < scale < 1, then to gray (Rec. 709 luminance) when gray is set
 * or it has fewer than 3 channels; alpha is dropped. NULL (err says why)
 * when it cannot be read. */
deconv_image *bench_read_photo(const char *data, int i, double scale, int gray,
                               deconv_error *err);

/* The middle side x side square of a one-channel photo resized so its
 * shorter side is `shorter` (>= side); NULL when out of memory. */
deconv_image *bench_middle_square(const deconv_image *photo, int shorter, int side);

/* xorshift64 and Box-Muller: the same draws on every machine.
 * bench_rng_state may be saved and restored to repeat draws. */
extern uint64_t bench_rng_state;
/* A case's own state, from the seed and its number: a case draws the same
 * numbers whichever cases run before it (--first). */
uint64_t bench_case_state(uint64_t seed, int i);
double bench_uniform(void);     /* in (0, 1) */
double bench_gaussian(void);    /* mean 0, sigma 1 */

/* Seconds of a monotonic clock. */
double bench_now(void);

/* A camera-shake trajectory in a k x k kernel (draws from the generator):
 * the velocity does a random walk (a hand's shake is smooth), the path is
 * scaled to span the kernel and splatted bilinearly, a little heavier
 * where it moves slowly. Sums to 1. */
deconv_kernel *bench_shake_kernel(int k);

/* Another model of a hand's path (after Boracchi and Foi, IEEE TIP 2012,
 * as Lai et al.'s and other synthetic sets make them): the heading turns
 * smoothly with a random jitter, is pulled back towards the start, and now
 * and then jerks round; the speed varies smoothly and a point's exposure
 * is the time spent there. Open curves with a turn or two rather than
 * bench_shake_kernel's orbits. Scaled to span the kernel, sums to 1. */
deconv_kernel *bench_path_kernel(int k);

/* Levin et al.'s kernel index (0 to 7: kern01 to kern08, 13 to 27 pixels)
 * from the data folder, as stored; NULL when missing. */
deconv_kernel *bench_levin_kernel(const char *data, int index);

/* "levinN" (levin_index 0 to 7), "pathK" (BENCH_PATH, size K: a
 * bench_path_kernel) or "shakeK" (levin_index -1: a bench_shake_kernel). */
enum { BENCH_PATH = -2 };
void bench_kernel_name(char *name, size_t n, int levin_index, int size);

/* The kernel size given to a blind estimate: factor times the true size,
 * odd (the true size for factor 1); 0 (the library chooses) for
 * factor <= 0. */
int bench_given_size(double factor, int size);

/* The window of x that the valid convolution with a kw x kh kernel puts
 * the blurry pixels on: (width - kw + 1) x (height - kh + 1), all
 * channels (the reference a restoration is compared with). */
deconv_image *bench_window(const deconv_image *x, int kw, int kh);

/* PSNR of x against ref on [0, 1], x clipped to [0, 1] (as the output
 * would be). */
double bench_psnr_clipped(const deconv_image *ref, const deconv_image *x);

/* The same at the best integer shift of x within `shift` pixels (an
 * estimated kernel may be off centre by a pixel, which moves the
 * restoration), the `border` pixels at each side left out. */
double bench_psnr_shifted(const deconv_image *ref, const deconv_image *x, int shift, int border);

/* The blind flag `flag` with its value v set in p: --iterations,
 * --kernel-iterations, --image-iterations, --tv, --tv-final, --levels,
 * --kernel-reg, --sparse-prior, --refine, --refine-lambda,
 * --piece-fraction and --starts. Returns 0 (p untouched) for any other
 * flag. */
int bench_blind_flag(const char *flag, const char *v, deconv_blind_params *p);

/* DIR/caseNN-sharp.png, -blurry.png (8 bits) and -kernel.csv. */
void bench_save_case(const char *dir, int index, const deconv_image *ref, const deconv_image *y,
                     const deconv_kernel *k);

#endif
