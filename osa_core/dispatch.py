"""Carry out a decision: submit, cancel, end, release, record — and journal each act.

The only module that changes the world for a night. Submission follows the journal's
crash protocol: an ``intent`` record (with a token that also goes into the job's comment)
before the scheduler is asked, a ``submitted`` record after, so a job submitted just
before a crash is found again (``osa_core.snapshot.settle_intents``) instead of being
submitted twice. Nothing here decides: the intents come from ``osa_core.rules``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from osa_core.closing.jobs import close_specs
from osa_core.errors import SchedulerUnavailable
from osa_core.executors.api import Executor, SubmitRequest
from osa_core.faults import fault_point
from osa_core.frozen_config import freeze
from osa_core.fsio import ensure_dir, write_text_atomic
from osa_core.intents import Cancel, Decision, EndLost, PlannedJob, Record, Release, WriteFlag
from osa_core.jobs import JobSpec, job_spec, render_script, write_scripts
from osa_core.journal import Journal
from osa_core.snapshot import NightSnapshot
from osa_core.vocabulary import JobKind


@dataclass
class Acted:
    """What was done: jobs with their ids, jobs ended, cancelled, released, refused."""

    jobs: list[PlannedJob] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


def act(snapshot: NightSnapshot, executor: Executor, decision: Decision) -> Acted:
    """Carry out every intent in order; a reference to a job of the same decision is
    replaced by its id once that job is submitted."""
    journal = Journal(snapshot.paths.journal)
    specs = _Specs(snapshot)
    done = Acted()
    ids: list[str] = []
    for intent in decision.intents:
        if isinstance(intent, PlannedJob):
            job = intent.resolved(ids)
            job_id = submit_one(executor, journal, specs.of(job), job)
            ids.append(job_id)
            done.jobs.append(replace(job, job_id=job_id))
        elif isinstance(intent, Record):
            journal.append(intent.action, **intent.fields)
        elif isinstance(intent, Cancel):
            executor.cancel(list(intent.job_ids))
            journal.append(
                "cancel",
                job_ids=list(intent.job_ids),
                runs=list(intent.runs) if intent.runs else None,
                reason=intent.reason,
            )
            done.cancelled += intent.job_ids
        elif isinstance(intent, EndLost):
            result = executor.end_lost(list(intent.job_ids))
            if result.ended:
                journal.append("ended_lost", job_ids=result.ended, reason=intent.reason)
                done.ended += result.ended
                done.lines += [f"ended job {j}: {intent.reason}" for j in result.ended]
            for job_id, why in result.refused.items():
                journal.append("end_refused", job_ids=[job_id], reason=why)
                done.refused[job_id] = why
                done.lines.append(f"job {job_id} not ended: {why}")
        elif isinstance(intent, Release):
            released = executor.release_held(list(intent.job_ids))
            if released:
                journal.append(
                    "released",
                    job_ids=released,
                    reason="held by the scheduler after a launch failure",
                )
                done.released += released
        elif isinstance(intent, WriteFlag):
            ensure_dir(intent.path.parent)
            write_text_atomic(intent.path, intent.text)
            journal.append(intent.action, path=str(intent.path), reason=intent.reason)
            done.lines.append(f"wrote {intent.path}: {intent.reason}")
    return done


class _Specs:
    """Job specs and their scripts, written once per decision and only when needed."""

    def __init__(self, snapshot: NightSnapshot) -> None:
        self.snapshot = snapshot
        self.data: dict[tuple[int, JobKind], JobSpec] | None = None
        self.close: dict[tuple[str, bool], JobSpec] = {}

    def of(self, job: PlannedJob) -> JobSpec:
        config, plan = self.snapshot.config, self.snapshot.plan
        if JobKind(job.kind).is_close:
            key = (job.kind, job.force)
            if key not in self.close:
                frozen, _ = freeze(config, self.snapshot.paths.state_dir)
                _, runs_spec, night_spec = close_specs(config, plan, job.force, frozen)
                spec = runs_spec if job.kind == JobKind.CLOSE_RUNS else night_spec
                if spec is None:
                    raise ValueError("a close_runs job for a night without runs")
                ensure_dir(spec.script.parent)
                ensure_dir(spec.output.parent)
                write_text_atomic(spec.script, render_script(spec))
                self.close[key] = spec
            return self.close[key]
        if self.data is None:
            self.data = {(s.run, JobKind(s.kind)): s for s in write_scripts(config, plan)}
        kind = JobKind(job.kind)
        spec = self.data.get((job.run, kind))
        return spec or job_spec(config, plan, plan.sequence_for_run(job.run), kind)


def config_sha_of(spec: JobSpec) -> str:
    """The checksum of the frozen config a job runs with (its ``--config osa-<sha>.toml``)."""
    try:
        path = Path(spec.command[spec.command.index("--config") + 1])
    except (ValueError, IndexError):
        return ""
    return path.stem[len("osa-") :] if path.stem.startswith("osa-") else ""


def submit_one(executor: Executor, journal: Journal, spec: JobSpec, job: PlannedJob) -> str:
    """One submission under the journal's crash protocol; returns the job id."""
    token = Journal.new_token()
    common = {
        "token": token,
        "run": job.run,
        "kind": job.kind,
        "name": spec.name,
        "indices": list(job.indices) if job.indices is not None else None,
        "attempt": job.attempt,
        "memory": str(job.resources.memory),
        "time_limit": str(job.resources.time),
        "dependencies": [str(d) for d in job.dependencies],
        "dependency_kind": job.dependency_kind,
        "purpose": job.purpose,
        "config_sha": config_sha_of(spec),
    }
    journal.append("intent", **common)
    fault_point("intent journaled")
    comment = f"{spec.comment};token={token}"
    try:
        request = SubmitRequest(
            array=job.indices,
            dependencies=tuple(str(d) for d in job.dependencies),
            resources=job.resources,
            comment=comment,
            dependency_kind=job.dependency_kind,
        )
        job_id = executor.submit(spec, request)
    except SchedulerUnavailable:
        raise  # the intent stays: the next snapshot settles it once the scheduler answers
    except Exception as err:
        journal.append("abandoned", token=token, run=job.run, reason=str(err)[:300])
        raise
    fault_point("job submitted, not journaled yet")
    journal.append("submitted", job_id=job_id, **common)
    fault_point("submission journaled")
    return job_id
