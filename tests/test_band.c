/* The operators on bands of rows (operator.h): every band that starts at
 * a multiple of the row block gives, byte for byte, the rows of the whole
 * image's operator; the ground a distributed run's equality with one
 * process rests on. Random sizes, kernels (dense and sparse) and splits,
 * both paths; for the FFT path also images of several tiles, images
 * smaller than one, kernels larger than the image and tiles smaller than
 * the kernel. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "deconv.h"
#include "operator.h"

static unsigned long long seed = 2026;

static float *random_plane(size_t n)
{
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(2.0 * check_rand(&seed) - 1.0);
    return v;
}

static int irand(int lo, int hi) { return lo + (int)(check_rand(&seed) * (hi - lo + 1)); }

/* Splits [0, rows) at random multiples of blk into up to `parts` bands;
 * cut[0] = 0, cut[n] = rows. Returns n. */
static int random_cuts(int rows, int blk, int parts, int *cut)
{
    int n = 0;
    cut[0] = 0;
    for (int k = 1; k < parts; k++) {
        int c = irand(1, rows / blk) * blk;
        if (c > cut[n] && c < rows)
            cut[++n] = c;
    }
    cut[++n] = rows;
    return n;
}

/* ph, pw: the FFT path's tiles of ph x pw transforms (deconv_op_new_tiles),
 * or 0: the operator of `mode`. */
static void check_case(int N, int M, int kw, int kh, int sparse, deconv_conv_mode mode, int ph,
                       int pw)
{
    const int xw = N + kw - 1, xh = M + kh - 1;
    const size_t nx = (size_t)xw * xh, ny = (size_t)N * M;
    float *h = random_plane((size_t)kw * kh);
    if (sparse)
        for (int t = 0; t < kw * kh; t++)
            if (t % 3)
                h[t] = 0.0f;
    float *x = random_plane(nx), *r = random_plane(ny);
    float *y = malloc(ny * sizeof(float)), *g = malloc(nx * sizeof(float));
    float *yb = malloc(ny * sizeof(float)), *gb = malloc(nx * sizeof(float));
    deconv_op *op = ph ? deconv_op_new_tiles(N, M, h, kw, kh, ph, pw, NULL)
                       : deconv_op_new(N, M, h, kw, kh, mode, NULL);
    CHECK(op != NULL, "operator %dx%d k %dx%d", N, M, kw, kh);
    if (!op)
        goto done;
    deconv_op_apply(op, x, y);
    deconv_op_adjoint(op, r, g);
    const int blk = deconv_op_row_block(op);
    CHECK(blk > 0 && blk % 4 == 0, "row block %d: a multiple of 4", blk);
    int cut[6];
    /* apply: y's bands, each from x's rows from its first */
    int n = random_cuts(M, blk, 5, cut);
    for (int b = 0; b < n; b++)
        deconv_op_apply_rows(op, x + (size_t)cut[b] * xw, cut[b], cut[b + 1],
                             yb + (size_t)cut[b] * N);
    CHECK(memcmp(y, yb, ny * sizeof(float)) == 0,
          "%s %dx%d k %dx%d%s: %d bands of H x", mode == DECONV_CONV_FFT ? "fft" : "direct", N,
          M, kw, kh, sparse ? " sparse" : "", n);
    /* adjoint: g's bands (the last one to xh), each from r's rows from
     * max(0, g0 - kh + 1) */
    n = random_cuts(M, blk, 5, cut);
    cut[n] = xh;
    for (int b = 0; b < n; b++) {
        int r0 = cut[b] - (kh - 1) > 0 ? cut[b] - (kh - 1) : 0;
        deconv_op_adjoint_rows(op, r + (size_t)r0 * N, cut[b], cut[b + 1],
                               gb + (size_t)cut[b] * xw);
    }
    CHECK(memcmp(g, gb, nx * sizeof(float)) == 0,
          "%s %dx%d k %dx%d%s: %d bands of H^T r", mode == DECONV_CONV_FFT ? "fft" : "direct",
          N, M, kw, kh, sparse ? " sparse" : "", n);
done:
    deconv_op_free(op);
    free(h), free(x), free(r), free(y), free(g), free(yb), free(gb);
}

int main(void)
{
    for (int t = 0; t < 40; t++) {
        int kw = irand(1, 33), kh = irand(1, 33);
        if (t % 7 == 0)
            kw = irand(65, 80), kh = irand(2, 9); /* conv.c's plain path */
        int N = irand(kw > 8 ? kw : 8, 200), M = irand(8, 300);
        check_case(N, M, kw, kh, t % 2, DECONV_CONV_DIRECT, 0, 0);
        check_case(N, M, kw, kh, t % 2, DECONV_CONV_FFT, 0, 0);
    }
    /* kernels larger than the image: one tile, clipped to the image */
    for (int t = 0; t < 8; t++) {
        int kw = irand(20, 90), kh = irand(20, 90);
        int N = irand(1, kw - 1), M = irand(1, kh + 20);
        check_case(N, M, kw, kh, t % 2, DECONV_CONV_DIRECT, 0, 0);
        check_case(N, M, kw, kh, t % 2, DECONV_CONV_FFT, 0, 0);
    }
    /* the FFT path on images of several tiles (the direct path would take
     * long with the largest kernels) */
    for (int t = 0; t < 12; t++) {
        int kw = irand(1, 110), kh = irand(1, 110);
        if (t % 4 == 0)
            kw = irand(150, 260), kh = irand(1, 260);
        int N = irand(8, 1500), M = irand(400, 1600);
        check_case(N, M, kw, kh, t % 2, DECONV_CONV_FFT, 0, 0);
    }
    /* tiles smaller than the kernel (as few as 4 outputs a side): many
     * tiles on small images, each window mostly the next one's */
    for (int t = 0; t < 12; t++) {
        int kw = irand(1, 60), kh = irand(1, 60);
        int N = irand(8, 300), M = irand(8, 300);
        check_case(N, M, kw, kh, t % 2, DECONV_CONV_FFT, kh + 3 + irand(0, 30),
                   kw + 3 + irand(0, 30));
    }
    return check_done("test_band");
}
