/* fuzz_safetensors.c: libFuzzer target for the safetensors reader
 * (src/io/safetensors.c): gl_st_open (length field, JSON header, tensor table,
 * overlap check) and gl_st_read_f32 / _f64 / _i64 on every tensor.
 *
 * Input: the first byte picks the mode.
 *   even: the rest is the file as it is (the fuzzer owns the 8-byte length);
 *   odd:  the rest is "<header JSON> NUL <data bytes>" and the target writes
 *         the length field itself, so mutations of the JSON stay well-framed.
 * The file goes to a per-process temp directory (tmpfs /dev/shm when
 * writable; $GLOSS_FUZZ_TMP overrides).
 *
 * Checks beyond the sanitizers, on a file that opens: every tensor lies in the
 * data area with (end - begin) == numel * element size, gl_st_find returns it,
 * the f32 and f64 reads agree bit for bit (float formats) and the other reads
 * are refused; "__metadata__" re-serialised is valid JSON. Then the float
 * tensors are written back with gl_st_write_f32 and must read back identical. */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "util/error.h"

#include "fuzz_common.h"

/* ---- target ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    make_tmpdir("safetensors");
    return 0;
}

static size_t elem_size(gl_dtype d) {
    switch (d) {
    case GL_DT_F32: case GL_DT_I32: return 4;
    case GL_DT_F16: case GL_DT_BF16: return 2;
    case GL_DT_F64: case GL_DT_I64: return 8;
    case GL_DT_U8: return 1;
    }
    FUZZ_CHECK(!"unknown dtype");
    return 0;
}

static int is_float(gl_dtype d) { return d == GL_DT_F32 || d == GL_DT_F16 || d == GL_DT_BF16 || d == GL_DT_F64; }

/* Write the float tensors (as f32 data already read) and read them back. */
static void roundtrip(const gl_safetensors *st, float **f32) {
    gl_st_entry *ents = calloc((size_t)st->n + 1, sizeof *ents);
    FUZZ_CHECK(ents != NULL);
    int m = 0;
    for (int i = 0; i < st->n; i++) {
        if (!f32[i]) continue;
        ents[m].name = st->tensors[i].name;
        ents[m].data = f32[i];
        ents[m].ndim = st->tensors[i].ndim;
        memcpy(ents[m].shape, st->tensors[i].shape, sizeof ents[m].shape);
        m++;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/roundtrip.safetensors", g_dir);
    const char *meta[] = {"format", "pt", NULL};
    if (gl_st_write_f32(path, ents, m, meta) != 0) {
        /* only names the writer refuses (empty) may fail */
        int empty = 0;
        for (int i = 0; i < m; i++) empty |= ents[i].name[0] == 0;
        FUZZ_CHECK(empty);
        free(ents);
        return;
    }
    gl_safetensors back;
    FUZZ_CHECK(gl_st_open(&back, path) == 0);
    FUZZ_CHECK(back.n == m);
    for (int i = 0; i < m; i++) {
        const gl_st_tensor *t = gl_st_find(&back, ents[i].name);
        FUZZ_CHECK(t && t->dtype == GL_DT_F32 && t->ndim == ents[i].ndim);
        FUZZ_CHECK(memcmp(t->shape, ents[i].shape, (size_t)t->ndim * sizeof(int64_t)) == 0);
        float *x = malloc((size_t)t->numel * sizeof(float) + 1);
        FUZZ_CHECK(x != NULL);
        FUZZ_CHECK(gl_st_read_f32(&back, t, x) == 0);
        FUZZ_CHECK(memcmp(x, ents[i].data, (size_t)t->numel * sizeof(float)) == 0);
        free(x);
    }
    gl_st_close(&back);
    unlink(path);
    free(ents);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *path;
    if ((data[0] & 1) == 0) {
        path = put_file("in.safetensors", data + 1, size - 1);
    } else {
        const uint8_t *body = data + 1, *nul = memchr(body, 0, size - 1);
        size_t hn = nul ? (size_t)(nul - body) : size - 1;
        size_t dn = nul ? size - 1 - hn - 1 : 0;
        uint8_t *file = malloc(8 + hn + dn + 1);
        FUZZ_CHECK(file != NULL);
        for (int i = 0; i < 8; i++) file[i] = (uint8_t)((uint64_t)hn >> (8 * i));
        memcpy(file + 8, body, hn);
        if (dn) memcpy(file + 8 + hn, nul + 1, dn);
        path = put_file("in.safetensors", file, 8 + hn + dn);
        free(file);
    }

    gl_safetensors st;
    gl_error_clear();
    if (gl_st_open(&st, path) != 0) {
        FUZZ_CHECK(strstr(gl_error_message(), path) != NULL); /* errors name the file */
        FUZZ_CHECK(st.map == NULL && st.tensors == NULL && st.path == NULL);
        return 0;
    }
    FUZZ_CHECK(st.data_start >= 8 && st.data_start <= st.size);
    size_t data_size = st.size - st.data_start;
    if (st.metadata_json) {
        json_t *m = json_loads(st.metadata_json, 0, NULL);
        FUZZ_CHECK(m && json_is_object(m));
        json_decref(m);
    }
    float **f32 = calloc((size_t)st.n + 1, sizeof *f32);
    FUZZ_CHECK(f32 != NULL);
    for (int i = 0; i < st.n; i++) {
        const gl_st_tensor *t = &st.tensors[i];
        FUZZ_CHECK(t->name != NULL && strcmp(t->name, "__metadata__") != 0);
        if (i < 64 || i == st.n - 1) /* names are unique (gl_st_find is linear: not for all) */
            FUZZ_CHECK(gl_st_find(&st, t->name) == t);
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= GL_ST_MAX_DIMS);
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            FUZZ_CHECK(t->shape[d] >= 0);
            numel *= t->shape[d]; /* validated: no overflow */
        }
        FUZZ_CHECK(numel == t->numel);
        FUZZ_CHECK(t->begin <= t->end && t->end <= data_size);
        FUZZ_CHECK((uint64_t)(t->end - t->begin) == (uint64_t)numel * elem_size(t->dtype));

        size_t n = (size_t)numel;
        float *f = malloc(n * sizeof(float) + 1);
        double *d = malloc(n * sizeof(double) + 1);
        int64_t *q = malloc(n * sizeof(int64_t) + 1);
        FUZZ_CHECK(f && d && q);
        int rf = gl_st_read_f32(&st, t, f);
        int rd = gl_st_read_f64(&st, t, d);
        int rq = gl_st_read_i64(&st, t, q);
        if (is_float(t->dtype)) {
            FUZZ_CHECK(rf == 0 && rd == 0 && rq == -1);
            for (size_t k = 0; k < n; k++) {
                if (isnan(d[k])) {
                    FUZZ_CHECK(isnan(f[k]));
                } else {
                    float g = (float)d[k];
                    FUZZ_CHECK(memcmp(&g, &f[k], sizeof g) == 0);
                }
            }
            f32[i] = f;
            f = NULL;
        } else {
            FUZZ_CHECK(rf == -1 && rd == -1 && rq == 0);
            if (t->dtype == GL_DT_U8)
                for (size_t k = 0; k < n; k++) FUZZ_CHECK(q[k] >= 0 && q[k] <= 255);
            if (t->dtype == GL_DT_I32)
                for (size_t k = 0; k < n; k++) FUZZ_CHECK(q[k] >= INT32_MIN && q[k] <= INT32_MAX);
        }
        free(f);
        free(d);
        free(q);
    }
    roundtrip(&st, f32);
    for (int i = 0; i < st.n; i++) free(f32[i]);
    free(f32);
    gl_st_close(&st);
    return 0;
}
