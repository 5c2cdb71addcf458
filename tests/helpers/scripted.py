"""An in-process executor that answers what a test scripts (a stand-in for SLURM's answer
where a test checks a rule, not a scheduler) and counts every call it receives."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from osa_core.executors.api import EndResult, JobRecord, QueryResult, SubmitRequest, TaskState
from osa_core.jobs import JobSpec
from osa_core.vocabulary import State


class ScriptedExecutor:
    name = "scripted"

    def __init__(self, tasks: Iterable[TaskState] = (), *, reachable: bool = True) -> None:
        self.tasks = list(tasks)
        self.reachable = reachable
        self.calls: Counter[str] = Counter()
        self.submitted: list[tuple[str, tuple[int, ...] | None, tuple[str, ...], str]] = []
        self.cancelled: list[str] = []
        self.ended: list[str] = []

    def describe(self) -> str:
        return "scripted executor"

    def submit(self, spec: JobSpec, request: SubmitRequest | None = None) -> str:
        self.calls["submit"] += 1
        request = request or SubmitRequest()
        job_id = str(1000 + len(self.submitted))
        indices = request.indices(spec)
        self.submitted.append((spec.name, indices, request.dependencies, request.dependency_kind))
        for index in indices if indices is not None else (None,):
            self.tasks.append(
                TaskState(
                    job_id, index, State.PENDING, name=spec.name, comment=request.comment or ""
                )
            )
        return job_id

    def query(self, job_ids: Iterable[str]) -> QueryResult:
        self.calls["query"] += 1
        if not self.reachable:
            return QueryResult(reachable=False, complete=False, message="scripted: down")
        wanted = set(job_ids)
        return QueryResult(tasks=[t for t in self.tasks if t.job_id in wanted])

    def find_jobs(self, name_prefix: str) -> list[JobRecord]:
        self.calls["find_jobs"] += 1
        return [
            JobRecord(t.job_id, t.name, t.comment)
            for t in self.tasks
            if t.name.startswith(name_prefix)
        ]

    def cancel(self, job_ids: Iterable[str], indices: Iterable[int] | None = None) -> None:
        self.calls["cancel"] += 1
        self.cancelled += list(job_ids)

    def release_held(self, job_ids: Iterable[str]) -> list[str]:
        self.calls["release_held"] += 1
        return list(job_ids)

    def end_lost(self, job_ids: Iterable[str]) -> EndResult:
        self.calls["end_lost"] += 1
        self.ended += list(job_ids)
        return EndResult(ended=list(job_ids))

    def count_pending(self, name_prefix: str) -> int:
        return sum(
            1 for t in self.tasks if t.state == State.PENDING and t.name.startswith(name_prefix)
        )
