"""Signal propagation pages: gradient flow across layers at init and per-layer distributions.

Gradient flow follows Glorot & Bengio (2010, AISTATS, Figs. 7-8): the rms of the
back-propagated gradient ``dL/dz`` and the norm of ``dL/dW`` against the layer index on a log
axis, at initialization, at the deepest depth; exponential decay or growth across layers is a
straight line. The distribution pages show per-layer quantile bands of the activations and of
``|dL/dz|`` (``layers.csv``: ``a_qXX``, ``absdelta_qXX``) at initialization and at the end of
training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from initlab.report.data import final_layer_rows
from initlab.report.style import DIVERGED_MARKER, new_page, set_footnote

__all__ = [
    "GRADIENT_QUANTITIES",
    "draw_gradient_flow",
    "draw_quantile_bands",
    "gradient_flow_means",
    "plot_distributions",
    "plot_gradient_flow",
]

Color = tuple[float, ...]
FloatArray = npt.NDArray[np.float64]

GRADIENT_QUANTITIES = {
    "delta_rms": "rms of dL/dz (back-propagated gradient)",
    "wgrad_norm": "||dL/dW|| (Frobenius norm)",
}
_QUANTILES = ("q05", "q25", "q50", "q75", "q95")


def gradient_flow_means(layers: pd.DataFrame, depth: int, quantity: str) -> pd.DataFrame:
    """Mean over seeds of ``quantity`` per initializer x activation x layer at step 0."""
    sel = layers[(layers["step"] == 0) & (layers["depth"] == depth)]
    return (sel.groupby(["initializer", "activation", "layer"], sort=False)[quantity]
            .mean().reset_index())


def _positive(values: FloatArray) -> FloatArray:
    """Values usable on a log axis: non-positive and non-finite ones become NaN."""
    out = np.asarray(values, dtype=float).copy()
    out[~np.isfinite(out) | (out <= 0)] = np.nan
    return out


def draw_gradient_flow(ax: Axes, means: pd.DataFrame, activation: str,
                       initializers: Sequence[str], colors: Mapping[str, Color],
                       quantity: str, depth: int, diverged: set[str]) -> list[str]:
    """One panel: ``quantity`` against layer for every initializer of ``activation``.

    Initializers in ``diverged`` (some seed diverged in training) are dashed. Returns the
    initializers that could not be drawn (zero or non-finite everywhere).
    """
    hidden: list[str] = []
    sel = means[means["activation"] == activation]
    for init in initializers:
        rows = sel[sel["initializer"] == init].sort_values("layer")
        y = _positive(rows[quantity].to_numpy())
        if rows.empty or np.all(np.isnan(y)):
            hidden.append(init)
            continue
        ax.plot(rows["layer"].to_numpy(), y, color=colors[init], marker="o", markersize=2.5,
                linestyle="--" if init in diverged else "-")
    ax.set_yscale("log")
    ax.axvline(depth + 1, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("layer l (1 = first hidden, last = output)")
    ax.set_xlim(0.5, depth + 1.5)
    if depth + 1 <= 16:
        ax.set_xticks(range(1, depth + 2))
    return hidden


def plot_gradient_flow(layers: pd.DataFrame, summary: pd.DataFrame, depth: int,
                       initializers: Sequence[str], activations: Sequence[str],
                       colors: Mapping[str, Color], quantity: str = "delta_rms") -> Figure:
    """Gradient flow at init at ``depth``: one panel per activation, one line per initializer
    (mean over seeds)."""
    if quantity not in GRADIENT_QUANTITIES:
        raise ValueError(f"quantity: got {quantity!r}; allowed: {', '.join(GRADIENT_QUANTITIES)}")
    label = GRADIENT_QUANTITIES[quantity]
    fig = new_page(f"Gradient flow at initialization, depth {depth}: {label}",
                   subtitle="mean over seeds at step 0, log scale; one panel per activation, "
                   "one line per initializer (after Glorot & Bengio 2010, Figs. 7-8)")
    means = gradient_flow_means(layers, depth, quantity)
    ncols = min(4, len(activations))
    nrows = math.ceil(len(activations) / ncols)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    deep = summary[(summary["depth"] == depth) & (summary["share_diverged"] > 0)]
    for k, act in enumerate(activations):
        ax = axes.ravel()[k]
        diverged = set(deep.loc[deep["activation"] == act, "initializer"])
        hidden = draw_gradient_flow(ax, means, act, initializers, colors, quantity, depth,
                                    diverged)
        title = act
        if hidden:
            title += "\nnot drawn (zero): " + ", ".join(hidden)
        ax.set_title(title)
        if k % ncols == 0:
            ax.set_ylabel(label)
    for ax in axes.ravel()[len(activations):]:
        ax.set_visible(False)
    handles = [Line2D([], [], color=colors[i], marker="o", markersize=3, label=i)
               for i in initializers]
    handles.append(Line2D([], [], color="0.3", ls="--", label="some seeds diverged later"))
    fig.legend(handles=handles, loc="outside right upper", title="initializer")
    set_footnote(fig, (
        "Layer depth+1 (dotted line) is the linear output layer. A straight line on this log "
        "axis is exponential growth or decay across layers (ordered or chaotic phase, "
        "Schoenholz et al. 2017). Dashed: the combination diverged during training in some "
        "seed (its initialization is still measured). Initializers whose gradient is exactly "
        "zero (or not finite) in every layer cannot be drawn on a log axis and are named under "
        "the panel title."))
    return fig


def _quantile_frame(rows: pd.DataFrame, prefix: str) -> pd.DataFrame:
    cols = [f"{prefix}_{q}" for q in _QUANTILES]
    return rows.groupby("layer")[cols].mean().sort_index()


def draw_quantile_bands(ax: Axes, frame: pd.DataFrame, prefix: str, color: Color, *,
                        log: bool = False) -> None:
    """Draw q05-q95 and q25-q75 bands and the median of ``prefix`` quantiles against layer.

    With ``log``, zeros are drawn at a floor one third below the smallest positive value.
    """
    x = frame.index.to_numpy(dtype=float)
    q = {k: frame[f"{prefix}_{k}"].to_numpy(dtype=float) for k in _QUANTILES}
    if log:
        stacked = np.concatenate(list(q.values()))
        pos = stacked[np.isfinite(stacked) & (stacked > 0)]
        floor = float(pos.min()) / 3.0 if pos.size else 1e-12
        q = {k: np.where(np.isfinite(v), np.maximum(v, floor), np.nan) for k, v in q.items()}
        ax.set_yscale("log")
    for lo, hi, alpha in (("q05", "q95", 0.18), ("q25", "q75", 0.38)):
        if len(x) > 1:
            ax.fill_between(x, q[lo], q[hi], color=color, alpha=alpha, lw=0)
        else:
            ax.bar(x, q[hi] - q[lo], bottom=q[lo], width=0.35, color=color, alpha=alpha)
    ax.plot(x, q["q50"], color=color, marker="o", markersize=2.5)


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=8,
            wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_distributions(layers: pd.DataFrame, runs: pd.DataFrame,
                       pairs: Sequence[tuple[str, str]], depth: int,
                       colors: Mapping[str, Color], part: str = "") -> Figure:
    """Per-layer quantile bands of activations and |dL/dz| at init and at the end of training.

    One row per (initializer, activation) pair at ``depth``; columns: activations at init,
    activations at the end, |delta| at init, |delta| at the end (mean over seeds of each
    quantile).
    """
    fig = new_page(f"Per-layer distributions at depth {depth}" + (f" ({part})" if part else ""),
                   subtitle="median line, 25-75% and 5-95% bands, mean over seeds; "
                   "left: activations a = phi(z) of the hidden layers, right: |dL/dz| of "
                   "every layer")
    axes = fig.subplots(len(pairs), 4, squeeze=False)
    final = final_layer_rows(layers, runs)
    for r, (init, act) in enumerate(pairs):
        color = colors[init]
        key = ((layers["initializer"] == init) & (layers["activation"] == act)
               & (layers["depth"] == depth))
        init_rows = layers[key & (layers["step"] == 0)]
        end_rows = final[(final["initializer"] == init) & (final["activation"] == act)
                         & (final["depth"] == depth)]
        comb = runs[(runs["initializer"] == init) & (runs["activation"] == act)
                    & (runs["depth"] == depth)]
        div = comb[comb["diverged"]]
        for c, (rows, prefix, when) in enumerate((
            (init_rows, "a", "at init"), (end_rows, "a", "at end"),
            (init_rows, "absdelta", "at init"), (end_rows, "absdelta", "at end"),
        )):
            ax = axes[r, c]
            what = "activation a" if prefix == "a" else "|dL/dz|"
            ax.set_title(f"{init} × {act}: {what} {when}")
            sel = rows[rows["layer"] <= depth] if prefix == "a" else rows
            if sel.empty:
                steps = ", ".join(str(int(s)) for s in div["diverged_step"].dropna())
                _note(ax, f"{DIVERGED_MARKER} all {len(comb)} seeds diverged (step {steps}):\n"
                      "no end-of-training state" if len(div) == len(comb) and len(comb)
                      else "no data")
                continue
            draw_quantile_bands(ax, _quantile_frame(sel, prefix), prefix, color,
                                log=prefix == "absdelta")
            ax.set_xlim(0.5, depth + (0.5 if prefix == "a" else 1.5))
            if prefix == "absdelta":
                ax.axvline(depth + 1, color="0.5", lw=0.8, ls=":")
            if when == "at end" and len(div):
                ax.text(0.02, 0.97, f"{len(div)}/{len(comb)} seeds diverged, not included",
                        transform=ax.transAxes, va="top", fontsize=7.5)
            if r == len(pairs) - 1:
                ax.set_xlabel("layer l")
            if c in (0, 2):
                ax.set_ylabel("a" if prefix == "a" else "|dL/dz| (log)")
        # the same y range at init and at the end, per quantity
        for c0 in (0, 2):
            a0, a1 = axes[r, c0], axes[r, c0 + 1]
            if a0.has_data() and a1.has_data():
                lo = min(a0.get_ylim()[0], a1.get_ylim()[0])
                hi = max(a0.get_ylim()[1], a1.get_ylim()[1])
                a0.set_ylim(lo, hi)
                a1.set_ylim(lo, hi)
    set_footnote(fig, (
        "End = last checkpoint of each run that did not diverge. Activation panels show the "
        "hidden layers 1..depth; |dL/dz| panels also the linear output layer (dotted line). "
        "On the log axes exact zeros (e.g. ReLU units with negative input) are drawn at the "
        "bottom edge."))
    return fig


def pair_rows(pairs: Sequence[tuple[str, str]], per_page: int = 2) -> list[list[Any]]:
    """Split the highlight pairs into pages of ``per_page`` rows."""
    return [list(pairs[k:k + per_page]) for k in range(0, len(pairs), per_page)]
