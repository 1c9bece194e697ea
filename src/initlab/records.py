"""The format of a run's records: the one definition that training writes and aggregation reads.

A run's records are its summary (configuration, headline numbers, measurement facts), its layer
rows (one row per checkpoint x layer, columns :data:`LAYER_COLUMNS`) and its timing: a training
chunk stores them in ``runs.parquet`` and ``layers.parquet`` (:mod:`initlab.chunks`), ``initlab
run`` as ``summary.json``, ``layers.csv`` and ``timing.json``. :mod:`initlab.train` and
:mod:`initlab.stats` produce them;
:mod:`initlab.aggregate` reads them through these names, never through the training modules.
Measurement constants that define a column (thresholds, quantiles, probe counts) live here too,
so a definition printed in the report is the one the numbers were computed with.
"""

from __future__ import annotations

__all__ = [
    "BUDGET_KEYS",
    "CHECKPOINT_COLUMNS",
    "DEAD_THRESHOLD",
    "INPUT_FACT_KEYS",
    "JACOBIAN_PROBES",
    "LAYER_COLUMNS",
    "PAIR_COSINE",
    "PAIR_COUNT",
    "QUANTILES",
    "RECORD_FORMAT",
    "SATURATION_THRESHOLD",
    "SPECTRUM_COLUMNS",
    "SPECTRUM_SUMMARY_KEYS",
    "STAT_COLUMNS",
]

RECORD_FORMAT = 4
"""Version of the run-record format, written into every ``summary.json`` and given to the
training rule as a parameter: bumped whenever a column, key or definition changes, so that
Snakemake retrains the runs recorded in an older format instead of aggregation rejecting them.
Format 4: the settings ``normalization``, ``dropout``, ``dropout_kind``, ``weight_decay``,
``loss``, ``train_fraction`` in the configuration; the layer columns ``h_mean``, ``h_var``,
``h_q``, ``dh_rms``; the summary key ``n_train_used``; ``adamw``'s decay is the run's
``weight_decay`` (it was 0.01)."""

SATURATION_THRESHOLD = 0.05
"""A unit-sample entry is saturated when ``|phi'(z)|`` is below this share of the activation's
largest derivative."""

DEAD_THRESHOLD = 1e-6
"""A unit is dead when ``|phi'(z)|`` is below this share of the largest derivative for every
probe sample."""

QUANTILES = (1, 5, 25, 50, 75, 95, 99)
"""Percentiles of the activations and of ``|dL/dz|`` recorded per layer."""

JACOBIAN_PROBES = 16
"""Probe inputs (the first rows of a run's probe batch) whose input-output Jacobians are
measured at step 0."""

PAIR_COUNT = 16
"""Input pairs whose pre-activation cosines are averaged (built from the first probe rows)."""

PAIR_COSINE = 0.5
"""Input cosine ``c0`` of every pair: halfway between identical and orthogonal inputs, so the
correlation map's approach to its fixed point is visible in both directions (towards ``c* = 1``
in the ordered phase, towards ``c* < 1`` in the chaotic phase)."""

CHECKPOINT_COLUMNS = ("step", "epoch", "train_loss", "train_acc", "val_loss", "val_acc")
"""Loss and accuracy columns of a checkpoint (repeated on each of its layer rows)."""

STAT_COLUMNS: tuple[str, ...] = (
    "z_mean",
    "z_var",
    "z_q",
    "h_mean",
    "h_var",
    "h_q",
    "a_mean",
    "a_std",
    "saturated_frac",
    "dead_frac",
    "delta_rms",
    "delta_var",
    "dh_rms",
    "wgrad_norm",
    "wgrad_rms",
    "bgrad_norm",
    "w_norm",
    *(f"a_q{q:02d}" for q in QUANTILES),
    *(f"absdelta_q{q:02d}" for q in QUANTILES),
)
"""Per-layer statistics of every checkpoint (:func:`initlab.stats.layer_stats`). The ``z_*``,
``a_*``, ``delta_*`` and saturation columns describe ``z``, the input of ``phi`` (after
normalization in a normalized hidden layer); ``h_mean``, ``h_var``, ``h_q`` the affine output
``h = a W + b`` before normalization and ``dh_rms`` the rms of ``dL/dh`` (equal to the ``z`` and
``delta`` columns wherever ``z = h``: a network without normalization, and every output
layer)."""

SPECTRUM_COLUMNS: tuple[str, ...] = ("jac_mean_s2", "corr_c")
"""Per-layer step-0 columns (:func:`initlab.stats.spectrum_stats`; empty at later checkpoints).
Measured on the evaluation-mode network: without dropout (the plain network), with layer norm
(exactly, through its per-sample Jacobian); not measured (empty) with batch norm, whose network at
step 0 is either batch-dependent (training mode) or normalizes with the initial running
statistics 0 and 1 (evaluation mode)."""

SPECTRUM_SUMMARY_KEYS: tuple[str, ...] = ("jac_mean_s2", "jac_std_log_s", "jac_max_s", "jac_min_s")
"""Run-level numbers of the last hidden layer's Jacobian spectrum (``summary.json``; NaN with
batch norm, like :data:`SPECTRUM_COLUMNS`)."""

INPUT_FACT_KEYS: tuple[str, ...] = (
    "n_features",
    "n_classes",
    "probe_second_moment",
    "jacobian_second_moment",
)
"""Facts about the inputs a run was measured on (``summary.json``), which mean-field predictions
need: input and output sizes, the mean square of the probe batch's features and of the
Jacobian's probe inputs."""

LAYER_COLUMNS: tuple[str, ...] = (
    *CHECKPOINT_COLUMNS,
    "layer",
    "fan_in",
    "fan_out",
    *STAT_COLUMNS,
    "update_ratio",
    *SPECTRUM_COLUMNS,
)
"""Columns of a run's layer rows (``layers.parquet`` of its chunk, ``layers.csv`` of ``initlab
run``): one row per checkpoint x layer."""

BUDGET_KEYS: tuple[str, ...] = (
    "budget_epochs",
    "budget_extended",
    "budget_diverged",
    "budget_test_acc",
    "budget_train_loss",
)
"""Summary keys of the budget check (setting ``budget_check``): a run whose final test accuracy
is below the target trains on to ``budget_check x epochs`` epochs (``budget_extended``) and
records its test accuracy and training loss there (``budget_test_acc``, NaN once diverged);
every other run repeats its final values. ``budget_epochs`` is the extended budget."""
