/* tokenizer_internal.h: what the files of src/text share behind tokenizer.h.
 *
 *   tokenizer.c       gl_tokenizer: opening a directory, accessors, encode
 *                     dispatch, export
 *   wordpiece.c       BERT WordPiece (vocab.txt or a tokenizer.json model)
 *   bpe.c             byte-level BPE: vocabulary, merges, encoding
 *   bytelevel.c       GPT-2's byte-to-unicode map and pre-tokenizer split
 *   added_tokens.c    added tokens matched in the text before the model
 *   tokenizer_json.c  tokenizer.json
 *   bpe_files.c       vocab.json + merges.txt (+ tokenizer_config.json,
 *                     special_tokens_map.json)
 *   json_util.c       jansson helpers with errors that name file and key */
#ifndef GL_TOKENIZER_INTERNAL_H
#define GL_TOKENIZER_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"

/* Ids are below this (16M): larger ones are refused as malformed. */
#define GL_TOK_MAX_ID (1 << 24)

enum { GL_TOK_WORDPIECE, GL_TOK_BPE };

/* Rust's char::is_whitespace: the Unicode White_Space property. */
static inline int gl_tok_is_white_space(uint32_t c) {
    if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* ---- added tokens (added_tokens.c) ------------------------------------------ */

/* A token of tokenizer.json's "added_tokens" (or a special token): matched in
 * the text before the model runs, as Hugging Face's AddedVocabulary does. */
typedef struct {
    char *content;
    size_t len;
    int32_t id;
    unsigned char lstrip, rstrip, single_word, normalized, special;
} gl_added_token;

/* The tokens of one matching pass (HF matches the non-normalized ones in the
 * raw text first, then the normalized ones in the pieces between). */
typedef struct {
    gl_added_token *v; /* sorted by first byte, then by length, longest first */
    size_t n;
    uint32_t first[256]; /* v[first[b] .. first[b + 1]) start with byte b (.. n for 255) */
} gl_added_set;

/* Splits s[0..n) into added tokens and the gaps between them, as
 * tokenizers' AddedVocabulary::find_matches: leftmost-longest matches,
 * single_word, lstrip, rstrip. Call gl_added_next until it returns 0. */
typedef struct {
    const gl_added_set *set;
    const char *s;
    size_t n;
    size_t search; /* where the next match is looked for */
    size_t offset; /* end of what was given out so far */
    int have_pending;
    size_t pend_start, pend_stop;
    int32_t pend_id;
} gl_added_iter;

void gl_added_iter_init(gl_added_iter *it, const gl_added_set *set, const char *s, size_t n);
/* The next segment: a gap [*a, *b) with *id = -1, or a token *id (*a, *b its
 * span). Returns 0 at the end. Gaps are never empty. */
int gl_added_next(gl_added_iter *it, size_t *a, size_t *b, int32_t *id);

/* Takes the tokens (moved: the array and contents now belong to the set).
 * Returns 0, or -1 on allocation failure. */
int gl_added_set_build(gl_added_set *set, gl_added_token *v, size_t n);
void gl_added_set_free(gl_added_set *set);

/* ---- the tokenizer ---------------------------------------------------------- */

typedef struct gl_wordpiece gl_wordpiece;
typedef struct gl_bpe gl_bpe;

/* A file the tokenizer was read from, kept for gl_tokenizer_export. */
typedef struct {
    char *name; /* base name: "tokenizer.json" */
    char *data;
    size_t len;
} gl_tok_file;

#define GL_TOK_MAX_FILES 4

struct gl_tokenizer {
    int kind;
    int vocab_size;
    int32_t cls, sep, pad, unk;
    gl_added_set added_raw;  /* added tokens with normalized false */
    gl_added_set added_norm; /* with normalized true (byte-level BPE only) */
    gl_wordpiece *wp;
    gl_bpe *bpe;
    gl_tok_file files[GL_TOK_MAX_FILES];
    int nfiles;
};

/* Keep a copy of a file's bytes for export. */
int gl_tok_keep_file(gl_tokenizer *tok, const char *name, const char *data, size_t len);

/* ---- WordPiece (wordpiece.c) ------------------------------------------------ */

typedef struct {
    int lowercase, strip_accents; /* strip_accents already resolved (0/1) */
    int clean_text, handle_chinese_chars;
    const char *prefix; /* continuing_subword_prefix, "##" */
    int max_chars;      /* max_input_chars_per_word, 100 */
} gl_wordpiece_opts;

/* An empty vocabulary of n ids (0..n-1), filled by gl_wordpiece_set. */
gl_wordpiece *gl_wordpiece_new(int n, const gl_wordpiece_opts *o);
/* Token s[0..len) gets id (a repeated token maps to the last id set). */
int gl_wordpiece_set(gl_wordpiece *wp, int id, const char *s, size_t len);
/* After the last gl_wordpiece_set: the id of token s, or -1. */
int gl_wordpiece_find(const gl_wordpiece *wp, const char *s);
void gl_wordpiece_set_unk(gl_wordpiece *wp, int32_t unk);
void gl_wordpiece_free(gl_wordpiece *wp);
const char *gl_wordpiece_token(const gl_wordpiece *wp, int id);
/* The vocab.txt loader (the whole of gl_tokenizer_load). */
gl_tokenizer *gl_wordpiece_load_txt(const char *path, int lowercase, int strip_accents);
int gl_wordpiece_encode(const gl_tokenizer *tok, const char *text, size_t len, int max_length, int32_t **ids,
                        size_t *cap);

/* ---- byte-level BPE (bpe.c, bytelevel.c) ------------------------------------ */

typedef struct {
    int add_prefix_space, use_regex;
    int ignore_merges, fuse_unk, byte_fallback;
    const char *unk_token; /* NULL: unknown bytes are dropped */
} gl_bpe_opts;

/* The vocabulary: tokens as the files spell them (byte-to-unicode mapped). */
gl_bpe *gl_bpe_new(const gl_bpe_opts *o);
/* Add a token (ids need not be contiguous; a repeated id is an error the
 * caller reports: returns 1). Returns 0, 1 for a duplicate id, -1 on OOM. */
int gl_bpe_add_token(gl_bpe *bpe, const char *s, size_t len, int32_t id);
/* The id of a token (as spelled in the files), or -1. */
int32_t gl_bpe_token_id(const gl_bpe *bpe, const char *s, size_t len);
/* After the last token: add the merge a + b (ids) at the next rank. Returns
 * 0, or 1 when a + b is not in the vocabulary, -1 on OOM. */
int gl_bpe_add_merge(gl_bpe *bpe, int32_t a, int32_t b);
/* After the merges: the byte table, the word cache and the unknown token.
 * Returns 0; 1 when unk_token is not in the vocabulary while some byte has
 * no token (HF would fail on texts with that byte; refused at load here);
 * -1 on allocation failure. */
int gl_bpe_finish(gl_bpe *bpe);
int32_t gl_bpe_max_id(const gl_bpe *bpe);
const char *gl_bpe_token(const gl_bpe *bpe, int id);
void gl_bpe_free(gl_bpe *bpe);
int gl_bpe_encode(const gl_tokenizer *tok, const char *text, size_t len, int max_length, int32_t **ids, size_t *cap);

/* GPT-2's map of the 256 bytes to printable characters: the code point byte
 * b stands for (b itself for the printable ones, 256 + k for the others). */
uint32_t gl_bytelevel_char(unsigned char b);
/* The byte a code point stands for, or -1 when it is none of the 256. */
int gl_bytelevel_byte(uint32_t cp);
/* End of the GPT-2 pre-tokenizer piece that starts at s[pos] (pos < n, valid
 * UTF-8): the hand-written equivalent of the regex
 * 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
size_t gl_bytelevel_split(const char *s, size_t n, size_t pos);

/* ---- files (tokenizer_json.c, bpe_files.c, json_util.c) --------------------- */

/* An added token from its JSON object (content, id when with_id, and the
 * flags; normalized defaults to true as in HF). where names it in errors. */
int gl_tok_parse_added(const char *path, const char *where, json_t *o, gl_added_token *t, int with_id);
/* A JSON object of token -> id into the BPE vocabulary; errors name the key
 * (not an integer, negative, too large, NUL) or both tokens of a repeated id. */
int gl_bpe_read_vocab(gl_bpe *bpe, const char *path, const char *where, json_t *vocab);

gl_tokenizer *gl_tokenizer_json_load(const char *path, int lowercase, int strip_accents);
/* dir/vocab.json + dir/merges.txt (+ the two config files where present). */
gl_tokenizer *gl_bpe_files_load(const char *dir);

/* Parse a file's bytes as JSON (duplicate keys refused); errors name the
 * file, line and column. */
json_t *gl_tok_json_parse(const char *path, const char *data, size_t len);
/* Optional boolean member: *out unchanged when absent or null. */
int gl_tok_json_bool(const char *path, const char *where, json_t *o, const char *key, int *out);
/* Optional string member: NULL when absent or null; an error (-1 in *bad) when
 * it is not a string. */
const char *gl_tok_json_str(const char *path, const char *where, json_t *o, const char *key, int *bad);
/* A JSON value as an id 0 <= id < GL_TOK_MAX_ID; errors name the key. */
int gl_tok_json_id(const char *path, const char *where, json_t *v, int32_t *id);

/* s[0..n) quoted for an error message: at most 60 bytes, control characters
 * and '"' escaped; returns out. */
const char *gl_tok_quote(const char *s, size_t n, char *out, size_t cap);

/* Every loader: build the tokenizer's added-token sets from v[0..n) (taken
 * over, freed on failure) and raise vocab_size to cover their ids. */
int gl_tok_set_added(gl_tokenizer *tok, gl_added_token *v, size_t n);

#endif
