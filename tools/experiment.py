#!/usr/bin/env python3
"""gloss experiment runner: a grid of datasets x losses x settings x seeds.

    python3 tools/experiment.py run    GRID.json [--jobs N] [--only PATTERN]...
                                 # run missing cells (N at a time), then report
    python3 tools/experiment.py report GRID.json   # tables and pictures only
    python3 tools/experiment.py list   GRID.json [--only PATTERN]...
                                 # every cell, its state, its command
    --gloss BIN runs that binary instead of the grid's "gloss".

--only restricts run and list to the cells whose DATASET/LOSS[@SETTING]/seedS
matches one of the shell-style patterns, e.g. --only 'r8/*/seed43'
--only 'mr/ce/*'; the report always covers every finished cell.

GRID.json (see experiments/*.json):
    name      title of the report
    gloss     the gloss binary (default build/gloss)
    model     checkpoint directory
    out       where cells and the report go
    threads   OMP_NUM_THREADS for every cell (default 2)
    jobs      cells run at the same time (default 1; --jobs overrides)
    common    arguments given to every `gloss train`
    pinned    arguments put first, before "common" (which can override them):
              the defaults of gloss at the time the grid ran, so that a cell
              run by a later gloss whose defaults changed computes the same
              thing. A cell recorded before "pinned" was added (its command
              lacks them) still counts as the same cell
    datasets  {name: {"data": DIR, "args": [...], "vars": {...}}}
              DIR data/benchmarks/NAME: the benchmark sets that ship with
              gloss; a cell recorded with ../shared/data/NAME (where they lay
              before, byte for byte the same files) is the same cell
    losses    {name: [args...]}            e.g. "gloss-paper": ["--loss", "gloss"];
              "{name}" in any argument is the dataset's variable of that name,
              e.g. "--sigma", "{sigma}" with "vars": {"sigma": 0.253}
    settings  {name: [args...]}            optional, default {"default": []}
    seeds     [42, 43, ...]
    baseline  loss the others are tested against (default "ce")
    keep_checkpoints  keep checkpoint.safetensors of finished cells (default false)
    records   a directory, kept under version control, that holds the small
              record files of every finished cell (RECORD_FILES below) in
              the same DATASET/LOSS[@SETTING]/seedS layout (default: none);
              grids that share `out` should share it too, so a cell they
              have in common (the baseline) is recorded once and counts for
              each

Each cell runs in OUT/DATASET/LOSS[@SETTING]/seedS/ and records its exact
command in command.json. A cell whose metrics.json exists is finished and is
never rerun; a cell whose recorded command differs from the grid's is an error
(move it away or use another `out`), so results of different settings never
mix. An interrupted cell (Ctrl-C, a killed machine) resumes from its checkpoint.
Every run of gloss in a cell appends a record to runs.json: start time, binary,
load average, wall and CPU seconds (the process's own, from wait4), exit
status and the checkpoint it started from and left.

With "records", a cell's record files are copied there when it finishes and
again by every report, the one that ends a run included (so a probe.json
written later follows), and a
cell found finished in the records counts as finished even where `out` (models,
embeddings, checkpoints: too large to keep) is gone: a fresh checkout reports
every cell ever recorded and never reruns one.

The report (OUT/results-GRID.md, .csv, .json, GRID being the grid file's
name without .json; "report" in the grid changes it) gives, per dataset, loss and setting,
over seeds: test accuracy and macro-F1 (mean and sample std), silhouette of the
test embeddings by class (cosine distance, mean over documents as sklearn's
silhouette_score), epochs and seconds to the best validation macro-F1, seconds
per epoch (wall time), CPU minutes per cell (where runs.json covers every run
of the cell); and for each loss against the baseline, paired over seeds on test
macro-F1, a two-sided paired t-test (the primary test) and the exact two-sided
Wilcoxon signed-rank test (which cannot reach p < 0.05 with fewer than 6
seeds). Cells with a probe.json (tools/probe.py: a linear probe on the run's
frozen embeddings) add a "Linear probe" table: probe test accuracy and macro-F1,
paired against the baseline's probes. Cells started and not finished that have
logged an epoch (a long cell stopped, or one still running) are listed under
"In progress" (epochs logged, best and last validation macro-F1) and enter no
table or test. Pictures: OUT/results-GRID-convergence-DATASET.svg (validation
macro-F1 by epoch, mean over seeds, one line per loss; a dashed line per cell in
progress).

Standard library only.
"""
import argparse
import csv
import fnmatch
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time


# ---------------------------------------------------------------- statistics
def mean(xs):
    return sum(xs) / len(xs)


def sample_std(xs):
    if len(xs) < 2:
        return None
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def _betacf(a, b, x):
    """Continued fraction of the regularised incomplete beta (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a, b, x):
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
           + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


def t_two_sided_p(t, df):
    """P(|T| >= |t|) for Student's t with df degrees of freedom."""
    if math.isinf(t):
        return 0.0
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def paired_t(x, y):
    """Two-sided paired t-test of x against y: (t, p) or (None, None) when
    undefined (fewer than 2 pairs, or all differences equal)."""
    d = [a - b for a, b in zip(x, y)]
    n = len(d)
    if n < 2:
        return None, None
    sd = sample_std(d)
    if sd == 0.0:
        return None, None
    t = mean(d) / (sd / math.sqrt(n))
    return t, t_two_sided_p(t, n - 1)


def _ranks(values):
    """Average ranks (1-based) of values, ties sharing the mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def wilcoxon_exact(x, y):
    """Exact two-sided Wilcoxon signed-rank test of x against y, zero
    differences dropped, ties given average ranks; the null distribution is
    enumerated over all 2^n sign patterns. Returns (W+, p) or (None, None)."""
    d = [a - b for a, b in zip(x, y) if a != b]
    n = len(d)
    if n == 0 or n > 20:
        return None, None
    r = _ranks([abs(v) for v in d])
    w_plus = sum(rk for rk, v in zip(r, d) if v > 0)
    centre = sum(r) / 2.0
    dev = abs(w_plus - centre)
    hits = 0
    for signs in itertools.product((0, 1), repeat=n):
        w = sum(rk for rk, s in zip(r, signs) if s)
        if abs(w - centre) >= dev - 1e-9:
            hits += 1
    return w_plus, hits / 2.0 ** n


# ---------------------------------------------------------------- the grid
class GridError(Exception):
    pass


def load_grid(path):
    try:
        with open(path) as f:
            g = json.load(f)
    except (OSError, ValueError) as e:
        raise GridError(f"{path}: {e}")
    for key in ("model", "out", "datasets", "losses", "seeds"):
        if key not in g:
            raise GridError(f"{path}: missing key '{key}'")
    stem = os.path.splitext(os.path.basename(path))[0]
    g.setdefault("name", stem)
    g.setdefault("report", "results-" + stem)
    g.setdefault("gloss", "build/gloss")
    g.setdefault("threads", 2)
    g.setdefault("common", [])
    g.setdefault("settings", {"default": []})
    g.setdefault("baseline", "ce")
    g.setdefault("keep_checkpoints", False)
    g.setdefault("records", None)
    for name, ds in g["datasets"].items():
        if not isinstance(ds, dict) or "data" not in ds:
            raise GridError(f"{path}: dataset '{name}' needs a \"data\" directory")
    if g["baseline"] not in g["losses"]:
        raise GridError(f"{path}: baseline '{g['baseline']}' is not among the losses")
    return g


def cells(g, only=None):
    """Every cell, in running order: dataset by dataset, and within one the
    first seed of every loss and setting before the next seed. With `only`
    (shell-style patterns), just the cells whose DATASET/LOSS[@SETTING]/seedS
    matches one of them."""
    for ds in g["datasets"]:
        for seed in g["seeds"]:
            for setting in g["settings"]:
                for loss in g["losses"]:
                    c = (ds, loss, setting, seed)
                    if only:
                        rel = os.path.relpath(cell_dir(g, *c), g["out"]).replace(os.sep, "/")
                        if not any(fnmatch.fnmatchcase(rel, p) for p in only):
                            continue
                    yield c


def cell_dir(g, ds, loss, setting, seed):
    name = loss if setting == "default" else f"{loss}@{setting}"
    return os.path.join(g["out"], ds, name, f"seed{seed}")


def cell_args(g, ds, loss, setting, seed, out):
    d = g["datasets"][ds]
    variables = d.get("vars", {})

    def subst(a):
        a = str(a)
        if "{" not in a:
            return a
        try:
            return a.format_map(variables)
        except (KeyError, ValueError) as e:
            raise GridError(f"argument '{a}' of {ds}/{loss}: no dataset variable {e}")

    return ([g["gloss"], "train", "--model", g["model"], "--data", d["data"],
             "--out", out]
            + [subst(a) for a in g.get("pinned", [])]
            + [subst(a) for a in g["common"]] + [subst(a) for a in d.get("args", [])]
            + [subst(a) for a in g["losses"][loss]]
            + [subst(a) for a in g["settings"][setting]]
            + ["--seed", str(seed)])


# The five benchmark sets ship in data/benchmarks (tools/make_benchmark_data.py
# checks that they are the bytes of ../shared/data, where the first grids found
# them).
BENCHMARKS = ("mr", "r8", "r52", "ohsumed", "20ng")


def data_dir(path):
    """A --data directory as cells compare it: ../shared/data/NAME of a
    benchmark set is data/benchmarks/NAME; anything else as it is."""
    head, name = os.path.split(os.path.normpath(path))
    if name in BENCHMARKS and (head == "shared/data" or head.endswith("/shared/data")):
        return "data/benchmarks/" + name
    return path


def canonical(args):
    """A command without its binary, as a sorted list of (option, value)
    pairs: two commands that differ only in option order, in where the
    gloss binary lies, or in where the same benchmark data lies (data_dir)
    are the same cell."""
    pairs, i, rest = [], 0, list(args[1:])
    while i < len(rest):
        if rest[i].startswith("--") and i + 1 < len(rest) and not rest[i + 1].startswith("--"):
            pairs.append((rest[i], data_dir(rest[i + 1]) if rest[i] == "--data" else rest[i + 1]))
            i += 2
        else:
            pairs.append((rest[i], None))
            i += 1
    return sorted(pairs, key=lambda p: (p[0], p[1] or ""))


def same_cell(g, recorded, args):
    """A recorded command is this cell's: the same options, or the same
    without the grid's "pinned" ones (recorded before they were pinned)."""
    have = canonical(recorded)
    if have == canonical(args):
        return True
    pinned = g.get("pinned", [])
    if not pinned:
        return False
    n = 8  # binary, train, --model M, --data D, --out O
    return have == canonical(args[:n] + args[n + len(pinned):])


def read_json(path, missing=None):
    """A cell's JSON record, or `missing` when it is absent or unreadable."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return missing


# what a finished cell keeps in the grid's "records": everything the report reads
RECORD_FILES = ("command.json", "metrics.json", "epochs.csv", "runs.json", "probe.json")


def record_dir(g, out):
    """The records' counterpart of a cell folder, None without "records"."""
    if not g["records"]:
        return None
    return os.path.join(g["records"], os.path.relpath(out, g["out"]))


def cell_state(g, c):
    """(state, folder holding its results, args, recorded command); state is
    done, partial, todo or conflict. A done cell's folder is its `out` folder,
    or its records folder where `out` lacks it."""
    out = cell_dir(g, *c)
    args = cell_args(g, *c, out)
    recorded = read_json(os.path.join(out, "command.json"))
    if recorded is not None and not same_cell(g, recorded.get("args", []), args):
        return "conflict", out, args, recorded
    if os.path.exists(os.path.join(out, "metrics.json")):
        return "done", out, args, recorded
    rec = record_dir(g, out)
    if rec and os.path.exists(os.path.join(rec, "metrics.json")):
        kept = read_json(os.path.join(rec, "command.json"))
        if kept is None or not same_cell(g, kept.get("args", []), args):
            return "conflict", rec, args, kept or {}
        return "done", rec, args, kept
    if os.path.exists(os.path.join(out, "checkpoint.safetensors")):
        return "partial", out, args, recorded
    return "todo", out, args, recorded


def write_atomic(path, text):
    """Temp file, fsync, rename; the temp name is unique, so two runners
    reporting on one grid at once cannot take each other's file."""
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".",
                               suffix=".tmp", dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def sync_record(g, out):
    """Copies a finished cell's record files from `out` to the records
    (only those that differ, each atomically)."""
    rec = record_dir(g, out)
    if rec is None or not os.path.exists(os.path.join(out, "metrics.json")):
        return
    os.makedirs(rec, exist_ok=True)
    for name in RECORD_FILES:
        src = os.path.join(out, name)
        if not os.path.exists(src):
            continue
        with open(src) as f:
            text = f.read()
        dst = os.path.join(rec, name)
        if os.path.exists(dst):
            with open(dst) as f:
                if f.read() == text:
                    continue
        write_atomic(dst, text)


def sync_records(g):
    if g["records"]:
        for c in cells(g):
            sync_record(g, cell_dir(g, *c))


def fmt_time(s):
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def checkpoint_stamp(out):
    """Identity of a cell's checkpoint (mtime and size), None without one."""
    try:
        st = os.stat(os.path.join(out, "checkpoint.safetensors"))
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def start_cell(g, c, state, out, args, rec):
    """Starts a cell's gloss; returns its run record (the process under "proc")."""
    os.makedirs(out, exist_ok=True)
    if state == "todo" or rec is None:
        write_atomic(os.path.join(out, "command.json"),
                     json.dumps({"args": args, "threads": g["threads"]}, indent=1) + "\n")
    run_args = args + (["--resume"] if state == "partial" else [])
    env = dict(os.environ, OMP_NUM_THREADS=str(g["threads"]))
    seg = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "gloss": g["gloss"], "resumed": state == "partial",
           "checkpoint_at_start": checkpoint_stamp(out) if state == "partial" else None,
           "load_at_start": list(os.getloadavg())}
    with open(os.path.join(out, "train.log"), "a") as log:
        log.write(f"$ OMP_NUM_THREADS={g['threads']} {' '.join(run_args)}\n")
        log.flush()
        proc = subprocess.Popen(run_args, stdout=log, stderr=subprocess.STDOUT, env=env)
    return {"proc": proc, "out": out, "t0": time.time(), "seg": seg}


def reap(run, block):
    """Waits for a cell's gloss (or only polls); returns its exit status or None.

    os.wait4 gives the process's own CPU time (user + system, every thread),
    which, unlike wall time, does not grow when other work shares the cores."""
    pid, status, ru = os.wait4(run["proc"].pid, 0 if block else os.WNOHANG)
    if pid == 0:
        return None
    run["proc"].returncode = rc = os.waitstatus_to_exitcode(status)
    seg = run["seg"]
    seg.update(wall_seconds=round(time.time() - run["t0"], 3),
               cpu_seconds=round(ru.ru_utime + ru.ru_stime, 3), exit=rc,
               checkpoint_at_end=checkpoint_stamp(run["out"]))
    path = os.path.join(run["out"], "runs.json")
    write_atomic(path, json.dumps(read_json(path, []) + [seg], indent=1) + "\n")
    return rc


def cell_cpu_seconds(out):
    """CPU seconds of every gloss run of a finished cell, or None when the
    record does not cover the whole cell (a run not recorded, e.g. one
    killed with the runner, or a cell run before runs.json existed)."""
    runs = read_json(os.path.join(out, "runs.json"))
    if not runs or runs[0].get("resumed") or runs[-1].get("exit") != 0:
        return None
    for prev, cur in zip(runs, runs[1:]):
        if not cur.get("resumed") or prev.get("exit") != 3 \
                or cur.get("checkpoint_at_start") != prev.get("checkpoint_at_end"):
            return None
    return sum(r["cpu_seconds"] for r in runs)


def finish_cell(g, out, rc, took):
    """Reports a cell that ended; returns 'ok', 'failed' or 'stopped'."""
    if rc == 3:
        print(f"  {out}: stopped with a checkpoint; run again to resume", flush=True)
        return "stopped"
    if rc != 0:
        print(f"  {out}: failed (exit {rc}); see {os.path.join(out, 'train.log')}",
              file=sys.stderr, flush=True)
        return "failed"
    m = json.load(open(os.path.join(out, "metrics.json")))
    print(f"  {out}: {fmt_time(took)}, test accuracy {100 * m['test']['accuracy']:.2f}, "
          f"macro-F1 {100 * m['test']['macro_f1']:.2f}", flush=True)
    sync_record(g, out)
    if not g["keep_checkpoints"]:
        ck = os.path.join(out, "checkpoint.safetensors")
        if os.path.exists(ck):
            os.remove(ck)
    return "ok"


def run_grid(g, jobs, only=None):
    all_cells = list(cells(g, only))
    if not all_cells:
        raise GridError("no cell matches " + " ".join(only))
    states = [cell_state(g, c) for c in all_cells]
    conflicts = [s for s in states if s[0] == "conflict"]
    if conflicts:
        for _, out, args, rec in conflicts:
            print(f"error: {out} was run with other arguments:\n  recorded: "
                  f"{' '.join(rec.get('args', []))}\n  grid:     {' '.join(args)}",
                  file=sys.stderr)
        raise GridError("move those cells away or give the grid another \"out\"")
    todo = [(c, s) for c, s in zip(all_cells, states) if s[0] != "done"]
    print(f"{g['name']}: {len(all_cells)} cells, {len(all_cells) - len(todo)} done, "
          f"{len(todo)} to run ({jobs} at a time, OMP_NUM_THREADS={g['threads']} each)",
          flush=True)
    running = []  # run records of start_cell
    spent, outcome = [], {"ok": 0, "failed": 0, "stopped": 0}
    nxt = 0
    try:
        while nxt < len(todo) or running:
            while nxt < len(todo) and len(running) < jobs and not outcome["stopped"]:
                c, (state, out, args, rec) = todo[nxt]
                nxt += 1
                eta = ""
                if spent:
                    left = len(todo) - nxt + 1
                    eta = f", about {fmt_time(mean(spent) * left / jobs)} left"
                print(f"[{nxt}/{len(todo)}] {c[0]} {c[1]} {c[2]} seed {c[3]}"
                      f"{' (resuming)' if state == 'partial' else ''}{eta}", flush=True)
                running.append(start_cell(g, c, state, out, args, rec))
            if not running:
                break
            time.sleep(0.05)
            for run in list(running):
                rc = reap(run, block=False)
                if rc is None:
                    continue
                running.remove(run)
                took = run["seg"]["wall_seconds"]
                res = finish_cell(g, run["out"], rc, took)
                outcome[res] += 1
                if res == "ok":
                    spent.append(took)
    except KeyboardInterrupt:
        # the cells got the same SIGINT (same process group): each finishes
        # its step, writes a checkpoint and exits with status 3
        for run in running:
            rc = reap(run, block=True)
            finish_cell(g, run["out"], rc, run["seg"]["wall_seconds"])
        return 3
    if outcome["stopped"]:
        return 3
    if outcome["failed"]:
        print(f"{outcome['failed']} cell(s) failed", file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------- the report
def read_cell(out):
    m = json.load(open(os.path.join(out, "metrics.json")))
    epochs = []
    with open(os.path.join(out, "epochs.csv")) as f:
        for row in csv.DictReader(f):
            epochs.append({"epoch": int(row["epoch"]),
                           "val_macro_f1": float(row["val_macro_f1"]),
                           "seconds": float(row["seconds"])})
    best = m.get("best_epoch", max(epochs, key=lambda e: e["val_macro_f1"])["epoch"])
    sil = m.get("silhouette", {})
    probe = read_json(os.path.join(out, "probe.json"), {})  # from tools/probe.py, if it ran
    return {
        "probe_accuracy": None if "probe_test_accuracy" not in probe else 100 * probe["probe_test_accuracy"],
        "probe_macro_f1": None if "probe_test_macro_f1" not in probe else 100 * probe["probe_test_macro_f1"],
        "spread": probe.get("test_embedding_rms_deviation"),
        "mean_norm": probe.get("test_embedding_mean_norm"),
        "test_accuracy": 100 * m["test"]["accuracy"],
        "test_macro_f1": 100 * m["test"]["macro_f1"],
        "silhouette": sil.get("micro"),
        "silhouette_macro": sil.get("macro"),
        "best_epoch": best,
        "seconds_to_best": sum(e["seconds"] for e in epochs if e["epoch"] <= best),
        "seconds_per_epoch": mean([e["seconds"] for e in epochs]),
        "epochs_run": len(epochs),
        "cpu_minutes": None if (cpu := cell_cpu_seconds(out)) is None else cpu / 60,
        "val_curve": [e["val_macro_f1"] for e in epochs],
    }


def read_progress(out):
    """The epochs an unfinished cell has logged so far (its epochs.csv, which
    gloss rewrites after every epoch), [] where it has none or it is unreadable."""
    try:
        with open(os.path.join(out, "epochs.csv")) as f:
            return [{"epoch": int(row["epoch"]), "val_macro_f1": float(row["val_macro_f1"]),
                     "seconds": float(row["seconds"])} for row in csv.DictReader(f)]
    except (OSError, KeyError, TypeError, ValueError):
        return []


def in_progress(g):
    """Cells started but not finished that have logged an epoch: a long grid
    (the paper's protocol runs up to 200 epochs) shows how far each has got.
    They enter no table or test, only this list and the convergence pictures."""
    got = []
    for c in cells(g):
        state, out, _, _ = cell_state(g, c)
        if state not in ("partial", "todo"):
            continue
        epochs = read_progress(out)
        if not epochs:
            continue
        best = max(epochs, key=lambda e: e["val_macro_f1"])
        ds, loss, setting, seed = c
        got.append({"dataset": ds, "loss": loss, "setting": setting, "seed": seed,
                    "epochs": len(epochs), "best_epoch": best["epoch"],
                    "best_val_macro_f1": best["val_macro_f1"],
                    "last_val_macro_f1": epochs[-1]["val_macro_f1"],
                    "seconds_per_epoch": mean([e["seconds"] for e in epochs]),
                    "val_curve": [e["val_macro_f1"] for e in epochs]})
    return got


def paired_values(got, base, key):
    """(this loss, baseline) values of `key` over the seeds where both have one."""
    return [(v[key], base[s][key]) for s, v in got
            if v[key] is not None and base.get(s) and base[s][key] is not None]


def summarise(g):
    rows = []
    per_cell = {}
    for c in cells(g):
        state, out, _, _ = cell_state(g, c)
        if state == "done":
            per_cell[c] = read_cell(out)
    for ds in g["datasets"]:
        for setting in g["settings"]:
            base = {s: per_cell.get((ds, g["baseline"], setting, s)) for s in g["seeds"]}
            for loss in g["losses"]:
                got = [(s, per_cell[(ds, loss, setting, s)]) for s in g["seeds"]
                       if (ds, loss, setting, s) in per_cell]
                if not got:
                    continue
                r = {"dataset": ds, "loss": loss, "setting": setting,
                     "seeds": [s for s, _ in got], "n": len(got)}
                for key in ("test_accuracy", "test_macro_f1", "silhouette",
                            "best_epoch", "seconds_to_best", "seconds_per_epoch",
                            "cpu_minutes", "probe_accuracy", "probe_macro_f1", "spread",
                            "mean_norm"):
                    vals = [v[key] for _, v in got if v[key] is not None]
                    r[key + "_mean"] = mean(vals) if vals else None
                    r[key + "_std"] = sample_std(vals) if vals else None
                r["cpu_minutes_n"] = sum(1 for _, v in got if v["cpu_minutes"] is not None)
                r["probe_n"] = sum(1 for _, v in got if v["probe_macro_f1"] is not None)
                r["per_seed"] = {str(s): {k: v[k] for k in ("test_accuracy", "test_macro_f1",
                                                             "silhouette", "best_epoch",
                                                             "probe_macro_f1")}
                                 for s, v in got}
                curves = [v["val_curve"] for _, v in got]
                longest = max(len(cv) for cv in curves)
                r["val_macro_f1_by_epoch"] = [
                    mean([cv[e] for cv in curves if len(cv) > e]) for e in range(longest)]
                r["t"] = r["p_t"] = r["w_plus"] = r["p_wilcoxon"] = None
                r["pairs"] = r["probe_pairs"] = 0
                r["probe_diff_mean"] = r["probe_p_t"] = None
                if loss != g["baseline"]:
                    pairs = paired_values(got, base, "test_macro_f1")
                    r["pairs"] = len(pairs)
                    if pairs:
                        x, y = zip(*pairs)
                        r["diff_macro_f1_mean"] = mean([a - b for a, b in pairs])
                        r["t"], r["p_t"] = paired_t(x, y)
                        r["w_plus"], r["p_wilcoxon"] = wilcoxon_exact(x, y)
                    pairs = paired_values(got, base, "probe_macro_f1")
                    r["probe_pairs"] = len(pairs)
                    if pairs:
                        x, y = zip(*pairs)
                        r["probe_diff_mean"] = mean([a - b for a, b in pairs])
                        r["probe_p_t"] = paired_t(x, y)[1] if len(pairs) > 1 else None
                rows.append(r)
    return rows


def pm(r, key, digits=2):
    m, s = r.get(key + "_mean"), r.get(key + "_std")
    if m is None:
        return "n/a"
    return f"{m:.{digits}f}" + (f" ± {s:.{digits}f}" if s is not None else "")


def fmt_p(p):
    return "n/a" if p is None else (f"{p:.3f}" if p >= 0.001 else f"{p:.1e}")


def cpu_cell(r):
    """CPU minutes per cell, with how many seeds it covers when not all."""
    if r["cpu_minutes_n"] == 0:
        return "n/a"
    return pm(r, "cpu_minutes", 1) + ("" if r["cpu_minutes_n"] == r["n"]
                                      else f" ({r['cpu_minutes_n']} of {r['n']})")


def markdown(g, rows, progress=()):
    lines = [f"# {g['name']}", "",
             f"Model `{g['model']}`; every cell: `gloss train {' '.join(map(str, g['common']))}`"
             f" plus its dataset, loss and setting arguments and `--seed S`; "
             f"OMP_NUM_THREADS={g['threads']}. Mean ± sample std over seeds. "
             f"Tests against `{g['baseline']}` are paired over seeds on test macro-F1: "
             "p(t) two-sided paired t-test, p(W) exact two-sided Wilcoxon signed-rank "
             "(its smallest possible p with n seeds is 2/2^n). "
             "s to best and s/epoch are wall time (training and validation, from "
             "epochs.csv), which grows when other work shares the cores; CPU min is "
             "the CPU time of the whole `gloss train` process (every thread, test "
             "pass and maps included), which does not, from the cell's runs.json "
             "where that covers all its runs.", ""]
    head = ("| dataset | loss | setting | seeds | test acc | test macro-F1 | Δ F1 vs "
            f"{g['baseline']} | p(t) | p(W) | silhouette | best epoch | s to best | s/epoch "
            "| CPU min |")
    lines += [head, "|" + "---|" * 14] if rows else ["No cell has finished yet."]
    for r in rows:
        delta = r.get("diff_macro_f1_mean")
        lines.append(
            f"| {r['dataset']} | {r['loss']} | {r['setting']} | {r['n']} | "
            f"{pm(r, 'test_accuracy')} | {pm(r, 'test_macro_f1')} | "
            f"{'' if delta is None else f'{delta:+.2f}'} | "
            f"{'' if r['loss'] == g['baseline'] else fmt_p(r['p_t'] if r['pairs'] > 1 else None)} | "
            f"{'' if r['loss'] == g['baseline'] else fmt_p(r['p_wilcoxon'] if r['pairs'] > 1 else None)} | "
            f"{pm(r, 'silhouette', 3)} | {pm(r, 'best_epoch', 1)} | "
            f"{pm(r, 'seconds_to_best', 1)} | {pm(r, 'seconds_per_epoch', 1)} | "
            f"{cpu_cell(r)} |")
    seeds = [str(x) for x in g["seeds"]]
    lines += [] if not rows else ["", "## Per seed", "",
              "Test macro-F1 / accuracy of each finished cell.", "",
              "| dataset | loss | setting | " + " | ".join(f"seed {x}" for x in seeds) + " |",
              "|" + "---|" * (3 + len(seeds))]
    for r in rows:
        got = r["per_seed"]
        lines.append(f"| {r['dataset']} | {r['loss']} | {r['setting']} | " + " | ".join(
            f"{got[x]['test_macro_f1']:.2f} / {got[x]['test_accuracy']:.2f}" if x in got else ""
            for x in seeds) + " |")
    if progress:
        lines += ["", "## In progress", "",
                  "Cells started and not finished (stopped, or still running): the epochs "
                  "they have logged. Not in the tables above until they finish.", "",
                  "| dataset | loss | setting | seed | epochs logged | best val macro-F1 (epoch) "
                  "| last val macro-F1 | s/epoch |", "|" + "---|" * 8]
        for r in progress:
            lines.append(f"| {r['dataset']} | {r['loss']} | {r['setting']} | {r['seed']} | "
                         f"{r['epochs']} | {r['best_val_macro_f1']:.4f} ({r['best_epoch']}) | "
                         f"{r['last_val_macro_f1']:.4f} | {r['seconds_per_epoch']:.1f} |")
    probed = [r for r in rows if r["probe_n"]]
    if probed:
        lines += ["", "## Linear probe", "",
                  "A class-balanced logistic regression fitted on each run's frozen training "
                  "embeddings and scored on its test embeddings (`tools/probe.py`): the "
                  "encoder without its jointly trained head. Means over the seeds probed; Δ and "
                  f"p(t) paired over seeds probed in both this loss and `{g['baseline']}`. "
                  "Spread: the RMS distance of the raw test embeddings (what the head reads) "
                  "from their mean; |mean|: the norm of that mean.", "",
                  "| dataset | loss | setting | seeds probed | probe test acc | probe test macro-F1 "
                  f"| Δ probe F1 vs {g['baseline']} | p(t) | head test macro-F1, same seeds "
                  "| spread | \\|mean\\| |",
                  "|" + "---|" * 11]
        for r in probed:
            d = r["probe_diff_mean"]
            head = mean([r["per_seed"][str(s)]["test_macro_f1"] for s in r["seeds"]
                         if r["per_seed"][str(s)]["probe_macro_f1"] is not None])
            lines.append(f"| {r['dataset']} | {r['loss']} | {r['setting']} | {r['probe_n']} | "
                         f"{pm(r, 'probe_accuracy')} | {pm(r, 'probe_macro_f1')} | "
                         f"{'' if d is None else f'{d:+.2f}'} | "
                         f"{'' if r['loss'] == g['baseline'] else fmt_p(r['probe_p_t'])} | {head:.2f} | "
                         f"{pm(r, 'spread')} | {pm(r, 'mean_norm')} |")
    maps = []
    for ds in g["datasets"]:
        conv = f"{g['report']}-convergence-{ds}.svg"
        if os.path.exists(os.path.join(g["out"], conv)):
            maps.append(f"![{ds}: validation macro-F1 by epoch]({conv})")
        for r in rows:
            if r["dataset"] != ds:
                continue
            seed = r["seeds"][0]
            rel = os.path.relpath(os.path.join(cell_dir(g, ds, r["loss"], r["setting"], seed),
                                               "embedding_map.svg"), g["out"])
            if os.path.exists(os.path.join(g["out"], rel)):
                maps.append(f"![{ds} {r['loss']} {r['setting']} seed {seed}: t-SNE of the "
                            f"test embeddings]({rel})")
    if maps:
        lines += ["", "## Pictures", ""] + [m + "\n" for m in maps]
    return "\n".join(lines) + "\n"


CSV_KEYS = ["dataset", "loss", "setting", "n", "test_accuracy_mean", "test_accuracy_std",
            "test_macro_f1_mean", "test_macro_f1_std", "diff_macro_f1_mean", "pairs", "t",
            "p_t", "w_plus", "p_wilcoxon", "silhouette_mean", "silhouette_std",
            "best_epoch_mean", "seconds_to_best_mean", "seconds_per_epoch_mean",
            "cpu_minutes_mean", "cpu_minutes_n", "probe_n", "probe_accuracy_mean",
            "probe_macro_f1_mean", "probe_macro_f1_std", "probe_diff_mean", "probe_pairs",
            "probe_p_t", "spread_mean", "mean_norm_mean"]


def csv_text(rows):
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_KEYS)
    for r in rows:
        w.writerow(["" if r.get(k) is None else r.get(k) for k in CSV_KEYS])
    return buf.getvalue()


PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def esc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def epoch_ticks(n_ep):
    """The epochs (1-based) that get a label on the x axis: every one up to 20,
    else the first and the multiples of a round step, about 10 labels."""
    if n_ep <= 20:
        return list(range(1, n_ep + 1))
    step = next(s for s in (2, 5, 10, 20, 50, 100, 200, 500, 1000) if n_ep / s <= 12)
    return [1] + list(range(step, n_ep + 1, step))


def convergence_svg(title, series):
    """Validation macro-F1 by epoch; series = [(label, [values...])] or
    (label, values, dashed) where dashed marks a cell not yet finished."""
    series = [(s[0], s[1], len(s) > 2 and s[2]) for s in series]
    # the legend's column fits its longest label (about 7 px a character at 12 px)
    R = max(230, 50 + 7 * max(len(str(s[0])) for s in series))
    W, H, L, T, B = 470 + R, 400, 60, 40, 50
    ys = [v for _, vs, _ in series for v in vs]
    n_ep = max(len(vs) for _, vs, _ in series)
    lo, hi = min(ys), max(ys)
    pad = max(0.005, (hi - lo) * 0.08)
    lo, hi = max(0.0, lo - pad), min(1.0, hi + pad)
    px = lambda e: L + (W - L - R) * (e / max(1, n_ep - 1) if n_ep > 1 else 0.5)
    py = lambda v: T + (H - T - B) * (1 - (v - lo) / (hi - lo if hi > lo else 1))
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
         f'font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15">{esc(title)}</text>',
         f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
         f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>']
    for k in range(6):
        v = lo + (hi - lo) * k / 5
        o.append(f'<line x1="{L}" y1="{py(v):.1f}" x2="{W - R}" y2="{py(v):.1f}" stroke="#ddd"/>')
        o.append(f'<text x="{L - 6}" y="{py(v) + 4:.1f}" text-anchor="end">{v:.3f}</text>')
    for e in epoch_ticks(n_ep):
        o.append(f'<text x="{px(e - 1):.1f}" y="{H - B + 18}" text-anchor="middle">{e}</text>')
    o.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">epoch</text>')
    o.append(f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" '
             f'transform="rotate(-90 16 {(T + H - B) / 2})">validation macro-F1</text>')
    for i, (label, vs, dashed) in enumerate(series):
        col = PALETTE[i % len(PALETTE)]
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        pts = " ".join(f"{px(e):.1f},{py(v):.1f}" for e, v in enumerate(vs))
        o.append(f'<polyline points="{pts}" fill="none" stroke="{col}" stroke-width="2"{dash}/>')
        for e, v in enumerate(vs):
            o.append(f'<circle cx="{px(e):.1f}" cy="{py(v):.1f}" r="3" fill="{col}"/>')
        y = T + 10 + 18 * i
        o.append(f'<line x1="{W - R + 12}" y1="{y}" x2="{W - R + 32}" y2="{y}" '
                 f'stroke="{col}" stroke-width="2"{dash}/>')
        o.append(f'<text x="{W - R + 38}" y="{y + 4}">{esc(label)}</text>')
    o.append("</svg>")
    return "\n".join(o) + "\n"


def report(g):
    sync_records(g)
    rows = summarise(g)
    progress = in_progress(g)
    os.makedirs(g["out"], exist_ok=True)
    if not rows and not progress:
        print("no finished cells yet")
        return 0
    name = lambda r: r["loss"] if r["setting"] == "default" else f"{r['loss']}@{r['setting']}"
    pictures = []
    for ds in g["datasets"]:
        series = [(name(r) + f" ({r['n']} seed{'s' if r['n'] > 1 else ''})",
                   r["val_macro_f1_by_epoch"]) for r in rows if r["dataset"] == ds]
        series += [(f"{name(r)} seed {r['seed']} (running)", r["val_curve"], True)
                   for r in progress if r["dataset"] == ds]
        if series:
            p = os.path.join(g["out"], f"{g['report']}-convergence-{ds}.svg")
            write_atomic(p, convergence_svg(f"{ds}: validation macro-F1 (mean over seeds)", series))
            pictures.append(p)
    md = markdown(g, rows, progress)
    base = os.path.join(g["out"], g["report"])
    write_atomic(base + ".md", md)
    write_atomic(base + ".csv", csv_text(rows))
    write_atomic(base + ".json",
                 json.dumps({"grid": g, "rows": rows, "in_progress": progress}, indent=1) + "\n")
    print(md.split("\n## Pictures")[0].rstrip())
    print("wrote " + ", ".join([f"{base}.{e}" for e in ("md", "csv", "json")]
                               + pictures))
    return 0


def list_cells(g, only=None):
    for c in cells(g, only):
        state, out, args, _ = cell_state(g, c)
        print(f"{state:8s} {out}\n         OMP_NUM_THREADS={g['threads']} {' '.join(args)}")
    return 0


def main(argv):
    ap = argparse.ArgumentParser(
        prog="experiment.py", description=__doc__.strip().split("\n\n")[0],
        epilog="The grid format is described at the top of tools/experiment.py.")
    ap.add_argument("command", choices=("run", "report", "list"),
                    help="run the missing cells then report; report only; list the cells")
    ap.add_argument("grid", help="grid file, e.g. experiments/minilm-short.json")
    ap.add_argument("--jobs", type=int, metavar="N",
                    help="cells run at the same time (default: the grid's \"jobs\", else 1)")
    ap.add_argument("--gloss", metavar="BIN",
                    help="run this gloss binary instead of the grid's (e.g. a frozen copy "
                         "while the build changes; the cells' identity does not depend on it)")
    ap.add_argument("--only", action="append", metavar="PATTERN",
                    help="run or list only cells whose DATASET/LOSS[@SETTING]/seedS "
                         "matches this shell pattern (repeatable)")
    a = ap.parse_args(argv[1:])
    if a.jobs is not None and a.jobs < 1:
        ap.error("--jobs must be at least 1")
    if a.only and a.command == "report":
        ap.error("--only applies to run and list; the report covers every finished cell")
    try:
        g = load_grid(a.grid)
        if a.gloss:
            if not os.access(a.gloss, os.X_OK):
                raise GridError(f"--gloss {a.gloss}: not an executable file")
            g["gloss"] = a.gloss
        jobs = a.jobs if a.jobs is not None else int(g.get("jobs", 1))
        if a.command == "list":
            return list_cells(g, a.only)
        if a.command == "report":
            return report(g)
        rc = run_grid(g, jobs, a.only)
        report(g)
        return rc
    except GridError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
