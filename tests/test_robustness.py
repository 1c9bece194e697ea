"""Robustness of the real workflow: interruption, damaged chunk files, diverging networks.

- An interrupted study (Snakemake killed with SIGKILL while chunks are half trained) resumes,
  reruns only what is missing, and ends with tables and report byte-identical to an
  uninterrupted run, which trained the same networks in chunks of another size.
- A damaged chunk file makes ``initlab aggregate`` fail with a message naming the file (and the
  run) and how to regenerate it, never a silently wrong table.
- A diverging network is a result: its rows stay in the tables with NaN, and nothing prints
  numpy warnings.

The uninterrupted reference study and the diverging study run in the background (started by one
fixture) while the interrupted study runs in the foreground, so the three overlap on two cores.
"""

from __future__ import annotations

import glob
import json
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from initlab import layout
from initlab.cli import main

if TYPE_CHECKING:
    from conftest import BackgroundSnakemake, SnakemakeRunner, TinyConfig

ROOT = Path(__file__).resolve().parents[1]
COMPARED_TABLES = ("runs", "layers", "curves", "summary", "theory")  # timings.csv: wall time
COMPARED_FILES = tuple(layout.table_file(t) for t in COMPARED_TABLES)  # layers, curves: Parquet
N_RUNS = 16  # the tiny grid: 2 x 2 x 2 combinations x 2 seeds
N_CHUNKS = 4  # activations x depths, each chunk 2 initializers x 2 seeds (chunk_size 64)
REFERENCE_CHUNK_SIZE = 2  # the reference trains the same networks in 8 chunks of 2
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
    ref_cfg = tiny_config.write(
        ref_dir / "config.yaml", training=TRAINING, chunk_size=REFERENCE_CHUNK_SIZE
    )
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


def finished_chunks(workdir: Path) -> list[Path]:
    return sorted(p.parent for p in (workdir / "results" / "runs").rglob("runs.parquet"))


def chunk_in_progress(workdir: Path) -> Path | None:
    """A chunk whose log reports progress (an epoch or a network done) but which has no files
    yet, if any."""
    logs = workdir / "results" / "logs" / "train"
    for log in logs.rglob("*.log") if logs.exists() else ():
        progress = re.findall(r"^\[\d+/\d+\] ", log.read_text(), flags=re.MULTILINE)
        folder = workdir / "results" / "runs" / log.relative_to(logs).with_suffix("")
        if progress and not (folder / "runs.parquet").exists():
            return folder
    return None


def assert_complete_chunk_files(folder: Path) -> None:
    """Whatever a killed job left under a final name is whole: both files read, every run's
    summary parses and its layer rows are all there."""
    runs = pq.read_table(folder / "runs.parquet").to_pylist()
    layers = pq.read_table(folder / "layers.parquet", columns=["run_id"]).column(0).to_pylist()
    assert len(runs) == 4
    for run in runs:
        summary = json.loads(run["summary"])
        assert summary["diverged"] in (True, False)
        assert layers.count(run["run_id"]) == summary["n_layer_rows"]


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
    # one chunk done, another killed half-way through its networks
    while run.finished_jobs("train_networks") < 1 or chunk_in_progress(workdir) is None:
        assert run.proc.poll() is None, "the study ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    run.kill()
    half_done = chunk_in_progress(workdir)
    assert half_done is not None

    # What the kill left: some chunks, not all, none of the half-trained one; every
    # final-named file whole.
    done = finished_chunks(workdir)
    assert 0 < len(done) < N_CHUNKS and half_done not in done
    assert not (half_done / "layers.parquet").exists()
    for folder in done:
        assert_complete_chunk_files(folder)
    assert not (workdir / "results" / "tables").exists()

    # A dry run schedules only the missing work: not the plan, not the data, not finished jobs.
    jobs = run_snakemake.planned_jobs(workdir, config=config)
    assert 0 < jobs["train_networks"] < N_CHUNKS, jobs
    assert "plan_study" not in jobs and "prepare_data" not in jobs, jobs

    # Stray temporary files, as a write interrupted between create and rename leaves them, are
    # never read: put garbage under the writer's temporary names in a finished and the
    # half-trained chunk.
    for folder in (done[0], half_done):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".runs.parquet.stale.tmp").write_text("garbage")
        (folder / ".layers.parquet.stale.tmp").write_bytes(b"PAR1\x00")

    # SIGKILL leaves Snakemake's lock behind: the rerun needs --unlock first.
    first = run_snakemake(workdir, "--cores", "2", config=config, check=False)
    if first.returncode != 0:
        assert "LockException" in first.stderr and "--unlock" in first.stderr, first.stderr
        unlock = run_snakemake(workdir, "--unlock", config=config, check=False)
        assert unlock.returncode == 0, unlock.stderr
        second = run_snakemake(workdir, "--cores", "2", config=config, check=False)
        assert second.returncode == 0, second.stderr
    assert len(finished_chunks(workdir)) == N_CHUNKS

    ref = background["reference"].wait()
    changed = _sources_changed_since(background["reference"].started)
    for name in (*(f"tables/{t}" for t in COMPARED_FILES), "report.pdf"):
        a = (ref / "results" / name).read_bytes()
        b = (workdir / "results" / name).read_bytes()
        assert a == b, f"{name} differs" + (
            f"; initlab sources were edited while the test ran: {changed}" if changed else ""
        )

    # A damaged chunk file stops the workflow's aggregate job with one line naming the file and
    # the fix (Snakemake then removes the job's stale tables); following the fix retrains
    # exactly one job.
    rel = "results/runs/digits/tanh/d3/c0"
    (workdir / rel / "runs.parquet").write_text("not parquet at all")
    failed = run_snakemake(
        workdir, "--cores", "1", "--forcerun", "aggregate_tables", config=config, check=False
    )
    assert failed.returncode != 0
    log = (workdir / "results" / "logs" / "aggregate_tables.log").read_text()
    assert len(log.strip().splitlines()) == 1, log
    assert log.startswith(
        f"initlab aggregate: error: {rel}/runs.parquet: not a readable Parquet file"
    ), log
    assert f"Delete {rel} and rerun snakemake" in log
    assert not (workdir / "results" / "tables" / "runs.csv").exists()
    shutil.rmtree(workdir / rel)
    jobs = run_snakemake.planned_jobs(workdir, config=config)
    assert jobs["train_networks"] == 1 and jobs["aggregate_tables"] == 1, jobs


# --- C. a damaged chunk file is an error, never a silently wrong table ---------------------------

CHUNK = Path("results/runs/digits/relu/d3/c1")  # the reference's chunks hold one initializer
RUN_ID = "digits__he_normal__relu__d3__s0"


Rows = list[dict[str, object]]


def _rewrite(path: Path, edit: Callable[[Rows], Rows]) -> None:
    """Rewrite a chunk file's rows (as dicts) through ``edit``, keeping its schema."""
    table = pq.read_table(path)
    pq.write_table(pa.Table.from_pylist(edit(table.to_pylist()), schema=table.schema), path)


def _edit_summary(**changes: object) -> Callable[[Path], None]:
    def edit_rows(rows: Rows) -> Rows:
        for row in rows:
            if row["run_id"] == RUN_ID:
                summary = json.loads(str(row["summary"]))
                for key, value in changes.items():
                    if value is KeyError:
                        del summary[key]
                    else:
                        summary[key] = value
                row["summary"] = json.dumps(summary)
        return rows

    return lambda path: _rewrite(path, edit_rows)


def _set_summary_text(text: str) -> Callable[[Path], None]:
    def edit_rows(rows: Rows) -> Rows:
        for row in rows:
            if row["run_id"] == RUN_ID:
                row["summary"] = text
        return rows

    return lambda path: _rewrite(path, edit_rows)


def _numbers_to_strings(path: Path) -> None:
    def edit_rows(rows: Rows) -> Rows:
        for row in rows:
            summary = json.loads(str(row["summary"]))
            row["summary"] = json.dumps(
                {k: str(v) if isinstance(v, float) else v for k, v in summary.items()}
            )
        return rows

    _rewrite(path, edit_rows)


def _drop_rows(keep: Callable[[dict[str, object]], bool]) -> Callable[[Path], None]:
    return lambda path: _rewrite(path, lambda rows: [r for r in rows if keep(r)])


def _layer_renumbered(path: Path) -> None:
    def edit_rows(rows: Rows) -> Rows:
        first = next(r for r in rows if r["run_id"] == RUN_ID)
        first["layer"] = 9
        return rows

    _rewrite(path, edit_rows)


def _column_as_text(name: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        table = pq.read_table(path)
        i = table.column_names.index(name)
        text = pa.array([str(v) for v in table.column(i).to_pylist()], pa.string())
        pq.write_table(table.set_column(i, name, text), path)

    return damage


def _column_dropped(name: str) -> Callable[[Path], None]:
    return lambda path: pq.write_table(pq.read_table(path).drop_columns([name]), path)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


DAMAGE = {
    "layers.parquet truncated": ("layers.parquet", _truncate, "not a readable Parquet file"),
    "layers.parquet emptied": (
        "layers.parquet",
        lambda p: p.write_bytes(b""),
        "not a readable Parquet file",
    ),
    "layers.parquet binary garbage": (
        "layers.parquet",
        lambda p: p.write_bytes(bytes(range(256)) * 4),
        "not a readable Parquet file",
    ),
    "layers.parquet a run lost its last rows": (
        "layers.parquet",
        lambda p: _rewrite(p, lambda rows: [r for r in rows if r["run_id"] != RUN_ID][:-2]),
        "x 4 layers",
    ),
    "layers.parquet a run's rows gone": (
        "layers.parquet",
        _drop_rows(lambda r: r["run_id"] != RUN_ID),
        "found 0",
    ),
    "layers.parquet layer renumbered": ("layers.parquet", _layer_renumbered, "not the grid of"),
    "layers.parquet text in a number column": (
        "layers.parquet",
        _column_as_text("z_q"),
        "column 'z_q' does not hold numbers",
    ),
    "layers.parquet a column dropped": (
        "layers.parquet",
        _column_dropped("z_q"),
        "column 'z_q' is missing",
    ),
    "runs.parquet garbage": (
        "runs.parquet",
        lambda p: p.write_bytes(b"\x00\xffgarbage"),
        "not a readable Parquet file",
    ),
    "runs.parquet truncated": ("runs.parquet", _truncate, "not a readable Parquet file"),
    "runs.parquet a run listed twice": (
        "runs.parquet",
        lambda p: _rewrite(p, lambda rows: [*rows, rows[0]]),
        "appears twice",
    ),
    "runs.parquet a run missing": (
        "runs.parquet",
        _drop_rows(lambda r: r["run_id"] != RUN_ID),
        f"run {RUN_ID} is missing",
    ),
    "runs.parquet summary truncated": (
        "runs.parquet",
        _set_summary_text('{"diverged": fal'),
        f"the summary of {RUN_ID} is not valid JSON",
    ),
    "runs.parquet summary a list": (
        "runs.parquet",
        _set_summary_text("[1, 2]"),
        "is not a JSON object",
    ),
    "runs.parquet numbers edited to strings": (
        "runs.parquet",
        _numbers_to_strings,
        "(str); expected a number or null",
    ),
    "runs.parquet diverged as a string": (
        "runs.parquet",
        _edit_summary(diverged="false"),
        "key 'diverged' holds 'false' (str); expected true/false",
    ),
    "runs.parquet accuracy true": (
        "runs.parquet",
        _edit_summary(final_test_acc=True),
        "key 'final_test_acc' holds True (bool); expected a number or null",
    ),
    "runs.parquet key deleted": (
        "runs.parquet",
        _edit_summary(final_test_acc=KeyError),
        "key 'final_test_acc' is missing",
    ),
    "runs.parquet other configuration": (
        "runs.parquet",
        _edit_summary(config={"depth": 4}),
        "different configuration",
    ),
    "runs.parquet steps as text": (
        "runs.parquet",
        _column_as_text("steps"),
        "column 'steps' does not hold numbers",
    ),
    "runs.parquet missing": ("runs.parquet", Path.unlink, "missing"),
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
    for name in COMPARED_FILES:
        a = (reference / "results" / "tables" / name).read_bytes()
        assert (workdir / "results" / "tables" / name).read_bytes() == a, name


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_chunk_file_fails_aggregate_naming_it(
    reference: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    filename, damage, expected = DAMAGE[case]
    workdir = _copy_study(reference, tmp_path)
    damage(workdir / CHUNK / filename)
    rc, err = _aggregate(workdir, capsys, monkeypatch)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"initlab aggregate: error: {CHUNK / filename}")
    assert expected in lines[0], lines[0]
    assert f"Delete {CHUNK} and rerun snakemake" in lines[0]
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

    layers = pd.read_parquet(tables / "layers.parquet")
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
