"""Tests of the Jacobian-spectrum and correlation-map pages (:mod:`initlab.report.spectra_pages`).

The tables come from :func:`tests.test_report.make_tables` (3 initializers x 2 activations x
depths 1 and 3 x 2 seeds; zero weights have a zero Jacobian) plus a small hand-made grid with an
orthogonal initializer and an activation without any finite spectrum.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from test_report import ACTS, DEPTHS, INITS, SEEDS, make_config, make_tables

from initlab.report import plan_pages, spectra_pages
from initlab.report.data import Tables, load_tables
from initlab.report.style import initializer_colors, rc_context
from initlab.report.writer import SECTION_TITLES, contents

COLORS = initializer_colors(INITS)


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Tables:
    out = tmp_path_factory.mktemp("spectra_tables")
    make_tables(out)
    return load_tables(out)


def visible_axes(fig: Figure) -> list[Axes]:
    """Data panels: visible axes with their frame on (a legend slot has its axis off)."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.axison]


def footnote(fig: Figure) -> str:
    """The footnote (the figure's x label, see ``set_footnote``), unwrapped."""
    label = fig._supxlabel
    return label.get_text().replace("\n", " ") if label is not None else ""


def colored_lines(ax: Axes, color: tuple[float, ...]) -> list:
    return [
        line
        for line in ax.get_lines()
        if np.allclose(to_rgba(line.get_color()), to_rgba(color))
        and np.isfinite(np.asarray(line.get_ydata(), dtype=float)).any()
    ]


def test_spectra_page_panels_and_lines(tables: Tables) -> None:
    with rc_context():
        fig = spectra_pages.plot_jacobian_spectra(
            tables.runs, tables.theory, ACTS, INITS, DEPTHS, COLORS, {"he_normal"}, len(SEEDS)
        )
    axes = visible_axes(fig)
    assert len(axes) == 2 * len(ACTS)  # spread and mean s^2 per activation
    spread_tanh, s2_tanh = fig.axes[0], fig.axes[len(ACTS)]
    assert spread_tanh.get_title() == "tanh"
    for init in ("glorot_uniform", "he_normal"):  # finite spreads and mean s^2
        assert colored_lines(spread_tanh, COLORS[init])
        # measured (solid) and predicted (dashed) mean s^2
        styles = {line.get_linestyle() for line in colored_lines(s2_tanh, COLORS[init])}
        assert {"-", "--"} <= styles
    zero_lines = colored_lines(spread_tanh, COLORS["zeros"])  # only the top-edge marks
    assert [line.get_marker() for line in zero_lines] == ["^"]
    assert s2_tanh.get_yscale() == "log"
    # the emphasized initializer is drawn thicker
    widths = {i: colored_lines(spread_tanh, COLORS[i])[0].get_linewidth() for i in INITS[:2]}
    assert widths["he_normal"] > widths["glorot_uniform"]
    note = footnote(fig)
    assert "16 probe inputs" in note and "2 seeds" in note
    assert "Saxe" in note and "Pennington" in note
    # zero weights: no spread (triangles on the top edge), zero mean s^2 left off the log
    # axis, and both are said
    assert "Triangles on the top edge" in note
    assert "Not drawn on the log axis" in note and "zeros (every panel)" in note
    assert len(zero_lines[0].get_xdata()) == len(DEPTHS)


def test_spectrum_by_depth_statistics(tables: Tables) -> None:
    stats = spectra_pages.spectrum_by_depth(tables.runs, tables.theory, "tanh", INITS, DEPTHS)
    assert len(stats) == len(INITS) * len(DEPTHS)
    row = stats[(stats["initializer"] == "he_normal") & (stats["depth"] == 3)].iloc[0]
    # spreads 0.3 sqrt(3) (1 + 0.1 seed) over seeds 0 and 1
    assert row["spread_min"] == pytest.approx(0.3 * 3**0.5)
    assert row["spread_max"] == pytest.approx(0.33 * 3**0.5)
    assert row["spread_mean"] == pytest.approx(0.315 * 3**0.5)
    assert row["n_runs"] == row["spread_n"] == 2
    zeros = stats[stats["initializer"] == "zeros"]
    assert zeros["spread_mean"].isna().all() and (zeros["s2_mean"] == 0).all()


def test_correlation_page_panels_and_lines(tables: Tables) -> None:
    with rc_context():
        fig = spectra_pages.plot_correlation_map(tables.theory, 3, ACTS, INITS, COLORS)
    assert len(visible_axes(fig)) == len(ACTS)
    assert len(fig.axes[0].get_legend_handles_labels()[0]) == 0  # legend is in a spare slot
    ax = fig.axes[0]
    for init in ("glorot_uniform", "he_normal"):
        styles = {line.get_linestyle() for line in colored_lines(ax, COLORS[init])}
        assert {"-", "--"} <= styles
    note = footnote(fig)
    assert "cosine 0.5" in note and "Poole" in note and "Schoenholz" in note


def _hand_tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """runs and theory of orthogonal / random_normal / zeros x tanh / broken at depths 2, 8."""
    nan = float("nan")
    runs, theory = [], []
    for init in ("orthogonal", "random_normal", "zeros"):
        for act in ("tanh", "broken"):
            for depth in (2, 8):
                for seed in (0, 1):
                    bad = act == "broken" or init == "zeros"
                    spread = nan if bad else (0.05 if init == "orthogonal" else 0.2) * depth
                    runs.append(
                        {
                            "initializer": init,
                            "activation": act,
                            "depth": depth,
                            "seed": seed,
                            "diverged": False,
                            "jac_mean_s2": 0.0 if init == "zeros" else (nan if bad else 1.0),
                            "jac_std_log_s": spread,
                            "jac_max_s": nan,
                            "jac_min_s": nan,
                        }
                    )
                for layer in range(1, depth + 2):
                    hidden = layer <= depth
                    c = 1.0 - 0.5 * 0.8**layer if hidden and not bad else nan
                    theory.append(
                        {
                            "initializer": init,
                            "activation": act,
                            "depth": depth,
                            "layer": layer,
                            "jac_mean_s2_pred": (0.0 if init == "zeros" else 1.0)
                            if hidden and act == "tanh"
                            else nan,
                            "c_pred": c,
                            "c_meas_mean": c + 0.01,
                            "c_meas_std": 0.02 if hidden else nan,
                        }
                    )
    return pd.DataFrame(runs), pd.DataFrame(theory)


def test_nan_and_zero_data_do_not_crash() -> None:
    runs, theory = _hand_tables()
    inits = ["orthogonal", "random_normal", "zeros"]
    colors = initializer_colors(inits)
    config = {"custom_initializers": {}}
    orthogonal = spectra_pages.orthogonal_initializers(config, inits)
    assert orthogonal == {"orthogonal"}
    acts = spectra_pages.spectrum_activations(runs, ["tanh", "broken"])
    assert acts == ["tanh"]  # nothing finite for "broken"
    assert spectra_pages.correlation_activations(theory, 8, ["tanh", "broken"]) == ["tanh"]
    with rc_context():
        fig = spectra_pages.plot_jacobian_spectra(
            runs, theory, ["tanh", "broken"], inits, [2, 8], colors, orthogonal, 2
        )
        corr = spectra_pages.plot_correlation_map(
            theory, 8, ["tanh", "broken"], inits, colors, orthogonal
        )
        fig.canvas.draw()  # draws without errors despite the NaN and zero values
        corr.canvas.draw()
    note = footnote(fig)
    assert "Not drawn on the log axis" in note
    assert "zeros (every panel), orthogonal \u00d7 broken, random_normal \u00d7 broken" in note
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any("undefined for every initializer" in t for t in texts)
    assert "Not drawn (no finite cosine" in footnote(corr)
    assert "zeros (every panel), orthogonal \u00d7 broken" in footnote(corr)
    assert corr.axes[1].get_title().endswith("no finite value: orthogonal, random_normal")
    # the orthogonal initializer stands out
    spread = fig.axes[0]
    width = {i: colored_lines(spread, colors[i])[0].get_linewidth() for i in inits[:2]}
    assert width["orthogonal"] > width["random_normal"]


def test_custom_orthogonal_and_page_chunks() -> None:
    config = {
        "custom_initializers": {
            "orth_gain2": {"family": "orthogonal", "gain": 2.0},
            "orthogonal": {"family": "normal", "std": 0.1},  # a custom name shadows a built-in
        }
    }
    found = spectra_pages.orthogonal_initializers(config, ["orth_gain2", "orthogonal", "zeros"])
    assert found == {"orth_gain2"}
    assert spectra_pages.page_chunks(list("abcde"), 4) == [["a", "b", "c"], ["d", "e"]]
    assert spectra_pages.page_chunks(list("abcdefgh"), 4) == [list("abcd"), list("efgh")]
    assert spectra_pages.page_chunks([], 4) == []


def test_plan_places_the_pages_after_theory(tables: Tables) -> None:
    pages = plan_pages(make_config(), tables)
    sections = [p.section for p in pages]
    i = sections.index("spectra")
    assert sections[i - 1] == "theory"
    assert sections[i : i + 3] == ["spectra", "correlation_map", "phase_diagram"]
    titles = [t for t, _ in contents(pages[1:], first_page=2)]
    assert SECTION_TITLES["spectra"] in titles and SECTION_TITLES["correlation_map"] in titles
    # tables without the Jacobian columns (older studies) get no spectrum page
    old = Tables(
        runs=tables.runs.drop(columns=["jac_mean_s2", "jac_std_log_s"]),
        layers=tables.layers,
        curves=tables.curves,
        summary=tables.summary,
        theory=tables.theory.drop(columns=["c_pred", "c_meas_mean"]),
        phase=tables.phase,
        recommendations=tables.recommendations,
        initializers=tables.initializers,
    )
    sections = [p.section for p in plan_pages(make_config(), old)]
    assert "spectra" not in sections and "correlation_map" not in sections


@pytest.mark.parametrize("kind", ["spectra", "correlation_map"])
def test_pages_render_to_png(tables: Tables, kind: str, tmp_path: Path) -> None:
    page = next(p for p in plan_pages(make_config(), tables) if p.section == kind)
    with rc_context():
        fig = page.build()
        out = tmp_path / f"{kind}.png"
        fig.savefig(out, dpi=60)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
