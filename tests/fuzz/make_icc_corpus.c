/* Seeds with colour tags for the fuzz targets (run by make_corpus.sh):
 * ICC profiles made by LittleCMS for fuzz_icc, and PNGs (libpng) and JPEGs
 * (libjpeg) that carry them, or cICP, sRGB and gAMA chunks, for
 * fuzz_image. Every file stays under 4 KB.
 *   usage: make_icc_corpus CORPUS_DIR   (writes CORPUS_DIR/fuzz_icc/ and
 *          CORPUS_DIR/fuzz_image/, which must exist)
 *   build: cc make_icc_corpus.c -llcms2 -ljpeg -lpng -lm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <lcms2.h>
#include <math.h>
#include <png.h>

static const char *g_dir;

static void die(const char *what)
{
    fprintf(stderr, "make_icc_corpus: %s\n", what);
    exit(1);
}

static FILE *open_seed(const char *target, const char *name, char *path, size_t size)
{
    snprintf(path, size, "%s/%s/%s", g_dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        die(path);
    return f;
}

static void close_seed(FILE *f, const char *path)
{
    long n = ftell(f);
    if (fclose(f) != 0 || n < 0 || n >= 4096)
        die(path);
}

typedef struct {
    unsigned char *data;
    cmsUInt32Number size;
} blob;

static blob save(cmsHPROFILE h, const char *description)
{
    blob b = {NULL, 0};
    if (!h)
        die("a profile");
    if (description) {
        cmsMLU *mlu = cmsMLUalloc(NULL, 1);
        cmsMLUsetASCII(mlu, "en", "US", description);
        cmsWriteTag(h, cmsSigProfileDescriptionTag, mlu);
        cmsMLUfree(mlu);
    }
    if (!cmsSaveProfileToMem(h, NULL, &b.size) || !(b.data = malloc(b.size)) ||
        !cmsSaveProfileToMem(h, b.data, &b.size))
        die("saving a profile");
    cmsCloseProfile(h);
    return b;
}

static cmsHPROFILE rgb(cmsToneCurve *c)
{
    cmsCIExyY d65 = {0.3127, 0.3290, 1.0};
    cmsCIExyYTRIPLE prim = {{0.64, 0.33, 1.0}, {0.30, 0.60, 1.0}, {0.15, 0.06, 1.0}};
    cmsToneCurve *three[3] = {c, c, c};
    cmsHPROFILE h = cmsCreateRGBProfile(&d65, &prim, three);
    cmsFreeToneCurve(c);
    return h;
}

static cmsToneCurve *table(int n, double gamma, int falling)
{
    cmsUInt16Number t[256];
    for (int i = 0; i < n; i++) {
        double u = i / (n - 1.0);
        t[i] = (cmsUInt16Number)lround(pow(falling ? 1 - u : u, gamma) * 65535);
    }
    return cmsBuildTabulatedToneCurve16(NULL, n, t);
}

static void put_icc(const char *name, blob b)
{
    char path[4096];
    FILE *f = open_seed("fuzz_icc", name, path, sizeof path);
    fwrite(b.data, 1, b.size, f);
    close_seed(f, path);
}

/* An 8 x 8 PNG (gray or RGB) with the chunks asked for. */
static void put_png(const char *name, int gray, const blob *icc, int srgb, int gama, int cicp)
{
    char path[4096];
    FILE *f = open_seed("fuzz_image", name, path, sizeof path);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (!png || !info || setjmp(png_jmpbuf(png)))
        die(path);
    png_init_io(png, f);
    png_set_IHDR(png, info, 8, 8, 8, gray ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (icc)
        png_set_iCCP(png, info, "seed", PNG_COMPRESSION_TYPE_BASE, icc->data, icc->size);
    if (srgb)
        png_set_sRGB(png, info, PNG_sRGB_INTENT_PERCEPTUAL);
    if (gama)
        png_set_gAMA_fixed(png, info, gama);
    png_unknown_chunk chunk;
    png_byte data[4] = {1, (png_byte)cicp, 0, 1};
    if (cicp) {
        static const png_byte cicp_name[5] = "cICP";
        memcpy(chunk.name, cicp_name, 5);
        chunk.data = data;
        chunk.size = 4;
        chunk.location = PNG_HAVE_IHDR;
        png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_ALWAYS, cicp_name, 1);
        png_set_unknown_chunks(png, info, &chunk, 1);
    }
    png_write_info(png, info);
    unsigned char row[24];
    for (int y = 0; y < 8; y++) {
        for (int i = 0; i < 24; i++)
            row[i] = (unsigned char)(30 * y + 9 * i);
        png_write_row(png, row);
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    close_seed(f, path);
}

/* An 8 x 8 RGB JPEG with the profile in one APP2 marker (libjpeg's), or cut
 * in two written in reverse order (parts 2, 1). */
static void put_jpeg(const char *name, const blob *icc, int split)
{
    char path[4096];
    FILE *f = open_seed("fuzz_image", name, path, sizeof path);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = 8;
    c.image_height = 8;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 50, TRUE);
    jpeg_start_compress(&c, TRUE);
    if (!split) {
        jpeg_write_icc_profile(&c, icc->data, icc->size);
    } else {
        unsigned half = icc->size / 2;
        unsigned char *m = malloc(14 + icc->size);
        for (int part = 2; part >= 1; part--) {
            unsigned off = part == 1 ? 0 : half, n = part == 1 ? half : icc->size - half;
            memcpy(m, "ICC_PROFILE", 12);
            m[12] = (unsigned char)part;
            m[13] = 2;
            memcpy(m + 14, icc->data + off, n);
            jpeg_write_marker(&c, JPEG_APP0 + 2, m, 14 + n);
        }
        free(m);
    }
    unsigned char row[24];
    for (int y = 0; y < 8; y++) {
        for (int i = 0; i < 24; i++)
            row[i] = (unsigned char)(30 * y + 9 * i);
        JSAMPROW rp = row;
        jpeg_write_scanlines(&c, &rp, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    close_seed(f, path);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        die("usage: make_icc_corpus CORPUS_DIR");
    g_dir = argv[1];

    blob srgb = save(cmsCreate_sRGBProfile(), NULL);
    blob g18 = save(rgb(cmsBuildGamma(NULL, 1.8)), "gamma 1.8");
    blob gray = save(cmsCreateGrayProfile(cmsD50_xyY(), table(256, 2.2, 0)), "gray table 2.2");
    const double p709[7] = {1 / 0.45, 1 / 1.099, 0.099 / 1.099, 1 / 4.5, 0.081, 0, 0};
    blob rec709 = save(rgb(cmsBuildParametricToneCurve(NULL, 5, p709)), "Rec. 709, type 5");
    blob tab = save(rgb(table(64, 2.0, 0)), "table of 64");
    blob falling = save(rgb(table(16, 1.0, 1)), "falling");
    cmsHPROFILE lut = rgb(cmsBuildGamma(NULL, 2.2));
    cmsWriteTag(lut, cmsSigGreenTRCTag, NULL);
    blob no_gtrc = save(lut, "no green TRC");
    blob lab = save(cmsCreateLab4Profile(NULL), NULL);
    cmsHPROFILE v2 = rgb(cmsBuildGamma(NULL, 2.2));
    cmsSetProfileVersion(v2, 2.1); /* its description a textDescriptionType */
    blob v2b = save(v2, "version 2, gamma 2.2");

    put_icc("srgb.icc", srgb);
    put_icc("gamma18.icc", g18);
    put_icc("gray_table22.icc", gray);
    put_icc("rec709_type5.icc", rec709);
    put_icc("table64.icc", tab);
    put_icc("falling.icc", falling);
    put_icc("no_green_trc.icc", no_gtrc);
    put_icc("lab.icc", lab);
    put_icc("v2_gamma22.icc", v2b);

    put_png("png_iccp_gamma18.png", 0, &g18, 0, 0, 0);
    put_png("png_iccp_gray_table.png", 1, &gray, 0, 0, 0);
    put_png("png_iccp_srgb.png", 0, &srgb, 0, 0, 0);
    put_png("png_srgb.png", 0, NULL, 1, 0, 0);
    put_png("png_gama18.png", 0, NULL, 0, 55556, 0);
    put_png("png_cicp_srgb.png", 0, NULL, 0, 0, 13);
    put_png("png_cicp_pq.png", 0, NULL, 0, 0, 16);
    put_png("png_cicp_iccp_gama.png", 0, &g18, 0, 45455, 1);
    put_jpeg("jpeg_icc_gamma18.jpg", &g18, 0);
    put_jpeg("jpeg_icc_split_reversed.jpg", &rec709, 1);
    put_jpeg("jpeg_icc_lab.jpg", &lab, 0);

    blob all[] = {srgb, g18, gray, rec709, tab, falling, no_gtrc, lab, v2b};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        free(all[i].data);
    return 0;
}
