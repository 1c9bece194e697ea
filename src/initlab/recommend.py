"""Which initializer for which activation at which depth: the report's first-page answer.

A pure function of the study's tables (``summary``, ``runs``, ``theory``): for every activation x
depth of the grid, the initializers with the best mean final test accuracy over all seeds (a
diverged seed counted at chance), with ties reported as ties, the numbers behind the choice and a
one-line reason grounded in the measurements. Aggregation writes it as ``recommendations.csv``;
the report draws it and computes nothing.

Rule (:data:`RULE`): the best initializer has the highest mean final test accuracy over all
seeds among the cells that learned (verdict ``trains`` or ``partial``). Another learned cell ties
with it when the seeds cannot tell them apart: the Welch 95% interval of the difference of
their means contains 0, or the difference is within ``TIE_MARGIN`` (:mod:`initlab.layout`).
When no cell learned, nothing is recommended: no initializer trains that activation at that
depth at this budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from initlab.claims import NotMeasurable, welch_interval
from initlab.layout import RECOMMENDATION_RULE, TIE_MARGIN

__all__ = ["RECOMMENDATION_COLUMNS", "RULE", "TIE_MARGIN", "recommendation_table"]

FLAT_DECADES = 0.3
"""A first-over-last hidden-layer gradient ratio within 10^(+-0.3) (a factor 2) reads "flat"."""

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


def _decades(ratio: float) -> str:
    """``+0.3``, ``-0.5``; a ratio that rounds to zero is ``+0.0`` whatever its sign."""
    text = f"{ratio:+.1f}"
    return "+0.0" if text == "-0.0" else text


def _gradient_words(ratio: float, depth: int) -> str:
    if depth < 2:
        return "one hidden layer"
    if not math.isfinite(ratio):
        return "gradient ratio undefined (a zero gradient)"
    if abs(ratio) <= FLAT_DECADES:
        return f"gradient flat over the hidden layers (10^{_decades(ratio)})"
    if abs(ratio) < 2.0:
        kind = "shrinks" if ratio < 0 else "grows"
    else:
        kind = "vanishes" if ratio < 0 else "explodes"
    return f"gradient {kind} over the hidden layers (10^{_decades(ratio)})"


def _reason(best: pd.Series, chi1: float, trains: bool) -> str:
    """One line grounded in the measurements of the best cell (whether its seeds were still
    learning at the end is the table's ``share_still_learning``)."""
    if not trains:
        acc = float(best["final_test_acc_mean"])
        return f"nothing trains at this budget (best accuracy {acc:.3f})"
    ratio = float(best["log10_delta_ratio_hidden_mean"])
    chi_text = f"chi_1 = {chi1:.2f}" if math.isfinite(chi1) else "chi_1 undefined"
    return "; ".join([chi_text, _gradient_words(ratio, int(best["depth"]))])


def _seed_values(runs: pd.DataFrame, initializer: str, activation: str, depth: int) -> np.ndarray:
    """Final test accuracy per seed, a diverged seed counted at chance."""
    rows = runs[
        (runs["initializer"] == initializer)
        & (runs["activation"] == activation)
        & (runs["depth"] == depth)
    ]
    values = rows["final_test_acc"].astype("float64").to_numpy().copy()
    diverged = rows["diverged"].astype(bool).to_numpy()
    if "n_classes" in rows.columns:
        values[diverged] = 1.0 / rows["n_classes"].astype("float64").to_numpy()[diverged]
    return values


def _indistinguishable(best: np.ndarray, other: np.ndarray) -> bool:
    """The Welch 95% interval of ``mean(best) - mean(other)`` contains 0 (with fewer than two
    seeds on a side, or no spread at all, the difference itself is compared with TIE_MARGIN)."""
    diff = float(best.mean() - other.mean())
    if diff <= TIE_MARGIN:
        return True
    try:
        _, lo, _ = welch_interval(best, other, 0.95)
    except NotMeasurable:  # fewer than two seeds on a side
        return False
    return lo <= 0.0


def _tied(cells: pd.DataFrame, runs: pd.DataFrame, best: pd.Series) -> list[str]:
    """The best initializer and every trained one the seeds cannot tell from it."""
    key = (best["activation"], int(best["depth"]))
    best_values = _seed_values(runs, best["initializer"], *key)
    return [
        str(row.initializer)
        for row in cells.itertuples(index=False)
        if row.verdict in ("trains", "partial")
        and _indistinguishable(best_values, _seed_values(runs, row.initializer, *key))
    ]


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
    # rank trained cells only (a diverged cell's mean can be high on one lucky seed); equal
    # means (to 10 digits, beyond CSV rounding) keep the configuration's order
    learned = cells["verdict"].isin(["trains", "partial"])
    ranked = cells.assign(
        _learned=learned,
        _acc=cells["final_test_acc_mean"].fillna(-1.0).round(10),
        _order=cells["initializer"].map(order),
    ).sort_values(["_learned", "_acc", "_order"], ascending=[False, False, True], kind="stable")
    best = ranked.iloc[0]
    trains = bool(best["_learned"])
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
