"""Section 5, ``scale``: planning, aggregation, report and files of a 100,000-network study."""

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

FULL_SIZES, QUICK_SIZES = (20_000, 100_000), (20_000,)
TARGET_SIZE = 100_000
"""The size the targets are stated for (``--quick`` checks them on its 20,000 networks)."""
SCALE_SEEDS = {20_000: 20, 100_000: 100}
"""Seeds per cell: the grid is the same, only the seeds differ."""
SCALE_INITIALIZERS = 25
SCALE_ACTIVATIONS = ["tanh", "relu", "selu", "gelu", "sigmoid"]
SCALE_DEPTHS = [2, 5, 10, 30]
SCALE_LEARNING_RATES = [0.01, 0.05]
SCALE_CHUNK_SIZE = 1000
"""Networks per training job: 10 initializers x 100 seeds (every initializer's 20 seeds, 500
networks, at 20,000), so that a job trains for minutes on a cluster and ``results/`` holds few
files."""
BLAS_ENV = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def section_scale(args: argparse.Namespace, cache: dict[str, Any], workroot: Path) -> None:
    """Print section 5: planning, aggregation, report and files per grid size."""
    section_header("5. Scale: planning, aggregation and report of a 100,000-network study")
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    base = workroot / "scale"
    base.mkdir(parents=True, exist_ok=True)
    data_npz = prepared_digits(workroot)
    print("(training the template networks, one per depth ...)", flush=True)
    templates = template_runs(data_npz, scale_config(sizes[0]))
    results = {}
    for n in sizes:
        results[n] = measure_size(n, base / f"n{n}", data_npz, templates)
        if not args.keep:
            shutil.rmtree(base / f"n{n}" / "results", ignore_errors=True)
    print()
    scale_tables(results)
    if len(sizes) == 2:
        print()
        growth_line(results[sizes[0]], results[sizes[1]], sizes[1] / sizes[0])
    print()
    note(
        f"Grid: {SCALE_INITIALIZERS} custom variance_scaling initializers (scale 0.5 to 2.9, a "
        f"sigma_w^2 sweep) x {len(SCALE_ACTIVATIONS)} activations x depths {SCALE_DEPTHS} x "
        f"learning_rate {SCALE_LEARNING_RATES} (an extra axis) x 100 seeds = 100,000 networks "
        "(20 seeds: 20,000, the --quick size), the default study's other settings (10 epochs, "
        f"width 64, budget check 3x), chunk_size {SCALE_CHUNK_SIZE}. Planning is `snakemake -n "
        "--cores 2` with the repository's Snakefile in an empty folder (--directory). The chunk "
        "files hold "
        "copies of four real trained networks (one per depth, he_normal/relu at the default "
        "settings on digits) with each summary's config and run_id rewritten to its run's "
        "spec, written by initlab.chunks.write_chunk, so `initlab aggregate` reads, checks and "
        "tabulates them as real runs; only the numbers repeat. Files: every file under "
        "results/ after the report (chunk files, study.json, the prepared data, the tables, "
        "the PDF and its figures; the synthetic study trains nothing, so it writes no "
        "training logs, which a real study adds: one per chunk under results/logs/train). "
        "Peak RSS via getrusage(RUSAGE_CHILDREN) of a wrapper process; BLAS pinned to one "
        "thread in every child."
    )
    cache["scale"] = results


def scale_config(n_runs: int) -> dict[str, Any]:
    """Return the scale study of ``n_runs`` networks (the default study's other settings)."""
    cfg = default_config()
    custom = {
        f"vs{i:03d}": {
            "family": "variance_scaling",
            "scale": round(0.5 + 0.1 * i, 4),
            "mode": "fan_in",
            "distribution": "untruncated_normal",
        }
        for i in range(SCALE_INITIALIZERS)
    }
    seeds = list(range(SCALE_SEEDS[n_runs]))
    cfg.update(
        study=f"scale{n_runs}",
        results="results",
        initializers=list(custom),
        activations=SCALE_ACTIVATIONS,
        depths=SCALE_DEPTHS,
        seeds=seeds,
        custom_initializers=custom,
        chunk_size=SCALE_CHUNK_SIZE,
        claims=[],
    )
    cfg["training"] = {**cfg.get("training", {}), "learning_rate": SCALE_LEARNING_RATES}
    names = list(custom)
    cfg["report"]["highlight"] = [[names[5], "tanh"], [names[10], "relu"]]
    grid = len(custom) * len(SCALE_ACTIVATIONS) * len(SCALE_DEPTHS) * len(SCALE_LEARNING_RATES)
    assert grid * len(seeds) == n_runs
    return cfg


def write_config(workdir: Path, cfg: dict[str, Any]) -> None:
    """Write ``cfg`` as ``workdir/config/config.yaml``."""
    import yaml

    (workdir / "config").mkdir(parents=True, exist_ok=True)
    # The Snakefile reads config/config.yaml relative to the working directory (--directory).
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def _env() -> dict[str, str]:
    return {**child_env(), **BLAS_ENV}


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
    res = measure(cmd, env=_env())
    total = None
    for line in res["output"].splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "total":
            total = int(parts[1])
    res["jobs"] = total
    return res


def template_runs(data_npz: Path, cfg: dict[str, Any]) -> dict[int, Any]:
    """Train one real network per depth of the scale grid, at the study's baseline settings.

    Returns
    -------
    dict
        The :class:`initlab.train.RunResult` of each depth.
    """
    from threadpoolctl import threadpool_limits

    from initlab.data import load_prepared
    from initlab.study import load_schema, load_study
    from initlab.train import train

    study = load_study(cfg, load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml"))
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


def chunk_count(cfg: dict[str, Any]) -> int:
    """The training jobs (chunks) of ``cfg``."""
    from initlab.study import load_schema, load_study

    schema = load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")
    return len(load_study(cfg, schema).chunks())


def count_files(folder: Path) -> int:
    """Every file below ``folder`` (hidden ones included)."""
    return sum(1 for p in folder.rglob("*") if p.is_file())


def measure_size(n: int, wd: Path, data_npz: Path, templates: dict[int, Any]) -> dict[str, Any]:
    """Plan, synthesize, aggregate and report a study of ``n`` runs in ``wd``; time each step.

    Returns
    -------
    dict
        Seconds and peak RSS (KiB) of planning, aggregation and report, the planned job count,
        the layer rows written, the files under ``results/``, the PDF's size and pages, the
        aggregation's log lines and the time to write the runs.
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
        f"(N = {n:,}: {written:,} synthetic runs written in {t_write:.0f} s; aggregating ...)",
        flush=True,
    )
    agg = aggregate(wd)
    print(f"(N = {n:,}: rendering the report ...)", flush=True)
    rep = report(wd)
    files = count_files(wd / "results")
    return {
        "runs": written,
        "chunks": chunk_count(cfg),
        "plan_s": p["wall"],
        "plan_kib": p["maxrss_kib"],
        "jobs": p["jobs"],
        "agg_s": agg["wall"],
        "agg_kib": agg["maxrss_kib"],
        "agg_log_lines": len(agg["output"].strip().splitlines()),
        "report_s": rep["wall"],
        "report_kib": rep["maxrss_kib"],
        "layer_rows": agg["layer_rows"],
        "layers_mb": (wd / "results" / "tables" / "layers.parquet").stat().st_size / 1e6,
        "pdf_mb": (wd / "results" / "report.pdf").stat().st_size / 1e6,
        "files": files,
        "files_per_100": 100.0 * files / written,
        "write_s": t_write,
    }


def aggregate(wd: Path) -> dict[str, Any]:
    """Time ``initlab aggregate`` on the study in ``wd``; ``layer_rows``: rows written."""
    import pyarrow.parquet as pq

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
        env=_env(),
    )
    layers = pq.ParquetFile(wd / "results" / "tables" / "layers.parquet")
    agg["layer_rows"] = layers.metadata.num_rows
    return agg


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
        env=_env(),
    )


def scale_tables(results: dict[int, dict[str, Any]]) -> None:
    """Print the planning table and the aggregation and report table, one row per size."""
    plan_rows, agg_rows = [], []
    for n, r in results.items():
        plan_rows.append(
            [
                f"{n:,}",
                f"{r['chunks']:,}",
                f"{r['jobs']:,}" if r["jobs"] else "?",
                fnum(r["plan_s"]),
                mb(r["plan_kib"]),
            ]
        )
        agg_rows.append(
            [
                f"{n:,}",
                f"{r['layer_rows']:,}",
                fnum(r["layers_mb"]),
                fnum(r["agg_s"]),
                mb(r["agg_kib"]),
                f"{r['agg_log_lines']}",
                fnum(r["report_s"]),
                mb(r["report_kib"]),
                f"{r['files']:,}",
                f"{r['files_per_100']:.2f}",
            ]
        )
    table(["runs", "training jobs", "jobs planned", "snakemake -n s", "peak RSS MB"], plan_rows)
    print()
    table(
        [
            "runs",
            "layer rows",
            "layers.parquet MB",
            "aggregate s",
            "aggregate peak RSS MB",
            "aggregate log lines",
            "report s",
            "report peak RSS MB",
            "files under results/",
            "files per 100 networks",
        ],
        agg_rows,
    )


def growth_line(a: dict[str, Any], b: dict[str, Any], factor: float) -> None:
    """Print the growth exponents between two sizes ``factor`` apart (figures ``a``, ``b``)."""
    k = math.log10(factor)
    print(
        "growth exponent between 20,000 and 100,000 networks (time ~ N^k, k = log ratio / log 5): "
        f"planning k = {math.log10(b['plan_s'] / a['plan_s']) / k:.2f}, "
        f"aggregation k = {math.log10(b['agg_s'] / a['agg_s']) / k:.2f}, "
        f"report k = {math.log10(b['report_s'] / a['report_s']) / k:.2f}; "
        f"aggregation memory k = {math.log10(b['agg_kib'] / a['agg_kib']) / k:.2f}"
    )
