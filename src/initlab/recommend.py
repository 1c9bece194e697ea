"""Which initializer for which activation at which depth: the report's first-page answer.

A pure function of the study's tables (``summary``, ``runs``, ``theory``): for every activation x
depth of the grid, the initializers with the best mean final test accuracy over all seeds (a
diverged seed counted at chance), with ties reported as ties, the numbers behind the choice and a
one-line reason grounded in the measurements. Aggregation writes it as ``recommendations.csv``;
the report draws it and computes nothing.

Rule (:data:`RULE`): the best initializer has the highest mean final test accuracy over all
seeds. Others tie with it when their mean is within ``TIE_MARGIN`` (:mod:`initlab.layout`) of
the best, or when their
per-seed accuracies are identical to the best's (identical networks: e.g. glorot_normal and
lecun_normal between equal widths). When even the best combination's verdict is ``fails`` or
``diverged``, nothing is recommended: no initializer trains that activation at that depth at this
budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from initlab.layout import RECOMMENDATION_RULE, TIE_MARGIN

__all__ = ["RECOMMENDATION_COLUMNS", "RULE", "TIE_MARGIN", "recommendation_table"]

RULE = RECOMMENDATION_RULE
"""The rule in words (:data:`initlab.layout.RECOMMENDATION_RULE`)."""

RECOMMENDATION_COLUMNS = (
    "activation",
    "depth",
    "recommended",
    "n_tied",
    "sigma_w2_hidden",
    "chi1",
    "test_acc_mean",
    "test_acc_seeds",
    "n_seeds",
    "verdict",
    "log10_delta_ratio_hidden",
    "share_still_learning",
    "reason",
)
"""Columns of ``recommendations.csv``."""


def _seed_accuracies(runs: pd.DataFrame, initializer: str, activation: str, depth: int) -> str:
    """Final test accuracy of each seed, a diverged seed written ``div``."""
    rows = runs[
        (runs["initializer"] == initializer)
        & (runs["activation"] == activation)
        & (runs["depth"] == depth)
    ].sort_values("seed")
    return " ".join(
        "div" if bool(d) else f"{a:.3f}"
        for a, d in zip(rows["final_test_acc"], rows["diverged"], strict=True)
    )


def _gradient_words(ratio: float, depth: int) -> str:
    if depth < 2:
        return "one hidden layer"
    if not math.isfinite(ratio):
        return "gradient ratio undefined (a zero gradient)"
    if abs(ratio) < 1.0:
        return f"gradient flat over the hidden layers (10^{ratio:+.1f})"
    kind = "vanishes" if ratio < 0 else "explodes"
    return f"gradient {kind} over the hidden layers (10^{ratio:+.1f})"


def _reason(best: pd.Series, chi1: float, trains: bool) -> str:
    """One line grounded in the measurements of the best cell; for a cell that does not reach
    the target, whether its training loss was still falling (slow, not stuck)."""
    learning = float(best.get("share_still_learning", math.nan))
    still = (
        [f"{learning:.0%} of seeds still learning at the end"]
        if math.isfinite(learning) and learning > 0 and str(best["verdict"]) != "trains"
        else []
    )
    if not trains:
        acc = float(best["final_test_acc_mean"])
        return "; ".join([f"nothing trains at this budget (best accuracy {acc:.3f})", *still])
    ratio = float(best["log10_delta_ratio_hidden_mean"])
    chi_text = f"chi_1 = {chi1:.2f}" if math.isfinite(chi1) else "chi_1 undefined"
    return "; ".join([chi_text, _gradient_words(ratio, int(best["depth"])), *still])


def _tied(cells: pd.DataFrame, runs: pd.DataFrame, best: pd.Series) -> list[str]:
    best_seeds = _seed_accuracies(runs, best["initializer"], best["activation"], best["depth"])
    names = []
    for row in cells.itertuples(index=False):
        close = abs(row.final_test_acc_mean - best["final_test_acc_mean"]) <= TIE_MARGIN
        same = _seed_accuracies(runs, row.initializer, row.activation, row.depth) == best_seeds
        if close or same:
            names.append(str(row.initializer))
    return names


def _chi1(
    theory: pd.DataFrame, initializer: str, activation: str, depth: int
) -> tuple[float, float]:
    rows = theory[
        (theory["initializer"] == initializer)
        & (theory["activation"] == activation)
        & (theory["depth"] == depth)
    ]
    if rows.empty:
        return math.nan, math.nan
    return float(rows["sigma_w2_hidden"].iloc[0]), float(rows["chi1"].iloc[0])


def _recommend_cell(
    cells: pd.DataFrame, runs: pd.DataFrame, theory: pd.DataFrame, order: dict[str, int]
) -> dict[str, Any]:
    """The row of one activation x depth (``cells``: its summary rows)."""
    ranked = cells.assign(
        _acc=cells["final_test_acc_mean"].fillna(-1.0), _order=cells["initializer"].map(order)
    ).sort_values(["_acc", "_order"], ascending=[False, True], kind="stable")
    best = ranked.iloc[0]
    trains = str(best["verdict"]) in ("trains", "partial")
    tied = _tied(ranked, runs, best) if trains else []
    sw2, chi1 = (
        _chi1(theory, best["initializer"], best["activation"], int(best["depth"]))
        if trains
        else (math.nan, math.nan)
    )
    return {
        "activation": best["activation"],
        "depth": int(best["depth"]),
        "recommended": ";".join(tied),
        "n_tied": len(tied),
        "sigma_w2_hidden": sw2,
        "chi1": chi1,
        "test_acc_mean": float(best["final_test_acc_mean"]),
        "test_acc_seeds": _seed_accuracies(
            runs, best["initializer"], best["activation"], int(best["depth"])
        ),
        "n_seeds": int(best["n_seeds"]),
        "verdict": str(best["verdict"]),
        "log10_delta_ratio_hidden": float(best["log10_delta_ratio_hidden_mean"]),
        "share_still_learning": float(best.get("share_still_learning", math.nan)),
        "reason": _reason(best, chi1, trains),
    }


def recommendation_table(
    summary: pd.DataFrame,
    runs: pd.DataFrame,
    theory: pd.DataFrame,
    initializers: Sequence[str],
    activations: Sequence[str],
    depths: Sequence[int],
) -> pd.DataFrame:
    """One row per activation x depth (grid order): the recommended initializer(s) by :data:`RULE`.

    Parameters
    ----------
    summary, runs, theory : DataFrame
        The study's tables (``summary.csv``, ``runs.csv``, ``theory.csv``).
    initializers, activations, depths : sequence
        The grid in configuration order (ties and equal accuracies keep that order).

    Returns
    -------
    DataFrame
        Columns :data:`RECOMMENDATION_COLUMNS`. The numbers (``sigma_w2_hidden``, ``chi1``, the
        accuracies, the gradient ratio, the share of seeds still learning) are the best cell's;
        where nothing trains ``recommended``, ``sigma_w2_hidden`` and ``chi1`` are empty (the
        best of cells at chance is no recommendation).
    """
    order = {name: k for k, name in enumerate(initializers)}
    rows = []
    for act in activations:
        for depth in sorted(int(d) for d in depths):
            cells = summary[(summary["activation"] == act) & (summary["depth"] == depth)]
            if not cells.empty:
                rows.append(_recommend_cell(cells, runs, theory, order))
    table = pd.DataFrame(rows, columns=list(RECOMMENDATION_COLUMNS))
    table["n_tied"] = table["n_tied"].astype(np.int64)
    return table
