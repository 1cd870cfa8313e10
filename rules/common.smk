# Configuration checks, names of the units of work, and paths shared by every rule.

import csv
import functools
import itertools
import math
import os
import re
import sys

import yaml

from snakemake.utils import validate

sys.path.insert(0, f"{workflow.basedir}/src")
from gradcorr.config_checks import check_config  # stdlib only: no torch in the DAG process
from gradcorr.download import paired_assembly


validate(config, schema="../config/schema.yaml", set_default=True)
with open(f"{workflow.basedir}/config/schema.yaml") as handle:
    SCHEMA = yaml.safe_load(handle)


def resource(path):
    """A relative path from the working directory if it exists there, else from the workflow (resources/)."""
    if os.path.isabs(path) or os.path.exists(path):
        return path
    return os.path.join(workflow.basedir, path)


@functools.cache
def table_rows(path):
    """The rows of a TSV file, read once per run (download jobs look up their row one by one)."""
    if not os.path.isfile(path):
        raise ValueError(f"{path}: table not found")
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def read_table(path, columns):
    """Rows of a TSV resource keyed by its first column; an error naming the file if a column is missing."""
    path = resource(path)
    rows = table_rows(path)
    missing = [c for c in columns if rows and c not in rows[0]] or ([] if rows else ["(no rows)"])
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected {columns}")
    return {row[columns[0]]: row for row in rows}


check_config(config, SCHEMA)

STUDIES = config["studies"]
PUBLISHED = config["models"]["source"] == "published"
BILLBOARD = "results/synthetic/data/billboard.h5"  # the synthetic dataset, whichever models analyse it
SYN = "results/published" if PUBLISHED else "results/synthetic"  # the synthetic study's models and results
SYN_LOGS = SYN.replace("results/", "logs/")
MODELS = expand(
    "{arch}_{activation}_{trial}",
    arch=config["models"]["architectures"],
    activation=config["models"]["activations"],
    trial=range(config["models"]["trials"]),
)
MODEL_TYPES = expand(
    "{arch}_{activation}",
    arch=config["models"]["architectures"],
    activation=config["models"]["activations"],
)
METHODS = config["evaluation"]["methods"]
LOGO_METHODS = [m for m in config["angles"]["logo_methods"] if m in METHODS]


wildcard_constraints:
    arch="cnn_shallow|cnn_deep",
    activation="relu|exp",
    trial=r"\d+",
    member=r"\d+",
    accession=r"ENC[A-Z]{2}\d{3}[A-Z]{3}",
    method="saliency|integrated_gradients|smoothgrad|expected_gradients",


def trial_files(pattern):
    """`pattern` (with a {trial} field) for every trial of the run; other fields stay wildcards."""
    return expand(pattern, trial=range(config["models"]["trials"]), allow_missing=True)


def all_outputs():
    """The figures and tables a default run produces."""
    per_method = expand(
        [
            f"{SYN}/figures/fig2_{{method}}.pdf",
            f"{SYN}/figures/fig2_{{method}}.png",
            f"{SYN}/tables/interpretability_{{method}}.tsv",
            f"{SYN}/figures/fig3cd_{{method}}.png",
            f"{SYN}/figures/fig4a_{{method}}.png",
            f"{SYN}/figures/fig10_{{method}}.png",
        ],
        method=METHODS,
    )
    n_logos = min(config["angles"]["logo_trials"] or math.inf, config["models"]["trials"])
    logos = expand(f"{SYN}/figures/logos/{{model_type}}_{{trial}}.{{method}}.png", model_type=MODEL_TYPES,
                   trial=range(n_logos), method=LOGO_METHODS)
    synthetic = [*per_method, *logos, f"{SYN}/tables/angle_summary.tsv"] if "synthetic" in STUDIES else []
    return [*synthetic, *invivo_outputs(), *consistency_outputs()]


# In vivo (ChIP-seq) study: where each TF's dataset comes from, the ensembles, the download paths.
INV = "results/invivo"
IV = config["invivo"]
DL = IV["download_dir"]
INVIVO_TFS = IV["tfs"] if "invivo" in STUDIES else []
INVIVO_MODEL_TYPES = expand("{arch}_{activation}", arch=IV["architectures"], activation=IV["activations"])
INVIVO_MEMBERS = range(len(IV["filters"]) * IV["seeds"])


def one_of(names):
    """A wildcard regex matching exactly `names` (and nothing when there are none)."""
    return "|".join(re.escape(n) for n in names) if names else "(?!)"


def invivo_sources():
    """TF -> "processed" (an HDF5 in the published layout) or the ENCODE table row of its accessions."""
    table = read_table(IV["table"], ["tf", "chip_accession", "dnase_accession"]) if INVIVO_TFS else {}
    sources = {}
    for tf in INVIVO_TFS:
        if tf in IV["processed"]:
            sources[tf] = "processed"
        elif tf in table:
            sources[tf] = table[tf]
        else:
            raise ValueError(f"config invivo.tfs: {tf} is neither in invivo.processed nor in {IV['table']}")
    return sources


INVIVO_SOURCES = invivo_sources()
PROCESSED_TFS = [tf for tf, s in INVIVO_SOURCES.items() if s == "processed"]
ENCODE_TFS = [tf for tf, s in INVIVO_SOURCES.items() if s != "processed"]
MOTIFS = read_table(IV["motifs"], ["tf", "jaspar_id"]) if INVIVO_TFS else {}


def processed_input(wildcards):
    """The configured processed file when present, else its download from `processed_sources`."""
    path = IV["processed"][wildcards.tf]
    if os.path.isfile(path):
        return path
    sources = read_table(IV["processed_sources"], ["tf", "url", "md5"])
    if wildcards.tf not in sources:
        raise ValueError(f"config invivo.processed.{wildcards.tf}: {path} not found, and {wildcards.tf} has no "
                         f"download in {IV['processed_sources']}")
    return f"{DL}/processed/{wildcards.tf}.h5"


def processed_source(tf):
    return read_table(IV["processed_sources"], ["tf", "url", "md5"])[tf]


def encode_assembly(tf, chip_meta, dnase_meta):
    """The assembly of a TF's two ENCODE files (refusing to pair different ones), if the config has its genome."""
    assembly = paired_assembly(tf, chip_meta, dnase_meta)
    if assembly not in IV["genomes"]:
        raise ValueError(f"{tf}: its files are on {assembly}, but config invivo.genomes has no URL for it")
    return assembly


def chipseq_inputs(wildcards):
    """Peaks, metadata and the genome of the peaks' assembly (read from the downloaded metadata)."""
    row = INVIVO_SOURCES[wildcards.tf]
    chip, dnase = row["chip_accession"], row["dnase_accession"]
    chip_meta = checkpoints.encode_metadata.get(accession=chip).output[0]
    dnase_meta = checkpoints.encode_metadata.get(accession=dnase).output[0]
    assembly = encode_assembly(wildcards.tf, chip_meta, dnase_meta)
    return {"chip": f"{DL}/encode/{chip}.bed.gz", "dnase": f"{DL}/encode/{dnase}.bed.gz",
            "chip_meta": chip_meta, "dnase_meta": dnase_meta,
            "genome": f"{DL}/genomes/{assembly}.fa", "fai": f"{DL}/genomes/{assembly}.fa.fai"}


def member_files(pattern, wildcards):
    """`pattern` (fields tf, model_type, member) for every member of one TF's ensemble of one model type."""
    return expand(pattern, tf=wildcards.tf, model_type=f"{wildcards.arch}_{wildcards.activation}",
                  member=INVIVO_MEMBERS)


def published_file(arch, activation, trial):
    """A published model's weight file: in models.published_dir when there, else its download path."""
    name = f"{arch}_{'exponential' if activation == 'exp' else activation}_{trial}.h5"
    local = os.path.join(config["models"]["published_dir"], name)
    return local if os.path.isfile(local) else f"{DL}/published_models/{name}"


def published_source(name):
    """The url and md5 of a published weight file, from models.published_sources."""
    table = config["models"]["published_sources"]
    sources = read_table(table, ["file", "url", "md5"])
    if name not in sources:
        raise ValueError(f"{resource(table)}: no row for {name}")
    return sources[name]


def invivo_outputs():
    """The figures and tables of the in vivo study."""
    if not INVIVO_TFS:
        return []
    per_type = expand([f"{INV}/figures/fig3e_{{model_type}}.png", f"{INV}/figures/fig4b_{{model_type}}.png"],
                      model_type=INVIVO_MODEL_TYPES)
    logos = expand(f"{INV}/figures/logos/{{tf}}.{{model_type}}.png", tf=INVIVO_TFS, model_type=INVIVO_MODEL_TYPES)
    return [*per_type, *logos, f"{INV}/tables/classification.tsv"]


wildcard_constraints:
    tf=one_of(INVIVO_TFS),


# Units of work of the training and attribution jobs: with ensemble_engine "vectorized" (the default) one
# job handles all trials of a model type (or a TF's whole ensemble of one); with "sequential", one model.
VECTORIZED = config["ensemble_engine"] == "vectorized"
JOB_TRIALS = range(config["models"]["trials"]) if VECTORIZED else ["{trial}"]
TRIAL_JOB = "{arch}_{activation}" if VECTORIZED else "{arch}_{activation}_{trial}"
JOB_MEMBERS = INVIVO_MEMBERS if VECTORIZED else ["{member}"]
MEMBER_JOB = "{arch}_{activation}" if VECTORIZED else "{arch}_{activation}_{member}"


def trial_ids(wildcards):
    """The trials the job of `wildcards` handles (its own, or all of its model type)."""
    return list(JOB_TRIALS) if VECTORIZED else [int(wildcards.trial)]


def member_ids(wildcards):
    """The ensemble members the job of `wildcards` handles."""
    return list(JOB_MEMBERS) if VECTORIZED else [int(wildcards.member)]


def published_inputs(wildcards):
    """The published weight files of the trials the job of `wildcards` imports."""
    return [published_file(wildcards.arch, wildcards.activation, t) for t in trial_ids(wildcards)]


def job_trials(pattern):
    """`pattern` (fields arch, activation, trial, ...) for the trials one job handles."""
    return expand(pattern, trial=JOB_TRIALS, allow_missing=True)


def job_members(pattern):
    """`pattern` (fields tf, arch, activation, member) for the ensemble members one job handles."""
    return expand(pattern, member=JOB_MEMBERS, allow_missing=True)


# Consistency study (consistency paper): its grid of combinations (regularizer, BatchNorm, activation,
# dropout), named like mixup_bn_exp_d0.1; each model is a combination and a trial.
CON = "results/consistency"
CS = config["consistency"]


def consistency_grid():
    """Name -> settings of each combination of the grid, less those matching an entry of `exclude`."""
    grid = {}
    for reg, bn, act, drop in itertools.product(CS["regularizers"], CS["batchnorm"], CS["activations"], CS["dropout"]):
        combo = {"regularizer": reg, "batchnorm": bn, "activation": act, "dropout": drop}
        if not any(all(combo[k] == v for k, v in ex.items()) for ex in CS["exclude"]):
            grid[f"{reg}_{'bn' if bn else 'nobn'}_{act}_d{drop:g}"] = combo
    return grid


CON_GRID = consistency_grid() if "consistency" in STUDIES else {}
if "consistency" in STUDIES and not CON_GRID:
    raise ValueError("config consistency.exclude: excludes every combination of the grid")
CON_METHODS = CS["methods"]
CON_TRAINING = {**config["training"], **CS["training"]}  # the training section, updated by the study's
CON_MODELS = [f"{combo}_{trial}" for combo in CON_GRID for trial in range(CS["trials"])]
# the ensemble engine trains a combination's trials together only without a regularizer
CON_ENGINE_COMBOS = [c for c, s in CON_GRID.items() if VECTORIZED and s["regularizer"] == "none"]
CON_SINGLE_COMBOS = [c for c in CON_GRID if c not in CON_ENGINE_COMBOS]
CON_ATTR_JOB = "{combo}" if VECTORIZED else "{combo}_{trial}"


def con_job_trials(pattern):
    """`pattern` (fields combo, trial, ...) for all trials of a combination."""
    return expand(pattern, trial=range(CS["trials"]), allow_missing=True)


def con_attr_trials(pattern):
    """`pattern` for the trials one attribution job handles (all of a combination, or one)."""
    return con_job_trials(pattern) if VECTORIZED else [pattern]


def con_trial_ids(wildcards):
    """The trials the consistency job of `wildcards` handles."""
    return [int(wildcards.trial)] if "trial" in wildcards.keys() else list(range(CS["trials"]))


def con_combo(wildcards):
    return CON_GRID[wildcards.combo]


def consistency_figure_outputs():
    """Figs. 2, 6 (and 5 when there is more than one method): PNG (in the report), PDF and TSV."""
    outputs = {}
    for fig in ["fig2", "fig5", "fig6"] if len(CON_METHODS) > 1 else ["fig2", "fig6"]:
        outputs[fig] = report(f"{CON}/figures/{fig}.png", caption=f"../report/consistency_{fig}.rst",
                              category="Consistency", subcategory="Figures")
        outputs[f"{fig}_pdf"] = f"{CON}/figures/{fig}.pdf"
        outputs[f"{fig}_tsv"] = f"{CON}/tables/{fig}.tsv"
    return outputs


def consistency_outputs():
    """Table 1, the correlations and the figures of the consistency study."""
    if not CON_GRID:
        return []
    tables = expand([f"{CON}/tables/table1_{{method}}.tsv", f"{CON}/tables/correlations_{{method}}.tsv"],
                    method=CON_METHODS)
    return [*tables, *[str(f) for f in consistency_figure_outputs().values()]]


wildcard_constraints:
    combo=one_of(list(CON_GRID)),


# Cluster resources of the heavy jobs (training, attribution), scaled with the config: memory with the
# sequences a job holds and the models it runs at once, runtime with its work. The rates are upper
# bounds measured on a 2-core CPU (README, Performance); a GPU needs less time. A retried job asks for
# attempt x the memory. The slurm profile adds the GPU and CPUs; site values (partition, account) are
# the user's.
MB_BASE = 1000  # Python, torch and the job's own arrays
MB_PER_MODEL = 60  # one model's activations, gradients and optimizer state, training or attribution
S_PER_MODEL_SEQUENCE_EPOCH = 7e-4  # training, CNN-deep on one CPU core (400 s for 3 x 15 x 14,000)
S_PER_MODEL_INPUT = 3e-4  # attribution, CNN-deep on one CPU core, per model input (a step, draw or reference)


def dataset_mb(n_sequences, length):
    """One-hot float32 sequences in memory."""
    return n_sequences * 4 * length * 4 / 2**20


def job_mem_mb(n_sequences, length, models, attempt=1):
    return attempt * math.ceil(MB_BASE + 3 * dataset_mb(n_sequences, length) + MB_PER_MODEL * models)


def train_runtime(n_sequences, models, epochs, slowdown=1.0):
    """Minutes for `models` trained on the train split (0.7 of n_sequences) for at most `epochs`."""
    return 10 + math.ceil(slowdown * models * epochs * 0.7 * n_sequences * S_PER_MODEL_SEQUENCE_EPOCH / 60)


def attribution_inputs(method):
    """Model inputs per sequence of an attribution method at the config's settings."""
    options = config["attribution"].get(method, {})
    return {"saliency": 1, "integrated_gradients": options.get("steps", 1) + 1,
            "smoothgrad": options.get("n_samples", 1),
            "expected_gradients": options.get("n_references", 1) * (options.get("steps", 1) + 1)}[method]


def attribution_runtime(n_sequences, models, method):
    return 10 + math.ceil(n_sequences * models * attribution_inputs(method) * S_PER_MODEL_INPUT / 60)


SYN_SEQUENCES = config["synthetic"]["n_positive"] + config["synthetic"]["n_negative"]
SYN_LENGTH = config["synthetic"]["length"]


def models_at_once(n_models):
    """Models a job holds at once: the engine trains in groups of engine_group."""
    return min(n_models, config["engine_group"]) if VECTORIZED else 1


def synthetic_train_mem_mb(wildcards, attempt):
    return job_mem_mb(SYN_SEQUENCES, SYN_LENGTH, models_at_once(len(trial_ids(wildcards))), attempt)


def synthetic_train_runtime(wildcards):
    return train_runtime(SYN_SEQUENCES, len(trial_ids(wildcards)), config["training"]["max_epochs"])


def synthetic_attribution_mem_mb(wildcards, attempt):
    return job_mem_mb(SYN_SEQUENCES, SYN_LENGTH, len(trial_ids(wildcards)), attempt)


def synthetic_attribution_runtime(wildcards):
    return attribution_runtime(config["evaluation"]["n_positive"], len(trial_ids(wildcards)), wildcards.method)


def invivo_sequences(input):
    """A TF dataset's sequences, from its file's size (it is built by the run, so unknown before)."""
    return input.size_mb * 2**20 / (16 * IV["width"])


def invivo_train_mem_mb(wildcards, input, attempt):
    return job_mem_mb(invivo_sequences(input), IV["width"], models_at_once(len(member_ids(wildcards))), attempt)


def invivo_train_runtime(wildcards, input):
    return train_runtime(invivo_sequences(input), len(member_ids(wildcards)), config["training"]["max_epochs"])


def invivo_attribution_mem_mb(wildcards, input, attempt):
    return job_mem_mb(invivo_sequences(input), IV["width"], len(member_ids(wildcards)), attempt)


def invivo_attribution_runtime(wildcards, input):
    return attribution_runtime(invivo_sequences(input) / 2, len(member_ids(wildcards)), "saliency")


def consistency_train_mem_mb(wildcards, attempt):
    return job_mem_mb(SYN_SEQUENCES, SYN_LENGTH, models_at_once(len(con_trial_ids(wildcards))), attempt)


def consistency_train_runtime(wildcards):
    """Adversarial training runs PGD on most batches: about 16 times a clean epoch (consistency demo)."""
    regularizer = CON_GRID[wildcards.combo]["regularizer"]
    slowdown = 16 if regularizer == "adversarial" else 2 if regularizer != "none" else 1
    return train_runtime(SYN_SEQUENCES, len(con_trial_ids(wildcards)), CON_TRAINING["max_epochs"], slowdown)


def consistency_attribution_mem_mb(wildcards, attempt):
    return job_mem_mb(SYN_SEQUENCES, SYN_LENGTH, len(con_trial_ids(wildcards)), attempt)


def consistency_attribution_runtime(wildcards):
    return attribution_runtime(CS["n_positive"], len(con_trial_ids(wildcards)), wildcards.method)
