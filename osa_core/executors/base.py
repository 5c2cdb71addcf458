"""The executor interface and the job-state vocabulary (SLURM's, used by every executor).

An executor submits a ``JobSpec`` (optionally with a narrower array, dependencies and
overridden resources), answers what state each task is in, and cancels. Nothing else in the
engine knows which executor runs; the choice is made once, in ``get_executor``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from osa_core.config import Config, JobResources
from osa_core.jobs import JobSpec

PENDING = "PENDING"
RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
TIMEOUT = "TIMEOUT"
OUT_OF_MEMORY = "OUT_OF_MEMORY"
NODE_FAIL = "NODE_FAIL"
PREEMPTED = "PREEMPTED"
BOOT_FAIL = "BOOT_FAIL"
DEADLINE = "DEADLINE"

ACTIVE_STATES = frozenset(
    {
        PENDING,
        RUNNING,
        "REQUEUED",
        "RESIZING",
        "SUSPENDED",
        "CONFIGURING",
        "COMPLETING",
        "REQUEUE_HOLD",
        "REQUEUE_FED",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
        "RESV_DEL_HOLD",
    }
)
FAILED_STATES = frozenset(
    {FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, PREEMPTED, BOOT_FAIL, DEADLINE}
)
FINAL_STATES = FAILED_STATES | {COMPLETED}


@dataclass(frozen=True)
class TaskState:
    """One task (an array element, or a plain job) as the scheduler reports it."""

    job_id: str
    index: int | None
    state: str
    exit_code: int | None = None
    signal: int | None = None
    elapsed: float | None = None
    cpu: float | None = None
    max_rss: int | None = None
    reason: str = ""
    name: str = ""
    comment: str = ""
    started: dt.datetime | None = None
    ended: dt.datetime | None = None

    @property
    def key(self) -> tuple[str, int | None]:
        return (self.job_id, self.index)

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES


@dataclass(frozen=True)
class JobRecord:
    """A job found by its name/comment: how a submission lost in a crash is found again."""

    job_id: str
    name: str
    comment: str


@dataclass
class QueryResult:
    """Tasks of the asked jobs, with whether the scheduler fully answered.

    ``complete`` is False when part of the scheduler did not answer (e.g. slurmdbd down
    while slurmctld answers): the caller must not conclude "failed" or "done" from it.
    """

    tasks: list[TaskState] = field(default_factory=list)
    reachable: bool = True
    complete: bool = True
    message: str = ""
    as_of: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))


class Executor(Protocol):
    """What the engine needs from any place that runs jobs."""

    name: str

    def submit(
        self,
        spec: JobSpec,
        *,
        array: tuple[int, ...] | None = None,
        dependencies: Iterable[str] = (),
        resources: JobResources | None = None,
        comment: str | None = None,
        dependency_kind: str = "afterok",
    ) -> str:
        """Submit; return the job id. ``array=None`` keeps the spec's array."""
        ...

    def query(self, job_ids: Iterable[str]) -> QueryResult:
        """States of every task of these jobs, in one call to the scheduler."""
        ...

    def find_jobs(self, name_prefix: str) -> list[JobRecord]:
        """Our jobs whose name starts with ``name_prefix`` (to recover after a crash)."""
        ...

    def cancel(self, job_ids: Iterable[str], indices: Iterable[int] | None = None) -> None:
        """Cancel whole jobs, or only some array indices of them."""
        ...

    def describe(self) -> str:
        """One line for headers: which executor, reachable or not."""
        ...

    def release_held(self, tasks: Iterable[TaskState]) -> list[str]:
        """Release jobs the scheduler held by itself (not by an operator); return their ids."""
        ...

    def end_lost(self, job_ids: Iterable[str]) -> list[str]:
        """End jobs whose end the scheduler lost (osa_core/lost_ends.py): drop them from the
        dependencies of our pending jobs, then cancel them; return the ids ended."""
        ...

    def count_pending(self, name_prefix: str) -> int:
        """How many of our tasks (job names starting with the prefix) are pending: the
        pending-job cap of campaigns is checked with one call."""
        ...


def get_executor(config: Config) -> Executor:
    """The configured executor; ``auto`` means SLURM when its controller answers."""
    kind = config.executor.kind
    if kind == "auto":
        from osa_core.executors.slurm import slurm_available

        kind = "slurm" if slurm_available(config) else "local"
    if kind == "slurm":
        from osa_core.executors.slurm import SlurmExecutor

        return SlurmExecutor(config)
    from osa_core.executors.local import LocalExecutor

    return LocalExecutor(config)
