#!/usr/bin/env python3
"""Tables of the defaults study (docs/defaults.md) from the committed records.

    python3 tools/defaults_report.py GRID.json [GRID.json ...]

For every dataset and setting of the grids: the seeds finished, validation
macro-F1 of the best epoch (mean ± sample std over seeds; the column the
study selects on), validation accuracy, and, reported beside them but never
used to choose, test accuracy and macro-F1. Combined embedding losses add the
means over epochs and seeds of the diagnostics of epochs.csv: the gradient
ratio at the pooled vector, the mean weight of E, label propagation accuracy
on the hidden nodes and the effective neighbours per row of T.
Standard library only.
"""
import csv
import json
import math
import os
import sys


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def std(xs):
    if len(xs) < 2:
        return float("nan")
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def cell(records, ds, loss, seed):
    d = os.path.join(records, ds, loss, f"seed{seed}")
    try:
        m = json.load(open(os.path.join(d, "metrics.json")))
        rows = list(csv.DictReader(open(os.path.join(d, "epochs.csv"))))
    except OSError:
        return None
    diag = {}
    for k in ("grad_ratio", "embedding_weight", "lp_accuracy", "neighbours_median"):
        vals = [float(r[k]) for r in rows if r.get(k) not in (None, "")]
        diag[k] = mean(vals) if vals else None
    return {"val_f1": 100 * m["val"]["macro_f1"], "val_acc": 100 * m["val"]["accuracy"],
            "test_acc": 100 * m["test"]["accuracy"] if m.get("test") else None,
            "test_f1": 100 * m["test"]["macro_f1"] if m.get("test") else None,
            "best_epoch": m.get("best_epoch"), "epochs": m.get("epochs_run"), "seconds": m.get("seconds"),
            "sigma": m.get("objective", {}).get("sigma"), **diag}


def fmt(xs, d=2):
    xs = [x for x in xs if x is not None]
    if not xs:
        return ""
    return f"{mean(xs):.{d}f}" + (f" ± {std(xs):.{d}f}" if len(xs) > 1 else "")


def main(argv):
    for path in argv[1:]:
        g = json.load(open(path))
        print(f"### {os.path.basename(path)}\n\n{g['name']}\n")
        print("| dataset | setting | seeds | val macro-F1 | val accuracy | test accuracy | test macro-F1 | "
              "best epoch | grad ratio | weight of E | LP accuracy | neighbours |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for ds in g["datasets"]:
            for loss in g["losses"]:
                got = [c for s in g["seeds"] if (c := cell(g["records"], ds, loss, s))]
                if not got:
                    continue
                col = lambda k, d=2: fmt([c[k] for c in got], d)
                print(f"| {ds} | {loss} | {len(got)} | {col('val_f1')} | {col('val_acc')} | {col('test_acc')} | "
                      f"{col('test_f1')} | {col('best_epoch', 1)} | {col('grad_ratio', 3)} | "
                      f"{col('embedding_weight', 3)} | {col('lp_accuracy', 3)} | {col('neighbours_median', 1)} |")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
