"""What the rules decide and ``osa_core.dispatch`` carries out: a list of intents.

An intent is plain data (no executor, no file handle): a job to submit, jobs to cancel,
jobs whose end the scheduler lost, held jobs to release, a journal record to write. A
preview prints the decision itself, so what a shifter confirms is, by construction, what
runs; the journal records each intent as it is carried out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from osa_core.config import JobResources
from osa_core.jobs import compact_ranges
from osa_core.vocabulary import JobKind


@dataclass(frozen=True)
class Ref:
    """A job submitted earlier in the same decision (by its position): its id is known only
    once it is submitted, so a chain (calibration → data → close) is decided at once."""

    position: int

    def __str__(self) -> str:
        return f"#{self.position + 1}"


Dependency = str | Ref


@dataclass(frozen=True)
class PlannedJob:
    """A job to submit (the preview), or submitted (with its id)."""

    run: int
    kind: str
    indices: tuple[int, ...] | None
    resources: JobResources
    dependencies: tuple[Dependency, ...]
    attempt: int
    purpose: str
    reason: str = ""
    job_id: str = ""
    dependency_kind: str = "afterok"
    force: bool = False  # a close forced by an operator (closes what is there)

    def describe(self) -> str:
        array = f" --array={compact_ranges(self.indices)}" if self.indices else ""
        deps = (
            f" --dependency={self.dependency_kind}:{':'.join(str(d) for d in self.dependencies)}"
            if self.dependencies
            else ""
        )
        job = f" -> job {self.job_id}" if self.job_id else ""
        why = f"  ({self.reason})" if self.reason else ""
        what = f"run {self.run:05d}" if self.run else "night"
        return (
            f"{self.purpose} {self.kind.lower()} {what}{array} "
            f"--mem-per-cpu={self.resources.memory.slurm()} "
            f"--time={self.resources.time.slurm()}{deps}{job}{why}"
        )

    def resolved(self, ids: list[str]) -> PlannedJob:
        """With references to jobs of the same decision replaced by their ids."""
        deps = tuple(ids[d.position] if isinstance(d, Ref) else d for d in self.dependencies)
        return replace(self, dependencies=deps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "kind": self.kind,
            "indices": list(self.indices or []),
            "memory": str(self.resources.memory),
            "time": str(self.resources.time),
            "dependencies": [str(d) for d in self.dependencies],
            "attempt": self.attempt,
            "purpose": self.purpose,
            "reason": self.reason,
            "job_id": self.job_id,
        }


@dataclass(frozen=True)
class Cancel:
    """Cancel these jobs (every task of each)."""

    job_ids: tuple[str, ...]
    runs: tuple[int, ...] | None
    reason: str


@dataclass(frozen=True)
class EndLost:
    """Jobs the scheduler calls active although their work is done (``rules.lost_ends``):
    unhook them from what waits on them, then cancel them."""

    job_ids: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class Release:
    """Jobs the scheduler held by itself after a launch failure."""

    job_ids: tuple[str, ...]


@dataclass(frozen=True)
class Record:
    """A journal record to write (give-up, override, settled intent...)."""

    action: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteFlag:
    """A flag file the site reads (``GainSelFinished``), written once, and journaled."""

    path: Path
    text: str
    action: str  # the journal record that says it was written, and why
    reason: str


Intent = PlannedJob | Cancel | EndLost | Release | Record | WriteFlag


@dataclass
class Decision:
    """What a rule decided: intents in order, what it left and why, and a refusal (a
    reason the whole request may not run now, e.g. the scheduler is unreachable)."""

    intents: list[Intent] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    refusal: str = ""
    armed: bool = False  # the decision arms a close after its data jobs

    @property
    def jobs(self) -> list[PlannedJob]:
        return [i for i in self.intents if isinstance(i, PlannedJob)]

    def extend(self, other: Decision) -> None:
        """Append another decision's intents, renumbering its references."""
        offset = len(self.jobs)
        for intent in other.intents:
            if isinstance(intent, PlannedJob):
                intent = replace(
                    intent,
                    dependencies=tuple(
                        Ref(d.position + offset) if isinstance(d, Ref) else d
                        for d in intent.dependencies
                    ),
                )
            self.intents.append(intent)
        self.skipped += other.skipped
        self.armed = self.armed or other.armed


@dataclass
class SubmitReport:
    """A submission decision as the faces print it: the jobs (to be) submitted, the runs
    left and why, and the close armed after them."""

    jobs: list[PlannedJob] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    dry_run: bool = False
    armed: list[PlannedJob] = field(default_factory=list)

    @classmethod
    def of(
        cls, jobs: list[PlannedJob], skipped: list[tuple[int, str]], dry_run: bool
    ) -> SubmitReport:
        return cls(
            jobs=[j for j in jobs if not _is_close(j)],
            skipped=list(skipped),
            dry_run=dry_run,
            armed=[j for j in jobs if _is_close(j)],
        )

    def job_ids(self) -> dict[int, str]:
        return {job.run: job.job_id for job in self.jobs if job.job_id}

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "jobs": [j.to_dict() for j in self.jobs],
            "skipped": [{"run": r, "reason": why} for r, why in self.skipped],
            "armed": [j.to_dict() for j in self.armed],
        }

    def summary(self) -> str:
        verb = "would submit" if self.dry_run else "submitted"
        tasks = sum(len(j.indices or (0,)) for j in self.jobs)
        lines = [f"{verb} {len(self.jobs)} job(s), {tasks} task(s)"]
        lines += [f"  {job.describe()}" for job in self.jobs]
        lines += [f"  skipped run {run:05d}: {why}" for run, why in self.skipped]
        if self.armed:
            ids = ", ".join(j.job_id for j in self.armed if j.job_id)
            which = f"job(s) {ids}" if ids else "a close chain"
            lines.append(
                f"  close armed: {which} will close the night as soon as its last subrun ends"
            )
        return "\n".join(lines)


def _is_close(job: PlannedJob) -> bool:
    return JobKind(job.kind).is_close
