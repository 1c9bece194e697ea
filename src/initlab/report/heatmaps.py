"""Trainability heatmaps: initializer (rows) x activation (columns) per depth.

Panels: mean test accuracy over all seeds (a diverged seed counted at chance),
``log10_delta_ratio_hidden`` (rms of dL/dz at the first over the last hidden layer at init), and
the dead and saturated fractions of hidden units at init (``summary.csv``).
Every cell is annotated; combinations with diverged seeds are hatched and labelled ``div``, so
they never look like an empty cell. Grids larger than ``report.max_heatmap_cells`` are split
over several pages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from initlab.records import DEAD_THRESHOLD, SATURATION_THRESHOLD
from initlab.report.data import Combination
from initlab.report.style import new_page, set_footnote, text_color_for

__all__ = [
    "DEAD_AT_END",
    "DIVERGING_CAP",
    "HEATMAP_METRICS",
    "HeatmapCells",
    "HeatmapMetric",
    "diverging_limit",
    "draw_heatmap",
    "heatmap_cells",
    "heatmap_chunks",
    "metrics_per_page",
    "plot_depth_panels",
    "plot_heatmaps",
]

FloatArray = npt.NDArray[np.float64]
_MISSING = "#e8e8e8"
_HATCH_FULL = "////"
_HATCH_PART = ".."


@dataclass(frozen=True)
class HeatmapMetric:
    """One heatmap panel: the summary column, its label, colormap and number format."""

    column: str
    label: str
    cmap: str
    vmin: float | None
    vmax: float | None
    fmt: str
    diverging: bool = False


HEATMAP_METRICS = (
    HeatmapMetric(
        "final_test_acc_mean",
        "mean final test accuracy (fraction correct)",
        "viridis",
        0.0,
        1.0,
        ".2f",
    ),
    HeatmapMetric(
        "log10_delta_ratio_hidden_mean",
        "log10(rms dL/dz first / last hidden layer) at init (n/a: one hidden layer)",
        "RdBu_r",
        None,
        None,
        "+.1f",
        diverging=True,
    ),
    HeatmapMetric(
        "dead_frac_init_mean", "dead fraction of hidden units at init", "Purples", 0.0, 1.0, ".2f"
    ),
    HeatmapMetric(
        "saturated_frac_init_mean",
        "saturated fraction of hidden units at init",
        "Oranges",
        0.0,
        1.0,
        ".2f",
    ),
)


DEAD_AT_END = HeatmapMetric(
    "dead_frac_final_mean",
    "dead fraction of hidden units at the end of training",
    "Purples",
    0.0,
    1.0,
    ".2f",
)
"""The dead-unit panel of the end-of-training page (mean over hidden layers, then seeds)."""


@dataclass(frozen=True)
class HeatmapCells:
    """The numbers of one heatmap: ``values[i, j]`` for ``rows[i]`` x ``cols[j]``.

    ``share_diverged`` and ``n_seeds`` come from the same summary rows; ``zero_gradient`` marks
    cells whose first-layer gradient is exactly zero (shown as ``-inf`` on the gradient panel).
    """

    rows: tuple[str, ...]
    cols: tuple[str, ...]
    values: FloatArray
    share_diverged: FloatArray
    n_seeds: FloatArray
    zero_gradient: npt.NDArray[np.bool_]
    notes: tuple[tuple[str, ...], ...] = ()
    """Optional second line per cell (``notes[i][j]``; empty: none)."""

    @property
    def diverged(self) -> npt.NDArray[np.bool_]:
        """Cells where more than half of the seeds diverged (verdict ``diverged``)."""
        return self.share_diverged > 0.5

    @property
    def partly_diverged(self) -> npt.NDArray[np.bool_]:
        """Cells where some, but at most half, of the seeds diverged."""
        return (self.share_diverged > 0) & ~self.diverged

    def label(self, i: int, j: int, fmt: str) -> str:
        """Annotation of cell ``(i, j)``: the value, ``-inf``, ``n/a`` and/or a ``div`` mark."""
        v = self.values[i, j]
        if np.isfinite(v):
            text = format(v, fmt)
            if text.lstrip("+-").strip("0.") == "":  # "-0.0" and "+0.0" read as "0.0"
                text = text.lstrip("+-")
        elif self.zero_gradient[i, j] and fmt.startswith("+"):
            text = "-inf"
        else:
            text = "" if self.diverged[i, j] else "n/a"
        if self.notes and self.notes[i][j]:
            text = f"{text}\n{self.notes[i][j]}"
        if self.diverged[i, j]:
            return f"{text}\ndiv" if text else "div"
        if self.partly_diverged[i, j]:
            k = round(self.share_diverged[i, j] * self.n_seeds[i, j])
            return f"{text}\n{k}/{int(self.n_seeds[i, j])} div"
        return text


def heatmap_cells(
    summary: pd.DataFrame,
    depth: int,
    rows: Sequence[str],
    cols: Sequence[str],
    column: str,
    zero_gradient: AbstractSet[Combination] = frozenset(),
) -> HeatmapCells:
    """Arrange ``summary[column]`` at ``depth`` as a rows (initializers) x cols (activations)
    matrix; missing combinations are NaN."""
    shape = (len(rows), len(cols))
    values = np.full(shape, np.nan)
    share = np.zeros(shape)
    n_seeds = np.zeros(shape)
    zero = np.zeros(shape, dtype=bool)
    ri = {n: k for k, n in enumerate(rows)}
    ci = {n: k for k, n in enumerate(cols)}
    sel = summary[
        (summary["depth"] == depth)
        & summary["initializer"].isin(ri)
        & summary["activation"].isin(ci)
    ]
    for r in sel.itertuples():
        i, j = ri[r.initializer], ci[r.activation]
        values[i, j] = float(getattr(r, column))
        share[i, j] = float(r.share_diverged)
        n_seeds[i, j] = float(r.n_seeds)
        zero[i, j] = (r.initializer, r.activation, depth) in zero_gradient
    return HeatmapCells(tuple(rows), tuple(cols), values, share, n_seeds, zero)


def heatmap_chunks(n_rows: int, n_cols: int, max_cells: int) -> list[tuple[slice, slice]]:
    """Row and column slices that cut an ``n_rows x n_cols`` heatmap into parts of at most
    ``max_cells`` cells (columns are split first)."""
    if n_rows * n_cols <= max_cells:
        return [(slice(0, n_rows), slice(0, n_cols))]
    rows_per = min(n_rows, max(1, max_cells))
    cols_per = max(1, max_cells // rows_per)
    return [
        (slice(r, min(r + rows_per, n_rows)), slice(c, min(c + cols_per, n_cols)))
        for r in range(0, n_rows, rows_per)
        for c in range(0, n_cols, cols_per)
    ]


def metrics_per_page(n_cells: int) -> int:
    """How many metric panels fit on a page with ``n_cells`` cells each (annotations >= 7 pt)."""
    if n_cells <= 100:
        return 4
    if n_cells <= 240:
        return 2
    return 1


DIVERGING_CAP = 10.0
"""Largest colour range of a diverging panel (decades): beyond it the colours saturate."""


def diverging_limit(summary: pd.DataFrame, column: str, cap: float = DIVERGING_CAP) -> float:
    """Half-range of a diverging panel's colour scale, computed once for the whole study.

    The largest finite ``|summary[column]|`` over every depth, initializer and activation,
    rounded up to a whole number and kept within ``[1, cap]``, so that every depth's page uses
    the same colours for the same value.

    Parameters
    ----------
    summary : DataFrame
        ``summary.csv`` (all depths).
    column : str
        The diverging panel's column.
    cap : float
        Upper limit of the half-range.

    Returns
    -------
    float
        ``L`` of the colour scale ``[-L, +L]``.
    """
    values = pd.to_numeric(summary[column], errors="coerce").to_numpy(dtype=float)
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if finite.size else 1.0
    return float(min(max(math.ceil(top), 1.0), cap))


def _norm(metric: HeatmapMetric, values: FloatArray, limit: float | None = None) -> Normalize:
    if not metric.diverging:
        return Normalize(metric.vmin, metric.vmax)
    if limit is None:
        finite = np.abs(values[np.isfinite(values)])
        limit = float(min(max(finite.max() if finite.size else 1.0, 1.0), DIVERGING_CAP))
    return Normalize(-limit, limit)


def draw_heatmap(
    ax: Axes,
    cells: HeatmapCells,
    metric: HeatmapMetric,
    *,
    show_rows: bool = True,
    limit: float | None = None,
) -> mpl.cm.ScalarMappable:
    """Draw one annotated heatmap on ``ax``; return the mappable for a colorbar.

    NaN cells are light grey with ``n/a`` (``-inf`` for an exactly zero gradient, coloured as the
    lowest value); diverged cells are hatched with a ``div`` label. A diverging panel's colours
    span ``[-limit, +limit]`` (default: this panel's own largest |value|, at most
    :data:`DIVERGING_CAP`; pages of one study pass :func:`diverging_limit`).
    """
    cmap = mpl.colormaps[metric.cmap]
    norm = _norm(metric, cells.values, limit)
    n_r, n_c = cells.values.shape
    # cells font: about 7.5 pt unless the grid is dense
    size = 8.0 if n_c <= 6 and n_r <= 6 else 7.0
    for i in range(n_r):
        for j in range(n_c):
            v = cells.values[i, j]
            if np.isfinite(v):
                face = cmap(norm(float(np.clip(v, norm.vmin, norm.vmax))))
            elif cells.zero_gradient[i, j] and metric.diverging:
                face = cmap(0.0)
            else:
                face = mpl.colors.to_rgba(_MISSING)
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor=face, edgecolor="white", lw=1.0))
            hatch = (
                _HATCH_FULL
                if cells.diverged[i, j]
                else _HATCH_PART
                if cells.partly_diverged[i, j]
                else None
            )
            if hatch:
                ax.add_patch(
                    Rectangle((j, i), 1, 1, fill=False, hatch=hatch, edgecolor="0.2", lw=0.0)
                )
            label = cells.label(i, j, metric.fmt)
            color = text_color_for(face)
            bbox = None
            if hatch:
                color = "black"
                bbox = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85}
            ax.text(
                j + 0.5,
                i + 0.5,
                label,
                ha="center",
                va="center",
                fontsize=size,
                color=color,
                bbox=bbox,
                linespacing=1.0,
            )
    ax.set_xlim(0, n_c)
    ax.set_ylim(n_r, 0)
    ax.set_xticks(np.arange(n_c) + 0.5, cells.cols, rotation=30, ha="right", rotation_mode="anchor")
    ax.set_yticks(np.arange(n_r) + 0.5, cells.rows if show_rows else [""] * n_r)
    ax.tick_params(length=0)
    ax.grid(False)
    ax.set_aspect("auto")
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title(metric.label)
    mappable = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
    return mappable


def _panel_page(
    title: str, what: str, n_seeds: int, part: str, n_panels: int
) -> tuple[Figure, npt.NDArray[Any]]:
    """A heatmap page with ``n_panels`` axes, two per row (one when there is one panel)."""
    n_seeds_s = f", mean over {n_seeds} seed{'s' if n_seeds > 1 else ''}" if n_seeds else ""
    fig = new_page(
        title + (f" ({part})" if part else ""),
        subtitle=f"initializer (rows) \u00d7 activation (columns){what}{n_seeds_s}",
    )
    ncols = 2 if n_panels >= 2 else 1
    axes = fig.subplots(math.ceil(n_panels / ncols), ncols, squeeze=False).ravel()
    return fig, axes


def plot_heatmaps(
    summary: pd.DataFrame,
    depth: int,
    rows: Sequence[str],
    cols: Sequence[str],
    metrics: Sequence[HeatmapMetric] = HEATMAP_METRICS,
    *,
    zero_gradient: AbstractSet[Combination] = frozenset(),
    n_seeds: int = 0,
    part: str = "",
) -> Figure:
    """One page of heatmaps at ``depth`` (``metrics`` panels, 2 x 2 when there are four).

    Parameters
    ----------
    summary : DataFrame
        ``summary.csv``: one row per initializer x activation x depth.
    depth : int
        The depth shown.
    rows, cols : sequence of str
        Initializers (rows) and activations (columns), in configuration order.
    metrics : sequence of HeatmapMetric
        One panel each (default: accuracy, gradient ratio, dead and saturated fractions).
    zero_gradient : set of (initializer, activation, depth)
        Combinations whose first-layer gradient is exactly zero (labelled ``-inf``).
    n_seeds : int
        Seeds per combination, for the subtitle (0: not stated).
    part : str
        ``part k of n`` when the depth is split over pages.

    Returns
    -------
    Figure
        A landscape A4 page.
    """
    n = len(metrics)
    fig, axes = _panel_page(f"Trainability heatmaps at depth {depth}", "", n_seeds, part, n)
    ncols = 2 if n >= 2 else 1
    limits: dict[str, float] = {}
    for k, (ax, metric) in enumerate(zip(axes, metrics, strict=False)):
        cells = heatmap_cells(summary, depth, rows, cols, metric.column, zero_gradient)
        limit = None
        if metric.diverging:
            limit = limits[metric.column] = diverging_limit(summary, metric.column)
        mappable = draw_heatmap(ax, cells, metric, show_rows=(k % ncols == 0), limit=limit)
        cbar = fig.colorbar(mappable, ax=ax, shrink=0.9, pad=0.01, aspect=25)
        if limit is not None:
            cbar.set_label(f"decades; fixed \u00b1{limit:g} at every depth", fontsize=7.5)
    for ax in axes[n:]:
        ax.set_visible(False)
    set_footnote(fig, _heatmap_footnote(limits))
    return fig


def _heatmap_footnote(limits: dict[str, float]) -> str:
    """Footnote of a heatmap page; ``limits`` holds the diverging panels' colour ranges."""
    scale = ""
    if limits:
        lim = max(limits.values())
        scale = (
            f"The gradient panel uses one colour scale at every depth of this study: -{lim:g} to "
            f"+{lim:g} decades (the largest |log10 ratio| over all depths, rounded up, at most "
            f"{DIVERGING_CAP:g}); larger values saturate at the end colours. "
        )
    return (
        "Hatched cells labelled 'div': more than half of the seeds diverged (non-finite "
        "loss); 'k/n div': k of n seeds diverged. Accuracy is the mean over all seeds, a "
        "diverged seed counted as a failed run at chance accuracy. "
        "Panels at init use step 0 and exist even for diverged runs. 'n/a': undefined; "
        "'-inf': the first-layer gradient is exactly zero (coloured as the lowest value). "
        + scale
        + "Dead: a hidden unit whose derivative is ~0 for every probe "
        f"example; saturated: activation derivative below {SATURATION_THRESHOLD:.0%} of its "
        "maximum (for ReLU-like activations every negative pre-activation counts, so about 0.5 "
        "is normal)."
    )


def plot_depth_panels(
    summary: pd.DataFrame,
    metric: HeatmapMetric,
    depths: Sequence[int],
    rows: Sequence[str],
    cols: Sequence[str],
    *,
    n_seeds: int = 0,
    part: str = "",
) -> Figure:
    """One metric at several depths, a panel per depth (2 x 2 for four).

    Parameters
    ----------
    summary : DataFrame
        ``summary.csv``.
    metric : HeatmapMetric
        The quantity (e.g. :data:`DEAD_AT_END`).
    depths : sequence of int
        One panel each, in this order.
    rows, cols : sequence of str
        Initializers (rows) and activations (columns), in configuration order.
    n_seeds : int
        Seeds per combination, for the subtitle (0: not stated).
    part : str
        ``part k of n`` when the depths are split over pages.

    Returns
    -------
    Figure
        A landscape A4 page.
    """
    title = metric.label[0].upper() + metric.label[1:]
    fig, axes = _panel_page(title, ", one panel per depth", n_seeds, part, len(depths))
    ncols = 2 if len(depths) >= 2 else 1
    for k, (ax, depth) in enumerate(zip(axes, depths, strict=False)):
        cells = heatmap_cells(summary, depth, rows, cols, metric.column)
        mappable = draw_heatmap(ax, cells, metric, show_rows=(k % ncols == 0))
        ax.set_title(f"depth {depth}")
        fig.colorbar(mappable, ax=ax, shrink=0.9, pad=0.01, aspect=25)
    for ax in axes[len(depths) :]:
        ax.set_visible(False)
    set_footnote(
        fig,
        "Mean over the hidden layers of each run at its last checkpoint, then over the seeds "
        "that did not diverge (a diverged run has no end: hatched 'div' cells, 'n/a' when every "
        "seed diverged). Dead: a hidden unit whose activation derivative is below "
        f"{DEAD_THRESHOLD:g} of its maximum for every probe example; the step-0 value is on the "
        "heatmap pages, so units that died during training are the difference.",
    )
    return fig
