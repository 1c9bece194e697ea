"""Timed ``train()`` calls on every engine shape: the figures sections engine, stats and torch
report on.

The calls run once per benchmark, in whichever of the three sections comes first, and are kept in
the shared ``cache`` (key ``"engine"``). When section ``torch`` was asked for and an interpreter
with torch is found, each shape's PyTorch loop runs right after that shape's initlab calls, so
both see the same load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

from .common import loadavg
from .torch_process import TorchWorker, find_torch_python, torch_equivalence_check
from .workload import (
    ACTIVATION,
    INITIALIZER,
    N_TEST,
    N_TRAIN,
    N_VAL,
    engine_shapes,
    make_spec,
    matmul_blocks,
    n_params,
    synthetic_dataset,
    useful_share,
)


def engine_settings(quick: bool) -> dict[str, Any]:
    """Return the settings of the timed calls: epochs, split sizes, time budget, repeats."""
    return {
        "epochs": 2 if quick else 3,
        "n_train": N_TRAIN,
        "n_val": N_VAL,
        "n_test": N_TEST,
        "budget_s": 0.5 if quick else 2.0,  # seconds of timed calls per mode and shape
        "max_reps": 3 if quick else 5,
    }


def run_engine(args: argparse.Namespace, cache: dict[str, Any]) -> list[dict[str, Any]]:
    """Time train() with record=True and record=False on every shape (shared by 3 sections).

    Parameters
    ----------
    args : argparse.Namespace
        The command line (``quick``, ``sections``, ``torch_python``).
    cache : dict
        The figures of this benchmark run; gets ``engine_settings``, ``engine`` and, with the
        PyTorch comparison, ``torch_python``, ``torch_info`` and ``torch_check``.

    Returns
    -------
    list of dict
        One row of figures per shape (also ``cache["engine"]``).
    """
    if "engine" in cache:
        return cache["engine"]
    from initlab.train import train

    ds = synthetic_dataset()
    settings = engine_settings(args.quick)
    cache["engine_settings"] = settings
    worker = _start_torch_worker(args, cache, ds, settings["epochs"])
    results = []
    print(
        f"(engine runs: {settings['epochs']} epochs of {N_TRAIN} samples, statistics every epoch, "
        f"{INITIALIZER} + {ACTIVATION}, SGD momentum 0.9, lr 0.01"
        + ("; each shape's PyTorch loop runs right after it" if worker else "")
        + ")",
        flush=True,
    )
    train(make_spec(64, 2, 64, 1), ds)  # first call pays lazy imports and caches
    try:
        for shape in engine_shapes(args.quick):
            t_start = time.perf_counter()
            row = measure_shape(shape, ds, settings, worker)
            results.append(row)
            _print_progress(row, time.perf_counter() - t_start)
    finally:
        if worker is not None:
            worker.close()
    cache["engine"] = results
    return results


def _start_torch_worker(
    args: argparse.Namespace, cache: dict[str, Any], ds: Any, epochs: int
) -> TorchWorker | None:
    """Start the PyTorch worker when section torch was asked for and torch is found."""
    if "torch" not in args.sections:
        return None
    py, version = find_torch_python(args)
    cache["torch_python"] = (py, version)
    if py is None:
        return None
    worker = TorchWorker(py, ds)
    cache["torch_info"] = worker.info
    cache["torch_check"] = torch_equivalence_check(worker, ds, epochs)
    return worker


def measure_shape(
    shape: tuple[int, int, int], ds: Any, settings: dict[str, Any], worker: TorchWorker | None
) -> dict[str, Any]:
    """Time one ``(width, depth, batch)`` shape: matmul rate, initlab and (optionally) PyTorch.

    numpy's matmul is timed in 5 blocks before and 5 after the shape's calls; one untimed 1-epoch
    warm-up precedes the timed calls, which alternate ``record=True`` / ``record=False``.
    """
    from initlab.train import train

    width, depth, batch = shape
    budget, max_reps = settings["budget_s"], settings["max_reps"]
    spec = make_spec(width, depth, batch, settings["epochs"])
    load_before = os.getloadavg()[0]
    mm = matmul_blocks(width, batch, 5, 0.04)
    train(make_spec(width, depth, batch, 1), ds)  # untimed warm-up of this shape
    times, summary, steps = _alternate_calls(spec, ds, budget, max_reps)
    mm += matmul_blocks(width, batch, 5, 0.04)
    row = shape_figures(shape, settings["epochs"], steps, times, mm, summary)
    if worker is not None:
        t = worker.run(spec, budget, max_reps)
        row["torch_times"] = t["times"]
        row["torch_samples_per_s"] = t["steps"] * batch / statistics.median(t["times"])
        row["torch_init_train_loss"] = t["losses"][0]
        row["torch_final_train_loss"] = t["losses"][-1]
    row["load"] = (load_before + os.getloadavg()[0]) / 2
    return row


def _alternate_calls(
    spec: Any, ds: Any, budget: float, max_reps: int
) -> tuple[dict[bool, list[float]], dict[str, Any], int]:
    """Alternate record=True / record=False calls until ``budget`` s of each or ``max_reps``."""
    from initlab.train import train

    times: dict[bool, list[float]] = {True: [], False: []}
    summaries: dict[bool, dict[str, Any]] = {}
    steps = 0
    while True:
        for record in (True, False):
            t = time.perf_counter()
            res = train(spec, ds, record=record)
            times[record].append(time.perf_counter() - t)
            summaries[record] = res.summary
            steps = res.timing["steps"]
        n = len(times[True])
        if n >= max_reps or min(sum(times[True]), sum(times[False])) >= budget:
            break
    return times, summaries[True], steps


def shape_figures(
    shape: tuple[int, int, int],
    epochs: int,
    steps: int,
    times: dict[bool, list[float]],
    mm: Sequence[float],
    summary: dict[str, Any],
) -> dict[str, Any]:
    """Return one shape's row of figures from its call times and matmul rates.

    Parameters
    ----------
    shape : tuple of int
        ``(width, depth, batch)``.
    epochs, steps : int
        Epochs and training steps of one call.
    times : dict
        Seconds per call, keyed by ``record``.
    mm : sequence of float
        numpy's matmul GFLOP/s, one figure per timing block.
    summary : dict
        The ``summary`` of a ``record=True`` call (losses, divergence).
    """
    width, depth, batch = shape
    t_rec, t_norec = statistics.median(times[True]), statistics.median(times[False])
    samples = steps * batch
    P = n_params(width, depth)
    pairs = [a / b - 1 for a, b in zip(times[True], times[False], strict=True)]
    row = {
        "width": width,
        "depth": depth,
        "batch": batch,
        "params": P,
        "epochs": epochs,
        "steps": steps,
        "samples": samples,
        "reps": len(times[True]),
        "t_record": t_rec,
        "t_norecord": t_norec,
        "times_record": times[True],
        "times_norecord": times[False],
        "samples_per_s": samples / t_rec,
        "gflops": 6.0 * P * samples / t_rec / 1e9,
        "gflops_norecord": 6.0 * P * samples / t_norec / 1e9,
        "overhead_pairs": pairs,
        "overhead": statistics.median(pairs),
        "matmul_gflops": statistics.median(mm),
        "matmul_blocks": list(mm),
        "share_record": useful_share(width, depth, batch, epochs, steps, True),
        "share_norecord": useful_share(width, depth, batch, epochs, steps, False),
        "diverged": bool(summary["diverged"]),
        "init_train_loss": summary["init_train_loss"],
        "final_train_loss": summary["final_train_loss"],
    }
    row["ratio"] = row["gflops"] / row["matmul_gflops"]
    row["ratio_norecord"] = row["gflops_norecord"] / row["matmul_gflops"]
    return row


def _print_progress(row: dict[str, Any], seconds: float) -> None:
    extra = ""
    if "torch_samples_per_s" in row:
        extra = f", torch {row['torch_samples_per_s']:,.0f} samples/s"
    print(
        f"  w{row['width']:<5} d{row['depth']:<3} b{row['batch']:<4} {row['gflops']:7.1f} GFLOP/s "
        f"(matmul {row['matmul_gflops']:6.1f}){extra}; "
        f"{seconds:6.1f} s, load {loadavg()}",
        flush=True,
    )


def time_weighted_overhead(rows: Sequence[dict[str, Any]]) -> float:
    """Return the statistics overhead over all shapes: total record=True / record=False time - 1."""
    return sum(r["t_record"] for r in rows) / sum(r["t_norecord"] for r in rows) - 1
