/* Tests of src/kernel.c: the generators (sum, sign, centre, spread,
 * direction), the text format (separators, comments, line endings, every
 * refusal, inputs that are not NUL-terminated), normalisation, projection and
 * the files (CSV round trip bit-exact, PNG, images as kernels). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <float.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "deconv.h"

#define AT(k, i, j) ((k)->data[(size_t)(i) * (size_t)(k)->width + (size_t)(j)])

typedef struct {
    double sum, min, max;
    double ci, cj;        /* centroid: row, column */
    double vii, vjj, vij; /* second central moments: rows, columns, cross */
} moments;

static moments measure(const deconv_kernel *k)
{
    moments m = {0, INFINITY, -INFINITY, 0, 0, 0, 0, 0};
    for (int i = 0; i < k->height; i++)
        for (int j = 0; j < k->width; j++) {
            double v = AT(k, i, j);
            m.sum += v;
            m.min = fmin(m.min, v);
            m.max = fmax(m.max, v);
            m.ci += v * i;
            m.cj += v * j;
        }
    m.ci /= m.sum;
    m.cj /= m.sum;
    for (int i = 0; i < k->height; i++)
        for (int j = 0; j < k->width; j++) {
            double v = AT(k, i, j), di = i - m.ci, dj = j - m.cj;
            m.vii += v * di * di;
            m.vjj += v * dj * dj;
            m.vij += v * di * dj;
        }
    m.vii /= m.sum;
    m.vjj /= m.sum;
    m.vij /= m.sum;
    return m;
}

/* The checks every generated kernel passes: sums to 1, non-negative,
 * centred (point-symmetric generators). */
static void check_generated(const deconv_kernel *k, const char *what)
{
    moments m = measure(k);
    CHECK(fabs(m.sum - 1.0) < 1e-6, "%s: sum %.9g", what, m.sum);
    CHECK(m.min >= 0.0, "%s: min %g", what, m.min);
    CHECK(fabs(m.ci - (k->height - 1) / 2.0) < 1e-3 && fabs(m.cj - (k->width - 1) / 2.0) < 1e-3,
          "%s: centroid (%g, %g) in %d x %d", what, m.ci, m.cj, k->height, k->width);
    for (size_t i = 0; i < (size_t)k->width * k->height; i++)
        if (!isfinite(k->data[i])) {
            CHECK(0, "%s: entry %zu not finite", what, i);
            break;
        }
}

static void test_new_clone(void)
{
    deconv_kernel *k = deconv_kernel_new(5, 3);
    CHECK(k && k->width == 5 && k->height == 3, "new 5 x 3");
    int zero = 1;
    for (int i = 0; k && i < 15; i++)
        zero &= k->data[i] == 0.0f;
    CHECK(zero, "new kernel is zeroed");
    for (int i = 0; k && i < 15; i++)
        k->data[i] = (float)i;
    deconv_kernel *c = deconv_kernel_clone(k);
    CHECK(c && c->width == 5 && c->height == 3 && c->data != k->data &&
              memcmp(c->data, k->data, 15 * sizeof(float)) == 0,
          "clone copies");
    deconv_kernel_free(c);
    deconv_kernel_free(k);
    CHECK(deconv_kernel_new(0, 3) == NULL && deconv_kernel_new(3, -1) == NULL, "bad sizes");
    CHECK(deconv_kernel_clone(NULL) == NULL, "clone NULL");
    deconv_kernel_free(NULL);
}

static void test_gaussian(void)
{
    const double sigmas[] = {0.3, 0.5, 1, 1.5, 2, 2.5, 3, 4, 5};
    for (size_t s = 0; s < sizeof sigmas / sizeof *sigmas; s++) {
        double sigma = sigmas[s];
        deconv_error err = {0, ""};
        deconv_kernel *k = deconv_kernel_gaussian(sigma, 0, &err);
        CHECK(k != NULL, "gaussian %g: %s", sigma, err.message);
        if (!k)
            continue;
        char what[64];
        snprintf(what, sizeof what, "gaussian %g", sigma);
        check_generated(k, what);
        int want = 2 * (int)ceil(3 * sigma) + 1;
        want = want < 3 ? 3 : want;
        CHECK(k->width == want && k->height == want, "%s: size %d, want %d", what, k->width, want);
        /* Integrated over pixels, the variance is sigma^2 + 1/12 (a box of
         * one pixel), less a little for the truncation at ~3 sigma. */
        moments m = measure(k);
        if (sigma >= 1) {
            double want_v = sigma * sigma + 1.0 / 12;
            CHECK(fabs(m.vii - want_v) < 0.025 * want_v && fabs(m.vjj - want_v) < 0.025 * want_v,
                  "%s: variance %g, %g, want ~%g", what, m.vii, m.vjj, want_v);
            CHECK(fabs(m.vii - sigma * sigma) < 0.1 * sigma * sigma, "%s: variance %g", what,
                  m.vii);
        }
        CHECK(fabs(m.vij) < 1e-6, "%s: covariance %g", what, m.vij);
        /* Symmetric under transposition and mirroring. */
        int n = k->width, sym = 1;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                sym &= fabsf(AT(k, i, j) - AT(k, j, i)) < 1e-7f &&
                       fabsf(AT(k, i, j) - AT(k, n - 1 - i, j)) < 1e-7f;
        CHECK(sym, "%s: symmetric", what);
        deconv_kernel_free(k);
    }

    /* A small sigma is integrated over the pixel, not point-sampled: the
     * neighbour of the centre holds the mass of [0.5, 1.5]. */
    deconv_kernel *k = deconv_kernel_gaussian(0.3, 0, NULL);
    if (k) {
        double s2 = 0.3 * sqrt(2.0);
        double centre = erf(0.5 / s2), side = 0.5 * (erf(1.5 / s2) - erf(0.5 / s2));
        double total = centre + 2 * side;
        centre /= total;
        side /= total;
        CHECK(k->width == 3, "gaussian 0.3 size %d", k->width);
        CHECK(fabs(AT(k, 1, 1) - centre * centre) < 1e-6 &&
                  fabs(AT(k, 1, 0) - side * centre) < 1e-6,
              "gaussian 0.3: centre %g (want %g), side %g (want %g)", AT(k, 1, 1), centre * centre,
              AT(k, 1, 0), side * centre);
        deconv_kernel_free(k);
    }

    /* An even size has its centre between pixels. */
    k = deconv_kernel_gaussian(1.5, 8, NULL);
    CHECK(k && k->width == 8 && k->height == 8, "gaussian even size");
    if (k) {
        check_generated(k, "gaussian 1.5 size 8");
        CHECK(AT(k, 3, 3) == AT(k, 4, 4) && AT(k, 3, 4) == AT(k, 4, 3), "even size symmetric");
        deconv_kernel_free(k);
    }
    /* A given size is kept, however small against sigma. */
    k = deconv_kernel_gaussian(1e6, 5, NULL);
    CHECK(k && k->width == 5, "gaussian sigma 1e6 size 5");
    if (k) {
        check_generated(k, "gaussian 1e6 in 5");
        CHECK(fabs(AT(k, 0, 0) - 1.0 / 25) < 1e-6, "wide gaussian nearly flat: %g", AT(k, 0, 0));
        deconv_kernel_free(k);
    }

    /* Extreme sigmas within a given size: flat, and a (split) delta. */
    k = deconv_kernel_gaussian(DBL_MAX, 5, NULL);
    CHECK(k && fabs(AT(k, 4, 4) - 1.0 / 25) < 1e-6, "gaussian DBL_MAX: flat");
    deconv_kernel_free(k);
    k = deconv_kernel_gaussian(1e-320, 4, NULL);
    CHECK(k && AT(k, 1, 1) == 0.25f && AT(k, 2, 2) == 0.25f && AT(k, 0, 0) == 0.0f,
          "gaussian 1e-320 size 4: the four middle pixels");
    deconv_kernel_free(k);

    const double bad[] = {0, -1, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        deconv_error err = {0, ""};
        k = deconv_kernel_gaussian(bad[i], 0, &err);
        CHECK(k == NULL && err.code == DECONV_ERR_ARG && err.message[0],
              "gaussian sigma %g refused", bad[i]);
        deconv_kernel_free(k);
    }
    deconv_error err = {0, ""};
    k = deconv_kernel_gaussian(1e6, 0, &err);
    CHECK(k == NULL && err.code == DECONV_ERR_ARG, "gaussian 1e6 automatic size refused");
    k = deconv_kernel_gaussian(1, 100000, &err);
    CHECK(k == NULL && err.code == DECONV_ERR_ARG, "gaussian size 100000 refused");
    CHECK(deconv_kernel_gaussian(-1, 0, NULL) == NULL, "NULL err is fine");
}

/* Principal direction of a kernel, in degrees counter-clockwise from +x in
 * [0, 180), with rows growing downward (y = -row), and the variances along
 * and across it. */
static void principal(const moments *m, double *angle, double *along, double *across)
{
    double sxx = m->vjj, syy = m->vii, sxy = -m->vij;
    double a = 0.5 * atan2(2 * sxy, sxx - syy) * 180 / 3.14159265358979323846;
    *angle = a < 0 ? a + 180 : a;
    double mean = 0.5 * (sxx + syy), d = sqrt(0.25 * (sxx - syy) * (sxx - syy) + sxy * sxy);
    *along = mean + d;
    *across = mean - d;
}

static double angle_diff(double a, double b)
{
    double d = fmod(fabs(a - b), 180.0);
    return d > 90 ? 180 - d : d;
}

static void test_motion(void)
{
    const double lengths[] = {1, 1.3, 2, 3.7, 9, 15, 40.5, 101};
    const double angles[] = {0, 10, 30, 45, 60, 90, 120, 135, 180, -30, 200, 3630};
    for (size_t l = 0; l < sizeof lengths / sizeof *lengths; l++)
        for (size_t a = 0; a < sizeof angles / sizeof *angles; a++) {
            double L = lengths[l], th = angles[a];
            deconv_error err = {0, ""};
            deconv_kernel *k = deconv_kernel_motion(L, th, &err);
            CHECK(k != NULL, "motion %g %g: %s", L, th, err.message);
            if (!k)
                continue;
            char what[64];
            snprintf(what, sizeof what, "motion %g at %g", L, th);
            check_generated(k, what);
            CHECK(k->width == k->height && k->width % 2 == 1, "%s: %d x %d", what, k->width,
                  k->height);
            CHECK(k->width <= 2 * (int)ceil(L / 2) + 1, "%s: size %d", what, k->width);
            moments m = measure(k);
            double dir, along, across;
            principal(&m, &dir, &along, &across);
            if (L >= 9) {
                CHECK(angle_diff(dir, th) < 0.5, "%s: principal direction %g", what, dir);
                /* A uniform line of L pixels has variance (L^2 - 1)/12. */
                double want = (L * L - 1) / 12;
                CHECK(fabs(along - want) < 0.05 * want + 0.2, "%s: variance along %g, want %g",
                      what, along, want);
                CHECK(across < 0.3, "%s: variance across %g", what, across);
            }
            if (L == 1) {
                CHECK(k->width == 1 && k->data[0] == 1.0f, "%s: a delta (%d x %d)", what, k->width,
                      k->height);
            }
            /* The segment is symmetric: theta and theta + 180 are one kernel,
             * -theta is the same upside down. */
            deconv_kernel *k2 = deconv_kernel_motion(L, th + 180, NULL);
            deconv_kernel *k3 = deconv_kernel_motion(L, -th, NULL);
            if (k2 && k3 && k2->width == k->width && k3->width == k->width) {
                double d2 = 0, d3 = 0;
                int n = k->width;
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < n; j++) {
                        d2 = fmax(d2, fabs(AT(k, i, j) - AT(k2, i, j)));
                        d3 = fmax(d3, fabs(AT(k, i, j) - AT(k3, n - 1 - i, j)));
                    }
                CHECK(d2 < 1e-6 && d3 < 1e-6, "%s: symmetries %g %g", what, d2, d3);
            } else {
                CHECK(0, "%s: symmetric kernels of other sizes", what);
            }
            deconv_kernel_free(k2);
            deconv_kernel_free(k3);
            deconv_kernel_free(k);
        }

    /* Angle 0: a row of L equal pixels and nothing else; 90 is its
     * transpose. */
    deconv_kernel *h = deconv_kernel_motion(9, 0, NULL), *v = deconv_kernel_motion(9, 90, NULL);
    CHECK(h && v && h->width == 9 && v->width == 9, "motion 9: size 9");
    if (h && v && h->width == 9 && v->width == 9) {
        int ok = 1;
        for (int i = 0; i < 9; i++)
            for (int j = 0; j < 9; j++) {
                float want = i == 4 ? 1.0f / 9 : 0.0f;
                ok &= fabsf(AT(h, i, j) - want) < 1e-7f && AT(v, j, i) == AT(h, i, j);
            }
        CHECK(ok, "motion 9 at 0: one row of 1/9; at 90 its transpose");
        moments mh = measure(h), mv = measure(v);
        CHECK(mh.vii == 0 && mh.vjj > 6, "angle 0 spreads along columns only: %g %g", mh.vii,
              mh.vjj);
        CHECK(mv.vjj == 0 && mv.vii > 6, "angle 90 spreads along rows only: %g %g", mv.vii, mv.vjj);
    }
    deconv_kernel_free(h);
    deconv_kernel_free(v);

    /* 45 degrees goes up and to the right: columns grow as rows shrink. */
    deconv_kernel *d = deconv_kernel_motion(15, 45, NULL), *e = deconv_kernel_motion(15, 135, NULL);
    if (d && e) {
        moments md = measure(d), me = measure(e);
        CHECK(fabs(md.vii - md.vjj) < 1e-6 * md.vii, "45: equal spread %g %g", md.vii, md.vjj);
        CHECK(md.vij < -0.9 * md.vii, "45: negative row/column covariance %g", md.vij);
        CHECK(me.vij > 0.9 * me.vii, "135: positive row/column covariance %g", me.vij);
        int n = d->width;
        CHECK(AT(d, 0, n - 1) == 0 && AT(d, n / 2 - 3, n / 2 + 3) > 0 &&
                  AT(d, n / 2 + 3, n / 2 - 3) > 0 && AT(d, n / 2 - 3, n / 2 - 3) == 0,
              "45: the line runs from bottom left to top right");
    }
    deconv_kernel_free(d);
    deconv_kernel_free(e);

    /* A longer blur is a longer line: the spread grows as L^2. */
    deconv_kernel *a = deconv_kernel_motion(10, 30, NULL), *b = deconv_kernel_motion(20, 30, NULL);
    if (a && b) {
        moments ma = measure(a), mb = measure(b);
        double dir, la, lb, across;
        principal(&ma, &dir, &la, &across);
        principal(&mb, &dir, &lb, &across);
        CHECK(fabs(lb / la - (399.0 / 99.0)) < 0.1, "spread ratio %g", lb / la);
    }
    deconv_kernel_free(a);
    deconv_kernel_free(b);

    const double bad_len[] = {0, 0.5, -3, NAN, INFINITY, 2001};
    for (size_t i = 0; i < sizeof bad_len / sizeof *bad_len; i++) {
        deconv_error err = {0, ""};
        deconv_kernel *k = deconv_kernel_motion(bad_len[i], 0, &err);
        CHECK(k == NULL && err.code == DECONV_ERR_ARG && err.message[0], "motion length %g refused",
              bad_len[i]);
        deconv_kernel_free(k);
    }
    deconv_error err = {0, ""};
    CHECK(deconv_kernel_motion(5, NAN, &err) == NULL && err.code == DECONV_ERR_ARG,
          "motion angle NaN refused");
    CHECK(deconv_kernel_motion(5, INFINITY, NULL) == NULL, "motion angle inf refused");
}

static void test_disk(void)
{
    const double radii[] = {0.3, 0.5, 1, 2.5, 3, 5, 10.7};
    for (size_t r = 0; r < sizeof radii / sizeof *radii; r++) {
        double R = radii[r];
        deconv_error err = {0, ""};
        deconv_kernel *k = deconv_kernel_disk(R, &err);
        CHECK(k != NULL, "disk %g: %s", R, err.message);
        if (!k)
            continue;
        char what[64];
        snprintf(what, sizeof what, "disk %g", R);
        check_generated(k, what);
        int n = k->width, c = n / 2;
        CHECK(n == 2 * (int)ceil(R) + 1 && k->height == n, "%s: size %d", what, n);
        /* Each value is the area of its pixel inside the circle: pixels
         * wholly inside are all equal (the peak) and the areas add up to
         * pi r^2. */
        moments m = measure(k);
        double area = 0;
        int flat = 1, inside_count = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                area += AT(k, i, j) / m.max;
                double fi = abs(i - c) + 0.5, fj = abs(j - c) + 0.5;
                if (fi * fi + fj * fj <= R * R) {
                    inside_count++;
                    flat &= AT(k, i, j) == (float)m.max;
                }
                double ni = fmax(abs(i - c) - 0.5, 0), nj = fmax(abs(j - c) - 0.5, 0);
                if (ni * ni + nj * nj >= R * R)
                    flat &= AT(k, i, j) == 0.0f;
            }
        CHECK(flat, "%s: interior pixels equal, exterior zero", what);
        if (inside_count > 0)
            CHECK(fabs(area - 3.14159265358979 * R * R) < 1e-5 * R * R, "%s: area %.8g, want %.8g",
                  what, area, 3.14159265358979 * R * R);
        CHECK(fabs(m.vii - m.vjj) < 1e-6 && fabs(m.vij) < 1e-6, "%s: isotropic", what);
        if (R >= 3) {
            /* A uniform disk has variance r^2/4 per axis, plus about 1/12 for
             * the pixel's own width (sampling makes it inexact). */
            double want = R * R / 4 + 1.0 / 12;
            CHECK(fabs(m.vii - want) < 0.02 * want, "%s: variance %g, want %g", what, m.vii, want);
        }
        if (R < 0.5)
            CHECK(AT(k, c, c) == 1.0f, "%s: a delta", what);
        deconv_kernel_free(k);
    }
    const double bad[] = {0, -1, NAN, INFINITY, 1e6};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        deconv_error err = {0, ""};
        deconv_kernel *k = deconv_kernel_disk(bad[i], &err);
        CHECK(k == NULL && err.code == DECONV_ERR_ARG && err.message[0], "disk radius %g refused",
              bad[i]);
        deconv_kernel_free(k);
    }
}

/* Parse the first len bytes of s from a buffer of exactly len bytes (no NUL
 * after it), so that AddressSanitizer catches any read past the end. */
static deconv_kernel *parse(const char *s, size_t len, deconv_error *err)
{
    char *buf = malloc(len ? len : 1);
    if (!buf)
        return NULL;
    memcpy(buf, s, len);
    err->code = DECONV_OK;
    err->message[0] = '\0';
    deconv_kernel *k = deconv_kernel_parse_text(buf, len, err);
    free(buf);
    return k;
}

static int matrix_is(const deconv_kernel *k, int w, int h, const float *want)
{
    if (!k || k->width != w || k->height != h)
        return 0;
    for (int i = 0; i < w * h; i++)
        if (memcmp(&k->data[i], &want[i], sizeof(float)) != 0)
            return 0;
    return 1;
}

static void parse_ok(const char *s, int w, int h, const float *want, const char *what)
{
    deconv_error err;
    deconv_kernel *k = parse(s, strlen(s), &err);
    CHECK(matrix_is(k, w, h, want), "parse %s: %s", what, k ? "wrong values" : err.message);
    deconv_kernel_free(k);
}

static void parse_fails(const char *s, size_t len, deconv_status code, const char *msg,
                        const char *what)
{
    deconv_error err;
    deconv_kernel *k = parse(s, len, &err);
    CHECK(k == NULL && err.code == code && strstr(err.message, msg) != NULL,
          "parse %s refused (%d) with '%s': got (%d) '%s'", what, (int)code, msg, (int)err.code,
          err.message);
    deconv_kernel_free(k);
}

static void test_parse(void)
{
    const float m23[] = {1, 2, 3, 4, 5, 6};
    parse_ok("1,2,3\n4,5,6\n", 3, 2, m23, "commas");
    parse_ok("1 2 3\n4 5 6", 3, 2, m23, "spaces, no final newline");
    parse_ok("1\t2\t3\n4\t5\t6\n", 3, 2, m23, "tabs");
    parse_ok("1, 2,\t3\r\n 4 ,5 , 6 \r\n", 3, 2, m23, "mixed separators and CRLF");
    parse_ok("1 2 3\r4 5 6\r", 3, 2, m23, "CR line endings");
    parse_ok("# a kernel\n\n1 2 3 # first row\n   \n\t\n# two\n4 5 6\n\n# end", 3, 2, m23,
             "comments and blank lines");
    parse_ok("#only\n1 2 3\n4 5 6#x", 3, 2, m23, "comment right after a value");
    const float signs[] = {-1.5f, 0.25f, 1e-3f, 2.5e2f, 0.5f, 5.0f};
    parse_ok("-1.5 +.25 1E-3\n2.5e+2 .5 5.", 3, 2, signs, "signs, exponents, bare points");
    const float one[] = {0.125f};
    parse_ok("0.125", 1, 1, one, "a single value");
    const float tiny[] = {0.0f, 1.40129846e-45f, 3.40282347e38f, 1.17549435e-38f};
    parse_ok("1e-60 1.40129846e-45 3.40282347e+38 1.17549435e-38", 4, 1, tiny,
             "underflow, subnormal, FLT_MAX, FLT_MIN");
    const float longs[] = {0.1f, 12345678901234567890.0f, 0.0f};
    parse_ok("0.1000000000000000000000000000000001 12345678901234567890.0 "
             "0.00000000000000000000000000000000000000000000000000000000000000000000",
             3, 1, longs, "long digit strings");

    /* Text that is not NUL-terminated: only len bytes count. */
    const char *s = "1,2,3\n4,5,6\n7,8";
    deconv_error err;
    deconv_kernel *k = parse(s, 11, &err);
    CHECK(matrix_is(k, 3, 2, m23), "parse first 11 bytes: %s", k ? "wrong" : err.message);
    deconv_kernel_free(k);
    k = parse("1 2 3\n4 5 67", 11, &err);
    CHECK(matrix_is(k, 3, 2, m23), "a number cut at len: %s", k ? "wrong" : err.message);
    deconv_kernel_free(k);
    /* An embedded NUL is an ordinary (bad) byte, not an end. */
    parse_fails("1 2\0 3", 6, DECONV_ERR_FORMAT, "column 2: '2?' is not a number", "embedded NUL");

    parse_fails("1,2,3\n4,5,6\n7,8,9,0\n", 20, DECONV_ERR_FORMAT, "row 3 has 4 values, row 1 has 3",
                "a long row");
    parse_fails("1 2 3 4 5\n1 2 3 4 5\n1 2 3 4\n", 28, DECONV_ERR_FORMAT,
                "row 3 has 4 values, row 1 has 5", "a short row");
    parse_fails("1 2\n3\n", 6, DECONV_ERR_FORMAT, "row 2 has 1 value, row 1 has 2", "one value");
    parse_fails("1 2 3\n4 5 abc\n", 14, DECONV_ERR_FORMAT, "row 2, column 3: 'abc' is not a number",
                "garbage");
    parse_fails("# head\n\n1 2 3\n4 x 6\n", 20, DECONV_ERR_FORMAT,
                "row 2 (line 4), column 2: 'x' is not a number", "garbage after comments");
    parse_fails("1 nan 3\n", 8, DECONV_ERR_KERNEL, "row 1, column 2: 'nan' is not a finite number",
                "NaN");
    parse_fails("1 -Inf\n", 7, DECONV_ERR_KERNEL, "'-Inf' is not a finite number", "-Inf");
    parse_fails("infinity", 8, DECONV_ERR_KERNEL, "not a finite number", "infinity");
    parse_fails("NAN(123)", 8, DECONV_ERR_KERNEL, "not a finite number", "NaN(123)");
    parse_fails("1e39", 4, DECONV_ERR_KERNEL, "out of the range", "1e39");
    parse_fails("1 -3.5e38", 9, DECONV_ERR_KERNEL, "out of the range", "-3.5e38");
    parse_fails("1e999999999999999999999", 23, DECONV_ERR_KERNEL, "out of the range",
                "huge exponent");
    parse_fails("", 0, DECONV_ERR_KERNEL, "kernel file has no values", "empty");
    parse_fails("# nothing\n\n  \t\r\n", 16, DECONV_ERR_KERNEL, "no values", "only comments");
    parse_fails("1,,2", 4, DECONV_ERR_FORMAT, "row 1, column 2: empty value", "two commas");
    parse_fails("1,2,", 4, DECONV_ERR_FORMAT, "column 3: empty value", "a trailing comma");
    parse_fails(",1,2", 4, DECONV_ERR_FORMAT, "column 1: empty value", "a leading comma");
    const char *bad_tokens[] = {"1.2.3", "-",    "+",   ".",    "e5",    "1e",       "1e+",
                                "0x10",  "1,5e", "--1", "1..2", "1e5.5", "\xc3\xa9", "1f"};
    for (size_t i = 0; i < sizeof bad_tokens / sizeof *bad_tokens; i++)
        parse_fails(bad_tokens[i], strlen(bad_tokens[i]), DECONV_ERR_FORMAT, "is not a number",
                    bad_tokens[i]);
    CHECK(deconv_kernel_parse_text(NULL, 0, NULL) == NULL, "NULL text");

    /* Huge-looking inputs are refused without building them. */
    size_t big = 5000 * 2;
    char *buf = malloc(big + 400);
    if (buf) {
        for (size_t i = 0; i < big; i += 2)
            buf[i] = '1', buf[i + 1] = ' ';
        parse_fails(buf, big, DECONV_ERR_KERNEL, "row 1 has more than 4096 values", "5000 columns");
        for (size_t i = 0; i < big; i += 2)
            buf[i] = '1', buf[i + 1] = '\n';
        parse_fails(buf, big, DECONV_ERR_KERNEL, "more than 4096 rows", "5000 rows");
        memset(buf, '7', 300);
        parse_fails(buf, 300, DECONV_ERR_FORMAT, "is too long to be a number", "a 300-digit token");
        memset(buf, ' ', big);
        parse_fails(buf, big, DECONV_ERR_KERNEL, "no values", "blanks only");
        free(buf);
    }
    /* The message quotes at most a short piece of a long token. */
    char longtok[200];
    memset(longtok, 'z', sizeof longtok);
    k = parse(longtok, sizeof longtok, &err);
    CHECK(k == NULL && strlen(err.message) < 120, "long token message: %s", err.message);

    /* Random bytes from the format's alphabet: never crash, read past len,
     * leak or return an inconsistent kernel. */
    unsigned long long seed = 12345;
    const char alphabet[] = "0123456789.,,,  \t\t\r\n\n\n#-+eEnaif\x01";
    for (int t = 0; t < 20000; t++) {
        size_t len = (size_t)(check_rand(&seed) * 64);
        char tmp[64];
        for (size_t i = 0; i < len; i++)
            tmp[i] = alphabet[(size_t)(check_rand(&seed) * (sizeof alphabet - 1))];
        k = parse(tmp, len, &err);
        if (k) {
            int finite = 1;
            for (int i = 0; i < k->width * k->height; i++)
                finite &= isfinite(k->data[i]) != 0;
            if (!(k->width > 0 && k->height > 0 && finite)) {
                CHECK(0, "random input %d: bad kernel", t);
                break;
            }
        } else if (err.code == DECONV_OK || !err.message[0]) {
            CHECK(0, "random input %d: failure without a message", t);
            break;
        }
        deconv_kernel_free(k);
    }
    CHECK(1, "random inputs");
}

static void test_normalize_project(void)
{
    deconv_kernel *k = deconv_kernel_new(3, 2);
    if (!k)
        return;
    deconv_error err = {0, ""};
    float v[] = {1, 2, 3, 4, -2, 2};
    memcpy(k->data, v, sizeof v);
    CHECK(deconv_kernel_normalize(k, &err) == DECONV_OK, "normalize: %s", err.message);
    CHECK(fabsf(k->data[0] - 0.1f) < 1e-7f && fabsf(k->data[4] + 0.2f) < 1e-7f,
          "normalize scales by the sum, negatives kept");

    memcpy(k->data, v, sizeof v);
    k->data[4] = NAN;
    CHECK(deconv_kernel_normalize(k, &err) == DECONV_ERR_KERNEL &&
              strstr(err.message, "NaN or infinite entry at row 2, column 2") != NULL,
          "normalize NaN: %s", err.message);
    k->data[4] = -INFINITY;
    CHECK(deconv_kernel_normalize(k, &err) == DECONV_ERR_KERNEL, "normalize inf");
    CHECK(k->data[0] == 1.0f, "a refused kernel is untouched");
    memset(k->data, 0, sizeof v);
    CHECK(deconv_kernel_normalize(k, &err) == DECONV_ERR_KERNEL &&
              strcmp(err.message, "kernel is all zero") == 0,
          "normalize zero: %s", err.message);
    float neg[] = {0.1f, -0.2f, -0.2f, 0, 0, 0};
    memcpy(k->data, neg, sizeof neg);
    CHECK(deconv_kernel_normalize(k, &err) == DECONV_ERR_KERNEL &&
              strcmp(err.message, "kernel sums to -0.3, not a positive number") == 0,
          "normalize negative: %s", err.message);
    float zero_sum[] = {1, -1, 0, 0, 0, 0};
    memcpy(k->data, zero_sum, sizeof zero_sum);
    CHECK(deconv_kernel_normalize(k, &err) == DECONV_ERR_KERNEL &&
              strstr(err.message, "sums to 0, not a positive") != NULL,
          "normalize zero sum: %s", err.message);
    /* A sum tiny next to the entries: the quotient would overflow a float. */
    float cancel[] = {3e38f, -3e38f, 1e-30f, 0, 0, 0};
    memcpy(k->data, cancel, sizeof cancel);
    CHECK(deconv_kernel_normalize(k, &err) == DECONV_ERR_KERNEL, "normalize overflow: %s",
          err.message);
    CHECK(deconv_kernel_normalize(NULL, &err) == DECONV_ERR_ARG, "normalize NULL");

    /* Project: negatives (and NaN) to 0, then sum 1. */
    float p[] = {-1, 1, 3, NAN, 0, -5};
    memcpy(k->data, p, sizeof p);
    deconv_kernel_project(k);
    const float pw[] = {0, 0.25f, 0.75f, 0, 0, 0};
    CHECK(matrix_is(k, 3, 2, pw), "project clips and scales");
    float allneg[] = {-1, -2, -3, -4, -5, 0};
    memcpy(k->data, allneg, sizeof allneg);
    deconv_kernel_project(k);
    const float delta32[] = {0, 1, 0, 0, 0, 0}; /* centre ((2-1)/2, (3-1)/2) = (0, 1) */
    CHECK(matrix_is(k, 3, 2, delta32), "project of a non-positive kernel: centred delta");
    float inf[] = {1, INFINITY, 1, 1, 1, 1};
    memcpy(k->data, inf, sizeof inf);
    deconv_kernel_project(k);
    CHECK(matrix_is(k, 3, 2, delta32), "project with an infinite sum: centred delta");
    float subnormal[] = {1e-45f, 0, 0, 0, 0, 0};
    memcpy(k->data, subnormal, sizeof subnormal);
    deconv_kernel_project(k);
    CHECK(k->data[0] == 1.0f, "project of a subnormal: %g", k->data[0]);
    deconv_kernel_free(k);

    k = deconv_kernel_new(5, 5);
    if (k) {
        deconv_kernel_project(k);
        CHECK(AT(k, 2, 2) == 1.0f, "project of zero 5 x 5: delta at the centre");
        unsigned long long seed = 7;
        for (int i = 0; i < 25; i++)
            k->data[i] = (float)(check_rand(&seed) * 2 - 0.7);
        deconv_kernel_project(k);
        moments m = measure(k);
        CHECK(fabs(m.sum - 1) < 1e-6 && m.min >= 0, "project random: sum %g, min %g", m.sum, m.min);
        deconv_kernel_free(k);
    }
    deconv_kernel_project(NULL);
}

static char tmpdir[256];

static const char *tmp_path(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_files(void)
{
    char path[512];
    deconv_error err = {0, ""};

    /* CSV round trip, bit-exact, for values across the whole float range. */
    deconv_kernel *k = deconv_kernel_new(7, 5);
    if (!k)
        return;
    unsigned long long seed = 99;
    for (int i = 0; i < 35; i++) {
        double u = check_rand(&seed);
        k->data[i] = (float)((u - 0.3) * pow(10.0, (int)(check_rand(&seed) * 80) - 40));
    }
    k->data[0] = FLT_MAX;
    k->data[1] = -FLT_MIN;
    k->data[2] = 1.40129846e-45f;
    k->data[3] = -0.0f;
    k->data[4] = 0.1f;
    k->data[5] = 1.0f / 3;
    k->data[6] = 16777215.0f;
    tmp_path(path, sizeof path, "k.csv");
    CHECK(deconv_kernel_save(k, path, &err) == DECONV_OK, "save csv: %s", err.message);
    deconv_kernel *r = deconv_kernel_load(path, 0, &err);
    CHECK(r && r->width == 7 && r->height == 5 && memcmp(r->data, k->data, 35 * sizeof(float)) == 0,
          "csv round trip bit-exact: %s", r ? "values differ" : err.message);
    deconv_kernel_free(r);
    FILE *f = fopen(path, "rb");
    if (f) {
        char line[512] = "";
        CHECK(fgets(line, sizeof line, f) && strncmp(line, "3.40282347e+38,", 15) == 0,
              "csv first line: %s", line);
        fclose(f);
    }

    /* Generated kernels, other text extensions, case-insensitive. */
    deconv_kernel *g = deconv_kernel_motion(15, 30, NULL);
    const char *names[] = {"g.CSV", "g.txt", "g.tsv", "g.Dat"};
    for (size_t i = 0; g && i < 4; i++) {
        tmp_path(path, sizeof path, names[i]);
        CHECK(deconv_kernel_save(g, path, &err) == DECONV_OK, "save %s: %s", names[i], err.message);
        r = deconv_kernel_load(path, 0, &err);
        CHECK(r && r->width == g->width && r->height == g->height &&
                  memcmp(r->data, g->data, (size_t)g->width * g->height * sizeof(float)) == 0,
              "%s round trip: %s", names[i], r ? "values differ" : err.message);
        deconv_kernel_free(r);
    }
    tmp_path(path, sizeof path, "g.tsv");
    f = fopen(path, "rb");
    if (f) {
        char line[4096] = "";
        CHECK(fgets(line, sizeof line, f) && strchr(line, '\t') && !strchr(line, ','),
              "tsv is tab separated");
        fclose(f);
    }

    /* Load normalises on request, and names the file in its messages. */
    tmp_path(path, sizeof path, "n.txt");
    write_text(path, "# weights\n1 2 1\n2 4 2\n1 2 1\n");
    r = deconv_kernel_load(path, 1, &err);
    CHECK(r && r->width == 3 && fabsf(AT(r, 1, 1) - 0.25f) < 1e-7f, "load normalised: %s",
          r ? "" : err.message);
    deconv_kernel_free(r);
    r = deconv_kernel_load(path, 0, &err);
    CHECK(r && AT(r, 1, 1) == 4.0f, "load raw");
    deconv_kernel_free(r);

    tmp_path(path, sizeof path, "bad.csv");
    write_text(path, "1,2,3\n4,5,abc\n");
    r = deconv_kernel_load(path, 1, &err);
    CHECK(r == NULL && err.code == DECONV_ERR_FORMAT &&
              strstr(err.message, "bad.csv': row 2, column 3: 'abc' is not a number"),
          "load garbage: %s", err.message);
    tmp_path(path, sizeof path, "zero.csv");
    write_text(path, "0,0\n0,0\n");
    r = deconv_kernel_load(path, 1, &err);
    CHECK(r == NULL && err.code == DECONV_ERR_KERNEL &&
              strstr(err.message, "zero.csv' is all zero"),
          "load zero: %s", err.message);
    r = deconv_kernel_load(path, 0, &err);
    CHECK(r != NULL, "zero kernel loads unnormalised");
    deconv_kernel_free(r);
    tmp_path(path, sizeof path, "neg.csv");
    write_text(path, "0.1,-0.4\n");
    r = deconv_kernel_load(path, 1, &err);
    CHECK(r == NULL && strstr(err.message, "neg.csv' sums to -0.3, not a positive number"),
          "load negative: %s", err.message);
    tmp_path(path, sizeof path, "empty.csv");
    write_text(path, "");
    r = deconv_kernel_load(path, 1, &err);
    CHECK(r == NULL && strstr(err.message, "empty.csv': kernel file has no values"),
          "load empty: %s", err.message);
    /* A text kernel over 64 MiB is refused (a sparse file: cheap). */
    tmp_path(path, sizeof path, "huge.txt");
    f = fopen(path, "wb");
    if (f) {
        fseek(f, (64L << 20) + 10, SEEK_SET);
        fputc('1', f);
        fclose(f);
        r = deconv_kernel_load(path, 1, &err);
        CHECK(r == NULL && err.code == DECONV_ERR_KERNEL &&
                  strstr(err.message, "larger than 64 MiB"),
              "load huge: %s", err.message);
        remove(path);
    }
    tmp_path(path, sizeof path, "missing.csv");
    r = deconv_kernel_load(path, 1, &err);
    CHECK(r == NULL && err.code == DECONV_ERR_IO && strstr(err.message, "missing.csv"),
          "load missing: %s", err.message);
    r = deconv_kernel_load(tmpdir, 1, &err);
    CHECK(r == NULL && err.code != DECONV_OK, "load a directory: %s", err.message);
    CHECK(deconv_kernel_load(NULL, 1, &err) == NULL && err.code == DECONV_ERR_ARG, "load NULL");

    /* Refusals of save. */
    CHECK(deconv_kernel_save(NULL, path, &err) == DECONV_ERR_ARG, "save NULL");
    k->data[9] = NAN;
    tmp_path(path, sizeof path, "nan.csv");
    CHECK(deconv_kernel_save(k, path, &err) == DECONV_ERR_KERNEL && access(path, F_OK) != 0,
          "save NaN refused, nothing written: %s", err.message);
    tmp_path(path, sizeof path, "no-such-dir/k.csv");
    CHECK(deconv_kernel_save(g, path, &err) == DECONV_ERR_IO, "save to a missing folder: %s",
          err.message);
    deconv_kernel_free(k);

    /* PNG: peak white, read back as a gray image kernel. */
    tmp_path(path, sizeof path, "g.png");
    CHECK(g && deconv_kernel_save(g, path, &err) == DECONV_OK, "save png: %s", err.message);
    r = deconv_kernel_load(path, 1, &err);
    CHECK(r && g && r->width == g->width && r->height == g->height, "load png: %s",
          r ? "" : err.message);
    if (r && g && r->width == g->width) {
        moments mg = measure(g);
        double d = 0;
        for (int i = 0; i < g->width * g->height; i++)
            d = fmax(d, fabs(r->data[i] - g->data[i]));
        CHECK(d < 0.01 * mg.max, "png round trip within 1%% of the peak: %g", d);
        check_generated(r, "png kernel");
    }
    deconv_kernel_free(r);
    deconv_image *im = deconv_image_read(path, 0, NULL, &err);
    if (im) {
        float mx = 0;
        for (int i = 0; i < im->width * im->height; i++)
            mx = im->data[i] > mx ? im->data[i] : mx;
        CHECK(im->channels == 1 && mx == 1.0f, "png kernel is gray with a white peak");
        deconv_image_free(im);
    }

    /* A colour image with alpha: the mean of the colour planes. */
    im = deconv_image_new(3, 3, 4);
    if (im) {
        float *R = deconv_image_plane(im, 0), *G = deconv_image_plane(im, 1),
              *B = deconv_image_plane(im, 2), *A = deconv_image_plane(im, 3);
        for (int i = 0; i < 9; i++)
            A[i] = 1.0f;
        R[4] = 1.0f;
        G[4] = 1.0f;
        B[4] = 1.0f;
        R[1] = 1.0f; /* one pixel red only: a third of the gray */
        A[1] = 0.2f; /* alpha ignored */
        tmp_path(path, sizeof path, "rgba.png");
        if (deconv_image_write_png(im, path, 8, &err) == DECONV_OK) {
            r = deconv_kernel_load(path, 0, &err);
            CHECK(r && r->width == 3 && fabsf(AT(r, 1, 1) - 1.0f) < 1e-6f &&
                      fabsf(AT(r, 0, 1) - 1.0f / 3) < 1e-6f && AT(r, 0, 0) == 0.0f,
                  "colour kernel averaged: %s", r ? "wrong values" : err.message);
            deconv_kernel_free(r);
        } else {
            CHECK(0, "write rgba png: %s", err.message);
        }
        deconv_image_free(im);
    }
    tmp_path(path, sizeof path, "notimage.png");
    write_text(path, "1 2 3\n");
    r = deconv_kernel_load(path, 1, &err);
    CHECK(r == NULL && err.code != DECONV_OK && strstr(err.message, "notimage.png"),
          "a text file named .png: %s", err.message);
    deconv_kernel_free(g);
}

int main(void)
{
    test_new_clone();
    test_gaussian();
    test_motion();
    test_disk();
    test_parse();
    test_normalize_project();

    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_kernel.XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(tmpdir)) {
        test_files();
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    } else {
        CHECK(0, "cannot make a temporary folder under %s", base ? base : "/tmp");
    }
    return check_done("kernel");
}
