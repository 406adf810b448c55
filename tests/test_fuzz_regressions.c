/* Replays, without libFuzzer, every input of the fuzz targets' seed corpora
 * (tests/fuzz/corpus/<target>/) and of their regressions (inputs that once
 * crashed them, tests/fuzz/regressions/<target>/) through the targets' own
 * code, which aborts on a broken promise. Built in the normal build (and
 * so under the sanitizers in CI's sanitizer build). */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The three targets, their entry points renamed. */
#define LLVMFuzzerTestOneInput fuzz_image_one
#include "../tests/fuzz/fuzz_image.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_kernel_text_one
#include "../tests/fuzz/fuzz_kernel_text.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_flags_one
#define LLVMFuzzerInitialize fuzz_flags_init
#include "../tests/fuzz/fuzz_flags.c"
#undef LLVMFuzzerTestOneInput
#undef LLVMFuzzerInitialize

#ifndef DECONV_FUZZ_DIR
#error "DECONV_FUZZ_DIR (the tests/fuzz folder) must be defined"
#endif

typedef int (*entry_fn)(const uint8_t *, size_t);

static FILE *g_out;

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Run fn on every regular file of dir (in name order); returns the count,
 * -1 if dir cannot be read (a missing folder counts 0). */
static int replay_dir(const char *dir, entry_fn fn)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn)
                abort();
            names = nn;
        }
        names[n] = strdup(e->d_name);
        if (!names[n])
            abort();
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat st;
        FILE *f = NULL;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            f = fopen(path, "rb");
        if (f) {
            uint8_t *buf = malloc((size_t)st.st_size + 1);
            size_t got = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
            fclose(f);
            if (!buf || got != (size_t)st.st_size) {
                fprintf(g_out, "FAIL: cannot read %s\n", path);
                exit(1);
            }
            fprintf(g_out, "%s\n", path);
            fflush(g_out);
            fn(buf, got); /* aborts on a finding */
            free(buf);
            count++;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(void)
{
    static const struct {
        const char *name;
        entry_fn fn;
    } targets[] = {{"fuzz_image", fuzz_image_one},
                   {"fuzz_kernel_text", fuzz_kernel_text_one},
                   {"fuzz_flags", fuzz_flags_one}};
    /* the file names go to the real stdout, which the flags target's
     * initialisation takes away from stdio */
    g_out = fdopen(dup(1), "w");
    if (!g_out)
        return 1;
    fuzz_flags_init(NULL, NULL);
    int total = 0, corpus = 0;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        char dir[2048];
        snprintf(dir, sizeof dir, "%s/corpus/%s", DECONV_FUZZ_DIR, targets[t].name);
        int c = replay_dir(dir, targets[t].fn);
        snprintf(dir, sizeof dir, "%s/regressions/%s", DECONV_FUZZ_DIR, targets[t].name);
        int r = replay_dir(dir, targets[t].fn);
        fprintf(g_out, "%s: %d seeds, %d regressions\n", targets[t].name, c, r);
        corpus += c;
        total += c + r;
    }
    fprintf(g_out, "%d inputs replayed\n", total);
    fclose(g_out);
    return corpus > 0 ? 0 : 1; /* no seeds at all: the folder is wrong */
}
