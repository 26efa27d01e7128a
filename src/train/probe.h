/* probe.h: a linear probe: multinomial logistic regression on frozen
 * embeddings (the classifier of the standalone mode), class-weighted. */
#ifndef GL_PROBE_H
#define GL_PROBE_H

#include <stddef.h>
#include <stdint.h>

/* Fit W (K, C) and b (K) on X (n, C), labels y, by full-batch Adam
 * (lr 1e-2, `iters` iterations, L2 penalty l2 on W) on the weighted
 * cross-entropy. Deterministic. Returns the final training loss (NAN on error). */
double gl_probe_fit(const float *X, const int *y, size_t n, int C, int K, const double *class_w, int iters,
                    double l2, float *W, float *b);

#endif
