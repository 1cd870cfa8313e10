# Training of the synthetic study's models. With ensemble_engine "vectorized" (the default) one job
# trains all trials of a model type as one vectorised ensemble; with "sequential", one job per trial.
# Either way each trial gets the same seed and comes out the same up to float rounding.

rule train_models:
    input:
        data=f"{SYN}/data/billboard.h5",
    output:
        models=job_trials(f"{SYN}/models/{{arch}}_{{activation}}_{{trial}}.pt"),
        histories=job_trials(f"{SYN}/models/{{arch}}_{{activation}}_{{trial}}.history.tsv"),
    log:
        f"logs/synthetic/train/{TRIAL_JOB}.log",
    benchmark:
        f"benchmarks/out/train/{TRIAL_JOB}.tsv"
    params:
        trials=trial_ids,
        models=config["models"],
        training=config["training"],
        engine=config["ensemble_engine"],
        group=config["engine_group"],
        seed=config["seed"],
        device=config["device"],
    threads: config["threads"]
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/train_models.py"
