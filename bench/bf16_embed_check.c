/* bf16_embed_check.c: how far bf16 matrix products move `gloss embed`'s
 * embeddings: every document of a file embedded in fp32 and then with
 * --bf16 through each bf16 kernel this machine has (forced on, whatever the
 * CPU choice of src/kernels/gemm_select.c), the cosine similarity of each
 * document's two embeddings, and the worst and median over the file.
 *
 *   bf16_embed_check MODEL_DIR FILE [max_docs] [max_length]
 *       (make bench-bf16-embed: all-MiniLM-L6-v2 on the R8 test split)
 *
 * Pooling and normalisation as `gloss embed` does by default (the
 * checkpoint's). Prints one line per kernel:
 *   EMBED kernel=... docs=N min_cos=... median_cos=... below_0.999=K worst_doc=I
 * Exit status 1 when any document falls below 0.999. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gloss.h"
#include "kernels/kernels.h"
#include "bench_common.h"

static int embed_all(gloss_model *m, gloss_texts *t, size_t n, int max_length, float *out) {
    gloss_pool pool;
    int norm;
    if (gloss_model_pooling(m, GLOSS_POOL_AUTO, &pool, &norm, NULL) != GLOSS_OK ||
        gloss_embed(m, gloss_texts_text(t), n, pool, max_length, 32, out, NULL) != GLOSS_OK) {
        fprintf(stderr, "bf16_embed_check: %s\n", gloss_last_error());
        return -1;
    }
    if (norm) gloss_normalize_rows(out, n, gloss_model_hidden_size(m));
    return 0;
}

int main(int argc, char **argv) {
    gloss_prefer_fast_blas(argv);
    if (argc < 3) {
        fprintf(stderr, "usage: bf16_embed_check MODEL_DIR FILE [max_docs] [max_length]\n");
        return 2;
    }
    const size_t max_docs = argc > 3 ? (size_t)atol(argv[3]) : 0;
    const int max_length = argc > 4 ? atoi(argv[4]) : 128;
    if (!gl_cpu_has_avx512bf16()) {
        printf("bf16_embed_check: this CPU has no AVX512-BF16: nothing to compare\n");
        return 0;
    }
    gloss_model *m = gloss_model_load(argv[1]);
    gloss_texts *t = m ? gloss_texts_read(argv[2], "text", NULL) : NULL;
    if (!t) {
        fprintf(stderr, "bf16_embed_check: %s\n", gloss_last_error());
        return 1;
    }
    size_t n = gloss_texts_count(t);
    if (max_docs && n > max_docs) n = max_docs;
    const int H = gloss_model_hidden_size(m);
    float *ref = malloc(sizeof(float) * n * H), *emb = malloc(sizeof(float) * n * H);
    double *cos = malloc(sizeof(double) * n);
    if (!ref || !emb || !cos || embed_all(m, t, n, max_length, ref) != 0) return 1;
    printf("CPU: %s; %zu documents of %s, max length %d; fp32: %s\n", bench_cpu_name(), n, argv[2], max_length,
           gloss_model_kernels(m));
    int bad = 0;
    const int kernels[2] = {GL_GEMM_BF16_AVX512, GL_GEMM_BF16_DNNL};
    for (int k = 0; k < 2; k++) {
        if (kernels[k] == GL_GEMM_BF16_DNNL && !gl_dnnl_available()) {
            printf("EMBED kernel=oneDNN skipped: %s\n", gl_dnnl_isa());
            continue;
        }
        gl_gemm_select_force(kernels[k], 1);
        if (gloss_model_set_bf16(m, 1) != GLOSS_OK || embed_all(m, t, n, max_length, emb) != 0) return 1;
        double worst = 2.0;
        size_t worst_i = 0, below = 0;
        for (size_t i = 0; i < n; i++) {
            double d = 0, a = 0, b = 0;
            for (int c = 0; c < H; c++) {
                d += (double)ref[i * H + c] * emb[i * H + c];
                a += (double)ref[i * H + c] * ref[i * H + c];
                b += (double)emb[i * H + c] * emb[i * H + c];
            }
            cos[i] = d / (sqrt(a * b) + 1e-300);
            if (cos[i] < worst) worst = cos[i], worst_i = i;
            below += cos[i] < 0.999;
        }
        double worst_v = worst;
        double med = bench_median(cos, (int)n);
        printf("EMBED kernel=\"%s\" docs=%zu min_cos=%.6f median_cos=%.6f below_0.999=%zu worst_doc=%zu\n",
               gl_gemm_kernel_name((gl_gemm_kernel)kernels[k]), n, worst_v, med, below, worst_i + 1);
        bad |= below > 0;
        gloss_model_set_bf16(m, 0);
        gl_gemm_select_force(-1, -1);
    }
    free(ref), free(emb), free(cos);
    gloss_texts_free(t);
    gloss_model_free(m);
    return bad;
}
