"""The SLURM executor, through the SLURM command line (sbatch, squeue, sacct, scancel).

pyslurm would avoid the subprocesses, but on the registry it exists only for Slurm 25.11 and
does not build against the 22.05 of Debian 12; the interface is kept narrow so a pyslurm
executor can slot in. ``--json`` output of 22.05 reports wrong exit codes, hence the
parsable forms. A status refresh is ONE ``sacct`` (the record) plus ONE ``squeue`` (the
live view) for every job of the night, whatever its size.

When slurmctld or slurmdbd does not answer, reads say so (``QueryResult.reachable`` /
``complete``) instead of raising; a submission that times out raises
``SchedulerUnavailable`` and is left to the journal's intent recovery, never retried
blindly (the first sbatch may have gone through).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import time
from collections.abc import Iterable

from osa_core.config import Config
from osa_core.errors import OsaError, SchedulerUnavailable
from osa_core.executors.api import EndResult, JobRecord, QueryResult, SubmitRequest
from osa_core.executors.slurm_parse import (
    SACCT_FIELDS,
    SQUEUE_FORMAT,
    parse_sacct,
    parse_squeue,
    reconcile,
)
from osa_core.jobs import JobSpec, compact_ranges
from osa_core.vocabulary import sorted_job_ids

UNREACHABLE_HINTS = (
    "Unable to contact slurm controller",
    "Socket timed out",
    "Connection refused",
    "Zero Bytes were transmitted",
    "Slurm accounting storage is disabled",
    "slurmdbd",
    "Problem talking to the database",
    "Communication connection failure",
    "Unable to establish controller machine",
)


class SlurmCommandError(OsaError):
    """sbatch/scancel refused the request (bad account, bad partition...)."""


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise SchedulerUnavailable(f"{argv[0]} did not answer within {timeout:.0f} s") from None
    except FileNotFoundError:
        raise SchedulerUnavailable(f"{argv[0]} not found: is the SLURM client installed?") from None


def _unreachable(stderr: str) -> bool:
    return any(hint.lower() in stderr.lower() for hint in UNREACHABLE_HINTS)


def slurm_available(config: Config) -> bool:
    """True when ``sinfo`` answers quickly (used by ``executor.kind = "auto"``)."""
    if shutil.which("sinfo") is None:
        return False
    try:
        return _run(["sinfo", "-h", "-o", "%a"], timeout=5).returncode == 0
    except SchedulerUnavailable:
        return False


def sbatch_argv(spec: JobSpec, request: SubmitRequest, account: str) -> list[str]:
    """The exact sbatch command (also shown in previews)."""
    kind = request.dependency_kind
    if kind not in ("afterok", "afterany"):
        raise ValueError(f"unsupported dependency kind {kind!r}")
    resources = request.resources or spec.resources
    argv = [
        "sbatch",
        "--parsable",
        f"--job-name={spec.name}",
        f"--comment={request.comment or spec.comment}",
        f"--mem-per-cpu={resources.memory.slurm()}",
        f"--time={resources.time.slurm()}",
        f"--cpus-per-task={resources.cpus}",
        f"--output={spec.output}",
        f"--error={spec.error}",
        f"--chdir={spec.workdir}",
        "--kill-on-invalid-dep=yes",
    ]
    if resources.partition:
        argv.append(f"--partition={resources.partition}")
    if account:
        argv.append(f"--account={account}")
    array = request.indices(spec)
    if array is not None:
        argv.append(f"--array={compact_ranges(array)}")  # raises on an empty list
    deps = [str(int(d)) for d in request.dependencies]
    if deps:
        argv.append(f"--dependency={kind}:{':'.join(deps)}")
    argv.append(str(spec.script))
    return argv


class SlurmExecutor:
    name = "slurm"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.timeout = float(config.slurm.command_timeout)

    def describe(self) -> str:
        return "SLURM"

    def submit(self, spec: JobSpec, request: SubmitRequest | None = None) -> str:
        request = request or SubmitRequest()
        argv = sbatch_argv(spec, request, self.config.slurm.account)
        result = _run(argv, self.timeout)
        if result.returncode != 0:
            message = " ".join(result.stderr.split())[:300]
            if _unreachable(result.stderr):
                raise SchedulerUnavailable(f"sbatch: {message}")
            raise SlurmCommandError(f"sbatch refused {spec.name}: {message}")
        job_id = result.stdout.strip().split(";")[0]
        if not job_id.isdigit():
            raise SlurmCommandError(f"sbatch printed no job id: {result.stdout.strip()!r}")
        return job_id

    def _read(self, argv: list[str]) -> tuple[str | None, str]:
        """Run a read-only command with one retry after a short back-off."""
        message = ""
        for attempt in range(2):
            try:
                result = _run(argv, self.timeout)
            except SchedulerUnavailable as err:
                message = str(err)
            else:
                if result.returncode == 0:
                    return result.stdout, ""
                message = f"{argv[0]}: {' '.join(result.stderr.split())[:200]}"
            if attempt == 0:
                time.sleep(1.0)
        return None, message

    def query(self, job_ids: Iterable[str]) -> QueryResult:
        ids = sorted_job_ids(str(int(j)) for j in job_ids)
        if not ids:
            return QueryResult()
        joined = ",".join(ids)
        start = (dt.date.today() - dt.timedelta(days=60)).isoformat()
        sacct_out, sacct_err = self._read(
            [
                "sacct",
                "--parsable2",
                "--noheader",
                "--duplicates",  # every run of a task SLURM requeued, not only the last
                "-S",
                start,
                "-j",
                joined,
                "-o",
                ",".join(SACCT_FIELDS),
            ]
        )
        # Not `squeue -j ids`: squeue refuses the whole list ("Invalid job id specified")
        # as soon as one job has been purged from the controller, which happens minutes
        # after it ends. All of our own jobs, filtered here, is one call that always works.
        squeue_out, squeue_err = self._read(
            ["squeue", "--me", "-h", "-r", "-t", "all", "-o", SQUEUE_FORMAT]
        )
        wanted = set(ids)
        record = parse_sacct(sacct_out) if sacct_out is not None else None
        sacct = record.tasks if record is not None else {}
        squeue = {}
        if squeue_out is not None:
            squeue = {k: v for k, v in parse_squeue(squeue_out).tasks.items() if k[0] in wanted}
        tasks = reconcile(
            sacct,
            squeue,
            squeue_answered=squeue_out is not None,
            requeued=record.requeued if record is not None else None,
        )
        messages = [m for m in (sacct_err, squeue_err) if m]
        return QueryResult(
            tasks=list(tasks.values()),
            reachable=squeue_out is not None,
            complete=sacct_out is not None and squeue_out is not None,
            message="; ".join(messages),
        )

    def release_held(self, job_ids: Iterable[str]) -> list[str]:
        """Release jobs SLURM held after a launch failure (it does that to jobs being
        launched when slurmctld restarts: "launch failed requeued held"); they would stay
        pending forever otherwise. Returns the released job ids."""
        held = sorted_job_ids(str(int(j)) for j in job_ids)
        if held:
            result = _run(["scontrol", "release", *held], self.timeout)
            if result.returncode != 0:
                return []
        return held

    def end_lost(self, job_ids: Iterable[str]) -> EndResult:
        """Free what waits on jobs SLURM lost the end of, then cancel them. ``scontrol
        update Dependency=`` takes the rewritten list (empty clears it). A job whose
        dependants could not be unhooked is NOT cancelled: with ``--kill-on-invalid-dep``
        cancelling it would kill them."""
        gone = {j for j in job_ids if j.isdigit()}
        if not gone:
            return EndResult()
        out, err = self._read(["squeue", "--me", "-h", "-t", "PENDING", "-o", "%F|%E"])
        if out is None:
            raise SchedulerUnavailable(f"cannot read dependencies: {err}")
        refused: dict[str, str] = {}
        rewritten: set[str] = set()
        for line in out.splitlines():
            job, _, dependency = line.partition("|")
            job = job.strip()
            if job in rewritten or not job.isdigit():
                continue
            ids = {part.split("_")[0] for part in re.findall(r":(\d+(?:_\*)?)", dependency)}
            if not ids & gone:
                continue
            rewritten.add(job)
            new = rewrite_dependency(dependency, gone)
            result = _run(["scontrol", "update", f"JobId={job}", f"Dependency={new}"], self.timeout)
            if result.returncode != 0:
                why = " ".join(result.stderr.split())[:200] or f"exit code {result.returncode}"
                for lost in ids & gone:
                    refused[lost] = f"could not unhook job {job} from it ({why}): not cancelled"
        targets = sorted_job_ids(gone - set(refused))
        if not targets:
            return EndResult(refused=refused)
        result = _run(["scancel", *targets], self.timeout)
        if result.returncode != 0:
            why = " ".join(result.stderr.split())[:200]
            return EndResult(refused={**refused, **{j: f"scancel failed: {why}" for j in targets}})
        return EndResult(ended=targets, refused=refused)

    def count_pending(self, name_prefix: str) -> int:
        out, err = self._read(["squeue", "--me", "-h", "-r", "-t", "PENDING", "-o", "%j"])
        if out is None:
            raise SchedulerUnavailable(f"cannot count pending jobs: {err}")
        return sum(1 for line in out.splitlines() if line.startswith(name_prefix))

    def find_jobs(self, name_prefix: str) -> list[JobRecord]:
        found: dict[str, JobRecord] = {}
        start = (dt.date.today() - dt.timedelta(days=7)).isoformat()
        out, err = self._read(["squeue", "--me", "-h", "-t", "all", "-o", "%F|%j|%k"])
        if out is None:
            raise SchedulerUnavailable(f"cannot look for our jobs: {err}")
        for line in out.splitlines():
            job, _, rest = line.partition("|")
            name, _, comment = rest.partition("|")
            if name.startswith(name_prefix) and job.strip().isdigit():
                found[job.strip()] = JobRecord(job.strip(), name, comment)
        out, err = self._read(
            [
                "sacct",
                "-X",
                "--parsable2",
                "--noheader",
                "-S",
                start,
                "-o",
                "JobID,JobName,Comment",  # not JobIDRaw: an array task's raw id is its own
            ]
        )
        if out is None:
            raise SchedulerUnavailable(f"cannot look for our jobs: {err}")
        for line in out.splitlines():
            job, _, rest = line.partition("|")
            name, _, comment = rest.partition("|")
            job = job.strip().split("_")[0]
            if name.startswith(name_prefix) and job.isdigit():
                found.setdefault(job, JobRecord(job, name, comment))
        return list(found.values())

    def cancel(self, job_ids: Iterable[str], indices: Iterable[int] | None = None) -> None:
        ids = [str(int(j)) for j in job_ids]
        if not ids:
            return
        if indices is not None:
            ranges = compact_ranges(list(indices))
            targets = [f"{job}_[{ranges}]" for job in ids]
        else:
            targets = ids
        result = _run(["scancel", *targets], self.timeout)
        if result.returncode != 0:
            message = " ".join(result.stderr.split())[:300]
            if _unreachable(result.stderr):
                raise SchedulerUnavailable(f"scancel: {message}")
            raise SlurmCommandError(f"scancel: {message}")


def rewrite_dependency(dependency: str, gone: set[str]) -> str:
    """A squeue ``%E`` dependency without the jobs in ``gone``, in ``--dependency`` form:
    ``afterok:14956(unfulfilled),afterany:14957_*(unfulfilled)`` minus {14956} →
    ``afterany:14957_*``. Empty when nothing is left."""
    kept = []
    for entry in dependency.split(","):
        entry = entry.split("(")[0].strip()
        if not entry or entry == "(null)" or ":" not in entry:
            continue
        kind, *ids = entry.split(":")
        ids = [i for i in ids if i.split("_")[0] not in gone]
        if ids:
            kept.append(":".join([kind, *ids]))
    return ",".join(kept)
