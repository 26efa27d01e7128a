/* test_gloss.c: G-Loss (src/loss/graph_loss.c).
 *  - every case of tests/fixtures/gloss/cases.safetensors (an independent
 *    float64 PyTorch implementation with autograd, tools/make_gloss_fixtures.py),
 *    both variants: loss, gradient and F_U to 1e-8 relative (|a - r| /
 *    max(|r|, 1e-7); for the gradient the L2 norm of the difference over the
 *    L2 norm of the reference; the floor only matters for the cases whose true
 *    gradient is exactly 0, where both sides hold rounding noise ~1e-16);
 *  - central finite differences in double (step 1e-6 max(1, sigma)) on a few
 *    coordinates per case: |fd - g_k| <= 1e-5 max(|g_k|, |g|_inf) plus the
 *    rounding noise of the difference quotient itself;
 *  - the degenerate cases (U empty, L empty, degree underflow, singular and
 *    ill-conditioned I - T_UU, B = 0 / 1, a zero embedding, zero weights):
 *    no NaN, skipped flags and gl_gloss_stats counters, dh zero when skipped;
 *  - iterative label propagation converges to the closed-form F_U;
 *  - gl_gloss_pick_labelled: exact count, deterministic, seed-dependent, uniform;
 *  - the cost of forward + backward at B = 128, C = 384 (printed, not asserted). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "fixture.h"
#include "loss/graph_loss.h"
#include "util/rng.h"

#define FIXTURE "tests/fixtures/gloss/cases.safetensors"
#define REL_TOL 1e-8
#define REL_FLOOR 1e-7
#define FD_TOL 1e-5

static gl_safetensors st;
static json_t *meta;
static double prob_floor = 1e-10, rcond_min = 1e-12;
static double worst_loss = 0, worst_grad = 0, worst_F = 0, worst_fd = 0;

typedef struct {
    char name[16];
    int B, C, K;
    double *h, *cw, sigma;
    int *y;
    uint8_t *lab;
} gcase;

static double *need(const char *name, int64_t *n) {
    double *d = fx_f64(&st, name, n);
    if (!d) {
        CHECK_MSG(0, "fixture tensor %s", name);
        exit(1);
    }
    return d;
}

static double scalar(const char *name) {
    double *d = need(name, NULL), v = d[0];
    free(d);
    return v;
}

static void load_case(gcase *c, const char *prefix) {
    char nm[64];
    snprintf(c->name, sizeof c->name, "%s", prefix);
    snprintf(nm, sizeof nm, "%s.h", prefix);
    const gl_st_tensor *t = gl_st_find(&st, nm);
    CHECK(t && t->ndim == 2);
    if (!t) exit(1);
    c->B = (int)t->shape[0], c->C = (int)t->shape[1];
    c->h = need(nm, NULL);
    int64_t k;
    snprintf(nm, sizeof nm, "%s.class_w", prefix);
    c->cw = need(nm, &k);
    c->K = (int)k;
    snprintf(nm, sizeof nm, "%s.sigma", prefix);
    c->sigma = scalar(nm);
    snprintf(nm, sizeof nm, "%s.y", prefix);
    double *y = need(nm, NULL);
    snprintf(nm, sizeof nm, "%s.labelled", prefix);
    double *l = need(nm, NULL);
    c->y = malloc(sizeof(int) * (size_t)c->B);
    c->lab = malloc((size_t)c->B);
    for (int i = 0; i < c->B; i++) c->y[i] = (int)y[i], c->lab[i] = l[i] != 0;
    free(y), free(l);
}

static void free_case(gcase *c) { free(c->h), free(c->cw), free(c->y), free(c->lab); }

static const char *describe(const char *prefix) {
    const char *s = meta ? json_string_value(json_object_get(meta, prefix)) : NULL;
    return s ? s : "";
}

static gl_gloss_params params(double sigma, gl_gloss_variant v) {
    gl_gloss_params p;
    gl_gloss_params_default(&p);
    p.sigma = sigma, p.variant = v, p.prob_floor = prob_floor, p.rcond_min = rcond_min;
    return p;
}

static const char *VNAME[] = {"paper", "reference"};

static double norm2(const double *a, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * a[i];
    return sqrt(s);
}

static double rel_diff(const double *a, const double *r, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d += (a[i] - r[i]) * (a[i] - r[i]);
    double nr = norm2(r, n);
    return sqrt(d) / (nr > REL_FLOOR ? nr : REL_FLOOR);
}

static int all_finite(const double *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return 0;
    return 1;
}

static int all_zero(const double *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != 0.0) return 0;
    return 1;
}

/* loss, gradient and F_U against the reference of one case / variant */
static void compare_reference(const gcase *c, gl_gloss_variant v, const char *prefix) {
    gl_gloss_params p = params(c->sigma, v);
    size_t n = (size_t)c->B * c->C;
    double *dh = malloc(sizeof(double) * n);
    gl_gloss_stats stats = {0};
    int skipped = -1;
    double G = gl_gloss_loss(&p, c->h, c->y, c->lab, c->B, c->C, c->K, c->cw, 1.0, dh, &stats, &skipped);
    char nm[64];
    snprintf(nm, sizeof nm, "%s.%s.loss", prefix, VNAME[v]);
    double Gr = scalar(nm);
    snprintf(nm, sizeof nm, "%s.%s.grad", prefix, VNAME[v]);
    double *gr = need(nm, NULL);
    double el = fabs(G - Gr) / (fabs(Gr) > REL_FLOOR ? fabs(Gr) : REL_FLOOR);
    double eg = rel_diff(dh, gr, n);
    CHECK_MSG(skipped == 0 && stats.batches == 1, "%s %s skipped %d", prefix, VNAME[v], skipped);
    CHECK_MSG(el <= REL_TOL, "%s %s loss %.17g vs %.17g (rel %.2e)", prefix, VNAME[v], G, Gr, el);
    CHECK_MSG(eg <= REL_TOL, "%s %s grad rel %.2e (|ref| %.3g)", prefix, VNAME[v], eg, norm2(gr, n));
    CHECK(all_finite(dh, n));
    /* the summary's maxima leave out the exactly-zero references (case "one class") */
    if (fabs(Gr) > REL_FLOOR && el > worst_loss) worst_loss = el;
    if (norm2(gr, n) > REL_FLOOR && eg > worst_grad) worst_grad = eg;
    printf("  %-7s %-9s G=%-12.6g loss rel %.1e  grad rel %.1e (|g| %.2g)", prefix, VNAME[v], G, el, eg,
           norm2(gr, n));

    /* F_U by the solve against the reference's F_U */
    snprintf(nm, sizeof nm, "%s.%s.F", prefix, VNAME[v]);
    int64_t nf;
    double *Fr = fx_f64(&st, nm, &nf);
    if (Fr) {
        double *F = malloc(sizeof(double) * (size_t)nf);
        int nU = gl_gloss_propagate(&p, c->h, c->y, c->lab, c->B, c->C, c->K, 0, F);
        CHECK(nU > 0 && (int64_t)nU * c->K == nf);
        double ef = rel_diff(F, Fr, (size_t)nf);
        CHECK_MSG(ef <= REL_TOL, "%s %s F_U rel %.2e", prefix, VNAME[v], ef);
        if (ef > worst_F) worst_F = ef;
        printf("  F rel %.1e", ef);
        free(F);
    }

    /* diagnostics: effective neighbours of T and label propagation accuracy */
    snprintf(nm, sizeof nm, "%s.%s.neff", prefix, VNAME[v]);
    double *nr = need(nm, NULL);
    double en = fabs(stats.neff_sum - nr[0]) / nr[0];
    double en2 = fabs(gl_gloss_neff_median(&p, c->h, c->B, c->C) - nr[0]) / nr[0];
    CHECK_MSG(stats.neff_batches == 1 && en <= REL_TOL && en2 <= REL_TOL, "%s %s neff %.17g / %.17g vs %.17g",
              prefix, VNAME[v], stats.neff_sum, gl_gloss_neff_median(&p, c->h, c->B, c->C), nr[0]);
    CHECK(nr[0] >= 1.0 && nr[0] <= c->B - 1);
    free(nr);
    if (Fr) {
        long nodes = 0, correct = 0;
        for (int i = 0, a = 0; i < c->B; i++) {
            if (c->lab[i]) continue;
            const double *f = Fr + (size_t)a++ * c->K;
            if (c->y[i] < 0 || c->y[i] >= c->K) continue;
            int best = 0;
            for (int k = 1; k < c->K; k++) best = f[k] > f[best] ? k : best;
            nodes++, correct += best == c->y[i];
        }
        CHECK_MSG(stats.hidden_nodes == nodes && stats.hidden_correct == correct,
                  "%s %s propagation accuracy %ld/%ld vs %ld/%ld", prefix, VNAME[v], stats.hidden_correct,
                  stats.hidden_nodes, correct, nodes);
    }

    /* the same loss without a gradient; scale multiplies the gradient */
    double G2 = gl_gloss_loss(&p, c->h, c->y, c->lab, c->B, c->C, c->K, c->cw, 0.0, NULL, NULL, NULL);
    CHECK(G2 == G);
    double *dh2 = malloc(sizeof(double) * n);
    gl_gloss_loss(&p, c->h, c->y, c->lab, c->B, c->C, c->K, c->cw, -0.37, dh2, NULL, NULL);
    double es = 0;
    for (size_t i = 0; i < n; i++) es = fmax(es, fabs(dh2[i] + 0.37 * dh[i]));
    CHECK_MSG(es <= 1e-15 * (1 + norm2(dh, n)), "scale: %.2e", es);
    free(Fr);

    /* central finite differences on a few coordinates: the largest |g| and
     * three fixed pseudo-random ones */
    double ginf = 0;
    size_t kmax = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(dh[i]) > ginf) ginf = fabs(dh[i]), kmax = i;
    double step = 1e-6 * (c->sigma > 1 ? c->sigma : 1);
    double *hp = malloc(sizeof(double) * n);
    memcpy(hp, c->h, sizeof(double) * n);
    size_t coords[4] = {kmax, (n * 7) / 13, (n * 3) / 5 + 1, n / 3};
    double efd = 0;
    for (int t = 0; t < 4; t++) {
        size_t k = coords[t] % n;
        hp[k] = c->h[k] + step;
        double Gp = gl_gloss_loss(&p, hp, c->y, c->lab, c->B, c->C, c->K, c->cw, 1.0, NULL, NULL, NULL);
        hp[k] = c->h[k] - step;
        double Gm = gl_gloss_loss(&p, hp, c->y, c->lab, c->B, c->C, c->K, c->cw, 1.0, NULL, NULL, NULL);
        hp[k] = c->h[k];
        double fd = (Gp - Gm) / (2 * step);
        double den = fmax(fabs(dh[k]), ginf);
        double noise = 20 * 2.2e-16 * fmax(1.0, fabs(G)) / step;
        CHECK_MSG(fabs(fd - dh[k]) <= FD_TOL * den + noise, "%s %s fd[%zu] %.12g vs %.12g", prefix, VNAME[v], k, fd,
                  dh[k]);
        if (ginf > REL_FLOOR) efd = fmax(efd, fabs(fd - dh[k]) / den);
    }
    if (efd > worst_fd) worst_fd = efd;
    printf("  fd rel %.1e\n", efd);
    free(hp), free(dh), free(dh2), free(gr);
}

static void test_reference_cases(void) {
    int n = (int)scalar("ncases");
    printf("reference cases (%d):\n", n);
    for (int i = 0; i < n; i++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "case%d", i);
        gcase c;
        load_case(&c, prefix);
        printf(" %s: B=%d C=%d K=%d sigma=%g: %s\n", prefix, c.B, c.C, c.K, c.sigma, describe(prefix));
        for (int v = 0; v < 2; v++) compare_reference(&c, (gl_gloss_variant)v, prefix);
        free_case(&c);
    }
}

/* degenerate cases of the fixture: flags, counters, no NaN, values where defined */
static void test_degenerate_fixture(void) {
    int n = (int)scalar("ndeg");
    printf("degenerate cases (%d):\n", n);
    for (int i = 0; i < n; i++) {
        char prefix[16], nm[64];
        snprintf(prefix, sizeof prefix, "deg%d", i);
        gcase c;
        load_case(&c, prefix);
        snprintf(nm, sizeof nm, "%s.expect", prefix);
        int64_t nex = 0;
        double *ex = need(nm, &nex);
        CHECK_MSG(nex == 5, "%s.expect has %lld entries, expected 5", prefix, (long long)nex);
        int skip = (int)ex[0], clamped = (int)ex[2], values = (int)ex[3];
        int lows[2] = {(int)ex[1], (int)ex[4]}; /* paper, reference */
        free(ex);
        printf(" %s: %s\n", prefix, describe(prefix));
        size_t nn = (size_t)c.B * c.C;
        double *dh = malloc(sizeof(double) * nn);
        for (int v = 0; v < 2; v++) {
            gl_gloss_params p = params(c.sigma, (gl_gloss_variant)v);
            gl_gloss_stats s = {0};
            int skipped = -1;
            for (size_t k = 0; k < nn; k++) dh[k] = 1234.5; /* must be overwritten */
            double G = gl_gloss_loss(&p, c.h, c.y, c.lab, c.B, c.C, c.K, c.cw, 1.0, dh, &s, &skipped);
            CHECK_MSG(isfinite(G) && all_finite(dh, nn), "%s %s: non-finite", prefix, VNAME[v]);
            CHECK(s.batches == 1);
            CHECK_MSG(skipped == (skip != 0), "%s %s skipped %d", prefix, VNAME[v], skipped);
            CHECK(s.skipped_no_hidden == (skip == 1));
            CHECK(s.skipped_no_labelled == (skip == 2));
            CHECK(s.skipped_singular == (skip == 3));
            CHECK_MSG(s.low_degree == lows[v], "%s %s low_degree %ld, expected %d", prefix, VNAME[v], s.low_degree,
                      lows[v]);
            long want_clamped = (skip == 0 && v == GL_GLOSS_VARIANT_PAPER) ? clamped : 0;
            CHECK_MSG(s.clamped == want_clamped, "%s %s clamped %ld", prefix, VNAME[v], s.clamped);
            if (skip) {
                CHECK(G == 0.0);
                CHECK(all_zero(dh, nn));
                double *F = malloc(sizeof(double) * (size_t)(c.B * c.K + 1));
                CHECK(gl_gloss_propagate(&p, c.h, c.y, c.lab, c.B, c.C, c.K, 0, F) == -1);
                free(F);
            }
            /* no gradient, no stats, no flag: must not crash, same loss */
            double G2 = gl_gloss_loss(&p, c.h, c.y, c.lab, c.B, c.C, c.K, c.cw, 1.0, NULL, NULL, NULL);
            CHECK(G2 == G);
            printf("  %-9s G=%-10.6g skipped=%d low_degree=%ld clamped=%ld singular=%ld", VNAME[v], G, skipped,
                   s.low_degree, s.clamped, s.skipped_singular);
            if (values) {
                snprintf(nm, sizeof nm, "%s.%s.loss", prefix, VNAME[v]);
                double Gr = scalar(nm);
                snprintf(nm, sizeof nm, "%s.%s.grad", prefix, VNAME[v]);
                double *gr = need(nm, NULL);
                double el = fabs(G - Gr) / fmax(fabs(Gr), REL_FLOOR), eg = rel_diff(dh, gr, nn);
                CHECK_MSG(el <= REL_TOL && eg <= REL_TOL, "%s %s: loss rel %.2e grad rel %.2e", prefix, VNAME[v], el,
                          eg);
                if (el > worst_loss) worst_loss = el;
                if (eg > worst_grad) worst_grad = eg;
                printf("  vs reference: loss rel %.1e grad rel %.1e", el, eg);
                free(gr);
            }
            printf("\n");
        }
        free(dh);
        free_case(&c);
    }
}

/* standard normal from the counter-based generator (Box-Muller) */
static double gauss(uint64_t key, uint64_t i) {
    double u1 = (double)gl_rng_uniform(key, 2 * i) + 0.5 / 16777216.0; /* in (0, 1) */
    double u2 = gl_rng_uniform(key, 2 * i + 1);
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

/* class-clustered random embeddings */
static void random_batch(double *h, int *y, int B, int C, int K, uint64_t seed, double noise) {
    uint64_t key = gl_rng_key(seed, 1);
    double *cent = malloc(sizeof(double) * (size_t)K * C);
    for (int i = 0; i < K * C; i++) cent[i] = gauss(key, (uint64_t)i);
    for (int i = 0; i < B; i++) {
        y[i] = i % K;
        for (int k = 0; k < C; k++)
            h[(size_t)i * C + k] = cent[y[i] * C + k] + noise * gauss(key, (uint64_t)(K * C + i * C + k));
    }
    free(cent);
}

/* C-only degenerate inputs */
static void test_degenerate_extra(void) {
    int y[8] = {0, 1, 2, 0, 1, 2, 0, 1};
    double h[8 * 4];
    random_batch(h, y, 8, 4, 3, 5, 0.5);
    uint8_t lab[8] = {1, 0, 1, 0, 1, 1, 0, 1};
    double dh[8 * 4];
    for (int v = 0; v < 2; v++) {
        gl_gloss_params p = params(0.5, (gl_gloss_variant)v);
        gl_gloss_stats s = {0};
        int sk = -1;
        /* B = 0: no hidden node */
        double G = gl_gloss_loss(&p, h, y, lab, 0, 4, 3, NULL, 1.0, NULL, &s, &sk);
        CHECK(G == 0.0 && sk == 1 && s.skipped_no_hidden == 1 && s.batches == 1);
        /* B = 1, labelled: no hidden; hidden: no labelled */
        uint8_t one = 1, zero = 0;
        dh[0] = dh[1] = dh[2] = dh[3] = 7;
        G = gl_gloss_loss(&p, h, y, &one, 1, 4, 3, NULL, 1.0, dh, &s, &sk);
        CHECK(G == 0.0 && sk == 1 && s.skipped_no_hidden == 2 && all_zero(dh, 4));
        dh[0] = 7;
        G = gl_gloss_loss(&p, h, y, &zero, 1, 4, 3, NULL, 1.0, dh, &s, &sk);
        CHECK(G == 0.0 && sk == 1 && s.skipped_no_labelled == 1 && all_zero(dh, 4));
        CHECK(s.batches == 3 && s.skipped_singular == 0 && s.low_degree == 0 && s.clamped == 0);

        /* class_w NULL is all ones */
        double ones[3] = {1, 1, 1}, dh1[32];
        double G1 = gl_gloss_loss(&p, h, y, lab, 8, 4, 3, NULL, 1.0, dh, NULL, &sk);
        double G3 = gl_gloss_loss(&p, h, y, lab, 8, 4, 3, ones, 1.0, dh1, NULL, &sk);
        CHECK(sk == 0 && G1 == G3 && memcmp(dh, dh1, sizeof dh) == 0);

        /* every hidden node weighs 0: skipped, no counter */
        int yz[8] = {0, 2, 1, 2, 1, 1, 2, 0};
        double wz[3] = {1, 1, 0};
        gl_gloss_stats s2 = {0};
        G = gl_gloss_loss(&p, h, yz, lab, 8, 4, 3, wz, 1.0, dh, &s2, &sk);
        CHECK(G == 0.0 && sk == 1 && all_zero(dh, 32) && s2.batches == 1);

        /* a zero embedding (|h| < 1e-12): finite loss and gradient */
        double hz[32];
        memcpy(hz, h, sizeof hz);
        for (int k = 0; k < 4; k++) hz[3 * 4 + k] = 0.0;
        G = gl_gloss_loss(&p, hz, y, lab, 8, 4, 3, NULL, 1.0, dh, NULL, &sk);
        CHECK(sk == 0 && isfinite(G) && all_finite(dh, 32));

        /* sigma = 1e-4 on a spread batch: every plain kernel entry underflows
         * to 0. Paper: T is the row softmax, here exactly "go to the nearest
         * neighbour", no node isolated, F_U one-hot: equal to the result of
         * iterating F <- T F. Reference: every degree is 0 even after the
         * global shift except the closest pair's; T = 0 elsewhere, the
         * gradient is 0 where nothing is connected. */
        gl_gloss_params pt = params(1e-4, (gl_gloss_variant)v);
        gl_gloss_stats s3 = {0};
        G = gl_gloss_loss(&pt, h, y, lab, 8, 4, 3, NULL, 1.0, dh, &s3, &sk);
        CHECK(isfinite(G) && all_finite(dh, 32));
        if (v == GL_GLOSS_VARIANT_PAPER) {
            CHECK_MSG(s3.low_degree == 0, "paper, sigma 1e-4: low_degree %ld", s3.low_degree);
            double Fs[8 * 3], Fi[8 * 3];
            int nu = gl_gloss_propagate(&pt, h, y, lab, 8, 4, 3, 0, Fs);
            int ni = gl_gloss_propagate(&pt, h, y, lab, 8, 4, 3, 200, Fi);
            if (nu > 0 && sk == 0) {
                CHECK(ni == nu);
                for (int k = 0; k < nu * 3; k++) {
                    CHECK_NEAR(Fs[k], Fi[k], 1e-9);
                    CHECK(fabs(Fs[k]) < 1e-9 || fabs(Fs[k] - 1.0) < 1e-9); /* one-hot */
                }
            } else
                CHECK_MSG(s3.skipped_singular == 1, "paper, sigma 1e-4: neither solved nor singular");
        } else
            CHECK(s3.low_degree >= 6 && s3.clamped == 0);

        /* labels outside [0, K): a hidden one is left out, a visible one adds
         * no row of Y_L; never a crash or NaN */
        int yb[8] = {0, 1, 2, 0, 1, 2, 0, 1};
        yb[1] = 7;  /* hidden */
        yb[2] = -1; /* labelled */
        G = gl_gloss_loss(&p, h, yb, lab, 8, 4, 3, NULL, 1.0, dh, NULL, &sk);
        CHECK(sk == 0 && isfinite(G) && all_finite(dh, 32));
    }
}

/* iterative propagation (F <- T F, F_L = Y_L) reaches the solve's F_U */
static void test_propagation(void) {
    const char *cases[] = {"case1", "case2"};
    for (int t = 0; t < 2; t++) {
        gcase c;
        load_case(&c, cases[t]);
        for (int v = 0; v < 2; v++) {
            gl_gloss_params p = params(c.sigma, (gl_gloss_variant)v);
            double *F0 = malloc(sizeof(double) * (size_t)c.B * c.K), *F1 = malloc(sizeof(double) * (size_t)c.B * c.K);
            double *F2 = malloc(sizeof(double) * (size_t)c.B * c.K);
            int n0 = gl_gloss_propagate(&p, c.h, c.y, c.lab, c.B, c.C, c.K, 0, F0);
            int n1 = gl_gloss_propagate(&p, c.h, c.y, c.lab, c.B, c.C, c.K, 3000, F1);
            int n2 = gl_gloss_propagate(&p, c.h, c.y, c.lab, c.B, c.C, c.K, 3, F2);
            CHECK(n0 > 0 && n0 == n1 && n1 == n2);
            double d = 0, d3 = 0, rowerr = 0;
            for (int i = 0; i < n0 * c.K; i++) d = fmax(d, fabs(F0[i] - F1[i])), d3 = fmax(d3, fabs(F0[i] - F2[i]));
            for (int a = 0; a < n0; a++) {
                double s = 0;
                for (int k = 0; k < c.K; k++) s += F0[a * c.K + k];
                rowerr = fmax(rowerr, fabs(s - 1));
            }
            printf("propagation %s %s: |F_solve - F_iter(3000)| = %.1e (after 3 steps %.1e), |rowsum - 1| = %.1e\n",
                   cases[t], VNAME[v], d, d3, rowerr);
            CHECK(d <= 1e-12);
            CHECK(d3 > d); /* the iteration really iterates */
            CHECK(rowerr <= 1e-12); /* every hidden node connected to L: rows are distributions */
            free(F0), free(F1), free(F2);
        }
        free_case(&c);
    }
}

static void test_pick_labelled(void) {
    int Bs[] = {0, 1, 2, 5, 16, 64, 128, 255};
    double gammas[] = {-0.5, 0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0, 1.7};
    uint8_t a[256], b[256];
    int ok_count = 1, ok_det = 1;
    for (size_t i = 0; i < sizeof Bs / sizeof *Bs; i++)
        for (size_t j = 0; j < sizeof gammas / sizeof *gammas; j++) {
            int B = Bs[i];
            double x = round(gammas[j] * B);
            int want = x < 0 ? 0 : x > B ? B : (int)x;
            memset(a, 9, sizeof a);
            gl_gloss_pick_labelled(a, B, gammas[j], 42);
            gl_gloss_pick_labelled(b, B, gammas[j], 42);
            int n = 0;
            for (int k = 0; k < B; k++) {
                n += a[k];
                if (a[k] > 1) ok_count = 0;
            }
            if (n != want) ok_count = 0;
            if (B && memcmp(a, b, (size_t)B)) ok_det = 0;
        }
    CHECK_MSG(ok_count, "exact count round(gamma B), clamped to [0, B]");
    CHECK_MSG(ok_det, "same seed, same subset");
    /* round halves away from zero: gamma B = 2.5 -> 3 */
    gl_gloss_pick_labelled(a, 5, 0.5, 1);
    int n = 0;
    for (int k = 0; k < 5; k++) n += a[k];
    CHECK(n == 3);
    /* different seeds give different subsets */
    gl_gloss_pick_labelled(a, 64, 0.5, 1);
    int differ = 0;
    for (uint64_t s = 2; s < 6; s++) {
        gl_gloss_pick_labelled(b, 64, 0.5, s);
        differ += memcmp(a, b, 64) != 0;
    }
    CHECK(differ == 4);
    /* uniform: each node labelled with probability gamma */
    int cnt[10] = {0};
    const int R = 4000;
    for (int r = 0; r < R; r++) {
        gl_gloss_pick_labelled(a, 10, 0.3, (uint64_t)r * 7919 + 3);
        for (int k = 0; k < 10; k++) cnt[k] += a[k];
    }
    double dev = 0;
    for (int k = 0; k < 10; k++) dev = fmax(dev, fabs(cnt[k] / (double)R - 0.3));
    CHECK_MSG(dev < 0.035, "max deviation of the inclusion frequency %.3f", dev); /* ~5 sd */
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void bench(void) {
    const int B = 128, C = 384, K = 8, N = 50;
    double *h = malloc(sizeof(double) * B * C), *dh = malloc(sizeof(double) * B * C);
    int *y = malloc(sizeof(int) * B);
    uint8_t *lab = malloc(B);
    random_batch(h, y, B, C, K, 11, 1.5);
    gl_gloss_pick_labelled(lab, B, 0.7, 3);
    for (int v = 0; v < 2; v++) {
        gl_gloss_params p = params(0.8, (gl_gloss_variant)v);
        gl_gloss_stats s = {0};
        int sk;
        double G = gl_gloss_loss(&p, h, y, lab, B, C, K, NULL, 1.0, dh, &s, &sk); /* warm-up */
        double t0 = now();
        for (int r = 0; r < N; r++) gl_gloss_loss(&p, h, y, lab, B, C, K, NULL, 1.0, dh, &s, &sk);
        double t1 = now();
        for (int r = 0; r < N; r++) gl_gloss_loss(&p, h, y, lab, B, C, K, NULL, 1.0, NULL, &s, &sk);
        double t2 = now();
        CHECK(sk == 0 && isfinite(G) && all_finite(dh, (size_t)B * C));
        printf("timing B=%d C=%d K=%d |U|=%d %s: forward+backward %.2f ms/call, forward only %.2f ms/call (G=%.4g)\n",
               B, C, K, B - 90, VNAME[v], 1e3 * (t1 - t0) / N, 1e3 * (t2 - t1) / N, G);
    }
    free(h), free(dh), free(y), free(lab);
}

int main(void) {
    if (gl_st_open(&st, FIXTURE) != 0) {
        fprintf(stderr, "%s\n", gl_error_message());
        return 1;
    }
    if (st.metadata_json) meta = json_loads(st.metadata_json, 0, NULL);
    double *pp = need("params", NULL);
    prob_floor = pp[0], rcond_min = pp[1];
    free(pp);
    gl_gloss_params d;
    gl_gloss_params_default(&d);
    CHECK(d.prob_floor == 1e-10 && d.rcond_min == 1e-12 && d.variant == GL_GLOSS_VARIANT_PAPER && d.sigma > 0);

    test_reference_cases();
    test_degenerate_fixture();
    test_degenerate_extra();
    test_propagation();
    test_pick_labelled();
    bench();
    printf("max relative error vs PyTorch (references not 0): loss %.1e, gradient %.1e, F_U %.1e; "
           "finite differences %.1e\n",
           worst_loss, worst_grad, worst_F, worst_fd);
    json_decref(meta);
    gl_st_close(&st);
    return check_summary("test_gloss");
}
