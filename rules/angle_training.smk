# The angle-training study (gradient-correction paper, sections 5.6-5.7, and a simplex-projected first layer):
# the synthetic study's models trained in arms (variants named <arch>_<activation>_<arm>, e.g.
# cnn_deep_relu_sigma0.05) on its dataset. One training and one saliency job per variant (all its trials in
# the ensemble engine, the angle penalty included), or one per trial with the sequential engine; then the
# study's tables and its three figures.

ANGLE_DIR = "results/angle_training"
ANGLE_CONFIG = config["angle_training"]
ANGLE_TRAINING = {**config["training"], **ANGLE_CONFIG["training"]}  # updated by the study's
ANGLE_EVALUATION = {**config["evaluation"], "n_positive": ANGLE_CONFIG["n_positive"]}
ANGLE_ARMS = angle_training_arms() if "angle_training" in STUDIES else {}
ANGLE_MODELS = [f"{v}_{t}" for v, arm in ANGLE_ARMS.items() for t in family_trials(arm["family"])]
ANGLE_TABLES = {
    name: f"{ANGLE_DIR}/tables/{name}.tsv"
    for name in ("models", "arms", "init_sweep", "angle_penalty", "comparison", "histograms")
}
# variants whose trials train (and are attributed) in one job, by family; none with the sequential engine
ANGLE_FAMILIES = {
    family: [v for v, arm in ANGLE_ARMS.items() if arm["family"] == family and VECTORIZED]
    for family in ("reference", "sigma", "lambda")
}
ANGLE_MODEL = f"{ANGLE_DIR}/models/{{variant}}_{{trial}}"
ANGLE_EVALUATED = {
    "attributions": f"{ANGLE_DIR}/attributions/{{variant}}_{{trial}}.saliency.h5",
    "metrics": f"{ANGLE_DIR}/metrics/{{variant}}_{{trial}}.saliency.tsv",
    "angles": f"{ANGLE_DIR}/angles/{{variant}}_{{trial}}.saliency.h5",
}


wildcard_constraints:
    variant=one_of(list(ANGLE_ARMS)),


rule angle_training_train:
    input:
        data=SYNTHETIC_DATASET,
    output:
        models=variant_trials("reference", f"{ANGLE_MODEL}.pt"),
        histories=variant_trials("reference", f"{ANGLE_MODEL}.history.tsv"),
    log:
        "logs/angle_training/train/{variant}.log",
    benchmark:
        "benchmarks/out/angle_training_train/{variant}.tsv"
    wildcard_constraints:
        variant=one_of(ANGLE_FAMILIES["reference"]),
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=angle_training_train_mem_mb,
        runtime=angle_training_train_runtime,
    params:
        trials=variant_trial_ids,
        variant=variant_settings,
        models=config["models"],
        training=ANGLE_TRAINING,
        compile=config["compile"],
        engine=config["ensemble_engine"],
        group=config["engine_group"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/angle_training_train.py"


use rule angle_training_train as angle_training_train_sigma with:
    output:
        models=variant_trials("sigma", f"{ANGLE_MODEL}.pt"),
        histories=variant_trials("sigma", f"{ANGLE_MODEL}.history.tsv"),
    wildcard_constraints:
        variant=one_of(ANGLE_FAMILIES["sigma"]),


use rule angle_training_train as angle_training_train_lambda with:
    output:
        models=variant_trials("lambda", f"{ANGLE_MODEL}.pt"),
        histories=variant_trials("lambda", f"{ANGLE_MODEL}.history.tsv"),
    wildcard_constraints:
        variant=one_of(ANGLE_FAMILIES["lambda"]),


# the sequential engine: one job per trial
use rule angle_training_train as angle_training_train_single with:
    output:
        models=[f"{ANGLE_MODEL}.pt"],
        histories=[f"{ANGLE_MODEL}.history.tsv"],
    log:
        "logs/angle_training/train/{variant}_{trial}.log",
    benchmark:
        "benchmarks/out/angle_training_train/{variant}_{trial}.tsv"
    wildcard_constraints:
        variant=one_of([] if VECTORIZED else list(ANGLE_ARMS)),


# Saliency maps of each model, scored as the synthetic study scores them; the maps themselves are not kept.
rule angle_training_evaluate:
    input:
        data=SYNTHETIC_DATASET,
        models=variant_trials("reference", f"{ANGLE_MODEL}.pt"),
    output:
        attributions=temp(variant_trials("reference", ANGLE_EVALUATED["attributions"])),
        metrics=variant_trials("reference", ANGLE_EVALUATED["metrics"]),
        angles=variant_trials("reference", ANGLE_EVALUATED["angles"]),
    log:
        "logs/angle_training/evaluate/{variant}.log",
    benchmark:
        "benchmarks/out/angle_training_evaluate/{variant}.tsv"
    wildcard_constraints:
        variant=one_of(ANGLE_FAMILIES["reference"]),
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=angle_training_attribution_mem_mb,
        runtime=angle_training_attribution_runtime,
    params:
        evaluation=ANGLE_EVALUATION,
        thresholds=config["angles"]["thresholds"],
        engine=config["ensemble_engine"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/angle_training_evaluate.py"


use rule angle_training_evaluate as angle_training_evaluate_sigma with:
    input:
        data=SYNTHETIC_DATASET,
        models=variant_trials("sigma", f"{ANGLE_MODEL}.pt"),
    output:
        attributions=temp(variant_trials("sigma", ANGLE_EVALUATED["attributions"])),
        metrics=variant_trials("sigma", ANGLE_EVALUATED["metrics"]),
        angles=variant_trials("sigma", ANGLE_EVALUATED["angles"]),
    wildcard_constraints:
        variant=one_of(ANGLE_FAMILIES["sigma"]),


use rule angle_training_evaluate as angle_training_evaluate_lambda with:
    input:
        data=SYNTHETIC_DATASET,
        models=variant_trials("lambda", f"{ANGLE_MODEL}.pt"),
    output:
        attributions=temp(variant_trials("lambda", ANGLE_EVALUATED["attributions"])),
        metrics=variant_trials("lambda", ANGLE_EVALUATED["metrics"]),
        angles=variant_trials("lambda", ANGLE_EVALUATED["angles"]),
    wildcard_constraints:
        variant=one_of(ANGLE_FAMILIES["lambda"]),


use rule angle_training_evaluate as angle_training_evaluate_single with:
    input:
        data=SYNTHETIC_DATASET,
        models=[f"{ANGLE_MODEL}.pt"],
    output:
        attributions=temp([ANGLE_EVALUATED["attributions"]]),
        metrics=[ANGLE_EVALUATED["metrics"]],
        angles=[ANGLE_EVALUATED["angles"]],
    log:
        "logs/angle_training/evaluate/{variant}_{trial}.log",
    benchmark:
        "benchmarks/out/angle_training_evaluate/{variant}_{trial}.tsv"
    wildcard_constraints:
        variant=one_of([] if VECTORIZED else list(ANGLE_ARMS)),


rule angle_training_tables:
    input:
        metrics=expand(f"{ANGLE_DIR}/metrics/{{model}}.saliency.tsv", model=ANGLE_MODELS),
        angles=expand(f"{ANGLE_DIR}/angles/{{model}}.saliency.h5", model=ANGLE_MODELS),
    output:
        **angle_training_table_outputs(),
    log:
        "logs/angle_training/tables.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/angle_training_tables.py"


rule angle_training_figures:
    input:
        **ANGLE_TABLES,
    output:
        **angle_training_figure_outputs(),
    log:
        "logs/angle_training/figures.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/angle_training_figures.py"
