/* activation.c: GELU (erf form) and inverted dropout, forward and backward.
 *
 * Each kernel is an OpenMP loop over blocks of elements; a block is handled by
 * a leaf function compiled once per instruction set (GL_SIMD_CLONES) whose
 * loop the compiler vectorises. Element i's result depends only on element i,
 * so it is the same whatever the thread count or block boundaries. */
#include <stdint.h>

#include "kernels/kernels.h"
#include "kernels/vecmath.h"
#include "util/rng.h"

enum { BLOCK = 8192 }; /* elements per OpenMP work item (32 KiB of floats) */

#define SQRT1_2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

GL_SIMD_CLONES static void gelu_forward_block(float *out, const float *inp, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + gl_erff_v(x * SQRT1_2));
    }
}

GL_SIMD_CLONES static void gelu_backward_block(float *dinp, const float *inp, const float *dout, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float cdf = 0.5f * (1.0f + gl_erff_v(x * SQRT1_2));
        float pdf = gl_expf_v(-0.5f * x * x) * INV_SQRT_2PI;
        dinp[i] = dout[i] * (cdf + x * pdf);
    }
}

void gl_gelu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < n; b += BLOCK) gelu_forward_block(out + b, inp + b, n - b < BLOCK ? n - b : BLOCK);
}

void gl_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < n; b += BLOCK)
        gelu_backward_block(dinp + b, inp + b, dout + b, n - b < BLOCK ? n - b : BLOCK);
}

/* x[i] = keep(base + i) ? x[i] * scale : 0, keep as in gl_dropout_apply. gl_rng_uniform's
 * value with the 24-bit integer converted through int32 (exact either way), which
 * vectorises without AVX-512DQ's 64-bit conversions: the same mask bit for bit. */
GL_SIMD_CLONES void gl_dropout_block(float *dst, const float *src, size_t n, float p, float scale, uint64_t key,
                                  uint64_t base) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        int32_t bits = (int32_t)(gl_splitmix64(key ^ ((base + i) * 0x9E3779B97F4A7C15ull)) >> 40);
        float u = (float)bits * (1.0f / 16777216.0f);
        dst[i] = u < p ? 0.0f : src[i] * scale;
    }
}

/* Forward and backward are the same operation: the mask depends only on (key, i). */
void gl_dropout_apply(float *x, size_t n, float p, uint64_t key) { gl_dropout_apply_from(x, n, p, key, 0); }

void gl_dropout_apply_from(float *x, size_t n, float p, uint64_t key, uint64_t base) {
    if (p <= 0.0f) return;
    float scale = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < n; b += BLOCK)
        gl_dropout_block(x + b, x + b, n - b < BLOCK ? n - b : BLOCK, p, scale, key, base + b);
}
