#!/bin/sh
# test_tune.sh: tools/tune.py, the Optuna hyper-parameter search, on the tiny
# model and the sample data: 2 losses x 4 trials x 2 epochs, 2 trials at a
# time, a median pruner. The driver killed (SIGKILL) mid-run and rerun reaches
# exactly 4 finished trials per study without redoing one, the interrupted
# trials' parameters enqueued again; the same after Ctrl-C (SIGINT), which
# leaves no trial RUNNING and no process behind; the real gloss binary; failed
# trials (not counted, given up after max_failures); the report's and `best`'s
# best value is the largest validation macro-F1 of the complete trials, read
# from their epochs.csv, while metrics.json carries other numbers (test metrics
# are never read); the file checks (a loss setting its own trial count, an
# option gloss does not have, a driver option in "common").
# Optuna is installed with pip into the virtual environment build/pyenv
# (GLOSS_PYENV), where python/run_tests.sh also puts the Python package; exit
# status 77 (skipped) where python3 or its venv module is missing.
set -u
G=${BUILD:-build}/gloss
case $G in /*) ;; *) G=$(pwd)/$G ;; esac
fails=0
fail() { echo "FAIL test_tune: $*"; fails=$((fails + 1)); }
if ! command -v python3 >/dev/null; then echo "test_tune: skipped (no python3)"; exit 77; fi
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "test_tune: skipped (python3 has no venv module; Debian: apt-get install python3-venv)"
    exit 77
fi
env_dir=${GLOSS_PYENV:-build/pyenv}
PY=$env_dir/bin/python
if ! "$PY" -c 'import optuna' >/dev/null 2>&1; then
    [ -x "$PY" ] || python3 -m venv "$env_dir" || { echo "FAIL test_tune: python3 -m venv $env_dir"; exit 1; }
    "$PY" -m pip install -q --disable-pip-version-check optuna ||
        { echo "FAIL test_tune: pip install optuna into $env_dir"; exit 1; }
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
start=$(date +%s)

# a gloss that shows its epochs slowly, so that the driver is caught mid-trial
# and the pruner sees epoch 1 before epoch 2: it trains into OUT/run, then
# writes OUT/epochs.csv a line every 0.5 s, and a metrics.json whose
# validation and test macro-F1 are both 0.999 (which no objective may take).
# While the file hold exists, it waits before training (until a signal)
cat >"$T/slowgloss" <<EOF
#!/usr/bin/env python3
import json, os, signal, subprocess, sys, time
real = "$G"
argv = sys.argv[1:]
if argv[:1] != ["train"] or "--out" not in argv:
    os.execv(real, [real] + argv)
i = argv.index("--out") + 1
out = argv[i]
argv[i] = os.path.join(out, "run")
child, stopping = None, False
def term(signum, frame):   # like gloss: exit status 3 (after the child's)
    global stopping
    if child is not None and child.returncode is None:
        stopping = True
        os.kill(child.pid, signal.SIGTERM)
        return
    sys.exit(3)
signal.signal(signal.SIGTERM, term)
while os.path.exists("$T/hold"):   # held: waits for a signal
    time.sleep(0.05)
child = subprocess.Popen([real] + argv)
rc = child.wait()
if stopping:
    sys.exit(3)
if rc:
    sys.exit(rc)
lines = open(os.path.join(out, "run", "epochs.csv")).read().splitlines(True)
with open(os.path.join(out, "epochs.csv"), "w") as f:
    f.write(lines[0])
    f.flush()
    for line in lines[1:]:
        time.sleep(0.5)
        f.write(line)
        f.flush()
m = json.load(open(os.path.join(out, "run", "metrics.json")))
m["val"]["macro_f1"] = m["test"]["macro_f1"] = 0.999
json.dump(m, open(os.path.join(out, "metrics.json"), "w"))
EOF
chmod +x "$T/slowgloss"

tune() { # tune FILE NAME GLOSS [extra JSON fields]
    cat >"$1" <<J
{"name": "$2", "gloss": "$3", "model": "tests/fixtures/model/tiny",
 "out": "$T/out", "storage": "$T/db/$2.sqlite3", "threads": 1, "jobs": 2,
 "common": ["--max-length", "32", "--batch-size", "16", "--limit-train", "96",
            "--map-points", "0", "--patience", "0"],
 "trials": 4, "max_epochs": 2, "seed": 42, "sampler_seed": 7, "poll_seconds": 0.2,
 "pruner": {"type": "median", "n_startup_trials": 1, "n_warmup_steps": 0},
 "datasets": {"sample": {"data": "data/sample"}},
 "losses": {
  "ce": {"space": {"lr": {"float": [1e-4, 3e-2], "log": true},
                   "head-lr": {"float": [1e-3, 1e-1], "log": true}}},
  "gloss": {"args": ["--loss", "gloss"],
            "space": {"lr": {"float": [1e-4, 3e-2], "log": true},
                      "gloss-variant": {"choice": ["paper", "reference"]},
                      "sigma": {"int": [2, 8], "format": "knn:{}"},
                      "gamma": {"float": [0.5, 0.9]}}}}$4}
J
}

# the state of the studies of a storage as JSON lines, for the checks below
cat >"$T/state.py" <<'PY'
import json, sys
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
url = "sqlite:///" + sys.argv[1]
out = {}
for name in sorted(optuna.study.get_all_study_names(url)):
    st = optuna.load_study(study_name=name, storage=url)
    out[name] = [{"number": t.number, "state": t.state.name, "value": t.value,
                  "params": t.params, "attrs": t.user_attrs,
                  "complete": str(t.datetime_complete)} for t in st.get_trials()]
json.dump(out, open(sys.argv[2], "w"))
PY
state() { "$PY" "$T/state.py" "$1" "$2" || fail "reading $1"; }

# wait_for DB COND: until the storage's trials satisfy COND (python over
# done: trials COMPLETE or PRUNED, running: trials RUNNING whose gloss was
# started, over all studies), at most 60 s
wait_for() {
    "$PY" - "$1" "$2" <<'PY'
import sqlite3, sys, time
end = time.time() + 60
while time.time() < end:
    try:
        c = sqlite3.connect(sys.argv[1], timeout=5)
        rows = dict(c.execute("SELECT state, count(*) FROM trials GROUP BY state").fetchall())
        # RUNNING with its process started (parameters sampled, "pid" recorded)
        started = c.execute("SELECT count(*) FROM trials t JOIN trial_user_attributes a"
                            " ON a.trial_id = t.trial_id WHERE t.state = 'RUNNING'"
                            " AND a.key = 'pid'").fetchone()[0]
        c.close()
    except sqlite3.Error:   # not created yet
        rows, started = {}, 0
    done = rows.get("COMPLETE", 0) + rows.get("PRUNED", 0)
    running = started
    if eval(sys.argv[2]):
        sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
PY
}

# ---- the file checks
tune "$T/bad1.json" bad1 "$G" ''
sed 's/"ce": {"space"/"ce": {"trials": 8, "space"/' "$T/bad1.json" >"$T/bad2.json"
"$PY" tools/tune.py run "$T/bad2.json" >"$T/o" 2>&1 && fail "a loss with its own trials accepted"
grep -q "bad2.json: losses.ce.trials: every loss gets the same effort" "$T/o" ||
    fail "per-loss trials: $(cat "$T/o")"
sed 's/"head-lr": {/"head-lrr": {/' "$T/bad1.json" >"$T/bad3.json"
"$PY" tools/tune.py run "$T/bad3.json" >"$T/o" 2>&1 && fail "an unknown option accepted"
grep -q "bad3.json: losses.ce.space.head-lrr: gloss train has no option --head-lrr" "$T/o" ||
    fail "unknown option: $(cat "$T/o")"
sed 's/"--patience", "0"/"--epochs", "3"/' "$T/bad1.json" >"$T/bad4.json"
"$PY" tools/tune.py run "$T/bad4.json" >"$T/o" 2>&1 && fail "--epochs in common accepted"
grep -q "bad4.json: common: --epochs is set by the driver (from max_epochs)" "$T/o" ||
    fail "--epochs in common: $(cat "$T/o")"
sed 's/"lr": {"float": \[1e-4, 3e-2\], "log": true},/"lr": {"float": [0, 3e-2], "log": true},/' \
    "$T/bad1.json" >"$T/bad5.json"
"$PY" tools/tune.py run "$T/bad5.json" >"$T/o" 2>&1 && fail "log scale from 0 accepted"
grep -q "bad5.json: losses.ce.space.lr: a log scale needs low > 0" "$T/o" || fail "log from 0: $(cat "$T/o")"
[ -e "$T/db" ] && fail "a refused file created its storage"

# ---- a run killed with SIGKILL mid-run, then resumed
tune "$T/a.json" a "$T/slowgloss" ''
DB=$T/db/a.sqlite3
"$PY" tools/tune.py run "$T/a.json" >"$T/run1" 2>&1 &
pid=$!
if wait_for "$DB" "done >= 2 and running >= 1"; then
    kill -KILL $pid
else
    fail "no trial finished or ran in 60 s"; cat "$T/run1"; kill -KILL $pid
fi
wait $pid 2>/dev/null
state "$DB" "$T/s1.json"
"$PY" tools/tune.py run "$T/a.json" >"$T/run2" 2>&1 || { fail "resumed run failed"; cat "$T/run2"; }
grep -q "left running by a stopped run marked FAIL" "$T/run2" || fail "no trial recovered: $(cat "$T/run2")"
state "$DB" "$T/s2.json"
"$PY" - "$T/s1.json" "$T/s2.json" "$T/out/a" <<'PY' || fail "resume after SIGKILL"
import csv, json, os, sys
s1, s2 = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert sorted(s2) == ["sample/ce", "sample/gloss"], sorted(s2)
was_running = 0
for name, trials in s2.items():
    by = {t["number"]: t for t in trials}
    fin = [t for t in trials if t["state"] in ("COMPLETE", "PRUNED")]
    assert len(fin) == 4, (name, [(t["number"], t["state"]) for t in trials])
    assert not [t for t in trials if t["state"] == "RUNNING"], name
    for t in s1.get(name, []):
        if t["state"] in ("COMPLETE", "PRUNED"):   # finished before the kill: untouched
            assert by[t["number"]] == t, (t, by[t["number"]])
        if t["state"] == "RUNNING":                # left running: FAIL, parameters run again
            assert by[t["number"]]["state"] == "FAIL" and "failure" not in by[t["number"]]["attrs"]
            again = [u for u in trials if u["attrs"].get("requeued_from") == t["number"]]
            if t["params"]:   # (none where the kill came between Optuna's ask and the sampling)
                was_running += 1
                assert len(again) == 1 and again[0]["params"] == t["params"], (t, again)
                assert again[0]["state"] in ("COMPLETE", "PRUNED"), again
            else:
                assert not again, again
    for t in fin:
        a = t["attrs"]
        assert a["state"] == t["state"].lower() and a["cpu_seconds"] > 0 and a["wall_seconds"] > 0, a
        assert a["command"][1] == "train", a["command"]
        assert a["command"][-5:] == ["--epochs", "2", "--seed", "42", "--quiet"], a["command"]
        rows = list(csv.DictReader(open(os.path.join(a["dir"], "epochs.csv"))))
        assert a["epochs"] == len(rows) >= 1, (a, rows)
        if t["state"] == "COMPLETE":
            vals = [float(r["val_macro_f1"]) for r in rows]
            assert abs(t["value"] - max(vals)) < 1e-12 and t["value"] < 0.99, (t["value"], vals)
            assert int(rows[vals.index(max(vals))]["epoch"]) == a["best_epoch"], a
assert was_running >= 1, "no trial was running at the kill"
PY
# no process of the killed run is left (the resumed run stopped or outlived them)
sleep 1
ps -eo args | grep -F "$T/" | grep -v grep >"$T/ps" && fail "processes left: $(cat "$T/ps")"

# a finished study is not rerun
"$PY" tools/tune.py run "$T/a.json" >"$T/run3" 2>&1 || fail "third run failed"
state "$DB" "$T/s3.json"
cmp -s "$T/s2.json" "$T/s3.json" || fail "a finished study ran again"
grep -q "sample/gloss: 4 of 4 trials finished" "$T/run3" || fail "third run: $(cat "$T/run3")"

# ---- Ctrl-C (SIGINT, which a shell's background job ignores unless reset),
# while 2 trials run (held)
touch "$T/hold"
"$PY" -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execv(sys.argv[1], sys.argv[1:])' \
    "$PY" tools/tune.py run "$T/a.json" --trials 6 >"$T/run4" 2>&1 &
pid=$!
wait_for "$DB" "running >= 2" || fail "no 2 trials ran after the fourth in 60 s"
kill -INT $pid
wait $pid
rc=$?
rm -f "$T/hold"
[ $rc -eq 130 ] || fail "Ctrl-C: exit status $rc, not 130"
grep -q "interrupted: stopping" "$T/run4" || fail "Ctrl-C: $(cat "$T/run4")"
ps -eo args | grep -F "$T/" | grep -v grep >"$T/ps" && fail "processes left after Ctrl-C: $(cat "$T/ps")"
state "$DB" "$T/s4.json"
"$PY" tools/tune.py run "$T/a.json" --trials 6 >"$T/run5" 2>&1 || { fail "run after Ctrl-C failed"; cat "$T/run5"; }
grep -q "left running" "$T/run5" && fail "Ctrl-C left trials RUNNING"
state "$DB" "$T/s5.json"
"$PY" - "$T/s4.json" "$T/s5.json" <<'PY' || fail "resume after Ctrl-C"
import json, sys
s4, s5 = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
stopped = 0
for name, trials in s4.items():
    assert not [t for t in trials if t["state"] == "RUNNING"], (name, "RUNNING after Ctrl-C")
    for t in trials:
        if t["state"] == "FAIL" and "failure" not in t["attrs"] and t["attrs"].get("state") == "interrupted":
            stopped += 1
            waiting = [u for u in trials if u["attrs"].get("requeued_from") == t["number"]]
            assert len(waiting) == 1 and waiting[0]["state"] == "WAITING", waiting
            after = [u for u in s5[name] if u["number"] == waiting[0]["number"]][0]
            assert after["state"] in ("COMPLETE", "PRUNED") and after["params"] == t["params"], (after, t)
    by5 = {t["number"]: t for t in s5[name]}
    for t in trials:
        if t["state"] in ("COMPLETE", "PRUNED"):
            assert by5[t["number"]] == t, t
for name, trials in s5.items():
    assert len([t for t in trials if t["state"] in ("COMPLETE", "PRUNED")]) == 6, name
assert stopped == 2, f"{stopped} trials stopped by Ctrl-C, not the 2 running"
PY

# ---- the real gloss, two more trials per study
"$PY" tools/tune.py run "$T/a.json" --trials 8 --gloss "$G" >"$T/run6" 2>&1 || { fail "real gloss run failed"; cat "$T/run6"; }
state "$DB" "$T/s6.json"
"$PY" - "$T/s6.json" "$G" <<'PY' || fail "trials of the real gloss"
import json, sys
s = json.load(open(sys.argv[1]))
for name, trials in s.items():
    real = [t for t in trials if t["attrs"].get("command", [""])[0] == sys.argv[2]]
    assert len(real) == 2 and all(t["state"] in ("COMPLETE", "PRUNED") for t in real), real
    assert len([t for t in trials if t["state"] in ("COMPLETE", "PRUNED")]) == 8, name
PY

# ---- report and best: the largest validation macro-F1 of the complete trials
"$PY" tools/tune.py report "$T/a.json" >"$T/rep" 2>&1 || fail "report failed: $(cat "$T/rep")"
for f in "$T/out/tune-a.md" "$T/out/tune-a.json" "$T/db/a.md" "$T/db/a.json"; do
    [ -s "$f" ] || fail "no $f"
done
"$PY" tools/tune.py best "$T/a.json" >"$T/best.json" 2>"$T/best.err" || fail "best failed: $(cat "$T/best.err")"
"$PY" tools/tune.py best "$T/a.json" --dataset sample >"$T/best-sample.json" || fail "best --dataset failed"
"$PY" - "$T/s6.json" "$T/out/tune-a.json" "$T/out/tune-a.md" "$T/best.json" "$T/best-sample.json" <<'PY' || fail "report content"
import csv, json, os, sys
s = json.load(open(sys.argv[1]))
rep = json.load(open(sys.argv[2]))
md = open(sys.argv[3]).read()
best = json.load(open(sys.argv[4]))
losses = json.load(open(sys.argv[5]))
assert "validation data only" in md and "no test metric is read" in md, md
assert best["common"][-2:] == ["--epochs", "2"] and best["datasets"]["sample"]["losses"] == losses
for r in rep["studies"]:
    trials = s[r["study"]]
    comp = [t for t in trials if t["state"] == "COMPLETE"]
    # the best value, from the epochs.csv files themselves
    f1 = {t["number"]: max(float(row["val_macro_f1"])
                           for row in csv.DictReader(open(os.path.join(t["attrs"]["dir"], "epochs.csv"))))
          for t in comp}
    top = max(f1.values())
    assert abs(r["best_val_macro_f1"] - top) < 1e-12 and f1[r["best_trial"]] == top, (r, f1)
    bt = [t for t in comp if t["number"] == r["best_trial"]][0]
    assert r["best_params"] == bt["params"] and r["best_epoch"] == bt["attrs"]["best_epoch"]
    assert r["complete"] == len(comp) and r["complete"] + r["pruned"] == 8, r
    assert r["failed"] == len([t for t in trials if t["state"] == "FAIL"]), r
    cpu = sum(t["attrs"].get("cpu_seconds", 0) for t in trials) / 3600
    assert abs(r["cpu_hours"] - cpu) < 1e-9 and cpu > 0, (r["cpu_hours"], cpu)
    # best's arguments are the best trial's command without the driver's and common parts
    args = losses[r["loss"]]
    cmd = bt["attrs"]["command"]
    assert " ".join(args) in " ".join(cmd), (args, cmd)
    line = [l for l in md.split("\n") if l.startswith(f"| sample | {r['loss']} |")][0]
    assert f"| {100 * top:.2f} | {r['best_trial']} |" in line, line
print("best validation macro-F1:", {r["loss"]: round(r["best_val_macro_f1"], 4) for r in rep["studies"]},
      "pruned:", {r["loss"]: r["pruned"] for r in rep["studies"]})
PY

# ---- failed trials: not counted, and a study gives up after max_failures
tune "$T/c.json" c "$G" ', "max_failures": 2'
sed -i 's/"choice": \["paper", "reference"\]/"choice": ["bogus"]/' "$T/c.json"
"$PY" tools/tune.py run "$T/c.json" --only 'sample/gloss' --jobs 1 >"$T/runc" 2>&1 && fail "failing trials: exit status 0"
grep -q "sample/gloss: 2 failed trials in a row: giving up on it" "$T/runc" || fail "no give-up: $(cat "$T/runc")"
state "$T/db/c.sqlite3" "$T/sc.json"
"$PY" - "$T/sc.json" <<'PY' || fail "failed trials"
import json, sys
s = json.load(open(sys.argv[1]))
assert list(s) == ["sample/gloss"], list(s)   # --only: the other study untouched
t = s["sample/gloss"]
assert [u["state"] for u in t] == ["FAIL", "FAIL"], t
for u in t:
    assert u["attrs"]["failure"] == "exit status 2" and "bogus" in u["attrs"]["log_tail"], u["attrs"]
PY

# ---- the objective and the report read validation numbers, never test ones
"$PY" - tools/tune.py <<'PY' || fail "tools/tune.py mentions test metrics in its code"
import ast, sys
tree = ast.parse(open(sys.argv[1]).read())
doc = ast.get_docstring(tree, clean=False)
for node in ast.walk(tree):
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value != doc:
        v = node.value
        assert v != "test" and "metrics.json" not in v and "test_macro" not in v \
            and "test_acc" not in v, v
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        assert node.slice.value != "test", ast.dump(node)
PY
grep -n '"val_macro_f1"' tools/tune.py >/dev/null || fail "the objective does not read val_macro_f1"

echo "test_tune: $(($(date +%s) - start)) s"
if [ $fails -ne 0 ]; then echo "test_tune: $fails failure(s)"; exit 1; fi
echo "test_tune: passed"
