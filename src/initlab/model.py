"""The multilayer perceptron: parameters as data, pure forward and backward passes.

An MLP with ``depth`` hidden layers is ``depth + 1`` affine layers, indexed ``l = 1..depth+1``::

    a^0 = X                                   (B, n_0)
    h^l = a^{l-1} @ W^l + b^l                 (B, n_l),  W^l: (n_{l-1}, n_l)
    z^l = N(h^l)                              normalization (hidden layers only; z^l = h^l
                                              without it, and always for the output layer)
    a^l = D(phi(z^l))                         for l <= depth (D: dropout, training only)
    p   = softmax(z^{depth+1})                 the output layer is linear
    L   = -mean_i log p[i, y_i]                (or the quadratic cost, :func:`mse`)

and the backward pass (Glorot & Bengio 2010, eqs. 2-3) with ``delta^l = dL/dz^l``; without
normalization or dropout::

    delta^{depth+1} = dL/dz^{depth+1}          ((p - onehot(y)) / B for the cross-entropy)
    delta^l         = (delta^{l+1} @ W^{l+1}.T) * phi'(z^l)
    dL/dW^l         = a^{l-1}.T @ delta^l,   dL/db^l = sum_i delta^l[i]

Normalization (``norm``)
------------------------
``batch_norm`` (Ioffe & Szegedy 2015) and ``layer_norm`` (Ba, Kiros & Hinton 2016) both compute
``z = gamma * xhat + beta`` with ``xhat = (h - mu) * s``, ``s = 1 / sqrt(var + eps)``, and learned
``gamma`` (init 1), ``beta`` (init 0) of shape ``(n_l,)``. Batch norm takes ``mu`` and the
*biased* ``var`` of each unit over the batch; layer norm takes them over the features of each
sample. PyTorch's conventions are followed (``BatchNorm1d``, ``LayerNorm``): ``eps = 1e-5``;
batch norm keeps running statistics, updated in training as
``running <- 0.9 running + 0.1 batch`` with the *unbiased* batch variance
(``var * B / (B - 1)``) for ``running_var``, and normalizes with them in evaluation mode
(``train=False``); layer norm is the same in both modes. Batch norm in training needs ``B >= 2``
(PyTorch raises too).

The backward pass through ``N``, with ``g = dL/dz`` and ``gh = gamma * g = dL/dxhat``: for one
unit of a batch-norm layer, with ``i, j`` running over the ``B`` samples,

    d xhat_i / d h_j = s (1[i=j] - 1/B - xhat_i xhat_j / B)      (d var / d h_j = 2 (h_j - mu) / B)

so that

    dL/dh_j   = s (gh_j - mean_i gh_i - xhat_j mean_i(gh_i xhat_i))
    dL/dgamma = sum_i g_i xhat_i,   dL/dbeta = sum_i g_i.

Every sample's gradient depends on the whole batch (the batch is coupled), ``sum_j dL/dh_j = 0``
and hence ``dL/db^l = 0``: a bias is redundant under batch norm (kept for a uniform layout).
Layer norm is the same formula with ``i, j`` running over the ``n_l`` features of one sample
(``gh_k = gamma_k g_k``; the features are coupled) and ``s``, ``mu`` per sample; ``dL/dgamma``
and ``dL/dbeta`` still sum over the batch. Batch norm in evaluation mode uses constant running
statistics, so it is the elementwise affine map ``dL/dh = gamma s g``.

Ensembles
---------
Every function also takes an ensemble of ``N`` networks of one shape, trained side by side
(:mod:`initlab.train`): each parameter array gains a leading network axis (``W``
``(N, n_{l-1}, n_l)``, ``b``, ``gamma``, ``beta`` ``(N, n_l)``), activations and gradients are
``(N, B, n_l)``, labels ``(N, B)``, and an input shared by every network may stay ``(B, n_0)``
(broadcast). Batch axes are addressed as ``-2`` and feature axes as ``-1``, matrix products are
batched ``matmul`` (one BLAS call per network with the shapes and strides of the single
network's), reductions run over the same axis of each network's block in the same order and
elementwise operations do not depend on the other networks: network ``n`` of an ensemble gets
the numbers it gets alone, bit for bit (tests/test_ensemble.py). Losses are then arrays ``(N,)``.

Dropout (``dropout``, ``dropout_kind``)
---------------------------------------
Applied to the hidden activations ``a^l = phi(z^l)``, ``l = 1..depth``, in training only, with
a fresh mask ``keep`` (each unit kept with probability ``1 - p``) from an explicit generator:

- ``dropout``: inverted dropout (Srivastava et al. 2014), ``y = keep * a / (1 - p)``, so
  ``E[y] = a``;
- ``alpha_dropout`` (Klambauer et al. 2017, for SELU): dropped units are set to
  ``alpha' = -lambda alpha`` (SELU's negative saturation), then ``y <- c y + d`` with
  ``c = ((1 - p)(1 + p alpha'^2))^(-1/2)`` and ``d = -c p alpha'``, which keeps mean 0 and
  variance 1 for inputs of mean 0 and variance 1.

In both cases ``dy/da = keep * scale`` (``scale`` = ``1 / (1 - p)`` or ``c``); the stored
``a^l`` is the value after dropout, the one the next layer sees.

:func:`forward` returns every intermediate, so the statistics in :mod:`initlab.stats` are pure
functions of ``(Forward, Gradients)``; nothing needs hooks.

References
----------
- Glorot & Bengio (2010), AISTATS: the backward recursion; the quadratic cost on softmax outputs.
- Ioffe & Szegedy (2015), ICML: batch normalization.
- Ba, Kiros & Hinton (2016), arXiv 1607.06450: layer normalization.
- Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov (2014), JMLR: dropout.
- Klambauer, Unterthiner, Mayr & Hochreiter (2017), NeurIPS: alpha-dropout.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from initlab.activations import SELU_ALPHA, SELU_LAMBDA, Activation
from initlab.initializers import Initializer

__all__ = [
    "BN_MOMENTUM",
    "DROPOUT_KINDS",
    "LOSSES",
    "NORMS",
    "NORM_EPS",
    "SELU_DROPOUT_VALUE",
    "Forward",
    "Gradients",
    "Layer",
    "NormState",
    "alpha_dropout_coefficients",
    "backward",
    "cross_entropy",
    "dropout_coefficients",
    "forward",
    "init_mlp",
    "init_norm_state",
    "loss_and_grads",
    "loss_fn",
    "mse",
    "predict_logits",
]

Array = npt.NDArray[np.floating[Any]]
Labels = npt.NDArray[np.integer[Any]]
LossFunction = Callable[[Array, Labels], tuple[float, Array]]

NORMS = ("none", "batch_norm", "layer_norm")
DROPOUT_KINDS = ("dropout", "alpha_dropout")
LOSSES = ("cross_entropy", "mse")
NORM_EPS = 1e-5  # PyTorch BatchNorm1d / LayerNorm default
BN_MOMENTUM = 0.1  # PyTorch: running <- (1 - 0.1) running + 0.1 batch
SELU_DROPOUT_VALUE = -SELU_LAMBDA * SELU_ALPHA  # alpha' of alpha-dropout, -1.7580993408...


@dataclass
class Layer:
    """One affine layer and, for a normalized hidden layer, its normalization parameters.

    Attributes
    ----------
    W : ndarray, shape (fan_in, fan_out)
    b : ndarray, shape (fan_out,)
    gamma, beta : ndarray of shape (fan_out,), or None
        Gain and shift of the normalization (``None`` when the layer is not normalized).
    """

    W: Array
    b: Array
    gamma: Array | None = None
    beta: Array | None = None


@dataclass
class NormState:
    """Running statistics of the batch-normalized hidden layers (PyTorch ``BatchNorm1d``).

    Attributes
    ----------
    running_mean, running_var : list of ndarray
        One ``(n_l,)`` array per hidden layer ``l = 1..depth`` (index ``l - 1``); initialized
        to 0 and 1, updated in place by training-mode passes of :func:`forward`.
    momentum : float
        ``running <- (1 - momentum) running + momentum batch`` (PyTorch's 0.1).
    """

    running_mean: list[Array]
    running_var: list[Array]
    momentum: float = BN_MOMENTUM


@dataclass
class Forward:
    """Every intermediate of a forward pass.

    Attributes
    ----------
    a : list of ndarray
        ``a[0] = X`` ``(B, n_0)``, then the hidden activations ``a[l]`` ``(B, n_l)``,
        ``l = 1..depth``, after dropout (what the next layer sees).
    z : list of ndarray
        Inputs of ``phi``; ``z[l-1]`` is ``z^l`` ``(B, n_l)`` for ``l = 1..depth+1`` (the last
        entry holds the logits). After normalization for a normalized layer.
    dphi : list of ndarray or None
        ``phi'(z^l)`` for the hidden layers, kept when the pass was run for a backward pass
        (computed together with ``phi`` where that is cheaper); ``None`` otherwise.
    pre_norm : list of ndarray or None
        The affine outputs ``h^l`` ``(B, n_l)`` when the network is normalized, else ``None``;
        read them through :attr:`h`.
    xhat : list of ndarray or None
        Normalized values ``(h^l - mu) s`` ``(B, n_l)`` per hidden layer (when normalized).
    inv_std : list of ndarray or None
        ``s = 1 / sqrt(var + eps)`` per hidden layer: ``(1, n_l)`` for batch norm, ``(B, 1)``
        for layer norm.
    keep : list of ndarray of bool or None
        Dropout masks ``(B, n_l)`` per hidden layer (``None`` when no mask was drawn).
    norm : str
        The normalization the pass used (one of :data:`NORMS`).
    train : bool
        Training mode (batch statistics for batch norm, dropout on) or evaluation mode.
    dropout : float
        Drop probability of the masks in :attr:`keep` (0 when none were drawn).
    dropout_kind : str
        One of :data:`DROPOUT_KINDS`.
    """

    a: list[Array]
    z: list[Array]
    dphi: list[Array] | None = None
    pre_norm: list[Array] | None = None
    xhat: list[Array] | None = None
    inv_std: list[Array] | None = None
    keep: list[npt.NDArray[np.bool_]] | None = None
    norm: str = "none"
    train: bool = True
    dropout: float = 0.0
    dropout_kind: str = "dropout"

    @property
    def logits(self) -> Array:
        """Output pre-activations ``(B, n_classes)``."""
        return self.z[-1]

    @property
    def h(self) -> list[Array]:
        """Affine outputs ``h^l = a^{l-1} W^l + b^l`` before normalization, ``l = 1..depth+1``
        (the very arrays of :attr:`z` for layers that are not normalized)."""
        return self.z if self.pre_norm is None else self.pre_norm


@dataclass
class Gradients:
    """Gradients of the loss.

    Attributes
    ----------
    dW, db : list of ndarray
        ``dL/dW^l`` ``(n_{l-1}, n_l)`` and ``dL/db^l`` ``(n_l,)`` for ``l = 1..depth+1``.
    delta : list of ndarray
        ``delta^l = dL/dz^l`` ``(B, n_l)`` (``z^l``: the input of ``phi``, see :class:`Forward`).
    dgamma, dbeta : list of (ndarray or None), or None
        ``dL/dgamma^l``, ``dL/dbeta^l`` ``(n_l,)``; ``None`` entries for layers that are not
        normalized, ``None`` altogether for a network without normalization.
    dpre_norm : list of ndarray or None
        ``dL/dh^l`` when normalized (read through :attr:`dh`).
    dX : ndarray or None
        ``dL/dX`` ``(B, n_0)`` when asked for (``input_grad=True``).
    """

    dW: list[Array]
    db: list[Array]
    delta: list[Array]
    dgamma: list[Array | None] | None = None
    dbeta: list[Array | None] | None = None
    dpre_norm: list[Array] | None = None
    dX: Array | None = None

    @property
    def dh(self) -> list[Array]:
        """``dL/dh^l`` ``(B, n_l)`` w.r.t. the affine outputs (``dL/dW^l = a^{l-1}.T dL/dh^l``);
        the arrays of :attr:`delta` for layers that are not normalized."""
        return self.delta if self.dpre_norm is None else self.dpre_norm


def _row(x: Array) -> Array:
    """A per-unit vector ``(n,)`` or per-network vectors ``(N, n)`` as a row ``(1, n)`` /
    ``(N, 1, n)`` that broadcasts over a batch ``(B, n)`` / ``(N, B, n)``."""
    return x[..., None, :]


def _t(x: Array) -> Array:
    """The transpose of a matrix, or of each network's matrix (a view)."""
    return np.swapaxes(x, -1, -2)


def _check_choice(what: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; allowed: {', '.join(allowed)}")


def init_mlp(
    rng: np.random.Generator,
    sizes: Sequence[int],
    initializer: Initializer,
    *,
    dtype: npt.DTypeLike = np.float32,
    bias_std: float = 0.0,
    norm: str = "none",
) -> list[Layer]:
    """Draw the parameters of an MLP with layer widths ``sizes = (n_0, n_1, ..., n_{depth+1})``.

    Every weight matrix, the output layer's included, comes from ``initializer``; biases are 0,
    or ``N(0, bias_std^2)`` when ``bias_std > 0`` (the sigma_b of mean-field theory). Layers are
    drawn in order from one generator, so the same seed gives the same network. With
    ``norm`` (one of :data:`NORMS`) other than ``"none"`` every hidden layer also gets
    ``gamma = 1`` and ``beta = 0``; nothing more is drawn, so the weights equal those of the
    plain network with the same seed.
    """
    if len(sizes) < 2 or any(int(n) < 1 for n in sizes):
        raise ValueError(f"sizes must hold at least two positive widths, got {list(sizes)}")
    _check_choice("norm", norm, NORMS)
    layers = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        W = initializer(rng, (int(fan_in), int(fan_out)), dtype)
        if bias_std > 0:
            b = (bias_std * rng.standard_normal(int(fan_out))).astype(dtype)
        else:
            b = np.zeros(int(fan_out), dtype=dtype)
        layers.append(Layer(W, b))
    if norm != "none":
        for layer in layers[:-1]:
            layer.gamma = np.ones_like(layer.b)
            layer.beta = np.zeros_like(layer.b)
    return layers


def init_norm_state(params: Sequence[Layer]) -> NormState:
    """Fresh batch-norm running statistics for ``params``: mean 0 and variance 1 per hidden unit
    (PyTorch's initial values), in the parameters' dtype."""
    hidden = params[:-1]
    return NormState([np.zeros_like(p.b) for p in hidden], [np.ones_like(p.b) for p in hidden])


def alpha_dropout_coefficients(p: float) -> tuple[float, float]:
    """Affine correction ``(c, d)`` of alpha-dropout with drop probability ``p``.

    ``c = ((1 - p)(1 + p alpha'^2))^(-1/2)`` and ``d = -c p alpha'`` with
    ``alpha' = -lambda alpha`` (Klambauer et al. 2017); for
    ``p = 0.05`` they are 0.954844 and 0.083936.
    """
    q = SELU_DROPOUT_VALUE
    c = ((1.0 - p) * (1.0 + p * q * q)) ** -0.5
    return c, -c * p * q


def dropout_coefficients(p: float, kind: str) -> tuple[float, float, float]:
    """``(scale, fill, shift)`` of dropout: ``y = scale * where(keep, a, fill) + shift``.

    ``(1 / (1 - p), 0, 0)`` for inverted dropout, ``(c, alpha', d)`` for alpha-dropout
    (:func:`alpha_dropout_coefficients`); ``dy/da = scale * keep`` in both cases.
    """
    _check_choice("dropout kind", kind, DROPOUT_KINDS)
    if kind == "alpha_dropout":
        c, d = alpha_dropout_coefficients(p)
        return c, SELU_DROPOUT_VALUE, d
    return 1.0 / (1.0 - p), 0.0, 0.0


def _check_norm(
    params: Sequence[Layer], norm: str, train: bool, norm_state: NormState | None, batch: int
) -> None:
    """Validate the normalization options against the parameters."""
    _check_choice("norm", norm, NORMS)
    has = [p.gamma is not None and p.beta is not None for p in params[:-1]]
    if params[-1].gamma is not None or (any(has) if norm == "none" else not all(has)):
        raise ValueError(
            f"norm={norm!r} needs gamma and beta on every hidden layer and on no other "
            "(build the parameters with init_mlp(..., norm=norm))"
        )
    if norm == "batch_norm" and train and batch < 2:
        raise ValueError(f"batch_norm in training mode needs at least 2 samples, got {batch}")
    if norm == "batch_norm" and not train and norm_state is None:
        raise ValueError("batch_norm in evaluation mode needs norm_state (running statistics)")


def _check_dropout(dropout: float, kind: str, train: bool, rng: object) -> bool:
    """Validate the dropout options; return whether masks are to be drawn."""
    _check_choice("dropout kind", kind, DROPOUT_KINDS)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
    active = train and dropout > 0
    if active and rng is None:
        raise ValueError("dropout in training mode needs dropout_rng (a numpy Generator)")
    return active


def _standardize(
    h: Array,
    axis: int,
    stats: tuple[Array, Array] | None = None,
    out: Array | None = None,
) -> tuple[Array, Array, Array, Array]:
    """``xhat = (h - mean) / sqrt(var + eps)`` along ``axis`` (batch statistics, biased
    variance) or with ``stats = (mean, var)`` of shape ``(n,)`` (``(N, n)`` for an ensemble).
    Returns ``(xhat, inv_std, mean, var)``, the last three with kept dimensions; ``out`` may be
    ``h``."""
    if stats is None:
        mean = h.mean(axis=axis, keepdims=True)
        xhat = np.subtract(h, mean, out=out)
        var = np.mean(np.square(xhat), axis=axis, keepdims=True)
    else:
        mean, var = _row(stats[0]), _row(stats[1])
        xhat = np.subtract(h, mean, out=out)
    inv_std = 1.0 / np.sqrt(var + NORM_EPS)
    xhat *= inv_std
    return xhat, inv_std, mean, var


def _update_running(state: NormState, i: int, mean: Array, var: Array, batch: int) -> None:
    """PyTorch's running-statistics update with the unbiased batch variance."""
    m = state.momentum
    rm, rv = state.running_mean[i], state.running_var[i]
    t = rm.dtype.type
    rm *= t(1.0 - m)
    rm += t(m) * mean[..., 0, :]
    rv *= t(1.0 - m)
    rv += t(m * batch / (batch - 1)) * var[..., 0, :]


def _normalize(
    h: Array,
    layer: Layer,
    i: int,
    norm: str,
    train: bool,
    state: NormState | None,
    update_running: bool,
    inplace: bool = False,
) -> tuple[Array, Array, Array]:
    """Normalize the hidden layer ``i`` (0-based); return ``(z, xhat, inv_std)``.

    With ``inplace`` ``h`` is overwritten and ``z is xhat is h`` (evaluation without caches).
    """
    out = h if inplace else None
    assert layer.gamma is not None and layer.beta is not None  # checked by _check_norm
    if norm == "layer_norm":
        xhat, inv_std, _, _ = _standardize(h, -1, out=out)
    elif train:
        xhat, inv_std, mean, var = _standardize(h, -2, out=out)
        if state is not None and update_running:
            _update_running(state, i, mean, var, h.shape[-2])
    else:
        assert state is not None  # checked by _check_norm
        stats = (state.running_mean[i], state.running_var[i])
        xhat, inv_std, _, _ = _standardize(h, -2, stats, out=out)
    if inplace:
        xhat *= _row(layer.gamma)
        xhat += _row(layer.beta)
        return xhat, xhat, inv_std
    z = xhat * _row(layer.gamma)
    z += _row(layer.beta)
    return z, xhat, inv_std


def _dropout(
    a: Array, p: float, kind: str, rng: np.random.Generator | Sequence[np.random.Generator]
) -> tuple[Array, npt.NDArray[np.bool_]]:
    """Apply a fresh dropout mask to ``a`` ``(B, n)``; return ``(y, keep)``.

    The mask compares float32 uniforms with ``p`` (one draw per entry). For an ensemble ``a``
    is ``(N, B, n)`` and ``rng`` one generator per network, each drawing its network's mask.
    """
    if isinstance(rng, list | tuple):
        u = np.stack([g.random(a.shape[1:], dtype=np.float32) for g in rng])
    else:
        u = rng.random(a.shape, dtype=np.float32)
    keep = u >= np.float32(p)
    scale, fill, shift = dropout_coefficients(p, kind)
    t = a.dtype.type
    if kind == "alpha_dropout":
        y = np.where(keep, a, t(fill))
        y *= t(scale)
        y += t(shift)
    else:
        y = np.multiply(a, keep)
        y *= t(scale)
    return y, keep


def forward(
    params: Sequence[Layer],
    X: Array,
    activation: Activation,
    *,
    keep_grad: bool = False,
    norm: str = "none",
    train: bool = True,
    update_running: bool = True,
    norm_state: NormState | None = None,
    dropout: float = 0.0,
    dropout_kind: str = "dropout",
    dropout_rng: np.random.Generator | Sequence[np.random.Generator] | None = None,
) -> Forward:
    """Run the network on ``X`` ``(B, n_0)``; return all pre-activations and activations.

    Parameters
    ----------
    params : sequence of Layer
        As returned by :func:`init_mlp` (with the same ``norm``).
    X : ndarray, shape (B, n_0)
        Inputs, same dtype as the parameters.
    activation : Activation
        Hidden-layer nonlinearity.
    keep_grad : bool
        Keep the local derivatives ``phi'(z^l)`` for :func:`backward`.
    norm : str
        One of :data:`NORMS`, applied to every hidden layer (see the module docstring).
    train : bool
        Training mode: batch norm uses batch statistics, dropout is applied. In evaluation mode
        batch norm uses ``norm_state``'s running statistics and dropout is off.
    update_running : bool
        In training mode, update ``norm_state`` in place (``False``: a probe pass that uses
        batch statistics and leaves the running statistics alone).
    norm_state : NormState, optional
        Batch-norm running statistics (:func:`init_norm_state`); required for batch norm in
        evaluation mode, not updated when omitted.
    dropout : float
        Drop probability ``p`` in ``[0, 1)`` of the hidden activations (training mode only).
    dropout_kind : str
        One of :data:`DROPOUT_KINDS`.
    dropout_rng : numpy.random.Generator, or one per network of an ensemble, optional
        Source of the masks; required when masks are drawn (``train`` and ``dropout > 0``),
        untouched otherwise.

    Returns
    -------
    Forward
    """
    _check_norm(params, norm, train, norm_state, X.shape[-2])
    drop = _check_dropout(dropout, dropout_kind, train, dropout_rng)
    normed = norm != "none"
    a, z, h = [X], [], []
    dphi: list[Array] | None = [] if keep_grad else None
    xhat: list[Array] = []
    inv_std: list[Array] = []
    keep: list[npt.NDArray[np.bool_]] = []
    for i, layer in enumerate(params[:-1]):
        hl = a[-1] @ layer.W
        hl += _row(layer.b)
        zl = hl
        if normed:
            zl, xl, sl = _normalize(hl, layer, i, norm, train, norm_state, update_running)
            h.append(hl)
            xhat.append(xl)
            inv_std.append(sl)
        z.append(zl)
        if dphi is None:
            value = activation.fn(zl)
        else:
            value, slope = activation.value_and_grad(zl)
            dphi.append(slope)
        if drop:
            assert dropout_rng is not None  # checked by _check_dropout
            value, mask = _dropout(value, dropout, dropout_kind, dropout_rng)
            keep.append(mask)
        a.append(value)
    out = a[-1] @ params[-1].W
    out += _row(params[-1].b)
    z.append(out)
    h.append(out)
    return Forward(
        a,
        z,
        dphi,
        pre_norm=h if normed else None,
        xhat=xhat if normed else None,
        inv_std=inv_std if normed else None,
        keep=keep if drop else None,
        norm=norm,
        train=train,
        dropout=dropout if drop else 0.0,
        dropout_kind=dropout_kind,
    )


def predict_logits(
    params: Sequence[Layer],
    X: Array,
    activation: Activation,
    *,
    norm: str = "none",
    norm_state: NormState | None = None,
) -> Array:
    """Logits ``(B, n_classes)`` of the network on ``X`` ``(B, n_0)`` in evaluation mode,
    keeping no intermediate (evaluation on whole splits: several times less memory traffic
    than :func:`forward`).

    Dropout is off; batch norm (``norm="batch_norm"``) uses the running statistics of
    ``norm_state``, layer norm normalizes each sample. Equals
    ``forward(..., train=False).logits``.
    """
    _check_norm(params, norm, False, norm_state, X.shape[-2])
    a = X
    for i, layer in enumerate(params[:-1]):
        h = a @ layer.W
        h += _row(layer.b)
        if norm != "none":
            h = _normalize(h, layer, i, norm, False, norm_state, False, inplace=True)[0]
        a = activation.fn(h)
    out = a @ params[-1].W
    out += _row(params[-1].b)
    return out


def _log_softmax(logits: Array) -> Array:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _label_entries(y: Labels) -> tuple[npt.NDArray[np.intp], ...]:
    """Index of the label entries ``[i, y_i]`` of a ``(B, n_classes)`` array (``[n, i, y_ni]``
    of an ensemble's ``(N, B, n_classes)``)."""
    rows = np.arange(y.shape[-1])
    if y.ndim == 1:
        return rows, y
    return np.arange(y.shape[0])[:, None], rows[None, :], y


def _loss_value(per_sample: Array) -> Any:
    """Mean over the batch in float64: a float, or one per network ``(N,)``."""
    value = np.mean(per_sample, axis=-1, dtype=np.float64)
    return float(value) if per_sample.ndim == 1 else value


def cross_entropy(logits: Array, y: Labels) -> tuple[float, Array]:
    """Mean softmax cross-entropy and its gradient w.r.t. the logits.

    Returns
    -------
    loss : float
        ``-mean_i log softmax(logits)[i, y_i]`` (non-finite if the logits are); an array
        ``(N,)`` for an ensemble (``logits`` ``(N, B, n_classes)``, ``y`` ``(N, B)``).
    dlogits : ndarray
        ``(softmax(logits) - onehot(y)) / B``, shape ``(B, n_classes)``.
    """
    logp = _log_softmax(logits)
    entries = _label_entries(y)
    loss = -_loss_value(logp[entries])
    dlogits = np.exp(logp)
    dlogits[entries] -= 1
    dlogits /= y.shape[-1]
    return loss, dlogits


def mse(logits: Array, y: Labels) -> tuple[float, Array]:
    """Quadratic cost on the softmax outputs (Glorot & Bengio 2010) and its logit gradient.

    With ``p = softmax(logits)`` and ``r = p - onehot(y)``, ``L = mean_i sum_k r_ik^2`` (a sum
    over the classes: Keras' ``MeanSquaredError`` averages over them instead, a factor
    ``n_classes`` smaller). Through the softmax Jacobian ``dp_ik/dlogit_ij = p_ik (1[k=j] -
    p_ij)``, with ``g = dL/dp = 2 r / B``::

        dL/dlogit_ij = p_ij (g_ij - sum_k g_ik p_ik)

    Returns
    -------
    loss : float
        Non-finite if the logits are.
    dlogits : ndarray, shape (B, n_classes)
    """
    p = np.exp(_log_softmax(logits))
    r = p.copy()
    r[_label_entries(y)] -= 1
    loss = _loss_value(np.einsum("...ij,...ij->...i", r, r))
    r *= 2.0 / y.shape[-1]  # now g = dL/dp
    dlogits = r
    dlogits -= np.einsum("...ij,...ij->...i", r, p)[..., None]
    dlogits *= p
    return loss, dlogits


_LOSSES: dict[str, LossFunction] = {"cross_entropy": cross_entropy, "mse": mse}


def loss_fn(name: str) -> LossFunction:
    """The loss ``name`` (one of :data:`LOSSES`): ``f(logits, y) -> (loss, dL/dlogits)``.

    Raises
    ------
    ValueError
        Unknown name.
    """
    _check_choice("loss", name, LOSSES)
    return _LOSSES[name]


def _norm_backward(g: Array, layer: Layer, fwd: Forward, i: int) -> tuple[Array, Array, Array]:
    """``(dL/dh, dL/dgamma, dL/dbeta)`` of hidden layer ``i`` from ``g = dL/dz`` (module
    docstring)."""
    assert fwd.xhat is not None and fwd.inv_std is not None and layer.gamma is not None
    gamma = _row(layer.gamma)
    xhat, inv_std = fwd.xhat[i], fwd.inv_std[i]
    dbeta = g.sum(axis=-2)
    gx = g * xhat
    dgamma = gx.sum(axis=-2)
    if fwd.norm == "batch_norm" and not fwd.train:  # fixed statistics: elementwise affine
        return g * (gamma * inv_std), dgamma, dbeta
    axis = -2 if fwd.norm == "batch_norm" else -1
    dh = g * gamma  # dL/dxhat
    gx *= gamma  # dL/dxhat * xhat
    m2 = gx.mean(axis=axis, keepdims=True)
    dh -= dh.mean(axis=axis, keepdims=True)
    np.multiply(xhat, m2, out=gx)
    dh -= gx
    dh *= inv_std
    return dh, dgamma, dbeta


def backward(
    params: Sequence[Layer],
    fwd: Forward,
    dlogits: Array,
    activation: Activation,
    *,
    input_grad: bool = False,
) -> Gradients:
    """Back-propagate ``dlogits = dL/dz^{depth+1}`` through the network (module docstring).

    Normalization, dropout and the mode are read from ``fwd``. With ``input_grad`` the
    gradient w.r.t. the input, ``dL/dX`` ``(B, n_0)``, is returned in ``Gradients.dX``.
    """
    n = len(params)
    dW: list[Array] = [None] * n  # type: ignore[list-item]
    db: list[Array] = [None] * n  # type: ignore[list-item]
    delta: list[Array] = [None] * n  # type: ignore[list-item]
    dh: list[Array] = [None] * n  # type: ignore[list-item]
    dgamma: list[Array | None] = [None] * n
    dbeta: list[Array | None] = [None] * n
    normed = fwd.xhat is not None
    if fwd.keep is not None:
        scale = fwd.a[0].dtype.type(dropout_coefficients(fwd.dropout, fwd.dropout_kind)[0])
    d = dlogits
    for i in range(n - 1, -1, -1):
        delta[i] = d
        if normed and i < n - 1:
            d, dgamma[i], dbeta[i] = _norm_backward(d, params[i], fwd, i)
        dh[i] = d
        dW[i] = _t(fwd.a[i]) @ d
        db[i] = d.sum(axis=-2)
        if i > 0 or input_grad:
            d = d @ _t(params[i].W)
        if i > 0:
            if fwd.keep is not None:
                d *= fwd.keep[i - 1]
                d *= scale
            d *= fwd.dphi[i - 1] if fwd.dphi is not None else activation.grad(fwd.z[i - 1])
    if not normed:
        return Gradients(dW, db, delta, dX=d if input_grad else None)
    return Gradients(dW, db, delta, dgamma, dbeta, dh, dX=d if input_grad else None)


def loss_and_grads(
    params: Sequence[Layer],
    X: Array,
    y: Labels,
    activation: Activation,
    *,
    loss: str = "cross_entropy",
    norm: str = "none",
    train: bool = True,
    update_running: bool = True,
    norm_state: NormState | None = None,
    dropout: float = 0.0,
    dropout_kind: str = "dropout",
    dropout_rng: np.random.Generator | None = None,
    input_grad: bool = False,
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
    loss : str
        One of :data:`LOSSES` (:func:`cross_entropy`, :func:`mse`).
    norm, train, update_running, norm_state, dropout, dropout_kind, dropout_rng
        Passed to :func:`forward`.
    input_grad : bool
        Also return ``dL/dX`` (``Gradients.dX``).

    Returns
    -------
    loss : float
    grads : Gradients
    fwd : Forward
    """
    compute = loss_fn(loss)
    fwd = forward(
        params,
        X,
        activation,
        keep_grad=True,
        norm=norm,
        train=train,
        update_running=update_running,
        norm_state=norm_state,
        dropout=dropout,
        dropout_kind=dropout_kind,
        dropout_rng=dropout_rng,
    )
    value, dlogits = compute(fwd.logits, y)
    return value, backward(params, fwd, dlogits, activation, input_grad=input_grad), fwd
