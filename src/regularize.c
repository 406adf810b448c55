/* Regularisers on image gradients (MODEL.md): smoothed total variation and
 * Tikhonov. Forward differences, zero across the last row and column
 * (Neumann boundary). Row sums are kept per row and added in order, so the
 * value does not depend on the thread count. */
#include <math.h>
#include <stdlib.h>

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

double deconv_tv(const float *x, int w, int h, double eps, double weight, float *g)
{
    double *rows = malloc((size_t)h * sizeof(double));
    if (!rows)
        return NAN;
    const float e2 = (float)(eps * eps), wt = (float)weight;
#pragma omp parallel for schedule(static) if ((size_t)w * h >= DECONV_PARALLEL_MIN)
    for (int i = 0; i < h; i++) {
        double s = 0.0;
        /* ux_left: this row's (dx / n) one pixel to the left, carried
         * along the row, so that a pixel costs two square roots (its own
         * and its upper neighbour's), not three. */
        float ux_left = 0.0f;
        for (int j = 0; j < w; j++) {
            float dx = diff_x(x, w, i, j), dy = diff_y(x, w, h, i, j);
            float n = sqrtf(dx * dx + dy * dy + e2);
            s += n;
            if (!g)
                continue;
            /* d/dx[i][j] of this pixel's term and of its left and upper
             * neighbours' terms, which also hold x[i][j]. */
            float gij = -(dx + dy) / n + ux_left;
            ux_left = dx / n;
            if (i > 0) {
                float ux = diff_x(x, w, i - 1, j), uy = diff_y(x, w, h, i - 1, j);
                gij += uy / sqrtf(ux * ux + uy * uy + e2);
            }
            g[(size_t)i * w + j] += wt * gij;
        }
        rows[i] = s;
    }
    double total = sum_rows(rows, h);
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
