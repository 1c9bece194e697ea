"""Tests of the PDF report (:mod:`initlab.report`) on small hand-made tables.

The tables mimic a 3 initializers x 2 activations x 2 depths x 2 seeds study whose outcome is
known by construction: he_normal x relu is the best pair at depth 3, glorot_uniform the best
initializer for tanh at depth 3, he_normal x tanh diverges at depth 3 (steps 5 and 7),
glorot_uniform x relu vanishes at depth 3 (log10 gradient ratio -4) and zero weights pass no
gradient. ``summary.csv`` and ``theory.csv`` are built by the real aggregation functions.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from initlab import aggregate, io
from initlab.init_table import initializer_table
from initlab.recommend import recommendation_table
from initlab.report import FIGURE_NAMES, plan_pages, write_report
from initlab.report import findings as fnd
from initlab.report.data import (
    choose_highlights,
    grid_from_config,
    load_tables,
    zero_gradient_combinations,
)
from initlab.report.heatmaps import heatmap_cells, heatmap_chunks
from initlab.report.text_pages import TextLine, paginate
from initlab.report.writer import contents
from initlab.study import Study
from initlab.train import LAYER_COLUMNS

INITS = ["glorot_uniform", "he_normal", "zeros"]
ACTS = ["tanh", "relu"]
DEPTHS = [1, 3]
SEEDS = [0, 1]
STEPS = (0, 9, 18)  # checkpoints at epochs 0, 1, 2

# mean final test accuracy per seed, None = diverged
ACC: dict[tuple[str, str, int], tuple[float | None, float | None]] = {
    ("glorot_uniform", "tanh", 1): (0.92, 0.94),
    ("glorot_uniform", "tanh", 3): (0.90, 0.92),
    ("glorot_uniform", "relu", 1): (0.90, 0.92),
    ("glorot_uniform", "relu", 3): (0.60, 0.64),
    ("he_normal", "tanh", 1): (0.93, 0.95),
    ("he_normal", "tanh", 3): (None, None),
    ("he_normal", "relu", 1): (0.94, 0.96),
    ("he_normal", "relu", 3): (0.95, 0.97),
    **{("zeros", a, d): (0.10, 0.10) for a in ACTS for d in DEPTHS},
}
DIVERGED_STEP = {0: 5, 1: 7}
VANISHING = ("glorot_uniform", "relu", 3)


def make_config(highlight: list[list[str]] | None = None) -> dict[str, Any]:
    """A resolved study configuration (what ``study.json`` holds)."""
    return {
        "study": "synthetic",
        "results": "results",
        "dataset": "digits",
        "initializers": list(INITS),
        "activations": list(ACTS),
        "depths": list(DEPTHS),
        "seeds": list(SEEDS),
        "width": 16,
        "bias_std": 0.0,
        "training": {
            "optimizer": "momentum",
            "learning_rate": 0.01,
            "momentum": 0.9,
            "nesterov": False,
            "epochs": 2,
            "batch_size": 128,
            "checkpoint_every": 1,
            "budget_check": 3,
            "normalization": "none",
            "dropout": 0.0,
            "dropout_kind": "dropout",
            "weight_decay": 0.0,
            "loss": "cross_entropy",
            "train_fraction": 1.0,
            "target_accuracy": 0.9,
            "probe_size": 64,
            "dtype": "float32",
            "base_seed": 0,
        },
        "custom_initializers": {},
        "custom_activations": {},
        "report": {
            "title": "Synthetic study",
            "highlight": [["he_normal", "relu"], ["glorot_uniform", "tanh"]]
            if highlight is None
            else highlight,
            "max_heatmap_cells": 400,
        },
    }


def _layer_rows(init: str, act: str, depth: int, seed: int, rng: np.random.Generator) -> list:
    """Layer-table rows of one run: every checkpoint x layer (step 0 only if it diverged)."""
    diverged = ACC[(init, act, depth)][seed] is None
    rows = []
    for step in STEPS[:1] if diverged else STEPS:
        epoch = step // 9
        loss = 2.3 * 0.6**epoch
        acc = 0.1 + 0.4 * epoch
        for layer in range(1, depth + 2):
            out = layer == depth + 1
            if init == "zeros":
                z_q, d_rms = 0.0, (1e-3 if out else 0.0)
            else:
                z_q = 0.9**layer * (1 + 0.05 * rng.standard_normal())
                if (init, act, depth) == VANISHING:  # 4 decades from the last hidden layer
                    d_rms = 1e-3 * 10 ** (-4.0 * (depth - min(layer, depth)) / (depth - 1))
                else:
                    d_rms = 1e-3 * 10 ** (-0.1 * (depth + 1 - layer) / depth)
            a = np.sort(rng.standard_normal(7)) * np.sqrt(z_q)
            ad = np.sort(np.abs(rng.standard_normal(7))) * d_rms
            row = {
                "step": step,
                "epoch": epoch,
                "train_loss": loss,
                "train_acc": acc,
                "val_loss": loss * 1.05,
                "val_acc": acc - 0.01,
                "layer": layer,
                "fan_in": 64 if layer == 1 else 16,
                "fan_out": 10 if out else 16,
                "z_mean": 0.0,
                "z_var": z_q,
                "z_q": z_q,
                "h_mean": 0.0,  # a plain net: h = z
                "h_var": z_q,
                "h_q": z_q,
                "dh_rms": d_rms,
                "a_mean": 0.0,
                "a_std": np.sqrt(z_q),
                "saturated_frac": np.nan if out else 0.1,
                "dead_frac": np.nan if out else (0.6 if act == "relu" and init == "zeros" else 0.0),
                "delta_rms": d_rms,
                "delta_var": d_rms**2,
                "wgrad_norm": 10 * d_rms,
                "wgrad_rms": d_rms,
                "bgrad_norm": d_rms,
                "w_norm": 1.0,
                "update_ratio": 1e-3,
            }
            at_init = step == 0 and not out
            row["jac_mean_s2"] = (0.5 if act == "relu" else 1.0) ** layer if at_init else np.nan
            row["corr_c"] = 1.0 - 0.5 * 0.9**layer if at_init else np.nan
            for k, q in enumerate(("q01", "q05", "q25", "q50", "q75", "q95", "q99")):
                row[f"a_{q}"] = a[k]
                row[f"absdelta_{q}"] = ad[k]
            rows.append(row)
    return rows


def make_tables(out: Path) -> dict[str, pd.DataFrame]:
    """Write runs, layers, curves, summary and theory CSVs into ``out``."""
    rng = np.random.default_rng(0)
    config = make_config()
    study = Study(config)
    runs, frames = [], []
    for init, act, depth, _ in study.combinations():
        for seed in SEEDS:
            run_id = f"digits__{init}__{act}__d{depth}__s{seed}"
            acc = ACC[(init, act, depth)][seed]
            diverged = acc is None
            lay = pd.DataFrame(_layer_rows(init, act, depth, seed, rng))[list(LAYER_COLUMNS)]
            first = lay[(lay["step"] == 0) & (lay["layer"] == 1)]["delta_rms"].iloc[0]
            last = lay[(lay["step"] == 0) & (lay["layer"] == depth + 1)]["delta_rms"].iloc[0]
            ratio = float(np.log10(first / last)) if first > 0 else np.nan
            last_hidden = lay[(lay["step"] == 0) & (lay["layer"] == depth)]["delta_rms"].iloc[0]
            hidden = float(np.log10(first / last_hidden)) if first > 0 and depth > 1 else np.nan
            config_cols = {
                "run_id": run_id,
                "dataset": "digits",
                "initializer": init,
                "activation": act,
                "depth": depth,
                "width": 16,
                "seed": seed,
            }
            for key, value in reversed(list(config_cols.items())):
                lay.insert(0, key, value)
            frames.append(lay)
            nan = float("nan")
            # last hidden layer's Jacobian spectrum at init: the same mean s^2 as the layer rows,
            # a spread growing like sqrt(depth) (undefined for zero weights: J = 0)
            s2 = 0.0 if init == "zeros" else (0.5 if act == "relu" else 1.0) ** depth
            spread = nan if init == "zeros" else (0.8 if act == "relu" else 0.3) * depth**0.5
            spread *= 1.0 + 0.1 * seed
            runs.append(
                {
                    **config_cols,
                    "optimizer": "momentum",
                    "learning_rate": 0.01,
                    "epochs": 2,
                    "batch_size": 128,
                    "final_train_loss": nan if diverged else 0.3,
                    "final_train_acc": nan if diverged else acc,
                    "final_val_acc": nan if diverged else acc,
                    "final_test_acc": nan if diverged else acc,
                    "best_val_acc": nan if diverged else acc,
                    "steps_to_target": 18 if (acc or 0) >= 0.9 else None,
                    "diverged": diverged,
                    "diverged_step": DIVERGED_STEP[seed] if diverged else None,
                    "log10_delta_ratio_init": ratio,
                    "log10_wgrad_ratio_init": ratio,
                    "log10_delta_ratio_hidden": hidden,
                    "log10_wgrad_rms_ratio_hidden": hidden,
                    "final_val_loss": nan if diverged else 0.3,
                    "final_test_loss": nan if diverged else 0.3,
                    "init_train_loss": 2.3,
                    "dead_frac_init": 0.6 if (init, act) == ("zeros", "relu") else 0.0,
                    "saturated_frac_init": 0.1,
                    "dead_frac_final": nan,
                    "still_learning": nan if diverged else float(acc < 0.9),
                    "jac_mean_s2": s2,
                    "jac_std_log_s": spread,
                    "jac_max_s": 0.0 if init == "zeros" else s2**0.5 * np.exp(2 * spread),
                    "jac_min_s": 0.0 if init == "zeros" else s2**0.5 * np.exp(-2 * spread),
                    "saturated_frac_final": nan,
                    "budget_epochs": 6,
                    "budget_extended": not diverged and acc < 0.9,
                    "budget_diverged": diverged,
                    "budget_test_acc": nan if diverged else (acc if acc >= 0.9 else acc**0.5),
                    "budget_train_loss": nan if diverged else 0.2,
                    "n_classes": 10,
                }
            )
    runs_df = pd.DataFrame(runs)
    for col in ("steps_to_target", "diverged_step"):
        runs_df[col] = runs_df[col].astype("Int64")
    layers = pd.concat(frames, ignore_index=True)
    curve_cols = ["run_id", "initializer", "activation", "depth", "seed", *aggregate.CURVE_COLUMNS]
    tables = {
        "runs": runs_df.drop(columns=["n_classes"]),
        "layers": layers,
        "curves": layers.loc[layers["layer"] == 1, curve_cols].reset_index(drop=True),
        "summary": aggregate.summarize(runs_df, 0.9),
        "theory": aggregate.theory_table(study, layers, 64, 10, 1.0),
        "phase": aggregate.phase_table(study, n_points=5),
    }
    tables["initializers"] = initializer_table(study, 64, 10)
    tables["recommendations"] = recommendation_table(
        tables["summary"], runs_df, tables["theory"], INITS, ACTS, DEPTHS
    )
    aggregate.write_tables(tables, out)
    (out / "timings.csv").write_text("not,a\nreproducible,table\n")  # must never be read
    io.write_json(out / "study.json", config)
    return tables


@pytest.fixture(scope="module")
def tables_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tables")
    make_tables(out)
    return out


@pytest.fixture(scope="module")
def rendered(tables_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The report rendered twice (once with figures) from the same tables."""
    out = tmp_path_factory.mktemp("report")
    write_report(tables_dir / "study.json", tables_dir, out / "a.pdf", figures_dir=out / "fig")
    write_report(tables_dir / "study.json", tables_dir, out / "b.pdf")
    return {"a": out / "a.pdf", "b": out / "b.pdf", "figures": out / "fig"}


@pytest.fixture(scope="module")
def summary(tables_dir: Path) -> pd.DataFrame:
    return pd.read_csv(tables_dir / "summary.csv")


@pytest.fixture(scope="module")
def grid() -> Any:
    return grid_from_config(make_config())


def count_pages(pdf: bytes) -> int:
    """Number of page objects (``/Type /Page``, not ``/Pages``) in a PDF."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


# --- the rendered report ---------------------------------------------------------------------


def test_page_count_matches_the_grid(rendered: dict[str, Path], tables_dir: Path) -> None:
    pdf = rendered["a"].read_bytes()
    assert pdf.startswith(b"%PDF-")
    # recommendations (first page), title, reading guide and initializers, findings, heatmaps
    # (2 depths), dead units at the end (both depths on one page), gradient flow (rms
    # dL/dz, ||dL/dW||), distributions (2 highlight pairs on one page), learning curves (2
    # activations), depth scaling, theory (figure + table), Jacobian spectra and correlation map
    # (2 activations: one page each), phase diagram, sigma_w^2 x depth trainability (the three
    # initializers span three hidden sigma_w^2 values), appendix (12 rows)
    expected = 1 + 1 + 2 + 1 + 2 + 1 + 2 + 1 + 2 + 1 + 2 + 2 + 1 + 1 + 1
    assert count_pages(pdf) == expected
    pages = plan_pages(make_config(), load_tables(tables_dir))
    assert len(pages) == expected
    sections = [p.section for p in pages][:6]
    assert sections == ["recommendations", "title", "guide", "initializers", "findings", "heatmaps"]
    assert pages[-1].section == "appendix"
    toc = contents(pages[2:], first_page=3)
    assert toc[2] == ("Findings", "5")
    assert toc[3] == ("Trainability heatmaps per depth", "6-7")
    assert toc[-1] == ("Appendix: summary table", str(expected))


def test_the_first_page_answers_which_initializer(tables_dir: Path) -> None:
    """Page 1 is the recommendation table, built from recommendations.csv alone."""
    tables = load_tables(tables_dir)
    first = plan_pages(make_config(), tables)[0]
    assert first.section == "recommendations"
    fig = first.build()
    texts = [t.get_text() for t in fig.texts]
    assert any("which initializer for which activation and depth" in t.lower() for t in texts)
    table = tables.recommendations
    for row in table.itertuples(index=False):
        assert str(row.test_acc_seeds) in texts  # every seed's accuracy, as in the table


def test_two_renders_are_byte_identical(rendered: dict[str, Path]) -> None:
    a, b = rendered["a"].read_bytes(), rendered["b"].read_bytes()
    assert a == b
    assert b"/CreationDate" not in a
    assert b"Synthetic study" in a  # the title is in the metadata


def test_figures_dir_gets_the_five_pngs(rendered: dict[str, Path]) -> None:
    names = sorted(p.name for p in rendered["figures"].iterdir())
    assert names == sorted(f"{n}.png" for n in FIGURE_NAMES)
    assert set(FIGURE_NAMES) == {
        "heatmaps",
        "gradient_flow",
        "depth_scaling",
        "learning_curves",
        "theory",
    }
    for path in rendered["figures"].iterdir():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_page_plan_follows_max_heatmap_cells(tables_dir: Path) -> None:
    config = make_config()
    config["report"]["max_heatmap_cells"] = 3  # 3 x 2 grid: one activation per part
    pages = plan_pages(config, load_tables(tables_dir))
    assert sum(p.section == "heatmaps" for p in pages) == 2 * 2
    config = make_config(highlight=[])  # chosen automatically: up to 4 pairs, 2 pages
    pages = plan_pages(config, load_tables(tables_dir))
    assert sum(p.section == "distributions" for p in pages) == 2


# --- findings --------------------------------------------------------------------------------


def test_best_initializer_per_activation(summary: pd.DataFrame, grid: Any) -> None:
    tanh, relu = fnd.best_initializer_per_activation(summary, grid)
    # he_normal x tanh diverged at depth 3 and is not a candidate
    assert tanh.startswith("tanh at depth 3: best initializer glorot_uniform")
    assert "0.910 [0.783, 1.000] (95% CI, 2 seeds)" in tanh  # clipped at 1
    assert relu.startswith("relu at depth 3: best initializer he_normal")
    assert "0.960 [" in relu
    assert "runner-up glorot_uniform 0.620" in relu
    shallow = fnd.best_initializer_per_activation(summary, grid, depth=1)
    assert "best initializer he_normal, mean test accuracy 0.940" in shallow[0]


def test_diverged_runs_are_reported_with_their_steps(tables_dir: Path, grid: Any) -> None:
    runs = load_tables(tables_dir).runs
    (text,) = fnd.diverged_runs(runs, grid)
    assert text.startswith("2 of 24 runs diverged")
    assert "he_normal \u00d7 tanh at depth 3: 2/2 seeds (steps 5, 7)" in text
    no_div = runs.assign(diverged=False)
    assert fnd.diverged_runs(no_div, grid) == ["No run diverged (0 of 24 runs)."]


def test_never_trained_lists_failed_and_diverged(summary: pd.DataFrame, grid: Any) -> None:
    fails, diverged = fnd.never_trained(summary, grid)
    assert fails.startswith("4 of 12 combinations never trained")
    assert "zeros \u00d7 every activation at every depth" in fails
    assert diverged.startswith("1 of 12 combinations diverged")
    assert "he_normal \u00d7 tanh at depth 3" in diverged


def test_vanishing_and_zero_gradients(tables_dir: Path, summary: pd.DataFrame, grid: Any) -> None:
    zero = zero_gradient_combinations(load_tables(tables_dir).layers)
    assert zero == {("zeros", a, d) for a in ACTS for d in DEPTHS}
    vanish, zeros = fnd.vanishing_gradients(summary, grid, zero)
    assert "in 1 of 12 combinations: glorot_uniform \u00d7 relu at depth 3 (-4.0)" in vanish
    assert "exactly zero" in zeros and "4 combinations" in zeros
    assert fnd.exploding_gradients(summary, grid) == []


def test_depth_robustness_names_relu(summary: pd.DataFrame, grid: Any) -> None:
    (text,) = fnd.depth_robustness(summary, grid)
    assert text.startswith("Most robust to depth: relu.")
    assert "from 0.950 at depth 1 to 0.960 at depth 3 (+0.010)" in text
    assert "Least robust: tanh (0.940 -> 0.910, -0.030)" in text


def test_derive_findings_headings(summary: pd.DataFrame, tables_dir: Path, grid: Any) -> None:
    runs = load_tables(tables_dir).runs
    found = fnd.derive_findings(summary, runs, grid)
    assert found[0].statements[0].startswith("12 combinations (3 initializers")
    assert fnd.verdict_counts(summary) == {"trains": 6, "partial": 1, "fails": 4, "diverged": 1}
    assert [f.heading for f in found][-1] == "Dead and saturated units"


def test_group_combinations_is_compact(grid: Any) -> None:
    combos = {("zeros", a, d) for a in ACTS for d in DEPTHS} | {
        ("he_normal", "tanh", 1),
        ("he_normal", "tanh", 3),
    }
    assert fnd.group_combinations(combos, grid) == [
        "he_normal \u00d7 tanh (all depths)",
        "zeros \u00d7 every activation at every depth",
    ]


# --- heatmaps and helpers --------------------------------------------------------------------


def test_heatmap_marks_diverged_cells(summary: pd.DataFrame) -> None:
    cells = heatmap_cells(summary, 3, INITS, ACTS, "final_test_acc_mean")
    i, j = INITS.index("he_normal"), ACTS.index("tanh")
    assert cells.diverged[i, j] and cells.diverged.sum() == 1
    # every seed diverged: counted as failed runs at chance (1 / 10 classes), marked "div"
    assert cells.values[i, j] == pytest.approx(0.1)
    assert cells.label(i, j, ".2f") == "0.10\ndiv"
    assert cells.label(INITS.index("he_normal"), ACTS.index("relu"), ".2f") == "0.96"
    # a value measured at init is still shown, with the mark
    ratio = heatmap_cells(summary, 3, INITS, ACTS, "log10_delta_ratio_init_mean")
    assert ratio.label(i, j, "+.1f").endswith("\ndiv")
    # one of two seeds diverged: the value of the other seed and a "1/2 div" mark
    partly = summary.astype({"share_diverged": float})
    row = (
        (partly["initializer"] == "he_normal")
        & (partly["activation"] == "relu")
        & (partly["depth"] == 3)
    )
    partly.loc[row, "share_diverged"] = 0.5
    cells = heatmap_cells(partly, 3, INITS, ACTS, "final_test_acc_mean")
    assert cells.label(INITS.index("he_normal"), ACTS.index("relu"), ".2f") == "0.96\n1/2 div"


def test_heatmap_zero_gradient_label(summary: pd.DataFrame) -> None:
    zero = {("zeros", a, 3) for a in ACTS}
    cells = heatmap_cells(summary, 3, INITS, ACTS, "log10_delta_ratio_init_mean", zero)
    assert cells.label(INITS.index("zeros"), 0, "+.1f") == "-inf"
    assert cells.label(0, 0, "+.1f") == "-0.1"  # glorot_uniform x tanh: 10**-0.1 by design


def test_heatmap_chunks() -> None:
    assert heatmap_chunks(8, 8, 400) == [(slice(0, 8), slice(0, 8))]
    parts = heatmap_chunks(8, 10, 40)  # 5 columns per part
    assert parts == [(slice(0, 8), slice(0, 5)), (slice(0, 8), slice(5, 10))]
    parts = heatmap_chunks(30, 4, 20)  # more rows than cells: one column, 20 rows
    assert sum((r.stop - r.start) * (c.stop - c.start) for r, c in parts) == 120
    assert all((r.stop - r.start) * (c.stop - c.start) <= 20 for r, c in parts)


def test_choose_highlights(summary: pd.DataFrame, grid: Any) -> None:
    chosen = choose_highlights(make_config(highlight=[]), summary, grid)
    pairs = [p for p, _ in chosen]
    assert len(pairs) == len(set(pairs)) == 4
    assert pairs[0] == ("he_normal", "relu")  # best at the deepest depth
    assert pairs[1] == ("glorot_uniform", "relu")  # most vanishing
    assert ("he_normal", "tanh") in pairs  # diverged
    configured = choose_highlights(make_config(), summary, grid)
    assert configured == [
        (("he_normal", "relu"), "configured"),
        (("glorot_uniform", "tanh"), "configured"),
    ]


def test_paginate_keeps_blocks_together() -> None:
    block = [TextLine("h", bold=True), TextLine("a"), TextLine("b")]
    pages = paginate([block, block, block], per_page=7)
    assert [len(p) for p in pages] == [6, 3]
    long = [TextLine(str(k)) for k in range(10)]
    assert [len(p) for p in paginate([long], per_page=4)] == [4, 4, 2]


def test_missing_table_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"runs\.csv"):
        load_tables(tmp_path)


def test_config_is_not_modified(tables_dir: Path) -> None:
    config = make_config()
    before = copy.deepcopy(config)
    plan_pages(config, load_tables(tables_dir))
    assert config == before


def test_budget_check_names_slow_and_stuck_cells(summary: pd.DataFrame, grid: Any) -> None:
    """Every cell below the target gets exactly one outcome, read from summary.csv."""
    lines = fnd.budget_check(summary, grid, epochs=2)
    assert lines[0].startswith("Budget check: the seeds below the target trained on to 6 epochs")
    below = summary[summary["verdict"].isin(["fails", "partial"])]
    assert f"of the {len(below)} combinations" in lines[0]
    named = {line.split(" ", 2)[1] for line in lines[1:]}
    assert named == set(below["budget_outcome"]) and "" not in named
    counts = {line.split(" ", 2)[1]: int(line.split(" ", 1)[0]) for line in lines[1:]}
    assert counts == below["budget_outcome"].value_counts().to_dict()
    unchecked = summary.assign(budget_epochs=2)
    (text,) = fnd.budget_check(unchecked, grid, epochs=2)
    assert text.startswith("No budget check") and "slow or stuck is not measured" in text
