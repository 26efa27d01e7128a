/* gloss.h: the public C API of gloss, a fine-tuning engine for BERT-family
 * text encoders.
 *
 * Ownership: every object returned by a *_load / *_new call is owned by the
 * caller and released with the matching *_free. Calls that can fail return
 * NULL or -1 and leave a message in gloss_last_error() (per thread) that names
 * the file, tensor or line that was wrong. */
#ifndef GLOSS_H
#define GLOSS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GLOSS_VERSION "0.1.0"

typedef struct gloss_model gloss_model;

/* Pooling of the last hidden state over the non-padding tokens. AUTO: the
 * checkpoint's own (gloss_model_pooling says which). */
typedef enum {
    GLOSS_POOL_AUTO = -1,
    GLOSS_POOL_MEAN = 0,          /* mean (sentence-transformers' mean pooling) */
    GLOSS_POOL_CLS = 1,           /* the last hidden state of [CLS] */
    GLOSS_POOL_POOLER = 2,        /* tanh(W h_[CLS] + b), BERT's pooler */
    GLOSS_POOL_MAX = 3,           /* maximum per channel */
    GLOSS_POOL_MEAN_SQRT_LEN = 4  /* sum / sqrt(number of tokens) */
} gloss_pool;

/* "auto", "mean", "cls", "pooler", "max", "mean_sqrt_len"; -1 on an unknown name. */
int gloss_pool_parse(const char *name, gloss_pool *out);
const char *gloss_pool_name(gloss_pool pool);

/* Load a Hugging Face BERT-family checkpoint directory: config.json,
 * model.safetensors (F32, F16 or BF16), vocab.txt (no more entries than
 * config.json's vocab_size, so that no token id reads past the embedding
 * table), optional tokenizer_config.json,
 * and the optional sentence-transformers files (modules.json, 1_Pooling/config.json,
 * sentence_bert_config.json), which must then be well-formed and agree with the weights. */
gloss_model *gloss_model_load(const char *dir);
void gloss_model_free(gloss_model *model);

int gloss_model_hidden_size(const gloss_model *model);
int gloss_model_num_layers(const gloss_model *model);
int gloss_model_max_length(const gloss_model *model);
int gloss_model_has_pooler(const gloss_model *model);
/* sentence_bert_config.json's max_seq_length; 0 when the checkpoint declares none. */
int gloss_model_max_seq_length(const gloss_model *model);

/* The pooling used for requested: requested itself unless GLOSS_POOL_AUTO,
 * which is the pooling the checkpoint declares (modules.json / 1_Pooling), else
 * the pooler where its weights are trained, else mean. *normalize (may be NULL):
 * 1 when the checkpoint declares a Normalize module and requested is AUTO or the
 * declared pooling (what sentence-transformers' encode then does: see
 * gloss_normalize_rows). *source (may be NULL): why, e.g. "from
 * 1_Pooling/config.json", valid until the next call or gloss_model_free.
 * Fails when the checkpoint has no pooler weights for the pooler, or for AUTO
 * when it declares a module gloss does not compute. */
int gloss_model_pooling(gloss_model *model, gloss_pool requested, gloss_pool *resolved, int *normalize,
                        const char **source);

/* Scale each of n rows of dim floats to unit L2 norm, in place (x / max(|x|, 1e-12),
 * as sentence-transformers' Normalize module). */
void gloss_normalize_rows(float *x, size_t n, int dim);

/* Tokenize one text as [CLS] ... [SEP] (truncated to max_length when > 0).
 * Writes at most cap ids; returns the full count, or -1 on error (invalid UTF-8). */
int gloss_tokenize(const gloss_model *model, const char *text, int max_length, int32_t *ids, int cap);

/* Progress callback: done and total in documents; return non-zero to cancel. */
typedef int (*gloss_progress_fn)(size_t done, size_t total, void *user);

/* Embed n texts into out (n x hidden floats, row-major), in evaluation mode,
 * pooled with pool (AUTO: as gloss_model_pooling resolves it; no normalisation
 * here). Batches of batch_size documents are padded to their longest document. */
int gloss_embed(gloss_model *model, const char *const *texts, size_t n, gloss_pool pool, int max_length,
                int batch_size, float *out, gloss_progress_fn progress, void *user);

const char *gloss_last_error(void);
const char *gloss_version(void);

#ifdef __cplusplus
}
#endif
#endif
