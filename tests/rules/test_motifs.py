"""rules/motifs.smk: which jobs the motif stage adds (dry runs through the Snakemake command line, on
config/test.yaml); the stage itself runs end to end in tests/rules/test_synthetic.py and test_invivo.py."""


import pytest
import yaml
from workflow_cli import TEST_CONFIG, job_counts, snakemake


def dry_run_jobs(tmp_path, override: dict) -> dict[str, int]:
    """The jobs of each rule a dry run of the test config, with `override` laid over it, would run."""
    (tmp_path / "override.yaml").write_text(yaml.safe_dump(override))
    run = snakemake("-n", "--quiet", "rules", "--configfile", str(TEST_CONFIG), "override.yaml", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    return job_counts(run.stdout)


def test_the_switch_turns_the_stage_off(tmp_path):
    jobs = dry_run_jobs(tmp_path, {"motifs": {"enabled": False}})
    assert jobs["synthetic_evaluate"] == 16 and not [rule for rule in jobs if rule.startswith("motifs_")]


def test_trials_and_methods_of_the_synthetic_study(tmp_path):
    """Each model type's first `trials` trials (at most those trained) and each listed method the study computes:
    one export per map, a modisco run, pattern table and logo figure per map kind, one summary."""
    jobs = dry_run_jobs(tmp_path, {"models": {"trials": 2},
                                 "evaluation": {"methods": ["saliency", "smoothgrad"]},
                                 "motifs": {"trials": 3, "methods": ["saliency", "smoothgrad", "expected_gradients"]}})
    maps = 4 * 2 * 2  # model types x trials x methods
    assert jobs["motifs_export_model"] == maps
    assert jobs["motifs_modisco"] == jobs["motifs_patterns_model"] == jobs["motifs_logos"] == 2 * maps
    assert jobs["motifs_summary"] == 1 and "motifs_bigwig" not in jobs


@pytest.mark.parametrize("override, key", [({"motifs": {"q_threshold": 0}}, "q_threshold"),
                                           ({"motifs": {"jaspar_release": "JASPAR24"}}, "jaspar_release"),
                                           ({"motifs": {"modisco": {"window": 1}}}, "window")])
def test_bad_settings_stop_the_run_naming_the_key(tmp_path, override, key):
    (tmp_path / "override.yaml").write_text(yaml.safe_dump(override))
    run = snakemake("-n", "--configfile", str(TEST_CONFIG), "override.yaml", cwd=tmp_path)
    said = run.stdout + run.stderr
    assert run.returncode != 0 and "On instance['motifs']" in said and key in said


def test_any_model_map_of_the_consistency_study_on_demand(tmp_path):
    """Not in `rule all`, but a consistency model's map goes through the same stages when asked for by name."""
    (tmp_path / "override.yaml").write_text("studies: [consistency]\n")
    target = "results/consistency/motifs/patterns/mixup_nobn_exp_d0.1_1.saliency.corrected.tsv"
    run = snakemake(target, "-n", "--quiet", "rules", "--configfile", str(TEST_CONFIG), "override.yaml", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = job_counts(run.stdout)
    for rule in ("consistency_evaluate", "motifs_export_model", "motifs_modisco", "motifs_patterns_model"):
        assert jobs[rule] == 1, (rule, jobs)


def test_a_summary_where_the_config_runs_no_motif_stage_is_refused_saying_so(tmp_path):
    run = snakemake("results/consistency/tables/motifs_summary.tsv", "-n", "--configfile", str(TEST_CONFIG),
                    cwd=tmp_path)
    assert run.returncode != 0 and "the config runs no motif stage there" in run.stdout + run.stderr
