"""The streaming aggregation gives exactly the tables of the in-memory one it replaced.

Three small studies are trained in-process (the tiny study; the tiny study with a learning-rate
axis, three seeds and claims reading each of runs, curves and layers; one whose initializer
makes every seed diverge), then aggregated by
:func:`initlab.aggregate.aggregate` (chunk by chunk, layers and curves streamed to Parquet) and
by the former implementation kept in ``tests/legacy_aggregate.py`` (every layer row in memory,
every table CSV). Every CSV table must be byte-identical, and the Parquet tables must hold
exactly the rows, columns and float64 values of the former in-memory layers and curves tables.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import legacy_aggregate
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from threadpoolctl import threadpool_limits

from initlab import aggregate, io, layout, settings
from initlab.chunks import ChunkPlan, train_chunk
from initlab.data import load_dataset
from initlab.study import load_study

ROOT = Path(__file__).resolve().parents[1]

CLAIMS: list[dict[str, Any]] = [
    {
        "id": "he_beats_standard_relu",
        "statement": "s",
        "source": "s",
        "reason": "r",
        "rule": "difference",
        "cell": {"initializer": "he_normal", "activation": "relu", "depth": 3},
        "versus": {"initializer": "standard_uniform", "activation": "relu", "depth": 3},
        "measure": {"table": "runs", "column": "final_test_acc"},
        "test": "greater",
        "threshold": 0.0,
    },
    {
        "id": "curves_at_epoch_1",
        "statement": "s",
        "source": "s",
        "reason": "r",
        "rule": "difference",
        "cell": {"initializer": "he_normal", "activation": "tanh", "depth": 1},
        "versus": {
            "initializer": "he_normal",
            "activation": "tanh",
            "depth": 1,
            "learning_rate": 0.1,
        },
        "measure": {"table": "curves", "column": "train_acc", "epoch": 1},
        "test": "less",
        "threshold": 0.0,
    },
    {
        "id": "slope_against_theory",
        "statement": "s",
        "source": "s",
        "reason": "r",
        "rule": "deviation",
        "cell": {"initializer": "standard_uniform", "activation": "tanh", "depth": 3},
        "measure": {"table": "layers", "column": "z_q", "slope": True},
        "reference": {"theory": "q_pred"},
        "test": "equivalent",
        "threshold": 0.05,
    },
    {
        "id": "band",
        "statement": "s",
        "source": "s",
        "reason": "r",
        "rule": "moment_band",
        "cells": [
            {"initializer": "he_normal", "activation": "tanh", "depth": 3, "expect": "inside"},
            {
                "initializer": "he_normal",
                "activation": "relu",
                "depth": 3,
                "learning_rate": 0.1,
                "expect": "outside",
            },
        ],
        "threshold": 0.1,
        "band": [0.1, 1.5],
    },
    {
        "id": "verdicts",
        "statement": "s",
        "source": "s",
        "reason": "r",
        "rule": "verdicts",
        "cells": [
            {
                "initializer": "he_normal",
                "activation": "relu",
                "depth": 1,
                "verdict": ["trains", "partial"],
            }
        ],
    },
]


def _config(name: str) -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "tests" / "data" / "tiny.yaml").read_text())
    config["chunk_size"] = 2
    if name == "axis":
        config.update(seeds=[0, 1, 2], claims=CLAIMS)
        config["training"]["learning_rate"] = [0.01, 0.1]
    if name == "diverging":  # every seed of "huge" diverges: empty accuracies and steps
        config.update(
            initializers=["huge", "he_normal"],
            activations=["relu"],
            depths=[20],
            width=8,
            custom_initializers={"huge": {"family": "normal", "std": 5.0}},
        )
    return config


def _train(config: dict[str, Any], workdir: Path) -> Path:
    """Train every chunk of ``config`` in-process under ``workdir``; return study.json."""
    study = load_study(config, settings.schema())
    dataset = load_dataset(study.config["dataset"])
    with threadpool_limits(limits=1):
        for chunk in study.chunks():
            plan = ChunkPlan(json.loads(study.chunk_json(chunk)))
            train_chunk(plan, dataset, workdir / chunk.folder, log=lambda line: None)
    study_json = workdir / study.results / "study.json"
    io.write_json(study_json, study.config)
    return study_json


@pytest.fixture(scope="module", params=["tiny", "axis", "diverging"])
def both(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The study aggregated both ways: (new tables dir, legacy tables dir, legacy tables)."""
    workdir = tmp_path_factory.mktemp(request.param)
    study_json = _train(_config(request.param), workdir)
    lines: list[str] = []
    new = aggregate.aggregate(study_json, workdir / "new", root=workdir, log=lines.append)
    old = legacy_aggregate.aggregate(study_json, workdir / "old", root=workdir)
    return workdir / "new", workdir / "old", old, new, lines


def test_every_csv_table_is_byte_identical(both: Any) -> None:
    new, old, _, _, _ = both
    for name in layout.TABLE_NAMES:
        if name in layout.PARQUET_TABLES:
            assert not (new / f"{name}.csv").exists()
            continue
        assert (new / f"{name}.csv").read_bytes() == (old / f"{name}.csv").read_bytes(), name


def test_the_claims_are_decided_as_before(both: Any) -> None:
    """The claims read only the kept rows of their cells, and decide as on the whole tables
    (the axis study declares one claim of every measure and rule)."""
    new, _, old_tables, _, _ = both
    claims = pd.read_csv(new / "claims.csv", keep_default_na=False)
    if len(old_tables["claims"]):
        assert (claims["verdict"] != "not measurable").sum() >= 3, claims


@pytest.mark.parametrize("name", layout.PARQUET_TABLES)
def test_parquet_tables_hold_the_former_rows_exactly(both: Any, name: str) -> None:
    new, _, old_tables, result, _ = both
    read = pd.read_parquet(new / f"{name}.parquet")
    old = old_tables[name].reset_index(drop=True)
    assert list(read.columns) == list(old.columns)
    assert len(read) == len(old) == result[f"{name.rstrip('s')}_rows"]
    for col in old.columns:
        a, b = read[col], old[col]
        if pd.api.types.is_float_dtype(b):
            assert a.dtype == np.float64, col
            np.testing.assert_array_equal(a.to_numpy(), b.to_numpy(), err_msg=col)
        else:
            assert a.tolist() == b.tolist(), col
            assert pd.api.types.is_numeric_dtype(a) == pd.api.types.is_numeric_dtype(b), col


def test_progress_is_logged_in_few_lines(both: Any) -> None:
    *_, lines = both
    assert lines and "chunks read" in lines[0]
    assert "(100%)" in lines[-2] and lines[-1].startswith("aggregate: writing"), lines
    assert len(lines) <= 25


def test_parquet_bytes_do_not_depend_on_how_the_rows_arrive(tmp_path: Path) -> None:
    """The same rows appended in different pieces give the same file (row groups of a fixed
    size, written from contiguous columns)."""
    n = 2_500
    table = pa.table(
        {
            "run_id": pa.array([f"r{i // 7}" for i in range(n)]),
            "step": pa.array(np.arange(n) % 13, pa.int64()),
            "x": pa.array(np.sin(np.arange(n, dtype=float))),
        }
    )
    files = []
    for k, sizes in enumerate([[n], [1, 999, 1500], [7] * (n // 7) + [n % 7]]):
        path = tmp_path / f"t{k}.parquet"
        writer = io.ParquetAppender(path, table.schema, 1_000, ["run_id"])
        start = 0
        for size in sizes:
            writer.append(table.slice(start, size))
            start += size
        writer.commit()
        files.append(path.read_bytes())
        assert pq.ParquetFile(path).metadata.num_row_groups == 3
    assert files[0] == files[1] == files[2]
    assert pq.read_table(tmp_path / "t0.parquet").equals(table)


def test_an_aborted_table_leaves_no_file(tmp_path: Path) -> None:
    table = pa.table({"x": pa.array([1.0, 2.0])})
    writer = io.ParquetAppender(tmp_path / "out" / "t.parquet", table.schema, 10, [], tmp_path)
    writer.append(table)
    writer.abort()
    assert not (tmp_path / "out").exists()
    assert not list(tmp_path.iterdir())
