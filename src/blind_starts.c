/* The blind estimate's starts (blind.c): several estimates that differ in
 * their TV weight or piece fraction, run side by side, and the score that
 * picks one. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "blind_internal.h"

/* How sharp and clean the restoration with kernel h looks: the normalised
 * sparsity ||grad x||_1 / ||grad x||_2 of x restored (briefly, with the
 * settings `deconv blind` restores with) from the centre of lum, at most
 * SCORE_SIDE square. A wrong kernel leaves blur or rings, both of which
 * spread the gradient over more pixels and raise the measure (Krishnan,
 * Tay and Fergus, CVPR 2011, who use it as a prior). Lower is better;
 * INFINITY when out of memory. */
enum { SCORE_SIDE = 1024, SCORE_ITERATIONS = 30 };

static double restoration_sparsity(const deconv_image *lum, const float *h, int kw, int kh)
{
    int w = lum->width < SCORE_SIDE ? lum->width : SCORE_SIDE;
    int ht = lum->height < SCORE_SIDE ? lum->height : SCORE_SIDE;
    deconv_image *crop = deconv_image_new(w, ht, 1);
    deconv_kernel *k = deconv_kernel_new(kw, kh);
    double score = INFINITY;
    if (crop && k) {
        deconv_crop(lum->data, lum->width, (lum->height - ht) / 2, (lum->width - w) / 2, w, ht,
                    crop->data);
        memcpy(k->data, h, (size_t)kw * kh * sizeof(float));
        deconv_deblur_params dp;
        deconv_blind_restore_defaults(&dp);
        dp.iterations = SCORE_ITERATIONS;
        if (lum->channels == 2)
            blind_camera_step_response(&dp.response);
        deconv_error e;
        deconv_image *x = deconv_deblur(crop, k, &dp, NULL, &e);
        deconv_image *c = x ? deconv_crop_to_input(x, kw, kh) : NULL;
        if (c) {
            double l1 = 0, l2 = 0;
            for (int i = 0; i + 1 < c->height; i++)
                for (int j = 0; j + 1 < c->width; j++) {
                    const float *q = c->data + (size_t)i * c->width + j;
                    double a = q[1] - q[0], b = q[c->width] - q[0];
                    l1 += fabs(a) + fabs(b), l2 += a * a + b * b;
                }
            score = l2 > 0 ? l1 / sqrt(l2) : INFINITY;
        }
        deconv_image_free(c);
        deconv_image_free(x);
    }
    deconv_image_free(crop);
    deconv_kernel_free(k);
    return score;
}

/* The weight of the kernel's spread in a start's score (start_score). */
static const double SPREAD_WEIGHT = 0.05;

/* A start's score, lower is better: log restoration_sparsity plus
 * SPREAD_WEIGHT x log(1 / ||h||_2), the log of the kernel's spread (h sums
 * to 1: 1 / ||h||_2^2 is its effective number of pixels). Among
 * restorations about as sharp, the more compact kernel: thick trajectories
 * and spurious branches, the usual faults of the estimates, spread it.
 * Measured (docs/benchmarks.md): on the Levin benchmark any weight from 0.01 to 0.1
 * keeps the same figures but for one case a little better, on the
 * earlier (linear) sample 0.031 or more keeps the right start. Unbounded, the
 * term would prefer a delta (no deblurring at all): on every Levin case
 * the delta's restoration scores worse than the estimate's up to a weight
 * of 0.104, twice this one. The size probe (kernel_size.c) chooses between
 * its two kernels by it too. */
double blind_start_score(const deconv_image *lum, const float *h, int kw, int kh)
{
    double l2 = 0;
    for (int t = 0; t < kw * kh; t++)
        l2 += (double)h[t] * h[t];
    return log(restoration_sparsity(lum, h, kw, kh)) - SPREAD_WEIGHT * 0.5 * log(l2);
}

/* A start's score when it succeeded, else INFINITY (never kept). */
static double scored(deconv_status st, const deconv_image *lum, const float *h,
                     const deconv_blind_params *p)
{
    return st == DECONV_OK ? blind_start_score(lum, h, p->kernel_width, p->kernel_height)
                           : INFINITY;
}

/* The starting TV weights of starts 0 to 2, relative to p->tv: the
 * estimates differ in how much of the image the first kernels are fitted
 * to. Chosen on the Levin benchmark from single-start runs at TV 0.01,
 * 0.015, 0.02, 0.03 and 0.04 (x 0.5, 0.75, 1, 1.5, 2): with the selection
 * below, these did best of every set of three (docs/benchmarks.md). */
static const double start_tv_factor[3] = {1, 0.5, 1.5};

/* Start 3 is start 0 keeping fainter pieces of the kernel (this fraction
 * of p->piece_fraction), which a trajectory with a faint middle needs at
 * the coarse levels; it is forked from start 0 (fork_point). On the Levin
 * benchmark it is chosen in two cases, both better, and loses none. */
static const double FORK_PIECE_FACTOR = 0.5;

/* For kernels of SHOCK_MIN_SIDE pixels or more across, start 2 selects
 * the kernel step's edges on x after SHOCK_STEPS steps of a shock filter
 * (blind_edges.c; Cho and Lee 2009): the TV step alone leaves the edges of
 * a long blur soft, and with noise the fit to them spreads the kernel over
 * scattered dots. The filter distorts x where the TV step already
 * sharpens it, so it is one start among four and the score chooses. On
 * bench/blindset's six cases of 51 and 75 pixels it is chosen in the
 * three noisy 75-pixel ones (kernel correlation 0.015, 0.085, 0.078 to
 * 0.47, 0.43, 0.42) and not in the noise-free ones, which keep theirs.
 * Below 51 pixels it is not used: with Levin's 27-pixel kernel given as 41
 * (--size-factor 1.5) the score chose it once, wrongly (error ratio 3.9 to
 * 15.6); no kernel of Levin's benchmark, given 1.5 times too large or
 * sized by deconv, reaches 51 (docs/benchmarks.md). */
enum { SHOCK_MIN_SIDE = 51, SHOCK_STEPS = 5, SHOCK_START = 2 };

static int kernel_side(const deconv_blind_params *p)
{
    return p->kernel_width > p->kernel_height ? p->kernel_width : p->kernel_height;
}

static int shock_steps(const deconv_blind_params *p, int s)
{
    return s == SHOCK_START && kernel_side(p) >= SHOCK_MIN_SIDE ? SHOCK_STEPS : 0;
}

/* On a noisy photo (the noise estimated in the window at least
 * SHOCK_ALONE_NOISE) a long kernel is the shock-filtered start's alone,
 * and the other starts are not run. On bench/blindset's twelve cases of
 * 51 and 75 pixels and bench/camera's two of 75, every one of the ten at
 * 1 or 2 % noise (estimated 0.0075 to 0.020) had its best kernel from that
 * start (correlation 0.39 to 0.55, the others' at most 0.34), and the
 * score missed it in two (0.11 and 0.05 kept); without noise (estimated
 * 0.003 at most) the other starts did better in three of four, so there
 * the four starts and the score stay (docs/benchmarks.md). */
static const double SHOCK_ALONE_NOISE = 0.005;

static int shock_alone(const deconv_blind_params *p, double noise)
{
    return kernel_side(p) >= SHOCK_MIN_SIDE && noise >= SHOCK_ALONE_NOISE;
}

/* Start 4 is start 0 with the one-sided rule for clipped pieces larger
 * than the kernel (blind_clip.c): a white page or a sky. Dropping every
 * gradient near a clipped pixel (the rule of the other starts, which the
 * lamps of night scenes need) leaves little to fit on a bright page of
 * text, whose letters all lie within a kernel of it; fitting y as a lower
 * bound there keeps them. As the rule of every start it lost on photos
 * (bench/camera: coffee bright 0.98 to 0.56, manmade_03 at night 0.89 to
 * 0.49), so it is a fifth start that the score chooses (text_01 bright
 * 0.34 to 0.85, text_02 bright 0.64 to 0.75; docs/camera.md). It runs
 * only where the window has such a piece. Returns how many, -1 when out
 * of memory (then it does not run). */
static int has_large_clipped(const deconv_image *lum, const deconv_blind_params *p)
{
    if (lum->channels != 2)
        return 0;
    const size_t n = (size_t)lum->width * lum->height;
    unsigned char *c = malloc(n), *large = malloc(n);
    int pieces = -1;
    if (c && large) {
        const float *clip = deconv_image_plane(lum, 1);
        for (size_t i = 0; i < n; i++)
            c[i] = clip[i] > 0;
        pieces = blind_large_clipped(c, lum->width, lum->height, p->kernel_width,
                                     p->kernel_height, large);
    }
    free(c), free(large);
    return pieces;
}

/* Every start's kernel of the luminance window lum (h: p->starts kernels
 * one after the other) and its score (lower is better; 0 for a single
 * start), on omp_get_max_threads() threads; only those of mine when it is
 * not NULL. A failure of any start (interrupted, out of memory) is the
 * run's: the caller asked for all. */
deconv_status blind_run_starts(const deconv_image *lum, const deconv_blind_params *p,
                               const unsigned char *mine, float *h, double *score,
                               deconv_error *err)
{
    const int threads = omp_get_max_threads(), starts = p->starts > 1 ? p->starts : 1;
    const int nk = p->kernel_width * p->kernel_height;
    const double tv = p->tv > 0 ? p->tv : DEFAULT_TV;
    const double pieces = p->piece_fraction > 0 ? p->piece_fraction : DEFAULT_PIECE_FRACTION;
    const double noise = deconv_estimate_noise(lum->data, lum->width, lum->height);
    /* every start's kernel steps smoothed alike, so start 3 parts from
     * start 0 only in its pieces */
    const double smooth =
        p->kernel_smooth > 0
            ? blind_kernel_smoothness(p, noise, (double)lum->width * lum->height)
            : 0;
    deconv_status status = DECONV_OK;
    fork_point fork = {0};
    fork.stage = -1;
    deconv_error *errs = calloc(starts, sizeof(deconv_error));
    deconv_status *st = calloc(starts, sizeof(deconv_status));
    if (!errs || !st) {
        free(errs), free(st);
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory");
    }
    const int alone = shock_alone(p, noise);
    if (alone || starts == 1) {
        /* one estimate, in the first slot: start 0, or the shock-filtered
         * start alone (the other slots its copies, never kept) */
        const int s = alone ? SHOCK_START : 0;
        if (!mine || mine[0])
            st[0] = blind_estimate(lum, p, tv * start_tv_factor[s], smooth, pieces,
                                   shock_steps(p, s), 0, 1, NULL, NULL, h, &errs[0]);
        score[0] = 0;
        for (int t = 1; t < starts; t++) {
            memcpy(h + (size_t)t * nk, h, sizeof(float) * nk);
            score[t] = INFINITY;
        }
    } else {
        /* Starts 0 to 2 run side by side, the threads shared out between
         * them (each start's result does not depend on its thread count).
         * With fewer threads than starts, each start has one thread and
         * all run at once, the system sharing the cores between them: a
         * start with a single thread never waits at a barrier, and the
         * last of the starts does not run alone on one core while the
         * others idle. One thread asked for is one thread: the starts then
         * run one after the other. Start 3 follows, on all the threads,
         * from where it parts from start 0, then start 4 where it runs. */
        const int side = starts < 3 ? starts : 3;
        int list[3], n = 0; /* the side-by-side starts run here */
        for (int s = 0; s < side; s++)
            if (!mine || mine[s])
                list[n++] = s;
        int outer = threads > 1 && n > 1 ? n : 1;
        int inner = n && threads / n > 1 ? threads / n : 1;
        fork.pieces = pieces * FORK_PIECE_FACTOR;
        /* OpenMP's dynamic adjustment (OMP_DYNAMIC, when a caller sets
         * it) sizes a team by the load average, which our own previous
         * run raises: it would run the starts one after the other. Within
         * a start it applies again. */
        const int dynamic = omp_get_dynamic();
        omp_set_dynamic(0);
#pragma omp parallel for num_threads(outer) schedule(dynamic, 1)
        for (int i = 0; i < n; i++) {
            const int s = list[i];
            omp_set_dynamic(dynamic);
            omp_set_num_threads(inner);
            st[s] = blind_estimate(lum, p, tv * start_tv_factor[s], smooth, pieces,
                                   shock_steps(p, s), 0, s == 0,
                             s == 0 && starts > 3 ? &fork : NULL, NULL, h + (size_t)s * nk,
                             &errs[s]);
            score[s] = scored(st[s], lum, h + (size_t)s * nk, p);
        }
        omp_set_dynamic(dynamic);
        if (starts > 3 && (!mine || mine[3])) {
            float *h3 = h + (size_t)3 * nk;
            if (st[0] == DECONV_OK && fork.stage >= 0) {
                st[3] = blind_estimate(lum, p, tv, smooth, fork.pieces, 0, 0, 0, NULL, &fork, h3,
                                       &errs[3]);
                score[3] = scored(st[3], lum, h3, p);
            } else {
                /* never parted: start 3's kernel is start 0's */
                memcpy(h3, h, sizeof(float) * nk);
                st[3] = st[0], errs[3] = errs[0], score[3] = score[0];
            }
        }
        if (starts > 4 && (!mine || mine[4])) {
            float *h4 = h + (size_t)4 * nk;
            if (st[0] == DECONV_OK && has_large_clipped(lum, p) > 0) {
                st[4] = blind_estimate(lum, p, tv, smooth, pieces, 0, 1, 0, NULL, NULL, h4,
                                       &errs[4]);
                score[4] = scored(st[4], lum, h4, p);
            } else {
                /* nothing for the rule to change: start 0's kernel, never
                 * kept (failures and out of memory are start 0's) */
                memcpy(h4, h, sizeof(float) * nk);
                st[4] = st[0], errs[4] = errs[0], score[4] = INFINITY;
            }
        }
    }
    for (int s = 0; s < starts && status == DECONV_OK; s++)
        if (st[s] != DECONV_OK) {
            status = st[s];
            if (err)
                *err = errs[s];
        }
    blind_level_free(&fork.state);
    free(errs), free(st);
    return status;
}

/* For the tests (tests/test_blind.c declares it; not part of the API):
 * every start's kernel and score for the luminance image lum, as
 * deconv_blind_kernel computes them (h: p->starts kernels of the kernel
 * size); lum may be the camera's input (blind_camera_input: light, and a
 * plane marking the clipped pixels). Returns 0 on success. */
int deconv_blind_test_starts(const deconv_image *lum, const deconv_blind_params *p, float *h,
                             double *score);
int deconv_blind_test_starts(const deconv_image *lum, const deconv_blind_params *p, float *h,
                             double *score)
{
    deconv_error err;
    if (blind_check_params(lum, p, &err) != DECONV_OK || lum->channels > 2)
        return -1;
    int saved_threads = omp_get_max_threads();
    if (p->threads > 0)
        omp_set_num_threads(p->threads);
    deconv_status st = blind_run_starts(lum, p, NULL, h, score, &err);
    omp_set_num_threads(saved_threads);
    return st == DECONV_OK ? 0 : -1;
}
