"""gloss.train and gloss.Classifier: a short training run, its classifier
against `gloss predict` / `gloss eval`, progress and log callbacks,
cancelling (a callback, Ctrl-C), resuming and stop_after."""

import json
import logging
import math
import os
import signal

import numpy as np
import pytest

import gloss
from conftest import SAMPLE, TINY, run_gloss


def test_train_returns_metrics(trained):
    out, metrics = trained
    test = metrics["test"]
    assert 0.0 <= test["accuracy"] <= 1.0 and 0.0 <= test["macro_f1"] <= 1.0
    assert test["n"] == 80
    assert test["accuracy"] > 0.5  # four balanced classes: chance is 0.25
    assert json.loads((out / "metrics.json").read_text()) == metrics
    for name in ("config.json", "model.safetensors", "vocab.txt", "epochs.csv", "checkpoint.safetensors"):
        assert (out / name).is_file(), name


def test_classifier(trained, sample):
    out, metrics = trained
    with gloss.Classifier(out) as clf:
        assert sorted(clf.labels) == ["cooking", "sports", "technology", "weather"]
        assert clf.num_labels == 4
        labels, probs = clf.predict(sample[0])
        assert len(labels) == 80 and set(labels) <= set(clf.labels)
        assert probs.shape == (80, 4) and probs.dtype == np.float32
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5) and (probs >= 0).all()
        assert labels == [clf.labels[i] for i in probs.argmax(axis=1)]
        # at the training run's length the metrics are the run's test metrics
        ev = clf.evaluate(sample[0], sample[1], max_length=TINY["max_length"])
        assert {"accuracy", "macro_f1", "weighted_f1", "per_class", "confusion", "n", "silhouette"} <= set(ev)
        assert ev["n"] == 80
        assert ev["accuracy"] == pytest.approx(metrics["test"]["accuracy"])
        assert ev["macro_f1"] == pytest.approx(metrics["test"]["macro_f1"])
        assert sorted(ev["per_class"]) == sorted(clf.labels)
        # a fine-tuned classifier is also an encoder
        assert clf.embed(sample[0][:3]).shape == (3, 384)


def test_classifier_matches_the_gloss_program(trained, gloss_bin, sample, tmp_path):
    out, _ = trained
    lines = run_gloss(gloss_bin, "predict", "--model", out, "--input", SAMPLE / "test.csv", "--format", "jsonl",
                      "--quiet").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    with gloss.Classifier(out) as clf:
        labels, probs = clf.predict(sample[0])
        assert [r["label"] for r in rows] == labels
        expected = np.array([[r["probs"][name] for name in clf.labels] for r in rows], dtype=np.float32)
        assert np.abs(expected - probs).max() < 1e-5
        ev = clf.evaluate(sample[0], sample[1])
    cli = json.loads(run_gloss(gloss_bin, "eval", "--model", out, "--data", SAMPLE / "test.csv", "--quiet"))
    assert cli["accuracy"] == pytest.approx(ev["accuracy"])
    assert cli["macro_f1"] == pytest.approx(ev["macro_f1"])
    assert cli["confusion"] == ev["confusion"]


def test_cancel_by_callback_then_resume(model_dir, trained, tmp_path, capsys, caplog):
    out = tmp_path / "out"
    events, messages = [], []

    def stop_at_first_step(e):
        events.append(e)
        return e["stage"] == "train"

    with pytest.raises(gloss.Cancelled, match="resume=True") as info:
        gloss.train(model=model_dir, data=SAMPLE, out=out, progress=stop_at_first_step,
                    log=lambda level, msg: messages.append((level, msg)), **TINY)
    assert info.value.status == "cancelled"
    assert (out / "checkpoint.safetensors").is_file()
    assert not (out / "metrics.json").exists()
    step = events[-1]
    assert step["stage"] == "train" and (step["epoch"], step["epochs"]) == (1, 1)
    assert step["done"] == 1 and step["total"] == 2  # 64 documents in batches of 32
    assert math.isfinite(step["loss"]) and step["loss"] > 0 and step["lr"] > 0
    assert messages and all(level in (logging.INFO, logging.WARNING) for level, _ in messages)
    assert all(isinstance(m, str) and m and "\n" not in m for _, m in messages)

    # resume, with a progress bar and the log through the logging module (pytest configures it)
    with caplog.at_level(logging.INFO, logger="gloss"):
        metrics = gloss.train(model=model_dir, data=SAMPLE, out=out, resume=True, **TINY)
    assert "epoch 1/1" in capsys.readouterr().err
    assert any(r.name == "gloss" and r.levelno == logging.INFO for r in caplog.records)
    # resuming ends with exactly the uninterrupted run's model
    ref_out, ref = trained
    assert metrics["test"]["accuracy"] == ref["test"]["accuracy"]
    assert metrics["test"]["macro_f1"] == ref["test"]["macro_f1"]
    a, b = np.load(out / "test_embeddings.npy"), np.load(ref_out / "test_embeddings.npy")
    assert a.shape == b.shape and np.abs(a - b).max() < 1e-6


def test_ctrl_c_stops_with_a_checkpoint(model_dir, tmp_path):
    out = tmp_path / "out"
    before = signal.getsignal(signal.SIGINT)

    def press_ctrl_c(e):
        if e["stage"] == "train":
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt, match="resume=True"):
        gloss.train(model=model_dir, data=SAMPLE, out=out, progress=press_ctrl_c, log=False, **TINY)
    assert signal.getsignal(signal.SIGINT) is before
    assert (out / "checkpoint.safetensors").is_file()
    assert not (out / "metrics.json").exists()


def test_exception_in_progress_callback(model_dir, tmp_path):
    class Boom(Exception):
        pass

    def explode(e):
        raise Boom("from the callback")

    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(Boom):
        gloss.train(model=model_dir, data=SAMPLE, out=tmp_path / "out", progress=explode, log=False, **TINY)
    assert signal.getsignal(signal.SIGINT) is before


def test_stop_after(model_dir, tmp_path):
    out = tmp_path / "out"
    result = gloss.train(model=model_dir, data=SAMPLE, out=out, progress=False, log=False, epochs=2, stop_after=1,
                         limit_train=32, max_length=32, map_points=0)
    assert result["stopped"] is True and result["stop_after"] == 1
    assert (out / "checkpoint.safetensors").is_file()
