/* error.c: per-thread last-error message and error-reporting allocators. */
#include "util/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_msg[2048];
static _Thread_local int g_kind; /* gl_error_kind of the message */

static int set_message(int kind, const char *fmt, va_list ap) {
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    g_kind = kind;
    return -1;
}

int gl_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_message(GL_E_ERROR, fmt, ap);
    va_end(ap);
    return -1;
}

int gl_error_oom(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_message(GL_E_NOMEM, fmt, ap);
    va_end(ap);
    return -1;
}

int gl_error_is_oom(void) { return g_kind == GL_E_NOMEM; }

int gl_error_k(gl_error_kind kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_message(kind, fmt, ap);
    va_end(ap);
    return -1;
}

int gl_error_retag(gl_error_kind kind) {
    g_kind = kind;
    return -1;
}

gl_error_kind gl_error_get_kind(void) { return g_msg[0] ? (gl_error_kind)g_kind : GL_E_NONE; }

int gl_error_prefix(const char *fmt, ...) {
    char old[sizeof g_msg];
    memcpy(old, g_msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    if (k < 0) k = 0;
    if ((size_t)k >= sizeof g_msg) k = (int)sizeof g_msg - 1;
    size_t room = sizeof g_msg - 1 - (size_t)k, n = strlen(old);
    memcpy(g_msg + k, old, n < room ? n : room);
    g_msg[k + (n < room ? n : room)] = 0;
    return -1;
}

const char *gl_error_message(void) { return g_msg[0] ? g_msg : "unknown error"; }

void gl_error_clear(void) {
    g_msg[0] = 0;
    g_kind = GL_E_NONE;
}

void *gl_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) gl_error_oom("out of memory allocating %zu bytes", n);
    return p;
}

void *gl_calloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) gl_error_oom("out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *gl_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) gl_error_oom("out of memory allocating %zu bytes", n);
    return q;
}

char *gl_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = gl_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
