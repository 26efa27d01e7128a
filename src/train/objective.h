/* objective.h: what the encoder is trained with. Cross-entropy on the linear
 * head, an embedding loss (G-Loss, SupCon, triplet, cosine-pair), their
 * combination (1 - lambda) CE + lambda E, or the embedding loss alone
 * ("standalone", followed by a linear probe on frozen embeddings). */
#ifndef GL_OBJECTIVE_H
#define GL_OBJECTIVE_H

#include <stddef.h>
#include <stdint.h>

#include "loss/gloss.h"

typedef enum { GL_LOSS_CE = 0, GL_LOSS_GLOSS, GL_LOSS_SUPCON, GL_LOSS_TRIPLET, GL_LOSS_COSINE } gl_loss_kind;
typedef enum { GL_SIGMA_VALUE = 0, GL_SIGMA_DICM, GL_SIGMA_ROOT } gl_sigma_mode;

typedef struct {
    gl_loss_kind kind;
    double lambda;        /* weight of the embedding loss when combined (default 0.8) */
    int standalone;       /* 1: no cross-entropy while training the encoder; linear probe after */
    /* G-Loss */
    gloss_params gloss;   /* sigma, variant, floors */
    double gamma;         /* labelled fraction of each batch (default 0.7) */
    gl_sigma_mode sigma_mode;
    /* baselines */
    double temperature;   /* SupCon (default 0.1) */
    double margin;        /* triplet (default 5) */
    int batch_hard;       /* triplet: 0 batch-all (default), 1 batch-hard */
} gl_objective;

void gl_objective_default(gl_objective *o);
int gl_loss_parse(const char *s, gl_loss_kind *out);
const char *gl_loss_name(gl_loss_kind k);

/* The embedding loss on pooled embeddings emb (B, C) with labels y; adds
 * weight * dE/demb into demb (float, accumulated) and returns E. key seeds
 * the G-Loss labelled subset. *skipped is set for a G-Loss batch without
 * loss. Returns 0 for GL_LOSS_CE. */
double gl_objective_embedding_loss(const gl_objective *o, const float *emb, const int *y, int B, int C, int K,
                                   const double *class_w, double weight, uint64_t key, float *demb,
                                   gloss_stats *stats, int *skipped);

/* Kernel width heuristics on the L2-normalised embeddings X (n, C) with labels:
 * dicm = (smallest non-zero distance between documents of different classes) / 3
 *        (falls back to median / 3 when there is none);
 * root = sqrt(median pairwise distance / 3).
 * At most max_points documents (a seeded sample) enter the O(n^2) pass. */
double gl_sigma_heuristic(gl_sigma_mode mode, const float *X, const int *y, size_t n, int C, size_t max_points,
                          uint64_t seed, size_t *used);

#endif
