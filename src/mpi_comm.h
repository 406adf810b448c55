/* deconv_comm (band.h) over MPI: the bands of one run are the processes
 * of a one-dimensional Cartesian communicator, band k on rank k, top to
 * bottom. Halos go to and from the neighbours only (a band holds at least
 * its neighbours' halo: deconv_band_split); row sums are gathered, never
 * reduced (MPI_SUM's order is not fixed), and added in row order by every
 * rank. Built with -DDECONV_MPI=ON. */
#ifndef DECONV_MPI_COMM_H
#define DECONV_MPI_COMM_H

#include <mpi.h>

#include "band.h"
#include "internal.h"

typedef struct deconv_mpi_comm deconv_mpi_comm;

/* The comm of the band split of a problem over the processes of comm
 * (deconv_band_split with row block blk); NULL if out of memory. */
deconv_mpi_comm *deconv_mpi_comm_new(MPI_Comm comm, int N, int M, int kw, int kh, int blk);
void deconv_mpi_comm_free(deconv_mpi_comm *c);
/* The interface to put in a band. */
const deconv_comm *deconv_mpi_comm_iface(deconv_mpi_comm *c);
/* Order statistics pooled over the bands (noise.c's deconv_order). */
const deconv_order *deconv_mpi_comm_order(deconv_mpi_comm *c);
/* Seconds spent so far in halo exchanges, and in gathering sums and
 * agreeing on decisions (waiting for the other processes included). */
void deconv_mpi_comm_seconds(const deconv_mpi_comm *c, double *halo, double *sums);

/* Every process's status made one: if any failed, all fail, with the
 * message of the first that did (its rank named on the others). */
deconv_status deconv_mpi_agree(MPI_Comm comm, deconv_status st, deconv_error *err);

#endif
