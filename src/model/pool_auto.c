/* pool_auto.c: --pool auto: the checkpoint's own pooling (see pool_auto.h). */
#include "model/pool_auto.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "util/error.h"

/* "Trained" pooler: pooler.dense.bias not all exactly zero, or the weights'
 * standard deviation above 0.04, twice BERT's initializer_range of 0.02.
 * Hugging Face initialises the bias to exactly 0 and any training step that
 * reaches the pooler moves it; all-MiniLM-L6-v2's pooler (bias all 0, weight
 * std 0.009) was never trained, as sentence-transformers never uses it, while
 * bert-base-uncased's (trained by next-sentence prediction) has a non-zero bias. */
int gl_bert_pooler_trained(const gl_bert *m) {
    if (!m->has_pooler) return 0;
    const int C = m->cfg.hidden_size;
    for (int c = 0; c < C; c++)
        if (m->p.pool_b[c] != 0.0f) return 1;
    double s = 0, s2 = 0, n = (double)C * C;
    for (size_t i = 0; i < (size_t)C * C; i++) {
        s += m->p.pool_w[i];
        s2 += (double)m->p.pool_w[i] * m->p.pool_w[i];
    }
    double var = s2 / n - (s / n) * (s / n);
    return var > 0.04 * 0.04;
}

/* A declared pooler (Pooling cls + Dense Tanh) is computed with the model's
 * pooler.dense.*: the Dense module's weights must be exactly those. */
static int check_dense(const gl_bert *m, const char *dir, const char *dense_dir) {
    const int C = m->cfg.hidden_size;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s/model.safetensors", dir, dense_dir);
    if (!m->has_pooler)
        return gl_error_k(GL_E_FORMAT, "%s/%s: a Dense(Tanh) module after cls pooling is BERT's pooler, but model.safetensors has "
                        "no pooler weights (pooler.dense.*): pass --pool",
                        dir, dense_dir);
    gl_safetensors st;
    if (gl_st_open(&st, path) != 0)
        return gl_error_prefix("the Dense module (%s/%s) must hold the pooler's weights: ", dir, dense_dir);
    static const char *const names[] = {"linear.weight", "linear.bias"};
    const float *want[] = {m->p.pool_w, m->p.pool_b};
    int64_t numel[] = {(int64_t)C * C, C};
    float *buf = gl_malloc(sizeof(float) * (size_t)C * C);
    int rc = buf ? 0 : -1;
    for (int k = 0; k < 2 && rc == 0; k++) {
        const gl_st_tensor *t = gl_st_find(&st, names[k]);
        if (!t || t->numel != numel[k]) rc = gl_error_k(GL_E_FORMAT, "%s: tensor \"%s\" missing or of the wrong size", path, names[k]);
        else if ((rc = gl_st_read_f32(&st, t, buf)) == 0 && memcmp(buf, want[k], sizeof(float) * numel[k]) != 0)
            rc = gl_error_k(GL_E_FORMAT, "%s: tensor \"%s\" differs from model.safetensors' pooler.dense.%s; gloss computes a "
                          "Dense module only as the checkpoint's own pooler: pass --pool",
                          path, names[k], k ? "bias" : "weight");
    }
    free(buf);
    gl_st_close(&st);
    return rc;
}

int gl_pool_resolve(const gl_bert *m, const char *dir, gl_pool requested, gl_pool_choice *out) {
    memset(out, 0, sizeof *out);
    gl_st_config *st = &out->st;
    if (gl_st_config_load(st, dir, m->cfg.hidden_size) != 0) return -1;
    gl_pool declared = GL_POOL_AUTO;
    if (st->pooling[0] && gl_pool_parse(st->pooling, &declared) != 0) return -1;
    if (requested != GL_POOL_AUTO) {
        out->pool = requested;
        snprintf(out->source, sizeof out->source, "--pool");
    } else if (st->unsupported[0]) {
        return gl_error_k(GL_E_FORMAT, "%s/modules.json declares a %s module, which gloss does not compute: pass --pool to choose "
                        "a pooling",
                        dir, st->unsupported);
    } else if (declared != GL_POOL_AUTO) {
        if (declared == GL_POOL_POOLER && check_dense(m, dir, st->dense_dir) != 0) return -1;
        out->pool = declared;
        if (declared == GL_POOL_POOLER)
            snprintf(out->source, sizeof out->source, "from %s + %s/config.json", st->pooling_file, st->dense_dir);
        else
            snprintf(out->source, sizeof out->source, "from %s", st->pooling_file);
    } else if (m->cfg.arch != GL_ARCH_BERT) {
        out->pool = GL_POOL_CLS; /* as the architecture's ForSequenceClassification head takes hidden[:, 0] */
        snprintf(out->source, sizeof out->source, "no pooling declared; %s classifies on its first token",
                 gl_arch_name(m->cfg.arch));
    } else if (gl_bert_pooler_trained(m)) {
        out->pool = GL_POOL_POOLER;
        snprintf(out->source, sizeof out->source, "no pooling declared; trained pooler weights");
    } else {
        out->pool = GL_POOL_MEAN;
        snprintf(out->source, sizeof out->source, "no pooling declared, no trained pooler weights");
    }
    if (out->pool == GL_POOL_POOLER && !m->has_pooler)
        return gl_error_k(GL_E_FORMAT, "%s has no pooler weights (pooler.dense.*): use --pool mean or --pool cls", dir);
    out->normalize = st->normalize && (requested == GL_POOL_AUTO || requested == declared);
    return 0;
}
