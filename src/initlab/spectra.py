"""Input-output Jacobian spectra and empirical input correlations of an MLP at initialization.

Two networks with the same mean-field length ``q`` and slope ``chi_1`` can still differ in how
*uniformly* they propagate signals: a product of random orthogonal matrices keeps every
direction's gain near 1 (dynamical isometry), a product of Gaussian matrices spreads the gains
over orders of magnitude as depth grows (Saxe, McClelland & Ganguli 2014; Pennington,
Schoenholz & Ganguli 2017). This module measures both the gains and the propagation of input
similarity, on a few probe inputs.

Jacobian. In the row convention of :mod:`initlab.model` the hidden activations ``a^l = phi(z^l)``
of one input ``x`` (a row of length ``n_0``) have the Jacobian ``J^l = d a^l / d x``, an
``(n_0, n_l)`` matrix with ``(J^l)_{ij} = d a^l_j / d x_i``::

    J^l = W^1 D^1 W^2 D^2 ... W^l D^l,      D^l = diag(phi'(z^l(x))),   l = 1..depth.

It is accumulated layer by layer for all ``P`` probes at once, ``J^l = (J^{l-1} W^l) D^l`` as a
``(P, n_0, n_l)`` stack, in float64 whatever the parameters' dtype. When ``n_0 > n_1`` the
input side is first compressed: with the thin QR factorisation ``W^1 = Q R`` (``Q`` of shape
``(n_0, n_1)`` with orthonormal columns) ``J^l = Q K^l`` with ``K^l = R D^1 W^2 ... W^l D^l`` of
shape ``(n_1, n_l)``, and ``K^l`` has the Frobenius norm and the non-zero singular values of
``J^l``; the remaining ``min(n_0, n_l) - min(n_1, n_l)`` singular values of ``J^l`` are exactly 0
(``J^l`` has rank at most ``n_1``).

Of the ``min(n_0, n_l)`` singular values ``s`` of ``J^l`` only the last hidden layer's are
computed (``np.linalg.svd(..., compute_uv=False)`` on the stack); for every hidden layer the mean
``mean(s^2) = ||J^l||_F^2 / min(n_0, n_l)`` comes from the Frobenius norm, without an SVD. Its
mean-field prediction is :func:`initlab.theory.predict_jacobian`.

Correlations. Mean-field theory predicts the cosine ``c^l = <z_a^l, z_b^l> / (|z_a^l| |z_b^l|)``
of the (uncentred) pre-activations of two inputs of equal length and input cosine ``c^0``
(Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli 2016; :func:`initlab.theory.predict_correlation`).
To compare one prediction with an average over several pairs, every pair is built from probe
inputs to have exactly that geometry (:func:`pair_inputs`): with ``q0 = mean(X^2)`` the mean
square of the probe batch, row ``x`` and the next row ``y`` give::

    x_a = sqrt(n_0 q0) x / |x|,
    x_b = sqrt(n_0 q0) (c0 x / |x| + sqrt(1 - c0^2) r / |r|),   r = y - (y . x / |x|^2) x,

so ``|x_a|^2 = |x_b|^2 = n_0 q0`` and ``cos(x_a, x_b) = c0`` (:data:`PAIR_COSINE`) exactly, while
the directions still come from the data.

Normalization and dropout. Both measurements describe the network in evaluation mode, a
deterministic function of one input. Dropout is off there, so a network trained with dropout is
measured as the plain network. Layer norm (``norm="layer_norm"``) is a function of each sample
alone: ``z^l = gamma * xhat + beta`` with ``xhat = (h^l - mean) s``, ``s = 1/sqrt(var + eps)``
over the ``n_l`` units, and the chain gains its Jacobian (row convention, ``h^l = a^{l-1} W^l +
b^l``)::

    J^l = J^{l-1} W^l M^l D^l,
    M^l_ij = dz_j / dh_i = gamma_j s (1[i=j] - 1/n_l - xhat_i xhat_j / n_l)

applied without forming ``M^l``: ``(A M)_rj = gamma_j s (A_rj - mean_i A_ri - xhat_j mean_i(A_ri
xhat_i))``; the cosines ``c^l`` are those of the normalized ``z^l`` (what ``phi`` sees). Batch norm
is not supported (``ValueError``): in training mode a sample's output depends on the rest of its
batch, and in evaluation mode at initialization it divides by the initial running statistics
(mean 0, variance 1), a network that is neither trained nor probed.

References
----------
- Saxe, McClelland & Ganguli (2014), ICLR, "Exact solutions to the nonlinear dynamics of
  learning in deep linear neural networks": orthogonal initialisation, depth-independent
  learning times.
- Pennington, Schoenholz & Ganguli (2017), NeurIPS, "Resurrecting the sigmoid in deep learning
  through dynamical isometry": the singular-value spectrum of ``J``, mean ``s^2 = prod chi``.
- Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli (2016), NeurIPS, "Exponential expressivity in
  deep neural networks through transient chaos": the correlation map.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from initlab.activations import Activation
from initlab.model import NORM_EPS, Layer
from initlab.records import JACOBIAN_PROBES, PAIR_COSINE, PAIR_COUNT

__all__ = [
    "JACOBIAN_PROBES",
    "PAIR_COSINE",
    "PAIR_COUNT",
    "SPECTRUM_NORMS",
    "JacobianSpectrum",
    "input_jacobians",
    "jacobian_singular_values",
    "jacobian_spectrum",
    "pair_correlations",
    "pair_inputs",
    "spectrum_summary",
]

SPECTRUM_NORMS = ("none", "layer_norm")
"""The normalizations whose networks the spectra are measured for (see the module docstring)."""

_PAIR_RESIDUAL = 1e-6
"""Rows ``y`` whose component orthogonal to ``x`` is below this fraction of ``|y|`` (copies of
``x`` up to scale) cannot make a pair with ``x``."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class JacobianSpectrum:
    """Input-output Jacobian measurements of one network on ``P`` probes.

    Attributes
    ----------
    mean_s2 : ndarray, shape (depth,)
        ``mean(s^2) = ||J^l||_F^2 / min(n_0, n_l)`` averaged over the probes, for the hidden
        layers ``l = 1..depth``.
    singular_values : ndarray, shape (P, min(n_0, n_depth))
        Singular values of the last hidden layer's ``J^depth`` for each probe, descending (all
        NaN for a probe whose Jacobian is not finite).
    shape : tuple of int
        ``(n_0, n_depth)``, the shape of each ``J^depth``.
    """

    mean_s2: FloatArray
    singular_values: FloatArray
    shape: tuple[int, int]


def _hidden(params: Sequence[Layer], norm: str = "none") -> Sequence[Layer]:
    """The hidden layers (all but the output layer, which is not used), after checking ``norm``
    (one of :data:`SPECTRUM_NORMS`; ``layer_norm`` needs ``gamma`` and ``beta`` on each)."""
    if len(params) < 2:
        raise ValueError(f"the network needs at least one hidden layer, got {len(params)} layers")
    if norm not in SPECTRUM_NORMS:
        raise ValueError(
            f"norm: got {norm!r}; allowed: {', '.join(SPECTRUM_NORMS)} (the spectra of a "
            "batch-normalized network are not measured)"
        )
    if norm == "layer_norm" and any(p.gamma is None or p.beta is None for p in params[:-1]):
        raise ValueError("norm='layer_norm' needs gamma and beta on every hidden layer")
    return params[:-1]


def _layer_norm64(h: FloatArray, layer: Layer) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Layer norm of ``h`` ``(P, n)`` in float64: ``(z, xhat, s)`` with ``s`` of shape
    ``(P, 1)``."""
    gamma = np.asarray(layer.gamma, dtype=np.float64)
    beta = np.asarray(layer.beta, dtype=np.float64)
    xhat = h - h.mean(axis=1, keepdims=True)
    s = 1.0 / np.sqrt(np.mean(xhat * xhat, axis=1, keepdims=True) + NORM_EPS)
    xhat *= s
    return xhat * gamma + beta, xhat, s


def _times_layer_norm_jacobian(
    A: FloatArray, xhat: FloatArray, s: FloatArray, layer: Layer
) -> FloatArray:
    """``A M`` for a stack ``A`` ``(P, k, n)`` and the layer-norm Jacobians ``M`` ``(n, n)`` of
    the ``P`` probes (module docstring); ``xhat`` ``(P, n)``, ``s`` ``(P, 1)``. A new array."""
    gamma = np.asarray(layer.gamma, dtype=np.float64)
    n = A.shape[2]
    out = A - A.mean(axis=2, keepdims=True)
    proj = np.einsum("pri,pi->pr", A, xhat) / n  # mean_i A_ri xhat_i
    out -= proj[:, :, None] * xhat[:, None, :]
    out *= (s * gamma)[:, None, :]
    return out


def _float64(layer: Layer) -> tuple[FloatArray, FloatArray]:
    """``(W, b)`` of one layer in float64 (cast one layer at a time: a deep wide float32 net
    would otherwise be copied whole)."""
    return np.asarray(layer.W, dtype=np.float64), np.asarray(layer.b, dtype=np.float64)


def _inputs64(X: npt.ArrayLike, n_0: int) -> FloatArray:
    x = np.asarray(X, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != n_0 or x.shape[0] < 1:
        raise ValueError(f"X must have shape (P >= 1, {n_0}), got {x.shape}")
    return x


def _jacobian_chain(
    hidden: Sequence[Layer],
    x: FloatArray,
    activation: Activation,
    *,
    compress: bool,
    norm: str = "none",
) -> Iterator[FloatArray]:
    """Yield ``J^l`` (``compress=False``) or ``K^l`` (``J^l = Q K^l``, see the module docstring)
    for ``l = 1..depth``, shape ``(P, k, n_l)`` with ``k = n_0`` or ``min(n_0, n_1)``; with
    ``norm="layer_norm"`` through each layer's normalization."""
    n_0, n_1 = hidden[0].W.shape
    a = x
    J: FloatArray | None = None
    for layer in hidden:
        W, b = _float64(layer)
        z = a @ W
        z += b
        if J is None:  # J^0 = identity: the product starts with W^1 (or R)
            left = np.linalg.qr(W, mode="r") if compress and n_0 > n_1 else W
            JW = np.broadcast_to(left, (len(x), *left.shape))
        else:
            p, k, n = J.shape
            JW = (J.reshape(p * k, n) @ W).reshape(p, k, W.shape[1])
        if norm == "layer_norm":
            z, xhat, s = _layer_norm64(z, layer)
            JW = _times_layer_norm_jacobian(JW, xhat, s, layer)
        a, d = activation.value_and_grad(z)
        J = JW * d[:, None, :]
        yield J


def input_jacobians(
    params: Sequence[Layer], X: npt.ArrayLike, activation: Activation, *, norm: str = "none"
) -> Iterator[FloatArray]:
    """Iterate over the input-output Jacobians ``J^l = d a^l / d x`` of the hidden layers.

    Arguments are checked on the call; the layers are computed as the iterator advances.

    Parameters
    ----------
    params : sequence of Layer
        The network (``depth + 1`` layers; the output layer is not used).
    X : array_like, shape (P, n_0)
        The probe inputs, one per row.
    activation : Activation
        Hidden-layer nonlinearity.
    norm : str
        ``"none"`` or ``"layer_norm"`` (:data:`SPECTRUM_NORMS`): the hidden layers' normalization
        (module docstring).

    Returns
    -------
    iterator of ndarray, each of shape (P, n_0, n_l)
        ``J^l[p, i, j] = d a^l_j / d x_i`` at ``x = X[p]``, float64, for ``l = 1..depth`` in
        order (a new array each time; the iterator itself holds two layers' worth).
    """
    hidden = _hidden(params, norm)
    x = _inputs64(X, hidden[0].W.shape[0])
    return _jacobian_chain(hidden, x, activation, compress=False, norm=norm)


def jacobian_spectrum(
    params: Sequence[Layer], X: npt.ArrayLike, activation: Activation, *, norm: str = "none"
) -> JacobianSpectrum:
    """Measure ``mean(s^2)`` of every hidden layer's Jacobian and the last one's singular values.

    See the module docstring for the definitions and the QR compression used when ``n_0 > n_1``.
    Costs ``P n_0' n^2`` multiply-adds per layer of width ``n`` (``n_0' = min(n_0, n_1)``) and one
    batched SVD of ``(P, n_0', n_depth)``.

    Parameters
    ----------
    params : sequence of Layer
        The network (``depth + 1`` layers, any float dtype; computed in float64).
    X : array_like, shape (P, n_0)
        The probe inputs, one per row.
    activation : Activation
        Hidden-layer nonlinearity.
    norm : str
        ``"none"`` or ``"layer_norm"`` (:data:`SPECTRUM_NORMS`): the hidden layers' normalization
        (module docstring).

    Returns
    -------
    JacobianSpectrum
        ``mean_s2`` of shape ``(depth,)`` and ``singular_values`` of shape
        ``(P, min(n_0, n_depth))``.
    """
    hidden = _hidden(params, norm)
    n_0 = hidden[0].W.shape[0]
    x = _inputs64(X, n_0)
    mean_s2 = np.empty(len(hidden))
    J = np.empty((0, 0, 0))
    chain = _jacobian_chain(hidden, x, activation, compress=True, norm=norm)
    with np.errstate(over="ignore", invalid="ignore"):
        for i, J in enumerate(chain):
            flat = J.ravel()
            mean_s2[i] = np.dot(flat, flat) / (J.shape[0] * min(n_0, J.shape[2]))
    p, k, n_last = J.shape
    width = min(n_0, n_last)
    s = np.full((p, width), np.nan)
    finite = np.all(np.isfinite(J), axis=(1, 2))
    if finite.any():
        try:
            s[finite, : min(k, n_last)] = np.linalg.svd(J[finite], compute_uv=False)
            s[finite, min(k, n_last) :] = 0.0
        except np.linalg.LinAlgError:  # LAPACK did not converge: leave the spectrum NaN
            s[:] = np.nan
    return JacobianSpectrum(mean_s2, s, (n_0, n_last))


def jacobian_singular_values(
    params: Sequence[Layer], X: npt.ArrayLike, activation: Activation, *, norm: str = "none"
) -> FloatArray:
    """Singular values of the last hidden layer's input-output Jacobian for each probe.

    For an intermediate layer ``l`` pass ``params[:l + 1]`` (the first ``l`` hidden layers and
    any layer standing in for the output layer, which is not used).

    Parameters
    ----------
    params : sequence of Layer
        The network (``depth + 1`` layers).
    X : array_like, shape (P, n_0)
        The probe inputs.
    activation : Activation
        Hidden-layer nonlinearity.
    norm : str
        ``"none"`` or ``"layer_norm"`` (:data:`SPECTRUM_NORMS`): the hidden layers' normalization
        (module docstring).

    Returns
    -------
    ndarray, shape (P, min(n_0, n_depth))
        Singular values of ``J^depth`` at each probe, descending; NaN rows where the Jacobian
        is not finite.
    """
    return jacobian_spectrum(params, X, activation, norm=norm).singular_values


def spectrum_summary(spectrum: JacobianSpectrum) -> dict[str, float]:
    """Summary numbers of the last hidden layer's spectrum, pooled over the probes.

    ``jac_std_log_s`` is the (population) standard deviation of ``ln s``: the spread of the
    gains over directions, 0 for perfect dynamical isometry. It is NaN when any singular value
    is not finite, or is zero: then ``J`` is rank-deficient and ``ln s`` undefined (ReLU nets
    whose width is not much larger than ``n_0``: a ReLU zeroes about half the columns of ``J``).
    "Zero" is exact zero or, because a computed SVD rarely returns exact zeros, at most the
    numerical-rank tolerance of :func:`numpy.linalg.matrix_rank`,
    ``s_max * max(n_0, n_depth) * eps`` of that probe's matrix, below which a singular value
    is rounding noise.

    Parameters
    ----------
    spectrum : JacobianSpectrum
        As returned by :func:`jacobian_spectrum`.

    Returns
    -------
    dict of str to float
        ``jac_mean_s2`` (``mean_s2`` of the last hidden layer), ``jac_std_log_s``,
        ``jac_max_s`` and ``jac_min_s`` (largest and smallest singular value over all probes;
        NaN if any is not finite).
    """
    s = spectrum.singular_values
    out = {
        "jac_mean_s2": float(spectrum.mean_s2[-1]),
        "jac_std_log_s": math.nan,
        "jac_max_s": math.nan,
        "jac_min_s": math.nan,
    }
    if s.size == 0 or not np.all(np.isfinite(s)):
        return out
    out["jac_max_s"] = float(s.max())
    out["jac_min_s"] = float(s.min())
    tol = s.max(axis=1, keepdims=True) * max(spectrum.shape) * np.finfo(np.float64).eps
    if np.all(s > tol):
        out["jac_std_log_s"] = float(np.std(np.log(s)))
    return out


def pair_inputs(
    X: npt.ArrayLike, *, n_pairs: int = PAIR_COUNT, c0: float = PAIR_COSINE
) -> tuple[FloatArray, FloatArray, float]:
    """Input pairs of equal length and fixed cosine, built from consecutive rows of ``X``.

    Walking from the first row: rows ``i`` and ``i + 1`` make a pair (construction in the
    module docstring) and the walk continues at ``i + 2``; if row ``i`` is zero, or row
    ``i + 1`` is parallel to it (orthogonal residual below ``1e-6`` of its norm), row ``i`` is
    skipped. Stops after ``n_pairs`` pairs or at the end of ``X``.

    Parameters
    ----------
    X : array_like, shape (B, n_0)
        Probe batch; ``q0 = mean(X^2)`` is taken over all of it.
    n_pairs : int
        Number of pairs wanted.
    c0 : float
        Cosine between the two inputs of every pair, in ``[-1, 1]``.

    Returns
    -------
    x_a, x_b : ndarray, shape (m, n_0)
        The pairs (``m <= n_pairs``, 0 if no pair can be built), float64, with
        ``|x_a|^2 = |x_b|^2 = n_0 q0`` and cosine ``c0``.
    q0 : float
        Mean square of the entries of ``X``.
    """
    x = np.asarray(X, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"X must be 2-D (B, n_0), got shape {x.shape}")
    if not -1.0 <= c0 <= 1.0:
        raise ValueError(f"c0 must be in [-1, 1], got {c0!r}")
    n_0 = x.shape[1]
    q0 = float(np.mean(x * x)) if x.size else math.nan
    scale = math.sqrt(n_0 * q0) if math.isfinite(q0) else math.nan
    side = math.sqrt((1.0 - c0) * (1.0 + c0))
    xa: list[FloatArray] = []
    xb: list[FloatArray] = []
    i = 0
    while i + 1 < len(x) and len(xa) < n_pairs:
        u, y = x[i], x[i + 1]
        nu, ny = np.linalg.norm(u), np.linalg.norm(y)
        if nu > 0 and ny > 0:
            u_hat = u / nu
            r = y - np.dot(y, u_hat) * u_hat
            nr = np.linalg.norm(r)
            if nr > _PAIR_RESIDUAL * ny:
                xa.append(scale * u_hat)
                xb.append(scale * (c0 * u_hat + side * (r / nr)))
                i += 2
                continue
        i += 1
    empty = np.empty((0, n_0))
    return (np.array(xa) if xa else empty), (np.array(xb) if xb else empty), q0


def pair_correlations(
    params: Sequence[Layer],
    X: npt.ArrayLike,
    activation: Activation,
    *,
    n_pairs: int = PAIR_COUNT,
    c0: float = PAIR_COSINE,
    norm: str = "none",
) -> FloatArray:
    """Mean cosine of the hidden pre-activations of the input pairs of :func:`pair_inputs`.

    For each pair ``c^l = <z_a^l, z_b^l> / (|z_a^l| |z_b^l|)`` (uncentred, as in mean-field
    theory; after layer norm with ``norm="layer_norm"``), computed in float64 and averaged over
    the pairs.

    Parameters
    ----------
    params : sequence of Layer
        The network (``depth + 1`` layers; the output layer is not used).
    X : array_like, shape (B, n_0)
        Probe batch the pairs are built from.
    activation : Activation
        Hidden-layer nonlinearity.
    n_pairs : int
        Number of pairs.
    c0 : float
        Input cosine of every pair.
    norm : str
        ``"none"`` or ``"layer_norm"`` (:data:`SPECTRUM_NORMS`): the hidden layers' normalization
        (module docstring).

    Returns
    -------
    ndarray, shape (depth,)
        Mean pair cosine at ``l = 1..depth``; NaN where no pair could be built or a
        pre-activation vector is zero or not finite.
    """
    hidden = _hidden(params, norm)
    x_a, x_b, _ = pair_inputs(X, n_pairs=n_pairs, c0=c0)
    out = np.full(len(hidden), np.nan)
    m = len(x_a)
    if m == 0:
        return out
    a = np.concatenate([x_a, x_b])
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for i, layer in enumerate(hidden):
            W, b = _float64(layer)
            z = a @ W
            z += b
            if norm == "layer_norm":
                z = _layer_norm64(z, layer)[0]
            za, zb = z[:m], z[m:]
            dot = np.einsum("pj,pj->p", za, zb)
            norms = np.sqrt(np.einsum("pj,pj->p", za, za) * np.einsum("pj,pj->p", zb, zb))
            out[i] = np.mean(dot / norms)
            a = activation.fn(z)
    return out
