"""Training chunks: the networks one job trains and the two Parquet files it writes.

A chunk is one block of a study's initializers, with every seed, at one dataset x activation x
depth x point of the extra axes (:meth:`initlab.study.Study.chunks`). Its job trains the
networks side by side in ensembles (:func:`initlab.train.train_ensemble`), logging its
progress, and writes :data:`initlab.layout.CHUNK_FILES` into the chunk's folder at the end, each
atomically, ``layers.parquet`` first: a killed job leaves no ``runs.parquet`` (Snakemake then
trains the chunk again), never half of a file.

``runs.parquet`` has one row per run, columns :data:`RUN_FIELDS`: the run id, its summary as
JSON text (the keys :func:`initlab.train.train` records) and its timing. ``layers.parquet`` has
one row per run x checkpoint x layer: the run id, then :data:`initlab.records.LAYER_COLUMNS`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from initlab import io, layout
from initlab.config import RunSpec
from initlab.data import Dataset
from initlab.io import CorruptFileError
from initlab.records import LAYER_COLUMNS

if TYPE_CHECKING:
    from initlab.train import RunResult

__all__ = [
    "RUN_FIELDS",
    "TIMING_FIELDS",
    "ChunkPlan",
    "read_chunk",
    "regenerate_hint",
    "train_chunk",
    "write_chunk",
]

TIMING_FIELDS = ("wall_seconds", "steps", "steps_per_second")
"""Timing of a run (``timings.csv``): the only numbers that differ between identical runs."""

RUN_FIELDS = ("run_id", "summary", *TIMING_FIELDS)
"""Columns of a chunk's ``runs.parquet``."""


class ChunkPlan:
    """The runs of one chunk, in training order (initializers in config order, seeds inside).

    Parameters
    ----------
    definition : mapping
        ``{"specs": [spec without its seed, ...], "seeds": [...], "sources": {initializer:
        folder}}`` as :meth:`initlab.study.Study.chunk_json` writes it; ``sources`` names the
        folder of the trained source networks of each transfer initializer
        (``<folder>/s<seed>/params.npz``).
    """

    def __init__(self, definition: Mapping[str, Any]) -> None:
        for key in ("specs", "seeds"):
            if not isinstance(definition.get(key), list) or not definition[key]:
                raise ValueError(f"chunk definition: {key!r} must be a non-empty list")
        self.seeds = [int(s) for s in definition["seeds"]]
        self.specs = [
            RunSpec.from_dict({**spec, "seed": seed})
            for spec in definition["specs"]
            for seed in self.seeds
        ]
        self.sources = {str(k): Path(v) for k, v in definition.get("sources", {}).items()}
        missing = sorted(
            {s.initializer for s in self.specs if s.transfer is not None} - set(self.sources)
        )
        if missing:
            raise ValueError(f"chunk definition: no source folder for {', '.join(missing)}")

    def source_params(self, spec: RunSpec) -> Any:
        """The trained source network a transfer run copies from, ``None`` for other runs."""
        from initlab import transfer

        if spec.transfer is None:
            return None
        folder = self.sources[spec.initializer]
        return transfer.load_params(folder / f"s{spec.seed}" / transfer.PARAMS_FILE)


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


def train_chunk(
    plan: ChunkPlan, dataset: Dataset, out: str | Path, log: Callable[[str], None] = print
) -> int:
    """Train every run of ``plan`` on ``dataset`` and write the chunk's files into ``out``.

    Runs that share their shape and settings train side by side
    (:func:`initlab.train.ensembles`, :func:`initlab.train.train_ensemble`), each with the
    records it would get alone. Logs a line per epoch of each ensemble (runs done / total,
    the epoch, elapsed time and an estimate of the time left) and one per run as its ensemble
    finishes (with the run's outcome). Returns the number of runs trained.
    """
    from initlab.train import RunResult, ensembles, outcome, train_ensemble

    results: dict[str, RunResult] = {}
    start = time.perf_counter()
    total = len(plan.specs)
    for group in ensembles(plan.specs):
        sources = [plan.source_params(spec) for spec in group]
        before = len(results)

        def progress(
            epoch: int, epochs: int, group: list[RunSpec] = group, before: int = before
        ) -> None:
            elapsed = time.perf_counter() - start
            share = (before + len(group) * epoch / epochs) / total
            left = elapsed / share * (1 - share)
            log(
                f"[{before}/{total}] {len(group)} networks side by side from {group[0].run_id}: "
                f"epoch {epoch}/{epochs}; elapsed {_clock(elapsed)}, about {_clock(left)} left"
            )

        trained = train_ensemble(group, dataset, source_params=sources, progress=progress)
        for spec, result in zip(group, trained, strict=True):
            results[spec.run_id] = RunResult(result.summary, result.layers, result.timing)
            done = len(results)
            elapsed = time.perf_counter() - start
            left = elapsed / done * (total - done)
            log(
                f"[{done}/{total}] {spec.run_id}: {outcome(result.summary)}; "
                f"elapsed {_clock(elapsed)}, about {_clock(left)} left"
            )
    write_chunk(out, [(spec.run_id, results[spec.run_id]) for spec in plan.specs])
    return total


def write_chunk(out: str | Path, results: Sequence[tuple[str, RunResult]]) -> None:
    """Write the records of a chunk's runs (run id, :class:`initlab.train.RunResult`, in
    training order) as its two Parquet files in ``out``, each atomically; the layer rows are
    written first, so a folder whose ``runs.parquet`` exists holds both."""
    import pyarrow as pa

    runs = pa.table(
        {
            "run_id": pa.array([run_id for run_id, _ in results], pa.string()),
            "summary": pa.array([io.json_text(r.summary) for _, r in results], pa.string()),
            "wall_seconds": pa.array([r.timing["wall_seconds"] for _, r in results], pa.float64()),
            "steps": pa.array([r.timing["steps"] for _, r in results], pa.int64()),
            "steps_per_second": pa.array(
                [r.timing["steps_per_second"] for _, r in results], pa.float64()
            ),
        }
    )
    columns: dict[str, Any] = {
        "run_id": pa.array(
            [run_id for run_id, r in results for _ in range(len(r.layers["step"]))], pa.string()
        )
    }
    for name in LAYER_COLUMNS:
        columns[name] = pa.array(np.concatenate([r.layers[name] for _, r in results]))
    out = Path(out)
    io.write_parquet(out / layout.CHUNK_FILES[1], pa.table(columns))
    io.write_parquet(out / layout.CHUNK_FILES[0], runs)


def regenerate_hint(folder: str | Path) -> str:
    """How to regenerate a chunk's files."""
    return (
        f"Delete {folder} and rerun snakemake: the chunk is trained again (add --forcerun "
        "aggregate_tables if the tables were already written)."
    )


def read_chunk(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A chunk's runs (``run_id``, ``summary`` as a parsed dict, timing) and layer rows.

    Raises
    ------
    FileNotFoundError
        A chunk file is missing (the message says how to regenerate it).
    CorruptFileError
        A chunk file is not readable Parquet, lacks a column or holds a column of the wrong
        type (the message names the file and how to regenerate it).
    """
    folder = Path(folder)
    hint = regenerate_hint(folder)
    frames = []
    expected = (RUN_FIELDS, ("run_id", *LAYER_COLUMNS))
    for name, columns in zip(layout.CHUNK_FILES, expected, strict=True):
        path = folder / name
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing. {hint}")
        table = io.read_parquet(path, regenerate_hint=hint)
        absent = [c for c in columns if c not in table.column_names]
        if absent:
            raise CorruptFileError(f"{path}: column {absent[0]!r} is missing. {hint}")
        frame = table.select(list(columns)).to_pandas()
        numeric = [c for c in columns if c not in ("run_id", "summary")]
        text = [c for c in numeric if not pd.api.types.is_numeric_dtype(frame[c])]
        if text:
            raise CorruptFileError(f"{path}: column {text[0]!r} does not hold numbers. {hint}")
        frames.append(frame)
    runs, layers = frames
    summaries = []
    for run_id, text in zip(runs["run_id"], runs["summary"], strict=True):
        try:
            summary = json.loads(text)
        except (TypeError, json.JSONDecodeError) as err:
            raise CorruptFileError(
                f"{folder / layout.CHUNK_FILES[0]}: the summary of {run_id} is not valid JSON "
                f"({err}). {hint}"
            ) from None
        if not isinstance(summary, dict):
            raise CorruptFileError(
                f"{folder / layout.CHUNK_FILES[0]}: the summary of {run_id} is not a JSON "
                f"object. {hint}"
            )
        summaries.append(summary)
    runs["summary"] = summaries
    return runs, layers
