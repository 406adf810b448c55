/* The camera's maps of MODEL.md ("The camera") on single samples, with
 * their derivatives, inline for the data term's loops:
 *   L  stored value u -> linear light (the decoding, G^-1)
 *   G  linear light -> stored value (the file's tone curve)
 *   R  the sensor's soft clip at white (Whyte, Sivic and Zisserman 2014) */
#ifndef DECONV_RESPONSE_H
#define DECONV_RESPONSE_H

#include <math.h>
#include <string.h>

#include "deconv.h"

/* The brightest light the model represents, in units of white: where a
 * photo is clipped, u may go up to G(DECONV_MAX_LIGHT). MODEL.md says 8;
 * lamps at night are brighter than that, and a model that cannot make
 * them spreads their light into rings: on bench/camera's night scenes
 * (lights of up to 30 times white) 8 restores 28.3 dB where 64 restores
 * 35.8 (people_05, 27-pixel shake), and 64, 512 restore the same. */
#define DECONV_MAX_LIGHT 256.0f

/* The sharpness a of the soft clip R. */
#define DECONV_SOFT_CLIP_SHARPNESS 50.0f

/* log2 x for x > 0 and 2^z, in float arithmetic that vectorises (libm's
 * powf, expf and log1pf are a call a sample, which was most of the camera
 * model's time): log2 by the atanh series of the mantissa in
 * [sqrt(1/2), sqrt(2)), 2^f by its Taylor polynomial on [-1/2, 1/2]. */
static inline float deconv_log2f(float x)
{
    unsigned bits;
    __builtin_memcpy(&bits, &x, sizeof bits); /* a bit cast that vectorises */
    int e = (int)((bits >> 23) & 0xff) - 127;
    bits = (bits & 0x007fffffu) | 0x3f800000u; /* mantissa in [1, 2) */
    float m;
    __builtin_memcpy(&m, &bits, sizeof m);
    int high = m > 1.41421356f;
    m = high ? 0.5f * m : m;
    e += high;
    float s = (m - 1.0f) / (m + 1.0f), s2 = s * s;
    /* log2(m) = 2/ln2 (s + s^3/3 + s^5/5 + s^7/7 + s^9/9) */
    float lg = s * (2.8853900818f + s2 * (0.9617966939f + s2 * (0.5770780164f +
               s2 * (0.4121985831f + s2 * 0.3205988979f))));
    return (float)e + lg;
}

static inline float deconv_exp2f(float z)
{
    z = z < -126.0f ? -126.0f : (z > 127.0f ? 127.0f : z);
    int k = (int)(z + 127.5f) - 127; /* round(z): the sum is positive */
    float f = z - (float)k;
    float p = 1.0f + f * (0.6931471806f + f * (0.2402265070f + f * (0.0555041087f +
              f * (0.0096181291f + f * (0.0013333558f + f * (0.0001540353f +
              f * 0.0000152527f))))));
    unsigned bits = (unsigned)(k + 127) << 23;
    float scale;
    __builtin_memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* x^y for x > 0 (0 for x <= 0). Relative error below 1e-5 (the float
 * rounding of y log2 x) for the curves' exponents and values up to 300
 * (test_response). */
static inline float deconv_powf(float x, float y)
{
    float p = deconv_exp2f(y * deconv_log2f(x));
    return x > 0.0f ? p : 0.0f;
}

/* R(v) = v - log(1 + exp(a (v - 1))) / a and R'(v) = 1 / (1 + exp(a (v - 1))),
 * written so that neither overflows: with z = a (v - 1) and e = exp(-|z|),
 * past white R = 1 - log(1 + e) / a. Branch-free, so that it vectorises. */
static inline float deconv_soft_clip(float v, float *slope)
{
    const float a = DECONV_SOFT_CLIP_SHARPNESS;
    float z = a * (v - 1.0f);
    float az = z < 0.0f ? -z : z;
    float e = deconv_exp2f(-1.4426950409f * az);
    float l1 = 0.6931471806f * deconv_log2f(1.0f + e) / a;
    float inv = 1.0f / (1.0f + e);
    *slope = z > 0.0f ? e * inv : inv;
    return z > 0.0f ? 1.0f - l1 : v - l1;
}

/* The tabulated curve's pieces: below 0 the first segment's line, above 1
 * the power law u^g_end through the last value with the last slope. */
static inline float deconv_table_decode(const deconv_response *r, float u, float *slope)
{
    const int n = r->table_size;
    const float *t = r->table;
    const float scale = (float)(n - 1);
    if (u <= 0.0f) {
        *slope = (t[1] - t[0]) * scale;
        return t[0] + u * *slope;
    }
    if (u >= 1.0f) {
        float end_slope = (t[n - 1] - t[n - 2]) * scale;
        float g = end_slope / t[n - 1];
        float l = t[n - 1] * deconv_powf(u, g);
        *slope = g * l / u;
        return l;
    }
    float s = u * scale;
    int i = (int)s;
    if (i > n - 2)
        i = n - 2;
    float f = s - (float)i;
    *slope = (t[i + 1] - t[i]) * scale;
    return t[i] + f * (t[i + 1] - t[i]);
}

static inline float deconv_table_encode(const deconv_response *r, float l, float *slope)
{
    const int n = r->table_size;
    const float *t = r->table;
    const float scale = (float)(n - 1);
    if (l <= t[0]) {
        float s = (t[1] - t[0]) * scale;
        *slope = 1.0f / s;
        return (l - t[0]) / s;
    }
    if (l >= t[n - 1]) {
        float end_slope = (t[n - 1] - t[n - 2]) * scale;
        float g = end_slope / t[n - 1];
        float u = deconv_powf(l / t[n - 1], 1.0f / g);
        *slope = u / (g * l);
        return u;
    }
    int lo = 0, hi = n - 1; /* t[lo] <= l < t[hi] */
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (t[mid] <= l)
            lo = mid;
        else
            hi = mid;
    }
    float seg = t[hi] - t[lo];
    *slope = 1.0f / (seg * scale);
    return ((float)lo + (l - t[lo]) / seg) / scale;
}

/* The parametric curve's L and G without branches (both pieces computed,
 * one kept), for loops that vectorise. */
static inline float deconv_parametric_decode(float u, float a, float b, float c, float d,
                                             float g, float *slope)
{
    float t = a * u + b;
    t = t > 1e-30f ? t : 1e-30f;
    float l = deconv_powf(t, g);
    int power = u >= d;
    *slope = power ? a * g * l / t : c;
    return power ? l : c * u;
}

static inline float deconv_parametric_encode(float l, float a, float b, float c, float d,
                                             float inv_g, float *slope)
{
    float lp = l > 1e-30f ? l : 1e-30f;
    float t = deconv_powf(lp, inv_g); /* a u + b */
    int power = l >= c * d;
    *slope = power ? t * inv_g / (a * lp) : 1.0f / c;
    return power ? (t - b) / a : l / c;
}

/* L(u), with L'(u) in *slope. */
static inline float deconv_decode1(const deconv_response *r, float u, float *slope)
{
    switch (r->kind) {
    case DECONV_RESPONSE_PARAMETRIC:
        return deconv_parametric_decode(u, (float)r->a, (float)r->b, (float)r->c, (float)r->d,
                                        (float)r->gamma, slope);
    case DECONV_RESPONSE_TABLE: return deconv_table_decode(r, u, slope);
    case DECONV_RESPONSE_LINEAR: break;
    }
    *slope = 1.0f;
    return u;
}

/* G(l), with G'(l) in *slope. */
static inline float deconv_encode1(const deconv_response *r, float l, float *slope)
{
    switch (r->kind) {
    case DECONV_RESPONSE_PARAMETRIC:
        return deconv_parametric_encode(l, (float)r->a, (float)r->b, (float)r->c, (float)r->d,
                                        (float)(1.0 / r->gamma), slope);
    case DECONV_RESPONSE_TABLE: return deconv_table_encode(r, l, slope);
    case DECONV_RESPONSE_LINEAR: break;
    }
    *slope = 1.0f;
    return l;
}

/* Whether the data term is the linear model: no curve and no clip. */
static inline int deconv_response_is_linear(const deconv_response *r)
{
    return r->kind == DECONV_RESPONSE_LINEAR && !r->soft_clip;
}

/* A parametric curve (ICC's type 4: L = (a u + b)^gamma from u = d on,
 * c u below) with the soft clip, named name (unchecked). */
void deconv_response_parametric(deconv_response *r, double gamma, double a, double b, double c,
                                double d, const char *name);

/* Check a response given by a caller: DECONV_ERR_ARG if it is not one. */
deconv_status deconv_response_check(const deconv_response *r, deconv_error *err);

#endif
