/* safetensors.h: reading and writing the safetensors format
 * (8-byte little-endian header length, JSON header, raw tensor bytes).
 * Reading validates everything: header length against the file size, the JSON,
 * dtypes, shapes (no overflow), and that each tensor's [begin, end) lies inside
 * the data area and matches its shape times its element size. */
#ifndef GL_SAFETENSORS_H
#define GL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { GL_DT_F32 = 0, GL_DT_F16, GL_DT_BF16, GL_DT_F64, GL_DT_I64, GL_DT_I32, GL_DT_U8 } gl_dtype;

#define GL_ST_MAX_DIMS 8

typedef struct {
    char *name;
    gl_dtype dtype;
    int ndim;
    int64_t shape[GL_ST_MAX_DIMS];
    int64_t numel;
    size_t begin, end; /* byte offsets relative to the data area */
} gl_st_tensor;

typedef struct {
    char *path;
    unsigned char *map; /* whole file (mmap) */
    size_t size;
    size_t data_start; /* 8 + header length */
    int n;
    gl_st_tensor *tensors;
    char *metadata_json; /* the "__metadata__" object re-serialised, or NULL */
} gl_safetensors;

/* Open and validate. On error returns -1 with a message naming the file (and tensor). */
int gl_st_open(gl_safetensors *st, const char *path);
void gl_st_close(gl_safetensors *st);
const gl_st_tensor *gl_st_find(const gl_safetensors *st, const char *name);
/* Convert a F32/F16/BF16/F64 tensor to float32 into out (numel floats).
 * Other dtypes give an error naming the file and tensor. */
int gl_st_read_f32(const gl_safetensors *st, const gl_st_tensor *t, float *out);
/* Same for float64 output (F32/F64/F16/BF16) and for integer tensors (I64/I32/U8 -> int64). */
int gl_st_read_f64(const gl_safetensors *st, const gl_st_tensor *t, double *out);
int gl_st_read_i64(const gl_safetensors *st, const gl_st_tensor *t, int64_t *out);
const char *gl_dtype_name(gl_dtype d);

/* Writing (always F32), atomically. metadata: NULL or pairs of strings
 * {key0, value0, key1, value1, ..., NULL}. Tensors are written in the given order. */
typedef struct {
    const char *name;
    const float *data;
    int ndim;
    int64_t shape[GL_ST_MAX_DIMS];
} gl_st_entry;

int gl_st_write_f32(const char *path, const gl_st_entry *entries, int n, const char *const *metadata);

#endif
