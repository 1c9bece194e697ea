"""The command line: options, the order of the sections, the closing lines and the JSON dump."""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from . import __doc__ as PACKAGE_DOC
from .common import loadavg
from .engine import section_engine
from .ensemble import section_ensemble
from .machine import machine_facts, print_header
from .memory import section_memory
from .monitoring import section_monitoring
from .pipeline import section_pipeline
from .pytorch import section_torch
from .scale import section_scale
from .stats import section_stats
from .targets import verdicts

SECTIONS = (
    "engine",
    "stats",
    "torch",
    "ensemble",
    "monitoring",
    "pipeline",
    "scale",
    "memory",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``python benchmarks/bench.py``."""
    p = argparse.ArgumentParser(
        prog="python benchmarks/bench.py",
        description=(PACKAGE_DOC or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Sections: " + ", ".join(SECTIONS) + ". See benchmarks/README.md.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="fewer shapes, shorter runs, scale at 1,000 runs only (~5 minutes)",
    )
    p.add_argument(
        "--section",
        default=",".join(SECTIONS),
        help="comma-separated sections to run (default: all)",
    )
    p.add_argument(
        "--pipeline-wall",
        type=float,
        metavar="SECONDS",
        help="wall time of the finished default study in --results (else read from "
        "the newest complete default run in .snakemake/log, if any)",
    )
    p.add_argument(
        "--pipeline-cores", type=int, default=2, help="--cores the default study ran with (2)"
    )
    p.add_argument(
        "--results",
        default="results",
        help="results folder of the default study, relative to the repo (results)",
    )
    p.add_argument(
        "--torch-python",
        metavar="PATH",
        help="python interpreter with torch and numpy for section 'torch' (or set "
        "INITLAB_BENCH_TORCH_PYTHON); default: this interpreter",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        help="scratch folder (default: a new temporary folder, removed at the end)",
    )
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write every figure as JSON")
    return p


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line; ``args.sections`` lists the chosen sections in running order."""
    p = build_parser()
    args = p.parse_args(argv)
    sections = [s.strip() for s in args.section.split(",") if s.strip()]
    bad = [s for s in sections if s not in SECTIONS]
    if bad or not sections:
        p.error(f"--section: unknown {bad}; allowed: {', '.join(SECTIONS)}")
    args.sections = [s for s in SECTIONS if s in sections]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen sections, print the targets and, with ``--json``, write every figure.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code: 0 when every target the sections measured was met, 1 otherwise.
    """
    args = parse_args(argv)
    threadpool_limits(limits=1)  # for the whole process: every BLAS call runs on one thread
    facts = machine_facts()
    print_header(facts, args.quick, args.sections)
    t0 = time.perf_counter()
    cache: dict[str, Any] = {}
    workroot = args.workdir or Path(tempfile.mkdtemp(prefix="initlab-bench-"))
    workroot.mkdir(parents=True, exist_ok=True)
    runners: dict[str, Callable[[], None]] = {
        "engine": lambda: section_engine(args, cache),
        "stats": lambda: section_stats(args, cache),
        "torch": lambda: section_torch(args, cache),
        "ensemble": lambda: section_ensemble(args, cache),
        "monitoring": lambda: section_monitoring(args, cache),
        "pipeline": lambda: section_pipeline(args, cache, workroot),
        "scale": lambda: section_scale(args, cache, workroot),
        "memory": lambda: section_memory(args, cache, workroot),
    }
    try:
        for name in args.sections:
            runners[name]()
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workroot, ignore_errors=True)
    all_met = verdicts(cache)
    print()
    print(
        f"total benchmark time {time.perf_counter() - t0:.0f} s; load average 1/5/15 min at "
        f"the end: {loadavg()}"
    )
    if args.json:
        write_json(args.json, facts, args, cache)
    return 0 if all_met else 1


def write_json(
    path: Path, facts: dict[str, Any], args: argparse.Namespace, cache: dict[str, Any]
) -> None:
    """Write the machine facts, the options and every raw figure to ``path``."""
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    path.write_text(json.dumps({"machine": facts, "args": options, **cache}, indent=2, default=str))
