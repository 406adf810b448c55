/* The camera's model in the blind estimate (MODEL.md, "The camera"): the
 * estimate's input decoded to linear light with a mask of the pixels
 * clipped at white, and what the kernel step and the L0 step fit there. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blind_internal.h"

/* The current model's prediction h * x (N x M) in out. Returns 0 when
 * out of memory. */
static int predict(const level *l, float *out)
{
    deconv_op *op = deconv_op_new(l->N, l->M, l->h, l->kw, l->kh, DECONV_CONV_AUTO, NULL);
    if (!op)
        return 0;
    deconv_op_apply(op, l->x, out);
    deconv_op_free(op);
    return 1;
}

/* Where y is clipped, the L0 step fits the current model's own prediction
 * h * x (at least y): a clipped pixel only says that the light was at
 * least white. Recomputes l->yfit. Returns 0 when out of memory. */
int blind_fit_target(level *l)
{
    if (!l->clip)
        return 1;
    const size_t ny = (size_t)l->N * l->M;
    if (!predict(l, l->yfit))
        return 0;
#pragma omp parallel for schedule(static) if (ny >= DECONV_PARALLEL_MIN)
    for (size_t i = 0; i < ny; i++)
        l->yfit[i] = l->clip[i] > 0 && l->yfit[i] > l->y[i] ? l->yfit[i] : l->y[i];
    return 1;
}

/* out (w x h) = 1 where some in[i - a][j - b] is set, 0 <= a < dh (rows)
 * and 0 <= b < dw, reading in (iw x ih) at offsets (i - a, j - b) - (oi, oj):
 * a box dilation, separable, in time independent of the box (a running
 * count a row, then a column; a plain loop over the box was an eighth of
 * the blind estimate's time on 2-megapixel windows). tmp: w x ih bytes.
 * Returns 0 when out of memory. */
static int dilate(const unsigned char *in, int iw, int ih, unsigned char *out, int w, int h,
                  int oi, int oj, int dh, int dw, unsigned char *tmp)
{
    int *count = malloc(sizeof(int) * (size_t)((iw > w ? iw : w) + 1));
    if (!count)
        return 0;
    /* rows first: tmp (w x ih), from the prefix counts of each row of in */
    for (int i = 0; i < ih; i++) {
        const unsigned char *row = in + (size_t)i * iw;
        count[0] = 0;
        for (int j = 0; j < iw; j++)
            count[j + 1] = count[j] + (row[j] != 0);
        for (int j = 0; j < w; j++) {
            int lo = j + oj - dw + 1, hi = j + oj; /* columns of in, inclusive */
            lo = lo > 0 ? lo : 0;
            hi = hi < iw - 1 ? hi : iw - 1;
            tmp[(size_t)i * w + j] = hi >= lo && count[hi + 1] > count[lo];
        }
    }
    /* then columns: output row i sees rows i + oi - dh + 1 .. i + oi of tmp,
     * a window that moves down a row at a time */
    memset(count, 0, sizeof(int) * (size_t)w);
    for (int r = oi - dh + 1; r < oi; r++)
        if (r >= 0 && r < ih)
            for (int j = 0; j < w; j++)
                count[j] += tmp[(size_t)r * w + j];
    for (int i = 0; i < h; i++) {
        int add = i + oi, drop = i + oi - dh + 1;
        if (add >= 0 && add < ih)
            for (int j = 0; j < w; j++)
                count[j] += tmp[(size_t)add * w + j];
        for (int j = 0; j < w; j++)
            out[(size_t)i * w + j] = count[j] > 0;
        if (drop >= 0 && drop < ih)
            for (int j = 0; j < w; j++)
                count[j] -= tmp[(size_t)drop * w + j];
    }
    free(count);
    return 1;
}

/* For the tests (tests/test_blind.c declares it; not part of the API):
 * dilate, with its scratch. Returns 0 on success. */
int deconv_blind_test_dilate(const unsigned char *in, int iw, int ih, unsigned char *out, int w,
                             int h, int oi, int oj, int dh, int dw);
int deconv_blind_test_dilate(const unsigned char *in, int iw, int ih, unsigned char *out, int w,
                             int h, int oi, int oj, int dh, int dw)
{
    unsigned char *tmp = malloc((size_t)w * ih + 1);
    int ok = tmp && dilate(in, iw, ih, out, w, h, oi, oj, dh, dw, tmp);
    free(tmp);
    return ok ? 0 : -1;
}

/* Marks in `large` (N x M, zeroed here) the 8-connected pieces of c
 * larger than kw x kh in either direction: a white page or a sky rather
 * than a lamp's streak, which fits in the kernel. Returns how many, -1
 * when out of memory. */
int blind_large_clipped(const unsigned char *c, int N, int M, int kw, int kh,
                        unsigned char *large)
{
    int *members = malloc(sizeof(int) * (size_t)N * M);
    unsigned char *seen = calloc((size_t)N * M, 1);
    if (!members || !seen) {
        free(members), free(seen);
        return -1;
    }
    memset(large, 0, (size_t)N * M);
    int pieces = 0;
    for (int s = 0; s < N * M; s++) {
        if (!c[s] || seen[s])
            continue;
        int n = blind_piece(c, N, M, s, seen, members), i0 = M, i1 = -1, j0 = N, j1 = -1;
        for (int k = 0; k < n; k++) {
            int a = members[k] / N, b = members[k] % N;
            i0 = a < i0 ? a : i0, i1 = a > i1 ? a : i1, j0 = b < j0 ? b : j0, j1 = b > j1 ? b : j1;
        }
        if (i1 - i0 + 1 > kh || j1 - j0 + 1 > kw) {
            pieces++;
            for (int k = 0; k < n; k++)
                large[members[k]] = 1;
        }
    }
    free(seen), free(members);
    return pieces;
}

/* For the tests (tests/test_blind.c declares it; not part of the API). */
int deconv_blind_test_large_clipped(const unsigned char *c, int N, int M, int kw, int kh,
                                    unsigned char *large);
int deconv_blind_test_large_clipped(const unsigned char *c, int N, int M, int kw, int kh,
                                    unsigned char *large)
{
    return blind_large_clipped(c, N, M, kw, kh, large);
}

/* The one-sided rule (a level's one_sided: the fifth start): the clipped
 * pieces larger than the kernel are fitted as the camera's model has it,
 * y being only a lower bound there: target = h * x where that is brighter
 * than y, else y. They are removed from c, which keeps the smaller pieces
 * (lamps) for the dropping rule of blind_mask_clipped. target: N x M.
 * Returns 0 when out of memory. */
static int one_sided_target(level *l, unsigned char *c, float *target)
{
    const int N = l->N, M = l->M;
    unsigned char *large = malloc((size_t)N * M);
    int ok = large && blind_large_clipped(c, N, M, l->kw, l->kh, large) >= 0 &&
             predict(l, target);
    if (ok) {
        for (size_t i = 0; i < (size_t)N * M; i++) {
            target[i] = large[i] && target[i] > l->y[i] ? target[i] : l->y[i];
            if (large[i])
                c[i] = 0;
        }
    }
    free(large);
    return ok;
}

/* The kernel step where y is clipped (after edge selection). A clipped
 * pixel only says that the light was at least white, and the light of a
 * lamp has gradients far larger than any other edge: fitted as they are,
 * the lights pull the kernel to whatever their clipped streaks look like
 * (and, filled with the model's prediction alone, their curvature swamps
 * the fit: the kernel stayed a delta). So the selected gradients of x are
 * dropped wherever x feeds a clipped pixel of y, and every pixel of y
 * whose window meets a dropped gradient (a clipped pixel, or one within a
 * kernel of it) is fitted to the current kernel applied to what is left:
 * there the kernel step has nothing to gain (EM's rule for missing data);
 * everywhere else it fits y, whose windows are then whole. Dropping only
 * the gradients of x brighter than white was tried: the estimate's x is
 * brighter than white over most clipped areas, so it dropped as much.
 * Returns 0 when out of memory. */
int blind_mask_clipped(level *l)
{
    if (!l->clip)
        return 1;
    const int xw = l->xw, xh = l->xh, N = l->N, M = l->M, kw = l->kw, kh = l->kh;
    unsigned char *c = malloc((size_t)N * M), *x0 = malloc((size_t)xw * xh);
    unsigned char *em = malloc((size_t)N * M), *tmp = malloc((size_t)xw * xh);
    float *pred = deconv_alloc_floats((size_t)N * M);
    int ok = c && x0 && em && tmp && pred;
    if (ok) {
        for (size_t i = 0; i < (size_t)N * M; i++)
            c[i] = l->clip[i] > 0;
        if (l->one_sided)
            ok = one_sided_target(l, c, pred);
        /* x positions (i + a, j + b) that a clipped (i, j) reads; then the
         * y positions whose window (i..i+kh-1, j..j+kw-1) meets them */
        ok = ok && dilate(c, N, M, x0, xw, xh, 0, 0, kh, kw, tmp) &&
             dilate(x0, xw, xh, em, N, M, kh - 1, kw - 1, kh, kw, tmp);
    }
    if (ok) {
        for (int i = 0; i < xh; i++)
            for (int j = 0; j < xw; j++) {
                int drop = x0[(size_t)i * xw + j] || (j + 1 < xw && x0[(size_t)i * xw + j + 1]) ||
                           (i + 1 < xh && x0[(size_t)(i + 1) * xw + j]);
                if (!drop)
                    continue;
                if (j + 1 < xw)
                    l->px[(size_t)i * (xw - 1) + j] = 0;
                if (i + 1 < xh)
                    l->py[(size_t)i * xw + j] = 0;
            }
        if (l->one_sided) {
            /* x brighter than white on both sides: inside a clipped
             * piece, where nothing but its being bright is known */
            for (int i = 0; i < xh; i++)
                for (int j = 0; j < xw; j++) {
                    float v = l->x[(size_t)i * xw + j];
                    if (j + 1 < xw && v > 1 && l->x[(size_t)i * xw + j + 1] > 1)
                        l->px[(size_t)i * (xw - 1) + j] = 0;
                    if (i + 1 < xh && v > 1 && l->x[(size_t)(i + 1) * xw + j] > 1)
                        l->py[(size_t)i * xw + j] = 0;
                }
        }
        blind_differences(l->one_sided ? pred : l->y, N, M, l->dy_c, l->dy_r);
        blind_whiten_y(l);
    }
    deconv_op *op = NULL;
    if (ok && N > 1 && (op = deconv_op_new(N - 1, M, l->h, kw, kh, DECONV_CONV_AUTO, NULL))) {
        deconv_op_apply(op, l->px, pred);
        for (int i = 0; i < M; i++)
            for (int j = 0; j + 1 < N; j++)
                if (em[(size_t)i * N + j] || em[(size_t)i * N + j + 1])
                    l->dy_c[(size_t)i * (N - 1) + j] = pred[(size_t)i * (N - 1) + j];
    } else if (N > 1)
        ok = 0;
    deconv_op_free(op);
    op = NULL;
    if (ok && M > 1 && (op = deconv_op_new(N, M - 1, l->h, kw, kh, DECONV_CONV_AUTO, NULL))) {
        deconv_op_apply(op, l->py, pred);
        for (int i = 0; i + 1 < M; i++)
            for (int j = 0; j < N; j++)
                if (em[(size_t)i * N + j] || em[(size_t)(i + 1) * N + j])
                    l->dy_r[(size_t)i * N + j] = pred[(size_t)i * N + j];
    } else if (M > 1)
        ok = 0;
    deconv_op_free(op);
    free(c), free(x0), free(em), free(tmp);
    deconv_free_floats(pred);
    return ok;
}

/* The soft clip on linear light: the image step's model in camera mode. */
void blind_camera_step_response(deconv_response *r)
{
    deconv_response_linear(r);
    r->soft_clip = 1;
    snprintf(r->name, sizeof r->name, "linear light, clipped at white");
}

/* The colour channels the estimate reads, as bits (1 red, 2 green, 4 blue):
 * those clipped on at most CHANNEL_CLIP_RATIO times the window's fraction
 * of the least clipped one, plus CHANNEL_CLIP_MARGIN of the window. A
 * scene clips its saturated colours first (an orange suit's red, a
 * lamp's warm glow): the luminance is then clipped wherever one of its
 * colours is, and the mask around those pixels can leave the kernel step
 * few edges, while the other channels still hold the blur exactly
 * (docs/camera.md, "Channels clipped unevenly"). */
static const double CHANNEL_CLIP_RATIO = 1.5, CHANNEL_CLIP_MARGIN = 0.02;

static unsigned channels_read(const deconv_image *y, int left, int top, int w, int ht,
                              float white, double clipped[3])
{
    const int colors = deconv_color_channels(y->channels), N = y->width;
    size_t count[3] = {0, 0, 0};
    for (int c = 0; c < colors; c++)
        for (int i = 0; i < ht; i++) {
            const float *row = y->data + (size_t)c * y->height * N + (size_t)(top + i) * N + left;
            for (int j = 0; j < w; j++)
                count[c] += row[j] >= white;
        }
    size_t least = count[0];
    for (int c = 1; c < colors; c++)
        least = count[c] < least ? count[c] : least;
    const double n = (double)w * ht;
    unsigned bits = 0;
    for (int c = 0; c < colors; c++) {
        if (clipped)
            clipped[c] = count[c] / n;
        if (count[c] / n <= CHANNEL_CLIP_RATIO * least / n + CHANNEL_CLIP_MARGIN)
            bits |= 1u << c;
    }
    return bits;
}

/* White under the noise: a pixel at or above it is taken as clipped
 * (noise is added after the clip). */
static float clip_white(const deconv_image *lum)
{
    double sigma = deconv_estimate_noise(lum->data, lum->width, lum->height);
    return (float)(1.0 - fmax(2.5 * sigma, 1.5 / 255.0));
}

deconv_status deconv_blind_channels(const deconv_image *y, const deconv_blind_params *p,
                                    unsigned *read, double clipped[3], deconv_error *err)
{
    deconv_status st = blind_check_params(y, p, err);
    if (st != DECONV_OK)
        return st;
    const int colors = deconv_color_channels(y->channels);
    *read = (1u << colors) - 1;
    if (clipped)
        clipped[0] = clipped[1] = clipped[2] = 0;
    if (colors != 3 || deconv_response_is_linear(&p->response))
        return DECONV_OK;
    /* one luminance for both the window (deconv_blind_window's) and white */
    deconv_image *lum = deconv_image_luminance(y);
    if (!lum)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
    int left, top, w, ht;
    blind_choose_window(lum, p, &left, &top, &w, &ht);
    *read = channels_read(y, left, top, w, ht, clip_white(lum), clipped);
    deconv_image_free(lum);
    return DECONV_OK;
}

/* The estimate's input under the camera's model: the window's luminance
 * decoded to linear light, where the blur is a convolution, and, when some
 * of its pixels are clipped at white, a second plane marking them (1) and
 * their neighbours: a pixel of y is clipped when its brightest colour is
 * within the noise of white (noise is added after the clip). A colour
 * photo whose channels clip unevenly is read in its less clipped ones
 * (channels_read): their luminance, each decoded to linear light. */
deconv_image *blind_camera_input(const deconv_image *y, const deconv_image *lum, int left,
                                  int top, int w, int ht, const deconv_response *resp)
{
    const int colors = deconv_color_channels(y->channels), N = y->width;
    const float white = clip_white(lum);
    const unsigned all = (1u << colors) - 1;
    const unsigned bits = colors == 3 ? channels_read(y, left, top, w, ht, white, NULL) : all;
    const int per_channel = bits != all;
    size_t n = (size_t)w * ht, clipped = 0;
    unsigned char *mark = calloc(n, 1);
    deconv_image *out = deconv_image_new(w, ht, 2);
    float *tmp = per_channel ? deconv_alloc_floats(n) : NULL;
    if (!mark || !out || (per_channel && !tmp)) {
        free(mark);
        deconv_image_free(out);
        deconv_free_floats(tmp);
        return NULL;
    }
    for (int i = 0; i < ht; i++)
        for (int j = 0; j < w; j++) {
            size_t at = (size_t)(top + i) * N + left + j;
            float top_value = 0;
            for (int c = 0; c < colors; c++) {
                if (!(bits >> c & 1))
                    continue;
                float v = y->data[(size_t)c * y->height * N + at];
                top_value = v > top_value ? v : top_value;
            }
            mark[(size_t)i * w + j] = top_value >= white;
            out->data[(size_t)i * w + j] = per_channel ? 0.0f : lum->data[at];
        }
    if (per_channel) {
        const float *weight = deconv_luminance_weight;
        float total = 0;
        for (int c = 0; c < 3; c++)
            total += bits >> c & 1 ? weight[c] : 0;
        for (int c = 0; c < 3; c++) {
            if (!(bits >> c & 1))
                continue;
            deconv_crop(deconv_image_plane(y, c), N, top, left, w, ht, tmp);
            deconv_response_decode(resp, tmp, tmp, n);
            const float wc = weight[c] / total;
            for (size_t i = 0; i < n; i++)
                out->data[i] += wc * tmp[i];
        }
        deconv_free_floats(tmp);
    } else
        deconv_response_decode(resp, out->data, out->data, n);
    float *clip = deconv_image_plane(out, 1);
    for (int i = 0; i < ht; i++)
        for (int j = 0; j < w; j++) {
            int any = 0;
            for (int a = i > 0 ? i - 1 : 0; a <= i + 1 && a < ht && !any; a++)
                for (int b = j > 0 ? j - 1 : 0; b <= j + 1 && b < w && !any; b++)
                    any = mark[(size_t)a * w + b];
            clip[(size_t)i * w + j] = (float)any;
            clipped += any;
        }
    free(mark);
    if (!clipped) /* nothing clipped: linear light alone */
        out->channels = 1;
    return out;
}

/* For the tests (not part of the API): blind_camera_input on the whole of
 * the colour or gray photo y, its luminance made here. */
deconv_image *deconv_blind_test_camera_input(const deconv_image *y, const deconv_response *resp);
deconv_image *deconv_blind_test_camera_input(const deconv_image *y, const deconv_response *resp)
{
    deconv_image *lum = deconv_image_luminance(y);
    deconv_image *out = lum ? blind_camera_input(y, lum, 0, 0, y->width, y->height, resp) : NULL;
    deconv_image_free(lum);
    return out;
}
