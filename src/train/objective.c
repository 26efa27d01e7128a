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
    o->balance = GL_BALANCE_AUTO;
    gl_gloss_params_default(&o->gloss);
    o->gamma = 0.7;
    o->sigma_mode = GL_SIGMA_KNN;
    o->sigma_knn = GL_GLOSS_KNN_DEFAULT;
    o->sigma_floor = GL_SIGMA_FLOOR_NEFF;
    o->temperature = 0.1;
    o->margin = 5.0;
}

gl_objective gl_objective_resolve(const gl_objective *o) {
    gl_objective r = *o;
    if (r.balance < 0) r.balance = r.kind == GL_LOSS_GLOSS && !r.standalone ? GL_GLOSS_BALANCE_DEFAULT : 0.0;
    if (r.standalone || r.kind == GL_LOSS_CE) r.balance = 0.0;
    return r;
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

const char *gl_sigma_mode_name(gl_sigma_mode m) {
    static const char *names[] = {"value", "dicm", "root", "knn"};
    return names[m];
}

int gl_objective_embedding_loss(const gl_objective *o, const float *emb, const int *y, int B, int C, int K,
                                const double *class_w, double weight, uint64_t key, float *demb, gl_gloss_stats *stats,
                                int *skipped, double *E_out) {
    *skipped = 0;
    *E_out = 0.0;
    if (o->kind == GL_LOSS_CE) return 0;
    size_t n = (size_t)B * C;
    double *h = malloc(sizeof(double) * n * 2);
    uint8_t *lab = o->kind == GL_LOSS_GLOSS ? malloc((size_t)B) : NULL;
    if (!h || (o->kind == GL_LOSS_GLOSS && !lab)) {
        free(h);
        free(lab);
        return gl_error_oom("%s loss: out of memory (a batch of %d embeddings of %d values)", gl_loss_name(o->kind),
                            B, C);
    }
    double *dh = h + n;
    for (size_t i = 0; i < n; i++) h[i] = emb[i];
    /* the losses return NaN both for a bad batch and when their workspace
     * cannot be allocated; only the latter sets an out-of-memory error */
    gl_error_clear();
    double E = 0.0;
    switch (o->kind) {
    case GL_LOSS_GLOSS:
        gl_gloss_pick_labelled(lab, B, o->gamma, key);
        E = gl_gloss_loss(&o->gloss, h, y, lab, B, C, K, class_w, weight, dh, stats, skipped);
        break;
    case GL_LOSS_SUPCON: E = gl_supcon_loss(h, y, B, C, o->temperature, weight, dh); break;
    case GL_LOSS_TRIPLET: E = gl_triplet_loss(h, y, B, C, o->margin, o->batch_hard, weight, dh); break;
    case GL_LOSS_COSINE: E = gl_cosine_pair_loss(h, y, B, C, weight, dh); break;
    default: break;
    }
    free(lab);
    if (isnan(E) && gl_error_is_oom()) { /* the loss's message names it: "supcon: out of memory ..." */
        free(h);
        return -1;
    }
    for (size_t i = 0; i < n; i++) demb[i] += (float)dh[i];
    free(h);
    *E_out = E;
    return 0;
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
        gl_error_oom("sigma heuristic: out of memory (%zu documents)", m);
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

/* ------------------------------------------------- sigma by effective neighbours */

#define NEFF_BATCHES 32 /* seeded batches behind each measurement */

typedef struct {
    gl_gloss_params p;
    int R, B, C;
    double *H; /* R batches of B rows */
} neff_probe;

static int neff_probe_init(neff_probe *q, const gl_gloss_params *p, const float *X, size_t n, int C, int B,
                           uint64_t seed) {
    memset(q, 0, sizeof *q);
    if (n < 2) return gl_error("the sigma heuristic needs at least 2 documents, got %zu", n);
    q->p = *p;
    q->B = B > (int)n ? (int)n : B;
    q->C = C;
    q->R = NEFF_BATCHES;
    size_t *idx = malloc(sizeof(size_t) * n);
    q->H = malloc(sizeof(double) * (size_t)q->R * q->B * C);
    if (!idx || !q->H) {
        free(idx);
        free(q->H);
        return gl_error_oom("sigma heuristic: out of memory");
    }
    gl_rng r = {gl_splitmix64(seed ^ 0x6e656666ull)};
    for (int b = 0; b < q->R; b++) {
        for (size_t i = 0; i < n; i++) idx[i] = i;
        gl_rng_sample_prefix(&r, idx, n, (size_t)q->B);
        for (int i = 0; i < q->B; i++)
            for (int c = 0; c < C; c++) q->H[((size_t)b * q->B + i) * C + c] = X[idx[i] * (size_t)C + c];
    }
    free(idx);
    return 0;
}

static double neff_probe_at(neff_probe *q, double sigma) {
    double med[NEFF_BATCHES];
    q->p.sigma = sigma;
    for (int b = 0; b < q->R; b++) {
        med[b] = gl_gloss_neff_median(&q->p, q->H + (size_t)b * q->B * q->C, q->B, q->C);
        if (isnan(med[b])) return NAN;
    }
    qsort(med, (size_t)q->R, sizeof(double), cmp_double);
    return q->R % 2 ? med[q->R / 2] : 0.5 * (med[q->R / 2 - 1] + med[q->R / 2]);
}

double gl_neff_at_sigma(const gl_gloss_params *p, double sigma, const float *X, size_t n, int C, int B, uint64_t seed) {
    neff_probe q;
    if (neff_probe_init(&q, p, X, n, C, B, seed) != 0) return NAN;
    double v = neff_probe_at(&q, sigma);
    free(q.H);
    return v;
}

double gl_sigma_for_neff(const gl_gloss_params *p, const float *X, size_t n, int C, int B, double target, uint64_t seed,
                         double *achieved) {
    neff_probe q;
    if (neff_probe_init(&q, p, X, n, C, B, seed) != 0) return NAN;
    if (!(target >= 1.0 && target <= q.B - 1)) {
        free(q.H);
        gl_error("%g effective neighbours asked for, but a batch of %d documents allows 1 to %d", target, q.B, q.B - 1);
        return NAN;
    }
    /* unit vectors are at most 2 apart: sigma 1e-4 is "nearest neighbour only", 1e3 uniform */
    double lo = log(1e-4), hi = log(1e3), v = NAN;
    for (int it = 0; it < 60; it++) {
        double mid = 0.5 * (lo + hi);
        v = neff_probe_at(&q, exp(mid));
        if (isnan(v)) break;
        if (v < target) lo = mid;
        else hi = mid;
    }
    double sigma = exp(hi);
    if (achieved) *achieved = isnan(v) ? NAN : neff_probe_at(&q, sigma);
    free(q.H);
    if (isnan(v)) {
        gl_error_oom("sigma heuristic: out of memory");
        return NAN;
    }
    return sigma;
}

int gl_sigma_resolve(const gl_objective *o, const float *X, const int *y, size_t n, int C, int B, uint64_t seed,
                     gl_sigma_info *info) {
    memset(info, 0, sizeof *info);
    const gl_gloss_params *gp = &o->gloss;
    if (o->sigma_mode == GL_SIGMA_VALUE) {
        info->sigma = gp->sigma;
        info->neff = gl_neff_at_sigma(gp, gp->sigma, X, n, C, B, seed);
        return isnan(info->neff) ? -1 : 0;
    }
    if (o->sigma_mode == GL_SIGMA_KNN) {
        int Bn = B > (int)n ? (int)n : B;
        info->knn = o->sigma_knn;
        if (info->knn > Bn - 2 && Bn >= 3) { /* e.g. the default 16 with --batch-size 16 */
            info->knn = 0.5 * (Bn - 1);
            info->knn_reduced = 1;
        }
        info->sigma = gl_sigma_for_neff(gp, X, n, C, B, info->knn, seed, &info->neff);
        return isnan(info->sigma) ? gl_error_prefix("--sigma knn:%g: ", o->sigma_knn) : 0;
    }
    gl_error_clear();
    double sigma = gl_sigma_heuristic(o->sigma_mode, X, y, n, C, n, seed, NULL);
    if (isnan(sigma) && gl_error_is_oom()) return -1;
    if (!(sigma > 0) || !isfinite(sigma)) return gl_error("sigma heuristic gave %g; pass --sigma VALUE", sigma);
    double neff = gl_neff_at_sigma(gp, sigma, X, n, C, B, seed);
    if (isnan(neff)) return -1;
    info->sigma = sigma;
    info->neff = neff;
    /* the floor: below 2 effective neighbours T is close to a nearest-neighbour
     * map and G-Loss degenerates (a batch's own minimum distance sets the scale) */
    int Bn = B > (int)n ? (int)n : B;
    if (neff < o->sigma_floor && Bn - 1 >= o->sigma_floor) {
        double got, raised = gl_sigma_for_neff(gp, X, n, C, B, o->sigma_floor, seed, &got);
        if (isnan(raised)) return -1;
        info->floored = 1;
        info->heuristic_sigma = sigma;
        info->heuristic_neff = neff;
        info->sigma = raised;
        info->neff = got;
    }
    return 0;
}
