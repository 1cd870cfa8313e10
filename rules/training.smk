# Where the synthetic study's models come from. models.source "trained" (the default): this run trains
# them; with ensemble_engine "vectorized" one job trains all trials of a model type as one vectorised
# ensemble, with "sequential" one job per trial; each trial gets the same seed either way and comes
# out the same up to float rounding. "published": the authors' own trained models, imported from
# their Keras weight files (read from models.published_dir, else downloaded).

if PUBLISHED:

    rule import_published_models:
        input:
            data=BILLBOARD,
            weights=published_inputs,
        output:
            models=job_trials(f"{SYN}/models/{{arch}}_{{activation}}_{{trial}}.pt"),
        log:
            f"{SYN_LOGS}/import/{TRIAL_JOB}.log",
        params:
            trials=trial_ids,
        conda:
            "../envs/gradcorr.yaml"
        script:
            "../scripts/import_published_models.py"

else:

    rule train_models:
        input:
            data=BILLBOARD,
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
        resources:
            mem_mb=synthetic_train_mem_mb,
            runtime=synthetic_train_runtime,
        threads: config["threads"]
        conda:
            "../envs/gradcorr.yaml"
        script:
            "../scripts/train_models.py"
