/* hf_export.h: a fine-tuned classifier written back in Hugging Face layout
 * (Bert-, DistilBert- or RobertaForSequenceClassification, as the model's
 * architecture: config.json with model_type, architectures, id2label and
 * label2id; model.safetensors with the encoder under bert.*, distilbert.* or
 * roberta.* and the head under the class's names; the tokenizer files;
 * tokenizer_config.json), and the label set read back from such a directory. */
#ifndef GL_HF_EXPORT_H
#define GL_HF_EXPORT_H

#include "model/bert.h"
#include "text/tokenizer.h"

/* src_dir: the checkpoint training started from (its config.json,
 * tokenizer_config.json and config_sentence_transformers.json are carried
 * over); tok: its tokenizer, which writes the files it was read from
 * (gl_tokenizer_export: vocab.txt, tokenizer.json, or vocab.json + merges.txt). pool: the pooling trained with (not AUTO), recorded as gloss_pooling
 * in config.json and as sentence-transformers modules (io/st_config.h:
 * modules.json, 1_Pooling/, for the pooler 2_Dense/, a Normalize module when
 * src_dir declares one, sentence_bert_config.json with max_seq_length =
 * max_length), so that SentenceTransformer(out_dir) embeds as gloss does.
 * Every file is written atomically. */
int gl_hf_export(const char *src_dir, const char *out_dir, const gl_bert *m, const gl_tokenizer *tok,
                 char *const *labels, int K, gl_pool pool, int max_length);

/* Labels (id2label, in id order) and the pooling recorded by gl_hf_export
 * ("gloss_pooling", any mode but auto; when absent what transformers' class
 * takes: "pooler" for BERT, "cls" for model_type distilbert and roberta). */
int gl_hf_labels(const char *dir, char ***labels, int *K, gl_pool *pool);
void gl_hf_labels_free(char **labels, int K);

#endif
