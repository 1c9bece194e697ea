"""What sections engine, stats and torch train: data, grid, specs, and what a call costs."""

from __future__ import annotations

import itertools
import time
from typing import Any

import numpy as np

N_TRAIN, N_VAL, N_TEST, N_FEATURES, N_CLASSES = 4096, 512, 512, 64, 10
FULL_GRID = {"widths": (64, 128, 256, 512, 1024), "depths": (2, 10, 30), "batches": (64, 256)}
QUICK_SHAPES = (  # (width, depth, batch): the two target shapes and a few around them
    (64, 30, 64),
    (128, 10, 64),
    (128, 10, 256),
    (512, 10, 256),
    (1024, 10, 64),
    (1024, 10, 256),
)
ACTIVATION, INITIALIZER = "relu", "he_normal"


def synthetic_dataset() -> Any:
    """Return 4096/512/512 samples of a 10-class Gaussian mixture in 64 dimensions, standardized.

    Returns
    -------
    initlab.data.Dataset
        Built directly, so the data set's size does not dominate the timings.
    """
    from initlab.data import Dataset

    rng = np.random.default_rng(12345)
    centres = rng.standard_normal((N_CLASSES, N_FEATURES)) * 0.7
    parts = []
    for n in (N_TRAIN, N_VAL, N_TEST):
        y = rng.integers(0, N_CLASSES, n).astype(np.int64)
        X = centres[y] + rng.standard_normal((n, N_FEATURES))
        parts.append((X, y))
    mean, std = parts[0][0].mean(axis=0), parts[0][0].std(axis=0)
    (Xtr, ytr), (Xva, yva), (Xte, yte) = (((X - mean) / std, y) for X, y in parts)
    return Dataset("synthetic", Xtr, ytr, Xva, yva, Xte, yte)


def layer_sizes(width: int, depth: int) -> list[int]:
    """Return the layer sizes of the benchmark's MLP: input 64, ``depth`` hidden, output 10."""
    return [N_FEATURES, *([width] * depth), N_CLASSES]


def n_params(width: int, depth: int) -> int:
    """Return the number of weights and biases, input 64 and output 10 included."""
    return sum(a * b + b for a, b in itertools.pairwise(layer_sizes(width, depth)))


def make_spec(width: int, depth: int, batch: int, epochs: int) -> Any:
    """Return the ``RunSpec`` of one engine shape: he_normal + relu, statistics every epoch."""
    from initlab.config import RunSpec

    return RunSpec(
        INITIALIZER,
        ACTIVATION,
        depth,
        width=width,
        dataset="synthetic",
        batch_size=batch,
        epochs=epochs,
        checkpoint_every=1,
        dtype="float32",
    )


def engine_shapes(quick: bool) -> list[tuple[int, int, int]]:
    """Return the ``(width, depth, batch)`` shapes to time: the full grid or the quick subset."""
    if quick:
        return list(QUICK_SHAPES)
    return [
        (w, d, b)
        for d in FULL_GRID["depths"]
        for w in FULL_GRID["widths"]
        for b in FULL_GRID["batches"]
    ]


def matmul_blocks(width: int, batch: int, n_blocks: int, block_s: float) -> list[float]:
    """Time numpy's float32 ``(batch x width) @ (width x width)``.

    Parameters
    ----------
    width, batch : int
        The operands' shapes.
    n_blocks : int
        How many timing blocks.
    block_s : float
        The approximate length of one block in seconds.

    Returns
    -------
    list of float
        GFLOP/s, one figure per timing block.
    """
    rng = np.random.default_rng(0)
    A = rng.standard_normal((batch, width)).astype(np.float32)
    B = rng.standard_normal((width, width)).astype(np.float32)
    flops = 2.0 * batch * width * width
    A @ B  # warm-up
    t = time.perf_counter()
    A @ B
    once = max(time.perf_counter() - t, 1e-7)
    reps = max(1, int(block_s / once))
    rates = []
    for _ in range(n_blocks):
        t = time.perf_counter()
        for _ in range(reps):
            A @ B
        rates.append(flops * reps / (time.perf_counter() - t) / 1e9)
    return rates


def useful_share(
    width: int, depth: int, batch: int, epochs: int, steps: int, record: bool, probe: int = 256
) -> float:
    """Return counted training FLOPs / all matmul FLOPs a train() call executes.

    Executed: the training steps (6 P per sample), one forward over the training and validation
    splits per checkpoint (2 P per sample, ``epochs + 1`` checkpoints), the probe batch's
    forward and backward per checkpoint when recording, and the final test evaluation.
    """
    P = n_params(width, depth)
    counted = 6.0 * P * steps * batch
    checkpoints = epochs + 1
    executed = counted + 2.0 * P * (N_TRAIN + N_VAL) * checkpoints + 2.0 * P * N_TEST
    if record:
        executed += 6.0 * P * probe * checkpoints
    return counted / executed
