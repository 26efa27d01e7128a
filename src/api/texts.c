/* texts.c: documents read from a data file (gloss_texts_*, include/gloss.h). */
#include <stdlib.h>

#include "api/api_internal.h"
#include "io/table.h"
#include "util/error.h"

struct gloss_texts {
    gl_table table;
    const char **text, **label; /* pointers into the table's cells */
    size_t n;
};

GLOSS_API void gloss_texts_free(gloss_texts *t) {
    if (!t) return;
    free(t->text);
    free(t->label);
    gl_table_free(&t->table);
    free(t);
}

GLOSS_API gloss_texts *gloss_texts_read(const char *path, const char *text_col, const char *label_col) {
    if (!path || !text_col) {
        gl_error_k(GL_E_MISUSE, "gloss_texts_read: path or text_col is NULL");
        return NULL;
    }
    gloss_texts *t = gl_calloc(1, sizeof *t);
    if (!t) return NULL;
    if (gl_table_read(&t->table, path) != 0) {
        free(t);
        return NULL;
    }
    int tc = gl_table_col(&t->table, text_col), lc = -1;
    if (tc < 0 || (label_col && (lc = gl_table_col(&t->table, label_col)) < 0)) {
        gl_error_retag(GL_E_FORMAT);
        gloss_texts_free(t);
        return NULL;
    }
    t->n = t->table.nrows;
    t->text = gl_malloc((t->n ? t->n : 1) * sizeof *t->text);
    if (label_col) t->label = gl_malloc((t->n ? t->n : 1) * sizeof *t->label);
    if (!t->text || (label_col && !t->label)) {
        gloss_texts_free(t);
        return NULL;
    }
    for (size_t i = 0; i < t->n; i++) {
        t->text[i] = gl_table_cell(&t->table, i, tc);
        if (lc >= 0) t->label[i] = gl_table_cell(&t->table, i, lc);
    }
    return t;
}

GLOSS_API size_t gloss_texts_count(const gloss_texts *t) { return t ? t->n : 0; }
GLOSS_API const char *const *gloss_texts_text(const gloss_texts *t) { return t ? t->text : NULL; }
GLOSS_API const char *const *gloss_texts_labels(const gloss_texts *t) { return t ? t->label : NULL; }
