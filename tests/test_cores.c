/* The command line's thread count without --threads (src/cli/cores.c):
 * the busy cores read from two /proc/stat texts, over the CPUs of the
 * affinity mask only, and the idle cores that follow. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>

#include "check.h"
#include "cli/cores.h"

/* Two readings 100 jiffies apart a CPU: cpu0 fully busy (user, system,
 * irq), cpu1 idle but for 10 (nice), cpu2 busy by steal only; cpu3 busy,
 * outside the masks below. */
static const char *before =
    "cpu  4000 400 4000 40000 400 40 40 40 0 0\n"
    "cpu0 1000 0 1000 10000 0 0 0 0 0 0\n"
    "cpu1 1000 100 1000 10000 100 0 0 0 0 0\n"
    "cpu2 1000 0 1000 10000 0 0 0 0 0 0\n"
    "cpu3 1000 0 1000 10000 0 0 0 0 0 0\n"
    "intr 12345 0 0\n"
    "ctxt 99\n";
static const char *after =
    "cpu  4300 410 4100 40090 400 40 40 140 0 0\n"
    "cpu0 1050 0 1040 10000 0 10 0 0 0 0\n"
    "cpu1 1000 110 1000 10090 100 0 0 0 0 0\n"
    "cpu2 1000 0 1000 10000 0 0 0 100 0 0\n"
    "cpu3 1100 0 1000 10000 0 0 0 0 0 0\n"
    "intr 12400 0 0\n"
    "ctxt 120\n";

/* The busy cores of the readings over mask, against what it should be. */
static void check_busy(const cpu_set_t *mask, const char *a, const char *b, double want)
{
    double got = cli_busy_cores(a, b, mask);
    CHECK(want < 0 ? got < 0 : fabs(got - want) < 1e-12, "busy %g, want %g", got, want);
}

static void test_busy(void)
{
    cpu_set_t mask;
    CPU_ZERO(&mask);
    CPU_SET(0, &mask);
    check_busy(&mask, before, after, 1.0);
    CPU_SET(1, &mask);
    check_busy(&mask, before, after, 2 * 110.0 / 200);
    CPU_SET(2, &mask);
    check_busy(&mask, before, after, 3 * 210.0 / 300);
    /* no time between, a mask with no CPU of the text, no text, garbage */
    check_busy(&mask, before, before, -1);
    cpu_set_t other;
    CPU_ZERO(&other);
    CPU_SET(7, &other);
    check_busy(&other, before, after, -1);
    check_busy(&mask, "", after, -1);
    check_busy(&mask, "garbage\n", "cpu0 x\n", -1);
    /* a total line of small counts (just after boot) is no CPU 0 */
    CPU_ZERO(&mask);
    CPU_SET(0, &mask);
    check_busy(&mask, "cpu  0 0 0 5 0 0 0 0\ncpu0 0 0 0 5 0 0 0 0\n",
               "cpu  0 0 0 9 0 0 0 0\ncpu0 0 0 0 9 0 0 0 0\n", 0.0);
}

/* The threads for cores of which busy are taken, against want. */
static void check_threads(int cores, double busy, int want)
{
    int got = cli_threads_for(cores, busy);
    CHECK(got == want, "%d cores, %g busy: %d threads, want %d", cores, busy, got, want);
}

static void test_threads(void)
{
    check_threads(2, 0.02, 2);
    check_threads(2, 0.6, 1);
    check_threads(2, 1.0, 1);
    check_threads(2, 2.0, 1); /* at least one */
    check_threads(8, 2.4, 6);
    check_threads(8, -1, 8); /* unknown: every core */
    check_threads(0, 0, 1);
    /* under MPI: each of the machine's processes takes its share */
    CHECK(cli_share_for(2, 2, 1) == 2, "one process: every thread");
    CHECK(cli_share_for(2, 2, 4) == 1, "four processes on two CPUs: one thread each");
    CHECK(cli_share_for(16, 32, 8) == 4, "eight processes on 32 CPUs: four threads each");
    CHECK(cli_share_for(1, 32, 8) == 1, "bound to one core: one thread");
    CHECK(cli_share_for(3, 0, 2) == 3, "online CPUs unknown: as counted");
    int n = cli_idle_cores(4);
    CHECK(n >= 1 && n <= 4, "%d threads of 4 cores", n);
}

int main(void)
{
    test_busy();
    test_threads();
    return check_done("test_cores");
}
