/* The measures the benchmarks compare estimates with (measure.h). */
#include <math.h>

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
