/* The program under mpirun (mpi_run.c): started by an MPI launcher, deconv
 * deblur restores one image with every process, rank 0 reading the input
 * and writing the output. Without MPI in the build, or run on its own, the
 * program is the single-process one. */
#ifndef DECONV_CLI_MPI_RUN_H
#define DECONV_CLI_MPI_RUN_H

#include "deconv.h"

/* MPI_Init when an MPI launcher started this process; whether it did. */
int cli_mpi_start(int *argc, char ***argv);
void cli_mpi_finish(void);
/* Whether this run is distributed; this process's rank (0 without MPI). */
int cli_mpi_active(void);
int cli_mpi_rank(void);
/* Rank 0's value of v, on every rank. */
int cli_mpi_share_int(int v);
/* The same, for a value rank 0 may take minutes to compute (a blind
 * estimate): the others wait asleep, not spinning on the cores rank 0
 * computes on. */
int cli_mpi_wait_int(int v);

/* Restore with every process: rank 0 passes the whole image y and the
 * kernel k, the others NULL and NULL (they receive them, and the response
 * of p). Rank 0 gets deconv_deblur's result; the others NULL, with *ok
 * telling whether their share succeeded (all ranks fail alike, err on
 * rank 0 naming the process that failed). */
deconv_image *cli_mpi_deblur(const deconv_image *y, const deconv_kernel *k,
                             deconv_deblur_params *p, deconv_report *rep, int *ok,
                             deconv_error *err);

#endif
