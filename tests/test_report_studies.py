"""The shipped studies' reports, rendered from networks that really trained, keep every text on
its page and apart.

The default study (config/config.yaml) and one classic study (config/studies/glorot2010.yaml)
are planned from their own configuration files, so the page plan, the claims, the highlights
and the grid are theirs; only the budget is cut to one epoch (no budget check) so that the
whole grid trains in-process in about a minute. The layout depends on the grid and on the
lengths of the texts, not on how well the networks learned, but the numbers printed are real
ones (accuracies, ties, claims verdicts), not synthetic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_report_layout import layout_problems
from threadpoolctl import threadpool_limits

from initlab import io, settings
from initlab.aggregate import aggregate
from initlab.chunks import ChunkPlan, train_chunk
from initlab.data import load_dataset
from initlab.report import plan_pages
from initlab.report.data import load_tables
from initlab.study import load_study

ROOT = Path(__file__).resolve().parents[1]


def _train_study(config_file: Path, results: Path) -> tuple[dict[str, Any], Path]:
    """Plan the study of ``config_file`` with a one-epoch budget, train every run in-process,
    aggregate; return the resolved configuration and the tables folder."""
    config = yaml.safe_load(config_file.read_text())
    config["results"] = str(results)
    config["training"] = {**config.get("training", {}), "epochs": 1, "budget_check": 1}
    study = load_study(config, settings.schema())
    dataset = load_dataset(study.config["dataset"])
    with threadpool_limits(limits=1):
        for chunk in study.chunks():
            plan = ChunkPlan(json.loads(study.chunk_json(chunk)))
            train_chunk(plan, dataset, chunk.folder, log=lambda line: None)
    study_json = results / "study.json"
    io.write_json(study_json, study.config)
    aggregate(study_json, results / "tables")
    return study.config, results / "tables"


@pytest.mark.parametrize(
    "config_file", ["config/config.yaml", "config/studies/glorot2010.yaml"], ids=lambda p: p
)
def test_shipped_study_report_is_legible(config_file: str, tmp_path: Path) -> None:
    config, tables_dir = _train_study(ROOT / config_file, tmp_path / "results")
    tables = load_tables(tables_dir)
    pages = plan_pages(config, tables)
    assert pages[0].section == "recommendations"
    assert {"guide", "findings", "heatmaps", "units_at_end", "appendix"} <= {
        p.section for p in pages
    }
    if config.get("claims"):
        assert "claims" in {p.section for p in pages}
    problems = layout_problems(pages)
    assert not problems, "\n".join(problems)


def test_axes_of_whole_reals_and_width_find_their_baseline(tmp_path: Path) -> None:
    """bias_std: [0, 1.0] (reals that print like integers) and width: [8, 4] as axes: the
    tables written and read back select the baseline point (bias_std 0.0, width 8) and only it,
    curves included."""
    config_file = tmp_path / "axes.yaml"
    config_file.write_text(
        yaml.safe_dump(
            {
                "study": "axes",
                "initializers": ["he_normal"],
                "activations": ["tanh"],
                "depths": [2],
                "seeds": [0, 1],
                "width": [8, 4],
                "bias_std": [0, 1.0],
                "report": {"highlight": []},
            }
        )
    )
    _, tables_dir = _train_study(config_file, tmp_path / "results")
    tables = load_tables(tables_dir)
    assert len(tables.all_runs) == 8
    for table in (tables.runs, tables.curves, tables.summary):
        assert set(table["width"]) == {8} and set(table["bias_std"]) == {0.0}
    assert len(tables.runs) == 2 and len(tables.summary) == 1
    assert tables.curves["run_id"].nunique() == 2
    text = (tables_dir / "runs.csv").read_text()
    assert ",0.0," in text and ",1.0," in text  # the folder-name form of the axis values
