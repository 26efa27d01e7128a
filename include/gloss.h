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

typedef enum { GLOSS_POOL_MEAN = 0, GLOSS_POOL_CLS = 1, GLOSS_POOL_POOLER = 2 } gloss_pool;

/* Load a Hugging Face BERT-family checkpoint directory: config.json,
 * model.safetensors (F32, F16 or BF16), vocab.txt, optional tokenizer_config.json. */
gloss_model *gloss_model_load(const char *dir);
void gloss_model_free(gloss_model *model);

int gloss_model_hidden_size(const gloss_model *model);
int gloss_model_num_layers(const gloss_model *model);
int gloss_model_max_length(const gloss_model *model);
int gloss_model_has_pooler(const gloss_model *model);

/* Tokenize one text as [CLS] ... [SEP] (truncated to max_length when > 0).
 * Writes at most cap ids; returns the full count, or -1 on error (invalid UTF-8). */
int gloss_tokenize(const gloss_model *model, const char *text, int max_length, int32_t *ids, int cap);

/* Progress callback: done and total in documents; return non-zero to cancel. */
typedef int (*gloss_progress_fn)(size_t done, size_t total, void *user);

/* Embed n texts into out (n x hidden floats, row-major), in evaluation mode.
 * Batches of batch_size documents are padded to their longest document. */
int gloss_embed(gloss_model *model, const char *const *texts, size_t n, gloss_pool pool, int max_length,
                int batch_size, float *out, gloss_progress_fn progress, void *user);

const char *gloss_last_error(void);
const char *gloss_version(void);

#ifdef __cplusplus
}
#endif
#endif
