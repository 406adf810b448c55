/* libFuzzer target: the image reader (imageio.c) on arbitrary bytes.
 *
 * deconv_image_read takes a path, so each input is written to a file in a
 * folder made once per process (under $TMPDIR, else /dev/shm, else /tmp),
 * and read back with a limit of 4 megapixels so that a valid but huge image
 * is refused rather than filling the fuzzer's memory. What loads must keep
 * the promises of deconv.h (sizes, channels, samples in [0, 1], or finite
 * for a float TIFF); it is then written as PNG (as TIFF for a float TIFF)
 * in the file's depth (the atomic writer too) and read again, which must
 * give the same image within the rounding of that depth; and as a TIFF
 * and a JPEG of 8 bits, which must read back with its shape. The file's
 * metadata (ICC profile, EXIF, PNG text) is read too, must be consistent,
 * and is written into every output, whose orientation must then be the
 * input's.
 * The file's tone curve (from its PNG colour chunks or JPEG ICC profile,
 * fuzz_icc.c's checks) must be a valid one, and its warning a string.
 * The file is read once more through the row reader, in bands whose sizes
 * the input's bytes give, which must give the same samples, file info and
 * metadata, or fail with the same message; and the first output is
 * written again in such bands, which must give the same bytes.
 * A broken promise aborts: the fuzzer reports it as a crash.
 *
 * Also compiled into tests/test_fuzz_regressions.c, which replays the corpus
 * and the regressions of this target without libFuzzer. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deconv.h"

#define FUZZ_ICC_CHECKS_ONLY
#include "fuzz_icc.c"
#undef FUZZ_ICC_CHECKS_ONLY

#define FUZZ_IMAGE_MAX_PIXELS (4 << 20)

static char fi_dir[1024], fi_in[1100], fi_out[1100], fi_tif[1100], fi_jpg[1100];
static char fi_bands_png[1100], fi_bands_tif[1100];

static void fi_cleanup(void)
{
    if (!fi_dir[0])
        return;
    unlink(fi_in);
    unlink(fi_out);
    unlink(fi_tif);
    unlink(fi_jpg);
    unlink(fi_bands_png);
    unlink(fi_bands_tif);
    rmdir(fi_dir);
}

static void fi_setup(void)
{
    if (fi_dir[0])
        return;
    const char *bases[] = {getenv("TMPDIR"), "/dev/shm", "/tmp"};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        if (!bases[i] || !*bases[i])
            continue;
        snprintf(fi_dir, sizeof fi_dir, "%s/deconv-fuzz-image.XXXXXX", bases[i]);
        if (mkdtemp(fi_dir))
            break;
        fi_dir[0] = '\0';
    }
    if (!fi_dir[0]) {
        fprintf(stderr, "fuzz_image: cannot make a temporary folder\n");
        abort();
    }
    snprintf(fi_in, sizeof fi_in, "%s/input", fi_dir);
    snprintf(fi_out, sizeof fi_out, "%s/output.png", fi_dir);
    snprintf(fi_tif, sizeof fi_tif, "%s/output.tif", fi_dir);
    snprintf(fi_jpg, sizeof fi_jpg, "%s/output.jpg", fi_dir);
    snprintf(fi_bands_png, sizeof fi_bands_png, "%s/bands.png", fi_dir);
    snprintf(fi_bands_tif, sizeof fi_bands_tif, "%s/bands.tif", fi_dir);
    atexit(fi_cleanup);
}

static void fi_broken(const char *what, const deconv_error *err)
{
    fprintf(stderr, "fuzz_image: %s%s%s\n", what, err ? ": " : "", err ? err->message : "");
    abort();
}

/* deconv.h: 1 to 4 channels, positive sizes, samples in [0, 1] (finite
 * ones for float files). */
static void fi_check_image(const deconv_image *im, int is_float, const char *what)
{
    if (im->width <= 0 || im->height <= 0 || im->channels < 1 || im->channels > 4 || !im->data ||
        (int64_t)im->width * im->height > FUZZ_IMAGE_MAX_PIXELS)
        fi_broken(what, NULL);
    size_t n = (size_t)im->width * (size_t)im->height * (size_t)im->channels;
    for (size_t i = 0; i < n; i++) {
        if (is_float && !isfinite(im->data[i]))
            fi_broken("a float sample that is NaN or infinite", NULL);
        if (!is_float && !(im->data[i] >= 0.0f && im->data[i] <= 1.0f))
            fi_broken("a sample outside [0, 1] (or NaN)", NULL);
    }
}

/* deconv.h's promises on metadata. */
static void fi_check_metadata(const deconv_metadata *m)
{
    if (!m)
        fi_broken("no metadata object", NULL);
    if (m->orientation < 0 || m->orientation > 8 || !m->icc != !m->icc_size ||
        (!m->exif && m->exif_size) || m->text_count < 0 ||
        m->text_count > DECONV_METADATA_TEXT_MAX || (m->text_count && !m->text))
        fi_broken("inconsistent metadata", NULL);
    for (int i = 0; i < m->text_count; i++)
        if (strcmp(m->text[i].type, "tEXt") && strcmp(m->text[i].type, "zTXt") &&
            strcmp(m->text[i].type, "iTXt"))
            fi_broken("a text chunk of another type", NULL);
}

static int fi_same_info(const deconv_file_info *a, const deconv_file_info *b)
{
    const deconv_response *p = &a->response, *q = &b->response;
    return a->bits == b->bits && a->has_alpha == b->has_alpha && a->chroma_x == b->chroma_x &&
           a->chroma_y == b->chroma_y && !strcmp(a->warning, b->warning) && p->kind == q->kind &&
           !memcmp(&p->gamma, &q->gamma, sizeof p->gamma) && !memcmp(&p->a, &q->a, sizeof p->a) &&
           !memcmp(&p->b, &q->b, sizeof p->b) && !memcmp(&p->c, &q->c, sizeof p->c) &&
           !memcmp(&p->d, &q->d, sizeof p->d) && p->table_size == q->table_size &&
           !memcmp(p->table, q->table, sizeof p->table) && p->soft_clip == q->soft_clip &&
           !strcmp(p->name, q->name);
}

static int fi_same_metadata(const deconv_metadata *a, const deconv_metadata *b)
{
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

/* The size of band k: 1 to 8 rows, from the input's bytes. */
static int fi_band(const uint8_t *data, size_t size, int k)
{
    return size ? 1 + data[(size_t)k % size] % 8 : 1;
}

/* The input read through the row reader in bands: what the whole read
 * gave (im, info, meta), or its failure (im NULL, whole_err). */
static void fi_check_rows(const uint8_t *data, size_t size, const deconv_image *im,
                          const deconv_file_info *info, const deconv_metadata *meta,
                          const deconv_error *whole_err)
{
    deconv_error err = {DECONV_OK, ""};
    deconv_file_info rinfo;
    memset(&rinfo, 0, sizeof rinfo);
    deconv_metadata *rmeta = NULL;
    deconv_row_reader *r =
        deconv_row_reader_open(fi_in, FUZZ_IMAGE_MAX_PIXELS, &rinfo, &rmeta, &err);
    if (r && (deconv_row_reader_width(r) <= 0 || deconv_row_reader_height(r) <= 0 ||
              deconv_row_reader_channels(r) < 1 || deconv_row_reader_channels(r) > 4))
        fi_broken("the row reader has an impossible shape", NULL);
    if (r && im &&
        (deconv_row_reader_width(r) != im->width || deconv_row_reader_height(r) != im->height ||
         deconv_row_reader_channels(r) != im->channels || !fi_same_info(&rinfo, info) ||
         !fi_same_metadata(rmeta, meta)))
        fi_broken("the row reader's shape, file info or metadata differ from the whole read's",
                  NULL);
    deconv_status s = r ? DECONV_OK : err.code;
    if (r) {
        int w = deconv_row_reader_width(r), h = deconv_row_reader_height(r);
        int ch = deconv_row_reader_channels(r);
        float *band = malloc(sizeof(float) * (size_t)w * ch * 8);
        if (!band)
            abort();
        for (int y = 0, k = 0; y < h && s == DECONV_OK; k++) {
            int n = fi_band(data, size, k);
            n = n < h - y ? n : h - y;
            s = deconv_row_reader_read(r, n, band, &err);
            for (int c = 0; im && s == DECONV_OK && c < ch; c++)
                if (memcmp(band + (size_t)c * n * w, im->data + ((size_t)c * h + y) * w,
                           sizeof(float) * (size_t)n * w) != 0)
                    fi_broken("the row reader's samples differ from the whole read's", NULL);
            y += n;
        }
        free(band);
        deconv_row_reader_close(r);
    }
    deconv_metadata_free(rmeta);
    if (im && s != DECONV_OK)
        fi_broken("the row reader failed on a file read whole", &err);
    if (!im && (s == DECONV_OK || s != whole_err->code ||
                strcmp(err.message, whole_err->message) != 0))
        fi_broken("the row reader does not fail as the whole read does", &err);
}

static unsigned char *fi_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = len >= 0 ? malloc((size_t)len + 1) : NULL;
    *n = p ? fread(p, 1, (size_t)len, f) : 0;
    fclose(f);
    return p;
}

/* im written through the row writer in bands as bands (of path's format),
 * which must hold the bytes of the whole write, path. */
static void fi_check_bands_written(const uint8_t *data, size_t size, const deconv_image *im,
                                   const char *path, const char *bands,
                                   const deconv_write_options *o)
{
    deconv_error err = {DECONV_OK, ""};
    deconv_row_writer *wr =
        deconv_row_writer_open(bands, im->width, im->height, im->channels, o, &err);
    if (!wr)
        fi_broken("the row writer refused a valid image", &err);
    int w = im->width, h = im->height;
    float *band = malloc(sizeof(float) * (size_t)w * im->channels * 8);
    if (!band)
        abort();
    for (int y = 0, k = 0; y < h; k++) {
        int n = fi_band(data, size, size / 2 + k);
        n = n < h - y ? n : h - y;
        for (int c = 0; c < im->channels; c++)
            memcpy(band + (size_t)c * n * w, im->data + ((size_t)c * h + y) * w,
                   sizeof(float) * (size_t)n * w);
        if (deconv_row_writer_write(wr, n, band, &err) != DECONV_OK)
            fi_broken("the row writer failed", &err);
        y += n;
    }
    free(band);
    if (deconv_row_writer_commit(wr, &err) != DECONV_OK)
        fi_broken("the row writer's commit failed", &err);
    size_t na = 0, nb = 0;
    unsigned char *a = fi_slurp(path, &na), *b = fi_slurp(bands, &nb);
    if (!a || !b || na != nb || memcmp(a, b, na) != 0)
        fi_broken("the bands written differ from the whole image written", NULL);
    free(a);
    free(b);
    unlink(bands);
}

/* Written as path in the options' depth (with the options' metadata) and
 * read back: the same shape, and the orientation. */
static deconv_image *fi_write_read(const deconv_image *im, const char *path,
                                   const deconv_write_options *o, deconv_file_info *info)
{
    deconv_error err = {DECONV_OK, ""};
    if (deconv_image_write(im, path, o, &err) != DECONV_OK)
        fi_broken("writing a valid image failed", &err);
    memset(info, 0, sizeof *info);
    deconv_metadata *meta = NULL;
    deconv_image *back = deconv_image_read_with_metadata(path, 0, info, &meta, &err);
    if (!back)
        fi_broken("the image written cannot be read", &err);
    fi_check_metadata(meta);
    const deconv_metadata *in = o->metadata;
    int jpeg = deconv_format_of_path(path) == DECONV_FORMAT_JPEG;
    if (in && in->orientation && (!jpeg || in->exif_size <= 65533 - 6) &&
        meta->orientation != in->orientation)
        fi_broken("the orientation was not carried", NULL);
    deconv_metadata_free(meta);
    fi_check_image(back, o->bits == 32, "the image read back has an impossible shape");
    int channels = deconv_format_of_path(path) == DECONV_FORMAT_JPEG
                       ? deconv_color_channels(im->channels)
                       : im->channels;
    if (back->width != im->width || back->height != im->height || back->channels != channels)
        fi_broken("the image read back differs in shape", NULL);
    return back;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fi_setup();
    FILE *f = fopen(fi_in, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        fprintf(stderr, "fuzz_image: cannot write %s\n", fi_in);
        abort();
    }

    deconv_error err = {DECONV_OK, ""};
    deconv_file_info info = {.bits = 0};
    deconv_metadata *meta = NULL;
    deconv_image *im =
        deconv_image_read_with_metadata(fi_in, FUZZ_IMAGE_MAX_PIXELS, &info, &meta, &err);
    if (!im) {
        if (meta)
            fi_broken("metadata of a file that failed", NULL);
        /* a failure must say why */
        if (err.code == DECONV_OK || !err.message[0])
            fi_broken("read failed without a message", NULL);
        fi_check_rows(data, size, NULL, NULL, NULL, &err);
        return 0;
    }
    int is_float = info.bits == 32;
    fi_check_image(im, is_float, "the image read has an impossible shape");
    if (info.bits != 8 && info.bits != 16 && info.bits != 32)
        fi_broken("file info: bits not 8, 16 or 32", NULL);
    if (info.has_alpha != (im->channels == 2 || im->channels == 4))
        fi_broken("file info: has_alpha disagrees with the channels", NULL);
    if (!memchr(info.warning, '\0', sizeof info.warning))
        fi_broken("file info: the warning is not terminated", NULL);
    fc_check_response(&info.response);
    fi_check_metadata(meta);
    fi_check_rows(data, size, im, &info, meta, &err);

    /* the file's depth: the same samples within its rounding */
    deconv_write_options o;
    deconv_write_defaults(&o);
    o.bits = info.bits;
    o.metadata = meta;
    deconv_file_info info2;
    deconv_image *back = fi_write_read(im, is_float ? fi_tif : fi_out, &o, &info2);
    fi_check_bands_written(data, size, im, is_float ? fi_tif : fi_out,
                           is_float ? fi_bands_tif : fi_bands_png, &o);
    if (info2.bits != info.bits)
        fi_broken("the image read back differs in depth", NULL);
    double tol = is_float ? 0.0 : 0.5 / (info.bits == 16 ? 65535.0 : 255.0) + 1e-6;
    size_t n = (size_t)im->width * (size_t)im->height * (size_t)im->channels;
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)im->data[i] - (double)back->data[i]) <= tol))
            fi_broken("the image read back differs by more than the rounding", NULL);
    deconv_image_free(back);
    /* 8-bit TIFF and JPEG: the shape */
    o.bits = 8;
    deconv_image_free(fi_write_read(im, fi_tif, &o, &info2));
    if (im->width <= 65500 && im->height <= 65500)
        deconv_image_free(fi_write_read(im, fi_jpg, &o, &info2));
    deconv_image_free(im);
    deconv_metadata_free(meta);
    unlink(fi_out);
    unlink(fi_tif);
    unlink(fi_jpg);
    return 0;
}
