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
from typing import Any

import matplotlib as mpl
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from initlab.report import findings as fnd
from initlab.report import (
    heatmaps,
    propagation,
    spectra_pages,
    text_pages,
    theory_pages,
    trainability,
    training,
)
from initlab.report.data import (
    Grid,
    Tables,
    choose_highlights,
    grid_from_config,
    hidden_sigma_w2,
    zero_gradient_combinations,
)
from initlab.report.style import initializer_colors, initializer_markers, rc_context
from initlab.study import Study

__all__ = [
    "FIGURE_NAMES",
    "MAX_CURVE_ACTIVATIONS",
    "SECTION_TITLES",
    "Page",
    "contents",
    "plan_pages",
    "render_report",
]

FIGURE_NAMES = ("heatmaps", "gradient_flow", "depth_scaling", "learning_curves", "theory")
"""PNG figures written for Snakemake's HTML report (one representative page of each kind)."""

MAX_CURVE_ACTIVATIONS = 6
"""Above this many activations, learning curves are drawn for the highlighted ones only."""


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


def _activations(config: Mapping[str, Any], grid: Grid) -> list[Any]:
    study = Study(dict(config))
    init, depth, seed = grid.initializers[0], grid.depths[0], grid.seeds[0]
    return [
        study.base_spec(init, act, depth, seed).resolve_activation() for act in grid.activations
    ]


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
    grid = grid_from_config(config)
    colors = initializer_colors(grid.initializers)
    markers = initializer_markers(grid.initializers)
    summary, runs, layers = tables.summary, tables.runs, tables.layers
    highlights = choose_highlights(config, summary, grid)
    pairs = [p for p, _ in highlights]
    zero_grad = zero_gradient_combinations(layers)
    n_classes = _n_classes(tables)
    target = float(config["training"]["target_accuracy"])
    deepest = grid.deepest
    pages: list[Page] = []

    if tables.claims is not None and len(tables.claims):
        chunks = text_pages.paginate(
            text_pages.claims_lines(tables.claims), text_pages.FINDINGS_LINES_PER_PAGE
        )
        for k, lines in enumerate(chunks):
            build = partial(text_pages.plot_claims, lines, _part(k, len(chunks)))
            pages.append(Page("claims", build))

    found = fnd.derive_findings(summary, runs, grid, zero_grad)
    chunks = text_pages.paginate(
        text_pages.findings_lines(found), text_pages.FINDINGS_LINES_PER_PAGE
    )
    for k, lines in enumerate(chunks):
        pages.append(
            Page("findings", partial(text_pages.plot_findings, lines, _part(k, len(chunks))))
        )

    # heatmaps: every depth, split by report.max_heatmap_cells and by panels per page
    max_cells = int(config["report"].get("max_heatmap_cells", 400))
    parts = heatmaps.heatmap_chunks(len(grid.initializers), len(grid.activations), max_cells)
    for depth in grid.depths:
        for k, (rs, cs) in enumerate(parts):
            rows, cols = grid.initializers[rs], grid.activations[cs]
            per = heatmaps.metrics_per_page(len(rows) * len(cols))
            metrics = heatmaps.HEATMAP_METRICS
            groups = [metrics[m : m + per] for m in range(0, len(metrics), per)]
            for g, group in enumerate(groups):
                build = partial(
                    heatmaps.plot_heatmaps,
                    summary,
                    depth,
                    rows,
                    cols,
                    group,
                    zero_gradient=zero_grad,
                    n_seeds=len(grid.seeds),
                    part=_part(k * len(groups) + g, len(parts) * len(groups)),
                )
                first = depth == deepest and k == 0 and g == 0
                pages.append(Page("heatmaps", build, "heatmaps" if first else None))

    for quantity in propagation.GRADIENT_QUANTITIES:
        build = partial(
            propagation.plot_gradient_flow,
            layers,
            summary,
            deepest,
            grid.initializers,
            grid.activations,
            colors,
            quantity,
        )
        png = "gradient_flow" if quantity == "delta_rms" else None
        pages.append(Page("gradient_flow", build, png))

    pair_pages = propagation.pair_rows(pairs)
    for k, chunk in enumerate(pair_pages):
        build = partial(
            propagation.plot_distributions,
            layers,
            runs,
            chunk,
            deepest,
            colors,
            _part(k, len(pair_pages)),
        )
        pages.append(Page("distributions", build))

    if len(grid.activations) <= MAX_CURVE_ACTIVATIONS:
        curve_acts = list(grid.activations)
    else:
        chosen = {a for _, a in pairs}
        curve_acts = [a for a in grid.activations if a in chosen]
    for k, act in enumerate(curve_acts):
        build = partial(
            training.plot_learning_curves,
            tables.curves,
            runs,
            act,
            grid.depths,
            grid.initializers,
            colors,
            target=target,
            n_classes=n_classes,
        )
        pages.append(Page("learning_curves", build, "learning_curves" if k == 0 else None))

    pages.append(
        Page(
            "depth_scaling",
            partial(
                training.plot_depth_scaling,
                summary,
                grid.initializers,
                grid.activations,
                grid.depths,
                colors,
                target=target,
                n_classes=n_classes,
            ),
            "depth_scaling",
        )
    )

    pages.append(
        Page(
            "theory",
            partial(theory_pages.plot_theory_vs_measurement, tables.theory, pairs, deepest, colors),
            "theory",
        )
    )
    pages.append(Page("theory", partial(theory_pages.plot_theory_table, tables.theory)))

    orthogonal = spectra_pages.orthogonal_initializers(config, grid.initializers)
    spec_acts = spectra_pages.spectrum_activations(runs, grid.activations)
    spec_chunks = spectra_pages.page_chunks(spec_acts, spectra_pages.SPECTRUM_ACTIVATIONS_PER_PAGE)
    for k, chunk in enumerate(spec_chunks):
        build = partial(
            spectra_pages.plot_jacobian_spectra,
            runs,
            tables.theory,
            chunk,
            grid.initializers,
            grid.depths,
            colors,
            orthogonal,
            len(grid.seeds),
            _part(k, len(spec_chunks)),
        )
        pages.append(Page("spectra", build))
    corr_acts = spectra_pages.correlation_activations(tables.theory, deepest, grid.activations)
    corr_chunks = spectra_pages.page_chunks(corr_acts, spectra_pages.CORRELATION_PANELS_PER_PAGE)
    for k, chunk in enumerate(corr_chunks):
        build = partial(
            spectra_pages.plot_correlation_map,
            tables.theory,
            deepest,
            chunk,
            grid.initializers,
            colors,
            orthogonal,
            _part(k, len(corr_chunks)),
        )
        pages.append(Page("correlation_map", build))

    sw2 = hidden_sigma_w2(tables.theory, deepest)
    points = {i: sw2.get(i, math.nan) for i in grid.initializers}
    bias_std = float(config.get("bias_std", 0.0))
    pages.append(
        Page(
            "phase_diagram",
            lambda: theory_pages.plot_phase_diagram(
                _activations(config, grid), points, bias_std, colors, markers
            ),
        )
    )

    swept = trainability.sweep_activations(tables.theory, grid.activations)
    if swept:
        build = partial(
            trainability.plot_sigma_depth_heatmaps, summary, tables.theory, swept, target
        )
        pages.append(Page("trainability", build))

    rows = text_pages.summary_table_rows(summary, zero_grad)
    per = text_pages.SUMMARY_ROWS_PER_PAGE
    n_app = max(1, math.ceil(len(rows) / per))
    for k in range(n_app):
        build = partial(
            text_pages.plot_summary_table, rows[k * per : (k + 1) * per], f"page {k + 1} of {n_app}"
        )
        pages.append(Page("appendix", build))

    title = partial(
        text_pages.plot_title_page,
        config,
        grid,
        runs,
        summary,
        highlights,
        text_pages.software_versions(),
        contents(pages, first_page=2),
    )
    return [Page("title", title), *pages]


SECTION_TITLES = {
    "claims": "Published claims: held or not",
    "findings": "Findings",
    "heatmaps": "Trainability heatmaps per depth",
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
    pages: Sequence[Page], metadata: Mapping[str, str | None]
) -> tuple[bytes, dict[str, bytes]]:
    """Render ``pages`` into PDF bytes, and the PNG of every page that names one.

    Parameters
    ----------
    pages : sequence of Page
        From :func:`plan_pages`.
    metadata : mapping
        PDF document information; ``CreationDate`` is forced to ``None`` (no date).

    Returns
    -------
    tuple
        ``(pdf_bytes, {png_name: png_bytes})``.
    """
    meta = {**dict(metadata), "CreationDate": None, "ModDate": None}
    pdf_buf = io.BytesIO()
    pngs: dict[str, bytes] = {}
    with rc_context(), PdfPages(pdf_buf, metadata=meta) as pdf:
        for page in pages:
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
    return pdf_buf.getvalue(), pngs
