/* trainer.c: the fine-tuning job. Setup (model, data, head, optimiser, G-Loss's
 * sigma), resume from a checkpoint, the epoch loop (gl_train_epoch in epoch.c,
 * validation, early stopping on validation macro-F1, an atomic checkpoint per
 * epoch), then the best epoch's weights restored, evaluated on test, reported
 * and exported in Hugging Face layout. */
#include "train/trainer.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/kernels.h"
#include "model/hf_export.h"
#include "model/model_open.h"
#include "model/pool_auto.h"
#include "train/train_internal.h"
#include "util/error.h"
#include "util/clock.h"

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
    o->comm_timeout = 300;
}

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

static void trainer_free(gl_trainer *t) {
    gl_step_log_close(t);
    gl_model_close(&t->model, &t->tok);
    gl_dataset_free(&t->data);
    gl_adamw_free(&t->opt);
    free(t->decay);
    free(t->best);
    free(t->st.hist);
    json_decref(t->probe_log);
}

/* What each process sets up on its own: the output directory (rank 0), the
 * model, the data, the head and the optimiser. */
static int setup_local(gl_trainer *t, gl_train_opts *o) {
    if (gl_train_writer(o) && mkdir_p(o->out_dir) != 0) return -1;
    /* config, weights and vocabulary, checked together (model/model_open.h) */
    if (gl_model_open(o->model_dir, &t->model, &t->tok) != 0) return -1;
    gl_bert *m = &t->model;
    gl_pool_choice pc; /* --pool auto becomes the checkpoint's own pooling (model/pool_auto.h) */
    if (gl_pool_resolve(m, o->model_dir, o->pool, &pc) != 0) return -1;
    o->pool = pc.pool;
    gl_train_info(o, "pool %s (%s)", gl_pool_name(pc.pool), pc.source);
    if (o->max_length > m->cfg.max_position_embeddings)
        return gl_error("--max-length %d exceeds the model's %d positions", o->max_length,
                        m->cfg.max_position_embeddings);
    if (gl_dataset_load(&t->data, o->data_dir, o->text_col, o->label_col, t->tok, o->max_length, o->val_frac,
                        o->seed) != 0)
        return -1;
    if (o->limit_train && o->limit_train < t->data.train.n) t->data.train.n = o->limit_train;
    if (gl_head_init(m, t->data.K, o) != 0 || gl_bert_alloc_grads(m) != 0) return -1;
    if (gl_adamw_init(&t->opt, m->size, o->lr, o->weight_decay) != 0) return -1;
    gl_head_set_lr(&t->opt, m, o);
    t->decay = gl_malloc(m->size);
    t->best = gl_malloc(m->size * sizeof(float));
    t->st.hist = gl_calloc((size_t)o->epochs + 1, sizeof(gl_epoch_row));
    if (!t->decay || !t->best || !t->st.hist) return -1;
    for (int i = 0; i < m->nparams; i++)
        memset(t->decay + m->table[i].offset, m->table[i].decay, m->table[i].numel);
    memcpy(t->best, m->params, m->size * sizeof(float));
    t->obj = gl_objective_resolve(&o->obj);
    return 0;
}

static int trainer_setup(gl_trainer *t, gl_train_opts *o) {
    memset(t, 0, sizeof *t);
    int rc = setup_local(t, o);
    if (o->comm) { /* every process set up, with the same inputs, or none goes on */
        rc = gl_comm_agree(o->comm, rc, NULL, -1);
        if (rc == 0) rc = gl_sync_check_inputs(t, o);
        if (rc == 0) {
            int P = gl_comm_size(o->comm), share = (o->batch_size + P - 1) / P;
            const int th = omp_get_max_threads();
            gl_train_info(o, "distributed: %d processes x %d thread%s; each computes the encoder for %d%s of the %d "
                             "documents of a batch, the losses see all of them",
                          P, th, th == 1 ? "" : "s", share, o->batch_size % P ? " or fewer" : "", o->batch_size);
        }
    }
    if (rc != 0) return -1;
    if (o->obj.kind == GL_LOSS_GLOSS && o->obj.sigma_mode != GL_SIGMA_VALUE) return gl_train_resolve_sigma(t, o);
    return 0;
}

/* After rank 0 wrote (rc: how that went), every process knows how it went. */
static int written(const gl_train_opts *o, int rc) { return o->comm ? gl_comm_agree(o->comm, rc, NULL, -1) : rc; }

/* The checkpoint, written by rank 0. */
static int save_checkpoint(gl_trainer *t, const gl_train_opts *o) {
    int rc = gl_train_writer(o) ? gl_checkpoint_save(o, &t->model, &t->opt, t->best, &t->st) : 0;
    return written(o, rc);
}

/* A stop asked on any process is a stop on all of them. */
static int agree_cancel(gl_trainer *t, const gl_train_opts *o) {
    return o->comm ? gl_comm_agree(o->comm, 0, &t->cancel, -1) : 0;
}

/* A cancel during the final passes: the checkpoint of the last epoch is
 * there; --resume evaluates again and writes the outputs. */
static int cancelled_after_training(const gl_trainer *t, const gl_train_opts *o) {
    gl_log(&o->hooks, GL_LOG_WARN,
           "interrupted: training is complete (checkpoint after epoch %d); continue with --resume to evaluate "
           "and write the outputs",
           t->st.epochs_done);
    return GL_TRAIN_CANCELLED;
}

/* The end of a completed run: the best epoch's weights, evaluated on
 * validation and test, the embeddings' report, metrics.json, the export. */
static int finish(gl_trainer *t, const gl_train_opts *o, gl_metrics *val, gl_metrics *test, const char *kernels) {
    if (agree_cancel(t, o) != 0) return -1;
    if (t->cancel) return cancelled_after_training(t, o);
    gl_bert *m = &t->model;
    json_t *extra = NULL;
    memcpy(m->params, t->best, m->size * sizeof(float));
    gl_metrics_free(val);
    /* the passes of the best epoch's weights */
    int rc = gl_evaluate(t, o, &t->data.val, GL_STAGE_VAL, t->st.best_epoch, val, NULL);
    const gl_split *es = t->data.has_test ? &t->data.test : &t->data.val;
    float *emb = rc == 0 ? gl_malloc(sizeof(float) * es->n * (size_t)m->cfg.hidden_size) : NULL;
    if (rc == 0 && !emb) rc = -1;
    if (o->comm) rc = gl_comm_agree(o->comm, rc, NULL, -1);
    if (rc == 0 && t->data.has_test) rc = gl_evaluate(t, o, &t->data.test, GL_STAGE_TEST, t->st.best_epoch, test, emb);
    else if (rc == 0)
        rc = gl_predict_pass(m, es, o->pool, o->eval_batch_size, NULL, emb, gl_train_progress(o), GL_STAGE_EMBED,
                             t->st.best_epoch, o->epochs, &t->cancel, o->comm);
    if (rc == 0) rc = agree_cancel(t, o);
    if (rc == 0 && t->cancel) {
        free(emb);
        return cancelled_after_training(t, o);
    }
    /* the outputs, from rank 0; the others wait for them without a time limit (t-SNE takes a while) */
    if (rc == 0 && gl_train_writer(o)) {
        rc = gl_embedding_report(t, o, es, emb, t->data.has_test ? "test" : "val", &extra);
        if (rc == 0) json_object_set_new(extra, "kernels", json_string(kernels)); /* what the matrix products ran on */
        if (rc == 0 && t->probe_log) {
            json_object_set_new(extra, "probe_fits", t->probe_log);
            t->probe_log = NULL;
        }
        if (rc == 0) rc = gl_write_metrics(o, &t->data, val, t->data.has_test ? test : NULL, &t->st, extra);
        if (rc == 0)
            rc = gl_hf_export(o->model_dir, o->out_dir, m, t->tok, t->data.labels, t->data.K, o->pool, o->max_length);
        if (rc == 0) gl_train_log_summary(t, o, val, test, extra);
    }
    free(emb);
    json_decref(extra);
    return o->comm ? gl_comm_agree(o->comm, rc, NULL, 0) : rc;
}

int gl_train(const gl_train_opts *o_in) {
    gl_train_opts resolved = *o_in; /* trainer_setup resolves --pool auto in it */
    const gl_train_opts *o = &resolved;
    gl_trainer t;
    int rc = trainer_setup(&t, &resolved);
    gl_bert *m = &t.model;
    if (rc == 0 && o->resume) { /* rank 0 reads the checkpoint and sends it to the others */
        if (gl_train_writer(o)) rc = gl_checkpoint_load(o, m, &t.opt, t.best, &t.st);
        if (o->comm && (rc = gl_comm_agree(o->comm, rc, NULL, -1)) == 0) rc = gl_sync_resumed(&t, o);
        if (rc == 0) gl_train_info(o, "resuming after epoch %d (step %lld)", t.st.epochs_done, (long long)t.st.step);
    }
    if (rc == 0) rc = written(o, gl_step_log_open(&t, o));
    if (rc == 0)
        gl_train_info(o, "train %zu, val %zu%s, test %zu documents; %d classes; %zu parameters; pool %s",
                      t.data.train.n, t.data.val.n, t.data.val_from_train ? " (carved from train)" : "", t.data.test.n,
                      t.data.K, m->size, gl_pool_name(o->pool));
    /* --bf16: training steps, validation and test (a CPU without AVX512-BF16
     * trains in fp32 after one warning); the kernels are logged and recorded */
    if (rc == 0 && o->bf16 && gl_bert_set_bf16(m, 1) != 0)
        gl_log(&o->hooks, GL_LOG_WARN, "--bf16: %s: training in fp32", gl_error_message());
    char kernels[512];
    gl_linear_kernels(m->bf16, kernels, sizeof kernels);
    if (rc == 0) gl_train_info(o, "kernels: %s", kernels);
    gl_metrics val = {0}, test = {0};
    int stopped = 0, interrupted = 0;
    while (rc == 0 && t.st.epochs_done < o->epochs) {
        if ((rc = agree_cancel(&t, o)) != 0) break;
        if (o->patience > 0 && t.st.bad_epochs >= o->patience) break;
        if (o->stop_after > 0 && t.st.epochs_done >= o->stop_after) {
            stopped = 1;
            break;
        }
        if (t.cancel) { /* asked during the last validation (or sigma) pass: stop before the next epoch */
            rc = save_checkpoint(&t, o);
            if (rc == 0) interrupted = 1;
            break;
        }
        int epoch = t.st.epochs_done;
        double t0 = gl_now() - t.st.epoch_seconds, tokens = 0, loss = 0;
        gl_epoch_diag diag;
        double x_s0, x_b0, x_s1, x_b1; /* the exchanges of the epoch's steps */
        const int64_t step0 = t.st.step;
        gl_comm_traffic(o->comm, &x_s0, &x_b0);
        int er = gl_train_epoch(&t, o, epoch, &loss, &tokens, &diag);
        gl_comm_traffic(o->comm, &x_s1, &x_b1);
        if (er == GL_TRAIN_CANCELLED) { /* stopped at a step boundary: checkpoint and stop */
            t.st.epoch_seconds = gl_now() - t0;
            rc = save_checkpoint(&t, o);
            if (rc == 0) interrupted = 1;
            break;
        }
        t.st.epoch_seconds = 0;
        if (er != 0) {
            rc = -1;
            break;
        }
        double train_s = gl_now() - t0;
        if (t.obj.standalone && t.obj.kind != GL_LOSS_CE && (rc = gl_head_fit_probe(&t, o, epoch)) != 0) break;
        gl_metrics_free(&val);
        rc = gl_evaluate(&t, o, &t.data.val, GL_STAGE_VAL, epoch + 1, &val, NULL);
        if (rc != 0) break;
        double secs = gl_now() - t0;
        gl_epoch_row *r = &t.st.hist[t.st.nhist++];
        *r = (gl_epoch_row){epoch + 1, loss, val.accuracy, val.macro_f1, secs, train_s > 0 ? tokens / train_s : 0,
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
        gl_train_log_epoch(&t, o, r, improved);
        if (o->comm && t.st.step > step0) {
            double steps = (double)(t.st.step - step0), per = (x_s1 - x_s0) / steps;
            gl_train_info(o, "  exchanges: %.2f MB received and %.3f s per step (waiting for the others included), "
                             "%.1f%% of the training time",
                          (x_b1 - x_b0) / steps / 1e6, per, train_s > 0 ? 100.0 * (x_s1 - x_s0) / train_s : 0.0);
        }
        if (gl_train_writer(o)) {
            rc = gl_checkpoint_save(o, m, &t.opt, t.best, &t.st);
            if (rc == 0) rc = gl_write_epochs_csv(o, &t.st);
            if (rc == 0) rc = gl_write_curves(o, &t.st);
        }
        rc = written(o, rc);
    }
    if (rc == 0 && (stopped || interrupted)) {
        if (interrupted)
            gl_log(&o->hooks, GL_LOG_WARN,
                   "interrupted: checkpoint written after step %lld (epoch %d, step %lld of it); continue with --resume",
                   (long long)t.st.step, t.st.epochs_done + 1, (long long)t.st.epoch_step);
        else
            gl_train_info(o, "stopped after epoch %d; continue with --resume", t.st.epochs_done);
        gl_metrics_free(&val);
        trainer_free(&t);
        return interrupted ? GL_TRAIN_CANCELLED : GL_TRAIN_STOPPED;
    }
    if (rc == 0) rc = finish(&t, o, &val, &test, kernels);
    gl_metrics_free(&val);
    gl_metrics_free(&test);
    trainer_free(&t);
    return rc;
}
