/* The camera's response (MODEL.md, "The camera"): the curves a file can
 * carry, their parsing from --response, and the maps L and G on arrays.
 * The single-sample maps and their derivatives are in response.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "response.h"

/* The power law's linear piece below this stored value (pure gammas). */
static const double GAMMA_TOE = 0.01;

void deconv_response_linear(deconv_response *r)
{
    memset(r, 0, sizeof *r);
    r->kind = DECONV_RESPONSE_LINEAR;
    snprintf(r->name, sizeof r->name, "linear");
}

void deconv_response_parametric(deconv_response *r, double gamma, double a, double b, double c,
                                double d, const char *name)
{
    memset(r, 0, sizeof *r);
    r->kind = DECONV_RESPONSE_PARAMETRIC;
    r->gamma = gamma, r->a = a, r->b = b, r->c = c, r->d = d;
    r->soft_clip = 1;
    snprintf(r->name, sizeof r->name, "%s", name);
}

void deconv_response_srgb(deconv_response *r)
{
    /* IEC 61966-2-1 as ICC's type 4: L = ((u + 0.055) / 1.055)^2.4 from
     * u = 0.04045 on, u / 12.92 below */
    deconv_response_parametric(r, 2.4, 1.0 / 1.055, 0.055 / 1.055, 1.0 / 12.92, 0.04045, "sRGB");
}

deconv_status deconv_response_gamma(deconv_response *r, double gamma, deconv_error *err)
{
    if (!(gamma >= 0.2 && gamma <= 5.0))
        return deconv_fail(err, DECONV_ERR_ARG, "gamma %g is out of range (0.2 to 5)", gamma);
    char name[32];
    snprintf(name, sizeof name, "gamma %g", gamma);
    /* c: continuous at the toe */
    deconv_response_parametric(r, gamma, 1.0, 0.0, pow(GAMMA_TOE, gamma) / GAMMA_TOE, GAMMA_TOE,
                               name);
    return DECONV_OK;
}

deconv_status deconv_response_parse(const char *text, deconv_response *r, deconv_error *err)
{
    if (!text)
        return deconv_fail(err, DECONV_ERR_ARG, "no response given");
    if (strcmp(text, "srgb") == 0 || strcmp(text, "sRGB") == 0) {
        deconv_response_srgb(r);
        return DECONV_OK;
    }
    if (strcmp(text, "linear") == 0) {
        deconv_response_linear(r);
        return DECONV_OK;
    }
    if (strncmp(text, "gamma:", 6) == 0) {
        char *end;
        double g = strtod(text + 6, &end);
        if (end == text + 6 || *end || !isfinite(g))
            return deconv_fail(err, DECONV_ERR_ARG, "'%s': the gamma is not a number", text);
        return deconv_response_gamma(r, g, err);
    }
    return deconv_fail(err, DECONV_ERR_ARG,
                       "unknown response '%s' (expected srgb, linear or gamma:G)", text);
}

deconv_status deconv_response_check(const deconv_response *r, deconv_error *err)
{
    switch (r->kind) {
    case DECONV_RESPONSE_LINEAR: return DECONV_OK;
    case DECONV_RESPONSE_PARAMETRIC:
        if (!(r->gamma >= 0.2 && r->gamma <= 5 && r->a > 0 && isfinite(r->a) && r->c > 0 &&
              isfinite(r->c) && r->d > 0 && r->d < 1 && isfinite(r->b) && r->a * r->d + r->b > 0))
            return deconv_fail(err, DECONV_ERR_ARG, "the response's parameters are out of range");
        return DECONV_OK;
    case DECONV_RESPONSE_TABLE:
        if (r->table_size < 2 || r->table_size > DECONV_RESPONSE_TABLE_MAX)
            return deconv_fail(err, DECONV_ERR_ARG, "the response's table has %d entries",
                               r->table_size);
        for (int i = 0; i < r->table_size; i++)
            if (!(fabsf(r->table[i]) <= 1e6f) || (i > 0 && !(r->table[i] > r->table[i - 1])))
                return deconv_fail(err, DECONV_ERR_ARG,
                                   "the response's table is not increasing, or not of "
                                   "light values (within 1e6 of 0)");
        if (!(r->table[r->table_size - 1] > 0))
            return deconv_fail(err, DECONV_ERR_ARG, "the response's table ends at 0");
        /* past white the table goes on as a power law whose exponent is its
         * last slope over its last value: a curve that ends nearly flat or
         * nearly vertical has none that is usable (and an overflowing
         * slope made it infinite, the decoding NaN) */
        {
            const int n = r->table_size;
            float g = (r->table[n - 1] - r->table[n - 2]) * (float)(n - 1) / r->table[n - 1];
            if (!(g >= 0.1 && g <= 20))
                return deconv_fail(err, DECONV_ERR_ARG,
                                   "the response's table ends with a slope out of range "
                                   "(exponent %g past white)", (double)g);
        }
        return DECONV_OK;
    }
    return deconv_fail(err, DECONV_ERR_ARG, "unknown response kind %d", (int)r->kind);
}

void deconv_response_decode(const deconv_response *r, const float *u, float *light, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= DECONV_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        float s;
        light[i] = deconv_decode1(r, u[i], &s);
    }
}

void deconv_response_encode(const deconv_response *r, const float *light, float *u, size_t n)
{
#pragma omp parallel for schedule(static) if (n >= DECONV_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        float s;
        u[i] = deconv_encode1(r, light[i], &s);
    }
}

double deconv_response_max(const deconv_response *r)
{
    if (!r->soft_clip)
        return 1.0;
    float s;
    return deconv_encode1(r, DECONV_MAX_LIGHT, &s);
}
