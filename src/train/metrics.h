/* metrics.h: classification metrics (accuracy, macro/weighted F1, per-class
 * precision/recall/F1, confusion matrix) as scikit-learn defines them. */
#ifndef GL_METRICS_H
#define GL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef struct {
    int C;
    size_t n;
    int64_t *confusion; /* C x C, row = true class, column = predicted class */
    int64_t *support;   /* true count per class */
    double *precision, *recall, *f1; /* per class; 0 where undefined (sklearn zero_division=0) */
    double accuracy, macro_f1, weighted_f1, macro_precision, macro_recall;
} gl_metrics;

/* Labels are class indices in [0, C). Returns -1 on allocation failure or a label out of range. */
int gl_metrics_compute(gl_metrics *m, const int *y_true, const int *y_pred, size_t n, int C);
void gl_metrics_free(gl_metrics *m);
/* {"accuracy", "macro_f1", "weighted_f1", "macro_precision", "macro_recall", "n",
 *  "per_class": {label: {"precision", "recall", "f1", "support"}}, "confusion": [[...]], "labels": [...]} */
json_t *gl_metrics_to_json(const gl_metrics *m, const char *const *labels);

#endif
