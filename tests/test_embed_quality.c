/* test_embed_quality.c: silhouette (cosine) and PCA against scikit-learn
 * (tests/fixtures/embed_quality/cases.safetensors, from
 * tools/make_embed_quality_fixtures.py), the fast silhouette against a direct
 * O(n^2) evaluation, t-SNE on separated clusters and tiny inputs, thread-count
 * independence, error cases, and the time of a silhouette at trainer scale. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "fixture.h"
#include "io/plot.h"
#include "io/safetensors.h"
#include "train/embed_quality.h"
#include "util/rng.h"

#define FIXTURE "tests/fixtures/embed_quality/cases.safetensors"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double normal(gl_rng *r) {
    double u1 = ((double)(gl_rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
    double u2 = (double)(gl_rng_next(r) >> 11) / 9007199254740992.0;
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

/* ---- against sklearn -------------------------------------------------- */

static void test_fixture(void) {
    gl_safetensors st;
    if (fx_open_from(&st, FIXTURE, "make_embed_quality_fixtures.py") != 0) {
        CHECK(0);
        return;
    }
    double worst_s = 0, worst_agg = 0, worst_pca = 0;
    int ncases = 0;
    for (int k = 0;; k++) {
        const gl_st_tensor *tx = fx_case(&st, k, "X");
        if (!tx) break;
        ncases++;
        int64_t nx = 0, ny = 0, ns = 0, np = 0, npc = 0;
        double *Xd = fx_case_f64(&st, k, "X", &nx);
        double *yd = fx_case_f64(&st, k, "y", &ny);
        double *Kd = fx_case_f64(&st, k, "K", NULL);
        double *sref = fx_case_f64(&st, k, "samples", &ns);
        double *score = fx_case_f64(&st, k, "score", NULL);
        double *per_ref = fx_case_f64(&st, k, "per_class", &npc);
        double *macro_ref = fx_case_f64(&st, k, "macro", NULL);
        double *pca_ref = fx_case_f64(&st, k, "pca", &np);
        if (!Xd || !yd || !Kd || !sref || !score || !per_ref || !macro_ref || !pca_ref) {
            CHECK_MSG(0, "case %d: missing tensors", k);
            free(Xd), free(yd), free(Kd), free(sref), free(score), free(per_ref), free(macro_ref), free(pca_ref);
            continue;
        }
        const size_t n = (size_t)ny;
        const int C = (int)tx->shape[1], K = (int)Kd[0];
        CHECK(tx->dtype == GL_DT_F32 && (size_t)nx == n * (size_t)C && (size_t)ns == n && np == 2 * ny && npc == K);
        float *X = malloc(n * C * sizeof(float));
        int *y = malloc(n * sizeof(int));
        double *s = malloc(n * sizeof(double)), *per = malloc(K * sizeof(double)), *xy = malloc(2 * n * sizeof(double));
        for (size_t i = 0; i < n * (size_t)C; i++) X[i] = (float)Xd[i];
        for (size_t i = 0; i < n; i++) y[i] = (int)yd[i];

        CHECK(gl_silhouette_cosine_samples(X, y, n, C, K, s) == 0);
        for (size_t i = 0; i < n; i++) {
            double e = fabs(s[i] - sref[i]);
            if (e > worst_s) worst_s = e;
            CHECK_MSG(e <= 1e-9, "case %d sample %zu: %.15g vs sklearn %.15g", k, i, s[i], sref[i]);
        }
        double micro = NAN, macro = NAN;
        CHECK(gl_silhouette_cosine(X, y, n, C, K, &micro, &macro, per) == 0);
        CHECK_NEAR(micro, score[0], 1e-9);
        CHECK_NEAR(macro, macro_ref[0], 1e-9);
        if (fabs(micro - score[0]) > worst_agg) worst_agg = fabs(micro - score[0]);
        if (fabs(macro - macro_ref[0]) > worst_agg) worst_agg = fabs(macro - macro_ref[0]);
        for (int c = 0; c < K; c++) {
            if (isnan(per_ref[c]))
                CHECK_MSG(isnan(per[c]), "case %d class %d absent, got %g", k, c, per[c]);
            else
                CHECK_NEAR(per[c], per_ref[c], 1e-9);
        }

        CHECK(gl_pca_2d(X, n, C, xy) == 0);
        for (size_t i = 0; i < 2 * n; i++) {
            double e = fabs(xy[i] - pca_ref[i]);
            if (e > worst_pca) worst_pca = e;
            CHECK_MSG(e <= 1e-6, "case %d pca[%zu]: %.12g vs sklearn %.12g", k, i, xy[i], pca_ref[i]);
        }
        free(X), free(y), free(s), free(per), free(xy);
        free(Xd), free(yd), free(Kd), free(sref), free(score), free(per_ref), free(macro_ref), free(pca_ref);
    }
    CHECK(ncases >= 4);
    printf("sklearn fixture: %d cases, max |diff| silhouette samples %.2e, scores %.2e, pca %.2e\n", ncases, worst_s,
           worst_agg, worst_pca);
    gl_st_close(&st);
}

/* ---- against the definition ------------------------------------------ */

static double cosdist(const float *a, const float *b, int C) {
    double ab = 0, aa = 0, bb = 0;
    for (int j = 0; j < C; j++) ab += (double)a[j] * b[j], aa += (double)a[j] * a[j], bb += (double)b[j] * b[j];
    double na = sqrt(aa), nb = sqrt(bb);
    double sim = (na > 0 && nb > 0) ? ab / (na * nb) : 0.0;
    double d = 1 - sim;
    return d < 0 ? 0 : d > 2 ? 2 : d;
}

static void naive_silhouette(const float *X, const int *y, size_t n, int C, int K, double *s) {
    double *sum = malloc(K * sizeof(double));
    int *cnt = calloc(K, sizeof(int));
    for (size_t i = 0; i < n; i++) cnt[y[i]]++;
    for (size_t i = 0; i < n; i++) {
        memset(sum, 0, K * sizeof(double));
        for (size_t j = 0; j < n; j++)
            if (j != i) sum[y[j]] += cosdist(X + i * C, X + j * C, C);
        if (cnt[y[i]] < 2) {
            s[i] = 0;
            continue;
        }
        double a = sum[y[i]] / (cnt[y[i]] - 1), b = INFINITY;
        for (int k = 0; k < K; k++)
            if (k != y[i] && cnt[k] && sum[k] / cnt[k] < b) b = sum[k] / cnt[k];
        double m = a > b ? a : b;
        s[i] = m > 0 ? (b - a) / m : 0;
    }
    free(sum), free(cnt);
}

static void test_naive(void) {
    gl_rng r = {12345};
    const size_t n = 333;
    const int C = 7, K = 9; /* class 4 absent, class 8 a singleton, a zero row, a duplicate row */
    float *X = malloc(n * C * sizeof(float));
    int *y = malloc(n * sizeof(int));
    double *s = malloc(n * sizeof(double)), *ref = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        int k = (int)gl_rng_below(&r, 7);
        y[i] = k >= 4 ? k + 1 : k;
        for (int j = 0; j < C; j++) X[i * C + j] = (float)(normal(&r) + (j == y[i] % C ? 2.0 : 0.0));
    }
    y[n - 1] = 8;
    for (int j = 0; j < C; j++) X[5 * C + j] = 0, X[6 * C + j] = X[7 * C + j];
    naive_silhouette(X, y, n, C, K, ref);
    CHECK(gl_silhouette_cosine_samples(X, y, n, C, K, s) == 0);
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(s[i] - ref[i]));
    CHECK_MSG(worst <= 1e-12, "fast vs direct silhouette: max diff %.3g", worst);
    CHECK(s[n - 1] == 0.0);

    /* scale invariance of the cosine distance */
    for (size_t i = 0; i < n * C; i++) X[i] *= 1000.0f;
    double micro = 0, macro = 0, micro2 = 0, macro2 = 0;
    CHECK(gl_silhouette_cosine(X, y, n, C, K, &micro, &macro, NULL) == 0);
    naive_silhouette(X, y, n, C, K, ref);
    double m = 0;
    for (size_t i = 0; i < n; i++) m += ref[i];
    CHECK_NEAR(micro, m / n, 1e-12);

    /* thread-count independence (bitwise) */
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK(gl_silhouette_cosine(X, y, n, C, K, &micro2, &macro2, NULL) == 0);
    omp_set_num_threads(nt > 1 ? nt : 3);
    CHECK(micro2 == micro && macro2 == macro);
    omp_set_num_threads(nt);

    /* errors */
    int *one = malloc(n * sizeof(int));
    for (size_t i = 0; i < n; i++) one[i] = 2;
    CHECK(gl_silhouette_cosine(X, one, n, C, K, &micro, &macro, NULL) == -1);
    one[0] = K;
    CHECK(gl_silhouette_cosine(X, one, n, C, K, &micro, &macro, NULL) == -1);
    one[0] = -1;
    CHECK(gl_silhouette_cosine(X, one, n, C, K, &micro, &macro, NULL) == -1);
    int two[2] = {0, 1}; /* every sample its own class: sklearn refuses too */
    CHECK(gl_silhouette_cosine(X, two, 2, C, K, &micro, &macro, NULL) == -1);
    int three[3] = {0, 1, 1};
    double per[9];
    CHECK(gl_silhouette_cosine(X, three, 3, C, K, &micro, &macro, per) == 0 && isfinite(micro) && isfinite(macro));
    CHECK(isnan(per[2]) && per[0] == 0.0);
    X[10] = NAN;
    CHECK(gl_silhouette_cosine(X, y, n, C, K, &micro, &macro, NULL) == -1);
    CHECK(gl_pca_2d(X, n, C, ref) == -1);
    free(one), free(X), free(y), free(s), free(ref);
}

/* ---- PCA properties --------------------------------------------------- */

static void test_pca_props(void) {
    gl_rng r = {777};
    const size_t n = 200;
    const int C = 5;
    float *X = malloc(n * C * sizeof(float));
    double *xy = malloc(2 * n * sizeof(double));
    /* variance 9 along (1,1,0,0,0)/sqrt2, 4 along e5, 0.25 elsewhere */
    for (size_t i = 0; i < n; i++) {
        double a = 3 * normal(&r), b = 2 * normal(&r);
        for (int j = 0; j < C; j++) X[i * C + j] = (float)(0.5 * normal(&r) + 10.0);
        X[i * C + 0] += (float)(a / sqrt(2)), X[i * C + 1] += (float)(a / sqrt(2)), X[i * C + 4] += (float)b;
    }
    CHECK(gl_pca_2d(X, n, C, xy) == 0);
    double m0 = 0, m1 = 0, v0 = 0, v1 = 0, cv = 0;
    for (size_t i = 0; i < n; i++) m0 += xy[2 * i], m1 += xy[2 * i + 1];
    m0 /= n, m1 /= n;
    for (size_t i = 0; i < n; i++) {
        double a = xy[2 * i] - m0, b = xy[2 * i + 1] - m1;
        v0 += a * a, v1 += b * b, cv += a * b;
    }
    CHECK(fabs(m0) < 1e-9 && fabs(m1) < 1e-9);
    CHECK(v0 > v1 && v0 / (n - 1) > 5 && v1 / (n - 1) > 2.5 && v1 / (n - 1) < 6);
    CHECK(fabs(cv) < 1e-6 * sqrt(v0 * v1));
    /* C = 1: second coordinate 0; n = 1: all zero */
    CHECK(gl_pca_2d(X, n, 1, xy) == 0);
    double mu = 0;
    for (size_t i = 0; i < n; i++) mu += X[i];
    mu /= n;
    int ok = 1;
    for (size_t i = 0; i < n; i++) ok &= xy[2 * i + 1] == 0.0 && fabs(xy[2 * i] - (X[i] - mu)) < 1e-9;
    CHECK(ok);
    CHECK(gl_pca_2d(X, 1, C, xy) == 0 && xy[0] == 0.0 && xy[1] == 0.0);
    free(X), free(xy);
}

/* ---- t-SNE ------------------------------------------------------------ */

static double euclid_silhouette_2d(const double *Y, const int *y, size_t n, int K) {
    double *sum = malloc(K * sizeof(double));
    int *cnt = calloc(K, sizeof(int));
    for (size_t i = 0; i < n; i++) cnt[y[i]]++;
    double tot = 0;
    for (size_t i = 0; i < n; i++) {
        memset(sum, 0, K * sizeof(double));
        for (size_t j = 0; j < n; j++)
            if (j != i) sum[y[j]] += hypot(Y[2 * i] - Y[2 * j], Y[2 * i + 1] - Y[2 * j + 1]);
        if (cnt[y[i]] < 2) continue;
        double a = sum[y[i]] / (cnt[y[i]] - 1), b = INFINITY;
        for (int k = 0; k < K; k++)
            if (k != y[i] && cnt[k]) b = fmin(b, sum[k] / cnt[k]);
        tot += (b - a) / fmax(a, b);
    }
    free(sum), free(cnt);
    return tot / n;
}

static void test_tsne_clusters(void) {
    gl_rng r = {2024};
    const size_t n = 400;
    const int C = 20, K = 4, iters = 1000;
    float *X = malloc(n * C * sizeof(float));
    int *y = malloc(n * sizeof(int));
    double centre[4][20];
    for (int k = 0; k < K; k++)
        for (int j = 0; j < C; j++) centre[k][j] = 6 * normal(&r);
    for (size_t i = 0; i < n; i++) {
        y[i] = (int)(i % K);
        for (int j = 0; j < C; j++) X[i * C + j] = (float)(centre[y[i]][j] + normal(&r));
    }
    double *Y = malloc(2 * n * sizeof(double)), *Y2 = malloc(2 * n * sizeof(double));
    double *kl = malloc(iters * sizeof(double));
    double t0 = now();
    CHECK(gl_tsne_2d_kl(X, n, C, 30.0, iters, 7, Y, kl) == 0);
    double t1 = now();
    int finite = 1;
    for (size_t i = 0; i < 2 * n; i++) finite &= isfinite(Y[i]);
    CHECK(finite);
    double sil = euclid_silhouette_2d(Y, y, n, K);
    CHECK_MSG(sil > 0.8, "t-SNE map silhouette %.4f", sil);
    /* KL: finite, lower at the end than at the start and than at the end of exaggeration,
     * and (after exaggeration) never rising by more than noise */
    int kl_ok = 1;
    for (int t = 0; t < iters; t++) kl_ok &= isfinite(kl[t]) && kl[t] >= -1e-9;
    CHECK(kl_ok);
    CHECK_MSG(kl[iters - 1] < kl[0] && kl[iters - 1] < kl[250], "KL %.4f -> %.4f -> %.4f", kl[0], kl[250],
              kl[iters - 1]);
    /* momentum may make single steps rise a little; how much depends on the
     * floating-point kernels (under valgrind, without AVX-512, one step rose
     * 0.02), so the bound is on the scale of a few percent of the final KL */
    double rise = 0;
    for (int t = 300; t < iters; t++) rise = fmax(rise, kl[t] - kl[t - 1]);
    CHECK_MSG(rise < 0.05, "KL rose by %.3g after iteration 300", rise);
    printf("t-SNE n=%zu C=%d: %.2f s, KL %.4f (start) %.4f (it 250) %.4f (end), silhouette %.4f\n", n, C, t1 - t0,
           kl[0], kl[250], kl[iters - 1], sil);

    /* deterministic, also across thread counts; gl_tsne_2d == gl_tsne_2d_kl */
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK(gl_tsne_2d(X, n, C, 30.0, 300, 7, Y2) == 0);
    omp_set_num_threads(nt);
    CHECK(gl_tsne_2d_kl(X, n, C, 30.0, 300, 7, Y, NULL) == 0);
    CHECK(memcmp(Y, Y2, 2 * n * sizeof(double)) == 0);

    /* the threaded path (n >= 512) against one thread */
    {
        const size_t m = 600;
        const int D = 8;
        float *Z = malloc(m * D * sizeof(float));
        double *A = malloc(2 * m * sizeof(double)), *B = malloc(2 * m * sizeof(double));
        for (size_t i = 0; i < m * D; i++) Z[i] = (float)(normal(&r) + (i / D % 3) * 2.0);
        omp_set_num_threads(1);
        CHECK(gl_tsne_2d(Z, m, D, 20.0, 40, 1, A) == 0);
        omp_set_num_threads(nt > 1 ? nt : 2);
        CHECK(gl_tsne_2d(Z, m, D, 20.0, 40, 1, B) == 0);
        omp_set_num_threads(nt);
        CHECK(memcmp(A, B, 2 * m * sizeof(double)) == 0);
        free(Z), free(A), free(B);
    }

    const char *dir = getenv("BUILD");
    char path[512];
    snprintf(path, sizeof path, "%s/tests/tsne_clusters.svg", dir ? dir : "build");
    CHECK(gl_tsne_2d(X, n, C, 30.0, iters, 7, Y) == 0);
    double *xs = malloc(n * sizeof(double)), *ys = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) xs[i] = Y[2 * i], ys[i] = Y[2 * i + 1];
    if (gl_svg_scatter(path, "t-SNE of 4 Gaussian clusters", xs, ys, y, (int)n, K, NULL) == 0)
        printf("t-SNE picture: %s\n", path);
    free(xs), free(ys), free(X), free(y), free(Y), free(Y2), free(kl);
}

static void test_tsne_tiny(void) {
    float X[4 * 3] = {1, 2, 3, -1, 0.5f, 2, 4, 4, 4, 1, 2, 3};
    double Y[8], kl[50];
    for (size_t n = 1; n <= 4; n++) {
        for (int i = 0; i < 8; i++) Y[i] = NAN;
        CHECK_MSG(gl_tsne_2d_kl(X, n, 3, 30.0, 50, 1, Y, kl) == 0, "n=%zu: %s", n, gl_error_message());
        int ok = 1;
        for (size_t i = 0; i < 2 * n; i++) ok &= isfinite(Y[i]);
        CHECK_MSG(ok, "t-SNE n=%zu produced a non-finite coordinate", n);
        if (n >= 2) {
            int kok = 1;
            for (int t = 0; t < 50; t++) kok &= isnan(kl[t]) || isfinite(kl[t]);
            CHECK(kok && isfinite(kl[0]));
        }
    }
    /* all points equal: PCA start degenerate, seeded random start */
    float same[5 * 2] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    double Ys[10], Ys2[10];
    CHECK(gl_tsne_2d(same, 5, 2, 2.0, 100, 3, Ys) == 0 && gl_tsne_2d(same, 5, 2, 2.0, 100, 3, Ys2) == 0);
    int ok = memcmp(Ys, Ys2, sizeof Ys) == 0;
    for (int i = 0; i < 10; i++) ok &= isfinite(Ys[i]);
    CHECK(ok);
    CHECK(gl_tsne_2d(X, 3, 3, 0.0, 10, 1, Y) == -1);
    CHECK(gl_tsne_2d(X, 0, 3, 30.0, 10, 1, Y) == 0);
    CHECK(gl_tsne_2d(X, 3, 3, 30.0, 0, 1, Y) == 0 && isfinite(Y[0]));
}

/* ---- timing ------------------------------------------------------------- */

static void time_silhouette(void) {
    const size_t n = 7532;
    const int C = 384, K = 20;
    gl_rng r = {99};
    float *X = malloc(n * C * sizeof(float));
    int *y = malloc(n * sizeof(int));
    for (size_t i = 0; i < n; i++) y[i] = (int)gl_rng_below(&r, K);
    for (size_t i = 0; i < n * C; i++) X[i] = (float)normal(&r) + (i % C == (size_t)y[i / C] ? 3.0f : 0.0f);
    double micro = 0, macro = 0, per[20];
    double t0 = now();
    int rc = gl_silhouette_cosine(X, y, n, C, K, &micro, &macro, per);
    double t1 = now();
    CHECK(rc == 0 && isfinite(micro) && isfinite(macro));
    double p0 = now();
    double *xy = malloc(2 * n * sizeof(double));
    rc = gl_pca_2d(X, n, C, xy);
    double p1 = now();
    CHECK(rc == 0);
    printf("timing (%d threads): silhouette n=%zu C=%d K=%d: %.1f ms (micro %.4f macro %.4f); gl_pca_2d: %.1f ms\n",
           omp_get_max_threads(), n, C, K, 1e3 * (t1 - t0), micro, macro, 1e3 * (p1 - p0));
    free(X), free(y), free(xy);
}

int main(void) {
    test_fixture();
    test_naive();
    test_pca_props();
    test_tsne_tiny();
    test_tsne_clusters();
    time_silhouette();
    return check_summary("test_embed_quality");
}
