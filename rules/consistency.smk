# The consistency study (consistency paper): its grid of combinations (regularizer, BatchNorm, activation,
# dropout), named like mixup_bn_exp_d0.1, on the synthetic study's dataset. One training job per
# combination (all its trials in the ensemble engine) when it has no regularizer and the engine is
# vectorized, else one per trial (regularized models train one at a time); one attribution job per
# combination and method; then Table 1, the correlations and Figs. 2, 4, 5, 6.

CONSISTENCY_DIR = "results/consistency"
CONSISTENCY_CONFIG = config["consistency"]
CONSISTENCY_METHODS = CONSISTENCY_CONFIG["methods"]
CONSISTENCY_TRAINING = {**config["training"], **CONSISTENCY_CONFIG["training"]}  # updated by the study's


CONSISTENCY_GRID = consistency_grid() if "consistency" in STUDIES else {}
if "consistency" in STUDIES and not CONSISTENCY_GRID:
    raise ValueError("config consistency.exclude: excludes every combination of the grid")
CONSISTENCY_MODELS = [f"{combo}_{trial}" for combo in CONSISTENCY_GRID for trial in range(CONSISTENCY_CONFIG["trials"])]
# the ensemble engine trains a combination's trials together only without a regularizer
ENGINE_COMBOS = [c for c, s in CONSISTENCY_GRID.items() if VECTORIZED and s["regularizer"] == "none"]
SINGLE_COMBOS = [c for c in CONSISTENCY_GRID if c not in ENGINE_COMBOS]
COMBO_JOB = "{combo}" if VECTORIZED else "{combo}_{trial}"


wildcard_constraints:
    combo=one_of(list(CONSISTENCY_GRID)),


rule consistency_train:
    input:
        data=SYNTHETIC_DATASET,
    output:
        models=combo_trials(f"{CONSISTENCY_DIR}/models/{{combo}}_{{trial}}.pt"),
        histories=combo_trials(f"{CONSISTENCY_DIR}/models/{{combo}}_{{trial}}.history.tsv"),
    log:
        "logs/consistency/train/{combo}.log",
    benchmark:
        "benchmarks/out/consistency_train/{combo}.tsv"
    wildcard_constraints:
        combo=one_of(ENGINE_COMBOS),
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=consistency_train_mem_mb,
        runtime=consistency_train_runtime,
    params:
        trials=combo_trial_ids,
        combo=combo_settings,
        width=CONSISTENCY_CONFIG["width"],
        training=CONSISTENCY_TRAINING,
        compile=config["compile"],
        regularizer=CONSISTENCY_CONFIG["regularizer"],
        engine=config["ensemble_engine"],
        group=config["engine_group"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/consistency_train.py"


use rule consistency_train as consistency_train_single with:
    output:
        models=[f"{CONSISTENCY_DIR}/models/{{combo}}_{{trial}}.pt"],
        histories=[f"{CONSISTENCY_DIR}/models/{{combo}}_{{trial}}.history.tsv"],
    log:
        "logs/consistency/train/{combo}_{trial}.log",
    benchmark:
        "benchmarks/out/consistency_train/{combo}_{trial}.tsv"
    wildcard_constraints:
        combo=one_of(SINGLE_COMBOS),


rule consistency_evaluate:
    input:
        data=SYNTHETIC_DATASET,
        models=combo_job_trials(f"{CONSISTENCY_DIR}/models/{{combo}}_{{trial}}.pt"),
    output:
        attributions=combo_job_trials(f"{CONSISTENCY_DIR}/attributions/{{combo}}_{{trial}}.{{method}}.h5"),
        metrics=combo_job_trials(f"{CONSISTENCY_DIR}/metrics/{{combo}}_{{trial}}.{{method}}.tsv"),
        sensitivity=combo_job_trials(f"{CONSISTENCY_DIR}/sensitivity/{{combo}}_{{trial}}.{{method}}.tsv"),
    log:
        f"logs/consistency/evaluate/{COMBO_JOB}.{{method}}.log",
    benchmark:
        f"benchmarks/out/consistency_evaluate/{COMBO_JOB}.{{method}}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=consistency_attribution_mem_mb,
        runtime=consistency_attribution_runtime,
    params:
        settings={key: CONSISTENCY_CONFIG[key] for key in ("n_positive", "kmer", "attr_mean", "sensitivity")},
        evaluation=config["evaluation"],
        options=lambda wildcards: config["attribution"].get(wildcards.method, {}),
        engine=config["ensemble_engine"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/consistency_evaluate.py"


rule consistency_tables:
    input:
        expand(f"{CONSISTENCY_DIR}/metrics/{{model}}.{{{{method}}}}.tsv", model=CONSISTENCY_MODELS),
    output:
        models=f"{CONSISTENCY_DIR}/tables/models_{{method}}.tsv",
        table=report(
            f"{CONSISTENCY_DIR}/tables/table1_{{method}}.tsv",
            caption="../report/consistency_table1.rst",
            category="Consistency",
            subcategory="Tables",
        ),
        correlations=f"{CONSISTENCY_DIR}/tables/correlations_{{method}}.tsv",
    log:
        "logs/consistency/tables_{method}.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        auroc_min=CONSISTENCY_CONFIG["auroc_min"],
        paper_table=resource(CONSISTENCY_CONFIG["paper_table"]),
    script:
        "../scripts/consistency_tables.py"


rule consistency_figures:
    input:
        data=SYNTHETIC_DATASET,
        tables=expand(f"{CONSISTENCY_DIR}/tables/models_{{method}}.tsv", method=CONSISTENCY_METHODS),
        attributions=expand(
            f"{CONSISTENCY_DIR}/attributions/{{model}}.{{method}}.h5",
            model=CONSISTENCY_MODELS,
            method=CONSISTENCY_METHODS[:1],
        ),
        sensitivity=expand(
            f"{CONSISTENCY_DIR}/sensitivity/{{model}}.{{method}}.tsv",
            model=CONSISTENCY_MODELS,
            method=CONSISTENCY_METHODS[:1],
        ),
    output:
        **consistency_figure_outputs(),
    log:
        "logs/consistency/figures.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        methods=CONSISTENCY_METHODS,
        settings={key: CONSISTENCY_CONFIG[key] for key in ("kmer", "attr_mean")},
    script:
        "../scripts/consistency_figures.py"
