"""What to submit, resubmit, cancel or heal: pure decisions over a snapshot.

``decide_submission`` submits what was never submitted (calibration first, then one array
per run chained after it, within the pending-job cap); ``decide_resubmission`` resubmits
exactly the failed subruns (one compact array per run and resources, by the retry policy
when cron asks, by the operator's word otherwise); both arm the close after the jobs
they submit. ``decide_upkeep`` settles what a crash or the scheduler left: interrupted
submissions, jobs the scheduler held, jobs whose end it lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from osa_core.config import Config, JobResources
from osa_core.intents import Cancel, Decision, Dependency, EndLost, PlannedJob, Record, Ref, Release
from osa_core.jobs import resources_for
from osa_core.journal import JournalView
from osa_core.rules.closing import armed_close
from osa_core.rules.lost_ends import jobs_with_lost_end
from osa_core.rules.phases import chain_phases
from osa_core.rules.retry import RetryDecision, decide, resources_of, with_more_memory
from osa_core.snapshot import NightSnapshot
from osa_core.status import NightStatus, RunCalibrationStatus, SubrunStatus, id_reused
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


def first_phase(plan_per_run: bool) -> JobKind:
    """The job kind that starts a subrun's work: its whole chain, or DL1A (phase 1)."""
    return JobKind.DL1A if plan_per_run else JobKind.DATA


def decide_submission(snapshot: NightSnapshot, *, arm: bool = True) -> Decision:
    """Submit what was never submitted (idempotent): the calibration first, then, per run,
    the subruns no job ever covered (a whole run, or the late subruns of a submitted one),
    chained after the calibration; with the per-run workflow, the phases after them
    (``rules.phases``); then arm the close."""
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
    kind = first_phase(plan.per_run)
    for seq in status.data:
        # never submitted: the gain selection of new subruns (it needs no calibration),
        # and the analysis of subruns whose R0 is ready (gain-selected when it must be)
        selection = tuple(
            s.subrun
            for s in seq.subruns
            if s.state == State.NOT_SUBMITTED and s.phase == JobKind.GAIN_SELECTION
        )
        new = tuple(
            s.subrun
            for s in seq.subruns
            if s.state == State.NOT_SUBMITTED and s.phase != JobKind.GAIN_SELECTION
        )
        if not new and not selection:
            why = (
                "its files are not on disk yet"
                if seq.state == State.AWAITED
                else f"already submitted ({seq.state})"
            )
            decision.skipped.append((seq.sequence.run, why))
            continue
        earlier = {sub.kind for sub in snapshot.journal.for_run(seq.sequence.run)}
        wanted: list[tuple[JobKind, tuple[int, ...], int, tuple[Dependency, ...]]] = []
        if selection:
            wanted.append((JobKind.GAIN_SELECTION, selection, len(selection), ()))
        if new and blocked:
            decision.skipped.append((seq.sequence.run, blocked))
        elif new:
            size = len(new) * (2 if plan.per_run else 1)  # per run: a DL1B task follows each
            wanted.append((kind, new, size, deps))
        for job_kind, indices, size, after in wanted:
            if pending and pending + size > cap:
                decision.skipped.append(
                    (seq.sequence.run, f"pending-job cap ({pending} pending, cap {cap}): next tick")
                )
                break
            pending += size
            decision.intents.append(
                PlannedJob(
                    run=seq.sequence.run,
                    kind=job_kind,
                    indices=indices,
                    resources=config.slurm.data,
                    dependencies=after,
                    attempt=1,
                    purpose="submit",
                    reason="subruns that appeared after the run was submitted"
                    if job_kind in earlier
                    else "",
                )
            )
    chain_phases(snapshot, decision)
    if arm:
        arm_close(snapshot, decision)
    return decision


def _last_resources(
    config: Config, journal: JournalView, run: int, kind: str, index: int | None
) -> JobResources:
    default = resources_for(config, JobKind(kind))
    subs = [s for s in journal.for_run(run) if s.kind == kind]
    for sub in reversed(subs):
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
    """Which failed work to resubmit: exactly the failed subruns, one compact array per
    run, phase and resources, and a run's failed calibration (one job); by the retry
    policy when cron asks, by the operator's word otherwise. What waited on them is chained
    after them (``rules.phases``); then the close is armed."""
    config, status, journal = snapshot.config, snapshot.status, snapshot.journal
    decision = Decision()
    deps: tuple[Dependency, ...]
    deps, blocked = calibration_dependency(status)
    for seq in status.sequences:
        run = seq.sequence.run
        if runs is not None and run not in runs:
            continue
        is_calibration = seq.sequence.kind == JobKind.CALIBRATION
        failed: list[Failed] = [Failed(s, s.phase or seq.sequence.kind) for s in seq.failed]
        if indices and run in indices:
            wanted = set(indices[run])
            failed = [f for f in failed if f.index in wanted]
        elif seq.run_calibration is not None and seq.run_calibration.is_failed:
            failed.append(Failed(seq.run_calibration, JobKind.RUN_CALIBRATION))
        if not failed:
            continue
        if blocked and not is_calibration:
            decision.skipped.append((run, blocked))
            continue
        groups: dict[tuple[str, JobResources], list[tuple[Failed, RetryDecision]]] = {}
        for item in failed:
            single = is_calibration or item.kind == JobKind.RUN_CALIBRATION
            index = None if single else item.index
            current = _last_resources(config, journal, run, item.kind, index)
            verdict = decide(item.subrun, current, config.retry, automatic=automatic)
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
                decision.skipped.append((run, f"{item.label}: {verdict.reason}"))
                continue
            groups.setdefault((item.kind, verdict.resources), []).append((item, verdict))
        if is_calibration and groups:
            # data resubmitted in the same decision waits on the new calibration job
            deps, blocked = (Ref(len(decision.jobs)),), None
        for (kind, resources), members in groups.items():
            single = is_calibration or kind == JobKind.RUN_CALIBRATION
            chosen = tuple(
                sorted(f.subrun.subrun for f, _ in members if isinstance(f.subrun, SubrunStatus))
            )
            reasons = sorted({d.reason for _, d in members})
            decision.intents.append(
                PlannedJob(
                    run=run,
                    kind=kind,
                    indices=None if single else chosen,
                    resources=resources,
                    dependencies=()
                    if is_calibration or (kind != first_phase(True) and kind != JobKind.DATA)
                    else deps,
                    attempt=max(f.subrun.attempts for f, _ in members) + 1,
                    purpose="resubmit",
                    reason="; ".join(reasons)[:200],
                )
            )
    chain_phases(snapshot, decision)
    if arm:
        arm_close(snapshot, decision)
    return decision


@dataclass(frozen=True)
class Failed:
    """Failed work to resubmit: a subrun of some phase, or a run's calibration."""

    subrun: SubrunStatus | RunCalibrationStatus
    kind: str

    @property
    def index(self) -> int | None:
        """The subrun's number; None for a run's calibration (one job, no array index)."""
        if isinstance(self.subrun, RunCalibrationStatus):
            return None
        return self.subrun.subrun

    @property
    def label(self) -> str:
        if isinstance(self.subrun, RunCalibrationStatus):
            return "run calibration"
        return f"subrun {self.subrun.subrun}"


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
    """Cancel every job with a task still queued or running (of some runs, or the night:
    then the armed close too, which would otherwise start on the cancelled jobs' end)."""
    active = snapshot.status.active_job_ids(runs)
    if runs is None:
        close = {
            s.job_id for s in snapshot.journal.of_kind(JobKind.CLOSE_RUNS, JobKind.CLOSE_NIGHT)
        }
        active |= {
            t.job_id
            for t in snapshot.tasks.values()
            if t.job_id in close and t.state in ACTIVE_STATES
        }
    ids = tuple(sorted_job_ids(active))
    if not ids:
        return Decision()
    return Decision(intents=[Cancel(ids, tuple(runs) if runs else None, reason)])


def held_by_launch_failure(reason: str) -> bool:
    """SLURM held the job by itself after a launch failure ("launch failed requeued
    held", e.g. when slurmctld restarts while launching it): released by the next tick.
    A hold an operator or admin put (``scontrol hold``/``requeuehold``: "JobHeldUser",
    "JobHeldAdmin", "job requeued in held state") is theirs to release, never ours."""
    return "launch failed" in reason.lower()


def decide_upkeep(snapshot: NightSnapshot) -> Decision:
    """Settle what a crash or the scheduler left behind, before anything is submitted:
    interrupted submissions (journal records), our jobs SLURM held after a launch failure
    (release), analysis jobs whose end the scheduler lost (end them)."""
    decision = Decision()
    for recovery in snapshot.recoveries:
        action, fields = recovery.entry()
        decision.intents.append(Record(action, fields))
    # every job of ours, the close jobs and a run's calibration included (found by the
    # fault trials: a close_runs job launching while slurmctld restarted was held for ever)
    ours = {s.job_id: s for s in snapshot.journal.submissions}
    held = sorted_job_ids(
        task.job_id
        for task in snapshot.tasks.values()
        if task.state == State.PENDING
        and held_by_launch_failure(task.reason)
        and task.job_id in ours
        and not id_reused(ours[task.job_id], task)
    )
    if held:
        decision.intents.append(Release(tuple(held)))
    lost = jobs_with_lost_end(snapshot)
    if lost:
        ids = tuple(sorted_job_ids(lost))
        decision.intents.append(EndLost(ids, "; ".join(lost[j] for j in ids)))
    return decision
