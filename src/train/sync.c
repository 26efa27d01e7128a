/* sync.c: what the processes of a distributed run keep identical. Their
 * inputs are compared when the run starts (the options, the documents as
 * tokenized with their labels, the initial weights), so that a process that
 * read another file stops the run instead of training on it; and the state
 * --resume reads is read by rank 0 alone (the outputs may live on its
 * machine only) and sent to the others. */
#include <stdlib.h>
#include <string.h>

#include "train/train_internal.h"
#include "util/error.h"
#include "util/rng.h"

static uint64_t mix(uint64_t h, const void *p, size_t bytes) {
    const unsigned char *c = p;
    size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        uint64_t w;
        memcpy(&w, c + i, 8);
        h = gl_splitmix64(h ^ w);
    }
    uint64_t w = 0;
    memcpy(&w, c + i, bytes - i);
    return gl_splitmix64(h ^ w ^ ((uint64_t)bytes << 48));
}

static uint64_t split_hash(uint64_t h, const gl_split *s) {
    h = mix(h, &s->n, sizeof s->n);
    if (s->n == 0) return h;
    h = mix(h, s->off, (s->n + 1) * sizeof(size_t));
    h = mix(h, s->ids, s->off[s->n] * sizeof(int32_t));
    return mix(h, s->label, s->n * sizeof(int));
}

static uint64_t data_hash(const gl_dataset *d) {
    uint64_t h = mix(0x64617461ull, &d->K, sizeof d->K);
    for (int k = 0; k < d->K; k++) h = mix(h, d->labels[k], strlen(d->labels[k]) + 1);
    h = split_hash(h, &d->train);
    h = split_hash(h, &d->val);
    return split_hash(h, &d->test);
}

static uint64_t options_hash(const gl_train_opts *o) {
    json_t *j = gl_train_opts_json(o);
    char *s = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    json_decref(j);
    uint64_t h = s ? mix(0x6f707473ull, s, strlen(s)) : 0;
    free(s);
    return h;
}

int gl_sync_check_inputs(gl_trainer *t, const gl_train_opts *o) {
    gl_comm *c = o->comm;
    const gl_bert *m = &t->model;
    int r;
    if (gl_comm_compare(c, options_hash(o), &r) != 0) return -1;
    if (r > 0)
        return gl_error_k(GL_E_INVALID, "rank %d of %d was started with other options than rank 0: every process of "
                                        "a run must be given the same command line",
                          r, gl_comm_size(c));
    if (gl_comm_compare(c, data_hash(&t->data), &r) != 0) return -1;
    if (r > 0)
        return gl_error_k(GL_E_FORMAT, "rank %d of %d read other documents, labels or tokens than rank 0 from %s: "
                                       "every process must read the same data and vocabulary",
                          r, gl_comm_size(c), o->data_dir);
    uint64_t w = mix(mix(0x77656967ull, &m->size, sizeof m->size), m->params, m->size * sizeof(float));
    if (gl_comm_compare(c, w, &r) != 0) return -1;
    if (r > 0)
        return gl_error_k(GL_E_FORMAT, "rank %d of %d loaded other weights than rank 0 from %s: every process "
                                       "must read the same checkpoint",
                          r, gl_comm_size(c), o->model_dir);
    return 0;
}

int gl_sync_resumed(gl_trainer *t, const gl_train_opts *o) {
    gl_comm *c = o->comm;
    const size_t bytes = t->model.size * sizeof(float);
    if (gl_comm_bcast(c, t->model.params, bytes, 0) != 0 || gl_comm_bcast(c, t->opt.m, bytes, 0) != 0 ||
        gl_comm_bcast(c, t->opt.v, bytes, 0) != 0 || gl_comm_bcast(c, t->best, bytes, 0) != 0 ||
        gl_comm_bcast(c, &t->opt.step, sizeof t->opt.step, 0) != 0)
        return -1;
    gl_train_state st = t->st; /* the scalars, then the history rows */
    st.hist = NULL;
    if (gl_comm_bcast(c, &st, sizeof st, 0) != 0) return -1;
    st.hist = t->st.hist;
    t->st = st;
    return gl_comm_bcast(c, t->st.hist, sizeof(gl_epoch_row) * (size_t)t->st.nhist, 0);
}
