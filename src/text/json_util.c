/* json_util.c: reading the tokenizer's JSON files with jansson, with errors
 * that name the file and the place (line and column, or the key). */
#include <stdio.h>
#include <string.h>

#include "text/tokenizer_internal.h"
#include "util/error.h"

json_t *gl_tok_json_parse(const char *path, const char *data, size_t len) {
    json_error_t err;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
    if (!j) gl_error_k(GL_E_FORMAT, "%s:%d:%d: %s", path, err.line, err.column, err.text);
    return j;
}

const char *gl_tok_quote(const char *s, size_t n, char *out, size_t cap) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 60) {
            memcpy(out + k, "...", 3);
            k += 3;
            break;
        }
        if (c < 0x20 || c == 0x7F || c == '"' || c == '\\')
            k += (size_t)snprintf(out + k, cap - k, "\\x%02X", c);
        else
            out[k++] = (char)c;
    }
    out[k] = 0;
    return out;
}

int gl_tok_json_bool(const char *path, const char *where, json_t *o, const char *key, int *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return gl_error_k(GL_E_FORMAT, "%s: %s\"%s\" must be true or false", path, where, key);
    *out = json_is_true(v);
    return 0;
}

const char *gl_tok_json_str(const char *path, const char *where, json_t *o, const char *key, int *bad) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return NULL;
    if (!json_is_string(v)) {
        *bad = gl_error_k(GL_E_FORMAT, "%s: %s\"%s\" must be a string", path, where, key);
        return NULL;
    }
    return json_string_value(v);
}

int gl_tok_json_id(const char *path, const char *where, json_t *v, int32_t *id) {
    if (!json_is_integer(v)) return gl_error_k(GL_E_FORMAT, "%s: %s: the id must be an integer", path, where);
    json_int_t x = json_integer_value(v);
    if (x < 0) return gl_error_k(GL_E_FORMAT, "%s: %s: negative id %lld", path, where, (long long)x);
    if (x >= GL_TOK_MAX_ID)
        return gl_error_k(GL_E_FORMAT, "%s: %s: id %lld is too large (ids must be below %d)", path, where, (long long)x,
                          GL_TOK_MAX_ID);
    *id = (int32_t)x;
    return 0;
}
