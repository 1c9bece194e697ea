"""Collect every run of a study into tidy pandas tables (``results/tables/*.csv``).

Tables (columns documented in the README's data dictionary):

- ``runs.csv``: one row per trained network, configuration and headline numbers.
- ``layers.csv``: one row per run x checkpoint x layer, configuration columns on every row.
- ``curves.csv``: one row per run x checkpoint (loss and accuracy).
- ``summary.csv``: one row per dataset x initializer x activation x depth: mean, std and a 95%
  t-interval over seeds of the headline numbers, the share of diverged seeds and a verdict.
- ``timings.csv``: wall time per run, kept apart so every other table is byte-reproducible.
- ``theory.csv``: mean-field predictions per layer beside the measurement at initialization.
- ``claims.csv``: for the classic studies (:mod:`initlab.claims`), each published claim, what
  this study measured, and whether it held (no rows for other studies).

Rows follow the grid order of the configuration; floats are written with 10 significant digits,
so the same study gives the same bytes. Runs that diverged stay in every table, with NaN where a
number is undefined.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from initlab import claims, io, theory
from initlab.config import RunSpec
from initlab.io import CorruptFileError
from initlab.study import Study
from initlab.train import LAYER_COLUMNS

__all__ = [
    "HEADLINE",
    "VERDICT_RULE",
    "aggregate",
    "load_runs",
    "summarize",
    "theory_table",
    "verdict",
    "write_tables",
]

HEADLINE = (
    "final_train_loss",
    "final_train_acc",
    "final_val_acc",
    "final_test_acc",
    "best_val_acc",
    "steps_to_target",
    "diverged",
    "diverged_step",
    "log10_delta_ratio_init",
    "log10_wgrad_ratio_init",
)
SUMMARY_METRICS = (
    "final_test_acc",
    "final_val_acc",
    "best_val_acc",
    "final_train_loss",
    "steps_to_target",
    "log10_delta_ratio_init",
    "log10_wgrad_ratio_init",
    "dead_frac_init",
    "saturated_frac_init",
)
GROUP = ("dataset", "initializer", "activation", "depth")
CURVE_COLUMNS = ("step", "epoch", "train_loss", "train_acc", "val_loss", "val_acc")

VERDICT_RULE = (
    "diverged: more than half of the seeds diverged; trains: mean final test accuracy >= "
    "target_accuracy; partial: mean final test accuracy >= chance + 0.25 (1 - chance); "
    "fails: otherwise (chance = 1 / n_classes)"
)


def verdict(share_diverged: float, mean_acc: float, target: float, n_classes: int) -> str:
    """Trainability verdict of one combination (rule: :data:`VERDICT_RULE`)."""
    chance = 1.0 / n_classes
    if share_diverged > 0.5:
        return "diverged"
    if np.isfinite(mean_acc) and mean_acc >= target:
        return "trains"
    if np.isfinite(mean_acc) and mean_acc >= chance + 0.25 * (1.0 - chance):
        return "partial"
    return "fails"


def _regenerate_hint(path: Path) -> str:
    return (
        f"Delete {path.parent} and rerun snakemake: the run is retrained (add --forcerun "
        "aggregate_tables if the tables were already written)."
    )


def _read_run(spec: RunSpec, run_dir: Path) -> tuple[dict[str, Any], pd.DataFrame, dict[str, Any]]:
    """Read and check one run's three files; raise CorruptFileError naming a bad one.

    Checked: each file exists and parses; summary.json was written for ``spec`` and every key
    the tables read holds a value of its JSON type (a number edited into a string, ``true``
    for a number, a missing key are errors); timing.json likewise; layers.csv ends with a
    newline (not truncated), has the header of ``LAYER_COLUMNS``, the same number of fields on
    every line, numbers in every column, no empty step/layer cells, and exactly the
    checkpoints x layers grid its summary.json announces.
    """
    summary_path, layers_path = run_dir / "summary.json", run_dir / "layers.csv"
    timing_path = run_dir / "timing.json"
    for path in (summary_path, layers_path, timing_path):
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing. {_regenerate_hint(path)}")

    def corrupt(path: Path, problem: str) -> CorruptFileError:
        return CorruptFileError(f"{path}: {problem}. {_regenerate_hint(path)}")

    def read_object(path: Path) -> dict[str, Any]:
        try:
            return io.read_json(path, regenerate_hint=_regenerate_hint(path))
        except CorruptFileError as err:
            if _regenerate_hint(path) in str(err):
                raise
            raise corrupt(path, str(err).removeprefix(f"{path}: ").rstrip(".")) from None

    number, integer, null = (float, int), (int,), (type(None),)

    def check_types(path: Path, obj: dict[str, Any], types: dict[str, tuple[type, ...]]) -> None:
        for key, allowed in types.items():
            if key not in obj:
                raise corrupt(path, f"key {key!r} is missing")
            value = obj[key]
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                what = " or ".join(
                    word
                    for word, present in (
                        ("true/false", bool in allowed),
                        ("a number", float in allowed),
                        ("an integer", int in allowed and float not in allowed),
                        ("null", type(None) in allowed),
                    )
                    if present
                )
                raise corrupt(
                    path, f"key {key!r} holds {value!r} ({type(value).__name__}); expected {what}"
                )

    summary = read_object(summary_path)
    timing = read_object(timing_path)
    if summary.get("config") != spec.to_dict():
        raise CorruptFileError(
            f"{summary_path}: was written for a different configuration than the study's. "
            f"{_regenerate_hint(summary_path)}"
        )
    reals = (*HEADLINE, "final_val_loss", "final_test_loss", "init_train_loss")
    summary_types = {key: number + null for key in reals}
    summary_types.update(
        diverged=(bool,),
        diverged_step=integer + null,
        steps_to_target=integer + null,
        n_classes=integer,
        n_checkpoints=integer,
        n_layer_rows=integer,
    )
    check_types(summary_path, summary, summary_types)
    check_types(
        timing_path,
        timing,
        {"wall_seconds": number + null, "steps": integer, "steps_per_second": number + null},
    )

    try:
        text = layers_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise corrupt(layers_path, f"unreadable ({err})") from None
    if not text.endswith("\n"):
        raise corrupt(layers_path, "truncated (the last line is incomplete)")
    lines = text.split("\n")[:-1]
    if not lines or lines[0] != ",".join(LAYER_COLUMNS):
        raise corrupt(layers_path, "the header is not the columns of initlab.train.LAYER_COLUMNS")
    for line_no, line in enumerate(lines[1:], start=2):
        if line.count(",") != len(LAYER_COLUMNS) - 1:
            raise corrupt(
                layers_path,
                f"line {line_no} has {line.count(',') + 1} fields, expected {len(LAYER_COLUMNS)}",
            )
    n_rows, n_checkpoints, n_layers = (
        summary["n_layer_rows"],
        summary["n_checkpoints"],
        spec.depth + 1,
    )
    grid = f"{n_checkpoints} checkpoints x {n_layers} layers, as its summary.json says"
    if len(lines) - 1 != n_rows or n_rows != n_checkpoints * n_layers:
        raise corrupt(layers_path, f"expected {n_rows} rows ({grid}), found {len(lines) - 1} rows")
    try:
        layers = pd.read_csv(layers_path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise corrupt(layers_path, f"unreadable ({err})") from None
    text_columns = [c for c in layers.columns if not pd.api.types.is_numeric_dtype(layers[c])]
    if text_columns:
        raise corrupt(layers_path, f"column {text_columns[0]!r} holds text instead of numbers")
    empty = [c for c in ("step", "epoch", "layer", "fan_in", "fan_out") if layers[c].isna().any()]
    if empty:
        raise corrupt(layers_path, f"column {empty[0]!r} has empty cells")
    if (
        len(layers) != n_rows
        or layers["step"].nunique() != n_checkpoints
        or sorted(layers["layer"].unique()) != list(range(1, n_layers + 1))
    ):
        raise corrupt(layers_path, f"the steps and layers are not the grid of {grid}")
    return summary, layers, timing


def _hidden_mean(layers: pd.DataFrame, column: str, step: int) -> float:
    rows = layers[(layers["step"] == step) & layers[column].notna()]
    return float(rows[column].mean()) if len(rows) else float("nan")


def load_runs(study: Study, root: str | Path = ".") -> dict[str, pd.DataFrame]:
    """Read every run of ``study``; return the ``runs``, ``layers``, ``curves``, ``timings`` tables.

    Parameters
    ----------
    study : Study
        The study whose grid is read (runs of other grids in the folder are ignored).
    root : path
        Folder the study's relative ``results`` path is taken from.
    """
    root = Path(root)
    run_rows, layer_frames, timing_rows = [], [], []
    for spec in study.specs():
        summary, layers, timing = _read_run(spec, root / study.run_dir(spec))
        config = {
            "run_id": spec.run_id,
            "dataset": study.dataset_label,
            "initializer": spec.initializer,
            "activation": spec.activation,
            "depth": spec.depth,
            "width": spec.width,
            "seed": spec.seed,
            "optimizer": spec.optimizer,
            "learning_rate": spec.learning_rate,
            "epochs": spec.epochs,
            "batch_size": spec.batch_size,
        }
        last_step = int(layers["step"].max())
        row = {**config, **{k: summary.get(k) for k in HEADLINE}}
        row.update(
            {k: summary.get(k) for k in ("final_val_loss", "final_test_loss", "init_train_loss")}
        )
        row["dead_frac_init"] = _hidden_mean(layers, "dead_frac", 0)
        row["saturated_frac_init"] = _hidden_mean(layers, "saturated_frac", 0)
        final_ok = not summary["diverged"]
        row["dead_frac_final"] = (
            _hidden_mean(layers, "dead_frac", last_step) if final_ok else (float("nan"))
        )
        row["saturated_frac_final"] = (
            _hidden_mean(layers, "saturated_frac", last_step) if final_ok else float("nan")
        )
        row["n_classes"] = summary["n_classes"]
        run_rows.append(row)
        for key, value in reversed(list(config.items())[:7]):
            layers.insert(0, key, value)
        layer_frames.append(layers)
        timing_rows.append(
            {
                "run_id": spec.run_id,
                "wall_seconds": timing.get("wall_seconds"),
                "steps": timing.get("steps"),
                "steps_per_second": timing.get("steps_per_second"),
            }
        )
    runs = pd.DataFrame(run_rows)
    for col in ("steps_to_target", "diverged_step"):
        runs[col] = runs[col].astype("Int64")
    runs["diverged"] = runs["diverged"].astype(bool)
    layers_all = pd.concat(layer_frames, ignore_index=True)
    curve_cols = ["run_id", "initializer", "activation", "depth", "seed", *CURVE_COLUMNS]
    curves = layers_all.loc[layers_all["layer"] == 1, curve_cols].reset_index(drop=True)
    return {
        "runs": runs,
        "layers": layers_all,
        "curves": curves,
        "timings": pd.DataFrame(timing_rows),
    }


def _ci95(values: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, sample std and the 95% Student-t interval of the finite ``values``."""
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return (math.nan,) * 4
    mean = float(v.mean())
    if len(v) == 1:
        return mean, math.nan, math.nan, math.nan
    std = float(v.std(ddof=1))
    half = float(sps.t.ppf(0.975, len(v) - 1)) * std / math.sqrt(len(v))
    return mean, std, mean - half, mean + half


def summarize(runs: pd.DataFrame, target_accuracy: float) -> pd.DataFrame:
    """One row per dataset x initializer x activation x depth, in first-appearance order."""
    rows = []
    for key, grp in runs.groupby(list(GROUP), sort=False):
        row: dict[str, Any] = dict(zip(GROUP, key, strict=True))
        row["n_seeds"] = len(grp)
        row["share_diverged"] = float(grp["diverged"].mean())
        for metric in SUMMARY_METRICS:
            values = grp[metric].astype("float64").to_numpy()
            mean, std, lo, hi = _ci95(values)
            row[f"{metric}_mean"] = mean
            row[f"{metric}_std"] = std
            row[f"{metric}_ci95_lo"] = lo
            row[f"{metric}_ci95_hi"] = hi
        row["share_reached_target"] = float(grp["steps_to_target"].notna().mean())
        row["verdict"] = verdict(
            row["share_diverged"],
            row["final_test_acc_mean"],
            target_accuracy,
            int(grp["n_classes"].iloc[0]),
        )
        rows.append(row)
    return pd.DataFrame(rows)


def theory_table(
    study: Study, layers: pd.DataFrame, n_features: int, n_classes: int, input_second_moment: float
) -> pd.DataFrame:
    """Mean-field predictions per combination x layer beside the measurement at step 0.

    ``q_pred`` is the predicted second moment of the pre-activations, ``delta_rel_pred`` the
    predicted rms of ``dL/dz`` relative to the output layer; ``*_meas_*`` are the mean and std
    over seeds of the same quantities measured on the probe batch at initialization, and
    ``*_relerr`` the relative error of the seed mean against the prediction.
    """
    init0 = layers[layers["step"] == 0]
    # one pass over the rows, not one boolean mask per combination (10,000-run grids)
    by_combination = {
        key: grp for key, grp in init0.groupby(["initializer", "activation", "depth"], sort=False)
    }
    empty = init0.iloc[0:0]
    rows = []
    for init_name, act_name, depth in study.combinations():
        spec = study.base_spec(init_name, act_name, depth, 0)
        act, init = spec.resolve_activation(), spec.resolve_initializer()
        sizes = (n_features, *([spec.width] * depth), n_classes)
        pred = theory.predict_layers(
            act, init, sizes, input_second_moment=input_second_moment, bias_std=spec.bias_std
        )
        sw2 = float(pred["sigma_w2"][1]) if depth > 1 else float(pred["sigma_w2"][0])
        sb2 = spec.bias_std**2
        q_star = theory.fixed_point(act, sw2, sb2) if np.isfinite(sw2) else math.nan
        chi = theory.chi1(act, sw2, q_star) if np.isfinite(q_star) else math.nan
        xi_c = theory.depth_scales(act, sw2, sb2)[1] if np.isfinite(sw2) else math.nan
        sel = by_combination.get((init_name, act_name, depth), empty)
        # (seeds, layers) matrices of the step-0 measurements
        layer_cols = [int(v) for v in pred["layer"]]
        q_mat = sel.pivot(index="seed", columns="layer", values="z_q").reindex(columns=layer_cols)
        d_mat = sel.pivot(index="seed", columns="layer", values="delta_rms").reindex(
            columns=layer_cols
        )
        d_rel = d_mat.div(d_mat[depth + 1], axis=0) if len(d_mat) else d_mat
        q_all, d_all = q_mat.to_numpy(dtype=float), d_rel.to_numpy(dtype=float)
        for i, layer in enumerate(pred["layer"]):
            q_meas, d_meas = q_all[:, i], d_all[:, i]
            q_pred, d_pred = float(pred["q"][i]), float(pred["delta_rms_rel"][i])
            row = {
                "dataset": study.dataset_label,
                "initializer": init_name,
                "activation": act_name,
                "depth": depth,
                "layer": int(layer),
                "sigma_w2": float(pred["sigma_w2"][i]),
                "sigma_b2": sb2,
                "chi1": chi,
                "q_star": q_star,
                "xi_c": xi_c,
                "q_pred": q_pred,
                "delta_rel_pred": d_pred,
            }
            for name, meas, p in (("q", q_meas, q_pred), ("delta_rel", d_meas, d_pred)):
                finite = meas[np.isfinite(meas)]
                m = float(finite.mean()) if len(finite) else math.nan
                row[f"{name}_meas_mean"] = m
                row[f"{name}_meas_std"] = (
                    float(finite.std(ddof=1)) if len(finite) > 1 else (math.nan)
                )
                row[f"{name}_relerr"] = (m - p) / p if p and np.isfinite(p) else math.nan
            rows.append(row)
    return pd.DataFrame(rows)


def write_tables(tables: dict[str, pd.DataFrame], out: str | Path) -> None:
    """Write each table as ``out/<name>.csv`` (atomic, 10 significant digits, ``\\n``)."""
    for name, df in tables.items():
        text = df.to_csv(index=False, float_format="%.10g", lineterminator="\n")
        io.atomic_write_text(Path(out) / f"{name}.csv", text)


def aggregate(study_json: str | Path, out: str | Path, root: str | Path = ".") -> dict[str, Any]:
    """Build every table of the study described by ``study_json``; write them under ``out``.

    Returns the tables (DataFrames by name).
    """
    study = Study(io.read_json(study_json))
    tables = load_runs(study, root)
    target = float(study.config["training"]["target_accuracy"])
    tables["summary"] = summarize(tables["runs"], target)
    data_path = Path(root) / f"{study.results}/data/{study.dataset_label}.npz"
    probe_size = int(study.config["training"]["probe_size"])
    n_features, n_classes, q_in = _input_facts(data_path, probe_size)
    tables["theory"] = theory_table(study, tables["layers"], n_features, n_classes, q_in)
    tables["claims"] = claims.claims_table(
        claims.evaluate_claims(study.name, {n: tables[n] for n in claims.TABLE_NAMES})
    )
    tables["runs"] = tables["runs"].drop(columns=["n_classes"])
    write_tables(tables, out)
    return tables


def _input_facts(data_path: Path, probe_size: int) -> tuple[int, int, float]:
    """Input dimension, class count and mean squared input feature (the ``q^0`` of theory)
    of the prepared dataset, measured on the probe rows the runs use."""
    from initlab.data import load_prepared

    ds = load_prepared(data_path)
    probe = ds.X_train[:probe_size]
    return ds.n_features, ds.n_classes, float(np.mean(probe * probe))
