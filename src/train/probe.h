/* probe.h: a linear probe: class-weighted multinomial logistic regression
 * with an L2 penalty on frozen embeddings (the classifier of the standalone
 * mode), fitted to convergence. */
#ifndef GL_PROBE_H
#define GL_PROBE_H

#include <stddef.h>
#include <stdint.h>

/* Convergence: |gradient| <= GL_PROBE_EPSILON * max(1, |parameters|) */
#define GL_PROBE_EPSILON 1e-7

typedef struct {
    int iterations;   /* L-BFGS iterations run */
    double loss;      /* final objective: weighted mean cross-entropy + l2/2 |W|^2 */
    double grad_norm; /* its gradient's norm at the end */
    int converged;    /* 1: the gradient test was met; 0: stopped by max_iters or by rounding */
    int status;       /* liblbfgs's return code */
} gl_probe_info;

/* Minimise over W (K, C), b (K), on X (n, C) with labels y in [0, K):
 *   sum_i w_i CE(W z_i + b, y_i) / sum_i w_i + l2/2 |W|^2,
 * z the per-channel standardised X (w_i = class_w[y_i], 1 without class_w),
 * by L-BFGS from zero, at most max_iters iterations; then W, b are mapped
 * back to act on raw X. Deterministic. Returns 0, or -1 with the error set. */
int gl_probe_fit(const float *X, const int *y, size_t n, int C, int K, const double *class_w, int max_iters,
                 double l2, float *W, float *b, gl_probe_info *info);

#endif
