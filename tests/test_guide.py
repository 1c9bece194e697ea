"""The initializer table (aggregation) and the guide pages of the report: the initializer page
and "How to read this report"."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from initlab.init_table import COLUMNS, draw_family, initializer_table
from initlab.initializers import TRUNCATED_STD
from initlab.layout import VERDICT_RULE
from initlab.model import init_mlp
from initlab.records import SATURATION_THRESHOLD
from initlab.report.guide_pages import (
    coincidence_notes,
    glossary,
    plot_initializer_page,
    plot_reading_guide,
)
from initlab.report.style import rc_context
from initlab.settings import schema_path
from initlab.study import Study, load_schema, validate_config

SCHEMA = load_schema(schema_path())
WIDTH, N_FEATURES, N_CLASSES = 64, 64, 10
CUSTOM = {
    "sw2_15": {
        "family": "variance_scaling",
        "scale": 1.5,
        "mode": "fan_in",
        "distribution": "untruncated_normal",
    },
    "minus_ones": {"family": "constant", "value": -1.0},
    "tn_lecun": {"family": "truncated_normal", "std": 1 / math.sqrt(WIDTH) / TRUNCATED_STD},
}
NAMES = [
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "standard_uniform",
    "lecun_normal",
    "lecun_uniform",
    "orthogonal",
    "zeros",
    "ones",
    *CUSTOM,
]


def make_study(names: list[str] = NAMES, **overrides: Any) -> Study:
    config = {
        "initializers": names,
        "activations": ["tanh"],
        "depths": [3],
        "seeds": [0, 1],
        "width": WIDTH,
        "custom_initializers": {k: v for k, v in CUSTOM.items() if k in names},
        **overrides,
    }
    return Study(validate_config(config, SCHEMA))


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return initializer_table(make_study(), N_FEATURES, N_CLASSES).set_index("initializer")


def peers(table: pd.DataFrame, name: str, column: str) -> set[str]:
    value = table.loc[name, column]
    return set(value.split(";")) if isinstance(value, str) and value else set()


# --- the table -------------------------------------------------------------------------------


def test_one_row_per_initializer_in_config_order() -> None:
    df = initializer_table(make_study(), N_FEATURES, N_CLASSES)
    assert tuple(df.columns) == COLUMNS
    assert list(df["initializer"]) == NAMES


@pytest.mark.parametrize(
    ("name", "first", "hidden", "output"),
    [
        ("glorot_uniform", 1.0, 1.0, 64 * 2 / 74),
        ("glorot_normal", 1.0, 1.0, 64 * 2 / 74),
        ("he_normal", 2.0, 2.0, 2.0),
        ("he_uniform", 2.0, 2.0, 2.0),
        ("standard_uniform", 1 / 3, 1 / 3, 1 / 3),
        ("lecun_normal", 1.0, 1.0, 1.0),
        ("orthogonal", 1.0, 1.0, 1.0),  # gain^2 / max(fans) * fan_in: 64/64, 64/64, 64/64
        ("zeros", 0.0, 0.0, 0.0),
        ("ones", 64.0, 64.0, 64.0),  # fan_in * E[W^2] = 64 * 1
        ("sw2_15", 1.5, 1.5, 1.5),
        ("tn_lecun", 64 * (1 / 64), 1.0, 1.0),
    ],
)
def test_sigma_w2_by_hand(
    table: pd.DataFrame, name: str, first: float, hidden: float, output: float
) -> None:
    row = table.loc[name]
    assert row["sigma_w2_first"] == pytest.approx(first, rel=1e-12)
    assert row["sigma_w2_hidden"] == pytest.approx(hidden, rel=1e-12)
    assert row["sigma_w2_output"] == pytest.approx(output, rel=1e-12)


def test_sigma_w2_first_layer_uses_the_inputs() -> None:
    df = initializer_table(make_study(["glorot_uniform", "he_normal"]), 30, 10)
    df = df.set_index("initializer")
    assert df.loc["glorot_uniform", "sigma_w2_first"] == pytest.approx(30 * 2 / 94)
    assert df.loc["glorot_uniform", "sigma_w2_hidden"] == pytest.approx(1.0)
    assert df.loc["he_normal", "sigma_w2_first"] == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("name", "formula", "variance"),
    [
        (
            "standard_uniform",
            "U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (Glorot & Bengio's standard init; "
            "PyTorch nn.Linear)",
            "1/(3 fan_in)",
        ),
        (
            "he_normal",
            "N(0, 2/fan_in / 0.8796^2) truncated at 2 std (He et al. 2015; Keras he_normal)",
            "2/fan_in",
        ),
        (
            "glorot_uniform",
            "U(-sqrt(6/(fan_in+fan_out)), sqrt(6/(fan_in+fan_out))) "
            "(Glorot & Bengio 2010; Keras glorot_uniform)",
            "2/(fan_in+fan_out)",
        ),
        ("orthogonal", "random orthogonal (Haar) (Saxe et al. 2014)", "1/max(fan_in, fan_out)"),
        ("ones", "every weight = 1 (symmetry never broken)", "0 (mean 1)"),
        ("sw2_15", "N(0, 1.5/fan_in) (custom)", "1.5/fan_in"),
    ],
)
def test_formulas(table: pd.DataFrame, name: str, formula: str, variance: str) -> None:
    assert table.loc[name, "formula"] == formula
    assert table.loc[name, "variance"] == variance


def _network(study: Study, name: str, n_features: int) -> list[np.ndarray]:
    """The weights a run of ``name`` starts from, drawn as training draws them (seed 1)."""
    spec = study.base_spec(name, "tanh", 3, 1)
    sizes = [n_features, WIDTH, WIDTH, WIDTH, N_CLASSES]
    layers = init_mlp(
        spec.rngs()[0], sizes, spec.resolve_initializer(), dtype=np.float32, bias_std=0.5
    )
    return [layer.W for layer in layers]


@pytest.mark.parametrize("n_features", [64, 30])
def test_identical_hidden_weights_agree_with_drawing_the_networks(n_features: int) -> None:
    """Independent check: build every pair of networks as training does (another seed than
    the table's, with biases drawn in between) and compare their hidden weights."""
    study = make_study()
    df = initializer_table(study, n_features, N_CLASSES).set_index("initializer")
    nets = {name: _network(study, name, n_features) for name in NAMES}
    for a, b in itertools.permutations(NAMES, 2):
        identical = all(
            np.array_equal(x, y) for x, y in zip(nets[a][1:-1], nets[b][1:-1], strict=True)
        )
        assert identical == (b in peers(df, a, "same_hidden_weights_as")), (a, b)
    assert peers(df, "glorot_normal", "same_hidden_weights_as") == {"lecun_normal", "tn_lecun"}
    assert peers(df, "glorot_uniform", "same_hidden_weights_as") == {"lecun_uniform"}
    # he_normal scales lecun_normal's draws by sqrt(2): the same stream, another network
    he, lecun = nets["he_normal"], nets["lecun_normal"]
    for x, y in zip(he, lecun, strict=True):
        np.testing.assert_allclose(x, math.sqrt(2) * y, rtol=1e-6)
    assert not peers(df, "he_normal", "same_hidden_weights_as")
    assert not peers(df, "he_normal", "same_hidden_variance_as")


def test_glorot_and_lecun_normal_differ_only_in_the_output_scale() -> None:
    study = make_study()
    glorot, lecun = (_network(study, n, N_FEATURES) for n in ("glorot_normal", "lecun_normal"))
    assert all(np.array_equal(x, y) for x, y in zip(glorot[:-1], lecun[:-1], strict=True))
    ratio = math.sqrt((2 / 74) / (1 / 64))
    np.testing.assert_allclose(glorot[-1], ratio * lecun[-1], rtol=1e-6)


def test_same_variance_without_identical_draws(table: pd.DataFrame) -> None:
    """ones and a constant -1 coincide (same family, E[W^2] = 1) but draw other weights."""
    assert peers(table, "ones", "same_hidden_variance_as") == {"minus_ones"}
    assert peers(table, "minus_ones", "same_hidden_variance_as") == {"ones"}
    assert not peers(table, "ones", "same_hidden_weights_as")


def test_other_families_never_coincide(table: pd.DataFrame) -> None:
    """Equal variance is not enough: uniform vs normal, truncated vs untruncated normal."""
    assert "he_normal" not in peers(table, "he_uniform", "same_hidden_variance_as")
    assert "lecun_normal" not in peers(table, "glorot_uniform", "same_hidden_variance_as")
    assert "orthogonal" not in peers(table, "lecun_normal", "same_hidden_variance_as")
    study = make_study(
        ["lecun_normal", "plain"],
        custom_initializers={
            "plain": {
                "family": "variance_scaling",
                "scale": 1.0,
                "distribution": "untruncated_normal",
            }
        },
    )
    df = initializer_table(study, N_FEATURES, N_CLASSES)
    assert (df["same_hidden_weights_as"] == "").all()
    assert (df["same_hidden_variance_as"] == "").all()
    spec = study.base_spec("plain", "tanh", 3, 0)
    assert draw_family(spec.resolve_initializer()) == "normal"


@pytest.mark.parametrize("sizes", [(0, 10), (64, 0)])
def test_bad_sizes_are_rejected(sizes: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="n_features and n_classes"):
        initializer_table(make_study(["he_normal"]), *sizes)


# --- the pages -------------------------------------------------------------------------------


def _texts(fig: Figure) -> str:
    return " ".join(" ".join(t.get_text() for t in fig.texts).split())


def test_initializer_page_shows_the_table_and_the_coincidences(table: pd.DataFrame) -> None:
    df = table.reset_index()
    with rc_context():
        fig = plot_initializer_page(df, WIDTH)
    text = _texts(fig)
    for expected in (
        "Initializers: what they draw",
        "he_normal",
        "1.73",
        "0.333",
        "1/(3 fan_in)",
        "N(0, 1.5/fan_in) (custom)",
        "glorot_normal and lecun_normal have identical hidden weights; their output layer holds",
        "\u03c3_w² 1.73 vs 1",
        "ones and minus_ones: same family and hidden variance, different draws.",
        "findings never crown one of two identical networks",
        "width 64",
    ):
        assert expected in text, expected


def test_coincidence_notes_name_each_pair_once(table: pd.DataFrame) -> None:
    notes = coincidence_notes(table.reset_index())
    pairs = [n for n in notes if n.startswith("glorot_normal and lecun_normal")]
    assert len(pairs) == 1
    assert not any(n.startswith("lecun_normal and glorot_normal") for n in notes)
    same = pd.DataFrame(
        {
            "initializer": ["a", "b"],
            "sigma_w2_first": [1.0, 1.0],
            "sigma_w2_output": [1.0, 1.0],
            "same_hidden_weights_as": ["b", "a"],
            "same_hidden_variance_as": ["", ""],
        }
    )
    assert coincidence_notes(same) == [
        "a and b build identical networks from every seed (every layer's weights are equal)."
    ]


def test_initializer_page_without_coincidences_and_long_tables() -> None:
    df = initializer_table(make_study(["he_normal", "orthogonal"]), N_FEATURES, N_CLASSES)
    with rc_context():
        text = _texts(plot_initializer_page(df, WIDTH))
    assert "No two initializers of this study coincide." in text
    long = pd.concat([df] * 12, ignore_index=True)
    with rc_context():
        fig = plot_initializer_page(long, WIDTH, part="part 1 of 2")
    assert "(part 1 of 2)" in _texts(fig)


def _config(**training: Any) -> dict[str, Any]:
    return validate_config(
        {"initializers": ["he_normal"], "activations": ["tanh"], "depths": [2], "seeds": [0, 1]}
        | ({"training": training} if training else {}),
        SCHEMA,
    )


def test_reading_guide_defines_every_term() -> None:
    config = _config(learning_rate=0.05, epochs=7, batch_size=32)
    with rc_context():
        text = _texts(plot_reading_guide(config, 360))
    for expected in (
        "How to read this report",
        "δ = dL/dz",
        "q^l",
        "\u03c3_w² E[φ\u2032(√q* z)²]",
        "χ₁",
        "-1/ln of the slope of the correlation map",
        "-1/ln χ₁",
        "Negative: gradients grow",
        "6 ξ_c",
        "Schoenholz et al. (2017)",
        "\u03c3_b² > 0",
        "below 1e-6 of",
        f"below {SATURATION_THRESHOLD:.0%} of",
        " ".join(VERDICT_RULE.split()),
        "Student-t 95% interval",
        "t = 12.7",
        "clipped to [0, 1]",
        "failed run at chance",
        "7 epochs \u00d7 ⌈n_train / 32⌉ mini-batches",
        "learning rate 0.05",
        "360 images",
        "dynamical isometry",
        "Saxe et al. 2014",
        "Pennington",
    ):
        assert expected in text, expected


def test_reading_guide_without_training_keys_or_test_size() -> None:
    config = {"dataset": "moons", "training": {}}
    terms = dict(glossary(config, None))
    assert ", learning rate" not in terms["budget"]
    assert "epochs \u00d7 mini-batches per epoch" in terms["budget"]
    assert "held-out test split (20%" in terms["test set"]
    assert "examples" in dict(glossary(config, 400))["test set"]
    with rc_context():
        assert "How to read this report" in _texts(plot_reading_guide({}, None))


def _boxes(fig: Figure) -> list[Any]:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    return [t.get_window_extent(renderer) for t in fig.texts if t.get_text()]


@pytest.mark.parametrize("which", ["guide", "initializers"])
def test_pages_fit_and_nothing_overlaps(which: str, table: pd.DataFrame) -> None:
    with rc_context():
        if which == "guide":
            fig = plot_reading_guide(_config(), 360)
        else:
            fig = plot_initializer_page(table.reset_index(), WIDTH)
        boxes = _boxes(fig)
    width, height = fig.bbox.width, fig.bbox.height
    for box in boxes:
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height
    for a, b in itertools.combinations(boxes, 2):
        overlap_x = min(a.x1, b.x1) - max(a.x0, b.x0)
        overlap_y = min(a.y1, b.y1) - max(a.y0, b.y0)
        assert overlap_x <= 1 or overlap_y <= 1, (a, b)


def test_the_page_reads_the_table_back_from_csv(table: pd.DataFrame, tmp_path: Any) -> None:
    """Empty name lists come back from initializers.csv as NaN."""
    path = tmp_path / "initializers.csv"
    table.reset_index().to_csv(path, index=False)
    back = pd.read_csv(path)
    assert back["same_hidden_weights_as"].isna().any()
    assert coincidence_notes(back) == coincidence_notes(table.reset_index())
    with rc_context():
        assert "lecun_normal" in _texts(plot_initializer_page(back, WIDTH))
