/* bpe_files.c: a byte-level BPE tokenizer from vocab.json + merges.txt, as
 * transformers' RobertaTokenizer builds it from those files:
 *  - vocab.json: an object of token -> id;
 *  - merges.txt: one merge "a b" a line, rank = order; lines starting with
 *    "#version" are skipped (lines as Rust's BufRead::lines);
 *  - tokenizer_config.json (optional): add_prefix_space (default false), the
 *    special tokens bos/eos/unk/sep/pad/cls/mask_token and
 *    additional_special_tokens (a string, or an object with content, lstrip,
 *    rstrip, single_word, normalized), added_tokens_decoder (id -> token);
 *  - special_tokens_map.json (optional): the special tokens again; its
 *    entries win over tokenizer_config.json's.
 * Defaults: RoBERTa's <s> </s> <unk> <pad> <mask>, cls = <s>, sep = </s>.
 * The special tokens are added tokens with the ids vocab.json gives them
 * (added_tokens_decoder's where it lists them); given as plain strings they
 * take no spaces around them (transformers 5; "<mask>" takes the spaces
 * before it only where a file says lstrip). The BPE model has no unknown
 * token (as RobertaTokenizer builds it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/utf8.h"

int gl_bpe_read_vocab(gl_bpe *bpe, const char *path, const char *where, json_t *vocab) {
    if (!json_is_object(vocab)) return gl_error_k(GL_E_FORMAT, "%s: %s must be an object of token to id", path, where);
    const char *key;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach(vocab, key, klen, v) {
        char w[400], q[300];
        snprintf(w, sizeof w, "%s key \"%s\"", where, gl_tok_quote(key, klen, q, sizeof q));
        int32_t id;
        if (gl_tok_json_id(path, w, v, &id)) return -1;
        if (memchr(key, 0, klen)) return gl_error_k(GL_E_FORMAT, "%s: %s: NUL in a token", path, w);
        int rc = gl_bpe_add_token(bpe, key, klen, id);
        if (rc < 0) return -1;
        if (rc > 0) {
            const char *other = gl_bpe_token(bpe, id);
            char q2[300];
            return gl_error_k(GL_E_FORMAT, "%s: %s: \"%s\" and \"%s\" have the same id %d", path, where,
                              gl_tok_quote(other, strlen(other), q2, sizeof q2), q, id);
        }
    }
    if (gl_bpe_max_id(bpe) < 0) return gl_error_k(GL_E_FORMAT, "%s: empty %s", path, where);
    return 0;
}

static int read_merges(gl_bpe *bpe, const char *path, const char *data, size_t len) {
    size_t bad = gl_utf8_check(data, len);
    const char *nul = memchr(data, 0, len);
    if (nul && (size_t)(nul - data) < bad) bad = (size_t)(nul - data);
    size_t pos = 0, line = 0;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len, next = end + 1;
        line++;
        if (bad < next) {
            gl_error_k(GL_E_FORMAT, "%s:%zu: %s", path, line, data[bad] ? "invalid UTF-8" : "NUL byte");
            return -1;
        }
        if (end > pos && data[end - 1] == '\r' && nl) end--;
        const char *s = data + pos;
        size_t n = end - pos;
        pos = next;
        if (n >= 8 && memcmp(s, "#version", 8) == 0) continue;
        const char *sp = memchr(s, ' ', n);
        if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - s))) {
            char q[300];
            return gl_error_k(GL_E_FORMAT, "%s:%zu: expected two tokens separated by one space, found \"%s\"", path, line,
                              gl_tok_quote(s, n, q, sizeof q));
        }
        size_t la = (size_t)(sp - s), lb = n - la - 1;
        int32_t ia = gl_bpe_token_id(bpe, s, la), ib = gl_bpe_token_id(bpe, sp + 1, lb);
        char q[300], q2[300];
        if (ia < 0 || ib < 0)
            return gl_error_k(GL_E_FORMAT, "%s:%zu: token \"%s\" is not in vocab.json", path, line,
                              ia < 0 ? gl_tok_quote(s, la, q, sizeof q) : gl_tok_quote(sp + 1, lb, q, sizeof q));
        int rc = gl_bpe_add_merge(bpe, ia, ib);
        if (rc < 0) return -1;
        if (rc > 0)
            return gl_error_k(GL_E_FORMAT, "%s:%zu: the merged token \"%s%s\" is not in vocab.json", path, line,
                              gl_tok_quote(s, la, q, sizeof q), gl_tok_quote(sp + 1, lb, q2, sizeof q2));
    }
    return 0;
}

/* ---- the special tokens ---------------------------------------------------------- */

enum { R_BOS, R_EOS, R_UNK, R_SEP, R_PAD, R_CLS, R_MASK, R_COUNT };
static const char *const role_key[R_COUNT] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                              "pad_token", "cls_token", "mask_token"};
static const char *const role_default[R_COUNT] = {"<s>", "</s>", "<unk>", "</s>", "<pad>", "<s>", "<mask>"};

typedef struct {
    gl_added_token *v;
    size_t n, cap;
} token_list;

static gl_added_token *list_find(token_list *l, const char *content) {
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].content, content)) return &l->v[i];
    return NULL;
}

static int list_push(token_list *l, const gl_added_token *t) {
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 16;
        gl_added_token *p = gl_realloc(l->v, nc * sizeof *p);
        if (!p) return -1;
        l->v = p;
        l->cap = nc;
    }
    l->v[l->n++] = *t;
    return 0;
}

/* A special token given as a string or an object: parsed into t (content
 * and flags; normalized off, as transformers adds special tokens). */
static int parse_special(const char *path, const char *where, json_t *v, gl_added_token *t) {
    if (json_is_string(v)) {
        memset(t, 0, sizeof *t);
        t->len = json_string_length(v);
        if (!t->len) return gl_error_k(GL_E_FORMAT, "%s: %s is empty", path, where);
        t->content = gl_malloc(t->len + 1);
        if (!t->content) return -1;
        memcpy(t->content, json_string_value(v), t->len + 1);
        return 0;
    }
    if (gl_tok_parse_added(path, where, v, t, 0)) return -1;
    if (!json_object_get(v, "normalized")) t->normalized = 0;
    return 0;
}

/* Add the special token t (taken over) unless its content is listed already;
 * its id from vocab.json. */
static int add_special(token_list *l, gl_bpe *bpe, gl_added_token *t, const char *vocab_path, const char *from,
                       const char *what) {
    if (list_find(l, t->content)) {
        free(t->content);
        return 0;
    }
    t->id = gl_bpe_token_id(bpe, t->content, t->len);
    t->special = 1;
    if (t->id < 0) {
        char q[300];
        gl_error_k(GL_E_FORMAT, "%s: %s \"%s\" (%s) is not in vocab.json", vocab_path, what,
                   gl_tok_quote(t->content, t->len, q, sizeof q), from);
        free(t->content);
        return -1;
    }
    if (list_push(l, t)) {
        free(t->content);
        return -1;
    }
    return 0;
}

/* The special tokens, added_tokens_decoder first (ids and flags as given),
 * then each role from the first file that names it, then the defaults. */
static int collect_specials(token_list *l, gl_bpe *bpe, const char *vocab_path, json_t *cfg, const char *cfg_path,
                            json_t *map, const char *map_path, int32_t role_id[R_COUNT]) {
    json_t *dec = cfg ? json_object_get(cfg, "added_tokens_decoder") : NULL;
    if (dec && !json_is_null(dec)) {
        if (!json_is_object(dec)) return gl_error_k(GL_E_FORMAT, "%s: \"added_tokens_decoder\" must be an object", cfg_path);
        const char *key;
        json_t *v;
        json_object_foreach(dec, key, v) {
            char where[300], q[300];
            snprintf(where, sizeof where, "added_tokens_decoder \"%s\"", gl_tok_quote(key, strlen(key), q, sizeof q));
            char *end;
            long id = strtol(key, &end, 10);
            if (end == key || *end || id < 0 || id >= GL_TOK_MAX_ID)
                return gl_error_k(GL_E_FORMAT, "%s: %s: the key must be an id from 0 to %d", cfg_path, where, GL_TOK_MAX_ID - 1);
            gl_added_token t;
            if (gl_tok_parse_added(cfg_path, where, v, &t, 0)) return -1;
            t.id = (int32_t)id;
            if (list_push(l, &t)) {
                free(t.content);
                return -1;
            }
        }
    }
    json_t *files[2] = {map, cfg};
    const char *paths[2] = {map_path, cfg_path};
    for (int r = 0; r < R_COUNT; r++) {
        gl_added_token t;
        const char *from = "the default";
        int got = 0;
        for (int f = 0; f < 2 && !got; f++) {
            json_t *v = files[f] ? json_object_get(files[f], role_key[r]) : NULL;
            if (!v || json_is_null(v)) continue;
            if (parse_special(paths[f], role_key[r], v, &t)) return -1;
            from = paths[f];
            got = 1;
        }
        if (!got) {
            memset(&t, 0, sizeof t);
            t.len = strlen(role_default[r]);
            t.content = gl_strdup(role_default[r]);
            if (!t.content) return -1;
        }
        char *content = gl_strdup(t.content);
        if (!content) {
            free(t.content);
            return -1;
        }
        int rc = add_special(l, bpe, &t, vocab_path, from, role_key[r]);
        role_id[r] = rc ? -1 : list_find(l, content)->id;
        free(content);
        if (rc) return -1;
    }
    for (int f = 0; f < 2; f++) {
        json_t *extra = files[f] ? json_object_get(files[f], "additional_special_tokens") : NULL;
        if (!extra || json_is_null(extra)) continue;
        if (!json_is_array(extra))
            return gl_error_k(GL_E_FORMAT, "%s: \"additional_special_tokens\" must be an array", paths[f]);
        size_t i;
        json_t *v;
        json_array_foreach(extra, i, v) {
            char where[64];
            snprintf(where, sizeof where, "additional_special_tokens[%zu]", i);
            gl_added_token t;
            if (parse_special(paths[f], where, v, &t) || add_special(l, bpe, &t, vocab_path, paths[f], where)) return -1;
        }
    }
    return 0;
}

/* ---- loading --------------------------------------------------------------------- */

/* Read dir/name into *data and keep it for export; 1 when absent. */
static int read_kept(gl_tokenizer *tok, const char *dir, const char *name, int optional, char **path, char **data,
                     size_t *len) {
    *data = NULL;
    *path = gl_path_join(dir, name);
    if (!*path) return -1;
    if (optional && !gl_file_exists(*path)) return 1;
    if (gl_read_file(*path, data, len)) return -1;
    return gl_tok_keep_file(tok, name, *data, *len);
}

gl_tokenizer *gl_bpe_files_load(const char *dir) {
    static const char *const names[4] = {"vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"};
    char *path[4] = {NULL, NULL, NULL, NULL}, *data[4] = {NULL, NULL, NULL, NULL};
    size_t len[4] = {0, 0, 0, 0};
    json_t *json[4] = {NULL, NULL, NULL, NULL};
    token_list added = {NULL, 0, 0};
    gl_tokenizer *tok = gl_calloc(1, sizeof *tok);
    if (!tok) return NULL;
    tok->kind = GL_TOK_BPE;
    tok->cls = tok->sep = tok->pad = tok->unk = -1;
    for (int i = 0; i < 4; i++) {
        int rc = read_kept(tok, dir, names[i], i >= 2, &path[i], &data[i], &len[i]);
        if (rc < 0) goto fail;
        if (rc > 0 || i == 1) continue;
        json[i] = gl_tok_json_parse(path[i], data[i], len[i]);
        if (!json[i]) goto fail;
        if (i >= 2 && !json_is_object(json[i])) {
            gl_error_k(GL_E_FORMAT, "%s: not a JSON object", path[i]);
            goto fail;
        }
    }
    gl_bpe_opts o = {.use_regex = 1};
    if (json[2] && gl_tok_json_bool(path[2], "", json[2], "add_prefix_space", &o.add_prefix_space)) goto fail;
    gl_bpe *bpe = tok->bpe = gl_bpe_new(&o);
    if (!bpe || gl_bpe_read_vocab(bpe, path[0], "vocab.json", json[0])) goto fail;
    tok->vocab_size = gl_bpe_max_id(bpe) + 1;
    if (read_merges(bpe, path[1], data[1], len[1])) goto fail;
    if (gl_bpe_finish(bpe)) goto fail; /* no unknown token: never 1 */
    int32_t role_id[R_COUNT];
    if (collect_specials(&added, bpe, path[0], json[2], path[2], json[3], path[3], role_id)) goto fail;
    gl_added_token *v = added.v;
    size_t n = added.n;
    added.v = NULL;
    added.n = 0;
    if (gl_tok_set_added(tok, v, n)) goto fail;
    tok->cls = role_id[R_CLS];
    tok->sep = role_id[R_SEP];
    tok->pad = role_id[R_PAD];
    tok->unk = role_id[R_UNK];
    for (int i = 0; i < 4; i++) {
        json_decref(json[i]);
        free(path[i]);
        free(data[i]);
    }
    return tok;
fail:
    for (size_t i = 0; i < added.n; i++) free(added.v[i].content);
    free(added.v);
    for (int i = 0; i < 4; i++) {
        json_decref(json[i]);
        free(path[i]);
        free(data[i]);
    }
    gl_tokenizer_free(tok);
    return NULL;
}
