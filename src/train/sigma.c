/* sigma.c: G-Loss's kernel width for a run (--sigma knn:K, dicm, root), from
 * the initial model's embeddings of a seeded sample of the training set
 * (train/objective.h: gl_sigma_resolve measures it). */
#include <stdlib.h>
#include <string.h>

#include "train/train_internal.h"
#include "util/error.h"
#include "util/rng.h"

/* A split holding documents idx[0..m) of s (labels and token ids copied). */
static int sub_split(gl_split *out, const gl_split *s, const size_t *idx, size_t m) {
    memset(out, 0, sizeof *out);
    size_t tok = 0;
    for (size_t i = 0; i < m; i++) tok += (size_t)gl_split_len(s, idx[i]);
    out->ids = gl_malloc((tok ? tok : 1) * sizeof(int32_t));
    out->off = gl_malloc((m + 1) * sizeof(size_t));
    out->label = gl_malloc((m ? m : 1) * sizeof(int));
    if (!out->ids || !out->off || !out->label) {
        gl_split_free(out);
        return -1;
    }
    out->n = m;
    out->off[0] = 0;
    for (size_t i = 0; i < m; i++) {
        size_t len = (size_t)gl_split_len(s, idx[i]);
        memcpy(out->ids + out->off[i], gl_split_doc(s, idx[i]), len * sizeof(int32_t));
        out->off[i + 1] = out->off[i] + len;
        out->label[i] = s->label[idx[i]];
    }
    return 0;
}

int gl_train_resolve_sigma(gl_trainer *t, const gl_train_opts *o) {
    const gl_split *tr = &t->data.train;
    size_t n = tr->n, m = n < o->sigma_sample ? n : o->sigma_sample;
    size_t *idx = gl_malloc(sizeof(size_t) * (n ? n : 1));
    if (!idx) return -1;
    for (size_t i = 0; i < n; i++) idx[i] = i;
    gl_rng r = {gl_rng_key(o->seed, 0x7369676d61ull)};
    gl_rng_sample_prefix(&r, idx, n, m);
    gl_split sub;
    int rc = sub_split(&sub, tr, idx, m);
    free(idx);
    float *X = rc == 0 ? gl_malloc(sizeof(float) * m * (size_t)t->model.cfg.hidden_size) : NULL;
    if (rc == 0 && !X) rc = -1;
    /* with several processes, they share the pass and all compute the same sigma */
    if (o->comm) rc = gl_comm_agree(o->comm, rc, NULL, -1);
    if (rc == 0)
        rc = gl_predict_pass(&t->model, &sub, o->pool, o->eval_batch_size, NULL, X, gl_train_progress(o),
                             GL_STAGE_EMBED, 0, 0, &t->cancel, o->comm);
    const int B = o->batch_size;
    gl_sigma_info si;
    if (rc == 0) rc = gl_sigma_resolve(&t->obj, X, sub.label, m, t->model.cfg.hidden_size, B, o->seed, &si);
    if (o->comm) rc = gl_comm_agree(o->comm, rc, NULL, -1);
    t->sigma_used = m;
    if (rc == 0) {
        t->obj.gloss.sigma = si.sigma;
        t->sigma = si;
        if (si.knn_reduced)
            gl_log(&o->hooks, GL_LOG_WARN,
                   "sigma: knn:%g is more than a batch of %d allows; aiming at %g effective neighbours",
                   o->obj.sigma_knn, B, si.knn);
        if (si.floored)
            gl_log(&o->hooks, GL_LOG_WARN,
                   "sigma floor: %s gave sigma %.6g with %.2f effective neighbours per row of T at batch %d; "
                   "raised to %.6g (%g effective neighbours)",
                   gl_sigma_mode_name(o->obj.sigma_mode), si.heuristic_sigma, si.heuristic_neff, B, si.sigma,
                   o->obj.sigma_floor);
        gl_train_info(o, "sigma (%s) = %.6g from %zu training documents%s: %.2f effective neighbours per row of T "
                         "(median, batch %d)",
                      gl_sigma_mode_name(o->obj.sigma_mode), si.sigma, m, m < n ? " (a seeded sample)" : "", si.neff, B);
    }
    free(X);
    gl_split_free(&sub);
    return rc;
}
