/* Images as streams of rows (rows_io.c): each layout read a random number
 * of rows at a time gives deconv_image_read's samples, file info and
 * metadata (and the samples stored); each output written a random number
 * of rows at a time gives deconv_image_write's bytes; the errors of streams
 * (a file broken mid-stream, too many rows, a commit before the last row,
 * an abort, a write that fails); and the peak memory of a 20000 x 20000
 * PNG written and read 64 rows at a time. Fixtures are made at run time in
 * a temporary folder: PNG through libpng, TIFF through libtiff, the others
 * by deconv or byte by byte. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <png.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tiffio.h>

#include "check.h"
#include "deconv.h"

static char g_dir[512];

static const char *at(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static int write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* The whole file; *n receives its size. NULL if it cannot be read. */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
    *n = buf ? fread(buf, 1, (size_t)size, f) : 0;
    fclose(f);
    return buf;
}

static int same_file(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    unsigned char *pa = slurp(a, &na), *pb = slurp(b, &nb);
    int same = pa && pb && na == nb && memcmp(pa, pb, na) == 0;
    free(pa);
    free(pb);
    return same;
}

static int file_is(const char *path, const char *text)
{
    size_t n = 0;
    unsigned char *p = slurp(path, &n);
    int same = p && n == strlen(text) && memcmp(p, text, n) == 0;
    free(p);
    return same;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Files in the folder whose name ends in ".tmp". */
static int count_tmp(void)
{
    DIR *d = opendir(g_dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        n += l >= 4 && strcmp(e->d_name + l - 4, ".tmp") == 0;
    }
    closedir(d);
    return n;
}

static void remove_dir(void)
{
    DIR *d = opendir(g_dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            unlink(at(e->d_name));
    closedir(d);
    rmdir(g_dir);
}

/* A count of rows for the next band: 0 now and then, mostly small, now
 * and then more than a strip or a tile row. */
static int random_rows(unsigned long long *seed, int left)
{
    double u = check_rand(seed);
    int n = u < 0.1 ? 0 : u < 0.8 ? 1 + (int)(check_rand(seed) * 7) : (int)(check_rand(seed) * 40);
    return n < left ? n : left;
}

/* ------------------------------------------------------------------ */
/* Streams against the whole image                                      */
/* ------------------------------------------------------------------ */

/* The file read a random number of rows at a time, put together. */
static deconv_image *read_in_bands(const char *path, unsigned long long *seed,
                                   deconv_file_info *info, deconv_metadata **meta,
                                   deconv_error *err)
{
    deconv_row_reader *r = deconv_row_reader_open(path, 0, info, meta, err);
    if (!r)
        return NULL;
    int w = deconv_row_reader_width(r), h = deconv_row_reader_height(r);
    int ch = deconv_row_reader_channels(r);
    deconv_image *im = deconv_image_new(w, h, ch);
    float *band = malloc(sizeof(float) * (size_t)w * ch * (h + 1));
    for (int y = 0; im && band && y < h;) {
        int n = random_rows(seed, h - y);
        if (deconv_row_reader_read(r, n, band, err) != DECONV_OK) {
            deconv_image_free(im);
            im = NULL;
            break;
        }
        for (int c = 0; c < ch; c++)
            memcpy(deconv_image_plane(im, c) + (size_t)y * w, band + (size_t)c * n * w,
                   sizeof(float) * (size_t)n * w);
        y += n;
    }
    free(band);
    deconv_row_reader_close(r);
    return im;
}

static int same_metadata(const deconv_metadata *a, const deconv_metadata *b)
{
    if (!a || !b)
        return a == b;
    if (a->icc_size != b->icc_size || (a->icc_size && memcmp(a->icc, b->icc, a->icc_size)) ||
        a->exif_size != b->exif_size ||
        (a->exif_size && memcmp(a->exif, b->exif, a->exif_size)) ||
        a->orientation != b->orientation || a->text_count != b->text_count)
        return 0;
    for (int i = 0; i < a->text_count; i++)
        if (strcmp(a->text[i].type, b->text[i].type) || a->text[i].size != b->text[i].size ||
            memcmp(a->text[i].data, b->text[i].data, a->text[i].size))
            return 0;
    return 1;
}

static int same_image(const deconv_image *a, const deconv_image *b)
{
    return a && b && a->width == b->width && a->height == b->height &&
           a->channels == b->channels &&
           memcmp(a->data, b->data,
                  sizeof(float) * (size_t)a->width * a->height * a->channels) == 0;
}

/* The file read in bands, three ways, is deconv_image_read_with_metadata's
 * image (and want's, when given), file info and metadata. Returns the
 * text count of the metadata, -1 on failure. */
static int check_streamed(const char *name, const deconv_image *want)
{
    deconv_error err = {0};
    deconv_file_info info;
    memset(&info, 0, sizeof info);
    deconv_metadata *meta = NULL;
    deconv_image *whole = deconv_image_read_with_metadata(at(name), 0, &info, &meta, &err);
    CHECK(whole != NULL, "%s: %s", name, err.message);
    if (!whole)
        return -1;
    if (want)
        CHECK(same_image(whole, want), "%s: deconv_image_read's samples are not the file's", name);
    unsigned long long seed = 1234 + strlen(name);
    int ok = 1;
    for (int k = 0; k < 3; k++) {
        deconv_file_info binfo;
        memset(&binfo, 0, sizeof binfo);
        deconv_metadata *bmeta = NULL;
        deconv_image *bands = read_in_bands(at(name), &seed, &binfo, &bmeta, &err);
        CHECK(bands != NULL, "%s: in bands: %s", name, err.message);
        ok &= bands != NULL;
        if (bands) {
            CHECK(same_image(bands, whole), "%s: the bands' samples differ", name);
            CHECK(memcmp(&binfo, &info, sizeof info) == 0, "%s: the bands' file info differs",
                  name);
            CHECK(same_metadata(bmeta, meta), "%s: the bands' metadata differs", name);
        }
        deconv_image_free(bands);
        deconv_metadata_free(bmeta);
    }
    int texts = meta->text_count;
    deconv_metadata_free(meta);
    deconv_image_free(whole);
    return ok ? texts : -1;
}

/* ------------------------------------------------------------------ */
/* PNG fixtures through libpng                                          */
/* ------------------------------------------------------------------ */

typedef struct {
    int w, h, channels, depth, interlace;
    int text; /* text chunks before and after the image data, and eXIf after */
} png_fixture;

/* Writes the fixture of random samples; returns the image it holds. */
static deconv_image *make_png(const char *path, const png_fixture *p, unsigned long long *seed)
{
    static const int types[4] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                 PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    static unsigned char exif[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 1, 3, 0,
                                   1,   0,   0,  0, 6, 0, 0, 0, 0, 0, 0,    0};
    deconv_image *im = deconv_image_new(p->w, p->h, p->channels);
    int bytes = p->depth / 8;
    size_t rowbytes = (size_t)p->w * p->channels * bytes, plane = (size_t)p->w * p->h;
    unsigned char *pixels = malloc(rowbytes * p->h);
    png_bytep *rows = malloc(sizeof *rows * p->h);
    for (int y = 0; y < p->h; y++) {
        rows[y] = pixels + rowbytes * y;
        for (int x = 0; x < p->w; x++)
            for (int c = 0; c < p->channels; c++) {
                unsigned v = (unsigned)(check_rand(seed) * (bytes == 1 ? 256 : 65536));
                unsigned char *q = rows[y] + ((size_t)x * p->channels + c) * bytes;
                if (bytes == 1)
                    q[0] = (unsigned char)v;
                else
                    q[0] = (unsigned char)(v >> 8), q[1] = (unsigned char)v;
                im->data[c * plane + (size_t)y * p->w + x] =
                    bytes == 1 ? (float)v / 255.0f : (float)v / 65535.0f;
            }
    }
    FILE *f = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        deconv_image_free(im);
        im = NULL;
    } else {
        png_init_io(png, f);
        png_set_IHDR(png, info, p->w, p->h, p->depth, types[p->channels - 1],
                     p->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_text before = {.compression = PNG_TEXT_COMPRESSION_NONE, .key = "Title",
                           .text = "before the data"};
        png_text after = {.compression = PNG_TEXT_COMPRESSION_zTXt, .key = "Comment",
                          .text = "after the data"};
        if (p->text)
            png_set_text(png, info, &before, 1);
        png_write_info(png, info);
        png_write_image(png, rows);
        if (p->text) { /* png_write_end writes what was set after png_write_info */
            png_set_text(png, info, &after, 1);
            png_set_eXIf_1(png, info, sizeof exif, exif);
        }
        png_write_end(png, info);
    }
    png_destroy_write_struct(&png, &info);
    fclose(f);
    free(rows);
    free(pixels);
    return im;
}

static void test_png_reading(void)
{
    unsigned long long seed = 7;
    for (int depth = 8; depth <= 16; depth += 8)
        for (int ch = 1; ch <= 4; ch++)
            for (int variant = 0; variant < 3; variant++) {
                /* plain; metadata after the data; interlaced (read whole) */
                png_fixture p = {23 + ch, 41 + 3 * variant, ch, depth, variant == 2,
                                 variant >= 1};
                char name[64];
                snprintf(name, sizeof name, "png%d_c%d_v%d.png", depth, ch, variant);
                deconv_image *want = make_png(at(name), &p, &seed);
                CHECK(want != NULL, "fixture %s", name);
                int texts = check_streamed(name, want);
                if (variant >= 1)
                    CHECK(texts == 2, "%s: %d text chunks, not the 2 before and after the data",
                          name, texts);
                deconv_image_free(want);
            }
}

/* ------------------------------------------------------------------ */
/* TIFF fixtures through libtiff                                        */
/* ------------------------------------------------------------------ */

typedef struct {
    int w, h, spp, bps; /* bps 32: float */
    int separate, tile; /* tile: the tiles' side, 0 for strips */
    int rows_per_strip, compression, photometric, extra;
} tiff_fixture;

static void put_sample(unsigned char *p, int bps, double v)
{
    if (bps == 32) {
        float f = (float)v;
        memcpy(p, &f, 4);
    } else if (bps == 16) {
        uint16_t u = (uint16_t)v;
        memcpy(p, &u, 2);
    } else {
        *p = (unsigned char)v;
    }
}

/* Writes the fixture of random samples; returns them as deconv_image_read
 * makes them (gray or RGB with straight alpha: no other conversion). */
static deconv_image *make_tiff(const char *path, const tiff_fixture *t, unsigned long long *seed)
{
    deconv_image *im = deconv_image_new(t->w, t->h, t->spp);
    size_t plane = (size_t)t->w * t->h;
    for (size_t i = 0; i < plane * t->spp; i++) {
        double u = check_rand(seed);
        im->data[i] = t->bps == 32   ? (float)(u * 3.0 - 1.0)
                      : t->bps == 16 ? (float)floor(u * 65536) / 65535.0f
                                     : (float)floor(u * 256) / 255.0f;
    }
    TIFF *tif = TIFFOpen(path, "w");
    if (!tif) {
        deconv_image_free(im);
        return NULL;
    }
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)t->w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)t->h);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)t->spp);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)t->bps);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, t->bps == 32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, (uint16_t)t->photometric);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG,
                 t->separate ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, (uint16_t)t->compression);
    if (t->extra >= 0) {
        uint16_t e = (uint16_t)t->extra;
        TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, &e);
    }
    int bytes = t->bps / 8, per = t->separate ? 1 : t->spp, ok = 1;
    /* the stored value of sample c at (x, y) */
    double scale = t->bps == 32 ? 1.0 : t->bps == 16 ? 65535.0 : 255.0;
#define STORED(c, x, y) ((double)im->data[(c) * plane + (size_t)(y) * t->w + (x)] * scale + \
                         (t->bps == 32 ? 0.0 : 0.5))
    if (t->tile) {
        TIFFSetField(tif, TIFFTAG_TILEWIDTH, (uint32_t)t->tile);
        TIFFSetField(tif, TIFFTAG_TILELENGTH, (uint32_t)t->tile);
        size_t size = (size_t)t->tile * t->tile * per * bytes;
        unsigned char *buf = malloc(size);
        for (int s = 0; s < (t->separate ? t->spp : 1); s++)
            for (int y0 = 0; y0 < t->h; y0 += t->tile)
                for (int x0 = 0; x0 < t->w; x0 += t->tile) {
                    memset(buf, 0, size);
                    for (int y = y0; y < y0 + t->tile && y < t->h; y++)
                        for (int x = x0; x < x0 + t->tile && x < t->w; x++)
                            for (int c = 0; c < per; c++)
                                put_sample(buf + (((size_t)(y - y0) * t->tile + (x - x0)) * per +
                                                  c) * bytes,
                                           t->bps, STORED(t->separate ? s : c, x, y));
                    ok &= TIFFWriteTile(tif, buf, (uint32_t)x0, (uint32_t)y0, 0, (uint16_t)s) >= 0;
                }
        free(buf);
    } else {
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, (uint32_t)t->rows_per_strip);
        unsigned char *row = malloc((size_t)t->w * per * bytes);
        for (int s = 0; s < (t->separate ? t->spp : 1); s++)
            for (int y = 0; y < t->h; y++) {
                for (int x = 0; x < t->w; x++)
                    for (int c = 0; c < per; c++)
                        put_sample(row + ((size_t)x * per + c) * bytes, t->bps,
                                   STORED(t->separate ? s : c, x, y));
                ok &= TIFFWriteScanline(tif, row, (uint32_t)y, (uint16_t)s) >= 0;
            }
        free(row);
    }
#undef STORED
    TIFFClose(tif);
    if (!ok) {
        deconv_image_free(im);
        return NULL;
    }
    return im;
}

static void test_tiff_reading(void)
{
    unsigned long long seed = 11;
    static const int depths[3] = {8, 16, 32};
    for (int d = 0; d < 3; d++)
        for (int spp = 1; spp <= 4; spp++)
            for (int layout = 0; layout < 4; layout++) {
                int separate = layout & 1, tiled = layout >> 1;
                tiff_fixture t = {37 + spp, 45, spp, depths[d], separate, tiled ? 16 : 0,
                                  3 + 2 * (spp % 3), /* strips of 3, 5 or 7 rows */
                                  (layout + spp) % 2 ? COMPRESSION_ADOBE_DEFLATE : COMPRESSION_NONE,
                                  spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK,
                                  spp % 2 == 0 ? EXTRASAMPLE_UNASSALPHA : -1};
                char name[64];
                snprintf(name, sizeof name, "tiff%d_c%d_%s_%s.tif", depths[d], spp,
                         separate ? "planes" : "contig", tiled ? "tiles" : "strips");
                deconv_image *want = make_tiff(at(name), &t, &seed);
                CHECK(want != NULL, "fixture %s", name);
                check_streamed(name, want);
                deconv_image_free(want);
            }
    /* conversions on the way: MINISWHITE, premultiplied alpha; one strip
     * of the whole image; libtiff's RGBA interface (1-bit, read whole) */
    static const tiff_fixture others[] = {
        {30, 20, 1, 16, 0, 0, 4, COMPRESSION_LZW, PHOTOMETRIC_MINISWHITE, -1},
        {30, 20, 4, 8, 1, 16, 0, COMPRESSION_NONE, PHOTOMETRIC_RGB, EXTRASAMPLE_ASSOCALPHA},
        {30, 20, 2, 32, 0, 0, 4, COMPRESSION_NONE, PHOTOMETRIC_MINISBLACK, EXTRASAMPLE_ASSOCALPHA},
        {30, 20, 3, 8, 1, 0, 20, COMPRESSION_ADOBE_DEFLATE, PHOTOMETRIC_RGB, -1},
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "tiff_other%zu.tif", i);
        deconv_image_free(make_tiff(at(name), &others[i], &seed));
        check_streamed(name, NULL);
    }
    TIFF *tif = TIFFOpen(at("tiff_bilevel.tif"), "w");
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 20u);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 9u);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 1);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, 2u);
    for (uint32_t y = 0; y < 9; y++) {
        unsigned char row[3] = {(unsigned char)(0x5a ^ y), (unsigned char)(y * 37), 0xf0};
        TIFFWriteScanline(tif, row, y, 0);
    }
    TIFFClose(tif);
    check_streamed("tiff_bilevel.tif", NULL);
}

/* PNM, HDR (streamed) and JPEG (read whole) against their whole reads. */
static void test_other_reading(void)
{
    unsigned long long seed = 5;
    unsigned char buf[4096];
    /* P6 8-bit, P5 16-bit, P2 plain */
    int n = snprintf((char *)buf, sizeof buf, "P6\n# c\n13 11\n255\n");
    for (int i = 0; i < 13 * 11 * 3; i++)
        buf[n++] = (unsigned char)(check_rand(&seed) * 256);
    write_bytes(at("p6.ppm"), buf, (size_t)n);
    n = snprintf((char *)buf, sizeof buf, "P5 9 10 1000\n");
    for (int i = 0; i < 9 * 10; i++) {
        unsigned v = (unsigned)(check_rand(&seed) * 1001);
        buf[n++] = (unsigned char)(v >> 8), buf[n++] = (unsigned char)v;
    }
    write_bytes(at("p5.pgm"), buf, (size_t)n);
    n = snprintf((char *)buf, sizeof buf, "P2 4 7 15\n");
    for (int i = 0; i < 4 * 7; i++)
        n += snprintf((char *)buf + n, sizeof buf - n, "%d ", (int)(check_rand(&seed) * 16));
    write_bytes(at("p2.pgm"), buf, (size_t)n);
    /* HDR: flat, and run-length scanlines of width 10 */
    n = snprintf((char *)buf, sizeof buf, "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 6 +X 5\n");
    for (int i = 0; i < 6 * 5 * 4; i++)
        buf[n++] = (unsigned char)(i % 4 == 3 ? 128 + check_rand(&seed) * 3 : check_rand(&seed) * 256);
    write_bytes(at("flat.hdr"), buf, (size_t)n);
    n = snprintf((char *)buf, sizeof buf, "#?RGBE\nFORMAT=32-bit_rle_rgbe\n\n-Y 7 +X 10\n");
    for (int y = 0; y < 7; y++) {
        buf[n++] = 2, buf[n++] = 2, buf[n++] = 0, buf[n++] = 10;
        for (int k = 0; k < 4; k++) {
            buf[n++] = 128 + 4; /* a run of 4, then a dump of 6 */
            buf[n++] = (unsigned char)(k == 3 ? 129 : 40 * y + k);
            buf[n++] = 6;
            for (int i = 0; i < 6; i++)
                buf[n++] = (unsigned char)(k == 3 ? 128 + i % 2 : check_rand(&seed) * 256);
        }
    }
    write_bytes(at("rle.hdr"), buf, (size_t)n);
    /* JPEG, with its metadata */
    deconv_image *im = deconv_image_new(29, 17, 3);
    for (size_t i = 0; i < 29 * 17 * 3; i++)
        im->data[i] = (float)check_rand(&seed);
    static unsigned char exif[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 1, 0x12, 0, 3,
                                   0,   0,   0, 1,  0, 3, 0, 0, 0, 0, 0, 0,    0, 0};
    deconv_metadata meta = {NULL, 0, exif, sizeof exif, 3, 0, NULL};
    deconv_write_options o;
    deconv_write_defaults(&o);
    o.metadata = &meta;
    deconv_error err = {0};
    CHECK(deconv_image_write(im, at("in.jpg"), &o, &err) == DECONV_OK, "in.jpg: %s", err.message);
    deconv_image_free(im);
    const char *names[] = {"p6.ppm", "p5.pgm", "p2.pgm", "flat.hdr", "rle.hdr", "in.jpg"};
    for (int i = 0; i < 6; i++)
        check_streamed(names[i], NULL);
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */
/* ------------------------------------------------------------------ */

/* im written a random number of rows at a time. */
static deconv_status write_in_bands(const deconv_image *im, const char *path,
                                    const deconv_write_options *o, unsigned long long *seed,
                                    deconv_error *err)
{
    deconv_row_writer *wr =
        deconv_row_writer_open(path, im->width, im->height, im->channels, o, err);
    if (!wr)
        return err->code;
    int w = im->width, h = im->height;
    float *band = malloc(sizeof(float) * (size_t)w * im->channels * (h + 1));
    for (int y = 0; y < h;) {
        int n = random_rows(seed, h - y);
        for (int c = 0; c < im->channels; c++)
            memcpy(band + (size_t)c * n * w, deconv_image_plane(im, c) + (size_t)y * w,
                   sizeof(float) * (size_t)n * w);
        if (deconv_row_writer_write(wr, n, band, err) != DECONV_OK) {
            free(band);
            deconv_row_writer_abort(wr);
            return err->code;
        }
        y += n;
    }
    free(band);
    return deconv_row_writer_commit(wr, err);
}

static void test_writing(void)
{
    unsigned long long seed = 3;
    static unsigned char icc_gray[132] = {0, 0, 0, 132, 'l', 'c', 'm', 's', 2, 0x10, 0, 0,
                                          'm', 'n', 't', 'r', 'G', 'R', 'A', 'Y'};
    static unsigned char icc_rgb[132] = {0, 0, 0, 132, 'l', 'c', 'm', 's', 2, 0x10, 0, 0,
                                         'm', 'n', 't', 'r', 'R', 'G', 'B', ' '};
    static unsigned char exif[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 2, 0, 0x12, 1, 3, 0, 1, 0, 0, 0,
                                   6, 0, 0, 0, 0x3b, 1, 2, 0, 4, 0, 0, 0, 'm', 'e', '!', 0,
                                   0, 0, 0, 0};
    unsigned char text_data[] = "Comment\0written in bands";
    deconv_png_text text = {"tEXt", text_data, sizeof text_data - 1};
    static const struct {
        const char *ext;
        int bits, quality, cx, cy;
    } outs[] = {{"png", 8, 0, 1, 1},  {"png", 16, 0, 1, 1}, {"tif", 8, 0, 1, 1},
                {"tif", 16, 0, 1, 1}, {"tif", 32, 0, 1, 1}, {"jpg", 8, 90, 1, 1},
                {"jpg", 8, 70, 2, 2}, {"jpg", 8, 95, 2, 1}};
    for (int ch = 1; ch <= 4; ch++) {
        deconv_image *im = deconv_image_new(45 + ch, 38, ch);
        for (size_t i = 0; i < (size_t)im->width * im->height * ch; i++)
            im->data[i] = (float)(check_rand(&seed) * 1.2 - 0.1);
        deconv_metadata meta = {ch <= 2 ? icc_gray : icc_rgb, sizeof icc_rgb, exif, sizeof exif,
                                6, 1, &text};
        for (size_t k = 0; k < sizeof outs / sizeof outs[0]; k++)
            for (int with_meta = 0; with_meta <= 1; with_meta++) {
                deconv_write_options o;
                deconv_write_defaults(&o);
                o.bits = outs[k].bits;
                if (outs[k].quality)
                    o.quality = outs[k].quality;
                o.chroma_x = outs[k].cx;
                o.chroma_y = outs[k].cy;
                o.metadata = with_meta ? &meta : NULL;
                char whole[64], bands[64];
                snprintf(whole, sizeof whole, "whole_c%d_%zu_%d.%s", ch, k, with_meta,
                         outs[k].ext);
                snprintf(bands, sizeof bands, "bands_c%d_%zu_%d.%s", ch, k, with_meta,
                         outs[k].ext);
                deconv_error err = {0};
                CHECK(deconv_image_write(im, at(whole), &o, &err) == DECONV_OK, "%s: %s", whole,
                      err.message);
                CHECK(write_in_bands(im, at(bands), &o, &seed, &err) == DECONV_OK, "%s: %s",
                      bands, err.message);
                CHECK(same_file(at(whole), at(bands)), "%s: not the bytes of %s", bands, whole);
                unlink(at(whole));
                unlink(at(bands));
            }
        deconv_image_free(im);
    }
    CHECK(count_tmp() == 0, "temporary files left");
}

/* ------------------------------------------------------------------ */
/* Errors                                                               */
/* ------------------------------------------------------------------ */

/* The first n bytes of a file, as another file. */
static void truncate_copy(const char *from, const char *to, double fraction)
{
    size_t n = 0;
    unsigned char *p = slurp(from, &n);
    if (p)
        write_bytes(to, p, (size_t)(n * fraction));
    free(p);
}

/* A file broken past its header: the reader opens, gives rows, then fails
 * as deconv_image_read does, and again on every later call. */
static void check_broken_mid_stream(const char *name)
{
    deconv_error whole_err = {0}, err = {0};
    deconv_image *whole = deconv_image_read(at(name), 0, NULL, &whole_err);
    CHECK(whole == NULL && whole_err.code == DECONV_ERR_FORMAT && strstr(whole_err.message, name),
          "%s: read whole: %d '%s'", name, whole_err.code, whole_err.message);
    deconv_image_free(whole);
    deconv_row_reader *r = deconv_row_reader_open(at(name), 0, NULL, NULL, &err);
    CHECK(r != NULL, "%s: open: %s", name, err.message);
    if (!r)
        return;
    int w = deconv_row_reader_width(r), h = deconv_row_reader_height(r);
    float *band = malloc(sizeof(float) * (size_t)w * deconv_row_reader_channels(r) * 4);
    int y = 0;
    deconv_status s = DECONV_OK;
    while (y < h && (s = deconv_row_reader_read(r, h - y < 4 ? h - y : 4, band, &err)) == DECONV_OK)
        y += 4;
    CHECK(s == DECONV_ERR_FORMAT && y > 0 && y < h, "%s: failed at row %d of %d: %d", name, y, h,
          s);
    CHECK(strcmp(err.message, whole_err.message) == 0, "%s: '%s', not '%s'", name, err.message,
          whole_err.message);
    deconv_error again = {0};
    CHECK(deconv_row_reader_read(r, 1, band, &again) == s && !strcmp(again.message, err.message),
          "%s: the next read: '%s'", name, again.message);
    free(band);
    deconv_row_reader_close(r);
}

static void test_broken_files(void)
{
    unsigned long long seed = 17;
    png_fixture p = {64, 200, 3, 8, 0, 0}; /* random: the data take most of the file */
    deconv_image_free(make_png(at("long.png"), &p, &seed));
    truncate_copy(at("long.png"), at("cut.png"), 0.5);
    check_broken_mid_stream("cut.png");
    for (int tiled = 0; tiled <= 1; tiled++) {
        tiff_fixture t = {64, 200, 3, 8, tiled, tiled ? 16 : 0, 8, COMPRESSION_ADOBE_DEFLATE,
                          PHOTOMETRIC_RGB, -1};
        deconv_image_free(make_tiff(at("long.tif"), &t, &seed));
        /* libtiff reads the strip tables first: cut the data, not them */
        size_t n = 0;
        unsigned char *bytes = slurp(at("long.tif"), &n);
        uint32_t ifd = bytes ? (uint32_t)(bytes[4] | bytes[5] << 8 | bytes[6] << 16 |
                                          (uint32_t)bytes[7] << 24)
                             : 0;
        CHECK(ifd > n / 2, "long.tif: the directory is not after the data");
        if (bytes)
            memset(bytes + n / 2, 0xa5, ifd - n / 2 < 4096 ? ifd - n / 2 : 4096);
        write_bytes(at("cut.tif"), bytes, n);
        free(bytes);
        check_broken_mid_stream("cut.tif");
    }
    unsigned char buf[2048];
    int n = snprintf((char *)buf, sizeof buf, "P6 20 30 255\n");
    for (int i = 0; i < 20 * 15 * 3; i++)
        buf[n++] = (unsigned char)i;
    write_bytes(at("cut.ppm"), buf, (size_t)n);
    check_broken_mid_stream("cut.ppm");
    n = snprintf((char *)buf, sizeof buf, "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 20 +X 4\n");
    memset(buf + n, 100, 4 * 4 * 9);
    write_bytes(at("cut.hdr"), buf, (size_t)n + 4 * 4 * 9);
    check_broken_mid_stream("cut.hdr");

    /* a file that cannot be opened: deconv_image_read's message */
    deconv_error e1 = {0}, e2 = {0};
    deconv_metadata *meta = (deconv_metadata *)&e1; /* must become NULL */
    CHECK(deconv_row_reader_open(at("none.png"), 0, NULL, &meta, &e1) == NULL && meta == NULL &&
              deconv_image_read(at("none.png"), 0, NULL, &e2) == NULL &&
              e1.code == DECONV_ERR_IO && !strcmp(e1.message, e2.message),
          "missing file: '%s' / '%s'", e1.message, e2.message);
    CHECK(deconv_row_reader_open(at("long.png"), 1000, NULL, NULL, &e1) == NULL &&
              e1.code == DECONV_ERR_TOO_LARGE,
          "max_pixels: %d '%s'", e1.code, e1.message);
}

static void test_row_counts(void)
{
    unsigned long long seed = 23;
    png_fixture p = {12, 10, 2, 16, 0, 0};
    deconv_image *im = make_png(at("ten.png"), &p, &seed);
    deconv_error err = {0};
    deconv_row_reader *r = deconv_row_reader_open(at("ten.png"), 0, NULL, NULL, &err);
    CHECK(r && deconv_row_reader_width(r) == 12 && deconv_row_reader_height(r) == 10 &&
              deconv_row_reader_channels(r) == 2,
          "ten.png: %s", err.message);
    float band[12 * 2 * 11];
    CHECK(deconv_row_reader_read(r, 11, band, &err) == DECONV_ERR_ARG &&
              strstr(err.message, "ten.png") && strstr(err.message, "10 of its 10"),
          "11 rows of 10: '%s'", err.message);
    CHECK(deconv_row_reader_read(r, -1, band, &err) == DECONV_ERR_ARG, "-1 rows");
    CHECK(deconv_row_reader_read(r, 3, NULL, &err) == DECONV_ERR_ARG, "no buffer");
    CHECK(deconv_row_reader_read(r, 0, NULL, &err) == DECONV_OK, "0 rows");
    CHECK(deconv_row_reader_read(r, 10, band, &err) == DECONV_OK, "10 rows: %s", err.message);
    CHECK(memcmp(band, im->data, sizeof(float) * 12 * 10) == 0 &&
              memcmp(band + 120, im->data + 120, sizeof(float) * 12 * 10) == 0,
          "the 10 rows after refused reads");
    CHECK(deconv_row_reader_read(r, 1, band, &err) == DECONV_ERR_ARG &&
              strstr(err.message, "0 of its 10"),
          "a row past the end: '%s'", err.message);
    deconv_row_reader_close(r);
    deconv_row_reader_close(NULL);
    CHECK(deconv_row_reader_read(NULL, 1, band, &err) == DECONV_ERR_ARG &&
              deconv_row_reader_width(NULL) == 0,
          "NULL reader");

    /* writing: too many rows refused (nothing written), then the rest */
    deconv_row_writer *wr = deconv_row_writer_open(at("ten_bands.png"), 12, 10, 2, NULL, &err);
    CHECK(wr != NULL, "open: %s", err.message);
    CHECK(deconv_row_writer_write(wr, 11, band, &err) == DECONV_ERR_ARG &&
              strstr(err.message, "10 of its 10"),
          "11 rows of 10: '%s'", err.message);
    CHECK(deconv_row_writer_write(wr, -2, band, &err) == DECONV_ERR_ARG, "-2 rows");
    CHECK(deconv_row_writer_write(wr, 0, NULL, &err) == DECONV_OK, "0 rows");
    CHECK(deconv_row_writer_write(wr, 10, im->data, &err) == DECONV_OK, "10 rows: %s",
          err.message);
    CHECK(deconv_row_writer_write(wr, 1, band, &err) == DECONV_ERR_ARG, "a row past the end");
    CHECK(!exists(at("ten_bands.png")), "the file appeared before the commit");
    CHECK(deconv_row_writer_commit(wr, &err) == DECONV_OK, "commit: %s", err.message);
    deconv_write_options o;
    deconv_write_defaults(&o);
    CHECK(deconv_image_write(im, at("ten_whole.png"), &o, &err) == DECONV_OK, "%s", err.message);
    CHECK(same_file(at("ten_bands.png"), at("ten_whole.png")),
          "refused writes changed the file");

    /* committed early: an error, no file, an existing one untouched */
    wr = deconv_row_writer_open(at("early.tif"), 12, 10, 2, NULL, &err);
    deconv_row_writer_write(wr, 9, im->data, &err);
    CHECK(deconv_row_writer_commit(wr, &err) == DECONV_ERR_ARG &&
              strstr(err.message, "early.tif") && strstr(err.message, "9 of its 10"),
          "early commit: '%s'", err.message);
    CHECK(!exists(at("early.tif")) && count_tmp() == 0, "early commit left a file");
    write_bytes(at("kept.jpg"), "old\n", 4);
    wr = deconv_row_writer_open(at("kept.jpg"), 12, 10, 2, NULL, &err);
    deconv_row_writer_write(wr, 3, im->data, &err);
    CHECK(deconv_row_writer_commit(wr, &err) == DECONV_ERR_ARG && file_is(at("kept.jpg"), "old\n"),
          "early commit changed the existing file");

    /* aborted: no file, an existing one untouched, even with every row */
    wr = deconv_row_writer_open(at("aborted.png"), 12, 10, 2, NULL, &err);
    deconv_row_writer_write(wr, 2, im->data, &err);
    deconv_row_writer_abort(wr);
    CHECK(!exists(at("aborted.png")) && count_tmp() == 0, "abort left a file");
    wr = deconv_row_writer_open(at("kept.jpg"), 12, 10, 2, NULL, &err);
    CHECK(deconv_row_writer_write(wr, 10, im->data, &err) == DECONV_OK, "%s", err.message);
    CHECK(file_is(at("kept.jpg"), "old\n"), "the existing file changed before the commit");
    deconv_row_writer_abort(wr);
    CHECK(file_is(at("kept.jpg"), "old\n") && count_tmp() == 0, "abort changed the existing file");
    deconv_row_writer_abort(NULL);
    CHECK(deconv_row_writer_write(NULL, 1, band, &err) == DECONV_ERR_ARG &&
              deconv_row_writer_commit(NULL, &err) == DECONV_ERR_ARG,
          "NULL writer");

    /* refused at the open, with deconv_image_write's messages */
    deconv_error e2 = {0};
    o.bits = 12;
    CHECK(deconv_row_writer_open(at("x.tif"), 12, 10, 2, &o, &err) == NULL &&
              deconv_image_write(im, at("x.tif"), &o, &e2) == DECONV_ERR_ARG &&
              !strcmp(err.message, e2.message),
          "12 bits: '%s'", err.message);
    CHECK(deconv_row_writer_open(at("x.gif"), 12, 10, 2, NULL, &err) == NULL &&
              deconv_image_write(im, at("x.gif"), NULL, &e2) == DECONV_ERR_ARG &&
              !strcmp(err.message, e2.message),
          "extension: '%s'", err.message);
    CHECK(deconv_row_writer_open(at("x.png"), 0, 10, 2, NULL, &err) == NULL &&
              err.code == DECONV_ERR_ARG,
          "width 0");
    CHECK(deconv_row_writer_open(at("x.jpg"), 70000, 10, 3, NULL, &err) == NULL &&
              strstr(err.message, "larger than JPEG allows"),
          "JPEG size: '%s'", err.message);
    CHECK(!exists(at("x.tif")) && !exists(at("x.png")) && count_tmp() == 0, "refused opens");
    deconv_image_free(im);
}

/* A write that fails (the file size limit, as a full disk would) fails
 * every later call, and the commit leaves nothing. */
static void test_write_failure(void)
{
    unsigned long long seed = 29;
    deconv_image *im = deconv_image_new(256, 256, 3);
    for (size_t i = 0; i < (size_t)256 * 256 * 3; i++)
        im->data[i] = (float)check_rand(&seed);
    const char *names[2] = {"full.png", "full.tif"};
    struct rlimit old, small;
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = 50000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    for (int k = 0; k < 2; k++) {
        write_bytes(at(names[k]), "old\n", 4);
        deconv_error err = {0};
        deconv_row_writer *wr = deconv_row_writer_open(at(names[k]), 256, 256, 3, NULL, &err);
        CHECK(wr != NULL, "%s: %s", names[k], err.message);
        if (!wr || setrlimit(RLIMIT_FSIZE, &small) != 0) {
            deconv_row_writer_abort(wr);
            continue;
        }
        deconv_status s = DECONV_OK;
        float *band = malloc(sizeof(float) * 256 * 3 * 16);
        for (int y = 0; y < 256 && s == DECONV_OK; y += 16) {
            for (int c = 0; c < 3; c++)
                memcpy(band + c * 16 * 256, im->data + (size_t)c * 256 * 256 + (size_t)y * 256,
                       sizeof(float) * 16 * 256);
            s = deconv_row_writer_write(wr, 16, band, &err);
        }
        deconv_error again = {0};
        deconv_status s2 = deconv_row_writer_write(wr, 1, band, &again);
        deconv_status s3 = deconv_row_writer_commit(wr, &again);
        setrlimit(RLIMIT_FSIZE, &old);
        free(band);
        /* TIFF buffers strips and may meet the limit only at the commit */
        CHECK(s == DECONV_ERR_IO || s3 == DECONV_ERR_IO, "%s: %d, commit %d", names[k], s, s3);
        if (s == DECONV_ERR_IO)
            CHECK(strstr(err.message, names[k]) && strstr(err.message, "too large") &&
                      s2 == s && s3 == s,
                  "%s: '%s', then %d, %d", names[k], err.message, s2, s3);
        CHECK(file_is(at(names[k]), "old\n") && count_tmp() == 0,
              "%s: a failed write changed the file or left one", names[k]);
    }
    signal(SIGXFSZ, prev);
    deconv_image_free(im);
}

/* ------------------------------------------------------------------ */
/* Memory                                                               */
/* ------------------------------------------------------------------ */

static long peak_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss; /* KiB on Linux */
}

/* Sample (x, y) of the big gray image, as stored. */
static unsigned char big_sample(int x, int y) { return (unsigned char)(x + 3 * y + (y >> 5)); }

/* A 20000 x 20000 gray PNG, 400 MB of samples (1.6 GB as floats), written
 * and then read 64 rows at a time: the process's peak memory stays a few
 * bands above what it was. Run first, so that the peak is this test's. */
static void test_memory(void)
{
    const int side = 20000, band_rows = 64;
    long before = peak_kib();
    float *band = malloc(sizeof(float) * (size_t)side * band_rows);
    deconv_error err = {0};
    deconv_row_writer *wr = deconv_row_writer_open(at("big.png"), side, side, 1, NULL, &err);
    CHECK(wr != NULL, "big.png: %s", err.message);
    for (int y0 = 0; wr && y0 < side; y0 += band_rows) {
        int n = side - y0 < band_rows ? side - y0 : band_rows;
        for (int i = 0; i < n; i++)
            for (int x = 0; x < side; x++)
                band[(size_t)i * side + x] = (float)big_sample(x, y0 + i) / 255.0f;
        if (deconv_row_writer_write(wr, n, band, &err) != DECONV_OK) {
            CHECK(0, "big.png: write: %s", err.message);
            deconv_row_writer_abort(wr);
            wr = NULL;
        }
    }
    CHECK(wr && deconv_row_writer_commit(wr, &err) == DECONV_OK, "big.png: %s", err.message);
    deconv_row_reader *r = deconv_row_reader_open(at("big.png"), 0, NULL, NULL, &err);
    CHECK(r && deconv_row_reader_width(r) == side && deconv_row_reader_height(r) == side,
          "big.png: %s", err.message);
    long bad = 0;
    for (int y0 = 0; r && y0 < side; y0 += band_rows) {
        int n = side - y0 < band_rows ? side - y0 : band_rows;
        if (deconv_row_reader_read(r, n, band, &err) != DECONV_OK) {
            CHECK(0, "big.png: read: %s", err.message);
            break;
        }
        for (int i = 0; i < n; i++)
            for (int x = 0; x < side; x++)
                bad += band[(size_t)i * side + x] != (float)big_sample(x, y0 + i) / 255.0f;
    }
    deconv_row_reader_close(r);
    free(band);
    unlink(at("big.png"));
    long grown = peak_kib() - before;
    printf("rows_io: a %d x %d PNG written and read %d rows at a time: peak memory %ld KiB "
           "more (the samples: %ld KiB as bytes)\n",
           side, side, band_rows, grown, (long)side * side / 1024);
    CHECK(bad == 0, "big.png: %ld samples differ", bad);
    CHECK(grown < 64 * 1024, "the peak grew by %ld KiB", grown);
}

int main(void)
{
    umask(022);
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/deconv_rows_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_memory();
    test_png_reading();
    test_tiff_reading();
    test_other_reading();
    test_writing();
    test_broken_files();
    test_row_counts();
    test_write_failure();
    CHECK(count_tmp() == 0, "temporary files left");
    if (!getenv("DECONV_TEST_KEEP")) /* set it to look at the fixtures */
        remove_dir();
    return check_done("rows_io");
}
