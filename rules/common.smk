# Config validation, the settings every study shares, and every helper function of the rules (Snakemake's
# linter keeps functions out of the files that hold rules): shared helpers first, then one section per
# study. Each study's names and rules are in rules/<study>.smk; cluster resources in rules/resources.smk.

import functools
import itertools
import os
import re
import sys

import yaml

from snakemake.logging import logger
from snakemake.utils import validate

sys.path.insert(0, f"{workflow.basedir}/src")
# standard library only, like every import of the DAG process: no torch
from gradcorr.data.download import MD5_RE, DownloadError, check_url
from gradcorr.data.encode import ACCESSION_RE, common_assembly, paired_assembly
from gradcorr.workflow import tables
from gradcorr.workflow.config_checks import check_config, download_folder, regularization_grid

validate(config, schema="../config/schema.yaml", set_default=True)
with open(f"{workflow.basedir}/config/schema.yaml") as handle:
    SCHEMA = yaml.safe_load(handle)
check_config(config, SCHEMA)

STUDIES = config["studies"]
DOWNLOAD_DIR = config["invivo"]["download_dir"]  # every download: ENCODE files, genomes, published files
_download_folder = download_folder(config, SCHEMA)  # checked; None when the run downloads nothing
if _download_folder:
    logger.info(f"downloads: {_download_folder}")
# ensemble_engine "vectorized" (the default): one training and one attribution job per model type (all its
# trials, or a TF's whole ensemble of one), run as one vectorised ensemble; "sequential": one job per model.
VECTORIZED = config["ensemble_engine"] == "vectorized"


def one_of(names):
    """A wildcard regex matching exactly `names` (and nothing when there are none)."""
    return "|".join(re.escape(n) for n in names) if names else "(?!)"


wildcard_constraints:
    arch="cnn_shallow|cnn_deep",
    activation="relu|exp",
    trial=r"\d+",
    member=r"\d+",
    accession=r"ENC[A-Z]{2}\d{3}[A-Z]{3}",
    method="saliency|integrated_gradients|smoothgrad|expected_gradients",
    model_type="(cnn_shallow|cnn_deep)_(relu|exp)",
    kind="raw|corrected|ensemble_raw|ensemble_corrected",
    assembly=one_of(config["invivo"]["genomes"]),


def all_outputs():
    """The figures and tables of every study the config runs (the target of `rule all`)."""
    return [
        *synthetic_outputs(),
        *invivo_outputs(),
        *consistency_outputs(),
        *angle_training_outputs(),
        *regularization_outputs(),
        *faithfulness_outputs(),
        *diffroar_outputs(),
        *multitask_outputs(),
        *motifs_outputs(),
    ]


def resource(path):
    """A relative path from the working directory if it exists there, else from the workflow (resources/)."""
    if os.path.isabs(path) or os.path.exists(path):
        return path
    return os.path.join(workflow.basedir, path)


def _allowed_url(url):
    """A table check: `url` is https to a host of invivo.allowed_hosts (what the download will demand)."""
    try:
        check_url(url, config["invivo"]["allowed_hosts"])
    except DownloadError as err:
        raise ValueError(str(err)) from None


# Every column of a resource table that names a path, an accession, a URL or a checksum is checked when read.
TABLE_CHECKS = {
    "tf": tables.plain_name,
    "file": tables.plain_name,
    "chip_accession": tables.pattern_check(ACCESSION_RE, "an ENCODE file accession (like ENCFF710VEH)"),
    "dnase_accession": tables.pattern_check(ACCESSION_RE, "an ENCODE file accession (like ENCFF235KUD)"),
    "jaspar_id": tables.pattern_check(re.compile(r"^MA\d{4}\.\d+$"), "a JASPAR matrix ID (like MA0139.2)"),
    "md5": tables.pattern_check(MD5_RE, "an md5 checksum (32 lowercase hex digits)"),
    "url": _allowed_url,
}


@functools.cache
def read_table(path, columns):
    """Rows of a TSV resource keyed by its first column, read once per run, the `columns` (a tuple) checked:
    an error names the file, line and column of a bad cell before any job runs."""
    return tables.read_table(resource(path), columns, {c: TABLE_CHECKS[c] for c in columns if c in TABLE_CHECKS})


# Synthetic study (its names and rules: rules/synthetic.smk)


def synthetic_outputs():
    """The figures and tables of the synthetic study, if the config runs it."""
    if "synthetic" not in STUDIES:
        return []
    per_method = expand(
        [
            f"{SYNTHETIC_DIR}/figures/fig2_{{method}}.pdf",
            f"{SYNTHETIC_DIR}/figures/fig2_{{method}}.png",
            f"{SYNTHETIC_DIR}/tables/interpretability_{{method}}.tsv",
            f"{SYNTHETIC_DIR}/figures/fig3cd_{{method}}.png",
            f"{SYNTHETIC_DIR}/figures/fig4a_{{method}}.png",
            f"{SYNTHETIC_DIR}/figures/fig10_{{method}}.png",
            f"{SYNTHETIC_DIR}/figures/model_selection_{{method}}.png",
            f"{SYNTHETIC_DIR}/tables/model_selection_summary_{{method}}.tsv",
        ],
        method=SYNTHETIC_METHODS,
    )
    n_logos = min(config["angles"]["logo_trials"] or config["models"]["trials"], config["models"]["trials"])
    logos = expand(
        f"{SYNTHETIC_DIR}/figures/logos/{{model_type}}_{{trial}}.{{method}}.png",
        model_type=SYNTHETIC_MODEL_TYPES,
        trial=range(n_logos),
        method=LOGO_METHODS,
    )
    return [*per_method, *logos, f"{SYNTHETIC_DIR}/tables/angle_summary.tsv"]


def trial_files(pattern):
    """`pattern` (with a {trial} field) for every trial of the run; other fields stay wildcards."""
    return expand(pattern, trial=range(config["models"]["trials"]), allow_missing=True)


def job_trials(pattern):
    """`pattern` (fields arch, activation, trial, ...) for the trials one job handles."""
    return expand(pattern, trial=JOB_TRIALS, allow_missing=True)


def trial_ids(wildcards):
    """The trials the job of `wildcards` handles (its own, or all of its model type)."""
    return list(JOB_TRIALS) if VECTORIZED else [int(wildcards.trial)]


def synthetic_type_models(wildcards):
    """Every trial's model file of the model type of `wildcards` (a part of its attribution job needs them all)."""
    return trial_files(f"{SYNTHETIC_DIR}/models/{wildcards.arch}_{wildcards.activation}_{{trial}}.pt")


def synthetic_parts(wildcards):
    """Parts the attribution job of `wildcards` (model type and method) is split into (resources.smk)."""
    return attribution_parts(config["evaluation"]["n_positive"], len(trial_ids(wildcards)), wildcards.method)


def synthetic_part_files(wildcards):
    """The part files synthetic_evaluate merges for `wildcards`; none when it attributes in one job."""
    parts = synthetic_parts(wildcards)
    if parts == 1:
        return []
    pattern = f"{SYNTHETIC_DIR}/attribution_parts/{wildcards.arch}_{wildcards.activation}.{wildcards.method}"
    return [f"{pattern}.{part}-of-{parts}.h5" for part in range(parts)]


def published_file(arch, activation, trial):
    """A published model's weight file: in models.published_dir when there, else its download path."""
    name = f"{arch}_{'exponential' if activation == 'exp' else activation}_{trial}.h5"
    local = os.path.join(config["models"]["published_dir"], name)
    return local if os.path.isfile(local) else f"{DOWNLOAD_DIR}/published_models/{name}"


def published_inputs(wildcards):
    """The published weight files of the trials the job of `wildcards` imports."""
    return [published_file(wildcards.arch, wildcards.activation, t) for t in trial_ids(wildcards)]


def published_source(name):
    """The url and md5 of a published weight file, from models.published_sources."""
    table = config["models"]["published_sources"]
    sources = read_table(table, ("file", "url", "md5"))
    if name not in sources:
        raise ValueError(f"{resource(table)}: no row for {name}")
    return sources[name]


# In vivo study (its names and rules: rules/invivo.smk)


def invivo_outputs():
    """The figures and tables of the in vivo study, if the config runs it."""
    if not INVIVO_TFS:
        return []
    per_type = expand(
        [
            f"{INVIVO_DIR}/figures/fig3e_{{model_type}}.png",
            f"{INVIVO_DIR}/figures/fig4b_{{model_type}}.png",
            f"{INVIVO_DIR}/figures/model_selection_{{model_type}}.png",
        ],
        model_type=INVIVO_MODEL_TYPES,
    )
    logos = expand(
        f"{INVIVO_DIR}/figures/logos/{{tf}}.{{model_type}}.png", tf=INVIVO_TFS, model_type=INVIVO_MODEL_TYPES
    )
    return [*per_type, *logos, f"{INVIVO_DIR}/tables/classification.tsv"]


def invivo_sources():
    """TF -> "processed" (an HDF5 in the published layout) or the ENCODE table row of its accessions."""
    table = read_table(INVIVO_CONFIG["table"], ("tf", "chip_accession", "dnase_accession")) if INVIVO_TFS else {}
    sources = {}
    for tf in INVIVO_TFS:
        if tf in INVIVO_CONFIG["processed"]:
            sources[tf] = "processed"
        elif tf in table:
            sources[tf] = table[tf]
        else:
            raise ValueError(f"config invivo.tfs: {tf} is neither in invivo.processed nor in {INVIVO_CONFIG['table']}")
    return sources


def processed_input(wildcards):
    """The configured processed file when present, else its download from `processed_sources`."""
    path = INVIVO_CONFIG["processed"][wildcards.tf]
    if os.path.isfile(path):
        return path
    if wildcards.tf not in read_table(INVIVO_CONFIG["processed_sources"], ("tf", "url", "md5")):
        raise ValueError(
            f"config invivo.processed.{wildcards.tf}: {path} not found, and {wildcards.tf} has no "
            f"download in {INVIVO_CONFIG['processed_sources']}"
        )
    return f"{DOWNLOAD_DIR}/processed/{wildcards.tf}.h5"


def processed_source(tf):
    """The url and md5 of a TF's processed file, from invivo.processed_sources."""
    return read_table(INVIVO_CONFIG["processed_sources"], ("tf", "url", "md5"))[tf]


def genome_source(assembly):
    """The url and md5 (None: the host's md5sum.txt says) of an assembly's genome, from invivo.genomes."""
    entry = INVIVO_CONFIG["genomes"][assembly]
    return {"url": entry, "md5": None} if isinstance(entry, str) else {"url": entry["url"], "md5": entry["md5"]}


def check_encode_urls():
    """invivo.encode_url and the invivo.genomes URLs lead to allowed hosts (checked before any job, naming the key)."""
    urls = {"encode_url": INVIVO_CONFIG["encode_url"]}
    urls.update({f"genomes.{assembly}": genome_source(assembly)["url"] for assembly in INVIVO_CONFIG["genomes"]})
    for key, url in urls.items():
        try:
            _allowed_url(url)
        except ValueError as err:
            raise ValueError(f"config invivo.{key}: {err}") from None


def encode_assembly(tf, chip_meta, dnase_meta):
    """The assembly of a TF's two ENCODE files (refusing to pair different ones), if the config has its genome."""
    assembly = paired_assembly(tf, chip_meta, dnase_meta)
    if assembly not in INVIVO_CONFIG["genomes"]:
        raise ValueError(f"{tf}: its files are on {assembly}, but config invivo.genomes has no URL for it")
    return assembly


def chipseq_inputs(wildcards):
    """Peaks, metadata and the genome of the peaks' assembly (read from the downloaded metadata)."""
    row = INVIVO_SOURCES[wildcards.tf]
    chip, dnase = row["chip_accession"], row["dnase_accession"]
    chip_meta = checkpoints.download_encode_metadata.get(accession=chip).output[0]
    dnase_meta = checkpoints.download_encode_metadata.get(accession=dnase).output[0]
    assembly = encode_assembly(wildcards.tf, chip_meta, dnase_meta)
    return {
        "chip": f"{DOWNLOAD_DIR}/encode/{chip}.bed.gz",
        "dnase": f"{DOWNLOAD_DIR}/encode/{dnase}.bed.gz",
        "chip_meta": chip_meta,
        "dnase_meta": dnase_meta,
        "genome": f"{DOWNLOAD_DIR}/genomes/{assembly}.fa",
        "fai": f"{DOWNLOAD_DIR}/genomes/{assembly}.fa.fai",
    }


def member_files(pattern, wildcards):
    """`pattern` (fields tf, model_type, member) for every member of one TF's ensemble of one model type."""
    return expand(
        pattern, tf=wildcards.tf, model_type=f"{wildcards.arch}_{wildcards.activation}", member=INVIVO_MEMBERS
    )


def job_members(pattern):
    """`pattern` (fields tf, arch, activation, member) for the ensemble members one job handles."""
    return expand(pattern, member=JOB_MEMBERS, allow_missing=True)


def member_ids(wildcards):
    """The ensemble members the job of `wildcards` handles."""
    return list(JOB_MEMBERS) if VECTORIZED else [int(wildcards.member)]


# Consistency study (its names and rules: rules/consistency.smk)


def consistency_grid():
    """Name -> settings of each combination of the grid, less those matching an entry of `exclude`."""
    settings = CONSISTENCY_CONFIG
    grid = {}
    for reg, bn, act, drop in itertools.product(
        settings["regularizers"], settings["batchnorm"], settings["activations"], settings["dropout"]
    ):
        combo = {"regularizer": reg, "batchnorm": bn, "activation": act, "dropout": drop}
        if not any(all(combo[k] == v for k, v in excluded.items()) for excluded in settings["exclude"]):
            grid[f"{reg}_{'bn' if bn else 'nobn'}_{act}_d{drop:g}"] = combo
    return grid


def consistency_outputs():
    """Table 1, the correlations and the figures of the consistency study, if the config runs it."""
    if not CONSISTENCY_GRID:
        return []
    tables = expand(
        [f"{CONSISTENCY_DIR}/tables/table1_{{method}}.tsv", f"{CONSISTENCY_DIR}/tables/correlations_{{method}}.tsv"],
        method=CONSISTENCY_METHODS,
    )
    return [*tables, *[str(f) for f in consistency_figure_outputs().values()]]


def consistency_figure_outputs():
    """Figs. 2 a-f, 2g, 4, 6 (and 5 when there is more than one method): PNG (in the report), PDF and TSV."""
    outputs = {}
    figures = ["fig2", "fig2g", "fig4", "fig5", "fig6"]
    for fig in figures if len(CONSISTENCY_METHODS) > 1 else [f for f in figures if f != "fig5"]:
        outputs[fig] = report(
            f"{CONSISTENCY_DIR}/figures/{fig}.png",
            caption=f"../report/consistency_{fig}.rst",
            category="Consistency",
            subcategory="Figures",
        )
        outputs[f"{fig}_pdf"] = f"{CONSISTENCY_DIR}/figures/{fig}.pdf"
        outputs[f"{fig}_tsv"] = f"{CONSISTENCY_DIR}/tables/{fig}.tsv"
    return outputs


def combo_trials(pattern):
    """`pattern` (fields combo, trial, ...) for all trials of a combination."""
    return expand(pattern, trial=range(CONSISTENCY_CONFIG["trials"]), allow_missing=True)


def combo_job_trials(pattern):
    """`pattern` for the trials one attribution job handles (all of a combination, or one)."""
    return combo_trials(pattern) if VECTORIZED else [pattern]


def combo_trial_ids(wildcards):
    """The trials the consistency job of `wildcards` handles."""
    return [int(wildcards.trial)] if "trial" in wildcards.keys() else list(range(CONSISTENCY_CONFIG["trials"]))


def combo_settings(wildcards):
    """The settings (regularizer, batchnorm, activation, dropout) of the combination of `wildcards`."""
    return CONSISTENCY_GRID[wildcards.combo]


# Angle-training study (its names and rules: rules/angle_training.smk)


def angle_training_arms():
    """Variant (<arch>_<activation>_<arm>) -> its arch, activation, arm and family: "sigma", "lambda" or
    "reference" (he_normal and the first-layer arms); each family has its own number of trials."""
    settings = ANGLE_CONFIG
    arms = {"he_normal": "reference", **{arm: "reference" for arm in settings["first_layer"]}}
    arms.update({f"sigma{s:g}": "sigma" for s in settings["sigmas"]})
    arms.update({f"lambda{v:g}": "lambda" for v in settings["lambdas"]})
    return {
        f"{arch}_{act}_{arm}": {"arch": arch, "activation": act, "arm": arm, "family": family}
        for arch, act in itertools.product(settings["architectures"], settings["activations"])
        for arm, family in arms.items()
    }


def family_trials(family):
    """The trials of each variant of a family."""
    key = {"sigma": "sigma_trials", "lambda": "lambda_trials", "reference": "trials"}[family]
    return range(ANGLE_CONFIG[key])


def angle_training_outputs():
    """The study's tables and figures, if the config runs it."""
    if "angle_training" not in STUDIES:
        return []
    return [*ANGLE_TABLES.values(), *[str(f) for f in angle_training_figure_outputs().values()]]


def angle_training_table_outputs():
    """The study's tables; the two sweeps and the comparison in the report."""
    outputs = dict(ANGLE_TABLES)
    for name in ("init_sweep", "angle_penalty", "comparison"):
        outputs[name] = report(
            ANGLE_TABLES[name],
            caption=f"../report/angle_training_table_{name}.rst",
            category="Angle training",
            subcategory="Tables",
        )
    return outputs


def angle_training_figure_outputs():
    """The initialisation sweep (Fig. 4c / 14), the angle penalty (Fig. 4d / 15) and the comparison: PNG (in
    the report) and PDF."""
    outputs = {}
    for fig in ("init", "penalty", "comparison"):
        outputs[fig] = report(
            f"{ANGLE_DIR}/figures/{fig}.png",
            caption=f"../report/angle_training_{fig}.rst",
            category="Angle training",
            subcategory="Figures",
        )
        outputs[f"{fig}_pdf"] = f"{ANGLE_DIR}/figures/{fig}.pdf"
    return outputs


def variant_trials(family, pattern):
    """`pattern` (fields variant, trial, ...) for all trials of a variant of `family`."""
    return expand(pattern, trial=family_trials(family), allow_missing=True)


def variant_trial_ids(wildcards):
    """The trials the angle-training job of `wildcards` handles (one, or all of its variant)."""
    if "trial" in wildcards.keys():
        return [int(wildcards.trial)]
    return list(family_trials(ANGLE_ARMS[wildcards.variant]["family"]))


def variant_settings(wildcards):
    """arch, activation and arm of the variant of `wildcards`."""
    return {k: v for k, v in ANGLE_ARMS[wildcards.variant].items() if k != "family"}


# Regularization study (its names and rules: rules/regularization.smk)


def regularization_outputs():
    """The study's tables and figures, if the config runs it."""
    if "regularization" not in STUDIES:
        return []
    return [*REGULARIZATION_TABLES.values(), *[str(f) for f in regularization_figure_outputs().values()]]


def regularization_table_outputs():
    """The study's tables; Tables 1 and 2, the grid and the early-stopping rules in the report."""
    outputs = dict(REGULARIZATION_TABLES)
    for name in ("table1", "table2", "grid", "stopping"):
        outputs[name] = report(
            REGULARIZATION_TABLES[name],
            caption=f"../report/regularization_{name}.rst",
            category="Regularization",
            subcategory="Tables",
        )
    return outputs


def regularization_figure_outputs():
    """Fig. 1 a-d and the tracking figure: PNG (in the report), PDF and TSV of the numbers drawn."""
    outputs = {}
    for fig in ("fig1", "tracking"):
        outputs[fig] = report(
            f"{REGULARIZATION_DIR}/figures/{fig}.png",
            caption=f"../report/regularization_{fig}.rst",
            category="Regularization",
            subcategory="Figures",
        )
        outputs[f"{fig}_pdf"] = f"{REGULARIZATION_DIR}/figures/{fig}.pdf"
        outputs[f"{fig}_tsv"] = f"{REGULARIZATION_DIR}/figures/{fig}.tsv"
    return outputs


def regularization_trials(pattern):
    """`pattern` (fields combination, trial, ...) for all trials of a combination."""
    return expand(pattern, trial=range(REGULARIZATION_CONFIG["trials"]), allow_missing=True)


def regularization_settings(wildcards):
    """The settings of the combination of `wildcards`."""
    return REGULARIZATION_COMBINATIONS[wildcards.combination]


# Faithfulness study (its names and rules: rules/faithfulness.smk)


def faithfulness_outputs():
    """The study's tables and figures, if the config runs it."""
    if "faithfulness" not in STUDIES:
        return []
    return [*FAITHFULNESS_TABLES.values(), *[str(f) for f in faithfulness_figure_outputs().values()]]


def faithfulness_table_outputs():
    """The study's tables; Table 1, the verification counts, the DNA part and the effect of correction in the report."""
    outputs = dict(FAITHFULNESS_TABLES)
    for name in ("table1", "verification", "dna", "correction"):
        outputs[name] = report(
            FAITHFULNESS_TABLES[name],
            caption=f"../report/faithfulness_{name}.rst",
            category="Faithfulness",
            subcategory="Tables",
        )
    return outputs


def faithfulness_figure_outputs():
    """Table 1 and the DNA part as bars: PNG (in the report), PDF and TSV of the numbers drawn."""
    outputs = {}
    for fig in ("table1", "dna"):
        outputs[fig] = report(
            f"{FAITHFULNESS_DIR}/figures/{fig}.png",
            caption=f"../report/faithfulness_fig_{fig}.rst",
            category="Faithfulness",
            subcategory="Figures",
        )
        outputs[f"{fig}_pdf"] = f"{FAITHFULNESS_DIR}/figures/{fig}.pdf"
        outputs[f"{fig}_tsv"] = f"{FAITHFULNESS_DIR}/figures/{fig}.tsv"
    return outputs


def faithfulness_trials(pattern):
    """`pattern` (fields task, net, setting, trial) for all trials of a task, architecture and setting."""
    return expand(pattern, trial=range(FAITHFULNESS_CONFIG["trials"]), allow_missing=True)


# The DiffROAR study (its names and rules: rules/diffroar.smk)


def diffroar_outputs():
    """The study's tables and figures, if the config runs it."""
    if "diffroar" not in STUDIES:
        return []
    return [*DIFFROAR_TABLES.values(), *[str(f) for f in diffroar_figure_outputs().values()]]


def diffroar_table_outputs():
    """The study's tables; DiffROAR, the effect of correction, the scored models and the leakage in the report."""
    outputs = dict(DIFFROAR_TABLES)
    for name in ("diffroar", "correction", "models", "leakage"):
        outputs[name] = report(
            DIFFROAR_TABLES[name],
            caption=f"../report/diffroar_{name}.rst",
            category="DiffROAR",
            subcategory="Tables",
        )
    return outputs


def diffroar_figure_outputs():
    """DiffROAR curves per fill and the leakage bars: PNG (in the report), PDF and TSV of the numbers drawn."""
    outputs = {}
    for fig in [*DIFFROAR["fills"], "leakage"]:
        caption = "leakage" if fig == "leakage" else "curves"
        outputs[fig] = report(
            f"{DIFFROAR_DIR}/figures/{fig}.png",
            caption=f"../report/diffroar_fig_{caption}.rst",
            category="DiffROAR",
            subcategory="Figures",
        )
        outputs[f"{fig}_pdf"] = f"{DIFFROAR_DIR}/figures/{fig}.pdf"
        outputs[f"{fig}_tsv"] = f"{DIFFROAR_DIR}/figures/{fig}.tsv"
    return outputs


def diffroar_trials(pattern, trials):
    """`pattern` (fields model_type, regime, trial, ...) for trials 0..trials-1."""
    return expand(pattern, trial=range(trials), allow_missing=True)


def diffroar_units():
    """The scored models: model type / regime_trial."""
    return expand(
        DIFFROAR_UNIT, model_type=DIFFROAR["model_types"], regime=DIFFROAR["regimes"], trial=range(DIFFROAR["trials"])
    )


def diffroar_model(wildcards):
    """The model scored: the synthetic study's (standard), or the study's own robust one."""
    if wildcards.regime == "standard":
        return f"{SYNTHETIC_DIR}/models/{wildcards.model_type}_{wildcards.trial}.pt"
    return f"{DIFFROAR_DIR}/models/{wildcards.model_type}/{wildcards.regime}_{wildcards.trial}.pt"


def diffroar_ranking_scores(wildcards):
    """A ranking's position scores: its method's, or for the input-agnostic baseline the saliency maps'."""
    method = "saliency" if wildcards.rmethod == "input_agnostic" else wildcards.rmethod
    return f"{DIFFROAR_DIR}/scores/{wildcards.model_type}/{wildcards.regime}_{wildcards.trial}/{method}.h5"


def diffroar_rankings():
    """Each ranking's file stem: every method raw and corrected, and the input-agnostic baseline if asked."""
    stems = expand("{method}.{kind}", method=DIFFROAR["methods"], kind=["raw", "corrected"])
    return stems + (["input_agnostic.baseline"] if "input_agnostic" in DIFFROAR["baselines"] else [])


def diffroar_power_files():
    """Every ranking's predictive power per scored model and fill, and the random baseline per model type."""
    files = expand(
        f"{DIFFROAR_DIR}/power/{{unit}}/{{ranking}}.{{fill}}.tsv",
        unit=diffroar_units(),
        ranking=diffroar_rankings(),
        fill=DIFFROAR["fills"],
    )
    if "random" in DIFFROAR["baselines"]:
        files += expand(
            f"{DIFFROAR_DIR}/power/{{model_type}}/any_0/random.baseline.{{fill}}.tsv",
            model_type=DIFFROAR["model_types"],
            fill=DIFFROAR["fills"],
        )
    return files


def diffroar_score_files():
    """One scores file per scored model (its test AUROC and accuracy go to the models table)."""
    method = "saliency" if "input_agnostic" in DIFFROAR["baselines"] else DIFFROAR["methods"][0]
    return expand(f"{DIFFROAR_DIR}/scores/{{unit}}/{method}.h5", unit=diffroar_units())


def diffroar_leakage_files():
    """The null-block shares per placement, model type and regime."""
    return expand(
        f"{DIFFROAR_DIR}/leakage/shares/{{placement}}/{{model_type}}/{{regime}}.tsv",
        placement=DIFFROAR_LEAKAGE["placements"],
        model_type=DIFFROAR_LEAKAGE["model_types"],
        regime=DIFFROAR["regimes"],
    )


# The multi-task study (its names and rules: rules/multitask.smk)


def multitask_outputs():
    """The study's tables and figures, if the config runs it."""
    if "multitask" not in STUDIES:
        return []
    return [*MULTITASK_TABLES.values(), *[str(f) for f in multitask_figure_outputs().values()]]


def multitask_table_outputs():
    """The study's tables, each in the report."""
    return {
        name: report(path, caption=f"../report/multitask_{name}.rst", category="Multi-task", subcategory="Tables")
        for name, path in MULTITASK_TABLES.items()
    }


def multitask_figure_outputs():
    """Fig. 11 per method (angles of the top class and of the shown tasks), the angles per task and the
    interpretability per task: PNG (in the report), PDF and TSV of the numbers drawn."""
    figures = [f"fig11_{method}" for method in MULTITASK["methods"]] + ["task_angles", "interpretability"]
    outputs = {}
    for fig in figures:
        caption = "fig11" if fig.startswith("fig11") else fig
        outputs[fig] = report(
            f"{MULTITASK_DIR}/figures/{fig}.png",
            caption=f"../report/multitask_fig_{caption}.rst",
            category="Multi-task",
            subcategory="Figures",
        )
        outputs[f"{fig}_pdf"] = f"{MULTITASK_DIR}/figures/{fig}.pdf"
        outputs[f"{fig}_tsv"] = f"{MULTITASK_DIR}/figures/{fig}.tsv"
    return outputs


def multitask_files(pattern):
    """`pattern` (fields activation, trial) for every model of the study."""
    return expand(pattern, activation=MULTITASK["activations"], trial=range(MULTITASK["trials"]))


def multitask_angle_files(ext):
    """Every model's angle files (histograms "h5", rows "tsv") for every method."""
    pattern = f"{MULTITASK_DIR}/angles/{{activation}}_{{trial}}.{{method}}.{ext}"
    return expand(
        pattern, activation=MULTITASK["activations"], trial=range(MULTITASK["trials"]), method=MULTITASK["methods"]
    )


def multitask_sources():
    """Cell type -> its row (accession, ...) of the ENCODE table, in the table's order (task order); {} unless
    the study runs on ENCODE peaks."""
    if "multitask" not in STUDIES or MULTITASK["dataset"] != "encode":
        return {}
    accession = tables.pattern_check(ACCESSION_RE, "an ENCODE file accession like ENCFF235KUD")
    path = resource(MULTITASK["encode"]["table"])
    rows = tables.read_table(path, ("cell_type", "accession"), {"accession": accession})
    seen = {}
    for cell_type, row in rows.items():
        if row["accession"] in seen:
            raise ValueError(f"{path}: {row['accession']} is the file of both {seen[row['accession']]} and {cell_type}")
        seen[row["accession"]] = cell_type
    check_encode_urls()
    return rows


def multitask_encode_inputs(wildcards):
    """Every cell type's peaks and metadata, and the genome of their one assembly (read from the metadata)."""
    accessions = [row["accession"] for row in MULTITASK_SOURCES.values()]
    metas = [checkpoints.download_encode_metadata.get(accession=a).output[0] for a in accessions]
    assembly = common_assembly(metas)
    if assembly not in INVIVO_CONFIG["genomes"]:
        raise ValueError(
            f"the multi-task study's peak files are on {assembly}, but config invivo.genomes has no URL for it"
        )
    return {
        "peaks": [f"{DOWNLOAD_DIR}/encode/{a}.bed.gz" for a in accessions],
        "metadata": metas,
        "genome": f"{DOWNLOAD_DIR}/genomes/{assembly}.fa",
        "fai": f"{DOWNLOAD_DIR}/genomes/{assembly}.fa.fai",
    }


# Motif discovery (its names and rules: rules/motifs.smk)


def motif_units():
    """Study folder -> the attribution files that go to motif discovery, by unit name (the synthetic study's
    <model>.<method>, the in vivo study's <tf>.<model type>) -> their map kinds."""
    if not MOTIFS["enabled"]:
        return {}
    units = {}
    if "synthetic" in STUDIES:
        trials = range(min(MOTIFS["trials"], config["models"]["trials"]))
        methods = [m for m in MOTIFS["methods"] if m in SYNTHETIC_METHODS]
        names = expand("{model_type}_{trial}.{method}", model_type=SYNTHETIC_MODEL_TYPES, trial=trials, method=methods)
        units[SYNTHETIC_DIR] = {name: SINGLE_KINDS for name in names}
    if INVIVO_TFS:
        names = expand("{tf}.{model_type}", tf=INVIVO_TFS, model_type=INVIVO_MODEL_TYPES)
        units[INVIVO_DIR] = {name: SINGLE_KINDS + ENSEMBLE_KINDS for name in names}
    return units


def motifs_outputs():
    """Each motif study's summary table, the pattern logos of every unit and map kind, and the bigWig tracks of
    the in vivo TFs whose windows have genome coordinates (datasets built from ENCODE peaks)."""
    outputs = []
    for base, units in MOTIF_UNITS.items():
        outputs += [f"{base}/tables/motifs_summary.tsv", f"{base}/tables/motif_patterns.tsv"]
        outputs += [f"{base}/motifs/logos/{unit}.{kind}.png" for unit, kinds in units.items() for kind in kinds]
    if INVIVO_DIR in MOTIF_UNITS:
        outputs += expand(
            f"{INVIVO_DIR}/tracks/{{tf}}.{{model_type}}.{{kind}}.bw",
            tf=ENCODE_TFS,
            model_type=INVIVO_MODEL_TYPES,
            kind=SINGLE_KINDS + ENSEMBLE_KINDS,
        )
    return outputs


def motif_pattern_tables(wildcards):
    """The pattern tables of every unit and map kind of one study folder (of those the config runs motifs for)."""
    if wildcards.base not in MOTIF_UNITS:
        raise ValueError(
            f"{wildcards.base}/tables/motifs_summary.tsv: the config runs no motif stage there "
            "(motifs.enabled, with the synthetic or invivo study); ask for one map's outputs by name instead"
        )
    units = MOTIF_UNITS[wildcards.base]
    return [f"{wildcards.base}/motifs/patterns/{unit}.{kind}.tsv" for unit, kinds in units.items() for kind in kinds]


def invivo_track_inputs(wildcards):
    """An ENCODE-built TF's ensemble file, its dataset (the windows' coordinates) and its genome's index."""
    return {
        "ensemble": f"{INVIVO_DIR}/ensembles/{wildcards.tf}/{wildcards.arch}_{wildcards.activation}.h5",
        "data": f"{INVIVO_DIR}/data/{wildcards.tf}.h5",
        "fai": chipseq_inputs(wildcards)["fai"],
    }
