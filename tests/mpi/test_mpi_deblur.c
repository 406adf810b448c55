/* deconv_deblur_mpi against deconv_deblur, byte for byte: random sizes,
 * kernels, channels, responses, methods, step rules and regularisers,
 * every process restoring its band (run under mpirun with 1 to 4
 * processes: tests/mpi/run.sh). Rank 0 compares the gathered result with
 * the single-process one. */
#include <mpi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "deconv.h"

static unsigned long long seed = 77;

static int irand(int lo, int hi) { return lo + (int)(check_rand(&seed) * (hi - lo + 1)); }

/* A smooth random scene blurred by k (valid), with a little noise: a
 * problem whose restoration takes many different steps. */
static deconv_image *blurry(int N, int M, int channels, const deconv_kernel *k)
{
    const int xw = N + k->width - 1, xh = M + k->height - 1;
    deconv_image *x = deconv_image_new(xw, xh, channels);
    deconv_image *y = deconv_image_new(N, M, channels);
    for (int c = 0; c < channels; c++) {
        float *xp = deconv_image_plane(x, c);
        double fx = 0.05 + 0.3 * check_rand(&seed), fy = 0.05 + 0.3 * check_rand(&seed);
        for (int i = 0; i < xh; i++)
            for (int j = 0; j < xw; j++)
                xp[(size_t)i * xw + j] = (float)(0.5 + 0.45 * ((i / 7 + j / 5) % 2 ? 1 : -1) *
                                                           (0.5 + 0.5 * __builtin_sin(fx * j + fy * i)));
        deconv_conv_valid(xp, xw, xh, k->data, k->width, k->height, deconv_image_plane(y, c));
        float *yp = deconv_image_plane(y, c);
        for (size_t t = 0; t < (size_t)N * M; t++)
            yp[t] += (float)(0.01 * (check_rand(&seed) - 0.5));
    }
    deconv_image_free(x);
    return y;
}

static deconv_kernel *random_kernel(int kw, int kh)
{
    deconv_kernel *k = deconv_kernel_new(kw, kh);
    double s = 0;
    for (int t = 0; t < kw * kh; t++)
        s += k->data[t] = (float)(check_rand(&seed) < 0.4 ? check_rand(&seed) : 0.0);
    k->data[(kh / 2) * kw + kw / 2] += 0.2f, s += 0.2;
    for (int t = 0; t < kw * kh; t++)
        k->data[t] = (float)(k->data[t] / s);
    return k;
}

static void one_case(int t, int rank, int size)
{
    /* every rank draws the same case */
    int kw = irand(1, 15), kh = irand(1, 15);
    if (t % 5 == 4)
        kw = irand(20, 40), kh = irand(20, 40); /* halos of many rows */
    const int fft = t % 3 == 0;
    if (fft && kh > 15) /* the FFT path's tiles are about 500 rows: keep cases small */
        kh = irand(1, 15);
    int N = irand(kw + 8, fft ? 48 : 120), M = irand(size * (kh + 8), size * (kh + 8) + 150);
    if (fft) /* a band holds whole tiles */
        M = irand(size * 520, size * 520 + 300);
    int channels = irand(1, 4);
    deconv_kernel *k = random_kernel(kw, kh);
    deconv_image *y = blurry(N, M, channels, k);
    deconv_deblur_params p;
    deconv_deblur_defaults(&p);
    p.iterations = irand(5, 40);
    p.tol = 0;
    p.conv = fft ? DECONV_CONV_FFT : DECONV_CONV_DIRECT;
    p.method = t % 4 == 1 ? DECONV_METHOD_GD : DECONV_METHOD_NESTEROV;
    p.rule = (deconv_step_rule)(t % 3 == 2 ? DECONV_STEP_EXACT
                                           : (t % 7 == 3 ? DECONV_STEP_NONE : DECONV_STEP_ARMIJO));
    p.tv = t % 6 == 5 ? 0 : -1;
    p.tikhonov = t % 8 == 7 ? 1e-3 : 0;
    if (t % 2)
        deconv_response_srgb(&p.response);
    if (t % 9 == 8) { /* conjugate gradient: the quadratic objective */
        p.method = DECONV_METHOD_CG, p.tv = 0, p.tikhonov = 1e-3, p.clip = 0;
        deconv_response_linear(&p.response);
    }
    p.threads = 1 + t % 2;
    char what[160];
    snprintf(what, sizeof what, "case %d: %dx%d x%d k %dx%d %s method %d rule %d tv %g tik %g %s",
             t, N, M, channels, kw, kh, p.conv == DECONV_CONV_FFT ? "fft" : "direct", p.method,
             p.rule, p.tv, p.tikhonov, t % 2 ? "sRGB" : "linear");

    deconv_mpi_rows rows;
    deconv_error err;
    deconv_status st = deconv_mpi_rows_of(MPI_COMM_WORLD, N, M, k, &p, &rows, &err);
    CHECK(st == DECONV_OK, "%s: rows: %s", what, err.message);
    if (st != DECONV_OK)
        goto done;
    deconv_image *band = deconv_image_new(N, rows.in1 - rows.in0, channels);
    for (int c = 0; c < channels; c++)
        memcpy(deconv_image_plane(band, c),
               deconv_image_plane(y, c) + (size_t)rows.in0 * N,
               (size_t)N * (rows.in1 - rows.in0) * sizeof(float));
    deconv_report rep;
    /* the noise given, or estimated by the bands together */
    double noise = t % 2 ? deconv_image_noise(y) : -1;
    deconv_image *xb = deconv_deblur_mpi(MPI_COMM_WORLD, band, M, noise, k, &p, &rep, &err);
    CHECK(xb != NULL, "%s: distributed: %s", what, err.message);
    deconv_image_free(band);
    if (!xb)
        goto done;
    /* the bands, in rank order, make deconv_deblur's result */
    const int xw = N + kw - 1, xh = M + kh - 1;
    deconv_image *x = rank == 0 ? deconv_image_new(xw, xh, channels) : NULL;
    int *counts = malloc(size * sizeof(int)), *displs = malloc(size * sizeof(int));
    int mine = (rows.out1 - rows.out0) * xw, first = rows.out0 * xw;
    MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Gather(&first, 1, MPI_INT, displs, 1, MPI_INT, 0, MPI_COMM_WORLD);
    for (int c = 0; c < channels; c++)
        MPI_Gatherv(deconv_image_plane(xb, c), mine, MPI_FLOAT,
                    rank == 0 ? deconv_image_plane(x, c) : NULL, counts, displs, MPI_FLOAT, 0,
                    MPI_COMM_WORLD);
    if (rank == 0) {
        CHECK(displs[size - 1] + counts[size - 1] == xw * xh, "%s: the bands cover x", what);
        deconv_report rep1;
        deconv_image *x1 = deconv_deblur(y, k, &p, &rep1, &err);
        CHECK(x1 != NULL, "%s: one process: %s", what, err.message);
        if (x1) {
            size_t n = (size_t)xw * xh * channels, diff = 0;
            for (size_t i = 0; i < n; i++)
                diff += memcmp(&x1->data[i], &x->data[i], sizeof(float)) != 0;
            CHECK(diff == 0, "%s: %zu of %zu samples differ from one process's", what, diff, n);
            CHECK(rep1.noise == rep.noise, "%s: noise %.17g, one process's %.17g", what,
                  rep.noise, rep1.noise);
            CHECK(rep1.iterations == rep.iterations && rep1.objective == rep.objective,
                  "%s: report: %d iterations %.17g vs %d %.17g", what, rep.iterations,
                  rep.objective, rep1.iterations, rep1.objective);
        }
        deconv_image_free(x1);
    }
    free(counts), free(displs);
    deconv_image_free(x);
    deconv_image_free(xb);
done:
    deconv_image_free(y);
    deconv_kernel_free(k);
}

/* Too few rows for the processes: every rank fails alike, with a message. */
static void too_few_rows(int size)
{
    if (size < 2)
        return;
    deconv_kernel *k = random_kernel(17, 17);
    deconv_deblur_params p;
    deconv_deblur_defaults(&p);
    deconv_mpi_rows rows;
    deconv_error err;
    deconv_status st = deconv_mpi_rows_of(MPI_COMM_WORLD, 50, 16 * size - 9, k, &p, &rows, &err);
    CHECK(st == DECONV_ERR_ARG && strstr(err.message, "too few"), "too few rows: %d %s", st,
          err.message);
    deconv_kernel_free(k);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int cases = argc > 1 ? atoi(argv[1]) : 24;
    for (int t = 0; t < cases; t++)
        one_case(t, rank, size);
    too_few_rows(size);
    /* every rank's failures count */
    int failed = check_failed, any = 0;
    MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("test_mpi_deblur (%d processes): %d passed, %d failed\n", size, check_passed, any);
    MPI_Finalize();
    return any ? 1 : 0;
}
