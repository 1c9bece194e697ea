"""Section ``monitoring``: what the checkpoints cost beside the training steps they monitor."""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from .common import fnum, note, pct, section_header, table

DEPTHS = (1, 4, 10, 30)
ACTIVATIONS = ("tanh", "relu")
HEADERS = ("activation", "depth", "networks", "run s", "checkpoints s", "training s", "share")


def measure(activation: str, depth: int, quick: bool) -> dict[str, Any]:
    """Train the default study's chunk of ``activation`` x ``depth`` (8 initializers x 2 seeds,
    default settings, side by side as a job does) and time its checkpoints apart.

    Returns
    -------
    dict
        ``total`` and ``checkpoints`` seconds (training = total - checkpoints), ``networks``.
    """
    from initlab.config import RunSpec
    from initlab.data import load_dataset
    from initlab.train import _Ensemble, ensembles

    from .common import default_config

    inits = default_config()["initializers"][: 4 if quick else None]
    specs = [RunSpec(i, activation, depth, seed=s) for i in inits for s in (0, 1)]
    dataset = load_dataset("digits")
    total = checkpoints = 0.0
    for group in ensembles(specs):
        ens = _Ensemble(group, dataset, record=True)
        plain = ens.checkpoint
        spent = [0.0]

        def timed(step: int, plain: Any = plain, spent: list[float] = spent) -> None:
            t0 = time.perf_counter()
            plain(step)
            spent[0] += time.perf_counter() - t0

        ens.checkpoint = timed  # type: ignore[method-assign]
        t0 = time.perf_counter()
        with np.errstate(all="ignore"):
            ens.train()
        total += time.perf_counter() - t0
        checkpoints += spent[0]
    return {"total": total, "checkpoints": checkpoints, "networks": len(specs)}


def section_monitoring(args: argparse.Namespace, cache: dict[str, Any]) -> None:
    """Print the monitoring table: per chunk, the checkpoints' share of the training time."""
    section_header("Monitoring: checkpoints against the training steps they monitor")
    from initlab.train import keep_freed_memory

    keep_freed_memory()  # as the training jobs do
    rows, figures = [], []
    for activation in ACTIVATIONS:
        for depth in DEPTHS:
            r = measure(activation, depth, args.quick)
            training = r["total"] - r["checkpoints"]
            share = r["checkpoints"] / training
            figures.append({"activation": activation, "depth": depth, **r, "share": share})
            rows.append(
                [
                    activation,
                    depth,
                    r["networks"],
                    fnum(r["total"]),
                    fnum(r["checkpoints"]),
                    fnum(training),
                    pct(share),
                ]
            )
    table(HEADERS, rows)
    print()
    note(
        "The default settings (digits, width 64, 10 epochs, batch 64, momentum SGD, a checkpoint "
        "every epoch, probe batch 256, no budget check), the default study's initializers x 2 "
        "seeds side by side as a training job trains them (--quick: 4 initializers), one "
        "thread. A checkpoint evaluates the training and validation splits (1,438 rows), runs "
        "the probe batch forward and backward and reduces every layer to its statistics (the "
        "Jacobian spectra at step 0); training is everything else. Share = checkpoints / "
        "training."
    )
    cache["monitoring"] = figures
