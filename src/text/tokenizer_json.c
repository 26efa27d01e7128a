/* tokenizer_json.c: Hugging Face's tokenizer.json, for the two pipelines
 * gloss runs:
 *  - WordPiece: normalizer BertNormalizer (or none), pre_tokenizer
 *    BertPreTokenizer, model WordPiece, post_processor TemplateProcessing
 *    "[CLS] $A [SEP]" or BertProcessing;
 *  - byte-level BPE: no normalizer, pre_tokenizer ByteLevel, model BPE,
 *    post_processor RobertaProcessing or TemplateProcessing "<s> $A </s>".
 * "added_tokens" are matched before the model; "truncation", "padding"
 * (except its pad_id) and "decoder" do not change ids and are not read.
 * Anything else is refused with an error naming the key and the type. */
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_internal.h"
#include "util/error.h"
#include "util/fileio.h"

/* ---- added tokens -------------------------------------------------------------- */

int gl_tok_parse_added(const char *path, const char *where, json_t *o, gl_added_token *t, int with_id) {
    memset(t, 0, sizeof *t);
    t->id = -1;
    if (!json_is_object(o)) return gl_error_k(GL_E_FORMAT, "%s: %s must be an object", path, where);
    json_t *c = json_object_get(o, "content");
    if (!json_is_string(c)) return gl_error_k(GL_E_FORMAT, "%s: %s: \"content\" must be a string", path, where);
    if (json_string_length(c) == 0) return gl_error_k(GL_E_FORMAT, "%s: %s: empty \"content\"", path, where);
    if (with_id) {
        json_t *id = json_object_get(o, "id");
        char w[300];
        snprintf(w, sizeof w, "%s \"id\"", where);
        if (gl_tok_json_id(path, w, id, &t->id)) return -1;
    }
    int single_word = 0, lstrip = 0, rstrip = 0, normalized = 1, special = 0;
    char w[300];
    snprintf(w, sizeof w, "%s: ", where);
    if (gl_tok_json_bool(path, w, o, "single_word", &single_word) || gl_tok_json_bool(path, w, o, "lstrip", &lstrip) ||
        gl_tok_json_bool(path, w, o, "rstrip", &rstrip) || gl_tok_json_bool(path, w, o, "normalized", &normalized) ||
        gl_tok_json_bool(path, w, o, "special", &special))
        return -1;
    t->single_word = (unsigned char)single_word;
    t->lstrip = (unsigned char)lstrip;
    t->rstrip = (unsigned char)rstrip;
    t->normalized = (unsigned char)normalized;
    t->special = (unsigned char)special;
    t->len = json_string_length(c);
    t->content = gl_malloc(t->len + 1);
    if (!t->content) return -1;
    memcpy(t->content, json_string_value(c), t->len + 1);
    return 0;
}

static int parse_added_tokens(gl_tokenizer *tok, const char *path, json_t *root) {
    json_t *a = json_object_get(root, "added_tokens");
    size_t n = 0;
    if (a && !json_is_null(a)) {
        if (!json_is_array(a)) return gl_error_k(GL_E_FORMAT, "%s: \"added_tokens\" must be an array", path);
        n = json_array_size(a);
    }
    gl_added_token *v = gl_calloc(n ? n : 1, sizeof *v);
    if (!v) return -1;
    for (size_t i = 0; i < n; i++) {
        char where[64];
        snprintf(where, sizeof where, "added_tokens[%zu]", i);
        if (gl_tok_parse_added(path, where, json_array_get(a, i), &v[i], 1)) {
            for (size_t k = 0; k < i; k++) free(v[k].content);
            free(v);
            return -1;
        }
        if (tok->kind == GL_TOK_WORDPIECE && v[i].normalized) {
            char q[300];
            gl_error_k(GL_E_FORMAT,
                       "%s: added_tokens[%zu] \"%s\" is normalized (matched after the BertNormalizer): not supported "
                       "for WordPiece",
                       path, i, gl_tok_quote(v[i].content, v[i].len, q, sizeof q));
            for (size_t k = 0; k <= i; k++) free(v[k].content);
            free(v);
            return -1;
        }
    }
    return gl_tok_set_added(tok, v, n);
}

/* ---- the post-processor: which ids go first and last ----------------------------- */

/* [string, id] of BertProcessing / RobertaProcessing */
static int pair_id(const char *path, json_t *pp, const char *key, int32_t *id) {
    json_t *p = json_object_get(pp, key);
    char where[64];
    snprintf(where, sizeof where, "post_processor \"%s\"", key);
    if (!json_is_array(p) || json_array_size(p) != 2 || !json_is_string(json_array_get(p, 0)))
        return gl_error_k(GL_E_FORMAT, "%s: %s must be [token, id]", path, where);
    return gl_tok_json_id(path, where, json_array_get(p, 1), id);
}

/* The id of a TemplateProcessing item {"SpecialToken": {"id": NAME}}. */
static int template_special(const char *path, json_t *pp, json_t *item, int32_t *id) {
    json_t *st = json_object_get(item, "SpecialToken");
    json_t *name = st ? json_object_get(st, "id") : NULL;
    if (!json_is_string(name)) return 1;
    json_t *def = json_object_get(json_object_get(pp, "special_tokens"), json_string_value(name));
    json_t *ids = def ? json_object_get(def, "ids") : NULL;
    char where[300], q[300];
    snprintf(where, sizeof where, "post_processor special_tokens \"%s\"",
             gl_tok_quote(json_string_value(name), json_string_length(name), q, sizeof q));
    if (!json_is_array(ids) || json_array_size(ids) != 1)
        return gl_error_k(GL_E_FORMAT, "%s: %s must have one id in \"ids\"", path, where);
    return gl_tok_json_id(path, where, json_array_get(ids, 0), id);
}

static int parse_post_processor(gl_tokenizer *tok, const char *path, json_t *pp) {
    const char *want = tok->kind == GL_TOK_BPE ? "<s> ... </s>" : "[CLS] ... [SEP]";
    json_t *type = json_object_get(pp, "type");
    const char *t = json_is_string(type) ? json_string_value(type) : NULL;
    if (t && !strcmp(t, "Sequence")) { /* ByteLevel (offsets only) and one that adds the tokens */
        json_t *list = json_object_get(pp, "processors");
        json_t *found = NULL, *v;
        size_t i;
        json_array_foreach(list, i, v) {
            json_t *vt = json_object_get(v, "type");
            if (json_is_string(vt) && !strcmp(json_string_value(vt), "ByteLevel")) continue;
            if (found) return gl_error_k(GL_E_FORMAT, "%s: post_processor Sequence with more than one processor that adds tokens: not supported", path);
            found = v;
        }
        if (!found) return gl_error_k(GL_E_FORMAT, "%s: post_processor adds no special tokens (gloss needs %s)", path, want);
        return parse_post_processor(tok, path, found);
    }
    if (t && (!strcmp(t, "BertProcessing") || !strcmp(t, "RobertaProcessing")))
        return pair_id(path, pp, "cls", &tok->cls) || pair_id(path, pp, "sep", &tok->sep) ? -1 : 0;
    if (t && !strcmp(t, "TemplateProcessing")) {
        json_t *single = json_object_get(pp, "single");
        json_t *mid = json_array_get(single, 1), *seq = mid ? json_object_get(mid, "Sequence") : NULL;
        json_t *seq_id = seq ? json_object_get(seq, "id") : NULL;
        int rc = 1;
        if (json_is_array(single) && json_array_size(single) == 3 && json_is_string(seq_id) &&
            !strcmp(json_string_value(seq_id), "A")) {
            rc = template_special(path, pp, json_array_get(single, 0), &tok->cls);
            if (rc == 0) rc = template_special(path, pp, json_array_get(single, 2), &tok->sep);
        }
        if (rc < 0) return -1;
        if (rc > 0)
            return gl_error_k(GL_E_FORMAT, "%s: post_processor TemplateProcessing \"single\" is not %s (a special token, $A, a special token): not supported",
                              path, want);
        return 0;
    }
    if (!t && (!pp || json_is_null(pp)))
        return gl_error_k(GL_E_FORMAT, "%s: no post_processor (gloss needs one that adds %s)", path, want);
    return gl_error_k(GL_E_FORMAT, "%s: post_processor type \"%s\" is not supported (TemplateProcessing, BertProcessing, RobertaProcessing are)",
                      path, t ? t : "(none)");
}

/* ---- the models ------------------------------------------------------------------ */

static const char *type_of(json_t *o) {
    json_t *t = json_object_get(o, "type");
    return json_is_string(t) ? json_string_value(t) : "(none)";
}

static int load_wordpiece(gl_tokenizer *tok, const char *path, json_t *root, json_t *model, int lowercase,
                          int strip_accents) {
    gl_wordpiece_opts o = {.prefix = "##", .max_chars = 100};
    int file_lower = 0, file_strip = -1;
    json_t *norm = json_object_get(root, "normalizer");
    if (norm && !json_is_null(norm)) {
        if (strcmp(type_of(norm), "BertNormalizer") != 0)
            return gl_error_k(GL_E_FORMAT, "%s: normalizer type \"%s\" is not supported for WordPiece (BertNormalizer is)", path,
                              type_of(norm));
        o.clean_text = o.handle_chinese_chars = file_lower = 1;
        json_t *sa = json_object_get(norm, "strip_accents");
        if (sa && !json_is_null(sa)) {
            if (!json_is_boolean(sa)) return gl_error_k(GL_E_FORMAT, "%s: normalizer \"strip_accents\" must be null, true or false", path);
            file_strip = json_is_true(sa);
        }
        if (gl_tok_json_bool(path, "normalizer ", norm, "clean_text", &o.clean_text) ||
            gl_tok_json_bool(path, "normalizer ", norm, "handle_chinese_chars", &o.handle_chinese_chars) ||
            gl_tok_json_bool(path, "normalizer ", norm, "lowercase", &file_lower))
            return -1;
    }
    /* tokenizer_config.json's values replace the normalizer's (as transformers does) */
    o.lowercase = lowercase >= 0 ? (lowercase != 0) : file_lower;
    int strip = lowercase >= 0 ? strip_accents : file_strip;
    o.strip_accents = strip < 0 ? o.lowercase : (strip != 0);

    json_t *pre = json_object_get(root, "pre_tokenizer");
    if (strcmp(type_of(pre), "BertPreTokenizer") != 0)
        return gl_error_k(GL_E_FORMAT, "%s: pre_tokenizer type \"%s\" is not supported for WordPiece (BertPreTokenizer is)", path,
                          type_of(pre));
    int bad = 0;
    const char *unk = gl_tok_json_str(path, "model ", model, "unk_token", &bad);
    const char *prefix = gl_tok_json_str(path, "model ", model, "continuing_subword_prefix", &bad);
    if (bad) return -1;
    if (!unk) return gl_error_k(GL_E_FORMAT, "%s: model \"unk_token\" is missing", path);
    if (prefix) o.prefix = prefix;
    json_t *mc = json_object_get(model, "max_input_chars_per_word");
    if (mc && !json_is_null(mc)) {
        if (!json_is_integer(mc) || json_integer_value(mc) < 1 || json_integer_value(mc) > 1000)
            return gl_error_k(GL_E_FORMAT, "%s: model \"max_input_chars_per_word\" must be an integer from 1 to 1000", path);
        o.max_chars = (int)json_integer_value(mc);
    }

    json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_object(vocab)) return gl_error_k(GL_E_FORMAT, "%s: model \"vocab\" must be an object of token to id", path);
    int32_t max_id = -1;
    const char *key;
    size_t klen;
    json_t *v;
    json_object_keylen_foreach(vocab, key, klen, v) {
        char where[300], q[300];
        snprintf(where, sizeof where, "model vocab key \"%s\"", gl_tok_quote(key, klen, q, sizeof q));
        int32_t id;
        if (gl_tok_json_id(path, where, v, &id)) return -1;
        if (memchr(key, 0, klen)) return gl_error_k(GL_E_FORMAT, "%s: %s: NUL in a token", path, where);
        if (id > max_id) max_id = id;
    }
    if (max_id < 0) return gl_error_k(GL_E_FORMAT, "%s: empty model vocab", path);
    gl_wordpiece *wp = tok->wp = gl_wordpiece_new(max_id + 1, &o);
    if (!wp) return -1;
    json_object_keylen_foreach(vocab, key, klen, v) {
        int32_t id = (int32_t)json_integer_value(v);
        const char *other = gl_wordpiece_token(wp, id);
        if (other) {
            char q1[300], q2[300];
            return gl_error_k(GL_E_FORMAT, "%s: model vocab: \"%s\" and \"%s\" have the same id %d", path,
                              gl_tok_quote(other, strlen(other), q1, sizeof q1), gl_tok_quote(key, klen, q2, sizeof q2), id);
        }
        if (gl_wordpiece_set(wp, id, key, klen)) return -1;
    }
    tok->vocab_size = max_id + 1;
    int32_t unk_id = gl_wordpiece_find(wp, unk);
    if (unk_id < 0) {
        char q[300];
        return gl_error_k(GL_E_FORMAT, "%s: model \"unk_token\" \"%s\" is not in the vocab", path,
                          gl_tok_quote(unk, strlen(unk), q, sizeof q));
    }
    gl_wordpiece_set_unk(wp, unk_id);
    tok->unk = unk_id;
    return 0;
}

static int load_bpe(gl_tokenizer *tok, const char *path, json_t *root, json_t *model) {
    json_t *norm = json_object_get(root, "normalizer");
    if (norm && !json_is_null(norm))
        return gl_error_k(GL_E_FORMAT, "%s: normalizer type \"%s\" is not supported for BPE (byte-level BPE has none)", path,
                          type_of(norm));
    json_t *pre = json_object_get(root, "pre_tokenizer");
    if (strcmp(type_of(pre), "ByteLevel") != 0)
        return gl_error_k(GL_E_FORMAT, "%s: pre_tokenizer type \"%s\" is not supported for BPE (ByteLevel is)", path, type_of(pre));
    gl_bpe_opts o = {.add_prefix_space = 1, .use_regex = 1};
    if (gl_tok_json_bool(path, "pre_tokenizer ", pre, "add_prefix_space", &o.add_prefix_space) ||
        gl_tok_json_bool(path, "pre_tokenizer ", pre, "use_regex", &o.use_regex) ||
        gl_tok_json_bool(path, "model ", model, "fuse_unk", &o.fuse_unk) ||
        gl_tok_json_bool(path, "model ", model, "byte_fallback", &o.byte_fallback) ||
        gl_tok_json_bool(path, "model ", model, "ignore_merges", &o.ignore_merges))
        return -1;
    int bad = 0;
    o.unk_token = gl_tok_json_str(path, "model ", model, "unk_token", &bad);
    const char *prefix = gl_tok_json_str(path, "model ", model, "continuing_subword_prefix", &bad);
    const char *suffix = gl_tok_json_str(path, "model ", model, "end_of_word_suffix", &bad);
    if (bad) return -1;
    if ((prefix && *prefix) || (suffix && *suffix))
        return gl_error_k(GL_E_FORMAT, "%s: model \"%s\" \"%s\": not supported for byte-level BPE", path,
                          prefix && *prefix ? "continuing_subword_prefix" : "end_of_word_suffix", prefix && *prefix ? prefix : suffix);
    json_t *dropout = json_object_get(model, "dropout");
    if (dropout && !json_is_null(dropout) && (!json_is_number(dropout) || json_number_value(dropout) != 0))
        return gl_error_k(GL_E_FORMAT, "%s: model \"dropout\" is set: BPE dropout makes encoding random (not supported)", path);

    json_t *vocab = json_object_get(model, "vocab");
    if (!json_is_object(vocab)) return gl_error_k(GL_E_FORMAT, "%s: model \"vocab\" must be an object of token to id", path);
    gl_bpe *bpe = tok->bpe = gl_bpe_new(&o);
    if (!bpe || gl_bpe_read_vocab(bpe, path, "model vocab", vocab)) return -1;
    if (gl_bpe_max_id(bpe) < 0) return gl_error_k(GL_E_FORMAT, "%s: empty model vocab", path);
    tok->vocab_size = gl_bpe_max_id(bpe) + 1;

    json_t *merges = json_object_get(model, "merges"), *v;
    if (!json_is_array(merges)) return gl_error_k(GL_E_FORMAT, "%s: model \"merges\" must be an array", path);
    size_t i;
    json_array_foreach(merges, i, v) {
        const char *a, *b;
        size_t la, lb;
        if (json_is_string(v)) { /* "a b" */
            a = json_string_value(v);
            const char *sp = strchr(a, ' ');
            if (!sp || strchr(sp + 1, ' '))
                return gl_error_k(GL_E_FORMAT, "%s: model merges[%zu]: expected two tokens separated by one space", path, i);
            la = (size_t)(sp - a);
            b = sp + 1;
            lb = strlen(b);
        } else if (json_is_array(v) && json_array_size(v) == 2 && json_is_string(json_array_get(v, 0)) &&
                   json_is_string(json_array_get(v, 1))) { /* ["a", "b"] */
            a = json_string_value(json_array_get(v, 0));
            la = json_string_length(json_array_get(v, 0));
            b = json_string_value(json_array_get(v, 1));
            lb = json_string_length(json_array_get(v, 1));
        } else {
            return gl_error_k(GL_E_FORMAT, "%s: model merges[%zu]: expected \"a b\" or [\"a\", \"b\"]", path, i);
        }
        int32_t ia = gl_bpe_token_id(bpe, a, la), ib = gl_bpe_token_id(bpe, b, lb);
        char q[300];
        if (ia < 0 || ib < 0)
            return gl_error_k(GL_E_FORMAT, "%s: model merges[%zu]: token \"%s\" is not in the vocab", path, i,
                              ia < 0 ? gl_tok_quote(a, la, q, sizeof q) : gl_tok_quote(b, lb, q, sizeof q));
        int rc = gl_bpe_add_merge(bpe, ia, ib);
        if (rc < 0) return -1;
        if (rc > 0) {
            char q2[300];
            return gl_error_k(GL_E_FORMAT, "%s: model merges[%zu]: the merged token \"%s%s\" is not in the vocab", path, i,
                              gl_tok_quote(a, la, q, sizeof q), gl_tok_quote(b, lb, q2, sizeof q2));
        }
    }
    int rc = gl_bpe_finish(bpe);
    if (rc > 0) {
        char q[300];
        return gl_error_k(GL_E_FORMAT, "%s: model \"unk_token\" \"%s\" is not in the vocab, and some bytes have no token of their own",
                          path, gl_tok_quote(o.unk_token, strlen(o.unk_token), q, sizeof q));
    }
    return rc;
}

/* The id of a token by its text: an added token, else the model's. */
static int32_t find_token(const gl_tokenizer *tok, const char *s) {
    const gl_added_set *sets[2] = {&tok->added_raw, &tok->added_norm};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < sets[k]->n; i++)
            if (!strcmp(sets[k]->v[i].content, s)) return sets[k]->v[i].id;
    if (tok->wp) return gl_wordpiece_find(tok->wp, s);
    return gl_bpe_token_id(tok->bpe, s, strlen(s));
}

gl_tokenizer *gl_tokenizer_json_load(const char *path, int lowercase, int strip_accents) {
    char *data;
    size_t len;
    if (gl_read_file(path, &data, &len)) return NULL;
    json_t *root = gl_tok_json_parse(path, data, len);
    gl_tokenizer *tok = root ? gl_calloc(1, sizeof *tok) : NULL;
    if (!tok) goto fail;
    tok->cls = tok->sep = tok->pad = tok->unk = -1;
    if (gl_tok_keep_file(tok, "tokenizer.json", data, len)) goto fail;
    if (!json_is_object(root)) {
        gl_error_k(GL_E_FORMAT, "%s: not a JSON object", path);
        goto fail;
    }
    json_t *model = json_object_get(root, "model");
    if (!json_is_object(model)) {
        gl_error_k(GL_E_FORMAT, "%s: no \"model\" object", path);
        goto fail;
    }
    const char *type = type_of(model);
    if (!strcmp(type, "(none)")) /* older files have no "type": BPE has merges */
        type = json_object_get(model, "merges") ? "BPE" : json_object_get(model, "max_input_chars_per_word") ? "WordPiece" : type;
    if (!strcmp(type, "WordPiece")) {
        tok->kind = GL_TOK_WORDPIECE;
        if (load_wordpiece(tok, path, root, model, lowercase, strip_accents)) goto fail;
    } else if (!strcmp(type, "BPE")) {
        tok->kind = GL_TOK_BPE;
        if (load_bpe(tok, path, root, model)) goto fail;
    } else {
        gl_error_k(GL_E_FORMAT, "%s: model type \"%s\" is not supported (WordPiece and BPE are)", path, type);
        goto fail;
    }
    if (parse_added_tokens(tok, path, root)) goto fail;
    if (parse_post_processor(tok, path, json_object_get(root, "post_processor"))) goto fail;
    json_t *padding = json_object_get(root, "padding");
    json_t *pad_id = padding ? json_object_get(padding, "pad_id") : NULL;
    if (pad_id && !json_is_null(pad_id)) {
        if (gl_tok_json_id(path, "padding \"pad_id\"", pad_id, &tok->pad)) goto fail;
    } else {
        tok->pad = find_token(tok, tok->kind == GL_TOK_BPE ? "<pad>" : "[PAD]");
    }
    if (tok->kind == GL_TOK_BPE) {
        int bad = 0;
        const char *unk = gl_tok_json_str(path, "model ", model, "unk_token", &bad);
        tok->unk = find_token(tok, unk ? unk : "<unk>");
    }
    const int32_t ids[3] = {tok->cls, tok->sep, tok->pad};
    for (int k = 0; k < 3; k++)
        if (ids[k] >= 0 && !gl_tokenizer_token(tok, ids[k])) {
            gl_error_k(GL_E_FORMAT, "%s: the %s id %d is not a token of the vocabulary or added_tokens", path,
                       k == 0 ? "post_processor's first (cls)" : k == 1 ? "post_processor's last (sep)" : "padding", ids[k]);
            goto fail;
        }
    json_decref(root);
    free(data);
    return tok;
fail:
    json_decref(root);
    free(data);
    gl_tokenizer_free(tok);
    return NULL;
}
