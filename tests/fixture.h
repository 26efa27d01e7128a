/* fixture.h: read reference tensors written by the tools/make_*_fixtures.py
 * scripts (safetensors files) into heap arrays, for the numerics tests. */
#ifndef GL_FIXTURE_H
#define GL_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "util/error.h"

/* Returns a malloc'd array of the tensor converted to double, or NULL (and
 * prints why). numel may be NULL. */
static inline double *fx_f64(const gl_safetensors *st, const char *name, int64_t *numel) {
    const gl_st_tensor *t = gl_st_find(st, name);
    if (!t) {
        fprintf(stderr, "fixture %s: no tensor '%s'\n", st->path, name);
        return NULL;
    }
    double *d = malloc(sizeof(double) * (size_t)(t->numel ? t->numel : 1));
    if (!d) return NULL;
    int rc = (t->dtype == GL_DT_I64 || t->dtype == GL_DT_I32) ? -1 : gl_st_read_f64(st, t, d);
    if (rc != 0) {
        int64_t *tmp = malloc(sizeof(int64_t) * (size_t)(t->numel ? t->numel : 1));
        if (tmp && gl_st_read_i64(st, t, tmp) == 0) {
            for (int64_t i = 0; i < t->numel; i++) d[i] = (double)tmp[i];
            rc = 0;
        }
        free(tmp);
    }
    if (rc != 0) {
        fprintf(stderr, "fixture %s: %s\n", st->path, gl_error_message());
        free(d);
        return NULL;
    }
    if (numel) *numel = t->numel;
    return d;
}

/* fx_f64 of tensor "case<k>.<suffix>": the per-case tensors of the fixture
 * files that hold numbered cases. */
static inline double *fx_case_f64(const gl_safetensors *st, int k, const char *suffix, int64_t *numel) {
    char name[96];
    snprintf(name, sizeof name, "case%d.%s", k, suffix);
    return fx_f64(st, name, numel);
}

/* Opens a fixture file and checks that its metadata names the script that
 * wrote it. Returns 0, or -1 after printing why (st is then closed). */
static inline int fx_open_from(gl_safetensors *st, const char *path, const char *script) {
    if (gl_st_open(st, path) != 0) {
        fprintf(stderr, "cannot open fixture %s: %s\n", path, gl_error_message());
        return -1;
    }
    if (!st->metadata_json || !strstr(st->metadata_json, script)) {
        fprintf(stderr, "fixture %s: its metadata does not name %s\n", path, script);
        gl_st_close(st);
        return -1;
    }
    return 0;
}

/* The tensor "case<k>.<suffix>", or NULL: the loops over numbered cases stop
 * at the first k without one. */
static inline const gl_st_tensor *fx_case(const gl_safetensors *st, int k, const char *suffix) {
    char name[96];
    snprintf(name, sizeof name, "case%d.%s", k, suffix);
    return gl_st_find(st, name);
}

#endif
