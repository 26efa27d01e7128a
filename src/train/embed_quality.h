/* embed_quality.h: how good an embedding space is for the classes: silhouette
 * scores with cosine distance, and 2-D maps (PCA, t-SNE) for pictures. */
#ifndef GL_EMBED_QUALITY_H
#define GL_EMBED_QUALITY_H

#include <stddef.h>
#include <stdint.h>

/* Silhouette with cosine distance (1 - cos), as sklearn.metrics.silhouette_samples(X, y, metric="cosine"):
 * s(i) = (b - a) / max(a, b), 0 for samples alone in their class.
 * micro = mean over samples (sklearn's silhouette_score);
 * macro = mean over classes present of the class's mean s(i).
 * per_class (K) may be NULL. n up to ~20000 (O(n^2) time, O(n K) memory).
 * Returns -1 if fewer than 2 classes are present. */
int silhouette_cosine(const float *X, const int *y, size_t n, int C, int K, double *micro, double *macro,
                      double *per_class);

/* 2-D PCA projection of X (n, C) (centred; top two principal axes, sign fixed so the
 * largest-|loading| coordinate of each axis is positive). out (n, 2). */
int pca_2d(const float *X, size_t n, int C, double *out);

/* Exact t-SNE to 2-D (perplexity, iterations; seeded; initialised from PCA), as
 * van der Maaten 2008 with early exaggeration 12 for the first 250 iterations.
 * O(n^2): callers subsample large sets (the trainer uses at most 2000 points). */
int tsne_2d(const float *X, size_t n, int C, double perplexity, int iterations, uint64_t seed, double *out);

#endif
