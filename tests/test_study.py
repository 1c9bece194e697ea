"""A bad study configuration fails before any job runs, with one line naming the key, the value
received and what is allowed.

Most cases call :func:`initlab.study.validate_config` directly (fast); a few run the real
Snakemake workflow and the real ``initlab run`` command in a temporary folder (``slow``).
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import yaml

from initlab import activations, data, initializers, optim, settings
from initlab.study import ConfigError, load_schema, load_study, validate_config

if TYPE_CHECKING:
    from conftest import SnakemakeRunner, TinyConfig

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "config" / "config.yaml"
SCHEMA = load_schema(ROOT / "workflow" / "schemas" / "config.schema.yaml")
HOSTILE = ("relu; touch pwned", "../x", "a b", "a/b", "$(touch pwned)", "x`id`", "")

Config = dict[str, Any]


def config_error(config: Config) -> str:
    """The one-line message validation raises for ``config``."""
    with pytest.raises(ConfigError) as exc:
        validate_config(config, SCHEMA)
    message = str(exc.value)
    assert "\n" not in message, message
    assert message.startswith("config"), message
    return message


def assert_mentions(message: str, *parts: str) -> None:
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


# --- configurations that must pass ---------------------------------------------------------------


def test_shipped_configs_are_valid(tiny_config: TinyConfig) -> None:
    for path in (tiny_config.path, DEFAULT):
        resolved = validate_config(yaml.safe_load(path.read_text()), SCHEMA)
        assert resolved["training"]["optimizer"] in optim.OPTIMIZERS
    study = load_study(yaml.safe_load(DEFAULT.read_text()), SCHEMA)
    assert len(list(study.specs())) == 512


def test_yaml_booleans_and_floats_that_are_fine(tiny_config: TinyConfig) -> None:
    cfg = tiny_config()
    cfg["training"].update(yaml.safe_load("nesterov: yes\nlearning_rate: 1.0e-4\nmomentum: 0"))
    resolved = validate_config(cfg, SCHEMA)
    assert resolved["training"]["nesterov"] is True
    assert resolved["training"]["learning_rate"] == pytest.approx(1e-4)


def test_custom_definitions_that_are_fine(tiny_config: TinyConfig) -> None:
    cfg = tiny_config()
    cfg["custom_initializers"] = {
        "sw2_15": {"family": "variance_scaling", "scale": 1.5, "mode": "fan_avg"},
        "huge": {"family": "normal", "std": 5.0},
    }
    cfg["custom_activations"] = {"lrelu02": {"family": "leaky_relu", "slope": 0.2}}
    cfg["initializers"] = ["sw2_15", "huge", "he_normal"]
    cfg["activations"] = ["lrelu02", "relu"]
    cfg["report"]["highlight"] = [["huge", "lrelu02"]]
    validate_config(cfg, SCHEMA)


def test_validation_does_not_change_its_input(tiny_config: TinyConfig) -> None:
    cfg = tiny_config()
    before = copy.deepcopy(cfg)
    resolved = validate_config(cfg, SCHEMA)
    assert cfg == before
    assert resolved["training"]["optimizer"] == "momentum"  # defaults filled in the copy


# --- bad values: one line with the key, the value and what is allowed ---------------------------


def setting(*path: str, value: Any) -> Callable[[Config], None]:
    """A mutation that sets ``config[path[0]]...[path[-1]] = value``."""

    def mutate(cfg: Config) -> None:
        node = cfg
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value

    return mutate


def yaml_training(text: str) -> Callable[[Config], None]:
    """A mutation that merges YAML ``text`` (parsed by PyYAML, pitfalls included) into training."""

    def mutate(cfg: Config) -> None:
        cfg["training"].update(yaml.safe_load(text))

    return mutate


def custom_init(definition: Any, name: str = "mine") -> Callable[[Config], None]:
    def mutate(cfg: Config) -> None:
        cfg["custom_initializers"] = {name: definition}
        cfg["initializers"] = [name]

    return mutate


def custom_act(definition: Any, name: str = "mine") -> Callable[[Config], None]:
    def mutate(cfg: Config) -> None:
        cfg["custom_activations"] = {name: definition}
        cfg["activations"] = [name]

    return mutate


BAD: dict[str, tuple[Callable[[Config], None], tuple[str, ...]]] = {
    # unknown names, with the closest suggestion
    "initializer typo": (
        setting("initializers", value=["he_norml"]),
        ("initializers", "'he_norml'", "did you mean 'he_normal'?", "glorot_uniform"),
    ),
    "activation typo": (
        setting("activations", value=["tanh", "rleu"]),
        ("activations", "'rleu'", "did you mean 'relu'?", "custom_activations"),
    ),
    "dataset typo": (
        setting("dataset", value="digts"),
        ("dataset", "'digts'", "did you mean 'digits'?", "npz:FILE.npz"),
    ),
    "optimizer": (
        setting("training", "optimizer", value="adamx"),
        ("training.optimizer", "'adamx'", "sgd, momentum, nesterov, rmsprop, adam, adamw"),
    ),
    "dtype": (
        setting("training", "dtype", value="float16"),
        ("training.dtype", "'float16'", "float32, float64"),
    ),
    # misspelled keys, top level and nested
    "top-level key": (
        setting("initialisers", value=["he_normal"]),
        ("unknown key 'initialisers'", "did you mean 'initializers'?", "top level"),
    ),
    "nested key": (
        setting("training", "learnig_rate", value=0.1),
        ("unknown key 'learnig_rate'", "did you mean 'learning_rate'?", "'training'"),
    ),
    "report key": (
        setting("report", "titel", value="x"),
        ("unknown key 'titel'", "did you mean 'title'?", "'report'"),
    ),
    "missing grid key": (
        lambda cfg: cfg.pop("depths"),
        ("missing required key 'depths'", "1 to 200"),
    ),
    # grid lists
    "empty initializers": (
        setting("initializers", value=[]),
        ("initializers", "[]", "at least 1 item"),
    ),
    "empty depths": (setting("depths", value=[]), ("depths", "[]", "at least 1 item")),
    "empty seeds": (setting("seeds", value=[]), ("seeds", "[]", "at least 1 item")),
    "duplicate initializers": (
        setting("initializers", value=["he_normal", "he_normal"]),
        ("initializers", "['he_normal', 'he_normal']", "without duplicates"),
    ),
    "duplicate activations": (
        setting("activations", value=["relu", "tanh", "relu"]),
        ("activations", "without duplicates"),
    ),
    "duplicate depths": (
        setting("depths", value=[1, 3, 1]),
        ("depths", "[1, 3, 1]", "without duplicates"),
    ),
    "duplicate seeds": (setting("seeds", value=[0, 0]), ("seeds", "without duplicates")),
    "grid not a list": (
        setting("initializers", value="he_normal"),
        ("initializers", "'he_normal'", "a list"),
    ),
    # sizes: zero, negative, non-integer, absurd (limits from the schema)
    "depth zero": (setting("depths", value=[1, 0]), ("depths.1", "got 0", ">= 1 and <= 200")),
    "depth negative": (setting("depths", value=[-2]), ("depths.0", "got -2", ">= 1")),
    "depth 2.5": (setting("depths", value=[2.5]), ("depths.0", "2.5", "an integer")),
    "depth 3.0": (setting("depths", value=[3.0]), ("depths.0", "3.0", "whole number")),
    "depth 10000": (setting("depths", value=[10000]), ("depths.0", "10000", "<= 200")),
    "width zero": (setting("width", value=0), ("width", "got 0", ">= 1 and <= 8192")),
    "width negative": (setting("width", value=-64), ("width", "-64", ">= 1")),
    "width 2.5": (setting("width", value=2.5), ("width", "2.5", "an integer")),
    "width 64.0": (setting("width", value=64.0), ("width", "64.0", "whole number")),
    "width 10**7": (setting("width", value=10**7), ("width", "10000000", "<= 8192")),
    "epochs zero": (
        setting("training", "epochs", value=0),
        ("training.epochs", "got 0", ">= 1 and <= 10000"),
    ),
    "epochs negative": (setting("training", "epochs", value=-1), ("training.epochs", "-1")),
    "epochs 2.5": (setting("training", "epochs", value=2.5), ("training.epochs", "2.5")),
    "epochs absurd": (
        setting("training", "epochs", value=10**6),
        ("training.epochs", "1000000", "<= 10000"),
    ),
    "batch_size zero": (
        setting("training", "batch_size", value=0),
        ("training.batch_size", "got 0", ">= 1 and <= 65536"),
    ),
    "batch_size negative": (
        setting("training", "batch_size", value=-8),
        ("training.batch_size", "-8"),
    ),
    "batch_size 2.5": (
        setting("training", "batch_size", value=2.5),
        ("training.batch_size", "2.5", "an integer"),
    ),
    "batch_size absurd": (
        setting("training", "batch_size", value=10**7),
        ("training.batch_size", "10000000", "<= 65536"),
    ),
    "seed negative": (setting("seeds", value=[-1]), ("seeds.0", "-1", ">= 0")),
    # learning rates and other reals
    "learning rate zero": (
        setting("training", "learning_rate", value=0),
        ("training.learning_rate", "got 0", "> 0 and <= 100"),
    ),
    "learning rate negative": (
        setting("training", "learning_rate", value=-0.01),
        ("training.learning_rate", "-0.01", "> 0"),
    ),
    "learning rate text": (
        setting("training", "learning_rate", value="fast"),
        ("training.learning_rate", "'fast'", "(str)", "a number"),
    ),
    "learning rate null": (
        setting("training", "learning_rate", value=None),
        ("training.learning_rate", "None", "a number"),
    ),
    "learning rate .nan": (
        yaml_training("learning_rate: .nan"),
        ("training.learning_rate", "nan", "a finite number"),
    ),
    "learning rate .inf": (
        yaml_training("learning_rate: .inf"),
        ("training.learning_rate", "inf", "<= 100"),
    ),
    "momentum 1": (
        setting("training", "momentum", value=1.0),
        ("training.momentum", "1.0", "<= 0.999"),
    ),
    "bias_std negative": (setting("bias_std", value=-0.1), ("bias_std", "-0.1", ">= 0")),
    "bias_std .nan": (setting("bias_std", value=float("nan")), ("bias_std", "nan", "finite")),
    # YAML pitfalls, parsed by PyYAML from text
    "1e-4 is text": (
        yaml_training("learning_rate: 1e-4"),
        ("training.learning_rate", "'1e-4'", "(str)", "as text", "1.0e-4"),
    ),
    "1.0e5 is text": (
        yaml_training("learning_rate: 1.0e5"),
        ("training.learning_rate", "'1.0e5'", "as text", "signed exponent"),
    ),
    "epochs: yes": (
        yaml_training("epochs: yes"),
        ("training.epochs", "True", "(bool)", "an integer", "yes/no"),
    ),
    "nesterov: 1": (
        yaml_training("nesterov: 1"),
        ("training.nesterov", "got 1", "true or false"),
    ),
    "width in quotes": (
        lambda cfg: cfg.update(yaml.safe_load('width: "64"')),
        ("width", "'64'", "(str)", "without quotes"),
    ),
    "learning rate in quotes": (
        yaml_training('learning_rate: "0.1"'),
        ("training.learning_rate", "'0.1'", "without quotes"),
    ),
    "seed: yes": (
        lambda cfg: cfg.update(yaml.safe_load("seeds: [0, yes]")),
        ("seeds.1", "True", "(bool)"),
    ),
    "empty training": (
        lambda cfg: cfg.update(yaml.safe_load("training:")),
        ("training", "None", "a mapping"),
    ),
    # custom initializers
    "initializer without family": (
        custom_init({"std": 1.0}),
        ("custom_initializers.mine", "missing required key 'family'", "variance_scaling"),
    ),
    "initializer unknown family": (
        custom_init({"family": "gaussian", "std": 1.0}),
        ("custom_initializers.mine.family", "'gaussian'", "normal, uniform"),
    ),
    "variance_scaling without scale": (
        custom_init({"family": "variance_scaling", "mode": "fan_in"}),
        ("custom_initializers.mine", "missing parameter(s) ['scale']", "required"),
    ),
    "negative std": (
        custom_init({"family": "normal", "std": -1.0}),
        ("custom_initializers.mine.std", "-1.0", "> 0"),
    ),
    "zero limit": (
        custom_init({"family": "uniform", "limit": 0}),
        ("custom_initializers.mine.limit", "got 0", "> 0"),
    ),
    "bad mode": (
        custom_init({"family": "variance_scaling", "scale": 1.0, "mode": "fanin"}),
        ("custom_initializers.mine.mode", "'fanin'", "fan_in, fan_out, fan_avg"),
    ),
    "infinite mean": (
        custom_init({"family": "normal", "std": 1.0, "mean": float("inf")}),
        ("custom_initializers.mine.mean", "inf", "finite"),
    ),
    "unknown initializer parameter": (
        custom_init({"family": "normal", "std": 1.0, "sigma": 2.0}),
        ("unknown key 'sigma'", "custom_initializers.mine", "std"),
    ),
    "parameter of another family": (
        custom_init({"family": "normal", "std": 1.0, "gain": 2.0}),
        ("custom_initializers.mine", "unknown parameter(s) ['gain']", "optional: ['mean']"),
    ),
    "initializer definition not a mapping": (
        custom_init(1.5),
        ("custom_initializers.mine", "1.5", "a mapping"),
    ),
    "custom initializer named like a built-in": (
        lambda cfg: cfg.update(custom_initializers={"he_normal": {"family": "normal", "std": 1}}),
        ("custom_initializers.he_normal", "'he_normal' is a built-in name"),
    ),
    # custom activations
    "activation without family": (
        custom_act({"slope": 0.1}),
        ("custom_activations.mine", "missing required key 'family'", "leaky_relu, elu"),
    ),
    "activation unknown family": (
        custom_act({"family": "swish", "beta": 1.0}),
        ("custom_activations.mine.family", "'swish'", "leaky_relu, elu, softplus"),
    ),
    "slope 5": (
        custom_act({"family": "leaky_relu", "slope": 5}),
        ("custom_activations.mine.slope", "got 5", ">= 0 and <= 1"),
    ),
    "negative beta": (
        custom_act({"family": "softplus", "beta": -1.0}),
        ("custom_activations.mine.beta", "-1.0", "> 0"),
    ),
    "activation without parameter": (
        custom_act({"family": "elu"}),
        ("custom_activations.mine", "needs at least one of ['alpha', 'scale']"),
    ),
    "unknown activation parameter": (
        custom_act({"family": "leaky_relu", "slope": 0.1, "negative_slope": 0.2}),
        ("unknown key 'negative_slope'", "custom_activations.mine", "slope"),
    ),
    "activation parameter of another family": (
        custom_act({"family": "leaky_relu", "alpha": 0.1}),
        ("custom_activations.mine", "unknown parameter(s) ['alpha']", "['slope']"),
    ),
    "custom activation named like a built-in": (
        lambda cfg: cfg.update(custom_activations={"relu": {"family": "leaky_relu", "slope": 0}}),
        ("custom_activations.relu", "'relu' is a built-in name"),
    ),
    # report
    "highlight with an unknown name": (
        setting("report", "highlight", value=[["he_normal", "sigmiod"]]),
        ("report.highlight", "'sigmiod'", "['he_normal', 'sigmiod']"),
    ),
    "highlight of three": (
        setting("report", "highlight", value=[["he_normal", "relu", "tanh"]]),
        ("report.highlight.0", "at most 2 item(s)"),
    ),
    "heatmap cells": (
        setting("report", "max_heatmap_cells", value=1),
        ("report.max_heatmap_cells", "got 1", ">= 4"),
    ),
    # study and results
    "results escapes the folder": (
        setting("results", value="out/../../elsewhere"),
        ("results", "'out/../../elsewhere'", "no '..'"),
    ),
    "results absolute with a space": (
        setting("results", value="/tmp/my results"),
        ("results", "'/tmp/my results'"),
    ),
    "study with shell characters": (
        setting("study", value="tiny; rm -rf ~"),
        ("study", "'tiny; rm -rf ~'", "shell characters"),
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_value_gives_one_line(case: str, tiny_config: TinyConfig) -> None:
    mutate, parts = BAD[case]
    cfg = tiny_config()
    mutate(cfg)
    assert_mentions(config_error(cfg), *parts)


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("where", ["initializers", "activations"])
def test_hostile_grid_name_is_rejected_by_pattern(
    where: str, name: str, tiny_config: TinyConfig
) -> None:
    cfg = tiny_config()
    cfg[where] = [cfg[where][0], name]
    assert_mentions(config_error(cfg), f"{where}.1", repr(name), "no spaces, path separators")


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize(
    ("where", "definition"),
    [
        ("custom_initializers", {"family": "normal", "std": 1.0}),
        ("custom_activations", {"family": "leaky_relu", "slope": 0.1}),
    ],
)
def test_hostile_custom_name_is_rejected_by_pattern(
    where: str, definition: Config, name: str, tiny_config: TinyConfig
) -> None:
    cfg = tiny_config()
    cfg[where] = {name: definition}
    assert_mentions(config_error(cfg), where, repr(name), "shell characters")


# --- datasets given as files ----------------------------------------------------------------------


def test_missing_npz_file(tmp_path: Path, tiny_config: TinyConfig) -> None:
    cfg = tiny_config()
    cfg["dataset"] = f"npz:{tmp_path / 'nope.npz'}"
    assert_mentions(config_error(cfg), "config key dataset", "nope.npz", "not found")


def test_missing_mnist_folder(tmp_path: Path, tiny_config: TinyConfig) -> None:
    cfg = tiny_config()
    cfg["dataset"] = f"mnist:{tmp_path / 'nope'}"
    assert_mentions(config_error(cfg), "config key dataset", "nope", "not found")


def _good_arrays(n: int = 200, d: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"X": rng.normal(size=(n, d)), "y": np.arange(n) % 2}


def _bad_npz(kind: str, path: Path) -> None:
    arrays = _good_arrays()
    if kind == "not a zip archive":
        path.write_bytes(b"this is not an npz file\n" * 10)
        return
    if kind == "1-D inputs":
        arrays["X"] = arrays["X"][:, 0]
    elif kind == "text inputs":
        arrays["X"] = np.array([["a"] * 5] * 200)
    elif kind == "NaN inputs":
        arrays["X"][7, 2] = np.nan
    elif kind == "negative labels":
        arrays["y"] = arrays["y"] - 1
    elif kind == "gap in labels":
        arrays["y"] = arrays["y"] * 2
    elif kind == "fractional labels":
        arrays["y"] = arrays["y"] + 0.5
    elif kind == "one class":
        arrays["y"] = np.zeros(200, dtype=np.int64)
    elif kind == "2-D labels":
        arrays["y"] = arrays["y"].reshape(100, 2)
    elif kind == "length mismatch":
        arrays["y"] = arrays["y"][:150]
    elif kind == "wrong keys":
        arrays = {"inputs": arrays["X"], "labels": arrays["y"]}
    elif kind == "too few per class":
        arrays = {"X": arrays["X"][:6], "y": np.array([0, 0, 0, 1, 1, 1])}
    np.savez(path, **arrays)


NPZ_CASES = {
    "not a zip archive": "not a zip archive",
    "1-D inputs": "ndim >= 2",
    "text inputs": "real numbers",
    "NaN inputs": "NaN/inf",
    "negative labels": "negative label -1",
    "gap in labels": "contiguous range",
    "fractional labels": "integer class labels",
    "one class": "at least 2 classes",
    "2-D labels": "1-D class labels",
    "length mismatch": "same length",
    "wrong keys": "missing key(s)",
    "too few per class": "needs at least",
}


def test_existing_bad_npz_passes_the_name_check(tmp_path: Path) -> None:
    """``check_dataset_name`` only checks that the file exists; validation must load it."""
    path = tmp_path / "bad.npz"
    _bad_npz("negative labels", path)
    data.check_dataset_name(f"npz:{path}")  # no error: the contents are not read here


@pytest.mark.parametrize("kind", list(NPZ_CASES))
def test_existing_npz_with_bad_contents_fails_validation(
    tmp_path: Path, kind: str, tiny_config: TinyConfig
) -> None:
    path = tmp_path / "bad.npz"
    _bad_npz(kind, path)
    cfg = tiny_config()
    cfg["dataset"] = f"npz:{path}"
    assert_mentions(config_error(cfg), "config key dataset", str(path), NPZ_CASES[kind])


def test_good_npz_passes_validation(tmp_path: Path, tiny_config: TinyConfig) -> None:
    path = tmp_path / "good.npz"
    np.savez(path, **_good_arrays())
    cfg = tiny_config()
    cfg["dataset"] = f"npz:{path}"
    validate_config(cfg, SCHEMA)


def test_mnist_folder_with_bad_file_fails_validation(
    tmp_path: Path, tiny_config: TinyConfig
) -> None:
    folder = tmp_path / "mnist"
    folder.mkdir()
    for stem in ("train-images", "train-labels", "t10k-images", "t10k-labels"):
        kind = "idx3" if "images" in stem else "idx1"
        (folder / f"{stem}-{kind}-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05abc")
    cfg = tiny_config()
    cfg["dataset"] = f"mnist:{folder}"
    assert_mentions(config_error(cfg), "config key dataset", "IDX header")


# --- the schema agrees with the registries ------------------------------------------------------


def _family_params(description: str) -> dict[str, set[str]]:
    """``family (a, b)`` entries of a schema description."""
    found = re.findall(r"(\w+) \(([\w, ]*)\)", " ".join(description.split()))
    return {family: {p.strip() for p in params.split(",") if p.strip()} for family, params in found}


def test_schema_enums_match_registries() -> None:
    props = SCHEMA["properties"]
    assert tuple(settings.setting("training.optimizer")["enum"]) == optim.OPTIMIZERS
    assert props["training"]["properties"]["dtype"]["enum"] == ["float32", "float64"]

    init_def = props["custom_initializers"]["additionalProperties"]
    assert set(init_def["properties"]["family"]["enum"]) == set(initializers.INITIALIZER_FAMILIES)
    # base_def is filled in by the study from custom_initializers (a transfer's custom base)
    init_params = {
        family: {*required, *optional} - {"base_def"}
        for family, (_, required, optional) in initializers.INITIALIZER_FAMILIES.items()
    }
    assert set(init_def["properties"]) - {"family"} == set().union(*init_params.values())
    assert _family_params(props["custom_initializers"]["description"]) == init_params

    act_def = props["custom_activations"]["additionalProperties"]
    assert set(act_def["properties"]["family"]["enum"]) == set(activations.ACTIVATION_FAMILIES)
    act_params = {
        family: set(keys) for family, (_, keys) in activations.ACTIVATION_FAMILIES.items()
    }
    assert set(act_def["properties"]) - {"family"} == set().union(*act_params.values())
    assert _family_params(props["custom_activations"]["description"]) == act_params


def test_schema_limits_match_run_checks() -> None:
    """The schema's ranges are the ones ``RunSpec`` enforces for ``initlab run``."""
    from initlab.config import INT_LIMITS, REAL_LIMITS

    where = {key: settings.setting(path) for key, path in settings.RUN_SETTINGS.items()}
    for key, (lo, hi) in INT_LIMITS.items():
        assert (where[key]["minimum"], where[key]["maximum"]) == (lo, hi), key
    for key, (lo, hi, inclusive) in REAL_LIMITS.items():
        low = where[key]["minimum" if inclusive else "exclusiveMinimum"]
        assert (low, where[key]["maximum"]) == (lo, hi), key


# --- the real workflow and the real command line ------------------------------------------------


def _no_pwned(folder: Path) -> None:
    assert not [p for p in folder.rglob("*") if "pwned" in p.name]
    assert not (Path.cwd() / "pwned").exists()


E2E = {
    "nested key": (
        lambda cfg, tmp: cfg["training"].update(learnig_rate=0.1),
        ("learnig_rate", "did you mean 'learning_rate'?"),
    ),
    "1e-4": (
        lambda cfg, tmp: cfg["training"].update(yaml.safe_load("learning_rate: 1e-4")),
        ("training.learning_rate", "'1e-4'", "1.0e-4"),
    ),
    "bad npz contents": (
        lambda cfg, tmp: (
            _bad_npz("gap in labels", tmp / "bad.npz"),
            cfg.update(dataset="npz:bad.npz"),
        ),
        ("config key dataset", "bad.npz", "contiguous range"),
    ),
    "hostile activation": (
        lambda cfg, tmp: cfg.update(activations=["relu; touch pwned"]),
        ("activations.0", "'relu; touch pwned'", "shell characters"),
    ),
    "hostile custom activation": (
        lambda cfg, tmp: cfg.update(
            custom_activations={"x; touch pwned": {"family": "leaky_relu", "slope": 0.1}}
        ),
        ("custom_activations", "'x; touch pwned'", "shell characters"),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(E2E))
def test_snakemake_rejects_bad_config_before_any_job(
    tmp_path: Path, case: str, tiny_config: TinyConfig, run_snakemake: SnakemakeRunner
) -> None:
    mutate, parts = E2E[case]
    cfg = tiny_config()
    mutate(cfg, tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(tmp_path, "--cores", "1", config=config, check=False, timeout=300)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    lines = [line for line in out.splitlines() if "invalid configuration:" in line]
    assert len(lines) == 1, out
    assert_mentions(lines[0], *parts)
    assert "Traceback" not in out
    assert not (tmp_path / "results").exists()
    _no_pwned(tmp_path)


CLI_BASE = ["--init", "he_normal", "--activation", "relu", "--depth", "1", "--epochs", "1"]


@pytest.mark.parametrize(
    ("argv", "parts"),
    [
        (["--init", "he_normal", "--activation", "relu; touch pwned", "--depth", "1"],
         ("activation name", "'relu; touch pwned'", "shell characters")),
        (["--init", "../x", "--activation", "relu", "--depth", "1"],
         ("initializer name", "'../x'", "path separators")),
        (["--init", "a b", "--activation", "relu", "--depth", "1"], ("'a b'", "no spaces")),
        ([*CLI_BASE, "--epochs", "yes"], ("--epochs", "'yes'")),
        ([*CLI_BASE, "--width", "2.5"], ("--width", "'2.5'")),
        ([*CLI_BASE, "--depth", "10000"], ("depth", "10000", "1 to 200")),
        ([*CLI_BASE, "--width", "10000000"], ("width", "10000000", "1 to 8192")),
        ([*CLI_BASE, "--batch-size", "0"], ("--batch-size", "0", "1 to 65536")),
        ([*CLI_BASE, "--lr", "-0.1"], ("--lr", "-0.1")),
        ([*CLI_BASE, "--lr", "fast"], ("--lr", "'fast'")),
        ([*CLI_BASE, "--optimizer", "adamx"], ("adamx", "sgd, momentum, nesterov, rmsprop")),
        ([*CLI_BASE, "--dataset", "digts"], ("'digts'", "did you mean 'digits'?")),
        (
            ["--init", "c", "--activation", "relu", "--depth", "1",
             "--init-def", '{"family": "gaussian", "std": 1}'],
            ("'gaussian'", "variance_scaling"),
        ),
        (
            ["--init", "he_normal", "--activation", "c", "--depth", "1",
             "--activation-def", '{"family": "leaky_relu", "slope": 5}'],
            ("'slope'", "5", "[0, 1]"),
        ),
        (
            ["--spec-json",
             '{"initializer": "he_normal", "activation": "relu", "depth": 1, "width": "64"}'],
            ("width", "'64'", "(str)"),
        ),
        (
            ["--spec-json",
             '{"initializer": "he_normal", "activation": "relu", "depth": 1, "epochs": true}'],
            ("epochs", "True", "(bool)"),
        ),
    ],
)  # fmt: skip
def test_initlab_run_bad_value_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], parts: tuple[str, ...]
) -> None:
    from initlab.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["run", *argv, "--out", str(tmp_path / "x")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("initlab")
    assert_mentions(err, *parts)
    assert not (tmp_path / "x").exists()


def test_initlab_run_bad_npz_contents_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from initlab.cli import main

    _bad_npz("fractional labels", tmp_path / "bad.npz")
    argv = [*CLI_BASE, "--dataset", f"npz:{tmp_path / 'bad.npz'}", "--out", str(tmp_path / "x")]
    with pytest.raises(SystemExit) as exc:
        main(["run", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert_mentions(err, "bad.npz", "integer class labels")
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_initlab_run_hostile_name_in_a_real_process(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    cmd = [sys.executable, "-m", "initlab.cli", "run", "--init", "he_normal"]
    cmd += ["--activation", "relu; touch pwned", "--depth", "1", "--out", "out; touch pwned2"]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=subprocess_env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert_mentions(proc.stderr, "'relu; touch pwned'", "not allowed")
    assert list(tmp_path.iterdir()) == []
    _no_pwned(tmp_path)


# --- extra axes ----------------------------------------------------------------------------


def _axes_study(**training: Any) -> Any:
    config = {
        "initializers": ["he_normal", "glorot_normal"],
        "activations": ["relu"],
        "depths": [2, 4],
        "seeds": [0, 1],
        "training": training,
    }
    return load_study(config, SCHEMA)


def test_a_list_makes_a_setting_an_axis() -> None:
    """optimizer x learning_rate: 2 x 2 points per cell, the first axis varying slowest; every
    run carries its values, and its folder and id name them (values as the runs record them:
    a learning rate written 1 is the float 1.0)."""
    study = _axes_study(optimizer=["sgd", "adam"], learning_rate=[1, 0.001])
    assert study.axes == {"optimizer": ["sgd", "adam"], "learning_rate": [1.0, 0.001]}
    assert study.points() == [
        (("optimizer", "sgd"), ("learning_rate", 1.0)),
        (("optimizer", "sgd"), ("learning_rate", 0.001)),
        (("optimizer", "adam"), ("learning_rate", 1.0)),
        (("optimizer", "adam"), ("learning_rate", 0.001)),
    ]
    assert study.baseline == (("optimizer", "sgd"), ("learning_rate", 1.0))
    specs = list(study.specs())
    assert len(specs) == 2 * 1 * 2 * 4 * 2
    assert len({s.run_id for s in specs}) == len(specs)
    chunks = study.chunks()
    assert len({c.folder for c in chunks}) == len(chunks) == 2 * 4  # depths x points
    spec = specs[-1]
    assert (spec.optimizer, spec.learning_rate, spec.seed) == ("adam", 0.001, 1)
    assert spec.run_id == "digits__glorot_normal__relu__d4__optimizer=adam__learning_rate=0.001__s1"
    assert chunks[-1].folder == "results/runs/digits/relu/d4/optimizer=adam/learning_rate=0.001/c0"
    assert study.chunk_specs(chunks[-1])[-1] == spec
    assert study.base_spec("he_normal", "relu", 2, 0).optimizer == "sgd"  # the baseline


def test_a_study_without_extra_axes_keeps_its_folders_and_ids() -> None:
    study = _axes_study(optimizer="adam")
    assert study.axes == {} and study.points() == [()] and study.baseline == ()
    spec = study.base_spec("he_normal", "relu", 2, 1)
    assert spec.run_id == "digits__he_normal__relu__d2__s1"
    assert [c.folder for c in study.chunks()] == [
        "results/runs/digits/relu/d2/c0",
        "results/runs/digits/relu/d4/c0",
    ]


def _chunk_jobs(study: Any) -> set[tuple[str, str]]:
    """Each training job of a study: its folder and the definition it trains (the rule's
    parameter, whose change makes snakemake rerun the job)."""
    return {(c.folder, study.chunk_json(c)) for c in study.chunks()}


def test_adding_a_value_to_an_axis_keeps_every_existing_run() -> None:
    """A new optimizer adds jobs and leaves every existing job (folder and definition) as is."""
    before = _axes_study(optimizer=["sgd", "adam"])
    after = _axes_study(optimizer=["sgd", "adam", "adamw"])
    old, new = _chunk_jobs(before), _chunk_jobs(after)
    assert old < new and len(new - old) == len(old) // 2


def test_chunks_split_a_group_into_blocks_of_whole_initializers() -> None:
    """chunk_size 5 with 2 seeds: 2 initializers (4 networks) per job; every run of the grid is
    in exactly one chunk, the seeds of an initializer together, in the tables' order."""
    config = {
        "initializers": ["zeros", "he_normal", "glorot_normal", "orthogonal", "lecun_normal"],
        "activations": ["tanh", "relu"],
        "depths": [1, 3],
        "seeds": [0, 1],
        "chunk_size": 5,
    }
    study = load_study(config, SCHEMA)
    chunks = study.chunks()
    assert [c.initializers for c in chunks[:3]] == [
        ("zeros", "he_normal"),
        ("glorot_normal", "orthogonal"),
        ("lecun_normal",),
    ]
    assert [c.folder for c in chunks[:4]] == [
        "results/runs/digits/tanh/d1/c0",
        "results/runs/digits/tanh/d1/c1",
        "results/runs/digits/tanh/d1/c2",
        "results/runs/digits/tanh/d3/c0",
    ]
    runs = [s.run_id for c in chunks for s in study.chunk_specs(c)]
    assert sorted(runs) == sorted(s.run_id for s in study.specs()) and len(set(runs)) == len(runs)
    whole = load_study({**config, "chunk_size": 64}, SCHEMA)
    assert [s.run_id for c in whole.chunks() for s in whole.chunk_specs(c)] == runs
    assert len(whole.chunks()) == 2 * 2
    # more seeds than chunk_size: one initializer per job
    one = load_study({**config, "chunk_size": 1}, SCHEMA)
    assert all(len(c.initializers) == 1 for c in one.chunks()) and len(one.chunks()) == 20


def test_an_initializer_added_at_the_end_retrains_only_the_last_block() -> None:
    config = {
        "initializers": ["zeros", "he_normal", "glorot_normal"],
        "activations": ["tanh"],
        "depths": [1, 3],
        "seeds": [0, 1],
        "chunk_size": 4,
    }
    before = load_study(config, SCHEMA)
    after = load_study({**config, "initializers": [*config["initializers"], "orthogonal"]}, SCHEMA)
    old, new = _chunk_jobs(before), _chunk_jobs(after)
    kept = old & new
    assert {folder.rsplit("/", 1)[1] for folder, _ in kept} == {"c0"} and len(kept) == 2
    assert len(new - old) == 2  # c1 of each depth: glorot_normal + orthogonal


def test_a_chunk_definition_names_its_runs_and_their_sources() -> None:
    """chunk_json is what `initlab train-chunk` trains: one spec per initializer (no seed), the
    seeds, and the source folder of a transfer initializer."""
    import json

    from initlab.chunks import ChunkPlan

    study = _axes_study(optimizer=["sgd", "adam"])
    chunk = study.chunks()[1]
    plan = ChunkPlan(json.loads(study.chunk_json(chunk)))
    assert plan.specs == study.chunk_specs(chunk)
    assert plan.sources == {}


@pytest.mark.parametrize(
    ("training", "parts"),
    [
        ({"optimizer": ["sgd", "adamx"]}, ("training.optimizer.1", "'adamx'", "adamw")),
        ({"optimizer": []}, ("training.optimizer", "at least 1 item")),
        ({"learning_rate": [0.1, 0.1]}, ("training.learning_rate", "without duplicates")),
        ({"epochs": [2, 0]}, ("training.epochs.1", "got 0", ">= 1")),
        ({"batch_size": 0}, ("training.batch_size", "got 0", ">= 1")),
        ({"optimizer": "adamx"}, ("training.optimizer", "adamw", "or a list of such values")),
    ],
)
def test_bad_axis_values_fail_naming_the_key(
    training: dict[str, Any], parts: tuple[str, ...]
) -> None:
    config = {"initializers": ["he_normal"], "activations": ["relu"], "depths": [1], "seeds": [0]}
    message = config_error({**config, "training": training})
    assert_mentions(message, *parts)


def test_settings_that_are_not_axes_reject_lists() -> None:
    config = {"initializers": ["he_normal"], "activations": ["relu"], "depths": [1], "seeds": [0]}
    message = config_error({**config, "training": {"target_accuracy": [0.8, 0.9]}})
    assert_mentions(message, "training.target_accuracy", "[0.8, 0.9]")


def test_a_claim_cell_may_only_name_axes_of_its_study() -> None:
    """width: 32 in a cell of a study without a width axis is a typo-class error found before
    any job runs, not a claim that is silently 'not measurable'."""
    claim = {
        "id": "c",
        "statement": "s",
        "source": "p",
        "reason": "r",
        "rule": "verdicts",
        "cells": [
            {
                "initializer": "he_normal",
                "activation": "relu",
                "depth": 1,
                "width": 32,
                "verdict": ["trains"],
            }
        ],
    }
    base = {"initializers": ["he_normal"], "activations": ["relu"], "depths": [1], "seeds": [0]}
    message = config_error({**base, "claims": [claim]})
    assert_mentions(message, "claims.0.cells.0.width", "32", "it has none")
    ok = {**base, "width": [32, 16], "claims": [claim]}
    validate_config(ok, SCHEMA)


def test_a_dataset_axis_leads_the_folders_and_ids() -> None:
    """dataset: [digits, gaussian_blobs]: the label is the first level of the run folders and
    of the run ids (no dataset=... level); the tables name a dataset by its label."""
    config = {
        "dataset": ["digits", "gaussian_blobs"],
        "initializers": ["he_normal"],
        "activations": ["relu"],
        "depths": [2],
        "seeds": [0],
        "training": {"optimizer": ["sgd", "adam"]},
    }
    study = load_study(config, SCHEMA)
    assert study.axes == {"dataset": ["digits", "gaussian_blobs"], "optimizer": ["sgd", "adam"]}
    dirs = [c.folder for c in study.chunks()]
    assert dirs == [
        "results/runs/digits/relu/d2/optimizer=sgd/c0",
        "results/runs/digits/relu/d2/optimizer=adam/c0",
        "results/runs/gaussian_blobs/relu/d2/optimizer=sgd/c0",
        "results/runs/gaussian_blobs/relu/d2/optimizer=adam/c0",
    ]
    spec = list(study.specs())[-1]
    assert spec.dataset == "gaussian_blobs"
    assert spec.run_id == "gaussian_blobs__he_normal__relu__d2__optimizer=adam__s0"
    assert study.dataset_labels == {"digits": "digits", "gaussian_blobs": "gaussian_blobs"}


def test_datasets_of_an_axis_need_distinct_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        np.savez(tmp_path / sub / "same.npz", X=rng.standard_normal((60, 4)), y=np.arange(60) % 3)
    config = {
        "dataset": [f"npz:{tmp_path}/a/same.npz", f"npz:{tmp_path}/b/same.npz"],
        "initializers": ["he_normal"],
        "activations": ["relu"],
        "depths": [1],
        "seeds": [0],
    }
    message = config_error(config)
    assert_mentions(message, "dataset.1", "npz_same", "distinct labels")
