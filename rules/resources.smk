# Cluster resources of the heavy jobs (training, attribution), scaled with the config: memory with the
# sequences a job holds and the models it runs at once, runtime with its work. The rates are upper
# bounds measured on a 2-core CPU (README, Performance); a GPU needs less time. A retried job asks for
# attempt x the memory. The slurm profile adds the GPU and CPUs; site values (partition, account) are
# the user's. The training and attribution rules name these functions as their resources; they read the
# study's names (defined in its rules file) when Snakemake calls them.

import math

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
    """Model inputs per sequence of an attribution method at the config's settings (the option names of
    gradcorr.attribution.OPTIONS, restated: that module imports torch, which the DAG process does not)."""
    options = config["attribution"].get(method, {})
    return {
        "saliency": 1,
        "integrated_gradients": options.get("steps", 1) + 1,
        "smoothgrad": options.get("n_samples", 1),
        "expected_gradients": options.get("n_references", 1) * (options.get("steps", 1) + 1),
    }[method]


def attribution_runtime(n_sequences, models, method):
    return 10 + math.ceil(attribution_minutes(n_sequences, models, method))


def attribution_minutes(n_sequences, models, method):
    """Minutes of attribution work: sequences x models x model inputs per sequence, at the per-input rate."""
    return n_sequences * models * attribution_inputs(method) * S_PER_MODEL_INPUT / 60


# Sequences per block of a multi-model attribution (gradcorr.studies.model_runs.PROGRESS_BLOCK, restated: that
# module imports torch): a part of a split attribution job is whole blocks.
ATTRIBUTION_BLOCK = 64


def attribution_parts(n_sequences, models, method):
    """Parts a job attributing n_sequences with `models` at once is split into: enough that each holds at most
    attribution_job_minutes of work, at most one per block; one for a single model or the sequential engine
    (one model per job)."""
    if models < 2 or not VECTORIZED:
        return 1
    parts = math.ceil(attribution_minutes(n_sequences, models, method) / config["attribution_job_minutes"])
    return max(1, min(parts, math.ceil(n_sequences / ATTRIBUTION_BLOCK)))


def part_sequences(n_sequences, parts):
    """The most sequences a part holds: the most whole blocks a part gets (model_runs.sequence_part)."""
    blocks = math.ceil(n_sequences / ATTRIBUTION_BLOCK)
    return min(n_sequences, math.ceil(blocks / parts) * ATTRIBUTION_BLOCK)


def models_at_once(n_models):
    """Models a job holds at once: the engine trains in groups of engine_group."""
    return min(n_models, config["engine_group"]) if VECTORIZED else 1


# Scheduling: a run lasts as long as its longest chain of jobs. Training gates every later stage of its model
# type, and a CNN-deep model trains about 3.5 times as long as a CNN-shallow one (README, Default run), so the
# training jobs start before any other job, the longest first: the last training then does not run alone while
# a core waits for it.
LONG_TRAINING = ("cnn_deep",)


def train_priority(arch):
    """Snakemake priority of a training job: above every other job (0), the long architectures' highest."""
    return 2 if arch in LONG_TRAINING else 1


# Synthetic study


def synthetic_train_priority(wildcards):
    return train_priority(wildcards.arch)


def synthetic_train_mem_mb(wildcards, attempt):
    n_models = models_at_once(len(trial_ids(wildcards)))
    return job_mem_mb(SYNTHETIC_SEQUENCES, SYNTHETIC_LENGTH, n_models, attempt)


def synthetic_train_runtime(wildcards):
    return train_runtime(SYNTHETIC_SEQUENCES, len(trial_ids(wildcards)), config["training"]["max_epochs"])


def synthetic_attribution_mem_mb(wildcards, attempt):
    return job_mem_mb(SYNTHETIC_SEQUENCES, SYNTHETIC_LENGTH, len(trial_ids(wildcards)), attempt)


def synthetic_attribution_runtime(wildcards):
    """Attribution and scoring; scoring alone (bounded by a saliency pass) when parts attribute."""
    n_sequences = config["evaluation"]["n_positive"]
    method = wildcards.method if synthetic_parts(wildcards) == 1 else "saliency"
    return attribution_runtime(n_sequences, len(trial_ids(wildcards)), method)


def synthetic_predict_runtime(wildcards):
    """A forward pass of every test sequence (bounded by a saliency pass of all sequences)."""
    return attribution_runtime(SYNTHETIC_SEQUENCES, len(trial_ids(wildcards)), "saliency")


def synthetic_part_runtime(wildcards):
    """One part of a split attribution job (synthetic_attribute)."""
    n_sequences = part_sequences(config["evaluation"]["n_positive"], int(wildcards.parts))
    return attribution_runtime(n_sequences, len(trial_ids(wildcards)), wildcards.method)


# In vivo study


def invivo_sequences(input):
    """A TF dataset's sequences, from its file's size (it is built by the run, so unknown before)."""
    return input.size_mb * 2**20 / (16 * INVIVO_CONFIG["width"])


def invivo_train_mem_mb(wildcards, input, attempt):
    n_models = models_at_once(len(member_ids(wildcards)))
    return job_mem_mb(invivo_sequences(input), INVIVO_CONFIG["width"], n_models, attempt)


def invivo_train_runtime(wildcards, input):
    epochs = config["training"]["max_epochs"]
    return train_runtime(invivo_sequences(input), len(member_ids(wildcards)), epochs)


def invivo_attribution_mem_mb(wildcards, input, attempt):
    n_models = len(member_ids(wildcards))
    return job_mem_mb(invivo_sequences(input), INVIVO_CONFIG["width"], n_models, attempt)


def invivo_attribution_runtime(wildcards, input):
    return attribution_runtime(invivo_sequences(input) / 2, len(member_ids(wildcards)), "saliency")


# Consistency study


def consistency_train_mem_mb(wildcards, attempt):
    n_models = models_at_once(len(combo_trial_ids(wildcards)))
    return job_mem_mb(SYNTHETIC_SEQUENCES, SYNTHETIC_LENGTH, n_models, attempt)


def consistency_train_runtime(wildcards):
    """Adversarial training runs PGD on most batches: about 16 times a clean epoch (consistency demo)."""
    regularizer = CONSISTENCY_GRID[wildcards.combo]["regularizer"]
    slowdown = 16 if regularizer == "adversarial" else 2 if regularizer != "none" else 1
    epochs = CONSISTENCY_TRAINING["max_epochs"]
    return train_runtime(SYNTHETIC_SEQUENCES, len(combo_trial_ids(wildcards)), epochs, slowdown)


def consistency_attribution_mem_mb(wildcards, attempt):
    n_models = len(combo_trial_ids(wildcards))
    return job_mem_mb(SYNTHETIC_SEQUENCES, SYNTHETIC_LENGTH, n_models, attempt)


def consistency_attribution_runtime(wildcards):
    n_sequences = CONSISTENCY_CONFIG["n_positive"]
    return attribution_runtime(n_sequences, len(combo_trial_ids(wildcards)), wildcards.method)


# Angle-training study


def angle_training_train_mem_mb(wildcards, attempt):
    n_models = models_at_once(len(variant_trial_ids(wildcards)))
    return job_mem_mb(SYNTHETIC_SEQUENCES, SYNTHETIC_LENGTH, 3 * n_models, attempt)  # double backprop


def angle_training_train_runtime(wildcards):
    """The angle penalty's second pass and double backpropagation: about 3 times a plain epoch."""
    slowdown = 3 if ANGLE_ARMS[wildcards.variant]["family"] == "lambda" else 1
    epochs = ANGLE_TRAINING["max_epochs"]
    return train_runtime(SYNTHETIC_SEQUENCES, len(variant_trial_ids(wildcards)), epochs, slowdown)


def angle_training_attribution_mem_mb(wildcards, attempt):
    return job_mem_mb(SYNTHETIC_SEQUENCES, SYNTHETIC_LENGTH, len(variant_trial_ids(wildcards)), attempt)


def angle_training_attribution_runtime(wildcards):
    return attribution_runtime(ANGLE_CONFIG["n_positive"], len(variant_trial_ids(wildcards)), "saliency")


# Regularization study


def regularization_train_mem_mb(wildcards, attempt):
    """Models of width factor f hold about f times the activations of f = 1."""
    width = REGULARIZATION_COMBINATIONS[wildcards.combination]["width"]
    n_models = models_at_once(REGULARIZATION_CONFIG["trials"])
    return job_mem_mb(SYNTHETIC_SEQUENCES, SYNTHETIC_LENGTH, width * n_models, attempt)


def regularization_train_runtime(wildcards):
    """Width f costs up to f^2 the work of f = 1; manifold mixup trains one model at a time with an extra pass;
    the per-epoch scoring adds about a quarter."""
    settings = REGULARIZATION_COMBINATIONS[wildcards.combination]
    slowdown = 1.25 * settings["width"] ** 2 * (3 if settings["regularizer"] != "none" else 1)
    trials, epochs = REGULARIZATION_CONFIG["trials"], REGULARIZATION_CONFIG["epochs"]
    return train_runtime(SYNTHETIC_SEQUENCES, trials, epochs, slowdown)


# Faithfulness study: small models on 40-residue sequences (about a tenth of a 200-nt CNN-deep's work);
# adversarial training takes an extra forward and backward pass per batch and trains on twice the batch.
FAITHFULNESS_SLOWDOWN = 0.1


def faithfulness_mem_mb(wildcards, attempt):
    """One model at a time; a dataset of n sequences of 20 letters holds 5 times the floats of DNA's 4."""
    data = FAITHFULNESS_CONFIG["data"]
    return job_mem_mb(data["n"], 5 * data["length"], 1, attempt)


def faithfulness_train_runtime(wildcards):
    slowdown = FAITHFULNESS_SLOWDOWN * (3 if wildcards.setting.startswith("adversarial") else 1)
    epochs = FAITHFULNESS_TRAINING["max_epochs"]
    return train_runtime(FAITHFULNESS_CONFIG["data"]["n"], FAITHFULNESS_CONFIG["trials"], epochs, slowdown)


def faithfulness_evaluate_runtime(wildcards):
    """Ablation (3 kinds), occlusion and the methods' inputs (about 200 in all) per position, sequence and model."""
    n = FAITHFULNESS_CONFIG["evaluation"]["n_samples"] * FAITHFULNESS_CONFIG["trials"]
    length = FAITHFULNESS_CONFIG["data"]["length"]
    return 10 + math.ceil(n * (4 * length + 200) * FAITHFULNESS_SLOWDOWN * S_PER_MODEL_INPUT / 60)


def faithfulness_dna_mem_mb(wildcards, attempt):
    return job_mem_mb(SYNTHETIC_SEQUENCES, SYNTHETIC_LENGTH, 1, attempt)


def faithfulness_dna_runtime(wildcards):
    """Every position ablated (3 kinds) and occluded, plus the methods' inputs, per sequence and model."""
    n = FAITHFULNESS_CONFIG["evaluation"]["n_dna"] * config["models"]["trials"]
    return 10 + math.ceil(n * (4 * SYNTHETIC_LENGTH + 200) * S_PER_MODEL_INPUT / 60)


# DiffROAR study


def diffroar_mem_mb(wildcards, attempt):
    """Robust models trained one at a time, or one model's maps of a block of sequences."""
    return job_mem_mb(SYNTHETIC_SEQUENCES, SYNTHETIC_LENGTH, 1, attempt)


def _adversarial_slowdown(regime):
    """PGD training runs a forward and backward pass per step besides the batch's own."""
    steps = DIFFROAR["regularizers"]["adversarial"].get("adv_steps", 15)
    return 1 + steps if regime == "adversarial" else 1


def diffroar_train_runtime(wildcards):
    slowdown = _adversarial_slowdown(wildcards.regime)
    return train_runtime(SYNTHETIC_SEQUENCES, DIFFROAR["trials"], config["training"]["max_epochs"], slowdown)


def diffroar_scores_runtime(wildcards):
    """Every sequence (train, valid and test) attributed by one model."""
    return attribution_runtime(SYNTHETIC_SEQUENCES, 1, wildcards.method)


def diffroar_power_mem_mb(wildcards, attempt):
    """The dataset, its unmasked copy and the retrainings trained at once."""
    return job_mem_mb(2 * SYNTHETIC_SEQUENCES, SYNTHETIC_LENGTH, models_at_once(DIFFROAR["retrainings"]), attempt)


def diffroar_power_runtime(wildcards):
    """Top-k and bottom-k retrainings at every fraction."""
    models = 2 * len(DIFFROAR["fractions"]) * DIFFROAR["retrainings"]
    return train_runtime(SYNTHETIC_SEQUENCES, models, DIFFROAR_RETRAINING["max_epochs"])


def _leakage_length():
    return 2 * DIFFROAR_LEAKAGE["data"]["block_length"]


def diffroar_leakage_mem_mb(wildcards, attempt):
    return job_mem_mb(DIFFROAR_LEAKAGE["data"]["n"], _leakage_length(), 1, attempt)


def diffroar_leakage_train_runtime(wildcards):
    slowdown = _adversarial_slowdown(wildcards.regime) * _leakage_length() / SYNTHETIC_LENGTH
    n = DIFFROAR_LEAKAGE["data"]["n"]
    return train_runtime(n, DIFFROAR_LEAKAGE["trials"], config["training"]["max_epochs"], slowdown)


def diffroar_leakage_runtime(wildcards):
    """Each model's maps of the test sequences, every method."""
    inputs = sum(attribution_inputs(m) for m in DIFFROAR["methods"])
    n = DIFFROAR_LEAKAGE["n_test"] * DIFFROAR_LEAKAGE["trials"] * inputs * _leakage_length() / SYNTHETIC_LENGTH
    return 10 + math.ceil(n * S_PER_MODEL_INPUT / 60)


# Multi-task study

CNN_DEEP_MACS = 2.1e6  # multiply-adds of CNN-deep per 200-nt sequence, the unit of the rates above


def multitask_length():
    return MULTITASK["billboard"]["length"] if MULTITASK["dataset"] == "billboard" else MULTITASK["encode"]["width"]


def multitask_sequences(input):
    """The dataset's sequences: the billboard's from the config, ENCODE's from the file's size (built by the run)."""
    if MULTITASK["dataset"] == "billboard":
        return MULTITASK["billboard"]["n"]
    return input.size_mb * 2**20 / (16 * multitask_length())


def multitask_slowdown():
    """The Basset-style model's multiply-adds per sequence over CNN-deep's (its convolutions and first dense layer)."""
    model, length = MULTITASK["model"], multitask_length()
    (f1, f2, f3), (w1, w2, w3), (p1, p2, p3) = model["filters"], model["widths"], model["pools"]
    l2 = length // p1 - w2 + 1
    l3 = l2 // p2 - w3 + 1
    macs = f1 * w1 * 4 * length + f2 * f1 * w2 * l2 + f3 * f2 * w3 * l3 + f3 * (l3 // p3) * model["dense"][0]
    return max(1.0, macs / CNN_DEEP_MACS)


def multitask_mem_mb(wildcards, input, attempt):
    return job_mem_mb(multitask_sequences(input), multitask_length(), 1, attempt)


def multitask_train_runtime(wildcards, input):
    n = multitask_sequences(input)
    return train_runtime(n, 1, MULTITASK_TRAINING["max_epochs"], multitask_slowdown())


def multitask_angles_runtime(wildcards, input):
    """The test split's maps of the top class and of each shown task's positives."""
    n = multitask_sequences(input) * 0.4 * attribution_inputs(wildcards.method) * multitask_slowdown()
    return 10 + math.ceil(n * S_PER_MODEL_INPUT / 60)
