"""Tests of initlab.train on the digits dataset (small, fast runs)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from initlab.config import RunSpec
from initlab.data import Dataset
from initlab.stats import STAT_COLUMNS
from initlab.train import CHECKPOINT_COLUMNS, LAYER_COLUMNS, RunResult, train


def _spec(**kwargs: Any) -> RunSpec:
    base: dict[str, Any] = {
        "initializer": "he_normal",
        "activation": "relu",
        "depth": 2,
        "width": 32,
        "epochs": 2,
        "learning_rate": 0.05,
    }
    return RunSpec(**{**base, **kwargs})


def _same_column(a: np.ndarray, b: np.ndarray) -> bool:
    if a.dtype.kind == "f":
        return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
    return a.dtype == b.dtype and np.array_equal(a, b)


def _same_tables(a: RunResult, b: RunResult) -> bool:
    return list(a.layers) == list(b.layers) and all(
        _same_column(a.layers[c], b.layers[c]) for c in a.layers
    )


def _dump(summary: dict[str, Any]) -> str:
    return json.dumps(summary, sort_keys=True, default=repr)


def test_loss_falls_and_digits_are_learned(digits: Dataset) -> None:
    r = train(_spec(width=64, epochs=3), digits)
    s = r.summary
    assert s["diverged"] is False and s["diverged_step"] is None
    assert s["final_train_loss"] < s["init_train_loss"]
    assert s["final_train_loss"] < 0.5 * s["init_train_loss"]
    assert s["final_train_acc"] > 0.95
    assert s["final_test_acc"] > 0.9
    assert s["best_val_acc"] > 0.9
    # the target (0.9) is reached at some checkpoint, which is a step count
    assert isinstance(s["steps_to_target"], int)
    assert s["steps_to_target"] in set(r.layers["step"].tolist())
    # train loss recorded at every checkpoint falls from the first to the last
    first = r.layers["train_loss"][r.layers["step"] == 0][0]
    assert r.layers["train_loss"][-1] < first == s["init_train_loss"]


def test_exploding_init_diverges_without_exception(digits: Dataset) -> None:
    spec = _spec(
        initializer="big",
        initializer_def={"family": "normal", "std": 10.0},
        depth=20,
        width=16,
        learning_rate=0.05,
    )
    r = train(spec, digits)  # pytest turns any floating-point warning into an error
    s = r.summary
    assert s["diverged"] is True
    assert isinstance(s["diverged_step"], int) and s["diverged_step"] >= 0
    for key in (
        "final_train_loss",
        "final_train_acc",
        "final_val_loss",
        "final_val_acc",
        "final_test_loss",
        "final_test_acc",
    ):
        assert math.isnan(s[key]), key
    assert s["steps_to_target"] is None
    # step 0 was measured before the blow-up
    assert s["n_checkpoints"] >= 1
    assert np.all(r.layers["step"] <= s["diverged_step"])
    assert set(r.layers) == set(LAYER_COLUMNS)
    assert r.timing["steps"] == s["diverged_step"]


def test_huge_learning_rate_does_not_raise(digits: Dataset) -> None:
    r = train(_spec(depth=3, width=16, learning_rate=50.0, optimizer="sgd"), digits)
    s = r.summary
    assert isinstance(s["diverged"], bool)
    if s["diverged"]:
        assert math.isnan(s["final_test_acc"])
    else:
        assert s["final_test_acc"] < 0.5  # a step this large cannot have learned the digits


def test_same_spec_same_result_different_seed_differs(digits: Dataset) -> None:
    spec = _spec(width=16, epochs=1)
    a, b = train(spec, digits), train(spec, digits)
    assert _same_tables(a, b)
    assert _dump(a.summary) == _dump(b.summary)
    c = train(_spec(width=16, epochs=1, seed=1), digits)
    assert not _same_tables(a, c)
    assert _dump(a.summary) != _dump(c.summary)
    assert c.summary["config"]["seed"] == 1 and a.summary["config"]["seed"] == 0


def test_layer_table_layout_and_step0_statistics(digits: Dataset) -> None:
    depth, epochs = 3, 2
    r = train(_spec(depth=depth, width=16, epochs=epochs, checkpoint_every=1), digits)
    t, s = r.layers, r.summary
    assert tuple(t) == LAYER_COLUMNS
    assert set(STAT_COLUMNS) <= set(t) and set(CHECKPOINT_COLUMNS) <= set(t)
    n_rows = s["n_checkpoints"] * (depth + 1)
    assert s["n_checkpoints"] == epochs + 1  # steps 0, 1 epoch, and the final one
    assert s["n_layer_rows"] == n_rows
    for c in LAYER_COLUMNS:
        assert t[c].shape == (n_rows,), c
    assert t["step"].dtype == np.int64 and t["layer"].dtype == np.int64
    np.testing.assert_array_equal(t["layer"], np.tile(np.arange(1, depth + 2), epochs + 1))
    np.testing.assert_array_equal(
        t["step"], np.repeat([0, s["steps_per_epoch"], 2 * s["steps_per_epoch"]], depth + 1)
    )
    np.testing.assert_array_equal(t["fan_in"][: depth + 1], [64, 16, 16, 16])
    np.testing.assert_array_equal(t["fan_out"][: depth + 1], [16, 16, 16, 10])

    # gradient statistics are taken after backward: every layer has non-zero records at step 0
    at0 = t["step"] == 0
    assert at0.sum() == depth + 1
    for c in ("delta_rms", "wgrad_norm", "bgrad_norm", "w_norm", "z_q", "a_std"):
        assert np.all(np.isfinite(t[c][at0])) and np.all(t[c][at0] > 0), c
    assert s["delta_rms_first_init"] == t["delta_rms"][0] > 0
    assert s["wgrad_norm_last_init"] == t["wgrad_norm"][depth] > 0
    # hidden layers have saturation numbers, the output layer NaN
    hidden = t["layer"] <= depth
    assert np.all(np.isfinite(t["saturated_frac"][hidden]))
    assert np.all(np.isnan(t["saturated_frac"][~hidden]))
    assert np.all(np.isnan(t["dead_frac"][~hidden]))
    # update ratios: measured at every checkpoint but the last (after the last update)
    last = t["step"] == t["step"].max()
    assert np.all(t["update_ratio"][~last] > 0)
    assert np.all(np.isnan(t["update_ratio"][last]))


def test_vanishing_gradients_are_measured(digits: Dataset) -> None:
    deep = train(
        _spec(
            initializer="standard_uniform",
            activation="sigmoid",
            depth=10,
            width=32,
            epochs=1,
            target_accuracy=0.999,
        ),
        digits,
    ).summary
    assert deep["log10_delta_ratio_init"] < -3
    assert deep["log10_wgrad_ratio_init"] < -3
    assert deep["steps_to_target"] is None
    assert deep["best_val_acc"] < 0.999
    assert deep["diverged"] is False


@pytest.mark.parametrize("depth", [1, 2])
def test_he_relu_is_not_flagged_vanishing(digits: Dataset, depth: int) -> None:
    s = train(_spec(depth=depth, width=64, epochs=1), digits).summary
    assert abs(s["log10_delta_ratio_init"]) < 1
    assert np.isfinite(s["log10_wgrad_ratio_init"])


def test_float64_run(digits: Dataset) -> None:
    r = train(_spec(width=16, epochs=1, dtype="float64"), digits)
    s = r.summary
    assert s["config"]["dtype"] == "float64"
    assert s["diverged"] is False
    assert np.isfinite(s["final_train_loss"]) and s["final_train_loss"] < s["init_train_loss"]
    for c in STAT_COLUMNS:
        assert r.layers[c].dtype == np.float64
    # float32 and float64 runs start from the same draws: the initial loss agrees closely
    r32 = train(_spec(width=16, epochs=1), digits)
    assert r32.summary["init_train_loss"] == pytest.approx(s["init_train_loss"], rel=1e-4)


def test_summary_records_run_facts(digits: Dataset) -> None:
    r = train(_spec(width=8, epochs=1), digits)
    s = r.summary
    assert s["config"] == _spec(width=8, epochs=1).to_dict()
    assert {"initlab", "numpy", "scipy", "python"} <= set(s["versions"])
    assert s["n_train"] == len(digits.X_train) and s["n_classes"] == 10
    assert s["steps_per_epoch"] == -(-len(digits.X_train) // 64)
    assert r.timing["steps"] == s["steps_per_epoch"]
    assert r.timing["wall_seconds"] > 0


def test_budget_check_is_the_longer_run(digits: Dataset) -> None:
    """A run below target trained on by the budget check ends where a run with
    ``budget_check x epochs`` epochs ends: same parameters, same mini-batch stream, so the same
    test accuracy and training loss bit for bit (the oracle is the longer run itself)."""
    slow = {"initializer": "glorot_normal", "activation": "sigmoid", "depth": 3}
    checked = train(_spec(**slow, epochs=2, budget_check=3, target_accuracy=0.99), digits)
    longer = train(_spec(**slow, epochs=6, target_accuracy=0.99), digits)
    s = checked.summary
    assert s["final_test_acc"] < 0.99 and s["budget_extended"]
    assert s["budget_epochs"] == 6 and not s["budget_diverged"]
    assert s["budget_test_acc"] == longer.summary["final_test_acc"]
    assert s["budget_train_loss"] == longer.summary["final_train_loss"]
    # the study's own records are those of the 2-epoch run
    short = train(_spec(**slow, epochs=2, target_accuracy=0.99), digits)
    assert _same_tables(checked, short)
    assert checked.timing["steps"] == 3 * short.timing["steps"]


def test_budget_check_leaves_runs_at_target_alone(digits: Dataset) -> None:
    """A run at the target, or a study without budget check, repeats its final numbers."""
    for spec in (_spec(budget_check=3, target_accuracy=0.5), _spec(target_accuracy=0.99)):
        s = train(spec, digits).summary
        assert not s["budget_extended"] and s["budget_epochs"] == spec.budget_check * 2
        assert s["budget_test_acc"] == s["final_test_acc"]
        assert s["budget_train_loss"] == s["final_train_loss"]


def test_budget_check_records_divergence(digits: Dataset) -> None:
    """A run diverged at the study's budget stays diverged in the budget check (NaN accuracy)."""
    big = {"initializer": "big", "initializer_def": {"family": "normal", "std": 10.0}}
    s = train(_spec(**big, depth=20, width=16, budget_check=2), digits)
    assert s.summary["diverged"] and s.summary["budget_diverged"]
    assert math.isnan(s.summary["budget_test_acc"])
    assert not s.summary["budget_extended"]
