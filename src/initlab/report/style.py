"""Look of every report page: page size, fonts, colours, markers and small text helpers.

All pages are landscape A4 with constrained layout. Colours and markers are assigned to
initializers once, from the configuration order, so an initializer has the same colour on every
page. Matplotlib settings are applied through :func:`rc_context` only (no global state).
"""

from __future__ import annotations

import contextlib
import math
import textwrap
from collections.abc import Iterator, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator

__all__ = [
    "DIVERGED_MARKER",
    "FOOTNOTE_SIZE",
    "PAGE_SIZE",
    "RC",
    "VERDICT_COLORS",
    "initializer_colors",
    "initializer_markers",
    "log_y",
    "new_page",
    "panel_grid",
    "place_legend",
    "rc_context",
    "set_footnote",
    "text_color_for",
    "wrap",
]

PAGE_SIZE = (11.69, 8.27)
"""Landscape A4 in inches."""

FOOTNOTE_SIZE = 7.5
SUBTITLE_SIZE = 9.0
SUBTITLE_WRAP = 150
DIVERGED_MARKER = "x"

RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "legend.title_fontsize": 8,
    "figure.titlesize": 13,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.4,
    "lines.markersize": 4,
    "hatch.linewidth": 0.8,
    "pdf.fonttype": 3,
    "figure.constrained_layout.h_pad": 0.06,
    "figure.constrained_layout.w_pad": 0.06,
    "savefig.dpi": 100,
}
"""Matplotlib settings of every page (fonts >= 7 pt; Type 3 fonts keep the PDF reproducible)."""

VERDICT_COLORS = {
    "trains": "#d9f0d3",
    "partial": "#fff2b3",
    "fails": "#f4c7c3",
    "diverged": "#d9d9d9",
}
"""Cell colours of the verdicts in tables."""

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h", "*", "p")


@contextlib.contextmanager
def rc_context() -> Iterator[None]:
    """Apply :data:`RC` while building and saving figures."""
    with mpl.rc_context(RC):
        yield


def initializer_colors(names: Sequence[str]) -> dict[str, tuple[float, float, float, float]]:
    """One qualitative colour per initializer, in configuration order (tab10, then tab20)."""
    cmap = mpl.colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: tuple(cmap(i % cmap.N)) for i, name in enumerate(names)}


def initializer_markers(names: Sequence[str]) -> dict[str, str]:
    """One marker per initializer, in configuration order (for points that share a colour)."""
    return {name: _MARKERS[i % len(_MARKERS)] for i, name in enumerate(names)}


def new_page(title: str, *, subtitle: str = "") -> Figure:
    """An empty landscape A4 figure with constrained layout, a bold page title and an optional
    subtitle in normal weight below it.

    The suptitle gets blank lines that reserve room for the subtitle, so the constrained layout
    keeps the panels clear of both.
    """
    fig = Figure(figsize=PAGE_SIZE, layout="constrained")
    title_pt = float(RC["figure.titlesize"])
    lines = wrap(subtitle, SUBTITLE_WRAP).split("\n") if subtitle else []
    blank = math.ceil(len(lines) * SUBTITLE_SIZE * 1.25 / (title_pt * 1.2)) if lines else 0
    # no explicit y: only an auto-positioned suptitle gets room in the constrained layout
    fig.suptitle(title + "\n " * blank, fontsize=title_pt, fontweight="bold", x=0.01, ha="left")
    if lines:
        top = 1.0 - float(RC["figure.constrained_layout.h_pad"]) / PAGE_SIZE[1]
        y = top - title_pt * 1.2 / 72.0 / PAGE_SIZE[1]
        fig.text(0.01, y, "\n".join(lines), fontsize=SUBTITLE_SIZE, ha="left", va="top")
    return fig


def panel_grid(n: int) -> tuple[int, int]:
    """Rows and columns for ``n`` panels on a landscape page (wider than tall)."""
    if n <= 3:
        return 1, max(n, 1)
    if n == 4:
        return 2, 2
    if n <= 6:
        return 2, 3
    if n <= 8:
        return 2, 4
    if n <= 9:
        return 3, 3
    if n <= 12:
        return 3, 4
    return math.ceil(n / 5), 5


def place_legend(
    fig: Figure, axes: Sequence[Axes], n_used: int, handles: Sequence[Any], title: str | None = None
) -> None:
    """Put the legend in the first unused panel slot, or outside on the right if none is free.

    Unused slots (``axes[n_used:]``) are hidden either way.
    """
    spare = list(axes[n_used:])
    for ax in spare:
        ax.set_visible(False)
    if spare:
        ax = spare[0]
        ax.set_visible(True)
        ax.set_axis_off()
        ax.legend(handles=handles, loc="center", title=title, frameon=False)
    else:
        fig.legend(handles=handles, loc="outside right center", title=title)


def set_footnote(fig: Figure, text: str, width: int = 190) -> None:
    """Put a wrapped footnote under the panels (as the figure's x label, so the constrained
    layout reserves room for it and nothing overlaps)."""
    fig.supxlabel(
        wrap(text, width), fontsize=FOOTNOTE_SIZE, x=0.01, ha="left", multialignment="left"
    )


def log_y(ax: Axes) -> None:
    """Log y axis with at most about 7 labelled decades. (Matplotlib's automatic minor ticks
    label axes spanning less than a decade and vanish beyond ten decades.)"""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10.0, numticks=7))


def wrap(text: str, width: int) -> str:
    """Wrap each paragraph of ``text`` (separated by newlines) to ``width`` characters."""
    return "\n".join(textwrap.fill(p, width) if p else "" for p in text.split("\n"))


def text_color_for(rgba: Sequence[float]) -> str:
    """Black or white, whichever reads better on a cell of colour ``rgba`` (WCAG luminance)."""
    rgb = np.asarray(rgba[:3], dtype=float)
    lin = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    lum = float(0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2])
    return "black" if lum > 0.35 else "white"
