"""Tests of initlab.claims on small hand-built tables (no training, no Snakemake).

Each rule is fed numbers that plainly support its claim, numbers that plainly contradict it, and
missing or too few numbers (``not measurable``). Interval arithmetic is checked against scipy's
own t-test intervals, an implementation independent of the one under test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats as sps

from initlab import claims as C
from initlab.study import ConfigError, load_schema, validate_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = load_schema(ROOT / "workflow/schemas/config.schema.yaml")
GRID = {"initializers": ["he", "xavier"], "activations": ["relu", "selu"], "depths": [4, 30]}


def cell(init: str, act: str = "relu", depth: int = 30, **extra: Any) -> dict[str, Any]:
    return {"initializer": init, "activation": act, "depth": depth, **extra}


def runs(init: str, accs: Sequence[float | None], act: str = "relu", depth: int = 30) -> list:
    """runs.csv rows; ``None`` is a diverged seed."""
    return [
        {
            **cell(init, act, depth),
            "seed": s,
            "final_test_acc": math.nan if a is None else a,
            "diverged": a is None,
            "n_classes": 10,
        }
        for s, a in enumerate(accs)
    ]


def layers(
    init: str, depth: int, columns: dict[str, Callable[[int, int], float]], seeds: int = 3
) -> list:
    """Step-0 layers.csv rows of hidden layers 1..depth and the output layer."""
    return [
        {**cell(init, "relu", depth), "seed": s, "step": 0, "layer": layer}
        | {name: fn(layer, s) for name, fn in columns.items()}
        for s in range(seeds)
        for layer in range(1, depth + 2)
    ]


def spec(rule: str, **keys: Any) -> dict[str, Any]:
    return {"id": "c", "statement": "s", "source": "p", "rule": rule, "reason": "r", **keys}


def decide(s: dict[str, Any], **tables: list) -> C.Claim:
    return C.evaluate_claims([s], {k: pd.DataFrame(v) for k, v in tables.items()})[0]


# --- statistics against scipy ----------------------------------------------------------------


def test_welch_interval_matches_scipy() -> None:
    a, b = np.array([0.91, 0.93, 0.92, 0.95]), np.array([0.88, 0.80, 0.85])
    for level in (0.90, 0.95):
        diff, lo, hi = C.welch_interval(a, b, level)
        ref = sps.ttest_ind(a, b, equal_var=False).confidence_interval(level)
        assert diff == pytest.approx(a.mean() - b.mean())
        assert (lo, hi) == pytest.approx((ref.low, ref.high), rel=1e-10)


def test_one_sample_interval_matches_scipy() -> None:
    a = np.array([0.1, 0.3, 0.25, 0.2])
    _, lo, hi = C.one_sample_interval(a, 0.9)
    ref = sps.ttest_1samp(a, 0.0).confidence_interval(0.9)
    assert (lo, hi) == pytest.approx((ref.low, ref.high), rel=1e-10)


# --- difference: greater and equivalence (TOST) ----------------------------------------------

ACC = {"table": "runs", "column": "final_test_acc"}


def test_greater_holds_fails_and_is_inconclusive() -> None:
    s = spec(
        "difference",
        cell=cell("he"),
        versus=cell("xavier"),
        measure=ACC,
        test="greater",
        threshold=0.0,
    )
    held = decide(s, runs=runs("he", [0.95, 0.96, 0.94]) + runs("xavier", [0.11, 0.10, 0.12]))
    assert held.verdict == "held" and "3 seeds" in held.measured
    lost = decide(s, runs=runs("he", [0.11, 0.10, 0.12]) + runs("xavier", [0.95, 0.96, 0.94]))
    assert lost.verdict == "did not hold"
    noisy = decide(s, runs=runs("he", [0.9, 0.2]) + runs("xavier", [0.6, 0.5]))
    assert noisy.verdict == "inconclusive" and noisy.held is None


def test_equality_needs_a_narrow_interval_not_one_that_contains_zero() -> None:
    """Two seeds of widely scattered accuracies: the Welch interval contains 0, which the old
    rule read as "equally good"; TOST with a 0.02 margin cannot conclude."""
    s = spec(
        "difference",
        cell=cell("he", depth=4),
        versus=cell("xavier", depth=4),
        measure=ACC,
        test="equivalent",
        threshold=0.02,
    )
    wide = decide(s, runs=runs("he", [0.95, 0.60], depth=4) + runs("xavier", [0.90, 0.70], depth=4))
    ref = sps.ttest_ind([0.95, 0.60], [0.90, 0.70], equal_var=False).confidence_interval(0.95)
    assert ref.low < 0 < ref.high  # the old rule's "held"
    assert wide.verdict == "inconclusive"
    tight = decide(
        s,
        runs=runs("he", [0.951, 0.949, 0.950, 0.952], depth=4)
        + runs("xavier", [0.948, 0.950, 0.949, 0.951], depth=4),
    )
    assert tight.verdict == "held" and "TOST" in tight.threshold
    apart = decide(
        s,
        runs=runs("he", [0.95, 0.96, 0.95], depth=4) + runs("xavier", [0.80, 0.81, 0.80], depth=4),
    )
    assert apart.verdict == "did not hold"


def test_a_diverged_seed_counts_at_chance_not_as_missing() -> None:
    """He: 0.95 and a diverged seed. Dropping the diverged seed would leave one seed (no
    interval) or, with more seeds, inflate He's mean; it counts as 0.1 (10 classes)."""
    s = spec(
        "difference",
        cell=cell("he"),
        versus=cell("xavier"),
        measure=ACC,
        test="greater",
        threshold=0.0,
    )
    out = decide(s, runs=runs("he", [0.95, None, 0.94]) + runs("xavier", [0.5, 0.5, 0.51]))
    assert "mean 0.6633" in out.measured  # (0.95 + 0.1 + 0.94) / 3
    assert out.verdict == "inconclusive"


def test_too_few_seeds_and_missing_cells_are_not_measurable() -> None:
    s = spec(
        "difference",
        cell=cell("he"),
        versus=cell("xavier"),
        measure=ACC,
        test="greater",
        threshold=0.0,
    )
    one = decide(s, runs=runs("he", [0.95]) + runs("xavier", [0.1, 0.1]))
    assert one.verdict == "not measurable" and "at least 2" in one.note and one.held is None
    absent = decide(s, runs=runs("he", [0.95, 0.9]))
    assert absent.verdict == "not measurable" and "xavier" in absent.note


def test_curves_measure_counts_a_seed_that_diverged_before_the_epoch_at_chance() -> None:
    run_rows = runs("he", [0.9, 0.9]) + runs("xavier", [0.2, None])
    curves = [
        {**cell(i), "seed": s, "epoch": e, "train_acc": acc}
        for i, s, e, acc in [
            ("he", 0, 1.0, 0.8),
            ("he", 1, 1.0, 0.7),
            ("xavier", 0, 1.0, 0.15),
            ("he", 0, 0.0, 0.1),
            ("xavier", 1, 0.0, 0.1),
        ]
    ]  # xavier seed 1 diverged before epoch 1
    s = spec(
        "difference",
        cell=cell("he"),
        versus=cell("xavier"),
        test="greater",
        threshold=0.0,
        measure={"table": "curves", "column": "train_acc", "epoch": 1},
    )
    out = decide(s, runs=run_rows, curves=curves)
    assert "xavier/relu/d30 mean 0.125" in out.measured  # (0.15 + chance 0.1) / 2


# --- deviation from a prediction or a value --------------------------------------------------


def test_slope_against_the_prediction() -> None:
    """z_q halves per layer (slope log10 0.5 = -0.301 decades) as q_pred does: held; a net
    whose z_q stays flat is 0.301 decades per layer away: did not hold."""
    rng = np.random.default_rng(0)
    half = layers(
        "xavier", 30, {"z_q": lambda layer, s: 0.5**layer * (1 + 0.01 * rng.standard_normal())}
    )
    flat = layers("he", 30, {"z_q": lambda layer, s: 1.0 + 0.01 * rng.standard_normal()})
    theory = [
        {**cell(i), "layer": k, "q_pred": 0.5**k} for i in ("xavier", "he") for k in range(1, 32)
    ]
    m = {"table": "layers", "column": "z_q", "slope": True}
    ok = decide(
        spec(
            "deviation",
            cell=cell("xavier"),
            measure=m,
            reference={"theory": "q_pred"},
            test="equivalent",
            threshold=0.04,
        ),
        layers=half + flat,
        theory=theory,
    )
    assert ok.verdict == "held" and "-0.301" in ok.measured
    off = decide(
        spec(
            "deviation",
            cell=cell("he"),
            measure=m,
            reference={"theory": "q_pred"},
            test="equivalent",
            threshold=0.04,
        ),
        layers=half + flat,
        theory=theory,
    )
    assert off.verdict == "did not hold"


def test_slope_of_a_profile_with_a_zero_is_not_measurable() -> None:
    dead = layers("he", 4, {"delta_rms": lambda layer, s: 0.0 if layer == 1 else 1.0})
    out = decide(
        spec(
            "deviation",
            cell=cell("he", depth=4),
            reference={"value": 0.0},
            test="equivalent",
            threshold=0.05,
            measure={"table": "layers", "column": "delta_rms", "slope": True},
        ),
        layers=dead,
    )
    assert out.verdict == "not measurable" and "log" in out.note


# --- verdicts --------------------------------------------------------------------------------


def summary_row(init: str, verdict: str, depth: int = 30) -> dict[str, Any]:
    return {
        **cell(init, depth=depth),
        "verdict": verdict,
        "n_seeds": 2,
        "share_diverged": 0.0,
        "final_test_acc_mean": 0.5,
    }


def test_verdicts_rule() -> None:
    s = spec("verdicts", cells=[cell("he", verdict=["trains"]), cell("xavier", verdict=["fails"])])
    assert decide(s, summary=[summary_row("he", "trains"), summary_row("xavier", "fails")]).held
    out = decide(s, summary=[summary_row("he", "trains"), summary_row("xavier", "diverged")])
    assert out.verdict == "did not hold" and "'diverged'" in out.note
    assert decide(s, summary=[summary_row("he", "trains")]).verdict == "not measurable"


def test_he2015_claims_can_all_hold_at_once() -> None:
    """No two claims of the he2015 study may demand different verdicts of the same cell (the
    old pair required Xavier at 22 layers both to train and to stall)."""
    config = yaml.safe_load((ROOT / "config/studies/he2015.yaml").read_text())
    allowed: dict[tuple[Any, ...], set[str]] = {}
    for c in config["claims"]:
        for x in c.get("cells", []) if c["rule"] == "verdicts" else []:
            key = (x["initializer"], x["activation"], x["depth"])
            allowed[key] = allowed.get(key, set(C.VERDICT_NAMES)) & set(x["verdict"])
    assert allowed and all(allowed.values()), allowed


# --- moment band (SELU) ----------------------------------------------------------------------


def band_spec(expect: str, first_layer: Any = 1) -> dict[str, Any]:
    return spec(
        "moment_band",
        cells=[cell("he", "relu", 4, expect=expect)],
        threshold=0.1,
        band=[0.8, 1.5],
        first_layer=first_layer,
    )


def test_moment_band_reads_post_activation_moments() -> None:
    """Pre-activations at (0, 1) say nothing: a ReLU layer's output has mean ~0.4, which is
    outside |mu| <= 0.1 whatever z does."""
    relu_like = layers(
        "he",
        4,
        {
            "z_mean": lambda layer, s: 0.0,
            "z_var": lambda layer, s: 1.0,
            "a_mean": lambda layer, s: 0.4,
            "a_std": lambda layer, s: 0.58,
        },
    )
    assert decide(band_spec("outside"), layers=relu_like).verdict == "held"
    assert decide(band_spec("inside"), layers=relu_like).verdict == "did not hold"
    selu_like = layers("he", 4, {"a_mean": lambda layer, s: 0.01, "a_std": lambda layer, s: 1.0})
    assert decide(band_spec("inside"), layers=selu_like).verdict == "held"


def test_a_missing_moment_does_not_count_as_leaving_the_band() -> None:
    """One NaN cell used to count as 'leaves the band', which made an 'outside' claim hold."""
    holed = layers(
        "he",
        4,
        {
            "a_mean": lambda layer, s: math.nan if (layer, s) == (3, 1) else 0.0,
            "a_std": lambda layer, s: 1.0,
        },
    )
    out = decide(band_spec("outside"), layers=holed)
    assert out.verdict == "not measurable" and "not finite" in out.note


def test_moment_band_deep_half() -> None:
    """Layers 1-2 far off, 3-4 inside: the deeper half (layers > depth/2) is inside."""
    rows = layers(
        "he", 4, {"a_mean": lambda layer, s: 0.0, "a_std": lambda layer, s: 3.0 if layer < 3 else 1}
    )
    assert decide(band_spec("inside", "deep_half"), layers=rows).verdict == "held"
    assert decide(band_spec("inside", 1), layers=rows).verdict == "did not hold"


# --- depth bound -----------------------------------------------------------------------------


def test_depth_bound() -> None:
    theory = [
        {**cell(i, "tanh", d), "layer": 1, "xi_c": xi}
        for i, xi in (("he", 10.0), ("xavier", 1.0))
        for d in (4, 30)
    ]
    summary = [
        {**cell(i, "tanh", d), "verdict": v}
        for i, d, v in (
            ("he", 4, "trains"),
            ("he", 30, "trains"),
            ("xavier", 4, "trains"),
            ("xavier", 30, "fails"),
        )
    ]
    s = spec("depth_bound", activation="tanh", scale="xi_c", multiple=6, threshold=0.75)
    # inside (6 xi_c = 60 or 6): he d4, he d30, xavier d4 all train; beyond: xavier d30 fails
    assert decide(s, summary=summary, theory=theory).verdict == "held"
    summary[3]["verdict"] = "trains"
    assert decide(s, summary=summary, theory=theory).verdict == "did not hold"
    inside_only = [r for r in theory if r["initializer"] == "he"]
    out = decide(s, summary=summary[:2], theory=inside_only)
    assert out.verdict == "not measurable" and "does not test the boundary" in out.note


# --- declarations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"rule": "majority"}, "claims.0.rule: got 'majority'"),
        ({"cell": cell("kaiming")}, "claims.0.cell.initializer: got 'kaiming'; allowed: a known"),
        ({"cell": cell("he", depth=0)}, "claims.0.cell.depth: got 0"),
        ({"test": "bigger"}, "claims.0.test: got 'bigger'"),
        ({"measure": {"table": "layers", "column": "z_q"}}, "claims.0.measure.slope"),
        ({"reference": {"theory": "q_pred"}}, "not a rule key"),
    ],
)
def test_bad_claims_fail_naming_the_key(bad: dict[str, Any], message: str) -> None:
    good = spec(
        "difference",
        cell=cell("he"),
        versus=cell("xavier"),
        measure=ACC,
        test="greater",
        threshold=0.0,
    )
    claim = {**good, **bad}
    if message == "not a rule key":
        with pytest.raises(C.ClaimError, match=r"claims\.0\.reference"):
            C.check_claims([claim], GRID)
        return
    with pytest.raises(C.ClaimError, match=message.replace(".", r"\.")):
        C.check_claims([claim], GRID)


def test_config_with_claims_is_validated_before_any_job(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / "config/studies/glorot2010.yaml").read_text())
    assert len(validate_config(config, SCHEMA)["claims"]) == 8
    config["claims"][0]["cell"]["initializer"] = "glorot_unifrom"
    with pytest.raises(ConfigError, match=r"claims\.0\.cell\.initializer: got 'glorot_unifrom'"):
        validate_config(config, SCHEMA)
    config["claims"][0]["cell"]["initializer"] = "standard_uniform"
    config["claims"][0]["threshhold"] = 1
    with pytest.raises(ConfigError, match="threshhold"):
        validate_config(config, SCHEMA)


def test_every_classic_study_declares_valid_claims() -> None:
    for path in sorted((ROOT / "config/studies").glob("*.yaml")):
        config = validate_config(yaml.safe_load(path.read_text()), SCHEMA)
        assert config["claims"], path.name
        assert len({c["id"] for c in config["claims"]}) == len(config["claims"])


def test_claims_table_columns_and_empty_held() -> None:
    s = spec("verdicts", cells=[cell("he", verdict=["trains"])])
    table = C.claims_table(C.evaluate_claims([s], {"summary": pd.DataFrame()}))
    assert list(table.columns) == list(C.CLAIM_COLUMNS)
    assert table.loc[0, "verdict"] == "not measurable" and table.loc[0, "held"] is None


def test_two_nets_stalled_at_chance_are_not_equally_good() -> None:
    """Zero spread on both sides gives a zero-width interval inside any margin; a claim about
    trained nets (requires_verdict) is not measurable when a cell did not train."""
    s = spec(
        "difference",
        cell=cell("he", depth=4),
        versus=cell("xavier", depth=4),
        measure=ACC,
        test="equivalent",
        threshold=0.02,
    )
    stalled = runs("he", [0.1] * 4, depth=4) + runs("xavier", [0.1] * 4, depth=4)
    assert decide(s, runs=stalled).verdict == "held"  # what the bare rule says
    summary = [summary_row("he", "fails", 4), summary_row("xavier", "fails", 4)]
    out = decide({**s, "requires_verdict": ["trains"]}, runs=stalled, summary=summary)
    assert out.verdict == "not measurable" and "'fails'" in out.note
    trained = [summary_row("he", "trains", 4), summary_row("xavier", "trains", 4)]
    good = runs("he", [0.95, 0.951, 0.949], depth=4) + runs("xavier", [0.95, 0.949, 0.95], depth=4)
    assert decide({**s, "requires_verdict": ["trains"]}, runs=good, summary=trained).held


def test_recorded_accuracies_of_diverged_seeds_are_kept() -> None:
    """best_val_acc exists for a seed that diverged later; only a missing value is chance."""
    rows = runs("he", [0.9, None, 0.92]) + runs("xavier", [0.5, 0.5, 0.5])
    for r in rows:
        r["best_val_acc"] = 0.6 if r["diverged"] else r["final_test_acc"]
    s = spec(
        "difference",
        cell=cell("he"),
        versus=cell("xavier"),
        test="greater",
        threshold=0.0,
        measure={"table": "runs", "column": "best_val_acc"},
    )
    assert "[0.9, 0.6, 0.92]" in decide(s, runs=rows).measured


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"test": "equivalent", "threshold": 0.0}, r"claims\.0\.threshold: got 0\.0"),
        ({"requires_verdict": ["trained"]}, r"claims\.0\.requires_verdict"),
    ],
)
def test_more_bad_claims(bad: dict[str, Any], message: str) -> None:
    good = spec(
        "difference",
        cell=cell("he"),
        versus=cell("xavier"),
        measure=ACC,
        test="greater",
        threshold=0.0,
    )
    with pytest.raises(C.ClaimError, match=message):
        C.check_claims([{**good, **bad}], GRID)


def test_moment_band_first_layer_beyond_the_depth_is_rejected() -> None:
    band = {**band_spec("inside", 5)}
    with pytest.raises(C.ClaimError, match=r"claims\.0\.first_layer: got 5"):
        C.check_claims([band], GRID)


def test_a_claim_outside_a_narrowed_grid_is_not_measurable() -> None:
    """`--config depths=[1,2]` keeps the config file's claims about depth 30: they are not an
    error but 'not measurable' (the cell is not in the tables)."""
    s = spec(
        "difference",
        cell=cell("he", depth=7),
        versus=cell("xavier", depth=7),
        measure=ACC,
        test="greater",
        threshold=0.0,
    )
    C.check_claims([s], GRID)  # known names, a depth outside the grid: accepted
    out = decide(s, runs=runs("he", [0.9, 0.9]) + runs("xavier", [0.1, 0.1]))
    assert out.verdict == "not measurable" and "not in this grid" in out.note


def test_cells_at_a_point_of_the_extra_axes() -> None:
    """A cell may name extra-axis values; a cell that names none is at the baseline. The same
    network trained with sgd (baseline) and adam: the claim compares adam with the baseline."""
    s = spec(
        "difference",
        cell=cell("he", optimizer="adam"),
        versus=cell("he"),
        measure=ACC,
        test="greater",
        threshold=0.0,
    )
    rows = [{**r, "optimizer": "sgd"} for r in runs("he", [0.2, 0.25, 0.22])]
    rows += [{**r, "optimizer": "adam"} for r in runs("he", [0.95, 0.96, 0.94])]
    tables = {"runs": pd.DataFrame(rows)}
    (held,) = C.evaluate_claims([s], tables, {"optimizer": "sgd"})
    assert held.verdict == "held" and "optimizer=adam" in held.measured
    # the same claim read with adam as the baseline compares adam with itself: difference 0
    (same,) = C.evaluate_claims([s], tables, {"optimizer": "adam"})
    assert same.verdict == "inconclusive"
    # a value the grid does not have is not measurable, not an error
    s_out = {**s, "cell": cell("he", optimizer="rmsprop")}
    (missing,) = C.evaluate_claims([s_out], tables, {"optimizer": "sgd"})
    assert missing.verdict == "not measurable"


def test_a_cell_may_name_an_axis_setting_but_no_other_key() -> None:
    known = {**GRID, "axes": ["optimizer", "learning_rate"]}
    ok = spec("verdicts", cells=[cell("he", optimizer="adam", verdict=["trains"])])
    C.check_claims([ok], known)
    bad = spec("verdicts", cells=[cell("he", colour="red", verdict=["trains"])])
    with pytest.raises(C.ClaimError, match="colour"):
        C.check_claims([bad], known)
