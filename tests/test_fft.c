/* The FFT path of the blur operator (src/operator.c, src/fft.c) against the
 * direct one (src/conv.c), for every size class: odd and even, square and
 * non-square, a 1x1 kernel, a kernel as large as x, sizes whose padded
 * size differs from x (large prime factors), images of several tiles,
 * tiles smaller than the kernel, and MODEL.md's adjoint identity
 * <H x, r> = <x, H^T r> for the FFT operator. Also: the direct and FFT
 * operators give the same bytes with 1 and 2 threads and when made inside
 * a parallel region, and AUTO picks one of the two. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "check.h"
#include "operator.h"

static unsigned long long seed = 42;

static float *random_plane(size_t n, int signed_values)
{
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(signed_values ? 2.0 * check_rand(&seed) - 1.0 : check_rand(&seed));
    return v;
}

static double norm(const float *a, size_t n) { return sqrt(deconv_dot(a, a, n)); }

static double rel_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    double s = norm(b, n);
    return sqrt(d) / (s > 0 ? s : 1);
}

/* y is N x M (width x height), kernel kw x kh; the FFT path's tiles of
 * ph x pw transforms (deconv_op_new_tiles) or, with 0, the kernel's. */
static void check_case(int N, int M, int kw, int kh, int sparse, int ph, int pw)
{
    const int xw = N + kw - 1, xh = M + kh - 1;
    const size_t nx = (size_t)xw * xh, ny = (size_t)N * M;
    float *h = random_plane((size_t)kw * kh, 0);
    if (sparse) /* zero taps, as in a motion kernel */
        for (int t = 0; t < kw * kh; t++)
            if (t % 3)
                h[t] = 0.0f;
    float *x = random_plane(nx, 1), *r = random_plane(ny, 1);
    float *y_d = malloc(ny * sizeof(float)), *y_f = malloc(ny * sizeof(float));
    float *g_d = malloc(nx * sizeof(float)), *g_f = malloc(nx * sizeof(float));

    deconv_error err;
    deconv_op *dop = deconv_op_new(N, M, h, kw, kh, DECONV_CONV_DIRECT, &err);
    deconv_op *fop = ph ? deconv_op_new_tiles(N, M, h, kw, kh, ph, pw, &err)
                        : deconv_op_new(N, M, h, kw, kh, DECONV_CONV_FFT, &err);
    CHECK(dop && fop, "%dx%d k %dx%d: operators made", N, M, kw, kh);
    if (!dop || !fop)
        goto done;
    CHECK(deconv_op_mode(dop) == DECONV_CONV_DIRECT, "direct mode kept");
    CHECK(deconv_op_mode(fop) == DECONV_CONV_FFT, "fft mode kept");

    /* run twice: the operators must be reusable (plans and buffers) */
    for (int rep = 0; rep < 2; rep++) {
        deconv_op_apply(dop, x, y_d);
        deconv_op_apply(fop, x, y_f);
        deconv_op_adjoint(dop, r, g_d);
        deconv_op_adjoint(fop, r, g_f);
        double ea = rel_diff(y_f, y_d, ny), eg = rel_diff(g_f, g_d, nx);
        CHECK(ea < 1e-5, "y %dx%d k %dx%d: fft apply differs from direct by %.3g", N, M, kw,
              kh, ea);
        CHECK(eg < 1e-5, "y %dx%d k %dx%d: fft adjoint differs from direct by %.3g", N, M, kw,
              kh, eg);
    }
    /* the direct operator is conv.c's functions */
    float *y_c = malloc(ny * sizeof(float));
    deconv_conv_valid(x, xw, xh, h, kw, kh, y_c);
    CHECK(memcmp(y_c, y_d, ny * sizeof(float)) == 0, "direct apply is deconv_conv_valid");
    free(y_c);

    /* adjoint identity for the FFT operator */
    double lhs = deconv_dot(y_f, r, ny), rhs = deconv_dot(x, g_f, nx);
    double scale = norm(y_f, ny) * norm(r, ny);
    CHECK(fabs(lhs - rhs) <= 1e-5 * (scale > 0 ? scale : 1),
          "y %dx%d k %dx%d: <Hx,r> = %.9g but <x,H^T r> = %.9g", N, M, kw, kh, lhs, rhs);

    /* the same bytes with 1 and 2 threads, for both paths */
    int saved = omp_get_max_threads();
    float *y1 = malloc(ny * sizeof(float)), *g1 = malloc(nx * sizeof(float));
    deconv_op *ops[2] = {dop, fop};
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(1);
        deconv_op_apply(ops[k], x, y1);
        deconv_op_adjoint(ops[k], r, g1);
        omp_set_num_threads(2);
        deconv_op_apply(ops[k], x, y_f);
        deconv_op_adjoint(ops[k], r, g_f);
        CHECK(memcmp(y1, y_f, ny * sizeof(float)) == 0 &&
                  memcmp(g1, g_f, nx * sizeof(float)) == 0,
              "y %dx%d k %dx%d: %s path depends on the thread count", N, M, kw, kh,
              k ? "fft" : "direct");
    }
    omp_set_num_threads(saved);
    free(y1);
    free(g1);

    deconv_conv_mode m = deconv_op_choose(N, M, h, kw, kh);
    CHECK(m == DECONV_CONV_DIRECT || m == DECONV_CONV_FFT, "auto picks a path");
    deconv_op *aop = deconv_op_new(N, M, h, kw, kh, DECONV_CONV_AUTO, &err);
    CHECK(aop && deconv_op_mode(aop) == m, "auto operator takes the chosen path");
    deconv_op_free(aop);
done:
    deconv_op_free(dop);
    deconv_op_free(fop);
    free(h), free(x), free(r), free(y_d), free(y_f), free(g_d), free(g_f);
}

/* FFT operators made and applied inside a parallel region, one a thread
 * that asks for one thread (as the blind estimate's starts do): the bytes
 * of one made outside. */
static void check_made_in_region(int N, int M, int kw, int kh)
{
    const size_t nx = (size_t)(N + kw - 1) * (M + kh - 1), ny = (size_t)N * M;
    float *h = random_plane((size_t)kw * kh, 0), *x = random_plane(nx, 1);
    float *y = malloc(ny * sizeof(float));
    deconv_op *op = deconv_op_new(N, M, h, kw, kh, DECONV_CONV_FFT, NULL);
    deconv_op_apply(op, x, y);
    int team = 0, same = 0;
#pragma omp parallel num_threads(2)
    {
        omp_set_num_threads(1);
        deconv_op *mine = deconv_op_new(N, M, h, kw, kh, DECONV_CONV_FFT, NULL);
        float *ym = malloc(ny * sizeof(float));
        int ok = mine && ym;
        if (ok) {
            deconv_op_apply(mine, x, ym);
            ok = memcmp(y, ym, ny * sizeof(float)) == 0;
        }
#pragma omp atomic
        team++;
#pragma omp atomic
        same += ok;
        deconv_op_free(mine);
        free(ym);
    }
    CHECK(same == team, "y %dx%d k %dx%d: %d of %d operators made in a parallel region agree",
          N, M, kw, kh, same, team);
    deconv_op_free(op);
    free(h), free(x), free(y);
}

/* The cost model of --conv auto on a long thin trajectory (75 x 75, 160
 * taps) over 0.75 megapixels: the FFT, measured 2.4 times faster there
 * than the direct path's plain sums (docs/benchmarks.md, "Long kernels");
 * a model that counted a plain tap as two strip taps chose the direct. */
static void check_long_trajectory_choice(void)
{
    const int k = 75;
    float *h = calloc((size_t)k * k, sizeof(float));
    int taps = 0;
    for (int t = 0; t < 4000 && taps < 160; t++) {
        double a = t * 3.0 / 4000;
        int i = (int)(k / 2 + k / 2.5 * sin(a)), j = (int)(k / 2 + k / 2.5 * cos(a) * sin(2 * a));
        for (int d = 0; d < 2; d++)
            if (h[i * k + (j + d) % k] == 0.0f) {
                h[i * k + (j + d) % k] = 1.0f;
                taps++;
            }
    }
    CHECK(deconv_op_choose(1000, 750, h, k, k) == DECONV_CONV_FFT,
          "auto should take the FFT for a %d-tap 75 x 75 trajectory", taps);
    free(h);
}

int main(void)
{
    /* {N (width), M (height), kw, kh, sparse, ph, pw}; ph, pw 0: the
     * kernel's tiles */
    static const int cases[][7] = {
        {16, 16, 3, 3, 0, 0, 0},   /* even, square */
        {17, 17, 5, 5, 0, 0, 0},   /* odd, square */
        {32, 21, 4, 6, 0, 0, 0},   /* even and odd, non-square, even kernel */
        {21, 40, 7, 3, 1, 0, 0},   /* non-square kernel, sparse */
        {25, 19, 1, 1, 0, 0, 0},   /* 1x1 kernel */
        {1, 1, 9, 7, 0, 0, 0},     /* kernel as large as x: y is one pixel */
        {1, 30, 5, 5, 0, 0, 0},    /* one column */
        {30, 1, 5, 5, 0, 0, 0},    /* one row */
        {97, 89, 13, 11, 0, 0, 0}, /* x of 109 x 99: prime sizes, padded */
        {101, 53, 31, 31, 1, 0, 0}, /* x of 131 (prime) x 83 (prime) */
        {211, 127, 63, 63, 0, 0, 0}, /* the largest kernels, padded 273 -> 280 */
        {64, 48, 17, 9, 0, 0, 0},  /* x of 80 x 56: already a good size */
        {1100, 620, 31, 31, 0, 0, 0}, /* tiles of 480 x 480: 3 x 2, partial ones */
        {530, 1030, 75, 9, 1, 0, 0},  /* tiles of 564 x 504, non-square kernel */
        {1400, 300, 130, 20, 1, 0, 0}, /* a wide kernel: tiles of 1148 columns */
        {90, 70, 40, 30, 0, 43, 50}, /* tiles of 8 x 12: smaller than the kernel */
        {61, 47, 9, 12, 1, 21, 17},  /* tiles of 8 x 8, odd transforms */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        check_case(cases[c][0], cases[c][1], cases[c][2], cases[c][3], cases[c][4], cases[c][5],
                   cases[c][6]);
    check_made_in_region(97, 89, 13, 11);   /* one tile */
    check_made_in_region(1100, 620, 31, 31); /* 3 x 2 tiles */
    check_long_trajectory_choice();
    return check_done("test_fft");
}
