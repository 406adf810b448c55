/* JPEG output through libjpeg (libjpeg-turbo): 8-bit gray or YCbCr at the
 * quality and chroma subsampling asked, baseline, with optimised Huffman
 * tables. JPEG has no alpha: an alpha channel is dropped.
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
    const deconv_image *im;
    const deconv_write_options *o;
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

static deconv_status jpeg_write_job(jpeg_writer *wr, deconv_error *err)
{
    if (setjmp(wr->fail.jump)) {
        if (wr->fail.io_errno)
            return deconv_io_fail_errno(err, "write", wr->path, wr->fail.io_errno);
        return deconv_fail(err, DECONV_ERR_IO, "cannot write '%s': %s", wr->path, wr->fail.msg);
    }
    struct jpeg_compress_struct *c = &wr->c;
    const deconv_image *im = wr->im;
    int colour = deconv_color_channels(im->channels);
    jpeg_create_compress(c);
    wr->created = 1;
    jpeg_stdio_dest(c, wr->f);
    c->image_width = (JDIMENSION)im->width;
    c->image_height = (JDIMENSION)im->height;
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

    size_t plane = (size_t)im->width * im->height;
    for (int y = 0; y < im->height; y++) {
        const float *in = im->data + (size_t)y * im->width;
        unsigned char *p = wr->row;
        for (int x = 0; x < im->width; x++)
            for (int k = 0; k < colour; k++)
                *p++ = (unsigned char)deconv_io_quantize(in[k * plane + x], 255);
        JSAMPROW rows[1] = {wr->row};
        jpeg_write_scanlines(c, rows, 1);
    }
    jpeg_finish_compress(c);
    return DECONV_OK;
}

deconv_status deconv_jpeg_write(const deconv_image *im, const char *path,
                                const deconv_write_options *o, deconv_error *err)
{
    if (im->width > JPEG_MAX_DIMENSION || im->height > JPEG_MAX_DIMENSION)
        return deconv_fail(err, DECONV_ERR_ARG,
                           "cannot write '%s': %d x %d is larger than JPEG allows (%d a side)",
                           path, im->width, im->height, (int)JPEG_MAX_DIMENSION);
    deconv_error local;
    deconv_error *e = err ? err : &local;
    deconv_atomic_file *af = deconv_atomic_open(path, e);
    if (!af)
        return e->code;
    jpeg_writer *wr = calloc(1, sizeof *wr);
    deconv_status s;
    if (!wr || !(wr->row = malloc((size_t)im->width * 3))) {
        s = deconv_fail(err, DECONV_ERR_NOMEM, "out of memory writing '%s'", path);
    } else {
        wr->c.err = jpeg_std_error(&wr->fail.mgr);
        wr->fail.mgr.error_exit = on_jpeg_error;
        wr->fail.mgr.emit_message = on_jpeg_message;
        wr->fail.mgr.output_message = on_jpeg_output;
        wr->f = deconv_atomic_stream(af);
        wr->path = path;
        wr->im = im;
        wr->o = o;
        s = jpeg_write_job(wr, err);
    }
    if (wr) {
        if (wr->created)
            jpeg_destroy_compress(&wr->c);
        free(wr->row);
        free(wr->app1);
        free(wr);
    }
    if (s != DECONV_OK) {
        deconv_atomic_abort(af);
        return s;
    }
    return deconv_atomic_commit(af, err);
}
