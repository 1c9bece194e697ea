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
    "layer_stats",
    "spectrum_stats",
    "update_ratios",
]

Array = npt.NDArray[np.floating[Any]]


def _quantiles(x: Array) -> npt.NDArray[np.float64]:
    """The :data:`QUANTILES` of ``x`` with numpy's default linear interpolation.

    One sort in the array's own dtype (float32 sorts are several times faster than
    ``np.percentile`` on a float64 copy); the interpolation is done in float64.
    """
    s = np.sort(x, axis=None)
    pos = np.asarray(QUANTILES, dtype=np.float64) / 100.0 * (s.size - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, s.size - 1)
    frac = pos - lo
    a, b = s[lo].astype(np.float64), s[hi].astype(np.float64)
    return a + (b - a) * frac


def _unit_derivative_stats(z: Array, activation: Activation) -> tuple[float, float]:
    """Saturated share of entries and dead share of units of one hidden layer ``z`` (B, n)."""
    d = np.abs(activation.grad(z)) / activation.max_grad
    saturated = float(np.mean(d < SATURATION_THRESHOLD))
    dead = float(np.mean(np.all(d < DEAD_THRESHOLD, axis=0)))
    return saturated, dead


def layer_stats(
    params: Sequence[Layer], fwd: Forward, grads: Gradients, activation: Activation
) -> dict[str, npt.NDArray[np.float64]]:
    """Compute every statistic of :data:`STAT_COLUMNS` for each layer.

    Parameters
    ----------
    params : sequence of Layer
        The parameters the pass was run with (``depth + 1`` layers).
    fwd : Forward
        The forward pass on the probe batch.
    grads : Gradients
        The backward pass of the same batch.
    activation : Activation
        The hidden nonlinearity (for saturation and dead units).

    Returns
    -------
    dict of str to ndarray, each of shape (depth + 1,)
        Row ``i`` belongs to layer ``l = i + 1``.
    """
    n = len(params)
    out = {c: np.full(n, np.nan) for c in STAT_COLUMNS}
    for i in range(n):
        z = fwd.z[i].astype(np.float64)
        normalized = fwd.h[i] is not fwd.z[i]
        hidden = i < n - 1
        a = fwd.a[i + 1].astype(np.float64) if hidden else z
        delta = grads.delta[i].astype(np.float64)
        dW = grads.dW[i].astype(np.float64)
        out["z_mean"][i] = z.mean()
        out["z_var"][i] = z.var()
        out["z_q"][i] = np.mean(z * z)
        if normalized:
            h = fwd.h[i].astype(np.float64)
            h_stats = (h.mean(), h.var(), np.mean(h * h))
        else:  # h is z: the same numbers, not computed twice
            h_stats = (out["z_mean"][i], out["z_var"][i], out["z_q"][i])
        out["h_mean"][i], out["h_var"][i], out["h_q"][i] = h_stats
        out["a_mean"][i] = a.mean()
        out["a_std"][i] = a.std()
        if hidden:
            out["saturated_frac"][i], out["dead_frac"][i] = _unit_derivative_stats(
                fwd.z[i], activation
            )
        out["delta_rms"][i] = np.sqrt(np.mean(delta * delta))
        out["delta_var"][i] = delta.var()
        if grads.dh[i] is grads.delta[i]:
            out["dh_rms"][i] = out["delta_rms"][i]
        else:
            dh = grads.dh[i].astype(np.float64)
            out["dh_rms"][i] = np.sqrt(np.mean(dh * dh))
        out["wgrad_norm"][i] = np.sqrt(np.sum(dW * dW))
        out["wgrad_rms"][i] = np.sqrt(np.mean(dW * dW))
        out["bgrad_norm"][i] = np.linalg.norm(grads.db[i].astype(np.float64))
        out["w_norm"][i] = np.linalg.norm(params[i].W.astype(np.float64))
        a_raw = fwd.a[i + 1] if hidden else fwd.z[i]
        for q, v in zip(QUANTILES, _quantiles(a_raw), strict=True):
            out[f"a_q{q:02d}"][i] = v
        for q, v in zip(QUANTILES, _quantiles(np.abs(grads.delta[i])), strict=True):
            out[f"absdelta_q{q:02d}"][i] = v
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
