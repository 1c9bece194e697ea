"""Training pages: learning curves over seeds and test accuracy against depth.

Learning curves (``curves.parquet``) follow He et al. (2015, ICCV, the 22- and 30-layer ReLU nets)
and Klambauer et al. (2017, SELU): loss and accuracy against epoch, mean with the min-max band
over seeds, one panel per depth. Depth scaling (``summary.csv``) shows the mean final test
accuracy with its 95% interval against depth, one panel per activation, and each seed's final
test accuracy (``runs.csv``) as a small dot beside it. Diverged runs, which have no curve after
their divergence, are marked with ``x``. The curves' accuracy is validation accuracy, measured at
every checkpoint; test accuracy is measured once, at the end of training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.stats as sps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from initlab.report.style import (
    DIVERGED_MARKER,
    log_y,
    new_page,
    panel_grid,
    place_legend,
    set_footnote,
)

__all__ = [
    "LOSS_CAP",
    "VALIDATION_NOTE",
    "draw_curve",
    "draw_depth_scaling",
    "draw_seed_points",
    "plot_depth_scaling",
    "plot_learning_curves",
    "seed_count_text",
    "steps_per_epoch",
    "t_interval_note",
]

Color = tuple[float, ...]
FloatArray = npt.NDArray[np.float64]
LOSS_CAP = 50.0
"""Upper limit of the loss axes (nats): exploding initial losses (1e20) would flatten the rest."""

VALIDATION_NOTE = (
    "The accuracy curves are validation accuracy (the held-out validation split, measured at "
    "every checkpoint); the test accuracy of the other pages is measured once, at the end of "
    "training, so it has no curve."
)
"""Why the learning curves show validation accuracy while the other pages show test accuracy."""


def steps_per_epoch(curves: pd.DataFrame) -> float:
    """Optimizer steps per epoch, from the checkpoints after epoch 0 (NaN if there are none)."""
    later = curves[curves["epoch"] > 0]
    if later.empty:
        return math.nan
    return float(np.median(later["step"] / later["epoch"]))


def draw_curve(ax: Axes, rows: pd.DataFrame, column: str, color: Color) -> None:
    """Mean over seeds of ``column`` against epoch, with the min-max band over seeds."""
    stats = rows.groupby("epoch")[column].agg(["mean", "min", "max"]).sort_index()
    x = stats.index.to_numpy(dtype=float)
    ax.plot(x, stats["mean"].to_numpy(), color=color, marker="o", markersize=2.5)
    if len(x) > 1:
        ax.fill_between(
            x, stats["min"].to_numpy(), stats["max"].to_numpy(), color=color, alpha=0.18, lw=0
        )


def _mark_diverged(ax: Axes, runs: pd.DataFrame, color: Color, spe: float, y_axes: float) -> int:
    """``x`` at the epoch of each diverged run, at height ``y_axes`` (axes fraction)."""
    div = runs[runs["diverged"]]
    for step in div["diverged_step"].astype(float):
        x = step / spe if np.isfinite(spe) and np.isfinite(step) else 0.0
        ax.plot(
            [x],
            [y_axes],
            marker=DIVERGED_MARKER,
            color=color,
            markersize=6,
            mew=1.6,
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            linestyle="none",
        )
    return len(div)


def _legend_handles(
    initializers: Sequence[str],
    colors: Mapping[str, Color],
    target: float,
    n_classes: int | None,
    diverged_label: str,
    target_label: str = "target",
) -> list[Line2D]:
    """Legend entries shared by the training pages: one per initializer, the target and
    chance lines, and the diverged marker."""
    handles = [
        Line2D([], [], color=colors[i], marker="o", markersize=3, label=i) for i in initializers
    ]
    handles += [Line2D([], [], color="0.4", ls="--", lw=0.8, label=f"{target_label} {target:g}")]
    if n_classes:
        handles += [Line2D([], [], color="0.4", ls=":", lw=0.8, label="chance")]
    handles.append(
        Line2D(
            [], [], color="0.3", marker=DIVERGED_MARKER, ls="none", mew=1.6, label=diverged_label
        )
    )
    return handles


def plot_learning_curves(
    curves: pd.DataFrame,
    runs: pd.DataFrame,
    activation: str,
    depths: Sequence[int],
    initializers: Sequence[str],
    colors: Mapping[str, Color],
    *,
    target: float,
    n_classes: int | None = None,
) -> Figure:
    """Learning curves of ``activation``: train loss (top) and validation accuracy (bottom)
    against epoch, one column per depth, one line per initializer.

    Parameters
    ----------
    curves : DataFrame
        ``curves.parquet``: one row per run x checkpoint.
    runs : DataFrame
        ``runs.csv``, for the diverged runs and their steps (``x`` markers).
    activation : str
        The activation of this page.
    depths, initializers : sequence
        Columns and lines, in configuration order.
    colors : mapping
        Colour per initializer.
    target : float
        Target accuracy (dashed line).
    n_classes : int, optional
        Number of classes; draws the chance level.

    Returns
    -------
    Figure
        A landscape A4 page.
    """
    fig = new_page(
        f"Learning curves: {activation} (train loss, validation accuracy)",
        subtitle="mean over seeds with min-max band; one column per depth, one line "
        "per initializer; x = a run diverged at that point; accuracy is validation accuracy "
        "(test accuracy is measured once, at the end)",
    )
    axes = fig.subplots(2, len(depths), squeeze=False, sharex=True)
    spe = steps_per_epoch(curves)
    n_div = 0
    for c, depth in enumerate(depths):
        loss_ax, acc_ax = axes[0, c], axes[1, c]
        cur = curves[(curves["activation"] == activation) & (curves["depth"] == depth)]
        rs = runs[(runs["activation"] == activation) & (runs["depth"] == depth)]
        finite = cur["train_loss"][np.isfinite(cur["train_loss"]) & (cur["train_loss"] > 0)]
        for init in initializers:
            rows = cur[cur["initializer"] == init]
            if rows.empty:
                continue
            draw_curve(loss_ax, rows, "train_loss", colors[init])
            draw_curve(acc_ax, rows, "val_acc", colors[init])
            r_init = rs[rs["initializer"] == init]
            n_div += _mark_diverged(loss_ax, r_init, colors[init], spe, 0.96)
            _mark_diverged(acc_ax, r_init, colors[init], spe, 0.04)
        log_y(loss_ax)
        if len(finite):
            lo, hi = float(finite.min()), min(float(finite.max()), LOSS_CAP)
            loss_ax.set_ylim(lo / 1.3, max(hi * 1.3, lo * 2))
        acc_ax.set_ylim(0, 1)
        acc_ax.axhline(target, color="0.4", ls="--", lw=0.8)
        if n_classes:
            acc_ax.axhline(1.0 / n_classes, color="0.4", ls=":", lw=0.8)
        loss_ax.set_title(f"depth {depth}")
        acc_ax.set_title("validation accuracy", fontsize=8)
        acc_ax.set_xlabel("epoch")
        acc_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if c == 0:
            loss_ax.set_ylabel("train loss (cross-entropy, nats, log)")
            acc_ax.set_ylabel("validation accuracy (fraction)")
    handles = _legend_handles(
        initializers, colors, target, n_classes, "diverged run", "target validation acc."
    )
    fig.legend(handles=handles, loc="outside right center", title="initializer")
    note = VALIDATION_NOTE + (
        f" Loss axes are capped at {LOSS_CAP:g} nats (exploding initializations start far "
        "above). A diverged run stops at its divergence: its x marks the epoch (optimizer "
        "step / steps per epoch); later means are over the remaining seeds."
    )
    note += f" Diverged runs on this page: {n_div}." if n_div else " No run diverged here."
    set_footnote(fig, note)
    return fig


SEED_DOT_SHIFT = 0.010
"""How far (log10 of depth, or depth / 4 on a linear axis) the first seed's dot sits right of
its mean."""

SEED_DOT_SPREAD = 0.012
"""Sideways room shared by the seeds' dots (same units), so that equal accuracies stay
separate points."""


def _positions(depth: FloatArray, off: float | FloatArray, log_x: bool) -> FloatArray:
    """x of points at ``depth`` moved sideways by ``off`` (log10 units, or 4 x on a linear
    axis)."""
    return depth * 10**off if log_x else depth + off * 4


def draw_seed_points(
    ax: Axes,
    runs: pd.DataFrame,
    initializer: str,
    color: Color,
    off: float,
    *,
    log_x: bool,
) -> int:
    """Each seed's final test accuracy as a small dot just right of its mean (at dodge
    ``off``), the seeds side by side so that equal accuracies stay separate points; diverged
    seeds have no test accuracy and no dot. Returns the dots drawn.

    Parameters
    ----------
    ax : Axes
        The activation's panel.
    runs : DataFrame
        ``runs.csv`` rows of one activation.
    initializer : str
        The initializer whose seeds are drawn.
    color : tuple of float
        Its colour.
    off : float
        The sideways dodge of the initializer's means (see :func:`draw_depth_scaling`).
    log_x : bool
        Whether the depth axis is logarithmic.
    """
    sel = runs[runs["initializer"] == initializer]
    by_depth = sel.groupby("depth")["seed"]
    rank = (by_depth.rank(method="first") - 1).to_numpy(dtype=float)
    spread = SEED_DOT_SPREAD / np.maximum(by_depth.transform("count").to_numpy(dtype=float) - 1, 1)
    acc = sel["final_test_acc"].to_numpy(dtype=float)
    ok = np.isfinite(acc) & ~sel["diverged"].astype(bool).to_numpy()
    if not ok.any():
        return 0
    shift = off + SEED_DOT_SHIFT + (rank * spread)[ok]
    x = _positions(sel["depth"].to_numpy(dtype=float)[ok], shift, log_x)
    ax.plot(
        x,
        acc[ok],
        marker="o",
        markersize=2.6,
        mew=0,
        color=color,
        alpha=0.85,
        linestyle="none",
        zorder=3,
    )
    return int(ok.sum())


def draw_depth_scaling(
    ax: Axes,
    summary: pd.DataFrame,
    activation: str,
    initializers: Sequence[str],
    depths: Sequence[int],
    colors: Mapping[str, Color],
    *,
    log_x: bool,
    runs: pd.DataFrame | None = None,
) -> None:
    """Mean test accuracy against depth for every initializer of ``activation``, with 95%
    intervals (clipped to [0, 1]); diverged combinations as ``x`` at zero. With ``runs``,
    every seed's final test accuracy is a small dot beside its mean."""
    sel = summary[summary["activation"] == activation]
    seeds = None if runs is None else runs[runs["activation"] == activation]
    n = len(initializers)
    for k, init in enumerate(initializers):
        rows = sel[sel["initializer"] == init].sort_values("depth")
        if rows.empty:
            continue
        # dodge the points sideways so that error bars do not hide each other
        off = (k - (n - 1) / 2) * 0.035
        x = _positions(rows["depth"].to_numpy(dtype=float), off, log_x)
        ok = (rows["verdict"] != "diverged").to_numpy()
        y = np.where(ok, rows["final_test_acc_mean"].to_numpy(dtype=float), np.nan)
        ax.errorbar(
            x,
            y,
            yerr=_error_bars(rows, y),
            color=colors[init],
            marker="o",
            markersize=3.5,
            capsize=2,
            lw=1.2,
            elinewidth=0.8,
        )
        if seeds is not None:
            draw_seed_points(ax, seeds, init, colors[init], off, log_x=log_x)
        if (~ok).any():
            ax.plot(
                x[~ok],
                np.zeros((~ok).sum()),
                marker=DIVERGED_MARKER,
                color=colors[init],
                markersize=7,
                mew=1.8,
                linestyle="none",
                clip_on=False,
            )
    if log_x:
        ax.set_xscale("log")
    ax.set_xticks(list(depths), [str(d) for d in depths])
    ax.minorticks_off()
    ax.set_ylim(-0.03, 1.03)


def _error_bars(rows: pd.DataFrame, y: FloatArray) -> FloatArray:
    """Lower and upper lengths of the 95% intervals (clipped to [0, 1]) around ``y``; 0 where
    the interval is undefined."""
    lo = np.clip(rows["final_test_acc_ci95_lo"].to_numpy(dtype=float), 0, 1)
    hi = np.clip(rows["final_test_acc_ci95_hi"].to_numpy(dtype=float), 0, 1)
    err = np.vstack([np.where(np.isfinite(lo), y - lo, 0), np.where(np.isfinite(hi), hi - y, 0)])
    return np.where(np.isfinite(err), np.maximum(err, 0), 0)


def seed_count_text(summary: pd.DataFrame) -> str:
    """``"2"`` or ``"2-5"``: the number of seeds behind the summary's rows."""
    counts = sorted({int(n) for n in summary["n_seeds"]})
    if not counts:
        return "0"
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def t_interval_note(summary: pd.DataFrame) -> str:
    """``t = 12.7 for 2 seeds``: the Student-t quantile of the 95% intervals for the seed
    counts of ``summary.csv`` (its ``n_seeds`` column), so captions never hard-code it."""
    counts = sorted({int(n) for n in summary["n_seeds"]})
    parts = [f"t = {float(sps.t.ppf(0.975, n - 1)):.3g} for {n} seeds" for n in counts if n >= 2]
    if not parts:
        return "one seed: no interval"
    return ", ".join(parts)


def plot_depth_scaling(
    summary: pd.DataFrame,
    initializers: Sequence[str],
    activations: Sequence[str],
    depths: Sequence[int],
    colors: Mapping[str, Color],
    *,
    target: float,
    n_classes: int | None = None,
    runs: pd.DataFrame | None = None,
) -> Figure:
    """Mean final test accuracy against depth per initializer, one panel per activation.

    Parameters
    ----------
    summary : DataFrame
        ``summary.csv``.
    initializers, activations, depths : sequence
        The grid, in configuration order.
    colors : mapping
        Colour per initializer.
    target : float
        Target accuracy of the study (dashed line).
    n_classes : int, optional
        Number of classes; draws the chance level ``1 / n_classes``.
    runs : DataFrame, optional
        ``runs.csv``: each seed's final test accuracy is drawn as a small dot beside its mean,
        so that a reader sees how many seeds stand behind each point.

    Returns
    -------
    Figure
        A landscape A4 page.
    """
    dots = "; small dots: each seed" if runs is not None else ""
    fig = new_page(
        "Depth scaling: test accuracy against depth",
        subtitle="mean final test accuracy over all seeds (a diverged seed counted at chance) "
        f"with 95% Student-t interval (clipped to [0, 1]){dots}; one panel per activation",
    )
    nrows, ncols = panel_grid(len(activations) + 1)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True).ravel()
    log_x = max(depths) / min(depths) >= 4
    for k, act in enumerate(activations):
        ax = axes[k]
        draw_depth_scaling(ax, summary, act, initializers, depths, colors, log_x=log_x, runs=runs)
        ax.axhline(target, color="0.4", ls="--", lw=0.8)
        if n_classes:
            ax.axhline(1.0 / n_classes, color="0.4", ls=":", lw=0.8)
        ax.set_title(act)
        ax.set_xlabel("depth (hidden layers" + (", log scale)" if log_x else ")"))
        if k % ncols == 0:
            ax.set_ylabel("mean final test accuracy (fraction)")
    handles = _legend_handles(initializers, colors, target, n_classes, "diverged (> half of seeds)")
    if runs is not None:
        handles.append(
            Line2D([], [], color="0.3", marker="o", markersize=2.2, ls="none", label="one seed")
        )
    place_legend(fig, axes, len(activations), handles, title="initializer")
    set_footnote(fig, _depth_scaling_footnote(summary, runs is not None))
    return fig


def _depth_scaling_footnote(summary: pd.DataFrame, dots: bool) -> str:
    """Footnote of the depth-scaling page: seeds per point, the t quantile, the dots."""
    n = seed_count_text(summary)
    text = (
        f"{n} seeds per point. Points are offset sideways per initializer so that intervals do "
        "not hide each other. Combinations where more than half of the seeds diverged are "
        "drawn as x at zero. "
    )
    if dots:
        text += (
            "The small dots just right of each mean are the final test accuracies of its "
            "individual seeds (a diverged seed has none and no dot; the mean counts it at "
            "chance). "
        )
    return text + (
        f"With {n} seeds the Student-t interval is wide ({t_interval_note(summary)}: the "
        "half-width is t times the standard error)."
    )
