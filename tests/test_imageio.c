/* Image files (imageio.c, atomic_file.c, icc.c): every PNG layout libpng
 * reads, the hand-read PNM family, the stb_image formats, the size limit,
 * broken files, the atomic writer, and the tone curve each file's tags give
 * (PNG cICP, iCCP, sRGB, gAMA; a JPEG's ICC profile; ICC profiles made by
 * LittleCMS, JPEGs by libjpeg). Fixtures are made at run time in a temporary
 * folder: PNGs by libpng directly, the other formats byte by byte. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <jpeglib.h> /* after stdio.h */
#include <lcms2.h>
#include <tiffio.h>

#include "check.h"
#include "deconv.h"
#include "imageio.h"  /* the atomic writer, the TIFF writer's BigTIFF switch */
#include "response.h" /* deconv_response_check */

/* The ICC fuzz target's checks, run on its seeds and regressions here. */
#define LLVMFuzzerTestOneInput fuzz_icc_one
#include "fuzz/fuzz_icc.c"
#undef LLVMFuzzerTestOneInput

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
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            unsigned char *b = realloc(buf, cap *= 2);
            if (!b) {
                free(buf);
                buf = NULL;
            }
            buf = b;
        }
    }
    fclose(f);
    *n = len;
    return buf;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Files in the folder whose name ends in ".tmp". */
static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l >= 4 && strcmp(e->d_name + l - 4, ".tmp") == 0)
            n++;
    }
    closedir(d);
    return n;
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xffffffffu;
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* ------------------------------------------------------------------ */
/* PNG fixtures through libpng                                          */
/* ------------------------------------------------------------------ */

typedef struct {
    int w, h, depth, ctype, interlace;
    const unsigned char *rows; /* h packed rows of the file's row size */
    const png_color *palette;
    int npalette;
    const unsigned char *trns_alpha; /* palette alpha */
    int ntrns;
    const png_color_16 *trns_color; /* gray/RGB transparent colour */
} png_spec;

static size_t spec_rowbytes(const png_spec *s)
{
    int ch = s->ctype == PNG_COLOR_TYPE_GRAY || s->ctype == PNG_COLOR_TYPE_PALETTE ? 1
             : s->ctype == PNG_COLOR_TYPE_GRAY_ALPHA                              ? 2
             : s->ctype == PNG_COLOR_TYPE_RGB                                     ? 3
                                                                                  : 4;
    return ((size_t)s->w * ch * s->depth + 7) / 8;
}

static int write_png_spec(const char *path, const png_spec *s)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_bytep *rows = malloc(sizeof *rows * (size_t)s->h);
    if (!rows || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        free(rows);
        return -1;
    }
    size_t rb = spec_rowbytes(s);
    for (int y = 0; y < s->h; y++)
        rows[y] = (png_bytep)(s->rows + (size_t)y * rb);
    png_init_io(png, f);
    png_set_IHDR(png, info, s->w, s->h, s->depth, s->ctype, s->interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (s->palette)
        png_set_PLTE(png, info, s->palette, s->npalette);
    if (s->trns_alpha || s->trns_color)
        png_set_tRNS(png, info, s->trns_alpha, s->ntrns, s->trns_color);
    png_write_info(png, info);
    png_write_image(png, rows); /* handles the Adam7 passes */
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return fclose(f) == 0 ? 0 : -1;
}

/* Decode a PNG as it is stored (no transformation except 16-bit rows kept
 * big-endian): the test's independent view of what the writer wrote.
 * Returns the samples (one unsigned per sample) or NULL. */
static unsigned *read_png_raw(const char *path, int *w, int *h, int *depth, int *ctype)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    unsigned char *volatile buf = NULL;
    unsigned *volatile out = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(f);
        free(buf);
        free(out);
        return NULL;
    }
    png_init_io(png, f);
    png_read_info(png, info);
    *w = (int)png_get_image_width(png, info);
    *h = (int)png_get_image_height(png, info);
    *depth = png_get_bit_depth(png, info);
    *ctype = png_get_color_type(png, info);
    int ch = png_get_channels(png, info);
    size_t rb = png_get_rowbytes(png, info);
    buf = malloc(rb);
    out = malloc(sizeof(unsigned) * (size_t)*w * *h * ch);
    if (!buf || !out)
        png_error(png, "oom");
    for (int y = 0; y < *h; y++) {
        png_read_row(png, buf, NULL);
        for (int k = 0; k < *w * ch; k++)
            out[(size_t)y * *w * ch + k] =
                *depth == 16 ? (unsigned)buf[2 * k] << 8 | buf[2 * k + 1] : buf[k];
    }
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    free(buf);
    return out;
}

static float sample(const deconv_image *im, int c, int y, int x)
{
    return im->data[((size_t)c * im->height + y) * im->width + x];
}

/* ------------------------------------------------------------------ */
/* PNG layouts                                                          */
/* ------------------------------------------------------------------ */

/* Gray at 1, 2 and 4 bits: expanded to 8 bits by bit replication, so a
 * sample v of d bits reads as v * (255 / (2^d - 1)) / 255 = v / (2^d - 1). */
static void test_gray_low_depths(void)
{
    const int w = 13, h = 3; /* rows end in a partly used byte */
    for (int d = 1; d <= 4; d *= 2) {
        int maxv = (1 << d) - 1, mult = 255 / maxv;
        int rb = (w * d + 7) / 8; /* packed rows, first pixel in the high bits */
        unsigned char rows[3 * 8];
        memset(rows, 0, sizeof rows);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int v = (x + 3 * y) % (maxv + 1);
                int bit = x * d;
                rows[y * rb + bit / 8] |= (unsigned char)(v << (8 - d - bit % 8));
            }
        png_spec s = {w, h, d, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, rows,
                      NULL, 0, NULL, 0, NULL};
        char name[32];
        snprintf(name, sizeof name, "gray%d.png", d);
        CHECK(write_png_spec(at(name), &s) == 0, "fixture %s", name);
        deconv_error err = {0};
        deconv_file_info info = {.bits = 0, .has_alpha = -1};
        deconv_image *im = deconv_image_read(at(name), 0, &info, &err);
        CHECK(im != NULL, "gray %d bit: %s", d, err.message);
        if (!im)
            continue;
        CHECK(im->width == w && im->height == h && im->channels == 1, "gray %d: shape", d);
        CHECK(info.bits == 8 && info.has_alpha == 0, "gray %d: info %d %d", d, info.bits,
              info.has_alpha);
        int bad = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                int v = (x + 3 * y) % (maxv + 1);
                float got = sample(im, 0, y, x);
                if (got != (float)(v * mult) / 255.0f || fabs(got - (double)v / maxv) > 1e-7)
                    bad++;
            }
        CHECK(bad == 0, "gray %d: %d wrong samples", d, bad);
        deconv_image_free(im);
    }
}

/* 8- and 16-bit gray, gray+alpha, RGB and RGBA, plain and interlaced, from
 * random samples k: each must read as k / (2^bits - 1). */
static void test_direct_layouts(void)
{
    static const int ctypes[4] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                  PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    unsigned long long seed = 12345;
    for (int il = 0; il < 2; il++)
        for (int ch = 1; ch <= 4; ch++)
            for (int bits = 8; bits <= 16; bits += 8) {
                /* odd sizes, so that every Adam7 pass is partly filled */
                int w = il ? 13 : 7, h = il ? 11 : 5;
                unsigned maxv = bits == 8 ? 255u : 65535u;
                size_t n = (size_t)w * h * ch;
                unsigned *k = malloc(n * sizeof *k);
                unsigned char *rows = malloc(n * 2);
                for (size_t i = 0; i < n; i++) {
                    k[i] = (unsigned)(check_rand(&seed) * (maxv + 1.0));
                    if (i < 2)
                        k[i] = i ? maxv : 0; /* both ends */
                    if (bits == 8) {
                        rows[i] = (unsigned char)k[i];
                    } else {
                        rows[2 * i] = (unsigned char)(k[i] >> 8);
                        rows[2 * i + 1] = (unsigned char)k[i];
                    }
                }
                png_spec s = {w, h, bits, ctypes[ch - 1],
                              il ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                              rows, NULL, 0, NULL, 0, NULL};
                char name[64];
                snprintf(name, sizeof name, "direct_c%d_b%d_i%d.png", ch, bits, il);
                CHECK(write_png_spec(at(name), &s) == 0, "fixture %s", name);
                deconv_error err = {0};
                deconv_file_info info = {.bits = 0, .has_alpha = -1};
                deconv_image *im = deconv_image_read(at(name), 0, &info, &err);
                CHECK(im != NULL, "%s: %s", name, err.message);
                if (im) {
                    CHECK(im->width == w && im->height == h && im->channels == ch,
                          "%s: shape %dx%dx%d", name, im->width, im->height, im->channels);
                    CHECK(info.bits == bits, "%s: bits %d", name, info.bits);
                    CHECK(info.has_alpha == (ch == 2 || ch == 4), "%s: has_alpha %d", name,
                          info.has_alpha);
                    int bad = 0;
                    for (int y = 0; y < h; y++)
                        for (int x = 0; x < w; x++)
                            for (int c = 0; c < ch; c++) {
                                unsigned kv = k[((size_t)y * w + x) * ch + c];
                                if (sample(im, c, y, x) != (float)kv / (float)maxv)
                                    bad++;
                            }
                    CHECK(bad == 0, "%s: %d wrong samples", name, bad);
                    deconv_image_free(im);
                }
                free(k);
                free(rows);
            }
}

static void test_palette_and_trns(void)
{
    static const png_color pal[5] = {
        {255, 0, 0}, {0, 128, 0}, {0, 0, 255}, {17, 34, 51}, {250, 251, 252}};
    const int w = 5, h = 2;
    /* 8-bit indices, no tRNS: RGB */
    unsigned char idx8[10];
    for (int i = 0; i < 10; i++)
        idx8[i] = (unsigned char)((i * 3) % 5);
    png_spec s = {w, h, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, idx8, pal, 5,
                  NULL, 0, NULL};
    CHECK(write_png_spec(at("pal.png"), &s) == 0, "fixture pal.png");
    deconv_error err = {0};
    deconv_file_info info = {.bits = 0, .has_alpha = -1};
    deconv_image *im = deconv_image_read(at("pal.png"), 0, &info, &err);
    CHECK(im != NULL, "palette: %s", err.message);
    if (im) {
        CHECK(im->channels == 3 && info.bits == 8 && !info.has_alpha, "palette: %d ch %d bits",
              im->channels, info.bits);
        int bad = 0;
        for (int i = 0; i < 10; i++) {
            const png_color *p = &pal[idx8[i]];
            int y = i / w, x = i % w;
            if (sample(im, 0, y, x) != p->red / 255.0f ||
                sample(im, 1, y, x) != p->green / 255.0f ||
                sample(im, 2, y, x) != p->blue / 255.0f)
                bad++;
        }
        CHECK(bad == 0, "palette: %d wrong pixels", bad);
        deconv_image_free(im);
    }

    /* 4-bit indices with tRNS for the first two entries: RGBA, the others
     * opaque */
    static const unsigned char trns[2] = {0, 100};
    unsigned char idx4[2][3];
    memset(idx4, 0, sizeof idx4);
    for (int i = 0; i < 10; i++)
        idx4[i / w][(i % w) / 2] |= (unsigned char)(idx8[i] << ((i % w) % 2 ? 0 : 4));
    png_spec s4 = {w, h, 4, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, &idx4[0][0], pal, 5,
                   trns, 2, NULL};
    CHECK(write_png_spec(at("pal_trns.png"), &s4) == 0, "fixture pal_trns.png");
    im = deconv_image_read(at("pal_trns.png"), 0, &info, &err);
    CHECK(im != NULL, "palette+tRNS: %s", err.message);
    if (im) {
        CHECK(im->channels == 4 && info.bits == 8 && info.has_alpha, "palette+tRNS: %d ch",
              im->channels);
        int bad = 0;
        for (int i = 0; i < 10; i++) {
            int j = idx8[i], y = i / w, x = i % w;
            float alpha = j < 2 ? trns[j] / 255.0f : 1.0f;
            if (sample(im, 0, y, x) != pal[j].red / 255.0f ||
                sample(im, 1, y, x) != pal[j].green / 255.0f ||
                sample(im, 2, y, x) != pal[j].blue / 255.0f || sample(im, 3, y, x) != alpha)
                bad++;
        }
        CHECK(bad == 0, "palette+tRNS: %d wrong pixels", bad);
        deconv_image_free(im);
    }

    /* gray with a transparent value: gray+alpha, alpha 0 exactly there */
    unsigned char g[10] = {0, 7, 9, 7, 255, 7, 1, 2, 3, 7};
    png_color_16 key = {0, 0, 0, 0, 7};
    png_spec sg = {w, h, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, g, NULL, 0, NULL, 0, &key};
    CHECK(write_png_spec(at("gray_trns.png"), &sg) == 0, "fixture gray_trns.png");
    im = deconv_image_read(at("gray_trns.png"), 0, &info, &err);
    CHECK(im != NULL, "gray+tRNS: %s", err.message);
    if (im) {
        CHECK(im->channels == 2 && info.has_alpha && info.bits == 8, "gray+tRNS: %d ch",
              im->channels);
        int bad = 0;
        for (int i = 0; i < 10; i++) {
            int y = i / w, x = i % w;
            if (sample(im, 0, y, x) != g[i] / 255.0f ||
                sample(im, 1, y, x) != (g[i] == 7 ? 0.0f : 1.0f))
                bad++;
        }
        CHECK(bad == 0, "gray+tRNS: %d wrong pixels", bad);
        deconv_image_free(im);
    }

    /* 16-bit RGB with a transparent colour: 16-bit RGBA */
    unsigned char rgb16[2 * 3 * 2] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,
                                      0x00, 0x01, 0x00, 0x02, 0x00, 0x03};
    png_color_16 key16 = {0, 1, 2, 3, 0};
    png_spec s16 = {2, 1, 16, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, rgb16, NULL, 0, NULL, 0,
                    &key16};
    CHECK(write_png_spec(at("rgb16_trns.png"), &s16) == 0, "fixture rgb16_trns.png");
    im = deconv_image_read(at("rgb16_trns.png"), 0, &info, &err);
    CHECK(im != NULL, "rgb16+tRNS: %s", err.message);
    if (im) {
        CHECK(im->channels == 4 && info.bits == 16 && info.has_alpha, "rgb16+tRNS: %d ch %d bits",
              im->channels, info.bits);
        CHECK(sample(im, 0, 0, 0) == 0x1234 / 65535.0f && sample(im, 1, 0, 0) == 0x5678 / 65535.0f &&
                  sample(im, 2, 0, 0) == 0x9abc / 65535.0f && sample(im, 3, 0, 0) == 1.0f,
              "rgb16+tRNS: opaque pixel");
        CHECK(sample(im, 0, 0, 1) == 1 / 65535.0f && sample(im, 2, 0, 1) == 3 / 65535.0f &&
                  sample(im, 3, 0, 1) == 0.0f,
              "rgb16+tRNS: transparent pixel");
        deconv_image_free(im);
    }
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */
/* ------------------------------------------------------------------ */

static void test_round_trips(void)
{
    static const int ctypes[4] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                  PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
    unsigned long long seed = 777;
    for (int ch = 1; ch <= 4; ch++)
        for (int bits = 8; bits <= 16; bits += 8) {
            const int w = 23, h = 9;
            unsigned maxv = bits == 8 ? 255u : 65535u;
            deconv_image *im = deconv_image_new(w, h, ch);
            unsigned *k = malloc(sizeof *k * (size_t)w * h * ch);
            for (int c = 0; c < ch; c++)
                for (int i = 0; i < w * h; i++) {
                    unsigned v = (unsigned)(check_rand(&seed) * (maxv + 1.0));
                    k[(size_t)i * ch + c] = v; /* interleaved, as stored */
                    im->data[(size_t)c * w * h + i] = (float)v / (float)maxv;
                }
            char name[64];
            snprintf(name, sizeof name, "rt_c%d_b%d.png", ch, bits);
            deconv_error err = {0};
            deconv_status s = deconv_image_write_png(im, at(name), bits, &err);
            CHECK(s == DECONV_OK, "%s: write: %s", name, err.message);

            int rw, rh, rd, rc;
            unsigned *raw = read_png_raw(at(name), &rw, &rh, &rd, &rc);
            CHECK(raw != NULL, "%s: libpng cannot read it back", name);
            if (raw) {
                CHECK(rw == w && rh == h && rd == bits && rc == ctypes[ch - 1],
                      "%s: stored as %dx%d depth %d type %d", name, rw, rh, rd, rc);
                CHECK(memcmp(raw, k, sizeof *k * (size_t)w * h * ch) == 0,
                      "%s: stored samples differ", name);
                free(raw);
            }

            deconv_file_info info = {.bits = 0, .has_alpha = -1};
            deconv_image *back = deconv_image_read(at(name), 0, &info, &err);
            CHECK(back != NULL, "%s: read: %s", name, err.message);
            if (back) {
                CHECK(back->width == w && back->height == h && back->channels == ch,
                      "%s: shape", name);
                CHECK(info.bits == bits && info.has_alpha == (ch % 2 == 0), "%s: info", name);
                CHECK(memcmp(back->data, im->data, sizeof(float) * (size_t)w * h * ch) == 0,
                      "%s: samples changed on the round trip", name);
                deconv_image_free(back);
            }
            free(k);
            deconv_image_free(im);
        }
    CHECK(count_tmp(g_dir) == 0, "temporary files left after writing");
}

/* Rounding to nearest, clamping to [0, 1], NaN to 0. */
static void test_quantisation(void)
{
    const float v8[] = {-0.5f, NAN, 0.0f, 1.0f, 2.0f, INFINITY, -INFINITY,
                        10.49f / 255, 10.51f / 255, 0.5f};
    /* 0.5 * 255 = 127.5 rounds up */
    const unsigned want8[] = {0, 0, 0, 255, 255, 255, 0, 10, 11, 128};
    const float v16[] = {-1.0f, NAN, 1.5f, 1000.49f / 65535, 1000.51f / 65535, 1.0f};
    const unsigned want16[] = {0, 0, 65535, 1000, 1001, 65535};
    for (int pass = 0; pass < 2; pass++) {
        const float *v = pass ? v16 : v8;
        const unsigned *want = pass ? want16 : want8;
        int n = pass ? 6 : 10, bits = pass ? 16 : 8;
        deconv_image *im = deconv_image_new(n, 1, 1);
        memcpy(im->data, v, sizeof(float) * n);
        deconv_error err = {0};
        CHECK(deconv_image_write_png(im, at("quant.png"), bits, &err) == DECONV_OK, "%s",
              err.message);
        int w, h, d, t;
        unsigned *raw = read_png_raw(at("quant.png"), &w, &h, &d, &t);
        CHECK(raw && w == n && d == bits, "quantisation file");
        if (raw) {
            for (int i = 0; i < n; i++)
                CHECK(raw[i] == want[i], "%d bits: %g stored as %u, expected %u", bits, v[i],
                      raw[i], want[i]);
            free(raw);
        }
        deconv_image_free(im);
    }
}

static void test_write_errors(void)
{
    deconv_image *im = deconv_image_new(4, 3, 3);
    for (int i = 0; i < 36; i++)
        im->data[i] = (float)i / 36.0f;
    deconv_error err = {0};

    /* a folder that does not exist: an I/O error naming the path, nothing
     * created */
    const char *nodir = at("no_such_dir/out.png");
    CHECK(deconv_image_write_png(im, nodir, 8, &err) == DECONV_ERR_IO, "no folder: code %d",
          err.code);
    CHECK(strstr(err.message, nodir) && strstr(err.message, "No such file"), "no folder: '%s'",
          err.message);
    CHECK(!exists(at("no_such_dir")), "no folder: something was created");

    /* an invalid argument over an existing file leaves it byte-identical */
    static const char sentinel[] = "sentinel: must survive\n";
    write_bytes(at("keep.png"), sentinel, sizeof sentinel - 1);
    CHECK(deconv_image_write_png(im, at("keep.png"), 12, &err) == DECONV_ERR_ARG,
          "bits 12: code %d", err.code);
    CHECK(strstr(err.message, "12") != NULL, "bits 12: '%s'", err.message);
    size_t n = 0;
    unsigned char *got = slurp(at("keep.png"), &n);
    CHECK(got && n == sizeof sentinel - 1 && memcmp(got, sentinel, n) == 0,
          "bits 12: the existing file changed");
    free(got);

    /* other invalid images */
    deconv_image bad = *im;
    bad.channels = 5;
    CHECK(deconv_image_write_png(&bad, at("keep.png"), 8, &err) == DECONV_ERR_ARG, "5 channels");
    bad = *im;
    bad.data = NULL;
    CHECK(deconv_image_write_png(&bad, at("keep.png"), 8, &err) == DECONV_ERR_ARG, "no data");
    CHECK(deconv_image_write_png(NULL, at("keep.png"), 8, &err) == DECONV_ERR_ARG, "NULL image");
    CHECK(deconv_image_write_png(im, at("keep.png"), 8, NULL) == DECONV_OK, "err may be NULL");
    CHECK(deconv_image_write_png(im, at("no_such_dir/x.png"), 8, NULL) == DECONV_ERR_IO,
          "err may be NULL on failure");

    /* a directory as the target */
    mkdir(at("dir.png"), 0755);
    CHECK(deconv_image_write_png(im, at("dir.png"), 8, &err) == DECONV_ERR_IO, "directory");
    CHECK(strstr(err.message, "directory") != NULL, "directory: '%s'", err.message);
    rmdir(at("dir.png"));

    /* replacing an existing file: the new content, the old permissions */
    write_bytes(at("replace.png"), sentinel, sizeof sentinel - 1);
    chmod(at("replace.png"), 0640);
    CHECK(deconv_image_write_png(im, at("replace.png"), 16, &err) == DECONV_OK, "replace: %s",
          err.message);
    struct stat st;
    CHECK(stat(at("replace.png"), &st) == 0 && (st.st_mode & 0777) == 0640,
          "replace: mode %o, expected 640", (unsigned)(st.st_mode & 0777));
    deconv_image *back = deconv_image_read(at("replace.png"), 0, NULL, &err);
    CHECK(back && back->channels == 3, "replace: not the new image: %s", err.message);
    deconv_image_free(back);
    /* a read-only file is refused as fopen(path, "w") would (root may
     * write anything) */
    if (geteuid() != 0) {
        chmod(at("replace.png"), 0444);
        CHECK(deconv_image_write_png(im, at("replace.png"), 8, &err) == DECONV_ERR_IO &&
                  strstr(err.message, "Permission denied"),
              "read-only: '%s'", err.message);
        chmod(at("replace.png"), 0640);
    }
    /* a new file: 0666 less the umask (set to 022 by main) */
    unlink(at("fresh.png"));
    CHECK(deconv_image_write_png(im, at("fresh.png"), 8, &err) == DECONV_OK, "fresh: %s",
          err.message);
    CHECK(stat(at("fresh.png"), &st) == 0 && (st.st_mode & 0777) == 0644,
          "fresh: mode %o, expected 644", (unsigned)(st.st_mode & 0777));

    /* a write that fails part way (the file size limit stands in for a full
     * disk): an I/O error, the old file intact, no temporary file left */
    deconv_image *big = deconv_image_new(300, 200, 3);
    unsigned long long seed = 99;
    for (size_t i = 0; i < 300 * 200 * 3; i++)
        big->data[i] = (float)check_rand(&seed); /* noise: does not compress */
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit small = old;
    small.rlim_cur = 20000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &small) == 0) {
        write_bytes(at("full.png"), sentinel, sizeof sentinel - 1);
        deconv_status s = deconv_image_write_png(big, at("full.png"), 8, &err);
        setrlimit(RLIMIT_FSIZE, &old);
        CHECK(s == DECONV_ERR_IO, "file size limit: code %d", s);
        CHECK(strstr(err.message, at("full.png")) && strstr(err.message, "too large"),
              "file size limit: '%s'", err.message);
        got = slurp(at("full.png"), &n);
        CHECK(got && n == sizeof sentinel - 1 && memcmp(got, sentinel, n) == 0,
              "file size limit: the existing file changed");
        free(got);
    }
    signal(SIGXFSZ, prev);
    deconv_image_free(big);
    deconv_image_free(im);
    CHECK(count_tmp(g_dir) == 0, "temporary files left after failures");
}

/* ------------------------------------------------------------------ */
/* The atomic writer itself                                             */
/* ------------------------------------------------------------------ */

static int file_is(const char *path, const char *text)
{
    size_t n;
    unsigned char *got = slurp(path, &n);
    int same = got && n == strlen(text) && memcmp(got, text, n) == 0;
    free(got);
    return same;
}

/* The name of the one temporary file in g_dir, or "" */
static void find_tmp(char *out, size_t size)
{
    out[0] = '\0';
    DIR *d = opendir(g_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l >= 4 && strcmp(e->d_name + l - 4, ".tmp") == 0)
            snprintf(out, size, "%s", e->d_name);
    }
    if (d)
        closedir(d);
}

static void test_atomic(void)
{
    deconv_error err = {0};
    unlink(at("a.txt"));
    deconv_atomic_file *f = deconv_atomic_open(at("a.txt"), &err);
    CHECK(f != NULL, "open: %s", err.message);
    if (f) {
        char tmp[256];
        find_tmp(tmp, sizeof tmp);
        /* ".a.txt." + 6 random characters + ".tmp" */
        CHECK(strncmp(tmp, ".a.txt.", 7) == 0 && strlen(tmp) == 7 + 6 + 4,
              "temporary name '%s'", tmp);
        CHECK(!exists(at("a.txt")), "the target exists before the commit");
        fprintf(deconv_atomic_stream(f), "hello\n");
        CHECK(deconv_atomic_commit(f, &err) == DECONV_OK, "commit: %s", err.message);
        CHECK(file_is(at("a.txt"), "hello\n"), "committed content");
    }

    write_bytes(at("b.txt"), "old\n", 4);
    f = deconv_atomic_open(at("b.txt"), &err);
    CHECK(f != NULL, "open b: %s", err.message);
    if (f) {
        fprintf(deconv_atomic_stream(f), "new\n");
        deconv_atomic_abort(f);
    }
    CHECK(file_is(at("b.txt"), "old\n"), "abort changed the target");
    CHECK(count_tmp(g_dir) == 0, "abort left its temporary file");
    deconv_atomic_abort(NULL);
    CHECK(deconv_atomic_stream(NULL) == NULL, "stream of NULL");

    CHECK(deconv_atomic_open("", &err) == NULL && err.code == DECONV_ERR_ARG, "empty name");
    CHECK(deconv_atomic_open(NULL, NULL) == NULL, "NULL name, NULL err");
    mkdir(at("d"), 0755);
    CHECK(deconv_atomic_open(at("d"), &err) == NULL && err.code == DECONV_ERR_IO &&
              strstr(err.message, "directory"),
          "directory: '%s'", err.message);
    char slash[1100];
    snprintf(slash, sizeof slash, "%s/", at("new"));
    CHECK(deconv_atomic_open(slash, &err) == NULL && err.code == DECONV_ERR_IO, "trailing slash");
    rmdir(at("d"));
    if (mkfifo(at("fifo"), 0644) == 0) {
        CHECK(deconv_atomic_open(at("fifo"), &err) == NULL && err.code == DECONV_ERR_IO &&
                  strstr(err.message, "not a regular file"),
              "fifo: '%s'", err.message);
        unlink(at("fifo"));
    }

    /* Data still in the stdio buffer at commit time that cannot be written:
     * the failure shows in the final flush. The target stays as it was. */
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit small = old;
    small.rlim_cur = 50;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &small) == 0) {
        f = deconv_atomic_open(at("b.txt"), &err);
        CHECK(f != NULL, "open b again: %s", err.message);
        if (f) {
            for (int i = 0; i < 20; i++)
                fprintf(deconv_atomic_stream(f), "line %d\n", i); /* > 50 bytes */
            deconv_status s = deconv_atomic_commit(f, &err);
            CHECK(s == DECONV_ERR_IO && strstr(err.message, at("b.txt")) &&
                      strstr(err.message, "too large"),
                  "commit over the size limit: %d '%s'", s, err.message);
        }
        setrlimit(RLIMIT_FSIZE, &old);
        CHECK(file_is(at("b.txt"), "old\n"), "failed commit changed the target");
        CHECK(count_tmp(g_dir) == 0, "failed commit left its temporary file");
    }
    signal(SIGXFSZ, prev);
    unlink(at("a.txt"));
    unlink(at("b.txt"));
}

/* ------------------------------------------------------------------ */
/* Limits and broken files                                              */
/* ------------------------------------------------------------------ */

/* Signature and IHDR only: a header claiming w x h, nothing after. */
static void write_png_header_only(const char *path, uint32_t w, uint32_t h)
{
    unsigned char b[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13,
                           'I', 'H', 'D', 'R'};
    put32(b + 16, w);
    put32(b + 20, h);
    b[24] = 8; /* depth */
    b[25] = 2; /* RGB */
    put32(b + 29, crc32_of(b + 12, 17));
    write_bytes(path, b, sizeof b);
}

static void test_limits(void)
{
    deconv_error err = {0};
    write_png_header_only(at("huge.png"), 100000, 100000);
    deconv_image *im = deconv_image_read(at("huge.png"), 200000000, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_TOO_LARGE, "huge: code %d", err.code);
    CHECK(strstr(err.message, "100000 x 100000 = 10000 megapixels") &&
              strstr(err.message, "limit of 200 megapixels") && strstr(err.message, "huge.png"),
          "huge: '%s'", err.message);
    /* Without a limit the reader gets as far as the missing image data: a
     * broken file, not an attempt at allocating 120 GB. */
    im = deconv_image_read(at("huge.png"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT, "huge, no limit: code %d '%s'", err.code,
          err.message);

    /* a real 20 x 20 image against limits just below and at its size */
    unsigned char px[400];
    for (int i = 0; i < 400; i++)
        px[i] = (unsigned char)i;
    png_spec s = {20, 20, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, px, NULL, 0, NULL, 0, NULL};
    write_png_spec(at("twenty.png"), &s);
    im = deconv_image_read(at("twenty.png"), 399, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_TOO_LARGE, "399: code %d", err.code);
    CHECK(strstr(err.message, "20 x 20") != NULL, "399: '%s'", err.message);
    im = deconv_image_read(at("twenty.png"), 400, NULL, &err);
    CHECK(im != NULL, "400: %s", err.message);
    deconv_image_free(im);

    /* the other readers check before loading too */
    const char pgm[] = "P5\n100000 100000\n255\n";
    write_bytes(at("huge.pgm"), pgm, sizeof pgm - 1);
    im = deconv_image_read(at("huge.pgm"), 1000000, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_TOO_LARGE, "huge pgm: code %d", err.code);
    unsigned char bmp[54] = {'B', 'M'};
    bmp[10] = 54;  /* pixel data offset */
    bmp[14] = 40;  /* BITMAPINFOHEADER */
    bmp[18] = 0xa0, bmp[19] = 0x86, bmp[20] = 0x01; /* width 100000 */
    bmp[22] = 0xa0, bmp[23] = 0x86, bmp[24] = 0x01; /* height 100000 */
    bmp[26] = 1;   /* planes */
    bmp[28] = 24;  /* bits per pixel */
    write_bytes(at("huge.bmp"), bmp, sizeof bmp);
    {
        /* An 8-bit BMP, 4 x 2, with a palette of 2 colours: index 1 reads
         * white; index 7 lies past the palette and is refused (stb_image
         * would read its uninitialised stack there). */
        unsigned char pb[54 + 8 + 8] = {'B', 'M'};
        pb[10] = 54 + 8, pb[14] = 40, pb[18] = 4, pb[22] = 2, pb[26] = 1, pb[28] = 8;
        unsigned char pal[8] = {0, 0, 0, 0, 255, 255, 255, 0};
        memcpy(pb + 54, pal, 8);
        unsigned char pix[8] = {0, 1, 1, 0, 1, 0, 0, 1}; /* bottom row first */
        memcpy(pb + 62, pix, 8);
        write_bytes(at("pal.bmp"), pb, sizeof pb);
        deconv_image *ok = deconv_image_read(at("pal.bmp"), 0, NULL, &err);
        CHECK(ok && ok->data[0] == 1.0f && ok->data[1] == 0.0f && ok->data[5] == 1.0f,
              "palette bmp: %s",
              ok ? "wrong values" : err.message);
        deconv_image_free(ok);
        pb[62 + 5] = 7;
        write_bytes(at("palbad.bmp"), pb, sizeof pb);
        ok = deconv_image_read(at("palbad.bmp"), 0, NULL, &err);
        CHECK(!ok && strstr(err.message, "past the palette"), "index past the palette: %s",
              ok ? "accepted" : err.message);
        deconv_image_free(ok);
        /* the pixels' offset inside the header: stb_image would count a
         * negative palette and read none of it */
        pb[62 + 5] = 1;
        pb[10] = 40;
        write_bytes(at("paloffset.bmp"), pb, sizeof pb);
        ok = deconv_image_read(at("paloffset.bmp"), 0, NULL, &err);
        CHECK(!ok && strstr(err.message, "inside the header"), "offset inside the header: %s",
              ok ? "accepted" : err.message);
        deconv_image_free(ok);
    }
    im = deconv_image_read(at("huge.bmp"), 1000000, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_TOO_LARGE, "huge bmp: code %d '%s'", err.code,
          err.message);
}

static void test_broken_files(void)
{
    deconv_error err = {0};
    deconv_image *im;

    im = deconv_image_read(at("missing.png"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_IO, "missing: code %d", err.code);
    CHECK(strstr(err.message, "cannot open") && strstr(err.message, "missing.png") &&
              strstr(err.message, "No such file or directory"),
          "missing: '%s'", err.message);
    CHECK(deconv_image_read(at("missing.png"), 0, NULL, NULL) == NULL, "missing, err NULL");

    write_bytes(at("empty.png"), "", 0);
    im = deconv_image_read(at("empty.png"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT, "empty: code %d", err.code);
    CHECK(strstr(err.message, "empty.png' is empty") != NULL, "empty: '%s'", err.message);

    mkdir(at("adir"), 0755);
    im = deconv_image_read(at("adir"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_IO && strstr(err.message, "directory"),
          "directory: '%s'", err.message);
    rmdir(at("adir"));

    const char text[] = "this is not an image\n";
    write_bytes(at("text.png"), text, sizeof text - 1);
    im = deconv_image_read(at("text.png"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT, "text: code %d", err.code);
    CHECK(strstr(err.message, "text.png' is not a supported image (PNG, JPEG") != NULL,
          "text: '%s'", err.message);

    /* random bytes; the first is one no format starts with and that fails
     * stb_image's TGA test (colour map type > 1) */
    unsigned char rnd[300];
    unsigned long long seed = 4242;
    for (int i = 0; i < 300; i++)
        rnd[i] = (unsigned char)(check_rand(&seed) * 256);
    rnd[0] = 0x42 ^ 0x01, rnd[1] = 0x77;
    write_bytes(at("random.bin"), rnd, sizeof rnd);
    im = deconv_image_read(at("random.bin"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT && strstr(err.message, "not a supported"),
          "random: '%s'", err.message);

    /* a JPEG signature followed by rubbish */
    unsigned char jpg[64] = {0xFF, 0xD8, 0xFF, 0x01};
    write_bytes(at("bad.jpg"), jpg, sizeof jpg);
    im = deconv_image_read(at("bad.jpg"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT && strstr(err.message, "corrupt"),
          "bad jpeg: '%s'", err.message);

    /* a valid PNG to break: 16 x 16 RGB noise */
    unsigned char px[16 * 16 * 3];
    for (size_t i = 0; i < sizeof px; i++)
        px[i] = (unsigned char)(check_rand(&seed) * 256);
    png_spec s = {16, 16, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, px, NULL, 0, NULL, 0, NULL};
    write_png_spec(at("good.png"), &s);
    size_t n;
    unsigned char *png = slurp(at("good.png"), &n);
    CHECK(png && n > 100, "good.png");
    if (!png)
        return;
    im = deconv_image_read(at("good.png"), 0, NULL, &err);
    CHECK(im != NULL, "good.png: %s", err.message);
    deconv_image_free(im);

    /* cut in the middle of the image data */
    write_bytes(at("truncated.png"), png, n / 2);
    im = deconv_image_read(at("truncated.png"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT, "truncated: code %d", err.code);
    CHECK(strstr(err.message, "truncated.png' is corrupt") &&
              strstr(err.message, "unexpected end of file"),
          "truncated: '%s'", err.message);
    /* cut just before IEND (12 bytes): every row is there and checked, so
     * the image is read */
    CHECK(n > 12 && memcmp(png + n - 8, "IEND", 4) == 0, "good.png ends in IEND");
    write_bytes(at("no_iend.png"), png, n - 12);
    im = deconv_image_read(at("no_iend.png"), 0, NULL, &err);
    CHECK(im && im->width == 16 && im->channels == 3, "no IEND: %s", err.message);
    if (im)
        CHECK(sample(im, 1, 0, 0) == px[1] / 255.0f && sample(im, 2, 15, 15) == px[767] / 255.0f,
              "no IEND: samples");
    deconv_image_free(im);
    /* only part of the signature */
    write_bytes(at("sig.png"), png, 5);
    im = deconv_image_read(at("sig.png"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT && strstr(err.message, "corrupt"),
          "partial signature: '%s'", err.message);

    /* find the IDAT chunk; corrupt its CRC, then the IHDR's */
    size_t idat = 0;
    for (size_t p = 8; p + 12 <= n;) {
        uint32_t len = (uint32_t)png[p] << 24 | (uint32_t)png[p + 1] << 16 |
                       (uint32_t)png[p + 2] << 8 | png[p + 3];
        if (memcmp(png + p + 4, "IDAT", 4) == 0) {
            idat = p;
            break;
        }
        p += 12 + len;
    }
    CHECK(idat > 0, "no IDAT found");
    if (idat) {
        uint32_t len = (uint32_t)png[idat] << 24 | (uint32_t)png[idat + 1] << 16 |
                       (uint32_t)png[idat + 2] << 8 | png[idat + 3];
        png[idat + 8 + len + 3] ^= 0x55; /* last CRC byte */
        write_bytes(at("crc_idat.png"), png, n);
        png[idat + 8 + len + 3] ^= 0x55;
        im = deconv_image_read(at("crc_idat.png"), 0, NULL, &err);
        CHECK(im == NULL && err.code == DECONV_ERR_FORMAT, "IDAT CRC: code %d", err.code);
        CHECK(strstr(err.message, "corrupt") && strstr(err.message, "CRC"), "IDAT CRC: '%s'",
              err.message);
        deconv_image_free(im);
    }
    png[8 + 8 + 13] ^= 0x01; /* first byte of the IHDR CRC */
    write_bytes(at("crc_ihdr.png"), png, n);
    im = deconv_image_read(at("crc_ihdr.png"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT, "IHDR CRC: code %d", err.code);
    CHECK(strstr(err.message, "corrupt") && strstr(err.message, "CRC"), "IHDR CRC: '%s'",
          err.message);
    deconv_image_free(im);
    free(png);
}

/* ------------------------------------------------------------------ */
/* PNM and the stb_image formats                                        */
/* ------------------------------------------------------------------ */

static deconv_image *read_ok(const char *name, deconv_file_info *info)
{
    deconv_error err = {0};
    deconv_image *im = deconv_image_read(at(name), 0, info, &err);
    CHECK(im != NULL, "%s: %s", name, err.message);
    return im;
}

static void test_pnm(void)
{
    deconv_file_info info;
    deconv_image *im;

    /* P5, 8 bits, a comment in the header */
    const unsigned char p5[] = "P5\n# made by hand\n3 2\n255\n\x00\x01\x80\xfe\xff\x10";
    write_bytes(at("g8.pgm"), p5, sizeof p5 - 1);
    if ((im = read_ok("g8.pgm", &info))) {
        static const int want[6] = {0, 1, 128, 254, 255, 16};
        CHECK(im->width == 3 && im->height == 2 && im->channels == 1 && info.bits == 8 &&
                  !info.has_alpha,
              "g8.pgm: shape");
        for (int i = 0; i < 6; i++)
            CHECK(im->data[i] == want[i] / 255.0f, "g8.pgm: sample %d is %g", i, im->data[i]);
        CHECK(info.response.kind == DECONV_RESPONSE_PARAMETRIC &&
                  !strcmp(info.response.name, "sRGB (untagged)") && !info.warning[0],
              "g8.pgm: '%s'", info.response.name);
        deconv_image_free(im);
    }

    /* P6, 16 bits, big-endian: 0x0102 is 258 */
    const unsigned char p6[] = "P6 2 1 65535\n\x01\x02\xff\xff\x00\x00\x80\x00\x00\x01\x12\x34";
    write_bytes(at("c16.ppm"), p6, sizeof p6 - 1);
    if ((im = read_ok("c16.ppm", &info))) {
        CHECK(im->width == 2 && im->height == 1 && im->channels == 3 && info.bits == 16,
              "c16.ppm: shape");
        /* planar: R of both pixels, then G, then B */
        const unsigned want[6] = {0x0102, 0x8000, 0xffff, 0x0001, 0x0000, 0x1234};
        for (int i = 0; i < 6; i++)
            CHECK(im->data[i] == want[i] / 65535.0f, "c16.ppm: sample %d", i);
        deconv_image_free(im);
    }

    /* P2, maxval 1000: samples scale by 1/1000 */
    const char p2[] = "P2\n2 2\n1000\n0 500\n1000 # comment\n250\n";
    write_bytes(at("a.pgm"), p2, sizeof p2 - 1);
    if ((im = read_ok("a.pgm", &info))) {
        CHECK(im->channels == 1 && info.bits == 16, "a.pgm: shape");
        CHECK(im->data[0] == 0.0f && im->data[1] == 0.5f && im->data[2] == 1.0f &&
                  im->data[3] == 0.25f,
              "a.pgm: %g %g %g %g", im->data[0], im->data[1], im->data[2], im->data[3]);
        deconv_image_free(im);
    }

    /* P3 */
    const char p3[] = "P3 1 1 15 15 0 3\n";
    write_bytes(at("a.ppm"), p3, sizeof p3 - 1);
    if ((im = read_ok("a.ppm", &info))) {
        CHECK(im->channels == 3 && info.bits == 8 && im->data[0] == 1.0f && im->data[1] == 0.0f &&
                  im->data[2] == 3 / 15.0f,
              "a.ppm");
        deconv_image_free(im);
    }

    /* P1 and P4: 1 is black */
    const char p1[] = "P1\n3 2\n1 0 1\n001\n";
    write_bytes(at("a.pbm"), p1, sizeof p1 - 1);
    const unsigned char p4[] = "P4\n3 2\n\xa0\x20"; /* 101..., 001... */
    write_bytes(at("b.pbm"), p4, sizeof p4 - 1);
    for (int k = 0; k < 2; k++)
        if ((im = read_ok(k ? "b.pbm" : "a.pbm", &info))) {
            static const float want[6] = {0, 1, 0, 1, 1, 0};
            CHECK(im->width == 3 && im->height == 2 && im->channels == 1 && info.bits == 8,
                  "pbm %d: shape", k);
            CHECK(memcmp(im->data, want, sizeof want) == 0, "pbm %d: samples", k);
            deconv_image_free(im);
        }

    /* truncated binary and plain data, a broken header */
    deconv_error err = {0};
    const unsigned char cut[] = "P5 4 4 255\n\x01\x02\x03";
    write_bytes(at("cut.pgm"), cut, sizeof cut - 1);
    im = deconv_image_read(at("cut.pgm"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT && strstr(err.message, "cut.pgm' is corrupt") &&
              strstr(err.message, "end of file"),
          "cut.pgm: '%s'", err.message);
    const char cut2[] = "P2 2 2 255 1 2 3";
    write_bytes(at("cut2.pgm"), cut2, sizeof cut2 - 1);
    im = deconv_image_read(at("cut2.pgm"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT && strstr(err.message, "end of file"),
          "cut2.pgm: '%s'", err.message);
    const char badhdr[] = "P5 4 x 255\n";
    write_bytes(at("badhdr.pgm"), badhdr, sizeof badhdr - 1);
    im = deconv_image_read(at("badhdr.pgm"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT && strstr(err.message, "header"),
          "badhdr.pgm: '%s'", err.message);
    const char bigmax[] = "P5 1 1 65536\n\x00\x00";
    write_bytes(at("bigmax.pgm"), bigmax, sizeof bigmax - 1);
    im = deconv_image_read(at("bigmax.pgm"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT, "maxval 65536: '%s'", err.message);
}

static void test_stb_formats(void)
{
    deconv_file_info info;
    deconv_image *im;

    /* BMP: 24-bit, 5 x 3, rows bottom-up, BGR, padded to 4 bytes */
    const int bw = 5, bh = 3, stride = 16;
    unsigned char bmp[54 + 3 * 16] = {'B', 'M'};
    put32(bmp + 2, 0); /* sizes are little-endian: set by hand below */
    bmp[2] = sizeof bmp;
    bmp[10] = 54;
    bmp[14] = 40;
    bmp[18] = (unsigned char)bw;
    bmp[22] = (unsigned char)bh;
    bmp[26] = 1;
    bmp[28] = 24;
    unsigned char rgb[3][5][3];
    for (int y = 0; y < bh; y++)
        for (int x = 0; x < bw; x++)
            for (int c = 0; c < 3; c++) {
                rgb[y][x][c] = (unsigned char)(40 * y + 9 * x + 3 * c + 1);
                /* file row 0 is the bottom row; B, G, R */
                bmp[54 + (bh - 1 - y) * stride + 3 * x + (2 - c)] = rgb[y][x][c];
            }
    write_bytes(at("a.bmp"), bmp, sizeof bmp);
    if ((im = read_ok("a.bmp", &info))) {
        CHECK(im->width == bw && im->height == bh && im->channels == 3 && info.bits == 8 &&
                  !info.has_alpha,
              "bmp: shape %dx%dx%d", im->width, im->height, im->channels);
        int bad = 0;
        for (int y = 0; y < bh; y++)
            for (int x = 0; x < bw; x++)
                for (int c = 0; c < 3; c++)
                    bad += sample(im, c, y, x) != rgb[y][x][c] / 255.0f;
        CHECK(bad == 0, "bmp: %d wrong samples", bad);
        CHECK(!strcmp(info.response.name, "sRGB (untagged)") && !info.warning[0],
              "bmp: '%s'", info.response.name);
        deconv_image_free(im);
    }

    /* TGA: uncompressed true colour with alpha, top-left origin, BGRA */
    unsigned char tga[18 + 2 * 2 * 4] = {0, 0, 2};
    tga[12] = 2; /* width */
    tga[14] = 2; /* height */
    tga[16] = 32;
    tga[17] = 0x20 | 8; /* top-left origin, 8 alpha bits */
    static const unsigned char tpx[4][4] = {
        {10, 20, 30, 255}, {40, 50, 60, 0}, {70, 80, 90, 128}, {1, 2, 3, 4}}; /* RGBA */
    for (int i = 0; i < 4; i++) {
        tga[18 + 4 * i] = tpx[i][2];
        tga[18 + 4 * i + 1] = tpx[i][1];
        tga[18 + 4 * i + 2] = tpx[i][0];
        tga[18 + 4 * i + 3] = tpx[i][3];
    }
    write_bytes(at("a.tga"), tga, sizeof tga);
    if ((im = read_ok("a.tga", &info))) {
        CHECK(im->width == 2 && im->height == 2 && im->channels == 4 && info.has_alpha,
              "tga: shape %dx%dx%d", im->width, im->height, im->channels);
        int bad = 0;
        for (int i = 0; i < 4; i++)
            for (int c = 0; c < 4; c++)
                bad += sample(im, c, i / 2, i % 2) != tpx[i][c] / 255.0f;
        CHECK(bad == 0, "tga: %d wrong samples", bad);
        CHECK(!strcmp(info.response.name, "sRGB (untagged)") && !info.warning[0],
              "tga: '%s'", info.response.name);
        deconv_image_free(im);
    }

    /* GIF: the classic 1 x 1 transparent pixel (LZW codes clear, 0, end) */
    static const unsigned char gif[] = {
        'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0xff, 0xff, 0xff, 0, 0, 0,
        0x21, 0xf9, 4, 1, 0, 0, 0, 0, 0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01,
        0, 0x3b};
    write_bytes(at("a.gif"), gif, sizeof gif);
    if ((im = read_ok("a.gif", &info))) {
        CHECK(im->width == 1 && im->height == 1 && im->channels == 4 && info.has_alpha &&
                  info.bits == 8 && sample(im, 3, 0, 0) == 0.0f,
              "gif: %dx%dx%d alpha %g", im->width, im->height, im->channels,
              im->channels == 4 ? sample(im, 3, 0, 0) : -1);
        CHECK(!strcmp(info.response.name, "sRGB (untagged)") && !info.warning[0],
              "gif: '%s'", info.response.name);
        deconv_image_free(im);
    }

    /* Radiance HDR, flat RGBE: (128, 64, 0, 129) is (1, 0.5, 0) since the
     * value is mantissa * 2^(e - 136); (255, 32, 8, 130) is (3.98, 0.5,
     * 0.125), its red clamped to 1. */
    const char hdr_head[] = "#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 2\n";
    unsigned char hdr[sizeof hdr_head - 1 + 8];
    memcpy(hdr, hdr_head, sizeof hdr_head - 1);
    static const unsigned char rgbe[8] = {128, 64, 0, 129, 255, 32, 8, 130};
    memcpy(hdr + sizeof hdr_head - 1, rgbe, 8);
    write_bytes(at("a.hdr"), hdr, sizeof hdr);
    if ((im = read_ok("a.hdr", &info))) {
        CHECK(im->width == 2 && im->height == 1 && im->channels == 3 && info.bits == 16,
              "hdr: shape %dx%dx%d bits %d", im->width, im->height, im->channels, info.bits);
        /* its values are light */
        CHECK(info.response.kind == DECONV_RESPONSE_LINEAR && !info.response.soft_clip &&
                  !strcmp(info.response.name, "linear (Radiance HDR)") && !info.warning[0],
              "hdr: kind %d '%s'", (int)info.response.kind, info.response.name);
        if (im->channels == 3) {
            CHECK(sample(im, 0, 0, 0) == 1.0f && sample(im, 1, 0, 0) == 0.5f &&
                      sample(im, 2, 0, 0) == 0.0f,
                  "hdr: first pixel %g %g %g", sample(im, 0, 0, 0), sample(im, 1, 0, 0),
                  sample(im, 2, 0, 0));
            CHECK(sample(im, 0, 0, 1) == 1.0f && sample(im, 1, 0, 1) == 0.5f &&
                      sample(im, 2, 0, 1) == 0.125f,
                  "hdr: second pixel %g %g %g", sample(im, 0, 0, 1), sample(im, 1, 0, 1),
                  sample(im, 2, 0, 1));
        }
        deconv_image_free(im);
    }
}

/* ------------------------------------------------------------------ */
/* Tone curves: PNG chunks, ICC profiles, JPEG APP2 markers             */
/* ------------------------------------------------------------------ */

/* L(u) of a response at one value. */
static double decode_at(const deconv_response *r, double u)
{
    float in = (float)u, out;
    deconv_response_decode(r, &in, &out, 1);
    return out;
}

static double srgb_light(double u)
{
    return u <= 0.04045 ? u / 12.92 : pow((u + 0.055) / 1.055, 2.4);
}

/* The response follows f within tol at a few values across [0, 1]. */
static int follows(const deconv_response *r, double (*f)(double, double), double p, double tol)
{
    static const double us[] = {0.0, 0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0};
    for (size_t i = 0; i < sizeof us / sizeof us[0]; i++)
        if (!(fabs(decode_at(r, us[i]) - f(us[i], p)) <= tol))
            return 0;
    return 1;
}

static double f_srgb(double u, double p) { return (void)p, srgb_light(u); }
static double f_pow(double u, double g) { return pow(u, g); }
static double f_rec709(double u, double p)
{
    (void)p;
    return u < 0.081 ? u / 4.5 : pow((u + 0.099) / 1.099, 1 / 0.45);
}

/* A profile's bytes (malloc'd), or NULL. Closes h. */
static unsigned char *profile_bytes(cmsHPROFILE h, size_t *n)
{
    cmsUInt32Number size = 0;
    unsigned char *buf = NULL;
    if (h && cmsSaveProfileToMem(h, NULL, &size) && size && (buf = malloc(size)) &&
        !cmsSaveProfileToMem(h, buf, &size)) {
        free(buf);
        buf = NULL;
    }
    if (h)
        cmsCloseProfile(h);
    *n = buf ? size : 0;
    return buf;
}

static void set_description(cmsHPROFILE h, const char *text)
{
    cmsMLU *mlu = cmsMLUalloc(NULL, 1);
    cmsMLUsetASCII(mlu, "en", "US", text);
    cmsWriteTag(h, cmsSigProfileDescriptionTag, mlu);
    cmsMLUfree(mlu);
}

/* An RGB profile (sRGB's primaries, D65) with the three curves given. */
static cmsHPROFILE rgb_profile(cmsToneCurve *r, cmsToneCurve *g, cmsToneCurve *b)
{
    cmsCIExyY d65 = {0.3127, 0.3290, 1.0};
    cmsCIExyYTRIPLE primaries = {{0.64, 0.33, 1.0}, {0.30, 0.60, 1.0}, {0.15, 0.06, 1.0}};
    cmsToneCurve *curves[3] = {r, g, b};
    return cmsCreateRGBProfile(&d65, &primaries, curves);
}

typedef enum {
    ICC_SRGB,
    ICC_GAMMA18,   /* curv of one entry: a pure gamma of 1.8 */
    ICC_GRAY22,    /* a gray profile, gamma 2.2 */
    ICC_TABLE,     /* curv of 256 entries: u^2 */
    ICC_PARAM5,    /* parametric type 5 (ICC's 4) without offsets: Rec. 709 */
    ICC_BIG,       /* three different curves of 12000 entries: > 64 KiB */
    ICC_LAB,       /* a Lab profile: no TRC */
    ICC_LUT,       /* an RGB profile without its green TRC (as LUT-based ones are) */
    ICC_FALLING,   /* a decreasing curve */
    ICC_FLAT,      /* a constant curve */
    ICC_BRIGHT,    /* parametric, white at light 2^2.4 */
    ICC_LONG_NAME  /* gamma 1.8 with a 100-character description */
} icc_kind;

static unsigned char *make_profile(icc_kind kind, size_t *n)
{
    cmsHPROFILE h = NULL;
    cmsToneCurve *c[3] = {NULL, NULL, NULL};
    switch (kind) {
    case ICC_SRGB: h = cmsCreate_sRGBProfile(); break;
    case ICC_GAMMA18:
    case ICC_LONG_NAME:
        c[0] = cmsBuildGamma(NULL, 1.8);
        h = rgb_profile(c[0], c[0], c[0]);
        if (kind == ICC_LONG_NAME)
            set_description(h, "A profile whose description is far too long to fit in the name "
                               "of a response, which has 80 bytes");
        else
            set_description(h, "gamma 1.8 test");
        break;
    case ICC_GRAY22:
        c[0] = cmsBuildGamma(NULL, 2.2);
        h = cmsCreateGrayProfile(cmsD50_xyY(), c[0]);
        break;
    case ICC_TABLE:
    case ICC_FALLING:
    case ICC_FLAT: {
        cmsUInt16Number t[256];
        for (int i = 0; i < 256; i++) {
            double u = i / 255.0;
            double v = kind == ICC_TABLE ? u * u : kind == ICC_FALLING ? 1 - u : 0.5;
            t[i] = (cmsUInt16Number)lround(v * 65535);
        }
        c[0] = cmsBuildTabulatedToneCurve16(NULL, 256, t);
        h = rgb_profile(c[0], c[0], c[0]);
        break;
    }
    case ICC_BRIGHT: {
        const double p[5] = {2.4, 2.0, 0.0, 0.1, 0.04};
        c[0] = cmsBuildParametricToneCurve(NULL, 4, p);
        h = rgb_profile(c[0], c[0], c[0]);
        break;
    }
    case ICC_PARAM5: {
        const double p[7] = {1 / 0.45, 1 / 1.099, 0.099 / 1.099, 1 / 4.5, 0.081, 0, 0};
        c[0] = cmsBuildParametricToneCurve(NULL, 5, p);
        h = rgb_profile(c[0], c[0], c[0]);
        break;
    }
    case ICC_BIG: {
        enum { N = 12000 };
        cmsUInt16Number *t = malloc(N * sizeof *t);
        for (int k = 0; k < 3 && t; k++) {
            for (int i = 0; i < N; i++)
                t[i] = (cmsUInt16Number)lround(pow(i / (N - 1.0), 2.0 + 0.1 * k) * 65535);
            c[k] = cmsBuildTabulatedToneCurve16(NULL, N, t);
        }
        free(t);
        /* green (the one read) is u^2.1 */
        h = rgb_profile(c[0], c[1], c[2]);
        break;
    }
    case ICC_LAB: h = cmsCreateLab4Profile(NULL); break;
    case ICC_LUT:
        c[0] = cmsBuildGamma(NULL, 1.8);
        h = rgb_profile(c[0], c[0], c[0]);
        cmsWriteTag(h, cmsSigGreenTRCTag, NULL); /* removes it */
        break;
    }
    for (int k = 0; k < 3; k++)
        if (c[k])
            cmsFreeToneCurve(c[k]);
    return profile_bytes(h, n);
}

/* deconv_response_from_icc on profiles of every kind, and on broken ones. */
static void test_icc_curves(void)
{
    deconv_error err;
    deconv_response r;
    size_t n;
    unsigned char *p;

    p = make_profile(ICC_SRGB, &n);
    CHECK(p && deconv_response_from_icc(p, n, &r, &err) == DECONV_OK, "sRGB: %s", err.message);
    CHECK(r.kind == DECONV_RESPONSE_PARAMETRIC && r.soft_clip &&
              strcmp(r.name, "sRGB (ICC profile 'sRGB built-in')") == 0 &&
              follows(&r, f_srgb, 0, 1e-5),
          "sRGB: kind %d, '%s'", (int)r.kind, r.name);
    free(p);

    p = make_profile(ICC_GAMMA18, &n);
    CHECK(p && deconv_response_from_icc(p, n, &r, &err) == DECONV_OK, "gamma 1.8: %s",
          err.message);
    CHECK(r.kind == DECONV_RESPONSE_PARAMETRIC && r.soft_clip && fabs(r.gamma - 1.8) < 1e-3 &&
              strcmp(r.name, "ICC profile 'gamma 1.8 test'") == 0,
          "gamma 1.8: kind %d gamma %g '%s'", (int)r.kind, r.gamma, r.name);
    CHECK(fabs(decode_at(&r, 0.5) - pow(0.5, 1.8)) < 1e-3 && follows(&r, f_pow, 1.8, 2e-3),
          "gamma 1.8: L(0.5) = %g", decode_at(&r, 0.5));
    free(p);

    p = make_profile(ICC_LONG_NAME, &n);
    CHECK(p && deconv_response_from_icc(p, n, &r, &err) == DECONV_OK, "long name: %s",
          err.message);
    CHECK(strlen(r.name) < sizeof r.name && strncmp(r.name, "ICC profile 'A profile", 22) == 0 &&
              strstr(r.name, "...'") != NULL,
          "long name: '%s'", r.name);
    free(p);

    p = make_profile(ICC_GRAY22, &n);
    CHECK(p && deconv_response_from_icc(p, n, &r, &err) == DECONV_OK, "gray: %s", err.message);
    CHECK(r.kind == DECONV_RESPONSE_PARAMETRIC && fabs(r.gamma - 2.2) < 1e-3 &&
              fabs(decode_at(&r, 0.5) - pow(0.5, 2.2)) < 1e-3,
          "gray 2.2: kind %d gamma %g", (int)r.kind, r.gamma);
    free(p);

    p = make_profile(ICC_TABLE, &n);
    CHECK(p && deconv_response_from_icc(p, n, &r, &err) == DECONV_OK, "table: %s", err.message);
    CHECK(r.kind == DECONV_RESPONSE_TABLE && r.table_size == DECONV_RESPONSE_TABLE_MAX &&
              r.soft_clip && deconv_response_check(&r, NULL) == DECONV_OK &&
              follows(&r, f_pow, 2.0, 1e-3),
          "table: kind %d size %d, L(0.5) = %g", (int)r.kind, r.table_size, decode_at(&r, 0.5));
    CHECK(isfinite(deconv_response_max(&r)) && deconv_response_max(&r) > 1,
          "table: max %g", deconv_response_max(&r));
    free(p);

    p = make_profile(ICC_PARAM5, &n);
    CHECK(p && deconv_response_from_icc(p, n, &r, &err) == DECONV_OK, "type 5: %s", err.message);
    CHECK(r.kind == DECONV_RESPONSE_PARAMETRIC && fabs(r.d - 0.081) < 1e-4 &&
              follows(&r, f_rec709, 0, 1e-3),
          "type 5: kind %d d %g", (int)r.kind, r.d);
    free(p);

    p = make_profile(ICC_BIG, &n);
    CHECK(p && n > 65519, "big profile: %zu bytes", n);
    CHECK(p && deconv_response_from_icc(p, n, &r, &err) == DECONV_OK, "big: %s", err.message);
    CHECK(r.kind == DECONV_RESPONSE_TABLE && follows(&r, f_pow, 2.1, 1e-3), "big: L(0.5) = %g",
          decode_at(&r, 0.5));
    free(p);

    static const icc_kind unusable[] = {ICC_LAB, ICC_LUT, ICC_FALLING, ICC_FLAT, ICC_BRIGHT};
    for (int i = 0; i < 5; i++) {
        p = make_profile(unusable[i], &n);
        err.message[0] = '\0';
        CHECK(p && deconv_response_from_icc(p, n, &r, &err) == DECONV_ERR_FORMAT &&
                  err.message[0],
              "unusable profile %d: '%s'", i, err.message);
        free(p);
    }
    p = make_profile(ICC_LAB, &n);
    deconv_response_from_icc(p, n, &r, &err);
    CHECK(strstr(err.message, "not for RGB or gray") != NULL, "Lab: '%s'", err.message);
    free(p);
    p = make_profile(ICC_LUT, &n);
    deconv_response_from_icc(p, n, &r, &err);
    CHECK(strstr(err.message, "no green tone curve (a LUT-based profile") != NULL,
          "no green TRC: '%s'", err.message);
    free(p);
    p = make_profile(ICC_FALLING, &n);
    deconv_response_from_icc(p, n, &r, &err);
    CHECK(strstr(err.message, "flat or decreasing") != NULL, "decreasing: '%s'", err.message);
    free(p);
    p = make_profile(ICC_BRIGHT, &n);
    deconv_response_from_icc(p, n, &r, &err);
    CHECK(strstr(err.message, "does not run from black to white") != NULL, "bright: '%s'",
          err.message);
    free(p);
    CHECK(deconv_response_from_icc(NULL, 0, &r, &err) == DECONV_ERR_FORMAT, "NULL profile");
    CHECK(deconv_response_from_icc("acsp", 4, &r, &err) == DECONV_ERR_FORMAT, "4 bytes");

    /* garbage, truncations and flipped bytes: a status, never a crash; what
     * is accepted is a valid response */
    unsigned long long seed = 12345;
    unsigned char junk[4096];
    int bad = 0, accepted = 0;
    for (int t = 0; t < 200; t++) {
        size_t len = (size_t)(check_rand(&seed) * sizeof junk);
        for (size_t i = 0; i < len; i++)
            junk[i] = (unsigned char)(check_rand(&seed) * 256);
        deconv_status s = deconv_response_from_icc(junk, len, &r, &err);
        bad += s != DECONV_ERR_FORMAT || !err.message[0];
    }
    CHECK(bad == 0, "random bytes: %d not refused with a message", bad);
    static const icc_kind kinds[] = {ICC_SRGB, ICC_GAMMA18, ICC_TABLE, ICC_GRAY22};
    for (int k = 0; k < 4; k++) {
        p = make_profile(kinds[k], &n);
        if (!p)
            continue;
        unsigned char *q = malloc(n);
        for (size_t len = 0; len < n; len++) {
            memcpy(q, p, len);
            deconv_status s = deconv_response_from_icc(q, len, &r, &err);
            bad += !(s == DECONV_ERR_FORMAT ||
                     (s == DECONV_OK && deconv_response_check(&r, NULL) == DECONV_OK));
        }
        for (size_t i = 0; i < n; i++) {
            memcpy(q, p, n);
            q[i] ^= (unsigned char)(1 + check_rand(&seed) * 255);
            deconv_status s = deconv_response_from_icc(q, n, &r, &err);
            accepted += s == DECONV_OK;
            bad += !(s == DECONV_ERR_FORMAT ||
                     (s == DECONV_OK && deconv_response_check(&r, NULL) == DECONV_OK &&
                      isfinite(deconv_response_max(&r))));
        }
        free(q);
        free(p);
    }
    CHECK(bad == 0 && accepted > 0, "truncated or flipped: %d bad (%d accepted)", bad, accepted);
}

/* The fuzz_icc target's seed corpus and regressions (tests/fuzz), through
 * the target itself, which aborts on a broken promise. */
static void test_icc_fuzz_inputs(void)
{
#ifdef DECONV_TEST_DATA
    static const char *const dirs[] = {DECONV_TEST_DATA "/../fuzz/corpus/fuzz_icc",
                                       DECONV_TEST_DATA "/../fuzz/regressions/fuzz_icc"};
    int files = 0;
    for (int k = 0; k < 2; k++) {
        DIR *d = opendir(dirs[k]);
        CHECK(d != NULL, "cannot open %s", dirs[k]);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[2048];
            snprintf(path, sizeof path, "%s/%s", dirs[k], e->d_name);
            size_t n;
            unsigned char *data = slurp(path, &n);
            CHECK(data != NULL, "cannot read %s", path);
            if (data)
                fuzz_icc_one(data, n);
            free(data);
            files++;
        }
        if (d)
            closedir(d);
    }
    CHECK(files >= 10, "only %d ICC fuzz inputs", files);
#endif
}

/* A 4 x 4 RGB (or gray) PNG through libpng, with the colour chunks asked
 * for: sRGB, gAMA (file gamma, 0: none), iCCP (profile bytes), cICP
 * (transfer, -1: none; as an unknown chunk, which libpng 1.6.39 is). */
typedef struct {
    int gray, srgb, gama, cicp, cicp_range;
    const unsigned char *icc;
    size_t icc_size;
} png_tags;

static int write_tagged_png(const char *path, const png_tags *t)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return -1;
    }
    png_init_io(png, f);
    int ch = t->gray ? 1 : 3;
    png_set_IHDR(png, info, 4, 4, 8, t->gray ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (t->srgb)
        png_set_sRGB(png, info, PNG_sRGB_INTENT_PERCEPTUAL);
    if (t->gama)
        png_set_gAMA_fixed(png, info, t->gama);
    if (t->icc)
        png_set_iCCP(png, info, "test", PNG_COMPRESSION_TYPE_BASE, t->icc,
                     (png_uint_32)t->icc_size);
    png_unknown_chunk cicp;
    if (t->cicp >= 0) {
        static const png_byte name[5] = "cICP";
        memcpy(cicp.name, name, 5);
        png_byte data[4] = {1, (png_byte)t->cicp, 0, (png_byte)t->cicp_range};
        cicp.data = data;
        cicp.size = 4;
        cicp.location = PNG_HAVE_IHDR;
        png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_ALWAYS, name, 1);
        png_set_unknown_chunks(png, info, &cicp, 1);
    }
    png_write_info(png, info);
    unsigned char row[12];
    for (int y = 0; y < 4; y++) {
        for (int i = 0; i < 4 * ch; i++)
            row[i] = (unsigned char)(16 * y + 5 * i);
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return fclose(f) == 0 ? 0 : -1;
}

/* Put a chunk right after IHDR (byte 33) of a PNG file; crc_ok 0 spoils its
 * CRC. */
static int insert_chunk(const char *path, const char *type, const void *data, size_t len,
                        int crc_ok)
{
    size_t n;
    unsigned char *file = slurp(path, &n);
    unsigned char *out = file ? malloc(n + len + 12) : NULL;
    if (!out || n < 33) {
        free(file);
        free(out);
        return -1;
    }
    memcpy(out, file, 33);
    put32(out + 33, (uint32_t)len);
    memcpy(out + 37, type, 4);
    if (len)
        memcpy(out + 41, data, len);
    put32(out + 41 + len, crc32_of(out + 37, len + 4) ^ (crc_ok ? 0 : 1));
    memcpy(out + 45 + len, file + 33, n - 33);
    int rc = write_bytes(path, out, n + len + 12);
    free(file);
    free(out);
    return rc;
}

/* An iCCP chunk's data: name, NUL, method 0, and the zlib stream of the
 * bytes given (compressed 0: the bytes as they are). *len receives its
 * size. */
static unsigned char *iccp_data(const void *bytes, size_t n, int compressed, size_t *len)
{
    uLongf z = compressBound((uLong)n);
    unsigned char *out = malloc(6 + z + n);
    if (!out)
        return NULL;
    memcpy(out, "test\0\0", 6);
    if (compressed) {
        if (compress(out + 6, &z, bytes, (uLong)n) != Z_OK) {
            free(out);
            return NULL;
        }
    } else {
        memcpy(out + 6, bytes, n);
        z = n;
    }
    *len = 6 + z;
    return out;
}

/* Read a file and give its tone curve and warning in *info. */
static int read_info(const char *name, deconv_file_info *info)
{
    deconv_error err = {0};
    deconv_image *im = deconv_image_read(at(name), 0, info, &err);
    CHECK(im != NULL, "%s: %s", name, err.message);
    deconv_image_free(im);
    return im != NULL;
}

static void test_png_tone_curves(void)
{
    deconv_file_info info;
    size_t n18, nsrgb, ngray, nlab;
    unsigned char *g18 = make_profile(ICC_GAMMA18, &n18);
    unsigned char *srgb = make_profile(ICC_SRGB, &nsrgb);
    unsigned char *gray22 = make_profile(ICC_GRAY22, &ngray);
    unsigned char *lab = make_profile(ICC_LAB, &nlab);
    const png_tags none = {0, 0, 0, -1, 1, NULL, 0};
    png_tags t;

    write_tagged_png(at("untagged.png"), &none);
    if (read_info("untagged.png", &info))
        CHECK(info.response.kind == DECONV_RESPONSE_PARAMETRIC && info.response.soft_clip &&
                  !strcmp(info.response.name, "sRGB (untagged)") && !info.warning[0] &&
                  follows(&info.response, f_srgb, 0, 1e-5),
              "untagged: '%s', warning '%s'", info.response.name, info.warning);

    t = none, t.srgb = 1;
    write_tagged_png(at("srgb.png"), &t);
    if (read_info("srgb.png", &info))
        CHECK(!strcmp(info.response.name, "sRGB (PNG sRGB)") && !info.warning[0] &&
                  follows(&info.response, f_srgb, 0, 1e-5),
              "sRGB chunk: '%s', warning '%s'", info.response.name, info.warning);

    /* gAMA 45455 without sRGB: a pure gamma of 2.2; 100000: of 1 */
    static const struct {
        int gama;
        double g;
        const char *name;
    } gamas[] = {{45455, 2.2, "gamma 2.2 (PNG gAMA)"}, {100000, 1.0, "gamma 1 (PNG gAMA)"},
                 {55556, 1.8, "gamma 1.8 (PNG gAMA)"}};
    for (int i = 0; i < 3; i++) {
        t = none, t.gama = gamas[i].gama;
        write_tagged_png(at("gama.png"), &t);
        if (read_info("gama.png", &info))
            CHECK(info.response.kind == DECONV_RESPONSE_PARAMETRIC && info.response.soft_clip &&
                      fabs(info.response.gamma - gamas[i].g) < 1e-4 &&
                      !strcmp(info.response.name, gamas[i].name) && !info.warning[0] &&
                      fabs(decode_at(&info.response, 0.5) - pow(0.5, gamas[i].g)) < 1e-4,
                  "gAMA %d: gamma %g '%s' warning '%s'", gamas[i].gama, info.response.gamma,
                  info.response.name, info.warning);
    }
    /* out of deconv's range (gamma 10), and out of libpng's (file gamma 5,
     * which libpng drops with a warning) */
    t = none, t.gama = 10000;
    write_tagged_png(at("gama10.png"), &t);
    if (read_info("gama10.png", &info))
        CHECK(!strcmp(info.response.name, "sRGB (assumed)") && strstr(info.warning, "gAMA") &&
                  follows(&info.response, f_srgb, 0, 1e-5),
              "gAMA 10000: '%s', warning '%s'", info.response.name, info.warning);
    write_tagged_png(at("gama5.png"), &none);
    unsigned char g5[4] = {0, 0, 0, 5};
    insert_chunk(at("gama5.png"), "gAMA", g5, 4, 1);
    if (read_info("gama5.png", &info))
        CHECK(!strcmp(info.response.name, "sRGB (assumed)") && strstr(info.warning, "gAMA"),
              "gAMA 5: '%s', warning '%s'", info.response.name, info.warning);

    /* iCCP: the profile's curve, ahead of gAMA */
    t = none, t.icc = g18, t.icc_size = n18;
    write_tagged_png(at("iccp18.png"), &t);
    if (read_info("iccp18.png", &info))
        CHECK(info.response.kind == DECONV_RESPONSE_PARAMETRIC && !info.warning[0] &&
                  fabs(decode_at(&info.response, 0.5) - pow(0.5, 1.8)) < 1e-3 &&
                  !strcmp(info.response.name, "ICC profile 'gamma 1.8 test'"),
              "iCCP gamma 1.8: '%s' L(0.5) %g warning '%s'", info.response.name,
              decode_at(&info.response, 0.5), info.warning);
    t.gama = 100000;
    write_tagged_png(at("iccp18_gama.png"), &t);
    if (read_info("iccp18_gama.png", &info))
        CHECK(fabs(decode_at(&info.response, 0.5) - pow(0.5, 1.8)) < 1e-3 && !info.warning[0],
              "iCCP before gAMA: '%s'", info.response.name);
    t = none, t.icc = srgb, t.icc_size = nsrgb;
    write_tagged_png(at("iccp_srgb.png"), &t);
    if (read_info("iccp_srgb.png", &info))
        CHECK(!strncmp(info.response.name, "sRGB (ICC profile", 17) &&
                  follows(&info.response, f_srgb, 0, 1e-5) && !info.warning[0],
              "iCCP sRGB: '%s'", info.response.name);
    t = none, t.gray = 1, t.icc = gray22, t.icc_size = ngray;
    write_tagged_png(at("iccp_gray.png"), &t);
    if (read_info("iccp_gray.png", &info))
        CHECK(fabs(decode_at(&info.response, 0.5) - pow(0.5, 2.2)) < 1e-3 && !info.warning[0],
              "iCCP gray 2.2: '%s' warning '%s'", info.response.name, info.warning);

    /* cICP: ahead of everything */
    static const struct {
        int transfer;
        deconv_response_kind kind;
        const char *name;
        double (*f)(double, double);
        double p;
        int warns;
    } cicps[] = {{13, DECONV_RESPONSE_PARAMETRIC, "sRGB (PNG cICP)", f_srgb, 0, 0},
                 {8, DECONV_RESPONSE_LINEAR, "linear (PNG cICP)", f_pow, 1, 0},
                 {1, DECONV_RESPONSE_PARAMETRIC, "Rec. 709 (PNG cICP)", f_rec709, 0, 0},
                 {16, DECONV_RESPONSE_PARAMETRIC, "sRGB (assumed)", f_srgb, 0, 1},
                 {18, DECONV_RESPONSE_PARAMETRIC, "sRGB (assumed)", f_srgb, 0, 1}};
    for (int i = 0; i < 5; i++) {
        t = none, t.cicp = cicps[i].transfer, t.icc = g18, t.icc_size = n18, t.gama = 45455;
        write_tagged_png(at("cicp.png"), &t);
        if (read_info("cicp.png", &info)) {
            const deconv_response *r = &info.response;
            CHECK(r->kind == cicps[i].kind && !strcmp(r->name, cicps[i].name) &&
                      follows(r, cicps[i].f, cicps[i].p, 1e-4) &&
                      r->soft_clip == (cicps[i].transfer != 8) &&
                      !info.warning[0] == !cicps[i].warns,
                  "cICP %d: kind %d '%s' L(0.5) %g warning '%s'", cicps[i].transfer,
                  (int)r->kind, r->name, decode_at(r, 0.5), info.warning);
            if (cicps[i].warns)
                CHECK(strstr(info.warning, "cICP transfer") != NULL, "cICP %d: warning '%s'",
                      cicps[i].transfer, info.warning);
        }
    }
    t = none, t.cicp = 13, t.cicp_range = 0;
    write_tagged_png(at("cicp_narrow.png"), &t);
    if (read_info("cicp_narrow.png", &info))
        CHECK(!strcmp(info.response.name, "sRGB (PNG cICP)") && strstr(info.warning, "narrow"),
              "cICP narrow: '%s' warning '%s'", info.response.name, info.warning);
    /* a cICP of 3 bytes is ignored: the iCCP after it counts */
    t = none, t.icc = g18, t.icc_size = n18;
    write_tagged_png(at("cicp_short.png"), &t);
    insert_chunk(at("cicp_short.png"), "cICP", "\x01\x0d\x00", 3, 1);
    if (read_info("cicp_short.png", &info))
        CHECK(fabs(decode_at(&info.response, 0.5) - pow(0.5, 1.8)) < 1e-3 &&
                  strstr(info.warning, "cICP"),
              "short cICP: '%s' warning '%s'", info.response.name, info.warning);

    /* broken iCCP chunks: sRGB and a warning, whatever is wrong */
    unsigned long long seed = 99;
    unsigned char junk[600];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(check_rand(&seed) * 256);
    unsigned char spoilt[2048];
    memcpy(spoilt, g18, n18 < sizeof spoilt ? n18 : sizeof spoilt);
    /* the green TRC's type, in the tag table after the 128-byte header */
    uint32_t tags = (uint32_t)spoilt[128] << 24 | spoilt[129] << 16 | spoilt[130] << 8 | spoilt[131];
    for (uint32_t k = 0; k < tags && 132 + 12 * k + 12 <= n18; k++) {
        const unsigned char *e = spoilt + 132 + 12 * k;
        uint32_t off = (uint32_t)e[4] << 24 | e[5] << 16 | e[6] << 8 | e[7];
        if (!memcmp(e, "gTRC", 4) && off + 4 <= n18)
            memcpy(spoilt + off, "junk", 4);
    }
    const struct {
        const char *what;
        int compressed;
        const unsigned char *bytes;
        size_t n;
        int crc_ok;
    } broken[] = {
        {"random bytes, not zlib", 0, junk, sizeof junk, 1},
        {"random bytes, compressed", 1, junk, sizeof junk, 1},
        {"a truncated profile", 1, NULL, 0, 1}, /* g18's first half, below */
        {"a corrupt green TRC", 1, spoilt, 0, 1},
        {"a Lab profile", 1, NULL, 0, 1},
    };
    for (int i = 0; i < 5; i++) {
        const unsigned char *bytes = broken[i].bytes ? broken[i].bytes : i == 4 ? lab : g18;
        size_t n = broken[i].n ? broken[i].n : i == 2 ? n18 / 2 : i == 4 ? nlab : n18;
        size_t len = 0;
        unsigned char *chunk = iccp_data(bytes, n, broken[i].compressed, &len);
        write_tagged_png(at("bad_iccp.png"), &none);
        insert_chunk(at("bad_iccp.png"), "iCCP", chunk, len, broken[i].crc_ok);
        free(chunk);
        if (read_info("bad_iccp.png", &info))
            CHECK(!strcmp(info.response.name, "sRGB (assumed)") &&
                      follows(&info.response, f_srgb, 0, 1e-5) &&
                      strstr(info.warning, "iCCP") && strstr(info.warning, "assuming sRGB"),
                  "iCCP with %s: '%s' warning '%s'", broken[i].what, info.response.name,
                  info.warning);
    }
    /* a zlib stream cut short, another compression method, no keyword, and
     * a stream that inflates past 16 MiB */
    {
        size_t len, zn = 40 << 20;
        unsigned char *zeros = calloc(zn, 1);
        unsigned char *chunk = iccp_data(g18, n18, 1, &len);
        unsigned char *bomb = zeros ? iccp_data(zeros, zn, 1, &zn) : NULL;
        const struct {
            const char *what, *said;
            const unsigned char *data;
            size_t n;
        } more[] = {{"a truncated stream", "truncated", chunk, len / 2},
                    {"method 1", "compression method 1", NULL, len},
                    {"no keyword", "keyword", chunk + 4, len - 4},
                    {"a stream of 40 MiB", "16 MiB", bomb, zn}};
        for (int i = 0; chunk && bomb && i < 4; i++) {
            unsigned char *d = malloc(more[i].n);
            memcpy(d, more[i].data ? more[i].data : chunk, more[i].n);
            if (!more[i].data)
                d[5] = 1;
            write_tagged_png(at("bad_iccp.png"), &none);
            insert_chunk(at("bad_iccp.png"), "iCCP", d, more[i].n, 1);
            free(d);
            if (read_info("bad_iccp.png", &info))
                CHECK(!strcmp(info.response.name, "sRGB (assumed)") &&
                          strstr(info.warning, more[i].said) &&
                          strstr(info.warning, "assuming sRGB"),
                      "iCCP with %s: '%s' warning '%s'", more[i].what, info.response.name,
                      info.warning);
        }
        free(zeros);
        free(chunk);
        free(bomb);
    }
    /* a bad CRC: libpng warns but keeps the profile (its zlib stream has its
     * own check), and so the profile counts */
    {
        size_t len;
        unsigned char *chunk = iccp_data(g18, n18, 1, &len);
        write_tagged_png(at("iccp_crc.png"), &none);
        insert_chunk(at("iccp_crc.png"), "iCCP", chunk, len, 0);
        free(chunk);
    }
    if (read_info("iccp_crc.png", &info))
        CHECK(fabs(decode_at(&info.response, 0.5) - pow(0.5, 1.8)) < 1e-3,
              "iCCP with a bad CRC: '%s' warning '%s'", info.response.name, info.warning);
    /* a gray profile on an RGB image: its curve is still the file's (libpng
     * would refuse the chunk; it is read here) */
    write_tagged_png(at("gray_on_rgb.png"), &none);
    {
        size_t len;
        unsigned char *chunk = iccp_data(gray22, ngray, 1, &len);
        insert_chunk(at("gray_on_rgb.png"), "iCCP", chunk, len, 1);
        free(chunk);
    }
    if (read_info("gray_on_rgb.png", &info))
        CHECK(fabs(decode_at(&info.response, 0.5) - pow(0.5, 2.2)) < 1e-3 && !info.warning[0],
              "gray iCCP on RGB: '%s' warning '%s'", info.response.name, info.warning);
    /* both sRGB and iCCP (in either order): iCCP counts */
    t = none, t.icc = g18, t.icc_size = n18;
    write_tagged_png(at("srgb_iccp.png"), &t);
    insert_chunk(at("srgb_iccp.png"), "sRGB", "\0", 1, 1);
    if (read_info("srgb_iccp.png", &info))
        CHECK(fabs(decode_at(&info.response, 0.5) - pow(0.5, 1.8)) < 1e-3 && !info.warning[0],
              "sRGB, then iCCP: '%s' warning '%s'", info.response.name, info.warning);
    {
        size_t len, n;
        unsigned char *chunk = iccp_data(g18, n18, 1, &len);
        t = none, t.srgb = 1;
        write_tagged_png(at("iccp_srgb2.png"), &t);
        insert_chunk(at("iccp_srgb2.png"), "iCCP", chunk, len, 1);
        free(chunk);
        unsigned char *file = slurp(at("iccp_srgb2.png"), &n);
        CHECK(file && n > 60 && !memcmp(file + 37, "iCCP", 4), "iCCP first");
        free(file);
    }
    if (read_info("iccp_srgb2.png", &info))
        CHECK(fabs(decode_at(&info.response, 0.5) - pow(0.5, 1.8)) < 1e-3 && !info.warning[0],
              "iCCP, then sRGB: '%s' warning '%s'", info.response.name, info.warning);
    free(g18);
    free(srgb);
    free(gray22);
    free(lab);
}

/* A 16 x 8 RGB JPEG through libjpeg, with the APP2 markers given: the
 * profile through jpeg_write_icc_profile (split as libjpeg splits it), or
 * segments made here. */
typedef struct {
    int seq, count;
    const unsigned char *data;
    size_t n;
    const char *tag; /* NULL: "ICC_PROFILE" */
} app2_segment;

static int write_jpeg(const char *path, const unsigned char *icc, size_t icc_size,
                      const app2_segment *segs, int nsegs)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = 16;
    c.image_height = 8;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_start_compress(&c, TRUE);
    if (icc)
        jpeg_write_icc_profile(&c, icc, (unsigned)icc_size);
    for (int i = 0; i < nsegs; i++) {
        unsigned char *m = malloc(14 + segs[i].n);
        memcpy(m, segs[i].tag ? segs[i].tag : "ICC_PROFILE", 12);
        m[12] = (unsigned char)segs[i].seq;
        m[13] = (unsigned char)segs[i].count;
        memcpy(m + 14, segs[i].data, segs[i].n);
        jpeg_write_marker(&c, JPEG_APP0 + 2, m, (unsigned)(14 + segs[i].n));
        free(m);
    }
    unsigned char row[48];
    for (int y = 0; y < 8; y++) {
        for (int i = 0; i < 48; i++)
            row[i] = (unsigned char)(10 * y + 4 * i);
        JSAMPROW rp = row;
        jpeg_write_scanlines(&c, &rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return fclose(f) == 0 ? 0 : -1;
}

static void test_jpeg_tone_curves(void)
{
    deconv_file_info info;
    size_t n18, nbig, nlab;
    unsigned char *g18 = make_profile(ICC_GAMMA18, &n18);
    unsigned char *big = make_profile(ICC_BIG, &nbig);
    unsigned char *lab = make_profile(ICC_LAB, &nlab);
    if (!g18 || !big || !lab) {
        CHECK(0, "profiles for the JPEG tests");
        goto done;
    }

    write_jpeg(at("untagged.jpg"), NULL, 0, NULL, 0);
    if (read_info("untagged.jpg", &info))
        CHECK(!strcmp(info.response.name, "sRGB (untagged)") && !info.warning[0],
              "untagged JPEG: '%s'", info.response.name);
    /* another APP2 is not a profile */
    app2_segment other = {1, 1, (const unsigned char *)"FlashPix", 8, "FPXR\0\0\0\0\0\0\0"};
    write_jpeg(at("fpxr.jpg"), NULL, 0, &other, 1);
    if (read_info("fpxr.jpg", &info))
        CHECK(!strcmp(info.response.name, "sRGB (untagged)") && !info.warning[0],
              "APP2 FPXR: '%s' warning '%s'", info.response.name, info.warning);

    write_jpeg(at("icc18.jpg"), g18, n18, NULL, 0);
    if (read_info("icc18.jpg", &info))
        CHECK(info.response.kind == DECONV_RESPONSE_PARAMETRIC && !info.warning[0] &&
                  fabs(decode_at(&info.response, 0.5) - pow(0.5, 1.8)) < 1e-3 &&
                  !strcmp(info.response.name, "ICC profile 'gamma 1.8 test'"),
              "JPEG gamma 1.8: '%s' L(0.5) %g warning '%s'", info.response.name,
              decode_at(&info.response, 0.5), info.warning);

    /* 0xFF fill bytes before SOI: stb_image reads it, and so the profile */
    {
        size_t n;
        unsigned char *file = slurp(at("icc18.jpg"), &n);
        unsigned char *filled = file ? malloc(n + 2) : NULL;
        if (filled) {
            filled[0] = filled[1] = 0xFF;
            memcpy(filled + 2, file, n);
            write_bytes(at("icc18_fill.jpg"), filled, n + 2);
        }
        free(file);
        free(filled);
        if (read_info("icc18_fill.jpg", &info))
            CHECK(fabs(decode_at(&info.response, 0.5) - pow(0.5, 1.8)) < 1e-3 && !info.warning[0],
                  "JPEG after fill bytes: '%s' warning '%s'", info.response.name, info.warning);
    }

    /* more than one marker holds: libjpeg splits it */
    write_jpeg(at("icc_big.jpg"), big, nbig, NULL, 0);
    if (read_info("icc_big.jpg", &info))
        CHECK(info.response.kind == DECONV_RESPONSE_TABLE && !info.warning[0] &&
                  follows(&info.response, f_pow, 2.1, 1e-3),
              "JPEG big profile: kind %d '%s' warning '%s'", (int)info.response.kind,
              info.response.name, info.warning);

    /* split in two here, in order and the other way round */
    size_t half = n18 / 2;
    app2_segment two[2] = {{1, 2, g18, half, NULL}, {2, 2, g18 + half, n18 - half, NULL}};
    app2_segment rev[2] = {two[1], two[0]};
    write_jpeg(at("icc_two.jpg"), NULL, 0, two, 2);
    if (read_info("icc_two.jpg", &info))
        CHECK(fabs(decode_at(&info.response, 0.5) - pow(0.5, 1.8)) < 1e-3 && !info.warning[0],
              "JPEG two markers: '%s' warning '%s'", info.response.name, info.warning);
    write_jpeg(at("icc_rev.jpg"), NULL, 0, rev, 2);
    if (read_info("icc_rev.jpg", &info))
        CHECK(fabs(decode_at(&info.response, 0.5) - pow(0.5, 1.8)) < 1e-3 && !info.warning[0],
              "JPEG two markers reversed: '%s' warning '%s'", info.response.name, info.warning);

    /* bad sequences, and profiles that are not ones */
    unsigned long long seed = 7;
    unsigned char junk[700];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(check_rand(&seed) * 256);
    const struct {
        const char *what, *said;
        app2_segment s[2];
        int n;
    } bad[] = {
        {"a missing second part", "missing", {{1, 2, NULL, 0, NULL}}, 1},
        {"part 3 of 2", "numbered 3 of 2", {{1, 2, NULL, 0, NULL}, {3, 2, NULL, 0, NULL}}, 2},
        {"part 0", "numbered 0", {{0, 1, NULL, 0, NULL}}, 1},
        {"counts 2 and 3", "disagree", {{1, 2, NULL, 0, NULL}, {2, 3, NULL, 0, NULL}}, 2},
        {"part 1 twice", "twice", {{1, 2, NULL, 0, NULL}, {1, 2, NULL, 0, NULL}}, 2},
        {"random bytes", "corrupt", {{1, 1, junk, sizeof junk, NULL}}, 1},
        {"a truncated profile", "", {{1, 1, NULL, 1, NULL}}, 1},
        {"a Lab profile", "not for RGB or gray", {{1, 1, NULL, 2, NULL}}, 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        app2_segment s[2];
        for (int k = 0; k < bad[i].n; k++) {
            s[k] = bad[i].s[k];
            if (!s[k].data) { /* halves of the gamma 1.8 profile, or the markers above */
                int whole = s[k].n == 1, is_lab = s[k].n == 2;
                s[k].data = is_lab ? lab : whole ? g18 : s[k].seq <= 1 ? g18 : g18 + half;
                s[k].n = is_lab ? nlab : whole ? n18 / 3 : s[k].seq <= 1 ? half : n18 - half;
            }
        }
        write_jpeg(at("bad_icc.jpg"), NULL, 0, s, bad[i].n);
        if (read_info("bad_icc.jpg", &info))
            CHECK(!strcmp(info.response.name, "sRGB (assumed)") &&
                      follows(&info.response, f_srgb, 0, 1e-5) &&
                      strstr(info.warning, "ICC profile") && strstr(info.warning, bad[i].said) &&
                      strstr(info.warning, "assuming sRGB"),
                  "JPEG with %s: '%s' warning '%s'", bad[i].what, info.response.name,
                  info.warning);
    }
done:
    free(g18);
    free(big);
    free(lab);
}

/* JPEGs that stb_image would decode from uninitialised memory (different
 * pixels at each read): no DQT segment for the quantization tables, a
 * component that no scan codes. Both are refused, naming what is wrong. */
static void test_jpeg_undefined_parts(void)
{
    write_jpeg(at("plain.jpg"), NULL, 0, NULL, 0);
    size_t n;
    unsigned char *file = slurp(at("plain.jpg"), &n);
    unsigned char *one = file ? malloc(n) : NULL;
    if (!one) {
        CHECK(0, "plain.jpg");
        free(file);
        return;
    }
    /* the scan of its three components cut to the first */
    size_t sos = 0;
    while (sos + 5 < n && !(file[sos] == 0xFF && file[sos + 1] == 0xDA))
        sos++;
    int ns = file[sos + 4];
    memcpy(one, file, sos);
    size_t m = sos;
    const unsigned char head[5] = {0xFF, 0xDA, 0, 8, 1};
    memcpy(one + m, head, 5);
    m += 5;
    memcpy(one + m, file + sos + 5, 2);
    m += 2;
    size_t after = sos + 5 + 2 * (size_t)ns; /* spectral selection on */
    memcpy(one + m, file + after, n - after);
    m += n - after;
    write_bytes(at("one_component.jpg"), one, m);
    /* every DQT segment made a comment */
    for (size_t i = 0; i + 1 < sos; i++)
        if (file[i] == 0xFF && file[i + 1] == 0xDB)
            file[i + 1] = 0xFE;
    write_bytes(at("no_dqt.jpg"), file, n);
    free(file);
    free(one);
    static const struct {
        const char *name, *said;
    } bad[] = {{"one_component.jpg", "a component that no scan codes"},
               {"no_dqt.jpg", "a scan uses a quantization table that is not defined"}};
    for (int i = 0; i < 2; i++) {
        deconv_error err = {0};
        deconv_image *im = deconv_image_read(at(bad[i].name), 0, NULL, &err);
        CHECK(!im && err.code == DECONV_ERR_FORMAT && strstr(err.message, bad[i].said) &&
                  strstr(err.message, bad[i].name),
              "%s: '%s'", bad[i].name, err.message);
        deconv_image_free(im);
    }
}

/* ------------------------------------------------------------------ */
/* TIFF and JPEG output, TIFF input (tiff_io.c, jpeg_write.c)           */
/* ------------------------------------------------------------------ */

/* A TIFF fixture through libtiff itself. values: w x h x spp samples,
 * interleaved, as stored (integers for integer formats). */
typedef struct {
    int w, h, spp, bps, format, photometric, planar, tiled, compression;
    int extra;                 /* EXTRASAMPLE_* of the last sample, -1: none */
    const double *values;
    const unsigned char *icc;  /* TIFFTAG_ICCPROFILE, or NULL */
    size_t icc_size;
    const uint16_t *colormap;  /* PALETTE: 3 x 2^bps entries */
} tiff_spec;

static void put_sample(unsigned char *p, const tiff_spec *s, double v)
{
    if (s->format == SAMPLEFORMAT_IEEEFP && s->bps == 32) {
        float f = (float)v;
        memcpy(p, &f, 4);
    } else if (s->format == SAMPLEFORMAT_IEEEFP && s->bps == 64) {
        memcpy(p, &v, 8);
    } else if (s->format == SAMPLEFORMAT_IEEEFP) { /* half floats: only zeros needed */
        memset(p, 0, (size_t)s->bps / 8);
    } else if (s->bps == 8) {
        *p = (unsigned char)v;
    } else if (s->bps == 16) {
        uint16_t u = (uint16_t)(int)v;
        memcpy(p, &u, 2);
    } else {
        uint32_t u = (uint32_t)v;
        memcpy(p, &u, 4);
    }
}

static int write_tiff_spec(const char *path, const tiff_spec *s)
{
    TIFF *tif = TIFFOpen(path, "w");
    if (!tif)
        return -1;
    int separate = s->planar == PLANARCONFIG_SEPARATE;
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)s->w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)s->h);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)s->spp);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)s->bps);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, (uint16_t)s->format);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, (uint16_t)s->photometric);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, (uint16_t)s->planar);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, (uint16_t)s->compression);
    if (s->extra >= 0) {
        uint16_t e = (uint16_t)s->extra;
        TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, &e);
    }
    if (s->icc)
        TIFFSetField(tif, TIFFTAG_ICCPROFILE, (uint32_t)s->icc_size, s->icc);
    if (s->colormap) {
        int n = 1 << s->bps;
        TIFFSetField(tif, TIFFTAG_COLORMAP, s->colormap, s->colormap + n, s->colormap + 2 * n);
    }
    int bytes = s->bps >= 8 ? s->bps / 8 : 1, per = separate ? 1 : s->spp;
    int ok = 1;
    if (s->tiled) {
        const int t = 16;
        TIFFSetField(tif, TIFFTAG_TILEWIDTH, (uint32_t)t);
        TIFFSetField(tif, TIFFTAG_TILELENGTH, (uint32_t)t);
        unsigned char *buf = calloc((size_t)t * t * per * bytes, 1);
        for (int p = 0; p < (separate ? s->spp : 1); p++)
            for (int y0 = 0; y0 < s->h; y0 += t)
                for (int x0 = 0; x0 < s->w; x0 += t) {
                    memset(buf, 0, (size_t)t * t * per * bytes);
                    for (int y = y0; y < y0 + t && y < s->h; y++)
                        for (int x = x0; x < x0 + t && x < s->w; x++)
                            for (int c = 0; c < per; c++) {
                                int sc = separate ? p : c;
                                put_sample(buf + (((size_t)(y - y0) * t + (x - x0)) * per + c) *
                                                     bytes,
                                           s, s->values[((size_t)y * s->w + x) * s->spp + sc]);
                            }
                    ok &= TIFFWriteTile(tif, buf, (uint32_t)x0, (uint32_t)y0, 0, (uint16_t)p) >= 0;
                }
        free(buf);
    } else {
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, (uint32_t)3); /* several strips */
        size_t rowbytes = s->bps < 8 ? ((size_t)s->w * per * s->bps + 7) / 8
                                     : (size_t)s->w * per * bytes;
        unsigned char *row = calloc(rowbytes, 1);
        for (int p = 0; p < (separate ? s->spp : 1); p++)
            for (int y = 0; y < s->h; y++) {
                memset(row, 0, rowbytes);
                for (int x = 0; x < s->w; x++)
                    for (int c = 0; c < per; c++) {
                        double v = s->values[((size_t)y * s->w + x) * s->spp + (separate ? p : c)];
                        size_t i = (size_t)x * per + c;
                        if (s->bps < 8) /* packed, first sample in the high bits */
                            row[i * s->bps / 8] |=
                                (unsigned char)((int)v << (8 - s->bps - i * s->bps % 8));
                        else
                            put_sample(row + i * bytes, s, v);
                    }
                ok &= TIFFWriteScanline(tif, row, (uint32_t)y, (uint16_t)p) >= 0;
            }
        free(row);
    }
    TIFFClose(tif);
    return ok ? 0 : -1;
}

/* Every layout the direct path reads: depth x channels x planes x strips or
 * tiles x compression, values exact. */
static void test_tiff_layouts(void)
{
    static const struct {
        int bps, format;
    } depths[] = {{8, SAMPLEFORMAT_UINT}, {16, SAMPLEFORMAT_UINT}, {32, SAMPLEFORMAT_IEEEFP}};
    unsigned long long seed = 31;
    const int w = 37, h = 21; /* not multiples of the tile or strip sizes */
    for (size_t d = 0; d < 3; d++)
        for (int spp = 1; spp <= 4; spp++)
            for (int layout = 0; layout < 4; layout++) {
                int separate = layout & 1, tiled = layout >> 1 & 1;
                int compression = (spp + layout) % 2 ? COMPRESSION_LZW : COMPRESSION_NONE;
                double *v = malloc(sizeof *v * (size_t)w * h * spp);
                unsigned maxv = depths[d].bps == 8 ? 255u : 65535u;
                for (int i = 0; i < w * h * spp; i++)
                    v[i] = depths[d].bps == 32 ? (check_rand(&seed) * 3.0 - 1.0)
                                               : floor(check_rand(&seed) * (maxv + 1.0));
                v[0] = depths[d].bps == 32 ? -0.25 : 0;
                tiff_spec s = {w, h, spp, depths[d].bps, depths[d].format,
                               spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK,
                               separate ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG, tiled,
                               compression, spp % 2 == 0 ? EXTRASAMPLE_UNASSALPHA : -1, v,
                               NULL, 0, NULL};
                char name[64];
                snprintf(name, sizeof name, "layout_b%d_c%d_%s_%s.tif", depths[d].bps, spp,
                         separate ? "planes" : "contig", tiled ? "tiles" : "strips");
                CHECK(write_tiff_spec(at(name), &s) == 0, "fixture %s", name);
                deconv_error err = {0};
                deconv_file_info info;
                deconv_image *im = deconv_image_read(at(name), 0, &info, &err);
                CHECK(im != NULL, "%s: %s", name, err.message);
                if (im) {
                    CHECK(im->width == w && im->height == h && im->channels == spp, "%s: shape",
                          name);
                    int bad = 0;
                    size_t plane = (size_t)w * h;
                    for (size_t p = 0; p < plane; p++)
                        for (int c = 0; c < spp; c++) {
                            double sv = v[p * spp + c];
                            float want = depths[d].bps == 32 ? (float)sv
                                                             : (float)sv / (float)maxv;
                            bad += im->data[c * plane + p] != want;
                        }
                    CHECK(bad == 0, "%s: %d samples differ", name, bad);
                    CHECK(info.bits == depths[d].bps && info.has_alpha == (spp % 2 == 0),
                          "%s: bits %d alpha %d", name, info.bits, info.has_alpha);
                    if (depths[d].bps == 32)
                        CHECK(info.response.kind == DECONV_RESPONSE_LINEAR &&
                                  !strcmp(info.response.name, "linear (float TIFF)"),
                              "%s: response '%s'", name, info.response.name);
                    else
                        CHECK(!strcmp(info.response.name, "sRGB (untagged)"),
                              "%s: response '%s'", name, info.response.name);
                    deconv_image_free(im);
                }
                free(v);
            }
}

/* Layouts read through libtiff's RGBA interface, MINISWHITE, premultiplied
 * alpha, and the ICC profile tag. */
static void test_tiff_other_layouts(void)
{
    deconv_error err = {0};
    deconv_file_info info;
    const int w = 10, h = 4;
    double v[10 * 4 * 4];

    /* 1-bit bilevel: 0 is black */
    for (int i = 0; i < w * h; i++)
        v[i] = (i * 7 % 3) == 0;
    tiff_spec bw = {w, h, 1, 1, SAMPLEFORMAT_UINT, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG,
                    0, COMPRESSION_NONE, -1, v, NULL, 0, NULL};
    CHECK(write_tiff_spec(at("bilevel.tif"), &bw) == 0, "fixture bilevel.tif");
    deconv_image *im = deconv_image_read(at("bilevel.tif"), 0, &info, &err);
    CHECK(im && im->channels == 1 && info.bits == 8, "bilevel: %s", err.message);
    if (im) {
        int bad = 0;
        for (int i = 0; i < w * h; i++)
            bad += im->data[i] != (float)v[i];
        CHECK(bad == 0, "bilevel: %d pixels differ", bad);
        deconv_image_free(im);
    }

    /* 8-bit palette: RGB of the map's high bytes */
    uint16_t map[3 * 256];
    for (int i = 0; i < 256; i++) {
        map[i] = (uint16_t)(i * 257);
        map[256 + i] = (uint16_t)((255 - i) * 257);
        map[512 + i] = (uint16_t)((i * 3 % 256) * 257);
    }
    for (int i = 0; i < w * h; i++)
        v[i] = (i * 13) % 256;
    tiff_spec pal = {w, h, 1, 8, SAMPLEFORMAT_UINT, PHOTOMETRIC_PALETTE, PLANARCONFIG_CONTIG,
                     0, COMPRESSION_NONE, -1, v, NULL, 0, map};
    CHECK(write_tiff_spec(at("palette.tif"), &pal) == 0, "fixture palette.tif");
    im = deconv_image_read(at("palette.tif"), 0, &info, &err);
    CHECK(im && im->channels == 3 && info.bits == 8, "palette: %s", err.message);
    if (im) {
        int bad = 0;
        for (int i = 0; i < w * h; i++) {
            int k = (int)v[i];
            bad += im->data[i] != k / 255.0f ||
                   im->data[w * h + i] != (255 - k) / 255.0f ||
                   im->data[2 * w * h + i] != (k * 3 % 256) / 255.0f;
        }
        CHECK(bad == 0, "palette: %d pixels differ", bad);
        deconv_image_free(im);
    }

    /* 16-bit MINISWHITE: 0 is white */
    for (int i = 0; i < w * h; i++)
        v[i] = i * 1000;
    tiff_spec white = {w, h, 1, 16, SAMPLEFORMAT_UINT, PHOTOMETRIC_MINISWHITE,
                       PLANARCONFIG_CONTIG, 0, COMPRESSION_NONE, -1, v, NULL, 0, NULL};
    CHECK(write_tiff_spec(at("miniswhite.tif"), &white) == 0, "fixture miniswhite.tif");
    im = deconv_image_read(at("miniswhite.tif"), 0, &info, &err);
    CHECK(im && info.bits == 16, "miniswhite: %s", err.message);
    if (im) {
        int bad = 0;
        for (int i = 0; i < w * h; i++)
            bad += fabsf(im->data[i] - (1.0f - (float)(i * 1000) / 65535.0f)) > 1e-6f;
        CHECK(bad == 0, "miniswhite: %d pixels differ", bad);
        deconv_image_free(im);
    }

    /* premultiplied (associated) alpha comes back straight */
    for (int i = 0; i < w * h; i++) {
        v[2 * i] = 100;
        v[2 * i + 1] = 200;
    }
    tiff_spec assoc = {w, h, 2, 8, SAMPLEFORMAT_UINT, PHOTOMETRIC_MINISBLACK,
                       PLANARCONFIG_CONTIG, 0, COMPRESSION_NONE, EXTRASAMPLE_ASSOCALPHA, v, NULL,
                       0, NULL};
    CHECK(write_tiff_spec(at("assoc.tif"), &assoc) == 0, "fixture assoc.tif");
    im = deconv_image_read(at("assoc.tif"), 0, &info, &err);
    CHECK(im && im->channels == 2 && fabsf(im->data[0] - 0.5f) < 1e-6f &&
              fabsf(im->data[w * h] - 200 / 255.0f) < 1e-6f,
          "associated alpha: %s %g", err.message, im ? im->data[0] : -1.0);
    deconv_image_free(im);

    /* the ICC profile tag gives the curve; an untagged 16-bit file is sRGB */
    size_t n18;
    unsigned char *g18 = make_profile(ICC_GAMMA18, &n18);
    for (int i = 0; i < w * h * 3; i++)
        v[i] = i * 100;
    tiff_spec icc = {w, h, 3, 16, SAMPLEFORMAT_UINT, PHOTOMETRIC_RGB, PLANARCONFIG_CONTIG, 0,
                     COMPRESSION_NONE, -1, v, g18, n18, NULL};
    CHECK(g18 && write_tiff_spec(at("icc18.tif"), &icc) == 0, "fixture icc18.tif");
    if (read_info("icc18.tif", &info))
        CHECK(info.response.kind == DECONV_RESPONSE_PARAMETRIC && !info.warning[0] &&
                  fabs(decode_at(&info.response, 0.5) - pow(0.5, 1.8)) < 1e-3 &&
                  !strcmp(info.response.name, "ICC profile 'gamma 1.8 test'"),
              "TIFF gamma 1.8: '%s' warning '%s'", info.response.name, info.warning);
    icc.icc = (const unsigned char *)"not a profile at all, just some bytes";
    icc.icc_size = 38;
    CHECK(write_tiff_spec(at("icc_bad.tif"), &icc) == 0, "fixture icc_bad.tif");
    if (read_info("icc_bad.tif", &info))
        CHECK(!strcmp(info.response.name, "sRGB (assumed)") &&
                  strstr(info.warning, "ICC profile (TIFF tag)"),
              "TIFF bad profile: '%s' warning '%s'", info.response.name, info.warning);
    icc.icc = NULL;
    CHECK(write_tiff_spec(at("untagged16.tif"), &icc) == 0, "fixture untagged16.tif");
    if (read_info("untagged16.tif", &info))
        CHECK(!strcmp(info.response.name, "sRGB (untagged)") && info.bits == 16,
              "untagged 16-bit TIFF: '%s'", info.response.name);
    free(g18);
}

/* deconv_image_write to TIFF at every depth and channel count, then what
 * libtiff says of the file and what deconv reads back. */
static void test_tiff_round_trips(void)
{
    unsigned long long seed = 555;
    for (int ch = 1; ch <= 4; ch++)
        for (int bits = 8; bits <= 32; bits *= 2) {
            const int w = 29, h = 13;
            unsigned maxv = bits == 8 ? 255u : 65535u;
            deconv_image *im = deconv_image_new(w, h, ch);
            size_t n = (size_t)w * h * ch;
            for (size_t i = 0; i < n; i++)
                im->data[i] = bits == 32 ? (float)(check_rand(&seed) * 4 - 1.5)
                                         : (float)(unsigned)(check_rand(&seed) * (maxv + 1.0)) /
                                               (float)maxv;
            if (bits == 32) { /* light outside [0, 1] survives */
                im->data[0] = -0.25f;
                im->data[1] = 1.5f;
            }
            char name[64];
            snprintf(name, sizeof name, "rt_c%d_b%d.tiff", ch, bits);
            deconv_write_options o;
            deconv_write_defaults(&o);
            o.bits = bits;
            deconv_error err = {0};
            CHECK(deconv_image_write(im, at(name), &o, &err) == DECONV_OK, "%s: write: %s", name,
                  err.message);
            TIFF *tif = TIFFOpen(at(name), "r");
            CHECK(tif != NULL, "%s: libtiff cannot open it", name);
            if (tif) {
                uint16_t bps = 0, spp = 0, fmt = 0, photo = 0, nextra = 0, *extra = NULL;
                TIFFGetField(tif, TIFFTAG_BITSPERSAMPLE, &bps);
                TIFFGetField(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
                TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
                TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo);
                TIFFGetFieldDefaulted(tif, TIFFTAG_EXTRASAMPLES, &nextra, &extra);
                CHECK(bps == bits && spp == ch &&
                          fmt == (bits == 32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT) &&
                          photo == (ch < 3 ? PHOTOMETRIC_MINISBLACK : PHOTOMETRIC_RGB) &&
                          nextra == (ch % 2 == 0) &&
                          (nextra == 0 || extra[0] == EXTRASAMPLE_UNASSALPHA),
                      "%s: stored as %d bits, %d samples, format %d, photometric %d, %d extra",
                      name, bps, spp, fmt, photo, nextra);
                TIFFClose(tif);
            }
            deconv_file_info info;
            deconv_image *back = deconv_image_read(at(name), 0, &info, &err);
            CHECK(back != NULL, "%s: read: %s", name, err.message);
            if (back) {
                CHECK(back->width == w && back->height == h && back->channels == ch &&
                          info.bits == bits && info.has_alpha == (ch % 2 == 0),
                      "%s: shape or info", name);
                CHECK(memcmp(back->data, im->data, sizeof(float) * n) == 0,
                      "%s: samples changed on the round trip", name);
                if (bits == 32)
                    CHECK(back->data[0] == -0.25f && back->data[1] == 1.5f,
                          "%s: -0.25, 1.5 read as %g, %g", name, back->data[0], back->data[1]);
                deconv_image_free(back);
            }
            deconv_image_free(im);
        }

    /* integer TIFF rounds and clamps as PNG does */
    const float q[] = {-0.5f, NAN, 1.5f, 10.49f / 255, 10.51f / 255};
    deconv_image *im = deconv_image_new(5, 1, 1);
    memcpy(im->data, q, sizeof q);
    deconv_error err = {0};
    deconv_write_options o;
    deconv_write_defaults(&o);
    CHECK(deconv_image_write(im, at("quant.tif"), &o, &err) == DECONV_OK, "%s", err.message);
    deconv_image *back = deconv_image_read(at("quant.tif"), 0, NULL, &err);
    CHECK(back && back->data[0] == 0 && back->data[1] == 0 && back->data[2] == 1 &&
              back->data[3] == 10 / 255.0f && back->data[4] == 11 / 255.0f,
          "TIFF quantisation");
    deconv_image_free(back);
    deconv_image_free(im);

    /* BigTIFF: chosen from 4 GiB on, and read back */
    CHECK(!deconv_tiff_needs_big(30000, 20000, 3, 16, 0), "3.6 GB: classic TIFF");
    CHECK(deconv_tiff_needs_big(40000, 20000, 3, 16, 0), "4.8 GB: BigTIFF");
    CHECK(deconv_tiff_needs_big(65536, 16384, 1, 32, 0), "exactly 4 GiB: BigTIFF");
    im = deconv_image_new(7, 5, 3);
    for (int i = 0; i < 105; i++)
        im->data[i] = (float)i / 104.0f;
    o.bits = 16;
    CHECK(deconv_tiff_write(im, at("big.tif"), &o, 1, &err) == DECONV_OK, "BigTIFF: %s",
          err.message);
    size_t n;
    unsigned char *file = slurp(at("big.tif"), &n);
    CHECK(file && n > 8 && memcmp(file, "II+\0", 4) == 0, "BigTIFF signature");
    free(file);
    back = deconv_image_read(at("big.tif"), 0, NULL, &err);
    CHECK(back && back->channels == 3 && fabsf(back->data[104] - 1.0f) < 1e-6f &&
              fabsf(back->data[52] - 0.5f) < 1e-4f,
          "BigTIFF read back: %s", err.message);
    deconv_image_free(back);
    deconv_image_free(im);
    CHECK(count_tmp(g_dir) == 0, "temporary files left after writing TIFFs");
}

/* JPEG output: quality, chroma subsampling, gray, alpha dropped. */
static void test_jpeg_output(void)
{
    deconv_image *im = deconv_image_new(64, 48, 4);
    size_t plane = 64 * 48;
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 64; x++) { /* smooth: JPEG keeps it well */
            size_t i = (size_t)y * 64 + x;
            im->data[i] = 0.2f + 0.6f * x / 63.0f;
            im->data[plane + i] = 0.3f + 0.5f * y / 47.0f;
            im->data[2 * plane + i] = 0.5f + 0.2f * sinf(x * 0.1f + y * 0.05f);
            im->data[3 * plane + i] = 0.75f;
        }
    deconv_write_options o;
    deconv_write_defaults(&o);
    CHECK(o.bits == 8 && o.quality == 95 && o.chroma_x == 1 && o.chroma_y == 1, "defaults");
    deconv_error err = {0};
    size_t n95 = 0, n20 = 0;
    CHECK(deconv_image_write(im, at("out.jpg"), &o, &err) == DECONV_OK, "JPEG: %s",
          err.message);
    unsigned char *file = slurp(at("out.jpg"), &n95);
    CHECK(file && n95 > 4 && file[0] == 0xFF && file[1] == 0xD8, "JPEG signature");
    free(file);
    deconv_file_info info;
    deconv_image *back = deconv_image_read(at("out.jpg"), 0, &info, &err);
    CHECK(back && back->channels == 3 && back->width == 64 && back->height == 48 &&
              info.chroma_x == 1 && info.chroma_y == 1 && info.bits == 8,
          "JPEG read back (alpha dropped, 4:4:4): %s, chroma %d x %d", err.message,
          info.chroma_x, info.chroma_y);
    if (back) {
        deconv_image rgb = *im;
        rgb.channels = 3;
        double p = deconv_psnr(&rgb, back);
        CHECK(p > 40, "JPEG at quality 95: PSNR %.1f dB", p);
        deconv_image_free(back);
    }
    o.quality = 20;
    o.chroma_x = o.chroma_y = 2;
    CHECK(deconv_image_write(im, at("out20.jpeg"), &o, &err) == DECONV_OK, "JPEG 20: %s",
          err.message);
    free(slurp(at("out20.jpeg"), &n20));
    CHECK(n20 > 0 && n20 < n95, "quality 20 (%zu bytes) is smaller than 95 (%zu)", n20, n95);
    if (read_info("out20.jpeg", &info))
        CHECK(info.chroma_x == 2 && info.chroma_y == 2, "4:2:0 read back as %d x %d",
              info.chroma_x, info.chroma_y);
    o.chroma_x = 2, o.chroma_y = 1;
    CHECK(deconv_image_write(im, at("out422.JPG"), &o, &err) == DECONV_OK, "JPEG 4:2:2: %s",
          err.message);
    if (read_info("out422.JPG", &info))
        CHECK(info.chroma_x == 2 && info.chroma_y == 1, "4:2:2 read back as %d x %d",
              info.chroma_x, info.chroma_y);
    /* gray (+ alpha) is a gray JPEG */
    deconv_image gray = *im;
    gray.channels = 2;
    deconv_write_defaults(&o);
    CHECK(deconv_image_write(&gray, at("gray.jpg"), &o, &err) == DECONV_OK, "gray JPEG: %s",
          err.message);
    back = deconv_image_read(at("gray.jpg"), 0, &info, &err);
    CHECK(back && back->channels == 1 && info.chroma_x == 0 &&
              fabsf(back->data[0] - im->data[0]) < 2.0f / 255,
          "gray JPEG read back: %s", err.message);
    deconv_image_free(back);
    deconv_image_free(im);
}

/* Output names and options refused before anything is written; failures
 * part way leave an existing file as it was and no temporary file. */
static void test_write_format_errors(void)
{
    deconv_image *im = deconv_image_new(4, 3, 3);
    for (int i = 0; i < 36; i++)
        im->data[i] = (float)i / 36.0f;
    static const char sentinel[] = "sentinel: must survive\n";
    deconv_write_options o;
    deconv_error err = {0};
    const struct {
        const char *name;
        int bits, quality;
        const char *said;
    } bad[] = {
        {"keep.bmp", 8, 95, "unknown extension '.bmp' (the output formats are .png, .jpg, .jpeg, "
                            ".tif, .tiff)"},
        {"keep", 8, 95, "no extension"},
        {"keep.", 8, 95, "no extension"},
        {"dir.tif/keep", 8, 95, "no extension"},
        {"keep.jpg", 16, 95, "16 bits per sample (JPEG output is 8)"},
        {"keep.jpg", 32, 95, "32 bits per sample (JPEG output is 8)"},
        {"keep.png", 32, 95, "32-bit float samples need a TIFF"},
        {"keep.tif", 12, 95, "12 bits per sample (TIFF output is 8 or 16, or 32"},
        {"keep.jpg", 8, 0, "JPEG quality 0"},
        {"keep.jpg", 8, 101, "JPEG quality 101"},
    };
    mkdir(at("dir.tif"), 0755);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_bytes(at(bad[i].name), sentinel, sizeof sentinel - 1);
        deconv_write_defaults(&o);
        o.bits = bad[i].bits;
        o.quality = bad[i].quality;
        deconv_status s = deconv_image_write(im, at(bad[i].name), &o, &err);
        CHECK(s == DECONV_ERR_ARG && strstr(err.message, bad[i].said) &&
                  strstr(err.message, bad[i].name),
              "%s, %d bits, quality %d: %d '%s'", bad[i].name, bad[i].bits, bad[i].quality, s,
              err.message);
        CHECK(file_is(at(bad[i].name), sentinel), "%s: the existing file changed", bad[i].name);
        unlink(at(bad[i].name));
    }
    rmdir(at("dir.tif"));
    deconv_write_defaults(&o);
    o.chroma_x = 3;
    CHECK(deconv_image_write(im, at("keep.jpg"), &o, &err) == DECONV_ERR_ARG &&
              strstr(err.message, "chroma subsampling 3 x 1"),
          "chroma 3: '%s'", err.message);
    CHECK(deconv_image_write(im, at("default.tif"), NULL, &err) == DECONV_OK,
          "NULL options: %s", err.message);
    CHECK(deconv_format_of_path("a/b.TIFF") == DECONV_FORMAT_TIFF &&
              deconv_format_of_path("x.Jpeg") == DECONV_FORMAT_JPEG &&
              deconv_format_of_path("x.png") == DECONV_FORMAT_PNG &&
              deconv_format_of_path(".png") == DECONV_FORMAT_UNKNOWN &&
              deconv_format_of_path("x.png.gz") == DECONV_FORMAT_UNKNOWN &&
              deconv_format_of_path(NULL) == DECONV_FORMAT_UNKNOWN,
          "formats by extension");
    /* deconv_image_write_png writes a PNG whatever the name */
    CHECK(deconv_image_write_png(im, at("png.data"), 8, &err) == DECONV_OK, "%s", err.message);
    size_t n;
    unsigned char *file = slurp(at("png.data"), &n);
    CHECK(file && n > 8 && png_sig_cmp(file, 0, 8) == 0, "write_png: not a PNG");
    free(file);

    /* writes that fail part way (the file size limit stands in for a full
     * disk): an I/O error naming the file, the old one intact */
    deconv_image *big = deconv_image_new(300, 200, 3);
    unsigned long long seed = 98;
    for (size_t i = 0; i < 300 * 200 * 3; i++)
        big->data[i] = (float)check_rand(&seed);
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit small = old;
    small.rlim_cur = 20000;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    const char *names[] = {"full.tif", "full.jpg", "full16.tif", "fullf.tif"};
    const int bits[] = {8, 8, 16, 32};
    for (int i = 0; i < 4; i++) {
        write_bytes(at(names[i]), sentinel, sizeof sentinel - 1);
        deconv_write_defaults(&o);
        o.bits = bits[i];
        if (setrlimit(RLIMIT_FSIZE, &small) != 0)
            break;
        deconv_status s = deconv_image_write(big, at(names[i]), &o, &err);
        setrlimit(RLIMIT_FSIZE, &old);
        CHECK(s == DECONV_ERR_IO && strstr(err.message, at(names[i])) &&
                  strstr(err.message, "too large"),
              "%s over the size limit: %d '%s'", names[i], s, err.message);
        CHECK(file_is(at(names[i]), sentinel), "%s: the existing file changed", names[i]);
    }
    signal(SIGXFSZ, prev);
    /* a folder that does not exist */
    CHECK(deconv_image_write(im, at("no_such_dir/x.tif"), NULL, &err) == DECONV_ERR_IO &&
              strstr(err.message, "No such file"),
          "TIFF, no folder: '%s'", err.message);
    CHECK(deconv_image_write(im, at("no_such_dir/x.jpg"), NULL, &err) == DECONV_ERR_IO,
          "JPEG, no folder: '%s'", err.message);
    deconv_image_free(big);
    deconv_image_free(im);
    CHECK(count_tmp(g_dir) == 0, "temporary files left after failed writes");
}

/* A classic little-endian TIFF by hand: one IFD of SHORT/LONG entries with
 * one value each, in the order given (which must be ascending), then data. */
typedef struct {
    uint16_t tag, type; /* 3 SHORT, 4 LONG */
    uint32_t value;
} ifd_entry;

static int write_tiff_by_hand(const char *path, const ifd_entry *e, int n, size_t data_bytes)
{
    size_t size = 8 + 2 + 12 * (size_t)n + 4 + data_bytes;
    unsigned char *b = calloc(size, 1);
    if (!b)
        return -1;
    memcpy(b, "II*\0", 4);
    b[4] = 8;
    b[8] = (unsigned char)n;
    for (int i = 0; i < n; i++) {
        unsigned char *p = b + 10 + 12 * i;
        p[0] = (unsigned char)e[i].tag, p[1] = (unsigned char)(e[i].tag >> 8);
        p[2] = (unsigned char)e[i].type;
        p[4] = 1;
        for (int k = 0; k < 4; k++)
            p[8 + k] = (unsigned char)(e[i].value >> (8 * k));
    }
    int r = write_bytes(path, b, size);
    free(b);
    return r;
}

static void test_bad_tiffs(void)
{
    deconv_error err = {0};
    deconv_image *im;
    /* truncated: half of a valid file (strips past the end) */
    double v[40 * 30];
    for (int i = 0; i < 40 * 30; i++)
        v[i] = i % 251;
    tiff_spec s = {40, 30, 1, 8, SAMPLEFORMAT_UINT, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG,
                   0, COMPRESSION_NONE, -1, v, NULL, 0, NULL};
    write_tiff_spec(at("whole.tif"), &s);
    size_t n;
    unsigned char *file = slurp(at("whole.tif"), &n);
    /* libtiff writes the pixels first and the directory last: cut into the
     * pixels while keeping the directory, the strips now run past the end */
    if (file) {
        unsigned char *cut = malloc(n);
        memcpy(cut, file, n);
        write_bytes(at("truncated.tif"), cut, n / 2); /* the directory is gone too */
        free(cut);
    }
    free(file);
    im = deconv_image_read(at("truncated.tif"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT && strstr(err.message, "truncated.tif") &&
              strstr(err.message, "corrupt"),
          "truncated: %d '%s'", err.code, err.message);
    deconv_image_free(im);

    /* a directory whose strip lies past the end of the file */
    const ifd_entry past[] = {{256, 3, 16}, {257, 3, 16}, {258, 3, 8}, {259, 3, 1},
                              {262, 3, 1},  {273, 4, 5000}, {277, 3, 1}, {278, 3, 16},
                              {279, 4, 256}};
    write_tiff_by_hand(at("past_end.tif"), past, 9, 16);
    im = deconv_image_read(at("past_end.tif"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT && strstr(err.message, "past_end.tif"),
          "strip past the end: %d '%s'", err.code, err.message);
    deconv_image_free(im);

    /* the header alone, and a header pointing nowhere */
    write_bytes(at("header.tif"), "II*\0", 4);
    im = deconv_image_read(at("header.tif"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT && strstr(err.message, "header.tif"),
          "header only: %d '%s'", err.code, err.message);
    write_bytes(at("nowhere.tif"), "MM\0*\x7f\xff\xff\xf0", 8);
    im = deconv_image_read(at("nowhere.tif"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT && strstr(err.message, "nowhere.tif"),
          "directory past the end: %d '%s'", err.code, err.message);

    /* zero size */
    write_bytes(at("zero.tif"), "", 0);
    im = deconv_image_read(at("zero.tif"), 0, NULL, &err);
    CHECK(im == NULL && strstr(err.message, "zero.tif' is empty"), "zero size: '%s'",
          err.message);

    /* absurd dimensions: refused by the limit before any allocation, and
     * as too large for memory without one */
    const ifd_entry huge[] = {{256, 4, 4000000000u}, {257, 4, 1000000}, {258, 3, 8},
                              {259, 3, 1}, {262, 3, 1}, {273, 4, 200}, {277, 3, 1},
                              {278, 4, 1000000}, {279, 4, 16}};
    write_tiff_by_hand(at("huge.tif"), huge, 9, 16);
    im = deconv_image_read(at("huge.tif"), 200000000, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_TOO_LARGE && strstr(err.message, "huge.tif") &&
              strstr(err.message, "limit"),
          "huge: %d '%s'", err.code, err.message);
    const ifd_entry wide[] = {{256, 4, 100000}, {257, 4, 100000}, {258, 3, 8}, {259, 3, 1},
                              {262, 3, 1}, {273, 4, 200}, {277, 3, 1}, {278, 4, 1},
                              {279, 4, 16}};
    write_tiff_by_hand(at("wide.tif"), wide, 9, 16);
    im = deconv_image_read(at("wide.tif"), 1000000, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_TOO_LARGE && strstr(err.message, "10000 megapixels"),
          "100000 x 100000: %d '%s'", err.code, err.message);

    /* unsupported sample formats */
    const struct {
        int bps, format;
        const char *said;
    } unsupported[] = {
        {16, SAMPLEFORMAT_INT, "signed integer samples are not supported"},
        {64, SAMPLEFORMAT_IEEEFP, "64-bit float samples are not supported"},
        {16, SAMPLEFORMAT_IEEEFP, "16-bit float samples are not supported"},
        {32, SAMPLEFORMAT_UINT, "32-bit integer samples are not supported"},
    };
    for (int i = 0; i < 4; i++) {
        double small[16] = {0};
        tiff_spec u = {4, 4, 1, unsupported[i].bps, unsupported[i].format,
                       PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, 0, COMPRESSION_NONE, -1,
                       small, NULL, 0, NULL};
        CHECK(write_tiff_spec(at("unsupported.tif"), &u) == 0, "fixture %d", i);
        im = deconv_image_read(at("unsupported.tif"), 0, NULL, &err);
        CHECK(im == NULL && err.code == DECONV_ERR_FORMAT &&
                  strstr(err.message, "unsupported.tif") &&
                  strstr(err.message, unsupported[i].said),
              "%d bits, format %d: '%s'", unsupported[i].bps, unsupported[i].format,
              err.message);
        deconv_image_free(im);
    }
    /* NaN and infinity in a float file */
    double nan_values[16] = {0, 0.5, NAN, 1};
    tiff_spec f = {4, 4, 1, 32, SAMPLEFORMAT_IEEEFP, PHOTOMETRIC_MINISBLACK,
                   PLANARCONFIG_CONTIG, 0, COMPRESSION_NONE, -1, nan_values, NULL, 0, NULL};
    write_tiff_spec(at("nan.tif"), &f);
    im = deconv_image_read(at("nan.tif"), 0, NULL, &err);
    CHECK(im == NULL && err.code == DECONV_ERR_FORMAT && strstr(err.message, "NaN or infinite"),
          "NaN: '%s'", err.message);
    nan_values[2] = INFINITY;
    write_tiff_spec(at("inf.tif"), &f);
    im = deconv_image_read(at("inf.tif"), 0, NULL, &err);
    CHECK(im == NULL && strstr(err.message, "NaN or infinite"), "infinity: '%s'", err.message);
}

/* ------------------------------------------------------------------ */
/* Metadata carried from input to output (metadata.c and the writers)   */
/* ------------------------------------------------------------------ */

static deconv_image *read_meta(const char *name, deconv_metadata **m, deconv_file_info *info)
{
    deconv_error err = {0};
    deconv_image *im = deconv_image_read_with_metadata(at(name), 0, info, m, &err);
    CHECK(im && *m, "%s: %s", name, err.message);
    return im;
}

static void test_metadata(void)
{
    size_t n18;
    unsigned char *g18 = make_profile(ICC_GAMMA18, &n18);
    const char *text[DECONV_EXIF_TEXT_TAGS] = {"a picture", "TestCam", "Model 7", NULL, NULL,
                                               "Ada Lovelace", NULL};
    size_t exif_size = 0;
    unsigned char *exif = deconv_exif_make(6, text, 0, NULL, 0, &exif_size);
    CHECK(g18 && exif, "fixtures");
    if (!g18 || !exif)
        return;
    char got[256];
    CHECK(deconv_exif_orientation(exif, exif_size) == 6 &&
              deconv_exif_text(exif, exif_size, 0x010F, got, sizeof got) &&
              !strcmp(got, "TestCam") &&
              deconv_exif_text(exif, exif_size, 0x013B, got, sizeof got) &&
              !strcmp(got, "Ada Lovelace") && !deconv_exif_text(exif, exif_size, 0x8298, got, 256),
          "the EXIF block made and read");
    static const unsigned char comment[] = "Comment\0a text chunk";
    deconv_png_text chunk = {"tEXt", (unsigned char *)comment, sizeof comment - 1};
    deconv_metadata m = {g18, n18, exif, exif_size, 6, 1, &chunk};

    deconv_image *im = deconv_image_new(24, 16, 3); /* not square: a rotation would show */
    for (int i = 0; i < 24 * 16 * 3; i++)
        im->data[i] = (float)(i % 97) / 96.0f;
    const char *names[] = {"meta.png", "meta.jpg", "meta.tif"};
    for (int f = 0; f < 3; f++) {
        deconv_write_options o;
        deconv_write_defaults(&o);
        o.metadata = &m;
        deconv_error err = {0};
        CHECK(deconv_image_write(im, at(names[f]), &o, &err) == DECONV_OK, "%s: %s", names[f],
              err.message);
        deconv_metadata *back = NULL;
        deconv_file_info info;
        deconv_image *b = read_meta(names[f], &back, &info);
        if (!b || !back)
            continue;
        CHECK(b->width == 24 && b->height == 16, "%s: %dx%d, not as stored", names[f], b->width,
              b->height);
        CHECK(back->icc && back->icc_size == n18 && memcmp(back->icc, g18, n18) == 0,
              "%s: the ICC profile changed", names[f]);
        CHECK(fabs(decode_at(&info.response, 0.5) - pow(0.5, 1.8)) < 1e-3,
              "%s: the profile's curve: '%s'", names[f], info.response.name);
        CHECK(back->orientation == 6, "%s: orientation %d", names[f], back->orientation);
        CHECK(back->exif && deconv_exif_text(back->exif, back->exif_size, 0x013B, got, 256) &&
                  !strcmp(got, "Ada Lovelace") &&
                  deconv_exif_text(back->exif, back->exif_size, 0x010E, got, 256) &&
                  !strcmp(got, "a picture"),
              "%s: the EXIF text tags", names[f]);
        if (f < 2) /* PNG and JPEG keep the block as it was */
            CHECK(back->exif_size == exif_size && memcmp(back->exif, exif, exif_size) == 0,
                  "%s: the EXIF block changed", names[f]);
        if (f == 0)
            CHECK(back->text_count == 1 && !strcmp(back->text[0].type, "tEXt") &&
                      back->text[0].size == chunk.size &&
                      memcmp(back->text[0].data, comment, chunk.size) == 0,
                  "PNG: the text chunk (%d)", back->text_count);
        else
            CHECK(back->text_count == 0, "%s: text chunks are PNG's", names[f]);
        deconv_image_free(b);

        /* and on: each output as the input of the next format */
        const char *next = names[(f + 1) % 3];
        char chained[64];
        snprintf(chained, sizeof chained, "chain_%d_%s", f, next);
        deconv_write_defaults(&o);
        o.metadata = back;
        CHECK(deconv_image_write(im, at(chained), &o, &err) == DECONV_OK, "%s: %s", chained,
              err.message);
        deconv_metadata *again = NULL;
        b = read_meta(chained, &again, &info);
        if (again)
            CHECK(again->orientation == 6 && again->icc && again->icc_size == n18 &&
                      memcmp(again->icc, g18, n18) == 0 && again->exif &&
                      deconv_exif_text(again->exif, again->exif_size, 0x010F, got, 256) &&
                      !strcmp(got, "TestCam"),
                  "%s: lost on the way", chained);
        deconv_image_free(b);
        deconv_metadata_free(again);
        deconv_metadata_free(back);
    }

    /* PNG allows an RGB profile on colour images only: a gray output
     * drops it, a gray JPEG keeps it */
    deconv_image gray = *im;
    gray.channels = 1;
    deconv_write_options o;
    deconv_write_defaults(&o);
    o.metadata = &m;
    deconv_error err = {0};
    CHECK(deconv_image_write(&gray, at("gray_meta.png"), &o, &err) == DECONV_OK, "%s",
          err.message);
    deconv_metadata *back = NULL;
    deconv_image_free(read_meta("gray_meta.png", &back, NULL));
    CHECK(back && !back->icc && back->orientation == 6, "gray PNG with an RGB profile");
    deconv_metadata_free(back);

    /* a file without any: an empty object; without asking: nothing */
    CHECK(deconv_image_write(im, at("plain.png"), NULL, &err) == DECONV_OK, "%s", err.message);
    back = NULL;
    deconv_image_free(read_meta("plain.png", &back, NULL));
    CHECK(back && !back->icc && !back->exif && back->orientation == 0 && back->text_count == 0,
          "no metadata");
    deconv_metadata_free(back);
    back = (deconv_metadata *)&m;
    CHECK(deconv_image_read_with_metadata(at("missing.png"), 0, NULL, &back, &err) == NULL &&
              back == NULL && strstr(err.message, "missing.png"),
          "a failed read gives no metadata");
    deconv_image *b = deconv_image_read_with_metadata(at("plain.png"), 0, NULL, NULL, &err);
    CHECK(b != NULL, "meta may be NULL");
    deconv_image_free(b);
    deconv_metadata_free(NULL);

    /* a big-endian block, and broken ones: no orientation, no crash */
    unsigned char be[26] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 8};
    CHECK(deconv_exif_orientation(be, sizeof be) == 8, "big-endian orientation");
    be[19] = 9;
    CHECK(deconv_exif_orientation(be, sizeof be) == 0, "orientation 9 is none");
    CHECK(deconv_exif_orientation(be, 12) == 0, "IFD past the end");
    be[7] = 200;
    CHECK(deconv_exif_orientation(be, sizeof be) == 0, "IFD offset past the end");
    CHECK(deconv_exif_orientation((const unsigned char *)"Exif", 4) == 0, "not TIFF");
    unsigned char bad_text[40];
    memcpy(bad_text, exif, 30 < exif_size ? 30 : exif_size);
    CHECK(!deconv_exif_text(bad_text, 30, 0x013B, got, 256), "a text value past the end");

    /* a TIFF's own tags come out as EXIF */
    TIFF *tif = TIFFOpen(at("tagged.tif"), "w");
    if (tif) {
        unsigned char row[8] = {0};
        TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 8);
        TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 2);
        TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8);
        TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(tif, TIFFTAG_ORIENTATION, ORIENTATION_LEFTBOT);
        TIFFSetField(tif, TIFFTAG_ARTIST, "Grace Hopper");
        TIFFSetField(tif, TIFFTAG_COPYRIGHT, "(c) nobody, a long enough string");
        TIFFWriteScanline(tif, row, 0, 0);
        TIFFWriteScanline(tif, row, 1, 0);
        TIFFClose(tif);
    }
    back = NULL;
    deconv_image_free(read_meta("tagged.tif", &back, NULL));
    CHECK(back && back->orientation == 8 && back->exif &&
              deconv_exif_orientation(back->exif, back->exif_size) == 8 &&
              deconv_exif_text(back->exif, back->exif_size, 0x013B, got, 256) &&
              !strcmp(got, "Grace Hopper") &&
              deconv_exif_text(back->exif, back->exif_size, 0x8298, got, 256) &&
              !strcmp(got, "(c) nobody, a long enough string"),
          "TIFF tags as EXIF");
    deconv_metadata_free(back);
    deconv_image_free(im);
    free(exif);
    free(g18);
}

/* A TIFF's EXIF IFD goes into the EXIF block (little-endian, whatever the
 * file's byte order): a big-endian TIFF made byte by byte, with an EXIF IFD
 * of an exposure time (RATIONAL), a date (ASCII), an ISO (SHORT) and a maker
 * note (left out: its offsets would not survive the move). */
static void be16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static unsigned le16(const unsigned char *p) { return (unsigned)(p[0] | p[1] << 8); }

/* The entry of tag in the IFD at off of a little-endian block; NULL if none. */
static const unsigned char *le_entry(const unsigned char *b, size_t n, uint32_t off, unsigned tag)
{
    if (off + 2 > n)
        return NULL;
    unsigned count = le16(b + off);
    for (unsigned i = 0; i < count && off + 2 + 12 * (i + 1) <= n; i++)
        if (le16(b + off + 2 + 12 * i) == tag)
            return b + off + 2 + 12 * i;
    return NULL;
}

static void test_tiff_exif_ifd(void)
{
    unsigned char f[512] = {'M', 'M', 0, 42};
    put32(f + 4, 8);
    /* IFD0, in tag order: a 4 x 2 gray image of 8 bits at 400, turned
     * (orientation 3), and the EXIF IFD at 200 */
    const unsigned ifd0[][3] = {{256, 3, 4}, {257, 3, 2}, {258, 3, 8},   {259, 3, 1},
                                {262, 3, 1}, {273, 4, 400}, {274, 3, 3}, {277, 3, 1},
                                {278, 3, 2}, {279, 4, 8},   {34665, 4, 200}};
    be16(f + 8, 11);
    for (int k = 0; k < 11; k++) {
        const unsigned *e = ifd0[k];
        unsigned char *p = f + 10 + 12 * k;
        be16(p, e[0]);
        be16(p + 2, e[1]);
        put32(p + 4, 1);
        if (e[1] == 3)
            be16(p + 8, e[2]);
        else
            put32(p + 8, e[2]);
    }
    /* the EXIF IFD at 200: ExposureTime 1/100 at 300, ISO 400, the date at
     * 320, a maker note of 8 bytes at 360 */
    unsigned char *x = f + 200;
    be16(x, 4);
    be16(x + 2, 0x829A), be16(x + 4, 5), put32(x + 6, 1), put32(x + 10, 300);
    be16(x + 14, 0x8827), be16(x + 16, 3), put32(x + 18, 1), be16(x + 22, 400);
    be16(x + 26, 0x9003), be16(x + 28, 2), put32(x + 30, 20), put32(x + 34, 320);
    be16(x + 38, 0x927C), be16(x + 40, 7), put32(x + 42, 8), put32(x + 46, 360);
    put32(f + 300, 1), put32(f + 304, 100);
    memcpy(f + 320, "2024:01:02 03:04:05", 20);
    memcpy(f + 360, "MAKERNOT", 8);
    for (int i = 0; i < 8; i++)
        f[400 + i] = (unsigned char)(30 * i);
    write_bytes(at("exif_be.tif"), f, 408);

    deconv_metadata *m = NULL;
    deconv_file_info info;
    deconv_image *im = read_meta("exif_be.tif", &m, &info);
    CHECK(im && im->width == 4 && im->height == 2 && im->data[1] == 30 / 255.0f,
          "big-endian TIFF pixels");
    deconv_image_free(im);
    if (!m)
        return;
    CHECK(m->orientation == 3 && m->exif && memcmp(m->exif, "II*\0", 4) == 0 &&
              deconv_exif_orientation(m->exif, m->exif_size) == 3,
          "big-endian TIFF: orientation %d", m->orientation);
    const unsigned char *b = m->exif;
    size_t n = m->exif_size;
    const unsigned char *ptr = b ? le_entry(b, n, le32(b + 4), 0x8769) : NULL;
    CHECK(ptr != NULL, "IFD0 points to the EXIF IFD");
    if (ptr) {
        uint32_t sub = le32(ptr + 8);
        const unsigned char *t = le_entry(b, n, sub, 0x829A);
        CHECK(t && le16(t + 2) == 5 && le32(t + 8) + 8 <= n && le32(b + le32(t + 8)) == 1 &&
                  le32(b + le32(t + 8) + 4) == 100,
              "ExposureTime 1/100, little-endian");
        const unsigned char *iso = le_entry(b, n, sub, 0x8827);
        CHECK(iso && le16(iso + 8) == 400, "ISO 400");
        const unsigned char *d = le_entry(b, n, sub, 0x9003);
        CHECK(d && le32(d + 4) == 20 && le32(d + 8) + 20 <= n &&
                  memcmp(b + le32(d + 8), "2024:01:02 03:04:05", 20) == 0,
              "DateTimeOriginal");
        CHECK(!le_entry(b, n, sub, 0x927C), "the maker note is left out");
    }
    /* on into a JPEG: the block as it is */
    deconv_write_options o;
    deconv_write_defaults(&o);
    o.metadata = m;
    im = deconv_image_new(4, 2, 1);
    deconv_error err = {0};
    CHECK(deconv_image_write(im, at("exif_be.jpg"), &o, &err) == DECONV_OK, "%s", err.message);
    deconv_metadata *j = NULL;
    deconv_image_free(read_meta("exif_be.jpg", &j, &info));
    CHECK(j && j->exif_size == m->exif_size && memcmp(j->exif, m->exif, m->exif_size) == 0,
          "the JPEG holds the block");
    deconv_metadata_free(j);
    deconv_image_free(im);
    deconv_metadata_free(m);

    /* a description too long for one JPEG marker is dropped, the
     * orientation kept */
    TIFF *tif = TIFFOpen(at("long_text.tif"), "w");
    char *text = malloc(70001);
    if (tif && text) {
        memset(text, 'x', 70000);
        text[70000] = '\0';
        unsigned char row[4] = {0};
        TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 4);
        TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 1);
        TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 8);
        TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(tif, TIFFTAG_ORIENTATION, ORIENTATION_RIGHTTOP);
        TIFFSetField(tif, TIFFTAG_IMAGEDESCRIPTION, text);
        TIFFSetField(tif, TIFFTAG_ARTIST, "short");
        TIFFWriteScanline(tif, row, 0, 0);
    }
    if (tif)
        TIFFClose(tif);
    free(text);
    m = NULL;
    deconv_image_free(read_meta("long_text.tif", &m, &info));
    char got[64];
    CHECK(m && m->orientation == 6 && m->exif && m->exif_size <= 65533 - 6 &&
              !deconv_exif_text(m->exif, m->exif_size, 0x010E, got, sizeof got) &&
              deconv_exif_text(m->exif, m->exif_size, 0x013B, got, sizeof got),
          "a 70000-byte description: dropped (%zu bytes)", m ? m->exif_size : 0);
    deconv_metadata_free(m);
}

/* ------------------------------------------------------------------ */
/* Real photographs                                                     */
/* ------------------------------------------------------------------ */

static void test_photos(void)
{
#ifdef DECONV_TEST_DATA
    static const struct {
        const char *name;
        int w, h, ch;
    } photos[] = {{"camera.png", 512, 512, 1}, {"coffee.png", 600, 400, 3}};
    for (int i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", DECONV_TEST_DATA, photos[i].name);
        deconv_error err = {0};
        deconv_file_info info;
        deconv_image *im = deconv_image_read(path, 0, &info, &err);
        CHECK(im != NULL, "%s: %s", path, err.message);
        if (!im)
            continue;
        CHECK(im->width == photos[i].w && im->height == photos[i].h &&
                  im->channels == photos[i].ch && info.bits == 8,
              "%s: %dx%dx%d", photos[i].name, im->width, im->height, im->channels);
        /* the samples are what libpng itself decodes */
        int w, h, d, t;
        unsigned *raw = read_png_raw(path, &w, &h, &d, &t);
        int bad = 0;
        size_t plane = (size_t)im->width * im->height;
        for (size_t p = 0; raw && p < plane; p++)
            for (int c = 0; c < im->channels; c++)
                bad += im->data[c * plane + p] != raw[p * im->channels + c] / 255.0f;
        CHECK(raw && bad == 0, "%s: %d samples differ from libpng's", photos[i].name, bad);
        free(raw);
        /* written and read back unchanged, at 8 and 16 bits */
        for (int bits = 8; bits <= 16; bits += 8) {
            CHECK(deconv_image_write_png(im, at("photo.png"), bits, &err) == DECONV_OK, "%s",
                  err.message);
            deconv_image *back = deconv_image_read(at("photo.png"), 0, NULL, &err);
            CHECK(back && memcmp(back->data, im->data, plane * im->channels * sizeof(float)) == 0,
                  "%s: %d-bit round trip", photos[i].name, bits);
            deconv_image_free(back);
        }
        deconv_image_free(im);
    }
#endif
}

int main(void)
{
    umask(022);
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/deconv_imageio_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_gray_low_depths();
    test_direct_layouts();
    test_palette_and_trns();
    test_round_trips();
    test_quantisation();
    test_write_errors();
    test_atomic();
    test_limits();
    test_broken_files();
    test_pnm();
    test_stb_formats();
    test_icc_curves();
    test_icc_fuzz_inputs();
    test_png_tone_curves();
    test_jpeg_tone_curves();
    test_jpeg_undefined_parts();
    test_tiff_layouts();
    test_tiff_other_layouts();
    test_tiff_round_trips();
    test_jpeg_output();
    test_write_format_errors();
    test_bad_tiffs();
    test_metadata();
    test_tiff_exif_ifd();
    test_photos();
    CHECK(count_tmp(g_dir) == 0, "temporary files left");
    if (!getenv("DECONV_TEST_KEEP")) /* set it to look at the fixtures */
        remove_tree(g_dir);
    return check_done("imageio");
}
