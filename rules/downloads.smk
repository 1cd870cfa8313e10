# Downloads: ENCODE metadata and peak files, genomes, the authors' processed datasets and published
# models. They run on the host Snakemake runs on (localrules), as cluster nodes often have no network;
# only the hosts in config invivo.allowed_hosts are contacted.


localrules:
    encode_metadata,
    encode_file,
    genome,
    processed_download,
    published_model_download,


checkpoint encode_metadata:
    output:
        f"{DL}/encode/{{accession}}.json",
    log:
        "logs/downloads/{accession}.json.log",
    params:
        base_url=IV["encode_url"],
        allowed_hosts=IV["allowed_hosts"],
        retries=IV["retries"],
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/encode_metadata.py"


rule encode_file:
    input:
        f"{DL}/encode/{{accession}}.json",
    output:
        f"{DL}/encode/{{accession}}.bed.gz",
    log:
        "logs/downloads/{accession}.log",
    params:
        base_url=IV["encode_url"],
        allowed_hosts=IV["allowed_hosts"],
        retries=IV["retries"],
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/encode_file.py"


rule genome:
    output:
        fasta=f"{DL}/genomes/{{assembly}}.fa",
        fai=f"{DL}/genomes/{{assembly}}.fa.fai",
    log:
        "logs/downloads/genome_{assembly}.log",
    params:
        url=lambda wildcards: IV["genomes"][wildcards.assembly],
        allowed_hosts=IV["allowed_hosts"],
        retries=IV["retries"],
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/genome.py"


rule processed_download:
    output:
        f"{DL}/processed/{{tf}}.h5",
    log:
        "logs/downloads/processed_{tf}.log",
    params:
        source=lambda wildcards: processed_source(wildcards.tf),
        allowed_hosts=IV["allowed_hosts"],
        retries=IV["retries"],
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/download_checked.py"


rule published_model_download:
    output:
        f"{DL}/published_models/{{file}}",
    log:
        "logs/downloads/published_models/{file}.log",
    params:
        source=lambda wildcards: published_source(wildcards.file),
        allowed_hosts=IV["allowed_hosts"],
        retries=IV["retries"],
    wildcard_constraints:
        file=r"cnn_(shallow|deep)_(relu|exponential)_\d+\.h5",
    conda:
        "../envs/gradcorr.yaml"
    script:
        "../scripts/download_checked.py"
