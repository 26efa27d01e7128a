/* cross_entropy.h: class-weighted softmax cross-entropy on logits, as
 * torch.nn.functional.cross_entropy(logits, y, weight): the weighted sum of
 * -log softmax(z_i)[y_i] divided by the sum of the weights of the targets. */
#ifndef GL_CROSS_ENTROPY_H
#define GL_CROSS_ENTROPY_H

/* logits (B, K); y (B) in [0, K); class_w (K) or NULL for 1. Returns the loss
 * (computed in double) and, if dlogits is not NULL, writes scale * dloss/dlogits. */
double gl_ce_forward_backward(const float *logits, const int *y, const double *class_w, int B, int K, float *dlogits,
                           double scale);

/* Row-wise softmax of logits (B, K) into probs (double accumulation). */
void gl_softmax_rows(float *probs, const float *logits, int B, int K);

#endif
