"""Gaussian expectations by piecewise Gauss-Legendre quadrature.

Mean-field theory and the activation facts (``E[phi'(z)^2]`` and the like) need
``E_{z ~ N(0,1)}[g(sqrt(q) z)]`` to near machine precision for functions with kinks (ReLU at 0,
hard sigmoid at +-3). Gauss-Hermite rules lose digits at kinks, so the real line is cut at
``+-Z_MAX`` (the Gaussian mass beyond 12 is below 1e-32) and at every kink, and each piece gets
a Gauss-Legendre rule, exact for polynomials of degree ``2 * NODES - 1`` on that piece.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from functools import lru_cache

import numpy as np
import numpy.typing as npt

__all__ = ["gaussian_expectation", "legendre", "normal_density", "piecewise_rule"]

Z_MAX = 12.0
NODES = 24
PIECE = 1.0  # longest piece, in units of z


@lru_cache(maxsize=8)
def legendre(n: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Gauss-Legendre nodes and weights of ``n`` points on ``[-1, 1]`` (cached)."""
    return np.polynomial.legendre.leggauss(n)


def normal_density(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Standard normal density ``exp(-z^2 / 2) / sqrt(2 pi)``."""
    return np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)


@lru_cache(maxsize=4096)
def piecewise_rule(
    breaks: tuple[float, ...], nodes: int = NODES, piece: float = PIECE
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Nodes and weights (standard normal density included) of a Gauss-Legendre rule of
    ``nodes`` points on every piece between the sorted ``breaks``, no piece longer than
    ``piece`` (cached: theory evaluates the same kink layouts many times).

    The one rule behind every Gaussian expectation of initlab: :func:`gaussian_expectation`
    and the outer integral of :func:`initlab.theory.pair_expectation`.

    Returns
    -------
    z, weight : ndarray, shape (pieces * nodes,)
        Read-only.
    """
    x, w = legendre(nodes)
    edges = [breaks[0]]
    for lo, hi in itertools.pairwise(breaks):
        n = max(1, int(np.ceil((hi - lo) / piece)))
        edges.extend(np.linspace(lo, hi, n + 1)[1:])
    edges_arr = np.asarray(edges)
    lo, hi = edges_arr[:-1, None], edges_arr[1:, None]  # (pieces, 1)
    z = 0.5 * (hi - lo) * x + 0.5 * (hi + lo)  # (pieces, nodes)
    weight = 0.5 * (hi - lo) * w * normal_density(z)
    z, weight = z.ravel(), weight.ravel()
    z.setflags(write=False)
    weight.setflags(write=False)
    return z, weight


def gaussian_expectation(
    g: Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]],
    q: float = 1.0,
    kinks: Iterable[float] = (),
) -> float:
    """Return ``E[g(sqrt(q) z)]`` for ``z ~ N(0, 1)``.

    Parameters
    ----------
    g : callable
        Vectorised function of the pre-activation, ``(n,) -> (n,)``, float64.
    q : float
        Variance of the argument, ``q >= 0``. ``q = 0`` returns ``g(0)``.
    kinks : iterable of float
        Points (in pre-activation units) where ``g`` or its derivative is not smooth; the rule
        is split there so the result stays exact to about 1e-13.

    Returns
    -------
    float
        The expectation.
    """
    if q < 0 or not np.isfinite(q):
        raise ValueError(f"q must be a finite non-negative variance, got {q!r}")
    if q == 0:
        return float(g(np.zeros(1))[0])
    s = np.sqrt(q)
    inner = sorted({k / s for k in kinks if abs(k / s) < Z_MAX})
    z, w = piecewise_rule((-Z_MAX, *inner, Z_MAX))
    return float(np.dot(w, g(s * z)))
