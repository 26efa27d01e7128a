"""training: fine-tune a model (gloss_train) with the options of `gloss train`."""

import ctypes
import json
import os
import signal
import threading
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import _hooks
from . import _native as _n
from .errors import Cancelled, check, last_error

_lib = _n.lib


@dataclass(frozen=True)
class TrainOption:
    """One option of gloss.train, as `gloss train --help` describes it."""

    name: str  # as on the command line without "--": "batch-size"
    metavar: Optional[str]  # "N"; None for switches
    section: str  # "data", "objective", "model", "optimisation" or "runs"
    help: str  # lines of at most 60 columns
    type: str  # "text", "int", "number", "choice", "switch" or "special"
    required: bool  # model, data and out
    default: str  # the value on a fresh configuration, in text form ("" for an unset path)

    @property
    def keyword(self):
        """The keyword argument of gloss.train: "batch_size"."""
        return self.name.replace("-", "_")


def _config_get(cfg, name):
    raw = name.encode()
    cap = 64
    while True:
        buf = ctypes.create_string_buffer(cap)
        n = _lib.gloss_train_config_get(cfg, raw, buf, cap)
        if n < 0:
            raise last_error()
        if n < cap:
            return buf.value.decode("utf-8", errors="replace")
        cap = n + 1


def _new_config():
    cfg = _lib.gloss_train_config_new()
    if not cfg:
        raise last_error()
    return cfg


def train_options():
    """Every option gloss.train accepts, in the order of `gloss train --help`:
    a list of TrainOption (name, metavar, section, help, type, required,
    default)."""
    cfg = _new_config()
    try:
        options = []
        for i in range(_lib.gloss_train_option_count()):
            info = _lib.gloss_train_option(i)
            if not info:
                break
            o = info.contents
            name = _n.text(o.name)
            options.append(TrainOption(
                name=name, metavar=_n.text(o.metavar), section=_n.text(o.section) or "", help=_n.text(o.help) or "",
                type=_n.OPTION_TYPES[o.type] if 0 <= o.type < len(_n.OPTION_TYPES) else str(o.type),
                required=bool(o.required), default=_config_get(cfg, name)))
        return options
    finally:
        _lib.gloss_train_config_free(cfg)


def _option_text(name, value):
    """An option's value in the text form gloss_train_config_set reads."""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (str, os.PathLike)):
        return os.fsdecode(os.fspath(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"option {name}: an empty list")
        return ",".join(_option_text(name, v) for v in value)
    raise TypeError(f"option {name}: a {type(value).__name__} value (give a str, number, bool or list)")


def _log_target(log):
    if log is None:
        return _hooks.log_to_logger_or_stderr
    if log is False:
        return None
    if callable(log):
        return log
    raise TypeError(f"log must be None, False or a callable(level, message), not {type(log).__name__}")


class _Sigint:
    """While training runs in the main thread, Ctrl-C asks the library to stop
    at the next step (it then writes a checkpoint) instead of raising
    KeyboardInterrupt somewhere inside a callback. The previous handler comes
    back on exit, whatever happens."""

    def __init__(self, hooks):
        self.hooks = hooks
        self.previous = None
        self.installed = False

    def _handler(self, signum, frame):
        if not self.hooks.interrupted:
            _hooks.write_stderr("gloss: interrupted: finishing the current step and writing a checkpoint")
        self.hooks.interrupted = True
        self.hooks.cancel = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is not None:  # None: a handler set outside Python, which we could not restore
                self.previous = previous
                signal.signal(signal.SIGINT, self._handler)
                self.installed = True
        return self

    def __exit__(self, *exc):
        if self.installed:
            signal.signal(signal.SIGINT, self.previous)
            self.installed = False


def _resume_hint(out):
    return f"a checkpoint is in {out}: call gloss.train again with the same options and resume=True to continue"


def train(model=None, data=None, out=None, *, progress=True, log=None, **options):
    """Fine-tune `model` (a checkpoint directory) on `data` (a directory with
    train.csv, optional val.csv and test.csv) and write the fine-tuned model,
    metrics.json, epochs.csv, plots and a checkpoint into `out`. Returns
    metrics.json as a dict.

    Every other keyword is an option of `gloss train --help` with '_' for
    '-' (gloss.train_options() lists them): loss="gloss", epochs=2,
    batch_size=16, lr=1e-4, bucket=True, probe_l2=[1e-3, 1e-2], resume=True.
    A value of None leaves the option at its default.

    progress: True shows a bar per epoch and pass; a callable gets a dict per
    event (stage, epoch, epochs, done, total, elapsed_s, loss, lr, docs_per_s)
    and may return True to stop, which writes a checkpoint and raises
    gloss.Cancelled; False shows nothing.
    log: None sends the library's messages to the "gloss" logger, or to
    stderr where logging is not configured; a callable gets (level, message)
    with a logging level; False drops them.

    Ctrl-C (in the main thread) finishes the current step, writes a checkpoint
    and raises KeyboardInterrupt; resume=True continues the run exactly. With
    stop_after=N the run stops after epoch N with a checkpoint and the result
    is {"stopped": True, "stop_after": N, "out": out}."""
    values = {"model": model, "data": data, "out": out, **options}
    log_fn = _log_target(log)
    progress_fn = _hooks.progress_target(progress)
    cfg = _new_config()
    try:
        for key, value in values.items():
            if value is None:
                continue
            text = _option_text(key, value)
            if "\0" in text:
                raise ValueError(f"option {key}: a NUL character in the value")
            check(_lib.gloss_train_config_set(cfg, key.encode(), text.encode("utf-8")))
        out_dir = _config_get(cfg, "out")
        hooks = _hooks.Hooks(log=log_fn, progress=progress_fn)
        result = ctypes.c_void_p()
        try:
            with _Sigint(hooks):
                status = _lib.gloss_train(cfg, hooks.pointer, ctypes.byref(result))
                # the message of a failure, read on this thread before anything else can replace it
                failure = last_error(status) if status not in (_n.OK, _n.STOPPED) else None
        finally:
            hooks.close()
            text = ctypes.string_at(result.value).decode("utf-8") if result.value else None
            _lib.gloss_free(result)
    finally:
        _lib.gloss_train_config_free(cfg)

    if hooks.interrupted:
        if status == _n.OK:
            raise KeyboardInterrupt(f"interrupted after training finished; the outputs in {out_dir} are complete")
        raise KeyboardInterrupt(f"training interrupted; {_resume_hint(out_dir)}")
    if hooks.error is not None:
        if status == _n.CANCELLED and hasattr(hooks.error, "add_note"):
            hooks.error.add_note(f"gloss.train stopped; {_resume_hint(out_dir)}")
        hooks.raise_pending()
    if status == _n.CANCELLED:
        raise Cancelled(f"training cancelled by the progress callback; {_resume_hint(out_dir)}", _n.CANCELLED)
    if status == _n.STOPPED:
        stopped = {"stopped": True, "stop_after": int(options.get("stop_after") or 0), "out": out_dir}
        if text:
            stopped.update(json.loads(text))
        return stopped
    if failure is not None:
        raise failure
    if text is None:
        with open(os.path.join(out_dir, "metrics.json"), encoding="utf-8") as f:
            return json.loads(f.read())
    return json.loads(text)
