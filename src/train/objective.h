/* objective.h: what the encoder is trained with. Cross-entropy on the linear
 * head, an embedding loss (G-Loss, SupCon, triplet, cosine-pair), their
 * combination (1 - lambda) CE + lambda E, or the embedding loss alone
 * ("standalone", followed by a linear probe on frozen embeddings). */
#ifndef GL_OBJECTIVE_H
#define GL_OBJECTIVE_H

#include <stddef.h>
#include <stdint.h>

#include "loss/graph_loss.h"

typedef enum { GL_LOSS_CE = 0, GL_LOSS_GLOSS, GL_LOSS_SUPCON, GL_LOSS_TRIPLET, GL_LOSS_COSINE } gl_loss_kind;
typedef enum { GL_SIGMA_VALUE = 0, GL_SIGMA_DICM, GL_SIGMA_ROOT, GL_SIGMA_KNN } gl_sigma_mode;

typedef struct {
    gl_loss_kind kind;
    double lambda;        /* weight of the embedding loss when combined (default 0.8) */
    double balance;       /* > 0: combined as CE + beta E, beta set per batch so that the gradient of
                           * beta E at the pooled vector has balance times the norm of CE's (lambda unused);
                           * 0: (1 - lambda) CE + lambda E; GL_BALANCE_AUTO (the default): see
                           * gl_objective_resolve */
    int standalone;       /* 1: no cross-entropy while training the encoder; linear probe after */
    /* G-Loss */
    gl_gloss_params gloss;   /* sigma, variant, floors */
    double gamma;         /* labelled fraction of each batch (default 0.7) */
    gl_sigma_mode sigma_mode;
    double sigma_knn;     /* GL_SIGMA_KNN: effective neighbours per row of T wanted (median row) */
    double sigma_floor;   /* dicm / root: raised to leave at least this many (default GL_SIGMA_FLOOR_NEFF; 0: off) */
    /* baselines */
    double temperature;   /* SupCon (default 0.1) */
    double margin;        /* triplet (default 5) */
    int batch_hard;       /* triplet: 0 batch-all (default), 1 batch-hard */
} gl_objective;

/* Defaults of --loss gloss chosen by the study in docs/defaults.md: the
 * gradient balance (CE + beta E, |beta dE| = balance |dCE|) and the effective
 * neighbours per row of T that set sigma. */
#define GL_GLOSS_BALANCE_DEFAULT 0.3
#define GL_GLOSS_KNN_DEFAULT 16
#define GL_BALANCE_AUTO (-1.0)
#define GL_SIGMA_FLOOR_NEFF 2.0 /* dicm and root are raised to leave at least this many effective neighbours */
#define GL_STR_(x) #x
#define GL_STR(x) GL_STR_(x)

void gl_objective_default(gl_objective *o);
/* The objective as it runs: balance GL_BALANCE_AUTO becomes
 * GL_GLOSS_BALANCE_DEFAULT for combined G-Loss and 0 (lambda) otherwise. */
gl_objective gl_objective_resolve(const gl_objective *o);
int gl_loss_parse(const char *s, gl_loss_kind *out);
const char *gl_loss_name(gl_loss_kind k);
const char *gl_sigma_mode_name(gl_sigma_mode m); /* value, dicm, root, knn */

/* The embedding loss on pooled embeddings emb (B, C) with labels y: E into
 * *E_out (0 for GL_LOSS_CE) and weight * dE/demb added into demb (float,
 * accumulated). key seeds the G-Loss labelled subset. *skipped is set for a
 * G-Loss batch without loss. Returns 0, also when E is NaN or infinite (a bad
 * batch: the caller skips the step), or -1 when memory for the loss's
 * workspace ran out: gl_error_is_oom() is then set, the message says "out of
 * memory", demb is untouched, and the caller must stop, not skip the step. */
int gl_objective_embedding_loss(const gl_objective *o, const float *emb, const int *y, int B, int C, int K,
                                const double *class_w, double weight, uint64_t key, float *demb, gl_gloss_stats *stats,
                                int *skipped, double *E_out);

/* Kernel width heuristics on the L2-normalised embeddings X (n, C) with labels:
 * dicm = (smallest non-zero distance between documents of different classes) / 3
 *        (falls back to median / 3 when there is none);
 * root = sqrt(median pairwise distance / 3).
 * At most max_points documents (a seeded sample) enter the O(n^2) pass. */
double gl_sigma_heuristic(gl_sigma_mode mode, const float *X, const int *y, size_t n, int C, size_t max_points,
                          uint64_t seed, size_t *used);

/* The sigma at which the median row of G-Loss's T has `target` effective
 * neighbours (1 / sum_j T_ij^2), measured on seeded batches of B documents
 * drawn from the embeddings X (n, C) (the median over batches of each batch's
 * median row), with the kernel and normalisation of p->variant. Bisection on
 * log sigma; the effective neighbours grow monotonically with sigma, from 1
 * (nearest neighbour only) to B - 1 (uniform rows). *achieved receives the
 * value reached. NaN (gl_error set) when target is outside [1, B - 1], n < 2
 * or no memory. */
double gl_sigma_for_neff(const gl_gloss_params *p, const float *X, size_t n, int C, int B, double target, uint64_t seed,
                         double *achieved);
/* The median effective neighbours at sigma on the same seeded batches. */
double gl_neff_at_sigma(const gl_gloss_params *p, double sigma, const float *X, size_t n, int C, int B, uint64_t seed);

/* G-Loss's sigma from the initial embeddings X (n, C) with labels y, for
 * batches of B: knn:K (o->sigma_knn effective neighbours; a K that a batch
 * of B cannot have, K > B - 2, becomes (B - 1) / 2 with knn_reduced = 1), or dicm / root
 * raised to o->sigma_floor effective neighbours where they leave fewer
 * (floored = 1, heuristic_* = what the heuristic gave). -1 with gl_error set
 * on failure. */
typedef struct {
    double sigma, neff;                  /* the sigma used and its effective neighbours */
    int floored;
    double heuristic_sigma, heuristic_neff;
    int knn_reduced;                     /* knn: K was too large for the batch */
    double knn;                          /* knn: the K aimed at */
} gl_sigma_info;
int gl_sigma_resolve(const gl_objective *o, const float *X, const int *y, size_t n, int C, int B, uint64_t seed,
                     gl_sigma_info *info);

#endif
