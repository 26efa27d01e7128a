/* api/model.c: loading a model (encoder or classifier), its properties,
 * pooling, tokenization and embedding (include/gloss.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "io/config.h"
#include "kernels/kernels.h"
#include "model/hf_export.h"
#include "model/model_open.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/clock.h"

GLOSS_API gloss_model *gloss_model_load(const char *dir) {
    if (!dir) {
        gl_error_k(GL_E_MISUSE, "gloss_model_load: dir is NULL");
        return NULL;
    }
    gloss_model *m = gl_calloc(1, sizeof *m);
    if (!m) return NULL;
    if (gl_model_open(dir, &m->bert, &m->tok) != 0) { /* config, weights, vocabulary, checked together */
        free(m);
        return NULL;
    }
    m->dir = gl_strdup(dir);
    if (!m->dir || gl_st_config_load(&m->st, dir, m->bert.cfg.hidden_size) != 0) {
        gl_model_close(&m->bert, &m->tok);
        free(m->dir);
        free(m);
        return NULL;
    }
    /* a classification head makes it a classifier: its class names and pooling must then be there */
    if (m->bert.num_labels > 0) {
        int rc = gl_hf_labels(dir, &m->labels, &m->K, &m->clf_pool);
        if (rc == 0 && m->K != m->bert.num_labels)
            rc = gl_error_k(GL_E_FORMAT, "%s: config.json has %d labels but the classifier has %d rows", dir, m->K,
                            m->bert.num_labels);
        if (rc == 0 && m->clf_pool == GL_POOL_POOLER && !m->bert.has_pooler)
            rc = gl_error_k(GL_E_FORMAT, "%s: pooling is 'pooler' but model.safetensors has no pooler weights", dir);
        if (rc != 0) {
            gloss_model_free(m);
            return NULL;
        }
    }
    return m;
}

GLOSS_API void gloss_model_free(gloss_model *m) {
    if (!m) return;
    gl_hf_labels_free(m->labels, m->K);
    if (m->acts_ready) gl_bert_acts_free(&m->acts);
    gl_model_close(&m->bert, &m->tok);
    free(m->dir);
    free(m);
}

GLOSS_API int gloss_model_hidden_size(const gloss_model *m) { return m->bert.cfg.hidden_size; }
GLOSS_API int gloss_model_num_layers(const gloss_model *m) { return m->bert.cfg.num_layers; }
GLOSS_API int gloss_model_max_length(const gloss_model *m) { return m->bert.cfg.max_position_embeddings; }
GLOSS_API int gloss_model_has_pooler(const gloss_model *m) { return m->bert.has_pooler; }
GLOSS_API int gloss_model_max_seq_length(const gloss_model *m) { return m->st.max_seq_length; }
GLOSS_API int gloss_model_num_labels(const gloss_model *m) { return m->K; }
GLOSS_API const char *gloss_model_label(const gloss_model *m, int k) {
    return k >= 0 && k < m->K ? m->labels[k] : NULL;
}

GLOSS_API gloss_status gloss_model_set_bf16(gloss_model *m, int on) {
    if (!m) return gl_error_k(GL_E_MISUSE, "gloss_model_set_bf16: model is NULL"), GLOSS_MISUSE;
    if (gl_bert_set_bf16(&m->bert, on) != 0) { /* no AVX512-BF16: it stays fp32 */
        char why[256];
        snprintf(why, sizeof why, "%s", gl_error_message());
        gl_error_k(GL_E_INVALID, "bf16: %s; the model stays fp32", why);
        return GLOSS_INVALID;
    }
    return GLOSS_OK;
}

GLOSS_API const char *gloss_model_kernels(gloss_model *m) {
    if (!m) return "";
    gl_linear_kernels(m->bert.bf16, m->kernels, sizeof m->kernels);
    return m->kernels;
}

GLOSS_API gloss_status gloss_pool_parse(const char *name, gloss_pool *out) {
    gl_pool p;
    if (!name) return gl_error_k(GL_E_MISUSE, "gloss_pool_parse: name is NULL"), GLOSS_MISUSE;
    if (gl_pool_parse(name, &p) != 0) {
        gl_error_retag(GL_E_INVALID);
        return GLOSS_INVALID;
    }
    *out = (gloss_pool)p;
    return GLOSS_OK;
}

GLOSS_API const char *gloss_pool_name(gloss_pool pool) { return gl_pool_name((gl_pool)pool); }

GLOSS_API gloss_status gloss_model_pooling(gloss_model *m, gloss_pool requested, gloss_pool *resolved,
                                           int *normalize, const char **source) {
    if (requested < GLOSS_POOL_AUTO || requested > GLOSS_POOL_MEAN_SQRT_LEN)
        return gl_error_k(GL_E_INVALID, "unknown pooling %d", (int)requested), GLOSS_INVALID;
    if (requested == GLOSS_POOL_AUTO && m->K > 0 && !m->st.has_modules) {
        /* a classifier without sentence-transformers files: the pooling it was trained with */
        m->choice.pool = m->clf_pool;
        m->choice.normalize = 0;
        snprintf(m->choice.source, sizeof m->choice.source, "the classifier's gloss_pooling in config.json");
    } else if (gl_pool_resolve(&m->bert, m->dir, (gl_pool)requested, &m->choice) != 0)
        return gl_api_status();
    if (resolved) *resolved = (gloss_pool)m->choice.pool;
    if (normalize) *normalize = m->choice.normalize;
    if (source) *source = m->choice.source;
    return GLOSS_OK;
}

GLOSS_API void gloss_normalize_rows(float *x, size_t n, int dim) {
    for (size_t i = 0; i < n; i++) {
        float *r = x + i * (size_t)dim;
        double s = 0;
        for (int c = 0; c < dim; c++) s += (double)r[c] * r[c];
        double nrm = sqrt(s);
        float inv = (float)(1.0 / (nrm > 1e-12 ? nrm : 1e-12));
        for (int c = 0; c < dim; c++) r[c] *= inv;
    }
}

GLOSS_API int gloss_tokenize(const gloss_model *m, const char *text, int max_length, int32_t *ids, int cap) {
    int32_t *buf = NULL;
    size_t bcap = 0;
    int n = gl_tokenizer_encode(m->tok, text, strlen(text), max_length, &buf, &bcap);
    if (n > 0 && ids) memcpy(ids, buf, sizeof(int32_t) * (size_t)(n < cap ? n : cap));
    free(buf);
    return n;
}

int gl_api_ensure_acts(gloss_model *m, int B, int T) {
    if (m->acts_ready && m->acts.Bmax >= B && m->acts.Tmax >= T) return 0;
    if (m->acts_ready) gl_bert_acts_free(&m->acts);
    m->acts_ready = 0;
    if (gl_bert_acts_init_inference(&m->acts, &m->bert, B, T) != 0) return -1;
    m->acts_ready = 1;
    return 0;
}

GLOSS_API gloss_status gloss_embed(gloss_model *m, const char *const *texts, size_t n, gloss_pool pool,
                                   int max_length, int batch_size, float *out, const gloss_callbacks *cb) {
    if (!m || (n > 0 && (!texts || !out)))
        return gl_error_k(GL_E_MISUSE, "gloss_embed: model, texts or out is NULL"), GLOSS_MISUSE;
    if (n == 0) return gl_error_k(GL_E_INVALID, "gloss_embed: no texts"), GLOSS_INVALID;
    for (size_t i = 0; i < n; i++)
        if (!texts[i]) return gl_error_k(GL_E_MISUSE, "gloss_embed: text %zu is NULL", i + 1), GLOSS_MISUSE;
    gl_api_hooks ad;
    gl_hooks hooks = gl_api_hooks_make(&ad, cb);
    const double t0 = gl_now();
    const int C = m->bert.cfg.hidden_size;
    int maxpos = m->bert.cfg.max_position_embeddings;
    if (max_length <= 0 || max_length > maxpos) max_length = maxpos;
    if (batch_size <= 0) batch_size = 32;
    if (pool == GLOSS_POOL_AUTO && gloss_model_pooling(m, pool, &pool, NULL, NULL) != GLOSS_OK) return gl_api_status();
    if (pool < GLOSS_POOL_MEAN || pool > GLOSS_POOL_MEAN_SQRT_LEN)
        return gl_error_k(GL_E_INVALID, "unknown pooling %d", (int)pool), GLOSS_INVALID;
    if (pool == GLOSS_POOL_POOLER && !m->bert.has_pooler)
        return gl_error_k(GL_E_INVALID, "pooling 'pooler': this checkpoint has no pooler weights (pooler.dense.*)"),
               GLOSS_INVALID;
    int32_t **tok = gl_calloc((size_t)batch_size, sizeof(int32_t *));
    size_t *cap = gl_calloc((size_t)batch_size, sizeof(size_t));
    int *len = gl_calloc((size_t)batch_size, sizeof(int));
    int32_t *ids = gl_malloc((size_t)batch_size * max_length * sizeof(int32_t));
    uint8_t *mask = gl_malloc((size_t)batch_size * max_length);
    int rc = (tok && cap && len && ids && mask) ? 0 : -1;
    for (size_t start = 0; rc == 0 && start < n; start += (size_t)batch_size) {
        int B = (int)(n - start < (size_t)batch_size ? n - start : (size_t)batch_size), T = 0;
        for (int b = 0; b < B && rc == 0; b++) {
            const char *s = texts[start + b];
            len[b] = gl_tokenizer_encode(m->tok, s, strlen(s), max_length, &tok[b], &cap[b]);
            if (len[b] < 0) rc = gl_error_prefix("document %zu: ", start + b + 1);
            else if (len[b] > T) T = len[b];
            if (rc == 0) { /* the embedding forward reads rows by id: none past the table */
                char what[48];
                snprintf(what, sizeof what, "document %zu", start + b + 1);
                rc = gl_model_check_ids(&m->bert, tok[b], (size_t)len[b], what);
            }
        }
        if (rc == 0) rc = gl_api_ensure_acts(m, batch_size, max_length);
        if (rc != 0) break;
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                int real = t < len[b];
                ids[(size_t)b * T + t] = real ? tok[b][t] : gl_tokenizer_pad_id(m->tok);
                mask[(size_t)b * T + t] = (uint8_t)real;
            }
        }
        const float *h = gl_bert_forward(&m->bert, &m->acts, ids, mask, B, T, 0, 0);
        rc = gl_pool_forward(&m->bert, (gl_pool)pool, out + start * (size_t)C, h, mask, B, T);
        if (rc == 0) {
            double el = gl_now() - t0;
            gl_progress_event ev = {.stage = GL_STAGE_EMBED, .done = start + (size_t)B, .total = n, .elapsed_s = el,
                                    .docs_per_s = el > 0 ? (double)(start + (size_t)B) / el : 0};
            if (gl_report(&hooks, &ev)) rc = gl_error_k(GL_E_CANCELLED, "cancelled");
        }
    }
    for (int b = 0; tok && b < batch_size; b++) free(tok[b]);
    free(tok);
    free(cap);
    free(len);
    free(ids);
    free(mask);
    return gl_api_rc(rc);
}
