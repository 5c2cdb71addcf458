"""An in-process executor that runs nothing: every submitted task stays PENDING.

For what needs nights *started* (scripts written, submissions journaled, the pending cap
counted) without any job running: the campaign benchmark (bench/campaign.py measures our
side of a pass, not sbatch) and the campaign console tests. It implements the executor
interface of osa_core/executors/base.py and nothing more; never selected by a config.
"""

from __future__ import annotations

from collections.abc import Iterable

from osa_core.executors.api import EndResult, JobRecord, QueryResult, SubmitRequest, TaskState
from osa_core.jobs import JobSpec
from osa_core.vocabulary import State


class PendingExecutor:
    name = "pending"

    def __init__(self) -> None:
        self.jobs: dict[str, tuple[str, str, tuple[int, ...] | None]] = {}

    def submit(self, spec: JobSpec, request: SubmitRequest | None = None) -> str:
        request = request or SubmitRequest()
        job_id = str(1000 + len(self.jobs))
        indices = request.indices(spec)
        self.jobs[job_id] = (spec.name, request.comment or spec.comment, indices)
        return job_id

    def query(self, job_ids: Iterable[str]) -> QueryResult:
        tasks = []
        for job_id in job_ids:
            if job_id not in self.jobs:
                continue
            name, comment, indices = self.jobs[job_id]
            for index in indices if indices is not None else (None,):
                tasks.append(TaskState(job_id, index, State.PENDING, name=name, comment=comment))
        return QueryResult(tasks=tasks)

    def find_jobs(self, name_prefix: str) -> list[JobRecord]:
        return [
            JobRecord(job_id, name, comment)
            for job_id, (name, comment, _) in self.jobs.items()
            if name.startswith(name_prefix)
        ]

    def cancel(self, job_ids: Iterable[str], indices: Iterable[int] | None = None) -> None:
        for job_id in job_ids:
            self.jobs.pop(job_id, None)

    def describe(self) -> str:
        return "pending (nothing runs)"

    def end_lost(self, job_ids: Iterable[str]) -> EndResult:
        return EndResult()

    def release_held(self, job_ids: Iterable[str]) -> list[str]:
        return []

    def count_pending(self, name_prefix: str) -> int:
        return sum(
            len(indices) if indices is not None else 1
            for name, _, indices in self.jobs.values()
            if name.startswith(name_prefix)
        )
