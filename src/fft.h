/* Two-dimensional real FFTs of one padded size, planned once (FFTW, single
 * precision) and executed many times, by the caller's OpenMP threads.
 *
 * A 2-D transform is split into 1-D ones that the caller schedules: a real
 * row transform (r2c / c2r, out of place) for each row, and complex column
 * transforms on blocks of DECONV_FFT_BLOCK adjacent columns. A block is
 * first gathered into a small buffer where each of its columns is
 * contiguous (a "gathered block"), transformed there and scattered back:
 * FFTW's plans on the strided columns of the whole buffer copy them to a
 * buffer of their own anyway, and with this layout the column pass is 4 to
 * 5 times faster (measured at 12 megapixels). Between gathering and
 * scattering the caller does its spectral product on the block while it is
 * in cache. Each 1-D transform is one plan executed on many arrays (FFTW's
 * new-array execute is thread-safe), so every output sample is computed by
 * the same code in the same order whatever the number of threads: results
 * are byte-for-byte independent of it, which FFTW's own threaded 2-D plans
 * do not promise. Splitting also lets the caller skip rows that are known
 * to be zero (forward) or not needed (inverse).
 *
 * Layout of a work buffer: ph rows of `cstride` complex numbers; seen as
 * reals, row i starts at float 2 * cstride * i and holds pw samples. A
 * gathered block is DECONV_FFT_BLOCK columns of ph complex numbers, one
 * after the other; spectra kept for many products are stored as their
 * gathered blocks, block after block. Rows and blocks start on 64-byte
 * boundaries, so every array FFTW is given has the alignment of the one it
 * was planned with.
 *
 * Plans use FFTW_ESTIMATE: FFTW_MEASURE picks plans by timing, so two runs
 * could choose different algorithms and differ in the last bits; the
 * project promises the same output bytes from run to run. */
#ifndef DECONV_FFT_H
#define DECONV_FFT_H

#include <stddef.h>

#include <fftw3.h>

/* Adjacent complex columns transformed together: 8 complex floats make one
 * 64-byte cache line per row of the block. */
#define DECONV_FFT_BLOCK 8

typedef struct deconv_fft deconv_fft;

/* The smallest n' >= n whose prime factors are 2, 3, 5, 7 only (even if
 * even != 0: r2c transforms of even length are cheaper). */
int deconv_fft_good_size(int n, int even);

/* Plans for ph x pw real transforms, with `blocks` gathered blocks of
 * scratch for each of the threads a parallel region may have now
 * (omp_get_max_threads()); NULL if out of memory. Takes FFTW's planner
 * lock (the OpenMP critical section deconv_fftw_planner). */
deconv_fft *deconv_fft_new(int ph, int pw, int blocks);
void deconv_fft_free(deconv_fft *f);

/* complex numbers per row of a work buffer (>= pw/2+1, multiple of 8) */
size_t deconv_fft_cstride(const deconv_fft *f);
/* complex columns that carry the spectrum: pw/2+1 */
int deconv_fft_ncols(const deconv_fft *f);
/* blocks of columns, the last one possibly narrower */
int deconv_fft_nblocks(const deconv_fft *f);
/* The threads for a parallel region that uses the scratch (its
 * num_threads clause): those OpenMP would give it now, at most those the
 * scratch was made for. */
int deconv_fft_threads(const deconv_fft *f);
/* The calling thread's scratch block k (< blocks), by omp_get_thread_num(). */
fftwf_complex *deconv_fft_scratch(const deconv_fft *f, int k);

/* A zeroed work buffer (64-byte aligned; free with free()). */
fftwf_complex *deconv_fft_alloc(const deconv_fft *f);
/* Zeroed memory for the gathered blocks of a whole spectrum; free with
 * free(). */
fftwf_complex *deconv_fft_alloc_blocks(const deconv_fft *f);
/* Zeroed memory for large arrays (huge pages when the system offers them);
 * free with free(). */
void *deconv_fft_alloc_bytes(size_t bytes);

/* Zero the spectrum of row i of a work buffer (its pw/2+1 coefficients):
 * a row known to be zero, not transformed. */
void deconv_fft_zero_row(const deconv_fft *f, fftwf_complex *buf, int i);
/* The calling thread's real row: 2 cstride floats, for the row transforms. */
float *deconv_fft_row_scratch(const deconv_fft *f);
/* One real row of pw samples to its pw/2+1 coefficients in a buffer row,
 * and back (unnormalised: forward then inverse multiplies by pw). The real
 * row must be the thread's row scratch or a row of the same alignment (a
 * work buffer's); the inverse destroys its input. */
void deconv_fft_row_forward(const deconv_fft *f, const float *row, fftwf_complex *out);
void deconv_fft_row_inverse(const deconv_fft *f, fftwf_complex *in, float *row);

/* Block blk of buf's columns into the gathered block g, and back (only the
 * columns that carry the spectrum, rows r0 <= i < r1). */
void deconv_fft_gather(const deconv_fft *f, const fftwf_complex *buf, int blk, fftwf_complex *g);
void deconv_fft_scatter(const deconv_fft *f, const fftwf_complex *g, int blk, fftwf_complex *buf,
                        int r0, int r1);
/* The column transforms of gathered block blk, in place; sign FFTW_FORWARD
 * or FFTW_BACKWARD. */
void deconv_fft_block(const deconv_fft *f, fftwf_complex *g, int blk, int sign);

#endif
