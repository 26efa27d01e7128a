/* predict.c: classification with a fine-tuned model: labels and
 * probabilities (gloss_predict) and metrics on labelled texts
 * (gloss_evaluate). Both reuse the training layer's evaluation pass, which
 * batches documents by length. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "model/model_open.h"
#include "train/dataset.h"
#include "train/embed_quality.h"
#include "train/metrics.h"
#include "train/trainer.h"
#include "util/error.h"

/* A split from in-memory texts (labels: class indices or NULL), tokenized to
 * max_length with every id checked against the embedding table. */
static int split_from_texts(gl_split *s, const gloss_model *m, const char *const *texts, const int *label, size_t n,
                            int max_length) {
    memset(s, 0, sizeof *s);
    s->n = n;
    s->off = gl_calloc(n + 1, sizeof *s->off);
    s->label = gl_calloc(n ? n : 1, sizeof *s->label);
    s->path = gl_strdup("(texts)");
    size_t cap = 0, used = 0;
    int32_t *tok = NULL;
    size_t tcap = 0;
    int rc = (s->off && s->label && s->path) ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int len = gl_tokenizer_encode(m->tok, texts[i], strlen(texts[i]), max_length, &tok, &tcap);
        if (len < 0) {
            rc = gl_error_k(GL_E_INVALID, "text %zu: %s", i + 1, gl_error_message());
            break;
        }
        char what[48];
        snprintf(what, sizeof what, "text %zu", i + 1);
        if ((rc = gl_model_check_ids(&m->bert, tok, (size_t)len, what)) != 0) break;
        if (used + (size_t)len > cap) {
            size_t nc = cap ? cap * 2 : 4096;
            while (nc < used + (size_t)len) nc *= 2;
            int32_t *ids = gl_realloc(s->ids, nc * sizeof *ids);
            if (!ids) {
                rc = -1;
                break;
            }
            s->ids = ids, cap = nc;
        }
        memcpy(s->ids + used, tok, (size_t)len * sizeof *tok);
        used += (size_t)len;
        s->off[i + 1] = used;
        s->label[i] = label ? label[i] : 0;
    }
    free(tok);
    if (rc != 0) gl_split_free(s);
    return rc;
}

static int check_classifier(const gloss_model *m, const char *const *texts, size_t n, const char *fn) {
    if (!m || (n > 0 && !texts)) return gl_error_k(GL_E_MISUSE, "%s: model or texts is NULL", fn);
    if (m->K == 0)
        return gl_error_k(GL_E_MISUSE, "%s: %s is an encoder without a classification head (config.json has no "
                                       "id2label): fine-tune it with gloss train first", fn, m->dir);
    if (n == 0) return gl_error_k(GL_E_INVALID, "%s: no texts", fn);
    for (size_t i = 0; i < n; i++)
        if (!texts[i]) return gl_error_k(GL_E_MISUSE, "%s: text %zu is NULL", fn, i + 1);
    return 0;
}

static void limits(const gloss_model *m, int *max_length, int *batch_size) {
    if (*max_length <= 0) *max_length = 128;
    if (*max_length > m->bert.cfg.max_position_embeddings) *max_length = m->bert.cfg.max_position_embeddings;
    if (*batch_size <= 0) *batch_size = 64;
}

static void argmax_rows(int *pred, const float *probs, size_t n, int K) {
    for (size_t i = 0; i < n; i++) {
        int b = 0;
        for (int k = 1; k < K; k++)
            if (probs[i * (size_t)K + (size_t)k] > probs[i * (size_t)K + (size_t)b]) b = k;
        pred[i] = b;
    }
}

GLOSS_API gloss_status gloss_predict(gloss_model *m, const char *const *texts, size_t n, int max_length,
                                     int batch_size, int *labels, float *probs, const gloss_callbacks *cb) {
    if (check_classifier(m, texts, n, "gloss_predict") != 0) return gl_api_status();
    limits(m, &max_length, &batch_size);
    gl_api_hooks ad;
    gl_hooks hooks = gl_api_hooks_make(&ad, cb);
    gl_split s;
    if (split_from_texts(&s, m, texts, NULL, n, max_length) != 0) return gl_api_status();
    float *p = probs ? probs : gl_malloc(n * (size_t)m->K * sizeof(float));
    int rc = p ? gl_predict_split(&m->bert, &s, m->clf_pool, batch_size, p, NULL, &hooks, GL_STAGE_PREDICT) : -1;
    if (rc == 0 && labels) argmax_rows(labels, p, n, m->K);
    if (p != probs) free(p);
    gl_split_free(&s);
    return gl_api_rc(rc);
}

GLOSS_API gloss_status gloss_evaluate(gloss_model *m, const char *const *texts, const char *const *labels, size_t n,
                                      int max_length, int batch_size, char **json, const gloss_callbacks *cb) {
    if (check_classifier(m, texts, n, "gloss_evaluate") != 0) return gl_api_status();
    if (!labels || !json) return gl_error_k(GL_E_MISUSE, "gloss_evaluate: labels or json is NULL"), GLOSS_MISUSE;
    *json = NULL;
    limits(m, &max_length, &batch_size);
    int *y = gl_malloc(n * sizeof *y);
    if (!y) return gl_api_status();
    for (size_t i = 0; i < n; i++) {
        int k = 0;
        while (k < m->K && (!labels[i] || strcmp(labels[i], m->labels[k]))) k++;
        if (k == m->K) {
            free(y);
            return gl_error_k(GL_E_INVALID, "gloss_evaluate: label '%s' of text %zu is not one of the model's %d "
                                            "classes (config.json id2label)", labels[i] ? labels[i] : "(null)", i + 1,
                              m->K),
                   GLOSS_INVALID;
        }
        y[i] = k;
    }
    gl_api_hooks ad;
    gl_hooks hooks = gl_api_hooks_make(&ad, cb);
    gl_split s;
    if (split_from_texts(&s, m, texts, y, n, max_length) != 0) {
        free(y);
        return gl_api_status();
    }
    const int H = m->bert.cfg.hidden_size;
    float *probs = gl_malloc(n * (size_t)m->K * sizeof(float)), *emb = gl_malloc(n * (size_t)H * sizeof(float));
    int *pred = gl_malloc(n * sizeof *pred);
    gl_metrics met = {0};
    json_t *j = NULL;
    int rc = (probs && emb && pred) ? 0 : -1;
    if (rc == 0) rc = gl_predict_split(&m->bert, &s, m->clf_pool, batch_size, probs, emb, &hooks, GL_STAGE_PREDICT);
    if (rc == 0) {
        argmax_rows(pred, probs, n, m->K);
        rc = gl_metrics_compute(&met, y, pred, n, m->K);
    }
    if (rc == 0 && !(j = gl_metrics_to_json(&met, (const char *const *)m->labels))) rc = -1;
    double micro, macro;
    if (rc == 0 && gl_silhouette_cosine(emb, y, n, H, m->K, &micro, &macro, NULL) == 0)
        json_object_set_new(j, "silhouette", json_pack("{s:f, s:f, s:s}", "micro", micro, "macro", macro,
                                                       "distance", "cosine"));
    if (rc == 0) json_object_set_new(j, "kernels", json_string(gloss_model_kernels(m))); /* as metrics.json's */
    if (rc == 0 && !(*json = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) rc = gl_error_oom("out of memory");
    json_decref(j);
    gl_metrics_free(&met);
    free(probs);
    free(emb);
    free(pred);
    free(y);
    gl_split_free(&s);
    return gl_api_rc(rc);
}
