"""Collect every run of a study into tidy tables (``results/tables/``): two Parquet tables with a
row per checkpoint, streamed chunk by chunk, and small CSV tables.

Tables (columns documented in the README's data dictionary):

- ``runs.csv``: one row per trained network, configuration and headline numbers.
- ``layers.parquet``: one row per run x checkpoint x layer, configuration columns on every row.
- ``curves.parquet``: one row per run x checkpoint (loss and accuracy).
- ``summary.csv``: one row per dataset x initializer x activation x depth: mean, std and a 95%
  t-interval over seeds of the headline numbers, the share of diverged seeds and a verdict.
- ``timings.csv``: wall time per run, kept apart so every other table is byte-reproducible.
- ``theory.csv``: mean-field predictions per layer beside the measurement at initialization.
- ``phase.csv``: the edge of chaos (critical ``sigma_w2`` against ``sigma_b2``) per activation.
- ``initializers.csv``: per initializer, its formula, variance and sigma_w2 of the first, hidden
  and output layers, and which initializers coincide (:mod:`initlab.init_table`).
- ``recommendations.csv``: per activation x depth, the recommended initializer(s)
  (:mod:`initlab.recommend`).
- ``claims.csv``: the claims the study declares (:mod:`initlab.claims`): each published claim,
  what this study measured, the rule and threshold, and the verdict (no rows without claims).

Runs are listed chunk by chunk (:meth:`initlab.study.Study.chunks`): activation, depth, point of
the extra axes, initializer, seed, each in config order, whatever the chunk size. The chunks are
read one at a time (:func:`stream_runs`): their layer and curve rows go straight to the Parquet
tables (exact float64, row groups of :data:`ROW_GROUP_ROWS` rows), and only a row per run and
the reductions the other tables need stay in memory, so memory does not grow with the layer
rows. CSV floats are written with 10 significant digits; the same study gives the same bytes in
every table but ``timings.csv``, whatever the chunk size. Runs that diverged stay in every table,
with NaN where a number is undefined.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from initlab import claims, io, layout, theory
from initlab.chunks import read_chunk
from initlab.config import RunSpec, dataset_label
from initlab.init_table import initializer_table
from initlab.io import CorruptFileError
from initlab.layout import TIE_MARGIN, VERDICT_RULE, verdict
from initlab.progress import Progress, echo
from initlab.recommend import recommendation_table
from initlab.records import (
    BUDGET_KEYS,
    INPUT_FACT_KEYS,
    LAYER_COLUMNS,
    PAIR_COSINE,
    RECORD_FORMAT,
    SPECTRUM_SUMMARY_KEYS,
)
from initlab.remedies import remedy_table
from initlab.study import Chunk, Study

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "HEADLINE",
    "ROW_GROUP_ROWS",
    "VERDICT_RULE",
    "Streamed",
    "aggregate",
    "curve_columns",
    "stream_runs",
    "summarize",
    "theory_table",
    "verdict",
    "write_parquet_table",
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
    "dead_frac_final",
)
BOUNDED_METRICS = frozenset(
    {*ACCURACY_METRICS, "best_val_acc", "dead_frac_init", "saturated_frac_init", "dead_frac_final"}
)
"""Metrics in [0, 1]: their intervals are clipped to [0, 1] (``<metric>_ci95_clipped``)."""
GROUP = ("dataset", "initializer", "activation", "depth")
CURVE_COLUMNS = ("step", "epoch", "train_loss", "train_acc", "val_loss", "val_acc")


def _regenerate_hint(path: Path) -> str:
    return (
        f"Delete {path.parent} and rerun snakemake: its runs are trained again (add --forcerun "
        "aggregate_tables if the tables were already written)."
    )


_NUMBER, _INTEGER, _NULL = (float, int), (int,), (type(None),)
_SUMMARY_TYPES: dict[str, tuple[type, ...]] = {
    **{
        key: _NUMBER + _NULL
        for key in (
            *HEADLINE,
            "final_val_loss",
            "final_test_loss",
            "init_train_loss",
            *SPECTRUM_SUMMARY_KEYS,
        )
    },
    "diverged": (bool,),
    "budget_extended": (bool,),
    "budget_diverged": (bool,),
    "budget_epochs": _INTEGER,
    "budget_test_acc": _NUMBER + _NULL,
    "budget_train_loss": _NUMBER + _NULL,
    "diverged_step": _INTEGER + _NULL,
    "steps_to_target": _INTEGER + _NULL,
    "n_classes": _INTEGER,
    "n_features": _INTEGER,
    "n_test": _INTEGER,
    "probe_second_moment": _NUMBER,
    "jacobian_second_moment": _NUMBER,
    "n_checkpoints": _INTEGER,
    "n_layer_rows": _INTEGER,
}
"""The JSON type of every summary.json key the tables read."""
_TIMING_TYPES: dict[str, tuple[type, ...]] = {
    "wall_seconds": _NUMBER + _NULL,
    "steps": _INTEGER,
    "steps_per_second": _NUMBER + _NULL,
}


def _corrupt(path: Path, problem: str, run_id: str = "") -> CorruptFileError:
    where = f"{path} ({run_id})" if run_id else f"{path}"
    return CorruptFileError(f"{where}: {problem}. {_regenerate_hint(path)}")


def _read_object(path: Path) -> dict[str, Any]:
    """A JSON object file; a damaged one is named with the way to regenerate it."""
    try:
        return io.read_json(path, regenerate_hint=_regenerate_hint(path))
    except CorruptFileError as err:
        if _regenerate_hint(path) in str(err):
            raise
        raise _corrupt(path, str(err).removeprefix(f"{path}: ").rstrip(".")) from None


def _type_words(allowed: tuple[type, ...]) -> str:
    words = (
        ("true/false", bool in allowed),
        ("a number", float in allowed),
        ("an integer", int in allowed and float not in allowed),
        ("null", type(None) in allowed),
    )
    return " or ".join(word for word, present in words if present)


def _check_types(
    path: Path, obj: dict[str, Any], types: dict[str, tuple[type, ...]], run_id: str = ""
) -> None:
    """Every key of ``types`` is present and holds a value of its JSON type (``true`` is not a
    number, an edited ``"0.5"`` is not either)."""
    for key, allowed in types.items():
        if key not in obj:
            raise _corrupt(path, f"key {key!r} is missing", run_id)
        value = obj[key]
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise _corrupt(
                path,
                f"key {key!r} holds {value!r} ({type(value).__name__}); "
                f"expected {_type_words(allowed)}",
                run_id,
            )


def _check_summary(spec: RunSpec, path: Path, summary: dict[str, Any], run_id: str = "") -> None:
    """A run's summary is of this record format, was written for ``spec`` and is well typed."""
    where = f"{path} ({run_id})" if run_id else f"{path}"
    if summary.get("record_format") != RECORD_FORMAT:
        raise CorruptFileError(
            f"{where}: recorded in run-record format {summary.get('record_format', 1)}; "
            f"this initlab reads format {RECORD_FORMAT}. Rerun snakemake: it retrains every run "
            "recorded in an older format."
        )
    if summary.get("config") != spec.to_dict():
        raise CorruptFileError(
            f"{where}: was written for a different configuration than the study's. "
            f"{_regenerate_hint(path)}"
        )
    _check_types(path, summary, _SUMMARY_TYPES, run_id)


_GRID_COLUMNS = ("step", "epoch", "layer", "fan_in", "fan_out")
"""Layer columns that may not have empty cells (they place a row in the checkpoint x layer grid)."""


def _check_layers(
    path: Path,
    run_id: str,
    layers: Mapping[str, Any],
    summary: dict[str, Any],
    n_layers: int,
    empty: Mapping[str, Any] | None = None,
) -> None:
    """One run's rows of a chunk's ``layers.parquet`` (columns as arrays): no empty step/layer
    cells and exactly the checkpoints x layers grid its summary announces (a truncated or
    edited file shows here). ``empty``: the empty-cell masks of :data:`_GRID_COLUMNS`, if
    already computed."""
    n_rows, n_checkpoints = summary["n_layer_rows"], summary["n_checkpoints"]
    grid = f"{n_checkpoints} checkpoints x {n_layers} layers, as its summary says"
    if n_rows != n_checkpoints * n_layers:
        raise _corrupt(path, f"expected {n_rows} rows ({grid}), which is not that grid", run_id)
    found = len(layers["step"])
    if found != n_rows:
        raise _corrupt(path, f"expected {n_rows} rows ({grid}), found {found}", run_id)
    for c in _GRID_COLUMNS:
        mask = pd.isna(np.asarray(layers[c])) if empty is None else empty[c]
        if mask.any():
            raise _corrupt(path, f"column {c!r} has empty cells", run_id)
    steps = np.unique(np.asarray(layers["step"]))
    numbers = np.unique(np.asarray(layers["layer"]))
    if len(steps) != n_checkpoints or not np.array_equal(numbers, np.arange(1, n_layers + 1)):
        raise _corrupt(path, f"the steps and layers are not the grid of {grid}", run_id)


_RUN_READS = (*_GRID_COLUMNS, "train_loss", "delta_rms", "wgrad_rms", "dead_frac", "saturated_frac")
"""The layer columns a run's checks and its runs.csv row read."""


@dataclass
class _Chunk:
    """One chunk's records, checked: its runs in training order and their layer rows, grouped by
    run in the same order (run ``i``'s rows are ``bounds[i]:bounds[i + 1]``)."""

    specs: list[RunSpec]
    summaries: list[dict[str, Any]]
    timings: list[dict[str, Any]]
    layers: pd.DataFrame
    bounds: np.ndarray

    def rows(self, i: int) -> dict[str, np.ndarray]:
        """Run ``i``'s layer rows: the columns the checks and runs.csv read (:data:`_RUN_READS`)."""
        lo, hi = int(self.bounds[i]), int(self.bounds[i + 1])
        return {c: self._columns[c][lo:hi] for c in self._columns}

    def __post_init__(self) -> None:
        self._columns = {c: self.layers[c].to_numpy() for c in _RUN_READS}


def _read_chunk(study: Study, chunk: Chunk, root: Path) -> _Chunk:
    """Read and check one chunk's files; raise CorruptFileError naming a bad file (and run).

    Checked: both files exist and are Parquet with their columns and types
    (:func:`initlab.chunks.read_chunk`); the chunk holds exactly its runs; each summary is of
    this record format, was written for the run's spec and every key the tables read holds a
    value of its JSON type (a number edited into a string, ``true`` for a number, a missing key
    are errors); the timing likewise; the layer rows have no empty step/layer cells and are
    exactly the checkpoints x layers grid the summary announces. Runs are checked in training
    order and the first problem is named.
    """
    folder = root / chunk.folder
    runs, layers = read_chunk(folder)
    runs_path, layers_path = (folder / name for name in layout.CHUNK_FILES)
    specs = study.chunk_specs(chunk)
    expected = [spec.run_id for spec in specs]
    found = runs["run_id"].tolist()
    if sorted(found) != sorted(expected):
        missing = [r for r in expected if r not in found]
        foreign = [r for r in found if r not in expected]
        twice = [r for r in found if found.count(r) > 1]
        if missing:
            problem = f"run {missing[0]} is missing"
        elif foreign:
            problem = (
                f"holds run {foreign[0]}, which this chunk does not train (it was written for "
                "another configuration)"
            )
        else:
            problem = f"run {twice[0]} appears twice"
        raise _corrupt(runs_path, problem)
    # the layer rows grouped by run in training order (rows of other run ids are ignored)
    position = {run_id: i for i, run_id in enumerate(expected)}
    codes, names = pd.factorize(layers["run_id"].to_numpy(dtype=object))
    row_run = np.array([position.get(name, -1) for name in names], dtype=np.int64)[codes]
    keep = np.flatnonzero(row_run >= 0)
    order = keep[np.argsort(row_run[keep], kind="stable")]
    if len(order) != len(layers) or np.any(order != np.arange(len(order))):
        layers = layers.take(order).reset_index(drop=True)
    counts = np.bincount(row_run[order], minlength=len(specs))
    bounds = np.concatenate([[0], np.cumsum(counts)])
    data = _Chunk(specs, [], [], layers, bounds)
    empty = {c: pd.isna(layers[c].to_numpy()) for c in _GRID_COLUMNS}
    row_of = {run_id: i for i, run_id in enumerate(found)}
    timings = {name: runs[name].tolist() for name in _TIMING_TYPES}
    for k, spec in enumerate(specs):
        i = row_of[spec.run_id]
        summary = runs["summary"].iloc[i]
        _check_summary(spec, runs_path, summary, spec.run_id)
        timing = {name: timings[name][i] for name in _TIMING_TYPES}
        if timing["wall_seconds"] is not None and math.isnan(timing["wall_seconds"]):
            timing["wall_seconds"] = None
        _check_types(runs_path, timing, _TIMING_TYPES, spec.run_id)
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        _check_layers(
            layers_path,
            spec.run_id,
            data.rows(k),
            summary,
            spec.depth + 1,
            {c: mask[lo:hi] for c, mask in empty.items()},
        )
        data.summaries.append(summary)
        data.timings.append(timing)
    return data


def _hidden_log10_ratio(layers: Mapping[str, Any], column: str, depth: int) -> float:
    """``log10(column at hidden layer 1 / column at hidden layer depth)`` at step 0.

    The first over the last *hidden* layer: unlike the ratio to the output layer it does not
    include the passage through the 10-unit output layer, so a net whose gradients keep their
    size through the hidden stack scores 0. NaN for one hidden layer (nothing to compare) and
    where either value is 0 or not finite. ``layers``: one run's rows, column by column.
    """
    if depth < 2:
        return math.nan
    step, layer = np.asarray(layers["step"]), np.asarray(layers["layer"])
    values = np.asarray(layers[column])
    init = step == 0
    first = values[init & (layer == 1)]
    last = values[init & (layer == depth)]
    if not len(first) or not len(last):
        return math.nan
    a, b = float(first[0]), float(last[0])
    if not (math.isfinite(a) and math.isfinite(b)) or a <= 0 or b <= 0:
        return math.nan
    return math.log10(a / b)


def _hidden_mean(layers: Mapping[str, Any], column: str, step: int) -> float:
    """Mean of ``column`` over one run's rows at ``step`` where it is defined (the hidden layers
    for the unit fractions), NaN without such a row."""
    values = np.asarray(layers[column], dtype=np.float64)
    keep = (np.asarray(layers["step"]) == step) & ~np.isnan(values)
    rows = values[keep]
    return float(rows.sum() / len(rows)) if len(rows) else float("nan")


STILL_LEARNING_DROP = 0.01
"""A run is still learning at the end when its training loss fell by more than this share of
its value between the last two checkpoints: more epochs would lower it further, so a poor
verdict of such a run is a statement about the budget ("slow"), not about trainability."""


def _still_learning(layers: Mapping[str, Any]) -> float:
    """1.0 / 0.0: the training loss fell by more than :data:`STILL_LEARNING_DROP` over the last
    checkpoint interval; NaN with fewer than two finite checkpoints."""
    first = np.asarray(layers["layer"]) == 1
    steps = np.asarray(layers["step"])[first]
    losses = np.asarray(layers["train_loss"], dtype=float)[first][np.argsort(steps)]
    if len(losses) < 2 or not np.all(np.isfinite(losses[-2:])):
        return math.nan
    return float(losses[-1] < (1.0 - STILL_LEARNING_DROP) * losses[-2])


def _run_row(
    spec: RunSpec, config: dict[str, Any], summary: dict[str, Any], layers: Mapping[str, Any]
) -> dict[str, Any]:
    """runs.csv row of one run (plus the input facts, dropped before writing); ``layers``: its
    layer rows, column by column (a DataFrame or a mapping of arrays)."""
    last_step = int(np.asarray(layers["step"]).max())
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


def _id_columns(study: Study, spec: RunSpec) -> dict[str, Any]:
    """The columns that name a run in every per-run table: its id, grid point and seed, then
    one column per extra axis of the grid."""
    ids = {
        "run_id": spec.run_id,
        "dataset": dataset_label(spec.dataset),
        "initializer": spec.initializer,
        "activation": spec.activation,
        "depth": spec.depth,
        "width": spec.width,
        "seed": spec.seed,
    }
    ids.update((axis, value) for axis, value in spec.point if axis not in ids)
    return ids


def _config_columns(study: Study, spec: RunSpec) -> dict[str, Any]:
    config = _id_columns(study, spec)
    for key in ("optimizer", "learning_rate", "epochs", "batch_size"):
        config.setdefault(key, getattr(spec, key))
    return config


def curve_columns(study: Study) -> list[str]:
    """Columns of ``curves.parquet``: the run id, (the dataset with a dataset axis,) the grid
    point and seed, the other extra axes, then :data:`CURVE_COLUMNS`."""
    cols = [
        "run_id",
        "initializer",
        "activation",
        "depth",
        "seed",
        *(a for a in study.axes if a != "dataset"),  # the dataset column leads
        *CURVE_COLUMNS,
    ]
    if "dataset" in study.axes:
        cols.insert(1, "dataset")
    return cols


ROW_GROUP_ROWS = 65_536
"""Rows per row group of ``layers.parquet`` and ``curves.parquet``: the unit a reader skips
by its statistics (rows are in grid order, so a filter on activation and depth skips most)."""


def _arrow_type(value: Any) -> pa.DataType:
    """The Arrow type of an id or axis column holding ``value``."""
    import pyarrow as pa

    if isinstance(value, bool | np.bool_):
        return pa.bool_()
    if isinstance(value, int | np.integer):
        return pa.int64()
    if isinstance(value, float | np.floating):
        return pa.float64()
    return pa.string()


@dataclass
class Streamed:
    """What :func:`stream_runs` keeps of a study's records after writing its Parquet tables.

    Attributes
    ----------
    runs : DataFrame
        One row per run (runs.csv, with the input facts still in).
    timings : DataFrame
        One row per run (timings.csv).
    measured : dict
        Per baseline combination ``(initializer, activation, depth)``, the step-0
        measurements theory.csv compares with its predictions (seeds x layers matrices).
    claim_layers, claim_curves : DataFrame
        The step-0 layer rows and the curve rows of the runs in the cells the study's claims
        name (what :mod:`initlab.claims` reads of those tables).
    layers, curves : ParquetAppender
        The written tables, not yet in place (:meth:`initlab.io.ParquetAppender.commit`).
    """

    runs: pd.DataFrame
    timings: pd.DataFrame
    measured: dict[tuple[str, str, int], dict[str, np.ndarray]]
    claim_layers: pd.DataFrame
    claim_curves: pd.DataFrame
    layers: io.ParquetAppender
    curves: io.ParquetAppender


def _matches(ids: Mapping[str, Any], cells: Sequence[Mapping[str, Any]]) -> bool:
    """The run named by ``ids`` lies in one of ``cells`` (every coordinate equal)."""
    return any(all(k in ids and ids[k] == v for k, v in cell.items()) for cell in cells)


def stream_runs(
    study: Study,
    out: str | Path,
    root: str | Path = ".",
    log: Callable[[str], None] = echo,
    tmp_dir: str | Path | None = None,
) -> Streamed:
    """Read every chunk of ``study`` in order and stream its layer and curve rows to
    ``out/layers.parquet`` and ``out/curves.parquet``; keep only the per-run rows and the
    reductions the other tables need.

    Memory holds one chunk, one row group per Parquet table, a row per run and, per baseline
    combination, its step-0 measurements, whatever the number of networks.

    Parameters
    ----------
    study : Study
        The study whose grid is read (runs of other grids in the folder are ignored).
    out : path
        The tables folder.
    root : path
        Folder the study's relative ``results`` path is taken from.
    log : callable
        Receives the progress lines (:class:`Progress`).
    tmp_dir : path, optional
        Where the Parquet tables are written until committed (default: ``out``).

    Returns
    -------
    Streamed
        The tables' rows kept in memory and the two Parquet writers, to be committed.
    """
    root = Path(root)
    chunks = study.chunks()
    collector = _Collector(study, Path(out), tmp_dir)
    progress = Progress("aggregate: chunks read", len(chunks), log)
    try:
        for done, chunk in enumerate(chunks, start=1):
            collector.add(chunk, _read_chunk(study, chunk, root), root)
            progress(done, f"{len(collector.timing_rows)} runs")
        return collector.result()
    except BaseException:
        collector.abort()
        raise


class _Collector:
    """What :func:`stream_runs` keeps and writes, chunk by chunk."""

    def __init__(self, study: Study, out: Path, tmp_dir: str | Path | None) -> None:
        self.study, self.out, self.tmp_dir = study, out, tmp_dir
        self.baseline = study.baseline
        point = dict(study.table_point(self.baseline))
        self.cells = claims.claim_cells(study.config.get("claims", []), point)
        self.curve_cols = curve_columns(study)
        self.run_columns: dict[str, list[Any]] = {}
        self.timing_rows: list[dict[str, Any]] = []
        self.measured: dict[tuple[str, str, int], dict[str, np.ndarray]] = {}
        self.claim_layers: list[pa.Table] = []
        self.claim_curves: list[pa.Table] = []
        self.writers: dict[str, io.ParquetAppender] = {}

    def _append(self, name: str, table: pa.Table, chunk_file: Path) -> None:
        """Append a chunk's rows to the table ``name`` (opened with the first chunk's schema)."""
        import pyarrow as pa

        if name not in self.writers:
            text = [f.name for f in table.schema if pa.types.is_string(f.type)]
            self.writers[name] = io.ParquetAppender(
                self.out / layout.table_file(name),
                table.schema,
                ROW_GROUP_ROWS,
                text,
                self.tmp_dir,
            )
        try:
            self.writers[name].append(table)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise _corrupt(
                chunk_file, f"its columns do not have the types of the other chunks' ({err})"
            ) from None

    def add(self, chunk: Chunk, data: _Chunk, root: Path) -> None:
        """Keep a chunk's run rows and reductions; write its layer and curve rows."""
        ids = [_id_columns(self.study, spec) for spec in data.specs]
        for k, spec in enumerate(data.specs):
            config = _config_columns(self.study, spec)
            row = _run_row(spec, config, data.summaries[k], data.rows(k))
            for key, value in row.items():
                self.run_columns.setdefault(key, []).append(value)
            self.timing_rows.append({"run_id": spec.run_id, **data.timings[k]})
        table = _layer_table(data, ids)
        self._append("layers", table, root / chunk.folder / layout.CHUNK_FILES[1])
        first = data.layers["layer"].to_numpy() == 1
        curves = table.filter(first).select(self.curve_cols)
        self._append("curves", curves, root / chunk.folder / layout.CHUNK_FILES[1])
        if chunk.point == self.baseline:
            self.measured.update(_chunk_measurements(data))
        chosen = [k for k, i in enumerate(ids) if _matches(i, self.cells)]
        if chosen:
            run_of_row = np.repeat(np.arange(len(ids)), np.diff(data.bounds))
            in_cell = np.isin(run_of_row, chosen)
            step0 = data.layers["step"].to_numpy() == 0
            self.claim_layers.append(table.filter(in_cell & step0))
            self.claim_curves.append(curves.filter(in_cell[first]))

    def result(self) -> Streamed:
        """The kept rows as tables, and the two writers (not committed)."""
        runs = pd.DataFrame(self.run_columns)
        for col in ("steps_to_target", "diverged_step"):
            runs[col] = runs[col].astype("Int64")
        runs["diverged"] = runs["diverged"].astype(bool)
        layers, curves = self.writers["layers"], self.writers["curves"]
        return Streamed(
            runs=runs,
            timings=pd.DataFrame(self.timing_rows),
            measured=self.measured,
            claim_layers=_frame(self.claim_layers, layers.schema),
            claim_curves=_frame(self.claim_curves, curves.schema),
            layers=layers,
            curves=curves,
        )

    def abort(self) -> None:
        """Discard the Parquet tables written so far."""
        for writer in self.writers.values():
            writer.abort()


def _frame(tables: list[pa.Table], schema: pa.Schema) -> pd.DataFrame:
    """The rows of ``tables`` as one DataFrame (no rows: an empty one with the columns)."""
    import pyarrow as pa

    return (pa.concat_tables(tables) if tables else schema.empty_table()).to_pandas()


def _layer_table(data: _Chunk, ids: list[dict[str, Any]]) -> pa.Table:
    """The chunk's rows of layers.parquet: the id and axis columns of each row's run, then
    :data:`initlab.records.LAYER_COLUMNS`."""
    import pyarrow as pa

    run_of_row = pa.array(np.repeat(np.arange(len(ids)), np.diff(data.bounds)))
    columns: dict[str, pa.Array] = {}
    for name, value in ids[0].items():
        per_run = pa.array([i[name] for i in ids], _arrow_type(value))
        columns[name] = per_run.take(run_of_row)
    body = pa.Table.from_pandas(data.layers[list(LAYER_COLUMNS)], preserve_index=False)
    for name in LAYER_COLUMNS:
        columns[name] = body.column(name)
    return pa.table(columns)


def _chunk_measurements(data: _Chunk) -> dict[tuple[str, str, int], dict[str, np.ndarray]]:
    """The step-0 measurements (:func:`_measured`) of every combination of a chunk."""
    layers = data.layers
    step0 = layers["step"].to_numpy() == 0
    inits = np.repeat([s.initializer for s in data.specs], np.diff(data.bounds))[step0]
    seeds = np.repeat([s.seed for s in data.specs], np.diff(data.bounds))[step0]
    rows = pd.DataFrame(
        {
            "initializer": inits,
            "seed": seeds,
            "layer": layers["layer"].to_numpy()[step0],
            **{c: layers[c].to_numpy()[step0] for c in _MEASURED.values()},
        }
    )
    spec = data.specs[0]
    out = {}
    for init in dict.fromkeys(s.initializer for s in data.specs):
        sel = rows[inits == init]
        out[(init, spec.activation, spec.depth)] = _measured(sel, spec.depth)
    return out


SOURCE_COLUMNS = (
    "source",
    "activation",
    "seed",
    "run_id",
    "initializer",
    "depth",
    "width",
    "classes",
    "n_classes",
    "epochs",
    "n_train_used",
    "final_train_loss",
    "final_val_acc",
    "final_test_acc",
    "best_val_acc",
    "diverged",
    "diverged_step",
)
"""Columns of ``sources.csv``; ``classes`` is the source's class labels joined by ``;``."""


def sources_table(study: Study, root: str | Path = ".") -> pd.DataFrame:
    """``sources.csv``: one row per source network x activation x seed the grid's transfer
    initializers copy from (:meth:`Study.source_uses`), read from its ``summary.json``.

    Returns
    -------
    pandas.DataFrame
        ``(n_sources_used x n_seeds, len(SOURCE_COLUMNS))``; accuracies are on the source's
        own classes (its test split restricted to them). No rows (the header only) for a study
        without transfer initializers.
    """
    rows = []
    for name, activation in study.source_uses():
        for seed in study.config["seeds"]:
            spec = study.source_spec(name, activation, int(seed))
            path = Path(root) / study.source_dir(name, activation) / f"s{seed}" / "summary.json"
            if not path.exists():
                raise FileNotFoundError(f"{path}: missing. {_regenerate_hint(path)}")
            summary = _read_object(path)
            _check_summary(spec, path, summary)
            row = {"source": name, "activation": activation, "seed": int(seed)}
            # prefixed: a source's own id can equal a grid run's (other classes, same net)
            row.update(run_id=f"source={name}__{spec.run_id}")
            row.update(initializer=spec.initializer, depth=spec.depth)
            row.update(width=spec.width, classes=";".join(map(str, spec.classes or ())))
            row.update(epochs=spec.epochs)
            row.update({c: summary[c] for c in SOURCE_COLUMNS if c not in row})
            rows.append(row)
    table = pd.DataFrame(rows, columns=list(SOURCE_COLUMNS))
    table["diverged_step"] = table["diverged_step"].astype("Int64")
    return table


def axes_table(study: Study) -> pd.DataFrame:
    """``axes.csv``: one row per value of each extra axis of the grid (``axis``, ``value`` as
    in folder names (a dataset by its label), ``position`` in the config's list, ``baseline``:
    the first value, which the
    report's core pages show). Empty, with its header, for a study without extra axes."""
    rows = [
        {
            "axis": axis,
            "value": layout.axis_value_text(value),
            "position": k,
            "baseline": k == 0,
        }
        for axis, values in study.table_axes.items()
        for k, value in enumerate(values)
    ]
    return pd.DataFrame(rows, columns=["axis", "value", "position", "baseline"])


def at_point(table: pd.DataFrame, point: Sequence[tuple[str, Any]]) -> pd.DataFrame:
    """The rows of a per-run or per-combination table at one point of the extra axes."""
    keep = np.ones(len(table), dtype=bool)
    for axis, value in point:
        keep &= (table[axis] == value).to_numpy()
    return table[keep].reset_index(drop=True) if point else table


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


def _budget_columns(
    grp: pd.DataFrame, verdict_now: str, acc_now: float, target: float, n_classes: int
) -> dict[str, Any]:
    """``budget_epochs``, ``budget_test_acc_mean`` (a diverged seed at chance, as the verdict),
    ``budget_verdict`` (the verdict rule at ``budget_epochs``) and ``budget_outcome``
    (:data:`initlab.layout.BUDGET_OUTCOMES`; empty where the verdict is ``trains`` or
    ``diverged`` or the study runs no budget check). ``acc_now`` is the cell's
    ``final_test_acc_mean``, the accuracy the larger budget's is compared with."""
    epochs = int(grp["budget_epochs"].iloc[0])
    checked = epochs > int(grp["epochs"].iloc[0])
    diverged = grp["budget_diverged"].astype(bool) | grp["diverged"].astype(bool)
    acc = grp["budget_test_acc"].astype("float64").to_numpy().copy()
    acc[diverged.to_numpy()] = 1.0 / n_classes
    mean = float(acc.mean())
    later = verdict(float(diverged.mean()), mean, target, n_classes)
    outcome = ""
    if checked and verdict_now in ("fails", "partial"):
        better = {"trains": "slow", "diverged": "diverges"}.get(later)
        outcome = better or ("improving" if mean - acc_now > TIE_MARGIN else "stuck")
    return {
        "budget_epochs": epochs,
        "budget_test_acc_mean": mean,
        "budget_verdict": later if checked else "",
        "budget_outcome": outcome,
    }


def summarize(runs: pd.DataFrame, target_accuracy: float, axes: Sequence[str] = ()) -> pd.DataFrame:
    """One row per dataset x initializer x activation x depth (x the extra ``axes``), in
    first-appearance order.

    Accuracies (:data:`ACCURACY_METRICS`) are summarized over all seeds, a diverged seed
    counting as a failed run at chance (``<metric>_mean``, ...; used by the verdict), and over
    the surviving seeds (``<metric>_survivors_mean``, ...). Every other metric is over the
    seeds where it is defined (a diverged seed has no final loss). ``n_seeds`` and
    ``n_survivors`` give the number of seeds behind each view.
    """
    rows = []
    group = [*GROUP, *axes]
    for key, grp in runs.groupby(group, sort=False):
        row: dict[str, Any] = dict(zip(group, key, strict=True))
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
        learning = grp["still_learning"].astype("float64")
        row["share_still_learning"] = float(learning.mean()) if learning.notna().any() else math.nan
        n_classes = int(grp["n_classes"].iloc[0])
        row["verdict"] = verdict(
            row["share_diverged"], row["final_test_acc_mean"], target_accuracy, n_classes
        )
        row.update(
            _budget_columns(
                grp, row["verdict"], row["final_test_acc_mean"], target_accuracy, n_classes
            )
        )
        rows.append(row)
    return pd.DataFrame(rows)


class _Predictions:
    """Mean-field predictions of a study's combinations, computed once per shape.

    The network-level scalars depend on the depth only through ``depth >= 2`` (the hidden
    ``sigma_w2``); a hidden layer's Jacobian and correlation predictions depend only on the
    widths up to it, so the grid's deepest net gives every depth's as a prefix. The fixed-point
    searches and the 2-D quadratures dominate the table's cost.
    """

    def __init__(self, study: Study, n_features: int, n_classes: int, q_in: float, q_jac: float):
        self.study, self.n_features, self.n_classes = study, n_features, n_classes
        self.q_in, self.q_jac = q_in, q_jac
        self.deepest = max(int(d) for d in study.config["depths"])
        self._mean_fields: dict[tuple[str, str, int], theory.MeanField] = {}
        self._hidden: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}

    def _sizes(self, width: int, depth: int) -> tuple[int, ...]:
        return (self.n_features, *([width] * depth), self.n_classes)

    def _hidden_predictions(self, spec: RunSpec) -> tuple[np.ndarray, np.ndarray]:
        key = (spec.initializer, spec.activation)
        if key not in self._hidden:
            act, init = spec.resolve_activation(), spec.resolve_initializer()
            deep = self._sizes(spec.width, self.deepest)
            self._hidden[key] = (
                theory.predict_jacobian(
                    act, init, deep, input_second_moment=self.q_jac, bias_std=spec.bias_std
                ),
                theory.predict_correlation(
                    act, init, deep, q0=self.q_in, c0=PAIR_COSINE, bias_std=spec.bias_std
                ),
            )
        return self._hidden[key]

    def mean_field(self, spec: RunSpec) -> theory.MeanField:
        """:func:`initlab.theory.network_mean_field` of the spec's network."""
        key = (spec.initializer, spec.activation, min(spec.depth, 2))
        if key not in self._mean_fields:
            self._mean_fields[key] = theory.network_mean_field(
                spec.resolve_activation(),
                spec.resolve_initializer(),
                self._sizes(spec.width, spec.depth),
                bias_std=spec.bias_std,
            )
        return self._mean_fields[key]

    def layers(self, spec: RunSpec) -> dict[str, np.ndarray]:
        """Per-layer predictions (``depth + 1`` layers; NaN where undefined)."""
        pred = theory.predict_layers(
            spec.resolve_activation(),
            spec.resolve_initializer(),
            self._sizes(spec.width, spec.depth),
            input_second_moment=self.q_in,
            bias_std=spec.bias_std,
        )
        jac, c = self._hidden_predictions(spec)
        return {
            "layer": pred["layer"],
            "sigma_w2": pred["sigma_w2"],
            "q": pred["q"],
            "delta_rel": pred["delta_rms_rel"],
            "jac_mean_s2": np.append(jac[: spec.depth], math.nan),
            "c": np.append(c[: spec.depth], math.nan),
        }


_MEASURED = {"q": "z_q", "delta_rel": "delta_rms", "jac_mean_s2": "jac_mean_s2", "c": "corr_c"}
"""theory.csv name -> the layers table's column measured at step 0."""


def _measured(rows: pd.DataFrame, depth: int) -> dict[str, np.ndarray]:
    """(seeds, layers) matrices of the step-0 measurements of one combination; the gradient
    rms is taken relative to the output layer's, as its prediction is."""
    layers = list(range(1, depth + 2))
    out = {}
    for name, column in _MEASURED.items():
        table = rows.pivot(index="seed", columns="layer", values=column).reindex(columns=layers)
        if name == "delta_rel" and len(table):
            table = table.div(table[depth + 1], axis=0)
        out[name] = table.to_numpy(dtype=float)
    return out


def _comparison(name: str, measured: np.ndarray, predicted: float) -> dict[str, float]:
    """Mean and std over seeds of a measurement, and its relative error to the prediction."""
    finite = measured[np.isfinite(measured)]
    mean = float(finite.mean()) if len(finite) else math.nan
    return {
        f"{name}_meas_mean": mean,
        f"{name}_meas_std": float(finite.std(ddof=1)) if len(finite) > 1 else math.nan,
        f"{name}_relerr": (
            (mean - predicted) / predicted if predicted and np.isfinite(predicted) else math.nan
        ),
    }


def _combination_rows(
    study: Study, spec: RunSpec, predictions: _Predictions, meas: Mapping[str, np.ndarray]
) -> list[dict[str, Any]]:
    """theory.csv rows of one combination: network scalars, per-layer predictions, measures
    (``meas``: :func:`_measured`)."""
    mf = predictions.mean_field(spec)
    pred = predictions.layers(spec)
    network = {
        "sigma_w2_hidden": mf.sigma_w2,
        "sigma_b2": mf.sigma_b2,
        "q_star": mf.q_star,
        "chi1": mf.chi1,
        "c_star": mf.c_star,
        "xi_q": mf.xi_q,
        "xi_c": mf.xi_c,
        "xi_grad": mf.xi_grad,
    }
    if spec.normalization != "none":
        # mean-field theory of plain nets does not describe normalized layers: only the facts
        # of the initialization (sigma_w^2) are kept, every prediction is left empty
        network = {k: (v if k == "sigma_w2_hidden" else math.nan) for k, v in network.items()}
        pred = {
            k: (v if k in ("layer", "sigma_w2") else np.full(len(v), np.nan))
            for k, v in pred.items()
        }
    out = []
    for i, layer in enumerate(pred["layer"]):
        row: dict[str, Any] = {
            "dataset": study.dataset_label,
            "initializer": spec.initializer,
            "activation": spec.activation,
            "depth": spec.depth,
            "layer": int(layer),
            "sigma_w2": float(pred["sigma_w2"][i]),
            **network,
            **{f"{name}_pred": float(pred[name][i]) for name in _MEASURED},
        }
        for name in _MEASURED:
            row.update(_comparison(name, meas[name][:, i], float(pred[name][i])))
        out.append(row)
    return out


def theory_table(
    study: Study,
    layers: pd.DataFrame | Mapping[tuple[str, str, int], Mapping[str, np.ndarray]],
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

    ``layers`` is the layer rows of the baseline point (step 0 is read), or the measurements
    :func:`stream_runs` kept per combination ``(initializer, activation, depth)``.
    """
    q_jac = input_second_moment if jacobian_second_moment is None else jacobian_second_moment
    predictions = _Predictions(study, n_features, n_classes, input_second_moment, q_jac)
    if isinstance(layers, pd.DataFrame):
        init0 = layers[layers["step"] == 0]
        groups = init0.groupby(["initializer", "activation", "depth"], sort=False)
        measured = {key: _measured(rows, int(key[2])) for key, rows in groups}
        empty = init0.iloc[0:0]
    else:
        measured = dict(layers)
        empty = pd.DataFrame(columns=["seed", "layer", *_MEASURED.values()])
    rows = []
    for init_name, act_name, depth, point in study.combinations():
        if point != study.baseline:
            continue
        spec = study.base_spec(init_name, act_name, depth, 0, point)
        meas = measured.get((init_name, act_name, depth))
        if meas is None:
            meas = _measured(empty, depth)
        rows.extend(_combination_rows(study, spec, predictions, meas))
    return pd.DataFrame(rows)


def write_tables(
    tables: dict[str, pd.DataFrame], out: str | Path, axes: Sequence[str] = ()
) -> None:
    """Write each table as ``out/<name>.csv`` (atomic, 10 significant digits, ``\\n``), or, for
    :data:`initlab.layout.PARQUET_TABLES`, as ``out/<name>.parquet`` (exact float64; see
    :func:`write_parquet_table`).

    The columns of the extra ``axes`` are written as in folder names
    (:func:`initlab.layout.axis_value_text`: ``0.0``, ``1e-05``, ``true``), exactly and with
    their type visible, so that a reader finds a point by the value ``axes.csv`` names; the
    Parquet tables keep their values typed (a real as float64, ``true`` as a boolean).
    """
    for name, df in tables.items():
        if name in layout.PARQUET_TABLES:
            write_parquet_table(df, Path(out) / layout.table_file(name))
            continue
        cols = [a for a in axes if a in df.columns and name != "axes"]
        if cols:
            df = df.assign(**{a: df[a].map(layout.axis_value_text) for a in cols})
        text = df.to_csv(index=False, float_format="%.10g", lineterminator="\n")
        io.atomic_write_text(Path(out) / f"{name}.csv", text)


def write_parquet_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write a whole layers or curves table as :func:`aggregate` streams it (the same row
    groups and encodings, so the same rows give the same bytes), atomically."""
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    text = [f.name for f in table.schema if pa.types.is_string(f.type)]
    writer = io.ParquetAppender(path, table.schema, ROW_GROUP_ROWS, text)
    try:
        writer.append(table)
        writer.commit()
    except BaseException:
        writer.abort()
        raise


def _existing_parent(path: Path) -> Path:
    """``path``'s nearest existing ancestor (where the tables wait until they are all written,
    so that a failed aggregation creates no tables folder)."""
    path = path.absolute()
    for parent in path.parents:
        if parent.is_dir():
            return parent
    return Path.cwd()


def aggregate(
    study_json: str | Path,
    out: str | Path,
    root: str | Path = ".",
    log: Callable[[str], None] = echo,
) -> dict[str, Any]:
    """Build every table of the study described by ``study_json``; write them under ``out``.

    The chunks are read one after the other (:func:`stream_runs`): their layer and curve rows
    go straight to ``layers.parquet`` and ``curves.parquet``, so memory does not grow with the
    layer rows; the other tables are built from the rows kept per run. Nothing is put in place
    until every table is written.

    Parameters
    ----------
    study_json : path
        The resolved configuration (``results/study.json``).
    out : path
        The tables folder.
    root : path
        Folder the study's relative ``results`` path is taken from.
    log : callable
        Receives the progress lines (at most about twenty, and the last one).

    Returns
    -------
    dict
        The CSV tables (DataFrames by name), and ``layer_rows`` and ``curve_rows``: the rows
        written to the two Parquet tables.
    """
    study = Study(io.read_json(study_json))
    out = Path(out)
    streamed = stream_runs(study, out, root, log, tmp_dir=_existing_parent(out))
    try:
        tables = _small_tables(study, streamed, root)
        log(f"aggregate: writing {len(tables)} tables")
        streamed.layers.commit()
        streamed.curves.commit()
    except BaseException:
        streamed.layers.abort()
        streamed.curves.abort()
        raise
    write_tables(tables, out, list(study.axes))
    return {**tables, "layer_rows": streamed.layers.rows, "curve_rows": streamed.curves.rows}


def _small_tables(study: Study, streamed: Streamed, root: str | Path) -> dict[str, pd.DataFrame]:
    """Every CSV table, from the rows :func:`stream_runs` kept."""
    tables = {"runs": streamed.runs, "timings": streamed.timings}
    target = float(study.config["training"]["target_accuracy"])
    extra = [a for a in study.axes if a != "dataset"]  # the dataset column is always grouped
    tables["summary"] = summarize(tables["runs"], target, extra)
    # theory and recommendations describe the baseline point of the extra axes
    baseline = study.table_point(study.baseline)
    base = {n: at_point(tables[n], baseline) for n in ("runs", "summary")}
    for _, runs_of_one_dataset in tables["runs"].groupby("dataset", sort=False):
        _input_facts(runs_of_one_dataset)  # the runs of each dataset agree (a dataset axis)
    n_features, n_classes, q_in, q_jac = _input_facts(base["runs"])
    theory_rows = theory_table(study, streamed.measured, n_features, n_classes, q_in, q_jac)
    for axis, value in baseline:  # one column per extra axis, as every per-cell table
        theory_rows[axis] = value
    tables["theory"] = theory_rows
    tables["phase"] = phase_table(study)
    # the claims read the layer and curve rows of the cells they name, which were kept
    inputs = {**tables, "layers": streamed.claim_layers, "curves": streamed.claim_curves}
    tables["claims"] = claims.claims_table(
        claims.evaluate_claims(
            study.config.get("claims", []),
            {n: inputs[n] for n in claims.TABLE_NAMES},
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
    return tables


def _input_facts(runs: pd.DataFrame) -> tuple[int, int, float, float]:
    """Input dimension, class count and the mean squares of the probe batch's and of the
    Jacobian probes' features (the ``q^0`` of theory), as the runs recorded them.

    Every run of a dataset reads the same prepared data and probe rows, so the facts agree;
    a run that recorded others was trained on other data and is named.
    """
    facts = runs[list(INPUT_FACT_KEYS)]
    # the facts most runs recorded; a run that differs from them is the one named
    first = facts.mode().iloc[0]
    differs = ~np.isclose(facts.to_numpy(dtype=float), first.to_numpy(dtype=float), rtol=1e-12)
    if differs.any():
        bad = runs["run_id"].iloc[int(np.flatnonzero(differs.any(axis=1))[0])]
        raise CorruptFileError(
            f"run {bad}: its input facts ({', '.join(INPUT_FACT_KEYS)}) differ from the other "
            "runs': it was trained on other data. Delete its run folder and rerun snakemake."
        )
    return (
        int(first["n_features"]),
        int(first["n_classes"]),
        float(first["probe_second_moment"]),
        float(first["jacobian_second_moment"]),
    )


PHASE_POINTS = 25
"""``sigma_b2`` values per critical line in ``phase.csv`` (each costs a fixed-point search and a
root search)."""


def _positively_homogeneous(act: Any) -> bool:
    """Piecewise-linear through 0 (linear, ReLU, leaky ReLU): ``chi_1 = sigma_w2 E[phi'^2]`` does
    not depend on ``q``, so the critical line is vertical at ``1 / E[phi'(z)^2]``."""
    return act.name in ("linear", "relu", "leaky_relu") or act.family == "leaky_relu"


def phase_table(study: Study, n_points: int = PHASE_POINTS) -> pd.DataFrame:
    """The edge of chaos ``chi_1(q*) = 1`` of every activation of the grid (``phase.csv``).

    Poole et al. (2016), NeurIPS; Schoenholz et al. (2017), ICLR. One row per activation x
    ``sigma_b2``: ``sigma_b2`` runs quadratically from 0 to ``max(1, 2 bias_std^2)`` (the lines
    bend sharply near 0: tanh goes from 1 to 1.7 by 0.04) and ``critical_sigma_w2`` is
    :func:`initlab.theory.critical_line` (NaN where no ``sigma_w2`` is critical). The report draws
    the phase diagram from this table.
    """
    init, depth, seed = study.config["initializers"][0], study.config["depths"][0], 0
    point_b2 = study.base_spec(init, study.config["activations"][0], depth, seed).bias_std ** 2
    b2_max = max(1.0, 2.0 * point_b2)
    sigma_b2 = b2_max * np.linspace(0.0, 1.0, n_points) ** 2
    rows = []
    for name in study.config["activations"]:
        act = study.base_spec(init, name, depth, seed).resolve_activation()
        if _positively_homogeneous(act):
            line = np.full(n_points, 1.0 / act.grad_second_moment)
        else:
            line = theory.critical_line(act, sigma_b2)
        rows.extend(
            {"activation": name, "sigma_b2": float(b), "critical_sigma_w2": float(w)}
            for b, w in zip(sigma_b2, line, strict=True)
        )
    return pd.DataFrame(rows, columns=["activation", "sigma_b2", "critical_sigma_w2"])
