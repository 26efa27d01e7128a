/* comm.h: the processes of a data-parallel run and what they exchange.
 *
 * Built with MPI (GLOSS_WITH_MPI: the Makefile defines it when mpicc is
 * installed) the processes are MPI ranks; built without it, or when MPI was
 * never initialised, there is one process. Every exchange takes a
 * communicator that may be NULL: one process, rank 0 of 1, and the exchange
 * is a no-op. So the training code is written once, for N processes.
 *
 * Exchanges are collective: every rank of the communicator calls the same
 * ones in the same order. Each returns 0, or -1 with the error set when it
 * failed or when another rank did not take part within the communicator's
 * timeout (a process that died or hangs). After such a failure the
 * communicator is broken (gl_comm_broken): the ranks no longer agree on what
 * was exchanged, the run must stop, and the process must leave with
 * gl_comm_finalize, which then aborts every rank instead of waiting for them.
 *
 * Sums are deterministic: each element is summed over the ranks in rank
 * order, in double precision, by one rank, and the result is sent to all;
 * so every rank holds the same bits, run after run. The data moved per rank
 * is that of a ring all-reduce: 2 (N - 1) / N times the buffer.
 *
 * MPI itself is process-wide: gl_comm_init and gl_comm_finalize are called
 * once by a program's main (gloss.h: gloss_distributed_init/finalize), and
 * only its main thread calls the exchanges (MPI_THREAD_FUNNELED). */
#ifndef GL_COMM_H
#define GL_COMM_H

#include <stddef.h>
#include <stdint.h>

typedef struct gl_comm gl_comm;

/* ---- the process ---- */

/* Initialise MPI (MPI_Init_thread, FUNNELED) when this process was started
 * by an MPI launcher (mpirun, srun, mpiexec: their environment variables say
 * so; GLOSS_MPI=1 forces it, GLOSS_MPI=0 prevents it), otherwise nothing.
 * Fails when started as one of several processes by a build without MPI.
 * Calling it again does nothing. */
int gl_comm_init(int *argc, char ***argv);
/* Leave MPI (MPI_Finalize), or abort every rank (MPI_Abort) when a
 * communicator broke. Nothing when MPI was not initialised here. */
void gl_comm_finalize(void);
/* This process's rank and the number of processes (0 and 1 without MPI). */
int gl_comm_world_rank(void);
int gl_comm_world_size(void);
/* "Open MPI v4.1.4, ..." (the library's version string), or "none". */
const char *gl_comm_library(void);
/* 1 once a communicator broke in this process (see above). */
int gl_comm_broken(void);

/* ---- communicators ---- */

/* All processes, for one run: *out is a new communicator over MPI's world
 * when MPI is initialised and there is more than one process, else NULL (one
 * process). timeout_s > 0: the longest wait for the other ranks in an
 * exchange (0: no limit). Fails when a launcher started this process as one
 * of several but MPI is not running here (each would train alone). */
int gl_comm_open(gl_comm **out, double timeout_s);
void gl_comm_close(gl_comm *c);
int gl_comm_rank(const gl_comm *c);
int gl_comm_size(const gl_comm *c);
/* Seconds spent in exchanges so far (waiting for slower ranks included) and
 * bytes this rank received; zeros for one process. */
void gl_comm_traffic(const gl_comm *c, double *seconds, double *bytes);
/* The contiguous share of n items of rank r: [*first, *first + *count);
 * the first n % size ranks get one more. */
void gl_comm_share(const gl_comm *c, int r, size_t n, size_t *first, size_t *count);

/* ---- exchanges ---- */

/* Agreement before an exchange: rc is this rank's status (0 or -1 with the
 * error set). Returns 0 when every rank's is 0; otherwise -1 on every rank,
 * with the error (message and kind) of the lowest failing rank, prefixed
 * "rank R of N: ". *flag (may be NULL) becomes the OR of every rank's
 * *flag (a cancel request). timeout_s < 0: the communicator's; 0: none (a
 * rank that waits for rank 0's long work, such as writing the outputs). */
int gl_comm_agree(gl_comm *c, int rc, int *flag, double timeout_s);
/* x[0..n) becomes the sum over the ranks (see above). */
int gl_comm_sum_f32(gl_comm *c, float *x, size_t n);
int gl_comm_sum_f64(gl_comm *c, double *x, size_t n);
/* rows holds the rows of every rank in rank order, rank r's counts[r] rows
 * of width floats each; each rank fills its own, and receives the others'. */
int gl_comm_gather_rows(gl_comm *c, float *rows, const size_t *counts, int width);
/* Copy bytes from root to every rank. */
int gl_comm_bcast(gl_comm *c, void *buf, size_t bytes, int root);
/* *first_differs: the lowest rank whose v differs from rank 0's, or -1. */
int gl_comm_compare(gl_comm *c, uint64_t v, int *first_differs);

#endif
