"""Structure of the source: every function of the package and of the benchmarks stays short.

A function's length is the number of source lines of its body, its docstring excluded; nested
functions count towards the function that holds them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

MAX_FUNCTION_LINES = 60
ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "src" / "initlab").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py")])


def body_lines(func: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Source lines of ``func``'s body, from its first statement after the docstring."""
    body = func.body
    first = body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
        and len(body) > 1
    ):
        first = body[1]
    end = body[-1].end_lineno
    assert end is not None
    return end - first.lineno + 1


def function_lengths(path: Path) -> dict[str, int]:
    """``{qualified name: body lines}`` of every function and method defined in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    lengths: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                lengths[name] = body_lines(child)
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return lengths


def test_the_sources_were_found() -> None:
    assert {p.name for p in SOURCES} >= {"__init__.py", "writer.py", "train.py", "bench.py"}


def test_body_lines_skips_the_docstring() -> None:
    source = 'def f():\n    """Doc.\n\n    More.\n    """\n    x = 1\n    return x\n'
    (func,) = ast.parse(source).body
    assert isinstance(func, ast.FunctionDef)
    assert body_lines(func) == 2


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_no_function_exceeds_the_limit(path: Path) -> None:
    lengths = function_lengths(path)
    too_long = {name: n for name, n in lengths.items() if n > MAX_FUNCTION_LINES}
    assert not too_long, f"over {MAX_FUNCTION_LINES} body lines in {path.name}: {too_long}"
