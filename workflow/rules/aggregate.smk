rule aggregate_tables:
    input:
        study=layout.study_json(RESULTS),
        runs=chunk_files(layout.CHUNK_FILES[0]),
        layers=chunk_files(layout.CHUNK_FILES[1]),
        sources=source_run_files("summary.json"),
    output:
        **{
            name: (
                layout.table_path(RESULTS, name)
                if name in layout.REPORT_FREE_TABLES
                else report(
                    layout.table_path(RESULTS, name),
                    caption=f"../report/table_{name}.rst",
                    category="Tables",
                )
            )
            for name in layout.TABLE_NAMES
        },
    params:
        tables=lambda wildcards, output: os.path.dirname(output.runs),
    log:
        layout.log_path(RESULTS, "aggregate_tables"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/initlab.yaml"
    shell:
        "initlab aggregate --study {input.study:q} --out {params.tables:q} > {log:q} 2>&1"
