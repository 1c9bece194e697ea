rule write_report:
    input:
        study=layout.study_json(RESULTS),
        tables=TABLES,
    output:
        pdf=report(
            layout.report_path(RESULTS),
            caption="../report/report_pdf.rst",
            category="Report",
        ),
        figures=[
            report(
                layout.figure_path(RESULTS, name),
                caption=f"../report/figure_{name}.rst",
                category="Figures",
            )
            for name in layout.FIGURE_NAMES
        ],
    params:
        tables=lambda wildcards, input: os.path.dirname(input.tables[0]),
        figures=lambda wildcards, output: os.path.dirname(output.figures[0]),
    log:
        layout.log_path(RESULTS, "write_report"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/initlab.yaml"
    shell:
        "initlab report --study {input.study:q} --tables {params.tables:q}"
        " --figures {params.figures:q} --out {output.pdf:q} > {log:q} 2>&1"
