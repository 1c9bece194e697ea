"""The report's first page: which initializer for which activation at which depth, and why.

Drawn from ``recommendations.csv`` alone (:mod:`initlab.recommend` computes it during
aggregation): one row per activation x depth with the recommended initializer(s), ties listed
as ties, the network's ``sigma_w^2`` and ``chi_1``, every seed's final test accuracy, the verdict
and the one-line reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from initlab.report.style import VERDICT_COLORS, wrap
from initlab.report.text_pages import _text_page, draw_table

__all__ = [
    "RECOMMENDATION_ROWS_PER_PAGE",
    "budget_text",
    "plot_recommendations",
    "recommendation_rows",
]

RECOMMENDATION_ROWS_PER_PAGE = 32
"""Rows of the recommendation table per page (8 activations x 4 depths fit on the first)."""

_COLUMNS = (
    ("activation", 0.075),
    ("depth", 0.035),
    ("recommended initializer(s)", 0.245),
    ("sigma_w^2", 0.055),
    ("chi_1", 0.04),
    ("test acc (each seed)", 0.11),
    ("verdict", 0.055),
    ("still learning", 0.055),
    ("why (chi_1: theory; gradient: measured at init)", 0.25),
)


def _number(value: Any, fmt: str) -> str:
    v = float(value)
    return format(v, fmt) if math.isfinite(v) else "n/a"


SHOWN_TIES = 3
"""Tied initializers named on the page (recommendations.csv lists every one)."""


def _names(joined: str) -> str:
    """``he_normal`` or ``tie of 5: a, b, c +2 more`` (one line)."""
    names = [n for n in joined.split(";") if n]
    if not names:
        return "none trains"
    if len(names) == 1:
        return names[0]
    more = f" +{len(names) - SHOWN_TIES} more" if len(names) > SHOWN_TIES else ""
    return f"tie of {len(names)}: " + ", ".join(names[:SHOWN_TIES]) + more


def _still_learning(share: Any, verdict: str) -> str:
    """Share of the best cell's surviving seeds still learning at the end, for a cell that
    does not reach the target (blank where it does, 'n/a' where undefined)."""
    if verdict == "trains":
        return ""
    return _number(100 * float(share), ".0f") + ("%" if math.isfinite(float(share)) else "")


def recommendation_rows(table: pd.DataFrame) -> list[list[str]]:
    """The table's rows as the strings the page prints (ties joined with ", ")."""
    rows = []
    for r in table.itertuples(index=False):
        names = str(r.recommended) if isinstance(r.recommended, str) else ""
        rows.append(
            [
                str(r.activation),
                str(r.depth),
                _names(names),
                _number(r.sigma_w2_hidden, ".3g"),
                _number(r.chi1, ".2f"),
                str(r.test_acc_seeds),
                str(r.verdict),
                _still_learning(r.share_still_learning, str(r.verdict)),
                wrap(str(r.reason), 68),
            ]
        )
    return rows


def budget_text(config: Mapping[str, Any]) -> str:
    """The training budget every verdict is a statement about."""
    t = config.get("training", {})
    return (
        f"budget: {t.get('epochs')} epoch{'' if t.get('epochs') == 1 else 's'} of batch "
        f"{t.get('batch_size')}, {t.get('optimizer')} "
        f"lr {t.get('learning_rate')}, width {config.get('width')}, "
        f"{len(config.get('seeds', []))} seeds per cell"
    )


def plot_recommendations(
    rows: Sequence[Sequence[str]], title: str, budget: str, rule: str, part: str = ""
) -> Figure:
    """One page of the recommendation table.

    Parameters
    ----------
    rows : sequence of sequence of str
        From :func:`recommendation_rows` (at most :data:`RECOMMENDATION_ROWS_PER_PAGE`).
    title : str
        The study's report title.
    budget : str
        :func:`budget_text` of the study.
    rule : str
        The recommendation rule in words (stated on the page).
    part : str
        ``"part k of n"`` when the table spans pages.

    Returns
    -------
    Figure
    """
    fig = _text_page(
        "Which initializer for which activation and depth" + (f" ({part})" if part else "")
    )
    fig.text(0.04, 0.91, wrap(f"{title}. {budget}. {rule}.", 200), fontsize=7.5, va="top")
    draw_table(
        fig,
        [c for c, _ in _COLUMNS],
        [w for _, w in _COLUMNS],
        rows,
        top=0.86,
        left=0.04,
        row_height=min(0.0246, 0.795 / (len(rows) + 1)),
        size=5.5,
        last_col_colors=None,
        row_colors=[VERDICT_COLORS.get(r[6]) for r in rows],
    )
    fig.text(
        0.04,
        0.012,
        wrap(
            "From recommendations.csv. sigma_w^2 = fan_in Var[W] of the hidden layers and "
            "chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2] (mean-field theory) of the best initializer; "
            "test accuracy of each seed ('div': diverged). Ties (all listed in the CSV, the first "
            f"{SHOWN_TIES} here): the seeds cannot tell the "
            "initializers apart (the Welch 95% interval of the difference contains 0); with few "
            "seeds that is often the case. A verdict is a statement about this budget: 'still "
            "learning' is the share of the best cell's seeds whose training loss was still "
            "falling at the end (shown where the cell does not reach the target).",
            200,
        ),
        fontsize=7,
        va="bottom",
    )
    return fig
