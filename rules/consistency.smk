# The consistency paper's grid on the synthetic dataset: one training job per combination (all its
# trials in the ensemble engine) when it has no regularizer and the engine is vectorized, else one per
# trial (regularized models train one at a time); one attribution job per combination and method; then
# Table 1, the correlations and Figs. 2, 5, 6.


rule train_consistency_models:
    input:
        data=BILLBOARD,
    output:
        models=con_job_trials(f"{CON}/models/{{combo}}_{{trial}}.pt"),
        histories=con_job_trials(f"{CON}/models/{{combo}}_{{trial}}.history.tsv"),
    log:
        "logs/consistency/train/{combo}.log",
    benchmark:
        "benchmarks/out/consistency_train/{combo}.tsv"
    wildcard_constraints:
        combo=one_of(CON_ENGINE_COMBOS),
    params:
        trials=con_trial_ids,
        combo=con_combo,
        width=CS["width"],
        training=CON_TRAINING,
        regularizer=CS["regularizer"],
        engine=config["ensemble_engine"],
        group=config["engine_group"],
        seed=config["seed"],
        device=config["device"],
    resources:
        mem_mb=consistency_train_mem_mb,
        runtime=consistency_train_runtime,
    threads: config["threads"]
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/train_consistency_models.py"


use rule train_consistency_models as train_consistency_model with:
    output:
        models=[f"{CON}/models/{{combo}}_{{trial}}.pt"],
        histories=[f"{CON}/models/{{combo}}_{{trial}}.history.tsv"],
    log:
        "logs/consistency/train/{combo}_{trial}.log",
    benchmark:
        "benchmarks/out/consistency_train/{combo}_{trial}.tsv"
    wildcard_constraints:
        combo=one_of(CON_SINGLE_COMBOS),


rule evaluate_consistency_models:
    input:
        data=BILLBOARD,
        models=con_attr_trials(f"{CON}/models/{{combo}}_{{trial}}.pt"),
    output:
        attributions=con_attr_trials(f"{CON}/attributions/{{combo}}_{{trial}}.{{method}}.h5"),
        metrics=con_attr_trials(f"{CON}/metrics/{{combo}}_{{trial}}.{{method}}.tsv"),
        sensitivity=con_attr_trials(f"{CON}/sensitivity/{{combo}}_{{trial}}.{{method}}.tsv"),
    log:
        f"logs/consistency/evaluate/{CON_ATTR_JOB}.{{method}}.log",
    benchmark:
        f"benchmarks/out/consistency_evaluate/{CON_ATTR_JOB}.{{method}}.tsv"
    params:
        settings={key: CS[key] for key in ("n_positive", "kmer", "attr_mean", "sensitivity")},
        evaluation=config["evaluation"],
        options=lambda wildcards: config["attribution"].get(wildcards.method, {}),
        engine=config["ensemble_engine"],
        seed=config["seed"],
        device=config["device"],
    resources:
        mem_mb=consistency_attribution_mem_mb,
        runtime=consistency_attribution_runtime,
    threads: config["threads"]
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/evaluate_consistency_models.py"


rule consistency_tables:
    input:
        expand(f"{CON}/metrics/{{model}}.{{{{method}}}}.tsv", model=CON_MODELS),
    output:
        models=f"{CON}/tables/models_{{method}}.tsv",
        table=report(
            f"{CON}/tables/table1_{{method}}.tsv",
            caption="../report/consistency_table1.rst",
            category="Consistency",
            subcategory="Tables",
        ),
        correlations=f"{CON}/tables/correlations_{{method}}.tsv",
    log:
        "logs/consistency/tables_{method}.log",
    params:
        auroc_min=CS["auroc_min"],
        paper_table=resource(CS["paper_table"]),
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/consistency_tables.py"


rule consistency_figures:
    input:
        data=BILLBOARD,
        tables=expand(f"{CON}/tables/models_{{method}}.tsv", method=CON_METHODS),
        attributions=expand(f"{CON}/attributions/{{model}}.{{method}}.h5", model=CON_MODELS, method=CON_METHODS[:1]),
        sensitivity=expand(f"{CON}/sensitivity/{{model}}.{{method}}.tsv", model=CON_MODELS, method=CON_METHODS[:1]),
    output:
        **consistency_figure_outputs(),
    log:
        "logs/consistency/figures.log",
    params:
        methods=CON_METHODS,
        settings={key: CS[key] for key in ("kmer", "attr_mean")},
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/consistency_figures.py"
