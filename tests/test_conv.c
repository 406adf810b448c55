/* MODEL.md's three identities for the operators of conv.c, over many random
 * sizes: odd and even, square and not, 1x1 kernels, a kernel as large as
 * the image. Float results are checked against double references. */
#include <string.h>

#include "check.h"
#include "deconv.h"

static unsigned long long seed = 12345;

static void fill(float *v, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(lo + (hi - lo) * check_rand(&seed));
}

/* The plain four-loop formula of MODEL.md, in double. */
static void ref_conv_valid(const float *x, int xw, int xh, const float *h, int kw, int kh,
                           double *y)
{
    int N = xw - kw + 1, M = xh - kh + 1;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int a = 0; a < kh; a++)
                for (int b = 0; b < kw; b++)
                    s += (double)h[a * kw + b] * x[(i + kh - 1 - a) * xw + (j + kw - 1 - b)];
            y[i * N + j] = s;
        }
}

static void ref_grad_x(const float *r, int N, int M, const float *h, int kw, int kh, double *g)
{
    int xw = N + kw - 1, xh = M + kh - 1;
    for (int p = 0; p < xh; p++)
        for (int q = 0; q < xw; q++) {
            double s = 0;
            for (int a = 0; a < kh; a++)
                for (int b = 0; b < kw; b++) {
                    int i = p - (kh - 1 - a), j = q - (kw - 1 - b);
                    if (i >= 0 && i < M && j >= 0 && j < N)
                        s += (double)h[a * kw + b] * r[i * N + j];
                }
            g[p * xw + q] = s;
        }
}

static void ref_grad_h(const float *x, int N, int M, const float *r, int kw, int kh, double *g)
{
    int xw = N + kw - 1;
    for (int a = 0; a < kh; a++)
        for (int b = 0; b < kw; b++) {
            double s = 0;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++)
                    s += (double)r[i * N + j] * x[(i + kh - 1 - a) * xw + (j + kw - 1 - b)];
            g[a * kw + b] = s;
        }
}

static double max_rel_err(const float *v, const double *ref, size_t n)
{
    double scale = 0, err = 0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs(ref[i]));
        err = fmax(err, fabs(v[i] - ref[i]));
    }
    return scale > 0 ? err / scale : err;
}

static double ddot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static void one_case(int N, int M, int kw, int kh)
{
    int xw = N + kw - 1, xh = M + kh - 1;
    size_t nx = (size_t)xw * xh, ny = (size_t)N * M, nk = (size_t)kw * kh;
    float *x = malloc(nx * 4), *h = malloc(nk * 4), *y = malloc(ny * 4), *r = malloc(ny * 4),
          *gx = malloc(nx * 4), *gh = malloc(nk * 4), *rr = malloc(ny * 4);
    double *ry = malloc(ny * 8), *rgx = malloc(nx * 8), *rgh = malloc(nk * 8);
    fill(x, nx, -1, 1);
    fill(h, nk, -1, 1);
    fill(r, ny, -1, 1);

    /* 3. reference values */
    deconv_conv_valid(x, xw, xh, h, kw, kh, y);
    ref_conv_valid(x, xw, xh, h, kw, kh, ry);
    CHECK(max_rel_err(y, ry, ny) < 1e-5, "conv %dx%d * %dx%d: err %g", kw, kh, xw, xh,
          max_rel_err(y, ry, ny));
    deconv_corr_full(r, N, M, h, kw, kh, gx);
    ref_grad_x(r, N, M, h, kw, kh, rgx);
    CHECK(max_rel_err(gx, rgx, nx) < 1e-5, "H^T r %dx%d, kernel %dx%d: err %g", N, M, kw, kh,
          max_rel_err(gx, rgx, nx));
    deconv_corr_kernel(x, xw, xh, r, kw, kh, gh);
    ref_grad_h(x, N, M, r, kw, kh, rgh);
    CHECK(max_rel_err(gh, rgh, nk) < 1e-5, "X^T r %dx%d, kernel %dx%d: err %g", N, M, kw, kh,
          max_rel_err(gh, rgh, nk));

    /* 1. adjoint identities: <h*x, r> = <x, H^T r> = <h, X^T r> */
    double lhs = ddot(y, r, ny), rx = ddot(x, gx, nx), rh = ddot(h, gh, nk);
    /* Relative to Cauchy-Schwarz's bound ||Hx|| ||r||: lhs itself may be
     * near zero by cancellation. */
    double sc = sqrt(ddot(y, y, ny) * ddot(r, r, ny)) + 1e-30;
    CHECK(fabs(lhs - rx) / sc < 1e-5, "<Hx,r> %.9g vs <x,H^T r> %.9g (%dx%d k %dx%d)", lhs, rx,
          N, M, kw, kh);
    CHECK(fabs(lhs - rh) / sc < 1e-5, "<Hx,r> %.9g vs <h,X^T r> %.9g (%dx%d k %dx%d)", lhs, rh,
          N, M, kw, kh);

    /* 2. finite differences of f at a few random coordinates, in double
     * through the reference convolution (the gradients from deconv_objective). */
    fill(y, ny, -1, 1);
    deconv_objective(x, y, N, M, h, kw, kh, rr, gx, gh);
    for (int probe = 0; probe < 3; probe++) {
        size_t px = (size_t)(check_rand(&seed) * nx), ph = (size_t)(check_rand(&seed) * nk);
        for (int which = 0; which < 2; which++) {
            float *v = which ? &h[ph] : &x[px];
            float keep = *v, e = 1e-2f;
            double f[2];
            for (int sgn = 0; sgn < 2; sgn++) {
                *v = keep + (sgn ? e : -e);
                ref_conv_valid(x, xw, xh, h, kw, kh, ry);
                double s = 0;
                for (size_t i = 0; i < ny; i++)
                    s += 0.5 * (ry[i] - y[i]) * (ry[i] - y[i]);
                f[sgn] = s;
            }
            /* the step actually taken, after float rounding of keep +- e */
            double fd = (f[1] - f[0]) / ((double)(keep + e) - (double)(keep - e));
            *v = keep;
            double an = which ? gh[ph] : gx[px];
            CHECK(fabs(fd - an) <= 1e-3 * fmax(1.0, fabs(an)),
                  "%s gradient %g vs finite difference %g (%dx%d k %dx%d)",
                  which ? "kernel" : "image", an, fd, N, M, kw, kh);
        }
    }
    free(x), free(h), free(y), free(r), free(gx), free(gh), free(rr);
    free(ry), free(rgx), free(rgh);
}

static void hand_checked(void)
{
    /* x = [[1,2,3],[4,5,6],[7,8,9]], h = [[1,0],[0,-1]]:
     * (h*x)[i][j] = x[i+1][j+1] - x[i][j] = 4 everywhere (true convolution). */
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, h[4] = {1, 0, 0, -1}, y[4];
    deconv_conv_valid(x, 3, 3, h, 2, 2, y);
    for (int i = 0; i < 4; i++)
        CHECK(y[i] == 4.0f, "hand case 1: y[%d] = %g, expected 4", i, y[i]);
    /* h = [[0,1]] (1x2): y[i][j] = h[0][0] x[i][j+1] + h[0][1] x[i][j] = x[i][j]. */
    float h2[2] = {0, 1}, y2[6];
    deconv_conv_valid(x, 3, 3, h2, 2, 1, y2);
    float want[6] = {1, 2, 4, 5, 7, 8};
    for (int i = 0; i < 6; i++)
        CHECK(y2[i] == want[i], "hand case 2: y[%d] = %g, expected %g", i, y2[i], want[i]);
    /* 1x1 kernel of 2: y = 2x. */
    float h3 = 2, y3[9];
    deconv_conv_valid(x, 3, 3, &h3, 1, 1, y3);
    for (int i = 0; i < 9; i++)
        CHECK(y3[i] == 2 * x[i], "hand case 3: y[%d] = %g", i, y3[i]);
}

int main(void)
{
    hand_checked();
    int fixed[][4] = {{1, 1, 1, 1}, {5, 4, 1, 1}, {1, 1, 7, 5}, {8, 8, 8, 8}, {6, 9, 3, 2},
                      {16, 3, 4, 4}, {3, 16, 5, 9}};
    for (size_t c = 0; c < sizeof fixed / sizeof fixed[0]; c++)
        one_case(fixed[c][0], fixed[c][1], fixed[c][2], fixed[c][3]);
    for (int c = 0; c < 60; c++) {
        int N = 1 + (int)(check_rand(&seed) * 40), M = 1 + (int)(check_rand(&seed) * 40);
        int kw = 1 + (int)(check_rand(&seed) * 12), kh = 1 + (int)(check_rand(&seed) * 12);
        one_case(N, M, kw, kh);
    }
    /* A kernel as large as the image y: x twice its size less one. */
    one_case(1, 1, 13, 11);
    one_case(9, 9, 9, 9);

    /* deconv_dot: the same value whatever the thread count. */
    size_t n = 100003;
    float *a = malloc(n * 4), *b = malloc(n * 4);
    fill(a, n, -1, 1);
    fill(b, n, -1, 1);
    double d1, d2;

    {
        extern int omp_get_max_threads(void);
        extern void omp_set_num_threads(int);
        int keep = omp_get_max_threads();
        omp_set_num_threads(1);
        d1 = deconv_dot(a, b, n);
        omp_set_num_threads(2);
        d2 = deconv_dot(a, b, n);
        omp_set_num_threads(keep);
    }
    CHECK(d1 == d2, "dot depends on threads: %.17g vs %.17g", d1, d2);
    CHECK(fabs(d1 - ddot(a, b, n)) < 1e-9 * n, "dot %.12g vs %.12g", d1, ddot(a, b, n));
    free(a), free(b);
    return check_done("conv");
}
