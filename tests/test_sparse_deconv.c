/* The benchmark's standard non-blind deconvolution (bench/sparse_deconv.c,
 * Levin et al. 2007), on which bench/levin's standard error ratio rests:
 * on an exact valid blur of a photo it must restore the photo well with a
 * weak prior, and still clearly better than the blurry input with the
 * protocol's weight; a wrong kernel must restore worse than the true one. */
#include <string.h>

#include "check.h"
#include "deconv.h"
#include "sparse_deconv.h"

/* PSNR of a against b over the interior (border pixels left out). */
static double psnr_interior(const deconv_image *a, const deconv_image *b, int border)
{
    double ssd = 0;
    long n = 0;
    for (int i = border; i < a->height - border; i++)
        for (int j = border; j < a->width - border; j++) {
            double e = (double)a->data[i * a->width + j] - b->data[i * b->width + j];
            ssd += e * e, n++;
        }
    return 10 * log10(n / ssd);
}

int main(void)
{
    deconv_error err;
    deconv_image *im = deconv_image_read(DECONV_TEST_DATA "/camera.png", 0, NULL, &err);
    deconv_kernel *k = deconv_kernel_motion(9, 20, &err);
    CHECK(im && k, "inputs: %s", err.message);
    if (!im || !k)
        return check_done("test_sparse_deconv");
    /* x: a 160 x 140 window, y = h * x (valid), sharp = x's centre in y's
     * frame */
    const int kw = k->width, kh = k->height, N = 160 - kw + 1, M = 140 - kh + 1;
    deconv_image *x = deconv_image_new(160, 140, 1), *y = deconv_image_new(N, M, 1);
    for (int i = 0; i < 140; i++)
        memcpy(x->data + i * 160, im->data + (size_t)(120 + i) * im->width + 200,
               160 * sizeof(float));
    deconv_conv_valid(x->data, 160, 140, k->data, kw, kh, y->data);
    deconv_image *sharp = deconv_crop_to_input(x, kw, kh);

    deconv_image *weak = levin_sparse_deconv(y, k, 1e-4, 200);
    deconv_image *std = levin_sparse_deconv(y, k, 0.0068, 70);
    deconv_kernel *wrong = deconv_kernel_motion(9, 110, &err);
    deconv_image *bad = levin_sparse_deconv(y, wrong, 0.0068, 70);
    CHECK(weak && std && bad, "sparse deconvolution failed");
    if (weak && std && bad) {
        double p_blur = psnr_interior(y, sharp, 8), p_weak = psnr_interior(weak, sharp, 8),
               p_std = psnr_interior(std, sharp, 8), p_bad = psnr_interior(bad, sharp, 8);
        printf("PSNR: blurry %.2f, weak prior %.2f, protocol's weight %.2f, wrong kernel %.2f\n",
               p_blur, p_weak, p_std, p_bad);
        CHECK(weak->width == N && weak->height == M, "result not in y's frame");
        CHECK(p_weak > 35, "weak prior: %.2f dB", p_weak);
        CHECK(p_std > p_blur + 5, "protocol's weight: %.2f dB, blurry %.2f dB", p_std, p_blur);
        CHECK(p_bad < p_std - 3, "wrong kernel %.2f dB against %.2f", p_bad, p_std);
    }
    deconv_image_free(weak), deconv_image_free(std), deconv_image_free(bad);
    deconv_image_free(x), deconv_image_free(y), deconv_image_free(sharp), deconv_image_free(im);
    deconv_kernel_free(k), deconv_kernel_free(wrong);
    return check_done("test_sparse_deconv");
}
