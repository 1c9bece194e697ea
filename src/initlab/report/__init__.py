"""The comparative PDF report of a study, rendered from its tables alone.

Pages, in order:

1. title: study, grid, training settings, counts, software versions;
2. findings: plain statements derived from the tables (:mod:`~initlab.report.findings`);
3. heatmaps per depth: initializer x activation of test accuracy, gradient ratio at init,
   dead and saturated fractions at init (:mod:`~initlab.report.heatmaps`);
4. gradient flow at init against layer, deepest depth (:mod:`~initlab.report.propagation`);
5. per-layer activation and |dL/dz| distributions of the highlighted pairs;
6. learning curves per activation (:mod:`~initlab.report.training`);
7. depth scaling of test accuracy;
8. theory vs measurement and the largest disagreements (:mod:`~initlab.report.theory_pages`);
9. input-output Jacobian spectra at initialization: spread std(ln s) and mean s^2 of the
   singular values against depth, per activation (:mod:`~initlab.report.spectra_pages`);
10. the correlation map: measured cosine of two inputs' pre-activations against the c-map of
    mean-field theory, per layer at the deepest depth;
11. the order/chaos phase diagram;
12. appendix: the summary table (:mod:`~initlab.report.text_pages`).

Figures are functions (``plot_x(tables, ...) -> Figure`` built on
:class:`matplotlib.figure.Figure`, no pyplot state); :mod:`~initlab.report.writer` plans the
pages and owns the only ``PdfPages``. ``timings.csv`` is never read, and the PDF carries no
date, so the same tables give byte-identical reports. Of ``layers.parquet`` only the rows and
columns the pages draw are read (:func:`initlab.report.data.load_tables`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from initlab import __version__, io
from initlab.progress import clock, echo
from initlab.report.data import load_tables
from initlab.report.writer import FIGURE_NAMES, Page, plan_pages, render_report

__all__ = ["FIGURE_NAMES", "Page", "plan_pages", "render_report", "write_report"]


def write_report(
    study_json: str | os.PathLike[str],
    tables_dir: str | os.PathLike[str],
    out_pdf: str | os.PathLike[str],
    figures_dir: str | os.PathLike[str] | None = None,
    log: Callable[[str], None] | None = echo,
) -> None:
    """Render the study's report to ``out_pdf`` (and PNG figures into ``figures_dir``).

    Parameters
    ----------
    study_json : path
        The resolved study configuration (``results/study.json``).
    tables_dir : path
        Folder with ``runs.csv``, ``layers.parquet``, ``curves.parquet``, ``summary.csv``,
        ``theory.csv`` and the other tables (``timings.csv`` is not read; of the Parquet
        tables only the rows and columns the pages draw).
    out_pdf : path
        The PDF to write (atomically).
    figures_dir : path, optional
        If given, receives ``heatmaps.png``, ``gradient_flow.png``, ``depth_scaling.png``,
        ``learning_curves.png`` and ``theory.png``.
    log : callable, optional
        Receives progress lines (tables read, pages rendered); ``None``: silent.
    """
    config = io.read_json(study_json, regenerate_hint="Rerun snakemake to rewrite it.")
    start = time.perf_counter()
    tables = load_tables(tables_dir)
    pages = plan_pages(config, tables)
    if log is not None:
        log(f"report: tables read in {clock(time.perf_counter() - start)}; {len(pages)} pages")
    metadata = {
        "Title": str(config["report"]["title"]),
        "Subject": f"initlab study {config['study']}",
        "Creator": f"initlab {__version__}",
    }
    pdf, pngs = render_report(pages, metadata, log)
    io.atomic_write_bytes(Path(out_pdf), pdf)
    if figures_dir is not None:
        missing = [name for name in FIGURE_NAMES if name not in pngs]
        if missing:  # a bug in plan_pages, not a data problem
            raise RuntimeError(f"report figures not rendered: {missing}")
        for name in FIGURE_NAMES:
            io.atomic_write_bytes(Path(figures_dir) / f"{name}.png", pngs[name])
