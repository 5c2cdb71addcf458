"""The night's status: a plain data model every face renders (console, CLI, ``--json``).

It joins the truths of a snapshot without inventing any: the plan (what should exist),
the journal (what we submitted, how often, what an operator gave up), the scheduler's
answer (the state of each task) and the subrun histories (which steps really finished).
Everything here is a pure function of those inputs; reading them is
``osa_core.snapshot``'s job, so the rules can be tested without a scheduler or a disk.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from osa_core.config import Config
from osa_core.executors.api import TaskState
from osa_core.history import HistorySummary, summarize
from osa_core.journal import JournalView, Submission
from osa_core.plan import Plan, Sequence
from osa_core.steps import CALIBRATION_STEPS, DATA_STEPS
from osa_core.vocabulary import ACTIVE_STATES, FAILED_STATES, FINISHED_STATES, JobKind, State

#: A submitted job the scheduler does not show is LOST only after this long: squeue shows
#: a new job at once and sacct within a second, so 30 s without a trace is a real loss.
LOST_AFTER_SECONDS = 30
# Step columns of the SPEC table -> history step that makes them.
STEP_PROGRESS = {"DL1": "r0_to_dl1", "MUONS": "r0_to_dl1", "DL1AB": "dl1ab", "DCHECK": "datacheck"}
_EMPTY_HISTORY = summarize([])


@dataclass
class SubrunStatus:
    run: int
    subrun: int
    state: State
    attempts: int = 0
    job_id: str = ""
    exit_code: int | None = None
    elapsed: float | None = None
    cpu: float | None = None
    max_rss: int | None = None
    steps_done: tuple[str, ...] = ()
    failed_step: str | None = None
    failed_rc: int | None = None
    failures: tuple[tuple[str, int], ...] = ()
    reason: str = ""
    scheduler_state: str = ""

    @property
    def is_failed(self) -> bool:
        return self.state in FAILED_STATES


@dataclass
class SequenceStatus:
    sequence: Sequence
    state: State
    subruns: list[SubrunStatus]
    counts: dict[str, int]
    percent: dict[str, float | None]
    job_ids: list[str]
    attempts: int
    cpu: float | None
    exit_code: int | None

    @property
    def failed(self) -> list[SubrunStatus]:
        return [s for s in self.subruns if s.is_failed]

    @property
    def finished(self) -> bool:
        return all(s.state in FINISHED_STATES for s in self.subruns)

    def active_job_ids(self) -> set[str]:
        return {s.job_id for s in self.subruns if s.state in ACTIVE_STATES and s.job_id}


@dataclass
class NightStatus:
    night: dt.date
    plan: Plan
    sequences: list[SequenceStatus]
    executor: str
    scheduler_ok: bool
    scheduler_message: str
    as_of: dt.datetime
    stale_since: dt.datetime | None = None
    closed: bool = False
    warnings: list[str] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        counter: Counter[str] = Counter()
        for seq in self.sequences:
            if seq.sequence.kind != JobKind.CALIBRATION:
                counter.update(seq.counts)
        return dict(counter)

    @property
    def data(self) -> list[SequenceStatus]:
        return [s for s in self.sequences if s.sequence.kind != JobKind.CALIBRATION]

    @property
    def calibration(self) -> SequenceStatus | None:
        return next((s for s in self.sequences if s.sequence.kind == JobKind.CALIBRATION), None)

    def sequence(self, run: int) -> SequenceStatus:
        for seq in self.sequences:
            if seq.sequence.run == run:
                return seq
        raise KeyError(run)

    @property
    def all_finished(self) -> bool:
        return all(s.finished for s in self.data)

    def active_job_ids(self, runs: list[int] | None = None) -> set[str]:
        """Job ids with a task still queued or running (of some runs, or of the night)."""
        return {
            job
            for seq in self.sequences
            if runs is None or seq.sequence.run in runs
            for job in seq.active_job_ids()
        }

    def to_dict(self) -> dict[str, Any]:
        def seq_dict(seq: SequenceStatus) -> dict[str, Any]:
            return {
                "run": seq.sequence.run,
                "kind": seq.sequence.kind,
                "state": seq.state,
                "counts": seq.counts,
                "percent": seq.percent,
                "job_ids": seq.job_ids,
                "attempts": seq.attempts,
                "cpu": seq.cpu,
                "exit_code": seq.exit_code,
                "source": seq.sequence.source_name,
                "subruns": [asdict(s) for s in seq.subruns],
            }

        return {
            "night": self.night.isoformat(),
            "executor": self.executor,
            "scheduler_ok": self.scheduler_ok,
            "scheduler_message": self.scheduler_message,
            "as_of": self.as_of.isoformat(),
            "stale_since": self.stale_since.isoformat() if self.stale_since else None,
            "closed": self.closed,
            "totals": self.totals,
            "all_finished": self.all_finished,
            "sequences": [seq_dict(s) for s in self.sequences],
            "warnings": self.warnings,
        }


@dataclass
class Readiness:
    ready: bool
    missing: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    closed: bool = False

    def summary(self) -> str:
        if self.closed:
            return "night already closed"
        if self.ready:
            extra = f" ({len(self.given_up)} run(s) with given-up subruns)" if self.given_up else ""
            return "ready to close" + extra
        return (
            "not ready: "
            + "; ".join(self.missing[:4])
            + (f"; and {len(self.missing) - 4} more" if len(self.missing) > 4 else "")
        )

    def to_dict(self) -> dict:
        return {
            "ready": self.ready,
            "closed": self.closed,
            "missing": self.missing,
            "given_up": self.given_up,
        }


def latest_submission(subs: list[Submission], index: int | None) -> Submission | None:
    """The newest submission of a run that covers this array index (None: plain job)."""
    for sub in reversed(subs):
        if sub.indices is None or index in sub.indices:
            return sub
    return None


def id_reused(submission: Submission, task: TaskState) -> bool:
    """The scheduler's job with our id is another job (after a controller crash lost ours
    and gave the id again): its comment carries another submission's token, or, without a
    token, it has another name."""
    token = _token_of(task.comment)
    if token:
        return token != submission.token
    return bool(submission.name and task.name and task.name != submission.name)


def _token_of(comment: str) -> str:
    for part in comment.split(";"):
        if part.startswith("token="):
            return part[len("token=") :]
    return ""


def subrun_state(
    sequence: Sequence,
    index: int,
    history: HistorySummary,
    submission: Submission | None,
    task: TaskState | None,
    attempts: int,
    given_up: bool,
    scheduler_ok: bool,
    submitted_seconds_ago: float = 0.0,
) -> SubrunStatus:
    """Decide one subrun's state from its evidence (pure: the heart of reconciliation)."""
    steps = CALIBRATION_STEPS if sequence.kind == JobKind.CALIBRATION else DATA_STEPS
    done = tuple(s for s in steps if s in history.done)
    status = SubrunStatus(
        run=sequence.run,
        subrun=index,
        state=State.UNKNOWN,
        attempts=attempts,
        job_id=submission.job_id if submission else "",
        steps_done=done,
        failed_step=history.failed_step,
        failed_rc=history.failed_rc,
        failures=history.failures,
    )
    if task is not None:
        status.scheduler_state = task.state
        status.exit_code = task.exit_code
        if task.exit_code is None and task.state in FAILED_STATES:
            # sacct lags squeue by seconds; the payload exits with the failed step's code
            status.exit_code = history.failed_rc
        status.elapsed, status.cpu, status.max_rss = task.elapsed, task.cpu, task.max_rss
        status.reason = task.reason
    complete = len(done) == len(steps)
    if task is not None and task.state in ACTIVE_STATES and submission is not None:
        status.state = State.parse(task.state)
    elif complete:
        status.state = State.COMPLETED
    elif given_up:
        status.state = State.GIVEN_UP
    elif submission is None:
        status.state = State.NOT_SUBMITTED
    elif task is None:
        if scheduler_ok and submitted_seconds_ago > LOST_AFTER_SECONDS:
            status.state = State.LOST
            status.reason = "the scheduler has no record of this job (lost in a crash?)"
        else:
            status.state = State.UNKNOWN
            status.reason = (
                "scheduler unreachable" if not scheduler_ok else "not yet visible to the scheduler"
            )
    elif task.state == State.COMPLETED:
        status.state = State.FAILED
        status.reason = "job ended without finishing its steps"
    else:
        status.state = State.parse(task.state)
    if status.state not in (State.COMPLETED, *ACTIVE_STATES):
        if history.failed_step and not status.reason:
            status.reason = f"{history.failed_step} exited {history.failed_rc}"
        if "disk full" in history.last_note:
            status.reason = f"{history.failed_step}: {history.last_note}"
        elif status.exit_code == 74 and not history.failed_step:
            status.reason = "the job could not write its history (disk full?)"
    return status


def aggregate_state(subruns: list[SubrunStatus]) -> State:
    """One state for a sequence: done, working, never started, failed, or mixed."""
    counts = Counter(s.state for s in subruns)
    if not subruns:
        return State.NOT_SUBMITTED
    if counts[State.COMPLETED] + counts[State.GIVEN_UP] == len(subruns):
        return State.COMPLETED
    if counts[State.RUNNING]:
        return State.RUNNING
    if counts[State.PENDING]:
        return State.PENDING
    if counts[State.NOT_SUBMITTED] == len(subruns):
        return State.NOT_SUBMITTED
    if any(s.is_failed for s in subruns):
        return State.FAILED
    if counts[State.UNKNOWN]:
        return State.UNKNOWN
    return State.PARTIAL


@dataclass(frozen=True)
class Evidence:
    """What a status is computed from, already read (``osa_core.snapshot.observe``)."""

    journal: JournalView
    tasks: Mapping[tuple[str, int | None], TaskState]
    scheduler_ok: bool
    scheduler_message: str
    as_of: dt.datetime
    stale_since: dt.datetime | None
    histories: Mapping[tuple[int, int], HistorySummary]
    dl2_percent: Mapping[int, float | None]
    closed: bool
    executor: str
    now: dt.datetime


def build_status(config: Config, plan: Plan, evidence: Evidence) -> NightStatus:
    """The whole night's status from its evidence (pure)."""
    view = evidence.journal
    sequences = []
    for sequence in plan.sequences:
        subs = view.for_run(sequence.run)
        subrun_states = []
        for index in sequence.subruns:
            task_index = None if sequence.kind == JobKind.CALIBRATION else index
            submission = latest_submission(subs, task_index)
            task = evidence.tasks.get((submission.job_id, task_index)) if submission else None
            if task is not None and submission is not None and id_reused(submission, task):
                task = None  # the id was reused by another job: ours was lost
            subrun_states.append(
                subrun_state(
                    sequence,
                    index,
                    evidence.histories.get((sequence.run, index), _EMPTY_HISTORY),
                    submission,
                    task,
                    view.attempts(sequence.run, task_index),
                    (sequence.run, index) in view.given_up,
                    evidence.scheduler_ok,
                    _seconds_between(submission.time, evidence.now) if submission else 0.0,
                )
            )
        if sequence.kind == JobKind.CALIBRATION and not sequence.needs_job:
            for s in subrun_states:
                s.state, s.reason = State.COMPLETED, "calibration products already exist"
        sequences.append(_sequence_status(sequence, subrun_states, subs, evidence))
    return NightStatus(
        night=plan.night,
        plan=plan,
        sequences=sequences,
        executor=evidence.executor,
        scheduler_ok=evidence.scheduler_ok,
        scheduler_message=evidence.scheduler_message,
        as_of=evidence.as_of,
        stale_since=evidence.stale_since if not evidence.scheduler_ok else None,
        closed=evidence.closed,
    )


def _sequence_status(
    sequence: Sequence,
    subrun_states: list[SubrunStatus],
    subs: list[Submission],
    evidence: Evidence,
) -> SequenceStatus:
    counts = dict(Counter(str(s.state) for s in subrun_states))
    total = len(subrun_states) or 1
    percent: dict[str, float | None] = {}
    if sequence.kind != JobKind.CALIBRATION:
        for column, step in STEP_PROGRESS.items():
            percent[column] = 100.0 * sum(step in s.steps_done for s in subrun_states) / total
        percent["DL2"] = evidence.dl2_percent.get(sequence.run, 0.0)
    cpus = [s.cpu for s in subrun_states if s.cpu is not None]
    exits = [s.exit_code for s in subrun_states if s.exit_code not in (None, 0)]
    finished_ok = counts.get(State.COMPLETED) == len(subrun_states) and subs
    return SequenceStatus(
        sequence=sequence,
        state=aggregate_state(subrun_states),
        subruns=subrun_states,
        counts=counts,
        percent=percent,
        job_ids=[s.job_id for s in subs],
        attempts=max((s.attempts for s in subrun_states), default=0),
        cpu=sum(cpus) if cpus else None,
        exit_code=exits[-1] if exits else (0 if finished_ok else None),
    )


def _seconds_between(iso_time: str, now: dt.datetime) -> float:
    try:
        moment = dt.datetime.fromisoformat(iso_time)
    except ValueError:
        return 0.0
    return (now - moment).total_seconds()
