# The DiffROAR study (Shah, Jain & Netrapalli): per synthetic model type and regime (standard = the synthetic
# study's models; noise and adversarial trained here) and method, every sequence's position scores, raw and
# corrected; per ranking (a method's raw or corrected maps, or a baseline) and fill, the predictive power of the
# top-k and bottom-k unmasked data at each fraction (retrainings trained together); the feature-leakage datasets,
# their models and null-block shares; then the tables and figures. `rmethod` and `rkind` name a ranking (the
# global `method` and `kind` wildcards cannot hold the baselines).

DIFFROAR_DIR = "results/diffroar"
DIFFROAR = config["diffroar"]
DIFFROAR_LEAKAGE = DIFFROAR["leakage"]
DIFFROAR_RETRAINING = {**config["training"], **DIFFROAR["training"]}
DIFFROAR_UNIT = "{model_type}/{regime}_{trial}"
DIFFROAR_TABLES = {
    name: f"{DIFFROAR_DIR}/tables/{name}.tsv"
    for name in ("power", "diffroar", "correction", "models", "leakage_models", "leakage")
}
DIFFROAR_POWER_PARAMS = {
    "fractions": DIFFROAR["fractions"],
    "retrainings": DIFFROAR["retrainings"],
    "models": config["models"],
    "training": DIFFROAR_RETRAINING,
    "engine": config["ensemble_engine"],
    "group": config["engine_group"],
    "seed": config["seed"],
    "device": config["device"],
}


wildcard_constraints:
    regime=one_of(DIFFROAR["regimes"]),
    rmethod=one_of([*DIFFROAR["methods"], "input_agnostic"]),
    rkind="raw|corrected|baseline",
    fill=one_of(DIFFROAR["fills"]),
    placement=one_of(DIFFROAR_LEAKAGE["placements"]),


rule diffroar_train:
    input:
        data=SYNTHETIC_DATASET,
    output:
        models=diffroar_trials(f"{DIFFROAR_DIR}/models/{DIFFROAR_UNIT}.pt", DIFFROAR["trials"]),
        histories=diffroar_trials(f"{DIFFROAR_DIR}/models/{DIFFROAR_UNIT}.history.tsv", DIFFROAR["trials"]),
    log:
        "logs/diffroar/train/{model_type}/{regime}.log",
    benchmark:
        "benchmarks/out/diffroar_train/{model_type}/{regime}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=diffroar_mem_mb,
        runtime=diffroar_train_runtime,
    params:
        dataset="billboard",
        trials=list(range(DIFFROAR["trials"])),
        models=config["models"],
        regularizers=DIFFROAR["regularizers"],
        training=config["training"],
        compile=config["compile"],
        engine=config["ensemble_engine"],
        group=config["engine_group"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/diffroar_train.py"


rule diffroar_scores:
    input:
        data=SYNTHETIC_DATASET,
        model=diffroar_model,
    output:
        f"{DIFFROAR_DIR}/scores/{DIFFROAR_UNIT}/{{method}}.h5",
    log:
        f"logs/diffroar/scores/{DIFFROAR_UNIT}/{{method}}.log",
    benchmark:
        f"benchmarks/out/diffroar_scores/{DIFFROAR_UNIT}/{{method}}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=diffroar_mem_mb,
        runtime=diffroar_scores_runtime,
    params:
        options=lambda wildcards: config["attribution"].get(wildcards.method, {}),
        output=DIFFROAR["output"],
        score=DIFFROAR["score"],
        batch_size=DIFFROAR["batch_size"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/diffroar_scores.py"


rule diffroar_power:
    input:
        data=SYNTHETIC_DATASET,
        scores=diffroar_ranking_scores,
    output:
        f"{DIFFROAR_DIR}/power/{DIFFROAR_UNIT}/{{rmethod}}.{{rkind}}.{{fill}}.tsv",
    log:
        f"logs/diffroar/power/{DIFFROAR_UNIT}/{{rmethod}}.{{rkind}}.{{fill}}.log",
    benchmark:
        f"benchmarks/out/diffroar_power/{DIFFROAR_UNIT}/{{rmethod}}.{{rkind}}.{{fill}}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=diffroar_power_mem_mb,
        runtime=diffroar_power_runtime,
    params:
        **DIFFROAR_POWER_PARAMS,
        ranking=lambda wildcards: {
            "regime": wildcards.regime,
            "trial": int(wildcards.trial),
            "method": wildcards.rmethod,
            "kind": wildcards.rkind,
        },
    script:
        "../scripts/diffroar_power.py"


# The model-agnostic baseline: one random ranking per model type's retrainings, regime "any"
rule diffroar_random:
    input:
        data=SYNTHETIC_DATASET,
    output:
        f"{DIFFROAR_DIR}/power/{{model_type}}/any_0/random.baseline.{{fill}}.tsv",
    log:
        "logs/diffroar/power/{model_type}/any_0/random.baseline.{fill}.log",
    benchmark:
        "benchmarks/out/diffroar_power/{model_type}/any_0/random.baseline.{fill}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=diffroar_power_mem_mb,
        runtime=diffroar_power_runtime,
    params:
        **DIFFROAR_POWER_PARAMS,
        ranking={},  # power_job's default: the random ranking, regime "any"
    script:
        "../scripts/diffroar_power.py"


rule diffroar_leakage_dataset:
    output:
        f"{DIFFROAR_DIR}/leakage/data/{{placement}}.h5",
    log:
        "logs/diffroar/leakage/dataset/{placement}.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        settings=DIFFROAR_LEAKAGE["data"],
        seed=config["seed"],
    script:
        "../scripts/diffroar_leakage_dataset.py"


rule diffroar_leakage_train:
    input:
        data=f"{DIFFROAR_DIR}/leakage/data/{{placement}}.h5",
    output:
        models=diffroar_trials(
            f"{DIFFROAR_DIR}/leakage/models/{{placement}}/{DIFFROAR_UNIT}.pt", DIFFROAR_LEAKAGE["trials"]
        ),
        histories=diffroar_trials(
            f"{DIFFROAR_DIR}/leakage/models/{{placement}}/{DIFFROAR_UNIT}.history.tsv",
            DIFFROAR_LEAKAGE["trials"],
        ),
    log:
        "logs/diffroar/leakage/train/{placement}/{model_type}/{regime}.log",
    benchmark:
        "benchmarks/out/diffroar_leakage_train/{placement}/{model_type}/{regime}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=diffroar_leakage_mem_mb,
        runtime=diffroar_leakage_train_runtime,
    params:
        dataset=lambda wildcards: wildcards.placement,
        trials=list(range(DIFFROAR_LEAKAGE["trials"])),
        models=config["models"],
        regularizers=DIFFROAR["regularizers"],
        training=config["training"],
        compile=config["compile"],
        engine=config["ensemble_engine"],
        group=config["engine_group"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/diffroar_train.py"


rule diffroar_leakage:
    input:
        data=f"{DIFFROAR_DIR}/leakage/data/{{placement}}.h5",
        models=diffroar_trials(
            f"{DIFFROAR_DIR}/leakage/models/{{placement}}/{DIFFROAR_UNIT}.pt", DIFFROAR_LEAKAGE["trials"]
        ),
    output:
        f"{DIFFROAR_DIR}/leakage/shares/{{placement}}/{{model_type}}/{{regime}}.tsv",
    log:
        "logs/diffroar/leakage/shares/{placement}/{model_type}/{regime}.log",
    benchmark:
        "benchmarks/out/diffroar_leakage/{placement}/{model_type}/{regime}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=diffroar_leakage_mem_mb,
        runtime=diffroar_leakage_runtime,
    params:
        methods=DIFFROAR["methods"],
        options=config["attribution"],
        output=DIFFROAR["output"],
        score=DIFFROAR["score"],
        n_test=DIFFROAR_LEAKAGE["n_test"],
        batch_size=DIFFROAR["batch_size"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/diffroar_leakage.py"


rule diffroar_tables:
    input:
        power=diffroar_power_files(),
        leakage=diffroar_leakage_files(),
        scores=diffroar_score_files(),
    output:
        **diffroar_table_outputs(),
    log:
        "logs/diffroar/tables.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/diffroar_tables.py"


rule diffroar_figures:
    input:
        **{name: DIFFROAR_TABLES[name] for name in ("diffroar", "leakage")},
    output:
        **diffroar_figure_outputs(),
    log:
        "logs/diffroar/figures.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/diffroar_figures.py"
