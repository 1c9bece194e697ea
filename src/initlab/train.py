"""Train one MLP from a :class:`~initlab.config.RunSpec` and record what happens in every layer.

Statistics (:mod:`initlab.stats`) are taken on a fixed probe batch (the first ``probe_size``
samples of the full training split, the same for every run on a dataset, whatever its
``train_fraction``) at step 0 and at every checkpoint: after a backward pass and before the
parameter update of that step. A checkpoint also evaluates loss and accuracy on the training
samples the run trains on and on the full validation split, and records the relative size
``||dW|| / ||W||`` of the update made at that step (NaN at the final checkpoint, after the last
update).

The three kinds of pass (:func:`initlab.model.forward`'s modes) and the run's settings:

- *Training steps* run in training mode: batch norm (``normalization``) normalizes with the
  mini-batch's statistics and updates the running statistics; dropout (``dropout``,
  ``dropout_kind``) draws fresh masks from the run's dropout stream
  (:meth:`~initlab.config.RunSpec.streams`); the loss is the run's ``loss``; the optimizer applies
  ``weight_decay`` (coupled L2 on the weights, decoupled for ``adamw``; given explicitly, so
  ``adamw`` with 0 is Adam, not PyTorch's default 0.01). With batch norm, a last mini-batch of a
  single sample (only when ``n_train % batch_size == 1``) is skipped, as batch statistics need
  two samples: such an epoch makes one update fewer and ``steps_per_epoch`` counts the updates.
- *Evaluation* (loss and accuracy on the train, validation and test splits, the budget check) runs
  in evaluation mode: batch norm uses the running statistics, dropout is off. The recorded losses
  are the run's own ``loss`` (cross-entropy in nats, or the quadratic cost).
- *The statistics pass* on the probe batch uses batch norm with the probe batch's own statistics,
  without updating the running statistics, no dropout, and the run's loss: ``delta = dL/dz`` is
  the gradient of the loss being minimized.

With ``train_fraction < 1`` the run trains on :func:`initlab.data.stratified_subset` of the
training split, drawn from the run's subset stream, so subsets are nested across fractions for
one seed; an epoch is one pass over the subset (fewer steps), the validation and test splits and
the probe batch are unchanged. The settings at their defaults (no normalization, no dropout,
cross-entropy, no weight decay, the whole split) draw nothing from the new streams: such runs are
those of earlier versions, bit for bit (``adamw`` excepted, whose decay used to be 0.01).

At step 0 only, the statistics also include the input-output Jacobian and the input-pair
correlations of :func:`initlab.stats.spectrum_stats` (layer columns ``jac_mean_s2`` and
``corr_c``, NaN at every later checkpoint; summary keys ``jac_mean_s2``, ``jac_std_log_s``,
``jac_max_s``, ``jac_min_s``, NaN when statistics are not recorded). They read the parameters
and the probe batch only: no random draw, no effect on training. They describe the network in
evaluation mode, and are NaN for a batch-normalized network (:mod:`initlab.spectra`).

Divergence is a result, not an error: when the training loss becomes non-finite (or the
parameters do), training stops, ``diverged`` is set with the step, and numbers that are no longer
defined are NaN. Floating-point warnings are silenced inside training because overflow is an
expected outcome of some initializations.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import numpy as np
import numpy.typing as npt

from initlab import __version__
from initlab.activations import Activation
from initlab.config import RunSpec
from initlab.data import Dataset, load_dataset, select_classes, stratified_subset
from initlab.model import (
    Layer,
    NormState,
    init_mlp,
    init_norm_state,
    loss_and_grads,
    loss_fn,
    predict_logits,
)
from initlab.optim import make_optimizer
from initlab.records import CHECKPOINT_COLUMNS, JACOBIAN_PROBES, LAYER_COLUMNS, RECORD_FORMAT
from initlab.stats import (
    SPECTRUM_COLUMNS,
    SPECTRUM_SUMMARY_KEYS,
    STAT_COLUMNS,
    layer_stats,
    spectrum_stats,
    update_ratios,
)
from initlab.transfer import copy_layers

__all__ = ["CHECKPOINT_COLUMNS", "LAYER_COLUMNS", "RunResult", "evaluate", "train", "versions"]


@dataclass(frozen=True)
class RunResult:
    """What one training run produced.

    Attributes
    ----------
    summary : dict
        Configuration, headline numbers, seed and package versions (``summary.json``).
    layers : dict of str to ndarray
        Tidy per-checkpoint x per-layer table, columns :data:`LAYER_COLUMNS` (``layers.csv``).
    timing : dict
        Wall seconds and steps per second (``timing.json``); the only part that varies between
        identical runs.
    params : list of Layer
        The network at the end of training (``depth + 1`` layers; after the budget check's
        extra epochs when it ran), what a transfer run copies from a source.
    """

    summary: dict[str, Any]
    layers: dict[str, npt.NDArray[Any]]
    timing: dict[str, Any]
    params: list[Layer] = field(default_factory=list)


def versions() -> dict[str, str]:
    """Versions of the software that determines the numbers."""
    return {
        "initlab": __version__,
        "numpy": np.__version__,
        "scipy": metadata.version("scipy"),
        "python": platform.python_version(),
    }


def evaluate(
    params: Sequence[Layer],
    X: npt.NDArray[Any],
    y: npt.NDArray[np.integer[Any]],
    activation: Activation,
    batch: int = 4096,
    *,
    loss: str = "cross_entropy",
    norm: str = "none",
    norm_state: NormState | None = None,
) -> tuple[float, float]:
    """Mean loss and accuracy of the network on ``(X, y)`` in evaluation mode.

    Parameters
    ----------
    params : sequence of Layer
        The network.
    X : ndarray, shape (n, n_0)
        Inputs, in the parameters' dtype.
    y : ndarray of int, shape (n,)
        Labels.
    activation : Activation
        Hidden-layer nonlinearity.
    batch : int
        Samples per chunk (evaluation mode treats samples independently: the chunking does not
        change the numbers beyond rounding).
    loss : str
        One of :data:`initlab.model.LOSSES`.
    norm : str
        The hidden layers' normalization (:data:`initlab.model.NORMS`).
    norm_state : NormState, optional
        The running statistics, required for batch norm.

    Returns
    -------
    loss : float
        Mean of ``loss`` over the samples.
    accuracy : float
        Share of samples whose largest logit is the label.
    """
    compute = loss_fn(loss)
    loss_sum = 0.0
    correct = 0
    for start in range(0, len(X), batch):
        xb, yb = X[start : start + batch], y[start : start + batch]
        logits = predict_logits(params, xb, activation, norm=norm, norm_state=norm_state)
        value, _ = compute(logits, yb)
        loss_sum += value * len(xb)
        correct += int(np.sum(np.argmax(logits, axis=1) == yb))
    return loss_sum / len(X), correct / len(X)


def _first_at_least(values: Sequence[float], steps: Sequence[int], target: float) -> int | None:
    for v, s in zip(values, steps, strict=True):
        if v >= target:
            return int(s)
    return None


def _log10_ratio(first: float, last: float) -> float:
    if not (np.isfinite(first) and np.isfinite(last)) or first <= 0 or last <= 0:
        return float("nan")
    return float(np.log10(first / last))


class _Recorder:
    """Collects checkpoint rows; builds the tidy layer table at the end."""

    def __init__(self, sizes: Sequence[int]) -> None:
        self.sizes = list(sizes)
        self.rows: list[dict[str, Any]] = []

    def add(self, point: dict[str, float], stats: dict[str, npt.NDArray[np.float64]]) -> None:
        self.rows.append({"point": point, "stats": stats, "update": None})

    def set_update(self, ratios: npt.NDArray[np.float64]) -> None:
        self.rows[-1]["update"] = ratios

    def table(self) -> dict[str, npt.NDArray[Any]]:
        n_layers = len(self.sizes) - 1
        cols: dict[str, list[Any]] = {c: [] for c in LAYER_COLUMNS}
        for row in self.rows:
            for c in CHECKPOINT_COLUMNS:
                cols[c].extend([row["point"][c]] * n_layers)
            cols["layer"].extend(range(1, n_layers + 1))
            cols["fan_in"].extend(self.sizes[:-1])
            cols["fan_out"].extend(self.sizes[1:])
            for c in STAT_COLUMNS:
                cols[c].extend(row["stats"][c])
            upd = row["update"]
            cols["update_ratio"].extend(upd if upd is not None else [np.nan] * n_layers)
            for c in SPECTRUM_COLUMNS:
                cols[c].extend(row["stats"][c])
        int_cols = {"step", "layer", "fan_in", "fan_out"}
        return {
            c: np.asarray(v, dtype=np.int64 if c in int_cols else np.float64)
            for c, v in cols.items()
        }


class _Training:
    """One run's state: parameters, optimizer, data splits, probe batch and recorder."""

    def __init__(
        self,
        spec: RunSpec,
        ds: Dataset,
        record: bool,
        source_params: Sequence[Layer] | None = None,
    ) -> None:
        self.spec, self.ds, self.record = spec, ds, record
        self.dtype = np.dtype(spec.dtype)
        self.act = spec.resolve_activation()
        streams = spec.streams()
        self.order_rng = streams.order
        sizes = [ds.n_features, *([spec.width] * spec.depth), ds.n_classes]
        self.params = init_mlp(
            streams.init,
            sizes,
            spec.resolve_initializer(),
            dtype=self.dtype,
            bias_std=spec.bias_std,
            norm=spec.normalization,
        )
        frozen = self._transfer(spec, source_params)
        self.norm_state = (
            init_norm_state(self.params) if spec.normalization == "batch_norm" else None
        )
        self.opt = make_optimizer(
            spec.optimizer,  # type: ignore[arg-type]
            self.params,
            lr=spec.learning_rate,
            momentum=spec.momentum,
            nesterov=spec.nesterov,
            weight_decay=spec.weight_decay,
            frozen=frozen,
        )
        self._split(spec, ds, streams.subset)
        self.step_options: dict[str, Any] = {
            "loss": spec.loss,
            "norm": spec.normalization,
            "norm_state": self.norm_state,
            "dropout": spec.dropout,
            "dropout_kind": spec.dropout_kind,
            "dropout_rng": streams.dropout,
        }
        self.checkpoints = {
            e * self.steps_per_epoch for e in range(0, spec.epochs, spec.checkpoint_every)
        }
        self.rec = _Recorder(sizes)
        self.spectrum = dict.fromkeys(SPECTRUM_SUMMARY_KEYS, float("nan"))
        self.extra_steps = 0  # updates of the budget check

    def _transfer(self, spec: RunSpec, source_params: Sequence[Layer] | None) -> range:
        """Copy a transfer run's layers from its source (:mod:`initlab.transfer`); return the
        indices of the layers the optimizer must leave fixed (empty unless frozen)."""
        transfer = spec.transfer
        if transfer is None:
            return range(0)
        if source_params is None:
            raise ValueError(
                f"source: the transfer initializer {spec.initializer!r} needs the trained "
                f"parameters of source {transfer['source']!r} (initlab run --source-params DIR)"
            )
        layers = int(transfer["layers"])
        self.params = copy_layers(self.params, source_params, layers)
        return range(layers) if transfer.get("freeze", False) else range(0)

    def _split(self, spec: RunSpec, ds: Dataset, subset_rng: np.random.Generator) -> None:
        """The training samples (a subset when ``train_fraction < 1``), the validation split,
        the probe batch (from the full training split) and the mini-batches of an epoch."""
        X_full = ds.X_train.astype(self.dtype)
        probe = min(spec.probe_size, len(X_full))
        self.X_pr, self.y_pr = X_full[:probe], ds.y_train[:probe]
        if spec.train_fraction < 1:
            keep = stratified_subset(ds.y_train, spec.train_fraction, subset_rng)
            self.X_tr, self.y_tr = X_full[keep], ds.y_train[keep]
        else:
            self.X_tr, self.y_tr = X_full, ds.y_train
        self.X_va, self.y_va = ds.X_val.astype(self.dtype), ds.y_val
        n, bs = len(self.X_tr), spec.batch_size
        # batch norm cannot take a step on one sample: a last mini-batch of 1 is skipped
        self.batch_end = n - 1 if spec.normalization == "batch_norm" and n % bs == 1 else n
        self.steps_per_epoch = -(-self.batch_end // bs)

    def evaluate(self, X: npt.NDArray[Any], y: npt.NDArray[np.integer[Any]]) -> tuple[float, float]:
        """The run's loss and accuracy on ``(X, y)`` in evaluation mode."""
        return evaluate(
            self.params,
            X,
            y,
            self.act,
            loss=self.spec.loss,
            norm=self.spec.normalization,
            norm_state=self.norm_state,
        )

    def checkpoint(self, step: int) -> None:
        """Loss and accuracy on the training samples and the validation split; statistics on the
        probe batch (spectra at step 0)."""
        tr_loss, tr_acc = self.evaluate(self.X_tr, self.y_tr)
        va_loss, va_acc = self.evaluate(self.X_va, self.y_va)
        point = {
            "step": step,
            "epoch": step / self.steps_per_epoch,
            "train_loss": tr_loss,
            "train_acc": tr_acc,
            "val_loss": va_loss,
            "val_acc": va_acc,
        }
        n = len(self.params)
        stats = {c: np.full(n, np.nan) for c in (*STAT_COLUMNS, *SPECTRUM_COLUMNS)}
        if self.record:
            _, grads, fwd = loss_and_grads(
                self.params,
                self.X_pr,
                self.y_pr,
                self.act,
                loss=self.spec.loss,
                norm=self.spec.normalization,
                update_running=False,
                norm_state=self.norm_state,
            )
            stats.update(layer_stats(self.params, fwd, grads, self.act))
            if step == 0:
                columns, init_spectrum = spectrum_stats(
                    self.params, self.X_pr, self.act, norm=self.spec.normalization
                )
                stats.update(columns)
                self.spectrum.update(init_spectrum)
        self.rec.add(point, stats)

    def run(self) -> tuple[int, int | None]:
        """Every epoch's mini-batches; return the steps taken and the diverged step (or None).

        Floating-point warnings are silenced by the caller: overflow is an expected outcome.
        """
        step, blew_up = self._epochs(self.spec.epochs, 0, record=True)
        if blew_up:
            return step, step
        self.checkpoint(step)
        if not self._finite() or not np.isfinite(self.rec.rows[-1]["point"]["train_loss"]):
            return step, step
        return step, None

    def _epochs(self, n_epochs: int, step: int, *, record: bool) -> tuple[int, bool]:
        """Train ``n_epochs`` epochs from ``step``; return the step reached and whether the
        training loss became non-finite there. With ``record``, checkpoints are taken on the
        way."""
        n, bs = len(self.X_tr), self.spec.batch_size
        for _ in range(n_epochs):
            order = self.order_rng.permutation(n)
            for start in range(0, self.batch_end, bs):
                idx = order[start : start + bs]
                at_checkpoint = record and step in self.checkpoints
                if at_checkpoint:
                    self.checkpoint(step)
                loss, grads, _ = loss_and_grads(
                    self.params, self.X_tr[idx], self.y_tr[idx], self.act, **self.step_options
                )
                if not np.isfinite(loss):
                    return step, True
                before = (
                    [p.W.copy() for p in self.params] if at_checkpoint and self.record else None
                )
                self.opt.step(self.params, grads)
                if before is not None:
                    self.rec.set_update(update_ratios(before, self.params))
                step += 1
        return step, False

    def _finite(self) -> bool:
        """Every parameter (and running statistic) is finite."""
        arrays = [x for p in self.params for x in (p.W, p.b, p.gamma, p.beta) if x is not None]
        if self.norm_state is not None:
            arrays += [*self.norm_state.running_mean, *self.norm_state.running_var]
        return all(np.isfinite(x).all() for x in arrays)

    def budget_check(self, step: int, test_acc: float) -> dict[str, Any]:
        """Train a run that ended below the target on to ``budget_check x epochs`` epochs.

        The mini-batch stream (and the dropout stream) goes on where it stopped, so the extended
        run is the run a study with ``budget_check x epochs`` epochs would have trained (same
        parameters, same order); no checkpoint is taken on the way. Returns the summary's
        ``budget_*`` keys (:data:`initlab.records.BUDGET_KEYS`).
        """
        factor, epochs = self.spec.budget_check, self.spec.epochs
        out: dict[str, Any] = {
            "budget_epochs": factor * epochs,
            "budget_extended": False,
            "budget_diverged": not np.isfinite(test_acc),
            "budget_test_acc": test_acc,
            "budget_train_loss": (
                self.rec.rows[-1]["point"]["train_loss"] if np.isfinite(test_acc) else np.nan
            ),
        }
        if factor == 1 or not np.isfinite(test_acc) or test_acc >= self.spec.target_accuracy:
            return out
        end, blew_up = self._epochs((factor - 1) * epochs, step, record=False)
        self.extra_steps = end - step
        out["budget_extended"] = True
        if blew_up or not self._finite():
            out.update(budget_diverged=True, budget_test_acc=np.nan, budget_train_loss=np.nan)
            return out
        out["budget_train_loss"] = self.evaluate(self.X_tr, self.y_tr)[0]
        out["budget_test_acc"] = self.test(None)[1]
        if not np.isfinite(out["budget_train_loss"]):
            out.update(budget_diverged=True, budget_test_acc=np.nan)
        return out

    def test(self, diverged_step: int | None) -> tuple[float, float]:
        """Loss and accuracy on the test split (NaN after divergence)."""
        if diverged_step is not None:
            return float("nan"), float("nan")
        return self.evaluate(self.ds.X_test.astype(self.dtype), self.ds.y_test)


def _input_facts(ds: Dataset, n_probe: int) -> dict[str, Any]:
    """Split sizes and the facts mean-field predictions start from (records.INPUT_FACT_KEYS):
    the mean square of the probe batch's features and of the Jacobian's probe inputs."""
    probe64 = np.asarray(ds.X_train[:n_probe], dtype=np.float64)
    jac64 = probe64[:JACOBIAN_PROBES]
    return {
        "n_train": len(ds.X_train),
        "n_val": len(ds.X_val),
        "n_test": len(ds.X_test),
        "n_features": ds.n_features,
        "n_classes": ds.n_classes,
        "probe_second_moment": float(np.mean(probe64 * probe64)),
        "jacobian_second_moment": float(np.mean(jac64 * jac64)),
    }


def train(
    spec: RunSpec,
    dataset: Dataset | None = None,
    *,
    record: bool = True,
    source_params: Sequence[Layer] | None = None,
) -> RunResult:
    """Train the network ``spec`` describes.

    Parameters
    ----------
    spec : RunSpec
        The run.
    dataset : Dataset, optional
        The prepared dataset (every class); loaded from ``spec.dataset`` when omitted. A run
        with ``classes`` trains on :func:`initlab.data.select_classes` of it.
    record : bool
        Take per-layer statistics at checkpoints (``False`` only for overhead benchmarks:
        loss and accuracy are still recorded).
    source_params : sequence of Layer, optional
        The trained source network of a ``transfer`` initializer (required for one), seed
        :attr:`RunSpec.seed` of ``spec.source_spec()``.

    Returns
    -------
    RunResult
    """
    t0 = time.perf_counter()
    ds = dataset if dataset is not None else load_dataset(spec.dataset)
    if spec.classes is not None:
        ds = select_classes(ds, spec.classes)
    run = _Training(spec, ds, record, source_params)
    with np.errstate(all="ignore"):
        step, diverged_step = run.run()
        test_loss, test_acc = run.test(diverged_step)
        budget = run.budget_check(step, test_acc)
    wall = time.perf_counter() - t0

    layers = run.rec.table()
    summary = _summarize(
        spec,
        run.rec,
        layers,
        diverged_step,
        test_loss,
        test_acc,
        run.steps_per_epoch,
        run.spectrum,
    )
    summary.update(budget)
    summary.update(_input_facts(ds, len(run.X_pr)))
    summary["n_train_used"] = len(run.X_tr)
    timing = {
        "run_id": spec.run_id,
        "wall_seconds": wall,
        "steps": step + run.extra_steps,
        "steps_per_second": (step + run.extra_steps) / wall if wall > 0 else float("nan"),
    }
    return RunResult(summary, layers, timing, run.params)


def _summarize(
    spec: RunSpec,
    rec: _Recorder,
    layers: dict[str, npt.NDArray[Any]],
    diverged_step: int | None,
    test_loss: float,
    test_acc: float,
    steps_per_epoch: int,
    spectrum: dict[str, float],
) -> dict[str, Any]:
    points = [r["point"] for r in rec.rows]
    val_acc = [p["val_acc"] for p in points]
    steps = [p["step"] for p in points]
    final = points[-1] if diverged_step is None else dict.fromkeys(CHECKPOINT_COLUMNS, np.nan)
    first, last = 0, len(rec.sizes) - 2  # indices of layer 1 and the output layer at step 0
    init_stats = rec.rows[0]["stats"]
    finite_val = [v for v in val_acc if np.isfinite(v)]
    return {
        "run_id": spec.run_id,
        "record_format": RECORD_FORMAT,
        "config": spec.to_dict(),
        "versions": versions(),
        "steps_per_epoch": steps_per_epoch,
        "final_train_loss": final["train_loss"],
        "final_train_acc": final["train_acc"],
        "final_val_loss": final["val_loss"],
        "final_val_acc": final["val_acc"],
        "final_test_loss": test_loss,
        "final_test_acc": test_acc,
        "best_val_acc": max(finite_val) if finite_val else float("nan"),
        "steps_to_target": _first_at_least(val_acc, steps, spec.target_accuracy),
        "diverged": diverged_step is not None,
        "diverged_step": diverged_step,
        "init_train_loss": points[0]["train_loss"],
        "delta_rms_first_init": init_stats["delta_rms"][first],
        "delta_rms_last_init": init_stats["delta_rms"][last],
        "wgrad_norm_first_init": init_stats["wgrad_norm"][first],
        "wgrad_norm_last_init": init_stats["wgrad_norm"][last],
        "log10_delta_ratio_init": _log10_ratio(
            init_stats["delta_rms"][first], init_stats["delta_rms"][last]
        ),
        "log10_wgrad_ratio_init": _log10_ratio(
            init_stats["wgrad_norm"][first], init_stats["wgrad_norm"][last]
        ),
        **spectrum,
        "n_checkpoints": len(points),
        "n_layer_rows": len(layers["layer"]),
    }
