/* cross_entropy.c: weighted softmax cross-entropy, forward and backward. */
#include "loss/cross_entropy.h"

#include <math.h>
#include <stddef.h>

double gl_ce_forward_backward(const float *logits, const int *y, const double *class_w, int B, int K, float *dlogits,
                           double scale) {
    double wsum = 0.0, loss = 0.0;
    for (int b = 0; b < B; b++) wsum += class_w ? class_w[y[b]] : 1.0;
    if (wsum <= 0.0) wsum = 1.0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * K;
        double mx = z[0];
        for (int k = 1; k < K; k++)
            if (z[k] > mx) mx = z[k];
        double se = 0.0;
        for (int k = 0; k < K; k++) se += exp((double)z[k] - mx);
        double lse = mx + log(se);
        double w = class_w ? class_w[y[b]] : 1.0;
        loss += w * (lse - (double)z[y[b]]);
        if (dlogits) {
            double f = scale * w / wsum;
            for (int k = 0; k < K; k++) {
                double p = exp((double)z[k] - lse);
                dlogits[(size_t)b * K + k] = (float)(f * (p - (k == y[b] ? 1.0 : 0.0)));
            }
        }
    }
    return loss / wsum;
}

void gl_softmax_rows(float *probs, const float *logits, int B, int K) {
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * K;
        double mx = z[0], se = 0.0;
        for (int k = 1; k < K; k++)
            if (z[k] > mx) mx = z[k];
        for (int k = 0; k < K; k++) se += exp((double)z[k] - mx);
        for (int k = 0; k < K; k++) probs[(size_t)b * K + k] = (float)(exp((double)z[k] - mx) / se);
    }
}
