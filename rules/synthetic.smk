rule synthetic_dataset:
    output:
        BILLBOARD,
    log:
        "logs/synthetic/dataset.log",
    params:
        synthetic=config["synthetic"],
        seed=config["seed"],
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/synthetic_dataset.py"
