"""The training settings normalization, dropout, dropout_kind, weight_decay, loss and
train_fraction, end to end through :func:`initlab.train.train`.

Each oracle is independent of the code under test: numbers recorded with the code before these
settings existed, a hand-written training loop, hand-written evaluation forwards (running
statistics, no dropout), hand formulas of one optimizer step, central differences of a
hand-written loss, and counting.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gradcheck import numeric_gradient

from initlab.activations import ACTIVATIONS
from initlab.config import RunSpec, Streams
from initlab.data import Dataset, stratified_subset
from initlab.model import Layer, NormState, init_mlp, loss_and_grads
from initlab.records import STAT_COLUMNS
from initlab.stats import SPECTRUM_COLUMNS, SPECTRUM_SUMMARY_KEYS, spectrum_stats
from initlab.train import RunResult, _Ensemble, train

RELU = ACTIVATIONS["relu"]
REFERENCE = Path(__file__).parent / "data" / "reference_default_runs.json"


def _spec(**kwargs: Any) -> RunSpec:
    base: dict[str, Any] = {
        "initializer": "he_normal",
        "activation": "relu",
        "depth": 2,
        "width": 16,
        "epochs": 2,
        "learning_rate": 0.05,
        "dtype": "float64",
    }
    return RunSpec(**{**base, **kwargs})


class _Training:
    """One network through the training machinery (an ensemble of one), seen as a single run:
    its layers, recorder, splits and evaluations."""

    def __init__(self, spec: RunSpec, ds: Dataset, record: bool = True) -> None:
        self.ens = _Ensemble([spec], ds, record)
        self.spec = spec
        self.X_va, self.y_va = self.ens.X_va, self.ens.y_va
        self.X_pr, self.y_pr = self.ens.X_pr, self.ens.y_pr
        self.X_tr, self.y_tr = self.ens.train_split(0)
        self.rec = self.ens.recs[0]

    @property
    def params(self) -> list[Layer]:
        return self.ens.network(0)

    @property
    def norm_state(self) -> NormState | None:
        state = self.ens.norm_state
        if state is None:
            return None
        return NormState([x[0] for x in state.running_mean], [x[0] for x in state.running_var])

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        loss, acc = self.ens.evaluate(X, y)
        return float(loss[0]), float(acc[0])

    def test(self) -> tuple[float, float]:
        loss, acc = self.ens._test()
        return float(loss[0]), float(acc[0])

    def run(self) -> None:
        """Every epoch, then the final checkpoint (no divergence expected)."""
        step = self.ens._epochs(self.spec.epochs, 0, record=True)
        self.ens.checkpoint(step)

    def _epochs(self, n_epochs: int, step: int, *, record: bool) -> int:
        return self.ens._epochs(n_epochs, step, record=record)


def _trained(spec: RunSpec, ds: Dataset, record: bool = True) -> _Training:
    """A run trained to its end (the final checkpoint included), its state kept."""
    run = _Training(spec, ds, record)
    with np.errstate(all="ignore"):
        run.run()
    return run


def _hand_logits(
    params: list[Layer], X: np.ndarray, norm: str = "none", state: NormState | None = None
) -> np.ndarray:
    """A ReLU network's logits in evaluation mode, written out here: batch norm divides by the
    running statistics, layer norm by each sample's own, no dropout."""
    a = X
    for i, layer in enumerate(params[:-1]):
        h = a @ layer.W + layer.b
        if norm == "batch_norm":
            assert state is not None
            h = (h - state.running_mean[i]) / np.sqrt(state.running_var[i] + 1e-5)
        elif norm == "layer_norm":
            h = (h - h.mean(axis=1, keepdims=True)) / np.sqrt(h.var(axis=1, keepdims=True) + 1e-5)
        if norm != "none":
            h = layer.gamma * h + layer.beta
        a = np.maximum(h, 0.0)
    return a @ params[-1].W + params[-1].b


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _hand_cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(np.log(_softmax(logits)[np.arange(len(y)), y])))


def _hand_mse(logits: np.ndarray, y: np.ndarray) -> float:
    r = _softmax(logits)
    r[np.arange(len(y)), y] -= 1.0
    return float(np.mean(np.sum(r * r, axis=1)))


def _accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(logits, axis=1) == y))


def _same_tables(a: RunResult, b: RunResult) -> bool:
    return list(a.layers) == list(b.layers) and all(
        np.array_equal(a.layers[c], b.layers[c], equal_nan=True) for c in a.layers
    )


# --- runs at the default settings are those of the code before the settings ------------------


@pytest.mark.parametrize("index", [0, 1])
def test_default_settings_reproduce_the_recorded_runs(digits: Dataset, index: int) -> None:
    """Numbers recorded with the committed code before these settings existed (float64 runs, so
    that a different BLAS' rounding stays far below rtol 1e-9; on the machine that recorded
    them the numbers are equal bit for bit)."""
    ref = json.loads(REFERENCE.read_text())["runs"][index]
    r = train(RunSpec(**ref["spec"]), digits)
    for column, values in ref["layers"].items():
        expected = np.array([math.nan if v is None else v for v in values])
        np.testing.assert_allclose(r.layers[column], expected, rtol=1e-9, err_msg=column)
    for key, value in ref["summary"].items():
        expected = math.nan if value is None else value
        np.testing.assert_allclose(r.summary[key], expected, rtol=1e-9, err_msg=key)


def test_default_settings_are_the_plain_training_loop(digits: Dataset) -> None:
    """A default run equals heavy-ball momentum written out here on the plain model, with the
    weight and order streams of ``rngs()``: no subset, no extra draw, the same final test loss
    (rel 1e-12) and accuracy."""
    spec = _spec(depth=2, width=16, epochs=2, learning_rate=0.01)
    r = train(spec, digits)
    init_rng, order_rng = spec.rngs()
    params = init_mlp(init_rng, [64, 16, 16, 10], spec.resolve_initializer(), dtype=np.float64)
    velocity = [(np.zeros_like(p.W), np.zeros_like(p.b)) for p in params]
    X, y = digits.X_train, digits.y_train
    for _ in range(spec.epochs):
        order = order_rng.permutation(len(X))
        for start in range(0, len(X), spec.batch_size):
            idx = order[start : start + spec.batch_size]
            _, grads, _ = loss_and_grads(params, X[idx], y[idx], RELU)
            for i, (p, (vW, vb)) in enumerate(zip(params, velocity, strict=True)):
                vW[:] = 0.9 * vW - 0.01 * grads.dW[i]
                vb[:] = 0.9 * vb - 0.01 * grads.db[i]
                p.W += vW
                p.b += vb
    logits = _hand_logits(params, digits.X_test)
    assert r.summary["final_test_acc"] == _accuracy(logits, digits.y_test)
    assert r.summary["final_test_loss"] == pytest.approx(
        _hand_cross_entropy(logits, digits.y_test), rel=1e-12
    )
    assert r.summary["n_train_used"] == len(X) and r.summary["steps_per_epoch"] == 17


class _NoDraws:
    """A stand-in for a generator that must not be used."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a run at the default settings used an unused stream ({name})")


def _without_new_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    original: Callable[[RunSpec], Streams] = RunSpec.streams

    def streams(self: RunSpec) -> Streams:
        s = original(self)
        return Streams(s.init, s.order, _NoDraws(), _NoDraws())  # type: ignore[arg-type]

    monkeypatch.setattr(RunSpec, "streams", streams)


def test_default_settings_never_touch_the_subset_and_dropout_streams(
    digits: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = _spec(epochs=1, budget_check=2, target_accuracy=0.999)
    expected = train(spec, digits)
    _without_new_streams(monkeypatch)
    assert _same_tables(train(spec, digits), expected)
    for touching in (_spec(epochs=1, dropout=0.1), _spec(epochs=1, train_fraction=0.5)):
        with pytest.raises(AssertionError, match="unused stream"):
            train(touching, digits)


def test_the_first_two_streams_are_those_of_two_children() -> None:
    """SeedSequence children are defined by their index: spawning four keeps the weight and
    order streams of spawning two; the four streams differ."""
    spec = _spec(seed=5, base_seed=11)
    streams = spec.streams()
    two = np.random.SeedSequence(11, spawn_key=(5,)).spawn(2)
    for rng, child in zip(streams[:2], two, strict=True):
        np.testing.assert_array_equal(rng.random(8), np.random.default_rng(child).random(8))
    draws = [rng.random(4) for rng in spec.streams()]
    assert len({d.tobytes() for d in draws}) == 4
    assert Streams._fields == ("init", "order", "subset", "dropout")


# --- normalization ---------------------------------------------------------------------------


def test_batch_norm_evaluation_uses_the_running_statistics(digits: Dataset) -> None:
    """Recorded losses and accuracies are those of the hand-written evaluation forward that
    divides by the running statistics (rel 1e-12, float64)."""
    run = _trained(_spec(normalization="batch_norm"), digits)
    state = run.norm_state
    assert state is not None
    assert np.abs(state.running_mean[0]).max() > 0.01  # the statistics moved off (0, 1)
    final = run.rec.rows[-1]["point"]
    for X, y, loss_key, acc_key in (
        (run.X_tr, run.y_tr, "train_loss", "train_acc"),
        (run.X_va, run.y_va, "val_loss", "val_acc"),
    ):
        logits = _hand_logits(run.params, X, "batch_norm", state)
        assert final[loss_key] == pytest.approx(_hand_cross_entropy(logits, y), rel=1e-12)
        assert final[acc_key] == _accuracy(logits, y)
    test_logits = _hand_logits(run.params, digits.X_test, "batch_norm", state)
    test_loss, test_acc = run.test()
    assert test_loss == pytest.approx(_hand_cross_entropy(test_logits, digits.y_test), rel=1e-12)
    assert test_acc == _accuracy(test_logits, digits.y_test)


def test_statistics_passes_leave_the_running_statistics_alone(digits: Dataset) -> None:
    """Probe passes (record=True) must not update the running statistics: the run trains to the
    same parameters and statistics as one that takes none."""
    spec = _spec(normalization="batch_norm", epochs=2)
    a, b = _trained(spec, digits, record=True), _trained(spec, digits, record=False)
    assert a.norm_state is not None and b.norm_state is not None
    for x, y in zip(
        [*a.norm_state.running_mean, *a.norm_state.running_var],
        [*b.norm_state.running_mean, *b.norm_state.running_var],
        strict=True,
    ):
        np.testing.assert_array_equal(x, y)
    for p, q in zip(a.params, b.params, strict=True):
        np.testing.assert_array_equal(p.W, q.W)
        np.testing.assert_equal(p.gamma, q.gamma)


@pytest.mark.parametrize("norm", ["batch_norm", "layer_norm"])
def test_probe_statistics_before_and_after_normalization(digits: Dataset, norm: str) -> None:
    """At step 0 the ``h_*`` columns are those of ``X W + b`` by hand; the ``z_*`` columns are
    normalized with the probe batch's own statistics (mean 0, variance ~1 at gamma = 1,
    beta = 0), not with the initial running statistics (which would leave ``z ~ h``)."""
    spec = _spec(normalization=norm, epochs=1)
    t = train(spec, digits).layers
    params = init_mlp(
        spec.streams().init, [64, 16, 16, 10], spec.resolve_initializer(), dtype=np.float64
    )
    h1 = digits.X_train[: spec.probe_size] @ params[0].W + params[0].b
    at0 = t["step"] == 0
    first, hidden, out = at0 & (t["layer"] == 1), at0 & (t["layer"] <= 2), at0 & (t["layer"] == 3)
    assert t["h_mean"][first][0] == pytest.approx(h1.mean(), rel=1e-12)
    assert t["h_var"][first][0] == pytest.approx(h1.var(), rel=1e-12)
    assert t["h_q"][first][0] == pytest.approx(np.mean(h1 * h1), rel=1e-12)
    assert abs(t["h_var"][first][0] - 1) > 0.3  # running statistics (0, 1) would keep this
    np.testing.assert_allclose(t["z_mean"][hidden], 0.0, atol=1e-12)
    np.testing.assert_allclose(t["z_var"][hidden], 1.0, atol=1e-3)
    for h, z in (("h_mean", "z_mean"), ("h_var", "z_var"), ("h_q", "z_q"), ("dh_rms", "delta_rms")):
        assert t[h][out] == t[z][out]  # the output layer is not normalized
        assert np.all(t[h][hidden] != t[z][hidden]), h


def test_batch_norm_skips_a_last_mini_batch_of_one_sample(digits: Dataset) -> None:
    """1079 training samples in mini-batches of 98: 11 full ones and one of a single sample,
    which batch norm cannot normalize and skips (a plain run takes it)."""
    assert len(digits.X_train) % 98 == 1
    bn = train(_spec(normalization="batch_norm", batch_size=98, epochs=2), digits)
    plain = train(_spec(batch_size=98, epochs=2), digits)
    assert bn.summary["steps_per_epoch"] == 11 and plain.summary["steps_per_epoch"] == 12
    assert bn.timing["steps"] == 22 and plain.timing["steps"] == 24
    assert not bn.summary["diverged"]
    np.testing.assert_array_equal(np.unique(bn.layers["step"]), [0, 11, 22])


def test_layer_norm_evaluation_is_per_sample(digits: Dataset) -> None:
    run = _trained(_spec(normalization="layer_norm"), digits)
    logits = _hand_logits(run.params, run.X_va, "layer_norm")
    final = run.rec.rows[-1]["point"]
    assert final["val_loss"] == pytest.approx(_hand_cross_entropy(logits, run.y_va), rel=1e-12)
    assert final["val_acc"] == _accuracy(logits, run.y_va)
    assert run.norm_state is None


# --- dropout ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dropout", "alpha_dropout"])
def test_dropout_is_off_at_evaluation(digits: Dataset, kind: str) -> None:
    """Evaluating twice gives the same numbers, those of the network without dropout (rel
    1e-12); the statistics at step 0 are those of the run without dropout (same weights, no mask
    on the probe batch); training itself did drop units."""
    run = _trained(_spec(dropout=0.3, dropout_kind=kind), digits)
    first, second = run.evaluate(run.X_va, run.y_va), run.evaluate(run.X_va, run.y_va)
    assert first == second
    logits = _hand_logits(run.params, run.X_va)
    assert first[0] == pytest.approx(_hand_cross_entropy(logits, run.y_va), rel=1e-12)
    assert first[1] == _accuracy(logits, run.y_va)
    assert run.rec.rows[-1]["point"]["val_loss"] == first[0]
    with_p, without = train(_spec(dropout=0.3, dropout_kind=kind), digits), train(_spec(), digits)
    at0 = with_p.layers["step"] == 0
    for c in (*STAT_COLUMNS, *SPECTRUM_COLUMNS, "train_loss", "val_loss"):
        np.testing.assert_array_equal(with_p.layers[c][at0], without.layers[c][at0], err_msg=c)
    assert with_p.summary["final_train_loss"] != without.summary["final_train_loss"]
    assert _same_tables(with_p, train(_spec(dropout=0.3, dropout_kind=kind), digits))


def test_dropout_masks_come_from_the_fourth_stream(digits: Dataset) -> None:
    """The first update, rebuilt by hand with masks drawn from ``streams().dropout``: SGD's
    ``||dW|| / ||W|| = lr ||g|| / ||W||`` equals the recorded step-0 update ratios (rel 1e-12)."""
    spec = _spec(optimizer="sgd", dropout=0.5)
    r = train(spec, digits)
    streams = spec.streams()
    params = init_mlp(streams.init, [64, 16, 16, 10], spec.resolve_initializer(), dtype=np.float64)
    idx = streams.order.permutation(len(digits.X_train))[: spec.batch_size]
    _, grads, _ = loss_and_grads(
        params,
        digits.X_train[idx],
        digits.y_train[idx],
        RELU,
        dropout=0.5,
        dropout_rng=streams.dropout,
    )
    expected = [
        spec.learning_rate * np.linalg.norm(g) / np.linalg.norm(p.W)
        for g, p in zip(grads.dW, params, strict=True)
    ]
    np.testing.assert_allclose(
        r.layers["update_ratio"][r.layers["step"] == 0], expected, rtol=1e-12
    )


def test_budget_check_continues_the_dropout_and_batch_norm_run(digits: Dataset) -> None:
    """The budget check's extended run is the longer run, bit for bit, with masks and running
    statistics carried on."""
    settings = {"normalization": "batch_norm", "dropout": 0.2, "target_accuracy": 0.999}
    checked = train(_spec(**settings, epochs=1, budget_check=3), digits).summary
    longer = train(_spec(**settings, epochs=3), digits).summary
    assert checked["budget_extended"]
    assert checked["budget_test_acc"] == longer["final_test_acc"]
    assert checked["budget_train_loss"] == longer["final_train_loss"]


# --- weight decay and loss -------------------------------------------------------------------


def _one_full_batch_step(spec: RunSpec, ds: Dataset) -> tuple[list[Layer], Any, _Training]:
    """Initial parameters, the gradient of the first (whole-split) mini-batch, and the run after
    that one step."""
    run = _Training(spec, ds, record=False)
    before = [Layer(p.W.copy(), p.b.copy()) for p in run.params]
    order = spec.streams().order.permutation(len(ds.X_train))
    _, grads, _ = loss_and_grads(before, ds.X_train[order], ds.y_train[order], RELU)
    run._epochs(1, 0, record=False)
    return before, grads, run


def test_weight_decay_sgd_step_is_the_hand_formula(digits: Dataset) -> None:
    """``W <- W - lr (g + lambda W)``, ``b <- b - lr g_b`` (biases not decayed)."""
    lr, wd = 0.05, 0.1
    spec = _spec(optimizer="sgd", weight_decay=wd, batch_size=2048, epochs=1)
    before, grads, run = _one_full_batch_step(spec, digits)
    for i, (p0, p1) in enumerate(zip(before, run.params, strict=True)):
        np.testing.assert_allclose(p1.W, p0.W - lr * (grads.dW[i] + wd * p0.W), rtol=1e-12)
        np.testing.assert_allclose(p1.b, p0.b - lr * grads.db[i], rtol=1e-12, atol=1e-16)


def test_adamw_decay_is_decoupled_and_explicit(digits: Dataset) -> None:
    """First AdamW step: ``W <- (1 - lr lambda) W - lr g / (|g| + eps)`` (bias-corrected moments
    are g and g^2); with weight_decay 0 AdamW is Adam, not PyTorch's default 0.01."""
    lr, wd = 0.01, 0.1
    spec = _spec(optimizer="adamw", learning_rate=lr, weight_decay=wd, batch_size=2048, epochs=1)
    before, grads, run = _one_full_batch_step(spec, digits)
    for i, (p0, p1) in enumerate(zip(before, run.params, strict=True)):
        g = grads.dW[i]
        expected = (1 - lr * wd) * p0.W - lr * g / (np.abs(g) + 1e-8)
        np.testing.assert_allclose(p1.W, expected, rtol=1e-10, atol=1e-15)
    adamw = train(_spec(optimizer="adamw", learning_rate=1e-3, epochs=1), digits)
    adam = train(_spec(optimizer="adam", learning_rate=1e-3, epochs=1), digits)
    assert _same_tables(adamw, adam)


def test_mse_loss_is_the_recorded_loss(digits: Dataset) -> None:
    """Recorded train/val/test losses are the quadratic cost of the final network by hand
    (rel 1e-12); the step-0 output delta is the gradient of that cost: central differences of
    the hand-written cost on the probe's logits (rel 1e-6)."""
    spec = _spec(loss="mse", epochs=2)
    run = _trained(spec, digits)
    final = run.rec.rows[-1]["point"]
    for X, y, key in ((run.X_tr, run.y_tr, "train_loss"), (run.X_va, run.y_va, "val_loss")):
        assert final[key] == pytest.approx(_hand_mse(_hand_logits(run.params, X), y), rel=1e-12)
    test_loss = _hand_mse(_hand_logits(run.params, digits.X_test), digits.y_test)
    assert run.test()[0] == pytest.approx(test_loss, rel=1e-12)
    params = init_mlp(
        spec.streams().init, [64, 16, 16, 10], spec.resolve_initializer(), dtype=np.float64
    )
    logits = _hand_logits(params, run.X_pr)
    grad = numeric_gradient(lambda: _hand_mse(logits, run.y_pr), logits)
    table = run.rec.table()
    recorded = table["delta_rms"][(table["step"] == 0) & (table["layer"] == 3)][0]
    assert recorded == pytest.approx(np.sqrt(np.mean(grad * grad)), rel=1e-6)


# --- training subsets ------------------------------------------------------------------------


def test_train_fraction_trains_on_a_nested_stratified_subset(digits: Dataset) -> None:
    """Counted by hand: per class ceil(fraction x n_class) samples (ceil in exact decimals), the
    0.1 subset inside the 0.3 subset, fewer steps per epoch; the probe batch (step-0 statistics)
    and the validation split stay those of the full run."""
    counts = np.bincount(digits.y_train)
    full = train(_spec(epochs=1), digits)
    rows = {}
    for fraction in (0.1, 0.3):
        spec = _spec(epochs=1, train_fraction=fraction, batch_size=32)
        run = _Training(spec, digits, record=True)
        expected = [math.ceil(Decimal(str(fraction)) * int(n)) for n in counts]
        np.testing.assert_array_equal(np.bincount(run.y_tr, minlength=10), expected)
        keep = stratified_subset(digits.y_train, fraction, spec.streams().subset)
        np.testing.assert_array_equal(run.X_tr, digits.X_train[keep])
        rows[fraction] = {r.tobytes() for r in run.X_tr}
        r = train(spec, digits)
        assert r.summary["n_train_used"] == sum(expected)
        assert r.summary["n_train"] == len(digits.X_train)
        assert r.summary["steps_per_epoch"] == math.ceil(sum(expected) / 32) == r.timing["steps"]
        at0 = r.layers["step"] == 0
        base = full.layers["step"] == 0
        for c in (*STAT_COLUMNS, "val_loss", "val_acc"):
            np.testing.assert_array_equal(r.layers[c][at0], full.layers[c][base], err_msg=c)
        params = init_mlp(
            spec.streams().init, [64, 16, 16, 10], spec.resolve_initializer(), dtype=np.float64
        )
        loss0 = _hand_cross_entropy(_hand_logits(params, run.X_tr), run.y_tr)
        assert r.layers["train_loss"][at0][0] == pytest.approx(loss0, rel=1e-12)
    assert rows[0.1] < rows[0.3]


# --- spectra ---------------------------------------------------------------------------------


def test_spectra_of_normalized_and_dropout_runs(digits: Dataset) -> None:
    """Dropout: the plain network's spectra. Layer norm: those of its initial network with
    ``norm="layer_norm"``. Batch norm: not measured (NaN)."""
    plain = train(_spec(epochs=1), digits)
    dropped = train(_spec(epochs=1, dropout=0.5), digits)
    np.testing.assert_equal(
        [dropped.summary[k] for k in SPECTRUM_SUMMARY_KEYS],
        [plain.summary[k] for k in SPECTRUM_SUMMARY_KEYS],
    )
    bn = train(_spec(epochs=1, normalization="batch_norm"), digits)
    for c in SPECTRUM_COLUMNS:
        assert np.all(np.isnan(bn.layers[c]))
    assert all(math.isnan(bn.summary[k]) for k in SPECTRUM_SUMMARY_KEYS)
    spec = _spec(epochs=1, normalization="layer_norm")
    ln = train(spec, digits)
    params = init_mlp(
        spec.streams().init,
        [64, 16, 16, 10],
        spec.resolve_initializer(),
        dtype=np.float64,
        norm="layer_norm",
    )
    columns, summary = spectrum_stats(
        params, digits.X_train[: spec.probe_size], RELU, norm="layer_norm"
    )
    at0 = ln.layers["step"] == 0
    for c in SPECTRUM_COLUMNS:
        np.testing.assert_array_equal(ln.layers[c][at0], columns[c])
    np.testing.assert_equal(summary, {k: ln.summary[k] for k in SPECTRUM_SUMMARY_KEYS})
    assert summary["jac_mean_s2"] != plain.summary["jac_mean_s2"]


# --- the specification ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"normalization": "group_norm"}, "normalization: got 'group_norm'"),
        ({"dropout_kind": "gaussian"}, "dropout_kind: got 'gaussian'"),
        ({"loss": "hinge"}, "loss: got 'hinge'; allowed: cross_entropy, mse"),
        ({"dropout": 0.95}, r"dropout: got 0\.95"),
        ({"dropout": -0.1}, "dropout"),
        ({"weight_decay": -1e-4}, "weight_decay"),
        ({"weight_decay": 2.0}, "weight_decay"),
        ({"train_fraction": 0.0}, r"train_fraction: got 0\.0 .*\(0, 1\]"),
        ({"train_fraction": 1.5}, "train_fraction"),
        ({"normalization": "batch_norm", "batch_size": 1}, "batch_size: got 1 with"),
    ],
)
def test_bad_settings_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _spec(**kwargs)


def test_new_settings_round_trip_and_name_runs_on_an_axis() -> None:
    spec = _spec(
        normalization="layer_norm",
        dropout=0.1,
        dropout_kind="alpha_dropout",
        weight_decay=1e-4,
        loss="mse",
        train_fraction=0.25,
        axes=("normalization", "train_fraction"),
    )
    assert RunSpec.from_dict(spec.to_dict()) == spec
    assert spec.run_id.endswith("__normalization=layer_norm__train_fraction=0.25__s0")
    assert _spec().to_dict()["train_fraction"] == 1.0 and _spec().dropout == 0.0
