/* train_internal.h: what the pieces of the training layer share, private to
 * src/train. The files and what each holds:
 *   trainer.c        the job: setup, the epoch loop, the final evaluation
 *   epoch.c          one training epoch: batches, the step, the optimiser
 *   head.c           the classification head: init, forward/backward, probe
 *   batch.c          padded batches of documents, ordering by length
 *   predict_split.c  evaluation-mode passes over a split, metrics
 *   sigma.c          G-Loss's kernel width from the initial embeddings
 *   checkpoint.c     the options' fingerprint, checkpoint write and read
 *   report.c         metrics.json, epochs.csv, steps.csv, plots, maps, log lines
 *   schedule.c       learning-rate schedules
 *   sync.c           a distributed run's processes: inputs compared, resumed state sent
 *
 * A distributed run (o->comm, docs/distributed.md): every process runs this
 * code; each computes its share of the encoder's work, and they exchange
 * (util/comm.h) what makes everything else identical on all of them. So
 * every decision (a cancel, an error, early stopping) is taken together:
 * before each exchange the processes agree on their status, and an error
 * on one stops all with its message. Rank 0 alone writes files. */
#ifndef GL_TRAIN_INTERNAL_H
#define GL_TRAIN_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "train/metrics.h"
#include "train/optim.h"
#include "train/trainer.h"
#include "util/fileio.h"

/* ------------------------------------------------------------- batches */

typedef struct {
    int B, T;
    int32_t *ids;
    uint8_t *mask;
    int *y;
} gl_batch;

int gl_batch_alloc(gl_batch *b, int Bmax, int Tmax);
void gl_batch_free(gl_batch *b);
/* Gather documents idx[0..B) of split s, padded with pad to the longest
 * (or to T_fixed when it is > 0). */
void gl_batch_fill(gl_batch *b, const gl_split *s, const size_t *idx, int B, int32_t pad, int T_fixed);
/* The second guard of model/model_open.h: every token id of the batch (filled
 * from documents idx of s) indexes a row of the embedding table. The error
 * names the split's file and the document. */
int gl_batch_check(const gl_batch *b, const gl_bert *m, const gl_split *s, const size_t *idx);
/* The longest document of s (at least 1). */
int gl_split_max_len(const gl_split *s);
/* Sort document indices idx[0..n) of s by length, ties by index. -1 (out of
 * memory) leaves idx unchanged. */
int gl_sort_by_length(size_t *idx, size_t n, const gl_split *s);

/* ------------------------------------------------------ training state */

/* Diagnostics of the embedding loss over one epoch (partial sums). */
typedef struct {
    double ratio_sum;  /* sum over steps of |grad of the weighted E| / |grad of the weighted CE| at the pooled vector */
    double ratio_n;    /* steps behind ratio_sum (both gradients non-zero) */
    double beta_sum;   /* --balance: sum of the per-step weight of E */
    double lp_nodes, lp_correct;  /* G-Loss: hidden nodes, and those label propagation gets right */
    double neff_sum, neff_n;      /* G-Loss: sum of per-batch median effective neighbours, batches */
    double skipped, clamped;      /* G-Loss: skipped batches, clamped hidden nodes */
} gl_epoch_diag;

typedef struct {
    int epoch;
    double loss, val_acc, val_f1, seconds, tokens_per_s;
    double train_seconds; /* the epoch without validation (and probe) */
    gl_epoch_diag diag;
} gl_epoch_row;

/* What a checkpoint holds besides the weights and the optimiser's moments. */
typedef struct {
    int epochs_done;   /* completed epochs */
    int64_t step;      /* training steps (batches) taken */
    int64_t epoch_step;    /* steps done in the unfinished epoch (after an interruption) */
    double epoch_loss, epoch_tokens, epoch_seconds; /* its partial sums */
    gl_epoch_diag epoch_diag;                       /* likewise */
    int64_t nonfinite;     /* steps skipped for a NaN/Inf loss or gradient */
    int64_t adam_step;     /* optimiser steps taken (bias correction) */
    int best_epoch;    /* 1-based, 0: none yet */
    double best_f1;
    int bad_epochs;    /* epochs since the best one */
    double seconds;    /* training + validation wall time so far */
    gl_epoch_row *hist;
    int nhist;
} gl_train_state;

/* One run: the model, its data, the optimiser and the state. */
typedef struct {
    gl_bert model;
    gl_tokenizer *tok;
    gl_dataset data;
    gl_adamw opt;
    uint8_t *decay;
    float *best;
    gl_train_state st;
    gl_objective obj;    /* the options' objective with sigma resolved */
    gl_gloss_stats gstats;  /* G-Loss counters over the run (this process) */
    size_t sigma_used;   /* documents behind a heuristic sigma */
    gl_sigma_info sigma; /* the sigma used, its effective neighbours, the floor */
    json_t *probe_log;   /* standalone: the probe fits of each epoch (this process) */
    int cancel;          /* the progress callback asked to stop */
    FILE *step_log;      /* --log-steps: steps.csv, open on rank 0 */
} gl_trainer;

/* Rank 0 of a distributed run, or the only process: the one that writes. */
static inline int gl_train_writer(const gl_train_opts *o) { return gl_comm_rank(o->comm) == 0; }

static inline char *gl_out_path(const gl_train_opts *o, const char *name) { return gl_path_join(o->out_dir, name); }
/* Where a run's progress events go: always to the hooks, also when o->quiet,
 * since their answer is how a caller stops the run (the caller decides what
 * to show). */
static inline const gl_hooks *gl_train_progress(const gl_train_opts *o) { return &o->hooks; }

/* ------------------------------------------------------------- epoch.c */

/* One training epoch (0-based; or its remainder after a cancelled run).
 * Reports every step to o->hooks (GL_STAGE_TRAIN); a non-zero answer sets
 * t->cancel, and the epoch stops at the next step boundary. Returns 0 when
 * the epoch is complete (mean loss in *loss_out), GL_TRAIN_CANCELLED when
 * stopped (the partial sums are in t->st), -1 on error. */
int gl_train_epoch(gl_trainer *t, const gl_train_opts *o, int epoch, double *loss_out, double *tokens_out,
                   gl_epoch_diag *diag_out);

/* -------------------------------------------------------------- head.c */

/* A fresh head of K rows (seeded) and, with o->head_lr, its own peak learning
 * rate in the optimiser (opt must be initialised over m's parameters). */
int gl_head_init(gl_bert *m, int K, const gl_train_opts *o);
void gl_head_set_lr(gl_adamw *opt, const gl_bert *m, const gl_train_opts *o);
/* Weighted cross-entropy through the head on the pooled vectors (B, C), with
 * the head's dropout keyed by key: *loss = w_ce times the loss; accumulates
 * the head's gradients into m->grads and w_ce times the gradient at the
 * pooled vectors into dpooled (zeroed by the caller). pooled_d (B, C), logits
 * and dlogits (B, K) are scratch. -1 (error set) when scratch memory runs out. */
int gl_head_ce_step(gl_bert *m, const float *pooled, const int *y, const double *class_w, int B, double w_ce,
                    uint64_t key, float *pooled_d, float *logits, float *dlogits, float *dpooled, double *loss);
/* Evaluation: logits (B, K) of the pooled vectors (B, C), no dropout. -1
 * (error set) when scratch memory runs out. */
int gl_head_logits(const gl_bert *m, const float *pooled, float *logits, int B);
/* Standalone mode: fit the head as a linear probe on frozen embeddings of
 * the training set, the best L2 penalty by validation macro-F1 (0-based epoch). */
int gl_head_fit_probe(gl_trainer *t, const gl_train_opts *o, int epoch);

/* ----------------------------------------------------- predict_split.c */

/* gl_predict_split for the training layer: events carry epoch and epochs,
 * and a non-zero answer of the callback sets *cancel and the pass goes on
 * (the run stops at its next step boundary) instead of failing it. With
 * several processes (comm), each computes every P-th batch and every process
 * receives all of probs and emb, the bits one process would compute; an
 * error on any process fails the pass on all of them. */
int gl_predict_pass(gl_bert *m, const gl_split *s, gl_pool pool, int batch_size, float *probs, float *emb,
                    const gl_hooks *hooks, gl_stage stage, int epoch, int epochs, int *cancel, gl_comm *comm);
/* Metrics (caller frees) of the argmax predictions of t's model on split s,
 * reported as a `stage` pass of epoch (1-based); emb, when not NULL,
 * receives the pooled embeddings. */
int gl_evaluate(gl_trainer *t, const gl_train_opts *o, const gl_split *s, gl_stage stage, int epoch, gl_metrics *met,
                float *emb);

/* ------------------------------------------------------------- sigma.c */

/* G-Loss's sigma from the initial model's embeddings of (a seeded sample of)
 * the training set, into t->obj, t->sigma and t->sigma_used. */
int gl_train_resolve_sigma(gl_trainer *t, const gl_train_opts *o);

/* -------------------------------------------------------- checkpoint.c */

/* The objective and the options as recorded (metrics.json) and compared on
 * --resume (the checkpoint's fingerprint). */
json_t *gl_objective_json(const gl_objective *ob);
json_t *gl_train_opts_json(const gl_train_opts *o);
int gl_checkpoint_save(const gl_train_opts *o, const gl_bert *m, const gl_adamw *opt, const float *best,
                       const gl_train_state *st);
int gl_checkpoint_load(const gl_train_opts *o, gl_bert *m, gl_adamw *opt, float *best, gl_train_state *st);

/* -------------------------------------------------------------- sync.c */

/* The processes of o->comm compare their options, data and initial weights;
 * any difference is an error on all of them, naming the first rank that
 * differs from rank 0. */
int gl_sync_check_inputs(gl_trainer *t, const gl_train_opts *o);
/* Rank 0's resumed weights, optimiser moments, best weights and state, sent
 * to every process. */
int gl_sync_resumed(gl_trainer *t, const gl_train_opts *o);

/* ------------------------------------------------------------ report.c */

/* An INFO message of the run (none when o->quiet). */
void gl_train_info(const gl_train_opts *o, const char *fmt, ...) GL_PRINTF(2, 3);

int gl_write_epochs_csv(const gl_train_opts *o, const gl_train_state *st);
/* --log-steps: open OUT/steps.csv for the steps after st->step: a fresh run
 * writes the header; a resumed one keeps the rows up to its checkpoint's
 * step, so that the file reads as an uninterrupted run's. */
int gl_step_log_open(gl_trainer *t, const gl_train_opts *o);
/* One row: epoch (1-based), step, loss, gradient norm before clipping, the
 * learning rate, and whether the step was skipped. Nothing when not open. */
void gl_step_log_row(gl_trainer *t, int epoch, int64_t step, double loss, double gnorm, double lr, int skipped);
void gl_step_log_close(gl_trainer *t);
int gl_write_curves(const gl_train_opts *o, const gl_train_state *st);
int gl_write_metrics(const gl_train_opts *o, const gl_dataset *d, const gl_metrics *val, const gl_metrics *test,
                     const gl_train_state *st, json_t *extra);
/* Silhouette of the evaluation embeddings emb of split s, their .npy and 2-D
 * maps; *out receives the JSON for metrics.json (caller owns it). */
int gl_embedding_report(gl_trainer *t, const gl_train_opts *o, const gl_split *s, const float *emb,
                        const char *split_name, json_t **out);
/* The log line of a finished epoch, and for an embedding loss its diagnostics. */
void gl_train_log_epoch(const gl_trainer *t, const gl_train_opts *o, const gl_epoch_row *r, int improved);
/* The closing lines: best epoch, test metrics, silhouette, what was written. */
void gl_train_log_summary(const gl_trainer *t, const gl_train_opts *o, const gl_metrics *val, const gl_metrics *test,
                    json_t *extra);

#endif
