/* bench_gloss_scaling.c: what G-Loss's graph over a global batch costs as the
 * batch grows, against the encoder's work (docs/distributed.md).
 *
 *   bench_gloss_scaling C ROW_MS [MAX_B] [PER_PROCESS]
 *
 * Times one G-Loss evaluation (paper variant, gamma 0.7: the B x B kernel,
 * the row-normalised transition matrix, the LU solve for the 0.3 B hidden
 * nodes, and the backward with its transposed solve) on B embeddings of width
 * C, for B = 32, 64, ... up to MAX_B (default 4096); each B repeated for at
 * least 0.3 s. ROW_MS is the measured time of the encoder's training step per
 * document at this width (bench_train's step_s / batch, in milliseconds).
 * Every process of a distributed run computes G-Loss over the whole global
 * batch, while the encoder's work is split; so for each B it prints G-Loss's
 * share of a step for one process computing all B documents, and for
 * B / PER_PROCESS processes of PER_PROCESS documents each (default 32), and
 * the first B where each share passes 3%. Machine-readable lines:
 *   GLOSS c=.. b=.. ms=.. share_one=.. share_dist=.. processes=..
 *   THRESHOLD c=.. one_process_b=.. distributed_b=.. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "loss/graph_loss.h"
#include "util/clock.h"
#include "util/rng.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: bench_gloss_scaling C ROW_MS [MAX_B] [PER_PROCESS]\n");
        return 2;
    }
    const int C = atoi(argv[1]), max_b = argc > 3 ? atoi(argv[3]) : 4096, per = argc > 4 ? atoi(argv[4]) : 32;
    const double row_ms = atof(argv[2]);
    const int K = 4;
    if (C < 1 || !(row_ms > 0) || max_b < 32 || per < 1) {
        fprintf(stderr, "bench_gloss_scaling: bad arguments\n");
        return 2;
    }
    printf("G-Loss (paper variant, gamma 0.7) on B embeddings of width %d, %d threads; encoder %.2f ms per document\n",
           C, omp_get_max_threads(), row_ms);
    char dist[32];
    snprintf(dist, sizeof dist, "share, B/%d procs", per);
    printf("%6s %10s %14s %22s\n", "B", "G-Loss ms", "share, 1 proc", dist);
    int thr_one = 0, thr_dist = 0;
    for (int B = 32; B <= max_b; B *= 2) {
        double *h = malloc(sizeof(double) * (size_t)B * C), *dh = malloc(sizeof(double) * (size_t)B * C);
        int *y = malloc(sizeof(int) * (size_t)B);
        uint8_t *lab = malloc((size_t)B);
        if (!h || !dh || !y || !lab) {
            fprintf(stderr, "bench_gloss_scaling: out of memory at B = %d\n", B);
            return 1;
        }
        /* K clusters around random centres, so that propagation has structure to find */
        gl_rng r = {(uint64_t)B};
        double *centre = malloc(sizeof(double) * (size_t)K * C);
        for (int i = 0; i < K * C; i++) centre[i] = 2.0 * gl_rng_uniform(11, (uint64_t)i) - 1.0;
        for (int b = 0; b < B; b++) {
            y[b] = (int)gl_rng_below(&r, K);
            for (int c = 0; c < C; c++)
                h[(size_t)b * C + c] = centre[y[b] * C + c] + 1.5 * (2.0 * gl_rng_uniform(12, (uint64_t)b * C + c) - 1.0);
        }
        free(centre);
        gl_gloss_params p;
        gl_gloss_params_default(&p);
        p.sigma = 0.3;
        int reps = 0, skipped;
        double t0 = gl_now(), t;
        do {
            gl_gloss_pick_labelled(lab, B, 0.7, (uint64_t)reps);
            gl_gloss_loss(&p, h, y, lab, B, C, K, NULL, 1.0, dh, NULL, &skipped);
            reps++;
        } while ((t = gl_now() - t0) < 0.3);
        const double ms = 1e3 * t / reps;
        const double one = ms / (B * row_ms + ms), dist = ms / (per * row_ms + ms);
        printf("%6d %10.3f %13.3f%% %21.3f%%\n", B, ms, 100 * one, 100 * dist);
        printf("GLOSS c=%d b=%d ms=%.4f share_one=%.6f share_dist=%.6f processes=%d\n", C, B, ms, one, dist,
               B / per > 0 ? B / per : 1);
        if (!thr_one && one > 0.03) thr_one = B;
        if (!thr_dist && dist > 0.03) thr_dist = B;
        free(h), free(dh), free(y), free(lab);
    }
    printf("THRESHOLD c=%d one_process_b=%d distributed_b=%d per_process=%d\n", C, thr_one, thr_dist, per);
    return 0;
}
