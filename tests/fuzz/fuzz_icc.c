/* libFuzzer target: deconv_response_from_icc (icc.c, through LittleCMS) on
 * arbitrary bytes. A refusal must be DECONV_ERR_FORMAT (or out of memory)
 * with a message; a curve accepted must keep the promises of deconv.h: a
 * known kind with the soft clip, a name, a brightest value G(8) that is
 * finite and at least 1, and a decoding that is finite and does not fall
 * (beyond the 1 % a parametric curve's two pieces may miss each other by)
 * from black to that value. A broken promise aborts.
 *
 * The same checks run on the curves of the image target (fuzz_image.c),
 * whose seeds carry ICC profiles in PNG iCCP chunks and JPEG APP2 markers. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deconv.h"

static void fc_broken(const char *what, const deconv_response *r)
{
    fprintf(stderr, "fuzz_icc: %s (response '%.80s')\n", what, r ? r->name : "");
    abort();
}

/* The promises of a response that a reader or deconv_response_from_icc
 * gives (shared with fuzz_image.c). */
static void fc_check_response(const deconv_response *r)
{
    if (!memchr(r->name, '\0', sizeof r->name) || !r->name[0])
        fc_broken("the response's name is empty or not terminated", NULL);
    if (r->kind != DECONV_RESPONSE_LINEAR && r->kind != DECONV_RESPONSE_PARAMETRIC &&
        r->kind != DECONV_RESPONSE_TABLE)
        fc_broken("an unknown response kind", r);
    if (r->kind == DECONV_RESPONSE_TABLE &&
        (r->table_size < 2 || r->table_size > DECONV_RESPONSE_TABLE_MAX))
        fc_broken("a table of impossible size", r);
    double top = deconv_response_max(r);
    if (!(isfinite(top) && top >= 1.0))
        fc_broken("G(8) is not finite or below 1", r);
    enum { N = 513 };
    float u[N], l[N];
    for (int i = 0; i < N; i++)
        u[i] = (float)(top * i / (N - 1));
    deconv_response_decode(r, u, l, N);
    for (int i = 0; i < N; i++) {
        if (!isfinite(l[i]))
            fc_broken("the decoding is not finite", r);
        if (i > 0 && l[i] < l[i - 1] - 0.011f * fabsf(l[i - 1]) - 1e-6f)
            fc_broken("the decoding falls", r);
    }
}

#ifndef FUZZ_ICC_CHECKS_ONLY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    deconv_response r;
    deconv_error err = {DECONV_OK, ""};
    deconv_status s = deconv_response_from_icc(data, size, &r, &err);
    if (s != DECONV_OK) {
        if ((s != DECONV_ERR_FORMAT && s != DECONV_ERR_NOMEM) || !err.message[0])
            fc_broken("a refusal that is not DECONV_ERR_FORMAT with a message", NULL);
        return 0;
    }
    if (!r.soft_clip)
        fc_broken("an ICC curve without the soft clip", &r);
    fc_check_response(&r);
    return 0;
}
#endif
