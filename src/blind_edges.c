/* Gradients and edge selection for the blind kernel step (blind.c): the
 * kernel is fitted on the strongest gradients of x (Cho and Lee 2009; Xu
 * and Jia 2010), which carry its shape. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blind_internal.h"

/* Forward differences of a w x h plane: dc (w-1) x h along rows (columns
 * differ), dr w x (h-1) down columns. */
void blind_differences(const float *v, int w, int h, float *dc, float *dr)
{
#pragma omp parallel for schedule(static)
    for (int i = 0; i < h; i++) {
        const float *row = v + (size_t)i * w;
        for (int j = 0; j + 1 < w; j++)
            dc[(size_t)i * (w - 1) + j] = row[j + 1] - row[j];
        if (i + 1 < h)
            for (int j = 0; j < w; j++)
                dr[(size_t)i * w + j] = row[w + j] - row[j];
    }
}

enum { MAG_BINS = 4096 };

/* Edge selection: P = D x where |D x| >= t, 0 elsewhere. The threshold t is
 * the largest for which each of four orientation bins (of 45 degrees)
 * holding at least `count` pixels keeps `count` of them (Cho and Lee's rule
 * with count = r sqrt(kernel area)). Returns the number of kept pixels. */
long blind_select_edges(level *l, double count)
{
    int w = l->xw, h = l->xh;
    float *pc = l->px, *pr = l->py;
    blind_differences(l->x, w, h, pc, pr);
    blind_whiten_x(l);
    /* magnitudes at (i, j) use pc[i][j] and pr[i][j]: i < h-1, j < w-1 */
    float mmax = 0;
    for (int i = 0; i + 1 < h; i++)
        for (int j = 0; j + 1 < w; j++) {
            float a = pc[(size_t)i * (w - 1) + j], b = pr[(size_t)i * w + j];
            float m = a * a + b * b;
            if (m > mmax)
                mmax = m;
        }
    long kept = 0;
    float t2 = 0;
    if (mmax > 0) {
        long *hist = calloc(4 * MAG_BINS, sizeof(long));
        if (hist) {
            double scale = (MAG_BINS - 1) / sqrt(mmax);
            for (int i = 0; i + 1 < h; i++)
                for (int j = 0; j + 1 < w; j++) {
                    float a = pc[(size_t)i * (w - 1) + j], b = pr[(size_t)i * w + j];
                    float m = sqrtf(a * a + b * b);
                    /* orientation bin of the line through (a, b) */
                    int o = (fabsf(b) <= fabsf(a)) ? ((a * b >= 0) ? 0 : 1)
                                                   : ((a * b >= 0) ? 2 : 3);
                    hist[o * MAG_BINS + (int)(m * scale)]++;
                }
            double tmin = INFINITY;
            for (int o = 0; o < 4; o++) {
                long acc = 0;
                int b;
                for (b = MAG_BINS - 1; b >= 0; b--) {
                    acc += hist[o * MAG_BINS + b];
                    if (acc >= count)
                        break;
                }
                if (b >= 0 && b / scale < tmin)
                    tmin = b / scale;
            }
            free(hist);
            if (isfinite(tmin))
                t2 = (float)(tmin * tmin);
        }
    }
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            int inside = i + 1 < h && j + 1 < w;
            float a = inside ? pc[(size_t)i * (w - 1) + j] : 0, b = inside ? pr[(size_t)i * w + j] : 0;
            int keep = inside && a * a + b * b >= t2 && a * a + b * b > 0;
            kept += keep;
            if (!keep) {
                if (j + 1 < w)
                    pc[(size_t)i * (w - 1) + j] = 0;
                if (i + 1 < h)
                    pr[(size_t)i * w + j] = 0;
            }
        }
    return kept;
}
