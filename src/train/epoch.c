/* epoch.c: one training epoch. A seeded permutation of the training
 * documents (optionally bucketed by length), batches padded to their longest
 * document, forward with dropout, pooled embedding -> head -> weighted
 * cross-entropy and/or the embedding loss, backward through head, pooling and
 * encoder into one gradient buffer, global-norm clipping, scheduled AdamW.
 * A step whose loss or gradient is not finite is skipped and counted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/train_internal.h"
#include "util/error.h"
#include "util/clock.h"
#include "util/rng.h"

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

/* The embedding loss of one step on the pooled vectors (B, C): its gradient
 * there, weighted by lambda or (balance) so that its norm is ob->balance
 * times cross-entropy's in dpooled, is added into dpooled, its weighted value
 * into *loss, the epoch's diagnostics into *dg. -1 (out of memory) stops the
 * run. demb (B, C) is scratch. */
static int embedding_step(gl_trainer *t, const gl_train_opts *o, const float *pooled, const int *y, int B,
                          uint64_t key, int use_ce, int balance, float *demb, float *dpooled, double *loss,
                          gl_epoch_diag *dg) {
    const gl_objective *ob = &t->obj;
    const int C = t->model.cfg.hidden_size, K = t->data.K;
    const double *cw = o->class_weights ? t->data.class_weights : NULL;
    double w_emb = ob->standalone ? 1.0 : ob->lambda;
    /* the authors' code divides G by |U| again in combined mode (reference variant) */
    if (ob->kind == GL_LOSS_GLOSS && ob->gloss.variant == GL_GLOSS_VARIANT_REFERENCE && !ob->standalone && !balance) {
        int nU = B - (int)(ob->gamma * B + 0.5);
        if (nU > 0) w_emb /= nU;
    }
    int skipped;
    const gl_gloss_stats g0 = t->gstats;
    memset(demb, 0, (size_t)B * C * sizeof(float));
    double E;
    if (fault_oom(t->st.step + 1) != 0 ||
        gl_objective_embedding_loss(ob, pooled, y, B, C, K, cw, balance ? 1.0 : w_emb, gl_rng_key(key, 0x67726170ull),
                                    demb, &t->gstats, &skipped, &E) != 0)
        return step_oom(o, t->st.step + 1);
    double n_ce = use_ce ? norm2f(dpooled, (size_t)B * C) : 0.0, n_e = norm2f(demb, (size_t)B * C);
    if (balance) { /* CE + beta E, beta such that |beta dE| = balance |dCE| at the pooled vector */
        w_emb = n_ce > 0 && n_e > 0 && isfinite(n_e) ? ob->balance * n_ce / n_e : 0.0;
        for (size_t i = 0; i < (size_t)B * C; i++) demb[i] = (float)(demb[i] * w_emb);
        n_e *= w_emb;
    }
    if (use_ce && n_ce > 0 && n_e > 0 && isfinite(n_e)) {
        dg->ratio_sum += n_e / n_ce;
        dg->ratio_n += 1;
        dg->beta_sum += w_emb;
    }
    for (size_t i = 0; i < (size_t)B * C; i++) dpooled[i] += demb[i];
    dg->lp_nodes += (double)(t->gstats.hidden_nodes - g0.hidden_nodes);
    dg->lp_correct += (double)(t->gstats.hidden_correct - g0.hidden_correct);
    dg->neff_sum += t->gstats.neff_sum - g0.neff_sum;
    dg->neff_n += (double)(t->gstats.neff_batches - g0.neff_batches);
    dg->skipped += skipped;
    dg->clamped += (double)(t->gstats.clamped - g0.clamped);
    *loss += w_emb * E; /* NaN makes this a non-finite step (allocation failures stopped above) */
    return 0;
}

int gl_train_epoch(gl_trainer *t, const gl_train_opts *o, int epoch, double *loss_out, double *tokens_out,
                   gl_epoch_diag *diag_out) {
    gl_bert *m = &t->model;
    const gl_split *tr = &t->data.train;
    const int C = m->cfg.hidden_size, K = t->data.K, Bmax = o->batch_size;
    gl_comm *comm = o->comm;
    const int P = gl_comm_size(comm), rank = gl_comm_rank(comm);
    const int Bown_max = (Bmax + P - 1) / P; /* this process's rows of a batch, at most */
    const size_t n = tr->n;
    const int64_t steps_per_epoch = (int64_t)((n + (size_t)Bmax - 1) / (size_t)Bmax);
    const int64_t total_steps = steps_per_epoch * o->epochs;
    const size_t head_off = gl_bert_head_offset(m); /* the head is the parameter buffer's tail */
    size_t *order = gl_malloc(n * sizeof(size_t));
    size_t *batch_perm = gl_malloc((size_t)steps_per_epoch * sizeof(size_t) + 1);
    size_t *rows = gl_malloc(sizeof(size_t) * (size_t)P); /* each process's rows of the batch */
    float *pooled = gl_malloc((size_t)Bmax * C * sizeof(float) * 4);
    float *logits = gl_malloc((size_t)Bmax * K * sizeof(float) * 2);
    float *dH = gl_malloc((size_t)Bown_max * o->max_length * C * sizeof(float));
    gl_batch b = {0};
    gl_bert_acts acts = {0};
    int rc = (order && batch_perm && rows && pooled && logits && dH) ? 0 : -1;
    if (rc == 0) rc = gl_batch_alloc(&b, Bmax, o->max_length);
    if (rc == 0) rc = gl_bert_acts_init(&acts, m, Bown_max, o->max_length);
    double loss_sum = t->st.epoch_loss, tokens = t->st.epoch_tokens;
    gl_epoch_diag dg = t->st.epoch_diag;
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
            for (size_t c0 = 0; rc == 0 && c0 < n; c0 += chunk)
                rc = gl_sort_by_length(order + c0, n - c0 < chunk ? n - c0 : chunk, tr);
            gl_rng_shuffle(&r, batch_perm, (size_t)steps_per_epoch);
        }
    }
    if (comm) rc = gl_comm_agree(comm, rc, NULL, -1);
    float *pooled_d = pooled + (size_t)Bmax * C, *dpooled = pooled_d + (size_t)Bmax * C;
    float *demb = dpooled + (size_t)Bmax * C; /* the embedding loss's gradient at the pooled vector */
    float *dlogits = logits + (size_t)Bmax * K;
    const double t_start = gl_now();
    gl_progress_event ev = {.stage = GL_STAGE_TRAIN, .epoch = epoch + 1, .epochs = o->epochs,
                            .total = (size_t)steps_per_epoch};
    int64_t s, first_step = t->st.epoch_step;
    for (s = first_step; rc == 0 && s < steps_per_epoch; s++) {
        /* a stop asked on any process stops every process at this boundary */
        if (comm && (rc = gl_comm_agree(comm, 0, &t->cancel, -1)) != 0) break;
        if (t->cancel) { /* asked at the last event: stop at this step boundary */
            interrupted = 1;
            break;
        }
        /* Every process holds the whole batch; it computes the encoder for
         * its contiguous share of the rows, [r0, r0 + nb), with the dropout
         * masks those rows get in a single process. The pooled vectors of the
         * whole batch are then exchanged, and every process computes the
         * head, cross-entropy and the embedding loss over the whole batch,
         * identically; each back-propagates its own rows, and the gradients
         * are summed. */
        size_t start = batch_perm[s] * (size_t)Bmax;
        int B = (int)(n - start < (size_t)Bmax ? n - start : (size_t)Bmax);
        gl_batch_fill(&b, tr, order + start, B, 0, o->pad_to_max ? o->max_length : 0);
        rc = gl_batch_check(&b, m, tr, order + start);
        const int T = b.T;
        size_t r0, nb;
        for (int j = 0; j < P; j++) gl_comm_share(comm, j, (size_t)B, &r0, &rows[j]);
        gl_comm_share(comm, rank, (size_t)B, &r0, &nb);
        uint64_t key = gl_rng_key(o->seed, 0x73746570ull ^ ((uint64_t)t->st.step << 8));
        const float *H = NULL;
        if (rc == 0 && nb > 0) {
            H = gl_bert_forward_rows(m, &acts, b.ids + r0 * T, b.mask + r0 * T, (int)nb, T, 1, key, (int)r0);
            rc = gl_pool_forward(m, o->pool, pooled + r0 * C, H, b.mask + r0 * T, (int)nb, T);
        }
        if (comm) {
            rc = gl_comm_agree(comm, rc, NULL, -1);
            if (rc == 0) rc = gl_comm_gather_rows(comm, pooled, rows, C);
        }
        if (rc != 0) break;
        const gl_objective *ob = &t->obj;
        const int use_ce = ob->kind == GL_LOSS_CE || !ob->standalone;
        const int balance = ob->kind != GL_LOSS_CE && use_ce && ob->balance > 0;
        const double w_ce = ob->kind == GL_LOSS_CE || balance ? 1.0 : 1.0 - ob->lambda;
        gl_bert_zero_grads(m);
        memset(dpooled, 0, (size_t)B * C * sizeof(float));
        double loss = 0.0;
        if (use_ce)
            rc = gl_head_ce_step(m, pooled, b.y, o->class_weights ? t->data.class_weights : NULL, B, w_ce, key,
                                 pooled_d, logits, dlogits, dpooled, &loss);
        if (rc == 0 && ob->kind != GL_LOSS_CE)
            rc = embedding_step(t, o, pooled, b.y, B, key, use_ce, balance, demb, dpooled, &loss, &dg);
        if (rc == 0 && nb > 0) {
            memset(dH, 0, nb * (size_t)T * C * sizeof(float));
            rc = gl_pool_backward(m, o->pool, dH, dpooled + r0 * C, pooled + r0 * C, H, b.mask + r0 * T, (int)nb, T);
            if (rc == 0) rc = gl_bert_backward(m, &acts, dH);
        }
        if (comm) {
            rc = gl_comm_agree(comm, rc, NULL, -1);
            /* every process computed the head's gradient over the whole batch: count it once */
            if (rc == 0 && rank != 0) memset(m->grads + head_off, 0, (m->size - head_off) * sizeof(float));
            if (rc == 0) rc = gl_comm_sum_f32(comm, m->grads, m->size);
        }
        if (rc != 0) break;
        double gnorm = gl_clip_grad_norm(m->grads, m->size, o->clip > 0 ? o->clip : INFINITY);
        t->st.step++;
        if (fault_nan(t->st.step)) loss = NAN;
        const int skip = !isfinite(loss) || !isfinite(gnorm);
        if (skip) {
            /* skip the update; the weights stay those of the last good step */
            t->st.nonfinite++;
            bad_in_a_row++;
            gl_log(&o->hooks, GL_LOG_WARN, "warning: step %lld: %s is %s; step skipped (%lld so far)",
                   (long long)t->st.step, isfinite(loss) ? "the gradient norm" : "the loss",
                   isnan(isfinite(loss) ? gnorm : loss) ? "NaN" : "infinite", (long long)t->st.nonfinite);
            if (bad_in_a_row >= MAX_NONFINITE_IN_A_ROW) {
                rc = gl_error("%d steps in a row with a non-finite loss or gradient; stopped (the checkpoint of the "
                              "last completed epoch in %s is intact; try a lower --lr)",
                              bad_in_a_row, o->out_dir);
                break;
            }
        } else {
            bad_in_a_row = 0;
            t->opt.lr = gl_schedule_lr(o, t->st.step - 1, total_steps, epoch);
            gl_adamw_step(&t->opt, m->params, m->grads, t->decay);
            t->st.adam_step = t->opt.step;
            loss_sum += loss * B;
            for (int i = 0; i < B * T; i++) tokens += b.mask[i];
        }
        gl_step_log_row(t, epoch + 1, t->st.step, loss, gnorm, t->opt.lr, skip);
        /* every step, skipped or not, is an event; the last one (done == total)
         * carries the epoch's mean loss */
        ev.done = (size_t)s + 1;
        ev.elapsed_s = gl_now() - t_start;
        ev.loss = ev.done == ev.total ? loss_sum / (double)(n ? n : 1) : loss_sum / (double)(s * Bmax + B);
        ev.lr = t->opt.lr;
        ev.docs_per_s = ev.elapsed_s > 0 ? (double)((s - first_step + 1) * Bmax) / ev.elapsed_s : 0.0;
        if (gl_report(gl_train_progress(o), &ev) != 0) t->cancel = 1;
    }
    t->st.epoch_step = interrupted ? s : 0;
    t->st.epoch_loss = interrupted ? loss_sum : 0;
    t->st.epoch_tokens = interrupted ? tokens : 0;
    *diag_out = dg;
    memset(&t->st.epoch_diag, 0, sizeof t->st.epoch_diag);
    if (interrupted) t->st.epoch_diag = dg;
    gl_bert_acts_free(&acts);
    gl_batch_free(&b);
    free(order);
    free(batch_perm);
    free(rows);
    free(pooled);
    free(logits);
    free(dH);
    *tokens_out = tokens;
    *loss_out = loss_sum / (double)(n ? n : 1);
    return rc != 0 ? -1 : interrupted ? GL_TRAIN_CANCELLED : 0;
}
