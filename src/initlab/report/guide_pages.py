"""Pages that help a reader read the rest: the initializers of the study and the glossary.

:func:`plot_initializer_page` draws ``initializers.csv`` (one row per initializer: what it
draws, ``Var[W]``, the sigma_w^2 of the first, hidden and output layers and the initializers it
coincides with); :func:`plot_reading_guide` defines, on one page, the symbols and conventions
the other pages use (delta, q^l, sigma_w^2, chi_1, the depth scales, dead and saturated units,
verdicts, intervals, the training budget, the test set, the Jacobian spread).

References
----------
- Glorot & Bengio (2010), AISTATS; He, Zhang, Ren & Sun (2015), ICCV; LeCun, Bottou, Orr &
  Mueller (1998), Efficient BackProp.
- Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli (2016), NeurIPS; Schoenholz, Gilmer, Ganguli &
  Sohl-Dickstein (2017), ICLR.
- Saxe, McClelland & Ganguli (2014), ICLR; Pennington, Schoenholz & Ganguli (2017), NeurIPS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import scipy.stats as sps
from matplotlib.figure import Figure

from initlab.layout import VERDICT_RULE
from initlab.records import DEAD_THRESHOLD, JACOBIAN_PROBES, SATURATION_THRESHOLD
from initlab.report.style import FOOTNOTE_SIZE, wrap
from initlab.report.text_pages import _LINE, _text_page, draw_table

__all__ = [
    "INITIALIZER_ROWS_PER_PAGE",
    "coincidence_notes",
    "glossary",
    "plot_initializer_page",
    "plot_reading_guide",
]

INITIALIZER_ROWS_PER_PAGE = 14
"""Rows of the initializer table that fit a page with two text lines a row; a longer table
is drawn with one line a row (cells cut), so split it into pages of this many rows."""

_TABLE_COLUMNS = (
    ("initializer", 0.105, 18),
    ("distribution (source)", 0.29, 62),
    ("Var[W]", 0.12, 22),
    ("\u03c3_w²\nfirst", 0.06, 9),
    ("\u03c3_w²\nhidden", 0.06, 9),
    ("\u03c3_w²\noutput", 0.06, 9),
    ("identical\nhidden weights", 0.115, 21),
    ("same hidden\nvariance", 0.11, 20),
)
"""(header, width in figure units, characters per cell line) of the initializer table."""

_DPHI = "\u03c6\u2032"
"""phi', the activation's derivative."""

_TABLE_TOP = 0.85
_TABLE_BOTTOM = 0.30
_SIZE = 7.5


def _cell(text: str, chars: int, lines: int) -> str:
    """``text`` wrapped to ``chars`` characters and cut to ``lines`` lines (ending in "…")."""
    parts = wrap(text, chars).split("\n") if text else [""]
    if len(parts) > lines:
        parts = [*parts[: lines - 1], parts[lines - 1][: chars - 1] + "…"]
    return "\n".join(parts)


def _names(joined: Any) -> str:
    """``a;b`` from the table as ``a, b`` (empty for a missing value)."""
    return ", ".join(n for n in str(joined).split(";") if n) if isinstance(joined, str) else ""


def _g(value: Any) -> str:
    return f"{float(value):.3g}" if pd.notna(value) else "n/a"


def _table_rows(init_table: pd.DataFrame, lines: int) -> list[list[str]]:
    """The cells of every row of ``init_table`` (wrapped to ``lines`` lines a cell)."""
    rows = []
    for r in init_table.itertuples(index=False):
        values = (
            str(r.initializer),
            str(r.formula),
            str(r.variance),
            _g(r.sigma_w2_first),
            _g(r.sigma_w2_hidden),
            _g(r.sigma_w2_output),
            _names(r.same_hidden_weights_as),
            _names(r.same_hidden_variance_as),
        )
        rows.append(
            [
                _cell(v, chars, lines)
                for v, (_, _, chars) in zip(values, _TABLE_COLUMNS, strict=True)
            ]
        )
    return rows


def _close(a: Any, b: Any) -> bool:
    return bool(pd.notna(a) and pd.notna(b) and math.isclose(float(a), float(b), rel_tol=1e-12))


def _pair_note(a: Any, b: Any) -> str:
    """What two initializers with identical hidden weights share: everything, or all but the
    scale of their first or output layer."""
    differ = [
        (layer, getattr(a, col), getattr(b, col))
        for layer, col in (("first", "sigma_w2_first"), ("output", "sigma_w2_output"))
        if not _close(getattr(a, col), getattr(b, col))
    ]
    if not differ:
        return (
            f"{a.initializer} and {b.initializer} build identical networks from every seed "
            "(every layer's weights are equal)."
        )
    layers = " and ".join(layer for layer, _, _ in differ)
    scales = "; ".join(f"{layer}: \u03c3_w² {_g(x)} vs {_g(y)}" for layer, x, y in differ)
    return (
        f"{a.initializer} and {b.initializer} have identical hidden weights; their {layers} "
        f"layer{'s hold' if len(differ) > 1 else ' holds'} the same draws at another scale "
        f"({scales})."
    )


def coincidence_notes(init_table: pd.DataFrame) -> list[str]:
    """One sentence per pair of initializers of ``init_table`` that coincide on the hidden
    layers (each pair once, in table order; a partner outside the table is named only).

    Parameters
    ----------
    init_table : pandas.DataFrame
        Rows of ``initializers.csv``.

    Returns
    -------
    list of str
    """
    rows = {str(r.initializer): r for r in init_table.itertuples(index=False)}
    notes: list[str] = []
    seen: set[frozenset[str]] = set()
    for name, r in rows.items():
        for col, kind in (("same_hidden_weights_as", "weights"), ("same_hidden_variance_as", "")):
            for other in _names(getattr(r, col)).split(", "):
                pair = frozenset((name, other))
                if not other or pair in seen:
                    continue
                seen.add(pair)
                if kind and other in rows:
                    notes.append(_pair_note(r, rows[other]))
                elif kind:
                    notes.append(f"{name} and {other} have identical hidden weights.")
                else:
                    notes.append(
                        f"{name} and {other}: same family and hidden variance, different draws."
                    )
    return notes


def _initializer_footnote(init_table: pd.DataFrame) -> str:
    """The footnote of the initializer page: how to read it, the coincidence rule, the pairs."""
    pairs = coincidence_notes(init_table)
    return (
        "Var[W] and \u03c3_w² are exact, computed from each initializer's definition. "
        "0.8796 is the std of N(0, 1) truncated to [-2, 2]: Keras' truncated normals divide "
        "their std by it so that Var[W] is exactly the one shown. Two initializers coincide "
        "when they draw from the same family (truncated normal, normal, uniform, orthogonal, "
        "constant) with the same hidden E[W²] (to 1e-12 relative). A run draws its layers in "
        "order from one random generator per seed, the same for every initializer: 'identical "
        "hidden weights' means that, drawn this way, the two give bit-identical hidden "
        "weights; 'same hidden variance' that they coincide but draw different weights. With "
        "equal hidden widths Glorot's 2/(fan_in+fan_out) is LeCun's 1/fan_in. Initializers of "
        "one family scale the same draws (he_normal's weights are √2 \u00d7 lecun_normal's in "
        "every layer): the same random stream, a different network.\n"
        + (" ".join(pairs) if pairs else "No two initializers of this study coincide.")
        + "\nTwo identical networks (the batch order is the same too) give the same results, "
        "so the findings never crown one of two identical networks over the other; where only "
        "the hidden weights are identical, a difference between the two measures the scale of "
        "their first or output layer alone."
    )


def plot_initializer_page(init_table: pd.DataFrame, width: int, part: str = "") -> Figure:
    """The initializers of the study: what each draws, Var[W], the sigma_w^2 of each kind of
    layer and which initializers coincide.

    Parameters
    ----------
    init_table : pandas.DataFrame
        ``initializers.csv`` (or up to :data:`INITIALIZER_ROWS_PER_PAGE` of its rows), columns
        ``initializer, formula, variance, sigma_w2_first, sigma_w2_hidden, sigma_w2_output,
        same_hidden_weights_as, same_hidden_variance_as``.
    width : int
        Units per hidden layer of the study.
    part : str, optional
        ``"part 1 of 2"`` when the table is split over pages.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _text_page(
        "Initializers: what they draw and the \u03c3_w² they give each layer"
        + (f" ({part})" if part else "")
    )
    intro = (
        f"\u03c3_w² = fan_in · E[W²] of a layer at this study's width {width}: first = inputs → "
        f"{width} units, hidden = {width} → {width} (the network's \u03c3_w², the one mean-field "
        f"theory uses), output = {width} → classes. Var[W]: the variance of one weight as a "
        "function of its layer's fans; weights are shaped (fan_in, fan_out)."
    )
    fig.text(0.04, 0.905, wrap(intro, 160), fontsize=9, va="top", ha="left")
    n = len(init_table)
    row_height = min(0.038, (_TABLE_TOP - _TABLE_BOTTOM) / (n + 1))
    lines = 2 if row_height >= 0.034 else 1
    header = [h if lines == 2 else h.replace("\n", " ") for h, _, _ in _TABLE_COLUMNS]
    bottom = draw_table(
        fig,
        header,
        [w for _, w, _ in _TABLE_COLUMNS],
        _table_rows(init_table, lines),
        top=_TABLE_TOP,
        row_height=row_height,
        size=_SIZE,
    )
    fig.text(
        0.04,
        bottom - 0.025,
        wrap(_initializer_footnote(init_table), 190),
        fontsize=FOOTNOTE_SIZE,
        va="top",
        ha="left",
    )
    return fig


# --- how to read this report -----------------------------------------------------------------


def _signal_terms() -> list[tuple[str, str]]:
    """The glossary's terms of signal propagation and mean-field theory."""
    return [
        (
            "δ = dL/dz",
            "The back-propagated gradient: the derivative of the loss L (mean cross-entropy "
            "over the probe batch) with respect to a layer's pre-activations z = a·W + b. Its "
            "rms per layer shows gradients vanishing or exploding; log10_delta_ratio_hidden = "
            "log10(rms δ¹ / rms δ^depth) compares the first with the last hidden layer (0: the "
            "gradient kept its size).",
        ),
        (
            "q^l",
            "Second moment of layer l's pre-activations, mean(z²) over units and probe samples: "
            "the length of the signal. Mean-field theory predicts it layer by layer (Poole et "
            "al. 2016); q* is its fixed point.",
        ),
        (
            "\u03c3_w² (sigma_w2)",
            "fan_in · Var[W] of the hidden layers (fan_in · E[W²] where the mean is not 0; the "
            "input layer for a net with one hidden layer): one number per initializer and "
            "width, listed on the initializer page.",
        ),
        (
            "χ₁ (chi1)",
            "\u03c3_w² E[φ\u2032(√q* z)²], z ~ N(0, 1): the factor by which the mean square of δ "
            "grows per layer, backwards, at the fixed point q*. χ₁ = 1 is the edge of chaos; "
            "below 1 (ordered) gradients vanish, above 1 (chaotic) they explode.",
        ),
        (
            "ξ_c (xi_c)",
            "Correlation depth scale: -1/ln of the slope of the correlation map (c-map) at its "
            "fixed point; over about ξ_c layers a network forgets how two inputs were "
            "correlated. Infinite where that slope is 1 (ReLU without bias; q* = 0, such as "
            "tanh with \u03c3_w² ≤ 1 and no bias).",
        ),
        (
            "ξ_grad (xi_grad)",
            "Gradient depth scale: -1/ln χ₁; the rms of δ changes by a factor e every |ξ_grad| "
            "layers. Negative: gradients grow towards the input (χ₁ > 1).",
        ),
        (
            "6 ξ_c",
            "The trainable depth of Schoenholz et al. (2017): tanh networks with \u03c3_b² > 0 "
            "deeper than about 6 ξ_c did not train in their experiments. A rule of thumb for "
            "that setting, not a law for every activation or for \u03c3_b = 0.",
        ),
        (
            "Jacobian spread",
            "std of ln s over the singular values s of the input-output Jacobian ∂a^depth/∂x at "
            f"initialization ({JACOBIAN_PROBES} probe inputs). 0: every input direction is "
            "stretched alike, dynamical isometry (Saxe et al. 2014; Pennington et al. 2017). "
            "Mean-field theory predicts the mean of s² (the product of the layers' χ), not "
            "this spread.",
        ),
    ]


def _number(value: float) -> str:
    """``1e-6`` rather than Python's ``1e-06``."""
    return f"{value:g}".replace("e-0", "e-").replace("e+0", "e")


def _budget(training: Mapping[str, Any]) -> str:
    """The training budget in words, from the keys ``training`` has."""
    tr = dict(training)
    if "epochs" in tr and "batch_size" in tr:
        text = (
            f"Every run takes {tr['epochs']} epochs \u00d7 ⌈n_train / {tr['batch_size']}⌉ "
            "mini-batches = its optimizer updates (n_train: the training samples it uses)"
        )
    else:
        text = "Every run takes the same number of updates (epochs \u00d7 mini-batches per epoch)"
    if "learning_rate" in tr:
        text += (f", optimizer {tr['optimizer']}" if "optimizer" in tr else "") + (
            f", learning rate {tr['learning_rate']}"
        )
    text += (
        ". 'fails' means fails within this budget: more updates or another learning rate "
        "might train it."
    )
    factor = int(tr.get("budget_check", 1))
    if factor > 1 and "epochs" in tr:
        text += (
            f" Budget check: every seed below the target trained on to {factor} \u00d7 "
            f"{tr['epochs']} epochs; a cell is 'slow' when it trains there, 'stuck' when its "
            "verdict does not improve (findings page, summary.csv budget_outcome)."
        )
    return text


def _test_set(config: Mapping[str, Any], n_test: int | None) -> str:
    """The test set in words: its size when known."""
    if n_test is None:
        return (
            "Final accuracies are measured on the held-out test split (20% of the data unless "
            "the dataset ships a test set), never used for training or for choosing anything."
        )
    dataset = str(config.get("dataset", ""))
    noun = "images" if dataset == "digits" or dataset.startswith("mnist:") else "examples"
    return (
        f"Final accuracies are measured on the held-out test split: {n_test} {noun}, never "
        f"used for training or for choosing anything; one {noun[:-1]} is "
        f"{1.0 / max(n_test, 1):.2g} of accuracy."
    )


def _result_terms(config: Mapping[str, Any], n_test: int | None) -> list[tuple[str, str]]:
    """The glossary's terms of units, verdicts, intervals, budget and test set."""
    training = config.get("training") or {}
    target = (
        f" (target_accuracy = {training['target_accuracy']})"
        if "target_accuracy" in training
        else ""
    )
    return [
        (
            "dead / saturated",
            f"A unit is dead when |{_DPHI}(z)| is below {_number(DEAD_THRESHOLD)} of the "
            f"activation's largest |{_DPHI}| for every probe sample: it passes no gradient at all "
            f"(a ReLU stuck at 0). An entry (unit \u00d7 sample) is saturated when |{_DPHI}(z)| is "
            f"below {SATURATION_THRESHOLD:.0%} of that largest |{_DPHI}| (tanh in its flat tails, "
            "ReLU on its inactive side); the tables give the shares of dead units and saturated "
            "entries.",
        ),
        ("verdict", VERDICT_RULE + target + "."),
        (
            "interval over k seeds",
            "The Student-t 95% interval of the mean over the k seeds of a combination, "
            "mean ± t(k-1) s/√k, clipped to [0, 1] for accuracies. " + _t_note(config) + " In "
            "accuracies a diverged seed counts as a failed run at chance.",
        ),
        ("budget", _budget(training)),
        ("test set", _test_set(config, n_test)),
    ]


def _t_note(config: Mapping[str, Any]) -> str:
    """The t quantile of this study's seed count (wide intervals with few seeds)."""
    k = len(config.get("seeds", []))
    if k < 2:
        return "With one seed there is no interval."
    return f"With {k} seeds t = {float(sps.t.ppf(0.975, k - 1)):.3g}" + (
        ", so intervals are wide." if k < 6 else "."
    )


def glossary(config: Mapping[str, Any], n_test: int | None) -> list[tuple[str, str]]:
    """The terms of the reading guide with their definitions, in page order.

    Parameters
    ----------
    config : mapping
        The resolved study configuration (``training`` may lack keys: they are then left out).
    n_test : int or None
        Size of the test split, if known.

    Returns
    -------
    list of (str, str)
        ``(term, definition)`` pairs.
    """
    return [*_signal_terms(), *_result_terms(config, n_test)]


_TERM_LEFT = 0.04
_DEFINITION_LEFT = 0.19
_DEFINITION_WRAP = 132
_GUIDE_SIZE = 9.0


def _draw_glossary(fig: Figure, terms: Sequence[tuple[str, str]], top: float) -> float:
    """Draw ``terms`` as a two-column glossary from ``top`` down, one text per line on a fixed
    grid of lines; return the y below it."""
    line = _LINE * _GUIDE_SIZE / 9.0
    y = top
    for term, definition in terms:
        fig.text(_TERM_LEFT, y, term, fontsize=_GUIDE_SIZE, fontweight="bold", va="top")
        for part in wrap(definition, _DEFINITION_WRAP).split("\n"):
            fig.text(_DEFINITION_LEFT, y, part, fontsize=_GUIDE_SIZE, va="top")
            y -= line
        y -= 0.45 * line
    return y


def plot_reading_guide(config: Mapping[str, Any], n_test: int | None) -> Figure:
    """The "How to read this report" page: a glossary of the symbols and conventions used.

    Parameters
    ----------
    config : mapping
        The resolved study configuration (``training`` may lack keys: they are then left out).
    n_test : int or None
        Size of the test split, if known.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = _text_page("How to read this report")
    _draw_glossary(fig, glossary(config, n_test), top=0.905)
    fig.text(
        0.04,
        0.025,
        wrap(
            "Symbols follow Poole et al. (2016) and Schoenholz et al. (2017); z are a layer's "
            "pre-activations, a = φ(z) its activations, W its weights shaped (fan_in, fan_out). "
            "References: Glorot & Bengio 2010; He et al. 2015; LeCun et al. 1998; Saxe et al. "
            "2014; Pennington, Schoenholz & Ganguli 2017.",
            190,
        ),
        fontsize=FOOTNOTE_SIZE,
        va="bottom",
        ha="left",
    )
    return fig
