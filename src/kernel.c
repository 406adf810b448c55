/* Kernels: allocation, normalisation, the generators (Gaussian, motion,
 * disk), the text matrix format, files, and the projection the kernel step
 * keeps (MODEL.md: non-negative, sum 1).
 *
 * Row and column numbers in messages count from 1, as a person reading the
 * file counts them. */
#define _POSIX_C_SOURCE 200809L /* the XSI strerror_r */

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The largest side a generated, parsed or loaded kernel may have. A kernel
 * is a blur of at most a few hundred pixels; this bounds memory (64 MiB of
 * floats) whatever a file claims. */
#define KERNEL_MAX_SIDE 4096
/* Generators: larger blurs than this are not photographs. */
#define KERNEL_MAX_LENGTH 2000.0
/* A text kernel file larger than this is not a kernel. */
#define KERNEL_MAX_FILE ((size_t)64 << 20)
/* A number longer than this is refused rather than copied. */
#define KERNEL_MAX_TOKEN 255

static const double kPi = 3.14159265358979323846;

/* ------------------------------------------------------------------ */
/* Allocation                                                           */
/* ------------------------------------------------------------------ */

deconv_kernel *deconv_kernel_new(int width, int height)
{
    if (width <= 0 || height <= 0)
        return NULL;
    size_t n = (size_t)width * (size_t)height;
    if (n / (size_t)width != (size_t)height)
        return NULL;
    deconv_kernel *k = malloc(sizeof *k);
    if (!k)
        return NULL;
    k->data = deconv_alloc_floats(n);
    if (!k->data) {
        free(k);
        return NULL;
    }
    memset(k->data, 0, n * sizeof *k->data);
    k->width = width;
    k->height = height;
    return k;
}

deconv_kernel *deconv_kernel_clone(const deconv_kernel *k)
{
    if (!k || !k->data)
        return NULL;
    deconv_kernel *c = deconv_kernel_new(k->width, k->height);
    if (c)
        memcpy(c->data, k->data, (size_t)k->width * (size_t)k->height * sizeof *c->data);
    return c;
}

void deconv_kernel_free(deconv_kernel *k)
{
    if (!k)
        return;
    deconv_free_floats(k->data);
    free(k);
}

static int kernel_valid(const deconv_kernel *k)
{
    return k && k->data && k->width > 0 && k->height > 0;
}

static size_t kernel_size(const deconv_kernel *k) { return (size_t)k->width * (size_t)k->height; }

/* The first double above FLT_MAX that rounds to infinity as a float:
 * anything below it converts to a finite float. */
#define FLOAT_OVERFLOW 0x1.ffffffp127

/* ------------------------------------------------------------------ */
/* Normalisation and projection                                         */
/* ------------------------------------------------------------------ */

deconv_status deconv_kernel_normalize(deconv_kernel *k, deconv_error *err)
{
    if (!kernel_valid(k))
        return deconv_fail(err, DECONV_ERR_ARG, "no kernel to normalise");
    size_t n = kernel_size(k);
    double sum = 0.0;
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        float v = k->data[i];
        if (!isfinite(v))
            return deconv_fail(err, DECONV_ERR_KERNEL,
                               "kernel has a NaN or infinite entry at row %d, column %d",
                               (int)(i / (size_t)k->width) + 1, (int)(i % (size_t)k->width) + 1);
        nonzero |= v != 0.0f;
        sum += v;
    }
    if (!nonzero)
        return deconv_fail(err, DECONV_ERR_KERNEL, "kernel is all zero");
    if (!(sum > 0.0))
        return deconv_fail(err, DECONV_ERR_KERNEL, "kernel sums to %g, not a positive number", sum);
    /* With negative entries the sum can be tiny next to the entries, and
     * the quotient may not fit a float: check before writing anything. */
    for (size_t i = 0; i < n; i++)
        if (!(fabs(k->data[i] / sum) < FLOAT_OVERFLOW))
            return deconv_fail(err, DECONV_ERR_KERNEL,
                               "kernel sums to %g, too close to zero to normalise", sum);
    for (size_t i = 0; i < n; i++)
        k->data[i] = (float)(k->data[i] / sum);
    return DECONV_OK;
}

/* Scale non-negative values to sum 1 (the sum in double). */
static void scale_to_unit_sum(float *v, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    if (sum > 0.0 && isfinite(sum))
        for (size_t i = 0; i < n; i++)
            v[i] = (float)(v[i] / sum);
}

void deconv_kernel_project(deconv_kernel *k)
{
    if (!kernel_valid(k))
        return;
    size_t n = kernel_size(k);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        float v = k->data[i];
        v = v > 0.0f ? v : 0.0f; /* also maps NaN to 0 */
        k->data[i] = v;
        sum += v;
    }
    if (sum > 0.0 && isfinite(sum)) {
        /* Every entry is at most the sum, so the quotients stay <= 1. */
        for (size_t i = 0; i < n; i++)
            k->data[i] = (float)(k->data[i] / sum);
        return;
    }
    memset(k->data, 0, n * sizeof *k->data);
    k->data[(size_t)((k->height - 1) / 2) * (size_t)k->width + (size_t)((k->width - 1) / 2)] = 1.0f;
}

/* ------------------------------------------------------------------ */
/* Generators                                                           */
/* ------------------------------------------------------------------ */

/* Mass of N(0, sigma^2) on [a, b]: the Gaussian integrated over a pixel, so
 * that a small sigma is right where point sampling is not. In the tails the
 * difference is taken of erfc, which keeps its relative precision there. */
static double gaussian_mass(double a, double b, double sigma)
{
    double t = sigma * sqrt(2.0); /* divided by, not inverted: 0 / tiny is 0 */
    if (a >= 0.0)
        return 0.5 * (erfc(a / t) - erfc(b / t));
    if (b <= 0.0)
        return 0.5 * (erfc(-b / t) - erfc(-a / t));
    return 0.5 * (erf(b / t) - erf(a / t));
}

deconv_kernel *deconv_kernel_gaussian(double sigma, int size, deconv_error *err)
{
    if (!(sigma > 0.0) || !isfinite(sigma)) {
        deconv_fail(err, DECONV_ERR_ARG, "Gaussian sigma must be a positive number, not %g", sigma);
        return NULL;
    }
    if (size <= 0) {
        double half = ceil(3.0 * sigma);
        if (2.0 * half + 1.0 > KERNEL_MAX_SIDE) {
            deconv_fail(err, DECONV_ERR_ARG,
                        "Gaussian sigma %g is too large (the kernel would exceed %d pixels)", sigma,
                        KERNEL_MAX_SIDE);
            return NULL;
        }
        size = 2 * (int)half + 1;
        if (size < 3)
            size = 3;
    }
    if (size > KERNEL_MAX_SIDE) {
        deconv_fail(err, DECONV_ERR_ARG, "Gaussian kernel size %d is larger than %d", size,
                    KERNEL_MAX_SIDE);
        return NULL;
    }
    deconv_kernel *k = deconv_kernel_new(size, size);
    double *g = malloc((size_t)size * sizeof *g);
    if (!k || !g) {
        deconv_kernel_free(k);
        free(g);
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for a %d x %d kernel", size, size);
        return NULL;
    }
    /* Separable: the 2-D mass of a pixel is the product of the 1-D masses. */
    double c = (size - 1) / 2.0, total = 0.0;
    for (int j = 0; j < size; j++) {
        g[j] = gaussian_mass(j - c - 0.5, j - c + 0.5, sigma);
        total += g[j];
    }
    for (int j = 0; j < size; j++) /* a sigma near DBL_MAX: flat */
        g[j] = total > 0.0 && isfinite(total) ? g[j] / total : 1.0 / size;
    for (int i = 0; i < size; i++)
        for (int j = 0; j < size; j++)
            k->data[(size_t)i * size + j] = (float)(g[i] * g[j]);
    free(g);
    scale_to_unit_sum(k->data, kernel_size(k));
    return k;
}

/* cos and sin of an angle in degrees, exact at multiples of 90 degrees so
 * that horizontal and vertical kernels are exactly so. */
static void cos_sin_deg(double deg, double *c, double *s)
{
    double a = fmod(deg, 360.0);
    if (a < 0.0)
        a += 360.0;
    if (a == 0.0) {
        *c = 1.0, *s = 0.0;
    } else if (a == 90.0) {
        *c = 0.0, *s = 1.0;
    } else if (a == 180.0) {
        *c = -1.0, *s = 0.0;
    } else if (a == 270.0) {
        *c = 0.0, *s = -1.0;
    } else {
        *c = cos(a * kPi / 180.0);
        *s = sin(a * kPi / 180.0);
    }
}

/* A line of the given length, anti-aliased: the weight of a pixel is
 * 1 - (distance of its centre to the segment), clipped at 0, with the
 * segment running between the centres of the end pixels (length - 1 long).
 * So length L at 0 or 90 degrees covers exactly L pixels, equally for an
 * integer L; length 1 is a delta at every angle; and the weights along an
 * oblique line fall off linearly across it (about one unit of weight per
 * unit of length). Built like MATLAB's fspecial('motion'). */
deconv_kernel *deconv_kernel_motion(double length, double angle_deg, deconv_error *err)
{
    if (!(length >= 1.0) || !(length <= KERNEL_MAX_LENGTH)) {
        deconv_fail(err, DECONV_ERR_ARG, "motion length must be between 1 and %g pixels, not %g",
                    KERNEL_MAX_LENGTH, length);
        return NULL;
    }
    if (!isfinite(angle_deg)) {
        deconv_fail(err, DECONV_ERR_ARG, "motion angle must be a finite number of degrees");
        return NULL;
    }
    double half = (length - 1.0) / 2.0;
    /* Pixels more than half + 1 from the centre along an axis get no
     * weight, so this odd size is just large enough at every angle. */
    int r = (int)ceil(half);
    int size = 2 * r + 1;
    deconv_kernel *k = deconv_kernel_new(size, size);
    if (!k) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for a %d x %d kernel", size, size);
        return NULL;
    }
    double c, s;
    cos_sin_deg(angle_deg, &c, &s);
    /* Image rows grow downward: counter-clockwise on screen is -row. */
    double ux = c, uy = -s;
    for (int i = 0; i < size; i++) {
        for (int j = 0; j < size; j++) {
            double px = j - r, py = i - r;
            double t = px * ux + py * uy;
            t = t < -half ? -half : t > half ? half : t;
            double dx = px - t * ux, dy = py - t * uy;
            double w = 1.0 - sqrt(dx * dx + dy * dy);
            k->data[(size_t)i * size + j] = w > 0.0 ? (float)w : 0.0f;
        }
    }
    scale_to_unit_sum(k->data, kernel_size(k));
    return k;
}

/* Area of {0 <= X <= x, 0 <= Y <= y, X^2 + Y^2 <= r^2}, extended as an odd
 * function of x and of y, so that the area of the disk inside any
 * rectangle is a signed sum of four of these. Exact (no supersampling). */
static double disk_corner_area(double x, double y, double r)
{
    double sign = 1.0;
    if (x < 0.0)
        x = -x, sign = -sign;
    if (y < 0.0)
        y = -y, sign = -sign;
    x = x < r ? x : r;
    y = y < r ? y : r;
    double r2 = r * r;
    if (x * x + y * y <= r2)
        return sign * x * y;
    /* The arc crosses the rectangle: a rectangle up to xs, then the area
     * under the circle from xs to x. */
    double xs = sqrt(fmax(0.0, r2 - y * y));
    double ax = 0.5 * (x * sqrt(fmax(0.0, r2 - x * x)) + r2 * asin(fmin(1.0, x / r)));
    double as = 0.5 * (xs * sqrt(fmax(0.0, r2 - xs * xs)) + r2 * asin(fmin(1.0, xs / r)));
    return sign * (y * xs + (ax - as));
}

deconv_kernel *deconv_kernel_disk(double radius, deconv_error *err)
{
    if (!(radius > 0.0) || !(radius <= KERNEL_MAX_LENGTH / 2.0)) {
        deconv_fail(err, DECONV_ERR_ARG, "disk radius must be above 0 and at most %g, not %g",
                    KERNEL_MAX_LENGTH / 2.0, radius);
        return NULL;
    }
    int r = (int)ceil(radius);
    int size = 2 * r + 1;
    deconv_kernel *k = deconv_kernel_new(size, size);
    if (!k) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for a %d x %d kernel", size, size);
        return NULL;
    }
    double r2 = radius * radius;
    for (int i = 0; i < size; i++) {
        for (int j = 0; j < size; j++) {
            double x0 = j - r - 0.5, x1 = x0 + 1.0, y0 = i - r - 0.5, y1 = y0 + 1.0;
            /* Nearest and farthest points of the pixel from the centre. */
            double nx = x0 > 0.0 ? x0 : x1 < 0.0 ? -x1 : 0.0;
            double ny = y0 > 0.0 ? y0 : y1 < 0.0 ? -y1 : 0.0;
            double fx = fmax(fabs(x0), fabs(x1)), fy = fmax(fabs(y0), fabs(y1));
            double a;
            if (fx * fx + fy * fy <= r2)
                a = 1.0; /* wholly inside: exactly 1, so the interior is flat */
            else if (nx * nx + ny * ny >= r2)
                a = 0.0;
            else {
                a = disk_corner_area(x1, y1, radius) - disk_corner_area(x0, y1, radius) -
                    disk_corner_area(x1, y0, radius) + disk_corner_area(x0, y0, radius);
                a = a < 0.0 ? 0.0 : a > 1.0 ? 1.0 : a;
            }
            k->data[(size_t)i * size + j] = (float)a;
        }
    }
    scale_to_unit_sum(k->data, kernel_size(k));
    return k;
}

/* ------------------------------------------------------------------ */
/* Text matrices                                                        */
/* ------------------------------------------------------------------ */

enum { NUM_OK, NUM_BAD, NUM_NOT_FINITE, NUM_RANGE, NUM_LONG };

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

static int word_is(const char *s, size_t n, const char *word)
{
    size_t m = strlen(word);
    if (n != m)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(s[i]) != word[i])
            return 0;
    return 1;
}

/* A decimal number [+-] digits [. digits] [(e|E) [+-] digits] to the nearest
 * float. Written here rather than strtod so that the format does not depend
 * on the process's locale (a decimal comma would break every file). The
 * decimal is taken to 19 significant digits and scaled in double: at most a
 * few double roundings, far below the float rounding that follows, so any
 * float printed with %.9g reads back bit-exact. */
static int parse_number(const char *s, size_t n, float *out)
{
    static const double p10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (word_is(s + i, n - i, "nan") || word_is(s + i, n - i, "inf") ||
        word_is(s + i, n - i, "infinity"))
        return NUM_NOT_FINITE;
    if (n - i >= 4 && word_is(s + i, 4, "nan("))
        return NUM_NOT_FINITE;

    uint64_t m = 0;
    int nd = 0, any = 0;
    long e10 = 0;
    for (; i < n && is_digit(s[i]); i++) {
        any = 1;
        if (m == 0 && s[i] == '0')
            continue;
        if (nd < 19)
            m = m * 10 + (uint64_t)(s[i] - '0'), nd++;
        else
            e10++;
    }
    if (i < n && s[i] == '.') {
        for (i++; i < n && is_digit(s[i]); i++) {
            any = 1;
            if (m == 0 && s[i] == '0') {
                e10--;
            } else if (nd < 19) {
                m = m * 10 + (uint64_t)(s[i] - '0'), nd++;
                e10--;
            }
        }
    }
    if (!any)
        return NUM_BAD;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (!(i < n && is_digit(s[i])))
            return NUM_BAD;
        long ex = 0;
        for (; i < n && is_digit(s[i]); i++)
            if (ex < 1000000)
                ex = ex * 10 + (s[i] - '0');
        e10 += eneg ? -ex : ex;
    }
    if (i != n)
        return NUM_BAD;
    if (m == 0) {
        *out = neg ? -0.0f : 0.0f;
        return NUM_OK;
    }
    long mag = nd - 1 + e10; /* 10^mag <= value < 10^(mag+1) */
    if (mag > 38)
        return NUM_RANGE;
    if (mag < -46) { /* below half the smallest subnormal float */
        *out = neg ? -0.0f : 0.0f;
        return NUM_OK;
    }
    /* Here -64 <= e10 <= 38: at most three scalings. */
    double v = (double)m;
    for (; e10 > 22; e10 -= 22)
        v *= 1e22;
    for (; e10 < -22; e10 += 22)
        v /= 1e22;
    v = e10 >= 0 ? v * p10[e10] : v / p10[-e10];
    if (!(v < FLOAT_OVERFLOW))
        return NUM_RANGE;
    *out = (float)(neg ? -v : v);
    return NUM_OK;
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

/* Where a value is, for messages: the row of the matrix, and the line of
 * the file when comments or blank lines make them differ. */
static void where(char *buf, size_t size, int row, long line, int col)
{
    if (line != row)
        snprintf(buf, size, "row %d (line %ld), column %d", row, line, col);
    else
        snprintf(buf, size, "row %d, column %d", row, col);
}

/* A token as shown in a message: at most 32 bytes, control bytes as '?'. */
static void show_token(char *buf, size_t size, const char *s, size_t n)
{
    size_t shown = n > 32 ? 32 : n, o = 0;
    for (size_t i = 0; i < shown && o + 1 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (n > shown)
        for (int d = 0; d < 3 && o + 1 < size; d++)
            buf[o++] = '.';
    buf[o] = '\0';
}

deconv_kernel *deconv_kernel_parse_text(const char *text, size_t len, deconv_error *err)
{
    if (!text && len > 0) {
        deconv_fail(err, DECONV_ERR_ARG, "no kernel text");
        return NULL;
    }
    float *vals = NULL;
    size_t cap = 0, count = 0;
    int rows = 0, width = 0;
    long line = 0;
    char at[96], tok[48];
    size_t pos = 0;

    while (pos < len) {
        /* One line: up to '\n', '\r' or the end. */
        line++;
        size_t end = pos;
        while (end < len && text[end] != '\n' && text[end] != '\r')
            end++;
        size_t next = end;
        if (next < len)
            next += (text[next] == '\r' && next + 1 < len && text[next + 1] == '\n') ? 2 : 1;
        for (size_t p = pos; p < end; p++)
            if (text[p] == '#') {
                end = p;
                break;
            }

        int col = 0, comma = 0;
        size_t p = pos;
        for (;;) {
            while (p < end && is_blank(text[p]))
                p++;
            if (p == end || text[p] == ',') {
                if (comma || (p < end && col == 0)) {
                    where(at, sizeof at, rows + 1, line, col + 1);
                    deconv_fail(err, DECONV_ERR_FORMAT, "%s: empty value (two separators)", at);
                    goto fail;
                }
                if (p == end)
                    break;
                comma = 1;
                p++;
                continue;
            }
            size_t start = p;
            while (p < end && !is_blank(text[p]) && text[p] != ',')
                p++;
            size_t n = p - start;
            col++;
            comma = 0;
            if (col > KERNEL_MAX_SIDE) {
                deconv_fail(err, DECONV_ERR_KERNEL, "row %d has more than %d values", rows + 1,
                            KERNEL_MAX_SIDE);
                goto fail;
            }
            float v = 0.0f;
            int r = n > KERNEL_MAX_TOKEN ? NUM_LONG : parse_number(text + start, n, &v);
            if (r != NUM_OK) {
                where(at, sizeof at, rows + 1, line, col);
                show_token(tok, sizeof tok, text + start, n);
                deconv_fail(err,
                            r == NUM_BAD || r == NUM_LONG ? DECONV_ERR_FORMAT : DECONV_ERR_KERNEL,
                            "%s: '%s' is %s", at, tok,
                            r == NUM_BAD          ? "not a number"
                            : r == NUM_NOT_FINITE ? "not a finite number"
                            : r == NUM_LONG       ? "too long to be a number"
                                                  : "out of the range of a float");
                goto fail;
            }
            /* Values of a row longer than the first are counted for the
             * message but not stored. */
            if (rows > 0 && col > width)
                continue;
            if (count == cap) {
                size_t ncap = cap ? 2 * cap : 256;
                float *nv = realloc(vals, ncap * sizeof *nv);
                if (!nv) {
                    deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading a kernel");
                    goto fail;
                }
                vals = nv;
                cap = ncap;
            }
            vals[count++] = v;
        }
        if (col > 0) {
            if (rows == 0) {
                width = col;
            } else if (col != width) {
                deconv_fail(err, DECONV_ERR_FORMAT, "row %d has %d value%s, row 1 has %d", rows + 1,
                            col, col == 1 ? "" : "s", width);
                goto fail;
            }
            if (++rows > KERNEL_MAX_SIDE) {
                deconv_fail(err, DECONV_ERR_KERNEL, "kernel has more than %d rows",
                            KERNEL_MAX_SIDE);
                goto fail;
            }
        }
        pos = next;
    }
    if (rows == 0) {
        deconv_fail(err, DECONV_ERR_KERNEL, "kernel file has no values");
        goto fail;
    }
    deconv_kernel *k = deconv_kernel_new(width, rows);
    if (!k) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for a %d x %d kernel", width, rows);
        goto fail;
    }
    memcpy(k->data, vals, count * sizeof *vals);
    free(vals);
    return k;
fail:
    free(vals);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Files                                                                */
/* ------------------------------------------------------------------ */

/* The extension of path (after the last '.' of the last component), or "". */
static const char *extension(const char *path)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return "";
    return dot + 1;
}

static int is_text_extension(const char *path)
{
    const char *e = extension(path);
    size_t n = strlen(e);
    return word_is(e, n, "csv") || word_is(e, n, "txt") || word_is(e, n, "tsv") ||
           word_is(e, n, "dat");
}

/* strerror is not required to be thread-safe; the XSI strerror_r is. */
static const char *error_text(int e, char *buf, size_t size)
{
    if (strerror_r(e, buf, size) != 0)
        snprintf(buf, size, "error %d", e);
    return buf;
}

/* Read a whole file of at most KERNEL_MAX_FILE bytes. */
static char *read_file(const char *path, size_t *len, deconv_error *err)
{
    char ebuf[128];
    FILE *f = fopen(path, "rb");
    if (!f) {
        deconv_fail(err, DECONV_ERR_IO, "kernel '%s': cannot open: %s", path,
                    error_text(errno, ebuf, sizeof ebuf));
        return NULL;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) { /* cap <= KERNEL_MAX_FILE here: n > it stopped below */
            size_t ncap = cap ? 2 * cap : 65536;
            if (ncap > KERNEL_MAX_FILE + 1)
                ncap = KERNEL_MAX_FILE + 1;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                deconv_fail(err, DECONV_ERR_NOMEM, "kernel '%s': out of memory", path);
                goto fail;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                deconv_fail(err, DECONV_ERR_IO, "kernel '%s': cannot read: %s", path,
                            error_text(errno, ebuf, sizeof ebuf));
                goto fail;
            }
            break;
        }
        if (n > KERNEL_MAX_FILE) {
            deconv_fail(err, DECONV_ERR_KERNEL, "kernel '%s' is larger than %zu MiB", path,
                        KERNEL_MAX_FILE >> 20);
            goto fail;
        }
    }
    fclose(f);
    *len = n;
    return buf;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

static deconv_kernel *kernel_from_image(const char *path, deconv_error *err)
{
    deconv_error e = {DECONV_OK, ""};
    deconv_image *im =
        deconv_image_read(path, (int64_t)KERNEL_MAX_SIDE * KERNEL_MAX_SIDE, NULL, &e);
    if (!im) {
        deconv_fail(err, e.code, "kernel: %s", e.message);
        return NULL;
    }
    deconv_kernel *k = deconv_kernel_new(im->width, im->height);
    if (!k) {
        deconv_image_free(im);
        deconv_fail(err, DECONV_ERR_NOMEM, "kernel '%s': out of memory", path);
        return NULL;
    }
    /* Gray: the plane; colour: the mean of the colour planes; alpha (the
     * last plane of 2 or 4) is ignored. */
    int colours = im->channels == 2 || im->channels == 4 ? im->channels - 1 : im->channels;
    if (colours < 1)
        colours = 1;
    size_t n = kernel_size(k);
    for (size_t i = 0; i < n; i++) {
        double s = 0.0;
        for (int c = 0; c < colours; c++)
            s += im->data[(size_t)c * n + i];
        k->data[i] = (float)(s / colours);
    }
    deconv_image_free(im);
    return k;
}

deconv_kernel *deconv_kernel_load(const char *path, int normalize, deconv_error *err)
{
    if (!path || !*path) {
        deconv_fail(err, DECONV_ERR_ARG, "no kernel file name");
        return NULL;
    }
    deconv_kernel *k = NULL;
    if (is_text_extension(path)) {
        size_t len = 0;
        char *text = read_file(path, &len, err);
        if (!text)
            return NULL;
        deconv_error e = {DECONV_OK, ""};
        k = deconv_kernel_parse_text(text, len, &e);
        free(text);
        if (!k) {
            deconv_fail(err, e.code, "kernel '%s': %s", path, e.message);
            return NULL;
        }
    } else {
        k = kernel_from_image(path, err);
        if (!k)
            return NULL;
    }
    if (normalize) {
        deconv_error e = {DECONV_OK, ""};
        if (deconv_kernel_normalize(k, &e) != DECONV_OK) {
            /* "kernel is all zero" -> "kernel 'k.csv' is all zero" */
            const char *rest = strncmp(e.message, "kernel ", 7) == 0 ? e.message + 7 : e.message;
            deconv_fail(err, e.code, "kernel '%s' %s", path, rest);
            deconv_kernel_free(k);
            return NULL;
        }
    }
    return k;
}

/* Print v with %.9g (enough for any float to read back exactly), with a
 * '.' as decimal point whatever the locale's. */
static void format_value(char *buf, size_t size, float v)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.9g", (double)v);
    size_t o = 0;
    int point = 0;
    for (const char *p = tmp; *p && o + 1 < size; p++) {
        char c = *p;
        if (is_digit(c) || c == '-' || c == '+' || c == 'e' || c == 'E') {
            buf[o++] = c;
        } else if (!point) { /* the (possibly multibyte) decimal point */
            buf[o++] = '.';
            point = 1;
        }
    }
    buf[o] = '\0';
}

static deconv_status save_text(const deconv_kernel *k, const char *path, char sep,
                               deconv_error *err)
{
    deconv_error e = {DECONV_OK, ""};
    deconv_atomic_file *af = deconv_atomic_open(path, &e);
    if (!af) {
        if (err)
            *err = e;
        return e.code;
    }
    FILE *f = deconv_atomic_stream(af);
    char num[64];
    for (int i = 0; i < k->height; i++) {
        for (int j = 0; j < k->width; j++) {
            format_value(num, sizeof num, k->data[(size_t)i * k->width + j]);
            if (j > 0)
                fputc(sep, f);
            fputs(num, f);
        }
        fputc('\n', f);
    }
    if (ferror(f)) {
        deconv_atomic_abort(af);
        return deconv_fail(err, DECONV_ERR_IO, "kernel '%s': cannot write", path);
    }
    return deconv_atomic_commit(af, err);
}

static deconv_status save_png(const deconv_kernel *k, const char *path, deconv_error *err)
{
    deconv_image *im = deconv_image_new(k->width, k->height, 1);
    if (!im)
        return deconv_fail(err, DECONV_ERR_NOMEM, "kernel '%s': out of memory", path);
    size_t n = kernel_size(k);
    float mx = 0.0f;
    for (size_t i = 0; i < n; i++)
        mx = k->data[i] > mx ? k->data[i] : mx;
    /* Scaled so the peak is white; negative entries clamp to black. */
    for (size_t i = 0; i < n; i++)
        im->data[i] = mx > 0.0f ? (float)((double)k->data[i] / mx) : 0.0f;
    deconv_status s = deconv_image_write_png(im, path, 16, err);
    deconv_image_free(im);
    return s;
}

deconv_status deconv_kernel_save(const deconv_kernel *k, const char *path, deconv_error *err)
{
    if (!kernel_valid(k) || !path || !*path)
        return deconv_fail(err, DECONV_ERR_ARG, "no kernel or no file name to save it to");
    size_t n = kernel_size(k);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(k->data[i]))
            return deconv_fail(err, DECONV_ERR_KERNEL,
                               "kernel '%s' not written: a NaN or infinite entry at row %d, "
                               "column %d",
                               path, (int)(i / (size_t)k->width) + 1,
                               (int)(i % (size_t)k->width) + 1);
    if (is_text_extension(path)) {
        const char *e = extension(path);
        return save_text(k, path, word_is(e, strlen(e), "tsv") ? '\t' : ',', err);
    }
    return save_png(k, path, err);
}
