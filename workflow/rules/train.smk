rule plan_study:
    output:
        layout.study_json(RESULTS),
    params:
        study=STUDY.to_json(),
    log:
        layout.log_path(RESULTS, "plan_study"),
    conda:
        "../envs/initlab.yaml"
    shell:
        "initlab write-study --study-json {params.study:q} --out {output:q} > {log:q} 2>&1"


rule prepare_data:
    output:
        layout.data_path(RESULTS, "{dataset}"),
    params:
        dataset=lambda wildcards: DATASETS[wildcards.dataset],
    log:
        layout.log_path(RESULTS, "prepare_data_{dataset}"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/initlab.yaml"
    shell:
        "initlab prepare-data --dataset {params.dataset:q} --out {output:q} > {log:q} 2>&1"


# One job trains every seed of one source network (sources:) for one activation, keeping the
# trained parameters (params.npz) that the transfer initializers of that activation copy.
rule train_source:
    input:
        data=DATA,
    output:
        params=source_seed_files(transfer.PARAMS_FILE),
        summary=source_seed_files("summary.json"),
        layers=source_seed_files("layers.csv"),
        timing=source_seed_files("timing.json"),
    params:
        spec=source_spec,
        seeds=" ".join(str(s) for s in SEEDS),
        outdir=os.path.join(RESULTS, "sources", "{source}", "{activation}"),
        # not used by the command: a new record format retrains the sources (params trigger)
        record_format=records.RECORD_FORMAT,
    log:
        layout.log_path(RESULTS, "train_source/{source}__{activation}"),
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: source_resources(wc, attempt)["mem_mb"],
        runtime=lambda wc, attempt: source_resources(wc, attempt)["runtime"],
    retries: 2
    conda:
        "../envs/initlab.yaml"
    shell:
        "initlab run --spec-json {params.spec:q} --seeds {params.seeds} --data {input.data:q}"
        " --save-params --threads {threads} --out {params.outdir:q} > {log:q} 2>&1"


# One job trains every seed of one initializer x activation x depth (x extra axes)
# combination: this halves the number of jobs (and the ~0.5 s of process start-up and imports
# each costs) for 2 seeds.
rule train_networks:
    input:
        data=combination_data,
        sources=transfer_params,
    output:
        summary=seed_files("summary.json"),
        layers=seed_files("layers.csv"),
        timing=seed_files("timing.json"),
    params:
        spec=training_spec,
        seeds=" ".join(str(s) for s in SEEDS),
        outdir=os.path.join(RESULTS, "runs", "{combination}"),
        source=source_option,
        # not used by the command: a new record format retrains the runs (params trigger)
        record_format=records.RECORD_FORMAT,
    log:
        layout.train_log(RESULTS, "{combination}"),
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: train_resources(wc, attempt)["mem_mb"],
        runtime=lambda wc, attempt: train_resources(wc, attempt)["runtime"],
    retries: 2
    conda:
        "../envs/initlab.yaml"
    shell:
        "initlab run --spec-json {params.spec:q} --seeds {params.seeds} --data {input.data:q}"
        " {params.source} --threads {threads} --out {params.outdir:q} > {log:q} 2>&1"
