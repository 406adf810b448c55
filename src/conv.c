/* The three operators of MODEL.md on single planes, direct (spatial) form:
 *   valid convolution  y = h * x
 *   its adjoint in x   g = H^T r   (full correlation of r with h)
 *   its adjoint in h   g = X^T r   (valid correlation of x with r)
 * Strips of output rows are split between OpenMP threads; every output
 * sample is computed by one thread in a fixed order, so the bytes do not
 * depend on the thread count. The valid convolution and the full
 * correlation share one register-blocked kernel (see "The fast path"). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "operator.h"

/* ------------------------------------------------------------------ */
/* The fast path: register-blocked strips, one version per instruction  */
/* set (AVX-512, AVX2+FMA, SSE2), chosen at run time so the binary stays */
/* portable.                                                             */
/* ------------------------------------------------------------------ */

/* Both operators are a correlation  out[p][q] = sum kc[a][b] src[p+a+ro][q+b+co]
 * (src zero outside its frame): the valid convolution with the flipped
 * kernel and no offset, the full correlation with h itself and offset
 * (-(kh-1), -(kw-1)).
 *
 * A strip is R output rows x S = W*V output columns (W floats a vector),
 * kept in R*V vector registers while every tap is added. Taps are grouped
 * by the source row they read: a table entry (row qo, column b) holds the
 * R coefficients kc[qo-r][b] of the R output rows; one load of V source
 * vectors then feeds R*V FMAs (the loads, mostly unaligned and split
 * across cache lines, would otherwise bound the speed at half the FMA
 * rate). Entries whose R coefficients are all zero are left out, so sparse
 * kernels (motion blur) cost their non-zero taps. Strips whose source
 * window leaves the frame, or whose outputs do, are computed from a zero-
 * padded copy of the window on the stack.
 *
 * Every output is summed by one thread, over the entries in a fixed order
 * (source row, then column), whatever the number of threads: the bytes do
 * not depend on it. They do depend on the instruction set (FMA or not). */

#define STRIP_RMAX 4
#define STRIP_SMAX 64 /* widest strip: 16 floats x 4 */
#define WIN_KMAX 64   /* kernels up to this size use the fast path */
#define WIN_STRIDE (STRIP_SMAX + WIN_KMAX)

typedef struct {
    int qo, b;               /* source row within the window, column */
    float c[STRIP_RMAX];     /* coefficient of output row r */
} tap;

typedef void (*strip_fn)(const float *src, size_t ss, const tap *t, int nt, float *out,
                         size_t os);

typedef float v4f __attribute__((vector_size(16)));
typedef float v4u __attribute__((vector_size(16), aligned(4)));
typedef float v8f __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));
typedef float v16f __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));

/* out[r][v*W..] = sum over taps of t.c[r] * src[t.qo][t.b + v*W ..] */
#define DEFINE_STRIP(NAME, ATTR, VT, VU, R, V)                                  \
    ATTR static void NAME(const float *src, size_t ss, const tap *t, int nt,    \
                          float *out, size_t os)                                \
    {                                                                           \
        VT acc[R][V];                                                           \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)                     \
            _Pragma("GCC unroll 4") for (int v = 0; v < V; v++)                 \
                acc[r][v] = (VT){0};                                            \
        for (int e = 0; e < nt; e++) {                                          \
            const float *s = src + (size_t)t[e].qo * ss + t[e].b;               \
            VT xv[V];                                                           \
            _Pragma("GCC unroll 4") for (int v = 0; v < V; v++)                 \
                xv[v] = *(const VU *)(s + v * (int)(sizeof(VT) / 4));           \
            _Pragma("GCC unroll 4") for (int r = 0; r < R; r++) {               \
                const float c = t[e].c[r];                                      \
                _Pragma("GCC unroll 4") for (int v = 0; v < V; v++)             \
                    acc[r][v] += c * xv[v];                                     \
            }                                                                   \
        }                                                                       \
        _Pragma("GCC unroll 4") for (int r = 0; r < R; r++)                     \
            _Pragma("GCC unroll 4") for (int v = 0; v < V; v++)                 \
                *(VU *)(out + r * os + v * (int)(sizeof(VT) / 4)) = acc[r][v];  \
    }

#ifdef DECONV_X86
#define ATTR_512 DECONV_TARGET_512
#define ATTR_256 DECONV_TARGET_256
DEFINE_STRIP(strip512_1, ATTR_512, v16f, v16u, 1, 4)
DEFINE_STRIP(strip512_2, ATTR_512, v16f, v16u, 2, 4)
DEFINE_STRIP(strip512_4, ATTR_512, v16f, v16u, 4, 4)
DEFINE_STRIP(strip256_1, ATTR_256, v8f, v8u, 1, 4)
DEFINE_STRIP(strip256_2, ATTR_256, v8f, v8u, 2, 4)
DEFINE_STRIP(strip256_4, ATTR_256, v8f, v8u, 4, 2)
#endif
DEFINE_STRIP(strip128_1, , v4f, v4u, 1, 4)
DEFINE_STRIP(strip128_2, , v4f, v4u, 2, 4)
DEFINE_STRIP(strip128_4, , v4f, v4u, 4, 2)

/* A direct operator: the tap table of one kernel, in correlation form. */
typedef struct {
    int kw, kh, ro, co;   /* kernel size; source offset of output (0, 0) */
    int R, S;             /* strip rows and columns */
    strip_fn fn;
    tap *taps;
    int nt;
    const float *kc;      /* correlation kernel (for the plain path) */
    double work;          /* modelled cost per output, in dense taps */
} direct;

/* The R for which a strip is cheapest. Per table entry: R*V FMAs (2 a
 * cycle) against V vector loads (mostly split across lines: count 2) and
 * R broadcasts (2 loads a cycle); per output: that / R. */
static int count_taps(const float *kc, int kw, int kh, int R)
{
    int n = 0;
    for (int qo = 0; qo < kh + R - 1; qo++)
        for (int b = 0; b < kw; b++) {
            int any = 0;
            for (int r = 0; r < R; r++) {
                int a = qo - r;
                any |= a >= 0 && a < kh && kc[(size_t)a * kw + b] != 0.0f;
            }
            n += any;
        }
    return n;
}

static void direct_init(direct *d, const float *kc, int kw, int kh, int ro, int co, tap *buf)
{
    d->kw = kw, d->kh = kh, d->ro = ro, d->co = co, d->kc = kc;
    int vec = 4, V = 4; /* SSE2 */
    strip_fn fns[3] = {strip128_1, strip128_2, strip128_4};
    int vs[3] = {4, 4, 2};
#ifdef DECONV_X86
    const deconv_isa isa = deconv_cpu_isa();
    if (isa == DECONV_ISA_AVX512) {
        vec = 16;
        fns[0] = strip512_1, fns[1] = strip512_2, fns[2] = strip512_4;
        vs[0] = vs[1] = vs[2] = 4;
    } else if (isa == DECONV_ISA_AVX2) {
        vec = 8;
        fns[0] = strip256_1, fns[1] = strip256_2, fns[2] = strip256_4;
        vs[0] = vs[1] = 4, vs[2] = 2;
    }
#endif
    double best = 0;
    int bi = 0;
    for (int k = 0; k < 3; k++) {
        int R = 1 << k;
        V = vs[k];
        double n = count_taps(kc, kw, kh, R);
        double cyc = n * (R * V > 2 * V + R ? R * V : 2 * V + R) / (double)(R * V);
        if (k == 0 || cyc < best)
            best = cyc, bi = k;
    }
    d->R = 1 << bi, d->S = vec * vs[bi], d->fn = fns[bi];
    /* in units of a dense tap of a large kernel ((kh+3)/kh entries of
     * cost 1): what the cost model of operator.c multiplies */
    d->work = best;
    d->taps = buf;
    int n = 0;
    for (int qo = 0; qo < kh + d->R - 1; qo++)
        for (int b = 0; b < kw; b++) {
            tap t = {qo, b, {0}};
            int any = 0;
            for (int r = 0; r < d->R; r++) {
                int a = qo - r;
                if (a >= 0 && a < kh)
                    t.c[r] = kc[(size_t)a * kw + b];
                any |= t.c[r] != 0.0f;
            }
            if (any)
                buf[n++] = t;
        }
    d->nt = n;
}

/* out (ow x oh) from src (sw x sh); output row p reads source rows from
 * p + ro (d->ro, or another offset for a band of rows). */
static void direct_run(const direct *d, int ro, const float *src, int sw, int sh, float *out,
                       int ow, int oh)
{
    const int R = d->R, S = d->S, wr = R + d->kh - 1, wc = S + d->kw - 1;
    const int nstrips = (oh + R - 1) / R;
#pragma omp parallel for schedule(static) \
    if ((double)ow * oh * d->kw * d->kh >= DECONV_PARALLEL_MIN)
    for (int st = 0; st < nstrips; st++) {
        float win[(STRIP_RMAX + WIN_KMAX - 1) * WIN_STRIDE];
        float tile[STRIP_RMAX * STRIP_SMAX];
        const int p0 = st * R, r0 = p0 + ro;
        const int rows_in = r0 >= 0 && r0 + wr <= sh && p0 + R <= oh;
        for (int q0 = 0; q0 < ow; q0 += S) {
            const int c0 = q0 + d->co;
            if (rows_in && c0 >= 0 && c0 + wc <= sw && q0 + S <= ow) {
                d->fn(src + (size_t)r0 * sw + c0, (size_t)sw, d->taps, d->nt,
                      out + (size_t)p0 * ow + q0, (size_t)ow);
                continue;
            }
            /* the window, zero outside src */
            for (int i = 0; i < wr; i++) {
                float *w = win + (size_t)i * WIN_STRIDE;
                int si = r0 + i;
                if (si < 0 || si >= sh) {
                    memset(w, 0, (size_t)wc * sizeof(float));
                    continue;
                }
                /* columns j0 <= j < j1 are inside src (copied as whole
                 * runs: a test a sample cost as much as the sums) */
                int j0 = c0 < 0 ? (-c0 < wc ? -c0 : wc) : 0;
                int j1 = sw - c0 < wc ? sw - c0 : wc;
                j1 = j1 > j0 ? j1 : j0;
                memset(w, 0, (size_t)j0 * sizeof(float));
                memcpy(w + j0, src + (size_t)si * sw + c0 + j0, (size_t)(j1 - j0) * sizeof(float));
                memset(w + j1, 0, (size_t)(wc - j1) * sizeof(float));
            }
            d->fn(win, WIN_STRIDE, d->taps, d->nt, tile, STRIP_SMAX);
            int nr = oh - p0 < R ? oh - p0 : R, nc = ow - q0 < S ? ow - q0 : S;
            for (int i = 0; i < nr; i++)
                memcpy(out + (size_t)(p0 + i) * ow + q0, tile + (size_t)i * STRIP_SMAX,
                       (size_t)nc * sizeof(float));
        }
    }
}

/* The plain path for kernels larger than WIN_KMAX: row-wise sums along a
 * row, which vectorise; the same determinism. */
static void plain_run(const float *kc, int kw, int kh, int ro, int co, const float *src,
                      int sw, int sh, float *out, int ow, int oh)
{
#pragma omp parallel for schedule(static) if ((double)ow * oh * kw * kh >= DECONV_PARALLEL_MIN)
    for (int p = 0; p < oh; p++) {
        float *restrict yr = out + (size_t)p * ow;
        memset(yr, 0, (size_t)ow * sizeof(float));
        for (int a = 0; a < kh; a++) {
            int si = p + a + ro;
            if (si < 0 || si >= sh)
                continue;
            const float *restrict sr = src + (size_t)si * sw;
            for (int b = 0; b < kw; b++) {
                const float c = kc[(size_t)a * kw + b];
                if (c == 0.0f)
                    continue;
                /* outputs q with 0 <= q + b + co < sw */
                int q0 = -(b + co) > 0 ? -(b + co) : 0;
                int q1 = sw - (b + co) < ow ? sw - (b + co) : ow;
                const float *restrict xs = sr + b + co;
#pragma omp simd
                for (int q = q0; q < q1; q++)
                    yr[q] += c * xs[q];
            }
        }
    }
}

/* MODEL.md's sum over h[a][b] x[i+kh-1-a][j+kw-1-b] is a correlation with
 * the flipped kernel: flipped[a'][b'] = h[kh-1-a'][kw-1-b']. */
static void flip_kernel(const float *h, int kw, int kh, float *out)
{
    int n = kw * kh;
    for (int t = 0; t < n; t++)
        out[t] = h[n - 1 - t];
}

static void correlate(const float *kc, int kw, int kh, int ro, int co, const float *src,
                      int sw, int sh, float *out, int ow, int oh, tap *taps)
{
    if (kw > WIN_KMAX || kh > WIN_KMAX || !taps) {
        plain_run(kc, kw, kh, ro, co, src, sw, sh, out, ow, oh);
        return;
    }
    direct d;
    direct_init(&d, kc, kw, kh, ro, co, taps);
    direct_run(&d, d.ro, src, sw, sh, out, ow, oh);
}

/* Room for the tap table of a kw x kh kernel (NULL: too large for the
 * fast path). */
static tap *tap_table(int kw, int kh)
{
    if (kw > WIN_KMAX || kh > WIN_KMAX)
        return NULL;
    return malloc((size_t)kw * (kh + STRIP_RMAX - 1) * sizeof(tap));
}

double deconv_direct_work(const float *h, int kw, int kh)
{
    if (kw > WIN_KMAX || kh > WIN_KMAX) {
        double n = 0;
        for (int t = 0; t < kw * kh; t++)
            n += h[t] != 0.0f;
        /* the plain path: about 20 times the strip path's cost a tap
         * (kernels of 65 to 101 pixels with 62 to 220 taps on 0.75
         * megapixels, one thread: 16 to 24 times DIRECT_C a tap), so that
         * auto takes the FFT for long trajectories (2 to 2.4 times faster
         * there from 140 taps) */
        return 20.0 * n;
    }
    tap *taps = tap_table(kw, kh);
    if (!taps)
        return (double)kw * kh;
    direct d;
    direct_init(&d, h, kw, kh, 0, 0, taps); /* h or flipped: the same count */
    double w = d.work;
    free(taps);
    return w;
}

void deconv_conv_valid(const float *x, int xw, int xh, const float *h, int kw, int kh,
                       float *y)
{
    float *hf = malloc((size_t)kw * kh * sizeof(float));
    if (!hf)
        return; /* unreachable in practice: a few KB; callers check sizes */
    flip_kernel(h, kw, kh, hf);
    tap *taps = tap_table(kw, kh);
    correlate(hf, kw, kh, 0, 0, x, xw, xh, y, xw - kw + 1, xh - kh + 1, taps);
    free(taps);
    free(hf);
}

void deconv_corr_full(const float *r, int rw, int rh, const float *h, int kw, int kh,
                      float *g)
{
    /* g[p][q] = sum h[a][b] r[p+a-(kh-1)][q+b-(kw-1)], r zero outside. */
    tap *taps = tap_table(kw, kh);
    correlate(h, kw, kh, -(kh - 1), -(kw - 1), r, rw, rh, g, rw + kw - 1, rh + kh - 1, taps);
    free(taps);
}

/* The operators with their tables made once (operator.c). */
struct deconv_direct {
    float *hf;
    direct valid, full;
    int fast;
};

deconv_direct *deconv_direct_new(const float *h, int kw, int kh)
{
    deconv_direct *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->hf = malloc((size_t)kw * kh * 2 * sizeof(float));
    if (!d->hf) {
        free(d);
        return NULL;
    }
    flip_kernel(h, kw, kh, d->hf);
    float *hc = d->hf + (size_t)kw * kh;
    memcpy(hc, h, (size_t)kw * kh * sizeof(float));
    d->valid.kw = d->full.kw = kw, d->valid.kh = d->full.kh = kh;
    d->valid.kc = d->hf, d->full.kc = hc;
    tap *t1 = tap_table(kw, kh), *t2 = tap_table(kw, kh);
    d->fast = t1 && t2;
    if (d->fast) {
        direct_init(&d->valid, d->hf, kw, kh, 0, 0, t1);
        direct_init(&d->full, hc, kw, kh, -(kh - 1), -(kw - 1), t2);
    } else {
        free(t1), free(t2);
    }
    return d;
}

void deconv_direct_apply(const deconv_direct *d, const float *x, int xw, int xh, float *y)
{
    int kw = d->valid.kw, kh = d->valid.kh;
    if (d->fast)
        direct_run(&d->valid, 0, x, xw, xh, y, xw - kw + 1, xh - kh + 1);
    else
        plain_run(d->valid.kc, kw, kh, 0, 0, x, xw, xh, y, xw - kw + 1, xh - kh + 1);
}

void deconv_direct_adjoint(const deconv_direct *d, const float *r, int rw, int rh, float *g)
{
    deconv_direct_adjoint_rows(d, r, rw, rh, -(d->full.kh - 1), g, rh + d->full.kh - 1);
}

void deconv_direct_adjoint_rows(const deconv_direct *d, const float *r, int rw, int rh, int ro,
                                float *g, int grows)
{
    int kw = d->full.kw, kh = d->full.kh;
    if (d->fast)
        direct_run(&d->full, ro, r, rw, rh, g, rw + kw - 1, grows);
    else
        plain_run(d->full.kc, kw, kh, ro, -(kw - 1), r, rw, rh, g, rw + kw - 1, grows);
}

void deconv_direct_free(deconv_direct *d)
{
    if (!d)
        return;
    if (d->fast)
        free(d->valid.taps), free(d->full.taps);
    free(d->hf);
    free(d);
}

void deconv_corr_kernel(const float *x, int xw, int xh, const float *r, int kw, int kh,
                        float *g)
{
    int rw = xw - kw + 1, rh = xh - kh + 1;
    /* G[a][b] = sum r[i][j] x[i+a][j+b]; MODEL.md's grad_h is G flipped.
     * One thread owns each kernel row a; a row of r and of x stay in cache
     * while all kw shifts are taken. Row sums in float, totals in double. */
    double *acc = calloc((size_t)kw * kh, sizeof(double));
    if (!acc)
        return;
#pragma omp parallel for schedule(dynamic, 1) \
    if ((double)rw * rh * kw * kh >= DECONV_PARALLEL_MIN)
    for (int a = 0; a < kh; a++) {
        double *ga = acc + (size_t)a * kw;
        for (int i = 0; i < rh; i++) {
            const float *restrict rr = r + (size_t)i * rw;
            const float *restrict xr = x + (size_t)(i + a) * xw;
            for (int b = 0; b < kw; b++) {
                float s = 0.0f;
#pragma omp simd reduction(+ : s)
                for (int j = 0; j < rw; j++)
                    s += rr[j] * xr[j + b];
                ga[b] += s;
            }
        }
    }
    int n = kw * kh;
    for (int t = 0; t < n; t++)
        g[t] = (float)acc[n - 1 - t];
    free(acc);
}

/* Sums in fixed blocks, each in double, added in order: the same result
 * whatever the number of threads. */
#define DOT_BLOCK 8192

double deconv_dot(const float *a, const float *b, size_t n)
{
    size_t nb = (n + DOT_BLOCK - 1) / DOT_BLOCK;
    if (nb == 0)
        return 0.0;
    double stack[64], *part = nb <= 64 ? stack : malloc(nb * sizeof(double));
    if (!part)
        return 0.0 / 0.0;
#pragma omp parallel for schedule(static) if (n >= DECONV_PARALLEL_MIN)
    for (size_t k = 0; k < nb; k++) {
        size_t lo = k * DOT_BLOCK, hi = lo + DOT_BLOCK < n ? lo + DOT_BLOCK : n;
        double s = 0.0;
#pragma omp simd reduction(+ : s)
        for (size_t i = lo; i < hi; i++)
            s += (double)a[i] * (double)b[i];
        part[k] = s;
    }
    double s = 0.0;
    for (size_t k = 0; k < nb; k++)
        s += part[k];
    if (part != stack)
        free(part);
    return s;
}

double deconv_objective(const float *x, const float *y, int N, int M, const float *h,
                        int kw, int kh, float *r, float *grad_x, float *grad_h)
{
    int xw = N + kw - 1, xh = M + kh - 1;
    size_t n = (size_t)N * M;
    deconv_conv_valid(x, xw, xh, h, kw, kh, r);
#pragma omp parallel for schedule(static) if (n >= DECONV_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        r[i] -= y[i];
    double f = 0.5 * deconv_dot(r, r, n);
    if (grad_x)
        deconv_corr_full(r, N, M, h, kw, kh, grad_x);
    if (grad_h)
        deconv_corr_kernel(x, xw, xh, r, kw, kh, grad_h);
    return f;
}
