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

Networks of one shape can train side by side (:func:`train_ensemble`, as the workflow's chunk jobs
do): their parameters, optimizer state and running statistics stacked on a leading network axis,
one batched forward and backward pass per mini-batch for all of them. Each keeps its own streams,
mini-batch order, recorder and outcome (a diverging network leaves the stack at its step, the
others go on), and its numbers equal those it gets alone, bit for bit (tests/test_ensemble.py);
:func:`train` is an ensemble of one.

Divergence is a result, not an error: when the training loss becomes non-finite (or the
parameters do), training stops, ``diverged`` is set with the step, and numbers that are no longer
defined are NaN. Floating-point warnings are silenced inside training because overflow is an
expected outcome of some initializations.
"""

from __future__ import annotations

import itertools
import json
import platform
import time
from collections.abc import Callable, Sequence
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
    Gradients,
    Layer,
    NormState,
    init_mlp,
    init_norm_state,
    loss_and_grads,
    loss_fn,
    predict_logits,
)
from initlab.optim import make_optimizer
from initlab.records import (
    BUDGET_KEYS,
    CHECKPOINT_COLUMNS,
    JACOBIAN_PROBES,
    LAYER_COLUMNS,
    RECORD_FORMAT,
)
from initlab.stats import (
    SPECTRUM_COLUMNS,
    SPECTRUM_SUMMARY_KEYS,
    STAT_COLUMNS,
    ensemble_layer_stats,
    spectrum_stats,
    update_ratios,
)
from initlab.transfer import copy_layers

__all__ = [
    "CHECKPOINT_COLUMNS",
    "ENSEMBLE_MEMORY_MB",
    "EVAL_BLOCK",
    "LAYER_COLUMNS",
    "RunResult",
    "ensemble_key",
    "ensemble_size",
    "ensembles",
    "evaluate",
    "keep_freed_memory",
    "outcome",
    "train",
    "train_ensemble",
    "versions",
]

Array = npt.NDArray[np.floating[Any]]


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


EVAL_BLOCK = 4096
"""Samples per block when evaluating a whole split (evaluation treats samples independently)."""


def evaluate(
    params: Sequence[Layer],
    X: npt.NDArray[Any],
    y: npt.NDArray[np.integer[Any]],
    activation: Activation,
    batch: int = EVAL_BLOCK,
    *,
    loss: str = "cross_entropy",
    norm: str = "none",
    norm_state: NormState | None = None,
    totals: bool = False,
) -> tuple[Any, Any]:
    """Mean loss and accuracy of the network on ``(X, y)`` in evaluation mode.

    Parameters
    ----------
    params : sequence of Layer
        The network, or an ensemble's stacked layers (:mod:`initlab.model`, "Ensembles").
    X : ndarray, shape (n, n_0)
        Inputs, in the parameters' dtype (for an ensemble: shared, or ``(N, n, n_0)``).
    y : ndarray of int, shape (n,)
        Labels (``(N, n)`` with per-network inputs).
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
    totals : bool
        Return the sum of the losses and the number of correct samples instead of means.

    Returns
    -------
    loss : float
        Mean of ``loss`` over the samples (an array ``(N,)`` for an ensemble).
    accuracy : float
        Share of samples whose largest logit is the label (an array ``(N,)`` for an ensemble).
    """
    compute = loss_fn(loss)
    loss_sum: Any = 0.0
    correct: Any = 0
    n = X.shape[-2]
    for start in range(0, n, batch):
        xb, yb = X[..., start : start + batch, :], y[..., start : start + batch]
        logits = predict_logits(params, xb, activation, norm=norm, norm_state=norm_state)
        labels = np.broadcast_to(yb, logits.shape[:-1])
        value, _ = compute(logits, labels)
        loss_sum += value * xb.shape[-2]
        hits = np.sum(np.argmax(logits, axis=-1) == labels, axis=-1)
        correct += int(hits) if hits.ndim == 0 else hits
    if totals:
        return loss_sum, correct
    return loss_sum / n, correct / n


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


def _stack(nets: Sequence[Sequence[Layer]]) -> list[Layer]:
    """The networks' layers stacked on a leading network axis (copies)."""

    def stacked(arrays: Sequence[Array | None]) -> Array | None:
        return None if arrays[0] is None else np.stack(arrays)  # type: ignore[arg-type]

    return [
        Layer(
            np.stack([net[i].W for net in nets]),
            np.stack([net[i].b for net in nets]),
            stacked([net[i].gamma for net in nets]),
            stacked([net[i].beta for net in nets]),
        )
        for i in range(len(nets[0]))
    ]


def _network(params: Sequence[Layer], k: int) -> list[Layer]:
    """Network ``k`` of an ensemble's stacked layers (views)."""
    return [
        Layer(
            p.W[k],
            p.b[k],
            None if p.gamma is None else p.gamma[k],
            None if p.beta is None else p.beta[k],
        )
        for p in params
    ]


def ensemble_key(spec: RunSpec) -> str:
    """Runs with the same key can train side by side in one ensemble: everything but the
    initializer and the seed is shared (shapes, data, training settings), and a transfer run
    only with runs that freeze the same layers."""
    fields = spec.to_dict()
    for name in ("initializer", "initializer_def", "seed", "source"):
        fields.pop(name, None)
    transfer = spec.transfer
    frozen = int(transfer["layers"]) if transfer and transfer.get("freeze", False) else 0
    fields["frozen_layers"] = frozen
    return json.dumps(fields, sort_keys=True, default=str)


class _Ensemble:
    """Networks of one shape trained side by side: their parameters, optimizer state and
    running statistics stacked on a leading network axis, one batched pass per mini-batch.

    Every network keeps its own initialization, mini-batch order, dropout and subset streams
    (:meth:`~initlab.config.RunSpec.streams`), its recorder and its outcome: a network whose
    loss becomes non-finite leaves the stack at that step (its record ends there, as it would
    alone) and the others go on. The numbers of each network equal those it gets trained
    alone, bit for bit (:mod:`initlab.model`, "Ensembles").
    """

    def __init__(
        self,
        specs: Sequence[RunSpec],
        ds: Dataset,
        record: bool,
        sources: Sequence[Sequence[Layer] | None] | None = None,
    ) -> None:
        keys = {ensemble_key(s) for s in specs}
        if len(keys) != 1:
            raise ValueError("an ensemble's runs must share everything but initializer and seed")
        spec = specs[0]
        self.specs, self.ds, self.record = list(specs), ds, record
        self.spec = spec
        self.dtype = np.dtype(spec.dtype)
        self.act = spec.resolve_activation()
        streams = [s.streams() for s in specs]
        self.sizes = [ds.n_features, *([spec.width] * spec.depth), ds.n_classes]
        nets, frozen = [], range(0)
        for run_spec, stream, source in zip(
            specs, streams, sources or [None] * len(specs), strict=True
        ):
            net = init_mlp(
                stream.init,
                self.sizes,
                run_spec.resolve_initializer(),
                dtype=self.dtype,
                bias_std=run_spec.bias_std,
                norm=run_spec.normalization,
            )
            net, frozen = self._transfer(run_spec, net, source)
            nets.append(net)
        self.params = _stack(nets)
        self.order_rngs = [st.order for st in streams]
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
        self._split(spec, ds, [st.subset for st in streams])
        self.step_options: dict[str, Any] = {
            "loss": spec.loss,
            "norm": spec.normalization,
            "norm_state": self.norm_state,
            "dropout": spec.dropout,
            "dropout_kind": spec.dropout_kind,
            "dropout_rng": [st.dropout for st in streams],
        }
        self.checkpoints = {
            e * self.steps_per_epoch for e in range(0, spec.epochs, spec.checkpoint_every)
        }
        n = len(specs)
        self.recs = [_Recorder(self.sizes) for _ in specs]
        self.spectra = [dict.fromkeys(SPECTRUM_SUMMARY_KEYS, float("nan")) for _ in specs]
        self.active = list(range(n))  # the networks still in the stack, by index in specs
        self.final: list[list[Layer]] = [[] for _ in specs]  # a network's layers once it left
        self.left_at = [0] * n  # the step at which a network left the stack
        self.blew_up = [False] * n  # it left because its training loss became non-finite
        self.progress: Callable[[int, int], None] | None = None  # (epochs done, epochs)

    @staticmethod
    def _transfer(
        spec: RunSpec, net: list[Layer], source: Sequence[Layer] | None
    ) -> tuple[list[Layer], range]:
        """Copy a transfer run's layers from its source (:mod:`initlab.transfer`); return the
        network and the indices of the layers the optimizer must leave fixed (empty unless
        frozen)."""
        transfer = spec.transfer
        if transfer is None:
            return net, range(0)
        if source is None:
            raise ValueError(
                f"source: the transfer initializer {spec.initializer!r} needs the trained "
                f"parameters of source {transfer['source']!r} (initlab run --source-params DIR)"
            )
        layers = int(transfer["layers"])
        net = copy_layers(net, source, layers)
        return net, range(layers) if transfer.get("freeze", False) else range(0)

    def _split(
        self, spec: RunSpec, ds: Dataset, subset_rngs: Sequence[np.random.Generator]
    ) -> None:
        """The training samples (one subset per network when ``train_fraction < 1``), the
        validation split, the probe batch (from the full training split) and the mini-batches
        of an epoch."""
        self.X_full = ds.X_train.astype(self.dtype)
        probe = min(spec.probe_size, len(self.X_full))
        self.X_pr, self.y_pr = self.X_full[:probe], ds.y_train[:probe]
        self.train_idx: npt.NDArray[np.intp] | None = None
        n = len(self.X_full)
        if spec.train_fraction < 1:
            self.train_idx = np.stack(
                [stratified_subset(ds.y_train, spec.train_fraction, g) for g in subset_rngs]
            )
            n = self.train_idx.shape[1]
        self.n_train = n
        self.X_va, self.y_va = ds.X_val.astype(self.dtype), ds.y_val
        bs = spec.batch_size
        # batch norm cannot take a step on one sample: a last mini-batch of 1 is skipped
        self.batch_end = n - 1 if spec.normalization == "batch_norm" and n % bs == 1 else n
        self.steps_per_epoch = -(-self.batch_end // bs)

    def network(self, k: int) -> list[Layer]:
        """The layers of the ``k``-th network still in the stack (views)."""
        return _network(self.params, k)

    def train_split(self, k: int) -> tuple[npt.NDArray[Any], npt.NDArray[np.integer[Any]]]:
        """The training samples of the ``k``-th network still in the stack."""
        if self.train_idx is None:
            return self.X_full, self.ds.y_train
        return self.X_full[self.train_idx[k]], self.ds.y_train[self.train_idx[k]]

    def evaluate(
        self, X: npt.NDArray[Any], y: npt.NDArray[np.integer[Any]]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Every network's loss and accuracy on ``(X, y)`` (shared, or one per network
        ``(N, n, n_0)``) in evaluation mode: arrays ``(N,)``."""
        loss, acc = evaluate(
            self.params,
            X,
            y,
            self.act,
            loss=self.spec.loss,
            norm=self.spec.normalization,
            norm_state=self.norm_state,
        )
        return np.asarray(loss, dtype=np.float64), np.asarray(acc, dtype=np.float64)

    def _evaluate_train(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Loss and accuracy on each network's training samples (its subset, if any), in
        blocks of :data:`EVAL_BLOCK` samples per network."""
        if self.train_idx is None:
            return self.evaluate(self.X_full, self.ds.y_train)
        loss_sum = np.zeros(len(self.active))
        correct = np.zeros(len(self.active), dtype=np.int64)
        n = self.n_train
        for start in range(0, n, EVAL_BLOCK):
            idx = self.train_idx[:, start : start + EVAL_BLOCK]
            loss, acc = evaluate(
                self.params,
                self.X_full[idx],
                self.ds.y_train[idx],
                self.act,
                batch=EVAL_BLOCK,
                loss=self.spec.loss,
                norm=self.spec.normalization,
                norm_state=self.norm_state,
                totals=True,
            )
            loss_sum += loss
            correct += acc
        return loss_sum / n, correct / n

    def checkpoint(self, step: int) -> None:
        """Loss and accuracy on the training samples and the validation split; statistics on the
        probe batch (spectra at step 0), recorded for every network in the stack."""
        tr_loss, tr_acc = self._evaluate_train()
        va_loss, va_acc = self.evaluate(self.X_va, self.y_va)
        n_layers = len(self.params)
        fwd = grads = None
        if self.record:
            labels = np.broadcast_to(self.y_pr, (len(self.active), len(self.y_pr)))
            _, grads, fwd = loss_and_grads(
                self.params,
                self.X_pr,
                labels,
                self.act,
                loss=self.spec.loss,
                norm=self.spec.normalization,
                update_running=False,
                norm_state=self.norm_state,
            )
        batched = (
            ensemble_layer_stats(self.params, fwd, grads, self.act)
            if fwd is not None and grads is not None
            else None
        )
        for k, n in enumerate(self.active):
            point = {
                "step": step,
                "epoch": step / self.steps_per_epoch,
                "train_loss": float(tr_loss[k]),
                "train_acc": float(tr_acc[k]),
                "val_loss": float(va_loss[k]),
                "val_acc": float(va_acc[k]),
            }
            stats = {c: np.full(n_layers, np.nan) for c in (*STAT_COLUMNS, *SPECTRUM_COLUMNS)}
            if batched is not None:
                stats.update({column: values[k] for column, values in batched.items()})
                if step == 0:
                    columns, init_spectrum = spectrum_stats(
                        self.network(k), self.X_pr, self.act, norm=self.spec.normalization
                    )
                    stats.update(columns)
                    self.spectra[n].update(init_spectrum)
            self.recs[n].add(point, stats)

    def _leave(self, keep: npt.NDArray[np.bool_], step: int, *, blew_up: bool) -> None:
        """Networks not in ``keep`` leave the stack at ``step``, their layers kept as they are
        (``blew_up``: their training loss became non-finite there); every stacked array and
        per-network stream follows."""
        for k in np.flatnonzero(~keep):
            n = self.active[k]
            self.final[n] = [
                Layer(*(None if x is None else x.copy() for x in (p.W, p.b, p.gamma, p.beta)))
                for p in self.network(int(k))
            ]
            self.left_at[n] = step
            self.blew_up[n] = blew_up
        self._select(keep)

    def _select(self, keep: npt.NDArray[np.bool_]) -> None:
        for p in self.params:
            p.W, p.b = p.W[keep], p.b[keep]
            if p.gamma is not None and p.beta is not None:
                p.gamma, p.beta = p.gamma[keep], p.beta[keep]
        self.opt.select(keep)
        if self.norm_state is not None:
            st = self.norm_state
            st.running_mean = [x[keep] for x in st.running_mean]
            st.running_var = [x[keep] for x in st.running_var]
        picked = np.flatnonzero(keep)
        self.active = [self.active[k] for k in picked]
        self.order_rngs = [self.order_rngs[k] for k in picked]
        rngs = self.step_options["dropout_rng"]
        self.step_options["dropout_rng"] = [rngs[k] for k in picked]
        if self.train_idx is not None:
            self.train_idx = self.train_idx[keep]

    def _epochs(self, n_epochs: int, step: int, *, record: bool) -> int:
        """Train ``n_epochs`` epochs from ``step``; return the step reached. A network whose
        training loss becomes non-finite leaves the stack at that step (before its update).
        With ``record``, checkpoints are taken on the way."""
        n, bs = self.n_train, self.spec.batch_size
        for epoch in range(n_epochs):
            if record and self.progress is not None and epoch:
                self.progress(epoch, n_epochs)
            if not self.active:
                break
            orders = np.stack([g.permutation(n) for g in self.order_rngs])
            for start in range(0, self.batch_end, bs):
                idx = orders[:, start : start + bs]
                if self.train_idx is not None:
                    idx = np.take_along_axis(self.train_idx, idx, axis=1)
                at_checkpoint = record and step in self.checkpoints
                if at_checkpoint:
                    self.checkpoint(step)
                loss, grads, _ = loss_and_grads(
                    self.params,
                    self.X_full[idx],
                    self.ds.y_train[idx],
                    self.act,
                    **self.step_options,
                )
                finite = np.isfinite(loss)
                if not finite.all():
                    self._leave(finite, step, blew_up=True)
                    if not self.active:
                        return step
                    orders = orders[finite]
                    grads = _select_gradients(grads, finite)
                before = (
                    [p.W.copy() for p in self.params] if at_checkpoint and self.record else None
                )
                self.opt.step(self.params, grads)
                if before is not None:
                    for k, n_run in enumerate(self.active):
                        ratios = update_ratios([w[k] for w in before], self.network(k))
                        self.recs[n_run].set_update(ratios)
                step += 1
        return step

    def _finite(self) -> npt.NDArray[np.bool_]:
        """Per network in the stack: every parameter (and running statistic) is finite."""
        arrays = [x for p in self.params for x in (p.W, p.b, p.gamma, p.beta) if x is not None]
        if self.norm_state is not None:
            arrays += [*self.norm_state.running_mean, *self.norm_state.running_var]
        ok = np.ones(len(self.active), dtype=bool)
        if not self.active:
            return ok
        for x in arrays:
            ok &= np.isfinite(x).reshape(len(x), -1).all(axis=1)
        return ok

    def _test(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Loss and accuracy of every network in the stack on the test split."""
        return self.evaluate(self.ds.X_test.astype(self.dtype), self.ds.y_test)

    def train(self) -> list[dict[str, Any]]:
        """Train every network to its end, then the budget check; return per network its
        outcome: ``diverged_step``, ``test_loss``, ``test_acc``, the budget keys
        (:data:`initlab.records.BUDGET_KEYS`), ``steps`` and ``params``."""
        spec, n = self.spec, len(self.specs)
        nan = float("nan")
        out: list[dict[str, Any]] = [
            {"diverged_step": None, "test_loss": nan, "test_acc": nan} for _ in range(n)
        ]
        step = self._epochs(spec.epochs, 0, record=True)
        for k in range(n):  # left on the way: diverged there
            if self.blew_up[k]:
                out[k]["diverged_step"] = self.left_at[k]
                out[k]["steps"] = self.left_at[k]
        for m in self.active:  # every network still in the stack took every step
            out[m]["steps"] = step
        if self.active:
            self.checkpoint(step)
            last = [self.recs[m].rows[-1]["point"]["train_loss"] for m in self.active]
            ok = self._finite() & np.isfinite(np.asarray(last, dtype=np.float64))
            for k in np.flatnonzero(~ok):  # non-finite at the end: diverged at the last step
                out[self.active[k]]["diverged_step"] = step
            self._leave(ok, step, blew_up=False)
        if self.active:
            test_loss, test_acc = self._test()
            for k, m in enumerate(self.active):
                out[m]["test_loss"], out[m]["test_acc"] = float(test_loss[k]), float(test_acc[k])
        factor = spec.budget_check
        for m in range(n):
            acc = out[m]["test_acc"]
            out[m].update(
                budget_epochs=factor * spec.epochs,
                budget_extended=False,
                budget_diverged=not np.isfinite(acc),
                budget_test_acc=acc,
                budget_train_loss=(
                    self.recs[m].rows[-1]["point"]["train_loss"] if np.isfinite(acc) else nan
                ),
                extra_steps=0,
            )
        extend = np.array(
            [factor > 1 and out[m]["test_acc"] < spec.target_accuracy for m in self.active],
            dtype=bool,
        )
        self._leave(extend, step, blew_up=False)
        if self.active:
            self._budget_check(step, out)
        self._leave(np.zeros(len(self.active), dtype=bool), step, blew_up=False)
        for m in range(n):
            out[m]["params"] = self.final[m]
        return out

    def _budget_check(self, step: int, out: list[dict[str, Any]]) -> None:
        """Train the networks in the stack (those that ended below the target) on to
        ``budget_check x epochs`` epochs.

        The mini-batch stream (and the dropout stream) goes on where it stopped, so the extended
        run is the run a study with ``budget_check x epochs`` epochs would have trained (same
        parameters, same order); no checkpoint is taken on the way.
        """
        for m in self.active:
            out[m]["budget_extended"] = True
        start = list(self.active)
        end = self._epochs((self.spec.budget_check - 1) * self.spec.epochs, step, record=False)
        for m in start:
            if self.blew_up[m] and m not in self.active:
                out[m]["extra_steps"] = self.left_at[m] - step
                out[m].update(budget_diverged=True, budget_test_acc=np.nan)
                out[m]["budget_train_loss"] = np.nan
        for m in self.active:
            out[m]["extra_steps"] = end - step
        ok = self._finite()
        for k in np.flatnonzero(~ok):
            out[self.active[k]].update(
                budget_diverged=True, budget_test_acc=np.nan, budget_train_loss=np.nan
            )
        self._leave(ok, end, blew_up=False)
        if not self.active:
            return
        train_loss = self._evaluate_train()[0]
        test_acc = self._test()[1]
        for k, m in enumerate(self.active):
            if np.isfinite(train_loss[k]):
                out[m]["budget_train_loss"] = float(train_loss[k])
                out[m]["budget_test_acc"] = float(test_acc[k])
            else:
                out[m].update(
                    budget_diverged=True,
                    budget_test_acc=np.nan,
                    budget_train_loss=float(train_loss[k]),
                )


def _select_gradients(grads: Gradients, keep: npt.NDArray[np.bool_]) -> Gradients:
    """The gradients of the networks ``keep`` marks (the optimizer reads ``dW``, ``db``,
    ``dgamma``, ``dbeta``)."""

    def sel(items: list[Any] | None) -> list[Any] | None:
        return None if items is None else [None if x is None else x[keep] for x in items]

    return Gradients(sel(grads.dW), sel(grads.db), grads.delta, sel(grads.dgamma), sel(grads.dbeta))


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


ENSEMBLE_MEMORY_MB = 256
"""Memory an ensemble's probe pass may take (its per-layer intermediates of every network):
bounds the networks trained side by side (:func:`ensembles`)."""

_PROBE_ARRAYS = 8
"""Arrays of ``probe x width`` values a probe pass keeps per layer and network (activations,
pre-activations, derivatives, gradients, normalization caches, with room to spare)."""


def ensemble_size(spec: RunSpec) -> int:
    """Most networks of ``spec``'s shape one ensemble trains (at least 1): their probe passes
    fit in :data:`ENSEMBLE_MEMORY_MB`."""
    rows = max(spec.probe_size, spec.batch_size)
    per_network = (
        rows * spec.width * (spec.depth + 1) * _PROBE_ARRAYS * np.dtype(spec.dtype).itemsize
    )
    return max(1, int(ENSEMBLE_MEMORY_MB * 1e6 // per_network))


def ensembles(specs: Sequence[RunSpec]) -> list[list[RunSpec]]:
    """``specs`` grouped into ensembles: runs with one :func:`ensemble_key`, in their order of
    first appearance, split into as few ensembles of (nearly) equal size as
    :func:`ensemble_size` allows."""
    groups: dict[str, list[RunSpec]] = {}
    for spec in specs:
        groups.setdefault(ensemble_key(spec), []).append(spec)
    out = []
    for group in groups.values():
        parts = -(-len(group) // ensemble_size(group[0]))  # as few as fit, of equal sizes
        bounds = [round(k * len(group) / parts) for k in range(parts + 1)]
        out.extend(group[a:b] for a, b in itertools.pairwise(bounds))
    return out


_MALLOC_KEEP_BYTES = 256 * 2**20
"""Heap memory glibc keeps for reuse instead of returning it to the system
(:func:`keep_freed_memory`)."""


def keep_freed_memory() -> bool:
    """Let glibc's allocator reuse freed blocks of up to :data:`_MALLOC_KEEP_BYTES` instead of
    mapping and unmapping them on every allocation; return whether it applied (glibc only).

    A training step allocates a few arrays per layer; an ensemble's are hundreds of kB, above
    glibc's default ``mmap`` threshold (128 kB), so each would be mapped fresh and paged in on
    first touch, which for small networks costs about as much as the arithmetic.
    Process-wide; numbers do not change.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    ok = mallopt(m_mmap_threshold, _MALLOC_KEEP_BYTES // 4)
    ok = mallopt(m_trim_threshold, _MALLOC_KEEP_BYTES) and ok
    return bool(ok)


def outcome(summary: dict[str, Any]) -> str:
    """How a run ended, as the training logs say it: its test accuracy, or its divergence."""
    if summary["diverged"]:
        return f"diverged at step {summary['diverged_step']}"
    return f"test accuracy {summary['final_test_acc']:.4f}"


def _dataset(spec: RunSpec, dataset: Dataset | None) -> Dataset:
    ds = dataset if dataset is not None else load_dataset(spec.dataset)
    return select_classes(ds, spec.classes) if spec.classes is not None else ds


def train_ensemble(
    specs: Sequence[RunSpec],
    dataset: Dataset | None = None,
    *,
    record: bool = True,
    source_params: Sequence[Sequence[Layer] | None] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[RunResult]:
    """Train networks of one shape side by side (:class:`_Ensemble`); the result of each equals
    :func:`train`'s of its spec alone, bit for bit, the timing aside.

    Parameters
    ----------
    specs : sequence of RunSpec
        Runs with one :func:`ensemble_key` (they differ in initializer and seed only).
    dataset : Dataset, optional
        As for :func:`train`.
    record : bool
        As for :func:`train`.
    source_params : sequence, optional
        Per run, the trained source network of a ``transfer`` initializer (``None`` for other
        runs).
    progress : callable, optional
        Called as ``progress(done, epochs)`` at the start of every epoch after the first
        (the budget check's epochs are not reported).

    Returns
    -------
    list of RunResult
        In the order of ``specs``. ``timing`` gives each run an equal share of the ensemble's
        wall time and its own steps.
    """
    t0 = time.perf_counter()
    ds = _dataset(specs[0], dataset)
    ens = _Ensemble(specs, ds, record, source_params)
    ens.progress = progress
    with np.errstate(all="ignore"):
        outcomes = ens.train()
    wall = (time.perf_counter() - t0) / len(specs)
    facts = _input_facts(ds, len(ens.X_pr))
    results = []
    for spec, rec, spectrum, out in zip(specs, ens.recs, ens.spectra, outcomes, strict=True):
        layers = rec.table()
        summary = _summarize(
            spec,
            rec,
            layers,
            out["diverged_step"],
            out["test_loss"],
            out["test_acc"],
            ens.steps_per_epoch,
            spectrum,
        )
        summary.update({key: out[key] for key in BUDGET_KEYS})
        summary.update(facts)
        summary["n_train_used"] = ens.n_train
        steps = out["steps"] + out["extra_steps"]
        timing = {
            "run_id": spec.run_id,
            "wall_seconds": wall,
            "steps": steps,
            "steps_per_second": steps / wall if wall > 0 else float("nan"),
        }
        results.append(RunResult(summary, layers, timing, out["params"]))
    return results


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
    return train_ensemble([spec], dataset, record=record, source_params=[source_params])[0]


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
