"""Activation functions, each paired with its derivative with respect to the pre-activation.

Every activation is an :class:`Activation` in the registry :data:`ACTIVATIONS`, keyed by its
Keras name. ``fn`` and ``grad`` are vectorised, keep the input dtype (float32 stays float32) and
are numerically stable: no overflow for ``|z|`` up to 1e4 in float32. Functions numpy lacks
(``erf``, the logistic function) come from :mod:`scipy.special`; nothing is approximated.

Gaussian facts such as ``E[phi'(z)^2]`` are computed by quadrature
(:func:`initlab.quadrature.gaussian_expectation`), never typed in by hand.

References
----------
- Glorot & Bengio (2010), AISTATS: sigmoid, tanh, softsign.
- LeCun, Bottou, Orr & Mueller (1998), "Efficient BackProp", sec. 4.4: 1.7159 tanh(2x/3).
- Nair & Hinton (2010): ReLU; Maas, Hannun & Ng (2013): leaky ReLU.
- Clevert, Unterthiner & Hochreiter (2016), ICLR: ELU.
- Klambauer, Unterthiner, Mayr & Hochreiter (2017), NeurIPS: SELU.
- Hendrycks & Gimpel (2016): GELU (exact erf form); Ramachandran et al. (2017): SiLU/swish.
- Misra (2019): mish. Keras 3: hard sigmoid ``clip(x/6 + 1/2, 0, 1)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from initlab.quadrature import gaussian_expectation
from initlab.registry import lookup

__all__ = [
    "ACTIVATIONS",
    "ACTIVATION_FAMILIES",
    "Activation",
    "get",
    "make_activation",
]

Array = npt.NDArray[np.floating[Any]]
ArrayFn = Callable[[Array], Array]

# Klambauer et al. (2017), eq. 14 / bioinf-jku SNNs reference values.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_LAMBDA = 1.0507009873554804934193349852946
LECUN_TANH_A = 1.7159  # LeCun et al. (1998), sec. 4.4
LECUN_TANH_B = 2.0 / 3.0
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _expit(z: Array) -> Array:
    """Logistic function ``1 / (1 + e^-z)`` (scipy.special.expit: stable, dtype-preserving).

    scipy is imported on first use: it costs about 0.2 s per process, and most training jobs
    (ReLU, tanh, ELU nets) never need it.
    """
    from scipy.special import expit

    return expit(z)


def _ndtr(z: Array) -> Array:
    """Standard normal CDF ``Phi(z)`` (scipy.special.ndtr, exact erf form)."""
    from scipy.special import ndtr

    return ndtr(z)


@dataclass(frozen=True)
class Activation:
    """An elementwise nonlinearity ``a = fn(z)`` and its derivative ``grad(z) = dphi/dz``.

    Parameters
    ----------
    name : str
        Registry name (``relu``, ``tanh``, ...).
    fn, grad : callable
        ``(...) -> (...)`` elementwise; output dtype equals input dtype.
    description : str
        One line for ``initlab list``.
    kinks : tuple of float
        Points where ``fn`` or ``grad`` is not smooth (quadrature splits there; gradient
        checks keep away from them).
    params : mapping
        Parameters of the family (e.g. ``{"slope": 0.01}`` for leaky ReLU).
    family : str
        Name of the constructor that built it (``leaky_relu`` for a custom slope).
    fused : callable, optional
        ``z -> (fn(z), grad(z))`` sharing the expensive part (an ``erf``, a ``tanh``); the
        training forward pass uses it through :meth:`value_and_grad`.
    """

    name: str
    fn: ArrayFn
    grad: ArrayFn
    description: str
    kinks: tuple[float, ...] = ()
    params: Mapping[str, float] = field(default_factory=dict)
    family: str = ""
    fused: Callable[[Array], tuple[Array, Array]] | None = None

    def value_and_grad(self, z: Array) -> tuple[Array, Array]:
        """``(fn(z), grad(z))`` in one pass where the activation offers it."""
        if self.fused is not None:
            return self.fused(z)
        return self.fn(z), self.grad(z)

    def moment(self, which: str = "fn", q: float = 1.0, power: int = 2) -> float:
        """Return ``E[f(sqrt(q) z)^power]`` for ``z ~ N(0,1)``, ``f`` = ``fn`` or ``grad``."""
        f = {"fn": self.fn, "grad": self.grad}[which]
        return gaussian_expectation(lambda z: f(z) ** power, q, self.kinks)

    @cached_property
    def grad_second_moment(self) -> float:
        """``E[phi'(z)^2]`` for ``z ~ N(0, 1)``: the backward variance factor per unit weight
        variance (He et al. 2015, eq. 13; Poole et al. 2016's chi_1 at q = 1)."""
        return self.moment("grad", 1.0)

    @cached_property
    def gain(self) -> float:
        """``1 / sqrt(E[phi'(z)^2])``: the weight-std multiplier that keeps the backward
        variance constant for unit-variance pre-activations (sqrt(2) for ReLU)."""
        return 1.0 / math.sqrt(self.grad_second_moment)

    @cached_property
    def max_grad(self) -> float:
        """Largest ``|phi'(z)|`` over the real line, found numerically on a dense grid.

        Used as the reference for the saturated-unit definition ("derivative below 5% of the
        maximum"); for non-monotone derivatives (GELU, SiLU, mish) it is their peak.
        """
        z = np.concatenate([np.linspace(-60.0, 60.0, 240_001), np.asarray(self.kinks) + 1e-9])
        return float(np.max(np.abs(self.grad(z))))


# --- parametrised families -------------------------------------------------------------------


def _linear() -> Activation:
    return Activation(
        "linear",
        lambda z: z.copy(),
        np.ones_like,
        "identity, phi(z) = z",
        family="linear",
    )


def _sigmoid() -> Activation:
    def grad(z: Array) -> Array:
        s = _expit(z)
        return s * (1 - s)

    def fused(z: Array) -> tuple[Array, Array]:
        s = _expit(z)
        return s, s * (1 - s)

    return Activation(
        "sigmoid",
        _expit,
        grad,
        "logistic 1/(1+e^-z) (Glorot & Bengio 2010)",
        family="sigmoid",
        fused=fused,
    )


def _tanh() -> Activation:
    def grad(z: Array) -> Array:
        t = np.tanh(z)
        return 1 - t * t

    def fused(z: Array) -> tuple[Array, Array]:
        t = np.tanh(z)
        return t, 1 - t * t

    return Activation("tanh", np.tanh, grad, "hyperbolic tangent", family="tanh", fused=fused)


def _relu() -> Activation:
    return Activation(
        "relu",
        lambda z: np.maximum(z, 0),
        lambda z: (z > 0).astype(z.dtype),
        "rectifier max(0, z) (Nair & Hinton 2010)",
        kinks=(0.0,),
        family="relu",
    )


def leaky_relu(slope: float = 0.01, name: str = "leaky_relu") -> Activation:
    """Leaky ReLU ``max(z, 0) + slope * min(z, 0)`` (Maas et al. 2013); PyTorch's slope 0.01."""
    _check_param("leaky_relu", "slope", slope, lo=0.0, hi=1.0)

    def fn(z: Array) -> Array:
        return np.where(z > 0, z, z * z.dtype.type(slope))

    def grad(z: Array) -> Array:
        return np.where(z > 0, z.dtype.type(1), z.dtype.type(slope))

    return Activation(
        name,
        fn,
        grad,
        f"leaky rectifier, slope {slope:g} for z < 0 (Maas et al. 2013)",
        kinks=(0.0,),
        params={"slope": float(slope)},
        family="leaky_relu",
    )


def elu(alpha: float = 1.0, scale: float = 1.0, name: str = "elu") -> Activation:
    """Scaled ELU ``scale * (z if z > 0 else alpha (e^z - 1))`` (Clevert et al. 2016).

    ``expm1`` on ``min(z, 0)`` keeps large positive ``z`` from overflowing.
    """
    _check_param("elu", "alpha", alpha, lo=0.0, hi=100.0)
    _check_param("elu", "scale", scale, lo=0.0, hi=100.0, lo_open=True)

    def fn(z: Array) -> Array:
        neg = z.dtype.type(alpha) * np.expm1(np.minimum(z, 0))
        return z.dtype.type(scale) * np.where(z > 0, z, neg)

    def grad(z: Array) -> Array:
        neg = z.dtype.type(alpha) * np.exp(np.minimum(z, 0))
        return z.dtype.type(scale) * np.where(z > 0, z.dtype.type(1), neg)

    return Activation(
        name,
        fn,
        grad,
        f"exponential linear unit, alpha {alpha:g}" + (f", scale {scale:g}" if scale != 1 else ""),
        kinks=(0.0,),
        params={"alpha": float(alpha), "scale": float(scale)},
        family="elu",
    )


def _selu() -> Activation:
    base = elu(SELU_ALPHA, SELU_LAMBDA, name="selu")
    return Activation(
        "selu",
        base.fn,
        base.grad,
        "scaled ELU, self-normalising with lecun_normal (Klambauer et al. 2017)",
        kinks=(0.0,),
        family="selu",
    )


def _gelu() -> Activation:
    def fn(z: Array) -> Array:
        return z * _ndtr(z)

    def grad(z: Array) -> Array:
        # d/dz [z Phi(z)] = Phi(z) + z phi_N(z); exp underflows to 0 harmlessly for large |z|.
        return _ndtr(z) + z * (z.dtype.type(_INV_SQRT_2PI) * np.exp(-0.5 * z * z))

    def fused(z: Array) -> tuple[Array, Array]:
        cdf = _ndtr(z)  # the costly part, shared by value and derivative
        return z * cdf, cdf + z * (z.dtype.type(_INV_SQRT_2PI) * np.exp(-0.5 * z * z))

    return Activation(
        "gelu",
        fn,
        grad,
        "Gaussian error linear unit z*Phi(z), exact erf form",
        family="gelu",
        fused=fused,
    )


def _silu() -> Activation:
    def grad(z: Array) -> Array:
        s = _expit(z)
        return s * (1 + z * (1 - s))

    def fused(z: Array) -> tuple[Array, Array]:
        s = _expit(z)
        return z * s, s * (1 + z * (1 - s))

    return Activation(
        "silu",
        lambda z: z * _expit(z),
        grad,
        "sigmoid-weighted linear unit (swish) z*sigmoid(z)",
        family="silu",
        fused=fused,
    )


def _softsign() -> Activation:
    def grad(z: Array) -> Array:
        d = 1 + np.abs(z)
        return 1 / (d * d)

    return Activation(
        "softsign",
        lambda z: z / (1 + np.abs(z)),
        grad,
        "z/(1+|z|) (Glorot & Bengio 2010)",
        kinks=(0.0,),
        family="softsign",
    )


def softplus(beta: float = 1.0, name: str = "softplus") -> Activation:
    """Softplus ``log(1 + e^(beta z)) / beta``; ``logaddexp`` avoids overflow."""
    _check_param("softplus", "beta", beta, lo=0.0, hi=100.0, lo_open=True)

    def fn(z: Array) -> Array:
        b = z.dtype.type(beta)
        return np.logaddexp(z.dtype.type(0), b * z) / b

    return Activation(
        name,
        fn,
        lambda z: _expit(z.dtype.type(beta) * z),
        f"smooth rectifier log(1+e^(beta z))/beta, beta {beta:g}",
        params={"beta": float(beta)},
        family="softplus",
    )


def _mish() -> Activation:
    def fn(z: Array) -> Array:
        return z * np.tanh(np.logaddexp(z.dtype.type(0), z))

    def grad(z: Array) -> Array:
        t = np.tanh(np.logaddexp(z.dtype.type(0), z))
        return t + z * (1 - t * t) * _expit(z)

    def fused(z: Array) -> tuple[Array, Array]:
        t = np.tanh(np.logaddexp(z.dtype.type(0), z))
        return z * t, t + z * (1 - t * t) * _expit(z)

    return Activation(
        "mish", fn, grad, "z*tanh(softplus(z)) (Misra 2019)", family="mish", fused=fused
    )


def _hard_sigmoid() -> Activation:
    def grad(z: Array) -> Array:
        return np.where(np.abs(z) < 3, z.dtype.type(1 / 6), z.dtype.type(0))

    return Activation(
        "hard_sigmoid",
        lambda z: np.clip(z / z.dtype.type(6) + z.dtype.type(0.5), 0, 1),
        grad,
        "piecewise-linear sigmoid clip(z/6 + 1/2, 0, 1) (Keras 3 / PyTorch)",
        kinks=(-3.0, 3.0),
        family="hard_sigmoid",
    )


def _lecun_tanh() -> Activation:
    def fn(z: Array) -> Array:
        return z.dtype.type(LECUN_TANH_A) * np.tanh(z.dtype.type(LECUN_TANH_B) * z)

    def grad(z: Array) -> Array:
        t = np.tanh(z.dtype.type(LECUN_TANH_B) * z)
        return z.dtype.type(LECUN_TANH_A * LECUN_TANH_B) * (1 - t * t)

    def fused(z: Array) -> tuple[Array, Array]:
        t = np.tanh(z.dtype.type(LECUN_TANH_B) * z)
        a = z.dtype.type(LECUN_TANH_A)
        return a * t, z.dtype.type(LECUN_TANH_A * LECUN_TANH_B) * (1 - t * t)

    return Activation(
        "lecun_tanh",
        fn,
        grad,
        "1.7159 tanh(2z/3) (LeCun et al. 1998)",
        family="lecun_tanh",
        fused=fused,
    )


def _check_param(
    family: str, key: str, value: Any, *, lo: float, hi: float, lo_open: bool = False
) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (lo < value if lo_open else lo <= value) and value <= hi
    if not ok:
        bracket = "(" if lo_open else "["
        raise ValueError(
            f"activation family {family!r}: parameter {key!r} = {value!r} is invalid; "
            f"allowed: a number in {bracket}{lo:g}, {hi:g}]"
        )


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        _linear(),
        _sigmoid(),
        _tanh(),
        _relu(),
        leaky_relu(),
        elu(),
        _selu(),
        _gelu(),
        _silu(),
        _softsign(),
        softplus(),
        _mish(),
        _hard_sigmoid(),
        _lecun_tanh(),
    )
}
"""The built-in activations, keyed by name."""

ACTIVATION_FAMILIES: dict[str, tuple[Callable[..., Activation], tuple[str, ...]]] = {
    "leaky_relu": (leaky_relu, ("slope",)),
    "elu": (elu, ("alpha", "scale")),
    "softplus": (softplus, ("beta",)),
}
"""Families a user may instantiate with their own parameters (config ``custom_activations``)."""


def make_activation(name: str, family: str, **params: Any) -> Activation:
    """Build a named activation from a parametrised family, e.g.
    ``make_activation("lrelu02", "leaky_relu", slope=0.2)``.

    Raises
    ------
    ValueError
        Unknown family, unknown or missing parameter, or a value out of range.
    """
    if family not in ACTIVATION_FAMILIES:
        raise ValueError(
            f"custom activation {name!r}: family {family!r} is unknown; "
            f"allowed: {', '.join(sorted(ACTIVATION_FAMILIES))}"
        )
    ctor, keys = ACTIVATION_FAMILIES[family]
    unknown = sorted(set(params) - set(keys))
    if unknown:
        raise ValueError(
            f"custom activation {name!r}: unknown parameter(s) {unknown} for family "
            f"{family!r}; allowed: {list(keys)}"
        )
    if not params:
        raise ValueError(
            f"custom activation {name!r}: family {family!r} needs at least one of {list(keys)}"
        )
    return ctor(**params, name=name)


def get(name: str, custom: Mapping[str, Activation] | None = None) -> Activation:
    """Return the activation called ``name`` (built-in, or from ``custom``).

    Raises
    ------
    ValueError
        Unknown name; the message lists the allowed names and the closest match.
    """
    return lookup("activation", name, {**ACTIVATIONS, **(custom or {})})
