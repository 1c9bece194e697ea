"""Remedies: paired accuracy changes per extra-axis value, checked against hand computations,
and the remedies pages' layout at 4 axes of 4 values on the default study's grid."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from test_report_layout import layout_problems

from initlab.layout import REMEDY_EFFECTS
from initlab.remedies import REMEDY_COLUMNS, remedy_effect, remedy_table
from initlab.report.remedies_pages import plot_remedies
from initlab.report.writer import Page

# accuracies per (initializer, optimizer) and seed; None: diverged (counted at chance 0.1)
ACC = {
    ("he_normal", "sgd"): [0.30, 0.40, 0.35],
    ("he_normal", "adam"): [0.95, 0.93, 0.94],
    ("zeros", "sgd"): [0.10, 0.10, 0.10],
    ("zeros", "adam"): [0.12, None, 0.11],
}
VERDICTS = {
    ("he_normal", "sgd"): "partial",
    ("he_normal", "adam"): "trains",
    ("zeros", "sgd"): "fails",
    ("zeros", "adam"): "fails",
}


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    runs = [
        {
            "initializer": init,
            "activation": "relu",
            "depth": 10,
            "optimizer": opt,
            "seed": seed,
            "final_test_acc": math.nan if acc is None else acc,
            "diverged": acc is None,
            "n_classes": 10,
        }
        for (init, opt), accs in ACC.items()
        for seed, acc in enumerate(accs)
    ]
    summary = [
        {"initializer": i, "activation": "relu", "depth": 10, "optimizer": o, "verdict": v}
        for (i, o), v in VERDICTS.items()
    ]
    return pd.DataFrame(runs), pd.DataFrame(summary)


def test_paired_changes_and_their_intervals() -> None:
    runs, summary = _tables()
    table = remedy_table(runs, summary, {"optimizer": ["sgd", "adam"]})
    assert list(table.columns) == list(REMEDY_COLUMNS)
    assert len(table) == 2
    he = table[table["initializer"] == "he_normal"].iloc[0]
    diffs = np.array([0.95 - 0.30, 0.93 - 0.40, 0.94 - 0.35])
    half = sps.t.ppf(0.975, 2) * diffs.std(ddof=1) / math.sqrt(3)
    assert he["delta_mean"] == pytest.approx(diffs.mean(), abs=1e-12)
    assert he["delta_ci95_lo"] == pytest.approx(diffs.mean() - half, abs=1e-12)
    assert he["delta_ci95_hi"] == pytest.approx(diffs.mean() + half, abs=1e-12)
    assert (he["verdict_baseline"], he["verdict_value"], he["effect"]) == (
        "partial",
        "trains",
        "rescues",
    )
    assert (he["value"], he["baseline_value"], he["n_pairs"]) == ("adam", "sgd", 3)
    zeros = table[table["initializer"] == "zeros"].iloc[0]
    # the diverged seed counts at chance: changes 0.02, 0.0, 0.01
    assert zeros["delta_mean"] == pytest.approx(0.01, abs=1e-12)
    assert zeros["acc_value_mean"] == pytest.approx((0.12 + 0.1 + 0.11) / 3)
    assert zeros["effect"] == "unclear"  # interval [-0.015, 0.035] contains 0


def test_no_extra_axes_no_rows() -> None:
    runs, summary = _tables()
    assert remedy_table(runs, summary, {}).empty


@pytest.mark.parametrize(
    ("before", "after", "mean", "lo", "hi", "effect"),
    [
        ("fails", "trains", 0.2, -0.1, 0.5, "rescues"),  # the verdict decides, not the interval
        ("diverged", "trains", 0.8, math.nan, math.nan, "rescues"),
        ("trains", "partial", -0.2, -0.5, 0.1, "breaks"),
        ("fails", "fails", 0.1, 0.01, 0.2, "helps"),
        ("fails", "partial", 0.3, 0.2, 0.4, "helps"),  # a verdict change short of 'trains'
        ("trains", "trains", -0.1, -0.2, -0.01, "hurts"),
        ("partial", "partial", 0.0, -0.1, 0.1, "unclear"),
        ("fails", "partial", 0.3, math.nan, math.nan, "unclear"),  # one seed: no interval
        # every seed one test image better: a zero-width interval, below the 0.005 margin
        ("trains", "trains", 1 / 359, 1 / 359, 1 / 359, "unclear"),
    ],
)
def test_effect_rules(
    before: str, after: str, mean: float, lo: float, hi: float, effect: str
) -> None:
    assert remedy_effect(before, after, mean, lo, hi) == effect
    assert effect in REMEDY_EFFECTS


def _default_grid_remedies(rng: np.random.Generator) -> tuple[pd.DataFrame, list, list, list]:
    """A remedies table with 4 axes of 4 values on the default grid (8 x 8 x 4 cells)."""
    inits = [
        "zeros",
        "random_normal",
        "standard_uniform",
        "glorot_uniform",
        "glorot_normal",
        "he_normal",
        "lecun_normal",
        "orthogonal",
    ]
    acts = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "gelu"]
    depths = [1, 4, 10, 30]
    axes = {
        "optimizer": ["momentum", "sgd", "adam", "adamw"],
        "normalization": ["none", "batch_norm", "layer_norm", "none2"],
        "learning_rate": ["0.01", "0.1", "0.001", "0.0001"],
        "batch_size": ["64", "16", "256", "1024"],
    }
    rows = [
        {
            "axis": axis,
            "value": value,
            "baseline_value": values[0],
            "initializer": i,
            "activation": a,
            "depth": d,
            "n_pairs": 2,
            "delta_mean": rng.uniform(-1, 1),
            "effect": rng.choice(list(REMEDY_EFFECTS)),
        }
        for axis, values in axes.items()
        for value in values[1:]
        for i in inits
        for a in acts
        for d in depths
    ]
    return pd.DataFrame(rows), inits, acts, depths


def test_remedies_pages_stay_legible_with_4_axes_of_4_values() -> None:
    table, inits, acts, depths = _default_grid_remedies(np.random.default_rng(0))
    pairs = table[["axis", "value"]].drop_duplicates().itertuples(index=False)
    pages = [
        Page("remedies", partial(plot_remedies, table, axis, value, depths, inits, acts))
        for axis, value in pairs
    ]
    assert len(pages) == 12
    problems = layout_problems(pages)
    assert not problems, "\n".join(problems)


def test_alpha_dropout_with_other_activations_is_flagged_on_the_study_page() -> None:
    from initlab.report.data import Grid
    from initlab.report.text_pages import _alpha_dropout_lines

    grid = Grid(("lecun_normal",), ("selu", "tanh"), (4,), (0,))
    axes = pd.DataFrame(
        {"axis": ["dropout_kind"] * 2, "value": ["dropout", "alpha_dropout"], "position": [0, 1]}
    )
    config = {"training": {"dropout": 0.1}}
    text = " ".join(line.text for line in _alpha_dropout_lines(config, grid, axes))
    assert "alpha_dropout" in text and "tanh" in text and "Klambauer" in text
    assert _alpha_dropout_lines({"training": {"dropout": 0.0}}, grid, axes) == []  # none dropped
    assert _alpha_dropout_lines({"training": {"dropout_kind": "dropout"}}, grid, None) == []
    selu_only = Grid(("lecun_normal",), ("selu",), (4,), (0,))
    assert _alpha_dropout_lines(config, selu_only, axes) == []


def test_trainability_pages_are_faceted_by_axes_that_leave_step_0_alone(tmp_path) -> None:
    """An optimizer axis: one more sigma_w^2 x depth page (its accuracies at adam); a
    normalization axis changes sigma_w^2's meaning at step 0: no extra page."""
    import dataclasses

    from test_report import make_config, make_tables

    from initlab.report.data import load_tables
    from initlab.report.writer import _plan, _trainability_pages

    make_tables(tmp_path)
    tables = load_tables(tmp_path)
    base = _trainability_pages(_plan(make_config(), tables))
    assert len(base) == 1
    for axis, values, extra in (
        ("optimizer", ["momentum", "adam"], 1),
        ("normalization", ["none", "batch_norm"], 0),
    ):
        axes = pd.DataFrame(
            {"axis": [axis] * 2, "value": values, "position": [0, 1], "baseline": [True, False]}
        )
        both = pd.concat([tables.summary.assign(**{axis: v}) for v in values], ignore_index=True)
        faceted = dataclasses.replace(tables, axes=axes, all_summary=both)
        pages = _trainability_pages(_plan(make_config(), faceted))
        assert len(pages) == 1 + extra
        if extra:
            title = pages[1].build().texts[0].get_text()
            assert f"{axis} = {values[1]}" in title


def test_study_page_stays_legible_with_4_axes_of_4_values(tmp_path) -> None:
    """The study page lists every axis and value beside the grid (and the alpha-dropout note)."""
    import dataclasses

    from test_report import make_config, make_tables

    from initlab.report.data import load_tables
    from initlab.report.writer import plan_pages

    make_tables(tmp_path)
    values = {
        "optimizer": ["momentum", "sgd", "adam", "adamw"],
        "normalization": ["none", "batch_norm", "layer_norm", "none"],
        "learning_rate": ["0.01", "0.1", "0.001", "0.0001"],
        "dropout_kind": ["dropout", "alpha_dropout", "dropout", "alpha_dropout"],
    }
    axes = pd.DataFrame(
        [
            {"axis": a, "value": v, "position": k, "baseline": k == 0}
            for a, vs in values.items()
            for k, v in enumerate(vs)
        ]
    )
    tables = dataclasses.replace(load_tables(tmp_path), axes=axes)
    pages = [p for p in plan_pages(make_config(), tables) if p.section == "title"]
    texts = " ".join(t.get_text() for t in pages[0].build().texts)
    assert "axis learning_rate: 0.01, 0.1, 0.001, 0.0001" in texts and "alpha_dropout" in texts
    problems = layout_problems(pages)
    assert not problems, "\n".join(problems)


def test_a_normalized_baseline_gets_no_plain_net_theory_pages(tmp_path) -> None:
    from test_report import make_config, make_tables

    from initlab.report.data import load_tables
    from initlab.report.writer import plan_pages

    make_tables(tmp_path)
    tables = load_tables(tmp_path)
    plain = {p.section for p in plan_pages(make_config(), tables)}
    assert {"theory", "spectra", "correlation_map"} <= plain
    config = make_config()
    config["training"] = {**config["training"], "normalization": "batch_norm"}
    normed = {p.section for p in plan_pages(config, tables)}
    assert not {"theory", "spectra", "correlation_map"} & normed
    assert "phase_diagram" in normed  # a property of the activation, not of the network


def test_axes_that_cannot_change_a_run_are_named_on_the_study_page() -> None:
    from initlab.report.text_pages import _idle_axis_lines

    def axes(**values: list[str]) -> pd.DataFrame:
        rows = [
            {"axis": a, "value": v, "position": k, "baseline": k == 0}
            for a, vs in values.items()
            for k, v in enumerate(vs)
        ]
        return pd.DataFrame(rows)

    adam = {"training": {"optimizer": "adam", "dropout": 0.0}}
    text = " ".join(
        line.text
        for line in _idle_axis_lines(
            adam, axes(momentum=["0.9", "0.5"], nesterov=["false", "true"])
        )
    )
    assert "momentum (no optimizer" in text and "nesterov" in text
    both = axes(optimizer=["adam", "momentum"], momentum=["0.9", "0.5"])
    assert _idle_axis_lines(adam, both) == []  # the momentum optimizer reads it
    kinds = axes(dropout_kind=["dropout", "alpha_dropout"])
    assert "dropout is 0" in " ".join(t.text for t in _idle_axis_lines(adam, kinds))
    dropping = {"training": {"optimizer": "adam", "dropout": 0.1}}
    assert _idle_axis_lines(dropping, kinds) == []


def test_study_page_names_the_classes_and_the_sources() -> None:
    from initlab.report.data import Grid
    from initlab.report.text_pages import _grid_lines

    config = {
        "width": 64,
        "bias_std": 0.0,
        "classes": [5, 6, 7, 8, 9],
        "sources": {"a": {"classes": [0, 1, 2, 3, 4], "depth": 3, "initializer": "he_normal"}},
        "custom_initializers": {},
        "custom_activations": {},
    }
    text = " ".join(
        t.text for t in _grid_lines(config, Grid(("he_normal",), ("relu",), (3,), (0,)))
    )
    assert "classes (relabelled from 0): 5, 6, 7, 8, 9" in text
    assert "source a: classes 0, 1, 2, 3, 4, depth 3, he_normal" in text
