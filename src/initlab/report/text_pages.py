"""Pages made of text and tables: the title page, the findings and the summary appendix.

Text is placed in figure coordinates on a fixed grid of lines (no layout engine), wrapped by
:func:`textwrap.fill`; pages are split by line count before anything is drawn, so the number
of pages is known when the report is planned.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from initlab.layout import TABLE_NAMES, VERDICT_RULE
from initlab.report.data import Combination, Grid
from initlab.report.findings import TIE_RULE, Finding, verdict_counts
from initlab.report.style import PAGE_SIZE, RC, VERDICT_COLORS, wrap

__all__ = [
    "SUMMARY_ROWS_PER_PAGE",
    "TextLine",
    "draw_table",
    "findings_lines",
    "paginate",
    "plot_findings",
    "plot_summary_table",
    "plot_title_page",
    "software_versions",
    "summary_table_rows",
]

SUMMARY_ROWS_PER_PAGE = 35
FINDINGS_LINES_PER_PAGE = 40
_TEXT_SIZE = 9.0
_LINE = 1.32 * _TEXT_SIZE / 72.0 / PAGE_SIZE[1]  # one text line, in figure-height units
_TOP = 0.90  # first line below the page title
_LEFT = 0.04
_WRAP = 150  # characters per line at 9 pt on landscape A4 with 0.04 margins


@dataclass(frozen=True)
class TextLine:
    """One line of a text page: its text, weight and indent (figure-width units)."""

    text: str
    bold: bool = False
    indent: float = 0.0


def _text_page(title: str) -> Figure:
    fig = Figure(figsize=PAGE_SIZE)
    fig.text(
        _LEFT, 0.955, title, fontsize=RC["figure.titlesize"], fontweight="bold", va="top", ha="left"
    )
    return fig


def _draw_lines(
    fig: Figure,
    lines: Sequence[TextLine],
    top: float = _TOP,
    left: float = _LEFT,
    scale: float = 1.0,
) -> float:
    """Draw ``lines`` from ``top`` down (``scale`` shrinks font and spacing alike); return the
    y of the next free line."""
    y = top
    for line in lines:
        if line.text:
            fig.text(
                left + line.indent,
                y,
                line.text,
                fontsize=_TEXT_SIZE * scale,
                va="top",
                ha="left",
                fontweight="bold" if line.bold else "normal",
            )
        y -= _LINE * scale
    return y


def paginate(blocks: Sequence[Sequence[TextLine]], per_page: int) -> list[list[TextLine]]:
    """Split blocks of lines into pages of at most ``per_page`` lines, never splitting a block
    that fits on one page."""
    pages: list[list[TextLine]] = [[]]
    for block in blocks:
        if pages[-1] and len(pages[-1]) + len(block) > per_page:
            pages.append([])
        for line in block:
            if len(pages[-1]) >= per_page:
                pages.append([])
            pages[-1].append(line)
    return pages


def _bullet(text: str, width: int = _WRAP) -> list[TextLine]:
    wrapped = wrap(text, width - 4).split("\n")
    return [
        TextLine(("•  " if k == 0 else "") + part, indent=0.0 if k == 0 else 0.0127)
        for k, part in enumerate(wrapped)
    ]


def findings_lines(findings: Sequence[Finding]) -> list[list[TextLine]]:
    """The findings as blocks of lines (heading, bullets, a blank line), one block each."""
    blocks = []
    for f in findings:
        block = [TextLine(f.heading, bold=True)]
        for statement in f.statements:
            block.extend(_bullet(statement))
        block.append(TextLine(""))
        blocks.append(block)
    return blocks


def claims_lines(claims: pd.DataFrame) -> list[list[TextLine]]:
    """The claims of claims.csv as blocks: verdict, statement and source, then what was
    measured, the rule with its threshold and the reason for it, why the verdict, a caveat."""
    blocks = []
    for row in claims.itertuples(index=False):
        heading = f"[{str(row.verdict).upper()}]  {row.claim}  ({row.source})"
        block = [TextLine(part, bold=True) for part in wrap(heading, _WRAP - 15).split("\n")]
        block.extend(_bullet(f"Measured: {row.measured}"))
        for label, text in (
            ("Rule", row.threshold),
            ("Threshold because", row.reason),
            ("Why this verdict", row.note),
            ("Caveat", row.caveat),
        ):
            if isinstance(text, str) and text:
                block.extend(_bullet(f"{label}: {text}"))
        block.append(TextLine(""))
        blocks.append(block)
    return blocks


def _plot_text(title: str, lines: Sequence[TextLine], footnote: str) -> Figure:
    """A text page: title, ``lines`` from the top, a wrapped footnote at the bottom."""
    fig = _text_page(title)
    _draw_lines(fig, lines)
    fig.text(_LEFT, 0.025, wrap(footnote, 190), fontsize=7.5, va="bottom", ha="left")
    return fig


def plot_claims(lines: Sequence[TextLine], part: str = "") -> Figure:
    """One page of "published claim -> what this study measured -> held / did not hold"."""
    return _plot_text(
        "Published claims checked by this study" + (f" ({part})" if part else ""),
        lines,
        "From claims.csv: the claims, rules and thresholds are declared in the study's "
        "configuration (claims:). Verdicts: held / did not hold by the rule; inconclusive: "
        "measured, but the interval is too wide to decide; not measurable: an input is "
        "missing, not finite or has fewer than 2 seeds. Accuracies count a diverged seed as a "
        "failed run at chance.",
    )


def plot_findings(lines: Sequence[TextLine], part: str = "") -> Figure:
    """One findings page (``lines`` from :func:`paginate` of :func:`findings_lines`)."""
    return _plot_text(
        "Findings" + (f" ({part})" if part else ""),
        lines,
        "Derived automatically from summary.csv and runs.csv. Accuracies are means over all "
        "seeds (a diverged seed counted as a failed run at chance) with the 95% Student-t "
        "interval, clipped to [0, 1]; with few seeds these intervals are wide. Gradient ratios "
        "compare the first and the last hidden layer. "
        + TIE_RULE
        + ". Verdict rule: "
        + VERDICT_RULE
        + ".",
    )


def software_versions() -> dict[str, str]:
    """Versions of Python and the libraries that produced the report (this interpreter)."""
    out = {"python": platform.python_version()}
    for pkg in ("numpy", "scipy", "pandas", "matplotlib", "initlab"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "unknown"
    return out


def _kv(key: str, value: Any, width: int = 72) -> list[TextLine]:
    text = wrap(f"{key}: {value}", width).split("\n")
    return [TextLine(t, indent=0.0 if k == 0 else 0.02) for k, t in enumerate(text)]


def plot_title_page(
    config: Mapping[str, Any],
    grid: Grid,
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    highlights: Sequence[tuple[tuple[str, str], str]],
    versions: Mapping[str, str],
    contents: Sequence[tuple[str, str]] = (),
    dropped: Sequence[tuple[str, str]] = (),
    axes: pd.DataFrame | None = None,
) -> Figure:
    """Title page: the study, its grid and training settings, counts, software versions and
    the table of contents (``contents``: (section title, page range) pairs); ``dropped``: the
    configured highlight pairs that are not in the grid; ``axes``: ``axes.csv``, the extra axes
    of the grid (the settings shown are their first values)."""
    fig = Figure(figsize=PAGE_SIZE)
    _title_header(fig, config)
    blocks = [
        _grid_lines(config, grid)
        + _axes_lines(axes)
        + _idle_axis_lines(config, axes)
        + _alpha_dropout_lines(config, grid, axes),
        _training_lines(config["training"]),
        _count_lines(runs, summary),
        _highlight_lines(highlights, dropped),
        _software_lines(versions),
    ]
    if contents:
        blocks.append(_contents_lines(contents))
    capacity = int((0.74 - 0.1) / _LINE)
    left, right = _two_columns(blocks, capacity)
    scale = min(1.0, capacity / max(len(left), len(right), 1))  # a long grid: smaller text
    _draw_lines(fig, left, top=0.74, left=0.06, scale=scale)
    _draw_lines(fig, right, top=0.74, left=0.54, scale=scale)
    _title_footer(fig)
    return fig


def _two_columns(
    blocks: Sequence[Sequence[TextLine]], capacity: int
) -> tuple[list[TextLine], list[TextLine]]:
    """Blocks in order, the left column filled up to ``capacity`` lines, the rest on the right
    (a blank line between blocks)."""
    left: list[TextLine] = []
    right: list[TextLine] = []
    for block in blocks:
        target = left if not right and len(left) + len(block) + 1 <= capacity else right
        target.extend([*([TextLine("")] if target else []), *block])
    return left, right


def _title_header(fig: Figure, config: Mapping[str, Any]) -> None:
    """The report title and the line naming the study and the dataset."""
    title = str(config["report"]["title"])
    fig.text(0.5, 0.93, wrap(title, 70), fontsize=20, fontweight="bold", ha="center", va="top")
    fig.text(
        0.5,
        0.83,
        f"initlab comparative report · study {config['study']!r} · dataset {config['dataset']}",
        fontsize=11,
        ha="center",
        va="top",
    )


def _grid_lines(config: Mapping[str, Any], grid: Grid) -> list[TextLine]:
    """The grid: initializers, activations, depths, seeds, width, bias and custom definitions."""
    custom_i = config.get("custom_initializers") or {}
    custom_a = config.get("custom_activations") or {}
    lines = [TextLine("Grid", bold=True)]
    lines += _kv("initializers", ", ".join(grid.initializers))
    lines += _kv("activations", ", ".join(grid.activations))
    lines += _kv("depths (hidden layers)", ", ".join(map(str, grid.depths)))
    lines += _kv("seeds", ", ".join(map(str, grid.seeds)))
    lines += _kv("width (units per hidden layer)", config["width"])
    lines += _kv("bias std at init", config["bias_std"])
    if config.get("classes"):
        lines += _kv("classes (relabelled from 0)", ", ".join(map(str, config["classes"])))
    for name, src in (config.get("sources") or {}).items():
        classes = ", ".join(map(str, src.get("classes") or ())) or "all"
        what = f"classes {classes}, depth {src['depth']}, {src['initializer']}"
        lines += _kv(
            f"source {name}", what + (f", {src['epochs']} epochs" if "epochs" in src else "")
        )
    for name, definition in {**custom_i, **custom_a}.items():
        params = ", ".join(f"{k}={v}" for k, v in sorted(definition.items()))
        lines += _kv(f"custom {name}", params)
    return lines


def _axes_lines(axes: pd.DataFrame | None) -> list[TextLine]:
    """The extra axes of the grid and the baseline value every page shows."""
    if axes is None or not len(axes):
        return []
    lines = [TextLine("")]
    for axis, rows in axes.groupby("axis", sort=False):
        values = ", ".join(rows.sort_values("position")["value"])
        lines += _kv(f"axis {axis}", values)
    lines += [
        TextLine("Every page shows the first value of each axis (the settings below);"),
        TextLine("runs.csv and summary.csv hold every value."),
    ]
    return lines


def _values(config: Mapping[str, Any], axes: pd.DataFrame | None, key: str) -> list[str]:
    """Every value a training setting takes in the study: the baseline's and the axis's."""
    out = [str(config.get("training", {}).get(key, ""))]
    if axes is not None and len(axes):
        out += [str(v) for v in axes.loc[axes["axis"] == key, "value"]]
    return out


def _idle_axis_lines(config: Mapping[str, Any], axes: pd.DataFrame | None) -> list[TextLine]:
    """Axes whose values cannot change a run here (e.g. momentum when no optimizer uses it):
    their points are repeats of one another, not a comparison."""
    if axes is None or not len(axes):
        return []
    names = set(axes["axis"])
    optimizers = set(_values(config, axes, "optimizer"))
    rates = [float(v) for v in _values(config, axes, "dropout") if v not in ("", "None")]
    idle = []
    if "momentum" in names and not optimizers & {"momentum", "nesterov"}:
        idle.append("momentum (no optimizer of the study uses it)")
    if "nesterov" in names and "momentum" not in optimizers:
        idle.append("nesterov (only the momentum optimizer reads it)")
    if "dropout_kind" in names and not any(r > 0 for r in rates):
        idle.append("dropout_kind (no unit is dropped: dropout is 0)")
    if not idle:
        return []
    return [TextLine("Axes without effect here:", bold=True)] + [TextLine(f"  {i}") for i in idle]


def _alpha_dropout_lines(
    config: Mapping[str, Any], grid: Grid, axes: pd.DataFrame | None
) -> list[TextLine]:
    """A flag when alpha-dropout, designed for SELU's fixed point (Klambauer et al. 2017),
    meets other activations (allowed, but its mean and variance correction does not hold)."""
    kinds = _values(config, axes, "dropout_kind")
    rates = [float(v) for v in _values(config, axes, "dropout") if v not in ("", "None")]
    if not any(r > 0 for r in rates):  # no unit is ever dropped
        return []
    others = [a for a in grid.activations if a != "selu"]
    if "alpha_dropout" not in kinds or not others:
        return []
    return [
        TextLine(""),
        TextLine(
            "Note: alpha_dropout keeps mean 0 and variance 1 only at SELU's fixed point", bold=True
        ),
        TextLine(f"(Klambauer et al. 2017); here it also meets {', '.join(others)}."),
    ]


def _training_lines(tr: Mapping[str, Any]) -> list[TextLine]:
    """The training settings (the ``training`` section of the configuration)."""
    lines = [TextLine("Training", bold=True)]
    momentum = ""
    if tr["optimizer"] in ("momentum", "nesterov"):  # the others do not use the momentum settings
        nesterov = tr["nesterov"] or tr["optimizer"] == "nesterov"
        momentum = f", momentum {tr['momentum']}" + (" (Nesterov)" if nesterov else "")
    lines += _kv("optimizer", f"{tr['optimizer']}, learning rate {tr['learning_rate']}" + momentum)
    lines += _kv("epochs, batch size", f"{tr['epochs']}, {tr['batch_size']}")
    if "normalization" in tr:  # studies recorded before these settings lack them
        lines += _kv(
            "normalization, dropout, loss",
            f"{tr['normalization']}, {tr['dropout']} ({tr['dropout_kind']}), {tr['loss']}",
        )
        if tr["normalization"] != "none":
            lines += [TextLine("(no theory, spectra or correlation-map pages: their mean-field")]
            lines += [TextLine("predictions describe plain nets, not normalized ones)")]
        lines += _kv(
            "weight decay, train fraction",
            f"{tr['weight_decay']}, {tr['train_fraction']} of the training split",
        )
    if int(tr.get("budget_check", 1)) > 1:
        lines += _kv("budget check", f"below target: on to {tr['budget_check']} x the epochs")
    lines += _kv("checkpoint every", f"{tr['checkpoint_every']} epoch(s)")
    lines += _kv("target accuracy", tr["target_accuracy"])
    lines += _kv(
        "probe batch, dtype, base seed",
        f"{tr['probe_size']} examples, {tr['dtype']}, {tr['base_seed']}",
    )
    return lines


def _count_lines(runs: pd.DataFrame, summary: pd.DataFrame) -> list[TextLine]:
    """Runs, diverged runs, combinations and the combinations of each verdict."""
    n_div = int(runs["diverged"].sum())
    lines = [TextLine("Counts", bold=True)]
    lines += _kv("runs (networks trained)", len(runs))
    lines += _kv("diverged runs", f"{n_div} ({n_div / max(len(runs), 1):.0%})")
    lines += _kv("combinations", len(summary))
    for verdict, n in verdict_counts(summary).items():
        lines += _kv(f"  verdict {verdict}", n)
    return lines


def _highlight_lines(
    highlights: Sequence[tuple[tuple[str, str], str]], dropped: Sequence[tuple[str, str]]
) -> list[TextLine]:
    """The highlighted pairs with the reason for each, then the configured ones dropped."""
    lines = [TextLine("Highlighted pairs (detail pages)", bold=True)]
    for (init, act), reason in highlights:
        lines += _kv(f"{init} \u00d7 {act}", reason)
    for init, act in dropped:
        lines += _kv(f"{init} \u00d7 {act}", "configured, not in the grid: dropped")
    return lines


def _software_lines(versions: Mapping[str, str]) -> list[TextLine]:
    """The versions of the software that made the report."""
    return [
        TextLine("Software", bold=True),
        *_kv("versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
    ]


def _title_footer(fig: Figure) -> None:
    """Where the numbers come from, and the verdict rule."""
    fig.text(
        0.06,
        0.03,
        wrap(
            "Every number in this report is read from the study's tables ("
            + ", ".join(n for n in TABLE_NAMES if n != "timings")
            + "); the report is byte-identical when rerun on the same tables and installation. "
            "Verdict rule: " + VERDICT_RULE + ".",
            180,
        ),
        fontsize=7.5,
        va="bottom",
        ha="left",
    )


def _contents_lines(contents: Sequence[tuple[str, str]]) -> list[TextLine]:
    """The table of contents: one line per (section title, page range)."""
    lines = [TextLine("Contents", bold=True)]
    for section, pages in contents:
        lines += _kv(("pages " if "-" in pages else "page ") + pages, section)
    return lines


def summary_table_rows(
    summary: pd.DataFrame, zero_gradient: AbstractSet[Combination] = frozenset()
) -> list[list[str]]:
    """The appendix rows: one per combination, as formatted strings (``zero_gradient``: the
    combinations whose first-layer gradient is exactly zero, shown as such)."""
    rows = []
    for r in summary.itertuples():
        acc = r.final_test_acc_mean
        lo, hi = r.final_test_acc_ci95_lo, r.final_test_acc_ci95_hi
        acc_s = f"{acc:.3f}" if pd.notna(acc) else "n/a"
        if pd.notna(acc) and pd.notna(lo):
            clipped = "*" if str(r.final_test_acc_ci95_clipped) == "True" else ""
            ci_s = f"[{lo:.3f}, {hi:.3f}]{clipped}"
        else:
            ci_s = "n/a"
        ratio = r.log10_delta_ratio_hidden_mean
        rows.append(
            [
                str(r.initializer),
                str(r.activation),
                str(r.depth),
                str(r.n_seeds),
                acc_s,
                ci_s,
                f"{ratio:+.2f}"
                if pd.notna(ratio)
                else "-inf (zero grad)"
                if (r.initializer, r.activation, int(r.depth)) in zero_gradient
                else "n/a",
                f"{r.share_diverged:.2f}",
                f"{r.share_reached_target:.2f}",
                str(r.verdict),
            ]
        )
    return rows


SUMMARY_COLUMNS = (
    ("initializer", 0.13),
    ("activation", 0.10),
    ("depth", 0.05),
    ("seeds", 0.05),
    ("test acc (mean)", 0.11),
    ("95% CI", 0.13),
    ("log10 δ1/δL init", 0.12),
    ("diverged", 0.08),
    ("val. at target", 0.08),
    ("verdict", 0.07),
)


def draw_table(
    fig: Figure,
    header: Sequence[str],
    widths: Sequence[float],
    rows: Sequence[Sequence[str]],
    *,
    top: float,
    left: float = _LEFT,
    row_height: float = 0.0225,
    size: float = 8.0,
    row_colors: Sequence[str | None] | None = None,
    last_col_colors: Sequence[str | None] | None = None,
) -> float:
    """Draw a table in figure coordinates; return the y below it.

    ``widths`` are column widths in figure-width units; ``row_colors`` shade whole rows,
    ``last_col_colors`` the last cell (the verdict).
    """
    total = sum(widths)
    xs = [left + sum(widths[:k]) for k in range(len(widths))]
    y = top
    fig.add_artist(
        Rectangle(
            (left, y - row_height),
            total,
            row_height,
            transform=fig.transFigure,
            color="#e6e6e6",
            zorder=0,
        )
    )
    for x, h in zip(xs, header, strict=True):
        fig.text(
            x + 0.004,
            y - row_height / 2,
            h,
            fontsize=size,
            fontweight="bold",
            va="center",
            ha="left",
        )
    y -= row_height
    for k, row in enumerate(rows):
        shade = row_colors[k] if row_colors else ("#f5f5f5" if k % 2 else None)
        if shade:
            fig.add_artist(
                Rectangle(
                    (left, y - row_height),
                    total,
                    row_height,
                    transform=fig.transFigure,
                    color=shade,
                    zorder=0,
                )
            )
        if last_col_colors and last_col_colors[k]:
            fig.add_artist(
                Rectangle(
                    (xs[-1], y - row_height),
                    widths[-1],
                    row_height,
                    transform=fig.transFigure,
                    color=last_col_colors[k],
                    zorder=0,
                )
            )
        for x, cell in zip(xs, row, strict=True):
            fig.text(x + 0.004, y - row_height / 2, cell, fontsize=size, va="center", ha="left")
        y -= row_height
    return y


def plot_summary_table(rows: Sequence[Sequence[str]], part: str, t_note: str = "") -> Figure:
    """One appendix page of the summary table (at most :data:`SUMMARY_ROWS_PER_PAGE` rows);
    ``t_note``: the t quantile of the study's seed counts."""
    fig = _text_page(f"Appendix: summary per combination ({part})")
    header = [c for c, _ in SUMMARY_COLUMNS]
    widths = [w for _, w in SUMMARY_COLUMNS]
    verdict_colors = [VERDICT_COLORS.get(r[-1]) for r in rows]
    draw_table(
        fig, header, widths, rows, top=0.905, row_height=0.021, last_col_colors=verdict_colors
    )
    fig.text(
        _LEFT,
        0.025,
        wrap(
            "One row per combination (summary.csv). test acc: mean final test accuracy over "
            "all seeds, a diverged seed counted as a failed run at chance; 95% CI: Student-t "
            "interval of that mean over the 'seeds' column's seeds, * where it was clipped to "
            f"[0, 1] ({t_note}); log10 δ1/δL: log10 of the rms of "
            "dL/dz in the first over the last hidden layer at initialization (mean over seeds; "
            "n/a with one hidden layer, -inf when the first-layer gradient is exactly zero); "
            "diverged: share of seeds that diverged; val. at target: share of seeds whose "
            "validation accuracy reached the target at some checkpoint (steps_to_target; the "
            "verdict uses the final test accuracy). Verdict rule: " + VERDICT_RULE + ".",
            200,
        ),
        fontsize=7.5,
        va="bottom",
        ha="left",
    )
    return fig
