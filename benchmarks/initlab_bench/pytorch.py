"""Section 3, ``torch``: initlab against the same network in PyTorch eager CPU (optional)."""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from typing import Any

from .common import SHAPE_HEADERS, fnum, note, section_header, shape_cells, table
from .engine_runs import run_engine
from .torch_process import find_torch_python

HEADERS = (
    *SHAPE_HEADERS,
    "initlab samples/s",
    "initlab no-stats samples/s",
    "torch samples/s",
    "initlab/torch",
    "no-stats/torch",
    "initial loss initlab / torch",
    "final loss initlab / torch",
)


def section_torch(args: argparse.Namespace, cache: dict[str, Any]) -> None:
    """Print section 3, or why it was skipped when no interpreter has torch."""
    section_header("3. PyTorch comparison: initlab / PyTorch eager CPU throughput")
    rows = run_engine(args, cache)
    py, _ = cache.get("torch_python") or find_torch_python(args)
    if py is None or "torch_info" not in cache:
        print(
            "SKIPPED: `import torch` fails in this interpreter and no --torch-python (or "
            "INITLAB_BENCH_TORCH_PYTHON) names one where it works. torch is not an initlab "
            "dependency; to run this section, create a separate venv with torch and numpy "
            "and pass its python (see benchmarks/README.md)."
        )
        return
    comparison_table(rows)
    print()
    comparison_summary(rows, cache["torch_check"])
    print()
    torch_note(cache["torch_info"], cache["engine_settings"])


def comparison_table(rows: Sequence[dict[str, Any]]) -> None:
    """Print samples/s of initlab (with and without statistics) and PyTorch per shape."""
    out_rows = []
    for r in rows:
        tsps = r["torch_samples_per_s"]
        out_rows.append(
            [
                *shape_cells(r),
                fnum(r["samples_per_s"]),
                fnum(r["samples"] / r["t_norecord"]),
                fnum(tsps),
                f"{r['samples_per_s'] / tsps:.2f}",
                f"{r['samples'] / r['t_norecord'] / tsps:.2f}",
                f"{r['init_train_loss']:.4f} / {r['torch_init_train_loss']:.4f}",
                f"{r['final_train_loss']:.4f} / {r['torch_final_train_loss']:.4f}",
            ]
        )
    table(HEADERS, out_rows)


def comparison_summary(rows: Sequence[dict[str, Any]], chk: dict[str, Any]) -> None:
    """Print the spread of initlab/torch and the float64 equivalence check ``chk``."""
    ratios = [r["samples_per_s"] / r["torch_samples_per_s"] for r in rows]
    w, d, b = chk["shape"]
    print(
        f"initlab/torch: median {statistics.median(ratios):.2f}, range "
        f"{min(ratios):.2f} to {max(ratios):.2f}. Equivalence check in float64 (width {w}, "
        f"depth {d}, batch {b}, {chk['epochs']} epochs): training loss at all "
        f"{chk['checkpoints']} checkpoints, largest relative difference initlab vs torch = "
        f"{chk['max_rel_err']:.1e}."
    )


def torch_note(info: dict[str, Any], s: dict[str, Any]) -> None:
    """Print what the PyTorch side runs (``info`` from the worker, ``s`` the engine settings)."""
    note(
        f"PyTorch {info['torch']} eager CPU ({info['python']}), {info['threads']} thread: "
        f"nn.Linear + ReLU with initlab's initial weights (transposed), "
        f"torch.optim.SGD(momentum=0.9, same lr), the same mini-batch order, per-layer "
        f"weight-gradient norms computed every step, and loss and accuracy on the training "
        f"and validation splits at every epoch as initlab's checkpoints do. 'initlab' is "
        f"train(record=True) (full statistics every epoch), 'no-stats' record=False. Each "
        f"shape's PyTorch loop runs right after its initlab calls (same load); times are "
        f"whole loops including building the model from the initial weights, median of up "
        f"to {s['max_reps']} after a warm-up. torch multiplies with its bundled MKL/oneDNN, "
        f"initlab with numpy's OpenBLAS, so the ratio includes the BLAS difference. Final "
        f"float32 losses drift apart (rounding amplified over the steps of a network that "
        f"fits the data), which is why the equivalence is checked in float64."
    )
