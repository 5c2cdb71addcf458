"""The executor interface: what the engine needs from any place that runs jobs.

An executor submits a ``JobSpec`` (optionally with a narrower array, dependencies and
overridden resources), answers what state each task is in, and cancels. This module never
imports an implementation (``local``, ``slurm``, ``pending``): they import it, and
``osa_core.executors.factory`` picks one. States are ``osa_core.vocabulary.State``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from osa_core.config import JobResources
from osa_core.jobs import JobSpec
from osa_core.vocabulary import FINAL_STATES, State


@dataclass(frozen=True)
class TaskState:
    """One task (an array element, or a plain job) as the scheduler reports it."""

    job_id: str
    index: int | None
    state: State
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
class SubmitRequest:
    """How one job is submitted, beyond its spec: what a retry or a chain changes."""

    array: tuple[int, ...] | None = None  # None: the spec's own array
    dependencies: tuple[str, ...] = ()
    resources: JobResources | None = None  # None: the spec's own resources
    comment: str | None = None
    dependency_kind: str = "afterok"

    def indices(self, spec: JobSpec) -> tuple[int, ...] | None:
        return self.array if self.array is not None else spec.array


@dataclass(frozen=True)
class JobRecord:
    """A job found by its name/comment: how a submission lost in a crash is found again."""

    job_id: str
    name: str
    comment: str


@dataclass
class EndResult:
    """What ``end_lost`` did: the jobs ended, and those kept with the reason."""

    ended: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


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

    def submit(self, spec: JobSpec, request: SubmitRequest | None = None) -> str:
        """Submit; return the job id. The request narrows the array, adds dependencies,
        overrides resources (a retry with more memory); None submits the spec as it is."""
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

    def release_held(self, job_ids: Iterable[str]) -> list[str]:
        """Release jobs the scheduler held by itself (not by an operator); return their ids."""
        ...

    def end_lost(self, job_ids: Iterable[str]) -> EndResult:
        """End jobs whose end the scheduler lost (osa_core/rules/lost_ends.py): drop them
        from the dependencies of our pending jobs, then cancel them; never cancel one whose
        dependants could not be unhooked."""
        ...

    def count_pending(self, name_prefix: str) -> int:
        """How many of our tasks (job names starting with the prefix) are pending: the
        pending-job cap of campaigns is checked with one call."""
        ...
