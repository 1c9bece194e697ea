"""Section 2, ``stats``: the cost of the per-layer statistics, record=True vs record=False."""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from .common import SHAPE_HEADERS, fnum, note, pct, section_header, shape_cells, table
from .engine_runs import run_engine, time_weighted_overhead


def section_stats(args: argparse.Namespace, cache: dict[str, Any]) -> None:
    """Print section 2: seconds per call with and without statistics, and the overhead."""
    section_header("2. Statistics overhead: train(record=True) vs train(record=False)")
    rows = run_engine(args, cache)
    table(
        [*SHAPE_HEADERS, "record=False s", "record=True s", "pairs", "overhead", "load"],
        [
            [
                *shape_cells(r),
                fnum(r["t_norecord"]),
                fnum(r["t_record"]),
                r["reps"],
                pct(r["overhead"]),
                f"{r['load']:.1f}",
            ]
            for r in rows
        ],
    )
    over = [r["overhead"] for r in rows]
    print()
    print(
        f"overhead: median {pct(statistics.median(over))}, max {pct(max(over))}, "
        f"time-weighted over all shapes {pct(time_weighted_overhead(rows))}"
    )
    note(
        "Same shapes, same settings; calls alternate record=True / record=False and "
        "'overhead' is the median over adjacent pairs of t(True) / t(False) - 1 (the columns "
        "of seconds are medians). record=False still evaluates loss and accuracy on the "
        "training and validation splits at every checkpoint; what it skips is the probe "
        "batch's forward and backward pass, the per-layer statistics and the update-ratio "
        "copies."
    )
