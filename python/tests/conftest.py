"""Fixtures shared by the tests: the repository's sample data, the default
model (skipped when `make setup` has not fetched it), the `gloss` program to
compare with (GLOSS_BIN, else build/gloss), and one small training run."""

import csv
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"
MODEL = REPO / "models" / "all-MiniLM-L6-v2"

# a quick run: 64 training documents, one epoch, 64 tokens, no t-SNE map
TINY = dict(epochs=1, limit_train=64, max_length=64, map_points=0)


def read_csv(path):
    """(texts, labels) of a text,label CSV file, read with Python's csv module."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [r["text"] for r in rows], [r["label"] for r in rows]


@pytest.fixture(scope="session")
def model_dir():
    if not (MODEL / "config.json").is_file() or not (MODEL / "model.safetensors").is_file():
        pytest.skip(f"{MODEL} is missing: `make setup` (sh tools/setup.sh) fetches it")
    return MODEL


@pytest.fixture(scope="session")
def sample():
    """The test split of data/sample: (texts, labels)."""
    return read_csv(SAMPLE / "test.csv")


@pytest.fixture(scope="session")
def gloss_bin():
    path = Path(os.environ.get("GLOSS_BIN") or REPO / "build" / "gloss")
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.skip(f"the gloss program is not built at {path} (make, or set GLOSS_BIN)")
    return path


def run_gloss(gloss_bin, *args):
    """Run the gloss program; its stdout as text (the test fails on a non-zero exit)."""
    p = subprocess.run([str(gloss_bin), *map(str, args)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, f"gloss {' '.join(map(str, args))} exited {p.returncode}: {p.stderr[-2000:]}"
    return p.stdout


@pytest.fixture(scope="session")
def trained(model_dir, tmp_path_factory):
    """A classifier fine-tuned for one short epoch: (out directory, metrics dict)."""
    import gloss

    out = tmp_path_factory.mktemp("train") / "out"
    metrics = gloss.train(model=model_dir, data=SAMPLE, out=out, progress=False, log=False, **TINY)
    return out, metrics
