"""Mean-field signal propagation through random MLPs.

A layer computes ``z^{l+1} = phi(z^l) @ W + b`` with ``W_ij ~ (0, sigma_w^2 / N)`` and
``b_i ~ N(0, sigma_b^2)``. For wide layers the pre-activations are Gaussian and their second
moment ``q^l`` and the correlation ``c^l`` between two inputs obey deterministic maps:

- length map ``q^{l+1} = sigma_w^2 E[phi(sqrt(q^l) z)^2] + sigma_b^2`` with fixed point ``q*``;
- correlation map ``c^{l+1} = (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q^{l+1}`` with
  ``u1 = sqrt(q) z1``, ``u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2)``, fixed point ``c*``;
- ``chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]``: slope of the correlation map at ``c = 1`` and the
  per-layer factor of the back-propagated gradient variance (ordered phase ``chi_1 < 1``,
  chaotic ``chi_1 > 1``, edge of chaos ``chi_1 = 1``);
- depth scales ``xi_q``, ``xi_c``: how many layers deviations from ``q*`` and ``c*`` survive.

Every Gaussian expectation is a quadrature, never a hand-typed table: one-dimensional ones go
through :func:`initlab.quadrature.gaussian_expectation` (exact to about 1e-13, split at the
activation's kinks); the correlated pairs of the correlation map use the iterated
Gauss-Legendre rule :func:`pair_expectation` below, whose inner rule is split where ``u2``
crosses a kink, so ReLU-like activations stay exact as well.

Expectations at ``q = 0`` are the limits ``q -> 0+`` (for ReLU, ``E[phi'(sqrt(q) z)^2] = 1/2``
for every ``q > 0``, although ``phi'(0) = 0``); they matter where ``q* = 0`` (tanh with
``sigma_b^2 = 0``, ``sigma_w^2 <= 1``).

References
----------
- Glorot & Bengio (2010), AISTATS, eqs. 5-7: variance products through linear layers.
- He, Zhang, Ren & Sun (2015), ICCV, eqs. 7-14: forward and backward variance for rectifiers.
- Poole, Lahiri, Raghu, Sohl-Dickstein & Ganguli (2016), NeurIPS, "Exponential expressivity in
  deep neural networks through transient chaos": length and correlation maps, ``chi_1``.
- Schoenholz, Gilmer, Ganguli & Sohl-Dickstein (2017), ICLR, "Deep Information Propagation":
  depth scales ``xi_q``, ``xi_c`` and trainability ``L <~ 6 xi_c``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import optimize

from initlab import activations as _activations
from initlab import initializers as _initializers
from initlab.activations import Activation
from initlab.initializers import Initializer
from initlab.quadrature import Z_MAX, gaussian_expectation, legendre, normal_density, piecewise_rule

__all__ = [
    "MeanField",
    "chi1",
    "correlation_map",
    "correlation_slope_at_one",
    "critical_line",
    "critical_sigma_w2",
    "depth_scales",
    "fixed_correlation",
    "fixed_point",
    "length_map",
    "length_slope",
    "mean_field",
    "network_mean_field",
    "pair_expectation",
    "predict_layers",
]

FloatArray = npt.NDArray[np.float64]
Fn = Callable[[FloatArray], FloatArray]

Q_LIMIT = 1e-30
"""Variance standing in for ``q = 0`` in expectations of possibly discontinuous functions (the
limit ``q -> 0+``); ``sqrt(Q_LIMIT) = 1e-15`` keeps every activation in its linear regime."""

Q_MAX = 1e100
"""Largest length the fixed-point search tries before it declares that ``q`` diverges."""

_PAIR_NODES = 16  # Gauss-Legendre nodes per piece of the 2-D rule
_PIECE = 1.0  # longest outer piece, in units of z
_FEATURES = (-16.0, -8.0, -4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0, 8.0, 16.0)
"""Extra split points (pre-activation units) for every quadrature. The built-in nonlinearities
bend on the scale ``|u| ~ 1``; for large ``q`` that region is narrow in ``z`` (width
``1/sqrt(q)``) and a unit-length Gauss-Legendre piece would not resolve it (E[tanh'(u)^2] at
``q = 1e4`` would be off by percents). Splitting there is harmless for small ``q``: the points
leave ``|z| < 12`` or coincide with piece ends."""
_NOISE = 1e-10  # relative size below which L(q) - q is treated as rounding noise
_EPS = float(np.finfo(np.float64).eps)
UNIT_TOL = 1e-11
"""A per-layer factor (a map's slope, ``chi_1``) within this of 1 counts as exactly 1, so its
depth scale is ``inf``: the quadratures are accurate to about 1e-13, and ReLU at
``sigma_w2 = 2`` or a linear net must not get a depth scale of 1e15 layers from rounding."""


# --- helpers ---------------------------------------------------------------------------------


def _act(act: Activation | str) -> Activation:
    return act if isinstance(act, Activation) else _activations.get(act)


def _check_nonneg(**values: float) -> None:
    for key, value in values.items():
        if not (
            isinstance(value, int | float | np.floating) and math.isfinite(value) and value >= 0
        ):
            raise ValueError(f"{key} must be a finite number >= 0, got {value!r}")


def _limit_q(q: float) -> float:
    return q if q > 0 else Q_LIMIT


def _splits(a: Activation) -> tuple[float, ...]:
    return tuple(sorted({*a.kinks, *_FEATURES}))


def _expect(g: Fn, q: float, a: Activation) -> float:
    """``E[g(sqrt(q) z)]`` split at the kinks of ``a`` and at ``_FEATURES``."""
    return gaussian_expectation(g, q, _splits(a))


def _at_zero(f: Fn) -> float:
    return float(f(np.zeros(1))[0])


def pair_expectation(f: Fn, g: Fn, q: float, c: float, kinks: Iterable[float] = ()) -> float:
    """Return ``E[f(u1) g(u2)]`` for ``u1 = sqrt(q) z1``, ``u2 = sqrt(q) (c z1 + sqrt(1-c^2) z2)``.

    ``z1, z2`` are independent standard normals, so ``(u1, u2)`` is a centred Gaussian pair with
    variances ``q`` and correlation ``c`` (Poole et al. 2016, NeurIPS, the ``q_12`` map). The
    integral is iterated Gauss-Legendre (``_PAIR_NODES`` nodes per piece): the outer rule in ``z1``
    is split at the kinks of ``f`` and, geometrically refined on the scale ``sqrt(1-c^2)/|c|``,
    around the ``z1`` where the conditional mean of ``u2`` crosses a kink; for every outer node
    the inner rule in ``z2`` (pieces no longer than 1) is split where ``u2`` crosses a kink of
    ``g``. Piecewise functions (ReLU and its step derivative) so keep an accuracy of about 1e-13
    even for ``c -> 1``. For ``q > 1`` the points of ``_FEATURES`` inside ``|u| < sqrt(q)`` are
    split at as well. ``c = +-1`` reduce to one-dimensional :func:`gaussian_expectation` calls.

    Parameters
    ----------
    f, g : callable
        Vectorised float64 functions of the pre-activation.
    q : float
        Common variance, ``q >= 0``; ``q = 0`` means the limit ``q -> 0+``.
    c : float
        Correlation in ``[-1, 1]``.
    kinks : iterable of float
        Points (pre-activation units) where ``f`` or ``g`` is not smooth.

    Returns
    -------
    float
        The expectation.
    """
    _check_nonneg(q=q)
    if not (math.isfinite(c) and -1.0 <= c <= 1.0):
        raise ValueError(f"correlation c must be in [-1, 1], got {c!r}")
    q = _limit_q(q)
    sq = math.sqrt(q)
    true_kinks = sorted({float(k) for k in kinks})
    ks = tuple(sorted({*true_kinks} | {u for u in _FEATURES if abs(u) < sq}))
    if c == 1.0:
        return gaussian_expectation(lambda u: f(u) * g(u), q, (*ks, *_FEATURES))
    if c == -1.0:
        return gaussian_expectation(lambda u: f(u) * g(-u), q, (*ks, *_FEATURES))
    s = math.sqrt((1.0 - c) * (1.0 + c))
    # outer rule in z1: split at the kinks of f(u1) and where E[u2 | z1] = sqrt(q) c z1 crosses a
    # kink of g; around a true kink the inner integral is a step of width s/|c| (sharp for
    # c -> 1), so split there at geometrically growing distances s/|c| * 2^j as well
    outer = [k / sq for k in ks]
    if c != 0.0:
        outer += [k / (sq * c) for k in ks]
        width, steps = s / abs(c), []
        while width < 2.0 * Z_MAX:
            steps += [-width, width]
            width *= 2.0
        outer += [k / (sq * c) + d for k in true_kinks for d in steps]
    breaks = tuple(sorted({b for b in outer if abs(b) < Z_MAX} | {-Z_MAX, Z_MAX}))
    z1, w1 = piecewise_rule(breaks, _PAIR_NODES, _PIECE)
    # inner rule in z2, one row per outer node: the unit grid on [-Z_MAX, Z_MAX] merged with the
    # z2 where sqrt(q) (c z1 + s z2) hits a split point, so no piece is longer than 1
    rows = z1.size
    grid = np.broadcast_to(np.arange(-Z_MAX, Z_MAX + 0.5), (rows, int(2 * Z_MAX) + 1))
    t = (np.asarray(ks)[None, :] / sq - c * z1[:, None]) / s
    cuts = np.sort(np.concatenate([grid, np.clip(t, -Z_MAX, Z_MAX)], axis=1), axis=1)
    lo, hi = cuts[:, :-1, None], cuts[:, 1:, None]
    x, w = legendre(_PAIR_NODES)
    z2 = 0.5 * (hi - lo) * x + 0.5 * (hi + lo)  # (rows, pieces, nodes)
    w2 = 0.5 * (hi - lo) * w * normal_density(z2)
    u2 = sq * (c * z1[:, None, None] + s * z2)
    inner = np.sum(w2 * g(u2), axis=(1, 2))
    return float(np.dot(w1, f(sq * z1) * inner))


# --- length map ------------------------------------------------------------------------------


def length_map(act: Activation | str, sigma_w2: float, sigma_b2: float, q: float) -> float:
    """Length map ``q -> sigma_w2 * E[phi(sqrt(q) z)^2] + sigma_b2``, ``z ~ N(0, 1)``.

    Poole et al. (2016), NeurIPS, the ``q^l`` recursion; Schoenholz et al. (2017), ICLR.

    Parameters
    ----------
    act : Activation or str
        The nonlinearity ``phi`` (or its registry name).
    sigma_w2 : float
        Weight variance times fan-in, ``N Var[W]``.
    sigma_b2 : float
        Bias variance.
    q : float
        Second moment of the incoming pre-activations, ``q >= 0``.

    Returns
    -------
    float
        Second moment of the next layer's pre-activations.
    """
    a = _act(act)
    _check_nonneg(sigma_w2=sigma_w2, sigma_b2=sigma_b2, q=q)
    return sigma_w2 * _expect(lambda u: a.fn(u) ** 2, q, a) + sigma_b2


def length_slope(act: Activation | str, sigma_w2: float, q: float) -> float:
    """Slope of the length map, ``dL/dq = chi_1 + sigma_w2 * E[phi''(sqrt(q) z) phi(sqrt(q) z)]``.

    Schoenholz et al. (2017), ICLR, the ``xi_q`` derivation. Computed without ``phi''``:
    differentiating under the integral, ``dL/dq = sigma_w2 * E[z phi(sqrt(q) z) phi'(sqrt(q) z)]
    / sqrt(q)``, which equals the ``phi''`` form after one integration by parts (Stein's lemma) and
    is exact for kinked activations (ReLU: ``sigma_w2 / 2``). ``q = 0`` is the limit ``q -> 0+``.

    Parameters
    ----------
    act : Activation or str
        The nonlinearity.
    sigma_w2 : float
        Weight variance times fan-in.
    q : float
        Length at which to differentiate, ``q >= 0``.

    Returns
    -------
    float
        ``dL/dq`` at ``q``.
    """
    a = _act(act)
    _check_nonneg(sigma_w2=sigma_w2, q=q)
    q = _limit_q(q)

    def g(u: FloatArray) -> FloatArray:
        # z * phi(u) * phi'(u) / sqrt(q), with z = u / sqrt(q)
        return u * a.fn(u) * a.grad(u) / q

    return sigma_w2 * _expect(g, q, a)


def fixed_point(
    act: Activation | str,
    sigma_w2: float,
    sigma_b2: float,
    *,
    q0: float = 1.0,
    tol: float = 1e-12,
    max_iter: int = 200,
) -> float:
    """Fixed point ``q* = sigma_w2 * E[phi(sqrt(q*) z)^2] + sigma_b2`` reached from ``q0``.

    Poole et al. (2016), NeurIPS, the length map's fixed point: iterating the map from ``q0``
    converges monotonically to the nearest fixed point in the direction of ``L(q0) - q0``. That
    fixed point is bracketed by stepping ``q`` from ``q0`` in that direction by growing factors
    (2, 4, 8, ..., at most 1e8) until ``L(q) - q`` changes sign by more than rounding noise
    (``1e-10 q``), then found by Brent's method, which also handles the slow (algebraic)
    convergence of marginal maps. Special cases:

    - ``q0`` already a fixed point (``|L(q0) - q0| <= tol * q0``): returns ``q0``; e.g. ReLU with
      ``sigma_w2 = 2``, ``sigma_b2 = 0``, where every ``q`` is a fixed point.
    - no positive fixed point below ``q0`` while ``L(0) = 0`` (``phi(0) = 0``, ``sigma_b2 = 0``):
      returns ``0.0``; e.g. tanh with ``sigma_w2 <= 1`` or ReLU with ``sigma_w2 < 2``.
    - ``L(q) > q`` all the way up to ``Q_MAX`` (differences above rounding noise): the length
      diverges, returns ``inf``; e.g. ReLU with ``sigma_w2 > 2``, or ``= 2`` with ``sigma_b2 > 0``.

    Parameters
    ----------
    act : Activation or str
        The nonlinearity.
    sigma_w2, sigma_b2 : float
        Weight variance times fan-in, bias variance.
    q0 : float
        Starting length (the input's second moment), ``q0 >= 0``.
    tol : float
        Relative tolerance on ``q*``.
    max_iter : int
        Maximum number of Brent iterations.

    Returns
    -------
    float
        ``q*`` (``0.0`` or ``inf`` in the cases above).
    """
    a = _act(act)
    _check_nonneg(sigma_w2=sigma_w2, sigma_b2=sigma_b2, q0=q0)
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")

    def gap(q: float) -> float:
        return length_map(a, sigma_w2, sigma_b2, q) - q

    l_zero = sigma_w2 * _at_zero(a.fn) ** 2 + sigma_b2
    if q0 == 0.0:
        if l_zero == 0.0:
            return 0.0
        q0 = l_zero
    g0 = gap(q0)
    if abs(g0) <= tol * q0:
        return float(q0)
    if g0 < 0:  # the iteration decreases: largest fixed point below q0
        hi = lo = q0  # hi: smallest point seen with L(q) < q
        step = 2.0
        while True:
            lo /= step
            step = min(step * 2.0, 1e8)
            g_lo = gap(lo)
            if g_lo > _NOISE * lo:
                break
            if g_lo < 0:
                hi = lo
            if lo < 1e-200:  # no positive fixed point: q decays to 0 (or to the tiny L(0))
                return 0.0 if l_zero == 0.0 else l_zero
    else:  # the iteration increases: smallest fixed point above q0
        lo = hi = q0  # lo: largest point seen with L(q) > q
        step = 2.0
        while True:
            hi *= step
            step = min(step * 2.0, 1e8)
            g_hi = gap(hi)
            if g_hi < -_NOISE * hi:
                break
            if g_hi > 0:
                lo = hi
            if hi > Q_MAX:
                return math.inf
    root = optimize.brentq(gap, lo, hi, xtol=tol * lo, rtol=max(tol, 4 * _EPS), maxiter=max_iter)
    return float(root)


def chi1(act: Activation | str, sigma_w2: float, q: float) -> float:
    """``chi_1 = sigma_w2 * E[phi'(sqrt(q) z)^2]``.

    Poole et al. (2016), NeurIPS (slope of the correlation map at ``c = 1``); Schoenholz et al.
    (2017), ICLR: per-layer factor of the back-propagated gradient variance; He et al. (2015),
    eq. 13 at ``q = 1``. ``q = 0`` is the limit ``q -> 0+``.

    Parameters
    ----------
    act : Activation or str
        The nonlinearity.
    sigma_w2 : float
        Weight variance times fan-in (fan-out for the backward pass of non-square layers).
    q : float
        Pre-activation second moment, usually ``q*``.

    Returns
    -------
    float
        ``chi_1``.
    """
    a = _act(act)
    _check_nonneg(sigma_w2=sigma_w2, q=q)
    return sigma_w2 * _expect(lambda u: a.grad(u) ** 2, _limit_q(q), a)


# --- correlation map -------------------------------------------------------------------------


def correlation_map(
    act: Activation | str, sigma_w2: float, sigma_b2: float, q: float, c: float
) -> float:
    """``c -> (sigma_w2 * E[phi(u1) phi(u2)] + sigma_b2) / L(q)`` for two inputs of length ``q``.

    Poole et al. (2016), NeurIPS, the ``c^l`` recursion: ``u1 = sqrt(q) z1``,
    ``u2 = sqrt(q) (c z1 + sqrt(1 - c^2) z2)``; the denominator is the new length
    ``L(q) = sigma_w2 E[phi(sqrt(q) z)^2] + sigma_b2``, which equals ``q`` at ``q = q*``, so
    ``c = 1`` always maps to 1.

    Parameters
    ----------
    act : Activation or str
        The nonlinearity.
    sigma_w2, sigma_b2 : float
        Weight variance times fan-in, bias variance.
    q : float
        Length of both inputs' pre-activations (``q*`` in the papers).
    c : float
        Their correlation, in ``[-1, 1]``.

    Returns
    -------
    float
        The next layer's correlation (NaN if ``L(q) = 0``).
    """
    a = _act(act)
    _check_nonneg(sigma_w2=sigma_w2, sigma_b2=sigma_b2, q=q)
    num = sigma_w2 * pair_expectation(a.fn, a.fn, q, c, a.kinks) + sigma_b2
    den = sigma_w2 * pair_expectation(a.fn, a.fn, q, 1.0, a.kinks) + sigma_b2
    return num / den if den > 0 else math.nan


def _chi_c(a: Activation, sigma_w2: float, q: float, c: float) -> float:
    """``sigma_w2 * E[phi'(u1) phi'(u2)]``: slope of the correlation map at ``(q*, c)``."""
    return sigma_w2 * pair_expectation(a.grad, a.grad, q, c, a.kinks)


def fixed_correlation(act: Activation | str, sigma_w2: float, sigma_b2: float) -> float:
    """Stable fixed point ``c*`` of the correlation map at ``q = q*`` (from ``q0 = 1``).

    Poole et al. (2016), NeurIPS; Schoenholz et al. (2017), ICLR. The map is a
    power series in ``c`` with non-negative coefficients (Hermite expansion), hence increasing
    and convex on ``[0, 1]`` with ``C(1) = 1``: if ``chi_1(q*) <= 1`` (ordered phase) ``c* = 1``;
    otherwise the single root of ``C(c) = c`` in ``[0, 1)``, found by Brent's method.

    Parameters
    ----------
    act : Activation or str
        The nonlinearity.
    sigma_w2, sigma_b2 : float
        Weight variance times fan-in, bias variance.

    Returns
    -------
    float
        ``c*``; NaN if ``q*`` is infinite (no finite length fixed point) or ``q* = 0`` with
        ``L(0) = 0`` (the map tends to the identity: correlations freeze, no ``c*``).
    """
    a = _act(act)
    q = fixed_point(a, sigma_w2, sigma_b2)
    if not math.isfinite(q) or _vanishing_length(a, sigma_w2, sigma_b2, q):
        return math.nan
    return _fixed_correlation(a, sigma_w2, sigma_b2, q)


def _vanishing_length(a: Activation, sigma_w2: float, sigma_b2: float, q: float) -> bool:
    """``q* = 0`` with ``L(0) = 0``: the net becomes linear as ``q -> 0``, the correlation map
    tends to the identity and every ``c`` is a fixed point (no ``c*``)."""
    return q == 0.0 and sigma_w2 * _at_zero(a.fn) ** 2 + sigma_b2 == 0.0


def _fixed_correlation(a: Activation, sigma_w2: float, sigma_b2: float, q: float) -> float:
    if chi1(a, sigma_w2, q) <= 1.0:
        return 1.0

    def gap(c: float) -> float:
        return correlation_map(a, sigma_w2, sigma_b2, q, c) - c

    g0 = gap(0.0)
    if g0 <= 1e-14:  # odd phi without bias: c = 0 is the fixed point
        return 0.0
    eps = 1e-3
    while gap(1.0 - eps) >= 0.0:
        eps /= 10.0
        if eps < 1e-10:  # just above criticality: c* within 1e-10 of 1
            return 1.0
    return float(optimize.brentq(gap, 0.0, 1.0 - eps, xtol=1e-13, rtol=4 * _EPS))


def correlation_slope_at_one(
    act: Activation | str, sigma_w2: float, sigma_b2: float, q: float
) -> float:
    """Slope of the correlation map at ``c = 1`` for inputs of length ``q``: ``chi_1(q) q / L(q)``.

    Poole et al. (2016), NeurIPS; Schoenholz et al. (2017), ICLR. Differentiating
    ``C(c) = (sigma_w2 E[phi(u1) phi(u2)] + sigma_b2) / L(q)`` at ``c = 1`` gives
    ``sigma_w2 E[phi'(u)^2] q / L(q)``, which is ``chi_1`` only at a length fixed point
    ``L(q*) = q* > 0``. Two limits make it exactly 1 whatever ``sigma_w2``:

    - ``q = 0`` with ``L(0) = 0`` (``phi(0) = 0``, ``sigma_b2 = 0``, e.g. tanh with
      ``sigma_w2 <= 1``): near 0 both ``L(q)`` and ``chi_1 q`` are ``sigma_w2 phi'(0)^2 q``, and
      for positively homogeneous ``phi`` (ReLU) they are equal for every ``q``;
    - ``q = inf`` (the length diverges, e.g. ReLU with ``sigma_w2 > 2``): the bias becomes
      negligible and the activations that can diverge grow linearly, so the map is asymptotically
      scale invariant.

    Parameters
    ----------
    act : Activation or str
        The nonlinearity.
    sigma_w2, sigma_b2 : float
        Weight variance times fan-in, bias variance.
    q : float
        Input length, ``q >= 0`` or ``inf``.

    Returns
    -------
    float
        The slope (1.0 exactly in the limits above).
    """
    a = _act(act)
    _check_nonneg(sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    if math.isinf(q) and q > 0:
        return 1.0
    _check_nonneg(q=q)
    if _vanishing_length(a, sigma_w2, sigma_b2, q):
        return 1.0
    length = length_map(a, sigma_w2, sigma_b2, q)
    if abs(length - q) <= UNIT_TOL * q:  # a length fixed point q* > 0: the slope is chi_1
        return chi1(a, sigma_w2, q)
    return chi1(a, sigma_w2, q) * q / length


@dataclass(frozen=True)
class MeanField:
    """Mean-field description of a deep random network at ``(sigma_w2, sigma_b2)``.

    Attributes
    ----------
    sigma_w2, sigma_b2 : float
        Weight variance times fan-in of the hidden layers, bias variance.
    q_star : float
        Length fixed point reached from ``q = 1`` (:func:`fixed_point`; 0 or ``inf`` possible).
    chi1 : float
        ``sigma_w2 E[phi'(sqrt(q*) z)^2]`` (limits at ``q* = 0`` and ``q* = inf``).
    c_star : float
        Stable correlation fixed point (1 in the ordered phase); NaN when ``q* = inf``, and when
        ``q* = 0`` with ``L(0) = 0``, where the c-map tends to the identity (every ``c`` is a
        fixed point: correlations freeze at a value set by the inputs).
    xi_q : float
        Length depth scale, ``-1 / ln(dL/dq at q*)``; NaN when ``q* = inf``.
    xi_c : float
        Correlation depth scale, ``-1 / ln(slope of the c-map at c*)``
        (:func:`correlation_slope_at_one` when ``c* = 1``); ``inf`` where that slope is 1.
    xi_grad : float
        Gradient depth scale ``-1 / ln chi_1`` (Schoenholz et al. 2017): the back-propagated
        gradient variance changes by a factor ``e`` every ``|xi_grad|`` layers, shrinking when
        ``xi_grad > 0``, growing when ``xi_grad < 0``; ``inf`` at ``chi_1 = 1``.
    """

    sigma_w2: float
    sigma_b2: float
    q_star: float
    chi1: float
    c_star: float
    xi_q: float
    xi_c: float
    xi_grad: float


def mean_field(act: Activation | str, sigma_w2: float, sigma_b2: float) -> MeanField:
    """Fixed points, ``chi_1`` and the three depth scales of a deep net at ``(sigma_w2, sigma_b2)``.

    Poole et al. (2016), NeurIPS; Schoenholz et al. (2017), ICLR, sec. 3. ``xi_c`` and
    ``xi_grad`` are different quantities: they coincide only at a length fixed point
    ``q* > 0`` in the ordered phase. With a scale-invariant map (ReLU with ``sigma_b2 = 0``)
    correlations converge to 1 only polynomially, and with ``q* = 0`` (tanh, ``sigma_w2 <= 1``,
    ``sigma_b2 = 0``) the net becomes linear as ``q`` vanishes and correlations freeze; in both
    cases ``xi_c = inf`` while gradients still scale by ``chi_1`` per layer (``xi_grad``).

    Parameters
    ----------
    act : Activation or str
        The nonlinearity.
    sigma_w2, sigma_b2 : float
        Weight variance times fan-in, bias variance.

    Returns
    -------
    MeanField
    """
    a = _act(act)
    _check_nonneg(sigma_w2=sigma_w2, sigma_b2=sigma_b2)
    q = fixed_point(a, sigma_w2, sigma_b2)
    chi = chi1(a, sigma_w2, q if math.isfinite(q) else Q_MAX)
    xi_grad = _signed_scale(chi)
    if not math.isfinite(q):
        return MeanField(sigma_w2, sigma_b2, q, chi, math.nan, math.nan, math.inf, xi_grad)
    xi_q = _scale(length_slope(a, sigma_w2, q))
    if _vanishing_length(a, sigma_w2, sigma_b2, q):
        return MeanField(sigma_w2, sigma_b2, q, chi, math.nan, xi_q, math.inf, xi_grad)
    c = _fixed_correlation(a, sigma_w2, sigma_b2, q)
    slope_c = (
        correlation_slope_at_one(a, sigma_w2, sigma_b2, q)
        if c == 1.0
        else _chi_c(a, sigma_w2, q, c)
    )
    return MeanField(sigma_w2, sigma_b2, q, chi, c, xi_q, _scale(slope_c), xi_grad)


def depth_scales(act: Activation | str, sigma_w2: float, sigma_b2: float) -> tuple[float, float]:
    """Depth scales ``(xi_q, xi_c)`` of the fixed point ``(q*, c*)`` (see :func:`mean_field`).

    Schoenholz et al. (2017), ICLR, sec. 3: ``xi_q^{-1} = -ln[chi_1 + sigma_w2 E[phi''(u)
    phi(u)]]`` (the slope of the length map at ``q*``, see :func:`length_slope``) and
    ``xi_c^{-1} = -ln`` (slope of the correlation map at ``c*``): ``chi_c* = sigma_w2
    E[phi'(u1) phi'(u2)]`` at ``(q*, c*)`` in the chaotic phase, and at ``c* = 1`` the slope
    :func:`correlation_slope_at_one`, which is ``chi_1`` only when ``q* > 0``. A slope ``>= 1``
    gives ``inf``; a negative slope uses its magnitude (oscillating decay).

    Parameters
    ----------
    act : Activation or str
        The nonlinearity.
    sigma_w2, sigma_b2 : float
        Weight variance times fan-in, bias variance.

    Returns
    -------
    tuple of float
        ``(xi_q, xi_c)`` in layers; ``(nan, inf)`` if ``q*`` is infinite.
    """
    mf = mean_field(act, sigma_w2, sigma_b2)
    return mf.xi_q, mf.xi_c


def _signed_scale(factor: float) -> float:
    """``-1 / ln factor`` for a positive per-layer factor (``inf`` at 1, NaN if undefined)."""
    if not (math.isfinite(factor) and factor > 0):
        return 0.0 if factor == 0.0 else math.nan
    if abs(factor - 1.0) <= UNIT_TOL:
        return math.inf
    return -1.0 / math.log(factor)


def _scale(slope: float) -> float:
    slope = abs(slope)
    if slope >= 1.0 - UNIT_TOL:
        return math.inf
    if slope == 0.0:
        return 0.0
    return -1.0 / math.log(slope)


# --- criticality -----------------------------------------------------------------------------


def critical_sigma_w2(act: Activation | str, sigma_b2: float) -> float:
    """``sigma_w2`` on the edge of chaos: the smallest root of ``chi_1(q*(sigma_w2)) = 1``.

    Poole et al. (2016), NeurIPS; Schoenholz et al. (2017), ICLR: the order-chaos phase
    boundary (tanh: ``sigma_w2 = 1`` at ``sigma_b2 = 0``). ``q*`` is :func:`fixed_point` from
    ``q0 = 1``; where it diverges ``chi_1`` is taken at ``Q_MAX`` (its limit for ReLU-like
    activations, so ReLU gives exactly 2 at any ``sigma_b2``). An ordered ``sigma_w2``
    (``chi_1 < 1``) is found by halving from ``0.5 / E[phi'(z)^2]``, then ``sigma_w2`` grows by
    factors of 1.1 until ``chi_1 >= 1`` and Brent's method solves in the last step. Accurate to
    about 1e-12, except where ``chi_1 - 1`` touches 0 quadratically (tanh at ``sigma_b2 = 0``,
    above ``sigma_w2 = 1``: about 1e-7).

    Parameters
    ----------
    act : Activation or str
        The nonlinearity.
    sigma_b2 : float
        Bias variance.

    Returns
    -------
    float
        Critical ``sigma_w2``. NaN if ``chi_1(q*) - 1`` keeps its sign in ``[1e-6, 1e8]``, or if
        it jumps across 0 instead of crossing it: for GELU, SiLU and mish at small
        ``sigma_b2`` the finite fixed point reached from ``q = 1`` disappears while still ordered
        and ``q*`` jumps to infinity, so no ``sigma_w2`` has ``chi_1(q*) = 1``.
    """
    a = _act(act)
    _check_nonneg(sigma_b2=sigma_b2)

    def excess(sw2: float) -> float:
        q = fixed_point(a, sw2, sigma_b2)
        return chi1(a, sw2, q if math.isfinite(q) else Q_MAX) - 1.0

    lo = min(max(0.5 / max(a.grad_second_moment, 1e-12), 1e-6), 1e8)
    f_lo = excess(lo)
    while f_lo >= 0:
        if f_lo == 0.0:
            return lo
        lo /= 2.0
        if lo < 1e-6:
            return math.nan
        f_lo = excess(lo)
    hi = lo * 1.1
    f_hi = excess(hi)
    while f_hi < 0:
        lo, hi = hi, hi * 1.1
        if hi > 1e8:
            return math.nan
        f_hi = excess(hi)
    if f_hi == 0.0:
        return hi
    root = float(optimize.brentq(excess, lo, hi, xtol=1e-13, rtol=4 * _EPS))
    return root if abs(excess(root)) <= 1e-6 else math.nan


def critical_line(act: Activation | str, sigma_b2_values: Iterable[float]) -> FloatArray:
    """Critical ``sigma_w2`` for each ``sigma_b2`` (:func:`critical_sigma_w2`, element by element).

    Poole et al. (2016), NeurIPS; Schoenholz et al. (2017), ICLR: the order-chaos phase boundary.

    Parameters
    ----------
    act : Activation or str
        The nonlinearity.
    sigma_b2_values : iterable of float
        Bias variances.

    Returns
    -------
    ndarray
        Critical ``sigma_w2`` values, same length as ``sigma_b2_values``.
    """
    a = _act(act)
    return np.array([critical_sigma_w2(a, float(b)) for b in sigma_b2_values], dtype=np.float64)


# --- concrete networks -----------------------------------------------------------------------


def hidden_sigma_w2(init: Initializer | str, layer_sizes: Sequence[int]) -> float:
    """The ``sigma_w2`` that characterises a concrete network: ``fan_in E[W^2]`` of its hidden
    layers.

    The mean-field quantities of a network (``q*``, ``chi_1``, the depth scales) describe the
    hidden-to-hidden layers; with ``layer_sizes = (n_in, width, ..., width, n_out)`` these are
    layers ``2..depth``, all of the same shape, so layer 2 is taken. A net with one hidden layer
    has none: its input layer (``n_in -> width``) is taken. The output layer never is (its
    fan-out, the class count, would change the value of fan-averaged initializers: Glorot at
    64 -> 10 gives 1.73, not 1). This single definition is used by ``initlab theory``,
    ``theory.csv``, the claims and the report.

    Parameters
    ----------
    init : Initializer or str
        Weight initializer.
    layer_sizes : sequence of int
        ``(n_in, width_1, ..., width_depth, n_out)``.

    Returns
    -------
    float
        ``fan_in * E[W^2]`` of layer 2 (depth >= 2) or layer 1 (depth 1).
    """
    w = init if isinstance(init, Initializer) else _initializers.get(init)
    sizes = [int(n) for n in layer_sizes]
    if len(sizes) < 3 or any(n < 1 for n in sizes):
        raise ValueError(
            f"layer_sizes must hold n_in, at least one hidden width and n_out, got {sizes!r}"
        )
    fan_in, fan_out = (sizes[1], sizes[2]) if len(sizes) > 3 else (sizes[0], sizes[1])
    return float(fan_in * w.second_moment(fan_in, fan_out))


def network_mean_field(
    act: Activation | str,
    init: Initializer | str,
    layer_sizes: Sequence[int],
    *,
    bias_std: float = 0.0,
) -> MeanField:
    """:func:`mean_field` at the network's own ``sigma_w2`` (:func:`hidden_sigma_w2`).

    Poole et al. (2016); Schoenholz et al. (2017). Non-zero-mean weights (``ones``) are outside
    the theory: every field but ``sigma_w2`` and ``sigma_b2`` is then NaN.

    Parameters
    ----------
    act : Activation or str
        Hidden-layer nonlinearity.
    init : Initializer or str
        Weight initializer.
    layer_sizes : sequence of int
        ``(n_in, width_1, ..., width_depth, n_out)``.
    bias_std : float
        Standard deviation of the biases.

    Returns
    -------
    MeanField
    """
    w = init if isinstance(init, Initializer) else _initializers.get(init)
    _check_nonneg(bias_std=bias_std)
    sw2, sb2 = hidden_sigma_w2(w, layer_sizes), float(bias_std) ** 2
    if w.mean != 0.0 or not math.isfinite(sw2):
        nan = math.nan
        return MeanField(sw2, sb2, nan, nan, nan, nan, nan, nan)
    return mean_field(act, sw2, sb2)


def predict_layers(
    act: Activation | str,
    init: Initializer | str,
    layer_sizes: Sequence[int],
    *,
    input_second_moment: float = 1.0,
    bias_std: float = 0.0,
) -> dict[str, npt.NDArray[Any]]:
    """Mean-field forward and backward variances of a concrete MLP at initialisation.

    Forward (Glorot & Bengio 2010, eq. 5; He et al. 2015, eqs. 7-10; Poole et al. 2016):
    ``q^1 = sigma_w2^1 * input_second_moment + bias_std^2`` and
    ``q^{l+1} = sigma_w2^{l+1} * E[phi(sqrt(q^l) z)^2] + bias_std^2``, where
    ``sigma_w2^l = n_{l-1} * E[(W^l)^2]`` is the actual fan-in times weight second moment of
    layer ``l``'s shape ``(n_{l-1}, n_l)``. Backward (Glorot & Bengio 2010, eq. 6; He et al. 2015,
    eqs. 11-14): ``E[delta_l^2] = chi^l * E[delta_{l+1}^2]`` with
    ``chi^l = E[phi'(sqrt(q^l) z)^2] * n_{l+1} * Var[W^{l+1}]`` (fan-out of ``W^{l+1}``), where
    ``delta_l = dLoss/dz^l`` per unit.

    The network has ``layer_sizes = (n_in, n_1, ..., n_depth, n_out)``: ``depth`` hidden layers
    with activation ``phi`` and a linear output layer; layers are numbered ``1..depth+1``,
    biases are ``N(0, bias_std^2)``, the input features have mean square
    ``input_second_moment``. The theory needs zero-mean weights: with a non-zero mean (``ones``)
    every unit of a layer receives the same large common term, the pre-activations are neither
    independent nor centred and the sums do not become Gaussian with variance ``n Var[W]``; then
    ``q``, ``chi`` and ``delta_rms_rel`` are all NaN (``layer`` and ``sigma_w2`` are still filled).

    Parameters
    ----------
    act : Activation or str
        Hidden-layer nonlinearity.
    init : Initializer or str
        Weight initializer, used for every layer.
    layer_sizes : sequence of int
        ``(n_in, width_1, ..., width_depth, n_out)``, at least two entries, all >= 1.
    input_second_moment : float
        ``E[x_i^2]`` of the input features.
    bias_std : float
        Standard deviation of the biases (0 for the usual zero bias).

    Returns
    -------
    dict of str to ndarray
        Arrays of length ``depth + 1``, one entry per layer:

        ``layer``
            Layer numbers ``1..depth+1`` (int).
        ``sigma_w2``
            ``n_{l-1} * E[(W^l)^2]``.
        ``q``
            Predicted second moment of the pre-activations ``z^l``.
        ``chi``
            Backward factor from layer ``l+1`` to ``l``; NaN for the output layer.
        ``delta_rms_rel``
            Predicted rms of ``delta_l`` divided by that at the output layer (1 there).
    """
    a = _act(act)
    w = init if isinstance(init, Initializer) else _initializers.get(init)
    sizes = [int(n) for n in layer_sizes]
    if (
        len(sizes) < 2
        or any(n < 1 for n in sizes)
        or any(n != s for n, s in zip(sizes, layer_sizes, strict=True))
    ):
        raise ValueError(f"layer_sizes must be >= 2 integers >= 1, got {tuple(layer_sizes)!r}")
    _check_nonneg(input_second_moment=input_second_moment, bias_std=bias_std)
    n_layers = len(sizes) - 1
    layer = np.arange(1, n_layers + 1)
    fans = list(itertools.pairwise(sizes))
    sigma_w2 = np.array([fi * w.second_moment(fi, fo) for fi, fo in fans], dtype=np.float64)
    q = np.full(n_layers, np.nan)
    chi = np.full(n_layers, np.nan)
    rel = np.full(n_layers, np.nan)
    out = {"layer": layer, "sigma_w2": sigma_w2, "q": q, "chi": chi, "delta_rms_rel": rel}
    if w.mean != 0.0:
        return out
    b2 = float(bias_std) ** 2
    q[0] = sigma_w2[0] * input_second_moment + b2
    for i in range(1, n_layers):
        q[i] = length_map(a, sigma_w2[i], b2, q[i - 1])
    for i in range(n_layers - 1):  # hidden layer i+1 -> backward through W^{i+2}
        fan_in, fan_out = fans[i + 1]
        chi[i] = chi1(a, fan_out * w.variance(fan_in, fan_out), q[i])
    rel[-1] = 1.0
    for i in range(n_layers - 2, -1, -1):
        rel[i] = rel[i + 1] * math.sqrt(chi[i])
    return out


# --- input-output Jacobian and input correlations of a concrete network ----------------------

__all__ += ["predict_correlation", "predict_jacobian"]


def predict_jacobian(
    act: Activation | str,
    init: Initializer | str,
    layer_sizes: Sequence[int],
    *,
    input_second_moment: float = 1.0,
    bias_std: float = 0.0,
) -> FloatArray:
    """Mean-field ``mean(s^2)`` of the input-output Jacobian of every hidden layer.

    In the row convention ``J^l = d a^l / d x = W^1 D^1 ... W^l D^l`` (shape ``(n_0, n_l)``,
    ``D^k = diag(phi'(z^k))``, see :mod:`initlab.spectra`). For a fixed row vector ``v`` and
    zero-mean weights ``E||v W^k||^2 = n_k Var[W^k] ||v||^2``; the mean-field approximation
    treats the diagonal ``D^k`` as independent of ``W^k``, multiplying by
    ``E[phi'(sqrt(q^k) z)^2]``. Starting from ``||I||_F^2 = n_0``,

        E||J^l||_F^2 = n_0 prod_{k <= l} n_k Var[W^k] E[phi'(sqrt(q^k) z)^2],

    and ``mean(s^2) = E||J^l||_F^2 / min(n_0, n_l)`` over the ``min(n_0, n_l)`` singular values.
    With equal widths this is ``prod_k chi_1(q^k)`` (Pennington, Schoenholz & Ganguli 2017,
    NeurIPS, "Resurrecting the sigmoid", the mean squared singular value of ``J``). For ReLU
    the expectation is exact at any width (a symmetric weight distribution makes
    ``E[(v W)_j^2 1(z_j > 0)] = E[(v W)_j^2] / 2``). The lengths ``q^k`` are those of
    :func:`predict_layers` (Poole et al. 2016).

    Parameters
    ----------
    act : Activation or str
        Hidden-layer nonlinearity.
    init : Initializer or str
        Weight initializer, used for every layer.
    layer_sizes : sequence of int
        ``(n_in, width_1, ..., width_depth, n_out)`` as in :func:`predict_layers`.
    input_second_moment : float
        ``E[x_i^2]`` of the input features.
    bias_std : float
        Standard deviation of the biases.

    Returns
    -------
    ndarray, shape (depth,)
        Predicted ``mean(s^2)`` of ``J^l`` for ``l = 1..depth``. NaN where the theory does not
        apply: non-zero-mean weights (:func:`predict_layers` gives NaN lengths) or a length that
        is not finite.
    """
    a = _act(act)
    w = init if isinstance(init, Initializer) else _initializers.get(init)
    q = predict_layers(
        a, w, layer_sizes, input_second_moment=input_second_moment, bias_std=bias_std
    )["q"]
    sizes = [int(n) for n in layer_sizes]
    depth = len(sizes) - 2
    out = np.full(depth, np.nan)
    frob = float(sizes[0])
    for k in range(depth):
        if not math.isfinite(q[k]):
            break
        fan_in, fan_out = sizes[k], sizes[k + 1]
        frob *= chi1(a, fan_out * w.variance(fan_in, fan_out), float(q[k]))
        out[k] = frob / min(sizes[0], fan_out)
    return out


def predict_correlation(
    act: Activation | str,
    init: Initializer | str,
    layer_sizes: Sequence[int],
    *,
    q0: float,
    c0: float,
    bias_std: float = 0.0,
) -> FloatArray:
    """Mean-field cosine of two inputs' pre-activations at every hidden layer.

    The inputs have equal squared norm ``n_0 q0`` and cosine ``c0`` (the pairs of
    :func:`initlab.spectra.pair_inputs`). The first layer is exact in expectation:
    ``E[z_a z_b] = E[(W^1)^2] <x_a, x_b> + sigma_b^2``, so with ``sigma_w1^2 = n_0 E[(W^1)^2]``

        c^1 = (sigma_w1^2 q0 c0 + sigma_b^2) / (sigma_w1^2 q0 + sigma_b^2);

    deeper layers follow the correlation map (Poole et al. 2016, NeurIPS)
    ``c^l = correlation_map(act, sigma_w2^l, sigma_b^2, q^{l-1}, c^{l-1})`` with the layer's own
    ``sigma_w2^l = n_{l-1} E[(W^l)^2]`` and the predicted length ``q^{l-1}`` of
    :func:`predict_layers`. :func:`correlation_map` divides by the next length
    ``L(q^{l-1}) = q^l``, the right normalisation away from the fixed point ``q*`` as well.

    Each layer costs one two-dimensional quadrature (about 5 ms), so depth 60 takes 0.3 to
    0.6 s. Layer ``l`` depends on the widths up to ``n_l`` only: for nets that differ only in
    depth, the deepest one's prediction holds the others' as prefixes.

    Parameters
    ----------
    act : Activation or str
        Hidden-layer nonlinearity.
    init : Initializer or str
        Weight initializer, used for every layer.
    layer_sizes : sequence of int
        ``(n_in, width_1, ..., width_depth, n_out)`` as in :func:`predict_layers`.
    q0 : float
        Mean square of the input entries (each input has squared norm ``n_0 q0``).
    c0 : float
        Cosine between the two inputs, in ``[-1, 1]``.
    bias_std : float
        Standard deviation of the biases.

    Returns
    -------
    ndarray, shape (depth,)
        Predicted ``c^l`` for ``l = 1..depth``; NaN for non-zero-mean weights, where a length
        is zero (``q0 = 0`` without bias) or not finite.
    """
    a = _act(act)
    w = init if isinstance(init, Initializer) else _initializers.get(init)
    _check_nonneg(q0=q0, bias_std=bias_std)
    if not (math.isfinite(c0) and -1.0 <= c0 <= 1.0):
        raise ValueError(f"c0 must be in [-1, 1], got {c0!r}")
    layers = predict_layers(a, w, layer_sizes, input_second_moment=q0, bias_std=bias_std)
    sigma_w2, q = layers["sigma_w2"], layers["q"]
    depth = len(layer_sizes) - 2
    out = np.full(depth, np.nan)
    b2 = float(bias_std) ** 2
    if depth == 0 or not math.isfinite(q[0]) or q[0] <= 0:
        return out
    c = (sigma_w2[0] * q0 * c0 + b2) / (sigma_w2[0] * q0 + b2)
    out[0] = c
    for i in range(1, depth):
        if not math.isfinite(q[i - 1]):
            break
        c = correlation_map(a, float(sigma_w2[i]), b2, float(q[i - 1]), min(1.0, max(-1.0, c)))
        if not math.isfinite(c):
            break
        out[i] = c
    return out
