/* npy.h: NumPy .npy files (format 1.0, little-endian float32, C order). */
#ifndef GL_NPY_H
#define GL_NPY_H

#include <stdint.h>

/* Write a (rows, cols) float32 array atomically. */
int gl_npy_write_f32(const char *path, const float *data, int64_t rows, int64_t cols);
/* Read a 1-D or 2-D little-endian float32 C-order array; *data is malloc'd. */
int gl_npy_read_f32(const char *path, float **data, int64_t *rows, int64_t *cols);

#endif
