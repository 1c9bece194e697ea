# initlab: initializer x activation x depth (x seed) study.
#   snakemake --cores 2                      the default study (config/config.yaml)
#   snakemake --configfile config/studies/glorot2010.yaml --cores 2
# Stages: plan -> prepare data -> train (one job per chunk of the grid) -> aggregate -> report.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/report.smk"


localrules:
    all,
    plan_study,
    aggregate_tables,
    write_report,


rule all:
    input:
        layout.report_path(RESULTS),
        TABLES,
    default_target: True
