"""The report's inputs: the study's tables and grid, and small selections of them.

Everything the report shows comes from the tables written by :mod:`initlab.aggregate`
(``runs``, ``layers``, ``curves``, ``summary``, ``theory``); ``timings.csv`` is never read, so
the PDF does not change from one rerun to the next. The whole layers table (a row per run x
checkpoint x layer) is never loaded: :func:`load_tables` reads only the columns the pages draw
(:data:`REPORT_LAYER_COLUMNS`) of the step-0 rows they show, skipping the row groups that hold
none, and :func:`pair_layer_rows` the rows of the highlighted pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from initlab import layout
from initlab.layout import axis_value_text

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "TABLES",
    "Grid",
    "Tables",
    "at_baseline",
    "at_point",
    "baseline_config",
    "choose_highlights",
    "dropped_highlights",
    "final_layer_rows",
    "grid_from_config",
    "hidden_sigma_w2",
    "load_tables",
    "pair_layer_rows",
    "read_layer_rows",
    "zero_gradient_combinations",
]

TABLES = (
    "runs",
    "layers",
    "curves",
    "summary",
    "theory",
    "phase",
    "recommendations",
    "initializers",
)
"""The tables the report reads (``timings`` is deliberately absent: it is not reproducible)."""

_ID_COLUMNS = ("run_id", "dataset", "initializer", "activation", "depth", "width", "seed")

REPORT_LAYER_COLUMNS = (
    "step",
    "epoch",
    "layer",
    "fan_in",
    "fan_out",
    "z_q",
    "a_mean",
    "a_std",
    "delta_rms",
    "wgrad_norm",
    "wgrad_rms",
    *(f"{kind}_q{q:02d}" for kind in ("a", "absdelta") for q in (1, 5, 25, 50, 75, 95, 99)),
    "jac_mean_s2",
    "corr_c",
)
"""The layer columns the report reads (besides the id and axis columns)."""

Combination = tuple[str, str, int]


@dataclass(frozen=True)
class Grid:
    """The study's grid, in configuration order."""

    initializers: tuple[str, ...]
    activations: tuple[str, ...]
    depths: tuple[int, ...]
    seeds: tuple[int, ...]

    @property
    def deepest(self) -> int:
        """The largest depth of the grid."""
        return max(self.depths)

    @property
    def shallowest(self) -> int:
        """The smallest depth of the grid."""
        return min(self.depths)

    @property
    def n_combinations(self) -> int:
        """Initializers x activations x depths."""
        return len(self.initializers) * len(self.activations) * len(self.depths)


@dataclass(frozen=True)
class Tables:
    """The study's tables as DataFrames (columns: README data dictionary)."""

    runs: pd.DataFrame
    layers: pd.DataFrame
    curves: pd.DataFrame
    summary: pd.DataFrame
    theory: pd.DataFrame
    phase: pd.DataFrame
    recommendations: pd.DataFrame
    initializers: pd.DataFrame
    claims: pd.DataFrame | None = None
    axes: pd.DataFrame | None = None
    remedies: pd.DataFrame | None = None
    all_runs: pd.DataFrame | None = None
    all_summary: pd.DataFrame | None = None
    all_layers: pd.DataFrame | None = None
    layers_path: Path | None = None
    """``layers.parquet``, from which :func:`pair_layer_rows` reads more rows (``None``: the
    tables were built in memory and ``layers`` holds every row)."""


def grid_from_config(config: Mapping[str, Any]) -> Grid:
    """The :class:`Grid` of a resolved study configuration (depths sorted ascending)."""
    return Grid(
        initializers=tuple(config["initializers"]),
        activations=tuple(config["activations"]),
        depths=tuple(sorted(int(d) for d in config["depths"])),
        seeds=tuple(int(s) for s in config["seeds"]),
    )


def _typed(text: str, kind: pa.DataType) -> Any:
    """An axis value as ``axes.csv`` writes it, as a value of a Parquet column of type ``kind``."""
    import pyarrow as pa

    if pa.types.is_boolean(kind):
        return text == "true"
    if pa.types.is_integer(kind):
        return int(text)
    if pa.types.is_floating(kind):
        return float(text)
    return text


def read_layer_rows(
    path: str | Path,
    where: Sequence[Sequence[tuple[str, str, Any]]],
    axes: pd.DataFrame | None = None,
    columns: Sequence[str] | None = None,
    baseline: bool = True,
) -> pd.DataFrame:
    """Rows of a Parquet table (``layers.parquet`` or ``curves.parquet``) that satisfy one of
    the conjunctions ``where`` (pyarrow filters), with only the id and axis columns and
    ``columns`` (default: every column); with ``axes`` (``axes.csv``) and ``baseline`` only
    those at the baseline of every extra axis.

    The filters are applied while reading: the row groups whose statistics exclude them (the
    rows are in grid order, so most, for a filter on activation or depth) are not read.
    """
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    if columns is not None:
        extra = [] if axes is None else list(dict.fromkeys(axes["axis"]))
        wanted = [*_ID_COLUMNS, *extra, *columns]
        columns = [c for c in schema.names if c in wanted]
    at_base: list[tuple[str, str, Any]] = []
    if axes is not None and baseline:
        for row in axes[axes["baseline"].astype(str) == "True"].itertuples():
            if row.axis in schema.names:
                at_base.append((row.axis, "==", _typed(row.value, schema.field(row.axis).type)))
    filters = [[*conj, *at_base] for conj in where] if where else [at_base] if at_base else None
    table = pq.read_table(path, columns=columns, filters=filters or None)
    return table.to_pandas()


def load_tables(tables_dir: str | Path) -> Tables:
    """Read the report's tables from ``tables_dir``.

    The CSV tables are read whole; of ``layers.parquet`` only the step-0 rows of the layers the
    pages draw (every layer at the deepest depth, the first and the output layer at every
    depth) and :data:`REPORT_LAYER_COLUMNS`; of ``curves.parquet`` the rows at the baseline of
    the extra axes. The rows of the highlighted pairs are read later
    (:func:`pair_layer_rows`).

    Raises
    ------
    FileNotFoundError
        A table is missing; the message names it and the rule that writes it.
    """
    tables_dir = Path(tables_dir)
    frames: dict[str, Any] = {}
    for name in TABLES:
        path = tables_dir / layout.table_file(name)
        if not path.exists():
            raise FileNotFoundError(
                f"{path}: missing; run `initlab aggregate` (Snakemake rule aggregate) first"
            )
        if name not in layout.PARQUET_TABLES:
            frames[name] = pd.read_csv(path)
    runs = frames["runs"]
    runs["diverged"] = runs["diverged"].astype(bool)
    for col in ("steps_to_target", "diverged_step"):
        runs[col] = runs[col].astype("float64")
    # an all-0/1 column would be read as int64 and refuse fractional values later
    frames["summary"]["share_diverged"] = frames["summary"]["share_diverged"].astype("float64")
    claims_path = tables_dir / "claims.csv"  # written for every study; rows only for classics
    if claims_path.exists() and claims_path.stat().st_size > 0:
        frames["claims"] = pd.read_csv(claims_path, dtype=str, keep_default_na=False)
    axes_path = tables_dir / "axes.csv"
    axes = None
    if axes_path.exists() and axes_path.stat().st_size > 0:
        axes = pd.read_csv(axes_path, dtype={"value": str}, keep_default_na=False)
        if not len(axes):
            axes = None
    layers_path = tables_dir / layout.table_file("layers")
    deepest = int(runs["depth"].max()) if len(runs) else 0
    step0 = [
        [("step", "==", 0), ("depth", "==", deepest)],
        [("step", "==", 0), ("layer", "==", 1)],
        [("step", "==", 0), ("layer", "==", deepest + 1)],
    ]
    # every point of an axis that changes step 0 is drawn (remedies); the others' step 0 is
    # the baseline's
    init_axes = axes is not None and bool(set(axes["axis"]) & set(layout.AXES_AT_INIT))
    frames["layers"] = read_layer_rows(
        layers_path, step0, axes, REPORT_LAYER_COLUMNS, baseline=not init_axes
    )
    frames["curves"] = read_layer_rows(tables_dir / layout.table_file("curves"), [], axes)
    frames["layers_path"] = layers_path
    if axes is not None:
        frames["axes"] = axes
        for name in ("runs", "summary", "layers"):
            frames[f"all_{name}"] = frames[name]
        for name in ("runs", "layers", "curves", "summary"):
            frames[name] = at_baseline(frames[name], axes)
    remedies_path = tables_dir / "remedies.csv"
    if remedies_path.exists() and remedies_path.stat().st_size > 0:
        frames["remedies"] = pd.read_csv(remedies_path, dtype={"value": str, "baseline_value": str})
    return Tables(**frames)


def pair_layer_rows(tables: Tables, pairs: Sequence[tuple[str, str]], depth: int) -> pd.DataFrame:
    """Every layer row (all checkpoints) of the (initializer, activation) ``pairs`` at
    ``depth``, at the baseline of the extra axes: what the distribution pages draw."""
    if not pairs:
        return tables.layers.iloc[0:0]
    if tables.layers_path is None:
        rows = tables.layers
    else:
        inits = sorted({i for i, _ in pairs})
        acts = sorted({a for _, a in pairs})
        where = [[("depth", "==", depth), ("initializer", "in", inits), ("activation", "in", acts)]]
        rows = read_layer_rows(tables.layers_path, where, tables.axes, REPORT_LAYER_COLUMNS)
    wanted = set(pairs)
    chosen = np.array(
        [(i, a) in wanted for i, a in zip(rows["initializer"], rows["activation"], strict=True)],
        dtype=bool,
    )
    return rows[chosen & (rows["depth"] == depth).to_numpy()].reset_index(drop=True)


def at_point(table: pd.DataFrame, axes: pd.DataFrame, axis: str, value: str) -> pd.DataFrame:
    """The rows of a table at ``axis = value``, every other extra axis at its baseline."""
    others = axes[axes["axis"] != axis]
    picked = at_baseline(table, others)
    return picked[picked[axis].map(axis_value_text) == value].reset_index(drop=True)


def at_baseline(table: pd.DataFrame, axes: pd.DataFrame) -> pd.DataFrame:
    """The rows of a per-run or per-combination table at the baseline of the extra axes (the
    first value of each; ``axes.csv``), which every page but the remedies shows."""
    keep = np.ones(len(table), dtype=bool)
    for row in axes[axes["baseline"].astype(str) == "True"].itertuples():
        if row.axis not in table:
            raise ValueError(f"a table has no column for the axis {row.axis!r}; rerun aggregation")
        keep &= (table[row.axis].map(axis_value_text) == row.value).to_numpy()
    if len(table) and not keep.any():
        raise ValueError(
            "no row at the baseline of the extra axes ("
            + ", ".join(
                f"{r.axis}={r.value}"
                for r in axes[axes["baseline"].astype(str) == "True"].itertuples()
            )
            + "): the tables and axes.csv disagree; rerun aggregation"
        )
    return table[keep].reset_index(drop=True)


def baseline_config(config: Mapping[str, Any], axes: pd.DataFrame | None) -> dict[str, Any]:
    """``config`` with every extra axis (a list of values) replaced by its first value: the
    settings of the baseline the core pages show."""
    out = dict(config)
    training = dict(out.get("training", {}))
    for axis in dict.fromkeys([] if axes is None else axes["axis"]):
        if isinstance(out.get(axis), list):
            out[axis] = out[axis][0]
        elif isinstance(training.get(axis), list):
            training[axis] = training[axis][0]
    out["training"] = training
    return out


def zero_gradient_combinations(layers: pd.DataFrame) -> set[Combination]:
    """Combinations whose first-layer back-propagated gradient is exactly zero at init in
    every seed (``log10_delta_ratio_init`` is then undefined: log10 of 0)."""
    first = layers[(layers["step"] == 0) & (layers["layer"] == 1)]
    zero = first.groupby(["initializer", "activation", "depth"], sort=False)["delta_rms"].max()
    return {(i, a, int(d)) for (i, a, d), v in zero.items() if v == 0.0}


def final_layer_rows(layers: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``layers`` at the last checkpoint of every run that did not diverge."""
    ok = runs.loc[~runs["diverged"], "run_id"]
    sel = layers[layers["run_id"].isin(ok)]
    last = sel.groupby("run_id", sort=False)["step"].transform("max")
    return sel[(sel["step"] == last) & (last > 0)]


def hidden_sigma_w2(theory: pd.DataFrame, depth: int) -> dict[str, float]:
    """The network's ``sigma_w2`` per initializer at ``depth``, from ``theory.csv``'s
    ``sigma_w2_hidden`` (:func:`initlab.theory.hidden_sigma_w2`: the hidden layers'
    ``fan_in E[W^2]``; the one definition the CLI, tables and claims share)."""
    sel = theory[theory["depth"] == depth]
    out: dict[str, float] = {}
    for row in sel.itertuples():
        out.setdefault(str(row.initializer), float(row.sigma_w2_hidden))
    return out


def dropped_highlights(config: Mapping[str, Any], grid: Grid) -> list[tuple[str, str]]:
    """The configured ``report.highlight`` pairs that are not in the grid (a grid set with
    ``--config initializers=[...]`` keeps the configuration file's highlight list); the report
    drops them and says so on its first page."""
    return [
        (str(i), str(a))
        for i, a in config.get("report", {}).get("highlight", [])
        if i not in grid.initializers or a not in grid.activations
    ]


def choose_highlights(
    config: Mapping[str, Any], summary: pd.DataFrame, grid: Grid, n: int = 4
) -> list[tuple[tuple[str, str], str]]:
    """The (initializer, activation) pairs the detailed pages show, each with the reason.

    The configuration's ``report.highlight`` pairs that are in the grid win when there are any
    (the others are listed by :func:`dropped_highlights`). Otherwise up to
    ``n`` contrasting pairs at the deepest depth are chosen: the best combination, the
    non-diverged combination with the most vanishing gradient at init, the best combination of
    another activation, the one with the largest gradient ratio (diverged included), a
    diverged one, the best initializer of each activation, then the remaining pairs in
    configuration order.
    """
    configured = [(str(i), str(a)) for i, a in config.get("report", {}).get("highlight", [])]
    in_grid = [p for p in configured if p not in dropped_highlights(config, grid)]
    if in_grid:
        return [(pair, "configured") for pair in in_grid]
    deep = summary[summary["depth"] == grid.deepest]
    ratio = deep["log10_delta_ratio_hidden_mean"]
    acc = deep["final_test_acc_mean"]
    order = {name: k for k, name in enumerate(grid.initializers)}
    deep = deep.assign(_acc=acc.fillna(-1.0), _order=deep["initializer"].map(order))
    candidates: list[tuple[tuple[str, str], str]] = []

    def best(rows: pd.DataFrame, reason: str) -> None:
        if len(rows):
            r = rows.sort_values(["_acc", "_order"], ascending=[False, True], kind="stable")
            top = r.iloc[0]
            candidates.append(((str(top["initializer"]), str(top["activation"])), reason))

    best(deep, "best test accuracy at the deepest depth")
    finite = deep[np.isfinite(ratio) & (deep["share_diverged"] == 0)]
    if len(finite):
        low = finite.loc[finite["log10_delta_ratio_hidden_mean"].idxmin()]
        candidates.append(
            ((str(low["initializer"]), str(low["activation"])), "most vanishing gradient at init")
        )
    if candidates:
        first_act = candidates[0][0][1]
        best(deep[deep["activation"] != first_act], "best with another activation")
    finite_all = deep[np.isfinite(ratio)]
    if len(finite_all):
        high = finite_all.loc[finite_all["log10_delta_ratio_hidden_mean"].idxmax()]
        candidates.append(
            ((str(high["initializer"]), str(high["activation"])), "largest gradient ratio at init")
        )
    diverged = deep[deep["verdict"] == "diverged"]
    if len(diverged):
        top = diverged.sort_values("_order", kind="stable").iloc[0]
        candidates.append(((str(top["initializer"]), str(top["activation"])), "diverged"))
    for act in grid.activations:  # fill up with the best initializer of each activation
        best(deep[deep["activation"] == act], f"best initializer for {act}")
    for init in grid.initializers:  # and, in small grids, with whatever pairs remain
        for act in grid.activations:
            candidates.append(((init, act), "remaining pair of the grid"))
    chosen: list[tuple[tuple[str, str], str]] = []
    for pair, reason in candidates:
        if pair not in [c[0] for c in chosen]:
            chosen.append((pair, reason))
        if len(chosen) == n:
            break
    return chosen
