/* The threads the command line runs without --threads (cores.c). */
#ifndef DECONV_CLI_CORES_H
#define DECONV_CLI_CORES_H

/* The cores other processes keep busy between two readings of /proc/stat
 * (before, after), over the CPUs of `mask` (a cpu_set_t); -1 when the
 * readings do not tell (unreadable, no CPU of the mask, no time between). */
double cli_busy_cores(const char *before, const char *after, const void *mask);

/* The threads to run on `cores` of which `busy` are taken (busy < 0:
 * unknown, every core): the idle ones, rounded, at least one. */
int cli_threads_for(int cores, double busy);

/* At most threads, and at most this process's share of the machine's
 * online CPUs when `ranks` processes of one MPI job run on it. */
int cli_share_for(int threads, int online, int ranks);

/* cli_threads_for(cores, what 0.1 s of /proc/stat shows of this process's
 * CPUs; every core when /proc/stat or the mask cannot be read), within its
 * share of the machine under MPI (cli_share_for). */
int cli_idle_cores(int cores);

#endif
