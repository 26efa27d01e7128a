/* api.c: the public API of include/gloss.h on top of the internal modules. */
#include <stdlib.h>
#include <string.h>

#include "gloss.h"
#include "io/config.h"
#include "model/bert.h"
#include "text/tokenizer.h"
#include "util/error.h"
#include "util/fileio.h"

struct gloss_model {
    gl_bert bert;
    gl_tokenizer *tok;
    gl_bert_acts acts;
    int acts_ready;
};

const char *gloss_last_error(void) { return gl_error_message(); }
const char *gloss_version(void) { return GLOSS_VERSION; }

gloss_model *gloss_model_load(const char *dir) {
    gloss_model *m = gl_calloc(1, sizeof *m);
    if (!m) return NULL;
    if (gl_bert_load(&m->bert, dir) != 0) {
        free(m);
        return NULL;
    }
    char *vocab = gl_path_join(dir, "vocab.txt");
    const gl_bert_config *c = &m->bert.cfg;
    m->tok = vocab ? gl_tokenizer_load(vocab, c->do_lower_case, c->strip_accents) : NULL;
    if (m->tok && gl_tokenizer_vocab_size(m->tok) > c->vocab_size) {
        gl_error("%s: %d tokens but config.json vocab_size is %d", vocab, gl_tokenizer_vocab_size(m->tok),
                 c->vocab_size);
        gl_tokenizer_free(m->tok);
        m->tok = NULL;
    }
    free(vocab);
    if (!m->tok) {
        gl_bert_free(&m->bert);
        free(m);
        return NULL;
    }
    return m;
}

void gloss_model_free(gloss_model *m) {
    if (!m) return;
    if (m->acts_ready) gl_bert_acts_free(&m->acts);
    gl_tokenizer_free(m->tok);
    gl_bert_free(&m->bert);
    free(m);
}

int gloss_model_hidden_size(const gloss_model *m) { return m->bert.cfg.hidden_size; }
int gloss_model_num_layers(const gloss_model *m) { return m->bert.cfg.num_layers; }
int gloss_model_max_length(const gloss_model *m) { return m->bert.cfg.max_position_embeddings; }
int gloss_model_has_pooler(const gloss_model *m) { return m->bert.has_pooler; }

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
