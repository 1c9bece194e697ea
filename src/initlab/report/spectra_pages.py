"""Signal-propagation pages beyond the mean field: Jacobian spectra and the correlation map.

Orthogonal and Gaussian weights with the same ``sigma_w^2`` have the same mean-field length
``q`` and slope ``chi_1``, hence the same predicted mean squared singular value of the
input-output Jacobian, yet deep networks built from them train very differently (Saxe,
McClelland & Ganguli 2014, ICLR). The difference is in the *spread* of the singular values: with
orthogonal weights and a tanh near criticality every direction keeps a gain near 1 (dynamical
isometry), with Gaussian weights the gains spread over orders of magnitude as depth grows, and
ReLU networks cannot reach isometry at all (Pennington, Schoenholz & Ganguli 2017, NeurIPS,
"Resurrecting the sigmoid in deep learning through dynamical isometry").

:func:`plot_jacobian_spectra` shows, per activation, the spread ``std(ln s)`` of the singular
values ``s`` of ``J = d a^depth / d x`` (``runs.csv``: ``jac_std_log_s``) and their mean
``mean(s^2)`` (``jac_mean_s2``) beside its mean-field prediction (``theory.csv``:
``jac_mean_s2_pred`` at ``layer = depth``) against depth. :func:`plot_correlation_map` compares
the measured cosine of the pre-activations of two inputs (``c_meas_mean``) with the c-map of
mean-field theory (``c_pred``) across the layers of the deepest networks (Poole, Lahiri, Raghu,
Sohl-Dickstein & Ganguli 2016, NeurIPS; Schoenholz, Gilmer, Ganguli & Sohl-Dickstein 2017,
ICLR). Both read the tables only.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator

from initlab.records import JACOBIAN_PROBES, PAIR_COSINE
from initlab.report.style import log_y, new_page, panel_grid, place_legend, set_footnote, wrap

__all__ = [
    "CORRELATION_PANELS_PER_PAGE",
    "INPUT_COSINE",
    "JACOBIAN_PROBES",
    "SPECTRUM_ACTIVATIONS_PER_PAGE",
    "correlation_activations",
    "correlation_rows",
    "draw_correlation_panel",
    "draw_spectrum_column",
    "orthogonal_initializers",
    "page_chunks",
    "plot_correlation_map",
    "plot_jacobian_spectra",
    "spectrum_activations",
    "spectrum_by_depth",
]

Color = tuple[float, ...]
FloatArray = npt.NDArray[np.float64]

INPUT_COSINE = PAIR_COSINE
"""Cosine of the two equal-length inputs whose pre-activation cosine ``c^l`` is measured."""

SPECTRUM_ACTIVATIONS_PER_PAGE = 4
"""Activations (columns of two panels: spread and mean ``s^2``) per spectrum page."""

CORRELATION_PANELS_PER_PAGE = 8
"""Activations per correlation-map page (the ninth slot of the 3 x 3 grid holds the legend)."""

_SPREAD = "jac_std_log_s"
_MEAN_S2 = "jac_mean_s2"
_EMPHASIS = {
    "lw": 2.6,
    "markersize": 5.5,
    "marker": "s",
    "mec": "black",
    "mew": 0.7,
    "zorder": 4,
    "alpha": 1.0,
}
_PLAIN = {"lw": 1.1, "markersize": 3.0, "marker": "o", "zorder": 2, "alpha": 0.85}


# --- selections ------------------------------------------------------------------------------


def orthogonal_initializers(config: Mapping[str, Any], initializers: Sequence[str]) -> set[str]:
    """The initializers of the grid that draw (scaled) random orthogonal matrices.

    The built-in ``orthogonal`` and every custom initializer of family ``orthogonal``
    (``custom_initializers`` of the configuration); drawn with emphasis on the spectrum pages.

    Parameters
    ----------
    config : mapping
        The resolved study configuration.
    initializers : sequence of str
        The grid's initializers.

    Returns
    -------
    set of str
        The orthogonal ones among ``initializers``.
    """
    custom = config.get("custom_initializers") or {}
    out = set()
    for name in initializers:
        spec = custom.get(name)
        family = spec.get("family") if isinstance(spec, Mapping) else None
        if family == "orthogonal" or (spec is None and name == "orthogonal"):
            out.add(name)
    return out


def page_chunks(items: Sequence[str], per_page: int) -> list[list[str]]:
    """``items`` split over the fewest pages of at most ``per_page``, as evenly as possible
    (5 activations at 4 per page: 3 + 2, not 4 + 1)."""
    if not items:
        return []
    n_pages = -(-len(items) // per_page)
    size = -(-len(items) // n_pages)
    return [list(items[k : k + size]) for k in range(0, len(items), size)]


def _finite_positive(values: pd.Series) -> pd.Series:
    v = pd.to_numeric(values, errors="coerce")
    return v[np.isfinite(v) & (v > 0)]


def spectrum_activations(runs: pd.DataFrame, activations: Sequence[str]) -> list[str]:
    """Activations (grid order) with a finite spread or a positive mean ``s^2`` in some run.

    Empty when ``runs.csv`` carries no Jacobian columns.
    """
    if _SPREAD not in runs.columns or _MEAN_S2 not in runs.columns:
        return []
    spread = pd.to_numeric(runs[_SPREAD], errors="coerce")
    ok = np.isfinite(spread) | runs.index.isin(_finite_positive(runs[_MEAN_S2]).index)
    present = set(runs.loc[ok, "activation"].astype(str))
    return [a for a in activations if a in present]


def correlation_rows(theory_df: pd.DataFrame, depth: int) -> pd.DataFrame:
    """Hidden-layer rows (``1 <= layer <= depth``) of ``theory.csv`` at ``depth``."""
    sel = theory_df[(theory_df["depth"] == depth) & (theory_df["layer"] <= depth)]
    return sel


def correlation_activations(
    theory_df: pd.DataFrame, depth: int, activations: Sequence[str]
) -> list[str]:
    """Activations (grid order) with a finite measured or predicted ``c^l`` at ``depth``.

    Empty when ``theory.csv`` carries no correlation columns.
    """
    if "c_pred" not in theory_df.columns or "c_meas_mean" not in theory_df.columns:
        return []
    sel = correlation_rows(theory_df, depth)
    pred = pd.to_numeric(sel["c_pred"], errors="coerce")
    meas = pd.to_numeric(sel["c_meas_mean"], errors="coerce")
    present = set(sel.loc[np.isfinite(pred) | np.isfinite(meas), "activation"].astype(str))
    return [a for a in activations if a in present]


def spectrum_by_depth(
    runs: pd.DataFrame,
    theory_df: pd.DataFrame,
    activation: str,
    initializers: Sequence[str],
    depths: Sequence[int],
) -> pd.DataFrame:
    """Seed statistics of the last hidden layer's Jacobian spectrum per initializer x depth.

    Parameters
    ----------
    runs : DataFrame
        ``runs.csv`` (``jac_std_log_s``, ``jac_mean_s2``; every run, diverged ones included:
        the spectrum is measured at initialization).
    theory_df : DataFrame
        ``theory.csv`` (``jac_mean_s2_pred`` at ``layer = depth``).
    activation : str
        The activation.
    initializers, depths : sequence
        Rows, in grid order.

    Returns
    -------
    DataFrame
        One row per initializer x depth with ``spread_mean``, ``spread_min``, ``spread_max``,
        ``spread_n`` (seeds with a finite spread), ``n_runs``, ``s2_mean``, ``s2_min``,
        ``s2_max`` (over seeds with a finite mean ``s^2``) and ``s2_pred``; NaN where nothing
        is finite.
    """
    sel = runs[runs["activation"] == activation]
    th = theory_df[
        (theory_df["activation"] == activation) & (theory_df["layer"] == theory_df["depth"])
    ]
    if "jac_mean_s2_pred" in th.columns:
        pred = th.groupby(["initializer", "depth"], sort=False)["jac_mean_s2_pred"].mean()
    else:
        pred = pd.Series(dtype=float)
    rows = []
    for init in initializers:
        by_init = sel[sel["initializer"] == init]
        for depth in depths:
            grp = by_init[by_init["depth"] == depth]
            spread = pd.to_numeric(grp[_SPREAD], errors="coerce").to_numpy(dtype=float)
            s2 = pd.to_numeric(grp[_MEAN_S2], errors="coerce").to_numpy(dtype=float)
            spread, s2 = spread[np.isfinite(spread)], s2[np.isfinite(s2)]
            rows.append(
                {
                    "initializer": init,
                    "depth": int(depth),
                    "n_runs": len(grp),
                    "spread_n": len(spread),
                    "spread_mean": float(spread.mean()) if len(spread) else np.nan,
                    "spread_min": float(spread.min()) if len(spread) else np.nan,
                    "spread_max": float(spread.max()) if len(spread) else np.nan,
                    "s2_mean": float(s2.mean()) if len(s2) else np.nan,
                    "s2_min": float(s2.min()) if len(s2) else np.nan,
                    "s2_max": float(s2.max()) if len(s2) else np.nan,
                    "s2_pred": float(pred.get((init, depth), np.nan)),
                }
            )
    return pd.DataFrame(rows)


# --- drawing helpers -------------------------------------------------------------------------


def _style(init: str, orthogonal: Collection[str]) -> dict[str, Any]:
    return dict(_EMPHASIS if init in orthogonal else _PLAIN)


def _log_x(depths: Sequence[int]) -> bool:
    return len(depths) > 1 and max(depths) / max(min(depths), 1) >= 8


def _depth_axis(ax: Axes, depths: Sequence[int]) -> None:
    """Depth axis with a tick at every grid depth (log scale when they span a decade)."""
    if _log_x(depths):
        ax.set_xscale("log")
        lo, hi = min(depths) / 1.35, max(depths) * 1.35
    else:
        pad = 0.08 * max(max(depths) - min(depths), 1)
        lo, hi = min(depths) - pad, max(depths) + pad
    ax.xaxis.set_major_locator(FixedLocator([float(d) for d in depths]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlim(lo, hi)


def _offsets(depths: Sequence[int], k: int, n: int) -> FloatArray:
    """Depths shifted a little per initializer so that error bars do not overprint."""
    x = np.asarray(depths, dtype=float)
    shift = k - (n - 1) / 2.0
    if _log_x(depths):
        return x * np.exp(0.025 * shift)
    return x + 0.012 * max(float(x.max() - x.min()), 1.0) * shift


def _seed_range_bars(
    ax: Axes,
    x: FloatArray,
    y: FloatArray,
    yerr: FloatArray,
    color: Color,
    style: Mapping[str, Any],
) -> None:
    """Error bars from the lowest to the highest seed, in the line's colour and style."""
    ax.errorbar(
        x,
        y,
        yerr=yerr,
        color=color,
        ls="none",
        capsize=2,
        elinewidth=style["lw"] * 0.6,
        alpha=style["alpha"],
        zorder=style["zorder"],
    )


def _bars(y: FloatArray, lo: FloatArray, hi: FloatArray) -> npt.NDArray[np.float64]:
    """Asymmetric error bars (min..max around the mean), zero where a bound is not finite."""
    low = np.where(np.isfinite(lo), y - lo, 0.0)
    high = np.where(np.isfinite(hi), hi - y, 0.0)
    return np.vstack([np.maximum(low, 0.0), np.maximum(high, 0.0)])


def _centre_note(ax: Axes, text: str) -> None:
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=8,
        color="0.25",
        bbox={"boxstyle": "round", "fc": "white", "ec": "0.8", "alpha": 0.9},
    )


def _draw_spread(
    ax: Axes,
    stats: pd.DataFrame,
    initializers: Sequence[str],
    depths: Sequence[int],
    colors: Mapping[str, Color],
    orthogonal: Collection[str],
) -> int:
    """Spread against depth, one line per initializer; a triangle on the top edge marks each
    initializer x depth whose runs have no finite spread (some ``s = 0``: ``J`` rank-deficient,
    or not finite). Returns the number of such points."""
    n_missing = 0
    n = len(initializers)
    for k, init in enumerate(initializers):
        rows = stats[stats["initializer"] == init]
        y = rows["spread_mean"].to_numpy(dtype=float)
        ok = np.isfinite(y)
        x = _offsets(depths, k, n)
        style = _style(init, orthogonal)
        absent = ~ok & (rows["n_runs"].to_numpy() > 0)
        if absent.any():
            n_missing += int(absent.sum())
            ax.plot(
                x[absent],
                np.ones(int(absent.sum())),
                transform=ax.get_xaxis_transform(),
                ls="none",
                marker="^",
                markersize=5,
                color=colors[init],
                mec="black" if init in orthogonal else colors[init],
                mew=0.6,
                clip_on=False,
                zorder=5,
            )
        if not ok.any():
            continue
        ax.plot(x, y, color=colors[init], **style)  # NaN breaks the line
        yerr = _bars(y, rows["spread_min"].to_numpy(float), rows["spread_max"].to_numpy(float))
        _seed_range_bars(ax, x[ok], y[ok], yerr[:, ok], colors[init], style)
    _depth_axis(ax, depths)
    ax.set_ylim(bottom=0.0)
    return n_missing


def _draw_mean_s2(
    ax: Axes,
    stats: pd.DataFrame,
    initializers: Sequence[str],
    depths: Sequence[int],
    colors: Mapping[str, Color],
    orthogonal: Collection[str],
) -> tuple[list[str], bool]:
    """Measured mean ``s^2`` (markers, min..max bars) and its prediction (dashed) on a log axis.

    Returns the initializers with values that cannot be drawn on the log axis (zero, negative
    or not finite) and whether anything was drawn.
    """
    skipped = []
    drawn = False
    n = len(initializers)
    for k, init in enumerate(initializers):
        rows = stats[stats["initializer"] == init]
        y = rows["s2_mean"].to_numpy(dtype=float)
        pred = rows["s2_pred"].to_numpy(dtype=float)
        has = rows["n_runs"].to_numpy() > 0
        ok = np.isfinite(y) & (y > 0)
        ok_p = np.isfinite(pred) & (pred > 0)
        if (has & ~ok).any() or (has & np.isfinite(pred) & ~ok_p).any():
            skipped.append(init)
        style = _style(init, orthogonal)
        x = _offsets(depths, k, n)
        if ok_p.any():
            ax.plot(
                np.asarray(depths, float)[ok_p],
                pred[ok_p],
                color=colors[init],
                ls="--",
                lw=style["lw"] * 0.8,
                alpha=style["alpha"],
                zorder=style["zorder"] - 1,
            )
            drawn = True
        if not ok.any():
            continue
        ax.plot(x, np.where(ok, y, np.nan), color=colors[init], **style)
        lo = rows["s2_min"].to_numpy(dtype=float)
        lo = np.where(lo > 0, lo, np.nan)  # a bar down to zero has no place on a log axis
        yerr = _bars(y, lo, rows["s2_max"].to_numpy(dtype=float))
        _seed_range_bars(ax, x[ok], y[ok], yerr[:, ok], colors[init], style)
        drawn = True
    if drawn:
        log_y(ax)
        ax.axhline(1.0, color="0.45", lw=0.8, ls=":", zorder=1)
    _depth_axis(ax, depths)
    return skipped, drawn


def _legend_handles(
    initializers: Sequence[str],
    colors: Mapping[str, Color],
    orthogonal: Collection[str],
    measured: str,
    predicted: str,
) -> list[Line2D]:
    handles = []
    for init in initializers:
        style = _style(init, orthogonal)
        label = f"{init} (orthogonal)" if init in orthogonal and init != "orthogonal" else init
        handles.append(
            Line2D(
                [],
                [],
                color=colors[init],
                lw=style["lw"],
                marker=style["marker"],
                markersize=style["markersize"],
                mec=style.get("mec", colors[init]),
                mew=style.get("mew", 1.0),
                label=label,
            )
        )
    handles.append(Line2D([], [], color="none", label=""))
    handles.append(Line2D([], [], color="0.3", marker="o", markersize=3, label=measured))
    handles.append(Line2D([], [], color="0.3", ls="--", label=predicted))
    return handles


def _group_notes(
    notes: Mapping[str, Sequence[str]], panels: Sequence[str]
) -> tuple[list[str], dict[str, list[str]]]:
    """Split per-panel name lists into the names every panel of the page shares (said once)
    and the rest per panel."""
    shared = [
        name
        for name in next(iter(notes.values()), [])
        if len(panels) > 1 and all(name in notes.get(p, []) for p in panels)
    ]
    rest = {p: [v for v in notes[p] if v not in shared] for p in panels if p in notes}
    return shared, {p: v for p, v in rest.items() if v}


def _describe(notes: Mapping[str, Sequence[str]], panels: Sequence[str]) -> str:
    shared, rest = _group_notes(notes, panels)
    parts = [f"{name} (every panel)" for name in shared]
    parts += [f"{name} \u00d7 {panel}" for panel, names in rest.items() for name in names]
    return ", ".join(parts)


# --- pages -----------------------------------------------------------------------------------


def plot_jacobian_spectra(
    runs: pd.DataFrame,
    theory_df: pd.DataFrame,
    activations: Sequence[str],
    initializers: Sequence[str],
    depths: Sequence[int],
    colors: Mapping[str, Color],
    orthogonal: Collection[str] = frozenset(),
    n_seeds: int | None = None,
    part: str = "",
) -> Figure:
    """Spread (top row) and mean (bottom row) of the Jacobian's squared singular values against
    depth, one column per activation, one line per initializer.

    The spread ``std(ln s)`` of the singular values ``s`` of ``J = d a^depth / d x`` (0 for
    dynamical isometry) is what separates orthogonal from Gaussian weights of equal
    ``sigma_w^2`` (Saxe et al. 2014; Pennington et al. 2017); mean-field theory predicts only
    ``mean(s^2)``, the same for both, drawn dashed beside the measurement.

    Parameters
    ----------
    runs : DataFrame
        ``runs.csv`` with ``jac_std_log_s`` and ``jac_mean_s2`` (step 0).
    theory_df : DataFrame
        ``theory.csv`` with ``jac_mean_s2_pred``.
    activations : sequence of str
        The columns of this page (at most :data:`SPECTRUM_ACTIVATIONS_PER_PAGE` fit well).
    initializers, depths : sequence
        Lines and x positions, in grid order.
    colors : mapping
        Colour per initializer.
    orthogonal : collection of str
        Initializers drawn with emphasis (:func:`orthogonal_initializers`).
    n_seeds : int, optional
        Seeds per combination, for the footnote.
    part : str
        ``part k of n`` when the activations are split over pages.

    Returns
    -------
    Figure
        A landscape A4 page.
    """
    fig = new_page(
        "Jacobian spectrum spread against depth" + (f" ({part})" if part else ""),
        subtitle="J = d a^L / d x, the Jacobian of the last hidden layer's activations with "
        "respect to the input at initialization (L = depth), with singular values s. Top: the "
        "spread std(ln s) (0 = dynamical isometry: every input direction has the same gain). "
        "Bottom: mean s^2 (log axis), the only part of the spectrum mean-field theory predicts "
        "(dashed); the prediction is the same for orthogonal and Gaussian weights of equal "
        "sigma_w^2, so where the dashed lines agree only the spread tells them apart.",
    )
    ncols = max(len(activations), 1)
    axes = fig.subplots(2, ncols, squeeze=False, sharex="col")
    n_no_spread = 0
    skipped_s2: dict[str, list[str]] = {}
    for c, act in enumerate(activations):
        stats = spectrum_by_depth(runs, theory_df, act, initializers, depths)
        n_missing, skipped = draw_spectrum_column(
            axes[0, c], axes[1, c], stats, act, initializers, depths, colors, orthogonal
        )
        n_no_spread += n_missing
        if skipped:
            skipped_s2[act] = skipped
        if c == 0:
            axes[0, c].set_ylabel("spread std(ln s)")
            axes[1, c].set_ylabel("mean s^2 (log)")
        axes[0, c].tick_params(labelbottom=True)
    for c in range(len(activations), ncols):
        axes[0, c].set_visible(False)
        axes[1, c].set_visible(False)
    handles = _spectra_handles(initializers, colors, orthogonal, with_missing=n_no_spread > 0)
    fig.legend(handles=handles, loc="outside right center", title="initializer")
    set_footnote(
        fig,
        _spectra_footnote(initializers, orthogonal, n_seeds, n_no_spread, skipped_s2, activations),
    )
    return fig


def draw_spectrum_column(
    top: Axes,
    bottom: Axes,
    stats: pd.DataFrame,
    activation: str,
    initializers: Sequence[str],
    depths: Sequence[int],
    colors: Mapping[str, Color],
    orthogonal: Collection[str] = frozenset(),
) -> tuple[int, list[str]]:
    """The two panels of one activation: spread against depth in ``top``, mean ``s^2`` (and
    its prediction) in ``bottom``.

    Parameters
    ----------
    top, bottom : Axes
        The spread and the mean ``s^2`` panels.
    stats : DataFrame
        :func:`spectrum_by_depth` of ``activation``.
    activation : str
        The activation (the column title).
    initializers, depths : sequence
        Lines and x positions, in grid order.
    colors : mapping
        Colour per initializer.
    orthogonal : collection of str
        Initializers drawn with emphasis.

    Returns
    -------
    tuple
        The number of initializer x depth points without a finite spread, and the
        initializers whose mean ``s^2`` cannot be drawn on the log axis.
    """
    n_missing = _draw_spread(top, stats, initializers, depths, colors, orthogonal)
    if not np.isfinite(stats["spread_mean"].to_numpy(dtype=float)).any():
        top.set_ylim(0.0, 1.0)
        top.set_yticks([])
        _centre_note(top, "std(ln s) undefined for every initializer\n(J rank-deficient)")
    top.set_title(activation)
    skipped, drawn = _draw_mean_s2(bottom, stats, initializers, depths, colors, orthogonal)
    if not drawn:
        _centre_note(bottom, "no positive mean s^2")
    bottom.set_xlabel("depth L" + (" (log)" if _log_x(depths) else ""))
    return n_missing, skipped


def _spectra_handles(
    initializers: Sequence[str],
    colors: Mapping[str, Color],
    orthogonal: Collection[str],
    *,
    with_missing: bool,
) -> list[Line2D]:
    """Legend of the spectrum page; ``with_missing`` adds the top-edge triangle."""
    handles = _legend_handles(
        initializers,
        colors,
        orthogonal,
        "measured: mean over seeds,\nbars min to max",
        "mean-field prediction\nof mean s^2",
    )
    if with_missing:
        handles.append(
            Line2D(
                [],
                [],
                color="0.3",
                marker="^",
                ls="none",
                markersize=5,
                label="top edge: no\nfinite spread",
            )
        )
    return handles


def _spectra_footnote(
    initializers: Sequence[str],
    orthogonal: Collection[str],
    n_seeds: int | None,
    n_no_spread: int,
    skipped_s2: Mapping[str, Sequence[str]],
    activations: Sequence[str],
) -> str:
    """Footnote of the spectrum page: how points and bars are made, the references, and what
    is not drawn."""
    seeds = f"{n_seeds} seeds" if n_seeds else "the seeds"
    names = sorted(set(orthogonal) & set(initializers))
    emph = ""
    if names:
        emph = "Thick lines with squares: orthogonal weights"
        emph += f" ({', '.join(names)}). " if names != ["orthogonal"] else ". "
    text = (
        f"Each run pools the singular values of J over {JACOBIAN_PROBES} probe inputs; points "
        f"are the mean over {seeds} (every run, including those that diverged later in "
        "training), bars span the smallest to the largest seed, and points are shifted "
        f"slightly sideways per initializer. {emph}Dotted line: mean s^2 = 1. Saxe, "
        "McClelland & Ganguli (2014): orthogonal weights keep every singular value of a deep "
        "linear network at 1. Pennington, Schoenholz & Ganguli (2017): with Gaussian weights the "
        "spread grows with depth even at criticality (mean s^2 = 1); orthogonal weights with "
        "tanh near criticality keep it small, while ReLU cannot reach isometry with any "
        "weights."
    )
    if n_no_spread:
        text += (
            " Triangles on the top edge: no finite spread in any seed (std(ln s) undefined "
            "because some s = 0, i.e. J is rank-deficient, or s is not finite); ReLU-like "
            "units zero whole columns of J, and zero weights give J = 0."
        )
    if skipped_s2:
        text += (
            " Not drawn on the log axis (mean s^2 or its prediction zero or not finite, e.g. "
            "zero weights give J = 0): " + _describe(skipped_s2, activations) + "."
        )
    return text


def plot_correlation_map(
    theory_df: pd.DataFrame,
    depth: int,
    activations: Sequence[str],
    initializers: Sequence[str],
    colors: Mapping[str, Color],
    orthogonal: Collection[str] = frozenset(),
    part: str = "",
) -> Figure:
    """Measured cosine ``c^l`` of two inputs' pre-activations against layer, beside the c-map of
    mean-field theory, one panel per activation at ``depth``.

    Parameters
    ----------
    theory_df : DataFrame
        ``theory.csv`` with ``c_pred``, ``c_meas_mean`` and ``c_meas_std``.
    depth : int
        The depth shown (the deepest of the grid).
    activations : sequence of str
        The panels of this page (at most :data:`CORRELATION_PANELS_PER_PAGE`).
    initializers : sequence of str
        Lines, in grid order.
    colors : mapping
        Colour per initializer.
    orthogonal : collection of str
        Initializers drawn with emphasis (:func:`orthogonal_initializers`).
    part : str
        ``part k of n`` when the activations are split over pages.

    Returns
    -------
    Figure
        A landscape A4 page.
    """
    fig = new_page(
        f"Correlation map: measured against the c-map, depth {depth}"
        + (f" ({part})" if part else ""),
        subtitle=f"cosine c^l of the pre-activations z^l of two inputs of equal length and "
        f"cosine {INPUT_COSINE:g}, per hidden layer at initialization; solid: measured (mean "
        "over seeds, band ± std), dashed: mean-field prediction (the c-map iterated from the "
        "input)",
    )
    nrows, ncols = panel_grid(len(activations) + 1)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    sel = correlation_rows(theory_df, depth)
    empty = _empty_correlations(sel, activations, initializers)
    _, own = _group_notes(empty, activations)
    for k, act in enumerate(activations):
        ax = axes[k]
        rows_act = sel[sel["activation"] == act]
        drawn = [i for i in initializers if i not in empty.get(act, [])]
        draw_correlation_panel(ax, rows_act, drawn, depth, colors, orthogonal)
        title = act
        if act in own:
            title += "\n" + wrap("no finite value: " + ", ".join(own[act]), 45)
        ax.set_title(title, fontsize=8.5 if act in own else None)
        if k % ncols == 0:
            ax.set_ylabel("cosine c^l")
        if k >= len(activations) - ncols:
            ax.set_xlabel("hidden layer l")
    handles = _legend_handles(
        initializers,
        colors,
        orthogonal,
        "measured: mean over seeds,\nband ± std",
        "c-map prediction",
    )
    place_legend(fig, axes, len(activations), handles, title="initializer")
    set_footnote(fig, _correlation_footnote(empty, activations))
    return fig


def _empty_correlations(
    sel: pd.DataFrame, activations: Sequence[str], initializers: Sequence[str]
) -> dict[str, list[str]]:
    """Per activation, the initializers with rows but neither a finite measured nor a finite
    predicted cosine."""
    empty: dict[str, list[str]] = {}
    for act in activations:
        rows_act = sel[sel["activation"] == act]
        for init in initializers:
            rows = rows_act[rows_act["initializer"] == init]
            vals = rows[["c_meas_mean", "c_pred"]].to_numpy(dtype=float)
            if len(rows) and not np.isfinite(vals).any():
                empty.setdefault(act, []).append(init)
    return empty


def _draw_correlation_lines(
    ax: Axes, rows: pd.DataFrame, color: Color, style: Mapping[str, Any], depth: int
) -> None:
    """Predicted (dashed) and measured (solid, ± std band) cosine of one initializer."""
    x = rows["layer"].to_numpy(dtype=float)
    meas = rows["c_meas_mean"].to_numpy(dtype=float)
    std = rows["c_meas_std"].to_numpy(dtype=float)
    pred = rows["c_pred"].to_numpy(dtype=float)
    ok_m, ok_p = np.isfinite(meas), np.isfinite(pred)
    marker: dict[str, Any] = {"marker": None}
    if depth <= 12:
        marker = {"marker": style["marker"], "markersize": style["markersize"] * 0.6}
    if ok_p.any():
        ax.plot(
            x,
            pred,
            color=color,
            ls="--",
            lw=style["lw"] * 0.8,
            alpha=style["alpha"],
            zorder=style["zorder"] - 1,
        )
    if ok_m.any():
        band = np.where(np.isfinite(std), std, 0.0)
        ax.fill_between(x, meas - band, meas + band, color=color, alpha=0.15, lw=0, zorder=1)
        ax.plot(
            x,
            meas,
            color=color,
            lw=style["lw"],
            alpha=style["alpha"],
            zorder=style["zorder"],
            **marker,
        )


def draw_correlation_panel(
    ax: Axes,
    rows: pd.DataFrame,
    initializers: Sequence[str],
    depth: int,
    colors: Mapping[str, Color],
    orthogonal: Collection[str] = frozenset(),
) -> None:
    """Measured and predicted cosine ``c^l`` against hidden layer, one line per initializer.

    Parameters
    ----------
    ax : Axes
        The panel.
    rows : DataFrame
        :func:`correlation_rows` of one activation.
    initializers : sequence of str
        The initializers to draw (those without rows are skipped).
    depth : int
        The depth shown.
    colors : mapping
        Colour per initializer.
    orthogonal : collection of str
        Initializers drawn with emphasis.
    """
    for init in initializers:
        sel = rows[rows["initializer"] == init].sort_values("layer")
        if sel.empty:
            continue
        _draw_correlation_lines(ax, sel, colors[init], _style(init, orthogonal), depth)
    ax.axhline(INPUT_COSINE, color="0.45", lw=0.8, ls=":", zorder=0)
    ax.set_xlim(0.5, depth + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))


def _correlation_footnote(empty: Mapping[str, Sequence[str]], activations: Sequence[str]) -> str:
    """Footnote of the correlation map: how to read it, and the combinations not drawn."""
    text = (
        f"The two inputs have equal length and cosine {INPUT_COSINE:g} (dotted line); c^l is "
        "the cosine of their pre-activation vectors in hidden layer l. In the ordered phase "
        "with a length fixed point q* > 0 nearby inputs are pulled together and c^l -> 1 at a "
        "rate set by the correlation depth scale xi_c; ReLU-like nets without bias approach 1 "
        "only polynomially; where the signal vanishes (q -> 0, e.g. tanh with sigma_w^2 <= 1 "
        "and no bias) the net becomes linear and c^l freezes; in the chaotic phase (chi_1 > 1) "
        "inputs decorrelate towards c* < 1 (Poole et al. 2016; Schoenholz et al. 2017). The c-map "
        "depends on sigma_w^2, sigma_b^2 and the activation only, so orthogonal and Gaussian "
        "weights of equal sigma_w^2 share one prediction; the std band is over seeds."
    )
    if empty:
        text += (
            " Not drawn (no finite cosine, e.g. zero weights give z = 0): "
            + _describe(empty, activations)
            + "."
        )
    return text
