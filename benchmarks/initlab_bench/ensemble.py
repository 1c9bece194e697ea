"""Section ``ensemble``: networks of one shape trained side by side against one at a time,
and against PyTorch's two ways of training many small networks (optional)."""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .common import child_env, fnum, note, section_header, table
from .torch_process import find_torch_python

N_NETS, WIDTH, DEPTH, BATCH = 16, 64, 10, 64
TORCH_SCRIPT = Path(__file__).with_name("torch_ensemble.py")
HEADERS = ("way", "seconds (best)", "networks x steps / s", "ensemble / this way")


def _specs(epochs: int) -> list[Any]:
    from initlab.config import RunSpec

    return [
        RunSpec("he_normal", "tanh", DEPTH, seed=s, width=WIDTH, batch_size=BATCH, epochs=epochs)
        for s in range(N_NETS)
    ]


def _steps_seconds(specs: list[Any], dataset: Any, side_by_side: bool) -> tuple[float, int]:
    """Wall time of the training steps alone (no checkpoint, no evaluation) and the steps of
    each network: the specs side by side in one ensemble, or one ensemble of one after the
    other."""
    from initlab.train import _Ensemble

    groups = [specs] if side_by_side else [[s] for s in specs]
    total, steps = 0.0, 0
    for group in groups:
        ens = _Ensemble(group, dataset, record=False)
        t0 = time.perf_counter()
        with np.errstate(all="ignore"):
            steps = ens._epochs(group[0].epochs, 0, record=False)
        total += time.perf_counter() - t0
    return total, steps


def measure_initlab(epochs: int, repeats: int) -> dict[str, Any]:
    """Best of ``repeats``: the ensemble and the same networks one at a time."""
    from initlab.data import load_dataset
    from initlab.train import keep_freed_memory

    keep_freed_memory()  # as the training jobs do
    dataset = load_dataset("digits")
    specs = _specs(epochs)
    best = {"ensemble": float("inf"), "one_at_a_time": float("inf")}
    steps = 0
    for _ in range(repeats):
        for way, side in (("ensemble", True), ("one_at_a_time", False)):
            seconds, steps = _steps_seconds(specs, dataset, side)
            best[way] = min(best[way], seconds)
    return {**best, "steps": steps}


def measure_torch(args: argparse.Namespace, epochs: int, repeats: int) -> dict[str, Any] | None:
    """PyTorch's eager loop and vmap on the same work, in a torch interpreter (or None)."""
    from initlab.data import load_dataset

    python, _ = find_torch_python(args)
    if python is None:
        return None
    ds = load_dataset("digits")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "digits.npz"
        np.savez(data, X=ds.X_train.astype(np.float32), y=ds.y_train)
        cmd = [python, str(TORCH_SCRIPT), str(data)]
        cmd += [str(v) for v in (N_NETS, WIDTH, DEPTH, BATCH, epochs, repeats)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def matmul_bound(n_features: int, n_classes: int, seconds: float = 2.0) -> dict[str, float]:
    """The most networks x steps per second any implementation built on numpy's matmul can
    reach on this shape: every product of a training step at numpy's own float32 rate for a
    ``(BATCH x WIDTH) @ (WIDTH x WIDTH)`` product (median of 10 blocks), nothing else costing
    time.

    A step multiplies ``2 B n_in n_out`` per layer forward, the same for ``dL/dW``, and the same
    for ``dL/da`` of every layer but the first (the input needs no gradient).
    """
    import itertools

    from .workload import matmul_blocks

    sizes = [n_features, *([WIDTH] * DEPTH), n_classes]
    products = [a * b for a, b in itertools.pairwise(sizes)]
    flops = 2.0 * BATCH * (3 * sum(products) - products[0])
    rate = float(np.median(matmul_blocks(WIDTH, BATCH, 10, seconds / 10)))
    return {"gflops": rate, "flops_per_step": flops, "rate": rate * 1e9 / flops}


def _notes(
    rate: dict[str, float],
    bound: dict[str, float],
    steps: int,
    repeats: int,
    torch: dict[str, Any] | None,
) -> None:
    """Print what the bound row means and how the ways were measured."""
    needed = 2 * rate["initlab one at a time"]
    note(
        f"matmul bound: {bound['flops_per_step'] / 1e6:.1f} MFLOP of matrix products per "
        f"network and step, at numpy's float32 rate for a {BATCH} x {WIDTH} by {WIDTH} x "
        f"{WIDTH} product in this process ({bound['gflops']:.1f} GFLOP/s), with every other "
        "operation free. An ensemble 2x as fast as one network at a time would need "
        f"{needed:,.0f} networks x steps/s, {needed / bound['rate']:.2f}x the bound."
    )
    ways = (
        f" PyTorch {torch['torch']}: one module and torch.optim.SGD per network in a loop, "
        "and torch.func.stack_module_state + vmap(grad) with the momentum update on the "
        "stacked tensors."
        if torch is not None
        else " PyTorch skipped: no interpreter with torch (see --torch-python)."
    )
    note(
        f"Training steps only (no checkpoint, statistics or evaluation): {N_NETS} tanh nets, "
        f"He-normal weights, momentum SGD, digits ({steps} steps of batch {BATCH} per "
        f"network), float32, one thread, best of {repeats}. One at a time: the same code with "
        "an ensemble of one per network." + ways
    )


def section_ensemble(args: argparse.Namespace, cache: dict[str, Any]) -> None:
    """Print the ensemble table: networks x steps per second of each way, and the ratios."""
    section_header(
        f"Ensemble: {N_NETS} networks of width {WIDTH}, depth {DEPTH}, batch {BATCH} side by side"
    )
    epochs, repeats = (2, 2) if args.quick else (5, 3)
    mine = measure_initlab(epochs, repeats)
    work = N_NETS * mine["steps"]
    rate = {"initlab ensemble": work / mine["ensemble"]}
    seconds = {"initlab ensemble": mine["ensemble"]}
    rate["initlab one at a time"] = work / mine["one_at_a_time"]
    seconds["initlab one at a time"] = mine["one_at_a_time"]
    from initlab.data import load_dataset

    digits = load_dataset("digits")
    bound = matmul_bound(digits.n_features, digits.n_classes, 1.0 if args.quick else 2.0)
    torch = measure_torch(args, epochs, repeats)
    if torch is not None:
        torch_work = N_NETS * torch["steps"]
        for way, key in (("PyTorch eager loop", "eager_loop"), ("PyTorch vmap", "vmap")):
            rate[way] = torch_work / torch[key]
            seconds[way] = torch[key]
    rows = [
        [way, fnum(seconds[way]), fnum(r), f"{rate['initlab ensemble'] / r:.2f}"]
        for way, r in rate.items()
    ]
    rows.append(
        [
            "matmul bound (no implementation built on numpy's matmul exceeds it)",
            "-",
            fnum(bound["rate"]),
            f"{rate['initlab ensemble'] / bound['rate']:.2f}",
        ]
    )
    table(HEADERS, rows)
    print()
    _notes(rate, bound, mine["steps"], repeats, torch)
    cache["ensemble"] = {
        "rates": rate,
        "matmul_bound": bound,
        "seconds": seconds,
        "torch_version": None if torch is None else torch["torch"],
    }
