rule evaluate_model:
    input:
        data=f"{SYN}/data/billboard.h5",
        model=f"{SYN}/models/{{arch}}_{{activation}}_{{trial}}.pt",
    output:
        attributions=f"{SYN}/attributions/{{arch}}_{{activation}}_{{trial}}.{{method}}.h5",
        metrics=f"{SYN}/metrics/{{arch}}_{{activation}}_{{trial}}.{{method}}.tsv",
        angles=f"{SYN}/angles/{{arch}}_{{activation}}_{{trial}}.{{method}}.h5",
    log:
        "logs/synthetic/evaluate/{arch}_{activation}_{trial}.{method}.log",
    benchmark:
        "benchmarks/out/evaluate/{arch}_{activation}_{trial}.{method}.tsv"
    params:
        evaluation=config["evaluation"],
        options=lambda wildcards: config["attribution"].get(wildcards.method, {}),
        thresholds=config["angles"]["thresholds"],
        seed=config["seed"],
        device=config["device"],
    threads: config["threads"]
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/evaluate_model.py"


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
        "logs/synthetic/collect_{method}.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/collect_metrics.py"
