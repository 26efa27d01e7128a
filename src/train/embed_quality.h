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
 * per_class (K) may be NULL (NaN for classes with no samples). O(n K C) time,
 * O(K C + n) memory (per-class sums of the normalised rows).
 * Returns -1 if fewer than 2 classes are present (or, as sklearn, more than n - 1),
 * on a label outside [0, K) or a non-finite value. */
int gl_silhouette_cosine(const float *X, const int *y, size_t n, int C, int K, double *micro, double *macro,
                      double *per_class);
/* The per-sample values s (n), as silhouette_samples; same conditions. */
int gl_silhouette_cosine_samples(const float *X, const int *y, size_t n, int C, int K, double *s);

/* 2-D PCA projection of X (n, C) (centred; top two principal axes, sign fixed so the
 * largest-|loading| coordinate of each axis is positive). out (n, 2). */
int gl_pca_2d(const float *X, size_t n, int C, double *out);

/* Exact t-SNE to 2-D (perplexity, iterations; seeded; initialised from PCA), as
 * van der Maaten 2008 with early exaggeration 12 for the first 250 iterations.
 * O(n^2): callers subsample large sets (the trainer uses at most 2000 points). */
int gl_tsne_2d(const float *X, size_t n, int C, double perplexity, int iterations, uint64_t seed, double *out);
/* Same, also recording in kl (iterations entries, may be NULL) KL(P || Q) of the
 * map at the start of each iteration (un-exaggerated P); entries after an early
 * stop (gradient norm < 1e-7) stay NaN. */
int gl_tsne_2d_kl(const float *X, size_t n, int C, double perplexity, int iterations, uint64_t seed, double *out,
               double *kl);

#endif
