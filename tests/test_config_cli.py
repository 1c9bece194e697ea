"""Configuration as users type it: numbers on the Snakemake command line, a grid narrowed with
``--config`` that keeps the config file's highlight pairs, absolute results folders."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from initlab.cli import main
from initlab.report.data import Grid, choose_highlights, dropped_highlights
from initlab.study import ConfigError, load_schema, numbers_from_command_line, validate_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = load_schema(ROOT / "workflow/schemas/config.schema.yaml")
DEFAULT = yaml.safe_load((ROOT / "config/config.yaml").read_text())


def test_numbers_typed_on_the_command_line_are_numbers() -> None:
    """Snakemake hands list elements over as text (YAML base loader)."""
    typed = {"depths": ["1", "2"], "seeds": ["0", "1", "2"], "training": {"learning_rate": "5e-2"}}
    merged = {**DEFAULT, **typed}
    fixed = numbers_from_command_line(merged, typed, SCHEMA)
    assert fixed["depths"] == [1, 2] and fixed["seeds"] == [0, 1, 2]
    assert fixed["training"] == {"learning_rate": 0.05}
    assert validate_config(fixed, SCHEMA)["depths"] == [1, 2]


def test_the_config_files_text_stays_an_explained_error() -> None:
    """Only what was typed with --config is read as numbers: a quoted number in a YAML file
    keeps its error and the hint about quotes."""
    config = {**DEFAULT, "depths": [1, "2"]}
    untouched = numbers_from_command_line(config, {"seeds": ["0"]}, SCHEMA)
    assert untouched["depths"] == [1, "2"]
    with pytest.raises(ConfigError, match="write 2 without quotes"):
        validate_config(untouched, SCHEMA)
    # text that is not a number stays text, and the schema names it
    odd = numbers_from_command_line(
        {**DEFAULT, "depths": ["1", "x"]}, {"depths": ["1", "x"]}, SCHEMA
    )
    with pytest.raises(ConfigError, match=r"depths\.1: got 'x'"):
        validate_config(odd, SCHEMA)


def test_highlights_outside_a_narrowed_grid_are_dropped_not_errors() -> None:
    config = validate_config({**DEFAULT, "initializers": ["he_normal"]}, SCHEMA)
    grid = Grid(("he_normal",), tuple(config["activations"]), (1, 4), (0, 1))
    dropped = dropped_highlights(config, grid)
    assert ("standard_uniform", "tanh") in dropped and ("he_normal", "relu") not in dropped
    import pandas as pd

    empty = pd.DataFrame(columns=["depth"])
    assert choose_highlights(config, empty, grid) == [(("he_normal", "relu"), "configured")]
    # a misspelled name in a highlight pair is still an error
    bad = {**DEFAULT, "report": {"highlight": [["he_norml", "relu"]]}}
    with pytest.raises(ConfigError, match="he_norml"):
        validate_config(bad, SCHEMA)


def test_results_may_be_absolute_but_not_escape_or_hold_shell_characters() -> None:
    assert validate_config({**DEFAULT, "results": "/scratch/me/run1"}, SCHEMA)["results"]
    for bad in ("/scratch/../etc", "/tmp/a b", "/tmp/$(x)"):
        with pytest.raises(ConfigError, match="results"):
            validate_config({**DEFAULT, "results": bad}, SCHEMA)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("initlab ")


def _dry_run(workdir: Path, *config: str) -> subprocess.CompletedProcess[str]:
    """``snakemake -n`` of the default study in an empty working directory."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(ROOT / "Snakefile"),
        "-n",
        "--cores",
        "2",
        "--directory",
        str(workdir),
        "--configfile",
        str(ROOT / "config/config.yaml"),
        "--config",
        *config,
    ]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("config", "jobs"),
    [
        # one job per activation x depth: 8 initializers x 3 seeds fit in one chunk of 64
        (("depths=[1,2]", "seeds=[0,1,2]"), 8 * 2),
        (("initializers=[he_normal]",), 8 * 4),
    ],
)
def test_readme_command_line_overrides_plan(
    config: tuple[str, ...], jobs: int, tmp_path: Path
) -> None:
    """The README's `snakemake --config ...` examples plan without an error (dry run)."""
    proc = _dry_run(tmp_path, *config)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert re.search(rf"train_networks\s+{jobs}\n", proc.stdout + proc.stderr)


def test_one_definition_per_setting() -> None:
    """RunSpec's defaults and ranges and `initlab run`'s option defaults are generated from the
    schema; the default config does not restate them."""
    import dataclasses

    from initlab import settings
    from initlab.cli import _build_parser
    from initlab.config import INT_LIMITS, REAL_LIMITS, RunSpec

    fields = {f.name: f.default for f in dataclasses.fields(RunSpec)}
    run = _build_parser().parse_args(["run", "--out", "x"])
    for name in settings.RUN_SETTINGS:
        if name in ("depth", "seed"):
            continue
        node = settings.setting(settings.RUN_SETTINGS[name])
        assert fields[name] == node["default"] == getattr(run, name), name
    assert INT_LIMITS["depth"] == (SCHEMA["properties"]["depths"]["items"]["minimum"], 200)
    assert REAL_LIMITS["learning_rate"][2] is False  # exclusiveMinimum
    assert "width" not in DEFAULT
    for key, value in DEFAULT.get("training", {}).items():  # only settings it changes
        assert value != settings.default(key), key
    assert (
        Path(settings.schema_path()).read_text()
        == (ROOT / "workflow/schemas/config.schema.yaml").read_text()
    )


def test_booleans_typed_on_the_command_line() -> None:
    """`--config training='{nesterov: true}'` arrives as text; a boolean field reads it."""
    typed = {"training": {"nesterov": "true"}}
    fixed = numbers_from_command_line({**DEFAULT, **typed}, typed, SCHEMA)
    assert fixed["training"]["nesterov"] is True
    assert validate_config(fixed, SCHEMA)["training"]["nesterov"] is True


MODEL_SETTINGS = (
    "normalization",
    "dropout",
    "dropout_kind",
    "weight_decay",
    "loss",
    "train_fraction",
)


def test_model_settings_are_axes_with_the_models_choices() -> None:
    """Each new training setting is axis-capable (a list makes it a grid axis), and the schema's
    choices are the ones RunSpec checks and the model implements."""
    from initlab import model, settings
    from initlab.config import CHOICES

    assert set(MODEL_SETTINGS) <= set(settings.AXIS_SETTINGS)
    for key, allowed in CHOICES.items():
        assert tuple(settings.setting(settings.RUN_SETTINGS[key])["enum"]) == allowed, key
    assert CHOICES["normalization"] == model.NORMS
    assert CHOICES["dropout_kind"] == model.DROPOUT_KINDS
    assert CHOICES["loss"] == model.LOSSES
    assert {k: settings.default(k) for k in MODEL_SETTINGS} == {
        "normalization": "none",
        "dropout": 0.0,
        "dropout_kind": "dropout",
        "weight_decay": 0.0,
        "loss": "cross_entropy",
        "train_fraction": 1.0,
    }


def test_model_settings_typed_on_the_command_line() -> None:
    """`--config training='{dropout: 0.1, normalization: [none, batch_norm]}'` arrives as text:
    numbers become numbers, names stay names, a list validates as an axis."""
    typed = {
        "training": {
            "dropout": "0.1",
            "train_fraction": "0.5",
            "normalization": ["none", "batch_norm"],
        }
    }
    fixed = numbers_from_command_line({**DEFAULT, **typed}, typed, SCHEMA)
    training = validate_config(fixed, SCHEMA)["training"]
    assert training["dropout"] == 0.1 and training["train_fraction"] == 0.5
    assert training["normalization"] == ["none", "batch_norm"]
    with pytest.raises(ConfigError, match="dropout"):
        validate_config({**DEFAULT, "training": {"dropout": 0.95}}, SCHEMA)
    with pytest.raises(ConfigError, match="train_fraction"):
        validate_config({**DEFAULT, "training": {"train_fraction": 0}}, SCHEMA)
