/* predict_split.c: evaluation-mode passes over a split (no dropout), in
 * batches of documents of similar length: class probabilities, pooled
 * embeddings, and the metrics of the argmax predictions. */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "loss/cross_entropy.h"
#include "train/train_internal.h"
#include "util/error.h"
#include "util/clock.h"

/* This process's batches of the pass: every P-th from the rank-th. */
static int pass_batches(gl_bert *m, const gl_split *s, gl_pool pool, int batch_size, float *probs, float *emb,
                        const gl_hooks *hooks, gl_stage stage, int epoch, int epochs, int *cancel, int P, int rank) {
    const int C = m->cfg.hidden_size, K = m->num_labels;
    size_t *order = gl_malloc(s->n * sizeof(size_t));
    if (!order) return -1;
    for (size_t i = 0; i < s->n; i++) order[i] = i;
    if (gl_sort_by_length(order, s->n, s) != 0) {
        free(order);
        return -1;
    }
    int Tmax = gl_split_max_len(s);
    gl_batch b = {0};
    gl_bert_acts acts;
    float *pooled = gl_malloc((size_t)batch_size * C * sizeof(float));
    float *logits = gl_malloc((size_t)batch_size * (K ? K : 1) * sizeof(float));
    int rc = (pooled && logits) ? 0 : -1;
    if (rc == 0) rc = gl_batch_alloc(&b, batch_size, Tmax);
    if (rc == 0) rc = gl_bert_acts_init_inference(&acts, m, batch_size, Tmax);
    if (rc != 0) {
        free(order);
        free(pooled);
        free(logits);
        gl_batch_free(&b);
        return -1;
    }
    gl_progress_event ev = {.stage = stage, .epoch = epoch, .epochs = epochs, .total = s->n};
    const double t0 = gl_now();
    size_t k = 0;
    for (size_t start = 0; start < s->n && rc == 0; start += (size_t)batch_size, k++) {
        int B = (int)(s->n - start < (size_t)batch_size ? s->n - start : (size_t)batch_size);
        if ((int)(k % (size_t)P) != rank) {
            if (start + (size_t)B < s->n) continue;
            ev.done = s->n; /* the pass's last event comes from every process */
            ev.elapsed_s = gl_now() - t0;
            ev.docs_per_s = ev.elapsed_s > 0 ? (double)ev.done / ev.elapsed_s : 0.0;
            if (gl_report(hooks, &ev) != 0) {
                if (cancel) *cancel = 1;
                else rc = gl_error_k(GL_E_CANCELLED, "cancelled");
            }
            break;
        }
        gl_batch_fill(&b, s, order + start, B, 0, 0);
        if ((rc = gl_batch_check(&b, m, s, order + start)) != 0) break;
        const float *H = gl_bert_forward(m, &acts, b.ids, b.mask, B, b.T, 0, 0);
        rc = gl_pool_forward(m, pool, pooled, H, b.mask, B, b.T);
        if (rc != 0) break;
        if (K && probs) {
            if ((rc = gl_head_logits(m, pooled, logits, B)) != 0) break;
            gl_softmax_rows(logits, logits, B, K);
        }
        for (int i = 0; i < B; i++) {
            size_t d = order[start + (size_t)i];
            if (K && probs) memcpy(probs + d * K, logits + (size_t)i * K, (size_t)K * sizeof(float));
            if (emb) memcpy(emb + d * C, pooled + (size_t)i * C, (size_t)C * sizeof(float));
        }
        ev.done = start + (size_t)B;
        ev.elapsed_s = gl_now() - t0;
        ev.docs_per_s = ev.elapsed_s > 0 ? (double)ev.done / ev.elapsed_s : 0.0;
        if (gl_report(hooks, &ev) != 0) {
            if (cancel) *cancel = 1;
            else rc = gl_error_k(GL_E_CANCELLED, "cancelled");
        }
    }
    gl_bert_acts_free(&acts);
    gl_batch_free(&b);
    free(order);
    free(pooled);
    free(logits);
    return rc;
}

int gl_predict_pass(gl_bert *m, const gl_split *s, gl_pool pool, int batch_size, float *probs, float *emb,
                    const gl_hooks *hooks, gl_stage stage, int epoch, int epochs, int *cancel, gl_comm *comm) {
    const int C = m->cfg.hidden_size, K = m->num_labels, P = gl_comm_size(comm);
    if (s->n == 0) return 0;
    if (P == 1) return pass_batches(m, s, pool, batch_size, probs, emb, hooks, stage, epoch, epochs, cancel, 1, 0);
    /* each process computes its batches into zeroed outputs, and a sum over
     * the processes gathers them: adding zeros is exact, so every process
     * holds the bits one process computing every batch would */
    if (K && probs) memset(probs, 0, s->n * (size_t)K * sizeof(float));
    if (emb) memset(emb, 0, s->n * (size_t)C * sizeof(float));
    int rc = pass_batches(m, s, pool, batch_size, probs, emb, hooks, stage, epoch, epochs, cancel, P,
                          gl_comm_rank(comm));
    rc = gl_comm_agree(comm, rc, NULL, -1);
    if (rc == 0 && K && probs) rc = gl_comm_sum_f32(comm, probs, s->n * (size_t)K);
    if (rc == 0 && emb) rc = gl_comm_sum_f32(comm, emb, s->n * (size_t)C);
    return rc;
}

int gl_predict_split(gl_bert *m, const gl_split *s, gl_pool pool, int batch_size, float *probs, float *emb,
                     const gl_hooks *hooks, gl_stage stage) {
    return gl_predict_pass(m, s, pool, batch_size, probs, emb, hooks, stage, 0, 0, NULL, NULL);
}

static void argmax_rows(int *pred, const float *probs, size_t n, int K) {
    for (size_t i = 0; i < n; i++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            if (probs[i * K + k] > probs[i * K + best]) best = k;
        pred[i] = best;
    }
}

int gl_evaluate(gl_trainer *t, const gl_train_opts *o, const gl_split *s, gl_stage stage, int epoch, gl_metrics *met,
                float *emb) {
    gl_bert *m = &t->model;
    const int K = m->num_labels;
    float *probs = gl_malloc(s->n * (size_t)K * sizeof(float));
    int *pred = gl_malloc(s->n * sizeof(int));
    int rc = probs && pred ? 0 : -1;
    if (o->comm) rc = gl_comm_agree(o->comm, rc, NULL, -1); /* every process takes part in the pass, or none */
    if (rc == 0)
        rc = gl_predict_pass(m, s, o->pool, o->eval_batch_size, probs, emb, gl_train_progress(o), stage, epoch,
                             o->epochs, &t->cancel, o->comm);
    if (rc == 0) {
        argmax_rows(pred, probs, s->n, K);
        rc = gl_metrics_compute(met, s->label, pred, s->n, K);
        if (o->comm) rc = gl_comm_agree(o->comm, rc, NULL, -1);
    }
    free(probs);
    free(pred);
    return rc;
}
