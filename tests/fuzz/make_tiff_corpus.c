/* TIFF seeds for fuzz_image (run by make_corpus.sh): small files through
 * libtiff of every layout deconv reads: 8/16-bit and float samples, gray,
 * gray+alpha, RGB, RGBA, strips and tiles, contiguous and separate planes
 * (in several rows of strips or of tiles, which the row reader decodes a
 * band at a time), each compression Debian's libtiff writes that the files
 * use (none, LZW, Deflate with predictors, PackBits), an ICC profile tag,
 * BigTIFF, and the RGBA interface's layouts (palette, bilevel, MINISWHITE,
 * YCbCr in JPEG), one with an orientation and text tags (which
 * make_corpus.sh turns into JPEG and PNG seeds with EXIF), and a
 * big-endian one with an EXIF IFD. Every file stays under 4 KB.
 *   usage: make_tiff_corpus CORPUS_DIR/fuzz_image   (which must exist)
 *   build: cc make_tiff_corpus.c -ltiff -lm */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <tiffio.h>

static const char *g_dir;

typedef struct {
    const char *name;
    int w, h, spp, bps, format, photometric, planar, tile, compression, predictor;
    int extra; /* EXTRASAMPLE_* or -1 */
    int big;
    int icc;   /* attach the test profile (see below) */
    int tags;  /* orientation 6 and text tags (carried as EXIF) */
} seed;

static void die(const char *what)
{
    fprintf(stderr, "make_tiff_corpus: %s\n", what);
    exit(1);
}

/* A smooth picture with some texture: sample c of pixel (x, y) in [0, 1]. */
static double value(int x, int y, int c, int w, int h)
{
    return 0.5 + 0.4 * sin(0.7 * x + 1.3 * c) * cos(0.5 * y - 0.4 * c) + 0.1 * ((x + y) % 2) -
           0.05 + 0.0 * w * h;
}

static void put(unsigned char *p, const seed *s, double v)
{
    if (s->format == SAMPLEFORMAT_IEEEFP) {
        float f = (float)(v * 1.5 - 0.25); /* light, some below 0 and above 1 */
        memcpy(p, &f, 4);
    } else if (s->bps == 16) {
        uint16_t u = (uint16_t)lround(fmin(fmax(v, 0), 1) * 65535);
        memcpy(p, &u, 2);
    } else {
        *p = (unsigned char)lround(fmin(fmax(v, 0), 1) * 255);
    }
}

/* A minimal ICC profile header's worth of bytes: not a valid profile, so
 * the reader's warning path is a seed too. */
static const unsigned char fake_icc[128] = {0, 0, 0, 128, 'l', 'c', 'm', 's', 2, 0x10};

static void make(const seed *s)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", g_dir, s->name);
    TIFF *tif = TIFFOpen(path, s->big ? "w8" : "w");
    if (!tif)
        die(path);
    int sep = s->planar == PLANARCONFIG_SEPARATE, per = sep ? 1 : s->spp;
    int bytes = s->bps / 8;
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)s->w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)s->h);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)s->spp);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)s->bps);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, (uint16_t)s->format);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, (uint16_t)s->photometric);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, (uint16_t)s->planar);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, (uint16_t)s->compression);
    if (s->predictor)
        TIFFSetField(tif, TIFFTAG_PREDICTOR, (uint16_t)s->predictor);
    if (s->extra >= 0) {
        uint16_t e = (uint16_t)s->extra;
        TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, &e);
    }
    if (s->icc)
        TIFFSetField(tif, TIFFTAG_ICCPROFILE, (uint32_t)sizeof fake_icc, fake_icc);
    if (s->tags) {
        TIFFSetField(tif, TIFFTAG_ORIENTATION, ORIENTATION_RIGHTTOP);
        TIFFSetField(tif, TIFFTAG_ARTIST, "deconv fuzz seed");
        TIFFSetField(tif, TIFFTAG_MAKE, "none");
    }
    if (s->photometric == PHOTOMETRIC_PALETTE) {
        static uint16_t map[3][256];
        for (int i = 0; i < 256; i++) {
            map[0][i] = (uint16_t)(i * 257);
            map[1][i] = (uint16_t)((255 - i) * 257);
            map[2][i] = (uint16_t)((i * 5 % 256) * 257);
        }
        TIFFSetField(tif, TIFFTAG_COLORMAP, map[0], map[1], map[2]);
    }
    if (s->compression == COMPRESSION_JPEG) {
        TIFFSetField(tif, TIFFTAG_JPEGQUALITY, 50);
        TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB); /* we give RGB */
    }
    if (s->tile) {
        TIFFSetField(tif, TIFFTAG_TILEWIDTH, (uint32_t)s->tile);
        TIFFSetField(tif, TIFFTAG_TILELENGTH, (uint32_t)s->tile);
        size_t tsize = (size_t)s->tile * s->tile * per * bytes;
        unsigned char *buf = malloc(tsize);
        for (int p = 0; p < (sep ? s->spp : 1); p++)
            for (int y0 = 0; y0 < s->h; y0 += s->tile)
                for (int x0 = 0; x0 < s->w; x0 += s->tile) {
                    memset(buf, 0, tsize);
                    for (int y = 0; y < s->tile; y++)
                        for (int x = 0; x < s->tile; x++)
                            for (int c = 0; c < per; c++)
                                put(buf + (((size_t)y * s->tile + x) * per + c) * bytes, s,
                                    value(x0 + x, y0 + y, sep ? p : c, s->w, s->h));
                    if (TIFFWriteTile(tif, buf, (uint32_t)x0, (uint32_t)y0, 0, (uint16_t)p) < 0)
                        die(s->name);
                }
        free(buf);
    } else {
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP,
                     (uint32_t)(s->compression == COMPRESSION_JPEG ? 16 : 4));
        size_t rowbytes = s->bps < 8 ? ((size_t)s->w * per * s->bps + 7) / 8
                                     : (size_t)s->w * per * bytes;
        unsigned char *row = malloc(rowbytes);
        for (int p = 0; p < (sep ? s->spp : 1); p++)
            for (int y = 0; y < s->h; y++) {
                memset(row, 0, rowbytes);
                for (int x = 0; x < s->w; x++)
                    for (int c = 0; c < per; c++) {
                        double v = value(x, y, sep ? p : c, s->w, s->h);
                        size_t i = (size_t)x * per + c;
                        if (s->bps == 1)
                            row[i / 8] |= (unsigned char)((v > 0.5) << (7 - i % 8));
                        else if (s->photometric == PHOTOMETRIC_PALETTE)
                            row[i] = (unsigned char)(v * 255);
                        else
                            put(row + i * bytes, s, v);
                    }
                if (TIFFWriteScanline(tif, row, (uint32_t)y, (uint16_t)p) < 0)
                    die(s->name);
            }
        free(row);
    }
    TIFFClose(tif);
    struct stat st;
    if (stat(path, &st) != 0 || st.st_size >= 4096)
        die("a seed of 4 KB or more");
}

/* A big-endian TIFF made byte by byte with an EXIF IFD (libtiff writes
 * custom directories only through a longer dance): a 4 x 2 gray image,
 * orientation 3, exposure 1/100, ISO 400, a date and a maker note. */
static void make_exif_ifd(void)
{
    unsigned char f[408] = {'M', 'M', 0, 42, 0, 0, 0, 8};
#define BE16(p, v) ((p)[0] = (unsigned char)((v) >> 8), (p)[1] = (unsigned char)(v))
#define BE32(p, v) (BE16(p, (v) >> 16), BE16((p) + 2, (v) & 0xffff))
    const unsigned ifd0[][3] = {{256, 3, 4}, {257, 3, 2}, {258, 3, 8},   {259, 3, 1},
                                {262, 3, 1}, {273, 4, 400}, {274, 3, 3}, {277, 3, 1},
                                {278, 3, 2}, {279, 4, 8},   {34665, 4, 200}};
    BE16(f + 8, 11);
    for (int k = 0; k < 11; k++) {
        unsigned char *p = f + 10 + 12 * k;
        BE16(p, ifd0[k][0]);
        BE16(p + 2, ifd0[k][1]);
        BE32(p + 4, 1u);
        if (ifd0[k][1] == 3)
            BE16(p + 8, ifd0[k][2]);
        else
            BE32(p + 8, ifd0[k][2]);
    }
    unsigned char *x = f + 200;
    BE16(x, 4);
    BE16(x + 2, 0x829A), BE16(x + 4, 5), BE32(x + 6, 1u), BE32(x + 10, 300u);
    BE16(x + 14, 0x8827), BE16(x + 16, 3), BE32(x + 18, 1u), BE16(x + 22, 400);
    BE16(x + 26, 0x9003), BE16(x + 28, 2), BE32(x + 30, 20u), BE32(x + 34, 320u);
    BE16(x + 38, 0x927C), BE16(x + 40, 7), BE32(x + 42, 8u), BE32(x + 46, 360u);
    BE32(f + 300, 1u), BE32(f + 304, 100u);
    memcpy(f + 320, "2024:01:02 03:04:05", 20);
    memcpy(f + 360, "MAKERNOT", 8);
    for (int i = 0; i < 8; i++)
        f[400 + i] = (unsigned char)(30 * i);
#undef BE32
#undef BE16
    char path[2048];
    snprintf(path, sizeof path, "%s/tiff_be_exif_ifd.tif", g_dir);
    FILE *out = fopen(path, "wb");
    if (!out || fwrite(f, 1, sizeof f, out) != sizeof f || fclose(out) != 0)
        die(path);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        die("usage: make_tiff_corpus CORPUS_DIR/fuzz_image");
    g_dir = argv[1];
    const int U = SAMPLEFORMAT_UINT, F = SAMPLEFORMAT_IEEEFP;
    const int G = PHOTOMETRIC_MINISBLACK, RGB = PHOTOMETRIC_RGB;
    const int C = PLANARCONFIG_CONTIG, S = PLANARCONFIG_SEPARATE;
    const int A = EXTRASAMPLE_UNASSALPHA, PA = EXTRASAMPLE_ASSOCALPHA;
    const seed seeds[] = {
        {"tiff_gray8.tif", 16, 12, 1, 8, U, G, C, 0, COMPRESSION_NONE, 0, -1, 0, 0},
        {"tiff_gray16_tiles.tif", 20, 20, 1, 16, U, G, C, 16, COMPRESSION_ADOBE_DEFLATE, 2, -1,
         0, 0},
        {"tiff_graya8_lzw.tif", 12, 10, 2, 8, U, G, C, 0, COMPRESSION_LZW, 2, A, 0, 0},
        {"tiff_rgb8_packbits.tif", 16, 12, 3, 8, U, RGB, C, 0, COMPRESSION_PACKBITS, 0, -1, 0, 0},
        {"tiff_rgb16_planes.tif", 10, 8, 3, 16, U, RGB, S, 0, COMPRESSION_NONE, 0, -1, 0, 0},
        {"tiff_rgba8_assoc.tif", 8, 8, 4, 8, U, RGB, C, 0, COMPRESSION_NONE, 0, PA, 0, 0},
        {"tiff_rgba16_tiles_planes.tif", 16, 16, 4, 16, U, RGB, S, 16, COMPRESSION_LZW, 0, A, 0,
         0},
        {"tiff_graya8_tile_rows_planes.tif", 20, 36, 2, 8, U, G, S, 16,
         COMPRESSION_ADOBE_DEFLATE, 2, A, 0, 0},
        {"tiff_float_gray.tif", 12, 10, 1, 32, F, G, C, 0, COMPRESSION_NONE, 0, -1, 0, 0},
        {"tiff_float_rgb_predictor.tif", 10, 8, 3, 32, F, RGB, C, 0, COMPRESSION_ADOBE_DEFLATE, 3,
         -1, 0, 0},
        {"tiff_float_rgba_tiles.tif", 16, 16, 4, 32, F, RGB, C, 16, COMPRESSION_ADOBE_DEFLATE, 0,
         A, 0, 0},
        {"tiff_rgb8_icc.tif", 8, 6, 3, 8, U, RGB, C, 0, COMPRESSION_NONE, 0, -1, 0, 1},
        {"tiff_bigtiff_rgb8.tif", 8, 6, 3, 8, U, RGB, C, 0, COMPRESSION_NONE, 0, -1, 1, 0},
        {"tiff_miniswhite8.tif", 12, 6, 1, 8, U, PHOTOMETRIC_MINISWHITE, C, 0, COMPRESSION_NONE, 0,
         -1, 0, 0},
        {"tiff_bilevel.tif", 24, 8, 1, 1, U, G, C, 0, COMPRESSION_CCITTFAX4, 0, -1, 0, 0},
        {"tiff_palette8.tif", 12, 8, 1, 8, U, PHOTOMETRIC_PALETTE, C, 0, COMPRESSION_NONE, 0, -1,
         0, 0},
        {"tiff_ycbcr_jpeg.tif", 16, 16, 3, 8, U, PHOTOMETRIC_YCBCR, C, 0, COMPRESSION_JPEG, 0, -1,
         0, 0},
        {"tiff_rgb8_tags.tif", 9, 5, 3, 8, U, RGB, C, 0, COMPRESSION_NONE, 0, -1, 0, 1, 1},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
        make(&seeds[i]);
    make_exif_ifd();
    return 0;
}
