/* bench_gloss_cost.c: what share of a training step G-Loss takes.
 * Times, on the default model (all-MiniLM-L6-v2) at batch 128 and sequence
 * length 128: one full training step (encoder forward, mean pooling, backward,
 * AdamW) and, separately, the G-Loss graph + label propagation + backward on
 * the pooled embeddings of that batch (both variants). Prints milliseconds and
 * the G-Loss share. usage: bench_gloss_cost [MODEL_DIR] [steps] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loss/graph_loss.h"
#include "model/bert.h"
#include "train/optim.h"
#include "util/error.h"
#include "util/clock.h"
#include "util/rng.h"

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "models/all-MiniLM-L6-v2";
    int steps = argc > 2 ? atoi(argv[2]) : 2;
    const int B = 128, T = 128;
    gl_bert m;
    if (gl_bert_load(&m, dir) != 0 || gl_bert_alloc_grads(&m) != 0) {
        fprintf(stderr, "%s\n", gl_error_message());
        return 1;
    }
    const int C = m.cfg.hidden_size, V = m.cfg.vocab_size;
    gl_bert_acts a;
    if (gl_bert_acts_init(&a, &m, B, T) != 0) return 1;
    gl_adamw opt;
    if (gl_adamw_init(&opt, m.size, 2e-5, 0.01) != 0) return 1;
    int32_t *ids = malloc(sizeof(int32_t) * B * T);
    uint8_t *mask = malloc((size_t)B * T);
    int *y = malloc(sizeof(int) * B);
    float *pooled = malloc(sizeof(float) * B * C), *dpooled = malloc(sizeof(float) * B * C);
    float *dH = malloc(sizeof(float) * (size_t)B * T * C);
    double *h = malloc(sizeof(double) * B * C), *dh = malloc(sizeof(double) * B * C);
    uint8_t *lab = malloc(B);
    gl_rng r = {1};
    for (int i = 0; i < B * T; i++) {
        ids[i] = 1000 + (int)gl_rng_below(&r, (uint64_t)(V - 1000));
        mask[i] = 1;
    }
    for (int b = 0; b < B; b++) {
        ids[b * T] = 101;
        ids[b * T + T - 1] = 102;
        y[b] = b % 4;
    }
    double step_ms = 0;
    for (int s = 0; s < steps; s++) {
        double t0 = gl_now();
        const float *H = gl_bert_forward(&m, &a, ids, mask, B, T, 1, (uint64_t)s);
        gl_pool_forward(&m, GL_POOL_MEAN, pooled, H, mask, B, T);
        for (int i = 0; i < B * C; i++) dpooled[i] = 1e-3f * (float)(i % 7);
        memset(dH, 0, sizeof(float) * (size_t)B * T * C);
        gl_bert_zero_grads(&m);
        gl_pool_backward(&m, GL_POOL_MEAN, dH, dpooled, pooled, H, mask, B, T);
        gl_bert_backward(&m, &a, dH);
        gl_clip_grad_norm(m.grads, m.size, 1.0);
        gl_adamw_step(&opt, m.params, m.grads, NULL);
        double ms = 1e3 * (gl_now() - t0);
        printf("training step %d (B=%d, T=%d): %.0f ms\n", s + 1, B, T, ms);
        if (s > 0 || steps == 1) step_ms += ms;
    }
    step_ms /= steps > 1 ? steps - 1 : 1;
    for (int i = 0; i < B * C; i++) h[i] = pooled[i];
    for (int v = 0; v < 2; v++) {
        gl_gloss_params p;
        gl_gloss_params_default(&p);
        p.sigma = 0.3;
        p.variant = v ? GL_GLOSS_VARIANT_REFERENCE : GL_GLOSS_VARIANT_PAPER;
        const int reps = 50;
        double t0 = gl_now();
        for (int k = 0; k < reps; k++) {
            int skipped;
            gl_gloss_pick_labelled(lab, B, 0.7, (uint64_t)k);
            gl_gloss_loss(&p, h, y, lab, B, C, 4, NULL, 1.0, dh, NULL, &skipped);
        }
        double ms = 1e3 * (gl_now() - t0) / reps;
        printf("G-Loss (%s) graph + propagation + backward, B=%d C=%d: %.3f ms = %.3f%% of a training step\n",
               v ? "reference" : "paper", B, C, ms, 100.0 * ms / step_ms);
    }
    return 0;
}
