# Snakemake helpers only: validate the config, expand the grid, constrain wildcards.
# Everything else lives in the initlab package (src/initlab/study.py) and is unit-tested there.

import os
import re

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from initlab import activations, initializers, layout, records
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
DATA = layout.data_path(RESULTS, STUDY.dataset_label)
SEEDS = [int(s) for s in STUDY.config["seeds"]]
COMBO_DIR = STUDY.combination_dir("{initializer}", "{activation}", "{depth}")
TABLES = [layout.table_path(RESULTS, name) for name in layout.TABLE_NAMES]


def _alternatives(names):
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


wildcard_constraints:
    initializer=_alternatives(
        [*initializers.INITIALIZERS, *STUDY.config["custom_initializers"]]
    ),
    activation=_alternatives([*activations.ACTIVATIONS, *STUDY.config["custom_activations"]]),
    depth=r"[1-9][0-9]*",


def run_files(name):
    """One file of every run of the grid (name: summary.json, layers.csv, timing.json)."""
    return [f"{STUDY.run_dir(spec)}/{name}" for spec in STUDY.specs()]


def seed_files(name):
    """One file per seed of a combination, wildcards left for Snakemake to fill."""
    return [
        os.path.join(
            layout.run_dir(
                RESULTS, STUDY.dataset_label, "{initializer}", "{activation}", "{depth}", seed
            ),
            name,
        )
        for seed in SEEDS
    ]


def training_spec(wildcards):
    return STUDY.training_json(wildcards.initializer, wildcards.activation, int(wildcards.depth))


def train_resources(wildcards, attempt):
    return STUDY.job_resources(int(wildcards.depth), len(SEEDS), attempt)
