"""The in-memory aggregation as it was before the tables streamed (every layer row of every run
in one DataFrame, every table written as CSV): the oracle that tests/test_aggregate_stream.py
compares :mod:`initlab.aggregate` with. Not used by the package.

Only what the streaming changed is kept here, verbatim: reading the chunks into one layers frame
(without the damaged-file checks, which tests/test_robustness.py covers on the package), the
per-run reductions on that frame, the theory table's step-0 selection from it (its rows per
combination are built by the package's own code), the CSV writer and the assembly.
Everything the change left as it was (summaries, intervals, predictions, sources, axes, phase,
input facts) is imported from :mod:`initlab.aggregate`, the one definition of it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from initlab import claims, io, layout
from initlab.aggregate import (
    _TIMING_TYPES,
    CURVE_COLUMNS,
    HEADLINE,
    STILL_LEARNING_DROP,
    _combination_rows,
    _config_columns,
    _id_columns,
    _input_facts,
    _measured,
    _Predictions,
    at_point,
    axes_table,
    phase_table,
    sources_table,
    summarize,
)
from initlab.chunks import read_chunk
from initlab.config import RunSpec
from initlab.init_table import initializer_table
from initlab.recommend import recommendation_table
from initlab.records import BUDGET_KEYS, INPUT_FACT_KEYS, SPECTRUM_SUMMARY_KEYS
from initlab.remedies import remedy_table
from initlab.study import Chunk, Study

__all__ = ["aggregate", "load_runs", "theory_table", "write_tables"]


def _read_chunk_runs(
    study: Study, chunk: Chunk, root: Path
) -> Iterator[tuple[RunSpec, dict[str, Any], pd.DataFrame, dict[str, Any]]]:
    """One intact chunk's runs in training order: (spec, summary, layer rows, timing)."""
    runs, layers = read_chunk(root / chunk.folder)
    row_of = {run_id: i for i, run_id in enumerate(runs["run_id"].tolist())}
    by_run = dict(list(layers.groupby("run_id", sort=False)))
    timings = {name: runs[name].tolist() for name in _TIMING_TYPES}
    for spec in study.chunk_specs(chunk):
        i = row_of[spec.run_id]
        timing = {name: timings[name][i] for name in _TIMING_TYPES}
        if timing["wall_seconds"] is not None and math.isnan(timing["wall_seconds"]):
            timing["wall_seconds"] = None
        rows = by_run[spec.run_id].drop(columns="run_id").reset_index(drop=True)
        yield spec, runs["summary"].iloc[i], rows, timing


def _hidden_log10_ratio(layers: pd.DataFrame, column: str, depth: int) -> float:
    """``log10(column at hidden layer 1 / column at hidden layer depth)`` at step 0.

    The first over the last *hidden* layer: unlike the ratio to the output layer it does not
    include the passage through the 10-unit output layer, so a net whose gradients keep their
    size through the hidden stack scores 0. NaN for one hidden layer (nothing to compare) and
    where either value is 0 or not finite.
    """
    if depth < 2:
        return math.nan
    init = layers[layers["step"] == 0]
    first = init.loc[init["layer"] == 1, column]
    last = init.loc[init["layer"] == depth, column]
    if first.empty or last.empty:
        return math.nan
    a, b = float(first.iloc[0]), float(last.iloc[0])
    if not (math.isfinite(a) and math.isfinite(b)) or a <= 0 or b <= 0:
        return math.nan
    return math.log10(a / b)


def _hidden_mean(layers: pd.DataFrame, column: str, step: int) -> float:
    rows = layers[(layers["step"] == step) & layers[column].notna()]
    return float(rows[column].mean()) if len(rows) else float("nan")


def _still_learning(layers: pd.DataFrame) -> float:
    """1.0 / 0.0: the training loss fell by more than :data:`STILL_LEARNING_DROP` over the last
    checkpoint interval; NaN with fewer than two finite checkpoints."""
    losses = layers.loc[layers["layer"] == 1].sort_values("step")["train_loss"].to_numpy(float)
    if len(losses) < 2 or not np.all(np.isfinite(losses[-2:])):
        return math.nan
    return float(losses[-1] < (1.0 - STILL_LEARNING_DROP) * losses[-2])


def _run_row(
    spec: RunSpec, config: dict[str, Any], summary: dict[str, Any], layers: pd.DataFrame
) -> dict[str, Any]:
    """runs.csv row of one run (plus the input facts, dropped before writing)."""
    last_step = int(layers["step"].max())
    row = {**config, **{k: summary.get(k) for k in HEADLINE}}
    row.update(
        {k: summary.get(k) for k in ("final_val_loss", "final_test_loss", "init_train_loss")}
    )
    row.update({k: summary[k] for k in SPECTRUM_SUMMARY_KEYS})
    row["log10_delta_ratio_hidden"] = _hidden_log10_ratio(layers, "delta_rms", spec.depth)
    row["log10_wgrad_rms_ratio_hidden"] = _hidden_log10_ratio(layers, "wgrad_rms", spec.depth)
    row["dead_frac_init"] = _hidden_mean(layers, "dead_frac", 0)
    row["saturated_frac_init"] = _hidden_mean(layers, "saturated_frac", 0)
    final_ok = not summary["diverged"]
    nan = float("nan")
    row["dead_frac_final"] = _hidden_mean(layers, "dead_frac", last_step) if final_ok else nan
    row["saturated_frac_final"] = (
        _hidden_mean(layers, "saturated_frac", last_step) if final_ok else nan
    )
    row["still_learning"] = _still_learning(layers) if final_ok else nan
    # generalization gap (Srivastava et al. 2014): NaN when diverged (both accuracies are)
    gap_ok = final_ok and row["final_train_acc"] is not None and row["final_test_acc"] is not None
    row["train_test_gap"] = (
        float(row["final_train_acc"]) - float(row["final_test_acc"]) if gap_ok else nan
    )
    row.update({key: summary[key] for key in BUDGET_KEYS})
    row["n_test"] = summary["n_test"]
    row.update({key: summary[key] for key in INPUT_FACT_KEYS})
    return row


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
    for chunk in study.chunks():
        for spec, summary, layers, timing in _read_chunk_runs(study, chunk, root):
            config = _config_columns(study, spec)
            run_rows.append(_run_row(spec, config, summary, layers))
            ids = _id_columns(study, spec)
            for key, value in reversed(list(ids.items())):
                layers.insert(0, key, value)
            layer_frames.append(layers)
            timing_rows.append({"run_id": spec.run_id, **timing})
    runs = pd.DataFrame(run_rows)
    for col in ("steps_to_target", "diverged_step"):
        runs[col] = runs[col].astype("Int64")
    runs["diverged"] = runs["diverged"].astype(bool)
    layers_all = pd.concat(layer_frames, ignore_index=True)
    curve_cols = [
        "run_id",
        "initializer",
        "activation",
        "depth",
        "seed",
        *(a for a in study.axes if a != "dataset"),  # the dataset column leads
        *CURVE_COLUMNS,
    ]
    if "dataset" in study.axes:
        curve_cols.insert(1, "dataset")
    curves = layers_all.loc[layers_all["layer"] == 1, curve_cols].reset_index(drop=True)
    return {
        "runs": runs,
        "layers": layers_all,
        "curves": curves,
        "timings": pd.DataFrame(timing_rows),
    }


def theory_table(
    study: Study,
    layers: pd.DataFrame,
    n_features: int,
    n_classes: int,
    input_second_moment: float,
    jacobian_second_moment: float | None = None,
) -> pd.DataFrame:
    """Mean-field predictions per combination x layer beside the measurement at step 0.

    ``q_pred`` is the predicted second moment of the pre-activations, ``delta_rel_pred`` the
    predicted rms of ``dL/dz`` relative to the output layer, ``jac_mean_s2_pred`` the predicted
    mean squared singular value of the input-output Jacobian of hidden layer ``l``, ``c_pred``
    the predicted cosine of the pre-activations of two inputs of cosine ``PAIR_COSINE``;
    ``*_meas_*`` are the mean and std over seeds of the same quantities measured on the probe
    batch at initialization, and ``*_relerr`` the relative error of the seed mean against the
    prediction. ``jacobian_second_moment`` is the mean square of the inputs the Jacobian is
    measured on (the first ``JACOBIAN_PROBES`` probe rows; default ``input_second_moment``).
    The network-level columns (``sigma_w2_hidden`` .. ``xi_grad``) come from
    :func:`initlab.theory.network_mean_field`, the one definition the CLI and report share.
    """
    q_jac = input_second_moment if jacobian_second_moment is None else jacobian_second_moment
    predictions = _Predictions(study, n_features, n_classes, input_second_moment, q_jac)
    init0 = layers[layers["step"] == 0]
    # one pass over the rows, not one boolean mask per combination (10,000-run grids)
    by_combination = dict(list(init0.groupby(["initializer", "activation", "depth"], sort=False)))
    rows = []
    for init_name, act_name, depth, point in study.combinations():
        if point != study.baseline:
            continue
        spec = study.base_spec(init_name, act_name, depth, 0, point)
        sel = by_combination.get((init_name, act_name, depth), init0.iloc[0:0])
        rows.extend(_combination_rows(study, spec, predictions, _measured(sel, spec.depth)))
    return pd.DataFrame(rows)


def write_tables(
    tables: dict[str, pd.DataFrame], out: str | Path, axes: Sequence[str] = ()
) -> None:
    """Write each table as ``out/<name>.csv`` (atomic, 10 significant digits, ``\\n``).

    The columns of the extra ``axes`` are written as in folder names
    (:func:`initlab.layout.axis_value_text`: ``0.0``, ``1e-05``, ``true``), exactly and with
    their type visible, so that a reader finds a point by the value ``axes.csv`` names.
    """
    for name, df in tables.items():
        cols = [a for a in axes if a in df.columns and name != "axes"]
        if cols:
            df = df.assign(**{a: df[a].map(layout.axis_value_text) for a in cols})
        text = df.to_csv(index=False, float_format="%.10g", lineterminator="\n")
        io.atomic_write_text(Path(out) / f"{name}.csv", text)


def aggregate(study_json: str | Path, out: str | Path, root: str | Path = ".") -> dict[str, Any]:
    """Build every table of the study described by ``study_json``; write them under ``out``.

    Returns the tables (DataFrames by name).
    """
    study = Study(io.read_json(study_json))
    tables = load_runs(study, root)
    target = float(study.config["training"]["target_accuracy"])
    extra = [a for a in study.axes if a != "dataset"]  # the dataset column is always grouped
    tables["summary"] = summarize(tables["runs"], target, extra)
    # theory and recommendations describe the baseline point of the extra axes
    baseline = study.table_point(study.baseline)
    base = {n: at_point(tables[n], baseline) for n in ("runs", "layers", "summary")}
    for _, runs_of_one_dataset in tables["runs"].groupby("dataset", sort=False):
        _input_facts(runs_of_one_dataset)  # the runs of each dataset agree (a dataset axis)
    n_features, n_classes, q_in, q_jac = _input_facts(base["runs"])
    theory_rows = theory_table(study, base["layers"], n_features, n_classes, q_in, q_jac)
    for axis, value in baseline:  # one column per extra axis, as every per-cell table
        theory_rows[axis] = value
    tables["theory"] = theory_rows
    tables["phase"] = phase_table(study)
    tables["claims"] = claims.claims_table(
        claims.evaluate_claims(
            study.config.get("claims", []),
            {n: tables[n] for n in claims.TABLE_NAMES},
            dict(baseline),
        )
    )
    cfg = study.config
    # a transfer initializer copies trained layers: no random init to recommend, no mean-field
    # reason (its chi_1 would be its base's)
    drawn = [name for name in cfg["initializers"] if study.transfer_def(name) is None]
    tables["recommendations"] = recommendation_table(
        base["summary"][base["summary"]["initializer"].isin(drawn)],
        base["runs"][base["runs"]["initializer"].isin(drawn)],
        tables["theory"],
        drawn,
        cfg["activations"],
        cfg["depths"],
    )
    tables["initializers"] = initializer_table(study, n_features, n_classes)
    tables["axes"] = axes_table(study)
    tables["remedies"] = remedy_table(
        tables["runs"], tables["summary"], study.table_axes, layout.axis_value_text
    )
    tables["sources"] = sources_table(study, root)
    # n_classes stays: chance accuracy (1 / n_classes) is needed to recompute claims and
    # summaries from runs.csv; the other input facts are study-wide
    tables["runs"] = tables["runs"].drop(columns=[k for k in INPUT_FACT_KEYS if k != "n_classes"])
    write_tables(tables, out, list(study.axes))
    return tables
