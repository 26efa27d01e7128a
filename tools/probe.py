#!/usr/bin/env python3
"""Linear probe of a finished `gloss train` run: how separable are its embeddings?

    python3 tools/probe.py CELL_DIR [CELL_DIR...] [--gloss BIN]

A run's test score measures its encoder and its head together. When a run
collapses (one class predicted for almost everything) while its t-SNE map still
shows class clusters, this tells the two apart: it encodes the run's training
split with the fine-tuned encoder (`gloss embed`, same pooling and length as
the run, evaluation mode), fits a class-balanced multinomial logistic
regression on those frozen embeddings (scikit-learn, L2, C = 1), and scores it
on the run's own test embeddings (test_embeddings.npy, written by the run).
Macro-F1 is over the run's whole label set with zero_division 0, as gloss
computes it, so the two lines are comparable.

probe.json also describes the geometry of the raw test embeddings that the
head sees: their mean norm, the norm of their mean vector, and their RMS
deviation from that mean (the spread the head has to work with).

Writes CELL_DIR/probe.json (atomically) and caches the training embeddings in
CELL_DIR/train_embeddings.npy. Development tool: needs numpy and scikit-learn.
"""
import argparse
import csv
import gzip
import json
import os
import subprocess
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from experiment import data_dir, write_atomic  # noqa: E402  (the runner's temp-fsync-rename)


def data_file(data, split):
    """data/SPLIT.csv, else data/SPLIT.csv.gz (data/benchmarks, as shipped)."""
    path = os.path.join(data, split + ".csv")
    return path if os.path.exists(path) or not os.path.exists(path + ".gz") else path + ".gz"


def labels_of(path, col):
    csv.field_size_limit(1 << 30)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="", encoding="utf-8") as f:
        return [row[col] for row in csv.DictReader(f)]


def probe(cell, gloss):
    m = json.load(open(os.path.join(cell, "metrics.json")))
    o = m["options"]
    data, label_col = o["data"], o["label_col"]
    if not os.path.isdir(data):  # a run from before the benchmark sets shipped: ../shared/data/NAME
        data = data_dir(data)
    train_npy = os.path.join(cell, "train_embeddings.npy")
    if not os.path.exists(train_npy):
        subprocess.run([gloss, "embed", "--model", cell, "--input", data_file(data, "train"),
                        "--output", train_npy, "--pool", o["pool"], "--max-length", str(o["max_length"]),
                        "--text-col", o["text_col"], "--normalize", "no", "--quiet"], check=True)
        # --normalize no: test_embeddings.npy, which the probe is scored on, holds the
        # pooled vectors before a checkpoint's Normalize module
    Xtr = np.load(train_npy).astype(np.float64)
    Xte = np.load(os.path.join(cell, "test_embeddings.npy")).astype(np.float64)
    ytr = labels_of(data_file(data, "train"), label_col)
    yte = labels_of(data_file(data, "test"), label_col)
    if len(ytr) != len(Xtr) or len(yte) != len(Xte):
        sys.exit(f"{cell}: {len(Xtr)} train / {len(Xte)} test embeddings for {len(ytr)} / {len(yte)} documents")
    labels = m["test"]["labels"]
    clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000)
    clf.fit(Xtr, ytr)
    pred = clf.predict(Xte)
    res = {
        "probe": "multinomial logistic regression, L2 C=1, balanced class weights, on frozen training embeddings",
        "train_documents": len(ytr),
        "test_documents": len(yte),
        "probe_test_accuracy": accuracy_score(yte, pred),
        "probe_test_macro_f1": f1_score(yte, pred, labels=labels, average="macro", zero_division=0),
        "probe_train_accuracy": accuracy_score(ytr, clf.predict(Xtr)),
        "head_test_accuracy": m["test"]["accuracy"],
        "head_test_macro_f1": m["test"]["macro_f1"],
        "test_embedding_norm_mean": float(np.linalg.norm(Xte, axis=1).mean()),
        "test_embedding_mean_norm": float(np.linalg.norm(Xte.mean(axis=0))),
        "test_embedding_rms_deviation": float(np.sqrt(((Xte - Xte.mean(axis=0)) ** 2).sum(axis=1).mean())),
    }
    write_atomic(os.path.join(cell, "probe.json"), json.dumps(res, indent=1) + "\n")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cells", nargs="+", metavar="CELL_DIR")
    ap.add_argument("--gloss", default="build/gloss", help="gloss binary (default build/gloss)")
    a = ap.parse_args()
    print("| run | head: test acc / macro-F1 | linear probe: test acc / macro-F1 |")
    print("|---|---|---|")
    for cell in a.cells:
        r = probe(cell, a.gloss)
        print(f"| {cell} | {100 * r['head_test_accuracy']:.2f} / {100 * r['head_test_macro_f1']:.2f} | "
              f"{100 * r['probe_test_accuracy']:.2f} / {100 * r['probe_test_macro_f1']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
