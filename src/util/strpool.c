/* strpool.c: see strpool.h. */
#include "util/strpool.h"

#include <stdlib.h>
#include <string.h>

#include "util/error.h"

int gl_strpool_add(gl_strpool *p, const char *s, size_t len, size_t *off) {
    if (len >= (size_t)-1 - p->len - 1) return gl_error_oom("string pool: %zu bytes", len);
    if (p->len + len + 1 > p->cap) {
        size_t nc = p->cap ? p->cap : 65536;
        while (nc < p->len + len + 1) nc *= 2;
        char *d = gl_realloc(p->data, nc);
        if (!d) return -1;
        p->data = d;
        p->cap = nc;
    }
    memcpy(p->data + p->len, s, len);
    p->data[p->len + len] = 0;
    *off = p->len;
    p->len += len + 1;
    return 0;
}

void gl_strpool_free(gl_strpool *p) {
    free(p->data);
    p->data = NULL;
    p->len = p->cap = 0;
}
