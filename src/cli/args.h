/* Command-line options of the deconv program: one table of every flag, its
 * destination, range and help text, used both by the parser and by the help
 * output, so that the two cannot drift apart. */
#ifndef DECONV_CLI_ARGS_H
#define DECONV_CLI_ARGS_H

#include <stdint.h>
#include <stdio.h>

#include "deconv.h"

/* Exit codes of the program. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_PARTIAL = 3 /* stopped early, the last good iterate written */ };

typedef enum {
    CMD_DEBLUR = 1 << 0,
    CMD_BLIND = 1 << 1,
    CMD_BLUR = 1 << 2,
    CMD_PSF = 1 << 3,
    CMD_COMPARE = 1 << 4
} cli_command;

/* The kernel chosen with --psf, --gaussian, --motion or --disk. */
typedef enum { KSPEC_NONE, KSPEC_PSF, KSPEC_GAUSSIAN, KSPEC_MOTION, KSPEC_DISK } kspec_kind;

typedef struct {
    kspec_kind kind;
    const char *flag; /* the option that chose it, for messages */
    const char *path; /* KSPEC_PSF */
    double a, b;      /* gaussian sigma; motion length, angle; disk radius */
    int size;         /* gaussian size, 0: automatic */
} cli_kernel_spec;

/* deblur and blind take a batch of inputs (-o DIR/); the others one or two */
#define CLI_MAX_POSITIONAL 1024
#define CLI_MAX_OPTIONS 64

typedef struct {
    cli_command command;
    const char *command_name;
    const char *pos[CLI_MAX_POSITIONAL];
    int npos;

    const char *output;      /* -o (a folder for a batch) */
    const char *suffix;      /* --suffix: added to a batch's output names */
    int batch;               /* deblur, blind: several inputs, or -o a folder */
    const char *kernel_out;  /* --kernel-out */
    const char *kernel_init; /* --kernel-init FILE (NULL: delta or gaussian) */
    const char *log;         /* --log */
    cli_kernel_spec kernel;
    int bits;                /* 8, 16 or 32 (float TIFF); 0: the input's depth,
                                as far as the output's format holds it */
    int quality;             /* --quality: JPEG output's quality */
    int full, quiet, force;
    int64_t max_pixels;
    double noise;
    int64_t seed;
    double restore_tv;       /* blind --restore-tv; < 0: automatic */
    const char *response;    /* --response; NULL: auto (the file's) */

    deconv_deblur_params deblur; /* from deconv_deblur_defaults, then flags */
    deconv_blind_params blind;   /* from deconv_blind_defaults, then flags */

    unsigned char given[CLI_MAX_OPTIONS]; /* by index in the option table */
} cli_options;

/* Result of cli_parse beyond the exit codes: help was printed. */
#define CLI_HELP_SHOWN (-1)

/* Parse argv (argv[0] the program, argv[1] the subcommand). Returns CLI_OK,
 * CLI_HELP_SHOWN after printing help or the version on stdout, or CLI_USAGE
 * after printing "deconv: ..." on stderr. */
int cli_parse(int argc, char **argv, cli_options *o);

/* Print the help of one command (0: the overview) to f. */
void cli_print_help(FILE *f, cli_command cmd);

/* "gray", "gray+alpha", "RGB" or "RGBA". */
const char *cli_channels_name(int channels);

/* Print "deconv: " and a formatted message on stderr, with a newline. */
/* cli_error prints nothing from now on (processes of an MPI run but rank 0). */
void cli_silence_errors(void);
void cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* The checks of the output file a single run makes before any work (its
 * format holds the depth asked, --quality only for JPEG): for each output
 * of a batch. Prints the problem; returns 0 when fine. */
int cli_check_output_format(const cli_options *o);

/* The checks of the output file a single run makes before any work (its
 * format holds the depth asked, --quality only for JPEG): for each output
 * of a batch. Prints the problem; returns 0 when fine. */
int cli_check_output_format(const cli_options *o);

#endif
