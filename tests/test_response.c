/* The camera's model (MODEL.md, "The camera"): the curves and the soft clip
 * against their formulas, G(L(u)) = u, and the data term's gradients
 * through both maps by finite differences, at points below, near and past
 * white and near black; with the linear response, the linear model's
 * objective exactly; the image step's kept work, the bytes of none. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "data_term.h"
#include "deconv.h"
#include "response.h"

static unsigned long long seed = 4242;

/* a[i] uniform on [0, scale) */
static void fill_uniform(float *a, int n, double scale)
{
    for (int i = 0; i < n; i++)
        a[i] = (float)(scale * check_rand(&seed));
}

static double srgb_decode_ref(double u)
{
    return u <= 0.04045 ? u / 12.92 : pow((u + 0.055) / 1.055, 2.4);
}

static void test_curves(void)
{
    deconv_response s, g, lin;
    deconv_response_srgb(&s);
    CHECK(deconv_response_gamma(&g, 2.2, NULL) == DECONV_OK, "gamma 2.2");
    deconv_response_linear(&lin);
    CHECK(deconv_response_check(&s, NULL) == DECONV_OK, "sRGB is a valid response");
    CHECK(deconv_response_check(&g, NULL) == DECONV_OK, "gamma is a valid response");
    double worst_ref = 0, worst_round = 0, worst_slope = 0;
    for (int i = 0; i <= 2000; i++) {
        float u = (float)(i / 1000.0); /* 0 .. 2, past white too */
        float sl, sg;
        float l = deconv_decode1(&s, u, &sl);
        worst_ref = fmax(worst_ref, fabs(l - srgb_decode_ref(u)) / fmax(1e-3, srgb_decode_ref(u)));
        float back = deconv_encode1(&s, l, &sg);
        worst_round = fmax(worst_round, fabs(back - u));
        /* G'(L(u)) L'(u) = 1, but at the knots (a slope has two sides) */
        if (fabs(u - s.d) > 1e-4)
            worst_slope = fmax(worst_slope, fabs(sg * sl - 1.0f));
        float lg = deconv_decode1(&g, u, &sl);
        worst_round = fmax(worst_round, fabs(deconv_encode1(&g, lg, &sg) - u));
        if (fabs(u - g.d) > 1e-4)
            worst_slope = fmax(worst_slope, fabs(sg * sl - 1.0f));
        if (u >= 0.01f)
            CHECK(fabs(lg - pow(u, 2.2)) <= 1e-5 * fmax(1, pow(u, 2.2)), "gamma 2.2 at %g", u);
    }
    CHECK(worst_ref < 1e-5, "sRGB decode matches IEC 61966-2-1 (%g)", worst_ref);
    CHECK(worst_round < 4e-7, "G(L(u)) = u to float rounding (%g)", worst_round);
    CHECK(worst_slope < 1e-5, "G' L' = 1 (%g)", worst_slope);
    /* the derivatives by central differences, both pieces of both curves */
    const deconv_response *rs[2] = {&s, &g};
    for (int c = 0; c < 2; c++)
        for (double u = 0.003; u < 2.5; u *= 1.37) {
            float sl, dummy;
            deconv_decode1(rs[c], (float)u, &sl);
            double e = 1e-3 * u;
            double fd = (deconv_decode1(rs[c], (float)(u + e), &dummy) -
                         deconv_decode1(rs[c], (float)(u - e), &dummy)) /
                        ((float)(u + e) - (float)(u - e));
            CHECK(fabs(fd - sl) <= 2e-3 * fabs(sl) + 1e-6, "L' at %g: %g vs %g", u, sl, fd);
        }
    /* the soft clip: R and R' against the formula, no overflow far past */
    for (double v = -0.5; v < 3.0; v += 0.01) {
        float sr;
        float r = deconv_soft_clip((float)v, &sr);
        double z = DECONV_SOFT_CLIP_SHARPNESS * (v - 1);
        double ref = v - log1p(exp(z)) / DECONV_SOFT_CLIP_SHARPNESS;
        CHECK(fabs(r - ref) < 2e-6, "R(%g) = %g, formula %g", v, r, ref);
        CHECK(fabs(sr - 1 / (1 + exp(z))) < 1e-6, "R'(%g)", v);
    }
    float sr;
    CHECK(deconv_soft_clip(1e30f, &sr) == 1.0f && sr < 1e-30f, "R at huge values is 1, flat");
    CHECK(isfinite(deconv_soft_clip(-1e30f, &sr)) && sr == 1.0f, "R at huge negative values");
    CHECK(fabs(deconv_soft_clip(0.5f, &sr) - 0.5f) < 1e-7 && sr == 1.0f,
          "R is the identity below white");
    /* the box */
    CHECK(deconv_response_max(&lin) == 1.0, "linear: the box ends at 1");
    CHECK(fabs(deconv_response_max(&s) - (1.055 * pow(DECONV_MAX_LIGHT, 1 / 2.4) - 0.055)) < 1e-4,
          "sRGB: the box ends at G(max light)");
}

static void test_powf(void)
{
    double worst = 0;
    const float ys[] = {2.4f, 1.0f / 2.4f, 2.2f, 1.0f / 2.2f, 1.8f, 0.45f, 1.0f / 0.45f, 0.2f, 5.0f};
    for (size_t k = 0; k < sizeof ys / sizeof ys[0]; k++)
        for (double x = 1e-6; x < 300; x *= 1.0137) { /* the curves' range */
            double ref = pow((float)x, ys[k]);
            worst = fmax(worst, fabs(deconv_powf((float)x, ys[k]) - ref) / ref);
        }
    CHECK(worst < 1e-5, "deconv_powf's relative error %g", worst);
    CHECK(deconv_powf(0.0f, 2.4f) == 0.0f && deconv_powf(-1.0f, 2.4f) == 0.0f, "x <= 0 gives 0");
    CHECK(deconv_powf(1.0f, 2.4f) == 1.0f, "1^y = 1");
}

static void test_parse(void)
{
    deconv_response r;
    deconv_error err;
    CHECK(deconv_response_parse("srgb", &r, &err) == DECONV_OK && r.soft_clip, "srgb");
    CHECK(deconv_response_parse("linear", &r, &err) == DECONV_OK && !r.soft_clip &&
              r.kind == DECONV_RESPONSE_LINEAR, "linear");
    CHECK(deconv_response_parse("gamma:1.8", &r, &err) == DECONV_OK && r.gamma == 1.8, "gamma:1.8");
    CHECK(deconv_response_parse("gamma:", &r, &err) == DECONV_ERR_ARG, "gamma: without value");
    CHECK(deconv_response_parse("gamma:9", &r, &err) == DECONV_ERR_ARG &&
              strstr(err.message, "range"), "gamma out of range: %s", err.message);
    CHECK(deconv_response_parse("adobe", &r, &err) == DECONV_ERR_ARG &&
              strstr(err.message, "adobe"), "unknown names are refused: %s", err.message);
    /* a table that is not increasing is refused by the data term */
    memset(&r, 0, sizeof r);
    r.kind = DECONV_RESPONSE_TABLE;
    r.table_size = 3;
    r.table[0] = 0, r.table[1] = 0.5f, r.table[2] = 0.4f;
    CHECK(deconv_response_check(&r, &err) == DECONV_ERR_ARG, "decreasing table refused");
}

/* A sampled curve: sRGB tabulated, interpolated linearly. */
static void table_srgb(deconv_response *r, int n)
{
    memset(r, 0, sizeof *r);
    r->kind = DECONV_RESPONSE_TABLE;
    r->table_size = n;
    for (int i = 0; i < n; i++)
        r->table[i] = (float)srgb_decode_ref(i / (double)(n - 1));
    r->soft_clip = 1;
}

static void test_table(void)
{
    deconv_response t;
    table_srgb(&t, 1024);
    CHECK(deconv_response_check(&t, NULL) == DECONV_OK, "the table is valid");
    double worst = 0, worst_round = 0;
    for (int i = 0; i <= 3000; i++) {
        float u = (float)(i / 1500.0), s1, s2;
        float l = deconv_decode1(&t, u, &s1);
        if (u <= 1)
            worst = fmax(worst, fabs(l - srgb_decode_ref(u)));
        worst_round = fmax(worst_round, fabs(deconv_encode1(&t, l, &s2) - u));
    }
    CHECK(worst < 2e-6, "the table follows its curve (%g)", worst);
    CHECK(worst_round < 2e-5, "the table's G(L(u)) = u (%g)", worst_round);
    float s;
    float l2 = deconv_decode1(&t, 2.0f, &s);
    CHECK(l2 > 4 && l2 < 6, "past white the table's power law goes on (L(2) = %g)", l2);
}

/* The maps in double, from their definitions (MODEL.md), for a reference
 * objective that float rounding does not flatten past white. */
static double ref_decode(const deconv_response *r, double u)
{
    if (r->kind == DECONV_RESPONSE_LINEAR)
        return u;
    if (r->kind == DECONV_RESPONSE_PARAMETRIC)
        return u >= r->d ? pow(r->a * u + r->b, r->gamma) : r->c * u;
    const int n = r->table_size;
    const double *dummy = NULL;
    (void)dummy;
    double t0 = r->table[0], t1 = r->table[1], tn = r->table[n - 1], tm = r->table[n - 2];
    if (u <= 0)
        return t0 + u * (t1 - t0) * (n - 1);
    if (u >= 1) {
        double g = (tn - tm) * (n - 1) / tn;
        return tn * pow(u, g);
    }
    double sidx = u * (n - 1);
    int i = (int)sidx;
    if (i > n - 2)
        i = n - 2;
    return r->table[i] + (sidx - i) * (r->table[i + 1] - r->table[i]);
}

static double ref_encode(const deconv_response *r, double l)
{
    if (r->kind == DECONV_RESPONSE_LINEAR)
        return l;
    if (r->kind == DECONV_RESPONSE_PARAMETRIC)
        return l >= r->c * r->d ? (pow(l, 1 / r->gamma) - r->b) / r->a : l / r->c;
    double lo = -1, hi = 4; /* invert ref_decode by bisection */
    for (int it = 0; it < 80; it++) {
        double mid = 0.5 * (lo + hi);
        if (ref_decode(r, mid) < l)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

static double ref_objective(const deconv_response *r, const float *u, const float *y,
                            const float *h, int N, int M, int kw, int kh, double du,
                            const float *dir, double dh, const float *kdir)
{
    const int xw = N + kw - 1;
    double f = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double v = 0;
            for (int a = 0; a < kh; a++)
                for (int b = 0; b < kw; b++) {
                    size_t p = (size_t)(i + kh - 1 - a) * xw + (j + kw - 1 - b);
                    double hv = h[a * kw + b] + (kdir ? dh * kdir[a * kw + b] : 0);
                    v += hv * ref_decode(r, u[p] + (dir ? du * dir[p] : 0));
                }
            double w = v;
            if (r->soft_clip) {
                double z = DECONV_SOFT_CLIP_SHARPNESS * (v - 1);
                w = z > 0 ? 1 - log1p(exp(-z)) / DECONV_SOFT_CLIP_SHARPNESS
                          : v - log1p(exp(z)) / DECONV_SOFT_CLIP_SHARPNESS;
            }
            double res = ref_encode(r, w) - y[i * N + j];
            f += 0.5 * res * res;
        }
    return f;
}

/* Finite differences of f along random directions against <grad, dir>,
 * for u and for h, with u scaled so that v lands in one region. */
static void check_gradients(const deconv_response *resp, int N, int M, int kw, int kh,
                            double ulo, double uhi, const char *where)
{
    const int xw = N + kw - 1, xh = M + kh - 1;
    const size_t nx = (size_t)xw * xh, ny = (size_t)N * M, nk = (size_t)kw * kh;
    float *u = malloc(nx * sizeof(float)), *y = malloc(ny * sizeof(float));
    float *h = malloc(nk * sizeof(float)), *v = malloc(ny * sizeof(float));
    float *e = malloc(ny * sizeof(float)), *g = malloc(nx * sizeof(float));
    float *gh = malloc(nk * sizeof(float)), *dir = malloc(nx * sizeof(float));
    double hs = 0;
    for (size_t t = 0; t < nk; t++)
        hs += h[t] = (float)(0.1 + check_rand(&seed));
    for (size_t t = 0; t < nk; t++)
        h[t] /= (float)hs;
    for (size_t i = 0; i < nx; i++)
        u[i] = (float)(ulo + (uhi - ulo) * check_rand(&seed));
    for (size_t i = 0; i < ny; i++)
        y[i] = (float)(ulo + (uhi - ulo) * check_rand(&seed));
    deconv_data *d = deconv_data_new(N, M, h, kw, kh, DECONV_CONV_DIRECT, resp, y, NULL, NULL);
    CHECK(d != NULL, "data term made");
    if (!d)
        return;
    deconv_data_forward(d, u, v);
    double f = deconv_data_value(d, v, e);
    double fref = ref_objective(resp, u, y, h, N, M, kw, kh, 0, NULL, 0, NULL);
    CHECK(fabs(f - fref) <= 1e-5 * fref + 1e-9, "%s %dx%d: f %g, reference %g", where, N, M, f,
          fref);
    deconv_data_gradient(d, u, e, g);
    deconv_data_kernel_gradient(d, u, e, gh);
    for (int trial = 0; trial < 3; trial++) {
        /* image gradient */
        double gd = 0, scale = 0;
        for (size_t i = 0; i < nx; i++) {
            dir[i] = (float)(check_rand(&seed) - 0.5);
            gd += (double)g[i] * dir[i];
            scale += fabs((double)g[i] * dir[i]);
        }
        const double eps = 1e-5;
        double fd = (ref_objective(resp, u, y, h, N, M, kw, kh, eps, dir, 0, NULL) -
                     ref_objective(resp, u, y, h, N, M, kw, kh, -eps, dir, 0, NULL)) /
                    (2 * eps);
        CHECK(fabs(fd - gd) <= 1e-3 * scale + 1e-9, "%s %dx%d k%dx%d: grad_u %g vs FD %g",
              where, N, M, kw, kh, gd, fd);
        /* kernel gradient: a fresh data term at h +- eps dir */
        double ghd = 0, kscale = 0;
        float kd[64];
        for (size_t t = 0; t < nk; t++) {
            kd[t] = (float)(check_rand(&seed) - 0.5);
            ghd += (double)gh[t] * kd[t];
            kscale += fabs((double)gh[t] * kd[t]);
        }
        const double keps = 1e-5;
        double kfd = (ref_objective(resp, u, y, h, N, M, kw, kh, 0, NULL, keps, kd) -
                      ref_objective(resp, u, y, h, N, M, kw, kh, 0, NULL, -keps, kd)) /
                     (2 * keps);
        CHECK(fabs(kfd - ghd) <= 1e-3 * kscale + 1e-9, "%s %dx%d k%dx%d: grad_h %g vs FD %g",
              where, N, M, kw, kh, ghd, kfd);
    }
    deconv_data_free(d);
    free(u), free(y), free(h), free(v), free(e), free(g), free(gh), free(dir);
}

static void test_gradients(void)
{
    deconv_response s, g, lin, t;
    deconv_response_srgb(&s);
    deconv_response_gamma(&g, 2.2, NULL);
    deconv_response_linear(&lin);
    table_srgb(&t, 1024);
    const deconv_response *rs[4] = {&s, &g, &lin, &t};
    const char *names[4] = {"sRGB", "gamma 2.2", "linear", "table"};
    /* u ranges whose blur lands near black, below white, at white and past it */
    const double ranges[4][2] = {{0.0, 0.06}, {0.2, 0.8}, {0.97, 1.03}, {1.05, 1.6}};
    const char *where[4] = {"near black", "below white", "at white", "past white"};
    const int sizes[][4] = {{7, 5, 3, 3}, {6, 9, 4, 2}, {11, 8, 5, 5}, {5, 5, 1, 1}, {9, 4, 2, 6}};
    for (int r = 0; r < 4; r++)
        for (int w = 0; w < 4; w++)
            for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
                char label[64];
                snprintf(label, sizeof label, "%s, %s", names[r], where[w]);
                check_gradients(rs[r], sizes[z][0], sizes[z][1], sizes[z][2], sizes[z][3],
                                ranges[w][0], ranges[w][1], label);
            }
}

/* With the linear response, the data term is MODEL.md's linear one. */
static void test_linear_is_model(void)
{
    const int N = 13, M = 10, kw = 4, kh = 3, xw = N + kw - 1, xh = M + kh - 1;
    float u[16 * 12], y[13 * 10], h[12], v[130], e[130], g1[16 * 12], g2[16 * 12], r[130];
    fill_uniform(u, xw * xh, 1.0);
    fill_uniform(y, N * M, 1.0);
    fill_uniform(h, kw * kh, 1.0 / 6.0);
    deconv_response lin;
    deconv_response_linear(&lin);
    deconv_data *d = deconv_data_new(N, M, h, kw, kh, DECONV_CONV_DIRECT, &lin, y, NULL, NULL);
    CHECK(deconv_data_quadratic(d), "the linear response is quadratic");
    deconv_data_forward(d, u, v);
    double f = deconv_data_value(d, v, e);
    deconv_data_gradient(d, u, e, g1);
    double f0 = deconv_objective(u, y, N, M, h, kw, kh, r, g2, NULL);
    CHECK(fabs(f - f0) <= 1e-6 * f0, "objective %g vs the linear model's %g", f, f0);
    double worst = 0;
    for (int i = 0; i < xw * xh; i++)
        worst = fmax(worst, fabs(g1[i] - g2[i]));
    CHECK(worst < 1e-5, "gradient equals the linear model's (%g)", worst);
    deconv_data_free(d);
}

/* The gradient reuses the light the last forward decoded only when it is
 * taken at that forward's u, and then gives the same bytes as decoding
 * again; after a forward at another point it decodes u itself. */
static void test_light_reused(void)
{
    const int N = 23, M = 17, kw = 5, kh = 4, xw = N + kw - 1, xh = M + kh - 1;
    const int nx = xw * xh, ny = N * M;
    float *u = malloc(sizeof(float) * nx), *u2 = malloc(sizeof(float) * nx);
    float *y = malloc(sizeof(float) * ny), *v = malloc(sizeof(float) * ny);
    float *e = malloc(sizeof(float) * ny), *g1 = malloc(sizeof(float) * nx);
    float *g2 = malloc(sizeof(float) * nx), h[20];
    fill_uniform(u, nx, 1.3); /* past white too */
    fill_uniform(u2, nx, 1.0);
    fill_uniform(y, ny, 1.0);
    fill_uniform(h, kw * kh, 0.1);
    deconv_response s;
    deconv_response_srgb(&s);
    deconv_data *d = deconv_data_new(N, M, h, kw, kh, DECONV_CONV_DIRECT, &s, y, NULL, NULL);
    deconv_data_forward(d, u, v);
    deconv_data_value(d, v, e);
    deconv_data_gradient(d, u, e, g1); /* the light of u, kept */
    deconv_data_forward(d, u2, v);     /* the light of u2 */
    deconv_data_gradient(d, u, e, g2); /* must decode u again */
    CHECK(memcmp(g1, g2, sizeof(float) * nx) == 0,
          "the gradient at u differs after a forward at another point");
    deconv_data_free(d);
    free(u), free(u2), free(y), free(v), free(e), free(g1), free(g2);
}

/* The image step's loop for a forward map that is linear (the soft clip
 * alone: v by linearity, two convolutions an iteration) against the loop
 * for a curve (every v convolved), on the same model: the curve gamma 1,
 * L(u) = u. Both minimise the same objective and end at the same image. */
static void test_linear_forward_loop(void)
{
    const int W = 48, H = 40, K = 5;
    deconv_image *sharp = deconv_image_new(W + K - 1, H + K - 1, 1);
    deconv_kernel *k = deconv_kernel_new(K, K);
    for (int i = 0; i < sharp->height; i++)
        for (int j = 0; j < sharp->width; j++) /* blocks, some brighter than white */
            sharp->data[i * sharp->width + j] =
                (float)(0.15 + 0.5 * ((i / 8 + j / 11) % 2) + (i > 25 && j > 30 ? 0.9 : 0));
    for (int t = 0; t < K * K; t++)
        k->data[t] = (float)(0.2 + check_rand(&seed));
    deconv_kernel_project(k);
    deconv_image *y = deconv_image_new(W, H, 1);
    deconv_conv_valid(sharp->data, sharp->width, sharp->height, k->data, K, K, y->data);
    for (int i = 0; i < W * H; i++) /* the sensor clips at white */
        y->data[i] = y->data[i] > 1.0f ? 1.0f : y->data[i];
    deconv_deblur_params p;
    deconv_deblur_defaults(&p);
    p.iterations = 400, p.tol = 0, p.tv = 1e-3;
    deconv_response_linear(&p.response);
    p.response.soft_clip = 1;
    deconv_error err;
    deconv_image *a = deconv_deblur(y, k, &p, NULL, &err);
    deconv_response_parametric(&p.response, 1.0, 1.0, 0.0, 1.0, 0.5, "gamma 1");
    deconv_image *b = deconv_deblur(y, k, &p, NULL, &err);
    CHECK(a && b, "both deblur runs succeed: %s", err.message);
    if (a && b) {
        double worst = 0;
        for (int i = 0; i < a->width * a->height; i++)
            worst = fmax(worst, fabs(a->data[i] - b->data[i]));
        printf("linear forward loop: %.3g from the curve's\n", worst);
        CHECK(worst < 2e-3, "the linear forward loop ends %g from the curve's", worst);
    }
    deconv_image_free(a), deconv_image_free(b), deconv_image_free(y), deconv_image_free(sharp);
    deconv_kernel_free(k);
}

/* The image step with a work kept between calls (data_term.h) gives the
 * bytes of one without, whatever ran in it before: calls of three methods
 * (conjugate gradient reads its previous direction), the linear and the
 * camera's model (whose buffers differ) and weights, on sizes that change
 * and come back, each run once with a shared work that the calls before
 * left dirty and once with none. */
static void test_work_reused(void)
{
    deconv_image_work *work = deconv_image_work_new();
    CHECK(work != NULL, "a work is made");
    const int sizes[][4] = {{31, 22, 5, 3}, {17, 26, 3, 7}, {31, 22, 5, 3}, {24, 24, 4, 4}};
    int calls = 0, same = 0;
    for (int round = 0; round < 3; round++)
        for (int c = 0; c < 4; c++) {
            const int N = sizes[c][0], M = sizes[c][1], kw = sizes[c][2], kh = sizes[c][3];
            const int nx = (N + kw - 1) * (M + kh - 1), ny = N * M;
            float *y = malloc(sizeof(float) * ny), *wt = malloc(sizeof(float) * ny);
            float *h = malloc(sizeof(float) * kw * kh), *x0 = malloc(sizeof(float) * nx);
            float *a = malloc(sizeof(float) * nx), *b = malloc(sizeof(float) * nx);
            fill_uniform(y, ny, 1.0);
            fill_uniform(wt, ny, 2.0);
            fill_uniform(h, kw * kh, 1.0);
            fill_uniform(x0, nx, 1.0);
            deconv_deblur_params p;
            deconv_deblur_defaults(&p);
            p.iterations = 12, p.tol = 0, p.tv = 1e-3;
            const int model = (round + c) % 4; /* linear, weighted, sRGB, CG */
            const float *weights = model == 1 ? wt : NULL;
            if (model == 2)
                deconv_response_srgb(&p.response);
            if (model == 3)
                p.method = DECONV_METHOD_CG, p.tv = 0, p.clip = 0, p.rule = DECONV_STEP_EXACT;
            memcpy(a, x0, sizeof(float) * nx);
            memcpy(b, x0, sizeof(float) * nx);
            deconv_error err;
            deconv_status sa = deconv_image_step_weighted(a, y, weights, N, M, h, kw, kh, &p, 0,
                                                          1, work, NULL, NULL, &err);
            deconv_status sb = deconv_image_step_weighted(b, y, weights, N, M, h, kw, kh, &p, 0,
                                                          1, NULL, NULL, NULL, &err);
            calls++;
            same += sa == DECONV_OK && sb == DECONV_OK && memcmp(a, b, sizeof(float) * nx) == 0;
            CHECK(sa == DECONV_OK && sb == DECONV_OK && memcmp(a, b, sizeof(float) * nx) == 0,
                  "round %d size %d model %d: the kept work changes the image step", round, c,
                  model);
            free(y), free(wt), free(h), free(x0), free(a), free(b);
        }
    printf("work reused: %d of %d calls the same bytes\n", same, calls);
    deconv_image_work_free(work);
}

int main(void)
{
    test_powf();
    test_curves();
    test_parse();
    test_table();
    test_gradients();
    test_linear_is_model();
    test_light_reused();
    test_linear_forward_loop();
    test_work_reused();
    return check_done("test_response");
}
