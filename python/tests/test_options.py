"""gloss.train_options(): the option table of gloss_train_option with the
defaults of a fresh configuration."""

import ctypes
import re
import subprocess

import pytest

import gloss
from gloss import _native


@pytest.fixture(scope="module")
def options():
    return {o.name: o for o in gloss.train_options()}


def test_table(options):
    assert len(options) == len(gloss.train_options()) > 20  # names are unique
    for o in options.values():
        assert isinstance(o, gloss.TrainOption)
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", o.name), o.name
        assert o.keyword == o.name.replace("-", "_")
        assert o.section in ("data", "objective", "model", "optimisation", "runs"), o
        assert o.type in ("text", "int", "number", "choice", "switch", "special"), o
        assert o.help.strip(), o
        assert all(len(line) <= 60 for line in o.help.split("\n")), o.name
        assert (o.metavar is None) == (o.type == "switch"), o
    assert {name for name, o in options.items() if o.required} == {"model", "data", "out"}


def test_defaults(options):
    for name in ("model", "data", "out"):
        assert options[name].type == "text" and options[name].default == ""
    # the defaults README.md and docs/defaults.md state
    assert int(options["epochs"].default) == 4
    assert int(options["batch-size"].default) == 32
    assert int(options["max-length"].default) == 128
    assert float(options["lr"].default) == pytest.approx(1e-4)
    assert options["loss"].type == "choice" and options["loss"].default == "ce"
    assert options["pool"].default == "auto"
    assert options["sigma"].type == "special" and options["sigma"].default == "knn:16"
    assert options["resume"].type == "switch" and options["resume"].default in ("0", "false", "no")
    assert [float(x) for x in options["probe-l2"].default.split(",")] == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])


def test_defaults_are_accepted_back(options):
    # what gloss_train_config_get writes, gloss_train_config_set reads (with '_' for '-' too)
    cfg = _native.lib.gloss_train_config_new()
    try:
        for o in options.values():
            if o.required:
                continue
            for name in (o.name, o.keyword):
                rc = _native.lib.gloss_train_config_set(cfg, name.encode(), o.default.encode())
                assert rc == 0, f"{name}={o.default!r}: {_native.text(_native.lib.gloss_last_error())}"
        buf = ctypes.create_string_buffer(4)
        full = _native.lib.gloss_train_config_get(cfg, b"sigma", buf, 4)
        assert full == len("knn:16") and buf.value == b"knn"  # truncated to cap - 1 and NUL-terminated
        assert _native.lib.gloss_train_config_get(cfg, b"no-such-option", buf, 4) == -1
    finally:
        _native.lib.gloss_train_config_free(cfg)


def test_python_values_are_converted(tmp_path):
    # lists (probe-l2) comma-joined, booleans as true/false, paths and numbers as text
    from gloss.training import _option_text

    values = {"probe_l2": [1e-3, 0.01], "bucket": True, "bf16": False, "lr": 2e-5, "epochs": 3,
              "out": tmp_path / "out"}
    assert _option_text("probe_l2", values["probe_l2"]) == "0.001,0.01"
    assert (_option_text("bucket", True), _option_text("bf16", False)) == ("true", "false")
    cfg = _native.lib.gloss_train_config_new()
    try:
        for name, value in values.items():
            rc = _native.lib.gloss_train_config_set(cfg, name.encode(), _option_text(name, value).encode())
            assert rc == 0, f"{name}: {_native.text(_native.lib.gloss_last_error())}"
        from gloss.training import _config_get

        assert [float(x) for x in _config_get(cfg, "probe-l2").split(",")] == pytest.approx([1e-3, 1e-2])
        assert _config_get(cfg, "bucket") in ("1", "true", "yes")
        assert float(_config_get(cfg, "lr")) == pytest.approx(2e-5)
        assert int(_config_get(cfg, "epochs")) == 3
        assert _config_get(cfg, "out") == str(tmp_path / "out")
    finally:
        _native.lib.gloss_train_config_free(cfg)


def test_every_option_is_in_the_programs_help(options, gloss_bin):
    p = subprocess.run([str(gloss_bin), "train", "--help"], capture_output=True, text=True, timeout=60)
    documented = set(re.findall(r"--([a-z0-9][a-z0-9-]*)", p.stdout + p.stderr))
    assert set(options) <= documented, sorted(set(options) - documented)
