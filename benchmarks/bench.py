"""initlab performance benchmark: one command, one table per section.

Usage (from the repository root, with the package installed)::

    python benchmarks/bench.py [--quick] [--section engine,stats,torch,pipeline,scale,memory]
                               [--pipeline-wall SECONDS] [--torch-python PATH] [--json FILE]

The sections live in the package ``benchmarks/initlab_bench`` (one module per section, see its
docstring); ``benchmarks/README.md`` explains every figure.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)


def run() -> int:
    """Make ``initlab_bench`` importable from any working directory, then run the benchmark."""
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    from initlab_bench.cli import main

    return main()


if __name__ == "__main__":
    raise SystemExit(run())
