/* The tone curve of an ICC profile (MODEL.md, "The camera": "an ICC
 * profile's own tone curve, when there is one, is the curve to use").
 *
 * LittleCMS parses the profile; this file only picks its curve (the gray
 * TRC of a gray profile, the green TRC of an RGB one) and turns it into a
 * deconv_response: a parametric curve of the form deconv knows is kept as
 * such, any other curve is sampled into a table. Each call has its own
 * LittleCMS context, whose error handler writes into the call's own buffer:
 * nothing is global, nothing is printed, and calls may run on several
 * threads at once. */
#include <lcms2.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "response.h"

/* What LittleCMS said first (its later messages follow from it). */
typedef struct {
    char msg[160];
} icc_log;

static void on_lcms_error(cmsContext ctx, cmsUInt32Number code, const char *text)
{
    (void)code;
    icc_log *log = cmsGetContextUserData(ctx);
    if (log && !log->msg[0])
        snprintf(log->msg, sizeof log->msg, "%s", text && *text ? text : "unknown error");
}

/* The profile's description, printable ASCII, cut to fit max characters
 * (with "..." when cut); "" when it has none. */
static void profile_description(cmsHPROFILE h, char *out, size_t max)
{
    char buf[256] = "";
    out[0] = '\0';
    if (cmsGetProfileInfoASCII(h, cmsInfoDescription, "en", "US", buf, sizeof buf) == 0)
        return;
    buf[sizeof buf - 1] = '\0';
    size_t n = 0;
    for (const char *p = buf; *p; p++)
        if (n < sizeof buf - 1)
            buf[n++] = *p >= 0x20 && *p < 0x7f ? *p : '?';
    buf[n] = '\0';
    while (n > 0 && buf[n - 1] == ' ')
        buf[--n] = '\0';
    const char *s = buf;
    while (*s == ' ')
        s++;
    n = strlen(s);
    if (n > max && max >= 3) {
        memcpy(out, s, max - 3);
        memcpy(out + max - 3, "...", 4);
    } else {
        snprintf(out, max + 1, "%s", s);
    }
}

/* r->name: "ICC profile 'description'", or "sRGB (ICC profile '...')" when
 * the curve is sRGB's. */
static void set_name(deconv_response *r, const char *desc, int srgb)
{
    const char *pre = srgb ? "sRGB (" : "", *post = srgb ? ")" : "";
    if (desc[0])
        snprintf(r->name, sizeof r->name, "%sICC profile '%s'%s", pre, desc, post);
    else
        snprintf(r->name, sizeof r->name, "%sICC profile%s", pre, post);
}

/* Whether the parameters (g, a, b, c, d) are sRGB's, within 1e-3. */
static int params_are_srgb(const cmsFloat64Number *p)
{
    deconv_response s;
    deconv_response_srgb(&s);
    return fabs(p[0] - s.gamma) <= 1e-3 && fabs(p[1] - s.a) <= 1e-3 &&
           fabs(p[2] - s.b) <= 1e-3 && fabs(p[3] - s.c) <= 1e-3 && fabs(p[4] - s.d) <= 1e-3;
}

/* Whether a sampled curve is sRGB's: within 5e-4 of it everywhere (a
 * gamma of 2.2 differs from sRGB by up to 4e-3). */
static int table_is_srgb(const float *t, int n)
{
    deconv_response s;
    deconv_response_srgb(&s);
    for (int i = 0; i < n; i++) {
        float slope, u = (float)i / (float)(n - 1);
        if (!(fabsf(t[i] - deconv_decode1(&s, u, &slope)) <= 5e-4f))
            return 0;
    }
    return 1;
}

/* The curve as deconv's parametric form (L = (a u + b)^g from u = d on,
 * c u below) when it is of that form: LittleCMS's types 1 (pure gamma, given
 * deconv's linear toe), 4 (IEC 61966-2.1, ICC's function type 3) and 5 with
 * no offsets (ICC's type 4). The two pieces must meet (within 1 %): a
 * curve that jumps is sampled instead. Returns 1 if r was set, with *srgb
 * set when the parameters are sRGB's. */
static int parametric_curve(const cmsToneCurve *curve, deconv_response *r, int *srgb)
{
    int type = cmsGetToneCurveParametricType(curve);
    const cmsFloat64Number *p = type ? cmsGetToneCurveParams(curve) : NULL;
    *srgb = 0;
    if (!p)
        return 0;
    if (type == 1)
        return deconv_response_gamma(r, p[0], NULL) == DECONV_OK;
    if (type != 4 && !(type == 5 && p[5] == 0 && p[6] == 0))
        return 0;
    if (params_are_srgb(p)) {
        deconv_response_srgb(r);
        *srgb = 1;
        return 1;
    }
    if (!(p[4] > 0))
        return 0;
    deconv_response_parametric(r, p[0], p[1], p[2], p[3], p[4], "");
    if (deconv_response_check(r, NULL) != DECONV_OK)
        return 0;
    double below = r->c * r->d, above = pow(r->a * r->d + r->b, r->gamma);
    return fabs(below - above) <= 0.01 * fmax(below, above);
}

/* The curve sampled at DECONV_RESPONSE_TABLE_MAX points, made strictly
 * increasing (flat or slightly decreasing stretches rise by 1e-7 a step). */
static deconv_status sampled_curve(const cmsToneCurve *curve, deconv_response *r,
                                   deconv_error *err)
{
    const int n = DECONV_RESPONSE_TABLE_MAX;
    memset(r, 0, sizeof *r);
    r->kind = DECONV_RESPONSE_TABLE;
    r->table_size = n;
    r->soft_clip = 1;
    for (int i = 0; i < n; i++) {
        float v = cmsEvalToneCurveFloat(curve, (cmsFloat32Number)i / (cmsFloat32Number)(n - 1));
        if (!isfinite(v))
            return deconv_fail(err, DECONV_ERR_FORMAT,
                               "the ICC profile's tone curve has a value that is not a number");
        r->table[i] = v;
    }
    if (!(r->table[n - 1] > r->table[0]))
        return deconv_fail(err, DECONV_ERR_FORMAT,
                           "the ICC profile's tone curve is flat or decreasing");
    for (int i = 1; i < n; i++) {
        float lo = (float)((double)r->table[i - 1] + 1e-7);
        if (!(lo > r->table[i - 1])) /* 1e-7 is below half a step of float there */
            lo = nextafterf(r->table[i - 1], INFINITY);
        if (r->table[i] < lo)
            r->table[i] = lo;
    }
    return DECONV_OK;
}

deconv_status deconv_response_from_icc(const void *icc, size_t size, deconv_response *r,
                                       deconv_error *err)
{
    if (!r)
        return deconv_fail(err, DECONV_ERR_ARG, "no response to fill");
    if (!icc || size < 128)
        return deconv_fail(err, DECONV_ERR_FORMAT,
                           "the ICC profile is %zu bytes, shorter than its header", size);
    if (size > UINT32_MAX)
        return deconv_fail(err, DECONV_ERR_FORMAT, "the ICC profile is too large");

    icc_log log = {""};
    cmsContext ctx = cmsCreateContext(NULL, &log);
    if (!ctx)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading an ICC profile");
    cmsSetLogErrorHandlerTHR(ctx, on_lcms_error);

    deconv_status s = DECONV_OK;
    cmsHPROFILE h = cmsOpenProfileFromMemTHR(ctx, icc, (cmsUInt32Number)size);
    if (!h) {
        s = deconv_fail(err, DECONV_ERR_FORMAT, "the ICC profile is corrupt (%s)",
                        log.msg[0] ? log.msg : "LittleCMS cannot open it");
        cmsDeleteContext(ctx);
        return s;
    }

    char desc[sizeof r->name - 24];
    profile_description(h, desc, sizeof desc - 1);
    const char *quoted_open = desc[0] ? " '" : "", *quoted_close = desc[0] ? "'" : "";
    cmsColorSpaceSignature space = cmsGetColorSpace(h);
    cmsTagSignature tag = space == cmsSigGrayData ? cmsSigGrayTRCTag : cmsSigGreenTRCTag;
    const cmsToneCurve *curve = NULL;
    deconv_response out;
    int srgb = 0;
    if (space != cmsSigGrayData && space != cmsSigRgbData) {
        s = deconv_fail(err, DECONV_ERR_FORMAT,
                        "the ICC profile%s%s%s is not for RGB or gray data", quoted_open, desc,
                        quoted_close);
    } else if (!cmsIsTag(h, tag)) {
        s = deconv_fail(err, DECONV_ERR_FORMAT,
                        "the ICC profile%s%s%s has no %s tone curve (a LUT-based "
                        "profile, or a truncated one)",
                        quoted_open, desc, quoted_close,
                        space == cmsSigGrayData ? "gray" : "green");
    } else if (!(curve = cmsReadTag(h, tag))) {
        s = deconv_fail(err, DECONV_ERR_FORMAT, "the ICC profile's tone curve is corrupt (%s)",
                        log.msg[0] ? log.msg : "LittleCMS cannot read it");
    } else if (!parametric_curve(curve, &out, &srgb)) {
        s = sampled_curve(curve, &out, err);
        if (s == DECONV_OK && table_is_srgb(out.table, out.table_size)) {
            deconv_response_srgb(&out);
            srgb = 1;
        }
    }
    cmsCloseProfile(h);
    cmsDeleteContext(ctx);
    if (s != DECONV_OK)
        return s;

    set_name(&out, desc, srgb);
    deconv_error check;
    if (deconv_response_check(&out, &check) != DECONV_OK)
        return deconv_fail(err, DECONV_ERR_FORMAT, "the ICC profile's tone curve is unusable: %s",
                           check.message);
    /* a tone curve runs from black (no light) to white (light 1, within a
     * factor of 2) */
    float ends[2] = {0.0f, 1.0f}, light[2];
    deconv_response_decode(&out, ends, light, 2);
    if (!(light[0] >= -1e-3f && light[0] < light[1] && light[1] >= 0.5f && light[1] <= 2.0f))
        return deconv_fail(err, DECONV_ERR_FORMAT,
                           "the ICC profile's tone curve does not run from black to white "
                           "(light %g at black, %g at white)",
                           (double)light[0], (double)light[1]);
    /* the model's brightest value, G(8), must exist (a curve that ends flat
     * at white would put it at infinity) and be white at least (a curve
     * whose white is brighter than 8 is no tone curve) */
    double top = deconv_response_max(&out);
    if (!isfinite(top))
        return deconv_fail(err, DECONV_ERR_FORMAT,
                           "the ICC profile's tone curve is flat at white");
    if (!(top >= 1.0))
        return deconv_fail(err, DECONV_ERR_FORMAT,
                           "the ICC profile's tone curve gives white a light above 8");
    *r = out;
    return DECONV_OK;
}
