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

/* Metadata (metadata.c): an empty object; copies of the ICC profile, the
 * EXIF block (which sets the orientation) and a text chunk into it. The
 * setters return 0, or -1 when out of memory. */
deconv_metadata *deconv_metadata_new(void);
int deconv_metadata_set_icc(deconv_metadata *m, const void *icc, size_t size);
int deconv_metadata_set_exif(deconv_metadata *m, const void *exif, size_t size);
int deconv_metadata_add_text(deconv_metadata *m, const char *type, const void *data,
                             size_t size);
/* An EXIF block's orientation (IFD0's tag 0x0112): 1 to 8, 0 when absent. */
int deconv_exif_orientation(const unsigned char *exif, size_t size);
/* The text tags of IFD0 that TIFF has as its own tags: ImageDescription,
 * Make, Model, Software, DateTime, Artist, Copyright. */
#define DECONV_EXIF_TEXT_TAGS 7
extern const unsigned deconv_exif_text_tags[DECONV_EXIF_TEXT_TAGS];
/* The ASCII tag of IFD0 into out (1), or 0 when absent or too long. */
int deconv_exif_text(const unsigned char *exif, size_t size, unsigned tag, char *out,
                     size_t out_size);
/* An IFD entry: tag, TIFF type, count, and the value's bytes in
 * little-endian order. */
typedef struct {
    unsigned tag, type;
    uint32_t count;
    const unsigned char *value;
    size_t size;
} deconv_exif_entry;
/* The largest EXIF block a JPEG holds: one APP1 marker, less "Exif\0\0". */
#define DECONV_EXIF_BLOCK_MAX (65533 - 6)
/* A little-endian EXIF block: IFD0 with the orientation (if 1 to 8), the
 * text tags (text[i] for deconv_exif_text_tags[i]; NULL or empty: absent;
 * dropped when the block would pass DECONV_EXIF_BLOCK_MAX, which the EXIF
 * IFD must leave room for) and what EXIF requires beside them (the
 * resolution, per inch: <= 0 for 72; YCbCrPositioning); and when nsub > 0
 * the EXIF IFD of those entries (sorted by tag), which IFD0 points to.
 * NULL when out of memory. */
unsigned char *deconv_exif_make(int orientation, const char *const text[DECONV_EXIF_TEXT_TAGS],
                                double resolution, const deconv_exif_entry *sub, int nsub,
                                size_t *size);

/* Whether the first n bytes of a file are a TIFF's (classic or BigTIFF). */
int deconv_tiff_signature(const unsigned char *p, size_t n);
/* Read the first image of a TIFF, f open at its start (tiff_io.c); its
 * metadata into meta when not NULL. */
deconv_image *deconv_tiff_read(FILE *f, const char *path, int64_t max_pixels,
                               deconv_file_info *fi, deconv_metadata *meta, deconv_error *err);
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
