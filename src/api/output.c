/* output.c: atomic writes of results (gloss_write_npy, gloss_write_file). */
#include <stdint.h>

#include "api/api_internal.h"
#include "io/npy.h"
#include "util/error.h"
#include "util/fileio.h"

GLOSS_API gloss_status gloss_write_npy(const char *path, const float *data, size_t rows, size_t cols) {
    if (!path || (rows && cols && !data))
        return gl_error_k(GL_E_MISUSE, "gloss_write_npy: path or data is NULL"), GLOSS_MISUSE;
    if (rows > INT64_MAX || cols > INT64_MAX)
        return gl_error_k(GL_E_INVALID, "gloss_write_npy: %zu x %zu is too large", rows, cols), GLOSS_INVALID;
    return gl_api_rc(gl_npy_write_f32(path, data, (int64_t)rows, (int64_t)cols));
}

GLOSS_API gloss_status gloss_write_file(const char *path, const void *data, size_t len) {
    if (!path || (len && !data)) return gl_error_k(GL_E_MISUSE, "gloss_write_file: path or data is NULL"), GLOSS_MISUSE;
    return gl_api_rc(gl_write_file_atomic(path, data, len));
}
