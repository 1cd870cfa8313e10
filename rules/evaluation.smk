# Attributions, scores and angle summaries per model and method. The vectorized engine attributes all
# trials of a model type in one batched pass (one job per model type and method); sequential, one job
# per model and method. Random draws are seeded per model type and method, so the maps are the same.


rule evaluate_models:
    input:
        data=BILLBOARD,
        models=job_trials(f"{SYN}/models/{{arch}}_{{activation}}_{{trial}}.pt"),
    output:
        attributions=job_trials(f"{SYN}/attributions/{{arch}}_{{activation}}_{{trial}}.{{method}}.h5"),
        metrics=job_trials(f"{SYN}/metrics/{{arch}}_{{activation}}_{{trial}}.{{method}}.tsv"),
        angles=job_trials(f"{SYN}/angles/{{arch}}_{{activation}}_{{trial}}.{{method}}.h5"),
    log:
        f"{SYN_LOGS}/evaluate/{TRIAL_JOB}.{{method}}.log",
    benchmark:
        f"benchmarks/out/evaluate/{TRIAL_JOB}.{{method}}.tsv"
    params:
        evaluation=config["evaluation"],
        options=lambda wildcards: config["attribution"].get(wildcards.method, {}),
        thresholds=config["angles"]["thresholds"],
        engine=config["ensemble_engine"],
        seed=config["seed"],
        device=config["device"],
    resources:
        mem_mb=synthetic_attribution_mem_mb,
        runtime=synthetic_attribution_runtime,
    threads: config["threads"]
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/evaluate_models.py"


rule collect_metrics:
    input:
        expand(f"{SYN}/metrics/{{model}}.{{{{method}}}}.tsv", model=MODELS),
    output:
        report(
            f"{SYN}/tables/interpretability_{{method}}.tsv",
            caption="../report/interpretability_table.rst",
            category="Synthetic data",
            subcategory="Tables",
        ),
    log:
        f"{SYN_LOGS}/collect_{{method}}.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/collect_metrics.py"
