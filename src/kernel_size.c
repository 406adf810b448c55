/* The kernel's size when the caller gives none (blind.c): a quick estimate
 * of the kernel on the window shrunk so that the largest size considered
 * becomes PROBE_SIDE pixels, whose support, scaled back up with a margin,
 * is the size. Users do not know the size of their shake; a size too large
 * costs time (the kernel step grows as the kernel's area squared) and a
 * little accuracy, one too small truncates the trajectory, so the margin
 * errs on the large side. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blind_internal.h"

/* The side of the kernel of the shrunk estimate. */
enum { PROBE_SIDE = 25 };

/* Kernel values above this fraction of the maximum count as support. */
static const double SUPPORT_FRACTION = 1.0 / 30.0;

/* The support found, over the probe's scale, is grown by this factor and
 * by MARGIN_PROBE_PIXELS pixels of the probe (its blur), then made odd. */
static const double GROWTH = 1.2;
static const double MARGIN_PROBE_PIXELS = 1.0;

static int odd_at_least(double v, int lo, int hi)
{
    int k = 2 * (int)ceil((v - 1) / 2) + 1;
    return k < lo ? lo : (k > hi ? hi : k);
}

/* The largest size considered: a fifth of the window's shorter side (a
 * kernel needs room for many of its windows), at most
 * DECONV_BLIND_MAX_AUTO_KERNEL. */
int blind_largest_auto_size(int width, int height)
{
    int side = width < height ? width : height;
    return odd_at_least(side / 5.0, DECONV_BLIND_MIN_AUTO_KERNEL, DECONV_BLIND_MAX_AUTO_KERNEL);
}

deconv_status blind_choose_size(const deconv_image *lum, const deconv_blind_params *p, int *kw,
                                int *kh, deconv_error *err)
{
    const int N = lum->width, M = lum->height;
    const int largest = blind_largest_auto_size(N, M);
    const double scale = largest > PROBE_SIDE ? (double)PROBE_SIDE / largest : 1.0;
    const int n = (int)lround(N * scale), m = (int)lround(M * scale);
    const int side = largest > PROBE_SIDE ? PROBE_SIDE : largest;
    deconv_image *small = deconv_image_new(n, m, lum->channels);
    float *h = malloc(sizeof(float) * side * side);
    deconv_status st = DECONV_OK;
    if (!small || !h) {
        st = deconv_fail(err, DECONV_ERR_NOMEM, "out of memory choosing the kernel size");
        goto done;
    }
    for (int c = 0; c < lum->channels; c++)
        deconv_resize(deconv_image_plane(lum, c), N, M, deconv_image_plane(small, c), n, m);
    deconv_blind_params q = *p;
    q.kernel_width = q.kernel_height = side;
    q.init = NULL;
    q.levels = 0;
    q.refine = 0; /* the shape's extent is all that is read */
    q.region_width = q.region_height = 0;
    const double tv = p->tv > 0 ? p->tv : DEFAULT_TV;
    const double pieces = p->piece_fraction > 0 ? p->piece_fraction : DEFAULT_PIECE_FRACTION;
    st = blind_estimate(small, &q, tv, pieces, 0, NULL, NULL, h, err);
    if (st != DECONV_OK)
        goto done;
    float mx = 0;
    for (int t = 0; t < side * side; t++)
        mx = h[t] > mx ? h[t] : mx;
    int a0 = side, a1 = -1, b0 = side, b1 = -1;
    for (int a = 0; a < side; a++)
        for (int b = 0; b < side; b++)
            if (mx > 0 && h[a * side + b] >= SUPPORT_FRACTION * mx) {
                a0 = a < a0 ? a : a0, a1 = a > a1 ? a : a1;
                b0 = b < b0 ? b : b0, b1 = b > b1 ? b : b1;
            }
    /* the extent of the support in the photo's pixels, grown; square, so
     * that a trajectory the probe saw short in one direction still fits */
    double extent = a1 < 0 ? 1 : fmax(a1 - a0 + 1, b1 - b0 + 1);
    int k = odd_at_least(GROWTH * (extent + MARGIN_PROBE_PIXELS) / scale,
                         DECONV_BLIND_MIN_AUTO_KERNEL, largest);
    *kw = *kh = k;
done:
    deconv_image_free(small);
    free(h);
    return st;
}
