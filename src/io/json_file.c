/* json_file.c: see json_file.h. */
#include "io/json_file.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"
#include "util/fileio.h"

json_t *gl_json_load_file(const char *path, int want_array) {
    char *text;
    size_t len;
    if (gl_read_file(path, &text, &len) != 0) return NULL;
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root) {
        gl_error_k(GL_E_FORMAT, "%s: invalid JSON at line %d, column %d: %s", path, jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (want_array ? !json_is_array(root) : !json_is_object(root)) {
        json_decref(root);
        gl_error_k(GL_E_FORMAT, "%s: top level is not a JSON %s", path, want_array ? "array" : "object");
        return NULL;
    }
    return root;
}

int gl_json_write_file(const char *path, const json_t *j) {
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (!s) return gl_error_k(GL_E_FORMAT, "%s: cannot serialise JSON", path);
    size_t n = strlen(s);
    char *t = gl_realloc(s, n + 2);
    if (!t) {
        free(s);
        return -1;
    }
    t[n] = '\n';
    int rc = gl_write_file_atomic(path, t, n + 1);
    free(t);
    return rc;
}
