/* The man page deconv.1, printed in roff from the tables that --help
 * prints: every command with its synopsis, summary and example, every flag
 * with its value, help and default. args.c is included whole to reach its
 * tables (static, the parser's own); the build runs this program to write
 * deconv.1 (cmake/package.cmake).
 *   usage: deconv_man deconv.1 [DATE]     (DATE as in .TH: 2026-12-01) */
#include "args.c"

#include <signal.h>

/* Text for roff: backslashes escaped, every dash of a word that starts with
 * one (a flag: --kernel-size) a minus sign and the word never hyphenated,
 * so that it can be copied; a line that would start with a control
 * character protected. */
static void roff_text_wrapped(FILE *f, const char *s, int wrap)
{
    int line_start = 1, flag_word = 0, column = 0;
    for (const char *p = s; *p; p++, column++) {
        if (wrap && *p == ' ' && column >= 72) {
            fputc('\n', f); /* source lines of at most about 80 bytes */
            line_start = 1, column = -1;
            continue;
        }
        if (line_start && (*p == '.' || *p == '\''))
            fputs("\\&", f);
        line_start = 0;
        if (p == s || p[-1] == ' ' || p[-1] == '\n' || p[-1] == '(' || p[-1] == '[' ||
            p[-1] == '|') {
            flag_word = *p == '-';
            if (flag_word)
                fputs("\\%", f); /* never hyphenated at a line's end */
        }
        if (*p == '\\')
            fputs("\\e", f);
        else if (*p == '-' && flag_word)
            fputs("\\-", f);
        else
            fputc(*p, f);
        if (*p == '\n')
            line_start = 1, column = -1;
    }
}

static void roff_text(FILE *f, const char *s) { roff_text_wrapped(f, s, 0); }
static void roff_prose(FILE *f, const char *s) { roff_text_wrapped(f, s, 1); }

/* "--name METAVAR" or "-o, --output METAVAR", the names bold. */
static void roff_option_head(FILE *f, const arg_spec *a)
{
    if (a->alias) {
        fputs("\\fB", f);
        roff_text(f, a->alias);
        fputs("\\fR, ", f);
    }
    fputs("\\fB", f);
    roff_text(f, a->name);
    fputs("\\fR", f);
    if (a->metavar) {
        fputs(" \\fI", f);
        roff_text(f, a->metavar);
        fputs("\\fR", f);
    }
}

static void roff_option(FILE *f, const arg_spec *a, const cli_options *o)
{
    char def[64], text[1024];
    fputs(".TP\n", f);
    roff_option_head(f, a);
    fputc('\n', f);
    format_default(a, o, def, sizeof def);
    /* --help's "show this help" is the help's own wording */
    snprintf(text, sizeof text, "%s%s%s%s.",
             a->kind == K_HELP ? "print the command's options with their defaults" : a->help,
             def[0] ? " (default " : "", def, def[0] ? ")" : "");
    roff_prose(f, text);
    fputc('\n', f);
}

/* "deconv NAME ARGS", the command bold. */
static void roff_synopsis(FILE *f, const command_spec *c)
{
    const char *rest = c->synopsis + strlen(c->name);
    fprintf(f, "\\fBdeconv %s\\fR", c->name);
    roff_text(f, rest);
    fputc('\n', f);
}

/* KERNEL is one of ...: the kernel flags of the table. */
static void roff_kernel_choices(FILE *f)
{
    size_t last = 0;
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (options[i].flags & GROUP_KERNEL)
            last = i;
    fputs("\\fIKERNEL\\fR is one of ", f);
    for (size_t i = 0, k = 0; i < N_OPTIONS; i++) {
        if (!(options[i].flags & GROUP_KERNEL))
            continue;
        if (k++)
            fputs(i == last ? " or " : ", ", f);
        roff_option_head(f, &options[i]);
    }
    fputs(" (exactly one).\n", f);
}

static void write_page(FILE *f, const char *date)
{
    cli_options o;
    defaults(&o);
    fprintf(f, ".\\\" deconv.1: made by deconv_man (src/cli/man.c) from deconv's flag table.\n");
    fprintf(f, ".TH DECONV 1 \"%s\" \"deconv %s\" \"User Commands\"\n", date, DECONV_VERSION);
    fputs(".SH NAME\ndeconv \\- remove blur from photographs by gradient descent\n", f);

    fputs(".SH SYNOPSIS\n.nf\n", f);
    for (size_t i = 0; i < N_COMMANDS; i++)
        roff_synopsis(f, &commands[i]);
    fputs("\\fBdeconv\\fR \\fB\\-\\-help\\fR | \\fB\\-\\-version\\fR | "
          "\\fICOMMAND\\fR \\fB\\-\\-help\\fR\n.fi\n", f);

    fputs(".SH DESCRIPTION\n"
          "\\fBdeconv\\fR removes blur from photographs.\n"
          "Given the blurry photo \\fIy\\fR\n"
          "and the blur kernel \\fIh\\fR (the point spread function),\n"
          "it finds the sharp image \\fIx\\fR\n"
          "by gradient descent on 1/2 ||\\fIh\\fR * \\fIx\\fR \\- \\fIy\\fR||^2\n"
          "plus a total-variation term, where * is the valid 2-D convolution;\n"
          "\\fBdeconv blind\\fR estimates an unknown kernel too.\n"
          "The sharp image is estimated\n"
          "a little larger than the photo, so that the frame does not ring.\n"
          ".PP\n", f);
    roff_kernel_choices(f);
    fputs(".PP\n"
          "\\fBdeconv \\-\\-help\\fR lists the commands,\n"
          "\\fBdeconv\\fR \\fICOMMAND\\fR \\fB\\-\\-help\\fR\n"
          "the options of one with their defaults,\n"
          "\\fBdeconv \\-\\-version\\fR (\\fB\\-V\\fR) prints the version.\n"
          "An option's value follows it or an equals sign (\\fB\\-\\-tv=0.01\\fR);\n"
          "\\fB\\-\\-\\fR ends the options.\n", f);

    fputs(".SH COMMANDS\n", f);
    for (size_t c = 0; c < N_COMMANDS; c++) {
        const command_spec *cs = &commands[c];
        fprintf(f, ".SS %s\n", cs->name);
        roff_synopsis(f, cs);
        fputs(".PP\n", f);
        roff_prose(f, cs->summary);
        fputc('\n', f);
        if (cs->cmd & KERNEL_CMDS) {
            fputs(".PP\n\\fIKERNEL\\fR (exactly one):\n", f);
            for (size_t i = 0; i < N_OPTIONS; i++)
                if ((options[i].cmds & cs->cmd) && (options[i].flags & GROUP_KERNEL))
                    roff_option(f, &options[i], &o);
        }
        fputs(".PP\nOptions:\n", f);
        for (size_t i = 0; i < N_OPTIONS; i++)
            if ((options[i].cmds & cs->cmd) && !(options[i].flags & GROUP_KERNEL))
                roff_option(f, &options[i], &o);
    }

    fputs(".SH EXIT STATUS\n", f);
    fprintf(f, ".TP\n.B %d\nSuccess.\n", CLI_OK);
    fprintf(f, ".TP\n.B %d\nFailure: an unreadable file, a bad kernel, a diverging step\n"
               "(the message gives the largest safe step), an output that cannot be written.\n",
            CLI_FAIL);
    fprintf(f, ".TP\n.B %d\nUsage error: an unknown or repeated option,\n"
               "a value out of range, a missing argument.\n", CLI_USAGE);
    fprintf(f, ".TP\n.B %d\nThe run stopped early (NaN, a diverging \\fB\\-\\-step\\fR, Ctrl-C)\n"
               "and \\fB\\-\\-keep\\-partial\\fR wrote the last good iterate.\n",
            CLI_PARTIAL);
    fprintf(f, ".TP\n.B %d\nInterrupted by Ctrl-C\n"
               "(128 plus the signal's number: %d for SIGTERM); nothing is written.\n",
            128 + SIGINT, 128 + SIGTERM);
    fputs(".PP\nErrors go to standard error as \\(lqdeconv: \\fIwhat went wrong\\fR\\(rq.\n"
          "Outputs are written to a temporary file beside the target\n"
          "and renamed into place when complete: a failure never leaves a partial file.\n", f);

    fputs(".SH ENVIRONMENT\n"
          ".TP\n.B OMP_NUM_THREADS\nThe threads to use when \\fB\\-\\-threads\\fR is not given.\n"
          "Results are the same bytes whatever the count.\n"
          "When neither it nor \\fB\\-\\-threads\\fR is given, deconv runs on the cores\n"
          "other processes leave idle, measured over 0.1 s at the start\n"
          "(under mpirun, at most its share of the machine's processors).\n"
          ".TP\n.B OMP_DYNAMIC\nWhen set, OpenMP's own adjustment of the threads applies instead.\n", f);

    fputs(".SH EXAMPLES\n", f);
    for (size_t c = 0; c < N_COMMANDS; c++) {
        const char *s = commands[c].summary, *nl = strchr(s, '\n');
        char first[256];
        snprintf(first, sizeof first, "%.*s", nl ? (int)(nl - s) : (int)strlen(s), s);
        if (c > 0)
            fputs(".PP\n", f); /* not right after .SH */
        roff_prose(f, first);
        fputs("\n.PP\n.RS\n.nf\n", f);
        roff_text(f, commands[c].example);
        fputs("\n.fi\n.RE\n", f);
    }

    fputs(".SH SEE ALSO\n"
          "README.md, docs/MODEL.md (the model and its conventions) and docs/design.md\n"
          "in deconv's sources; the library's API: deconv.h.\n", f);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fputs("usage: deconv_man deconv.1 [DATE]\n", stderr);
        return CLI_USAGE;
    }
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        perror(argv[1]);
        return CLI_FAIL;
    }
    write_page(f, argc > 2 ? argv[2] : "");
    /* no half-written page is left for the build to take as made */
    if (ferror(f) | (fclose(f) != 0)) {
        perror(argv[1]);
        remove(argv[1]);
        return CLI_FAIL;
    }
    return CLI_OK;
}
