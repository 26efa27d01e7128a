/* tokenizer.h: the BERT WordPiece tokenizer, identical to Hugging Face's
 * (BertNormalizer + BertPreTokenizer + WordPiece, and [CLS] ... [SEP]). */
#ifndef GL_TOKENIZER_H
#define GL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct gl_tokenizer gl_tokenizer;

/* Load vocab.txt (one token per line, id = line number). strip_accents: -1 follows
 * lowercase (HF default). Errors name the file and line. */
gl_tokenizer *gl_tokenizer_load(const char *vocab_path, int lowercase, int strip_accents);
void gl_tokenizer_free(gl_tokenizer *tok);

int gl_tokenizer_vocab_size(const gl_tokenizer *tok);
int gl_tokenizer_cls_id(const gl_tokenizer *tok);
int gl_tokenizer_sep_id(const gl_tokenizer *tok);
int gl_tokenizer_pad_id(const gl_tokenizer *tok);
int gl_tokenizer_unk_id(const gl_tokenizer *tok);
/* token string for an id, or NULL when out of range */
const char *gl_tokenizer_token(const gl_tokenizer *tok, int id);

/* Encode text (len bytes of UTF-8; invalid UTF-8 is an error) as
 * [CLS] tokens [SEP], truncated so the total is at most max_length
 * (max_length <= 0: no truncation). *ids is a growable buffer of capacity *cap
 * (realloc'd as needed; may start NULL/0); returns the number of ids or -1. */
int gl_tokenizer_encode(const gl_tokenizer *tok, const char *text, size_t len, int max_length,
                        int32_t **ids, size_t *cap);

#endif
