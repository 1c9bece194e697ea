"""Optimizers that update :class:`~initlab.model.Layer` parameters in place.

- ``sgd``: ``theta <- theta - lr g``.
- ``momentum``: classical momentum ``v <- mu v - lr g; theta <- theta + v`` (Polyak 1964), or
  with ``nesterov=True`` Nesterov's form ``theta <- theta + mu v - lr g`` with the updated ``v``
  (Sutskever et al. 2013). For a constant ``lr`` this is PyTorch's ``SGD(momentum=mu)``
  (``buf <- mu buf + g; theta <- theta - lr buf``, and ``theta - lr (g + mu buf)`` with
  ``nesterov=True``) with ``v = -lr buf``.
- ``nesterov``: the Nesterov form under its own name.
- ``rmsprop``: Tieleman & Hinton (2012), PyTorch's ``RMSprop`` defaults: ``s <- alpha s +
  (1 - alpha) g^2; theta <- theta - lr g / (sqrt(s) + eps)`` with ``alpha = 0.99``,
  ``eps = 1e-8`` added outside the square root, no momentum, not centered.
- ``adam``: Kingma & Ba (2015), Algorithm 1, with beta1 = 0.9, beta2 = 0.999, eps = 1e-8.
- ``adamw``: Loshchilov & Hutter (2019): Adam plus the decoupled weight decay
  ``theta <- theta - lr lambda theta``, applied before the Adam step of the same iteration
  (PyTorch's order), default ``lambda = 0.01`` (PyTorch's).

Weight decay (``weight_decay = lambda``) acts on the weight matrices ``W`` only, never on the
biases ``b`` or the normalization parameters ``gamma``, ``beta`` (PyTorch's optimizers decay
every parameter of a group; the study's convention is weights only). For every optimizer but
``adamw`` it is the coupled L2 penalty: the loss gains ``(lambda / 2) ||W||^2``, so the
gradient becomes ``g + lambda W`` before the optimizer's own rule (PyTorch's ``weight_decay``
argument of ``SGD``, ``RMSprop`` and ``Adam``). For ``adamw`` it is the decoupled decay above.

Every optimizer updates ``W``, ``b`` and, for normalized layers, ``gamma`` and ``beta``. State
buffers are allocated once, in the parameters' dtype; steps reuse them (``out=``).

References
----------
- Polyak (1964), USSR Comput. Math. Math. Phys.: momentum.
- Sutskever, Martens, Dahl & Hinton (2013), ICML: Nesterov momentum in deep learning.
- Tieleman & Hinton (2012), COURSERA Neural Networks for Machine Learning, lecture 6.5: RMSprop.
- Kingma & Ba (2015), ICLR: Adam.
- Loshchilov & Hutter (2019), ICLR: decoupled weight decay (AdamW).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from initlab.model import Gradients, Layer

__all__ = ["DEFAULT_WEIGHT_DECAY", "OPTIMIZERS", "Optimizer", "make_optimizer"]

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
DEFAULT_WEIGHT_DECAY = {"adamw": 0.01}  # PyTorch's AdamW default; 0 for the others

Array = npt.NDArray[np.floating[Any]]
OptimizerName = Literal["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"]


def _slots(layer: Layer) -> list[Array]:
    """The arrays an optimizer updates: ``W``, ``b`` and, when normalized, ``gamma``, ``beta``."""
    if layer.gamma is None or layer.beta is None:
        return [layer.W, layer.b]
    return [layer.W, layer.b, layer.gamma, layer.beta]


def _norm_grads(grads: Gradients, i: int) -> tuple[Array, Array]:
    """``(dL/dgamma, dL/dbeta)`` of the normalized layer ``i``."""
    dgamma = grads.dgamma[i] if grads.dgamma is not None else None
    dbeta = grads.dbeta[i] if grads.dbeta is not None else None
    if dgamma is None or dbeta is None:
        raise ValueError(f"layer {i + 1} is normalized but the gradients hold no dgamma/dbeta")
    return dgamma, dbeta


def _zeros(params: Sequence[Layer]) -> list[list[Array]]:
    return [[np.zeros_like(x) for x in _slots(p)] for p in params]


class Optimizer:
    """Base class: ``step(params, grads)`` updates every parameter array in place.

    ``weight_decay`` is the coupled L2 coefficient on the weight matrices (module docstring).
    ``frozen`` holds the 0-based indices of layers that are never updated (frozen transferred
    layers, :mod:`initlab.transfer`): neither their parameters nor their state buffers change.
    """

    def __init__(self, params: Sequence[Layer], lr: float, *, weight_decay: float = 0.0) -> None:
        self.lr = lr
        self.weight_decay = weight_decay
        self.frozen: frozenset[int] = frozenset()
        self._tmp = [[np.empty_like(x) for x in _slots(p)] for p in params]
        self._wd = [np.empty_like(p.W) for p in params] if weight_decay else []

    def step(self, params: Sequence[Layer], grads: Gradients) -> None:
        """Apply one update (layers in :attr:`frozen` are left as they are)."""
        for i, layer in enumerate(params):
            if i in self.frozen:
                continue
            g = grads.dW[i]
            if self.weight_decay:
                g = self._weight_grad(i, layer.W, g)
            self._update(i, 0, layer.W, g)
            self._update(i, 1, layer.b, grads.db[i])
            if layer.gamma is not None and layer.beta is not None:
                dgamma, dbeta = _norm_grads(grads, i)
                self._update(i, 2, layer.gamma, dgamma)
                self._update(i, 3, layer.beta, dbeta)

    def select(self, keep: npt.NDArray[np.bool_]) -> None:
        """Keep the state of the networks ``keep`` marks, for an ensemble's stacked parameters
        (:mod:`initlab.train`): every buffer is cut along its leading network axis."""

        def cut(value: Any) -> Any:
            if isinstance(value, np.ndarray):
                return value[keep]
            if isinstance(value, list):
                return [cut(v) for v in value]
            return value

        for name, value in vars(self).items():
            if isinstance(value, list):
                setattr(self, name, cut(value))

    def _weight_grad(self, i: int, W: Array, g: Array) -> Array:
        """The gradient used for ``W`` when ``weight_decay > 0``: ``g + lambda W`` (coupled L2)."""
        out = self._wd[i]
        np.multiply(W, W.dtype.type(self.weight_decay), out=out)
        out += g
        return out

    def _update(self, i: int, k: int, theta: Array, g: Array) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    def _update(self, i: int, k: int, theta: Array, g: Array) -> None:
        tmp = self._tmp[i][k]
        np.multiply(g, theta.dtype.type(self.lr), out=tmp)
        theta -= tmp


class Momentum(Optimizer):
    def __init__(
        self,
        params: Sequence[Layer],
        lr: float,
        mu: float,
        nesterov: bool = False,
        *,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr, weight_decay=weight_decay)
        self.mu = mu
        self.nesterov = nesterov
        self._v = _zeros(params)

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


class RMSprop(Optimizer):
    alpha = 0.99
    eps = 1e-8

    def __init__(self, params: Sequence[Layer], lr: float, *, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay=weight_decay)
        self._s = _zeros(params)

    def _update(self, i: int, k: int, theta: Array, g: Array) -> None:
        s, tmp = self._s[i][k], self._tmp[i][k]
        t = theta.dtype.type
        s *= t(self.alpha)
        np.multiply(g, g, out=tmp)
        tmp *= t(1 - self.alpha)
        s += tmp  # s = alpha s + (1 - alpha) g^2
        np.sqrt(s, out=tmp)
        tmp += t(self.eps)
        np.divide(g, tmp, out=tmp)
        tmp *= t(self.lr)
        theta -= tmp


class Adam(Optimizer):
    beta1 = 0.9
    beta2 = 0.999
    eps = 1e-8

    def __init__(self, params: Sequence[Layer], lr: float, *, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay=weight_decay)
        self._m = _zeros(params)
        self._s = _zeros(params)
        self.t = 0

    def step(self, params: Sequence[Layer], grads: Gradients) -> None:
        self.t += 1
        super().step(params, grads)

    def _update(self, i: int, k: int, theta: Array, g: Array) -> None:
        m, s, tmp = self._m[i][k], self._s[i][k], self._tmp[i][k]
        t = theta.dtype.type
        b1, b2 = self.beta1, self.beta2
        m *= t(b1)
        np.multiply(g, t(1 - b1), out=tmp)
        m += tmp
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


class AdamW(Adam):
    """Adam with decoupled weight decay on ``W``: ``W <- (1 - lr lambda) W``, then the Adam step
    with the plain gradient."""

    def __init__(self, params: Sequence[Layer], lr: float, *, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr, weight_decay=weight_decay)
        self._wd = []  # the decay is applied to W in place: no buffer

    def _weight_grad(self, i: int, W: Array, g: Array) -> Array:
        W *= W.dtype.type(1 - self.lr * self.weight_decay)
        return g


def make_optimizer(
    name: OptimizerName,
    params: Sequence[Layer],
    *,
    lr: float,
    momentum: float = 0.9,
    nesterov: bool = False,
    weight_decay: float | None = None,
    frozen: Sequence[int] = (),
) -> Optimizer:
    """Build the optimizer ``name`` for ``params``.

    Parameters
    ----------
    name : str
        One of :data:`OPTIMIZERS`.
    params : sequence of Layer
        The parameters to update (their shapes and dtypes size the state buffers; normalized
        layers' ``gamma`` and ``beta`` are updated too).
    lr : float
        Learning rate.
    momentum : float
        ``mu`` of ``momentum`` and ``nesterov``.
    nesterov : bool
        Nesterov's form for ``momentum`` (``nesterov`` is always Nesterov).
    weight_decay : float, optional
        ``lambda`` on the weight matrices: coupled L2 (``g + lambda W``), decoupled for
        ``adamw``. ``None`` means the optimizer's default (:data:`DEFAULT_WEIGHT_DECAY`:
        0.01 for ``adamw``, 0 for the others).
    frozen : sequence of int
        0-based indices of layers the optimizer never updates (no decay either).

    Raises
    ------
    ValueError
        Unknown name, or a negative ``weight_decay``.
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; allowed: {', '.join(OPTIMIZERS)}")
    wd = DEFAULT_WEIGHT_DECAY.get(name, 0.0) if weight_decay is None else float(weight_decay)
    if not wd >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
    builders = {
        "sgd": lambda: SGD(params, lr, weight_decay=wd),
        "momentum": lambda: Momentum(params, lr, momentum, nesterov, weight_decay=wd),
        "nesterov": lambda: Momentum(params, lr, momentum, True, weight_decay=wd),
        "rmsprop": lambda: RMSprop(params, lr, weight_decay=wd),
        "adam": lambda: Adam(params, lr, weight_decay=wd),
        "adamw": lambda: AdamW(params, lr, weight_decay=wd),
    }
    optimizer = builders[name]()
    optimizer.frozen = frozenset(int(i) for i in frozen)
    return optimizer
