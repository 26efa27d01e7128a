/* kernels.h: the CPU kernels of the encoder, each forward next to its backward.
 *
 * Shape convention: B batch, T tokens, C channels, NH heads, HS = C / NH,
 * I intermediate size, N = B * T rows. Matrices are row-major. Linear weights
 * use the Hugging Face layout (out_features, in_features).
 * Backward functions ACCUMULATE (+=) into parameter gradients and into dinp,
 * unless stated otherwise; callers zero what must start at zero. */
#ifndef GL_KERNELS_H
#define GL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* out[N, OC] = inp[N, IC] . w[OC, IC]^T + b[OC]   (b may be NULL) */
void linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int IC, int OC);
/* dinp[N, IC] += dout . w ; dw[OC, IC] += dout^T . inp ; db[OC] += colsum(dout).
 * dinp, dw, db may each be NULL to skip. */
void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                     int N, int IC, int OC);

/* out = (inp - mean) * rstd * w + b, per row of C; mean/rstd (N) saved for backward. */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       int N, int C, float eps);
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C);

/* GELU with the exact erf form: 0.5 x (1 + erf(x / sqrt 2)), erf from
 * kernels/vecmath.h (within 7.6e-8 of the true erf); vectorised. */
void gelu_forward(float *out, const float *inp, size_t n);
/* dinp = gelu'(inp) * dout   (overwrites dinp; may alias dout) */
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);

/* Inverted dropout with a counter-based mask: x[i] = keep(i) ? x[i] / (1 - p) : 0.
 * The same (key, p) in backward applies the same mask to the gradient. */
void dropout_apply(float *x, size_t n, float p, uint64_t key);
/* The same on one block, out of place (dst may equal src), for callers that
 * parallelise themselves: element i uses draw base + i; scale = 1 / (1 - p). */
void dropout_block(float *dst, const float *src, size_t n, float p, float scale, uint64_t key, uint64_t base);

/* Multi-head self-attention core on packed qkv[N, 3C] (q | k | v, heads
 * contiguous within each). mask[B, T]: 1 = real token, 0 = padding (masked key).
 * probs[B, NH, T, T] receives the softmax (before dropout); ctx[N, C] the output.
 * Attention-probability dropout uses p and key (p = 0: none).
 * scratch: at least attention_scratch_floats(T) floats per OpenMP thread. */
size_t attention_scratch_floats(int T);
void attention_forward(float *ctx, float *probs, const float *qkv, const uint8_t *mask, int B, int T, int C,
                       int NH, float p, uint64_t key, float *scratch);
/* dqkv[N, 3C] is OVERWRITTEN. */
void attention_backward(float *dqkv, const float *dctx, const float *qkv, const float *probs, int B, int T,
                        int C, int NH, float p, uint64_t key, float *scratch);

#endif
