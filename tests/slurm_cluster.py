"""A one-node SLURM cluster on this host, started by hand (there is no systemd): munged, slurmctld, slurmd.

State, spool, logs and the job-completion log live in a scratch directory and the daemons listen on free
ports. slurm.conf itself must be at the default path, /etc/slurm/slurm.conf: the job-step executor of
snakemake-executor-plugin-slurm removes every SLURM_* variable (SLURM_CONF too) before its inner `srun`, so
a job would not find a configuration anywhere else. It is written only where none exists (a machine that is
not part of a cluster) and removed again by `stop()`. Only the daemons started here are stopped, by PID. Debian's `slurmctld slurmd slurm-client munge` must be installed
(`make system-deps`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")


def have_slurm() -> bool:
    return all(shutil.which(name) or Path("/usr/sbin", name).exists() for name in DAEMONS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_memory_mb() -> int:
    total_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                    if line.startswith("MemTotal:"))
    return int(total_kb / 1024 * 0.8)


def write_slurm_conf(root: Path, partitions: tuple[str, ...]) -> Path:
    host = socket.gethostname().split(".")[0]
    for sub in ("state", "spool", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    lines = [
        "ClusterName=genrec-test", f"SlurmctldHost={host}", "SlurmUser=root", "SlurmdUser=root",
        "AuthType=auth/munge", f"SlurmctldPort={free_port()}", f"SlurmdPort={free_port()}",
        f"StateSaveLocation={root}/state", f"SlurmdSpoolDir={root}/spool",
        f"SlurmctldPidFile={root}/slurmctld.pid", f"SlurmdPidFile={root}/slurmd.pid",
        f"SlurmctldLogFile={root}/log/slurmctld.log", f"SlurmdLogFile={root}/log/slurmd.log",
        # no cgroups in a container: plain process tracking, no task binding
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "MpiDefault=none",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_Core_Memory", "SchedulerType=sched/backfill",
        # no accounting database: finished jobs are recorded in a text file instead (what the test reads)
        "JobAcctGatherType=jobacct_gather/none", "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/filetxt", f"JobCompLoc={root}/log/jobcomp.txt",
        "ReturnToService=2", "MinJobAge=600", "SlurmdTimeout=60",
        f"NodeName={host} CPUs={os.cpu_count()} RealMemory={node_memory_mb()} State=UNKNOWN",
    ]
    lines += [f"PartitionName={name} Nodes={host} Default={'YES' if i == 0 else 'NO'} MaxTime=INFINITE State=UP"
              for i, name in enumerate(partitions)]
    (root / "slurm.conf").write_text("\n".join(lines) + "\n")
    return root / "slurm.conf"


class LocalSlurm:
    """Start with `start()`, stop with `stop()`; `env` is the environment for sbatch/squeue/snakemake."""

    def __init__(self, root: Path, partitions: tuple[str, ...] = ("cpu", "gpu")) -> None:
        self.root, self.partitions = root, partitions
        self.conf = write_slurm_conf(root, partitions)
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.started: list[subprocess.Popen] = []
        self.installed_conf: Path | None = None

    def install_conf(self) -> None:
        if SYSTEM_CONF.exists():
            raise RuntimeError(f"{SYSTEM_CONF} exists: this machine belongs to a SLURM cluster; run the test on "
                               "one that does not (the test cluster's configuration must go there)")
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.conf, SYSTEM_CONF)
        self.installed_conf = SYSTEM_CONF
        self.env["SLURM_CONF"] = str(SYSTEM_CONF)

    def _spawn(self, argv: list[str], name: str, **kwargs) -> None:
        log = open(self.root / "log" / f"{name}.out", "w")
        self.started.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, **kwargs))

    def munge_works(self) -> bool:
        probe = subprocess.run("munge -n | unmunge", shell=True, capture_output=True, timeout=10)
        return probe.returncode == 0

    def start(self, timeout: float = 60) -> None:
        if not self.munge_works():        # reuse a running munged; otherwise start one in the foreground
            Path("/run/munge").mkdir(parents=True, exist_ok=True)
            shutil.chown("/run/munge", "munge", "munge")
            self._spawn(["munged", "--foreground"], "munged", user="munge", group="munge")
            self._wait(self.munge_works, 15, "munged did not answer")
        self.install_conf()
        self._spawn(["slurmctld", "-D", "-f", str(self.conf)], "slurmctld")
        self._spawn(["slurmd", "-D", "-f", str(self.conf)], "slurmd")
        self._wait(self.node_idle, timeout, "the node did not become idle")

    def node_idle(self) -> bool:
        state = subprocess.run(["sinfo", "--noheader", "--format=%t"], capture_output=True, text=True,
                               env=self.env, timeout=10)
        return state.returncode == 0 and "idle" in state.stdout

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.started):
                break
            if ready():
                return
            time.sleep(0.5)
        self.stop()
        logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted((self.root / "log").glob("*")))
        raise RuntimeError(f"local SLURM cluster: {what} within {timeout:.0f} s\n{logs}")

    def completed_jobs(self) -> list[str]:
        """The job-completion log's records (one line per finished job)."""
        path = self.root / "log" / "jobcomp.txt"
        return path.read_text().splitlines() if path.exists() else []

    def stop(self) -> None:
        for process in reversed(self.started):
            process.terminate()
        for process in reversed(self.started):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.started.clear()
        if self.installed_conf is not None:
            self.installed_conf.unlink(missing_ok=True)
            self.installed_conf = None
