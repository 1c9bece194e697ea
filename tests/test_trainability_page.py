"""The sigma_w^2 x depth trainability page (edge-of-chaos studies)."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from initlab.report.trainability import plot_sigma_depth_heatmaps, sweep_activations


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    inits = {"a": (0.5, 1.2), "b": (1.0, 3.6), "c": (2.0, 25.0)}
    theory, summary = [], []
    for init, (sw2, xi) in inits.items():
        for depth in (2, 10):
            for layer in range(1, depth + 2):
                theory.append(
                    {
                        "initializer": init,
                        "activation": "tanh",
                        "depth": depth,
                        "layer": layer,
                        "sigma_w2": sw2,
                        "sigma_w2_hidden": sw2,
                        "xi_c": xi,
                    }
                )
            summary.append(
                {
                    "initializer": init,
                    "activation": "tanh",
                    "depth": depth,
                    "final_test_acc_mean": 0.9 if depth <= 6 * xi else 0.1,
                    "verdict": "trains" if depth <= 6 * xi else "fails",
                }
            )
        theory.append(
            {
                "initializer": init,
                "activation": "relu",
                "depth": 2,
                "layer": 2,
                "sigma_w2": 2.0,
                "sigma_w2_hidden": 2.0,
                "xi_c": float("inf"),
            }
        )
    return pd.DataFrame(summary), pd.DataFrame(theory)


def test_only_activations_with_a_variance_sweep_get_the_page() -> None:
    _, theory = _tables()
    assert sweep_activations(theory, ["tanh", "relu"]) == ["tanh"]
    assert sweep_activations(theory.iloc[0:0], ["tanh"]) == []


def test_page_draws_one_panel_per_swept_activation() -> None:
    summary, theory = _tables()
    fig = plot_sigma_depth_heatmaps(summary, theory, ["tanh"], target=0.9)
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible() and ax.get_title() == "tanh"]
    assert len(visible) == 1
    labels = [t.get_text() for t in visible[0].texts]
    assert labels.count("0.90") == 5 and labels.count("0.10") == 1  # a at depth 10 fails
