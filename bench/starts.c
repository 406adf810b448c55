/* How well deconv_blind_kernel picks among its starts, on cases it was not
 * tuned on: the photos of the shared data (astronaut, camera, coffee), each
 * blurred by the eight Levin kernels with MODEL.md's valid convolution,
 * plus Gaussian noise (1 % by default, seeded). For each case and start:
 * the start's score (lower is kept), ||h||_2 of its kernel, the normalised
 * cross-correlation with the true kernel at the best shift, and the PSNR of
 * the restoration with it (deconv blind's restoration settings, best shift
 * within SHIFT pixels, borders of BORDER left out). Summary: how many dB
 * the kept start's restoration loses against the true kernel's, against
 * what keeping the best start would lose. A start's score is
 *   log(restoration sparsity) + w log(1 / ||h||_2)   (blind.c, w = 0.05),
 * so the printed score and ||h||_2 give the pick for any other weight.
 * The data are read from their folders; nothing is copied.
 *
 *   starts [--photos DIR] [--levin DIR] [--noise S] [--seed N] [--threads N]
 *          [--cases N] (the first N cases only) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cases.h"
#include "deconv.h"
#include "measure.h"

enum { SHIFT = 4, BORDER = 10, NCC_SHIFT = 3, STARTS = 4, KMAX = 27 };

static const int kernel_sizes[8] = {19, 17, 15, 27, 13, 21, 23, 23};
static const char *const photos[3] = {"astronaut", "camera", "coffee"};

/* blind.c's test hook (not part of the API): every start's kernel and score. */
int deconv_blind_test_starts(const deconv_image *lum, const deconv_blind_params *p, float *h,
                             double *score);

/* PSNR of y restored with h (k x k) against the sharp x it was made from
 * (the window of x that y's pixels are centred on), at the best shift
 * (measure.h); -1 on failure. */
static double restored_psnr(const deconv_image *y, const float *h, int k, const deconv_image *x)
{
    const int N = y->width, M = y->height, off = (k - 1) / 2;
    deconv_kernel *kk = deconv_kernel_new(k, k);
    float *sharp = malloc(sizeof(float) * N * M);
    deconv_image *r = NULL, *c = NULL;
    double psnr = -1;
    if (kk && sharp) {
        memcpy(kk->data, h, sizeof(float) * k * k);
        deconv_crop(x->data, x->width, off, off, N, M, sharp);
        deconv_deblur_params dp;
        deconv_blind_restore_defaults(&dp);
        deconv_error err;
        r = deconv_deblur(y, kk, &dp, NULL, &err);
        c = r ? deconv_crop_to_input(r, k, k) : NULL;
    }
    if (c) {
        double ssd = bench_best_ssd(c->data, sharp, N, M, SHIFT, BORDER);
        double n = (double)(N - 2 * BORDER) * (M - 2 * BORDER);
        psnr = ssd > 0 ? 10 * log10(n / ssd) : 99;
    }
    deconv_image_free(c), deconv_image_free(r), deconv_kernel_free(kk);
    free(sharp);
    return psnr;
}

int main(int argc, char **argv)
{
    const char *photo_dir = "../shared/data/photos", *levin_dir = "../shared/data/levin";
    double noise = 0.01;
    int max_cases = 24;
    deconv_blind_params bp;
    deconv_blind_defaults(&bp);
    bench_rng_state = 7; /* cases.c's generator, seeded as before */
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--photos")) photo_dir = v;
        else if (!strcmp(a, "--levin")) levin_dir = v;
        else if (!strcmp(a, "--noise")) noise = atof(v);
        else if (!strcmp(a, "--seed")) bench_rng_state = strtoull(v, NULL, 10) | 1;
        else if (!strcmp(a, "--threads")) bp.threads = atoi(v);
        else if (!strcmp(a, "--cases")) max_cases = atoi(v);
        else {
            fprintf(stderr, "starts: unknown option '%s'\n", a);
            return 2;
        }
    }
    printf("case,true_psnr");
    for (int s = 0; s < STARTS; s++)
        printf(",score%d,l2_%d,ncc%d,psnr%d", s, s, s, s);
    printf(",kept\n");
    double loss_kept = 0, loss_best = 0, ncc_kept = 0;
    int cases = 0;
    for (int ph = 0; ph < 3 && cases < max_cases; ph++) {
        char path[4096];
        deconv_error err;
        snprintf(path, sizeof path, "%s/%s.png", photo_dir, photos[ph]);
        deconv_image *im = deconv_image_read(path, 0, NULL, &err);
        deconv_image *x = im ? deconv_image_luminance(im) : NULL;
        deconv_image_free(im);
        if (!x) {
            fprintf(stderr, "starts: %s\n", err.message);
            return 1;
        }
        for (int kn = 1; kn <= 8 && cases < max_cases; kn++) {
            const int k = kernel_sizes[kn - 1], N = x->width - k + 1, M = x->height - k + 1;
            snprintf(path, sizeof path, "%s/kernels/kern%02d.csv", levin_dir, kn);
            deconv_kernel *f = deconv_kernel_load(path, 1, &err);
            if (!f || f->width != k || f->height != k) {
                fprintf(stderr, "starts: %s: %s\n", path, f ? "unexpected size" : err.message);
                return 1;
            }
            /* the stored kernels are the 180-degree rotation of MODEL.md's h */
            float h[KMAX * KMAX], hs[STARTS * KMAX * KMAX];
            for (int t = 0; t < k * k; t++)
                h[t] = f->data[k * k - 1 - t];
            deconv_kernel_free(f);
            deconv_image *y = deconv_image_new(N, M, 1);
            if (!y)
                return 1;
            deconv_conv_valid(x->data, x->width, x->height, h, k, k, y->data);
            for (size_t t = 0; t < (size_t)N * M; t++)
                y->data[t] += (float)(noise * bench_gaussian());
            bp.kernel_width = bp.kernel_height = k;
            double score[STARTS];
            if (deconv_blind_test_starts(y, &bp, hs, score) != 0) {
                fprintf(stderr, "starts: the estimate failed\n");
                return 1;
            }
            double psnr_true = restored_psnr(y, h, k, x), best_psnr = -1;
            int kept = 0;
            printf("%s_kern%02d,%.3f", photos[ph], kn, psnr_true);
            double psnr[STARTS], ncc[STARTS];
            for (int s = 0; s < STARTS; s++) {
                const float *hk = hs + (size_t)s * k * k;
                double l2 = 0;
                for (int t = 0; t < k * k; t++)
                    l2 += (double)hk[t] * hk[t];
                psnr[s] = restored_psnr(y, hk, k, x);
                ncc[s] = bench_kernel_ncc(hk, h, k, k, NCC_SHIFT);
                best_psnr = psnr[s] > best_psnr ? psnr[s] : best_psnr;
                kept = score[s] < score[kept] ? s : kept;
                printf(",%.6f,%.5f,%.3f,%.3f", score[s], sqrt(l2), ncc[s], psnr[s]);
            }
            printf(",%d\n", kept);
            fflush(stdout);
            loss_kept += psnr_true - psnr[kept], loss_best += psnr_true - best_psnr;
            ncc_kept += ncc[kept];
            cases++;
            deconv_image_free(y);
        }
        deconv_image_free(x);
    }
    if (cases > 0)
        printf("# %d cases: the kept start loses %.2f dB on average against the true kernel's "
               "restoration (the best start %.2f dB); kernel NCC of the kept %.3f\n",
               cases, loss_kept / cases, loss_best / cases, ncc_kept / cases);
    return 0;
}
