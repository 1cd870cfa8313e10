"""Checks of a workflow config that its JSON schema cannot express; each error names the key.

The workflow calls `check_config` once the schema has filled in the defaults, and `download_folder`
(rules/common.smk), so a config that cannot run stops before any job; this module imports nothing beyond
the standard library, so the DAG process stays without torch.
"""

from __future__ import annotations

import itertools
import math
import os
from pathlib import Path
from typing import Any

PUBLISHED_TRIALS = 50  # trials per model type in the authors' published synthetic models
PUBLISHED_LENGTH = 200  # their input length
# The shortest input each architecture takes: the product of its pooling sizes (gradcorr.models.architectures;
# tests/workflow/test_config_checks.py builds each at this length and one less). Shorter inputs leave nothing
# for the dense layer.
MIN_INPUT_LENGTH = {"cnn_shallow": 50 * 2, "cnn_deep": 4 * 4 * 3, "cnn_consistency": 4 * 4 * 4}


def check_config(cfg: dict[str, Any], schema: dict[str, Any]) -> None:
    """Raise ValueError, naming the key, where `cfg` (validated against `schema`, defaults filled in)
    breaks a constraint the schema cannot express."""
    syn = cfg["synthetic"]
    if len(syn["motif_counts"]) != len(syn["motif_count_probs"]):
        raise ValueError("config synthetic.motif_count_probs: needs one probability per entry of "
                         "synthetic.motif_counts")
    if not math.isclose(sum(syn["motif_count_probs"]), 1.0, abs_tol=1e-6):
        raise ValueError(f"config synthetic.motif_count_probs: must sum to 1, not {sum(syn['motif_count_probs'])}")
    if not math.isclose(sum(syn["split"]), 1.0, abs_tol=1e-6):
        raise ValueError(f"config synthetic.split: fractions must sum to 1, not {sum(syn['split'])}")
    iv = cfg["invivo"]
    if not math.isclose(sum(iv["split"]), 1.0, abs_tol=1e-6):
        raise ValueError(f"config invivo.split: fractions must sum to 1, not {sum(iv['split'])}")
    if "invivo" in cfg["studies"] and not iv["tfs"]:
        raise ValueError("config invivo.tfs: the invivo study needs at least one TF")
    mod = cfg["models"]
    if mod["source"] == "published" and "synthetic" in cfg["studies"]:
        if mod["trials"] > PUBLISHED_TRIALS:
            raise ValueError(f"config models.trials: {mod['trials']}, but the authors published {PUBLISHED_TRIALS} "
                             "trials per model type (models.source: published)")
        if syn["length"] != PUBLISHED_LENGTH:
            raise ValueError(f"config synthetic.length: {syn['length']}, but the published models take sequences "
                             f"of {PUBLISHED_LENGTH} (models.source: published)")
    _check_input_lengths(cfg)
    training = schema["properties"]["training"]["properties"]
    for section, key, allowed in (("consistency", "training", set(training) - {"regularizer"}),
                                  ("consistency", "regularizer", set(training["regularizer"]["properties"]) - {"name"}),
                                  ("angle_training", "training", set(training) - {"regularizer"}),
                                  ("regularization", "training", set(training) - {"regularizer", "phases",
                                                                                    "max_epochs", "batch_size",
                                                                                    "learning_rate"})):
        unknown = sorted(set(cfg[section][key]) - allowed)
        if unknown:
            raise ValueError(f"config {section}.{key}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    _check_phases("training", cfg["training"])
    for section in ("consistency", "angle_training"):
        _check_phases(f"{section}.training", {**cfg["training"], **cfg[section]["training"]})
    if "regularization" in cfg["studies"]:
        regularization_grid(cfg["regularization"])
    if "faithfulness" in cfg["studies"]:
        _check_faithfulness(cfg["faithfulness"], set(training) - {"regularizer", "phases"})
    if "diffroar" in cfg["studies"]:
        _check_diffroar(cfg, set(training) - {"regularizer"}, set(training["regularizer"]["properties"]) - {"name"})
    if "multitask" in cfg["studies"]:
        _check_multitask(cfg["multitask"], set(training) - {"regularizer"})


# Restated for the DAG process (tests/workflow/test_config_checks.py checks them against the package):
# gradcorr.attribution.METHODS and gradcorr.data.protein's alphabet and task residues
ATTRIBUTION_METHODS = ("saliency", "integrated_gradients", "smoothgrad", "expected_gradients", "gradient_shap")
PROTEIN_LETTERS = "ACDEFGHIKLMNPQRSTVWY"


def _check_faithfulness(section: dict[str, Any], training_keys: set[str]) -> None:
    """The faithfulness study's protein tasks must be drawable, its methods known, its background a residue."""
    data = section["data"]
    if data["min_run"] < 2 or data["min_run"] > data["max_run"]:
        raise ValueError(f"config faithfulness.data: need 2 <= min_run <= max_run; got min_run {data['min_run']}, "
                         f"max_run {data['max_run']}")
    if data["max_run"] + data["distractor_length"] + 2 > data["length"]:
        raise ValueError(f"config faithfulness.data.length: {data['length']} residues cannot hold a signal of "
                         f"max_run {data['max_run']} and a distractor of {data['distractor_length']} apart "
                         f"(needs max_run + distractor_length + 2)")
    if not math.isclose(sum(data["split"]), 1.0, abs_tol=1e-6):
        raise ValueError(f"config faithfulness.data.split: fractions must sum to 1, not {sum(data['split'])}")
    unknown = sorted(set(section["evaluation"]["methods"]) - set(ATTRIBUTION_METHODS))
    if unknown:
        raise ValueError(f"config faithfulness.evaluation.methods: unknown method(s) {unknown}; choose from "
                         f"{list(ATTRIBUTION_METHODS)}")
    letter = section["evaluation"]["background"]["protein"]
    if letter not in PROTEIN_LETTERS:
        raise ValueError(f"config faithfulness.evaluation.background.protein: {letter!r} is not one of the 20 "
                         f"amino acids {PROTEIN_LETTERS}")
    unknown = sorted(set(section["training"]) - training_keys)
    if unknown:
        raise ValueError(f"config faithfulness.training: unknown key(s) {unknown}; allowed: {sorted(training_keys)}")


def _check_diffroar(cfg: dict[str, Any], training_keys: set[str], regularizer_keys: set[str]) -> None:
    """The DiffROAR study's model types must be the synthetic study's, its standard trials trained there, its
    overrides known keys and its leakage sequences long enough for the architectures."""
    section, models = cfg["diffroar"], cfg["models"]
    trained = {f"{a}_{b}" for a, b in itertools.product(models["architectures"], models["activations"])}
    missing = sorted(set(section["model_types"]) - trained)
    if missing:
        raise ValueError(f"config diffroar.model_types: {missing} not among the synthetic study's model types "
                         f"(models.architectures x models.activations: {sorted(trained)})")
    if "standard" in section["regimes"] and section["trials"] > models["trials"]:
        raise ValueError(f"config diffroar.trials: {section['trials']}, but the standard regime scores the synthetic "
                         f"study's models, of which models.trials is {models['trials']}")
    overrides = {"training": (section["training"], training_keys)}
    overrides.update({f"regularizers.{name}": (value, regularizer_keys)
                      for name, value in section["regularizers"].items()})
    for key, (value, allowed) in overrides.items():
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise ValueError(f"config diffroar.{key}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    leakage = section["leakage"]
    if not math.isclose(sum(leakage["data"]["split"]), 1.0, abs_tol=1e-6):
        raise ValueError(f"config diffroar.leakage.data.split: fractions must sum to 1, not "
                         f"{sum(leakage['data']['split'])}")
    length = 2 * leakage["data"]["block_length"]
    for model_type in leakage["model_types"] if leakage["placements"] else []:
        arch = model_type.rsplit("_", 1)[0]
        if length < MIN_INPUT_LENGTH[arch]:
            raise ValueError(f"config diffroar.leakage.data.block_length: sequences of 2 x "
                             f"{leakage['data']['block_length']}, but {arch} needs at least {MIN_INPUT_LENGTH[arch]}")


def multitask_input_length(model: dict[str, Any]) -> int:
    """The shortest input the multi-task study's Basset-style model takes: its first convolution pads "same", the
    next two are "valid" (`gradcorr.models.architectures.basset`, restated for the DAG)."""
    (_, w2, w3), (p1, p2, p3) = model["widths"], model["pools"]
    return p1 * ((w2 - 1 + p2 * ((w3 - 1) + p3)))


def _check_multitask(section: dict[str, Any], training_keys: set[str]) -> None:
    """The multi-task study's dataset must fit its model, its overrides be known keys, its split sum to 1."""
    unknown = sorted(set(section["training"]) - training_keys)
    if unknown:
        raise ValueError(f"config multitask.training: unknown key(s) {unknown}; allowed: {sorted(training_keys)}")
    billboard = section["billboard"]
    if not math.isclose(sum(billboard["split"]), 1.0, abs_tol=1e-6):
        raise ValueError(f"config multitask.billboard.split: fractions must sum to 1, not {sum(billboard['split'])}")
    tasks = [tuple(t) for t in billboard.get("tasks", [])]
    if len(set(tasks)) != len(tasks):
        raise ValueError("config multitask.billboard.tasks: two tasks have the same motifs")
    length = billboard["length"] if section["dataset"] == "billboard" else section["encode"]["width"]
    key = "billboard.length" if section["dataset"] == "billboard" else "encode.width"
    needed = multitask_input_length(section["model"])
    if length < needed:
        raise ValueError(f"config multitask.{key}: {length}, but the model (multitask.model's widths and pools) "
                         f"needs inputs of at least {needed}")
    encode = section["encode"]
    both = sorted(set(encode["valid_chroms"]) & set(encode["test_chroms"]))
    if both:
        raise ValueError(f"config multitask.encode: {both} both in valid_chroms and test_chroms")


def _check_phases(key: str, training: dict[str, Any]) -> None:
    """A schedule's phases must fit max_epochs (`gradcorr.models.training.check_phases`, said here for the DAG)."""
    phases = training.get("phases") or []
    if any(p.get("epochs") is None for p in phases[:-1]):
        raise ValueError(f"config {key}.phases: only the last phase may leave its epochs open")
    fixed = sum(p.get("epochs") or 0 for p in phases)
    if fixed > training["max_epochs"] or (phases and phases[-1].get("epochs") is not None
                                          and fixed != training["max_epochs"]):
        raise ValueError(f"config {key}.phases: they last {fixed} epochs but max_epochs is {training['max_epochs']}; "
                         "they must add up to it (or leave the last phase's epochs open)")


REGULARIZATION_SETTINGS = ("regularizer", "width", "batch_size", "dropout", "learning_rate", "batchnorm", "schedule")
REGULARIZATION_CHOICES = {"regularizer": ("none", "manifold_mixup"), "schedule": ("constant", "two_phase")}


def regularization_name(settings: dict[str, Any]) -> str:
    """The file name of a combination of the regularization study, e.g. std_f1_bs128_do0.1_lr0.001_nobn_const."""
    s = settings
    return (f"{'mix' if s['regularizer'] == 'manifold_mixup' else 'std'}_f{s['width']}_bs{s['batch_size']}"
            f"_do{s['dropout']:g}_lr{s['learning_rate']:g}_{'bn' if s['batchnorm'] else 'nobn'}"
            f"_{'2ph' if s['schedule'] == 'two_phase' else 'const'}")


def regularization_grid(section: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """The regularization study's combinations (name -> settings) and each block's names, in order: every product
    of a block over the baseline's settings, less the widths not in `widths`. ValueError names the product of a
    bad setting or value."""
    baseline = section["baseline"]
    combinations: dict[str, dict[str, Any]] = {}
    blocks: dict[str, list[str]] = {}
    for block, products in section["blocks"].items():
        names: list[str] = []
        for i, product in enumerate(products):
            key = f"config regularization.blocks.{block}[{i}]"
            unknown = sorted(set(product) - set(REGULARIZATION_SETTINGS))
            if unknown:
                raise ValueError(f"{key}: unknown setting(s) {unknown}; allowed: {list(REGULARIZATION_SETTINGS)}")
            for name, values in product.items():
                if not isinstance(values, list) or not values:
                    raise ValueError(f"{key}.{name}: must be a non-empty list of values")
                for value in values:
                    _check_regularization_value(f"{key}.{name}", name, value)
            lists = [product.get(name, [baseline[name]]) for name in REGULARIZATION_SETTINGS]
            for values in itertools.product(*lists):
                settings = dict(zip(REGULARIZATION_SETTINGS, values))
                if settings["width"] not in section["widths"]:
                    continue
                name = regularization_name(settings)
                combinations[name] = settings
                if name not in names:
                    names.append(name)
        blocks[block] = names
    return combinations, blocks


def _check_regularization_value(key: str, name: str, value: Any) -> None:
    """A setting's value has its type and a meaningful value."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    integer = isinstance(value, int) and not isinstance(value, bool)
    problem = {"regularizer": value not in REGULARIZATION_CHOICES["regularizer"],
               "schedule": value not in REGULARIZATION_CHOICES["schedule"],
               "batchnorm": not isinstance(value, bool),
               "width": not (integer and value >= 1),
               "batch_size": not (integer and value >= 1),
               "dropout": not (number and 0 <= value < 1),
               "learning_rate": not (number and value > 0)}[name]
    if problem:
        raise ValueError(f"{key}: {value!r} is not a valid {name}")


def _check_input_lengths(cfg: dict[str, Any]) -> None:
    """Every architecture a study trains must take that study's sequence length."""
    studies, syn, iv = cfg["studies"], cfg["synthetic"], cfg["invivo"]
    needs = []  # (length key, its value, architecture, what trains it)
    if "synthetic" in studies and cfg["models"]["source"] == "trained":
        needs += [("synthetic.length", syn["length"], arch, "models.architectures")
                  for arch in cfg["models"]["architectures"]]
    if "consistency" in studies:
        needs.append(("synthetic.length", syn["length"], "cnn_consistency", "the consistency study"))
    if "angle_training" in studies:
        needs += [("synthetic.length", syn["length"], arch, "angle_training.architectures")
                  for arch in cfg["angle_training"]["architectures"]]
    if "regularization" in studies:
        needs.append(("synthetic.length", syn["length"], "cnn_consistency", "the regularization study"))
    if "diffroar" in studies:
        needs += [("synthetic.length", syn["length"], model_type.rsplit("_", 1)[0], "diffroar.model_types")
                  for model_type in cfg["diffroar"]["model_types"]]
    if "invivo" in studies and set(iv["tfs"]) - set(iv["processed"]):  # datasets built from peaks at `width`
        needs += [("invivo.width", iv["width"], arch, "invivo.architectures") for arch in iv["architectures"]]
    for key, length, arch, source in needs:
        if length < MIN_INPUT_LENGTH[arch]:
            raise ValueError(f"config {key}: {length}, but {arch} ({source}) needs sequences of at least "
                             f"{MIN_INPUT_LENGTH[arch]} (the product of its pooling sizes)")


def check_input_length(path: str | Path, length: int, architectures: list[str]) -> None:
    """Raise ValueError naming the dataset `path` if its sequence `length` is too short for an architecture."""
    short = [arch for arch in architectures if length < MIN_INPUT_LENGTH[arch]]
    if short:
        raise ValueError(f"{path}: sequences of length {length}, but {', '.join(short)} need at least "
                         f"{max(MIN_INPUT_LENGTH[a] for a in short)} (the product of the pooling sizes)")


def download_folder(cfg: dict[str, Any], schema: dict[str, Any]) -> Path | None:
    """The checked, absolute `invivo.download_dir` (`check_download_dir`) when a run of `cfg` may download
    anything (in vivo data, the multi-task study's ENCODE peaks, or the published synthetic models); None when it
    downloads nothing."""
    studies = cfg["studies"]
    encode_tasks = "multitask" in studies and cfg["multitask"]["dataset"] == "encode"
    if "invivo" not in studies and not encode_tasks and not (cfg["models"]["source"] == "published"
                                                             and "synthetic" in studies):
        return None
    default = schema["properties"]["invivo"]["properties"]["download_dir"]["default"]
    return check_download_dir(cfg["invivo"]["download_dir"], default)


def check_download_dir(path: str, default: str) -> Path:
    """The download folder `path` made absolute, once checked to be a writable folder.

    The `default` folder (inside the working directory) may be missing: the workflow creates it. Any
    other must exist, so that a mistyped shared folder is refused rather than created.
    """
    folder = Path(path).expanduser().resolve()
    key = "config invivo.download_dir"
    if not folder.exists():
        if path == default:
            return folder
        raise ValueError(f"{key}: {path} ({folder}) does not exist; create it, or remove the key to download "
                         f"into {default}")
    if not folder.is_dir():
        raise ValueError(f"{key}: {path} ({folder}) is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{key}: {path} ({folder}) is not writable")
    return folder
