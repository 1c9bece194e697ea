"""The closing table: the measured figures against the project's targets."""

from __future__ import annotations

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
    if rows:
        table(["target", "measured", "verdict"], rows)
    else:
        print("(no section with a target was run)")
    missed = [r[0] for r in rows if r[-1].startswith("NOT met")]
    if missed:
        print()
        print(f"{len(missed)} target(s) missed: {'; '.join(missed)}")
    return not missed


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
