"""The closing table: the measured figures against the project's targets."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from .common import mb, pct, table
from .engine_runs import time_weighted_overhead

TARGETS = {
    "engine_large": 0.70,  # engine / matmul rate at width >= 512, batch 256
    "engine_w128_b64": 0.40,  # at width 128, batch 64
    "stats_overhead": 0.10,
    "plan_s": 30.0,  # snakemake -n of the 100,000-network study
    "aggregate_s": 300.0,
    "aggregate_mb": 2048.0,
    "report_s": 120.0,
    "files_per_100": 1.0,  # files under results/ per 100 networks
    "default_study_s": 60.0,
    "torch_median": 1.3,
    "torch_min": 1.0,
    "ensemble_vs_one_at_a_time": 2.0,
    "ensemble_vs_torch": 1.5,
    "monitoring_share": 0.15,
}


def verdicts(cache: dict[str, Any]) -> bool:
    """Print the targets the sections that ran can be checked against, with their verdicts.

    Returns
    -------
    bool
        Whether every target checked was met (the benchmark's exit code is 1 otherwise).
    """
    print()
    print("## Targets")
    print()
    rows = engine_verdicts(cache.get("engine") or [])
    rows += scale_verdicts(cache.get("scale", {}))
    rows += ensemble_verdicts(cache.get("ensemble", {}))
    rows += torch_verdicts(cache.get("engine") or [])
    rows += pipeline_verdicts(cache.get("pipeline", {}))
    rows += monitoring_verdicts(cache.get("monitoring", []))
    if rows:
        table(["target", "measured", "verdict"], rows)
    else:
        print("(no section with a target was run)")
    missed = [r[0] for r in rows if r[-1].startswith("NOT met")]
    if missed:
        print()
        print(f"{len(missed)} target(s) missed: {'; '.join(missed)}")
    return not missed


def torch_verdicts(eng: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Training steps (no statistics) against PyTorch eager, width 64-256, depth 10-30,
    batch 64: the median ratio and the worst shape."""
    rows = [
        r["samples"] / r["t_norecord"] / r["torch_samples_per_s"]
        for r in eng
        if "torch_samples_per_s" in r
        and 64 <= r["width"] <= 256
        and 10 <= r["depth"] <= 30
        and r["batch"] == 64
    ]
    if not rows:
        return []
    median = statistics.median(rows)
    lo, mid = TARGETS["torch_min"], TARGETS["torch_median"]
    return [
        [
            f"training steps >= {mid:g}x PyTorch eager (median), none below {lo:g}x, "
            "width 64-256, depth 10-30, batch 64",
            f"median {median:.2f}x, worst {min(rows):.2f}x ({len(rows)} shapes)",
            _verdict(median >= mid and min(rows) >= lo),
        ]
    ]


def monitoring_verdicts(figures: Sequence[dict[str, Any]]) -> list[list[str]]:
    """The checkpoints' share of the training time at the default settings (a checkpoint every
    epoch), worst chunk; the best chunk and all chunks together beside it."""
    if not figures:
        return []
    figures = [f for f in figures if f.get("checkpoint_every", 1) == 1]
    if not figures:
        return []
    worst = max(figures, key=lambda f: f["share"])
    together = sum(f["checkpoints"] for f in figures) / sum(
        f["total"] - f["checkpoints"] for f in figures
    )
    target = TARGETS["monitoring_share"]
    return [
        [
            f"checkpoints <= {pct(target)} of the training time (default settings)",
            f"worst {pct(worst['share'])} ({worst['activation']}, depth {worst['depth']}), "
            f"best {pct(min(f['share'] for f in figures))}, all together {pct(together)}",
            _verdict(worst["share"] <= target),
        ]
    ]


def pipeline_verdicts(pipe: dict[str, Any]) -> list[list[str]]:
    """The default study's wall time against its target (when a finished run was found)."""
    if not pipe or "wall_s" not in pipe:
        return []
    target = TARGETS["default_study_s"]
    return [
        [
            f"default study, snakemake --cores {pipe['cores']}, <= {target:g} s",
            f"{pipe['wall_s']:.0f} s ({pipe['wall_source']})",
            _verdict(pipe["wall_s"] <= target),
        ]
    ]


def ensemble_verdicts(ens: dict[str, Any]) -> list[list[str]]:
    """Return the ensemble rows: against one at a time, and against PyTorch's better way."""
    if not ens:
        return []
    rate = ens["rates"]
    ours = rate["initlab ensemble"]
    ratio = ours / rate["initlab one at a time"]
    target = TARGETS["ensemble_vs_one_at_a_time"]
    bound = ens.get("matmul_bound")
    reach = (
        f" (the matmul bound is {bound['rate'] / rate['initlab one at a time']:.2f}x)"
        if bound
        else ""
    )
    rows = [
        [
            f"ensemble >= {target:g}x initlab one network at a time",
            f"{ratio:.2f}x{reach}",
            _verdict(ratio >= target),
        ]
    ]
    torch_ways = [w for w in rate if w.startswith("PyTorch")]
    target = TARGETS["ensemble_vs_torch"]
    label = f"ensemble >= {target:g}x PyTorch's better way (eager loop, vmap)"
    if not torch_ways:
        rows.append([label, "not measured (no torch)", "-"])
    else:
        best = max(torch_ways, key=lambda w: rate[w])
        vs = ours / rate[best]
        rows.append([label, f"{vs:.2f}x ({best})", _verdict(vs >= target)])
    return rows


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _worst_ratio(label: str, rows: Sequence[dict[str, Any]], target: float) -> list[list[str]]:
    """One row for the worst engine/matmul ratio among ``rows`` (none without rows)."""
    if not rows:
        return []
    worst = min(r["ratio"] for r in rows)
    return [[label, f"{pct(worst)} (worst of {len(rows)})", _verdict(worst >= target)]]


def engine_verdicts(eng: Sequence[dict[str, Any]]) -> list[list[str]]:
    """Return the engine and statistics-overhead rows of the targets table."""
    if not eng:
        return []
    rows = _worst_ratio(
        "engine >= 70% of matmul at width >= 512, batch 256",
        [r for r in eng if r["width"] >= 512 and r["batch"] == 256],
        TARGETS["engine_large"],
    )
    rows += _worst_ratio(
        "engine >= 40% of matmul at width 128, batch 64",
        [r for r in eng if r["width"] == 128 and r["batch"] == 64],
        TARGETS["engine_w128_b64"],
    )
    over = max(r["overhead"] for r in eng)
    total = time_weighted_overhead(eng)
    if over <= TARGETS["stats_overhead"]:
        verdict = "met"
    elif total <= TARGETS["stats_overhead"]:
        verdict = "NOT met per shape (met time-weighted)"
    else:
        verdict = "NOT met"
    rows.append(
        ["statistics overhead <= 10%", f"max {pct(over)}, time-weighted {pct(total)}", verdict]
    )
    return rows


def scale_verdicts(sc: dict[int, dict[str, Any]]) -> list[list[str]]:
    """Return the planning, aggregation, report and files rows of the targets table: checked on
    the 100,000-network study, or with ``--quick`` on its 20,000-network one (the targets are
    upper bounds, which a smaller study must meet too; the row says which size)."""
    if not sc:
        return []
    n = max(sc)
    r = sc[n]
    size = f"{n:,} networks" + ("" if n >= 100_000 else " (--quick; targets for 100,000)")
    agg_ok = r["agg_s"] <= TARGETS["aggregate_s"] and r["agg_kib"] / 1024 <= TARGETS["aggregate_mb"]
    return [
        [
            f"planning (snakemake -n) <= 30 s, {size}",
            f"{r['plan_s']:.1f} s",
            _verdict(r["plan_s"] <= TARGETS["plan_s"]),
        ],
        [
            f"aggregating <= 5 min and <= 2 GB peak RSS, {size}",
            f"{r['agg_s']:.1f} s, {mb(r['agg_kib'])} MB",
            _verdict(agg_ok),
        ],
        [
            f"report <= 2 min, {size}",
            f"{r['report_s']:.1f} s",
            _verdict(r["report_s"] <= TARGETS["report_s"]),
        ],
        [
            f"files under results/ <= 1 per 100 networks, {size}",
            f"{r['files_per_100']:.2f} ({r['files']:,} files)",
            _verdict(r["files_per_100"] <= TARGETS["files_per_100"]),
        ],
    ]
