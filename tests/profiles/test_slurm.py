"""The workflow on a real single-node SLURM cluster, through profiles/slurm and profiles/slurm-cpu.

The cluster (tests/helpers/slurm_cluster.py) needs Linux, root and the Debian packages slurm-wlm and munge,
which .ci/run installs. Elsewhere these tests are skipped, saying why; with GRADCORR_REQUIRE_SLURM=1
(.ci/run sets it) they fail instead, so CI cannot pass by skipping them.

A user's command runs twice on config/test.yaml, as after a failure:

1. the four trained models, with `--retries 0`: a training job is killed (scancel) during its first
   epoch. SLURM reports it CANCELLED, and snakemake reports the job failed and, keeping going,
   finishes the other three;
2. the saliency table (what remains: one training job, four attribution jobs, the table), with the
   profile's retries: only what is missing is submitted, and an attribution job killed there is
   resubmitted, with the memory of its second attempt.

The outputs then equal those of the local run of config/test.yaml.

Then the node is declared without GPUs (the cluster restarted: one at a time, as they share /etc/slurm,
so these tests come after those that look at the GPU node's jobs), and the first model's saliency maps
are asked for, from the first run's dataset, twice at once: through profiles/slurm-cpu, whose training
and attribution jobs run there with their 4 CPUs and give the same files as on the GPU node, and through
profiles/slurm, whose training job sbatch refuses. This goes on while the suite's local run of
config/test.yaml, which the last test compares with, is still running.
"""

import contextlib
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from slurm_cluster import GPUS, Cluster, ClusterUnavailable, start_cluster
from workflow_cli import ROOT, SNAKEMAKE, TEST_CONFIG

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

TABLE = "results/synthetic/tables/interpretability_saliency.tsv"
MODEL_TYPES = ("cnn_shallow_relu", "cnn_shallow_exp", "cnn_deep_relu", "cnn_deep_exp")
MODELS = [f"results/synthetic/models/{model_type}_0.pt" for model_type in MODEL_TYPES]
KILLED_TRAINING, KILLED_ATTRIBUTION = "cnn_deep_exp", "cnn_shallow_relu"
# What a user sets for a site (partition, no account, no sacct), a first status check after 1 s, and
# the local run's threads: torch's float sums, hence the trained weights, depend on the thread count.
OVERRIDE = ["--default-resources", "slurm_partition=test", "runtime=30", "mem_mb=1000", "cpus_per_task=1",
            "--slurm-no-account", "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks",
            "1", "--set-threads", "synthetic_train=1", "synthetic_predict=1", "synthetic_evaluate=1"]
DATASET = "results/synthetic/data/billboard.h5"
CPU_MODEL = "cnn_shallow_relu_0"  # trained on the node without GPUs (one job: each DAG step costs status checks)
CPU_OUTPUTS = [f"results/synthetic/models/{CPU_MODEL}.pt", f"results/synthetic/models/{CPU_MODEL}.history.tsv"]
GRES_REFUSED = ("SLURM sbatch failed. The error message was "
                "'sbatch: error: Invalid generic resource (gres) specification'")
# "Job 3 has been submitted with SLURM jobid 7 (log: .../slurm_logs/rule_synthetic_train/cnn_deep_exp/7.log)."
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/rule_([^/]+)/(?:([^/]+)/)?\d+\.log\)")


def submissions(text: str) -> list[tuple[str, str, str]]:
    """(SLURM job id, rule, wildcards) of each job a snakemake log says it submitted."""
    return [(jobid, rule, wildcards or "") for jobid, rule, wildcards in SUBMITTED.findall(text)]


def slurm_job(cluster: Cluster, jobid: str) -> dict[str, str]:
    """The fields of `scontrol show job` (kept MinJobAge seconds after the job ends)."""
    line = cluster.run("scontrol", "show", "job", "-o", jobid)
    return dict(field.split("=", 1) for field in line.split() if "=" in field)


def started(controller_log: str, jobid: str) -> bool:
    """Whether slurmctld started the job: by its main scheduler, or by the backfill one."""
    pattern = rf"sched: Allocate JobId={jobid} NodeList=|sched/backfill: _start_job: Started JobId={jobid} "
    return re.search(pattern, controller_log) is not None


def launch(cluster: Cluster, workdir: Path, name: str, targets: list[str], *extra: str,
           profile: str = "slurm") -> subprocess.Popen:
    command = [*SNAKEMAKE, *targets, "--profile", str(ROOT / "profiles" / profile), "--configfile", str(TEST_CONFIG),
               *OVERRIDE, *extra]
    with open(workdir / f"{name}.out", "w") as out:
        return subprocess.Popen(command, cwd=workdir, env=cluster.env, stdout=out, stderr=subprocess.STDOUT)


def kill_when(cluster: Cluster, run: subprocess.Popen, out: Path, rule: str, wildcards: str, ready) -> str:
    """scancel the first job of `rule` for `wildcards` once SLURM runs it and `ready()` holds; its id."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and run.poll() is None:
        ids = [jobid for jobid, r, w in submissions(out.read_text()) if (r, w) == (rule, wildcards)]
        if ids and slurm_job(cluster, ids[0]).get("JobState") == "RUNNING" and ready():
            cluster.run("scancel", ids[0])
            return ids[0]
        time.sleep(0.2)
    run.kill()
    raise AssertionError(f"the {rule} job for {wildcards} was not seen running:\n{out.read_text()[-3000:]}")


def finish(run: subprocess.Popen, out: Path) -> str:
    try:
        run.wait(timeout=600)
    except subprocess.TimeoutExpired:
        run.kill()
        raise
    return out.read_text()


def results(workdir: Path) -> dict[Path, int]:
    """Modification time of every file under results/."""
    return {path.relative_to(workdir): path.stat().st_mtime_ns
            for path in sorted((workdir / "results").rglob("*")) if path.is_file()}


def assert_same_files(mine: Path, theirs: Path, paths) -> None:
    """The files under the two directories are the same, but for the seconds per epoch in model files."""
    for path in map(Path, paths):
        if path.suffix == ".pt":  # the weights are identical
            a, b = torch.load(mine / path, weights_only=False), torch.load(theirs / path, weights_only=False)
            assert a["state_dict"].keys() == b["state_dict"].keys()
            assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"]), path
        elif path.name.endswith(".history.tsv"):
            pd.testing.assert_frame_equal(pd.read_csv(mine / path, sep="\t").drop(columns="seconds"),
                                          pd.read_csv(theirs / path, sep="\t").drop(columns="seconds"))
        else:
            assert (mine / path).read_bytes() == (theirs / path).read_bytes(), path


@pytest.fixture(scope="module")
def clusters(tmp_path_factory):
    """start(gpus): the single-node cluster with that many GPUs, once the one before is stopped."""
    stack, started = contextlib.ExitStack(), []

    def start(gpus: int) -> Cluster:
        stack.close()
        try:
            started.append(stack.enter_context(start_cluster(tmp_path_factory.mktemp("slurm"), gpus=gpus)))
        except ClusterUnavailable as error:
            if os.environ.get("GRADCORR_REQUIRE_SLURM") == "1":
                pytest.fail(f"GRADCORR_REQUIRE_SLURM=1, but SLURM cannot be started: {error}")
            pytest.skip(f"SLURM cannot be started here: {error}")
        return started[-1]

    with stack:
        yield start
    for running in started:  # the daemons were stopped by their process ids
        for process in running.processes.values():
            with pytest.raises(ProcessLookupError):
                os.kill(process.pid, 0)


@pytest.fixture(scope="module")
def cluster(clusters):
    return clusters(GPUS)


@pytest.fixture(scope="module")
def slurm_runs(cluster, local_run_started, tmp_path_factory):  # the local run goes on meanwhile
    """The two runs: working directory, first run, its output, the files after it (with their mtimes), the
    rerun's output, and the SLURM ids of the killed training and attribution jobs."""
    workdir = tmp_path_factory.mktemp("slurm_workflow")
    train_log = workdir / "logs" / "synthetic" / "train" / f"{KILLED_TRAINING}.log"
    first = launch(cluster, workdir, "first", MODELS, "--retries", "0")
    killed_training = kill_when(cluster, first, workdir / "first.out", "synthetic_train", KILLED_TRAINING,
                                lambda: train_log.exists() and "epoch 1/" in train_log.read_text())
    first_out = finish(first, workdir / "first.out")
    after_first = results(workdir)
    rerun = launch(cluster, workdir, "rerun", [TABLE])
    killed_attribution = kill_when(cluster, rerun, workdir / "rerun.out", "synthetic_evaluate",
                                   f"{KILLED_ATTRIBUTION}_saliency", lambda: True)
    rerun_out = finish(rerun, workdir / "rerun.out")
    assert rerun.returncode == 0, rerun_out[-5000:]
    return workdir, first, first_out, after_first, rerun_out, killed_training, killed_attribution


def test_killed_training_is_reported_and_the_rest_finishes(slurm_runs):
    _, first, out, after_first, _, killed, _ = slurm_runs
    assert first.returncode != 0
    assert f"SLURM-job '{killed}' failed, SLURM status is: 'CANCELLED'" in out
    trained = {str(path) for path in after_first if path.suffix == ".pt"}
    assert trained == set(MODELS) - {f"results/synthetic/models/{KILLED_TRAINING}_0.pt"}  # keep-going


def test_rerun_submits_only_what_is_missing_and_resubmits_a_killed_job(cluster, slurm_runs):
    workdir, _, _, after_first, out, _, killed = slurm_runs
    jobs = submissions(out)
    assert Counter((rule, wildcards) for _, rule, wildcards in jobs) == {
        ("synthetic_train", KILLED_TRAINING): 1, ("synthetic_interpretability_table", "saliency"): 1,
        **{("synthetic_predict", t): 1 for t in MODEL_TYPES},
        **{("synthetic_evaluate", f"{t}_saliency"): 1 + (t == KILLED_ATTRIBUTION) for t in MODEL_TYPES}}
    assert f"SLURM-job '{killed}' failed, SLURM status is: 'CANCELLED'" in out and "Trying to restart job" in out
    first_try, second_try = (slurm_job(cluster, jobid) for jobid, rule, wildcards in jobs
                             if (rule, wildcards) == ("synthetic_evaluate", f"{KILLED_ATTRIBUTION}_saliency"))
    assert first_try["JobState"] == "CANCELLED" and second_try["JobState"] == "COMPLETED"
    assert int(second_try["MinMemoryNode"].rstrip("M")) == 2 * int(first_try["MinMemoryNode"].rstrip("M"))
    now = results(workdir)
    assert {path: now[path] for path in after_first} == after_first  # nothing finished was recomputed


def test_jobs_went_through_slurm_with_the_profiles_resources(cluster, slurm_runs):
    workdir, _, first_out, _, rerun_out, _, _ = slurm_runs
    jobs = submissions(first_out) + submissions(rerun_out)
    logs = "".join(path.read_text() for path in (workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    assert sorted(submissions(logs)) == sorted(jobs)
    assert {rule for _, rule, _ in jobs} == {"synthetic_dataset", "synthetic_train", "synthetic_predict",
                                             "synthetic_evaluate", "synthetic_interpretability_table"}
    controller = cluster.log("slurmctld")
    for jobid, rule, _ in jobs:
        assert started(controller, jobid), jobid
        job = slurm_job(cluster, jobid)
        gpu = rule in ("synthetic_train", "synthetic_predict", "synthetic_evaluate")
        requested = job.get("TresPerJob", "") + job.get("TresPerNode", "")
        assert (requested == "gres:gpu:1") == gpu and ("gpu" in requested) == gpu, (rule, requested)
        assert job["NumCPUs"] == ("4" if gpu else "1"), (rule, job["NumCPUs"])
        assert job["Partition"] == "test"


def test_the_cpu_profile_is_the_gpu_profile_without_its_gpus():
    gpu, cpu = (yaml.safe_load((ROOT / "profiles" / name / "config.yaml").read_text())
                for name in ("slurm", "slurm-cpu"))
    assert {rule for rule, resources in gpu["set-resources"].items() if resources.get("gpu")} >= {
        "synthetic_train", "synthetic_evaluate", "invivo_train", "multitask_train", "diffroar_scores"}
    without = {rule: {key: value for key, value in resources.items() if key not in ("gpu", "gpu_model", "gres")}
               for rule, resources in gpu["set-resources"].items()}
    assert cpu == {**gpu, "set-resources": without}


@pytest.fixture(scope="module")
def cpu_cluster(clusters, slurm_runs):  # the GPU node is stopped once its runs are over (and checked, above)
    return clusters(0)


@pytest.fixture(scope="module")
def cpu_runs(cpu_cluster, slurm_runs, tmp_path_factory):
    """From the first SLURM run's dataset, the first model through each profile at once, on the node without
    GPUs: {profile: (working directory, process, output)}."""
    launched = {}
    for profile in ("slurm-cpu", "slurm"):
        workdir = tmp_path_factory.mktemp(f"{profile}_run")
        (workdir / DATASET).parent.mkdir(parents=True)
        shutil.copy2(slurm_runs[0] / DATASET, workdir / DATASET)
        launched[profile] = workdir, launch(cpu_cluster, workdir, "run", [CPU_OUTPUTS[-1]], profile=profile)
    return {profile: (workdir, run, finish(run, workdir / "run.out")) for profile, (workdir, run) in launched.items()}


def test_without_gpus_the_gpu_profile_is_refused(cpu_cluster, cpu_runs):
    workdir, run, out = cpu_runs["slurm"]
    assert "Gres=(null)" in cpu_cluster.run("scontrol", "show", "node")
    assert run.returncode != 0 and f"Error in rule synthetic_train:\n    message: {GRES_REFUSED}" in out, out[-3000:]
    assert submissions(out) == [] and not (workdir / CPU_OUTPUTS[0]).exists()


def test_without_gpus_the_cpu_profile_trains_on_cpus(cpu_cluster, cpu_runs, slurm_runs):
    workdir, run, out = cpu_runs["slurm-cpu"]
    assert run.returncode == 0, out[-5000:]
    jobs = submissions(out)
    model_type = CPU_MODEL.removesuffix("_0")
    assert [(rule, wildcards) for _, rule, wildcards in jobs] == [("synthetic_train", model_type)]
    controller = cpu_cluster.log("slurmctld")
    for jobid, rule, _ in jobs:
        assert started(controller, jobid), jobid
        job = slurm_job(cpu_cluster, jobid)
        assert job["JobState"] == "COMPLETED" and job["NumCPUs"] == "4" and job["Partition"] == "test", (rule, job)
        assert "gpu" not in job.get("TresPerJob", "") + job.get("TresPerNode", "") + job["TRES"], (rule, job)
    assert_same_files(workdir, slurm_runs[0], CPU_OUTPUTS)  # the same threads (1) as on the GPU node


def test_outputs_equal_those_of_a_local_run(slurm_runs, workflow_run):
    workdir, *_ = slurm_runs
    local, _ = workflow_run
    files = [path for path in results(workdir) if path.name != ".gitkeep"]
    # dataset, models and histories, test outputs, attribution outputs, table
    assert len(files) == 1 + 4 * 2 + 4 + 4 * 3 + 1
    assert_same_files(workdir, local, files)
