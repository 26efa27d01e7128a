#!/usr/bin/env python3
"""Writes tests/fixtures/metrics/sklearn_metrics.json: random prediction sets and
the scores scikit-learn gives them, for tests/test_metrics.c.

Every score is computed with labels=list(range(C)) and zero_division=0, the
definitions src/train/metrics.c implements (macro averages run over all C
classes, including classes absent from y_true). Cases:

  binary          C=2,  n=57, roughly 70% correct
  c8_absent       C=8,  n=200; classes 6 and 7 never occur in y_true (7 is still
                  predicted sometimes), class 5 is never predicted
  c52_absent      C=52, n=400; ten classes absent from y_true, a few of them
                  predicted; skewed class frequencies
  c52_unseen      C=52, n=60; most classes absent from both y_true and y_pred

Floats are written with Python's repr (shortest round-trip form), so the C test
can compare to 1e-12. Run from the repository root:
    python3 tools/make_metrics_fixture.py
Needs numpy and scikit-learn (pip install scikit-learn).
"""
import json
import os

import numpy as np
import sklearn
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

OUT = os.path.join("tests", "fixtures", "metrics", "sklearn_metrics.json")


def noisy_predictions(rng, y_true, C, p_correct, allowed_pred):
    """Copy y_true, then replace a (1 - p_correct) share with a random allowed class."""
    y_pred = y_true.copy()
    flip = rng.random(len(y_true)) > p_correct
    y_pred[flip] = rng.choice(allowed_pred, size=int(flip.sum()))
    # Classes not allowed as predictions (e.g. "never predicted") are remapped.
    bad = ~np.isin(y_pred, allowed_pred)
    y_pred[bad] = rng.choice(allowed_pred, size=int(bad.sum()))
    return y_pred


def scores(name, C, y_true, y_pred):
    labels = list(range(C))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    mp, mr, mf, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    return {
        "name": name,
        "C": C,
        "y_true": [int(v) for v in y_true],
        "y_pred": [int(v) for v in y_pred],
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "macro_precision": float(mp),
        "macro_recall": float(mr),
        "macro_f1_prfs": float(mf),
        "precision": [float(v) for v in p],
        "recall": [float(v) for v in r],
        "f1": [float(v) for v in f],
        "support": [int(v) for v in s],
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def main():
    rng = np.random.default_rng(20240611)
    cases = []

    y = rng.integers(0, 2, size=57)
    cases.append(scores("binary", 2, y, noisy_predictions(rng, y, 2, 0.7, np.arange(2))))

    y = rng.integers(0, 6, size=200)  # classes 6, 7 absent from y_true
    allowed = np.array([0, 1, 2, 3, 4, 6, 7])  # 5 never predicted
    cases.append(scores("c8_absent", 8, y, noisy_predictions(rng, y, 8, 0.6, allowed)))

    absent = rng.choice(52, size=10, replace=False)
    present = np.setdiff1d(np.arange(52), absent)
    w = rng.random(len(present)) ** 2 + 0.02
    y = rng.choice(present, size=400, p=w / w.sum())
    allowed = np.concatenate([present, absent[:3]])
    cases.append(scores("c52_absent", 52, y, noisy_predictions(rng, y, 52, 0.55, allowed)))

    y = rng.choice(np.arange(0, 52, 7), size=60)
    cases.append(scores("c52_unseen", 52, y, noisy_predictions(rng, y, 52, 0.5, np.arange(0, 52, 5))))

    for c in cases:
        assert abs(c["macro_f1"] - c["macro_f1_prfs"]) < 1e-15
        del c["macro_f1_prfs"]

    doc = {"generator": "tools/make_metrics_fixture.py", "sklearn_version": sklearn.__version__, "cases": cases}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT + ".tmp", "w") as fh:
        # One case per line: compact, yet diffs stay readable.
        head = json.dumps({k: v for k, v in doc.items() if k != "cases"})[:-1]
        fh.write(head + ', "cases": [\n')
        fh.write(",\n".join(json.dumps(c) for c in cases))
        fh.write("\n]}\n")
    os.replace(OUT + ".tmp", OUT)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
