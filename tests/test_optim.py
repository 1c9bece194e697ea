"""Tests of initlab.optim against independent float64 computations of three steps.

(PyTorch's optimizers as oracles: tests/test_torch_oracle.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

from initlab.model import Gradients, Layer
from initlab.optim import DEFAULT_WEIGHT_DECAY, OPTIMIZERS, make_optimizer

LR = 0.1
MU = 0.9

# Three steps of fixed gradients for a tiny parameter set: W (2, 2) and b (2,). The second
# column of W gets gradients of order 1e-8, where Adam's eps matters.
W0 = np.array([[0.5, -1.0], [2.0, 0.25]])
B0 = np.array([0.1, -0.3])
GRADS_W = [
    np.array([[1.0, 2e-8], [-0.5, -1e-8]]),
    np.array([[0.5, -3e-8], [0.25, 1e-8]]),
    np.array([[-2.0, 1e-8], [1.0, 4e-8]]),
]
GRADS_B = [np.array([0.3, -0.1]), np.array([0.0, 0.2]), np.array([-0.4, 0.05])]


def _params(dtype: type = np.float64) -> list[Layer]:
    return [Layer(W0.astype(dtype), B0.astype(dtype))]


def _run(name: str, steps: int = 3, **kwargs: object) -> list[list[np.ndarray]]:
    """Parameters (W, b) after each of ``steps`` steps."""
    params = _params()
    opt = make_optimizer(name, params, lr=LR, **kwargs)  # type: ignore[arg-type]
    out = []
    for t in range(steps):
        opt.step(params, Gradients([GRADS_W[t]], [GRADS_B[t]], []))
        out.append([params[0].W.copy(), params[0].b.copy()])
    return out


def _reference(update, update_b=None) -> list[list[np.ndarray]]:
    """Apply ``update(theta, g, state, t)`` to W and b separately, independently of initlab
    (``update_b`` for b when the rules differ, as with weight decay on W only)."""
    thetas = [W0.copy(), B0.copy()]
    states: list[dict[str, np.ndarray]] = [{}, {}]
    rules = (update, update_b or update)
    out = []
    for t in range(3):
        for k, g in enumerate((GRADS_W[t], GRADS_B[t])):
            thetas[k] = rules[k](thetas[k], g, states[k], t + 1)
        out.append([thetas[0].copy(), thetas[1].copy()])
    return out


def _assert_steps_equal(got, expected, rtol: float = 1e-13) -> None:
    for step, (g, e) in enumerate(zip(got, expected, strict=True)):
        for a, b in zip(g, e, strict=True):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-15, err_msg=f"step {step + 1}")


def test_sgd_three_steps() -> None:
    got = _run("sgd")
    # theta_3 = theta_0 - lr (g1 + g2 + g3)
    np.testing.assert_allclose(got[2][0], W0 - LR * sum(GRADS_W), rtol=0, atol=1e-15)
    np.testing.assert_allclose(got[2][1], B0 - LR * sum(GRADS_B), rtol=0, atol=1e-15)
    # by hand, b[0]: 0.1 - 0.1 * (0.3 + 0 - 0.4) = 0.11
    assert got[2][1][0] == pytest.approx(0.11, abs=1e-15)


def test_classical_momentum_three_steps() -> None:
    got = _run("momentum", momentum=MU)

    def update(theta, g, state, t):
        state["v"] = MU * state.get("v", np.zeros_like(theta)) - LR * g
        return theta + state["v"]

    _assert_steps_equal(got, _reference(update))
    # by hand, b[0]: v1 = -0.03, v2 = -0.027, v3 = -0.0243 + 0.04 = 0.0157
    # b = 0.1 - 0.03 - 0.027 + 0.0157 = 0.0587
    assert got[2][1][0] == pytest.approx(0.0587, abs=1e-15)


def test_nesterov_momentum_three_steps() -> None:
    got = _run("momentum", momentum=MU, nesterov=True)

    def update(theta, g, state, t):
        v = MU * state.get("v", np.zeros_like(theta)) - LR * g
        state["v"] = v
        return theta + MU * v - LR * g

    _assert_steps_equal(got, _reference(update))


def test_nesterov_equals_lookahead_form_on_a_quadratic() -> None:
    """Sutskever et al. (2013): v <- mu v - lr grad(theta + mu v); theta <- theta + v.

    initlab keeps phi = theta + mu v, so its parameters must equal theta + mu v of the
    look-ahead form when both follow the gradient of f(x) = sum(c x^2) / 2.
    """
    c = np.array([[1.0, 3.0], [0.5, 2.0]])
    params = [Layer(W0.copy(), np.zeros(2))]
    opt = make_optimizer("momentum", params, lr=LR, momentum=MU, nesterov=True)
    theta, v = W0.copy(), np.zeros_like(W0)
    for _ in range(5):
        opt.step(params, Gradients([c * params[0].W], [np.zeros(2)], []))
        v = MU * v - LR * c * (theta + MU * v)
        theta = theta + v
        np.testing.assert_allclose(params[0].W, theta + MU * v, rtol=1e-13, atol=1e-15)


def test_adam_three_steps_kingma_ba() -> None:
    got = _run("adam")
    b1, b2, eps = 0.9, 0.999, 1e-8

    def update(theta, g, state, t):  # Kingma & Ba (2015), Algorithm 1
        m = b1 * state.get("m", np.zeros_like(theta)) + (1 - b1) * g
        v = b2 * state.get("v", np.zeros_like(theta)) + (1 - b2) * g * g
        state["m"], state["v"] = m, v
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        return theta - LR * m_hat / (np.sqrt(v_hat) + eps)

    _assert_steps_equal(got, _reference(update), rtol=1e-12)
    # Step 1 by hand: m_hat = g, v_hat = g^2, so theta moves by lr * g / (|g| + eps):
    # lr for |g| >> eps, and lr * 2e-8 / 3e-8 = lr * 2/3 where |g| = 2 eps.
    step1 = W0 - got[0][0]
    assert step1[0, 0] == pytest.approx(LR * 1.0 / (1.0 + 1e-8), rel=1e-12)
    assert step1[0, 1] == pytest.approx(LR * 2 / 3, rel=1e-7)


def test_float32_parameters_stay_float32() -> None:
    for name in OPTIMIZERS:
        params = _params(np.float32)
        opt = make_optimizer(name, params, lr=LR)  # type: ignore[arg-type]
        for t in range(3):
            g = Gradients([GRADS_W[t].astype(np.float32)], [GRADS_B[t].astype(np.float32)], [])
            opt.step(params, g)
        assert params[0].W.dtype == np.float32 and params[0].b.dtype == np.float32
        ref = _run(name)[2]
        np.testing.assert_allclose(params[0].W, ref[0], rtol=1e-5, atol=1e-6)


def test_updates_are_in_place() -> None:
    params = _params()
    W, b = params[0].W, params[0].b
    make_optimizer("adam", params, lr=LR).step(params, Gradients([GRADS_W[0]], [GRADS_B[0]], []))
    assert params[0].W is W and params[0].b is b
    assert not np.array_equal(W, W0)


def test_unknown_optimizer() -> None:
    with pytest.raises(ValueError, match="adagrad") as err:
        make_optimizer("adagrad", _params(), lr=LR)  # type: ignore[arg-type]
    for name in OPTIMIZERS:
        assert name in str(err.value)
    assert OPTIMIZERS == ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")


# --- nesterov, rmsprop, adamw -------------------------------------------------------------------

B1, B2, EPS = 0.9, 0.999, 1e-8
WD = 0.1


def _sgd(theta, g, state, t):
    return theta - LR * g


def _momentum(theta, g, state, t):
    state["v"] = MU * state.get("v", np.zeros_like(theta)) - LR * g
    return theta + state["v"]


def _nesterov(theta, g, state, t):
    v = MU * state.get("v", np.zeros_like(theta)) - LR * g
    state["v"] = v
    return theta + MU * v - LR * g


def _rmsprop(theta, g, state, t):  # PyTorch RMSprop: alpha 0.99, eps 1e-8 outside the sqrt
    s = 0.99 * state.get("s", np.zeros_like(theta)) + 0.01 * g * g
    state["s"] = s
    return theta - LR * g / (np.sqrt(s) + EPS)


def _adam(theta, g, state, t):  # Kingma & Ba (2015), Algorithm 1
    m = B1 * state.get("m", np.zeros_like(theta)) + (1 - B1) * g
    v = B2 * state.get("v", np.zeros_like(theta)) + (1 - B2) * g * g
    state["m"], state["v"] = m, v
    return theta - LR * (m / (1 - B1**t)) / (np.sqrt(v / (1 - B2**t)) + EPS)


REFERENCE = {
    "sgd": _sgd,
    "momentum": _momentum,
    "nesterov": _nesterov,
    "rmsprop": _rmsprop,
    "adam": _adam,
}


def test_nesterov_name_is_momentum_with_nesterov() -> None:
    by_name, by_flag = _run("nesterov", momentum=MU), _run("momentum", momentum=MU, nesterov=True)
    for a, b in zip(by_name, by_flag, strict=True):
        assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=True))
    _assert_steps_equal(by_name, _reference(_nesterov))


def test_rmsprop_three_steps() -> None:
    got = _run("rmsprop")
    _assert_steps_equal(got, _reference(_rmsprop), rtol=1e-12)
    # Step 1 by hand, b[0] (g = 0.3): s = 0.01 * 0.09 = 9e-4, sqrt(s) = 0.03,
    # b = 0.1 - 0.1 * 0.3 / (0.03 + 1e-8) = 0.1 - 1 / (1 + 1e-8 / 0.03)
    assert got[0][1][0] == pytest.approx(0.1 - 1 / (1 + 1e-8 / 0.03), abs=1e-15)


def test_adamw_three_steps_default_decay() -> None:
    """Loshchilov & Hutter (2019) in PyTorch's order: W <- W (1 - lr lambda), then the Adam
    step with the plain gradient; lambda defaults to 0.01; the bias is not decayed."""
    got = _run("adamw")

    def update_w(theta, g, state, t):
        return _adam(theta * (1 - LR * 0.01), g, state, t)

    _assert_steps_equal(got, _reference(update_w, _adam), rtol=1e-12)
    # Step 1 by hand, W[0, 0] = 0.5, g = 1: 0.5 (1 - 0.001) - 0.1 / (1 + 1e-8)
    assert got[0][0][0, 0] == pytest.approx(0.4995 - 0.1 / (1 + 1e-8), abs=1e-15)


def test_adamw_without_decay_is_adam() -> None:
    a, b = _run("adamw", weight_decay=0.0), _run("adam")
    for x, y in zip(a, b, strict=True):
        assert all(u.tobytes() == v.tobytes() for u, v in zip(x, y, strict=True))


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_coupled_weight_decay_on_weights_only(name: str) -> None:
    """L2 (lambda / 2) ||W||^2: the weight gradient becomes g + lambda W; b is untouched."""
    got = _run(name, momentum=MU, weight_decay=WD)
    rule = REFERENCE[name]

    def update_w(theta, g, state, t):
        return rule(theta, g + WD * theta, state, t)

    _assert_steps_equal(got, _reference(update_w, rule), rtol=1e-12)
    assert not np.allclose(got[2][0], _run(name, momentum=MU)[2][0], rtol=1e-6)


def test_sgd_weight_decay_by_hand() -> None:
    got = _run("sgd", steps=1, weight_decay=WD)
    # W[0, 0] = 0.5 - 0.1 (1.0 + 0.1 * 0.5) = 0.395; b[0] = 0.1 - 0.1 * 0.3 = 0.07
    assert got[0][0][0, 0] == pytest.approx(0.395, abs=1e-15)
    assert got[0][1][0] == pytest.approx(0.07, abs=1e-15)


def test_weight_decay_defaults_and_validation() -> None:
    assert DEFAULT_WEIGHT_DECAY == {"adamw": 0.01}
    for name in OPTIMIZERS:
        opt = make_optimizer(name, _params(), lr=LR)  # type: ignore[arg-type]
        assert opt.weight_decay == (0.01 if name == "adamw" else 0.0)
    assert make_optimizer("adamw", _params(), lr=LR, weight_decay=0.0).weight_decay == 0.0
    assert make_optimizer("sgd", _params(), lr=LR, weight_decay=0.5).weight_decay == 0.5
    with pytest.raises(ValueError, match="weight_decay"):
        make_optimizer("sgd", _params(), lr=LR, weight_decay=-1.0)


# --- normalization parameters -------------------------------------------------------------------

G0, BETA0 = np.array([1.0, 0.7]), np.array([0.0, -0.2])


def _norm_grads(t: int) -> Gradients:
    return Gradients(
        [GRADS_W[t]], [GRADS_B[t]], [], dgamma=[GRADS_B[t] * 2], dbeta=[GRADS_B[2 - t]]
    )


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_gamma_beta_follow_the_rule_and_are_not_decayed(name: str) -> None:
    """gamma and beta take the optimizer's own rule (the same as a bias) whatever the decay."""
    params = [Layer(W0.copy(), B0.copy(), G0.copy(), BETA0.copy())]
    opt = make_optimizer(name, params, lr=LR, weight_decay=WD)  # type: ignore[arg-type]
    # the same rule on plain arrays: gamma as a "weight" of a layer without decay
    twin = [Layer(G0.copy(), BETA0.copy())]
    twin_opt = make_optimizer(name, twin, lr=LR, weight_decay=0.0)  # type: ignore[arg-type]
    for t in range(3):
        g = _norm_grads(t)
        opt.step(params, g)
        twin_opt.step(twin, Gradients(g.dgamma, g.dbeta, []))  # type: ignore[arg-type]
        assert params[0].gamma.tobytes() == twin[0].W.tobytes()  # type: ignore[union-attr]
        assert params[0].beta.tobytes() == twin[0].b.tobytes()  # type: ignore[union-attr]
    assert not np.array_equal(params[0].gamma, G0)


def test_normalized_layer_needs_norm_gradients() -> None:
    params = [Layer(W0.copy(), B0.copy(), G0.copy(), BETA0.copy())]
    with pytest.raises(ValueError, match="dgamma"):
        make_optimizer("sgd", params, lr=LR).step(params, Gradients([GRADS_W[0]], [GRADS_B[0]], []))
