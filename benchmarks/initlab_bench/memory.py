"""Section 6, ``memory``: peak RSS of one training job, as the workflow runs it."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import (
    child_env,
    default_config,
    fnum,
    initlab_run,
    mb,
    measure,
    prepared_digits,
    section_header,
    table,
)
from .workload import n_params

DEPTH, WIDTHS = 30, (64, 1024)
HEADERS = (
    "depth",
    "width",
    "params (input 64)",
    "epochs",
    "seeds",
    "wall s",
    "peak RSS MB",
    "workflow mem_mb request",
    "request covers peak",
)


def section_memory(args: argparse.Namespace, cache: dict[str, Any], workroot: Path) -> None:
    """Print section 6: one job per width, its peak RSS and the workflow's memory request."""
    section_header("6. Peak memory of one training job (`initlab run`, as the workflow runs it)")
    base = workroot / "memory"
    base.mkdir(parents=True, exist_ok=True)
    data_npz = prepared_digits(workroot)
    defaults = default_config()
    rows = []
    base_rss = measure([sys.executable, "-c", "import initlab.train"], env=child_env())
    for width in WIDTHS:
        cfg, job_seeds = job_config(defaults, width, args.quick)
        figures = measure_job(cfg, job_seeds, len(defaults["seeds"]), data_npz, base / f"w{width}")
        rows.append(
            [
                DEPTH,
                width,
                f"{n_params(width, DEPTH):,}",
                cfg["training"]["epochs"],
                len(job_seeds),
                fnum(figures["wall"]),
                mb(figures["maxrss_kib"]),
                f"{figures['request_mb']:,}",
                "yes" if figures["maxrss_kib"] / 1024 <= figures["request_mb"] else "NO",
            ]
        )
        cache.setdefault("memory", {})[width] = figures
    table(HEADERS, rows)
    print()
    print(
        f'baseline: `python -c "import initlab.train"` peaks at '
        f"{mb(base_rss['maxrss_kib'])} MB. Jobs train on the prepared digits split (1,079 "
        "training samples), he_normal + relu, default training settings"
        + "; width 1024 with fewer epochs"
        + (" and 1 seed (--quick)" if args.quick else "")
        + " to save time: a job's memory does not grow with epochs. The request is the "
        "workflow's mem_mb for the job (Study.job_resources, first attempt)."
    )


def job_config(
    defaults: dict[str, Any], width: int, quick: bool
) -> tuple[dict[str, Any], list[int]]:
    """Return the default study at ``width`` and the seeds of its job.

    Above width 64 the job trains 2 epochs (quick: 1 epoch and 1 seed): peak memory does not
    grow with epochs, wall time does.
    """
    cfg = json.loads(json.dumps(defaults))
    cfg["width"] = width
    seeds = [int(s) for s in defaults["seeds"]]
    job_seeds = seeds
    if width > 64:
        epochs, job_seeds = (1, seeds[:1]) if quick else (2, seeds)
        cfg["training"]["epochs"] = epochs
    cfg.setdefault("custom_initializers", {})
    cfg.setdefault("custom_activations", {})
    return cfg, job_seeds


def measure_job(
    cfg: dict[str, Any], job_seeds: Sequence[int], n_seeds: int, data_npz: Path, out: Path
) -> dict[str, Any]:
    """Run one depth-30 training job of ``cfg``; return its wall time, peak RSS and request.

    Parameters
    ----------
    cfg : dict
        The study configuration (width and epochs set).
    job_seeds : sequence of int
        The seeds this job trains.
    n_seeds : int
        The study's number of seeds, which the workflow's memory request is computed for.
    data_npz : Path
        The prepared data.
    out : Path
        The job's output folder.

    Returns
    -------
    dict
        ``wall`` (seconds), ``maxrss_kib`` and ``request_mb`` (``Study.job_resources``, first
        attempt).
    """
    from initlab.study import Study

    study = Study(cfg)
    spec = study.base_spec("he_normal", "relu", DEPTH, 0).to_dict()
    del spec["seed"]
    options = ["--spec-json", json.dumps(spec), "--seeds", *map(str, job_seeds)]
    res = measure(initlab_run(options, data_npz, out), env=child_env())
    request = study.job_resources(study.base_spec("he_normal", "relu", DEPTH, 0), n_seeds)["mem_mb"]
    return {"wall": res["wall"], "maxrss_kib": res["maxrss_kib"], "request_mb": request}
