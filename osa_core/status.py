"""The night's status: a plain data model every face renders (console, CLI, ``--json``).

It joins three truths without inventing any: the plan (what should exist), the journal
(what we submitted, how often, what an operator gave up), the scheduler (state of each
task, in ONE query per refresh) and the subrun histories (which steps really finished).
When the scheduler does not answer, the last known task states are used and marked with
their age; nothing is concluded from a partial answer.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from osa_core.config import Config
from osa_core.executors.base import (
    ACTIVE_STATES,
    COMPLETED,
    FAILED,
    FAILED_STATES,
    PENDING,
    RUNNING,
    Executor,
    QueryResult,
    TaskState,
)
from osa_core.fsio import write_json_atomic
from osa_core.history import HistorySummary, read_history, summarize
from osa_core.journal import Journal, JournalView, Submission
from osa_core.paths import NightPaths
from osa_core.plan import CALIBRATION, Plan, Sequence
from osa_core.steps import CALIBRATION_STEPS, DATA_STEPS

NOT_SUBMITTED = "NOT_SUBMITTED"
LOST = "LOST"  # submitted, the scheduler answers, and has no such job (or reused its id)
LOST_AFTER_SECONDS = 30  # both squeue (immediate) and sacct (~1 s lag) have no trace
GIVEN_UP = "GIVEN_UP"
UNKNOWN = "UNKNOWN"
PARTIAL = "PARTIAL"
# Step columns of the SPEC table -> history step that makes them.
STEP_PROGRESS = {"DL1": "r0_to_dl1", "MUONS": "r0_to_dl1", "DL1AB": "dl1ab", "DCHECK": "datacheck"}


@dataclass
class SubrunStatus:
    run: int
    subrun: int
    state: str
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
        return (
            self.state not in (COMPLETED, GIVEN_UP, NOT_SUBMITTED, UNKNOWN)
            and self.state not in ACTIVE_STATES
        )


@dataclass
class SequenceStatus:
    sequence: Sequence
    state: str
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
        return all(s.state in (COMPLETED, GIVEN_UP) for s in self.subruns)


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
            if seq.sequence.kind != CALIBRATION:
                counter.update(seq.counts)
        return dict(counter)

    @property
    def data(self) -> list[SequenceStatus]:
        return [s for s in self.sequences if s.sequence.kind != CALIBRATION]

    def sequence(self, run: int) -> SequenceStatus:
        for seq in self.sequences:
            if seq.sequence.run == run:
                return seq
        raise KeyError(run)

    @property
    def all_finished(self) -> bool:
        return all(s.finished for s in self.data)

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


def _task_cache_path(paths: NightPaths):
    return paths.state_dir / "task-cache.json"


def query_with_memory(
    executor: Executor, paths: NightPaths, job_ids: list[str]
) -> tuple[dict[tuple[str, int | None], TaskState], QueryResult, dt.datetime | None]:
    """Ask the scheduler once; on failure fall back to the last answer and its time."""
    result = executor.query(job_ids) if job_ids else QueryResult()
    cache = _task_cache_path(paths)
    if result.reachable and result.complete:
        tasks = {t.key: t for t in result.tasks}
        if job_ids:
            try:
                write_json_atomic(
                    cache,
                    {
                        "as_of": result.as_of.isoformat(),
                        "tasks": [_task_to_json(t) for t in result.tasks],
                    },
                )
            except OSError:
                pass
        return tasks, result, None
    # Partial or no answer: start from the last complete one, overlay what we did get.
    tasks = {}
    stale = None
    try:
        data = json.loads(cache.read_text())
        stale = dt.datetime.fromisoformat(data["as_of"])
        for item in data["tasks"]:
            task = TaskState(**item)
            tasks[task.key] = task
    except (OSError, ValueError, KeyError, TypeError):
        pass
    for task in result.tasks:
        if task.state in ACTIVE_STATES or task.key not in tasks:
            tasks[task.key] = task
    return tasks, result, stale


_TASK_FIELDS = (
    "job_id",
    "index",
    "state",
    "exit_code",
    "signal",
    "elapsed",
    "cpu",
    "max_rss",
    "reason",
    "name",
    "comment",
)


def _task_to_json(task: TaskState) -> dict[str, Any]:
    """By hand, not dataclasses.asdict: 10,000 tasks per refresh."""
    return {name: getattr(task, name) for name in _TASK_FIELDS}


def _latest_submission(subs: list[Submission], index: int | None) -> Submission | None:
    for sub in reversed(subs):
        if sub.indices is None or index in sub.indices:
            return sub
    return None


class HistoryCache:
    """Summaries of the night's step histories, re-read only when a file changed.

    A refresh of a 10,000-subrun night would otherwise open and parse 10,000 files; a
    ``scandir`` tells size and mtime, and only changed files are read again. The summaries
    are kept in memory (the console refreshes every few seconds) and in
    ``history-cache.json`` in the night's state folder (a CLI call or cron tick).
    """

    _memory: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, paths: NightPaths) -> None:
        self.paths = paths
        self.file = paths.state_dir / "history-cache.json"
        key = str(self.file)
        if key not in self._memory:
            try:
                self._memory[key] = json.loads(self.file.read_text())
            except (OSError, ValueError):
                self._memory[key] = {}
        self.entries = self._memory[key]
        self.changed = False
        try:
            self.present = {
                e.name: e.stat() for e in os.scandir(paths.history_dir) if e.name.endswith(".jsonl")
            }
        except FileNotFoundError:
            self.present = {}

    def summary(self, path: Path) -> HistorySummary:
        stat = self.present.get(path.name)
        if stat is None:
            return summarize([])
        stamp = [stat.st_size, stat.st_mtime_ns]
        cached = self.entries.get(path.name)
        if cached is not None and cached[0] == stamp:
            data = cached[1]
            return HistorySummary(
                done=frozenset(data[0]),
                failed_step=data[1],
                failed_rc=data[2],
                failures=tuple(tuple(f) for f in data[3]),
                attempts=data[4],
                last_note=data[5],
            )
        summary = summarize(read_history(path))
        self.entries[path.name] = [
            stamp,
            [
                sorted(summary.done),
                summary.failed_step,
                summary.failed_rc,
                [list(f) for f in summary.failures],
                summary.attempts,
                summary.last_note,
            ],
        ]
        self.changed = True
        return summary

    def save(self) -> None:
        if self.changed:
            try:
                write_json_atomic(self.file, self.entries)
            except OSError:
                pass  # a read-only state folder only costs speed


def subrun_state(
    sequence: Sequence,
    index: int,
    history: HistorySummary,
    submission: Submission | None,
    task: TaskState | None,
    attempts: int,
    given_up: bool,
    scheduler_ok: bool,
) -> SubrunStatus:
    """Decide one subrun's state from its evidence (pure: the heart of reconciliation)."""
    steps = CALIBRATION_STEPS if sequence.kind == CALIBRATION else DATA_STEPS
    done = tuple(s for s in steps if s in history.done)
    status = SubrunStatus(
        run=sequence.run,
        subrun=index,
        state=UNKNOWN,
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
        status.state = task.state
    elif complete:
        status.state = COMPLETED
    elif given_up:
        status.state = GIVEN_UP
    elif submission is None:
        status.state = NOT_SUBMITTED
    elif task is None:
        if scheduler_ok and _age_seconds(submission.time) > LOST_AFTER_SECONDS:
            status.state = LOST
            status.reason = "the scheduler has no record of this job (lost in a crash?)"
        else:
            status.state = UNKNOWN
            status.reason = (
                "scheduler unreachable" if not scheduler_ok else "not yet visible to the scheduler"
            )
    elif task.state == COMPLETED:
        status.state = FAILED
        status.reason = "job ended without finishing its steps"
    else:
        status.state = task.state
    if status.state not in (COMPLETED, *ACTIVE_STATES):
        if history.failed_step and not status.reason:
            status.reason = f"{history.failed_step} exited {history.failed_rc}"
        if "disk full" in history.last_note:
            status.reason = f"{history.failed_step}: {history.last_note}"
        elif status.exit_code == 74 and not history.failed_step:
            status.reason = "the job could not write its history (disk full?)"
    return status


def _dl2_percent(paths: NightPaths, run: int) -> float | None:
    """100 once the run's DL2 was made at closing, None when it was skipped (no models)."""
    from osa_core.closing.layout import CloseLayout

    records = [r for r in read_history(CloseLayout(paths).run_history(run)) if r.step == "dl2"]
    if not records:
        return 0.0
    last = records[-1]
    if last.rc == 0:
        return None if last.note.startswith("skipped") else 100.0
    return 0.0


def _age_seconds(iso_time: str) -> float:
    try:
        moment = dt.datetime.fromisoformat(iso_time)
    except ValueError:
        return 0.0
    return (dt.datetime.now(dt.timezone.utc) - moment).total_seconds()


def _aggregate(subruns: list[SubrunStatus]) -> str:
    counts = Counter(s.state for s in subruns)
    if not subruns:
        return NOT_SUBMITTED
    if counts[COMPLETED] + counts[GIVEN_UP] == len(subruns):
        return COMPLETED
    if counts[RUNNING]:
        return RUNNING
    if counts[PENDING]:
        return PENDING
    if counts[NOT_SUBMITTED] == len(subruns):
        return NOT_SUBMITTED
    if any(s.is_failed for s in subruns):
        return FAILED
    if counts[UNKNOWN]:
        return UNKNOWN
    return PARTIAL


def night_status(
    config: Config, plan: Plan, executor: Executor, journal: JournalView | None = None
) -> NightStatus:
    """Compute the whole night's status with a single scheduler query."""
    paths = NightPaths(config, plan.night)
    view = journal if journal is not None else Journal(paths.journal).read()
    tasks, result, stale = query_with_memory(executor, paths, view.job_ids())
    history_cache = HistoryCache(paths)
    scheduler_ok = result.reachable and result.complete
    sequences = []
    for sequence in plan.sequences:
        subs = view.for_run(sequence.run)
        indices = sequence.subruns
        histories = {i: history_cache.summary(paths.history_file(sequence.run, i)) for i in indices}
        subrun_states = []
        for index in indices:
            task_index = None if sequence.kind == CALIBRATION else index
            submission = _latest_submission(subs, task_index)
            task = tasks.get((submission.job_id, task_index)) if submission else None
            if (
                task is not None
                and submission is not None
                and submission.name
                and task.name
                and task.name != submission.name
            ):
                task = None  # the id was reused by another job: ours was lost
            subrun_states.append(
                subrun_state(
                    sequence,
                    index,
                    histories[index],
                    submission,
                    task,
                    view.attempts(sequence.run, task_index),
                    (sequence.run, index) in view.given_up,
                    scheduler_ok,
                )
            )
        if sequence.kind == CALIBRATION and not sequence.needs_job:
            for s in subrun_states:
                s.state, s.reason = COMPLETED, "calibration products already exist"
        counts = dict(Counter(s.state for s in subrun_states))
        total = len(subrun_states) or 1
        percent: dict[str, float | None] = {}
        if sequence.kind != CALIBRATION:
            for column, step in STEP_PROGRESS.items():
                percent[column] = 100.0 * sum(step in s.steps_done for s in subrun_states) / total
            percent["DL2"] = _dl2_percent(paths, sequence.run)
        cpus = [s.cpu for s in subrun_states if s.cpu is not None]
        exits = [s.exit_code for s in subrun_states if s.exit_code not in (None, 0)]
        sequences.append(
            SequenceStatus(
                sequence=sequence,
                state=_aggregate(subrun_states),
                subruns=subrun_states,
                counts=counts,
                percent=percent,
                job_ids=[s.job_id for s in subs],
                attempts=max((s.attempts for s in subrun_states), default=0),
                cpu=sum(cpus) if cpus else None,
                exit_code=exits[-1]
                if exits
                else (0 if counts.get(COMPLETED) == len(subrun_states) and subs else None),
            )
        )
    history_cache.save()
    return NightStatus(
        night=plan.night,
        plan=plan,
        sequences=sequences,
        executor=executor.describe(),
        scheduler_ok=scheduler_ok,
        scheduler_message=result.message,
        as_of=result.as_of,
        stale_since=stale if not scheduler_ok else None,
        closed=paths.night_finished.exists(),
    )
