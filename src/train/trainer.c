/* trainer.c: the fine-tuning loop. One epoch: a seeded permutation of the
 * training documents, batches padded to their longest document, forward with
 * dropout, pooled embedding -> dropout -> linear head -> weighted cross-entropy,
 * backward through head, pooling and encoder into one gradient buffer,
 * global-norm clipping, scheduled AdamW. After each epoch: validation metrics,
 * early stopping on validation macro-F1, an atomic checkpoint. At the end the
 * best epoch's weights are restored, evaluated on test and exported. */
#include "train/trainer.h"

#include <errno.h>
#include <signal.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/npy.h"
#include "io/plot.h"
#include "io/safetensors.h"
#include "kernels/kernels.h"
#include "loss/cross_entropy.h"
#include "model/hf_export.h"
#include "model/model_open.h"
#include "model/pool_auto.h"
#include "train/embed_quality.h"
#include "train/metrics.h"
#include "train/optim.h"
#include "train/probe.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/progress.h"
#include "util/rng.h"

void gl_train_opts_default(gl_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->text_col = "text";
    o->label_col = "label";
    /* defaults chosen on validation splits: docs/defaults.md */
    o->epochs = 4;
    o->batch_size = 32;
    o->eval_batch_size = 64;
    o->max_length = 128;
    o->patience = 3;
    o->lr = 1e-4;
    o->head_lr = 3e-3;
    o->weight_decay = 0.01;
    o->warmup = 0.1;
    o->clip = 1.0;
    o->val_frac = 0.1;
    o->schedule = GL_SCHED_LINEAR;
    o->step_epoch = 30;
    o->step_gamma = 0.1;
    o->seed = 42;
    o->pool = GL_POOL_AUTO;
    o->class_weights = 1;
    gl_objective_default(&o->obj);
    o->probe_iters = 1000;
    o->n_probe_l2 = 4;
    for (int i = 0; i < 4; i++) o->probe_l2[i] = pow(10.0, i - 4); /* 1e-4, 1e-3, 1e-2, 1e-1 */
    o->sigma_sample = 2000;
    o->map_points = 2000;
}

const char *gl_schedule_name(gl_schedule s) {
    return s == GL_SCHED_CONSTANT ? "constant" : s == GL_SCHED_STEP ? "step" : "linear";
}

int gl_schedule_parse(const char *s, gl_schedule *out) {
    if (!strcmp(s, "constant")) *out = GL_SCHED_CONSTANT;
    else if (!strcmp(s, "step")) *out = GL_SCHED_STEP;
    else if (!strcmp(s, "linear")) *out = GL_SCHED_LINEAR;
    else return gl_error("unknown schedule '%s' (expected constant, step or linear)", s);
    return 0;
}

double gl_schedule_lr(const gl_train_opts *o, int64_t step, int64_t total_steps, int epoch) {
    switch (o->schedule) {
    case GL_SCHED_CONSTANT: return o->lr;
    case GL_SCHED_STEP: return epoch + 1 >= o->step_epoch ? o->lr * o->step_gamma : o->lr;
    case GL_SCHED_LINEAR:
    default: {
        int64_t warm = (int64_t)(o->warmup * (double)total_steps);
        if (step < warm) return o->lr * (double)(step + 1) / (double)warm;
        double rest = (double)(total_steps - warm);
        double f = rest > 0 ? (double)(total_steps - step) / rest : 0.0;
        return o->lr * (f > 0 ? f : 0);
    }
    }
}

/* ------------------------------------------------------------- batches */

typedef struct {
    int B, T;
    int32_t *ids;
    uint8_t *mask;
    int *y;
} batch_buf;

static int batch_alloc(batch_buf *b, int Bmax, int Tmax) {
    b->ids = gl_malloc((size_t)Bmax * Tmax * sizeof(int32_t));
    b->mask = gl_malloc((size_t)Bmax * Tmax);
    b->y = gl_malloc((size_t)Bmax * sizeof(int));
    return (b->ids && b->mask && b->y) ? 0 : -1;
}

static void batch_free(batch_buf *b) {
    free(b->ids);
    free(b->mask);
    free(b->y);
}

/* Gather documents idx[0..B) of split s, padded with pad to the longest
 * (or to T_fixed when it is > 0). */
static void batch_fill(batch_buf *b, const gl_split *s, const size_t *idx, int B, int32_t pad, int T_fixed) {
    int T = T_fixed;
    for (int i = 0; T_fixed <= 0 && i < B; i++)
        if (gl_split_len(s, idx[i]) > T) T = gl_split_len(s, idx[i]);
    b->B = B;
    b->T = T;
    for (int i = 0; i < B; i++) {
        int len = gl_split_len(s, idx[i]);
        const int32_t *d = gl_split_doc(s, idx[i]);
        for (int t = 0; t < T; t++) {
            b->ids[(size_t)i * T + t] = t < len ? d[t] : pad;
            b->mask[(size_t)i * T + t] = t < len;
        }
        b->y[i] = s->label[idx[i]];
    }
}

/* The second guard of model/model_open.h: every token id of the batch (filled
 * from documents idx of s) indexes a row of the embedding table. The error
 * names the split's file and the document. */
static int batch_check(const batch_buf *b, const gl_bert *m, const gl_split *s, const size_t *idx) {
    const size_t n = (size_t)b->B * (size_t)b->T;
    const uint32_t V = (uint32_t)m->cfg.vocab_size;
    for (size_t i = 0; i < n; i++)
        if ((uint32_t)b->ids[i] >= V) {
            size_t row = i / (size_t)b->T;
            char what[600];
            snprintf(what, sizeof what, "%s: document %zu", s->path ? s->path : "data", idx[row] + 1);
            return gl_model_check_ids(m, b->ids + row * (size_t)b->T, (size_t)b->T, what);
        }
    return 0;
}

static int max_doc_len(const gl_split *s) {
    int T = 1;
    for (size_t i = 0; i < s->n; i++)
        if (gl_split_len(s, i) > T) T = gl_split_len(s, i);
    return T;
}

/* ----------------------------------------------------------- evaluation */

static const gl_split *g_sort_split; /* qsort has no context argument; set right before each sort */
static int by_length(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int lx = gl_split_len(g_sort_split, x), ly = gl_split_len(g_sort_split, y);
    if (lx != ly) return lx < ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

int gl_predict_split(gl_bert *m, const gl_split *s, gl_pool pool, int batch_size, float *probs, float *emb,
                     int quiet, const char *label) {
    const int C = m->cfg.hidden_size, K = m->num_labels;
    if (s->n == 0) return 0;
    size_t *order = gl_malloc(s->n * sizeof(size_t));
    if (!order) return -1;
    for (size_t i = 0; i < s->n; i++) order[i] = i;
    g_sort_split = s;
    qsort(order, s->n, sizeof(size_t), by_length);
    int Tmax = max_doc_len(s);
    batch_buf b = {0};
    gl_bert_acts acts;
    float *pooled = gl_malloc((size_t)batch_size * C * sizeof(float));
    float *logits = gl_malloc((size_t)batch_size * (K ? K : 1) * sizeof(float));
    int rc = (pooled && logits) ? 0 : -1;
    if (rc == 0) rc = batch_alloc(&b, batch_size, Tmax);
    if (rc == 0) rc = gl_bert_acts_init_inference(&acts, m, batch_size, Tmax);
    if (rc != 0) {
        free(order);
        free(pooled);
        free(logits);
        batch_free(&b);
        return -1;
    }
    gl_progress bar;
    gl_progress_start(&bar, stderr, label, s->n, "docs", quiet);
    for (size_t start = 0; start < s->n && rc == 0; start += (size_t)batch_size) {
        int B = (int)(s->n - start < (size_t)batch_size ? s->n - start : (size_t)batch_size);
        batch_fill(&b, s, order + start, B, 0, 0);
        if ((rc = batch_check(&b, m, s, order + start)) != 0) break;
        const float *H = gl_bert_forward(m, &acts, b.ids, b.mask, B, b.T, 0, 0);
        rc = gl_pool_forward(m, pool, pooled, H, b.mask, B, b.T);
        if (rc != 0) break;
        if (K && probs) {
            gl_linear_forward(logits, pooled, m->p.cls_w, m->p.cls_b, B, C, K);
            gl_softmax_rows(logits, logits, B, K);
        }
        for (int i = 0; i < B; i++) {
            size_t d = order[start + (size_t)i];
            if (K && probs) memcpy(probs + d * K, logits + (size_t)i * K, (size_t)K * sizeof(float));
            if (emb) memcpy(emb + d * C, pooled + (size_t)i * C, (size_t)C * sizeof(float));
        }
        gl_progress_update(&bar, start + (size_t)B, NULL);
    }
    if (s->n >= 256) gl_progress_finish(&bar, NULL);
    gl_bert_acts_free(&acts);
    batch_free(&b);
    free(order);
    free(pooled);
    free(logits);
    return rc;
}

static void argmax_rows(int *pred, const float *probs, size_t n, int K) {
    for (size_t i = 0; i < n; i++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (probs[i * K + k] > probs[i * K + best]) best = k;
        pred[i] = best;
    }
}

/* Evaluate a split: metrics (caller frees) from argmax predictions. */
static int evaluate(gl_bert *m, const gl_split *s, const gl_train_opts *o, gl_metrics *met, const char *label,
                    float *emb) {
    const int K = m->num_labels;
    float *probs = gl_malloc(s->n * (size_t)K * sizeof(float));
    int *pred = gl_malloc(s->n * sizeof(int));
    int rc = (probs && pred) ? gl_predict_split(m, s, o->pool, o->eval_batch_size, probs, emb, o->quiet, label) : -1;
    if (rc == 0) {
        argmax_rows(pred, probs, s->n, K);
        rc = gl_metrics_compute(met, s->label, pred, s->n, K);
    }
    free(probs);
    free(pred);
    return rc;
}

/* ------------------------------------------------------ training state */

/* Diagnostics of the embedding loss over one epoch (partial sums). */
typedef struct {
    double ratio_sum;  /* sum over steps of |grad of the weighted E| / |grad of the weighted CE| at the pooled vector */
    double ratio_n;    /* steps behind ratio_sum (both gradients non-zero) */
    double beta_sum;   /* --balance: sum of the per-step weight of E */
    double lp_nodes, lp_correct;  /* G-Loss: hidden nodes, and those label propagation gets right */
    double neff_sum, neff_n;      /* G-Loss: sum of per-batch median effective neighbours, batches */
    double skipped, clamped;      /* G-Loss: skipped batches, clamped hidden nodes */
} epoch_diag;

typedef struct {
    int epoch;
    double loss, val_acc, val_f1, seconds, tokens_per_s;
    double train_seconds; /* the epoch without validation (and probe) */
    epoch_diag diag;
} epoch_row;

typedef struct {
    int epochs_done;   /* completed epochs */
    int64_t step;      /* training steps (batches) taken */
    int64_t epoch_step;    /* steps done in the unfinished epoch (after an interruption) */
    double epoch_loss, epoch_tokens, epoch_seconds; /* its partial sums */
    epoch_diag epoch_diag;                          /* likewise */
    int64_t nonfinite;     /* steps skipped for a NaN/Inf loss or gradient */
    int64_t adam_step;     /* optimiser steps taken (bias correction) */
    int best_epoch;    /* 1-based, 0: none yet */
    double best_f1;
    int bad_epochs;    /* epochs since the best one */
    double seconds;    /* training + validation wall time so far */
    epoch_row *hist;
    int nhist;
} train_state;

static char *out_path(const gl_train_opts *o, const char *name) { return gl_path_join(o->out_dir, name); }

/* A fingerprint of the options that must not change across --resume. */
static json_t *objective_json(const gl_objective *ob) {
    const gl_objective r = gl_objective_resolve(ob), *b = &r;
    json_t *j = json_pack("{s:s, s:b}", "loss", gl_loss_name(b->kind), "standalone", b->standalone);
    if (!(b->balance > 0)) json_object_set_new(j, "lambda", json_real(b->lambda)); /* unused with the balance */
    if (b->kind == GL_LOSS_GLOSS) {
        json_object_set_new(j, "gloss_variant",
                            json_string(b->gloss.variant == GL_GLOSS_VARIANT_PAPER ? "paper" : "reference"));
        json_object_set_new(j, "gamma", json_real(b->gamma));
        json_object_set_new(j, "sigma_mode", json_string(gl_sigma_mode_name(b->sigma_mode)));
        if (b->sigma_mode == GL_SIGMA_VALUE) json_object_set_new(j, "sigma", json_real(b->gloss.sigma));
        if (b->sigma_mode == GL_SIGMA_KNN) json_object_set_new(j, "sigma_knn", json_real(b->sigma_knn));
        if ((b->sigma_mode == GL_SIGMA_DICM || b->sigma_mode == GL_SIGMA_ROOT))
            json_object_set_new(j, "sigma_floor", json_real(b->sigma_floor));
    }
    if (b->balance > 0 && b->kind != GL_LOSS_CE) json_object_set_new(j, "balance", json_real(b->balance)); /* absent when off */
    if (b->kind == GL_LOSS_SUPCON) json_object_set_new(j, "temperature", json_real(b->temperature));
    if (b->kind == GL_LOSS_TRIPLET) {
        json_object_set_new(j, "margin", json_real(b->margin));
        json_object_set_new(j, "mining", json_string(b->batch_hard ? "hard" : "all"));
    }
    return j;
}

static json_t *opts_json(const gl_train_opts *o) {
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:s, s:i, s:f, s:I, s:s, s:i, s:I}",
                     "model", o->model_dir, "data", o->data_dir, "text_col", o->text_col, "label_col", o->label_col,
                     "epochs", o->epochs, "batch_size", o->batch_size, "max_length", o->max_length, "lr", o->lr,
                     "weight_decay", o->weight_decay, "warmup", o->warmup, "clip", o->clip, "schedule",
                     gl_schedule_name(o->schedule), "step_epoch", o->step_epoch, "step_gamma", o->step_gamma, "seed",
                     (json_int_t)o->seed, "pool", gl_pool_name(o->pool), "class_weights", o->class_weights,
                     "limit_train", (json_int_t)o->limit_train);
    json_object_set_new(j, "objective", objective_json(&o->obj));
    json_object_set_new(j, "bucket", json_boolean(o->bucket));
    json_object_set_new(j, "pad_to_max", json_boolean(o->pad_to_max));
    if (o->bf16) json_object_set_new(j, "bf16", json_true()); /* absent when off: older fingerprints stay valid */
    if (o->head_lr > 0) json_object_set_new(j, "head_lr", json_real(o->head_lr)); /* likewise */
    if (o->obj.standalone) { /* the probe's settings decide the head */
        json_t *l2 = json_array();
        for (int i = 0; i < o->n_probe_l2; i++) json_array_append_new(l2, json_real(o->probe_l2[i]));
        json_object_set_new(j, "probe", json_pack("{s:s, s:o, s:i}", "fit", "lbfgs", "l2", l2, "max_iters",
                                                  o->probe_iters));
    }
    return j;
}

static json_t *diag_json(const epoch_diag *d) {
    return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "ratio_sum", d->ratio_sum, "ratio_n", d->ratio_n,
                     "beta_sum", d->beta_sum, "lp_nodes", d->lp_nodes, "lp_correct", d->lp_correct, "neff_sum",
                     d->neff_sum, "neff_n", d->neff_n, "skipped", d->skipped, "clamped", d->clamped);
}

/* absent (a checkpoint from before the diagnostics): zeros */
static void diag_read(json_t *j, epoch_diag *d) {
    memset(d, 0, sizeof *d);
    if (json_is_object(j))
        json_unpack(j, "{s?F, s?F, s?F, s?F, s?F, s?F, s?F, s?F, s?F}", "ratio_sum", &d->ratio_sum, "ratio_n",
                    &d->ratio_n, "beta_sum", &d->beta_sum, "lp_nodes", &d->lp_nodes, "lp_correct", &d->lp_correct,
                    "neff_sum", &d->neff_sum, "neff_n", &d->neff_n, "skipped", &d->skipped, "clamped", &d->clamped);
}

static json_t *state_json(const train_state *st) {
    json_t *h = json_array();
    for (int i = 0; i < st->nhist; i++) {
        const epoch_row *r = &st->hist[i];
        json_array_append_new(h, json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:o}", "epoch", r->epoch, "loss",
                                           r->loss, "val_accuracy", r->val_acc, "val_macro_f1", r->val_f1,
                                           "seconds", r->seconds, "tokens_per_s", r->tokens_per_s, "train_seconds",
                                           r->train_seconds, "diag", diag_json(&r->diag)));
    }
    return json_pack("{s:i, s:I, s:i, s:f, s:i, s:f, s:o, s:I, s:f, s:f, s:f, s:I, s:I, s:o}", "epochs_done",
                     st->epochs_done, "step", (json_int_t)st->step, "best_epoch", st->best_epoch, "best_f1",
                     st->best_f1, "bad_epochs", st->bad_epochs, "seconds", st->seconds, "history", h, "epoch_step",
                     (json_int_t)st->epoch_step, "epoch_loss", st->epoch_loss, "epoch_tokens", st->epoch_tokens,
                     "epoch_seconds", st->epoch_seconds, "nonfinite_steps", (json_int_t)st->nonfinite, "adam_step",
                     (json_int_t)st->adam_step, "epoch_diag", diag_json(&st->epoch_diag));
}

#define CHECKPOINT_FORMAT "gloss-checkpoint-2"

static int save_checkpoint(const gl_train_opts *o, const gl_bert *m, const gl_adamw *opt, const float *best,
                           const train_state *st) {
    char *path = out_path(o, "checkpoint.safetensors");
    if (!path) return -1;
    json_t *oj = opts_json(o), *sj = state_json(st);
    char *os = json_dumps(oj, JSON_SORT_KEYS | JSON_COMPACT), *ss = json_dumps(sj, JSON_COMPACT);
    json_decref(oj);
    json_decref(sj);
    const char *meta[] = {"format", CHECKPOINT_FORMAT, "options", os, "state", ss, NULL};
    gl_st_entry e[4] = {{"params", m->params, 1, {(int64_t)m->size}},
                        {"adam_m", opt->m, 1, {(int64_t)m->size}},
                        {"adam_v", opt->v, 1, {(int64_t)m->size}},
                        {"best_params", best, 1, {(int64_t)m->size}}};
    int rc = (os && ss) ? gl_st_write_f32(path, e, 4, meta) : gl_error("cannot serialise checkpoint state");
    free(os);
    free(ss);
    free(path);
    return rc;
}

static int load_checkpoint(const gl_train_opts *o, gl_bert *m, gl_adamw *opt, float *best, train_state *st) {
    char *path = out_path(o, "checkpoint.safetensors");
    gl_safetensors f;
    if (!path) return -1;
    if (!gl_file_exists(path)) {
        gl_error("%s: no checkpoint to resume from", path);
        free(path);
        return -1;
    }
    if (gl_st_open(&f, path) != 0) {
        free(path);
        return -1;
    }
    int rc = 0;
    json_error_t err;
    json_t *meta = f.metadata_json ? json_loads(f.metadata_json, 0, &err) : NULL;
    const char *os = json_string_value(json_object_get(meta, "options"));
    const char *ss = json_string_value(json_object_get(meta, "state"));
    json_t *now = opts_json(o);
    char *now_s = json_dumps(now, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(now);
    const char *fmt = json_string_value(json_object_get(meta, "format"));
    if (!os || !ss || !fmt) rc = gl_error("%s: not a gloss checkpoint (no options/state metadata)", path);
    else if (strcmp(fmt, CHECKPOINT_FORMAT) != 0)
        rc = gl_error("%s: checkpoint format '%s', this gloss reads '%s'", path, fmt, CHECKPOINT_FORMAT);
    else if (!now_s || strcmp(os, now_s) != 0)
        rc = gl_error("%s: was written with different options; resume with the same ones.\n  checkpoint: %s\n  now:        %s",
                      path, os, now_s ? now_s : "?");
    static const char *names[4] = {"params", "adam_m", "adam_v", "best_params"};
    float *dst[4] = {m->params, opt->m, opt->v, best};
    for (int i = 0; rc == 0 && i < 4; i++) {
        const gl_st_tensor *t = gl_st_find(&f, names[i]);
        if (!t || t->numel != (int64_t)m->size)
            rc = gl_error("%s: tensor '%s' missing or of the wrong size", path, names[i]);
        else rc = gl_st_read_f32(&f, t, dst[i]);
    }
    json_t *sj = rc == 0 ? json_loads(ss, 0, &err) : NULL;
    if (rc == 0 && !sj) rc = gl_error("%s: corrupt state metadata", path);
    if (rc == 0) {
        json_int_t step = 0, estep = 0, nonfinite = 0, astep = 0;
        json_t *h = NULL;
        if (json_unpack(sj, "{s:i, s:I, s:i, s:F, s:i, s:F, s:o, s:I, s:F, s:F, s:F, s:I, s:I}", "epochs_done",
                        &st->epochs_done, "step", &step, "best_epoch", &st->best_epoch, "best_f1", &st->best_f1,
                        "bad_epochs", &st->bad_epochs, "seconds", &st->seconds, "history", &h, "epoch_step", &estep,
                        "epoch_loss", &st->epoch_loss, "epoch_tokens", &st->epoch_tokens, "epoch_seconds",
                        &st->epoch_seconds, "nonfinite_steps", &nonfinite, "adam_step", &astep) != 0 ||
            !json_is_array(h) || (int)json_array_size(h) > o->epochs) {
            rc = gl_error("%s: corrupt state metadata", path);
        } else {
            st->step = step;
            st->epoch_step = estep;
            st->nonfinite = nonfinite;
            st->adam_step = astep;
            opt->step = astep;
            st->nhist = (int)json_array_size(h);
            diag_read(json_object_get(sj, "epoch_diag"), &st->epoch_diag);
            for (int i = 0; i < st->nhist; i++) {
                epoch_row *r = &st->hist[i];
                r->train_seconds = 0;
                diag_read(json_object_get(json_array_get(h, (size_t)i), "diag"), &r->diag);
                json_unpack(json_array_get(h, (size_t)i), "{s:i, s:F, s:F, s:F, s:F, s:F, s?F}", "epoch",
                            &r->epoch, "loss", &r->loss, "val_accuracy", &r->val_acc, "val_macro_f1", &r->val_f1,
                            "seconds", &r->seconds, "tokens_per_s", &r->tokens_per_s, "train_seconds",
                            &r->train_seconds);
            }
        }
    }
    json_decref(sj);
    json_decref(meta);
    free(now_s);
    gl_st_close(&f);
    free(path);
    return rc;
}

/* ------------------------------------------------------------- outputs */

static int write_epochs_csv(const gl_train_opts *o, const train_state *st) {
    char *path = out_path(o, "epochs.csv");
    gl_atomic_file af;
    if (!path || gl_atomic_open(&af, path) != 0) {
        free(path);
        return -1;
    }
    fprintf(af.f, "epoch,train_loss,val_accuracy,val_macro_f1,seconds,tokens_per_s,train_seconds,grad_ratio,"
                  "embedding_weight,lp_accuracy,neighbours_median,gloss_skipped,gloss_clamped\n");
    const gl_objective *ob = &o->obj;
    const int emb = ob->kind != GL_LOSS_CE, gl = ob->kind == GL_LOSS_GLOSS, both = emb && !ob->standalone;
    for (int i = 0; i < st->nhist; i++) {
        const epoch_row *r = &st->hist[i];
        const epoch_diag *d = &r->diag;
        fprintf(af.f, "%d,%.6f,%.6f,%.6f,%.2f,%.1f,%.2f,", r->epoch, r->loss, r->val_acc, r->val_f1, r->seconds,
                r->tokens_per_s, r->train_seconds);
        /* empty where a column does not apply (cross-entropy alone, standalone, no G-Loss) */
        if (both && d->ratio_n > 0) fprintf(af.f, "%.6g", d->ratio_sum / d->ratio_n);
        fputc(',', af.f);
        if (both && d->ratio_n > 0) fprintf(af.f, "%.6g", d->beta_sum / d->ratio_n); /* mean weight of E */
        else if (emb) fprintf(af.f, "%.6g", ob->standalone ? 1.0 : ob->lambda);
        fputc(',', af.f);
        if (gl && d->lp_nodes > 0) fprintf(af.f, "%.6f", d->lp_correct / d->lp_nodes);
        fputc(',', af.f);
        if (gl && d->neff_n > 0) fprintf(af.f, "%.4f", d->neff_sum / d->neff_n);
        fputc(',', af.f);
        if (gl) fprintf(af.f, "%.0f,%.0f", d->skipped, d->clamped);
        else fputc(',', af.f);
        fputc('\n', af.f);
    }
    int rc = gl_atomic_commit(&af);
    free(path);
    return rc;
}

static int write_curves(const gl_train_opts *o, const train_state *st) {
    int n = st->nhist;
    double *x = gl_malloc(sizeof(double) * (size_t)(n ? n : 1) * 3);
    if (!x) return -1;
    double *loss = x + n, *f1 = loss + n;
    for (int i = 0; i < n; i++) {
        x[i] = st->hist[i].epoch;
        loss[i] = st->hist[i].loss;
        f1[i] = st->hist[i].val_f1;
    }
    gl_series s[2] = {{"training loss", loss, 0}, {"validation macro-F1", f1, 1}};
    char *path = out_path(o, "training.svg");
    int rc = path ? gl_svg_line_chart(path, "Training loss and validation macro-F1", "epoch", "loss", "macro-F1", x,
                                      n, s, 2)
                  : -1;
    free(path);
    free(x);
    return rc;
}

static int write_metrics(const gl_train_opts *o, const gl_dataset *d, const gl_metrics *val, const gl_metrics *test,
                         const train_state *st, json_t *extra) {
    json_t *j = json_object();
    json_object_set_new(j, "test", test ? gl_metrics_to_json(test, (const char *const *)d->labels) : json_null());
    json_object_set_new(j, "val", gl_metrics_to_json(val, (const char *const *)d->labels));
    json_object_set_new(j, "best_epoch", json_integer(st->best_epoch));
    json_object_set_new(j, "epochs_run", json_integer(st->epochs_done));
    json_object_set_new(j, "steps", json_integer(st->step));
    json_object_set_new(j, "nonfinite_steps_skipped", json_integer(st->nonfinite));
    json_object_set_new(j, "seconds", json_real(st->seconds));
    json_object_set_new(j, "train_size", json_integer((json_int_t)d->train.n));
    json_object_set_new(j, "val_size", json_integer((json_int_t)d->val.n));
    json_object_set_new(j, "val_from_train", json_boolean(d->val_from_train));
    json_object_set_new(j, "options", opts_json(o));
    if (extra) json_object_update(j, extra);
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    char *path = out_path(o, "metrics.json");
    int rc = (s && path) ? gl_write_file_atomic(path, s, strlen(s)) : -1;
    free(s);
    free(path);
    return rc;
}

/* --------------------------------------------------------------- train */

static int mkdir_p(const char *dir) {
    char *p = gl_strdup(dir);
    if (!p) return -1;
    for (char *q = p + 1; *q; q++) {
        if (*q != '/') continue;
        *q = 0;
        mkdir(p, 0755);
        *q = '/';
    }
    int rc = (mkdir(p, 0755) == 0 || errno == EEXIST) ? 0 : gl_error("%s: cannot create directory: %s", dir,
                                                                       strerror(errno));
    free(p);
    return rc;
}

typedef struct {
    gl_bert model;
    gl_tokenizer *tok;
    gl_dataset data;
    gl_adamw opt;
    uint8_t *decay;
    float *best;
    train_state st;
    gl_objective obj;    /* the options' objective with sigma resolved */
    gl_gloss_stats gstats;  /* G-Loss counters over the run (this process) */
    size_t sigma_used;   /* documents behind a heuristic sigma */
    gl_sigma_info sigma; /* the sigma used, its effective neighbours, the floor */
    json_t *probe_log;   /* standalone: the probe fits of each epoch (this process) */
} trainer;

static void trainer_free(trainer *t) {
    gl_model_close(&t->model, &t->tok);
    gl_dataset_free(&t->data);
    gl_adamw_free(&t->opt);
    free(t->decay);
    free(t->best);
    free(t->st.hist);
    json_decref(t->probe_log);
}

/* A split holding documents idx[0..m) of s (labels and token ids copied). */
static int sub_split(gl_split *out, const gl_split *s, const size_t *idx, size_t m) {
    memset(out, 0, sizeof *out);
    size_t tok = 0;
    for (size_t i = 0; i < m; i++) tok += (size_t)gl_split_len(s, idx[i]);
    out->ids = gl_malloc((tok ? tok : 1) * sizeof(int32_t));
    out->off = gl_malloc((m + 1) * sizeof(size_t));
    out->label = gl_malloc((m ? m : 1) * sizeof(int));
    if (!out->ids || !out->off || !out->label) {
        gl_split_free(out);
        return -1;
    }
    out->n = m;
    out->off[0] = 0;
    for (size_t i = 0; i < m; i++) {
        size_t len = (size_t)gl_split_len(s, idx[i]);
        memcpy(out->ids + out->off[i], gl_split_doc(s, idx[i]), len * sizeof(int32_t));
        out->off[i + 1] = out->off[i] + len;
        out->label[i] = s->label[idx[i]];
    }
    return 0;
}

/* sigma from the initial model's embeddings of (a seeded sample of) the training set */
static int resolve_sigma(trainer *t, const gl_train_opts *o) {
    const gl_split *tr = &t->data.train;
    size_t n = tr->n, m = n < o->sigma_sample ? n : o->sigma_sample;
    size_t *idx = gl_malloc(sizeof(size_t) * (n ? n : 1));
    if (!idx) return -1;
    for (size_t i = 0; i < n; i++) idx[i] = i;
    gl_rng r = {gl_rng_key(o->seed, 0x7369676d61ull)};
    gl_rng_sample_prefix(&r, idx, n, m);
    gl_split sub;
    int rc = sub_split(&sub, tr, idx, m);
    free(idx);
    if (rc != 0) return -1;
    float *X = gl_malloc(sizeof(float) * m * (size_t)t->model.cfg.hidden_size);
    rc = X ? gl_predict_split(&t->model, &sub, o->pool, o->eval_batch_size, NULL, X, o->quiet, "sigma") : -1;
    const int B = o->batch_size;
    gl_sigma_info si;
    if (rc == 0) rc = gl_sigma_resolve(&t->obj, X, sub.label, m, t->model.cfg.hidden_size, B, o->seed, &si);
    t->sigma_used = m;
    if (rc == 0) {
        t->obj.gloss.sigma = si.sigma;
        t->sigma = si;
        if (si.knn_reduced && !o->quiet)
            fprintf(stderr, "sigma: knn:%g is more than a batch of %d allows; aiming at %g effective neighbours\n",
                    o->obj.sigma_knn, B, si.knn);
        if (si.floored && !o->quiet)
            fprintf(stderr, "sigma floor: %s gave sigma %.6g with %.2f effective neighbours per row of T at batch %d; "
                            "raised to %.6g (%g effective neighbours)\n",
                    gl_sigma_mode_name(o->obj.sigma_mode), si.heuristic_sigma, si.heuristic_neff, B, si.sigma, o->obj.sigma_floor);
        if (!o->quiet)
            fprintf(stderr, "sigma (%s) = %.6g from %zu training documents%s: %.2f effective neighbours per row of T "
                            "(median, batch %d)\n",
                    gl_sigma_mode_name(o->obj.sigma_mode), si.sigma, m, m < n ? " (a seeded sample)" : "", si.neff, B);
    }
    free(X);
    gl_split_free(&sub);
    return rc;
}

static int trainer_setup(trainer *t, gl_train_opts *o) {
    memset(t, 0, sizeof *t);
    if (mkdir_p(o->out_dir) != 0) return -1;
    /* config, weights and vocabulary, checked together (model/model_open.h) */
    if (gl_model_open(o->model_dir, &t->model, &t->tok) != 0) return -1;
    gl_bert *m = &t->model;
    gl_pool_choice pc; /* --pool auto becomes the checkpoint's own pooling (model/pool_auto.h) */
    if (gl_pool_resolve(m, o->model_dir, o->pool, &pc) != 0) return -1;
    o->pool = pc.pool;
    if (!o->quiet) fprintf(stderr, "pool %s (%s)\n", gl_pool_name(pc.pool), pc.source);
    if (o->max_length > m->cfg.max_position_embeddings)
        return gl_error("--max-length %d exceeds the model's %d positions", o->max_length,
                        m->cfg.max_position_embeddings);
    if (gl_dataset_load(&t->data, o->data_dir, o->text_col, o->label_col, t->tok, o->max_length, o->val_frac,
                        o->seed) != 0)
        return -1;
    if (o->limit_train && o->limit_train < t->data.train.n) t->data.train.n = o->limit_train;
    if (gl_bert_set_head(m, t->data.K, o->seed) != 0 || gl_bert_alloc_grads(m) != 0) return -1;
    if (gl_adamw_init(&t->opt, m->size, o->lr, o->weight_decay) != 0) return -1;
    if (o->head_lr > 0) { /* the head (cls_w, cls_b) is the tail of the parameter buffer */
        t->opt.tail = (size_t)(m->p.cls_w - m->params);
        t->opt.tail_lr_scale = o->head_lr / o->lr;
    }
    t->decay = gl_malloc(m->size);
    t->best = gl_malloc(m->size * sizeof(float));
    t->st.hist = gl_calloc((size_t)o->epochs + 1, sizeof(epoch_row));
    if (!t->decay || !t->best || !t->st.hist) return -1;
    for (int i = 0; i < m->nparams; i++)
        memset(t->decay + m->table[i].offset, m->table[i].decay, m->table[i].numel);
    memcpy(t->best, m->params, m->size * sizeof(float));
    t->obj = gl_objective_resolve(&o->obj);
    if (o->obj.kind == GL_LOSS_GLOSS && o->obj.sigma_mode != GL_SIGMA_VALUE) return resolve_sigma(t, o);
    return 0;
}

/* Set asynchronously (signal handlers): finish the current step, checkpoint, stop. */
static volatile sig_atomic_t g_interrupt = 0;
void gl_train_interrupt(void) { g_interrupt = 1; }

#define MAX_NONFINITE_IN_A_ROW 5

/* Fault injection for the tests: GLOSS_FAULT_NAN_STEPS="a-b" makes the loss
 * of training steps a..b (1-based, global) NaN. */
static int fault_nan(int64_t step) {
    const char *e = getenv("GLOSS_FAULT_NAN_STEPS");
    long long a, b;
    return e && sscanf(e, "%lld-%lld", &a, &b) == 2 && step >= a && step <= b;
}

/* GLOSS_FAULT_OOM_STEP=n: the embedding loss's workspace allocation fails at
 * training step n (1-based, global), as gl_objective_embedding_loss reports
 * a real failure: -1 with an out-of-memory error. */
static int fault_oom(int64_t step) {
    const char *e = getenv("GLOSS_FAULT_OOM_STEP");
    long long n;
    char end;
    if (!e || sscanf(e, "%lld%c", &n, &end) != 1 || n != step) return 0;
    return gl_error_oom("embedding loss: out of memory (injected by GLOSS_FAULT_OOM_STEP=%lld)", n);
}

/* An allocation failure during a step: an error that stops the run (the
 * epoch's checkpoint is not written), never a skipped "non-finite" step. */
static int step_oom(const gl_train_opts *o, int64_t step) {
    char why[1024];
    snprintf(why, sizeof why, "%s", gl_error_message());
    return gl_error_oom("step %lld: %s; stopped (the checkpoint of the last completed epoch in %s is intact; "
                        "--resume continues from it)",
                        (long long)step, why, o->out_dir);
}

static double norm2f(const float *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s);
}

/* One training epoch (or its remainder after an interruption). Returns 0 when
 * the epoch is complete (mean loss in *loss_out), 3 when interrupted (the
 * partial sums are in t->st), -1 on error. */
static int train_epoch(trainer *t, const gl_train_opts *o, int epoch, double *loss_out, double *tokens_out,
                       epoch_diag *diag_out) {
    gl_bert *m = &t->model;
    const gl_split *tr = &t->data.train;
    const int C = m->cfg.hidden_size, K = t->data.K, Bmax = o->batch_size;
    const size_t n = tr->n;
    const int64_t steps_per_epoch = (int64_t)((n + (size_t)Bmax - 1) / (size_t)Bmax);
    const int64_t total_steps = steps_per_epoch * o->epochs;
    size_t *order = gl_malloc(n * sizeof(size_t));
    size_t *batch_perm = gl_malloc((size_t)steps_per_epoch * sizeof(size_t) + 1);
    float *pooled = gl_malloc((size_t)Bmax * C * sizeof(float) * 4);
    float *logits = gl_malloc((size_t)Bmax * K * sizeof(float) * 2);
    float *dH = gl_malloc((size_t)Bmax * o->max_length * C * sizeof(float));
    batch_buf b = {0};
    gl_bert_acts acts = {0};
    int rc = (order && batch_perm && pooled && logits && dH) ? 0 : -1;
    if (rc == 0) rc = batch_alloc(&b, Bmax, o->max_length);
    if (rc == 0) rc = gl_bert_acts_init(&acts, m, Bmax, o->max_length);
    double loss_sum = t->st.epoch_loss, tokens = t->st.epoch_tokens;
    epoch_diag dg = t->st.epoch_diag;
    int bad_in_a_row = 0, interrupted = 0;
    if (rc == 0) {
        /* the epoch's order depends only on (seed, epoch): resuming reproduces it */
        for (size_t i = 0; i < n; i++) order[i] = i;
        gl_rng r = {gl_rng_key(o->seed, 0x6f72646572ull + (uint64_t)epoch)};
        gl_rng_shuffle(&r, order, n);
        for (int64_t k = 0; k < steps_per_epoch; k++) batch_perm[k] = (size_t)k;
        if (o->bucket) {
            /* length bucketing: sort chunks of 50 batches by length, cut them into
             * batches, then visit the batches in a random order */
            const size_t chunk = 50 * (size_t)Bmax;
            g_sort_split = tr;
            for (size_t c0 = 0; c0 < n; c0 += chunk)
                qsort(order + c0, n - c0 < chunk ? n - c0 : chunk, sizeof(size_t), by_length);
            gl_rng_shuffle(&r, batch_perm, (size_t)steps_per_epoch);
        }
    }
    float *pooled_d = pooled + (size_t)Bmax * C, *dpooled = pooled_d + (size_t)Bmax * C;
    float *demb = dpooled + (size_t)Bmax * C; /* the embedding loss's gradient at the pooled vector */
    float *dlogits = logits + (size_t)Bmax * K;
    gl_progress bar;
    char label[32], status[96];
    snprintf(label, sizeof label, "epoch %d/%d", epoch + 1, o->epochs);
    gl_progress_start(&bar, stderr, label, (size_t)steps_per_epoch, "steps", o->quiet);
    int64_t s, first_step = t->st.epoch_step;
    for (s = first_step; rc == 0 && s < steps_per_epoch; s++) {
        if (g_interrupt) {
            interrupted = 1;
            break;
        }
        size_t start = batch_perm[s] * (size_t)Bmax;
        int B = (int)(n - start < (size_t)Bmax ? n - start : (size_t)Bmax);
        batch_fill(&b, tr, order + start, B, 0, o->pad_to_max ? o->max_length : 0);
        if ((rc = batch_check(&b, m, tr, order + start)) != 0) break;
        const int T = b.T;
        uint64_t key = gl_rng_key(o->seed, 0x73746570ull ^ ((uint64_t)t->st.step << 8));
        const float *H = gl_bert_forward(m, &acts, b.ids, b.mask, B, T, 1, key);
        rc = gl_pool_forward(m, o->pool, pooled, H, b.mask, B, T);
        if (rc != 0) break;
        const gl_objective *ob = &t->obj;
        const double *cw = o->class_weights ? t->data.class_weights : NULL;
        const int use_ce = ob->kind == GL_LOSS_CE || !ob->standalone;
        const int balance = ob->kind != GL_LOSS_CE && use_ce && ob->balance > 0;
        const double w_ce = ob->kind == GL_LOSS_CE || balance ? 1.0 : 1.0 - ob->lambda;
        double w_emb = ob->standalone ? 1.0 : ob->lambda;
        gl_bert_zero_grads(m);
        memset(dpooled, 0, (size_t)B * C * sizeof(float));
        double loss = 0.0;
        if (use_ce) {
            /* classifier dropout (as BertForSequenceClassification) on the pooled vector */
            uint64_t hkey = gl_rng_key(key, 0x68656164ull);
            memcpy(pooled_d, pooled, (size_t)B * C * sizeof(float));
            gl_dropout_apply(pooled_d, (size_t)B * C, m->hidden_dropout, hkey);
            gl_linear_forward(logits, pooled_d, m->p.cls_w, m->p.cls_b, B, C, K);
            loss = w_ce * gl_ce_forward_backward(logits, b.y, cw, B, K, dlogits, w_ce);
            gl_linear_backward(dpooled, m->g.cls_w, m->g.cls_b, dlogits, pooled_d, m->p.cls_w, B, C, K);
            gl_dropout_apply(dpooled, (size_t)B * C, m->hidden_dropout, hkey);
        }
        if (ob->kind != GL_LOSS_CE) {
            /* the authors' code divides G by |U| again in combined mode (reference variant) */
            if (ob->kind == GL_LOSS_GLOSS && ob->gloss.variant == GL_GLOSS_VARIANT_REFERENCE && !ob->standalone &&
                !balance) {
                int nU = B - (int)(ob->gamma * B + 0.5);
                if (nU > 0) w_emb /= nU;
            }
            int skipped;
            const gl_gloss_stats g0 = t->gstats;
            memset(demb, 0, (size_t)B * C * sizeof(float));
            double E;
            if (fault_oom(t->st.step + 1) != 0 ||
                gl_objective_embedding_loss(ob, pooled, b.y, B, C, K, cw, balance ? 1.0 : w_emb,
                                            gl_rng_key(key, 0x67726170ull), demb, &t->gstats, &skipped, &E) != 0) {
                rc = step_oom(o, t->st.step + 1);
                break;
            }
            double n_ce = use_ce ? norm2f(dpooled, (size_t)B * C) : 0.0, n_e = norm2f(demb, (size_t)B * C);
            if (balance) { /* CE + beta E, beta such that |beta dE| = balance |dCE| at the pooled vector */
                w_emb = n_ce > 0 && n_e > 0 && isfinite(n_e) ? ob->balance * n_ce / n_e : 0.0;
                for (size_t i = 0; i < (size_t)B * C; i++) demb[i] = (float)(demb[i] * w_emb);
                n_e *= w_emb;
            }
            if (use_ce && n_ce > 0 && n_e > 0 && isfinite(n_e)) {
                dg.ratio_sum += n_e / n_ce;
                dg.ratio_n += 1;
                dg.beta_sum += w_emb;
            }
            for (size_t i = 0; i < (size_t)B * C; i++) dpooled[i] += demb[i];
            dg.lp_nodes += (double)(t->gstats.hidden_nodes - g0.hidden_nodes);
            dg.lp_correct += (double)(t->gstats.hidden_correct - g0.hidden_correct);
            dg.neff_sum += t->gstats.neff_sum - g0.neff_sum;
            dg.neff_n += (double)(t->gstats.neff_batches - g0.neff_batches);
            dg.skipped += skipped;
            dg.clamped += (double)(t->gstats.clamped - g0.clamped);
            loss += w_emb * E; /* NaN makes this a non-finite step (allocation failures stopped above) */
        }
        memset(dH, 0, (size_t)B * T * C * sizeof(float));
        rc = gl_pool_backward(m, o->pool, dH, dpooled, pooled, H, b.mask, B, T);
        if (rc != 0) break;
        gl_bert_backward(m, &acts, dH);
        double gnorm = gl_clip_grad_norm(m->grads, m->size, o->clip > 0 ? o->clip : INFINITY);
        t->st.step++;
        if (fault_nan(t->st.step)) loss = NAN;
        if (!isfinite(loss) || !isfinite(gnorm)) {
            /* skip the update; the weights stay those of the last good step */
            t->st.nonfinite++;
            bad_in_a_row++;
            fprintf(stderr, "\nwarning: step %lld: %s is %s; step skipped (%lld so far)\n", (long long)t->st.step,
                    isfinite(loss) ? "the gradient norm" : "the loss", isnan(isfinite(loss) ? gnorm : loss) ? "NaN" : "infinite",
                    (long long)t->st.nonfinite);
            if (bad_in_a_row >= MAX_NONFINITE_IN_A_ROW) {
                rc = gl_error("%d steps in a row with a non-finite loss or gradient; stopped (the checkpoint of the "
                              "last completed epoch in %s is intact; try a lower --lr)",
                              bad_in_a_row, o->out_dir);
                break;
            }
            continue;
        }
        bad_in_a_row = 0;
        t->opt.lr = gl_schedule_lr(o, t->st.step - 1, total_steps, epoch);
        gl_adamw_step(&t->opt, m->params, m->grads, t->decay);
        t->st.adam_step = t->opt.step;
        loss_sum += loss * B;
        for (int i = 0; i < B * T; i++) tokens += b.mask[i];
        double el = gl_now() - bar.t0;
        snprintf(status, sizeof status, "loss %.4f  lr %.2e  %.1f seq/s", loss_sum / (double)(s * Bmax + B), t->opt.lr,
                 el > 0 ? (double)((s - first_step + 1) * Bmax) / el : 0.0);
        gl_progress_update(&bar, (size_t)s + 1, status);
    }
    snprintf(status, sizeof status, "loss %.4f", loss_sum / (double)(n ? n : 1));
    if (rc == 0 && !interrupted) gl_progress_finish(&bar, status);
    t->st.epoch_step = interrupted ? s : 0;
    t->st.epoch_loss = interrupted ? loss_sum : 0;
    t->st.epoch_tokens = interrupted ? tokens : 0;
    *diag_out = dg;
    memset(&t->st.epoch_diag, 0, sizeof t->st.epoch_diag);
    if (interrupted) t->st.epoch_diag = dg;
    gl_bert_acts_free(&acts);
    batch_free(&b);
    free(order);
    free(batch_perm);
    free(pooled);
    free(logits);
    free(dH);
    *tokens_out = tokens;
    *loss_out = loss_sum / (double)(n ? n : 1);
    return rc != 0 ? -1 : interrupted ? 3 : 0;
}

/* Standalone mode: the head is a linear probe fitted on frozen training
 * embeddings, once per L2 penalty of o->probe_l2; the fit with the best
 * validation macro-F1 becomes the head (ties: the stronger penalty). */
static int fit_probe(trainer *t, const gl_train_opts *o, int epoch) {
    gl_bert *m = &t->model;
    const gl_split *tr = &t->data.train, *va = &t->data.val;
    const int C = m->cfg.hidden_size, K = t->data.K, nl = o->n_probe_l2;
    const int choose = nl > 1 && va->n > 0;
    float *X = gl_malloc(sizeof(float) * tr->n * (size_t)C);
    float *Xv = choose ? gl_malloc(sizeof(float) * va->n * (size_t)C) : NULL;
    float *W = gl_malloc(sizeof(float) * ((size_t)K * C + K)), *logit = choose ? gl_malloc(sizeof(float) * K) : NULL;
    int *pred = choose ? gl_malloc(sizeof(int) * va->n) : NULL;
    int rc = X && W && (!choose || (Xv && logit && pred)) ? 0 : -1;
    if (rc == 0) rc = gl_predict_split(m, tr, o->pool, o->eval_batch_size, NULL, X, o->quiet, "probe");
    if (rc == 0 && choose) rc = gl_predict_split(m, va, o->pool, o->eval_batch_size, NULL, Xv, o->quiet, "probe val");
    json_t *fits = json_array();
    double best_f1 = -1.0;
    int best = -1;
    /* strongest penalty first, so that a tie keeps it */
    for (int j = nl - 1; rc == 0 && j >= 0; j--) {
        gl_probe_info info = {0};
        float *b = W + (size_t)K * C;
        rc = gl_probe_fit(X, tr->label, tr->n, C, K, o->class_weights ? t->data.class_weights : NULL, o->probe_iters,
                          o->probe_l2[j], W, b, &info);
        if (rc != 0) break;
        double f1 = NAN;
        if (choose) {
            for (size_t i = 0; i < va->n; i++) {
                gl_linear_forward(logit, Xv + i * (size_t)C, W, b, 1, C, K);
                int a = 0;
                for (int k = 1; k < K; k++) a = logit[k] > logit[a] ? k : a;
                pred[i] = a;
            }
            gl_metrics vm = {0};
            rc = gl_metrics_compute(&vm, va->label, pred, va->n, K);
            f1 = vm.macro_f1;
            gl_metrics_free(&vm);
            if (rc != 0) break;
        }
        json_array_append_new(fits, json_pack("{s:f, s:i, s:b, s:f, s:o}", "l2", o->probe_l2[j], "iterations",
                                              info.iterations, "converged", info.converged, "loss", info.loss,
                                              "val_macro_f1", choose ? json_real(f1) : json_null()));
        if (!o->quiet)
            fprintf(stderr, "probe l2 %g: %d L-BFGS iterations%s, loss %.5f%s", o->probe_l2[j], info.iterations,
                    info.converged ? "" : " (stopped before the gradient test)", info.loss, choose ? "" : "\n");
        if (!o->quiet && choose) fprintf(stderr, ", val macro-F1 %.4f\n", f1);
        if (best < 0 || (choose && f1 > best_f1)) {
            best = j;
            best_f1 = f1;
            memcpy(m->p.cls_w, W, sizeof(float) * (size_t)K * C);
            memcpy(m->p.cls_b, b, sizeof(float) * K);
        }
    }
    if (rc == 0) {
        if (!o->quiet && choose) fprintf(stderr, "probe: l2 %g chosen\n", o->probe_l2[best]);
        if (!t->probe_log) t->probe_log = json_array();
        json_array_append_new(t->probe_log, json_pack("{s:i, s:f, s:o}", "epoch", epoch + 1, "l2", o->probe_l2[best],
                                                       "fits", fits));
    } else {
        json_decref(fits);
    }
    free(X), free(Xv), free(W), free(logit), free(pred);
    return rc;
}

/* Silhouette of the evaluation embeddings, their .npy, and 2-D maps (t-SNE and PCA). */
static int embedding_report(trainer *t, const gl_train_opts *o, const gl_split *s, const float *emb,
                            const char *split_name, json_t **out) {
    const int C = t->model.cfg.hidden_size, K = t->data.K;
    json_t *j = json_object();
    *out = j;
    double micro = NAN, macro = NAN;
    double *per = gl_calloc((size_t)K, sizeof(double));
    if (!per) return -1;
    json_t *sil = json_object();
    if (gl_silhouette_cosine(emb, s->label, s->n, C, K, &micro, &macro, per) == 0) {
        json_t *pc = json_object();
        for (int k = 0; k < K; k++) json_object_set_new(pc, t->data.labels[k], json_real(per[k]));
        json_object_set_new(sil, "micro", json_real(micro));
        json_object_set_new(sil, "macro", json_real(macro));
        json_object_set_new(sil, "per_class", pc);
    }
    free(per);
    json_object_set_new(sil, "split", json_string(split_name));
    json_object_set_new(sil, "distance", json_string("cosine"));
    json_object_set_new(j, "silhouette", sil);
    json_t *obj = objective_json(&t->obj);
    if (t->obj.kind == GL_LOSS_GLOSS) {
        json_object_set_new(obj, "sigma", json_real(t->obj.gloss.sigma));
        if (t->obj.sigma_mode != GL_SIGMA_VALUE) json_object_set_new(obj, "sigma_documents", json_integer((json_int_t)t->sigma_used));
        if (t->sigma.neff > 0) json_object_set_new(obj, "sigma_effective_neighbours", json_real(t->sigma.neff));
        if (t->sigma.floored)
            json_object_set_new(obj, "sigma_floor",
                                json_pack("{s:f, s:f, s:f}", "heuristic_sigma", t->sigma.heuristic_sigma,
                                          "heuristic_effective_neighbours", t->sigma.heuristic_neff,
                                          "effective_neighbours", t->sigma.neff));
        const gl_gloss_stats *g = &t->gstats;
        json_object_set_new(j, "gloss_stats",
                            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:s}", "batches", (json_int_t)g->batches,
                                      "skipped_no_hidden", (json_int_t)g->skipped_no_hidden, "skipped_no_labelled",
                                      (json_int_t)g->skipped_no_labelled, "skipped_singular",
                                      (json_int_t)g->skipped_singular, "clamped_probabilities", (json_int_t)g->clamped,
                                      "low_degree_nodes", (json_int_t)g->low_degree, "note",
                                      "counted in this process (since the last --resume)"));
    }
    json_object_set_new(j, "objective", obj);

    char name[64];
    snprintf(name, sizeof name, "%s_embeddings.npy", split_name);
    char *p = out_path(o, name);
    int rc = p ? gl_npy_write_f32(p, emb, (int64_t)s->n, C) : -1;
    free(p);
    if (rc != 0 || o->map_points <= 0 || s->n < 3) return rc;
    /* maps: PCA of everything, t-SNE of a seeded sample */
    double *xy = gl_malloc(sizeof(double) * s->n * 2);
    double *px = gl_malloc(sizeof(double) * s->n * 2);
    if (!xy || !px) {
        free(xy);
        free(px);
        return -1;
    }
    double *py = px + s->n;
    const char *const *names = (const char *const *)t->data.labels;
    if (gl_pca_2d(emb, s->n, C, xy) == 0) {
        for (size_t i = 0; i < s->n; i++) px[i] = xy[2 * i], py[i] = xy[2 * i + 1];
        char title[128];
        snprintf(title, sizeof title, "PCA of the %s embeddings (%s)", split_name, gl_loss_name(t->obj.kind));
        p = out_path(o, "embedding_pca.svg");
        rc = p ? gl_svg_scatter(p, title, px, py, s->label, (int)s->n, K, names) : -1;
        free(p);
    }
    size_t m = s->n < (size_t)o->map_points ? s->n : (size_t)o->map_points;
    size_t *idx = gl_malloc(sizeof(size_t) * s->n);
    float *sub = gl_malloc(sizeof(float) * m * (size_t)C);
    int *lab = gl_malloc(sizeof(int) * m);
    if (rc == 0 && idx && sub && lab) {
        for (size_t i = 0; i < s->n; i++) idx[i] = i;
        gl_rng r = {gl_rng_key(o->seed, 0x74736e65ull)};
        gl_rng_sample_prefix(&r, idx, s->n, m);
        for (size_t i = 0; i < m; i++) {
            memcpy(sub + i * C, emb + idx[i] * C, sizeof(float) * (size_t)C);
            lab[i] = s->label[idx[i]];
        }
        if (!o->quiet) fprintf(stderr, "t-SNE map of %zu %s embeddings ...\n", m, split_name);
        if (gl_tsne_2d(sub, m, C, 30.0, 1000, o->seed, xy) == 0) {
            for (size_t i = 0; i < m; i++) px[i] = xy[2 * i], py[i] = xy[2 * i + 1];
            char title[128];
            snprintf(title, sizeof title, "t-SNE of %zu %s embeddings (%s)", m, split_name, gl_loss_name(t->obj.kind));
            p = out_path(o, "embedding_map.svg");
            rc = p ? gl_svg_scatter(p, title, px, py, lab, (int)m, K, names) : -1;
            free(p);
        }
    } else if (rc == 0) {
        rc = -1;
    }
    free(idx);
    free(sub);
    free(lab);
    free(xy);
    free(px);
    return rc;
}

/* One line per epoch: how strongly the embedding loss shapes the encoder. */
static void log_diag(const gl_objective *ob, const epoch_diag *d) {
    fprintf(stderr, "  %s:", ob->kind == GL_LOSS_GLOSS ? "G-Loss" : gl_loss_name(ob->kind));
    if (!ob->standalone && d->ratio_n > 0)
        fprintf(stderr, " gradient at the pooled vector %.3g x cross-entropy's (weight %.3g)", d->ratio_sum / d->ratio_n,
                d->beta_sum / d->ratio_n);
    if (ob->kind == GL_LOSS_GLOSS) {
        if (d->lp_nodes > 0) fprintf(stderr, "; propagation accuracy %.4f on hidden nodes", d->lp_correct / d->lp_nodes);
        if (d->neff_n > 0) fprintf(stderr, "; %.2f effective neighbours per row of T", d->neff_sum / d->neff_n);
        fprintf(stderr, "; %.0f batches skipped, %.0f nodes clamped", d->skipped, d->clamped);
    }
    fputc('\n', stderr);
}

int gl_train(const gl_train_opts *o_in) {
    gl_train_opts resolved = *o_in; /* trainer_setup resolves --pool auto in it */
    const gl_train_opts *o = &resolved;
    trainer t;
    int rc = trainer_setup(&t, &resolved);
    gl_bert *m = &t.model;
    if (rc == 0 && o->resume) {
        rc = load_checkpoint(o, m, &t.opt, t.best, &t.st);
        if (rc == 0 && !o->quiet)
            fprintf(stderr, "resuming after epoch %d (step %lld)\n", t.st.epochs_done, (long long)t.st.step);
    }
    if (rc == 0 && !o->quiet)
        fprintf(stderr, "train %zu, val %zu%s, test %zu documents; %d classes; %zu parameters; pool %s\n",
                t.data.train.n, t.data.val.n, t.data.val_from_train ? " (carved from train)" : "", t.data.test.n,
                t.data.K, m->size, gl_pool_name(o->pool));
    gl_metrics val = {0}, test = {0};
    int stopped = 0, interrupted = 0;
    while (rc == 0 && t.st.epochs_done < o->epochs) {
        if (o->patience > 0 && t.st.bad_epochs >= o->patience) break;
        if (o->stop_after > 0 && t.st.epochs_done >= o->stop_after) {
            stopped = 1;
            break;
        }
        int epoch = t.st.epochs_done;
        double t0 = gl_now() - t.st.epoch_seconds, tokens = 0, loss = 0;
        epoch_diag diag;
        if (o->bf16 && gl_linear_set_bf16(1) != 0) {
            gl_error("--bf16: this CPU has no AVX512-BF16");
            rc = -1;
            break;
        }
        int er = train_epoch(&t, o, epoch, &loss, &tokens, &diag);
        gl_linear_set_bf16(0); /* validation, test and export stay fp32 */
        if (er == 3) { /* interrupted at a step boundary: checkpoint and stop */
            t.st.epoch_seconds = gl_now() - t0;
            rc = save_checkpoint(o, m, &t.opt, t.best, &t.st);
            if (rc == 0) interrupted = 1;
            break;
        }
        t.st.epoch_seconds = 0;
        if (er != 0) {
            rc = -1;
            break;
        }
        double train_s = gl_now() - t0;
        if (t.obj.standalone && t.obj.kind != GL_LOSS_CE && (rc = fit_probe(&t, o, epoch)) != 0) break;
        gl_metrics_free(&val);
        rc = evaluate(m, &t.data.val, o, &val, "validate", NULL);
        if (rc != 0) break;
        double secs = gl_now() - t0;
        epoch_row *r = &t.st.hist[t.st.nhist++];
        *r = (epoch_row){epoch + 1, loss, val.accuracy, val.macro_f1, secs, train_s > 0 ? tokens / train_s : 0,
                         train_s, diag};
        t.st.epochs_done++;
        t.st.seconds += secs;
        int improved = t.st.best_epoch == 0 || val.macro_f1 > t.st.best_f1;
        if (improved) {
            t.st.best_epoch = epoch + 1;
            t.st.best_f1 = val.macro_f1;
            t.st.bad_epochs = 0;
            memcpy(t.best, m->params, m->size * sizeof(float));
        } else {
            t.st.bad_epochs++;
        }
        if (!o->quiet)
            fprintf(stderr, "epoch %d: loss %.4f  val accuracy %.4f  val macro-F1 %.4f%s  (%.1f s, %.0f tokens/s)\n",
                    epoch + 1, loss, val.accuracy, val.macro_f1, improved ? "  best" : "", secs, r->tokens_per_s);
        if (!o->quiet && t.obj.kind != GL_LOSS_CE) log_diag(&t.obj, &diag);
        rc = save_checkpoint(o, m, &t.opt, t.best, &t.st);
        if (rc == 0) rc = write_epochs_csv(o, &t.st);
        if (rc == 0) rc = write_curves(o, &t.st);
    }
    if (rc == 0 && (stopped || interrupted)) {
        if (interrupted)
            fprintf(stderr, "\ninterrupted: checkpoint written after step %lld (epoch %d, step %lld of it); "
                            "continue with --resume\n",
                    (long long)t.st.step, t.st.epochs_done + 1, (long long)t.st.epoch_step);
        else if (!o->quiet)
            fprintf(stderr, "stopped after epoch %d; continue with --resume\n", t.st.epochs_done);
        gl_metrics_free(&val);
        trainer_free(&t);
        return 3;
    }
    json_t *extra = NULL;
    if (rc == 0) {
        /* restore the best epoch's weights, then final validation and test */
        memcpy(m->params, t.best, m->size * sizeof(float));
        gl_metrics_free(&val);
        rc = evaluate(m, &t.data.val, o, &val, "validate", NULL);
        const gl_split *es = t.data.has_test ? &t.data.test : &t.data.val;
        float *emb = rc == 0 ? gl_malloc(sizeof(float) * es->n * (size_t)m->cfg.hidden_size) : NULL;
        if (rc == 0 && !emb) rc = -1;
        if (rc == 0 && t.data.has_test) rc = evaluate(m, &t.data.test, o, &test, "test", emb);
        else if (rc == 0) rc = gl_predict_split(m, es, o->pool, o->eval_batch_size, NULL, emb, o->quiet, "embed");
        if (rc == 0) rc = embedding_report(&t, o, es, emb, t.data.has_test ? "test" : "val", &extra);
        if (rc == 0 && t.probe_log) {
            json_object_set_new(extra, "probe_fits", t.probe_log);
            t.probe_log = NULL;
        }
        free(emb);
        if (rc == 0) rc = write_metrics(o, &t.data, &val, t.data.has_test ? &test : NULL, &t.st, extra);
        if (rc == 0) rc = gl_hf_export(o->model_dir, o->out_dir, m, t.data.labels, t.data.K, o->pool,
                                       o->max_length);
        if (rc == 0 && !o->quiet) {
            fprintf(stderr, "best epoch %d: val accuracy %.4f macro-F1 %.4f\n", t.st.best_epoch, val.accuracy,
                    val.macro_f1);
            if (t.data.has_test)
                fprintf(stderr, "test: accuracy %.4f  macro-F1 %.4f  weighted-F1 %.4f  (%zu documents)\n",
                        test.accuracy, test.macro_f1, test.weighted_f1, t.data.test.n);
            json_t *sil = json_object_get(extra, "silhouette");
            fprintf(stderr, "silhouette (cosine) of the %s embeddings: %.4f (macro over classes %.4f)\n",
                    t.data.has_test ? "test" : "val", json_real_value(json_object_get(sil, "micro")),
                    json_real_value(json_object_get(sil, "macro")));
            fprintf(stderr, "wrote %s/{metrics.json,epochs.csv,training.svg,embedding_map.svg,model.safetensors,...}\n",
                    o->out_dir);
        }
    }
    json_decref(extra);
    gl_metrics_free(&val);
    gl_metrics_free(&test);
    trainer_free(&t);
    return rc;
}
