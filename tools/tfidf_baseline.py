#!/usr/bin/env python3
"""TF-IDF + linear SVM baseline on the benchmark sets: the number a fine-tuned
encoder has to beat. Word uni- and bigrams (sublinear tf, min_df 2) and
character 2-5-grams within word boundaries, a LinearSVC with balanced class
weights; C is chosen on the validation split (macro-F1, over 0.03 .. 30), the
test split is scored once with that C.

    python3 tools/tfidf_baseline.py [--data data/benchmarks] [--out experiments/tfidf-svm.json] [NAME...]

--data: a folder of NAME/SPLIT.csv files, or NAME/SPLIT.csv.gz as shipped in
data/benchmarks (tools/make_benchmark_data.py).

Needs scikit-learn (PyPI). Writes JSON atomically: per dataset the chosen C,
validation macro-F1 per C, test accuracy and macro-F1, seconds.
"""
import argparse
import csv
import gzip
import json
import os
import sys
import time

from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.svm import LinearSVC

NAMES = ["mr", "r8", "r52", "ohsumed", "20ng"]
CS = [0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]


def read(folder, split):
    """folder/SPLIT.csv, else folder/SPLIT.csv.gz: texts and labels."""
    path = os.path.join(folder, split + ".csv")
    opener = open
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path, opener = path + ".gz", gzip.open
    csv.field_size_limit(1 << 30)
    with opener(path, "rt", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def run(folder):
    t0 = time.time()
    xtr, ytr = read(folder, "train")
    xva, yva = read(folder, "val")
    xte, yte = read(folder, "test")
    word = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2, lowercase=True)
    char = TfidfVectorizer(sublinear_tf=True, analyzer="char_wb", ngram_range=(2, 5), min_df=2, lowercase=True)
    Xtr = hstack([word.fit_transform(xtr), char.fit_transform(xtr)]).tocsr()
    Xva = hstack([word.transform(xva), char.transform(xva)]).tocsr()
    Xte = hstack([word.transform(xte), char.transform(xte)]).tocsr()
    val = {}
    for c in CS:
        m = LinearSVC(C=c, class_weight="balanced").fit(Xtr, ytr)
        val[str(c)] = f1_score(yva, m.predict(Xva), average="macro")
    best = max(CS, key=lambda c: (val[str(c)], -c))  # a tie: the smaller C
    m = LinearSVC(C=best, class_weight="balanced").fit(Xtr, ytr)
    p = m.predict(Xte)
    return {"C": best, "val_macro_f1_by_C": val, "val_macro_f1": val[str(best)],
            "test_accuracy": accuracy_score(yte, p), "test_macro_f1": f1_score(yte, p, average="macro"),
            "features": Xtr.shape[1], "seconds": round(time.time() - t0, 1)}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", default=NAMES)
    ap.add_argument("--data", default="data/benchmarks")
    ap.add_argument("--out", default="experiments/tfidf-svm.json")
    a = ap.parse_args(argv[1:])
    res = {}
    if os.path.exists(a.out):
        with open(a.out) as f:
            res = json.load(f)
    for n in a.names:
        res[n] = run(os.path.join(a.data, n))
        r = res[n]
        print(f"{n:8s} C={r['C']:<5g} val macro-F1 {100 * r['val_macro_f1']:.2f}  test accuracy "
              f"{100 * r['test_accuracy']:.2f}  macro-F1 {100 * r['test_macro_f1']:.2f}  ({r['seconds']} s)",
              flush=True)
        write(a.out, res)  # after every dataset: a stopped run keeps what it finished
    return 0


def write(path, res):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=1, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
