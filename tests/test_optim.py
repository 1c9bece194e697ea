"""Tests of initlab.optim against independent float64 computations of three steps."""

from __future__ import annotations

import numpy as np
import pytest

from initlab.model import Gradients, Layer
from initlab.optim import OPTIMIZERS, make_optimizer

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


def _reference(update) -> list[list[np.ndarray]]:
    """Apply ``update(theta, g, state, t)`` to W and b separately, independently of initlab."""
    thetas = [W0.copy(), B0.copy()]
    states: list[dict[str, np.ndarray]] = [{}, {}]
    out = []
    for t in range(3):
        for k, g in enumerate((GRADS_W[t], GRADS_B[t])):
            thetas[k] = update(thetas[k], g, states[k], t + 1)
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
    with pytest.raises(ValueError, match="rmsprop") as err:
        make_optimizer("rmsprop", _params(), lr=LR)  # type: ignore[arg-type]
    for name in ("sgd", "momentum", "adam"):
        assert name in str(err.value)
    assert OPTIMIZERS == ("sgd", "momentum", "adam")
