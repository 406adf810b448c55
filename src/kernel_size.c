/* The kernel's size when the caller gives none (blind.c): a quick estimate
 * of the kernel on the window shrunk so that the largest size considered
 * becomes PROBE_SIDE pixels, whose support, scaled back up with a margin,
 * is the size (where the camera's input marks clipped pixels, the better
 * scored of two such estimates: probe_unmarked; a large size is confirmed
 * at a finer scale: blind_choose_size). Users do not know the size of
 * their shake; a size too large costs time (the kernel step grows as the
 * kernel's area squared) and a little accuracy, one too small
 * truncates the trajectory, so the margin errs on the large side. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blind_internal.h"

/* The side of the kernel of the shrunk estimate. */
enum { PROBE_SIDE = 25 };

/* The fraction of the kernel's mass left out at each end of its extent. */
static const double TAIL = 0.02;

/* The support found, over the probe's scale, is grown by this factor and
 * by MARGIN_PROBE_PIXELS pixels of the probe (its blur), then made odd. */
static const double GROWTH = 1.2;
static const double MARGIN_PROBE_PIXELS = 1.0;

/* The number of entries of p (n, summing to total) between the first and
 * the last TAIL * total of its mass. */
static int mass_extent(const double *p, int n, double total)
{
    if (!(total > 0))
        return 1;
    int lo = 0, hi = n - 1;
    double acc = 0;
    while (lo < n - 1 && acc + p[lo] < TAIL * total)
        acc += p[lo++];
    acc = 0;
    while (hi > lo && acc + p[hi] < TAIL * total)
        acc += p[hi--];
    return hi - lo + 1;
}

static int odd_at_least(double v, int lo, int hi)
{
    int k = 2 * (int)ceil((v - 1) / 2) + 1;
    return k < lo ? lo : (k > hi ? hi : k);
}

/* The largest size considered: a fifth of the window's shorter side (a
 * kernel needs room for many of its windows), at most
 * DECONV_BLIND_MAX_AUTO_KERNEL. */
static int largest_auto_size(int width, int height)
{
    int side = width < height ? width : height;
    return odd_at_least(side / 5.0, DECONV_BLIND_MIN_AUTO_KERNEL, DECONV_BLIND_MAX_AUTO_KERNEL);
}

/* Where the probe's input marks clipped pixels (blind_camera_input), a
 * second probe reads the light alone, and h (side x side, the marked
 * probe's kernel) becomes its kernel where the starts' score prefers it.
 * The mark holds every pixel within the noise of white: a page or a pale
 * wall at white is marked too, and at the probe's quarter scale the mask
 * around it leaves the kernel step few edges (a page of text by day:
 * 73 chosen for a 31-pixel blur). Read without the mark, the truly
 * clipped streaks of lamps look short (15 for 19, 13 for 23). Scored under
 * the camera's model, the right one wins on bench/camera's twelve cases
 * (docs/benchmarks.md, "Without a kernel size"). The light alone must
 * score better by UNMARKED_MARGIN: where the two tie, the marked probe's
 * kernel, which reads the streaks of lamps whole, is the safer. */
static const double UNMARKED_MARGIN = 0.01;

static deconv_status probe_unmarked(deconv_image *small, const deconv_blind_params *q, double tv,
                                    double pieces, float *h, deconv_error *err)
{
    const int side = q->kernel_width, nk = side * side;
    float *light = malloc(sizeof(float) * nk);
    if (!light)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory choosing the kernel size");
    small->channels = 1; /* the plane of light alone: no mark, no clip */
    deconv_status st = blind_estimate(small, q, tv, 0, pieces, 0, 0, 0, NULL, NULL, light, err);
    small->channels = 2;
    if (st == DECONV_OK && blind_start_score(small, light, side, side) <
                               blind_start_score(small, h, side, side) - UNMARKED_MARGIN)
        memcpy(h, light, sizeof(float) * nk);
    free(light);
    return st;
}

/* One probe: the kernel estimated with side PROBE_SIDE on lum shrunk so
 * that a kernel of `largest` pixels becomes PROBE_SIDE; *k the size its
 * mass's extent gives (at most largest). */
static deconv_status probe(const deconv_image *lum, const deconv_blind_params *p, int largest,
                           int *k, deconv_error *err)
{
    const int N = lum->width, M = lum->height;
    const double scale = largest > PROBE_SIDE ? (double)PROBE_SIDE / largest : 1.0;
    const int side = largest > PROBE_SIDE ? PROBE_SIDE : largest;
    const int n = (int)lround(N * scale), m = (int)lround(M * scale);
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
    st = blind_estimate(small, &q, tv, 0, pieces, 0, 0, 0, NULL, NULL, h, err);
    if (st == DECONV_OK && small->channels == 2)
        st = probe_unmarked(small, &q, tv, pieces, h, err);
    if (st != DECONV_OK)
        goto done;
    /* the extent of the mass: the rows (columns) left when those holding
     * the first and the last TAIL of it are cut; a threshold on the
     * values would count the faint noise a coarse estimate spreads */
    double rows[PROBE_SIDE] = {0}, cols[PROBE_SIDE] = {0}, total = 0;
    for (int a = 0; a < side; a++)
        for (int b = 0; b < side; b++)
            rows[a] += h[a * side + b], cols[b] += h[a * side + b], total += h[a * side + b];
    int extent_rows = mass_extent(rows, side, total), extent_cols = mass_extent(cols, side, total);
    /* square, so that a trajectory the probe saw short in one direction
     * still fits */
    int extent = extent_rows > extent_cols ? extent_rows : extent_cols;
    *k = odd_at_least(GROWTH * (extent + MARGIN_PROBE_PIXELS) / scale, DECONV_BLIND_MIN_AUTO_KERNEL,
                      largest);
done:
    deconv_image_free(small);
    free(h);
    return st;
}

/* A size above half the largest is confirmed by a second probe for
 * kernels up to half the largest, at twice the first's resolution. At the
 * first probe's scale (a quarter or less of the photo's) fine detail (the
 * windows of a facade, lines of text) and pale areas near white alias
 * into a kernel that fills its support: sizes three to eight times the
 * blur. If the finer probe's size stays below CONFIRM_FILL of its
 * largest, the blur is not that large: the size is the finer probe's
 * grown by UNCONFIRMED_GROWTH (at most the first's), since that probe
 * reads faint ends short (15 for a 19-pixel kernel) and a size too large
 * by half costs little where one too short truncates the trajectory. If
 * it fills its support, the first probe's size stands. A finer probe
 * run everywhere, followed by rule, chose worse sizes
 * (docs/benchmarks.md, "Without a kernel size"). */
static const double CONFIRM_FILL = 0.8;
static const double UNCONFIRMED_GROWTH = 1.5;

/* A finer probe that finds a kernel over DOT_RATIO times smaller than the
 * first's has not seen the blur: on a blur much longer than its support
 * an estimate answers with a point, as on long streaks (Lai et al.'s
 * car3.jpg: 83 from the first probe, a near point from the second, and a
 * photo smeared far beyond 15 pixels). The first probe's size stands. */
static const double DOT_RATIO = 4.0;

deconv_status blind_choose_size(const deconv_image *lum, const deconv_blind_params *p, int *kw,
                                int *kh, deconv_error *err)
{
    const int largest = largest_auto_size(lum->width, lum->height);
    const int half = odd_at_least(largest / 2.0, DECONV_BLIND_MIN_AUTO_KERNEL, largest);
    int k, finer;
    deconv_status st = probe(lum, p, largest, &k, err);
    if (st == DECONV_OK && k > half && (st = probe(lum, p, half, &finer, err)) == DECONV_OK &&
        finer < CONFIRM_FILL * half && finer * DOT_RATIO > k) {
        int grown = odd_at_least(UNCONFIRMED_GROWTH * finer, DECONV_BLIND_MIN_AUTO_KERNEL, largest);
        k = grown < k ? grown : k;
    }
    if (st == DECONV_OK)
        *kw = *kh = k;
    return st;
}
