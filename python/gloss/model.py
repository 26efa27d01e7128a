"""model: a loaded checkpoint, as an encoder (embeddings) or a fine-tuned
classifier (labels, probabilities, metrics), and reading data files."""

import ctypes
import json
import os
import threading
import warnings

import numpy as np

from . import _hooks
from . import _native as _n
from ._texts import path_bytes, positive_int, utf8_array
from .errors import InvalidArgumentError, MisuseError, check, last_error

_lib = _n.lib


def _call(fn, *args, progress=False):
    """Run a library call that takes a gloss_callbacks pointer last: library
    messages go to the "gloss" logger; progress shows a bar (True) or calls a
    function with an event dict that may return True to cancel. Ctrl-C is
    delivered between batches and cancels the call."""
    hooks = _hooks.Hooks(log=_hooks.log_to_logger, progress=_hooks.progress_target(progress))
    try:
        status = fn(*args, hooks.pointer)
    finally:
        hooks.close()
    hooks.raise_pending()
    check(status)


def _pool_code(pool):
    if not isinstance(pool, str):
        raise TypeError(f"pool must be a str such as 'auto' or 'mean', not {type(pool).__name__}")
    code = ctypes.c_int()
    check(_lib.gloss_pool_parse(pool.encode(), ctypes.byref(code)))
    return code.value


class Encoder:
    """A Hugging Face BERT-family checkpoint directory (config.json,
    model.safetensors, vocab.txt, ...), or a model written by gloss.train.

        with gloss.Encoder("models/all-MiniLM-L6-v2") as enc:
            x = enc.embed(["a first text", "a second one"])   # (2, 384) float32

    bf16=True runs the encoder's matrix products on bf16 inputs with fp32
    sums (as `gloss embed --bf16`; see the bf16 property).

    One object must not be used by two threads at once; calls on it are
    serialised by a lock. close() (or the with block) frees it at once."""

    def __init__(self, path, bf16=False):
        self._lock = threading.RLock()
        self._handle = None
        self._bf16 = False
        raw = path_bytes(path, "path")
        self.path = os.fsdecode(raw)
        handle = _lib.gloss_model_load(raw)
        if not handle:
            raise last_error()
        self._handle = handle
        if bf16:
            self.bf16 = True

    # ---- life cycle
    def close(self):
        """Free the model (idempotent)."""
        with self._lock:
            if self._handle is not None:
                _lib.gloss_model_free(self._handle)
                self._handle = None

    @property
    def closed(self):
        return self._handle is None

    def __enter__(self):
        self._h  # noqa: B018 (raises when closed)
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        state = "closed" if self.closed else f"hidden_size={self.hidden_size}, num_layers={self.num_layers}"
        return f"{type(self).__name__}({self.path!r}, {state})"

    @property
    def _h(self):
        if self._handle is None:
            raise ValueError(f"{type(self).__name__}({self.path!r}) is closed")
        return self._handle

    # ---- properties
    @property
    def hidden_size(self):
        """Width of the embeddings."""
        return _lib.gloss_model_hidden_size(self._h)

    @property
    def num_layers(self):
        return _lib.gloss_model_num_layers(self._h)

    @property
    def max_length(self):
        """Tokens the model can take at most (its position embeddings)."""
        return _lib.gloss_model_max_length(self._h)

    @property
    def max_seq_length(self):
        """sentence_bert_config.json's max_seq_length; None when the checkpoint declares none."""
        return _lib.gloss_model_max_seq_length(self._h) or None

    @property
    def has_pooler(self):
        return bool(_lib.gloss_model_has_pooler(self._h))

    @property
    def bf16(self):
        """Whether bf16 is on: asked for and granted (kernels says what runs).
        Setting True on a CPU without AVX512-BF16 warns (RuntimeWarning) and
        the model stays fp32. With bf16 on, the kernels are still chosen from
        the CPU: fp32 sgemm where bf16 would be slower than fp32."""
        return self._bf16

    @bf16.setter
    def bf16(self, on):
        if not isinstance(on, bool):
            raise TypeError(f"bf16 must be a bool, not {type(on).__name__}")
        with self._lock:
            code = _lib.gloss_model_set_bf16(self._h, int(on))
            if code == _n.INVALID:  # no AVX512-BF16: fp32, as the CLI's --bf16
                warnings.warn(str(last_error(code)), RuntimeWarning, stacklevel=2)
                self._bf16 = False
            else:
                check(code)
                self._bf16 = on

    @property
    def kernels(self):
        """What runs the matrix products, e.g. "fp32 OpenBLAS sgemm (SkylakeX)"
        or "bf16 inputs, fp32 sums: ... AVX512-BF16 ..."."""
        with self._lock:
            return _n.text(_lib.gloss_model_kernels(self._h))

    @property
    def num_labels(self):
        """Classes of a classification head; 0 for an encoder without one."""
        return _lib.gloss_model_num_labels(self._h)

    def pooling(self, pool="auto"):
        """How `pool` resolves for this checkpoint: (pooling name, whether
        embed normalises by default, why), e.g. ("mean", True, "from
        1_Pooling/config.json"). Raises when the checkpoint cannot pool so."""
        code = _pool_code(pool)
        with self._lock:
            return self._pooling(code)

    def _pooling(self, code):
        resolved, normalize, source = ctypes.c_int(), ctypes.c_int(), ctypes.c_char_p()
        check(_lib.gloss_model_pooling(self._h, code, ctypes.byref(resolved), ctypes.byref(normalize),
                                       ctypes.byref(source)))
        return _n.text(_lib.gloss_pool_name(resolved.value)), bool(normalize.value), _n.text(source.value) or ""

    # ---- work
    def tokenize(self, text, max_length=0):
        """Token ids of one text as [CLS] ... [SEP], truncated to max_length when > 0."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, not {type(text).__name__}")
        (encoded,), _ = utf8_array([text], what="text")
        max_length = 0 if max_length in (0, None) else positive_int(max_length, "max_length")
        cap = len(encoded) + 2
        with self._lock:
            while True:
                ids = (ctypes.c_int32 * cap)()
                n = _lib.gloss_tokenize(self._h, encoded, max_length, ids, cap)
                if n < 0:
                    raise last_error()
                if n <= cap:
                    return list(ids[:n])
                cap = n

    def embed(self, texts, pool="auto", max_length=None, batch_size=32, normalize=None, progress=False):
        """Embed a list of str: a float32 array (len(texts), hidden_size), rows in input order.

        pool: "auto" (the checkpoint's own pooling), "mean", "cls", "pooler",
        "max" or "mean_sqrt_len". max_length: tokens per text including
        [CLS]/[SEP]; None is what `gloss embed` uses: the checkpoint's
        max_seq_length, else 128, at most max_length positions. normalize:
        None scales rows to unit L2 norm where the checkpoint declares a
        Normalize module and pool is auto or the declared pooling (as
        sentence-transformers' encode does); True or False force it.
        progress: True for a progress bar, or a function called with a dict
        per batch that may return True to cancel."""
        array, n = utf8_array(texts)
        code = _pool_code(pool)
        batch_size = positive_int(batch_size, "batch_size")
        if normalize is not None and not isinstance(normalize, (bool, np.bool_)):
            raise TypeError(f"normalize must be None, True or False, not {type(normalize).__name__}")
        with self._lock:
            h = self._h
            _, declared_normalize, _ = self._pooling(code)
            positions = _lib.gloss_model_max_length(h)
            if max_length is None:
                max_length = min(_lib.gloss_model_max_seq_length(h) or 128, positions)
            else:
                max_length = positive_int(max_length, "max_length")
                if max_length > positions:
                    raise InvalidArgumentError(f"max_length {max_length} exceeds the model's {positions} positions",
                                               _n.INVALID)
            dim = _lib.gloss_model_hidden_size(h)
            out = np.empty((n, dim), dtype=np.float32)
            out_p = out.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            _call(_lib.gloss_embed, h, array, n, code, max_length, batch_size, out_p, progress=progress)
            if declared_normalize if normalize is None else normalize:
                _lib.gloss_normalize_rows(out_p, n, dim)
        return out


class Classifier(Encoder):
    """A model fine-tuned by gloss.train (or any BertForSequenceClassification
    checkpoint with id2label): an Encoder with a classification head.

        clf = gloss.Classifier("out/sample")
        labels, probs = clf.predict(["a gripping, funny film"])"""

    def __init__(self, path, bf16=False):
        super().__init__(path, bf16=bf16)
        k = _lib.gloss_model_num_labels(self._handle)
        if k <= 0:
            self.close()
            raise MisuseError(f"{self.path}: an encoder without a classification head (config.json has no "
                              "id2label): load it with gloss.Encoder, or fine-tune it with gloss.train", _n.MISUSE)
        self._labels = tuple(_n.text(_lib.gloss_model_label(self._handle, i)) for i in range(k))

    @property
    def labels(self):
        """The class names (config.json's id2label), in the order of predict's probability columns."""
        return list(self._labels)

    def predict(self, texts, max_length=128, batch_size=64, progress=False):
        """Classify a list of str: (labels, probs), labels a list of class
        names and probs a float32 array (len(texts), len(self.labels)) of
        softmax probabilities, columns in the order of self.labels."""
        array, n = utf8_array(texts)
        max_length = positive_int(max_length, "max_length", allow_none=True) or 0
        batch_size = positive_int(batch_size, "batch_size")
        k = len(self._labels)
        with self._lock:
            h = self._h
            index = np.empty(n, dtype=np.intc)
            probs = np.empty((n, k), dtype=np.float32)
            _call(_lib.gloss_predict, h, array, n, max_length, batch_size,
                  index.ctypes.data_as(ctypes.POINTER(ctypes.c_int)),
                  probs.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), progress=progress)
        return [self._labels[i] for i in index], probs

    def evaluate(self, texts, labels, max_length=128, batch_size=64, progress=False):
        """Metrics of the model on labelled texts (labels: class names, each
        one of self.labels) as a dict: accuracy, macro_f1, weighted_f1,
        per_class, confusion, n, silhouette."""
        array, n = utf8_array(texts)
        label_array, n_labels = utf8_array(labels, what="labels")
        if n_labels != n:
            raise ValueError(f"{n} texts but {n_labels} labels")
        max_length = positive_int(max_length, "max_length", allow_none=True) or 0
        batch_size = positive_int(batch_size, "batch_size")
        result = ctypes.c_void_p()
        with self._lock:
            _call(_lib.gloss_evaluate, self._h, array, label_array, n, max_length, batch_size, ctypes.byref(result),
                  progress=progress)
        try:
            return json.loads(ctypes.string_at(result.value).decode("utf-8"))
        finally:
            _lib.gloss_free(result)


def read_texts(path, text_col="text", label_col=None):
    """Read documents as gloss does: .csv (RFC 4180, header row), .tsv, .jsonl,
    any of them gzip-compressed, or plain text (one document per line).
    Returns (texts, labels), labels None without label_col."""
    raw = path_bytes(path)
    if not isinstance(text_col, str) or not (label_col is None or isinstance(label_col, str)):
        raise TypeError("text_col and label_col must be str (label_col may be None)")
    t = _lib.gloss_texts_read(raw, text_col.encode(), None if label_col is None else label_col.encode())
    if not t:
        raise last_error()
    try:
        n = _lib.gloss_texts_count(t)
        texts_p = _lib.gloss_texts_text(t)
        texts = [texts_p[i].decode("utf-8", errors="replace") for i in range(n)]
        labels = None
        if label_col is not None:
            labels_p = _lib.gloss_texts_labels(t)
            labels = [labels_p[i].decode("utf-8", errors="replace") for i in range(n)] if labels_p else None
        return texts, labels
    finally:
        _lib.gloss_texts_free(t)
