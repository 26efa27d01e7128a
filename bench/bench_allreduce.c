/* bench_allreduce.c: the gradient sum of a distributed training step
 * (util/comm.h: fixed-order, double-precision sum over the processes) on
 * buffers of the MiniLM-L6 and BERT-base shapes (docs/distributed.md).
 *
 *   mpirun -np N bench_allreduce [REPS]
 *
 * Per size: the median time of REPS sums (default 5, after one warm-up), the
 * bytes each rank received, and that rate. On one machine this measures
 * shared memory, not a network: the model in docs/distributed.md takes the
 * network's bandwidth instead. Machine-readable lines (rank 0):
 *   ALLREDUCE processes=.. floats=.. ms=.. received_mb=.. gb_per_s=.. */
#include <stdio.h>
#include <stdlib.h>

#include "util/clock.h"
#include "util/comm.h"
#include "util/error.h"
#include "bench_common.h"

int main(int argc, char **argv) {
    if (gl_comm_init(&argc, &argv) != 0) {
        fprintf(stderr, "bench_allreduce: %s\n", gl_error_message());
        return 1;
    }
    const int reps = argc > 1 ? atoi(argv[1]) : 5;
    gl_comm *c = NULL;
    if (gl_comm_open(&c, 0) != 0 || !c) {
        fprintf(stderr, "bench_allreduce: %s\n", c ? gl_error_message() : "run it with mpirun -np 2 (or more)");
        gl_comm_finalize();
        return 1;
    }
    /* the parameters of all-MiniLM-L6-v2 and of BERT-base with a 4-class head */
    const size_t sizes[] = {22713216 + 4 * 384 + 4, 109482240 + 4 * 768 + 4};
    const char *names[] = {"MiniLM-L6", "BERT-base"};
    for (int k = 0; k < 2; k++) {
        const size_t n = sizes[k];
        float *x = malloc(n * sizeof(float));
        double *t = malloc(sizeof(double) * (size_t)(reps > 0 ? reps : 1));
        if (!x || !t) return 1;
        for (size_t i = 0; i < n; i++) x[i] = (float)((i % 97) * 1e-3);
        double s0, b0, s1, b1;
        gl_comm_sum_f32(c, x, n); /* warm-up */
        gl_comm_traffic(c, &s0, &b0);
        for (int r = 0; r < reps; r++) {
            double t0 = gl_now();
            if (gl_comm_sum_f32(c, x, n) != 0) {
                fprintf(stderr, "bench_allreduce: %s\n", gl_error_message());
                return 1;
            }
            t[r] = gl_now() - t0;
        }
        gl_comm_traffic(c, &s1, &b1);
        double med = bench_median(t, reps), mb = (b1 - b0) / reps / 1e6;
        if (gl_comm_rank(c) == 0) {
            printf("%s, %zu floats (%.1f MB), %d processes: %.1f ms per sum, %.1f MB received per rank, %.2f GB/s\n",
                   names[k], n, n * 4e-6, gl_comm_size(c), 1e3 * med, mb, mb / 1e3 / med);
            printf("ALLREDUCE processes=%d floats=%zu ms=%.2f received_mb=%.2f gb_per_s=%.3f\n", gl_comm_size(c), n,
                   1e3 * med, mb, mb / 1e3 / med);
        }
        free(x);
        free(t);
    }
    gl_comm_close(c);
    gl_comm_finalize();
    return 0;
}
