"""Tests of the ``initlab`` command line, in-process and once as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from initlab.activations import ACTIVATIONS
from initlab.cli import main
from initlab.initializers import INITIALIZERS
from initlab.train import LAYER_COLUMNS

SMALL = "--init he_normal --activation relu --depth 2 --width 8 --epochs 1 --seed 3".split()


def _run(out: Path, *extra: str) -> None:
    assert main(["run", *SMALL, *extra, "--out", str(out)]) == 0


def _assert_one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert err.startswith("initlab")
    return lines[0]


def test_run_writes_three_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    _run(out)
    assert sorted(p.name for p in out.iterdir()) == ["layers.csv", "summary.json", "timing.json"]
    printed = capsys.readouterr().out
    assert "digits__he_normal__relu__d2__s3" in printed

    lines = (out / "layers.csv").read_text().splitlines()
    assert lines[0].split(",") == list(LAYER_COLUMNS)
    summary = json.loads((out / "summary.json").read_text())
    assert len(lines) == 1 + summary["n_layer_rows"] == 1 + summary["n_checkpoints"] * 3
    assert summary["config"]["seed"] == 3
    assert summary["config"]["initializer"] == "he_normal"
    assert summary["config"]["depth"] == 2 and summary["config"]["width"] == 8
    assert {"initlab", "numpy", "scipy", "python"} <= set(summary["versions"])
    assert summary["run_id"] == "digits__he_normal__relu__d2__s3"
    timing = json.loads((out / "timing.json").read_text())
    assert timing["wall_seconds"] > 0 and timing["steps"] > 0


def test_run_twice_is_byte_identical(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    _run(a)
    _run(b)
    for name in ("layers.csv", "summary.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_spec_json_run_matches_options(tmp_path: Path) -> None:
    spec = {
        "initializer": "he_normal",
        "activation": "relu",
        "depth": 2,
        "width": 8,
        "epochs": 1,
        "seed": 3,
    }
    _run(tmp_path / "opts")
    assert main(["run", "--spec-json", json.dumps(spec), "--out", str(tmp_path / "json")]) == 0
    for name in ("layers.csv", "summary.json"):
        assert (tmp_path / "opts" / name).read_bytes() == (tmp_path / "json" / name).read_bytes()


def test_every_run_setting_reaches_the_run(tmp_path: Path) -> None:
    """Each option generated from the schema is passed on to the run, not only parsed: the
    recorded configuration holds every non-default value given on the command line."""
    from initlab import settings

    given = {
        "width": ("--width", "8", 8),
        "budget_check": ("--budget-check", "2", 2),
        "bias_std": ("--bias-std", "0.1", 0.1),
        "probe_size": ("--probe-size", "32", 32),
        "momentum": ("--momentum", "0.5", 0.5),
    }
    assert set(given) <= set(settings.RUN_SETTINGS)
    argv = [a for flag, value, _ in given.values() for a in (flag, value)]
    _run(tmp_path / "run", *argv)
    config = json.loads((tmp_path / "run" / "summary.json").read_text())["config"]
    for key, (_, _, value) in given.items():
        assert config[key] == value, key


def test_model_settings_run_from_the_command_line(tmp_path: Path) -> None:
    """``--normalization``, ``--dropout``, ``--dropout-kind``, ``--weight-decay``, ``--loss`` and
    ``--train-fraction`` reach the run and change what it trains."""
    out = tmp_path / "bn"
    _run(out, "--normalization", "batch_norm", "--dropout", "0.1")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["normalization"] == "batch_norm"
    assert summary["config"]["dropout"] == 0.1
    assert summary["jac_mean_s2"] is None  # not measured with batch norm (NaN is written null)
    given = {
        "normalization": ("--normalization", "layer_norm", "layer_norm"),
        "dropout": ("--dropout", "0.2", 0.2),
        "dropout_kind": ("--dropout-kind", "alpha_dropout", "alpha_dropout"),
        "weight_decay": ("--weight-decay", "0.001", 0.001),
        "loss": ("--loss", "mse", "mse"),
        "train_fraction": ("--train-fraction", "0.5", 0.5),
    }
    argv = [a for flag, value, _ in given.values() for a in (flag, value)]
    _run(tmp_path / "all", *argv)
    summary = json.loads((tmp_path / "all" / "summary.json").read_text())
    for key, (_, _, value) in given.items():
        assert summary["config"][key] == value, key
    assert summary["n_train_used"] < summary["n_train"]
    header = (tmp_path / "all" / "layers.csv").read_text().splitlines()[0].split(",")
    assert {"h_mean", "h_var", "h_q", "dh_rms"} <= set(header)


@pytest.mark.parametrize(
    ("extra", "mention"),
    [
        (["--normalization", "group_norm"], "--normalization: got 'group_norm'"),
        (["--dropout", "0.95"], "--dropout: got 0.95"),
        (["--dropout-kind", "spatial"], "--dropout-kind: got 'spatial'"),
        (["--weight-decay", "-1"], "--weight-decay: got -1.0"),
        (["--loss", "hinge"], "--loss: got 'hinge'"),
        (["--train-fraction", "0"], "--train-fraction: got 0.0"),
        (["--normalization", "batch_norm", "--batch-size", "1"], "--batch-size: got 1"),
    ],
)
def test_bad_model_settings_name_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], mention: str
) -> None:
    line = _assert_one_line_error(capsys, ["run", *SMALL, *extra, "--out", str(tmp_path / "x")])
    assert mention in line
    assert not (tmp_path / "x").exists()


def test_subprocess_run_matches_in_process(tmp_path: Path) -> None:
    _run(tmp_path / "inproc")
    proc = subprocess.run(
        [sys.executable, "-m", "initlab.cli", "run", *SMALL, "--out", str(tmp_path / "sub")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("layers.csv", "summary.json"):
        assert (tmp_path / "sub" / name).read_bytes() == (tmp_path / "inproc" / name).read_bytes()


def test_subprocess_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "initlab.cli",
            "run",
            "--init",
            "he_normal",
            "--activation",
            "relu",
            "--depth",
            "0",
            "--out",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "depth" in proc.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("option", "bad", "closest"),
    [("--init", "he_normall", "he_normal"), ("--activation", "rleu", "relu")],
)
def test_unknown_names_suggest_closest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, bad: str, closest: str
) -> None:
    argv = [
        "run",
        "--init",
        "he_normal",
        "--activation",
        "relu",
        "--depth",
        "1",
        option,
        bad,
        "--out",
        str(tmp_path / "x"),
    ]
    line = _assert_one_line_error(capsys, argv)
    assert bad in line
    assert f"'{closest}'" in line  # the suggestion, quoted (the allowed list is not)
    assert not (tmp_path / "x").exists()


BASE = ["--init", "he_normal", "--activation", "relu", "--depth", "1"]


@pytest.mark.parametrize(
    ("argv", "mention"),
    [
        (["--init", "he_normal", "--activation", "relu", "--depth", "0"], "depth"),
        ([*BASE, "--width", "-3"], "width"),
        ([*BASE, "--lr", "0"], "--lr"),
        ([*BASE, "--lr", "nan"], "--lr"),
        ([*BASE, "--optimizer", "foo"], "foo"),
        ([*BASE, "--dataset", "npz:/nonexistent.npz"], "/nonexistent.npz"),
        ([*BASE, "--dataset", "digitz"], "digits"),
        ([*BASE, "--init-def", "{not json"], "--init-def"),
        ([*BASE, "--init-def", "[1, 2]"], "--init-def"),
        ([*BASE, "--dtype", "float16"], "float16"),
        ([*BASE, "--threads", "0"], "threads"),
        (["--activation", "relu", "--depth", "1"], "--init"),
        (["--init", "he_normal", "--activation", "relu", "--depth", "x"], "depth"),
        (
            [
                "--init",
                "c",
                "--activation",
                "relu",
                "--depth",
                "1",
                "--init-def",
                '{"family": "normal"}',
            ],
            "std",
        ),
        (
            [
                "--spec-json",
                '{"initializer": "he_normal", "activation": "relu", "depth": 1, "colour": 3}',
            ],
            "colour",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], mention: str
) -> None:
    line = _assert_one_line_error(capsys, ["run", *argv, "--out", str(tmp_path / "x")])
    assert mention in line
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "spec",
    [
        # a required setting missing
        '{"initializer": "he_normal"}',
        # a custom definition that is not an object
        '{"initializer": "c", "activation": "relu", "depth": 1, "initializer_def": 5}',
    ],
)
def test_bad_spec_json_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str
) -> None:
    _assert_one_line_error(capsys, ["run", "--spec-json", spec, "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()


def test_list_prints_every_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    words = set(capsys.readouterr().out.split())
    for name in (*INITIALIZERS, *ACTIVATIONS):
        assert name in words, name


def test_missing_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    _assert_one_line_error(capsys, [])


def _printed_sigma_w2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> float:
    assert main(["theory", *argv]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    return float(first.split("sigma_w^2 = ")[1].split(" ")[0])


def test_theory_uses_the_hidden_layers_sigma_w2_like_the_tables(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One definition of a network's sigma_w^2: a 64 -> 64 -> 10 glorot_uniform net has
    fan_in Var[W] = 64 * 2 / (64 + 64) = 1 in its hidden layer (by hand), not the output
    layer's 64 * 2 / (64 + 10) = 1.73; theory.csv's sigma_w2_hidden uses the same function."""
    from initlab import theory

    argv = ["--init", "glorot_uniform", "--activation", "relu", "--width", "64", "--inputs"]
    assert _printed_sigma_w2(capsys, [*argv, "64", "--depth", "1"]) == pytest.approx(1.0)
    assert theory.hidden_sigma_w2("glorot_uniform", (64, 64, 10)) == pytest.approx(1.0)
    # deeper: the hidden-to-hidden layers (64 -> 64), whatever the input size
    assert _printed_sigma_w2(capsys, [*argv, "20", "--depth", "3"]) == pytest.approx(1.0)
    # a fan_in initializer: 2 for He, whatever the shapes
    he = ["--init", "he_normal", "--activation", "relu", "--depth", "1", "--inputs", "30"]
    assert _printed_sigma_w2(capsys, he) == pytest.approx(2.0)
