/* hf_model.h: a fine-tuned classifier written back in Hugging Face layout
 * (BertForSequenceClassification: config.json with id2label/label2id,
 * model.safetensors with bert.* and classifier.*, vocab.txt,
 * tokenizer_config.json), and the label set read back from such a directory. */
#ifndef GL_HF_MODEL_H
#define GL_HF_MODEL_H

#include "model/bert.h"

/* src_dir: the checkpoint training started from (its config.json, vocab.txt and
 * tokenizer_config.json are carried over). Every file is written atomically. */
int gl_hf_export(const char *src_dir, const char *out_dir, const gl_bert *m, char *const *labels, int K,
                 gl_pool pool);

/* Labels (id2label, in id order) and the pooling recorded by gl_hf_export
 * ("gloss_pooling"; "pooler" when absent, as transformers does). */
int gl_hf_labels(const char *dir, char ***labels, int *K, gl_pool *pool);
void gl_hf_labels_free(char **labels, int K);

#endif
