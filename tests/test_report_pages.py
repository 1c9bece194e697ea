"""Tests of what the report's pages tell a reader: ties in the findings, per-seed distributions,
one gradient colour scale for every depth, marked theory disagreements, distinct phase-diagram
lines, seed counts in captions and every seed drawn on the depth-scaling page.

Most tests use small hand-made frames whose answer is known by construction; the page-level
tests use the tables of :func:`tests.test_report.make_tables` (3 initializers x 2 activations x
depths 1 and 3 x 2 seeds, he_normal x tanh diverged at depth 3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from test_report import ACTS, DEPTHS, INITS, SEEDS, make_tables

from initlab.report import findings as fnd
from initlab.report import heatmaps, propagation, theory_pages, training
from initlab.report.data import Grid, Tables, load_tables
from initlab.report.style import initializer_colors, initializer_markers, rc_context

COLORS = initializer_colors(INITS)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Tables:
    out: Path = tmp_path_factory.mktemp("pages_tables")
    make_tables(out)
    return load_tables(out)


def footnote(fig: Figure) -> str:
    """The footnote (the figure's x label, see ``set_footnote``), unwrapped."""
    label = fig._supxlabel
    return label.get_text().replace("\n", " ") if label is not None else ""


def all_text(fig: Figure) -> str:
    """Every text of the figure and of its axes, unwrapped, for searching."""
    texts = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        texts += [ax.get_title(), ax.get_ylabel(), ax.get_xlabel()]
        texts += [t.get_text() for t in ax.texts]
    return " ".join(texts).replace("\n", " ")


# --- 1. findings: ties are reported as ties ----------------------------------------------------


def summary_rows(rows: list[tuple[str, float, str]], act: str = "tanh") -> pd.DataFrame:
    """A ``summary.csv`` for one activation at depth 30: (initializer, mean, verdict)."""
    return pd.DataFrame(
        {
            "initializer": [r[0] for r in rows],
            "activation": act,
            "depth": 30,
            "n_seeds": 2,
            "final_test_acc_mean": [r[1] for r in rows],
            "final_test_acc_ci95_lo": [r[1] - 0.02 for r in rows],
            "final_test_acc_ci95_hi": [min(r[1] + 0.02, 1.0) for r in rows],
            "verdict": [r[2] for r in rows],
        }
    )


def one_grid(inits: list[str], act: str = "tanh") -> Grid:
    return Grid(tuple(inits), (act,), (30,), (0, 1))


def test_initializers_within_half_a_point_are_a_tie() -> None:
    summary = summary_rows(
        [("a", 0.85, "partial"), ("b", 0.9064, "trains"), ("c", 0.909, "trains")]
    )
    (text,) = fnd.best_initializer_per_activation(summary, one_grid(["a", "b", "c"]))
    assert text.startswith("tanh at depth 30: tie: c 0.909 [0.889, 0.929], b 0.906")
    assert "within 0.005 of the best" in text
    assert "best initializer" not in text
    assert text.endswith("verdict trains; runner-up a 0.850.")


def test_identical_accuracies_tie_and_a_clear_gap_does_not() -> None:
    same = summary_rows([("a", 0.93, "trains"), ("b", 0.93, "trains")])
    (text,) = fnd.best_initializer_per_activation(same, one_grid(["a", "b"]))
    assert "tie: a 0.930" in text and "b 0.930" in text
    gap = summary_rows([("a", 0.903, "trains"), ("b", 0.909, "trains")])
    (text,) = fnd.best_initializer_per_activation(gap, one_grid(["a", "b"]))
    assert text.startswith("tanh at depth 30: best initializer b, mean test accuracy 0.909")
    assert "tie" not in text and "runner-up a 0.903" in text
    assert list(fnd.tied_best(same)["initializer"]) == ["a", "b"]


def test_no_best_is_named_when_every_initializer_fails() -> None:
    inits = [f"init{k}" for k in range(8)]
    summary = summary_rows([(i, 0.100 + 0.002 * (k == 3), "fails") for k, i in enumerate(inits)])
    summary = pd.concat([summary, summary_rows([("div", 0.1, "diverged")])], ignore_index=True)
    (text,) = fnd.best_initializer_per_activation(summary, one_grid([*inits, "div"]))
    assert text.startswith("tanh at depth 30: no initializer trains it at this budget")
    assert "0.100 to 0.102 over 8 initializers" in text and "1 more diverged" in text
    assert not any(i in text for i in inits)
    assert "best" not in text


def test_runner_up_is_not_picked_from_failures_or_ties() -> None:
    fails = summary_rows([("a", 0.389, "partial"), ("b", 0.100, "fails"), ("c", 0.102, "fails")])
    (text,) = fnd.best_initializer_per_activation(fails, one_grid(["a", "b", "c"]))
    assert text.endswith("verdict partial; the other 2 fail (0.100 to 0.102).")
    assert "runner-up" not in text
    tied = summary_rows([("a", 0.95, "trains"), ("b", 0.815, "trains"), ("c", 0.813, "trains")])
    (text,) = fnd.best_initializer_per_activation(tied, one_grid(["a", "b", "c"]))
    assert text.endswith("; runner-up tie: b, c 0.815.")


def test_the_tie_rule_is_stated(tables: Tables) -> None:
    assert "0.005" in fnd.TIE_RULE and "no best is named" in fnd.TIE_RULE
    assert "0.005" in (fnd.best_initializer_per_activation.__doc__ or "")
    grid = Grid(tuple(INITS), tuple(ACTS), tuple(DEPTHS), tuple(SEEDS))
    found = fnd.derive_findings(tables.summary, tables.runs, grid)
    assert "tie" in found[1].heading and "0.005" in found[1].heading


# --- 2. per-layer distributions: one median per seed ----------------------------------------


def layer_rows(prefix: str, medians: dict[int, list[float]], iqr: float = 0.6) -> pd.DataFrame:
    """Layer rows of seeds x layers with the given medians and a symmetric band."""
    rows = []
    for seed, meds in medians.items():
        for layer, m in enumerate(meds, start=1):
            half = iqr / 2 * 10.0 ** (-2 * (layer - 1))  # two decades narrower per layer
            rows.append(
                {
                    "seed": seed,
                    "layer": layer,
                    f"{prefix}_q05": -3 * half,
                    f"{prefix}_q25": -half,
                    f"{prefix}_q50": m,
                    f"{prefix}_q75": half,
                    f"{prefix}_q95": 3 * half,
                }
            )
    return pd.DataFrame(rows)


def test_seed_quantiles_keep_every_seed() -> None:
    rows = layer_rows("a", {0: [0.1, 0.0, 0.0], 1: [-0.1, 0.0, 0.0]})
    sq = propagation.seed_quantiles(rows, "a")
    assert sq.seeds == (0, 1)
    assert sq.values["q50"].shape == (2, 3)
    np.testing.assert_allclose(sq.values["q50"][:, 0], [0.1, -0.1])  # not averaged to 0
    np.testing.assert_allclose(sq.lowest("q05"), rows.groupby("layer")["a_q05"].min())
    np.testing.assert_allclose(sq.highest("q95"), rows.groupby("layer")["a_q95"].max())


def test_each_seed_median_is_a_line_and_noise_sits_at_zero() -> None:
    # layer 1: IQR 0.6, medians 1e-4 (noise) and 0.2 (a real shift); layers 2-3: IQR 6e-3
    # and 6e-5, medians within 2% of it
    rows = layer_rows("a", {0: [1e-4, 1e-6, 0.0], 1: [0.2, -1e-6, 0.0]})
    sq = propagation.seed_quantiles(rows, "a")
    linthresh = propagation.symlog_threshold([rows], "a")
    assert linthresh is not None
    fig = Figure()
    ax = fig.subplots()
    propagation.draw_quantile_bands(ax, sq, (0.2, 0.4, 0.6, 1.0), linthresh=linthresh)
    medians = [line.get_ydata() for line in ax.get_lines()]
    assert len(medians) == 2  # one line per seed, no mean line
    np.testing.assert_allclose(medians[0], [0.0, 0.0, 0.0])  # within 2% of the IQR of 0
    np.testing.assert_allclose(medians[1], [0.2, 0.0, 0.0])
    assert ax.get_yscale() == "symlog"


def test_exact_zeros_on_the_log_axis_are_marked() -> None:
    rows = layer_rows("absdelta", {0: [0.0, 1e-3], 1: [1e-3, 2e-3]}, iqr=1.0).abs()
    floor = propagation.log_floor([rows], "absdelta")
    fig = Figure()
    ax = fig.subplots()
    propagation.draw_quantile_bands(
        ax, propagation.seed_quantiles(rows, "absdelta"), (0, 0, 0, 1), floor=floor
    )
    assert ax.get_yscale() == "log"
    assert any(t.get_text() == "exact 0" for t in ax.texts)
    medians = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(medians) == 2 and medians[0].get_ydata()[0] == pytest.approx(floor)


def test_distribution_page_says_how_zeros_are_drawn(tables: Tables) -> None:
    pairs = [("he_normal", "relu"), ("glorot_uniform", "tanh")]
    with rc_context():
        fig = propagation.plot_distributions(tables.layers, tables.runs, pairs, 3, COLORS)
    note = footnote(fig)
    assert "Each seed's median is its own thin line" in note
    assert "exact zeros lie on the 0 line" in note and "'exact 0' line" in note
    assert "mean over seeds of each quantile" not in all_text(fig)
    panel = fig.axes[0]  # he_normal x relu, activations at init: one median per seed
    assert len([line for line in panel.get_lines() if line.get_marker() == "o"]) == len(SEEDS)


# --- 3. heatmaps: one gradient colour scale for every depth ----------------------------------


def gradient_limits(fig: Figure) -> list[tuple[float, float]]:
    """(vmin, vmax) of the diverging colour bars of a heatmap page."""
    out = []
    for ax in fig.axes:
        cbar = getattr(ax, "_colorbar", None)
        if cbar is not None and cbar.cmap.name == "RdBu_r":
            out.append((float(cbar.norm.vmin), float(cbar.norm.vmax)))
    return out


def test_diverging_limit_is_computed_once_over_all_depths() -> None:
    col = "log10_delta_ratio_hidden_mean"
    summary = pd.DataFrame({"depth": [1, 4, 30], col: [np.nan, -1.4, 4.2]})
    assert heatmaps.diverging_limit(summary, col) == 5.0
    summary.loc[2, col] = -29.0
    assert heatmaps.diverging_limit(summary, col) == heatmaps.DIVERGING_CAP == 10.0
    assert heatmaps.diverging_limit(summary.iloc[:1], col) == 1.0  # nothing finite


def test_gradient_panel_has_the_same_scale_at_every_depth(tables: Tables) -> None:
    summary = tables.summary.copy()
    col = "log10_delta_ratio_hidden_mean"
    summary.loc[summary["depth"] == 3, col] = summary.loc[summary["depth"] == 3, col] * 2.0
    limit = heatmaps.diverging_limit(summary, col)
    seen = []
    with rc_context():
        for depth in DEPTHS:
            fig = heatmaps.plot_heatmaps(summary, depth, INITS, ACTS)
            seen += gradient_limits(fig)
            assert f"-{limit:g} to +{limit:g} decades" in footnote(fig)
            assert "saturate at ±10" not in footnote(fig)
    assert seen == [(-limit, limit)] * len(DEPTHS)


# --- 4. theory pages ------------------------------------------------------------------------


def test_chi1_label_says_why_it_is_missing() -> None:
    row = {"chi1": 0.333, "sigma_w2": 1.0, "q_star": 0.1}
    assert theory_pages.chi1_label(pd.DataFrame([row])) == "chi1 = 0.333"
    no_sw2 = pd.DataFrame([{**row, "chi1": np.nan, "sigma_w2": np.nan}])
    assert "sigma_w^2 undefined" in theory_pages.chi1_label(no_sw2)
    overflow = pd.DataFrame([{**row, "chi1": np.nan, "q_star": np.inf}])
    assert "no finite fixed point" in theory_pages.chi1_label(overflow)
    assert theory_pages.chi1_label(pd.DataFrame([{**row, "chi1": np.nan}])) != "chi1 n/a"
    assert "no theory rows" in theory_pages.chi1_label(pd.DataFrame(columns=list(row)))


def theory_rows() -> pd.DataFrame:
    """Two combinations of depth 30: a vanished prediction (q) and a multiplicative one."""
    base = {
        "depth": 30,
        "layer": 26,
        "chi1": 1.0,
        "sigma_w2": 2.0,
        "q_star": 1.0,
        "delta_rel_pred": 1.0,
        "delta_rel_meas_mean": 1.0,
        "delta_rel_meas_std": 0.0,
        "delta_rel_relerr": 0.0,
    }
    vanished = {"q_pred": 6.25e-7, "q_meas_mean": 0.673, "q_meas_std": 0.95}
    multiplied = {"q_pred": 1.67, "q_meas_mean": 10.6, "q_meas_std": 14.6}
    good = {"q_pred": 1.0, "q_meas_mean": 1.05, "q_meas_std": 0.1}
    rows = []
    for init, act, q in (
        ("he_normal", "gelu", vanished),
        ("he_normal", "relu", multiplied),
        ("glorot_uniform", "tanh", good),
    ):
        relerr = (q["q_meas_mean"] - q["q_pred"]) / q["q_pred"]
        rows.append({**base, "initializer": init, "activation": act, **q, "q_relerr": relerr})
    return pd.DataFrame(rows)


def test_large_relative_errors_get_their_own_mark_and_text() -> None:
    assert theory_pages.error_mark(1.08e6) == "\u2021"
    assert theory_pages.error_mark(5.3) == "\u2020"
    assert theory_pages.error_mark(-0.5) == theory_pages.error_mark(np.nan) == ""
    top = theory_pages.largest_disagreements(theory_rows())
    text = theory_pages.large_error_text(top)
    assert "orders of magnitude below the measurement" in text
    assert "6.25e-07" in text and "he_normal \u00d7 gelu" in text
    assert "more than 100%" in text and "10.6 \u00b1 14.6" in text
    assert theory_pages.large_error_text(top[top["relerr"].abs() <= 1]) == ""


def test_theory_table_marks_rows_above_100_percent() -> None:
    with rc_context():
        fig = theory_pages.plot_theory_table(theory_rows())
    text = all_text(fig)
    assert "+1.08e+06 \u2021" in text and "+5.35 \u2020" in text
    assert "+0.05" in text and "+0.05 \u2020" not in text
    assert "float noise" in text


def phase_table() -> pd.DataFrame:
    """Critical lines of four activations; relu and leaky_relu coincide at sigma_w^2 = 2."""
    b2 = np.linspace(0.0, 1.0, 5)
    lines = {
        "linear": np.ones(5),
        "tanh": 1.0 + 2.5 * b2,
        "relu": np.full(5, 2.0),
        "leaky_relu": np.full(5, 1.9998),
    }
    return pd.concat(
        [
            pd.DataFrame({"activation": a, "sigma_b2": b2, "critical_sigma_w2": v})
            for a, v in lines.items()
        ],
        ignore_index=True,
    )


def test_activation_styles_are_distinct() -> None:
    names = [f"act{k}" for k in range(8)]
    styles = theory_pages.activation_styles(names)
    assert len({c for c, _ in styles.values()}) == 8
    assert len({str(s) for _, s in styles.values()}) == 8
    many = theory_pages.activation_styles([f"act{k}" for k in range(30)])
    assert len({(c, str(s)) for c, s in many.values()}) == 30


def test_phase_diagram_names_lines_in_the_legend_only() -> None:
    acts = ["linear", "tanh", "relu", "leaky_relu"]
    points = {"glorot_uniform": 1.0, "he_normal": 2.0, "zeros": 0.0}
    with rc_context():
        fig = theory_pages.plot_phase_diagram(
            phase_table(), acts, points, 0.0, COLORS, initializer_markers(INITS)
        )
    ax = fig.axes[0]
    (legend,) = fig.legends
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels == ["linear", "tanh", "relu", "leaky_relu (coincides with relu)"]
    assert not any(a in t.get_text() for t in ax.texts for a in ("linear", "relu"))
    drawn = [line for line in ax.get_lines() if line.get_label() in labels]
    colors = {to_rgba(line.get_color()) for line in drawn}
    assert len(colors) == len(acts)


# --- 5. captions follow the study: seed counts, validation accuracy ---------------------------


def test_t_interval_note_uses_the_seed_count() -> None:
    assert training.t_interval_note(pd.DataFrame({"n_seeds": [2, 2]})) == "t = 12.7 for 2 seeds"
    assert training.t_interval_note(pd.DataFrame({"n_seeds": [5]})) == "t = 2.78 for 5 seeds"
    mixed = training.t_interval_note(pd.DataFrame({"n_seeds": [3, 10]}))
    assert mixed == "t = 4.3 for 3 seeds, t = 2.26 for 10 seeds"
    assert training.seed_count_text(pd.DataFrame({"n_seeds": [3, 10]})) == "3-10"


def test_depth_scaling_footnote_follows_n_seeds(tables: Tables) -> None:
    summary = tables.summary.assign(n_seeds=5)
    with rc_context():
        fig = training.plot_depth_scaling(
            summary, INITS, ACTS, DEPTHS, COLORS, target=0.9, n_classes=10
        )
    note = footnote(fig)
    assert "5 seeds per point" in note and "t = 2.78 for 5 seeds" in note
    assert "12.7" not in note


def test_learning_curves_say_validation_accuracy(tables: Tables) -> None:
    with rc_context():
        fig = training.plot_learning_curves(
            tables.curves, tables.runs, "tanh", DEPTHS, INITS, COLORS, target=0.9, n_classes=10
        )
    text = all_text(fig)
    assert "validation accuracy" in fig._suptitle.get_text()
    assert "test accuracy is measured once, at the end" in text
    acc_axes = [ax for ax in fig.axes if ax.get_title() == "validation accuracy"]
    assert len(acc_axes) == len(DEPTHS)
    assert acc_axes[0].get_ylabel() == "validation accuracy (fraction)"
    assert training.VALIDATION_NOTE in footnote(fig)
    legend_texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "target validation acc. 0.9" in legend_texts


# --- 6. depth scaling: every seed is a point --------------------------------------------------


def seed_dots(fig: Figure, color: tuple[float, ...]) -> list[list[tuple[float, float]]]:
    """(x, y) of the one-seed dots of ``color``, one list per panel."""
    out = []
    for ax in fig.axes:
        panel = []
        for line in ax.get_lines():
            if (
                line.get_linestyle() == "None"
                and line.get_marker() == "o"
                and np.allclose(to_rgba(line.get_color())[:3], to_rgba(color)[:3])
            ):
                panel += list(zip(line.get_xdata(), line.get_ydata(), strict=True))
        out.append(panel)
    return out


def test_depth_scaling_draws_every_seed(tables: Tables) -> None:
    runs = tables.runs
    with rc_context():
        fig = training.plot_depth_scaling(
            tables.summary, INITS, ACTS, DEPTHS, COLORS, target=0.9, n_classes=10, runs=runs
        )
    for init in INITS:
        for act, dots in zip(ACTS, seed_dots(fig, COLORS[init]), strict=False):
            sel = runs[
                (runs["initializer"] == init) & (runs["activation"] == act) & ~runs["diverged"]
            ]
            assert len(dots) == len(sel)  # diverged seeds have no test accuracy, no dot
            assert len(set(dots)) == len(dots)  # equal accuracies (zeros: 0.10) stay apart
            assert sorted(y for _, y in dots) == pytest.approx(sorted(sel["final_test_acc"]))
    note = footnote(fig)
    assert "2 seeds per point" in note and "individual seeds" in note
    assert "t = 12.7 for 2 seeds" in note
    without = training.plot_depth_scaling(
        tables.summary, INITS, ACTS, DEPTHS, COLORS, target=0.9, runs=None
    )
    assert not any(seed_dots(without, COLORS["zeros"]))
    assert "individual" not in footnote(without)
