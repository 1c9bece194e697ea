"""Ensemble training: networks of one shape trained side by side give, each, the records they
get trained alone, bit for bit.

The oracle is :func:`initlab.train.train` of each spec on its own (an ensemble of one, whose
numbers the recorded-reference tests in tests/test_train.py pin to earlier versions). Every
per-layer column, every summary value, the steps and the final parameters are compared with
exact equality: batched ``matmul`` makes one BLAS call per network with that network's shapes and
strides, reductions run over each network's block in the same order, and elementwise operations
do not see the other networks (the design is stated in :mod:`initlab.model`, "Ensembles"). A
difference of one ulp anywhere fails the test.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from initlab.chunks import ChunkPlan, read_chunk, train_chunk
from initlab.config import RunSpec
from initlab.data import Dataset, load_dataset
from initlab.model import Layer
from initlab.optim import make_optimizer
from initlab.train import (
    RunResult,
    ensemble_key,
    ensemble_size,
    ensembles,
    train,
    train_ensemble,
)

INITS = ("he_normal", "glorot_normal", "zeros", "random_normal")


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_dataset("digits")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def assert_same_run(alone: RunResult, together: RunResult) -> None:
    """Identical records: every summary value, layer column, step count and parameter."""
    run_id = alone.summary["run_id"]
    assert alone.summary.keys() == together.summary.keys()
    for key, value in alone.summary.items():
        assert _same(value, together.summary[key]), f"{run_id}: summary {key}"
    for column, values in alone.layers.items():
        np.testing.assert_array_equal(values, together.layers[column], err_msg=f"{run_id} {column}")
    assert alone.timing["steps"] == together.timing["steps"], run_id
    assert len(alone.params) == len(together.params)
    for p, q in zip(alone.params, together.params, strict=True):
        for x, y in ((p.W, q.W), (p.b, q.b), (p.gamma, q.gamma), (p.beta, q.beta)):
            if x is None:
                assert y is None
            else:
                np.testing.assert_array_equal(x, y, err_msg=f"{run_id} parameters")


def _specs(activation: str, depth: int, **settings: Any) -> list[RunSpec]:
    base = {"epochs": 2, "width": 16, **settings}
    return [RunSpec(i, activation, depth, seed=s, **base) for i in INITS for s in (0, 1)]


CASES = {
    "default settings": ("tanh", 4, {"width": 64}),
    "deep relu with the budget check": ("relu", 12, {"budget_check": 3}),
    "batch norm": ("selu", 3, {"normalization": "batch_norm"}),
    "layer norm and dropout": ("tanh", 3, {"normalization": "layer_norm", "dropout": 0.2}),
    "alpha-dropout": ("selu", 3, {"dropout": 0.1, "dropout_kind": "alpha_dropout"}),
    "adam with L2": ("relu", 3, {"optimizer": "adam", "weight_decay": 0.01}),
    "adamw, quadratic cost": (
        "gelu",
        3,
        {"optimizer": "adamw", "weight_decay": 0.01, "loss": "mse"},
    ),
    "training subsets": ("tanh", 3, {"train_fraction": 0.3, "batch_size": 32, "budget_check": 2}),
    "rmsprop": ("elu", 3, {"optimizer": "rmsprop", "learning_rate": 0.003}),
    "nesterov in float64": ("tanh", 3, {"optimizer": "nesterov", "dtype": "float64"}),
    "checkpoint every second epoch": ("sigmoid", 2, {"epochs": 4, "checkpoint_every": 2}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_network_trained_in_an_ensemble_equals_it_trained_alone(
    case: str, digits: Dataset
) -> None:
    activation, depth, settings = CASES[case]
    specs = _specs(activation, depth, **settings)
    together = train_ensemble(specs, digits)
    for spec, result in zip(specs, together, strict=True):
        assert_same_run(train(spec, digits), result)


def test_diverging_networks_leave_the_ensemble_and_the_others_go_on(digits: Dataset) -> None:
    """Learning rate 2 on 6 ReLU layers: some networks diverge at different steps (during the
    epochs, or while the budget check trains on), others do not; each records exactly what it
    records alone, and the survivors are unaffected by the others leaving."""
    specs = _specs("relu", 6, learning_rate=2.0, budget_check=3, epochs=3)
    together = train_ensemble(specs, digits)
    steps = [r.summary["diverged_step"] for r in together]
    assert len({s for s in steps if s is not None}) >= 2, steps  # several, at different steps
    assert any(s is None for s in steps), steps
    for spec, result in zip(specs, together, strict=True):
        assert_same_run(train(spec, digits), result)


def test_a_network_found_diverged_at_the_end_is_a_result(digits: Dataset) -> None:
    """SELU at learning rate 30: the loss of the last mini-batch is still finite but the
    parameters or the final training loss are not, so the run diverged at its last step; alone
    and beside networks that did not diverge, it records exactly that (no crash)."""
    diverging = RunSpec("random_normal", "selu", 4, width=8, epochs=1, seed=0, learning_rate=30.0)
    alone = train(diverging, digits)
    assert alone.summary["diverged"] and alone.summary["diverged_step"] == alone.timing["steps"]
    assert alone.summary["diverged_step"] == alone.summary["steps_per_epoch"]
    calm = RunSpec("zeros", "selu", 4, width=8, epochs=1, seed=0, learning_rate=30.0)
    specs = [diverging, calm]
    for spec, result in zip(specs, train_ensemble(specs, digits), strict=True):
        assert_same_run(train(spec, digits), result)


def test_divergence_during_the_budget_check_is_per_network(digits: Dataset) -> None:
    """Linear nets at learning rate 0.1: one diverges during its epoch, some end the epoch below
    the target and blow up while the budget check trains on, the others train on to the end;
    each records what it records alone."""
    specs = _specs("linear", 4, learning_rate=0.1, budget_check=5, epochs=1, width=8)
    together = train_ensemble(specs, digits)
    outcomes = [
        (r.summary["diverged"], r.summary["budget_extended"], r.summary["budget_diverged"])
        for r in together
    ]
    assert (True, False, True) in outcomes, outcomes  # diverged in the epoch
    assert (False, True, True) in outcomes, outcomes  # diverged in the budget check
    assert (False, True, False) in outcomes, outcomes  # trained on to the end
    for spec, result in zip(specs, together, strict=True):
        assert_same_run(train(spec, digits), result)


def test_transfer_runs_train_in_an_ensemble_with_their_sources(digits: Dataset) -> None:
    """Fine-tuned and frozen transfer runs: each network copies its own source's layers; runs
    that freeze different layers never share an ensemble."""
    source_spec = RunSpec("he_normal", "relu", 3, width=16, epochs=1, classes=(0, 1, 2, 3, 4))
    source = {
        seed: train(RunSpec(**{**_fields(source_spec), "seed": seed}), digits).params
        for seed in (0, 1)
    }
    src = {"name": "a", "spec": {k: v for k, v in source_spec.to_dict().items() if k != "seed"}}

    def spec(name: str, layers: int, freeze: bool, seed: int) -> RunSpec:
        definition = {
            "family": "transfer",
            "source": "a",
            "layers": layers,
            "freeze": freeze,
            "base": "he_normal",
        }
        return RunSpec(
            name,
            "relu",
            3,
            seed=seed,
            width=16,
            epochs=1,
            classes=(5, 6, 7, 8, 9),
            initializer_def=definition,
            source=src,
        )

    specs = [spec("ft", 1, False, s) for s in (0, 1)] + [spec("fz", 2, True, s) for s in (0, 1)]
    groups = ensembles(specs)
    assert [[s.initializer for s in g] for g in groups] == [["ft", "ft"], ["fz", "fz"]]
    for group in groups:
        sources = [source[s.seed] for s in group]
        together = train_ensemble(group, digits, source_params=sources)
        for s, result, src_params in zip(group, together, sources, strict=True):
            assert_same_run(train(s, digits, source_params=src_params), result)


def _fields(spec: RunSpec) -> dict[str, Any]:
    d = spec.to_dict()
    d.pop("axes")
    d["classes"] = tuple(d["classes"])
    return d


def test_ensembles_group_by_shape_and_respect_the_memory_bound() -> None:
    """Runs differing in initializer and seed share a key; any other setting separates them;
    groups are split into nearly equal ensembles no larger than ensemble_size."""
    a = RunSpec("he_normal", "relu", 30, seed=0)
    assert ensemble_key(a) == ensemble_key(RunSpec("zeros", "relu", 30, seed=7))
    assert ensemble_key(a) != ensemble_key(RunSpec("he_normal", "relu", 30, width=32))
    assert ensemble_key(a) != ensemble_key(RunSpec("he_normal", "tanh", 30))
    size = ensemble_size(a)
    assert 1 <= size < 40
    specs = [RunSpec(i, "relu", 30, seed=s) for i in INITS for s in range(size)]
    groups = ensembles(specs)
    assert [s for g in groups for s in g] == specs
    assert all(len(g) <= size for g in groups)
    assert max(len(g) for g in groups) - min(len(g) for g in groups) <= 1
    assert ensemble_size(RunSpec("he_normal", "relu", 30, width=4096)) == 1


def test_an_ensemble_refuses_runs_of_different_shapes(digits: Dataset) -> None:
    with pytest.raises(ValueError, match="share everything but initializer and seed"):
        train_ensemble([RunSpec("he_normal", "relu", 2), RunSpec("he_normal", "relu", 3)], digits)


def test_optimizer_state_follows_the_networks_that_stay() -> None:
    """Optimizer.select cuts every state buffer along the network axis: momentum of the kept
    networks is theirs."""
    params = [Layer(np.ones((3, 2, 2)), np.ones((3, 2)))]
    opt = make_optimizer("adam", params, lr=0.1)
    opt._m[0][0][:] = np.arange(3)[:, None, None]  # type: ignore[attr-defined]
    keep = np.array([True, False, True])
    opt.select(keep)
    assert opt._m[0][0].shape == (2, 2, 2)  # type: ignore[attr-defined]
    assert opt._m[0][0][:, 0, 0].tolist() == [0.0, 2.0]  # type: ignore[attr-defined]
    assert opt._tmp[0][1].shape == (2, 2)


def test_a_chunk_trains_its_networks_in_ensembles_with_their_own_records(
    tmp_path: Any, digits: Dataset
) -> None:
    """train_chunk's files hold, per run, what train() records alone (timing aside)."""
    specs = _specs("tanh", 3)
    definition = {
        "specs": [{k: v for k, v in s.to_dict().items() if k != "seed"} for s in specs[::2]],
        "seeds": [0, 1],
        "sources": {},
    }
    plan = ChunkPlan(json.loads(json.dumps(definition)))
    assert [s.run_id for s in plan.specs] == [s.run_id for s in specs]
    lines: list[str] = []
    train_chunk(plan, digits, tmp_path, log=lines.append)
    done = [line for line in lines if "test accuracy" in line or "diverged" in line]
    assert len(done) == len(specs) and lines[-1].startswith(f"[{len(specs)}/{len(specs)}]")
    assert lines[0].startswith(f"[0/{len(specs)}] {len(specs)} networks side by side")
    runs, layers = read_chunk(tmp_path)
    for spec, summary in zip(specs, runs["summary"], strict=True):
        alone = train(spec, digits)
        assert summary == json.loads(json.dumps(_jsonable(alone.summary)))
        rows = layers[layers["run_id"] == spec.run_id]
        for column, values in alone.layers.items():
            np.testing.assert_array_equal(rows[column].to_numpy(), values, err_msg=column)


def _jsonable(summary: dict[str, Any]) -> dict[str, Any]:
    from initlab import io

    return json.loads(io.json_text(summary))
