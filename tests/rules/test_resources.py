"""rules/resources.smk: the cluster resources of the heavy jobs, as the slurm profile submits them (a dry run)."""

import re

import pytest
from workflow_cli import ROOT, TEST_CONFIG, snakemake


def slurm_dry_run(tmp_path, override: str) -> dict[str, list[dict[str, str]]]:
    """Rule -> the resources of each of its jobs, as a dry run with the slurm profile prints them."""
    (tmp_path / "override.yaml").write_text(override)
    run = snakemake("-n", "--profile", str(ROOT / "profiles" / "slurm"), "--configfile", str(TEST_CONFIG),
                    "override.yaml", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    jobs: dict[str, list[dict[str, str]]] = {}
    for block in (run.stdout + run.stderr).split("\n\n"):
        rule = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        if rule and resources:
            jobs.setdefault(rule.group(1), []).append(dict(kv.split("=", 1) for kv in resources.group(1).split(", ")))
    return jobs


def test_slurm_profile_requests_a_gpu_for_training_and_scales_memory_with_the_config(tmp_path):
    invivo = ("studies: [synthetic, invivo]\n"
              "invivo: {tfs: [GABPA], processed: {GABPA: absent/GABPA_200.h5}}\n")
    small = slurm_dry_run(tmp_path, invivo)
    train, download = small["synthetic_train"][0], small["download_processed"][0]
    assert train["gpu"] == "1" and train["cpus_per_task"] == "4"
    assert "gpu" not in download and download["cpus_per_task"] == "1"  # downloads run on the submit host
    assert small["synthetic_evaluate"][0]["gpu"] == "1" and small["invivo_train"][0]["gpu"] == "1"
    modisco = small["motifs_modisco"][0]  # CPU threads (numba), no GPU
    assert "gpu" not in modisco and modisco["cpus_per_task"] == "4"
    larger = slurm_dry_run(tmp_path, invivo + "synthetic: {n_positive: 5000, n_negative: 5000}\n"
                                              "models: {trials: 3}\ntraining: {max_epochs: 20}\n")
    big = larger["synthetic_train"][0]
    # memory grows with the sequences and the models trained at once; runtime with models x epochs x data
    assert int(big["mem_mb"]) > int(train["mem_mb"]) + 2 * 50
    assert int(big["runtime"]) > int(train["runtime"])
    assert int(larger["synthetic_evaluate"][0]["mem_mb"]) > int(small["synthetic_evaluate"][0]["mem_mb"])


def test_regularization_jobs_ask_for_more_as_the_width_grows_and_mixup_runs_longer(tmp_path):
    """Width f holds f times the activations and costs up to f^2 the work; manifold mixup trains one model at a
    time with an extra pass."""
    jobs = slurm_dry_run(tmp_path, "studies: [regularization]\nsynthetic: {n_positive: 5000, n_negative: 5000}\n"
                                   "regularization:\n  epochs: 40\n  widths: [1, 4]\n  blocks:\n"
                                   "    table1: [{regularizer: [none, manifold_mixup], width: [1, 4]}]\n"
                                   "    table2: []\n    grid: []\n")
    train = jobs["regularization_train"]
    assert len(train) == 4 and all(job["gpu"] == "1" and job["cpus_per_task"] == "4" for job in train)
    runtimes = sorted(int(job["runtime"]) for job in train)  # f1 std < f1 mixup < f4 std < f4 mixup
    assert runtimes[0] < runtimes[1] < runtimes[2] < runtimes[3] and runtimes[3] > 10 * runtimes[0]
    mem = sorted(int(job["mem_mb"]) for job in train)
    assert mem[0] == mem[1] < mem[2] == mem[3]  # f = 1 twice, then f = 4 twice


def test_faithfulness_jobs_ask_for_a_gpu_and_adversarial_training_runs_longer(tmp_path):
    jobs = slurm_dry_run(tmp_path, "studies: [faithfulness]\nfaithfulness:\n  trials: 5\n  data: {n: 20000}\n"
                                   "  training: {max_epochs: 20}\n  settings: [unregularized, adversarial_low]\n"
                                   "  architectures: [seq_cnn]\n")
    train = jobs["faithfulness_train"]  # test.yaml's one task: two settings
    assert len(train) == 2 and all(j["gpu"] == "1" and j["cpus_per_task"] == "4" for j in train)
    runtimes = sorted(int(job["runtime"]) for job in train)
    assert runtimes[0] < runtimes[1]  # FGSM: an extra pass and twice the batch
    assert all(j["gpu"] == "1" for j in jobs["faithfulness_evaluate"] + jobs["faithfulness_dna"])


def test_diffroar_jobs_ask_for_a_gpu_and_scale_with_pgd_steps_and_retrainings(tmp_path):
    """PGD training runs a pass per step besides the batch's own; a ranking's job trains every retraining at every
    fraction, top and bottom."""
    jobs = slurm_dry_run(tmp_path, "studies: [diffroar]\nsynthetic: {n_positive: 10000, n_negative: 10000}\n"
                                   "training: {max_epochs: 100}\ndiffroar:\n  regimes: [noise, adversarial]\n"
                                   "  trials: 1\n  retrainings: 5\n  regularizers: {adversarial: {adv_steps: 15}}\n"
                                   "  training: {max_epochs: 100}\n")
    train = {j["runtime"] for j in jobs["diffroar_train"]}
    assert len(jobs["diffroar_train"]) == 2 and len(train) == 2
    noise, adversarial = sorted(int(r) for r in train)
    assert adversarial - 10 == pytest.approx(16 * (noise - 10), rel=0.1)  # 1 + 15 passes per batch
    work = [j for rule in ("diffroar_train", "diffroar_scores", "diffroar_power", "diffroar_random",
                           "diffroar_leakage_train", "diffroar_leakage") for j in jobs[rule]]
    assert all(j["gpu"] == "1" and j["cpus_per_task"] == "4" for j in work)
    power = {int(j["runtime"]) for j in jobs["diffroar_power"] + jobs["diffroar_random"]}
    assert len(power) == 1  # test.yaml's 2 fractions x top and bottom x 5 retrainings = 20 models of 100 epochs
    assert power.pop() - 10 == pytest.approx(20 * (noise - 10), rel=0.1)


def test_training_jobs_start_first_the_long_architectures_first(tmp_path):
    """Every synthetic training job outranks every other job, CNN-deep's the CNN-shallow's (a dry run's priorities),
    so the last training does not run alone at the end of a run while a core waits."""
    run = snakemake("-n", "--configfile", str(TEST_CONFIG), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    priorities: dict[str, list[int]] = {}
    for block in (run.stdout + run.stderr).split("\n\n"):
        rule = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        if rule:
            arch = re.search(r"wildcards: .*arch=(\w+)", block)
            priority = re.search(r"^\s+priority: (\d+)$", block, re.M)
            key = f"{rule.group(1)}:{arch.group(1)}" if rule.group(1) == "synthetic_train" else "other"
            priorities.setdefault(key, []).append(int(priority.group(1)) if priority else 0)
    deep, shallow = priorities["synthetic_train:cnn_deep"], priorities["synthetic_train:cnn_shallow"]
    assert min(deep) > max(shallow) > max(priorities["other"]) == 0


def test_every_rule_with_computed_resources_is_in_the_slurm_profiles():
    """A rule whose memory rules/resources.smk computes (training, attribution: the heavy ones) has its GPU and
    CPUs in profiles/slurm, and its CPUs in profiles/slurm-cpu; a rule missing there would run on one CPU."""
    import yaml

    heavy = set()
    for path in (ROOT / "rules").glob("*.smk"):
        for block in re.split(r"\n(?=\s*(?:rule|checkpoint) \w+:)", path.read_text()):
            name = re.match(r"\s*(?:rule|checkpoint) (\w+):", block)
            if name and re.search(r"^\s+mem_mb=", block, re.M):
                heavy.add(name.group(1))
    assert {"synthetic_train", "synthetic_predict", "synthetic_attribute", "synthetic_evaluate"} <= heavy
    for profile in ("slurm", "slurm-cpu"):
        listed = yaml.safe_load((ROOT / "profiles" / profile / "config.yaml").read_text())["set-resources"]
        assert heavy <= set(listed), (profile, sorted(heavy - set(listed)))
        assert all(listed[rule].get("cpus_per_task", 1) > 1 for rule in heavy)
