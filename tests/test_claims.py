"""Tests of initlab.claims on small hand-built tables (no training, no Snakemake).

Each check is fed numbers that plainly support its claim (held is True) and numbers that plainly
contradict it (held is False); missing data gives None.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pytest

from initlab import claims as C
from initlab.claims import Claim, claims_table, evaluate_claims

SEEDS = (0, 1, 2)

# --- table builders --------------------------------------------------------------------------


def layer_rows(
    initializer: str,
    activation: str,
    depth: int,
    columns: dict[str, Callable[[int, int], float]],
    seeds: Sequence[int] = SEEDS,
) -> list[dict[str, object]]:
    """Step-0 rows of layers.csv for layers 1..depth+1; ``columns[name](layer, seed)``."""
    rows = []
    for seed in seeds:
        for layer in range(1, depth + 2):
            row: dict[str, object] = {
                "run_id": f"digits__{initializer}__{activation}__d{depth}__s{seed}",
                "initializer": initializer,
                "activation": activation,
                "depth": depth,
                "seed": seed,
                "step": 0,
                "layer": layer,
            }
            row.update({name: fn(layer, seed) for name, fn in columns.items()})
            rows.append(row)
    return rows


def frame(*groups: list[dict[str, object]]) -> pd.DataFrame:
    return pd.DataFrame([row for group in groups for row in group])


def run_rows(
    initializer: str,
    activation: str,
    depth: int,
    accs: Sequence[float],
    init_loss: float = 2.3,
    final_loss: float = 0.1,
) -> list[dict[str, object]]:
    return [
        {
            "initializer": initializer,
            "activation": activation,
            "depth": depth,
            "seed": seed,
            "final_test_acc": acc,
            "init_train_loss": init_loss,
            "final_train_loss": final_loss,
        }
        for seed, acc in enumerate(accs)
    ]


def summary_row(
    initializer: str,
    activation: str,
    depth: int,
    acc: float,
    verdict: str,
    steps: float = np.nan,
    reached: float = 0.0,
    half: float = 0.01,
) -> dict[str, object]:
    return {
        "initializer": initializer,
        "activation": activation,
        "depth": depth,
        "final_test_acc_mean": acc,
        "final_test_acc_ci95_lo": acc - half,
        "final_test_acc_ci95_hi": acc + half,
        "steps_to_target_mean": steps,
        "share_reached_target": reached,
        "verdict": verdict,
    }


def theory_rows(
    initializer: str,
    activation: str,
    depth: int,
    sigma_w2: float,
    q_pred: Callable[[int], float] = lambda layer: 1.0,
    xi_c: float = np.nan,
) -> list[dict[str, object]]:
    return [
        {
            "initializer": initializer,
            "activation": activation,
            "depth": depth,
            "layer": layer,
            "sigma_w2": sigma_w2,
            "q_pred": q_pred(layer),
            "xi_c": xi_c,
        }
        for layer in range(1, depth + 2)
    ]


def const(value: float) -> Callable[[int, int], float]:
    return lambda layer, seed: value


def geometric(factor: float, depth: int, jitter: float = 0.0) -> Callable[[int, int], float]:
    """``factor^(depth - layer)`` times a small per-seed jitter (1 at the top hidden layer)."""
    return lambda layer, seed: factor ** (depth - layer) * (1.0 + jitter * seed)


# --- Claim, dispatch, table ------------------------------------------------------------------


def test_claim_is_frozen_and_has_a_verdict() -> None:
    claim = Claim("c", "s", "m", True, "n")
    with pytest.raises(dataclasses.FrozenInstanceError):
        claim.held = False  # type: ignore[misc]
    assert claim.verdict == "held"
    assert Claim("c", "s", "m", False, "n").verdict == "did not hold"
    assert Claim("c", "s", "m", None, "n").verdict == "inconclusive"


def test_unknown_or_default_study_has_no_claims() -> None:
    assert evaluate_claims("default", {}) == []
    assert evaluate_claims("no_such_study", {"runs": pd.DataFrame()}) == []


@pytest.mark.parametrize(
    ("study", "n_claims"),
    [("glorot2010", 5), ("he2015", 5), ("selu2017", 3), ("edge_of_chaos", 1)],
)
def test_registry_dispatch_without_tables_gives_inconclusive_claims(
    study: str, n_claims: int
) -> None:
    out = evaluate_claims(study, {})
    assert len(out) == n_claims
    assert all(isinstance(c, Claim) and c.held is None for c in out)
    assert set(C.STUDY_CLAIMS) == {"glorot2010", "he2015", "selu2017", "edge_of_chaos"}


def test_claims_table_columns_and_values() -> None:
    rows = [Claim("a", "s", "m", True, "n"), Claim("b", "s", "m", None, "")]
    table = claims_table(rows)
    assert list(table.columns) == list(C.CLAIM_COLUMNS)
    assert table["held"].tolist() == [True, None]
    assert table["verdict"].tolist() == ["held", "inconclusive"]
    empty = claims_table([])
    assert empty.empty and list(empty.columns) == list(C.CLAIM_COLUMNS)


# --- Glorot & Bengio 2010 --------------------------------------------------------------------

D = 5


def glorot_layers(
    std_delta: Callable[[int, int], float],
    std_wgrad: Callable[[int, int], float],
    n_delta: Callable[[int, int], float] | None = None,
    n_wgrad: Callable[[int, int], float] | None = None,
) -> dict[str, pd.DataFrame]:
    n_delta = n_delta or const(1e-3)
    n_wgrad = n_wgrad or const(1e-3)
    layers = frame(
        layer_rows("standard_uniform", "tanh", D, {"delta_rms": std_delta, "wgrad_rms": std_wgrad}),
        layer_rows("glorot_uniform", "tanh", D, {"delta_rms": n_delta, "wgrad_rms": n_wgrad}),
    )
    return {"layers": layers}


def test_backprop_shrinks_held_for_constant_factor() -> None:
    tables = glorot_layers(geometric(0.5, D, 0.01), const(5e-4))  # delta^l/delta^(l+1) = 0.5
    claim = C.glorot_backprop_shrinks(tables)
    assert claim.held is True
    assert "0.500" in claim.measured


def test_backprop_shrinks_not_held_without_shrink_or_constant_factor() -> None:
    flat = glorot_layers(const(1e-3), const(5e-4))
    assert C.glorot_backprop_shrinks(flat).held is False
    # shrinks, but by 0.1 in one layer and 0.8 in the others: not a constant factor
    uneven = glorot_layers(
        lambda layer, seed: 1e-3 * (0.1 if layer == 1 else 1.25 ** (layer - D)), const(5e-4)
    )
    claim = C.glorot_backprop_shrinks(uneven)
    assert claim.held is False
    assert "max/min" in claim.note


def test_backprop_shrinks_missing_depth_is_inconclusive() -> None:
    tables = glorot_layers(geometric(0.5, D), const(5e-4))
    assert C.glorot_backprop_shrinks(tables, depth=7).held is None


def test_weight_gradients_flat_held_and_not_held() -> None:
    flat = glorot_layers(geometric(0.5, D), lambda layer, seed: 5e-4 * (1 + 0.05 * layer))
    assert C.glorot_weight_gradients_flat(flat).held is True
    steep = glorot_layers(geometric(0.5, D), geometric(2.0, D))  # 16x across the layers
    claim = C.glorot_weight_gradients_flat(steep)
    assert claim.held is False
    assert "16.00" in claim.measured


def test_normalized_flat_held_and_not_held() -> None:
    good = glorot_layers(geometric(0.5, D), const(5e-4), geometric(1.1, D), const(1e-3))
    assert C.glorot_normalized_flat(good).held is True
    bad_delta = glorot_layers(geometric(0.5, D), const(5e-4), geometric(1.5, D), const(1e-3))
    assert C.glorot_normalized_flat(bad_delta).held is False  # 1.5^4 = 5.1 > 2
    bad_wgrad = glorot_layers(geometric(0.5, D), const(5e-4), const(1e-3), geometric(1.5, D))
    assert C.glorot_normalized_flat(bad_wgrad).held is False


def ranking_tables(sigmoid: float, tanh: float, softsign: float) -> dict[str, pd.DataFrame]:
    rows = [
        summary_row("standard_uniform", act, D, acc, "trains" if acc >= 0.9 else "fails")
        for act, acc in (("tanh", tanh), ("sigmoid", sigmoid), ("softsign", softsign))
    ]
    return {"summary": pd.DataFrame(rows)}


def test_activation_ranking() -> None:
    assert C.glorot_activation_ranking(ranking_tables(0.10, 0.92, 0.73)).held is True
    assert C.glorot_activation_ranking(ranking_tables(0.80, 0.92, 0.73)).held is False
    assert C.glorot_activation_ranking({"summary": pd.DataFrame()}).held is None


def better_tables(normalized: Sequence[float], standard: Sequence[float]) -> dict:
    runs = frame(
        run_rows("glorot_uniform", "tanh", D, normalized),
        run_rows("standard_uniform", "tanh", D, standard),
    )
    return {"runs": runs}


def test_normalized_better_three_outcomes() -> None:
    held = C.glorot_normalized_better(better_tables([0.96, 0.95, 0.97], [0.91, 0.92, 0.90]))
    assert held.held is True
    assert "+0.050" in held.measured
    worse = C.glorot_normalized_better(better_tables([0.90, 0.91, 0.89], [0.95, 0.96, 0.94]))
    assert worse.held is False
    overlap = C.glorot_normalized_better(better_tables([0.96, 0.90, 0.93], [0.95, 0.91, 0.90]))
    assert overlap.held is None
    one_seed = C.glorot_normalized_better(better_tables([0.96], [0.90]))
    assert one_seed.held is None


# --- He et al. 2015 --------------------------------------------------------------------------

DEEP = 30


def he_tables(xavier_factor: float, he_factor: float, slope: float = 0.0) -> dict:
    """Measured z_q factors per layer; theory predicts 1/2 (1 + a^2) and (1 + a^2)."""
    gain = 1.0 + slope**2
    layers = frame(
        layer_rows(
            "glorot_normal",
            "relu",
            DEEP,
            {"z_q": lambda layer, seed: xavier_factor ** (layer - 1) * (1 + 0.01 * seed)},
        ),
        layer_rows(
            "he_normal",
            "relu",
            DEEP,
            {"z_q": lambda layer, seed: he_factor ** (layer - 1) * (1 + 0.01 * seed)},
        ),
    )
    theory = frame(
        theory_rows("glorot_normal", "relu", DEEP, 1.0, lambda layer: (gain / 2) ** (layer - 1)),
        theory_rows("he_normal", "relu", DEEP, 2.0, lambda layer: gain ** (layer - 1)),
    )
    return {"layers": layers, "theory": theory}


def test_forward_variance_held_and_not_held() -> None:
    claim = C.he_forward_variance(he_tables(0.5, 1.0))
    assert claim.held is True
    assert "0.500 per layer (predicted 0.500)" in claim.measured
    assert C.he_forward_variance(he_tables(1.0, 1.0)).held is False  # Xavier does not halve
    assert C.he_forward_variance(he_tables(0.5, 0.7)).held is False  # He does not keep it


def test_forward_variance_without_theory_is_inconclusive() -> None:
    tables = he_tables(0.5, 1.0)
    assert C.he_forward_variance({"layers": tables["layers"]}).held is None


def training_tables(
    he: tuple[str, float, float], xavier: tuple[str, float, float], depth: int = DEEP
) -> dict:
    """(verdict, mean steps to target, share reached) of He and Xavier at ``depth``."""
    rows = [
        summary_row(
            init, "relu", depth, 0.93 if verdict == "trains" else 0.1, verdict, steps, reached
        )
        for init, (verdict, steps, reached) in (("he_normal", he), ("glorot_normal", xavier))
    ]
    runs = frame(
        run_rows("he_normal", "relu", depth, [0.93] * 3),
        run_rows("glorot_normal", "relu", depth, [0.1] * 3, final_loss=2.3),
    )
    return {"summary": pd.DataFrame(rows), "runs": runs}


def test_deep_training_he_trains_xavier_stalls() -> None:
    tables = training_tables(("trains", 300, 1.0), ("fails", np.nan, 0.0))
    claim = C.he_deep_training(tables)
    assert claim.held is True
    assert "train loss -0%" in claim.measured  # the Xavier net's loss did not move
    assert (
        C.he_deep_training(training_tables(("fails", np.nan, 0.0), ("fails", np.nan, 0.0))).held
        is False
    )
    assert (
        C.he_deep_training(training_tables(("trains", 300, 1.0), ("trains", 500, 1.0))).held
        is False
    )
    assert (
        C.he_deep_training(training_tables(("trains", 300, 1.0), ("diverged", np.nan, 0.0))).held
        is False
    )
    assert C.he_deep_training(tables, depth=22).held is None


def test_starts_earlier_at_22_layers() -> None:
    both = training_tables(("trains", 100, 1.0), ("trains", 300, 1.0), depth=22)
    assert C.he_starts_earlier(both, depth=22).held is True
    later = training_tables(("trains", 300, 1.0), ("trains", 100, 1.0), depth=22)
    assert C.he_starts_earlier(later, depth=22).held is False
    stalled = training_tables(("trains", 100, 1.0), ("fails", np.nan, 0.0), depth=22)
    claim = C.he_starts_earlier(stalled, depth=22)
    assert claim.held is False
    assert "glorot_normal fails" in claim.note


def test_shallow_parity() -> None:
    equal = {
        "runs": frame(
            run_rows("he_normal", "relu", 4, [0.94, 0.95, 0.93]),
            run_rows("glorot_normal", "relu", 4, [0.95, 0.93, 0.94]),
        )
    }
    assert C.he_shallow_parity(equal).held is True
    apart = {
        "runs": frame(
            run_rows("he_normal", "relu", 4, [0.90, 0.91, 0.90]),
            run_rows("glorot_normal", "relu", 4, [0.95, 0.96, 0.95]),
        )
    }
    claim = C.he_shallow_parity(apart)
    assert claim.held is False
    assert "glorot_normal is clearly better" in claim.note


# --- Klambauer et al. 2017 -------------------------------------------------------------------

S = 32


def selu_layers(
    lecun_var: Callable[[int, int], float],
    he_var: Callable[[int, int], float] = lambda layer, seed: 1.0 + 0.1 * layer,
    glorot_var: Callable[[int, int], float] = lambda layer, seed: 1.0,
    relu_var: Callable[[int, int], float] = lambda layer, seed: 0.5**layer,
    elu_var: Callable[[int, int], float] = lambda layer, seed: 1.0 / layer,
    depth: int = S,
) -> dict[str, pd.DataFrame]:
    def cols(var: Callable[[int, int], float]) -> dict[str, Callable[[int, int], float]]:
        return {"z_mean": lambda layer, seed: 0.01 * (-1) ** layer, "z_var": var}

    layers = frame(
        layer_rows("lecun_normal", "selu", depth, cols(lecun_var)),
        layer_rows("he_normal", "selu", depth, cols(he_var)),
        layer_rows("glorot_uniform", "selu", depth, cols(glorot_var)),
        layer_rows("lecun_normal", "relu", depth, cols(relu_var)),
        layer_rows("lecun_normal", "elu", depth, cols(elu_var)),
    )
    theory = frame(
        theory_rows("lecun_normal", "selu", depth, 1.0),
        theory_rows("he_normal", "selu", depth, 2.0),
        theory_rows("glorot_uniform", "selu", depth, 1.0),
    )
    return {"layers": layers, "theory": theory}


def test_selu_fixed_point_held_and_not_held() -> None:
    good = selu_layers(lambda layer, seed: 1.0 + 0.05 * np.sin(layer + seed))
    claim = C.selu_fixed_point(good)
    assert claim.held is True
    assert "depth 32" in claim.measured
    drifting = selu_layers(lambda layer, seed: 1.0 - 0.02 * layer)  # 0.36 at layer 32
    assert C.selu_fixed_point(drifting).held is False
    shallow = selu_layers(const(1.0), depth=16)
    assert C.selu_fixed_point(shallow).held is None


def test_selu_needs_unit_variance_init() -> None:
    tables = selu_layers(const(1.0))
    claim = C.selu_needs_unit_variance_init(tables)
    assert claim.held is True
    assert "he_normal (sigma_w^2 2, predicted to drift)" in claim.measured
    # he_normal (sigma_w^2 = 2) staying at (0, 1) contradicts the fixed-point condition
    assert C.selu_needs_unit_variance_init(selu_layers(const(1.0), he_var=const(1.0))).held is False
    # glorot_uniform (sigma_w^2 = 1) drifting contradicts it as well
    drift = selu_layers(const(1.0), glorot_var=lambda layer, seed: 0.5)
    assert C.selu_needs_unit_variance_init(drift).held is False


def test_selu_other_activations() -> None:
    assert C.selu_other_activations(selu_layers(const(1.0))).held is True
    relu_stays = selu_layers(const(1.0), relu_var=const(1.0))
    assert C.selu_other_activations(relu_stays).held is False
    assert C.selu_other_activations({"layers": pd.DataFrame()}).held is None


# --- Schoenholz et al. 2017 ------------------------------------------------------------------

XI_C = {"sw2_0p5": 1.2, "sw2_1p0": 3.6, "sw2_1p76": np.inf, "sw2_4p0": 7.0}
DEPTHS = (5, 10, 20, 40)


def eoc_tables(trains: Callable[[str, int, bool], bool]) -> dict[str, pd.DataFrame]:
    """``trains(initializer, depth, inside)`` decides each cell's verdict."""
    summary, theory = [], []
    for init, xi in XI_C.items():
        for depth in DEPTHS:
            ok = trains(init, depth, depth <= 6 * xi)
            summary.append(
                summary_row(init, "tanh", depth, 0.95 if ok else 0.1, "trains" if ok else "fails")
            )
            theory.extend(theory_rows(init, "tanh", depth, 1.0, xi_c=xi))
    return {"summary": pd.DataFrame(summary), "theory": pd.DataFrame(theory)}


def test_edge_of_chaos_boundary_held() -> None:
    claim = C.edge_of_chaos_trainability(eoc_tables(lambda init, depth, inside: inside))
    assert claim.held is True
    # inside: 0p5/d5, 1p0/d5..d20, 1p76 all, 4p0/d5..d40 = 1 + 3 + 4 + 4 = 12; beyond: 4
    assert "12/12 cells train" in claim.measured
    assert "0/4 cells train" in claim.measured
    assert "counting verdict 'partial' as learning too, inside 12/12, beyond 0/4" in claim.measured


def test_edge_of_chaos_boundary_not_held() -> None:
    everything = C.edge_of_chaos_trainability(eoc_tables(lambda init, depth, inside: True))
    assert everything.held is False  # the cells beyond 6 xi_c train as well
    assert "beyond, acc 0.950" in everything.note
    shallow_only = C.edge_of_chaos_trainability(eoc_tables(lambda init, depth, inside: depth <= 5))
    assert shallow_only.held is False  # most cells inside fail


def test_edge_of_chaos_one_sided_grid_is_inconclusive() -> None:
    tables = eoc_tables(lambda init, depth, inside: inside)
    keep = tables["summary"]["initializer"] == "sw2_1p76"
    one_side = {"summary": tables["summary"][keep], "theory": tables["theory"]}
    assert C.edge_of_chaos_trainability(one_side).held is None


def test_selu_initializer_contrast_judges_the_deeper_half() -> None:
    # glorot_uniform starts low in the first layers (its first layer has fan_in Var[W] < 1) and
    # is attracted to (0, 1) with depth: that agrees with its hidden sigma_w^2 = 1
    attracted = selu_layers(const(1.0), glorot_var=lambda layer, seed: 0.55 if layer <= 4 else 1.0)
    claim = C.selu_needs_unit_variance_init(attracted)
    assert claim.held is True
    assert "layers 17..32" in claim.measured
    assert "all layers: var z in [0.55, 1]" in claim.measured
