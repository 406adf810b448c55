/* Non-blind restoration of a photo: defaults, the automatic regularisation
 * weight, and the loop over channels around the image step (image_step.c). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "data_term.h"
#include "internal.h"

void deconv_deblur_defaults(deconv_deblur_params *p)
{
    memset(p, 0, sizeof *p);
    p->iterations = 200;
    p->tol = 1e-5;
    p->method = DECONV_METHOD_NESTEROV;
    p->rule = DECONV_STEP_ARMIJO;
    p->step = 0;
    p->tv = -1;
    p->tv_min = 0;
    p->tv_eps = 1e-2;
    p->tikhonov = 0;
    p->clip = 1;
    deconv_response_linear(&p->response);
    p->threads = 0;
}

void deconv_blind_restore_defaults(deconv_deblur_params *p)
{
    deconv_deblur_defaults(p);
    p->tv_min = DECONV_BLIND_RESTORE_TV_MIN;
}

static deconv_status check_inputs(const deconv_image *y, const deconv_kernel *k,
                                  const deconv_deblur_params *p, deconv_error *err)
{
    if (!y || !k || !p)
        return deconv_fail(err, DECONV_ERR_ARG, "missing image, kernel or parameters");
    if (k->width > y->width || k->height > y->height)
        return deconv_fail(err, DECONV_ERR_KERNEL, "kernel %dx%d is larger than the image %dx%d",
                           k->width, k->height, y->width, y->height);
    for (int t = 0; t < k->width * k->height; t++)
        if (!isfinite(k->data[t]))
            return deconv_fail(err, DECONV_ERR_KERNEL, "kernel has a NaN or infinite entry");
    if (p->iterations < 0 || !(p->tol >= 0) || !isfinite(p->step) || !isfinite(p->tv) ||
        !(p->tikhonov >= 0) || !isfinite(p->tikhonov) || !(p->tv_eps > 0) ||
        !(p->tv_min >= 0) || !isfinite(p->tv_min))
        return deconv_fail(err, DECONV_ERR_ARG, "parameters out of range");
    return DECONV_OK;
}

/* The TV weight that the defaults use, from the noise level of y. Measured
 * on blurred photos with 0.5 % to 2 % noise saved at 8 bits (bench/tune_tv.py,
 * figures in docs/benchmarks.md): the best weight is about 0.1 sigma from 1 % noise
 * up and about 0.05 sigma at 0.5 %, so min(0.1 sigma, 10 sigma^2). */
static double automatic_tv(double sigma)
{
    const double floor_sigma = 0.5 / 255.0; /* 8-bit quantisation */
    double s = sigma > floor_sigma ? sigma : floor_sigma;
    return fmin(0.1 * s, 10.0 * s * s);
}

void deconv_deblur_weight(deconv_deblur_params *p, double noise, deconv_report *report)
{
    if (p->tv < 0)
        p->tv = fmax(automatic_tv(noise), p->tv_min);
    if (report) {
        memset(report, 0, sizeof *report);
        report->noise = noise;
        report->tv = p->tv;
    }
}

double deconv_image_noise(const deconv_image *y)
{
    const int colors = deconv_color_channels(y->channels);
    double sigma = 0;
    for (int c = 0; c < colors; c++)
        sigma += deconv_estimate_noise(deconv_image_plane(y, c), y->width, y->height) / colors;
    return sigma;
}

deconv_image *deconv_deblur(const deconv_image *y, const deconv_kernel *k,
                            const deconv_deblur_params *params, deconv_report *report,
                            deconv_error *err)
{
    if (check_inputs(y, k, params, err) != DECONV_OK)
        return NULL;
    deconv_deblur_params p = *params;
    const int kw = k->width, kh = k->height, N = y->width, M = y->height;
    const int xw = N + kw - 1, xh = M + kh - 1;
    const int top = (kh - 1) / 2, left = (kw - 1) / 2;
    const int colors = deconv_color_channels(y->channels);
    int saved_threads = omp_get_max_threads();
    if (p.threads > 0)
        omp_set_num_threads(p.threads);

    deconv_image_work *work = NULL;
    deconv_image *x = deconv_image_new(xw, xh, y->channels);
    if (!x) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory for a %d x %d image", xw, xh);
        goto fail;
    }
    deconv_deblur_weight(&p, deconv_image_noise(y), report);
    /* MODEL.md: start from y extended by edge replication. Alpha is
     * carried through: its centre is y's alpha unchanged. */
    for (int c = 0; c < y->channels; c++)
        deconv_pad_replicate(deconv_image_plane(y, c), N, M, top, kh - 1 - top, left,
                             kw - 1 - left, deconv_image_plane(x, c));
    /* the channels share the image step's buffers (data_term.h) */
    work = deconv_image_work_new();
    if (!work) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (int c = 0; c < colors; c++) {
        int it = 0;
        double fobj = 0;
        deconv_status st = deconv_image_step_weighted(
            deconv_image_plane(x, c), deconv_image_plane(y, c), NULL, N, M, k->data, kw, kh, &p,
            c, colors, work, &it, &fobj, err);
        if (report) {
            report->iterations += it;
            report->objective = fobj;
        }
        if (st == DECONV_OK)
            continue;
        /* The image step leaves its last good iterate in x: hand it back
         * if asked (the channels not reached keep their start). */
        int partial = st == DECONV_ERR_NUMERIC || st == DECONV_ERR_DIVERGED ||
                      st == DECONV_ERR_INTERRUPTED;
        if (!(p.keep_partial && partial))
            goto fail;
        if (report)
            report->stopped = st;
        break;
    }
    deconv_image_work_free(work);
    omp_set_num_threads(saved_threads);
    return x;
fail:
    deconv_image_work_free(work);
    omp_set_num_threads(saved_threads);
    deconv_image_free(x);
    return NULL;
}
