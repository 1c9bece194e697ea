"""Data flow one way: config -> runs -> records -> tables -> report. Checked on the source's
import statements (every ``import``, including those inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "initlab"


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The initlab modules ``path`` imports (``from initlab import x`` counts as initlab.x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("initlab")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("initlab"):
            if node.module == "initlab":
                found |= {f"initlab.{a.name}" for a in node.names if a.name != "__version__"}
            else:
                found.add(node.module)
    return found


GRAPH = {_module(p): _imports(p) for p in SRC.rglob("*.py")}

REPORT_MAY_IMPORT = (
    "initlab.report",
    "initlab.layout",
    "initlab.records",
    "initlab.io",
    "initlab.progress",
)
TRAINING = (
    "initlab.train",
    "initlab.stats",
    "initlab.spectra",
    "initlab.model",
    "initlab.optim",
    "initlab.data",
)


def _allowed(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_graph_was_read() -> None:
    assert {"initlab.aggregate", "initlab.report.writer", "initlab.train"} <= set(GRAPH)
    assert "initlab.records" in GRAPH["initlab.aggregate"]


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("initlab.report")))
def test_the_report_reads_tables_only(module: str) -> None:
    """The report imports table readers and plotting helpers, never training, study or
    theory code: what it draws was computed into a table by aggregation."""
    bad = {m for m in GRAPH[module] if not _allowed(m, REPORT_MAY_IMPORT)}
    assert not bad, f"{module} imports {sorted(bad)}"


def test_aggregation_reads_records_not_training_modules() -> None:
    bad = {m for m in GRAPH["initlab.aggregate"] if _allowed(m, TRAINING)}
    assert not bad, sorted(bad)


@pytest.mark.parametrize("module", ["initlab.records", "initlab.layout", "initlab.claims"])
def test_definitions_and_rules_are_leaves(module: str) -> None:
    assert GRAPH[module] == set(), GRAPH[module]


@pytest.mark.parametrize("module", TRAINING)
def test_training_does_not_reach_downstream(module: str) -> None:
    downstream = ("initlab.aggregate", "initlab.report", "initlab.claims", "initlab.study")
    bad = {m for m in GRAPH[module] if _allowed(m, downstream)}
    assert not bad, f"{module} imports {sorted(bad)}"
