"""Collect every run of a study into tidy pandas tables (``results/tables/*.csv``).

Tables (columns documented in the README's data dictionary):

- ``runs.csv``: one row per trained network, configuration and headline numbers.
- ``layers.csv``: one row per run x checkpoint x layer, configuration columns on every row.
- ``curves.csv``: one row per run x checkpoint (loss and accuracy).
- ``summary.csv``: one row per dataset x initializer x activation x depth: mean, std and a 95%
  t-interval over seeds of the headline numbers, the share of diverged seeds and a verdict.
- ``timings.csv``: wall time per run, kept apart so every other table is byte-reproducible.
- ``theory.csv``: mean-field predictions per layer beside the measurement at initialization.
- ``claims.csv``: the claims the study declares (:mod:`initlab.claims`): each published claim,
  what this study measured, the rule and threshold, and the verdict (no rows without claims).

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
from initlab.spectra import JACOBIAN_PROBES, PAIR_COSINE
from initlab.stats import SPECTRUM_SUMMARY_KEYS
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
ACCURACY_METRICS = ("final_test_acc", "final_val_acc")
"""Accuracies summarized twice: over all seeds, a diverged seed counted as a failed run at
chance accuracy (``<metric>_mean`` ...), and over the surviving seeds only
(``<metric>_survivors_mean`` ...)."""
SUMMARY_METRICS = (
    *ACCURACY_METRICS,
    "best_val_acc",
    "final_train_loss",
    "steps_to_target",
    "log10_delta_ratio_hidden",
    "log10_delta_ratio_init",
    "log10_wgrad_rms_ratio_hidden",
    "log10_wgrad_ratio_init",
    "dead_frac_init",
    "saturated_frac_init",
)
BOUNDED_METRICS = frozenset(
    {*ACCURACY_METRICS, "best_val_acc", "dead_frac_init", "saturated_frac_init"}
)
"""Metrics in [0, 1]: their intervals are clipped to [0, 1] (``<metric>_ci95_clipped``)."""
GROUP = ("dataset", "initializer", "activation", "depth")
CURVE_COLUMNS = ("step", "epoch", "train_loss", "train_acc", "val_loss", "val_acc")

VERDICT_RULE = (
    "diverged: more than half of the seeds diverged; otherwise, with the mean final test "
    "accuracy over all seeds (a diverged seed counted at chance = 1 / n_classes): trains: "
    ">= target_accuracy; partial: >= chance + 0.25 (1 - chance); fails: below"
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
    reals += SPECTRUM_SUMMARY_KEYS
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
        row.update({k: summary[k] for k in SPECTRUM_SUMMARY_KEYS})
        row["log10_delta_ratio_hidden"] = _hidden_log10_ratio(layers, "delta_rms", spec.depth)
        row["log10_wgrad_rms_ratio_hidden"] = _hidden_log10_ratio(layers, "wgrad_rms", spec.depth)
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


def interval95(values: np.ndarray, bounds: tuple[float, float] | None = None) -> dict[str, Any]:
    """Mean, sample std and the 95% Student-t interval of the mean of the finite ``values``.

    With ``bounds`` (e.g. ``(0, 1)`` for accuracies) the interval is clipped to them, because a
    t-interval of two seeds can reach past a possible value (``[0.641, 1.050]``); clipping only
    removes impossible values, so the coverage is not reduced. ``clipped`` says whether it
    happened. One finite value gives no std and no interval (NaN).

    Returns
    -------
    dict
        ``n``, ``mean``, ``std``, ``lo``, ``hi``, ``clipped``.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    out: dict[str, Any] = {
        "n": len(v),
        "mean": math.nan,
        "std": math.nan,
        "lo": math.nan,
        "hi": math.nan,
        "clipped": False,
    }
    if len(v) == 0:
        return out
    out["mean"] = float(v.mean())
    if len(v) == 1:
        return out
    std = float(v.std(ddof=1))
    half = float(sps.t.ppf(0.975, len(v) - 1)) * std / math.sqrt(len(v))
    lo, hi = out["mean"] - half, out["mean"] + half
    if bounds is not None:
        clipped_lo, clipped_hi = max(lo, bounds[0]), min(hi, bounds[1])
        out["clipped"] = bool(clipped_lo != lo or clipped_hi != hi)
        lo, hi = clipped_lo, clipped_hi
    out.update(std=std, lo=lo, hi=hi)
    return out


def accuracy_all_seeds(runs: pd.DataFrame, column: str) -> np.ndarray:
    """``column`` of ``runs`` with every diverged seed counted as a failed run at chance
    accuracy ``1 / n_classes`` (its own accuracy is undefined)."""
    values = runs[column].astype("float64").to_numpy().copy()
    diverged = runs["diverged"].astype(bool).to_numpy()
    chance = 1.0 / runs["n_classes"].astype("float64").to_numpy()
    values[diverged] = chance[diverged]
    return values


def _put(row: dict[str, Any], prefix: str, stats: dict[str, Any], bounded: bool) -> None:
    row[f"{prefix}_mean"] = stats["mean"]
    row[f"{prefix}_std"] = stats["std"]
    row[f"{prefix}_ci95_lo"] = stats["lo"]
    row[f"{prefix}_ci95_hi"] = stats["hi"]
    if bounded:
        row[f"{prefix}_ci95_clipped"] = stats["clipped"]


def summarize(runs: pd.DataFrame, target_accuracy: float) -> pd.DataFrame:
    """One row per dataset x initializer x activation x depth, in first-appearance order.

    Accuracies (:data:`ACCURACY_METRICS`) are summarized over all seeds, a diverged seed
    counting as a failed run at chance (``<metric>_mean``, ...; used by the verdict), and over
    the surviving seeds (``<metric>_survivors_mean``, ...). Every other metric is over the
    seeds where it is defined (a diverged seed has no final loss). ``n_seeds`` and
    ``n_survivors`` give the number of seeds behind each view.
    """
    rows = []
    for key, grp in runs.groupby(list(GROUP), sort=False):
        row: dict[str, Any] = dict(zip(GROUP, key, strict=True))
        diverged = grp["diverged"].astype(bool)
        row["n_seeds"] = len(grp)
        row["n_survivors"] = int((~diverged).sum())
        row["share_diverged"] = float(diverged.mean())
        for metric in SUMMARY_METRICS:
            bounded = metric in BOUNDED_METRICS
            bounds = (0.0, 1.0) if bounded else None
            if metric in ACCURACY_METRICS:
                everyone = interval95(accuracy_all_seeds(grp, metric), bounds)
                _put(row, metric, everyone, bounded)
                survivors = grp.loc[~diverged, metric].astype("float64").to_numpy()
                _put(row, f"{metric}_survivors", interval95(survivors, bounds), bounded)
            else:
                values = grp[metric].astype("float64").to_numpy()
                _put(row, metric, interval95(values, bounds), bounded)
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
    init0 = layers[layers["step"] == 0]
    # one pass over the rows, not one boolean mask per combination (10,000-run grids)
    by_combination = {
        key: grp for key, grp in init0.groupby(["initializer", "activation", "depth"], sort=False)
    }
    empty = init0.iloc[0:0]
    mean_fields: dict[tuple[str, str, int], theory.MeanField] = {}
    hidden_preds: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    deepest = max(int(d) for d in study.config["depths"])
    q_jac = input_second_moment if jacobian_second_moment is None else jacobian_second_moment
    rows = []
    for init_name, act_name, depth in study.combinations():
        spec = study.base_spec(init_name, act_name, depth, 0)
        act, init = spec.resolve_activation(), spec.resolve_initializer()
        sizes = (n_features, *([spec.width] * depth), n_classes)
        pred = theory.predict_layers(
            act, init, sizes, input_second_moment=input_second_moment, bias_std=spec.bias_std
        )
        # hidden layers only (the Jacobian and the pair cosine are of the hidden stack); layer
        # l's prediction depends on the widths up to l alone, so the deepest net of the grid
        # gives every depth's as a prefix (the 2-D quadratures dominate the table's cost)
        if (init_name, act_name) not in hidden_preds:
            deep = (n_features, *([spec.width] * deepest), n_classes)
            hidden_preds[(init_name, act_name)] = (
                theory.predict_jacobian(
                    act, init, deep, input_second_moment=q_jac, bias_std=spec.bias_std
                ),
                theory.predict_correlation(
                    act, init, deep, q0=input_second_moment, c0=PAIR_COSINE, bias_std=spec.bias_std
                ),
            )
        jac_deep, c_deep = hidden_preds[(init_name, act_name)]
        jac_pred = np.append(jac_deep[:depth], math.nan)
        c_pred = np.append(c_deep[:depth], math.nan)
        # the hidden sigma_w2 depends on the depth only through depth >= 2 (the fixed-point
        # searches dominate the table's cost)
        mf_key = (init_name, act_name, min(depth, 2))
        if mf_key not in mean_fields:
            mean_fields[mf_key] = theory.network_mean_field(
                act, init, sizes, bias_std=spec.bias_std
            )
        mf = mean_fields[mf_key]
        sel = by_combination.get((init_name, act_name, depth), empty)
        # (seeds, layers) matrices of the step-0 measurements
        layer_cols = [int(v) for v in pred["layer"]]
        q_mat = sel.pivot(index="seed", columns="layer", values="z_q").reindex(columns=layer_cols)
        d_mat = sel.pivot(index="seed", columns="layer", values="delta_rms").reindex(
            columns=layer_cols
        )
        d_rel = d_mat.div(d_mat[depth + 1], axis=0) if len(d_mat) else d_mat
        q_all, d_all = q_mat.to_numpy(dtype=float), d_rel.to_numpy(dtype=float)
        j_all, c_all = (
            sel.pivot(index="seed", columns="layer", values=col)
            .reindex(columns=layer_cols)
            .to_numpy(dtype=float)
            for col in ("jac_mean_s2", "corr_c")
        )
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
                "sigma_w2_hidden": mf.sigma_w2,
                "sigma_b2": mf.sigma_b2,
                "q_star": mf.q_star,
                "chi1": mf.chi1,
                "c_star": mf.c_star,
                "xi_q": mf.xi_q,
                "xi_c": mf.xi_c,
                "xi_grad": mf.xi_grad,
                "q_pred": q_pred,
                "delta_rel_pred": d_pred,
            }
            row["jac_mean_s2_pred"] = float(jac_pred[i])
            row["c_pred"] = float(c_pred[i])
            for name, meas, p in (
                ("q", q_meas, q_pred),
                ("delta_rel", d_meas, d_pred),
                ("jac_mean_s2", j_all[:, i], float(jac_pred[i])),
                ("c", c_all[:, i], float(c_pred[i])),
            ):
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
    n_features, n_classes, q_in, q_jac = _input_facts(data_path, probe_size)
    tables["theory"] = theory_table(study, tables["layers"], n_features, n_classes, q_in, q_jac)
    tables["claims"] = claims.claims_table(
        claims.evaluate_claims(
            study.config.get("claims", []), {n: tables[n] for n in claims.TABLE_NAMES}
        )
    )
    tables["runs"] = tables["runs"].drop(columns=["n_classes"])
    write_tables(tables, out)
    return tables


def _input_facts(data_path: Path, probe_size: int) -> tuple[int, int, float, float]:
    """Input dimension, class count and mean squared input feature (the ``q^0`` of theory)
    of the prepared dataset, measured on the probe rows the runs use, and on the first
    ``JACOBIAN_PROBES`` of them (the Jacobian's inputs)."""
    from initlab.data import load_prepared

    ds = load_prepared(data_path)
    probe = ds.X_train[:probe_size]
    jac = probe[:JACOBIAN_PROBES]
    return ds.n_features, ds.n_classes, float(np.mean(probe * probe)), float(np.mean(jac * jac))
