/* Plans of one padded size for the operator's FFT path (see fft.h). */
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "fft.h"

struct deconv_fft {
    int ph, pw, nc;   /* padded size; pw/2+1 complex columns */
    size_t cs;        /* complex numbers per buffer row */
    fftwf_plan row_f, row_b;
    /* column blocks: full width, and the last narrower block (if any) */
    fftwf_plan col_f, col_b, tail_f, tail_b;
    int tail0;        /* first column of the narrower block (nc if none) */
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

static fftwf_plan plan_cols(int ph, int width, size_t cs, fftwf_complex *buf, int sign)
{
    int n[1] = {ph};
    return fftwf_plan_many_dft(1, n, width, buf, NULL, (int)cs, 1, buf, NULL, (int)cs, 1, sign,
                               FFTW_ESTIMATE);
}

static void destroy_plans(deconv_fft *f)
{
    fftwf_plan plans[] = {f->row_f, f->row_b, f->col_f, f->col_b, f->tail_f, f->tail_b};
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++)
        if (plans[i])
            fftwf_destroy_plan(plans[i]);
}

deconv_fft *deconv_fft_new(int ph, int pw)
{
    deconv_fft *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->ph = ph, f->pw = pw, f->nc = pw / 2 + 1;
    f->cs = ((size_t)f->nc + 7) & ~(size_t)7;
    int full = f->nc / DECONV_FFT_BLOCK, rest = f->nc % DECONV_FFT_BLOCK;
    f->tail0 = full * DECONV_FFT_BLOCK;
    /* Plans are made on a buffer of the real layout: FFTW_ESTIMATE never
     * touches it, but it fixes the alignment and in-placeness. */
    fftwf_complex *buf = aligned_alloc(64, (size_t)ph * f->cs * sizeof(fftwf_complex));
    if (!buf) {
        free(f);
        return NULL;
    }
    int ok;
    /* FFTW's planner keeps global state and is not thread-safe. */
#pragma omp critical(deconv_fftw_planner)
    {
        int n[1] = {pw};
        f->row_f = fftwf_plan_many_dft_r2c(1, n, 1, (float *)buf, NULL, 1, 0, buf, NULL, 1, 0,
                                           FFTW_ESTIMATE);
        f->row_b = fftwf_plan_many_dft_c2r(1, n, 1, buf, NULL, 1, 0, (float *)buf, NULL, 1, 0,
                                           FFTW_ESTIMATE);
        if (full) {
            f->col_f = plan_cols(ph, DECONV_FFT_BLOCK, f->cs, buf, FFTW_FORWARD);
            f->col_b = plan_cols(ph, DECONV_FFT_BLOCK, f->cs, buf, FFTW_BACKWARD);
        }
        if (rest) {
            f->tail_f = plan_cols(ph, rest, f->cs, buf, FFTW_FORWARD);
            f->tail_b = plan_cols(ph, rest, f->cs, buf, FFTW_BACKWARD);
        }
        ok = f->row_f && f->row_b && (!full || (f->col_f && f->col_b)) &&
             (!rest || (f->tail_f && f->tail_b));
        if (!ok)
            destroy_plans(f);
    }
    free(buf);
    if (!ok) {
        free(f);
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
    free(f);
}

void deconv_fft_row_forward(const deconv_fft *f, float *row)
{
    fftwf_execute_dft_r2c(f->row_f, row, (fftwf_complex *)row);
}

void deconv_fft_row_inverse(const deconv_fft *f, float *row)
{
    fftwf_execute_dft_c2r(f->row_b, (fftwf_complex *)row, row);
}

void deconv_fft_cols(const deconv_fft *f, fftwf_complex *buf, int c0, int sign)
{
    fftwf_plan p;
    if (c0 >= f->tail0)
        p = sign == FFTW_FORWARD ? f->tail_f : f->tail_b;
    else
        p = sign == FFTW_FORWARD ? f->col_f : f->col_b;
    fftwf_execute_dft(p, buf + c0, buf + c0);
}
