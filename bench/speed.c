/* Speed of the convolutions and of the image step (issue 4). Prints tables
 * and writes the same figures as CSV (--csv FILE, default speed.csv):
 *
 *   peak    this machine's arithmetic peak per core: independent FMA
 *           chains in AVX2 and AVX-512 registers (GFLOP/s, 1 FMA = 2 flops)
 *   conv    the valid convolution y = h * x of the operator (deconv_op_apply;
 *           planning excluded) for kernels 3x3 .. 63x63 and images of 0.25
 *           to 12 megapixels (y), direct and FFT, 1 and 2 threads:
 *           throughput in output pixels x kernel taps per second (GT/s),
 *           and the path DECONV_CONV_AUTO picks
 *   tiles   the FFT path's cost per output sample (ns, one deconv_op_apply)
 *           for tiles of each transform size P x P (--tile-sizes; default
 *           384 .. 2048) and kernel (--kernels; default 15 .. 151), on
 *           images of whole tiles of at least 3 megapixels, so that no
 *           tile is partial: the figures behind operator.c's tile size.
 *           The grid is measured --rounds times (default 3), the rounds
 *           interleaved, and the best median of each case is given (the
 *           machine is shared)
 *   step    seconds per iteration of deconv_image_step (tol 0, auto path,
 *           31x31 kernel): (time of 12 iterations - time of 2) / 10, so the
 *           operator's set-up is left out, at 1, 4 and 12 megapixels, under
 *           the linear model and under the camera's (sRGB)
 *   blind   seconds per alternation of deconv_blind_kernel at the finest
 *           level (31x31 kernel), 1, 4 and 12 megapixels: the TV loop's
 *           (8 image iterations, then a kernel step on the selected edges)
 *           and the refinement's (an L0 image step, then a kernel step on
 *           every gradient), each from the difference of two runs with 1
 *           and 3 alternations, so the set-up is left out
 *   memory  peak resident memory (ru_maxrss) of deconv_deblur on a
 *           12-megapixel RGB image with a 31x31 kernel, 3 iterations, in a
 *           child process so the other sections do not count
 *
 * Every time is the median of --reps repetitions (default 5; cases longer
 * than a second get 3, longer than 4 seconds 1). The whole default run
 * takes a few minutes on 2 cores; select sections with
 *   speed [--peak] [--conv] [--tiles] [--step] [--blind] [--memory] [--reps N]
 *         [--quick] [--threads 1,2] [--mp 0.25,1,4,12] [--kernels 3,7,15,31,63]
 *         [--tile-sizes 512,640,...] [--rounds N] [--csv FILE]
 * (no section flag: all but tiles). --quick: images up to 4 MP only; --mp
 * and --kernels choose the conv section's sizes, --kernels and
 * --tile-sizes the tiles section's. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "deconv.h"
#include "fft.h"
#include "operator.h"

static int reps = 5;
static FILE *csv;

static double now(void) { return omp_get_wtime(); }

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static unsigned long long rng = 88172645463325252ULL;
static float frand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 16777216.0));
}

static float *random_floats(size_t n)
{
    float *v = malloc(n * sizeof(float));
    if (!v) {
        fprintf(stderr, "speed: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        v[i] = frand();
    return v;
}

/* ------------------------------------------------------------------ */
/* peak                                                                 */
/* ------------------------------------------------------------------ */

typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));

/* 12 independent chains hide the FMA latency (4 cycles, 2 ports); the
 * empty asm keeps each chain in a register and the loop from being folded. */
#define PEAK_FMA(v) do { v = v * a + b; __asm__ volatile("" : "+v"(v)); } while (0)
#define PEAK_BODY(V, n)                                                        \
    V a = {0}, b;                                                              \
    a += 1.0000001f, b = a * 0.9999999f;                                       \
    V c0 = a, c1 = a * 2, c2 = a * 3, c3 = a * 4, c4 = a * 5, c5 = a * 6;      \
    V c6 = a * 7, c7 = a * 8, c8 = a * 9, c9 = a * 10, c10 = a * 11, c11 = a * 12; \
    for (long it = 0; it < n; it++) {                                          \
        PEAK_FMA(c0); PEAK_FMA(c1); PEAK_FMA(c2); PEAK_FMA(c3);                \
        PEAK_FMA(c4); PEAK_FMA(c5); PEAK_FMA(c6); PEAK_FMA(c7);                \
        PEAK_FMA(c8); PEAK_FMA(c9); PEAK_FMA(c10); PEAK_FMA(c11);              \
    }                                                                          \
    V t = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;        \
    return t[0];

__attribute__((target("avx2,fma"))) static float peak_avx2(long n) { PEAK_BODY(v8f, n) }
__attribute__((target("avx512f"))) static float peak_avx512(long n) { PEAK_BODY(v16f, n) }

static void bench_peak(void)
{
    printf("\n== peak: FMA loop, one thread ==\n");
    const long n = 20000000;
    struct {
        const char *name;
        int lanes;
        float (*fn)(long);
        const char *feature;
    } isa[] = {{"avx2", 8, peak_avx2, "avx2"}, {"avx512", 16, peak_avx512, "avx512f"}};
    for (int k = 0; k < 2; k++) {
        if (k == 0 ? !__builtin_cpu_supports("avx2") : !__builtin_cpu_supports("avx512f"))
            continue;
        double t[9];
        volatile float sink = 0;
        for (int r = 0; r < 9; r++) {
            double t0 = now();
            sink += isa[k].fn(n);
            t[r] = now() - t0;
        }
        (void)sink;
        /* the best, not the median: the peak is what the core can do when
         * the other tenants of the machine leave it alone */
        qsort(t, 9, sizeof(double), cmp_double);
        double gflops = 2.0 * 12 * isa[k].lanes * n / t[0] * 1e-9;
        printf("%-8s %8.1f GFLOP/s per core (%.1f G FMA lanes/s)\n", isa[k].name, gflops,
               gflops / 2);
        fprintf(csv, "peak,%s,1,%.3f\n", isa[k].name, gflops);
    }
}

/* ------------------------------------------------------------------ */
/* conv                                                                 */
/* ------------------------------------------------------------------ */

/* Median seconds of one deconv_op_apply. */
static double time_apply(deconv_op *op, const float *x, float *y, double guess)
{
    int n = guess > 4.0 ? 1 : guess > 1.0 ? 3 : reps;
    double t[64];
    deconv_op_apply(op, x, y); /* warm: pages, caches */
    for (int r = 0; r < n; r++) {
        double t0 = now();
        deconv_op_apply(op, x, y);
        t[r] = now() - t0;
    }
    return median(t, n);
}

static double conv_mp[8] = {0.25, 1, 4, 12};
static int conv_k[8] = {3, 7, 15, 31, 63};
static int conv_nm = 4, conv_nk = 5;

static void bench_conv(const int *threads, int nthreads, int quick)
{
    const double *mpix = conv_mp;
    const int *ksz = conv_k;
    const int nm = quick && conv_nm == 4 && conv_mp[3] == 12 ? 3 : conv_nm, nk = conv_nk;
    printf("\n== conv: valid convolution (deconv_op_apply), GT/s = 1e9 output pixels x taps "
           "per second ==\n");
    printf("%6s %6s %7s |", "MP", "kernel", "threads");
    printf(" %9s %9s %9s | %6s %6s %s\n", "direct", "fft", "fft/dir", "auto", "best", "auto/best");
    for (int im = 0; im < nm; im++) {
        /* 4:3 photos */
        int M = (int)lround(sqrt(mpix[im] * 1e6 * 3.0 / 4.0)), N = (int)lround(M * 4.0 / 3.0);
        for (int ik = 0; ik < nk; ik++) {
            int k = ksz[ik], xw = N + k - 1, xh = M + k - 1;
            float *h = random_floats((size_t)k * k);
            float *x = random_floats((size_t)xw * xh);
            float *y = malloc((size_t)N * M * sizeof(float));
            double taps = (double)N * M * k * k;
            deconv_op *dop = deconv_op_new(N, M, h, k, k, DECONV_CONV_DIRECT, NULL);
            deconv_op *fop = deconv_op_new(N, M, h, k, k, DECONV_CONV_FFT, NULL);
            deconv_conv_mode pick = deconv_op_choose(N, M, h, k, k);
            for (int it = 0; it < nthreads; it++) {
                omp_set_num_threads(threads[it]);
                double td = time_apply(dop, x, y, taps * 1e-10 / threads[it]);
                double tf = time_apply(fop, x, y, 0);
                double ta = pick == DECONV_CONV_FFT ? tf : td, best = td < tf ? td : tf;
                printf("%6.2f %3dx%-3d %7d | %9.3f %9.3f %9.2f | %6s %6s %9.2f\n",
                       N * (double)M * 1e-6, k, k, threads[it], taps / td * 1e-9,
                       taps / tf * 1e-9, td / tf, pick == DECONV_CONV_FFT ? "fft" : "direct",
                       td < tf ? "direct" : "fft", ta / best);
                fprintf(csv, "conv,%d,%d,%d,%d,%.6g,%.6g,%.6g,%.6g,%s,%.4f\n", N, M, k, threads[it],
                        td, tf, taps / td * 1e-9, taps / tf * 1e-9,
                        pick == DECONV_CONV_FFT ? "fft" : "direct", ta / best);
                fflush(stdout);
            }
            deconv_op_free(dop);
            deconv_op_free(fop);
            free(h), free(x), free(y);
        }
    }
}

/* ------------------------------------------------------------------ */
/* tiles                                                                */
/* ------------------------------------------------------------------ */

static int tile_p[16] = {384, 448, 480, 512, 576, 600, 640, 720, 768, 896, 960, 1024, 1280,
                         1536, 2048};
static int tile_np = 15, tile_rounds = 3;
static int tile_k[8] = {15, 31, 63, 101, 151};
static int tile_nk = 5;

/* Median ns per output sample of one deconv_op_apply with tiles of P x P
 * for a k x k kernel, on an image of whole tiles; NAN if P is too small. */
static double time_tile(int k, int P)
{
    const int T = (P - k + 1) & ~3;
    if (T < 4)
        return NAN;
    int N = 4 * T, M = 3 * T;
    while ((double)N * M < 3e6)
        N += T, M += T;
    float *h = random_floats((size_t)k * k), *x = random_floats((size_t)(N + k - 1) * (M + k - 1));
    float *y = malloc((size_t)N * M * sizeof(float));
    deconv_op *op = deconv_op_new_tiles(N, M, h, k, k, P, P, NULL);
    double s = op && y ? time_apply(op, x, y, 0) * 1e9 / ((double)N * M) : NAN;
    deconv_op_free(op);
    free(h), free(x), free(y);
    return s;
}

static void bench_tiles(const int *threads, int nthreads)
{
    static double best[8][8][16];
    printf("\n== tiles: the FFT path's ns per output sample by tile transform (P x P), images "
           "of whole tiles, best of %d medians ==\n", tile_rounds);
    for (int it = 0; it < nthreads; it++)
        for (int ik = 0; ik < tile_nk; ik++)
            for (int ip = 0; ip < tile_np; ip++)
                best[it][ik][ip] = INFINITY;
    for (int r = 0; r < tile_rounds; r++)
        for (int it = 0; it < nthreads; it++) {
            omp_set_num_threads(threads[it]);
            for (int ik = 0; ik < tile_nk; ik++)
                for (int ip = 0; ip < tile_np; ip++) {
                    double s = time_tile(tile_k[ik], tile_p[ip]);
                    if (isnan(s) || s < best[it][ik][ip])
                        best[it][ik][ip] = s;
                }
        }
    for (int it = 0; it < nthreads; it++) {
        printf("%7s %6s", "threads", "kernel");
        for (int ip = 0; ip < tile_np; ip++)
            printf(" %6d", tile_p[ip]);
        printf("\n");
        for (int ik = 0; ik < tile_nk; ik++) {
            printf("%7d %6d", threads[it], tile_k[ik]);
            for (int ip = 0; ip < tile_np; ip++) {
                double s = best[it][ik][ip];
                if (isnan(s)) {
                    printf(" %6s", "-");
                } else {
                    printf(" %6.2f", s);
                    fprintf(csv, "tiles,%d,%d,%d,%.4f\n", tile_k[ik], tile_p[ip], threads[it], s);
                }
            }
            printf("\n");
        }
    }
}

/* ------------------------------------------------------------------ */
/* step                                                                 */
/* ------------------------------------------------------------------ */

static double time_step(float *x, const float *x0, const float *y, int N, int M,
                        const deconv_kernel *k, deconv_deblur_params *p, int iters)
{
    size_t nx = (size_t)(N + k->width - 1) * (M + k->height - 1);
    memcpy(x, x0, nx * sizeof(float));
    p->iterations = iters;
    deconv_error err;
    double t0 = now();
    if (deconv_image_step(x, y, N, M, k->data, k->width, k->height, p, 0, 1, NULL, NULL,
                          &err) != DECONV_OK) {
        fprintf(stderr, "speed: image step: %s\n", err.message);
        exit(1);
    }
    return now() - t0;
}

/* The reference of issue 4: three FFTW transforms (forward, inverse,
 * forward) of the size the FFT path pads x to, with FFTW's own 2-D plans
 * made with FFTW_MEASURE (at most 20 s of planning) and its threads. */
static double time_three_fftw(int xw, int xh, int nthreads)
{
    int pw = deconv_fft_good_size(xw, 1), ph = deconv_fft_good_size(xh, 0);
    float *in = fftwf_alloc_real((size_t)pw * ph);
    fftwf_complex *out = fftwf_alloc_complex((size_t)ph * (pw / 2 + 1));
    fftwf_plan_with_nthreads(nthreads);
    fftwf_set_timelimit(20.0);
    fftwf_plan f = fftwf_plan_dft_r2c_2d(ph, pw, in, out, FFTW_MEASURE);
    fftwf_plan b = fftwf_plan_dft_c2r_2d(ph, pw, out, in, FFTW_MEASURE);
    for (size_t i = 0; i < (size_t)pw * ph; i++)
        in[i] = frand();
    double t[16];
    int n = reps < 16 ? reps : 16;
    for (int r = 0; r < n; r++) {
        double t0 = now();
        fftwf_execute(f);
        fftwf_execute(b);
        fftwf_execute(f);
        t[r] = now() - t0;
    }
    fftwf_destroy_plan(f);
    fftwf_destroy_plan(b);
    fftwf_free(in);
    fftwf_free(out);
    return median(t, n);
}

static void bench_step(const int *threads, int nthreads, int quick)
{
    static const double mpix[] = {1, 4, 12};
    const int nm = quick ? 2 : 3;
    printf("\n== step: seconds per deconv_image_step iteration (31x31 Gaussian, auto path, "
           "defaults, tol 0; the linear model, then the camera's under sRGB) ==\n");
    printf("%6s %7s %7s %7s %10s %12s %8s\n", "MP", "model", "threads", "path", "s/iter",
           "3 FFTW (s)", "ratio");
    deconv_error err;
    deconv_kernel *k = deconv_kernel_gaussian(5.0, 31, &err);
    for (int im = 0; im < nm; im++) {
        int M = (int)lround(sqrt(mpix[im] * 1e6 * 3.0 / 4.0)), N = (int)lround(M * 4.0 / 3.0);
        int xw = N + 30, xh = M + 30;
        float *y = random_floats((size_t)N * M);
        float *x0 = malloc((size_t)xw * xh * sizeof(float));
        float *x = malloc((size_t)xw * xh * sizeof(float));
        deconv_pad_replicate(y, N, M, 15, 15, 15, 15, x0);
        deconv_conv_mode pick = deconv_op_choose(N, M, k->data, 31, 31);
        for (int model = 0; model < 2; model++) {
            deconv_deblur_params p;
            deconv_deblur_defaults(&p);
            p.tol = 0;
            p.tv = 1e-3;
            if (model == 1) /* three convolutions an iteration, and the maps */
                deconv_response_srgb(&p.response);
            for (int it = 0; it < nthreads; it++) {
                omp_set_num_threads(threads[it]);
                int n = mpix[im] > 4 ? 3 : reps;
                double t[64];
                for (int r = 0; r < n; r++)
                    t[r] = (time_step(x, x0, y, N, M, k, &p, 12) -
                            time_step(x, x0, y, N, M, k, &p, 2)) / 10.0;
                double sec = median(t, n);
                const char *path = pick == DECONV_CONV_FFT ? "fft" : "direct";
                const char *name = model ? "srgb" : "linear";
                if (model == 0) {
                    double ref = time_three_fftw(xw, xh, threads[it]);
                    printf("%6.2f %7s %7d %7s %10.4f %12.4f %8.2f\n", N * (double)M * 1e-6, name,
                           threads[it], path, sec, ref, sec / ref);
                } else {
                    printf("%6.2f %7s %7d %7s %10.4f %12s %8s\n", N * (double)M * 1e-6, name,
                           threads[it], path, sec, "-", "-");
                }
                fprintf(csv, "step,%d,%d,31,%d,%.6g,%s,%s\n", N, M, threads[it], sec, path,
                        name);
                fflush(stdout);
            }
        }
        free(y), free(x0), free(x);
    }
    deconv_kernel_free(k);
}

/* ------------------------------------------------------------------ */
/* blind                                                                */
/* ------------------------------------------------------------------ */

static double time_blind(const deconv_image *y, int iterations, int refine)
{
    deconv_blind_params p;
    deconv_blind_defaults(&p);
    p.kernel_width = p.kernel_height = 31;
    p.levels = 1, p.iterations = iterations, p.refine = refine;
    p.estimate_pixels = 0; /* the loop at this size, not on a window */
    deconv_error err;
    double t0 = now();
    deconv_kernel *k = deconv_blind_kernel(y, &p, &err);
    double t = now() - t0;
    if (!k) {
        fprintf(stderr, "speed: blind: %s\n", err.message);
        exit(1);
    }
    deconv_kernel_free(k);
    return t;
}

static void bench_blind(const int *threads, int nthreads, int quick)
{
    static const double mpix[] = {1, 4, 12};
    const int nm = quick ? 2 : 3;
    printf("\n== blind: seconds per alternation at the finest level (31x31 kernel) ==\n");
    printf("%6s %7s %12s %12s\n", "MP", "threads", "TV loop (s)", "refine (s)");
    for (int im = 0; im < nm; im++) {
        int M = (int)lround(sqrt(mpix[im] * 1e6 * 3.0 / 4.0)), N = (int)lround(M * 4.0 / 3.0);
        deconv_image *y = deconv_image_new(N, M, 1);
        /* a blurred random image: edges of every orientation for the kernel
         * step to select */
        float *r = random_floats((size_t)(N + 30) * (M + 30));
        deconv_kernel *g = deconv_kernel_gaussian(2.0, 31, NULL);
        deconv_conv_valid(r, N + 30, M + 30, g->data, 31, 31, y->data);
        for (int it = 0; it < nthreads; it++) {
            omp_set_num_threads(threads[it]);
            int n = mpix[im] > 1 ? 1 : (reps < 3 ? reps : 3);
            double tl[8], tr[8];
            for (int k = 0; k < n; k++) {
                tl[k] = (time_blind(y, 3, 0) - time_blind(y, 1, 0)) / 2;
                tr[k] = (time_blind(y, 1, 3) - time_blind(y, 1, 1)) / 2;
            }
            double sl = median(tl, n), sr = median(tr, n);
            printf("%6.2f %7d %12.3f %12.3f\n", N * (double)M * 1e-6, threads[it], sl, sr);
            fprintf(csv, "blind,%d,%d,31,%d,%.6g,%.6g\n", N, M, threads[it], sl, sr);
            fflush(stdout);
        }
        free(r);
        deconv_kernel_free(g);
        deconv_image_free(y);
    }
}

/* ------------------------------------------------------------------ */
/* memory                                                               */
/* ------------------------------------------------------------------ */

/* The child: deblur and exit. A fresh process (fork, then exec of this
 * program): a forked copy of a process whose OpenMP threads have run
 * would wait for its parent's thread pool for ever. */
static int memory_child(int nthreads)
{
    deconv_image *y = deconv_image_new(4000, 3000, 3);
    if (!y)
        return 1;
    for (size_t i = 0; i < (size_t)4000 * 3000 * 3; i++)
        y->data[i] = frand();
    deconv_error err;
    deconv_kernel *k = deconv_kernel_gaussian(5.0, 31, &err);
    deconv_deblur_params p;
    deconv_deblur_defaults(&p);
    p.iterations = 3;
    p.threads = nthreads;
    double t0 = now();
    deconv_image *x = deconv_deblur(y, k, &p, NULL, &err);
    if (!x) {
        fprintf(stderr, "speed: deblur: %s\n", err.message);
        return 1;
    }
    printf("deblur took %.2f s (%s path)\n", now() - t0,
           deconv_op_choose(4000, 3000, k->data, 31, 31) == DECONV_CONV_FFT ? "fft" : "direct");
    return 0;
}

static void bench_memory(int nthreads)
{
    printf("\n== memory: peak RSS of deconv_deblur, 12 MP RGB (4000 x 3000), 31x31, 3 "
           "iterations ==\n");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char nt[16];
        snprintf(nt, sizeof nt, "%d", nthreads);
        execl("/proc/self/exe", "speed", "--memory-child", nt, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double mb = ru.ru_maxrss / 1024.0;
    printf("peak RSS %.0f MB (target < 1200 MB)%s\n", mb,
           WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "" : " (child failed)");
    fprintf(csv, "memory,4000,3000,31,%d,%.1f\n", nthreads, mb);
}

int main(int argc, char **argv)
{
    fftwf_init_threads(); /* for the FFTW reference's own threads */
    int peak = 0, conv = 0, tiles = 0, step = 0, blind = 0, memory = 0, quick = 0;
    int threads[8] = {1, 2}, nthreads = 2;
    const char *csv_path = "speed.csv";
    if (argc == 3 && !strcmp(argv[1], "--memory-child"))
        return memory_child(atoi(argv[2]));
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--peak"))
            peak = 1;
        else if (!strcmp(argv[i], "--conv"))
            conv = 1;
        else if (!strcmp(argv[i], "--tiles"))
            tiles = 1;
        else if (!strcmp(argv[i], "--step"))
            step = 1;
        else if (!strcmp(argv[i], "--blind"))
            blind = 1;
        else if (!strcmp(argv[i], "--memory"))
            memory = 1;
        else if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--mp") && i + 1 < argc) {
            conv_nm = 0;
            for (char *t = strtok(argv[++i], ","); t && conv_nm < 8; t = strtok(NULL, ","))
                conv_mp[conv_nm++] = atof(t);
        } else if (!strcmp(argv[i], "--kernels") && i + 1 < argc) {
            conv_nk = 0;
            for (char *t = strtok(argv[++i], ","); t && conv_nk < 8; t = strtok(NULL, ","))
                conv_k[conv_nk++] = atoi(t);
            memcpy(tile_k, conv_k, sizeof tile_k);
            tile_nk = conv_nk;
        } else if (!strcmp(argv[i], "--tile-sizes") && i + 1 < argc) {
            tile_np = 0;
            for (char *t = strtok(argv[++i], ","); t && tile_np < 16; t = strtok(NULL, ","))
                tile_p[tile_np++] = atoi(t);
        } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            tile_rounds = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
            csv_path = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            nthreads = 0;
            for (char *s = strtok(argv[++i], ","); s && nthreads < 8; s = strtok(NULL, ","))
                threads[nthreads++] = atoi(s);
        } else {
            fprintf(stderr,
                    "usage: speed [--peak] [--conv] [--tiles] [--step] [--blind] [--memory] "
                    "[--quick] [--reps N] [--threads 1,2] [--mp 0.25,1,4,12] "
                    "[--kernels 3,7,15,31,63] [--tile-sizes 512,640,...] [--rounds N] "
                    "[--csv FILE]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > 64)
        reps = 5;
    if (tile_rounds < 1)
        tile_rounds = 3;
    if (!peak && !conv && !tiles && !step && !blind && !memory)
        peak = conv = step = blind = memory = 1;
    csv = fopen(csv_path, "w");
    if (!csv) {
        perror(csv_path);
        return 1;
    }
    fprintf(csv, "# section,fields...: peak,isa,threads,gflops | conv,N,M,k,threads,"
                 "s_direct,s_fft,gtaps_direct,gtaps_fft,auto,auto_over_best | tiles,k,P,threads,"
                 "ns_per_sample | step,N,M,k,"
                 "threads,s_per_iter,path,model | blind,N,M,k,threads,s_tv_loop,s_refine | memory,N,M,k,threads,maxrss_mb\n");
    double t0 = now();
    if (peak)
        bench_peak();
    if (conv)
        bench_conv(threads, nthreads, quick);
    if (tiles)
        bench_tiles(threads, nthreads);
    if (step)
        bench_step(threads, nthreads, quick);
    if (blind)
        bench_blind(threads, nthreads, quick);
    if (memory)
        bench_memory(threads[nthreads - 1]);
    printf("\n(total %.0f s; CSV in %s)\n", now() - t0, csv_path);
    fclose(csv);
    return 0;
}
