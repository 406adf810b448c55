/* The blind estimate's parts (blind.c and the files it names), their
 * shared state and the functions they call in each other. Not part of the
 * API. */
#ifndef DECONV_BLIND_INTERNAL_H
#define DECONV_BLIND_INTERNAL_H

#include "data_term.h"
#include "internal.h"
#include "kernel_normal.h"
#include "operator.h"
#include "response.h"
#include "sparse_prior.h"

/* Kernel values below this fraction of the maximum are removed after each
 * kernel step: low enough to keep the faint tails of long trajectories. */
static const double PRUNE = 0.02;

/* The most starts deconv_blind_kernel runs (start_tv_factor, FORK_PIECE_FACTOR). */
enum { MAX_STARTS = 5 };

/* The TV weight at the start of each level when p->tv is not given. */
static const double DEFAULT_TV = 0.02;

/* At the end of each level, pieces of the kernel holding less than this
 * fraction of its mass are removed when p->piece_fraction is not given. */
static const double DEFAULT_PIECE_FRACTION = 0.1;

/* One pyramid level's problem: y is N x M, x is (N+kw-1) x (M+kh-1). */
typedef struct {
    int N, M, kw, kh, xw, xh;
    float *y, *x, *h;
    float *dy_c, *dy_r;   /* D_col y: (N-1) x M; D_row y: N x (M-1) */
    float *px, *py;       /* selected D_col x: (xw-1) x xh; D_row x: xw x (xh-1) */
    double *ac;           /* autocorrelation of P, (2kw-1) x (2kh-1); after
                             kernel_setup each row is stored reversed, the
                             order normal_apply reads it in */
    float *c, *tmp;       /* kernel sized: P^T D y, correlation scratch */
    double *g, *z, *hp;   /* kernel sized, FISTA */
    int *stack;           /* kernel sized, component labelling */
    float *clip;          /* the camera's model (camera_input): 1 where y is
                             clipped at white, 0 elsewhere; NULL without */
    float *yfit;          /* y with its clipped pixels filled by the model's
                             prediction, which the kernel step and the L0
                             step fit; NULL without clip */
    float *wy, *wx;       /* the camera's model: the scale s of the gradients
                             of y (N x M) and of x (xw x xh) into the file's
                             values (blind_whiten.c); NULL without */
    float *wdata;         /* the image step's weights s^2 over their mean
                             (N x M); NULL without */
    deconv_l0 *l0;        /* the L0 image step's plans and buffers, made at
                             the level's first L0 step */
    deconv_normal *normal; /* the kernel step's FFT normal equations, made at
                              the level's first kernel step */
    kernel_fft *kfft;     /* the normal operator by FFT for large kernels
                             (kernel_normal.c), made at the first step */
    deconv_image_work *iwork; /* the TV image step's buffers, made at the
                                 level's first step */
    double smooth;        /* the kernel step's weight mu of mu/2 ||grad h||^2
                             (absolute: set at each step) */
    int shock;            /* shock filter steps on x before its edges are
                             selected (blind_select_edges); 0: none */
    float *shocked;       /* x shock filtered and the filter's two scratch
                             planes (3 xw x xh), made at the first filtered
                             edge selection */
    int one_sided;        /* clipped pieces larger than the kernel fitted
                             one-sided (blind_mask_clipped) */
} level;

/* Where an estimate can be taken up by a start that differs from it only in
 * its piece fraction: the state at the end of the first stage whose
 * pruning of pieces would differ. Until then the two starts compute the
 * same numbers, so the second runs from here instead of from the start,
 * and not at all when no stage differs (its kernel is then the first's). */
typedef struct {
    double pieces;  /* the other start's piece fraction */
    int stage;      /* -1 none found; else the pyramid level (levels: the
                       refinement) at whose end the two differ */
    level state;    /* before its pieces are pruned */
} fork_point;

/* blind_pyramid.c: a level's buffers, and one estimate */
int blind_level_alloc(level *l, int N, int M, int kw, int kh);
void blind_level_free(level *l);
int blind_level_copy(level *dst, const level *src);
void blind_project_kernel(float *h, int kw, int kh);
deconv_status blind_estimate(const deconv_image *lum, const deconv_blind_params *p, double tv0,
                             double smooth, double pieces, int shock, int one_sided,
                             int progress, fork_point *record, fork_point *resume, float *h_out,
                             deconv_error *err);

/* blind_edges.c */
void blind_differences(const float *v, int w, int h, float *dc, float *dr);
long blind_select_edges(level *l, double count);

/* kernel_step.c */
double blind_kernel_setup(level *l);
/* The kernel step's smoothness weight relative to the edges' energy for a
 * window of this many pixels and estimated noise sigma
 * (deconv_blind_params.kernel_smooth). */
double blind_kernel_smoothness(const deconv_blind_params *p, double sigma, double pixels);
/* `iterations` kernel iterations on E(h) from l->h, then the kernel
 * normalised. The rule and step of deconv_blind_params: NONE with no
 * step, FISTA with the safe step 1/L (L by power iteration); NONE with a
 * step, FISTA with that step over the selected edges' energy, and
 * DECONV_ERR_DIVERGED when E rose; ARMIJO, FISTA with backtracking from
 * that first trial (1 when not given); EXACT, projected gradient with the
 * exact step along each projected direction. */
deconv_status blind_kernel_steps(level *l, int iterations, double gamma, deconv_step_rule rule,
                                 double step, deconv_error *err);
double blind_kernel_energy(const level *l, double gamma, const double *h, double *scratch);

/* kernel_prune.c */
void blind_prune_small(float *h, int kw, int kh, double frac);
int blind_piece(const unsigned char *in, int w, int h, int s, unsigned char *seen, int *members);
int blind_prune_pieces(level *l, double frac, int dry_run);
void blind_recentre(level *l);
void blind_resample_kernel(const float *in, int iw, int ih, double ratio, float *out, int ow,
                           int oh);

/* blind_whiten.c: the fits in the file's noise. setup makes l->wy, l->wx
 * and l->wdata from l->y and the file's curve (0 when out of memory); the
 * others scale l->dy_c, l->dy_r and l->px, l->py by them (nothing
 * without). */
int blind_whiten_setup(level *l, const deconv_response *resp);
void blind_whiten_y(level *l);
void blind_whiten_x(level *l);

/* blind_clip.c: the camera's clipped pixels */
int blind_fit_target(level *l);
int blind_mask_clipped(level *l);
int blind_large_clipped(const unsigned char *c, int N, int M, int kw, int kh,
                        unsigned char *large);
void blind_camera_step_response(deconv_response *r);
deconv_image *blind_camera_input(const deconv_image *y, const deconv_image *lum, int left,
                                 int top, int w, int ht, const deconv_response *resp);

/* blind_starts.c: a kernel's score on lum, the starts' (lower is better) */
double blind_start_score(const deconv_image *lum, const float *h, int kw, int kh);

/* blind_starts.c: every start's kernel and score; with mine (not NULL),
 * only the starts s with mine[s] set (start 3 needs start 0: it forks
 * from it), the others' left as they are */
deconv_status blind_run_starts(const deconv_image *lum, const deconv_blind_params *p,
                               const unsigned char *mine, float *h, double *score,
                               deconv_error *err);

/* The starts spread over the processes of a distributed run
 * (blind_mpi.c): which this one runs, and how the kernels and scores of
 * all (h: starts kernels of nk, score: starts) reach every process once
 * each has run its own (status st), every process then failing alike if
 * one did. */
typedef struct {
    void *ctx;
    const unsigned char *mine;
    deconv_status (*share)(void *ctx, float *h, double *score, int starts, int nk,
                           deconv_status st, deconv_error *err);
} blind_spread;

/* blind.c: deconv_blind_kernel with the starts spread (NULL: all here) */
deconv_kernel *blind_kernel(const deconv_image *y, const deconv_blind_params *p,
                            const blind_spread *spread, deconv_error *err);

/* blind_window.c */
void blind_choose_window(const deconv_image *lum, const deconv_blind_params *p, int *left,
                         int *top, int *w, int *h);

/* kernel_size.c: the size when none is given */
deconv_status blind_choose_size(const deconv_image *lum, const deconv_blind_params *p, int *kw,
                                int *kh, deconv_error *err);

/* blind.c */
deconv_status blind_check_params(const deconv_image *y, const deconv_blind_params *p,
                                 deconv_error *err);

#endif
