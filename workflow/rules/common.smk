# Snakemake helpers only: validate the config, expand the grid, constrain wildcards.
# Everything else lives in the initlab package (src/initlab/study.py) and is unit-tested there.

import os
import re
import shlex

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from initlab import activations, initializers, layout, records, transfer
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
# Every combination's folder below <results>/runs/ (the {combination} wildcard) -> its grid point
COMBINATIONS = {STUDY.combination_key(*c): c for c in STUDY.combinations()}
# Every (source, activation) the grid's transfer initializers copy from: one train_source job each
SOURCE_USES = STUDY.source_uses()


def _alternatives(names):
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


wildcard_constraints:
    # <dataset>/<initializer>/<activation>/d<depth>, then /<axis>=<value> per extra axis
    combination=r"[A-Za-z0-9_]+/("
    + _alternatives([*initializers.INITIALIZERS, *STUDY.config["custom_initializers"]])
    + ")/("
    + _alternatives([*activations.ACTIVATIONS, *STUDY.config["custom_activations"]])
    + r")/d[1-9][0-9]*(/[a-z_]+=[A-Za-z0-9_.+-]+)*",
    dataset=_alternatives(DATASETS),
    # <results>/sources/<source>/<activation>/s<seed>/
    source=r"[A-Za-z][A-Za-z0-9_]*",
    activation=r"[A-Za-z][A-Za-z0-9_]*",


def run_files(name):
    """One file of every run of the grid (name: summary.json, layers.csv, timing.json)."""
    return [f"{STUDY.run_dir(spec)}/{name}" for spec in STUDY.specs()]


def seed_files(name):
    """One file per seed of a combination, the {combination} wildcard left for Snakemake."""
    return [os.path.join(RESULTS, "runs", "{combination}", f"s{seed}", name) for seed in SEEDS]


def combination_data(wildcards):
    """The prepared data of a combination's dataset (the first level of its folder)."""
    return layout.data_path(RESULTS, wildcards.combination.split("/", 1)[0])


def training_spec(wildcards):
    return STUDY.training_json(*COMBINATIONS[wildcards.combination])


def train_resources(wildcards, attempt):
    init, act, depth, point = COMBINATIONS[wildcards.combination]
    return STUDY.job_resources(STUDY.base_spec(init, act, depth, 0, point), len(SEEDS), attempt)


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


def _transfer_source(wildcards):
    """(source, activation) a combination copies from, or None."""
    init, act, _, _ = COMBINATIONS[wildcards.combination]
    definition = STUDY.transfer_def(init)
    return None if definition is None else (definition["source"], act)


def transfer_params(wildcards):
    """The trained source networks (every seed) a transfer combination copies from."""
    pair = _transfer_source(wildcards)
    if pair is None:
        return []
    return [f"{STUDY.source_dir(*pair)}/s{seed}/{transfer.PARAMS_FILE}" for seed in SEEDS]


def source_option(wildcards):
    """`--source-params <folder>` for a transfer combination, nothing otherwise."""
    pair = _transfer_source(wildcards)
    return "" if pair is None else f"--source-params {shlex.quote(STUDY.source_dir(*pair))}"
