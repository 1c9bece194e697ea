"""Tests of initlab.spectra, the Jacobian and correlation predictions of initlab.theory, and their
recording in training.

Every oracle is computed independently of the code under test: finite differences for the
Jacobian, a full SVD of the uncompressed Jacobian, exact isometries of orthogonal linear nets,
closed forms (linear nets, the ReLU arc-cosine kernel) for the theory, and Monte-Carlo
agreement with tolerances derived from the measured seed-to-seed spread.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from gradcheck import perturbed_net

from initlab import initializers, theory
from initlab.activations import ACTIVATIONS
from initlab.config import RunSpec
from initlab.data import Dataset, load_dataset
from initlab.model import Layer, init_mlp
from initlab.spectra import (
    JACOBIAN_PROBES,
    PAIR_COSINE,
    PAIR_COUNT,
    input_jacobians,
    jacobian_singular_values,
    jacobian_spectrum,
    pair_correlations,
    pair_inputs,
    spectrum_summary,
)
from initlab.stats import SPECTRUM_COLUMNS, SPECTRUM_SUMMARY_KEYS, spectrum_stats
from initlab.train import LAYER_COLUMNS, train

RELU = ACTIVATIONS["relu"]
TANH = ACTIVATIONS["tanh"]
LINEAR = ACTIVATIONS["linear"]


def _net(
    sizes: list[int], init: str, seed: int = 0, bias_std: float = 0.0, dtype: type = np.float64
) -> list[Layer]:
    rng = np.random.default_rng(seed)
    return init_mlp(rng, sizes, initializers.get(init), dtype=dtype, bias_std=bias_std)


def _hidden_z(params: list[Layer], x: np.ndarray, act) -> list[np.ndarray]:
    """Hidden pre-activations, written out here rather than taken from initlab.model."""
    zs, a = [], x
    for layer in params[:-1]:
        z = a @ layer.W + layer.b
        zs.append(z)
        a = act.fn(z)
    return zs


def _hidden_a(params: list[Layer], x: np.ndarray, act) -> list[np.ndarray]:
    return [act.fn(z) for z in _hidden_z(params, x, act)]


# --- measurement: the Jacobian ---------------------------------------------------------------


@pytest.mark.parametrize("act_name", ["tanh", "relu"])
def test_jacobian_matches_central_differences(act_name: str) -> None:
    """J^l[p, i, j] = d a^l_j / d x_i against central differences with eps = 1e-6.

    Tolerance 1e-7: the truncation error eps^2 |a'''| / 6 is about 1e-12 for tanh (0 for the
    piecewise-linear ReLU) and the rounding error about 1e-16 |a| / eps ~ 1e-10.
    For ReLU only probes with every |z^l| > 1e-3 are used: a step of 1e-6 in one input moves
    each z by at most 1e-6 times a Jacobian entry (< 1e2 here), so no unit crosses its kink.
    """
    act = ACTIVATIONS[act_name]
    sizes = [5, 7, 6, 8, 3]
    params = _net(sizes, "glorot_normal", seed=1, bias_std=0.3)
    X = np.random.default_rng(2).standard_normal((40, 5))
    if act_name == "relu":
        margin = np.min([np.abs(z).min(axis=1) for z in _hidden_z(params, X, act)], axis=0)
        X = X[margin > 1e-3]
    X = X[:6]
    assert len(X) == 6
    jacs = list(input_jacobians(params, X, act))
    assert [J.shape for J in jacs] == [(6, 5, 7), (6, 5, 6), (6, 5, 8)]
    assert all(J.dtype == np.float64 for J in jacs)
    eps = 1e-6
    for i in range(5):
        step = np.zeros(5)
        step[i] = eps
        up, down = _hidden_a(params, X + step, act), _hidden_a(params, X - step, act)
        for J, a_up, a_down in zip(jacs, up, down, strict=True):
            np.testing.assert_allclose(J[:, i, :], (a_up - a_down) / (2 * eps), rtol=0, atol=1e-7)


@pytest.mark.parametrize(("n_0", "widths"), [(40, [12, 15, 20]), (6, [12, 9, 20])])
def test_spectrum_equals_svd_of_the_full_jacobian(n_0: int, widths: list[int]) -> None:
    """The QR-compressed computation (n_0 > n_1) and the direct one agree with a plain SVD.

    With n_0 = 40 > n_1 = 12 the last Jacobian (40, 20) has rank <= 12: its 20 singular values
    end in 8 exact zeros, which the full SVD returns as rounding noise (< 1e-12 relative).
    Relative tolerance 1e-12 elsewhere: both are backward-stable float64 computations on
    matrices with entries O(1).
    """
    params = _net([n_0, *widths, 4], "glorot_normal", seed=3, bias_std=0.1)
    X = np.random.default_rng(4).standard_normal((5, n_0)).astype(np.float32)
    spec = jacobian_spectrum(params, X, TANH)
    jacs = list(input_jacobians(params, X, TANH))
    frob = np.array([np.sum(J**2) / (len(X) * min(n_0, J.shape[2])) for J in jacs])
    np.testing.assert_allclose(spec.mean_s2, frob, rtol=1e-12)
    full = np.linalg.svd(jacs[-1], compute_uv=False)
    k = min(n_0, widths[-1])
    assert spec.singular_values.shape == full.shape == (5, k)
    assert spec.shape == (n_0, widths[-1])
    rank = min(n_0, *widths)
    np.testing.assert_allclose(spec.singular_values[:, :rank], full[:, :rank], rtol=1e-12)
    assert np.all(spec.singular_values[:, rank:] == 0.0)
    assert np.all(full[:, rank:] < 1e-12 * full[:, :1])
    np.testing.assert_array_equal(jacobian_singular_values(params, X, TANH), spec.singular_values)


@pytest.mark.parametrize(("n_0", "width"), [(32, 32), (16, 48)])
def test_linear_orthogonal_net_is_an_exact_isometry(n_0: int, width: int) -> None:
    """Orthogonal weights (rows orthonormal when n_0 < width) and phi = identity: J^l has
    orthonormal rows, every singular value is 1 and every inner product is preserved, so the
    pair cosine stays PAIR_COSINE at every layer. Tolerance 1e-12: each float64 QR factor is
    orthogonal to about 1e-15 and 10 of them compound to a few 1e-14."""
    depth = 10
    params = _net([n_0, *[width] * depth, 10], "orthogonal", seed=5)
    X = np.random.default_rng(6).standard_normal((64, n_0))
    spec = jacobian_spectrum(params, X[:JACOBIAN_PROBES], LINEAR)
    assert spec.singular_values.shape == (JACOBIAN_PROBES, n_0)
    np.testing.assert_allclose(spec.singular_values, 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(spec.mean_s2, 1.0, rtol=0, atol=1e-12)
    summary = spectrum_summary(spec)
    assert summary["jac_std_log_s"] < 1e-12
    assert abs(summary["jac_max_s"] - 1) < 1e-12 and abs(summary["jac_min_s"] - 1) < 1e-12
    np.testing.assert_allclose(pair_correlations(params, X, LINEAR), PAIR_COSINE, atol=1e-12)


def test_he_relu_mean_s2_matches_prediction() -> None:
    """He-normal ReLU: E||J^l||_F^2 is exactly the prediction at any width (the symmetric weight
    law gives E[(vW)_j^2 1(z_j > 0)] = E[(vW)_j^2] / 2), here n_l / min(n_0, n_l) = 8.

    The spread over networks is the tolerance: the ratio measured / predicted is averaged over 16
    seeds and must lie within 5 standard errors (the sample sd / 4) of 1 at every layer; with
    15 degrees of freedom a 5-sigma deviation has probability below 2e-4. The standard error
    itself must be below 0.05, so the check cannot pass by being vague (about 0.015 is expected
    from a spread growing like sqrt(depth / width)).
    """
    n_0, width, depth, seeds = 64, 512, 4, 16
    sizes = [n_0, *[width] * depth, 10]
    pred = theory.predict_jacobian(RELU, "he_normal", sizes)
    np.testing.assert_allclose(pred, width / n_0, rtol=1e-12)
    ratios = []
    for seed in range(seeds):
        params = _net(sizes, "he_normal", seed=seed)
        X = np.random.default_rng(1000 + seed).standard_normal((JACOBIAN_PROBES, n_0))
        ratios.append(jacobian_spectrum(params, X, RELU).mean_s2 / pred)
    r = np.array(ratios)
    se = r.std(axis=0, ddof=1) / math.sqrt(seeds)
    assert np.all(se < 0.05), se
    assert np.all(np.abs(r.mean(axis=0) - 1.0) < 5 * se), (r.mean(axis=0), se)


def test_orthogonal_tanh_is_more_isometric_than_gaussian() -> None:
    """Depth 32, width 256, tanh at sigma_w^2 = 1, sigma_b = 0, small inputs (q0 = 0.05, so the
    net is nearly linear): orthogonal and glorot_normal give the hidden-to-hidden layers the same
    sigma_w^2 = 1, hence the same length and chi_1 maps, but the spread of ln s differs (Saxe et
    al. 2014; Pennington et al. 2017). A product of 32 orthogonal matrices is an exact isometry
    and tanh' = 1 - O(q) only perturbs it; the squared singular values of a product of L
    Gaussian matrices follow the Fuss-Catalan law on [0, (L+1)^(L+1) / L^L ~ e (L+1)], a std of
    ln s of order 1. Measured in development: about 0.09 against 2.0 (ratio 0.045). The test
    asks orthogonal < 0.3 (3x its figure), Gaussian > 1 (half its figure) and a ratio below 1/4
    (5x the measured one).
    """
    n_0, width, depth = 64, 256, 32
    sizes = [n_0, *[width] * depth, 10]
    X = math.sqrt(0.05) * np.random.default_rng(7).standard_normal((JACOBIAN_PROBES, n_0))
    std = {}
    for init in ("orthogonal", "glorot_normal"):
        params = _net(sizes, init, seed=8, dtype=np.float32)
        std[init] = spectrum_summary(jacobian_spectrum(params, X, TANH))["jac_std_log_s"]
    for init in ("orthogonal", "glorot_normal"):
        sigma_w2 = theory.predict_layers(TANH, init, sizes)["sigma_w2"]
        np.testing.assert_allclose(sigma_w2[1:depth], 1.0, rtol=1e-12)
    assert std["orthogonal"] < 0.3
    assert std["glorot_normal"] > 1.0
    assert std["orthogonal"] < 0.25 * std["glorot_normal"]


def test_summary_is_nan_for_rank_deficient_or_non_finite_jacobians() -> None:
    """ReLU with width = n_0 zeroes about half the columns of J: rank-deficient, ln s undefined.
    Linear units with weights 1e200 overflow: the spectrum is not finite."""
    params = _net([32, 32, 32, 10], "he_normal", seed=9)
    X = np.random.default_rng(10).standard_normal((JACOBIAN_PROBES, 32))
    s = spectrum_summary(jacobian_spectrum(params, X, RELU))
    assert math.isnan(s["jac_std_log_s"])
    assert s["jac_mean_s2"] > 0 and s["jac_max_s"] > 0 and s["jac_min_s"] >= 0
    huge = [Layer(np.full((4, 4), 1e200), np.zeros(4)) for _ in range(4)]
    spec = jacobian_spectrum(huge, np.ones((3, 4)), LINEAR)
    assert np.all(np.isnan(spec.singular_values))
    s = spectrum_summary(spec)
    assert all(math.isnan(s[k]) for k in ("jac_std_log_s", "jac_max_s", "jac_min_s"))


# --- measurement: input pairs and correlations -----------------------------------------------


def test_pair_inputs_have_equal_length_and_the_chosen_cosine() -> None:
    X = np.random.default_rng(11).standard_normal((40, 9)) * 3 + 1
    x_a, x_b, q0 = pair_inputs(X)
    assert q0 == pytest.approx(float(np.mean(X**2)), rel=1e-15)
    assert x_a.shape == x_b.shape == (PAIR_COUNT, 9)
    sq = 9 * q0
    np.testing.assert_allclose(np.sum(x_a**2, axis=1), sq, rtol=1e-13)
    np.testing.assert_allclose(np.sum(x_b**2, axis=1), sq, rtol=1e-13)
    np.testing.assert_allclose(np.sum(x_a * x_b, axis=1) / sq, PAIR_COSINE, atol=1e-13)
    # pairs come from consecutive rows 0-1, 2-3, ...: x_a points along the even rows and x_b
    # lies in the plane of its two rows
    for k in range(PAIR_COUNT):
        u, y = X[2 * k], X[2 * k + 1]
        np.testing.assert_allclose(x_a[k] / np.linalg.norm(x_a[k]), u / np.linalg.norm(u))
        plane = np.linalg.lstsq(np.stack([u, y], axis=1), x_b[k], rcond=None)
        assert plane[1][0] < 1e-20 * sq


def test_pair_inputs_skip_zero_and_parallel_rows() -> None:
    rows = np.array([[0.0, 0, 0], [1, 0, 0], [2, 0, 0], [0, 1, 0], [0, 0, 1]])
    x_a, x_b, q0 = pair_inputs(rows, n_pairs=5, c0=0.0)
    # row 0 is zero, row 2 is parallel to row 1: the only pair is (row 2, row 3)
    assert q0 == pytest.approx(7 / 15)
    assert len(x_a) == 1
    s = math.sqrt(3 * q0)
    np.testing.assert_allclose(x_a[0], [s, 0, 0])
    np.testing.assert_allclose(x_b[0], [0, s, 0])
    a, b, _ = pair_inputs(rows[:1])
    assert a.shape == b.shape == (0, 3)
    params = _net([3, 4, 2], "glorot_normal")
    assert np.all(np.isnan(pair_correlations(params, rows[:1], TANH)))


CORRELATION_CASES = [
    ("relu", "he_normal", 0.0),  # ordered-marginal: c -> 1 slowly
    ("tanh", "he_normal", 0.0),  # chaotic: c decreases towards c* < 1
    ("tanh", "glorot_normal", 0.3),  # ordered with bias: c -> 1 quickly
]


@pytest.mark.parametrize(("act_name", "init", "bias_std"), CORRELATION_CASES)
def test_measured_correlation_matches_prediction(act_name: str, init: str, bias_std: float) -> None:
    """Width 1024, depth 8: the pair cosine averaged over PAIR_COUNT pairs and 6 networks lies
    within 0.03 of predict_correlation at every layer. The per-network spread measured in
    development at this width is at most 0.02 (O(1/sqrt(width)), larger in the chaotic
    phase, which amplifies deviations), so the 6-network mean has a standard error below
    0.009; 0.03 is 3 of those plus 0.01 for the finite-width bias of about that size seen in
    deep tanh nets. The prediction moves by 0.16 to 0.36 over these layers."""
    act = ACTIVATIONS[act_name]
    n_0, width, depth, seeds = 64, 1024, 8, 6
    sizes = [n_0, *[width] * depth, 10]
    deviations = []
    for seed in range(seeds):
        params = _net(sizes, init, seed=seed, bias_std=bias_std, dtype=np.float32)
        X = np.random.default_rng(2000 + seed).standard_normal((2 * PAIR_COUNT, n_0))
        X = X.astype(np.float32)
        q0 = pair_inputs(X)[2]
        pred = theory.predict_correlation(
            act, init, sizes, q0=q0, c0=PAIR_COSINE, bias_std=bias_std
        )
        assert np.ptp(pred) > 0.15
        deviations.append(pair_correlations(params, X, act) - pred)
    np.testing.assert_allclose(np.mean(deviations, axis=0), 0.0, rtol=0, atol=0.03)


# --- theory ----------------------------------------------------------------------------------


def test_predict_jacobian_linear_and_relu_closed_forms() -> None:
    """||J^l||_F^2 = n_0 prod_k n_k Var[W^k] E[phi'^2], written out for each initializer:
    He (Var = 2 / fan_in) telescopes to 2^l n_l; orthogonal (Var = 1 / max(fan_in, fan_out))
    gives prod_k n_k / max(n_{k-1}, n_k); ReLU halves each factor."""
    sizes = [20, 30, 30, 12, 25, 10]
    depth = len(sizes) - 2
    n_0 = sizes[0]
    layers = range(1, depth + 1)
    he = np.array([2.0**k * sizes[k] / min(n_0, sizes[k]) for k in layers])
    np.testing.assert_allclose(theory.predict_jacobian(LINEAR, "he_normal", sizes), he, rtol=1e-13)
    relu_he = np.array([sizes[k] / min(n_0, sizes[k]) for k in layers])
    np.testing.assert_allclose(
        theory.predict_jacobian(RELU, "he_uniform", sizes), relu_he, rtol=1e-13
    )
    frob, orth = float(n_0), []
    for k in layers:
        frob *= sizes[k] / max(sizes[k - 1], sizes[k])
        orth.append(frob / min(n_0, sizes[k]))
    np.testing.assert_allclose(
        theory.predict_jacobian(LINEAR, "orthogonal", sizes), orth, rtol=1e-13
    )
    assert np.all(np.isnan(theory.predict_jacobian(TANH, "ones", sizes)))
    assert theory.predict_jacobian(TANH, "orthogonal", sizes).shape == (depth,)


def test_predict_jacobian_equal_widths_is_the_product_of_chi() -> None:
    """Equal widths, n_0 = width: mean s^2 = prod_k chi_1(q^k) (Pennington et al. 2017), with
    chi_1 = sigma_w^2 E[tanh'(sqrt(q) z)^2] computed here by Gauss-Hermite quadrature."""
    width, depth, sigma_w2, q0 = 50, 6, 1.7, 0.8
    sizes = [width] * (depth + 1) + [10]
    init = initializers.variance_scaling(sigma_w2, "fan_in", "untruncated_normal")
    q = theory.predict_layers(TANH, init, sizes, input_second_moment=q0)["q"]
    z, w = np.polynomial.hermite_e.hermegauss(200)
    w = w / w.sum()
    chi = [sigma_w2 * np.dot(w, (1 - np.tanh(np.sqrt(qk) * z) ** 2) ** 2) for qk in q[:depth]]
    pred = theory.predict_jacobian(TANH, init, sizes, input_second_moment=q0)
    np.testing.assert_allclose(pred, np.cumprod(chi), rtol=1e-10)


def test_predict_correlation_linear_closed_form() -> None:
    """Linear units: q^l = s_w q^{l-1} + s_b and the cross moment k^l = s_w k^{l-1} + s_b, with
    q^0 = q0, k^0 = q0 c0 and s_w = n E[W^2] per layer; c^l = k^l / q^l."""
    sizes = [10, 20, 40, 40, 15, 3]
    init = initializers.get("glorot_uniform")
    q0, c0, b = 0.7, -0.3, 0.4
    q, k, expected = q0, q0 * c0, []
    for n_in, n_out in itertools.pairwise(sizes[:-1]):
        s_w = n_in * 2.0 / (n_in + n_out)
        q, k = s_w * q + b**2, s_w * k + b**2
        expected.append(k / q)
    got = theory.predict_correlation(LINEAR, init, sizes, q0=q0, c0=c0, bias_std=b)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(
        theory.predict_correlation(LINEAR, init, sizes, q0=q0, c0=c0), c0, rtol=1e-12
    )


@pytest.mark.parametrize("init", ["he_normal", "glorot_uniform", "orthogonal"])
def test_predict_correlation_relu_arc_cosine(init: str) -> None:
    """ReLU without bias: the arc-cosine kernel (Cho & Saul 2009) gives
    c' = (sqrt(1 - c^2) + (pi - arccos c) c) / pi whatever sigma_w^2 and q; c^1 = c0.
    Tolerance 1e-11: the correlation map's quadrature is accurate to about 1e-13 per layer."""
    sizes = [30, 50, 50, 80, 50, 50, 50, 10]
    c, expected = 0.2, []
    for _ in range(len(sizes) - 2):
        expected.append(c)
        c = (math.sqrt(1 - c * c) + (math.pi - math.acos(c)) * c) / math.pi
    got = theory.predict_correlation(RELU, init, sizes, q0=1.3, c0=0.2)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-11)


def test_predict_correlation_degenerate_inputs() -> None:
    sizes = [10, 20, 20, 3]
    assert np.all(np.isnan(theory.predict_correlation(TANH, "ones", sizes, q0=1.0, c0=0.5)))
    assert np.all(np.isnan(theory.predict_correlation(TANH, "he_normal", sizes, q0=0.0, c0=0.5)))
    with pytest.raises(ValueError, match="c0"):
        theory.predict_correlation(TANH, "he_normal", sizes, q0=1.0, c0=1.5)
    one = theory.predict_correlation(TANH, "he_normal", sizes, q0=1.0, c0=1.0)
    np.testing.assert_allclose(one, 1.0, rtol=0, atol=1e-12)


# --- recording in training -------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


def test_train_records_spectra_at_step_zero_only(digits: Dataset) -> None:
    depth = 3
    spec = RunSpec(
        initializer="orthogonal",
        activation="tanh",
        depth=depth,
        width=16,
        epochs=2,
        checkpoint_every=1,
        learning_rate=0.05,
    )
    r = train(spec, digits)
    t, s = r.layers, r.summary
    assert set(SPECTRUM_COLUMNS) <= set(LAYER_COLUMNS) and set(SPECTRUM_COLUMNS) <= set(t)
    at0, hidden = t["step"] == 0, t["layer"] <= depth
    for c in SPECTRUM_COLUMNS:
        assert t[c].dtype == np.float64
        assert np.all(np.isfinite(t[c][at0 & hidden])), c
        assert np.all(np.isnan(t[c][~at0 | ~hidden])), c
    assert np.all(t["jac_mean_s2"][at0 & hidden] > 0)
    assert np.all(np.abs(t["corr_c"][at0 & hidden]) <= 1)
    for key in SPECTRUM_SUMMARY_KEYS:
        assert type(s[key]) is float and math.isfinite(s[key]), key
    assert s["jac_mean_s2"] == t["jac_mean_s2"][depth - 1]
    assert s["jac_min_s"] <= s["jac_max_s"]
    # computed on the initial weights and the probe batch
    params = init_mlp(
        spec.rngs()[0], [digits.n_features, *[16] * depth, 10], spec.resolve_initializer()
    )
    probe = digits.X_train[: spec.probe_size].astype(np.float32)
    columns, summary = spectrum_stats(params, probe, TANH)
    for c in SPECTRUM_COLUMNS:
        np.testing.assert_array_equal(columns[c], t[c][at0])
    assert summary == {k: s[k] for k in SPECTRUM_SUMMARY_KEYS}


def test_train_without_recording_has_nan_spectra(digits: Dataset) -> None:
    spec = RunSpec(initializer="he_normal", activation="relu", depth=2, width=8, epochs=1)
    r = train(spec, digits, record=False)
    for c in SPECTRUM_COLUMNS:
        assert np.all(np.isnan(r.layers[c]))
    for key in SPECTRUM_SUMMARY_KEYS:
        assert math.isnan(r.summary[key])


def test_arguments_are_checked_and_parameters_left_alone() -> None:
    params = _net([6, 5, 4, 3], "glorot_normal", seed=12, dtype=np.float32)
    before = [(p.W.copy(), p.b.copy()) for p in params]
    X = np.random.default_rng(13).standard_normal((40, 6)).astype(np.float32)
    first = spectrum_stats(params, X, TANH)
    second = spectrum_stats(params, X, TANH)
    for c in SPECTRUM_COLUMNS:
        np.testing.assert_array_equal(first[0][c], second[0][c])
        assert first[0][c].shape == (3,) and np.isnan(first[0][c][-1])
    assert first[1] == second[1]
    for (W, b), p in zip(before, params, strict=True):
        assert p.W.dtype == np.float32
        np.testing.assert_array_equal(W, p.W)
        np.testing.assert_array_equal(b, p.b)
    with pytest.raises(ValueError, match="shape"):
        input_jacobians(params, X[:, :5], TANH)
    with pytest.raises(ValueError, match="hidden layer"):
        jacobian_spectrum(params[-1:], X, TANH)


# --- layer norm, batch norm ------------------------------------------------------------------


def _hidden_z_layer_norm(params: list[Layer], x: np.ndarray, act) -> list[np.ndarray]:
    """Normalized hidden pre-activations of a layer-norm net, written out here."""
    zs, a = [], x
    for layer in params[:-1]:
        h = a @ layer.W + layer.b
        mu, var = h.mean(axis=1, keepdims=True), h.var(axis=1, keepdims=True)
        z = layer.gamma * (h - mu) / np.sqrt(var + 1e-5) + layer.beta
        zs.append(z)
        a = act.fn(z)
    return zs


def test_layer_norm_jacobian_matches_central_differences() -> None:
    """As the plain test: central differences (eps 1e-6) of the hand-written layer-norm net,
    atol 1e-7, with gamma and beta away from 1 and 0 so every term of the layer-norm Jacobian
    counts."""
    params = perturbed_net("glorot_normal", [5, 7, 6, 8, 3], "layer_norm", seed=21)
    X = np.random.default_rng(22).standard_normal((6, 5))
    jacs = list(input_jacobians(params, X, TANH, norm="layer_norm"))
    assert [J.shape for J in jacs] == [(6, 5, 7), (6, 5, 6), (6, 5, 8)]
    eps = 1e-6
    for i in range(5):
        step = np.zeros(5)
        step[i] = eps
        up = [TANH.fn(z) for z in _hidden_z_layer_norm(params, X + step, TANH)]
        down = [TANH.fn(z) for z in _hidden_z_layer_norm(params, X - step, TANH)]
        for J, a_up, a_down in zip(jacs, up, down, strict=True):
            np.testing.assert_allclose(J[:, i, :], (a_up - a_down) / (2 * eps), rtol=0, atol=1e-7)
    plain = list(input_jacobians(params, X, TANH))
    assert not np.allclose(plain[-1], jacs[-1], atol=1e-3)  # the normalization counts


def test_layer_norm_spectrum_equals_svd_of_the_full_jacobian() -> None:
    """The QR-compressed chain (n_0 = 40 > n_1 = 12) through layer norm agrees with the plain
    SVD of the uncompressed Jacobian: mean s^2 to rel 1e-12, singular values to rel 1e-10 or
    1e-12 of the largest."""
    params = perturbed_net("glorot_normal", [40, 12, 15, 20, 4], "layer_norm", seed=23)
    X = np.random.default_rng(24).standard_normal((5, 40))
    spec = jacobian_spectrum(params, X, TANH, norm="layer_norm")
    jacs = list(input_jacobians(params, X, TANH, norm="layer_norm"))
    frob = np.array([np.sum(J**2) / (len(X) * min(40, J.shape[2])) for J in jacs])
    np.testing.assert_allclose(spec.mean_s2, frob, rtol=1e-12)
    full = np.linalg.svd(jacs[-1], compute_uv=False)
    # each layer norm projects out the all-ones direction and (up to eps) xhat: the small
    # singular values are rounding noise of either computation, compared in absolute terms
    tol = 1e-12 * full.max()
    np.testing.assert_allclose(spec.singular_values[:, :12], full[:, :12], rtol=1e-10, atol=tol)
    assert np.all(spec.singular_values[:, 12:] == 0.0) and np.all(full[:, 12:] < tol)


def test_layer_norm_pair_correlations_are_cosines_of_the_normalized_z() -> None:
    params = perturbed_net("glorot_normal", [10, 9, 9, 3], "layer_norm", seed=25)
    X = np.random.default_rng(26).standard_normal((40, 10))
    x_a, x_b, _ = pair_inputs(X)
    za, zb = _hidden_z_layer_norm(params, x_a, TANH), _hidden_z_layer_norm(params, x_b, TANH)
    expected = [
        np.mean(np.sum(a * b, axis=1) / np.sqrt(np.sum(a * a, axis=1) * np.sum(b * b, axis=1)))
        for a, b in zip(za, zb, strict=True)
    ]
    got = pair_correlations(params, X, TANH, norm="layer_norm")
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert not np.allclose(got, pair_correlations(params, X, TANH), atol=1e-3)


def test_batch_norm_spectra_are_not_measured() -> None:
    params = perturbed_net("glorot_normal", [6, 5, 4, 3], "batch_norm", seed=27)
    X = np.random.default_rng(28).standard_normal((20, 6))
    for call in (jacobian_spectrum, pair_correlations):
        with pytest.raises(ValueError, match="batch-normalized"):
            call(params, X, TANH, norm="batch_norm")
    with pytest.raises(ValueError, match="gamma and beta"):
        jacobian_spectrum(_net([6, 5, 4, 3], "glorot_normal"), X, TANH, norm="layer_norm")
    columns, summary = spectrum_stats(params, X, TANH, norm="batch_norm")
    assert all(np.all(np.isnan(v)) and v.shape == (3,) for v in columns.values())
    assert set(summary) == set(SPECTRUM_SUMMARY_KEYS)
    assert all(math.isnan(v) for v in summary.values())
