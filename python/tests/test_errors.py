"""Errors: every bad input gives a clear exception (never a crash): the
library's message and status in a GlossError, TypeError and ValueError for
what the package checks itself."""

import signal

import pytest

import gloss
from conftest import SAMPLE, TINY


@pytest.fixture(scope="module")
def encoder(model_dir):
    with gloss.Encoder(model_dir) as enc:
        yield enc


@pytest.fixture
def bad_csv(tmp_path):
    """A data directory whose train.csv has an unterminated quote on line 3."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text('text,label\nfine text,sports\n"no closing quote,sports\nmore,cooking\n')
    return data


def test_error_carries_status_and_message(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(gloss.GlossError) as info:
        gloss.Encoder(missing)
    e = info.value
    assert str(missing) in e.message and str(missing) in str(e)
    assert isinstance(e.status, str) and e.status not in ("ok", "unknown status")
    assert isinstance(e.code, int) and e.code != 0


def test_encoder_argument_types():
    with pytest.raises(TypeError):
        gloss.Encoder(42)
    with pytest.raises(TypeError):
        gloss.Encoder(None)


def test_classifier_needs_a_head(model_dir):
    with pytest.raises(gloss.MisuseError, match="gloss.Encoder") as info:
        gloss.Classifier(model_dir)
    assert info.value.status == "misuse"


@pytest.mark.parametrize("texts, error, match", [
    ([], ValueError, "empty"),
    ("a single string", TypeError, "list of str"),
    ([b"bytes"], TypeError, "decode"),
    (["ok", 3], TypeError, r"texts\[1\]"),
    ([None], TypeError, "NoneType"),
    (42, TypeError, "int"),
    (["nul \0 inside"], ValueError, "NUL"),
    (["lone surrogate \ud800"], ValueError, "Unicode"),
])
def test_embed_bad_texts(encoder, texts, error, match):
    with pytest.raises(error, match=match):
        encoder.embed(texts)


def test_embed_bad_arguments(encoder):
    with pytest.raises(gloss.InvalidArgumentError) as info:
        encoder.embed(["text"], pool="bogus")
    assert "bogus" in str(info.value) and isinstance(info.value, ValueError)
    with pytest.raises(TypeError):
        encoder.embed(["text"], pool=3)
    with pytest.raises(ValueError):
        encoder.embed(["text"], batch_size=0)
    with pytest.raises(TypeError):
        encoder.embed(["text"], batch_size="8")
    with pytest.raises(gloss.InvalidArgumentError, match="positions"):
        encoder.embed(["text"], max_length=100000)
    assert encoder.embed(["still usable"]).shape == (1, 384)


def test_evaluate_bad_labels(trained, sample):
    out, _ = trained
    with gloss.Classifier(out) as clf:
        with pytest.raises(ValueError, match="labels"):
            clf.evaluate(sample[0][:3], sample[1][:2])
        with pytest.raises(gloss.GlossError, match="no-such-class"):
            clf.evaluate(sample[0][:2], ["sports", "no-such-class"])
        with pytest.raises(TypeError):
            clf.predict("one string")


def test_read_texts(bad_csv):
    texts, labels = gloss.read_texts(SAMPLE / "val.csv", label_col="label")
    assert len(texts) == len(labels) == 40
    texts, labels = gloss.read_texts(SAMPLE / "val.csv")
    assert len(texts) == 40 and labels is None
    with pytest.raises(gloss.FormatError) as info:
        gloss.read_texts(bad_csv / "train.csv", label_col="label")
    assert "train.csv" in str(info.value) and info.value.status == "format error"
    with pytest.raises(gloss.GlossError, match="nothing-here.csv"):
        gloss.read_texts(bad_csv / "nothing-here.csv")


def test_train_missing_model(tmp_path):
    with pytest.raises(gloss.GlossError, match="no-such-model"):
        gloss.train(model=tmp_path / "no-such-model", data=SAMPLE, out=tmp_path / "out", progress=False, log=False)


def test_train_missing_required_option(model_dir, tmp_path):
    with pytest.raises(gloss.InvalidArgumentError, match="out"):
        gloss.train(model=model_dir, data=SAMPLE, progress=False, log=False)


def test_train_malformed_csv(model_dir, bad_csv, tmp_path):
    with pytest.raises(gloss.FormatError, match="train.csv") as info:
        gloss.train(model=model_dir, data=bad_csv, out=tmp_path / "out", progress=False, log=False, **TINY)
    assert info.value.status == "format error"


def test_train_unknown_option(model_dir, tmp_path):
    with pytest.raises(gloss.InvalidArgumentError, match="bogus"):
        gloss.train(model=model_dir, data=SAMPLE, out=tmp_path / "out", bogus_option=1)


@pytest.mark.parametrize("option", [dict(epochs=0), dict(lr=-1.0), dict(loss="nope"), dict(batch_size="many"),
                                    dict(gamma=2.0), dict(schedule="sometimes")])
def test_train_out_of_range(model_dir, tmp_path, option):
    name = next(iter(option)).replace("_", "-")
    with pytest.raises(gloss.InvalidArgumentError) as info:
        gloss.train(model=model_dir, data=SAMPLE, out=tmp_path / "out", progress=False, log=False, **option)
    assert name in str(info.value)
    assert not (tmp_path / "out").exists()


def test_train_bad_value_type(model_dir, tmp_path):
    with pytest.raises(TypeError, match="epochs"):
        gloss.train(model=model_dir, data=SAMPLE, out=tmp_path / "out", epochs=object())
    with pytest.raises(TypeError):
        gloss.train(model=model_dir, data=SAMPLE, out=tmp_path / "out", progress="yes")


def test_failed_train_leaves_the_sigint_handler(tmp_path):
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(gloss.GlossError):
        gloss.train(model=tmp_path / "nothing", data=SAMPLE, out=tmp_path / "out", progress=False, log=False)
    assert signal.getsignal(signal.SIGINT) is before


def test_exception_in_log_callable_is_raised(model_dir, tmp_path):
    class Boom(Exception):
        pass

    def log(level, message):
        raise Boom(message)

    empty = tmp_path / "empty"
    empty.mkdir()
    # the run logs its pooling, then fails on the data directory; the callable's exception wins
    with pytest.raises(Boom):
        gloss.train(model=model_dir, data=empty, out=tmp_path / "out", progress=False, log=log)


def test_train_in_a_worker_thread(model_dir, tmp_path):
    import threading

    caught = []

    def work():
        try:
            gloss.train(model=model_dir, data=tmp_path / "missing", out=tmp_path / "out", progress=False, log=False)
        except BaseException as e:  # noqa: B902
            caught.append(e)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert len(caught) == 1 and isinstance(caught[0], gloss.GlossError) and "missing" in str(caught[0])


def test_log_lines_reach_stderr_without_logging_configured(model_dir, tmp_path):
    import subprocess
    import sys

    empty = tmp_path / "empty"
    empty.mkdir()
    code = ("import gloss, sys\n"
            "try:\n"
            f"    gloss.train(model={str(model_dir)!r}, data={str(empty)!r}, out={str(tmp_path / 'out')!r})\n"
            "except gloss.GlossError as e:\n"
            "    print('error:', e.status, file=sys.stderr)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines = p.stderr.splitlines()
    assert p.returncode == 0 and lines[-1].startswith("error: "), p.stderr
    assert len(lines) >= 2 and "1_Pooling" in p.stderr  # the library's line on the pooling it chose
