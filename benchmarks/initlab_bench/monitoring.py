"""Section ``monitoring``: what the checkpoints cost beside the training steps they monitor."""

from __future__ import annotations

import argparse
import itertools
import time
from typing import Any

import numpy as np

from .common import fnum, note, pct, section_header, table

DEPTHS = (1, 4, 10, 30)
ACTIVATIONS = ("tanh", "relu")
SCHEDULES = (1, 5, 10)
"""``checkpoint_every`` values measured: the default (1, the one the target is judged at) and
two sparser schedules a large sweep may choose (information only)."""
HEADERS = (
    "checkpoint every",
    "activation",
    "depth",
    "networks",
    "run s",
    "checkpoints s",
    "training s",
    "share",
    "products share",
    "products share, no training-split pass",
)


def product_shares(
    sizes: list[int], n_train: int, n_val: int, probe: int, epochs: int, checkpoints: int
) -> tuple[float, float]:
    """The checkpoints' matrix products over the training's, as shares: what the measured share
    would be if every product ran at the same rate and everything else were free.

    Training multiplies ``2 (3 P - P_1)`` per sample and epoch (forward, ``dL/dW``, and
    ``dL/da`` of every layer but the first; ``P = sum n_in n_out``, ``P_1`` the first layer's
    part). A checkpoint multiplies ``2 P`` per row of the training and validation splits
    (forward only) and ``2 (3 P - P_1)`` per probe row. The second share leaves out the pass
    over the training split, the part a running mean of the mini-batch losses would replace.
    """
    P = sum(a * b for a, b in itertools.pairwise(sizes))
    step = 3 * P - sizes[0] * sizes[1]
    training = epochs * n_train * step
    validation_and_probe = checkpoints * (n_val * P + probe * step)
    return (
        (validation_and_probe + checkpoints * n_train * P) / training,
        validation_and_probe / training,
    )


def measure(activation: str, depth: int, quick: bool, every: int = 1) -> dict[str, Any]:
    """Train the default study's chunk of ``activation`` x ``depth`` (8 initializers x 2 seeds,
    default settings but ``checkpoint_every=every``, side by side as a job does) and time its
    monitoring apart: the checkpoints and the update ratios taken after a checkpoint's step.

    Returns
    -------
    dict
        ``total`` and ``checkpoints`` seconds (training = total - checkpoints), ``networks``,
        and the two shares of :func:`product_shares` (``products``,
        ``products_no_train_pass``).
    """
    import initlab.train as train_module
    from initlab.config import RunSpec
    from initlab.data import load_dataset
    from initlab.train import _Ensemble, ensembles

    from .common import default_config

    inits = default_config()["initializers"][: 4 if quick else None]
    specs = [
        RunSpec(i, activation, depth, seed=s, checkpoint_every=every) for i in inits for s in (0, 1)
    ]
    dataset = load_dataset("digits")
    spent = [0.0]

    def timed(plain: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            out = plain(*args, **kwargs)
            spent[0] += time.perf_counter() - t0
            return out

        return run

    ratios = train_module.update_ratios
    train_module.update_ratios = timed(ratios)  # type: ignore[assignment]
    total = 0.0
    shares = (float("nan"), float("nan"))
    try:
        for group in ensembles(specs):
            ens = _Ensemble(group, dataset, record=True)
            shares = product_shares(
                ens.sizes,
                ens.n_train,
                len(ens.X_va),
                len(ens.X_pr),
                group[0].epochs,
                len(ens.checkpoints) + 1,  # and the one at the end
            )
            ens.checkpoint = timed(ens.checkpoint)  # type: ignore[method-assign]
            t0 = time.perf_counter()
            with np.errstate(all="ignore"):
                ens.train()
            total += time.perf_counter() - t0
    finally:
        train_module.update_ratios = ratios  # type: ignore[assignment]
    return {
        "total": total,
        "checkpoints": spent[0],
        "networks": len(specs),
        "products": shares[0],
        "products_no_train_pass": shares[1],
    }


def section_monitoring(args: argparse.Namespace, cache: dict[str, Any]) -> None:
    """Print the monitoring table: per chunk, the checkpoints' share of the training time."""
    section_header("Monitoring: checkpoints against the training steps they monitor")
    from initlab.train import keep_freed_memory

    keep_freed_memory()  # as the training jobs do
    rows, figures = [], []
    for every in SCHEDULES:
        for activation in ACTIVATIONS:
            for depth in DEPTHS:
                r = measure(activation, depth, args.quick, every)
                training = r["total"] - r["checkpoints"]
                share = r["checkpoints"] / training
                figures.append(
                    {
                        "checkpoint_every": every,
                        "activation": activation,
                        "depth": depth,
                        **r,
                        "share": share,
                    }
                )
                rows.append(
                    [
                        every,
                        activation,
                        depth,
                        r["networks"],
                        fnum(r["total"]),
                        fnum(r["checkpoints"]),
                        fnum(training),
                        pct(share),
                        pct(r["products"]),
                        pct(r["products_no_train_pass"]),
                    ]
                )
    table(HEADERS, rows)
    print()
    note(
        "The default settings (digits, width 64, 10 epochs, batch 64, momentum SGD, a checkpoint "
        "every epoch, probe batch 256, no budget check), the default study's initializers x 2 "
        "seeds side by side as a training job trains them (--quick: 4 initializers), one "
        "thread; then the same with a checkpoint every 5 and every 10 epochs (checkpoints at "
        "epochs 0, 5, 10 and 0, 10), for a sweep that wants fewer curve points. A checkpoint "
        "evaluates the training and validation splits (1,438 rows), runs the probe batch "
        "forward and backward and reduces every layer to its statistics (the Jacobian spectra "
        "at step 0); the update ratios after a checkpoint's step count with it; training is "
        "everything else. Share = checkpoints / training. The target is judged at the default "
        "schedule (a checkpoint every epoch). The products shares count matrix products "
        "only, from the layer sizes and row counts: the share if every product ran at one "
        "rate and statistics, elementwise work and Python were free; the last column without "
        "the pass over the training split. A share below a products share is not reachable "
        "without fewer checkpoints, fewer validation or probe rows."
    )
    cache["monitoring"] = figures
