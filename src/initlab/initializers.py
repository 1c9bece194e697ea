"""Weight initializers with Keras names and semantics.

Weights are shaped ``(fan_in, fan_out)`` and a layer computes ``z = a @ W + b`` (Keras' Dense
convention; PyTorch stores the transpose, ``(out, in)``). Every initializer is an
:class:`Initializer`: a callable ``(rng, shape, dtype) -> ndarray`` that also knows the exact
variance of what it draws, which mean-field theory (:mod:`initlab.theory`) uses.

Glorot, He and LeCun initialisers are entries of one family, :func:`variance_scaling`
(``Var[W] = scale / n`` with ``n`` = fan_in, fan_out or their mean). Its ``"truncated_normal"``
distribution follows Keras: a normal truncated at two standard deviations whose std is divided by
0.87962566103423978, the std of N(0, 1) truncated to [-2, 2], so that the variance is exactly
``scale / n``. ``"untruncated_normal"`` is the plain normal.

References
----------
- Glorot & Bengio (2010), AISTATS, eq. 1 ("standard", U[+-1/sqrt(n)]) and eq. 16 ("normalized").
- He, Zhang, Ren & Sun (2015), ICCV, eqs. 10 and 14: Var[W] = 2 / fan_in.
- LeCun, Bottou, Orr & Mueller (1998), sec. 4.6: Var[W] = 1 / fan_in.
- Saxe, McClelland & Ganguli (2014), ICLR: random orthogonal matrices.
- Yosinski, Clune, Bengio & Lipson (2014), NeurIPS: transferred (frozen or fine-tuned) layers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from initlab.registry import lookup

__all__ = [
    "INITIALIZERS",
    "INITIALIZER_FAMILIES",
    "TRUNCATED_STD",
    "Initializer",
    "compute_fans",
    "get",
    "make_initializer",
    "transfer",
    "variance_scaling",
]

TRUNCATED_STD = 0.87962566103423978
"""Standard deviation of N(0, 1) truncated to [-2, 2] (Keras' correction constant)."""

Mode = Literal["fan_in", "fan_out", "fan_avg"]
Distribution = Literal["truncated_normal", "untruncated_normal", "uniform"]
Shape = tuple[int, ...]
Sampler = Callable[[np.random.Generator, Shape, npt.DTypeLike], npt.NDArray[np.floating[Any]]]


def compute_fans(shape: Shape) -> tuple[int, int]:
    """Return ``(fan_in, fan_out)`` for a weight of ``shape`` (Keras layout).

    2-D ``(fan_in, fan_out)``; 1-D: both equal ``shape[0]``; higher ranks multiply the leading
    receptive-field axes in.
    """
    if len(shape) == 0:
        raise ValueError("cannot compute fans of a scalar shape ()")
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


@dataclass(frozen=True)
class Initializer:
    """A named weight distribution.

    Parameters
    ----------
    name : str
        Registry name.
    sample : callable
        ``(rng, shape, dtype) -> ndarray`` of ``shape``.
    variance : callable
        ``(fan_in, fan_out) -> float``: the exact variance of each entry.
    mean : float
        The exact mean of each entry.
    description : str
        One line for ``initlab list``.
    params : mapping
        The family parameters, so the initializer can be described and re-created.
    """

    name: str
    sample: Sampler
    variance: Callable[[int, int], float]
    description: str
    mean: float = 0.0
    params: Mapping[str, Any] = field(default_factory=dict)

    def __call__(
        self, rng: np.random.Generator, shape: Shape, dtype: npt.DTypeLike = np.float32
    ) -> npt.NDArray[np.floating[Any]]:
        """Draw a ``shape`` array of ``dtype`` from ``rng``."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        shape = tuple(int(s) for s in shape)
        if any(s < 1 for s in shape):
            raise ValueError(f"{self.name}: every dimension of shape must be >= 1, got {shape}")
        return self.sample(rng, shape, dtype)

    def second_moment(self, fan_in: int, fan_out: int) -> float:
        """``E[W^2] = Var[W] + mean^2``, the sigma_w^2 / fan_in of mean-field theory."""
        return self.variance(fan_in, fan_out) + self.mean**2


def _truncated_normal(
    rng: np.random.Generator, shape: Shape, std: float, dtype: npt.DTypeLike
) -> npt.NDArray[np.floating[Any]]:
    """N(0, std^2) truncated to [-2 std, 2 std] by redrawing outliers (exact, not clipped)."""
    z = rng.standard_normal(shape)
    bad = np.abs(z) >= 2.0
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) >= 2.0
    return (z * std).astype(dtype)


def _fan(mode: Mode, fan_in: int, fan_out: int) -> float:
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]


def variance_scaling(
    scale: float = 1.0,
    mode: Mode = "fan_in",
    distribution: Distribution = "truncated_normal",
    name: str = "variance_scaling",
    description: str = "",
) -> Initializer:
    """The variance-scaling family: ``Var[W] = scale / n``, ``n`` chosen by ``mode``.

    uniform draws ``U[-sqrt(3 s), sqrt(3 s)]``; truncated_normal draws a 2-sigma truncated normal
    with std ``sqrt(s) / 0.8796...``; untruncated_normal draws ``N(0, s)``; ``s = scale / n``.
    """
    ok = isinstance(scale, int | float) and not isinstance(scale, bool)
    if not (ok and math.isfinite(scale) and scale > 0):
        raise ValueError(f"variance_scaling: scale must be a positive number, got {scale!r}")
    if mode not in ("fan_in", "fan_out", "fan_avg"):
        raise ValueError(f"variance_scaling: mode {mode!r} not in fan_in, fan_out, fan_avg")
    if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
        raise ValueError(
            f"variance_scaling: distribution {distribution!r} not in "
            "truncated_normal, untruncated_normal, uniform"
        )

    def variance(fan_in: int, fan_out: int) -> float:
        return scale / max(1.0, _fan(mode, fan_in, fan_out))

    def sample(
        rng: np.random.Generator, shape: Shape, dtype: npt.DTypeLike
    ) -> npt.NDArray[np.floating[Any]]:
        s = variance(*compute_fans(shape))
        if distribution == "uniform":
            limit = math.sqrt(3.0 * s)
            return rng.uniform(-limit, limit, shape).astype(dtype)
        if distribution == "truncated_normal":
            return _truncated_normal(rng, shape, math.sqrt(s) / TRUNCATED_STD, dtype)
        return (rng.standard_normal(shape) * math.sqrt(s)).astype(dtype)

    desc = description or f"variance scaling, Var = {scale:g}/{mode}, {distribution}"
    params = {"family": "variance_scaling", "scale": scale, "mode": mode}
    return Initializer(
        name, sample, variance, desc, params={**params, "distribution": distribution}
    )


def normal(std: float = 0.05, mean: float = 0.0, name: str = "random_normal") -> Initializer:
    """``N(mean, std^2)``, independent of the layer size (Keras RandomNormal)."""
    _positive("normal", "std", std)

    def sample(rng: np.random.Generator, shape: Shape, dtype: npt.DTypeLike) -> Any:
        return (mean + std * rng.standard_normal(shape)).astype(dtype)

    return Initializer(
        name,
        sample,
        lambda fi, fo: std**2,
        f"normal, mean {mean:g}, std {std:g}",
        mean=mean,
        params={"family": "normal", "std": std, "mean": mean},
    )


def uniform(limit: float = 0.05, name: str = "random_uniform") -> Initializer:
    """``U[-limit, limit]``, independent of the layer size (Keras RandomUniform)."""
    _positive("uniform", "limit", limit)

    def sample(rng: np.random.Generator, shape: Shape, dtype: npt.DTypeLike) -> Any:
        return rng.uniform(-limit, limit, shape).astype(dtype)

    return Initializer(
        name,
        sample,
        lambda fi, fo: limit**2 / 3.0,
        f"uniform on [-{limit:g}, {limit:g}]",
        params={"family": "uniform", "limit": limit},
    )


def truncated_normal(std: float = 0.05, name: str = "truncated_normal") -> Initializer:
    """Keras TruncatedNormal: ``N(0, std^2)`` cut at +-2 std, *without* variance correction,
    so the actual std is ``0.8796 * std``."""
    _positive("truncated_normal", "std", std)

    def sample(rng: np.random.Generator, shape: Shape, dtype: npt.DTypeLike) -> Any:
        return _truncated_normal(rng, shape, std, dtype)

    return Initializer(
        name,
        sample,
        lambda fi, fo: (std * TRUNCATED_STD) ** 2,
        f"normal with std {std:g} truncated at 2 std (no variance correction)",
        params={"family": "truncated_normal", "std": std},
    )


def orthogonal(gain: float = 1.0, name: str = "orthogonal") -> Initializer:
    """Random orthogonal matrix times ``gain`` (Saxe et al. 2014).

    QR of a standard normal matrix, columns sign-fixed by ``diag(R)`` so the result is Haar
    distributed (Mezzadri 2007). ``W.T @ W = gain^2 I`` when fan_in >= fan_out, else
    ``W @ W.T = gain^2 I``; each entry then has variance ``gain^2 / max(fan_in, fan_out)``.
    """
    _positive("orthogonal", "gain", gain)

    def sample(rng: np.random.Generator, shape: Shape, dtype: npt.DTypeLike) -> Any:
        if len(shape) != 2:
            # For higher ranks the flattened matrix is (prod(shape[:-1]), shape[-1]), whose
            # entry variance cannot be told from compute_fans; dense layers are 2-D anyway.
            raise ValueError(
                f"{name}: orthogonal weights must be 2-D (fan_in, fan_out), got {shape}"
            )
        rows, cols = shape
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)  # q: (max, min) with orthonormal columns
        q *= np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return (gain * q).reshape(shape).astype(dtype)

    return Initializer(
        name,
        sample,
        lambda fi, fo: gain**2 / max(fi, fo),
        f"random orthogonal, gain {gain:g} (Saxe et al. 2014)",
        params={"family": "orthogonal", "gain": gain},
    )


def constant(value: float = 0.0, name: str = "constant") -> Initializer:
    """Every entry equals ``value`` (``zeros``, ``ones``): the symmetry-breaking failure case."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not (ok and math.isfinite(value)):
        raise ValueError(f"constant: value must be a finite number, got {value!r}")

    def sample(rng: np.random.Generator, shape: Shape, dtype: npt.DTypeLike) -> Any:
        return np.full(shape, value, dtype=dtype)

    return Initializer(
        name,
        sample,
        lambda fi, fo: 0.0,
        f"every weight = {value:g}",
        mean=float(value),
        params={"family": "constant", "value": value},
    )


def transfer(
    source: str,
    layers: int,
    base: str,
    freeze: bool = False,
    base_def: Mapping[str, Any] | None = None,
    name: str = "transfer",
) -> Initializer:
    """Transfer learning (Yosinski, Clune, Bengio & Lipson 2014): the first ``layers`` hidden
    layers are copied from a trained ``source`` network, the rest drawn by ``base``.

    As a distribution this initializer *is* ``base`` (it samples and has the variance of
    ``base``): the network is drawn exactly as a ``base`` network, then
    :func:`initlab.transfer.copy_layers` overwrites the copied layers' weights and biases with the
    source's trained ones. Mean-field theory and the initializer table therefore describe the
    layers drawn by ``base``, not the copied ones.

    Parameters
    ----------
    source : str
        Name of the source network (a key of the study's ``sources``).
    layers : int
        Hidden layers copied (>= 0; 0 is the ``base`` network).
    base : str
        Built-in initializer name, or the name of ``base_def``.
    freeze : bool
        Keep the copied layers fixed in training (AnB) or fine-tune them (AnB+).
    base_def : mapping, optional
        Family and parameters of a custom ``base`` (not itself a transfer).
    name : str
        Registry name.
    """
    if isinstance(layers, bool) or not isinstance(layers, int) or layers < 0:
        raise ValueError(f"transfer: layers must be an integer >= 0, got {layers!r}")
    if not isinstance(freeze, bool):
        raise ValueError(f"transfer: freeze must be true or false, got {freeze!r}")
    if not isinstance(source, str) or not source:
        raise ValueError(f"transfer: source must be a source name, got {source!r}")
    if base_def is None:
        drawn = get(base)
    else:
        params = dict(base_def)
        if params.get("family") == "transfer":
            raise ValueError(f"transfer: base {base!r} is itself a transfer initializer")
        drawn = make_initializer(base, str(params.pop("family", None)), **params)
    how = "frozen" if freeze else "fine-tuned"
    return Initializer(
        name,
        drawn.sample,
        drawn.variance,
        f"first {layers} hidden layer(s) from source {source} ({how}), the rest {base}",
        mean=drawn.mean,
        params={
            "family": "transfer",
            "source": source,
            "layers": layers,
            "freeze": freeze,
            "base": base,
        },
    )


def _positive(family: str, key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{family}: {key} must be a number, got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{family}: {key} must be a finite number > 0, got {value!r}")


def _vs(name: str, scale: float, mode: Mode, dist: Distribution, desc: str) -> Initializer:
    return variance_scaling(scale, mode, dist, name=name, description=desc)


INITIALIZERS: dict[str, Initializer] = {
    i.name: i
    for i in (
        constant(0.0, name="zeros"),
        constant(1.0, name="ones"),
        normal(0.05, name="random_normal"),
        uniform(0.05, name="random_uniform"),
        truncated_normal(0.05, name="truncated_normal"),
        _vs(
            "standard_uniform",
            1 / 3,
            "fan_in",
            "uniform",
            "U[+-1/sqrt(fan_in)]: Glorot & Bengio's 'standard', torch Linear default",
        ),
        _vs("glorot_uniform", 1.0, "fan_avg", "uniform", "Var = 2/(fan_in+fan_out), uniform"),
        _vs("glorot_normal", 1.0, "fan_avg", "truncated_normal", "Var = 2/(fan_in+fan_out)"),
        _vs("he_uniform", 2.0, "fan_in", "uniform", "Var = 2/fan_in, uniform (He et al. 2015)"),
        _vs("he_normal", 2.0, "fan_in", "truncated_normal", "Var = 2/fan_in (He et al. 2015)"),
        _vs("lecun_uniform", 1.0, "fan_in", "uniform", "Var = 1/fan_in, uniform (LeCun 1998)"),
        _vs("lecun_normal", 1.0, "fan_in", "truncated_normal", "Var = 1/fan_in (LeCun 1998)"),
        orthogonal(1.0, name="orthogonal"),
    )
}
"""The built-in initializers, keyed by name. "normal" ones are 2-sigma truncated (Keras)."""

INITIALIZER_FAMILIES: dict[str, tuple[Callable[..., Initializer], tuple[str, ...], tuple[str, ...]]]
INITIALIZER_FAMILIES = {
    "variance_scaling": (variance_scaling, ("scale",), ("mode", "distribution")),
    "normal": (normal, ("std",), ("mean",)),
    "uniform": (uniform, ("limit",), ()),
    "truncated_normal": (truncated_normal, ("std",), ()),
    "orthogonal": (orthogonal, (), ("gain",)),
    "constant": (constant, ("value",), ()),
    "transfer": (transfer, ("source", "layers", "base"), ("freeze", "base_def")),
}
"""Families for user-defined initializers: ``family -> (constructor, required, optional)``."""


def make_initializer(name: str, family: str, **params: Any) -> Initializer:
    """Build a named initializer from a family and its parameters, e.g.
    ``make_initializer("sw2", "variance_scaling", scale=1.5, distribution="untruncated_normal")``.

    Raises
    ------
    ValueError
        Unknown family, unknown or missing parameters, invalid values.
    """
    if family not in INITIALIZER_FAMILIES:
        raise ValueError(
            f"custom initializer {name!r}: family {family!r} is unknown; "
            f"allowed: {', '.join(sorted(INITIALIZER_FAMILIES))}"
        )
    ctor, required, optional = INITIALIZER_FAMILIES[family]
    missing = [k for k in required if k not in params]
    unknown = sorted(set(params) - set(required) - set(optional))
    if missing or unknown:
        raise ValueError(
            f"custom initializer {name!r} (family {family!r}): "
            + (f"missing parameter(s) {missing}; " if missing else "")
            + (f"unknown parameter(s) {unknown}; " if unknown else "")
            + f"required: {list(required)}, optional: {list(optional)}"
        )
    try:
        return ctor(**params, name=name)
    except ValueError as err:
        raise ValueError(f"custom initializer {name!r}: {err}") from None


def get(name: str, custom: Mapping[str, Initializer] | None = None) -> Initializer:
    """Return the initializer called ``name`` (built-in, or from ``custom``).

    Raises
    ------
    ValueError
        Unknown name; the message lists the allowed names and the closest match.
    """
    return lookup("initializer", name, {**INITIALIZERS, **(custom or {})})
