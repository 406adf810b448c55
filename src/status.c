/* The version, status names and the error recording that every module
 * uses. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

const char *deconv_version(void) { return DECONV_VERSION; }

const char *deconv_status_name(deconv_status s)
{
    switch (s) {
    case DECONV_OK: return "success";
    case DECONV_ERR_NOMEM: return "out of memory";
    case DECONV_ERR_IO: return "input/output error";
    case DECONV_ERR_FORMAT: return "unreadable file";
    case DECONV_ERR_TOO_LARGE: return "image too large";
    case DECONV_ERR_ARG: return "invalid argument";
    case DECONV_ERR_KERNEL: return "invalid kernel";
    case DECONV_ERR_DIVERGED: return "diverged";
    case DECONV_ERR_NUMERIC: return "numerical failure";
    case DECONV_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown error";
}

deconv_status deconv_fail(deconv_error *err, deconv_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

float *deconv_alloc_floats(size_t n)
{
    if (n == 0 || n > SIZE_MAX / sizeof(float) - 64)
        return NULL;
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes);
}

void deconv_free_floats(float *p) { free(p); }
