/* Image files as streams of rows (deconv_row_reader, deconv_row_writer),
 * and the whole-image functions, which are those streams run over every
 * row at once: one code path, so that a band read or written at a time
 * gives the samples, file info, metadata, errors and bytes of the whole.
 *
 * A reader opens the file, tells its format by content and hands it to the
 * format's row source (imageio.h): PNG, PNM, HDR and the direct TIFF
 * layouts decode the rows as they are asked for; the other formats are
 * read whole when opened, and their rows served from memory. A writer
 * checks the options, opens the temporary file of atomic_file.c and hands
 * the rows to the format's row sink (PNG, TIFF, JPEG); the file is renamed
 * into place when committed with every row. A failure while streaming
 * sticks: every later call repeats it. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "imageio.h"

/* A failure kept from an earlier call, given again. */
static deconv_status repeat_failure(const deconv_error *failure, deconv_error *err)
{
    if (err)
        *err = *failure;
    return failure->code;
}

/* ------------------------------------------------------------------ */
/* Reading                                                              */
/* ------------------------------------------------------------------ */

struct deconv_row_reader {
    char *path;
    FILE *f;
    deconv_row_source src;
    int row;              /* rows read */
    deconv_error failure; /* a read that failed: later ones repeat it */
};

/* path opened, its first bytes (up to 32) in head, and back at its start. */
static FILE *open_input(const char *path, unsigned char head[32], size_t *n, deconv_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        deconv_io_fail_errno(err, "open", path, errno);
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        deconv_io_fail_errno(err, "open", path, EISDIR);
        return NULL;
    }
    errno = 0;
    *n = fread(head, 1, 32, f);
    if (*n < 32 && ferror(f)) {
        int e = errno ? errno : EIO;
        fclose(f);
        deconv_io_fail_errno(err, "read", path, e);
        return NULL;
    }
    if (*n == 0) {
        fclose(f);
        deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is empty", path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_SET) != 0) {
        int e = errno;
        fclose(f);
        deconv_io_fail_errno(err, "read", path, e);
        return NULL;
    }
    return f;
}

static void reader_free(deconv_row_reader *r)
{
    if (r->src.close)
        r->src.close(r->src.state);
    deconv_image_free(r->src.whole);
    if (r->f)
        fclose(r->f);
    free(r->path);
    free(r);
}

/* The reader, with the metadata into meta when it is not NULL; err is not
 * NULL. */
static deconv_row_reader *reader_open(const char *path, int64_t max_pixels,
                                      deconv_file_info *info, deconv_metadata *meta,
                                      deconv_error *err)
{
    if (!path || !*path) {
        deconv_fail(err, DECONV_ERR_ARG, "no input file name given");
        return NULL;
    }
    unsigned char head[32];
    size_t n = 0;
    FILE *f = open_input(path, head, &n, err);
    if (!f)
        return NULL;
    deconv_row_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        fclose(f);
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", path);
        return NULL;
    }
    r->f = f;
    deconv_file_info fi;
    memset(&fi, 0, sizeof fi);
    fi.bits = 8;
    deconv_io_set_untagged(&fi); /* PNM, BMP, TGA, GIF, PSD; the others say theirs */
    deconv_source_spec spec = {f, r->path, head, n, max_pixels, &fi, meta};
    if (deconv_source_open(&spec, &r->src, err) != DECONV_OK) {
        reader_free(r);
        return NULL;
    }
    if (info)
        *info = fi;
    return r;
}

deconv_row_reader *deconv_row_reader_open(const char *path, int64_t max_pixels,
                                          deconv_file_info *info, deconv_metadata **meta,
                                          deconv_error *err)
{
    deconv_error local;
    deconv_error *e = err ? err : &local;
    deconv_metadata *m = NULL;
    if (meta) {
        *meta = NULL;
        if (!(m = deconv_metadata_new())) {
            deconv_fail(e, DECONV_ERR_NOMEM, "out of memory reading '%s'", path ? path : "");
            return NULL;
        }
    }
    deconv_row_reader *r = reader_open(path, max_pixels, info, m, e);
    if (!r) {
        deconv_metadata_free(m);
        return NULL;
    }
    if (meta)
        *meta = m;
    return r;
}

int deconv_row_reader_width(const deconv_row_reader *r) { return r ? r->src.width : 0; }
int deconv_row_reader_height(const deconv_row_reader *r) { return r ? r->src.height : 0; }
int deconv_row_reader_channels(const deconv_row_reader *r) { return r ? r->src.channels : 0; }

/* Rows [y0, y0 + rows) of an image into out, planar. */
static void copy_rows(const deconv_image *im, int y0, int rows, float *out)
{
    size_t n = (size_t)rows * im->width;
    for (int c = 0; c < im->channels; c++)
        memcpy(out + c * n, deconv_image_plane(im, c) + (size_t)y0 * im->width,
               n * sizeof(float));
}

deconv_status deconv_row_reader_read(deconv_row_reader *r, int rows, float *out,
                                     deconv_error *err)
{
    if (!r)
        return deconv_fail(err, DECONV_ERR_ARG, "no row reader given");
    if (r->failure.code != DECONV_OK)
        return repeat_failure(&r->failure, err);
    int left = r->src.height - r->row;
    if (rows < 0)
        return deconv_fail(err, DECONV_ERR_ARG, "cannot read %d rows of '%s': a negative count",
                           rows, r->path);
    if (rows > left)
        return deconv_fail(err, DECONV_ERR_ARG,
                           "cannot read %d rows of '%s': %d of its %d rows are left", rows,
                           r->path, left, r->src.height);
    if (rows == 0)
        return DECONV_OK;
    if (!out)
        return deconv_fail(err, DECONV_ERR_ARG, "cannot read rows of '%s': no buffer given",
                           r->path);
    if (r->src.whole) {
        copy_rows(r->src.whole, r->row, rows, out);
    } else {
        deconv_error local;
        deconv_error *e = err ? err : &local;
        deconv_status s =
            r->src.read(r->src.state, rows, out, (size_t)rows * (size_t)r->src.width, e);
        if (s != DECONV_OK) {
            r->failure = *e;
            return s;
        }
    }
    r->row += rows;
    return DECONV_OK;
}

void deconv_row_reader_close(deconv_row_reader *r)
{
    if (r)
        reader_free(r);
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */
/* ------------------------------------------------------------------ */

/* The extension of path's file name (after its last '.'), or NULL. */
static const char *extension_of(const char *path)
{
    if (!path)
        return NULL;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot && dot != base && dot[1] ? dot + 1 : NULL;
}

deconv_format deconv_format_of_path(const char *path)
{
    const char *ext = extension_of(path);
    if (!ext)
        return DECONV_FORMAT_UNKNOWN;
    if (strcasecmp(ext, "png") == 0)
        return DECONV_FORMAT_PNG;
    if (strcasecmp(ext, "jpg") == 0 || strcasecmp(ext, "jpeg") == 0)
        return DECONV_FORMAT_JPEG;
    if (strcasecmp(ext, "tif") == 0 || strcasecmp(ext, "tiff") == 0)
        return DECONV_FORMAT_TIFF;
    return DECONV_FORMAT_UNKNOWN;
}

void deconv_write_defaults(deconv_write_options *o)
{
    memset(o, 0, sizeof *o);
    o->bits = 8;
    o->quality = 95;
    o->chroma_x = o->chroma_y = 1;
}

/* The checks every writer shares: a name, a shape deconv_image_new could
 * have made, rows whose bytes (at bytes per sample) fit in a size_t. */
static deconv_status check_writable(const char *path, int width, int height, int channels,
                                    int bytes, deconv_error *err)
{
    if (!path || !*path)
        return deconv_fail(err, DECONV_ERR_ARG, "no output file name given");
    if (width <= 0 || height <= 0 || channels < 1 || channels > 4)
        return deconv_fail(err, DECONV_ERR_ARG,
                           "cannot write '%s': not an image of 1 to 4 channels", path);
    size_t pixel = (size_t)channels * (size_t)bytes;
    if ((size_t)width > SIZE_MAX / pixel)
        return deconv_fail(err, DECONV_ERR_ARG, "cannot write '%s': rows too long", path);
    return DECONV_OK;
}

/* check_writable on an image's shape (im may be NULL). */
static deconv_status check_image(const deconv_image *im, const char *path, int bytes,
                                 deconv_error *err)
{
    if (path && *path && (!im || !im->data))
        return deconv_fail(err, DECONV_ERR_ARG,
                           "cannot write '%s': not an image of 1 to 4 channels", path);
    return check_writable(path, im ? im->width : 0, im ? im->height : 0, im ? im->channels : 0,
                          bytes, err);
}

/* The format of path's extension, or a message naming the accepted ones. */
static deconv_status format_of_output(const char *path, deconv_format *format,
                                      deconv_error *err)
{
    *format = deconv_format_of_path(path);
    if (*format != DECONV_FORMAT_UNKNOWN)
        return DECONV_OK;
    const char *ext = extension_of(path);
    if (ext)
        return deconv_fail(err, DECONV_ERR_ARG,
                           "cannot write '%s': unknown extension '.%.16s' (the output "
                           "formats are " DECONV_OUTPUT_EXTENSIONS ")",
                           path, ext);
    return deconv_fail(err, DECONV_ERR_ARG,
                       "cannot write '%s': no extension to choose the format by (the "
                       "output formats are " DECONV_OUTPUT_EXTENSIONS ")",
                       path);
}

/* The options a format takes. */
static deconv_status check_options(const char *path, deconv_format format,
                                   const deconv_write_options *o, deconv_error *err)
{
    int bits = o->bits;
    if (format == DECONV_FORMAT_JPEG) {
        if (bits != 8)
            return deconv_fail(err, DECONV_ERR_ARG,
                               "cannot write '%s': %d bits per sample (JPEG output is 8)", path,
                               bits);
        if (o->quality < 1 || o->quality > 100)
            return deconv_fail(err, DECONV_ERR_ARG,
                               "cannot write '%s': JPEG quality %d (must be 1 to 100)", path,
                               o->quality);
        if (o->chroma_x < 1 || o->chroma_x > 2 || o->chroma_y < 1 || o->chroma_y > 2)
            return deconv_fail(err, DECONV_ERR_ARG,
                               "cannot write '%s': chroma subsampling %d x %d (must be 1 or 2 "
                               "each way)",
                               path, o->chroma_x, o->chroma_y);
        return DECONV_OK;
    }
    if (format == DECONV_FORMAT_TIFF) {
        if (bits != 8 && bits != 16 && bits != 32)
            return deconv_fail(err, DECONV_ERR_ARG,
                               "cannot write '%s': %d bits per sample (TIFF output is 8 or 16, "
                               "or 32 for float samples)",
                               path, bits);
        return DECONV_OK;
    }
    if (bits != 8 && bits != 16)
        return deconv_fail(err, DECONV_ERR_ARG,
                           "cannot write '%s': %d bits per sample (PNG output is 8 or 16%s)", path,
                           bits, bits == 32 ? "; 32-bit float samples need a TIFF" : "");
    return DECONV_OK;
}

struct deconv_row_writer {
    char *path;
    int width, height, channels;
    int row; /* rows written */
    deconv_atomic_file *file;
    deconv_row_sink sink;
    deconv_error failure; /* a write that failed: later calls repeat it */
};

/* Closes the format's writer and removes the temporary file, if any. */
static void writer_free(deconv_row_writer *wr)
{
    if (wr->sink.close)
        wr->sink.close(wr->sink.state);
    deconv_atomic_abort(wr->file);
    free(wr->path);
    free(wr);
}

/* The writer, in format (UNKNOWN: path's extension's) and, for TIFF, big
 * as deconv_sink_spec says; err is not NULL. */
static deconv_row_writer *writer_open(const char *path, int width, int height, int channels,
                                      const deconv_write_options *o, deconv_format format,
                                      int big, deconv_error *err)
{
    deconv_write_options defaults;
    if (!o) {
        deconv_write_defaults(&defaults);
        o = &defaults;
    }
    if (check_writable(path, width, height, channels, 4, err) != DECONV_OK ||
        (format == DECONV_FORMAT_UNKNOWN && format_of_output(path, &format, err) != DECONV_OK) ||
        check_options(path, format, o, err) != DECONV_OK ||
        (format == DECONV_FORMAT_JPEG &&
         deconv_jpeg_check_size(path, width, height, err) != DECONV_OK))
        return NULL;
    deconv_row_writer *wr = calloc(1, sizeof *wr);
    if (!wr || !(wr->path = strdup(path))) {
        free(wr);
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory writing '%s'", path);
        return NULL;
    }
    wr->width = width;
    wr->height = height;
    wr->channels = channels;
    if (!(wr->file = deconv_atomic_open(path, err))) {
        writer_free(wr);
        return NULL;
    }
    deconv_sink_spec spec = {deconv_atomic_stream(wr->file), wr->path, width, height, channels,
                             o, big};
    deconv_status s = format == DECONV_FORMAT_PNG    ? deconv_png_sink_open(&spec, &wr->sink, err)
                      : format == DECONV_FORMAT_TIFF ? deconv_tiff_sink_open(&spec, &wr->sink, err)
                                                     : deconv_jpeg_sink_open(&spec, &wr->sink, err);
    if (s != DECONV_OK) {
        writer_free(wr);
        return NULL;
    }
    return wr;
}

deconv_row_writer *deconv_row_writer_open(const char *path, int width, int height, int channels,
                                          const deconv_write_options *w, deconv_error *err)
{
    deconv_error local;
    deconv_error *e = err ? err : &local;
    return writer_open(path, width, height, channels, w, DECONV_FORMAT_UNKNOWN, -1, e);
}

deconv_status deconv_row_writer_write(deconv_row_writer *wr, int rows, const float *in,
                                      deconv_error *err)
{
    if (!wr)
        return deconv_fail(err, DECONV_ERR_ARG, "no row writer given");
    if (wr->failure.code != DECONV_OK)
        return repeat_failure(&wr->failure, err);
    int left = wr->height - wr->row;
    if (rows < 0)
        return deconv_fail(err, DECONV_ERR_ARG, "cannot write %d rows to '%s': a negative count",
                           rows, wr->path);
    if (rows > left)
        return deconv_fail(err, DECONV_ERR_ARG,
                           "cannot write %d rows to '%s': %d of its %d rows are left", rows,
                           wr->path, left, wr->height);
    if (rows == 0)
        return DECONV_OK;
    if (!in)
        return deconv_fail(err, DECONV_ERR_ARG, "cannot write rows to '%s': no rows given",
                           wr->path);
    deconv_error local;
    deconv_error *e = err ? err : &local;
    deconv_status s =
        wr->sink.write(wr->sink.state, rows, in, (size_t)rows * (size_t)wr->width, e);
    if (s != DECONV_OK) {
        wr->failure = *e;
        return s;
    }
    wr->row += rows;
    return DECONV_OK;
}

deconv_status deconv_row_writer_commit(deconv_row_writer *wr, deconv_error *err)
{
    if (!wr)
        return deconv_fail(err, DECONV_ERR_ARG, "no row writer given");
    deconv_status s;
    if (wr->failure.code != DECONV_OK)
        s = repeat_failure(&wr->failure, err);
    else if (wr->row < wr->height)
        s = deconv_fail(err, DECONV_ERR_ARG,
                        "cannot write '%s': %d of its %d rows were written, the file is "
                        "incomplete",
                        wr->path, wr->row, wr->height);
    else
        s = wr->sink.finish(wr->sink.state, err);
    wr->sink.close(wr->sink.state);
    wr->sink.close = NULL;
    if (s == DECONV_OK) {
        s = deconv_atomic_commit(wr->file, err);
        wr->file = NULL;
    }
    writer_free(wr);
    return s;
}

void deconv_row_writer_abort(deconv_row_writer *wr)
{
    if (wr)
        writer_free(wr);
}

/* ------------------------------------------------------------------ */
/* Whole images                                                         */
/* ------------------------------------------------------------------ */

/* Every row at once: into a new image, or the image itself of a format
 * read whole. */
static deconv_image *read_whole(const char *path, int64_t max_pixels, deconv_file_info *info,
                                deconv_metadata *meta, deconv_error *err)
{
    deconv_error local;
    deconv_error *e = err ? err : &local;
    deconv_file_info fi;
    deconv_row_reader *r = reader_open(path, max_pixels, &fi, meta, e);
    if (!r)
        return NULL;
    deconv_image *im = r->src.whole;
    r->src.whole = NULL;
    if (!im && (im = deconv_io_new_image(e, r->path, r->src.width, r->src.height,
                                         r->src.channels)) &&
        deconv_row_reader_read(r, r->src.height, im->data, e) != DECONV_OK) {
        deconv_image_free(im);
        im = NULL;
    }
    reader_free(r);
    if (im && info)
        *info = fi;
    return im;
}

deconv_image *deconv_image_read(const char *path, int64_t max_pixels, deconv_file_info *info,
                                deconv_error *err)
{
    return read_whole(path, max_pixels, info, NULL, err);
}

deconv_image *deconv_image_read_with_metadata(const char *path, int64_t max_pixels,
                                              deconv_file_info *info, deconv_metadata **meta,
                                              deconv_error *err)
{
    deconv_metadata *m = deconv_metadata_new();
    if (!m) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", path ? path : "");
        if (meta)
            *meta = NULL;
        return NULL;
    }
    deconv_image *im = read_whole(path, max_pixels, info, m, err);
    if (!im || !meta) {
        deconv_metadata_free(m);
        m = NULL;
    }
    if (meta)
        *meta = m;
    return im;
}

/* Every row at once, format and big as writer_open takes them. */
static deconv_status write_whole(const deconv_image *im, const char *path,
                                 const deconv_write_options *o, deconv_format format, int big,
                                 deconv_error *err)
{
    deconv_status s = check_image(im, path, 4, err);
    if (s != DECONV_OK)
        return s;
    deconv_error local;
    deconv_error *e = err ? err : &local;
    deconv_row_writer *wr =
        writer_open(path, im->width, im->height, im->channels, o, format, big, e);
    if (!wr)
        return e->code;
    if (deconv_row_writer_write(wr, im->height, im->data, e) != DECONV_OK) {
        deconv_row_writer_abort(wr);
        return e->code;
    }
    return deconv_row_writer_commit(wr, e);
}

deconv_status deconv_image_write(const deconv_image *im, const char *path,
                                 const deconv_write_options *o, deconv_error *err)
{
    return write_whole(im, path, o, DECONV_FORMAT_UNKNOWN, -1, err);
}

deconv_status deconv_image_write_png(const deconv_image *im, const char *path, int bits,
                                     deconv_error *err)
{
    deconv_status s = check_image(im, path, 2, err);
    if (s != DECONV_OK)
        return s;
    if (bits != 8 && bits != 16)
        return deconv_fail(err, DECONV_ERR_ARG,
                           "cannot write '%s': %d bits per sample (PNG output is 8 or 16)",
                           path, bits);
    deconv_write_options o;
    deconv_write_defaults(&o);
    o.bits = bits;
    return write_whole(im, path, &o, DECONV_FORMAT_PNG, -1, err);
}

deconv_status deconv_tiff_write(const deconv_image *im, const char *path,
                                const deconv_write_options *o, int big, deconv_error *err)
{
    return write_whole(im, path, o, DECONV_FORMAT_TIFF, big, err);
}
