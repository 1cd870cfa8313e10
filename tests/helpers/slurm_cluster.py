"""A single-node SLURM cluster for the tests: munged, slurmctld and slurmd on this machine, as root.

Usage::

    with start_cluster(tmp_path / "slurm") as cluster:   # raises ClusterUnavailable, saying why
        cluster.gpus                                       # 4; start_cluster(..., gpus=0): a node without GPUs
        env = cluster.env                                  # SLURM_CONF set, for sbatch, squeue, scancel
        cluster.partition                                  # "test"
        cluster.log("slurmctld")                           # the controller's log

Everything the daemons write (keys, sockets, state, spool, logs) stays under the directory. The
daemons run in the foreground as children of the test, and are stopped by their process ids on exit.

This host is both controller and node, with its real memory. It declares 16 CPUs and 4 GPUs whatever
it has (`SlurmdParameters=config_overrides`; a GPU is a placeholder file), so that the slurm profile's
GPU jobs of 4 CPUs are scheduled as on a GPU node. With `gpus=0` it declares no GPU and no generic
resource at all (no `GresTypes`, `Gres` or gres.conf), as a CPU-only cluster: there `sbatch --gpus=1`
is refused ("Invalid generic resource (gres) specification"). There is no accounting (no slurmdbd), so the
executor needs `--slurm-no-account` and `--slurm-status-command squeue`.

Jobs' own `srun` calls find the configuration only at the compiled-in path, `/etc/slurm/slurm.conf`:
the executor's job step removes every SLURM_* variable, `SLURM_CONF` too, before it calls `srun`. The
cluster writes its files there, and removes them on exit (one cluster at a time: stop one before
starting the next). A machine with its own
`/etc/slurm/slurm.conf` is refused; the files of a run that was killed (they carry `MARK`) are replaced.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("mungekey", "sbatch", "squeue", "scancel", "scontrol", "sinfo", "srun")
SYSTEM_CONF = Path("/etc/slurm")
MARK = "# written by gradcorr's tests/slurm_cluster.py\n"
CPUS, GPUS = 16, 4


class ClusterUnavailable(RuntimeError):
    """SLURM cannot be started on this machine; the message says why."""


@dataclass
class Cluster:
    root: Path
    gpus: int = GPUS
    partition: str = "test"
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def log(self, daemon: str) -> str:
        path = self.root / f"{daemon}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def run(self, *command: str) -> str:
        """A SLURM client command's output (sinfo, squeue, scancel ...)."""
        return subprocess.run(command, env=self.env, capture_output=True, text=True, check=True, timeout=30).stdout


def why_unavailable() -> str | None:
    """Why this machine cannot run the cluster, or None."""
    if not sys.platform.startswith("linux"):
        return "SLURM daemons run on Linux only"
    if os.geteuid() != 0:
        return "the single-node cluster runs its daemons as root (SlurmUser=root); run the tests as root"
    missing = [name for name in DAEMONS + CLIENTS if shutil.which(name) is None
               and not Path("/usr/sbin", name).exists()]
    if missing:
        return f"{', '.join(missing)} not installed (Debian: apt-get install slurm-wlm munge, as .ci/run does)"
    conf = SYSTEM_CONF / "slurm.conf"
    if conf.exists() and not conf.read_text(errors="replace").startswith(MARK):  # MARK: ours, from a killed run
        return f"{conf} exists: this machine has its own SLURM, which the tests will not touch"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise ClusterUnavailable("no MemTotal in /proc/meminfo")


def write_config(cluster: Cluster, host: str) -> None:
    root = cluster.root
    (root / "state").mkdir(parents=True)
    (root / "spool").mkdir()
    for i in range(cluster.gpus):
        (root / f"gpu{i}").touch()
    lines = {
        "ClusterName": "gradcorr-test",
        "SlurmctldHost": host,
        "SlurmctldPort": free_port(),
        "SlurmdPort": free_port(),
        "SlurmUser": "root",
        "SlurmdUser": "root",
        "AuthType": "auth/munge",
        "CredType": "cred/munge",
        "AuthInfo": f"socket={root / 'munge.sock'}",
        "StateSaveLocation": root / "state",
        "SlurmdSpoolDir": root / "spool",
        "SlurmctldPidFile": root / "slurmctld.pid",
        "SlurmdPidFile": root / "slurmd.pid",
        "SlurmctldLogFile": root / "slurmctld.log",
        "SlurmdLogFile": root / "slurmd.log",
        "SlurmdParameters": "config_overrides",
        "ProctrackType": "proctrack/linuxproc",
        "TaskPlugin": "task/none",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_Core_Memory",
        "AccountingStorageType": "accounting_storage/none",
        "JobAcctGatherType": "jobacct_gather/none",
        "JobCompType": "jobcomp/none",
        "MpiDefault": "none",
        "ReturnToService": 2,
        "SchedulerParameters": "sched_interval=1",
        "MinJobAge": 600,
        **({"GresTypes": "gpu"} if cluster.gpus else {}),
    }
    text = MARK + "".join(f"{key}={value}\n" for key, value in lines.items())
    gres = f" Gres=gpu:{cluster.gpus}" if cluster.gpus else ""
    text += (f"NodeName={host} NodeAddr=127.0.0.1 CPUs={CPUS} RealMemory={memory_mb()}{gres} State=UNKNOWN\n"
             f"PartitionName={cluster.partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP\n")
    cluster.conf.write_text(text)
    if cluster.gpus:
        files = ",".join(str(root / f"gpu{i}") for i in range(cluster.gpus))
        (root / "gres.conf").write_text(f"{MARK}NodeName={host} Name=gpu File={files}\n")


def start(cluster: Cluster, name: str, *command: str) -> None:
    with open(cluster.root / f"{name}.out", "w") as out:  # the daemon keeps its own copy of the descriptor
        cluster.processes[name] = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=cluster.env,
                                                   start_new_session=True)


def wait_idle(cluster: Cluster, timeout: float = 60) -> None:
    """Wait until the node accepts jobs, or raise with the daemons' logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in cluster.processes.items():
            if process.poll() is not None:
                output = (cluster.root / f"{name}.out").read_text()[-1000:] + cluster.log(name)[-1000:]
                raise ClusterUnavailable(f"{name} exited with {process.returncode}: {output}")
        with contextlib.suppress(subprocess.SubprocessError):
            if cluster.run("sinfo", "-h", "-o", "%T").strip() == "idle":
                return
        time.sleep(0.5)
    raise ClusterUnavailable(f"the node was not idle after {timeout:.0f} s:\n" + cluster.log("slurmctld")[-1500:]
                             + cluster.log("slurmd")[-1500:])


def cancel_jobs(cluster: Cluster, timeout: float = 30) -> None:
    """Cancel the jobs still queued or running (a failed test's) and wait until they end, so that no job
    step outlives the daemons."""
    with contextlib.suppress(subprocess.SubprocessError):
        cluster.run("scancel", "--partition", cluster.partition)
        deadline = time.monotonic() + timeout
        while cluster.run("squeue", "-h", "-p", cluster.partition, "-t", "PD,R,CG") and time.monotonic() < deadline:
            time.sleep(0.5)


def stop(cluster: Cluster) -> None:
    """Cancel what still runs, then stop the daemons by their process ids: slurmd, slurmctld, munged."""
    if all(process.poll() is None for process in cluster.processes.values()):
        cancel_jobs(cluster)
    for name in reversed(list(cluster.processes)):
        process = cluster.processes[name]
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()


@contextlib.contextmanager
def start_cluster(root: Path, gpus: int = GPUS) -> Iterator[Cluster]:
    """Bring the cluster up under `root`, its node with `gpus` GPUs (0: none, and no generic resources);
    stop it, and remove what it put in /etc/slurm, on exit."""
    reason = why_unavailable()
    if reason:
        raise ClusterUnavailable(reason)
    cluster = Cluster(root, gpus)
    host = socket.gethostname().split(".")[0]
    write_config(cluster, host)
    SYSTEM_CONF.mkdir(exist_ok=True)
    placed = []
    try:
        for name in ("slurm.conf", "gres.conf"):
            if (root / name).exists():
                shutil.copy(root / name, SYSTEM_CONF / name)
                placed.append(SYSTEM_CONF / name)
            elif (SYSTEM_CONF / name).exists() and (SYSTEM_CONF / name).read_text(errors="replace").startswith(MARK):
                (SYSTEM_CONF / name).unlink()  # a GPU node's, left by a killed run
        key = root / "munge.key"
        subprocess.run(["mungekey", "-c", "-f", "-k", str(key)], check=True, capture_output=True)
        key.chmod(0o600)
        start(cluster, "munged", "munged", "-F", "-f", f"--key-file={key}", f"--socket={root / 'munge.sock'}",
              f"--pid-file={root / 'munged.pid'}", f"--log-file={root / 'munged.log'}",
              f"--seed-file={root / 'munged.seed'}")
        for _ in range(50):
            if (root / "munge.sock").exists():
                break
            time.sleep(0.1)
        start(cluster, "slurmctld", "slurmctld", "-D", "-i", "-f", str(cluster.conf))
        start(cluster, "slurmd", "slurmd", "-D", "-f", str(cluster.conf), "-N", host)
        wait_idle(cluster)
        yield cluster
    finally:
        stop(cluster)
        for path in placed:
            path.unlink(missing_ok=True)
