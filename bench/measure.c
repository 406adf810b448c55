/* The measures the benchmarks compare estimates with (measure.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure.h"
#include "blind_internal.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bench_sort(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
}

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

/* The starts' kernels and scores as blind_kernel hands them to a
 * distributed run's exchange, here only kept. */
typedef struct {
    float *h;
    double *score;
    int starts;
} starts_record;

static deconv_status record_starts(void *ctx, float *h, double *score, int starts, int nk,
                                   deconv_status st, deconv_error *err)
{
    starts_record *r = ctx;
    if (st != DECONV_OK)
        return st;
    r->h = malloc(sizeof(float) * starts * nk);
    r->score = malloc(sizeof(double) * starts);
    if (!r->h || !r->score)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
    memcpy(r->h, h, sizeof(float) * starts * nk);
    memcpy(r->score, score, sizeof(double) * starts);
    r->starts = starts;
    return st;
}

deconv_kernel *bench_blind_kernel(const deconv_image *y, const deconv_blind_params *p,
                                  int all_starts, const deconv_kernel *truth, deconv_error *err)
{
    if (!all_starts)
        return deconv_blind_kernel(y, p, err);
    starts_record rec = {0};
    blind_spread spread = {&rec, NULL, record_starts};
    deconv_kernel *est = blind_kernel(y, p, &spread, err);
    if (est && rec.h) {
        const int w = est->width, ht = est->height, nk = w * ht;
        printf(" [");
        for (int s = 0; s < rec.starts; s++) {
            const float *hs = rec.h + (size_t)s * nk;
            printf("%s%.3f/%.5f%s", s ? " " : "",
                   bench_kernel_ncc_sized(hs, w, ht, truth->data, truth->width, truth->height, 3),
                   rec.score[s], memcmp(hs, est->data, sizeof(float) * nk) ? "" : "*");
        }
        printf("] {");
        for (int s = 0; s < rec.starts; s++)
            for (int t = s + 1; t < rec.starts; t++)
                printf("%s%.3f", s + t > 1 ? " " : "",
                       bench_kernel_ncc(rec.h + (size_t)s * nk, rec.h + (size_t)t * nk, w, ht, 3));
        printf("}");
    }
    free(rec.h), free(rec.score);
    return est;
}
