/* The regularisers' gradients against central differences of their values,
 * and their values on hand-checked images. */
#include <omp.h>
#include <string.h>

#include "check.h"
#include "deconv.h"

static unsigned long long seed = 777;

static void check_gradient(int w, int h, int tv)
{
    size_t n = (size_t)w * h;
    float *x = malloc(n * 4), *g = calloc(n, 4);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)check_rand(&seed);
    const double eps = 0.05, weight = 0.7;
    if (tv)
        deconv_tv(x, w, h, eps, weight, g);
    else
        deconv_tikhonov(x, w, h, weight, g);
    for (int probe = 0; probe < 10; probe++) {
        size_t p = (size_t)(check_rand(&seed) * n);
        float keep = x[p], e = 1e-3f;
        x[p] = keep + e;
        double fp = tv ? deconv_tv(x, w, h, eps, 0, NULL) : deconv_tikhonov(x, w, h, 0, NULL);
        x[p] = keep - e;
        double fm = tv ? deconv_tv(x, w, h, eps, 0, NULL) : deconv_tikhonov(x, w, h, 0, NULL);
        x[p] = keep;
        double fd = weight * (fp - fm) / ((double)(keep + e) - (double)(keep - e));
        CHECK(fabs(fd - g[p]) < 2e-3 * fmax(1.0, fabs(fd)), "%s %dx%d at %zu: gradient %g, "
              "finite difference %g", tv ? "TV" : "Tikhonov", w, h, p, g[p], fd);
    }
    free(x);
    free(g);
}

/* MODEL.md's smoothed TV, sum sqrt(dx^2 + dy^2 + eps^2) with forward
 * differences (0 past the last row and column), and its gradient, in the
 * plainest loops and in double: the reference of the blocked, vectorised
 * deconv_tv. */
static double reference_tv(const float *x, int w, int h, double eps, double *g)
{
    double v = 0;
    memset(g, 0, sizeof(double) * w * h);
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            double dx = j + 1 < w ? (double)x[i * w + j + 1] - x[i * w + j] : 0;
            double dy = i + 1 < h ? (double)x[(i + 1) * w + j] - x[i * w + j] : 0;
            double n = sqrt(dx * dx + dy * dy + eps * eps);
            v += n;
            g[i * w + j] -= (dx + dy) / n;
            if (j + 1 < w)
                g[i * w + j + 1] += dx / n;
            if (i + 1 < h)
                g[(i + 1) * w + j] += dy / n;
        }
    return v;
}

/* deconv_tv against the reference on sizes that cross its row blocks (32)
 * and its parallel threshold, and the same bits on 1 and 2 threads. */
static void tv_against_reference(int w, int h)
{
    size_t n = (size_t)w * h;
    float *x = malloc(n * 4), *g = calloc(n, 4), *g2 = calloc(n, 4);
    double *gr = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(check_rand(&seed) < 0.2 ? check_rand(&seed) : 0.5);
    const double eps = 0.01, weight = 0.3;
    double vr = reference_tv(x, w, h, eps, gr);
    omp_set_num_threads(1);
    double v1 = deconv_tv(x, w, h, eps, weight, g);
    omp_set_num_threads(2);
    double v2 = deconv_tv(x, w, h, eps, weight, g2);
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(g[i] - weight * gr[i]));
    CHECK(fabs(v1 - vr) <= 1e-6 * vr, "TV %dx%d: %.9g, reference %.9g", w, h, v1, vr);
    CHECK(worst <= 1e-5, "TV gradient %dx%d: off the reference by %g", w, h, worst);
    CHECK(v1 == v2 && memcmp(g, g2, n * 4) == 0, "TV %dx%d: 1 and 2 threads differ", w, h);
    CHECK(deconv_tv(x, w, h, eps, 0, NULL) == v1, "TV %dx%d: value alone differs", w, h);
    free(x), free(g), free(g2), free(gr);
}

int main(void)
{
    int tv_sizes[][2] = {{1, 1}, {3, 70}, {70, 3}, {64, 33}, {300, 257}, {1000, 77}, {129, 1100}};
    for (size_t s = 0; s < sizeof tv_sizes / sizeof tv_sizes[0]; s++)
        tv_against_reference(tv_sizes[s][0], tv_sizes[s][1]);
    int sizes[][2] = {{1, 1}, {1, 7}, {7, 1}, {2, 2}, {5, 8}, {16, 9}, {33, 20}};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        check_gradient(sizes[s][0], sizes[s][1], 1);
        check_gradient(sizes[s][0], sizes[s][1], 0);
    }
    /* A constant image: TV is eps per pixel, Tikhonov zero, gradients zero. */
    float c[12], g[12] = {0};
    for (int i = 0; i < 12; i++)
        c[i] = 0.3f;
    CHECK(fabs(deconv_tv(c, 4, 3, 0.01, 1, g) - 12 * 0.01) < 1e-6, "TV of a constant");
    CHECK(deconv_tikhonov(c, 4, 3, 1, g) == 0, "Tikhonov of a constant");
    for (int i = 0; i < 12; i++)
        CHECK(g[i] == 0, "gradient of a constant at %d: %g", i, g[i]);
    /* A vertical step edge of height 1 across 3 rows: TV ~ 3 (eps small). */
    float e[12] = {0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1};
    CHECK(fabs(deconv_tv(e, 4, 3, 1e-6, 1, NULL) - 3) < 1e-4, "TV of a step: %g",
          deconv_tv(e, 4, 3, 1e-6, 1, NULL));
    CHECK(fabs(deconv_tikhonov(e, 4, 3, 1, NULL) - 1.5) < 1e-6, "Tikhonov of a step");
    return check_done("regularize");
}
