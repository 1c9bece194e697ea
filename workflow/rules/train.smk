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


# One job trains a chunk of the grid: a block of initializers, every seed of each, at one
# dataset x activation x depth (x point of the extra axes), `chunk_size` networks at most. Fewer,
# longer jobs than one per network: process start-up and scheduling (on a cluster, a Snakemake
# per job) are paid once per chunk. The log shows done / total, elapsed and time left.
rule train_networks:
    input:
        data=chunk_data,
        sources=chunk_sources,
    output:
        runs=os.path.join(RESULTS, "runs", "{chunk}", layout.CHUNK_FILES[0]),
        layers=os.path.join(RESULTS, "runs", "{chunk}", layout.CHUNK_FILES[1]),
    params:
        chunk=chunk_definition,
        outdir=os.path.join(RESULTS, "runs", "{chunk}"),
        # not used by the command: a new record format retrains the runs (params trigger)
        record_format=records.RECORD_FORMAT,
    log:
        layout.train_log(RESULTS, "{chunk}"),
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: chunk_resources(wc, attempt)["mem_mb"],
        runtime=lambda wc, attempt: chunk_resources(wc, attempt)["runtime"],
    retries: 2
    conda:
        "../envs/initlab.yaml"
    shell:
        "initlab train-chunk --chunk-json {params.chunk:q} --data {input.data:q}"
        " --threads {threads} --out {params.outdir:q} > {log:q} 2>&1"
