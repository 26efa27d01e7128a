#!/usr/bin/env python3
"""Print the README's MR comparison table from out/mr-*/ (metrics.json,
epochs.csv; for runs whose metrics.json lacks a silhouette, the output of
`gloss eval` saved as out/mr-<name>-eval.json is used)."""
import csv
import json
import os
import sys

RUNS = [("ce", "cross-entropy", ""),
        ("gloss-paper", "CE + G-Loss (paper)", "--loss gloss --gloss-variant paper"),
        ("gloss-reference", "CE + G-Loss (reference)", "--loss gloss --gloss-variant reference"),
        ("supcon", "CE + SupCon", "--loss supcon --temperature 0.1")]

out = sys.argv[1] if len(sys.argv) > 1 else "out"
for name, label, opts in RUNS:
    d = os.path.join(out, "mr-" + name)
    try:
        m = json.load(open(os.path.join(d, "metrics.json")))
    except OSError:
        print(f"| {label} | (not run) | | | | | `{opts}` |")
        continue
    sil = m.get("silhouette", {}).get("micro")
    if sil is None and os.path.exists(d + "-eval.json"):
        sil = json.load(open(d + "-eval.json"))["silhouette"]["micro"]
    rows = list(csv.DictReader(open(os.path.join(d, "epochs.csv"))))
    spe = sum(float(r["seconds"]) for r in rows) / len(rows)
    t = m["test"]
    extra = ""
    if "objective" in m and "sigma" in m["objective"]:
        extra = f" (sigma {m['objective']['sigma']:.3f})"
    print(f"| {label}{extra} | {100 * t['accuracy']:.2f} | {100 * t['macro_f1']:.2f} | "
          f"{sil:.3f} | {m['best_epoch']} of {m['epochs_run']} | {spe:.0f} | " + (f"`{opts}` |" if opts else "(common settings only) |"))
