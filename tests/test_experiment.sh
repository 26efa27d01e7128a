#!/bin/sh
# test_experiment.sh: tools/experiment.py, the experiment runner: its statistics
# against SciPy's values (tests/fixtures/experiment/stats.json, made by
# tools/make_stats_fixtures.py), a 2-loss x 2-seed grid on the tiny model and
# the sample data (report files, no cell rerun, conflicting settings refused),
# resuming an interrupted cell to the numbers of an uninterrupted one (and
# reporting it as in progress before), the
# CPU-time record of each cell's runs (runs.json), and the records kept apart
# from `out` (report and no rerun from them alone).
set -u
G=${BUILD:-build}/gloss
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL test_experiment: $*"; fails=$((fails + 1)); }
# skipped, not passed (tests/run.sh counts both): the whole test without
# python3 (status 77), the linear-probe part without numpy or scikit-learn
if ! command -v python3 >/dev/null; then echo "test_experiment: skipped (no python3)"; exit 77; fi
skip() { # skip WHAT: a part not run here, recorded for tests/run.sh
    echo "test_experiment: skipped: $*"
    [ -n "${GLOSS_SKIP_LOG:-}" ] && echo "test_experiment.sh: $*" >>"$GLOSS_SKIP_LOG"
}

python3 - <<'PY' || fail "statistics differ from SciPy"
import json, sys
sys.path.insert(0, "tools")
import experiment as ex
f = json.load(open("tests/fixtures/experiment/stats.json"))
bad = 0
for a, b, x, v in f["betainc"]:
    if abs(ex.betainc(a, b, x) - v) > 1e-12:
        print("betainc", a, b, x, ex.betainc(a, b, x), v); bad += 1
for c in f["paired"]:
    t, p = ex.paired_t(c["x"], c["y"])
    _, pw = ex.wilcoxon_exact(c["x"], c["y"])
    if abs(t - c["t"]) > 1e-9 * max(1, abs(c["t"])) or abs(p - c["p_t"]) > 1e-12 \
            or abs(pw - c["p_wilcoxon"]) > 1e-12:
        print("paired", c, t, p, pw); bad += 1
# degenerate inputs: undefined, not an exception
assert ex.paired_t([1.0], [2.0]) == (None, None)
assert ex.paired_t([1.0, 2.0], [0.0, 1.0]) == (None, None)
assert ex.wilcoxon_exact([1.0, 2.0], [1.0, 2.0]) == (None, None)
# ties share average ranks: d = 1, -1, 1 -> ranks 2, 2, 2, W+ = 4
w, p = ex.wilcoxon_exact([2.0, 0.0, 3.0], [1.0, 1.0, 2.0])
assert w == 4.0 and abs(p - 1.0) < 1e-12, (w, p)
# dataset variables in arguments
g = {"gloss": "g", "model": "m", "common": ["--epochs", "1"], "settings": {"default": []},
     "datasets": {"d": {"data": "D", "vars": {"sigma": 0.25}}},
     "losses": {"x": ["--sigma", "{sigma}"], "y": ["--gamma", "{gamma}"]}}
a = ex.cell_args(g, "d", "x", "default", 1, "o")
assert a[-4:] == ["--sigma", "0.25", "--seed", "1"], a
try:
    ex.cell_args(g, "d", "y", "default", 1, "o")
    assert False, "a missing variable was not refused"
except ex.GridError as e:
    assert "gamma" in str(e)
# "pinned": first in the command, overridable, and a cell recorded without
# them (before they were pinned) is still the same cell; any other difference is not
g["pinned"] = ["--lr", "3e-5", "--pool", "pooler"]
a = ex.cell_args(g, "d", "x", "default", 1, "o")
assert a[7:12] == ["o", "--lr", "3e-5", "--pool", "pooler"], a
old = a[:8] + a[12:]
assert ex.same_cell(g, a, a) and ex.same_cell(g, old, a)
assert not ex.same_cell(g, old[:-1] + ["2"], a)
assert not ex.same_cell(g, a[:10] + ["mean"] + a[11:], a)
del g["pinned"]
assert not ex.same_cell(g, old, a) and ex.same_cell(g, old, ex.cell_args(g, "d", "x", "default", 1, "o"))
# a benchmark set recorded where it lay before it shipped (../shared/data/NAME)
# is the same data as data/benchmarks/NAME; other directories stay apart
b = ex.cell_args(g, "d", "x", "default", 1, "o")
b[5] = "data/benchmarks/r8"
for where in ("../shared/data/r8", "../shared/data/r8/", "/work/shared/data/r8"):
    assert ex.same_cell(g, b[:5] + [where] + b[6:], b), where
for where in ("../shared/data/r9", "data/r8", "../shared/r8", "out/data/mr-600"):
    assert not ex.same_cell(g, b[:5] + [where] + b[6:], b), where
print("statistics: %d betainc values and %d paired tests match SciPy %s"
      % (len(f["betainc"]), len(f["paired"]), f["scipy"]))
sys.exit(1 if bad else 0)
PY

grid() { # grid FILE OUT LR SEEDS
    cat >"$1" <<J
{"name": "test grid", "gloss": "$G", "model": "tests/fixtures/model/tiny",
 "out": "$2", "threads": 1,
 "common": ["--epochs", "2", "--max-length", "32", "--batch-size", "16",
            "--limit-train", "96", "--lr", "$3", "--map-points", "40"],
 "datasets": {"sample": {"data": "data/sample"}},
 "losses": {"ce": [], "gloss-paper": ["--loss", "gloss", "--gloss-variant", "paper"]},
 "seeds": [$4]}
J
}
grid "$T/a.json" "$T/a" 1e-3 "1, 2"
python3 tools/experiment.py run "$T/a.json" --jobs 2 >"$T/run1" 2>&1 || { fail "grid run failed"; cat "$T/run1"; }
for f in results-a.md results-a.csv results-a.json results-a-convergence-sample.svg; do
    [ -s "$T/a/$f" ] || fail "no $f"
done
for c in ce gloss-paper; do
    for s in 1 2; do
        d="$T/a/sample/$c/seed$s"
        [ -s "$d/metrics.json" ] && [ -s "$d/command.json" ] || fail "cell $c seed $s incomplete"
        [ -e "$d/checkpoint.safetensors" ] && fail "cell $c seed $s kept its checkpoint"
    done
done
python3 - "$T/a" <<'PY' || fail "report content"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1] + "/results-a.csv")))
assert [r["loss"] for r in rows] == ["ce", "gloss-paper"], rows
assert all(r["n"] == "2" for r in rows)
g = rows[1]
assert g["pairs"] == "2" and g["p_wilcoxon"] != "" and rows[0]["p_t"] == ""
j = json.load(open(sys.argv[1] + "/results-a.json"))
for r in j["rows"]:
    accs = [v["test_accuracy"] for v in r["per_seed"].values()]
    assert abs(r["test_accuracy_mean"] - sum(accs) / len(accs)) < 1e-9
    assert len(r["val_macro_f1_by_epoch"]) == 2
md = open(sys.argv[1] + "/results-a.md").read()
assert "| sample | gloss-paper | default | 2 |" in md and "results-a-convergence-sample.svg" in md, md
assert "embedding_map.svg" in md
svg = open(sys.argv[1] + "/results-a-convergence-sample.svg").read()
assert ">ce (2 seeds)<" in svg and ">gloss-paper (2 seeds)<" in svg, svg
per_seed = md.split("## Per seed")[1]
for r in j["rows"]:
    cells = " | ".join(f"{r['per_seed'][s]['test_macro_f1']:.2f} / {r['per_seed'][s]['test_accuracy']:.2f}"
                       for s in ("1", "2"))
    assert f"| sample | {r['loss']} | default | {cells} |" in per_seed, (cells, per_seed)
# every cell ran once, fresh: runs.json has one record and the CPU column covers both seeds
for r in rows:
    assert r["cpu_minutes_n"] == "2" and float(r["cpu_minutes_mean"]) > 0, r
for c in ("ce", "gloss-paper"):
    for s in (1, 2):
        runs = json.load(open(f"{sys.argv[1]}/sample/{c}/seed{s}/runs.json"))
        assert len(runs) == 1 and runs[0]["exit"] == 0 and not runs[0]["resumed"], runs
        assert 0 < runs[0]["cpu_seconds"] and 0 < runs[0]["wall_seconds"], runs
assert "## Linear probe" not in md   # no cell was probed
PY
# linear-probe results (probe.json from tools/probe.py) join the report, paired with the baseline's
python3 - "$T/a" <<'PY' || fail "linear probe in the report"
import csv, json, subprocess, sys
out = sys.argv[1]
def probe(c, s, f1, acc=0.5):
    json.dump({"probe_test_macro_f1": f1, "probe_test_accuracy": acc},
              open(f"{out}/sample/{c}/seed{s}/probe.json", "w"))
def report():
    subprocess.run([sys.executable, "tools/experiment.py", "report", out + ".json"], check=True,
                   stdout=subprocess.DEVNULL)
    return ({r["loss"]: r for r in csv.DictReader(open(out + "/results-a.csv"))},
            open(out + "/results-a.md").read().split("## Linear probe")[1].split("## Pictures")[0])
probe("ce", 1, 0.5); probe("ce", 2, 0.6); probe("gloss-paper", 1, 0.7)
rows, md = report()
g = rows["gloss-paper"]
assert g["probe_n"] == "1" and g["probe_pairs"] == "1" and abs(float(g["probe_diff_mean"]) - 20) < 1e-9, g
assert g["probe_p_t"] == "" and rows["ce"]["probe_n"] == "2", rows
assert abs(float(rows["ce"]["probe_macro_f1_mean"]) - 55) < 1e-9, rows["ce"]
head1 = json.load(open(out + "/sample/gloss-paper/seed1/metrics.json"))["test"]["macro_f1"] * 100
assert f"| sample | gloss-paper | default | 1 | 50.00 | 70.00 | +20.00 | n/a | {head1:.2f} | n/a | n/a |" in md, md
json.dump({"probe_test_macro_f1": 0.9, "probe_test_accuracy": 0.5, "test_embedding_rms_deviation": 1.5,
           "test_embedding_mean_norm": 2.0}, open(f"{out}/sample/gloss-paper/seed2/probe.json", "w"))
rows, md = report()
g = rows["gloss-paper"]
assert g["probe_pairs"] == "2" and abs(float(g["probe_diff_mean"]) - 25) < 1e-9, g
import math
assert abs(float(g["probe_p_t"]) - (1 - 2 / math.pi * math.atan(5))) < 1e-12, g   # t = 5, 1 df: Cauchy
assert [l for l in md.split("\n") if l.startswith("| sample | gloss-paper |")][0].endswith("| 1.50 | 2.00 |"), md
for c in ("ce", "gloss-paper"):
    for s in (1, 2):
        import os; os.remove(f"{out}/sample/{c}/seed{s}/probe.json")
PY
# tools/probe.py itself (a development tool): with python3 where it has numpy
# and scikit-learn, else in the virtual environment build/pyenv (GLOSS_PYENV)
# of the Python tests, where pip installs them when missing
PROBE_PY=python3
if ! python3 -c "import numpy, sklearn" 2>/dev/null; then
    env_dir=${GLOSS_PYENV:-build/pyenv}
    PROBE_PY=$env_dir/bin/python
    if ! "$PROBE_PY" -c "import numpy, sklearn" 2>/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null; then
        { [ -x "$PROBE_PY" ] || python3 -m venv "$env_dir"; } &&
            "$PROBE_PY" -m pip install -q --disable-pip-version-check numpy scikit-learn >/dev/null 2>&1
    fi
fi
if "$PROBE_PY" -c "import numpy, sklearn" 2>/dev/null; then
    "$PROBE_PY" tools/probe.py "$T/a/sample/ce/seed1" --gloss "$G" >"$T/probe" 2>&1 || { fail "probe.py failed"; cat "$T/probe"; }
    "$PROBE_PY" - "$T/a/sample/ce/seed1" <<'PY' || fail "probe.json content"
import json, sys, numpy as np
p = json.load(open(sys.argv[1] + "/probe.json"))
m = json.load(open(sys.argv[1] + "/metrics.json"))
X = np.load(sys.argv[1] + "/train_embeddings.npy")
hid = json.load(open(sys.argv[1] + "/config.json"))["hidden_size"]
assert X.shape == (p["train_documents"], hid) and p["test_documents"] == m["test"]["n"], (X.shape, p)
assert p["head_test_macro_f1"] == m["test"]["macro_f1"]
assert all(0 <= p[k] <= 1 for k in ("probe_test_accuracy", "probe_test_macro_f1", "probe_train_accuracy"))
E = np.load(sys.argv[1] + "/test_embeddings.npy").astype(np.float64)
# |x|^2 averaged = |mean|^2 + mean squared deviation
assert abs(np.mean((E ** 2).sum(1)) - p["test_embedding_mean_norm"] ** 2 - p["test_embedding_rms_deviation"] ** 2) < 1e-9
assert abs(p["test_embedding_norm_mean"] - np.linalg.norm(E, axis=1).mean()) < 1e-12
PY
    rm -f "$T/a/sample/ce/seed1/probe.json" "$T/a/sample/ce/seed1/train_embeddings.npy"
else
    skip "tools/probe.py not run (numpy or scikit-learn missing, and pip could not install them)"
fi
before=$(ls -l --time-style=+%s.%N "$T"/a/sample/*/seed*/metrics.json | md5sum)
python3 tools/experiment.py run "$T/a.json" >"$T/run2" 2>&1 || fail "second run failed"
grep -q "4 done, 0 to run" "$T/run2" || fail "second run did not find every cell done: $(head -1 "$T/run2")"
after=$(ls -l --time-style=+%s.%N "$T"/a/sample/*/seed*/metrics.json | md5sum)
[ "$before" = "$after" ] || fail "a finished cell was rerun"
# the same options in another order, through another path to gloss: same cell
python3 - "$T/a/sample/ce/seed1/command.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
a = c["args"]
c["args"] = ["./" + a[0], a[1]] + a[-2:] + a[2:-2]
json.dump(c, open(sys.argv[1], "w"))
PY
python3 tools/experiment.py run "$T/a.json" >"$T/run2b" 2>&1 || fail "reordered command not accepted"
grep -q "4 done, 0 to run" "$T/run2b" || fail "reordered command counted as a new cell"
# --only: list and run just the matching cells
n=$(python3 tools/experiment.py list "$T/a.json" --only 'sample/ce/*' --only '*/seed2' | grep -c '^done')
[ "$n" = 3 ] || fail "--only listed $n cells, expected 3"
python3 tools/experiment.py run "$T/a.json" --only 'nosuch/*' >"$T/run2c" 2>&1
[ $? -eq 1 ] && grep -q "no cell matches" "$T/run2c" || fail "--only matching nothing was not an error"
python3 tools/experiment.py run "$T/a.json" --gloss "$T/nosuch" >"$T/run2d" 2>&1
[ $? -eq 1 ] && grep -q "not an executable" "$T/run2d" || fail "a missing --gloss binary was not an error"
# "records": the small files of every finished cell, kept apart from `out`; a
# fresh checkout (no `out`) reports from them and reruns nothing
python3 - "$T" <<'PY' || fail "records grid"
import json, sys
g = json.load(open(sys.argv[1] + "/a.json"))
g.update(records=sys.argv[1] + "/rec", report="results-a")
json.dump(g, open(sys.argv[1] + "/r.json", "w"))
json.dump({"probe_test_macro_f1": 0.5, "probe_test_accuracy": 0.5},
          open(sys.argv[1] + "/a/sample/ce/seed2/probe.json", "w"))
PY
python3 tools/experiment.py report "$T/r.json" >/dev/null 2>&1 || fail "report with records failed"
for c in ce gloss-paper; do
    for s in 1 2; do
        for f in command.json metrics.json epochs.csv runs.json; do
            cmp -s "$T/a/sample/$c/seed$s/$f" "$T/rec/sample/$c/seed$s/$f" || fail "records: $c seed $s $f"
        done
        [ "$(ls "$T/rec/sample/$c/seed$s" | grep -c -v -E '^(command.json|metrics.json|epochs.csv|runs.json|probe.json)$')" = 0 ] \
            || fail "records of $c seed $s hold more than the record files"
    done
done
cmp -s "$T/a/sample/ce/seed2/probe.json" "$T/rec/sample/ce/seed2/probe.json" || fail "a later probe.json was not recorded"
cp "$T/a/results-a.csv" "$T/results-full.csv"
mv "$T/a" "$T/a-gone"
python3 tools/experiment.py run "$T/r.json" >"$T/run-rec" 2>&1 || fail "run from records failed"
grep -q "4 done, 0 to run" "$T/run-rec" || fail "records: cells counted as not done: $(head -1 "$T/run-rec")"
[ -e "$T/a/sample/ce/seed1/metrics.json" ] && fail "records: a recorded cell was rerun"
cmp -s "$T/a/results-a.csv" "$T/results-full.csv" || fail "the report from records differs from the report from out"
python3 - "$T/rec/sample/ce/seed1/command.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["args"][c["args"].index("--lr") + 1] = "5e-3"
json.dump(c, open(sys.argv[1], "w"))
PY
python3 tools/experiment.py run "$T/r.json" >"$T/run-rec2" 2>&1
[ $? -eq 1 ] && grep -q "other arguments" "$T/run-rec2" || fail "records of other arguments were not refused"
rm -rf "$T/a" && mv "$T/a-gone" "$T/a" && rm "$T/a/sample/ce/seed2/probe.json"
grid "$T/b.json" "$T/a" 2e-3 "1, 2"
python3 tools/experiment.py run "$T/b.json" >"$T/run3" 2>&1
[ $? -eq 1 ] && grep -q "other arguments" "$T/run3" || fail "conflicting grid was not refused"

# an interrupted cell resumes and ends where an uninterrupted one does
grid "$T/c.json" "$T/c" 1e-3 "3"
d="$T/c/sample/ce/seed3"
mkdir -p "$d"
OMP_NUM_THREADS=1 "$G" train --model tests/fixtures/model/tiny --data data/sample --out "$d" \
    --epochs 2 --max-length 32 --batch-size 16 --limit-train 96 --lr 1e-3 --map-points 40 \
    --seed 3 --stop-after 1 --quiet >/dev/null 2>&1
[ $? -eq 3 ] || fail "--stop-after did not leave a checkpoint"
# before it finishes, the report lists it in progress and draws it dashed
python3 tools/experiment.py report "$T/c.json" >"$T/rep-c" 2>&1 || fail "report of an unfinished grid failed"
grep -q "No cell has finished yet" "$T/c/results-c.md" \
    && grep -q "^| sample | ce | default | 3 | 1 | " "$T/c/results-c.md" \
    && grep -q 'ce seed 3 (running)' "$T/c/results-c-convergence-sample.svg" \
    && grep -q 'stroke-dasharray' "$T/c/results-c-convergence-sample.svg" \
    || fail "the cell in progress is not reported: $(cat "$T/rep-c")"
python3 - "$T/c" <<'PY' || fail "in_progress in results-c.json"
import json, sys
j = json.load(open(sys.argv[1] + "/results-c.json"))
assert j["rows"] == [] and len(j["in_progress"]) == 1, j["in_progress"]
p = j["in_progress"][0]
assert (p["loss"], p["seed"], p["epochs"], p["best_epoch"]) == ("ce", 3, 1, 1), p
assert 0 <= p["best_val_macro_f1"] <= 1 and len(p["val_curve"]) == 1, p
PY
python3 tools/experiment.py run "$T/c.json" >"$T/run4" 2>&1 || fail "resuming grid failed"
grep -q "(resuming)" "$T/run4" || fail "the partial cell was not resumed"
# its first run was not the runner's, so its CPU time is unknown, not a part
python3 - "$T/c" <<'PY' || fail "a cell with an unrecorded run got a CPU time"
import json as _j, sys as _s
assert _j.load(open(_s.argv[1] + "/results-c.json"))["in_progress"] == []  # finished now
import csv, json, sys
runs = json.load(open(sys.argv[1] + "/sample/ce/seed3/runs.json"))
assert len(runs) == 1 and runs[0]["resumed"] and runs[0]["checkpoint_at_start"], runs
r = list(csv.DictReader(open(sys.argv[1] + "/results-c.csv")))[0]
assert r["cpu_minutes_n"] == "0" and r["cpu_minutes_mean"] == "", r
assert any(l.startswith("| sample | ce |") and l.endswith("| n/a |")
           for l in open(sys.argv[1] + "/results-c.md").read().split("\n"))
PY
# the chain of runs: fresh, stopped, resumed from the checkpoint it left
python3 - "$T" <<'PY' || fail "CPU time of a chain of runs"
import json, os, sys
sys.path.insert(0, "tools")
import experiment as ex
d = os.path.join(sys.argv[1], "chain")
os.makedirs(d)
def cpu(runs):
    json.dump(runs, open(os.path.join(d, "runs.json"), "w"))
    return ex.cell_cpu_seconds(d)
a = {"resumed": False, "exit": 3, "cpu_seconds": 2.0, "checkpoint_at_end": [5, 7]}
b = {"resumed": True, "exit": 0, "cpu_seconds": 3.5, "checkpoint_at_start": [5, 7]}
assert cpu([a, b]) == 5.5
assert cpu([dict(a, exit=0)]) == 2.0
assert cpu([a]) is None                                   # not finished
assert cpu([b]) is None                                   # first run missing
assert cpu([a, dict(b, checkpoint_at_start=[6, 7])]) is None  # a run in between missing
assert cpu([dict(a, exit=1), b]) is None                  # failed, not stopped
assert cpu([]) is None
open(os.path.join(d, "runs.json"), "w").write("{")
assert ex.cell_cpu_seconds(d) is None                     # unreadable record
PY
grid "$T/d.json" "$T/d" 1e-3 "3"
python3 tools/experiment.py run "$T/d.json" >/dev/null 2>&1 || fail "fresh grid failed"
cmp -s "$T/c/sample/ce/seed3/model.safetensors" "$T/d/sample/ce/seed3/model.safetensors" \
    || fail "resumed cell differs from an uninterrupted one"

[ $fails -eq 0 ] && echo "test_experiment: all checks passed"
exit $((fails != 0))
