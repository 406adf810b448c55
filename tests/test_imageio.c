/* Image files (imageio.c, atomic_file.c): every PNG layout libpng reads,
 * the hand-read PNM family, the stb_image formats, the size limit, broken
 * files and the atomic writer. Fixtures are made at run time in a temporary
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

#include "check.h"
#include "deconv.h"
#include "internal.h" /* the atomic writer */

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
        deconv_file_info info = {0, -1};
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
                deconv_file_info info = {0, -1};
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
    deconv_file_info info = {0, -1};
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

            deconv_file_info info = {0, -1};
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
    test_photos();
    CHECK(count_tmp(g_dir) == 0, "temporary files left");
    if (!getenv("DECONV_TEST_KEEP")) /* set it to look at the fixtures */
        remove_tree(g_dir);
    return check_done("imageio");
}
