"""Mean-field theory pages: prediction against measurement, and the order/chaos phase diagram.

``theory.csv`` holds, per combination and layer, the predicted second moment ``q^l`` of the
pre-activations and the predicted rms of ``dL/dz`` relative to the output layer beside the
measurements at initialization (Poole et al. 2016, NeurIPS; Schoenholz et al. 2017, ICLR). The
phase diagram draws the edge of chaos ``chi_1 = 1`` in the ``(sigma_w^2, sigma_b^2)`` plane for
the grid's activations (``phase.csv``, computed by aggregation) and marks each initializer at its
hidden-layer ``sigma_w^2`` (from ``theory.csv``) and the study's ``sigma_b^2 = bias_std^2``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from initlab.report.style import log_y, new_page, set_footnote, wrap
from initlab.report.text_pages import draw_table

__all__ = [
    "HUGE_ERROR",
    "LARGE_ERROR",
    "activation_styles",
    "chi1_label",
    "draw_phase_diagram",
    "draw_theory_panel",
    "error_mark",
    "large_error_text",
    "largest_disagreements",
    "plot_phase_diagram",
    "plot_theory_table",
    "plot_theory_vs_measurement",
]

Color = tuple[float, ...]
FloatArray = npt.NDArray[np.float64]

WHY_TEXT = (
    "Why theory and measurement disagree. (1) Finite width: the theory is the infinite-width "
    "limit; with n units per layer, q^l fluctuates by about sqrt(2/n) from layer to layer and "
    "the errors compound with depth, most for ReLU-like activations whose fluctuations are "
    "multiplicative. (2) The data are not Gaussian: the first layer sees the real inputs "
    "(correlated, non-centred, sparse pixels), not the isotropic Gaussian inputs the "
    "recursion assumes; only their mean square enters the prediction. (3) Training is not "
    "modelled: the comparison is at initialization only, measured on one probe batch of a "
    "few hundred examples. (4) The output layer is linear and has fan-out n_classes, and the "
    "gradient at the output depends on the loss and the labels; relative gradients are "
    "therefore normalised to the output layer, where they agree by construction. (5) "
    "Initializations whose variance is not a zero-mean i.i.d. draw (zeros, constant) or whose "
    "signal overflows are outside the theory (NaN or degenerate predictions)."
)


LARGE_ERROR = 1.0
"""|relative error| above which a row gets its own explanation (more than 100%)."""

HUGE_ERROR = 10.0
"""|relative error| from which the prediction is an order of magnitude or more off."""

LARGE_MARK = "\u2020"
HUGE_MARK = "\u2021"


def error_mark(relerr: float) -> str:
    """The mark of a relative error: ``‡`` from :data:`HUGE_ERROR` (orders of magnitude),
    ``†`` above :data:`LARGE_ERROR` (more than 100%), else empty."""
    if not np.isfinite(relerr):
        return ""
    if abs(relerr) >= HUGE_ERROR:
        return HUGE_MARK
    if abs(relerr) > LARGE_ERROR:
        return LARGE_MARK
    return ""


def large_error_text(top: pd.DataFrame) -> str:
    """Why the marked rows of :func:`largest_disagreements` disagree by more than 100%
    (empty when no row does); the worst row's numbers illustrate each case."""
    names = {"q": "q^l", "delta_rel": "the relative gradient rms"}
    parts = []
    huge = top[top["relerr"].abs() >= HUGE_ERROR]
    if len(huge):
        r = huge.iloc[0]
        kept = "keeps it of order one" if r["measured"] >= 0.01 else "keeps it far larger"
        parts.append(
            f"{HUGE_MARK} |relative error| >= {HUGE_ERROR:g} (the prediction is orders of "
            "magnitude below the measurement): these are not percentage errors of a good "
            "prediction. The recursion predicts a signal that has vanished towards float "
            f"noise ({names[r['quantity']]} = {r['predicted']:.3g} for {r['initializer']} "
            f"\u00d7 {r['activation']} at layer {int(r['layer'])}) where the finite-width "
            f"network {kept} ({r['measured']:.3g} measured). Once the "
            "prediction is that small its relative error says nothing about the theory's "
            "accuracy; compare orders of magnitude instead."
        )
    large = top[(top["relerr"].abs() > LARGE_ERROR) & (top["relerr"].abs() < HUGE_ERROR)]
    if len(large):
        r = large.iloc[0]
        parts.append(
            f"{LARGE_MARK} {LARGE_ERROR:g} < |relative error| < {HUGE_ERROR:g} (more than "
            "100%, same order of magnitude): the finite-width and input effects (1) and (2) "
            "compound over depth, multiplicatively for ReLU-like activations, so the measured "
            "value drifts from the prediction by a factor of 2 to 10, sometimes with a spread "
            f"over seeds as large as the mean (e.g. {r['initializer']} \u00d7 {r['activation']}, "
            f"layer {int(r['layer'])}: {r['measured']:.3g} \u00b1 {r['measured_std']:.3g} "
            f"against {r['predicted']:.3g} predicted). For positively homogeneous activations "
            "(ReLU, leaky ReLU) without bias the relative error does not depend on the weight "
            "scale, which is why several initializers show the same value."
        )
    return "\n".join(parts)


def chi1_label(rows: pd.DataFrame) -> str:
    """``chi1 = 0.333`` for a panel title, or why chi_1 is not available."""
    if rows.empty:
        return "chi1 n/a (no theory rows)"
    first = rows.iloc[0]
    chi = float(first["chi1"])
    if np.isfinite(chi):
        return f"chi1 = {chi:.3g}"
    if not np.isfinite(float(first["sigma_w2"])):
        return "chi1 n/a: sigma_w^2 undefined\n(not a zero-mean i.i.d. draw)"
    if not np.isfinite(float(first["q_star"])):
        return "chi1 n/a: no finite fixed point q*\n(the signal overflows)"
    return "chi1 n/a: E[phi'(sqrt(q*) z)^2]\nnot finite for this activation"


# --- theory against measurement --------------------------------------------------------------


def draw_theory_panel(
    ax: Axes, rows: pd.DataFrame, quantity: str, color: Color, depth: int
) -> bool:
    """Predicted curve and measured points (mean +- std over seeds) of ``quantity`` (``q`` or
    ``delta_rel``) against layer on a log axis; return False when nothing can be drawn."""
    rows = rows.sort_values("layer")
    x = rows["layer"].to_numpy(dtype=float)
    pred = rows[f"{quantity}_pred"].to_numpy(dtype=float)
    meas = rows[f"{quantity}_meas_mean"].to_numpy(dtype=float)
    std = rows[f"{quantity}_meas_std"].to_numpy(dtype=float)
    ok_p = np.isfinite(pred) & (pred > 0)
    ok_m = np.isfinite(meas) & (meas > 0)
    if not ok_p.any() and not ok_m.any():
        return False
    if ok_p.any():
        ax.plot(x[ok_p], pred[ok_p], color=color, lw=1.6, label="mean-field prediction")
    if ok_m.any():
        err = np.where(np.isfinite(std), std, 0)[ok_m]
        lower = np.minimum(err, meas[ok_m] * 0.999)  # keep the bars above zero on a log axis
        ax.errorbar(
            x[ok_m],
            meas[ok_m],
            yerr=[lower, err],
            color="black",
            marker="o",
            markersize=3,
            ls="none",
            capsize=2,
            elinewidth=0.8,
            label="measured (mean ± std over seeds)",
        )
    log_y(ax)
    ax.axvline(depth + 1, color="0.5", lw=0.8, ls=":")
    ax.set_xlim(0.5, depth + 1.5)
    return True


def _theory_cell(ax: Axes, rows: pd.DataFrame, quantity: str, color: Color, depth: int) -> None:
    """One panel of the theory page: the curves, a mark when some layer's |relative error|
    exceeds :data:`LARGE_ERROR`, or a note when nothing can be drawn."""
    if not draw_theory_panel(ax, rows, quantity, color, depth):
        ax.text(
            0.5,
            0.5,
            "no positive prediction or measurement\n(e.g. zero weights: q = 0 exactly)",
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=8,
        )
        return
    worst = float(rows[f"{quantity}_relerr"].abs().max()) if len(rows) else math.nan
    mark = error_mark(worst)
    if mark:
        ax.text(
            0.02,
            0.02,
            f"{mark} max |rel. error| {worst:.3g}",
            transform=ax.transAxes,
            fontsize=7.5,
            va="bottom",
        )


def plot_theory_vs_measurement(
    theory_df: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    depth: int,
    colors: Mapping[str, Color],
) -> Figure:
    """q^l (top row) and the relative gradient rms (bottom row) against layer, theory line vs
    measured points, one column per highlight pair at ``depth``.

    Parameters
    ----------
    theory_df : DataFrame
        ``theory.csv``: predictions and measurements per combination x layer.
    pairs : sequence of (str, str)
        The highlighted (initializer, activation) pairs.
    depth : int
        The depth shown (the deepest of the grid).
    colors : mapping
        Colour per initializer.

    Returns
    -------
    Figure
        A landscape A4 page.
    """
    fig = new_page(
        f"Theory vs measurement at initialization, depth {depth}",
        subtitle="mean-field recursion (Poole et al. 2016; Schoenholz et al. 2017) "
        "against the probe-batch measurement at step 0",
    )
    axes = fig.subplots(2, max(len(pairs), 1), squeeze=False)
    sel = theory_df[theory_df["depth"] == depth]
    for c, (init, act) in enumerate(pairs):
        rows = sel[(sel["initializer"] == init) & (sel["activation"] == act)]
        for r, (quantity, label) in enumerate(
            (
                ("q", "q^l = mean(z^2) of layer l"),
                ("delta_rel", "rms dL/dz relative to output"),
            )
        ):
            ax = axes[r, c]
            _theory_cell(ax, rows, quantity, colors[init], depth)
            if r == 0:
                ax.set_title(f"{init} \u00d7 {act}\n{chi1_label(rows)}")
            if c == 0:
                ax.set_ylabel(label + " (log)")
            if r == 1:
                ax.set_xlabel("layer l (last = output)")
    handles = [
        Line2D([], [], color="0.3", lw=1.6, label="mean-field prediction"),
        Line2D(
            [],
            [],
            color="black",
            marker="o",
            ls="none",
            markersize=3,
            label="measured (mean ± std over seeds)",
        ),
    ]
    fig.legend(handles=handles, loc="outside right center")
    marks = (
        f" Panels marked {LARGE_MARK} ({HUGE_MARK}) have a layer whose |relative error| "
        f"exceeds {LARGE_ERROR:g} ({HUGE_ERROR:g}): the table page explains them."
    )
    set_footnote(fig, WHY_TEXT + marks)
    return fig


def largest_disagreements(theory_df: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The ``n`` (combination, quantity) pairs with the largest |relative error|, with the layer
    where it is largest. Columns: initializer, activation, depth, quantity, layer, predicted,
    measured, measured_std, relerr."""
    rows = []
    for quantity in ("q", "delta_rel"):
        col = f"{quantity}_relerr"
        df = theory_df[np.isfinite(theory_df[col])]
        if df.empty:
            continue
        idx = (
            df[col]
            .abs()
            .groupby([df["initializer"], df["activation"], df["depth"]], sort=False)
            .idxmax()
        )
        for i in idx:
            r = theory_df.loc[i]
            rows.append(
                {
                    "initializer": r["initializer"],
                    "activation": r["activation"],
                    "depth": int(r["depth"]),
                    "quantity": quantity,
                    "layer": int(r["layer"]),
                    "predicted": float(r[f"{quantity}_pred"]),
                    "measured": float(r[f"{quantity}_meas_mean"]),
                    "measured_std": float(r[f"{quantity}_meas_std"]),
                    "relerr": float(r[col]),
                }
            )
    out = pd.DataFrame(
        rows,
        columns=[
            "initializer",
            "activation",
            "depth",
            "quantity",
            "layer",
            "predicted",
            "measured",
            "measured_std",
            "relerr",
        ],
    )
    if out.empty:
        return out
    order = out["relerr"].abs().sort_values(ascending=False, kind="stable").index
    return out.loc[order].head(n).reset_index(drop=True)


def _g(v: float) -> str:
    return "n/a" if not np.isfinite(v) else f"{v:.3g}"


def plot_theory_table(theory_df: pd.DataFrame, n: int = 20) -> Figure:
    """Table of the largest disagreements between theory and measurement, with the reasons."""
    fig = Figure(figsize=(11.69, 8.27))
    fig.text(
        0.04,
        0.955,
        "Theory vs measurement: largest relative errors",
        fontsize=13,
        fontweight="bold",
        va="top",
    )
    top = largest_disagreements(theory_df, n)
    hidden = theory_df[theory_df["layer"] < theory_df["depth"] + 1]
    med_q = (
        float(np.nanmedian(np.abs(hidden["q_relerr"])))
        if hidden["q_relerr"].notna().any()
        else math.nan
    )
    med_d = (
        float(np.nanmedian(np.abs(hidden["delta_rel_relerr"])))
        if hidden["delta_rel_relerr"].notna().any()
        else math.nan
    )
    intro = (
        f"Over all combinations and hidden layers, the median |relative error| is "
        f"{_g(med_q)} for q^l and {_g(med_d)} for the relative gradient rms. The table "
        f"lists the {len(top)} (combination, quantity) pairs with the largest |relative "
        "error| = |measured mean - predicted| / predicted, at the layer where it is "
        "largest."
    )
    fig.text(0.04, 0.905, wrap(intro, 170), fontsize=9, va="top")
    header = [
        "initializer",
        "activation",
        "depth",
        "quantity",
        "layer",
        "predicted",
        "measured (mean ± std)",
        "relative error",
    ]
    widths = [0.15, 0.11, 0.06, 0.12, 0.09, 0.12, 0.2, 0.1]
    names = {"q": "q^l", "delta_rel": "rms dL/dz (rel.)"}
    cells = [
        [
            r.initializer,
            r.activation,
            str(r.depth),
            names[r.quantity],
            f"{r.layer} (output)" if r.layer == r.depth + 1 else str(r.layer),
            _g(r.predicted),
            f"{_g(r.measured)} ± {_g(r.measured_std)}",
            f"{r.relerr:+.3g} {error_mark(r.relerr)}".rstrip(),
        ]
        for r in top.itertuples()
    ]
    y = draw_table(fig, header, widths, cells, top=0.85, row_height=0.024)
    marked = large_error_text(top)
    why = WHY_TEXT + ("\n\n" + marked if marked else "")
    fig.text(0.04, min(y - 0.02, 0.3), wrap(why, 175), fontsize=8.5, va="top")
    return fig


# --- phase diagram ---------------------------------------------------------------------------


_LINE_STYLES: tuple[str | tuple[int, tuple[int, ...]], ...] = (
    "-",
    "--",
    ":",
    "-.",
    (0, (8, 2, 2, 2)),
    (0, (3, 1, 1, 1, 1, 1)),
    (0, (12, 3)),
    (0, (2, 1, 2, 1, 6, 1)),
)
"""Eight dash patterns, none a variant of another (a dotted line appears once)."""

_LINE_COLORS = "Dark2"
COINCIDE = 0.005
"""Lines closer than this fraction of the x range everywhere are said to coincide."""


def activation_styles(
    names: Sequence[str],
) -> dict[str, tuple[tuple[float, ...], str | tuple[int, tuple[int, ...]]]]:
    """A distinct (colour, dash pattern) per activation, in configuration order.

    Colours come from the 8-colour Dark2 map and the dash patterns from :data:`_LINE_STYLES`;
    activation ``k`` gets colour ``k mod 8`` and pattern ``(k + k // 8) mod 8``, so up to 64
    activations never share both, and up to 8 share neither.
    """
    cmap = mpl.colormaps[_LINE_COLORS]
    n = len(_LINE_STYLES)
    return {
        name: (tuple(cmap(k % cmap.N)), _LINE_STYLES[(k + k // n) % n])
        for k, name in enumerate(names)
    }


def _coincides(sw2: FloatArray, other: FloatArray, x_max: float) -> bool:
    """Whether two critical lines lie within :data:`COINCIDE` of the x range everywhere."""
    both = np.isfinite(sw2) & np.isfinite(other)
    return bool(both.any()) and bool(np.all(np.abs(sw2[both] - other[both]) <= COINCIDE * x_max))


def _draw_critical_lines(
    ax: Axes, lines: Mapping[str, FloatArray], sigma_b2: FloatArray, x_max: float
) -> list[str]:
    """Draw each critical line that reaches the plot, each activation in its own colour and
    dash pattern and named in the legend only (lines that coincide say so there); return notes
    on the lines not drawn."""
    notes = []
    styles = activation_styles(list(lines))
    drawn: dict[str, FloatArray] = {}
    for name, sw2 in lines.items():
        finite = np.isfinite(sw2)
        if not finite.any():
            notes.append(f"{name}: no critical point found")
            continue
        if np.nanmin(sw2) > x_max:
            notes.append(
                f"{name}: critical sigma_w^2 = {np.nanmin(sw2):.3g} to "
                f"{np.nanmax(sw2):.3g}, off scale"
            )
            continue
        same = [other for other, v in drawn.items() if _coincides(sw2, v, x_max)]
        color, style = styles[name]
        ax.plot(
            sw2[finite],
            sigma_b2[finite],
            color=color,
            ls=style,
            lw=1.6,
            label=name + (f" (coincides with {', '.join(same)})" if same else ""),
        )
        drawn[name] = sw2
    return notes


def _draw_initializer_point(
    ax: Axes,
    init: str,
    sw2: float,
    point_b2: float,
    color: Color,
    marker: str,
    x_max: float,
    level: int,
) -> None:
    """One initializer at ``(sw2, point_b2)`` with its name ``level`` steps above it; beyond
    ``x_max`` it is a ``>`` at the right edge, named with its sigma_w^2."""
    x = min(sw2, x_max)
    off_scale = sw2 > x_max
    ax.plot(
        [x],
        [point_b2],
        marker=">" if off_scale else marker,
        color=color,
        markersize=9,
        mec="black",
        mew=0.6,
        ls="none",
        clip_on=False,
        zorder=5,
    )
    text = f"{init}\n(sigma_w^2 = {sw2:.3g})" if off_scale else init
    ax.annotate(
        text,
        (x, point_b2),
        xytext=(0, 12 + 12 * (level % 4)),
        textcoords="offset points",
        fontsize=8,
        color=color,
        ha="right" if off_scale else "center",
        va="bottom",
        arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5},
    )


def _draw_initializer_points(
    ax: Axes,
    points: Mapping[str, float],
    point_b2: float,
    colors: Mapping[str, Color],
    markers: Mapping[str, str],
    x_max: float,
) -> list[str]:
    """Every initializer with a known sigma_w^2, labels staggered where points sit close
    together along the axis; return notes on the initializers not drawn."""
    notes = []
    order = sorted(points, key=lambda n: (min(points[n], x_max), n))
    last_x, level = -np.inf, 0
    for init in order:
        sw2 = points[init]
        if not np.isfinite(sw2):
            notes.append(f"{init}: sigma_w^2 unknown")
            continue
        x = min(sw2, x_max)
        level = level + 1 if x - last_x < 0.08 * x_max else 0
        last_x = x
        _draw_initializer_point(ax, init, sw2, point_b2, colors[init], markers[init], x_max, level)
    return notes


def draw_phase_diagram(
    ax: Axes,
    lines: Mapping[str, FloatArray],
    sigma_b2: FloatArray,
    points: Mapping[str, float],
    point_b2: float,
    colors: Mapping[str, Color],
    markers: Mapping[str, str],
    x_max: float,
) -> list[str]:
    """Critical lines (named in the legend, see :func:`activation_styles`) and initializer
    points; return notes about lines beyond ``x_max``. Points beyond ``x_max`` are drawn as
    ``>`` at the right edge."""
    notes = _draw_critical_lines(ax, lines, sigma_b2, x_max)
    notes += _draw_initializer_points(ax, points, point_b2, colors, markers, x_max)
    return notes


def plot_phase_diagram(
    phase: pd.DataFrame,
    activations: Sequence[str],
    points: Mapping[str, float],
    bias_std: float,
    colors: Mapping[str, Color],
    markers: Mapping[str, str],
) -> Figure:
    """Order/chaos phase diagram (Poole et al. 2016 Fig. 1d; google/neural-tangents
    phase_diagram notebook): ``chi_1 = 1`` lines, initializers as points.

    Parameters
    ----------
    phase : DataFrame
        ``phase.csv``: ``activation``, ``sigma_b2``, ``critical_sigma_w2``.
    activations : sequence of str
        The grid's activations, in configuration order (one line each).
    points : mapping of str to float
        Hidden-layer ``sigma_w2`` per initializer (:func:`initlab.report.data.hidden_sigma_w2`).
    bias_std : float
        The study's bias standard deviation; the points sit at ``sigma_b2 = bias_std**2``.
    colors, markers : mapping
        Colour and marker per initializer.

    Returns
    -------
    Figure
        A landscape A4 page.
    """
    fig = new_page(
        "Order/chaos phase diagram",
        subtitle="edge of chaos chi1 = sigma_w^2 E[phi'(sqrt(q*) z)^2] = 1 for each "
        "activation of the grid; initializers at their hidden-layer sigma_w^2 = "
        "fan_in E[W^2] and the study's sigma_b^2 = bias_std^2",
    )
    point_b2 = float(bias_std) ** 2
    lines = _critical_lines(phase, activations)
    sigma_b2 = phase.loc[phase["activation"] == activations[0], "sigma_b2"].to_numpy(dtype=float)
    b2_max = float(sigma_b2.max()) if sigma_b2.size else 1.0
    x_max = _phase_x_max(lines, points)
    ax = fig.subplots()
    notes = draw_phase_diagram(ax, lines, sigma_b2, points, point_b2, colors, markers, x_max)
    ax.set_xlim(0, x_max)
    ax.set_ylim(-0.05 * b2_max, b2_max)
    ax.set_xlabel(r"$\sigma_w^2$ = fan_in $\cdot$ E[W$^2$] (weight variance times fan-in)")
    ax.set_ylabel(r"$\sigma_b^2$ (bias variance)")
    _name_phases(ax, lines, sigma_b2, 0.7 * b2_max, x_max)
    if ax.get_legend_handles_labels()[0]:
        fig.legend(
            loc="outside right center",
            title="critical lines $\\chi_1 = 1$\n(activation)",
            handlelength=4.5,
        )
    set_footnote(fig, _phase_footnote(notes))
    return fig


def _critical_lines(phase: pd.DataFrame, activations: Sequence[str]) -> dict[str, FloatArray]:
    """Critical sigma_w^2 along the sigma_b^2 grid of ``phase.csv``, per activation."""
    return {
        name: phase.loc[phase["activation"] == name, "critical_sigma_w2"].to_numpy(dtype=float)
        for name in activations
    }


def _phase_x_max(lines: Mapping[str, FloatArray], points: Mapping[str, float]) -> float:
    """Right edge of the phase diagram: at least 4, room for the lines and points up to 6."""
    near = [v[np.isfinite(v)] for v in lines.values()]
    near = [v for v in near if v.size and v.min() <= 6.0]
    line_max = max((float(v[v <= 6.0].max()) for v in near), default=2.0)
    finite_pts = [v for v in points.values() if np.isfinite(v) and v <= 6.0]
    return max(4.0, 1.1 * line_max, 1.1 * max(finite_pts, default=0.0))


def _name_phases(
    ax: Axes, lines: Mapping[str, FloatArray], sigma_b2: FloatArray, y: float, x_max: float
) -> None:
    """Name the ordered and chaotic phases on both sides of a reference line (tanh, else the
    first drawn), at height ``y``, where the lines of the other activations are usually far
    away."""
    drawable = [n for n, v in lines.items() if np.isfinite(v).any() and np.nanmin(v) <= x_max]
    ref = "tanh" if "tanh" in drawable else (drawable[0] if drawable else None)
    if ref is None:
        return
    sw = lines[ref]
    ok = np.isfinite(sw)
    x = float(np.interp(y, sigma_b2[ok], sw[ok]))
    if not x <= x_max:  # also when x is not a number
        return
    for text, dx, ha, color in (
        ("← ordered\n" + rf"($\chi_1 < 1$ for {ref})", -10, "right", "#2166ac"),
        ("chaotic →\n" + rf"($\chi_1 > 1$ for {ref})", 10, "left", "#b2182b"),
    ):
        ax.annotate(
            text,
            (x, y),
            xytext=(dx, 0),
            textcoords="offset points",
            ha=ha,
            va="center",
            fontsize=10,
            color=color,
            fontweight="bold",
        )


def _phase_footnote(notes: Sequence[str]) -> str:
    """Footnote of the phase diagram: how to read it, and what is not drawn."""
    text = (
        "Each activation's line has its own colour and dash pattern, named in the legend. "
        "Left of an activation's line the back-propagated gradients vanish exponentially "
        "with depth (ordered phase), right of it they explode (chaotic phase); deep networks "
        "train best near the line (Schoenholz et al. 2017: trainable depth ~ 6 xi_c). "
        "Vertical lines: piecewise-linear activations, for which chi1 does not depend on q "
        "(ReLU at 2, linear at 1). Points beyond the right edge are drawn as > with their "
        "sigma_w^2. An initializer's sigma_w^2 is the network's (theory.csv sigma_w2_hidden: "
        "fan_in E[W^2] of the hidden layers); whether it lies in the ordered or chaotic phase "
        "depends on the activation it is paired with. Lines: phase.csv."
    )
    if notes:
        text += " Not drawn: " + "; ".join(notes) + "."
    return text
