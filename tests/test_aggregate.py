"""Summary statistics of aggregation, checked on hand-built tables with hand-computed values."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from initlab import aggregate


def _runs(accs: list[float | None], n_classes: int = 10) -> pd.DataFrame:
    """One combination, one row per seed; ``None`` marks a diverged seed."""
    rows = []
    for seed, acc in enumerate(accs):
        diverged = acc is None
        value = math.nan if diverged else acc
        rows.append(
            {
                "dataset": "digits",
                "initializer": "he_normal",
                "activation": "relu",
                "depth": 30,
                "seed": seed,
                "final_test_acc": value,
                "final_val_acc": value,
                "best_val_acc": 0.2,
                "final_train_loss": math.nan if diverged else 0.1,
                "steps_to_target": None,
                "diverged": diverged,
                "log10_delta_ratio_hidden": 0.0,
                "log10_delta_ratio_init": -0.5,
                "log10_wgrad_rms_ratio_hidden": 0.0,
                "log10_wgrad_ratio_init": 0.0,
                "dead_frac_init": 0.0,
                "saturated_frac_init": 0.5,
                "dead_frac_final": math.nan if diverged else 0.0,
                "still_learning": math.nan if diverged else 0.0,
                "epochs": 10,
                "budget_epochs": 10,
                "budget_extended": False,
                "budget_diverged": diverged,
                "budget_test_acc": value,
                "budget_train_loss": math.nan if diverged else 0.1,
                "n_classes": n_classes,
            }
        )
    runs = pd.DataFrame(rows)
    runs["steps_to_target"] = runs["steps_to_target"].astype("Int64")
    return runs


def test_a_diverged_seed_counts_as_a_failed_run() -> None:
    """1 surviving seed of 2 must not decide the verdict: the diverged one is at chance."""
    row = aggregate.summarize(_runs([0.95, None]), target_accuracy=0.9).iloc[0]
    assert row["n_seeds"] == 2 and row["n_survivors"] == 1
    assert row["final_test_acc_mean"] == pytest.approx((0.95 + 0.1) / 2)
    assert row["final_test_acc_survivors_mean"] == pytest.approx(0.95)
    # 0.525 is below the target 0.9 but above chance + 0.25 (1 - chance) = 0.325
    assert row["verdict"] == "partial"
    # the survivors' view has one seed: no interval
    assert math.isnan(row["final_test_acc_survivors_ci95_lo"])


def test_accuracy_intervals_stay_inside_0_and_1() -> None:
    """Two seeds at 0.80 and 0.99: the t-interval is 0.895 +- 12.706 * 0.1344 / sqrt(2),
    i.e. [-0.312, 2.102]; it is clipped to [0, 1] and says so."""
    row = aggregate.summarize(_runs([0.80, 0.99]), target_accuracy=0.9).iloc[0]
    half = 12.706204736 * np.std([0.80, 0.99], ddof=1) / math.sqrt(2)
    assert 0.895 - half < 0 and 0.895 + half > 1  # the unclipped interval leaves [0, 1]
    assert row["final_test_acc_ci95_lo"] == 0.0
    assert row["final_test_acc_ci95_hi"] == 1.0
    assert bool(row["final_test_acc_ci95_clipped"]) is True
    # a quantity that is not bounded keeps its interval
    narrow = aggregate.summarize(_runs([0.90, 0.91, 0.92]), target_accuracy=0.9).iloc[0]
    assert bool(narrow["final_test_acc_ci95_clipped"]) is False
    assert narrow["final_test_acc_ci95_lo"] == pytest.approx(0.91 - 4.302652730 * 0.01 / 3**0.5)


def test_interval95_by_hand() -> None:
    stats = aggregate.interval95(np.array([1.0, 2.0, 3.0, np.nan]))
    assert stats["n"] == 3 and stats["mean"] == 2.0 and stats["std"] == 1.0
    assert stats["hi"] == pytest.approx(2.0 + 4.302652730 / 3**0.5)
    one = aggregate.interval95(np.array([0.5]))
    assert one["mean"] == 0.5 and math.isnan(one["lo"]) and math.isnan(one["std"])


def _layers(delta: list[float], wgrad: list[float]) -> pd.DataFrame:
    n = len(delta)
    return pd.DataFrame(
        {
            "step": [0] * n + [10] * n,
            "layer": list(range(1, n + 1)) * 2,
            "delta_rms": delta + [1.0] * n,
            "wgrad_rms": wgrad + [1.0] * n,
        }
    )


def test_hidden_gradient_ratio_leaves_out_the_output_layer() -> None:
    """depth 3: hidden layers 1..3 and the output layer 4. A flat hidden stack scores 0 on the
    hidden measure whatever the output layer's delta is (the old measure divides by it)."""
    flat = _layers([0.02, 0.02, 0.02, 0.06], [0.5, 0.5, 0.5, 0.7])
    assert aggregate._hidden_log10_ratio(flat, "delta_rms", 3) == 0.0
    shrinking = _layers([1.0, 2.0, 4.0, 9.0], [1.0, 1.0, 1.0, 1.0])
    assert aggregate._hidden_log10_ratio(shrinking, "delta_rms", 3) == pytest.approx(
        math.log10(0.25)
    )
    assert math.isnan(aggregate._hidden_log10_ratio(shrinking, "delta_rms", 1))
    assert math.isnan(aggregate._hidden_log10_ratio(_layers([0.0, 1.0], [1, 1]), "delta_rms", 2))


def test_runs_recorded_in_an_older_format_are_named(tmp_path: Path) -> None:
    """A chunk from an older initlab (other columns or keys) is rejected with the reason and
    the way out; the training rule's record_format parameter makes snakemake retrain it."""
    from initlab import settings
    from initlab.chunks import write_chunk
    from initlab.io import CorruptFileError
    from initlab.records import RECORD_FORMAT
    from initlab.study import load_study
    from initlab.train import RunResult, train

    config = {
        "initializers": ["he_normal"],
        "activations": ["relu"],
        "depths": [1],
        "seeds": [0],
        "dataset": "moons",
        "width": 8,
        "training": {"epochs": 1},
    }
    study = load_study(config, settings.schema())
    (chunk,) = study.chunks()
    (spec,) = study.chunk_specs(chunk)
    result = train(spec)
    old = RunResult({**result.summary, "record_format": 1}, result.layers, result.timing)
    write_chunk(tmp_path / chunk.folder, [(spec.run_id, old)])
    with pytest.raises(
        CorruptFileError, match=f"format 1; this initlab reads format {RECORD_FORMAT}"
    ):
        aggregate._read_chunk(study, chunk, tmp_path)
    write_chunk(tmp_path / chunk.folder, [(spec.run_id, result)])
    data = aggregate._read_chunk(study, chunk, tmp_path)
    (summary,) = data.summaries
    assert summary["record_format"] == RECORD_FORMAT
    assert len(data.layers) == len(data.rows(0)["step"]) == summary["n_layer_rows"]


def test_still_learning_compares_the_last_two_checkpoints() -> None:
    """Loss 2.0 -> 1.0 -> 0.9: fell by 10% over the last interval (> 1%): still learning;
    0.9 -> 0.895 (0.6%): not; one checkpoint or a non-finite loss: undefined."""

    def frame(losses: list[float]) -> pd.DataFrame:
        return pd.DataFrame({"step": range(len(losses)), "layer": 1, "train_loss": losses})

    assert aggregate._still_learning(frame([2.0, 1.0, 0.9])) == 1.0
    assert aggregate._still_learning(frame([2.0, 0.9, 0.895])) == 0.0
    assert math.isnan(aggregate._still_learning(frame([2.0])))
    assert math.isnan(aggregate._still_learning(frame([2.0, math.nan])))


def _checked(accs: list[float | None], later: list[float | None]) -> pd.DataFrame:
    """``_runs(accs)`` with a 3x budget check that ended at ``later`` (None: diverged)."""
    runs = _runs(accs)
    runs["budget_epochs"] = 30
    runs["budget_extended"] = [a is not None and a < 0.9 for a in accs]
    runs["budget_diverged"] = [b is None for b in later]
    runs["budget_test_acc"] = [math.nan if b is None else b for b in later]
    return runs


@pytest.mark.parametrize(
    ("accs", "later", "verdict", "outcome"),
    [
        ([0.2, 0.3], [0.95, 0.91], "fails", "slow"),  # mean 0.93 >= 0.9 at 30 epochs
        ([0.2, 0.3], [0.5, 0.6], "fails", "improving"),  # 0.55 (partial there)
        ([0.2, 0.3], [0.2, 0.35], "fails", "improving"),  # still fails, but 0.25 -> 0.275
        ([0.2, 0.3], [0.2, 0.305], "fails", "stuck"),  # +0.0025: within the 0.005 margin
        ([0.5, 0.6], [0.5, 0.6], "partial", "stuck"),
        ([0.5, 0.6], [0.7, 0.8], "partial", "improving"),  # partial both times, 0.55 -> 0.75
        ([0.2, 0.3], [None, None], "fails", "diverges"),
        ([0.95, 0.92], [0.95, 0.92], "trains", ""),  # only cells below target are checked
    ],
)
def test_budget_outcome_applies_the_verdict_rule_at_the_larger_budget(
    accs: list[float], later: list[float | None], verdict: str, outcome: str
) -> None:
    row = aggregate.summarize(_checked(accs, later), target_accuracy=0.9).iloc[0]
    assert row["verdict"] == verdict and row["budget_outcome"] == outcome
    expected = np.mean([0.1 if b is None else b for b in later])
    assert row["budget_test_acc_mean"] == pytest.approx(expected)
    assert row["budget_epochs"] == 30


def test_no_budget_check_gives_no_outcome() -> None:
    """budget_epochs equal to epochs: nothing was checked, so no cell is called stuck."""
    row = aggregate.summarize(_runs([0.2, 0.3]), target_accuracy=0.9).iloc[0]
    assert row["verdict"] == "fails"
    assert row["budget_outcome"] == "" and row["budget_verdict"] == ""


def test_the_generalization_gap_is_train_minus_test_accuracy(tmp_path: Path) -> None:
    """runs.csv's train_test_gap, from a real run's summary and layers."""
    from initlab.config import RunSpec
    from initlab.data import load_dataset
    from initlab.train import train

    spec = RunSpec("he_normal", "relu", 2, width=16, epochs=2)
    result = train(spec, load_dataset("digits"))
    layers = pd.DataFrame(result.layers)
    row = aggregate._run_row(spec, {}, result.summary, layers)
    s = result.summary
    assert row["train_test_gap"] == s["final_train_acc"] - s["final_test_acc"]


def test_theory_leaves_normalized_nets_without_predictions() -> None:
    """Mean-field theory of plain nets does not describe batch norm: theory.csv keeps the
    initialization's sigma_w^2 and leaves every prediction of a batch-normalized baseline empty,
    while the same plain net gets them."""
    from initlab import settings
    from initlab.records import LAYER_COLUMNS
    from initlab.study import load_study

    def theory(normalization: str) -> pd.DataFrame:
        config = {
            "initializers": ["he_normal"],
            "activations": ["relu"],
            "depths": [3],
            "seeds": [0],
            "training": {"normalization": normalization},
        }
        study = load_study(config, settings.schema())
        empty = pd.DataFrame(columns=["initializer", "activation", "depth", "seed", *LAYER_COLUMNS])
        return aggregate.theory_table(study, empty, 64, 10, 1.0)

    plain, normed = theory("none"), theory("batch_norm")
    assert np.isfinite(plain["q_pred"]).all() and np.isfinite(plain["chi1"]).all()
    assert normed["q_pred"].isna().all() and normed["chi1"].isna().all()
    assert normed["xi_c"].isna().all()
    assert (normed["sigma_w2"] == plain["sigma_w2"]).all()
    assert (normed["sigma_w2_hidden"] == plain["sigma_w2_hidden"]).all()
