/* api/model.c: the public API of include/gloss.h on top of the internal modules. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gloss.h"
#include "io/config.h"
#include "model/bert.h"
#include "model/model_open.h"
#include "model/pool_auto.h"
#include "text/tokenizer.h"
#include "util/error.h"
#include "util/fileio.h"

struct gloss_model {
    gl_bert bert;
    gl_tokenizer *tok;
    gl_bert_acts acts;
    int acts_ready;
    char *dir;
    gl_st_config st;       /* its sentence-transformers files, checked at load */
    gl_pool_choice choice; /* the last gloss_model_pooling */
};

const char *gloss_last_error(void) { return gl_error_message(); }
const char *gloss_version(void) { return GLOSS_VERSION; }

gloss_model *gloss_model_load(const char *dir) {
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
    return m;
}

void gloss_model_free(gloss_model *m) {
    if (!m) return;
    if (m->acts_ready) gl_bert_acts_free(&m->acts);
    gl_model_close(&m->bert, &m->tok);
    free(m->dir);
    free(m);
}

int gloss_model_hidden_size(const gloss_model *m) { return m->bert.cfg.hidden_size; }
int gloss_model_num_layers(const gloss_model *m) { return m->bert.cfg.num_layers; }
int gloss_model_max_length(const gloss_model *m) { return m->bert.cfg.max_position_embeddings; }
int gloss_model_has_pooler(const gloss_model *m) { return m->bert.has_pooler; }
int gloss_model_max_seq_length(const gloss_model *m) { return m->st.max_seq_length; }

int gloss_pool_parse(const char *name, gloss_pool *out) {
    gl_pool p;
    if (gl_pool_parse(name, &p) != 0) return -1;
    *out = (gloss_pool)p;
    return 0;
}

const char *gloss_pool_name(gloss_pool pool) { return gl_pool_name((gl_pool)pool); }

int gloss_model_pooling(gloss_model *m, gloss_pool requested, gloss_pool *resolved, int *normalize,
                        const char **source) {
    if (requested < GLOSS_POOL_AUTO || requested > GLOSS_POOL_MEAN_SQRT_LEN)
        return gl_error("unknown pooling %d", (int)requested);
    if (gl_pool_resolve(&m->bert, m->dir, (gl_pool)requested, &m->choice) != 0) return -1;
    if (resolved) *resolved = (gloss_pool)m->choice.pool;
    if (normalize) *normalize = m->choice.normalize;
    if (source) *source = m->choice.source;
    return 0;
}

void gloss_normalize_rows(float *x, size_t n, int dim) {
    for (size_t i = 0; i < n; i++) {
        float *r = x + i * (size_t)dim;
        double s = 0;
        for (int c = 0; c < dim; c++) s += (double)r[c] * r[c];
        double nrm = sqrt(s);
        float inv = (float)(1.0 / (nrm > 1e-12 ? nrm : 1e-12));
        for (int c = 0; c < dim; c++) r[c] *= inv;
    }
}

int gloss_tokenize(const gloss_model *m, const char *text, int max_length, int32_t *ids, int cap) {
    int32_t *buf = NULL;
    size_t bcap = 0;
    int n = gl_tokenizer_encode(m->tok, text, strlen(text), max_length, &buf, &bcap);
    if (n > 0 && ids) memcpy(ids, buf, sizeof(int32_t) * (size_t)(n < cap ? n : cap));
    free(buf);
    return n;
}

static int ensure_acts(gloss_model *m, int B, int T) {
    if (m->acts_ready && m->acts.Bmax >= B && m->acts.Tmax >= T) return 0;
    if (m->acts_ready) gl_bert_acts_free(&m->acts);
    m->acts_ready = 0;
    if (gl_bert_acts_init_inference(&m->acts, &m->bert, B, T) != 0) return -1;
    m->acts_ready = 1;
    return 0;
}

int gloss_embed(gloss_model *m, const char *const *texts, size_t n, gloss_pool pool, int max_length,
                int batch_size, float *out, gloss_progress_fn progress, void *user) {
    const int C = m->bert.cfg.hidden_size;
    int maxpos = m->bert.cfg.max_position_embeddings;
    if (max_length <= 0 || max_length > maxpos) max_length = maxpos;
    if (batch_size <= 0) batch_size = 32;
    if (pool == GLOSS_POOL_AUTO && gloss_model_pooling(m, pool, &pool, NULL, NULL) != 0) return -1;
    if (pool < GLOSS_POOL_MEAN || pool > GLOSS_POOL_MEAN_SQRT_LEN) return gl_error("unknown pooling %d", (int)pool);
    if (pool == GLOSS_POOL_POOLER && !m->bert.has_pooler)
        return gl_error("--pool pooler: this checkpoint has no pooler weights (pooler.dense.*)");
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
        if (rc == 0) rc = ensure_acts(m, batch_size, max_length);
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
        if (rc == 0 && progress && progress(start + (size_t)B, n, user)) rc = gl_error("cancelled");
    }
    for (int b = 0; tok && b < batch_size; b++) free(tok[b]);
    free(tok);
    free(cap);
    free(len);
    free(ids);
    free(mask);
    return rc;
}
