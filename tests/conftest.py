"""Shared plumbing of the end-to-end tests: the tiny study's configuration and the repository's
Snakemake workflow run as a subprocess (in the foreground or, to be interrupted, in the background).

Fixtures:

- ``tiny_config``: the tiny study (``tests/data/tiny.yaml``, 16 networks) as a fresh dict, or
  written to a file, with top-level and ``training`` overrides.
- ``run_snakemake``: ``run_snakemake(workdir, *args, config=None, check=True, timeout=600)`` runs
  ``python -m snakemake -s <repo>/Snakefile --directory <workdir> [--configfile <config>] *args``
  in ``workdir`` and returns the :class:`subprocess.CompletedProcess`;
  ``run_snakemake.planned_jobs(...)`` counts the jobs of a dry run per rule and
  ``run_snakemake.start(...)`` starts the same command in the background.
- ``subprocess_env``: the environment those subprocesses run with (this interpreter's ``bin``
  first on ``PATH``, so ``initlab`` and ``snakemake`` resolve to the tested installation).

The workflow profile ``profiles/default`` is picked up by Snakemake itself from the Snakefile's
folder; nothing here passes ``--profile``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEFILE = ROOT / "Snakefile"
TINY = ROOT / "tests" / "data" / "tiny.yaml"
SNAKEMAKE_TIMEOUT = 600  # seconds; a tiny study takes well under a minute on two cores

Config = dict[str, Any]


def _subprocess_env() -> dict[str, str]:
    """The current environment with this interpreter's ``bin`` folder first on ``PATH``."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


class TinyConfig:
    """Builds configurations of the tiny study from ``tests/data/tiny.yaml``."""

    path = TINY

    def __call__(self, *, training: Mapping[str, Any] | None = None, **overrides: Any) -> Config:
        """A fresh copy of the tiny study; ``training`` updates its ``training`` section, other
        keywords replace top-level keys."""
        cfg = yaml.safe_load(self.path.read_text())
        if training:
            cfg["training"] = {**cfg["training"], **training}
        cfg.update(overrides)
        return cfg

    def write(
        self, path: Path, *, training: Mapping[str, Any] | None = None, **overrides: Any
    ) -> Path:
        """Write ``self(training=training, **overrides)`` as YAML to ``path`` (folders created)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self(training=training, **overrides)))
        return path


class BackgroundSnakemake:
    """A Snakemake run in its own process group, output captured to files in ``workdir``."""

    def __init__(self, command: list[str], workdir: Path, timeout: float) -> None:
        self.workdir = workdir
        self.timeout = timeout
        self.started = time.time()
        self.stdout = workdir / "snakemake.stdout"
        self.stderr = workdir / "snakemake.stderr"
        with open(self.stdout, "w") as out, open(self.stderr, "w") as err:
            self.proc = subprocess.Popen(
                command,
                stdout=out,
                stderr=err,
                env=_subprocess_env(),
                cwd=workdir,
                start_new_session=True,  # its own process group: killpg reaches every job
            )

    def wait(self) -> Path:
        """Wait for a successful end; return the working directory."""
        rc = self.proc.wait(timeout=self.timeout)
        assert rc == 0, self.stderr.read_text()
        return self.workdir

    def finished_jobs(self, rule: str) -> int:
        """Jobs of ``rule`` Snakemake has reported finished so far."""
        return len(re.findall(rf"Finished jobid: \d+ \(Rule: {rule}\)", self.stderr.read_text()))

    def kill(self) -> None:
        """SIGKILL Snakemake and every job it started."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)


class SnakemakeRunner:
    """Runs the repository's Snakefile with ``python -m snakemake`` in a working directory."""

    def command(self, workdir: Path, *args: str, config: Path | str | None = None) -> list[str]:
        """The command line: Snakefile, ``--directory workdir``, ``--configfile config``, args."""
        cmd = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir)]
        if config is not None:
            cmd += ["--configfile", str(config)]
        return [*cmd, *args]

    def __call__(
        self,
        workdir: Path,
        *args: str,
        config: Path | str | None = None,
        check: bool = True,
        timeout: float | None = SNAKEMAKE_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        """Run Snakemake to its end in ``workdir``, output captured as text.

        With ``check``, a non-zero exit fails the test with Snakemake's stdout and stderr.
        """
        proc = subprocess.run(
            self.command(workdir, *args, config=config),
            capture_output=True,
            text=True,
            env=_subprocess_env(),
            cwd=workdir,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"snakemake failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def planned_jobs(
        self, workdir: Path, *args: str, config: Path | str | None = None
    ) -> dict[str, int]:
        """Job counts per rule of a dry run (``snakemake -n``); ``{}`` when nothing is to do."""
        proc = self(workdir, "-n", *args, config=config)
        counts = {}
        for line in proc.stdout.split("Job stats:")[-1].splitlines():
            m = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
            if m and m.group(1) != "total":
                counts[m.group(1)] = int(m.group(2))
        return counts

    def start(
        self,
        workdir: Path,
        *args: str,
        config: Path | str | None = None,
        timeout: float = SNAKEMAKE_TIMEOUT,
    ) -> BackgroundSnakemake:
        """Start Snakemake in the background; ``timeout`` bounds its :meth:`~.wait`."""
        return BackgroundSnakemake(self.command(workdir, *args, config=config), workdir, timeout)


@pytest.fixture(scope="session")
def digits() -> Any:
    """The digits dataset, loaded once per session (scikit-learn's copy, split as always)."""
    from initlab.data import load_dataset

    return load_dataset("digits")


@pytest.fixture(scope="session")
def tiny_config() -> TinyConfig:
    """The tiny study's configuration: ``tiny_config(...)`` a dict, ``.write(path, ...)`` a file."""
    return TinyConfig()


@pytest.fixture(scope="session")
def run_snakemake() -> SnakemakeRunner:
    """``run_snakemake(workdir, *args, config=None, check=True, timeout=600)``."""
    return SnakemakeRunner()


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """The environment for subprocesses that must find this installation's commands."""
    return _subprocess_env()
