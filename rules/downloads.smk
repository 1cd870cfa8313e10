# Downloads: ENCODE metadata and peak files and genomes (in vivo study), the authors' processed datasets
# (in vivo) and published models (synthetic study). They run on the host Snakemake runs on (localrules), as
# cluster nodes often have no network; only the hosts in config invivo.allowed_hosts are contacted. Where
# each file is needed, and its URL and checksum, is said by the study's rules file.


localrules:
    download_encode_metadata,
    download_encode_file,
    download_genome,
    download_processed,
    download_published_model,


checkpoint download_encode_metadata:
    output:
        f"{DOWNLOAD_DIR}/encode/{{accession}}.json",
    log:
        "logs/downloads/{accession}.json.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        base_url=INVIVO_CONFIG["encode_url"],
        allowed_hosts=INVIVO_CONFIG["allowed_hosts"],
        retries=INVIVO_CONFIG["retries"],
    script:
        "../scripts/download_encode_metadata.py"


rule download_encode_file:
    input:
        f"{DOWNLOAD_DIR}/encode/{{accession}}.json",
    output:
        f"{DOWNLOAD_DIR}/encode/{{accession}}.bed.gz",
    log:
        "logs/downloads/{accession}.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        base_url=INVIVO_CONFIG["encode_url"],
        allowed_hosts=INVIVO_CONFIG["allowed_hosts"],
        retries=INVIVO_CONFIG["retries"],
    script:
        "../scripts/download_encode_file.py"


rule download_genome:
    output:
        fasta=f"{DOWNLOAD_DIR}/genomes/{{assembly}}.fa",
        fai=f"{DOWNLOAD_DIR}/genomes/{{assembly}}.fa.fai",
    log:
        "logs/downloads/genome_{assembly}.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        source=lambda wildcards: genome_source(wildcards.assembly),
        allowed_hosts=INVIVO_CONFIG["allowed_hosts"],
        retries=INVIVO_CONFIG["retries"],
    script:
        "../scripts/download_genome.py"


rule download_processed:
    output:
        f"{DOWNLOAD_DIR}/processed/{{tf}}.h5",
    log:
        "logs/downloads/processed_{tf}.log",
    conda:
        "../envs/gradcorr.yaml"
    params:
        source=lambda wildcards: processed_source(wildcards.tf),
        allowed_hosts=INVIVO_CONFIG["allowed_hosts"],
        retries=INVIVO_CONFIG["retries"],
    script:
        "../scripts/download_checked.py"


rule download_published_model:
    output:
        f"{DOWNLOAD_DIR}/published_models/{{file}}",
    log:
        "logs/downloads/published_models/{file}.log",
    wildcard_constraints:
        file=r"cnn_(shallow|deep)_(relu|exponential)_\d+\.h5",
    conda:
        "../envs/gradcorr.yaml"
    params:
        source=lambda wildcards: published_source(wildcards.file),
        allowed_hosts=INVIVO_CONFIG["allowed_hosts"],
        retries=INVIVO_CONFIG["retries"],
    script:
        "../scripts/download_checked.py"
