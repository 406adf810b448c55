/* The camera's maps of MODEL.md ("The camera") on single samples, with
 * their derivatives, inline for the data term's loops:
 *   L  stored value u -> linear light (the decoding, G^-1)
 *   G  linear light -> stored value (the file's tone curve)
 *   R  the sensor's soft clip at white (Whyte, Sivic and Zisserman 2014) */
#ifndef DECONV_RESPONSE_H
#define DECONV_RESPONSE_H

#include <math.h>

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

/* R(v) = v - log(1 + exp(a (v - 1))) / a and R'(v) = 1 / (1 + exp(a (v - 1))),
 * written so that neither overflows: past white, R = 1 - log(1 + e^-z) / a. */
static inline float deconv_soft_clip(float v, float *slope)
{
    const float a = DECONV_SOFT_CLIP_SHARPNESS;
    float z = a * (v - 1.0f);
    if (z < -17.0f) { /* e^z < 4e-8: R is v to float precision */
        *slope = 1.0f;
        return v;
    }
    if (z > 0.0f) {
        float e = expf(-z);
        *slope = e / (1.0f + e);
        return 1.0f - log1pf(e) / a;
    }
    float e = expf(z);
    *slope = 1.0f / (1.0f + e);
    return v - log1pf(e) / a;
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
        float l = t[n - 1] * powf(u, g);
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
        float u = powf(l / t[n - 1], 1.0f / g);
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

/* L(u), with L'(u) in *slope. */
static inline float deconv_decode1(const deconv_response *r, float u, float *slope)
{
    switch (r->kind) {
    case DECONV_RESPONSE_PARAMETRIC:
        if (u >= (float)r->d) {
            float t = (float)r->a * u + (float)r->b;
            float l = powf(t, (float)r->gamma);
            *slope = (float)(r->a * r->gamma) * l / t;
            return l;
        }
        *slope = (float)r->c;
        return (float)r->c * u;
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
        if (l >= (float)(r->c * r->d)) {
            float t = powf(l, (float)(1.0 / r->gamma)); /* a u + b */
            *slope = t / ((float)(r->a * r->gamma) * l);
            return (t - (float)r->b) / (float)r->a;
        }
        *slope = (float)(1.0 / r->c);
        return l / (float)r->c;
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

/* Check a response given by a caller: DECONV_ERR_ARG if it is not one. */
deconv_status deconv_response_check(const deconv_response *r, deconv_error *err);

#endif
