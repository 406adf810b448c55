/* Resampling for the coarse-to-fine pyramid of blind estimation. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

/* Weights of one axis: for each output index, the first input index and
 * `taps` normalised weights. */
typedef struct {
    int taps;
    int *first;
    float *w;
} axis_filter;

static int make_axis(axis_filter *a, int n, int on)
{
    double scale = (double)on / n;
    double support = scale < 1.0 ? 1.0 / scale : 1.0;
    a->taps = (int)ceil(2 * support) + 1;
    a->first = malloc((size_t)on * sizeof(int));
    a->w = malloc((size_t)on * a->taps * sizeof(float));
    if (!a->first || !a->w)
        return 0;
    for (int o = 0; o < on; o++) {
        double c = (o + 0.5) / scale - 0.5;
        int i0 = (int)floor(c - support) + 1;
        double sum = 0;
        float *w = a->w + (size_t)o * a->taps;
        for (int t = 0; t < a->taps; t++) {
            double d = fabs((i0 + t - c) / support);
            w[t] = d < 1.0 ? (float)(1.0 - d) : 0.0f;
            sum += w[t];
        }
        for (int t = 0; t < a->taps; t++)
            w[t] = sum > 0 ? (float)(w[t] / sum) : 0.0f;
        a->first[o] = i0;
    }
    return 1;
}

static void free_axis(axis_filter *a)
{
    free(a->first);
    free(a->w);
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

deconv_status deconv_resize(const float *in, int w, int h, float *out, int ow, int oh)
{
    axis_filter ax = {0}, ay = {0};
    float *tmp = malloc((size_t)ow * h * sizeof(float));
    deconv_status st = DECONV_ERR_NOMEM;
    if (!tmp || !make_axis(&ax, w, ow) || !make_axis(&ay, h, oh))
        goto done;
    /* Rows first (w -> ow), then columns (h -> oh); edges replicate. */
#pragma omp parallel for schedule(static)
    for (int i = 0; i < h; i++)
        for (int o = 0; o < ow; o++) {
            const float *wt = ax.w + (size_t)o * ax.taps;
            float s = 0;
            for (int t = 0; t < ax.taps; t++)
                s += wt[t] * in[(size_t)i * w + clampi(ax.first[o] + t, 0, w - 1)];
            tmp[(size_t)i * ow + o] = s;
        }
#pragma omp parallel for schedule(static)
    for (int o = 0; o < oh; o++) {
        const float *wt = ay.w + (size_t)o * ay.taps;
        for (int j = 0; j < ow; j++) {
            float s = 0;
            for (int t = 0; t < ay.taps; t++)
                s += wt[t] * tmp[(size_t)clampi(ay.first[o] + t, 0, h - 1) * ow + j];
            out[(size_t)o * ow + j] = s;
        }
    }
    st = DECONV_OK;
done:
    free_axis(&ax);
    free_axis(&ay);
    free(tmp);
    return st;
}
