"""Submitting, resubmitting, cancelling and giving up: every change of a night's jobs.

All of it runs under the night's lock and lands in the journal. Submission is idempotent:
a run that already has a submission is never submitted again by ``submit_night`` (that is
``resubmit_failed``'s job, for exactly the failed subruns), and a crash between ``sbatch``
and the journal is healed by ``recover_intents`` before anything new is submitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from osa_core.config import Config, JobResources
from osa_core.errors import InputError, SchedulerUnavailable
from osa_core.executors.base import ACTIVE_STATES, COMPLETED, PENDING, Executor, TaskState
from osa_core.faults import fault_point
from osa_core.jobs import JobSpec, compact_ranges, job_spec, write_scripts
from osa_core.journal import Journal, JournalView
from osa_core.locking import night_lock
from osa_core.paths import NightPaths
from osa_core.plan import CALIBRATION, Plan, Sequence
from osa_core.retry import RetryDecision, decide, resources_of, with_more_memory
from osa_core.status import (
    NOT_SUBMITTED,
    NightStatus,
    SequenceStatus,
    SubrunStatus,
    night_status,
)


@dataclass(frozen=True)
class PlannedJob:
    """A job we are about to submit (the preview) or have submitted (with its id)."""

    run: int
    kind: str
    indices: tuple[int, ...] | None
    resources: JobResources
    dependencies: tuple[str, ...]
    attempt: int
    purpose: str
    reason: str = ""
    job_id: str = ""
    dependency_kind: str = "afterok"

    def describe(self) -> str:
        array = f" --array={compact_ranges(self.indices)}" if self.indices else ""
        deps = f" --dependency=afterok:{':'.join(self.dependencies)}" if self.dependencies else ""
        job = f" -> job {self.job_id}" if self.job_id else ""
        why = f"  ({self.reason})" if self.reason else ""
        return (
            f"{self.purpose} {self.kind.lower()} run {self.run:05d}{array} "
            f"--mem-per-cpu={self.resources.memory.slurm()} "
            f"--time={self.resources.time.slurm()}{deps}{job}{why}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "kind": self.kind,
            "indices": list(self.indices or []),
            "memory": str(self.resources.memory),
            "time": str(self.resources.time),
            "dependencies": list(self.dependencies),
            "attempt": self.attempt,
            "purpose": self.purpose,
            "reason": self.reason,
            "job_id": self.job_id,
        }


@dataclass
class SubmitReport:
    jobs: list[PlannedJob] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    dry_run: bool = False
    armed: list[str] = field(default_factory=list)

    def job_ids(self) -> dict[int, str]:
        return {job.run: job.job_id for job in self.jobs if job.job_id}

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "jobs": [j.to_dict() for j in self.jobs],
            "skipped": [{"run": r, "reason": why} for r, why in self.skipped],
        }

    def summary(self) -> str:
        verb = "would submit" if self.dry_run else "submitted"
        tasks = sum(len(j.indices or (0,)) for j in self.jobs)
        lines = [f"{verb} {len(self.jobs)} job(s), {tasks} task(s)"]
        lines += [f"  {job.describe()}" for job in self.jobs]
        lines += [f"  skipped run {run:05d}: {why}" for run, why in self.skipped]
        if self.armed:
            lines.append(
                f"  close armed: job(s) {', '.join(self.armed)} will close the night "
                "as soon as its last subrun ends"
            )
        return "\n".join(lines)


def recover_intents(executor: Executor, journal: Journal, view: JournalView) -> JournalView:
    """Resolve submissions interrupted between ``intent`` and ``submitted``.

    A job carrying the intent's token in its comment was submitted: record it. If the
    scheduler answers and has no such job, the submission never happened: abandon the
    intent. If the scheduler does not answer, we cannot know: refuse to submit anything.
    """
    if not view.intents:
        return view
    for token, intent in list(view.intents.items()):
        found = [
            job
            for job in executor.find_jobs(str(intent.get("name", "")))
            if f"token={token}" in job.comment
        ]
        if found:
            journal.append(
                "recovered",
                token=token,
                run=intent["run"],
                kind=intent.get("kind", "DATA"),
                job_id=found[0].job_id,
                indices=intent.get("indices"),
                attempt=intent.get("attempt", 1),
                memory=intent.get("memory", ""),
                time_limit=intent.get("time_limit", ""),
                dependencies=intent.get("dependencies", []),
                purpose=intent.get("purpose", "submit"),
            )
        else:
            journal.append(
                "abandoned",
                token=token,
                run=intent["run"],
                reason="no job with this token exists: the submission never reached the scheduler",
            )
    return journal.read()


def _submit(executor: Executor, journal: Journal, spec: JobSpec, job: PlannedJob) -> str:
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
        "dependencies": list(job.dependencies),
        "dependency_kind": job.dependency_kind,
        "purpose": job.purpose,
    }
    journal.append("intent", **common)
    fault_point("intent journaled")
    comment = f"{spec.comment};token={token}"
    try:
        job_id = executor.submit(
            spec,
            array=job.indices,
            dependencies=job.dependencies,
            resources=job.resources,
            comment=comment,
            dependency_kind=job.dependency_kind,
        )
    except SchedulerUnavailable:
        raise  # the intent stays: recover_intents decides once the scheduler answers
    except Exception as err:
        journal.append("abandoned", token=token, run=job.run, reason=str(err)[:300])
        raise
    fault_point("job submitted, not journaled yet")
    journal.append("submitted", job_id=job_id, **common)
    fault_point("submission journaled")
    return job_id


def _calibration_dependency(status: NightStatus) -> tuple[tuple[str, ...], str | None]:
    """(dependencies for data jobs, reason data cannot be submitted now or None)."""
    calibration = next((s for s in status.sequences if s.sequence.kind == CALIBRATION), None)
    if status.plan.calibration is None:
        return (), "no calibration for this night"
    if calibration is None or not calibration.sequence.needs_job:
        return (), None
    state = calibration.state
    if state == COMPLETED:
        return (), None
    if state in ACTIVE_STATES and calibration.job_ids:
        return (calibration.job_ids[-1],), None
    if state == NOT_SUBMITTED:
        return (), "calibration not submitted"
    return (), f"calibration is {state}: resubmit it first"


def _pending_tasks(status: NightStatus) -> int:
    return sum(seq.counts.get(PENDING, 0) for seq in status.sequences)


def plan_submission(config: Config, plan: Plan, status: NightStatus) -> SubmitReport:
    """What ``submit_night`` would do now (the preview every face shows)."""
    report = SubmitReport(dry_run=True)
    if plan.problems:
        report.skipped += [(s.run, plan.problems[0]) for s in plan.data_sequences]
        return report
    deps, blocked = _calibration_dependency(status)
    calibration = next((s for s in status.sequences if s.sequence.kind == CALIBRATION), None)
    if (
        calibration is not None
        and calibration.sequence.needs_job
        and calibration.state == NOT_SUBMITTED
    ):
        report.jobs.append(
            PlannedJob(
                run=calibration.sequence.run,
                kind=CALIBRATION,
                indices=None,
                resources=config.slurm.calibration,
                dependencies=(),
                attempt=1,
                purpose="submit",
            )
        )
        blocked = None  # data will depend on the job we are about to submit
    pending = _pending_tasks(status)
    cap = config.slurm.max_pending_jobs
    for seq in status.data:
        if seq.state != NOT_SUBMITTED or seq.job_ids:
            report.skipped.append((seq.sequence.run, f"already submitted ({seq.state})"))
            continue
        if blocked:
            report.skipped.append((seq.sequence.run, blocked))
            continue
        size = len(seq.sequence.subruns)
        if pending and pending + size > cap:
            report.skipped.append(
                (seq.sequence.run, f"pending-job cap ({pending} pending, cap {cap}): next tick")
            )
            continue
        pending += size
        report.jobs.append(
            PlannedJob(
                run=seq.sequence.run,
                kind=seq.sequence.kind,
                indices=seq.sequence.subruns,
                resources=config.slurm.data,
                dependencies=deps,
                attempt=1,
                purpose="submit",
            )
        )
    return report


def execute(
    config: Config,
    plan: Plan,
    executor: Executor,
    report: SubmitReport,
    journal: Journal,
    status: NightStatus | None = None,
) -> SubmitReport:
    """Submit the planned jobs in order; data jobs planned against a calibration job that
    is submitted in the same batch get its id as dependency. With ``[closing] auto``, the
    close is then armed: chained ``afterany`` on every active data job, so the night closes
    seconds after its last subrun instead of at the next cron pass."""
    specs = {spec.run: spec for spec in write_scripts(config, plan)}
    done = SubmitReport(skipped=list(report.skipped))
    calibration_id = None
    for job in report.jobs:
        sequence = plan.sequence_for_run(job.run)
        spec = specs.get(job.run) or job_spec(config, plan, sequence)
        deps = job.dependencies
        if job.kind != CALIBRATION and calibration_id:
            deps = (calibration_id,)
        job = PlannedJob(**{**job.__dict__, "dependencies": deps})
        job_id = _submit(executor, journal, spec, job)
        if job.kind == CALIBRATION:
            calibration_id = job_id
        done.jobs.append(PlannedJob(**{**job.__dict__, "job_id": job_id}))
    if config.closing.auto and done.jobs:
        from osa_core.closing.close import arm_close

        active = set()
        if status is not None:
            active = {
                s.job_id
                for seq in status.sequences
                for s in seq.subruns
                if s.state in ACTIVE_STATES and s.job_id
            }
        active |= {job.job_id for job in done.jobs}
        done.armed = arm_close(config, plan, executor, journal, sorted(active, key=int))
    return done


def fresh_status(
    config: Config, plan: Plan, executor: Executor, recover: bool = True
) -> tuple[Journal, NightStatus]:
    """Heal interrupted submissions, then compute the status (requires the scheduler)."""
    journal = Journal(NightPaths(config, plan.night).journal)
    view = journal.read()
    if recover:
        view = recover_intents(executor, journal, view)
    status = night_status(config, plan, executor, view)
    if not status.scheduler_ok:
        raise SchedulerUnavailable(
            f"scheduler not answering ({status.scheduler_message}); "
            "nothing submitted, last known state shown"
        )
    if recover:
        held = [
            TaskState(job_id=s.job_id, index=s.subrun, state=s.scheduler_state, reason=s.reason)
            for seq in status.sequences
            for s in seq.subruns
            if s.job_id
        ]
        released = executor.release_held(held)
        if released:
            journal.append(
                "released", job_ids=released, reason="held by the scheduler after a launch failure"
            )
        from osa_core.lost_ends import jobs_with_lost_end

        lost = jobs_with_lost_end(config, plan, status)
        if lost:
            ended = executor.end_lost(lost)
            if ended:
                journal.append(
                    "ended_lost", job_ids=ended, reason="; ".join(lost[j] for j in ended)
                )
                status = night_status(config, plan, executor, journal.read())
    return journal, status


def submit_night(
    config: Config, plan: Plan, executor: Executor | None = None, dry_run: bool = False
) -> SubmitReport:
    """Submit every sequence that has never been submitted (idempotent).

    A dry run takes no lock (a preview while cron works is fine); a real one does.
    """
    executor = executor or _executor(config)
    if dry_run:
        _, status = fresh_status(config, plan, executor, recover=False)
        return plan_submission(config, plan, status)
    with night_lock(NightPaths(config, plan.night).lock, wait=30):
        return submit_night_locked(config, plan, executor)


def submit_night_locked(
    config: Config,
    plan: Plan,
    executor: Executor,
    fresh: tuple[Journal, NightStatus] | None = None,
) -> SubmitReport:
    """``submit_night`` for a caller that already holds the night's lock (and may pass the
    ``fresh_status`` it computed: a cron tick asks the scheduler once)."""
    journal, status = fresh or fresh_status(config, plan, executor)
    report = plan_submission(config, plan, status)
    if not report.jobs:
        return report
    return execute(config, plan, executor, report, journal, status)


def _executor(config: Config) -> Executor:
    from osa_core.executors.base import get_executor

    return get_executor(config)


def _last_resources(
    config: Config, seq: SequenceStatus, journal: JournalView, index: int | None
) -> JobResources:
    default = config.slurm.calibration if seq.sequence.kind == CALIBRATION else config.slurm.data
    for sub in reversed(journal.for_run(seq.sequence.run)):
        if sub.indices is None or index in sub.indices:
            return resources_of(sub.memory, sub.time_limit, default)
    return default


def plan_resubmission(
    config: Config,
    status: NightStatus,
    journal: JournalView,
    runs: list[int] | None = None,
    indices: dict[int, list[int]] | None = None,
    *,
    automatic: bool = False,
    more_memory: bool = False,
) -> SubmitReport:
    """Which failed subruns to resubmit, grouped into one array per run and resources."""
    report = SubmitReport(dry_run=True)
    deps, blocked = _calibration_dependency(status)
    calibration_resubmitted = False
    for seq in status.sequences:
        run = seq.sequence.run
        if runs is not None and run not in runs:
            continue
        failed = seq.failed
        if indices and run in indices:
            wanted = set(indices[run])
            failed = [s for s in failed if s.subrun in wanted]
        if not failed:
            continue
        is_calibration = seq.sequence.kind == CALIBRATION
        if blocked and not is_calibration and not calibration_resubmitted:
            report.skipped.append((run, blocked))
            continue
        groups: dict[JobResources, list[tuple[SubrunStatus, RetryDecision]]] = {}
        for subrun in failed:
            current = _last_resources(
                config, seq, journal, None if is_calibration else subrun.subrun
            )
            decision = decide(subrun, current, config.retry, automatic=automatic)
            if more_memory:
                decision = RetryDecision(
                    True,
                    with_more_memory(current, config.retry),
                    decision.failure_class,
                    "more memory on request",
                )
            if not decision.retry and not automatic:
                decision = RetryDecision(
                    True,
                    decision.resources,
                    decision.failure_class,
                    f"operator decision (policy alone would stop: {decision.reason})",
                )
            if not decision.retry and automatic:
                report.skipped.append((run, f"subrun {subrun.subrun}: {decision.reason}"))
                continue
            groups.setdefault(decision.resources, []).append((subrun, decision))
        if is_calibration and groups:
            calibration_resubmitted = True
        for resources, members in groups.items():
            chosen = tuple(sorted(s.subrun for s, _ in members))
            reasons = sorted({d.reason for _, d in members})
            attempt = max(s.attempts for s, _ in members) + 1
            report.jobs.append(
                PlannedJob(
                    run=run,
                    kind=seq.sequence.kind,
                    indices=None if is_calibration else chosen,
                    resources=resources,
                    dependencies=() if is_calibration else deps,
                    attempt=attempt,
                    purpose="resubmit",
                    reason="; ".join(reasons)[:200],
                )
            )
    return report


def resubmit_failed(
    config: Config,
    plan: Plan,
    executor: Executor | None = None,
    *,
    runs: list[int] | None = None,
    indices: dict[int, list[int]] | None = None,
    automatic: bool = False,
    more_memory: bool = False,
    dry_run: bool = False,
) -> SubmitReport:
    """Resubmit exactly the failed subruns (one compact array per run and resources)."""
    executor = executor or _executor(config)
    if dry_run:
        journal, status = fresh_status(config, plan, executor, recover=False)
        return plan_resubmission(
            config,
            status,
            journal.read(),
            runs,
            indices,
            automatic=automatic,
            more_memory=more_memory,
        )
    with night_lock(NightPaths(config, plan.night).lock, wait=30):
        return resubmit_failed_locked(
            config,
            plan,
            executor,
            runs=runs,
            indices=indices,
            automatic=automatic,
            more_memory=more_memory,
        )


def resubmit_failed_locked(
    config: Config,
    plan: Plan,
    executor: Executor,
    *,
    runs: list[int] | None = None,
    indices: dict[int, list[int]] | None = None,
    automatic: bool = False,
    more_memory: bool = False,
    fresh: tuple[Journal, NightStatus] | None = None,
) -> SubmitReport:
    """``resubmit_failed`` for a caller that already holds the night's lock."""
    journal, status = fresh or fresh_status(config, plan, executor)
    report = plan_resubmission(
        config, status, journal.read(), runs, indices, automatic=automatic, more_memory=more_memory
    )
    if not report.jobs:
        return report
    return execute(config, plan, executor, report, journal, status)


def cancel(
    config: Config,
    plan: Plan,
    executor: Executor | None = None,
    *,
    runs: list[int] | None = None,
    reason: str = "",
) -> list[str]:
    """Cancel our active jobs of the night (or of some runs); returns the job ids."""
    executor = executor or _executor(config)
    paths = NightPaths(config, plan.night)
    with night_lock(paths.lock, wait=30):
        journal, status = fresh_status(config, plan, executor)
        ids = sorted(
            {
                s.job_id
                for seq in status.sequences
                for s in seq.subruns
                if s.state in ACTIVE_STATES
                and s.job_id
                and (runs is None or seq.sequence.run in runs)
            }
        )
        if ids:
            executor.cancel(ids)
            journal.append("cancel", job_ids=ids, runs=runs, reason=reason)
        return ids


def give_up(config: Config, plan: Plan, run: int, indices: list[int], reason: str) -> None:
    """An operator decides these subruns will not be processed (closing may go on)."""
    if not reason.strip():
        raise InputError("give up needs a reason (it is recorded in the journal)")
    sequence: Sequence = plan.sequence_for_run(run)
    unknown = sorted(set(indices) - set(sequence.subruns))
    if unknown:
        raise InputError(f"run {run} has no subrun(s) {unknown}")
    paths = NightPaths(config, plan.night)
    with night_lock(paths.lock, wait=30):
        Journal(paths.journal).append(
            "give_up", run=run, indices=sorted(indices), reason=reason.strip()
        )
