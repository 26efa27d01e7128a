/* hf_export.h: a fine-tuned classifier written back in Hugging Face layout
 * (BertForSequenceClassification: config.json with id2label/label2id,
 * model.safetensors with bert.* and classifier.*, vocab.txt,
 * tokenizer_config.json), and the label set read back from such a directory. */
#ifndef GL_HF_EXPORT_H
#define GL_HF_EXPORT_H

#include "model/bert.h"

/* src_dir: the checkpoint training started from (its config.json, vocab.txt,
 * tokenizer_config.json and config_sentence_transformers.json are carried
 * over). pool: the pooling trained with (not AUTO), recorded as gloss_pooling
 * in config.json and as sentence-transformers modules (io/st_config.h:
 * modules.json, 1_Pooling/, for the pooler 2_Dense/, a Normalize module when
 * src_dir declares one, sentence_bert_config.json with max_seq_length =
 * max_length), so that SentenceTransformer(out_dir) embeds as gloss does.
 * Every file is written atomically. */
int gl_hf_export(const char *src_dir, const char *out_dir, const gl_bert *m, char *const *labels, int K,
                 gl_pool pool, int max_length);

/* Labels (id2label, in id order) and the pooling recorded by gl_hf_export
 * ("gloss_pooling", any mode but auto; "pooler" when absent, as transformers does). */
int gl_hf_labels(const char *dir, char ***labels, int *K, gl_pool *pool);
void gl_hf_labels_free(char **labels, int K);

#endif
