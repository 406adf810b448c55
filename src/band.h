/* A band of rows of one restoration: what one process holds in a
 * distributed run, and the whole image in a single one, which is the
 * one-band case of the same code.
 *
 * The global problem: y is N x M, x is xw x xh = (N+kw-1) x (M+kh-1).
 * A band owns y's rows [y0, y1) and x's rows [x0, x1) = [y0, y1), the last
 * band x's rows up to xh. Bands start at multiples of the operator's row
 * block, so its rows are the whole image's bytes (operator.h). A band
 * holds more rows than it owns, its halo:
 *   image-shaped planes (x, g, d): rows [xs0, xs1) = [x0 - 1, x1 + kh - 1)
 *     (at least one row below), clipped to [0, xh): the valid convolution
 *     of y's rows [y0, y1) reads x's rows up to y1 + kh - 2, and TV reads
 *     one row on either side;
 *   residual-shaped planes (y, r, Hd): rows [ys0, ys1) = [y0 - kh + 1, y1),
 *     clipped to [0, M): the adjoint of x's rows from x0 reads r's rows
 *     from x0 - kh + 1.
 * Planes are stored from their first held row. Element-wise updates run
 * over the held rows, halo included: where their inputs' halos are
 * current, so are their outputs' (the same arithmetic on the same values
 * as the owner's), so a halo is exchanged only after a convolution or a
 * gradient, whose rows are computed by their owner alone.
 *
 * Sums. Every sum over a plane is a sum of one partial sum a row, each
 * taken by the row's owner in a fixed order, then added in row order
 * (deconv_band_sum): the same bytes whatever the bands and threads. */
#ifndef DECONV_BAND_H
#define DECONV_BAND_H

#include <stddef.h>

/* The two shapes of plane. */
typedef enum { DECONV_PLANE_X, DECONV_PLANE_Y } deconv_plane_kind;

typedef struct deconv_band deconv_band;

/* How the bands of one run talk: halos and row sums. NULL in a band
 * means one process (nothing to exchange, every row owned). */
typedef struct {
    void *ctx;
    /* Fill the halo rows of a held plane from its neighbours' owned rows. */
    void (*exchange)(void *ctx, const deconv_band *b, deconv_plane_kind kind, float *plane);
    /* rows holds nvals doubles a row for every row of the kind's plane (xh
     * or M rows), this band's owned rows filled: fill the others. */
    void (*gather)(void *ctx, const deconv_band *b, deconv_plane_kind kind, double *rows,
                   int nvals);
    /* Whether flag is set in any band (a decision every band must share:
     * an interruption, a failed allocation). */
    int (*any)(void *ctx, int flag);
} deconv_comm;

struct deconv_band {
    int N, M, kw, kh, xw, xh;
    int y0, y1, x0, x1;    /* owned rows */
    int ys0, ys1, xs0, xs1; /* held rows */
    const deconv_comm *comm;
};

/* The whole image as one band. */
deconv_band deconv_band_whole(int N, int M, int kw, int kh);
/* Band `rank` of `size` for a row block blk: blocks of y's rows split as
 * evenly as possible. Returns 0 (and leaves b unset) when some band would
 * be shorter than its neighbours' halo (kh - 1 rows) or than one block:
 * the image has too few rows for that many bands. */
int deconv_band_split(int N, int M, int kw, int kh, int blk, int rank, int size, deconv_band *b);

/* Rows and samples held and owned, and the offset of the first owned
 * sample in a held plane. */
static inline int deconv_band_held_rows(const deconv_band *b, deconv_plane_kind k)
{
    return k == DECONV_PLANE_X ? b->xs1 - b->xs0 : b->ys1 - b->ys0;
}
static inline size_t deconv_band_held(const deconv_band *b, deconv_plane_kind k)
{
    return (size_t)deconv_band_held_rows(b, k) * (k == DECONV_PLANE_X ? b->xw : b->N);
}
static inline size_t deconv_band_owned_offset(const deconv_band *b, deconv_plane_kind k)
{
    return k == DECONV_PLANE_X ? (size_t)(b->x0 - b->xs0) * b->xw
                               : (size_t)(b->y0 - b->ys0) * b->N;
}
/* Whether the band is the whole image. */
static inline int deconv_band_is_whole(const deconv_band *b)
{
    return b->y0 == 0 && b->y1 == b->M && b->x1 == b->xh;
}

/* Whether flag is set in any band (flag itself with one process). */
int deconv_band_any(const deconv_band *b, int flag);
/* Fill the plane's halo (nothing with one process). */
void deconv_band_exchange(const deconv_band *b, deconv_plane_kind kind, float *plane);
/* The sum of the owned rows' partial sums (rows: nvals a row, indexed by
 * global row), every row's gathered first: val k of the result is
 * sum over rows of rows[row * nvals + k], in row order. */
void deconv_band_sum(const deconv_band *b, deconv_plane_kind kind, double *rows, int nvals,
                     double *out);

/* Dot products over the owned rows of held planes of one kind: out[0] =
 * <a,b>, and out[1] = <c,e> when c is not NULL. rows is scratch of 2 * (xh
 * or M) doubles. */
void deconv_band_dots(const deconv_band *b, deconv_plane_kind kind, const float *a,
                      const float *bb, const float *c, const float *e, double *rows,
                      double *out);

#endif
