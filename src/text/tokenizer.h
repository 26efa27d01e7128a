/* tokenizer.h: the tokenizers of Hugging Face checkpoints, identical to
 * Hugging Face `tokenizers`:
 *  - "wordpiece": BERT (BertNormalizer + BertPreTokenizer + WordPiece, and
 *    [CLS] ... [SEP]), read from vocab.txt or from tokenizer.json;
 *  - "bpe": byte-level BPE, GPT-2 / RoBERTa style (ByteLevel pre-tokenizer with
 *    GPT-2's split, BPE merges by rank, <s> ... </s>), read from tokenizer.json
 *    or from vocab.json + merges.txt.
 * Every kind encodes through gl_tokenizer_encode. A gl_tokenizer does not
 * change once loaded (BPE's cache of merged words aside, which threads share
 * without locks and which never changes an id): one may be shared by threads
 * that encode at the same time. */
#ifndef GL_TOKENIZER_H
#define GL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

typedef struct gl_tokenizer gl_tokenizer;

/* Open the tokenizer of the model directory dir, from the first of these that
 * exists:
 *  1. vocab.txt: WordPiece, exactly gl_tokenizer_load(dir/vocab.txt, ...);
 *  2. tokenizer.json: WordPiece (BertNormalizer, BertPreTokenizer, WordPiece,
 *     a [CLS] $A [SEP] template or BertProcessing) or byte-level BPE (no
 *     normalizer, ByteLevel pre-tokenizer, BPE, RobertaProcessing or a
 *     <s> $A </s> template); its added tokens are matched in the text first;
 *  3. vocab.json + merges.txt: byte-level BPE; tokenizer_config.json and
 *     special_tokens_map.json, where present, give add_prefix_space (default
 *     off) and the special tokens (defaults RoBERTa's: <s> </s> <pad> <unk>
 *     <mask>, <mask> taking the spaces before it, as transformers does).
 * lowercase, strip_accents: tokenizer_config.json's do_lower_case and
 * strip_accents for WordPiece (1 or 0; -1 where the file does not say). For
 * vocab.txt, lowercase -1 means on and strip_accents -1 follows lowercase
 * (BERT's defaults). For tokenizer.json, -1 keeps the BertNormalizer's own
 * setting and 0/1 replaces it (as transformers' BertTokenizerFast does with
 * tokenizer_config.json's values). Byte-level BPE has no normalizer and
 * ignores both. tokenizer.json's "truncation" and "padding" are ignored:
 * gl_tokenizer_encode's max_length decides.
 * Errors (NULL, util/error.h) name the file and the place (line, key, token);
 * an unsupported tokenizer.json (its model, normalizer, pre-tokenizer or
 * post-processor type) names the type; a directory with none of the files
 * names the directory and the files it looked for. */
gl_tokenizer *gl_tokenizer_open(const char *dir, int lowercase, int strip_accents);

/* Load vocab.txt (one token per line, id = line number). strip_accents: -1 follows
 * lowercase (HF default). Errors name the file and line. */
gl_tokenizer *gl_tokenizer_load(const char *vocab_path, int lowercase, int strip_accents);
void gl_tokenizer_free(gl_tokenizer *tok);

/* "wordpiece" or "bpe". */
const char *gl_tokenizer_kind(const gl_tokenizer *tok);

/* Largest id + 1 (added tokens included): every id encode returns is below. */
int gl_tokenizer_vocab_size(const gl_tokenizer *tok);
/* The special tokens' ids, -1 where the tokenizer has none. cls / sep are
 * what encode puts first and last: [CLS] / [SEP] for WordPiece, <s> / </s>
 * for BPE. pad: [PAD] / <pad> (tokenizer.json's padding pad_id where set);
 * unk: the model's unknown token ([UNK]; <unk> for BPE, which never emits it
 * when every byte is in its vocabulary). */
int gl_tokenizer_cls_id(const gl_tokenizer *tok);
int gl_tokenizer_sep_id(const gl_tokenizer *tok);
int gl_tokenizer_pad_id(const gl_tokenizer *tok);
int gl_tokenizer_unk_id(const gl_tokenizer *tok);
/* token string for an id (as the vocabulary spells it: "##ing", "Ġworld"), or
 * NULL when out of range or not a token */
const char *gl_tokenizer_token(const gl_tokenizer *tok, int id);

/* Encode text (len bytes of UTF-8; invalid UTF-8 is an error) as
 * [CLS] tokens [SEP] (<s> tokens </s>), truncated so the total is at most
 * max_length (max_length <= 0: no truncation; 1 is an error). *ids is a
 * growable buffer of capacity *cap (realloc'd as needed; may start NULL/0);
 * returns the number of ids or -1. */
int gl_tokenizer_encode(const gl_tokenizer *tok, const char *text, size_t len, int max_length,
                        int32_t **ids, size_t *cap);

/* Write the files the tokenizer was read from, byte for byte, into the
 * existing directory out_dir, each atomically (util/fileio.h): vocab.txt; or
 * tokenizer.json; or vocab.json and merges.txt, with tokenizer_config.json
 * and special_tokens_map.json where they were read. A tokenizer made by
 * gl_tokenizer_load writes vocab.txt. Returns 0, or -1 naming the file. */
int gl_tokenizer_export(const gl_tokenizer *tok, const char *out_dir);

#endif
