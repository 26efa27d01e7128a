/* bert.c: the encoder's activations, forward and backward, and pooling
 * (the parameter table is bert_table.c).
 *
 * Post-LayerNorm layer (Hugging Face BertLayer, RobertaLayer, DistilBERT's
 * TransformerBlock):
 *   qkv = x Wqkv^T + bqkv ; ctx = attention(qkv)
 *   h1  = LN1(dropout(ctx Wo^T + bo) + x)        DistilBERT: no dropout here
 *   y   = LN2(dropout(act(h1 W1^T + b1) W2^T + b2) + h1)   act: GELU (erf), or ReLU
 * Embeddings: x0 = dropout(LN(wte[id] + wpe[pos] + wtt[0])), pos = t
 * (RoBERTa: pad_token_id + 1 + t for a real token, pad_token_id for padding,
 * as its position ids from the input ids); DistilBERT has no wtt. */
#include "model/bert.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "util/error.h"
#include "util/profile.h"
#include "util/rng.h"

/* ---------------------------------------------------------- activations */

/* Training: every layer's activations, plus the backward scratch.
 * Forward only: one layer's, shared by all layers, where moreover a buffer
 * serves two values whose lifetimes do not overlap: act = fc1 (GELU in
 * place), ffn_res = attn_res (dead once LN1 has made h1), out = x0 (a layer's
 * input is dead once LN2 writes its output). */
static int acts_init(gl_bert_acts *a, const gl_bert *m, int Bmax, int Tmax, int forward_only) {
    memset(a, 0, sizeof *a);
    const int C = m->cfg.hidden_size, I = m->cfg.intermediate_size, L = m->cfg.num_layers,
              NH = m->cfg.num_heads;
    if (Tmax > m->cfg.max_position_embeddings)
        return gl_error("sequence length %d exceeds the model's max_position_embeddings %d", Tmax,
                        m->cfg.max_position_embeddings);
    a->Bmax = Bmax;
    a->Tmax = Tmax;
    a->forward_only = forward_only;
    size_t N = (size_t)Bmax * Tmax, probs = (size_t)Bmax * NH * Tmax * Tmax;
    size_t total = N * (2 * C + 2); /* embeddings: emb_sum, x0, LN statistics */
    if (forward_only)
        total += N * (3 * C + C + C + C + I + 4) + probs; /* qkv ctx attn_res h1 fc1, LN statistics */
    else
        total += (N * (3 * C + C + C + 1 + 1 + C + I + I + C + 1 + 1 + C) + probs) * L + N * (3 * C + 3 * C + I);
    int nt = omp_get_max_threads();
    total += gl_attention_scratch_floats(Tmax) * (size_t)nt;
    a->block = gl_malloc(total * sizeof(float));
    a->mask = gl_malloc(N);
    a->ids = gl_malloc(N * sizeof(int32_t));
    float ***lists[] = {&a->qkv, &a->probs, &a->ctx, &a->attn_res, &a->ln1_mean, &a->ln1_rstd, &a->h1,
                        &a->fc1, &a->act, &a->ffn_res, &a->ln2_mean, &a->ln2_rstd, &a->out};
    int ok = a->block && a->mask && a->ids;
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        *lists[i] = gl_calloc((size_t)L, sizeof(float *));
        ok = ok && *lists[i];
    }
    if (!ok) {
        gl_bert_acts_free(a);
        return gl_error_prefix("allocating activations for batch %d x %d: ", Bmax, Tmax);
    }
    a->block_floats = total;
    float *p = a->block;
#define TAKE(n) (p += (n), p - (n))
    a->emb_sum = TAKE(N * C);
    a->emb_mean = TAKE(N);
    a->emb_rstd = TAKE(N);
    a->x0 = TAKE(N * C);
    if (forward_only) {
        float *qkv = TAKE(N * 3 * C), *pr = TAKE(probs), *ctx = TAKE(N * C), *res = TAKE(N * C), *h1 = TAKE(N * C),
              *fc1 = TAKE(N * I), *ln1_mean = TAKE(N), *ln1_rstd = TAKE(N), *ln2_mean = TAKE(N),
              *ln2_rstd = TAKE(N);
        for (int l = 0; l < L; l++) {
            a->qkv[l] = qkv;
            a->probs[l] = pr;
            a->ctx[l] = ctx;
            a->attn_res[l] = a->ffn_res[l] = res;
            a->ln1_mean[l] = ln1_mean;
            a->ln1_rstd[l] = ln1_rstd;
            a->h1[l] = h1;
            a->fc1[l] = a->act[l] = fc1;
            a->ln2_mean[l] = ln2_mean;
            a->ln2_rstd[l] = ln2_rstd;
            a->out[l] = a->x0;
        }
    } else {
        for (int l = 0; l < L; l++) {
            a->qkv[l] = TAKE(N * 3 * C);
            a->probs[l] = TAKE(probs);
            a->ctx[l] = TAKE(N * C);
            a->attn_res[l] = TAKE(N * C);
            a->ln1_mean[l] = TAKE(N);
            a->ln1_rstd[l] = TAKE(N);
            a->h1[l] = TAKE(N * C);
            a->fc1[l] = TAKE(N * I);
            a->act[l] = TAKE(N * I);
            a->ffn_res[l] = TAKE(N * C);
            a->ln2_mean[l] = TAKE(N);
            a->ln2_rstd[l] = TAKE(N);
            a->out[l] = TAKE(N * C);
        }
        a->d_a = TAKE(N * C);
        a->d_b = TAKE(N * C);
        a->d_c = TAKE(N * C);
        a->d_qkv = TAKE(N * 3 * C);
        a->d_i = TAKE(N * I);
    }
    a->attn_scratch = TAKE(gl_attention_scratch_floats(Tmax) * (size_t)nt);
#undef TAKE
    return 0;
}

int gl_bert_acts_init(gl_bert_acts *a, const gl_bert *m, int Bmax, int Tmax) {
    return acts_init(a, m, Bmax, Tmax, 0);
}

int gl_bert_acts_init_inference(gl_bert_acts *a, const gl_bert *m, int Bmax, int Tmax) {
    return acts_init(a, m, Bmax, Tmax, 1);
}

void gl_bert_acts_free(gl_bert_acts *a) {
    free(a->block);
    free(a->mask);
    free(a->ids);
    free(a->qkv);
    free(a->probs);
    free(a->ctx);
    free(a->attn_res);
    free(a->ln1_mean);
    free(a->ln1_rstd);
    free(a->h1);
    free(a->fc1);
    free(a->act);
    free(a->ffn_res);
    free(a->ln2_mean);
    free(a->ln2_rstd);
    free(a->out);
    memset(a, 0, sizeof *a);
}

/* Dropout sites: one key per (pass seed, site) so masks are regenerated in backward. */
enum { SITE_EMB = 0, SITE_ATTN_PROBS = 1, SITE_ATTN_OUT = 2, SITE_FFN_OUT = 3 };
static uint64_t site_key(const gl_bert_acts *a, int layer, int site) {
    return gl_rng_key(a->key, (uint64_t)(layer + 1) * 8 + (uint64_t)site);
}

/* --------------------------------------------------------------- forward */

static void add_inplace(float *y, const float *x, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

/* The position-table row of token n of a (B, T) batch. */
static inline int position(const gl_bert_config *cfg, const uint8_t *mask, size_t n, int T) {
    int t = (int)(n % (size_t)T);
    if (!cfg->position_offset) return t;
    return mask[n] ? cfg->position_offset + t : cfg->pad_token_id;
}

/* The feed-forward activation: out = act(inp) (may alias). */
static void ffn_act_forward(const gl_bert_config *cfg, float *out, const float *inp, size_t n) {
    if (cfg->hidden_act == GL_ACT_GELU) {
        gl_gelu_forward(out, inp, n);
        return;
    }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

/* dinp = act'(inp) * dout (may alias dout) */
static void ffn_act_backward(const gl_bert_config *cfg, float *dinp, const float *inp, const float *dout, size_t n) {
    if (cfg->hidden_act == GL_ACT_GELU) {
        gl_gelu_backward(dinp, inp, dout, n);
        return;
    }
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) dinp[i] = inp[i] > 0.0f ? dout[i] : 0.0f;
}

const float *gl_bert_forward(gl_bert *m, gl_bert_acts *a, const int32_t *ids, const uint8_t *mask, int B, int T,
                             int training, uint64_t seed) {
    return gl_bert_forward_rows(m, a, ids, mask, B, T, training, seed, 0);
}

const float *gl_bert_forward_rows(gl_bert *m, gl_bert_acts *a, const int32_t *ids, const uint8_t *mask, int B, int T,
                                  int training, uint64_t seed, int row0) {
    const gl_bert_config *cfg = &m->cfg;
    const int C = cfg->hidden_size, I = cfg->intermediate_size, NH = cfg->num_heads;
    const size_t N = (size_t)B * T;
    const float ph = training ? m->hidden_dropout : 0.0f, pa = training ? m->attn_dropout : 0.0f;
    const float po = cfg->arch == GL_ARCH_DISTILBERT ? 0.0f : ph; /* after the attention output */
    const int bf = m->bf16; /* the linear layers in bf16 */
    a->B = B;
    a->T = T;
    a->training = training;
    a->key = seed;
    a->row0 = row0;
    const uint64_t d0 = (uint64_t)row0 * (uint64_t)T * (uint64_t)C; /* the first element's dropout draw */
    memcpy(a->ids, ids, N * sizeof(int32_t));
    memcpy(a->mask, mask, N);

    const gl_bert_view *P = &m->p;
    GL_PROF_BEGIN(prof_emb);
#pragma omp parallel for schedule(static)
    for (size_t n = 0; n < N; n++) {
        const float *we = P->wte + (size_t)ids[n] * C, *pe = P->wpe + (size_t)position(cfg, mask, n, T) * C;
        const float *te = P->wtt;
        float *o = a->emb_sum + n * C;
        if (te)
            for (int c = 0; c < C; c++) o[c] = we[c] + pe[c] + te[c];
        else
            for (int c = 0; c < C; c++) o[c] = we[c] + pe[c];
    }
    GL_PROF_END(prof_emb, GL_PROF_EMBED);
    GL_PROF(GL_PROF_LAYERNORM, gl_layernorm_forward(a->x0, a->emb_mean, a->emb_rstd, a->emb_sum, P->ln_w, P->ln_b, (int)N,
                                                 C, cfg->layer_norm_eps));
    GL_PROF(GL_PROF_DROPOUT, gl_dropout_apply_from(a->x0, N * C, ph, site_key(a, -1, SITE_EMB), d0));

    const float *x = a->x0;
    for (int l = 0; l < cfg->num_layers; l++) {
        const gl_layer_params *L = &P->layers[l];
        GL_PROF(GL_PROF_LINEAR_FWD, gl_linear_forward(a->qkv[l], x, L->wqkv, L->bqkv, (int)N, C, 3 * C, bf));
        GL_PROF(GL_PROF_ATTN_FWD, gl_attention_forward(a->ctx[l], a->probs[l], a->qkv[l], a->mask, B, T, C, NH, pa,
                                                    site_key(a, l, SITE_ATTN_PROBS), row0, a->attn_scratch));
        GL_PROF(GL_PROF_LINEAR_FWD, gl_linear_forward(a->attn_res[l], a->ctx[l], L->wo, L->bo, (int)N, C, C, bf));
        GL_PROF(GL_PROF_DROPOUT, gl_dropout_apply_from(a->attn_res[l], N * C, po, site_key(a, l, SITE_ATTN_OUT), d0));
        GL_PROF(GL_PROF_RESIDUAL, add_inplace(a->attn_res[l], x, N * C));
        GL_PROF(GL_PROF_LAYERNORM, gl_layernorm_forward(a->h1[l], a->ln1_mean[l], a->ln1_rstd[l], a->attn_res[l], L->ln1_w,
                                                     L->ln1_b, (int)N, C, cfg->layer_norm_eps));
        GL_PROF(GL_PROF_LINEAR_FWD, gl_linear_forward(a->fc1[l], a->h1[l], L->w1, L->b1, (int)N, C, I, bf));
        GL_PROF(GL_PROF_GELU, ffn_act_forward(cfg, a->act[l], a->fc1[l], N * I));
        GL_PROF(GL_PROF_LINEAR_FWD, gl_linear_forward(a->ffn_res[l], a->act[l], L->w2, L->b2, (int)N, I, C, bf));
        GL_PROF(GL_PROF_DROPOUT, gl_dropout_apply_from(a->ffn_res[l], N * C, ph, site_key(a, l, SITE_FFN_OUT), d0));
        GL_PROF(GL_PROF_RESIDUAL, add_inplace(a->ffn_res[l], a->h1[l], N * C));
        GL_PROF(GL_PROF_LAYERNORM, gl_layernorm_forward(a->out[l], a->ln2_mean[l], a->ln2_rstd[l], a->ffn_res[l], L->ln2_w,
                                                     L->ln2_b, (int)N, C, cfg->layer_norm_eps));
        x = a->out[l];
    }
    return x;
}

/* -------------------------------------------------------------- backward */

int gl_bert_backward(gl_bert *m, gl_bert_acts *a, float *dhidden) {
    const gl_bert_config *cfg = &m->cfg;
    const int C = cfg->hidden_size, I = cfg->intermediate_size, NH = cfg->num_heads;
    const int B = a->B, T = a->T;
    const size_t N = (size_t)B * T;
    const float ph = a->training ? m->hidden_dropout : 0.0f, pa = a->training ? m->attn_dropout : 0.0f;
    const float po = cfg->arch == GL_ARCH_DISTILBERT ? 0.0f : ph;
    const int bf = m->bf16;
    const uint64_t d0 = (uint64_t)a->row0 * (uint64_t)T * (uint64_t)C; /* as in the forward */
    const gl_bert_view *P = &m->p, *G = &m->g;
    if (a->forward_only) /* nothing to differentiate through */
        return gl_error("gl_bert_backward: activations from gl_bert_acts_init_inference keep no layer "
                        "(use gl_bert_acts_init)");

    float *dx = dhidden; /* gradient w.r.t. the current layer's output */
    float *d_res = a->d_a, *d_h1 = a->d_b, *d_ctx = a->d_c;
    for (int l = cfg->num_layers - 1; l >= 0; l--) {
        const gl_layer_params *L = &P->layers[l];
        const gl_layer_params *GL = &G->layers[l];
        const float *x = l ? a->out[l - 1] : a->x0;

        /* LN2: d_res = dLN2(dx) ; then ffn_res = drop(lin2) + h1 */
        memset(d_res, 0, N * C * sizeof(float));
        GL_PROF(GL_PROF_LAYERNORM, gl_layernorm_backward(d_res, GL->ln2_w, GL->ln2_b, dx, a->ffn_res[l], L->ln2_w,
                                                      a->ln2_mean[l], a->ln2_rstd[l], (int)N, C));
        memcpy(d_h1, d_res, N * C * sizeof(float));
        GL_PROF(GL_PROF_DROPOUT, gl_dropout_apply_from(d_res, N * C, ph, site_key(a, l, SITE_FFN_OUT), d0));
        memset(a->d_i, 0, N * I * sizeof(float));
        GL_PROF(GL_PROF_LINEAR_BWD,
                gl_linear_backward(a->d_i, GL->w2, GL->b2, d_res, a->act[l], L->w2, (int)N, I, C, bf));
        GL_PROF(GL_PROF_GELU, ffn_act_backward(cfg, a->d_i, a->fc1[l], a->d_i, N * I));
        GL_PROF(GL_PROF_LINEAR_BWD,
                gl_linear_backward(d_h1, GL->w1, GL->b1, a->d_i, a->h1[l], L->w1, (int)N, C, I, bf));

        /* LN1: d_res = dLN1(d_h1) ; attn_res = drop(lin_o) + x */
        memset(d_res, 0, N * C * sizeof(float));
        GL_PROF(GL_PROF_LAYERNORM, gl_layernorm_backward(d_res, GL->ln1_w, GL->ln1_b, d_h1, a->attn_res[l], L->ln1_w,
                                                      a->ln1_mean[l], a->ln1_rstd[l], (int)N, C));
        memcpy(dx, d_res, N * C * sizeof(float)); /* residual path to x */
        GL_PROF(GL_PROF_DROPOUT, gl_dropout_apply_from(d_res, N * C, po, site_key(a, l, SITE_ATTN_OUT), d0));
        memset(d_ctx, 0, N * C * sizeof(float));
        GL_PROF(GL_PROF_LINEAR_BWD,
                gl_linear_backward(d_ctx, GL->wo, GL->bo, d_res, a->ctx[l], L->wo, (int)N, C, C, bf));
        GL_PROF(GL_PROF_ATTN_BWD, gl_attention_backward(a->d_qkv, d_ctx, a->qkv[l], a->probs[l], B, T, C, NH, pa,
                                                     site_key(a, l, SITE_ATTN_PROBS), a->row0, a->attn_scratch));
        GL_PROF(GL_PROF_LINEAR_BWD,
                gl_linear_backward(dx, GL->wqkv, GL->bqkv, a->d_qkv, x, L->wqkv, (int)N, C, 3 * C, bf));
    }

    /* embeddings */
    GL_PROF(GL_PROF_DROPOUT, gl_dropout_apply_from(dx, N * C, ph, site_key(a, -1, SITE_EMB), d0));
    memset(d_res, 0, N * C * sizeof(float));
    GL_PROF(GL_PROF_LAYERNORM,
            gl_layernorm_backward(d_res, G->ln_w, G->ln_b, dx, a->emb_sum, P->ln_w, a->emb_mean, a->emb_rstd, (int)N, C));
    /* scatter-add into embedding rows; threads own channel blocks so no two write the same float */
    GL_PROF_BEGIN(prof_emb);
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += 16) {
        int c1 = c0 + 16 < C ? c0 + 16 : C;
        for (size_t n = 0; n < N; n++) {
            const float *d = d_res + n * C;
            float *gw = G->wte + (size_t)a->ids[n] * C, *gp = G->wpe + (size_t)position(cfg, a->mask, n, T) * C;
            if (G->wtt)
                for (int c = c0; c < c1; c++) {
                    gw[c] += d[c];
                    gp[c] += d[c];
                    G->wtt[c] += d[c];
                }
            else
                for (int c = c0; c < c1; c++) {
                    gw[c] += d[c];
                    gp[c] += d[c];
                }
        }
    }
    GL_PROF_END(prof_emb, GL_PROF_EMBED);
    return 0;
}

/* --------------------------------------------------------------- pooling */

static const char *const pool_names[] = {"mean", "cls", "pooler", "max", "mean_sqrt_len"};

int gl_pool_parse(const char *s, gl_pool *out) {
    if (!strcmp(s, "auto")) {
        *out = GL_POOL_AUTO;
        return 0;
    }
    for (int i = 0; i < (int)(sizeof pool_names / sizeof *pool_names); i++)
        if (!strcmp(s, pool_names[i])) {
            *out = (gl_pool)i;
            return 0;
        }
    return gl_error("unknown pooling '%s' (expected auto, mean, cls, pooler, max or mean_sqrt_len)", s);
}

const char *gl_pool_name(gl_pool p) {
    return p >= 0 && p < (int)(sizeof pool_names / sizeof *pool_names) ? pool_names[p] : "auto";
}

/* Non-padding tokens of row b, clamped to 1e-9 as sentence-transformers does. */
static float token_count(const uint8_t *mask, int b, int T) {
    float cnt = 0.0f;
    for (int t = 0; t < T; t++) cnt += mask[(size_t)b * T + t] ? 1.0f : 0.0f;
    return cnt > 1e-9f ? cnt : 1e-9f;
}

/* mean and mean_sqrt_len: sum(h * mask) / clamp(n)  or  / sqrt(clamp(n)) */
static float sum_scale(gl_pool pool, float cnt) { return pool == GL_POOL_MEAN ? 1.0f / cnt : 1.0f / sqrtf(cnt); }

/* max: the first non-padding token holding the largest value of channel c; -1 if none */
static int argmax_token(const float *h, const uint8_t *mask_row, int T, int C, int c) {
    int best = -1;
    for (int t = 0; t < T; t++)
        if (mask_row[t] && (best < 0 || h[(size_t)t * C + c] > h[(size_t)best * C + c])) best = t;
    return best;
}

int gl_pool_forward(const gl_bert *m, gl_pool pool, float *out, const float *hidden, const uint8_t *mask, int B,
                    int T) {
    const int C = m->cfg.hidden_size;
    if (pool == GL_POOL_AUTO) return gl_error("pooling 'auto' must be resolved before the forward pass");
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * C;
        const float *h = hidden + (size_t)b * T * C;
        if (pool == GL_POOL_MEAN || pool == GL_POOL_MEAN_SQRT_LEN) {
            /* sentence-transformers: sum(h * mask) / clamp(sum(mask), 1e-9), or / sqrt of it */
            memset(o, 0, C * sizeof(float));
            for (int t = 0; t < T; t++) {
                if (!mask[(size_t)b * T + t]) continue;
                for (int c = 0; c < C; c++) o[c] += h[(size_t)t * C + c];
            }
            float s = sum_scale(pool, token_count(mask, b, T));
            for (int c = 0; c < C; c++) o[c] *= s;
        } else if (pool == GL_POOL_MAX) {
            /* max over non-padding tokens per channel (0 for a document without tokens) */
            for (int c = 0; c < C; c++) {
                int t = argmax_token(h, mask + (size_t)b * T, T, C, c);
                o[c] = t < 0 ? 0.0f : h[(size_t)t * C + c];
            }
        } else {
            memcpy(o, h, C * sizeof(float)); /* [CLS] */
        }
    }
    if (pool == GL_POOL_POOLER) {
        /* tanh(W h_cls + b): the CLS rows are gathered in out, so transform in place via a copy */
        float *tmp = gl_malloc((size_t)B * C * sizeof(float));
        if (!tmp) return -1;
        memcpy(tmp, out, (size_t)B * C * sizeof(float));
        gl_linear_forward(out, tmp, m->p.pool_w, m->p.pool_b, B, C, C, m->bf16);
        for (size_t i = 0; i < (size_t)B * C; i++) out[i] = tanhf(out[i]);
        free(tmp);
    }
    return 0;
}

int gl_pool_backward(gl_bert *m, gl_pool pool, float *dhidden, const float *dout, const float *pooled,
                     const float *hidden, const uint8_t *mask, int B, int T) {
    const int C = m->cfg.hidden_size;
    if (pool == GL_POOL_AUTO) return gl_error("pooling 'auto' must be resolved before the backward pass");
    if (pool == GL_POOL_MEAN || pool == GL_POOL_MEAN_SQRT_LEN) {
        for (int b = 0; b < B; b++) {
            float s = sum_scale(pool, token_count(mask, b, T));
            for (int t = 0; t < T; t++) {
                if (!mask[(size_t)b * T + t]) continue;
                float *d = dhidden + ((size_t)b * T + t) * C;
                for (int c = 0; c < C; c++) d[c] += dout[(size_t)b * C + c] * s;
            }
        }
        return 0;
    }
    if (pool == GL_POOL_MAX) {
        /* the whole gradient of a channel goes to the token the forward took it from */
        for (int b = 0; b < B; b++) {
            const float *h = hidden + (size_t)b * T * C;
            for (int c = 0; c < C; c++) {
                int t = argmax_token(h, mask + (size_t)b * T, T, C, c);
                if (t >= 0) dhidden[((size_t)b * T + t) * C + c] += dout[(size_t)b * C + c];
            }
        }
        return 0;
    }
    if (pool == GL_POOL_CLS) {
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++) dhidden[(size_t)b * T * C + c] += dout[(size_t)b * C + c];
        return 0;
    }
    /* pooler: pre = W h_cls + b ; pooled = tanh(pre) */
    float *dpre = gl_malloc((size_t)B * C * sizeof(float) * 3);
    if (!dpre) return -1;
    float *hcls = dpre + (size_t)B * C, *dcls = hcls + (size_t)B * C;
    for (size_t i = 0; i < (size_t)B * C; i++) dpre[i] = dout[i] * (1.0f - pooled[i] * pooled[i]);
    for (int b = 0; b < B; b++) memcpy(hcls + (size_t)b * C, hidden + (size_t)b * T * C, C * sizeof(float));
    memset(dcls, 0, (size_t)B * C * sizeof(float));
    gl_linear_backward(dcls, m->g.pool_w, m->g.pool_b, dpre, hcls, m->p.pool_w, B, C, C, m->bf16);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) dhidden[(size_t)b * T * C + c] += dcls[(size_t)b * C + c];
    free(dpre);
    return 0;
}
