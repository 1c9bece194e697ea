"""Tests of initlab.stats on hand-built passes whose statistics are known exactly."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from gradcheck import numeric_gradient, perturbed_net

from initlab import initializers
from initlab.activations import ACTIVATIONS
from initlab.model import Forward, Gradients, Layer, init_mlp, loss_and_grads
from initlab.stats import QUANTILES, STAT_COLUMNS, layer_stats, update_ratios

RELU = ACTIVATIONS["relu"]
TANH = ACTIVATIONS["tanh"]


def _hand_pass(act=RELU) -> tuple[list[Layer], Forward, Gradients]:
    """A 2-unit hidden layer and a 3-class output with chosen numbers (B = 2 samples).

    Hidden layer: z1 = [[1, -2], [3, 0]]
      z_mean = (1 - 2 + 3 + 0) / 4 = 0.5;  z_q = (1 + 4 + 9 + 0) / 4 = 3.5;
      z_var = 3.5 - 0.5^2 = 3.25.
      relu: a1 = [[1, 0], [3, 0]], a_mean = 1, a_std = sqrt(((0)^2+1+2^2+1)/4) = sqrt(1.5).
      relu'(z1) = [[1, 0], [1, 0]] (relu'(0) = 0): 2 of 4 entries saturated; unit 2 never fires
      -> dead; unit 1 fires -> saturated_frac 0.5, dead_frac 0.5.
      delta1 = [[3, 4], [0, 0]]: delta_rms = sqrt(25 / 4) = 2.5; mean 7/4,
      delta_var = 25/4 - 49/16 = 51/16.
      dW1 = [[1, 2], [2, 4]]: Frobenius sqrt(1 + 4 + 4 + 16) = 5, rms sqrt(25 / 4) = 2.5.
      db1 = [3, 4] -> 5;  W1 = [[3, 0], [0, 4]] -> 5.
    Output layer: z2 = [[2, 0, -2], [1, 1, 1]]: z_mean = 0.5 = a_mean (a is the logits).
      delta2 = [[0.5, -1, 0.5], [0, 0, 0]], dW2 = 6 x 0.5 entries and zeros.
    """
    W1 = np.array([[3.0, 0.0], [0.0, 4.0]])
    W2 = np.array([[1.0, 0.0, -1.0], [2.0, 2.0, 2.0]])
    params = [Layer(W1, np.zeros(2)), Layer(W2, np.zeros(3))]
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    z1 = np.array([[1.0, -2.0], [3.0, 0.0]])
    z2 = np.array([[2.0, 0.0, -2.0], [1.0, 1.0, 1.0]])
    fwd = Forward(a=[X, act.fn(z1)], z=[z1, z2])
    grads = Gradients(
        dW=[np.array([[1.0, 2.0], [2.0, 4.0]]), np.full((2, 3), 0.5)],
        db=[np.array([3.0, 4.0]), np.array([0.5, -1.0, 0.5])],
        delta=[np.array([[3.0, 4.0], [0.0, 0.0]]), np.array([[0.5, -1.0, 0.5], [0.0, 0.0, 0.0]])],
    )
    return params, fwd, grads


def test_columns_and_shapes() -> None:
    params, fwd, grads = _hand_pass()
    out = layer_stats(params, fwd, grads, RELU)
    assert tuple(out) == STAT_COLUMNS
    assert len(set(STAT_COLUMNS)) == len(STAT_COLUMNS)
    for q in QUANTILES:
        assert f"a_q{q:02d}" in STAT_COLUMNS and f"absdelta_q{q:02d}" in STAT_COLUMNS
    for c in STAT_COLUMNS:
        assert out[c].shape == (2,) and out[c].dtype == np.float64


def test_hand_built_values() -> None:
    params, fwd, grads = _hand_pass()
    s = layer_stats(params, fwd, grads, RELU)
    # hidden layer (row 0)
    assert s["z_mean"][0] == 0.5
    assert s["z_q"][0] == 3.5
    assert s["z_var"][0] == pytest.approx(3.25, abs=1e-15)
    assert s["a_mean"][0] == 1.0
    assert s["a_std"][0] == pytest.approx(math.sqrt(1.5), abs=1e-15)
    assert s["saturated_frac"][0] == 0.5
    assert s["dead_frac"][0] == 0.5
    assert s["delta_rms"][0] == pytest.approx(2.5, abs=1e-15)
    assert s["delta_var"][0] == pytest.approx(51 / 16, abs=1e-15)
    assert s["wgrad_norm"][0] == pytest.approx(5.0, abs=1e-15)
    assert s["wgrad_rms"][0] == pytest.approx(2.5, abs=1e-15)
    assert s["bgrad_norm"][0] == pytest.approx(5.0, abs=1e-15)
    assert s["w_norm"][0] == pytest.approx(5.0, abs=1e-15)
    # output layer (row 1): activations are the logits, no nonlinearity
    assert s["z_mean"][1] == 0.5
    assert s["a_mean"][1] == 0.5
    assert s["z_q"][1] == pytest.approx((4 + 0 + 4 + 1 + 1 + 1) / 6, abs=1e-15)
    assert np.isnan(s["saturated_frac"][1]) and np.isnan(s["dead_frac"][1])
    assert s["delta_rms"][1] == pytest.approx(math.sqrt(1.5 / 6), abs=1e-15)
    assert s["wgrad_norm"][1] == pytest.approx(math.sqrt(6 * 0.25), abs=1e-15)
    assert s["bgrad_norm"][1] == pytest.approx(math.sqrt(1.5), abs=1e-15)
    assert s["w_norm"][1] == pytest.approx(math.sqrt(1 + 1 + 4 + 4 + 4), abs=1e-15)


def test_quantiles_match_numpy_and_are_ordered() -> None:
    rng = np.random.default_rng(5)
    params = init_mlp(rng, [8, 16, 16, 4], initializers.get("he_normal"), dtype=np.float64)
    X = rng.standard_normal((64, 8))
    y = rng.integers(0, 4, 64)
    _, grads, fwd = loss_and_grads(params, X, y, TANH)
    s = layer_stats(params, fwd, grads, TANH)
    for i in range(3):
        a = fwd.a[i + 1] if i < 2 else fwd.z[i]
        aq = [s[f"a_q{q:02d}"][i] for q in QUANTILES]
        dq = [s[f"absdelta_q{q:02d}"][i] for q in QUANTILES]
        np.testing.assert_allclose(aq, np.percentile(a, QUANTILES), rtol=1e-14, atol=0)
        np.testing.assert_allclose(dq, np.percentile(np.abs(grads.delta[i]), QUANTILES), rtol=1e-14)
        assert all(x <= y for x, y in itertools.pairwise(aq))
        assert all(x <= y for x, y in itertools.pairwise(dq))
        assert dq[0] >= 0
        # z_q equals mean(z^2) exactly, z_var + z_mean^2 up to rounding
        z = fwd.z[i]
        assert s["z_q"][i] == np.mean(z * z)
        assert s["z_var"][i] + s["z_mean"][i] ** 2 == pytest.approx(s["z_q"][i], rel=1e-12)
        assert s["wgrad_norm"][i] == pytest.approx(np.linalg.norm(grads.dW[i], "fro"), rel=1e-14)
        assert s["delta_rms"][i] == pytest.approx(np.sqrt(np.mean(grads.delta[i] ** 2)), rel=1e-14)
    assert np.all(np.isfinite(s["saturated_frac"][:2]))
    assert np.isnan(s["saturated_frac"][2]) and np.isnan(s["dead_frac"][2])


def test_relu_net_with_half_the_units_negative() -> None:
    """Positive inputs; units 1-2 have positive weights, units 3-4 negative ones.

    Every sample drives exactly half of the hidden units negative, and it is always the same
    half: saturated_frac = 0.5 (entries) and dead_frac = 0.5 (units).
    """
    X = np.array([[1.0, 2.0], [3.0, 1.0], [0.5, 0.5], [2.0, 2.0]])
    y = np.array([0, 1, 2, 0])
    W1 = np.array([[1.0, 0.5, -1.0, -2.0], [1.0, 1.0, -0.5, -1.0]])
    W2 = np.arange(12.0).reshape(4, 3) / 10
    params = [Layer(W1, np.zeros(4)), Layer(W2, np.zeros(3))]
    _, grads, fwd = loss_and_grads(params, X, y, RELU)
    assert np.all(fwd.z[0][:, :2] > 0) and np.all(fwd.z[0][:, 2:] < 0)
    s = layer_stats(params, fwd, grads, RELU)
    assert s["saturated_frac"][0] == 0.5
    assert s["dead_frac"][0] == 0.5
    # the dead units get no weight gradient
    np.testing.assert_array_equal(grads.dW[0][:, 2:], 0.0)
    assert s["wgrad_norm"][0] == pytest.approx(np.linalg.norm(grads.dW[0][:, :2]), rel=1e-14)


def test_relu_saturated_but_not_dead() -> None:
    """Each unit is negative for some sample but fires for another: saturated, not dead."""
    z1 = np.array([[1.0, -1.0], [-1.0, 1.0], [-3.0, -2.0]])
    params = [Layer(np.eye(2), np.zeros(2)), Layer(np.ones((2, 2)), np.zeros(2))]
    fwd = Forward(a=[z1.copy(), RELU.fn(z1)], z=[z1, np.zeros((3, 2))])
    grads = Gradients(
        dW=[np.ones((2, 2)), np.ones((2, 2))],
        db=[np.ones(2), np.ones(2)],
        delta=[np.ones((3, 2)), np.ones((3, 2))],
    )
    s = layer_stats(params, fwd, grads, RELU)
    assert s["saturated_frac"][0] == pytest.approx(4 / 6)
    assert s["dead_frac"][0] == 0.0


@pytest.mark.parametrize(
    ("scale", "dead"),
    # tanh'(5) = 1 - tanh(5)^2 ~ 1.8e-4: saturated (< 5%) but not dead (> 1e-6);
    # tanh'(50) = 0 in float64: saturated and dead.
    [(5.0, 0.0), (50.0, 1.0)],
)
def test_tanh_with_huge_preactivations(scale: float, dead: float) -> None:
    z1 = scale * np.array([[1.0, -1.0, 1.0], [-1.0, 1.0, 1.0]])
    params = [Layer(np.eye(3), np.zeros(3)), Layer(np.ones((3, 2)), np.zeros(2))]
    fwd = Forward(a=[z1.copy(), TANH.fn(z1)], z=[z1, np.zeros((2, 2))])
    grads = Gradients(
        dW=[np.zeros((3, 3)), np.zeros((3, 2))],
        db=[np.zeros(3), np.zeros(2)],
        delta=[np.zeros((2, 3)), np.zeros((2, 2))],
    )
    s = layer_stats(params, fwd, grads, TANH)
    assert s["saturated_frac"][0] == 1.0
    assert s["dead_frac"][0] == dead
    assert s["delta_rms"][0] == 0.0 and s["wgrad_norm"][0] == 0.0


def test_tanh_near_zero_is_not_saturated() -> None:
    z1 = np.array([[0.1, -0.2], [0.3, 0.0]])
    params = [Layer(np.eye(2), np.zeros(2)), Layer(np.ones((2, 2)), np.zeros(2))]
    fwd = Forward(a=[z1.copy(), TANH.fn(z1)], z=[z1, np.zeros((2, 2))])
    zeros = Gradients(dW=[np.zeros((2, 2))] * 2, db=[np.zeros(2)] * 2, delta=[np.zeros((2, 2))] * 2)
    s = layer_stats(params, fwd, zeros, TANH)
    assert s["saturated_frac"][0] == 0.0 and s["dead_frac"][0] == 0.0


def test_float32_pass_gives_float64_stats() -> None:
    params, fwd, grads = _hand_pass()
    p32 = [Layer(p.W.astype(np.float32), p.b.astype(np.float32)) for p in params]
    f32 = Forward([a.astype(np.float32) for a in fwd.a], [z.astype(np.float32) for z in fwd.z])
    g32 = Gradients(
        [g.astype(np.float32) for g in grads.dW],
        [g.astype(np.float32) for g in grads.db],
        [g.astype(np.float32) for g in grads.delta],
    )
    s32 = layer_stats(p32, f32, g32, RELU)
    s64 = layer_stats(params, fwd, grads, RELU)
    for c in STAT_COLUMNS:
        assert s32[c].dtype == np.float64
        np.testing.assert_allclose(s32[c], s64[c], rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("name", ["tanh", "relu", "gelu", "selu", "sigmoid"])
def test_float32_probe_pass_equals_numpy_reductions_bit_for_bit(name: str) -> None:
    """On a float32 pass of the size a run probes (256 x 64), every moment equals numpy's own
    ``mean``, ``var``, ``mean(x * x)``, ``std`` of the float64 copy and every quantile
    ``np.percentile`` of it, exactly; the local derivatives kept by the pass give the same
    saturated and dead shares as recomputing them."""
    act = ACTIVATIONS[name]
    rng = np.random.default_rng(3)
    params = init_mlp(rng, [64, 64, 64, 10], initializers.get("he_normal"), dtype=np.float32)
    X = rng.standard_normal((256, 64)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    _, grads, fwd = loss_and_grads(params, X, y, act)
    s = layer_stats(params, fwd, grads, act)
    recomputed = layer_stats(params, Forward(fwd.a, fwd.z), grads, act)
    for c in STAT_COLUMNS:
        assert np.array_equal(s[c], recomputed[c], equal_nan=True), c
    for i in range(3):
        z = fwd.z[i].astype(np.float64)
        a = fwd.a[i + 1].astype(np.float64) if i < 2 else z
        d = grads.delta[i].astype(np.float64)
        dW = grads.dW[i].astype(np.float64)
        assert s["z_mean"][i] == z.mean() and s["z_var"][i] == z.var()
        assert s["z_q"][i] == np.mean(z * z)
        assert s["a_mean"][i] == a.mean() and s["a_std"][i] == a.std()
        assert s["delta_var"][i] == d.var()
        assert s["delta_rms"][i] == np.sqrt(np.mean(d * d))
        assert s["wgrad_norm"][i] == np.sqrt(np.sum(dW * dW))
        assert s["wgrad_rms"][i] == np.sqrt(np.mean(dW * dW))
        for q in QUANTILES:
            assert s[f"a_q{q:02d}"][i] == np.percentile(a, q)
            assert s[f"absdelta_q{q:02d}"][i] == np.percentile(np.abs(d), q)
        if i < 2:
            slope = np.abs(act.grad(fwd.z[i])) / act.max_grad
            assert s["saturated_frac"][i] == np.mean(slope < 0.05)
            assert s["dead_frac"][i] == np.mean(np.all(slope < 1e-6, axis=0))


# --- update_ratios ------------------------------------------------------------------------------


def test_update_ratio_known_values() -> None:
    W = np.array([[1.0, -2.0], [3.0, 0.5]])
    V = np.array([[3.0, 4.0]])
    before = [W.copy(), V.copy(), np.zeros((2, 2))]
    after = [
        Layer(2 * W, np.zeros(2)),  # ||2W - W|| / ||W|| = 1
        Layer(V + np.array([[0.6, 0.8]]), np.zeros(2)),  # ||(0.6, 0.8)|| / ||(3, 4)|| = 1/5
        Layer(np.ones((2, 2)), np.zeros(2)),  # ||W_before|| = 0 -> NaN
    ]
    r = update_ratios(before, after)
    assert r.shape == (3,) and r.dtype == np.float64
    assert r[0] == pytest.approx(1.0, abs=1e-15)
    assert r[1] == pytest.approx(0.2, abs=1e-15)
    assert np.isnan(r[2])


def test_update_ratio_unchanged_is_zero_and_float32_ok() -> None:
    W = np.array([[1.0, 2.0]], dtype=np.float32)
    r = update_ratios([W.copy()], [Layer(W, np.zeros(2, dtype=np.float32))])
    assert r.dtype == np.float64 and r[0] == 0.0


# --- before and after normalization --------------------------------------------------------------


def test_plain_network_h_columns_are_the_z_columns() -> None:
    """Without normalization ``h = z`` and ``dL/dh = delta``: the same numbers."""
    params, fwd, grads = _hand_pass()
    s = layer_stats(params, fwd, grads, RELU)
    for h, z in (("h_mean", "z_mean"), ("h_var", "z_var"), ("h_q", "z_q"), ("dh_rms", "delta_rms")):
        np.testing.assert_array_equal(s[h], s[z])
    assert s["h_q"][0] == 3.5 and s["dh_rms"][0] == pytest.approx(2.5, abs=1e-15)


def _hand_norm(h: np.ndarray, layer: Layer, norm: str) -> np.ndarray:
    axis = 0 if norm == "batch_norm" else 1
    mu, var = h.mean(axis=axis, keepdims=True), h.var(axis=axis, keepdims=True)
    return layer.gamma * (h - mu) / np.sqrt(var + 1e-5) + layer.beta


def _hand_loss(params, X, y, norm, at=None, h_at=None, z_at=None) -> tuple[float, list, list]:
    """Cross-entropy of a tanh net with batch statistics, written out here; ``h_at`` / ``z_at``
    replace ``h`` / ``z`` of layer index ``at``. Returns the loss and every ``h`` and ``z``."""
    a, hs, zs = X, [], []
    for i, layer in enumerate(params):
        h = h_at if (i == at and h_at is not None) else a @ layer.W + layer.b
        z = _hand_norm(h, layer, norm) if i < len(params) - 1 else h
        z = z_at if (i == at and z_at is not None) else z
        hs.append(h)
        zs.append(z)
        a = np.tanh(z)
    logits = zs[-1]
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-np.mean(logp[np.arange(len(y)), y])), hs, zs


def _loss_gradient(params, X, y, norm, at: int, key: str, value: np.ndarray) -> np.ndarray:
    """Central differences of :func:`_hand_loss` w.r.t. ``h`` or ``z`` (``key``) of layer
    index ``at``, around ``value``."""
    theta = value.copy()
    return numeric_gradient(lambda: _hand_loss(params, X, y, norm, at, **{key: theta})[0], theta)


@pytest.mark.parametrize("norm", ["batch_norm", "layer_norm"])
def test_normalized_layer_columns_against_central_differences(norm: str) -> None:
    """``h_*`` and ``z_*`` against the hand-written forward (rel 1e-12); ``dh_rms`` and
    ``delta_rms`` against central differences of the hand-written loss w.r.t. ``h^l`` and
    ``z^l`` (rel 1e-6, the finite-difference tolerance of tests/gradcheck.py)."""
    params = perturbed_net("glorot_normal", [5, 6, 4, 3], norm, seed=7)
    rng = np.random.default_rng(8)
    X, y = rng.standard_normal((8, 5)), np.arange(8) % 3
    _, grads, fwd = loss_and_grads(params, X, y, TANH, norm=norm, update_running=False)
    s = layer_stats(params, fwd, grads, TANH)
    _, hs, zs = _hand_loss(params, X, y, norm)
    for i, (h, z) in enumerate(zip(hs, zs, strict=True)):
        assert s["h_mean"][i] == pytest.approx(h.mean(), rel=1e-12, abs=1e-15)
        assert s["h_var"][i] == pytest.approx(h.var(), rel=1e-12)
        assert s["h_q"][i] == pytest.approx(np.mean(h * h), rel=1e-12)
        assert s["z_q"][i] == pytest.approx(np.mean(z * z), rel=1e-12)
        dh = _loss_gradient(params, X, y, norm, i, "h_at", h)
        dz = _loss_gradient(params, X, y, norm, i, "z_at", z)
        assert s["dh_rms"][i] == pytest.approx(np.sqrt(np.mean(dh * dh)), rel=1e-6)
        assert s["delta_rms"][i] == pytest.approx(np.sqrt(np.mean(dz * dz)), rel=1e-6)
    assert s["h_var"][0] != pytest.approx(s["z_var"][0], rel=1e-3)  # normalization did act
    assert s["dh_rms"][0] != pytest.approx(s["delta_rms"][0], rel=1e-3)
