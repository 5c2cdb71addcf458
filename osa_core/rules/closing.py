"""When and how to close a night: pure decisions over a snapshot.

The close is two jobs: ``close_runs`` (an array, one task per run: merges, run-wise
datacheck, DL2) then ``close_night`` chained ``afterok`` on it (night-wise datacheck,
provenance, move with checksums, manifest, NightFinished). It is submitted either by an
operator or a tick when the night is ready, or *armed* ``afterany`` on the data jobs when
they are submitted: the armed chain checks readiness from the files when it starts and
exits quietly when a subrun failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from osa_core.executors.api import TaskState
from osa_core.intents import Decision, Dependency, EndLost, PlannedJob, Record, Ref
from osa_core.rules.lost_ends import close_jobs_with_lost_end
from osa_core.rules.readiness import readiness
from osa_core.snapshot import NightSnapshot
from osa_core.status import Readiness
from osa_core.vocabulary import ACTIVE_STATES, FAILED_STATES, JobKind, sorted_job_ids

#: An automatic close (a tick) stops after this many close chains failed in a row, and
#: asks an operator instead of submitting the same failing close every tick.
CLOSE_FAILURES_BEFORE_OPERATOR = 2


def close_chain(
    snapshot: NightSnapshot,
    *,
    after: list[Dependency],
    force: bool,
    purpose: str,
    first_position: int = 0,
) -> list[PlannedJob]:
    """close_runs (array over the runs) then close_night ``afterok`` on it. With ``after``
    (an armed close) the chain starts ``afterany`` on those jobs."""
    runs = tuple(range(len(snapshot.plan.data_sequences)))
    attempt = 1 + len(snapshot.journal.of_kind(JobKind.CLOSE_NIGHT))

    def job(
        kind: JobKind, indices: tuple[int, ...] | None, deps: tuple[Dependency, ...], how: str
    ) -> PlannedJob:
        return PlannedJob(
            run=0,
            kind=kind,
            indices=indices,
            resources=snapshot.config.slurm.close,
            dependencies=deps,
            attempt=attempt,
            purpose=purpose,
            dependency_kind=how,
            force=force,
        )

    if not runs:
        return [job(JobKind.CLOSE_NIGHT, None, tuple(after), "afterany")]
    return [
        job(JobKind.CLOSE_RUNS, runs, tuple(after), "afterany"),
        job(JobKind.CLOSE_NIGHT, None, (Ref(first_position),), "afterok"),
    ]


def armed_close(
    snapshot: NightSnapshot, after: list[Dependency], first_position: int
) -> list[PlannedJob]:
    """The close to arm after these jobs, or none: a night with problems, closed, or still
    observing (an armed close would only start to say "not yet"; a tick closes it once the
    observation is over)."""
    observation = snapshot.status.observation
    if snapshot.plan.problems or snapshot.status.closed:
        return []
    if observation is not None and not observation.over:
        return []
    return close_chain(
        snapshot, after=after, force=False, purpose="armed close", first_position=first_position
    )


@dataclass
class CloseDecision:
    """What closing the night means now."""

    decision: Decision = field(default_factory=Decision)
    message: str = ""  # said instead of submitting (closed already, in progress)
    needs_operator: str = ""  # why a human must decide (not ready, failing close)
    readiness: Readiness | None = None


def decide_close(
    snapshot: NightSnapshot,
    *,
    override: bool = False,
    reason: str = "",
    automatic: bool = False,
) -> CloseDecision:
    """Submit the close chain when the night is ready, or when an operator overrides
    with a reason; report a close already running; end close jobs whose end was lost."""
    if snapshot.status.closed:
        return CloseDecision(message=f"night already closed ({snapshot.paths.night_finished})")
    ready = readiness(snapshot.status)
    result = CloseDecision(readiness=ready)
    forced = False
    if not ready.ready:
        if not override:
            result.needs_operator = ready.summary()
            return result
        if not reason.strip():
            result.needs_operator = "closing a night that is not ready needs a reason"
            return result
        result.decision.intents.append(
            Record("close_override", {"reason": reason.strip(), "missing": ready.missing})
        )
        forced = True
    earlier = snapshot.journal.of_kind(JobKind.CLOSE_RUNS, JobKind.CLOSE_NIGHT)
    if earlier and not forced:
        ids = {s.job_id for s in earlier}
        active = set(
            sorted_job_ids(
                t.job_id
                for t in snapshot.tasks.values()
                if t.job_id in ids and t.state in ACTIVE_STATES
            )
        )
        if active and snapshot.query.complete:
            lost = close_jobs_with_lost_end(snapshot)
            if lost:
                ended = tuple(sorted_job_ids(lost))
                result.decision.intents.append(EndLost(ended, lost[ended[0]]))
                active -= set(ended)
        if active:
            result.message = f"closing in progress: job(s) {', '.join(sorted_job_ids(active))}"
            return result
        failures = failed_closes(snapshot)
        if automatic and failures >= CLOSE_FAILURES_BEFORE_OPERATOR:
            result.needs_operator = (
                f"the close failed {failures} times in a row: read the close logs, then "
                "`osa close` (cron does not resubmit it again)"
            )
            return result
    result.decision.intents += close_chain(
        snapshot,
        after=[],
        force=forced,
        purpose="close",
        first_position=len(result.decision.jobs),
    )
    return result


def failed_closes(snapshot: NightSnapshot) -> int:
    """How many of the latest close chains ended with a failed job, in a row (a
    close_night cancelled because its close_runs failed counts once, with it)."""
    states: dict[str, list[TaskState]] = {}
    for task in snapshot.tasks.values():
        states.setdefault(task.job_id, []).append(task)
    runs_by_attempt: dict[int, list[str]] = {}
    for sub in snapshot.journal.of_kind(JobKind.CLOSE_RUNS):
        runs_by_attempt.setdefault(sub.attempt, []).append(sub.job_id)
    count = 0
    for close in reversed(snapshot.journal.of_kind(JobKind.CLOSE_NIGHT)):
        jobs = [close.job_id, *runs_by_attempt.get(close.attempt, [])]
        if not any(
            t.state in FAILED_STATES and "Dependency" not in t.reason
            for job in jobs
            for t in states.get(job, [])
        ):
            break
        count += 1
    return count
