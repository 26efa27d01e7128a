/* head.c: the classification head on the pooled vector: its initialisation,
 * its own learning rate in the optimiser, the training step's forward and
 * backward (classifier dropout, linear, weighted cross-entropy), and in
 * standalone mode its fit as a linear probe on frozen embeddings. */
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
    if (o->head_lr > 0) { /* the head (cls_w, cls_b) is the tail of the parameter buffer */
        opt->tail = (size_t)(m->p.cls_w - m->params);
        opt->tail_lr_scale = o->head_lr / o->lr;
    }
}

double gl_head_ce_step(gl_bert *m, const float *pooled, const int *y, const double *class_w, int B, double w_ce,
                       uint64_t key, float *pooled_d, float *logits, float *dlogits, float *dpooled) {
    const int C = m->cfg.hidden_size, K = m->num_labels;
    /* classifier dropout (as BertForSequenceClassification) on the pooled vector */
    uint64_t hkey = gl_rng_key(key, 0x68656164ull);
    memcpy(pooled_d, pooled, (size_t)B * C * sizeof(float));
    gl_dropout_apply(pooled_d, (size_t)B * C, m->hidden_dropout, hkey);
    gl_linear_forward(logits, pooled_d, m->p.cls_w, m->p.cls_b, B, C, K, m->bf16);
    double loss = w_ce * gl_ce_forward_backward(logits, y, class_w, B, K, dlogits, w_ce);
    gl_linear_backward(dpooled, m->g.cls_w, m->g.cls_b, dlogits, pooled_d, m->p.cls_w, B, C, K, m->bf16);
    gl_dropout_apply(dpooled, (size_t)B * C, m->hidden_dropout, hkey);
    return loss;
}

/* The head is a linear probe fitted on frozen training embeddings, once per
 * L2 penalty of o->probe_l2; the fit with the best validation macro-F1
 * becomes the head (ties: the stronger penalty). */
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
    /* the embeddings: GL_STAGE_EMBED passes of this epoch */
    if (rc == 0)
        rc = gl_predict_pass(m, tr, o->pool, o->eval_batch_size, NULL, X, gl_train_progress(o), GL_STAGE_EMBED,
                             epoch + 1, o->epochs, &t->cancel);
    if (rc == 0 && choose)
        rc = gl_predict_pass(m, va, o->pool, o->eval_batch_size, NULL, Xv, gl_train_progress(o), GL_STAGE_EMBED,
                             epoch + 1, o->epochs, &t->cancel);
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
    return rc;
}
