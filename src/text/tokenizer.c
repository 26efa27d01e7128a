/* tokenizer.c: the tokenizer of a model directory (tokenizer.h): which files
 * are read, the accessors every kind shares, encode dispatch and export. The
 * kinds themselves: text/wordpiece.c and text/bpe.c. */
#include "text/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"
#include "util/error.h"
#include "util/fileio.h"

gl_tokenizer *gl_tokenizer_load(const char *vocab_path, int lowercase, int strip_accents) {
    return gl_wordpiece_load_txt(vocab_path, lowercase, strip_accents);
}

gl_tokenizer *gl_tokenizer_open(const char *dir, int lowercase, int strip_accents) {
    static const char *const names[] = {"vocab.txt", "tokenizer.json", "vocab.json", "merges.txt"};
    char *path[4] = {NULL, NULL, NULL, NULL};
    int have[4] = {0, 0, 0, 0};
    gl_tokenizer *tok = NULL;
    for (int i = 0; i < 4; i++) {
        path[i] = gl_path_join(dir, names[i]);
        if (!path[i]) goto done;
        have[i] = gl_file_exists(path[i]);
    }
    if (have[0])
        tok = gl_tokenizer_load(path[0], lowercase, strip_accents);
    else if (have[1])
        tok = gl_tokenizer_json_load(path[1], lowercase, strip_accents);
    else if (have[2] && have[3])
        tok = gl_bpe_files_load(dir);
    else if (have[2] || have[3])
        gl_error_k(GL_E_IO, "%s: no tokenizer: %s without %s (and no vocab.txt or tokenizer.json)", dir,
                   names[have[2] ? 2 : 3], names[have[2] ? 3 : 2]);
    else
        gl_error_k(GL_E_IO, "%s: no tokenizer: none of vocab.txt, tokenizer.json, vocab.json + merges.txt", dir);
done:
    for (int i = 0; i < 4; i++) free(path[i]);
    return tok;
}

void gl_tokenizer_free(gl_tokenizer *tok) {
    if (!tok) return;
    gl_wordpiece_free(tok->wp);
    gl_bpe_free(tok->bpe);
    gl_added_set_free(&tok->added_raw);
    gl_added_set_free(&tok->added_norm);
    for (int i = 0; i < tok->nfiles; i++) {
        free(tok->files[i].name);
        free(tok->files[i].data);
    }
    free(tok);
}

int gl_tok_keep_file(gl_tokenizer *tok, const char *name, const char *data, size_t len) {
    if (tok->nfiles == GL_TOK_MAX_FILES) return gl_error("tokenizer: too many files");
    gl_tok_file *f = &tok->files[tok->nfiles];
    f->name = gl_strdup(name);
    f->data = gl_malloc(len ? len : 1);
    if (!f->name || !f->data) {
        free(f->name);
        free(f->data);
        return -1;
    }
    if (len) memcpy(f->data, data, len);
    f->len = len;
    tok->nfiles++;
    return 0;
}

int gl_tok_set_added(gl_tokenizer *tok, gl_added_token *v, size_t n) {
    size_t nraw = 0;
    for (size_t i = 0; i < n; i++) nraw += !v[i].normalized;
    gl_added_token *raw = gl_malloc((nraw ? nraw : 1) * sizeof *raw);
    gl_added_token *norm = gl_malloc((n - nraw ? n - nraw : 1) * sizeof *norm);
    if (!raw || !norm) {
        free(raw);
        free(norm);
        for (size_t i = 0; i < n; i++) free(v[i].content);
        free(v);
        return -1;
    }
    size_t r = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].normalized)
            norm[m++] = v[i];
        else
            raw[r++] = v[i];
        if (v[i].id >= tok->vocab_size) tok->vocab_size = v[i].id + 1;
    }
    free(v);
    gl_added_set_build(&tok->added_raw, raw, r);
    gl_added_set_build(&tok->added_norm, norm, m);
    return 0;
}

const char *gl_tokenizer_kind(const gl_tokenizer *tok) { return tok->kind == GL_TOK_BPE ? "bpe" : "wordpiece"; }

int gl_tokenizer_vocab_size(const gl_tokenizer *tok) { return tok->vocab_size; }
int gl_tokenizer_cls_id(const gl_tokenizer *tok) { return tok->cls; }
int gl_tokenizer_sep_id(const gl_tokenizer *tok) { return tok->sep; }
int gl_tokenizer_pad_id(const gl_tokenizer *tok) { return tok->pad; }
int gl_tokenizer_unk_id(const gl_tokenizer *tok) { return tok->unk; }

static const char *added_token(const gl_added_set *s, int id) {
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].id == id) return s->v[i].content;
    return NULL;
}

/* As HF's id_to_token: the added tokens first, then the model's vocabulary. */
const char *gl_tokenizer_token(const gl_tokenizer *tok, int id) {
    if (id < 0 || id >= tok->vocab_size) return NULL;
    const char *t = added_token(&tok->added_raw, id);
    if (!t) t = added_token(&tok->added_norm, id);
    if (t) return t;
    return tok->wp ? gl_wordpiece_token(tok->wp, id) : gl_bpe_token(tok->bpe, id);
}

int gl_tokenizer_encode(const gl_tokenizer *tok, const char *text, size_t len, int max_length, int32_t **ids,
                        size_t *cap) {
    if (tok->kind == GL_TOK_BPE) return gl_bpe_encode(tok, text, len, max_length, ids, cap);
    return gl_wordpiece_encode(tok, text, len, max_length, ids, cap);
}

int gl_tokenizer_export(const gl_tokenizer *tok, const char *out_dir) {
    for (int i = 0; i < tok->nfiles; i++) {
        char *path = gl_path_join(out_dir, tok->files[i].name);
        if (!path) return -1;
        int rc = gl_write_file_atomic(path, tok->files[i].data, tok->files[i].len);
        free(path);
        if (rc) return -1;
    }
    return 0;
}
