/* How many threads the command line runs when the user does not say: the
 * cores of this process's affinity mask that other processes leave idle,
 * measured once, before deconv loads them itself. */
#define _GNU_SOURCE
#include "cores.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *next_line(const char *line)
{
    const char *nl = strchr(line, '\n');
    return nl ? nl + 1 : NULL;
}

/* The busy and total jiffies of every CPU of `mask` in `stat` (the text of
 * /proc/stat), summed. Returns the CPUs found. */
static int sum_cpus(const char *stat, const cpu_set_t *mask, double *busy, double *total)
{
    int found = 0;
    *busy = *total = 0;
    for (const char *line = stat; line && *line; line = next_line(line)) {
        int cpu;
        unsigned long long v[8] = {0}; /* user nice system idle iowait irq softirq steal */
        /* not the "cpu " total, whose first count %d would read as a CPU */
        if (strncmp(line, "cpu", 3) || line[3] < '0' || line[3] > '9')
            continue;
        if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1],
                   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) < 5)
            continue;
        if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, mask))
            continue;
        double b = (double)v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
        *busy += b, *total += b + v[3] + v[4];
        found++;
    }
    return found;
}

double cli_busy_cores(const char *before, const char *after, const void *mask)
{
    double b0, t0, b1, t1;
    int n0 = sum_cpus(before, mask, &b0, &t0), n1 = sum_cpus(after, mask, &b1, &t1);
    if (n0 == 0 || n0 != n1 || !(t1 > t0) || b1 < b0)
        return -1;
    return n1 * (b1 - b0) / (t1 - t0);
}

int cli_threads_for(int cores, double busy)
{
    if (cores < 1)
        return 1;
    if (!(busy >= 0))
        return cores;
    int idle = cores - (int)(busy + 0.5);
    return idle < 1 ? 1 : idle > cores ? cores : idle;
}

/* /proc/stat's text (a few kilobytes; it cannot be sized by stat()), or
 * NULL. */
static char *read_stat(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap + 1);
    while (s) {
        size_t got = fread(s + n, 1, cap - n, f);
        n += got;
        if (got == 0 || n < cap)
            break;
        char *t = realloc(s, 2 * cap + 1);
        if (!t)
            free(s);
        s = t, cap *= 2;
    }
    fclose(f);
    if (s)
        s[n] = '\0';
    return s;
}

int cli_share_for(int threads, int online, int ranks)
{
    if (ranks <= 1 || online < 1)
        return threads;
    int share = online / ranks;
    share = share < 1 ? 1 : share;
    return threads < share ? threads : share;
}

/* The processes of this MPI job on this machine, as Open MPI's and MPICH's
 * launchers tell them; 1 outside MPI. */
static int local_ranks(void)
{
    const char *names[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        int n = v ? atoi(v) : 0;
        if (n > 0)
            return n;
    }
    return 1;
}

int cli_idle_cores(int cores)
{
    cpu_set_t mask;
    double busy = -1; /* unknown: every core */
    if (cores >= 1 && sched_getaffinity(0, sizeof mask, &mask) == 0) {
        char *before = read_stat();
        struct timespec pause = {0, 100 * 1000 * 1000}; /* ten jiffies at 100 Hz */
        nanosleep(&pause, NULL);
        char *after = before ? read_stat() : NULL;
        busy = after ? cli_busy_cores(before, after, &mask) : -1;
        free(before), free(after);
    }
    /* the idle cores are counted before any process of the job loads
     * them, so each takes its share of the machine */
    return cli_share_for(cli_threads_for(cores, busy), (int)sysconf(_SC_NPROCESSORS_ONLN),
                         local_ranks());
}
