/* strpool.h: a growing pool of NUL-terminated strings addressed by offset
 * (offsets stay valid as the pool grows; pointers do not). The tokenizers'
 * vocabularies keep their token strings in one. */
#ifndef GL_STRPOOL_H
#define GL_STRPOOL_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t len, cap;
} gl_strpool;

/* Append s[0..len) and a NUL; *off receives where it starts. 0, or -1 when out
 * of memory (the pool is unchanged). */
int gl_strpool_add(gl_strpool *p, const char *s, size_t len, size_t *off);
void gl_strpool_free(gl_strpool *p);

#endif
