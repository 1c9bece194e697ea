"""Section 4, ``pipeline``: Snakemake overhead of the default study and process start-up."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from .common import (
    REPO,
    bin_path,
    child_env,
    fnum,
    initlab_run,
    mb,
    measure,
    note,
    pct,
    prepared_digits,
    section_header,
    table,
)

DRY_OR_OTHER_CONFIG = ("-n", "--dry-run", "--dryrun", "--configfile", "--config")


def section_pipeline(args: argparse.Namespace, cache: dict[str, Any], workroot: Path) -> None:
    """Print section 4: the overhead table (when the study has run) and the start-up costs."""
    section_header("4. Pipeline overhead (default study) and process start-up")
    results = (REPO / args.results).resolve()
    n_jobs = training_jobs(results / "study.json")
    summary = overhead_table(args, results / "tables" / "timings.csv", n_jobs)
    costs = startup_costs(args.quick, workroot)
    cache["startup"] = costs
    startup_table(costs, n_jobs, args.pipeline_cores)
    cache["pipeline"] = summary


def training_jobs(study_json: Path) -> int | None:
    """Return the study's number of training jobs (one per chunk, ``Study.chunks``)."""
    if not study_json.exists():
        return None
    from initlab.study import Study

    return len(Study(json.loads(study_json.read_text())).chunks())


def overhead_table(args: argparse.Namespace, timings: Path, n_jobs: int | None) -> dict[str, Any]:
    """Print the study's train() time against its wall time; return those figures (or ``{}``)."""
    if not timings.exists():
        print(
            f"SKIPPED the overhead table: {timings} does not exist (run the default study "
            "with `snakemake --cores 2` first, timing it, then pass --pipeline-wall)."
        )
        return {}
    import pandas as pd

    df = pd.read_csv(timings)
    train_sum = float(df["wall_seconds"].sum())
    cores = args.pipeline_cores
    wall, source = (
        (args.pipeline_wall, "--pipeline-wall")
        if args.pipeline_wall
        else (wall_from_snakemake_log(n_jobs, timings, train_sum, cores))
    )
    rows = [
        ["runs in timings.csv", f"{len(df):,}"],
        ["training jobs (processes)", f"{n_jobs:,}" if n_jobs else "n/a"],
        ["sum of train() wall seconds", fnum(train_sum)],
    ]
    summary: dict[str, Any] = {}
    if wall is None:
        print(
            "(no --pipeline-wall given and no complete default-study run found in "
            ".snakemake/log: the overhead rows are left out)"
        )
    else:
        ideal = train_sum / cores
        rows += [
            [f"pipeline wall seconds ({source})", fnum(wall)],
            [f"ideal wall = sum / {cores} cores", fnum(ideal)],
            ["overhead = wall - ideal", fnum(wall - ideal)],
            ["overhead share of the wall time", pct((wall - ideal) / wall)],
            ["core utilisation by train()", pct(ideal / wall)],
        ]
        summary = {
            "runs": len(df),
            "train_sum_s": train_sum,
            "wall_s": wall,
            "wall_source": source,
            "cores": cores,
            "overhead_s": wall - ideal,
        }
    table(["figure", "value"], rows)
    print()
    return summary


def wall_from_snakemake_log(
    n_train_jobs: int | None, timings: Path, train_sum: float, cores: int
) -> tuple[float | None, str]:
    """Return the wall time of the newest complete default-study run in .snakemake/log.

    Accepted: a run of the default config (no --configfile/--config, not a dry run) that ended
    ("Elapsed time:"), with no failed job, which either lists exactly ``n_train_jobs``
    train_networks jobs in its job stats or (quiet mode, -q) wrote ``timings`` while it ran; its
    wall time must be at least ``train_sum / cores`` (else it retrained only part of the grid).

    Returns
    -------
    tuple
        The wall seconds and where they come from, or ``(None, "")`` when no run qualifies.
    """
    logdir = REPO / ".snakemake" / "log"
    if not logdir.is_dir() or not timings.exists():
        return None, ""
    for log in sorted(logdir.glob("*.snakemake.log"), reverse=True):
        wall = _default_run_wall(log, n_train_jobs, timings)
        if wall is None or wall < train_sum / cores:
            continue
        return wall, f"Snakemake log {log.name}"
    return None, ""


def _default_run_wall(log: Path, n_train_jobs: int | None, timings: Path) -> float | None:
    """The elapsed time of the run ``log`` records, if it is a complete default-study run."""
    text = log.read_text(errors="replace")
    cmd = next((ln for ln in text.splitlines() if ln.strip().startswith("Command:")), "")
    if any(w in DRY_OR_OTHER_CONFIG for w in cmd.split()):
        return None
    if "Elapsed time:" not in text or "Error" in text or "failed" in text:
        return None
    elapsed = text.rsplit("Elapsed time:", 1)[1].split()[0]
    h, m, sec = elapsed.split(":")
    wall = int(h) * 3600 + int(m) * 60 + float(sec)
    if "Job stats:" in text:
        stats = text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
        counts = {
            ln.split()[0]: ln.split()[-1] for ln in stats.splitlines() if len(ln.split()) == 2
        }
        return wall if counts.get("train_networks") == str(n_train_jobs) else None
    try:
        start = dt.datetime.strptime(
            log.name.split(".snakemake")[0], "%Y-%m-%dT%H%M%S.%f"
        ).timestamp()
    except ValueError:
        return None
    return wall if start <= timings.stat().st_mtime <= start + wall + 5 else None


def startup_commands(workroot: Path) -> list[tuple[str, list[str]]]:
    """Return the start-up commands to time, each with its label."""
    py = sys.executable
    initlab = bin_path("initlab")
    options = ["--init", "he_normal", "--activation", "relu", "--depth", "1", "--epochs", "1"]
    tiny = initlab_run(options, prepared_digits(workroot), workroot / "startup-run")
    return [
        ("python -c pass", [py, "-c", "pass"]),
        ('python -c "import initlab.train"', [py, "-c", "import initlab.train"]),
        ("initlab run --help", [initlab, "run", "--help"]),
        ("initlab run, depth 1, 1 epoch (a job's fixed cost)", tiny),
    ]


def startup_costs(quick: bool, workroot: Path) -> list[dict[str, Any]]:
    """Time each start-up command 7 times (quick: 3) after one untimed run.

    Returns
    -------
    list of dict
        Per command: ``command`` (its label), ``walls``, ``median``, ``min`` and
        ``maxrss_kib``.
    """
    reps = 3 if quick else 7
    out = []
    env = child_env()
    for label, cmd in startup_commands(workroot):
        measure(cmd, env=env)  # warm the page cache
        runs = [measure(cmd, env=env) for _ in range(reps)]
        out.append(
            {
                "command": label,
                "walls": [r["wall"] for r in runs],
                "median": statistics.median(r["wall"] for r in runs),
                "min": min(r["wall"] for r in runs),
                "maxrss_kib": max(r["maxrss_kib"] for r in runs),
            }
        )
    return out


def startup_table(costs: list[dict[str, Any]], n_jobs: int | None, cores: int) -> None:
    """Print the start-up costs and what they add up to over the study's training jobs."""
    table(
        ["command", "median s", "min s", "peak RSS MB"],
        [[c["command"], fnum(c["median"]), fnum(c["min"]), mb(c["maxrss_kib"])] for c in costs],
    )
    run_cost = costs[-1]["median"]
    print()
    note(
        "A training job is one `initlab train-chunk` process: interpreter start, argument "
        "parsing, the imports of the training path (numpy, scipy.special, threadpoolctl; "
        "pyarrow and pandas to write its two Parquet files), reading the prepared data; the "
        "last row measures the same start-up around a 1-epoch depth-1 network with `initlab "
        "run` (training itself: milliseconds; writing Parquet adds about 0.4 s of imports)."
    )
    if n_jobs:
        print(
            f"fixed cost of the default study's {n_jobs} training processes: {n_jobs} x "
            f"{run_cost:.2f} s = {n_jobs * run_cost:.0f} CPU-seconds "
            f"(~{n_jobs * run_cost / cores:.0f} s of wall time on {cores} cores)"
        )
