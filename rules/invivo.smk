# The ChIP-seq half: per TF a balanced dataset, ensembles of models, saliency, the ensemble difference.


rule import_dataset:
    input:
        processed_input,
    output:
        f"{INV}/data/{{tf}}.h5",
    log:
        "logs/invivo/data/{tf}.log",
    wildcard_constraints:
        tf=one_of(PROCESSED_TFS),
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/import_dataset.py"


rule chipseq_dataset:
    input:
        unpack(chipseq_inputs),
    output:
        f"{INV}/data/{{tf}}.h5",
    log:
        "logs/invivo/data/{tf}.log",
    wildcard_constraints:
        tf=one_of(ENCODE_TFS),
    params:
        invivo=IV,
        seed=config["seed"],
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/chipseq_dataset.py"


rule train_invivo_models:
    input:
        data=f"{INV}/data/{{tf}}.h5",
    output:
        models=job_members(f"{INV}/models/{{tf}}/{{arch}}_{{activation}}_{{member}}.pt"),
        histories=job_members(f"{INV}/models/{{tf}}/{{arch}}_{{activation}}_{{member}}.history.tsv"),
    log:
        f"logs/invivo/train/{{tf}}/{MEMBER_JOB}.log",
    benchmark:
        f"benchmarks/out/invivo_train/{{tf}}/{MEMBER_JOB}.tsv"
    params:
        members=member_ids,
        invivo=IV,
        kernel_size=config["models"]["kernel_size"],
        training=config["training"],
        engine=config["ensemble_engine"],
        group=config["engine_group"],
        seed=config["seed"],
        device=config["device"],
    resources:
        mem_mb=invivo_train_mem_mb,
        runtime=invivo_train_runtime,
    threads: config["threads"]
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/train_invivo_models.py"


rule evaluate_invivo_models:
    input:
        data=f"{INV}/data/{{tf}}.h5",
        models=job_members(f"{INV}/models/{{tf}}/{{arch}}_{{activation}}_{{member}}.pt"),
    output:
        saliency=job_members(f"{INV}/saliency/{{tf}}/{{arch}}_{{activation}}_{{member}}.h5"),
        metrics=job_members(f"{INV}/metrics/{{tf}}/{{arch}}_{{activation}}_{{member}}.tsv"),
    log:
        f"logs/invivo/evaluate/{{tf}}/{MEMBER_JOB}.log",
    benchmark:
        f"benchmarks/out/invivo_evaluate/{{tf}}/{MEMBER_JOB}.tsv"
    params:
        output=config["evaluation"]["output"],
        batch_size=config["evaluation"]["batch_size"],
        engine=config["ensemble_engine"],
        device=config["device"],
    resources:
        mem_mb=invivo_attribution_mem_mb,
        runtime=invivo_attribution_runtime,
    threads: config["threads"]
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/evaluate_invivo_models.py"


rule invivo_ensemble:
    input:
        lambda wildcards: member_files(f"{INV}/saliency/{{tf}}/{{model_type}}_{{member}}.h5", wildcards),
    output:
        f"{INV}/ensembles/{{tf}}/{{arch}}_{{activation}}.h5",
    log:
        "logs/invivo/ensemble/{tf}/{arch}_{activation}.log",
    params:
        correct_ensemble=IV["correct_ensemble"],
        thresholds=config["angles"]["thresholds"],
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/invivo_ensemble.py"


rule invivo_figures:
    input:
        ensembles=expand(f"{INV}/ensembles/{{tf}}/{{{{arch}}}}_{{{{activation}}}}.h5", tf=INVIVO_TFS),
        synthetic=[f"{SYN}/tables/angle_summary.tsv"] if "synthetic" in STUDIES else [],
    output:
        fig3e=report(
            f"{INV}/figures/fig3e_{{arch}}_{{activation}}.png",
            caption="../report/fig3e.rst",
            category="In vivo (ChIP-seq)",
            subcategory="Angles and ensemble difference",
        ),
        fig3e_pdf=f"{INV}/figures/fig3e_{{arch}}_{{activation}}.pdf",
        fig3e_tsv=f"{INV}/tables/fig3e_{{arch}}_{{activation}}.tsv",
        fig4b=report(
            f"{INV}/figures/fig4b_{{arch}}_{{activation}}.png",
            caption="../report/fig4b.rst",
            category="In vivo (ChIP-seq)",
            subcategory="Angles and ensemble difference",
        ),
        fig4b_pdf=f"{INV}/figures/fig4b_{{arch}}_{{activation}}.pdf",
        fig4b_tsv=f"{INV}/tables/fig4b_{{arch}}_{{activation}}.tsv",
    log:
        "logs/invivo/figures_{arch}_{activation}.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/invivo_figures.py"


rule invivo_logos:
    input:
        f"{INV}/ensembles/{{tf}}/{{arch}}_{{activation}}.h5",
    output:
        png=report(
            f"{INV}/figures/logos/{{tf}}.{{arch}}_{{activation}}.png",
            caption="../report/invivo_logos.rst",
            category="In vivo (ChIP-seq)",
            subcategory="Sequence logos",
        ),
        pdf=f"{INV}/figures/logos/{{tf}}.{{arch}}_{{activation}}.pdf",
        tsv=f"{INV}/tables/logos/{{tf}}.{{arch}}_{{activation}}.tsv",
    log:
        "logs/invivo/logos/{tf}.{arch}_{activation}.log",
    params:
        jaspar_id=lambda wildcards: MOTIFS.get(wildcards.tf, {}).get("jaspar_id"),
        jaspar_release=IV["jaspar_release"],
        window=IV["logo_window"],
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/invivo_logos.py"


rule invivo_classification:
    input:
        expand(
            f"{INV}/metrics/{{tf}}/{{model_type}}_{{member}}.tsv",
            tf=INVIVO_TFS,
            model_type=INVIVO_MODEL_TYPES,
            member=INVIVO_MEMBERS,
        ),
    output:
        report(
            f"{INV}/tables/classification.tsv",
            caption="../report/invivo_classification.rst",
            category="In vivo (ChIP-seq)",
            subcategory="Tables",
        ),
    log:
        "logs/invivo/classification.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/invivo_classification.py"
