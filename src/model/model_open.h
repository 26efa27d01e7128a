/* model_open.h: the one way a model directory is opened, by every command
 * (train, eval, predict, embed) and the public API: config.json,
 * model.safetensors and the tokenizer loaded together and checked against
 * each other, so that no token id the tokenizer can produce reads past the
 * embedding table. */
#ifndef GL_MODEL_OPEN_H
#define GL_MODEL_OPEN_H

#include <stddef.h>
#include <stdint.h>

#include "model/bert.h"
#include "text/tokenizer.h"

/* Load the encoder (gl_bert_load: config.json, model.safetensors, every
 * tensor's shape checked) and its tokenizer (gl_tokenizer_open: vocab.txt,
 * else tokenizer.json, else vocab.json + merges.txt, with the casing of
 * tokenizer_config.json), and check that the vocabulary has no more entries
 * than the embedding table has rows (config.json's vocab_size).
 * On failure both are freed, *tok is NULL and the error names the file:
 * "DIR/vocab.txt: 130 entries but config.json's vocab_size is 120 ...". */
int gl_model_open(const char *dir, gl_bert *m, gl_tokenizer **tok);
void gl_model_close(gl_bert *m, gl_tokenizer **tok);

/* The second guard, for the code that builds batches: every id of
 * ids[0..n) indexes a row of the embedding table (0 <= id < vocab_size).
 * -1 with an error "WHAT: token id X at position P is outside the embedding
 * table (config.json vocab_size V)" otherwise, what naming the document. */
int gl_model_check_ids(const gl_bert *m, const int32_t *ids, size_t n, const char *what);

#endif
