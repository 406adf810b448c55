/* JPEG output through libjpeg (libjpeg-turbo): 8-bit gray or YCbCr at the
 * quality and chroma subsampling asked, baseline, with optimised Huffman
 * tables. JPEG has no alpha: an alpha channel is dropped. A row sink of
 * rows_io.c (imageio.h): rows are taken as they come, but the optimised
 * tables make libjpeg keep every DCT coefficient (2 bytes a sample, fewer
 * for subsampled chroma) until the last row.
 *
 * libjpeg reports a fatal error by calling error_exit, which must not
 * return: ours keeps the message and longjmps back. As with libpng
 * (imageio.c), everything the error path needs lives in a struct owned by
 * the caller of the function that calls setjmp, so no local of the setjmp
 * frame is read after the jump. Warnings and trace messages are dropped:
 * the library never prints. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h> /* after stdio.h */
#include <jerror.h>

#include "imageio.h"

typedef struct {
    struct jpeg_error_mgr mgr; /* first: libjpeg's err pointer is this struct */
    jmp_buf jump;
    int io_errno; /* the failed write's errno */
    char msg[JMSG_LENGTH_MAX];
} jpeg_failure;

static void on_jpeg_error(j_common_ptr c)
{
    jpeg_failure *f = (jpeg_failure *)c->err;
    if (c->err->msg_code == JERR_FILE_WRITE && !f->io_errno)
        f->io_errno = errno ? errno : EIO;
    c->err->format_message(c, f->msg);
    longjmp(f->jump, 1);
}

static void on_jpeg_message(j_common_ptr c, int level) { (void)c, (void)level; }
static void on_jpeg_output(j_common_ptr c) { (void)c; }

typedef struct {
    jpeg_failure fail;
    struct jpeg_compress_struct c;
    int created;
    FILE *f;
    const char *path;
    int width, channels;
    const deconv_write_options *o; /* while the file starts */
    unsigned char *row;
    unsigned char *app1; /* "Exif\0\0" and the EXIF block */
} jpeg_writer;

/* The most an ICC profile can span: 255 APP2 markers of 65519 bytes. */
#define JPEG_ICC_MAX ((size_t)255 * 65519)

/* The metadata's markers, after the JFIF header: APP1 Exif (when the block
 * fits one marker) and the ICC profile in APP2 markers. */
static void jpeg_write_metadata(jpeg_writer *wr)
{
    const deconv_metadata *m = wr->o->metadata;
    if (m->exif && m->exif_size > 0 && m->exif_size <= DECONV_EXIF_BLOCK_MAX) {
        if (!(wr->app1 = malloc(6 + m->exif_size)))
            ERREXIT1(&wr->c, JERR_OUT_OF_MEMORY, 0);
        memcpy(wr->app1, "Exif\0\0", 6);
        memcpy(wr->app1 + 6, m->exif, m->exif_size);
        jpeg_write_marker(&wr->c, JPEG_APP0 + 1, wr->app1, (unsigned)(6 + m->exif_size));
    }
    if (m->icc && m->icc_size > 0 && m->icc_size <= JPEG_ICC_MAX)
        jpeg_write_icc_profile(&wr->c, m->icc, (unsigned)m->icc_size);
}

/* What a libjpeg error that longjmped back to a job means. */
static deconv_status jpeg_failed(const jpeg_writer *wr, deconv_error *err)
{
    if (wr->fail.io_errno)
        return deconv_io_fail_errno(err, "write", wr->path, wr->fail.io_errno);
    return deconv_fail(err, DECONV_ERR_IO, "cannot write '%s': %s", wr->path, wr->fail.msg);
}

/* The jobs below call setjmp first thing. */

/* Everything before the rows: the parameters, the headers, the metadata. */
static deconv_status jpeg_begin_job(jpeg_writer *wr, int height, deconv_error *err)
{
    if (setjmp(wr->fail.jump))
        return jpeg_failed(wr, err);
    struct jpeg_compress_struct *c = &wr->c;
    int colour = deconv_color_channels(wr->channels);
    jpeg_create_compress(c);
    wr->created = 1;
    jpeg_stdio_dest(c, wr->f);
    c->image_width = (JDIMENSION)wr->width;
    c->image_height = (JDIMENSION)height;
    c->input_components = colour;
    c->in_color_space = colour == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(c);
    jpeg_set_quality(c, wr->o->quality, TRUE);
    c->optimize_coding = TRUE;
    if (colour == 3) {
        c->comp_info[0].h_samp_factor = wr->o->chroma_x;
        c->comp_info[0].v_samp_factor = wr->o->chroma_y;
        for (int k = 1; k < 3; k++)
            c->comp_info[k].h_samp_factor = c->comp_info[k].v_samp_factor = 1;
    }
    jpeg_start_compress(c, TRUE);
    if (wr->o->metadata)
        jpeg_write_metadata(wr);
    return DECONV_OK;
}

/* The next n rows (in as deconv_row_sink's), alpha dropped. */
static deconv_status jpeg_rows_job(jpeg_writer *wr, int n, const float *in, size_t plane,
                                   deconv_error *err)
{
    if (setjmp(wr->fail.jump))
        return jpeg_failed(wr, err);
    int colour = deconv_color_channels(wr->channels);
    for (int i = 0; i < n; i++) {
        const float *src = in + (size_t)i * wr->width;
        unsigned char *p = wr->row;
        for (int x = 0; x < wr->width; x++)
            for (int k = 0; k < colour; k++)
                *p++ = (unsigned char)deconv_io_quantize(src[k * plane + x], 255);
        JSAMPROW rows[1] = {wr->row};
        jpeg_write_scanlines(&wr->c, rows, 1);
    }
    return DECONV_OK;
}

/* The Huffman tables (optimised: libjpeg has kept every coefficient for
 * this) and the scan. */
static deconv_status jpeg_end_job(jpeg_writer *wr, deconv_error *err)
{
    if (setjmp(wr->fail.jump))
        return jpeg_failed(wr, err);
    jpeg_finish_compress(&wr->c);
    return DECONV_OK;
}

static deconv_status jpeg_sink_write(void *state, int rows, const float *in, size_t plane,
                                     deconv_error *err)
{
    return jpeg_rows_job(state, rows, in, plane, err);
}

static deconv_status jpeg_sink_finish(void *state, deconv_error *err)
{
    return jpeg_end_job(state, err);
}

static void jpeg_sink_close(void *state)
{
    jpeg_writer *wr = state;
    if (wr->created)
        jpeg_destroy_compress(&wr->c);
    free(wr->row);
    free(wr->app1);
    free(wr);
}

deconv_status deconv_jpeg_check_size(const char *path, int width, int height, deconv_error *err)
{
    if (width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION)
        return deconv_fail(err, DECONV_ERR_ARG,
                           "cannot write '%s': %d x %d is larger than JPEG allows (%d a side)",
                           path, width, height, (int)JPEG_MAX_DIMENSION);
    return DECONV_OK;
}

deconv_status deconv_jpeg_sink_open(const deconv_sink_spec *sp, deconv_row_sink *sink,
                                    deconv_error *err)
{
    jpeg_writer *wr = calloc(1, sizeof *wr);
    if (!wr || !(wr->row = malloc((size_t)sp->width * 3))) {
        free(wr);
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory writing '%s'", sp->path);
    }
    wr->c.err = jpeg_std_error(&wr->fail.mgr);
    wr->fail.mgr.error_exit = on_jpeg_error;
    wr->fail.mgr.emit_message = on_jpeg_message;
    wr->fail.mgr.output_message = on_jpeg_output;
    wr->f = sp->f;
    wr->path = sp->path;
    wr->width = sp->width;
    wr->channels = sp->channels;
    wr->o = sp->o;
    deconv_status s = jpeg_begin_job(wr, sp->height, err);
    wr->o = NULL;
    if (s != DECONV_OK) {
        jpeg_sink_close(wr);
        return s;
    }
    sink->state = wr;
    sink->write = jpeg_sink_write;
    sink->finish = jpeg_sink_finish;
    sink->close = jpeg_sink_close;
    return DECONV_OK;
}
