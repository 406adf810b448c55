/* What the image-file modules share (imageio.c: the entry points, PNG, PNM,
 * HDR, stb_image; tiff_io.c: TIFF; jpeg_write.c: JPEG output). Not part of
 * the API. */
#ifndef DECONV_IMAGEIO_H
#define DECONV_IMAGEIO_H

#include <stdint.h>
#include <stdio.h>

#include "internal.h"

/* The error text of errno e (strerror_r: thread-safe). */
const char *deconv_io_error_text(int e, char *buf, size_t size);
/* "cannot VERB 'PATH': <errno text>", DECONV_ERR_IO. */
deconv_status deconv_io_fail_errno(deconv_error *err, const char *verb, const char *path, int e);

/* Refuse w x h (as a header claims it) above max_pixels (<= 0: no limit)
 * or too large for a deconv_image of that many channels. */
deconv_status deconv_io_check_size(deconv_error *err, const char *path, uint64_t w, uint64_t h,
                                   int channels, int64_t max_pixels);
/* deconv_image_new, or NULL and an out-of-memory message naming path. */
deconv_image *deconv_io_new_image(deconv_error *err, const char *path, int w, int h,
                                  int channels);

/* Round and clamp [0, 1] to 0..maxv; NaN becomes 0. */
static inline unsigned deconv_io_quantize(float v, unsigned maxv)
{
    if (!(v > 0.0f))
        return 0;
    if (v >= 1.0f)
        return maxv;
    return (unsigned)((double)v * maxv + 0.5);
}

/* Tone curves of deconv_file_info: a sentence added to the warning; the
 * curve of an untagged file (sRGB); an ICC profile's curve, or sRGB and a
 * warning naming what is wrong with it (what: whose profile it is). */
void deconv_io_add_warning(deconv_file_info *fi, const char *fmt, ...) DECONV_PRINTF(2, 3);
void deconv_io_set_untagged(deconv_file_info *fi);
void deconv_io_set_from_icc(deconv_file_info *fi, const void *icc, size_t size, const char *what);

/* Whether the first n bytes of a file are a TIFF's (classic or BigTIFF). */
int deconv_tiff_signature(const unsigned char *p, size_t n);
/* Read the first image of a TIFF, f open at its start (tiff_io.c). */
deconv_image *deconv_tiff_read(FILE *f, const char *path, int64_t max_pixels,
                               deconv_file_info *fi, deconv_error *err);
/* Write a TIFF of bits 8, 16 or 32 (float); big: 1 BigTIFF, 0 classic, -1
 * BigTIFF when the file could pass 4 GiB (deconv_tiff_needs_big). The
 * options are checked by the caller. */
deconv_status deconv_tiff_write(const deconv_image *im, const char *path,
                                const deconv_write_options *o, int big, deconv_error *err);
int deconv_tiff_needs_big(int width, int height, int channels, int bits, size_t extra_bytes);
/* Write a JPEG (jpeg_write.c); the options are checked by the caller. */
deconv_status deconv_jpeg_write(const deconv_image *im, const char *path,
                                const deconv_write_options *o, deconv_error *err);

#endif
