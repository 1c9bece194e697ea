"""Tests of initlab.activations and initlab.quadrature: derivatives vs finite differences, exact
values, float32 stability, Gaussian moments (E[phi^2], E[phi'^2] for z ~ N(0, 1), values computed
by numerical quadrature of the PyTorch / Keras 3 definitions), gains, families and error messages.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from initlab import activations
from initlab.activations import ACTIVATIONS, Activation, make_activation
from initlab.quadrature import gaussian_expectation

NAMES = sorted(ACTIVATIONS)
SELU_ALPHA = 1.6732632423543772848170429916717  # Klambauer et al. (2017)
SELU_LAMBDA = 1.0507009873554804934193349852946
E = math.e


def _arr(x: float) -> np.ndarray:
    return np.array([x], dtype=np.float64)


# --- derivative vs central finite differences ----------------------------------------------------

FD_ATOL = 1e-7
FD_RTOL = 1e-6


def _away_from_kinks(z: np.ndarray, kinks: tuple[float, ...], margin: float = 2e-3) -> np.ndarray:
    """Push every point closer than ``margin`` to a kink out to distance ``margin``."""
    z = z.copy()
    for k in kinks:
        near = np.abs(z - k) < margin
        z[near] = k + np.where(z[near] >= k, margin, -margin)
    return z


@pytest.mark.parametrize("name", NAMES)
def test_grad_matches_central_differences(name: str) -> None:
    """50 random shapes up to 100x100 in float64. Step h = 1e-6 * max(1, |z|); the divisor is
    the actually representable step (z+h)-(z-h). Truncation error ~ h^2 |phi'''| / 6 ~ 1e-12 and
    rounding error ~ eps |phi| / h ~ 1e-10 * max(1, |phi|), so |fd - grad| <= 1e-7 + 1e-6 |grad|
    leaves a wide margin. Points stay >= 1e-3 (here 2e-3) from the kinks, far beyond h."""
    act = ACTIVATIONS[name]
    rng = np.random.default_rng(2024)
    for _ in range(50):
        shape = tuple(int(s) for s in rng.integers(1, 101, size=2))
        z = rng.normal(0.0, 3.0, size=shape)
        z = _away_from_kinks(z, act.kinks)
        h = 1e-6 * np.maximum(1.0, np.abs(z))
        zp, zm = z + h, z - h
        fd = (act.fn(zp) - act.fn(zm)) / (zp - zm)
        g = act.grad(z)
        assert g.shape == z.shape
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, fd, rtol=FD_RTOL, atol=FD_ATOL, err_msg=name)


def test_every_kink_keeps_fd_points_on_one_side() -> None:
    z = _away_from_kinks(np.linspace(-4, 4, 8001), (-3.0, 0.0, 3.0))
    for k in (-3.0, 0.0, 3.0):
        assert np.min(np.abs(z - k)) >= 2e-3 - 1e-15


# --- exact values --------------------------------------------------------------------------------

SPOT_VALUES = [
    ("linear", 3.5, 3.5),
    ("sigmoid", 0.0, 0.5),
    ("sigmoid", 1.0, 1.0 / (1.0 + math.exp(-1.0))),
    ("tanh", 1.0, math.tanh(1.0)),
    ("relu", -1.0, 0.0),
    ("relu", 2.0, 2.0),
    ("leaky_relu", -1.0, -0.01),  # PyTorch default slope
    ("leaky_relu", 2.0, 2.0),
    ("elu", -1.0, math.exp(-1.0) - 1.0),
    ("elu", 2.0, 2.0),
    ("selu", 1.0, 1.0507009873554805),
    ("selu", -1.0, SELU_LAMBDA * SELU_ALPHA * (math.exp(-1.0) - 1.0)),
    ("gelu", 1.0, 0.8413447460685429),  # 1 * Phi(1)
    ("gelu", -1.0, -(1.0 - 0.8413447460685429)),
    ("silu", 1.0, 1.0 / (1.0 + math.exp(-1.0))),
    ("softsign", 1.0, 0.5),
    ("softsign", -3.0, -0.75),
    ("softplus", 0.0, math.log(2.0)),
    ("softplus", 1.0, math.log1p(E)),
    ("mish", 1.0, math.tanh(math.log1p(E))),
    ("hard_sigmoid", 1.0, 2.0 / 3.0),
    ("hard_sigmoid", -4.0, 0.0),
    ("hard_sigmoid", 4.0, 1.0),
    ("lecun_tanh", 1.0, 1.7159 * math.tanh(2.0 / 3.0)),
]


@pytest.mark.parametrize(("name", "z", "expected"), SPOT_VALUES)
def test_spot_values(name: str, z: float, expected: float) -> None:
    y = ACTIVATIONS[name].fn(_arr(z))
    assert y.dtype == np.float64
    assert abs(float(y[0]) - expected) <= 1e-12


# phi'(0) with the torch autograd convention at kinks
GRAD_AT_ZERO = {
    "linear": 1.0,
    "sigmoid": 0.25,
    "tanh": 1.0,
    "relu": 0.0,
    "leaky_relu": 0.01,
    "elu": 1.0,
    "selu": SELU_LAMBDA * SELU_ALPHA,
    "gelu": 0.5,
    "silu": 0.5,
    "mish": 0.6,  # tanh(ln 2) = 3/5
    "softsign": 1.0,
    "softplus": 0.5,
    "hard_sigmoid": 1.0 / 6.0,
    "lecun_tanh": 1.7159 * 2.0 / 3.0,
}


@pytest.mark.parametrize("name", NAMES)
def test_grad_at_zero(name: str) -> None:
    if name not in GRAD_AT_ZERO:
        pytest.skip(f"no reference derivative at 0 for {name}")
    assert abs(float(ACTIVATIONS[name].grad(_arr(0.0))[0]) - GRAD_AT_ZERO[name]) <= 1e-12


def test_builtins_cover_reference_table() -> None:
    assert set(GRAD_AT_ZERO) <= set(ACTIVATIONS)
    for name, act in ACTIVATIONS.items():
        assert act.name == name


# --- float32 stability ---------------------------------------------------------------------------

EXTREMES = np.array(
    [-1e4, -89.0, -88.0, -20.0, -1.0, 0.0, 1.0, 20.0, 88.0, 89.0, 1e4], dtype=np.float32
)


@pytest.mark.parametrize("which", ["fn", "grad"])
@pytest.mark.parametrize("name", NAMES)
def test_float32_extremes_are_stable(name: str, which: str) -> None:
    """No overflow, invalid or divide-by-zero (underflow to 0 is harmless and allowed); warnings
    are errors under the project's pytest config; dtype stays float32; values agree with the
    float64 evaluation."""
    f = getattr(ACTIVATIONS[name], which)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = f(EXTREMES.copy())
        y64 = f(EXTREMES.astype(np.float64))
    assert y.dtype == np.float32
    assert y.shape == EXTREMES.shape
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, y64.astype(np.float32), rtol=1e-5, atol=1e-6)


def test_float32_limits() -> None:
    z = np.array([-1e4, 1e4], dtype=np.float32)
    a = ACTIVATIONS
    np.testing.assert_array_equal(a["sigmoid"].fn(z), [0.0, 1.0])
    np.testing.assert_array_equal(a["softplus"].fn(z), [0.0, 1e4])
    np.testing.assert_array_equal(a["gelu"].fn(z), [0.0, 1e4])
    np.testing.assert_array_equal(a["silu"].fn(z), [0.0, 1e4])
    np.testing.assert_array_equal(a["mish"].fn(z), [0.0, 1e4])
    np.testing.assert_array_equal(a["elu"].fn(z), [-1.0, 1e4])
    np.testing.assert_array_equal(a["gelu"].grad(z), [0.0, 1.0])


# --- Gaussian moments (numerical quadrature: E[phi^2], E[phi'^2] for z ~ N(0, 1)) --------------

MOMENTS = {
    "sigmoid": (0.29338, 0.04484),
    "tanh": (0.39429, 0.46440),
    "relu": (0.5, 0.5),
    "elu": (0.64495, 0.66810),
    "selu": (1.0, 1.07157),
    "gelu": (0.42522, 0.45585),
    "silu": (0.35578, 0.37948),
    "mish": (0.45234, 0.47908),
    "softsign": (0.18301, 0.22767),
    "softplus": (0.92125, 0.29338),
    "hard_sigmoid": (0.27764, 0.02770),
    "lecun_tanh": (0.75043, 0.80399),
    "linear": (1.0, 1.0),
    "leaky_relu": ((1 + 0.01**2) / 2, (1 + 0.01**2) / 2),
}


@pytest.mark.parametrize("name", sorted(MOMENTS))
def test_gaussian_moments_match_table(name: str) -> None:
    act = ACTIVATIONS[name]
    e_phi2, e_dphi2 = MOMENTS[name]
    # the table is rounded to 5 decimals
    assert abs(act.moment("fn") - e_phi2) < 1e-4
    assert abs(act.moment("grad") - e_dphi2) < 1e-4
    assert act.grad_second_moment == pytest.approx(act.moment("grad"), abs=1e-15)


def test_selu_fixed_point_is_exact() -> None:
    """Klambauer et al.: mean 0 and second moment 1 are a fixed point of selu."""
    selu = ACTIVATIONS["selu"]
    assert abs(selu.moment("fn", power=1)) < 1e-8
    assert abs(selu.moment("fn") - 1.0) < 1e-8


def test_moment_scales_with_q() -> None:
    relu = ACTIVATIONS["relu"]
    assert relu.moment("fn", q=3.0) == pytest.approx(1.5, abs=1e-12)  # E[relu(sqrt(q) z)^2] = q/2
    assert relu.moment("fn", q=4.0, power=1) == pytest.approx(2.0 / math.sqrt(2 * math.pi))


def test_gaussian_expectation_polynomials_and_abs() -> None:
    assert gaussian_expectation(lambda z: z**2, 2.5) == pytest.approx(2.5, abs=1e-12)
    assert gaussian_expectation(lambda z: z**4, 1.0) == pytest.approx(3.0, abs=1e-12)
    assert gaussian_expectation(lambda z: z, 1.0) == pytest.approx(0.0, abs=1e-15)
    assert gaussian_expectation(np.abs, 1.0, (0.0,)) == pytest.approx(
        math.sqrt(2 / math.pi), abs=1e-12
    )
    # E[cos(sqrt(q) z)] = exp(-q/2)
    assert gaussian_expectation(np.cos, 0.7) == pytest.approx(math.exp(-0.35), abs=1e-12)


@pytest.mark.parametrize("q", [0.01, 0.5, 1.0, 2.0, 9.0])
def test_gaussian_expectation_handles_kinks(q: float) -> None:
    s = math.sqrt(q)
    relu_mean = gaussian_expectation(lambda z: np.maximum(z, 0.0), q, (0.0,))
    assert abs(relu_mean - s / math.sqrt(2 * math.pi)) < 1e-12
    step = gaussian_expectation(lambda z: (z > 0).astype(float), q, (0.0,))
    assert abs(step - 0.5) < 1e-12
    # off-centre kinks at +-3 (hard sigmoid): P(|sqrt(q) z| < 3) = erf(3 / sqrt(2 q))
    box = gaussian_expectation(lambda z: (np.abs(z) < 3).astype(float), q, (-3.0, 3.0))
    assert abs(box - special.erf(3.0 / math.sqrt(2.0 * q))) < 1e-12


def test_gaussian_expectation_q_zero_and_invalid() -> None:
    assert gaussian_expectation(lambda z: np.cos(z) + 2.0, 0.0) == 3.0
    assert gaussian_expectation(lambda z: np.maximum(z, 0.0), 0.0, (0.0,)) == 0.0
    assert ACTIVATIONS["sigmoid"].moment("fn", q=0.0) == 0.25
    for bad in (-1.0, -1e-12, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="q"):
            gaussian_expectation(np.abs, bad)


# --- max_grad and gain ---------------------------------------------------------------------------

MAX_GRAD = {
    "relu": 1.0,
    "sigmoid": 0.25,
    "tanh": 1.0,
    "hard_sigmoid": 1.0 / 6.0,
    "selu": 1.7580993408473766,  # lambda * alpha, the left limit at 0
    "linear": 1.0,
    "leaky_relu": 1.0,
    "elu": 1.0,
    "softsign": 1.0,
    "softplus": 1.0,  # supremum, approached as z -> inf
    "lecun_tanh": 1.7159 * 2.0 / 3.0,
}


@pytest.mark.parametrize("name", sorted(MAX_GRAD))
def test_max_grad(name: str) -> None:
    assert ACTIVATIONS[name].max_grad == pytest.approx(MAX_GRAD[name], abs=1e-6)


@pytest.mark.parametrize("name", ["gelu", "silu", "mish"])
def test_max_grad_of_non_monotone_is_its_peak(name: str) -> None:
    act = ACTIVATIONS[name]
    z = np.linspace(-10, 10, 2_000_001)
    assert act.max_grad == pytest.approx(float(np.max(act.grad(z))), abs=1e-8)
    assert act.max_grad > 1.0


def test_gain() -> None:
    assert ACTIVATIONS["relu"].gain == pytest.approx(math.sqrt(2.0), abs=1e-12)
    assert ACTIVATIONS["linear"].gain == pytest.approx(1.0, abs=1e-12)
    assert ACTIVATIONS["leaky_relu"].gain == pytest.approx(1.4141428569978354, abs=1e-12)
    assert ACTIVATIONS["tanh"].gain == pytest.approx(1.0 / math.sqrt(0.46440), abs=1e-4)


# --- families and errors -------------------------------------------------------------------------


def test_make_leaky_relu_with_slope() -> None:
    act = make_activation("lrelu02", "leaky_relu", slope=0.2)
    assert isinstance(act, Activation)
    assert act.name == "lrelu02"
    assert act.family == "leaky_relu"
    assert act.params["slope"] == 0.2
    z = np.array([-2.0, -1.0, 0.5, 3.0])
    np.testing.assert_allclose(act.fn(z), [-0.4, -0.2, 0.5, 3.0], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(act.grad(z), [0.2, 0.2, 1.0, 1.0])
    assert act.gain == pytest.approx(math.sqrt(2.0 / 1.04), abs=1e-12)  # 1.386750
    z32 = z.astype(np.float32)
    assert act.fn(z32).dtype == np.float32
    assert act.grad(z32).dtype == np.float32
    assert ACTIVATIONS["leaky_relu"].params["slope"] == 0.01  # built-in unchanged


def test_make_elu_and_softplus_families() -> None:
    elu2 = make_activation("elu2", "elu", alpha=2.0)
    assert float(elu2.fn(_arr(-1.0))[0]) == pytest.approx(2.0 * (math.exp(-1.0) - 1.0), abs=1e-15)
    sp = make_activation("sp2", "softplus", beta=2.0)
    assert float(sp.fn(_arr(0.0))[0]) == pytest.approx(math.log(2.0) / 2.0, abs=1e-15)
    assert float(sp.grad(_arr(0.0))[0]) == pytest.approx(0.5, abs=1e-15)


@pytest.mark.parametrize(
    ("family", "params", "needles"),
    [
        ("swish2", {"slope": 0.2}, ["'swish2'", "leaky_relu"]),
        ("leaky_relu", {"alpha": 0.2}, ["'alpha'", "slope"]),
        ("leaky_relu", {}, ["'slope'"]),
        ("leaky_relu", {"slope": -1}, ["'slope'", "-1"]),
        ("leaky_relu", {"slope": "a"}, ["'slope'", "'a'"]),
        ("leaky_relu", {"slope": True}, ["'slope'", "True"]),
        ("elu", {"alpha": float("nan")}, ["'alpha'", "nan"]),
        ("softplus", {"beta": 0.0}, ["'beta'", "0.0"]),
    ],
)
def test_make_activation_errors(family: str, params: dict, needles: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        make_activation("bad_act", family, **params)
    msg = str(info.value)
    for needle in needles:
        assert needle in msg


def test_unknown_name_suggests_closest_and_lists_allowed() -> None:
    with pytest.raises(ValueError) as info:
        activations.get("rellu")
    msg = str(info.value)
    assert "'rellu'" in msg
    assert "did you mean 'relu'" in msg
    for name in NAMES:
        assert name in msg


def test_get_known_and_custom() -> None:
    assert activations.get("tanh") is ACTIVATIONS["tanh"]
    custom = {"lrelu02": make_activation("lrelu02", "leaky_relu", slope=0.2)}
    assert activations.get("lrelu02", custom) is custom["lrelu02"]
    with pytest.raises(ValueError, match="lrelu02"):
        activations.get("lrelu03", custom)
