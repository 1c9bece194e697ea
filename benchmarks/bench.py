"""initlab performance benchmark: one command, one table per section.

Usage (from the repository root, with the package installed)::

    python benchmarks/bench.py [--quick] [--section engine,stats,torch,pipeline,scale,memory]
                               [--pipeline-wall SECONDS] [--torch-python PATH] [--json FILE]

Sections (all by default; ``--section`` takes a comma-separated subset):

``engine``    training throughput of ``initlab.train.train`` (samples/s and GFLOP/s, counting
              ``6 * params * samples`` FLOPs) divided by numpy's own float32 matmul rate on
              ``(batch x width) @ (width x width)``, measured in the same process.
``stats``     the same runs with ``record=False`` against ``record=True`` (statistics at every
              epoch, the default): the cost of the per-layer statistics.
``torch``     the same MLP, initial weights, SGD-momentum, batch order and per-step per-layer
              gradient norms in PyTorch eager CPU (one thread); skipped when torch is not
              importable here and ``--torch-python`` does not name an interpreter that has it.
``pipeline``  Snakemake overhead of a finished default study (``results/tables/timings.csv``
              against its wall time) and the start-up cost of a job's process.
``scale``     ``snakemake -n`` planning time for 1,000- and 10,000-run grids; ``initlab
              aggregate`` and ``initlab report`` time and peak memory on synthetic studies of
              that many runs (copies of real runs).
``memory``    peak RSS of one ``initlab run`` training job at depth 30, width 64 and 1024.

Every figure is measured in this run; ratios compare numbers taken in the same process (engine,
stats) or minutes apart (torch). BLAS is pinned to one thread with ``threadpoolctl`` and
everything is float32. The machine's load average is printed with every section: on a shared
machine, other processes' load lowers every absolute number. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import itertools
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

REPO = Path(__file__).resolve().parent.parent
SECTIONS = ("engine", "stats", "torch", "pipeline", "scale", "memory")

# --- synthetic training data and the engine grid ----------------------------------------------

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

# --- targets (printed with the verdicts at the end) -------------------------------------------

TARGETS = {
    "engine_large": 0.70,  # engine / matmul rate at width >= 512, batch 256
    "engine_w128_b64": 0.40,  # at width 128, batch 64
    "stats_overhead": 0.10,
    "plan_10k_s": 30.0,
    "aggregate_10k_s": 60.0,
    "aggregate_10k_mb": 2048.0,
    "report_10k_s": 60.0,
}


# ==============================================================================================
# small helpers
# ==============================================================================================


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def section_header(title: str) -> None:
    print()
    print(f"## {title}")
    print(f"(load average 1/5/15 min at start: {loadavg()})")
    print()


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a GitHub-markdown table, columns padded; numbers right-aligned."""
    rows = [[str(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    numeric = [
        bool(rows)
        and all(_looks_numeric(r[i]) for r in rows)
        and any(_looks_numeric(r[i]) and r[i] not in ("-", "n/a") for r in rows)
        for i in range(len(headers))
    ]

    def fmt(cells: Sequence[str]) -> str:
        out = []
        for i, c in enumerate(cells):
            out.append(c.rjust(widths[i]) if numeric[i] else c.ljust(widths[i]))
        return "| " + " | ".join(out) + " |"

    print(fmt(headers))
    print(
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if numeric[i] else ("-" * (w + 2)) for i, w in enumerate(widths)
        )
        + "|"
    )
    for r in rows:
        print(fmt(r))
    sys.stdout.flush()


def _looks_numeric(text: str) -> bool:
    t = text.replace(",", "").replace("%", "").replace("x", "").strip()
    if t in ("", "-", "n/a"):
        return True
    try:
        float(t)
    except ValueError:
        return False
    return True


def fnum(x: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits, thousands separated, no exponent."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - mag)
    return f"{x:,.{decimals}f}"


def pct(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def mb(kib: float) -> str:
    return fnum(kib / 1024.0)


_WRAPPER = textwrap.dedent(
    """
    import json, resource, subprocess, sys, time
    out, cmd = sys.argv[1], sys.argv[2:]
    t = time.perf_counter()
    with open(out + ".log", "wb") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - t
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(out, "w") as fh:
        json.dump({"rc": rc, "wall": wall, "maxrss_kib": r.ru_maxrss,
                   "user": r.ru_utime, "sys": r.ru_stime}, fh)
    """
)


def measure(
    cmd: Sequence[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> dict[str, Any]:
    """Run ``cmd`` under a fresh wrapper process; return wall seconds and the peak RSS.

    The wrapper reads ``getrusage(RUSAGE_CHILDREN)`` after the command ends, so ``maxrss_kib``
    is the largest resident set of the command or of any process it waited for.
    """
    fd, out = tempfile.mkstemp(prefix="bench-measure-", suffix=".json")
    os.close(fd)
    try:
        subprocess.run([sys.executable, "-c", _WRAPPER, out, *cmd], cwd=cwd, env=env, check=True)
        result = json.loads(Path(out).read_text())
        result["output"] = Path(out + ".log").read_text(errors="replace")
    finally:
        for p in (out, out + ".log"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)
    if check and result["rc"] != 0:
        raise RuntimeError(
            f"command failed ({result['rc']}): {' '.join(cmd)}\n{result['output'][-3000:]}"
        )
    return result


def bin_path(name: str) -> str:
    """An executable next to this interpreter (the venv's ``initlab``, ``snakemake``)."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found next to {sys.executable} or on PATH")
    return found


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


# ==============================================================================================
# header: machine facts
# ==============================================================================================


def machine_facts() -> dict[str, Any]:
    import initlab

    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = float("nan")
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = int(line.split()[1]) / 1024**2
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    build: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        cfg = np.show_config(mode="dicts")
        build = cfg.get("Build Dependencies", {}).get("blas", {})
    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "mem_gib": mem_gib,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "initlab": initlab.__version__,
        "blas_runtime": [
            {
                k: i.get(k)
                for k in (
                    "internal_api",
                    "version",
                    "architecture",
                    "threading_layer",
                    "num_threads",
                    "filepath",
                )
            }
            for i in blas
        ],
        "blas_build": {
            k: build.get(k) for k in ("name", "version", "openblas configuration") if k in build
        },
        "env": {
            k: os.environ[k]
            for k in (
                "OPENBLAS_CORETYPE",
                "OPENBLAS_L2_SIZE",
                "OPENBLAS_NUM_THREADS",
                "OMP_NUM_THREADS",
            )
            if k in os.environ
        },
        "loadavg_start": os.getloadavg(),
    }


def print_header(facts: dict[str, Any], args: argparse.Namespace) -> None:
    print("# initlab benchmark")
    print()
    mode = "quick" if args.quick else "full"
    print(f"- date: {facts['date']}; mode: {mode}; sections: {', '.join(args.sections)}")
    print(
        f"- machine: {facts['cpu']}, {facts['logical_cpus']} logical CPUs "
        f"({facts['usable_cpus']} usable), {facts['mem_gib']:.1f} GiB RAM"
    )
    print(f"- python {facts['python']}, numpy {facts['numpy']}, initlab {facts['initlab']}")
    for b in facts["blas_runtime"]:
        print(
            f"- BLAS (threadpoolctl): {b['internal_api']} {b['version']}, kernel "
            f"{b['architecture']}, {b['threading_layer']} threading, "
            f"{b['num_threads']} threads by default; {Path(b['filepath'] or '?').name}"
        )
    if facts["blas_build"]:
        print(
            f"- BLAS (numpy.show_config): {facts['blas_build'].get('name')} "
            f"{facts['blas_build'].get('version')}"
        )
    print(
        "- measured with BLAS pinned to 1 thread (threadpoolctl.threadpool_limits(1)), "
        "float32; child processes run with `--threads 1` where initlab offers it"
    )
    env = ", ".join(f"{k}={v}" for k, v in facts["env"].items()) or "none set"
    print(f"- BLAS environment variables: {env}")
    print(
        f"- load average 1/5/15 min at start: {loadavg()} on {facts['logical_cpus']} CPUs "
        "(other processes' load lowers every absolute figure)"
    )
    sys.stdout.flush()


# ==============================================================================================
# engine, stats and torch: timed train() calls on synthetic data
# ==============================================================================================


def synthetic_dataset() -> Any:
    """4096/512/512 samples of a 10-class Gaussian mixture in 64 dimensions, standardized."""
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


def n_params(width: int, depth: int) -> int:
    sizes = [N_FEATURES, *([width] * depth), N_CLASSES]
    return sum(a * b + b for a, b in itertools.pairwise(sizes))


def make_spec(width: int, depth: int, batch: int, epochs: int) -> Any:
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


def matmul_blocks(width: int, batch: int, n_blocks: int, block_s: float) -> list[float]:
    """float32 GFLOP/s of ``(batch x width) @ (width x width)``, one figure per timing block."""
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
    """Counted training FLOPs / all matmul FLOPs a train() call executes.

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


def engine_shapes(quick: bool) -> list[tuple[int, int, int]]:
    if quick:
        return list(QUICK_SHAPES)
    return [
        (w, d, b)
        for d in FULL_GRID["depths"]
        for w in FULL_GRID["widths"]
        for b in FULL_GRID["batches"]
    ]


def run_engine(args: argparse.Namespace, cache: dict[str, Any]) -> list[dict[str, Any]]:
    """Time train() with record=True and record=False on every shape (shared by 3 sections).

    When section ``torch`` was asked for and an interpreter with torch is found, the PyTorch
    loop of each shape runs right after that shape's initlab calls, so both see the same load.
    """
    if "engine" in cache:
        return cache["engine"]
    from initlab.train import train

    ds = synthetic_dataset()
    epochs = 2 if args.quick else 3
    budget = 0.5 if args.quick else 2.0  # seconds of timed calls per mode and shape
    max_reps = 3 if args.quick else 5
    settings = {
        "epochs": epochs,
        "n_train": N_TRAIN,
        "n_val": N_VAL,
        "n_test": N_TEST,
        "budget_s": budget,
        "max_reps": max_reps,
    }
    cache["engine_settings"] = settings
    worker = None
    if "torch" in args.sections:
        py, version = find_torch_python(args)
        cache["torch_python"] = (py, version)
        if py is not None:
            worker = TorchWorker(py, ds)
            cache["torch_info"] = worker.info
            cache["torch_check"] = torch_equivalence_check(worker, ds, epochs)
    results = []
    print(
        f"(engine runs: {epochs} epochs of {N_TRAIN} samples, statistics every epoch, "
        f"{INITIALIZER} + {ACTIVATION}, SGD momentum 0.9, lr 0.01"
        + ("; each shape's PyTorch loop runs right after it" if worker else "")
        + ")",
        flush=True,
    )
    train(make_spec(64, 2, 64, 1), ds)  # first call pays lazy imports and caches
    try:
        for width, depth, batch in engine_shapes(args.quick):
            spec = make_spec(width, depth, batch, epochs)
            t_start = time.perf_counter()
            load_before = os.getloadavg()[0]
            mm = matmul_blocks(width, batch, 5, 0.04)
            train(make_spec(width, depth, batch, 1), ds)  # untimed warm-up of this shape
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
            mm += matmul_blocks(width, batch, 5, 0.04)
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
                "matmul_blocks": mm,
                "share_record": useful_share(width, depth, batch, epochs, steps, True),
                "share_norecord": useful_share(width, depth, batch, epochs, steps, False),
                "diverged": bool(summaries[True]["diverged"]),
                "init_train_loss": summaries[True]["init_train_loss"],
                "final_train_loss": summaries[True]["final_train_loss"],
            }
            row["ratio"] = row["gflops"] / row["matmul_gflops"]
            row["ratio_norecord"] = row["gflops_norecord"] / row["matmul_gflops"]
            if worker is not None:
                t = worker.run(spec, budget, max_reps)
                row["torch_times"] = t["times"]
                row["torch_samples_per_s"] = t["steps"] * batch / statistics.median(t["times"])
                row["torch_init_train_loss"] = t["losses"][0]
                row["torch_final_train_loss"] = t["losses"][-1]
            row["load"] = (load_before + os.getloadavg()[0]) / 2
            results.append(row)
            extra = (
                f", torch {row['torch_samples_per_s']:,.0f} samples/s" if worker is not None else ""
            )
            print(
                f"  w{width:<5} d{depth:<3} b{batch:<4} {row['gflops']:7.1f} GFLOP/s "
                f"(matmul {row['matmul_gflops']:6.1f}){extra}; "
                f"{time.perf_counter() - t_start:6.1f} s, load {loadavg()}",
                flush=True,
            )
    finally:
        if worker is not None:
            worker.close()
    cache["engine"] = results
    return results


def section_engine(args: argparse.Namespace, cache: dict[str, Any]) -> None:
    section_header("1. Engine vs hardware: train() throughput / numpy float32 matmul rate")
    rows = run_engine(args, cache)
    s = cache["engine_settings"]
    print()
    table(
        [
            "width",
            "depth",
            "batch",
            "params",
            "samples/s",
            "GFLOP/s",
            "matmul GFLOP/s",
            "engine/matmul",
            "ceiling",
            "engine/(matmul x ceiling)",
            "load",
        ],
        [
            [
                r["width"],
                r["depth"],
                r["batch"],
                f"{r['params']:,}",
                fnum(r["samples_per_s"]),
                fnum(r["gflops"]),
                fnum(r["matmul_gflops"]),
                pct(r["ratio"]),
                pct(r["share_record"]),
                pct(r["ratio"] / r["share_record"]) + (" DIVERGED" if r["diverged"] else ""),
                f"{r['load']:.1f}",
            ]
            for r in rows
        ],
    )
    print()
    print(
        textwrap.fill(
            f"GFLOP/s counts 6 x params x training samples over the wall time of whole train() "
            f"calls ({s['epochs']} epochs of {s['n_train']} samples, statistics at every epoch, "
            f"median of up to {s['max_reps']} calls after one untimed 1-epoch warm-up), nothing "
            f"subtracted. matmul GFLOP/s: numpy's (batch x width) @ (width x width) in float32 in "
            f"this process, median of 10 blocks taken before and after the shape's runs. "
            f"'ceiling' is the share of the matmul FLOPs a train() call executes that the "
            f"6 x params x samples count covers: every checkpoint also runs a forward pass over "
            f"the full training and validation splits ({s['n_train']} + {s['n_val']} samples) and "
            f"the probe batch, so engine/matmul cannot exceed it even with free Python and "
            f"elementwise work; 'engine/(matmul x ceiling)' is the efficiency on the matmuls "
            f"actually run. 'load': 1-minute load average while the shape ran (2 CPUs: above ~1, "
            f"other processes competed for the cores).",
            width=100,
        )
    )


def section_stats(args: argparse.Namespace, cache: dict[str, Any]) -> None:
    section_header("2. Statistics overhead: train(record=True) vs train(record=False)")
    rows = run_engine(args, cache)
    table(
        ["width", "depth", "batch", "record=False s", "record=True s", "pairs", "overhead", "load"],
        [
            [
                r["width"],
                r["depth"],
                r["batch"],
                fnum(r["t_norecord"]),
                fnum(r["t_record"]),
                r["reps"],
                pct(r["overhead"]),
                f"{r['load']:.1f}",
            ]
            for r in rows
        ],
    )
    over = [r["overhead"] for r in rows]
    total = sum(r["t_record"] for r in rows) / sum(r["t_norecord"] for r in rows) - 1
    print()
    print(
        f"overhead: median {pct(statistics.median(over))}, max {pct(max(over))}, "
        f"time-weighted over all shapes {pct(total)}"
    )
    print(
        textwrap.fill(
            "Same shapes, same settings; calls alternate record=True / record=False and "
            "'overhead' is the median over adjacent pairs of t(True) / t(False) - 1 (the columns "
            "of seconds are medians). record=False still evaluates loss and accuracy on the "
            "training and validation splits at every checkpoint; what it skips is the probe "
            "batch's forward and backward pass, the per-layer statistics and the update-ratio "
            "copies.",
            width=100,
        )
    )


# --- torch -------------------------------------------------------------------------------------

_TORCH_WORKER = r"""
# PyTorch side of the benchmark: reads one request per line on stdin, answers one JSON line.
import json, sys, time
import numpy as np
import torch
torch.set_num_threads(1)
with np.load(sys.argv[1]) as z:
    data = {k: torch.from_numpy(z[k]) for k in z.files}
F = torch.nn.functional
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)


def evaluate(model, X, y):
    with torch.no_grad():
        loss_sum, correct = 0.0, 0
        for s in range(0, X.shape[0], 4096):
            logits = model(X[s:s + 4096])
            loss_sum += float(F.cross_entropy(logits, y[s:s + 4096], reduction="sum"))
            correct += int((logits.argmax(1) == y[s:s + 4096]).sum())
    return loss_sum / X.shape[0], correct / X.shape[0]


def run(job, Ws, bs, orders, Xtr, ytr, Xva, yva):
    layers = []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        lin = torch.nn.Linear(W.shape[0], W.shape[1], dtype=W.dtype)
        with torch.no_grad():
            lin.weight.copy_(W.T)
            lin.bias.copy_(b)
        layers.append(lin)
        if i < len(Ws) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    opt = torch.optim.SGD(model.parameters(), lr=job["lr"], momentum=job["momentum"])
    n, batch, epochs = Xtr.shape[0], job["batch"], job["epochs"]
    norms = torch.empty(epochs * ((n + batch - 1) // batch), len(linears))
    losses, step = [], 0
    for e in range(epochs):
        losses.append(evaluate(model, Xtr, ytr)[0])  # a checkpoint: train and val splits
        evaluate(model, Xva, yva)
        order = orders[e]
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            loss = F.cross_entropy(model(Xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norms[step] = torch.stack([torch.linalg.vector_norm(m.weight.grad) for m in linears])
            opt.step()
            step += 1
    losses.append(evaluate(model, Xtr, ytr)[0])
    evaluate(model, Xva, yva)
    return step, losses


for line in sys.stdin:
    req = json.loads(line)
    job = req["job"]
    with np.load(req["weights"]) as z:
        Ws = [torch.from_numpy(z[f"W{i}"]) for i in range(job["n_layers"])]
        bs = [torch.from_numpy(z[f"b{i}"]) for i in range(job["n_layers"])]
        orders = torch.from_numpy(z["orders"])
    sfx = "64" if job["dtype"] == "float64" else ""
    args = (job, Ws, bs, orders, data["X_train" + sfx], data["y_train"],
            data["X_val" + sfx], data["y_val"])
    if job["check"]:  # one untimed run
        steps, losses = run(*args)
        print(json.dumps({"times": [], "steps": steps, "losses": losses}), flush=True)
        continue
    run(*args)  # warm-up, untimed
    times = []
    while True:
        t = time.perf_counter()
        steps, losses = run(*args)
        times.append(time.perf_counter() - t)
        if len(times) >= job["max_reps"] or sum(times) >= job["budget"]:
            break
    print(json.dumps({"times": times, "steps": steps, "losses": losses}), flush=True)
"""


def find_torch_python(args: argparse.Namespace) -> tuple[str | None, str]:
    """An interpreter where ``import torch, numpy`` works: --torch-python, the environment
    variable INITLAB_BENCH_TORCH_PYTHON, or this one."""
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
    """A long-lived PyTorch process (its own interpreter: torch is no initlab dependency)."""

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
        (self.tmp / "worker.py").write_text(_TORCH_WORKER)
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
        """Train ``spec``'s network from initlab's own initial weights and batch order."""
        from initlab.model import init_mlp

        dtype = np.dtype(spec.dtype)
        init_rng, order_rng = spec.rngs()  # exactly what train() draws
        sizes = [N_FEATURES, *([spec.width] * spec.depth), N_CLASSES]
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
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def torch_equivalence_check(worker: TorchWorker, ds: Any, epochs: int) -> dict[str, Any]:
    """Train one shape in float64 in both engines; compare every checkpoint's training loss."""
    from initlab.train import train

    w, d, b = 128, 10, 64
    spec = dataclasses.replace(make_spec(w, d, b, epochs), dtype="float64")
    ref = train(spec, ds, record=False)
    steps, losses = ref.layers["step"], ref.layers["train_loss"]
    mine = [float(losses[steps == st][0]) for st in np.unique(steps)]
    theirs = worker.run(spec, 0.0, 1, check=True)["losses"]
    err = max(abs(a - c) / abs(a) for a, c in zip(mine, theirs, strict=True))
    return {"shape": (w, d, b), "epochs": epochs, "checkpoints": len(mine), "max_rel_err": err}


def section_torch(args: argparse.Namespace, cache: dict[str, Any]) -> None:
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
    s, info, chk = cache["engine_settings"], cache["torch_info"], cache["torch_check"]
    out_rows = []
    for r in rows:
        tsps = r["torch_samples_per_s"]
        out_rows.append(
            [
                r["width"],
                r["depth"],
                r["batch"],
                fnum(r["samples_per_s"]),
                fnum(r["samples"] / r["t_norecord"]),
                fnum(tsps),
                f"{r['samples_per_s'] / tsps:.2f}",
                f"{r['samples'] / r['t_norecord'] / tsps:.2f}",
                f"{r['init_train_loss']:.4f} / {r['torch_init_train_loss']:.4f}",
                f"{r['final_train_loss']:.4f} / {r['torch_final_train_loss']:.4f}",
            ]
        )
    table(
        [
            "width",
            "depth",
            "batch",
            "initlab samples/s",
            "initlab no-stats samples/s",
            "torch samples/s",
            "initlab/torch",
            "no-stats/torch",
            "initial loss initlab / torch",
            "final loss initlab / torch",
        ],
        out_rows,
    )
    ratios = [r["samples_per_s"] / r["torch_samples_per_s"] for r in rows]
    w, d, b = chk["shape"]
    print()
    print(
        f"initlab/torch: median {statistics.median(ratios):.2f}, range "
        f"{min(ratios):.2f} to {max(ratios):.2f}. Equivalence check in float64 (width {w}, "
        f"depth {d}, batch {b}, {chk['epochs']} epochs): training loss at all "
        f"{chk['checkpoints']} checkpoints, largest relative difference initlab vs torch = "
        f"{chk['max_rel_err']:.1e}."
    )
    print()
    print(
        textwrap.fill(
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
            f"fits the data), which is why the equivalence is checked in float64.",
            width=100,
        )
    )


# ==============================================================================================
# pipeline overhead and start-up cost
# ==============================================================================================


def wall_from_snakemake_log(
    n_train_jobs: int | None, timings: Path, train_sum: float, cores: int
) -> tuple[float | None, str]:
    """Wall time of the newest complete default-study run in .snakemake/log (or None).

    Accepted: a run of the default config (no --configfile/--config, not a dry run) that ended
    ("Elapsed time:"), with no failed job, which either lists exactly ``n_train_jobs``
    train_networks jobs in its job stats or (quiet mode, -q) wrote ``timings`` while it ran; its
    wall time must be at least ``train_sum / cores`` (else it retrained only part of the grid).
    """
    logdir = REPO / ".snakemake" / "log"
    if not logdir.is_dir() or not timings.exists():
        return None, ""
    for log in sorted(logdir.glob("*.snakemake.log"), reverse=True):
        text = log.read_text(errors="replace")
        cmd = next((ln for ln in text.splitlines() if ln.strip().startswith("Command:")), "")
        words = cmd.split()
        if any(w in ("-n", "--dry-run", "--dryrun", "--configfile", "--config") for w in words):
            continue
        if "Elapsed time:" not in text or "Error" in text or "failed" in text:
            continue
        elapsed = text.rsplit("Elapsed time:", 1)[1].split()[0]
        h, m, sec = elapsed.split(":")
        wall = int(h) * 3600 + int(m) * 60 + float(sec)
        if "Job stats:" in text:
            stats = text.split("Job stats:", 1)[1].split("\n\n", 1)[0]
            counts = {
                ln.split()[0]: ln.split()[-1] for ln in stats.splitlines() if len(ln.split()) == 2
            }
            if counts.get("train_networks") != str(n_train_jobs):
                continue
        else:
            try:
                start = dt.datetime.strptime(
                    log.name.split(".snakemake")[0], "%Y-%m-%dT%H%M%S.%f"
                ).timestamp()
            except ValueError:
                continue
            if not start <= timings.stat().st_mtime <= start + wall + 5:
                continue
        if wall < train_sum / cores:
            continue
        return wall, f"Snakemake log {log.name}"
    return None, ""


def prepared_digits(workroot: Path) -> Path:
    """The prepared digits split (`initlab prepare-data`), made once per benchmark."""
    path = workroot / "digits.npz"
    if not path.exists():
        subprocess.run(
            [bin_path("initlab"), "prepare-data", "--dataset", "digits", "--out", str(path)],
            check=True,
            env=child_env(),
            stdout=subprocess.DEVNULL,
        )
    return path


def startup_costs(quick: bool, workroot: Path) -> list[dict[str, Any]]:
    reps = 3 if quick else 7
    py = sys.executable
    initlab = bin_path("initlab")
    tiny = [
        initlab,
        "run",
        "--init",
        "he_normal",
        "--activation",
        "relu",
        "--depth",
        "1",
        "--epochs",
        "1",
        "--data",
        str(prepared_digits(workroot)),
        "--threads",
        "1",
        "--out",
        str(workroot / "startup-run"),
    ]
    cmds = [
        ("python -c pass", [py, "-c", "pass"]),
        ('python -c "import initlab.train"', [py, "-c", "import initlab.train"]),
        ("initlab run --help", [initlab, "run", "--help"]),
        ("initlab run, depth 1, 1 epoch (a job's fixed cost)", tiny),
    ]
    out = []
    env = child_env()
    for label, cmd in cmds:
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


def section_pipeline(args: argparse.Namespace, cache: dict[str, Any], workroot: Path) -> None:
    section_header("4. Pipeline overhead (default study) and process start-up")
    results = (REPO / args.results).resolve()
    timings = results / "tables" / "timings.csv"
    study_json = results / "study.json"
    n_jobs = None
    if study_json.exists():
        cfg = json.loads(study_json.read_text())
        n_jobs = len(cfg["initializers"]) * len(cfg["activations"]) * len(cfg["depths"])
    summary: dict[str, Any] = {}
    if not timings.exists():
        print(
            f"SKIPPED the overhead table: {timings} does not exist (run the default study "
            "with `snakemake --cores 2` first, timing it, then pass --pipeline-wall)."
        )
    else:
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
    costs = startup_costs(args.quick, workroot)
    cache["startup"] = costs
    table(
        ["command", "median s", "min s", "peak RSS MB"],
        [[c["command"], fnum(c["median"]), fnum(c["min"]), mb(c["maxrss_kib"])] for c in costs],
    )
    run_cost = costs[-1]["median"]
    print()
    print(
        textwrap.fill(
            "A training job is one `initlab run` process: interpreter start, `initlab run --help` "
            "(argument parsing, lazy imports), then the imports of the training path (numpy, "
            "scipy.special, threadpoolctl), reading the prepared data and writing three files; the "
            "last row measures all of that around a 1-epoch depth-1 network (training itself: "
            "milliseconds).",
            width=100,
        )
    )
    if n_jobs:
        print(
            f"fixed cost of the default study's {n_jobs} training processes: {n_jobs} x "
            f"{run_cost:.2f} s = {n_jobs * run_cost:.0f} CPU-seconds "
            f"(~{n_jobs * run_cost / args.pipeline_cores:.0f} s of wall time on "
            f"{args.pipeline_cores} cores)"
        )
    cache["pipeline"] = summary


# ==============================================================================================
# scale: planning, aggregation and report at 1,000 and 10,000 runs
# ==============================================================================================

SCALE_GRIDS = {  # runs: (custom initializers, activations, depths, seeds)
    1_000: (25, 5),
    10_000: (125, 10),
}
SCALE_DEPTHS, SCALE_SEEDS = [1, 4, 10, 30], [0, 1]
SCALE_ACTIVATIONS = [
    "linear",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "softplus",
]


def scale_config(n_runs: int) -> dict[str, Any]:
    """The default study with enough custom initializers (and activations) for ``n_runs``."""
    import yaml

    n_inits, n_acts = SCALE_GRIDS[n_runs]
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    custom = {
        f"vs{i:03d}": {
            "family": "variance_scaling",
            "scale": round(0.5 + 0.02 * i, 4),
            "mode": "fan_in",
            "distribution": "untruncated_normal",
        }
        for i in range(n_inits)
    }
    cfg.update(
        study=f"scale{n_runs}",
        results="results",
        initializers=list(custom),
        activations=SCALE_ACTIVATIONS[:n_acts],
        depths=SCALE_DEPTHS,
        seeds=SCALE_SEEDS,
        custom_initializers=custom,
    )
    names = list(custom)
    cfg["report"]["highlight"] = [[names[0], "tanh"], [names[1], "relu"]]
    assert len(custom) * n_acts * len(SCALE_DEPTHS) * len(SCALE_SEEDS) == n_runs
    return cfg


def write_config(workdir: Path, cfg: dict[str, Any]) -> None:
    import yaml

    (workdir / "config").mkdir(parents=True, exist_ok=True)
    # The Snakefile reads config/config.yaml relative to the working directory (--directory).
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def plan(workdir: Path) -> dict[str, Any]:
    cmd = [
        bin_path("snakemake"),
        "-n",
        "--cores",
        "2",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
    ]
    res = measure(cmd, env=child_env())
    total = None
    for line in res["output"].splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "total":
            total = int(parts[1])
    res["jobs"] = total
    return res


def template_runs(base: Path, data_npz: Path, cfg: dict[str, Any]) -> dict[int, Path]:
    """One real `initlab run` per depth of the scale grid, at the study's training settings."""
    from initlab.study import Study

    study = Study(cfg)
    out = {}
    for depth in SCALE_DEPTHS:
        spec = study.base_spec("he_normal", "relu", depth, 0).to_dict()
        spec.update(initializer="he_normal", initializer_def=None)
        d = base / f"d{depth}"
        subprocess.run(
            [
                bin_path("initlab"),
                "run",
                "--spec-json",
                json.dumps(spec),
                "--data",
                str(data_npz),
                "--threads",
                "1",
                "--out",
                str(d),
            ],
            check=True,
            env=child_env(),
            stdout=subprocess.DEVNULL,
        )
        out[depth] = d
    return out


def synthesize_study(workdir: Path, cfg: dict[str, Any], templates: dict[int, Path]) -> int:
    """Write every run of ``cfg`` under ``workdir`` as edited copies of the template runs.

    summary.json gets the run's own config and run_id (the aggregator checks that
    ``summary["config"] == spec.to_dict()``); timing.json its run_id; layers.csv, which
    holds no configuration, is hard-linked (the reader sees a normal file).
    """
    from initlab.study import load_schema, load_study

    study = load_study(cfg, load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml"))
    (workdir / study.results).mkdir(parents=True, exist_ok=True)
    (workdir / study.results / "study.json").write_text(study.to_json())
    tmpl = {
        d: (
            json.loads((p / "summary.json").read_text()),
            json.loads((p / "timing.json").read_text()),
            p / "layers.csv",
        )
        for d, p in templates.items()
    }
    n = 0
    for spec in study.specs():
        summary, timing, layers = tmpl[spec.depth]
        run_dir = workdir / study.run_dir(spec)
        run_dir.mkdir(parents=True, exist_ok=True)
        s = dict(summary, run_id=spec.run_id, config=spec.to_dict())
        (run_dir / "summary.json").write_text(json.dumps(s, indent=2, sort_keys=True) + "\n")
        t = dict(timing, run_id=spec.run_id)
        (run_dir / "timing.json").write_text(json.dumps(t, indent=2, sort_keys=True) + "\n")
        os.link(layers, run_dir / "layers.csv")
        n += 1
    return n


def section_scale(args: argparse.Namespace, cache: dict[str, Any], workroot: Path) -> None:
    section_header("5. Scale: planning, aggregation and report for large grids")
    sizes = [1_000] if args.quick else [1_000, 10_000]
    base = workroot / "scale"
    base.mkdir(parents=True, exist_ok=True)
    data_npz = prepared_digits(workroot)
    templates = template_runs(base / "templates", data_npz, scale_config(1_000))
    plan_rows, agg_rows, results = [], [], {}
    for n in sizes:
        cfg = scale_config(n)
        wd = base / f"n{n}"
        write_config(wd, cfg)
        print(f"(N = {n:,}: planning ...)", flush=True)
        p = plan(wd)
        t = time.perf_counter()
        written = synthesize_study(wd, cfg, templates)
        t_write = time.perf_counter() - t
        data_dir = wd / "results" / "data"
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_npz, data_dir / "digits.npz")
        print(
            f"(N = {n:,}: {written:,} synthetic runs written in {t_write:.1f} s; aggregating ...)",
            flush=True,
        )
        initlab = bin_path("initlab")
        agg = measure(
            [initlab, "aggregate", "--study", "results/study.json", "--out", "results/tables"],
            cwd=wd,
            env=child_env(),
        )
        layer_rows = sum(1 for _ in open(wd / "results" / "tables" / "layers.csv")) - 1
        print(f"(N = {n:,}: rendering the report ...)", flush=True)
        rep = measure(
            [
                initlab,
                "report",
                "--study",
                "results/study.json",
                "--tables",
                "results/tables",
                "--figures",
                "results/figures",
                "--out",
                "results/report.pdf",
            ],
            cwd=wd,
            env=child_env(),
        )
        pdf_mb = (wd / "results" / "report.pdf").stat().st_size / 1e6
        results[n] = {
            "plan_s": p["wall"],
            "plan_kib": p["maxrss_kib"],
            "jobs": p["jobs"],
            "agg_s": agg["wall"],
            "agg_kib": agg["maxrss_kib"],
            "report_s": rep["wall"],
            "report_kib": rep["maxrss_kib"],
            "layer_rows": layer_rows,
            "pdf_mb": pdf_mb,
            "write_s": t_write,
        }
        n_combos = n // len(SCALE_SEEDS)
        plan_rows.append(
            [
                f"{n:,}",
                f"{n_combos:,}",
                f"{p['jobs']:,}" if p["jobs"] else "?",
                fnum(p["wall"]),
                mb(p["maxrss_kib"]),
            ]
        )
        agg_rows.append(
            [
                f"{n:,}",
                f"{layer_rows:,}",
                fnum(agg["wall"]),
                mb(agg["maxrss_kib"]),
                fnum(rep["wall"]),
                mb(rep["maxrss_kib"]),
                fnum(pdf_mb),
            ]
        )
        if not args.keep:
            shutil.rmtree(wd / "results" / "runs", ignore_errors=True)
    print()
    table(["runs", "training jobs", "jobs planned", "snakemake -n s", "peak RSS MB"], plan_rows)
    print()
    table(
        [
            "runs",
            "layer rows",
            "aggregate s",
            "aggregate peak RSS MB",
            "report s",
            "report peak RSS MB",
            "PDF MB",
        ],
        agg_rows,
    )
    if len(sizes) == 2:
        a, b = results[sizes[0]], results[sizes[1]]
        k = math.log10(sizes[1] / sizes[0])
        print()
        print(
            "growth exponent between 1,000 and 10,000 runs (time ~ N^k, k = log10 ratio): "
            f"planning k = {math.log10(b['plan_s'] / a['plan_s']) / k:.2f}, "
            f"aggregation k = {math.log10(b['agg_s'] / a['agg_s']) / k:.2f}, "
            f"report k = {math.log10(b['report_s'] / a['report_s']) / k:.2f}; "
            f"aggregation memory k = {math.log10(b['agg_kib'] / a['agg_kib']) / k:.2f}"
        )
    print()
    print(
        textwrap.fill(
            "Grids: the default study's settings with custom variance_scaling initializers "
            f"(x activations x depths {SCALE_DEPTHS} x seeds {SCALE_SEEDS}); 1,000 runs = 25 "
            "initializers x 5 activations, 10,000 runs = 125 x 10. Planning is `snakemake -n "
            "--cores 2` with the repository's Snakefile in an empty folder (--directory). The runs "
            "are copies of four real `initlab run` outputs (one per depth, default settings on "
            "digits) with each summary.json's config and run_id rewritten to the run's spec, so "
            "`initlab aggregate` reads, checks and tabulates them as real runs. Peak RSS via "
            "getrusage(RUSAGE_CHILDREN) of a wrapper process.",
            width=100,
        )
    )
    cache["scale"] = results


# ==============================================================================================
# memory: one training job
# ==============================================================================================


def section_memory(args: argparse.Namespace, cache: dict[str, Any], workroot: Path) -> None:
    section_header("6. Peak memory of one training job (`initlab run`, as the workflow runs it)")
    from initlab.study import Study

    base = workroot / "memory"
    base.mkdir(parents=True, exist_ok=True)
    data_npz = prepared_digits(workroot)
    import yaml

    defaults = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    seeds = [int(s) for s in defaults["seeds"]]
    rows = []
    base_rss = measure([sys.executable, "-c", "import initlab.train"], env=child_env())
    for width in (64, 1024):
        cfg = json.loads(json.dumps(defaults))
        cfg["width"] = width
        epochs = cfg["training"]["epochs"]
        job_seeds = seeds
        if width > 64:  # peak memory does not grow with epochs; wall time does
            epochs, job_seeds = (1, seeds[:1]) if args.quick else (2, seeds)
            cfg["training"]["epochs"] = epochs
        cfg.setdefault("custom_initializers", {})
        cfg.setdefault("custom_activations", {})
        study = Study(cfg)
        spec = study.base_spec("he_normal", "relu", 30, 0).to_dict()
        del spec["seed"]
        cmd = [
            bin_path("initlab"),
            "run",
            "--spec-json",
            json.dumps(spec),
            "--seeds",
            *map(str, job_seeds),
            "--data",
            str(data_npz),
            "--threads",
            "1",
            "--out",
            str(base / f"w{width}"),
        ]
        res = measure(cmd, env=child_env())
        request = study.job_resources(30, len(seeds))["mem_mb"]
        rows.append(
            [
                30,
                width,
                f"{n_params(width, 30):,}",
                epochs,
                len(job_seeds),
                fnum(res["wall"]),
                mb(res["maxrss_kib"]),
                f"{request:,}",
                "yes" if res["maxrss_kib"] / 1024 <= request else "NO",
            ]
        )
        cache.setdefault("memory", {})[width] = {
            "wall": res["wall"],
            "maxrss_kib": res["maxrss_kib"],
            "request_mb": request,
        }
    table(
        [
            "depth",
            "width",
            "params (input 64)",
            "epochs",
            "seeds",
            "wall s",
            "peak RSS MB",
            "workflow mem_mb request",
            "request covers peak",
        ],
        rows,
    )
    print()
    print(
        f'baseline: `python -c "import initlab.train"` peaks at '
        f"{mb(base_rss['maxrss_kib'])} MB. Jobs train on the prepared digits split (1,079 "
        "training samples), he_normal + relu, default training settings"
        + "; width 1024 with fewer epochs"
        + (" and 1 seed (--quick)" if args.quick else "")
        + " to save time: a job's memory does not grow with epochs. The request is the "
        "workflow's mem_mb for the job (Study.job_resources, first attempt)."
    )


# ==============================================================================================
# verdicts
# ==============================================================================================


def verdicts(cache: dict[str, Any]) -> None:
    print()
    print("## Targets")
    print()
    rows = []
    eng = cache.get("engine")
    if eng:
        large = [r for r in eng if r["width"] >= 512 and r["batch"] == 256]
        small = [r for r in eng if r["width"] == 128 and r["batch"] == 64]
        if large:
            worst = min(r["ratio"] for r in large)
            rows.append(
                [
                    "engine >= 70% of matmul at width >= 512, batch 256",
                    f"{pct(worst)} (worst of {len(large)})",
                    "met" if worst >= TARGETS["engine_large"] else "NOT met",
                ]
            )
        if small:
            worst = min(r["ratio"] for r in small)
            rows.append(
                [
                    "engine >= 40% of matmul at width 128, batch 64",
                    f"{pct(worst)} (worst of {len(small)})",
                    "met" if worst >= TARGETS["engine_w128_b64"] else "NOT met",
                ]
            )
        over = max(r["overhead"] for r in eng)
        total = sum(r["t_record"] for r in eng) / sum(r["t_norecord"] for r in eng) - 1
        rows.append(
            [
                "statistics overhead <= 10%",
                f"max {pct(over)}, time-weighted {pct(total)}",
                "met"
                if over <= TARGETS["stats_overhead"]
                else (
                    "NOT met per shape (met time-weighted)"
                    if total <= TARGETS["stats_overhead"]
                    else "NOT met"
                ),
            ]
        )
    sc = cache.get("scale", {})
    if 10_000 in sc:
        r = sc[10_000]
        rows.append(
            [
                "planning 10,000 runs <= 30 s",
                f"{r['plan_s']:.1f} s",
                "met" if r["plan_s"] <= TARGETS["plan_10k_s"] else "NOT met",
            ]
        )
        ok = (
            r["agg_s"] <= TARGETS["aggregate_10k_s"]
            and r["agg_kib"] / 1024 <= TARGETS["aggregate_10k_mb"]
        )
        rows.append(
            [
                "aggregating 10,000 runs <= 60 s and <= 2 GB",
                f"{r['agg_s']:.1f} s, {mb(r['agg_kib'])} MB",
                "met" if ok else "NOT met",
            ]
        )
        rows.append(
            [
                "report at 10,000 runs <= 60 s",
                f"{r['report_s']:.1f} s",
                "met" if r["report_s"] <= TARGETS["report_10k_s"] else "NOT met",
            ]
        )
    elif 1_000 in sc:
        rows.append(["scale targets (10,000 runs)", "not measured in --quick", "-"])
    if rows:
        table(["target", "measured", "verdict"], rows)
    else:
        print("(no section with a target was run)")


# ==============================================================================================
# main
# ==============================================================================================


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python benchmarks/bench.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Sections: " + ", ".join(SECTIONS) + ". See benchmarks/README.md.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="fewer shapes, shorter runs, scale at 1,000 runs only (~5 minutes)",
    )
    p.add_argument(
        "--section",
        default=",".join(SECTIONS),
        help="comma-separated sections to run (default: all)",
    )
    p.add_argument(
        "--pipeline-wall",
        type=float,
        metavar="SECONDS",
        help="wall time of the finished default study in --results (else read from "
        "the newest complete default run in .snakemake/log, if any)",
    )
    p.add_argument(
        "--pipeline-cores", type=int, default=2, help="--cores the default study ran with (2)"
    )
    p.add_argument(
        "--results",
        default="results",
        help="results folder of the default study, relative to the repo (results)",
    )
    p.add_argument(
        "--torch-python",
        metavar="PATH",
        help="python interpreter with torch and numpy for section 'torch' (or set "
        "INITLAB_BENCH_TORCH_PYTHON); default: this interpreter",
    )
    p.add_argument(
        "--workdir",
        type=Path,
        help="scratch folder (default: a new temporary folder, removed at the end)",
    )
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write every figure as JSON")
    args = p.parse_args(argv)
    sections = [s.strip() for s in args.section.split(",") if s.strip()]
    bad = [s for s in sections if s not in SECTIONS]
    if bad or not sections:
        p.error(f"--section: unknown {bad}; allowed: {', '.join(SECTIONS)}")
    args.sections = [s for s in SECTIONS if s in sections]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    threadpool_limits(limits=1)  # for the whole process: every BLAS call runs on one thread
    facts = machine_facts()
    print_header(facts, args)
    t0 = time.perf_counter()
    cache: dict[str, Any] = {}
    workroot = args.workdir or Path(tempfile.mkdtemp(prefix="initlab-bench-"))
    workroot.mkdir(parents=True, exist_ok=True)
    runners: dict[str, Callable[[], None]] = {
        "engine": lambda: section_engine(args, cache),
        "stats": lambda: section_stats(args, cache),
        "torch": lambda: section_torch(args, cache),
        "pipeline": lambda: section_pipeline(args, cache, workroot),
        "scale": lambda: section_scale(args, cache, workroot),
        "memory": lambda: section_memory(args, cache, workroot),
    }
    try:
        for name in args.sections:
            runners[name]()
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workroot, ignore_errors=True)
    verdicts(cache)
    print()
    print(
        f"total benchmark time {time.perf_counter() - t0:.0f} s; load average 1/5/15 min at "
        f"the end: {loadavg()}"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": facts,
                    "args": {
                        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                    },
                    **{k: v for k, v in cache.items()},
                },
                indent=2,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
