/* The measures the benchmarks compare estimates with (measure.h). */
#include <math.h>
#include <stdlib.h>

#include "measure.h"

double bench_kernel_ncc(const float *a, const float *b, int w, int h, int shift)
{
    double na = 0, nb = 0, best = -1;
    for (int i = 0; i < w * h; i++)
        na += (double)a[i] * a[i], nb += (double)b[i] * b[i];
    for (int dy = -shift; dy <= shift; dy++)
        for (int dx = -shift; dx <= shift; dx++) {
            double s = 0;
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) {
                    int si = i + dy, sj = j + dx;
                    if (si >= 0 && si < h && sj >= 0 && sj < w)
                        s += (double)a[si * w + sj] * b[i * w + j];
                }
            s /= sqrt(na * nb);
            if (s > best)
                best = s;
        }
    return best;
}

double bench_best_ssd(const float *r, const float *s, int w, int h, int shift, int border)
{
    double best = INFINITY;
    for (int dy = -shift; dy <= shift; dy++)
        for (int dx = -shift; dx <= shift; dx++) {
            double ssd = 0;
            for (int i = border; i < h - border; i++)
                for (int j = border; j < w - border; j++) {
                    double e = (double)r[(i + dy) * w + j + dx] - s[i * w + j];
                    ssd += e * e;
                }
            if (ssd < best)
                best = ssd;
        }
    return best;
}

double bench_kernel_ncc_sized(const float *a, int aw, int ah, const float *b, int bw, int bh,
                              int shift)
{
    int w = aw > bw ? aw : bw, h = ah > bh ? ah : bh;
    float *pa = calloc((size_t)w * h, sizeof(float)), *pb = calloc((size_t)w * h, sizeof(float));
    double r = -1;
    if (pa && pb) {
        for (int i = 0; i < ah; i++)
            for (int j = 0; j < aw; j++)
                pa[(size_t)(i + (h - ah) / 2) * w + j + (w - aw) / 2] = a[(size_t)i * aw + j];
        for (int i = 0; i < bh; i++)
            for (int j = 0; j < bw; j++)
                pb[(size_t)(i + (h - bh) / 2) * w + j + (w - bw) / 2] = b[(size_t)i * bw + j];
        r = bench_kernel_ncc(pa, pb, w, h, shift);
    }
    free(pa);
    free(pb);
    return r;
}
