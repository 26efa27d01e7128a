/* error.h: the per-thread "last error" message every fallible call sets.
 * Convention: functions return 0 on success and -1 on failure (or NULL), after
 * calling gl_error() with a message that names the file, tensor or line. */
#ifndef GL_ERROR_H
#define GL_ERROR_H

#include <stddef.h>

#if defined(__GNUC__)
#define GL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define GL_PRINTF(a, b)
#endif

/* Set the message; always returns -1 so callers can `return gl_error(...)`. */
int gl_error(const char *fmt, ...) GL_PRINTF(1, 2);
/* Prepend context ("loading model X: ") to the current message. Returns -1. */
int gl_error_prefix(const char *fmt, ...) GL_PRINTF(1, 2);
const char *gl_error_message(void);
void gl_error_clear(void);
/* An allocation failure: sets the message as gl_error does (word it so that
 * it says "out of memory") and marks the error as one, so that a caller can
 * tell it from a bad value: gl_error_is_oom() is 1 until the next gl_error,
 * gl_error_oom or gl_error_clear (gl_error_prefix keeps the mark). Returns -1. */
int gl_error_oom(const char *fmt, ...) GL_PRINTF(1, 2);
int gl_error_is_oom(void);

/* What kind of failure the current message reports, for the public API's
 * status codes (include/gloss.h maps them one to one). gl_error sets
 * GL_E_ERROR, gl_error_oom GL_E_NOMEM, gl_error_k the kind given;
 * gl_error_prefix keeps the kind. */
typedef enum {
    GL_E_NONE = 0,
    GL_E_ERROR,     /* anything not below */
    GL_E_NOMEM,     /* an allocation failed */
    GL_E_IO,        /* a file could not be opened, read or written */
    GL_E_FORMAT,    /* a file's content is malformed or inconsistent */
    GL_E_INVALID,   /* an option or argument value is out of range or unknown */
    GL_E_MISUSE,    /* the API was called wrongly (NULL object, wrong order) */
    GL_E_CANCELLED, /* a progress callback asked to stop */
    GL_E_STOPPED,   /* training stopped where it was told to, with a checkpoint */
} gl_error_kind;
int gl_error_k(gl_error_kind kind, const char *fmt, ...) GL_PRINTF(2, 3);
gl_error_kind gl_error_get_kind(void);
/* Keep the current message but say what kind of failure it reports. Returns -1. */
int gl_error_retag(gl_error_kind kind);

/* Allocation helpers that set an out-of-memory error (gl_error_oom; never
 * abort) on failure. */
void *gl_malloc(size_t n);
void *gl_calloc(size_t count, size_t size);
void *gl_realloc(void *p, size_t n);
char *gl_strdup(const char *s);

#endif
