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

/* Where rank 0 takes the input's rows from: an open reader (the file
 * streamed) or an image it holds; and where it writes the result's: the
 * output file, with its options, cropped to the input's frame unless
 * full. */
typedef struct {
    deconv_row_reader *reader;
    const deconv_image *image;
    int next; /* the image's next row */
} cli_rows_in;
typedef struct {
    const char *path;
    const deconv_write_options *options;
    int full;
} cli_rows_out;

/* Restore with every process and write the result: rank 0 passes the
 * input, the kernel and the output, the others NULL, NULL and NULL (they
 * receive the kernel and the response of p). Rank 0 streams the input's
 * rows to the processes, each its band, and their results' rows into the
 * output, so no process holds the whole image. The status is every
 * rank's; err, on rank 0, names the process that failed. */
deconv_status cli_mpi_restore(const cli_rows_in *in, const deconv_kernel *k,
                              deconv_deblur_params *p, const cli_rows_out *out,
                              deconv_report *rep, deconv_error *err);

#endif
