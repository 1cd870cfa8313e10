rule train_model:
    input:
        data=f"{SYN}/data/billboard.h5",
    output:
        model=f"{SYN}/models/{{arch}}_{{activation}}_{{trial}}.pt",
        history=f"{SYN}/models/{{arch}}_{{activation}}_{{trial}}.history.tsv",
    log:
        "logs/synthetic/train/{arch}_{activation}_{trial}.log",
    benchmark:
        "benchmarks/out/train/{arch}_{activation}_{trial}.tsv"
    params:
        models=config["models"],
        training=config["training"],
        seed=config["seed"],
        device=config["device"],
    threads: config["threads"]
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/train_model.py"
