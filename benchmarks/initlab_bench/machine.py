"""The benchmark's header: the machine, numpy and the BLAS library numpy actually loaded."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_info

from .common import loadavg

BLAS_RUNTIME_KEYS = (
    "internal_api",
    "version",
    "architecture",
    "threading_layer",
    "num_threads",
    "filepath",
)
BLAS_ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def _cpu_name() -> str:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return cpu


def _mem_gib() -> float:
    mem_gib = float("nan")
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gib = int(line.split()[1]) / 1024**2
    return mem_gib


def _usable_cpus() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count()


def _blas_build() -> dict[str, Any]:
    build: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        cfg = np.show_config(mode="dicts")
        build = cfg.get("Build Dependencies", {}).get("blas", {})
    return {k: build.get(k) for k in ("name", "version", "openblas configuration") if k in build}


def machine_facts() -> dict[str, Any]:
    """Collect the facts the header prints (and the JSON dump keeps).

    Returns
    -------
    dict
        Date, CPU model, logical and usable CPUs, memory, Python, numpy and initlab versions,
        the BLAS libraries loaded at run time (threadpoolctl) and built against
        (``numpy.show_config``), the BLAS environment variables and the load average.
    """
    import initlab

    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "cpu": _cpu_name(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": _usable_cpus(),
        "mem_gib": _mem_gib(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "initlab": initlab.__version__,
        "blas_runtime": [{k: i.get(k) for k in BLAS_RUNTIME_KEYS} for i in blas],
        "blas_build": _blas_build(),
        "env": {k: os.environ[k] for k in BLAS_ENV_VARS if k in os.environ},
        "loadavg_start": os.getloadavg(),
    }


def print_header(facts: dict[str, Any], quick: bool, sections: Sequence[str]) -> None:
    """Print the benchmark's title and the machine facts from :func:`machine_facts`."""
    print("# initlab benchmark")
    print()
    mode = "quick" if quick else "full"
    print(f"- date: {facts['date']}; mode: {mode}; sections: {', '.join(sections)}")
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
