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
void gl_linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int IC, int OC, int bf16);
/* dinp[N, IC] += dout . w ; dw[OC, IC] += dout^T . inp ; db[OC] += colsum(dout).
 * dinp, dw, db may each be NULL to skip. */
void gl_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                     int N, int IC, int OC, int bf16);
/* bf16 (mixed precision; the caller's choice, e.g. gl_bert.bf16): non-zero
 * runs the matrix products through gl_gemm_bf16 (inputs rounded to bf16, fp32
 * sums) for layers with at least GL_LINEAR_BF16_MIN inputs and outputs
 * (narrower ones, such as a classification head, stay fp32), when
 * gl_linear_bf16_active() (else they stay on fp32 sgemm: bf16 is never used
 * where it would be slower); weights, biases and gradients stay fp32. */
#define GL_LINEAR_BF16_MIN 32

/* bf16 matrix multiply, for mixed-precision training and inference:
 * C[M, N] = op(A)[M, K] . op(B)[K, N]  (accumulate = 0), or C += ... (accumulate = 1).
 * Row-major; op(A) = A stored [M, K] with row stride lda, or (transa) A^T with A
 * stored [K, M]; the same for B with transb and ldb; ldc the row stride of C.
 * A and B are fp32, rounded to bf16 (nearest even, as vcvtne2ps2bf16); the
 * products are summed in fp32, within (K + 2) 2^-24 (|C0| + sum |a b|) of the
 * exact product of the rounded inputs. Kernels (gemm_select.c picks one):
 *   gl_gemm_bf16_dnnl    oneDNN matmul (gemm_dnnl.c): AMX-BF16 or AVX512-BF16;
 *                        the same bits run after run at one thread count;
 *                        returns -1, C untouched, when oneDNN is not built in,
 *                        the CPU has no AVX512-BF16 or no primitive fits
 *   gl_gemm_bf16_avx512  ours (gemm_bf16.c), the same bits for any thread
 *                        count; only when gl_cpu_has_avx512bf16()
 *   gl_gemm_bf16_scalar  plain C, any CPU (slow; the reference of the others)
 * gl_gemm_bf16 runs gl_gemm_bf16_kernel()'s, falling back down that list. */
int gl_cpu_has_avx512bf16(void);
int gl_cpu_has_amx_bf16(void); /* CPUID's AMX-BF16 and AMX-TILE (whether the OS allows them aside) */
void gl_gemm_bf16(int transa, int transb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
               float *C, int ldc, int accumulate);
int gl_gemm_bf16_dnnl(int transa, int transb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float *C, int ldc, int accumulate);
/* oneDNN built in, its CPU engine made, and the CPU has AVX512-BF16 */
int gl_dnnl_available(void);
/* e.g. "oneDNN 2.6.3, AMX-BF16" or "oneDNN 2.6.3, AVX512-BF16" (what it
 * dispatches bf16 matmuls to), or why it is not available */
const char *gl_dnnl_isa(void);
int gl_dnnl_uses_amx(void);

/* The choice (gemm_select.c), made once per process from the CPU. */
typedef enum { GL_GEMM_BF16_SCALAR = 0, GL_GEMM_BF16_AVX512 = 1, GL_GEMM_BF16_DNNL = 2 } gl_gemm_kernel;
gl_gemm_kernel gl_gemm_bf16_kernel(void); /* what gl_gemm_bf16 runs */
const char *gl_gemm_kernel_name(gl_gemm_kernel k);
/* 1 when linear layers asked for bf16 use it: AMX through oneDNN, or
 * AVX512-BF16 dot products measured at least 1.3x the flops of fp32 FMAs on
 * this CPU; 0 without AVX512-BF16 or where bf16 would be slower than fp32 */
int gl_linear_bf16_active(void);
/* the probe's ratio (bf16 dot-product flops / fp32 FMA flops, one core); -1
 * when it did not run (no AVX512-BF16, or AMX decided) */
double gl_bf16_probe_ratio(void);
/* One line naming the kernels of a linear layer with that bf16 flag, and for
 * bf16 why it is or is not used, e.g. "fp32 OpenBLAS sgemm (SkylakeX); bf16
 * not used: no AMX; this CPU's AVX512-BF16 dot products do 0.48x the flops
 * of its fp32 FMAs, too few to beat fp32". Returns snprintf's count. */
int gl_linear_kernels(int bf16, char *buf, size_t cap);
/* Benchmarks and tests only: kernel >= 0 overrides gl_gemm_bf16_kernel(),
 * active >= 0 overrides gl_linear_bf16_active(); -1 restores the choice.
 * Process-wide: not while other threads run products. */
void gl_gemm_select_force(int kernel, int active);
void gl_gemm_bf16_avx512(int transa, int transb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float *C, int ldc, int accumulate);
void gl_gemm_bf16_scalar(int transa, int transb, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float *C, int ldc, int accumulate);
/* x rounded to the nearest bf16 (ties to even; subnormals to signed zero), as a float */
float gl_bf16_round(float x);

/* out = (inp - mean) * rstd * w + b, per row of C; mean/rstd (N) saved for backward. */
void gl_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       int N, int C, float eps);
void gl_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C);

/* GELU with the exact erf form: 0.5 x (1 + erf(x / sqrt 2)), erf from
 * kernels/vecmath.h (within 7.6e-8 of the true erf); vectorised. */
void gl_gelu_forward(float *out, const float *inp, size_t n);
/* dinp = gelu'(inp) * dout   (overwrites dinp; may alias dout) */
void gl_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);

/* Inverted dropout with a counter-based mask: x[i] = keep(i) ? x[i] / (1 - p) : 0.
 * The same (key, p) in backward applies the same mask to the gradient. */
void gl_dropout_apply(float *x, size_t n, float p, uint64_t key);
/* The same with element i using draw base + i: the part of a larger array
 * that starts at element base gets that array's mask (data-parallel training
 * computes rows of one batch in several processes). */
void gl_dropout_apply_from(float *x, size_t n, float p, uint64_t key, uint64_t base);
/* The same on one block, out of place (dst may equal src), for callers that
 * parallelise themselves: element i uses draw base + i; scale = 1 / (1 - p). */
void gl_dropout_block(float *dst, const float *src, size_t n, float p, float scale, uint64_t key, uint64_t base);

/* Multi-head self-attention core on packed qkv[N, 3C] (q | k | v, heads
 * contiguous within each). mask[B, T]: 1 = real token, 0 = padding (masked key).
 * probs[B, NH, T, T] receives the softmax (before dropout); ctx[N, C] the output.
 * Attention-probability dropout uses p and key (p = 0: none), drawn as for
 * sequences b0.. of a larger batch (b0 = 0: a batch of its own).
 * scratch: at least gl_attention_scratch_floats(T) floats per OpenMP thread. */
size_t gl_attention_scratch_floats(int T);
void gl_attention_forward(float *ctx, float *probs, const float *qkv, const uint8_t *mask, int B, int T, int C,
                       int NH, float p, uint64_t key, int b0, float *scratch);
/* dqkv[N, 3C] is OVERWRITTEN. */
void gl_attention_backward(float *dqkv, const float *dctx, const float *qkv, const float *probs, int B, int T,
                        int C, int NH, float p, uint64_t key, int b0, float *scratch);

#endif
