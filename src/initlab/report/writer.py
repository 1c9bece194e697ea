"""Plan the report's pages and render them into one byte-reproducible PDF (and a few PNGs).

:func:`plan_pages` decides every page from the configuration and the tables before anything is
drawn (so the page count is known); each :class:`Page` builds its figure only when rendered,
so a large study never holds more than one figure in memory. :func:`render_report` owns the
only :class:`~matplotlib.backends.backend_pdf.PdfPages`; its metadata carry no date, and every
number comes from the tables, so the same tables give the same bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from initlab.layout import AXES_AT_INIT, FIGURE_NAMES, RECOMMENDATION_RULE
from initlab.progress import Progress
from initlab.report import findings as fnd
from initlab.report import (
    guide_pages,
    heatmaps,
    propagation,
    recommend_pages,
    remedies_pages,
    spectra_pages,
    text_pages,
    theory_pages,
    trainability,
    training,
)
from initlab.report.data import (
    Combination,
    Grid,
    Tables,
    at_point,
    baseline_config,
    choose_highlights,
    dropped_highlights,
    grid_from_config,
    hidden_sigma_w2,
    pair_layer_rows,
    zero_gradient_combinations,
)
from initlab.report.style import initializer_colors, initializer_markers, rc_context

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "FIGURE_NAMES",
    "MAX_CURVE_ACTIVATIONS",
    "SECTION_TITLES",
    "Page",
    "contents",
    "plan_pages",
    "render_report",
]


MAX_CURVE_ACTIVATIONS = 16
"""Learning curves get one page per activation of the grid; only above this many activations
(a page each would swamp the report) are they drawn for the highlighted ones only."""


@dataclass(frozen=True)
class Page:
    """One page: its section, how to build its figure, and the PNG name it also feeds."""

    section: str
    build: Callable[[], Figure] = field(repr=False)
    png: str | None = None


def _n_classes(tables: Tables) -> int | None:
    out = tables.layers[tables.layers["layer"] == tables.layers["depth"] + 1]
    return int(out["fan_out"].iloc[0]) if len(out) else None


def _part(k: int, n: int) -> str:
    return f"part {k + 1} of {n}" if n > 1 else ""


@dataclass(frozen=True)
class _Plan:
    """What every section planner reads: the configuration, the tables and what is derived
    from them once (grid, colours, highlighted pairs, combinations without gradient)."""

    config: Mapping[str, Any]
    tables: Tables
    grid: Grid
    colors: dict[str, tuple[float, float, float, float]]
    markers: dict[str, str]
    highlights: list[tuple[tuple[str, str], str]]
    zero_grad: set[Combination]
    n_classes: int | None
    target: float
    pair_layers: pd.DataFrame | None = None

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """The highlighted (initializer, activation) pairs."""
        return [p for p, _ in self.highlights]


def _plan(config: Mapping[str, Any], tables: Tables) -> _Plan:
    config = baseline_config(config, tables.axes)
    grid = grid_from_config(config)
    highlights = choose_highlights(config, tables.summary, grid)
    return _Plan(
        config=config,
        tables=tables,
        grid=grid,
        colors=initializer_colors(grid.initializers),
        markers=initializer_markers(grid.initializers),
        highlights=highlights,
        zero_grad=zero_gradient_combinations(tables.layers),
        n_classes=_n_classes(tables),
        target=float(config["training"]["target_accuracy"]),
        # every checkpoint of the highlighted pairs at the deepest depth (distribution pages)
        pair_layers=pair_layer_rows(tables, [p for p, _ in highlights], grid.deepest),
    )


def _claims_pages(plan: _Plan) -> list[Page]:
    """The published claims checked by the study (only when ``claims.csv`` has rows)."""
    claims = plan.tables.claims
    if claims is None or not len(claims):
        return []
    chunks = text_pages.paginate(
        text_pages.claims_lines(claims), text_pages.FINDINGS_LINES_PER_PAGE
    )
    return [
        Page("claims", partial(text_pages.plot_claims, lines, _part(k, len(chunks))))
        for k, lines in enumerate(chunks)
    ]


def _findings_pages(plan: _Plan) -> list[Page]:
    """The plain statements derived from the tables."""
    tables = plan.tables
    found = fnd.derive_findings(tables.summary, tables.runs, plan.grid, plan.zero_grad)
    chunks = text_pages.paginate(
        text_pages.findings_lines(found), text_pages.FINDINGS_LINES_PER_PAGE
    )
    return [
        Page("findings", partial(text_pages.plot_findings, lines, _part(k, len(chunks))))
        for k, lines in enumerate(chunks)
    ]


def _heatmap_parts(plan: _Plan) -> list[tuple[tuple[str, ...], tuple[str, ...], int]]:
    """The initializer x activation parts of a heatmap (``report.max_heatmap_cells`` each), with
    the number of panels a page holds at that size."""
    grid = plan.grid
    max_cells = int(plan.config["report"].get("max_heatmap_cells", 400))
    parts = heatmaps.heatmap_chunks(len(grid.initializers), len(grid.activations), max_cells)
    out = []
    for rs, cs in parts:
        rows, cols = grid.initializers[rs], grid.activations[cs]
        out.append((rows, cols, heatmaps.metrics_per_page(len(rows) * len(cols))))
    return out


def _heatmap_pages(plan: _Plan) -> list[Page]:
    """Heatmaps at every depth, split by ``report.max_heatmap_cells`` and panels per page."""
    grid = plan.grid
    parts = _heatmap_parts(plan)
    pages: list[Page] = []
    for depth in grid.depths:
        for k, (rows, cols, per) in enumerate(parts):
            metrics = heatmaps.HEATMAP_METRICS
            groups = [metrics[m : m + per] for m in range(0, len(metrics), per)]
            for g, group in enumerate(groups):
                build = partial(
                    heatmaps.plot_heatmaps,
                    plan.tables.summary,
                    depth,
                    rows,
                    cols,
                    group,
                    zero_gradient=plan.zero_grad,
                    n_seeds=len(grid.seeds),
                    part=_part(k * len(groups) + g, len(parts) * len(groups)),
                )
                first = depth == grid.deepest and k == 0 and g == 0
                pages.append(Page("heatmaps", build, "heatmaps" if first else None))
    return pages


def _units_at_end_pages(plan: _Plan) -> list[Page]:
    """Dead units at the end of training: one panel per depth, as many depths per page as
    :func:`~initlab.report.heatmaps.metrics_per_page` allows for the grid's cells."""
    grid = plan.grid
    parts = _heatmap_parts(plan)
    pages: list[Page] = []
    for k, (rows, cols, per) in enumerate(parts):
        groups = [grid.depths[d : d + per] for d in range(0, len(grid.depths), per)]
        for g, depths in enumerate(groups):
            build = partial(
                heatmaps.plot_depth_panels,
                plan.tables.summary,
                heatmaps.DEAD_AT_END,
                depths,
                rows,
                cols,
                n_seeds=len(grid.seeds),
                part=_part(k * len(groups) + g, len(parts) * len(groups)),
            )
            pages.append(Page("units_at_end", build, None))
    return pages


def _gradient_flow_pages(plan: _Plan) -> list[Page]:
    """Gradient flow at init at the deepest depth, one page per gradient quantity."""
    pages = []
    for quantity in propagation.GRADIENT_QUANTITIES:
        build = partial(
            propagation.plot_gradient_flow,
            plan.tables.layers,
            plan.tables.summary,
            plan.grid.deepest,
            plan.grid.initializers,
            plan.grid.activations,
            plan.colors,
            quantity,
        )
        png = "gradient_flow" if quantity == "delta_rms" else None
        pages.append(Page("gradient_flow", build, png))
    return pages


def _remedies_pages(plan: _Plan) -> list[Page]:
    """Per extra axis and non-baseline value: the paired accuracy change per cell (depths on
    as few pages as the cells allow), then, for an axis that changes step 0
    (:data:`~initlab.layout.AXES_AT_INIT`), the gradient flow at init at that value."""
    t = plan.tables
    if t.remedies is None or not len(t.remedies) or t.axes is None or t.all_layers is None:
        return []
    grid, pages = plan.grid, []
    per = heatmaps.metrics_per_page(len(grid.initializers) * len(grid.activations))
    groups = [grid.depths[d : d + per] for d in range(0, len(grid.depths), per)]
    pairs = t.remedies[["axis", "value"]].drop_duplicates().itertuples(index=False)
    for axis, value in pairs:
        for g, depths in enumerate(groups):
            build = partial(
                remedies_pages.plot_remedies,
                t.remedies,
                axis,
                value,
                depths,
                grid.initializers,
                grid.activations,
                _part(g, len(groups)),
            )
            pages.append(Page("remedies", build))
        if axis not in AXES_AT_INIT:  # step 0 is the baseline's
            continue
        build = partial(
            propagation.plot_gradient_flow,
            at_point(t.all_layers, t.axes, axis, value),
            at_point(t.all_summary, t.axes, axis, value),
            grid.deepest,
            grid.initializers,
            grid.activations,
            plan.colors,
            "delta_rms",
            f"{axis} = {value}",
        )
        pages.append(Page("remedies", build))
    return pages


def _distribution_pages(plan: _Plan) -> list[Page]:
    """Per-layer distributions of the highlighted pairs, a few pairs per page."""
    chunks = propagation.pair_rows(plan.pairs)
    return [
        Page(
            "distributions",
            partial(
                propagation.plot_distributions,
                plan.pair_layers,
                plan.tables.runs,
                chunk,
                plan.grid.deepest,
                plan.colors,
                _part(k, len(chunks)),
            ),
        )
        for k, chunk in enumerate(chunks)
    ]


def _curve_activations(plan: _Plan) -> list[str]:
    """Every activation, or only the highlighted ones above :data:`MAX_CURVE_ACTIVATIONS`."""
    if len(plan.grid.activations) <= MAX_CURVE_ACTIVATIONS:
        return list(plan.grid.activations)
    chosen = {a for _, a in plan.pairs}
    return [a for a in plan.grid.activations if a in chosen]


def _learning_curve_pages(plan: _Plan) -> list[Page]:
    """Learning curves, one page per activation."""
    pages = []
    for k, act in enumerate(_curve_activations(plan)):
        build = partial(
            training.plot_learning_curves,
            plan.tables.curves,
            plan.tables.runs,
            act,
            plan.grid.depths,
            plan.grid.initializers,
            plan.colors,
            target=plan.target,
            n_classes=plan.n_classes,
        )
        pages.append(Page("learning_curves", build, "learning_curves" if k == 0 else None))
    return pages


def _depth_scaling_pages(plan: _Plan) -> list[Page]:
    """Test accuracy against depth."""
    build = partial(
        training.plot_depth_scaling,
        plan.tables.summary,
        plan.grid.initializers,
        plan.grid.activations,
        plan.grid.depths,
        plan.colors,
        target=plan.target,
        n_classes=plan.n_classes,
        runs=plan.tables.runs,
    )
    return [Page("depth_scaling", build, "depth_scaling")]


def _normalized(plan: _Plan) -> bool:
    """The baseline normalizes its hidden layers: mean-field theory of plain nets (theory.csv's
    predictions, left empty) does not describe it."""
    return str(plan.config["training"].get("normalization", "none")) != "none"


def _theory_pages(plan: _Plan) -> list[Page]:
    """Theory against measurement (figure), then the largest disagreements (table); none for a
    normalized baseline."""
    if _normalized(plan):
        return []
    theory = plan.tables.theory
    figure = partial(
        theory_pages.plot_theory_vs_measurement,
        theory,
        plan.pairs,
        plan.grid.deepest,
        plan.colors,
    )
    return [
        Page("theory", figure, "theory"),
        Page("theory", partial(theory_pages.plot_theory_table, theory)),
    ]


def _orthogonal(plan: _Plan) -> set[str]:
    return spectra_pages.orthogonal_initializers(plan.config, plan.grid.initializers)


def _spectra_pages(plan: _Plan) -> list[Page]:
    """Jacobian spectra against depth, a few activations per page (none for a normalized
    baseline: the pages compare with plain-net predictions)."""
    if _normalized(plan):
        return []
    grid, runs = plan.grid, plan.tables.runs
    acts = spectra_pages.spectrum_activations(runs, grid.activations)
    chunks = spectra_pages.page_chunks(acts, spectra_pages.SPECTRUM_ACTIVATIONS_PER_PAGE)
    orthogonal = _orthogonal(plan)
    return [
        Page(
            "spectra",
            partial(
                spectra_pages.plot_jacobian_spectra,
                runs,
                plan.tables.theory,
                chunk,
                grid.initializers,
                grid.depths,
                plan.colors,
                orthogonal,
                len(grid.seeds),
                _part(k, len(chunks)),
            ),
        )
        for k, chunk in enumerate(chunks)
    ]


def _correlation_pages(plan: _Plan) -> list[Page]:
    """The correlation map at the deepest depth, a few activations per page (none for a
    normalized baseline)."""
    if _normalized(plan):
        return []
    grid, theory = plan.grid, plan.tables.theory
    acts = spectra_pages.correlation_activations(theory, grid.deepest, grid.activations)
    chunks = spectra_pages.page_chunks(acts, spectra_pages.CORRELATION_PANELS_PER_PAGE)
    orthogonal = _orthogonal(plan)
    return [
        Page(
            "correlation_map",
            partial(
                spectra_pages.plot_correlation_map,
                theory,
                grid.deepest,
                chunk,
                grid.initializers,
                plan.colors,
                orthogonal,
                _part(k, len(chunks)),
            ),
        )
        for k, chunk in enumerate(chunks)
    ]


def _phase_pages(plan: _Plan) -> list[Page]:
    """The order/chaos phase diagram with every initializer at its hidden sigma_w^2."""
    grid = plan.grid
    sw2 = hidden_sigma_w2(plan.tables.theory, grid.deepest)
    points = {i: sw2.get(i, math.nan) for i in grid.initializers}
    bias_std = float(plan.config.get("bias_std", 0.0))
    build = partial(
        theory_pages.plot_phase_diagram,
        plan.tables.phase,
        grid.activations,
        points,
        bias_std,
        plan.colors,
        plan.markers,
    )
    return [Page("phase_diagram", build)]


def _trainability_pages(plan: _Plan) -> list[Page]:
    """Trainability over sigma_w^2 x depth (only when the study sweeps sigma_w^2), at the
    baseline, then at every other value of each extra axis that does not change step 0."""
    theory = plan.tables.theory
    swept = trainability.sweep_activations(theory, plan.grid.activations)
    if not swept:
        return []
    build = partial(
        trainability.plot_sigma_depth_heatmaps, plan.tables.summary, theory, swept, plan.target
    )
    pages = [Page("trainability", build)]
    t = plan.tables
    if t.axes is None or t.all_summary is None:
        return pages
    # one page per other value of each axis that leaves sigma_w^2 and xi_c as at the baseline
    for row in t.axes[~t.axes["baseline"].astype(str).eq("True")].itertuples():
        if row.axis in AXES_AT_INIT:
            continue
        build = partial(
            trainability.plot_sigma_depth_heatmaps,
            at_point(t.all_summary, t.axes, row.axis, row.value),
            theory,
            swept,
            plan.target,
            f"{row.axis} = {row.value}",
        )
        pages.append(Page("trainability", build))
    return pages


def _appendix_pages(plan: _Plan) -> list[Page]:
    """The summary table, :data:`~initlab.report.text_pages.SUMMARY_ROWS_PER_PAGE` a page."""
    rows = text_pages.summary_table_rows(plan.tables.summary, plan.zero_grad)
    per = text_pages.SUMMARY_ROWS_PER_PAGE
    n_app = max(1, math.ceil(len(rows) / per))
    return [
        Page(
            "appendix",
            partial(
                text_pages.plot_summary_table,
                rows[k * per : (k + 1) * per],
                f"page {k + 1} of {n_app}",
                training.t_interval_note(plan.tables.summary),
            ),
        )
        for k in range(n_app)
    ]


def _recommendation_pages(plan: _Plan) -> list[Page]:
    """The first page(s): which initializer for which activation and depth, and why."""
    rows = recommend_pages.recommendation_rows(plan.tables.recommendations)
    per = recommend_pages.RECOMMENDATION_ROWS_PER_PAGE
    chunks = [rows[k : k + per] for k in range(0, len(rows), per)] or [[]]
    title, budget = plan.config["report"]["title"], recommend_pages.budget_text(plan.config)
    return [
        Page(
            "recommendations",
            partial(
                recommend_pages.plot_recommendations,
                chunk,
                title,
                budget,
                RECOMMENDATION_RULE,
                _part(k, len(chunks)),
            ),
        )
        for k, chunk in enumerate(chunks)
    ]


def _guide_pages(plan: _Plan) -> list[Page]:
    """How to read the report (glossary), then the initializers of the study."""
    runs = plan.tables.runs
    n_test = int(runs["n_test"].iloc[0]) if "n_test" in runs and len(runs) else None
    table = plan.tables.initializers
    per = guide_pages.INITIALIZER_ROWS_PER_PAGE
    chunks = [table.iloc[k : k + per] for k in range(0, len(table), per)]
    width = int(plan.config["width"])
    return [
        Page("guide", partial(guide_pages.plot_reading_guide, plan.config, n_test)),
        *(
            Page(
                "initializers",
                partial(guide_pages.plot_initializer_page, chunk, width, _part(k, len(chunks))),
            )
            for k, chunk in enumerate(chunks)
        ),
    ]


def _title_page(plan: _Plan, toc: Sequence[tuple[str, str]]) -> Page:
    """The study page (grid, settings, counts, versions) with the table of contents ``toc``."""
    t = plan.tables
    build = partial(
        text_pages.plot_title_page,
        plan.config,
        plan.grid,
        t.runs if t.all_runs is None else t.all_runs,  # the counts cover every axis value
        t.summary if t.all_summary is None else t.all_summary,
        plan.highlights,
        text_pages.software_versions(),
        list(toc),
        dropped_highlights(plan.config, plan.grid),
        plan.tables.axes,
    )
    return Page("title", build)


_SECTION_PLANNERS: tuple[Callable[[_Plan], list[Page]], ...] = (
    _guide_pages,
    _claims_pages,
    _findings_pages,
    _remedies_pages,
    _heatmap_pages,
    _units_at_end_pages,
    _gradient_flow_pages,
    _distribution_pages,
    _learning_curve_pages,
    _depth_scaling_pages,
    _theory_pages,
    _spectra_pages,
    _correlation_pages,
    _phase_pages,
    _trainability_pages,
    _appendix_pages,
)
"""The planners of the sections after the title page, in report order."""


def plan_pages(config: Mapping[str, Any], tables: Tables) -> list[Page]:
    """Every page of the report, in order (see the module docstring of :mod:`initlab.report`).

    Parameters
    ----------
    config : mapping
        The resolved study configuration (``study.json``).
    tables : Tables
        The study's tables (:func:`initlab.report.data.load_tables`).

    Returns
    -------
    list of Page
        One entry per PDF page; nothing is drawn yet.
    """
    plan = _plan(config, tables)
    answer = _recommendation_pages(plan)
    pages = [page for planner in _SECTION_PLANNERS for page in planner(plan)]
    study_page = len(answer) + 1
    toc = [
        *contents(answer, first_page=1),
        (SECTION_TITLES["title"], str(study_page)),
        *contents(pages, first_page=study_page + 1),
    ]
    return [*answer, _title_page(plan, toc), *pages]


SECTION_TITLES = {
    "recommendations": "Which initializer for which activation and depth",
    "title": "Study: grid, settings, counts, software",
    "guide": "How to read this report",
    "initializers": "The initializers: formulas, sigma_w^2, which coincide",
    "claims": "Published claims: held or not",
    "findings": "Findings",
    "remedies": "Remedies: each value of the extra axes against the baseline",
    "heatmaps": "Trainability heatmaps per depth",
    "units_at_end": "Dead units at the end of training",
    "gradient_flow": "Gradient flow at initialization",
    "distributions": "Per-layer distributions (highlighted pairs)",
    "learning_curves": "Learning curves",
    "depth_scaling": "Depth scaling",
    "theory": "Theory vs measurement",
    "spectra": "Input-output Jacobian spectra at initialization",
    "correlation_map": "Correlation map: measured against the c-map",
    "phase_diagram": "Order/chaos phase diagram",
    "trainability": "Trainability over sigma_w^2 x depth (6 xi_c)",
    "appendix": "Appendix: summary table",
}
"""Table-of-contents titles of the page sections."""


def contents(pages: Sequence[Page], first_page: int = 1) -> list[tuple[str, str]]:
    """(section title, page range) of each section of ``pages``, numbered from ``first_page``."""
    out: list[tuple[str, str]] = []
    k = 0
    while k < len(pages):
        section = pages[k].section
        n = 1
        while k + n < len(pages) and pages[k + n].section == section:
            n += 1
        start = first_page + k
        span = f"{start}" if n == 1 else f"{start}-{start + n - 1}"
        out.append((SECTION_TITLES.get(section, section), span))
        k += n
    return out


def render_report(
    pages: Sequence[Page],
    metadata: Mapping[str, str | None],
    log: Callable[[str], None] | None = None,
) -> tuple[bytes, dict[str, bytes]]:
    """Render ``pages`` into PDF bytes, and the PNG of every page that names one.

    Parameters
    ----------
    pages : sequence of Page
        From :func:`plan_pages`.
    metadata : mapping
        PDF document information; ``CreationDate`` is forced to ``None`` (no date).
    log : callable, optional
        Receives progress lines (pages done / total, elapsed, time left; a few at most).

    Returns
    -------
    tuple
        ``(pdf_bytes, {png_name: png_bytes})``.
    """
    meta = {**dict(metadata), "CreationDate": None, "ModDate": None}
    pdf_buf = io.BytesIO()
    pngs: dict[str, bytes] = {}
    progress = Progress("report: pages rendered", len(pages), log) if log else None
    with rc_context(), PdfPages(pdf_buf, metadata=meta) as pdf:
        for done, page in enumerate(pages, start=1):
            fig = page.build()
            pdf.savefig(fig)
            if page.png and page.png not in pngs:
                png_buf = io.BytesIO()
                fig.savefig(
                    png_buf,
                    format="png",
                    dpi=mpl.rcParams["savefig.dpi"],
                    metadata={"Software": None},
                )
                pngs[page.png] = png_buf.getvalue()
            if progress is not None:
                progress(done)
    return pdf_buf.getvalue(), pngs
