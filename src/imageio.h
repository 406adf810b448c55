/* What the image-file modules share (rows_io.c: the entry points, rows
 * in and out; imageio.c: PNG, PNM, HDR, stb_image; tiff_io.c: TIFF;
 * jpeg_write.c: JPEG output). Not part of the API. */
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

/* ------------------------------------------------------------------ */
/* The formats behind deconv_row_reader and deconv_row_writer (rows_io.c) */
/* ------------------------------------------------------------------ */

/* What a format's reader is opened on: the file, at its start, whose first
 * n bytes are head; the file info and the metadata (when not NULL) to fill
 * in. The path lives as long as the reader. */
typedef struct {
    FILE *f;
    const char *path;
    const unsigned char *head;
    size_t n;
    int64_t max_pixels;
    deconv_file_info *fi;
    deconv_metadata *meta;
} deconv_source_spec;

/* A format's reader once its header is read: the image's shape, and either
 * the whole image (a format read at once) or a decoder of the next rows.
 * read puts the next rows into out, channel c's row i at out + c * plane +
 * i * width; after a failure it is not called again. */
typedef struct {
    int width, height, channels;
    deconv_image *whole;
    void *state;
    deconv_status (*read)(void *state, int rows, float *out, size_t plane, deconv_error *err);
    void (*close)(void *state);
} deconv_row_source;

static inline void deconv_source_whole(deconv_row_source *src, deconv_image *im)
{
    src->width = im->width;
    src->height = im->height;
    src->channels = im->channels;
    src->whole = im;
}

/* The readers (err is never NULL: rows_io.c keeps the message): by
 * content (imageio.c: PNG, PNM, HDR, the stb_image formats, and TIFF,
 * tiff_io.c). On failure nothing is left to close. */
deconv_status deconv_source_open(const deconv_source_spec *s, deconv_row_source *src,
                                 deconv_error *err);
deconv_status deconv_tiff_source_open(const deconv_source_spec *s, deconv_row_source *src,
                                      deconv_error *err);
/* Whether the first n bytes of a file are a TIFF's (classic or BigTIFF). */
int deconv_tiff_signature(const unsigned char *p, size_t n);

/* What a format's writer is opened on: the temporary file's stream, the
 * shape, the options (checked by the caller, read during the open only);
 * for TIFF, big: 1 BigTIFF, 0 classic, -1 BigTIFF when the file could pass
 * 4 GiB (deconv_tiff_needs_big). The path lives as long as the writer. */
typedef struct {
    FILE *f;
    const char *path;
    int width, height, channels;
    const deconv_write_options *o;
    int big;
} deconv_sink_spec;

/* A format's writer once the file is started: write takes the next rows
 * (in as deconv_row_source's out), finish ends the file after the last
 * row, close frees the writer (the caller commits or removes the file).
 * After a failure only close is called. */
typedef struct {
    void *state;
    deconv_status (*write)(void *state, int rows, const float *in, size_t plane,
                           deconv_error *err);
    deconv_status (*finish)(void *state, deconv_error *err);
    void (*close)(void *state);
} deconv_row_sink;

/* PNG (imageio.c), TIFF (tiff_io.c), JPEG (jpeg_write.c). */
deconv_status deconv_png_sink_open(const deconv_sink_spec *s, deconv_row_sink *sink,
                                   deconv_error *err);
deconv_status deconv_tiff_sink_open(const deconv_sink_spec *s, deconv_row_sink *sink,
                                    deconv_error *err);
int deconv_tiff_needs_big(int width, int height, int channels, int bits, size_t extra_bytes);
deconv_status deconv_jpeg_sink_open(const deconv_sink_spec *s, deconv_row_sink *sink,
                                    deconv_error *err);
/* JPEG's limit on the sides, checked before the file is made. */
deconv_status deconv_jpeg_check_size(const char *path, int width, int height,
                                     deconv_error *err);

/* Write a whole TIFF of bits 8, 16 or 32 (float), big as above (rows_io.c:
 * the tests choose BigTIFF with it). */
deconv_status deconv_tiff_write(const deconv_image *im, const char *path,
                                const deconv_write_options *o, int big, deconv_error *err);

#endif
