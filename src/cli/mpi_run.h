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
/* The blind estimate with every process: rank 0 passes the image y and
 * its parameters (their region the window), the others NULL and
 * parameters whose cancel flag is theirs. Rank 0 sends the window; the
 * starts are spread (deconv_blind_kernel_mpi); every process gets the
 * kernel, or NULL on all (err on rank 0 naming the process that failed). */
deconv_kernel *cli_mpi_blind_kernel(const deconv_image *y, deconv_blind_params *p,
                                    deconv_error *err);

/* Restore with every process: rank 0 passes the whole image y and the
 * kernel k, the others NULL and NULL (they receive them, and the response
 * of p). Rank 0 gets deconv_deblur's result; the others NULL, with *ok
 * telling whether their share succeeded (all ranks fail alike, err on
 * rank 0 naming the process that failed). */
deconv_image *cli_mpi_deblur(const deconv_image *y, const deconv_kernel *k,
                             deconv_deblur_params *p, deconv_report *rep, int *ok,
                             deconv_error *err);

#endif
