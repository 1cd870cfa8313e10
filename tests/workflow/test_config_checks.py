"""Config checks: the schema's (defaults filled in) and those it cannot express (`check_config`), in-process,
as rules/common.smk applies them; each error names the key."""

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate
from workflow_cli import ROOT, TEST_CONFIG

from gradcorr.workflow.config_checks import check_config

BAD_CONFIGS = [
    ("training:\n  max_epochs: 0\n", "max_epochs"),
    ("trainig:\n  max_epochs: 3\n", "trainig"),
    ("evaluation:\n  output: probability\n", "output"),
    ("synthetic:\n  split: [0.7, 0.2, 0.2]\n", "synthetic.split"),
    ("synthetic:\n  motif_count_probs: [0.5, 0.5]\n", "synthetic.motif_count_probs"),
    ("studies: [invivo]\n", "invivo.tfs"),
    ("invivo:\n  split: [0.5, 0.1, 0.2]\n", "invivo.split"),
    ("invivo:\n  center: peak\n", "center"),
    ("models:\n  source: published\n  trials: 51\n", "models.trials"),
    ("models:\n  source: published\nsynthetic:\n  length: 150\n", "synthetic.length"),
    ("models:\n  source: downloaded\n", "source"),
    ("consistency:\n  training: {max_epoch: 3}\n", "consistency.training"),
    ("consistency:\n  training: {regularizer: {name: noise}}\n", "consistency.training"),
    ("consistency:\n  regularizer: {noise: 0.1}\n", "consistency.regularizer"),
    ("consistency:\n  regularizers: [dropout]\n", "regularizers"),
]


def checked_config(*layers: str) -> dict:
    """config.yaml updated with each YAML text in turn, as Snakemake merges config files, then checked by
    the schema (filling in defaults) and `check_config`, as rules/common.smk does."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    for layer in layers:
        update_config(config, yaml.safe_load(layer))
    validate(config, str(ROOT / "config" / "schema.yaml"), set_default=True)
    check_config(config, yaml.safe_load((ROOT / "config" / "schema.yaml").read_text()))
    return config


@pytest.mark.parametrize("name", [p.name for p in sorted((ROOT / "config").glob("*.yaml")) if p.name != "schema.yaml"])
def test_shipped_configs_pass_the_checks(name):
    assert checked_config((ROOT / "config" / name).read_text())["seed"] >= 0


@pytest.mark.parametrize("override, key", BAD_CONFIGS)
def test_bad_config_is_refused_naming_the_key(override, key):
    with pytest.raises((WorkflowError, ValueError)) as error:
        checked_config(TEST_CONFIG.read_text(), override)
    assert key in str(error.value)
