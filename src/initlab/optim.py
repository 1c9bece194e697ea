"""Optimizers that update :class:`~initlab.model.Layer` parameters in place.

- ``sgd``: ``theta <- theta - lr g``.
- ``momentum``: classical momentum ``v <- mu v - lr g; theta <- theta + v`` (Polyak 1964), or
  Nesterov's form ``theta <- theta + mu v - lr g`` with the updated ``v`` (Sutskever et al. 2013).
- ``adam``: Kingma & Ba (2015), Algorithm 1, with beta1 = 0.9, beta2 = 0.999, eps = 1e-8.

State buffers are allocated once, in the parameters' dtype; steps reuse them (``out=``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from initlab.model import Gradients, Layer

__all__ = ["OPTIMIZERS", "Optimizer", "make_optimizer"]

OPTIMIZERS = ("sgd", "momentum", "adam")

Array = npt.NDArray[np.floating[Any]]


class Optimizer:
    """Base class: ``step(params, grads)`` updates every ``W`` and ``b`` in place."""

    def __init__(self, params: Sequence[Layer], lr: float) -> None:
        self.lr = lr
        self._tmp = [(np.empty_like(p.W), np.empty_like(p.b)) for p in params]

    def step(self, params: Sequence[Layer], grads: Gradients) -> None:
        """Apply one update."""
        for i, layer in enumerate(params):
            self._update(i, 0, layer.W, grads.dW[i])
            self._update(i, 1, layer.b, grads.db[i])

    def _update(self, i: int, k: int, theta: Array, g: Array) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    def _update(self, i: int, k: int, theta: Array, g: Array) -> None:
        tmp = self._tmp[i][k]
        np.multiply(g, theta.dtype.type(self.lr), out=tmp)
        theta -= tmp


class Momentum(Optimizer):
    def __init__(
        self, params: Sequence[Layer], lr: float, mu: float, nesterov: bool = False
    ) -> None:
        super().__init__(params, lr)
        self.mu = mu
        self.nesterov = nesterov
        self._v = [(np.zeros_like(p.W), np.zeros_like(p.b)) for p in params]

    def _update(self, i: int, k: int, theta: Array, g: Array) -> None:
        v, tmp = self._v[i][k], self._tmp[i][k]
        t = theta.dtype.type
        np.multiply(g, t(self.lr), out=tmp)  # tmp = lr g
        v *= t(self.mu)
        v -= tmp  # v = mu v - lr g
        if self.nesterov:
            theta -= tmp
            np.multiply(v, t(self.mu), out=tmp)
            theta += tmp  # theta += mu v - lr g
        else:
            theta += v


class Adam(Optimizer):
    beta1 = 0.9
    beta2 = 0.999
    eps = 1e-8

    def __init__(self, params: Sequence[Layer], lr: float) -> None:
        super().__init__(params, lr)
        self._m = [(np.zeros_like(p.W), np.zeros_like(p.b)) for p in params]
        self._s = [(np.zeros_like(p.W), np.zeros_like(p.b)) for p in params]
        self.t = 0

    def step(self, params: Sequence[Layer], grads: Gradients) -> None:
        self.t += 1
        super().step(params, grads)

    def _update(self, i: int, k: int, theta: Array, g: Array) -> None:
        m, s, tmp = self._m[i][k], self._s[i][k], self._tmp[i][k]
        t = theta.dtype.type
        b1, b2 = self.beta1, self.beta2
        m *= t(b1)
        m += t(1 - b1) * g
        s *= t(b2)
        np.multiply(g, g, out=tmp)
        tmp *= t(1 - b2)
        s += tmp
        # theta -= lr_t m / (sqrt(s) + eps_t): the bias corrections folded into lr_t and eps_t.
        c1 = 1 - b1**self.t
        c2 = 1 - b2**self.t
        lr_t = self.lr * np.sqrt(c2) / c1
        np.sqrt(s, out=tmp)
        tmp += t(self.eps * np.sqrt(c2))
        np.divide(m, tmp, out=tmp)
        tmp *= t(lr_t)
        theta -= tmp


def make_optimizer(
    name: Literal["sgd", "momentum", "adam"],
    params: Sequence[Layer],
    *,
    lr: float,
    momentum: float = 0.9,
    nesterov: bool = False,
) -> Optimizer:
    """Build the optimizer ``name`` for ``params``.

    Raises
    ------
    ValueError
        Unknown name (allowed: ``sgd``, ``momentum``, ``adam``).
    """
    builders = {
        "sgd": lambda: SGD(params, lr),
        "momentum": lambda: Momentum(params, lr, momentum, nesterov),
        "adam": lambda: Adam(params, lr),
    }
    if name not in builders:
        raise ValueError(f"unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}")
    return builders[name]()
