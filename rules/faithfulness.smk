# The faithfulness study (faithful-attributions paper): per protein task a synthetic dataset; per task,
# architecture (`net`: seq_cnn, mlp) and regularization setting the trials' models, then their verification
# and the Precision@k of every method, raw and corrected, against the model's own ablation; the same measure
# on the synthetic study's DNA models (faithfulness.dna); then the tables (Table 1 beside the paper's) and
# figures. `net`, not `arch`: the synthetic study's `arch` wildcard names its CNNs.

FAITHFULNESS_DIR = "results/faithfulness"
FAITHFULNESS_CONFIG = config["faithfulness"]
FAITHFULNESS_TRAINING = {**config["training"], **FAITHFULNESS_CONFIG["training"]}
FAITHFULNESS_UNITS = expand(
    "{task}/{net}/{setting}",
    task=FAITHFULNESS_CONFIG["tasks"],
    net=FAITHFULNESS_CONFIG["architectures"],
    setting=FAITHFULNESS_CONFIG["settings"],
)
FAITHFULNESS_DNA_TYPES = SYNTHETIC_MODEL_TYPES if FAITHFULNESS_CONFIG["dna"] else []
# the DNA part per source of the synthetic study's models (models.source): results/faithfulness/dna/{trained,published}
FAITHFULNESS_DNA_SOURCE = config["models"]["source"]
FAITHFULNESS_DNA = f"{FAITHFULNESS_DIR}/dna/{FAITHFULNESS_DNA_SOURCE}"
FAITHFULNESS_TABLES = {
    name: f"{FAITHFULNESS_DIR}/tables/{name}.tsv"
    for name in ("precision", "verification", "table1", "table1_all", "summary", "dna", "correction")
}
FAITHFULNESS_MODEL = f"{FAITHFULNESS_DIR}/models/{{task}}/{{net}}/{{setting}}_{{trial}}"
# the model scored: the last epoch (.pt) or the early-stopping one (.best.pt)
FAITHFULNESS_CHECKPOINT = {"last": ".pt", "best": ".best.pt"}[FAITHFULNESS_CONFIG["checkpoint"]]


wildcard_constraints:
    task=one_of(FAITHFULNESS_CONFIG["tasks"]),
    net="seq_cnn|mlp",
    setting=one_of(FAITHFULNESS_CONFIG["settings"]),


rule faithfulness_dataset:
    output:
        f"{FAITHFULNESS_DIR}/data/{{task}}.h5",
    log:
        "logs/faithfulness/dataset/{task}.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        settings=FAITHFULNESS_CONFIG["data"],
        seed=config["seed"],
    script:
        "../scripts/faithfulness_dataset.py"


rule faithfulness_train:
    input:
        data=f"{FAITHFULNESS_DIR}/data/{{task}}.h5",
    output:
        models=faithfulness_trials(f"{FAITHFULNESS_MODEL}.pt"),
        best=faithfulness_trials(f"{FAITHFULNESS_MODEL}.best.pt"),
        histories=faithfulness_trials(f"{FAITHFULNESS_MODEL}.history.tsv"),
    log:
        "logs/faithfulness/train/{task}/{net}/{setting}.log",
    benchmark:
        "benchmarks/out/faithfulness_train/{task}/{net}/{setting}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=faithfulness_mem_mb,
        runtime=faithfulness_train_runtime,
    params:
        trials=list(range(FAITHFULNESS_CONFIG["trials"])),
        strengths=FAITHFULNESS_CONFIG["strengths"],
        architecture=lambda wildcards: FAITHFULNESS_CONFIG["architecture"][wildcards.net],
        training=FAITHFULNESS_TRAINING,
        compile=config["compile"],
        engine=config["ensemble_engine"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/faithfulness_train.py"


rule faithfulness_evaluate:
    input:
        data=f"{FAITHFULNESS_DIR}/data/{{task}}.h5",
        models=faithfulness_trials(f"{FAITHFULNESS_MODEL}{FAITHFULNESS_CHECKPOINT}"),
    output:
        scores=f"{FAITHFULNESS_DIR}/scores/{{task}}/{{net}}/{{setting}}.tsv",
        models=f"{FAITHFULNESS_DIR}/scores/{{task}}/{{net}}/{{setting}}.models.tsv",
    log:
        "logs/faithfulness/evaluate/{task}/{net}/{setting}.log",
    benchmark:
        "benchmarks/out/faithfulness_evaluate/{task}/{net}/{setting}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=faithfulness_mem_mb,
        runtime=faithfulness_evaluate_runtime,
    params:
        evaluation=FAITHFULNESS_CONFIG["evaluation"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/faithfulness_evaluate.py"


rule faithfulness_dna:
    input:
        data=SYNTHETIC_DATASET,
        models=expand(
            f"{SYNTHETIC_DIR}/models/{{model_type}}_{{trial}}.pt",
            trial=range(config["models"]["trials"]),
            allow_missing=True,
        ),
    output:
        f"{FAITHFULNESS_DNA}/{{model_type}}.tsv",
    log:
        f"logs/faithfulness/dna/{FAITHFULNESS_DNA_SOURCE}/{{model_type}}.log",
    benchmark:
        f"benchmarks/out/faithfulness_dna/{FAITHFULNESS_DNA_SOURCE}/{{model_type}}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=faithfulness_dna_mem_mb,
        runtime=faithfulness_dna_runtime,
    params:
        evaluation=FAITHFULNESS_CONFIG["evaluation"],
        threshold=config["evaluation"]["info_threshold"],
        source=FAITHFULNESS_DNA_SOURCE,
        device=config["device"],
    script:
        "../scripts/faithfulness_dna.py"


rule faithfulness_tables:
    input:
        scores=expand(f"{FAITHFULNESS_DIR}/scores/{{unit}}.tsv", unit=FAITHFULNESS_UNITS),
        models=expand(f"{FAITHFULNESS_DIR}/scores/{{unit}}.models.tsv", unit=FAITHFULNESS_UNITS),
        dna=expand(f"{FAITHFULNESS_DNA}/{{model_type}}.tsv", model_type=FAITHFULNESS_DNA_TYPES),
    output:
        **faithfulness_table_outputs(),
    log:
        "logs/faithfulness/tables.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        paper_table=resource("resources/faithfulness_table1.tsv"),
    script:
        "../scripts/faithfulness_tables.py"


rule faithfulness_figures:
    input:
        **{name: FAITHFULNESS_TABLES[name] for name in ("table1", "dna")},
    output:
        **faithfulness_figure_outputs(),
    log:
        "logs/faithfulness/figures.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/faithfulness_figures.py"
