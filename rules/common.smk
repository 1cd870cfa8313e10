# Configuration checks, names of the units of work, and paths shared by every rule.

import math

from snakemake.utils import validate


validate(config, schema="../config/schema.yaml", set_default=True)


def check_config(cfg):
    """Constraints a JSON schema cannot express; each message names the key."""
    syn = cfg["synthetic"]
    if len(syn["motif_counts"]) != len(syn["motif_count_probs"]):
        raise ValueError("config synthetic.motif_count_probs: needs one probability per entry of synthetic.motif_counts")
    if not math.isclose(sum(syn["motif_count_probs"]), 1.0, abs_tol=1e-6):
        raise ValueError(f"config synthetic.motif_count_probs: must sum to 1, not {sum(syn['motif_count_probs'])}")
    if not math.isclose(sum(syn["split"]), 1.0, abs_tol=1e-6):
        raise ValueError(f"config synthetic.split: fractions must sum to 1, not {sum(syn['split'])}")


check_config(config)

SYN = "results/synthetic"
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
    method="|".join(METHODS),


def trial_files(pattern):
    """`pattern` (with a {trial} field) for every trial of the run."""
    return expand(pattern, trial=range(config["models"]["trials"]))


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
    logos = expand(f"{SYN}/figures/logos/{{model}}.{{method}}.png", model=MODELS, method=LOGO_METHODS)
    return [*per_method, *logos, f"{SYN}/tables/angle_summary.tsv"]
