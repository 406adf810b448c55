/* A program that uses the installed library as any other would (only
 * <deconv.h>; check.sh builds it with pkg-config and with find_package):
 * blurs a synthetic image with a known Gaussian kernel, restores it with
 * deconv_deblur and fails unless the error dropped. Prints the library's
 * version, which must be the header's. */
#include <deconv.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    printf("deconv %s (header %s)\n", deconv_version(), DECONV_VERSION);
    if (strcmp(deconv_version(), DECONV_VERSION) != 0) {
        fprintf(stderr, "client: the library is %s, the header %s\n", deconv_version(),
                DECONV_VERSION);
        return 1;
    }

    deconv_error err;
    memset(&err, 0, sizeof err);
    deconv_kernel *k = deconv_kernel_gaussian(1.5, 0, &err);
    /* the sharp image: squares and a disk on a ramp, 72 x 64 */
    const int w = 72, h = 64;
    deconv_image *sharp = deconv_image_new(w, h, 1);
    if (!k || !sharp) {
        fprintf(stderr, "client: %s\n", k ? "out of memory" : err.message);
        return 1;
    }
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            float v = 0.2f + 0.3f * (float)j / (float)w;
            if (i > 10 && i < 30 && j > 8 && j < 34)
                v = 0.9f;
            if ((i - 44) * (i - 44) + (j - 50) * (j - 50) < 120)
                v = 0.05f;
            if (i > 40 && i < 56 && j > 12 && j < 20)
                v = 0.7f;
            sharp->data[i * w + j] = v;
        }

    /* y = h * x, valid: the blurry photo is smaller by the kernel less one */
    deconv_image *blurry = deconv_image_new(w - k->width + 1, h - k->height + 1, 1);
    deconv_image *truth = deconv_crop_to_input(sharp, k->width, k->height);
    if (!blurry || !truth) {
        fprintf(stderr, "client: out of memory\n");
        return 1;
    }
    deconv_conv_valid(sharp->data, w, h, k->data, k->width, k->height, blurry->data);

    deconv_deblur_params p;
    deconv_deblur_defaults(&p);
    p.iterations = 150;
    p.threads = 1;
    deconv_report report;
    deconv_image *x = deconv_deblur(blurry, k, &p, &report, &err);
    if (!x) {
        fprintf(stderr, "client: deconv_deblur: %s\n", err.message);
        return 1;
    }
    deconv_image *restored = deconv_crop_to_input(x, k->width, k->height);
    if (!restored) {
        fprintf(stderr, "client: out of memory\n");
        return 1;
    }
    double before = deconv_psnr(truth, blurry), after = deconv_psnr(truth, restored);
    printf("PSNR %.2f dB blurred, %.2f dB restored (%d iterations)\n", before, after,
           report.iterations);
    int ok = isfinite(after) && after > before + 5;
    if (!ok)
        fprintf(stderr, "client: the restoration gained less than 5 dB\n");

    deconv_image_free(restored);
    deconv_image_free(x);
    deconv_image_free(truth);
    deconv_image_free(blurry);
    deconv_image_free(sharp);
    deconv_kernel_free(k);
    return ok ? 0 : 1;
}
