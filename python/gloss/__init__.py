"""gloss: fine-tune BERT-family text encoders for classification with G-Loss
(a graph-guided loss built on label propagation) or a standard loss, then
embed and classify text; a binding over libgloss.so (include/gloss.h).

    import gloss
    metrics = gloss.train(model="models/all-MiniLM-L6-v2", data="data/sample", out="out/sample", loss="gloss")
    clf = gloss.Classifier("out/sample")
    labels, probs = clf.predict(["a gripping, funny film"])
    x = gloss.Encoder("models/all-MiniLM-L6-v2").embed(["a text", "another"])
"""

from . import _native
from .errors import (Cancelled, FormatError, GlossError, GlossIOError, GlossMemoryError, InvalidArgumentError,
                     MisuseError)
from .model import Classifier, Encoder, read_texts
from .training import TrainOption, train, train_options

__version__ = _native.text(_native.lib.gloss_version())


def build_info():
    """The library's version, BLAS build and the BLAS kernels in use."""
    return _native.text(_native.lib.gloss_build_info()).strip()


__all__ = [
    "Encoder", "Classifier", "train", "train_options", "TrainOption", "read_texts", "build_info",
    "GlossError", "GlossIOError", "GlossMemoryError", "FormatError", "InvalidArgumentError", "MisuseError",
    "Cancelled", "__version__",
]
