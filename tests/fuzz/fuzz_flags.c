/* libFuzzer target: the command line parser of the deconv program
 * (cli_parse in src/cli/args.c). The input is split into arguments at NUL
 * and newline bytes (a trailing separator ends the last argument; two in a
 * row give an empty argument) after a program name; at most 64 arguments.
 * What the parser accepts must be in range; a broken promise aborts
 * (reported as a crash).
 *
 * The parser prints its messages on stderr and help on stdout: both streams
 * of stdio are pointed at /dev/null once (the FILE pointers only, so that
 * libFuzzer and the sanitizers, which write to file descriptor 2, still
 * report).
 *
 * Also compiled into tests/test_fuzz_regressions.c, which replays the corpus
 * and the regressions of this target without libFuzzer. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

#define FF_MAX_ARGS 64

static void ff_broken(const char *what)
{
    fprintf(stderr, "fuzz_flags: %s\n", what);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    FILE *null = fopen("/dev/null", "w");
    if (!null)
        ff_broken("cannot open /dev/null");
    stdout = null; /* glibc: stdout and stderr are assignable pointers */
    stderr = null;
    return 0;
}

static int ff_finite(double v) { return isfinite(v); }

static void ff_check(const cli_options *o)
{
    if (o->command != CMD_DEBLUR && o->command != CMD_BLIND && o->command != CMD_BLUR &&
        o->command != CMD_PSF && o->command != CMD_COMPARE)
        ff_broken("accepted without a known command");
    if (o->npos < 0 || o->npos > CLI_MAX_POSITIONAL)
        ff_broken("positional count out of range");
    if (o->command != CMD_COMPARE && (!o->output || !*o->output))
        ff_broken("accepted without an output");
    if (o->bits != 0 && o->bits != 8 && o->bits != 16 && o->bits != 32)
        ff_broken("bits not 0, 8, 16 or 32");
    if (o->quality < 1 || o->quality > 100)
        ff_broken("--quality out of [1, 100]");
    if (o->batch && (!(o->command & (CMD_DEBLUR | CMD_BLIND)) || o->log))
        ff_broken("a batch of another command, or with --log");
    if (!o->batch && o->suffix)
        ff_broken("accepted --suffix for a single output");
    if ((o->command & (CMD_DEBLUR | CMD_BLIND | CMD_BLUR)) && !o->batch) {
        /* the output's format is known, and takes the depth asked (a
         * batch checks each of its outputs as it makes them) */
        deconv_format f = deconv_format_of_path(o->output);
        if (f == DECONV_FORMAT_UNKNOWN)
            ff_broken("accepted an output of unknown format");
        if ((f == DECONV_FORMAT_JPEG && o->bits > 8) || (f != DECONV_FORMAT_TIFF && o->bits == 32))
            ff_broken("accepted --bits the output's format cannot hold");
    }
    if (o->max_pixels < 0 || o->seed < 0)
        ff_broken("negative --max-pixels or --seed");
    if (!(o->noise >= 0.0 && o->noise <= 1.0))
        ff_broken("--noise out of [0, 1]");
    const deconv_deblur_params *d = &o->deblur;
    if (d->iterations < 1 || !ff_finite(d->tol) || d->tol < 0 || !ff_finite(d->step) ||
        !ff_finite(d->tv) || !ff_finite(d->tv_eps) || !ff_finite(d->tikhonov) ||
        d->tikhonov < 0 || d->threads < 0)
        ff_broken("deblur parameters out of range");
    const deconv_blind_params *b = &o->blind;
    if (b->iterations < 1 || b->kernel_iterations < 1 || !ff_finite(b->step) ||
        !ff_finite(b->kernel_step) || !ff_finite(b->tv) || b->levels < 0 || b->levels > 30 ||
        b->threads < 0)
        ff_broken("blind parameters out of range");
    /* a kernel size is both sides, or none (0 x 0: the library chooses) */
    if (o->command == CMD_BLIND && (b->kernel_width < 0 || b->kernel_height < 0 ||
                                    (b->kernel_width == 0) != (b->kernel_height == 0)))
        ff_broken("blind accepted half a kernel size");
    if (o->command & (CMD_DEBLUR | CMD_BLUR | CMD_PSF)) {
        const cli_kernel_spec *k = &o->kernel;
        if (k->kind == KSPEC_NONE)
            ff_broken("accepted without a kernel");
        if (k->kind == KSPEC_PSF && (!k->path || !*k->path))
            ff_broken("--psf without a file name");
        if (!ff_finite(k->a) || !ff_finite(k->b) || k->size < 0)
            ff_broken("kernel parameters out of range");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    if (size)
        memcpy(buf, data, size);
    buf[size] = '\0';
    char *argv[FF_MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "deconv";
    size_t start = 0;
    for (size_t i = 0; i <= size && argc <= FF_MAX_ARGS; i++) {
        if (i < size && buf[i] != '\0' && buf[i] != '\n')
            continue;
        if (i == size && start == size) /* nothing after the last separator */
            break;
        buf[i] = '\0';
        argv[argc++] = buf + start;
        start = i + 1;
    }
    argv[argc] = NULL;

    cli_options o;
    int rc = cli_parse(argc, argv, &o);
    if (rc == CLI_OK)
        ff_check(&o);
    else if (rc != CLI_USAGE && rc != CLI_HELP_SHOWN)
        ff_broken("cli_parse returned an unknown code");
    free(buf);
    return 0;
}
