/* Option parsing for the deconv program: one table of every flag (name,
 * kind, destination, range, help), strict numeric parsing, and the help
 * texts generated from the same table and the library's defaults. */
#define _POSIX_C_SOURCE 200809L
#include "args.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define DEFAULT_MAX_PIXELS 200000000
#define MAX_ITERATIONS 1000000
#define MAX_THREADS 1024
#define MAX_KERNEL_SIDE 1000000
#define DEFAULT_QUALITY 95

typedef enum {
    K_SET,      /* flag: int destination set to 1 */
    K_CLEAR,    /* flag: int destination set to 0 */
    K_INT,      /* int in [min, max] */
    K_INT64,    /* int64_t in [min, max] */
    K_REAL,     /* finite double in [min, max] ((min, max] with OPEN_MIN) */
    K_PATH,     /* const char * */
    K_RULE,     /* exact|armijo|none -> deconv_step_rule */
    K_CHOICE,   /* one of the names in metavar "a|b|c" -> its index, an enum value */
    K_BITS,     /* 8, 16 or 32 */
    K_LEVELS,   /* N or auto (0) */
    K_KSIZE,    /* N or WxH into blind.kernel_width/height */
    K_KINIT,    /* delta|gaussian|FILE */
    K_REGION,   /* X,Y,W,H into blind.region_* */
    K_RESPONSE, /* auto|srgb|linear|gamma:G (the text, checked) */
    K_PSF,      /* the kernel options */
    K_GAUSSIAN,
    K_MOTION,
    K_DISK,
    K_HELP
} arg_kind;

/* flags of an option */
#define OPEN_MIN 1u     /* min itself is refused */
#define AUTO_NEG 2u     /* a negative default is shown as deftext */
#define AUTO_NONPOS 4u  /* a default <= 0 is shown as deftext */
#define GROUP_KERNEL 8u /* listed under "Kernel (exactly one)" */

typedef struct {
    const char *name;  /* "--iterations" */
    const char *alias; /* "-o", "-h" or NULL */
    arg_kind kind;
    unsigned cmds;     /* the commands that take it */
    size_t off;        /* destination in cli_options */
    double min, max;
    unsigned flags;
    const char *metavar;
    const char *help;
    const char *deftext; /* shown for an automatic default */
} arg_spec;

#define OFF(field) offsetof(cli_options, field)
/* the library's floor of the restoration after a blind estimate, as text */
#define TEXT_OF(x) #x
#define EXPANDED_TEXT_OF(x) TEXT_OF(x)
#define RESTORE_TV_MIN_TEXT EXPANDED_TEXT_OF(DECONV_BLIND_RESTORE_TV_MIN)
#define ALL_IO (CMD_DEBLUR | CMD_BLIND | CMD_BLUR)
#define KERNEL_CMDS (CMD_DEBLUR | CMD_BLUR | CMD_PSF)
#define ANY (CMD_DEBLUR | CMD_BLIND | CMD_BLUR | CMD_PSF | CMD_COMPARE)

static const arg_spec options[] = {
    /* kernel */
    {"--psf", NULL, K_PSF, KERNEL_CMDS, OFF(kernel), 0, 0, GROUP_KERNEL, "FILE",
     "kernel image or CSV/text matrix, normalised to sum 1", NULL},
    {"--gaussian", NULL, K_GAUSSIAN, KERNEL_CMDS, OFF(kernel), 0, 0, GROUP_KERNEL, "S[,SIZE]",
     "Gaussian of standard deviation S (SIZE: side, default ~6S+1)", NULL},
    {"--motion", NULL, K_MOTION, KERNEL_CMDS, OFF(kernel), 0, 0, GROUP_KERNEL, "L,A",
     "motion of length L pixels at A degrees counter-clockwise", NULL},
    {"--disk", NULL, K_DISK, KERNEL_CMDS, OFF(kernel), 0, 0, GROUP_KERNEL, "R",
     "defocus disk of radius R pixels", NULL},

    /* outputs */
    {"--output", "-o", K_PATH, ALL_IO, OFF(output), 0, 0, 0, "FILE",
     "the image to write (required), its format by the extension: .png, .jpg/.jpeg or "
     ".tif/.tiff", NULL},
    {"--output", "-o", K_PATH, CMD_PSF, OFF(output), 0, 0, 0, "FILE",
     "the kernel file to write: .csv (text) or .png (required)", NULL},
    {"--kernel-size", NULL, K_KSIZE, CMD_BLIND, OFF(blind), 1, MAX_KERNEL_SIDE, 0, "N|WxH",
     "the kernel's support: N x N, or W wide by H high, a little larger than the blur",
     "chosen by a quick estimate on the photo shrunk, 9 to 101 pixels"},
    {"--kernel-out", NULL, K_PATH, CMD_BLIND, OFF(kernel_out), 0, 0, 0, "FILE",
     "also write the estimated kernel (.csv or .png)", NULL},

    /* non-blind restoration */
    {"--iterations", NULL, K_INT, CMD_DEBLUR, OFF(deblur.iterations), 1, MAX_ITERATIONS, 0, "N",
     "iterations at most, per channel", NULL},
    {"--step", NULL, K_REAL, CMD_DEBLUR, OFF(deblur.step), 0, INFINITY, OPEN_MIN | AUTO_NONPOS,
     "S", "step size: fixed (line search none) or first trial", "automatic"},
    {"--line-search", NULL, K_RULE, CMD_DEBLUR, OFF(deblur.rule), 0, 0, 0,
     "exact|armijo|none", "how each step size is chosen", NULL},
    {"--method", NULL, K_CHOICE, CMD_DEBLUR, OFF(deblur.method), 0, 0, 0, "nesterov|gd|cg",
     "accelerated (Nesterov) or plain projected gradient, or conjugate gradient (needs --tv 0 --no-clip)", NULL},
    {"--conv", NULL, K_CHOICE, CMD_DEBLUR, OFF(deblur.conv), 0, 0, 0, "auto|direct|fft",
     "how convolutions are computed: spatial sums, FFT, or the faster", NULL},
    {"--tol", NULL, K_REAL, CMD_DEBLUR, OFF(deblur.tol), 0, INFINITY, 0, "T",
     "stop when the relative decrease is below T", NULL},
    {"--tv", NULL, K_REAL, CMD_DEBLUR, OFF(deblur.tv), 0, INFINITY, AUTO_NEG, "L",
     "total-variation weight (0: none)", "automatic, from the noise"},
    {"--tikhonov", NULL, K_REAL, CMD_DEBLUR, OFF(deblur.tikhonov), 0, INFINITY, 0, "L",
     "Tikhonov weight on image gradients", NULL},
    {"--no-clip", NULL, K_CLEAR, CMD_DEBLUR, OFF(deblur.clip), 0, 0, 0, NULL,
     "do not keep pixel values within [0, 1] while iterating", NULL},
    {"--keep-partial", NULL, K_SET, CMD_DEBLUR, OFF(deblur.keep_partial), 0, 0, 0, NULL,
     "if the run stops early (NaN, divergence, Ctrl-C), write the last good iterate and exit 3",
     NULL},
    {"--full", NULL, K_SET, CMD_DEBLUR, OFF(full), 0, 0, 0, NULL,
     "write all of x: INPUT grown by the kernel size less one", NULL},

    /* blind restoration */
    {"--iterations", NULL, K_INT, CMD_BLIND, OFF(blind.iterations), 1, MAX_ITERATIONS, 0, "N",
     "alternations per pyramid level", NULL},
    {"--kernel-iterations", NULL, K_INT, CMD_BLIND, OFF(blind.kernel_iterations), 1,
     MAX_ITERATIONS, 0, "N", "kernel steps per alternation", NULL},
    {"--step", NULL, K_REAL, CMD_BLIND, OFF(blind.step), 0, INFINITY, OPEN_MIN | AUTO_NONPOS,
     "S", "the image step's step size: fixed (line search none) or first trial", "automatic"},
    {"--line-search", NULL, K_RULE, CMD_BLIND, OFF(blind.rule), 0, 0, 0, "exact|armijo|none",
     "how the image step's step sizes are chosen", NULL},
    {"--kernel-step", NULL, K_REAL, CMD_BLIND, OFF(blind.kernel_step), 0, INFINITY,
     OPEN_MIN | AUTO_NONPOS, "S",
     "the kernel step's step size, in units of 1/(the selected edges' energy): fixed "
     "(kernel line search none; a step too large stops the run and names the safe one) or "
     "first trial; automatic: the safe step 1/L (L by power iteration), or 1 as first trial",
     "automatic"},
    {"--kernel-line-search", NULL, K_RULE, CMD_BLIND, OFF(blind.kernel_rule), 0, 0, 0,
     "exact|armijo|none",
     "how the kernel step's step sizes are chosen: none a fixed step (accelerated), armijo "
     "backtracking (accelerated), exact the best step along each projected gradient", NULL},
    {"--kernel-smooth", NULL, K_REAL, CMD_BLIND, OFF(blind.kernel_smooth), 0, INFINITY, 0, "W",
     "the kernel's smoothness at 1 % noise, scaled by the noise estimated in the photo (none "
     "below 0.4 %) and falling on windows past 256 x 256 pixels: a noisy photo's kernel stays "
     "a connected trace instead of scattered dots (0: none)", NULL},
    {"--tv", NULL, K_REAL, CMD_BLIND, OFF(blind.tv), 0, INFINITY, AUTO_NONPOS, "L",
     "starting total-variation weight (0: automatic)", "automatic"},
    {"--restore-tv", NULL, K_REAL, CMD_BLIND, OFF(restore_tv), 0, INFINITY, AUTO_NEG, "L",
     "total-variation weight of the final restoration with the estimated kernel",
     "automatic, at least " RESTORE_TV_MIN_TEXT},
    {"--levels", NULL, K_LEVELS, CMD_BLIND, OFF(blind.levels), 1, 30, 0, "N|auto",
     "pyramid levels, coarse to fine", NULL},
    {"--estimate-pixels", NULL, K_REAL, CMD_BLIND, OFF(blind.estimate_pixels), 0, 1e15, 0,
     "N", "estimate the kernel on a window of about N pixels where the photo has the most "
     "edges (0: the whole photo)", NULL},
    {"--region", NULL, K_REGION, CMD_BLIND, OFF(blind), 0, 0, 0, "X,Y,W,H",
     "estimate the kernel on this window (W x H pixels, X, Y from the top left) "
     "instead of the automatic one", NULL},
    {"--starts", NULL, K_INT, CMD_BLIND, OFF(blind.starts), 1, 5, 0, "N",
     "independent estimates (TV weight x 1, 0.5, 1.5, the 3rd on shock-filtered edges for "
     "kernels of 51 pixels or more; the 4th: the 1st keeping fainter pieces of the kernel; "
     "the 5th, where a clipped area is larger than the kernel: the 1st fitting it as a lower "
     "bound); the kernel whose restoration is sharpest is kept (1 is about twice as fast); a kernel of "
     "51 pixels or more on a noisy photo (0.5 % or more) is the 3rd's alone, whatever N", NULL},
    {"--kernel-init", NULL, K_KINIT, CMD_BLIND, OFF(kernel_init), 0, 0, 0,
     "delta|gaussian|FILE", "starting kernel (a FILE gives the kernel size, or must have the --kernel-size)", NULL},

    /* synthetic blur */
    {"--noise", NULL, K_REAL, CMD_BLUR, OFF(noise), 0, 1, 0, "SIGMA",
     "add Gaussian noise of this deviation (pixels in 0..1)", NULL},
    {"--seed", NULL, K_INT64, CMD_BLUR, OFF(seed), 0, (double)INT64_MAX, 0, "N",
     "seed of the noise: the same seed gives the same bytes", NULL},

    /* common */
    {"--response", NULL, K_RESPONSE, ALL_IO, OFF(response), 0, 0, 0, "auto|srgb|linear|gamma:G",
     "the file's tone curve: the blur happens in linear light, before the curve and the "
     "clipping at white (auto: what the file says; sRGB for an untagged photo; linear: "
     "the values are light, no clipping)", NULL},
    {"--bits", NULL, K_BITS, ALL_IO, OFF(bits), 0, 0, 0, "8|16|32",
     "bits per sample of OUTPUT: 8 or 16 (PNG, TIFF), 32 float samples, unclamped (TIFF "
     "only); JPEG is 8", NULL},
    {"--quality", NULL, K_INT, ALL_IO, OFF(quality), 1, 100, 0, "Q",
     "JPEG quality of OUTPUT (chroma at full resolution, 4:4:4, unless INPUT is a JPEG with "
     "subsampled chroma: then as INPUT's)", NULL},
    {"--threads", NULL, K_INT, CMD_DEBLUR, OFF(deblur.threads), 1, MAX_THREADS,
     AUTO_NONPOS, "N", "threads to use", "the cores other processes leave free"},
    {"--threads", NULL, K_INT, CMD_BLIND, OFF(blind.threads), 1, MAX_THREADS, AUTO_NONPOS, "N",
     "threads to use", "the cores other processes leave free"},
    {"--suffix", NULL, K_PATH, CMD_DEBLUR | CMD_BLIND, OFF(suffix), 0, 0, 0, "S",
     "a batch (several inputs, or -o DIR/): add S to each output's name, before its extension",
     NULL},
    {"--log", NULL, K_PATH, CMD_DEBLUR | CMD_BLIND, OFF(log), 0, 0, 0, "FILE.csv",
     "write one CSV row per iteration", NULL},
    {"--quiet", NULL, K_SET, CMD_DEBLUR | CMD_BLIND, OFF(quiet), 0, 0, 0, NULL,
     "no progress line and no summary", NULL},
    {"--max-pixels", NULL, K_INT64, ALL_IO | CMD_COMPARE, OFF(max_pixels), 0, (double)INT64_MAX,
     0, "N", "refuse larger images (0: no limit)", NULL},
    {"--force", NULL, K_SET, ALL_IO | CMD_PSF, OFF(force), 0, 0, 0, NULL,
     "allow an output to replace an input file", NULL},
    {"--help", "-h", K_HELP, ANY, 0, 0, 0, 0, NULL, "show this help", NULL},
};

#define N_OPTIONS (sizeof options / sizeof options[0])
_Static_assert(sizeof options / sizeof options[0] <= CLI_MAX_OPTIONS, "raise CLI_MAX_OPTIONS");
_Static_assert(sizeof(deconv_method) == sizeof(int) && sizeof(deconv_conv_mode) == sizeof(int),
               "K_CHOICE stores enum values as int");

typedef struct {
    const char *name;
    cli_command cmd;
    int min_pos, max_pos;
    const char *synopsis;
    const char *summary;
    const char *example;
} command_spec;

static const command_spec commands[] = {
    {"deblur", CMD_DEBLUR, 1, CLI_MAX_POSITIONAL, "deblur INPUT... -o OUTPUT|DIR/ KERNEL [options]",
     "Remove a known blur from INPUT and write the restored image as OUTPUT\n"
     "(PNG, JPEG or TIFF, by its extension).",
     "deconv deblur blurry.png -o sharp.png --gaussian 2.5 --iterations 300"},
    {"blind", CMD_BLIND, 1, CLI_MAX_POSITIONAL, "blind INPUT... -o OUTPUT|DIR/ [--kernel-size N|WxH] [options]",
     "Estimate an unknown blur kernel (of the given size, or of a size it chooses), then\n"
     "restore INPUT with it.",
     "deconv blind shaky.jpg -o sharp.jpg --kernel-out k.png"},
    {"blur", CMD_BLUR, 1, 1, "blur INPUT -o OUTPUT KERNEL [--noise SIGMA] [options]",
     "Blur INPUT with a kernel and optionally add Gaussian noise.\n"
     "OUTPUT is smaller than INPUT by the kernel size less one (valid convolution).",
     "deconv blur photo.png -o blurry.png --motion 9,30 --noise 0.01 --seed 3"},
    {"psf", CMD_PSF, 0, 0, "psf KERNEL -o FILE.csv|FILE.png",
     "Write a kernel (point spread function) as a CSV matrix or a PNG picture.",
     "deconv psf --disk 4.5 -o disk.csv"},
    {"compare", CMD_COMPARE, 2, 2, "compare A B",
     "Print the PSNR and SSIM of image B against the reference A (same size).",
     "deconv compare original.png restored.png"},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

/* Under mpirun every process parses the same flags and meets the same
 * usage errors: only rank 0 says so. */
static int errors_silenced;
void cli_silence_errors(void) { errors_silenced = 1; }

void cli_error(const char *fmt, ...)
{
    if (errors_silenced)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("deconv: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

const char *cli_channels_name(int channels)
{
    static const char *names[] = {"?", "gray", "gray+alpha", "RGB", "RGBA"};
    return channels >= 1 && channels <= 4 ? names[channels] : "?";
}

static const char *rule_name(deconv_step_rule r)
{
    switch (r) {
    case DECONV_STEP_EXACT: return "exact";
    case DECONV_STEP_ARMIJO: return "armijo";
    case DECONV_STEP_NONE: return "none";
    }
    return "?";
}

/* ------------------------------------------------------------------ */
/* Strict numbers: the whole token must parse, in range, finite.       */
/* ------------------------------------------------------------------ */

static int parse_int64(const char *what, const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    if (*s == '\0' || isspace((unsigned char)*s)) {
        cli_error("%s: '%s' is not an integer", what, s);
        return -1;
    }
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0') {
        cli_error("%s: '%s' is not an integer", what, s);
        return -1;
    }
    if (errno == ERANGE || v < min || v > max) {
        if (max == INT64_MAX && errno != ERANGE && v < min)
            cli_error("%s: must be an integer of at least %lld, got '%s'", what, (long long)min, s);
        else
            cli_error("%s: must be an integer from %lld to %lld, got '%s'", what, (long long)min,
                      (long long)max, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_int(const char *what, const char *s, int min, int max, int *out)
{
    int64_t v;
    if (parse_int64(what, s, min, max, &v))
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_real(const char *what, const char *s, double min, double max, int open_min,
                      double *out)
{
    char *end;
    if (*s == '\0' || isspace((unsigned char)*s)) {
        cli_error("%s: '%s' is not a number", what, s);
        return -1;
    }
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0') {
        cli_error("%s: '%s' is not a number", what, s);
        return -1;
    }
    if (!isfinite(v) || v < min || v > max || (open_min && v == min)) {
        if (min == 0 && isinf(max))
            cli_error("%s: must be a %s finite number, got '%s'", what,
                      open_min ? "positive" : "non-negative", s);
        else if (isinf(min) && isinf(max))
            cli_error("%s: must be a finite number, got '%s'", what, s);
        else
            cli_error("%s: must be a number %s %g and at most %g, got '%s'", what,
                      open_min ? "greater than" : "of at least", min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Split "a,b" at the first comma into buf (a) and *second (b or NULL). */
static void split_comma(const char *s, char *buf, size_t n, const char **second)
{
    snprintf(buf, n, "%s", s);
    char *c = strchr(buf, ',');
    *second = NULL;
    if (c) {
        *c = '\0';
        *second = c + 1;
    }
}

static int set_kernel(cli_options *o, const arg_spec *a, kspec_kind kind)
{
    if (o->kernel.kind != KSPEC_NONE) {
        cli_error("%s: give exactly one kernel (--psf, --gaussian, --motion or --disk)",
                  o->command_name);
        return -1;
    }
    o->kernel.kind = kind;
    o->kernel.flag = a->name;
    return 0;
}

/* ------------------------------------------------------------------ */
/* One option's value                                                   */
/* ------------------------------------------------------------------ */

static int parse_value(const arg_spec *a, const char *v, cli_options *o)
{
    void *dst = (char *)o + a->off;
    const char *n = a->name;
    char buf[256];
    const char *second;
    cli_kernel_spec *k = &o->kernel;

    switch (a->kind) {
    case K_SET: *(int *)dst = 1; return 0;
    case K_CLEAR: *(int *)dst = 0; return 0;
    case K_HELP: return 0;
    case K_INT: return parse_int(n, v, (int)a->min, (int)a->max, (int *)dst);
    case K_INT64: /* (double)INT64_MAX rounds up to 2^63, beyond int64_t */
        return parse_int64(n, v, (int64_t)a->min, a->max >= 0x1p63 ? INT64_MAX : (int64_t)a->max,
                           (int64_t *)dst);
    case K_REAL: return parse_real(n, v, a->min, a->max, !!(a->flags & OPEN_MIN), (double *)dst);
    case K_PATH:
        if (*v == '\0') {
            cli_error("%s: the file name is empty", n);
            return -1;
        }
        *(const char **)dst = v;
        return 0;
    case K_RULE:
        if (strcmp(v, "exact") == 0) *(deconv_step_rule *)dst = DECONV_STEP_EXACT;
        else if (strcmp(v, "armijo") == 0) *(deconv_step_rule *)dst = DECONV_STEP_ARMIJO;
        else if (strcmp(v, "none") == 0) *(deconv_step_rule *)dst = DECONV_STEP_NONE;
        else {
            cli_error("%s: must be exact, armijo or none, got '%s'", n, v);
            return -1;
        }
        return 0;
    case K_CHOICE: {
        /* the names are the metavar's, in the order of the enum's values */
        const char *m = a->metavar;
        for (int index = 0;; index++) {
            size_t len = strcspn(m, "|");
            if (strlen(v) == len && strncmp(m, v, len) == 0) {
                *(int *)dst = index;
                return 0;
            }
            if (m[len] == '\0')
                break;
            m += len + 1;
        }
        cli_error("%s: must be one of %s, got '%s'", n, a->metavar, v);
        return -1;
    }
    case K_BITS:
        if (strcmp(v, "8") != 0 && strcmp(v, "16") != 0 && strcmp(v, "32") != 0) {
            cli_error("%s: must be 8, 16 or 32, got '%s'", n, v);
            return -1;
        }
        *(int *)dst = atoi(v);
        return 0;
    case K_LEVELS:
        if (strcmp(v, "auto") == 0) {
            *(int *)dst = 0;
            return 0;
        }
        return parse_int(n, v, (int)a->min, (int)a->max, (int *)dst);
    case K_KSIZE: {
        const char *x = strchr(v, 'x');
        int w, h;
        if (!x) {
            if (parse_int(n, v, (int)a->min, (int)a->max, &w))
                return -1;
            h = w;
        } else {
            snprintf(buf, sizeof buf, "%.*s", (int)(x - v), v);
            if (*buf == '\0' || x[1] == '\0') {
                cli_error("%s: expected N or WxH (e.g. 31 or 31x21), got '%s'", n, v);
                return -1;
            }
            if (parse_int(n, buf, (int)a->min, (int)a->max, &w) ||
                parse_int(n, x + 1, (int)a->min, (int)a->max, &h))
                return -1;
        }
        o->blind.kernel_width = w;
        o->blind.kernel_height = h;
        return 0;
    }
    case K_RESPONSE: {
        deconv_response r;
        deconv_error e;
        if (strcmp(v, "auto") != 0 && deconv_response_parse(v, &r, &e) != DECONV_OK) {
            cli_error("%s: %s", n, e.message);
            return -1;
        }
        *(const char **)dst = strcmp(v, "auto") == 0 ? NULL : v;
        return 0;
    }
    case K_REGION: {
        int r[4];
        const char *names[4] = {"--region X", "--region Y", "--region W", "--region H"};
        const char *q = v;
        for (int t = 0; t < 4; t++) {
            const char *end = strchr(q, ',');
            size_t len = end ? (size_t)(end - q) : strlen(q);
            if ((t < 3) != (end != NULL) || len == 0 || len >= sizeof buf) {
                cli_error("%s: expected X,Y,W,H (e.g. 100,50,800,600), got '%s'", n, v);
                return -1;
            }
            snprintf(buf, sizeof buf, "%.*s", (int)len, q);
            if (parse_int(names[t], buf, t < 2 ? 0 : 1, MAX_KERNEL_SIDE * 100, &r[t]))
                return -1;
            q = end ? end + 1 : q + len;
        }
        o->blind.region_x = r[0], o->blind.region_y = r[1];
        o->blind.region_width = r[2], o->blind.region_height = r[3];
        return 0;
    }
    case K_KINIT:
        if (*v == '\0') {
            cli_error("%s: expected delta, gaussian or a kernel file", n);
            return -1;
        }
        o->kernel_init = NULL;
        o->blind.init_gaussian = 0;
        if (strcmp(v, "gaussian") == 0)
            o->blind.init_gaussian = 1;
        else if (strcmp(v, "delta") != 0)
            o->kernel_init = v;
        return 0;
    case K_PSF:
        if (*v == '\0') {
            cli_error("%s: the file name is empty", n);
            return -1;
        }
        if (set_kernel(o, a, KSPEC_PSF))
            return -1;
        k->path = v;
        return 0;
    case K_GAUSSIAN:
        split_comma(v, buf, sizeof buf, &second);
        if (set_kernel(o, a, KSPEC_GAUSSIAN) || parse_real("--gaussian S", buf, 0, 600, 1, &k->a))
            return -1;
        k->size = 0;
        return second ? parse_int("--gaussian SIZE", second, 1, 4001, &k->size) : 0;
    case K_MOTION:
        split_comma(v, buf, sizeof buf, &second);
        if (!second) {
            cli_error("%s: expected LENGTH,ANGLE (e.g. 9,30), got '%s'", n, v);
            return -1;
        }
        return set_kernel(o, a, KSPEC_MOTION) ||
                       parse_real("--motion LENGTH", buf, 1, 4000, 0, &k->a) ||
                       parse_real("--motion ANGLE", second, -INFINITY, INFINITY, 0, &k->b)
                   ? -1
                   : 0;
    case K_DISK:
        return set_kernel(o, a, KSPEC_DISK) || parse_real(n, v, 0, 2000, 1, &k->a) ? -1 : 0;
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* Help                                                                 */
/* ------------------------------------------------------------------ */

static const command_spec *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static const command_spec *command_of(cli_command cmd)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (commands[i].cmd == cmd)
            return &commands[i];
    return NULL;
}

static void defaults(cli_options *o)
{
    memset(o, 0, sizeof *o);
    deconv_deblur_defaults(&o->deblur);
    o->restore_tv = -1;
    deconv_blind_defaults(&o->blind);
    o->max_pixels = DEFAULT_MAX_PIXELS;
    o->seed = 1;
    o->quality = DEFAULT_QUALITY;
}

/* The default of an option, from the destination after defaults(); empty
 * when there is none worth showing. */
static void format_default(const arg_spec *a, const cli_options *o, char *buf, size_t n)
{
    const void *src = (const char *)o + a->off;
    double v = 0;
    buf[0] = '\0';
    switch (a->kind) {
    case K_INT: v = *(const int *)src; break;
    case K_INT64: v = (double)*(const int64_t *)src; break;
    case K_REAL: v = *(const double *)src; break;
    case K_RULE: snprintf(buf, n, "%s", rule_name(*(const deconv_step_rule *)src)); return;
    case K_CHOICE: {
        const char *m = a->metavar;
        for (int index = *(const int *)src; index > 0 && strchr(m, '|'); index--)
            m = strchr(m, '|') + 1;
        snprintf(buf, n, "%.*s", (int)strcspn(m, "|"), m);
        return;
    }
    case K_BITS: snprintf(buf, n, "the input's, at most 16 in PNG, 8 in JPEG"); return;
    case K_LEVELS:
        if (*(const int *)src <= 0) snprintf(buf, n, "auto");
        else snprintf(buf, n, "%d", *(const int *)src);
        return;
    case K_KINIT: snprintf(buf, n, "%s", o->blind.init_gaussian ? "gaussian" : "delta"); return;
    case K_RESPONSE: snprintf(buf, n, "auto"); return;
    default: return;
    }
    if (((a->flags & AUTO_NEG) && v < 0) || ((a->flags & AUTO_NONPOS) && v <= 0))
        snprintf(buf, n, "%s", a->deftext);
    else if (a->kind == K_INT64)
        snprintf(buf, n, "%lld", (long long)*(const int64_t *)src);
    else
        snprintf(buf, n, "%g", v);
}

static void print_option(FILE *f, const arg_spec *a, const cli_options *o)
{
    char left[64], def[64];
    if (a->alias)
        snprintf(left, sizeof left, "%s, %s%s%s", a->alias, a->name, a->metavar ? " " : "",
                 a->metavar ? a->metavar : "");
    else
        snprintf(left, sizeof left, "    %s%s%s", a->name, a->metavar ? " " : "",
                 a->metavar ? a->metavar : "");
    format_default(a, o, def, sizeof def);
    if (strlen(left) > 26)
        fprintf(f, "  %s\n  %-26s", left, "");
    else
        fprintf(f, "  %-26s", left);
    fprintf(f, " %s", a->help);
    if (def[0])
        fprintf(f, " (default %s)", def);
    fputc('\n', f);
}

void cli_print_help(FILE *f, cli_command cmd)
{
    const command_spec *c = command_of(cmd);
    if (!c) {
        fprintf(f, "deconv %s: remove blur from photographs by gradient descent.\n\n",
                DECONV_VERSION);
        fprintf(f, "Usage:\n");
        for (size_t i = 0; i < N_COMMANDS; i++)
            fprintf(f, "  deconv %s\n", commands[i].synopsis);
        fprintf(f, "  deconv --help | --version\n\nCommands:\n");
        for (size_t i = 0; i < N_COMMANDS; i++) {
            const char *s = commands[i].summary, *nl = strchr(s, '\n');
            fprintf(f, "  %-9s %.*s\n", commands[i].name, nl ? (int)(nl - s) : (int)strlen(s), s);
        }
        fprintf(f, "\nKERNEL is one of --psf FILE, --gaussian S[,SIZE], --motion L,A or --disk R.\n"
                   "See 'deconv COMMAND --help' for the options of a command.\n"
                   "Exit status: 0 success, 1 failure, 2 usage error, 3 stopped early with\n"
                   "--keep-partial (the last good iterate written), 130 interrupted.\n");
        return;
    }
    cli_options o;
    defaults(&o);
    fprintf(f, "Usage: deconv %s\n\n%s\n", c->synopsis, c->summary);
    if (cmd & KERNEL_CMDS) {
        fprintf(f, "\nKERNEL (exactly one):\n");
        for (size_t i = 0; i < N_OPTIONS; i++)
            if ((options[i].cmds & cmd) && (options[i].flags & GROUP_KERNEL))
                print_option(f, &options[i], &o);
    }
    fprintf(f, "\nOptions:\n");
    for (size_t i = 0; i < N_OPTIONS; i++)
        if ((options[i].cmds & cmd) && !(options[i].flags & GROUP_KERNEL))
            print_option(f, &options[i], &o);
    if (cmd & ALL_IO)
        fprintf(f, "\nOUTPUT's format is its extension's: .png (8 or 16 bits), .jpg/.jpeg (8 bits,\n"
                   "--quality; no alpha), .tif/.tiff (8, 16 or 32-bit float). INPUT's ICC profile,\n"
                   "EXIF block (its orientation unchanged) and PNG text chunks are written into\n"
                   "it (text to PNG only); the pixels stay in their stored orientation.\n");
    if (cmd == CMD_BLIND)
        fprintf(f, "\nThe image is then restored with the 'deblur' defaults, --threads and\n"
                   "--restore-tv (automatic: at least " RESTORE_TV_MIN_TEXT
                   ", as the estimated kernel is not exact).\n"
                   "A kernel found nearly a point (90 %% of it in 3x3 pixels) leaves the\n"
                   "photo nearly as it was; a note after the summary says so.\n");
    fprintf(f, "\nExample:\n  %s\n", c->example);
}

/* ------------------------------------------------------------------ */
/* The parser                                                           */
/* ------------------------------------------------------------------ */

static int is_option(const char *s)
{
    return (s[0] == '-' && s[1] == '-' && s[2] != '\0') || strcmp(s, "-o") == 0 ||
           strcmp(s, "-h") == 0;
}

static int has_ext(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && strcasecmp(path + n - e, ext) == 0;
}

/* Index of the option called name (len chars) for cmd; -1 if none; -2 if
 * only other commands take it. */
static int find_option(const char *name, size_t len, cli_command cmd)
{
    int other = 0;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const arg_spec *a = &options[i];
        int match = (strlen(a->name) == len && strncmp(a->name, name, len) == 0) ||
                    (a->alias && strlen(a->alias) == len && strncmp(a->alias, name, len) == 0);
        if (!match)
            continue;
        if (a->cmds & cmd)
            return (int)i;
        other = 1;
    }
    return other ? -2 : -1;
}

/* The output's format by its extension, and the flags it cannot take:
 * refused before any work. */
int cli_check_output_format(const cli_options *o)
{
    deconv_format f = deconv_format_of_path(o->output);
    if (f == DECONV_FORMAT_UNKNOWN) {
        const char *slash = strrchr(o->output, '/');
        const char *base = slash ? slash + 1 : o->output;
        const char *dot = strrchr(base, '.');
        if (dot && dot != base && dot[1])
            cli_error("-o: '%s': unknown extension '%s' (the output formats are "
                      DECONV_OUTPUT_EXTENSIONS ")", o->output, dot);
        else
            cli_error("-o: '%s': no extension to choose the format by (the output formats are "
                      DECONV_OUTPUT_EXTENSIONS ")", o->output);
        return -1;
    }
    if (o->bits == 16 && f == DECONV_FORMAT_JPEG) {
        cli_error("--bits 16: JPEG output is 8 bits ('%s'); write a .png or .tif for 16",
                  o->output);
        return -1;
    }
    if (o->bits == 32 && f != DECONV_FORMAT_TIFF) {
        cli_error("--bits 32: float samples need a TIFF output (.tif, .tiff), not '%s'",
                  o->output);
        return -1;
    }
    int q = find_option("--quality", strlen("--quality"), o->command);
    if (q >= 0 && o->given[q] && f != DECONV_FORMAT_JPEG && !o->batch) {
        cli_error("--quality: applies to JPEG output only, not '%s'", o->output);
        return -1;
    }
    return 0;
}

static int check_complete(const command_spec *c, cli_options *o)
{
    const char *cn = c->name;
    if (o->npos < c->min_pos) {
        if (c->cmd == CMD_COMPARE)
            cli_error("compare: give two images A and B (see deconv compare --help)");
        else
            cli_error("%s: missing INPUT (see deconv %s --help)", cn, cn);
        return -1;
    }
    if (c->cmd != CMD_COMPARE && !o->output) {
        cli_error("%s: missing -o %s (see deconv %s --help)", cn,
                  c->cmd == CMD_PSF ? "FILE" : "OUTPUT", cn);
        return -1;
    }
    if ((c->cmd & KERNEL_CMDS) && o->kernel.kind == KSPEC_NONE) {
        cli_error("%s: give exactly one kernel (--psf, --gaussian, --motion or --disk)", cn);
        return -1;
    }
    /* a batch: several inputs, or -o a folder (DIR/ or one that exists) */
    if (c->cmd & (CMD_DEBLUR | CMD_BLIND)) {
        size_t n = strlen(o->output);
        struct stat st;
        /* one input and -o an existing folder without the slash stays an
         * error (the output's name was probably mistyped) */
        int folder = (n > 0 && o->output[n - 1] == '/') ||
                     (o->npos > 1 && stat(o->output, &st) == 0 && S_ISDIR(st.st_mode));
        if (o->npos > 1 && !folder) {
            cli_error("-o: '%s': %d inputs need a folder to write into (-o DIR/)", o->output,
                      o->npos);
            return -1;
        }
        o->batch = folder;
    }
    if (o->batch) {
        if (o->log) {
            cli_error("--log: one run at a time (not with several inputs or -o DIR/)");
            return -1;
        }
        size_t n = o->kernel_out ? strlen(o->kernel_out) : 0;
        struct stat st;
        if (o->kernel_out && !(n > 0 && o->kernel_out[n - 1] == '/') &&
            !(stat(o->kernel_out, &st) == 0 && S_ISDIR(st.st_mode))) {
            cli_error("--kernel-out: '%s': a batch writes a kernel per input: give a folder "
                      "(DIR/)", o->kernel_out);
            return -1;
        }
        return 0; /* each output is checked as the batch makes it */
    }
    if (o->suffix) {
        cli_error("--suffix: for a batch (several inputs, or -o DIR/); '%s' is one file",
                  o->output);
        return -1;
    }
    if ((c->cmd & ALL_IO) && cli_check_output_format(o) != 0)
        return -1;
    const char *kfile = c->cmd == CMD_PSF ? o->output : o->kernel_out;
    const char *kflag = c->cmd == CMD_PSF ? "-o" : "--kernel-out";
    if (kfile && !has_ext(kfile, ".png") && !has_ext(kfile, ".csv") && !has_ext(kfile, ".txt") &&
        !has_ext(kfile, ".tsv") && !has_ext(kfile, ".dat")) {
        cli_error("%s: '%s': a kernel file name must end in .csv or .png", kflag, kfile);
        return -1;
    }
    return 0;
}

int cli_parse(int argc, char **argv, cli_options *o)
{
    defaults(o);
    if (argc < 2) {
        cli_error("no command given (see deconv --help)");
        return CLI_USAGE;
    }
    const char *first = argv[1];
    if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0 || strcmp(first, "help") == 0) {
        const command_spec *c = argc > 2 ? find_command(argv[2]) : NULL;
        if (argc > 2 && !c) {
            cli_error("unknown command '%s' (see deconv --help)", argv[2]);
            return CLI_USAGE;
        }
        cli_print_help(stdout, c ? c->cmd : 0);
        return CLI_HELP_SHOWN;
    }
    if (strcmp(first, "--version") == 0 || strcmp(first, "-V") == 0) {
        printf("deconv %s\n", DECONV_VERSION);
        return CLI_HELP_SHOWN;
    }
    const command_spec *c = find_command(first);
    if (!c) {
        if (first[0] == '-')
            cli_error("unknown option '%s' (see deconv --help)", first);
        else
            cli_error("unknown command '%s' (see deconv --help)", first);
        return CLI_USAGE;
    }
    o->command = c->cmd;
    o->command_name = c->name;

    /* --help anywhere before "--" wins over every other problem */
    for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_print_help(stdout, c->cmd);
            return CLI_HELP_SHOWN;
        }

    int only_positional = 0;
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_positional && strcmp(arg, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (only_positional || arg[0] != '-' || arg[1] == '\0') {
            if (o->npos >= c->max_pos) {
                cli_error("%s: unexpected argument '%s' (see deconv %s --help)", c->name, arg,
                          c->name);
                return CLI_USAGE;
            }
            o->pos[o->npos++] = arg;
            continue;
        }
        const char *eq = arg[1] == '-' ? strchr(arg, '=') : NULL;
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        int idx = find_option(arg, len, c->cmd);
        if (idx < 0) {
            if (idx == -2)
                cli_error("%s does not take '%.*s' (see deconv %s --help)", c->name, (int)len,
                          arg, c->name);
            else
                cli_error("unknown option '%.*s' (see deconv %s --help)", (int)len, arg,
                          c->name);
            return CLI_USAGE;
        }
        const arg_spec *a = &options[idx];
        if (o->given[idx]) {
            cli_error("%.*s given twice", (int)len, arg);
            return CLI_USAGE;
        }
        o->given[idx] = 1;
        const char *value = NULL;
        int flag = a->kind == K_SET || a->kind == K_CLEAR || a->kind == K_HELP;
        if (flag && eq) {
            cli_error("%s: takes no value, got '%s'", a->name, eq + 1);
            return CLI_USAGE;
        }
        if (!flag) {
            if (eq)
                value = eq + 1;
            else if (i + 1 < argc && !is_option(argv[i + 1]))
                value = argv[++i];
            else {
                cli_error("%.*s: missing value", (int)len, arg);
                return CLI_USAGE;
            }
        }
        if (parse_value(a, value, o))
            return CLI_USAGE;
    }
    return check_complete(c, o) ? CLI_USAGE : CLI_OK;
}
