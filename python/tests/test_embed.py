"""gloss.Encoder: properties, tokenization, embeddings (shape, type,
determinism, normalisation, pooling) and agreement with `gloss embed`."""

import re

import numpy as np
import pytest

import gloss
from conftest import REPO, SAMPLE, run_gloss


@pytest.fixture(scope="module")
def encoder(model_dir):
    with gloss.Encoder(model_dir) as enc:
        yield enc


def test_version_is_the_headers():
    header = (REPO / "include" / "gloss.h").read_text()
    assert gloss.__version__ == re.search(r'#define GLOSS_VERSION "([^"]+)"', header).group(1)
    assert gloss.__version__ in gloss.build_info()


def test_properties(encoder):
    # all-MiniLM-L6-v2: 6 layers of width 384, 512 positions, max_seq_length 256
    assert (encoder.hidden_size, encoder.num_layers, encoder.max_length) == (384, 6, 512)
    assert encoder.max_seq_length == 256
    assert encoder.num_labels == 0
    name, normalize, source = encoder.pooling()
    assert name == "mean" and normalize is True and source


def test_tokenize(encoder):
    ids = encoder.tokenize("Hello, world!")
    # BERT's uncased vocabulary: [CLS] hello , world ! [SEP]
    assert ids == [101, 7592, 1010, 2088, 999, 102]
    long_text = " ".join(["word"] * 100)
    assert len(encoder.tokenize(long_text)) == 102
    truncated = encoder.tokenize(long_text, max_length=10)
    assert len(truncated) == 10 and truncated[0] == 101 and truncated[-1] == 102
    with pytest.raises(TypeError):
        encoder.tokenize(b"bytes")


def test_embed_shape_type_determinism(encoder, sample):
    texts = sample[0][:20]
    a = encoder.embed(texts)
    assert a.shape == (20, 384) and a.dtype == np.float32 and a.flags.c_contiguous
    assert np.isfinite(a).all()
    b = encoder.embed(texts)
    assert np.array_equal(a, b)
    # the checkpoint declares a Normalize module: unit rows by default, raw pooled vectors on request
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    raw = encoder.embed(texts, normalize=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0, atol=1e-3)
    assert np.allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), a, atol=1e-5)


def test_embed_rows_do_not_depend_on_batching(encoder, sample):
    texts = sample[0][:12]
    whole = encoder.embed(texts, batch_size=32)
    one_by_one = encoder.embed(texts, batch_size=1)
    assert np.abs(whole - one_by_one).max() < 1e-5
    reversed_rows = encoder.embed(texts[::-1])[::-1]
    assert np.abs(whole - reversed_rows).max() < 1e-5


def test_embed_pooling_and_length(encoder, sample):
    texts = sample[0][:4]
    cls = encoder.embed(texts, pool="cls")
    mean = encoder.embed(texts, pool="mean")
    assert cls.shape == mean.shape == (4, 384)
    assert not np.allclose(cls, mean)
    # pool="cls" is not the declared pooling: no normalisation unless asked
    assert not np.allclose(np.linalg.norm(cls, axis=1), 1.0, atol=1e-3)
    short = encoder.embed(["word " * 50], max_length=8)
    longer = encoder.embed(["word " * 50], max_length=64)
    assert not np.allclose(short, longer)


def test_embed_progress_events(encoder, sample):
    events = []
    encoder.embed(sample[0][:10], batch_size=4, progress=events.append)
    assert events and all(e["stage"] == "embed" for e in events)
    assert events[-1]["done"] == events[-1]["total"] == 10
    assert [e["done"] for e in events] == sorted(e["done"] for e in events)


def test_embed_cancel_by_callback(encoder, sample):
    with pytest.raises(gloss.Cancelled) as info:
        encoder.embed(sample[0][:10], batch_size=2, progress=lambda e: True)
    assert info.value.status == "cancelled"
    # the model stays usable
    assert encoder.embed(sample[0][:2]).shape == (2, 384)


def test_exception_in_callback_is_raised_after_the_call(encoder, sample):
    class Boom(Exception):
        pass

    def explode(event):
        raise Boom("from the callback")

    with pytest.raises(Boom):
        encoder.embed(sample[0][:6], batch_size=2, progress=explode)
    assert encoder.embed(sample[0][:2]).shape == (2, 384)


def test_unicode_texts(encoder):
    x = encoder.embed(["café crème brûlée", "naïve façade", "日本語のテキスト", "emoji 🙂 here", ""])
    assert x.shape == (5, 384) and np.isfinite(x).all()


def test_closed_encoder(model_dir):
    enc = gloss.Encoder(model_dir)
    enc.close()
    enc.close()  # idempotent
    assert enc.closed
    with pytest.raises(ValueError, match="closed"):
        enc.embed(["text"])
    with pytest.raises(ValueError, match="closed"):
        enc.hidden_size


def test_embed_matches_the_gloss_program(encoder, gloss_bin, tmp_path, sample):
    out = tmp_path / "x.npy"
    run_gloss(gloss_bin, "embed", "--model", encoder.path, "--input", SAMPLE / "test.csv", "--output", out,
              "--quiet")
    expected = np.load(out)
    got = encoder.embed(sample[0])
    assert got.shape == expected.shape and expected.dtype == np.float32
    assert np.abs(got - expected).max() < 1e-5


def test_ctrl_c_during_embed(encoder, sample):
    import os
    import signal

    def press_ctrl_c(event):
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        encoder.embed(sample[0][:8], batch_size=2, progress=press_ctrl_c)
    assert encoder.embed(sample[0][:2]).shape == (2, 384)


def test_embed_from_another_thread(encoder, sample):
    import threading

    results = {}

    def work():
        results["x"] = encoder.embed(sample[0][:4])

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert np.array_equal(results["x"], encoder.embed(sample[0][:4]))


def test_bf16_switch(model_dir, encoder):
    """bf16=True: granted with AVX512-BF16 (kernels names what runs), else a
    RuntimeWarning and fp32; embeddings within cosine 0.999 of fp32's either
    way, and switching back gives fp32's bits."""
    texts = ["a gripping, funny film", "the plot goes nowhere", "Reuters: oil prices rose on Monday"]
    f32 = encoder.embed(texts)
    assert encoder.bf16 is False and encoder.kernels.startswith("fp32 ")
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enc = gloss.Encoder(model_dir, bf16=True)
    with enc:
        if enc.bf16:
            assert not caught
            assert enc.kernels.startswith("bf16 ") or "bf16 not used" in enc.kernels
        else:
            assert [w.category for w in caught] == [RuntimeWarning] and "AVX512-BF16" in str(caught[0].message)
            assert enc.kernels.startswith("fp32 ")
        b16 = enc.embed(texts)
        cosine = np.sum(f32 * b16, axis=1) / np.linalg.norm(f32, axis=1) / np.linalg.norm(b16, axis=1)
        assert cosine.min() >= 0.999, cosine
        enc.bf16 = False
        assert enc.bf16 is False and enc.kernels.startswith("fp32 ")
        assert np.array_equal(enc.embed(texts), f32)
        with pytest.raises(TypeError):
            enc.bf16 = 1
