# The multi-task study (the gradient-correction paper's Fig. 11 and beyond): Basset-style models with exponential
# and ReLU first layers trained on a multi-task dataset (the multi-task billboard, offline and with a ground truth
# per task; or ENCODE peaks, one file per cell type); per model and method, the angles of the gradient of the class
# with the highest prediction over the test set and of each shown task for its positives, and on the billboard
# each task's interpretability raw and corrected; then the tables and figures.

MULTITASK_DIR = "results/multitask"
MULTITASK = config["multitask"]
MULTITASK_DATASET = f"{MULTITASK_DIR}/data/{MULTITASK['dataset']}.h5"
MULTITASK_TRAINING = {**config["training"], **MULTITASK["training"]}
MULTITASK_MODEL = f"{MULTITASK_DIR}/models/{{activation}}_{{trial}}"
MULTITASK_ANGLES = {k: MULTITASK[k] for k in ("output", "shown_tasks", "n_test", "n_positive", "batch_size")}
MULTITASK_SOURCES = multitask_sources()
MULTITASK_TABLES = {
    name: f"{MULTITASK_DIR}/tables/{name}.tsv" for name in ("models", "angles", "task_angles", "interpretability")
}


rule multitask_billboard:
    output:
        f"{MULTITASK_DIR}/data/billboard.h5",
    log:
        "logs/multitask/data/billboard.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        settings=MULTITASK["billboard"],
        seed=config["seed"],
    script:
        "../scripts/multitask_billboard.py"


rule multitask_encode:
    input:
        unpack(multitask_encode_inputs),
    output:
        f"{MULTITASK_DIR}/data/encode.h5",
    log:
        "logs/multitask/data/encode.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        settings=MULTITASK["encode"],
        table=MULTITASK_SOURCES,
        seed=config["seed"],
    script:
        "../scripts/multitask_encode.py"


rule multitask_train:
    input:
        data=MULTITASK_DATASET,
    output:
        model=f"{MULTITASK_MODEL}.pt",
        history=f"{MULTITASK_MODEL}.history.tsv",
    log:
        "logs/multitask/train/{activation}_{trial}.log",
    benchmark:
        "benchmarks/out/multitask_train/{activation}_{trial}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=multitask_mem_mb,
        runtime=multitask_train_runtime,
    params:
        model=MULTITASK["model"],
        training=MULTITASK_TRAINING,
        compile=config["compile"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/multitask_train.py"


rule multitask_angles:
    input:
        data=MULTITASK_DATASET,
        model=f"{MULTITASK_MODEL}.pt",
    output:
        histograms=f"{MULTITASK_DIR}/angles/{{activation}}_{{trial}}.{{method}}.h5",
        rows=f"{MULTITASK_DIR}/angles/{{activation}}_{{trial}}.{{method}}.tsv",
    log:
        "logs/multitask/angles/{activation}_{trial}.{method}.log",
    benchmark:
        "benchmarks/out/multitask_angles/{activation}_{trial}.{method}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=multitask_mem_mb,
        runtime=multitask_angles_runtime,
    params:
        options=lambda wildcards: config["attribution"].get(wildcards.method, {}),
        settings=MULTITASK_ANGLES,
        thresholds=config["angles"]["thresholds"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/multitask_angles.py"


rule multitask_tables:
    input:
        models=multitask_files(f"{MULTITASK_MODEL}.pt"),
        rows=multitask_angle_files("tsv"),
        histograms=multitask_angle_files("h5"),
    output:
        **multitask_table_outputs(),
    log:
        "logs/multitask/tables.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/multitask_tables.py"


rule multitask_figures:
    input:
        histograms=multitask_angle_files("h5"),
        interpretability=MULTITASK_TABLES["interpretability"],
        task_angles=MULTITASK_TABLES["task_angles"],
    output:
        **multitask_figure_outputs(),
    log:
        "logs/multitask/figures.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/multitask_figures.py"
