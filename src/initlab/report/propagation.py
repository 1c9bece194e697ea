"""Signal propagation pages: gradient flow across layers at init and per-layer distributions.

Gradient flow follows Glorot & Bengio (2010, AISTATS, Figs. 7-8): the rms of the
back-propagated gradient ``dL/dz`` and the norm of ``dL/dW`` against the layer index on a log
axis, at initialization, at the deepest depth; exponential decay or growth across layers is a
straight line. The distribution pages show per-layer quantile bands of the activations and of
``|dL/dz|`` (``layers.parquet``: ``a_qXX``, ``absdelta_qXX``, per run) at initialization and at the
end of training: every seed's median as its own line and each band from the lowest to the
highest value over seeds (per-run quantiles cannot be pooled exactly, and a mean of medians is
no quantile).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator

from initlab.report.data import final_layer_rows
from initlab.report.style import (
    DIVERGED_MARKER,
    log_y,
    new_page,
    panel_grid,
    place_legend,
    set_footnote,
    wrap,
)

__all__ = [
    "DISTRIBUTION_FOOTNOTE",
    "GRADIENT_QUANTITIES",
    "MEDIAN_NOISE",
    "SeedQuantiles",
    "draw_distribution_panel",
    "draw_gradient_flow",
    "draw_quantile_bands",
    "gradient_flow_means",
    "log_floor",
    "plot_distributions",
    "plot_gradient_flow",
    "seed_quantiles",
    "symlog_threshold",
]

Color = tuple[float, ...]
FloatArray = npt.NDArray[np.float64]

GRADIENT_QUANTITIES = {
    "delta_rms": "rms of dL/dz (back-propagated gradient)",
    "wgrad_norm": "||dL/dW|| (Frobenius norm)",
}
_SHORT = {"delta_rms": "rms dL/dz (log)", "wgrad_norm": "||dL/dW|| (log)"}
_QUANTILES = ("q05", "q25", "q50", "q75", "q95")
MEDIAN_NOISE = 0.02
"""On a symmetric-log axis a median within this fraction of its own interquartile range of 0
is drawn at 0: it is sampling noise of a distribution centred on 0, which the symlog scale
would otherwise blow up into a zigzag across decades."""


def gradient_flow_means(layers: pd.DataFrame, depth: int, quantity: str) -> pd.DataFrame:
    """Mean over seeds of ``quantity`` per initializer x activation x layer at step 0."""
    sel = layers[(layers["step"] == 0) & (layers["depth"] == depth)]
    return (
        sel.groupby(["initializer", "activation", "layer"], sort=False)[quantity]
        .mean()
        .reset_index()
    )


def _positive(values: FloatArray) -> FloatArray:
    """Values usable on a log axis: non-positive and non-finite ones become NaN."""
    out = np.asarray(values, dtype=float).copy()
    out[~np.isfinite(out) | (out <= 0)] = np.nan
    return out


def draw_gradient_flow(
    ax: Axes,
    means: pd.DataFrame,
    activation: str,
    initializers: Sequence[str],
    colors: Mapping[str, Color],
    quantity: str,
    depth: int,
    diverged: set[str],
) -> list[str]:
    """One panel: ``quantity`` against layer for every initializer of ``activation``.

    Initializers in ``diverged`` (some seed diverged in training) are dashed. Returns notes on
    the initializers with layers that cannot be drawn on a log axis (zero or not finite).
    """
    notes: list[str] = []
    sel = means[means["activation"] == activation]
    for init in initializers:
        rows = sel[sel["initializer"] == init].sort_values("layer")
        y = _positive(rows[quantity].to_numpy())
        n_bad = int(np.isnan(y).sum())
        if n_bad:
            notes.append(
                f"{init} (0 in {n_bad}/{len(y)} layers)"
                if n_bad < len(y)
                else f"{init} (0 everywhere)"
            )
        if rows.empty or np.all(np.isnan(y)):
            continue
        ax.plot(
            rows["layer"].to_numpy(),
            y,
            color=colors[init],
            marker="o",
            markersize=2.5,
            linestyle="--" if init in diverged else "-",
        )
    log_y(ax)
    ax.axvline(depth + 1, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("layer l")
    ax.set_xlim(0.5, depth + 1.5)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    return notes


def plot_gradient_flow(
    layers: pd.DataFrame,
    summary: pd.DataFrame,
    depth: int,
    initializers: Sequence[str],
    activations: Sequence[str],
    colors: Mapping[str, Color],
    quantity: str = "delta_rms",
    point: str = "",
) -> Figure:
    """Gradient flow at init at ``depth``: one panel per activation, one line per initializer
    (mean over seeds), log y axis; ``point`` names the extra-axis value shown (title).

    Parameters
    ----------
    layers : DataFrame
        ``layers.parquet`` (rows at step 0 are used).
    summary : DataFrame
        ``summary.csv``, for the combinations with diverged seeds (dashed).
    depth : int
        Number of hidden layers of the networks shown (the deepest of the grid).
    initializers, activations : sequence of str
        Lines and panels, in configuration order.
    colors : mapping
        Colour per initializer.
    quantity : {"delta_rms", "wgrad_norm"}
        rms of ``dL/dz`` per layer, or the Frobenius norm of ``dL/dW``.

    Returns
    -------
    Figure
        A landscape A4 page.
    """
    if quantity not in GRADIENT_QUANTITIES:
        raise ValueError(f"quantity: got {quantity!r}; allowed: {', '.join(GRADIENT_QUANTITIES)}")
    label = GRADIENT_QUANTITIES[quantity]
    fig = new_page(
        f"Gradient flow at initialization, depth {depth}: {label}"
        + (f" ({point})" if point else ""),
        subtitle="mean over seeds at step 0, log scale; one panel per activation, "
        "one line per initializer (after Glorot & Bengio 2010, Figs. 7-8)",
    )
    means = gradient_flow_means(layers, depth, quantity)
    nrows, ncols = panel_grid(len(activations) + 1)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    deep = summary[(summary["depth"] == depth) & (summary["share_diverged"] > 0)]
    for k, act in enumerate(activations):
        ax = axes[k]
        diverged = set(deep.loc[deep["activation"] == act, "initializer"])
        notes = draw_gradient_flow(ax, means, act, initializers, colors, quantity, depth, diverged)
        title = act
        if notes:
            title += "\n" + wrap("not drawn: " + ", ".join(notes), 45)
        ax.set_title(title, fontsize=8.5 if notes else None)
        if k % ncols == 0:
            ax.set_ylabel(_SHORT[quantity])
    handles = [
        Line2D([], [], color=colors[i], marker="o", markersize=3, label=i) for i in initializers
    ]
    handles.append(
        Line2D([], [], color="0.3", ls="--", label="some seeds diverged\nduring training")
    )
    place_legend(fig, axes, len(activations), handles, title="initializer")
    set_footnote(
        fig,
        (
            "Layer l = 1 is the first hidden layer, l = depth+1 (dotted line) the linear output "
            "layer. A straight line on this log "
            "axis is exponential growth or decay across layers (ordered or chaotic phase, "
            "Schoenholz et al. 2017). Dashed: the combination diverged during training in some "
            "seed (its initialization is still measured). Values that are exactly zero (or not "
            "finite) cannot be drawn on a log axis; the panel title names them (e.g. zero weights "
            "pass no gradient to the hidden layers)."
        ),
    )
    return fig


@dataclass(frozen=True)
class SeedQuantiles:
    """Per-layer quantiles of one quantity, one row per seed (no averaging over seeds).

    ``values[q]`` (``q`` in ``q05 .. q95``) has one row per seed of ``seeds`` and one column per
    layer of ``layers``; NaN where a seed has no row for a layer.
    """

    layers: FloatArray
    seeds: tuple[int, ...]
    values: Mapping[str, FloatArray]

    def lowest(self, q: str) -> FloatArray:
        """The lowest value of quantile ``q`` over seeds, per layer (NaN if no seed has one)."""
        return np.fmin.reduce(self.values[q], axis=0)

    def highest(self, q: str) -> FloatArray:
        """The highest value of quantile ``q`` over seeds, per layer (NaN if no seed has one)."""
        return np.fmax.reduce(self.values[q], axis=0)


def seed_quantiles(rows: pd.DataFrame, prefix: str) -> SeedQuantiles:
    """The ``{prefix}_q05 .. _q95`` quantiles of ``rows`` (one row per seed and layer of one
    combination at one step) arranged as seeds x layers."""
    layers = np.sort(rows["layer"].unique())
    seeds = tuple(sorted(int(s) for s in rows["seed"].unique()))
    values = {}
    for q in _QUANTILES:
        table = rows.groupby(["seed", "layer"])[f"{prefix}_{q}"].mean().unstack("layer")
        values[q] = table.reindex(index=list(seeds), columns=layers).to_numpy(dtype=float)
    return SeedQuantiles(layers.astype(float), seeds, values)


def symlog_threshold(frames: Sequence[pd.DataFrame], prefix: str) -> float | None:
    """Linear threshold of a symmetric-log axis for signed quantiles whose spread grows over
    more than two decades across layers (exploding activations), else None (linear axis).

    ``frames`` hold one row per seed and layer (or per layer); the spread of a row is
    ``max(|q05|, |q95|)`` and the threshold is the smallest positive spread, so every layer's
    5-95% band reaches beyond the linear part of the axis.
    """
    spreads = [
        np.abs(f[[f"{prefix}_q05", f"{prefix}_q95"]].to_numpy(dtype=float)).max(axis=1)
        for f in frames
        if len(f)
    ]
    if not spreads:
        return None
    spread = np.concatenate(spreads)
    spread = spread[np.isfinite(spread) & (spread > 0)]
    if spread.size and spread.max() / spread.min() > 100:
        return float(spread.min())
    return None


def log_floor(frames: Sequence[pd.DataFrame], prefix: str) -> float:
    """Where exact zeros of non-negative quantiles are drawn on a log axis: a third of the
    smallest positive quantile of ``frames`` (1e-12 when none is positive)."""
    cols = [f"{prefix}_{q}" for q in _QUANTILES]
    values = [f[cols].to_numpy(dtype=float).ravel() for f in frames if len(f)]
    stacked = np.concatenate(values) if values else np.empty(0)
    pos = stacked[np.isfinite(stacked) & (stacked > 0)]
    return float(pos.min()) / 3.0 if pos.size else 1e-12


def _symlog_y(ax: Axes, linthresh: float, top: float) -> None:
    """Symmetric-log y axis with a tick every few decades (at most about 4 on each side of
    zero) and none inside the linear band, where they would overprint the 0 label."""
    ax.set_yscale("symlog", linthresh=linthresh)
    hi = math.log10(max(top, linthresh * 10))
    step = max(1, math.ceil((hi - math.log10(linthresh)) / 4))
    exps = np.arange(math.floor(hi), math.log10(linthresh), -step)[::-1]
    ticks = [*(-(10.0 ** exps[::-1])), 0.0, *(10.0**exps)]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_minor_locator(NullLocator())


def _mark_zero_floor(ax: Axes, floor: float) -> None:
    """A dotted line at ``floor`` labelled ``= 0``: where exact zeros sit on a log axis."""
    ax.axhline(floor, color="0.55", lw=0.6, ls=(0, (1, 2)))
    ax.text(
        0.99,
        floor,
        "exact 0",
        transform=ax.get_yaxis_transform(),
        ha="right",
        va="bottom",
        fontsize=6.5,
        color="0.35",
    )


def draw_quantile_bands(
    ax: Axes,
    sq: SeedQuantiles,
    color: Color,
    *,
    floor: float | None = None,
    linthresh: float | None = None,
) -> None:
    """Draw the q05-q95 and q25-q75 bands (each from the lowest to the highest value over
    seeds) and every seed's median as its own thin line, against layer.

    With ``floor`` the axis is logarithmic and exact zeros are drawn at ``floor`` (marked by a
    dotted ``exact 0`` line); with ``linthresh`` (see :func:`symlog_threshold`) the axis is
    symmetric-log, where zeros lie on the 0 line and so do medians within
    :data:`MEDIAN_NOISE` of the seed's interquartile range of 0. Medians are never averaged
    over seeds: a mean of per-seed medians is no quantile of anything.
    """
    x = sq.layers

    def shown(v: FloatArray) -> FloatArray:
        if floor is None:
            return v
        return np.where(np.isfinite(v), np.maximum(v, floor), np.nan)

    if floor is not None:
        log_y(ax)
        if any(np.any(v[np.isfinite(v)] <= 0) for v in sq.values.values()):
            _mark_zero_floor(ax, floor)
    elif linthresh is not None:
        edges = np.abs(np.concatenate([sq.lowest("q05"), sq.highest("q95")]))
        edges = edges[np.isfinite(edges)]
        _symlog_y(ax, linthresh, float(edges.max()) if edges.size else linthresh * 10)
    for lo, hi, alpha in (("q05", "q95", 0.16), ("q25", "q75", 0.34)):
        bottom, top = shown(sq.lowest(lo)), shown(sq.highest(hi))
        if len(x) > 1:
            ax.fill_between(x, bottom, top, color=color, alpha=alpha, lw=0)
        else:
            ax.bar(x, top - bottom, bottom=bottom, width=0.35, color=color, alpha=alpha)
    medians = sq.values["q50"]
    if linthresh is not None:
        iqr = sq.values["q75"] - sq.values["q25"]
        medians = np.where(np.abs(medians) < MEDIAN_NOISE * iqr, 0.0, medians)
    for median in medians:
        ax.plot(x, shown(median), color=color, lw=0.8, marker="o", markersize=1.8, alpha=0.95)


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=8, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


@dataclass(frozen=True)
class _PairRuns:
    """The layer rows and runs of one (initializer, activation) pair at one depth, with the
    axis settings its panels share (symlog threshold of the activations, log floor of
    |dL/dz|)."""

    init: str
    act: str
    init_rows: pd.DataFrame
    end_rows: pd.DataFrame
    comb: pd.DataFrame
    div: pd.DataFrame
    linthresh: float | None
    floor: float

    def panels(self) -> tuple[tuple[pd.DataFrame, str, str], ...]:
        """(rows, quantile prefix, when) of the four panels of the pair's row."""
        return (
            (self.init_rows, "a", "at init"),
            (self.end_rows, "a", "at end"),
            (self.init_rows, "absdelta", "at init"),
            (self.end_rows, "absdelta", "at end"),
        )


def _pair_runs(
    layers: pd.DataFrame, final: pd.DataFrame, runs: pd.DataFrame, init: str, act: str, depth: int
) -> _PairRuns:
    """Rows at init and at the end, the runs (and diverged runs) of ``init`` x ``act`` at
    ``depth``, and the axis settings shared by its panels."""
    key = (
        (layers["initializer"] == init) & (layers["activation"] == act) & (layers["depth"] == depth)
    )
    init_rows = layers[key & (layers["step"] == 0)]
    end_rows = final[
        (final["initializer"] == init) & (final["activation"] == act) & (final["depth"] == depth)
    ]
    comb = runs[
        (runs["initializer"] == init) & (runs["activation"] == act) & (runs["depth"] == depth)
    ]
    hidden = [init_rows[init_rows["layer"] <= depth], end_rows[end_rows["layer"] <= depth]]
    return _PairRuns(
        init,
        act,
        init_rows,
        end_rows,
        comb,
        comb[comb["diverged"]],
        symlog_threshold(hidden, "a"),
        log_floor([init_rows, end_rows], "absdelta"),
    )


def _note_missing(ax: Axes, pair: _PairRuns) -> None:
    """Say why a panel is empty: every seed diverged, or no data."""
    div, comb = pair.div, pair.comb
    steps = ", ".join(str(int(s)) for s in div["diverged_step"].dropna())
    all_div = len(comb) > 0 and len(div) == len(comb)
    _note(
        ax,
        (
            f"{DIVERGED_MARKER} all {len(comb)} seeds diverged (steps {steps}):\n"
            "no end-of-training state"
        )
        if all_div
        else "no data",
    )


def draw_distribution_panel(
    ax: Axes,
    rows: pd.DataFrame,
    prefix: str,
    when: str,
    depth: int,
    color: Color,
    *,
    linthresh: float | None = None,
    floor: float | None = None,
    n_diverged: int = 0,
    n_runs: int = 0,
) -> None:
    """Per-seed quantile bands of ``prefix`` quantiles against layer in one panel.

    Parameters
    ----------
    ax : Axes
        The panel.
    rows : DataFrame
        The layer rows to draw, one per seed and layer (the hidden layers only for
        activations).
    prefix : {"a", "absdelta"}
        Activations (linear or symmetric-log axis) or |dL/dz| (log axis, output layer dotted).
    when : {"at init", "at end"}
        At the end of training the panel says how many seeds diverged and are left out.
    depth : int
        The depth shown.
    color : tuple of float
        Colour of the initializer.
    linthresh : float, optional
        Symmetric-log threshold of the activation axis (:func:`symlog_threshold`).
    floor : float, optional
        Where exact zeros of |dL/dz| are drawn on its log axis (default: :func:`log_floor` of
        ``rows``).
    n_diverged, n_runs : int
        Diverged seeds and all seeds of the combination.
    """
    log = prefix == "absdelta"
    if log and floor is None:
        floor = log_floor([rows], prefix)
    draw_quantile_bands(
        ax,
        seed_quantiles(rows, prefix),
        color,
        floor=floor if log else None,
        linthresh=None if log else linthresh,
    )
    ax.set_xlim(0.5, depth + (1.5 if log else 0.5))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    if log:
        ax.axvline(depth + 1, color="0.5", lw=0.8, ls=":")
    if when == "at end" and n_diverged:
        ax.text(
            0.02,
            0.97,
            f"{n_diverged}/{n_runs} seeds diverged, not included",
            transform=ax.transAxes,
            va="top",
            fontsize=7.5,
        )


def _draw_distribution_row(
    axes: Sequence[Axes], pair: _PairRuns, depth: int, color: Color, *, first: bool, last: bool
) -> None:
    """The four panels of one pair; titles on the ``first`` row, x labels on the ``last``."""
    for c, (rows, prefix, when) in enumerate(pair.panels()):
        ax = axes[c]
        what = "activations a" if prefix == "a" else "|dL/dz|"
        if first:
            ax.set_title(f"{what} {when}")
        sel = rows[rows["layer"] <= depth] if prefix == "a" else rows
        if last:
            ax.set_xlabel("layer l")
        if sel.empty:
            _note_missing(ax, pair)
            if c == 0:
                ax.set_ylabel(f"{pair.init} \u00d7 {pair.act}")
            continue
        draw_distribution_panel(
            ax,
            sel,
            prefix,
            when,
            depth,
            color,
            linthresh=pair.linthresh,
            floor=pair.floor,
            n_diverged=len(pair.div),
            n_runs=len(pair.comb),
        )
        if c == 0:
            scale = ""
            if ax.get_yscale() == "symlog" and pair.linthresh is not None:
                scale = f"\n(symlog, linear within \u00b1{pair.linthresh:.0e})"
            ax.set_ylabel(f"{pair.init} \u00d7 {pair.act}\na = phi(z){scale}")
        elif c == 2:
            ax.set_ylabel("|dL/dz| (log)")
    _share_ylim(axes)


def _share_ylim(axes: Sequence[Axes]) -> None:
    """The same y range at init and at the end, per quantity (panels 0-1 and 2-3)."""
    for c0 in (0, 2):
        a0, a1 = axes[c0], axes[c0 + 1]
        if a0.has_data() and a1.has_data():
            lo = min(a0.get_ylim()[0], a1.get_ylim()[0])
            hi = max(a0.get_ylim()[1], a1.get_ylim()[1])
            a0.set_ylim(lo, hi)
            a1.set_ylim(lo, hi)


DISTRIBUTION_FOOTNOTE = (
    "Each seed's median is its own thin line (medians are not averaged over seeds); each band "
    "runs from the lowest to the highest value of its quantiles over the seeds (light: 5-95%, "
    "dark: 25-75%). End = last checkpoint of each run that did not diverge. Activation panels "
    "show the hidden layers 1..depth; |dL/dz| panels also the linear output layer (dotted "
    "vertical line). Symlog activation axes are linear within \u00b1 the stated threshold (the "
    "narrowest 5-95% half-width of any layer and seed), so exact zeros lie on the 0 line; so "
    f"does a median within {MEDIAN_NOISE:.0%} of its seed's interquartile range of 0 (sampling "
    "noise of a distribution centred on 0, which the symlog scale would blow up into a zigzag "
    "across decades). On the log |dL/dz| axes exact zeros "
    "(e.g. ReLU units with negative input) are drawn at the dotted 'exact 0' line, a third below "
    "the smallest positive value of the row."
)
"""Footnote of the distribution pages."""


def plot_distributions(
    layers: pd.DataFrame,
    runs: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    depth: int,
    colors: Mapping[str, Color],
    part: str = "",
) -> Figure:
    """Per-layer quantile bands of activations and |dL/dz| at init and at the end of training.

    One row per (initializer, activation) pair at ``depth``; columns: activations at init,
    activations at the end, |delta| at init, |delta| at the end. Every seed's median is drawn
    as its own line, and each band spans the lowest to the highest value of its quantiles over
    seeds (``layers.parquet`` holds per-run quantiles, which cannot be pooled exactly).

    Parameters
    ----------
    layers : DataFrame
        Rows of ``layers.parquet`` (``a_qXX`` and ``absdelta_qXX`` columns; step 0 and each
        run's last step).
    runs : DataFrame
        ``runs.csv``: diverged runs have no end-of-training state and are named instead.
    pairs : sequence of (str, str)
        The (initializer, activation) rows of this page.
    depth : int
        The depth shown.
    colors : mapping
        Colour per initializer.
    part : str
        ``part k of n`` when the pairs are split over pages.

    Returns
    -------
    Figure
        A landscape A4 page.
    """
    fig = new_page(
        f"Per-layer distributions at depth {depth}" + (f" ({part})" if part else ""),
        subtitle="one row per highlighted initializer \u00d7 activation; thin lines: the median "
        "of each seed; bands: 25-75% and 5-95% quantiles, each from the lowest to the highest "
        "value over seeds; left: activations a = phi(z) of the hidden layers, right: |dL/dz| "
        "of every layer",
    )
    axes = fig.subplots(len(pairs), 4, squeeze=False)
    final = final_layer_rows(layers, runs)
    for r, (init, act) in enumerate(pairs):
        pair = _pair_runs(layers, final, runs, init, act, depth)
        _draw_distribution_row(
            axes[r], pair, depth, colors[init], first=r == 0, last=r == len(pairs) - 1
        )
    set_footnote(fig, DISTRIBUTION_FOOTNOTE)
    return fig


def pair_rows(pairs: Sequence[tuple[str, str]], per_page: int = 2) -> list[list[Any]]:
    """Split the highlight pairs into pages of ``per_page`` rows."""
    return [list(pairs[k : k + per_page]) for k in range(0, len(pairs), per_page)]
