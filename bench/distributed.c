/* bench/distributed: a distributed restoration's time and memory, run
 * under mpirun with any number of processes (bench/distributed.sh runs 1
 * to 4 and prints the table). Each process makes only its band of a
 * synthetic image (a smooth pattern with texture and noise, a function of
 * the global pixel), so its memory is the library's for one band; rank 0
 * prints, a line per run:
 *   processes threads megapixels kernel path iterations
 *   seconds/iteration (total, in halo exchanges, in sums and decisions,
 *   the rest: computing) and each process's peak memory (MB, max and
 *   rank 0's).
 * usage: mpirun -n R bench/distributed [--mp 100] [--kernel 7] [--conv
 *        direct|fft|auto] [--iterations 5] [--threads T] */
#include <mpi.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "deconv.h"

static float pattern(long i, long j)
{
    unsigned long long h = (unsigned long long)(i * 73856093L) ^ (unsigned long long)(j * 19349663L);
    h ^= h >> 13, h *= 0x5bd1e995ULL, h ^= h >> 15;
    double noise = 0.01 * ((double)(h & 0xffff) / 65535.0 - 0.5);
    return (float)(0.5 + 0.3 * sin(0.01 * i) * cos(0.013 * j) + 0.1 * ((i / 9 + j / 11) % 2) + noise);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    double mp = 100;
    int ksize = 7, iterations = 5, threads = 0;
    const char *conv = "direct";
    for (int a = 1; a + 1 < argc; a += 2) {
        if (!strcmp(argv[a], "--mp"))
            mp = atof(argv[a + 1]);
        else if (!strcmp(argv[a], "--kernel"))
            ksize = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--conv"))
            conv = argv[a + 1];
        else if (!strcmp(argv[a], "--iterations"))
            iterations = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--threads"))
            threads = atoi(argv[a + 1]);
    }
    const int N = (int)sqrt(mp * 1e6 * 4.0 / 3.0), M = (int)(mp * 1e6 / N);
    deconv_kernel *k = deconv_kernel_new(ksize, ksize);
    for (int t = 0; t < ksize * ksize; t++)
        k->data[t] = 0;
    for (int t = 0; t < ksize; t++) /* a diagonal motion */
        k->data[t * ksize + t] = 1.0f / ksize;
    deconv_deblur_params p;
    deconv_deblur_defaults(&p);
    p.iterations = iterations;
    p.tol = 0;
    p.tv = 1e-3;
    p.threads = threads;
    p.conv = !strcmp(conv, "fft") ? DECONV_CONV_FFT
                                  : (!strcmp(conv, "auto") ? DECONV_CONV_AUTO : DECONV_CONV_DIRECT);
    deconv_response_srgb(&p.response);
    deconv_mpi_rows rows;
    deconv_error err;
    if (deconv_mpi_rows_of(MPI_COMM_WORLD, N, M, k, &p, &rows, &err) != DECONV_OK) {
        if (rank == 0)
            fprintf(stderr, "distributed: %s\n", err.message);
        MPI_Finalize();
        return 1;
    }
    deconv_image *y = deconv_image_new(N, rows.in1 - rows.in0, 1);
    if (!y) {
        fprintf(stderr, "distributed: rank %d: out of memory for its band\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    for (int i = rows.in0; i < rows.in1; i++)
        for (int j = 0; j < N; j++)
            y->data[(size_t)(i - rows.in0) * N + j] = pattern(i, j);
    deconv_report rep;
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    deconv_image *x = deconv_deblur_mpi(MPI_COMM_WORLD, y, M, 0.01, k, &p, &rep, &err);
    double secs = MPI_Wtime() - t0;
    if (!x) {
        if (rank == 0)
            fprintf(stderr, "distributed: %s\n", err.message);
        MPI_Finalize();
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double peak = ru.ru_maxrss / 1024.0, peak_max = 0;
    MPI_Reduce(&peak, &peak_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    /* the slowest process's split */
    double mine[3] = {secs, rep.halo_seconds, rep.sum_seconds}, worst[3];
    MPI_Reduce(mine, worst, 3, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        double it = rep.iterations > 0 ? rep.iterations : 1;
        printf("%d %d %.1f %d %s %d  %.3f %.3f %.3f %.3f  %.0f %.0f\n", size,
               threads, N * (double)M / 1e6, ksize, conv, rep.iterations, worst[0] / it,
               worst[1] / it, worst[2] / it, (worst[0] - worst[1] - worst[2]) / it, peak_max,
               peak);
    }
    deconv_image_free(x);
    deconv_image_free(y);
    deconv_kernel_free(k);
    MPI_Finalize();
    return 0;
}
