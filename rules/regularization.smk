# The regularization study (regularization-saliency paper): the consistency CNN trained under combinations of
# regularizer, width, batch size, dropout, learning rate, BatchNorm and schedule (named like
# std_f1_bs128_do0.1_lr0.001_nobn_const) on the synthetic study's dataset, every model scored after every
# epoch. One training job per combination (all its trials; in the ensemble engine without a regularizer), then
# the tables (Tables 1 and 2, the Appendix B grid, and the ground-truth-free scores through training) and Fig. 1.

REGULARIZATION_DIR = "results/regularization"
REGULARIZATION_CONFIG = config["regularization"]
# the paper's protocol over the training section; epochs, batch size, rate and phases come from each combination
REGULARIZATION_TRAINING = {
    **config["training"],
    **REGULARIZATION_CONFIG["training"],
    "max_epochs": REGULARIZATION_CONFIG["epochs"],
}
REGULARIZATION_COMBINATIONS, REGULARIZATION_BLOCKS = (
    regularization_grid(REGULARIZATION_CONFIG) if "regularization" in STUDIES else ({}, {})
)
if "regularization" in STUDIES and not REGULARIZATION_COMBINATIONS:
    raise ValueError("config regularization: no combination to train (blocks, widths)")
REGULARIZATION_MODELS = [
    f"{name}_{trial}" for name in REGULARIZATION_COMBINATIONS for trial in range(REGULARIZATION_CONFIG["trials"])
]
REGULARIZATION_TABLES = {
    name: f"{REGULARIZATION_DIR}/tables/{name}.tsv"
    for name in (
        "epochs",
        "models",
        "table1",
        "table2",
        "grid",
        "tracking",
        "tracking_summary",
        "stopping",
        "correction",
    )
}
REGULARIZATION_MODEL = f"{REGULARIZATION_DIR}/models/{{combination}}_{{trial}}"


wildcard_constraints:
    combination=one_of(list(REGULARIZATION_COMBINATIONS)),


rule regularization_train:
    input:
        data=SYNTHETIC_DATASET,
    output:
        best=regularization_trials(f"{REGULARIZATION_MODEL}.pt"),
        last=regularization_trials(f"{REGULARIZATION_MODEL}.last.pt"),
        histories=regularization_trials(f"{REGULARIZATION_MODEL}.history.tsv"),
    log:
        "logs/regularization/train/{combination}.log",
    benchmark:
        "benchmarks/out/regularization_train/{combination}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=regularization_train_mem_mb,
        runtime=regularization_train_runtime,
    params:
        combination=regularization_settings,
        trials=list(range(REGULARIZATION_CONFIG["trials"])),
        training=REGULARIZATION_TRAINING,
        compile=config["compile"],
        monitor={
            **{key: REGULARIZATION_CONFIG[key] for key in ("n_positive", "valid_positive", "snr_top_k")},
            "batch_size": config["evaluation"]["batch_size"],
        },
        kld={key: config["consistency"][key] for key in ("kmer", "attr_mean")},
        first_phase=REGULARIZATION_CONFIG["first_phase"],
        mode=REGULARIZATION_CONFIG["mode"],
        engine=config["ensemble_engine"],
        group=config["engine_group"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/regularization_train.py"


rule regularization_tables:
    input:
        expand(f"{REGULARIZATION_DIR}/models/{{model}}.history.tsv", model=REGULARIZATION_MODELS),
    output:
        **regularization_table_outputs(),
    log:
        "logs/regularization/tables.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        combinations=REGULARIZATION_COMBINATIONS,
        blocks=REGULARIZATION_BLOCKS,
        paper_tables=resource("resources/regularization_tables.tsv"),
        tolerance=REGULARIZATION_CONFIG["tolerance"],
    script:
        "../scripts/regularization_tables.py"


rule regularization_figures:
    input:
        **{name: REGULARIZATION_TABLES[name] for name in ("epochs", "models", "tracking")},
    output:
        **regularization_figure_outputs(),
    log:
        "logs/regularization/figures.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        blocks=REGULARIZATION_BLOCKS,
    script:
        "../scripts/regularization_figures.py"
