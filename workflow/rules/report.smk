FIGURES = ["heatmaps", "gradient_flow", "depth_scaling", "learning_curves", "theory"]


rule write_report:
    input:
        study=f"{RESULTS}/study.json",
        tables=TABLES,
    output:
        pdf=report(
            f"{RESULTS}/report.pdf",
            caption="../report/report_pdf.rst",
            category="Report",
        ),
        figures=[
            report(
                f"{RESULTS}/figures/{name}.png",
                caption=f"../report/figure_{name}.rst",
                category="Figures",
            )
            for name in FIGURES
        ],
    params:
        tables=lambda wildcards, input: os.path.dirname(input.tables[0]),
        figures=lambda wildcards, output: os.path.dirname(output.figures[0]),
    log:
        f"{RESULTS}/logs/write_report.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/initlab.yaml"
    shell:
        "initlab report --study {input.study:q} --tables {params.tables:q}"
        " --figures {params.figures:q} --out {output.pdf:q} > {log:q} 2>&1"
