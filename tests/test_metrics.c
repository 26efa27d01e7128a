/* test_metrics.c: classification metrics against hand-computed cases (a class
 * never predicted, a class absent from y_true, a class predicted but never
 * true, n = 0), the error paths, the JSON form, and the scores scikit-learn
 * gives for random prediction sets (tests/fixtures/metrics/sklearn_metrics.json,
 * written by tools/make_metrics_fixture.py), compared to 1e-12: every score
 * is a ratio of small integers, so the only differences are summation order. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "train/metrics.h"
#include "util/error.h"

#define FIXTURE "tests/fixtures/metrics/sklearn_metrics.json"
#define EXACT 1e-15
#define SKLEARN_TOL 1e-12

static void check_vec(const double *got, const double *want, int n, const char *what) {
    for (int k = 0; k < n; k++) CHECK_MSG(fabs(got[k] - want[k]) <= EXACT, "%s[%d]: %.17g vs %.17g", what, k, got[k], want[k]);
}

/* C=3, y_true 0 0 0 1 1 2, y_pred 0 0 1 1 2 2.
 * confusion [[2,1,0],[0,1,1],[0,0,1]]; support 3 2 1; predicted 2 2 2; tp 2 1 1
 * precision 1, 1/2, 1/2; recall 2/3, 1/2, 1; f1 = 2tp/(support+predicted) = 4/5, 1/2, 2/3
 * macro F1 (4/5+1/2+2/3)/3 = 59/90; weighted (4/5*3 + 1/2*2 + 2/3)/6 = 61/90. */
static void test_three_classes(void) {
    const int yt[] = {0, 0, 0, 1, 1, 2}, yp[] = {0, 0, 1, 1, 2, 2};
    gl_metrics m;
    CHECK(gl_metrics_compute(&m, yt, yp, 6, 3) == 0);
    const int64_t conf[] = {2, 1, 0, 0, 1, 1, 0, 0, 1};
    CHECK(m.C == 3 && m.n == 6);
    CHECK(memcmp(m.confusion, conf, sizeof conf) == 0);
    CHECK(m.support[0] == 3 && m.support[1] == 2 && m.support[2] == 1);
    check_vec(m.precision, (const double[]){1.0, 0.5, 0.5}, 3, "precision");
    check_vec(m.recall, (const double[]){2.0 / 3, 0.5, 1.0}, 3, "recall");
    check_vec(m.f1, (const double[]){0.8, 0.5, 2.0 / 3}, 3, "f1");
    CHECK_NEAR(m.accuracy, 4.0 / 6, EXACT);
    CHECK_NEAR(m.macro_f1, 59.0 / 90, EXACT);
    CHECK_NEAR(m.weighted_f1, 61.0 / 90, EXACT);
    CHECK_NEAR(m.macro_precision, 2.0 / 3, EXACT);
    CHECK_NEAR(m.macro_recall, 13.0 / 18, EXACT);
    gl_metrics_free(&m);
    CHECK(m.confusion == NULL && m.f1 == NULL);
    gl_metrics_free(&m); /* freeing twice is harmless */
}

/* C=4, y_true 0 0 1 1 2, y_pred 0 1 1 1 0: class 2 is never predicted, class 3
 * occurs nowhere. support 2 2 1 0; predicted 2 3 0 0; tp 1 2 0 0.
 * precision 1/2, 2/3, 0, 0; recall 1/2, 1, 0, 0; f1 1/2, 4/5, 0, 0.
 * Our macro averages run over all 4 classes (sklearn with labels=range(4)):
 * macro F1 = 1.3/4, not 1.3/3 as sklearn without `labels` would give. */
static void test_never_predicted_and_absent(void) {
    const int yt[] = {0, 0, 1, 1, 2}, yp[] = {0, 1, 1, 1, 0};
    gl_metrics m;
    CHECK(gl_metrics_compute(&m, yt, yp, 5, 4) == 0);
    CHECK(m.support[3] == 0 && m.support[2] == 1);
    check_vec(m.precision, (const double[]){0.5, 2.0 / 3, 0, 0}, 4, "precision");
    check_vec(m.recall, (const double[]){0.5, 1.0, 0, 0}, 4, "recall");
    check_vec(m.f1, (const double[]){0.5, 0.8, 0, 0}, 4, "f1");
    CHECK_NEAR(m.accuracy, 0.6, EXACT);
    CHECK_NEAR(m.macro_f1, 1.3 / 4, EXACT);
    CHECK_NEAR(m.weighted_f1, 2.6 / 5, EXACT);
    CHECK_NEAR(m.macro_precision, (0.5 + 2.0 / 3) / 4, EXACT);
    CHECK_NEAR(m.macro_recall, 1.5 / 4, EXACT);
    gl_metrics_free(&m);
}

/* A class predicted but never true: precision 0/1 = 0, recall undefined -> 0,
 * f1 = 0/(0+1) = 0; it lowers macro F1 but not weighted F1 (support 0). */
static void test_predicted_never_true(void) {
    const int yt[] = {0, 0, 1}, yp[] = {0, 2, 1};
    gl_metrics m;
    CHECK(gl_metrics_compute(&m, yt, yp, 3, 3) == 0);
    check_vec(m.precision, (const double[]){1.0, 1.0, 0}, 3, "precision");
    check_vec(m.recall, (const double[]){0.5, 1.0, 0}, 3, "recall");
    check_vec(m.f1, (const double[]){2.0 / 3, 1.0, 0}, 3, "f1");
    CHECK_NEAR(m.macro_f1, (2.0 / 3 + 1.0) / 3, EXACT);
    CHECK_NEAR(m.weighted_f1, (2.0 / 3 * 2 + 1.0) / 3, EXACT);
    CHECK(m.confusion[0 * 3 + 2] == 1);
    gl_metrics_free(&m);
}

static void test_perfect_and_empty(void) {
    const int y[] = {1, 0, 1, 1};
    gl_metrics m;
    CHECK(gl_metrics_compute(&m, y, y, 4, 2) == 0);
    CHECK(m.accuracy == 1.0 && m.macro_f1 == 1.0 && m.weighted_f1 == 1.0);
    CHECK(m.macro_precision == 1.0 && m.macro_recall == 1.0);
    gl_metrics_free(&m);

    /* n = 0: every score 0, confusion all zeros, no failure. */
    CHECK(gl_metrics_compute(&m, NULL, NULL, 0, 3) == 0);
    CHECK(m.n == 0 && m.C == 3 && m.accuracy == 0 && m.macro_f1 == 0 && m.weighted_f1 == 0);
    int zeros = 1;
    for (int k = 0; k < 9; k++) zeros &= m.confusion[k] == 0;
    CHECK(zeros);
    gl_metrics_free(&m);
}

static void expect_fail(const int *yt, const int *yp, size_t n, int C, const char *what) {
    gl_metrics m;
    gl_error_clear();
    CHECK_MSG(gl_metrics_compute(&m, yt, yp, n, C) == -1, "expected failure (%s)", what);
    CHECK_MSG(strstr(gl_error_message(), what) != NULL, "message \"%s\" lacks \"%s\"", gl_error_message(), what);
    CHECK(m.confusion == NULL && m.support == NULL && m.f1 == NULL);
    gl_metrics_free(&m);
}

static void test_errors(void) {
    const int ok[] = {0, 1, 2}, neg[] = {0, -1, 2}, big[] = {0, 1, 3};
    expect_fail(neg, ok, 3, 3, "true label -1 at index 1");
    expect_fail(ok, big, 3, 3, "predicted label 3 at index 2");
    expect_fail(ok, ok, 3, 0, "must be positive");
    expect_fail(NULL, ok, 3, 3, "NULL");
}

static void test_json(void) {
    const int yt[] = {0, 0, 0, 1, 1, 2}, yp[] = {0, 0, 1, 1, 2, 2};
    gl_metrics m;
    CHECK(gl_metrics_compute(&m, yt, yp, 6, 3) == 0);
    const char *names[] = {"sports", "cooking", "caf\xC3\xA9"};
    json_t *j = gl_metrics_to_json(&m, names);
    CHECK(j != NULL);
    if (j) {
        CHECK_NEAR(json_real_value(json_object_get(j, "macro_f1")), 59.0 / 90, EXACT);
        CHECK_NEAR(json_real_value(json_object_get(j, "weighted_f1")), 61.0 / 90, EXACT);
        CHECK_NEAR(json_real_value(json_object_get(j, "accuracy")), 4.0 / 6, EXACT);
        CHECK_NEAR(json_real_value(json_object_get(j, "macro_precision")), 2.0 / 3, EXACT);
        CHECK_NEAR(json_real_value(json_object_get(j, "macro_recall")), 13.0 / 18, EXACT);
        CHECK(json_integer_value(json_object_get(j, "n")) == 6);
        json_t *pc = json_object_get(json_object_get(j, "per_class"), "cooking");
        CHECK(pc && json_integer_value(json_object_get(pc, "support")) == 2);
        CHECK_NEAR(json_real_value(json_object_get(pc, "precision")), 0.5, EXACT);
        CHECK_NEAR(json_real_value(json_object_get(pc, "recall")), 0.5, EXACT);
        CHECK_NEAR(json_real_value(json_object_get(pc, "f1")), 0.5, EXACT);
        CHECK(json_object_size(json_object_get(j, "per_class")) == 3);
        json_t *labels = json_object_get(j, "labels");
        CHECK(json_array_size(labels) == 3 && strcmp(json_string_value(json_array_get(labels, 2)), names[2]) == 0);
        json_t *conf = json_object_get(j, "confusion");
        CHECK(json_array_size(conf) == 3);
        CHECK(json_integer_value(json_array_get(json_array_get(conf, 0), 1)) == 1);
        CHECK(json_integer_value(json_array_get(json_array_get(conf, 1), 2)) == 1);
        CHECK(json_integer_value(json_array_get(json_array_get(conf, 2), 0)) == 0);
        /* the dumped text parses back to the same value */
        char *text = json_dumps(j, JSON_SORT_KEYS);
        json_t *back = text ? json_loads(text, 0, NULL) : NULL;
        CHECK(back && json_equal(back, j));
        json_decref(back);
        free(text);
        json_decref(j);
    }

    /* NULL label names: "0", "1", "2" */
    j = gl_metrics_to_json(&m, NULL);
    CHECK(j && json_object_get(json_object_get(j, "per_class"), "2") != NULL);
    CHECK(j && strcmp(json_string_value(json_array_get(json_object_get(j, "labels"), 0)), "0") == 0);
    json_decref(j);

    /* Duplicate or invalid label names are an error, not a silently short map. */
    const char *dup[] = {"a", "b", "a"};
    gl_error_clear();
    CHECK(gl_metrics_to_json(&m, dup) == NULL);
    CHECK(strstr(gl_error_message(), "\"a\" used for more than one class") != NULL);
    const char *bad[] = {"a", "\xFF", "c"};
    CHECK(gl_metrics_to_json(&m, bad) == NULL);
    CHECK(strstr(gl_error_message(), "UTF-8") != NULL);
    gl_metrics_free(&m);
    CHECK(gl_metrics_to_json(&m, NULL) == NULL);
}

/* Reads a JSON array of numbers into out[0..n); returns 0 if it has exactly n. */
static int read_numbers(json_t *a, double *out, size_t n) {
    if (!json_is_array(a) || json_array_size(a) != n) return -1;
    for (size_t i = 0; i < n; i++) out[i] = json_number_value(json_array_get(a, i));
    return 0;
}

static void test_sklearn_fixture(void) {
    json_error_t err;
    json_t *doc = json_load_file(FIXTURE, 0, &err);
    CHECK_MSG(doc != NULL, "%s:%d: %s", FIXTURE, err.line, err.text);
    if (!doc) return;
    json_t *cases = json_object_get(doc, "cases");
    CHECK(json_array_size(cases) >= 4);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const int C = (int)json_integer_value(json_object_get(c, "C"));
        json_t *jt = json_object_get(c, "y_true"), *jp = json_object_get(c, "y_pred");
        const size_t n = json_array_size(jt);
        CHECK_MSG(C > 0 && n > 0 && json_array_size(jp) == n, "case %zu malformed", i);
        if (C <= 0 || n == 0 || json_array_size(jp) != n) continue;
        int *yt = malloc(n * sizeof(int)), *yp = malloc(n * sizeof(int));
        double *want = malloc((size_t)C * sizeof(double));
        if (!yt || !yp || !want) exit(2);
        for (size_t k = 0; k < n; k++) {
            yt[k] = (int)json_integer_value(json_array_get(jt, k));
            yp[k] = (int)json_integer_value(json_array_get(jp, k));
        }
        gl_metrics m;
        CHECK_MSG(gl_metrics_compute(&m, yt, yp, n, C) == 0, "%s: %s", name, gl_error_message());
        static const char *const scalars[] = {"accuracy", "macro_f1", "weighted_f1", "macro_precision",
                                              "macro_recall"};
        const double got[] = {m.accuracy, m.macro_f1, m.weighted_f1, m.macro_precision, m.macro_recall};
        for (int s = 0; s < 5; s++) {
            const double w = json_number_value(json_object_get(c, scalars[s]));
            CHECK_MSG(fabs(got[s] - w) <= SKLEARN_TOL, "%s %s: %.17g vs sklearn %.17g", name, scalars[s], got[s], w);
        }
        static const char *const vecs[] = {"precision", "recall", "f1", "support"};
        for (int v = 0; v < 4; v++) {
            CHECK_MSG(read_numbers(json_object_get(c, vecs[v]), want, (size_t)C) == 0, "%s: %s", name, vecs[v]);
            for (int k = 0; k < C; k++) {
                const double g = v == 0 ? m.precision[k] : v == 1 ? m.recall[k] : v == 2 ? m.f1[k] : (double)m.support[k];
                CHECK_MSG(fabs(g - want[k]) <= SKLEARN_TOL, "%s %s[%d]: %.17g vs sklearn %.17g", name, vecs[v], k, g,
                          want[k]);
            }
        }
        json_t *conf = json_object_get(c, "confusion");
        int conf_ok = json_array_size(conf) == (size_t)C;
        for (int r = 0; conf_ok && r < C; r++) {
            json_t *row = json_array_get(conf, (size_t)r);
            conf_ok = json_array_size(row) == (size_t)C;
            for (int k = 0; conf_ok && k < C; k++)
                conf_ok = json_integer_value(json_array_get(row, (size_t)k)) == m.confusion[(size_t)r * (size_t)C + (size_t)k];
        }
        CHECK_MSG(conf_ok, "%s: confusion matrix differs from sklearn", name);
        gl_metrics_free(&m);
        free(yt);
        free(yp);
        free(want);
    }
    json_decref(doc);
}

int main(void) {
    test_three_classes();
    test_never_predicted_and_absent();
    test_predicted_never_true();
    test_perfect_and_empty();
    test_errors();
    test_json();
    test_sklearn_fixture();
    return check_summary("test_metrics");
}
