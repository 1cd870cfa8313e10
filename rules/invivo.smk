# The in vivo (ChIP-seq) study: per TF a balanced dataset (imported from a processed file, or built from
# its ENCODE peaks), ensembles of models, saliency of every member, the ensemble difference; then the
# figures (Figs. 3b, 3e, 4b and their supplements) and the classification table.

INVIVO_DIR = "results/invivo"
INVIVO_CONFIG = config["invivo"]
INVIVO_TFS = INVIVO_CONFIG["tfs"] if "invivo" in STUDIES else []
INVIVO_MODEL_TYPES = expand(
    "{arch}_{activation}", arch=INVIVO_CONFIG["architectures"], activation=INVIVO_CONFIG["activations"]
)
INVIVO_MEMBERS = range(len(INVIVO_CONFIG["filters"]) * INVIVO_CONFIG["seeds"])
# The members one training or attribution job handles: a TF's whole ensemble of one model type, or one.
JOB_MEMBERS = INVIVO_MEMBERS if VECTORIZED else ["{member}"]
MEMBER_JOB = "{arch}_{activation}" if VECTORIZED else "{arch}_{activation}_{member}"


INVIVO_SOURCES = invivo_sources()
PROCESSED_TFS = [tf for tf, source in INVIVO_SOURCES.items() if source == "processed"]
ENCODE_TFS = [tf for tf, source in INVIVO_SOURCES.items() if source != "processed"]
if ENCODE_TFS:
    check_encode_urls()
TF_MOTIFS = read_table(INVIVO_CONFIG["motifs"], ("tf", "jaspar_id")) if INVIVO_TFS else {}


wildcard_constraints:
    tf=one_of(INVIVO_TFS),


rule invivo_import_dataset:
    input:
        processed_input,
    output:
        f"{INVIVO_DIR}/data/{{tf}}.h5",
    log:
        "logs/invivo/data/{tf}.log",
    wildcard_constraints:
        tf=one_of(PROCESSED_TFS),
    conda:
        "../envs/gradcorr.yaml"
    params:
        architectures=INVIVO_CONFIG["architectures"],
    script:
        "../scripts/invivo_import_dataset.py"


rule invivo_chipseq_dataset:
    input:
        unpack(chipseq_inputs),
    output:
        f"{INVIVO_DIR}/data/{{tf}}.h5",
    log:
        "logs/invivo/data/{tf}.log",
    wildcard_constraints:
        tf=one_of(ENCODE_TFS),
    conda:
        "../envs/gradcorr.yaml"
    params:
        invivo=INVIVO_CONFIG,
        seed=config["seed"],
    script:
        "../scripts/invivo_chipseq_dataset.py"


rule invivo_train:
    input:
        data=f"{INVIVO_DIR}/data/{{tf}}.h5",
    output:
        models=job_members(f"{INVIVO_DIR}/models/{{tf}}/{{arch}}_{{activation}}_{{member}}.pt"),
        histories=job_members(f"{INVIVO_DIR}/models/{{tf}}/{{arch}}_{{activation}}_{{member}}.history.tsv"),
    log:
        f"logs/invivo/train/{{tf}}/{MEMBER_JOB}.log",
    benchmark:
        f"benchmarks/out/invivo_train/{{tf}}/{MEMBER_JOB}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=invivo_train_mem_mb,
        runtime=invivo_train_runtime,
    params:
        members=member_ids,
        invivo=INVIVO_CONFIG,
        kernel_size=config["models"]["kernel_size"],
        training=config["training"],
        compile=config["compile"],
        engine=config["ensemble_engine"],
        group=config["engine_group"],
        seed=config["seed"],
        device=config["device"],
    script:
        "../scripts/invivo_train.py"


rule invivo_evaluate:
    input:
        data=f"{INVIVO_DIR}/data/{{tf}}.h5",
        models=job_members(f"{INVIVO_DIR}/models/{{tf}}/{{arch}}_{{activation}}_{{member}}.pt"),
    output:
        saliency=job_members(f"{INVIVO_DIR}/saliency/{{tf}}/{{arch}}_{{activation}}_{{member}}.h5"),
        metrics=job_members(f"{INVIVO_DIR}/metrics/{{tf}}/{{arch}}_{{activation}}_{{member}}.tsv"),
    log:
        f"logs/invivo/evaluate/{{tf}}/{MEMBER_JOB}.log",
    benchmark:
        f"benchmarks/out/invivo_evaluate/{{tf}}/{MEMBER_JOB}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    resources:
        mem_mb=invivo_attribution_mem_mb,
        runtime=invivo_attribution_runtime,
    params:
        output=config["evaluation"]["output"],
        batch_size=config["evaluation"]["batch_size"],
        engine=config["ensemble_engine"],
        device=config["device"],
    script:
        "../scripts/invivo_evaluate.py"


rule invivo_ensemble:
    input:
        lambda wildcards: member_files(f"{INVIVO_DIR}/saliency/{{tf}}/{{model_type}}_{{member}}.h5", wildcards),
    output:
        f"{INVIVO_DIR}/ensembles/{{tf}}/{{arch}}_{{activation}}.h5",
    log:
        "logs/invivo/ensemble/{tf}/{arch}_{activation}.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        correct_ensemble=INVIVO_CONFIG["correct_ensemble"],
        thresholds=config["angles"]["thresholds"],
    script:
        "../scripts/invivo_ensemble.py"


rule invivo_figures:
    input:
        ensembles=expand(f"{INVIVO_DIR}/ensembles/{{tf}}/{{{{arch}}}}_{{{{activation}}}}.h5", tf=INVIVO_TFS),
        synthetic=[f"{SYNTHETIC_DIR}/tables/angle_summary.tsv"] if "synthetic" in STUDIES else [],
    output:
        fig3e=report(
            f"{INVIVO_DIR}/figures/fig3e_{{arch}}_{{activation}}.png",
            caption="../report/invivo_fig3e.rst",
            category="In vivo (ChIP-seq)",
            subcategory="Angles and ensemble difference",
        ),
        fig3e_pdf=f"{INVIVO_DIR}/figures/fig3e_{{arch}}_{{activation}}.pdf",
        fig3e_tsv=f"{INVIVO_DIR}/tables/fig3e_{{arch}}_{{activation}}.tsv",
        fig4b=report(
            f"{INVIVO_DIR}/figures/fig4b_{{arch}}_{{activation}}.png",
            caption="../report/invivo_fig4b.rst",
            category="In vivo (ChIP-seq)",
            subcategory="Angles and ensemble difference",
        ),
        fig4b_pdf=f"{INVIVO_DIR}/figures/fig4b_{{arch}}_{{activation}}.pdf",
        fig4b_tsv=f"{INVIVO_DIR}/tables/fig4b_{{arch}}_{{activation}}.tsv",
    log:
        "logs/invivo/figures_{arch}_{activation}.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/invivo_figures.py"


rule invivo_logos:
    input:
        f"{INVIVO_DIR}/ensembles/{{tf}}/{{arch}}_{{activation}}.h5",
    output:
        png=report(
            f"{INVIVO_DIR}/figures/logos/{{tf}}.{{arch}}_{{activation}}.png",
            caption="../report/invivo_logos.rst",
            category="In vivo (ChIP-seq)",
            subcategory="Sequence logos",
        ),
        pdf=f"{INVIVO_DIR}/figures/logos/{{tf}}.{{arch}}_{{activation}}.pdf",
        tsv=f"{INVIVO_DIR}/tables/logos/{{tf}}.{{arch}}_{{activation}}.tsv",
    log:
        "logs/invivo/logos/{tf}.{arch}_{activation}.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        jaspar_id=lambda wildcards: TF_MOTIFS.get(wildcards.tf, {}).get("jaspar_id"),
        jaspar_release=INVIVO_CONFIG["jaspar_release"],
        window=INVIVO_CONFIG["logo_window"],
    script:
        "../scripts/invivo_logos.py"


rule invivo_classification:
    input:
        expand(
            f"{INVIVO_DIR}/metrics/{{tf}}/{{model_type}}_{{member}}.tsv",
            tf=INVIVO_TFS,
            model_type=INVIVO_MODEL_TYPES,
            member=INVIVO_MEMBERS,
        ),
    output:
        report(
            f"{INVIVO_DIR}/tables/classification.tsv",
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


# Do the consistency KLDs pick the member that agrees best with its ensemble? Per model type, over all TFs.
rule invivo_model_selection:
    input:
        classification=f"{INVIVO_DIR}/tables/classification.tsv",
        ensembles=expand(f"{INVIVO_DIR}/ensembles/{{tf}}/{{{{arch}}}}_{{{{activation}}}}.h5", tf=INVIVO_TFS),
    output:
        table=report(
            f"{INVIVO_DIR}/tables/model_selection_{{arch}}_{{activation}}.tsv",
            caption="../report/invivo_model_selection.rst",
            category="In vivo (ChIP-seq)",
            subcategory="Model selection",
        ),
        points=f"{INVIVO_DIR}/tables/model_selection_points_{{arch}}_{{activation}}.tsv",
        pdf=f"{INVIVO_DIR}/figures/model_selection_{{arch}}_{{activation}}.pdf",
        png=report(
            f"{INVIVO_DIR}/figures/model_selection_{{arch}}_{{activation}}.png",
            caption="../report/invivo_model_selection.rst",
            category="In vivo (ChIP-seq)",
            subcategory="Model selection",
        ),
    log:
        "logs/invivo/model_selection_{arch}_{activation}.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/invivo_model_selection.py"
