/* trainer.h: fine-tuning an encoder with a classification head: the training
 * loop, learning-rate schedules, evaluation, early stopping, checkpoints and
 * resume, and the outputs (metrics, curves, the model in HF layout). */
#ifndef GL_TRAINER_H
#define GL_TRAINER_H

#include <stdint.h>

#include "model/bert.h"
#include "text/tokenizer.h"
#include "train/dataset.h"
#include "train/objective.h"
#include "util/comm.h"
#include "util/hooks.h"

#define GL_PROBE_L2_MAX 16

typedef enum { GL_SCHED_CONSTANT = 0, GL_SCHED_STEP, GL_SCHED_LINEAR } gl_schedule;

typedef struct {
    const char *model_dir, *data_dir, *out_dir;
    const char *text_col, *label_col;
    int epochs, batch_size, eval_batch_size, max_length, patience;
    double lr, weight_decay, warmup, clip, val_frac;
    double head_lr;       /* peak learning rate of the classification head, on the same schedule; 0: lr */
    gl_schedule schedule;
    int step_epoch;       /* GL_SCHED_STEP: multiply lr by step_gamma from this epoch (1-based) on */
    double step_gamma;
    uint64_t seed;
    gl_pool pool;         /* GL_POOL_AUTO (default): gl_train resolves it (model/pool_auto.h) */
    int class_weights;    /* 1: balanced, 0: none */
    int resume;
    int stop_after;       /* stop (as if interrupted) after this many epochs; 0: never */
    int quiet;            /* no INFO messages (warnings still go to hooks.log; progress events always go) */
    size_t limit_train;   /* use only the first N training documents (0: all) */
    int bucket;           /* length bucketing: batches of similar lengths, in random order */
    int pad_to_max;       /* pad every training batch to max_length (for comparisons) */
    int bf16;             /* training steps' linear layers in bf16 (AVX512-BF16 only; opt-in) */
    gl_objective obj;     /* loss: cross-entropy, G-Loss, baselines; combined or standalone */
    int probe_iters;      /* standalone: at most this many L-BFGS iterations per probe fit (default 1000) */
    int n_probe_l2;       /* standalone: the probe's L2 penalties tried; the best by validation macro-F1 wins */
    double probe_l2[GL_PROBE_L2_MAX];
    size_t sigma_sample;  /* documents used for the sigma heuristics (default 2000) */
    int map_points;       /* at most this many test points in the t-SNE map (default 2000; 0: no map) */
    int log_steps;        /* write steps.csv: one row per training step */
    gl_hooks hooks;       /* where messages and progress go, and how to cancel; zero: silent */
    /* Data parallelism (docs/distributed.md): the processes of the run, NULL
     * for this one alone. Each computes its share of every batch; the losses
     * see the whole batch, gradients are summed, the steps are the same on
     * every process, and rank 0 writes the outputs. comm_timeout: seconds
     * of waiting for the other processes before the run stops (0: none). */
    gl_comm *comm;
    double comm_timeout;
} gl_train_opts;

void gl_train_opts_default(gl_train_opts *o);
const char *gl_schedule_name(gl_schedule s);
int gl_schedule_parse(const char *s, gl_schedule *out);
/* The learning rate at a 0-based step of an epoch (0-based) */
double gl_schedule_lr(const gl_train_opts *o, int64_t step, int64_t total_steps, int epoch);

/* What gl_train returns besides -1 (error, message set). */
enum { GL_TRAIN_DONE = 0, GL_TRAIN_STOPPED = 3, GL_TRAIN_CANCELLED = 4 };

/* Run the whole job. Returns GL_TRAIN_DONE, -1 on error (message set),
 * GL_TRAIN_STOPPED when stopped by stop_after, or GL_TRAIN_CANCELLED when
 * o->hooks.progress asked to stop: training stops at the next step boundary
 * (after a validation pass, before the next epoch; after a final pass,
 * before writing the outputs). Both leave a checkpoint; resume = 1 continues
 * exactly. A step whose loss or gradient is NaN/Inf is skipped
 * with a warning and counted (metrics.json "nonfinite_steps_skipped"); 5 in
 * a row stop the run with an error. Messages go to o->hooks.log, progress
 * events (GL_STAGE_TRAIN per step, GL_STAGE_VAL, GL_STAGE_TEST and
 * GL_STAGE_EMBED per batch of an evaluation pass) to o->hooks.progress. */
int gl_train(const gl_train_opts *o);

/* Evaluation-mode pass over a split: probs (n x K) and, if emb is not NULL,
 * the pooled embeddings (n x C). Documents are batched by length. Reports
 * each batch to hooks (may be NULL) as a `stage` event counting documents;
 * when the callback answers non-zero, fails with a GL_E_CANCELLED error. */
int gl_predict_split(gl_bert *m, const gl_split *s, gl_pool pool, int batch_size, float *probs, float *emb,
                     const gl_hooks *hooks, gl_stage stage);

#endif
