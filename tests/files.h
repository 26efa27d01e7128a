/* files.h: file comparisons shared by the end-to-end tests. */
#ifndef GL_TEST_FILES_H
#define GL_TEST_FILES_H

#include <stdlib.h>
#include <string.h>

#include "util/fileio.h"

/* 1 when both files can be read and hold the same bytes. */
static inline int check_files_equal(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    if (gl_read_file(a, &x, &nx) != 0) return 0;
    if (gl_read_file(b, &y, &ny) != 0) {
        free(x);
        return 0;
    }
    int eq = nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return eq;
}

#endif
