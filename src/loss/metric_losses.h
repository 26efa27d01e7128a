/* metric_losses.h: the embedding losses G-Loss is compared against, each with
 * its exact gradient, in float64 on a batch of B embeddings h (B, C) with
 * labels y (B). All return the loss and, if dh is not NULL, write
 * scale * dLoss/dh into dh (overwriting). A batch where the loss is undefined
 * (no positive pair, no valid triplet) returns 0 with a zero gradient. When
 * their workspace cannot be allocated they return NaN with an out-of-memory
 * error set (gl_error_oom, util/error.h), which tells it from a NaN loss. */
#ifndef GL_METRIC_LOSSES_H
#define GL_METRIC_LOSSES_H

/* Supervised contrastive loss (Khosla et al. 2020, "L_out") on z = h / |h|:
 *   L = mean over anchors i with >= 1 positive of
 *       -1/|P(i)| sum_{p in P(i)} log( exp(z_i.z_p / t) / sum_{a != i} exp(z_i.z_a / t) )
 * P(i) = other samples of the class of i. */
double gl_supcon_loss(const double *h, const int *y, int B, int C, double temperature, double scale, double *dh);

/* Triplet loss on Euclidean distances of the raw embeddings,
 * d_ij = sqrt(|h_i - h_j|^2 + 1e-12) (smooth at d = 0), margin m.
 * batch_all (sentence-transformers BatchAllTripletLoss): mean of
 *   relu(d_ap - d_an + m) over the valid triplets (a, p, n) (a != p same class,
 *   n other class) whose value is > 0 (0 if none).
 * batch_hard (BatchHardTripletLoss): mean over anchors with a positive and a
 *   negative of relu(max_p d_ap - min_n d_an + m). */
double gl_triplet_loss(const double *h, const int *y, int B, int C, double margin, int batch_hard, double scale,
                    double *dh);

/* Pairwise cosine loss: mean over pairs i < j of (cos(h_i, h_j) - t_ij)^2,
 * t_ij = 1 if y_i == y_j else 0. */
double gl_cosine_pair_loss(const double *h, const int *y, int B, int C, double scale, double *dh);

#endif
