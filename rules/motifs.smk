# Motif discovery on the synthetic and in vivo studies' maps (motifs.enabled): per attribution file (a synthetic
# model's map of one method, an in vivo TF's ensemble of one model type) its map kinds exported in
# modisco-lite's format, TF-MoDISco on each, every pattern matched to JASPAR with TOMTOM (and on the synthetic
# data scored against the embedded motifs), logos for the report and a summary table per study; the in vivo
# maps of TFs built from ENCODE peaks also as bigWig tracks. Any model's attribution file of the synthetic
# (trained or published) and consistency studies can be asked for by name, e.g.
# results/consistency/motifs/modisco/<model>.saliency.corrected.h5.

MOTIFS = config["motifs"]
# the map kinds (gradcorr.studies.motifs.MAP_KINDS, restated: the DAG process imports no numpy)
SINGLE_KINDS = ["raw", "corrected"]
ENSEMBLE_KINDS = ["ensemble_raw", "ensemble_corrected"]
MOTIF_UNITS = motif_units()
MOTIF_DIR = "{base}/motifs"
# study folders whose attribution files are one model's map each, on the synthetic dataset (its ground truth)
MODEL_MAP_DIRS = [SYNTHETIC_DIR, CONSISTENCY_DIR]


wildcard_constraints:
    base=one_of([*MODEL_MAP_DIRS, INVIVO_DIR]),
    unit=r"[^/]+",
    model=r"[^/]+",


rule motifs_export_model:
    input:
        "{base}/attributions/{model}.{method}.h5",
    output:
        ohe=f"{MOTIF_DIR}/inputs/{{model}}.{{method}}.ohe.npz",
        raw=f"{MOTIF_DIR}/inputs/{{model}}.{{method}}.raw.npz",
        corrected=f"{MOTIF_DIR}/inputs/{{model}}.{{method}}.corrected.npz",
    log:
        "logs/motifs/export/{base}/{model}.{method}.log",
    wildcard_constraints:
        base=one_of(MODEL_MAP_DIRS),
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/motifs_export.py"


rule motifs_export_invivo:
    input:
        f"{INVIVO_DIR}/ensembles/{{tf}}/{{arch}}_{{activation}}.h5",
    output:
        ohe=f"{INVIVO_DIR}/motifs/inputs/{{tf}}.{{arch}}_{{activation}}.ohe.npz",
        raw=f"{INVIVO_DIR}/motifs/inputs/{{tf}}.{{arch}}_{{activation}}.raw.npz",
        corrected=f"{INVIVO_DIR}/motifs/inputs/{{tf}}.{{arch}}_{{activation}}.corrected.npz",
        ensemble_raw=f"{INVIVO_DIR}/motifs/inputs/{{tf}}.{{arch}}_{{activation}}.ensemble_raw.npz",
        ensemble_corrected=f"{INVIVO_DIR}/motifs/inputs/{{tf}}.{{arch}}_{{activation}}.ensemble_corrected.npz",
    log:
        "logs/invivo/motifs/export/{tf}.{arch}_{activation}.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/motifs_export.py"


rule motifs_modisco:
    input:
        ohe=f"{MOTIF_DIR}/inputs/{{unit}}.ohe.npz",
        maps=f"{MOTIF_DIR}/inputs/{{unit}}.{{kind}}.npz",
    output:
        f"{MOTIF_DIR}/modisco/{{unit}}.{{kind}}.h5",
    log:
        "logs/motifs/modisco/{base}/{unit}.{kind}.log",
    benchmark:
        "benchmarks/out/motifs_modisco/{base}/{unit}.{kind}.tsv"
    conda:
        "../envs/gradcorr.yaml"
    threads: config["threads"]
    params:
        modisco=MOTIFS["modisco"],
    script:
        "../scripts/motifs_modisco.py"


rule motifs_patterns_model:
    input:
        results=f"{MOTIF_DIR}/modisco/{{model}}.{{method}}.{{kind}}.h5",
        truth="{base}/attributions/{model}.{method}.h5",
        data=SYNTHETIC_DATASET,
    output:
        f"{MOTIF_DIR}/patterns/{{model}}.{{method}}.{{kind}}.tsv",
    log:
        "logs/motifs/patterns/{base}/{model}.{method}.{kind}.log",
    wildcard_constraints:
        base=one_of(MODEL_MAP_DIRS),
    conda:
        "../envs/gradcorr.yaml"
    params:
        motifs=MOTIFS,
        label=lambda wildcards: {"model": wildcards.model, "method": wildcards.method, "kind": wildcards.kind},
        own_ids=[],
    script:
        "../scripts/motifs_patterns.py"


rule motifs_patterns_invivo:
    input:
        results=f"{INVIVO_DIR}/motifs/modisco/{{tf}}.{{arch}}_{{activation}}.{{kind}}.h5",
    output:
        f"{INVIVO_DIR}/motifs/patterns/{{tf}}.{{arch}}_{{activation}}.{{kind}}.tsv",
    log:
        "logs/invivo/motifs/patterns/{tf}.{arch}_{activation}.{kind}.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        motifs=MOTIFS,
        label=lambda wildcards: {
            "tf": wildcards.tf,
            "model_type": f"{wildcards.arch}_{wildcards.activation}",
            "kind": wildcards.kind,
        },
        own_ids=lambda wildcards: [TF_MOTIFS[wildcards.tf]["jaspar_id"]] if wildcards.tf in TF_MOTIFS else [],
    script:
        "../scripts/motifs_patterns.py"


rule motifs_logos:
    input:
        results=f"{MOTIF_DIR}/modisco/{{unit}}.{{kind}}.h5",
        patterns=f"{MOTIF_DIR}/patterns/{{unit}}.{{kind}}.tsv",
    output:
        png=report(
            f"{MOTIF_DIR}/logos/{{unit}}.{{kind}}.png",
            caption="../report/motifs_logos.rst",
            category="Motif discovery",
            subcategory="{base}",
            labels={"maps": "{unit}", "kind": "{kind}"},
        ),
        pdf=f"{MOTIF_DIR}/logos/{{unit}}.{{kind}}.pdf",
    log:
        "logs/motifs/logos/{base}/{unit}.{kind}.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        release=MOTIFS["jaspar_release"],
        top=MOTIFS["logo_patterns"],
    script:
        "../scripts/motifs_logos.py"


rule motifs_summary:
    input:
        motif_pattern_tables,
    output:
        summary=report(
            "{base}/tables/motifs_summary.tsv",
            caption="../report/motifs_summary.rst",
            category="Motif discovery",
            subcategory="{base}",
        ),
        patterns="{base}/tables/motif_patterns.tsv",
    log:
        "logs/motifs/summary/{base}.log",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/motifs_summary.py"


rule motifs_bigwig:
    input:
        unpack(invivo_track_inputs),
    output:
        raw=f"{INVIVO_DIR}/tracks/{{tf}}.{{arch}}_{{activation}}.raw.bw",
        corrected=f"{INVIVO_DIR}/tracks/{{tf}}.{{arch}}_{{activation}}.corrected.bw",
        ensemble_raw=f"{INVIVO_DIR}/tracks/{{tf}}.{{arch}}_{{activation}}.ensemble_raw.bw",
        ensemble_corrected=f"{INVIVO_DIR}/tracks/{{tf}}.{{arch}}_{{activation}}.ensemble_corrected.bw",
    log:
        "logs/invivo/tracks/{tf}.{arch}_{activation}.log",
    wildcard_constraints:
        tf=one_of(ENCODE_TFS),
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/motifs_bigwig.py"
