/* linear.c: fully connected layer y = x W^T + b, forward and backward, on BLAS,
 * or, when the caller asks for bf16 and gemm_select.c finds it faster on this
 * CPU, on gl_gemm_bf16 (inputs rounded to bf16, fp32 sums; weights, biases and
 * gradients stay fp32). */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/vecmath.h"

/* bf16 for the encoder's layers; narrow ones (a classification head with a few
 * outputs) stay fp32: their GEMMs are too small to gain, and logits keep full
 * precision; and none where bf16 would be slower than fp32 on this CPU */
static int bf16_for(int bf16, int IC, int OC) {
    return bf16 && IC >= GL_LINEAR_BF16_MIN && OC >= GL_LINEAR_BF16_MIN && gl_linear_bf16_active();
}

void gl_linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int IC, int OC, int bf16) {
    float beta = 0.0f;
    if (b) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, b, sizeof(float) * (size_t)OC);
        beta = 1.0f;
    }
    if (bf16_for(bf16, IC, OC)) gl_gemm_bf16(0, 1, N, OC, IC, inp, IC, w, IC, out, OC, b != NULL);
    else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, inp, IC, w, IC, beta, out, OC);
}

/* db += column sums of dout (N x OC). Rows are summed in chunks of CHUNK
 * (each chunk in row order, streaming whole rows), then the chunks in order:
 * the order depends on N only, not on the thread count. */
#define CHUNK 64

GL_SIMD_CLONES
static void column_sums(float *acc, const float *x, int rows, int cols) {
    for (int o = 0; o < cols; o++) acc[o] = 0.0f;
    for (int n = 0; n < rows; n++) {
        const float *row = x + (size_t)n * cols;
#pragma omp simd
        for (int o = 0; o < cols; o++) acc[o] += row[o];
    }
}

static void bias_grad(float *db, const float *dout, int N, int OC) {
    int nchunks = (N + CHUNK - 1) / CHUNK;
    if (nchunks == 0) return;
    float *part = malloc(sizeof(float) * (size_t)OC * (size_t)nchunks);
    if (!part) abort(); /* nchunks x OC floats, far smaller than dout itself */
#pragma omp parallel for schedule(static)
    for (int k = 0; k < nchunks; k++) {
        int rows = (k + 1) * CHUNK < N ? CHUNK : N - k * CHUNK;
        column_sums(part + (size_t)k * OC, dout + (size_t)k * CHUNK * OC, rows, OC);
    }
#pragma omp parallel for schedule(static)
    for (int o = 0; o < OC; o++) {
        float s = 0.0f;
        for (int k = 0; k < nchunks; k++) s += part[(size_t)k * OC + o];
        db[o] += s;
    }
    free(part);
}

void gl_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                     int N, int IC, int OC, int bf16) {
    if (bf16_for(bf16, IC, OC)) {
        if (dinp) gl_gemm_bf16(0, 0, N, IC, OC, dout, OC, w, IC, dinp, IC, 1);
        if (dw) gl_gemm_bf16(1, 0, OC, IC, N, dout, OC, inp, IC, dw, IC, 1);
    } else {
        if (dinp) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, w, IC, 1.0f, dinp, IC);
        if (dw) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw, IC);
    }
    if (db) bias_grad(db, dout, N, OC);
}
