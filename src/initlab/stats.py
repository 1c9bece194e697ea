"""Per-layer statistics of a forward/backward pass: pure functions of ``(Forward, Gradients)``.

For every layer ``l = 1..depth+1`` (the output layer is ``depth+1``), on one probe batch:

- ``z_mean``, ``z_var``, ``z_q``: mean, variance and second moment ``q^l = mean(z^2)`` of the
  pre-activations ``z^l``, the input of ``phi``, over all batch x unit entries (``q^l`` is what
  mean-field theory predicts). In a normalized hidden layer ``z^l`` is the normalized value
  ``gamma * xhat + beta``.
- ``h_mean``, ``h_var``, ``h_q``: the same of the affine output ``h^l = a^{l-1} W^l + b^l``
  before normalization; equal to the ``z`` columns wherever ``z^l = h^l`` (every layer of a
  network without normalization, and the output layer).
- ``a_mean``, ``a_std``: of the activations ``a = phi(z)`` (the logits for the output layer).
- ``saturated_frac``: share of unit-sample entries whose local derivative ``|phi'(z)|`` is below
  5% of the activation's maximum derivative (sigmoid and tanh tails, the negative side of ReLU).
- ``dead_frac``: share of units whose ``|phi'(z)|`` is below 1e-6 of the maximum for *every*
  probe sample (a ReLU unit that never fires). Both are NaN for the output layer, which has no
  nonlinearity.
- ``delta_rms``, ``delta_var``: of ``delta^l = dL/dz^l`` (the gradient w.r.t. the normalized
  values in a normalized layer).
- ``dh_rms``: rms of ``dL/dh^l``, the gradient w.r.t. the affine output, from which
  ``dL/dW^l = a^{l-1}.T dL/dh^l`` is built; through a normalization ``dL/dh^l`` is ``delta^l``
  projected and rescaled by ``gamma s`` (:mod:`initlab.model`), elsewhere it is ``delta^l``.
- ``wgrad_norm``, ``wgrad_rms``: Frobenius norm and rms of ``dL/dW^l``; ``bgrad_norm``;
  ``w_norm``: Frobenius norm of ``W^l``.
- ``a_qXX`` and ``absdelta_qXX``: the 1, 5, 25, 50, 75, 95, 99 % quantiles of ``a`` and
  ``|delta|`` (for distribution plots).

Statistics are accumulated in float64 whatever the training dtype. They describe the pass they
are given; training takes them on a pass without dropout (:mod:`initlab.train`).

Signal-propagation columns (:data:`SPECTRUM_COLUMNS`, :func:`spectrum_stats`), measured only at
initialization because they cost a batched product of Jacobians (:mod:`initlab.spectra`); NaN
for the output layer:

- ``jac_mean_s2``: mean squared singular value ``||J^l||_F^2 / min(n_0, n_l)`` of the
  input-output Jacobian ``J^l = d a^l / d x``, averaged over the first
  :data:`~initlab.spectra.JACOBIAN_PROBES` probe inputs (mean-field prediction:
  :func:`initlab.theory.predict_jacobian`).
- ``corr_c``: cosine ``<z_a^l, z_b^l> / (|z_a^l| |z_b^l|)`` of the pre-activations of two inputs
  of squared norm ``n_0 mean(X^2)`` and cosine :data:`~initlab.spectra.PAIR_COSINE`, built from
  consecutive probe rows (:func:`initlab.spectra.pair_inputs`), averaged over
  :data:`~initlab.spectra.PAIR_COUNT` pairs (prediction:
  :func:`initlab.theory.predict_correlation`).

and the run-level numbers of the last hidden layer's Jacobian spectrum
(:data:`SPECTRUM_SUMMARY_KEYS`, pooled over the probes): ``jac_mean_s2``, ``jac_std_log_s`` (std
of ``ln s``; NaN if ``J`` is rank-deficient or not finite), ``jac_max_s`` and ``jac_min_s``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from initlab.activations import Activation
from initlab.model import Forward, Gradients, Layer
from initlab.records import (
    DEAD_THRESHOLD,
    QUANTILES,
    SATURATION_THRESHOLD,
    SPECTRUM_COLUMNS,
    SPECTRUM_SUMMARY_KEYS,
    STAT_COLUMNS,
)
from initlab.spectra import (
    JACOBIAN_PROBES,
    jacobian_spectrum,
    pair_correlations,
    spectrum_summary,
)

__all__ = [
    "DEAD_THRESHOLD",
    "QUANTILES",
    "SATURATION_THRESHOLD",
    "SPECTRUM_COLUMNS",
    "SPECTRUM_SUMMARY_KEYS",
    "STAT_COLUMNS",
    "ensemble_layer_stats",
    "layer_stats",
    "spectrum_stats",
    "update_ratios",
]

Array = npt.NDArray[np.floating[Any]]


_QUANTILE_FRACTIONS = np.asarray(QUANTILES, dtype=np.float64) / 100.0


@functools.lru_cache(maxsize=16)
def _quantile_positions(size: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    """Indices ``[lo..., hi...]`` into a sorted array of ``size`` values and the interpolation
    weights ``frac`` of :data:`QUANTILES` (numpy's default "linear" method: position
    ``q (size - 1)``, Hyndman & Fan 1996, definition 7)."""
    pos = _QUANTILE_FRACTIONS * (size - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, size - 1)
    index = np.concatenate([lo, hi])
    index.setflags(write=False)
    frac = pos - lo
    frac.setflags(write=False)
    return index, frac


def _quantiles(x: Array) -> npt.NDArray[np.float64]:
    """The :data:`QUANTILES` of each network's block of ``x`` ``(N, ...)``, ``(N, 7)``, with
    numpy's default linear interpolation.

    One sort per network in the array's own dtype (float32 sorts are several times faster than
    ``np.percentile`` on a float64 copy); the interpolation is done in float64, as
    ``np.percentile`` does it: ``a + (b - a) * frac``.
    """
    s = np.sort(x.reshape(len(x), -1), axis=1)
    index, frac = _quantile_positions(s.shape[1])
    ends = s[:, index].astype(np.float64)
    a, b = ends[:, : len(frac)], ends[:, len(frac) :]
    return a + (b - a) * frac


def _sum(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Sum over each network's block of ``x`` ``(N, ...)``: one pairwise sum over the block's
    entries in memory order, as ``x[n].sum()`` of a contiguous block does it."""
    return np.add.reduce(x.reshape(len(x), -1), axis=1)


def _moments(
    x: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``(mean, var, mean of squares)`` over each network's block of a float64 array
    ``(N, ...)``, arrays ``(N,)``.

    The same operations as ``x[n].mean()``, ``x[n].var()`` and ``np.mean(x[n] * x[n])`` (one
    pairwise sum each, divided by the count), hence the same numbers, with the mean computed
    once.
    """
    n = x[0].size
    mean = _sum(x) / n
    sq = np.multiply(x, x)
    q = _sum(sq) / n
    np.subtract(x, mean.reshape(-1, *([1] * (x.ndim - 1))), out=sq)
    np.square(sq, out=sq)
    var = _sum(sq) / n
    return mean, var, q


def _unit_derivative_stats(
    slope: Array, activation: Activation
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Saturated share of entries and dead share of units of one hidden layer, from its local
    derivatives ``phi'(z)`` ``(N, B, n)``: arrays ``(N,)``."""
    d = np.abs(slope)
    d /= activation.max_grad
    per_network = d[0].size
    saturated = np.count_nonzero((d < SATURATION_THRESHOLD).reshape(len(d), -1), axis=1)
    dead = np.count_nonzero(np.all(d < DEAD_THRESHOLD, axis=1), axis=1)
    return saturated / per_network, dead / d.shape[2]


def layer_stats(
    params: Sequence[Layer], fwd: Forward, grads: Gradients, activation: Activation
) -> dict[str, npt.NDArray[np.float64]]:
    """Compute every statistic of :data:`STAT_COLUMNS` for each layer.

    Parameters
    ----------
    params : sequence of Layer
        The parameters the pass was run with (``depth + 1`` layers).
    fwd : Forward
        The forward pass on the probe batch. Its local derivatives ``fwd.dphi`` are used when
        the pass kept them (they are ``activation.grad(z)``); otherwise they are recomputed.
    grads : Gradients
        The backward pass of the same batch.
    activation : Activation
        The hidden nonlinearity (for saturation and dead units).

    Returns
    -------
    dict of str to ndarray, each of shape (depth + 1,)
        Row ``i`` belongs to layer ``l = i + 1``.
    """
    stats = ensemble_layer_stats(params, fwd, grads, activation, n_networks=1)
    return {column: values[0] for column, values in stats.items()}


def ensemble_layer_stats(
    params: Sequence[Layer],
    fwd: Forward,
    grads: Gradients,
    activation: Activation,
    n_networks: int | None = None,
) -> dict[str, npt.NDArray[np.float64]]:
    """:func:`layer_stats` of every network of an ensemble at once.

    ``params``, ``fwd`` and ``grads`` hold an ensemble's stacked arrays (a leading network axis,
    :mod:`initlab.model`, "Ensembles"), or one network's (``n_networks=1``). Each network's
    numbers are those :func:`layer_stats` gives it alone, bit for bit: every reduction runs over
    one network's block in the same order, only the Python loop over the networks is gone
    (the Frobenius norms ``bgrad_norm`` and ``w_norm`` keep one ``np.linalg.norm`` per network:
    it sums with BLAS, whose order a batched sum would not reproduce).

    Returns
    -------
    dict of str to ndarray, each of shape (N, depth + 1)
    """
    lone = n_networks == 1 and params[0].W.ndim == 2

    def st(x: Array) -> Array:
        return x[None] if lone else x

    n = len(params)
    N = 1 if lone else len(params[0].W)
    out = {c: np.full((N, n), np.nan) for c in STAT_COLUMNS}
    for i in range(n):
        hidden = i < n - 1
        z_stats = _moments(st(fwd.z[i]).astype(np.float64))
        out["z_mean"][:, i], out["z_var"][:, i], out["z_q"][:, i] = z_stats
        if fwd.h[i] is not fwd.z[i]:  # normalized: h is the affine output before it
            z_stats = _moments(st(fwd.h[i]).astype(np.float64))
        out["h_mean"][:, i], out["h_var"][:, i], out["h_q"][:, i] = z_stats
        a_raw = st(fwd.a[i + 1] if hidden else fwd.z[i])
        if hidden:
            a_mean, a_var, _ = _moments(a_raw.astype(np.float64))
        else:  # the logits: a is z
            a_mean, a_var = out["z_mean"][:, i], out["z_var"][:, i]
        out["a_mean"][:, i], out["a_std"][:, i] = a_mean, np.sqrt(a_var)
        if hidden:
            slope = fwd.dphi[i] if fwd.dphi is not None else activation.grad(fwd.z[i])
            out["saturated_frac"][:, i], out["dead_frac"][:, i] = _unit_derivative_stats(
                st(slope), activation
            )
        delta = st(grads.delta[i])
        _, delta_var, delta_q = _moments(delta.astype(np.float64))
        out["delta_rms"][:, i] = np.sqrt(delta_q)
        out["delta_var"][:, i] = delta_var
        if grads.dh[i] is grads.delta[i]:
            out["dh_rms"][:, i] = out["delta_rms"][:, i]
        else:
            dh = st(grads.dh[i]).astype(np.float64)
            out["dh_rms"][:, i] = np.sqrt(_sum(np.square(dh)) / dh[0].size)
        dW = st(grads.dW[i]).astype(np.float64)
        dW_sq = _sum(np.square(dW))
        out["wgrad_norm"][:, i] = np.sqrt(dW_sq)
        out["wgrad_rms"][:, i] = np.sqrt(dW_sq / dW[0].size)
        db, W = st(grads.db[i]), st(params[i].W)
        for k in range(N):
            out["bgrad_norm"][k, i] = np.linalg.norm(db[k].astype(np.float64))
            out["w_norm"][k, i] = np.linalg.norm(W[k].astype(np.float64))
        a_q = _quantiles(a_raw)
        d_q = _quantiles(np.abs(delta))
        for j, q in enumerate(QUANTILES):
            out[f"a_q{q:02d}"][:, i] = a_q[:, j]
            out[f"absdelta_q{q:02d}"][:, i] = d_q[:, j]
    return out


def update_ratios(before: Sequence[Array], after: Sequence[Layer]) -> npt.NDArray[np.float64]:
    """``||W_after - W_before||_F / ||W_before||_F`` per layer (NaN where ``W_before = 0``).

    Parameters
    ----------
    before : sequence of ndarray
        Copies of each ``W^l`` taken before the update.
    after : sequence of Layer
        The parameters after the update.

    Returns
    -------
    ndarray, shape (depth + 1,)
    """
    ratios = np.full(len(before), np.nan)
    for i, (w0, layer) in enumerate(zip(before, after, strict=True)):
        w0_64 = w0.astype(np.float64)
        norm = np.linalg.norm(w0_64)
        if norm > 0:
            ratios[i] = np.linalg.norm(layer.W.astype(np.float64) - w0_64) / norm
    return ratios


def spectrum_stats(
    params: Sequence[Layer], X: Array, activation: Activation, *, norm: str = "none"
) -> tuple[dict[str, npt.NDArray[np.float64]], dict[str, float]]:
    """Jacobian and input-correlation statistics of the network on a probe batch.

    Pure: reads the parameters (cast to float64 one layer at a time), draws nothing. Measured
    on the evaluation-mode network (:mod:`initlab.spectra`): dropout plays no part, layer norm
    is followed exactly, and a batch-normalized network is not measured (every number NaN).

    Parameters
    ----------
    params : sequence of Layer
        The network (``depth + 1`` layers, ``depth >= 1``).
    X : ndarray, shape (B, n_0)
        The probe batch: the Jacobians are taken at its first
        :data:`~initlab.spectra.JACOBIAN_PROBES` rows, the input pairs are built from its first
        rows and scaled with its mean square.
    activation : Activation
        Hidden-layer nonlinearity.
    norm : str
        The hidden layers' normalization, one of :data:`initlab.model.NORMS`.

    Returns
    -------
    columns : dict of str to ndarray, each of shape (depth + 1,)
        :data:`SPECTRUM_COLUMNS`; row ``i`` belongs to layer ``l = i + 1``, NaN for the output
        layer.
    summary : dict of str to float
        :data:`SPECTRUM_SUMMARY_KEYS` (see :func:`initlab.spectra.spectrum_summary`).
    """
    n = len(params)
    columns = {c: np.full(n, np.nan) for c in SPECTRUM_COLUMNS}
    if norm == "batch_norm":
        return columns, dict.fromkeys(SPECTRUM_SUMMARY_KEYS, float("nan"))
    spectrum = jacobian_spectrum(params, X[:JACOBIAN_PROBES], activation, norm=norm)
    columns["jac_mean_s2"][:-1] = spectrum.mean_s2
    columns["corr_c"][:-1] = pair_correlations(params, X, activation, norm=norm)
    return columns, spectrum_summary(spectrum)
