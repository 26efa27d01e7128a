/* graph_loss.h: G-Loss, the graph-guided loss of ../shared/docs/gloss-method.md.
 * One evaluation on a batch of B pooled embeddings h (B, C):
 *   e_i = h_i / |h_i| ; W_ij = exp(-|e_i - e_j|^2 / (2 sigma^2)), W_ii = 0
 *   T = D^-1 W (paper; computed as the row softmax of -d2 / (2 sigma^2), so
 *   no sigma underflows it) or the authors' normalisation chain (reference)
 *   F_U = (I - T_UU)^-1 T_UL Y_L   (LU solve in float64, never an inverse)
 *   paper:     G = - sum_U w_y log F_U[i, y_i] / sum_U w_y
 *   reference: G = weighted softmax cross-entropy of F_U taken as logits
 * and its exact gradient with respect to h. All arithmetic in float64. */
#ifndef GL_GRAPH_LOSS_H
#define GL_GRAPH_LOSS_H

#include <stdint.h>

typedef enum { GL_GLOSS_VARIANT_PAPER = 0, GL_GLOSS_VARIANT_REFERENCE = 1 } gl_gloss_variant;

typedef struct {
    double sigma;          /* kernel width (> 0) */
    gl_gloss_variant variant;
    double prob_floor;     /* paper: F_U[i, y_i] is clamped to at least this before the log (default 1e-10) */
    double rcond_min;      /* skip the batch when the reciprocal condition number of I - T_UU is below (1e-12) */
} gl_gloss_params;

/* Counters over many calls (the trainer reports them in metrics.json). */
typedef struct {
    long batches;            /* calls */
    long skipped_no_hidden;  /* U empty: no loss */
    long skipped_no_labelled;/* L empty: no loss */
    long skipped_singular;   /* I - T_UU singular or ill-conditioned: no loss */
    long clamped;            /* hidden nodes whose true-class probability hit prob_floor (paper) */
    long low_degree;         /* reference: nodes whose degree underflowed (treated as isolated); paper: never */
    /* diagnostics of the batches that gave a loss */
    long hidden_nodes;       /* hidden nodes with a label in [0, K) */
    long hidden_correct;     /* ... whose argmax of F_U is their true label (label propagation accuracy) */
    double neff_sum;         /* sum over batches of the median over rows of 1 / sum_j T_ij^2 */
    long neff_batches;       /* batches behind neff_sum */
} gl_gloss_stats;

void gl_gloss_params_default(gl_gloss_params *p);

/* Effective neighbours of node i in T: 1 / sum_j T_ij^2 (1 when T's row puts
 * all its weight on one node, B - 1 when it spreads it evenly). Returns their
 * median over the B rows of the T that gl_gloss_loss builds from h (B, C) with
 * p's sigma and variant (rows left at zero by an isolated node are left out;
 * 0 when every row is), or NaN when out of memory. */
double gl_gloss_neff_median(const gl_gloss_params *p, const double *h, int B, int C);

/* labelled[i] = 1 for nodes in L (labels visible), 0 for U (hidden).
 * class_w: K weights or NULL (all 1). Returns G (0 when the batch is skipped,
 * then *skipped = 1 and dh, if given, is zeroed). dh (B, C), if not NULL,
 * receives scale * dG/dh. stats may be NULL. */
double gl_gloss_loss(const gl_gloss_params *p, const double *h, const int *y, const uint8_t *labelled, int B, int C,
                  int K, const double *class_w, double scale, double *dh, gl_gloss_stats *stats, int *skipped);

/* Choose L: round(gamma * B) nodes, a seeded uniform subset; writes labelled[B]. */
void gl_gloss_pick_labelled(uint8_t *labelled, int B, double gamma, uint64_t seed);

/* Testing aid: the propagated label distributions F_U (|U| x K, row-major,
 * hidden nodes in increasing index order) of the graph gl_gloss_loss builds, by
 * the closed-form solve (iters <= 0; same rcond check) or by iters steps of
 * F <- T F with F_L clamped to Y_L, starting from F_U = 0. Returns |U|, or -1
 * (gl_error set) when U or L is empty, the system is singular, or no memory. */
int gl_gloss_propagate(const gl_gloss_params *p, const double *h, const int *y, const uint8_t *labelled, int B, int C,
                    int K, int iters, double *F_U);

#endif
