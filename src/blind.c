/* Blind estimation of the kernel: MODEL.md's f(x, h) minimised over both,
 * by alternating an image step and a kernel step, coarse to fine.
 *
 * The two objectives the loop alternates between (level by level):
 *
 *   image step   F(x) = 1/2 ||h * x - y||^2 + lambda TV(x)
 *                       projected (Nesterov) gradient steps of image_step.c,
 *                       warm started; lambda starts large and decreases
 *                       (Perrone and Favaro, CVPR 2014), so the strong
 *                       edges of x appear first and the kernel is fitted
 *                       to them. With sparse_prior, lambda/2 ||grad x||_0
 *                       instead (sparse_prior.c: half-quadratic splitting
 *                       by FFT).
 *
 *   kernel step  E(h) = 1/2 sum_{d = col, row} ||h * P_d - D_d y||^2
 *                       + gamma/2 ||h||^2,         h >= 0, then sum h = 1
 *                where D_d are forward differences and P_d = D_d x with
 *                the weak gradients removed (edge selection: only the
 *                strongest gradients of each orientation are kept, Cho and
 *                Lee 2009; Xu and Jia 2010). Fitting the kernel on
 *                gradients rather than intensities is far better
 *                conditioned; the selected edges carry the kernel's
 *                shape. E is minimised by accelerated projected gradient
 *                (FISTA). Its normal operator P^T P is applied through the
 *                autocorrelation of P over the kernel's shifts (the
 *                boundary terms of the valid window are neglected),
 *                computed once per step by FFT, so each kernel iteration
 *                costs a kernel-sized correlation, not an image-sized one.
 *
 * After each kernel step, values below max/50 are removed; at the end of a
 * level, pieces of the kernel not connected to its main mass (holding less
 * than piece_fraction of it) are removed and the kernel is recentred
 * (moving x with it). Each level starts from the image and kernel of the
 * level below, resampled.
 *
 * Last, a refinement at the finest level alternates `refine` times an L0
 * image step with a small weight (refine_lambda) and a kernel step on every
 * non-zero gradient of that x: from the TV loop's kernel, this fits the
 * kernel's fine structure, which the TV image (flattened, strong edges
 * only) cannot.
 *
 * The alternation is chaotic: a small change of its settings can move the
 * estimate far. deconv_blind_kernel runs up to four estimates (starts)
 * that differ in their TV weight or piece fraction and keeps the one whose
 * restoration looks sharpest with the most compact kernel (start_score). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "operator.h"
#include "response.h"
#include "sparse_prior.h"

/* Kernel values below this fraction of the maximum are removed after each
 * kernel step: low enough to keep the faint tails of long trajectories. */
static const double PRUNE = 0.02;

/* The most starts deconv_blind_kernel runs (start_tv_factor, FORK_PIECE_FACTOR). */
enum { MAX_STARTS = 4 };

/* The TV weight at the start of each level when p->tv is not given. */
static const double DEFAULT_TV = 0.02;

/* At the end of each level, pieces of the kernel holding less than this
 * fraction of its mass are removed when p->piece_fraction is not given. */
static const double DEFAULT_PIECE_FRACTION = 0.1;

void deconv_blind_defaults(deconv_blind_params *p)
{
    memset(p, 0, sizeof *p);
    p->iterations = 50;
    p->kernel_iterations = 30;
    p->image_iterations = 8;
    p->rule = DECONV_STEP_ARMIJO;
    p->tv = 0;            /* automatic: 0.02 */
    p->tv_final = 0;      /* automatic: tv / 10 */
    p->levels = 0;        /* automatic */
    p->scale = 0.7071067811865476;
    p->refine = 10;
    p->refine_lambda = 5e-4;
    p->starts = 4;
    p->estimate_pixels = DECONV_BLIND_ESTIMATE_PIXELS;
    deconv_response_linear(&p->response);
}

/* One pyramid level's problem: y is N x M, x is (N+kw-1) x (M+kh-1). */
typedef struct {
    int N, M, kw, kh, xw, xh;
    float *y, *x, *h;
    float *dy_c, *dy_r;   /* D_col y: (N-1) x M; D_row y: N x (M-1) */
    float *px, *py;       /* selected D_col x: (xw-1) x xh; D_row x: xw x (xh-1) */
    double *ac;           /* autocorrelation of P, (2kw-1) x (2kh-1); after
                             kernel_setup each row is stored reversed, the
                             order normal_apply reads it in */
    float *c, *tmp;       /* kernel sized: P^T D y, correlation scratch */
    double *g, *z, *hp;   /* kernel sized, FISTA */
    int *stack;           /* kernel sized, component labelling */
    float *clip;          /* the camera's model (camera_input): 1 where y is
                             clipped at white, 0 elsewhere; NULL without */
    float *yfit;          /* y with its clipped pixels filled by the model's
                             prediction, which the kernel step and the L0
                             step fit; NULL without clip */
    deconv_l0 *l0;        /* the L0 image step's plans and buffers, made at
                             the level's first L0 step */
    deconv_normal *normal; /* the kernel step's FFT normal equations, made at
                              the level's first kernel step */
} level;

static void level_free(level *l)
{
    deconv_free_floats(l->y);
    deconv_free_floats(l->x);
    deconv_free_floats(l->dy_c);
    deconv_free_floats(l->dy_r);
    deconv_free_floats(l->px);
    deconv_free_floats(l->py);
    free(l->h);
    free(l->ac);
    free(l->c);
    free(l->tmp);
    free(l->g);
    free(l->z);
    free(l->hp);
    free(l->stack);
    deconv_free_floats(l->clip);
    deconv_free_floats(l->yfit);
    deconv_l0_free(l->l0);
    deconv_normal_free(l->normal);
    memset(l, 0, sizeof *l);
}

static int level_alloc(level *l, int N, int M, int kw, int kh)
{
    memset(l, 0, sizeof *l);
    l->N = N, l->M = M, l->kw = kw, l->kh = kh;
    l->xw = N + kw - 1, l->xh = M + kh - 1;
    size_t ny = (size_t)N * M, nx = (size_t)l->xw * l->xh, nk = (size_t)kw * kh;
    l->y = deconv_alloc_floats(ny);
    l->x = deconv_alloc_floats(nx);
    l->dy_c = deconv_alloc_floats(ny);
    l->dy_r = deconv_alloc_floats(ny);
    l->px = deconv_alloc_floats(nx);
    l->py = deconv_alloc_floats(nx);
    l->h = malloc(nk * sizeof(float));
    l->ac = malloc((size_t)(2 * kw - 1) * (2 * kh - 1) * sizeof(double));
    l->c = malloc(nk * sizeof(float));
    l->tmp = malloc(nk * sizeof(float));
    l->g = malloc(nk * sizeof(double));
    l->z = malloc(nk * sizeof(double));
    l->hp = malloc(nk * sizeof(double));
    l->stack = malloc(nk * sizeof(int));
    if (!l->y || !l->x || !l->dy_c || !l->dy_r || !l->px || !l->py || !l->h || !l->ac ||
        !l->c || !l->tmp || !l->g || !l->z || !l->hp || !l->stack) {
        level_free(l);
        return 0;
    }
    return 1;
}

static void project_kernel(float *h, int kw, int kh)
{
    deconv_kernel k = {kw, kh, h};
    deconv_kernel_project(&k);
}

/* ------------------------------------------------------------------ */
/* Gradients and edge selection                                         */
/* ------------------------------------------------------------------ */

/* Forward differences of a w x h plane: dc (w-1) x h along rows (columns
 * differ), dr w x (h-1) down columns. */
static void differences(const float *v, int w, int h, float *dc, float *dr)
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
static long select_edges(level *l, double count)
{
    int w = l->xw, h = l->xh;
    float *pc = l->px, *pr = l->py;
    differences(l->x, w, h, pc, pr);
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

/* ------------------------------------------------------------------ */
/* The kernel step                                                      */
/* ------------------------------------------------------------------ */

/* ac[s] += sum_p v[p] v[p + s] over shifts |s_row| < kh, |s_col| < kw: the
 * (stationary) normal operator of the valid convolution with v. v is
 * sparse after edge selection: only its non-zero samples are visited. */
static void add_autocorrelation(const float *v, int w, int h, int kw, int kh, double *ac)
{
    int aw = 2 * kw - 1, ah = 2 * kh - 1;
#pragma omp parallel for schedule(dynamic, 1)
    for (int sa = 0; sa < ah; sa++) {
        int di = sa - (kh - 1);
        double *row = ac + (size_t)sa * aw;
        for (int i = 0; i < h; i++) {
            int i2 = i + di;
            if (i2 < 0 || i2 >= h)
                continue;
            const float *vi = v + (size_t)i * w, *vi2 = v + (size_t)i2 * w;
            for (int j = 0; j < w; j++) {
                float a = vi[j];
                if (a == 0.0f)
                    continue;
                int b0 = j - (kw - 1) < 0 ? (kw - 1) - j : 0;
                int b1 = j + (kw - 1) >= w ? (kw - 1) + (w - 1 - j) : aw - 1;
                const float *src = vi2 + j;
                for (int b = b0; b <= b1; b++)
                    row[b] += (double)a * src[b - (kw - 1)];
            }
        }
    }
}

/* out = (P^T P + gamma) v on kernel-sized arrays, with P^T P from the
 * autocorrelation: (P^T P v)[a][b] = sum ac[a'-a][b'-b] v[a'][b'], each
 * sum over a' then b' in order. The loop over b is innermost, on the
 * autocorrelation with each row reversed (acr: ac as kernel_setup leaves
 * it), so that the outputs' sums are independent lanes that
 * vectorise (a sum over b' innermost is one chain of dependent additions).
 * With kernels of 20 to 30 pixels this is a large part of a blind
 * estimate's time, so it is compiled for AVX-512 and AVX2 too, and the
 * processor picks, as conv.c's strips do. The plain version keeps each
 * sum's rounding; the others fuse multiply-adds, which changed none of the
 * 32 Levin kernels (compared byte for byte). */
static inline __attribute__((always_inline)) void
normal_apply_body(int kw, int kh, const double *restrict acr, double gamma,
                  const double *restrict v, double *restrict out)
{
    const int aw = 2 * kw - 1;
    for (int a = 0; a < kh; a++) {
        double *restrict s = out + (size_t)a * kw;
        for (int b = 0; b < kw; b++)
            s[b] = gamma * v[a * kw + b];
        for (int a2 = 0; a2 < kh; a2++) {
            /* acr[r][kw-1-b'+b] is the autocorrelation's [r][kw-1-b+b'] */
            const double *row = acr + (size_t)(a2 - a + kh - 1) * aw + (kw - 1);
            for (int b2 = 0; b2 < kw; b2++) {
                const double c = v[(size_t)a2 * kw + b2], *restrict q = row - b2;
                for (int b = 0; b < kw; b++)
                    s[b] += q[b] * c;
            }
        }
    }
}

static void normal_apply_plain(int kw, int kh, const double *acr, double gamma, const double *v,
                               double *out)
{
    normal_apply_body(kw, kh, acr, gamma, v, out);
}

#ifdef DECONV_X86
DECONV_TARGET_512 static void
normal_apply_512(int kw, int kh, const double *acr, double gamma, const double *v, double *out)
{
    normal_apply_body(kw, kh, acr, gamma, v, out);
}

DECONV_TARGET_256 static void
normal_apply_256(int kw, int kh, const double *acr, double gamma, const double *v, double *out)
{
    normal_apply_body(kw, kh, acr, gamma, v, out);
}
#endif

static void normal_apply(const level *l, double gamma, const double *v, double *out)
{
#ifdef DECONV_X86
    const deconv_isa isa = deconv_cpu_isa();
    if (isa == DECONV_ISA_AVX512) {
        normal_apply_512(l->kw, l->kh, l->ac, gamma, v, out);
        return;
    }
    if (isa == DECONV_ISA_AVX2) {
        normal_apply_256(l->kw, l->kh, l->ac, gamma, v, out);
        return;
    }
#endif
    normal_apply_plain(l->kw, l->kh, l->ac, gamma, v, out);
}

/* Reverse each row of the aw x ah array a, in place. */
static void reverse_rows(double *a, int aw, int ah)
{
    for (int r = 0; r < ah; r++) {
        double *row = a + (size_t)r * aw;
        for (int e = 0, f = aw - 1; e < f; e++, f--) {
            double t = row[e];
            row[e] = row[f], row[f] = t;
        }
    }
}

/* E(h) - constant: 1/2 h^T (P^T P + gamma) h - c^T h, with scratch out. */
static double kernel_energy(const level *l, double gamma, const double *h, double *scratch)
{
    int nk = l->kw * l->kh;
    normal_apply(l, gamma, h, scratch);
    double e = 0;
    for (int t = 0; t < nk; t++)
        e += 0.5 * h[t] * scratch[t] - l->c[t] * h[t];
    return e;
}

/* Prepare the kernel step for the current P: the autocorrelation and
 * c = P^T D y (MODEL.md's X^T r with r = D y). Returns the energy of P
 * (the autocorrelation at shift 0, which the rows' reversal leaves in
 * place). */
static double kernel_setup(level *l)
{
    int kw = l->kw, kh = l->kh, nk = kw * kh;
    memset(l->ac, 0, (size_t)(2 * kw - 1) * (2 * kh - 1) * sizeof(double));
    /* by FFT: its cost does not grow with the number of edges kept */
    if (l->normal || (l->normal = deconv_normal_new(l->xw, l->xh, kw, kh))) {
        memset(l->g, 0, nk * sizeof(double));
        deconv_kernel_normal(l->normal, l->px, l->py, l->dy_c, l->dy_r, l->ac, l->g);
        for (int t = 0; t < nk; t++)
            l->c[t] = (float)l->g[t];
    } else {
        /* out of memory for the FFT: the direct sums over the edges */
        add_autocorrelation(l->px, l->xw - 1, l->xh, kw, kh, l->ac);
        add_autocorrelation(l->py, l->xw, l->xh - 1, kw, kh, l->ac);
        deconv_corr_kernel(l->px, l->xw - 1, l->xh, l->dy_c, kw, kh, l->c);
        deconv_corr_kernel(l->py, l->xw, l->xh - 1, l->dy_r, kw, kh, l->tmp);
        for (int t = 0; t < nk; t++)
            l->c[t] += l->tmp[t];
    }
    reverse_rows(l->ac, 2 * kw - 1, 2 * kh - 1);
    return l->ac[(size_t)(kh - 1) * (2 * kw - 1) + kw - 1];
}

/* The largest eigenvalue of P^T P + gamma, by power iteration (an upper
 * estimate: 10 % added). */
static double kernel_lipschitz(level *l, double gamma)
{
    int nk = l->kw * l->kh;
    for (int t = 0; t < nk; t++)
        l->z[t] = 1.0 + 0.01 * (t % 7);
    double lam = 0;
    for (int it = 0; it < 12; it++) {
        normal_apply(l, gamma, l->z, l->g);
        double n = 0;
        for (int t = 0; t < nk; t++)
            n += l->g[t] * l->g[t];
        n = sqrt(n);
        if (!(n > 0))
            return gamma > 0 ? gamma : 1.0;
        double dot = 0, zz = 0;
        for (int t = 0; t < nk; t++)
            dot += l->z[t] * l->g[t], zz += l->z[t] * l->z[t];
        lam = dot / zz;
        for (int t = 0; t < nk; t++)
            l->z[t] = l->g[t] / n;
    }
    return 1.1 * lam;
}

/* Kernel steps for the selected edges P: accelerated projected gradient
 * (FISTA) on E(h) over h >= 0, step 1/L, warm started from l->h; then the
 * kernel is normalised to sum 1. */
static void kernel_steps(level *l, int iterations, double gamma)
{
    int nk = l->kw * l->kh;
    double L = kernel_lipschitz(l, gamma);
    if (!(L > 0))
        return;
    double *hk = l->hp, *z = l->z, *g = l->g;
    double *hprev = malloc(nk * sizeof(double));
    if (!hprev)
        return;
    for (int t = 0; t < nk; t++)
        hk[t] = z[t] = hprev[t] = l->h[t];
    double theta = 1;
    for (int it = 0; it < iterations; it++) {
        /* gradient of E at z: (P^T P + gamma) z - c */
        normal_apply(l, gamma, z, g);
        for (int t = 0; t < nk; t++) {
            double v = z[t] - (g[t] - l->c[t]) / L;
            hprev[t] = hk[t];
            hk[t] = v > 0 ? v : 0;
        }
        double theta_next = 0.5 * (1 + sqrt(1 + 4 * theta * theta));
        double beta = (theta - 1) / theta_next;
        theta = theta_next;
        for (int t = 0; t < nk; t++)
            z[t] = hk[t] + beta * (hk[t] - hprev[t]);
    }
    for (int t = 0; t < nk; t++)
        l->h[t] = (float)hk[t];
    free(hprev);
    project_kernel(l->h, l->kw, l->kh);
}

/* Remove values below frac * max, then renormalise. */
static void prune_small(float *h, int kw, int kh, double frac)
{
    int nk = kw * kh;
    float m = 0;
    for (int t = 0; t < nk; t++)
        m = h[t] > m ? h[t] : m;
    for (int t = 0; t < nk; t++)
        if (h[t] < frac * m)
            h[t] = 0;
    project_kernel(h, kw, kh);
}

/* Remove the 8-connected pieces of the kernel's support that hold less
 * than `frac` of its mass, then renormalise; with dry_run, only count
 * them. Returns the number of such pieces (-1 when out of memory). */
static int prune_pieces(level *l, double frac, int dry_run)
{
    int kw = l->kw, kh = l->kh, nk = kw * kh, removed = 0;
    int *label = malloc(nk * sizeof(int));
    if (!label)
        return -1;
    for (int t = 0; t < nk; t++)
        label[t] = l->h[t] > 0 ? 0 : -1;
    double total = 0;
    for (int t = 0; t < nk; t++)
        total += l->h[t];
    int next = 0;
    for (int s = 0; s < nk; s++) {
        if (label[s] != 0)
            continue;
        int id = ++next, top = 0, first = 0;
        double mass = 0;
        label[s] = id;
        l->stack[top++] = s;
        /* the stack doubles as the list of the piece's members */
        while (first < top) {
            int t = l->stack[first++];
            mass += l->h[t];
            int a = t / kw, b = t % kw;
            for (int da = -1; da <= 1; da++)
                for (int db = -1; db <= 1; db++) {
                    int a2 = a + da, b2 = b + db;
                    if (a2 < 0 || a2 >= kh || b2 < 0 || b2 >= kw)
                        continue;
                    int u = a2 * kw + b2;
                    if (label[u] == 0) {
                        label[u] = id;
                        l->stack[top++] = u;
                    }
                }
        }
        if (mass < frac * total) {
            removed++;
            for (int k = 0; k < top && !dry_run; k++)
                l->h[l->stack[k]] = 0;
        }
    }
    free(label);
    if (!dry_run)
        project_kernel(l->h, kw, kh);
    return removed;
}

/* Shift the kernel so that the bounding box of its support (values above
 * max/20) is in its middle, and the image the other way, which leaves
 * h * x unchanged (up to the pixels that cross the borders). The box rather
 * than the centre of mass: a trajectory with a bright end keeps room for
 * its faint tail. */
static void recentre(level *l)
{
    float mx = 0;
    for (int t = 0; t < l->kw * l->kh; t++)
        mx = l->h[t] > mx ? l->h[t] : mx;
    if (!(mx > 0))
        return;
    int a0 = l->kh, a1 = -1, b0 = l->kw, b1 = -1;
    for (int a = 0; a < l->kh; a++)
        for (int b = 0; b < l->kw; b++)
            if (l->h[a * l->kw + b] >= mx / 20) {
                a0 = a < a0 ? a : a0, a1 = a > a1 ? a : a1;
                b0 = b < b0 ? b : b0, b1 = b > b1 ? b : b1;
            }
    int di = (int)floor((a0 + a1) / 2.0 - (l->kh - 1) / 2.0 + 0.5);
    int dj = (int)floor((b0 + b1) / 2.0 - (l->kw - 1) / 2.0 + 0.5);
    if (di == 0 && dj == 0)
        return;
    /* h'[a][b] = h[a+di][b+dj]; x'[p][q] = x[p-di][q-dj]. */
    int nk = l->kw * l->kh;
    memcpy(l->tmp, l->h, nk * sizeof(float));
    for (int a = 0; a < l->kh; a++)
        for (int b = 0; b < l->kw; b++) {
            int sa = a + di, sb = b + dj;
            l->h[a * l->kw + b] =
                sa >= 0 && sa < l->kh && sb >= 0 && sb < l->kw ? l->tmp[sa * l->kw + sb] : 0.0f;
        }
    project_kernel(l->h, l->kw, l->kh);
    size_t nx = (size_t)l->xw * l->xh;
    float *tmp = l->px; /* free between kernel steps */
    memcpy(tmp, l->x, nx * sizeof(float));
    for (int p = 0; p < l->xh; p++) {
        int sp = p - di < 0 ? 0 : (p - di >= l->xh ? l->xh - 1 : p - di);
        for (int q = 0; q < l->xw; q++) {
            int sq = q - dj < 0 ? 0 : (q - dj >= l->xw ? l->xw - 1 : q - dj);
            l->x[(size_t)p * l->xw + q] = tmp[(size_t)sp * l->xw + sq];
        }
    }
}

/* Resample a kernel by the factor `ratio` about its centre (bilinear) into
 * a kernel of size ow x oh, then project. Unlike resizing to the new size,
 * this keeps the kernel's scale equal to the image's. */
static void resample_kernel(const float *in, int iw, int ih, double ratio, float *out, int ow,
                            int oh)
{
    double ci = (ih - 1) / 2.0, cj = (iw - 1) / 2.0, oi = (oh - 1) / 2.0, oj = (ow - 1) / 2.0;
    for (int a = 0; a < oh; a++)
        for (int b = 0; b < ow; b++) {
            double u = (a - oi) / ratio + ci, v = (b - oj) / ratio + cj;
            int a0 = (int)floor(u), b0 = (int)floor(v);
            double fu = u - a0, fv = v - b0, s = 0;
            for (int da = 0; da <= 1; da++)
                for (int db = 0; db <= 1; db++) {
                    int ia = a0 + da, ib = b0 + db;
                    if (ia < 0 || ia >= ih || ib < 0 || ib >= iw)
                        continue;
                    s += (da ? fu : 1 - fu) * (db ? fv : 1 - fv) * in[ia * iw + ib];
                }
            out[a * ow + b] = (float)s;
        }
}

/* For the tests (tests/test_blind.c declares it; not part of the API): one
 * kernel step of the loop on a given x (xw x xh) and y (N x M): edge
 * selection keeping `count` gradients per orientation (count <= 0: every
 * gradient), then `iterations` FISTA steps on E(h) from h (kw x kh, updated
 * and normalised). *e0 and *e1 receive E(h) - E(0) before the step and after
 * the iterations (before the final normalisation). Returns 0 on success. */
int deconv_blind_test_kernel_step(const float *x, const float *y, int N, int M, float *h,
                                  int kw, int kh, double count, int iterations, double gamma,
                                  double *e0, double *e1);
int deconv_blind_test_kernel_step(const float *x, const float *y, int N, int M, float *h,
                                  int kw, int kh, double count, int iterations, double gamma,
                                  double *e0, double *e1)
{
    level l;
    if (!level_alloc(&l, N, M, kw, kh))
        return -1;
    memcpy(l.x, x, (size_t)l.xw * l.xh * sizeof(float));
    memcpy(l.y, y, (size_t)N * M * sizeof(float));
    memcpy(l.h, h, (size_t)kw * kh * sizeof(float));
    differences(l.y, N, M, l.dy_c, l.dy_r);
    select_edges(&l, count > 0 ? count : 1e30);
    kernel_setup(&l);
    int nk = kw * kh;
    double *hd = malloc(2 * nk * sizeof(double));
    if (!hd) {
        level_free(&l);
        return -1;
    }
    for (int t = 0; t < nk; t++)
        hd[t] = h[t];
    *e0 = kernel_energy(&l, gamma, hd, hd + nk);
    kernel_steps(&l, iterations, gamma);
    *e1 = kernel_energy(&l, gamma, l.hp, hd + nk);
    memcpy(h, l.h, (size_t)nk * sizeof(float));
    free(hd);
    level_free(&l);
    return 0;
}

/* The L0 image step on level l with weight lambda (sparse_prior.c), its
 * work made at the first call. Returns 0 when out of memory. */
static int l0_step(level *l, double lambda)
{
    if (!l->l0 && !(l->l0 = deconv_l0_new(l->N, l->M, l->kw, l->kh)))
        return 0;
    deconv_l0_image_step(l->l0, l->x, l->yfit ? l->yfit : l->y, l->h, lambda, 1e5);
    return 1;
}

/* A kernel size scaled for a pyramid level, keeping the parity of the
 * full size (odd kernels keep a middle pixel). */
static int level_kernel_size(int k, double scale)
{
    int s = (int)lround(k * scale);
    if (s < 3)
        s = 3;
    if ((s - k) % 2)
        s++;
    return s > k ? k : s;
}

static int automatic_levels(int kw, int kh, double scale)
{
    int k = kw > kh ? kw : kh;
    if (k <= 3)
        return 1;
    return 1 + (int)ceil(log(k / 3.0) / log(1.0 / scale));
}

static deconv_status check_params(const deconv_image *y, const deconv_blind_params *p,
                                  deconv_error *err)
{
    if (!y || !p)
        return deconv_fail(err, DECONV_ERR_ARG, "missing image or parameters");
    if (p->kernel_width < 1 || p->kernel_height < 1)
        return deconv_fail(err, DECONV_ERR_ARG, "kernel size %dx%d must be at least 1x1",
                           p->kernel_width, p->kernel_height);
    if (p->kernel_width > y->width || p->kernel_height > y->height)
        return deconv_fail(err, DECONV_ERR_KERNEL,
                           "kernel size %dx%d is larger than the image %dx%d",
                           p->kernel_width, p->kernel_height, y->width, y->height);
    if (p->iterations < 1 || p->kernel_iterations < 1 || p->image_iterations < 1 ||
        !(p->scale > 0.05 && p->scale < 1) || p->levels < 0 || !isfinite(p->tv) ||
        !isfinite(p->tv_final) || !isfinite(p->step) || !isfinite(p->kernel_step) ||
        p->refine < 0 || (p->refine > 0 && !(p->refine_lambda > 0)) || p->starts < 0 ||
        p->starts > MAX_STARTS || !(p->estimate_pixels >= 0) || !(p->piece_fraction < 1))
        return deconv_fail(err, DECONV_ERR_ARG, "blind parameters out of range");
    if (p->region_width || p->region_height) {
        if (p->region_x < 0 || p->region_y < 0 || p->region_width < 1 || p->region_height < 1 ||
            p->region_width > y->width - p->region_x || p->region_height > y->height - p->region_y)
            return deconv_fail(err, DECONV_ERR_ARG,
                               "the region %dx%d at (%d, %d) is not inside the %dx%d image",
                               p->region_width, p->region_height, p->region_x, p->region_y,
                               y->width, y->height);
        if (p->region_width < p->kernel_width || p->region_height < p->kernel_height)
            return deconv_fail(err, DECONV_ERR_KERNEL,
                               "the region %dx%d is smaller than the kernel %dx%d",
                               p->region_width, p->region_height, p->kernel_width,
                               p->kernel_height);
    }
    if (p->init && (p->init->width != p->kernel_width || p->init->height != p->kernel_height))
        return deconv_fail(err, DECONV_ERR_ARG,
                           "the starting kernel is %dx%d, not the kernel size %dx%d",
                           p->init->width, p->init->height, p->kernel_width, p->kernel_height);
    return DECONV_OK;
}

/* The starting kernel of the coarsest level. */
static void initial_kernel(level *l, const deconv_blind_params *p)
{
    int nk = l->kw * l->kh;
    if (p->init) {
        deconv_resize(p->init->data, p->init->width, p->init->height, l->h, l->kw, l->kh);
    } else if (p->init_gaussian) {
        double ci = (l->kh - 1) / 2.0, cj = (l->kw - 1) / 2.0;
        for (int a = 0; a < l->kh; a++)
            for (int b = 0; b < l->kw; b++)
                l->h[a * l->kw + b] = (float)exp(-((a - ci) * (a - ci) + (b - cj) * (b - cj)) / 2.0);
    } else {
        memset(l->h, 0, nk * sizeof(float));
        l->h[((l->kh - 1) / 2) * l->kw + (l->kw - 1) / 2] = 1.0f;
    }
    project_kernel(l->h, l->kw, l->kh);
}

/* Where an estimate can be taken up by a start that differs from it only in
 * its piece fraction: the state at the end of the first stage whose
 * pruning of pieces would differ. Until then the two starts compute the
 * same numbers, so the second runs from here instead of from the start,
 * and not at all when no stage differs (its kernel is then the first's). */
typedef struct {
    double pieces;  /* the other start's piece fraction */
    int stage;      /* -1 none found; else the pyramid level (levels: the
                       refinement) at whose end the two differ */
    level state;    /* before its pieces are pruned */
} fork_point;

/* The state a level's later stages read; the rest is scratch or made on
 * first use. Returns 0 when out of memory. */
static int level_copy(level *dst, const level *src)
{
    if (!level_alloc(dst, src->N, src->M, src->kw, src->kh))
        return 0;
    size_t ny = (size_t)src->N * src->M, nx = (size_t)src->xw * src->xh;
    memcpy(dst->y, src->y, ny * sizeof(float));
    memcpy(dst->dy_c, src->dy_c, ny * sizeof(float));
    memcpy(dst->dy_r, src->dy_r, ny * sizeof(float));
    memcpy(dst->x, src->x, nx * sizeof(float));
    memcpy(dst->h, src->h, (size_t)src->kw * src->kh * sizeof(float));
    if (src->clip) {
        dst->clip = deconv_alloc_floats(ny);
        dst->yfit = deconv_alloc_floats(ny);
        if (!dst->clip || !dst->yfit)
            return 0;
        memcpy(dst->clip, src->clip, ny * sizeof(float));
        memcpy(dst->yfit, src->yfit, ny * sizeof(float));
    }
    return 1;
}

/* Where y is clipped, the L0 step fits the current model's own prediction
 * h * x (at least y): a clipped pixel only says that the light was at
 * least white. Recomputes l->yfit. Returns 0 when out of memory. */
static int fit_target(level *l)
{
    if (!l->clip)
        return 1;
    const size_t ny = (size_t)l->N * l->M;
    deconv_op *op = deconv_op_new(l->N, l->M, l->h, l->kw, l->kh, DECONV_CONV_AUTO, NULL);
    if (!op)
        return 0;
    deconv_op_apply(op, l->x, l->yfit);
    deconv_op_free(op);
#pragma omp parallel for schedule(static) if (ny >= DECONV_PARALLEL_MIN)
    for (size_t i = 0; i < ny; i++)
        l->yfit[i] = l->clip[i] > 0 && l->yfit[i] > l->y[i] ? l->yfit[i] : l->y[i];
    return 1;
}

/* out (w x h) = 1 where some in[i - a][j - b] is set, 0 <= a < dh (rows)
 * and 0 <= b < dw, reading in (iw x ih) at offsets (i - a, j - b) - (oi, oj):
 * a box dilation, separable. */
static void dilate(const unsigned char *in, int iw, int ih, unsigned char *out, int w, int h,
                   int oi, int oj, int dh, int dw, unsigned char *tmp)
{
    /* rows first: tmp (w x ih) */
    for (int i = 0; i < ih; i++)
        for (int j = 0; j < w; j++) {
            unsigned char any = 0;
            for (int b = 0; b < dw && !any; b++) {
                int jj = j - b + oj;
                any = jj >= 0 && jj < iw && in[(size_t)i * iw + jj];
            }
            tmp[(size_t)i * w + j] = any;
        }
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            unsigned char any = 0;
            for (int a = 0; a < dh && !any; a++) {
                int ii = i - a + oi;
                any = ii >= 0 && ii < ih && tmp[(size_t)ii * w + j];
            }
            out[(size_t)i * w + j] = any;
        }
}

/* The kernel step where y is clipped (after edge selection). A clipped
 * pixel only says that the light was at least white, and the light of a
 * lamp has gradients far larger than any other edge: fitted as they are,
 * the lights pull the kernel to whatever their clipped streaks look like
 * (and, filled with the model's prediction alone, their curvature swamps
 * the fit: the kernel stayed a delta). So the selected gradients of x are
 * dropped wherever x feeds a clipped pixel of y, and every pixel of y
 * whose window meets a dropped gradient (a clipped pixel, or one within a
 * kernel of it) is fitted to the current kernel applied to what is left:
 * there the kernel step has nothing to gain (EM's rule for missing data);
 * everywhere else it fits y, whose windows are then whole. Dropping only
 * the gradients of x brighter than white was tried: the estimate's x is
 * brighter than white over most clipped areas, so it dropped as much.
 * Returns 0 when out of memory. */
static int mask_clipped(level *l)
{
    if (!l->clip)
        return 1;
    const int xw = l->xw, xh = l->xh, N = l->N, M = l->M, kw = l->kw, kh = l->kh;
    unsigned char *c = malloc((size_t)N * M), *x0 = malloc((size_t)xw * xh);
    unsigned char *em = malloc((size_t)N * M), *tmp = malloc((size_t)xw * xh);
    float *pred = deconv_alloc_floats((size_t)N * M);
    int ok = c && x0 && em && tmp && pred;
    if (ok) {
        for (size_t i = 0; i < (size_t)N * M; i++)
            c[i] = l->clip[i] > 0;
        /* x positions (i + a, j + b) that a clipped (i, j) reads */
        dilate(c, N, M, x0, xw, xh, 0, 0, kh, kw, tmp);
        /* y positions whose window (i..i+kh-1, j..j+kw-1) meets x0 */
        dilate(x0, xw, xh, em, N, M, kh - 1, kw - 1, kh, kw, tmp);
        for (int i = 0; i < xh; i++)
            for (int j = 0; j < xw; j++) {
                int drop = x0[(size_t)i * xw + j] || (j + 1 < xw && x0[(size_t)i * xw + j + 1]) ||
                           (i + 1 < xh && x0[(size_t)(i + 1) * xw + j]);
                if (!drop)
                    continue;
                if (j + 1 < xw)
                    l->px[(size_t)i * (xw - 1) + j] = 0;
                if (i + 1 < xh)
                    l->py[(size_t)i * xw + j] = 0;
            }
        differences(l->y, N, M, l->dy_c, l->dy_r);
    }
    deconv_op *op = NULL;
    if (ok && N > 1 && (op = deconv_op_new(N - 1, M, l->h, kw, kh, DECONV_CONV_AUTO, NULL))) {
        deconv_op_apply(op, l->px, pred);
        for (int i = 0; i < M; i++)
            for (int j = 0; j + 1 < N; j++)
                if (em[(size_t)i * N + j] || em[(size_t)i * N + j + 1])
                    l->dy_c[(size_t)i * (N - 1) + j] = pred[(size_t)i * (N - 1) + j];
    } else if (N > 1)
        ok = 0;
    deconv_op_free(op);
    op = NULL;
    if (ok && M > 1 && (op = deconv_op_new(N, M - 1, l->h, kw, kh, DECONV_CONV_AUTO, NULL))) {
        deconv_op_apply(op, l->py, pred);
        for (int i = 0; i + 1 < M; i++)
            for (int j = 0; j < N; j++)
                if (em[(size_t)i * N + j] || em[(size_t)(i + 1) * N + j])
                    l->dy_r[(size_t)i * N + j] = pred[(size_t)i * N + j];
    } else if (M > 1)
        ok = 0;
    deconv_op_free(op);
    free(c), free(x0), free(em), free(tmp);
    deconv_free_floats(pred);
    return ok;
}

/* The soft clip on linear light: the image step's model in camera mode. */
static void camera_step_response(deconv_response *r)
{
    deconv_response_linear(r);
    r->soft_clip = 1;
    snprintf(r->name, sizeof r->name, "linear light, clipped at white");
}

/* Pyramid level lv of `levels` (0 the coarsest, scale sc): its problem made
 * from lum and from the level below (cur, which it replaces; prev_sc its
 * scale), then the TV alternation from tv0 to tv1. */
static deconv_status pyramid_level(const deconv_image *lum, const deconv_blind_params *p, int lv,
                                   int levels, double sc, double prev_sc, double tv0, double tv1,
                                   int progress, level *cur, deconv_error *err)
{
    const int KW = p->kernel_width, KH = p->kernel_height, N = lum->width, M = lum->height;
    int kw = lv == levels - 1 ? KW : level_kernel_size(KW, sc);
    int kh = lv == levels - 1 ? KH : level_kernel_size(KH, sc);
    int n = lv == levels - 1 ? N : (int)lround(N * sc);
    int m = lv == levels - 1 ? M : (int)lround(M * sc);
    if (n < kw)
        n = kw;
    if (m < kh)
        m = kh;
    level next;
    if (!level_alloc(&next, n, m, kw, kh))
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for pyramid level %d", lv + 1);
    deconv_resize(lum->data, N, M, next.y, n, m);
    if (lum->channels == 2) { /* camera_input: the clip mask follows */
        size_t ny = (size_t)n * m;
        next.clip = deconv_alloc_floats(ny);
        next.yfit = deconv_alloc_floats(ny);
        if (!next.clip || !next.yfit) {
            level_free(&next);
            return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for pyramid level %d", lv + 1);
        }
        deconv_resize(deconv_image_plane(lum, 1), N, M, next.clip, n, m);
        for (size_t i = 0; i < ny; i++) /* a level pixel mostly clipped */
            next.clip[i] = next.clip[i] > 0.5f ? 1.0f : 0.0f;
    }
    if (lv == 0) {
        deconv_pad_replicate(next.y, n, m, (kh - 1) / 2, kh - 1 - (kh - 1) / 2, (kw - 1) / 2,
                             kw - 1 - (kw - 1) / 2, next.x);
        initial_kernel(&next, p);
    } else {
        deconv_resize(cur->x, cur->xw, cur->xh, next.x, next.xw, next.xh);
        resample_kernel(cur->h, cur->kw, cur->kh, sc / prev_sc, next.h, kw, kh);
        project_kernel(next.h, kw, kh);
    }
    level_free(cur);
    *cur = next;
    differences(cur->y, cur->N, cur->M, cur->dy_c, cur->dy_r);

    deconv_deblur_params ip;
    deconv_deblur_defaults(&ip);
    ip.iterations = p->image_iterations;
    ip.tol = 0;
    ip.rule = p->rule;
    ip.step = p->step;
    ip.cancel = p->cancel;
    ip.tv_eps = 1e-3;
    if (cur->clip)
        camera_step_response(&ip.response);
    double decay = pow(tv1 / tv0, 1.0 / (p->iterations > 1 ? p->iterations - 1 : 1));
    double count = 2.0 * sqrt((double)kw * kh);
    for (int it = 0; it < p->iterations; it++) {
        if (p->cancel && *p->cancel)
            return deconv_fail(err, DECONV_ERR_INTERRUPTED, "interrupted at level %d", lv + 1);
        double f = 0;
        if (p->sparse_prior) {
            /* x step: F(x) = 1/2 ||h*x - y||^2 + lambda/2 ||grad x||_0,
             * lambda from 4e-3 to 4e-4 within the level (sparse_prior.c) */
            double lambda = 4e-3 * pow(0.1, it / (double)(p->iterations > 1 ? p->iterations - 1 : 1));
            if (!l0_step(cur, lambda))
                return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory at level %d", lv + 1);
        } else {
            /* x step: F(x) = 1/2 ||h*x - y||^2 + lambda TV(x), lambda
             * from tv to tv_final within the level (image_step.c) */
            ip.tv = tv0 * pow(decay, it);
            deconv_status st = deconv_image_step(cur->x, cur->y, cur->N, cur->M, cur->h, cur->kw,
                                                 cur->kh, &ip, 0, 1, NULL, &f, err);
            if (st != DECONV_OK)
                return st;
        }
        /* h step: E(h) = 1/2 sum_d ||h * P_d - D_d y||^2 + gamma/2 ||h||^2,
         * h >= 0, on the selected edges P of x (every non-zero gradient
         * with the sparse prior, whose x is already piecewise flat) */
        select_edges(cur, p->sparse_prior ? 1e30 : count * pow(1.1, it));
        if (!mask_clipped(cur))
            return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory at level %d", lv + 1);
        double energy = kernel_setup(cur);
        kernel_steps(cur, p->kernel_iterations, p->kernel_reg * energy);
        prune_small(cur->h, cur->kw, cur->kh, PRUNE);
        if (progress && p->progress) {
            deconv_progress pr = {it + 1, 0, 1, f, f, 0, "kernel", lv, levels};
            if (p->progress(&pr, p->progress_user))
                return deconv_fail(err, DECONV_ERR_INTERRUPTED, "stopped at level %d", lv + 1);
        }
    }
    return DECONV_OK;
}

/* Refinement at the finest level: the TV loop has found the kernel's
 * shape; a weak L0 prior now keeps nearly every gradient of x, which fits
 * the kernel far more accurately from a good start.
 *   x step: F(x) = 1/2 ||h*x - y||^2 + lambda/2 ||grad x||_0
 *   h step: E(h) as above, with every non-zero gradient of x */
static deconv_status refinement(const deconv_blind_params *p, level *cur, deconv_error *err)
{
    for (int it = 0; it < p->refine; it++) {
        if (p->cancel && *p->cancel)
            return deconv_fail(err, DECONV_ERR_INTERRUPTED, "interrupted in the refinement");
        if (!fit_target(cur) || !l0_step(cur, p->refine_lambda))
            return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory in the refinement");
        select_edges(cur, 1e30);
        if (!mask_clipped(cur))
            return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory in the refinement");
        double energy = kernel_setup(cur);
        kernel_steps(cur, p->kernel_iterations, p->kernel_reg * energy);
        prune_small(cur->h, cur->kw, cur->kh, PRUNE);
    }
    return DECONV_OK;
}

/* One estimate of the kernel of the luminance lum, the TV schedule of the
 * blind loop starting at tv0, and the pieces of the kernel holding less
 * than the fraction `pieces` of its mass removed at the end of each stage:
 * the coarse-to-fine alternation, then the refinement. Writes the kernel
 * (KW x KH) to h_out. progress: whether to call p->progress (only one of
 * several concurrent estimates does). record (or NULL): where the fork
 * point for record->pieces is kept. resume (or NULL): a fork point to
 * start from instead of from the coarsest level (its state is taken). */
static deconv_status estimate(const deconv_image *lum, const deconv_blind_params *p, double tv0,
                              double pieces, int progress, fork_point *record,
                              fork_point *resume, float *h_out, deconv_error *err)
{
    deconv_status status = DECONV_OK;
    level cur = {0};
    const int KW = p->kernel_width, KH = p->kernel_height;
    const int levels = p->levels > 0 ? p->levels : automatic_levels(KW, KH, p->scale);
    const double tv1 = p->tv_final > 0 ? p->tv_final * tv0 / (p->tv > 0 ? p->tv : DEFAULT_TV)
                                       : tv0 / 10.0;
    int first = 0;
    double prev_sc = 1;
    if (resume) {
        cur = resume->state;
        memset(&resume->state, 0, sizeof resume->state);
        first = resume->stage;
    }
    /* stages 0 .. levels-1: the pyramid; stage `levels`: the refinement */
    for (int stage = first; stage <= levels; stage++) {
        int resumed = resume && stage == first;
        double sc = stage < levels ? pow(p->scale, levels - 1 - stage) : 1;
        if (stage == levels && p->refine == 0)
            break;
        if (!resumed) {
            status = stage < levels ? pyramid_level(lum, p, stage, levels, sc, prev_sc, tv0, tv1,
                                                    progress, &cur, err)
                                    : refinement(p, &cur, err);
            if (status != DECONV_OK)
                goto done;
        }
        prev_sc = sc;
        if (record && record->stage < 0 &&
            prune_pieces(&cur, pieces, 1) != prune_pieces(&cur, record->pieces, 1)) {
            if (!level_copy(&record->state, &cur)) {
                status = deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
                goto done;
            }
            record->stage = stage;
        }
        prune_pieces(&cur, pieces, 0);
        recentre(&cur);
    }
    memcpy(h_out, cur.h, (size_t)KW * KH * sizeof(float));
done:
    level_free(&cur);
    return status;
}

/* How sharp and clean the restoration with kernel h looks: the normalised
 * sparsity ||grad x||_1 / ||grad x||_2 of x restored (briefly, with the
 * settings `deconv blind` restores with) from the centre of lum, at most
 * SCORE_SIDE square. A wrong kernel leaves blur or rings, both of which
 * spread the gradient over more pixels and raise the measure (Krishnan,
 * Tay and Fergus, CVPR 2011, who use it as a prior). Lower is better;
 * INFINITY when out of memory. */
enum { SCORE_SIDE = 1024, SCORE_ITERATIONS = 30 };

static double restoration_sparsity(const deconv_image *lum, const float *h, int kw, int kh)
{
    int w = lum->width < SCORE_SIDE ? lum->width : SCORE_SIDE;
    int ht = lum->height < SCORE_SIDE ? lum->height : SCORE_SIDE;
    deconv_image *crop = deconv_image_new(w, ht, 1);
    deconv_kernel *k = deconv_kernel_new(kw, kh);
    double score = INFINITY;
    if (crop && k) {
        deconv_crop(lum->data, lum->width, (lum->height - ht) / 2, (lum->width - w) / 2, w, ht,
                    crop->data);
        memcpy(k->data, h, (size_t)kw * kh * sizeof(float));
        deconv_deblur_params dp;
        deconv_blind_restore_defaults(&dp);
        dp.iterations = SCORE_ITERATIONS;
        if (lum->channels == 2)
            camera_step_response(&dp.response);
        deconv_error e;
        deconv_image *x = deconv_deblur(crop, k, &dp, NULL, &e);
        deconv_image *c = x ? deconv_crop_to_input(x, kw, kh) : NULL;
        if (c) {
            double l1 = 0, l2 = 0;
            for (int i = 0; i + 1 < c->height; i++)
                for (int j = 0; j + 1 < c->width; j++) {
                    const float *q = c->data + (size_t)i * c->width + j;
                    double a = q[1] - q[0], b = q[c->width] - q[0];
                    l1 += fabs(a) + fabs(b), l2 += a * a + b * b;
                }
            score = l2 > 0 ? l1 / sqrt(l2) : INFINITY;
        }
        deconv_image_free(c);
        deconv_image_free(x);
    }
    deconv_image_free(crop);
    deconv_kernel_free(k);
    return score;
}

/* The weight of the kernel's spread in a start's score (start_score). */
static const double SPREAD_WEIGHT = 0.05;

/* A start's score, lower is better: log restoration_sparsity plus
 * SPREAD_WEIGHT x log(1 / ||h||_2), the log of the kernel's spread (h sums
 * to 1: 1 / ||h||_2^2 is its effective number of pixels). Among
 * restorations about as sharp, the more compact kernel: thick trajectories
 * and spurious branches, the usual faults of the estimates, spread it.
 * Measured (docs/benchmarks.md): on the Levin benchmark any weight from 0.01 to 0.1
 * keeps the same figures but for one case a little better, on the
 * earlier (linear) sample 0.031 or more keeps the right start. Unbounded, the
 * term would prefer a delta (no deblurring at all): on every Levin case
 * the delta's restoration scores worse than the estimate's up to a weight
 * of 0.104, twice this one. */
static double start_score(const deconv_image *lum, const float *h, int kw, int kh)
{
    double l2 = 0;
    for (int t = 0; t < kw * kh; t++)
        l2 += (double)h[t] * h[t];
    return log(restoration_sparsity(lum, h, kw, kh)) - SPREAD_WEIGHT * 0.5 * log(l2);
}

/* The starting TV weights of starts 0 to 2, relative to p->tv: the
 * estimates differ in how much of the image the first kernels are fitted
 * to. Chosen on the Levin benchmark from single-start runs at TV 0.01,
 * 0.015, 0.02, 0.03 and 0.04 (x 0.5, 0.75, 1, 1.5, 2): with the selection
 * below, these did best of every set of three (docs/benchmarks.md). */
static const double start_tv_factor[3] = {1, 0.5, 1.5};

/* Start 3 is start 0 keeping fainter pieces of the kernel (this fraction
 * of p->piece_fraction), which a trajectory with a faint middle needs at
 * the coarse levels; it is forked from start 0 (fork_point). On the Levin
 * benchmark it is chosen in two cases, both better, and loses none. */
static const double FORK_PIECE_FACTOR = 0.5;

/* The window of the luminance (w x h at left, top) the kernel is estimated
 * on: p's region when it has one; the whole image when it has at most
 * p->estimate_pixels pixels (or that is 0); else a window of about
 * estimate_pixels with the image's aspect, at the position, on a grid of
 * 1/16 of the free range, where the sum of |grad| is largest. The kernel is the same everywhere in the model,
 * and the edges are what carry it; a few megapixels hold far more of them
 * than the kernel step needs, and the cost of the estimate is linear in
 * the pixels. */
static void choose_window(const deconv_image *lum, const deconv_blind_params *p, int *left,
                          int *top, int *w, int *h)
{
    const int N = lum->width, M = lum->height, kw = p->kernel_width, kh = p->kernel_height;
    const double max_pixels = p->estimate_pixels;
    if (p->region_width) {
        *left = p->region_x, *top = p->region_y, *w = p->region_width, *h = p->region_height;
        return;
    }
    *left = *top = 0, *w = N, *h = M;
    if (max_pixels <= 0 || (double)N * M <= max_pixels)
        return;
    int ww = (int)fmin(N, lround(sqrt(max_pixels * N / M)));
    int wh = (int)fmin(M, lround(max_pixels / ww));
    ww = ww < 2 * kw ? (2 * kw < N ? 2 * kw : N) : ww;
    wh = wh < 2 * kh ? (2 * kh < M ? 2 * kh : M) : wh;
    /* column sums of |grad| per row band would do; an integral image is
     * simplest: S[i][j] = sum over rows < i, columns < j */
    double *S = calloc((size_t)(N + 1) * (M + 1), sizeof(double));
    if (!S) {
        *left = (N - ww) / 2, *top = (M - wh) / 2, *w = ww, *h = wh;
        return;
    }
    for (int i = 0; i < M; i++) {
        double row = 0;
        for (int j = 0; j < N; j++) {
            const float *q = lum->data + (size_t)i * N + j;
            double g = (j + 1 < N ? fabs(q[1] - q[0]) : 0) + (i + 1 < M ? fabs(q[N] - q[0]) : 0);
            row += g;
            S[(size_t)(i + 1) * (N + 1) + j + 1] = S[(size_t)i * (N + 1) + j + 1] + row;
        }
    }
    double best = -1;
    for (int a = 0; a <= 16; a++)
        for (int b = 0; b <= 16; b++) {
            int t = (int)((long)(M - wh) * a / 16), l = (int)((long)(N - ww) * b / 16);
            double v = S[(size_t)(t + wh) * (N + 1) + l + ww] - S[(size_t)t * (N + 1) + l + ww] -
                       S[(size_t)(t + wh) * (N + 1) + l] + S[(size_t)t * (N + 1) + l];
            if (v > best)
                best = v, *left = l, *top = t;
        }
    *w = ww, *h = wh;
    free(S);
}

deconv_status deconv_blind_window(const deconv_image *y, const deconv_blind_params *p,
                                  int *left, int *top, int *width, int *height,
                                  deconv_error *err)
{
    deconv_status st = check_params(y, p, err);
    if (st != DECONV_OK)
        return st;
    deconv_image *lum = deconv_image_luminance(y);
    if (!lum)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
    choose_window(lum, p, left, top, width, height);
    deconv_image_free(lum);
    return DECONV_OK;
}

/* The estimate's input under the camera's model: the window's luminance
 * decoded to linear light, where the blur is a convolution, and, when some
 * of its pixels are clipped at white, a second plane marking them (1) and
 * their neighbours: a pixel of y is clipped when its brightest colour is
 * within the noise of white (noise is added after the clip). */
static deconv_image *camera_input(const deconv_image *y, const deconv_image *lum, int left,
                                  int top, int w, int ht, const deconv_response *resp)
{
    const int colors = deconv_color_channels(y->channels), N = y->width;
    double sigma = deconv_estimate_noise(lum->data, lum->width, lum->height);
    float white = (float)(1.0 - fmax(2.5 * sigma, 1.5 / 255.0));
    size_t n = (size_t)w * ht, clipped = 0;
    unsigned char *mark = calloc(n, 1);
    deconv_image *out = deconv_image_new(w, ht, 2);
    if (!mark || !out) {
        free(mark);
        deconv_image_free(out);
        return NULL;
    }
    for (int i = 0; i < ht; i++)
        for (int j = 0; j < w; j++) {
            size_t at = (size_t)(top + i) * N + left + j;
            float top_value = 0;
            for (int c = 0; c < colors; c++) {
                float v = y->data[(size_t)c * y->height * N + at];
                top_value = v > top_value ? v : top_value;
            }
            mark[(size_t)i * w + j] = top_value >= white;
            out->data[(size_t)i * w + j] = lum->data[at];
        }
    deconv_response_decode(resp, out->data, out->data, n);
    float *clip = deconv_image_plane(out, 1);
    for (int i = 0; i < ht; i++)
        for (int j = 0; j < w; j++) {
            int any = 0;
            for (int a = i > 0 ? i - 1 : 0; a <= i + 1 && a < ht && !any; a++)
                for (int b = j > 0 ? j - 1 : 0; b <= j + 1 && b < w && !any; b++)
                    any = mark[(size_t)a * w + b];
            clip[(size_t)i * w + j] = (float)any;
            clipped += any;
        }
    free(mark);
    if (!clipped) /* nothing clipped: linear light alone */
        out->channels = 1;
    return out;
}

/* Every start's kernel of the luminance window lum (h: p->starts kernels
 * one after the other) and its score (lower is better; 0 for a single
 * start), on omp_get_max_threads() threads. A failure of any start
 * (interrupted, out of memory) is the run's: the caller asked for all. */
static deconv_status run_starts(const deconv_image *lum, const deconv_blind_params *p, float *h,
                                double *score, deconv_error *err)
{
    const int threads = omp_get_max_threads(), starts = p->starts > 1 ? p->starts : 1;
    const int nk = p->kernel_width * p->kernel_height;
    const double tv = p->tv > 0 ? p->tv : DEFAULT_TV;
    const double pieces = p->piece_fraction > 0 ? p->piece_fraction : DEFAULT_PIECE_FRACTION;
    deconv_status status = DECONV_OK;
    fork_point fork = {0};
    fork.stage = -1;
    deconv_error *errs = calloc(starts, sizeof(deconv_error));
    deconv_status *st = calloc(starts, sizeof(deconv_status));
    if (!errs || !st) {
        free(errs), free(st);
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
    }
    if (starts == 1) {
        st[0] = estimate(lum, p, tv, pieces, 1, NULL, NULL, h, &errs[0]);
        score[0] = 0;
    } else {
        /* Starts 0 to 2 run side by side, the threads shared out between
         * them (each start's result does not depend on its thread count).
         * With fewer threads than starts, each start has one thread and
         * all run at once, the system sharing the cores between them: a
         * start with a single thread never waits at a barrier, and the
         * last of the starts does not run alone on one core while the
         * others idle. One thread asked for is one thread: the starts then
         * run one after the other. Start 3 follows, on all the threads,
         * from where it parts from start 0. */
        const int side = starts < 3 ? starts : 3;
        int outer = threads > 1 ? side : 1;
        int inner = threads / side > 1 ? threads / side : 1;
        fork.pieces = pieces * FORK_PIECE_FACTOR;
        /* OpenMP's dynamic adjustment (the command line's default) sizes
         * a team by the load average, which our own previous run raises:
         * it would run the starts one after the other. Within a start it
         * applies again. */
        const int dynamic = omp_get_dynamic();
        omp_set_dynamic(0);
#pragma omp parallel for num_threads(outer) schedule(dynamic, 1)
        for (int s = 0; s < side; s++) {
            omp_set_dynamic(dynamic);
            omp_set_num_threads(inner);
            st[s] = estimate(lum, p, tv * start_tv_factor[s], pieces, s == 0,
                             s == 0 && starts > 3 ? &fork : NULL, NULL, h + (size_t)s * nk,
                             &errs[s]);
            score[s] = st[s] == DECONV_OK ? start_score(lum, h + (size_t)s * nk,
                                                        p->kernel_width, p->kernel_height)
                                          : INFINITY;
        }
        omp_set_dynamic(dynamic);
        if (starts > 3) {
            float *h3 = h + (size_t)3 * nk;
            if (st[0] == DECONV_OK && fork.stage >= 0) {
                st[3] = estimate(lum, p, tv, fork.pieces, 0, NULL, &fork, h3, &errs[3]);
                score[3] = st[3] == DECONV_OK
                               ? start_score(lum, h3, p->kernel_width, p->kernel_height)
                               : INFINITY;
            } else {
                /* never parted: start 3's kernel is start 0's */
                memcpy(h3, h, sizeof(float) * nk);
                st[3] = st[0], errs[3] = errs[0], score[3] = score[0];
            }
        }
    }
    for (int s = 0; s < starts && status == DECONV_OK; s++)
        if (st[s] != DECONV_OK) {
            status = st[s];
            if (err)
                *err = errs[s];
        }
    level_free(&fork.state);
    free(errs), free(st);
    return status;
}

/* For the tests (tests/test_blind.c declares it; not part of the API):
 * every start's kernel and score for the luminance image lum, as
 * deconv_blind_kernel computes them (h: p->starts kernels of the kernel
 * size). Returns 0 on success. */
int deconv_blind_test_starts(const deconv_image *lum, const deconv_blind_params *p, float *h,
                             double *score);
int deconv_blind_test_starts(const deconv_image *lum, const deconv_blind_params *p, float *h,
                             double *score)
{
    deconv_error err;
    if (check_params(lum, p, &err) != DECONV_OK || lum->channels != 1)
        return -1;
    int saved_threads = omp_get_max_threads();
    if (p->threads > 0)
        omp_set_num_threads(p->threads);
    deconv_status st = run_starts(lum, p, h, score, &err);
    omp_set_num_threads(saved_threads);
    return st == DECONV_OK ? 0 : -1;
}

deconv_kernel *deconv_blind_kernel(const deconv_image *y, const deconv_blind_params *p,
                                   deconv_error *err)
{
    if (check_params(y, p, err) != DECONV_OK)
        return NULL;
    int saved_threads = omp_get_max_threads();
    if (p->threads > 0)
        omp_set_num_threads(p->threads);
    const int starts = p->starts > 1 ? p->starts : 1;
    const int nk = p->kernel_width * p->kernel_height;

    deconv_kernel *result = NULL;
    deconv_image *lum = deconv_image_luminance(y);
    if (lum) {
        int left, top, w, ht;
        choose_window(lum, p, &left, &top, &w, &ht);
        deconv_image *win = NULL;
        if (!deconv_response_is_linear(&p->response))
            win = camera_input(y, lum, left, top, w, ht, &p->response);
        else if (w != lum->width || ht != lum->height) {
            win = deconv_image_new(w, ht, 1);
            if (win)
                deconv_crop(lum->data, lum->width, top, left, w, ht, win->data);
        } else
            win = lum, lum = NULL;
        deconv_image_free(lum);
        lum = win;
    }
    float *h = malloc(sizeof(float) * nk * starts);
    double *score = malloc(sizeof(double) * starts);
    if (!lum || !h || !score) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (run_starts(lum, p, h, score, err) != DECONV_OK)
        goto done;
    int best = 0;
    for (int s = 1; s < starts; s++)
        if (score[s] < score[best])
            best = s;
    result = deconv_kernel_new(p->kernel_width, p->kernel_height);
    if (!result) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(result->data, h + (size_t)best * nk, sizeof(float) * nk);
done:
    deconv_image_free(lum);
    free(h), free(score);
    omp_set_num_threads(saved_threads);
    return result;
}
