/* The blind estimate's kernel step (blind.c):
 *   E(h) = 1/2 sum_{d = col, row} ||h * P_d - D_d y||^2 + gamma/2 ||h||^2
 *          + mu/2 ||grad h||^2,
 * h >= 0, then sum h = 1, on the selected edges P_d of x, by accelerated
 * projected gradient (FISTA). The normal operator P^T P is applied
 * through the autocorrelation of P over the kernel's shifts (the boundary
 * terms of the valid window neglected), computed once per step by FFT,
 * so each kernel iteration costs a kernel-sized correlation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blind_internal.h"

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
 * autocorrelation with each row reversed (acr: ac as blind_kernel_setup leaves
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

/* From this many kernel taps on, the normal operator is applied by FFT
 * (kernel_normal.c). bench/kernel_normal, one thread, the direct sums' time
 * over the FFT's: 1.0 at 15 x 15, 2.1 at 19 x 19, 4 to 7 from 23 to 31
 * (docs/benchmarks.md, "Long kernels"). */
enum { KERNEL_FFT_MIN_TAPS = 19 * 19 };

/* Below this estimated noise the kernel step is not smoothed. At low noise
 * Donoho's estimate of an 8-bit photo moves in steps of 0.0029 (the median
 * coefficient half a level, over 0.6745): Levin's images and photos with
 * no noise but their rounding read 0.0029 or 0, and keep their kernels. */
static const double SMOOTH_NOISE_FLOOR = 0.004;

/* The smoothness falls as the window grows past this many pixels (256 x
 * 256): the edges selected (a number set by the kernel's size) are then
 * the strongest of more, and cleaner. On photos of 0.25 to 1 megapixel
 * the full weight cost up to 1.5 dB where the estimate was right. */
static const double SMOOTH_FULL_PIXELS = 65536;

double blind_kernel_smoothness(const deconv_blind_params *p, double sigma, double pixels)
{
    double excess = sigma * sigma - SMOOTH_NOISE_FLOOR * SMOOTH_NOISE_FLOOR;
    double size = pixels > SMOOTH_FULL_PIXELS ? SMOOTH_FULL_PIXELS / pixels : 1;
    return excess > 0 ? p->kernel_smooth * size * excess / (0.01 * 0.01) : 0;
}

/* out += mu D^T D v: the gradient of mu/2 ||grad v||^2, the differences
 * between neighbours within the kernel's support. */
static void add_smoothness(int kw, int kh, double mu, const double *v, double *out)
{
    for (int a = 0; a < kh; a++)
        for (int b = 0; b < kw; b++) {
            const double *c = v + (size_t)a * kw + b;
            double s = 0;
            if (b > 0)
                s += *c - c[-1];
            if (b < kw - 1)
                s += *c - c[1];
            if (a > 0)
                s += *c - c[-kw];
            if (a < kh - 1)
                s += *c - c[kw];
            out[(size_t)a * kw + b] += mu * s;
        }
}

/* (P^T P + gamma) v by FFT when blind_kernel_setup made it, else by the
 * direct sums for this processor. */
static void data_normal_apply(const level *l, double gamma, const double *v, double *out)
{
    if (l->kfft) {
        kernel_fft_apply(l->kfft, gamma, v, out);
        return;
    }
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

/* The Hessian of E: (P^T P + gamma + mu D^T D) v. */
static void normal_apply(const level *l, double gamma, const double *v, double *out)
{
    data_normal_apply(l, gamma, v, out);
    if (l->smooth > 0)
        add_smoothness(l->kw, l->kh, l->smooth, v, out);
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

/* E(h) - constant: 1/2 h^T (P^T P + gamma + mu D^T D) h - c^T h, with
 * scratch out. */
double blind_kernel_energy(const level *l, double gamma, const double *h, double *scratch)
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
double blind_kernel_setup(level *l)
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
    /* large kernels: the operator by FFT (the direct sums when out of
     * memory for it) */
    if (nk >= KERNEL_FFT_MIN_TAPS && (l->kfft || (l->kfft = kernel_fft_new(kw, kh))))
        kernel_fft_set(l->kfft, l->ac);
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

/* FISTA with the fixed step 1/L from l->h; the last iterate in l->hp.
 * Returns 0 when out of memory. */
static int fista_fixed(level *l, int iterations, double gamma, double L)
{
    int nk = l->kw * l->kh;
    double *hk = l->hp, *z = l->z, *g = l->g;
    double *hprev = malloc(nk * sizeof(double));
    if (!hprev)
        return 0;
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
    free(hprev);
    return 1;
}

/* FISTA with backtracking (Beck and Teboulle 2009): each step 1/L with L
 * from 1/step0 on, doubled until E(h) is below its quadratic model at z
 * (Armijo's condition for a projected step). E is quadratic, so A z =
 * (P^T P + gamma) z follows from A h of the last two iterates at no cost:
 * one normal_apply a trial. The last iterate in l->hp; 0 when out of
 * memory. */
static int fista_backtracking(level *l, int iterations, double gamma, double step0)
{
    int nk = l->kw * l->kh;
    double *hk = l->hp, *z = l->z, *g = l->g;
    double *buf = malloc(4 * (size_t)nk * sizeof(double));
    if (!buf)
        return 0;
    double *hprev = buf, *Ah = buf + nk, *Ahprev = buf + 2 * nk, *Az = buf + 3 * nk;
    for (int t = 0; t < nk; t++)
        hk[t] = z[t] = hprev[t] = l->h[t];
    normal_apply(l, gamma, z, Az);
    memcpy(Ah, Az, nk * sizeof(double));
    double L = 1.0 / step0, theta = 1;
    for (int it = 0; it < iterations; it++) {
        double Ez = 0;
        for (int t = 0; t < nk; t++) {
            g[t] = Az[t] - l->c[t];
            Ez += 0.5 * z[t] * Az[t] - l->c[t] * z[t];
        }
        memcpy(hprev, hk, nk * sizeof(double));
        memcpy(Ahprev, Ah, nk * sizeof(double));
        for (int trial = 0; trial < 64; trial++, L *= 2) {
            double model = Ez, Eh = 0;
            for (int t = 0; t < nk; t++) {
                double v = z[t] - g[t] / L;
                hk[t] = v > 0 ? v : 0;
                double d = hk[t] - z[t];
                model += g[t] * d + 0.5 * L * d * d;
            }
            normal_apply(l, gamma, hk, Ah);
            for (int t = 0; t < nk; t++)
                Eh += 0.5 * hk[t] * Ah[t] - l->c[t] * hk[t];
            if (Eh <= model + 1e-12 * fabs(Ez))
                break;
        }
        double theta_next = 0.5 * (1 + sqrt(1 + 4 * theta * theta));
        double beta = (theta - 1) / theta_next;
        theta = theta_next;
        for (int t = 0; t < nk; t++) {
            z[t] = hk[t] + beta * (hk[t] - hprev[t]);
            Az[t] = Ah[t] + beta * (Ah[t] - Ahprev[t]);
        }
    }
    free(buf);
    return 1;
}

/* Projected gradient with the exact step: from h, the direction to
 * P+(h - step g), and along it the minimum of the quadratic E on the
 * segment (which stays feasible). Monotone, no momentum. The last iterate
 * in l->hp; 0 when out of memory. */
static int projected_exact(level *l, int iterations, double gamma, double step)
{
    int nk = l->kw * l->kh;
    double *hk = l->hp, *d = l->z, *g = l->g;
    double *buf = malloc(2 * (size_t)nk * sizeof(double));
    if (!buf)
        return 0;
    double *Ah = buf, *Ad = buf + nk;
    for (int t = 0; t < nk; t++)
        hk[t] = l->h[t];
    normal_apply(l, gamma, hk, Ah);
    for (int it = 0; it < iterations; it++) {
        for (int t = 0; t < nk; t++) {
            g[t] = Ah[t] - l->c[t];
            double v = hk[t] - step * g[t];
            d[t] = (v > 0 ? v : 0) - hk[t];
        }
        normal_apply(l, gamma, d, Ad);
        double gd = 0, dAd = 0;
        for (int t = 0; t < nk; t++)
            gd += g[t] * d[t], dAd += d[t] * Ad[t];
        if (!(gd < 0 && dAd > 0))
            break; /* at the minimum */
        double tmin = -gd / dAd > 1 ? 1 : -gd / dAd;
        for (int t = 0; t < nk; t++) {
            hk[t] += tmin * d[t];
            Ah[t] += tmin * Ad[t];
            hk[t] = hk[t] > 0 ? hk[t] : 0; /* rounding */
        }
    }
    free(buf);
    return 1;
}

/* Kernel steps for the selected edges P, warm started from l->h, then the
 * kernel normalised to sum 1 (blind_internal.h says what the rules do). */
deconv_status blind_kernel_steps(level *l, int iterations, double gamma, deconv_step_rule rule,
                                 double step, deconv_error *err)
{
    const int nk = l->kw * l->kh;
    /* the normal operator's diagonal: the selected edges' energy (and the
     * smoothness's, 4 mu inside the support) */
    const double diag =
        l->ac[(size_t)(l->kh - 1) * (2 * l->kw - 1) + l->kw - 1] + gamma + 4 * l->smooth;
    int ok = 1;
    if (rule == DECONV_STEP_NONE && !(step > 0)) {
        double L = kernel_lipschitz(l, gamma);
        if (!(L > 0))
            return DECONV_OK;
        ok = fista_fixed(l, iterations, gamma, L);
    } else {
        if (!(diag > 0))
            return DECONV_OK; /* no edge selected: nothing to fit */
        double h0_energy = 0;
        if (rule == DECONV_STEP_NONE) {
            for (int t = 0; t < nk; t++)
                l->hp[t] = l->h[t];
            h0_energy = blind_kernel_energy(l, gamma, l->hp, l->z);
        }
        double first = (step > 0 ? step : 1.0) / diag;
        ok = rule == DECONV_STEP_NONE     ? fista_fixed(l, iterations, gamma, 1.0 / first)
             : rule == DECONV_STEP_ARMIJO ? fista_backtracking(l, iterations, gamma, first)
                                          : projected_exact(l, iterations, gamma, first);
        if (ok && rule == DECONV_STEP_NONE) {
            double e = blind_kernel_energy(l, gamma, l->hp, l->z);
            if (!(e <= h0_energy + 1e-6 * fabs(h0_energy))) {
                double safe = diag / kernel_lipschitz(l, gamma);
                return deconv_fail(err, DECONV_ERR_DIVERGED,
                                   "the kernel step diverged (its objective rose from %.6g to "
                                   "%.6g): kernel step %g is too large for these edges; steps "
                                   "up to %.3g are safe",
                                   h0_energy, e, step, safe);
            }
        }
    }
    if (!ok)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory in the kernel step");
    for (int t = 0; t < nk; t++)
        l->h[t] = (float)l->hp[t];
    blind_project_kernel(l->h, l->kw, l->kh);
    return DECONV_OK;
}

/* For the tests (tests/test_blind.c declares it; not part of the API): one
 * kernel step of the loop on a given x (xw x xh) and y (N x M): edge
 * selection keeping `count` gradients per orientation (count <= 0: every
 * gradient), then `iterations` kernel iterations with the rule and step
 * of deconv_blind_params (kernel_rule, kernel_step) on E(h), its weights
 * gamma and mu (smooth) absolute, from h (kw x kh, updated and
 * normalised). *e0 and *e1 receive E(h) - E(0) before the step and after
 * the iterations (before the final normalisation). Returns
 * 0 on success, 1 when the step diverged (message in err), -1 when out of
 * memory. */
int deconv_blind_test_kernel_rule(const float *x, const float *y, int N, int M, float *h,
                                  int kw, int kh, double count, int iterations, double gamma,
                                  double smooth, deconv_step_rule rule, double step, double *e0,
                                  double *e1, deconv_error *err);
int deconv_blind_test_kernel_rule(const float *x, const float *y, int N, int M, float *h,
                                  int kw, int kh, double count, int iterations, double gamma,
                                  double smooth, deconv_step_rule rule, double step, double *e0,
                                  double *e1, deconv_error *err)
{
    level l;
    if (!blind_level_alloc(&l, N, M, kw, kh))
        return -1;
    memcpy(l.x, x, (size_t)l.xw * l.xh * sizeof(float));
    memcpy(l.y, y, (size_t)N * M * sizeof(float));
    memcpy(l.h, h, (size_t)kw * kh * sizeof(float));
    blind_differences(l.y, N, M, l.dy_c, l.dy_r);
    blind_select_edges(&l, count > 0 ? count : 1e30);
    blind_kernel_setup(&l);
    l.smooth = smooth;
    int nk = kw * kh;
    double *hd = malloc(2 * nk * sizeof(double));
    if (!hd) {
        blind_level_free(&l);
        return -1;
    }
    for (int t = 0; t < nk; t++)
        hd[t] = h[t];
    *e0 = blind_kernel_energy(&l, gamma, hd, hd + nk);
    deconv_status st = blind_kernel_steps(&l, iterations, gamma, rule, step, err);
    int rc = st == DECONV_OK ? 0 : st == DECONV_ERR_DIVERGED ? 1 : -1;
    if (rc == 0) {
        *e1 = blind_kernel_energy(&l, gamma, l.hp, hd + nk);
        memcpy(h, l.h, (size_t)nk * sizeof(float));
    }
    free(hd);
    blind_level_free(&l);
    return rc;
}

int deconv_blind_test_kernel_step(const float *x, const float *y, int N, int M, float *h,
                                  int kw, int kh, double count, int iterations, double gamma,
                                  double *e0, double *e1);
int deconv_blind_test_kernel_step(const float *x, const float *y, int N, int M, float *h,
                                  int kw, int kh, double count, int iterations, double gamma,
                                  double *e0, double *e1)
{
    return deconv_blind_test_kernel_rule(x, y, N, M, h, kw, kh, count, iterations, gamma, 0,
                                         DECONV_STEP_NONE, 0, e0, e1, NULL);
}

/* For the tests (not part of the API): out = mu D^T D v on a kw x kh
 * kernel, the gradient of the kernel step's smoothness. */
void deconv_blind_test_smoothness(int kw, int kh, double mu, const double *v, double *out);
void deconv_blind_test_smoothness(int kw, int kh, double mu, const double *v, double *out)
{
    memset(out, 0, (size_t)kw * kh * sizeof(double));
    add_smoothness(kw, kh, mu, v, out);
}

/* For the tests and bench/kernel_normal (not part of the API): the normal
 * operator of the autocorrelation acr (rows reversed, as blind_kernel_setup
 * leaves it) applied `reps` times to v, by the direct sums (fft 0) or by
 * FFT (fft 1, its plans and spectrum made once). Returns 0 on success. */
int deconv_blind_test_normal(int kw, int kh, const double *acr, double gamma, const double *v,
                             double *out, int fft, int reps);
int deconv_blind_test_normal(int kw, int kh, const double *acr, double gamma, const double *v,
                             double *out, int fft, int reps)
{
    level l;
    memset(&l, 0, sizeof l);
    l.kw = kw, l.kh = kh;
    l.ac = (double *)acr;
    if (fft) {
        if (!(l.kfft = kernel_fft_new(kw, kh)))
            return -1;
        kernel_fft_set(l.kfft, acr);
    }
    for (int r = 0; r < reps; r++)
        normal_apply(&l, gamma, v, out);
    kernel_fft_free(l.kfft);
    return 0;
}
