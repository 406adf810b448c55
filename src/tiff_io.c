/* TIFF files through libtiff.
 *
 * Reading takes the first image of the file, as a row source of rows_io.c
 * (imageio.h). 8- and 16-bit unsigned and 32-bit float samples, gray or
 * RGB with or without alpha, in strips or tiles, contiguous or in separate
 * planes, are read a scanline or a tile at a time (TIFFReadScanline,
 * TIFFReadTile), which keeps 16-bit and float precision, and decoded as
 * the rows are asked for, a band at a time: a scanline of contiguous
 * strips, a strip of every plane, a row of tiles. What only libtiff's RGBA
 * interface decodes (palette, 1/2/4-bit gray, YCbCr, CMYK) is read through
 * it as 8 bits, whole, the last resort. A float file holds light: its
 * samples are kept unclamped and its curve is linear. Otherwise an ICC
 * profile tag gives the curve (as a PNG's iCCP does), and an untagged file
 * is sRGB.
 *
 * Writing, a row sink of rows_io.c: 8/16-bit unsigned or 32-bit float
 * samples (unclamped), gray or RGB with unassociated alpha, Deflate with
 * the horizontal (integer) or floating-point predictor, in strips of about
 * 256 KiB (libtiff encodes a strip once its rows are in); BigTIFF when the
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
    tiff_io io;
    TIFF *tif;
    const char *path;
    uint32_t w, h;
    uint16_t spp, bps, format, photometric, planar;
    int channels;   /* of the image made: spp */
    int invert;     /* MINISWHITE */
    int associated; /* the alpha is premultiplied */
    int separate;   /* in separate planes */
    uint32_t tw;    /* the tiles' width; 0: strips */
    /* Rows are decoded a band at a time: a scanline of contiguous strips,
     * a strip of each plane, a row of tiles. */
    uint32_t band_rows;
    uint32_t next;          /* the next row to decode */
    float *band;            /* a band decoded for a caller who asked for
                               fewer of its rows: band_rows x w planes */
    uint32_t band_n, held;  /* its rows, and those not yet served */
    unsigned char *buf;     /* a scanline or a tile as stored */
    deconv_image *im;       /* the RGBA interface's image, read whole */
} tiff_reader;

static deconv_status tiff_corrupt(const tiff_reader *r, deconv_error *err, const char *what)
{
    if (r->io.io_errno)
        return deconv_io_fail_errno(err, "read", r->path, r->io.io_errno);
    return deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: %s", r->path,
                       r->io.msg[0] ? r->io.msg : what);
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

/* The band of strips from row y0, n rows, into dst (channel c's row i at
 * dst + c * plane + i * w): scanline by scanline, each plane's in turn, so
 * that libtiff decodes every strip once, from its start. */
static deconv_status tiff_band_of_strips(tiff_reader *r, uint32_t y0, uint32_t n, float *dst,
                                         size_t plane, deconv_error *err)
{
    size_t bytes = r->bps / 8, per_row = r->separate ? 1 : r->spp;
    for (uint16_t s = 0; s < (r->separate ? r->spp : 1); s++)
        for (uint32_t i = 0; i < n; i++) {
            if (TIFFReadScanline(r->tif, r->buf, y0 + i, s) < 0)
                return tiff_corrupt(r, err, "cannot read a scanline");
            for (int c = 0; c < (r->separate ? 1 : r->spp); c++) {
                int ch = r->separate ? s : c;
                float *row = dst + ch * plane + (size_t)i * r->w;
                if (tiff_samples(r, r->buf + c * bytes, per_row, r->w, row))
                    return tiff_bad_float(r, err);
            }
        }
    return DECONV_OK;
}

/* The row of tiles from row y0 (n rows of it) into dst, as above. */
static deconv_status tiff_band_of_tiles(tiff_reader *r, uint32_t y0, uint32_t n, float *dst,
                                        size_t plane, deconv_error *err)
{
    size_t bytes = r->bps / 8, per_px = r->separate ? 1 : r->spp;
    for (uint16_t s = 0; s < (r->separate ? r->spp : 1); s++)
        for (uint32_t x0 = 0; x0 < r->w; x0 += r->tw) {
            if (TIFFReadTile(r->tif, r->buf, x0, y0, 0, s) < 0)
                return tiff_corrupt(r, err, "cannot read a tile");
            uint32_t nx = r->w - x0 < r->tw ? r->w - x0 : r->tw;
            for (uint32_t ty = 0; ty < n; ty++) {
                const unsigned char *row = r->buf + (size_t)ty * r->tw * per_px * bytes;
                for (int c = 0; c < (r->separate ? 1 : r->spp); c++) {
                    int ch = r->separate ? s : c;
                    float *out = dst + ch * plane + (size_t)ty * r->w + x0;
                    if (tiff_samples(r, row + c * bytes, per_px, nx, out))
                        return tiff_bad_float(r, err);
                }
            }
        }
    return DECONV_OK;
}

/* Premultiplied colour back to straight colour; MINISWHITE to black at 0:
 * on n samples of each plane at d, plane apart. */
static void tiff_finish(const tiff_reader *r, float *d, size_t plane, size_t n)
{
    int colour = deconv_color_channels(r->channels);
    if (r->invert)
        for (int c = 0; c < colour; c++)
            for (size_t i = 0; i < n; i++)
                d[c * plane + i] = 1.0f - d[c * plane + i];
    if (r->associated && colour < r->channels) {
        const float *a = d + colour * plane;
        for (size_t i = 0; i < n; i++) {
            if (!(a[i] > 0.0f))
                continue;
            for (int c = 0; c < colour; c++) {
                float v = d[c * plane + i] / a[i];
                d[c * plane + i] = r->bps == 32 || v < 1.0f ? v : 1.0f;
            }
        }
    }
}

/* The next band, n rows, into dst (plane apart), finished. */
static deconv_status tiff_band(tiff_reader *r, uint32_t n, float *dst, size_t plane,
                               deconv_error *err)
{
    deconv_status s = r->tw ? tiff_band_of_tiles(r, r->next, n, dst, plane, err)
                            : tiff_band_of_strips(r, r->next, n, dst, plane, err);
    if (s != DECONV_OK)
        return s;
    tiff_finish(r, dst, plane, (size_t)n * r->w);
    r->next += n;
    return DECONV_OK;
}

/* The next rows: whole bands straight into out, the rest through r->band. */
static deconv_status tiff_source_read(void *state, int rows, float *out, size_t plane,
                                      deconv_error *err)
{
    tiff_reader *r = state;
    uint32_t done = 0, want = (uint32_t)rows;
    size_t band_plane = (size_t)r->band_rows * r->w;
    while (done < want) {
        if (r->held) {
            uint32_t k = want - done < r->held ? want - done : r->held;
            size_t from = (size_t)(r->band_n - r->held) * r->w;
            for (int c = 0; c < r->channels; c++)
                memcpy(out + c * plane + (size_t)done * r->w, r->band + c * band_plane + from,
                       sizeof(float) * k * r->w);
            r->held -= k;
            done += k;
            continue;
        }
        uint32_t n = r->h - r->next < r->band_rows ? r->h - r->next : r->band_rows;
        deconv_status s;
        if (want - done >= n) {
            s = tiff_band(r, n, out + (size_t)done * r->w, plane, err);
            done += n;
        } else {
            if (!r->band && !(r->band = deconv_alloc_floats(band_plane * r->channels)))
                return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", r->path);
            s = tiff_band(r, n, r->band, band_plane, err);
            r->band_n = r->held = n;
        }
        if (s != DECONV_OK)
            return s;
    }
    return DECONV_OK;
}

/* The last resort: libtiff's RGBA interface, 8 bits, in the stored
 * orientation (asked for the file's own, it flips nothing), whole. */
static deconv_status tiff_read_rgba(tiff_reader *r, deconv_error *err)
{
    uint16_t orientation = ORIENTATION_TOPLEFT;
    TIFFGetFieldDefaulted(r->tif, TIFFTAG_ORIENTATION, &orientation);
    if (orientation < 1 || orientation > 8)
        orientation = ORIENTATION_TOPLEFT;
    if (!(r->im = deconv_io_new_image(err, r->path, (int)r->w, (int)r->h, r->channels)))
        return DECONV_ERR_NOMEM;
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

/* The buffers of the direct layouts: a scanline, or a tile, as stored. */
static deconv_status tiff_direct_setup(tiff_reader *r, deconv_error *err)
{
    size_t bytes = r->bps / 8, per_px = r->separate ? 1 : r->spp;
    tmsize_t size;
    if (TIFFIsTiled(r->tif)) {
        uint32_t tw = 0, th = 0;
        if (!TIFFGetField(r->tif, TIFFTAG_TILEWIDTH, &tw) ||
            !TIFFGetField(r->tif, TIFFTAG_TILELENGTH, &th) || tw == 0 || th == 0)
            return tiff_corrupt(r, err, "bad tile size");
        size = TIFFTileSize(r->tif);
        if (size <= 0 || (uint64_t)size < (uint64_t)tw * th * per_px * bytes)
            return tiff_corrupt(r, err, "bad tile size");
        r->tw = tw;
        r->band_rows = th < r->h ? th : r->h;
    } else {
        size = TIFFScanlineSize(r->tif);
        if (size <= 0 || (uint64_t)size < (uint64_t)r->w * per_px * bytes)
            return tiff_corrupt(r, err, "bad scanline size");
        uint32_t rps = 0;
        TIFFGetFieldDefaulted(r->tif, TIFFTAG_ROWSPERSTRIP, &rps);
        r->band_rows = !r->separate ? 1 : rps == 0 || rps > r->h ? r->h : rps;
    }
    if (!(r->buf = malloc((size_t)size)))
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", r->path);
    return DECONV_OK;
}

/* The first image's layout, size, file info and metadata; the layouts
 * libtiff's RGBA interface decodes are read whole. */
static deconv_status tiff_open_job(tiff_reader *r, const deconv_source_spec *sp,
                                   deconv_error *err)
{
    TIFF *tif = r->tif;
    const char *path = r->path;
    deconv_file_info *fi = sp->fi;
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
        r->separate = r->planar == PLANARCONFIG_SEPARATE && r->spp > 1;
    } else {
        char why[1024];
        if (!TIFFRGBAImageOK(tif, why))
            return deconv_fail(err, DECONV_ERR_FORMAT, "'%s': unsupported TIFF layout: %s", path,
                               why);
        int alpha = nextra > 0 && r->photometric != PHOTOMETRIC_PALETTE;
        r->channels = (gray ? 1 : 3) + alpha;
    }
    deconv_status s = deconv_io_check_size(err, path, r->w, r->h, r->channels, sp->max_pixels);
    if (s != DECONV_OK)
        return s;
    s = direct ? tiff_direct_setup(r, err) : tiff_read_rgba(r, err);
    if (s != DECONV_OK)
        return s;

    fi->bits = is_float ? 32 : r->bps == 16 && direct ? 16 : 8;
    fi->has_alpha = r->channels == 2 || r->channels == 4;
    uint32_t icc_size = 0;
    void *icc = NULL;
    int has_icc = TIFFGetField(tif, TIFFTAG_ICCPROFILE, &icc_size, &icc) && icc && icc_size > 0;
    if (sp->meta && tiff_metadata(tif, r->io.f, has_icc ? icc : NULL, icc_size, sp->meta) != 0)
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

static void tiff_source_close(void *state)
{
    tiff_reader *r = state;
    if (r->tif)
        TIFFClose(r->tif);
    free(r->buf);
    deconv_free_floats(r->band);
    deconv_image_free(r->im);
    free(r);
}

deconv_status deconv_tiff_source_open(const deconv_source_spec *sp, deconv_row_source *src,
                                      deconv_error *err)
{
    const char *path = sp->path;
    tiff_reader *r = calloc(1, sizeof *r);
    if (!r)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory reading '%s'", path);
    r->io.f = sp->f;
    r->io.fd = -1;
    r->path = path;
    /* No one allocation above what the image itself needs (a strip of it
     * whole, as floats, with room for compression's overhead): a header
     * that claims absurd tables is refused instead of filling memory. */
    tmsize_t max_alloc = 0;
    if (sp->max_pixels > 0 && (uint64_t)sp->max_pixels < ((uint64_t)1 << 40))
        max_alloc = (tmsize_t)((uint64_t)sp->max_pixels * 32 + ((uint64_t)64 << 20));
    r->tif = tiff_open(path, "r", &r->io, max_alloc);
    deconv_status s;
    if (!r->tif && r->io.io_errno)
        s = deconv_io_fail_errno(err, "read", path, r->io.io_errno);
    else if (!r->tif)
        s = deconv_fail(err, DECONV_ERR_FORMAT, "'%s' is corrupt: %s", path,
                        r->io.msg[0] ? r->io.msg : "not a readable TIFF");
    else
        s = tiff_open_job(r, sp, err);
    if (s != DECONV_OK) {
        tiff_source_close(r);
        return s;
    }
    if (r->im) {
        deconv_source_whole(src, r->im);
        r->im = NULL;
        tiff_source_close(r);
        return DECONV_OK;
    }
    src->width = (int)r->w;
    src->height = (int)r->h;
    src->channels = r->channels;
    src->state = r;
    src->read = tiff_source_read;
    src->close = tiff_source_close;
    return DECONV_OK;
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
    tiff_io io;
    TIFF *tif;
    const char *path;
    int width, channels, bits;
    uint32_t next; /* the next row to write */
    unsigned char *row;
} tiff_writer;

static deconv_status tiff_write_failed(const tiff_writer *wr, deconv_error *err)
{
    if (wr->io.io_errno)
        return deconv_io_fail_errno(err, "write", wr->path, wr->io.io_errno);
    return deconv_fail(err, DECONV_ERR_IO, "cannot write '%s': %s", wr->path,
                       wr->io.msg[0] ? wr->io.msg : "libtiff failed");
}

/* The tags: the layout, and the input's metadata (m, or NULL). */
static deconv_status tiff_write_tags(tiff_writer *wr, int height, const deconv_metadata *m,
                                     deconv_error *err)
{
    TIFF *tif = wr->tif;
    int ch = wr->channels, bytes = wr->bits / 8;
    int colour = deconv_color_channels(ch);
    size_t rowbytes = (size_t)wr->width * ch * bytes;
    uint32_t rows = (uint32_t)((256u << 10) / (rowbytes ? rowbytes : 1));
    if (rows < 1)
        rows = 1;
    if (rows > (uint32_t)height)
        rows = (uint32_t)height;
    int ok = TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)wr->width) &&
             TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)height) &&
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
    if (ok && m && m->icc && m->icc_size > 0 && m->icc_size <= UINT32_MAX)
        ok = TIFFSetField(tif, TIFFTAG_ICCPROFILE, (uint32_t)m->icc_size, m->icc);
    if (ok && m && m->orientation >= 1 && m->orientation <= 8)
        ok = TIFFSetField(tif, TIFFTAG_ORIENTATION, (uint16_t)m->orientation);
    for (int i = 0; ok && m && m->exif && i < DECONV_EXIF_TEXT_TAGS; i++) {
        char text[4096];
        if (deconv_exif_text(m->exif, m->exif_size, deconv_exif_text_tags[i], text, sizeof text))
            ok = TIFFSetField(tif, deconv_exif_text_tags[i], text);
    }
    return ok ? DECONV_OK : tiff_write_failed(wr, err);
}

static deconv_status tiff_sink_write(void *state, int rows, const float *in, size_t plane,
                                     deconv_error *err)
{
    tiff_writer *wr = state;
    int w = wr->width, ch = wr->channels;
    for (int i = 0; i < rows; i++) {
        const float *src = in + (size_t)i * w;
        unsigned char *p = wr->row;
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                float v = src[c * plane + x];
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
        if (TIFFWriteScanline(wr->tif, wr->row, wr->next++, 0) < 0)
            return tiff_write_failed(wr, err);
    }
    return DECONV_OK;
}

/* The directory, then the file closed: every byte written or an error. */
static deconv_status tiff_sink_finish(void *state, deconv_error *err)
{
    tiff_writer *wr = state;
    if (!TIFFWriteDirectory(wr->tif))
        return tiff_write_failed(wr, err);
    TIFFClose(wr->tif);
    wr->tif = NULL;
    if (wr->io.io_errno)
        return deconv_io_fail_errno(err, "write", wr->path, wr->io.io_errno);
    return DECONV_OK;
}

static void tiff_sink_close(void *state)
{
    tiff_writer *wr = state;
    if (wr->tif)
        TIFFClose(wr->tif); /* a directory not written (a failure) is dropped */
    free(wr->row);
    free(wr);
}

deconv_status deconv_tiff_sink_open(const deconv_sink_spec *sp, deconv_row_sink *sink,
                                    deconv_error *err)
{
    const deconv_metadata *m = sp->o->metadata;
    int bits = sp->o->bits, big = sp->big;
    if (big < 0)
        big = deconv_tiff_needs_big(sp->width, sp->height, sp->channels, bits,
                                    m ? m->icc_size + m->exif_size : 0);
    tiff_writer *wr = calloc(1, sizeof *wr);
    if (!wr)
        return deconv_fail(err, DECONV_ERR_NOMEM, "out of memory writing '%s'", sp->path);
    wr->io.fd = fileno(sp->f);
    wr->path = sp->path;
    wr->width = sp->width;
    wr->channels = sp->channels;
    wr->bits = bits;
    wr->row = malloc((size_t)sp->width * sp->channels * (size_t)(bits / 8));
    wr->tif = wr->row ? tiff_open(sp->path, big ? "w8" : "w", &wr->io, 0) : NULL;
    deconv_status s;
    if (!wr->row)
        s = deconv_fail(err, DECONV_ERR_NOMEM, "out of memory writing '%s'", sp->path);
    else if (!wr->tif)
        s = tiff_write_failed(wr, err);
    else
        s = tiff_write_tags(wr, sp->height, m, err);
    if (s != DECONV_OK) {
        tiff_sink_close(wr);
        return s;
    }
    sink->state = wr;
    sink->write = tiff_sink_write;
    sink->finish = tiff_sink_finish;
    sink->close = tiff_sink_close;
    return DECONV_OK;
}
