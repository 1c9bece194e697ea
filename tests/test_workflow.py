"""End-to-end: the real Snakemake workflow on the tiny study (16 networks), in a temp folder."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow.parquet as pq
import pytest

from initlab import layout

if TYPE_CHECKING:
    from conftest import SnakemakeRunner, TinyConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_run(
    tmp_path_factory: pytest.TempPathFactory,
    run_snakemake: SnakemakeRunner,
    tiny_config: TinyConfig,
) -> Path:
    workdir = tmp_path_factory.mktemp("tiny")
    config = tiny_config.write(workdir / "config.yaml")
    assert run_snakemake.planned_jobs(workdir, config=config) == {
        "all": 1,
        "plan_study": 1,
        "prepare_data": 1,
        "train_networks": 4,  # 2 activations x 2 depths, a chunk of 2 initializers x 2 seeds
        "aggregate_tables": 1,
        "write_report": 1,
    }
    run_snakemake(workdir, "--cores", "2", config=config)
    return workdir


def test_tables_have_the_grid(tiny_run: Path) -> None:
    tables = tiny_run / "results" / "tables"
    runs = pd.read_csv(tables / "runs.csv")
    assert len(runs) == 16
    assert set(runs["initializer"]) == {"standard_uniform", "he_normal"}
    assert sorted(runs["depth"].unique()) == [1, 3]
    for col in (
        "run_id",
        "final_test_acc",
        "steps_to_target",
        "diverged",
        "diverged_step",
        "log10_delta_ratio_init",
        "log10_wgrad_ratio_init",
        "best_val_acc",
    ):
        assert col in runs.columns
    assert not (tables / "layers.csv").exists() and not (tables / "curves.csv").exists()
    layers = pd.read_parquet(tables / "layers.parquet")
    checkpoints = 3  # epochs 2, checkpoint every epoch: steps 0, one epoch, the end
    assert len(layers) == checkpoints * 8 * ((1 + 1) + (3 + 1))
    assert layers["z_q"].dtype == "float64" and layers["step"].dtype == "int64"
    assert list(layers["run_id"].drop_duplicates()) == list(runs["run_id"])  # runs.csv's order
    assert len(pd.read_parquet(tables / "curves.parquet")) == 16 * checkpoints
    summary = pd.read_csv(tables / "summary.csv")
    assert len(summary) == 8
    assert set(summary["verdict"]) <= {"trains", "partial", "fails", "diverged"}
    assert (summary["n_seeds"] == 2).all()
    theory = pd.read_csv(tables / "theory.csv")
    assert len(theory) == 4 * ((1 + 1) + (3 + 1))
    assert len(pd.read_csv(tables / "timings.csv")) == 16
    sources = pd.read_csv(tables / "sources.csv")  # no transfer initializers: the header only
    assert sources.empty and {"source", "activation", "seed", "final_test_acc"} <= set(sources)


def test_a_chunk_is_two_files_and_its_log_shows_progress(tiny_run: Path) -> None:
    """Each training job leaves its two Parquet files and nothing else in its folder, and a log
    line per network: done / total, the outcome, elapsed and time left."""
    runs = tiny_run / "results" / "runs"
    folders = sorted(p.parent for p in runs.rglob("runs.parquet"))
    assert [f.relative_to(runs).as_posix() for f in folders] == [
        "digits/relu/d1/c0",
        "digits/relu/d3/c0",
        "digits/tanh/d1/c0",
        "digits/tanh/d3/c0",
    ]
    assert sum(1 for p in runs.rglob("*") if p.is_file()) == 2 * len(folders)
    log = tiny_run / "results" / "logs" / "train" / "digits" / "tanh" / "d3" / "c0.log"
    lines = log.read_text().splitlines()
    # epoch 2 of the 4 networks side by side, then a line per network as they finish
    assert lines[0].startswith("[0/4] 4 networks side by side from digits__standard_uniform")
    assert "epoch 1/2" in lines[0]
    assert [line.split("]")[0] for line in lines[1:5]] == ["[1/4", "[2/4", "[3/4", "[4/4"]
    assert "digits__standard_uniform__tanh__d3__s0: " in lines[1]
    assert all("elapsed" in line and "left" in line for line in lines[:5])


def test_report_pdf_has_pages(tiny_run: Path) -> None:
    pdf = (tiny_run / "results" / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages >= 10
    for name in ("heatmaps", "gradient_flow", "depth_scaling", "learning_curves", "theory"):
        assert (tiny_run / "results" / "figures" / f"{name}.png").stat().st_size > 1000


def test_nothing_to_do_on_rerun(tiny_run: Path, run_snakemake: SnakemakeRunner) -> None:
    config = tiny_run / "config.yaml"
    assert run_snakemake.planned_jobs(tiny_run, config=config) == {}


def test_adding_a_depth_schedules_only_new_jobs(
    tiny_run: Path, run_snakemake: SnakemakeRunner, tiny_config: TinyConfig
) -> None:
    config = tiny_config.write(tiny_run / "more.yaml", depths=[1, 3, 5])
    jobs = run_snakemake.planned_jobs(tiny_run, config=config)
    assert jobs["train_networks"] == 2  # only the depth-5 chunks


def test_changing_a_training_setting_reruns_its_jobs(
    tiny_run: Path, run_snakemake: SnakemakeRunner, tiny_config: TinyConfig
) -> None:
    config = tiny_config.write(tiny_run / "lr.yaml", training={"learning_rate": 0.02})
    jobs = run_snakemake.planned_jobs(tiny_run, config=config)
    assert jobs["train_networks"] == 4
    assert "prepare_data" not in jobs


def test_same_bytes_with_one_core(
    tiny_run: Path, tmp_path: Path, run_snakemake: SnakemakeRunner
) -> None:
    config = shutil.copy(tiny_run / "config.yaml", tmp_path / "config.yaml")
    run_snakemake(tmp_path, "--cores", "1", config=config)
    for name in ("runs", "layers", "curves", "summary", "theory"):
        a = (tiny_run / "results" / "tables" / layout.table_file(name)).read_bytes()
        b = (tmp_path / "results" / "tables" / layout.table_file(name)).read_bytes()
        assert a == b, name
    assert (tiny_run / "results" / "report.pdf").read_bytes() == (
        tmp_path / "results" / "report.pdf"
    ).read_bytes()


def test_bad_config_fails_before_any_job(
    tmp_path: Path, run_snakemake: SnakemakeRunner, tiny_config: TinyConfig
) -> None:
    config = tiny_config.write(tmp_path / "bad.yaml", initializers=["he_norml"])
    proc = run_snakemake(tmp_path, "--cores", "1", config=config, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "he_norml" in out and "he_normal" in out
    assert not (tmp_path / "results").exists()


def test_the_real_studys_report_pages_are_legible(tiny_run: Path) -> None:
    """The report of a study that really ran (training, aggregation) keeps every text on its
    page and its text blocks apart (the same check as tests/test_report_layout.py)."""
    from test_report_layout import layout_problems

    from initlab import io
    from initlab.report import plan_pages
    from initlab.report.data import load_tables

    results = tiny_run / "results"
    pages = plan_pages(io.read_json(results / "study.json"), load_tables(results / "tables"))
    assert pages[0].section == "recommendations"
    problems = layout_problems(pages)
    assert not problems, "\n".join(problems)


def test_a_study_with_extra_axes_runs_end_to_end_and_grows_by_new_points_only(
    tmp_path: Path, run_snakemake: SnakemakeRunner, tiny_config: TinyConfig
) -> None:
    """optimizer and learning_rate as axes (2 x 2 points) on 2 x 1 x 1 cells: 4 jobs (a chunk
    per point), one column per axis in every per-run table, one summary row per cell and
    point, the report built; then adding an optimizer schedules only its 2 new jobs."""
    axes = {"optimizer": ["momentum", "adam"], "learning_rate": [0.02, 0.002]}
    config = tiny_config.write(
        tmp_path / "axes.yaml", activations=["tanh"], depths=[2], training=axes
    )
    assert run_snakemake.planned_jobs(tmp_path, config=config)["train_networks"] == 4
    run_snakemake(tmp_path, "--cores", "2", config=config)
    tables = tmp_path / "results" / "tables"
    runs, summary = pd.read_csv(tables / "runs.csv"), pd.read_csv(tables / "summary.csv")
    assert len(runs) == 16 and len(summary) == 8
    for name in ("runs", "summary"):
        columns = pd.read_csv(tables / f"{name}.csv", nrows=1).columns
        assert {"optimizer", "learning_rate"} <= set(columns), name
    for name in ("layers", "curves"):
        columns = pq.read_schema(tables / f"{name}.parquet").names
        assert {"optimizer", "learning_rate"} <= set(columns), name
    points = summary.groupby(["optimizer", "learning_rate"]).size()
    assert points.to_dict() == {
        (o, lr): 2 for o in axes["optimizer"] for lr in axes["learning_rate"]
    }
    assert runs["run_id"].str.contains("__optimizer=adam__learning_rate=0.002__s1").sum() == 2
    assert (tmp_path / "results" / "report.pdf").stat().st_size > 0
    axes_table = pd.read_csv(tables / "axes.csv")
    assert axes_table[axes_table["baseline"]]["value"].tolist() == ["momentum", "0.02"]
    # the recommendations describe the baseline point (momentum, lr 0.02): one row per cell
    assert len(pd.read_csv(tables / "recommendations.csv")) == 1
    remedies = pd.read_csv(tables / "remedies.csv")  # per axis: 1 other value x 2 cells
    assert remedies.groupby("axis").size().to_dict() == {"optimizer": 2, "learning_rate": 2}
    assert set(remedies["baseline_value"].astype(str)) == {"momentum", "0.02"}
    more = tiny_config.write(
        tmp_path / "more.yaml",
        activations=["tanh"],
        depths=[2],
        training={**axes, "optimizer": ["momentum", "adam", "sgd"]},
    )
    assert run_snakemake.planned_jobs(tmp_path, config=more)["train_networks"] == 2


TRANSFER = {
    "initializers": ["he_normal", "A1_ft", "A2_frozen"],
    "depths": [2],
    "classes": [5, 6, 7, 8, 9],
    "sources": {"a": {"classes": [0, 1, 2, 3, 4], "depth": 2, "initializer": "he_normal"}},
    "custom_initializers": {
        "A1_ft": {"family": "transfer", "source": "a", "layers": 1, "base": "he_normal"},
        "A2_frozen": {
            "family": "transfer",
            "source": "a",
            "layers": 2,
            "freeze": True,
            "base": "he_normal",
        },
    },
}


def test_a_transfer_study_trains_its_source_once_per_activation_and_caches_it(
    tmp_path: Path, run_snakemake: SnakemakeRunner, tiny_config: TinyConfig
) -> None:
    """Two transfer initializers copying from one source, 2 activations x 2 seeds: one
    train_source job per activation (all seeds), the transfer jobs wait for it; a rerun does
    nothing; a change of the source's epochs retrains the sources and the transfer jobs only
    (chunk_size 2: one initializer per job, so that a job is either transfer or not)."""
    config = tiny_config.write(tmp_path / "transfer.yaml", chunk_size=2, **TRANSFER)
    jobs = run_snakemake.planned_jobs(tmp_path, config=config)
    assert jobs["train_source"] == 2 and jobs["train_networks"] == 6
    run_snakemake(tmp_path, "--cores", "2", config=config)
    results = tmp_path / "results"
    for act in ("tanh", "relu"):
        for seed in (0, 1):
            folder = results / "sources" / "a" / act / f"s{seed}"
            assert {p.name for p in folder.iterdir()} == {
                "params.npz",
                "summary.json",
                "layers.csv",
                "timing.json",
            }
    sources = pd.read_csv(results / "tables" / "sources.csv")
    assert len(sources) == 4 and (sources["n_classes"] == 5).all()
    assert set(sources["classes"]) == {"0;1;2;3;4"}
    runs = pd.read_csv(results / "tables" / "runs.csv")
    assert len(runs) == 12 and (runs["n_classes"] == 5).all()
    assert run_snakemake.planned_jobs(tmp_path, config=config) == {}
    sources_changed = {"a": {**TRANSFER["sources"]["a"], "epochs": 3}}
    changed = tiny_config.write(
        tmp_path / "changed.yaml", chunk_size=2, **{**TRANSFER, "sources": sources_changed}
    )
    jobs = run_snakemake.planned_jobs(tmp_path, config=changed)
    assert jobs["train_source"] == 2
    assert jobs["train_networks"] == 4  # the transfer chunks only, not he_normal's
    assert "prepare_data" not in jobs


def test_a_dataset_axis_prepares_each_dataset_and_trains_on_it(
    tmp_path: Path, run_snakemake: SnakemakeRunner, tiny_config: TinyConfig
) -> None:
    """dataset: [digits, gaussian_blobs]: one prepare_data job per dataset, each combination
    trained on its own data, the dataset column of every table names it by its label, and the
    report's pages show the baseline (digits)."""
    config = tiny_config.write(
        tmp_path / "datasets.yaml",
        dataset=["digits", "gaussian_blobs"],
        initializers=["he_normal"],
        activations=["tanh"],
        depths=[2],
    )
    jobs = run_snakemake.planned_jobs(tmp_path, config=config)
    assert jobs["prepare_data"] == 2 and jobs["train_networks"] == 2
    run_snakemake(tmp_path, "--cores", "2", config=config)
    tables = tmp_path / "results" / "tables"
    runs = pd.read_csv(tables / "runs.csv")
    assert sorted(set(runs["dataset"])) == ["digits", "gaussian_blobs"]
    # digits has 10 classes, gaussian_blobs its own: each run read its dataset's data
    assert runs.groupby("dataset")["n_classes"].first().to_dict()["digits"] == 10
    assert runs.groupby("dataset")["n_classes"].nunique().max() == 1
    assert runs.groupby("dataset")["n_classes"].first().nunique() == 2
    assert (pd.read_csv(tables / "remedies.csv")["value"] == "gaussian_blobs").all()
    assert (tmp_path / "results" / "report.pdf").stat().st_size > 0
