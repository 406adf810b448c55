/* libFuzzer target: the text kernel parser (deconv_kernel_parse_text), then
 * normalisation and projection of what it accepts, checking the promises of
 * deconv.h; a broken promise aborts (reported as a crash).
 *
 * Also compiled into tests/test_fuzz_regressions.c, which replays the corpus
 * and the regressions of this target without libFuzzer. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "deconv.h"

static void fk_broken(const char *what)
{
    fprintf(stderr, "fuzz_kernel_text: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    deconv_error err = {DECONV_OK, ""};
    deconv_kernel *k = deconv_kernel_parse_text((const char *)data, size, &err);
    if (!k) {
        if (err.code == DECONV_OK || !err.message[0])
            fk_broken("parse failed without a message");
        return 0;
    }
    if (k->width < 1 || k->height < 1 || k->width > 4096 || k->height > 4096 || !k->data)
        fk_broken("parsed kernel of an impossible size");
    size_t n = (size_t)k->width * (size_t)k->height;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(k->data[i]))
            fk_broken("parsed a NaN or infinite value");

    /* normalise: on success every entry is finite */
    deconv_kernel *c = deconv_kernel_clone(k);
    if (!c)
        fk_broken("clone failed");
    if (deconv_kernel_normalize(c, &err) == DECONV_OK) {
        for (size_t i = 0; i < n; i++)
            if (!isfinite(c->data[i]))
                fk_broken("normalize left a NaN or infinite entry");
    } else if (err.code != DECONV_ERR_KERNEL || !err.message[0]) {
        fk_broken("normalize failed without a kernel error");
    }
    deconv_kernel_free(c);

    /* project: entries in [0, 1] summing to 1 */
    deconv_kernel_project(k);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!(k->data[i] >= 0.0f && k->data[i] <= 1.0f))
            fk_broken("project left an entry outside [0, 1]");
        sum += k->data[i];
    }
    if (!(fabs(sum - 1.0) < 1e-3))
        fk_broken("project did not make the sum 1");
    deconv_kernel_free(k);
    return 0;
}
