"""Config checks: the schema's (defaults filled in) and those it cannot express (`check_config`), in-process,
as rules/common.smk applies them; each error names the key."""

import os

import pytest
import torch
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate
from workflow_cli import ROOT, TEST_CONFIG

from gradcorr.models.architectures import build_model
from gradcorr.workflow.config_checks import (
    MIN_INPUT_LENGTH,
    check_config,
    check_download_dir,
    check_input_length,
    multitask_input_length,
    regularization_grid,
    regularization_name,
)

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
    ("angle_training:\n  training: {regularizer: {name: angle}}\n", "angle_training.training"),
    ("angle_training:\n  sigmas: [0]\n", "sigmas"),
    ("studies: [angle_training]\nsynthetic:\n  length: 47\n", "47, but cnn_deep (angle_training.architectures)"),
    # what each architecture needs (CNN-shallow pools 50 x 2, CNN-deep 4 x 4 x 3, the consistency CNN 4 x 4 x 4)
    ("synthetic:\n  length: 99\n", "synthetic.length: 99, but cnn_shallow"),
    ("synthetic:\n  length: 47\nmodels:\n  architectures: [cnn_deep]\n", "synthetic.length: 47, but cnn_deep"),
    ("studies: [consistency]\nsynthetic:\n  length: 63\n", "synthetic.length: 63, but cnn_consistency"),
    ("studies: [invivo]\ninvivo:\n  tfs: [CTCF]\n  width: 60\n", "invivo.width: 60, but cnn_shallow"),
    # names that become paths: no ".", "..", hidden or with a slash
    ("studies: [invivo]\ninvivo:\n  tfs: [..]\n", ".."),
    ("studies: [invivo]\ninvivo:\n  tfs: [.]\n", "'.'"),
    ("studies: [invivo]\ninvivo:\n  tfs: [.hidden]\n", ".hidden"),
    ("invivo:\n  processed: {../up: x.h5}\n", "../up"),
    ("invivo:\n  genomes: {..: https://example.org/g.fa}\n", ".."),
    ("invivo:\n  genomes: {hg38: {url: https://example.org/g.fa, md5: abc}}\n", "genomes"),
    # a schedule must fit its epochs; the regularization study's blocks name settings and valid values
    ("training:\n  max_epochs: 5\n  phases: [{epochs: 2}, {epochs: 2}]\n", "config training.phases"),
    ("training:\n  max_epochs: 3\n  phases: [{epochs: 2}, {epochs: 2}]\n", "config training.phases"),
    ("training:\n  phases: [{}, {epochs: 2}]\n", "only the last phase"),
    ("consistency:\n  training: {phases: [{epochs: 200}]}\n", "config consistency.training.phases"),
    ("training:\n  phases: [{dropout: 1.0}]\n", "dropout"),
    ("regularization:\n  training: {batch_size: 32}\n", "regularization.training"),
    ("studies: [regularization]\nregularization:\n  blocks: {grid: [{batchsize: [32]}]}\n",
     "config regularization.blocks.grid[0]: unknown setting(s) ['batchsize']"),
    ("studies: [regularization]\nregularization:\n  blocks: {table1: [{dropout: 0.4}]}\n",
     "config regularization.blocks.table1[0].dropout: must be a non-empty list"),
    ("studies: [regularization]\nregularization:\n  blocks: {table2: [{}, {schedule: [cyclic]}]}\n",
     "config regularization.blocks.table2[1].schedule: 'cyclic'"),
    ("studies: [regularization]\nregularization:\n  blocks: {grid: [{batchnorm: [1]}]}\n", "batchnorm"),
    ("studies: [regularization]\nregularization:\n  blocks: {grid: [{width: [0.5]}]}\n", "width"),
    ("studies: [regularization]\nregularization:\n  blocks: {grid: [{batch_size: [32.0]}]}\n", "batch_size"),
    ("studies: [regularization]\nregularization:\n  blocks: {grid: [{learning_rate: [0]}]}\n", "learning_rate"),
    ("studies: [regularization]\nregularization:\n  blocks: {grid: [{blocks: [1]}]}\n", "blocks.grid"),
    ("studies: [regularization]\nregularization:\n  mode: keras\n", "mode"),
    ("studies: [regularization]\nsynthetic:\n  length: 63\n", "63, but cnn_consistency (the regularization study)"),
    # the faithfulness study's protein tasks must be drawable, its methods known, its background a residue
    ("studies: [faithfulness]\nfaithfulness:\n  data: {min_run: 8, max_run: 7}\n", "need 2 <= min_run"),
    ("studies: [faithfulness]\nfaithfulness:\n  data: {length: 17}\n", "faithfulness.data.length: 17"),
    ("studies: [faithfulness]\nfaithfulness:\n  data: {split: [0.5, 0.1, 0.1]}\n", "faithfulness.data.split"),
    ("studies: [faithfulness]\nfaithfulness:\n  evaluation: {methods: {occlusion: {}}}\n", "['occlusion']"),
    ("studies: [faithfulness]\nfaithfulness:\n  evaluation: {background: {protein: B}}\n", "'B' is not one of the 20"),
    ("studies: [faithfulness]\nfaithfulness:\n  training: {regularizer: {name: noise}}\n", "faithfulness.training"),
    ("studies: [faithfulness]\nfaithfulness:\n  settings: [mixup]\n", "mixup"),
    ("studies: [faithfulness]\nfaithfulness:\n  checkpoint: first\n", "first"),
    # the DiffROAR study scores the synthetic study's model types and trials, with known settings
    ("studies: [diffroar]\nmodels: {architectures: [cnn_deep]}\ndiffroar: {model_types: [cnn_shallow_exp]}\n",
     "diffroar.model_types: ['cnn_shallow_exp'] not among"),
    ("studies: [diffroar]\nmodels: {trials: 1}\ndiffroar: {trials: 2}\n", "diffroar.trials: 2"),
    ("studies: [diffroar]\ndiffroar: {training: {regularizer: {name: noise}}}\n", "diffroar.training"),
    ("studies: [diffroar]\ndiffroar: {regularizers: {adversarial: {eps: 0.1}}}\n", "diffroar.regularizers.adversarial"),
    ("studies: [diffroar]\ndiffroar: {leakage: {data: {split: [0.5, 0.1, 0.1]}}}\n", "diffroar.leakage.data.split"),
    ("studies: [diffroar]\ndiffroar: {leakage: {model_types: [cnn_shallow_relu], data: {block_length: 49}}}\n",
     "2 x 49, but cnn_shallow needs at least 100"),
    ("studies: [diffroar]\ndiffroar: {fills: [background]}\n", "background"),
    ("studies: [diffroar]\nsynthetic: {length: 99}\n", "99, but cnn_shallow (diffroar.model_types)"),
    ("studies: [diffroar]\ndiffroar: {fractions: [1.0]}\n", "1.0"),
    ("studies: [multitask]\nmultitask: {training: {regularizer: {name: noise}}}\n", "multitask.training"),
    ("studies: [multitask]\nmultitask: {billboard: {split: [0.5, 0.1, 0.1]}}\n", "multitask.billboard.split"),
    ("studies: [multitask]\nmultitask: {billboard: {tasks: [[MA0079.3], [MA0079.3]]}}\n", "multitask.billboard.tasks"),
    ("studies: [multitask]\nmultitask: {billboard: {length: 149}}\n", "multitask.billboard.length: 149"),
    ("studies: [multitask]\nmultitask: {dataset: encode, encode: {width: 100}}\n", "multitask.encode.width: 100"),
    ("studies: [multitask]\nmultitask: {encode: {valid_chroms: [chr8]}}\n", "['chr8'] both in valid_chroms"),
    ("studies: [multitask]\nmultitask: {activations: [tanh]}\n", "tanh"),
]

GOOD_LENGTHS = [  # the shortest each architecture takes, and a processed dataset, whose length is checked on import
    "synthetic:\n  length: 100\n",
    "synthetic:\n  length: 48\nmodels:\n  architectures: [cnn_deep]\n",
    "studies: [consistency]\nsynthetic:\n  length: 64\n",
    "studies: [invivo]\ninvivo:\n  tfs: [CTCF]\n  width: 100\n",
    "studies: [invivo]\ninvivo:\n  tfs: [REST]\n  processed: {REST: rest.h5}\n  width: 10\n",
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


@pytest.mark.parametrize("override", GOOD_LENGTHS)
def test_the_shortest_lengths_the_models_take_pass(override):
    assert checked_config(TEST_CONFIG.read_text(), override)


@pytest.mark.parametrize("arch", sorted(MIN_INPUT_LENGTH))
def test_min_input_length_is_what_each_architecture_takes(arch):
    """MIN_INPUT_LENGTH (the DAG code has no torch) agrees with the models: one shorter is refused, naming it."""
    length = MIN_INPUT_LENGTH[arch]
    model = build_model(arch, input_length=length).eval()
    assert model(torch.zeros(2, 4, length)).shape == (2, 1)
    with pytest.raises(ValueError, match=f"{arch} needs inputs of length at least {length}"):
        build_model(arch, input_length=length - 1)


@pytest.mark.parametrize("model", [{"widths": [19, 11, 7], "pools": [3, 4, 4]},
                                   {"widths": [5, 3, 9], "pools": [2, 1, 5]}])
def test_multitask_input_length_is_what_basset_takes(model):
    """The DAG's restatement of the Basset-style model's shortest input agrees with the model."""
    length = multitask_input_length(model)
    sizes = {"filters": (4, 4, 4), "dense": (8,), "n_tasks": 3, **model}
    assert build_model("basset", input_length=length, **sizes).eval()(torch.zeros(2, 4, length)).shape == (2, 3)
    with pytest.raises(ValueError, match=f"at least {length}"):
        build_model("basset", input_length=length - 1, **sizes)


def test_check_input_length_names_the_file():
    check_input_length("ok.h5", 100, ["cnn_shallow", "cnn_deep"])
    with pytest.raises(ValueError, match="short.h5: sequences of length 50, but cnn_shallow need at least 100"):
        check_input_length("short.h5", 50, ["cnn_deep", "cnn_shallow"])


def test_download_dir_default_may_be_missing_any_other_must_be_a_writable_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert check_download_dir("results/downloads", "results/downloads") == tmp_path / "results" / "downloads"
    with pytest.raises(ValueError, match="invivo.download_dir: /no/such/folder .*does not exist"):
        check_download_dir("/no/such/folder", "results/downloads")
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="is not a folder"):
        check_download_dir("file", "results/downloads")
    shared = tmp_path / "shared"
    shared.mkdir()
    assert check_download_dir(str(shared), "results/downloads") == shared
    # as for a read-only share (root writes anywhere, so os.access stands in)
    monkeypatch.setattr(os, "access", lambda path, mode: path != shared)
    with pytest.raises(ValueError, match="is not writable"):
        check_download_dir(str(shared), "results/downloads")


def test_the_regularization_grid_is_the_papers_and_its_names_are_unique():
    """The defaults give Table 1's 6 rows, Table 2's 14 and the Appendix B product (2 x 3 x 3 x 4 x 2 x 2 = 288);
    a combination named in two blocks is trained once; `widths` drops the others."""
    config = checked_config("studies: [regularization]\n")
    combinations, blocks = regularization_grid(config["regularization"])
    assert {name: len(names) for name, names in blocks.items()} == {"table1": 6, "table2": 14, "grid": 288}
    assert len(combinations) == len(set().union(*map(set, blocks.values()))) == 302
    assert all(regularization_name(settings) == name for name, settings in combinations.items())
    table2 = [combinations[name] for name in blocks["table2"]]
    assert all(c["schedule"] == "two_phase" and c["learning_rate"] == 0.01 for c in table2)
    assert sorted((c["width"], c["batchnorm"], c["dropout"]) for c in table2 if c["regularizer"] == "none") == [
        (1, False, 0.4), (1, True, 0.1), (1, True, 0.4), (1, True, 0.4), (1, True, 0.4), (4, True, 0.4),
        (8, True, 0.4)]
    baseline = combinations[blocks["table1"][0]]
    assert baseline == {"regularizer": "none", "width": 1, "batch_size": 128, "dropout": 0.1, "learning_rate": 0.001,
                        "batchnorm": False, "schedule": "constant"}
    assert blocks["table1"][0] in blocks["grid"]  # the baseline is a point of the grid too
    narrow, narrow_blocks = regularization_grid(checked_config("studies: [regularization]\n",
                                                               "regularization:\n  widths: [1]\n")["regularization"])
    assert {c["width"] for c in narrow.values()} == {1} and len(narrow_blocks["table2"]) == 10


def test_restated_names_are_the_packages():
    """The DAG process restates the attribution methods and the protein alphabet (it imports no torch or numpy)."""
    from gradcorr.attribution import METHODS
    from gradcorr.data.protein import AMINO_ACIDS
    from gradcorr.workflow.config_checks import ATTRIBUTION_METHODS, PROTEIN_LETTERS

    assert set(ATTRIBUTION_METHODS) == set(METHODS) and PROTEIN_LETTERS == AMINO_ACIDS


def test_the_training_section_is_the_train_configs_hyperparameters():
    """Every key of `training:` in the schema is a `TrainConfig` field, and each default the schema fills in is
    the field's (the seed comes from the top-level seed), so the package and the config cannot drift apart."""
    import dataclasses

    from gradcorr.models.training import TrainConfig

    schema = yaml.safe_load((ROOT / "config" / "schema.yaml").read_text())
    fields = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    assert set(schema["properties"]["training"]["properties"]) == set(fields) - {"seed"}
    for key, spec in schema["properties"]["training"]["properties"].items():
        if "default" in spec:
            assert spec["default"] == fields[key] or (key == "phases" and fields[key] == ()), key
    assert checked_config()["training"]["dropout_masks"] == "bernoulli"
    with pytest.raises(WorkflowError, match="uniform"):
        checked_config("training: {dropout_masks: uniform}\n")
