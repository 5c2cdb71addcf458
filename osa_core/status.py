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
from osa_core.jobs import compact_ranges as compact
from osa_core.journal import JournalView, Submission
from osa_core.night.observation import ObservationEnd
from osa_core.plan import Plan, Sequence
from osa_core.run_calibration import RunCalibration
from osa_core.steps import (
    CALIBRATION_STEPS,
    DATA_STEPS,
    GAIN_SELECTION_STEPS,
    RUN_CALIBRATION_STEPS,
)
from osa_core.vocabulary import ACTIVE_STATES, FAILED_STATES, FINISHED_STATES, JobKind, State

#: A submitted job the scheduler does not show is LOST only once THIS host has seen it
#: absent from complete scheduler answers for this long (``Evidence.absent_since``, kept by
#: ``snapshot.TaskMemory`` on this host's clock: never the journal's time, which another
#: host's clock wrote). squeue shows a new job at once and sacct within a second, so 30 s
#: without a trace is a real loss.
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
    phase: str = ""  # the job kind of the subrun's current phase (DATA, DL1A, DL1B...)

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
    run_calibration: RunCalibrationStatus | None = None  # per-run workflow only
    waiting: str = ""  # what keeps the run waiting, in a shifter's words

    @property
    def failed(self) -> list[SubrunStatus]:
        return [s for s in self.subruns if s.is_failed]

    @property
    def finished(self) -> bool:
        return all(s.state in FINISHED_STATES for s in self.subruns)

    def active_job_ids(self) -> set[str]:
        ids = {s.job_id for s in self.subruns if s.state in ACTIVE_STATES and s.job_id}
        runcal = self.run_calibration
        if runcal is not None and runcal.state in ACTIVE_STATES and runcal.job_id:
            ids.add(runcal.job_id)
        return ids


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
    observation: ObservationEnd | None = None  # None: not asked (observation over)

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
                "run_calibration": asdict(seq.run_calibration) if seq.run_calibration else None,
                "waiting": seq.waiting,
            }

        return {
            "night": self.night.isoformat(),
            "executor": self.executor,
            "scheduler_ok": self.scheduler_ok,
            "scheduler_message": self.scheduler_message,
            "as_of": self.as_of.isoformat(),
            "stale_since": self.stale_since.isoformat() if self.stale_since else None,
            "closed": self.closed,
            "observation": self.observation.to_dict() if self.observation else None,
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

    def to_dict(self) -> dict[str, Any]:
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
    absent_seconds: float | None = None,
    steps: tuple[str, ...] | None = None,
) -> SubrunStatus:
    """Decide one subrun's state from its evidence (pure: the heart of reconciliation).
    ``absent_seconds``: how long the observing host has seen the submission's job absent
    from complete scheduler answers (None: not seen absent)."""
    if steps is None:
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
        if scheduler_ok and absent_seconds is not None and absent_seconds > LOST_AFTER_SECONDS:
            status.state = State.LOST
            status.reason = (
                f"the scheduler has had no record of this job for {absent_seconds:.0f} s "
                "(lost in a crash?)"
            )
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
    if counts[State.AWAITED] and (
        counts[State.AWAITED] + counts[State.COMPLETED] + counts[State.GIVEN_UP] == len(subruns)
    ):
        return State.AWAITED
    if counts[State.WAITING] and not any(s.is_failed for s in subruns):
        return State.WAITING
    if any(s.is_failed for s in subruns):
        return State.FAILED
    if counts[State.UNKNOWN]:
        return State.UNKNOWN
    return State.PARTIAL


@dataclass
class RunCalibrationStatus:
    """A run's phase 2 (Cat-B, tail cuts, NSB, models): its job, and what it decided."""

    state: State
    job_id: str = ""
    attempts: int = 0
    reason: str = ""
    record: RunCalibration | None = None
    failed_step: str | None = None
    failed_rc: int | None = None
    failures: tuple[tuple[str, int], ...] = ()
    scheduler_state: str = ""

    @property
    def is_failed(self) -> bool:
        return self.state in FAILED_STATES

    def waiting_reason(self) -> str:
        """Why a subrun whose DL1a is done has no DL1b job yet."""
        if self.state == State.WAITING:
            return f"waits on the run calibration, {self.reason}"
        if self.is_failed:
            return f"the run calibration {self.state.lower()} ({self.reason}): resubmit the run"
        if self.state in ACTIVE_STATES:
            return f"waits on the run calibration (job {self.job_id})"
        return "waits on the run calibration (not submitted yet)"

    def summary(self) -> str:
        """One line for tables: the decision, or where the phase stands."""
        record = self.record
        if record is None:
            return f"{self.state.lower()}" + (f": {self.reason}" if self.reason else "")
        catb = "Cat-B ✓" if record.catb.ok else f"Cat-B ✗ ({record.catb.reason})"
        models = record.models.dl2_prod_id or f"no models ({record.models.reason})"
        return f"{record.tailcuts.describe()} · {catb} · {models}"


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
    run_histories: Mapping[int, HistorySummary] = field(default_factory=dict)
    run_calibrations: Mapping[int, RunCalibration] = field(default_factory=dict)
    config_sha: str = ""  # of the configuration on disk now (osa_core.frozen_config)
    warnings: tuple[str, ...] = ()  # e.g. malformed journal lines (osa_core.snapshot)
    #: (submission token, array index) -> when this host first saw that task absent from a
    #: complete scheduler answer (or its id taken by another job), on the clock of ``now``
    absent_since: Mapping[tuple[str, int | None], dt.datetime] = field(default_factory=dict)
    #: is the observation over (``osa_core.night.observation``); None: not asked
    observation: ObservationEnd | None = None
    #: when the RunSummary that declares the awaited subruns was last written
    declared_since: dt.datetime | None = None


def build_status(config: Config, plan: Plan, evidence: Evidence) -> NightStatus:
    """The whole night's status from its evidence (pure)."""
    sequences = []
    for sequence in plan.sequences:
        if sequence.kind == JobKind.CALIBRATION:
            sequences.append(_single_job_sequence(sequence, evidence, JobKind.CALIBRATION))
        elif plan.per_run:
            sequences.append(_phased_sequence(sequence, evidence, plan.gain_selection))
        else:
            sequences.append(
                _single_job_sequence(sequence, evidence, JobKind.DATA, plan.gain_selection)
            )
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
        warnings=[
            *config_warnings(evidence),
            *evidence.warnings,
            *gain_selection_warnings(plan, evidence),
        ],
        observation=evidence.observation,
    )


def gain_selection_warnings(plan: Plan, evidence: Evidence) -> list[str]:
    """The gain selection's warnings (from its logs, recorded as the step's note), per run
    and warning: lstosa scans the logs for them; here they reach the status at once."""
    if not plan.gain_selection:
        return []
    found: dict[tuple[int, str], list[int]] = {}
    for sequence in plan.data_sequences:
        for index in sequence.subruns:
            history = evidence.histories.get((sequence.run, index))
            note = history.last_note_of.get(GAIN_SELECTION_STEPS[0], "") if history else ""
            if note.startswith("warning:"):
                found.setdefault((sequence.run, note), []).append(index)
    return [
        f"run {run:05d}: gain selection {note} (subrun(s) {compact(indices)})"
        for (run, note), indices in sorted(found.items())
    ]


def config_warnings(evidence: Evidence) -> list[str]:
    """Say when the configuration on disk is not the one the night's jobs run with."""
    used = [s for s in evidence.journal.submissions if s.config_sha]
    if not used or not evidence.config_sha or used[-1].config_sha == evidence.config_sha:
        return []
    return [
        f"the configuration changed after the night was submitted: its jobs run with the one "
        f"frozen at {used[-1].time or 'submission'} (osa-{used[-1].config_sha}.toml); "
        "new submissions use the new one"
    ]


class _Jobs:
    """One run's submissions of one job kind, and their tasks as the scheduler has them."""

    def __init__(self, evidence: Evidence, run: int, kinds: tuple[str, ...]) -> None:
        self.evidence = evidence
        self.kind = kinds[0]
        self.submissions = [s for s in evidence.journal.for_run(run) if s.kind in kinds]

    def latest(self, index: int | None) -> Submission | None:
        return latest_submission(self.submissions, index)

    def task(self, submission: Submission | None, index: int | None) -> TaskState | None:
        if submission is None:
            return None
        task = self.evidence.tasks.get((submission.job_id, index))
        if task is not None and id_reused(submission, task):
            return None  # the id was reused by another job: ours was lost
        return task

    def attempts(self, index: int | None) -> int:
        return sum(1 for s in self.submissions if s.indices is None or index in s.indices)

    def absent_for(self, submission: Submission | None, index: int | None) -> float | None:
        """Seconds this host has seen the submission's task absent (None: not absent)."""
        since = self.evidence.absent_since.get((submission.token, index)) if submission else None
        return (self.evidence.now - since).total_seconds() if since is not None else None

    def state(
        self,
        sequence: Sequence,
        index: int,
        history: HistorySummary,
        given_up: bool,
        steps: tuple[str, ...] | None = None,
    ) -> SubrunStatus:
        task_index = None if sequence.kind == JobKind.CALIBRATION else index
        submission = self.latest(task_index)
        status = subrun_state(
            sequence,
            index,
            history,
            submission,
            self.task(submission, task_index),
            self.attempts(task_index),
            given_up,
            self.evidence.scheduler_ok,
            self.absent_for(submission, task_index),
            steps,
        )
        status.phase = self.kind
        return status


def _single_job_sequence(
    sequence: Sequence, evidence: Evidence, kind: JobKind, gain_selection: bool = False
) -> SequenceStatus:
    """The calibration, or a run whose subruns each run every step in one job (fixed),
    after their gain selection when the night needs one."""
    jobs = _Jobs(evidence, sequence.run, (kind,))
    gainsel = _Jobs(evidence, sequence.run, (JobKind.GAIN_SELECTION,)) if gain_selection else None
    view = evidence.journal
    states = []
    for index in sequence.subruns:
        history = evidence.histories.get((sequence.run, index), _EMPTY_HISTORY)
        given_up = (sequence.run, index) in view.given_up
        selecting = gain_selection_state(gainsel, sequence, index, history, given_up)
        states.append(selecting or jobs.state(sequence, index, history, given_up))
    if sequence.kind == JobKind.CALIBRATION and not sequence.needs_job:
        for s in states:
            if s.state in ACTIVE_STATES:
                continue  # its products appear while the job writes them: not done yet
            s.state, s.reason = State.COMPLETED, "calibration products already exist"
    states += awaited_states(sequence, evidence)
    return _sequence_status(sequence, states, view.for_run(sequence.run), evidence)


def gain_selection_state(
    gainsel: _Jobs | None,
    sequence: Sequence,
    index: int,
    history: HistorySummary,
    given_up: bool,
) -> SubrunStatus | None:
    """The subrun's state while it is in its gain selection (R0 → R0G), or None once that
    is done (or the night needs none). Its analysis is submitted by the first tick after:
    no scheduler dependency, so one subrun's failed gain selection holds that subrun (and
    the run's calibration, which samples the whole run), never a whole array of others."""
    if gainsel is None or GAIN_SELECTION_STEPS[0] in history.done:
        return None
    return gainsel.state(sequence, index, history, given_up, GAIN_SELECTION_STEPS)


def awaited_states(sequence: Sequence, evidence: Evidence) -> list[SubrunStatus]:
    """The subruns the RunSummary declares and the disk lacks: AWAITED (since the
    RunSummary said so), or GIVEN_UP once an operator decided they will not come."""
    since = (
        f" (declared by the RunSummary of {evidence.declared_since:%Y-%m-%d %H:%M} UTC)"
        if evidence.declared_since
        else ""
    )
    states = []
    for index in sequence.awaited:
        if (sequence.run, index) in evidence.journal.given_up:
            states.append(
                SubrunStatus(sequence.run, index, State.GIVEN_UP, reason="given up: not on disk")
            )
        else:
            states.append(
                SubrunStatus(
                    sequence.run,
                    index,
                    State.AWAITED,
                    reason="files not on disk yet, or being written" + since,
                )
            )
    return states


def _phased_sequence(
    sequence: Sequence, evidence: Evidence, gain_selection: bool = False
) -> SequenceStatus:
    """A run of the per-run workflow: DL1a per subrun, the run's calibration, DL1b per
    subrun. Each subrun is in the phase its history says; a subrun whose DL1a is done
    waits on the run's calibration until its DL1b job exists."""
    view, run = evidence.journal, sequence.run
    dl1a = _Jobs(evidence, run, (JobKind.DL1A,))
    dl1b = _Jobs(evidence, run, (JobKind.DL1B,))
    gainsel = _Jobs(evidence, run, (JobKind.GAIN_SELECTION,)) if gain_selection else None
    histories = {i: evidence.histories.get((run, i), _EMPTY_HISTORY) for i in sequence.subruns}
    given_up = {i for i in sequence.subruns if (run, i) in view.given_up}
    runcal = run_calibration_state(sequence, evidence, histories, given_up)
    states = []
    for index in sequence.subruns:
        history = histories[index]
        selecting = gain_selection_state(gainsel, sequence, index, history, index in given_up)
        if selecting is not None:
            states.append(selecting)
            continue
        if "r0_to_dl1" not in history.done:
            states.append(dl1a.state(sequence, index, history, index in given_up))
            continue
        submission = dl1b.latest(index)
        task = dl1b.task(submission, index)
        dead = (
            task is not None
            and submission is not None
            and cancelled_by_dependency(task, submission, evidence.tasks)
        )
        if (submission is None or dead) and runcal.state != State.COMPLETED:
            state = dl1b.state(sequence, index, history, index in given_up)
            if state.state not in FINISHED_STATES:
                state.state = State.WAITING
                state.reason = runcal.waiting_reason()
            states.append(state)
            continue
        state = dl1b.state(sequence, index, history, index in given_up)
        if submission is None and state.state == State.NOT_SUBMITTED:
            state.state, state.reason = State.WAITING, "DL1b not submitted yet"
        states.append(state)
    states += awaited_states(sequence, evidence)
    status = _sequence_status(sequence, states, view.for_run(run), evidence)
    status.run_calibration = runcal
    status.waiting = _what_keeps_waiting(states, runcal)
    if runcal.record is not None:
        status.percent["CATB"] = 100.0 if runcal.record.catb.ok else 0.0
    else:
        status.percent["CATB"] = 0.0
    return status


def run_calibration_state(
    sequence: Sequence,
    evidence: Evidence,
    histories: Mapping[int, HistorySummary],
    given_up: set[int],
) -> RunCalibrationStatus:
    """The run's phase 2: decided, working, failed, or held by its subruns' DL1a."""
    run = sequence.run
    jobs = _Jobs(evidence, run, (JobKind.RUN_CALIBRATION,))
    history = evidence.run_histories.get(run, _EMPTY_HISTORY)
    record = evidence.run_calibrations.get(run)
    submission = jobs.latest(None)
    task = jobs.task(submission, None)
    state = subrun_state(
        sequence,
        -1,
        history,
        submission,
        task,
        jobs.attempts(None),
        False,
        evidence.scheduler_ok,
        jobs.absent_for(submission, None),
        RUN_CALIBRATION_STEPS,
    )
    status = RunCalibrationStatus(
        state=state.state,
        job_id=state.job_id,
        attempts=state.attempts,
        reason=state.reason,
        record=record,
        failed_step=state.failed_step,
        failed_rc=state.failed_rc,
        failures=state.failures,
        scheduler_state=state.scheduler_state,
    )
    if state.state == State.COMPLETED and record is None:
        status.state, status.reason = State.FAILED, "steps done but no decision written"
    blocking = _dl1a_blockers(sequence, evidence, histories, given_up)
    if status.state in (State.NOT_SUBMITTED, State.UNKNOWN) or (
        task is not None
        and submission is not None
        and cancelled_by_dependency(task, submission, evidence.tasks)
    ):
        if blocking:
            status.state = State.WAITING
            status.reason = blocking
        elif status.state != State.UNKNOWN and not any(
            "r0_to_dl1" in h.done for i, h in histories.items() if i not in given_up
        ):
            status.state, status.reason = State.WAITING, "no subrun has its DL1a yet"
    return status


def _dl1a_blockers(
    sequence: Sequence,
    evidence: Evidence,
    histories: Mapping[int, HistorySummary],
    given_up: set[int],
) -> str:
    """Subruns whose DL1a failed and that nobody resubmitted or gave up: they hold the run's
    calibration (it samples the whole run)."""
    dl1a = _Jobs(evidence, sequence.run, (JobKind.DL1A,))
    gainsel = _Jobs(evidence, sequence.run, (JobKind.GAIN_SELECTION,))
    failed, selection_failed = [], []
    for index in sequence.subruns:
        if index in given_up or "r0_to_dl1" in histories[index].done:
            continue
        if gainsel.submissions and GAIN_SELECTION_STEPS[0] not in histories[index].done:
            selecting = gainsel.state(
                sequence, index, histories[index], False, GAIN_SELECTION_STEPS
            )
            if selecting.is_failed:
                selection_failed.append(index)
            continue
        state = dl1a.state(sequence, index, histories[index], False)
        if state.is_failed:
            failed.append(index)
    awaited = [i for i in sequence.awaited if (sequence.run, i) not in evidence.journal.given_up]
    if selection_failed:
        return (
            f"held: subrun(s) {compact(selection_failed)} failed in gain selection "
            "(resubmit them, or give them up to calibrate the run without them)"
        )
    if failed:
        return (
            f"held: subrun(s) {compact(failed)} failed in r0_to_dl1 "
            "(resubmit them, or give them up to calibrate the run without them)"
        )
    if awaited:
        return (
            f"held: subrun(s) {compact(awaited)} declared by the RunSummary, not on disk yet "
            "(the run is calibrated once they land, or once an operator gives them up)"
        )
    return ""


def cancelled_by_dependency(
    task: TaskState,
    submission: Submission,
    tasks: Mapping[tuple[str, int | None], TaskState],
) -> bool:
    """A task the scheduler cancelled before it ran because a job it waited on ``afterok``
    failed. SLURM says "Dependency" in the reason while it keeps the job, and sacct may
    show no reason later: then a task that never started, of a job that waited on a job
    that ended badly, is one."""
    if task.state != State.CANCELLED:
        return False
    if "Dependency" in task.reason:
        return True
    if task.elapsed or task.started is not None:
        return False
    upstream = [t for t in tasks.values() if t.job_id in submission.dependencies]
    return any(t.state in FAILED_STATES for t in upstream)


def _what_keeps_waiting(states: list[SubrunStatus], runcal: RunCalibrationStatus) -> str:
    """The console's "what keeps the run waiting" line ("" when nothing does)."""
    if all(s.state in FINISHED_STATES for s in states):
        return ""
    if runcal.state == State.WAITING:
        return f"run calibration {runcal.reason}"
    if runcal.is_failed:
        return f"run calibration {runcal.state.lower()}: {runcal.reason} (resubmit the run)"
    if runcal.state in ACTIVE_STATES:
        return f"run calibration {runcal.state.lower()} (job {runcal.job_id})"
    return ""


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
