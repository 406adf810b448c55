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

/* One row's TV terms n = sqrt(dx^2 + dy^2 + eps^2), into n; with the
 * gradient, also dx / n into ax, dy / n into ay and -(dx + dy) / n into
 * own. `below` is the next row (NULL for the last row: dy = 0). One square
 * root a pixel, in loops without branches or carried dependencies, so that
 * they vectorise; each value is rounded exactly as a plain loop over the
 * pixels rounds it. Returns the row's sum, added in order in double. */
static inline double tv_row(const float *restrict row, const float *restrict below, int w,
                            float e2, float *restrict n, float *restrict ax, float *restrict ay,
                            float *restrict own)
{
    const int last = w - 1; /* dx = 0 in the last column */
#pragma omp simd
    for (int j = 0; j < last; j++) {
        float dx = row[j + 1] - row[j], dy = below ? below[j] - row[j] : 0.0f;
        n[j] = sqrtf(dx * dx + dy * dy + e2);
    }
    float dy_last = below ? below[last] - row[last] : 0.0f;
    n[last] = sqrtf(0.0f * 0.0f + dy_last * dy_last + e2);
    if (ax) {
#pragma omp simd
        for (int j = 0; j < last; j++) {
            float dx = row[j + 1] - row[j], dy = below ? below[j] - row[j] : 0.0f;
            ax[j] = dx / n[j];
            ay[j] = dy / n[j];
            own[j] = -(dx + dy) / n[j];
        }
        ax[last] = 0.0f;
        ay[last] = dy_last / n[last];
        own[last] = -(0.0f + dy_last) / n[last];
    }
    double s = 0.0;
    for (int j = 0; j < w; j++)
        s += n[j];
    return s;
}

/* Rows r0 <= i < r1 of deconv_tv_rows (one block), with the work rows n,
 * ax, ay, own and ay_up (w floats each; only n without the gradient); one
 * clone an instruction set. */
DECONV_CLONES static void tv_block(const float *x, int w, int h, int s0, int r0, int r1,
                                   float e2, float wt, float *g, double *rows, float *n,
                                   float *ax, float *ay, float *own, float *ay_up)
{
    if (g && r0 > 0) /* the upper row's terms, for the block's first row */
        tv_row(x + (size_t)(r0 - 1 - s0) * w, x + (size_t)(r0 - s0) * w, w, e2, n, ax, ay_up,
               own);
    for (int i = r0; i < r1; i++) {
        const float *row = x + (size_t)(i - s0) * w;
        const float *below = i + 1 < h ? row + w : NULL;
        rows[i] = tv_row(row, below, w, e2, n, ax, ay, own);
        if (!g)
            continue;
        /* d/dx[i][j] of this pixel's term and of its left and upper
         * neighbours' terms, which also hold x[i][j] */
        float *restrict gi = g + (size_t)(i - s0) * w;
        if (i > 0) {
            gi[0] += wt * ((own[0] + 0.0f) + ay_up[0]);
#pragma omp simd
            for (int j = 1; j < w; j++)
                gi[j] += wt * ((own[j] + ax[j - 1]) + ay_up[j]);
        } else {
            gi[0] += wt * (own[0] + 0.0f);
#pragma omp simd
            for (int j = 1; j < w; j++)
                gi[j] += wt * (own[j] + ax[j - 1]);
        }
        float *t = ay_up;
        ay_up = ay, ay = t;
    }
}

int deconv_tv_rows(const float *x, int w, int h, int s0, int i0, int i1, double eps,
                   double weight, float *g, double *rows)
{
    const float e2 = (float)(eps * eps), wt = (float)weight;
    const int nblocks = (i1 - i0 + TV_BLOCK - 1) / TV_BLOCK;
    int failed = 0;
#pragma omp parallel if ((size_t)w * (i1 - i0) >= DECONV_PARALLEL_MIN)
    {
        /* n; with the gradient this row's dx/n, dy/n, -(dx+dy)/n and the
         * upper row's dy/n */
        float *n = malloc((size_t)(g ? 5 : 1) * w * sizeof(float));
        float *ax = NULL, *ay = NULL, *own = NULL, *ay_up = NULL;
        if (!n) {
#pragma omp atomic write
            failed = 1;
        } else if (g) {
            ax = n + w, ay = ax + w, own = ay + w, ay_up = own + w;
        }
#pragma omp for schedule(static)
        for (int b = 0; b < nblocks; b++) {
            if (!n)
                continue;
            int r0 = i0 + b * TV_BLOCK, r1 = r0 + TV_BLOCK < i1 ? r0 + TV_BLOCK : i1;
            tv_block(x, w, h, s0, r0, r1, e2, wt, g, rows, n, ax, ay, own, ay_up);
        }
        free(n);
    }
    return !failed;
}

double deconv_tv(const float *x, int w, int h, double eps, double weight, float *g)
{
    double *rows = malloc((size_t)h * sizeof(double));
    if (!rows)
        return NAN;
    int ok = deconv_tv_rows(x, w, h, 0, 0, h, eps, weight, g, rows);
    double total = ok ? sum_rows(rows, h) : NAN;
    free(rows);
    return total;
}

void deconv_tikhonov_rows(const float *x, int w, int h, int s0, int i0, int i1, double weight,
                          float *g, double *rows)
{
    const float wt = (float)weight;
    const int hl = h - s0; /* rows from s0: local row l is global row s0 + l */
#pragma omp parallel for schedule(static) if ((size_t)w * (i1 - i0) >= DECONV_PARALLEL_MIN)
    for (int i = i0; i < i1; i++) {
        const int l = i - s0;
        double s = 0.0;
        for (int j = 0; j < w; j++) {
            float dx = diff_x(x, w, l, j), dy = diff_y(x, w, hl, l, j);
            s += 0.5 * ((double)dx * dx + (double)dy * dy);
            if (!g)
                continue;
            float gij = -(dx + dy);
            if (j > 0)
                gij += diff_x(x, w, l, j - 1);
            if (i > 0)
                gij += diff_y(x, w, hl, l - 1, j);
            g[(size_t)l * w + j] += wt * gij;
        }
        rows[i] = s;
    }
}

double deconv_tikhonov(const float *x, int w, int h, double weight, float *g)
{
    double *rows = malloc((size_t)h * sizeof(double));
    if (!rows)
        return NAN;
    deconv_tikhonov_rows(x, w, h, 0, 0, h, weight, g, rows);
    double total = sum_rows(rows, h);
    free(rows);
    return total;
}
