/* attention.c: scaled dot-product self-attention over all heads, with a key
 * padding mask and attention-probability dropout, forward and backward.
 * One (batch, head) pair per task; each pair's GEMMs run through BLAS on
 * strided views of the packed qkv buffer, so nothing is transposed or copied. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/kernels.h"
#include "util/rng.h"

size_t attention_scratch_floats(int T) { return 2 * (size_t)T * (size_t)T; }

/* Dropout of one (T x T) block of attention probabilities (or of their
 * gradient, with the same mask) into dst; dst may equal src. */
static void block_dropout(float *dst, const float *src, int T, float p, uint64_t key, size_t base) {
    float scale = 1.0f / (1.0f - p);
    size_t n = (size_t)T * T;
    for (size_t i = 0; i < n; i++) dst[i] = gl_rng_uniform(key, base + i) < p ? 0.0f : src[i] * scale;
}

void attention_forward(float *ctx, float *probs, const float *qkv, const uint8_t *mask, int B, int T, int C,
                       int NH, float p, uint64_t key, float *scratch) {
    const int HS = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)HS);
    const size_t per_thread = attention_scratch_floats(T);
#pragma omp parallel for schedule(dynamic, 1)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *Q = qkv + (size_t)b * T * C3 + (size_t)h * HS;
        const float *K = Q + C;
        const float *V = Q + 2 * C;
        const uint8_t *m = mask + (size_t)b * T;
        float *P = probs + (size_t)bh * T * T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HS, scale, Q, C3, K, C3, 0.0f, P, T);
        for (int i = 0; i < T; i++) {
            float *row = P + (size_t)i * T;
            float mx = -INFINITY;
            for (int j = 0; j < T; j++)
                if (m[j] && row[j] > mx) mx = row[j];
            float sum = 0.0f;
            for (int j = 0; j < T; j++) {
                float e = m[j] ? expf(row[j] - mx) : 0.0f;
                row[j] = e;
                sum += e;
            }
            float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
            for (int j = 0; j < T; j++) row[j] *= inv;
        }
        const float *Pd = P;
        if (p > 0.0f) {
            float *tmp = scratch + (size_t)omp_get_thread_num() * per_thread;
            block_dropout(tmp, P, T, p, key, (size_t)bh * T * T);
            Pd = tmp;
        }
        float *O = ctx + (size_t)b * T * C + (size_t)h * HS;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, T, 1.0f, Pd, T, V, C3, 0.0f, O, C);
    }
}

void attention_backward(float *dqkv, const float *dctx, const float *qkv, const float *probs, int B, int T,
                        int C, int NH, float p, uint64_t key, float *scratch) {
    const int HS = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)HS);
    const size_t per_thread = attention_scratch_floats(T);
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
            block_dropout(Pd, P, T, p, key, (size_t)bh * T * T);
            Pv = Pd;
        }
        /* dV = Pd^T dO ; dPd = dO V^T */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HS, T, 1.0f, Pv, T, dO, C, 0.0f, dV, C3);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HS, 1.0f, dO, C, V, C3, 0.0f, dP, T);
        if (p > 0.0f) block_dropout(dP, dP, T, p, key, (size_t)bh * T * T);
        /* softmax backward: dS = P * (dP - rowsum(P * dP)) */
        for (int i = 0; i < T; i++) {
            const float *pr = P + (size_t)i * T;
            float *g = dP + (size_t)i * T;
            float dot = 0.0f;
            for (int j = 0; j < T; j++) dot += pr[j] * g[j];
            for (int j = 0; j < T; j++) g[j] = pr[j] * (g[j] - dot);
        }
        /* dQ = scale dS K ; dK = scale dS^T Q */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, T, scale, dP, T, K, C3, 0.0f, dQ, C3);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HS, T, scale, dP, T, Q, C3, 0.0f, dK, C3);
    }
}
