/* The deconv program: one function per subcommand, a progress line and an
 * iteration log, and a Ctrl-C handler that asks the library to stop. A
 * client of include/deconv.h like any other. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <omp.h>

#include "args.h"
#include "cores.h"
#include "deconv.h"
#include "mpi_run.h"

/* The only global state: raised by SIGINT/SIGTERM (to the signal number),
 * read by the library through params.cancel. */
static volatile sig_atomic_t g_cancel;
_Static_assert(sizeof(sig_atomic_t) == sizeof(int), "the library's cancel flag is an int");

static void on_signal(int sig) { g_cancel = sig; }

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C ends the program at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* Progress line and iteration log                                      */
/* ------------------------------------------------------------------ */

typedef struct {
    int tty;           /* draw the progress line on stderr */
    int drawn;         /* a progress line is on screen */
    int blind;         /* show the pyramid level, not the channel */
    int limit;         /* iterations per channel (deblur) or per level (blind) */
    const char *phase; /* the log's phase column; NULL: the library's */
    FILE *log;
    int log_failed;
    const char *response; /* the response's name, for the log */
    double t0, t_phase, last_draw;
} progress_ctx;

static int on_progress(const deconv_progress *p, void *user)
{
    progress_ctx *c = user;
    double t = now_seconds();
    const char *phase = c->phase ? c->phase : (p->phase ? p->phase : "image");
    if (c->log && !c->log_failed) {
        if (fprintf(c->log, "%s,%d,%d,%d,%.9g,%.9g,%.6g,%.3f,\"%s\"\n", phase, p->level,
                    p->channel, p->iteration, p->objective, p->data_term, p->step, t - c->t0,
                    c->response ? c->response : "") < 0 ||
            fflush(c->log) != 0)
            c->log_failed = 1;
    }
    if (!c->tty || (c->drawn && t - c->last_draw < 0.1))
        return 0;
    c->last_draw = t;
    c->drawn = 1;
    if (c->blind) {
        fprintf(stderr, "\r[level %d/%d %s] iteration %d/%d  objective %.3e", p->level + 1,
                p->levels, phase, p->iteration, c->limit, p->objective);
        if (p->step > 0)
            fprintf(stderr, "  step %.3g", p->step);
        fprintf(stderr, "  %.0f s", t - c->t_phase);
    } else {
        int channels = p->channels > 0 ? p->channels : 1;
        double done = (p->channel + (double)p->iteration / c->limit) / channels;
        fprintf(stderr, "\r[channel %d/%d] iteration %d/%d  objective %.3e  step %.3g",
                p->channel + 1, channels, p->iteration, c->limit, p->objective, p->step);
        if (t - c->t_phase > 0.5 && done > 0 && done < 1)
            fprintf(stderr, "  ~%.0f s left", (t - c->t_phase) * (1 - done) / done);
    }
    fputs("\033[K", stderr); /* clear what a longer line left */
    fflush(stderr);
    return 0;
}

static void progress_end(progress_ctx *c)
{
    if (c->drawn)
        fputc('\n', stderr);
    c->drawn = 0;
}

static FILE *open_log(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_error("--log: cannot write '%s': %s", path, strerror(errno));
        return NULL;
    }
    fputs("phase,level,channel,iteration,objective,data_term,step,seconds,response\n", f);
    fflush(f);
    return f;
}

/* Close the log; a failed write is reported and turns success into 1. */
static int close_log(progress_ctx *c, const char *path, int code)
{
    if (!c->log)
        return code;
    int bad = c->log_failed | ferror(c->log);
    bad |= fclose(c->log) != 0;
    c->log = NULL;
    if (bad) {
        cli_error("--log: writing '%s' failed", path);
        return code == CLI_OK ? CLI_FAIL : code;
    }
    return code;
}

/* ------------------------------------------------------------------ */
/* Checks shared by the subcommands                                     */
/* ------------------------------------------------------------------ */

/* Report a library failure (kept: a file already written, or NULL); the
 * exit code it deserves. */
static int lib_failure_kept(const deconv_error *err, const char *kept)
{
    if (err->code == DECONV_ERR_INTERRUPTED || g_cancel) {
        if (kept)
            cli_error("interrupted; only '%s' was written", kept);
        else
            cli_error("interrupted; nothing written");
        return 128 + (g_cancel ? (int)g_cancel : SIGINT);
    }
    cli_error("%s", err->message[0] ? err->message : deconv_status_name(err->code));
    if (kept)
        cli_error("only '%s' was written", kept);
    return CLI_FAIL;
}

static int lib_failure(const deconv_error *err) { return lib_failure_kept(err, NULL); }

static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (strcmp(a, b) == 0)
        return 1;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

typedef struct {
    const char *label; /* "output", "--kernel-out", "input", ... */
    const char *path;  /* NULL: not given */
} named_path;

/* Outputs must not be inputs (unless --force; never the log) nor each
 * other; their folders must exist and be writable. */
static int check_outputs(const named_path *in, int nin, const named_path *out, int nout,
                         int force)
{
    for (int i = 0; i < nout; i++) {
        if (!out[i].path)
            continue;
        int is_log = strcmp(out[i].label, "--log") == 0;
        for (int j = 0; j < nin; j++) {
            if (!in[j].path || !same_file(out[i].path, in[j].path))
                continue;
            if (is_log)
                cli_error("--log '%s' is the %s; choose another file", out[i].path, in[j].label);
            else if (!force)
                cli_error("%s '%s' is the %s; use --force to overwrite it", out[i].label,
                          out[i].path, in[j].label);
            else
                continue;
            return CLI_USAGE;
        }
        for (int j = 0; j < i; j++)
            if (out[j].path && same_file(out[i].path, out[j].path)) {
                cli_error("%s '%s' is also the %s; give different files", out[i].label,
                          out[i].path, out[j].label);
                return CLI_USAGE;
            }
        struct stat st;
        if (stat(out[i].path, &st) == 0 && S_ISDIR(st.st_mode)) {
            cli_error("%s '%s' is a directory", out[i].label, out[i].path);
            return CLI_FAIL;
        }
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", out[i].path);
        char *slash = strrchr(dir, '/');
        if (!slash)
            strcpy(dir, ".");
        else if (slash == dir)
            dir[1] = '\0';
        else
            *slash = '\0';
        if (access(dir, W_OK | X_OK) != 0) {
            cli_error("cannot write %s '%s': folder '%s': %s", out[i].label, out[i].path, dir,
                      strerror(errno));
            return CLI_FAIL;
        }
    }
    return CLI_OK;
}

static deconv_kernel *make_kernel(const cli_kernel_spec *s, deconv_error *err)
{
    switch (s->kind) {
    case KSPEC_PSF: return deconv_kernel_load(s->path, 1, err);
    case KSPEC_GAUSSIAN: return deconv_kernel_gaussian(s->a, s->size, err);
    case KSPEC_MOTION: return deconv_kernel_motion(s->a, s->b, err);
    case KSPEC_DISK: return deconv_kernel_disk(s->a, err);
    case KSPEC_NONE: break;
    }
    snprintf(err->message, sizeof err->message, "no kernel given");
    err->code = DECONV_ERR_ARG;
    return NULL;
}

static int kernel_fits(int kw, int kh, int width, int height)
{
    if (kw <= width && kh <= height)
        return 1;
    cli_error("kernel %dx%d is larger than the image %dx%d", kw, kh, width, height);
    return 0;
}

/* Read an input; its metadata (ICC profile, EXIF, PNG text) into *meta
 * when meta is not NULL, for the output. */
static deconv_image *read_image(const char *path, const cli_options *o, deconv_file_info *info,
                                deconv_metadata **meta, deconv_error *err)
{
    deconv_file_info dummy;
    if (!info)
        info = &dummy;
    info->bits = 8; /* in case a reader leaves it */
    info->has_alpha = 0;
    memset(err, 0, sizeof *err);
    if (meta)
        return deconv_image_read_with_metadata(path, o->max_pixels, info, meta, err);
    return deconv_image_read(path, o->max_pixels, info, err);
}

/* The response the run uses: --response, or the file's (auto), whose
 * warning is shown unless --quiet. */
static void choose_response(const cli_options *o, const deconv_file_info *info,
                            deconv_response *r)
{
    deconv_error err;
    if (o->response && deconv_response_parse(o->response, r, &err) == DECONV_OK)
        return; /* checked by the parser */
    *r = info->response;
    if (info->warning[0] && !o->quiet)
        cli_error("warning: %s", info->warning);
}

/* How OUTPUT is written: --bits, or the input's depth as far as the
 * output's format holds it (16 in PNG, 8 in JPEG); --quality; a JPEG
 * input's chroma subsampling when it had a plain one, 4:4:4 otherwise (a
 * JPEG's chroma was subsampled already: full-resolution chroma would be
 * larger without holding more); the input's metadata. Warns that JPEG
 * drops alpha. */
static void output_options(const cli_options *o, const deconv_file_info *info, int channels,
                           const deconv_metadata *meta, deconv_write_options *w)
{
    deconv_write_defaults(w);
    w->metadata = meta;
    deconv_format f = deconv_format_of_path(o->output);
    w->bits = o->bits ? o->bits : info->bits;
    if (!o->bits && f == DECONV_FORMAT_JPEG)
        w->bits = 8;
    if (!o->bits && f == DECONV_FORMAT_PNG && w->bits > 16)
        w->bits = 16;
    w->quality = o->quality;
    if (info->chroma_x >= 1 && info->chroma_x <= 2 && info->chroma_y >= 1 &&
        info->chroma_y <= 2) {
        w->chroma_x = info->chroma_x;
        w->chroma_y = info->chroma_y;
    }
    if (f == DECONV_FORMAT_JPEG && (channels == 2 || channels == 4) && !o->quiet)
        cli_error("warning: JPEG has no alpha channel; '%s' is written without it", o->output);
}

/* Crop (unless full), then write OUTPUT; exit code. */
static int write_result(deconv_image *x, int kw, int kh, int full, const deconv_write_options *w,
                        const char *path, const char *kept)
{
    deconv_error err;
    memset(&err, 0, sizeof err);
    deconv_image *out = full ? x : deconv_crop_to_input(x, kw, kh);
    if (!out) {
        cli_error("out of memory cropping the result");
        return CLI_FAIL;
    }
    if (g_cancel) {
        if (out != x)
            deconv_image_free(out);
        return lib_failure_kept(&err, kept);
    }
    deconv_status s = deconv_image_write(out, path, w, &err);
    if (out != x)
        deconv_image_free(out);
    return s == DECONV_OK ? CLI_OK : lib_failure_kept(&err, kept);
}

/* ------------------------------------------------------------------ */
/* Subcommands                                                          */
/* ------------------------------------------------------------------ */

/* deblur with one process, or under mpirun with all of them: rank 0 reads
 * and checks (its messages are the program's) and streams the input and
 * the output, every rank restores its band, and every rank exits with
 * rank 0's code. */
static int cmd_deblur(cli_options *o)
{
    const int root = cli_mpi_rank() == 0, mpi = cli_mpi_active();
    const char *input = o->pos[0];
    deconv_error err;
    memset(&err, 0, sizeof err);
    deconv_file_info info;
    memset(&info, 0, sizeof info);
    deconv_metadata *meta = NULL;
    deconv_image *y = NULL, *x = NULL;
    deconv_row_reader *rows = NULL;
    deconv_kernel *k = NULL;
    int width = 0, height = 0, channels = 0;
    progress_ctx pc = {.tty = !o->quiet && isatty(STDERR_FILENO), .limit = o->deblur.iterations};
    deconv_deblur_params p = o->deblur;
    deconv_report rep;
    memset(&rep, 0, sizeof rep);
    int code = CLI_OK;
    if (root) {
        named_path in[] = {{"input", input}, {"--psf file", o->kernel.path}};
        named_path out[] = {{"output", o->output}, {"--log", o->log}};
        code = check_outputs(in, 2, out, 2, o->force);
        if (!code && mpi) { /* streamed: no process holds the whole image */
            info.bits = 8;
            if (!(rows = deconv_row_reader_open(input, o->max_pixels, &info, &meta, &err)))
                code = lib_failure(&err);
            else
                width = deconv_row_reader_width(rows), height = deconv_row_reader_height(rows),
                channels = deconv_row_reader_channels(rows);
        } else if (!code) {
            if (!(y = read_image(input, o, &info, &meta, &err)))
                code = lib_failure(&err);
            else
                width = y->width, height = y->height, channels = y->channels;
        }
        if (!code && !(k = make_kernel(&o->kernel, &err)))
            code = lib_failure(&err);
        if (!code && !kernel_fits(k->width, k->height, width, height))
            code = CLI_USAGE;
        if (!code && o->log && !(pc.log = open_log(o->log)))
            code = CLI_FAIL;
        if (!code)
            choose_response(o, &info, &p.response);
    }
    if ((code = cli_mpi_share_int(code)) != CLI_OK)
        goto done;
    pc.response = p.response.name;
    p.progress = on_progress;
    p.progress_user = &pc;
    p.cancel = &g_cancel;
    install_signals();
    pc.t0 = pc.t_phase = now_seconds();
    deconv_write_options wo;
    if (root)
        output_options(o, &info, channels, meta, &wo);
    if (mpi) {
        cli_rows_in in = {rows, NULL, 0};
        cli_rows_out out = {o->output, &wo, o->full};
        deconv_status st = cli_mpi_restore(root ? &in : NULL, k, &p, root ? &out : NULL, &rep,
                                           &err);
        progress_end(&pc);
        code = st == DECONV_OK ? CLI_OK : (root ? lib_failure(&err) : CLI_FAIL);
    } else {
        x = deconv_deblur(y, k, &p, &rep, &err);
        progress_end(&pc);
        code = x ? write_result(x, k->width, k->height, o->full, &wo, o->output, NULL)
                 : lib_failure(&err);
    }
    double secs = now_seconds() - pc.t0;
    if (!root)
        goto done; /* its code replaced by rank 0's below */
    if (code == CLI_OK && rep.stopped != DECONV_OK) {
        cli_error("%s; stopped early: wrote the last good iterate to '%s'", err.message,
                  o->output);
        code = CLI_PARTIAL;
    }
    if (code == CLI_OK && !o->quiet)
        fprintf(stderr,
                "deconv: restored %dx%d %s in %.1f s (%d iterations, noise %.4f, TV %.3g, "
                "response %s) -> %s\n",
                width, height, cli_channels_name(channels), secs, rep.iterations, rep.noise,
                rep.tv, p.response.name, o->output);
done:
    deconv_image_free(x);
    deconv_kernel_free(k);
    deconv_image_free(y);
    deconv_row_reader_close(rows);
    deconv_metadata_free(meta);
    code = close_log(&pc, o->log, code);
    return cli_mpi_share_int(code);
}

/* What the kernel's estimate leaves for the restoration. */
typedef struct {
    deconv_file_info info;
    deconv_kernel *k0, *k;
    deconv_image *y;
    deconv_metadata *meta;
    progress_ctx pc;
    deconv_blind_params bp;
    int size_chosen, win_x, win_y, win_w, win_h;
    double t_kernel;
    char channels_read[96];    /* "" or " on green and blue (red clipped ...)" */
    char estimate_response[192]; /* the log's response column while estimating */
} blind_run;

/* Which channels the estimate reads, when not all of them: a user whose
 * photo's red is clipped should see that the kernel came from the others. */
static deconv_status describe_channels(blind_run *b, deconv_error *err)
{
    static const char *const name[3] = {"red", "green", "blue"};
    unsigned read;
    double clipped[3];
    deconv_status st = deconv_blind_channels(b->y, &b->bp, &read, clipped, err);
    if (st != DECONV_OK || read == (1u << deconv_color_channels(b->y->channels)) - 1)
        return st;
    char on[48] = "", off[96] = "";
    for (int c = 0; c < 3; c++) {
        size_t used_on = strlen(on), used_off = strlen(off);
        if (read >> c & 1)
            snprintf(on + used_on, sizeof on - used_on, "%s%s", used_on ? " and " : "", name[c]);
        else
            snprintf(off + used_off, sizeof off - used_off, "%s%s clipped on %.0f %%",
                     used_off ? ", " : "", name[c], 100 * clipped[c]);
    }
    snprintf(b->channels_read, sizeof b->channels_read, " on %s (%s of the window)", on, off);
    snprintf(b->estimate_response, sizeof b->estimate_response, "%s; kernel estimated on %s",
             b->bp.response.name, on);
    b->pc.response = b->estimate_response;
    return DECONV_OK;
}

/* Read and check, and find the window the kernel is estimated on; exit
 * code. */
static int blind_prepare(cli_options *o, blind_run *b)
{
    const char *input = o->pos[0];
    named_path in[] = {{"input", input}, {"--kernel-init file", o->kernel_init}};
    named_path out[] = {{"output", o->output}, {"--kernel-out", o->kernel_out}, {"--log", o->log}};
    int code = check_outputs(in, 2, out, 3, o->force);
    if (code)
        return code;
    deconv_error err;
    if (!(b->y = read_image(input, o, &b->info, &b->meta, &err)))
        return lib_failure(&err);
    deconv_image *y = b->y;
    /* no --kernel-size: the library chooses (0 x 0) */
    int kw = o->blind.kernel_width, kh = o->blind.kernel_height;
    b->size_chosen = kw == 0 && !o->kernel_init;
    if (!kernel_fits(kw, kh, y->width, y->height))
        return CLI_USAGE;
    if (o->kernel_init) {
        if (!(b->k0 = deconv_kernel_load(o->kernel_init, 1, &err)))
            return lib_failure(&err);
        if (kw == 0) /* the starting kernel gives the size */
            kw = b->k0->width, kh = b->k0->height;
        if (b->k0->width != kw || b->k0->height != kh) {
            cli_error("--kernel-init: '%s' is %dx%d but --kernel-size is %dx%d", o->kernel_init,
                      b->k0->width, b->k0->height, kw, kh);
            return CLI_USAGE;
        }
        if (!kernel_fits(kw, kh, y->width, y->height))
            return CLI_USAGE;
    }
    progress_ctx *pc = &b->pc;
    if (o->log && !(pc->log = open_log(o->log)))
        return CLI_FAIL;
    deconv_blind_params *bp = &b->bp;
    *bp = o->blind;
    choose_response(o, &b->info, &bp->response);
    pc->response = bp->response.name;
    bp->init = b->k0;
    bp->progress = on_progress;
    bp->progress_user = pc;
    bp->cancel = &g_cancel;
    install_signals();
    b->win_w = y->width, b->win_h = y->height;
    if (deconv_blind_window(y, bp, &b->win_x, &b->win_y, &b->win_w, &b->win_h, &err) !=
        DECONV_OK)
        return lib_failure(&err);
    /* the window found once: the estimate takes it as its region */
    bp->region_x = b->win_x, bp->region_y = b->win_y;
    bp->region_width = b->win_w, bp->region_height = b->win_h;
    if (describe_channels(b, &err) != DECONV_OK)
        return lib_failure(&err);
    return CLI_OK;
}

/* The largest share of the kernel's mass in a 3 x 3 box: near 1 when the
 * estimate is a point, and the restoration leaves the photo as it was. */
static double point_mass(const deconv_kernel *k)
{
    double total = 0, best = 0;
    for (int t = 0; t < k->width * k->height; t++)
        total += k->data[t];
    for (int i = 0; i < k->height; i++)
        for (int j = 0; j < k->width; j++) {
            double s = 0;
            for (int a = i; a < i + 3 && a < k->height; a++)
                for (int b = j; b < j + 3 && b < k->width; b++)
                    s += k->data[a * k->width + b];
            if (s > best)
                best = s;
        }
    return total > 0 ? best / total : 1;
}

/* A kernel this close to a point (point_mass) gets a note: a user whose
 * blurry photo comes back unchanged should know why. Real photos seen
 * (docs/camera.md): night scenes whose blur the estimate did not find
 * at 0.94 to 1.00; found kernels, short ones too, at 0.17 to 0.72. */
static const double POINT_NOTE = 0.9;

/* blind: under mpirun, rank 0 reads and checks, the processes share the
 * estimate's starts, rank 0 writes the kernel, and every process restores
 * with it, as deblur does. */
static int cmd_blind(cli_options *o)
{
    const int root = cli_mpi_rank() == 0, mpi = cli_mpi_active();
    blind_run b;
    memset(&b, 0, sizeof b);
    b.pc = (progress_ctx){.tty = !o->quiet && isatty(STDERR_FILENO), .blind = 1,
                          .limit = o->blind.iterations};
    deconv_image *x = NULL;
    deconv_error err;
    memset(&err, 0, sizeof err);
    int code = root ? blind_prepare(o, &b) : CLI_OK;
    if ((code = cli_mpi_share_int(code)) != CLI_OK)
        goto done;
    b.pc.t0 = b.pc.t_phase = now_seconds();
    if (mpi) {
        b.bp.cancel = &g_cancel;
        install_signals();
        b.k = cli_mpi_blind_kernel(b.y, &b.bp, &err);
    } else {
        b.k = deconv_blind_kernel(b.y, &b.bp, &err);
    }
    b.t_kernel = now_seconds() - b.pc.t0;
    progress_end(&b.pc);
    if (!root)
        code = b.k ? CLI_OK : CLI_FAIL;
    else if (!b.k)
        code = lib_failure(&err);
    else if (o->kernel_out && deconv_kernel_save(b.k, o->kernel_out, &err) != DECONV_OK)
        code = lib_failure(&err);
    if ((code = cli_mpi_share_int(code)) != CLI_OK)
        goto done;

    /* the restoration with the estimate: deblur's defaults with a floor on
     * the automatic TV weight, as the kernel is not exact */
    progress_ctx *pc = &b.pc;
    deconv_deblur_params dp;
    deconv_blind_restore_defaults(&dp);
    dp.response = b.bp.response; /* rank 0's, sent to the others */
    if (o->restore_tv >= 0)
        dp.tv = o->restore_tv;
    dp.threads = o->blind.threads;
    dp.progress = on_progress;
    dp.progress_user = pc;
    dp.cancel = &g_cancel;
    install_signals();
    pc->phase = "restore";
    pc->response = dp.response.name;
    pc->blind = 0;
    pc->limit = dp.iterations;
    pc->t_phase = now_seconds();
    deconv_write_options wo;
    if (root)
        output_options(o, &b.info, b.y->channels, b.meta, &wo);
    if (mpi) {
        cli_rows_in in = {NULL, b.y, 0};
        cli_rows_out out = {o->output, &wo, 0};
        deconv_status st = cli_mpi_restore(root ? &in : NULL, b.k, &dp, root ? &out : NULL, NULL,
                                           &err);
        code = st == DECONV_OK ? CLI_OK : (root ? lib_failure_kept(&err, o->kernel_out) : CLI_FAIL);
    } else {
        x = deconv_deblur(b.y, b.k, &dp, NULL, &err);
        code = x ? write_result(x, b.k->width, b.k->height, 0, &wo, o->output, o->kernel_out)
                 : lib_failure_kept(&err, o->kernel_out);
    }
    double t_restore = now_seconds() - pc->t_phase;
    progress_end(pc);
    if (!root)
        goto done; /* its code replaced by rank 0's below */
    const deconv_image *y = b.y;
    const int kw = b.k->width, kh = b.k->height;
    if (code == CLI_OK && !o->quiet) {
        char where[96] = "";
        if (b.win_w != y->width || b.win_h != y->height)
            snprintf(where, sizeof where, " on the %dx%d window at (%d, %d)", b.win_w, b.win_h,
                     b.win_x, b.win_y);
        fprintf(stderr,
                "deconv: kernel %dx%d%s estimated%s%s in %.1f s; restored %dx%d %s in %.1f s "
                "(response %s) -> %s\n",
                kw, kh, b.size_chosen ? " (size chosen: no --kernel-size)" : "", where,
                b.channels_read, b.t_kernel, y->width, y->height, cli_channels_name(y->channels),
                t_restore, b.bp.response.name, o->output);
        const double point = point_mass(b.k);
        if (point >= POINT_NOTE && kw * kh > 9)
            fprintf(stderr,
                    "deconv: note: the kernel found is nearly a point (%.0f %% of it in 3x3 "
                    "pixels), so the photo is left nearly as it was: it is sharp, or its blur "
                    "was not found (a --kernel-size, or a --region on sharp-edged detail away "
                    "from clipped lights, may help)\n",
                    100 * point);
    }
done:
    deconv_image_free(x);
    deconv_kernel_free(b.k);
    deconv_kernel_free(b.k0);
    deconv_image_free(b.y);
    deconv_metadata_free(b.meta);
    code = close_log(&b.pc, o->log, code);
    return cli_mpi_share_int(code);
}

/* splitmix64: a small, well-mixed generator; the same seed, the same noise */
static uint64_t next_random(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Add Gaussian noise (Box-Muller) of standard deviation sigma to n samples. */
static void add_noise(float *v, size_t n, double sigma, uint64_t *state)
{
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t i = 0; i < n; i += 2) {
        double u1 = ((next_random(state) >> 11) + 1) * 0x1.0p-53; /* (0, 1] */
        double u2 = (next_random(state) >> 11) * 0x1.0p-53;      /* [0, 1) */
        double r = sigma * sqrt(-2.0 * log(u1));
        v[i] += (float)(r * cos(two_pi * u2));
        if (i + 1 < n)
            v[i + 1] += (float)(r * sin(two_pi * u2));
    }
}

static int cmd_blur(cli_options *o)
{
    const char *input = o->pos[0];
    named_path in[] = {{"input", input}, {"--psf file", o->kernel.path}};
    named_path out[] = {{"output", o->output}};
    int code = check_outputs(in, 2, out, 1, o->force);
    if (code)
        return code;

    deconv_error err;
    deconv_file_info info;
    deconv_metadata *meta = NULL;
    deconv_image *x = read_image(input, o, &info, &meta, &err);
    if (!x)
        return lib_failure(&err);
    deconv_kernel *k = make_kernel(&o->kernel, &err);
    if (!k) {
        deconv_metadata_free(meta);
        deconv_image_free(x);
        return lib_failure(&err);
    }
    if (!kernel_fits(k->width, k->height, x->width, x->height)) {
        deconv_metadata_free(meta);
        deconv_kernel_free(k);
        deconv_image_free(x);
        return CLI_USAGE;
    }
    /* the centre crop carries alpha; the colour planes are then replaced */
    deconv_image *y = deconv_crop_to_input(x, k->width, k->height);
    if (!y) {
        cli_error("out of memory");
        code = CLI_FAIL;
    } else {
        int colour = deconv_color_channels(x->channels);
        uint64_t state = (uint64_t)o->seed;
        deconv_response resp;
        choose_response(o, &info, &resp);
        size_t nx = (size_t)x->width * x->height, ny = (size_t)y->width * y->height;
        for (int c = 0; c < colour; c++) {
            float *yc = deconv_image_plane(y, c), *xc = deconv_image_plane(x, c);
            /* as a camera: blur in linear light, clip at white, encode */
            deconv_response_decode(&resp, xc, xc, nx);
            deconv_conv_valid(xc, x->width, x->height, k->data, k->width, k->height, yc);
            if (resp.soft_clip)
                for (size_t i = 0; i < ny; i++)
                    yc[i] = yc[i] < 1.0f ? yc[i] : 1.0f;
            deconv_response_encode(&resp, yc, yc, ny);
            if (o->noise > 0)
                add_noise(yc, (size_t)y->width * y->height, o->noise, &state);
        }
        memset(&err, 0, sizeof err);
        deconv_write_options wo;
        output_options(o, &info, y->channels, meta, &wo);
        code = deconv_image_write(y, o->output, &wo, &err) ? lib_failure(&err) : CLI_OK;
    }
    deconv_image_free(y);
    deconv_kernel_free(k);
    deconv_image_free(x);
    deconv_metadata_free(meta);
    return code;
}

static int cmd_psf(cli_options *o)
{
    named_path in[] = {{"--psf file", o->kernel.path}};
    named_path out[] = {{"output", o->output}};
    int code = check_outputs(in, 1, out, 1, o->force);
    if (code)
        return code;
    deconv_error err;
    memset(&err, 0, sizeof err);
    deconv_kernel *k = make_kernel(&o->kernel, &err);
    if (!k)
        return lib_failure(&err);
    code = deconv_kernel_save(k, o->output, &err) ? lib_failure(&err) : CLI_OK;
    deconv_kernel_free(k);
    return code;
}

static int cmd_compare(cli_options *o)
{
    deconv_error err;
    deconv_image *a = read_image(o->pos[0], o, NULL, NULL, &err);
    if (!a)
        return lib_failure(&err);
    deconv_image *b = read_image(o->pos[1], o, NULL, NULL, &err);
    if (!b) {
        deconv_image_free(a);
        return lib_failure(&err);
    }
    int code = CLI_OK;
    if (a->width != b->width || a->height != b->height || a->channels != b->channels) {
        cli_error("compare: '%s' is %dx%d %s but '%s' is %dx%d %s", o->pos[0], a->width,
                  a->height, cli_channels_name(a->channels), o->pos[1], b->width, b->height,
                  cli_channels_name(b->channels));
        code = CLI_FAIL;
    } else {
        printf("PSNR %.2f dB  SSIM %.4f\n", deconv_psnr(a, b), deconv_ssim(a, b));
    }
    deconv_image_free(b);
    deconv_image_free(a);
    return code;
}

/* A batch (deblur or blind with several inputs, or -o a folder): each
 * input restored into the folder under its own name (--suffix added
 * before the extension; an extension deconv cannot write becomes .png),
 * its kernel into --kernel-out's folder as NAME-kernel.png; a failure is
 * reported and the batch goes on; Ctrl-C stops it. One process for all,
 * so FFTW's planner keeps what it learnt of each size. Exit 0 when every
 * input was written, else 1 (130 when interrupted). */
static int run_batch(const cli_options *o, int (*one)(cli_options *))
{
    const int root = cli_mpi_rank() == 0; /* under mpirun: rank 0 makes, checks, speaks */
    const char *dirs[2] = {o->output, o->kernel_out};
    int made = CLI_OK;
    for (int d = 0; d < 2 && root && made == CLI_OK; d++) {
        struct stat st;
        if (dirs[d] && stat(dirs[d], &st) != 0 && mkdir(dirs[d], 0777) != 0) {
            cli_error("%s: cannot make the folder '%s': %s", d ? "--kernel-out" : "-o", dirs[d],
                      strerror(errno));
            made = CLI_FAIL;
        } else if (dirs[d] && (stat(dirs[d], &st) != 0 || !S_ISDIR(st.st_mode))) {
            cli_error("%s: '%s' is not a folder", d ? "--kernel-out" : "-o", dirs[d]);
            made = CLI_FAIL;
        }
    }
    if ((made = cli_mpi_share_int(made)) != CLI_OK)
        return made;
    cli_options *one_o = malloc(sizeof *one_o);
    if (!one_o) {
        cli_error("out of memory");
        return CLI_FAIL;
    }
    int written = 0, failed = 0;
    char failures[512] = "";
    for (int i = 0; i < o->npos; i++) {
        const char *in = o->pos[i];
        const char *slash = strrchr(in, '/');
        const char *base = slash ? slash + 1 : in;
        const char *dot = strrchr(base, '.');
        int stem = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
        const char *ext = dot && dot != base && deconv_format_of_path(base) != DECONV_FORMAT_UNKNOWN
                              ? dot
                              : ".png";
        const char *sfx = o->suffix ? o->suffix : "";
        const char *sep = o->output[strlen(o->output) - 1] == '/' ? "" : "/";
        char out[4096], kout[4096];
        int n1 = snprintf(out, sizeof out, "%s%s%.*s%s%s", o->output, sep, stem, base, sfx, ext);
        int n2 = o->kernel_out
                     ? snprintf(kout, sizeof kout, "%s%s%.*s%s-kernel.png", o->kernel_out,
                                o->kernel_out[strlen(o->kernel_out) - 1] == '/' ? "" : "/",
                                stem, base, sfx)
                     : 0;
        *one_o = *o;
        one_o->pos[0] = in;
        one_o->npos = 1;
        one_o->output = out;
        one_o->kernel_out = o->kernel_out ? kout : NULL;
        if (!o->quiet && root)
            fprintf(stderr, "deconv: [%d/%d] %s -> %s\n", i + 1, o->npos, in, out);
        int code;
        if (n1 >= (int)sizeof out || n2 >= (int)sizeof kout) {
            cli_error("%s: the output's name is too long", in);
            code = CLI_FAIL;
        } else if (cli_check_output_format(one_o) != 0) {
            code = CLI_USAGE;
        } else {
            code = one(one_o);
        }
        if (code == 130 || g_cancel) {
            free(one_o);
            if (root)
                fprintf(stderr, "deconv: batch interrupted after %d of %d written\n", written,
                        o->npos);
            return 130;
        }
        if (code == CLI_OK) {
            written++;
        } else {
            failed++;
            size_t used = strlen(failures);
            if (used < sizeof failures - 1)
                snprintf(failures + used, sizeof failures - used, "%s%s", used ? ", " : "", base);
        }
    }
    free(one_o);
    if (!root)
        return failed ? CLI_FAIL : CLI_OK;
    if (failed)
        fprintf(stderr, "deconv: batch: %d of %d written to %s; failed: %s\n", written, o->npos,
                o->output, failures);
    else if (!o->quiet)
        fprintf(stderr, "deconv: batch: %d of %d written to %s\n", written, o->npos, o->output);
    return failed ? CLI_FAIL : CLI_OK;
}

static int run(int argc, char **argv);

int main(int argc, char **argv)
{
    if (cli_mpi_start(&argc, &argv) && cli_mpi_rank() != 0) {
        cli_silence_errors(); /* rank 0 speaks for all (help, errors) */
        if (!freopen("/dev/null", "w", stdout))
            return CLI_FAIL;
    }
    int code = run(argc, argv);
    cli_mpi_finish();
    return code;
}

static int run(int argc, char **argv)
{
    cli_options o;
    int code = cli_parse(argc, argv, &o);
    if (code == CLI_HELP_SHOWN)
        return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
    if (code != CLI_OK)
        return code;
    /* Without --threads, run on the cores other processes leave idle:
     * threads waiting for a descheduled partner at every loop made blind
     * estimation ten times slower on a loaded machine. Measured once,
     * here: OpenMP's own dynamic adjustment reads the load average, which
     * deconv's own threads raise, and halved its speed after a few
     * seconds on an idle machine. The result does not depend on the
     * thread count. */
    if (o.deblur.threads == 0 && o.blind.threads == 0 && !getenv("OMP_DYNAMIC") &&
        !getenv("OMP_NUM_THREADS") &&
        (o.command == CMD_DEBLUR || o.command == CMD_BLIND || o.command == CMD_BLUR))
        omp_set_num_threads(cli_idle_cores(omp_get_max_threads()));
    switch (o.command) {
    case CMD_DEBLUR: return o.batch ? run_batch(&o, cmd_deblur) : cmd_deblur(&o);
    case CMD_BLIND: return o.batch ? run_batch(&o, cmd_blind) : cmd_blind(&o);
    case CMD_BLUR: return cmd_blur(&o);
    case CMD_PSF: return cmd_psf(&o);
    case CMD_COMPARE: return cmd_compare(&o);
    }
    return CLI_USAGE;
}
