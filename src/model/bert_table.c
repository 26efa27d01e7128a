/* bert_table.c: the encoder's parameter table, one per architecture.
 *
 * Every architecture has the same tensors in the same order, under its own
 * Hugging Face names (without the model's prefix "bert.", "distilbert.",
 * "roberta."):
 *   embeddings   word, position, token type (absent in DistilBERT), LayerNorm
 *   per layer    query, key, value weights (adjacent: one (3C, C) matrix), their
 *                biases, attention output, LayerNorm 1, feed-forward in and
 *                out, LayerNorm 2
 *   pooler       BERT only, when the checkpoint has one
 *   head         DistilBERT / RoBERTa: a hidden layer (C, C) first; then the
 *                output layer (K, C). The head is always the tail of the buffer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "model/bert.h"
#include "util/error.h"
#include "util/rng.h"

/* A layer's 16 tensors in table order; %d is the layer. */
static const char *const bert_layer[16] = {
    "encoder.layer.%d.attention.self.query.weight", "encoder.layer.%d.attention.self.key.weight",
    "encoder.layer.%d.attention.self.value.weight", "encoder.layer.%d.attention.self.query.bias",
    "encoder.layer.%d.attention.self.key.bias",     "encoder.layer.%d.attention.self.value.bias",
    "encoder.layer.%d.attention.output.dense.weight", "encoder.layer.%d.attention.output.dense.bias",
    "encoder.layer.%d.attention.output.LayerNorm.weight", "encoder.layer.%d.attention.output.LayerNorm.bias",
    "encoder.layer.%d.intermediate.dense.weight",   "encoder.layer.%d.intermediate.dense.bias",
    "encoder.layer.%d.output.dense.weight",         "encoder.layer.%d.output.dense.bias",
    "encoder.layer.%d.output.LayerNorm.weight",     "encoder.layer.%d.output.LayerNorm.bias"};
static const char *const distilbert_layer[16] = {
    "transformer.layer.%d.attention.q_lin.weight",   "transformer.layer.%d.attention.k_lin.weight",
    "transformer.layer.%d.attention.v_lin.weight",   "transformer.layer.%d.attention.q_lin.bias",
    "transformer.layer.%d.attention.k_lin.bias",     "transformer.layer.%d.attention.v_lin.bias",
    "transformer.layer.%d.attention.out_lin.weight", "transformer.layer.%d.attention.out_lin.bias",
    "transformer.layer.%d.sa_layer_norm.weight",     "transformer.layer.%d.sa_layer_norm.bias",
    "transformer.layer.%d.ffn.lin1.weight",          "transformer.layer.%d.ffn.lin1.bias",
    "transformer.layer.%d.ffn.lin2.weight",          "transformer.layer.%d.ffn.lin2.bias",
    "transformer.layer.%d.output_layer_norm.weight", "transformer.layer.%d.output_layer_norm.bias"};

/* The head's tensors: hidden layer weight and bias (NULL: none), output weight and bias. */
static const char *const head_names[3][4] = {
    {NULL, NULL, "classifier.weight", "classifier.bias"},
    {"pre_classifier.weight", "pre_classifier.bias", "classifier.weight", "classifier.bias"},
    {"classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"}};

const char *gl_bert_prefix(const gl_bert *m) {
    static const char *const prefixes[] = {"bert.", "distilbert.", "roberta."};
    return prefixes[m->cfg.arch];
}

const char *gl_bert_head_output_name(gl_arch arch) { return head_names[arch][2]; }

static void add_param(gl_bert *m, const char *name, int ndim, int64_t d0, int64_t d1, int decay) {
    gl_param *p = &m->table[m->nparams++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    p->shape[0] = d0;
    p->shape[1] = ndim > 1 ? d1 : 1;
    p->numel = (size_t)d0 * (size_t)(ndim > 1 ? d1 : 1);
    p->offset = m->size;
    p->decay = decay;
    m->size += p->numel;
}

static void set_view(gl_bert *m, gl_bert_view *v, float *base) {
    const gl_bert_config *c = &m->cfg;
    int k = 0;
    v->wte = base + m->table[k++].offset;
    v->wpe = base + m->table[k++].offset;
    v->wtt = c->type_vocab_size > 0 ? base + m->table[k++].offset : NULL;
    v->ln_w = base + m->table[k++].offset;
    v->ln_b = base + m->table[k++].offset;
    for (int l = 0; l < c->num_layers; l++) {
        gl_layer_params *L = &v->layers[l];
        L->wqkv = base + m->table[k].offset; /* query.weight; key and value follow */
        k += 3;
        L->bqkv = base + m->table[k].offset;
        k += 3;
        L->wo = base + m->table[k++].offset;
        L->bo = base + m->table[k++].offset;
        L->ln1_w = base + m->table[k++].offset;
        L->ln1_b = base + m->table[k++].offset;
        L->w1 = base + m->table[k++].offset;
        L->b1 = base + m->table[k++].offset;
        L->w2 = base + m->table[k++].offset;
        L->b2 = base + m->table[k++].offset;
        L->ln2_w = base + m->table[k++].offset;
        L->ln2_b = base + m->table[k++].offset;
    }
    v->pool_w = m->has_pooler ? base + m->table[k++].offset : NULL;
    v->pool_b = m->has_pooler ? base + m->table[k++].offset : NULL;
    const int hidden = m->num_labels && head_names[c->arch][0];
    v->head_w = hidden ? base + m->table[k++].offset : NULL;
    v->head_b = hidden ? base + m->table[k++].offset : NULL;
    v->cls_w = m->num_labels ? base + m->table[k++].offset : NULL;
    v->cls_b = m->num_labels ? base + m->table[k++].offset : NULL;
}

int gl_bert_init(gl_bert *m, const gl_bert_config *cfg, int with_pooler, int num_labels) {
    memset(m, 0, sizeof *m);
    if (cfg->arch < GL_ARCH_BERT || cfg->arch > GL_ARCH_ROBERTA) return gl_error("unknown architecture %d", (int)cfg->arch);
    if (with_pooler && cfg->arch != GL_ARCH_BERT)
        return gl_error("a %s encoder has no pooler", gl_arch_name(cfg->arch));
    m->cfg = *cfg;
    m->has_pooler = with_pooler;
    m->num_labels = num_labels;
    m->hidden_dropout = 0.1f;
    m->attn_dropout = 0.1f;
    m->head_dropout = cfg->arch == GL_ARCH_BERT ? 0.1f : cfg->head_dropout;
    const int C = cfg->hidden_size, I = cfg->intermediate_size, L = cfg->num_layers;
    int cap = 5 + 16 * L + 6;
    m->table = gl_calloc((size_t)cap, sizeof(gl_param));
    m->p.layers = gl_calloc((size_t)L, sizeof(gl_layer_params));
    m->g.layers = gl_calloc((size_t)L, sizeof(gl_layer_params));
    if (!m->table || !m->p.layers || !m->g.layers) {
        gl_bert_free(m);
        return -1;
    }
    add_param(m, "embeddings.word_embeddings.weight", 2, cfg->vocab_size, C, 1);
    add_param(m, "embeddings.position_embeddings.weight", 2,
              (int64_t)cfg->max_position_embeddings + cfg->position_offset, C, 1);
    if (cfg->type_vocab_size > 0)
        add_param(m, "embeddings.token_type_embeddings.weight", 2, cfg->type_vocab_size, C, 1);
    add_param(m, "embeddings.LayerNorm.weight", 1, C, 0, 0);
    add_param(m, "embeddings.LayerNorm.bias", 1, C, 0, 0);
    const char *const *layer = cfg->arch == GL_ARCH_DISTILBERT ? distilbert_layer : bert_layer;
    /* rows, columns (0: a vector) and weight decay of each of a layer's 16 tensors */
    const int rows[16] = {C, C, C, C, C, C, C, C, C, C, I, I, C, C, C, C};
    const int cols[16] = {C, C, C, 0, 0, 0, C, 0, 0, 0, C, 0, I, 0, 0, 0};
    char n[96];
    for (int l = 0; l < L; l++)
        for (int j = 0; j < 16; j++) {
            snprintf(n, sizeof n, layer[j], l);
            add_param(m, n, cols[j] ? 2 : 1, rows[j], cols[j], cols[j] != 0);
        }
    if (with_pooler) {
        add_param(m, "pooler.dense.weight", 2, C, C, 1);
        add_param(m, "pooler.dense.bias", 1, C, 0, 0);
    }
    if (num_labels > 0) {
        const char *const *h = head_names[cfg->arch];
        int first = m->nparams;
        if (h[0]) {
            add_param(m, h[0], 2, C, C, 1);
            add_param(m, h[1], 1, C, 0, 0);
        }
        add_param(m, h[2], 2, num_labels, C, 1);
        add_param(m, h[3], 1, num_labels, 0, 0);
        for (int i = first; i < m->nparams; i++) m->table[i].head = 1;
    }
    m->params = gl_calloc(m->size, sizeof(float));
    if (!m->params) {
        gl_bert_free(m);
        return -1;
    }
    set_view(m, &m->p, m->params);
    return 0;
}

/* n draws of N(0, 0.02^2) from r, in Box-Muller pairs. */
static void normal_002(gl_rng *r, float *w, size_t n) {
    for (size_t i = 0; i < n; i += 2) {
        double u1 = ((double)(gl_rng_next(r) >> 11) + 1.0) / 9007199254740993.0;
        double u2 = (double)(gl_rng_next(r) >> 11) / 9007199254740992.0;
        double rad = sqrt(-2.0 * log(u1));
        w[i] = (float)(0.02 * rad * cos(6.283185307179586 * u2));
        if (i + 1 < n) w[i + 1] = (float)(0.02 * rad * sin(6.283185307179586 * u2));
    }
}

int gl_bert_set_head(gl_bert *m, int K, uint64_t seed) {
    gl_bert n;
    if (gl_bert_init(&n, &m->cfg, m->has_pooler, K) != 0) return -1;
    size_t enc = gl_bert_head_offset(m); /* the head always comes last */
    memcpy(n.params, m->params, enc * sizeof(float));
    gl_rng r = {gl_splitmix64(seed ^ 0x48656164ull)};
    const int C = m->cfg.hidden_size;
    normal_002(&r, n.p.cls_w, (size_t)K * C); /* the output layer first, then the hidden layer */
    if (n.p.head_w) normal_002(&r, n.p.head_w, (size_t)C * C);
    n.hidden_dropout = m->hidden_dropout;
    n.attn_dropout = m->attn_dropout;
    n.head_dropout = m->head_dropout;
    n.bf16 = m->bf16;
    int had_grads = m->grads != NULL;
    gl_bert_free(m);
    *m = n;
    /* the views point into n's buffers, which m now owns */
    return had_grads ? gl_bert_alloc_grads(m) : 0;
}

size_t gl_bert_head_offset(const gl_bert *m) {
    for (int i = 0; i < m->nparams; i++)
        if (m->table[i].head) return m->table[i].offset;
    return m->size;
}

int gl_bert_alloc_grads(gl_bert *m) {
    if (m->grads) return 0;
    m->grads = gl_calloc(m->size, sizeof(float));
    if (!m->grads) return -1;
    set_view(m, &m->g, m->grads);
    return 0;
}

int gl_bert_set_bf16(gl_bert *m, int on) {
    if (on && !gl_cpu_has_avx512bf16()) return gl_error("this CPU has no AVX512-BF16");
    m->bf16 = on != 0;
    return 0;
}

void gl_bert_zero_grads(gl_bert *m) {
    if (m->grads) memset(m->grads, 0, m->size * sizeof(float));
}

void gl_bert_free(gl_bert *m) {
    free(m->table);
    free(m->p.layers);
    free(m->g.layers);
    free(m->params);
    free(m->grads);
    memset(m, 0, sizeof *m);
}

const gl_param *gl_bert_find(const gl_bert *m, const char *name) {
    for (int i = 0; i < m->nparams; i++)
        if (!strcmp(m->table[i].name, name)) return &m->table[i];
    return NULL;
}
