"""Central finite differences in float64, the oracle of the model's backward passes.

Step 1e-6: truncation error ~ eps^2 |f'''| ~ 1e-12 and rounding error ~ |L| 2^-52 / eps ~ 2e-10,
against gradients of order 1e-2..1, so a relative error below 1e-6 of the largest entry leaves a
wide margin (measured: ~1e-8). The absolute floor covers gradients that are exactly zero (the
bias of a batch-normalized layer), where the numerical value is rounding noise of ~1e-10.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from initlab import initializers
from initlab.model import Gradients, Layer, init_mlp

FD_EPS = 1e-6
FD_RTOL = 1e-6
FD_ATOL = 1e-9


def numeric_gradient(f: Callable[[], float], theta: np.ndarray) -> np.ndarray:
    """Central differences of ``f`` over every entry of ``theta`` (perturbed in place)."""
    g = np.zeros_like(theta)
    for idx in np.ndindex(theta.shape):
        orig = theta[idx]
        theta[idx] = orig + FD_EPS
        up = f()
        theta[idx] = orig - FD_EPS
        down = f()
        theta[idx] = orig
        g[idx] = (up - down) / (2 * FD_EPS)
    return g


def assert_gradient_close(analytic: np.ndarray, numeric: np.ndarray, what: str) -> None:
    """``analytic`` within ``FD_RTOL`` of the largest numerical entry (plus ``FD_ATOL``)."""
    assert analytic.shape == numeric.shape, what
    err = np.max(np.abs(analytic - numeric))
    assert err <= FD_RTOL * np.max(np.abs(numeric)) + FD_ATOL, f"{what}: max error {err:.3g}"


def assert_network_gradients(
    params: Sequence[Layer], grads: Gradients, X: np.ndarray, f: Callable[[], float]
) -> None:
    """Every W, b, gamma, beta and the input: ``grads`` against central differences of ``f``."""
    for i, layer in enumerate(params):
        assert_gradient_close(grads.dW[i], numeric_gradient(f, layer.W), f"dW{i + 1}")
        assert_gradient_close(grads.db[i], numeric_gradient(f, layer.b), f"db{i + 1}")
        if layer.gamma is not None and layer.beta is not None:
            assert grads.dgamma is not None and grads.dbeta is not None
            dgamma, dbeta = numeric_gradient(f, layer.gamma), numeric_gradient(f, layer.beta)
            assert_gradient_close(grads.dgamma[i], dgamma, f"dgamma{i + 1}")
            assert_gradient_close(grads.dbeta[i], dbeta, f"dbeta{i + 1}")
    assert grads.dX is not None
    assert_gradient_close(grads.dX, numeric_gradient(f, X), "dX")


def perturbed_net(initializer: str, sizes: Sequence[int], norm: str, seed: int) -> list[Layer]:
    """A float64 net with biases and, when normalized, gamma and beta moved away from 1 and 0
    (so that their gradients are generic)."""
    params = init_mlp(
        np.random.default_rng(seed),
        sizes,
        initializers.get(initializer),
        dtype=np.float64,
        bias_std=0.1,
        norm=norm,
    )
    rng = np.random.default_rng(seed + 100)
    for layer in params[:-1]:
        if layer.gamma is not None and layer.beta is not None:
            layer.gamma += 0.3 * rng.standard_normal(layer.gamma.shape)
            layer.beta += 0.3 * rng.standard_normal(layer.beta.shape)
    return params
