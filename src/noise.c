/* The noise level of a plane (deconv_estimate_noise), on the whole plane
 * or on a band of its rows whose statistics are pooled with the other
 * bands' (deconv_noise_rows, for distributed runs). Every figure is an
 * order statistic or a count of values computed block by block (pairs of
 * pixels, 8 x 8 DCT blocks), so a band computes the values of the blocks
 * that start in its rows and the order statistics are taken over the
 * union: the same values, the same result as the whole plane's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The k-th smallest of v[0..n) (Hoare's selection; v is reordered). */
static float select_k(float *v, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (lo < hi) {
        float pivot = v[lo + (hi - lo) / 2];
        ptrdiff_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                float t = v[i];
                v[i++] = v[j];
                v[j--] = t;
            }
        }
        if (kk <= j)
            hi = j;
        else if (kk >= i)
            lo = i;
        else
            break;
    }
    return v[kk];
}

/* One band's pooled statistics: NULL order means the band is the plane. */
static uint64_t total(const deconv_order *o, uint64_t n)
{
    return o ? o->count(o->ctx, n) : n;
}

static float kth(const deconv_order *o, float *v, size_t n, uint64_t k)
{
    return o ? o->select(o->ctx, v, n, k) : select_k(v, n, (size_t)k);
}

/* The inverse of erf on [0, 1), by bisection (a few dozen calls). */
static double erf_inverse(double p)
{
    double lo = 0, hi = 6;
    for (int it = 0; it < 60; it++) {
        double mid = 0.5 * (lo + hi);
        if (erf(mid) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* JPEG's 8 x 8 blocks, as a decoder lays them out: from the origin. */
enum { BLOCK = 8 };

/* The rows [b0, b1) of blocks of `size` rows, on a grid from row oi, that
 * start in the rows [r0, r1) of a plane of h rows and end inside it. */
static void block_rows(int h, int r0, int r1, int oi, int size, int *b0, int *b1)
{
    int first = r0 - oi <= 0 ? 0 : (r0 - oi + size - 1) / size;
    int end = r1 - oi <= 0 ? 0 : (r1 - oi + size - 1) / size;
    int fit = h - oi < size ? 0 : (h - oi) / size;
    *b0 = first, *b1 = end < fit ? end : fit;
}

/* The orthonormal 2-D DCT of the 8 x 8 blocks of a plane, the grid starting
 * at row oi, column oj, in 8-bit levels: coef[f * nb + b] = |coefficient f|
 * of block b, for the frequencies (u, v) with u, v >= first, f = (u -
 * first) * (8 - first) + v - first; the blocks that start in rows [r0, r1)
 * (plane points at row r0, and holds the rows the blocks reach). Returns
 * nb. */
static size_t block_dct(const float *plane, int w, int h, int r0, int r1, int oi, int oj,
                        int first, float *coef)
{
    const int bw = (w - oj) / BLOCK, side = BLOCK - first;
    int b0, b1;
    block_rows(h, r0, r1, oi, BLOCK, &b0, &b1);
    const int bh = b1 > b0 ? b1 - b0 : 0;
    const size_t nb = (size_t)bw * bh;
    float C[BLOCK][BLOCK];
    for (int u = 0; u < BLOCK; u++)
        for (int x = 0; x < BLOCK; x++)
            C[u][x] = (float)((u ? sqrt(2.0 / BLOCK) : sqrt(1.0 / BLOCK)) *
                              cos((2 * x + 1) * u * M_PI / (2 * BLOCK)));
#pragma omp parallel for schedule(static) if ((size_t)w * bh * BLOCK >= DECONV_PARALLEL_MIN)
    for (int bi = 0; bi < bh; bi++)
        for (int bj = 0; bj < bw; bj++) {
            float t[BLOCK][BLOCK];
            const float *p = plane + (size_t)(oi + BLOCK * (b0 + bi) - r0) * w + oj + BLOCK * bj;
            for (int u = first; u < BLOCK; u++)
                for (int j = 0; j < BLOCK; j++) {
                    float s = 0;
                    for (int i = 0; i < BLOCK; i++)
                        s += C[u][i] * p[(size_t)i * w + j];
                    t[u][j] = s;
                }
            for (int u = first; u < BLOCK; u++)
                for (int v = first; v < BLOCK; v++) {
                    float s = 0;
                    for (int j = 0; j < BLOCK; j++)
                        s += C[v][j] * t[u][j];
                    coef[(size_t)((u - first) * side + v - first) * nb + (size_t)bi * bw + bj] =
                        255.0f * fabsf(s);
                }
        }
    return nb;
}

/* The noise of a plane that JPEG has quantised (sigma in 8-bit levels), or
 * 0 when it cannot tell. JPEG rounds each DCT coefficient of its 8 x 8
 * blocks to a multiple of a step q (one per frequency): a coefficient of
 * noise sigma (and little signal) becomes 0 with probability
 * p0 = erf(q / (2 sqrt(2) sigma)), so sigma = q / (2 sqrt(2) erf^-1(p0)) at
 * every frequency whose step can be read (the nonzero values gather near
 * q) and whose p0 says something (0.2 to 0.98). Frequencies where a blurry
 * photo still has signal give too large a sigma, the five lowest most of
 * all (left out); the lower quartile of the others is the estimate.
 * coef: the aligned DCT of every block of the band, 64 x nb; nb_all: the
 * blocks of every band. */
static double jpeg_noise(const deconv_order *o, float *coef, size_t nb, uint64_t nb_all,
                         float *scratch)
{
    const uint64_t min_count = nb_all / 50 > 20 ? nb_all / 50 : 20;
    double sig[BLOCK * BLOCK];
    int ns = 0;
    for (int f = 1; f < BLOCK * BLOCK; f++) {
        if (f / BLOCK + f % BLOCK <= 2)
            continue; /* (0,1) (1,0) (1,1) (0,2) (2,0): the photo's own */
        float *c = coef + (size_t)f * nb;
        /* the step: the values above the zero class (1 level: rounding to
         * 8 bits and, in colour, the chroma spread it), their 30th
         * percentile, then the median of those within q/2 of it */
        size_t m = 0;
        for (size_t b = 0; b < nb; b++)
            if (c[b] >= 1.0f)
                scratch[m++] = c[b];
        uint64_t m_all = total(o, m);
        if (m_all < min_count)
            continue;
        float q0 = kth(o, scratch, m, (uint64_t)(0.3 * m_all));
        size_t m2 = 0;
        for (size_t b = 0; b < nb; b++)
            if (c[b] >= 1.0f && c[b] >= 0.5f * q0 && c[b] < 1.5f * q0)
                scratch[m2++] = c[b];
        uint64_t m2_all = total(o, m2);
        float q = m2_all ? kth(o, scratch, m2, m2_all / 2) : q0;
        if (q < 1.5f)
            continue;
        size_t zero = 0;
        for (size_t b = 0; b < nb; b++)
            zero += c[b] < 0.5f * q;
        double p0 = (double)total(o, zero) / nb_all;
        if (p0 < 0.2 || p0 > 0.98)
            continue;
        sig[ns++] = 0.5 * q / (sqrt(2.0) * erf_inverse(p0));
    }
    if (!ns)
        return 0;
    for (int i = 1; i < ns; i++) /* insertion sort: at most 58 */
        for (int j = i; j > 0 && sig[j] < sig[j - 1]; j--) {
            double t = sig[j];
            sig[j] = sig[j - 1];
            sig[j - 1] = t;
        }
    return sig[(ns - 1) / 4];
}

/* Whether a plane was saved through JPEG (with its blocks at the origin):
 * the high frequencies (u, v >= 4) of the 8 x 8 blocks JPEG used are
 * mostly rounded to zero, while those of blocks shifted by 4 pixels, which
 * straddle the seams, are not. Uncompressed photos: 0.99 to 1.02 on the
 * camera bench; JPEG at quality 95 or less: 1.2 and up. */
static int jpeg_blocks(const deconv_order *o, const float *plane, int w, int h, int r0, int r1,
                       float *hf)
{
    const double ratio = 1.15;
    size_t nb = block_dct(plane, w, h, r0, r1, 0, 0, 4, hf);
    double aligned = kth(o, hf, 16 * nb, 8 * total(o, nb));
    size_t ns = block_dct(plane, w, h, r0, r1, 4, 4, 4, hf);
    double shifted = kth(o, hf, 16 * ns, 8 * total(o, ns));
    return shifted > ratio * aligned;
}

double deconv_noise_rows(const float *plane, int w, int h, int r0, int r1,
                         const deconv_order *o)
{
    /* Donoho's estimator: the finest diagonal Haar coefficients of a natural
     * image are mostly noise, and their median is robust to the edges. */
    int bw = w / 2, p0, p1;
    block_rows(h, r0, r1, 0, 2, &p0, &p1);
    const int bh = p1 > p0 ? p1 - p0 : 0;
    const uint64_t n_all = total(o, (uint64_t)bw * bh);
    if (bw < 1 || n_all == 0)
        return 0.0;
    size_t n = (size_t)bw * bh;
    float *d = malloc((n ? n : 1) * sizeof(float));
    int ok = total(o, d == NULL) == 0; /* every band needs its values */
    if (!ok) {
        free(d);
        return 0.0;
    }
    for (int i = 0; i < bh; i++)
        for (int j = 0; j < bw; j++) {
            const float *p = plane + (size_t)(2 * (p0 + i) - r0) * w + 2 * j;
            d[(size_t)i * bw + j] = fabsf(0.5f * (p[0] - p[1] - p[w] + p[w + 1]));
        }
    double med = n_all % 2 ? kth(o, d, n, n_all / 2)
                           : 0.5 * ((double)kth(o, d, n, n_all / 2 - 1) + kth(o, d, n, n_all / 2));
    free(d);
    double sigma = med / 0.6745;

    /* JPEG rounds those coefficients to zero where the photo is smooth (a
     * night JPEG reads 0): from 64 blocks up, a plane saved through JPEG is
     * estimated from the quantised DCT as well, and the larger of the two
     * kept. Any other plane keeps the estimate above, to the bit. */
    if ((size_t)(w / BLOCK - 1) * (h / BLOCK - 1) < 64)
        return sigma;
    int b0, b1;
    block_rows(h, r0, r1, 0, BLOCK, &b0, &b1);
    size_t nb_band = (size_t)(w / BLOCK) * (b1 > b0 ? b1 - b0 : 0);
    float *coef = malloc((BLOCK * BLOCK * nb_band + 1) * sizeof(float));
    float *scratch = malloc((nb_band + 1) * sizeof(float));
    ok = total(o, !coef || !scratch) == 0;
    if (ok && jpeg_blocks(o, plane, w, h, r0, r1, coef)) {
        size_t nb = block_dct(plane, w, h, r0, r1, 0, 0, 0, coef);
        double s = jpeg_noise(o, coef, nb, total(o, nb), scratch) / 255.0;
        sigma = s > sigma ? s : sigma;
    }
    free(coef);
    free(scratch);
    return sigma;
}

double deconv_estimate_noise(const float *plane, int w, int h)
{
    return deconv_noise_rows(plane, w, h, 0, h, NULL);
}
