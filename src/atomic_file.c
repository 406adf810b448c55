/* Atomic file output: everything is written to a temporary file in the
 * directory of the target, which is flushed to disk and then renamed onto
 * the target. A failure at any point removes the temporary file, so the
 * target is either the complete new file or untouched.
 *
 * The temporary file is ".<basename>.XXXXXX.tmp" beside the target (the same
 * file system, so rename() is atomic). Its permissions are those of the file
 * it replaces, or 0666 less the umask for a new file, as if the target had
 * been opened with fopen(path, "w"); likewise a file the process may not
 * write is refused (though the rename alone would be allowed).
 *
 * A target that is a symbolic link is replaced by a regular file (the link
 * itself is renamed over), as with most atomic writers. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* mkstemps */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "internal.h"

struct deconv_atomic_file {
    FILE *stream;
    char *target; /* the path given */
    char *tmp;    /* the temporary file beside it */
};

/* strerror is not required to be thread-safe; the XSI strerror_r is. */
static const char *error_text(int e, char *buf, size_t size)
{
    if (strerror_r(e, buf, size) != 0)
        snprintf(buf, size, "error %d", e);
    return buf;
}

static deconv_status fail_errno(deconv_error *err, const char *path, int e)
{
    char buf[128];
    return deconv_fail(err, DECONV_ERR_IO, "cannot write '%s': %s", path,
                       error_text(e, buf, sizeof buf));
}

/* The process's umask, read without changing it: umask() can only be read
 * by setting it, which would race with other threads creating files. Linux
 * reports it in /proc/self/status; elsewhere assume the usual 022. */
static mode_t current_umask(void)
{
    mode_t mask = 022;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return mask;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Umask:", 6) == 0) {
            char *end;
            unsigned long v = strtoul(line + 6, &end, 8);
            if (end != line + 6 && v <= 0777)
                mask = (mode_t)v;
            break;
        }
    }
    fclose(f);
    return mask;
}

static void atomic_free(deconv_atomic_file *f)
{
    free(f->target);
    free(f->tmp);
    free(f);
}

deconv_atomic_file *deconv_atomic_open(const char *path, deconv_error *err)
{
    if (!path || !*path) {
        deconv_fail(err, DECONV_ERR_ARG, "no output file name given");
        return NULL;
    }
    size_t len = strlen(path);
    if (path[len - 1] == '/') {
        fail_errno(err, path, EISDIR);
        return NULL;
    }

    mode_t mode;
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            fail_errno(err, path, EISDIR);
            return NULL;
        }
        /* Renaming over a device or a FIFO would replace it by a regular
         * file (think of /dev/null run as root): refuse. */
        if (!S_ISREG(st.st_mode)) {
            deconv_fail(err, DECONV_ERR_IO, "cannot write '%s': not a regular file", path);
            return NULL;
        }
        /* Replacing by rename needs only a writable folder; refuse a file
         * that fopen(path, "w") could not open either. */
        if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) != 0) {
            fail_errno(err, path, errno);
            return NULL;
        }
        mode = st.st_mode & 0777;
    } else if (errno == ENOENT) {
        mode = 0666 & ~current_umask();
    } else {
        fail_errno(err, path, errno);
        return NULL;
    }

    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = path + dirlen;
    size_t baselen = strlen(base);
    /* Keep the temporary name within NAME_MAX (255) on long base names. */
    if (baselen > 200)
        baselen = 200;

    deconv_atomic_file *f = calloc(1, sizeof *f);
    if (!f) {
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory opening '%s'", path);
        return NULL;
    }
    f->target = malloc(len + 1);
    f->tmp = malloc(dirlen + baselen + sizeof "." ".XXXXXX.tmp");
    if (!f->target || !f->tmp) {
        atomic_free(f);
        deconv_fail(err, DECONV_ERR_NOMEM, "out of memory opening '%s'", path);
        return NULL;
    }
    memcpy(f->target, path, len + 1);
    sprintf(f->tmp, "%.*s.%.*s.XXXXXX.tmp", (int)dirlen, path, (int)baselen, base);

    int fd = mkstemps(f->tmp, 4);
    if (fd < 0) {
        fail_errno(err, path, errno);
        atomic_free(f);
        return NULL;
    }
    if (fchmod(fd, mode) != 0) {
        int e = errno;
        close(fd);
        unlink(f->tmp);
        fail_errno(err, path, e);
        atomic_free(f);
        return NULL;
    }
    f->stream = fdopen(fd, "wb");
    if (!f->stream) {
        int e = errno;
        close(fd);
        unlink(f->tmp);
        fail_errno(err, path, e);
        atomic_free(f);
        return NULL;
    }
    return f;
}

FILE *deconv_atomic_stream(deconv_atomic_file *f) { return f ? f->stream : NULL; }

/* Make the rename itself durable; a failure here cannot be undone and the
 * file is complete, so it is not reported. */
static void sync_directory(const char *target)
{
#ifdef O_DIRECTORY
    const char *slash = strrchr(target, '/');
    char *dir;
    if (!slash) {
        dir = malloc(2);
        if (dir)
            strcpy(dir, ".");
    } else {
        size_t n = slash == target ? 1 : (size_t)(slash - target);
        dir = malloc(n + 1);
        if (dir) {
            memcpy(dir, target, n);
            dir[n] = '\0';
        }
    }
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    free(dir);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
#else
    (void)target;
#endif
}

deconv_status deconv_atomic_commit(deconv_atomic_file *f, deconv_error *err)
{
    if (!f)
        return deconv_fail(err, DECONV_ERR_ARG, "no file to commit");

    int e = 0;
    /* An earlier write error (disk full, quota) sticks in ferror even if the
     * writer did not check it. */
    errno = 0;
    if (fflush(f->stream) != 0 || ferror(f->stream))
        e = errno ? errno : EIO;
    /* EINVAL: a file system that cannot sync; the data are written anyway. */
    if (!e && fsync(fileno(f->stream)) != 0 && errno != EINVAL)
        e = errno;
    errno = 0;
    if (fclose(f->stream) != 0 && !e)
        e = errno ? errno : EIO;
    f->stream = NULL;
    if (!e && rename(f->tmp, f->target) != 0)
        e = errno;

    deconv_status status = DECONV_OK;
    if (e) {
        unlink(f->tmp);
        status = fail_errno(err, f->target, e);
    } else {
        sync_directory(f->target);
    }
    atomic_free(f);
    return status;
}

void deconv_atomic_abort(deconv_atomic_file *f)
{
    if (!f)
        return;
    if (f->stream)
        fclose(f->stream);
    unlink(f->tmp);
    atomic_free(f);
}
