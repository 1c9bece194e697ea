"""Remedies: what each value of an extra axis does to every cell, against the baseline.

One page per extra axis x non-baseline value (``remedies.csv``): the paired change in final test
accuracy (value minus baseline, same seeds) as an initializer x activation heatmap per depth,
on one fixed diverging colour scale (-1 to +1) for every page, each cell labelled with the
change and, where the verdict crosses ``trains``, ``rescues`` or ``breaks``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from initlab.layout import REMEDY_EFFECTS
from initlab.report.heatmaps import HeatmapCells, HeatmapMetric, draw_heatmap
from initlab.report.style import new_page, set_footnote

__all__ = ["DELTA_METRIC", "plot_remedies", "remedy_cells"]

DELTA_METRIC = HeatmapMetric(
    "delta_mean", "change in test accuracy", "RdBu", -1.0, 1.0, "+.2f", diverging=False
)
"""The remedies panel: blue where the value helps, red where it hurts, fixed at -1 to +1."""

_MARKS = {"rescues": "rescues", "breaks": "breaks"}


def remedy_cells(
    remedies: pd.DataFrame, depth: int, rows: Sequence[str], cols: Sequence[str]
) -> HeatmapCells:
    """The heatmap of one axis value at ``depth``: ``delta_mean`` per initializer (rows) x
    activation (columns), with ``rescues``/``breaks`` as the cells' second line."""
    values = np.full((len(rows), len(cols)), np.nan)
    notes = [["" for _ in cols] for _ in rows]
    n_pairs = np.zeros_like(values)
    ri = {n: k for k, n in enumerate(rows)}
    ci = {n: k for k, n in enumerate(cols)}
    sel = remedies[remedies["depth"] == depth]
    for r in sel.itertuples():
        if r.initializer in ri and r.activation in ci:
            i, j = ri[r.initializer], ci[r.activation]
            values[i, j] = float(r.delta_mean)
            notes[i][j] = _MARKS.get(str(r.effect), "")
            n_pairs[i, j] = float(r.n_pairs)
    return HeatmapCells(
        tuple(rows),
        tuple(cols),
        values,
        np.zeros_like(values),
        n_pairs,
        np.zeros(values.shape, dtype=bool),
        tuple(tuple(n) for n in notes),
    )


def _counts(sel: pd.DataFrame) -> str:
    counts = sel["effect"].value_counts()
    return ", ".join(f"{int(counts.get(e, 0))} {e}" for e in REMEDY_EFFECTS)


def plot_remedies(
    remedies: pd.DataFrame,
    axis: str,
    value: str,
    depths: Sequence[int],
    rows: Sequence[str],
    cols: Sequence[str],
    part: str = "",
) -> Figure:
    """One axis value against the baseline: a heatmap of the paired accuracy change per depth.

    Parameters
    ----------
    remedies : DataFrame
        ``remedies.csv``.
    axis, value : str
        The extra axis and the value shown (as in ``remedies.csv``).
    depths : sequence of int
        One panel each.
    rows, cols : sequence of str
        Initializers (rows) and activations (columns), in configuration order.
    part : str
        ``part k of n`` when the depths are split over pages.

    Returns
    -------
    Figure
        A landscape A4 page.
    """
    sel = remedies[(remedies["axis"] == axis) & (remedies["value"] == value)]
    baseline = str(sel["baseline_value"].iloc[0]) if len(sel) else "?"
    n = int(sel["n_pairs"].max()) if len(sel) else 0
    fig = new_page(
        f"Remedies: {axis} = {value} against {axis} = {baseline}" + (f" ({part})" if part else ""),
        subtitle=f"change in final test accuracy, {value} minus {baseline}, paired over {n} "
        f"seed{'s' if n != 1 else ''}; every other axis at its first value. {_counts(sel)}.",
    )
    ncols = 2 if len(depths) >= 2 else 1
    axes = fig.subplots(-(-len(depths) // ncols), ncols, squeeze=False).ravel()
    mappable = None
    for k, (ax, depth) in enumerate(zip(axes, depths, strict=False)):
        cells = remedy_cells(sel, depth, rows, cols)
        mappable = draw_heatmap(ax, cells, DELTA_METRIC, show_rows=(k % ncols == 0))
        ax.set_title(f"depth {depth}")
    for ax in axes[len(depths) :]:
        ax.set_visible(False)
    if mappable is not None:
        cbar = fig.colorbar(mappable, ax=list(axes[: len(depths)]), shrink=0.8, pad=0.02)
        cbar.set_label("accuracy change (fixed -1 to +1 on every remedies page)", fontsize=7.5)
    set_footnote(
        fig,
        "From remedies.csv. Each cell: mean over seeds of acc(value, seed) - acc(baseline, "
        "seed), a diverged seed counted at chance; same seed, same initial weights and "
        "mini-batch order where the axis leaves them alone. 'rescues': the verdict is not "
        "'trains' at the baseline and is 'trains' here; 'breaks': the reverse. The CSV adds the "
        "paired 95% interval and calls the other cells helps (interval above 0), hurts (below "
        "0) or unclear (contains 0, or one seed).",
    )
    return fig
