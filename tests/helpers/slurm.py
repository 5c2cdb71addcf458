"""The local SLURM cluster seen from the tests: is it usable, and what did a test leave
changed on it (a node DOWN or DRAINED, a partition DOWN, a test reservation, a daemon
stopped with SIGSTOP). Every SLURM test ends with ``restore_cluster`` (tests/conftest.py):
whatever a test left changed is put back and the test fails loudly, so no later test (or
developer sharing the cluster) inherits it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

DAEMONS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd")
#: Reservations the tests create are named so: the guard deletes only these.
TEST_RESERVATION_PREFIX = "osa_test"
T = TypeVar("T")


def run(*cmd: str, timeout: float = 30, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )


def cluster_problem() -> str | None:
    """Why the cluster cannot be used, or None when it can."""
    for tool in ("scontrol", "sinfo", "sbatch", "sacct", "squeue"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (run scripts/slurm-local up)"
    try:
        ping = run("scontrol", "ping", timeout=15)  # answers at once, sinfo waits ~9 s
    except subprocess.TimeoutExpired:
        return "scontrol ping timed out (run scripts/slurm-local up)"
    if "is UP" not in ping.stdout:
        return "no SLURM cluster up (scontrol ping: slurmctld DOWN); run scripts/slurm-local up"
    try:
        sinfo = run("sinfo", "-h", "-o", "%T", timeout=15)
    except subprocess.TimeoutExpired:
        return "sinfo timed out: slurmctld not answering (run scripts/slurm-local up)"
    if sinfo.returncode != 0:
        reason = sinfo.stderr.strip()[:200]
        return f"no SLURM cluster up (sinfo: {reason}); run scripts/slurm-local up"
    if not any(node_usable(state) for state in sinfo.stdout.split()):
        return f"no usable SLURM node (sinfo states: {sinfo.stdout.split()})"
    try:
        sacct = run("sacct", "-n", "-X", "-S", "now", timeout=15)
    except subprocess.TimeoutExpired:
        return "sacct timed out: slurmdbd not answering (run scripts/slurm-local up)"
    if sacct.returncode != 0:
        return f"SLURM accounting not answering (sacct: {sacct.stderr.strip()[:200]})"
    return None


def daemon_pids(name: str) -> list[int]:
    out = run("pgrep", "-x", name)
    return [int(p) for p in out.stdout.split()]


def stopped(pid: int) -> bool:
    """The process is stopped (SIGSTOP): state T in /proc/PID/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] in ("T", "t")


def nodes() -> dict[str, tuple[str, str]]:
    """Node → (state, reason) as sinfo says."""
    out = run("sinfo", "-h", "-N", "-o", "%N|%T|%E")
    result = {}
    for line in out.stdout.splitlines():
        node, state, reason = [*line.split("|"), "", ""][:3]
        result[node] = (state, reason)
    return result


def node_out_of_service(state: str) -> bool:
    """DOWN, DRAINED/DRAINING, FAIL, or in a maintenance reservation: what a test does to a
    node (``unknown`` for a few seconds after a slurmctld restart is not)."""
    word = state.lower()
    return any(bad in word for bad in ("down", "drain", "fail", "maint"))


def node_usable(state: str) -> bool:
    """The node takes jobs (``planned``: 22.05's backfill planned a job on it, for a few
    seconds after jobs end)."""
    return state.rstrip("*~#$@^-!%").lower() in {
        "idle",
        "mixed",
        "allocated",
        "completing",
        "planned",
    }


def partitions() -> dict[str, str]:
    """Partition → its State (UP, DOWN, DRAIN, INACTIVE)."""
    out = run("scontrol", "show", "partition", "-o")
    result = {}
    for line in out.stdout.splitlines():
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if "PartitionName" in fields:
            result[fields["PartitionName"]] = fields.get("State", "")
    return result


def reservations() -> list[str]:
    out = run("scontrol", "show", "reservation", "-o")
    names = []
    for line in out.stdout.splitlines():
        for part in line.split():
            if part.startswith("ReservationName="):
                names.append(part.split("=", 1)[1])
    return names


def wait_for(what: Callable[[], T], timeout: float, step: float = 0.5) -> T:
    """Poll ``what()`` until it is truthy (returned) or ``timeout`` passes (the last,
    falsy, value is returned)."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def resume_node(node: str = "localhost", timeout: float = 30) -> None:
    """``scontrol update state=resume`` (refused for a node that is not down/drained:
    harmless), then wait until the node takes jobs again."""
    run("scontrol", "update", f"nodename={node}", "state=resume")
    state = wait_for(lambda: node_usable(nodes().get(node, ("unknown", ""))[0]), timeout)
    assert state, f"node {node} not back in service: {nodes().get(node)}"


def restore_cluster() -> list[str]:
    """Put back what a test left changed; return what it was (empty: nothing)."""
    left = []
    for daemon in DAEMONS:
        for pid in daemon_pids(daemon):
            if stopped(pid):
                os.kill(pid, signal.SIGCONT)
                left.append(f"{daemon} (pid {pid}) was stopped: SIGCONT sent")
    for name in reservations():
        if name.startswith(TEST_RESERVATION_PREFIX):
            run("scontrol", "delete", f"reservationname={name}")
            left.append(f"reservation {name} was left: deleted")
    for name, state in partitions().items():
        if state.upper() != "UP":
            run("scontrol", "update", f"partitionname={name}", "state=up")
            left.append(f"partition {name} was {state}: set UP")
    for node, (state, reason) in nodes().items():
        if node_out_of_service(state):
            run("scontrol", "update", f"nodename={node}", "state=resume")
            left.append(f"node {node} was {state} ({reason}): resumed")
    return left


def night_job_ids(journal_file: Path) -> list[str]:
    """Every job id a night's journal says was submitted."""
    from osa_core.journal import Journal

    return sorted({s.job_id for s in Journal(journal_file).read().submissions})


def cancel_jobs(job_ids: list[str]) -> None:
    if job_ids:
        run("scancel", *job_ids, timeout=60)


def squeue_tasks(job_id: str) -> dict[str, tuple[str, str]]:
    """Task id (``12_3``, ``12``) → (state, reason) as squeue shows it now."""
    out = run("squeue", "-h", "-r", "-t", "all", "-j", job_id, "-o", "%i|%T|%r")
    tasks = {}
    for line in out.stdout.splitlines():
        task, state, reason = [*line.split("|", 2), "", ""][:3]
        tasks[task] = (state, reason)
    return tasks
