"""The initializers of a study side by side: what each draws, its variance, the sigma_w^2 it
gives each kind of layer, and which of them coincide.

A network with ``n_features`` inputs, hidden width ``width`` and ``n_classes`` outputs has three
kinds of layer: the first (``n_features -> width``), the hidden ones (``width -> width``) and the
output layer (``width -> n_classes``). sigma_w^2 of a layer is ``fan_in * E[W^2]`` (Poole et al.
2016; Schoenholz et al. 2017); fan-averaged initializers give the three kinds different values
(Glorot at 64 -> 10 gives 64 * 2/74 = 1.73), and the hidden value is the network's
(:func:`initlab.theory.hidden_sigma_w2`).

Coincidence rule. Two initializers *coincide* on the hidden layers when they draw from the same
distribution family (:func:`draw_family`) and their hidden ``E[W^2]`` agrees to :data:`REL_TOL`
(relative). The family is the law of a draw up to its scale, which is also how the draws are
made from the generator: a truncated normal (redrawing beyond 2 std, with or without Keras'
variance correction), a normal, a uniform, a random orthogonal matrix, a constant. Truncated and
untruncated normals differ, and so do uniforms and normals, even at equal variance.

Coinciding initializers have *identical hidden weights* when a run of each draws the same hidden
matrices: a run draws its layers in order from one generator per seed (the same generator for
every initializer), so this holds when, from the same generator state, the first layer leaves the
generator in the same state and the hidden layer is bit-identical and also leaves it in the same
state (every further hidden layer then repeats this). It is checked by drawing both, with the
study's generator of its first seed and its dtype; coinciding initializers whose draws differ
are listed as having the *same hidden variance* only. With equal hidden widths Glorot's
``2/(fan_in+fan_out)`` is LeCun's ``1/fan_in``, so ``glorot_normal`` and ``lecun_normal`` draw
identical hidden weights (and so do ``glorot_uniform`` and ``lecun_uniform``).
"""

from __future__ import annotations

import hashlib
import json
import math
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from initlab.initializers import INITIALIZERS, TRUNCATED_STD, Initializer
from initlab.study import Study
from initlab.theory import hidden_sigma_w2

__all__ = [
    "COLUMNS",
    "REL_TOL",
    "draw_family",
    "formula",
    "initializer_table",
    "variance_formula",
]

COLUMNS = (
    "initializer",
    "formula",
    "variance",
    "sigma_w2_first",
    "sigma_w2_hidden",
    "sigma_w2_output",
    "same_hidden_weights_as",
    "same_hidden_variance_as",
)
"""Columns of :func:`initializer_table` (``initializers.csv``)."""

REL_TOL = 1e-12
"""Relative tolerance within which two values of ``E[W^2]`` count as equal."""

_TRUNC = f"{TRUNCATED_STD:.4f}"

_VS_FAMILIES = {
    "truncated_normal": "truncated normal",
    "untruncated_normal": "normal",
    "uniform": "uniform",
}

_SOURCES = {
    "zeros": "symmetry never broken",
    "ones": "symmetry never broken",
    "random_normal": "Keras RandomNormal",
    "random_uniform": "Keras RandomUniform",
    "truncated_normal": "Keras TruncatedNormal",
    "standard_uniform": "Glorot & Bengio's standard init; PyTorch nn.Linear",
    "glorot_uniform": "Glorot & Bengio 2010; Keras glorot_uniform",
    "glorot_normal": "Glorot & Bengio 2010; Keras glorot_normal",
    "he_uniform": "He et al. 2015; Keras he_uniform",
    "he_normal": "He et al. 2015; Keras he_normal",
    "lecun_uniform": "LeCun et al. 1998; Keras lecun_uniform",
    "lecun_normal": "LeCun et al. 1998; Keras lecun_normal",
    "orthogonal": "Saxe et al. 2014",
}
"""Where each built-in initializer comes from (custom ones are marked "custom")."""


def draw_family(init: Initializer) -> str:
    """The distribution family of ``init``: the law of its draws up to their scale.

    ``"truncated normal"`` (variance scaling's Keras truncation and the ``truncated_normal``
    family draw alike), ``"normal"``, ``"uniform"``, ``"orthogonal"``, ``"constant"``; an unknown
    family is returned by its name, so it only coincides with itself.
    """
    family = str(init.params.get("family", init.name))
    if family == "variance_scaling":
        return _VS_FAMILIES[str(init.params["distribution"])]
    return "truncated normal" if family == "truncated_normal" else family


def _num(x: float) -> str:
    """``x`` as short text: ``2``, ``1.5``, ``1/3``."""
    if math.isclose(x, round(x), rel_tol=0.0, abs_tol=1e-12):
        return str(round(x))
    short = f"{x:.6g}"
    if math.isclose(float(short), x, rel_tol=REL_TOL):
        return short
    frac = Fraction(x).limit_denominator(1000)
    if math.isclose(float(frac), x, rel_tol=REL_TOL):
        return f"{frac.numerator}/{frac.denominator}"
    return short


def _over(k: float, n: str) -> str:
    """``k / n`` as text, ``n`` a fan expression: ``2/fan_in``, ``1/(3 fan_in)``."""
    text = _num(k)
    if "/" in text:
        p, q = text.split("/")
        return f"{p}/({q} {n})"
    return f"{text}/{n}"


def _fan_terms(params: Any) -> tuple[float, str]:
    """``(k, n)`` with ``Var[W] = k / n`` for a variance-scaling initializer."""
    scale, mode = float(params["scale"]), str(params["mode"])
    if mode == "fan_avg":
        return 2.0 * scale, "(fan_in+fan_out)"
    return scale, mode


def _distribution(init: Initializer) -> str:
    """The law ``init`` draws from, as a formula."""
    p = init.params
    family = p.get("family")
    if family == "variance_scaling":
        k, n = _fan_terms(p)
        if p["distribution"] == "uniform":
            limit = (
                f"1/sqrt({n.strip('()')})" if _num(3.0 * k) == "1" else f"sqrt({_over(3 * k, n)})"
            )
            return f"U(-{limit}, {limit})"
        if p["distribution"] == "truncated_normal":
            return f"N(0, {_over(k, n)} / {_TRUNC}^2) truncated at 2 std"
        return f"N(0, {_over(k, n)})"
    if family == "normal":
        return f"N({p['mean']:g}, {p['std']:g}^2)"
    if family == "uniform":
        return f"U(-{p['limit']:g}, {p['limit']:g})"
    if family == "truncated_normal":
        return f"N(0, {p['std']:g}^2) truncated at 2 std, no variance correction"
    if family == "orthogonal":
        gain = float(p.get("gain", 1.0))
        return "random orthogonal (Haar)" + (f" x {gain:g}" if gain != 1.0 else "")
    if family == "constant":
        return f"every weight = {p['value']:g}"
    return init.description


def formula(init: Initializer) -> str:
    """What ``init`` draws, with its source: e.g. ``"N(0, 2/fan_in / 0.8796^2) truncated at
    2 std (He et al. 2015; Keras he_normal)"``; 0.8796 is the std of N(0, 1) truncated to
    [-2, 2], so that the variance is exactly the one of :func:`variance_formula`."""
    builtin = INITIALIZERS.get(init.name)
    source = (
        _SOURCES.get(init.name, "built-in")
        if builtin is not None and dict(builtin.params) == dict(init.params)
        else "custom"
    )
    return f"{_distribution(init)} ({source})"


def variance_formula(init: Initializer) -> str:
    """``Var[W]`` of ``init`` as a formula of the fans (its mean too, where it is not 0)."""
    p = init.params
    family = p.get("family")
    if family == "variance_scaling":
        text = _over(*_fan_terms(p))
    elif family == "normal":
        text = f"{p['std']:g}^2"
    elif family == "uniform":
        text = f"{p['limit']:g}^2/3"
    elif family == "truncated_normal":
        text = f"({_TRUNC} x {p['std']:g})^2"
    elif family == "orthogonal":
        text = _over(float(p.get("gain", 1.0)) ** 2, "max(fan_in, fan_out)")
    elif family == "constant":
        text = "0"
    else:
        text = _num(init.variance(1, 1)) + " at fan_in = fan_out = 1"
    return text + (f" (mean {init.mean:g})" if init.mean != 0.0 else "")


def _sigma_w2(init: Initializer, fan_in: int, fan_out: int) -> float:
    """``fan_in * E[W^2]`` of a ``(fan_in, fan_out)`` layer."""
    return float(fan_in * init.second_moment(fan_in, fan_out))


def _coincide(a: Initializer, b: Initializer, width: int) -> bool:
    """Same distribution family and the same hidden ``E[W^2]`` (to :data:`REL_TOL`)."""
    if draw_family(a) != draw_family(b):
        return False
    return math.isclose(
        a.second_moment(width, width), b.second_moment(width, width), rel_tol=REL_TOL
    )


def _state(rng: np.random.Generator) -> str:
    return json.dumps(rng.bit_generator.state, sort_keys=True)


def _hidden_draws(
    init: Initializer,
    rng: np.random.Generator,
    n_features: int,
    width: int,
    dtype: np.dtype[Any],
) -> tuple[str, str, str]:
    """What a run of ``init`` draws for its hidden layers from ``rng``: the generator state
    after the first ``(n_features, width)`` layer, a hash of the first hidden ``(width, width)``
    layer's bytes and the generator state after it."""
    init(rng, (n_features, width), dtype)
    after_first = _state(rng)
    hidden = np.ascontiguousarray(init(rng, (width, width), dtype))
    return after_first, hashlib.sha256(hidden.tobytes()).hexdigest(), _state(rng)


def initializer_table(study: Study, n_features: int, n_classes: int) -> pd.DataFrame:
    """One row per initializer of ``study``, in configuration order: its formula and variance,
    the sigma_w^2 it gives each kind of layer, and the initializers it coincides with.

    Parameters
    ----------
    study : Study
        A validated study (its initializers, custom definitions, width, dtype, seeds).
    n_features : int
        Inputs of the network (the first layer is ``(n_features, width)``).
    n_classes : int
        Outputs of the network (the output layer is ``(width, n_classes)``).

    Returns
    -------
    pandas.DataFrame
        ``(n_initializers, 8)``, columns :data:`COLUMNS`: ``initializer``, ``formula``,
        ``variance`` (``Var[W]`` as a formula), ``sigma_w2_first``, ``sigma_w2_hidden``,
        ``sigma_w2_output`` (``fan_in * E[W^2]`` of each kind of layer at the study's width),
        ``same_hidden_weights_as`` and ``same_hidden_variance_as`` (``;``-joined names in
        configuration order, empty if none; see the module's coincidence rule).

    Raises
    ------
    ValueError
        ``n_features`` or ``n_classes`` below 1.

    Notes
    -----
    Deciding "identical hidden weights" draws the first two layers of every initializer that
    coincides with another, once: the cost of initializing two layers of one network each.
    """
    if int(n_features) < 1 or int(n_classes) < 1:
        raise ValueError(f"n_features and n_classes must be >= 1, got {n_features}, {n_classes}")
    n_features, n_classes = int(n_features), int(n_classes)
    cfg = study.config
    point = (cfg["activations"][0], int(cfg["depths"][0]), int(cfg["seeds"][0]))
    specs = {name: study.base_spec(name, *point) for name in cfg["initializers"]}
    width = next(iter(specs.values())).width  # the baseline width of a width axis
    inits = {name: spec.resolve_initializer() for name, spec in specs.items()}
    # a transfer initializer copies trained layers: it coincides with nothing it is drawn like
    transfer = {name for name in inits if study.transfer_def(name) is not None}
    peers = {
        a: [
            b
            for b in inits
            if b != a and not {a, b} & transfer and _coincide(inits[a], inits[b], width)
        ]
        for a in inits
    }
    draws = {
        name: _hidden_draws(
            inits[name], specs[name].rngs()[0], n_features, width, np.dtype(specs[name].dtype)
        )
        for name in inits
        if peers[name]
    }
    rows = []
    for name, init in inits.items():
        same = [b for b in peers[name] if draws[b] == draws[name]]
        rows.append(
            {
                "initializer": name,
                "formula": formula(init),
                "variance": variance_formula(init),
                "sigma_w2_first": _sigma_w2(init, n_features, width),
                "sigma_w2_hidden": hidden_sigma_w2(init, (n_features, width, width, n_classes)),
                "sigma_w2_output": _sigma_w2(init, width, n_classes),
                "same_hidden_weights_as": ";".join(same),
                "same_hidden_variance_as": ";".join(b for b in peers[name] if b not in same),
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))
