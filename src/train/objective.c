/* objective.c: dispatch to the embedding losses; kernel-width heuristics. */
#include "train/objective.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss/metric_losses.h"
#include "util/error.h"
#include "util/rng.h"

void gl_objective_default(gl_objective *o) {
    memset(o, 0, sizeof *o);
    o->kind = GL_LOSS_CE;
    o->lambda = 0.8;
    gloss_params_default(&o->gloss);
    o->gamma = 0.7;
    o->sigma_mode = GL_SIGMA_DICM;
    o->temperature = 0.1;
    o->margin = 5.0;
}

static const char *LOSS_NAMES[] = {"ce", "gloss", "supcon", "triplet", "cosine"};

int gl_loss_parse(const char *s, gl_loss_kind *out) {
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, LOSS_NAMES[i])) {
            *out = (gl_loss_kind)i;
            return 0;
        }
    return gl_error("unknown loss '%s' (expected ce, gloss, supcon, triplet or cosine)", s);
}

const char *gl_loss_name(gl_loss_kind k) { return LOSS_NAMES[k]; }

double gl_objective_embedding_loss(const gl_objective *o, const float *emb, const int *y, int B, int C, int K,
                                   const double *class_w, double weight, uint64_t key, float *demb,
                                   gloss_stats *stats, int *skipped) {
    *skipped = 0;
    if (o->kind == GL_LOSS_CE) return 0.0;
    size_t n = (size_t)B * C;
    double *h = malloc(sizeof(double) * n * 2);
    if (!h) return NAN;
    double *dh = h + n;
    for (size_t i = 0; i < n; i++) h[i] = emb[i];
    double E = 0.0;
    switch (o->kind) {
    case GL_LOSS_GLOSS: {
        uint8_t *lab = malloc((size_t)B);
        if (!lab) {
            free(h);
            return NAN;
        }
        gloss_pick_labelled(lab, B, o->gamma, key);
        E = gloss_loss(&o->gloss, h, y, lab, B, C, K, class_w, weight, dh, stats, skipped);
        free(lab);
        break;
    }
    case GL_LOSS_SUPCON: E = supcon_loss(h, y, B, C, o->temperature, weight, dh); break;
    case GL_LOSS_TRIPLET: E = triplet_loss(h, y, B, C, o->margin, o->batch_hard, weight, dh); break;
    case GL_LOSS_COSINE: E = cosine_pair_loss(h, y, B, C, weight, dh); break;
    default: break;
    }
    for (size_t i = 0; i < n; i++) demb[i] += (float)dh[i];
    free(h);
    return E;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double gl_sigma_heuristic(gl_sigma_mode mode, const float *X, const int *y, size_t n, int C, size_t max_points,
                          uint64_t seed, size_t *used) {
    /* seeded sample of at most max_points documents (partial Fisher-Yates) */
    size_t m = n < max_points ? n : max_points;
    size_t *idx = malloc(sizeof(size_t) * (n ? n : 1));
    size_t npairs = m * (m - (m > 0)) / 2;
    double *d = malloc(sizeof(double) * (npairs ? npairs : 1));
    double *Z = malloc(sizeof(double) * (m ? m : 1) * (size_t)C);
    if (!idx || !d || !Z) {
        free(idx);
        free(d);
        free(Z);
        return NAN;
    }
    for (size_t i = 0; i < n; i++) idx[i] = i;
    gl_rng r = {gl_splitmix64(seed ^ 0x7369676d61ull)};
    gl_rng_sample_prefix(&r, idx, n, m);
    for (size_t i = 0; i < m; i++) {
        const float *x = X + idx[i] * (size_t)C;
        double nn = 0;
        for (int c = 0; c < C; c++) nn += (double)x[c] * x[c];
        nn = 1.0 / fmax(sqrt(nn), 1e-12);
        for (int c = 0; c < C; c++) Z[i * C + c] = x[c] * nn;
    }
    double dicm = INFINITY;
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        for (size_t j = i + 1; j < m; j++) {
            double s = 0;
            for (int c = 0; c < C; c++) {
                double t = Z[i * C + c] - Z[j * C + c];
                s += t * t;
            }
            double dist = sqrt(s);
            d[k++] = dist;
            if (y[idx[i]] != y[idx[j]] && dist > 0 && dist < dicm) dicm = dist;
        }
    }
    qsort(d, k, sizeof(double), cmp_double);
    double median = k == 0 ? 1.0 : (k % 2 ? d[k / 2] : 0.5 * (d[k / 2 - 1] + d[k / 2]));
    free(idx);
    free(d);
    free(Z);
    if (used) *used = m;
    if (mode == GL_SIGMA_ROOT) return sqrt(median / 3.0);
    return isinf(dicm) ? median / 3.0 : dicm / 3.0;
}
