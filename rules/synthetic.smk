rule synthetic_dataset:
    output:
        f"{SYN}/data/billboard.h5",
    log:
        "logs/synthetic/dataset.log",
    params:
        synthetic=config["synthetic"],
        seed=config["seed"],
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/synthetic_dataset.py"
