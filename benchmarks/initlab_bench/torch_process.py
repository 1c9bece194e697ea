"""The PyTorch comparison's other process: finding an interpreter with torch, and talking to it.

torch is no initlab dependency, so the PyTorch side runs in its own interpreter: a long-lived
worker (the script ``torch_worker.py``) that trains what :class:`TorchWorker` sends it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .common import child_env
from .workload import N_TRAIN, layer_sizes, make_spec

WORKER_SCRIPT = Path(__file__).with_name("torch_worker.py")


def find_torch_python(args: argparse.Namespace) -> tuple[str | None, str]:
    """Find an interpreter where ``import torch, numpy`` works.

    Candidates, in order: ``--torch-python``, the environment variable
    ``INITLAB_BENCH_TORCH_PYTHON``, this interpreter.

    Returns
    -------
    tuple
        The interpreter and its torch version, or ``(None, "")`` when none works.
    """
    candidates = []
    if args.torch_python:
        candidates.append(args.torch_python)
    if os.environ.get("INITLAB_BENCH_TORCH_PYTHON"):
        candidates.append(os.environ["INITLAB_BENCH_TORCH_PYTHON"])
    candidates.append(sys.executable)
    for py in candidates:
        probe = subprocess.run(
            [py, "-c", "import torch, numpy; print(torch.__version__)"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0:
            return py, probe.stdout.strip()
    return None, ""


class TorchWorker:
    """A long-lived PyTorch process (its own interpreter: torch is no initlab dependency).

    Parameters
    ----------
    python : str
        The interpreter that has torch and numpy.
    ds : initlab.data.Dataset
        The data set; its training and validation splits are handed to the worker once.
    """

    def __init__(self, python: str, ds: Any) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="initlab-bench-torch-"))
        np.savez(
            self.tmp / "data.npz",
            X_train=ds.X_train.astype(np.float32),
            X_val=ds.X_val.astype(np.float32),
            X_train64=ds.X_train,
            X_val64=ds.X_val,
            y_train=ds.y_train,
            y_val=ds.y_val,
        )
        shutil.copyfile(WORKER_SCRIPT, self.tmp / "worker.py")
        env = child_env()
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [python, str(self.tmp / "worker.py"), str(self.tmp / "data.npz")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.info = {**self._read(), "python": python}

    def _read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            raise RuntimeError(f"the torch worker stopped (exit code {self.proc.wait()})")
        return json.loads(line)

    def run(self, spec: Any, budget: float, max_reps: int, check: bool = False) -> dict[str, Any]:
        """Train ``spec``'s network from initlab's own initial weights and batch order.

        Parameters
        ----------
        spec : initlab.config.RunSpec
            The network, training settings and seeds.
        budget : float
            Seconds of timed runs after the warm-up (the worker stops at ``max_reps``).
        max_reps : int
            The most timed runs.
        check : bool
            One untimed run only, for the equivalence check.

        Returns
        -------
        dict
            ``times`` (seconds per timed run), ``steps`` and ``losses`` (training loss at every
            checkpoint) of the last run.
        """
        from initlab.model import init_mlp

        dtype = np.dtype(spec.dtype)
        init_rng, order_rng = spec.rngs()  # exactly what train() draws
        sizes = layer_sizes(spec.width, spec.depth)
        params = init_mlp(init_rng, sizes, spec.resolve_initializer(), dtype=dtype)
        orders = np.stack([order_rng.permutation(N_TRAIN) for _ in range(spec.epochs)])
        weights = self.tmp / "weights.npz"
        arrays = {f"W{i}": p.W for i, p in enumerate(params)}
        arrays.update({f"b{i}": p.b for i, p in enumerate(params)})
        np.savez(weights, orders=orders, **arrays)
        job = {
            "n_layers": len(params),
            "epochs": spec.epochs,
            "batch": spec.batch_size,
            "lr": spec.learning_rate,
            "momentum": spec.momentum,
            "budget": budget,
            "max_reps": max_reps,
            "dtype": spec.dtype,
            "check": check,
        }
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"weights": str(weights), "job": job}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        """Close the worker's input, wait for it to end and remove its scratch folder."""
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def torch_equivalence_check(worker: TorchWorker, ds: Any, epochs: int) -> dict[str, Any]:
    """Train one shape in float64 in both engines; compare every checkpoint's training loss.

    Returns
    -------
    dict
        ``shape``, ``epochs``, ``checkpoints`` and ``max_rel_err``, the largest relative
        difference of the two engines' training losses.
    """
    from initlab.train import train

    w, d, b = 128, 10, 64
    spec = dataclasses.replace(make_spec(w, d, b, epochs), dtype="float64")
    ref = train(spec, ds, record=False)
    steps, losses = ref.layers["step"], ref.layers["train_loss"]
    mine = [float(losses[steps == st][0]) for st in np.unique(steps)]
    theirs = worker.run(spec, 0.0, 1, check=True)["losses"]
    err = max(abs(a - c) / abs(a) for a, c in zip(mine, theirs, strict=True))
    return {"shape": (w, d, b), "epochs": epochs, "checkpoints": len(mine), "max_rel_err": err}
