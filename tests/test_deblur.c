/* The image step and non-blind restoration:
 *   - the objective never increases with the exact and Armijo rules, for
 *     plain gradient descent and for Nesterov, with and without TV and box;
 *   - a fixed step above the bound is reported as diverging;
 *   - the bytes do not depend on the thread count;
 *   - the noise estimate, uncompressed and through JPEG's quantisation;
 *   - end to end: a blurred, noisy photo is restored with a PSNR gain. */
#include <omp.h>
#include <string.h>

#include "check.h"
#include "deconv.h"

typedef struct {
    double last;
    int increases, calls;
} monitor;

static int watch(const deconv_progress *p, void *user)
{
    monitor *m = user;
    if (m->calls++ && p->objective > m->last * (1 + 1e-9))
        m->increases++;
    m->last = p->objective;
    return 0;
}

static unsigned long long seed = 99;

/* A blurred, noisy test case of size N x M from a synthetic image with
 * edges and texture. */
static void make_case(int N, int M, const deconv_kernel *k, float *x, float *y, double noise)
{
    int xw = N + k->width - 1, xh = M + k->height - 1;
    for (int i = 0; i < xh; i++)
        for (int j = 0; j < xw; j++)
            x[i * xw + j] = (float)(0.2 + 0.5 * ((i / 7 + j / 5) % 2) + 0.2 * sin(j * 0.3) * cos(i * 0.2));
    deconv_conv_valid(x, xw, xh, k->data, k->width, k->height, y);
    for (int i = 0; i < N * M; i++)
        y[i] += (float)(noise * (check_rand(&seed) - 0.5) * 3.46);
}

/* MODEL.md's start: y extended by edge replication to the size of x. */
static void start_from_y(int N, int M, const deconv_kernel *k, const float *y, float *x)
{
    deconv_pad_replicate(y, N, M, (k->height - 1) / 2, k->height / 2, (k->width - 1) / 2,
                         k->width / 2, x);
}

static void monotone(deconv_method method, deconv_step_rule rule, double tv, int clip)
{
    deconv_error err;
    deconv_kernel *k = deconv_kernel_motion(7, 30, &err);
    int N = 40, M = 33, xw = N + k->width - 1, xh = M + k->height - 1;
    float *x = malloc(sizeof(float) * xw * xh), *y = malloc(sizeof(float) * N * M);
    make_case(N, M, k, x, y, 0.01);
    start_from_y(N, M, k, y, x);
    deconv_deblur_params p;
    deconv_deblur_defaults(&p);
    monitor m = {0};
    p.method = method, p.rule = rule, p.tv = tv, p.clip = clip, p.iterations = 80, p.tol = 0;
    p.progress = watch, p.progress_user = &m;
    int it = 0;
    deconv_status st = deconv_image_step(x, y, N, M, k->data, k->width, k->height, &p, 0, 1,
                                         &it, NULL, &err);
    CHECK(st == DECONV_OK, "image step failed: %s", err.message);
    CHECK(m.increases == 0, "method %d rule %d tv %g clip %d: objective rose %d times",
          method, rule, tv, clip, m.increases);
    CHECK(m.calls > 5, "method %d rule %d: only %d iterations", method, rule, m.calls);
    free(x), free(y);
    deconv_kernel_free(k);
}

static double final_objective(deconv_method method, int iterations, deconv_status *st,
                              deconv_error *err)
{
    deconv_kernel *k = deconv_kernel_gaussian(1.5, 0, err);
    int N = 48, M = 40, xw = N + k->width - 1, xh = M + k->height - 1;
    float *x = malloc(sizeof(float) * xw * xh), *y = malloc(sizeof(float) * N * M);
    make_case(N, M, k, x, y, 0.01);
    start_from_y(N, M, k, y, x);
    deconv_deblur_params p;
    deconv_deblur_defaults(&p);
    p.method = method, p.tv = 0, p.clip = 0, p.iterations = iterations, p.tol = 0;
    p.rule = DECONV_STEP_EXACT;
    double f = NAN;
    *st = deconv_image_step(x, y, N, M, k->data, k->width, k->height, &p, 0, 1, NULL, &f, err);
    free(x), free(y);
    deconv_kernel_free(k);
    return f;
}

static void cg_ahead(void)
{
    deconv_error err;
    deconv_status st;
    double fcg = final_objective(DECONV_METHOD_CG, 30, &st, &err);
    CHECK(st == DECONV_OK, "cg: %s", err.message);
    double fgd = final_objective(DECONV_METHOD_GD, 30, &st, &err);
    CHECK(fcg < fgd, "after 30 iterations cg %g is not below gd %g", fcg, fgd);
    /* With TV or the box the objective is not quadratic: refused. */
    deconv_kernel *k = deconv_kernel_gaussian(1, 0, &err);
    float x[12 * 12] = {0}, y[6 * 6] = {0}; /* 7x7 kernel: x is 12 x 12 */
    deconv_deblur_params p;
    deconv_deblur_defaults(&p);
    p.method = DECONV_METHOD_CG;
    st = deconv_image_step(x, y, 6, 6, k->data, k->width, k->height, &p, 0, 1, NULL, NULL, &err);
    CHECK(st == DECONV_ERR_ARG && strstr(err.message, "--no-clip"), "cg with the box: %d %s", st,
          err.message);
    deconv_kernel_free(k);
}

static void diverging(void)
{
    deconv_error err = {0};
    deconv_kernel *k = deconv_kernel_gaussian(1.0, 5, &err);
    int N = 30, M = 30, xw = N + 4, xh = M + 4;
    float *x = malloc(sizeof(float) * xw * xh), *y = malloc(sizeof(float) * N * M);
    make_case(N, M, k, x, y, 0.0);
    memset(x, 0, sizeof(float) * xw * xh);
    deconv_deblur_params p;
    deconv_deblur_defaults(&p);
    p.method = DECONV_METHOD_GD, p.rule = DECONV_STEP_NONE, p.step = 5.0, p.tv = 0, p.clip = 0;
    p.iterations = 50;
    deconv_status st = deconv_image_step(x, y, N, M, k->data, 5, 5, &p, 0, 1, NULL, NULL, &err);
    CHECK(st == DECONV_ERR_DIVERGED, "step 5 should diverge, got status %d", st);
    CHECK(strstr(err.message, "safe") != NULL, "message names the safe step: %s", err.message);
    /* Step 1 is safe for a kernel that sums to 1 (MODEL.md). */
    p.step = 1.0;
    st = deconv_image_step(x, y, N, M, k->data, 5, 5, &p, 0, 1, NULL, NULL, &err);
    CHECK(st == DECONV_OK, "step 1 should be safe: %s", err.message);
    free(x), free(y);
    deconv_kernel_free(k);
}

static void thread_independent(void)
{
    deconv_error err;
    deconv_kernel *k = deconv_kernel_disk(3, &err);
    deconv_image *y = deconv_image_new(97, 64, 3);
    for (int c = 0; c < 3; c++) {
        int xw = 97 + k->width - 1, xh = 64 + k->height - 1;
        float *x = malloc(sizeof(float) * xw * xh);
        make_case(97, 64, k, x, deconv_image_plane(y, c), 0.01 * (c + 1));
        free(x);
    }
    deconv_deblur_params p;
    deconv_deblur_defaults(&p);
    p.iterations = 30;
    p.threads = 1;
    deconv_image *a = deconv_deblur(y, k, &p, NULL, &err);
    p.threads = 2;
    deconv_image *b = deconv_deblur(y, k, &p, NULL, &err);
    CHECK(a && b, "deblur failed");
    if (a && b) {
        size_t n = (size_t)a->width * a->height * a->channels;
        CHECK(memcmp(a->data, b->data, n * sizeof(float)) == 0,
              "1 and 2 threads give different results");
    }
    deconv_image_free(a), deconv_image_free(b), deconv_image_free(y);
    deconv_kernel_free(k);
}

/* The floor of the automatic TV weight (tv_min, the restoration after a
 * blind estimate): it raises the weight of a clean image to the floor,
 * leaves a weight above it alone, never overrides a weight the caller set,
 * and a negative floor is refused. */
static void tv_floor(void)
{
    deconv_error err;
    deconv_kernel *k = deconv_kernel_disk(2, &err);
    deconv_image *y = deconv_image_new(60, 50, 1);
    deconv_deblur_params p;
    deconv_report rep;
    for (int noisy = 0; noisy < 2; noisy++) {
        /* a smooth ramp, whose noise estimate is only its noise */
        for (int i = 0; i < 50; i++)
            for (int j = 0; j < 60; j++)
                y->data[i * 60 + j] = (float)(0.3 + 0.4 * j / 60.0 +
                                              (noisy ? 0.05 * (check_rand(&seed) - 0.5) * 3.46 : 0));
        deconv_deblur_defaults(&p);
        p.iterations = 2;
        deconv_image *a = deconv_deblur(y, k, &p, &rep, &err);
        double automatic = rep.tv;
        deconv_image_free(a);
        deconv_blind_restore_defaults(&p);
        p.iterations = 2;
        a = deconv_deblur(y, k, &p, &rep, &err);
        CHECK(a != NULL, "deblur with the floor: %s", a ? "" : err.message);
        CHECK(rep.tv == fmax(automatic, DECONV_BLIND_RESTORE_TV_MIN),
              "noise %d: weight %g, automatic %g, floor %g", noisy, rep.tv, automatic,
              DECONV_BLIND_RESTORE_TV_MIN);
        CHECK(noisy || automatic < DECONV_BLIND_RESTORE_TV_MIN,
              "a clean image's automatic weight %g should be below the floor", automatic);
        CHECK(!noisy || automatic > DECONV_BLIND_RESTORE_TV_MIN,
              "5 %% noise: automatic weight %g should be above the floor", automatic);
        deconv_image_free(a);
    }
    p.tv = 1e-5;
    deconv_image *a = deconv_deblur(y, k, &p, &rep, &err);
    CHECK(a && rep.tv == 1e-5, "a weight set by the caller is kept: %g", rep.tv);
    deconv_image_free(a);
    p.tv = -1, p.tv_min = -1;
    a = deconv_deblur(y, k, &p, &rep, &err);
    CHECK(!a && err.code == DECONV_ERR_ARG, "a negative floor is refused");
    deconv_image_free(a);
    deconv_image_free(y);
    deconv_kernel_free(k);
}

/* Donoho's estimate (the finest diagonal Haar coefficients' median / 0.6745),
 * written out here. */
static double donoho(const float *y, int w, int h)
{
    int bw = w / 2, bh = h / 2, n = bw * bh;
    float *d = malloc(sizeof(float) * n);
    for (int i = 0; i < bh; i++)
        for (int j = 0; j < bw; j++) {
            const float *p = y + 2 * i * w + 2 * j;
            d[i * bw + j] = fabsf(0.5f * (p[0] - p[1] - p[w] + p[w + 1]));
        }
    for (int i = 1; i < n; i++) /* insertion sort: small planes */
        for (int j = i; j > 0 && d[j] < d[j - 1]; j--) {
            float t = d[j];
            d[j] = d[j - 1], d[j - 1] = t;
        }
    double med = n % 2 ? d[n / 2] : 0.5 * (d[n / 2 - 1] + d[n / 2]);
    free(d);
    return med / 0.6745;
}

/* The noise estimate: on an uncompressed 8-bit plane, Donoho's estimate to
 * the bit; on the same plane through JPEG's quantisation (each 8 x 8
 * block's DCT rounded to multiples of the IJG luminance table at quality
 * 90, then to 8 bits), which sets the finest coefficients to zero and
 * Donoho's estimate far below the noise, the noise within a factor 2. */
static void noise_estimate(void)
{
    static const int table[64] = {
        16, 11, 10, 16, 24,  40,  51,  61,  12, 12, 14, 19, 26,  58,  60,  55,
        14, 13, 16, 24, 40,  57,  69,  56,  14, 17, 22, 29, 51,  87,  80,  62,
        18, 22, 37, 56, 68,  109, 103, 77,  24, 35, 55, 64, 81,  104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99};
    enum { W = 256, H = 192 };
    const double sigma = 0.01;
    float *y = malloc(sizeof(float) * W * H);
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) { /* smooth light, Gaussian noise, 8 bits */
            double u1 = check_rand(&seed) + 1e-12, u2 = check_rand(&seed);
            double v = 0.3 + 0.3 * j / W + 0.1 * sin(i * 0.05) +
                       sigma * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
            y[i * W + j] = (float)(floor(v * 255 + 0.5) / 255);
        }
    double plain = deconv_estimate_noise(y, W, H), reference = donoho(y, W, H);
    CHECK(memcmp(&plain, &reference, sizeof plain) == 0,
          "uncompressed: %.17g, Donoho's estimate %.17g", plain, reference);
    CHECK(fabs(plain / sigma - 1) < 0.2, "uncompressed: %g for noise %g", plain, sigma);

    double C[8][8];
    for (int u = 0; u < 8; u++)
        for (int x = 0; x < 8; x++)
            C[u][x] = (u ? sqrt(0.25) : sqrt(0.125)) * cos((2 * x + 1) * u * M_PI / 16);
    for (int bi = 0; bi < H / 8; bi++)
        for (int bj = 0; bj < W / 8; bj++) {
            double c[8][8], b[8][8];
            for (int u = 0; u < 8; u++)
                for (int v = 0; v < 8; v++) {
                    double s = 0;
                    for (int i = 0; i < 8; i++)
                        for (int j = 0; j < 8; j++)
                            s += C[u][i] * C[v][j] * 255 * y[(8 * bi + i) * W + 8 * bj + j];
                    double q = floor(table[u * 8 + v] * 0.2 + 0.5); /* quality 90 */
                    c[u][v] = q * floor(s / q + 0.5);
                }
            for (int i = 0; i < 8; i++)
                for (int j = 0; j < 8; j++) {
                    double s = 0;
                    for (int u = 0; u < 8; u++)
                        for (int v = 0; v < 8; v++)
                            s += C[u][i] * C[v][j] * c[u][v];
                    b[i][j] = fmin(255, fmax(0, floor(s + 0.5)));
                }
            for (int i = 0; i < 8; i++)
                for (int j = 0; j < 8; j++)
                    y[(8 * bi + i) * W + 8 * bj + j] = (float)(b[i][j] / 255);
        }
    double jpeg = deconv_estimate_noise(y, W, H), fooled = donoho(y, W, H);
    CHECK(fooled < 0.6 * sigma, "JPEG: Donoho's estimate %g should be fooled (noise %g)", fooled,
          sigma);
    CHECK(jpeg > 0.5 * sigma && jpeg < 2 * sigma, "JPEG: %g for noise %g (Donoho's: %g)", jpeg,
          sigma, fooled);
    printf("noise %.4f: uncompressed %.4f; JPEG quality 90 %.4f (Donoho's estimate %.4f)\n",
           sigma, plain, jpeg, fooled);
    free(y);
}

/* camera.png blurred by a motion kernel with 1 % noise, restored with the
 * defaults: the PSNR against the sharp photo must rise by several dB. */
static void end_to_end(void)
{
    deconv_error err;
    deconv_image *sharp = deconv_image_read(DECONV_TEST_DATA "/camera.png", 0, NULL, &err);
    CHECK(sharp != NULL, "read camera.png: %s", sharp ? "" : err.message);
    if (!sharp)
        return;
    deconv_kernel *k = deconv_kernel_motion(15, 30, &err);
    int N = sharp->width - k->width + 1, M = sharp->height - k->height + 1;
    deconv_image *y = deconv_image_new(N, M, 1), *truth = deconv_image_new(N, M, 1);
    deconv_conv_valid(sharp->data, sharp->width, sharp->height, k->data, k->width, k->height,
                      y->data);
    for (int i = 0; i < N * M; i++) { /* noise, then 8-bit quantisation */
        double u1 = check_rand(&seed) + 1e-12, u2 = check_rand(&seed);
        double v = y->data[i] + 0.01 * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
        v = v < 0 ? 0 : (v > 1 ? 1 : v);
        y->data[i] = (float)(floor(v * 255 + 0.5) / 255);
    }
    deconv_crop(sharp->data, sharp->width, (k->height - 1) / 2, (k->width - 1) / 2, N, M,
                truth->data);
    deconv_deblur_params p;
    deconv_deblur_defaults(&p);
    deconv_report rep;
    deconv_image *x = deconv_deblur(y, k, &p, &rep, &err);
    CHECK(x != NULL, "deblur: %s", x ? "" : err.message);
    if (x) {
        deconv_image *c = deconv_crop_to_input(x, k->width, k->height);
        double before = deconv_psnr(truth, y), after = deconv_psnr(truth, c);
        printf("camera, motion 15 at 30 degrees, 1%% noise: PSNR %.2f -> %.2f dB "
               "(%d iterations, TV %.2g)\n", before, after, rep.iterations, rep.tv);
        CHECK(after > before + 4.0, "PSNR gain too small: %.2f -> %.2f", before, after);
        CHECK(deconv_ssim(truth, c) > deconv_ssim(truth, y) + 0.1, "SSIM gain too small");
        /* No ringing at the frame: the PSNR of a 10-pixel border band is
         * improved as well. */
        double sb = 0, sa = 0;
        int nb = 0;
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                if (i < 10 || j < 10 || i >= M - 10 || j >= N - 10) {
                    double e0 = y->data[i * N + j] - truth->data[i * N + j];
                    double e1 = c->data[i * N + j] - truth->data[i * N + j];
                    sb += e0 * e0, sa += e1 * e1, nb++;
                }
        CHECK(sa < 0.5 * sb, "border band error not halved: %g -> %g", sb / nb, sa / nb);
        deconv_image_free(c);
        deconv_image_free(x);
    }
    deconv_image_free(y), deconv_image_free(truth), deconv_image_free(sharp);
    deconv_kernel_free(k);
}

int main(void)
{
    deconv_method methods[] = {DECONV_METHOD_GD, DECONV_METHOD_NESTEROV};
    deconv_step_rule rules[] = {DECONV_STEP_EXACT, DECONV_STEP_ARMIJO};
    for (int m = 0; m < 2; m++)
        for (int r = 0; r < 2; r++)
            for (int clip = 0; clip < 2; clip++) {
                monotone(methods[m], rules[r], 0.0, clip);
                monotone(methods[m], rules[r], 0.002, clip);
            }
    /* Conjugate gradient: the quadratic case only, monotone, and ahead of
     * plain gradient descent after the same number of iterations. */
    monotone(DECONV_METHOD_CG, DECONV_STEP_EXACT, 0.0, 0);
    cg_ahead();
    diverging();
    thread_independent();
    tv_floor();
    noise_estimate();
    end_to_end();
    return check_done("deblur");
}
