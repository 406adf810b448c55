/* Regularisers on image gradients (MODEL.md): smoothed total variation and
 * Tikhonov. Forward differences, zero across the last row and column
 * (Neumann boundary). Row sums are kept per row and added in order, so the
 * value does not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static inline float diff_x(const float *x, int w, int i, int j)
{
    return j + 1 < w ? x[(size_t)i * w + j + 1] - x[(size_t)i * w + j] : 0.0f;
}

static inline float diff_y(const float *x, int w, int h, int i, int j)
{
    return i + 1 < h ? x[(size_t)(i + 1) * w + j] - x[(size_t)i * w + j] : 0.0f;
}

static double sum_rows(const double *rows, int h)
{
    double s = 0.0;
    for (int i = 0; i < h; i++)
        s += rows[i];
    return s;
}

/* Rows of TV are visited in blocks: the gradient at a pixel needs the
 * upper row's terms, which a block computes once for its first row and
 * then carries from row to row. */
#define TV_BLOCK 32

/* Partial sums of TV in float over this many samples, added in double:
 * float sums vectorise, and 64 terms keep their rounding near 1e-7. */
#define TV_CHUNK 64

/* One row's TV terms: n = sqrt(dx^2 + dy^2 + eps^2) at each pixel, summed;
 * if ax and ay are not NULL, dx / n and dy / n stored into them. `below`
 * is the next row (NULL for the last row: dy = 0). One square root a pixel,
 * and loops without branches or carried dependencies, so that they
 * vectorise. */
static double tv_row(const float *restrict row, const float *restrict below, int w, float e2,
                     float *restrict ax, float *restrict ay)
{
    double s = 0.0;
    const int last = w - 1; /* dx = 0 in the last column */
    for (int j0 = 0; j0 < last; j0 += TV_CHUNK) {
        const int j1 = j0 + TV_CHUNK < last ? j0 + TV_CHUNK : last;
        float cs = 0.0f;
        if (below && ax) {
#pragma omp simd reduction(+ : cs)
            for (int j = j0; j < j1; j++) {
                float dx = row[j + 1] - row[j], dy = below[j] - row[j];
                float n = sqrtf(dx * dx + dy * dy + e2), inv = 1.0f / n;
                cs += n;
                ax[j] = dx * inv;
                ay[j] = dy * inv;
            }
        } else if (below) {
#pragma omp simd reduction(+ : cs)
            for (int j = j0; j < j1; j++) {
                float dx = row[j + 1] - row[j], dy = below[j] - row[j];
                cs += sqrtf(dx * dx + dy * dy + e2);
            }
        } else if (ax) {
#pragma omp simd reduction(+ : cs)
            for (int j = j0; j < j1; j++) {
                float dx = row[j + 1] - row[j];
                float n = sqrtf(dx * dx + e2);
                cs += n;
                ax[j] = dx / n;
                ay[j] = 0.0f;
            }
        } else {
#pragma omp simd reduction(+ : cs)
            for (int j = j0; j < j1; j++) {
                float dx = row[j + 1] - row[j];
                cs += sqrtf(dx * dx + e2);
            }
        }
        s += cs;
    }
    float dy = below ? below[last] - row[last] : 0.0f;
    float n = sqrtf(dy * dy + e2);
    s += n;
    if (ax) {
        ax[last] = 0.0f;
        ay[last] = dy / n;
    }
    return s;
}

double deconv_tv(const float *x, int w, int h, double eps, double weight, float *g)
{
    double *rows = malloc((size_t)h * sizeof(double));
    if (!rows)
        return NAN;
    const float e2 = (float)(eps * eps), wt = (float)weight;
    const int nblocks = (h + TV_BLOCK - 1) / TV_BLOCK;
    int failed = 0;
#pragma omp parallel if ((size_t)w * h >= DECONV_PARALLEL_MIN)
    {
        /* this row's dx/n and dy/n, and the upper row's dy/n */
        float *ax = NULL, *ay = NULL, *ay_up = NULL;
        if (g) {
            ax = malloc((size_t)3 * w * sizeof(float));
            if (ax)
                ay = ax + w, ay_up = ay + w;
            else {
#pragma omp atomic write
                failed = 1;
            }
        }
#pragma omp for schedule(static)
        for (int b = 0; b < nblocks; b++) {
            if (g && !ax)
                continue;
            int i0 = b * TV_BLOCK, i1 = i0 + TV_BLOCK < h ? i0 + TV_BLOCK : h;
            if (g && i0 > 0) /* the upper row's terms, for the block's first row */
                tv_row(x + (size_t)(i0 - 1) * w, x + (size_t)i0 * w, w, e2, ax, ay_up);
            else if (g) /* no row above the first */
                memset(ay_up, 0, (size_t)w * sizeof(float));
            for (int i = i0; i < i1; i++) {
                const float *row = x + (size_t)i * w;
                const float *below = i + 1 < h ? row + w : NULL;
                rows[i] = tv_row(row, below, w, e2, ax, ay);
                if (!g)
                    continue;
                /* d/dx[i][j] of this pixel's term and of its left and
                 * upper neighbours' terms, which also hold x[i][j] */
                float *restrict gi = g + (size_t)i * w;
                gi[0] += wt * (-(ax[0] + ay[0]) + ay_up[0]);
#pragma omp simd
                for (int j = 1; j < w; j++)
                    gi[j] += wt * (-(ax[j] + ay[j]) + ax[j - 1] + ay_up[j]);
                float *t = ay_up;
                ay_up = ay, ay = t;
            }
        }
        free(ax);
    }
    double total = failed ? NAN : sum_rows(rows, h);
    free(rows);
    return total;
}

double deconv_tikhonov(const float *x, int w, int h, double weight, float *g)
{
    double *rows = malloc((size_t)h * sizeof(double));
    if (!rows)
        return NAN;
    const float wt = (float)weight;
#pragma omp parallel for schedule(static) if ((size_t)w * h >= DECONV_PARALLEL_MIN)
    for (int i = 0; i < h; i++) {
        double s = 0.0;
        for (int j = 0; j < w; j++) {
            float dx = diff_x(x, w, i, j), dy = diff_y(x, w, h, i, j);
            s += 0.5 * ((double)dx * dx + (double)dy * dy);
            if (!g)
                continue;
            float gij = -(dx + dy);
            if (j > 0)
                gij += diff_x(x, w, i, j - 1);
            if (i > 0)
                gij += diff_y(x, w, h, i - 1, j);
            g[(size_t)i * w + j] += wt * gij;
        }
        rows[i] = s;
    }
    double total = sum_rows(rows, h);
    free(rows);
    return total;
}
