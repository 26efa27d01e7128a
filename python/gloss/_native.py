"""_native: libgloss.so loaded with ctypes, every function of include/gloss.h
declared with its argument and result types, and the structures it passes.

The library is looked up, in order, at $GLOSS_LIBRARY, at gloss/_lib/libgloss.so
inside this package (where `pip install` puts it), and as libgloss.so.0 on the
system's library path (`make install`)."""

import ctypes
import os
import platform
import subprocess
import sys
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_float, c_int, c_int32, c_size_t,
                    c_void_p)
from pathlib import Path

# gloss_status
OK, ERROR, NOMEM, IO, FORMAT, INVALID, MISUSE, CANCELLED, STOPPED = range(9)
# gloss_log_level
LOG_INFO, LOG_WARN = 0, 1
# gloss_stage
STAGE_TRAIN, STAGE_VALIDATE, STAGE_TEST, STAGE_PREDICT, STAGE_EMBED = range(5)
STAGE_NAMES = {STAGE_TRAIN: "train", STAGE_VALIDATE: "validate", STAGE_TEST: "test", STAGE_PREDICT: "predict",
               STAGE_EMBED: "embed"}
# gloss_pool
POOL_AUTO = -1
# gloss_option_type
OPTION_TYPES = ("text", "int", "number", "choice", "switch", "special")


class Progress(Structure):
    _fields_ = [
        ("stage", c_int),
        ("epoch", c_int),
        ("epochs", c_int),
        ("done", c_size_t),
        ("total", c_size_t),
        ("elapsed_s", c_double),
        ("loss", c_double),
        ("lr", c_double),
        ("docs_per_s", c_double),
    ]


LOG_FN = CFUNCTYPE(None, c_int, c_char_p, c_void_p)
PROGRESS_FN = CFUNCTYPE(c_int, POINTER(Progress), c_void_p)


class Callbacks(Structure):
    _fields_ = [("log", LOG_FN), ("progress", PROGRESS_FN), ("user", c_void_p)]


class OptionInfo(Structure):
    _fields_ = [
        ("name", c_char_p),
        ("metavar", c_char_p),
        ("section", c_char_p),
        ("help", c_char_p),
        ("type", c_int),
        ("required", c_int),
    ]


class _Model(Structure):  # opaque gloss_model
    pass


class _Config(Structure):  # opaque gloss_train_config
    pass


class _Texts(Structure):  # opaque gloss_texts
    pass


MODEL_P = POINTER(_Model)
CONFIG_P = POINTER(_Config)
TEXTS_P = POINTER(_Texts)
CB_P = POINTER(Callbacks)

# name: (result type, argument types)
_PROTOTYPES = {
    "gloss_status_name": (c_char_p, [c_int]),
    "gloss_last_error": (c_char_p, []),
    "gloss_last_status": (c_int, []),
    "gloss_version": (c_char_p, []),
    "gloss_build_info": (c_char_p, []),
    "gloss_free": (None, [c_void_p]),
    "gloss_pool_parse": (c_int, [c_char_p, POINTER(c_int)]),
    "gloss_pool_name": (c_char_p, [c_int]),
    "gloss_model_load": (MODEL_P, [c_char_p]),
    "gloss_model_free": (None, [MODEL_P]),
    "gloss_model_hidden_size": (c_int, [MODEL_P]),
    "gloss_model_num_layers": (c_int, [MODEL_P]),
    "gloss_model_max_length": (c_int, [MODEL_P]),
    "gloss_model_has_pooler": (c_int, [MODEL_P]),
    "gloss_model_max_seq_length": (c_int, [MODEL_P]),
    "gloss_model_num_labels": (c_int, [MODEL_P]),
    "gloss_model_label": (c_char_p, [MODEL_P, c_int]),
    "gloss_model_set_bf16": (c_int, [MODEL_P, c_int]),
    "gloss_model_kernels": (c_char_p, [MODEL_P]),
    "gloss_model_pooling": (c_int, [MODEL_P, c_int, POINTER(c_int), POINTER(c_int), POINTER(c_char_p)]),
    "gloss_normalize_rows": (None, [POINTER(c_float), c_size_t, c_int]),
    "gloss_tokenize": (c_int, [MODEL_P, c_char_p, c_int, POINTER(c_int32), c_int]),
    "gloss_embed": (c_int, [MODEL_P, POINTER(c_char_p), c_size_t, c_int, c_int, c_int, POINTER(c_float), CB_P]),
    "gloss_predict": (c_int, [MODEL_P, POINTER(c_char_p), c_size_t, c_int, c_int, POINTER(c_int), POINTER(c_float),
                              CB_P]),
    "gloss_evaluate": (c_int, [MODEL_P, POINTER(c_char_p), POINTER(c_char_p), c_size_t, c_int, c_int,
                               POINTER(c_void_p), CB_P]),
    "gloss_texts_read": (TEXTS_P, [c_char_p, c_char_p, c_char_p]),
    "gloss_texts_free": (None, [TEXTS_P]),
    "gloss_texts_count": (c_size_t, [TEXTS_P]),
    "gloss_texts_text": (POINTER(c_char_p), [TEXTS_P]),
    "gloss_texts_labels": (POINTER(c_char_p), [TEXTS_P]),
    "gloss_train_config_new": (CONFIG_P, []),
    "gloss_train_config_free": (None, [CONFIG_P]),
    "gloss_train_config_set": (c_int, [CONFIG_P, c_char_p, c_char_p]),
    "gloss_train_config_get": (c_int, [CONFIG_P, c_char_p, c_char_p, c_size_t]),
    "gloss_train_option_count": (c_size_t, []),
    "gloss_train_option": (POINTER(OptionInfo), [c_size_t]),
    "gloss_train": (c_int, [CONFIG_P, CB_P, POINTER(c_void_p)]),
}


def _library_candidates():
    env = os.environ.get("GLOSS_LIBRARY")
    if env:
        return [env]
    return [str(Path(__file__).resolve().parent / "_lib" / "libgloss.so"), "libgloss.so.0"]


# OpenBLAS picks its kernels from the CPU model when it loads, and falls back to
# its slow SSE3 "Prescott" kernels on a model newer than itself (Debian 12's
# 0.3.21 on a recent Xeon: 4x slower training). The `gloss` program restarts
# itself with OPENBLAS_CORETYPE set; an interpreter cannot, so before loading
# the library we ask a short-lived child process which kernels OpenBLAS would
# pick and, where that is the fallback, set OPENBLAS_CORETYPE to the best the
# CPU's instruction sets allow (the same rule as src/util/blas_core.c). A value
# the user set is kept.
_PROBE = r"""
import ctypes, sys
ctypes.CDLL(sys.argv[1])
with open("/proc/self/maps") as f:
    paths = [line.split()[-1] for line in f if "libopenblas" in line]
if paths:
    blas = ctypes.CDLL(paths[0])
    blas.openblas_get_corename.restype = ctypes.c_char_p
    print(blas.openblas_get_corename().decode())
"""


def _core_for_cpu():
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((set(line.split(":", 1)[1].split()) for line in f if line.startswith("flags")), set())
    except OSError:
        return None
    if {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"} <= flags:
        return "SkylakeX"
    if {"avx2", "fma"} <= flags:
        return "Haswell"
    if "avx" in flags:
        return "Sandybridge"
    return None


def _prefer_fast_blas(path):
    if "OPENBLAS_CORETYPE" in os.environ or not sys.platform.startswith("linux"):
        return
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return
    core = _core_for_cpu()
    if core is None or not os.path.isfile(path):
        return
    try:
        with open("/proc/self/maps") as f:
            if any("libopenblas" in line for line in f):
                return  # already loaded in this process: too late to choose
        probe = subprocess.run([sys.executable, "-I", "-S", "-c", _PROBE, path], capture_output=True, text=True,
                               timeout=60, env={k: v for k, v in os.environ.items() if k != "OPENBLAS_VERBOSE"})
    except (OSError, subprocess.SubprocessError):
        return
    if probe.returncode == 0 and probe.stdout.strip().lower() == "prescott":
        os.environ["OPENBLAS_CORETYPE"] = core


def _load():
    errors = []
    for path in _library_candidates():
        if os.sep in path and not os.path.isfile(path):
            errors.append(f"{path}: no such file")
            continue
        _prefer_fast_blas(path)
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            errors.append(str(e))
            continue
        missing = [name for name in _PROTOTYPES if not hasattr(lib, name)]
        if missing:
            raise ImportError(f"gloss: {path} does not export {', '.join(missing)}: it is not the library this "
                              "package was written for; reinstall the package (pip install ./python) to rebuild it")
        for name, (restype, argtypes) in _PROTOTYPES.items():
            fn = getattr(lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
        return lib, path
    raise ImportError("gloss: cannot load libgloss.so (" + "; ".join(errors) + "). Install the package with "
                      "`pip install ./python` from the gloss repository, which builds it, or set GLOSS_LIBRARY "
                      "to a libgloss.so")


lib, library_path = _load()


def text(b):
    """A C string from the library as str (None stays None)."""
    return None if b is None else b.decode("utf-8", errors="replace")
