"""Tests of initlab.initializers: moments, exact distributions (KS), fans, bounds, orthogonality,
seeding, dtypes and input validation.

The targets come from the Keras 3 definitions (``VarianceScaling`` and the named initializers in
``keras/src/initializers/random_initializers.py``), written out here independently of the
implementation. Weights are laid out ``(fan_in, fan_out)``.
Every random draw uses a fixed seed, so the statistical checks are deterministic and cannot flake.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from initlab import initializers
from initlab.initializers import (
    INITIALIZERS,
    TRUNCATED_STD,
    Initializer,
    compute_fans,
    make_initializer,
    orthogonal,
    variance_scaling,
)

NAMES = sorted(INITIALIZERS)
BIG = (256, 512)  # (fan_in, fan_out), 131072 samples
SMALL_SHAPES = [(20, 25), (23, 21)]  # PyTorch-style small KS shapes, dims 20-25
KS_P_MIN = 1e-4

# Kurtosis E[x^4]/E[x^2]^2 of each distribution: Var[sample variance] ~= var^2 (kurt - 1) / n.
KURTOSIS = {
    "normal": 3.0,
    "uniform": 9.0 / 5.0,
    "truncated": float(stats.truncnorm(-2, 2).stats(moments="k")) + 3.0,  # 2.3655...
}


def _draw(
    init: Initializer, shape: tuple[int, ...], seed: int, dtype: type = np.float64
) -> np.ndarray:
    return init(np.random.default_rng(seed), shape, dtype)


def _kind(init: Initializer) -> str:
    """Shape of the distribution, for the standard error of the sample variance."""
    family = init.params.get("family")
    if family == "variance_scaling":
        return {
            "uniform": "uniform",
            "truncated_normal": "truncated",
            "untruncated_normal": "normal",
        }[init.params["distribution"]]
    # orthogonal entries are close to normal; kurtosis 3 is the conservative (larger) choice
    return {
        "constant": "constant",
        "normal": "normal",
        "uniform": "uniform",
        "truncated_normal": "truncated",
        "orthogonal": "normal",
    }[family]


# --- the exact targets, written from the Keras definitions ---------------------------------------

KERAS_TRUNC = 0.87962566103423978  # std of N(0, 1) truncated to [-2, 2]


def _unif(var: Callable[[int, int], float]) -> Callable[[int, int], stats.rv_continuous]:
    def target(fi: int, fo: int) -> stats.rv_continuous:
        limit = math.sqrt(3.0 * var(fi, fo))
        return stats.uniform(-limit, 2.0 * limit)

    return target


def _keras_trunc(var: Callable[[int, int], float]) -> Callable[[int, int], stats.rv_continuous]:
    def target(fi: int, fo: int) -> stats.rv_continuous:
        return stats.truncnorm(-2, 2, scale=math.sqrt(var(fi, fo)) / KERAS_TRUNC)

    return target


def _norm(var: Callable[[int, int], float]) -> Callable[[int, int], stats.rv_continuous]:
    def target(fi: int, fo: int) -> stats.rv_continuous:
        return stats.norm(0.0, math.sqrt(var(fi, fo)))

    return target


# name -> exact variance of one entry as a function of (fan_in, fan_out)
EXPECTED_VARIANCE: dict[str, Callable[[int, int], float]] = {
    "zeros": lambda fi, fo: 0.0,
    "ones": lambda fi, fo: 0.0,
    "random_normal": lambda fi, fo: 0.05**2,
    "random_uniform": lambda fi, fo: 0.05**2 / 3.0,
    "truncated_normal": lambda fi, fo: (0.05 * KERAS_TRUNC) ** 2,  # no correction: std 0.04398
    "standard_uniform": lambda fi, fo: 1.0 / (3.0 * fi),  # U[+-1/sqrt(fan_in)]
    "glorot_uniform": lambda fi, fo: 2.0 / (fi + fo),
    "glorot_normal": lambda fi, fo: 2.0 / (fi + fo),
    "he_uniform": lambda fi, fo: 2.0 / fi,
    "he_normal": lambda fi, fo: 2.0 / fi,
    "lecun_uniform": lambda fi, fo: 1.0 / fi,
    "lecun_normal": lambda fi, fo: 1.0 / fi,
    "orthogonal": lambda fi, fo: 1.0 / max(fi, fo),
}
EXPECTED_MEAN = {"ones": 1.0}

# name -> (fan_in, fan_out) -> scipy distribution that the entries must follow exactly
TARGETS: dict[str, Callable[[int, int], stats.rv_continuous]] = {
    "random_normal": lambda fi, fo: stats.norm(0.0, 0.05),
    "random_uniform": lambda fi, fo: stats.uniform(-0.05, 0.1),
    "truncated_normal": lambda fi, fo: stats.truncnorm(-2, 2, scale=0.05),
    "standard_uniform": _unif(EXPECTED_VARIANCE["standard_uniform"]),
    "glorot_uniform": _unif(EXPECTED_VARIANCE["glorot_uniform"]),
    "he_uniform": _unif(EXPECTED_VARIANCE["he_uniform"]),
    "lecun_uniform": _unif(EXPECTED_VARIANCE["lecun_uniform"]),
    "glorot_normal": _keras_trunc(EXPECTED_VARIANCE["glorot_normal"]),
    "he_normal": _keras_trunc(EXPECTED_VARIANCE["he_normal"]),
    "lecun_normal": _keras_trunc(EXPECTED_VARIANCE["lecun_normal"]),
}

# Variance-scaling members that are not built in: fan_out modes and the untruncated normal.
CUSTOM: dict[str, tuple[Initializer, Callable[[int, int], stats.rv_continuous]]] = {
    "he_uniform_fan_out": (
        variance_scaling(2.0, "fan_out", "uniform"),
        _unif(lambda fi, fo: 2.0 / fo),
    ),
    "he_trunc_fan_out": (
        variance_scaling(2.0, "fan_out", "truncated_normal"),
        _keras_trunc(lambda fi, fo: 2.0 / fo),
    ),
    "he_untrunc_fan_in": (
        variance_scaling(2.0, "fan_in", "untruncated_normal"),
        _norm(lambda fi, fo: 2.0 / fi),
    ),
    "he_untrunc_fan_out": (
        make_initializer(
            "he_untrunc_fan_out",
            "variance_scaling",
            scale=2.0,
            mode="fan_out",
            distribution="untruncated_normal",
        ),
        _norm(lambda fi, fo: 2.0 / fo),
    ),
    "glorot_untrunc": (
        variance_scaling(1.0, "fan_avg", "untruncated_normal"),
        _norm(lambda fi, fo: 2.0 / (fi + fo)),
    ),
}
KS_CASES = [(n, INITIALIZERS[n], t) for n, t in TARGETS.items()] + [
    (n, i, t) for n, (i, t) in CUSTOM.items()
]


def test_truncation_constant_is_std_of_truncated_standard_normal() -> None:
    assert TRUNCATED_STD == pytest.approx(stats.truncnorm(-2, 2).std(), abs=1e-15)
    assert TRUNCATED_STD == KERAS_TRUNC


def test_registry_holds_the_keras_names() -> None:
    assert set(EXPECTED_VARIANCE) <= set(INITIALIZERS)
    for name, init in INITIALIZERS.items():
        assert init.name == name


# --- exact formulas ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED_VARIANCE))
@pytest.mark.parametrize("fans", [(256, 512), (100, 400), (400, 100), (7, 7)])
def test_variance_formula_matches_definition(name: str, fans: tuple[int, int]) -> None:
    init = INITIALIZERS[name]
    assert init.variance(*fans) == pytest.approx(EXPECTED_VARIANCE[name](*fans), rel=1e-12)
    assert init.mean == EXPECTED_MEAN.get(name, 0.0)
    mu = EXPECTED_MEAN.get(name, 0.0)
    assert init.second_moment(*fans) == pytest.approx(
        EXPECTED_VARIANCE[name](*fans) + mu**2, rel=1e-12
    )


# --- empirical moments ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_empirical_moments_match_exact_formula(name: str) -> None:
    init = INITIALIZERS[name]
    fan_in, fan_out = BIG
    w = _draw(init, BIG, seed=1234)
    assert w.shape == BIG
    kind = _kind(init)
    if kind == "constant":
        # no spread to test: every entry is exactly the value
        assert init.variance(fan_in, fan_out) == 0.0
        assert np.all(w == init.mean)
        return
    n = w.size
    assert n >= 100_000
    var_exact = init.variance(fan_in, fan_out)
    sigma = math.sqrt(var_exact)
    # standard error of the mean is sigma/sqrt(n): allow 5 of them
    assert abs(w.mean() - init.mean) < 5.0 * sigma / math.sqrt(n)
    # relative standard error of the sample variance is sqrt((kurtosis - 1)/n): allow 5 of them
    # (normal: sqrt(2/n) = 0.0039; uniform: sqrt(0.8/n); 2-sigma truncated normal: sqrt(1.37/n))
    rel_se = math.sqrt((KURTOSIS[kind] - 1.0) / n)
    assert abs(w.var() / var_exact - 1.0) < 5.0 * rel_se


@pytest.mark.parametrize("shape", [(5, 5, 32, 64), (5, 5, 64, 32), (4, 64, 128)], ids=str)
@pytest.mark.parametrize(
    "name", [n for n in NAMES if _kind(INITIALIZERS[n]) != "constant" and n != "orthogonal"]
)
def test_variance_contract_holds_for_higher_rank_shapes(name: str, shape: tuple[int, ...]) -> None:
    """``variance(*compute_fans(shape))`` is documented as the exact variance of each entry, and
    the samplers accept any rank (compute_fans multiplies the receptive field into both fans)."""
    init = INITIALIZERS[name]
    w = _draw(init, shape, seed=31)
    var_exact = init.variance(*compute_fans(shape))
    rel_se = math.sqrt((KURTOSIS[_kind(init)] - 1.0) / w.size)  # n >= 32768: 5 SE <= 4 %
    assert abs(w.var() / var_exact - 1.0) < 5.0 * rel_se, (
        f"{name} {shape}: empirical {w.var():.4g} vs variance() {var_exact:.4g}"
    )


@pytest.mark.parametrize("shape", [(5, 5, 32, 64), (4, 64, 128), (7,)], ids=str)
def test_orthogonal_rejects_non_matrix_shapes(shape: tuple[int, ...]) -> None:
    """Orthogonality is defined for 2-D weights; other ranks would misreport the variance."""
    with pytest.raises(ValueError, match="2-D"):
        INITIALIZERS["orthogonal"](np.random.default_rng(0), shape)


# --- exact distributions (Kolmogorov-Smirnov) ----------------------------------------------------


@pytest.mark.parametrize("shape", [*SMALL_SHAPES, (200, 300)], ids=str)
@pytest.mark.parametrize(("name", "init", "target"), KS_CASES, ids=[c[0] for c in KS_CASES])
def test_ks_against_exact_distribution(
    name: str,
    init: Initializer,
    target: Callable[[int, int], stats.rv_continuous],
    shape: tuple[int, int],
) -> None:
    w = _draw(init, shape, seed=20240 + shape[0])
    dist = target(*shape)
    p = stats.kstest(w.ravel(), dist.cdf).pvalue
    assert p > KS_P_MIN, f"{name} {shape}: KS p = {p:.3g}"


def test_ks_detects_a_wrong_fan() -> None:
    """The KS check has power: he_normal drawn on (100, 400) is not the fan_out distribution."""
    w = _draw(INITIALIZERS["he_normal"], (100, 400), seed=5)
    wrong = stats.truncnorm(-2, 2, scale=math.sqrt(2.0 / 400) / KERAS_TRUNC)
    assert stats.kstest(w.ravel(), wrong.cdf).pvalue < 1e-10


# --- fans ----------------------------------------------------------------------------------------


def test_compute_fans_keras_layout() -> None:
    assert compute_fans((100, 400)) == (100, 400)  # (fan_in, fan_out), not PyTorch's (out, in)
    assert compute_fans((7,)) == (7, 7)
    assert compute_fans((3, 3, 16, 32)) == (9 * 16, 9 * 32)
    with pytest.raises(ValueError, match="scalar"):
        compute_fans(())


@pytest.mark.parametrize(
    ("init", "fan"),
    [
        (INITIALIZERS["he_normal"], 100.0),
        (INITIALIZERS["he_uniform"], 100.0),
        (variance_scaling(2.0, "fan_out", "untruncated_normal"), 400.0),
        (variance_scaling(2.0, "fan_out", "truncated_normal"), 400.0),
    ],
    ids=["he_normal", "he_uniform", "vs2_fan_out_untrunc", "vs2_fan_out_trunc"],
)
def test_fan_axes_scale_two(init: Initializer, fan: float) -> None:
    shape = (100, 400)
    target_std = math.sqrt(2.0 / fan)
    assert init.variance(*shape) == pytest.approx(2.0 / fan, rel=1e-12)
    w = _draw(init, shape, seed=77)
    # The wrong fan would be off by a factor 2 in std. Relative standard error of the sample std
    # is sqrt((kurtosis - 1)/n)/2 <= sqrt(2/n)/2 = 0.0035 at n = 40000: allow 5 of them.
    assert abs(w.std() / target_std - 1.0) < 5.0 * math.sqrt(2.0 / w.size) / 2.0


@pytest.mark.parametrize("name", ["glorot_uniform", "glorot_normal"])
def test_glorot_uses_fan_average(name: str) -> None:
    init = INITIALIZERS[name]
    shape = (100, 400)
    assert init.variance(*shape) == pytest.approx(1.0 / 250.0, rel=1e-12)
    w = _draw(init, shape, seed=78)
    assert abs(w.std() / math.sqrt(1.0 / 250.0) - 1.0) < 0.02


def test_fans_follow_the_axis_not_the_size() -> None:
    """Transposing the shape swaps the fans: he_normal on (400, 100) uses fan_in = 400."""
    init = INITIALIZERS["he_normal"]
    w_in100 = _draw(init, (100, 400), seed=3)
    w_in400 = _draw(init, (400, 100), seed=3)
    assert w_in100.std() / w_in400.std() == pytest.approx(2.0, rel=0.03)


# --- bounds --------------------------------------------------------------------------------------

UNIFORM_BOUNDS: dict[str, Callable[[int, int], float]] = {
    "standard_uniform": lambda fi, fo: 1.0 / math.sqrt(fi),
    "glorot_uniform": lambda fi, fo: math.sqrt(6.0 / (fi + fo)),
    "he_uniform": lambda fi, fo: math.sqrt(6.0 / fi),
    "lecun_uniform": lambda fi, fo: math.sqrt(3.0 / fi),
    "random_uniform": lambda fi, fo: 0.05,
}


@pytest.mark.parametrize("name", sorted(UNIFORM_BOUNDS))
@pytest.mark.parametrize("shape", [(256, 512), (300, 100)], ids=str)
def test_uniform_bounds(name: str, shape: tuple[int, int]) -> None:
    bound = UNIFORM_BOUNDS[name](*shape)
    w = _draw(INITIALIZERS[name], shape, seed=11)
    m = np.abs(w).max()
    assert m <= bound  # never above
    assert m >= 0.99 * bound  # and within 1 % of it
    assert w.min() < -0.99 * bound  # both sides are reached


TRUNCATED_STDS: dict[str, Callable[[int, int], float]] = {
    "truncated_normal": lambda fi, fo: 0.05,
    "he_normal": lambda fi, fo: math.sqrt(2.0 / fi) / KERAS_TRUNC,
    "glorot_normal": lambda fi, fo: math.sqrt(2.0 / (fi + fo)) / KERAS_TRUNC,
    "lecun_normal": lambda fi, fo: math.sqrt(1.0 / fi) / KERAS_TRUNC,
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(TRUNCATED_STDS))
def test_truncated_samplers_stay_inside(name: str, dtype: type) -> None:
    shape = (100, 100)  # 10000 values
    std = TRUNCATED_STDS[name](*shape)
    w = _draw(INITIALIZERS[name], shape, seed=99, dtype=dtype)
    assert w.dtype == dtype
    # compare in the sample's own precision: float32 rounds 2*std to the nearest float32
    bound = w.dtype.type(2.0 * std)
    assert np.all(np.isfinite(w))
    assert np.all(np.abs(w) < bound)  # strictly inside: none exactly on the bound
    assert np.unique(w).size > 5000
    # the tails reach close to the cut: with 10000 draws some land beyond 1.9 std
    assert np.abs(w).max() > 1.9 * std


# --- orthogonal ----------------------------------------------------------------------------------


def _assert_orthogonal(w: np.ndarray, gain: float, atol: float) -> None:
    rows, cols = math.prod(w.shape[:-1]), w.shape[-1]
    m = w.reshape(rows, cols).astype(np.float64)
    gram = m.T @ m if rows >= cols else m @ m.T
    np.testing.assert_allclose(gram, gain**2 * np.eye(min(rows, cols)), rtol=0, atol=atol)


@pytest.mark.parametrize(
    "shape", [(3, 4), (4, 3), (50, 40), (40, 50), (64, 64), (1, 7), (7, 1)], ids=str
)
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal_gram_is_gain_squared_identity(shape: tuple[int, ...], gain: float) -> None:
    init = INITIALIZERS["orthogonal"] if gain == 1.0 else orthogonal(2.0)
    w = _draw(init, shape, seed=sum(shape))
    assert w.shape == shape
    _assert_orthogonal(w, gain, atol=1e-6)


def test_orthogonal_float32_and_custom_family() -> None:
    init = make_initializer("orth2", "orthogonal", gain=2.0)
    assert init.variance(40, 50) == pytest.approx(4.0 / 50)
    w = _draw(init, (40, 50), seed=1, dtype=np.float32)
    assert w.dtype == np.float32
    _assert_orthogonal(w, 2.0, atol=1e-5)


def test_orthogonal_is_not_a_fixed_matrix() -> None:
    """Haar sampling: the sign fix must not make every draw start with the same column."""
    init = INITIALIZERS["orthogonal"]
    first = [_draw(init, (8, 8), seed=s)[0, 0] for s in range(40)]
    assert min(first) < 0 < max(first)


# --- seeding and dtype ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_seeding(name: str) -> None:
    init = INITIALIZERS[name]
    a = _draw(init, (30, 40), seed=42)
    b = _draw(init, (30, 40), seed=42)
    assert a.dtype == b.dtype
    assert np.array_equal(a, b)  # bit-identical
    if _kind(init) == "constant":
        return
    c = _draw(init, (30, 40), seed=43)
    assert not np.allclose(a, c, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_dtype_respected(name: str, dtype: type) -> None:
    w = _draw(INITIALIZERS[name], (30, 16), seed=0, dtype=dtype)
    assert w.dtype == dtype
    assert w.shape == (30, 16)
    assert np.all(np.isfinite(w))


def test_default_dtype_is_float32() -> None:
    w = INITIALIZERS["he_normal"](np.random.default_rng(0), (4, 5))
    assert w.dtype == np.float32


# --- errors --------------------------------------------------------------------------------------


def test_unknown_name_suggests_closest_and_lists_allowed() -> None:
    with pytest.raises(ValueError) as info:
        initializers.get("he_norml")
    msg = str(info.value)
    assert "'he_norml'" in msg
    assert "did you mean 'he_normal'" in msg
    for name in NAMES:
        assert name in msg


def test_get_known_and_custom() -> None:
    assert initializers.get("he_normal") is INITIALIZERS["he_normal"]
    custom = {"mine": make_initializer("mine", "normal", std=0.1)}
    assert initializers.get("mine", custom) is custom["mine"]


@pytest.mark.parametrize(
    ("family", "params", "needles"),
    [
        ("gaussian", {"std": 1.0}, ["'gaussian'", "variance_scaling"]),
        ("variance_scaling", {"mode": "fan_in"}, ["missing", "'scale'"]),
        ("variance_scaling", {"scale": 1.0, "sclae": 2.0}, ["unknown", "'sclae'"]),
        ("variance_scaling", {"scale": -1.0}, ["scale", "-1.0"]),
        ("variance_scaling", {"scale": 1.0, "mode": "fan_mid"}, ["mode", "'fan_mid'"]),
        ("variance_scaling", {"scale": 1.0, "distribution": "gamma"}, ["'gamma'"]),
        ("normal", {"std": "a"}, ["std", "'a'"]),
        ("normal", {"std": 0.0}, ["std", "0.0"]),
        ("uniform", {"limit": float("inf")}, ["limit", "inf"]),
        ("truncated_normal", {"std": -0.1}, ["std", "-0.1"]),
        ("orthogonal", {"gain": "big"}, ["gain", "'big'"]),
        ("constant", {"value": float("nan")}, ["value", "nan"]),
    ],
)
def test_make_initializer_errors(family: str, params: dict, needles: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        make_initializer("bad_init", family, **params)
    msg = str(info.value)
    assert "'bad_init'" in msg
    for needle in needles:
        assert needle in msg


@pytest.mark.parametrize(
    ("family", "params", "key"),
    [("variance_scaling", {"scale": True}, "scale"), ("constant", {"value": True}, "value")],
)
def test_make_initializer_rejects_booleans(family: str, params: dict, key: str) -> None:
    """A YAML ``scale: yes`` is a bool, not a number; std, limit and gain already reject it."""
    with pytest.raises(ValueError, match=key):
        make_initializer("bool_init", family, **params)


def test_make_initializer_builds_working_members() -> None:
    init = make_initializer("sw2_1.5", "variance_scaling", scale=1.5, mode="fan_avg")
    assert init.name == "sw2_1.5"
    assert init.variance(100, 200) == pytest.approx(1.5 / 150)
    assert init.params["distribution"] == "truncated_normal"  # Keras default
    c = make_initializer("half", "constant", value=0.5)
    assert np.all(_draw(c, (3, 3), seed=0) == 0.5)


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (3, 0, 2)], ids=str)
@pytest.mark.parametrize("name", ["he_normal", "orthogonal", "zeros"])
def test_zero_dimension_raises(name: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="dimension"):
        INITIALIZERS[name](np.random.default_rng(0), shape)


@pytest.mark.parametrize("rng", [None, 0, np.random.RandomState(0)], ids=["None", "int", "legacy"])
def test_non_generator_rng_raises_type_error(rng: object) -> None:
    with pytest.raises(TypeError, match="Generator"):
        INITIALIZERS["he_normal"](rng, (3, 3))  # type: ignore[arg-type]
