/* batch.c: padded batches of tokenised documents, and documents ordered by
 * length (evaluation passes and length bucketing batch neighbours in it). */
#include <stdio.h>
#include <stdlib.h>

#include "model/model_open.h"
#include "train/train_internal.h"
#include "util/error.h"

int gl_batch_alloc(gl_batch *b, int Bmax, int Tmax) {
    b->ids = gl_malloc((size_t)Bmax * Tmax * sizeof(int32_t));
    b->mask = gl_malloc((size_t)Bmax * Tmax);
    b->y = gl_malloc((size_t)Bmax * sizeof(int));
    return (b->ids && b->mask && b->y) ? 0 : -1;
}

void gl_batch_free(gl_batch *b) {
    free(b->ids);
    free(b->mask);
    free(b->y);
}

void gl_batch_fill(gl_batch *b, const gl_split *s, const size_t *idx, int B, int32_t pad, int T_fixed) {
    int T = T_fixed;
    for (int i = 0; T_fixed <= 0 && i < B; i++)
        if (gl_split_len(s, idx[i]) > T) T = gl_split_len(s, idx[i]);
    b->B = B;
    b->T = T;
    for (int i = 0; i < B; i++) {
        int len = gl_split_len(s, idx[i]);
        const int32_t *d = gl_split_doc(s, idx[i]);
        for (int t = 0; t < T; t++) {
            b->ids[(size_t)i * T + t] = t < len ? d[t] : pad;
            b->mask[(size_t)i * T + t] = t < len;
        }
        b->y[i] = s->label[idx[i]];
    }
}

int gl_batch_check(const gl_batch *b, const gl_bert *m, const gl_split *s, const size_t *idx) {
    const size_t n = (size_t)b->B * (size_t)b->T;
    const uint32_t V = (uint32_t)m->cfg.vocab_size;
    for (size_t i = 0; i < n; i++)
        if ((uint32_t)b->ids[i] >= V) {
            size_t row = i / (size_t)b->T;
            char what[600];
            snprintf(what, sizeof what, "%s: document %zu", s->path ? s->path : "data", idx[row] + 1);
            return gl_model_check_ids(m, b->ids + row * (size_t)b->T, (size_t)b->T, what);
        }
    return 0;
}

int gl_split_max_len(const gl_split *s) {
    int T = 1;
    for (size_t i = 0; i < s->n; i++)
        if (gl_split_len(s, i) > T) T = gl_split_len(s, i);
    return T;
}

/* A document to order: its length and its index in the split. */
typedef struct {
    int len;
    size_t i;
} by_len_key;

static int by_length(const void *a, const void *b) {
    const by_len_key *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

int gl_sort_by_length(size_t *idx, size_t n, const gl_split *s) {
    if (n < 2) return 0;
    by_len_key *k = gl_malloc(n * sizeof *k);
    if (!k) return -1;
    for (size_t j = 0; j < n; j++) k[j] = (by_len_key){gl_split_len(s, idx[j]), idx[j]};
    qsort(k, n, sizeof *k, by_length); /* (length, index) is a total order: one result */
    for (size_t j = 0; j < n; j++) idx[j] = k[j].i;
    free(k);
    return 0;
}
