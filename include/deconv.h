/*
 * deconv: remove blur from photographs by gradient descent.
 *
 * The one public header of the library. Every convention (sizes, kernel
 * flips, the step size, colour) is the one fixed in MODEL.md:
 *
 *   y (M x N) = h (kh x kw) * x ((M+kh-1) x (N+kw-1))     valid convolution
 *   f(x, h)   = 1/2 || h * x - y ||^2
 *
 * Rules the library keeps: it never prints, never exits and holds no global
 * state. Functions that can fail return a deconv_status and, when given a
 * deconv_error, leave a one-line message in it. Whatever the library
 * allocates is freed by the matching _free function.
 *
 * Images are planar: channel c, row i, column j is
 * data[(c * height + i) * width + j]. Samples are floats in [0, 1] (a
 * float TIFF's, linear light, may lie outside).
 */
#ifndef DECONV_H
#define DECONV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
/* Every declaration of this header is public: exported from libdeconv.so,
 * whose other symbols are hidden (-fvisibility=hidden). */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* The version of this header; CMake checks that the project's is the same
 * (the shared library's SONAME follows it: cmake/package.cmake). */
#define DECONV_VERSION "0.1.0"

/* The version of the library linked at run time: with the shared library
 * it may differ from the DECONV_VERSION a program was built with. */
const char *deconv_version(void);

/* ------------------------------------------------------------------ */
/* Errors                                                               */
/* ------------------------------------------------------------------ */

typedef enum {
    DECONV_OK = 0,
    DECONV_ERR_NOMEM,       /* an allocation failed */
    DECONV_ERR_IO,          /* a file could not be opened, read or written */
    DECONV_ERR_FORMAT,      /* a file is not a readable image or kernel */
    DECONV_ERR_TOO_LARGE,   /* an image is larger than the allowed pixels */
    DECONV_ERR_ARG,         /* an argument is out of range or inconsistent */
    DECONV_ERR_KERNEL,      /* a kernel is empty, negative, NaN or too large */
    DECONV_ERR_DIVERGED,    /* the objective grew: the step is too large */
    DECONV_ERR_NUMERIC,     /* NaN or infinity appeared in an iterate */
    DECONV_ERR_INTERRUPTED  /* the caller's cancel flag was raised */
} deconv_status;

typedef struct {
    deconv_status code;
    char message[512];
} deconv_error;

/* A short generic name of a status ("out of memory", ...). */
const char *deconv_status_name(deconv_status s);

/* ------------------------------------------------------------------ */
/* Images and kernels                                                   */
/* ------------------------------------------------------------------ */

typedef struct {
    int width, height, channels;
    float *data; /* planar, channels * height * width samples */
} deconv_image;

/* A point spread function: a single plane, row-major, kh x kw. */
typedef struct {
    int width, height;
    float *data;
} deconv_kernel;

/* Allocate a zeroed image (NULL on failure or non-positive sizes). */
deconv_image *deconv_image_new(int width, int height, int channels);
deconv_image *deconv_image_clone(const deconv_image *im);
void deconv_image_free(deconv_image *im);
/* Pointer to the first sample of channel c. */
float *deconv_image_plane(const deconv_image *im, int c);

deconv_kernel *deconv_kernel_new(int width, int height);
deconv_kernel *deconv_kernel_clone(const deconv_kernel *k);
void deconv_kernel_free(deconv_kernel *k);

/* ------------------------------------------------------------------ */
/* Kernels (kernel.c)                                                   */
/* ------------------------------------------------------------------ */

/* Scale to sum 1. Fails (DECONV_ERR_KERNEL, message says which) on NaN or
 * infinite entries, an all-zero kernel or a sum that is not positive. */
deconv_status deconv_kernel_normalize(deconv_kernel *k, deconv_error *err);

/* Gaussian of standard deviation sigma (> 0), integrated over each pixel.
 * size <= 0 picks the odd size 2 ceil(3 sigma) + 1 (at least 3). Sums to 1. */
deconv_kernel *deconv_kernel_gaussian(double sigma, int size, deconv_error *err);

/* Linear motion of the given length in pixels (1 to 2000) at angle degrees
 * counter-clockwise from the x axis (rows grow downward, so positive angles
 * go up and to the right), anti-aliased. The smallest odd square that holds
 * the line: length 1 gives a 1x1 delta. */
deconv_kernel *deconv_kernel_motion(double length, double angle_deg, deconv_error *err);

/* Defocus disk of the given radius (0 to 1000), each pixel weighted by its
 * area inside the circle. Odd square size 2 ceil(radius) + 1. */
deconv_kernel *deconv_kernel_disk(double radius, deconv_error *err);

/* Parse a text matrix: rows on lines, values separated by commas and/or
 * whitespace; '#' starts a comment. Every row must have the same count.
 * Not normalised. */
deconv_kernel *deconv_kernel_parse_text(const char *text, size_t len, deconv_error *err);

/* Load a kernel from a file: .csv/.txt/.tsv/.dat (text matrix, at most
 * 64 MiB and 4096 x 4096) or any image format
 * deconv_image_read knows (converted to gray). normalize != 0 scales it to
 * sum 1 (and refuses zero or negative sums). */
deconv_kernel *deconv_kernel_load(const char *path, int normalize, deconv_error *err);

/* Write a kernel: .csv/.txt/.dat as comma-separated text (.tsv: tabs) with
 * full float precision, otherwise PNG (16 bit) scaled so its maximum is
 * white. Refuses NaN or infinite entries. Written atomically. */
deconv_status deconv_kernel_save(const deconv_kernel *k, const char *path, deconv_error *err);

/* Project onto the simplex the kernel step keeps: negative entries to 0,
 * then scaled to sum 1 (a kernel left all zero becomes a centred delta). */
void deconv_kernel_project(deconv_kernel *k);

/* ------------------------------------------------------------------ */
/* The camera's response (response.c, MODEL.md "The camera")            */
/* ------------------------------------------------------------------ */

/* How the values a file stores relate to the light the sensor added up.
 * A photo is blurred in linear light, clipped at white and then encoded by
 * a tone curve G (sRGB for almost every JPEG and PNG). The decoding
 * L = G^-1 maps a stored value u to light:
 *   LINEAR      L(u) = u
 *   PARAMETRIC  L(u) = (a u + b)^gamma for u >= d, c u below (ICC's
 *               parametric curve of type 4: sRGB, Rec. 709, pure gammas)
 *   TABLE       L sampled at u = i / (table_size - 1), increasing,
 *               interpolated linearly (an ICC profile's sampled curve)
 * Above u = 1 the curve goes on (the power law, or for a table the power
 * law that matches its last value and slope), so that light brighter than
 * white has a value: up to deconv_response_max(r), the value of light 256
 * (MODEL.md says 8: night lamps are brighter, response.h). */
typedef enum {
    DECONV_RESPONSE_LINEAR,
    DECONV_RESPONSE_PARAMETRIC,
    DECONV_RESPONSE_TABLE
} deconv_response_kind;

#define DECONV_RESPONSE_TABLE_MAX 1024

typedef struct {
    deconv_response_kind kind;
    double gamma, a, b, c, d;   /* PARAMETRIC */
    int table_size;             /* TABLE: 2 to DECONV_RESPONSE_TABLE_MAX */
    float table[DECONV_RESPONSE_TABLE_MAX];
    int soft_clip;              /* the sensor's soft clip at white, R of
                                   MODEL.md (1 for the curves of photos,
                                   0 for linear data) */
    char name[80];              /* what it is, for logs: "sRGB",
                                   "gamma 2.2 (PNG gAMA)", ... */
} deconv_response;

/* The linear model (no curve, no clip): MODEL.md's y = h * x + n. */
void deconv_response_linear(deconv_response *r);
/* The sRGB curve (IEC 61966-2-1) with the soft clip. */
void deconv_response_srgb(deconv_response *r);
/* A pure power law u = light^(1/gamma), gamma in [0.2, 5], with the soft
 * clip; below u = 0.01 a linear piece (the pure law's slope is infinite at
 * black). */
deconv_status deconv_response_gamma(deconv_response *r, double gamma, deconv_error *err);
/* "srgb", "linear" or "gamma:G" (the --response flag; "auto" is the
 * caller's: deconv_file_info.response). */
deconv_status deconv_response_parse(const char *text, deconv_response *r, deconv_error *err);
/* The tone curve of an ICC profile (LittleCMS): its gray or green TRC.
 * Fails (DECONV_ERR_FORMAT, the message says why) for a profile that is
 * corrupt or has no tone curve (LUT-based profiles). */
deconv_status deconv_response_from_icc(const void *icc, size_t size, deconv_response *r,
                                       deconv_error *err);
/* Light from stored values, and stored values from light, on n samples
 * (in place allowed). */
void deconv_response_decode(const deconv_response *r, const float *u, float *light, size_t n);
void deconv_response_encode(const deconv_response *r, const float *light, float *u, size_t n);
/* The largest stored value the model uses: G(256) with the soft clip
 * (lights up to 256 times white where the photo is clipped), 1 otherwise. */
double deconv_response_max(const deconv_response *r);

/* ------------------------------------------------------------------ */
/* Image files (imageio.c)                                              */
/* ------------------------------------------------------------------ */

typedef struct {
    int bits;        /* 8, 16 or 32: the depth to keep on output (8 for
                        sub-8-bit files, 16 for 16-bit and HDR files, 32
                        for a float TIFF) */
    int has_alpha;   /* the last channel is alpha */
    deconv_response response; /* the file's tone curve: what its tags say
                                 (PNG sRGB, cICP, iCCP, gAMA; an ICC
                                 profile in JPEG or TIFF), sRGB when
                                 untagged, linear for HDR and float TIFF */
    int chroma_x, chroma_y; /* a colour JPEG's chroma subsampling, as the
                               luma's sampling factors over the chroma's:
                               1, 1 for 4:4:4, 2, 1 for 4:2:2, 2, 2 for
                               4:2:0; 0, 0 for other files */
    char warning[256]; /* non-empty: a tag could not be used (a bad ICC
                          profile, say) and what was assumed instead */
} deconv_file_info;

/* Read PNG (libpng: 8/16 bit, gray, gray+alpha, RGB, RGBA, palette, tRNS),
 * TIFF (libtiff: 8/16-bit and 32-bit float samples, gray or RGB with or
 * without alpha, strips or tiles, contiguous or separate planes; palette,
 * 1/2/4-bit, YCbCr and CMYK files as 8-bit RGB(A) or gray), JPEG, BMP,
 * TGA, GIF (first frame), PSD, HDR (stb_image; HDR clamped to [0, 1]) or
 * PNM (read here: stb's reader mishandles maxval and 16 bits).
 * Samples map to [0, 1] as stored: no colour conversion and no gamma
 * correction; a float TIFF's samples are kept as they are (linear light,
 * which may lie outside [0, 1]; NaN and infinities are refused). The
 * file's tone curve goes to info->response: a PNG's cICP, iCCP (its ICC
 * profile's gray or green TRC), sRGB or gAMA chunk, in that order of
 * precedence; a JPEG's ICC profile (APP2 markers); an integer TIFF's ICC
 * profile tag; sRGB for an untagged file and for PNM, BMP, TGA, GIF and
 * PSD; linear for HDR and float TIFF. A tag that cannot be used gives sRGB
 * and says why in info->warning. Pixels stay in their stored orientation
 * (EXIF's and TIFF's orientation tags are not applied).
 * Channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. An image whose header
 * claims more than max_pixels pixels is refused before any allocation
 * (max_pixels <= 0: no limit). info may be NULL. */
deconv_image *deconv_image_read(const char *path, int64_t max_pixels,
                                deconv_file_info *info, deconv_error *err);

/* Metadata carried from an input file to the outputs, as the file stored
 * it: pixels are never rotated, so a viewer shows the output as it showed
 * the input. Read from PNG (iCCP, eXIf, tEXt/zTXt/iTXt), JPEG (APP2 ICC
 * profile, APP1 Exif) and TIFF (the ICC profile tag; the orientation, the
 * descriptive text tags and, in a classic TIFF, the EXIF IFD, made into an
 * EXIF block); written back to each of PNG, JPEG and TIFF outputs (text
 * chunks to PNG only; to a TIFF the orientation and the text tags of
 * EXIF's IFD0, as TIFF tags: not the EXIF IFD). */
typedef struct {
    char type[5];        /* "tEXt", "zTXt" or "iTXt" */
    unsigned char *data; /* the chunk's data as stored (keyword, NUL, ...) */
    size_t size;
} deconv_png_text;

#define DECONV_METADATA_TEXT_MAX 256 /* PNG text chunks kept at most */

typedef struct {
    unsigned char *icc;  /* the ICC profile, or NULL */
    size_t icc_size;
    unsigned char *exif; /* the EXIF block: a TIFF structure ("II*\0" or
                            "MM\0*" first), as after a JPEG APP1's
                            "Exif\0\0" and in a PNG eXIf chunk; or NULL */
    size_t exif_size;
    int orientation;     /* EXIF's orientation tag (1 to 8: 1 is upright,
                            6 is to be turned 90 degrees clockwise); 0:
                            none */
    int text_count;
    deconv_png_text *text;
} deconv_metadata;

/* deconv_image_read, and the file's metadata in *meta (an object to free
 * with deconv_metadata_free, empty when the file has none; NULL on
 * failure). */
deconv_image *deconv_image_read_with_metadata(const char *path, int64_t max_pixels,
                                              deconv_file_info *info, deconv_metadata **meta,
                                              deconv_error *err);
void deconv_metadata_free(deconv_metadata *m);

/* The output formats, chosen by the file name's extension (any case). */
typedef enum {
    DECONV_FORMAT_UNKNOWN,
    DECONV_FORMAT_PNG,  /* .png */
    DECONV_FORMAT_JPEG, /* .jpg, .jpeg */
    DECONV_FORMAT_TIFF  /* .tif, .tiff */
} deconv_format;

#define DECONV_OUTPUT_EXTENSIONS ".png, .jpg, .jpeg, .tif, .tiff"

deconv_format deconv_format_of_path(const char *path);

typedef struct {
    int bits;      /* bits per sample: 8 or 16 (PNG, TIFF), 32 (TIFF:
                      float samples, written unclamped); JPEG is 8 only.
                      Integer samples are rounded and clamped to [0, 1].
                      Default 8 */
    int quality;   /* JPEG quality, 1 to 100; default 95 */
    int chroma_x, chroma_y; /* JPEG chroma subsampling (as in
                               deconv_file_info): 1, 1 (4:4:4, the
                               default), 2, 1 (4:2:2), 1, 2 or 2, 2
                               (4:2:0) */
    const deconv_metadata *metadata; /* written into the file (see
                                        deconv_metadata); NULL: none */
} deconv_write_options;

void deconv_write_defaults(deconv_write_options *o);

/* Write an image in the format of path's extension (deconv_format_of_path;
 * another extension is refused, DECONV_ERR_ARG, naming it and the accepted
 * ones): PNG (libpng, 8/16 bits), JPEG (libjpeg: 8 bits, baseline with
 * optimised Huffman tables; no alpha in JPEG: an alpha channel is dropped)
 * or TIFF (libtiff: 8/16-bit integer or 32-bit float samples, Deflate with
 * a predictor, BigTIFF when the file could pass 4 GiB). o may be NULL (the
 * defaults). The file is written to a temporary file beside path and
 * renamed into place only when complete: on failure nothing is left and an
 * existing file is untouched. */
deconv_status deconv_image_write(const deconv_image *im, const char *path,
                                 const deconv_write_options *o, deconv_error *err);

/* Write a PNG of 8 or 16 bits, whatever path's extension: as
 * deconv_image_write with those bits. */
deconv_status deconv_image_write_png(const deconv_image *im, const char *path,
                                     int bits, deconv_error *err);

/* ------------------------------------------------------------------ */
/* Image files as streams of rows (rows_io.c)                           */
/* ------------------------------------------------------------------ */

/* An image too large to hold is read and written a band of rows at a time,
 * from the top. A band of n rows is planar like deconv_image: channel c's
 * rows are contiguous at data + c * n * width. deconv_image_read and
 * deconv_image_write are these readers and writers run over every row at
 * once, so a file streamed gives the same samples, file info, metadata,
 * errors and bytes as one read or written whole.
 *
 * Decoded as the rows are asked for: PNG (not interlaced; asked for its
 * metadata, one with some after its image data is read through once more
 * when opened), TIFF with 8/16-bit or float samples (contiguous strips a
 * scanline at a time, separate planes a strip of each, tiles a row of
 * tiles), PNM and HDR. The other inputs (interlaced PNG, JPEG, BMP, TGA,
 * GIF, PSD, and the TIFF layouts of libtiff's RGBA interface) are read
 * whole when opened and their rows served from memory. Written as the rows
 * come: PNG, TIFF and JPEG (though libjpeg keeps every DCT coefficient,
 * about 2 bytes a sample, for the optimised Huffman tables). */
typedef struct deconv_row_reader deconv_row_reader;

/* Open path as deconv_image_read_with_metadata reads it (the formats, the
 * max_pixels limit, the file info and the metadata, complete: meta may be
 * NULL for none, info may be NULL). NULL on failure, with *meta NULL. */
deconv_row_reader *deconv_row_reader_open(const char *path, int64_t max_pixels,
                                          deconv_file_info *info, deconv_metadata **meta,
                                          deconv_error *err);
/* The image's shape (0 for NULL). */
int deconv_row_reader_width(const deconv_row_reader *r);
int deconv_row_reader_height(const deconv_row_reader *r);
int deconv_row_reader_channels(const deconv_row_reader *r);

/* The next rows rows into out (rows x width x channels floats, planar as
 * above); 0 rows do nothing. More rows than are left: DECONV_ERR_ARG,
 * nothing read. A file found broken on the way (truncated, corrupt) fails
 * as deconv_image_read would, naming it: out is then undefined and every
 * later call fails alike. */
deconv_status deconv_row_reader_read(deconv_row_reader *r, int rows, float *out,
                                     deconv_error *err);
/* Close the file and free r, whether every row was read or not (NULL: no
 * effect). */
void deconv_row_reader_close(deconv_row_reader *r);

typedef struct deconv_row_writer deconv_row_writer;

/* Start writing a width x height image of 1 to 4 channels to path, in the
 * format of its extension, with deconv_image_write's options and checks (w
 * may be NULL for the defaults; w and its metadata are read during this
 * call only). The file is written to a temporary file beside path: path
 * itself is untouched until deconv_row_writer_commit. NULL on failure. */
deconv_row_writer *deconv_row_writer_open(const char *path, int width, int height, int channels,
                                          const deconv_write_options *w, deconv_error *err);
/* The next rows rows from in (planar as above); 0 rows do nothing. More
 * rows than are left: DECONV_ERR_ARG, nothing written. A failure to write
 * (a full disk) makes every later call fail alike. */
deconv_status deconv_row_writer_write(deconv_row_writer *wr, int rows, const float *in,
                                      deconv_error *err);
/* End the file and rename it onto path, once every row is written. Fewer
 * rows (DECONV_ERR_ARG), an earlier failure or one now: the temporary file
 * is removed and path untouched. Frees wr whatever it returns. */
deconv_status deconv_row_writer_commit(deconv_row_writer *wr, deconv_error *err);
/* Give up: remove the temporary file and free wr (NULL: no effect). */
void deconv_row_writer_abort(deconv_row_writer *wr);

/* ------------------------------------------------------------------ */
/* Image operations (image.c)                                           */
/* ------------------------------------------------------------------ */

/* Extend a plane of w x h by edge replication: top/left margins (pt, pl),
 * to out of (w+pl+pr) x (h+pt+pb). Used to start x from y (MODEL.md). */
void deconv_pad_replicate(const float *in, int w, int h, int pt, int pb, int pl,
                          int pr, float *out);

/* Copy the centre window of a plane: out (ow x oh) = in[top.., left..]. */
void deconv_crop(const float *in, int w, int top, int left, int ow, int oh, float *out);

/* Rec. 709 luminance of an RGB(A) image (gray images: the plane itself). */
deconv_image *deconv_image_luminance(const deconv_image *im);

/* Number of colour channels (alpha excluded) for a channel count 1..4. */
int deconv_color_channels(int channels);

/* Robust noise estimate (standard deviation, [0,1] units) of a plane from
 * the median absolute value of its finest diagonal wavelet coefficients;
 * when the plane shows JPEG's 8 x 8 block quantisation (which zeroes those
 * coefficients), at least the noise its quantised DCT coefficients imply
 * (docs/tuning-camera.md). Uncompressed planes: the wavelet estimate. */
double deconv_estimate_noise(const float *plane, int w, int h);

/* PSNR (dB, peak 1) and SSIM (Gaussian window, per channel, averaged) of b
 * against a; the images must have the same shape. */
double deconv_psnr(const deconv_image *a, const deconv_image *b);
double deconv_ssim(const deconv_image *a, const deconv_image *b);

/* ------------------------------------------------------------------ */
/* The operators of MODEL.md (conv.c)                                   */
/* ------------------------------------------------------------------ */

/* y = h * x, valid: x is xw x xh, y is (xw-kw+1) x (xh-kh+1). */
void deconv_conv_valid(const float *x, int xw, int xh, const float *h, int kw, int kh,
                       float *y);

/* g = H^T r, full correlation: r is rw x rh, g is (rw+kw-1) x (rh+kh-1). */
void deconv_corr_full(const float *r, int rw, int rh, const float *h, int kw, int kh,
                      float *g);

/* g = X^T r, valid correlation of x with r: x is xw x xh, r is
 * (xw-kw+1) x (xh-kh+1), g is kw x kh. Sums in double. */
void deconv_corr_kernel(const float *x, int xw, int xh, const float *r, int kw, int kh,
                        float *g);

/* Data term and gradients on one plane: x is (M+kh-1) x (N+kw-1), y M x N.
 * Returns f = 1/2 ||h*x - y||^2; r (M x N) receives the residual;
 * grad_x / grad_h (either may be NULL) receive the gradients. */
double deconv_objective(const float *x, const float *y, int N, int M, const float *h,
                        int kw, int kh, float *r, float *grad_x, float *grad_h);

/* Dot product and squared norm, summed in double. */
double deconv_dot(const float *a, const float *b, size_t n);

/* ------------------------------------------------------------------ */
/* Regularisers (regularize.c)                                          */
/* ------------------------------------------------------------------ */

/* Smoothed total variation sum sqrt(|grad x|^2 + eps^2) (forward
 * differences, replicated last row/column). Returns the value; adds
 * weight * gradient into g when g is not NULL. */
double deconv_tv(const float *x, int w, int h, double eps, double weight, float *g);

/* Tikhonov on image gradients: 1/2 sum |grad x|^2. Same conventions. */
double deconv_tikhonov(const float *x, int w, int h, double weight, float *g);

/* ------------------------------------------------------------------ */
/* Non-blind restoration (deblur.c)                                     */
/* ------------------------------------------------------------------ */

typedef enum {
    DECONV_STEP_EXACT,  /* closed-form step of MODEL.md, then projection */
    DECONV_STEP_ARMIJO, /* backtracking on the full (regularised) objective */
    DECONV_STEP_NONE    /* the fixed step the user gives */
} deconv_step_rule;

/* How the convolutions of the image step are computed. */
typedef enum {
    DECONV_CONV_AUTO,   /* the faster of the two for the sizes (cost model) */
    DECONV_CONV_DIRECT, /* spatial sums: best for small kernels */
    DECONV_CONV_FFT     /* FFTW, zero-padded so it is exact for the valid model */
} deconv_conv_mode;

typedef enum {
    DECONV_METHOD_NESTEROV, /* accelerated projected gradient, restarted when
                               the objective would grow (the default) */
    DECONV_METHOD_GD,       /* plain projected gradient descent */
    DECONV_METHOD_CG        /* conjugate gradient with the exact step: only
                               for a quadratic objective (no TV, no box) */
} deconv_method;

/* Called once an iteration (may be NULL). Return non-zero to stop. */
typedef struct {
    int iteration;
    int channel, channels;
    double objective;   /* the full objective (data + regularisers) */
    double data_term;   /* 1/2 ||h*x - y||^2 */
    double step;
    const char *phase;  /* "image", "kernel" */
    int level, levels;  /* pyramid level (blind), 0 of 1 otherwise */
} deconv_progress;

typedef int (*deconv_progress_fn)(const deconv_progress *p, void *user);

typedef struct {
    int iterations;           /* upper limit; default 200 */
    double tol;               /* stop when relative decrease < tol; default 1e-5 */
    deconv_method method;     /* default DECONV_METHOD_NESTEROV */
    deconv_conv_mode conv;    /* default DECONV_CONV_AUTO */
    deconv_step_rule rule;    /* default DECONV_STEP_ARMIJO */
    double step;              /* fixed step (rule NONE) or first trial step
                                 (ARMIJO); <= 0: automatic. */
    double tv;                /* TV weight; < 0: automatic from the noise */
    double tv_min;            /* the automatic weight is at least this;
                                 default 0 (deconv_blind_restore_defaults:
                                 DECONV_BLIND_RESTORE_TV_MIN) */
    double tv_eps;            /* TV smoothing; default 1e-2 */
    double tikhonov;          /* Tikhonov weight; default 0 */
    int clip;                 /* box 0 <= x <= 1 by projection (up to
                                 deconv_response_max with the soft clip:
                                 lights brighter than white); default 1 */
    deconv_response response; /* the camera's model (MODEL.md): the tone
                                 curve of y and the soft clip at white;
                                 default linear (MODEL.md's linear model);
                                 photos: the file's (deconv_file_info) */
    int keep_partial;         /* when the run stops early (NaN, divergence,
                                 cancel): return the last good iterate, with
                                 the reason in report->stopped and err,
                                 instead of NULL; default 0 */
    int threads;              /* 0: OpenMP's default */
    deconv_progress_fn progress;
    void *progress_user;
    volatile const int *cancel; /* raised asynchronously (signals): stop */
} deconv_deblur_params;

void deconv_deblur_defaults(deconv_deblur_params *p);

typedef struct {
    int iterations;     /* total image iterations run (all channels) */
    double objective;   /* final objective of the last channel */
    double noise;       /* estimated noise sigma of the input */
    double tv;          /* TV weight used */
    deconv_status stopped; /* DECONV_OK, or why the run stopped early (a
                              partial result, with keep_partial) */
    double halo_seconds;   /* deconv_deblur_mpi: time spent exchanging
                              halos, and gathering sums and decisions,
                              waiting for the other processes included */
    double sum_seconds;
} deconv_report;

/* Restore every colour channel of y with kernel k (alpha is carried through
 * as the centre crop unchanged). Returns x, (N+kw-1) x (M+kh-1), with the
 * channels of y; alpha is replicated outward. */
deconv_image *deconv_deblur(const deconv_image *y, const deconv_kernel *k,
                            const deconv_deblur_params *p, deconv_report *report,
                            deconv_error *err);

/* The image step on one plane, the core both deblur and blind use: starting
 * from x (updated in place), minimise the objective over x for a fixed h.
 * Returns the status; *iters receives the iterations run. */
deconv_status deconv_image_step(float *x, const float *y, int N, int M, const float *h,
                                int kw, int kh, const deconv_deblur_params *p,
                                int channel, int channels, int *iters, double *final_obj,
                                deconv_error *err);

/* Crop the centre of x back to the frame of y (size of the input). */
deconv_image *deconv_crop_to_input(const deconv_image *x, int kw, int kh);

/* The noise level deconv_deblur estimates for its automatic TV weight:
 * the mean over the colour channels of deconv_estimate_noise. */
double deconv_image_noise(const deconv_image *y);


/* ------------------------------------------------------------------ */
/* Blind restoration (blind.c)                                          */
/* ------------------------------------------------------------------ */

typedef struct {
    int kernel_width, kernel_height; /* the kernel's support; both 0: chosen
                               by a quick estimate on the window shrunk
                               (kernel_size.c), from
                               DECONV_BLIND_MIN_AUTO_KERNEL to a fifth of
                               the window's shorter side, at most
                               DECONV_BLIND_MAX_AUTO_KERNEL; the kernel
                               returned has the size chosen */
    int iterations;         /* alternations (x step, h step) per pyramid
                               level; default 50 */
    int kernel_iterations;  /* FISTA iterations of each h step; default 30 */
    int image_iterations;   /* Nesterov iterations of each TV x step;
                               default 8 (not used with sparse_prior) */
    double step;            /* first trial step of the TV x step (<= 0
                               automatic) */
    double kernel_step;     /* the kernel step's step size, relative to
                               1 / (the selected edges' energy): with
                               kernel_rule NONE a fixed step (<= 0: the
                               safe step 1/L, L the normal operator's
                               largest eigenvalue by power iteration),
                               else the first trial (<= 0: 1); default 0 */
    deconv_step_rule kernel_rule; /* how the kernel step's step sizes are
                               chosen: NONE (default) FISTA with the fixed
                               step; ARMIJO FISTA with backtracking; EXACT
                               projected gradient with the exact step along
                               each direction. A fixed step under which the
                               kernel's objective rises fails with
                               DECONV_ERR_DIVERGED, naming the safe step */
    double kernel_reg;      /* Tikhonov weight gamma on the kernel, relative
                               to the energy of the selected edges;
                               default 0 */
    double kernel_smooth;   /* weight mu of mu/2 ||grad h||^2 in the kernel
                               step at 1 % noise on a window of up to 256 x
                               256 pixels, relative to the energy of the
                               selected edges; it scales with
                               (sigma^2 - 0.004^2) / 0.01^2, sigma the noise
                               estimated in the window, is 0 below 0.4 %
                               noise, and falls as 65536 / pixels on larger
                               windows: noise fitted by a kernel that must
                               stay >= 0 breaks it into dots
                               (docs/benchmarks.md, "Noise"); default
                               DECONV_BLIND_KERNEL_SMOOTH, 0: none */
    deconv_step_rule rule;  /* line search of the TV x step; default ARMIJO */
    double tv;              /* TV weight at the start of each level; <= 0:
                               0.02 */
    double tv_final;        /* TV weight at the end of each level (geometric
                               decrease); <= 0: tv / 10 */
    int levels;             /* pyramid levels; 0 automatic (coarsest kernel
                               about 3 pixels) */
    double scale;           /* pyramid ratio per level; default 1/sqrt(2) */
    const deconv_kernel *init; /* starting kernel (NULL: delta) */
    int init_gaussian;      /* start from a small Gaussian instead of delta */
    int sparse_prior;       /* 1: the x step uses an L0 prior on gradients
                               (Xu et al. 2013) instead of TV; experimental,
                               worse than TV on the Levin benchmark so far;
                               default 0 */
    int refine;             /* alternations of the final refinement at the
                               finest level (L0 x step, kernel step on
                               every gradient); default 10, 0: none */
    double refine_lambda;   /* L0 weight of the refinement; default 5e-4 */
    double piece_fraction;  /* at the end of each level, the 8-connected
                               pieces of the kernel holding less than this
                               fraction of its mass are removed; <= 0: 0.1 */
    int starts;             /* 1 to 5 independent estimates: (tv,
                               piece_fraction) x (1, 1), (0.5, 1), (1.5, 1)
                               run side by side on the threads, then
                               (1, 0.5) from where it parts from the first,
                               then, where a clipped piece is larger than
                               the kernel (a white page, a sky), the first
                               fitting it one-sided (y a lower bound)
                               (for kernels of 51 pixels or more, the third
                               selects its edges on x shock filtered, and
                               on a photo whose noise is estimated at
                               0.005 or more it alone runs, whatever
                               starts says);
                               the one whose restoration has the sparsest
                               gradients (||grad x||_1 / ||grad x||_2),
                               with the most compact kernel, is returned.
                               progress reports the first start only.
                               Default 4 */
    double estimate_pixels; /* the kernel is estimated on a window of about
                               this many pixels, where the photo has the
                               most edges (the model's kernel is the same
                               everywhere; the cost is linear in the
                               pixels); 0: the whole image. Default
                               DECONV_BLIND_ESTIMATE_PIXELS */
    int region_x, region_y, region_width, region_height;
                            /* the window of y to estimate the kernel on,
                               instead of the automatic one (a part in
                               focus, without moving subjects); width and
                               height 0: automatic. Must lie inside y and
                               hold the kernel */
    deconv_response response; /* the camera's model of y (MODEL.md): both
                                 steps use it; default linear */
    int threads;
    deconv_progress_fn progress;
    void *progress_user;
    volatile const int *cancel;
} deconv_blind_params;

/* 1 megapixel: many times the edges a kernel of a hundred pixels across
 * needs. On 10-megapixel photos (bench/mosaic.py) the kernels found on 1
 * megapixel were as good as on 2, in half the time (docs/benchmarks.md,
 * "The estimation window on large photos"); photos of a megapixel or
 * less are estimated whole. */
#define DECONV_BLIND_ESTIMATE_PIXELS 1e6
/* The kernel step's smoothness at 1 % noise (kernel_smooth). */
#define DECONV_BLIND_KERNEL_SMOOTH 0.04
/* The sizes an automatic kernel size is chosen from. */
#define DECONV_BLIND_MIN_AUTO_KERNEL 9
#define DECONV_BLIND_MAX_AUTO_KERNEL 101
void deconv_blind_defaults(deconv_blind_params *p);

/* The restoration after a blind estimate: deconv_deblur_defaults, with the
 * automatic TV weight at least DECONV_BLIND_RESTORE_TV_MIN. An estimated
 * kernel is never exact, and its error acts on the restoration like noise
 * that the noise estimate of y does not see: on the Levin benchmark the
 * floor gains 1.4 dB with the estimated kernels (and 1.1 dB with the true
 * ones, real photographs not being exact convolutions); on the synthetic
 * sample 0.3 dB (bench/levin --plain-restore and --restore-tv, docs/benchmarks.md). */
#define DECONV_BLIND_RESTORE_TV_MIN 5e-4
void deconv_blind_restore_defaults(deconv_deblur_params *p);

/* The window of y (width x height at left, top) deconv_blind_kernel
 * estimates the kernel on: the region, or the automatic window of
 * estimate_pixels (the whole image when it is not larger). */
deconv_status deconv_blind_window(const deconv_image *y, const deconv_blind_params *p,
                                  int *left, int *top, int *width, int *height,
                                  deconv_error *err);

/* The colour channels deconv_blind_kernel reads, as bits in *read (1 red,
 * 2 green, 4 blue; a gray photo: 1), and the fraction of the window's
 * pixels clipped at white in each (clipped may be NULL; zeros unless the
 * photo is colour and the response not linear). Under the camera's model
 * a colour photo whose channels clip unevenly (a saturated orange's red)
 * is estimated on the less clipped ones; otherwise every channel is read. */
deconv_status deconv_blind_channels(const deconv_image *y, const deconv_blind_params *p,
                                    unsigned *read, double clipped[3], deconv_error *err);

/* Estimate the kernel of y (on luminance). Returns it (sums to 1, >= 0),
 * of the size asked for or, with none, of the size chosen. */
deconv_kernel *deconv_blind_kernel(const deconv_image *y, const deconv_blind_params *p,
                                   deconv_error *err);

/* ------------------------------------------------------------------ */
/* Distributed runs (deblur_mpi.c, blind_mpi.c)                         */
/* ------------------------------------------------------------------ */

#ifdef MPI_VERSION
/* Distributed restoration over MPI (include <mpi.h> first; libdeconv built
 * with -DDECONV_MPI=ON). The processes of comm restore one image together,
 * each a band of rows, and the result is byte for byte deconv_deblur's,
 * whatever the number of processes and threads.
 *
 * deconv_mpi_rows tells a process which rows of the width x height input y
 * it must pass (in0 to in1: its band and the halo around it) and which
 * rows of the result x ((height + kh - 1) rows, deconv_deblur's frame) it
 * gets back (out0 to out1); the bands cover x in rank order. It fails on
 * every process alike when the image has too few rows for that many
 * processes. */
typedef struct {
    int in0, in1, out0, out1;
} deconv_mpi_rows;

deconv_status deconv_mpi_rows_of(MPI_Comm comm, int width, int height, const deconv_kernel *k,
                                 const deconv_deblur_params *p, deconv_mpi_rows *rows,
                                 deconv_error *err);

/* Restore this process's band: y holds rows [in0, in1) of the input
 * (width y->width, all channels); noise is deconv_image_noise of the
 * whole input for the automatic TV weight, or < 0: estimated by the
 * processes together, to the same value. Returns rows [out0, out1) of
 * deconv_deblur's result, (width + kw - 1) wide. Every process must call
 * it with the same comm, height, noise, kernel and parameters; a failure
 * of one (out of memory) is a failure of all. Each process gets the same
 * report. */
deconv_image *deconv_deblur_mpi(MPI_Comm comm, const deconv_image *y, int height, double noise,
                                const deconv_kernel *k, const deconv_deblur_params *p,
                                deconv_report *report, deconv_error *err);

/* deconv_blind_kernel with its starts spread over the processes of comm
 * (starts 0, 3 and 4 on rank 0, 1 and 2 on the next ranks); every process
 * passes the same y (the window the estimate runs on: it is small) and
 * parameters, and gets the kernel one process gets. */
deconv_kernel *deconv_blind_kernel_mpi(MPI_Comm comm, const deconv_image *y,
                                       const deconv_blind_params *p, deconv_error *err);
#endif

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif
#ifdef __cplusplus
}
#endif
#endif
