#!/usr/bin/env python3
"""Reference values for the statistics of tools/experiment.py, from SciPy:
regularised incomplete beta, two-sided paired t-test and the exact two-sided
Wilcoxon signed-rank test. Writes tests/fixtures/experiment/stats.json, which
tests/test_experiment.sh checks without SciPy."""
import json
import random

import scipy
from scipy import special, stats

rng = random.Random(7)
out = {"scipy": scipy.__version__, "betainc": [], "paired": []}
for a, b in [(0.5, 0.5), (1.0, 0.5), (2.5, 0.5), (10.0, 0.5), (0.5, 3.0), (4.0, 7.0), (30.0, 0.5)]:
    for x in [1e-6, 0.01, 0.2, 0.5, 0.77, 0.95, 0.999]:
        out["betainc"].append([a, b, x, float(special.betainc(a, b, x))])
for n in [2, 3, 4, 5, 6, 8, 10]:
    for _ in range(3):
        y = [rng.uniform(70, 90) for _ in range(n)]
        x = [v + rng.gauss(0.5, 1.0) for v in y]
        t = stats.ttest_rel(x, y)
        w = stats.wilcoxon(x, y, zero_method="wilcox", method="exact")
        out["paired"].append({"x": x, "y": y, "t": float(t.statistic), "p_t": float(t.pvalue),
                              "p_wilcoxon": float(w.pvalue)})
with open("tests/fixtures/experiment/stats.json", "w") as f:
    json.dump(out, f, indent=1)
print(len(out["betainc"]), "betainc values,", len(out["paired"]), "paired cases")
