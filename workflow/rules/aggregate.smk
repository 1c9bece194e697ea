# layers.csv (tens of MB for a large grid) stays out of Snakemake's HTML report; every other
# table is attached to it.
REPORTED_TABLES = [name for name in TABLE_NAMES if name != "layers"]


rule aggregate_tables:
    input:
        study=f"{RESULTS}/study.json",
        summaries=run_files("summary.json"),
        layers=run_files("layers.csv"),
        timings=run_files("timing.json"),
    output:
        **{
            name: (
                report(
                    f"{RESULTS}/tables/{name}.csv",
                    caption=f"../report/table_{name}.rst",
                    category="Tables",
                )
                if name in REPORTED_TABLES
                else f"{RESULTS}/tables/{name}.csv"
            )
            for name in TABLE_NAMES
        },
    params:
        tables=lambda wildcards, output: os.path.dirname(output.runs),
    log:
        f"{RESULTS}/logs/aggregate_tables.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/initlab.yaml"
    shell:
        "initlab aggregate --study {input.study:q} --out {params.tables:q} > {log:q} 2>&1"
