/* attention.c: scaled dot-product self-attention over all heads, with a key
 * padding mask and attention-probability dropout, forward and backward.
 * One (batch, head) pair per task; each pair's GEMMs run through BLAS on
 * strided views of the packed qkv buffer, so nothing is transposed or copied.
 * The softmax (exp of kernels/vecmath.h), its backward and the dropout are
 * vectorised loops; their row sums run in 16 fixed lanes, so they give the
 * same bits whatever the vector width. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/vecmath.h"

size_t gl_attention_scratch_floats(int T) { return 2 * (size_t)T * (size_t)T; }

/* Row reductions in 16 lanes: element j goes to lane j % 16 (full groups of 16
 * first, then the tail), and the lanes are combined in a fixed order, so the
 * result has the same bits whatever the vector width. */
enum { LANES = 16 };

/* max over the unmasked entries (m[j] = 1); -inf when there is none */
static inline __attribute__((always_inline)) float masked_max(const float *x, const uint8_t *m, int n) {
    float acc[LANES];
    for (int k = 0; k < LANES; k++) acc[k] = -INFINITY;
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++) {
            float v = m[j + k] ? x[j + k] : -INFINITY;
            acc[k] = v > acc[k] ? v : acc[k];
        }
    for (int k = 0; j + k < n; k++) {
        float v = m[j + k] ? x[j + k] : -INFINITY;
        acc[k] = v > acc[k] ? v : acc[k];
    }
    float mx = acc[0];
    for (int k = 1; k < LANES; k++) mx = acc[k] > mx ? acc[k] : mx;
    return mx;
}

/* the lanes added pairwise */
static inline __attribute__((always_inline)) float lanes_total(float *acc) {
    for (int w = LANES / 2; w > 0; w /= 2)
        for (int k = 0; k < w; k++) acc[k] += acc[k + w];
    return acc[0];
}

static inline __attribute__((always_inline)) float lane_sum(const float *x, int n) {
    float acc[LANES] = {0};
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++) acc[k] += x[j + k];
    for (int k = 0; j + k < n; k++) acc[k] += x[j + k];
    return lanes_total(acc);
}

static inline __attribute__((always_inline)) float lane_dot(const float *x, const float *y, int n) {
    float acc[LANES] = {0};
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int k = 0; k < LANES; k++) acc[k] += x[j + k] * y[j + k];
    for (int k = 0; j + k < n; k++) acc[k] += x[j + k] * y[j + k];
    return lanes_total(acc);
}

/* Row-wise softmax of the T x T scores S in place over the keys j with m[j] = 1
 * (masked keys get probability 0; a row with no key left is all 0). */
GL_SIMD_CLONES static void softmax_masked(float *S, const uint8_t *m, int T) {
    for (int i = 0; i < T; i++) {
        float *row = S + (size_t)i * T;
        float mx = masked_max(row, m, T);
#pragma omp simd
        for (int j = 0; j < T; j++) row[j] = m[j] ? gl_expf_v(row[j] - mx) : 0.0f;
        float sum = lane_sum(row, T);
        float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
#pragma omp simd
        for (int j = 0; j < T; j++) row[j] *= inv;
    }
}

/* Softmax backward in place on the T x T gradient G: G = P * (G - rowsum(P * G)). */
GL_SIMD_CLONES static void softmax_backward(float *G, const float *P, int T) {
    for (int i = 0; i < T; i++) {
        const float *pr = P + (size_t)i * T;
        float *g = G + (size_t)i * T;
        float dot = lane_dot(pr, g, T);
#pragma omp simd
        for (int j = 0; j < T; j++) g[j] = pr[j] * (g[j] - dot);
    }
}

/* Dropout of one (T x T) block of attention probabilities (or of their
 * gradient, with the same mask) into dst; dst may equal src. */
static void block_dropout(float *dst, const float *src, int T, float p, uint64_t key, size_t base) {
    gl_dropout_block(dst, src, (size_t)T * T, p, 1.0f / (1.0f - p), key, base);
}

void gl_attention_forward(float *ctx, float *probs, const float *qkv, const uint8_t *mask, int B, int T, int C,
                       int NH, float p, uint64_t key, int b0, float *scratch) {
    const int HS = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)HS);
    const size_t per_thread = gl_attention_scratch_floats(T);
#pragma omp parallel for schedule(dynamic, 1)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *Q = qkv + (size_t)b * T * C3 + (size_t)h * HS;
        const float *K = Q + C;
        const float *V = Q + 2 * C;
        const uint8_t *m = mask + (size_t)b * T;
        float *P = probs + (size_t)bh * T * T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HS, scale, Q, C3, K, C3, 0.0f, P, T);
        softmax_masked(P, m, T);
        const float *Pd = P;
        if (p > 0.0f) {
            float *tmp = scratch + (size_t)omp_get_thread_num() * per_thread;
            block_dropout(tmp, P, T, p, key, ((size_t)b0 * NH + (size_t)bh) * T * T);
            Pd = tmp;
        }
        float *O = ctx + (size_t)b * T * C + (size_t)h * HS;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, T, 1.0f, Pd, T, V, C3, 0.0f, O, C);
    }
}

void gl_attention_backward(float *dqkv, const float *dctx, const float *qkv, const float *probs, int B, int T,
                        int C, int NH, float p, uint64_t key, int b0, float *scratch) {
    const int HS = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)HS);
    const size_t per_thread = gl_attention_scratch_floats(T);
#pragma omp parallel for schedule(dynamic, 1)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        size_t qoff = (size_t)b * T * C3 + (size_t)h * HS;
        const float *Q = qkv + qoff, *K = Q + C, *V = Q + 2 * C;
        float *dQ = dqkv + qoff, *dK = dQ + C, *dV = dQ + 2 * C;
        const float *dO = dctx + (size_t)b * T * C + (size_t)h * HS;
        const float *P = probs + (size_t)bh * T * T;
        float *dP = scratch + (size_t)omp_get_thread_num() * per_thread;
        float *Pd = dP + (size_t)T * T;
        const float *Pv = P;
        if (p > 0.0f) {
            block_dropout(Pd, P, T, p, key, ((size_t)b0 * NH + (size_t)bh) * T * T);
            Pv = Pd;
        }
        /* dV = Pd^T dO ; dPd = dO V^T */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HS, T, 1.0f, Pv, T, dO, C, 0.0f, dV, C3);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HS, 1.0f, dO, C, V, C3, 0.0f, dP, T);
        if (p > 0.0f) block_dropout(dP, dP, T, p, key, ((size_t)b0 * NH + (size_t)bh) * T * T);
        /* softmax backward: dS = P * (dP - rowsum(P * dP)) */
        softmax_backward(dP, P, T);
        /* dQ = scale dS K ; dK = scale dS^T Q */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, T, scale, dP, T, K, C3, 0.0f, dQ, C3);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HS, T, scale, dP, T, Q, C3, 0.0f, dK, C3);
    }
}
