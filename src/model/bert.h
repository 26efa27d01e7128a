/* bert.h: the BERT-family encoder (BERT, DistilBERT, RoBERTa: cfg.arch):
 * parameter table, forward, backward, pooling.
 *
 * All parameters live in one float buffer (params) described by a table of
 * named tensors; gradients live in a second buffer with the same layout, so
 * zeroing, clipping, the optimiser and checkpointing are loops over one array.
 * The query, key and value weights of a layer are adjacent, forming one
 * (3C, C) matrix, and so are their biases: one GEMM computes q | k | v. */
#ifndef GL_BERT_H
#define GL_BERT_H

#include <stddef.h>
#include <stdint.h>

#include "io/config.h"

typedef struct {
    char name[96];    /* Hugging Face name without the model's prefix (gl_bert_prefix) */
    size_t offset;    /* into params / grads, in floats */
    size_t numel;
    int ndim;
    int64_t shape[2];
    int decay;        /* 1: AdamW weight decay applies (matrices); 0: biases, LayerNorm */
    int head;         /* 1: classification head (saved without the model's prefix) */
} gl_param;

typedef struct {
    float *wqkv, *bqkv;       /* (3C, C), (3C) */
    float *wo, *bo;           /* (C, C), (C) */
    float *ln1_w, *ln1_b;     /* (C) */
    float *w1, *b1;           /* (I, C), (I) */
    float *w2, *b2;           /* (C, I), (C) */
    float *ln2_w, *ln2_b;     /* (C) */
} gl_layer_params;

typedef struct {
    float *wte, *wpe, *wtt, *ln_w, *ln_b; /* embeddings; wtt NULL without token types (DistilBERT) */
    gl_layer_params *layers;
    float *pool_w, *pool_b;               /* pooler (NULL when absent) */
    float *head_w, *head_b;               /* the head's hidden layer (C, C), (C): DistilBERT's pre_classifier,
                                           * RoBERTa's classifier.dense; NULL for BERT's linear head */
    float *cls_w, *cls_b;                 /* the head's output layer (K, C), (K); NULL when absent */
} gl_bert_view;

typedef struct {
    gl_bert_config cfg;
    int has_pooler;
    int num_labels;  /* rows of the classification head; 0: none */
    int nparams;
    gl_param *table;
    size_t size;     /* total floats */
    float *params;
    float *grads;    /* NULL until gl_bert_alloc_grads */
    gl_bert_view p;  /* pointers into params */
    gl_bert_view g;  /* pointers into grads */
    float hidden_dropout, attn_dropout;
    float head_dropout; /* the classification head's dropout (config.h) */
    int bf16;        /* linear layers in bf16 (gl_bert_set_bf16; kernels/kernels.h); 0 after init */
} gl_bert;

/* Build the table and allocate zeroed parameters for a configuration, with an
 * optional classification head of num_labels classes on the pooled vector, as
 * the architecture's ForSequenceClassification class has it (train/head.c):
 *   BERT        linear (K, C)
 *   DistilBERT  hidden layer (C, C) + ReLU, then linear (K, C)
 *   RoBERTa     hidden layer (C, C) + tanh, then linear (K, C)
 * with_pooler: BERT only. */
int gl_bert_init(gl_bert *m, const gl_bert_config *cfg, int with_pooler, int num_labels);
/* Give the model a fresh classification head of K classes (weights N(0,
 * 0.02^2) from seed, the output layer's drawn first, then the hidden layer's;
 * biases 0), replacing any existing one. Gradients are reallocated. */
int gl_bert_set_head(gl_bert *m, int K, uint64_t seed);
/* Where the head starts in params / grads (floats): it is the buffer's tail.
 * m->size when there is no head. */
size_t gl_bert_head_offset(const gl_bert *m);
/* The checkpoint's prefix of encoder tensors: "bert.", "distilbert.", "roberta." */
const char *gl_bert_prefix(const gl_bert *m);
/* The name of the head's output weight, which gives the number of classes:
 * "classifier.weight" (BERT, DistilBERT), "classifier.out_proj.weight" (RoBERTa). */
const char *gl_bert_head_output_name(gl_arch arch);
int gl_bert_alloc_grads(gl_bert *m);
/* Mixed precision for this model's encoder and pooler linear layers (and
 * whatever else its owner computes with m->bf16): on, their matrix products
 * take bf16 inputs with fp32 sums; weights and gradients stay fp32. Fails
 * (-1, error set, m unchanged) when asked to switch on on a CPU without
 * AVX512-BF16. */
int gl_bert_set_bf16(gl_bert *m, int on);
void gl_bert_zero_grads(gl_bert *m);
void gl_bert_free(gl_bert *m);
const gl_param *gl_bert_find(const gl_bert *m, const char *name);

/* Load config.json + model.safetensors from a checkpoint directory, the
 * architecture config.json's model_type names. Accepts keys with or without
 * the model's prefix ("bert.", "distilbert.", "roberta."), F32/F16/BF16, a
 * BERT pooler present or absent (a RoBERTa pooler is ignored), and the
 * architecture's classification head when present; every tensor's shape is
 * checked. Errors name the file and the tensor. */
int gl_bert_load(gl_bert *m, const char *dir);
/* Write all parameters as F32 safetensors, atomically: encoder tensors under
 * prefix ("" or gl_bert_prefix(m)), the head under its own names. */
int gl_bert_save(const gl_bert *m, const char *path, const char *prefix);
/* Activations of one forward pass, sized for up to (Bmax, Tmax). */
typedef struct {
    int Bmax, Tmax, B, T;
    int forward_only; /* gl_bert_acts_init_inference: one layer's buffers, reused by every layer */
    int training;
    uint64_t key; /* dropout seed of this pass */
    int row0;     /* the pass's rows are rows row0.. of a larger batch (gl_bert_forward_rows) */
    uint8_t *mask;   /* (B,T) */
    int32_t *ids;    /* (B,T) */
    float *emb_sum, *emb_mean, *emb_rstd; /* (N,C), (N), (N) */
    float *x0;       /* (N,C) embeddings output (after dropout) = input of layer 0 */
    /* per layer l, each an array of L pointers */
    float **qkv, **probs, **ctx, **attn_res, **ln1_mean, **ln1_rstd, **h1, **fc1, **act, **ffn_res,
        **ln2_mean, **ln2_rstd, **out;
    float *block;    /* the single activation allocation */
    size_t block_floats;
    /* backward scratch */
    float *d_a, *d_b, *d_c, *d_qkv, *d_i;
    float *attn_scratch;
} gl_bert_acts;

/* For training: every layer's activations are kept for gl_bert_backward. */
int gl_bert_acts_init(gl_bert_acts *a, const gl_bert *m, int Bmax, int Tmax);
/* For forward passes only (evaluation, prediction, embedding): one layer's
 * buffers, which every layer reuses, and no backward scratch, so the size no
 * longer grows with the number of layers (BERT-base at 32 x 128: ~0.18 GB
 * instead of ~2.9 GB). The forward computes exactly the same numbers on either
 * kind; gl_bert_backward refuses this kind (an error). */
int gl_bert_acts_init_inference(gl_bert_acts *a, const gl_bert *m, int Bmax, int Tmax);
void gl_bert_acts_free(gl_bert_acts *a);

/* Forward over ids/mask (B, T), T <= max positions. training: apply dropout
 * (hidden and attention) keyed by seed. Returns the last hidden state (B, T, C),
 * which lives inside acts. */
const float *gl_bert_forward(gl_bert *m, gl_bert_acts *a, const int32_t *ids, const uint8_t *mask, int B, int T,
                             int training, uint64_t seed);
/* The same for rows row0 .. row0 + B - 1 of a larger batch padded to T: the
 * dropout masks are those the whole batch's pass draws for these rows, so
 * processes that split a batch between them compute, row by row, what one
 * process computes for all of it (data-parallel training). gl_bert_forward
 * is row0 = 0; gl_bert_backward uses the row0 of the last forward. */
const float *gl_bert_forward_rows(gl_bert *m, gl_bert_acts *a, const int32_t *ids, const uint8_t *mask, int B, int T,
                                  int training, uint64_t seed, int row0);
/* Backward of the last forward: dhidden (B, T, C) is the gradient of the loss
 * with respect to the last hidden state; it is consumed (overwritten).
 * Accumulates into m->grads. Needs activations from gl_bert_acts_init:
 * returns -1 (error set, nothing computed) for those of
 * gl_bert_acts_init_inference, else 0. */
int gl_bert_backward(gl_bert *m, gl_bert_acts *a, float *dhidden);

/* Pooling of the last hidden state into (B, C), over the non-padding tokens:
 *   mean           sum_t h_t / n                (sentence-transformers' mean)
 *   cls            h_[CLS]
 *   pooler         tanh(W h_[CLS] + b), BertForSequenceClassification's
 *   max            max_t h_t per channel; the gradient goes to the argmax token
 *   mean_sqrt_len  sum_t h_t / sqrt(n)
 * GL_POOL_AUTO is a request only (gl_pool_resolve, model/pool_auto.h); the
 * forward and backward refuse it. The values are those of gloss.h's gloss_pool. */
typedef enum {
    GL_POOL_AUTO = -1,
    GL_POOL_MEAN = 0,
    GL_POOL_CLS = 1,
    GL_POOL_POOLER = 2,
    GL_POOL_MAX = 3,
    GL_POOL_MEAN_SQRT_LEN = 4
} gl_pool;
/* "auto", "mean", "cls", "pooler", "max", "mean_sqrt_len" */
int gl_pool_parse(const char *s, gl_pool *out);
const char *gl_pool_name(gl_pool p);
/* Returns -1 only if scratch memory cannot be allocated (pooler) or pool is AUTO. */
int gl_pool_forward(const gl_bert *m, gl_pool pool, float *out, const float *hidden, const uint8_t *mask, int B,
                    int T);
/* dhidden (B,T,C) += d(pooled)/d(hidden)^T dout; pooler parameter gradients go to m->grads.
 * pooled is the forward output (needed by POOLER). */
int gl_pool_backward(gl_bert *m, gl_pool pool, float *dhidden, const float *dout, const float *pooled,
                     const float *hidden, const uint8_t *mask, int B, int T);

#endif
