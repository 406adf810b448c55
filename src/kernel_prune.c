/* Cleaning the blind estimate's kernel between steps (blind.c): small
 * values and small pieces removed, the kernel recentred, and resampled
 * from one pyramid level to the next. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blind_internal.h"

/* Remove values below frac * max, then renormalise. */
void blind_prune_small(float *h, int kw, int kh, double frac)
{
    int nk = kw * kh;
    float m = 0;
    for (int t = 0; t < nk; t++)
        m = h[t] > m ? h[t] : m;
    for (int t = 0; t < nk; t++)
        if (h[t] < frac * m)
            h[t] = 0;
    blind_project_kernel(h, kw, kh);
}

/* The 8-connected piece of `in` (w x h) holding s, which is set and not
 * yet seen: its members, breadth first, written to `members` and marked in
 * `seen`. Returns how many. Kernels' pieces (below) and clipped pieces
 * (blind_clip.c) alike. */
int blind_piece(const unsigned char *in, int w, int h, int s, unsigned char *seen, int *members)
{
    int top = 0, first = 0;
    seen[s] = 1;
    members[top++] = s;
    while (first < top) {
        int t = members[first++], a = t / w, b = t % w;
        for (int da = -1; da <= 1; da++)
            for (int db = -1; db <= 1; db++) {
                int a2 = a + da, b2 = b + db;
                if (a2 < 0 || a2 >= h || b2 < 0 || b2 >= w)
                    continue;
                int u = a2 * w + b2;
                if (in[u] && !seen[u]) {
                    seen[u] = 1;
                    members[top++] = u;
                }
            }
    }
    return top;
}

/* Remove the 8-connected pieces of the kernel's support that hold less
 * than `frac` of its mass, then renormalise; with dry_run, only count
 * them. Returns the number of such pieces (-1 when out of memory). */
int blind_prune_pieces(level *l, double frac, int dry_run)
{
    int kw = l->kw, kh = l->kh, nk = kw * kh, removed = 0;
    unsigned char *support = malloc(nk), *seen = calloc(nk, 1);
    if (!support || !seen) {
        free(support), free(seen);
        return -1;
    }
    for (int t = 0; t < nk; t++)
        support[t] = l->h[t] > 0;
    double total = 0;
    for (int t = 0; t < nk; t++)
        total += l->h[t];
    for (int s = 0; s < nk; s++) {
        if (!support[s] || seen[s])
            continue;
        int n = blind_piece(support, kw, kh, s, seen, l->stack);
        double mass = 0;
        for (int k = 0; k < n; k++)
            mass += l->h[l->stack[k]];
        if (mass < frac * total) {
            removed++;
            for (int k = 0; k < n && !dry_run; k++)
                l->h[l->stack[k]] = 0;
        }
    }
    free(support), free(seen);
    if (!dry_run)
        blind_project_kernel(l->h, kw, kh);
    return removed;
}

/* Shift the kernel so that the bounding box of its support (values above
 * max/20) is in its middle, and the image the other way, which leaves
 * h * x unchanged (up to the pixels that cross the borders). The box rather
 * than the centre of mass: a trajectory with a bright end keeps room for
 * its faint tail. */
void blind_recentre(level *l)
{
    float mx = 0;
    for (int t = 0; t < l->kw * l->kh; t++)
        mx = l->h[t] > mx ? l->h[t] : mx;
    if (!(mx > 0))
        return;
    int a0 = l->kh, a1 = -1, b0 = l->kw, b1 = -1;
    for (int a = 0; a < l->kh; a++)
        for (int b = 0; b < l->kw; b++)
            if (l->h[a * l->kw + b] >= mx / 20) {
                a0 = a < a0 ? a : a0, a1 = a > a1 ? a : a1;
                b0 = b < b0 ? b : b0, b1 = b > b1 ? b : b1;
            }
    int di = (int)floor((a0 + a1) / 2.0 - (l->kh - 1) / 2.0 + 0.5);
    int dj = (int)floor((b0 + b1) / 2.0 - (l->kw - 1) / 2.0 + 0.5);
    if (di == 0 && dj == 0)
        return;
    /* h'[a][b] = h[a+di][b+dj]; x'[p][q] = x[p-di][q-dj]. */
    int nk = l->kw * l->kh;
    memcpy(l->tmp, l->h, nk * sizeof(float));
    for (int a = 0; a < l->kh; a++)
        for (int b = 0; b < l->kw; b++) {
            int sa = a + di, sb = b + dj;
            l->h[a * l->kw + b] =
                sa >= 0 && sa < l->kh && sb >= 0 && sb < l->kw ? l->tmp[sa * l->kw + sb] : 0.0f;
        }
    blind_project_kernel(l->h, l->kw, l->kh);
    size_t nx = (size_t)l->xw * l->xh;
    float *tmp = l->px; /* free between kernel steps */
    memcpy(tmp, l->x, nx * sizeof(float));
    for (int p = 0; p < l->xh; p++) {
        int sp = p - di < 0 ? 0 : (p - di >= l->xh ? l->xh - 1 : p - di);
        for (int q = 0; q < l->xw; q++) {
            int sq = q - dj < 0 ? 0 : (q - dj >= l->xw ? l->xw - 1 : q - dj);
            l->x[(size_t)p * l->xw + q] = tmp[(size_t)sp * l->xw + sq];
        }
    }
}

/* Resample a kernel by the factor `ratio` about its centre (bilinear) into
 * a kernel of size ow x oh, then project. Unlike resizing to the new size,
 * this keeps the kernel's scale equal to the image's. */
void blind_resample_kernel(const float *in, int iw, int ih, double ratio, float *out, int ow,
                            int oh)
{
    double ci = (ih - 1) / 2.0, cj = (iw - 1) / 2.0, oi = (oh - 1) / 2.0, oj = (ow - 1) / 2.0;
    for (int a = 0; a < oh; a++)
        for (int b = 0; b < ow; b++) {
            double u = (a - oi) / ratio + ci, v = (b - oj) / ratio + cj;
            int a0 = (int)floor(u), b0 = (int)floor(v);
            double fu = u - a0, fv = v - b0, s = 0;
            for (int da = 0; da <= 1; da++)
                for (int db = 0; db <= 1; db++) {
                    int ia = a0 + da, ib = b0 + db;
                    if (ia < 0 || ia >= ih || ib < 0 || ib >= iw)
                        continue;
                    s += (da ? fu : 1 - fu) * (db ? fv : 1 - fv) * in[ia * iw + ib];
                }
            out[a * ow + b] = (float)s;
        }
}
