"""Section 1, ``engine``: train() throughput against numpy's own float32 matmul rate."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from .common import SHAPE_HEADERS, fnum, note, pct, section_header, shape_cells, table
from .engine_runs import run_engine

HEADERS = (
    *SHAPE_HEADERS,
    "params",
    "samples/s",
    "GFLOP/s",
    "matmul GFLOP/s",
    "engine/matmul",
    "ceiling",
    "engine/(matmul x ceiling)",
    "load",
)


def section_engine(args: argparse.Namespace, cache: dict[str, Any]) -> None:
    """Print section 1: one row per shape, then what the columns mean."""
    section_header("1. Engine vs hardware: train() throughput / numpy float32 matmul rate")
    rows = run_engine(args, cache)
    print()
    engine_table(rows)
    print()
    engine_note(cache["engine_settings"])


def engine_table(rows: Sequence[dict[str, Any]]) -> None:
    """Print the throughput table from the rows of :func:`run_engine`."""
    table(
        HEADERS,
        [
            [
                *shape_cells(r),
                f"{r['params']:,}",
                fnum(r["samples_per_s"]),
                fnum(r["gflops"]),
                fnum(r["matmul_gflops"]),
                pct(r["ratio"]),
                pct(r["share_record"]),
                pct(r["ratio"] / r["share_record"]) + (" DIVERGED" if r["diverged"] else ""),
                f"{r['load']:.1f}",
            ]
            for r in rows
        ],
    )


def engine_note(s: dict[str, Any]) -> None:
    """Print what the engine table's columns mean, with the settings ``s`` of the calls."""
    note(
        f"GFLOP/s counts 6 x params x training samples over the wall time of whole train() "
        f"calls ({s['epochs']} epochs of {s['n_train']} samples, statistics at every epoch, "
        f"median of up to {s['max_reps']} calls after one untimed 1-epoch warm-up), nothing "
        f"subtracted. matmul GFLOP/s: numpy's (batch x width) @ (width x width) in float32 in "
        f"this process, median of 10 blocks taken before and after the shape's runs. "
        f"'ceiling' is the share of the matmul FLOPs a train() call executes that the "
        f"6 x params x samples count covers: every checkpoint also runs a forward pass over "
        f"the full training and validation splits ({s['n_train']} + {s['n_val']} samples) and "
        f"the probe batch, so engine/matmul cannot exceed it even with free Python and "
        f"elementwise work; 'engine/(matmul x ceiling)' is the efficiency on the matmuls "
        f"actually run. 'load': 1-minute load average while the shape ran (2 CPUs: above ~1, "
        f"other processes competed for the cores)."
    )
