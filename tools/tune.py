#!/usr/bin/env python3
"""gloss hyper-parameter search: one Optuna study per dataset and loss, the
same number of trials and the same epoch budget for every loss, selection on
validation macro-F1 only.

    python3 tools/tune.py run    TUNE.json [--only PATTERN]... [--jobs N]
                                 [--gloss BIN] [--trials N]
                                 # run trials until every study has enough,
                                 # then report
    python3 tools/tune.py report TUNE.json   # OUT/tune-NAME.md and .json
    python3 tools/tune.py best   TUNE.json [--dataset NAME]
                                 # the best trials' arguments as JSON

--only restricts run to the studies whose DATASET/LOSS matches one of the
shell-style patterns (repeatable), e.g. --only 'mr/*' --only '*/gloss'.
--gloss BIN runs that binary instead of the file's "gloss". --trials N
replaces "trials" for every study alike (quick checks). Needs Optuna (pip
install optuna); otherwise the standard library only.

TUNE.json (see experiments/tune-*.json):
    name          names the work directory, the report and the default storage
                  (letters, digits, '.', '_', '-')
    gloss         the gloss binary (default build/gloss)
    model         checkpoint directory
    out           work directory (default out/tune): trial N of a study runs
                  in OUT/NAME/DATASET/LOSS/trialNNNN
    storage       the Optuna database, an SQLite file (default
                  experiments/tuning/NAME.sqlite3); the report is copied next
                  to it (NAME.md, NAME.json)
    threads       OMP_NUM_THREADS of every trial (default 1)
    jobs          trials run at the same time (default 1; --jobs overrides)
    common        arguments given to every trial (e.g. "--patience", "2")
    trials        finished trials (COMPLETE or PRUNED) every study reaches:
                  one number for all losses (a loss cannot set its own)
    max_epochs    the epoch budget of every trial, passed as --epochs
    seed          training seed (--seed) of every trial (default 42)
    sampler_seed  seed of the TPE sampler (default 0; a resumed study's
                  sampler is seeded with sampler_seed + the trials it holds)
    startup_trials  random trials before TPE models the space (default 10)
    pruner        {"type": "median", "n_startup_trials": 5,
                  "n_warmup_steps": 1, "interval_steps": 1} (the default) or
                  "none". Steps are epochs (1, 2, ...): after an epoch, a
                  trial below the median of the complete trials at that
                  epoch is pruned; none before epoch n_warmup_steps, none
                  before n_startup_trials trials of the study have completed
    poll_seconds  how often a running trial's epochs.csv is read (default 5)
    max_failures  a study stops after this many failed trials in a row
                  (default 3); failed trials do not count toward "trials"
    keep_models   keep each trial's model, checkpoint and embeddings
                  (default false: only epochs.csv, metrics.json, log.txt and
                  the small files stay)
    datasets      {name: {"data": DIR}}
    losses        {name: {"args": [fixed arguments...],
                          "space": {OPTION: SPEC, ...}}}
                  OPTION is a `gloss train` long option without the dashes
                  ("lr", "head-lr", "gloss-variant", "balance", "sigma", ...).
                  SPEC is one of
                    {"float": [LOW, HIGH], "log": true|false}
                    {"int": [LOW, HIGH], "log": true|false}
                    {"choice": [VALUE, ...]}   (true: the bare flag --OPTION;
                                                false: left out)
                  with an optional "format", a string in which "{}" stands
                  for the value: {"int": [4, 32], "format": "knn:{}"} gives
                  --sigma knn:17. Floats are written with 6 significant digits.
    description   free text (ignored)

Every loss's "args" and "space" options, and "common", are checked against
`gloss train --help` before anything runs. --model, --data, --out, --epochs,
--seed, --quiet, --resume and --stop-after are the driver's; an option may not
be both fixed and searched.

One trial runs, under nice -n 10 with OMP_NUM_THREADS=threads,
    GLOSS train --model MODEL --data DIR --out OUT/NAME/DATASET/LOSS/trialNNNN
          COMMON... ARGS... SAMPLED... --epochs MAX_EPOCHS --seed SEED --quiet
and its epochs.csv is read every poll_seconds: each new epoch's validation
macro-F1 is reported to the pruner, and a trial the pruner stops is sent
SIGTERM (gloss ends the step and exits) and recorded PRUNED. A trial that
exits normally is COMPLETE with the best validation macro-F1 of its epochs.csv
as its value; test metrics are never read. A trial that exits otherwise FAILs
with the end of its log.txt in its user attributes ("failure", "log_tail").
Every trial records the command, epochs run, best epoch, wall seconds and the
CPU seconds of its process (wait4).

Resuming: the database is the record. A run (one at a time per storage: the
file is locked) first marks FAIL the trials a killed run left RUNNING, stops
their gloss processes where they still run, and enqueues the parameters of
every interrupted trial again, so a sampled point is not lost; then it runs
trials until each study holds "trials" trials COMPLETE or PRUNED. Ctrl-C (or
SIGTERM) stops the running trials the same way (a second Ctrl-C kills them
at once). Studies are worked through in file order (dataset, then loss), with
"jobs" trials at a time; the last trials of one study overlap the first of
the next.

The report (OUT/tune-NAME.md and .json, copied next to the storage) gives per
dataset and loss: trials complete / pruned / failed, the best validation
macro-F1, its trial's parameters and epochs, the CPU hours of all trials, and
the search space. `best` prints {"common": [...], "datasets": {DATASET:
{"losses": {LOSS: [args...]}}}}; with --dataset only that dataset's "losses"
object, ready for a tools/experiment.py grid (common plus --epochs MAX_EPOCHS
go in the grid's "common").
"""
import argparse
import fcntl
import fnmatch
import json
import math
import os
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

DRIVER_OPTIONS = {
    "model": "model", "data": "datasets", "out": "out", "epochs": "max_epochs",
    "seed": "seed", "quiet": "the driver", "resume": "the driver",
    "stop-after": "the driver", "help": "the driver",
}
TOP_KEYS = {"name", "gloss", "model", "out", "storage", "threads", "jobs", "common", "trials",
            "max_epochs", "seed", "sampler_seed", "startup_trials", "pruner", "poll_seconds",
            "max_failures", "keep_models", "datasets", "losses", "description"}
EFFORT_KEYS = {"trials", "max_epochs", "epochs", "pruner", "seed", "startup_trials"}
NAME_RE = re.compile(r"^[A-Za-z0-9._-]+$")
OPTION_RE = re.compile(r"^[a-z][a-z0-9-]*$")
# files of a trial removed when it ends unless keep_models: the large ones
BULKY = ("model.safetensors", "checkpoint.safetensors", "test_embeddings.npy",
         "train_embeddings.npy")
INTERRUPTED_EXITS = (3, -signal.SIGINT, -signal.SIGTERM)


class TuneError(Exception):
    pass


def import_optuna():
    try:
        import optuna
    except ImportError:
        raise TuneError("tools/tune.py needs Optuna: pip install optuna "
                        "(e.g. into a virtual environment: python3 -m venv build/pyenv && "
                        "build/pyenv/bin/pip install optuna, then build/pyenv/bin/python tools/tune.py)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


# ------------------------------------------------------------------ the file
def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v):
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v))


def _option_tokens(args):
    """The long options (without dashes) among argument tokens."""
    return [a[2:].split("=", 1)[0] for a in args if a.startswith("--")]


def _check_args(path, field, args):
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise TuneError(f"{path}: {field}: a list of strings expected")
    for opt in _option_tokens(args):
        if opt in DRIVER_OPTIONS:
            raise TuneError(f"{path}: {field}: --{opt} is set by the driver "
                            f"(from {DRIVER_OPTIONS[opt]}); leave it out")


def _check_spec(path, field, spec):
    if not isinstance(spec, dict):
        raise TuneError(f"{path}: {field}: an object expected "
                        '({"float": [low, high]}, {"int": [low, high]} or {"choice": [...]})')
    kinds = [k for k in ("float", "int", "choice") if k in spec]
    if len(kinds) != 1:
        raise TuneError(f"{path}: {field}: exactly one of \"float\", \"int\", \"choice\" expected")
    kind = kinds[0]
    allowed = {kind, "format"} | ({"log"} if kind != "choice" else set())
    extra = sorted(set(spec) - allowed)
    if extra:
        raise TuneError(f"{path}: {field}: unknown key {extra[0]!r} (allowed: {', '.join(sorted(allowed))})")
    v = spec[kind]
    if kind == "choice":
        if (not isinstance(v, list) or not v
                or not all(x is None or isinstance(x, (str, bool)) or _is_num(x) for x in v)):
            raise TuneError(f"{path}: {field}.choice: a non-empty list of strings, numbers or booleans expected")
        if len(set(map(json.dumps, v))) != len(v):
            raise TuneError(f"{path}: {field}.choice: a value is listed twice")
    else:
        ok = _is_num if kind == "float" else _is_int
        if not isinstance(v, list) or len(v) != 2 or not all(ok(x) for x in v):
            raise TuneError(f"{path}: {field}.{kind}: [low, high] expected, "
                            + ("numbers" if kind == "float" else "integers"))
        if not v[0] < v[1]:
            raise TuneError(f"{path}: {field}.{kind}: low must be below high")
        log = spec.get("log", False)
        if not isinstance(log, bool):
            raise TuneError(f"{path}: {field}.log: true or false expected")
        if log and v[0] <= 0:
            raise TuneError(f"{path}: {field}: a log scale needs low > 0")
    if "format" in spec:
        f = spec["format"]
        if not isinstance(f, str) or f.count("{}") != 1:
            raise TuneError(f"{path}: {field}.format: a string with one \"{{}}\" expected")


def load_tune(path):
    try:
        with open(path) as f:
            t = json.load(f)
    except OSError as e:
        raise TuneError(f"{path}: {e.strerror}")
    except json.JSONDecodeError as e:
        raise TuneError(f"{path}: line {e.lineno}, column {e.colno}: {e.msg}")
    if not isinstance(t, dict):
        raise TuneError(f"{path}: an object expected")
    unknown = sorted(set(t) - TOP_KEYS)
    if unknown:
        raise TuneError(f"{path}: {unknown[0]}: unknown field (see tools/tune.py's description)")
    for key in ("name", "model", "datasets", "losses", "trials", "max_epochs"):
        if key not in t:
            raise TuneError(f"{path}: {key}: missing")
    if not isinstance(t["name"], str) or not NAME_RE.match(t["name"]):
        raise TuneError(f"{path}: name: letters, digits, '.', '_' and '-' only")
    for key in ("model", "gloss", "out", "storage", "description"):
        if key in t and (not isinstance(t[key], str) or not t[key]):
            raise TuneError(f"{path}: {key}: a non-empty string expected")
    t.setdefault("gloss", "build/gloss")
    t.setdefault("out", "out/tune")
    t.setdefault("storage", os.path.join("experiments", "tuning", t["name"] + ".sqlite3"))
    ints = {"threads": (1, 1), "jobs": (1, 1), "trials": (None, 1), "max_epochs": (None, 1),
            "seed": (42, 0), "sampler_seed": (0, 0), "startup_trials": (10, 0),
            "max_failures": (3, 1)}
    for key, (default, low) in ints.items():
        if default is not None:
            t.setdefault(key, default)
        if not _is_int(t[key]) or t[key] < low:
            raise TuneError(f"{path}: {key}: an integer >= {low} expected")
    t.setdefault("poll_seconds", 5)
    if not _is_num(t["poll_seconds"]) or t["poll_seconds"] <= 0:
        raise TuneError(f"{path}: poll_seconds: a positive number expected")
    t.setdefault("keep_models", False)
    if not isinstance(t["keep_models"], bool):
        raise TuneError(f"{path}: keep_models: true or false expected")
    t.setdefault("common", [])
    _check_args(path, "common", t["common"])

    p = t.setdefault("pruner", {"type": "median", "n_startup_trials": 5, "n_warmup_steps": 1})
    if p == "none":
        p = t["pruner"] = {"type": "none"}
    if not isinstance(p, dict) or p.get("type") not in ("median", "none"):
        raise TuneError(f'{path}: pruner: {{"type": "median", ...}} or "none" expected')
    allowed = {"type"} | ({"n_startup_trials", "n_warmup_steps", "interval_steps"}
                          if p["type"] == "median" else set())
    for k, v in p.items():
        if k not in allowed:
            raise TuneError(f"{path}: pruner.{k}: unknown key (allowed: {', '.join(sorted(allowed))})")
        if k != "type" and (not _is_int(v) or v < (1 if k == "interval_steps" else 0)):
            raise TuneError(f"{path}: pruner.{k}: a non-negative integer expected")

    ds = t["datasets"]
    if not isinstance(ds, dict) or not ds:
        raise TuneError(f"{path}: datasets: a non-empty object expected")
    for name, d in ds.items():
        if not NAME_RE.match(name):
            raise TuneError(f"{path}: datasets.{name}: letters, digits, '.', '_' and '-' only")
        if not isinstance(d, dict) or not isinstance(d.get("data"), str) or not d["data"]:
            raise TuneError(f'{path}: datasets.{name}: {{"data": DIR}} expected')
        extra = sorted(set(d) - {"data"})
        if extra:
            raise TuneError(f"{path}: datasets.{name}.{extra[0]}: unknown key")

    losses = t["losses"]
    if not isinstance(losses, dict) or not losses:
        raise TuneError(f"{path}: losses: a non-empty object expected")
    common_opts = set(_option_tokens(t["common"]))
    for name, l in losses.items():
        where = f"losses.{name}"
        if not NAME_RE.match(name):
            raise TuneError(f"{path}: {where}: letters, digits, '.', '_' and '-' only")
        if not isinstance(l, dict):
            raise TuneError(f'{path}: {where}: {{"args": [...], "space": {{...}}}} expected')
        for k in l:
            if k in EFFORT_KEYS:
                raise TuneError(f"{path}: {where}.{k}: every loss gets the same effort; "
                                f"set it once at the top level, not per loss")
            if k not in ("args", "space"):
                raise TuneError(f"{path}: {where}.{k}: unknown key (allowed: args, space)")
        l.setdefault("args", [])
        l.setdefault("space", {})
        _check_args(path, where + ".args", l["args"])
        fixed = common_opts | set(_option_tokens(l["args"]))
        if not isinstance(l["space"], dict):
            raise TuneError(f"{path}: {where}.space: an object expected")
        for opt, spec in l["space"].items():
            f = f"{where}.space.{opt}"
            if not OPTION_RE.match(opt):
                raise TuneError(f"{path}: {f}: a gloss train option without its dashes expected "
                                f"(e.g. \"lr\", \"head-lr\")")
            if opt in DRIVER_OPTIONS:
                raise TuneError(f"{path}: {f}: --{opt} is set by the driver; it cannot be searched")
            if opt in fixed:
                raise TuneError(f"{path}: {f}: --{opt} is also fixed (in common or {where}.args)")
            _check_spec(path, f, spec)
    t["_path"] = path
    return t


def check_options(t):
    """The model and data directories exist, and every option named in the
    file is one `gloss train` accepts."""
    g = t["gloss"]
    if not (os.path.isfile(g) and os.access(g, os.X_OK)):
        raise TuneError(f"{t['_path']}: gloss: {g}: not an executable file (build it with make)")
    try:
        r = subprocess.run([g, "train", "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise TuneError(f"{g} train --help: {e}")
    if not os.path.isdir(t["model"]):
        raise TuneError(f"{t['_path']}: model: {t['model']}: no such directory")
    for name, d in t["datasets"].items():
        if not os.path.isdir(d["data"]):
            raise TuneError(f"{t['_path']}: datasets.{name}.data: {d['data']}: no such directory")
    known = set(re.findall(r"--([a-z][a-z0-9-]*)", r.stdout + r.stderr))
    if "lr" not in known:
        raise TuneError(f"{g} train --help: no options found in its output")
    fields = [("common", t["common"])]
    for name, l in t["losses"].items():
        fields.append((f"losses.{name}.args", l["args"]))
    for field, args in fields:
        for opt in _option_tokens(args):
            if opt not in known:
                raise TuneError(f"{t['_path']}: {field}: gloss train has no option --{opt}")
    for name, l in t["losses"].items():
        for opt in l["space"]:
            if opt not in known:
                raise TuneError(f"{t['_path']}: losses.{name}.space.{opt}: "
                                f"gloss train has no option --{opt}")


def cells(t, only=None):
    out = []
    for ds in t["datasets"]:
        for loss in t["losses"]:
            name = f"{ds}/{loss}"
            if only and not any(fnmatch.fnmatchcase(name, p) for p in only):
                continue
            out.append((ds, loss))
    return out


def storage_url(t):
    return "sqlite:///" + os.path.abspath(t["storage"])


def fmt_value(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def param_args(space, params):
    """The gloss arguments of sampled parameters."""
    args = []
    for opt, spec in space.items():
        if opt not in params:
            continue
        v = params[opt]
        if "format" in spec:
            args += ["--" + opt, spec["format"].replace("{}", fmt_value(v))]
        elif v is True:
            args.append("--" + opt)
        elif v is False or v is None:
            continue
        else:
            args += ["--" + opt, fmt_value(v)]
    return args


def suggest(trial, space):
    params = {}
    for opt, spec in space.items():
        if "float" in spec:
            lo, hi = spec["float"]
            params[opt] = trial.suggest_float(opt, float(lo), float(hi), log=spec.get("log", False))
        elif "int" in spec:
            lo, hi = spec["int"]
            params[opt] = trial.suggest_int(opt, lo, hi, log=spec.get("log", False))
        else:
            params[opt] = trial.suggest_categorical(opt, spec["choice"])
    return params


def space_text(spec):
    if "float" in spec or "int" in spec:
        kind = "float" if "float" in spec else "int"
        lo, hi = spec[kind]
        s = f"{kind} {lo}..{hi}" + (" log" if spec.get("log") else "")
    else:
        s = "one of " + ", ".join(json.dumps(v) for v in spec["choice"])
    if "format" in spec:
        s += f" as {spec['format']!r}"
    return s


# ------------------------------------------------------------ epochs.csv
def read_epochs(tdir):
    """[(epoch, val_macro_f1)] of the complete lines of a trial's epochs.csv,
    columns found by the header."""
    try:
        with open(os.path.join(tdir, "epochs.csv")) as f:
            text = f.read()
    except OSError:
        return []
    lines = text.split("\n")
    if len(lines) < 2:
        return []
    head = lines[0].strip().split(",")
    if "epoch" not in head or "val_macro_f1" not in head:
        return []
    ie, iv = head.index("epoch"), head.index("val_macro_f1")
    rows = []
    for line in lines[1:-1]:  # the last piece has no newline yet (or is empty)
        cols = line.strip().split(",")
        try:
            rows.append((int(cols[ie]), float(cols[iv])))
        except (IndexError, ValueError):
            continue
    return rows


def best_epoch(rows):
    """(epoch, value) of the best validation macro-F1, the first on ties (as
    gloss keeps the first best epoch)."""
    best = None
    for e, v in rows:
        if math.isfinite(v) and (best is None or v > best[1]):
            best = (e, v)
    return best


def log_tail(tdir, n=20):
    try:
        with open(os.path.join(tdir, "log.txt"), errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


# --------------------------------------------------------------- the driver
class Driver:
    def __init__(self, t, optuna, only=None, jobs=None, trials=None):
        self.t = t
        self.optuna = optuna
        self.cells = cells(t, only)
        self.jobs = jobs or t["jobs"]
        self.target = trials or t["trials"]
        self.db = threading.RLock()  # every storage call goes through it
        self.stop = threading.Event()
        self.hurry = threading.Event()
        self.results = queue.Queue()
        self.studies = {}
        self.done = {}
        self.running = {}
        self.failures = {}
        self.given_up = set()
        self.active = {}  # trial number -> (cell) of the trials this run drives

    # -- storage
    def open_studies(self):
        optuna = self.optuna
        os.makedirs(os.path.dirname(os.path.abspath(self.t["storage"])), exist_ok=True)
        self.lock_fd = os.open(self.t["storage"], os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise TuneError(f"{self.t['storage']}: another tools/tune.py run is using it")
        self.storage = optuna.storages.RDBStorage(storage_url(self.t))
        p = self.t["pruner"]
        for cell in self.cells:
            name = "/".join(cell)
            study = optuna.create_study(storage=self.storage, study_name=name, direction="maximize",
                                        load_if_exists=True)
            held = len(study.get_trials(deepcopy=False))
            sampler = optuna.samplers.TPESampler(seed=self.t["sampler_seed"] + held,
                                                 n_startup_trials=self.t["startup_trials"],
                                                 constant_liar=True)
            if p["type"] == "median":
                pruner = optuna.pruners.MedianPruner(
                    n_startup_trials=p.get("n_startup_trials", 5),
                    n_warmup_steps=p.get("n_warmup_steps", 1),
                    interval_steps=p.get("interval_steps", 1))
            else:
                pruner = optuna.pruners.NopPruner()
            study = optuna.load_study(study_name=name, storage=self.storage, sampler=sampler,
                                      pruner=pruner)
            self.studies[cell] = study
            recovered = self.recover(cell)
            self.done[cell] = self.count_done(cell)
            self.running[cell] = 0
            self.failures[cell] = 0
            if recovered:
                print(f"{name}: {recovered} trial(s) left running by a stopped run marked FAIL "
                      f"and their parameters enqueued again", flush=True)

    def count_done(self, cell):
        S = self.optuna.trial.TrialState
        with self.db:
            return len(self.studies[cell].get_trials(deepcopy=False, states=(S.COMPLETE, S.PRUNED)))

    def recover(self, cell):
        """Trials RUNNING in the storage that this run does not drive are
        left over from a stopped run: stop their process if it is still
        there and mark them FAIL. Then every interrupted trial (FAIL without
        a "failure") whose parameters were not enqueued again is enqueued."""
        S = self.optuna.trial.TrialState
        study = self.studies[cell]
        n = 0
        with self.db:
            mine = {num for num, c in self.active.items() if c == cell}
            for tr in study.get_trials(deepcopy=False, states=(S.RUNNING,)):
                if tr.number in mine:
                    continue
                stop_leftover(tr.user_attrs)
                study.tell(tr.number, state=S.FAIL, skip_if_finished=True)
                n += 1
            trials = study.get_trials(deepcopy=False)
            again = {tr.user_attrs.get("requeued_from") for tr in trials}
            for tr in trials:
                if (tr.state == S.FAIL and "failure" not in tr.user_attrs and tr.params
                        and tr.number not in again):
                    study.enqueue_trial(dict(tr.params), user_attrs={"requeued_from": tr.number})
        return n

    def next_cell(self):
        for cell in self.cells:
            if cell in self.given_up:
                continue
            if self.done[cell] + self.running[cell] < self.target:
                return cell
        return None

    # -- one trial (in a worker thread)
    def trial_worker(self, cell):
        try:
            res = self.run_trial(cell)
        except Exception as e:  # a driver error: reported, the run stops
            res = {"cell": cell, "state": "error", "error": f"{type(e).__name__}: {e}"}
        res["thread"] = threading.current_thread()
        self.results.put(res)

    def run_trial(self, cell):
        optuna = self.optuna
        S = optuna.trial.TrialState
        t = self.t
        ds, loss = cell
        spec = t["losses"][loss]
        study = self.studies[cell]
        with self.db:
            trial = study.ask()
            self.active[trial.number] = cell
            params = suggest(trial, spec["space"])
        number = trial.number
        tdir = os.path.join(t["out"], t["name"], ds, loss, f"trial{number:04d}")
        cmd = ([t["gloss"], "train", "--model", t["model"], "--data", t["datasets"][ds]["data"],
                "--out", tdir] + t["common"] + spec["args"] + param_args(spec["space"], params)
               + ["--epochs", str(t["max_epochs"]), "--seed", str(t["seed"]), "--quiet"])
        res = {"cell": cell, "number": number, "params": params}
        p = None
        try:
            if os.path.lexists(tdir):  # a directory no trial in the storage owns
                shutil.rmtree(tdir)
            os.makedirs(tdir)
            env = dict(os.environ, OMP_NUM_THREADS=str(t["threads"]))
            t0 = time.monotonic()
            with open(os.path.join(tdir, "log.txt"), "wb") as log:
                p = subprocess.Popen(["nice", "-n", "10"] + cmd, stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, env=env)
            with self.db:
                for k, v in (("command", cmd), ("dir", tdir), ("pid", p.pid),
                             ("host", socket.gethostname())):
                    trial.set_user_attr(k, v)
            reported, why, next_read = 0, None, 0.0
            while True:
                pid, status, ru = os.wait4(p.pid, os.WNOHANG)
                if pid:
                    break
                now = time.monotonic()
                rows = []
                if now >= next_read:
                    next_read = now + t["poll_seconds"]
                    rows = [r for r in read_epochs(tdir) if r[0] > reported]
                if rows:
                    with self.db:
                        for e, v in rows:
                            trial.report(v, e)
                        reported = rows[-1][0]
                        prune = trial.should_prune()
                    if prune:
                        why = "pruned"
                if self.stop.is_set() and not why:
                    why = "interrupted"
                if why:
                    status, ru = terminate(p.pid, self.hurry, 60 if why == "pruned" else 20)
                    break
                self.stop.wait(min(0.25, t["poll_seconds"]))
            p.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait
            wall = time.monotonic() - t0
            rc = p.returncode
            rows = read_epochs(tdir)
            best = best_epoch(rows)
            attrs = {"epochs": len(rows), "wall_seconds": round(wall, 3),
                     "cpu_seconds": round(ru.ru_utime + ru.ru_stime, 3), "exit_status": rc}
            if best:
                attrs["best_epoch"] = best[0]
            if why is None and rc in INTERRUPTED_EXITS:
                why = "interrupted"  # stopped from outside (Ctrl-C reaching gloss too)
            if why is None and rc == 0 and best is None:
                why, attrs["failure"] = "failed", "no epoch in epochs.csv"
            elif why is None and rc != 0:
                why, attrs["failure"] = "failed", f"exit status {rc}"
            if why == "failed":
                attrs["log_tail"] = log_tail(tdir)
            state = why or "complete"
            attrs["state"] = state
            with self.db:
                for k, v in attrs.items():
                    trial.set_user_attr(k, v)
                if state == "complete":
                    for e, v in rows:
                        if e > reported:
                            trial.report(v, e)
                    study.tell(trial, best[1])
                elif state == "pruned":
                    study.tell(trial, state=S.PRUNED)
                else:
                    study.tell(trial, state=S.FAIL)
                self.active.pop(number, None)
            if not t["keep_models"]:
                for f in BULKY:
                    try:
                        os.remove(os.path.join(tdir, f))
                    except OSError:
                        pass
            res.update(attrs)
            res["value"] = best[1] if best else None
            return res
        except BaseException:
            if p is not None and p.returncode is None:
                terminate(p.pid, self.hurry, 5)
                p.returncode = -signal.SIGTERM
            with self.db:
                self.active.pop(number, None)
                try:
                    study.tell(trial, state=S.FAIL, skip_if_finished=True)
                except Exception:
                    pass
            raise

    # -- the loop
    def run(self):
        self.open_studies()
        for cell in self.cells:
            print(f"{'/'.join(cell)}: {self.done[cell]} of {self.target} trials finished",
                  flush=True)
        workers = {}
        rc = 0
        old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
        try:
            while True:
                while len(workers) < self.jobs and not self.stop.is_set():
                    cell = self.next_cell()
                    if cell is None:
                        break
                    self.running[cell] += 1
                    th = threading.Thread(target=self.trial_worker, args=(cell,), daemon=True)
                    th.start()
                    workers[th] = cell
                if not workers:
                    break
                try:
                    res = self.results.get(timeout=1.0)
                except queue.Empty:
                    continue
                res["thread"].join()  # it ends right after reporting
                del workers[res["thread"]]
                if self.handle(res):
                    rc = 1
                    self.stop.set()
        except KeyboardInterrupt:
            print(f"interrupted: stopping {len(workers)} running trial(s) "
                  f"(Ctrl-C again to kill them at once)", file=sys.stderr, flush=True)
            self.stop.set()
            rc = 130
        signal.signal(signal.SIGTERM, old_term)
        while workers:
            try:
                for th in list(workers):
                    th.join(0.5)
                    if not th.is_alive():
                        del workers[th]
            except KeyboardInterrupt:
                self.hurry.set()
        while not self.results.empty():
            if self.handle(self.results.get()):
                rc = rc or 1
        for cell in self.cells:
            self.recover(cell)
        for cell in self.given_up:
            rc = rc or 1
        return rc

    def handle(self, res):
        """Book a finished trial; True when the run must stop (driver error)."""
        cell = res["cell"]
        name = "/".join(cell)
        self.running[cell] -= 1
        if res["state"] == "error":
            print(f"{name}: error in the driver: {res['error']}", file=sys.stderr, flush=True)
            return True
        st = res["state"]
        if st in ("complete", "pruned"):
            self.done[cell] += 1
            self.failures[cell] = 0
        params = " ".join(f"{k}={fmt_value(v)}" for k, v in res["params"].items())
        line = f"{name} trial {res['number']}: {st}"
        if res.get("value") is not None:
            line += (f", val macro-F1 {100 * res['value']:.2f} (epoch {res.get('best_epoch')}"
                     f" of {res['epochs']})")
        line += (f", {res['wall_seconds']:.1f} s, {res['cpu_seconds']:.1f} CPU s"
                 f" [{self.done[cell]}/{self.target}] {params}")
        print(line, flush=True)
        if st == "failed":
            self.failures[cell] += 1
            print(f"{name} trial {res['number']}: {res['failure']}; end of its log:\n"
                  + res.get("log_tail", ""), file=sys.stderr, flush=True)
            if self.failures[cell] >= self.t["max_failures"]:
                self.given_up.add(cell)
                print(f"{name}: {self.failures[cell]} failed trials in a row: giving up on it",
                      file=sys.stderr, flush=True)
        elif st == "interrupted" and not self.stop.is_set():
            self.recover(cell)
        return False


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def terminate(pid, hurry, grace):
    """SIGTERM (gloss ends its step and exits), SIGKILL after grace seconds or
    when hurried; returns wait4's status and rusage."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    end = time.monotonic() + grace
    while True:
        got, status, ru = os.wait4(pid, os.WNOHANG)
        if got:
            return status, ru
        if hurry.is_set() or time.monotonic() > end:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status, ru = os.wait4(pid, 0)
            return status, ru
        time.sleep(0.1)


def stop_leftover(attrs):
    """Stop the gloss process of a trial a killed run left behind, when it
    still runs here (same host, its command line names the trial's dir)."""
    pid, tdir = attrs.get("pid"), attrs.get("dir")
    if not pid or not tdir or attrs.get("host") != socket.gethostname():
        return
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return
    if os.fsencode(tdir) in argv:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass


# ------------------------------------------------------------------- report
def summarise(t, optuna):
    S = optuna.trial.TrialState
    if not os.path.exists(t["storage"]):
        raise TuneError(f"{t['storage']}: no such storage yet (run first)")
    storage = optuna.storages.RDBStorage(storage_url(t))
    names = set(optuna.study.get_all_study_names(storage))
    rows = []
    for ds, loss in cells(t):
        name = f"{ds}/{loss}"
        spec = t["losses"][loss]
        r = {"dataset": ds, "loss": loss, "study": name, "trials_target": t["trials"],
             "complete": 0, "pruned": 0, "failed": 0, "running": 0, "waiting": 0,
             "best_val_macro_f1": None, "best_trial": None, "best_params": None,
             "best_args": None, "best_epoch": None, "best_epochs_run": None,
             "cpu_hours": 0.0, "wall_hours": 0.0,
             "fixed_args": spec["args"],
             "space": {opt: s for opt, s in spec["space"].items()}}
        if name in names:
            study = optuna.load_study(study_name=name, storage=storage)
            trials = study.get_trials(deepcopy=False)
            key = {S.COMPLETE: "complete", S.PRUNED: "pruned", S.FAIL: "failed",
                   S.RUNNING: "running", S.WAITING: "waiting"}
            for tr in trials:
                r[key[tr.state]] += 1
                r["cpu_hours"] += tr.user_attrs.get("cpu_seconds", 0.0) / 3600
                r["wall_hours"] += tr.user_attrs.get("wall_seconds", 0.0) / 3600
            best = None
            for tr in trials:
                if tr.state == S.COMPLETE and (best is None or tr.value > best.value):
                    best = tr
            if best is not None:
                r.update(best_val_macro_f1=best.value, best_trial=best.number,
                         best_params=dict(best.params),
                         best_args=spec["args"] + param_args(spec["space"], best.params),
                         best_epoch=best.user_attrs.get("best_epoch"),
                         best_epochs_run=best.user_attrs.get("epochs"))
        rows.append(r)
    return rows


SELECTION = ("Selection uses validation data only: a trial's value is the best validation "
             "macro-F1 over its epochs (epochs.csv), the pruner sees validation macro-F1 "
             "only, and no test metric is read.")


def pruner_text(p):
    if p["type"] == "none":
        return "none"
    return (f"median (n_startup_trials {p.get('n_startup_trials', 5)}, n_warmup_steps "
            f"{p.get('n_warmup_steps', 1)}, interval_steps {p.get('interval_steps', 1)}; "
            f"steps are epochs)")


def markdown(t, rows):
    L = [f"# Hyper-parameter search: {t['name']}", "", SELECTION, "",
         f"- model: `{t['model']}`; storage: `{t['storage']}` (one Optuna study per dataset "
         f"and loss, named DATASET/LOSS)",
         f"- every loss: {t['trials']} finished trials (COMPLETE + PRUNED; failed trials do not "
         f"count) of at most {t['max_epochs']} epoch(s) (--epochs), seed {t['seed']}, "
         f"{t['threads']} thread(s) per trial",
         f"- sampler: TPE (seed {t['sampler_seed']}, {t['startup_trials']} random startup "
         f"trials); pruner: {pruner_text(t['pruner'])}",
         f"- common arguments: `{shlex.join(t['common'])}`" if t["common"] else
         "- common arguments: none", "",
         "| dataset | loss | complete | pruned | failed | best val macro-F1 | best trial | "
         "best epoch / epochs run | CPU hours | best parameters |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if r["best_val_macro_f1"] is None:
            best = trial = ep = params = "n/a"
        else:
            best = f"{100 * r['best_val_macro_f1']:.2f}"
            trial = str(r["best_trial"])
            ep = f"{r['best_epoch']} / {r['best_epochs_run']}"
            params = ", ".join(f"{k} {fmt_value(v)}" for k, v in r["best_params"].items()) or "-"
        extra = []
        if r["running"]:
            extra.append(f"{r['running']} running")
        if r["waiting"]:
            extra.append(f"{r['waiting']} enqueued")
        note = f" ({', '.join(extra)})" if extra else ""
        L.append(f"| {r['dataset']} | {r['loss']} | {r['complete']}{note} | {r['pruned']} | "
                 f"{r['failed']} | {best} | {trial} | {ep} | {r['cpu_hours']:.2f} | {params} |")
    L += ["", "Validation macro-F1 in %. CPU hours: user + system time of every trial of the "
          "study (pruned and failed ones included).", "", "## Search spaces", "",
          "| loss | fixed arguments | searched |", "|---|---|---|"]
    for loss, spec in t["losses"].items():
        space = "; ".join(f"--{o}: {space_text(s)}" for o, s in spec["space"].items()) or "-"
        L.append(f"| {loss} | `{shlex.join(spec['args'])}` | {space} |" if spec["args"]
                 else f"| {loss} | - | {space} |")
    L += ["", "## Best arguments", "",
          "Per dataset, for a tools/experiment.py grid (`python3 tools/tune.py best "
          f"{t['_path']} --dataset NAME` prints the \"losses\" object); its \"common\": "
          f"`{json.dumps(best_common(t))}`.", ""]
    for ds in t["datasets"]:
        L += [f"{ds}:", "", "```json", losses_json(best_losses(rows, ds)), "```", ""]
    return "\n".join(L)


def losses_json(losses):
    """A "losses" object, one loss a line."""
    if not losses:
        return "{}"
    return ("{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in losses.items())
            + "\n}")


def best_common(t):
    return t["common"] + ["--epochs", str(t["max_epochs"])]


def best_losses(rows, ds):
    return {r["loss"]: r["best_args"] for r in rows
            if r["dataset"] == ds and r["best_args"] is not None}


def write_atomic(path, text):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def report(t, optuna):
    rows = summarise(t, optuna)
    md = markdown(t, rows)
    js = json.dumps({"name": t["name"], "selection": SELECTION, "model": t["model"],
                     "storage": t["storage"], "trials": t["trials"],
                     "max_epochs": t["max_epochs"], "seed": t["seed"],
                     "sampler_seed": t["sampler_seed"], "pruner": t["pruner"],
                     "common": t["common"], "best_common": best_common(t), "studies": rows},
                    indent=1) + "\n"
    base = os.path.join(t["out"], f"tune-{t['name']}")
    beside = os.path.splitext(t["storage"])[0]
    for b in (base, beside):
        write_atomic(b + ".md", md + "\n")
        write_atomic(b + ".json", js)
    print(f"report: {base}.md, {base}.json (copies: {beside}.md, {beside}.json)")
    return 0


def best(t, optuna, dataset=None):
    rows = summarise(t, optuna)
    for r in rows:
        if r["best_args"] is None and (dataset is None or r["dataset"] == dataset):
            print(f"{r['study']}: no complete trial yet", file=sys.stderr)
    if dataset is not None:
        if dataset not in t["datasets"]:
            raise TuneError(f"{t['_path']}: datasets: no dataset {dataset!r}")
        print(losses_json(best_losses(rows, dataset)))
    else:
        per = ",\n".join(f"  {json.dumps(ds)}: {{\"losses\": "
                         + losses_json(best_losses(rows, ds)).replace("\n", "\n    ") + "}"
                         for ds in t["datasets"])
        print(f"{{\"common\": {json.dumps(best_common(t))},\n \"datasets\": {{\n{per}\n }}\n}}")
    return 0


# --------------------------------------------------------------------- main
def main(argv):
    ap = argparse.ArgumentParser(
        prog="tune.py", description=__doc__.strip().split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="The TUNE.json format is described at the top of tools/tune.py and in "
               "docs/tuning.md.")
    ap.add_argument("command", choices=("run", "report", "best"),
                    help="run: trials until every study has enough, then report; "
                         "report: OUT/tune-NAME.md and .json; best: the best trials' "
                         "gloss arguments as JSON")
    ap.add_argument("tune", metavar="TUNE.json", help="search file, e.g. experiments/tune-mr-r8.json")
    ap.add_argument("--only", action="append", metavar="PATTERN",
                    help="run only the studies whose DATASET/LOSS matches this shell "
                         "pattern (repeatable)")
    ap.add_argument("--jobs", type=int, metavar="N",
                    help="trials run at the same time (default: the file's \"jobs\", else 1)")
    ap.add_argument("--gloss", metavar="BIN", help="run this gloss binary instead of the file's")
    ap.add_argument("--trials", type=int, metavar="N",
                    help="finished trials per study, for every study alike, instead of the "
                         "file's \"trials\" (quick checks)")
    ap.add_argument("--dataset", metavar="NAME",
                    help="best: print only this dataset's \"losses\" object")
    a = ap.parse_args(argv[1:])
    if a.jobs is not None and a.jobs < 1:
        ap.error("--jobs must be at least 1")
    if a.trials is not None and a.trials < 1:
        ap.error("--trials must be at least 1")
    if a.command != "run" and (a.only or a.jobs or a.gloss or a.trials):
        ap.error("--only, --jobs, --gloss and --trials apply to run")
    if a.dataset and a.command != "best":
        ap.error("--dataset applies to best")
    try:
        return command(a)
    except TuneError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def command(a):
    t = load_tune(a.tune)
    if a.gloss:
        t["gloss"] = a.gloss
    optuna = import_optuna()
    if a.command == "report":
        return report(t, optuna)
    if a.command == "best":
        return best(t, optuna, a.dataset)
    check_options(t)
    d = Driver(t, optuna, a.only, a.jobs, a.trials)
    if not d.cells:
        raise TuneError("--only matches no DATASET/LOSS of " + a.tune)
    rc = d.run()
    report(t, optuna)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
