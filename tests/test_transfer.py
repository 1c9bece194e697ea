"""Transfer learning as an initializer family (Yosinski et al. 2014) and class subsets.

The ``classes`` setting restricts every split to some labels, relabelled in sorted order; a
``transfer`` initializer copies the first ``layers`` hidden layers of a trained source network
(bit for bit) and draws the rest exactly as its ``base`` initializer; ``freeze`` keeps the copied
layers fixed while their gradients are still recorded. Bad configurations fail before any job
runs, in one line naming the key.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from initlab import cli, settings, transfer
from initlab.config import RunSpec
from initlab.data import Dataset, select_classes
from initlab.study import ConfigError, Study, load_study, validate_config
from initlab.train import _Ensemble, train

TINY = {"width": 8, "epochs": 2, "batch_size": 64, "probe_size": 32}


def _source(digits: Dataset, depth: int = 2, activation: str = "relu", seed: int = 0) -> Any:
    """A source run on digits 0-4 and its trained parameters."""
    spec = RunSpec("he_normal", activation, depth=depth, seed=seed, classes=[0, 1, 2, 3, 4], **TINY)
    return spec, train(spec, digits).params


def _transfer_spec(source: RunSpec, layers: int, freeze: bool, depth: int = 3) -> RunSpec:
    definition = {"family": "transfer", "source": "a", "layers": layers, "freeze": freeze}
    spec = source.to_dict()
    del spec["seed"]
    return RunSpec(
        "A_t",
        source.activation,
        depth=depth,
        seed=source.seed,
        classes=[5, 6, 7, 8, 9],
        initializer_def={**definition, "base": "he_normal"},
        source={"name": "a", "spec": spec},
        **TINY,
    )


def _initial(spec: RunSpec, digits: Dataset, source: Any = None) -> list[Any]:
    """The network a run starts from (after the copy, before any update)."""
    ds = select_classes(digits, spec.classes) if spec.classes else digits
    return _Ensemble([spec], ds, True, [source]).network(0)


# --- class subsets ---------------------------------------------------------------------------


def test_select_classes_keeps_counts_relabels_in_sorted_order(digits: Dataset) -> None:
    sub = select_classes(digits, [9, 5, 7])
    assert sub.n_classes == 3 and sub.n_features == digits.n_features
    for split in ("train", "val", "test"):
        y, y_sub = getattr(digits, f"y_{split}"), getattr(sub, f"y_{split}")
        for new, old in enumerate((5, 7, 9)):
            assert (y_sub == new).sum() == (y == old).sum()
        X, X_sub = getattr(digits, f"X_{split}"), getattr(sub, f"X_{split}")
        np.testing.assert_array_equal(X_sub, X[np.isin(y, (5, 7, 9))])  # order kept
    assert set(np.unique(sub.y_train)) == {0, 1, 2}


@pytest.mark.parametrize("classes", [[3], [3, 3], [3, 10], [-1, 2]])
def test_select_classes_rejects_bad_labels(digits: Dataset, classes: list[int]) -> None:
    with pytest.raises(ValueError, match=r"^classes: got"):
        select_classes(digits, classes)


def test_a_run_on_a_class_subset_has_k_classes(digits: Dataset) -> None:
    result = train(RunSpec("he_normal", "tanh", depth=1, classes=[5, 6, 7, 8, 9], **TINY), digits)
    assert result.summary["n_classes"] == 5
    assert result.summary["n_train"] == int(np.isin(digits.y_train, range(5, 10)).sum())
    assert result.params[-1].W.shape == (8, 5)
    assert result.summary["config"]["classes"] == [5, 6, 7, 8, 9]
    assert "classes" not in RunSpec("he_normal", "tanh", depth=1).to_dict()  # old records stay


# --- the transfer initializer ----------------------------------------------------------------


def test_transfer_copies_the_first_layers_and_draws_the_rest_like_base(digits: Dataset) -> None:
    source_spec, source = _source(digits, depth=2)
    base = _initial(RunSpec("he_normal", "relu", depth=3, classes=[5, 6, 7, 8, 9], **TINY), digits)
    for layers in (0, 1, 2):
        net = _initial(_transfer_spec(source_spec, layers, False), digits, source)
        for i, layer in enumerate(net):
            expected = source[i] if i < layers else base[i]
            assert layer.W.tobytes() == expected.W.tobytes(), (layers, i)
            assert layer.b.tobytes() == expected.b.tobytes(), (layers, i)
    assert not np.array_equal(source[0].W, base[0].W)  # the source was trained


def test_frozen_layers_stay_fixed_and_their_gradients_are_recorded(digits: Dataset) -> None:
    source_spec, source = _source(digits, depth=2)
    for freeze in (True, False):
        spec = _transfer_spec(source_spec, 2, freeze)
        start = _initial(spec, digits, source)
        result = train(spec, digits, source_params=source)
        for i, (before, after) in enumerate(zip(start, result.params, strict=True)):
            fixed = freeze and i < 2
            assert np.array_equal(before.W, after.W) == fixed, (freeze, i)
            assert np.array_equal(before.b, after.b) == fixed, (freeze, i)
        grads = result.layers["wgrad_norm"][result.layers["step"] == result.layers["step"].max()]
        assert np.all(np.isfinite(grads)) and np.all(grads > 0)
        if freeze:  # the copied layers' recorded update is exactly 0
            rows = (result.layers["layer"] <= 2) & np.isfinite(result.layers["update_ratio"])
            assert rows.any() and np.all(result.layers["update_ratio"][rows] == 0)
    frozen_rows = (result.layers["layer"] <= 2) & np.isfinite(result.layers["update_ratio"])
    assert np.all(result.layers["update_ratio"][frozen_rows] > 0)  # fine-tuned: updated


def test_a_transfer_run_records_its_source_and_keeps_the_usual_id(digits: Dataset) -> None:
    source_spec, source = _source(digits, depth=2)
    spec = _transfer_spec(source_spec, 1, True)
    assert spec.run_id == "digits__A_t__relu__d3__s0"
    summary = train(spec, digits, source_params=source).summary
    assert summary["config"]["source"]["name"] == "a"
    assert RunSpec.from_dict(summary["config"]["source"]["spec"] | {"seed": 0}) == source_spec
    assert spec.source_spec() == source_spec
    with pytest.raises(ValueError, match="source"):
        train(spec, digits)  # the source's parameters are required


def test_params_round_trip_and_initlab_run_trains_a_transfer(
    digits: Dataset, tmp_path: Path
) -> None:
    source_spec, source = _source(digits, depth=2, seed=1)
    transfer.save_params(source, tmp_path / "src" / "s1" / transfer.PARAMS_FILE)
    loaded = transfer.load_params(tmp_path / "src" / "s1" / transfer.PARAMS_FILE)
    assert all(a.W.tobytes() == b.W.tobytes() for a, b in zip(source, loaded, strict=True))
    spec = _transfer_spec(source_spec, 2, True).to_dict()
    del spec["seed"]
    args = ["run", "--spec-json", json.dumps(spec), "--seeds", "1", "--out", str(tmp_path / "t")]
    assert cli.main([*args, "--source-params", str(tmp_path / "src")]) == 0
    summary = json.loads((tmp_path / "t" / "s1" / "summary.json").read_text())
    assert summary["config"]["initializer"] == "A_t" and summary["n_classes"] == 5
    with pytest.raises(SystemExit) as exc:
        cli.main(args)
    assert exc.value.code == 2


def test_copy_layers_rejects_a_source_of_another_shape(digits: Dataset) -> None:
    _, source = _source(digits, depth=2)
    wide = _initial(RunSpec("he_normal", "relu", depth=3, **{**TINY, "width": 12}), digits)
    with pytest.raises(ValueError, match="does not fit the target shape"):
        transfer.copy_layers(wide, source, 1)


# --- validation before any job runs ----------------------------------------------------------

STUDY: dict[str, Any] = {
    "initializers": ["he_normal", "A2"],
    "activations": ["relu"],
    "depths": [3],
    "seeds": [0],
    "width": 16,
    "classes": [5, 6, 7, 8, 9],
    "sources": {"a": {"classes": [0, 1, 2, 3, 4], "depth": 2, "initializer": "he_normal"}},
    "custom_initializers": {
        "A2": {
            "family": "transfer",
            "source": "a",
            "layers": 2,
            "freeze": True,
            "base": "he_normal",
        }
    },
}


def _with(**changes: Any) -> dict[str, Any]:
    """STUDY with ``changes`` applied: keys ``a__b`` reach into nested mappings."""
    config = copy.deepcopy(STUDY)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = config
        for key in parents:
            node = node[key]
        node[last] = value
    return config


def test_a_transfer_study_is_valid_and_pairs_seeds() -> None:
    study = load_study(_with(seeds=[0, 1]), settings.schema())
    assert study.source_uses() == [("a", "relu")]
    spec = study.base_spec("A2", "relu", 3, 1)
    assert spec.source_spec() == study.source_spec("a", "relu", 1)
    assert spec.source_spec().classes == (0, 1, 2, 3, 4) and spec.classes == (5, 6, 7, 8, 9)
    assert Study(validate_config(STUDY, settings.schema())).source_uses()


@pytest.mark.parametrize(
    ("changes", "parts"),
    [
        ({"custom_initializers__A2__source": "b"}, ["custom_initializers.A2.source", "'b'"]),
        ({"custom_initializers__A2__layers": 0}, ["custom_initializers.A2.layers", "got 0"]),
        ({"custom_initializers__A2__layers": 3}, ["custom_initializers.A2.layers", "1 to 2"]),
        ({"custom_initializers__A2__base": "he_norml"}, ["custom_initializers.A2.base"]),
        ({"depths": [1, 3]}, ["config key depths", "[1]", "layers = 2"]),
        ({"width": [16, 32]}, ["config key width", "does not fit the target shape"]),
        ({"sources__a__width": 32}, ["sources.a.width", "does not fit the target shape"]),
        ({"sources__a__dataset": "moons"}, ["sources.a.dataset", "does not fit"]),
        ({"sources__a__classes": [0, 10]}, ["sources.a.classes", "[10]", "0 to 9"]),
        ({"sources__a__classes": [1, 1]}, ["sources.a.classes", "without duplicates"]),
        ({"sources__a__initializer": "A2"}, ["sources.a.initializer", "not a transfer"]),
        ({"classes": [5, 12]}, ["config key classes", "[12]", "0 to 9"]),
        ({"classes": [5]}, ["config key classes", "at least 2"]),
        (
            {"training": {"normalization": ["none", "layer_norm"]}},
            ["training.normalization", "one value"],
        ),
        ({"training": {"normalization": "batch_norm"}}, ["training.normalization", "running"]),
        (
            {"sources__a__normalization": "layer_norm"},
            ["sources.a.normalization", "the study's normalization"],
        ),
        ({"dataset": ["digits", "moons"], "classes": None}, ["config key sources", "dataset axis"]),
    ],
)
def test_bad_transfer_configs_fail_in_one_line(changes: dict[str, Any], parts: list[str]) -> None:
    with pytest.raises(ConfigError) as exc:
        validate_config(_with(**changes), settings.schema())
    message = str(exc.value)
    assert "\n" not in message and message.startswith("config"), message
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


def test_a_source_trains_exactly_its_epochs_and_is_no_recommendation() -> None:
    """A study with a budget check still trains its sources for their epochs (the network it
    copies is the one its record describes); a transfer initializer is neither identical to
    another initializer nor a recommended random init."""
    from initlab.init_table import initializer_table

    study = load_study(_with(training={"budget_check": 3}), settings.schema())
    assert study.base_spec("he_normal", "relu", 3, 0).budget_check == 3
    assert study.source_spec("a", "relu", 0).budget_check == 1
    twin = _with(initializers=["he_normal", "A2", "B2"])
    twin["custom_initializers"]["B2"] = dict(twin["custom_initializers"]["A2"])
    table = initializer_table(load_study(twin, settings.schema()), 64, 5)
    rows = table.set_index("initializer")
    assert rows.loc["A2", "same_hidden_weights_as"] == ""  # not B2, not he_normal
    assert rows.loc["B2", "same_hidden_weights_as"] == ""
