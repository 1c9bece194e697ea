"""Tests of batch and layer normalization in initlab.model: gradients against central
differences, train/eval behaviour and running statistics against hand computations, init and
evaluation helpers. (PyTorch oracles: tests/test_torch_oracle.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from gradcheck import (
    assert_network_gradients,
    perturbed_net,
)

from initlab import initializers
from initlab.activations import ACTIVATIONS
from initlab.model import (
    NORM_EPS,
    Layer,
    NormState,
    forward,
    init_mlp,
    init_norm_state,
    loss_and_grads,
    predict_logits,
)
from initlab.optim import make_optimizer

SIZES = [5, 7, 6, 3]
SMOOTH = ["tanh", "selu", "gelu", "sigmoid"]  # selu's kink at 0 is kept at a distance below


def _data(batch: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, SIZES[0])), np.arange(batch) % SIZES[-1]


def _net(norm: str, seed: int = 3) -> list[Layer]:
    """A float64 net whose gamma, beta and biases are not at their initial values, so that
    every term of the backward pass takes part in the check."""
    return perturbed_net("glorot_normal", SIZES, norm, seed)


def _random_state(params: list[Layer], seed: int = 5) -> NormState:
    state = init_norm_state(params)
    rng = np.random.default_rng(seed)
    for rm, rv in zip(state.running_mean, state.running_var, strict=True):
        rm[:] = rng.standard_normal(rm.shape)
        rv[:] = rng.uniform(0.5, 2.0, rv.shape)
    return state


def _gradcheck(norm: str, act_name: str, loss: str, train: bool) -> None:
    act = ACTIVATIONS[act_name]
    X, y = _data()
    params = _net(norm)
    state = _random_state(params)
    opts = {"loss": loss, "norm": norm, "train": train, "norm_state": state}
    opts["update_running"] = False  # the statistics must not move between evaluations
    before = [a.copy() for a in (*state.running_mean, *state.running_var)]
    _, grads, fwd = loss_and_grads(params, X, y, act, input_grad=True, **opts)
    if act.kinks:
        assert min(np.min(np.abs(z)) for z in fwd.z[:-1]) > 1e-4  # away from selu's kink

    def f() -> float:
        return loss_and_grads(params, X, y, act, **opts)[0]

    assert grads.dgamma is not None and grads.dbeta is not None and grads.dX is not None
    assert_network_gradients(params, grads, X, f)
    assert all(np.max(np.abs(g)) > 1e-4 for g in grads.dgamma if g is not None)
    assert np.max(np.abs(grads.dX)) > 1e-4
    after = [*state.running_mean, *state.running_var]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("act_name", SMOOTH)
@pytest.mark.parametrize("norm", ["batch_norm", "layer_norm"])
def test_norm_backward_matches_central_differences(norm: str, act_name: str, loss: str) -> None:
    """Every W, b, gamma, beta and the input; batch norm couples the batch, layer norm the
    features, so the check perturbs one entry and re-runs the whole batch."""
    _gradcheck(norm, act_name, loss, train=True)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
@pytest.mark.parametrize("act_name", ["tanh", "gelu"])
def test_batch_norm_eval_backward_matches_central_differences(act_name: str, loss: str) -> None:
    """Evaluation mode: the running statistics are constants."""
    _gradcheck("batch_norm", act_name, loss, train=False)


def test_batch_norm_bias_gradient_vanishes() -> None:
    """sum_j dL/dh_j = 0 per unit under batch norm in training: the bias gets no gradient."""
    X, y = _data(8)
    params = _net("batch_norm")
    _, grads, _ = loss_and_grads(params, X, y, ACTIVATIONS["tanh"], norm="batch_norm")
    for i in range(len(params) - 1):
        np.testing.assert_allclose(grads.db[i], 0.0, atol=1e-15)
        np.testing.assert_allclose(grads.dh[i].sum(axis=0), 0.0, atol=1e-15)
    assert np.max(np.abs(grads.db[-1])) > 1e-3  # the output layer is not normalized


# --- batch norm: train and eval behaviour --------------------------------------------------------


def _affine(params: list[Layer], X: np.ndarray) -> np.ndarray:
    return X @ params[0].W + params[0].b


def test_batch_norm_training_output_has_mean_beta_and_std_gamma() -> None:
    X = np.random.default_rng(1).standard_normal((64, SIZES[0]))
    params = _net("batch_norm")
    fwd = forward(params, X, ACTIVATIONS["tanh"], norm="batch_norm")
    g, b = params[0].gamma, params[0].beta
    h = _affine(params, X)
    z = fwd.z[0]
    # mean over the batch is exactly beta (up to float64 rounding of 64 terms)
    np.testing.assert_allclose(z.mean(axis=0), b, rtol=0, atol=1e-13)
    # std is |gamma| sigma / sqrt(sigma^2 + eps) with the biased batch variance
    var = h.var(axis=0)
    np.testing.assert_allclose(z.std(axis=0), np.abs(g) * np.sqrt(var / (var + NORM_EPS)), 1e-12)
    np.testing.assert_allclose(z.std(axis=0), np.abs(g), rtol=1e-4)  # eps is tiny next to var
    np.testing.assert_array_equal(fwd.h[0], fwd.pre_norm[0])
    np.testing.assert_allclose(fwd.h[0], h, rtol=1e-14, atol=1e-14)


def test_batch_norm_running_statistics_follow_the_momentum_rule() -> None:
    """Two training passes, hand computation with the unbiased variance (ddof=1)."""
    rng = np.random.default_rng(2)
    X1, X2 = rng.standard_normal((10, SIZES[0])), 3.0 + 2.0 * rng.standard_normal((7, SIZES[0]))
    params = _net("batch_norm")
    state = init_norm_state(params)
    assert all(np.all(m == 0) for m in state.running_mean)
    assert all(np.all(v == 1) for v in state.running_var)
    act = ACTIVATIONS["tanh"]
    fwd1 = forward(params, X1, act, norm="batch_norm", norm_state=state)
    fwd2 = forward(params, X2, act, norm="batch_norm", norm_state=state)
    for i in range(len(params) - 1):
        h1, h2 = fwd1.h[i], fwd2.h[i]
        mean = 0.9 * (0.9 * 0.0 + 0.1 * h1.mean(axis=0)) + 0.1 * h2.mean(axis=0)
        var = 0.9 * (0.9 * 1.0 + 0.1 * h1.var(axis=0, ddof=1)) + 0.1 * h2.var(axis=0, ddof=1)
        np.testing.assert_allclose(state.running_mean[i], mean, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(state.running_var[i], var, rtol=1e-13)


def test_batch_norm_eval_uses_running_statistics() -> None:
    X = np.random.default_rng(3).standard_normal((16, SIZES[0]))
    params = _net("batch_norm")
    state = _random_state(params)
    act = ACTIVATIONS["tanh"]
    ev = forward(params, X, act, norm="batch_norm", train=False, norm_state=state)
    tr = forward(params, X, act, norm="batch_norm", train=True, update_running=False)
    h = _affine(params, X)
    expected = (h - state.running_mean[0]) / np.sqrt(state.running_var[0] + NORM_EPS)
    expected = params[0].gamma * expected + params[0].beta
    np.testing.assert_allclose(ev.z[0], expected, rtol=1e-13, atol=1e-14)
    assert np.max(np.abs(ev.z[0] - tr.z[0])) > 0.1  # not the batch statistics
    # evaluation leaves the running statistics alone
    fresh = _random_state(params)
    for a, b in zip(
        state.running_mean + state.running_var,
        fresh.running_mean + fresh.running_var,
        strict=True,
    ):
        assert a.tobytes() == b.tobytes()


def test_update_running_false_uses_batch_statistics_and_leaves_state() -> None:
    X = np.random.default_rng(4).standard_normal((16, SIZES[0]))
    params = _net("batch_norm")
    act = ACTIVATIONS["tanh"]
    probe, updated = _random_state(params), _random_state(params)
    f_probe = forward(params, X, act, norm="batch_norm", norm_state=probe, update_running=False)
    f_upd = forward(params, X, act, norm="batch_norm", norm_state=updated)
    f_none = forward(params, X, act, norm="batch_norm")  # no state: nothing to update
    for a, b, c in zip(f_probe.z, f_upd.z, f_none.z, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    untouched = _random_state(params)
    for got, ref, moved in zip(
        probe.running_mean + probe.running_var,
        untouched.running_mean + untouched.running_var,
        updated.running_mean + updated.running_var,
        strict=True,
    ):
        assert got.tobytes() == ref.tobytes()
        assert not np.array_equal(moved, ref)


# --- layer norm -----------------------------------------------------------------------------------


def test_layer_norm_normalizes_each_sample_and_ignores_mode() -> None:
    X = np.random.default_rng(5).standard_normal((9, SIZES[0]))
    params = init_mlp(
        np.random.default_rng(0),
        SIZES,
        initializers.get("he_normal"),
        dtype=np.float64,
        norm="layer_norm",
    )
    act = ACTIVATIONS["tanh"]
    tr = forward(params, X, act, norm="layer_norm")
    ev = forward(params, X, act, norm="layer_norm", train=False)
    h = _affine(params, X)
    var = h.var(axis=1)
    # gamma = 1, beta = 0: each sample has mean 0 and variance var / (var + eps)
    np.testing.assert_allclose(tr.z[0].mean(axis=1), 0.0, atol=1e-14)
    np.testing.assert_allclose(tr.z[0].var(axis=1), var / (var + NORM_EPS), rtol=1e-12)
    for a, b in zip(tr.z, ev.z, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(predict_logits(params, X, act, norm="layer_norm"), ev.logits)


def test_predict_logits_equals_forward_in_eval_mode() -> None:
    X = np.random.default_rng(6).standard_normal((11, SIZES[0])).astype(np.float32)
    params = init_mlp(
        np.random.default_rng(0), SIZES, initializers.get("he_normal"), norm="batch_norm"
    )
    state = _random_state(params)
    state = NormState(
        [m.astype(np.float32) for m in state.running_mean],
        [v.astype(np.float32) for v in state.running_var],
    )
    act = ACTIVATIONS["selu"]
    ev = forward(params, X, act, norm="batch_norm", train=False, norm_state=state)
    out = predict_logits(params, X, act, norm="batch_norm", norm_state=state)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, ev.logits)


# --- init, shapes, dtype, errors ----------------------------------------------------------------


@pytest.mark.parametrize("norm", ["batch_norm", "layer_norm"])
def test_init_mlp_norm_draws_nothing_extra(norm: str) -> None:
    init = initializers.get("glorot_normal")
    plain = init_mlp(np.random.default_rng(7), SIZES, init, bias_std=0.2)
    normed = init_mlp(np.random.default_rng(7), SIZES, init, bias_std=0.2, norm=norm)
    for p, q in zip(plain, normed, strict=True):
        assert p.W.tobytes() == q.W.tobytes() and p.b.tobytes() == q.b.tobytes()
        assert p.gamma is None and p.beta is None
    for q in normed[:-1]:
        assert q.gamma is not None and q.beta is not None
        assert q.gamma.dtype == q.beta.dtype == np.float32
        np.testing.assert_array_equal(q.gamma, np.ones(q.b.shape))
        np.testing.assert_array_equal(q.beta, np.zeros(q.b.shape))
    assert normed[-1].gamma is None and normed[-1].beta is None  # never the output layer


@pytest.mark.parametrize("norm", ["batch_norm", "layer_norm"])
def test_norm_keeps_float32(norm: str) -> None:
    X, y = _data(8)
    params = init_mlp(np.random.default_rng(0), SIZES, initializers.get("he_normal"), norm=norm)
    state = init_norm_state(params)
    loss, grads, fwd = loss_and_grads(
        params, X.astype(np.float32), y, ACTIVATIONS["tanh"], norm=norm, norm_state=state
    )
    assert np.isfinite(loss)
    arrays = [*fwd.a, *fwd.z, *fwd.h, *fwd.xhat, *fwd.inv_std, *grads.dW, *grads.db]
    arrays += [*grads.dh, *grads.dgamma[:-1], *grads.dbeta[:-1], *state.running_var]
    assert all(a.dtype == np.float32 for a in arrays)
    assert grads.dgamma[-1] is None and grads.dbeta[-1] is None


def test_forward_h_is_z_without_normalization() -> None:
    X, y = _data()
    params = _net("none")
    _, grads, fwd = loss_and_grads(params, X, y, ACTIVATIONS["tanh"], input_grad=True)
    assert fwd.pre_norm is None and fwd.h is fwd.z
    assert grads.dpre_norm is None and grads.dh is grads.delta
    assert grads.dgamma is None and grads.dbeta is None
    np.testing.assert_allclose(grads.dX, grads.delta[0] @ params[0].W.T, rtol=1e-15)


def test_optimizer_updates_gamma_and_beta() -> None:
    X, y = _data(8)
    params = _net("batch_norm")
    gammas = [p.gamma.copy() for p in params[:-1]]
    betas = [p.beta.copy() for p in params[:-1]]
    _, grads, _ = loss_and_grads(params, X, y, ACTIVATIONS["tanh"], norm="batch_norm")
    make_optimizer("sgd", params, lr=0.1).step(params, grads)
    for i, layer in enumerate(params[:-1]):
        np.testing.assert_allclose(layer.gamma, gammas[i] - 0.1 * grads.dgamma[i], rtol=1e-15)
        np.testing.assert_allclose(layer.beta, betas[i] - 0.1 * grads.dbeta[i], rtol=1e-15)


def test_norm_option_errors() -> None:
    X, _ = _data()
    act = ACTIVATIONS["tanh"]
    plain, normed = _net("none"), _net("batch_norm")
    with pytest.raises(ValueError, match="unknown norm"):
        forward(normed, X, act, norm="group_norm")
    with pytest.raises(ValueError, match="gamma and beta"):
        forward(plain, X, act, norm="batch_norm")
    with pytest.raises(ValueError, match="gamma and beta"):
        forward(normed, X, act)  # parameters of a normalized net, norm forgotten
    with pytest.raises(ValueError, match="norm_state"):
        forward(normed, X, act, norm="batch_norm", train=False)
    with pytest.raises(ValueError, match="norm_state"):
        predict_logits(normed, X, act, norm="batch_norm")
    with pytest.raises(ValueError, match="2 samples"):
        forward(normed, X[:1], act, norm="batch_norm")
    with pytest.raises(ValueError, match="unknown norm"):
        init_mlp(np.random.default_rng(0), SIZES, initializers.get("he_normal"), norm="bn")
    # one sample is fine in evaluation mode and for layer norm
    forward(normed, X[:1], act, norm="batch_norm", train=False, norm_state=init_norm_state(normed))
    forward(_net("layer_norm"), X[:1], act, norm="layer_norm")
