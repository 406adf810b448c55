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

/* Osher and Rudin's shock filter, `steps` steps of
 *   v <- v - dt sign(lap(G v)) |grad v|
 * (G: [1 2 1]/4 twice each way; central differences; replicated borders):
 * ramps become steps, so that edges a long kernel still blurs in x give
 * gradients that carry its shape (Cho and Lee 2009). Central differences
 * overshoot: a blurred edge comes out a one-pixel step with a halo of a
 * fifth of its height on each side, which the edge selection's threshold
 * drops. Rouy and Tourin's upwind scheme, which keeps every pixel within
 * its neighbours, sharpens less a step: on bench/blindset's long cases the
 * kernels it led to were worse at 5 steps and at 10 (mean correlation
 * 0.537 here, 0.466 upwind with 10; docs/benchmarks.md). s and t: scratch
 * of w x h. */
static void shock_filter(float *v, float *s, float *t, int w, int h, int steps)
{
    const float dt = 0.5f;
    for (int k = 0; k < steps; k++) {
        memcpy(s, v, (size_t)w * h * sizeof(float));
        for (int pass = 0; pass < 4; pass++) {
            const int along_rows = pass < 2, lines = along_rows ? h : w, n = along_rows ? w : h;
            const size_t stride = along_rows ? 1 : (size_t)w;
#pragma omp parallel for schedule(static)
            for (int i = 0; i < lines; i++) {
                float *q = along_rows ? s + (size_t)i * w : s + i;
                float prev = q[0];
                for (int j = 0; j < n; j++) {
                    float c = q[j * stride], next = q[(j + 1 < n ? j + 1 : j) * stride];
                    q[j * stride] = 0.25f * (prev + 2 * c + next);
                    prev = c;
                }
            }
        }
#pragma omp parallel for schedule(static)
        for (int i = 0; i < h; i++) {
            const size_t up = (size_t)(i > 0 ? i - 1 : 0) * w, mid = (size_t)i * w,
                         down = (size_t)(i + 1 < h ? i + 1 : h - 1) * w;
            for (int j = 0; j < w; j++) {
                int l = j > 0 ? j - 1 : 0, r = j + 1 < w ? j + 1 : w - 1;
                float gc = 0.5f * (v[mid + r] - v[mid + l]);
                float gr = 0.5f * (v[down + j] - v[up + j]);
                float lap = s[up + j] + s[down + j] + s[mid + l] + s[mid + r] - 4 * s[mid + j];
                float sign = lap > 0 ? 1.0f : lap < 0 ? -1.0f : 0.0f;
                t[mid + j] = v[mid + j] - dt * sign * sqrtf(gc * gc + gr * gr);
            }
        }
        memcpy(v, t, (size_t)w * h * sizeof(float));
    }
}

/* For the tests (tests/test_blind.c declares it; not part of the API):
 * `steps` steps of the shock filter on v (w x h), in place. Returns 0 on
 * success. */
int deconv_blind_test_shock(float *v, int w, int h, int steps);
int deconv_blind_test_shock(float *v, int w, int h, int steps)
{
    float *s = deconv_alloc_floats((size_t)2 * w * h);
    if (!s)
        return -1;
    shock_filter(v, s, s + (size_t)w * h, w, h, steps);
    deconv_free_floats(s);
    return 0;
}

/* Edge selection: P = D x where |D x| >= t, 0 elsewhere. The threshold t is
 * the largest for which each of four orientation bins (of 45 degrees)
 * holding at least `count` pixels keeps `count` of them (Cho and Lee's rule
 * with count = r sqrt(kernel area)), on x shock filtered first when
 * l->shock is set (unfiltered when out of memory for it). Returns the
 * number of kept pixels. */
long blind_select_edges(level *l, double count)
{
    int w = l->xw, h = l->xh;
    float *pc = l->px, *pr = l->py;
    if (l->shock > 0 && !l->shocked)
        l->shocked = deconv_alloc_floats((size_t)3 * w * h);
    float *v = l->shock > 0 ? l->shocked : NULL;
    if (v) {
        memcpy(v, l->x, (size_t)w * h * sizeof(float));
        shock_filter(v, v + (size_t)w * h, v + (size_t)2 * w * h, w, h, l->shock);
    }
    blind_differences(v ? v : l->x, w, h, pc, pr);
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
