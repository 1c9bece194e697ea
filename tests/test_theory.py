"""Tests for :mod:`initlab.theory` (mean-field signal propagation).

Reference numbers come from the mean-field theory of Poole et al. 2016 and Schoenholz et al. 2017
(tanh critical line and depth-scale table at sigma_b^2 = 0.05; q^5 / q^10 predictions for the
Glorot & Bengio 2010, LeCun and He et al. 2015 variances; values computed by numerical
quadrature of the length and correlation maps) and closed forms (linear, ReLU, the ReLU
arc-cosine kernel of Cho & Saul 2009).
"""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from initlab import theory
from initlab.activations import ACTIVATIONS, Activation
from initlab.initializers import INITIALIZERS, Initializer, variance_scaling
from initlab.quadrature import gaussian_expectation

RELU = ACTIVATIONS["relu"]
TANH = ACTIVATIONS["tanh"]


def matches_printed(value: float, printed: str) -> bool:
    """True if ``value`` rounds to ``printed`` (half a unit in its last digit, plus 1e-12)."""
    mantissa = printed.lower().split("e")[0]
    exponent = int(printed.lower().split("e")[1]) if "e" in printed.lower() else 0
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    half_ulp = 0.5 * 10.0 ** (exponent - decimals)
    return abs(value - float(printed)) <= half_ulp * (1 + 1e-9) + 1e-12 * abs(float(printed))


def relu_kernel(q: float, c: float) -> tuple[float, float]:
    """``E[relu(u1) relu(u2)]`` and ``E[relu'(u1) relu'(u2)]`` (Cho & Saul 2009, arc-cosine)."""
    theta = math.acos(c)
    fn = q / (2 * math.pi) * (math.sqrt(1 - c * c) + (math.pi - theta) * c)
    return fn, (math.pi - theta) / (2 * math.pi)


# --- closed forms ----------------------------------------------------------------------------


@pytest.mark.parametrize("sigma_w2", [0.3, 1.0, 2.0, 3.7])
@pytest.mark.parametrize("sigma_b2", [0.0, 0.05, 1.3])
@pytest.mark.parametrize("q", [0.0, 1e-3, 0.7, 25.0])
def test_linear_and_relu_closed_forms(sigma_w2: float, sigma_b2: float, q: float) -> None:
    lin = theory.length_map("linear", sigma_w2, sigma_b2, q)
    assert lin == pytest.approx(sigma_w2 * q + sigma_b2, rel=1e-12, abs=1e-15)
    assert theory.chi1("linear", sigma_w2, q) == pytest.approx(sigma_w2, rel=1e-12)
    rel = theory.length_map(RELU, sigma_w2, sigma_b2, q)
    assert rel == pytest.approx(sigma_w2 * q / 2 + sigma_b2, rel=1e-12, abs=1e-15)
    # chi1 at q = 0 is the q -> 0+ limit, 1/2 for every q > 0
    assert theory.chi1(RELU, sigma_w2, q) == pytest.approx(sigma_w2 / 2, rel=1e-12)
    assert theory.length_slope(RELU, sigma_w2, q) == pytest.approx(sigma_w2 / 2, rel=1e-12)


@pytest.mark.parametrize("q", [0.3, 1.0, 50.0, 1e4])
@pytest.mark.parametrize("c", [-0.9, -0.3, 0.0, 0.5, 0.99, 1 - 1e-6, 1 - 1e-12, 1.0])
def test_pair_expectation_relu_arc_cosine_kernel(q: float, c: float) -> None:
    fn, grad = relu_kernel(q, c)
    got_fn = theory.pair_expectation(RELU.fn, RELU.fn, q, c, RELU.kinks)
    got_grad = theory.pair_expectation(RELU.grad, RELU.grad, q, c, RELU.kinks)
    assert got_fn == pytest.approx(fn, rel=1e-11)
    assert got_grad == pytest.approx(grad, rel=1e-11)


@pytest.mark.parametrize("name", ["tanh", "gelu", "selu", "hard_sigmoid", "softsign", "sigmoid"])
@pytest.mark.parametrize("q", [0.4, 3.0])
def test_pair_expectation_limits(name: str, q: float) -> None:
    """c = 0 factorises, c -> 1 and c -> -1 join the one-dimensional expectations."""
    a = ACTIVATIONS[name]
    mean = gaussian_expectation(a.fn, q, a.kinks)
    assert theory.pair_expectation(a.fn, a.fn, q, 0.0, a.kinks) == pytest.approx(
        mean**2, rel=1e-11, abs=1e-14
    )
    same = a.moment("fn", q)
    assert theory.pair_expectation(a.fn, a.fn, q, 1 - 1e-13, a.kinks) == pytest.approx(
        same, rel=1e-9
    )
    flip = gaussian_expectation(lambda u: a.fn(u) * a.fn(-u), q, a.kinks)
    assert theory.pair_expectation(a.fn, a.fn, q, -1 + 1e-13, a.kinks) == pytest.approx(
        flip, rel=1e-9, abs=1e-12
    )


def test_correlation_map_relu_closed_form_and_unit_fixed_point() -> None:
    sigma_w2, sigma_b2, q = 1.7, 0.2, 0.9
    for c in (-0.5, 0.0, 0.3, 0.8, 0.999):
        num = sigma_w2 * relu_kernel(q, c)[0] + sigma_b2
        want = num / (sigma_w2 * q / 2 + sigma_b2)
        assert theory.correlation_map(RELU, sigma_w2, sigma_b2, q, c) == pytest.approx(
            want, rel=1e-12
        )
    for name in ("tanh", "relu", "selu", "gelu"):
        assert theory.correlation_map(name, 1.5, 0.1, 0.8, 1.0) == pytest.approx(1.0, abs=1e-14)


@pytest.mark.parametrize("name", ["tanh", "gelu", "elu", "softsign", "hard_sigmoid", "sigmoid"])
@pytest.mark.parametrize("q", [0.3, 2.0])
def test_length_slope_matches_finite_difference(name: str, q: float) -> None:
    h = 1e-5 * q
    up = theory.length_map(name, 1.3, 0.1, q + h)
    down = theory.length_map(name, 1.3, 0.1, q - h)
    assert theory.length_slope(name, 1.3, q) == pytest.approx((up - down) / (2 * h), abs=1e-9)


# --- fixed points ----------------------------------------------------------------------------


def test_fixed_point_special_cases() -> None:
    assert theory.fixed_point(RELU, 2.5, 0.0) == math.inf
    assert theory.fixed_point(RELU, 2.0, 0.1) == math.inf  # q -> q + 0.1: no fixed point
    assert theory.fixed_point("linear", 1.2, 0.0) == math.inf
    for q0 in (0.37, 1.0, 5.0):  # marginal: every q is a fixed point
        assert theory.fixed_point(RELU, 2.0, 0.0, q0=q0) == q0
    assert theory.fixed_point(RELU, 1.5, 0.0) == 0.0
    assert theory.fixed_point(RELU, 1.0, 0.3) == pytest.approx(0.3 / (1 - 0.5), rel=1e-11)
    assert theory.fixed_point("linear", 0.5, 0.2, q0=7.0) == pytest.approx(0.4, rel=1e-11)
    for sigma_w2 in (0.5, 0.9, 1.0):  # tanh without bias, sigma_w2 <= 1: q* = 0
        assert theory.fixed_point(TANH, sigma_w2, 0.0) == 0.0
        assert theory.fixed_point(TANH, sigma_w2, 0.0, q0=40.0) == 0.0
    q = theory.fixed_point(TANH, 1.5, 0.0)
    assert q > 0.1
    assert theory.length_map(TANH, 1.5, 0.0, q) == pytest.approx(q, rel=1e-11)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("q0", [0.05, 1.0, 20.0])
def test_fixed_point_is_a_fixed_point(name: str, q0: float) -> None:
    sigma_w2, sigma_b2 = 0.8, 0.1
    q = theory.fixed_point(name, sigma_w2, sigma_b2, q0=q0)
    assert 0 < q < math.inf
    assert theory.length_map(name, sigma_w2, sigma_b2, q) == pytest.approx(q, rel=1e-10)


@pytest.mark.parametrize("q0", [0.3, 1.0, 3.0])
def test_selu_fixed_point_is_one(q0: float) -> None:
    assert theory.length_map("selu", 1.0, 0.0, 1.0) == pytest.approx(1.0, abs=1e-4)
    assert theory.fixed_point("selu", 1.0, 0.0, q0=q0) == pytest.approx(1.0, abs=1e-3)


# --- criticality and depth scales ------------------------------------------------------------


def test_tanh_critical_point_at_bias_005() -> None:
    sigma_w2 = theory.critical_sigma_w2(TANH, 0.05)
    assert sigma_w2 == pytest.approx(1.761, abs=1e-3)
    assert matches_printed(sigma_w2, "1.7610")
    q = theory.fixed_point(TANH, sigma_w2, 0.05)
    assert q == pytest.approx(0.570, abs=1e-3)
    assert theory.chi1(TANH, sigma_w2, q) == pytest.approx(1.0, abs=1e-9)


def test_critical_line_literature() -> None:
    """Tanh critical line chi_1(q*) = 1 (Poole et al. 2016), values solved by quadrature."""
    table = {0.0: "1.000", 0.01: "1.424", 0.05: "1.7610", 0.10: "1.986", 0.20: "2.285"}
    table[0.30] = "2.505"
    line = theory.critical_line(TANH, list(table))
    assert line.shape == (len(table),)
    for got, printed in zip(line, table.values(), strict=True):
        assert matches_printed(got, printed), (got, printed)
    assert line[0] == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(theory.critical_line(RELU, [0.0, 0.05, 0.3]), 2.0, rtol=1e-10)
    assert theory.critical_sigma_w2("linear", 0.0) == pytest.approx(1.0, rel=1e-10)


TANH_TABLE = [  # sigma_w2, q*, chi1, c*, xi_q, xi_c  (sigma_b2 = 0.05)
    (0.5, 0.0876, 0.432, 1.0, 1.01, 1.19),
    (1.0, 0.1936, 0.759, 1.0, 1.75, 3.63),
    (1.5, 0.4180, 0.939, 1.0, 1.68, 15.8),
    (1.7, 0.5331, 0.987, 1.0, 1.56, 74.9),
    (1.75, 0.5634, 0.998, 1.0, 1.53, 426.0),
    (1.8, 0.5941, 1.008, 0.950, 1.50, 126.0),
    (2.0, 0.7218, 1.048, 0.744, 1.39, 25.2),
    (2.5, 1.064, 1.134, 0.447, 1.18, 11.8),
    (3.0, 1.428, 1.209, 0.299, 1.04, 9.05),
    (4.0, 2.195, 1.342, 0.165, 0.87, 6.98),
]


@pytest.mark.parametrize(("sigma_w2", "q_ref", "chi_ref", "c_ref", "xq_ref", "xc_ref"), TANH_TABLE)
def test_tanh_depth_scale_table(
    sigma_w2: float, q_ref: float, chi_ref: float, c_ref: float, xq_ref: float, xc_ref: float
) -> None:
    """Tanh at sigma_b2 = 0.05: fixed points and depth scales of Schoenholz et al. 2017, values
    computed by numerical quadrature, to 1% relative."""
    q = theory.fixed_point(TANH, sigma_w2, 0.05)
    assert q == pytest.approx(q_ref, rel=1e-2)
    assert theory.chi1(TANH, sigma_w2, q) == pytest.approx(chi_ref, rel=1e-2)
    c = theory.fixed_correlation(TANH, sigma_w2, 0.05)
    assert c == pytest.approx(c_ref, rel=1e-2)
    assert theory.correlation_map(TANH, sigma_w2, 0.05, q, c) == pytest.approx(c, abs=1e-10)
    xi_q, xi_c = theory.depth_scales(TANH, sigma_w2, 0.05)
    assert xi_q == pytest.approx(xq_ref, rel=1e-2)
    assert xi_c == pytest.approx(xc_ref, rel=1e-2)


def test_fixed_correlation_and_depth_scales_edge_cases() -> None:
    # odd activation without bias in the chaotic phase: c* = 0
    assert theory.fixed_correlation(TANH, 2.0, 0.0) == 0.0
    # ordered phase: c* = 1 and xi_c = -1/ln chi1
    q = theory.fixed_point(TANH, 0.8, 0.05)
    chi = theory.chi1(TANH, 0.8, q)
    assert theory.fixed_correlation(TANH, 0.8, 0.05) == 1.0
    assert theory.depth_scales(TANH, 0.8, 0.05)[1] == pytest.approx(-1 / math.log(chi), rel=1e-12)
    # q* = 0: the length map's slope is sigma_w2 * phi'(0)^2, the c-map's slope at c = 1 is 1
    xi_q, xi_c = theory.depth_scales(TANH, 0.8, 0.0)
    assert xi_q == pytest.approx(-1 / math.log(0.8), rel=1e-9)
    assert xi_c == math.inf
    assert theory.mean_field(TANH, 0.8, 0.0).xi_grad == pytest.approx(-1 / math.log(0.8), rel=1e-9)
    # edge of chaos at sigma_b2 = 0: xi_c diverges; diverging q*: xi_q undefined, the
    # scale-invariant c-map keeps slope 1 (xi_c = inf)
    assert theory.depth_scales(TANH, 1.0, 0.0)[1] == math.inf
    xi_q, xi_c = theory.depth_scales(RELU, 3.0, 0.0)
    assert math.isnan(xi_q) and xi_c == math.inf
    assert math.isnan(theory.fixed_correlation(RELU, 3.0, 0.0))
    # SELU at its self-normalising point: mean 0, so c = 0 is the (stable) fixed point
    c = theory.fixed_correlation("selu", 1.0, 0.0)
    assert c == pytest.approx(0.0, abs=1e-12)
    assert theory.correlation_map("selu", 1.0, 0.0, 1.0, 0.5) < 0.5


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="sigma_w2"):
        theory.length_map(TANH, -1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="q must"):
        theory.chi1(TANH, 1.0, math.inf)
    with pytest.raises(ValueError, match="correlation"):
        theory.correlation_map(TANH, 1.0, 0.0, 1.0, 1.5)
    with pytest.raises(ValueError, match="unknown activation"):
        theory.fixed_point("tanhh", 1.0, 0.0)
    with pytest.raises(ValueError, match="layer_sizes"):
        theory.predict_layers(TANH, "he_normal", (10,))
    with pytest.raises(ValueError, match="layer_sizes"):
        theory.predict_layers(TANH, "he_normal", (10, 0, 3))


# --- concrete networks -----------------------------------------------------------------------


@pytest.mark.parametrize("ism", [1.0, 0.25])
def test_predict_layers_he_relu_is_flat(ism: float) -> None:
    sizes = (784, 256, 256, 256, 256, 10)
    p = theory.predict_layers(RELU, "he_normal", sizes, input_second_moment=ism)
    assert set(p) == {"layer", "sigma_w2", "q", "chi", "delta_rms_rel"}
    np.testing.assert_array_equal(p["layer"], np.arange(1, 6))
    np.testing.assert_allclose(p["sigma_w2"], 2.0, rtol=1e-12)
    np.testing.assert_allclose(p["q"], 2.0 * ism, rtol=1e-12)
    # backward: factor 1 between hidden layers, n_out/width into the last hidden layer
    np.testing.assert_allclose(p["chi"][:-2], 1.0, rtol=1e-12)
    assert p["chi"][-2] == pytest.approx(10 / 256, rel=1e-12)
    assert math.isnan(p["chi"][-1])
    np.testing.assert_allclose(p["delta_rms_rel"][:-1], math.sqrt(10 / 256), rtol=1e-12)
    assert p["delta_rms_rel"][-1] == 1.0
    square = theory.predict_layers(RELU, "he_uniform", (256,) * 7, input_second_moment=ism)
    np.testing.assert_allclose(square["q"], 2.0 * ism, rtol=1e-12)
    np.testing.assert_allclose(square["delta_rms_rel"], 1.0, rtol=1e-12)


def test_predict_layers_shapes_bias_and_nonzero_mean() -> None:
    sizes = (100, 300, 300, 20)
    p = theory.predict_layers("linear", "glorot_uniform", sizes, input_second_moment=2.0)
    fans = list(itertools.pairwise(sizes))
    want_sw2 = [fi * 2.0 / (fi + fo) for fi, fo in fans]
    np.testing.assert_allclose(p["sigma_w2"], want_sw2, rtol=1e-12)
    np.testing.assert_allclose(p["q"], 2.0 * np.cumprod(want_sw2), rtol=1e-12)
    want_chi = [fo * 2.0 / (fi + fo) for fi, fo in fans[1:]]
    np.testing.assert_allclose(p["chi"][:-1], want_chi, rtol=1e-12)
    # He + ReLU with bias: q grows by bias_std^2 per layer
    b = theory.predict_layers(RELU, "he_normal", (50, 64, 64, 64, 8), bias_std=0.5)
    np.testing.assert_allclose(b["q"], 2.0 + 0.25 * np.arange(1, 5), rtol=1e-12)
    # non-zero mean (all ones): the mean-field theory does not apply
    ones = theory.predict_layers(TANH, "ones", (10, 20, 20, 5))
    for key in ("q", "chi", "delta_rms_rel"):
        assert np.isnan(ones[key]).all()
    np.testing.assert_array_equal(ones["layer"], [1, 2, 3])
    np.testing.assert_allclose(ones["sigma_w2"], [10.0, 20.0, 20.0])
    # zeros: theory applies, no signal and no backward flow into hidden layers
    zeros = theory.predict_layers(TANH, "zeros", (10, 20, 20, 5), bias_std=0.1)
    np.testing.assert_allclose(zeros["q"], 0.01, rtol=1e-12)
    np.testing.assert_array_equal(zeros["delta_rms_rel"], [0.0, 0.0, 1.0])


Q_TABLE = [  # activation, sigma_w2, q^5, q^10, grad factor over 10 layers (mean-field, quadrature)
    ("tanh", 1 / 3, "2.19e-3", "8.94e-6", "9.4e-6"),
    ("tanh", 1.0, "0.128", "0.0580", "0.071"),
    ("tanh", 25 / 9, "1.205", "1.179", "3.78"),
    ("sigmoid", 1.0, "0.2647", "0.2647", "2.3e-13"),
    ("relu", 1.0, "0.0625", "1.95e-3", "9.8e-4"),
    ("relu", 2.0, "2.0", "2.0", "1.0"),
    ("selu", 1.0, "1.0", "1.0", "2.0"),
    ("elu", 1.0, "0.226", "0.0709", "0.070"),
    ("gelu", 2.0, "1.375", "0.626", "0.48"),
    ("softsign", 1.0, "0.0220", "4.81e-3", "5.9e-3"),
]


@pytest.mark.parametrize(("name", "sigma_w2", "q5", "q10", "grad10"), Q_TABLE)
def test_predict_layers_literature_q_table(
    name: str, sigma_w2: float, q5: str, q10: str, grad10: str
) -> None:
    """Equal widths, b = 0, x ~ N(0, 1), Var W = sigma_w2 / fan_in, so q^1 = sigma_w2.

    The table has 3-4 significant digits, so "agrees" means: within 1e-3 relative or rounding
    to the printed digits (tanh 1/3's q^5 = 2.1862e-3 prints as 2.19e-3, 1.7e-3 away).
    """
    init = variance_scaling(sigma_w2, "fan_in", "untruncated_normal")
    p = theory.predict_layers(name, init, (300,) * 12)  # 10 hidden layers + output
    assert p["q"][0] == pytest.approx(sigma_w2, rel=1e-12)
    for got, printed in ((p["q"][4], q5), (p["q"][9], q10)):
        close = abs(got - float(printed)) <= 1e-3 * float(printed)
        assert close or matches_printed(got, printed), (got, printed)
    # grad factor = prod_{l=1..10} sigma_w2 E[phi'(h^l)^2] = delta_rms_rel[layer 1]^2; 2e-3 because
    # tanh 25/9 gives 3.77496, printed 3.78 (rounded twice, via 3.775)
    grad = p["delta_rms_rel"][0] ** 2
    assert grad == pytest.approx(float(grad10), rel=2e-3) or matches_printed(grad, grad10)


# --- Monte Carlo: real initializers, real forward passes --------------------------------------

MC_WIDTH = 1024
MC_INPUTS = 32  # independent N(0, 1) inputs per network
MC_N_IN, MC_N_OUT = 128, 256
MC_CASES = [  # initializer, activation, hidden layers, networks
    # ReLU nets fluctuate most between networks (about 4-6% per network at layers 3-4), so they
    # get the most networks, drawn with the cheap uniform He variant; truncated normals cost
    # about 30 ms per 1024 x 1024 draw, so those cases are shallower and fewer.
    ("he_uniform", "relu", 3, 220),
    ("glorot_normal", "tanh", 3, 24),
    ("lecun_normal", "selu", 3, 24),
    ("standard_uniform", "tanh", 6, 40),
    ("glorot_uniform", "linear", 6, 40),
]


def _network_second_moments(
    init: Initializer, act: Activation, sizes: tuple[int, ...], seed: np.random.SeedSequence
) -> list[float]:
    """Mean of z^2 over units and inputs, for each layer of one random network."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((MC_INPUTS, sizes[0])).astype(np.float32)
    out = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        z = a @ init(rng, (fan_in, fan_out), np.float32)
        out.append(float(np.mean(np.square(z, dtype=np.float64))))
        a = act.fn(z)
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("init_name", "act_name", "depth", "n_networks"), MC_CASES)
def test_monte_carlo_second_moments(
    init_name: str, act_name: str, depth: int, n_networks: int
) -> None:
    """Width-1024 networks drawn with the real initializers: the measured mean second moment of
    every layer's pre-activations is within 2% of :func:`predict_layers`. The non-square first
    (128 -> 1024) and last (1024 -> 256) layers check the per-shape sigma_w2 (fan_avg)."""
    assert sum(case[3] for case in MC_CASES) >= 200
    init, act = INITIALIZERS[init_name], ACTIVATIONS[act_name]
    sizes = (MC_N_IN, *([MC_WIDTH] * depth), MC_N_OUT)
    seeds = np.random.SeedSequence([2024, depth, n_networks, len(init_name)]).spawn(n_networks)
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda s: _network_second_moments(init, act, sizes, s), seeds))
    measured = np.mean(np.array(runs), axis=0)
    predicted = theory.predict_layers(act, init, sizes, input_second_moment=1.0)["q"]
    rel_err = measured / predicted - 1.0
    assert np.all(np.abs(rel_err) < 0.02), dict(zip(range(1, depth + 2), rel_err, strict=True))


# --- correlation depth scale vs gradient depth scale (Schoenholz et al. 2017) -----------------


def _relu_cmap(c: np.ndarray) -> np.ndarray:
    """Arc-cosine kernel of degree 1 (Cho & Saul 2009), ReLU with sigma_b2 = 0, normalized."""
    return (np.sqrt(1.0 - c * c) + (np.pi - np.arccos(c)) * c) / np.pi


@pytest.mark.parametrize("sigma_w2", [0.5, 1.0, 1.5, 2.0, 3.0])
def test_relu_without_bias_has_infinite_correlation_depth(sigma_w2: float) -> None:
    """ReLU with sigma_b2 = 0 is scale invariant: the c-map is the arc-cosine map for every
    sigma_w2, its slope at c = 1 is (pi - arccos 1) / pi = 1, so xi_c = inf, while gradients
    still scale by chi_1 = sigma_w2 / 2 per layer (closed forms, He et al. 2015)."""
    mf = theory.mean_field(RELU, sigma_w2, 0.0)
    assert mf.xi_c == math.inf
    expected_grad = math.inf if sigma_w2 == 2.0 else -1.0 / math.log(sigma_w2 / 2.0)
    assert mf.xi_grad == pytest.approx(expected_grad, rel=1e-12)
    # independent check of the slope: finite difference of the closed-form map at c = 1
    h = 1e-8
    slope = (1.0 - _relu_cmap(np.array([1.0 - h]))[0]) / h
    assert slope == pytest.approx(1.0, abs=1e-3)
    # and convergence to c* = 1 is slower than any exponential: 1 - c shrinks by a factor
    # that tends to 1 (it would stay at chi_1 < 1 if xi_c were -1/ln chi_1)
    c = np.array([0.0])
    gaps = []
    for _ in range(200):
        c = _relu_cmap(c)
        gaps.append(1.0 - c[0])
    assert gaps[-1] / gaps[-2] > 0.98


def test_relu_with_bias_has_finite_correlation_depth() -> None:
    """With sigma_b2 > 0 the ReLU length map has q* = sigma_b2 / (1 - sigma_w2/2) > 0, and there
    the c-map slope at 1 is chi_1 = sigma_w2 / 2, so xi_c = xi_grad = -1/ln(sigma_w2/2)."""
    mf = theory.mean_field(RELU, 1.0, 0.05)
    assert mf.q_star == pytest.approx(0.1, rel=1e-9)
    assert mf.xi_c == pytest.approx(-1.0 / math.log(0.5), rel=1e-9)
    assert mf.xi_grad == pytest.approx(-1.0 / math.log(0.5), rel=1e-12)


def _hermite_cmap(phi, sigma_w2: float, q: float, c: float, n: int = 120) -> tuple[float, float]:
    """Own tensor Gauss-Hermite rule (probabilists'): next (q, c) of a centred Gaussian pair."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    z1, z2 = np.meshgrid(x, x, indexing="ij")
    ww = np.outer(w, w)
    u1 = math.sqrt(q) * z1
    u2 = math.sqrt(q) * (c * z1 + math.sqrt(max(0.0, 1.0 - c * c)) * z2)
    q12 = sigma_w2 * float(np.sum(ww * phi(u1) * phi(u2)))
    q11 = sigma_w2 * float(np.sum(w * phi(math.sqrt(q) * x) ** 2))
    return q11, q12 / q11


def test_tanh_with_vanishing_length_has_freezing_correlations() -> None:
    """tanh, sigma_w2 = 0.8, sigma_b2 = 0: q -> q* = 0, the net becomes linear and the c-map
    tends to the identity. Iterating the pair map with an independent Gauss-Hermite rule shows
    the per-layer factor of 1 - c^l climbing towards 1 (correlations freeze), far above
    chi_1 = 0.8: xi_c is not -1/ln chi_1, and there is no c*."""
    q, c = 1.0, 0.3
    ratios = []
    for _ in range(60):
        q_next, c_next = _hermite_cmap(np.tanh, 0.8, q, c)
        ratios.append((1.0 - c_next) / (1.0 - c))
        q, c = q_next, c_next
    assert ratios[-1] > 0.95 > 0.8
    assert c < 0.5  # frozen far from c = 1
    mf = theory.mean_field(TANH, 0.8, 0.0)
    assert mf.xi_c == math.inf and math.isnan(mf.c_star)


# --- SELU: attraction to the fixed point (Klambauer et al. 2017) ------------------------------

SELU_BAND = 0.1  # |q^l - 1| within which a layer counts as "at the fixed point"


@pytest.mark.parametrize("q0", [0.25, 4.0])
def test_selu_returns_to_the_fixed_point_within_the_predicted_depth(q0: float) -> None:
    """Klambauer et al. (2017) claim (0, 1) *attracts*: inputs of second moment q0 = 0.25 or 4
    (far from q* = 1) come back. The q-map predicts the first layer L at which
    |q^l - 1| <= 0.1; real width-512 LeCun-normal SELU nets (16 networks x 64 inputs) must be
    that close from layer L on (tolerance 0.1 plus 0.03 for the Monte-Carlo spread of 16
    networks at width 512, about 1/sqrt(16 * 512 / 2) ~ 0.016 per layer, doubled), must start
    far from it (the test is not vacuous), and their post-activations must end inside the
    domain of Theorem 1 (|mu| <= 0.1, 0.8 <= nu <= 1.5)."""
    depth, width, n_nets = 32, 512, 16
    selu, init = ACTIVATIONS["selu"], INITIALIZERS["lecun_normal"]
    q_pred = [q0]
    for _ in range(depth - 1):
        q_pred.append(theory.length_map(selu, 1.0, 0.0, q_pred[-1]))
    predicted_layer = 1 + next(i for i, q in enumerate(q_pred) if abs(q - 1.0) <= SELU_BAND)
    # the map predicts a return (not an instant one) with layers to spare for the check
    assert 2 <= predicted_layer <= depth - 8
    q_meas = np.zeros(depth)
    mu, nu = np.zeros(depth), np.zeros(depth)
    for seed in np.random.SeedSequence([17, int(q0 * 100)]).spawn(n_nets):
        rng = np.random.default_rng(seed)
        a = math.sqrt(q0) * rng.standard_normal((64, width))
        for layer in range(depth):
            z = a @ init(rng, (width, width), np.float64)
            q_meas[layer] += np.mean(z * z) / n_nets
            a = selu.fn(z)
            mu[layer] += a.mean() / n_nets
            nu[layer] += a.var() / n_nets
    assert abs(q_meas[0] - 1.0) > 0.5  # starts far from the fixed point
    tail = q_meas[predicted_layer - 1 :]
    assert np.all(np.abs(tail - 1.0) <= SELU_BAND + 0.03), (predicted_layer, tail)
    assert np.all(np.abs(mu[predicted_layer:]) <= 0.1)
    assert np.all((nu[predicted_layer:] >= 0.8) & (nu[predicted_layer:] <= 1.5))
