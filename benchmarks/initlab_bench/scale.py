"""Section 5, ``scale``: planning, aggregation and report at 1,000 and 10,000 runs."""

from __future__ import annotations

import argparse
import math
import shutil
import time
from pathlib import Path
from typing import Any

from .common import (
    REPO,
    bin_path,
    child_env,
    default_config,
    fnum,
    mb,
    measure,
    note,
    prepared_digits,
    section_header,
    table,
)

SCALE_GRIDS = {  # runs: (custom initializers, activations); x depths x seeds
    1_000: (25, 5),
    10_000: (125, 10),
}
QUICK_SIZES, FULL_SIZES = (1_000,), (1_000, 10_000)
AGGREGATE_HEADERS = (
    "runs",
    "layer rows",
    "aggregate s",
    "aggregate peak RSS MB",
    "report s",
    "report peak RSS MB",
    "PDF MB",
)
SCALE_DEPTHS, SCALE_SEEDS = [1, 4, 10, 30], [0, 1]
SCALE_ACTIVATIONS = [
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "softplus",
]


def section_scale(args: argparse.Namespace, cache: dict[str, Any], workroot: Path) -> None:
    """Print section 5: planning, aggregation and report time and memory per grid size."""
    section_header("5. Scale: planning, aggregation and report for large grids")
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    base = workroot / "scale"
    base.mkdir(parents=True, exist_ok=True)
    data_npz = prepared_digits(workroot)
    templates = template_runs(data_npz, scale_config(1_000))
    results = {}
    for n in sizes:
        results[n] = measure_size(n, base / f"n{n}", data_npz, templates)
        if not args.keep:
            shutil.rmtree(base / f"n{n}" / "results" / "runs", ignore_errors=True)
    print()
    scale_tables(results)
    if len(sizes) == 2:
        print()
        growth_line(results[sizes[0]], results[sizes[1]], sizes[1] / sizes[0])
    print()
    note(
        "Grids: the default study's settings with custom variance_scaling initializers "
        f"(x activations x depths {SCALE_DEPTHS} x seeds {SCALE_SEEDS}); 1,000 runs = 25 "
        "initializers x 5 activations, 10,000 runs = 125 x 10. Planning is `snakemake -n "
        "--cores 2` with the repository's Snakefile in an empty folder (--directory). The chunk "
        "files hold copies of four real trained runs (one per depth, default settings on "
        "digits) with each summary's config and run_id rewritten to the run's spec, so "
        "`initlab aggregate` reads, checks and tabulates them as real runs. Peak RSS via "
        "getrusage(RUSAGE_CHILDREN) of a wrapper process."
    )
    cache["scale"] = results


def scale_config(n_runs: int) -> dict[str, Any]:
    """Return the default study with enough custom initializers (and activations) for ``n_runs``."""
    n_inits, n_acts = SCALE_GRIDS[n_runs]
    cfg = default_config()
    custom = {
        f"vs{i:03d}": {
            "family": "variance_scaling",
            "scale": round(0.5 + 0.02 * i, 4),
            "mode": "fan_in",
            "distribution": "untruncated_normal",
        }
        for i in range(n_inits)
    }
    cfg.update(
        study=f"scale{n_runs}",
        results="results",
        initializers=list(custom),
        activations=SCALE_ACTIVATIONS[:n_acts],
        depths=SCALE_DEPTHS,
        seeds=SCALE_SEEDS,
        custom_initializers=custom,
    )
    names = list(custom)
    cfg["report"]["highlight"] = [[names[0], "tanh"], [names[1], "relu"]]
    assert len(custom) * n_acts * len(SCALE_DEPTHS) * len(SCALE_SEEDS) == n_runs
    return cfg


def write_config(workdir: Path, cfg: dict[str, Any]) -> None:
    """Write ``cfg`` as ``workdir/config/config.yaml``."""
    import yaml

    (workdir / "config").mkdir(parents=True, exist_ok=True)
    # The Snakefile reads config/config.yaml relative to the working directory (--directory).
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def plan(workdir: Path) -> dict[str, Any]:
    """Time ``snakemake -n`` on ``workdir``; the result's ``jobs`` is Snakemake's job count."""
    cmd = [
        bin_path("snakemake"),
        "-n",
        "--cores",
        "2",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
    ]
    res = measure(cmd, env=child_env())
    total = None
    for line in res["output"].splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "total":
            total = int(parts[1])
    res["jobs"] = total
    return res


def template_runs(data_npz: Path, cfg: dict[str, Any]) -> dict[int, Any]:
    """Train one real network per depth of the scale grid, at the study's settings.

    Returns
    -------
    dict
        The :class:`initlab.train.RunResult` of each depth.
    """
    from threadpoolctl import threadpool_limits

    from initlab.data import load_prepared
    from initlab.study import Study
    from initlab.train import train

    study = Study(cfg)
    dataset = load_prepared(data_npz)
    out = {}
    with threadpool_limits(limits=1):
        for depth in SCALE_DEPTHS:
            spec = study.base_spec("he_normal", "relu", depth, 0)
            out[depth] = train(spec, dataset)
    return out


def synthesize_study(workdir: Path, cfg: dict[str, Any], templates: dict[int, Any]) -> int:
    """Write every chunk of ``cfg`` under ``workdir`` from the template runs.

    Each run's summary gets its own config and run_id (the aggregator checks that
    ``summary["config"] == spec.to_dict()``); its layer rows are the template's of its depth.
    The chunk files are written by :func:`initlab.chunks.write_chunk`, as a training job
    writes them.

    Returns
    -------
    int
        The number of runs written.
    """
    from initlab.chunks import write_chunk
    from initlab.study import load_schema, load_study
    from initlab.train import RunResult

    study = load_study(cfg, load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    (workdir / study.results).mkdir(parents=True, exist_ok=True)
    (workdir / study.results / "study.json").write_text(study.to_json())
    n = 0
    for chunk in study.chunks():
        results = []
        for spec in study.chunk_specs(chunk):
            tmpl = templates[spec.depth]
            summary = dict(tmpl.summary, run_id=spec.run_id, config=spec.to_dict())
            results.append((spec.run_id, RunResult(summary, tmpl.layers, tmpl.timing)))
        write_chunk(workdir / chunk.folder, results)
        n += len(results)
    return n


def measure_size(n: int, wd: Path, data_npz: Path, templates: dict[int, Any]) -> dict[str, Any]:
    """Plan, synthesize, aggregate and report a study of ``n`` runs in ``wd``; time each step.

    Returns
    -------
    dict
        Seconds and peak RSS (KiB) of planning, aggregation and report, the planned job count,
        the rows of the aggregated ``layers.csv``, the PDF's size and the time to write the runs.
    """
    cfg = scale_config(n)
    write_config(wd, cfg)
    print(f"(N = {n:,}: planning ...)", flush=True)
    p = plan(wd)
    t = time.perf_counter()
    written = synthesize_study(wd, cfg, templates)
    t_write = time.perf_counter() - t
    data_dir = wd / "results" / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(data_npz, data_dir / "digits.npz")
    print(
        f"(N = {n:,}: {written:,} synthetic runs written in {t_write:.1f} s; aggregating ...)",
        flush=True,
    )
    agg, layer_rows = aggregate(wd)
    print(f"(N = {n:,}: rendering the report ...)", flush=True)
    rep = report(wd)
    return {
        "plan_s": p["wall"],
        "plan_kib": p["maxrss_kib"],
        "jobs": p["jobs"],
        "agg_s": agg["wall"],
        "agg_kib": agg["maxrss_kib"],
        "report_s": rep["wall"],
        "report_kib": rep["maxrss_kib"],
        "layer_rows": layer_rows,
        "pdf_mb": (wd / "results" / "report.pdf").stat().st_size / 1e6,
        "write_s": t_write,
    }


def aggregate(wd: Path) -> tuple[dict[str, Any], int]:
    """Time ``initlab aggregate`` on the study in ``wd``; return it and the layer rows written."""
    agg = measure(
        [
            bin_path("initlab"),
            "aggregate",
            "--study",
            "results/study.json",
            "--out",
            "results/tables",
        ],
        cwd=wd,
        env=child_env(),
    )
    with open(wd / "results" / "tables" / "layers.csv") as fh:
        layer_rows = sum(1 for _ in fh) - 1
    return agg, layer_rows


def report(wd: Path) -> dict[str, Any]:
    """Time ``initlab report`` (with figures, as the workflow calls it) on the study in ``wd``."""
    return measure(
        [
            bin_path("initlab"),
            "report",
            "--study",
            "results/study.json",
            "--tables",
            "results/tables",
            "--figures",
            "results/figures",
            "--out",
            "results/report.pdf",
        ],
        cwd=wd,
        env=child_env(),
    )


def scale_tables(results: dict[int, dict[str, Any]]) -> None:
    """Print the planning table and the aggregation and report table, one row per size."""
    plan_rows, agg_rows = [], []
    for n, r in results.items():
        plan_rows.append(
            [
                f"{n:,}",
                f"{n // len(SCALE_SEEDS):,}",
                f"{r['jobs']:,}" if r["jobs"] else "?",
                fnum(r["plan_s"]),
                mb(r["plan_kib"]),
            ]
        )
        agg_rows.append(
            [
                f"{n:,}",
                f"{r['layer_rows']:,}",
                fnum(r["agg_s"]),
                mb(r["agg_kib"]),
                fnum(r["report_s"]),
                mb(r["report_kib"]),
                fnum(r["pdf_mb"]),
            ]
        )
    table(["runs", "training jobs", "jobs planned", "snakemake -n s", "peak RSS MB"], plan_rows)
    print()
    table(AGGREGATE_HEADERS, agg_rows)


def growth_line(a: dict[str, Any], b: dict[str, Any], factor: float) -> None:
    """Print the growth exponents between two sizes ``factor`` apart (figures ``a``, ``b``)."""
    k = math.log10(factor)
    print(
        "growth exponent between 1,000 and 10,000 runs (time ~ N^k, k = log10 ratio): "
        f"planning k = {math.log10(b['plan_s'] / a['plan_s']) / k:.2f}, "
        f"aggregation k = {math.log10(b['agg_s'] / a['agg_s']) / k:.2f}, "
        f"report k = {math.log10(b['report_s'] / a['report_s']) / k:.2f}; "
        f"aggregation memory k = {math.log10(b['agg_kib'] / a['agg_kib']) / k:.2f}"
    )
