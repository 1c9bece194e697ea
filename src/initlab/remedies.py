"""What each value of an extra axis does to every initializer x activation x depth cell.

A study whose grid has extra axes (``training.optimizer: [sgd, adam]``, ``normalization``, a
learning rate, a train fraction ...) asks which of them rescue the cells that fail at the
baseline (the first value of every axis) and which break cells that train there. For each
extra axis, each value other than the baseline and each cell, with every other axis at its
baseline value, :func:`remedy_table` pairs the seeds: the change in final test accuracy of seed
``s`` is ``acc(value, s) - acc(baseline, s)`` (a diverged seed counted at chance, as in the
verdict), and its mean carries a paired Student-t 95% interval over the seeds
(:func:`initlab.claims.one_sample_interval`). Same seed, same initial weights and mini-batch
order wherever the axis leaves them alone, so the pairing removes most of the seed-to-seed
spread. The effect (:data:`initlab.layout.REMEDY_EFFECTS`) combines the verdicts at both
values with the interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from initlab.claims import NotMeasurable, one_sample_interval
from initlab.layout import TIE_MARGIN

__all__ = ["REMEDY_COLUMNS", "remedy_effect", "remedy_table"]

REMEDY_COLUMNS = (
    "axis",
    "value",
    "baseline_value",
    "initializer",
    "activation",
    "depth",
    "n_pairs",
    "delta_mean",
    "delta_ci95_lo",
    "delta_ci95_hi",
    "acc_baseline_mean",
    "acc_value_mean",
    "verdict_baseline",
    "verdict_value",
    "effect",
)
"""Columns of ``remedies.csv``."""

_CELL = ("initializer", "activation", "depth")


def remedy_effect(
    verdict_baseline: str, verdict_value: str, mean: float, lo: float, hi: float
) -> str:
    """The effect of a value on one cell (:data:`initlab.layout.REMEDY_EFFECTS`).

    ``rescues``/``breaks`` when the verdict crosses ``trains``; otherwise ``helps``/``hurts``
    when the paired 95% interval ``[lo, hi]`` of the accuracy change lies above/below 0 and the
    mean change ``mean`` is at least :data:`initlab.layout.TIE_MARGIN` (accuracies come in steps
    of one test image, so every seed can move by the same step and make the interval a point),
    and ``unclear`` otherwise (the interval contains 0, is undefined with one seed, or the
    change is below the margin).
    """
    if verdict_baseline != "trains" and verdict_value == "trains":
        return "rescues"
    if verdict_baseline == "trains" and verdict_value != "trains":
        return "breaks"
    if math.isfinite(lo) and lo > 0 and mean >= TIE_MARGIN:
        return "helps"
    if math.isfinite(hi) and hi < 0 and mean <= -TIE_MARGIN:
        return "hurts"
    return "unclear"


def _seed_accuracy(runs: pd.DataFrame) -> pd.Series:
    """Final test accuracy per run, a diverged run counted at chance ``1 / n_classes``."""
    acc = runs["final_test_acc"].astype("float64").copy()
    diverged = runs["diverged"].astype(bool)
    acc[diverged] = 1.0 / runs.loc[diverged, "n_classes"].astype("float64")
    return acc


def _at(table: pd.DataFrame, values: Mapping[str, Any]) -> pd.DataFrame:
    keep = np.ones(len(table), dtype=bool)
    for axis, value in values.items():
        keep &= (table[axis] == value).to_numpy()
    return table[keep]


def _pairs(base: pd.DataFrame, other: pd.DataFrame) -> np.ndarray:
    """Per-seed accuracy changes of one cell (seeds present at both values)."""
    a = base.set_index("seed")["acc"]
    b = other.set_index("seed")["acc"]
    common = a.index.intersection(b.index)
    return (b.loc[common] - a.loc[common]).to_numpy(dtype=float)


def _cell_row(
    cell: tuple[Any, ...], base: pd.DataFrame, other: pd.DataFrame, verdicts: tuple[str, str]
) -> dict[str, Any]:
    diffs = _pairs(base, other)
    mean, lo, hi = (float(diffs.mean()) if len(diffs) else math.nan), math.nan, math.nan
    try:
        mean, lo, hi = one_sample_interval(diffs, 0.95)
    except NotMeasurable:
        pass
    return {
        **dict(zip(_CELL, cell, strict=True)),
        "n_pairs": len(diffs),
        "delta_mean": mean,
        "delta_ci95_lo": lo,
        "delta_ci95_hi": hi,
        "acc_baseline_mean": float(base["acc"].mean()),
        "acc_value_mean": float(other["acc"].mean()),
        "verdict_baseline": verdicts[0],
        "verdict_value": verdicts[1],
        "effect": remedy_effect(*verdicts, mean, lo, hi),
    }


def remedy_table(
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    axes: Mapping[str, Sequence[Any]],
    value_text: Any = str,
) -> pd.DataFrame:
    """``remedies.csv``: one row per extra axis x non-baseline value x cell.

    Parameters
    ----------
    runs : DataFrame
        ``runs.csv`` with one column per extra axis (``final_test_acc``, ``diverged``,
        ``n_classes``, ``seed``).
    summary : DataFrame
        ``summary.csv`` (its ``verdict`` per cell and point).
    axes : mapping
        The extra axes and their values, baseline first (:attr:`initlab.study.Study.axes`).
    value_text : callable
        How a value is written in the table (the folder-name form).

    Returns
    -------
    DataFrame
        Columns :data:`REMEDY_COLUMNS`, in axis, value and configuration order; empty without
        extra axes.
    """
    baseline = {axis: values[0] for axis, values in axes.items()}
    runs = runs.assign(acc=_seed_accuracy(runs))
    rows = []
    for axis, values in axes.items():
        base_runs = _at(runs, baseline)
        base_verdicts = _at(summary, baseline).set_index(list(_CELL))["verdict"]
        base_groups = dict(list(base_runs.groupby(list(_CELL), sort=False)))
        for value in values[1:]:
            point = {**baseline, axis: value}
            verdicts = _at(summary, point).set_index(list(_CELL))["verdict"]
            for cell, other in _at(runs, point).groupby(list(_CELL), sort=False):
                if cell not in base_groups:
                    continue
                pair = (str(base_verdicts[cell]), str(verdicts[cell]))
                row = _cell_row(cell, base_groups[cell], other, pair)
                rows.append(
                    {
                        "axis": axis,
                        "value": value_text(value),
                        "baseline_value": value_text(values[0]),
                        **row,
                    }
                )
    return pd.DataFrame(rows, columns=list(REMEDY_COLUMNS))
