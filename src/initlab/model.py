"""The multilayer perceptron: parameters as data, pure forward and backward passes.

An MLP with ``depth`` hidden layers is ``depth + 1`` affine layers, indexed ``l = 1..depth+1``::

    a^0 = X                                   (B, n_0)
    z^l = a^{l-1} @ W^l + b^l                 (B, n_l),  W^l: (n_{l-1}, n_l)
    a^l = phi(z^l)                            for l <= depth
    p   = softmax(z^{depth+1})                 the output layer is linear
    L   = -mean_i log p[i, y_i]

and the backward pass (Glorot & Bengio 2010, eqs. 2-3) with ``delta^l = dL/dz^l``::

    delta^{depth+1} = (p - onehot(y)) / B
    delta^l         = (delta^{l+1} @ W^{l+1}.T) * phi'(z^l)
    dL/dW^l         = a^{l-1}.T @ delta^l,   dL/db^l = sum_i delta^l[i]

:func:`forward` returns every intermediate, so the statistics in :mod:`initlab.stats` are pure
functions of ``(Forward, Gradients)``; nothing needs hooks.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from initlab.activations import Activation
from initlab.initializers import Initializer

__all__ = [
    "Forward",
    "Gradients",
    "Layer",
    "backward",
    "cross_entropy",
    "forward",
    "init_mlp",
    "loss_and_grads",
    "predict_logits",
]

Array = npt.NDArray[np.floating[Any]]


@dataclass
class Layer:
    """One affine layer: ``W`` of shape ``(fan_in, fan_out)`` and ``b`` of shape ``(fan_out,)``."""

    W: Array
    b: Array


@dataclass
class Forward:
    """Every intermediate of a forward pass.

    Attributes
    ----------
    a : list of ndarray
        ``a[0] = X`` ``(B, n_0)``, then the hidden activations ``a[l]`` ``(B, n_l)``,
        ``l = 1..depth``.
    z : list of ndarray
        Pre-activations; ``z[l-1]`` is ``z^l`` ``(B, n_l)`` for ``l = 1..depth+1`` (the last
        entry holds the logits).
    dphi : list of ndarray or None
        ``phi'(z^l)`` for the hidden layers, kept when the pass was run for a backward pass
        (computed together with ``phi`` where that is cheaper); ``None`` otherwise.
    """

    a: list[Array]
    z: list[Array]
    dphi: list[Array] | None = None

    @property
    def logits(self) -> Array:
        """Output pre-activations ``(B, n_classes)``."""
        return self.z[-1]


@dataclass
class Gradients:
    """Gradients of the mean cross-entropy.

    Attributes
    ----------
    dW, db : list of ndarray
        ``dL/dW^l`` ``(n_{l-1}, n_l)`` and ``dL/db^l`` ``(n_l,)`` for ``l = 1..depth+1``.
    delta : list of ndarray
        ``delta^l = dL/dz^l`` ``(B, n_l)``.
    """

    dW: list[Array]
    db: list[Array]
    delta: list[Array]


def init_mlp(
    rng: np.random.Generator,
    sizes: Sequence[int],
    initializer: Initializer,
    *,
    dtype: npt.DTypeLike = np.float32,
    bias_std: float = 0.0,
) -> list[Layer]:
    """Draw the parameters of an MLP with layer widths ``sizes = (n_0, n_1, ..., n_{depth+1})``.

    Every weight matrix, the output layer's included, comes from ``initializer``; biases are 0,
    or ``N(0, bias_std^2)`` when ``bias_std > 0`` (the sigma_b of mean-field theory). Layers are
    drawn in order from one generator, so the same seed gives the same network.
    """
    if len(sizes) < 2 or any(int(n) < 1 for n in sizes):
        raise ValueError(f"sizes must hold at least two positive widths, got {list(sizes)}")
    layers = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        W = initializer(rng, (int(fan_in), int(fan_out)), dtype)
        if bias_std > 0:
            b = (bias_std * rng.standard_normal(int(fan_out))).astype(dtype)
        else:
            b = np.zeros(int(fan_out), dtype=dtype)
        layers.append(Layer(W, b))
    return layers


def forward(
    params: Sequence[Layer], X: Array, activation: Activation, *, keep_grad: bool = False
) -> Forward:
    """Run the network on ``X`` ``(B, n_0)``; return all pre-activations and activations.

    With ``keep_grad`` the local derivatives ``phi'(z^l)`` are kept for :func:`backward`.
    """
    a = [X]
    z: list[Array] = []
    dphi: list[Array] | None = [] if keep_grad else None
    for layer in params[:-1]:
        h = a[-1] @ layer.W
        h += layer.b
        z.append(h)
        if dphi is None:
            a.append(activation.fn(h))
        else:
            value, slope = activation.value_and_grad(h)
            a.append(value)
            dphi.append(slope)
    out = a[-1] @ params[-1].W
    out += params[-1].b
    z.append(out)
    return Forward(a, z, dphi)


def predict_logits(params: Sequence[Layer], X: Array, activation: Activation) -> Array:
    """Logits ``(B, n_classes)`` of the network on ``X`` ``(B, n_0)``, keeping no intermediate
    (evaluation on whole splits: several times less memory traffic than :func:`forward`)."""
    a = X
    for layer in params[:-1]:
        h = a @ layer.W
        h += layer.b
        a = activation.fn(h)
    out = a @ params[-1].W
    out += params[-1].b
    return out


def _log_softmax(logits: Array) -> Array:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy(logits: Array, y: npt.NDArray[np.integer[Any]]) -> tuple[float, Array]:
    """Mean softmax cross-entropy and its gradient w.r.t. the logits.

    Returns
    -------
    loss : float
        ``-mean_i log softmax(logits)[i, y_i]`` (non-finite if the logits are).
    dlogits : ndarray
        ``(softmax(logits) - onehot(y)) / B``, shape ``(B, n_classes)``.
    """
    logp = _log_softmax(logits)
    rows = np.arange(len(y))
    loss = -float(np.mean(logp[rows, y], dtype=np.float64))
    dlogits = np.exp(logp)
    dlogits[rows, y] -= 1
    dlogits /= len(y)
    return loss, dlogits


def backward(
    params: Sequence[Layer], fwd: Forward, dlogits: Array, activation: Activation
) -> Gradients:
    """Back-propagate ``dlogits = dL/dz^{depth+1}`` through the network (see module docstring)."""
    n = len(params)
    dW: list[Array] = [None] * n  # type: ignore[list-item]
    db: list[Array] = [None] * n  # type: ignore[list-item]
    delta: list[Array] = [None] * n  # type: ignore[list-item]
    d = dlogits
    for i in range(n - 1, -1, -1):
        delta[i] = d
        dW[i] = fwd.a[i].T @ d
        db[i] = d.sum(axis=0)
        if i > 0:
            d = d @ params[i].W.T
            d *= fwd.dphi[i - 1] if fwd.dphi is not None else activation.grad(fwd.z[i - 1])
    return Gradients(dW, db, delta)


def loss_and_grads(
    params: Sequence[Layer],
    X: Array,
    y: npt.NDArray[np.integer[Any]],
    activation: Activation,
) -> tuple[float, Gradients, Forward]:
    """Forward, loss and backward in one call.

    Parameters
    ----------
    params : sequence of Layer
        As returned by :func:`init_mlp`.
    X : ndarray, shape (B, n_0)
        Inputs, same dtype as the parameters.
    y : ndarray of int, shape (B,)
        Class labels in ``0..n_classes-1``.
    activation : Activation
        Hidden-layer nonlinearity.

    Returns
    -------
    loss : float
    grads : Gradients
    fwd : Forward
    """
    fwd = forward(params, X, activation, keep_grad=True)
    loss, dlogits = cross_entropy(fwd.logits, y)
    return loss, backward(params, fwd, dlogits, activation), fwd
