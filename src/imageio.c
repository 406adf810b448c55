/* Image files: PNG through libpng (read and write), PNM (P1-P6) and
 * Radiance HDR by hand, and JPEG, BMP, TGA, GIF, PSD through stb_image
 * (read only); the choice of a reader by the file's content.
 *
 * Samples become floats in [0, 1] in the planar layout of deconv.h. The
 * readers and the PNG writer are the row sources and sinks of rows_io.c
 * (imageio.h): PNG (but interlaced), PNM and HDR are decoded a row at a
 * time as they are asked for, the stb_image formats and interlaced PNG
 * whole when opened. Every call keeps its state to itself (no globals, no
 * stb_image settings), so the functions may run on several threads at
 * once.
 *
 * libpng reports errors by longjmp. To keep that well defined, each libpng
 * job keeps everything that the error path needs (resources, messages) in a
 * struct owned by the caller of the function that calls setjmp: no local
 * variable of the setjmp frame is read after a longjmp, so none needs to be
 * volatile.
 *
 * PNM is read here rather than by stb_image, whose version 2.27 (Debian 12)
 * returns 16-bit samples byte-swapped on little-endian machines, ignores
 * maxval (a 10-bit file reads as 1/64 of its brightness) and returns
 * uninitialised memory for a truncated file. Radiance HDR is read here too:
 * stb_image 2.27 loops for ever on a truncated run-length scanline (found by
 * tests/fuzz). The other formats go to stb_image through our own read
 * functions, which notice when it wants bytes past the end of the file: it
 * would otherwise make up zeros (or leave memory uninitialised, as in TGA)
 * and return a truncated file as a complete image.
 *
 * Each file's tone curve (deconv_file_info.response, MODEL.md "The camera")
 * is what its tags say: a PNG's cICP, iCCP, sRGB or gAMA chunk, in that
 * order of precedence (PNG, third edition), or a JPEG's ICC profile (its
 * APP2 markers, collected here and parsed by LittleCMS in icc.c). Untagged
 * files are sRGB; Radiance HDR holds light, so it is linear. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <stb_image.h>
#include <zlib.h> /* libpng's own: the iCCP chunk's stream */

#include "imageio.h"
#include "response.h"

#define SUPPORTED_FORMATS "PNG, JPEG, TIFF, BMP, TGA, GIF, PSD, HDR, PNM"

/* strerror is not required to be thread-safe; the XSI strerror_r is. */
const char *deconv_io_error_text(int e, char *buf, size_t size)
{
    if (strerror_r(e, buf, size) != 0)
        snprintf(buf, size, "error %d", e);
    return buf;
}

deconv_status deconv_io_fail_errno(deconv_error *err, const char *verb, const char *path, int e)
{
    char buf[128];
    return deconv_fail(err, DECONV_ERR_IO, "cannot %s '%s': %s", verb, path,
                       deconv_io_error_text(e, buf, sizeof buf));
}

/* ------------------------------------------------------------------ */
/* Sizes                                                                */
/* ------------------------------------------------------------------ */

/* Refuse w x h (as claimed by a header) when it exceeds max_pixels
 * (<= 0: no limit) or cannot be held as a deconv_image of the given
 * channels. Width and height are below 2^32, so w * h cannot overflow. */
deconv_status deconv_io_check_size(deconv_error *err, const char *path, uint64_t w, uint64_t h,
                                   int channels, int64_t max_pixels)
{
    if (max_pixels > 0 && w * h > (uint64_t)max_pixels)
        return deconv_fail(err, DECONV_ERR_TOO_LARGE,
                           "'%s' is %llu x %llu = %.6g megapixels, more than the limit of "
                           "%.6g megapixels (--max-pixels)",
                           path, (unsigned long long)w, (unsigned long long)h,
                           (double)w * (double)h / 1e6, (double)max_pixels / 1e6);
    if (w > INT_MAX || h > INT_MAX ||
        w * h > (uint64_t)(SIZE_MAX / sizeof(float) / (size_t)channels))
        return deconv_fail(err, DECONV_ERR_TOO_LARGE,
                           "'%s' is %llu x %llu: too large to hold in memory", path,
                           (unsigned long long)w, (unsigned long long)h);
    return DECONV_OK;
}

deconv_image *deconv_io_new_image(deconv_error *err, const char *path, int w, int h, int channels)
{
    deconv_image *im = deconv_image_new(w, h, channels);
    if (!im)
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s' (%d x %d x %d)", path, w,
                    h, channels);
    return im;
}

static void fill_lut8(float lut[256])
{
    for (int v = 0; v < 256; v++)
        lut[v] = (float)v / 255.0f;
}

static inline float from16(unsigned v) { return (float)v / 65535.0f; }


/* ------------------------------------------------------------------ */
/* Tone curves from tags                                                */
/* ------------------------------------------------------------------ */

/* Add a sentence to fi->warning ("; " between two), cut to fit. */
void deconv_io_add_warning(deconv_file_info *fi, const char *fmt, ...)
{
    size_t n = strlen(fi->warning);
    if (n && n + 2 < sizeof fi->warning) {
        memcpy(fi->warning + n, "; ", 3);
        n += 2;
    }
    if (n + 1 >= sizeof fi->warning)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fi->warning + n, sizeof fi->warning - n, fmt, ap);
    va_end(ap);
}

static void set_srgb(deconv_file_info *fi, const char *name)
{
    deconv_response_srgb(&fi->response);
    snprintf(fi->response.name, sizeof fi->response.name, "%s", name);
}

/* The curve of an untagged file. */
void deconv_io_set_untagged(deconv_file_info *fi) { set_srgb(fi, "sRGB (untagged)"); }

/* sRGB in place of a tag that cannot be used (the caller says why). */
static void set_assumed_srgb(deconv_file_info *fi) { set_srgb(fi, "sRGB (assumed)"); }

/* An ICC profile's curve, or sRGB and a warning naming what is wrong with
 * the profile (what says whose profile it is). */
void deconv_io_set_from_icc(deconv_file_info *fi, const void *icc, size_t size, const char *what)
{
    deconv_error e = {DECONV_OK, ""};
    if (deconv_response_from_icc(icc, size, &fi->response, &e) == DECONV_OK)
        return;
    set_assumed_srgb(fi);
    deconv_io_add_warning(fi, "%s cannot be used: %s; assuming sRGB", what, e.message);
}

/* ------------------------------------------------------------------ */
/* libpng plumbing                                                      */
/* ------------------------------------------------------------------ */

typedef struct {
    FILE *f;
    const char *path;
    int io_errno;  /* a read or write failed with this errno */
    char msg[256]; /* libpng's last error message */
    /* libpng's first warning on each colour chunk (it then drops the chunk):
     * iCCP, sRGB, gAMA, cICP */
    char chunk_warning[4][128];
} png_io;

static const char *const colour_chunks[4] = {"iCCP", "sRGB", "gAMA", "cICP"};
enum { WARN_ICCP, WARN_SRGB, WARN_GAMA, WARN_CICP };

static void on_png_error(png_structp png, png_const_charp msg)
{
    png_io *io = png_get_error_ptr(png);
    snprintf(io->msg, sizeof io->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

/* The library never prints; a warning about a colour chunk ("iCCP: ...",
 * as libpng's chunk warnings start) is kept for deconv_file_info.warning. */
static void on_png_warning(png_structp png, png_const_charp msg)
{
    png_io *io = png_get_error_ptr(png);
    if (!io || !msg)
        return;
    for (int i = 0; i < 4; i++)
        if (strncmp(msg, colour_chunks[i], 4) == 0 && msg[4] == ':' && !io->chunk_warning[i][0])
            snprintf(io->chunk_warning[i], sizeof io->chunk_warning[i], "%s",
                     msg[5] == ' ' ? msg + 6 : msg + 5);
}

static void on_png_read(png_structp png, png_bytep data, size_t len)
{
    png_io *io = png_get_io_ptr(png);
    errno = 0;
    if (fread(data, 1, len, io->f) == len)
        return;
    if (ferror(io->f)) {
        io->io_errno = errno ? errno : EIO;
        png_error(png, "read error");
    }
    png_error(png, "unexpected end of file");
}

static void on_png_write(png_structp png, png_bytep data, size_t len)
{
    png_io *io = png_get_io_ptr(png);
    errno = 0;
    if (fwrite(data, 1, len, io->f) != len) {
        io->io_errno = errno ? errno : EIO;
        png_error(png, "write error");
    }
}

static void on_png_flush(png_structp png)
{
    (void)png; /* deconv_atomic_commit flushes and syncs */
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ------------------------------------------------------------------ */
/* PNG reading                                                          */
/* ------------------------------------------------------------------ */

typedef struct {
    png_io io;
    int64_t max_pixels;
    png_structp png;
    png_infop info;
    deconv_file_info *fi;
    deconv_metadata *meta; /* NULL: not wanted */
    png_uint_32 w, h;
    int channels, bytes, interlaced, passes;
    unsigned char *row;
    deconv_image *im;   /* an interlaced image, read whole */
    int complete;       /* every row of it has been read */
    float lut[256];     /* 8-bit samples as floats */
} png_reader;

/* cICP's transfer characteristics (ITU-T H.273) as a curve. */
static void set_from_cicp(deconv_file_info *fi, int transfer, int full_range)
{
    deconv_response *r = &fi->response;
    switch (transfer) {
    case 13: /* IEC 61966-2-1 */
        set_srgb(fi, "sRGB (PNG cICP)");
        break;
    case 8: /* linear */
        deconv_response_linear(r);
        snprintf(r->name, sizeof r->name, "linear (PNG cICP)");
        break;
    case 1: case 6: case 14: case 15: /* Rec. 709 (and BT.601, BT.2020's) */
        /* L = ((u + 0.099) / 1.099)^(1 / 0.45) from u = 0.081 on, u / 4.5 below */
        deconv_response_parametric(r, 1.0 / 0.45, 1.0 / 1.099, 0.099 / 1.099, 1.0 / 4.5, 0.081,
                                   "Rec. 709 (PNG cICP)");
        break;
    default: /* PQ (16), HLG (18), and the rest */
        set_assumed_srgb(fi);
        deconv_io_add_warning(fi, "cICP transfer %d is not supported; assuming sRGB", transfer);
        break;
    }
    if (!full_range)
        deconv_io_add_warning(fi,
                              "cICP says narrow range (video levels), which is not supported: the "
                              "samples are read as full range");
}

/* The largest ICC profile an iCCP chunk may inflate to. */
#define ICCP_MAX ((size_t)16 << 20)

/* The profile of an iCCP chunk's data: a keyword of 1 to 79 bytes, NUL,
 * compression method 0, the profile's zlib stream. Returns the profile
 * (malloc'd) and its size, or NULL and why (empty: out of memory). */
static unsigned char *iccp_profile(const unsigned char *data, size_t size, size_t *out_size,
                                   char *why, size_t why_size)
{
    size_t k = 0;
    while (k < size && k < 80 && data[k])
        k++;
    why[0] = '\0';
    if (k == 0 || k >= 80 || k + 2 > size) {
        snprintf(why, why_size, "a bad keyword");
        return NULL;
    }
    if (data[k + 1] != 0) {
        snprintf(why, why_size, "compression method %d", data[k + 1]);
        return NULL;
    }
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK)
        return NULL;
    z.next_in = (Bytef *)(data + k + 2);
    z.avail_in = (uInt)(size - k - 2); /* libpng keeps chunks below 8 MB */
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    int rc = Z_OK;
    while (buf) {
        z.next_out = buf + len;
        z.avail_out = (uInt)(cap - len);
        rc = inflate(&z, Z_NO_FLUSH);
        len = cap - z.avail_out;
        if (rc == Z_STREAM_END)
            break;
        if (rc != Z_OK && !(rc == Z_BUF_ERROR && z.avail_out == 0)) {
            if (rc == Z_BUF_ERROR)
                snprintf(why, why_size, "its zlib stream is truncated");
            else
                snprintf(why, why_size, "its zlib stream is corrupt (%s)",
                         z.msg ? z.msg : "an error");
            break;
        }
        if (z.avail_out == 0) {
            if (cap >= ICCP_MAX) {
                snprintf(why, why_size, "a profile of more than %zu MiB", ICCP_MAX >> 20);
                break;
            }
            unsigned char *grown = realloc(buf, cap * 2);
            if (!grown) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(buf);
        return NULL;
    }
    *out_size = len;
    return buf;
}

/* The PNG's tone curve from its chunks (read by png_read_info), in the
 * precedence of PNG's third edition: cICP, iCCP, sRGB, gAMA. iCCP (and
 * cICP, which libpng 1.6.39 does not know) are kept as unknown chunks and
 * read here: libpng's own iCCP handling drops both iCCP and sRGB when both
 * are present ("too many profiles"). libpng drops a colour chunk it finds
 * broken, with a warning (kept in io.chunk_warning); a dropped chunk counts
 * as one that cannot be used. No transformation asks libpng to correct
 * gamma: the samples stay as stored. Returns DECONV_ERR_NOMEM or OK. */
static deconv_status png_tone_curve(png_reader *r)
{
    deconv_file_info *fi = r->fi;
    char (*dropped)[128] = r->io.chunk_warning;
    fi->warning[0] = '\0';

    int cicp = 0, transfer = 0, full_range = 1;
    png_unknown_chunkp unknown = NULL, iccp = NULL;
    int n_unknown = png_get_unknown_chunks(r->png, r->info, &unknown);
    for (int i = 0; i < n_unknown; i++) {
        if (!iccp && memcmp(unknown[i].name, "iCCP", 4) == 0)
            iccp = &unknown[i];
#ifndef PNG_cICP_SUPPORTED
        if (!cicp && memcmp(unknown[i].name, "cICP", 4) == 0) {
            if (unknown[i].size == 4) {
                cicp = 1;
                transfer = unknown[i].data[1];
                full_range = unknown[i].data[3];
            } else {
                deconv_io_add_warning(fi, "a cICP chunk of %zu bytes (not 4) was ignored",
                                      unknown[i].size);
            }
        }
#endif
    }
#ifdef PNG_cICP_SUPPORTED
    png_byte primaries, tf, matrix, range;
    if (png_get_cICP(r->png, r->info, &primaries, &tf, &matrix, &range)) {
        cicp = 1;
        transfer = tf;
        full_range = range;
    }
#endif
    if (!cicp && dropped[WARN_CICP][0])
        deconv_io_add_warning(fi, "the cICP chunk was ignored: %s", dropped[WARN_CICP]);
    if (cicp) {
        set_from_cicp(fi, transfer, full_range);
        return DECONV_OK;
    }

    if (iccp) {
        char why[160];
        size_t size = 0;
        unsigned char *profile = iccp_profile(iccp->data, iccp->size, &size, why, sizeof why);
        if (profile) {
            deconv_io_set_from_icc(fi, profile, size, "the ICC profile (iCCP chunk)");
            free(profile);
            return DECONV_OK;
        }
        if (!why[0])
            return DECONV_ERR_NOMEM;
        set_assumed_srgb(fi);
        deconv_io_add_warning(fi, "the ICC profile (iCCP chunk) cannot be used: %s; assuming sRGB",
                              why);
        return DECONV_OK;
    }
    if (dropped[WARN_ICCP][0]) {
        set_assumed_srgb(fi);
        deconv_io_add_warning(fi, "the ICC profile (iCCP chunk) cannot be used: %s; assuming sRGB",
                              dropped[WARN_ICCP]);
        return DECONV_OK;
    }
    int intent;
    if (png_get_sRGB(r->png, r->info, &intent)) {
        set_srgb(fi, "sRGB (PNG sRGB)");
        return DECONV_OK;
    }
    png_fixed_point file_gamma;
    if (png_get_gAMA_fixed(r->png, r->info, &file_gamma)) {
        /* stored = light^(file_gamma / 100000): a 45455 (without sRGB) is a
         * pure gamma of 2.2 */
        double g = file_gamma > 0 ? 100000.0 / file_gamma : 0.0;
        if (deconv_response_gamma(&fi->response, g, NULL) == DECONV_OK) {
            snprintf(fi->response.name, sizeof fi->response.name, "gamma %.3g (PNG gAMA)", g);
        } else {
            set_assumed_srgb(fi);
            deconv_io_add_warning(
                fi, "gAMA %.5f (a gamma of %.3g) is out of range (0.2 to 5); assuming sRGB",
                file_gamma / 100000.0, g);
        }
        return DECONV_OK;
    }
    for (int i = WARN_SRGB; i <= WARN_GAMA; i++)
        if (dropped[i][0]) {
            set_assumed_srgb(fi);
            deconv_io_add_warning(fi, "the %s chunk cannot be used: %s; assuming sRGB",
                                  colour_chunks[i], dropped[i]);
            return DECONV_OK;
        }
    deconv_io_set_untagged(fi);
    return DECONV_OK;
}

/* What a libpng error that longjmped back to a job means: a read error or
 * a corrupt file. */
static deconv_status png_read_failed(const png_reader *r, deconv_error *err)
{
    if (r->io.io_errno)
        return deconv_io_fail_errno(err, "read", r->io.path, r->io.io_errno);
    return deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: %s", r->io.path, r->io.msg);
}

/* The jobs below call setjmp first thing; r is owned by their caller,
 * which frees what it holds whatever they return. */

/* From the signature to the image data: the chunks before it, the tone
 * curve, and the rows' layout once libpng makes them 8- or 16-bit gray,
 * gray+alpha, RGB or RGBA. */
static deconv_status png_start_job(png_reader *r, deconv_error *err)
{
    const char *path = r->io.path;
    if (setjmp(png_jmpbuf(r->png)))
        return png_read_failed(r, err);

    png_set_read_fn(r->png, &r->io, on_png_read);
    /* libpng's own guard on each dimension, consistent with the limit on
     * their product checked below (which is the one that names the size). */
    png_uint_32 lim = 0x7fffffff;
    if (r->max_pixels > 0 && r->max_pixels < (int64_t)lim)
        lim = (png_uint_32)r->max_pixels;
    png_set_user_limits(r->png, lim, lim);
#ifdef PNG_cICP_SUPPORTED
    static const png_byte kept[] = "iCCP";
#else
    static const png_byte kept[] = "iCCP\0cICP";
#endif
    png_set_keep_unknown_chunks(r->png, PNG_HANDLE_CHUNK_ALWAYS, kept, (int)(sizeof kept / 5));
    /* the metadata, kept as stored (after the image data too) */
    static const png_byte carried[] = "eXIf\0tEXt\0zTXt\0iTXt";
    if (r->meta)
        png_set_keep_unknown_chunks(r->png, PNG_HANDLE_CHUNK_ALWAYS, carried,
                                    (int)(sizeof carried / 5));

    png_read_info(r->png, r->info);
    if (png_tone_curve(r) != DECONV_OK)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", path);
    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(r->png, r->info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    deconv_status s = deconv_io_check_size(err, path, w, h, 4, r->max_pixels);
    if (s != DECONV_OK)
        return s;

    if (ctype == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(r->png);
    if (png_get_valid(r->png, r->info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(r->png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(r->png);
    /* 16-bit samples are kept, in the file's big-endian order. */
    r->passes = png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);

    int channels = png_get_channels(r->png, r->info);
    int bytes = png_get_bit_depth(r->png, r->info) / 8;
    size_t rowbytes = png_get_rowbytes(r->png, r->info);
    if (channels < 1 || channels > 4 || (bytes != 1 && bytes != 2) ||
        rowbytes != (size_t)w * (size_t)channels * (size_t)bytes)
        png_error(r->png, "unexpected pixel layout after transformations");
    r->row = malloc(rowbytes);
    if (!r->row)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", path);
    r->w = w;
    r->h = h;
    r->channels = channels;
    r->bytes = bytes;
    r->interlaced = interlace != PNG_INTERLACE_NONE;
    r->fi->bits = depth == 16 ? 16 : 8;
    r->fi->has_alpha = channels == 2 || channels == 4;
    return DECONV_OK;
}

/* The row just decoded into out (channel c's samples at out + c * plane),
 * from column x0 every dx columns. */
static void png_convert_row(const png_reader *r, float *out, size_t plane, png_uint_32 x0,
                            png_uint_32 dx)
{
    for (png_uint_32 x = x0; x < r->w; x += dx) {
        const unsigned char *px = r->row + (size_t)x * r->channels * r->bytes;
        for (int c = 0; c < r->channels; c++)
            out[c * plane + x] = r->bytes == 1
                                     ? r->lut[px[c]]
                                     : from16((unsigned)px[2 * c] << 8 | px[2 * c + 1]);
    }
}

/* The next n rows of an image that is not interlaced into out (channel c's
 * row i at out + c * plane + i * width), or dropped when out is NULL. */
static deconv_status png_rows_job(png_reader *r, png_uint_32 n, float *out, size_t plane,
                                  deconv_error *err)
{
    if (setjmp(png_jmpbuf(r->png)))
        return png_read_failed(r, err);
    for (png_uint_32 i = 0; i < n; i++) {
        png_read_row(r->png, r->row, NULL);
        if (out)
            png_convert_row(r, out + (size_t)i * r->w, plane, 0, 1);
    }
    return DECONV_OK;
}

/* An interlaced image, whole, then the chunks after its data. libpng is
 * called for every row in every pass and writes into the row buffer only
 * the pixels of the pass, at their final places; those are the ones
 * taken. */
static deconv_status png_whole_job(png_reader *r, deconv_error *err)
{
    if (setjmp(png_jmpbuf(r->png))) {
        /* An error after the last row (in png_read_end: a missing IEND, a
         * broken chunk after the image data) costs no pixel: every row was
         * decoded and its IDAT data passed their CRC and zlib checks. */
        if (r->complete)
            return DECONV_OK;
        return png_read_failed(r, err);
    }
    r->im = deconv_io_new_image(err, r->io.path, (int)r->w, (int)r->h, r->channels);
    if (!r->im)
        return DECONV_ERR_NOMEM;
    size_t plane = (size_t)r->w * r->h;
    for (int pass = 0; pass < r->passes; pass++)
        for (png_uint_32 y = 0; y < r->h; y++) {
            png_read_row(r->png, r->row, NULL);
            if (PNG_ROW_IN_INTERLACE_PASS(y, pass))
                png_convert_row(r, r->im->data + (size_t)y * r->w, plane,
                                PNG_PASS_START_COL(pass), PNG_PASS_COL_OFFSET(pass));
        }
    r->complete = 1;
    png_read_end(r->png, r->meta ? r->info : NULL);
    return DECONV_OK;
}

/* The chunks after the image data, every row read. An error there costs
 * no pixel (as in png_whole_job) and ends them. */
static void png_end_job(png_reader *r)
{
    if (setjmp(png_jmpbuf(r->png)))
        return;
    png_read_end(r->png, r->info);
}

/* The metadata of a PNG read (its unknown chunks, before and after the
 * image data): the first iCCP's profile and eXIf, every text chunk.
 * Returns 0, or -1 when out of memory. */
static int png_metadata(png_reader *r)
{
    deconv_metadata *m = r->meta;
    png_unknown_chunkp unknown = NULL;
    int n = png_get_unknown_chunks(r->png, r->info, &unknown);
    for (int i = 0; i < n; i++) {
        const png_unknown_chunk *c = &unknown[i];
        const char *name = (const char *)c->name;
        if (memcmp(name, "iCCP", 4) == 0 && !m->icc) {
            char why[160];
            size_t size = 0;
            unsigned char *profile = iccp_profile(c->data, c->size, &size, why, sizeof why);
            if (!profile && !why[0])
                return -1;
            if (profile) { /* a broken one is not carried */
                int bad = deconv_metadata_set_icc(m, profile, size);
                free(profile);
                if (bad)
                    return -1;
            }
        } else if (memcmp(name, "eXIf", 4) == 0 && !m->exif) {
            if (deconv_metadata_set_exif(m, c->data, c->size) != 0)
                return -1;
        } else if (memcmp(name, "tEXt", 4) == 0 || memcmp(name, "zTXt", 4) == 0 ||
                   memcmp(name, "iTXt", 4) == 0) {
            if (deconv_metadata_add_text(m, name, c->data, c->size) != 0)
                return -1;
        }
    }
    return 0;
}

/* Whether a chunk the metadata takes (iCCP, eXIf, tEXt, zTXt, iTXt)
 * follows the first image data, where libpng meets it only after the last
 * row. The chunks are walked by their lengths from the signature on, as
 * libpng reads them, to IEND or the end of the file; f is left anywhere. */
static int png_metadata_after_data(FILE *f)
{
    static const char *const carried[] = {"iCCP", "eXIf", "tEXt", "zTXt", "iTXt"};
    if (fseek(f, 8, SEEK_SET) != 0)
        return 0;
    int data = 0;
    unsigned char h[8];
    while (fread(h, 1, sizeof h, f) == sizeof h) {
        uint32_t len = be32(h);
        if (len > 0x7fffffffu || memcmp(h + 4, "IEND", 4) == 0)
            break;
        if (memcmp(h + 4, "IDAT", 4) == 0)
            data = 1;
        for (int i = 0; data && i < 5; i++)
            if (memcmp(h + 4, carried[i], 4) == 0)
                return 1;
        if (fseeko(f, (off_t)len + 4, SEEK_CUR) != 0) /* the data and the CRC */
            break;
    }
    return 0;
}

static void png_reader_free(png_reader *r)
{
    png_destroy_read_struct(&r->png, &r->info, NULL);
    free(r->row);
    deconv_image_free(r->im);
    free(r);
}

/* A reader of f for path, libpng's structures made. NULL when out of
 * memory. */
static png_reader *png_reader_new(FILE *f, const char *path, int64_t max_pixels,
                                  deconv_file_info *fi, deconv_metadata *meta)
{
    png_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->io.f = f;
    r->io.path = path;
    r->max_pixels = max_pixels;
    r->fi = fi;
    r->meta = meta;
    fill_lut8(r->lut);
    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r->io, on_png_error, on_png_warning);
    if (r->png)
        r->info = png_create_info_struct(r->png);
    if (!r->png || !r->info) {
        png_reader_free(r);
        return NULL;
    }
    return r;
}

/* The metadata of a PNG that has some after its image data, for a reader
 * that gives it when opened: the file is read through once more from its
 * start, the rows decoded and dropped, to its end, just as deconv_image_read
 * reads it. An error on the way is left to the reading of the rows, which
 * meets it again; the metadata before it is kept. Returns 0, or -1 when
 * out of memory. */
static int png_metadata_pass(FILE *f, const char *path, int64_t max_pixels,
                             deconv_metadata *meta)
{
    deconv_file_info fi;
    memset(&fi, 0, sizeof fi);
    clearerr(f);
    if (fseek(f, 0, SEEK_SET) != 0)
        return 0;
    png_reader *r = png_reader_new(f, path, max_pixels, &fi, meta);
    if (!r)
        return -1;
    if (png_start_job(r, NULL) == DECONV_OK && png_rows_job(r, r->h, NULL, 0, NULL) == DECONV_OK)
        png_end_job(r);
    int bad = png_metadata(r);
    png_reader_free(r);
    return bad;
}

/* The metadata when the reader opens: that of the chunks libpng has read,
 * unless some come after the image data (and the image is not read whole
 * already): those of a second pass. f is put back where libpng left it. */
static deconv_status png_open_metadata(png_reader *r, deconv_error *err)
{
    FILE *f = r->io.f;
    off_t at = r->interlaced ? -1 : ftello(f);
    int bad = at < 0 || !png_metadata_after_data(f)
                  ? png_metadata(r)
                  : png_metadata_pass(f, r->io.path, r->max_pixels, r->meta);
    if (at >= 0) {
        clearerr(f);
        if (fseeko(f, at, SEEK_SET) != 0)
            return deconv_io_fail_errno(err, "read", r->io.path, errno);
    }
    if (bad)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", r->io.path);
    return DECONV_OK;
}

static deconv_status png_source_read(void *state, int rows, float *out, size_t plane,
                                     deconv_error *err)
{
    return png_rows_job(state, (png_uint_32)rows, out, plane, err);
}

static void png_source_close(void *state) { png_reader_free(state); }

/* A PNG: streamed a row at a time, or read whole when interlaced. */
static deconv_status open_png(const deconv_source_spec *sp, deconv_row_source *src,
                              deconv_error *err)
{
    const char *path = sp->path;
    /* IHDR must be the first chunk: check the size it claims before libpng
     * reads on, so that a header claiming gigapixels is refused as too large
     * even when nothing follows it. */
    if (sp->n >= 24 && memcmp(sp->head + 12, "IHDR", 4) == 0) {
        uint32_t w = be32(sp->head + 16), h = be32(sp->head + 20);
        deconv_status s = w > 0 && h > 0 && w <= 0x7fffffffu && h <= 0x7fffffffu
                              ? deconv_io_check_size(err, path, w, h, 4, sp->max_pixels)
                              : DECONV_OK;
        if (s != DECONV_OK)
            return s;
    }
    png_reader *r = png_reader_new(sp->f, path, sp->max_pixels, sp->fi, sp->meta);
    if (!r)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", path);
    deconv_status s = png_start_job(r, err);
    if (s == DECONV_OK && r->interlaced)
        s = png_whole_job(r, err);
    if (s == DECONV_OK && r->meta)
        s = png_open_metadata(r, err);
    if (s != DECONV_OK) {
        png_reader_free(r);
        return s;
    }
    src->width = (int)r->w;
    src->height = (int)r->h;
    src->channels = r->channels;
    if (r->interlaced) {
        src->whole = r->im;
        r->im = NULL;
        png_reader_free(r);
        return DECONV_OK;
    }
    src->state = r;
    src->read = png_source_read;
    src->close = png_source_close;
    return DECONV_OK;
}

/* ------------------------------------------------------------------ */
/* PNG writing                                                          */
/* ------------------------------------------------------------------ */

typedef struct {
    png_io io;
    int width, channels, bits;
    const deconv_metadata *meta; /* or NULL; read while the file starts */
    png_structp png;
    png_infop info;
    unsigned char *row;
    unsigned char *iccp; /* the iCCP chunk's data */
} png_writer;

/* Whether an ICC profile is for the image's colour: PNG allows a gray
 * profile on gray images and an RGB one on colour images only. */
static int icc_fits(const unsigned char *icc, size_t size, int channels)
{
    if (size < 20)
        return 0;
    return channels <= 2 ? memcmp(icc + 16, "GRAY", 4) == 0 : memcmp(icc + 16, "RGB ", 4) == 0;
}

/* The metadata's chunks, before the image data: iCCP (the profile, when it
 * fits the image, compressed under the keyword "ICC profile"), eXIf, and
 * the text chunks as they were read. May longjmp (a write error): what it
 * allocates is kept in wr. */
static void png_write_metadata(png_writer *wr)
{
    const deconv_metadata *m = wr->meta;
    if (m->icc && icc_fits(m->icc, m->icc_size, wr->channels) &&
        m->icc_size < ((size_t)1 << 30)) {
        static const char keyword[] = "ICC profile";
        uLongf len = compressBound((uLong)m->icc_size);
        wr->iccp = malloc(sizeof keyword + 1 + len);
        if (!wr->iccp)
            png_error(wr->png, "out of memory");
        memcpy(wr->iccp, keyword, sizeof keyword); /* with its NUL */
        wr->iccp[sizeof keyword] = 0;              /* compression method: zlib */
        if (compress2(wr->iccp + sizeof keyword + 1, &len, m->icc, (uLong)m->icc_size, 9) != Z_OK)
            png_error(wr->png, "cannot compress the ICC profile");
        png_write_chunk(wr->png, (png_const_bytep) "iCCP", wr->iccp, sizeof keyword + 1 + len);
    }
    if (m->exif && m->exif_size > 0 && m->exif_size < ((size_t)1 << 30))
        png_write_chunk(wr->png, (png_const_bytep) "eXIf", m->exif, m->exif_size);
    for (int i = 0; i < m->text_count; i++)
        if (m->text[i].size < ((size_t)1 << 30))
            png_write_chunk(wr->png, (png_const_bytep)m->text[i].type, m->text[i].data,
                            m->text[i].size);
}

/* What a libpng error that longjmped back to a job means. */
static deconv_status png_write_failed(const png_writer *wr, deconv_error *err)
{
    if (wr->io.io_errno)
        return deconv_io_fail_errno(err, "write", wr->io.path, wr->io.io_errno);
    return deconv_fail(err, DECONV_ERR_IO, "cannot write '%s': %s", wr->io.path, wr->io.msg);
}

/* The jobs below call setjmp first thing, as the reading ones do. */

/* Everything before the rows: the header and the metadata. */
static deconv_status png_begin_job(png_writer *wr, int height, deconv_error *err)
{
    if (setjmp(png_jmpbuf(wr->png)))
        return png_write_failed(wr, err);
    static const int color_types[4] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                       PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    png_set_write_fn(wr->png, &wr->io, on_png_write, on_png_flush);
    png_set_user_limits(wr->png, 0x7fffffff, 0x7fffffff); /* default: 1e6 */
    png_set_IHDR(wr->png, wr->info, (png_uint_32)wr->width, (png_uint_32)height, wr->bits,
                 color_types[wr->channels - 1], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    /* zlib's level 4 (lazy matching, short chains): restored photos hold
     * noise, which long searches do not find matches in; a 12-megapixel
     * RGB restoration is written 2.9 s sooner than at level 6, and 2 %
     * larger (15.1 against 14.8 MB). Row filters stay libpng's default
     * (adaptive). */
    png_set_compression_level(wr->png, 4);
    png_write_info(wr->png, wr->info);
    if (wr->meta)
        png_write_metadata(wr);
    return DECONV_OK;
}

/* The next n rows from in (channel c's row i at in + c * plane + i * width),
 * rounded to the depth. */
static deconv_status png_rows_write_job(png_writer *wr, int n, const float *in, size_t plane,
                                        deconv_error *err)
{
    if (setjmp(png_jmpbuf(wr->png)))
        return png_write_failed(wr, err);
    int w = wr->width, ch = wr->channels;
    for (int i = 0; i < n; i++) {
        const float *src = in + (size_t)i * w;
        unsigned char *p = wr->row;
        if (wr->bits == 8) {
            for (int x = 0; x < w; x++)
                for (int c = 0; c < ch; c++)
                    *p++ = (unsigned char)deconv_io_quantize(src[c * plane + x], 255);
        } else {
            for (int x = 0; x < w; x++)
                for (int c = 0; c < ch; c++) {
                    unsigned v = deconv_io_quantize(src[c * plane + x], 65535);
                    *p++ = (unsigned char)(v >> 8);
                    *p++ = (unsigned char)(v & 0xff);
                }
        }
        png_write_row(wr->png, wr->row);
    }
    return DECONV_OK;
}

static deconv_status png_end_write_job(png_writer *wr, deconv_error *err)
{
    if (setjmp(png_jmpbuf(wr->png)))
        return png_write_failed(wr, err);
    png_write_end(wr->png, wr->info);
    return DECONV_OK;
}

static deconv_status png_sink_write(void *state, int rows, const float *in, size_t plane,
                                    deconv_error *err)
{
    return png_rows_write_job(state, rows, in, plane, err);
}

static deconv_status png_sink_finish(void *state, deconv_error *err)
{
    return png_end_write_job(state, err);
}

static void png_sink_close(void *state)
{
    png_writer *wr = state;
    if (wr->png)
        png_destroy_write_struct(&wr->png, wr->info ? &wr->info : NULL);
    free(wr->row);
    free(wr->iccp);
    free(wr);
}

deconv_status deconv_png_sink_open(const deconv_sink_spec *sp, deconv_row_sink *sink,
                                   deconv_error *err)
{
    int bits = sp->o->bits;
    png_writer *wr = calloc(1, sizeof *wr);
    if (!wr)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory writing '%s'", sp->path);
    wr->io.f = sp->f;
    wr->io.path = sp->path;
    wr->width = sp->width;
    wr->channels = sp->channels;
    wr->bits = bits;
    wr->meta = sp->o->metadata;
    wr->row = malloc((size_t)sp->width * (size_t)sp->channels * (size_t)(bits / 8));
    wr->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &wr->io, on_png_error, on_png_warning);
    if (wr->png)
        wr->info = png_create_info_struct(wr->png);
    deconv_status s;
    if (!wr->row || !wr->png || !wr->info)
        s = deconv_fail(err, DECONV_ERR_NOMEM, "out of memory writing '%s'", sp->path);
    else
        s = png_begin_job(wr, sp->height, err);
    wr->meta = NULL;
    if (s != DECONV_OK) {
        png_sink_close(wr);
        return s;
    }
    sink->state = wr;
    sink->write = png_sink_write;
    sink->finish = png_sink_finish;
    sink->close = png_sink_close;
    return DECONV_OK;
}

/* ------------------------------------------------------------------ */
/* PNM (P1-P6)                                                          */
/* ------------------------------------------------------------------ */

static int pnm_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Skip white space and '#' comments; return the next character, consumed. */
static int pnm_next(FILE *f)
{
    for (;;) {
        int c = getc(f);
        if (c == '#') {
            while ((c = getc(f)) != EOF && c != '\n' && c != '\r')
                ;
            continue;
        }
        if (!pnm_space(c))
            return c;
    }
}

/* A decimal number <= max. The character after it is left unread.
 * Returns 1, 0 (EOF first) or -1 (not a number or too large). */
static int pnm_number(FILE *f, unsigned long max, unsigned long *out)
{
    int c = pnm_next(f);
    if (c == EOF)
        return 0;
    if (c < '0' || c > '9')
        return -1;
    unsigned long v = 0;
    do {
        unsigned long d = (unsigned long)(c - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
        c = getc(f);
    } while (c >= '0' && c <= '9');
    ungetc(c, f);
    *out = v;
    return 1;
}

typedef struct {
    FILE *f;
    const char *path;
    int kind, plain, bitmap, channels, bytes;
    unsigned long w, maxval;
    size_t rowbytes;
    unsigned char *row; /* a binary row as stored */
    float lut[256];
} pnm_reader;

/* The next row into out (channel c's samples at out + c * plane). Returns
 * what makes the file corrupt, or NULL; a read error sets *read_errno. */
static const char *pnm_row(pnm_reader *r, float *out, size_t plane, int *read_errno)
{
    FILE *f = r->f;
    if (!r->plain) {
        errno = 0;
        if (fread(r->row, 1, r->rowbytes, f) != r->rowbytes) {
            if (!ferror(f))
                return "unexpected end of file";
            *read_errno = errno ? errno : EIO;
            return NULL;
        }
    }
    float scale = (float)r->maxval;
    for (size_t x = 0; x < r->w; x++) {
        for (int c = 0; c < r->channels; c++) {
            unsigned long v;
            if (r->kind == 1) {
                int ch = pnm_next(f);
                if (ch != '0' && ch != '1')
                    return ch == EOF ? "unexpected end of file" : "bad PBM sample";
                v = ch == '0'; /* PBM: 1 is black */
            } else if (r->kind == 4) {
                v = !((r->row[x / 8] >> (7 - x % 8)) & 1);
            } else if (r->plain) {
                int got = pnm_number(f, 65535, &v);
                if (got != 1)
                    return got == 0 ? "unexpected end of file" : "bad PNM sample";
            } else if (r->bytes == 1) {
                v = r->row[x * r->channels + c];
            } else {
                const unsigned char *p = r->row + 2 * (x * r->channels + c);
                v = (unsigned long)p[0] << 8 | p[1];
            }
            /* Samples above maxval break the format; they are clamped. */
            if (v > r->maxval)
                v = r->maxval;
            float s;
            if (r->bitmap)
                s = (float)v;
            else if (r->maxval == 255)
                s = r->lut[v];
            else
                s = (float)v / scale;
            out[c * plane + x] = s;
        }
    }
    return NULL;
}

static deconv_status pnm_source_read(void *state, int rows, float *out, size_t plane,
                                     deconv_error *err)
{
    pnm_reader *r = state;
    for (int i = 0; i < rows; i++) {
        int read_errno = 0;
        const char *problem = pnm_row(r, out + (size_t)i * r->w, plane, &read_errno);
        if (read_errno)
            return deconv_io_fail_errno(err, "read", r->path, read_errno);
        if (problem)
            return deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: %s", r->path, problem);
    }
    return DECONV_OK;
}

static void pnm_source_close(void *state)
{
    pnm_reader *r = state;
    free(r->row);
    free(r);
}

/* PNM, streamed a row at a time: the header here. */
static deconv_status open_pnm(const deconv_source_spec *sp, deconv_row_source *src,
                              deconv_error *err)
{
    FILE *f = sp->f;
    const char *path = sp->path;
    getc(f);
    int kind = getc(f) - '0'; /* 1..6, checked by the caller */
    int plain = kind <= 3, bitmap = kind == 1 || kind == 4;
    int channels = kind == 3 || kind == 6 ? 3 : 1;

    unsigned long w, h, maxval = 1;
    if (pnm_number(f, INT_MAX, &w) != 1 || pnm_number(f, INT_MAX, &h) != 1 ||
        (!bitmap && pnm_number(f, 65535, &maxval) != 1) || w == 0 || h == 0 || maxval == 0)
        return deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: bad PNM header", path);
    /* Exactly one white-space character ends the header. */
    if (!plain && !pnm_space(getc(f)))
        return deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: bad PNM header", path);
    deconv_status s = deconv_io_check_size(err, path, w, h, channels, sp->max_pixels);
    if (s != DECONV_OK)
        return s;

    pnm_reader *r = calloc(1, sizeof *r);
    if (!r)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", path);
    r->f = f;
    r->path = path;
    r->kind = kind;
    r->plain = plain;
    r->bitmap = bitmap;
    r->channels = channels;
    r->bytes = maxval > 255 ? 2 : 1;
    r->w = w;
    r->maxval = maxval;
    r->rowbytes = bitmap ? (w + 7) / 8 : (size_t)w * (size_t)channels * (size_t)r->bytes;
    fill_lut8(r->lut);
    if (!plain && !(r->row = malloc(r->rowbytes))) {
        pnm_source_close(r);
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    sp->fi->bits = r->bytes == 2 ? 16 : 8;
    sp->fi->has_alpha = 0;
    src->width = (int)w;
    src->height = (int)h;
    src->channels = channels;
    src->state = r;
    src->read = pnm_source_read;
    src->close = pnm_source_close;
    return DECONV_OK;
}

/* ------------------------------------------------------------------ */
/* Radiance HDR (RGBE)                                                  */
/* ------------------------------------------------------------------ */

/* One header line, without its '\n', into buf (longer lines are cut, but
 * read to their end). Returns 1, or 0 at the end of the file. */
static int hdr_line(FILE *f, char *buf, size_t size)
{
    size_t n = 0;
    int c;
    while ((c = getc(f)) != EOF && c != '\n')
        if (n + 1 < size)
            buf[n++] = (char)c;
    buf[n] = '\0';
    return c != EOF || n > 0;
}

/* A positive decimal of at most INT_MAX at *p, which moves past it. */
static int hdr_number(const char **p, unsigned long *out)
{
    const char *s = *p;
    unsigned long v = 0;
    if (*s < '0' || *s > '9')
        return 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > INT_MAX)
            return 0;
    }
    *p = s;
    *out = v;
    return v > 0;
}

typedef struct {
    FILE *f;
    const char *path;
    size_t w;
    int rle;            /* run-length scanlines (until the first says not) */
    size_t y;           /* rows read */
    unsigned char *row; /* RGBE pixels */
} hdr_reader;

/* The next scanline into r->row. Returns what makes the file corrupt, or
 * NULL. */
static const char *hdr_scanline(hdr_reader *r)
{
    FILE *f = r->f;
    size_t w = r->w, have = 0; /* bytes of row already filled (flat data) */
    unsigned char *row = r->row;
    if (r->rle) {
        unsigned char b[4];
        errno = 0;
        if (fread(b, 1, 4, f) != 4)
            return "unexpected end of file";
        if (b[0] == 2 && b[1] == 2 && !(b[2] & 0x80)) {
            if (((size_t)b[2] << 8 | b[3]) != w)
                return "a run-length scanline of the wrong length";
            /* four components, each as runs (count > 128: count - 128
             * copies of one byte) and dumps (count bytes) */
            for (int k = 0; k < 4; k++) {
                size_t x = 0;
                while (x < w) {
                    int count = getc(f), value = 0;
                    if (count == EOF)
                        return "unexpected end of file";
                    int run = count > 128;
                    if (run)
                        count -= 128;
                    if (count == 0)
                        continue; /* an empty dump: nothing, as in stb_image */
                    if ((size_t)count > w - x)
                        return "bad run-length data";
                    if (run && (value = getc(f)) == EOF)
                        return "unexpected end of file";
                    for (int z = 0; z < count; z++) {
                        if (!run && (value = getc(f)) == EOF)
                            return "unexpected end of file";
                        row[4 * x++ + k] = (unsigned char)value;
                    }
                }
            }
            have = 4 * w;
        } else if (r->y == 0) {
            r->rle = 0; /* flat data: these were the first pixel */
            memcpy(row, b, 4);
            have = 4;
        } else {
            return "a scanline that is not run-length encoded after one that is";
        }
    }
    if (have < 4 * w) {
        errno = 0;
        if (fread(row + have, 1, 4 * w - have, f) != 4 * w - have)
            return "unexpected end of file";
    }
    return NULL;
}

static deconv_status hdr_source_read(void *state, int rows, float *out, size_t plane,
                                     deconv_error *err)
{
    hdr_reader *r = state;
    for (int i = 0; i < rows; i++, r->y++) {
        const char *problem = hdr_scanline(r);
        if (problem && ferror(r->f))
            return deconv_io_fail_errno(err, "read", r->path, errno ? errno : EIO);
        if (problem)
            return deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: %s", r->path, problem);
        float *dst = out + (size_t)i * r->w;
        for (size_t x = 0; x < r->w; x++) {
            const unsigned char *px = r->row + 4 * x;
            float scale = px[3] ? (float)ldexp(1.0, px[3] - 136) : 0.0f;
            for (int c = 0; c < 3; c++) {
                float v = px[c] * scale;
                dst[c * plane + x] = v < 1.0f ? v : 1.0f;
            }
        }
    }
    return DECONV_OK;
}

static void hdr_source_close(void *state)
{
    hdr_reader *r = state;
    free(r->row);
    free(r);
}

/* The subset stb_image reads (and the one in use): "#?RADIANCE" or "#?RGBE",
 * header lines up to an empty one with FORMAT=32-bit_rle_rgbe among them,
 * "-Y height +X width", then flat RGBE pixels or, for widths 8 to 32767,
 * new-style run-length scanlines (a first scanline that does not start as
 * one means flat data, as in stb_image). Values are decoded as stb_image
 * does (mantissa * 2^(exponent - 136)); being linear and unbounded, they
 * are clamped to [0, 1]. Streamed a scanline at a time: the header here. */
static deconv_status open_hdr(const deconv_source_spec *sp, deconv_row_source *src,
                              deconv_error *err)
{
    FILE *f = sp->f;
    const char *path = sp->path;
    char line[1024];
    const char *problem = NULL;
    if (!hdr_line(f, line, sizeof line) ||
        (strcmp(line, "#?RADIANCE") != 0 && strcmp(line, "#?RGBE") != 0))
        return deconv_fail(err, DECONV_ERR_FORMAT,
                           "'%s' is not a supported image (" SUPPORTED_FORMATS ")", path);
    int rgbe_format = 0;
    for (;;) {
        if (!hdr_line(f, line, sizeof line)) {
            problem = "unexpected end of file in the header";
            break;
        }
        if (line[0] == '\0')
            break;
        if (strcmp(line, "FORMAT=32-bit_rle_rgbe") == 0)
            rgbe_format = 1;
    }
    unsigned long w = 0, h = 0;
    if (!problem && !rgbe_format)
        problem = "not FORMAT=32-bit_rle_rgbe";
    if (!problem) {
        const char *p = line;
        if (!hdr_line(f, line, sizeof line) || strncmp(line, "-Y ", 3) != 0)
            problem = "unsupported HDR orientation or size line (only -Y H +X W)";
        else {
            p += 3;
            while (*p == ' ')
                p++;
            int ok = hdr_number(&p, &h);
            while (*p == ' ')
                p++;
            ok = ok && strncmp(p, "+X ", 3) == 0;
            if (ok) {
                p += 3;
                while (*p == ' ')
                    p++;
                ok = hdr_number(&p, &w);
                while (*p == ' ' || *p == '\r')
                    p++;
            }
            if (!ok || *p != '\0')
                problem = "bad HDR size line";
        }
    }
    if (problem)
        return deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: %s", path, problem);
    deconv_status s = deconv_io_check_size(err, path, w, h, 3, sp->max_pixels);
    if (s != DECONV_OK)
        return s;
    hdr_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->row = malloc((size_t)w * 4))) {
        free(r);
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", path);
    }
    r->f = f;
    r->path = path;
    r->w = w;
    r->rle = w >= 8 && w < 32768;
    deconv_file_info *fi = sp->fi;
    fi->bits = 16; /* more precision than 8 bits: keep it in the output */
    fi->has_alpha = 0;
    deconv_response_linear(&fi->response); /* its values are light */
    snprintf(fi->response.name, sizeof fi->response.name, "linear (Radiance HDR)");
    src->width = (int)w;
    src->height = (int)h;
    src->channels = 3;
    src->state = r;
    src->read = hdr_source_read;
    src->close = hdr_source_close;
    return DECONV_OK;
}

/* ------------------------------------------------------------------ */
/* stb_image                                                            */
/* ------------------------------------------------------------------ */

/* Whether stb_image may take the file for a JPEG: it skips 0xFF fill bytes
 * before SOI (0xD8) as before any marker, so "FF FF FF D8" is one (found by
 * tests/fuzz: such a file escaped jpeg_check). A head of fill bytes only
 * may be one too. */
static int jpeg_like(const unsigned char *p, size_t n)
{
    size_t i = 0;
    if (n < 2 || p[0] != 0xFF)
        return 0;
    while (i < n && p[i] == 0xFF)
        i++;
    return i == n || p[i] == 0xD8;
}

/* The byte after the next 0xFF (and its fill bytes) of f, or EOF. */
static int next_marker(FILE *f)
{
    int c;
    do
        c = getc(f);
    while (c != EOF && c != 0xFF);
    while (c == 0xFF)
        c = getc(f);
    return c;
}

/* The next segment of a JPEG's header that has a length (markers without
 * one are passed): 1 with its marker in *marker, the length of its payload
 * in *len and f at the payload; 0 at the first scan (SOS), at the end (EOI),
 * or where the file ends or the length is impossible. */
static int next_segment(FILE *f, int *marker, long *len)
{
    for (;;) {
        int m = next_marker(f);
        if (m == EOF || m == 0xD9 || m == 0xDA) /* EOI, SOS */
            return 0;
        if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8))
            continue; /* no length */
        int hi = getc(f), lo = getc(f);
        if (hi == EOF || lo == EOF)
            return 0;
        *len = (long)(hi << 8 | lo) - 2;
        if (*len < 0)
            return 0;
        *marker = m;
        return 1;
    }
}

/* A JPEG's ICC profile: APP2 segments of "ICC_PROFILE\0", a sequence
 * number from 1, the count of segments, and that part of the profile,
 * before the first scan (ICC.1, annex B). The parts are put together in the
 * order of their numbers, whatever the order of the segments. Returns 1
 * with the profile in *icc (malloc'd) and its size in *size, 0 when there is
 * none, -1 when the segments do not make a profile (why says why), -2 when
 * out of memory. LittleCMS parses the profile (icc.c). */
static int jpeg_icc(FILE *f, unsigned char **icc, size_t *size, char *why, size_t why_size)
{
    unsigned char *part[256] = {NULL};
    size_t part_size[256] = {0};
    int count = 0, found = 0, status = 0;
    *icc = NULL;
    *size = 0;
    why[0] = '\0';
    if (fseek(f, 0, SEEK_SET) != 0) /* SOI, after any fill bytes, is the first marker */
        return 0;
    int marker;
    long len;
    while (status == 0 && next_segment(f, &marker, &len)) {
        unsigned char head[14];
        if (marker != 0xE2 || len < 14) {
            if (fseek(f, len, SEEK_CUR) != 0)
                break;
            continue;
        }
        if (fread(head, 1, sizeof head, f) != sizeof head) {
            break;
        }
        len -= 14;
        if (memcmp(head, "ICC_PROFILE", 12) != 0) { /* another APP2 */
            if (fseek(f, len, SEEK_CUR) != 0)
                break;
            continue;
        }
        int seq = head[12], n = head[13];
        found = 1;
        if (n == 0 || seq == 0 || seq > n) {
            snprintf(why, why_size, "an ICC profile marker numbered %d of %d", seq, n);
            status = -1;
        } else if (count && n != count) {
            snprintf(why, why_size, "the ICC profile's markers disagree on their count (%d, %d)",
                     count, n);
            status = -1;
        } else if (part[seq]) {
            snprintf(why, why_size, "ICC profile marker %d of %d appears twice", seq, n);
            status = -1;
        } else if (!(part[seq] = malloc(len ? (size_t)len : 1))) {
            status = -2;
        } else if (fread(part[seq], 1, (size_t)len, f) != (size_t)len) {
            snprintf(why, why_size, "the file ends inside ICC profile marker %d of %d", seq, n);
            status = -1;
        } else {
            count = n;
            part_size[seq] = (size_t)len;
        }
    }
    size_t total = 0;
    for (int i = 1; status == 0 && i <= count; i++) {
        if (!part[i]) {
            snprintf(why, why_size, "ICC profile marker %d of %d is missing", i, count);
            status = -1;
        }
        total += part_size[i];
    }
    if (status == 0 && found) {
        if (!(*icc = malloc(total ? total : 1))) {
            status = -2;
        } else {
            for (int i = 1; i <= count; i++) {
                memcpy(*icc + *size, part[i], part_size[i]);
                *size += part_size[i];
            }
            status = 1;
        }
    }
    for (int i = 0; i < 256; i++)
        free(part[i]);
    return status;
}

/* A JPEG's EXIF block: the first APP1 segment that starts "Exif\0\0",
 * before the first scan; what follows that header is the block. Returns 0
 * (whether there is one or not), -1 when out of memory. */
static int jpeg_exif(FILE *f, deconv_metadata *meta)
{
    if (fseek(f, 0, SEEK_SET) != 0)
        return 0;
    int marker;
    long len;
    while (next_segment(f, &marker, &len)) {
        unsigned char head[6];
        if (marker != 0xE1 || len < 6 + 8) {
            if (fseek(f, len, SEEK_CUR) != 0)
                return 0;
            continue;
        }
        if (fread(head, 1, 6, f) != 6)
            return 0;
        len -= 6;
        if (memcmp(head, "Exif\0\0", 6) != 0) { /* XMP, say */
            if (fseek(f, len, SEEK_CUR) != 0)
                return 0;
            continue;
        }
        unsigned char *block = malloc((size_t)len);
        if (!block)
            return -1;
        int r = 0;
        if (fread(block, 1, (size_t)len, f) == (size_t)len) /* else truncated: none */
            r = deconv_metadata_set_exif(meta, block, (size_t)len);
        free(block);
        return r;
    }
    return 0;
}

/* A colour JPEG's chroma subsampling from its frame header (SOFn): the
 * luma's sampling factors over those of the chroma components, which must
 * agree and divide them (1, 1 is 4:4:4, 2, 2 is 4:2:0). 0, 0 for a gray
 * JPEG, one whose factors do not say a plain subsampling, or no header. */
static void jpeg_chroma(FILE *f, int *cx, int *cy)
{
    *cx = *cy = 0;
    if (fseek(f, 0, SEEK_SET) != 0)
        return;
    int marker;
    long len;
    while (next_segment(f, &marker, &len)) {
        int sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
                  marker != 0xCC;
        if (!sof) {
            if (fseek(f, len, SEEK_CUR) != 0)
                return;
            continue;
        }
        unsigned char h[6 + 3 * 3];
        if (len < 6 || fread(h, 1, 6, f) != 6 || h[5] != 3 || len < 6 + 9 ||
            fread(h + 6, 1, 9, f) != 9)
            return;
        int h0 = h[7] >> 4, v0 = h[7] & 15;
        int h1 = h[10] >> 4, v1 = h[10] & 15, h2 = h[13] >> 4, v2 = h[13] & 15;
        if (h1 == 0 || v1 == 0 || h1 != h2 || v1 != v2 || h0 % h1 || v0 % v1)
            return;
        *cx = h0 / h1;
        *cy = v0 / v1;
        return;
    }
}

/* stb_image 2.27 decodes a JPEG scan with a Huffman table that no DHT
 * segment defined, from uninitialised memory (then reading wild addresses:
 * found by tests/fuzz), and writes past its tables on a DHT segment of more
 * than 256 codes. It also leaves uninitialised, and returns as pixels, the
 * quantization tables that no DQT segment defined and the components that
 * no scan starts (a first DC scan, or a baseline scan): found by tests/fuzz
 * reading a file twice. Walk the segments first and refuse all these;
 * anything else odd is left to stb_image. Returns what is wrong, or NULL. */
static const char *jpeg_check(FILE *f)
{
    int defined[2][4] = {{0}}; /* [DC, AC][table] */
    int quant[4] = {0};        /* DQT tables defined */
    int comps = 0, comp_id[4], comp_tq[4], started[4] = {0}; /* the frame's components */
    int progressive = 0, undefined_quant = 0, m = -1;
    if (fseek(f, 0, SEEK_SET) != 0) /* SOI, after any fill bytes, is the first marker */
        return NULL;
    for (;;) {
        if (m < 0) /* find the next marker; stray bytes are skipped */
            m = next_marker(f);
        int marker = m;
        m = -1;
        if (marker == EOF) /* truncated: stb_image's reading says so */
            return NULL;
        if (marker == 0xD9) { /* EOI; without it stb_image finds the file truncated */
            if (undefined_quant)
                return "a scan uses a quantization table that is not defined";
            for (int i = 0; i < comps; i++)
                if (!started[i])
                    return "a component that no scan codes";
            return NULL;
        }
        if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8))
            continue; /* no length */
        int hi = getc(f), lo = getc(f);
        if (hi == EOF || lo == EOF)
            return NULL;
        long len = (long)(hi << 8 | lo) - 2;
        if (len < 0)
            return NULL;
        if (marker == 0xC4) { /* DHT: tables of class tc (DC, AC), number th */
            while (len > 0) {
                int q = getc(f), n = 0;
                if (q == EOF || q >> 4 > 1 || (q & 15) > 3)
                    return NULL;
                for (int i = 0; i < 16; i++) {
                    int v = getc(f);
                    if (v == EOF)
                        return NULL;
                    n += v;
                }
                if (n > 256)
                    return "a Huffman table of more than 256 codes";
                for (int i = 0; i < n; i++)
                    if (getc(f) == EOF)
                        return NULL;
                defined[q >> 4][q & 15] = 1;
                len -= 17 + n;
            }
            continue;
        }
        if (marker == 0xDB) { /* DQT: tables of precision pq, number tq */
            while (len > 0) {
                int q = getc(f);
                if (q == EOF || q >> 4 > 1 || (q & 15) > 3)
                    return NULL;
                long size = q >> 4 ? 128 : 64;
                if (fseek(f, size, SEEK_CUR) != 0)
                    return NULL;
                quant[q & 15] = 1;
                len -= 1 + size;
            }
            continue;
        }
        if (marker >= 0xC0 && marker <= 0xC2) { /* SOF: components and their DQT tables */
            progressive = marker == 0xC2;
            unsigned char h[6];
            if (len < 6 || fread(h, 1, 6, f) != 6 || h[5] < 1 || h[5] > 4 || len < 6 + 3L * h[5])
                return NULL;
            comps = h[5];
            for (int i = 0; i < comps; i++) {
                comp_id[i] = getc(f);
                getc(f); /* sampling factors */
                if ((comp_tq[i] = getc(f)) == EOF || comp_tq[i] > 3)
                    return NULL;
            }
            if (fseek(f, len - 6 - 3L * comps, SEEK_CUR) != 0)
                return NULL;
            continue;
        }
        if (marker == 0xDA) { /* SOS: the tables its components use */
            int ns = getc(f), id[4], sel[4];
            if (ns < 1 || ns > 4 || len != 4 + 2L * ns)
                return NULL;
            for (int i = 0; i < ns; i++) {
                id[i] = getc(f);
                sel[i] = getc(f);
            }
            int ss = getc(f), se = getc(f), a = getc(f);
            if (sel[ns - 1] == EOF || ss == EOF || se == EOF || a == EOF)
                return NULL;
            for (int i = 0; i < ns; i++) {
                int td = sel[i] >> 4, ta = sel[i] & 15;
                if (td > 3 || ta > 3)
                    return NULL;
                /* progressive: a first DC scan decodes with DC tables (a
                 * refinement reads bits), AC scans with AC tables */
                int dc = progressive ? ss == 0 && a >> 4 == 0 : 1;
                int ac = progressive ? ss != 0 : 1;
                if ((dc && !defined[0][td]) || (ac && !defined[1][ta]))
                    return "a scan uses a Huffman table that is not defined";
            }
            for (int i = 0; i < ns; i++)
                for (int k = 0; k < comps; k++) {
                    if (comp_id[k] != id[i])
                        continue;
                    undefined_quant |= !quant[comp_tq[k]];
                    /* a baseline scan, or a first DC scan, sets every
                     * coefficient of its blocks */
                    started[k] |= ss == 0 && a >> 4 == 0;
                }
            /* the entropy-coded data, up to a marker other than a stuffed
             * zero or a restart */
            do
                m = next_marker(f);
            while (m == 0x00 || (m >= 0xD0 && m <= 0xD7));
            continue;
        }
        if (fseek(f, len, SEEK_CUR) != 0)
            return NULL;
    }
}

/* Formats recognisable by their first bytes (TGA has no signature). */
/* stb_image 2.27 keeps a BMP's palette in a 256-entry stack array and fills
 * only the entries the file holds: a pixel index past them reads
 * uninitialised memory (random colours), and so does every pixel when the
 * pixel data's offset lies inside the header (stb then counts a negative
 * palette; found by fuzz_image reading a file twice). Scan the indices of
 * uncompressed palette BMPs first, and refuse both. Returns what is wrong,
 * or NULL (anything else odd is left to stb_image). */
static const char *bmp_check(FILE *f, char *why, size_t why_size)
{
    unsigned char h[54];
    size_t got;
    if (fseek(f, 0, SEEK_SET) != 0 || (got = fread(h, 1, sizeof h, f)) < 26)
        return NULL;
    uint32_t offset = h[10] | h[11] << 8 | (uint32_t)h[12] << 16 | (uint32_t)h[13] << 24;
    uint32_t hsz = h[14] | h[15] << 8 | (uint32_t)h[16] << 16 | (uint32_t)h[17] << 24;
    int64_t w, rows;
    unsigned bpp;
    int32_t compression = 0; /* signed, as stb_image reads it */
    if (hsz == 12) { /* OS/2 core header: 16-bit sizes, 3-byte palette entries */
        w = h[18] | h[19] << 8;
        rows = h[20] | h[21] << 8;
        bpp = h[24] | h[25] << 8;
    } else {
        if (hsz < 40 || got < 34) /* a short header: stb_image's reading reports it */
            return NULL;
        w = (int32_t)(h[18] | h[19] << 8 | (uint32_t)h[20] << 16 | (uint32_t)h[21] << 24);
        int32_t ht = (int32_t)(h[22] | h[23] << 8 | (uint32_t)h[24] << 16 | (uint32_t)h[25] << 24);
        rows = ht < 0 ? -(int64_t)ht : ht;
        bpp = h[28] | h[29] << 8;
        compression =
            (int32_t)(h[30] | h[31] << 8 | (uint32_t)h[32] << 16 | (uint32_t)h[33] << 24);
    }
    /* stb_image refuses a palette BMP of any compression above 0, and takes
     * the negative ones for none */
    if ((bpp != 1 && bpp != 4 && bpp != 8) || compression > 0 || w <= 0 || rows <= 0)
        return NULL;
    /* stb's palette size, as it counts it: what lies between the header
     * (24 bytes for the OS/2 one of 12) and the pixels, rounded down */
    int64_t gap = (int64_t)offset - 14 - (hsz == 12 ? 24 : hsz);
    int64_t entries = hsz == 12 ? gap / 3 : gap >= 0 ? gap / 4 : -1;
    if (entries < 0)
        return "the pixel data starts inside the header";
    if (entries >= (1 << bpp))
        return NULL;
    int64_t row_bytes = (w * bpp + 31) / 32 * 4;
    if (row_bytes > (1 << 24) || fseek(f, (long)offset, SEEK_SET) != 0)
        return NULL;
    unsigned char *row = malloc((size_t)row_bytes);
    if (!row)
        return NULL;
    const char *problem = NULL;
    for (int64_t r = 0; r < rows && !problem; r++) {
        if (fread(row, 1, (size_t)row_bytes, f) != (size_t)row_bytes)
            break; /* a short file: stb_image's reading reports it */
        for (int64_t j = 0; j < w; j++) {
            int64_t bit = j * bpp;
            unsigned v = (row[bit / 8] >> (8 - bpp - bit % 8)) & ((1u << bpp) - 1);
            if (v >= entries) {
                snprintf(why, why_size, "pixel index %u is past the palette of %lld colours", v,
                         (long long)entries);
                problem = why;
                break;
            }
        }
    }
    free(row);
    return problem;
}

static int known_signature(const unsigned char *p, size_t n)
{
    return jpeg_like(p, n) ||                                               /* JPEG */
           (n >= 2 && p[0] == 'B' && p[1] == 'M') ||                        /* BMP */
           (n >= 4 && memcmp(p, "GIF8", 4) == 0) ||                         /* GIF */
           (n >= 4 && memcmp(p, "8BPS", 4) == 0);                           /* PSD */
}

static const char *stb_reason(void)
{
    const char *r = stbi_failure_reason(); /* thread-local in libstb */
    return r && *r ? r : "unknown error";
}

/* stb_image reads through these (as its _from_file functions do through
 * theirs) so that we see a request past the end of the file: stb_image then
 * goes on with zeros, or with whatever memory held. It asks for STB_REFILL
 * bytes at a time to fill its buffer, where a short count is normal at the
 * end; any other request is for bytes it needs, so a short count there, or
 * nothing at all for any request, means that the file is truncated. */
#define STB_REFILL 128 /* sizeof stbi__context.buffer_start in 2.27 */

typedef struct {
    FILE *f;
    int overrun;  /* asked for bytes past the end */
    int io_errno; /* a read failed */
} stb_io;

static int stb_read(void *user, char *data, int size)
{
    stb_io *io = user;
    if (size <= 0)
        return 0;
    errno = 0;
    size_t got = fread(data, 1, (size_t)size, io->f);
    if (got < (size_t)size && ferror(io->f) && !io->io_errno)
        io->io_errno = errno ? errno : EIO;
    if (got == 0 || (got < (size_t)size && size != STB_REFILL))
        io->overrun = 1;
    return (int)got;
}

static void stb_skip(void *user, int n)
{
    stb_io *io = user;
    if (n > 0 && fseek(io->f, n, SEEK_CUR) != 0 && !io->io_errno)
        io->io_errno = errno ? errno : EIO;
}

/* Whether the next read would find nothing. Not feof(): a skip (fseek)
 * clears it, and stb_image, which stops calling read once a read found
 * nothing, would then scan for a JPEG marker for ever (found by
 * tests/fuzz). */
static int stb_eof(void *user)
{
    stb_io *io = user;
    int c = getc(io->f);
    if (c == EOF)
        return 1;
    ungetc(c, io->f);
    return 0;
}

static const stbi_io_callbacks stb_callbacks = {stb_read, stb_skip, stb_eof};

/* Back to the start of the file for the next stb_image call. */
static int stb_rewind(stb_io *io)
{
    clearerr(io->f);
    io->overrun = 0;
    if (fseek(io->f, 0, SEEK_SET) != 0) {
        io->io_errno = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

static deconv_image *read_stb(FILE *f, const char *path, const unsigned char *head, size_t n,
                              int64_t max_pixels, deconv_file_info *fi, deconv_metadata *meta,
                              deconv_error *err)
{
    /* stb_image would also read Softimage PIC, which is not one of ours. */
    if (n >= 4 && memcmp(head, "S\x80\xf6\x34", 4) == 0) {
        deconv_fail(err, DECONV_ERR_FORMAT,
                    "'%s' is not a supported image (" SUPPORTED_FORMATS ")", path);
        return NULL;
    }
    if (jpeg_like(head, n)) {
        const char *problem = jpeg_check(f);
        if (problem) {
            deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: %s", path, problem);
            return NULL;
        }
    }
    if (n >= 2 && head[0] == 'B' && head[1] == 'M') {
        char why[96];
        const char *problem = bmp_check(f, why, sizeof why);
        if (problem) {
            deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: %s", path, problem);
            return NULL;
        }
    }
    stb_io io = {f, 0, 0};
    int w, h, comp;
    if (stb_rewind(&io) || !stbi_info_from_callbacks(&stb_callbacks, &io, &w, &h, &comp)) {
        if (io.io_errno)
            deconv_io_fail_errno(err, "read", path, io.io_errno);
        else if (known_signature(head, n))
            deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: %s", path, stb_reason());
        else
            deconv_fail(err, DECONV_ERR_FORMAT,
                        "'%s' is not a supported image (" SUPPORTED_FORMATS ")", path);
        return NULL;
    }
    if (w <= 0 || h <= 0) {
        deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: image of %d x %d", path, w, h);
        return NULL;
    }
    if (deconv_io_check_size(err, path, (uint64_t)w, (uint64_t)h, 4, max_pixels) != DECONV_OK)
        return NULL;

    int wide = stb_rewind(&io) == 0 && stbi_is_16_bit_from_callbacks(&stb_callbacks, &io);
    void *pixels = NULL;
    int lw, lh, lc;
    if (stb_rewind(&io) == 0) {
        if (wide)
            pixels = stbi_load_16_from_callbacks(&stb_callbacks, &io, &lw, &lh, &lc, 0);
        else
            pixels = stbi_load_from_callbacks(&stb_callbacks, &io, &lw, &lh, &lc, 0);
    }
    if (!pixels || io.overrun || io.io_errno) {
        const char *reason = stb_reason();
        if (io.io_errno)
            deconv_io_fail_errno(err, "read", path, io.io_errno);
        else if (pixels)
            deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: unexpected end of file", path);
        else if (strcmp(reason, "outofmem") == 0)
            deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", path);
        else
            deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: %s", path, reason);
        stbi_image_free(pixels);
        return NULL;
    }
    deconv_image *im = NULL;
    if (lw <= 0 || lh <= 0 || lc < 1 || lc > 4) {
        deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: image of %d x %d x %d", path, lw,
                    lh, lc);
    } else if (deconv_io_check_size(err, path, (uint64_t)lw, (uint64_t)lh, lc, max_pixels) ==
               DECONV_OK) {
        im = deconv_io_new_image(err, path, lw, lh, lc);
    }
    if (!im) {
        stbi_image_free(pixels);
        return NULL;
    }

    size_t plane = (size_t)lw * lh;
    float *out = im->data;
    if (wide) {
        const stbi_us *p = pixels;
        for (size_t i = 0; i < plane; i++)
            for (int c = 0; c < lc; c++)
                out[c * plane + i] = from16(p[i * lc + c]);
    } else {
        float lut[256];
        fill_lut8(lut);
        const stbi_uc *p = pixels;
        for (size_t i = 0; i < plane; i++)
            for (int c = 0; c < lc; c++)
                out[c * plane + i] = lut[p[i * lc + c]];
    }
    stbi_image_free(pixels);
    fi->bits = wide ? 16 : 8;
    fi->has_alpha = lc == 2 || lc == 4;
    /* BMP, TGA, GIF and PSD stay untagged (sRGB); a JPEG may carry an ICC
     * profile (EXIF's colour space tag is not read) */
    if (jpeg_like(head, n)) {
        clearerr(f);
        jpeg_chroma(f, &fi->chroma_x, &fi->chroma_y);
        unsigned char *icc;
        size_t icc_size;
        char why[128];
        clearerr(f);
        int got = jpeg_icc(f, &icc, &icc_size, why, sizeof why);
        int nomem = got == -2;
        if (got == 1) {
            deconv_io_set_from_icc(fi, icc, icc_size, "the ICC profile (APP2 markers)");
            nomem = meta && deconv_metadata_set_icc(meta, icc, icc_size) != 0;
        } else if (got == -1) {
            set_assumed_srgb(fi);
            deconv_io_add_warning(
                fi, "the ICC profile (APP2 markers) cannot be used: %s; assuming sRGB", why);
        }
        free(icc);
        if (!nomem && meta) {
            clearerr(f);
            nomem = jpeg_exif(f, meta) != 0;
        }
        if (nomem) {
            deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", path);
            deconv_image_free(im);
            im = NULL;
        }
    }
    return im;
}

/* ------------------------------------------------------------------ */
/* Entry point                                                          */
/* ------------------------------------------------------------------ */

deconv_status deconv_source_open(const deconv_source_spec *sp, deconv_row_source *src,
                                 deconv_error *err)
{
    memset(src, 0, sizeof *src);
    const unsigned char *head = sp->head;
    size_t n = sp->n;
    if (n >= 8 && png_sig_cmp(head, 0, 8) == 0)
        return open_png(sp, src, err);
    if (n >= 4 && png_sig_cmp(head, 0, n) == 0)
        return deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: unexpected end of file",
                           sp->path);
    if (n >= 2 && head[0] == 'P' && head[1] >= '1' && head[1] <= '6')
        return open_pnm(sp, src, err);
    if (n >= 2 && head[0] == '#' && head[1] == '?')
        return open_hdr(sp, src, err);
    if (deconv_tiff_signature(head, n))
        return deconv_tiff_source_open(sp, src, err);
    deconv_image *im = read_stb(sp->f, sp->path, head, n, sp->max_pixels, sp->fi, sp->meta, err);
    if (!im)
        return err->code;
    deconv_source_whole(src, im);
    return DECONV_OK;
}
