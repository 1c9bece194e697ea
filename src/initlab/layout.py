"""Names and places of a study's outputs: the one definition the workflow rules, aggregation
and the report import.

Every path is relative to the working directory and built from the study's ``results`` folder
and the dataset label; the arguments may be Snakemake wildcards (``"{initializer}"``), so the
rules and :class:`initlab.study.Study` build the same strings from the same function. The
trainability verdict is defined here as well, with the sentence that states it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = [
    "AXES_AT_INIT",
    "BUDGET_OUTCOMES",
    "CHUNK_FILES",
    "FIGURE_NAMES",
    "PARQUET_TABLES",
    "RECOMMENDATION_RULE",
    "REMEDY_EFFECTS",
    "REPORT_FREE_TABLES",
    "TABLE_NAMES",
    "TIE_MARGIN",
    "VERDICTS",
    "VERDICT_RULE",
    "axis_value_text",
    "chunk_dir",
    "data_path",
    "figure_path",
    "log_path",
    "point_path",
    "report_path",
    "source_dir",
    "study_json",
    "table_file",
    "table_path",
    "train_log",
    "verdict",
]

TABLE_NAMES = (
    "runs",
    "layers",
    "curves",
    "summary",
    "timings",
    "theory",
    "phase",
    "claims",
    "recommendations",
    "initializers",
    "axes",
    "remedies",
    "sources",
)
"""The tables of ``<results>/tables/``, in the order they are documented (CSV, but
:data:`PARQUET_TABLES`)."""

PARQUET_TABLES = ("layers", "curves")
"""The tables with a row per checkpoint (of every layer): written as Parquet (columnar, exact
float64, read by column and row group), the others as CSV."""

REPORT_FREE_TABLES = ("layers", "curves", "axes")
"""Tables kept out of Snakemake's HTML report (the Parquet tables: GBs for a large grid)."""

FIGURE_NAMES = ("heatmaps", "gradient_flow", "depth_scaling", "learning_curves", "theory")
"""PNG copies of report pages written to ``<results>/figures/`` (for Snakemake's HTML report)."""

VERDICTS = ("trains", "partial", "fails", "diverged")

VERDICT_RULE = (
    "diverged: more than half of the seeds diverged; otherwise, with the mean final test "
    "accuracy over all seeds (a diverged seed counted at chance = 1 / n_classes): trains: "
    ">= target_accuracy; partial: >= chance + 0.25 (1 - chance); fails: below"
)
"""The verdict rule in words, as the report and the README print it (:func:`verdict`)."""


BUDGET_OUTCOMES = {
    "slow": "reaches the target at the larger budget (verdict trains there)",
    "improving": "below the target there too, but its mean accuracy rose by more than 0.005",
    "stuck": "below the target there too, and its mean accuracy rose by at most 0.005",
    "diverges": "more than half of the seeds diverge at the larger budget",
}
"""``budget_outcome`` of a combination whose verdict is ``fails`` or ``partial`` when the study
runs a budget check (empty otherwise)."""


AXES_AT_INIT = ("dataset", "width", "bias_std", "normalization", "loss")
"""Extra axes that change a network or its loss at step 0: the remedies section shows the
gradient flow at initialization at each of their values (the others, such as the optimizer or
the learning rate, leave step 0 as it is at the baseline)."""

REMEDY_EFFECTS = {
    "rescues": "the cell fails, trains partially or diverges at the baseline and trains here",
    "breaks": "the cell trains at the baseline and not here",
    "helps": "no move across 'trains'; the paired 95% interval of the accuracy change is above 0 "
    "and the mean change at least 0.005",
    "hurts": "no move across 'trains'; the interval is below 0 and the mean change at most -0.005",
    "unclear": "no move across 'trains'; the interval contains 0, is undefined (one seed) or the "
    "change is within 0.005",
}
"""``effect`` of an extra axis's value on a cell (``remedies.csv``), in the order the report
lists them."""


TIE_MARGIN = 0.005
"""Mean accuracies within half a percentage point of the best always count as a tie (on digits'
359 test images under two images), even where the seeds agree too closely for an interval."""

RECOMMENDATION_RULE = (
    "best: highest mean final test accuracy over all seeds (a diverged seed counted at chance) "
    "among the cells that learned (verdict trains or partial); ties: every learned cell whose "
    f"difference from the best has a Welch 95% interval containing 0, or is within {TIE_MARGIN:g}; "
    "nothing is recommended where no cell learned"
)
"""How :mod:`initlab.recommend` picks the first page's initializers, in words."""


def verdict(share_diverged: float, mean_acc: float, target: float, n_classes: int) -> str:
    """Trainability verdict of one combination (rule: :data:`VERDICT_RULE`).

    Parameters
    ----------
    share_diverged : float
        Share of the combination's seeds that diverged.
    mean_acc : float
        Mean final test accuracy over all seeds, a diverged seed counted at chance.
    target : float
        The study's target accuracy.
    n_classes : int
        Number of classes (chance = ``1 / n_classes``).

    Returns
    -------
    str
        One of :data:`VERDICTS`.
    """
    chance = 1.0 / n_classes
    if share_diverged > 0.5:
        return "diverged"
    if math.isfinite(mean_acc) and mean_acc >= target:
        return "trains"
    if math.isfinite(mean_acc) and mean_acc >= chance + 0.25 * (1.0 - chance):
        return "partial"
    return "fails"


def data_path(results: str, dataset_label: str) -> str:
    """The prepared dataset: ``<results>/data/<label>.npz``."""
    return f"{results}/data/{dataset_label}.npz"


def study_json(results: str) -> str:
    """The resolved configuration the later stages read: ``<results>/study.json``."""
    return f"{results}/study.json"


def axis_value_text(value: Any) -> str:
    """A value of a study axis as it appears in folder names and run ids: ``true``/``false``,
    integers as written, reals in Python's shortest round-trip form (``0.01``, ``1e-05``)."""
    if hasattr(value, "item"):  # numpy scalars, as read back from a table
        value = value.item()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def point_path(point: Sequence[tuple[str, Any]]) -> str:
    """``/key=value`` per extra axis of the grid (empty for a study without extra axes); a
    ``dataset`` axis has none: the dataset's label is the first level of the run folders."""
    return "".join(f"/{key}={axis_value_text(value)}" for key, value in point if key != "dataset")


def chunk_dir(
    results: str,
    dataset_label: str,
    activation: str,
    depth: int | str,
    point: Sequence[tuple[str, Any]],
    index: int | str,
) -> str:
    """Folder of one training chunk: ``<results>/runs/<label>/<act>/d<depth>``, then
    ``/<axis>=<value>`` for each extra axis of the grid (:func:`point_path`), then ``/c<index>``
    (the chunk's block of initializers, :meth:`initlab.study.Study.chunks`). It holds
    :data:`CHUNK_FILES`."""
    return f"{results}/runs/{dataset_label}/{activation}/d{depth}{point_path(point)}/c{index}"


CHUNK_FILES = ("runs.parquet", "layers.parquet")
"""The files of a chunk folder: one row per run (its summary and timing), one row per run x
checkpoint x layer (:data:`initlab.records.LAYER_COLUMNS`)."""


def source_dir(results: str, source: str, activation: str) -> str:
    """Folder of one source network's runs (one ``s<seed>`` folder per seed, each with
    ``params.npz`` beside the usual run files): ``<results>/sources/<source>/<activation>``."""
    return f"{results}/sources/{source}/{activation}"


def table_file(name: str) -> str:
    """The file name of a table: ``<name>.parquet`` for :data:`PARQUET_TABLES`, else
    ``<name>.csv`` (``name`` from :data:`TABLE_NAMES`)."""
    return f"{name}.parquet" if name in PARQUET_TABLES else f"{name}.csv"


def table_path(results: str, name: str) -> str:
    """``<results>/tables/<file>`` (:func:`table_file`; ``name`` from :data:`TABLE_NAMES`)."""
    return f"{results}/tables/{table_file(name)}"


def figure_path(results: str, name: str) -> str:
    """``<results>/figures/<name>.png`` (``name`` from :data:`FIGURE_NAMES`)."""
    return f"{results}/figures/{name}.png"


def report_path(results: str) -> str:
    """The PDF report: ``<results>/report.pdf``."""
    return f"{results}/report.pdf"


def log_path(results: str, step: str) -> str:
    """Log of a one-off step (``plan_study``, ``aggregate_tables`` ...): ``<results>/logs/``."""
    return f"{results}/logs/{step}.log"


def train_log(results: str, chunk: str) -> str:
    """Log of one training job: ``<results>/logs/train/<chunk>.log``, ``chunk`` the job's folder
    below ``<results>/runs/``."""
    return f"{results}/logs/train/{chunk}.log"
