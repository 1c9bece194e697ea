"""Robustness of the real workflow: interruption, damaged run files, diverging networks.

- An interrupted study (Snakemake killed with SIGKILL mid-training) resumes, reruns only what is
  missing, and ends with tables and report byte-identical to an uninterrupted run.
- A damaged per-run file makes ``initlab aggregate`` fail with a message naming the file and how
  to regenerate it, never a silently wrong table.
- A diverging network is a result: its rows stay in the tables with NaN, and nothing prints
  numpy warnings.

The uninterrupted reference study and the diverging study run in the background (started by one
fixture) while the interrupted study runs in the foreground, so the three overlap on two cores.
"""

from __future__ import annotations

import glob
import json
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from initlab.cli import main
from initlab.train import LAYER_COLUMNS

if TYPE_CHECKING:
    from conftest import BackgroundSnakemake, SnakemakeRunner, TinyConfig

ROOT = Path(__file__).resolve().parents[1]
COMPARED_TABLES = ("runs", "layers", "curves", "summary", "theory")  # timings.csv: wall time
N_RUNS = 16  # the tiny grid: 2 x 2 x 2 combinations x 2 seeds
TIMEOUT = 600  # seconds the interrupted study may take to reach its kill point
AGGREGATE_ARGS = ("--study", "results/study.json", "--out", "results/tables")

pytestmark = pytest.mark.slow


def _sources_changed_since(start: float) -> list[str]:
    """initlab source files modified after ``start`` (by someone editing during the test)."""
    src = ROOT / "src" / "initlab"
    return sorted(str(p.relative_to(src)) for p in src.rglob("*.py") if p.stat().st_mtime > start)


TRAINING = {"epochs": 4}  # a few seconds of training, so a kill lands mid-study
DIVERGING = {
    "initializers": ["huge", "he_normal"],
    "activations": ["relu"],
    "depths": [20],
    "width": 8,
    "custom_initializers": {"huge": {"family": "normal", "std": 5.0}},
}


@pytest.fixture(scope="module")
def background(
    tmp_path_factory: pytest.TempPathFactory,
    run_snakemake: SnakemakeRunner,
    tiny_config: TinyConfig,
) -> Iterator[dict[str, BackgroundSnakemake]]:
    """The uninterrupted reference study and the diverging study, running in the background."""
    ref_dir, div_dir = tmp_path_factory.mktemp("reference"), tmp_path_factory.mktemp("diverging")
    ref_cfg = tiny_config.write(ref_dir / "config.yaml", training=TRAINING)
    div_cfg = tiny_config.write(div_dir / "config.yaml", training=TRAINING, **DIVERGING)
    runs = {
        "reference": run_snakemake.start(ref_dir, "--cores", "1", config=ref_cfg),
        "diverging": run_snakemake.start(div_dir, "--cores", "1", config=div_cfg),
    }
    yield runs
    for run in runs.values():
        run.kill()


@pytest.fixture(scope="module")
def reference(background: dict[str, BackgroundSnakemake]) -> Path:
    return background["reference"].wait()


def summaries(workdir: Path) -> list[Path]:
    return sorted((workdir / "results" / "runs").rglob("summary.json"))


def assert_complete_run_files(run_dir: Path) -> None:
    """Whatever a killed job left under a final name is whole: JSON parses, CSV has all rows."""
    summary = json.loads((run_dir / "summary.json").read_text())
    assert isinstance(summary, dict) and summary["diverged"] in (True, False)
    if (run_dir / "layers.csv").exists():
        text = (run_dir / "layers.csv").read_text()
        assert text.endswith("\n")
        assert len(text.splitlines()) == 1 + summary["n_layer_rows"]


# --- B. interruption loses nothing -------------------------------------------------------------


def test_killed_study_resumes_to_identical_results(
    background: dict[str, BackgroundSnakemake],
    tmp_path: Path,
    run_snakemake: SnakemakeRunner,
    tiny_config: TinyConfig,
) -> None:
    workdir = tmp_path / "interrupted"
    config = tiny_config.write(workdir / "config.yaml", training=TRAINING)
    run = run_snakemake.start(workdir, "--cores", "2", config=config)
    deadline = time.monotonic() + TIMEOUT
    while run.finished_jobs("train_networks") < 2:  # 2 of 8 jobs done, others under way
        assert run.proc.poll() is None, "the study ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    run.kill()

    # What the kill left: some runs, not all; every final-named file whole.
    done = summaries(workdir)
    assert 0 < len(done) < N_RUNS
    for path in done:
        assert_complete_run_files(path.parent)
    assert not (workdir / "results" / "tables").exists()

    # A dry run schedules only the missing work: not the plan, not the data, not finished jobs.
    jobs = run_snakemake.planned_jobs(workdir, config=config)
    assert 0 < jobs["train_networks"] < 8, jobs
    assert "plan_study" not in jobs and "prepare_data" not in jobs, jobs

    # Stray temporary files, as a write interrupted between create and rename leaves them, are
    # never read: put garbage under the writer's temporary names in a finished and a missing run.
    grid = {
        workdir / "results" / "runs" / "digits" / init / act / f"d{depth}" / f"s{seed}"
        for init in ("standard_uniform", "he_normal")
        for act in ("tanh", "relu")
        for depth in (1, 3)
        for seed in (0, 1)
    }
    missing = sorted(grid - {path.parent for path in done})
    for run_dir in (done[0].parent, missing[0]):
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / ".summary.json.stale.tmp").write_text("{garbage")
        (run_dir / ".layers.csv.stale.tmp").write_text("step,epo")

    # SIGKILL leaves Snakemake's lock behind: the rerun needs --unlock first.
    first = run_snakemake(workdir, "--cores", "2", config=config, check=False)
    if first.returncode != 0:
        assert "LockException" in first.stderr and "--unlock" in first.stderr, first.stderr
        unlock = run_snakemake(workdir, "--unlock", config=config, check=False)
        assert unlock.returncode == 0, unlock.stderr
        second = run_snakemake(workdir, "--cores", "2", config=config, check=False)
        assert second.returncode == 0, second.stderr
    assert len(summaries(workdir)) == N_RUNS

    ref = background["reference"].wait()
    changed = _sources_changed_since(background["reference"].started)
    for name in (*(f"tables/{t}.csv" for t in COMPARED_TABLES), "report.pdf"):
        a = (ref / "results" / name).read_bytes()
        b = (workdir / "results" / name).read_bytes()
        assert a == b, f"{name} differs" + (
            f"; initlab sources were edited while the test ran: {changed}" if changed else ""
        )

    # A damaged run file stops the workflow's aggregate job with one line naming the file and
    # the fix (Snakemake then removes the job's stale tables); following the fix retrains
    # exactly one job.
    rel = "results/runs/digits/he_normal/tanh/d3/s1"
    (workdir / rel / "summary.json").write_text("not json at all")
    failed = run_snakemake(
        workdir, "--cores", "1", "--forcerun", "aggregate_tables", config=config, check=False
    )
    assert failed.returncode != 0
    log = (workdir / "results" / "logs" / "aggregate_tables.log").read_text()
    assert len(log.strip().splitlines()) == 1, log
    assert log.startswith(f"initlab aggregate: error: {rel}/summary.json: not valid JSON"), log
    assert f"Delete {rel} and rerun snakemake" in log
    assert not (workdir / "results" / "tables" / "runs.csv").exists()
    shutil.rmtree(workdir / rel)
    jobs = run_snakemake.planned_jobs(workdir, config=config)
    assert jobs["train_networks"] == 1 and jobs["aggregate_tables"] == 1, jobs


# --- C. a damaged run file is an error, never a silently wrong table ------------------------------

RUN = Path("results/runs/digits/he_normal/relu/d3/s0")


def _truncate_mid_row(path: Path) -> None:
    text = path.read_text()
    last_row = text.rstrip("\n").rfind("\n") + 1
    path.write_text(text[: last_row + (len(text) - last_row) // 2])


def _truncate_after_row(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-2]))


def _edit_summary(**changes: object) -> Callable[[Path], None]:
    def edit(path: Path) -> None:
        summary = json.loads(path.read_text())
        for key, value in changes.items():
            if value is KeyError:
                del summary[key]
            else:
                summary[key] = value
        path.write_text(json.dumps(summary))

    return edit


def _numbers_to_strings(path: Path) -> None:
    summary = json.loads(path.read_text())
    for key, value in summary.items():
        if isinstance(value, float):
            summary[key] = str(value)
    path.write_text(json.dumps(summary, indent=2))


def _text_in_a_number(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    fields = lines[3].split(",")
    fields[LAYER_COLUMNS.index("z_q")] = "abc"
    lines[3] = ",".join(fields)
    path.write_text("".join(lines))


def _layer_renumbered(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    fields = lines[1].split(",")
    fields[LAYER_COLUMNS.index("layer")] = "9"
    lines[1] = ",".join(fields)
    path.write_text("".join(lines))


def _fewer_fields(path: Path) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].split(",", 1)[1]
    path.write_text("".join(lines))


DAMAGE = {
    "layers.csv truncated mid-row": (
        "layers.csv",
        _truncate_mid_row,
        "truncated (the last line is incomplete)",
    ),
    "layers.csv truncated after a row": ("layers.csv", _truncate_after_row, "x 4 layers"),
    "layers.csv emptied": ("layers.csv", lambda p: p.write_text(""), "truncated"),
    "layers.csv header only": (
        "layers.csv",
        lambda p: p.write_text(p.read_text().splitlines()[0] + "\n"),
        "found 0 rows",
    ),
    "layers.csv a row lost a field": ("layers.csv", _fewer_fields, "line 3 has"),
    "layers.csv layer renumbered": ("layers.csv", _layer_renumbered, "not the grid of"),
    "layers.csv text in a number": ("layers.csv", _text_in_a_number, "'z_q' holds text"),
    "layers.csv binary garbage": (
        "layers.csv",
        lambda p: p.write_bytes(bytes(range(256)) * 4),
        "layers.csv",
    ),
    "summary.json garbage": (
        "summary.json",
        lambda p: p.write_bytes(b"\x00\xffgarbage"),
        "summary.json",
    ),
    "summary.json truncated": (
        "summary.json",
        lambda p: p.write_text(p.read_text()[:200]),
        "not valid JSON",
    ),
    "summary.json a list": (
        "summary.json",
        lambda p: p.write_text("[1, 2]"),
        "expected a JSON object",
    ),
    "summary.json numbers edited to strings": (
        "summary.json",
        _numbers_to_strings,
        "(str); expected a number or null",
    ),
    "summary.json diverged as a string": (
        "summary.json",
        _edit_summary(diverged="false"),
        "key 'diverged' holds 'false' (str); expected true/false",
    ),
    "summary.json accuracy true": (
        "summary.json",
        _edit_summary(final_test_acc=True),
        "key 'final_test_acc' holds True (bool); expected a number or null",
    ),
    "summary.json key deleted": (
        "summary.json",
        _edit_summary(final_test_acc=KeyError),
        "key 'final_test_acc' is missing",
    ),
    "summary.json other configuration": (
        "summary.json",
        _edit_summary(config={"depth": 4}),
        "different configuration",
    ),
    "timing.json garbage": ("timing.json", lambda p: p.write_text("{"), "not valid JSON"),
    "timing.json steps as text": (
        "timing.json",
        lambda p: p.write_text(json.dumps({**json.loads(p.read_text()), "steps": "72"})),
        "key 'steps' holds '72'",
    ),
    "summary.json missing": ("summary.json", Path.unlink, "missing"),
}


def _copy_study(reference: Path, dest: Path) -> Path:
    """A study's inputs to aggregate (plan, prepared data, runs), without its tables."""
    for part in ("study.json", "data", "runs"):
        src, dst = reference / "results" / part, dest / "results" / part
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    return dest


def _aggregate(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str]:
    """``initlab aggregate --study results/study.json --out results/tables`` in ``workdir``."""
    monkeypatch.chdir(workdir)
    try:
        rc = main(["aggregate", *AGGREGATE_ARGS])
    except SystemExit as exc:  # a one-line error, exit code 2
        rc = int(exc.code or 0)
    return rc, capsys.readouterr().err


def test_intact_copy_aggregates_to_the_same_tables(
    reference: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workdir = _copy_study(reference, tmp_path)
    rc, err = _aggregate(workdir, capsys, monkeypatch)
    assert rc == 0, err
    for name in COMPARED_TABLES:
        a = (reference / "results" / "tables" / f"{name}.csv").read_bytes()
        assert (workdir / "results" / "tables" / f"{name}.csv").read_bytes() == a, name


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_run_file_fails_aggregate_naming_it(
    reference: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    filename, damage, expected = DAMAGE[case]
    workdir = _copy_study(reference, tmp_path)
    damage(workdir / RUN / filename)
    rc, err = _aggregate(workdir, capsys, monkeypatch)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"initlab aggregate: error: {RUN / filename}")
    assert expected in lines[0], lines[0]
    assert f"Delete {RUN} and rerun snakemake" in lines[0]
    assert not (workdir / "results" / "tables").exists()  # no table at all, not a wrong one


# --- D. divergence is a result ------------------------------------------------------------------


def test_diverging_network_is_a_result(background: dict[str, BackgroundSnakemake]) -> None:
    workdir = background["diverging"].wait()
    tables = workdir / "results" / "tables"
    runs = pd.read_csv(tables / "runs.csv")
    assert len(runs) == 4
    huge, normal = runs[runs["initializer"] == "huge"], runs[runs["initializer"] == "he_normal"]
    assert huge["diverged"].all()
    assert huge["diverged_step"].notna().all() and (huge["diverged_step"] >= 0).all()
    assert huge["final_test_acc"].isna().all() and huge["final_train_loss"].isna().all()
    assert not normal["diverged"].any()
    assert normal["final_test_acc"].notna().all() and normal["diverged_step"].isna().all()

    summary = pd.read_csv(tables / "summary.csv").set_index("initializer")
    assert summary.loc["huge", "verdict"] == "diverged"
    assert summary.loc["huge", "share_diverged"] == 1.0
    assert summary.loc["he_normal", "verdict"] != "diverged"
    # every seed diverged: counted as failed runs at chance over all seeds; no survivors
    n_classes = 10
    assert summary.loc["huge", "final_test_acc_mean"] == pytest.approx(1 / n_classes)
    assert summary.loc["huge", "n_survivors"] == 0
    assert np.isnan(summary.loc["huge", "final_test_acc_survivors_mean"])

    layers = pd.read_csv(tables / "layers.csv")
    assert set(layers["initializer"]) == {"huge", "he_normal"}
    assert (workdir / "results" / "report.pdf").read_bytes().startswith(b"%PDF")

    texts = {"snakemake stderr": background["diverging"].stderr.read_text()}
    for log in glob.glob(str(workdir / "results" / "logs" / "**" / "*.log"), recursive=True):
        texts[log] = Path(log).read_text()
    assert len(texts) > 4
    for where, text in texts.items():
        for needle in ("RuntimeWarning", "overflow encountered", "invalid value encountered"):
            assert needle not in text, f"{needle} in {where}"
        assert "Warning" not in text, f"a warning in {where}:\n{text}"
