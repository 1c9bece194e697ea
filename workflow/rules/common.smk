# Snakemake helpers only: validate the config, expand the grid, constrain wildcards.
# Everything else lives in the initlab package (src/initlab/study.py) and is unit-tested there.

import os
import re

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from initlab import activations, layout, records, transfer
from initlab.study import ConfigError, load_schema, load_study, numbers_from_command_line

_SCHEMA = "../schemas/config.schema.yaml"

# `--config depths=[1,2]` arrives as text ('1', '2'): read numbers typed on the command line
config.update(
    numbers_from_command_line(
        config, workflow.config_settings.config, load_schema(workflow.source_path(_SCHEMA))
    )
)
try:
    STUDY = load_study(config, load_schema(workflow.source_path(_SCHEMA)))
except ConfigError as err:
    raise WorkflowError(f"invalid configuration: {err}") from None
# Snakemake's own validation on top (it also fills in the schema's defaults in `config`).
validate(config, _SCHEMA)

RESULTS = STUDY.results
# the prepared data of every dataset of the study (one, or a dataset axis), by label
DATASETS = STUDY.dataset_labels
DATA = layout.data_path(RESULTS, STUDY.dataset_label)
SEEDS = [int(s) for s in STUDY.config["seeds"]]
TABLES = [layout.table_path(RESULTS, name) for name in layout.TABLE_NAMES]
# Every training chunk's folder below <results>/runs/ (the {chunk} wildcard) -> the chunk
CHUNKS = {chunk.key: chunk for chunk in STUDY.chunks()}
# Every (source, activation) the grid's transfer initializers copy from: one train_source job each
SOURCE_USES = STUDY.source_uses()


def _alternatives(names):
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


wildcard_constraints:
    # <dataset>/<activation>/d<depth>, then /<axis>=<value> per extra axis, then /c<block>
    chunk=r"[A-Za-z0-9_]+/("
    + _alternatives([*activations.ACTIVATIONS, *STUDY.config["custom_activations"]])
    + r")/d[1-9][0-9]*(/[a-z_]+=[A-Za-z0-9_.+-]+)*/c[0-9]+",
    dataset=_alternatives(DATASETS),
    # <results>/sources/<source>/<activation>/s<seed>/
    source=r"[A-Za-z][A-Za-z0-9_]*",
    activation=r"[A-Za-z][A-Za-z0-9_]*",


def chunk_files(name):
    """One file of every training chunk of the grid (name: runs.parquet, layers.parquet)."""
    return [f"{chunk.folder}/{name}" for chunk in CHUNKS.values()]


def chunk_data(wildcards):
    """The prepared data of a chunk's dataset (the first level of its folder)."""
    return layout.data_path(RESULTS, wildcards.chunk.split("/", 1)[0])


def chunk_definition(wildcards):
    return STUDY.chunk_json(CHUNKS[wildcards.chunk])


def chunk_resources(wildcards, attempt):
    chunk = CHUNKS[wildcards.chunk]
    spec = STUDY.chunk_specs(chunk)[0]
    return STUDY.job_resources(spec, len(chunk.initializers) * len(chunk.seeds), attempt)


def source_run_files(name):
    """One file of every source run the grid uses (every seed of every SOURCE_USES entry)."""
    return [
        f"{STUDY.source_dir(source, act)}/s{seed}/{name}"
        for source, act in SOURCE_USES
        for seed in SEEDS
    ]


def source_seed_files(name):
    """One file per seed of a source, the {source} and {activation} wildcards left open."""
    folder = os.path.join(RESULTS, "sources", "{source}", "{activation}")
    return [os.path.join(folder, f"s{seed}", name) for seed in SEEDS]


def source_spec(wildcards):
    return STUDY.source_json(wildcards.source, wildcards.activation)


def source_resources(wildcards, attempt):
    spec = STUDY.source_spec(wildcards.source, wildcards.activation)
    return STUDY.job_resources(spec, len(SEEDS), attempt)


def chunk_sources(wildcards):
    """The trained source networks (every seed) the chunk's transfer initializers copy from."""
    chunk = CHUNKS[wildcards.chunk]
    folders = {}
    for init in chunk.initializers:
        definition = STUDY.transfer_def(init)
        if definition is not None:
            folders[STUDY.source_dir(definition["source"], chunk.activation)] = None
    return [f"{folder}/s{seed}/{transfer.PARAMS_FILE}" for folder in folders for seed in SEEDS]
