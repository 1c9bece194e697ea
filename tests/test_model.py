"""Tests of initlab.model: whole-network gradient check, a hand-worked example, the losses, init,
and bit-identity of the paths without normalization or dropout.

(Normalization: tests/test_norm.py; dropout: tests/test_regularization.py.)
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from initlab import initializers
from initlab.activations import ACTIVATIONS, Activation
from initlab.model import (
    LOSSES,
    Forward,
    Gradients,
    Layer,
    backward,
    cross_entropy,
    forward,
    init_mlp,
    loss_and_grads,
    loss_fn,
    mse,
    predict_logits,
)
from initlab.optim import make_optimizer

# --- whole-network gradient check (scikit-learn's test_gradient protocol) -----------------------

N_CLASSES = 3
HIDDEN = 10
EPS = 1e-5
KINK_MARGIN = 1e-3


def _gradcheck_data() -> tuple[np.ndarray, np.ndarray]:
    X = np.random.RandomState(42).rand(5, 10)  # sklearn's inputs, float64, left unstandardized
    y = np.array([0, 1, 2, 1, 0])
    return X, y


def _kink_distance(fwd: Forward, act: Activation) -> float:
    """Smallest distance of any hidden pre-activation to a kink of ``act`` (inf if smooth)."""
    if not act.kinks:
        return math.inf
    z = np.concatenate([zl.ravel() for zl in fwd.z[:-1]])
    return float(min(np.min(np.abs(z - k)) for k in act.kinks))


def _params_away_from_kinks(
    act: Activation, depth: int, X: np.ndarray
) -> tuple[list[Layer], float]:
    init = initializers.get("glorot_normal")
    sizes = [X.shape[1], *([HIDDEN] * depth), N_CLASSES]
    for seed in range(200):
        params = init_mlp(np.random.default_rng(seed), sizes, init, dtype=np.float64, bias_std=0.1)
        dist = _kink_distance(forward(params, X, act), act)
        if dist > KINK_MARGIN:
            return params, dist
    raise AssertionError(f"no seed keeps {act.name} pre-activations away from its kinks")


def _loss(
    params: list[Layer], X: np.ndarray, y: np.ndarray, act: Activation, loss: str = "cross_entropy"
) -> float:
    return loss_fn(loss)(forward(params, X, act).logits, y)[0]


def _numerical_grads(
    params: list[Layer], X: np.ndarray, y: np.ndarray, act: Activation, loss: str = "cross_entropy"
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Central differences, step EPS, over every weight and bias."""
    out: dict[str, list[np.ndarray]] = {"W": [], "b": []}
    for layer in params:
        for key in ("W", "b"):
            theta = getattr(layer, key)
            g = np.zeros_like(theta)
            for idx in np.ndindex(theta.shape):
                orig = theta[idx]
                theta[idx] = orig + EPS
                up = _loss(params, X, y, act, loss)
                theta[idx] = orig - EPS
                down = _loss(params, X, y, act, loss)
                theta[idx] = orig
                g[idx] = (up - down) / (2 * EPS)
            out[key].append(g)
    return out["W"], out["b"]


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_backward_matches_central_differences(name: str, depth: int) -> None:
    act = ACTIVATIONS[name]
    X, y = _gradcheck_data()
    params, dist = _params_away_from_kinks(act, depth, X)
    # The check is only meaningful away from the kinks: keep it honest.
    assert dist > KINK_MARGIN
    assert all(np.any(p.b != 0) for p in params)  # nonzero biases take part in the check

    _, grads, _ = loss_and_grads(params, X, y, act)
    num_W, num_b = _numerical_grads(params, X, y, act)

    assert len(grads.dW) == len(grads.db) == depth + 1
    for analytic, numeric in [
        *zip(grads.dW, num_W, strict=True),
        *zip(grads.db, num_b, strict=True),
    ]:
        assert analytic.dtype == np.float64
        assert analytic.shape == numeric.shape
        assert np.max(np.abs(analytic - numeric)) < 1e-7
        np.testing.assert_allclose(analytic, numeric, atol=1e-5, rtol=1e-3)
    # Not vacuous: the gradient of the first layer is really there.
    assert np.max(np.abs(grads.dW[0])) > 1e-4


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_mse_backward_matches_central_differences(name: str) -> None:
    """The quadratic cost through the softmax Jacobian, same protocol and tolerances."""
    act = ACTIVATIONS[name]
    X, y = _gradcheck_data()
    params, dist = _params_away_from_kinks(act, 2, X)
    assert dist > KINK_MARGIN
    _, grads, _ = loss_and_grads(params, X, y, act, loss="mse")
    num_W, num_b = _numerical_grads(params, X, y, act, loss="mse")
    for analytic, numeric in [
        *zip(grads.dW, num_W, strict=True),
        *zip(grads.db, num_b, strict=True),
    ]:
        assert np.max(np.abs(analytic - numeric)) < 1e-7
        np.testing.assert_allclose(analytic, numeric, atol=1e-5, rtol=1e-3)
    assert np.max(np.abs(grads.dW[0])) > 1e-5


def test_gradients_keep_float32() -> None:
    X, y = _gradcheck_data()
    params = init_mlp(
        np.random.default_rng(0), [10, 8, 3], initializers.get("he_normal"), dtype=np.float32
    )
    loss, grads, fwd = loss_and_grads(params, X.astype(np.float32), y, ACTIVATIONS["tanh"])
    assert np.isfinite(loss)
    for arr in (*fwd.a, *fwd.z, *grads.dW, *grads.db, *grads.delta):
        assert arr.dtype == np.float32


# --- a hand-worked example ----------------------------------------------------------------------
#
# 2 inputs -> 2 ReLU units -> 2 classes, one sample x = (1, 2) of class y = 0.
#
#   W1 = [[1,   1],     b1 = [0, 0.5]
#         [0.5, -1]]
#   z1 = x @ W1 + b1 = [1*1 + 2*0.5 + 0,  1*1 + 2*(-1) + 0.5] = [2, -0.5]
#   a1 = relu(z1)    = [2, 0]                      (relu'(z1) = [1, 0])
#
#   W2 = [[1, 0],       b2 = [0, 2]
#         [3, -1]]
#   z2 = a1 @ W2 + b2 = [2*1 + 0*3 + 0,  2*0 + 0*(-1) + 2] = [2, 2]
#   p = softmax(z2) = [1/2, 1/2];  loss = -ln(1/2) = ln 2
#
#   delta2 = (p - onehot(0)) / B = [-1/2, 1/2]                          (B = 1)
#   dW2 = a1.T @ delta2 = [[2*(-1/2), 2*(1/2)], [0, 0]] = [[-1, 1], [0, 0]]
#   db2 = [-1/2, 1/2]
#   delta2 @ W2.T = [-1/2*1 + 1/2*0,  -1/2*3 + 1/2*(-1)] = [-1/2, -2]
#   delta1 = [-1/2, -2] * relu'(z1) = [-1/2, 0]
#   dW1 = x.T @ delta1 = [[1*(-1/2), 0], [2*(-1/2), 0]] = [[-0.5, 0], [-1, 0]]
#   db1 = [-0.5, 0]
#
# One SGD step with lr = 0.1 (theta <- theta - 0.1 * grad):
#   W1 = [[1.05, 1], [0.6, -1]],  b1 = [0.05, 0.5]
#   W2 = [[1.1, -0.1], [3, -1]],  b2 = [0.05, 1.95]
# and then z1 = [1*1.05 + 2*0.6 + 0.05, 1 - 2 + 0.5] = [2.3, -0.5], a1 = [2.3, 0],
#   z2 = [2.3*1.1 + 0.05, 2.3*(-0.1) + 1.95] = [2.58, 1.72],
#   loss = ln(1 + e^(1.72 - 2.58)) = ln(1 + e^-0.86) < ln 2.


def _hand_net() -> tuple[list[Layer], np.ndarray, np.ndarray]:
    params = [
        Layer(np.array([[1.0, 1.0], [0.5, -1.0]]), np.array([0.0, 0.5])),
        Layer(np.array([[1.0, 0.0], [3.0, -1.0]]), np.array([0.0, 2.0])),
    ]
    return params, np.array([[1.0, 2.0]]), np.array([0])


def test_hand_worked_forward_and_backward() -> None:
    params, x, y = _hand_net()
    loss, grads, fwd = loss_and_grads(params, x, y, ACTIVATIONS["relu"])

    np.testing.assert_array_equal(fwd.a[0], x)
    np.testing.assert_array_equal(fwd.z[0], [[2.0, -0.5]])
    np.testing.assert_array_equal(fwd.a[1], [[2.0, 0.0]])
    np.testing.assert_array_equal(fwd.logits, [[2.0, 2.0]])
    assert len(fwd.a) == 2 and len(fwd.z) == 2
    assert loss == pytest.approx(math.log(2.0), abs=1e-15)

    np.testing.assert_allclose(grads.delta[1], [[-0.5, 0.5]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(grads.delta[0], [[-0.5, 0.0]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(grads.dW[1], [[-1.0, 1.0], [0.0, 0.0]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(grads.db[1], [-0.5, 0.5], rtol=0, atol=1e-15)
    np.testing.assert_allclose(grads.dW[0], [[-0.5, 0.0], [-1.0, 0.0]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(grads.db[0], [-0.5, 0.0], rtol=0, atol=1e-15)


def test_hand_worked_batch_mean() -> None:
    """The loss is a mean over the batch: the same sample twice gives the same loss and grads."""
    params, x, y = _hand_net()
    loss1, g1, _ = loss_and_grads(params, x, y, ACTIVATIONS["relu"])
    loss2, g2, _ = loss_and_grads(
        params, np.repeat(x, 2, axis=0), np.repeat(y, 2), ACTIVATIONS["relu"]
    )
    assert loss2 == pytest.approx(loss1, abs=1e-15)
    for a, b in [*zip(g1.dW, g2.dW, strict=True), *zip(g1.db, g2.db, strict=True)]:
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)
    np.testing.assert_allclose(g2.delta[1], [[-0.25, 0.25], [-0.25, 0.25]], rtol=0, atol=1e-15)


def test_hand_worked_sgd_step() -> None:
    params, x, y = _hand_net()
    act = ACTIVATIONS["relu"]
    _, grads, _ = loss_and_grads(params, x, y, act)
    make_optimizer("sgd", params, lr=0.1).step(params, grads)

    np.testing.assert_allclose(params[0].W, [[1.05, 1.0], [0.6, -1.0]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(params[0].b, [0.05, 0.5], rtol=0, atol=1e-12)
    np.testing.assert_allclose(params[1].W, [[1.1, -0.1], [3.0, -1.0]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(params[1].b, [0.05, 1.95], rtol=0, atol=1e-12)

    loss, _, fwd = loss_and_grads(params, x, y, act)
    np.testing.assert_allclose(fwd.z[0], [[2.3, -0.5]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(fwd.logits, [[2.58, 1.72]], rtol=0, atol=1e-12)
    assert loss == pytest.approx(math.log1p(math.exp(-0.86)), abs=1e-12)
    assert loss < math.log(2.0)


def test_backward_accepts_external_dlogits() -> None:
    """``backward`` with dL/dlogits = [[1, 0]] on the hand net (only z2[0] matters)."""
    params, x, _ = _hand_net()
    act = ACTIVATIONS["relu"]
    fwd = forward(params, x, act)
    grads = backward(params, fwd, np.array([[1.0, 0.0]]), act)
    assert isinstance(grads, Gradients)
    # delta1 = [1, 0] @ W2.T * relu'(z1) = [1, 3] * [1, 0] = [1, 0]
    np.testing.assert_array_equal(grads.delta[0], [[1.0, 0.0]])
    np.testing.assert_array_equal(grads.dW[0], [[1.0, 0.0], [2.0, 0.0]])
    np.testing.assert_array_equal(grads.dW[1], [[2.0, 0.0], [0.0, 0.0]])


# --- cross-entropy ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_stable_for_huge_logits(dtype: type) -> None:
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]], dtype=dtype)
    loss, d = cross_entropy(logits, np.array([0, 1]))  # warnings are errors here
    assert np.isfinite(loss) and loss == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.isfinite(d))
    assert d.dtype == dtype
    loss, d = cross_entropy(logits, np.array([2, 0]))
    # -log p = logsumexp - logit = 1e4 - (-1e4) = 2e4 for the first, 1e4 - (-1e4) for the second
    assert np.isfinite(loss) and loss == pytest.approx(2e4, rel=1e-6)
    assert np.all(np.isfinite(d))


@pytest.mark.parametrize("k", [2, 3, 10])
def test_cross_entropy_uniform_logits(k: int) -> None:
    logits = np.full((4, k), 3.7)
    y = np.arange(4) % k
    loss, d = cross_entropy(logits, y)
    assert loss == pytest.approx(math.log(k), rel=1e-14)
    expected = np.full((4, k), 1.0 / k)
    expected[np.arange(4), y] -= 1.0
    np.testing.assert_allclose(d, expected / 4, rtol=0, atol=1e-15)
    np.testing.assert_allclose(d.sum(axis=1), 0.0, atol=1e-15)


# --- init_mlp -----------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_init_mlp_shapes_and_dtype(dtype: type) -> None:
    sizes = [7, 5, 4, 3]
    params = init_mlp(np.random.default_rng(1), sizes, initializers.get("he_normal"), dtype=dtype)
    assert len(params) == 3
    for layer, fan_in, fan_out in zip(params, sizes[:-1], sizes[1:], strict=True):
        assert layer.W.shape == (fan_in, fan_out)
        assert layer.b.shape == (fan_out,)
        assert layer.W.dtype == dtype and layer.b.dtype == dtype
        assert np.all(layer.b == 0)
        assert np.any(layer.W != 0)


def test_init_mlp_default_dtype_is_float32() -> None:
    params = init_mlp(np.random.default_rng(0), [3, 2], initializers.get("glorot_uniform"))
    assert params[0].W.dtype == np.float32 and params[0].b.dtype == np.float32


def test_init_mlp_bias_std() -> None:
    params = init_mlp(
        np.random.default_rng(3),
        [4, 400, 300],
        initializers.get("lecun_normal"),
        dtype=np.float64,
        bias_std=0.5,
    )
    for layer in params:
        assert np.all(layer.b != 0)
        assert layer.b.dtype == np.float64
    b = np.concatenate([p.b for p in params])
    assert abs(b.std() - 0.5) < 0.05 and abs(b.mean()) < 0.1


def test_init_mlp_same_seed_identical_different_seed_not() -> None:
    init = initializers.get("glorot_normal")
    sizes = [6, 5, 5, 2]

    def draw(seed: int) -> list[Layer]:
        return init_mlp(np.random.default_rng(seed), sizes, init, dtype=np.float64, bias_std=0.1)

    a, b, c = draw(7), draw(7), draw(8)
    for la, lb in zip(a, b, strict=True):
        assert la.W.tobytes() == lb.W.tobytes() and la.b.tobytes() == lb.b.tobytes()
    assert not all(
        np.allclose(la.W, lc.W, rtol=1e-15, atol=1e-15) for la, lc in zip(a, c, strict=True)
    )


@pytest.mark.parametrize("sizes", [[5], [], [5, 0, 2], [3, -1]])
def test_init_mlp_rejects_bad_sizes(sizes: list[int]) -> None:
    with pytest.raises(ValueError, match="sizes"):
        init_mlp(np.random.default_rng(0), sizes, initializers.get("he_normal"))


@pytest.mark.parametrize("name", ["hard_sigmoid", "sigmoid", "tanh", "elu", "softsign", "selu"])
def test_backward_in_saturated_regions(name: str) -> None:
    """Inputs scaled by 8 push pre-activations into the tails (past hard_sigmoid's +-3)."""
    act = ACTIVATIONS[name]
    X, y = _gradcheck_data()
    X = 8.0 * X
    params, dist = _params_away_from_kinks(act, 2, X)
    assert dist > KINK_MARGIN
    z = np.concatenate([zl.ravel() for zl in forward(params, X, act).z[:-1]])
    assert np.any(np.abs(z) > 3.0) and np.any(z < 0) and np.any(z > 0)
    _, grads, _ = loss_and_grads(params, X, y, act)
    num_W, num_b = _numerical_grads(params, X, y, act)
    for analytic, numeric in [
        *zip(grads.dW, num_W, strict=True),
        *zip(grads.db, num_b, strict=True),
    ]:
        assert np.max(np.abs(analytic - numeric)) < 1e-7
        np.testing.assert_allclose(analytic, numeric, atol=1e-5, rtol=1e-3)


# --- the quadratic cost -------------------------------------------------------------------------


def test_mse_hand_worked() -> None:
    """logits (0, ln 3): p = (1/4, 3/4); class 0: r = (-3/4, 3/4), L = 9/16 + 9/16 = 9/8.
    g = 2 r / B = (-3/2, 3/2); sum_k g_k p_k = -3/8 + 9/8 = 3/4;
    dL/dlogits = p (g - 3/4) = (1/4 * -9/4, 3/4 * 3/4) = (-9/16, 9/16)."""
    loss, d = mse(np.array([[0.0, math.log(3.0)]]), np.array([0]))
    assert loss == pytest.approx(9 / 8, rel=1e-15)
    np.testing.assert_allclose(d, [[-9 / 16, 9 / 16]], rtol=1e-15, atol=1e-16)


@pytest.mark.parametrize("k", [2, 3, 10])
def test_mse_uniform_logits(k: int) -> None:
    """p = 1/k: L = (1 - 1/k)^2 + (k - 1)/k^2 = (k - 1)/k; sum_k g p = 0, so
    dL/dlogits = p g = 2 r / (B k)."""
    logits = np.full((4, k), -1.3)
    y = np.arange(4) % k
    loss, d = mse(logits, y)
    assert loss == pytest.approx((k - 1) / k, rel=1e-14)
    r = np.full((4, k), 1.0 / k)
    r[np.arange(4), y] -= 1.0
    np.testing.assert_allclose(d, 2 * r / (4 * k), rtol=1e-13, atol=1e-16)


def test_mse_gradient_matches_central_differences_on_logits() -> None:
    """Independent of the closed form: float64 central differences (step 1e-6, truncation
    ~1e-12, rounding ~1e-10), relative 1e-7 of the largest entry."""
    rng = np.random.default_rng(0)
    logits, y = 2.0 * rng.standard_normal((4, 5)), np.array([0, 4, 2, 2])
    _, d = mse(logits, y)
    num = np.zeros_like(logits)
    for idx in np.ndindex(logits.shape):
        up, down = logits.copy(), logits.copy()
        up[idx] += 1e-6
        down[idx] -= 1e-6
        num[idx] = (mse(up, y)[0] - mse(down, y)[0]) / 2e-6
    assert np.max(np.abs(d - num)) < 1e-7 * np.max(np.abs(num))
    np.testing.assert_allclose(d.sum(axis=1), 0.0, atol=1e-16)  # softmax: shift invariance


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mse_stable_for_huge_logits(dtype: type) -> None:
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]], dtype=dtype)
    loss, d = mse(logits, np.array([0, 1]))  # warnings are errors here
    assert loss == pytest.approx(0.0, abs=1e-12) and d.dtype == dtype
    loss, d = mse(logits, np.array([2, 0]))  # confidently wrong: r has -1 and +1
    assert loss == pytest.approx(2.0, rel=1e-6) and np.all(np.isfinite(d))


def test_loss_registry() -> None:
    assert LOSSES == ("cross_entropy", "mse")
    assert loss_fn("cross_entropy") is cross_entropy and loss_fn("mse") is mse
    with pytest.raises(ValueError, match="unknown loss 'hinge'; allowed: cross_entropy, mse"):
        loss_fn("hinge")
    with pytest.raises(ValueError, match="unknown loss"):
        loss_and_grads(*_hand_net(), ACTIVATIONS["relu"], loss="hinge")


# --- the options off: bit-identical to the plain network ----------------------------------------


def _plain_reference(
    params: list[Layer], X: np.ndarray, y: np.ndarray, act: Activation
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """The forward and backward passes as they were before normalization and dropout existed,
    written out operation by operation: (z, a, dW + db)."""
    a, z, dphi = [X], [], []
    for layer in params[:-1]:
        h = a[-1] @ layer.W
        h += layer.b
        z.append(h)
        value, slope = act.value_and_grad(h)
        a.append(value)
        dphi.append(slope)
    out = a[-1] @ params[-1].W
    out += params[-1].b
    z.append(out)
    d = cross_entropy(out, y)[1]
    grads = []
    for i in range(len(params) - 1, -1, -1):
        grads += [a[i].T @ d, d.sum(axis=0)]
        if i > 0:
            d = d @ params[i].W.T
            d *= dphi[i - 1]
    return z, a, grads


@pytest.mark.parametrize("name", ["tanh", "relu", "selu", "gelu"])
def test_options_off_are_bit_identical(name: str) -> None:
    act = ACTIVATIONS[name]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 10)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    params = init_mlp(rng, [10, 16, 16, 3], initializers.get("he_normal"), bias_std=0.1)
    z, a, ref = _plain_reference(params, X, y, act)
    off = {"norm": "none", "train": True, "dropout": 0.0, "dropout_rng": np.random.default_rng(1)}
    _, grads, fwd = loss_and_grads(params, X, y, act, loss="cross_entropy", **off)  # type: ignore[arg-type]
    got = [g for i in range(len(params) - 1, -1, -1) for g in (grads.dW[i], grads.db[i])]
    for x, r in zip([*fwd.z, *fwd.a, *got], [*z, *a, *ref], strict=True):
        assert x.dtype == np.float32 and x.tobytes() == r.tobytes()
    for kwargs in ({}, {"train": False}, off):
        f = forward(params, X, act, **kwargs)  # type: ignore[arg-type]
        assert all(x.tobytes() == r.tobytes() for x, r in zip(f.z, z, strict=True))
        assert f.keep is None and f.xhat is None and f.h is f.z
    assert predict_logits(params, X, act, norm="none").tobytes() == z[-1].tobytes()
