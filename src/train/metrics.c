/* metrics.c: classification metrics with scikit-learn's definitions.
 *
 * For classes c in [0, C), from the confusion matrix M (row = true, column =
 * predicted):
 *   tp[c] = M[c][c], support[c] = sum_j M[c][j], predicted[c] = sum_i M[i][c]
 *   precision[c] = tp / predicted           (0 when predicted == 0)
 *   recall[c]    = tp / support             (0 when support == 0)
 *   f1[c]        = 2 tp / (support + predicted)   (0 when both are 0)
 * which is precision_recall_fscore_support(..., labels=range(C),
 * zero_division=0); the F1 form is the one sklearn uses (it equals the harmonic
 * mean of precision and recall wherever that is defined).
 *
 * Averages are over the whole label set: macro = plain mean over all C classes,
 * including classes that never occur in y_true (they count as 0), exactly as
 * sklearn does when called with labels=range(C). Without `labels`, sklearn
 * would average only over the classes present in y_true or y_pred; we choose
 * the fixed label set so that scores are comparable across evaluation sets.
 * weighted = sum_c f1[c] support[c] / n. accuracy = trace(M) / n.
 * With n == 0 every score is 0. */
#include "train/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/error.h"

void gl_metrics_free(gl_metrics *m) {
    if (!m) return;
    free(m->confusion);
    free(m->support);
    free(m->precision);
    free(m->recall);
    free(m->f1);
    memset(m, 0, sizeof *m);
}

int gl_metrics_compute(gl_metrics *m, const int *y_true, const int *y_pred, size_t n, int C) {
    memset(m, 0, sizeof *m);
    if (C <= 0) return gl_error("metrics: number of classes must be positive, got %d", C);
    if (n > 0 && (!y_true || !y_pred)) return gl_error("metrics: NULL label array for %zu examples", n);
    for (size_t i = 0; i < n; i++) {
        if (y_true[i] < 0 || y_true[i] >= C)
            return gl_error("metrics: true label %d at index %zu is outside [0, %d)", y_true[i], i, C);
        if (y_pred[i] < 0 || y_pred[i] >= C)
            return gl_error("metrics: predicted label %d at index %zu is outside [0, %d)", y_pred[i], i, C);
    }
    const size_t c = (size_t)C;
    m->C = C;
    m->n = n;
    m->confusion = gl_calloc(c * c, sizeof(int64_t));
    m->support = gl_calloc(c, sizeof(int64_t));
    m->precision = gl_calloc(c, sizeof(double));
    m->recall = gl_calloc(c, sizeof(double));
    m->f1 = gl_calloc(c, sizeof(double));
    int64_t *predicted = gl_calloc(c, sizeof(int64_t));
    if (!m->confusion || !m->support || !m->precision || !m->recall || !m->f1 || !predicted) {
        free(predicted);
        gl_metrics_free(m);
        return gl_error_prefix("metrics for %d classes: ", C);
    }

    int64_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        const size_t t = (size_t)y_true[i], p = (size_t)y_pred[i];
        m->confusion[t * c + p]++;
        m->support[t]++;
        predicted[p]++;
        correct += t == p;
    }

    double sum_p = 0, sum_r = 0, sum_f = 0, sum_wf = 0;
    for (size_t k = 0; k < c; k++) {
        const double tp = (double)m->confusion[k * c + k];
        const int64_t sup = m->support[k], pred = predicted[k];
        m->precision[k] = pred > 0 ? tp / (double)pred : 0.0;
        m->recall[k] = sup > 0 ? tp / (double)sup : 0.0;
        m->f1[k] = sup + pred > 0 ? 2.0 * tp / (double)(sup + pred) : 0.0;
        sum_p += m->precision[k];
        sum_r += m->recall[k];
        sum_f += m->f1[k];
        sum_wf += m->f1[k] * (double)sup;
    }
    free(predicted);

    if (n > 0) {
        m->accuracy = (double)correct / (double)n;
        m->weighted_f1 = sum_wf / (double)n;
    }
    m->macro_precision = sum_p / (double)C;
    m->macro_recall = sum_r / (double)C;
    m->macro_f1 = sum_f / (double)C;
    return 0;
}

/* Adds key -> value to obj; returns -1 (value released) on failure. */
static int put(json_t *obj, const char *key, json_t *value) {
    return value && json_object_set_new(obj, key, value) == 0 ? 0 : -1;
}

static json_t *per_class_json(const gl_metrics *m, int k) {
    json_t *o = json_object();
    if (!o) return NULL;
    if (put(o, "precision", json_real(m->precision[k])) || put(o, "recall", json_real(m->recall[k])) ||
        put(o, "f1", json_real(m->f1[k])) || put(o, "support", json_integer((json_int_t)m->support[k]))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *gl_metrics_to_json(const gl_metrics *m, const char *const *labels) {
    if (!m || m->C <= 0 || !m->confusion) {
        gl_error("metrics to JSON: no metrics computed");
        return NULL;
    }
    const int C = m->C;
    json_t *root = json_object(), *per = json_object(), *conf = json_array(), *names = json_array();
    int ok = root && per && conf && names;
    if (ok)
        ok = !put(root, "accuracy", json_real(m->accuracy)) && !put(root, "macro_f1", json_real(m->macro_f1)) &&
             !put(root, "weighted_f1", json_real(m->weighted_f1)) &&
             !put(root, "macro_precision", json_real(m->macro_precision)) &&
             !put(root, "macro_recall", json_real(m->macro_recall)) &&
             !put(root, "n", json_integer((json_int_t)m->n));
    for (int k = 0; ok && k < C; k++) {
        char num[24];
        const char *name = labels && labels[k] ? labels[k] : NULL;
        if (!name) {
            snprintf(num, sizeof num, "%d", k);
            name = num;
        }
        if (json_object_get(per, name)) {
            json_decref(root), json_decref(per), json_decref(conf), json_decref(names);
            gl_error("metrics to JSON: label name \"%s\" used for more than one class", name);
            return NULL;
        }
        ok = !put(per, name, per_class_json(m, k)) && json_array_append_new(names, json_string(name)) == 0;
        json_t *row = ok ? json_array() : NULL;
        for (int j = 0; row && j < C; j++)
            if (json_array_append_new(row, json_integer((json_int_t)m->confusion[(size_t)k * (size_t)C + (size_t)j])))
                json_decref(row), row = NULL;
        ok = row && json_array_append_new(conf, row) == 0;
    }
    if (ok) {
        ok = json_object_set(root, "per_class", per) == 0 && json_object_set(root, "confusion", conf) == 0 &&
             json_object_set(root, "labels", names) == 0;
    }
    json_decref(per);
    json_decref(conf);
    json_decref(names);
    if (!ok) {
        json_decref(root);
        gl_error("metrics to JSON: out of memory or invalid label name (labels must be UTF-8)");
        return NULL;
    }
    return root;
}
