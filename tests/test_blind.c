/* Blind estimation (blind.c): the kernel projection, the kernel step
 * decreasing its objective, and an end-to-end estimate of a known motion
 * blur on a real photo. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "deconv.h"

/* blind.c's test hooks (not part of the public API). */
int deconv_blind_test_starts(const deconv_image *lum, const deconv_blind_params *p, float *h,
                             double *score);
int deconv_blind_test_normal(int kw, int kh, const double *acr, double gamma, const double *v,
                             double *out, int fft, int reps);
int deconv_blind_test_kernel_step(const float *x, const float *y, int N, int M, float *h,
                                  int kw, int kh, double count, int iterations, double gamma,
                                  double *e0, double *e1);
int deconv_blind_test_kernel_rule(const float *x, const float *y, int N, int M, float *h,
                                  int kw, int kh, double count, int iterations, double gamma,
                                  double smooth, deconv_step_rule rule, double step, double *e0,
                                  double *e1, deconv_error *err);
void deconv_blind_test_smoothness(int kw, int kh, double mu, const double *v, double *out);
deconv_image *deconv_blind_test_camera_input(const deconv_image *y, const deconv_response *resp);
int deconv_blind_test_dilate(const unsigned char *in, int iw, int ih, unsigned char *out, int w,
                             int h, int oi, int oj, int dh, int dw);

#include <omp.h>

#include "sparse_prior.h" /* internal: the L0 step, the FFT normal equations */

static unsigned long long seed = 4242;

static double gauss(void)
{
    double s = 0;
    for (int i = 0; i < 12; i++)
        s += check_rand(&seed);
    return s - 6.0;
}

/* Gaussian noise of deviation sigma (twelve uniforms from *s) added to
 * v's n samples, then each clamped to [0, 1] and rounded to 8 bits, as a
 * camera's file stores them. */
static void add_noise_8bit(float *v, size_t n, double sigma, unsigned long long *s)
{
    for (size_t i = 0; i < n; i++) {
        double g = -6.0;
        for (int t = 0; t < 12; t++)
            g += check_rand(s);
        double u = v[i] + sigma * g;
        v[i] = (float)(round((u < 0 ? 0 : (u > 1 ? 1 : u)) * 255) / 255);
    }
}

/* A kernel size chosen by deconv holds the true kw x kh kernel and is at
 * most about twice its side: within [side, 2 side + 5]. */
static int size_holds(int w, int h, int kw, int kh)
{
    const int side = kw > kh ? kw : kh;
    return w >= side && h >= side && w <= 2 * side + 5 && h <= 2 * side + 5;
}

/* Normalised cross-correlation of two kernels of the same size at the best
 * shift within +-3 pixels (zero outside). */
static double kernel_ncc(const float *a, const float *b, int w, int h)
{
    double na = 0, nb = 0, best = -1;
    for (int i = 0; i < w * h; i++)
        na += (double)a[i] * a[i], nb += (double)b[i] * b[i];
    for (int dy = -3; dy <= 3; dy++)
        for (int dx = -3; dx <= 3; dx++) {
            double s = 0;
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) {
                    int si = i + dy, sj = j + dx;
                    if (si >= 0 && si < h && sj >= 0 && sj < w)
                        s += (double)a[si * w + sj] * b[i * w + j];
                }
            s /= sqrt(na * nb);
            best = s > best ? s : best;
        }
    return best;
}

static void test_projection(void)
{
    float v[9] = {-1, 2, 0, 1, -3, 1, 0, 0, 0};
    deconv_kernel k = {3, 3, v};
    deconv_kernel_project(&k);
    double sum = 0;
    int neg = 0;
    for (int t = 0; t < 9; t++)
        sum += v[t], neg += v[t] < 0;
    CHECK(neg == 0, "projection left %d negative entries", neg);
    CHECK(fabs(sum - 1) < 1e-6, "projected kernel sums to %g", sum);
    CHECK(fabs(v[1] - 0.5f) < 1e-6 && fabs(v[3] - 0.25f) < 1e-6 && v[0] == 0,
          "projection is clip then normalise: %g %g %g", v[0], v[1], v[3]);
    float z[9] = {-1, -2, 0, 0, -1, 0, 0, 0, -5};
    deconv_kernel kz = {3, 3, z};
    deconv_kernel_project(&kz);
    CHECK(z[4] == 1.0f && z[0] == 0 && z[8] == 0, "an all non-positive kernel becomes a delta");
}

/* The kernel step decreases E(h) on a random image blurred by a random
 * kernel; with every gradient kept and no noise it recovers the kernel. */
static void test_kernel_step(void)
{
    const int N = 60, M = 50, kw = 7, kh = 5;
    const int xw = N + kw - 1, xh = M + kh - 1;
    float *x = malloc(sizeof(float) * xw * xh), *y = malloc(sizeof(float) * N * M);
    float ht[35], h[35];
    /* a piecewise-constant random image: sparse gradients, like a photo */
    for (int i = 0; i < xh; i++)
        for (int j = 0; j < xw; j++)
            x[i * xw + j] = (float)(((i / 6) * 7 + (j / 5) * 3) % 11) / 10.0f +
                            0.05f * (float)check_rand(&seed);
    double s = 0;
    for (int t = 0; t < kw * kh; t++)
        ht[t] = check_rand(&seed) < 0.4 ? (float)check_rand(&seed) : 0.0f, s += ht[t];
    for (int t = 0; t < kw * kh; t++)
        ht[t] = (float)(ht[t] / s);
    deconv_conv_valid(x, xw, xh, ht, kw, kh, y);

    int its[] = {1, 5, 30, 300};
    for (size_t k = 0; k < sizeof its / sizeof its[0]; k++) {
        for (int t = 0; t < kw * kh; t++)
            h[t] = 1.0f / (kw * kh);
        double e0 = 0, e1 = 0;
        int rc = deconv_blind_test_kernel_step(x, y, N, M, h, kw, kh, 0, its[k], 0.0, &e0, &e1);
        CHECK(rc == 0, "kernel step failed");
        CHECK(e1 < e0, "%d kernel iterations: E went from %g to %g", its[k], e0, e1);
        double sum = 0;
        int neg = 0;
        for (int t = 0; t < kw * kh; t++)
            sum += h[t], neg += h[t] < 0;
        CHECK(neg == 0 && fabs(sum - 1) < 1e-5, "kernel left the simplex: sum %g", sum);
        if (its[k] == 300) {
            double ncc = kernel_ncc(h, ht, kw, kh);
            CHECK(ncc > 0.97, "exact data, all gradients: kernel NCC %g", ncc);
        }
    }
    /* the regularised step and the edge selection decrease E too */
    for (int t = 0; t < kw * kh; t++)
        h[t] = 1.0f / (kw * kh);
    double e0 = 0, e1 = 0;
    deconv_blind_test_kernel_step(x, y, N, M, h, kw, kh, 20, 10, 5.0, &e0, &e1);
    CHECK(e1 < e0, "with gamma and edge selection: E went from %g to %g", e0, e1);
    free(x);
    free(y);
}

/* mu/2 ||grad h||^2 over the kernel's support, summed plainly. */
static double plain_smoothness(const double *v, int kw, int kh, double mu)
{
    double s = 0;
    for (int a = 0; a < kh; a++)
        for (int b = 0; b < kw; b++) {
            if (b + 1 < kw)
                s += (v[a * kw + b + 1] - v[a * kw + b]) * (v[a * kw + b + 1] - v[a * kw + b]);
            if (a + 1 < kh)
                s += (v[(a + 1) * kw + b] - v[a * kw + b]) * (v[(a + 1) * kw + b] - v[a * kw + b]);
        }
    return 0.5 * mu * s;
}

/* The kernel step's smoothness term: its gradient mu D^T D v is that of
 * the plain sum (central differences, exact for a quadratic up to
 * rounding), and D^T D is self-adjoint, on random sizes from 1 x 1. */
static void test_kernel_smoothness(void)
{
    for (int trial = 0; trial < 200; trial++) {
        int kw = 1 + (int)(check_rand(&seed) * 12), kh = 1 + (int)(check_rand(&seed) * 12);
        int nk = kw * kh;
        double mu = 0.1 + 10 * check_rand(&seed);
        double *u = malloc(4 * nk * sizeof(double)), *v = u + nk, *gu = v + nk, *gv = gu + nk;
        for (int t = 0; t < nk; t++)
            u[t] = check_rand(&seed) - 0.5, v[t] = check_rand(&seed);
        deconv_blind_test_smoothness(kw, kh, mu, u, gu);
        deconv_blind_test_smoothness(kw, kh, mu, v, gv);
        double worst = 0, scale = 0;
        for (int t = 0; t < nk; t++) {
            const double d = 1e-3, keep = u[t];
            u[t] = keep + d;
            double fp = plain_smoothness(u, kw, kh, mu);
            u[t] = keep - d;
            double fm = plain_smoothness(u, kw, kh, mu);
            u[t] = keep;
            double fd = (fp - fm) / (2 * d);
            if (fabs(fd - gu[t]) > worst)
                worst = fabs(fd - gu[t]);
            if (fabs(gu[t]) > scale)
                scale = fabs(gu[t]);
        }
        CHECK(worst <= 1e-8 * (1 + scale), "%dx%d: gradient off its finite difference by %g", kw,
              kh, worst);
        double uv = 0, vu = 0, uu = 0;
        for (int t = 0; t < nk; t++)
            uv += gu[t] * v[t], vu += u[t] * gv[t], uu += gu[t] * u[t];
        CHECK(fabs(uv - vu) <= 1e-12 * (1 + fabs(uv)), "%dx%d: <Au,v> %.17g, <u,Av> %.17g", kw,
              kh, uv, vu);
        /* <A u, u> = 2 x the plain sum */
        double twice = 2 * plain_smoothness(u, kw, kh, mu);
        CHECK(fabs(uu - twice) <= 1e-12 * (1 + twice), "%dx%d: <Au,u> %.17g, plain %.17g", kw, kh,
              uu, twice);
        free(u);
    }
}

/* The kernel step's rules (deconv_blind_params.kernel_rule, kernel_step):
 * each decreases E from a flat start, all reach the same minimum, with and
 * without the smoothness term (which leaves the kernel smoother), and a
 * fixed step far past the safe one is reported as a divergence that names
 * the safe step, while a small fixed step converges. */
static void test_kernel_rules(void)
{
    const int N = 48, M = 40, kw = 5, kh = 7;
    const int xw = N + kw - 1, xh = M + kh - 1;
    float *x = malloc(sizeof(float) * xw * xh), *y = malloc(sizeof(float) * N * M);
    float ht[35], h[35];
    for (int i = 0; i < xh; i++)
        for (int j = 0; j < xw; j++)
            x[i * xw + j] = (float)(((i / 4) * 5 + (j / 7) * 3) % 9) / 8.0f +
                            0.03f * (float)check_rand(&seed);
    double s = 0;
    for (int t = 0; t < kw * kh; t++)
        ht[t] = check_rand(&seed) < 0.5 ? (float)check_rand(&seed) : 0.0f, s += ht[t];
    for (int t = 0; t < kw * kh; t++)
        ht[t] = (float)(ht[t] / s);
    deconv_conv_valid(x, xw, xh, ht, kw, kh, y);
    const struct {
        deconv_step_rule rule;
        double step;
        const char *name;
    } rules[] = {{DECONV_STEP_NONE, 0, "none, safe step"},
                 {DECONV_STEP_NONE, 0.02, "none, step 0.02"},
                 {DECONV_STEP_ARMIJO, 0, "armijo"},
                 {DECONV_STEP_ARMIJO, 20, "armijo from 20"},
                 {DECONV_STEP_EXACT, 0, "exact"}};
    const int nr = (int)(sizeof rules / sizeof rules[0]);
    double emin[5], roughness[2];
    float hmin[5][35];
    /* mu: none, then a tenth of the energy of x's gradients (every one is
     * kept: the data's Hessian's diagonal), twice x's plain smoothness */
    double *xd = malloc(sizeof(double) * xw * xh);
    for (int t = 0; t < xw * xh; t++)
        xd[t] = x[t];
    const double smooths[2] = {0, 0.1 * 2 * plain_smoothness(xd, xw, xh, 1.0)};
    free(xd);
    for (int si = 0; si < 2; si++) {
        for (int r = 0; r < nr; r++) {
            for (int its = 1; its <= 1000; its *= 1000) {
                for (int t = 0; t < kw * kh; t++)
                    h[t] = 1.0f / (kw * kh);
                double e0 = 0, e1 = 0;
                deconv_error err = {DECONV_OK, ""};
                int rc = deconv_blind_test_kernel_rule(x, y, N, M, h, kw, kh, 0, its, 0.0,
                                                       smooths[si], rules[r].rule, rules[r].step,
                                                       &e0, &e1, &err);
                CHECK(rc == 0, "%s, mu %g, %d iterations: failed (%s)", rules[r].name,
                      smooths[si], its, err.message);
                CHECK(e1 < e0, "%s, mu %g, %d iterations: E went from %g to %g", rules[r].name,
                      smooths[si], its, e0, e1);
                emin[r] = e1;
                memcpy(hmin[r], h, sizeof h);
            }
        }
        for (int r = 1; r < nr; r++) {
            CHECK(fabs(emin[r] - emin[0]) <= 1e-4 * fabs(emin[0]),
                  "%s, mu %g: ends at E %.9g, the safe step at %.9g", rules[r].name, smooths[si],
                  emin[r], emin[0]);
            double ncc = kernel_ncc(hmin[r], hmin[0], kw, kh);
            CHECK(ncc > 0.999, "%s, mu %g: kernel NCC %g with the safe step's", rules[r].name,
                  smooths[si], ncc);
        }
        double hd[35];
        for (int t = 0; t < kw * kh; t++)
            hd[t] = hmin[0][t];
        roughness[si] = plain_smoothness(hd, kw, kh, 1.0);
        if (si == 0) {
            double ncc = kernel_ncc(hmin[0], ht, kw, kh);
            CHECK(ncc > 0.97, "exact data: kernel NCC %g", ncc);
        }
    }
    CHECK(roughness[1] < 0.9 * roughness[0], "smoothed kernel's ||grad h||^2 %g, unsmoothed %g",
          roughness[1], roughness[0]);
    /* far too large a fixed step: reported, with the safe step named */
    for (int t = 0; t < kw * kh; t++)
        h[t] = 1.0f / (kw * kh);
    double e0 = 0, e1 = 0;
    deconv_error err = {DECONV_OK, ""};
    int rc = deconv_blind_test_kernel_rule(x, y, N, M, h, kw, kh, 0, 30, 0.0, 0.0,
                                           DECONV_STEP_NONE, 100.0, &e0, &e1, &err);
    CHECK(rc == 1 && err.code == DECONV_ERR_DIVERGED && strstr(err.message, "are safe"),
          "step 100: rc %d, '%s'", rc, err.message);
    free(x);
    free(y);
}

/* kernel_ncc of an estimate against the true kernel k centred in the
 * estimate's support, which must hold it (-1 when it does not). */
static double centred_ncc(const deconv_kernel *est, const deconv_kernel *k)
{
    const int w = est->width, h = est->height, kw = k->width, kh = k->height;
    if (w < kw || h < kh)
        return -1;
    float *ht = calloc((size_t)w * h, sizeof(float));
    if (!ht)
        return -1;
    for (int a = 0; a < kh; a++)
        for (int b = 0; b < kw; b++)
            ht[(a + (h - kh) / 2) * w + b + (w - kw) / 2] = k->data[a * kw + b];
    double ncc = kernel_ncc(est->data, ht, w, h);
    free(ht);
    return ncc;
}

/* A crop of camera.png blurred by a known motion kernel plus noise. */
/* y (N x M) = h * x (valid), x the (N+kw-1) x (M+kh-1) window of the
 * photo im at (top, left), its first flat_cols columns replaced by a flat
 * grey. */
static deconv_image *blurred_window(const deconv_image *im, const deconv_kernel *k, int N, int M,
                                    int top, int left, int flat_cols)
{
    const int xw = N + k->width - 1, xh = M + k->height - 1;
    float *x = malloc(sizeof(float) * xw * xh);
    deconv_image *y = deconv_image_new(N, M, 1);
    if (x && y) {
        for (int i = 0; i < xh; i++)
            for (int j = 0; j < xw; j++)
                x[i * xw + j] = j < flat_cols ? 0.3f
                                              : im->data[(size_t)(top + i) * im->width + left + j];
        deconv_conv_valid(x, xw, xh, k->data, k->width, k->height, y->data);
    }
    free(x);
    return y;
}

/* Blind parameters for the small tests: a 9x9 kernel, short runs. */
static void short_blind_params(deconv_blind_params *p)
{
    deconv_blind_defaults(p);
    p->kernel_width = p->kernel_height = 9;
    p->iterations = 10, p->refine = 3;
}

static void test_end_to_end(void)
{
    deconv_error err;
    deconv_image *im = deconv_image_read(DECONV_TEST_DATA "/camera.png", 0, NULL, &err);
    CHECK(im != NULL, "reading camera.png: %s", err.message);
    if (!im)
        return;
    deconv_kernel *k = deconv_kernel_motion(11, 30, &err);
    CHECK(k != NULL, "motion kernel: %s", err.message);
    if (!k) {
        deconv_image_free(im);
        return;
    }
    const int N = 200, M = 200, kw = k->width, kh = k->height;
    deconv_image *y = blurred_window(im, k, N, M, 100, 150, 0);
    for (int i = 0; i < N * M; i++)
        y->data[i] += (float)(0.002 * gauss());

    deconv_blind_params p;
    deconv_blind_defaults(&p);
    p.kernel_width = kw + 4, p.kernel_height = kh + 4;
    p.refine_lambda = 0;
    CHECK(deconv_blind_kernel(y, &p, &err) == NULL && err.code == DECONV_ERR_ARG,
          "a refinement without an L0 weight is rejected");
    deconv_blind_defaults(&p);
    p.kernel_width = kw + 4, p.kernel_height = kh + 4;
    deconv_kernel *est = deconv_blind_kernel(y, &p, &err);
    CHECK(est != NULL, "blind estimate failed: %s", err.message);
    if (est) {
        /* the true kernel in the middle of the estimate's larger support */
        double ncc = centred_ncc(est, k);
        printf("end to end: kernel NCC %.3f\n", ncc);
        if (getenv("TEST_BLIND_SAVE"))
            deconv_kernel_save(est, getenv("TEST_BLIND_SAVE"), &err);
        CHECK(ncc > 0.8, "motion 11 px at 30 degrees: kernel NCC %g", ncc);
        double sum = 0;
        int neg = 0;
        for (int t = 0; t < p.kernel_width * p.kernel_height; t++)
            sum += est->data[t], neg += est->data[t] < 0;
        CHECK(neg == 0 && fabs(sum - 1) < 1e-5, "estimate not normalised: sum %g", sum);
        deconv_kernel_free(est);
    }
    deconv_image_free(y);
    deconv_image_free(im);
    deconv_kernel_free(k);
}

/* No kernel size on a page of text as a camera makes it: ink on paper at
 * white (light exactly 1, nothing brighter), blurred in linear light,
 * clipped, encoded to sRGB, 0.5 % noise, 8 bits. Most of the page is
 * within the noise of white, so the estimate's clip mark covers it and
 * every letter lies within a kernel of it: the size must still hold the
 * kernel without being far larger (a probe that read the page as clipped
 * chose sizes three times the blur: docs/benchmarks.md), and the kernel
 * be nearly as good as with the true size. Its own seed. */
static void test_auto_size_page(void)
{
    unsigned long long page_seed = 777;
    deconv_error err;
    deconv_kernel *k = deconv_kernel_motion(19, 35, &err);
    CHECK(k != NULL, "motion kernel: %s", err.message);
    if (!k)
        return;
    enum { N = 360, M = 360 };
    const int kw = k->width, kh = k->height, xw = N + kw - 1, xh = M + kh - 1;
    float *x = malloc(sizeof(float) * xw * xh);
    deconv_image *y = deconv_image_new(N, M, 1);
    for (int i = 0; i < xw * xh; i++)
        x[i] = 1.0f;
    /* letters: strokes 2 pixels wide, 6 to 14 long, across, down or
     * slanted, at random places (lines of text at a fixed pitch would
     * make the page periodic, which no kernel size fixes) */
    for (int s = 0; s < 420; s++) {
        int i = 2 + (int)(check_rand(&page_seed) * (xh - 20));
        int j = 2 + (int)(check_rand(&page_seed) * (xw - 20));
        int len = 6 + (int)(check_rand(&page_seed) * 9), dir = s % 3;
        for (int t = 0; t < len; t++)
            for (int w = 0; w < 2; w++) {
                int a = i + (dir == 0 ? w : t), b = j + (dir == 0 ? t : dir == 1 ? w : t / 2 + w);
                x[a * xw + b] = 0.02f;
            }
    }
    deconv_response srgb;
    deconv_response_srgb(&srgb);
    deconv_conv_valid(x, xw, xh, k->data, kw, kh, y->data);
    for (int i = 0; i < N * M; i++)
        y->data[i] = fminf(y->data[i], 1.0f);
    deconv_response_encode(&srgb, y->data, y->data, (size_t)N * M);
    add_noise_8bit(y->data, (size_t)N * M, 0.005, &page_seed);
    deconv_blind_params p;
    deconv_blind_defaults(&p);
    p.kernel_width = p.kernel_height = 0;
    p.response = srgb;
    deconv_kernel *est = deconv_blind_kernel(y, &p, &err);
    CHECK(est != NULL, "blind estimate of the page without a size failed: %s", err.message);
    if (est) {
        int w = est->width, h = est->height;
        printf("auto size on a page at white: %dx%d for a %dx%d kernel\n", w, h, kw, kh);
        CHECK(size_holds(w, h, kw, kh), "page at white: size %dx%d chosen for a %dx%d kernel", w,
              h, kw, kh);
        if (w >= kw && h >= kh) {
            double ncc = centred_ncc(est, k);
            /* the same page with the true size given: the bar is what a
             * user who knew the size would get (0.60 here; the page's
             * strokes are harder than a photo's edges) */
            p.kernel_width = kw, p.kernel_height = kh;
            deconv_kernel *given = deconv_blind_kernel(y, &p, &err);
            double ncc_given = given ? kernel_ncc(given->data, k->data, kw, kh) : 0;
            printf("auto size on a page at white: kernel NCC %.3f (%.3f with the size given)\n",
                   ncc, ncc_given);
            CHECK(given && ncc > ncc_given - 0.1,
                  "page at white: kernel NCC %g with the size chosen, %g with it given", ncc,
                  ncc_given);
            deconv_kernel_free(given);
        }
        deconv_kernel_free(est);
    }
    free(x);
    deconv_image_free(y);
    deconv_kernel_free(k);
}

/* Declared by blind.c for the benches (not part of the API). */
int deconv_blind_test_choose_size(const deconv_image *y, const deconv_blind_params *p, int *kw,
                                  int *kh);

static int compare_floats(const void *a, const void *b)
{
    float u = *(const float *)a, v = *(const float *)b;
    return (u > v) - (u < v);
}

/* The size chosen for a bright photo: coffee.png in light, blurred by a
 * 15-pixel motion, exposed so that 15 % of the blurry frame is clipped in
 * its brightest channel, encoded to sRGB, 1 % noise, 8 bits. At the size
 * probe's quarter scale the clipped cup and its pale surroundings alias
 * into a kernel that fills the probe's support (79 chosen before the
 * finer probe confirmed large sizes); the size must hold the blur and be
 * at most about twice it. Its own seed. */
static void test_auto_size_bright(void)
{
    unsigned long long bright_seed = 4242;
    deconv_error err;
    deconv_image *im = deconv_image_read(DECONV_TEST_DATA "/coffee.png", 0, NULL, &err);
    deconv_kernel *k = deconv_kernel_motion(15, 20, &err);
    CHECK(im && k, "bright photo: %s", err.message);
    if (!im || !k) {
        deconv_image_free(im), deconv_kernel_free(k);
        return;
    }
    const int W = im->width, H = im->height, C = im->channels, kw = k->width, kh = k->height;
    const int N = W - kw + 1, M = H - kh + 1;
    deconv_response srgb;
    deconv_response_srgb(&srgb);
    deconv_image *y = deconv_image_new(N, M, C);
    float *light = malloc(sizeof(float) * W * H), *top = malloc(sizeof(float) * N * M);
    for (int c = 0; c < C; c++) {
        deconv_response_decode(&srgb, deconv_image_plane(im, c), light, (size_t)W * H);
        deconv_conv_valid(light, W, H, k->data, kw, kh, deconv_image_plane(y, c));
    }
    for (int i = 0; i < N * M; i++) { /* the brightest channel */
        top[i] = 0;
        for (int c = 0; c < C; c++)
            top[i] = fmaxf(top[i], deconv_image_plane(y, c)[i]);
    }
    qsort(top, (size_t)N * M, sizeof(float), compare_floats);
    const float gain = 1.0f / top[(int)(0.85 * N * M)];
    for (int c = 0; c < C; c++) {
        float *v = deconv_image_plane(y, c);
        for (int i = 0; i < N * M; i++)
            v[i] = fminf(v[i] * gain, 1.0f);
        deconv_response_encode(&srgb, v, v, (size_t)N * M);
        add_noise_8bit(v, (size_t)N * M, 0.01, &bright_seed);
    }
    deconv_blind_params p;
    deconv_blind_defaults(&p);
    p.kernel_width = p.kernel_height = 0;
    p.response = srgb;
    int w = 0, h = 0;
    CHECK(deconv_blind_test_choose_size(y, &p, &w, &h) == 0, "bright photo: no size chosen");
    printf("auto size on a bright photo: %dx%d for a %dx%d kernel\n", w, h, kw, kh);
    CHECK(size_holds(w, h, kw, kh), "bright photo: size %dx%d chosen for a %dx%d kernel", w, h,
          kw, kh);
    free(light), free(top);
    deconv_image_free(y), deconv_image_free(im);
    deconv_kernel_free(k);
}

/* The test photo and a motion kernel of the given length and angle; 0
 * (both freed, the failure recorded) when either cannot be made. */
static int camera_and_motion(int length, double angle, deconv_image **im, deconv_kernel **k)
{
    deconv_error err;
    *k = deconv_kernel_motion(length, angle, &err);
    *im = deconv_image_read(DECONV_TEST_DATA "/camera.png", 0, NULL, &err);
    CHECK(*k && *im, "inputs: %s", err.message);
    if (*k && *im)
        return 1;
    deconv_kernel_free(*k), deconv_image_free(*im);
    return 0;
}

/* Several starts: start s is exactly the single-start estimate with its
 * settings (TV weight tv x 1, 0.5, 1.5, 1 and piece fraction x 1, 1, 1,
 * 0.5; start 3 forked from start 0 where the two part), whatever the
 * number of threads the starts are shared out on (one thread: one after
 * the other; two: three at once, then the fork); deconv_blind_kernel
 * returns the best scored of them. The blur is a double exposure and the
 * piece fraction 0.4, so that start 3 (0.2) keeps the kernel's second
 * piece (30 % of its mass) where start 0 removes it: the two do part. */
static void test_starts(void)
{
    static const double tv_factor[4] = {1, 0.5, 1.5, 1}, piece_factor[4] = {1, 1, 1, 0.5};
    enum { NK = 81 };
    const size_t bytes = sizeof(float) * NK;
    deconv_error err;
    deconv_kernel *k;
    deconv_image *im;
    if (!camera_and_motion(7, 120, &im, &k))
        return;
    /* a double exposure: the camera jumped; two pieces, 75 % and 25 % (the
     * second between start 0's piece fraction, 0.4, and start 3's, 0.2) */
    memset(k->data, 0, sizeof(float) * k->width * k->height);
    k->data[1 * k->width + 1] = 0.75f, k->data[4 * k->width + 5] = 0.25f;
    deconv_image *y = blurred_window(im, k, 96, 80, 60, 200, 0);
    deconv_blind_params p;
    short_blind_params(&p);
    p.kernel_smooth = 0; /* it would join the two pieces across the gap */
    float single[4][NK], multi[2][4][NK];
    double score[2][4];
    int ok = 1;
    p.starts = 1;
    for (int s = 0; s < 4; s++) {
        p.tv = 0.02 * tv_factor[s], p.piece_fraction = 0.4 * piece_factor[s];
        double sc;
        int rc = deconv_blind_test_starts(y, &p, single[s], &sc);
        CHECK(rc == 0, "single start %d failed", s);
        ok &= rc == 0;
    }
    CHECK(memcmp(single[0], single[3], bytes) != 0,
          "the test image does not tell the piece fractions apart (start 3 is start 0)");
    p.tv = 0.02, p.piece_fraction = 0.4, p.starts = 4;
    for (int t = 0; t < 2; t++) {
        p.threads = t + 1;
        int rc = deconv_blind_test_starts(y, &p, multi[t][0], score[t]);
        CHECK(rc == 0, "four starts on %d threads failed", t + 1);
        ok &= rc == 0;
    }
    if (ok) {
        for (int t = 0; t < 2; t++)
            for (int s = 0; s < 4; s++)
                CHECK(!memcmp(multi[t][s], single[s], bytes),
                      "four starts on %d threads: start %d differs from its single start", t + 1,
                      s);
        int best = 0;
        for (int s = 1; s < 4; s++)
            best = score[0][s] < score[0][best] ? s : best;
        deconv_kernel *chosen = deconv_blind_kernel(y, &p, &err);
        CHECK(chosen != NULL, "four starts: %s", err.message);
        if (chosen)
            CHECK(!memcmp(chosen->data, single[best], bytes),
                  "four starts returned another kernel than the best scored (start %d)", best);
        deconv_kernel_free(chosen);
    }
    p.starts = 6;
    CHECK(deconv_blind_kernel(y, &p, &err) == NULL && err.code == DECONV_ERR_ARG,
          "6 starts are refused");
    p.starts = 4, p.piece_fraction = 1;
    CHECK(deconv_blind_kernel(y, &p, &err) == NULL && err.code == DECONV_ERR_ARG,
          "a piece fraction of 1 is refused");
    deconv_image_free(y), deconv_image_free(im);
    deconv_kernel_free(k);
}

/* The two tests below: a 41-pixel motion blur of a 120 x 120 window of
 * the camera photo, with 2 % noise when `noisy` (NULL when the photo is
 * missing). */
static deconv_image *long_blur_window(int noisy)
{
    deconv_kernel *k;
    deconv_image *im;
    if (!camera_and_motion(41, 20, &im, &k))
        return NULL;
    deconv_image *y = blurred_window(im, k, 120, 120, 40, 60, 0);
    for (int i = 0; noisy && i < 120 * 120; i++)
        y->data[i] += (float)(0.02 * gauss());
    deconv_image_free(im);
    deconv_kernel_free(k);
    return y;
}

/* Four starts' kernels (four, 4 x side^2) and scores, then one start's
 * kernel (single, side^2) with the TV weight tv (0: the default), at
 * kernel side `side` with a short schedule. Returns 0 on success. */
static int four_and_single(const deconv_image *y, int side, double tv, float *four,
                           double *score, float *single)
{
    deconv_blind_params p;
    short_blind_params(&p);
    p.kernel_width = p.kernel_height = side;
    p.iterations = 4, p.refine = 1, p.threads = 1;
    double sc;
    p.starts = 4;
    int rc = deconv_blind_test_starts(y, &p, four, score);
    p.starts = 1, p.tv = tv;
    return rc | deconv_blind_test_starts(y, &p, single, &sc);
}

/* For kernels of 51 pixels or more, start 2 selects its edges on x shock
 * filtered (blind_starts.c): of four starts, the third then differs from
 * the single start with its TV weight (x 1.5); at 49 pixels it is that
 * single start to the byte. */
static void test_shock_start(void)
{
    deconv_image *y = long_blur_window(0);
    for (int side = 49; y && side <= 51; side += 2) {
        const size_t nk = (size_t)side * side;
        float *four = malloc(sizeof(float) * 4 * nk), *single = malloc(sizeof(float) * nk);
        double score[4];
        int rc = four_and_single(y, side, 0.02 * 1.5 /* the default TV, start 2's factor */, four,
                                 score, single);
        CHECK(rc == 0, "starts with a %d-pixel kernel failed", side);
        if (rc == 0) {
            int same = !memcmp(four + 2 * nk, single, sizeof(float) * nk);
            CHECK(side < 51 ? same : !same,
                  "a %d-pixel kernel: start 2 %s the single start with TV x 1.5", side,
                  same ? "is" : "is not");
        }
        free(four), free(single);
    }
    deconv_image_free(y);
}

/* On a noisy window (2 %) a kernel of 51 pixels is the shock-filtered
 * start's alone: one estimate, in the first slot, the other starts not
 * run (score INFINITY, the same kernel copied), and one start asked for
 * gives it too; at 49 pixels the four starts run and are scored. */
static void test_shock_alone(void)
{
    deconv_image *y = long_blur_window(1);
    if (!y)
        return;
    double sigma = deconv_estimate_noise(y->data, 120, 120);
    CHECK(sigma > 0.01, "noise estimate %g", sigma);
    for (int side = 49; side <= 51; side += 2) {
        const size_t nk = (size_t)side * side;
        float *four = malloc(sizeof(float) * 4 * nk), *single = malloc(sizeof(float) * nk);
        double score[4];
        int rc = four_and_single(y, side, 0, four, score, single);
        CHECK(rc == 0, "starts with a %d-pixel kernel failed", side);
        if (rc == 0) {
            int finite = 0, copies = 0;
            for (int s = 0; s < 4; s++) {
                finite += isfinite(score[s]);
                copies += !memcmp(four + s * nk, four, sizeof(float) * nk);
            }
            if (side == 51) {
                CHECK(finite == 1 && score[0] == 0 && copies == 4,
                      "51 pixels, noisy: %d scores finite (score 0: %g), %d slots alike", finite,
                      score[0], copies);
                CHECK(!memcmp(single, four, sizeof(float) * nk),
                      "51 pixels, noisy: one start asked for is not the shock-filtered one");
            } else {
                CHECK(finite == 4 && copies < 4,
                      "49 pixels, noisy: %d scores finite, %d slots alike", finite, copies);
            }
        }
        free(four), free(single);
    }
    deconv_image_free(y);
}

/* kernel_smooth smooths every start's kernel steps by the noise estimated
 * in the photo: at 2 % noise each start's kernel changes and the first is
 * smoother than without the term; with no noise but the rounding to 8 bits
 * (an estimate under the floor) every start is the same bytes. */
static void test_smooth_start(void)
{
    enum { NK = 81 };
    deconv_kernel *k;
    deconv_image *im;
    if (!camera_and_motion(7, 120, &im, &k))
        return;
    for (int noisy = 0; noisy < 2; noisy++) {
        deconv_image *y = blurred_window(im, k, 96, 80, 60, 200, 0);
        for (int i = 0; i < 96 * 80; i++) {
            double v = y->data[i] + (noisy ? 0.02 * gauss() : 0);
            y->data[i] = (float)(round(255 * v) / 255); /* as an 8-bit file */
        }
        double sigma = deconv_estimate_noise(y->data, 96, 80);
        CHECK(noisy ? sigma > 0.015 : sigma < 0.004, "noise estimate %g", sigma);
        deconv_blind_params p;
        short_blind_params(&p);
        p.starts = 4;
        float h[2][4][NK];
        double score[4];
        int rc = 0;
        for (int off = 0; off < 2; off++) {
            p.kernel_smooth = off ? 0 : DECONV_BLIND_KERNEL_SMOOTH;
            rc |= deconv_blind_test_starts(y, &p, h[off][0], score);
        }
        CHECK(rc == 0, "starts failed");
        if (rc == 0) {
            for (int s = 0; s < 4; s++) {
                int same = !memcmp(h[0][s], h[1][s], sizeof h[0][s]);
                CHECK(same == !noisy, "%s: start %d %s", noisy ? "2 %% noise" : "no noise", s,
                      same ? "unchanged" : "changed");
            }
            double rough[2];
            for (int off = 0; off < 2; off++) {
                double hd[NK];
                for (int t = 0; t < NK; t++)
                    hd[t] = h[off][0][t];
                rough[off] = plain_smoothness(hd, 9, 9, 1.0);
            }
            if (noisy)
                CHECK(rough[0] < rough[1], "start 0's ||grad h||^2: %g smoothed, %g without",
                      rough[0], rough[1]);
        }
        deconv_image_free(y);
    }
    deconv_image_free(im);
    deconv_kernel_free(k);
}

/* A large photo's kernel is estimated on the window with the most edges:
 * the window lies in the textured half of an image whose other half is
 * flat, and the kernel is exactly the one estimated on that window alone. */
static void test_window(void)
{
    deconv_error err;
    deconv_kernel *k;
    deconv_image *im;
    if (!camera_and_motion(7, 45, &im, &k))
        return;
    const int N = 400, M = 200;
    deconv_image *y = blurred_window(im, k, N, M, 100, 0, (N + k->width - 1) / 2);
    deconv_blind_params p;
    short_blind_params(&p);
    int left, top, w, h;
    p.estimate_pixels = 0;
    CHECK(deconv_blind_window(y, &p, &left, &top, &w, &h, &err) == DECONV_OK && left == 0 &&
              top == 0 && w == N && h == M,
          "no limit: the whole image");
    p.estimate_pixels = (double)N * M;
    deconv_blind_window(y, &p, &left, &top, &w, &h, &err);
    CHECK(w == N && h == M, "an image at the limit is used whole");
    p.estimate_pixels = 1e4;
    deconv_blind_window(y, &p, &left, &top, &w, &h, &err);
    CHECK(fabs((double)w * h - 1e4) < 200 && w > h, "window %dx%d: not ~1e4 pixels of the "
          "image's aspect", w, h);
    CHECK(left + w / 2 > N / 2 && left >= 0 && top >= 0 && left + w <= N && top + h <= M,
          "window at (%d, %d) %dx%d is not in the textured half", left, top, w, h);

    deconv_kernel *a = deconv_blind_kernel(y, &p, &err);
    deconv_image *win = deconv_image_new(w, h, 1);
    deconv_crop(y->data, N, top, left, w, h, win->data);
    p.estimate_pixels = 0;
    deconv_kernel *b = deconv_blind_kernel(win, &p, &err);
    CHECK(a && b && !memcmp(a->data, b->data, sizeof(float) * 81),
          "the estimate is not the one on its window");
    /* a region given by the caller is used as it is */
    p.estimate_pixels = 1e4;
    p.region_x = left, p.region_y = top, p.region_width = w, p.region_height = h;
    int l2, t2, w2, h2;
    deconv_blind_window(y, &p, &l2, &t2, &w2, &h2, &err);
    CHECK(l2 == left && t2 == top && w2 == w && h2 == h, "the region is not the window");
    deconv_kernel *c = deconv_blind_kernel(y, &p, &err);
    CHECK(c && b && !memcmp(c->data, b->data, sizeof(float) * 81),
          "the estimate on a region is not the one on the region alone");
    deconv_kernel_free(c);
    p.region_x = N - 10;
    CHECK(deconv_blind_kernel(y, &p, &err) == NULL && err.code == DECONV_ERR_ARG,
          "a region outside the image is refused");
    p.region_x = 0, p.region_width = 8;
    CHECK(deconv_blind_kernel(y, &p, &err) == NULL && err.code == DECONV_ERR_KERNEL,
          "a region smaller than the kernel is refused");
    p.region_width = p.region_height = 0;
    p.estimate_pixels = -1;
    CHECK(deconv_blind_kernel(y, &p, &err) == NULL && err.code == DECONV_ERR_ARG,
          "a negative window is refused");
    deconv_kernel_free(a), deconv_kernel_free(b);
    deconv_image_free(win), deconv_image_free(y), deconv_image_free(im);
    deconv_kernel_free(k);
}

/* The direct autocorrelation of v (w x h) at shift (di, dj). */
static double autocorrelation(const float *v, int w, int h, int di, int dj)
{
    double s = 0;
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++)
            if (i + di >= 0 && i + di < h && j + dj >= 0 && j + dj < w)
                s += (double)v[i * w + j] * v[(i + di) * w + j + dj];
    return s;
}

/* The FFT normal equations of the kernel step match the direct sums, at
 * several sizes: c = P^T D y (deconv_corr_kernel of both directions) and
 * the autocorrelation of P at every shift. */
static void test_normal_fft(void)
{
    const int sizes[][4] = {{41, 30, 6, 5}, {17, 23, 5, 9}, {64, 40, 15, 15}, {9, 8, 9, 8}};
    for (int z = 0; z < 4; z++) {
        const int xw = sizes[z][0], xh = sizes[z][1], kw = sizes[z][2], kh = sizes[z][3];
        const int nk = kw * kh, aw = 2 * kw - 1, ah = 2 * kh - 1;
        float *px = malloc((size_t)xw * xh * sizeof(float)), *py = malloc((size_t)xw * xh * sizeof(float));
        float *dc = malloc((size_t)xw * xh * sizeof(float)), *dr = malloc((size_t)xw * xh * sizeof(float));
        float *c1 = malloc(nk * sizeof(float)), *c2 = malloc(nk * sizeof(float));
        double *ac = calloc((size_t)aw * ah, sizeof(double)), *c = calloc(nk, sizeof(double));
        for (int i = 0; i < xw * xh; i++) {
            px[i] = check_rand(&seed) < 0.3 ? (float)(check_rand(&seed) - 0.5) : 0.0f;
            py[i] = check_rand(&seed) < 0.3 ? (float)(check_rand(&seed) - 0.5) : 0.0f;
            dc[i] = (float)(check_rand(&seed) - 0.5), dr[i] = (float)(check_rand(&seed) - 0.5);
        }
        deconv_normal *s = deconv_normal_new(xw, xh, kw, kh);
        CHECK(s != NULL, "deconv_normal_new failed");
        deconv_kernel_normal(s, px, py, dc, dr, ac, c);
        deconv_normal_free(s);
        deconv_corr_kernel(px, xw - 1, xh, dc, kw, kh, c1);
        deconv_corr_kernel(py, xw, xh - 1, dr, kw, kh, c2);
        double err = 0;
        for (int t = 0; t < nk; t++)
            err = fmax(err, fabs(c[t] - c1[t] - c2[t]));
        CHECK(err < 1e-4, "%dx%d: FFT P^T D y differs from deconv_corr_kernel by %g", xw, xh, err);
        err = 0;
        for (int di = -(kh - 1); di < kh; di++)
            for (int dj = -(kw - 1); dj < kw; dj++) {
                double d = autocorrelation(px, xw - 1, xh, di, dj) +
                           autocorrelation(py, xw, xh - 1, di, dj);
                err = fmax(err, fabs(ac[(di + kh - 1) * aw + dj + kw - 1] - d));
            }
        CHECK(err < 1e-4, "%dx%d: FFT autocorrelation differs from the direct one by %g", xw, xh,
              err);
        free(px), free(py), free(dc), free(dr), free(c1), free(c2), free(ac), free(c);
    }
}

/* The kernel step's normal operator (P^T P + gamma) v, by its direct sums
 * and by FFT (kernel_normal.c, for large kernels), against the plain sum
 * out[a][b] = gamma v[a][b] + sum ac[a2 - a][b2 - b] v[a2][b2], over many
 * random sizes, square or not, and an autocorrelation that need not be
 * symmetric (the operator is the sum as written, whatever ac holds). */
static void test_normal_operator(void)
{
    for (int z = 0; z < 40; z++) {
        const int kw = 1 + (int)(check_rand(&seed) * 48), kh = 1 + (int)(check_rand(&seed) * 48);
        const int nk = kw * kh, aw = 2 * kw - 1, ah = 2 * kh - 1;
        double *ac = malloc(sizeof(double) * aw * ah), *acr = malloc(sizeof(double) * aw * ah);
        double *v = malloc(sizeof(double) * nk), *ref = malloc(sizeof(double) * nk);
        double *o1 = malloc(sizeof(double) * nk), *o2 = malloc(sizeof(double) * nk);
        for (int t = 0; t < aw * ah; t++)
            ac[t] = check_rand(&seed) - 0.5;
        for (int r = 0; r < ah; r++) /* each row reversed, as kernel_step.c keeps it */
            for (int e = 0; e < aw; e++)
                acr[r * aw + e] = ac[r * aw + aw - 1 - e];
        for (int t = 0; t < nk; t++)
            v[t] = check_rand(&seed);
        const double gamma = 0.25;
        double scale = 0;
        for (int a = 0; a < kh; a++)
            for (int b = 0; b < kw; b++) {
                double sum = gamma * v[a * kw + b];
                for (int a2 = 0; a2 < kh; a2++)
                    for (int b2 = 0; b2 < kw; b2++)
                        sum += ac[(a2 - a + kh - 1) * aw + b2 - b + kw - 1] * v[a2 * kw + b2];
                ref[a * kw + b] = sum;
                scale = fmax(scale, fabs(sum));
            }
        int r1 = deconv_blind_test_normal(kw, kh, acr, gamma, v, o1, 0, 1);
        int r2 = deconv_blind_test_normal(kw, kh, acr, gamma, v, o2, 1, 2);
        CHECK(r1 == 0 && r2 == 0, "%dx%d: the normal operator failed", kw, kh);
        double e1 = 0, e2 = 0;
        for (int t = 0; t < nk; t++)
            e1 = fmax(e1, fabs(o1[t] - ref[t])), e2 = fmax(e2, fabs(o2[t] - ref[t]));
        CHECK(e1 <= 1e-12 * scale, "%dx%d: direct normal operator off by %g of %g", kw, kh, e1,
              scale);
        CHECK(e2 <= 1e-12 * scale, "%dx%d: FFT normal operator off by %g of %g", kw, kh, e2,
              scale);
        free(ac), free(acr), free(v), free(ref), free(o1), free(o2);
    }
}

/* The L0 image step restores an exactly blurred cartoon (piecewise flat,
 * the image its prior favours) from the blurry start, and gives the same
 * bytes on one and two threads. */
static void test_l0_step(void)
{
    const int xw = 300, xh = 240, kw = 9, kh = 7, N = xw - kw + 1, M = xh - kh + 1;
    float *truth = malloc((size_t)xw * xh * sizeof(float)), *y = malloc((size_t)N * M * sizeof(float));
    float *x[2], h[63];
    for (int i = 0; i < xh; i++)
        for (int j = 0; j < xw; j++)
            truth[i * xw + j] = 0.2f + 0.5f * ((i / 40 + j / 48) % 2) + 0.2f * (i > 2 * j - 120);
    double sum = 0;
    for (int t = 0; t < kw * kh; t++)
        sum += h[t] = (float)check_rand(&seed);
    for (int t = 0; t < kw * kh; t++)
        h[t] = (float)(h[t] / sum);
    deconv_conv_valid(truth, xw, xh, h, kw, kh, y);
    double before = 0, after = 0;
    for (int t = 0; t < 2; t++) {
        x[t] = malloc((size_t)xw * xh * sizeof(float));
        deconv_pad_replicate(y, N, M, kh / 2, kh - 1 - kh / 2, kw / 2, kw - 1 - kw / 2, x[t]);
        if (t == 0)
            for (int i = kh; i < xh - kh; i++)
                for (int j = kw; j < xw - kw; j++)
                    before += pow(x[0][i * xw + j] - truth[i * xw + j], 2);
        deconv_l0 *s = deconv_l0_new(N, M, kw, kh);
        CHECK(s != NULL, "deconv_l0_new failed");
        int saved = omp_get_max_threads();
        omp_set_num_threads(t + 1);
        deconv_l0_image_step(s, x[t], y, h, 1e-4, 1e5);
        omp_set_num_threads(saved);
        deconv_l0_free(s);
    }
    /* the blurry start is not aligned with the truth (the kernel is not
     * centred), but the restoration must be */
    int n = 0;
    for (int i = kh; i < xh - kh; i++)
        for (int j = kw; j < xw - kw; j++, n++)
            after += pow(x[0][i * xw + j] - truth[i * xw + j], 2);
    double psnr_before = 10 * log10(n / before), psnr_after = 10 * log10(n / after);
    CHECK(psnr_after > 30 && psnr_after > psnr_before + 10,
          "L0 step: %.1f dB from a %.1f dB start", psnr_after, psnr_before);
    CHECK(memcmp(x[0], x[1], (size_t)xw * xh * sizeof(float)) == 0,
          "L0 step: 1 and 2 threads give different bytes");
    free(truth), free(y), free(x[0]), free(x[1]);
}

/* No kernel size: the size chosen holds the kernel without being much
 * larger, and the estimate is as good as with a size given. */
static void test_auto_size(void)
{
    deconv_error err;
    deconv_image *im;
    deconv_kernel *k;
    if (!camera_and_motion(15, 120, &im, &k))
        return;
    const int N = 240, M = 240, kw = k->width, kh = k->height;
    deconv_image *y = blurred_window(im, k, N, M, 80, 120, 0);
    for (int i = 0; i < N * M; i++)
        y->data[i] += (float)(0.002 * gauss());
    deconv_blind_params p;
    deconv_blind_defaults(&p);
    p.kernel_width = p.kernel_height = 0;
    deconv_kernel *est = deconv_blind_kernel(y, &p, &err);
    CHECK(est != NULL, "blind estimate without a size failed: %s", err.message);
    if (est) {
        int w = est->width, h = est->height;
        printf("auto size: %dx%d for a %dx%d kernel\n", w, h, kw, kh);
        CHECK(size_holds(w, h, kw, kh), "size %dx%d chosen for a %dx%d kernel", w, h, kw, kh);
        if (w >= kw && h >= kh) {
            double ncc = centred_ncc(est, k);
            printf("auto size: kernel NCC %.3f\n", ncc);
            CHECK(ncc > 0.8, "motion 15 px at 120 degrees, size chosen: kernel NCC %g", ncc);
        }
        deconv_kernel_free(est);
    }
    /* too small to choose a size for */
    deconv_image *tiny = deconv_image_new(8, 30, 1);
    CHECK(tiny && !deconv_blind_kernel(tiny, &p, &err) && err.code == DECONV_ERR_KERNEL &&
              strstr(err.message, "too small"),
          "an 8x30 image without a kernel size: '%s'", err.message);
    deconv_image_free(tiny);
    deconv_image_free(y);
    deconv_image_free(im);
    deconv_kernel_free(k);
}

/* blind_clip.c's box dilation (running counts) against the plain loop
 * over the box, on random masks, sizes, offsets and boxes: out[i][j] = 1
 * where some in[i - a + oi][j - b + oj] is set, 0 <= a < dh, 0 <= b < dw. */
static void test_dilate(void)
{
    for (int t = 0; t < 300; t++) {
        int iw = 1 + (int)(check_rand(&seed) * 40), ih = 1 + (int)(check_rand(&seed) * 40);
        int w = 1 + (int)(check_rand(&seed) * 50), h = 1 + (int)(check_rand(&seed) * 50);
        int dw = 1 + (int)(check_rand(&seed) * 20), dh = 1 + (int)(check_rand(&seed) * 20);
        int oi = (int)(check_rand(&seed) * 24) - 4, oj = (int)(check_rand(&seed) * 24) - 4;
        double density = t % 3 == 0 ? 0.005 : (t % 3 == 1 ? 0.05 : 0.5);
        unsigned char *in = malloc((size_t)iw * ih), *out = malloc((size_t)w * h);
        for (int i = 0; i < iw * ih; i++)
            in[i] = check_rand(&seed) < density ? (unsigned char)(1 + t % 7) : 0;
        CHECK(deconv_blind_test_dilate(in, iw, ih, out, w, h, oi, oj, dh, dw) == 0,
              "dilate %dx%d: failed", w, h);
        int bad = 0;
        for (int i = 0; i < h && !bad; i++)
            for (int j = 0; j < w && !bad; j++) {
                int any = 0;
                for (int a = 0; a < dh; a++)
                    for (int b = 0; b < dw; b++) {
                        int ii = i - a + oi, jj = j - b + oj;
                        any |= ii >= 0 && ii < ih && jj >= 0 && jj < iw && in[ii * iw + jj];
                    }
                bad = out[i * w + j] != any;
                CHECK(!bad, "dilate %dx%d of %dx%d, box %dx%d at (%d, %d): wrong at (%d, %d)", w,
                      h, iw, ih, dw, dh, oi, oj, i, j);
            }
        free(in), free(out);
    }
}

/* blind_whiten.c's scales against a plain computation: s, the slope of
 * the file's curve (by a central difference of the public encoding) at
 * y's mean over a box of the kernel's size centred on each pixel (cut at
 * the borders), at least at light 0.05; the image step's weights s^2 over
 * their mean; under x, s of y's pixel whose window x's pixel is the
 * middle of, replicated past y's borders. Random sizes, kernels and curves
 * (sRGB, gamma 2.2), bright and dark. */
int deconv_blind_test_whiten(const float *y, int N, int M, int kw, int kh,
                             const deconv_response *resp, float *wy, float *weights, float *wx);

static void test_whiten(void)
{
    double worst = 0;
    for (int t = 0; t < 40; t++) {
        int N = 1 + (int)(check_rand(&seed) * 60), M = 1 + (int)(check_rand(&seed) * 60);
        int kw = 1 + (int)(check_rand(&seed) * 15), kh = 1 + (int)(check_rand(&seed) * 15);
        int xw = N + kw - 1, xh = M + kh - 1;
        deconv_response r;
        if (t % 2)
            deconv_response_srgb(&r);
        else
            deconv_response_gamma(&r, 2.2, NULL);
        float *y = malloc(sizeof(float) * N * M), *wy = malloc(sizeof(float) * N * M);
        float *w = malloc(sizeof(float) * N * M), *wx = malloc(sizeof(float) * xw * xh);
        double *want = malloc(sizeof(double) * N * M);
        for (int i = 0; i < N * M; i++)
            y[i] = (float)(t % 3 ? check_rand(&seed) : 0.1 * check_rand(&seed));
        CHECK(deconv_blind_test_whiten(y, N, M, kw, kh, &r, wy, w, wx) == 0,
              "whiten %dx%d, kernel %dx%d failed", N, M, kw, kh);
        double mean = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double s = 0;
                int n = 0;
                for (int a = i - (kh - 1) / 2; a <= i + kh / 2; a++)
                    for (int b = j - (kw - 1) / 2; b <= j + kw / 2; b++)
                        if (a >= 0 && a < M && b >= 0 && b < N)
                            s += y[a * N + b], n++;
                float light = (float)fmax(s / n, 0.05), lo = light * 0.999f, hi = light * 1.001f;
                float ulo, uhi;
                deconv_response_encode(&r, &lo, &ulo, 1);
                deconv_response_encode(&r, &hi, &uhi, 1);
                want[i * N + j] = (uhi - ulo) / (hi - lo);
                mean += want[i * N + j] * want[i * N + j];
            }
        mean /= (double)N * M;
        for (int i = 0; i < N * M; i++) {
            worst = fmax(worst, fabs(wy[i] - want[i]) / want[i]);
            double ww = want[i] * want[i] / mean;
            worst = fmax(worst, fabs(w[i] - ww) / ww);
        }
        for (int i = 0; i < xh; i++)
            for (int j = 0; j < xw; j++) {
                int a = i - (kh - 1) / 2, b = j - (kw - 1) / 2;
                a = a < 0 ? 0 : (a >= M ? M - 1 : a);
                b = b < 0 ? 0 : (b >= N ? N - 1 : b);
                worst = fmax(worst, fabs(wx[i * xw + j] - want[a * N + b]) / want[a * N + b]);
            }
        free(y), free(wy), free(w), free(wx), free(want);
    }
    printf("whiten: largest relative difference from the plain computation %.2g\n", worst);
    CHECK(worst < 3e-3, "whiten: scales differ from the plain computation by %g", worst);
}

/* blind_edges.c's shock filter against a plain double-precision
 * computation of its formula, v <- v - dt sign(lap(G v)) |grad v| with
 * G = [1 2 1]/4 twice each way, central differences, replicated borders,
 * dt = 0.5, over random sizes (1 pixel wide too) and step counts; where
 * the Laplacian is within rounding of 0 either sign is accepted. Then
 * what it is for: a blurred edge comes out steeper (with the halo of
 * central differences, less than a quarter of its height), and a flat
 * image unchanged. */
int deconv_blind_test_shock(float *v, int w, int h, int steps);

static double clamped(const double *v, int w, int h, int i, int j)
{
    i = i < 0 ? 0 : (i >= h ? h - 1 : i);
    j = j < 0 ? 0 : (j >= w ? w - 1 : j);
    return v[(size_t)i * w + j];
}

static void plain_shock_step(double *v, int w, int h, double *lap_out)
{
    size_t n = (size_t)w * h;
    double *s = malloc(n * sizeof(double)), *t = malloc(n * sizeof(double));
    memcpy(s, v, n * sizeof(double));
    for (int pass = 0; pass < 4; pass++) {
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++)
                t[(size_t)i * w + j] =
                    pass < 2 ? 0.25 * (clamped(s, w, h, i, j - 1) + 2 * s[(size_t)i * w + j] +
                                       clamped(s, w, h, i, j + 1))
                             : 0.25 * (clamped(s, w, h, i - 1, j) + 2 * s[(size_t)i * w + j] +
                                       clamped(s, w, h, i + 1, j));
        memcpy(s, t, n * sizeof(double));
    }
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            double gc = 0.5 * (clamped(v, w, h, i, j + 1) - clamped(v, w, h, i, j - 1));
            double gr = 0.5 * (clamped(v, w, h, i + 1, j) - clamped(v, w, h, i - 1, j));
            double lap = clamped(s, w, h, i - 1, j) + clamped(s, w, h, i + 1, j) +
                         clamped(s, w, h, i, j - 1) + clamped(s, w, h, i, j + 1) -
                         4 * s[(size_t)i * w + j];
            lap_out[(size_t)i * w + j] = lap;
            t[(size_t)i * w + j] = v[(size_t)i * w + j] - 0.5 * (lap > 0 ? 1 : lap < 0 ? -1 : 0) * sqrt(gc * gc + gr * gr);
        }
    memcpy(v, t, n * sizeof(double));
    free(s), free(t);
}

static void test_shock_filter(void)
{
    double worst = 0;
    for (int t = 0; t < 60; t++) {
        int w = 1 + (int)(check_rand(&seed) * 40), h = 1 + (int)(check_rand(&seed) * 40);
        int steps = 1 + t % 5;
        size_t n = (size_t)w * h;
        float *v = malloc(n * sizeof(float));
        double *ref = malloc(n * sizeof(double)), *lap = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++)
            ref[i] = v[i] = (float)check_rand(&seed);
        CHECK(deconv_blind_test_shock(v, w, h, 1) == 0, "shock %dx%d failed", w, h);
        plain_shock_step(ref, w, h, lap);
        for (size_t i = 0; i < n; i++)
            if (fabs(lap[i]) > 1e-5)
                worst = fmax(worst, fabs(v[i] - ref[i]));
        /* further steps from the same float start on both sides */
        for (size_t i = 0; i < n; i++)
            ref[i] = v[i];
        CHECK(deconv_blind_test_shock(v, w, h, steps) == 0, "shock %dx%d failed", w, h);
        int ambiguous = 0;
        for (int k = 0; k < steps; k++) {
            plain_shock_step(ref, w, h, lap);
            for (size_t i = 0; i < n; i++)
                ambiguous |= fabs(lap[i]) <= 1e-5;
        }
        if (!ambiguous)
            for (size_t i = 0; i < n; i++)
                worst = fmax(worst, fabs(v[i] - ref[i]));
        free(v), free(ref), free(lap);
    }
    printf("shock filter: largest difference from the plain computation %.2g\n", worst);
    CHECK(worst < 1e-4, "shock filter differs from the plain computation by %g", worst);

    /* a vertical edge blurred over about 9 pixels, and a flat image */
    const int w = 48, h = 16;
    float *v = malloc(sizeof(float) * w * h), *flat = malloc(sizeof(float) * w * h);
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            v[i * w + j] = (float)(0.2 + 0.6 / (1 + exp(-(j - 23.5) / 2.0)));
            flat[i * w + j] = 0.3f;
        }
    double before = 0, after = 0;
    for (int j = 0; j + 1 < w; j++)
        before = fmax(before, fabs(v[8 * w + j + 1] - v[8 * w + j]));
    CHECK(deconv_blind_test_shock(v, w, h, 5) == 0 && deconv_blind_test_shock(flat, w, h, 5) == 0,
          "shock filter failed");
    float lo = 1, hi = 0;
    for (int j = 0; j + 1 < w; j++)
        after = fmax(after, fabs(v[8 * w + j + 1] - v[8 * w + j]));
    for (int i = 0; i < w * h; i++) {
        lo = fminf(lo, v[i]), hi = fmaxf(hi, v[i]);
        CHECK(flat[i] == 0.3f, "shock filter changed a flat image at %d: %g", i, flat[i]);
    }
    printf("shock filter: blurred edge's steepest step %.3f -> %.3f, range [%.3f, %.3f]\n",
           before, after, lo, hi);
    CHECK(after > 2 * before, "shock filter: edge step %g -> %g, not steeper", before, after);
    CHECK(lo > 0.05f && hi < 0.95f,
          "shock filter: range [%g, %g], a halo past a quarter of the edge's [0.2, 0.8]", lo, hi);
    free(v), free(flat);
}

/* Blind under the camera's model: camera.png decoded from sRGB to light,
 * blurred, encoded again, 0.5 % noise; the estimate with the sRGB
 * response finds the kernel. */
int deconv_blind_test_large_clipped(const unsigned char *c, int N, int M, int kw, int kh,
                                    unsigned char *large);

/* blind_large_clipped against a plain labelling (every set pixel takes the
 * smallest label among its 8 neighbours until none changes), on random
 * masks, sizes and kernels: the pieces wider or taller than the kernel
 * marked, and counted. */
static void test_large_clipped(void)
{
    for (int t = 0; t < 200; t++) {
        int N = 1 + (int)(check_rand(&seed) * 60), M = 1 + (int)(check_rand(&seed) * 60);
        int kw = 1 + (int)(check_rand(&seed) * 15), kh = 1 + (int)(check_rand(&seed) * 15);
        double density = t % 3 == 0 ? 0.05 : (t % 3 == 1 ? 0.3 : 0.6);
        size_t n = (size_t)N * M;
        unsigned char *c = malloc(n), *large = malloc(n);
        int *label = malloc(sizeof(int) * n), *i0 = malloc(sizeof(int) * n),
            *i1 = malloc(sizeof(int) * n), *j0 = malloc(sizeof(int) * n),
            *j1 = malloc(sizeof(int) * n);
        for (size_t i = 0; i < n; i++) {
            c[i] = check_rand(&seed) < density;
            label[i] = c[i] ? (int)i : -1;
        }
        for (int changed = 1; changed;) {
            changed = 0;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++)
                    for (int a = -1; a <= 1 && label[i * N + j] >= 0; a++)
                        for (int b = -1; b <= 1; b++) {
                            int ii = i + a, jj = j + b;
                            if (ii < 0 || ii >= M || jj < 0 || jj >= N || label[ii * N + jj] < 0)
                                continue;
                            if (label[ii * N + jj] < label[i * N + j])
                                label[i * N + j] = label[ii * N + jj], changed = 1;
                        }
        }
        for (size_t i = 0; i < n; i++)
            i0[i] = M, i1[i] = -1, j0[i] = N, j1[i] = -1;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                int l = label[i * N + j];
                if (l < 0)
                    continue;
                i0[l] = i < i0[l] ? i : i0[l], i1[l] = i > i1[l] ? i : i1[l];
                j0[l] = j < j0[l] ? j : j0[l], j1[l] = j > j1[l] ? j : j1[l];
            }
        int want = 0, bad = 0;
        for (size_t i = 0; i < n; i++)
            want += label[i] == (int)i && (i1[i] - i0[i] + 1 > kh || j1[i] - j0[i] + 1 > kw);
        int got = deconv_blind_test_large_clipped(c, N, M, kw, kh, large);
        CHECK(got == want, "large clipped pieces of %dx%d, kernel %dx%d: %d, not %d", N, M, kw,
              kh, got, want);
        for (size_t i = 0; i < n && !bad; i++) {
            int l = label[i];
            int is = l >= 0 && (i1[l] - i0[l] + 1 > kh || j1[l] - j0[l] + 1 > kw);
            bad = large[i] != is;
            CHECK(!bad, "large clipped pieces of %dx%d, kernel %dx%d: wrong at %zu", N, M, kw, kh,
                  i);
        }
        free(c), free(large), free(label), free(i0), free(i1), free(j0), free(j1);
    }
}

/* The fifth start (blind_starts.c) on a bright page of dark strokes, the
 * camera's input (light, clipped at white, and the clip mask): it runs
 * where a clipped piece is larger than the kernel, giving its own kernel
 * and score, the same on one thread and two; with no such piece (the
 * mask's large pieces cleared) its slot is start 0's kernel, never kept. */
static void test_one_sided_start(void)
{
    enum { N = 160, M = 160, KS = 9, NK = KS * KS };
    const int xw = N + KS - 1, xh = M + KS - 1;
    float *x = malloc(sizeof(float) * xw * xh), truth[NK] = {0};
    for (int t = 0; t < 9; t++) /* a bent stroke */
        truth[(2 + t / 3) * KS + t] = 1.0f / 9;
    for (int i = 0; i < xw * xh; i++)
        x[i] = 1.6f; /* the page, brighter than white */
    for (int s = 0; s < 60; s++) { /* letters: strokes of 2 pixels */
        int i = 4 + (int)(check_rand(&seed) * (xh - 24));
        int j = 4 + (int)(check_rand(&seed) * (xw - 24));
        int len = 5 + (int)(check_rand(&seed) * 12), dir = s % 3; /* across, down, diagonal */
        for (int t = 0; t < len; t++)
            for (int w = 0; w < 2; w++) {
                int a = i + (dir == 0 ? w : t), b = j + (dir == 0 ? t : dir == 1 ? w : t + w);
                x[a * xw + b] = 0.08f;
            }
    }
    deconv_image *lum = deconv_image_new(N, M, 2);
    deconv_conv_valid(x, xw, xh, truth, KS, KS, lum->data);
    float *clip = deconv_image_plane(lum, 1);
    for (int i = 0; i < N * M; i++)
        lum->data[i] = (float)fmin(1, lum->data[i] + 0.002 * gauss());
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            int any = 0;
            for (int a = i - 1; a <= i + 1; a++)
                for (int b = j - 1; b <= j + 1; b++)
                    any |= a >= 0 && a < M && b >= 0 && b < N && lum->data[a * N + b] >= 0.995f;
            clip[i * N + j] = (float)any;
        }
    deconv_blind_params p;
    short_blind_params(&p);
    p.kernel_width = p.kernel_height = KS;
    deconv_response_srgb(&p.response);
    p.starts = 5;
    float h[2][5][NK];
    double score[2][5];
    int rc = 0;
    for (int t = 0; t < 2; t++) {
        p.threads = t + 1;
        rc |= deconv_blind_test_starts(lum, &p, h[t][0], score[t]);
    }
    CHECK(rc == 0, "five starts on the bright page failed");
    if (rc == 0) {
        printf("one-sided start: kernel NCC %.3f (start 0: %.3f), score %.5f (start 0: %.5f)\n",
               kernel_ncc(h[0][4], truth, KS, KS), kernel_ncc(h[0][0], truth, KS, KS),
               score[0][4], score[0][0]);
        CHECK(isfinite(score[0][4]) && memcmp(h[0][4], h[0][0], sizeof h[0][0]) != 0,
              "the bright page's fifth start did not run");
        CHECK(!memcmp(h[0][4], h[1][4], sizeof h[0][4]),
              "the fifth start differs on one thread and two");
    }
    /* the page's pieces cleared: only the small ones (none here) stay */
    unsigned char *c = malloc(N * M), *large = malloc(N * M);
    for (int i = 0; i < N * M; i++)
        c[i] = clip[i] > 0;
    CHECK(deconv_blind_test_large_clipped(c, N, M, KS, KS, large) > 0, "the page is not large");
    for (int i = 0; i < N * M; i++)
        clip[i] = large[i] ? 0.0f : clip[i];
    p.threads = 2;
    rc = deconv_blind_test_starts(lum, &p, h[0][0], score[0]);
    CHECK(rc == 0 && !isfinite(score[0][4]) && !memcmp(h[0][4], h[0][0], sizeof h[0][0]),
          "without a large clipped piece the fifth start ran");
    free(c), free(large), free(x);
    deconv_image_free(lum);
}

/* The estimate's input from a colour photo under the camera's model. Its
 * red channel clipped on a third of the frame, green and blue nowhere: the
 * estimate reads green and blue alone (their luminance, each decoded to
 * linear light) and marks nothing clipped. The red clipped on a few
 * pixels only: all three are read (the luminance decoded, as for a photo
 * clipped evenly) and those pixels and their neighbours are marked. */
static void test_uneven_channels(void)
{
    const int N = 61, M = 47;
    const size_t n = (size_t)N * M;
    deconv_response r;
    deconv_response_srgb(&r);
    for (int few = 0; few <= 1; few++) {
        deconv_image *y = deconv_image_new(N, M, 3);
        for (int c = 0; c < 3; c++) /* smooth: the noise estimate reads ~0 */
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++)
                    y->data[(size_t)c * n + (size_t)i * N + j] =
                        (float)(0.1 + 0.2 * c + 0.4 * (i + 2.0 * j) / (M + 2.0 * N));
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                if (few ? (i == 20 && (j == 10 || j == 40)) : j < N / 3)
                    y->data[(size_t)i * N + j] = 1.0f;
        deconv_image *in = deconv_blind_test_camera_input(y, &r);
        CHECK(in != NULL, "camera input: out of memory");
        if (!in) {
            deconv_image_free(y);
            continue;
        }
        float *want = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n),
              *b = malloc(sizeof(float) * n);
        if (few) {
            deconv_image *lum = deconv_image_luminance(y);
            deconv_response_decode(&r, lum->data, want, n);
            deconv_image_free(lum);
        } else {
            deconv_response_decode(&r, deconv_image_plane(y, 1), g, n);
            deconv_response_decode(&r, deconv_image_plane(y, 2), b, n);
            for (size_t i = 0; i < n; i++)
                want[i] = (0.7152f * g[i] + 0.0722f * b[i]) / (0.7152f + 0.0722f);
        }
        double worst = 0;
        for (size_t i = 0; i < n; i++)
            worst = fmax(worst, fabs(in->data[i] - want[i]));
        CHECK(worst < 1e-6, "camera input (red clipped on %s): light off by %g",
              few ? "two pixels" : "a third", worst);
        if (few) {
            CHECK(in->channels == 2, "camera input: the red channel's clipped pixels not marked");
            if (in->channels == 2) {
                const float *clip = deconv_image_plane(in, 1);
                int count = 0;
                for (size_t i = 0; i < n; i++)
                    count += clip[i] > 0;
                CHECK(count == 18 && clip[20 * N + 10] > 0 && clip[19 * N + 41] > 0 &&
                          clip[21 * N + 39] > 0 && clip[22 * N + 10] == 0,
                      "camera input: %d pixels marked around two clipped ones, not 18", count);
            }
        } else
            CHECK(in->channels == 1, "camera input: marked clipped pixels from the red channel, "
                                     "which is not read");
        free(want), free(g), free(b);
        deconv_image_free(in);
        /* the public query names the same channels, and what is clipped */
        deconv_blind_params p;
        deconv_blind_defaults(&p);
        p.kernel_width = p.kernel_height = 5;
        p.response = r;
        unsigned read = 0;
        double clipped[3] = {-1, -1, -1};
        deconv_error err;
        CHECK(deconv_blind_channels(y, &p, &read, clipped, &err) == DECONV_OK,
              "deconv_blind_channels: %s", err.message);
        const double red = few ? 2.0 / n : (double)(N / 3) / N;
        CHECK(read == (few ? 7u : 6u) && fabs(clipped[0] - red) < 1e-12 && clipped[1] == 0 &&
                  clipped[2] == 0,
              "deconv_blind_channels (red clipped on %s): read %u, clipped %g %g %g",
              few ? "two pixels" : "a third", read, clipped[0], clipped[1], clipped[2]);
        deconv_response_linear(&p.response); /* the linear model reads every channel */
        CHECK(deconv_blind_channels(y, &p, &read, clipped, &err) == DECONV_OK && read == 7 &&
                  clipped[0] == 0,
              "deconv_blind_channels, linear: read %u, red clipped %g", read, clipped[0]);
        deconv_image_free(y);
    }
}

static void test_camera_blind(void)
{
    deconv_error err;
    deconv_image *im;
    deconv_kernel *k;
    if (!camera_and_motion(11, 30, &im, &k))
        return;
    deconv_response r;
    deconv_response_srgb(&r);
    deconv_response_decode(&r, im->data, im->data, (size_t)im->width * im->height);
    const int N = 200, M = 200, kw = k->width, kh = k->height;
    deconv_image *y = blurred_window(im, k, N, M, 60, 150, 0);
    deconv_response_encode(&r, y->data, y->data, (size_t)N * M);
    for (int i = 0; i < N * M; i++)
        y->data[i] = (float)fmin(1, fmax(0, y->data[i] + 0.005 * gauss()));
    deconv_blind_params p;
    deconv_blind_defaults(&p);
    p.kernel_width = kw, p.kernel_height = kh;
    p.response = r;
    deconv_kernel *est = deconv_blind_kernel(y, &p, &err);
    CHECK(est != NULL, "camera blind estimate failed: %s", err.message);
    if (est) {
        double ncc = kernel_ncc(est->data, k->data, kw, kh);
        printf("camera blind: kernel NCC %.3f\n", ncc);
        CHECK(ncc > 0.75, "camera-made motion 11 px at 30 degrees: kernel NCC %g", ncc);
        deconv_kernel_free(est);
    }
    deconv_image_free(y);
    deconv_image_free(im);
    deconv_kernel_free(k);
}

int main(void)
{
    test_dilate();
    test_normal_fft();
    test_normal_operator();
    test_l0_step();
    test_projection();
    test_kernel_step();
    test_kernel_smoothness();
    test_kernel_rules();
    test_smooth_start();
    test_auto_size();
    test_auto_size_page();
    test_auto_size_bright();
    test_whiten();
    test_shock_filter();
    test_uneven_channels();
    test_camera_blind();
    test_large_clipped();
    test_one_sided_start();
    test_end_to_end();
    test_starts();
    test_shock_start();
    test_shock_alone();
    test_window();
    return check_done("test_blind");
}
