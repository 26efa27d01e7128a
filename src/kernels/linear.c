/* linear.c: fully connected layer y = x W^T + b, forward and backward, on BLAS,
 * or, switched on with gl_linear_set_bf16, on the bf16 GEMM of gemm_bf16.c
 * (inputs rounded to bf16, fp32 sums; weights, biases and gradients stay fp32). */
#include <cblas.h>
#include <string.h>

#include "kernels/kernels.h"

static int use_bf16 = 0;

int gl_linear_set_bf16(int on) {
    if (on && !gl_cpu_has_avx512bf16()) return -1;
    use_bf16 = on != 0;
    return 0;
}

int gl_linear_bf16(void) { return use_bf16; }

/* bf16 for the encoder's layers; narrow ones (a classification head with a few
 * outputs) stay fp32: their GEMMs are too small to gain, and logits keep full precision */
static int bf16_for(int IC, int OC) { return use_bf16 && IC >= GL_LINEAR_BF16_MIN && OC >= GL_LINEAR_BF16_MIN; }

void linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int IC, int OC) {
    float beta = 0.0f;
    if (b) {
#pragma omp parallel for schedule(static)
        for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, b, sizeof(float) * (size_t)OC);
        beta = 1.0f;
    }
    if (bf16_for(IC, OC)) gemm_bf16(0, 1, N, OC, IC, inp, IC, w, IC, out, OC, b != NULL);
    else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, inp, IC, w, IC, beta, out, OC);
}

void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                     int N, int IC, int OC) {
    if (bf16_for(IC, OC)) {
        if (dinp) gemm_bf16(0, 0, N, IC, OC, dout, OC, w, IC, dinp, IC, 1);
        if (dw) gemm_bf16(1, 0, OC, IC, N, dout, OC, inp, IC, dw, IC, 1);
    } else {
        if (dinp) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, w, IC, 1.0f, dinp, IC);
        if (dw) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw, IC);
    }
    if (db) {
        /* column sums; each thread owns a block of columns, rows summed in order */
#pragma omp parallel for schedule(static)
        for (int o0 = 0; o0 < OC; o0 += 64) {
            int o1 = o0 + 64 < OC ? o0 + 64 : OC;
            float acc[64] = {0};
            for (int n = 0; n < N; n++) {
                const float *row = dout + (size_t)n * OC;
                for (int o = o0; o < o1; o++) acc[o - o0] += row[o];
            }
            for (int o = o0; o < o1; o++) db[o] += acc[o - o0];
        }
    }
}
