"""What to submit, resubmit, cancel or heal: pure decisions over a snapshot.

``decide_submission`` submits what was never submitted (calibration first, then one array
per run chained after it, within the pending-job cap); ``decide_resubmission`` resubmits
exactly the failed subruns (one compact array per run and resources, by the retry policy
when cron asks, by the operator's word otherwise); both arm the close after the jobs
they submit. ``decide_upkeep`` settles what a crash or the scheduler left: interrupted
submissions, jobs the scheduler held, jobs whose end it lost.
"""

from __future__ import annotations

from osa_core.config import Config, JobResources
from osa_core.intents import Cancel, Decision, Dependency, EndLost, PlannedJob, Record, Ref, Release
from osa_core.journal import JournalView
from osa_core.rules.closing import armed_close
from osa_core.rules.lost_ends import jobs_with_lost_end
from osa_core.rules.retry import RetryDecision, decide, resources_of, with_more_memory
from osa_core.snapshot import NightSnapshot
from osa_core.status import NightStatus, SequenceStatus, SubrunStatus
from osa_core.vocabulary import ACTIVE_STATES, JobKind, State, sorted_job_ids

SCHEDULER_DOWN = "scheduler not answering ({}); nothing submitted, last known state shown"


def refusal(snapshot: NightSnapshot) -> str:
    """Why nothing may change now: the scheduler must answer (and have settled every
    interrupted submission) before anything is submitted or cancelled."""
    if not snapshot.status.scheduler_ok:
        return SCHEDULER_DOWN.format(snapshot.status.scheduler_message or "no answer")
    if snapshot.unsettled_intents:
        return "an interrupted submission could not be looked up in the scheduler"
    return ""


def calibration_dependency(status: NightStatus) -> tuple[tuple[str, ...], str | None]:
    """(dependencies for data jobs, reason data cannot be submitted now or None)."""
    calibration = status.calibration
    if status.plan.calibration is None:
        return (), "no calibration for this night"
    if calibration is None or not calibration.sequence.needs_job:
        return (), None
    state = calibration.state
    if state == State.COMPLETED:
        return (), None
    if state in ACTIVE_STATES and calibration.job_ids:
        return (calibration.job_ids[-1],), None
    if state == State.NOT_SUBMITTED:
        return (), "calibration not submitted"
    return (), f"calibration is {state}: resubmit it first"


def _pending_tasks(status: NightStatus) -> int:
    return sum(seq.counts.get(State.PENDING, 0) for seq in status.sequences)


def decide_submission(snapshot: NightSnapshot, *, arm: bool = True) -> Decision:
    """Submit every sequence never submitted (idempotent), then arm the close."""
    config, plan, status = snapshot.config, snapshot.plan, snapshot.status
    decision = Decision()
    if plan.problems:
        decision.skipped += [(s.run, plan.problems[0]) for s in plan.data_sequences]
        return decision
    deps: tuple[Dependency, ...]
    deps, blocked = calibration_dependency(status)
    calibration = status.calibration
    if (
        calibration is not None
        and calibration.sequence.needs_job
        and calibration.state == State.NOT_SUBMITTED
    ):
        decision.intents.append(
            PlannedJob(
                run=calibration.sequence.run,
                kind=JobKind.CALIBRATION,
                indices=None,
                resources=config.slurm.calibration,
                dependencies=(),
                attempt=1,
                purpose="submit",
            )
        )
        deps, blocked = (Ref(0),), None  # data waits on the job submitted just before
    pending = _pending_tasks(status)
    cap = config.slurm.max_pending_jobs
    for seq in status.data:
        if seq.state != State.NOT_SUBMITTED or seq.job_ids:
            decision.skipped.append((seq.sequence.run, f"already submitted ({seq.state})"))
            continue
        if blocked:
            decision.skipped.append((seq.sequence.run, blocked))
            continue
        size = len(seq.sequence.subruns)
        if pending and pending + size > cap:
            decision.skipped.append(
                (seq.sequence.run, f"pending-job cap ({pending} pending, cap {cap}): next tick")
            )
            continue
        pending += size
        decision.intents.append(
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
    if arm:
        arm_close(snapshot, decision)
    return decision


def _last_resources(
    config: Config, seq: SequenceStatus, journal: JournalView, index: int | None
) -> JobResources:
    default = (
        config.slurm.calibration if seq.sequence.kind == JobKind.CALIBRATION else config.slurm.data
    )
    for sub in reversed(journal.for_run(seq.sequence.run)):
        if sub.indices is None or index in sub.indices:
            return resources_of(sub.memory, sub.time_limit, default)
    return default


def decide_resubmission(
    snapshot: NightSnapshot,
    runs: list[int] | None = None,
    indices: dict[int, list[int]] | None = None,
    *,
    automatic: bool = False,
    more_memory: bool = False,
    arm: bool = True,
) -> Decision:
    """Which failed subruns to resubmit, grouped into one array per run and resources."""
    config, status, journal = snapshot.config, snapshot.status, snapshot.journal
    decision = Decision()
    deps: tuple[Dependency, ...]
    deps, blocked = calibration_dependency(status)
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
        is_calibration = seq.sequence.kind == JobKind.CALIBRATION
        if blocked and not is_calibration:
            decision.skipped.append((run, blocked))
            continue
        groups: dict[JobResources, list[tuple[SubrunStatus, RetryDecision]]] = {}
        for subrun in failed:
            current = _last_resources(
                config, seq, journal, None if is_calibration else subrun.subrun
            )
            verdict = decide(subrun, current, config.retry, automatic=automatic)
            if more_memory:
                verdict = RetryDecision(
                    True,
                    with_more_memory(current, config.retry),
                    verdict.failure_class,
                    "more memory on request",
                )
            if not verdict.retry and not automatic:
                verdict = RetryDecision(
                    True,
                    verdict.resources,
                    verdict.failure_class,
                    f"operator decision (policy alone would stop: {verdict.reason})",
                )
            if not verdict.retry:
                decision.skipped.append((run, f"subrun {subrun.subrun}: {verdict.reason}"))
                continue
            groups.setdefault(verdict.resources, []).append((subrun, verdict))
        if is_calibration and groups:
            # data resubmitted in the same decision waits on the new calibration job
            deps, blocked = (Ref(len(decision.jobs)),), None
        for resources, members in groups.items():
            chosen = tuple(sorted(s.subrun for s, _ in members))
            reasons = sorted({d.reason for _, d in members})
            decision.intents.append(
                PlannedJob(
                    run=run,
                    kind=seq.sequence.kind,
                    indices=None if is_calibration else chosen,
                    resources=resources,
                    dependencies=() if is_calibration else deps,
                    attempt=max(s.attempts for s, _ in members) + 1,
                    purpose="resubmit",
                    reason="; ".join(reasons)[:200],
                )
            )
    if arm:
        arm_close(snapshot, decision)
    return decision


def arm_close(snapshot: NightSnapshot, decision: Decision) -> None:
    """With ``[closing] auto``, chain a close ``afterany`` on every data job still active
    and every job of this decision: the night closes seconds after its last subrun."""
    if not snapshot.config.closing.auto or not decision.jobs:
        return
    after: list[Dependency] = [*sorted_job_ids(snapshot.status.active_job_ids())]
    after += [Ref(i) for i in range(len(decision.jobs))]
    close = armed_close(snapshot, after, first_position=len(decision.jobs))
    if close:
        decision.intents += close
        decision.armed = True


def decide_cancel(snapshot: NightSnapshot, runs: list[int] | None, reason: str) -> Decision:
    """Cancel every job with a task still queued or running (of some runs, or the night)."""
    ids = tuple(sorted_job_ids(snapshot.status.active_job_ids(runs)))
    if not ids:
        return Decision()
    return Decision(intents=[Cancel(ids, tuple(runs) if runs else None, reason)])


def decide_upkeep(snapshot: NightSnapshot) -> Decision:
    """Settle what a crash or the scheduler left behind, before anything is submitted:
    interrupted submissions (journal records), jobs held after a launch failure
    (release), analysis jobs whose end the scheduler lost (end them)."""
    decision = Decision()
    for recovery in snapshot.recoveries:
        action, fields = recovery.entry()
        decision.intents.append(Record(action, fields))
    held = sorted_job_ids(
        s.job_id
        for seq in snapshot.status.sequences
        for s in seq.subruns
        if s.job_id and s.scheduler_state == State.PENDING and "held" in s.reason.lower()
    )
    if held:
        decision.intents.append(Release(tuple(held)))
    lost = jobs_with_lost_end(snapshot)
    if lost:
        ids = tuple(sorted_job_ids(lost))
        decision.intents.append(EndLost(ids, "; ".join(lost[j] for j in ids)))
    return decision
