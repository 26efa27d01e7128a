"""_hooks: the log and progress callbacks handed to one library call.

A callback from C must never let a Python exception escape into C: whatever a
callback raises (a user's function, a KeyboardInterrupt) is kept, the library
is asked to stop (the progress callback returns non-zero), and the exception
is raised again once the call has returned (Hooks.raise_pending)."""

import ctypes
import logging
import sys

from . import _native as _n

logger = logging.getLogger("gloss")

_LEVELS = {_n.LOG_INFO: logging.INFO, _n.LOG_WARN: logging.WARNING}


def write_stderr(line):
    try:
        from tqdm import tqdm
        tqdm.write(line, file=sys.stderr)  # keeps an open progress bar intact
    except ImportError:
        print(line, file=sys.stderr)


def log_to_logger(level, message):
    """Library messages to the "gloss" logger (unconfigured: warnings reach stderr)."""
    logger.log(level, message)


def log_to_logger_or_stderr(level, message):
    """Library messages to the "gloss" logger where logging is configured, else
    every line to stderr as the `gloss` program prints it."""
    if logger.hasHandlers():
        logger.log(level, message)
    elif logger.level == logging.NOTSET or logger.isEnabledFor(level):
        write_stderr(("warning: " if level >= logging.WARNING else "") + message)


def event_dict(p):
    """A gloss_progress as a dict."""
    return {
        "stage": _n.STAGE_NAMES.get(p.stage, str(p.stage)),
        "epoch": p.epoch,
        "epochs": p.epochs,
        "done": p.done,
        "total": p.total,
        "elapsed_s": p.elapsed_s,
        "loss": p.loss,
        "lr": p.lr,
        "docs_per_s": p.docs_per_s,
    }


class Bars:
    """A tqdm bar per pass: "epoch 2/4" over optimiser steps with the running
    loss and learning rate, "validate 2/4", "test", "embed", "predict" over
    documents. Epoch bars stay on screen; the others are cleared when done."""

    def __init__(self):
        from tqdm.auto import tqdm
        self._tqdm = tqdm
        self._bar = None
        self._key = None
        self._done = 0

    def __call__(self, e):
        key = (e["stage"], e["epoch"], e["total"])
        if self._bar is None or key != self._key or e["done"] < self._done:
            self.close()
            stage = e["stage"]
            if stage == "train":
                desc = f"epoch {e['epoch']}/{e['epochs']}" if e["epochs"] else "train"
            elif stage == "validate" and e["epochs"]:
                desc = f"validate {e['epoch']}/{e['epochs']}"
            else:
                desc = stage
            self._bar = self._tqdm(total=e["total"], desc=desc, unit="step" if stage == "train" else "doc",
                                   leave=stage == "train", dynamic_ncols=True, file=sys.stderr)
            self._key, self._done = key, 0
        bar = self._bar
        if e["stage"] == "train":
            bar.set_postfix(loss=f"{e['loss']:.4f}", lr=f"{e['lr']:.2e}", refresh=False)
        bar.update(e["done"] - self._done)
        self._done = e["done"]
        if e["done"] >= e["total"]:
            self.close()
        return False

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class Hooks:
    """gloss_callbacks for one call. log: callable(level, message) with a
    logging level, or None for silence; progress: callable(event dict)
    returning True to cancel, or None."""

    def __init__(self, log=None, progress=None):
        self._log = log
        self._progress = progress
        self.cancel = False  # set by a SIGINT handler, or by a progress callable
        self.interrupted = False  # set by a SIGINT handler
        self.error = None  # the first exception raised inside a callback
        self._log_fn = _n.LOG_FN(self._on_log)
        self._progress_fn = _n.PROGRESS_FN(self._on_progress)
        self.struct = _n.Callbacks(self._log_fn, self._progress_fn, None)

    @property
    def pointer(self):
        return ctypes.byref(self.struct)

    def _on_log(self, level, message, user):
        try:
            if self._log is not None:
                self._log(_LEVELS.get(level, logging.INFO), _n.text(message))
        except BaseException as e:  # noqa: B902 (nothing may reach C)
            self._keep(e)

    def _on_progress(self, p, user):
        try:
            if self.cancel or self.error is not None:
                return 1
            if self._progress is not None and self._progress(event_dict(p.contents)):
                self.cancel = True
            return 1 if self.cancel else 0
        except BaseException as e:  # noqa: B902 (nothing may reach C)
            self._keep(e)
            return 1

    def _keep(self, e):
        if self.error is None:
            self.error = e
        self.cancel = True

    def close(self):
        if isinstance(self._progress, Bars):
            self._progress.close()

    def raise_pending(self):
        """Raise what a callback raised, if anything."""
        if self.error is not None:
            e, self.error = self.error, None
            raise e


def progress_target(progress):
    """What a progress= argument means: True a tqdm bar, None/False nothing,
    a callable itself."""
    if progress is True:
        return Bars()
    if progress is None or progress is False:
        return None
    if callable(progress):
        return progress
    raise TypeError(f"progress must be True, False or a callable, not {type(progress).__name__}")
