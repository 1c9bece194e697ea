"""Section 6, ``memory``: peak RSS of one training job, as the workflow runs it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from initlab import settings

from .common import (
    bin_path,
    child_env,
    default_config,
    fnum,
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
    "networks",
    "wall s",
    "peak RSS MB",
    "workflow mem_mb request",
    "request covers peak",
)


def section_memory(args: argparse.Namespace, cache: dict[str, Any], workroot: Path) -> None:
    """Print section 6: one job per width, its peak RSS and the workflow's memory request."""
    section_header(
        "6. Peak memory of one training job (`initlab train-chunk`, as the workflow runs it)"
    )
    base = workroot / "memory"
    base.mkdir(parents=True, exist_ok=True)
    data_npz = prepared_digits(workroot)
    defaults = default_config()
    rows = []
    base_rss = measure([sys.executable, "-c", "import initlab.train"], env=child_env())
    for width in WIDTHS:
        cfg = job_config(defaults, width, args.quick)
        figures = measure_job(cfg, data_npz, base / f"w{width}")
        rows.append(
            [
                DEPTH,
                width,
                f"{n_params(width, DEPTH):,}",
                cfg["training"].get("epochs", settings.default("epochs")),
                figures["networks"],
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
        "training samples), relu, default training settings; at width 64 the default study's "
        "chunk of depth 30 (its 8 initializers x 2 seeds, trained side by side), at width 1024 "
        "he_normal's seeds only, with fewer epochs"
        + (" and 1 seed (--quick)" if args.quick else "")
        + " to save time: a job's memory does not grow with epochs. The request is the "
        "workflow's mem_mb for the job (Study.job_resources, first attempt)."
    )


def job_config(defaults: dict[str, Any], width: int, quick: bool) -> dict[str, Any]:
    """Return the default study at ``width``, narrowed to one chunk of depth 30 and relu.

    Above width 64 the job trains he_normal only, 2 epochs (quick: 1 epoch and 1 seed): peak
    memory does not grow with epochs, wall time does.
    """
    cfg = json.loads(json.dumps(defaults))
    cfg["width"] = width
    seeds = [int(s) for s in defaults["seeds"]]
    if width > 64:
        epochs, seeds = (1, seeds[:1]) if quick else (2, seeds)
        cfg["training"]["epochs"] = epochs
        cfg["initializers"] = ["he_normal"]
    cfg["seeds"] = seeds
    cfg["activations"] = ["relu"]
    cfg["depths"] = [DEPTH]
    cfg.setdefault("custom_initializers", {})
    cfg.setdefault("custom_activations", {})
    cfg["claims"] = []
    return cfg


def measure_job(cfg: dict[str, Any], data_npz: Path, out: Path) -> dict[str, Any]:
    """Run the depth-30 training chunk of ``cfg``; return its wall time, peak RSS, networks and
    the workflow's memory request.

    Parameters
    ----------
    cfg : dict
        The study configuration (one activation, one depth: one chunk).
    data_npz : Path
        The prepared data.
    out : Path
        The chunk's folder.

    Returns
    -------
    dict
        ``wall`` (seconds), ``maxrss_kib``, ``networks`` and ``request_mb``
        (``Study.job_resources``, first attempt).
    """
    from initlab.study import Study

    study = Study(cfg)
    (chunk,) = study.chunks()
    specs = study.chunk_specs(chunk)
    cmd = [
        bin_path("initlab"),
        "train-chunk",
        "--chunk-json",
        study.chunk_json(chunk),
        "--data",
        str(data_npz),
        "--threads",
        "1",
        "--out",
        str(out),
    ]
    res = measure(cmd, env=child_env())
    request = study.job_resources(specs[0], len(specs))["mem_mb"]
    return {
        "wall": res["wall"],
        "maxrss_kib": res["maxrss_kib"],
        "networks": len(specs),
        "request_mb": request,
    }
