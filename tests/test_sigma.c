/* test_sigma.c: G-Loss's kernel width from effective neighbours (knn:K), the
 * floor on the dicm and root heuristics, and the default weighting of the
 * objective. The effective neighbours of one T are checked against PyTorch in
 * test_gloss.c; here: that the bisection hits its target, that the count
 * grows with sigma between its limits 1 and B - 1, and the floor. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "train/objective.h"
#include "util/error.h"
#include "util/rng.h"

/* n documents in K clusters of C dimensions (seeded) */
static double unif(gl_rng *r) { return (double)(gl_rng_next(r) >> 11) * 0x1.0p-53; }

static float *clusters(size_t n, int C, int K, int *y, uint64_t seed) {
    float *X = malloc(sizeof(float) * n * (size_t)C);
    float *centre = malloc(sizeof(float) * (size_t)K * C);
    gl_rng r = {seed};
    for (int i = 0; i < K * C; i++) centre[i] = (float)(unif(&r) * 2 - 1);
    for (size_t i = 0; i < n; i++) {
        y[i] = (int)(i % (size_t)K);
        for (int c = 0; c < C; c++) X[i * C + c] = centre[y[i] * C + c] + 0.6f * (float)(unif(&r) - 0.5);
    }
    free(centre);
    return X;
}

static void test_knn(void) {
    const size_t n = 300;
    const int C = 16, K = 3, B = 32;
    int y[300];
    float *X = clusters(n, C, K, y, 7);
    for (int v = 0; v < 2; v++) {
        gl_gloss_params p;
        gl_gloss_params_default(&p);
        p.variant = v ? GL_GLOSS_VARIANT_REFERENCE : GL_GLOSS_VARIANT_PAPER;
        const double targets[] = {1.5, 2.0, 5.0, 8.0, 20.0};
        for (size_t k = 0; k < sizeof targets / sizeof *targets; k++) {
            double got = NAN, s = gl_sigma_for_neff(&p, X, n, C, B, targets[k], 42, &got);
            CHECK_MSG(s > 0 && fabs(got - targets[k]) <= 1e-3 * targets[k], "variant %d target %g: sigma %g gives %g",
                      v, targets[k], s, got);
            CHECK(gl_neff_at_sigma(&p, s, X, n, C, B, 42) == got); /* the same seeded batches */
            printf("variant %d: %5.1f effective neighbours at sigma %.5f\n", v, got, s);
        }
        /* monotone in sigma, from 1 (nearest neighbour) to B - 1 (uniform rows) */
        double prev = 0;
        for (double s = 1e-3; s < 1e3; s *= 1.5) {
            double e = gl_neff_at_sigma(&p, s, X, n, C, B, 42);
            CHECK_MSG(e >= prev - 1e-9, "variant %d: %g effective neighbours at sigma %g after %g", v, e, s, prev);
            prev = e;
        }
        CHECK_NEAR(gl_neff_at_sigma(&p, 1e-3, X, n, C, B, 42), 1.0, 1e-6);
        CHECK_NEAR(gl_neff_at_sigma(&p, 1e4, X, n, C, B, 42), B - 1, 1e-3);
        /* targets a batch cannot have */
        gl_error_clear();
        CHECK(isnan(gl_sigma_for_neff(&p, X, n, C, B, 0.5, 42, NULL)));
        CHECK(strstr(gl_error_message(), "effective neighbours") != NULL);
        CHECK(isnan(gl_sigma_for_neff(&p, X, n, C, B, B, 42, NULL)));
        CHECK(isnan(gl_sigma_for_neff(&p, X, 1, C, B, 2, 42, NULL)));
        /* fewer documents than a batch: batches of n */
        double got;
        CHECK(gl_sigma_for_neff(&p, X, 10, C, B, 4.0, 42, &got) > 0 && fabs(got - 4.0) < 4e-3);
    }
    free(X);
}

static void test_resolve(void) {
    const size_t n = 200;
    const int C = 8, K = 2, B = 40;
    int y[200];
    float *X = clusters(n, C, K, y, 11);
    gl_objective o;
    gl_objective_default(&o);
    o.kind = GL_LOSS_GLOSS;
    gl_sigma_info si;
    /* the default: knn */
    CHECK(o.sigma_mode == GL_SIGMA_KNN && o.sigma_knn == GL_GLOSS_KNN_DEFAULT);
    CHECK(gl_sigma_resolve(&o, X, y, n, C, B, 42, &si) == 0);
    CHECK(!si.floored && fabs(si.neff - GL_GLOSS_KNN_DEFAULT) < 1e-2);
    /* a K the batch cannot have: half the other nodes of a batch */
    o.sigma_knn = 40;
    CHECK(gl_sigma_resolve(&o, X, y, n, C, B, 42, &si) == 0);
    CHECK(si.knn_reduced && si.knn == 0.5 * (B - 1) && fabs(si.neff - si.knn) < 1e-2);
    o.sigma_knn = B - 2;
    CHECK(gl_sigma_resolve(&o, X, y, n, C, B, 42, &si) == 0 && !si.knn_reduced && fabs(si.neff - (B - 2)) < 2e-2);
    o.sigma_knn = GL_GLOSS_KNN_DEFAULT;
    /* dicm where two documents of different classes nearly coincide: its
     * sigma (their distance / 3) leaves about one neighbour; the floor raises it */
    memcpy(X + C, X, sizeof(float) * C);
    X[C] += 1e-4f;
    CHECK(y[0] != y[1]);
    o.sigma_mode = GL_SIGMA_DICM;
    CHECK(gl_sigma_resolve(&o, X, y, n, C, B, 42, &si) == 0);
    printf("dicm: sigma %.3g (%.3f neighbours) floored to %.4f (%.3f)\n", si.heuristic_sigma, si.heuristic_neff,
           si.sigma, si.neff);
    CHECK(si.floored && si.heuristic_neff < GL_SIGMA_FLOOR_NEFF && si.heuristic_sigma < 1e-3);
    CHECK(fabs(si.neff - GL_SIGMA_FLOOR_NEFF) < 1e-2 && si.sigma > si.heuristic_sigma);
    /* root on the same data is wide: no floor */
    o.sigma_mode = GL_SIGMA_ROOT;
    CHECK(gl_sigma_resolve(&o, X, y, n, C, B, 42, &si) == 0);
    CHECK(!si.floored && si.neff >= GL_SIGMA_FLOOR_NEFF);
    CHECK_NEAR(si.sigma, gl_sigma_heuristic(GL_SIGMA_ROOT, X, y, n, C, n, 42, NULL), 0);
    free(X);
}

static void test_balance_default(void) {
    gl_objective o, r;
    gl_objective_default(&o);
    CHECK(o.balance == GL_BALANCE_AUTO);
    r = gl_objective_resolve(&o); /* cross-entropy alone */
    CHECK(r.balance == 0);
    o.kind = GL_LOSS_GLOSS;
    r = gl_objective_resolve(&o);
    CHECK(r.balance == GL_GLOSS_BALANCE_DEFAULT);
    o.standalone = 1;
    r = gl_objective_resolve(&o);
    CHECK(r.balance == 0);
    o.standalone = 0;
    o.kind = GL_LOSS_SUPCON;
    r = gl_objective_resolve(&o);
    CHECK(r.balance == 0); /* the baselines keep lambda */
    o.balance = 0.25;
    r = gl_objective_resolve(&o);
    CHECK(r.balance == 0.25);
}

int main(void) {
    test_knn();
    test_resolve();
    test_balance_default();
    return check_summary("test_sigma");
}
