/* TIFF files through libtiff.
 *
 * Reading takes the first image of the file. 8- and 16-bit unsigned and
 * 32-bit float samples, gray or RGB with or without alpha, in strips or
 * tiles, contiguous or in separate planes, are read a scanline or a tile at
 * a time (TIFFReadScanline, TIFFReadTile), which keeps 16-bit and float
 * precision; what only libtiff's RGBA interface decodes (palette, 1/2/4-bit
 * gray, YCbCr, CMYK) is read through it as 8 bits, the last resort. A float
 * file holds light: its samples are kept unclamped and its curve is
 * linear. Otherwise an ICC profile tag gives the curve (as a PNG's iCCP
 * does), and an untagged file is sRGB.
 *
 * Writing: 8/16-bit unsigned or 32-bit float samples (unclamped), gray or
 * RGB with unassociated alpha, Deflate with the horizontal (integer) or
 * floating-point predictor, in strips of about 256 KiB; BigTIFF when the
 * file could pass 4 GiB. Through the atomic writer, as every output.
 *
 * libtiff reports through handlers that each TIFF gets when it is opened
 * (TIFFOpenOptions, libtiff 4.5): they keep the first error and warning in
 * the call's own tiff_io and tell libtiff the message was handled, so it
 * prints nothing and no global handler is involved; every call may run on
 * its own thread. The file is accessed through our callbacks: on the
 * caller's FILE for reading, on the atomic file's descriptor for writing. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <tiffio.h>

#include "imageio.h"
#include "response.h"

typedef struct {
    FILE *f;       /* reading */
    int fd;        /* writing */
    int io_errno;  /* a read or write failed with this errno */
    char msg[256]; /* libtiff's first error */
} tiff_io;

static int on_tiff_error(TIFF *tif, void *user, const char *module, const char *fmt,
                         va_list ap)
{
    (void)tif;
    (void)module;
    tiff_io *io = user;
    if (io && !io->msg[0])
        vsnprintf(io->msg, sizeof io->msg, fmt, ap);
    return 1; /* handled: nothing printed */
}

static int on_tiff_warning(TIFF *tif, void *user, const char *module, const char *fmt,
                           va_list ap)
{
    (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
    return 1; /* unknown tags and the like: not the user's concern */
}

/* ------------------------------------------------------------------ */
/* I/O callbacks                                                        */
/* ------------------------------------------------------------------ */

static tmsize_t on_read_file(thandle_t h, void *buf, tmsize_t n)
{
    tiff_io *io = h;
    if (n <= 0)
        return 0;
    errno = 0;
    size_t got = fread(buf, 1, (size_t)n, io->f);
    if (got < (size_t)n && ferror(io->f) && !io->io_errno)
        io->io_errno = errno ? errno : EIO;
    return (tmsize_t)got;
}

static tmsize_t on_write_none(thandle_t h, void *buf, tmsize_t n)
{
    (void)h, (void)buf, (void)n;
    return -1;
}

static toff_t on_seek_file(thandle_t h, toff_t off, int whence)
{
    tiff_io *io = h;
    if (off > (toff_t)INT64_MAX)
        return (toff_t)-1;
    clearerr(io->f);
    if (fseeko(io->f, (off_t)off, whence) != 0)
        return (toff_t)-1;
    off_t at = ftello(io->f);
    return at < 0 ? (toff_t)-1 : (toff_t)at;
}

static toff_t on_size_file(thandle_t h)
{
    tiff_io *io = h;
    struct stat st;
    return fstat(fileno(io->f), &st) == 0 ? (toff_t)st.st_size : 0;
}

static int on_close(thandle_t h)
{
    (void)h; /* the caller closes (or commits) the file */
    return 0;
}

static int on_map(thandle_t h, void **base, toff_t *size)
{
    (void)h, (void)base, (void)size;
    return 0; /* no memory mapping */
}

static void on_unmap(thandle_t h, void *base, toff_t size) { (void)h, (void)base, (void)size; }

static tmsize_t on_read_fd(thandle_t h, void *buf, tmsize_t n)
{
    tiff_io *io = h;
    size_t done = 0;
    while (n > 0 && done < (size_t)n) {
        ssize_t r = read(io->fd, (char *)buf + done, (size_t)n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        done += (size_t)r;
    }
    return (tmsize_t)done;
}

static tmsize_t on_write_fd(thandle_t h, void *buf, tmsize_t n)
{
    tiff_io *io = h;
    size_t done = 0;
    while (n > 0 && done < (size_t)n) {
        ssize_t w = write(io->fd, (const char *)buf + done, (size_t)n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (!io->io_errno)
                io->io_errno = w < 0 ? errno : EIO;
            return -1;
        }
        done += (size_t)w;
    }
    return (tmsize_t)done;
}

static toff_t on_seek_fd(thandle_t h, toff_t off, int whence)
{
    tiff_io *io = h;
    if (off > (toff_t)INT64_MAX)
        return (toff_t)-1;
    off_t at = lseek(io->fd, (off_t)off, whence);
    return at < 0 ? (toff_t)-1 : (toff_t)at;
}

static toff_t on_size_fd(thandle_t h)
{
    tiff_io *io = h;
    struct stat st;
    return fstat(io->fd, &st) == 0 ? (toff_t)st.st_size : 0;
}

/* Open with our handlers; mode "r", "w" or "w8" (BigTIFF). max_alloc > 0
 * bounds any one allocation libtiff makes for the file. */
static TIFF *tiff_open(const char *path, const char *mode, tiff_io *io, tmsize_t max_alloc)
{
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts)
        return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_tiff_error, io);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_tiff_warning, io);
    if (max_alloc > 0)
        TIFFOpenOptionsSetMaxSingleMemAlloc(opts, max_alloc);
    char m[8];
    snprintf(m, sizeof m, "%sm", mode); /* m: no memory mapping */
    TIFF *tif;
    if (io->f)
        tif = TIFFClientOpenExt(path, m, (thandle_t)io, on_read_file, on_write_none,
                                on_seek_file, on_close, on_size_file, on_map, on_unmap, opts);
    else
        tif = TIFFClientOpenExt(path, m, (thandle_t)io, on_read_fd, on_write_fd, on_seek_fd,
                                on_close, on_size_fd, on_map, on_unmap, opts);
    TIFFOpenOptionsFree(opts); /* TIFFClientOpenExt copies what it needs */
    return tif;
}

int deconv_tiff_signature(const unsigned char *p, size_t n)
{
    if (n < 4)
        return 0;
    return (p[0] == 'I' && p[1] == 'I' && (p[2] == 42 || p[2] == 43) && p[3] == 0) ||
           (p[0] == 'M' && p[1] == 'M' && p[2] == 0 && (p[3] == 42 || p[3] == 43));
}

/* ------------------------------------------------------------------ */
/* Reading                                                              */
/* ------------------------------------------------------------------ */

typedef struct {
    TIFF *tif;
    const char *path;
    tiff_io *io;
    uint32_t w, h;
    uint16_t spp, bps, format, photometric, planar;
    int channels;  /* of the image made: spp */
    int invert;    /* MINISWHITE */
    int associated; /* the alpha is premultiplied */
    deconv_image *im;
    unsigned char *buf;
    deconv_metadata *meta; /* NULL: not wanted */
} tiff_reader;

static deconv_status tiff_corrupt(const tiff_reader *r, deconv_error *err, const char *what)
{
    if (r->io->io_errno)
        return deconv_io_fail_errno(err, "read", r->path, r->io->io_errno);
    return deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: %s", r->path,
                       r->io->msg[0] ? r->io->msg : what);
}

/* n samples of a row (or a tile's row) at src, stride samples apart, to
 * dst as floats: 8/16-bit unsigned or 32-bit float, native byte order.
 * Returns 0, or -1 on a NaN or infinite float. */
static int tiff_samples(const tiff_reader *r, const unsigned char *src, size_t stride, size_t n,
                        float *dst)
{
    if (r->bps == 8) {
        for (size_t i = 0; i < n; i++)
            dst[i] = (float)src[i * stride] / 255.0f;
    } else if (r->bps == 16) {
        for (size_t i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, src + 2 * i * stride, 2);
            dst[i] = (float)v / 65535.0f;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            float v;
            memcpy(&v, src + 4 * i * stride, 4);
            if (!isfinite(v))
                return -1;
            dst[i] = v;
        }
    }
    return 0;
}

static deconv_status tiff_bad_float(const tiff_reader *r, deconv_error *err)
{
    return deconv_fail(err, DECONV_ERR_FORMAT,
                       "'%s' holds NaN or infinite samples, which cannot be restored", r->path);
}

static deconv_status tiff_read_strips(tiff_reader *r, deconv_error *err)
{
    int separate = r->planar == PLANARCONFIG_SEPARATE && r->spp > 1;
    size_t bytes = r->bps / 8, per_row = separate ? 1 : r->spp;
    tmsize_t line = TIFFScanlineSize(r->tif);
    if (line <= 0 || (uint64_t)line < (uint64_t)r->w * per_row * bytes)
        return tiff_corrupt(r, err, "bad scanline size");
    if (!(r->buf = malloc((size_t)line)))
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", r->path);
    size_t plane = (size_t)r->w * r->h;
    for (uint16_t s = 0; s < (separate ? r->spp : 1); s++)
        for (uint32_t y = 0; y < r->h; y++) {
            if (TIFFReadScanline(r->tif, r->buf, y, s) < 0)
                return tiff_corrupt(r, err, "cannot read a scanline");
            for (int c = 0; c < (separate ? 1 : r->spp); c++) {
                int ch = separate ? s : c;
                float *dst = r->im->data + ch * plane + (size_t)y * r->w;
                if (tiff_samples(r, r->buf + c * bytes, per_row, r->w, dst))
                    return tiff_bad_float(r, err);
            }
        }
    return DECONV_OK;
}

static deconv_status tiff_read_tiles(tiff_reader *r, deconv_error *err)
{
    uint32_t tw = 0, th = 0;
    if (!TIFFGetField(r->tif, TIFFTAG_TILEWIDTH, &tw) ||
        !TIFFGetField(r->tif, TIFFTAG_TILELENGTH, &th) || tw == 0 || th == 0)
        return tiff_corrupt(r, err, "bad tile size");
    int separate = r->planar == PLANARCONFIG_SEPARATE && r->spp > 1;
    size_t bytes = r->bps / 8, per_px = separate ? 1 : r->spp;
    tmsize_t size = TIFFTileSize(r->tif);
    if (size <= 0 || (uint64_t)size < (uint64_t)tw * th * per_px * bytes)
        return tiff_corrupt(r, err, "bad tile size");
    if (!(r->buf = malloc((size_t)size)))
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", r->path);
    size_t plane = (size_t)r->w * r->h;
    for (uint16_t s = 0; s < (separate ? r->spp : 1); s++)
        for (uint32_t y0 = 0; y0 < r->h; y0 += th)
            for (uint32_t x0 = 0; x0 < r->w; x0 += tw) {
                if (TIFFReadTile(r->tif, r->buf, x0, y0, 0, s) < 0)
                    return tiff_corrupt(r, err, "cannot read a tile");
                uint32_t nx = r->w - x0 < tw ? r->w - x0 : tw;
                uint32_t ny = r->h - y0 < th ? r->h - y0 : th;
                for (uint32_t ty = 0; ty < ny; ty++) {
                    const unsigned char *row = r->buf + (size_t)ty * tw * per_px * bytes;
                    for (int c = 0; c < (separate ? 1 : r->spp); c++) {
                        int ch = separate ? s : c;
                        float *dst = r->im->data + ch * plane + (size_t)(y0 + ty) * r->w + x0;
                        if (tiff_samples(r, row + c * bytes, per_px, nx, dst))
                            return tiff_bad_float(r, err);
                    }
                }
            }
    return DECONV_OK;
}

/* The last resort: libtiff's RGBA interface, 8 bits, in the stored
 * orientation (asked for the file's own, it flips nothing). */
static deconv_status tiff_read_rgba(tiff_reader *r, deconv_error *err)
{
    uint16_t orientation = ORIENTATION_TOPLEFT;
    TIFFGetFieldDefaulted(r->tif, TIFFTAG_ORIENTATION, &orientation);
    if (orientation < 1 || orientation > 8)
        orientation = ORIENTATION_TOPLEFT;
    size_t plane = (size_t)r->w * r->h;
    uint32_t *raster = malloc(plane * sizeof *raster);
    if (!raster)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", r->path);
    r->buf = (unsigned char *)raster;
    if (!TIFFReadRGBAImageOriented(r->tif, r->w, r->h, raster, orientation, 1))
        return tiff_corrupt(r, err, "cannot decode the image");
    int colour = deconv_color_channels(r->channels), alpha = r->channels - colour;
    for (size_t i = 0; i < plane; i++) {
        uint32_t p = raster[i];
        if (colour == 1) {
            r->im->data[i] = (float)TIFFGetR(p) / 255.0f;
        } else {
            r->im->data[i] = (float)TIFFGetR(p) / 255.0f;
            r->im->data[plane + i] = (float)TIFFGetG(p) / 255.0f;
            r->im->data[2 * plane + i] = (float)TIFFGetB(p) / 255.0f;
        }
        if (alpha)
            r->im->data[colour * plane + i] = (float)TIFFGetA(p) / 255.0f;
    }
    return DECONV_OK;
}

/* Premultiplied colour back to straight colour; MINISWHITE to black at 0. */
static void tiff_finish(tiff_reader *r)
{
    size_t plane = (size_t)r->w * r->h;
    int colour = deconv_color_channels(r->channels);
    float *d = r->im->data;
    if (r->invert)
        for (size_t i = 0; i < plane * colour; i++)
            d[i] = 1.0f - d[i];
    if (r->associated && colour < r->channels) {
        const float *a = d + colour * plane;
        for (size_t i = 0; i < plane; i++) {
            if (!(a[i] > 0.0f))
                continue;
            for (int c = 0; c < colour; c++) {
                float v = d[c * plane + i] / a[i];
                d[c * plane + i] = r->bps == 32 || v < 1.0f ? v : 1.0f;
            }
        }
    }
}

#define EXIF_IFD_ENTRIES 256
#define EXIF_IFD_BYTES 48000 /* with 256 entries, well within one JPEG marker */

/* The EXIF IFD of a classic TIFF, read from the file at off (libtiff's
 * TIFFTAG_EXIFIFD), as entries with little-endian values for
 * deconv_exif_make, in tag order; *values holds their bytes (to free). Up
 * to EXIF_IFD_ENTRIES entries and EXIF_IFD_BYTES bytes of values; left
 * out: pointers to other IFDs (interoperability) and the maker note, whose
 * offsets would not survive the move, and entries of unknown types.
 * Returns the count (0: none, or the IFD cannot be read), -1 when out of
 * memory. */
static int tiff_exif_ifd(FILE *f, uint64_t off, int big_endian, deconv_exif_entry *e,
                         unsigned char **values)
{
    static const unsigned char type_size[13] = {0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8};
    *values = NULL;
    unsigned char c[2];
    if (off > (uint64_t)INT64_MAX || fseeko(f, (off_t)off, SEEK_SET) != 0 ||
        fread(c, 1, 2, f) != 2)
        return 0;
    unsigned count = big_endian ? (unsigned)(c[0] << 8 | c[1]) : (unsigned)(c[1] << 8 | c[0]);
    if (count == 0 || count > 1000)
        return 0;
    unsigned char *raw = malloc(12 * (size_t)count);
    if (!raw)
        return -1;
    if (fread(raw, 12, count, f) != count) {
        free(raw);
        return 0;
    }
    unsigned char *buf = malloc(EXIF_IFD_BYTES);
    if (!buf) {
        free(raw);
        return -1;
    }
    size_t used = 0;
    int n = 0;
    for (unsigned i = 0; i < count && n < EXIF_IFD_ENTRIES; i++) {
        const unsigned char *r = raw + 12 * i;
        unsigned tag = big_endian ? (unsigned)(r[0] << 8 | r[1]) : (unsigned)(r[1] << 8 | r[0]);
        unsigned type = big_endian ? (unsigned)(r[2] << 8 | r[3]) : (unsigned)(r[3] << 8 | r[2]);
        uint32_t n_values = 0, offset = 0;
        for (int k = 0; k < 4; k++) {
            int shift = big_endian ? 8 * (3 - k) : 8 * k;
            n_values |= (uint32_t)r[4 + k] << shift;
            offset |= (uint32_t)r[8 + k] << shift;
        }
        if (type < 1 || type > 12 || tag == 0xA005 || tag == 0x927C || n_values == 0)
            continue;
        uint64_t size = (uint64_t)n_values * type_size[type];
        if (size > EXIF_IFD_BYTES - used)
            continue;
        unsigned char *dst = buf + used;
        if (size <= 4)
            memcpy(dst, r + 8, (size_t)size);
        else if (fseeko(f, (off_t)offset, SEEK_SET) != 0 || fread(dst, 1, (size_t)size, f) != size)
            continue;
        /* to little-endian: each element, a rational's two halves apart */
        size_t elem = type == 5 || type == 10 ? 4 : type_size[type];
        if (big_endian && elem > 1)
            for (size_t at = 0; at + elem <= size; at += elem)
                for (size_t a = at, b = at + elem - 1; a < b; a++, b--) {
                    unsigned char t = dst[a];
                    dst[a] = dst[b];
                    dst[b] = t;
                }
        e[n++] = (deconv_exif_entry){tag, type, n_values, dst, (size_t)size};
        used += (size_t)size;
    }
    free(raw);
    for (int i = 1; i < n; i++) /* in tag order, as an IFD must be */
        for (int j = i; j > 0 && e[j - 1].tag > e[j].tag; j--) {
            deconv_exif_entry t = e[j];
            e[j] = e[j - 1];
            e[j - 1] = t;
        }
    if (n == 0)
        free(buf);
    else
        *values = buf;
    return n;
}

/* The metadata a TIFF carries: its ICC profile, and its orientation, text
 * tags and EXIF IFD made into an EXIF block (what JPEG and PNG outputs
 * take). Returns 0, or -1 when out of memory. */
static int tiff_metadata(TIFF *tif, FILE *f, const void *icc, uint32_t icc_size,
                         deconv_metadata *m)
{
    if (icc && deconv_metadata_set_icc(m, icc, icc_size) != 0)
        return -1;
    uint16_t orientation = 0;
    if (!TIFFGetField(tif, TIFFTAG_ORIENTATION, &orientation) || orientation > 8)
        orientation = 0;
    const char *text[DECONV_EXIF_TEXT_TAGS] = {NULL};
    int any = orientation != 0;
    for (int i = 0; i < DECONV_EXIF_TEXT_TAGS; i++) {
        char *v = NULL;
        if (TIFFGetField(tif, deconv_exif_text_tags[i], &v) && v && v[0]) {
            text[i] = v;
            any = 1;
        }
    }
    deconv_exif_entry sub[EXIF_IFD_ENTRIES];
    unsigned char *sub_values = NULL;
    int nsub = 0;
    uint64_t exif_ifd = 0;
    if (!TIFFIsBigTIFF(tif) && TIFFGetField(tif, TIFFTAG_EXIFIFD, &exif_ifd) && exif_ifd) {
        nsub = tiff_exif_ifd(f, exif_ifd, TIFFIsBigEndian(tif), sub, &sub_values);
        if (nsub < 0)
            return -1;
        any |= nsub > 0;
    }
    if (!any)
        return 0;
    float resolution = 0;
    uint16_t unit = RESUNIT_INCH;
    TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &unit);
    if (!TIFFGetField(tif, TIFFTAG_XRESOLUTION, &resolution) || unit != RESUNIT_INCH)
        resolution = 0; /* per centimetre or unknown: EXIF's default */
    size_t size = 0;
    unsigned char *exif = deconv_exif_make(orientation, text, resolution, sub, nsub, &size);
    free(sub_values);
    if (!exif)
        return -1;
    free(m->exif);
    m->exif = exif;
    m->exif_size = size;
    m->orientation = orientation;
    return 0;
}

static deconv_status tiff_read_job(tiff_reader *r, int64_t max_pixels, deconv_file_info *fi,
                                   deconv_error *err)
{
    TIFF *tif = r->tif;
    const char *path = r->path;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &r->w) ||
        !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &r->h) || r->w == 0 || r->h == 0)
        return tiff_corrupt(r, err, "no image size");
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &r->spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &r->bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &r->format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &r->planar);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &r->photometric))
        r->photometric = r->spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
    uint16_t nextra = 0, *extra = NULL;
    TIFFGetFieldDefaulted(tif, TIFFTAG_EXTRASAMPLES, &nextra, &extra);

    if (r->format == SAMPLEFORMAT_INT || r->format == SAMPLEFORMAT_COMPLEXINT ||
        r->format == SAMPLEFORMAT_COMPLEXIEEEFP)
        return deconv_fail(err, DECONV_ERR_FORMAT,
                           "'%s': %s samples are not supported (unsigned 8 or 16 bits, or 32-bit "
                           "float)",
                           path,
                           r->format == SAMPLEFORMAT_INT ? "signed integer" : "complex");
    if (r->format == SAMPLEFORMAT_IEEEFP && r->bps != 32)
        return deconv_fail(err, DECONV_ERR_FORMAT,
                           "'%s': %d-bit float samples are not supported (32-bit float only)",
                           path, r->bps);
    if (r->format != SAMPLEFORMAT_IEEEFP && r->bps > 16)
        return deconv_fail(err, DECONV_ERR_FORMAT,
                           "'%s': %d-bit integer samples are not supported (8 or 16 bits)", path,
                           r->bps);
    if (r->spp < 1 || r->bps < 1)
        return tiff_corrupt(r, err, "no samples");

    int is_float = r->format == SAMPLEFORMAT_IEEEFP;
    int gray = r->photometric == PHOTOMETRIC_MINISBLACK || r->photometric == PHOTOMETRIC_MINISWHITE;
    int rgb = r->photometric == PHOTOMETRIC_RGB;
    int direct = (r->bps == 8 || r->bps == 16 || is_float) &&
                 ((gray && r->spp <= 2) || (rgb && (r->spp == 3 || r->spp == 4)));
    if (is_float && !direct)
        return deconv_fail(err, DECONV_ERR_FORMAT,
                           "'%s': float samples are supported in gray or RGB (with or without "
                           "alpha) only, not %d samples of photometric %d",
                           path, r->spp, r->photometric);
    if (direct) {
        r->channels = r->spp;
        r->invert = r->photometric == PHOTOMETRIC_MINISWHITE;
        r->associated = nextra == 1 && extra && extra[0] == EXTRASAMPLE_ASSOCALPHA &&
                        (r->spp == 2 || r->spp == 4);
    } else {
        char why[1024];
        if (!TIFFRGBAImageOK(tif, why))
            return deconv_fail(err, DECONV_ERR_FORMAT, "'%s': unsupported TIFF layout: %s", path,
                               why);
        int alpha = nextra > 0 && r->photometric != PHOTOMETRIC_PALETTE;
        r->channels = (gray ? 1 : 3) + alpha;
    }
    deconv_status s = deconv_io_check_size(err, path, r->w, r->h, r->channels, max_pixels);
    if (s != DECONV_OK)
        return s;
    if (!(r->im = deconv_io_new_image(err, path, (int)r->w, (int)r->h, r->channels)))
        return DECONV_ERR_NOMEM;
    if (!direct)
        s = tiff_read_rgba(r, err);
    else if (TIFFIsTiled(tif))
        s = tiff_read_tiles(r, err);
    else
        s = tiff_read_strips(r, err);
    if (s != DECONV_OK)
        return s;
    tiff_finish(r);

    fi->bits = is_float ? 32 : r->bps == 16 && direct ? 16 : 8;
    fi->has_alpha = r->channels == 2 || r->channels == 4;
    uint32_t icc_size = 0;
    void *icc = NULL;
    int has_icc = TIFFGetField(tif, TIFFTAG_ICCPROFILE, &icc_size, &icc) && icc && icc_size > 0;
    if (r->meta && tiff_metadata(tif, r->io->f, has_icc ? icc : NULL, icc_size, r->meta) != 0)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", path);
    if (is_float) {
        deconv_response_linear(&fi->response); /* float data: light */
        snprintf(fi->response.name, sizeof fi->response.name, "linear (float TIFF)");
    } else if (has_icc) {
        deconv_io_set_from_icc(fi, icc, icc_size, "the ICC profile (TIFF tag)");
    } else {
        deconv_io_set_untagged(fi);
    }
    return DECONV_OK;
}

deconv_image *deconv_tiff_read(FILE *f, const char *path, int64_t max_pixels,
                               deconv_file_info *fi, deconv_metadata *meta, deconv_error *err)
{
    tiff_io io;
    memset(&io, 0, sizeof io);
    io.f = f;
    io.fd = -1;
    /* No one allocation above what the image itself needs (a strip of it
     * whole, as floats, with room for compression's overhead): a header
     * that claims absurd tables is refused instead of filling memory. */
    tmsize_t max_alloc = 0;
    if (max_pixels > 0 && (uint64_t)max_pixels < ((uint64_t)1 << 40))
        max_alloc = (tmsize_t)((uint64_t)max_pixels * 32 + ((uint64_t)64 << 20));
    TIFF *tif = tiff_open(path, "r", &io, max_alloc);
    if (!tif) {
        if (io.io_errno)
            deconv_io_fail_errno(err, "read", path, io.io_errno);
        else
            deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: %s", path,
                        io.msg[0] ? io.msg : "not a readable TIFF");
        return NULL;
    }
    tiff_reader r;
    memset(&r, 0, sizeof r);
    r.tif = tif;
    r.path = path;
    r.io = &io;
    r.meta = meta;
    deconv_status s = tiff_read_job(&r, max_pixels, fi, err);
    TIFFClose(tif);
    free(r.buf);
    if (s != DECONV_OK) {
        deconv_image_free(r.im);
        return NULL;
    }
    return r.im;
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */
/* ------------------------------------------------------------------ */

int deconv_tiff_needs_big(int width, int height, int channels, int bits, size_t extra_bytes)
{
    /* the samples as stored without compression, Deflate's worst case
     * (a few bytes in a thousand more), the strip tables and the tags */
    uint64_t raw = (uint64_t)width * (uint64_t)height * (uint64_t)channels * (uint64_t)(bits / 8);
    uint64_t total = raw + raw / 256 + (uint64_t)extra_bytes + ((uint64_t)16 << 20);
    return total >= ((uint64_t)1 << 32);
}

typedef struct {
    TIFF *tif;
    const char *path;
    tiff_io *io;
    const deconv_image *im;
    int bits;
    const deconv_metadata *meta; /* or NULL */
    unsigned char *row;
} tiff_writer;

static deconv_status tiff_write_failed(const tiff_writer *wr, deconv_error *err)
{
    if (wr->io->io_errno)
        return deconv_io_fail_errno(err, "write", wr->path, wr->io->io_errno);
    return deconv_fail(err, DECONV_ERR_IO, "cannot write '%s': %s", wr->path,
                       wr->io->msg[0] ? wr->io->msg : "libtiff failed");
}

static deconv_status tiff_write_job(tiff_writer *wr, deconv_error *err)
{
    TIFF *tif = wr->tif;
    const deconv_image *im = wr->im;
    int w = im->width, h = im->height, ch = im->channels, bytes = wr->bits / 8;
    int colour = deconv_color_channels(ch);
    size_t rowbytes = (size_t)w * ch * bytes;
    uint32_t rows = (uint32_t)((256u << 10) / (rowbytes ? rowbytes : 1));
    if (rows < 1)
        rows = 1;
    if (rows > (uint32_t)h)
        rows = (uint32_t)h;
    int ok = TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)w) &&
             TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)h) &&
             TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)ch) &&
             TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)wr->bits) &&
             TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT,
                          wr->bits == 32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT) &&
             TIFFSetField(tif, TIFFTAG_PHOTOMETRIC,
                          colour == 1 ? PHOTOMETRIC_MINISBLACK : PHOTOMETRIC_RGB) &&
             TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG) &&
             TIFFSetField(tif, TIFFTAG_ORIENTATION, ORIENTATION_TOPLEFT) &&
             TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE) &&
             TIFFSetField(tif, TIFFTAG_PREDICTOR,
                          wr->bits == 32 ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL) &&
             TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, rows) &&
             /* baseline TIFF requires a resolution: 72 dpi, as for a screen */
             TIFFSetField(tif, TIFFTAG_XRESOLUTION, 72.0f) &&
             TIFFSetField(tif, TIFFTAG_YRESOLUTION, 72.0f) &&
             TIFFSetField(tif, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
    if (ok && colour < ch) {
        uint16_t extra = EXTRASAMPLE_UNASSALPHA;
        ok = TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, &extra);
    }
    /* the input's metadata: the profile, EXIF's orientation (the pixels
     * are as stored) and its text tags as TIFF's own */
    const deconv_metadata *m = wr->meta;
    if (ok && m && m->icc && m->icc_size > 0 && m->icc_size <= UINT32_MAX)
        ok = TIFFSetField(tif, TIFFTAG_ICCPROFILE, (uint32_t)m->icc_size, m->icc);
    if (ok && m && m->orientation >= 1 && m->orientation <= 8)
        ok = TIFFSetField(tif, TIFFTAG_ORIENTATION, (uint16_t)m->orientation);
    for (int i = 0; ok && m && m->exif && i < DECONV_EXIF_TEXT_TAGS; i++) {
        char text[4096];
        if (deconv_exif_text(m->exif, m->exif_size, deconv_exif_text_tags[i], text, sizeof text))
            ok = TIFFSetField(tif, deconv_exif_text_tags[i], text);
    }
    if (!ok)
        return tiff_write_failed(wr, err);

    size_t plane = (size_t)w * h;
    for (int y = 0; y < h; y++) {
        const float *in = im->data + (size_t)y * w;
        unsigned char *p = wr->row;
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                float v = in[c * plane + x];
                if (wr->bits == 8) {
                    *p++ = (unsigned char)deconv_io_quantize(v, 255);
                } else if (wr->bits == 16) {
                    uint16_t q = (uint16_t)deconv_io_quantize(v, 65535);
                    memcpy(p, &q, 2);
                    p += 2;
                } else {
                    memcpy(p, &v, 4);
                    p += 4;
                }
            }
        if (TIFFWriteScanline(tif, wr->row, (uint32_t)y, 0) < 0)
            return tiff_write_failed(wr, err);
    }
    if (!TIFFWriteDirectory(tif))
        return tiff_write_failed(wr, err);
    return DECONV_OK;
}

deconv_status deconv_tiff_write(const deconv_image *im, const char *path,
                                const deconv_write_options *o, int big, deconv_error *err)
{
    deconv_error local;
    deconv_error *e = err ? err : &local;
    deconv_atomic_file *af = deconv_atomic_open(path, e);
    if (!af)
        return e->code;
    tiff_io io;
    memset(&io, 0, sizeof io);
    io.fd = fileno(deconv_atomic_stream(af));
    const deconv_metadata *m = o->metadata;
    if (big < 0)
        big = deconv_tiff_needs_big(im->width, im->height, im->channels, o->bits,
                                    m ? m->icc_size + m->exif_size : 0);
    tiff_writer wr;
    memset(&wr, 0, sizeof wr);
    wr.path = path;
    wr.io = &io;
    wr.im = im;
    wr.bits = o->bits;
    wr.meta = m;
    wr.row = malloc((size_t)im->width * im->channels * (size_t)(o->bits / 8));
    wr.tif = wr.row ? tiff_open(path, big ? "w8" : "w", &io, 0) : NULL;
    deconv_status s;
    if (!wr.row)
        s = deconv_fail(err, DECONV_ERR_NOMEM, "out of memory writing '%s'", path);
    else if (!wr.tif)
        s = tiff_write_failed(&wr, err);
    else
        s = tiff_write_job(&wr, err);
    if (wr.tif)
        TIFFClose(wr.tif); /* a directory not written (a failure) is dropped */
    free(wr.row);
    if (s == DECONV_OK && io.io_errno)
        s = deconv_io_fail_errno(err, "write", path, io.io_errno);
    if (s != DECONV_OK) {
        deconv_atomic_abort(af);
        return s;
    }
    return deconv_atomic_commit(af, err);
}
