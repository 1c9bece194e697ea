"""The first-page recommendation table, on hand-built tables with hand-checked answers."""

from __future__ import annotations

import math

import pandas as pd

from initlab.recommend import recommendation_table

INITS = ["zeros", "glorot_normal", "lecun_normal", "he_normal"]


def _tables(accs: dict[str, list[float | None]], verdicts: dict[str, str]) -> tuple:
    """One activation (relu) at depth 10; ``None`` is a diverged seed."""
    runs, summary, theory = [], [], []
    for init, seeds in accs.items():
        for seed, acc in enumerate(seeds):
            runs.append(
                {
                    "initializer": init,
                    "activation": "relu",
                    "depth": 10,
                    "seed": seed,
                    "final_test_acc": math.nan if acc is None else acc,
                    "diverged": acc is None,
                }
            )
        values = [0.1 if a is None else a for a in seeds]
        summary.append(
            {
                "initializer": init,
                "activation": "relu",
                "depth": 10,
                "final_test_acc_mean": sum(values) / len(values),
                "n_seeds": len(seeds),
                "verdict": verdicts[init],
                "log10_delta_ratio_hidden_mean": -0.2,
                "share_still_learning": 0.5,
            }
        )
        sw2 = {"zeros": 0.0, "glorot_normal": 1.0, "lecun_normal": 1.0, "he_normal": 2.0}[init]
        theory.append(
            {
                "initializer": init,
                "activation": "relu",
                "depth": 10,
                "layer": 1,
                "sigma_w2_hidden": sw2,
                "chi1": sw2 / 2,
            }
        )
    return pd.DataFrame(summary), pd.DataFrame(runs), pd.DataFrame(theory)


def test_best_initializer_with_its_numbers() -> None:
    tables = _tables(
        {
            "zeros": [0.1, 0.1],
            "glorot_normal": [0.5, 0.52],
            "lecun_normal": [0.4, 0.41],
            "he_normal": [0.92, 0.93],
        },
        {
            "zeros": "fails",
            "glorot_normal": "partial",
            "lecun_normal": "partial",
            "he_normal": "trains",
        },
    )
    row = recommendation_table(*tables, INITS, ["relu"], [10]).iloc[0]
    assert row["recommended"] == "he_normal" and row["n_tied"] == 1
    assert row["sigma_w2_hidden"] == 2.0 and row["chi1"] == 1.0
    assert row["test_acc_seeds"] == "0.920 0.930"
    assert row["reason"].startswith("chi_1 = 1.00; gradient flat over the hidden layers")


def test_ties_are_reported_as_ties() -> None:
    """Equal means tie (kept in configuration order); he_normal 0.002 below the best ties (the
    seeds cannot tell it apart); zeros, which failed, never ties."""
    tables = _tables(
        {
            "zeros": [0.1, 0.1],
            "glorot_normal": [0.95, 0.94],
            "lecun_normal": [0.95, 0.94],
            "he_normal": [0.944, 0.942],
        },
        {name: "trains" for name in INITS} | {"zeros": "fails"},
    )
    row = recommendation_table(*tables, INITS, ["relu"], [10]).iloc[0]
    assert row["recommended"] == "glorot_normal;lecun_normal;he_normal"
    assert row["n_tied"] == 3


def test_nothing_is_recommended_where_nothing_trains() -> None:
    """An 8-way tie at chance crowns no initializer; a diverged seed counts at chance."""
    tables = _tables(
        {name: [0.1, None] if name == "he_normal" else [0.1, 0.1] for name in INITS},
        dict.fromkeys(INITS, "fails"),
    )
    row = recommendation_table(*tables, INITS, ["relu"], [10]).iloc[0]
    assert row["recommended"] == "" or (isinstance(row["recommended"], float))
    assert row["n_tied"] == 0 and math.isnan(row["chi1"])
    assert row["reason"].startswith("nothing trains at this budget (best accuracy 0.100)")
    assert row["share_still_learning"] == 0.5
    from initlab.report.recommend_pages import recommendation_rows

    (printed,) = recommendation_rows(recommendation_table(*tables, INITS, ["relu"], [10]))
    assert printed[7] == "50%" and printed[6] == "fails"


def test_a_lead_inside_the_seed_noise_is_a_tie() -> None:
    """orthogonal-like 0.9443 vs 0.9387 with 2 seeds each (sd ~0.004): the Welch 95% interval of
    the difference, about [-0.011, +0.022], contains 0, so both are named; a lead of 0.3 over
    tight seeds is not a tie."""
    tables = _tables(
        {
            "zeros": [0.1, 0.1],
            "glorot_normal": [0.9415, 0.9471],
            "lecun_normal": [0.636, 0.64],
            "he_normal": [0.9415, 0.9359],
        },
        {
            "zeros": "fails",
            "glorot_normal": "trains",
            "lecun_normal": "partial",
            "he_normal": "trains",
        },
    )
    row = recommendation_table(*tables, INITS, ["relu"], [10]).iloc[0]
    assert row["recommended"] == "glorot_normal;he_normal"


def test_a_diverged_cell_is_never_the_best() -> None:
    """3 seeds: zeros diverges twice and scores 1.0 once (mean 0.4 at chance for the diverged
    ones), its verdict is 'diverged'; he_normal, partial at 0.35, is the answer."""
    tables = _tables(
        {
            "zeros": [None, None, 1.0],
            "glorot_normal": [0.1, 0.1, 0.1],
            "lecun_normal": [0.1, 0.1, 0.1],
            "he_normal": [0.35, 0.36, 0.34],
        },
        {
            "zeros": "diverged",
            "glorot_normal": "fails",
            "lecun_normal": "fails",
            "he_normal": "partial",
        },
    )
    row = recommendation_table(*tables, INITS, ["relu"], [10]).iloc[0]
    assert row["recommended"] == "he_normal" and row["verdict"] == "partial"


def test_a_ratio_that_rounds_to_zero_has_no_sign() -> None:
    from initlab.recommend import _gradient_words

    assert _gradient_words(-0.04, 10) == "gradient flat over the hidden layers (10^+0.0)"
    assert _gradient_words(0.04, 10) == "gradient flat over the hidden layers (10^+0.0)"
    assert _gradient_words(-0.5, 10).endswith("(10^-0.5)")
