/* Bands of rows, their halos and their sums (band.h). */
#include "band.h"
#include "internal.h"

static void set_held(deconv_band *b)
{
    const int below = b->kh - 1 > 1 ? b->kh - 1 : 1;
    b->xs0 = b->x0 > 0 ? b->x0 - 1 : 0;
    b->xs1 = b->x1 + below < b->xh ? b->x1 + below : b->xh;
    b->ys0 = b->y0 - (b->kh - 1) > 0 ? b->y0 - (b->kh - 1) : 0;
    b->ys1 = b->y1;
}

deconv_band deconv_band_whole(int N, int M, int kw, int kh)
{
    deconv_band b = {N, M, kw, kh, N + kw - 1, M + kh - 1, 0, M, 0, M + kh - 1, 0, 0, 0, 0,
                     NULL};
    set_held(&b);
    return b;
}

int deconv_band_split(int N, int M, int kw, int kh, int blk, int rank, int size, deconv_band *b)
{
    if (blk < 1 || size < 1 || rank < 0 || rank >= size)
        return 0;
    const long nb = (M + blk - 1) / blk;
    /* every band but the last must hold its neighbours' halo */
    const int min_rows = kh - 1 > 1 ? kh - 1 : 1;
    for (int k = 0; k < size; k++) {
        long y0 = (long)k * nb / size * blk, y1 = (long)(k + 1) * nb / size * blk;
        if (y1 > M)
            y1 = M;
        if (y1 - y0 < 1 || (k + 1 < size && y1 - y0 < min_rows))
            return 0;
    }
    deconv_band w = deconv_band_whole(N, M, kw, kh);
    w.y0 = (int)((long)rank * nb / size * blk);
    long y1 = (long)(rank + 1) * nb / size * blk;
    w.y1 = y1 < M ? (int)y1 : M;
    w.x0 = w.y0;
    w.x1 = rank + 1 == size ? w.xh : w.y1;
    set_held(&w);
    *b = w;
    return 1;
}

int deconv_band_any(const deconv_band *b, int flag)
{
    return b->comm ? b->comm->any(b->comm->ctx, flag != 0) : flag != 0;
}

void deconv_band_exchange(const deconv_band *b, deconv_plane_kind kind, float *plane)
{
    if (b->comm)
        b->comm->exchange(b->comm->ctx, b, kind, plane);
}

void deconv_band_sum(const deconv_band *b, deconv_plane_kind kind, double *rows, int nvals,
                     double *out)
{
    if (b->comm)
        b->comm->gather(b->comm->ctx, b, kind, rows, nvals);
    const int n = kind == DECONV_PLANE_X ? b->xh : b->M;
    for (int k = 0; k < nvals; k++)
        out[k] = 0.0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < nvals; k++)
            out[k] += rows[(size_t)i * nvals + k];
}

void deconv_band_dots(const deconv_band *b, deconv_plane_kind kind, const float *a,
                      const float *bb, const float *c, const float *e, double *rows,
                      double *out)
{
    const int w = kind == DECONV_PLANE_X ? b->xw : b->N;
    const int r0 = kind == DECONV_PLANE_X ? b->x0 : b->y0;
    const int r1 = kind == DECONV_PLANE_X ? b->x1 : b->y1;
    const int s0 = kind == DECONV_PLANE_X ? b->xs0 : b->ys0;
    const int nvals = c ? 2 : 1;
#pragma omp parallel for schedule(static) if ((size_t)(r1 - r0) * w >= DECONV_PARALLEL_MIN)
    for (int i = r0; i < r1; i++) {
        const size_t off = (size_t)(i - s0) * w;
        const float *ai = a + off, *bi = bb + off;
        double s1 = 0, s2 = 0;
        if (c) {
            const float *ci = c + off, *ei = e + off;
#pragma omp simd reduction(+ : s1, s2)
            for (int j = 0; j < w; j++) {
                s1 += (double)ai[j] * bi[j];
                s2 += (double)ci[j] * ei[j];
            }
            rows[(size_t)i * 2 + 1] = s2;
        } else {
#pragma omp simd reduction(+ : s1)
            for (int j = 0; j < w; j++)
                s1 += (double)ai[j] * bi[j];
        }
        rows[(size_t)i * nvals] = s1;
    }
    deconv_band_sum(b, kind, rows, nvals, out);
}
