/* head.c: the classification head on the pooled vector x: its
 * initialisation, its own learning rate in the optimiser, its forward and
 * backward (the training step's, with dropout, and the evaluation pass's),
 * and in standalone mode its fit as a linear probe on frozen embeddings.
 *
 * As the architecture's ForSequenceClassification class computes it:
 *   BERT        logits = W drop(x) + b
 *   DistilBERT  logits = W drop(relu(W1 x + b1)) + b          (pre_classifier, classifier)
 *   RoBERTa     logits = W drop(tanh(W1 drop(x) + b1)) + b    (classifier.dense, classifier.out_proj)
 * drop: inverted dropout with p = m->head_dropout (BERT 0.1, DistilBERT
 * seq_classif_dropout, RoBERTa classifier_dropout or hidden_dropout_prob),
 * only in the training step. Hugging Face's classes take x = hidden[:, 0];
 * here x is the pooled vector, which cls pooling makes that. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "loss/cross_entropy.h"
#include "train/probe.h"
#include "train/train_internal.h"
#include "util/error.h"
#include "util/rng.h"

int gl_head_init(gl_bert *m, int K, const gl_train_opts *o) { return gl_bert_set_head(m, K, o->seed); }

void gl_head_set_lr(gl_adamw *opt, const gl_bert *m, const gl_train_opts *o) {
    if (o->head_lr > 0) { /* the head (hidden layer if any, then cls_w, cls_b) is the tail of the parameter buffer */
        opt->tail = gl_bert_head_offset(m);
        opt->tail_lr_scale = o->head_lr / o->lr;
    }
}

/* The hidden layer's activation: a = act(a) in place (ReLU for DistilBERT, tanh for RoBERTa). */
static void hidden_act_forward(const gl_bert *m, float *a, size_t n) {
    if (m->cfg.arch == GL_ARCH_DISTILBERT)
        for (size_t i = 0; i < n; i++) a[i] = a[i] > 0.0f ? a[i] : 0.0f;
    else
        for (size_t i = 0; i < n; i++) a[i] = tanhf(a[i]);
}

/* d = act'(.) * d, from the activation's output a. */
static void hidden_act_backward(const gl_bert *m, float *d, const float *a, size_t n) {
    if (m->cfg.arch == GL_ARCH_DISTILBERT)
        for (size_t i = 0; i < n; i++) d[i] = a[i] > 0.0f ? d[i] : 0.0f;
    else
        for (size_t i = 0; i < n; i++) d[i] *= 1.0f - a[i] * a[i];
}

/* The hidden layer without dropout: out (n, C) = act(W1 x + b1). */
static void hidden_forward(const gl_bert *m, float *out, const float *x, int n) {
    const int C = m->cfg.hidden_size;
    gl_linear_forward(out, x, m->p.head_w, m->p.head_b, n, C, C, m->bf16);
    hidden_act_forward(m, out, (size_t)n * C);
}

int gl_head_logits(const gl_bert *m, const float *pooled, float *logits, int B) {
    const int C = m->cfg.hidden_size, K = m->num_labels;
    if (!m->p.head_w) {
        gl_linear_forward(logits, pooled, m->p.cls_w, m->p.cls_b, B, C, K, m->bf16);
        return 0;
    }
    float *h = gl_malloc((size_t)B * C * sizeof(float));
    if (!h) return -1;
    hidden_forward(m, h, pooled, B);
    gl_linear_forward(logits, h, m->p.cls_w, m->p.cls_b, B, C, K, m->bf16);
    free(h);
    return 0;
}

/* Keys of the head's two dropout sites (the second only with a hidden layer). */
#define HEAD_KEY_IN 0x68656164ull
#define HEAD_KEY_HIDDEN 0x68656165ull

/* DistilBERT / RoBERTa: the two-layer head (see the top of the file). */
static int ce_step_hidden(gl_bert *m, const float *pooled, const int *y, const double *class_w, int B, double w_ce,
                          uint64_t key, float *pooled_d, float *logits, float *dlogits, float *dpooled, double *loss) {
    const int C = m->cfg.hidden_size, K = m->num_labels;
    const size_t n = (size_t)B * C;
    const int drop_in = m->cfg.arch == GL_ARCH_ROBERTA; /* DistilBERT has no dropout before pre_classifier */
    const uint64_t kin = gl_rng_key(key, HEAD_KEY_IN), khid = gl_rng_key(key, HEAD_KEY_HIDDEN);
    float *a = gl_malloc(3 * n * sizeof(float)); /* act(W1 x + b1), its dropout, gradients */
    if (!a) return -1;
    float *a_d = a + n, *d = a_d + n;
    memcpy(pooled_d, pooled, n * sizeof(float));
    if (drop_in) gl_dropout_apply(pooled_d, n, m->head_dropout, kin);
    hidden_forward(m, a, pooled_d, B);
    memcpy(a_d, a, n * sizeof(float));
    gl_dropout_apply(a_d, n, m->head_dropout, khid);
    gl_linear_forward(logits, a_d, m->p.cls_w, m->p.cls_b, B, C, K, m->bf16);
    *loss = w_ce * gl_ce_forward_backward(logits, y, class_w, B, K, dlogits, w_ce);
    /* backward: output layer, dropout, activation, hidden layer, input dropout */
    memset(d, 0, n * sizeof(float));
    gl_linear_backward(d, m->g.cls_w, m->g.cls_b, dlogits, a_d, m->p.cls_w, B, C, K, m->bf16);
    gl_dropout_apply(d, n, m->head_dropout, khid);
    hidden_act_backward(m, d, a, n);
    memset(a_d, 0, n * sizeof(float)); /* now the gradient at the hidden layer's input */
    gl_linear_backward(a_d, m->g.head_w, m->g.head_b, d, pooled_d, m->p.head_w, B, C, C, m->bf16);
    if (drop_in) gl_dropout_apply(a_d, n, m->head_dropout, kin);
    for (size_t i = 0; i < n; i++) dpooled[i] += a_d[i];
    free(a);
    return 0;
}

int gl_head_ce_step(gl_bert *m, const float *pooled, const int *y, const double *class_w, int B, double w_ce,
                    uint64_t key, float *pooled_d, float *logits, float *dlogits, float *dpooled, double *loss) {
    if (m->p.head_w)
        return ce_step_hidden(m, pooled, y, class_w, B, w_ce, key, pooled_d, logits, dlogits, dpooled, loss);
    const int C = m->cfg.hidden_size, K = m->num_labels;
    /* classifier dropout (as BertForSequenceClassification) on the pooled vector */
    uint64_t hkey = gl_rng_key(key, HEAD_KEY_IN);
    memcpy(pooled_d, pooled, (size_t)B * C * sizeof(float));
    gl_dropout_apply(pooled_d, (size_t)B * C, m->head_dropout, hkey);
    gl_linear_forward(logits, pooled_d, m->p.cls_w, m->p.cls_b, B, C, K, m->bf16);
    *loss = w_ce * gl_ce_forward_backward(logits, y, class_w, B, K, dlogits, w_ce);
    gl_linear_backward(dpooled, m->g.cls_w, m->g.cls_b, dlogits, pooled_d, m->p.cls_w, B, C, K, m->bf16);
    gl_dropout_apply(dpooled, (size_t)B * C, m->head_dropout, hkey);
    return 0;
}

/* X (n, C) = the head's hidden layer of X, in place, in blocks of rows. */
static int to_hidden(const gl_bert *m, float *X, size_t n) {
    const int C = m->cfg.hidden_size, rows = 256;
    float *h = gl_malloc((size_t)rows * C * sizeof(float));
    if (!h) return -1;
    for (size_t i = 0; i < n; i += (size_t)rows) {
        int r = n - i < (size_t)rows ? (int)(n - i) : rows;
        hidden_forward(m, h, X + i * (size_t)C, r);
        memcpy(X + i * (size_t)C, h, (size_t)r * C * sizeof(float));
    }
    free(h);
    return 0;
}

/* The head is a linear probe fitted on frozen training embeddings, once per
 * L2 penalty of o->probe_l2; the fit with the best validation macro-F1
 * becomes the head (ties: the stronger penalty). With a hidden layer
 * (DistilBERT, RoBERTa) the probe is the output layer, fitted on the hidden
 * layer's outputs, the hidden layer staying as initialised. */
int gl_head_fit_probe(gl_trainer *t, const gl_train_opts *o, int epoch) {
    gl_bert *m = &t->model;
    const gl_split *tr = &t->data.train, *va = &t->data.val;
    const int C = m->cfg.hidden_size, K = t->data.K, nl = o->n_probe_l2;
    const int choose = nl > 1 && va->n > 0;
    float *X = gl_malloc(sizeof(float) * tr->n * (size_t)C);
    float *Xv = choose ? gl_malloc(sizeof(float) * va->n * (size_t)C) : NULL;
    float *W = gl_malloc(sizeof(float) * ((size_t)K * C + K)), *logit = choose ? gl_malloc(sizeof(float) * K) : NULL;
    int *pred = choose ? gl_malloc(sizeof(int) * va->n) : NULL;
    int rc = X && W && (!choose || (Xv && logit && pred)) ? 0 : -1;
    if (o->comm) rc = gl_comm_agree(o->comm, rc, NULL, -1);
    /* the embeddings: GL_STAGE_EMBED passes of this epoch (shared by the
     * processes of a distributed run, which then all fit the same probe) */
    if (rc == 0)
        rc = gl_predict_pass(m, tr, o->pool, o->eval_batch_size, NULL, X, gl_train_progress(o), GL_STAGE_EMBED,
                             epoch + 1, o->epochs, &t->cancel, o->comm);
    if (rc == 0 && choose)
        rc = gl_predict_pass(m, va, o->pool, o->eval_batch_size, NULL, Xv, gl_train_progress(o), GL_STAGE_EMBED,
                             epoch + 1, o->epochs, &t->cancel, o->comm);
    if (rc == 0 && m->p.head_w) rc = to_hidden(m, X, tr->n);
    if (rc == 0 && m->p.head_w && choose) rc = to_hidden(m, Xv, va->n);
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
                gl_linear_forward(logit, Xv + i * (size_t)C, W, b, 1, C, K, 0);
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
        char val_f1[64] = "";
        if (choose) snprintf(val_f1, sizeof val_f1, ", val macro-F1 %.4f", f1);
        gl_train_info(o, "probe l2 %g: %d L-BFGS iterations%s, loss %.5f%s", o->probe_l2[j], info.iterations,
                      info.converged ? "" : " (stopped before the gradient test)", info.loss, val_f1);
        if (best < 0 || (choose && f1 > best_f1)) {
            best = j;
            best_f1 = f1;
            memcpy(m->p.cls_w, W, sizeof(float) * (size_t)K * C);
            memcpy(m->p.cls_b, b, sizeof(float) * K);
        }
    }
    if (rc == 0) {
        if (choose) gl_train_info(o, "probe: l2 %g chosen", o->probe_l2[best]);
        if (!t->probe_log) t->probe_log = json_array();
        json_array_append_new(t->probe_log, json_pack("{s:i, s:f, s:o}", "epoch", epoch + 1, "l2", o->probe_l2[best],
                                                       "fits", fits));
    } else {
        json_decref(fits);
    }
    free(X), free(Xv), free(W), free(logit), free(pred);
    return o->comm ? gl_comm_agree(o->comm, rc, NULL, -1) : rc;
}
