"""Trainability over (sigma_w^2, depth) with the mean-field depth scale drawn over it.

Schoenholz et al. (2017, ICLR, "Deep Information Propagation") found that random tanh networks
train when their depth is below about six correlation depth scales, ``L <~ 6 xi_c``. When a
study sweeps the weight variance (several initializers of one activation with distinct hidden
``sigma_w^2``), this page shows mean test accuracy over ``sigma_w^2`` x depth for each such
activation, with ``6 xi_c(sigma_w^2)`` from ``theory.csv`` drawn over it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from initlab.report.style import new_page, panel_grid, set_footnote

__all__ = [
    "MIN_SWEEP",
    "draw_sigma_depth_heatmap",
    "plot_sigma_depth_heatmaps",
    "sweep_activations",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MIN_SWEEP = 3
"""Distinct hidden sigma_w^2 values an activation needs for the page to be drawn."""


def _sweep(theory: pd.DataFrame, activation: str) -> pd.DataFrame:
    """One row per initializer: the network's ``sigma_w2`` (``sigma_w2_hidden``) and ``xi_c``
    of ``activation`` (theory.csv; the deepest depth, where both are defined by the hidden
    layers)."""
    rows = theory[theory["activation"] == activation]
    rows = rows[rows["depth"] == rows["depth"].max()]
    per = rows.groupby("initializer", sort=False)[["sigma_w2_hidden", "xi_c"]].first()
    per = per.reset_index().rename(columns={"sigma_w2_hidden": "sigma_w2"})
    return per[np.isfinite(per["sigma_w2"])].sort_values("sigma_w2", kind="stable")


def sweep_activations(theory: pd.DataFrame, activations: Sequence[str]) -> list[str]:
    """The activations whose initializers span at least :data:`MIN_SWEEP` distinct sigma_w^2."""
    if theory.empty or "layer" not in theory:
        return []
    return [a for a in activations if _sweep(theory, a)["sigma_w2"].round(6).nunique() >= MIN_SWEEP]


def _accuracy_grid(
    summary: pd.DataFrame, sweep: pd.DataFrame, activation: str, depths: Sequence[int]
) -> tuple[FloatArray, BoolArray]:
    """Mean test accuracy (NaN where absent) and the diverged verdicts, depth x initializer."""
    acc = np.full((len(depths), len(sweep)), np.nan)
    diverged = np.zeros_like(acc, dtype=bool)
    for j, init in enumerate(sweep["initializer"]):
        for i, depth in enumerate(depths):
            row = summary[
                (summary["initializer"] == init)
                & (summary["activation"] == activation)
                & (summary["depth"] == depth)
            ]
            if len(row):
                acc[i, j] = row["final_test_acc_mean"].iloc[0]
                diverged[i, j] = row["verdict"].iloc[0] == "diverged"
    return acc, diverged


def _label_cells(ax: Axes, acc: FloatArray, diverged: BoolArray, target: float) -> None:
    """Write each cell's accuracy ('div' when diverged), bold at or above ``target``."""
    for i in range(acc.shape[0]):
        for j in range(acc.shape[1]):
            label = "div" if diverged[i, j] else f"{acc[i, j]:.2f}"
            if np.isfinite(acc[i, j]) or diverged[i, j]:
                color = "white" if not np.isfinite(acc[i, j]) or acc[i, j] < 0.6 else "black"
                weight = "bold" if np.isfinite(acc[i, j]) and acc[i, j] >= target else None
                ax.text(
                    j,
                    i,
                    label,
                    ha="center",
                    va="center",
                    fontsize=7,
                    color=color,
                    fontweight=weight,
                )


def _draw_six_xi(ax: Axes, sweep: pd.DataFrame, depths: Sequence[int]) -> None:
    """Draw 6 xi_c over the cells: depth units mapped to row coordinates by interpolating over
    the depth axis, clipped to the panel."""
    six_xi = 6.0 * sweep["xi_c"].to_numpy(dtype=float)
    idx = np.arange(len(depths), dtype=float)
    finite_depths = np.asarray(depths, dtype=float)
    y = np.interp(np.minimum(six_xi, 1e9), finite_depths, idx, left=-0.5, right=len(depths))
    ax.plot(
        np.arange(len(sweep)),
        np.clip(y, -0.5, len(depths) - 0.5),
        color="white",
        lw=2.0,
        marker="o",
        ms=3,
    )


def draw_sigma_depth_heatmap(
    ax: Axes, summary: pd.DataFrame, sweep: pd.DataFrame, activation: str, target: float
) -> AxesImage:
    """One panel: mean test accuracy over hidden ``sigma_w^2`` x depth with 6 xi_c over it.

    Parameters
    ----------
    ax : Axes
        The panel.
    summary : DataFrame
        ``summary.csv`` of the study.
    sweep : DataFrame
        One row per initializer of ``activation``, sorted by ``sigma_w2``, with ``xi_c``.
    activation : str
        The activation (the panel title).
    target : float
        The study's target accuracy (values at or above it are bold).

    Returns
    -------
    AxesImage
        The heatmap, for the colour bar.
    """
    depths = sorted(summary.loc[summary["activation"] == activation, "depth"].unique())
    acc, diverged = _accuracy_grid(summary, sweep, activation, depths)
    image = ax.imshow(acc, origin="lower", aspect="auto", vmin=0, vmax=1, cmap="viridis")
    _label_cells(ax, acc, diverged, target)
    _draw_six_xi(ax, sweep, depths)
    ax.set_xticks(
        range(len(sweep)),
        [
            f"{v:.3g}  {name}"
            for v, name in zip(sweep["sigma_w2"], sweep["initializer"], strict=True)
        ],
        rotation=90,
        fontsize=6.5,
    )
    ax.set_yticks(range(len(depths)), [str(d) for d in depths])
    ax.set_xlabel("hidden sigma_w^2 = fan_in Var[W]", fontsize=8)
    ax.set_ylabel("depth (hidden layers)")
    ax.set_title(activation)
    ax.grid(False)
    return image


def plot_sigma_depth_heatmaps(
    summary: pd.DataFrame,
    theory: pd.DataFrame,
    activations: Sequence[str],
    target: float,
    point: str = "",
) -> Figure:
    """Mean test accuracy over hidden ``sigma_w^2`` (columns) x depth (rows), one panel per
    activation, with the ``6 xi_c`` trainability depth of mean-field theory overlaid.

    Parameters
    ----------
    summary, theory : DataFrame
        ``summary.csv`` and ``theory.csv`` of the study.
    activations : sequence of str
        From :func:`sweep_activations`.
    target : float
        The study's target accuracy (cells at or above it are outlined).
    point : str
        The extra-axis value the accuracies are at (title; empty: the baseline).

    Returns
    -------
    Figure
    """
    fig = new_page(
        "Trainability against weight variance and depth" + (f" ({point})" if point else ""),
        subtitle="mean final test accuracy over all seeds; white line: 6 xi_c, six correlation "
        "depth scales, the trainable depth Schoenholz et al. (2017) found for tanh nets with "
        "sigma_b^2 > 0",
    )
    rows, cols = panel_grid(len(activations))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    image = None
    for ax, act in zip(axes, activations, strict=False):
        image = draw_sigma_depth_heatmap(ax, summary, _sweep(theory, act), act, target)
    for ax in axes[len(activations) :]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(
            image, ax=list(axes[: len(activations)]), label="test accuracy (fraction)", shrink=0.8
        )
    set_footnote(
        fig,
        "Columns are the study's initializers of each activation, sorted by their hidden-layer "
        "sigma_w^2. The line is the correlation depth scale xi_c of theory.csv: -1/ln of the "
        "c-map's slope at its fixed point c*, which is chi_1 only at a length fixed point "
        "q* > 0; it is infinite (the line leaves the top of the panel) on the edge of chaos and "
        "wherever that slope is 1 (q* = 0, or ReLU-like nets without bias). It is not the "
        "gradient depth scale xi_grad = -1/ln chi_1 (also in theory.csv): where xi_c is "
        "infinite but gradients vanish (xi_grad small), depth is limited by the gradients, which "
        "the line does not show. The line is drawn "
        "through the cells' row "
        "positions by interpolating 6 xi_c between the grid's depths; below the first depth it "
        "sits at the bottom edge. Bold values reach the target accuracy; 'div': more than half "
        "of the seeds diverged.",
    )
    return fig
