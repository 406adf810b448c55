/* The regularisers' gradients against central differences of their values,
 * and their values on hand-checked images. */
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

int main(void)
{
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
