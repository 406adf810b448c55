/* Plans of one padded size for the operator's FFT path (see fft.h). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "fft.h"

struct deconv_fft {
    int ph, pw, nc;   /* padded size; pw/2+1 complex columns */
    int nblocks;      /* blocks of DECONV_FFT_BLOCK columns */
    size_t cs;        /* complex numbers per buffer row */
    fftwf_plan row_f, row_b;
    fftwf_plan col_f, col_b;  /* the columns of a gathered block */
    /* scratch of each thread: a real row (cs complex numbers), then
     * `blocks` gathered blocks */
    int threads, blocks;
    fftwf_complex *scratch;
};

int deconv_fft_good_size(int n, int even)
{
    if (n < 1)
        n = 1;
    for (int m = n;; m++) {
        if (even && (m & 1))
            continue;
        int r = m;
        static const int primes[] = {2, 3, 5, 7};
        for (int k = 0; k < 4; k++)
            while (r % primes[k] == 0)
                r /= primes[k];
        if (r == 1)
            return m;
    }
}

size_t deconv_fft_cstride(const deconv_fft *f) { return f->cs; }
int deconv_fft_ncols(const deconv_fft *f) { return f->nc; }
int deconv_fft_nblocks(const deconv_fft *f) { return f->nblocks; }
int deconv_fft_threads(const deconv_fft *f)
{
    int now = omp_get_max_threads();
    return now < f->threads ? now : f->threads;
}

/* columns of block blk that carry the spectrum (the last may be narrower) */
static int block_width(const deconv_fft *f, int blk)
{
    int c0 = blk * DECONV_FFT_BLOCK;
    return c0 + DECONV_FFT_BLOCK <= f->nc ? DECONV_FFT_BLOCK : f->nc - c0;
}

/* complex numbers in a gathered block */
static size_t block_size(const deconv_fft *f) { return (size_t)f->ph * DECONV_FFT_BLOCK; }

/* complex numbers of scratch a thread */
static size_t thread_scratch(const deconv_fft *f) { return f->cs + f->blocks * block_size(f); }

fftwf_complex *deconv_fft_scratch(const deconv_fft *f, int k)
{
    return f->scratch + (size_t)omp_get_thread_num() * thread_scratch(f) + f->cs +
           (size_t)k * block_size(f);
}

float *deconv_fft_row_scratch(const deconv_fft *f)
{
    return (float *)(f->scratch + (size_t)omp_get_thread_num() * thread_scratch(f));
}

void *deconv_fft_alloc_bytes(size_t bytes)
{
    /* The column transforms visit one row of every page of the buffer:
     * with 4 KB pages a 12-megapixel buffer has more pages than the TLB
     * holds, and the column pass slows down by half. Large buffers are
     * aligned to 2 MB and offered to transparent huge pages. */
    const size_t huge = (size_t)2 << 20;
    size_t align = bytes >= 4 * huge ? huge : 64;
    bytes = (bytes + align - 1) & ~(align - 1);
    void *b = aligned_alloc(align, bytes);
    if (!b)
        return NULL;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align == huge)
        madvise(b, bytes, MADV_HUGEPAGE); /* advice only: failure is harmless */
#endif
    memset(b, 0, bytes);
    return b;
}

fftwf_complex *deconv_fft_alloc(const deconv_fft *f)
{
    return deconv_fft_alloc_bytes((size_t)f->ph * f->cs * sizeof(fftwf_complex));
}

fftwf_complex *deconv_fft_alloc_blocks(const deconv_fft *f)
{
    return deconv_fft_alloc_bytes((size_t)f->nblocks * block_size(f) * sizeof(fftwf_complex));
}

static void destroy_plans(deconv_fft *f)
{
    fftwf_plan plans[] = {f->row_f, f->row_b, f->col_f, f->col_b};
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++)
        if (plans[i])
            fftwf_destroy_plan(plans[i]);
}

deconv_fft *deconv_fft_new(int ph, int pw, int blocks)
{
    deconv_fft *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->ph = ph, f->pw = pw, f->nc = pw / 2 + 1;
    f->nblocks = (f->nc + DECONV_FFT_BLOCK - 1) / DECONV_FFT_BLOCK;
    f->cs = (size_t)f->nblocks * DECONV_FFT_BLOCK;
    f->threads = omp_get_max_threads(), f->blocks = blocks > 0 ? blocks : 1;
    f->scratch = deconv_fft_alloc_bytes((size_t)f->threads * thread_scratch(f) *
                                        sizeof(fftwf_complex));
    /* Plans are made on buffers of the real layouts: FFTW_ESTIMATE never
     * touches them, but they fix the alignment and in-placeness. */
    fftwf_complex *buf = aligned_alloc(64, (size_t)ph * f->cs * sizeof(fftwf_complex));
    if (!buf || !f->scratch) {
        free(buf), free(f->scratch), free(f);
        return NULL;
    }
    int ok;
    /* FFTW's planner keeps global state and is not thread-safe. */
#pragma omp critical(deconv_fftw_planner)
    {
        /* rows out of place, between the thread's row and a buffer row:
         * measured faster than in place (c2r by a third, as fast as
         * FFTW_MEASURE's plans), and it saves the copy to or from the
         * caller's arrays */
        int n[1] = {pw}, m[1] = {ph};
        float *row = (float *)f->scratch;
        f->row_f = fftwf_plan_many_dft_r2c(1, n, 1, row, NULL, 1, 0, buf, NULL, 1, 0,
                                           FFTW_ESTIMATE);
        f->row_b = fftwf_plan_many_dft_c2r(1, n, 1, buf, NULL, 1, 0, row, NULL, 1, 0,
                                           FFTW_ESTIMATE);
        /* One column a plan: FFTW would do a block's columns together
         * through a buffer it allocates at every execution (mapped and
         * unmapped from 128 KB on), which does not scale with threads. */
        fftwf_complex *g = f->scratch + f->cs;
        f->col_f = fftwf_plan_many_dft(1, m, 1, g, NULL, 1, ph, g, NULL, 1, ph, FFTW_FORWARD,
                                       FFTW_ESTIMATE);
        f->col_b = fftwf_plan_many_dft(1, m, 1, g, NULL, 1, ph, g, NULL, 1, ph, FFTW_BACKWARD,
                                       FFTW_ESTIMATE);
        ok = f->row_f && f->row_b && f->col_f && f->col_b;
        if (!ok)
            destroy_plans(f);
    }
    free(buf);
    if (!ok) {
        free(f->scratch), free(f);
        return NULL;
    }
    return f;
}

void deconv_fft_free(deconv_fft *f)
{
    if (!f)
        return;
#pragma omp critical(deconv_fftw_planner)
    destroy_plans(f);
    free(f->scratch);
    free(f);
}

void deconv_fft_zero_row(const deconv_fft *f, fftwf_complex *buf, int i)
{
    memset(buf + (size_t)i * f->cs, 0, (size_t)f->nc * sizeof(fftwf_complex));
}

void deconv_fft_row_forward(const deconv_fft *f, const float *row, fftwf_complex *out)
{
    fftwf_execute_dft_r2c(f->row_f, (float *)row, out);
}

void deconv_fft_row_inverse(const deconv_fft *f, fftwf_complex *in, float *row)
{
    fftwf_execute_dft_c2r(f->row_b, in, row);
}

void deconv_fft_gather(const deconv_fft *f, const fftwf_complex *buf, int blk, fftwf_complex *g)
{
    /* every column of the block, those past nc too (zeros in every work
     * buffer, and independent of the others): one whole cache line a row */
    const float *src = (const float *)(buf + (size_t)blk * DECONV_FFT_BLOCK);
    float *dst = (float *)g;
    const size_t ph = (size_t)f->ph, step = 2 * f->cs;
    for (size_t i = 0; i < ph; i++, src += step)
        for (int c = 0; c < DECONV_FFT_BLOCK; c++) {
            dst[2 * (c * ph + i)] = src[2 * c];
            dst[2 * (c * ph + i) + 1] = src[2 * c + 1];
        }
}

void deconv_fft_scatter(const deconv_fft *f, const fftwf_complex *g, int blk, fftwf_complex *buf,
                        int r0, int r1)
{
    const int c0 = blk * DECONV_FFT_BLOCK, width = block_width(f, blk);
    const size_t ph = (size_t)f->ph;
    const float *src = (const float *)g;
    for (int i = r0; i < r1; i++) {
        float *dst = (float *)(buf + (size_t)i * f->cs + c0);
        for (int c = 0; c < width; c++) {
            dst[2 * c] = src[2 * (c * ph + i)];
            dst[2 * c + 1] = src[2 * (c * ph + i) + 1];
        }
    }
}

void deconv_fft_block(const deconv_fft *f, fftwf_complex *g, int blk, int sign)
{
    /* the columns past nc stay zeros */
    const int width = block_width(f, blk);
    fftwf_plan p = sign == FFTW_FORWARD ? f->col_f : f->col_b;
    for (int c = 0; c < width; c++)
        fftwf_execute_dft(p, g + (size_t)c * f->ph, g + (size_t)c * f->ph);
}
