"""Helpers every section uses: paths, number formats, Markdown tables, timed child processes."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TEXT_WIDTH = 100

# --- printing ---------------------------------------------------------------------------------


def loadavg() -> str:
    """Return the 1-, 5- and 15-minute load averages as ``"a / b / c"``."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def section_header(title: str) -> None:
    """Print a section's Markdown heading and the load average at its start."""
    print()
    print(f"## {title}")
    print(f"(load average 1/5/15 min at start: {loadavg()})")
    print()


def note(text: str) -> None:
    """Print ``text`` wrapped at 100 columns: the explanation under a table."""
    print(textwrap.fill(text, width=TEXT_WIDTH))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a GitHub-markdown table, columns padded; numbers right-aligned.

    Parameters
    ----------
    headers : sequence of str
        The column titles.
    rows : iterable of sequences
        One sequence of cells per row; cells are printed with ``str``.
    """
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


def fnum(x: float | None, digits: int = 3) -> str:
    """Format a number with ``digits`` significant digits, thousands separated, no exponent."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    decimals = max(0, digits - 1 - mag)
    return f"{x:,.{decimals}f}"


def pct(x: float | None) -> str:
    """Format a fraction as a percentage with one decimal (``"n/a"`` when undefined)."""
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"


def mb(kib: float) -> str:
    """Format a size given in KiB as MB (MiB) with three significant digits."""
    return fnum(kib / 1024.0)


SHAPE_HEADERS = ("width", "depth", "batch")


def shape_cells(row: dict[str, Any]) -> list[Any]:
    """Return the first three cells of every engine table: width, depth and batch."""
    return [row["width"], row["depth"], row["batch"]]


# --- child processes --------------------------------------------------------------------------

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

    Parameters
    ----------
    cmd : sequence of str
        The command line.
    cwd : Path, optional
        Its working directory.
    env : dict, optional
        Its environment (default: this process's).
    check : bool
        Raise ``RuntimeError`` with the end of its output when the command fails.

    Returns
    -------
    dict
        ``rc``, ``wall`` (seconds), ``maxrss_kib``, ``user`` and ``sys`` (CPU seconds) and
        ``output`` (stdout and stderr together).
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
    """Return an executable next to this interpreter (the venv's ``initlab``, ``snakemake``)."""
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found next to {sys.executable} or on PATH")
    return found


def child_env() -> dict[str, str]:
    """Return this environment with the interpreter's folder first on ``PATH``."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_quietly(cmd: Sequence[str]) -> None:
    """Run ``cmd`` in :func:`child_env`, its output discarded; raise if it fails."""
    subprocess.run(cmd, check=True, env=child_env(), stdout=subprocess.DEVNULL)


def initlab_run(options: Sequence[str], data: Path, out: Path) -> list[str]:
    """Return the command line ``initlab run OPTIONS --data DATA --threads 1 --out OUT``."""
    return [
        bin_path("initlab"),
        "run",
        *options,
        "--data",
        str(data),
        "--threads",
        "1",
        "--out",
        str(out),
    ]


# --- inputs shared by the sections ------------------------------------------------------------


def prepared_digits(workroot: Path) -> Path:
    """Return the prepared digits split (`initlab prepare-data`), made once per benchmark."""
    path = workroot / "digits.npz"
    if not path.exists():
        run_quietly(
            [bin_path("initlab"), "prepare-data", "--dataset", "digits", "--out", str(path)]
        )
    return path


def default_config() -> dict[str, Any]:
    """Return the default study's configuration, ``config/config.yaml``, as read from YAML."""
    import yaml

    return dict(yaml.safe_load((REPO / "config" / "config.yaml").read_text()))
