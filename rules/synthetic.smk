# The synthetic study (gradient-correction paper): the billboard dataset; its models, trained here or the
# authors' published ones imported; per model and method the attribution maps, their scores against the
# ground truth and their angle summaries; then the tables and figures (Figs. 2-6, 8, 10, 12).

PUBLISHED = config["models"]["source"] == "published"
SYNTHETIC_DATASET = "results/synthetic/data/billboard.h5"  # whichever models analyse it
# the study's models and results: published models' apart from trained ones
SYNTHETIC_DIR = "results/published" if PUBLISHED else "results/synthetic"
SYNTHETIC_LOGS = SYNTHETIC_DIR.replace("results/", "logs/")
SYNTHETIC_SEQUENCES = config["synthetic"]["n_positive"] + config["synthetic"]["n_negative"]
SYNTHETIC_LENGTH = config["synthetic"]["length"]
SYNTHETIC_MODELS = expand(
    "{arch}_{activation}_{trial}",
    arch=config["models"]["architectures"],
    activation=config["models"]["activations"],
    trial=range(config["models"]["trials"]),
)
SYNTHETIC_MODEL_TYPES = expand(
    "{arch}_{activation}",
    arch=config["models"]["architectures"],
    activation=config["models"]["activations"],
)
SYNTHETIC_METHODS = config["evaluation"]["methods"]
LOGO_METHODS = [m for m in config["angles"]["logo_methods"] if m in SYNTHETIC_METHODS]
# The trials one training or attribution job handles: all of its model type (vectorized), or one.
JOB_TRIALS = range(config["models"]["trials"]) if VECTORIZED else ["{trial}"]
TRIAL_JOB = "{arch}_{activation}" if VECTORIZED else "{arch}_{activation}_{trial}"


rule synthetic_dataset:
    output:
        SYNTHETIC_DATASET,
    log:
        "logs/synthetic/dataset.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        synthetic=config["synthetic"],
        seed=config["seed"],
    script:
        "../scripts/synthetic_dataset.py"


# Where the models come from. models.source "trained" (the default): this run trains them, each trial with
# the same seed whichever engine, so each comes out the same up to float rounding. "published": the
# authors' own trained models, imported from their Keras weight files (models.published_dir, else
# downloaded).
if PUBLISHED:

    rule synthetic_import_published:
        input:
            data=SYNTHETIC_DATASET,
            weights=published_inputs,
        output:
            models=job_trials(f"{SYNTHETIC_DIR}/models/{{arch}}_{{activation}}_{{trial}}.pt"),
        log:
            f"{SYNTHETIC_LOGS}/import/{TRIAL_JOB}.log",
        conda:
            "../envs/gradcorr.yaml"
        params:
            trials=trial_ids,
        script:
            "../scripts/synthetic_import_published.py"

else:

    rule synthetic_train:
        input:
            data=SYNTHETIC_DATASET,
        output:
            models=job_trials(f"{SYNTHETIC_DIR}/models/{{arch}}_{{activation}}_{{trial}}.pt"),
            histories=job_trials(f"{SYNTHETIC_DIR}/models/{{arch}}_{{activation}}_{{trial}}.history.tsv"),
        log:
            f"logs/synthetic/train/{TRIAL_JOB}.log",
        benchmark:
            f"benchmarks/out/synthetic_train/{TRIAL_JOB}.tsv"
        priority: synthetic_train_priority
        conda:
            "../envs/gradcorr.yaml"
        threads: config["threads"]
        resources:
            mem_mb=synthetic_train_mem_mb,
            runtime=synthetic_train_runtime,
        params:
            trials=trial_ids,
            models=config["models"],
            training=config["training"],
            compile=config["compile"],
            engine=config["ensemble_engine"],
            group=config["engine_group"],
            seed=config["seed"],
            device=config["device"],
        script:
            "../scripts/synthetic_train.py"


# A heavy attribution of all trials of a model type (expected gradients of 50 models: about 25 minutes on a
# core) is split into parts, ranges of whole blocks of its sequences, each attributed by a job of its own
# (at most attribution_job_minutes of work each; synthetic_parts); synthetic_evaluate merges them. The maps
# are the same bytes whatever the split: the same blocks, chunks and random draws as one job makes.
rule synthetic_attribute:
    input:
        data=SYNTHETIC_DATASET,
        models=synthetic_type_models,
    output:
        temp(f"{SYNTHETIC_DIR}/attribution_parts/{{arch}}_{{activation}}.{{method}}.{{part}}-of-{{parts}}.h5"),
    log:
        f"{SYNTHETIC_LOGS}/attribute/{{arch}}_{{activation}}.{{method}}.{{part}}-of-{{parts}}.log",
    benchmark:
        f"benchmarks/out/synthetic_attribute/{{arch}}_{{activation}}.{{method}}.{{part}}-of-{{parts}}.tsv"
    wildcard_constraints:
        part=r"\d+",
        parts=r"\d+",
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=synthetic_attribution_mem_mb,
        runtime=synthetic_part_runtime,
    params:
        evaluation=config["evaluation"],
        options=lambda wildcards: config["attribution"].get(wildcards.method, {}),
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/synthetic_attribute.py"


# The test outputs of a job's models, once: every method's evaluation job scores them (on the published run's
# 50 models of a type and 4,000 test sequences, each of the four jobs made them again: about a tenth of its work).
rule synthetic_predict:
    input:
        data=SYNTHETIC_DATASET,
        models=job_trials(f"{SYNTHETIC_DIR}/models/{{arch}}_{{activation}}_{{trial}}.pt"),
    output:
        f"{SYNTHETIC_DIR}/predictions/{TRIAL_JOB}.h5",
    log:
        f"{SYNTHETIC_LOGS}/predict/{TRIAL_JOB}.log",
    benchmark:
        f"benchmarks/out/synthetic_predict/{TRIAL_JOB}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=synthetic_attribution_mem_mb,
        runtime=synthetic_predict_runtime,
    params:
        engine=config["ensemble_engine"],
        device=config["device"],
    script:
        "../scripts/synthetic_predict.py"


# Per model and method: the maps, their scores and their angle summary. The vectorized engine attributes all
# trials of a model type in one batched pass (or merges the parts above); random draws are seeded per model
# type and method, so the maps are the same either way.
rule synthetic_evaluate:
    input:
        data=SYNTHETIC_DATASET,
        models=job_trials(f"{SYNTHETIC_DIR}/models/{{arch}}_{{activation}}_{{trial}}.pt"),
        parts=synthetic_part_files,
        predictions=f"{SYNTHETIC_DIR}/predictions/{TRIAL_JOB}.h5",
    output:
        attributions=job_trials(f"{SYNTHETIC_DIR}/attributions/{{arch}}_{{activation}}_{{trial}}.{{method}}.h5"),
        metrics=job_trials(f"{SYNTHETIC_DIR}/metrics/{{arch}}_{{activation}}_{{trial}}.{{method}}.tsv"),
        angles=job_trials(f"{SYNTHETIC_DIR}/angles/{{arch}}_{{activation}}_{{trial}}.{{method}}.h5"),
    log:
        f"{SYNTHETIC_LOGS}/evaluate/{TRIAL_JOB}.{{method}}.log",
    benchmark:
        f"benchmarks/out/synthetic_evaluate/{TRIAL_JOB}.{{method}}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=synthetic_attribution_mem_mb,
        runtime=synthetic_attribution_runtime,
    params:
        evaluation=config["evaluation"],
        options=lambda wildcards: config["attribution"].get(wildcards.method, {}),
        thresholds=config["angles"]["thresholds"],
        engine=config["ensemble_engine"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/synthetic_evaluate.py"


rule synthetic_interpretability_table:
    input:
        expand(f"{SYNTHETIC_DIR}/metrics/{{model}}.{{{{method}}}}.tsv", model=SYNTHETIC_MODELS),
    output:
        report(
            f"{SYNTHETIC_DIR}/tables/interpretability_{{method}}.tsv",
            caption="../report/synthetic_interpretability_table.rst",
            category="Synthetic data",
            subcategory="Tables",
        ),
    log:
        f"{SYNTHETIC_LOGS}/collect_{{method}}.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/synthetic_interpretability_table.py"


# Do the consistency KLDs pick the most interpretable model? Judged by the ground truth, per model type.
rule synthetic_model_selection:
    input:
        f"{SYNTHETIC_DIR}/tables/interpretability_{{method}}.tsv",
    output:
        correlations=f"{SYNTHETIC_DIR}/tables/model_selection_correlations_{{method}}.tsv",
        selections=f"{SYNTHETIC_DIR}/tables/model_selection_{{method}}.tsv",
        summary=report(
            f"{SYNTHETIC_DIR}/tables/model_selection_summary_{{method}}.tsv",
            caption="../report/synthetic_model_selection.rst",
            category="Synthetic data",
            subcategory="Model selection",
        ),
        points=f"{SYNTHETIC_DIR}/tables/model_selection_points_{{method}}.tsv",
        pdf=f"{SYNTHETIC_DIR}/figures/model_selection_{{method}}.pdf",
        png=report(
            f"{SYNTHETIC_DIR}/figures/model_selection_{{method}}.png",
            caption="../report/synthetic_model_selection.rst",
            category="Synthetic data",
            subcategory="Model selection",
        ),
    log:
        f"{SYNTHETIC_LOGS}/model_selection_{{method}}.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/synthetic_model_selection.py"


rule synthetic_fig2:
    input:
        f"{SYNTHETIC_DIR}/tables/interpretability_{{method}}.tsv",
    output:
        pdf=f"{SYNTHETIC_DIR}/figures/fig2_{{method}}.pdf",
        png=report(
            f"{SYNTHETIC_DIR}/figures/fig2_{{method}}.png",
            caption="../report/synthetic_fig2.rst",
            category="Synthetic data",
            subcategory="Figures",
        ),
    log:
        f"{SYNTHETIC_LOGS}/fig2_{{method}}.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/synthetic_fig2.py"


rule synthetic_ensemble_angles:
    input:
        lambda wildcards: trial_files(
            f"{SYNTHETIC_DIR}/attributions/{wildcards.arch}_{wildcards.activation}_{{trial}}.{wildcards.method}.h5"
        ),
    output:
        f"{SYNTHETIC_DIR}/angles/ensemble_{{arch}}_{{activation}}.{{method}}.h5",
    log:
        f"{SYNTHETIC_LOGS}/angles/ensemble_{{arch}}_{{activation}}.{{method}}.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/synthetic_ensemble_angles.py"


rule synthetic_angle_figures:
    input:
        summaries=expand(f"{SYNTHETIC_DIR}/angles/{{model}}.{{{{method}}}}.h5", model=SYNTHETIC_MODELS),
        ensembles=expand(
            f"{SYNTHETIC_DIR}/angles/ensemble_{{model_type}}.{{{{method}}}}.h5",
            model_type=SYNTHETIC_MODEL_TYPES,
        ),
    output:
        fig3=report(
            f"{SYNTHETIC_DIR}/figures/fig3cd_{{method}}.png",
            caption="../report/synthetic_fig3cd.rst",
            category="Synthetic data",
            subcategory="Angles",
        ),
        fig3_pdf=f"{SYNTHETIC_DIR}/figures/fig3cd_{{method}}.pdf",
        fig3_tsv=f"{SYNTHETIC_DIR}/tables/fig3cd_{{method}}.tsv",
        fig4=report(
            f"{SYNTHETIC_DIR}/figures/fig4a_{{method}}.png",
            caption="../report/synthetic_fig4a.rst",
            category="Synthetic data",
            subcategory="Angles",
        ),
        fig4_pdf=f"{SYNTHETIC_DIR}/figures/fig4a_{{method}}.pdf",
        fig4_tsv=f"{SYNTHETIC_DIR}/tables/fig4a_{{method}}.tsv",
        fig10=report(
            f"{SYNTHETIC_DIR}/figures/fig10_{{method}}.png",
            caption="../report/synthetic_fig10.rst",
            category="Synthetic data",
            subcategory="Angles",
        ),
        fig10_pdf=f"{SYNTHETIC_DIR}/figures/fig10_{{method}}.pdf",
        fig10_tsv=f"{SYNTHETIC_DIR}/tables/fig10_{{method}}.tsv",
    log:
        f"{SYNTHETIC_LOGS}/angle_figures_{{method}}.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/synthetic_angle_figures.py"


rule synthetic_angle_table:
    input:
        summaries=expand(
            f"{SYNTHETIC_DIR}/angles/{{model}}.{{method}}.h5",
            model=SYNTHETIC_MODELS,
            method=SYNTHETIC_METHODS,
        ),
        interpretability=expand(f"{SYNTHETIC_DIR}/tables/interpretability_{{method}}.tsv", method=SYNTHETIC_METHODS),
    output:
        report(
            f"{SYNTHETIC_DIR}/tables/angle_summary.tsv",
            caption="../report/synthetic_angle_summary.rst",
            category="Synthetic data",
            subcategory="Tables",
        ),
    log:
        f"{SYNTHETIC_LOGS}/angle_table.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/synthetic_angle_table.py"


rule synthetic_logos:
    input:
        attributions=f"{SYNTHETIC_DIR}/attributions/{{arch}}_{{activation}}_{{trial}}.{{method}}.h5",
        summary=f"{SYNTHETIC_DIR}/angles/{{arch}}_{{activation}}_{{trial}}.{{method}}.h5",
    output:
        png=report(
            f"{SYNTHETIC_DIR}/figures/logos/{{arch}}_{{activation}}_{{trial}}.{{method}}.png",
            caption="../report/synthetic_logos.rst",
            category="Synthetic data",
            subcategory="Sequence logos",
        ),
        pdf=f"{SYNTHETIC_DIR}/figures/logos/{{arch}}_{{activation}}_{{trial}}.{{method}}.pdf",
        tsv=f"{SYNTHETIC_DIR}/tables/logos/{{arch}}_{{activation}}_{{trial}}.{{method}}.tsv",
    log:
        f"{SYNTHETIC_LOGS}/logos/{{arch}}_{{activation}}_{{trial}}.{{method}}.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        window=config["angles"]["logo_window"],
    script:
        "../scripts/synthetic_logos.py"
