"""Checks of a workflow config that its JSON schema cannot express; each error names the key.

The workflow calls `check_config` once the schema has filled in the defaults (rules/common.smk); it
imports nothing beyond the standard library, so the DAG process stays without torch.
"""

from __future__ import annotations

import math
from typing import Any

PUBLISHED_TRIALS = 50  # trials per model type in the authors' published synthetic models
PUBLISHED_LENGTH = 200  # their input length


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
    con = cfg["consistency"]
    training = schema["properties"]["training"]["properties"]
    for key, allowed in (("training", set(training) - {"regularizer"}),
                         ("regularizer", set(training["regularizer"]["properties"]) - {"name"})):
        unknown = sorted(set(con[key]) - allowed)
        if unknown:
            raise ValueError(f"config consistency.{key}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
