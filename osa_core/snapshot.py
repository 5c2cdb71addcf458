"""Observe a night once: the one place a tick reads the world.

A tick (cron, the console's refresh, a CLI command, a campaign pass) starts here. The
journal is read once, the scheduler is asked once (plus a name search only when a
submission was interrupted by a crash), the histories are read through a cache that
re-reads only files that changed, and the status is computed from all of it by the pure
``osa_core.status.build_status``. Rules then decide from the snapshot without reading
anything again (``osa_core.rules``), and acting never re-reads what the snapshot holds.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from osa_core.config import Config
from osa_core.errors import SchedulerUnavailable
from osa_core.executors.api import Executor, JobRecord, QueryResult, TaskState
from osa_core.frozen_config import frozen_text
from osa_core.fsio import write_json_atomic
from osa_core.history import HistorySummary, read_history, summarize
from osa_core.journal import Journal, JournalView, journal_problem
from osa_core.night.observation import observation_end
from osa_core.paths import NightPaths
from osa_core.plan import Plan
from osa_core.run_calibration import RunCalibration, read_record
from osa_core.status import Evidence, NightStatus, build_status, id_reused
from osa_core.vocabulary import ACTIVE_STATES, JobKind

#: The scheduler message of a snapshot that did not ask it (files only).
NOT_ASKED = "not asked yet"

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


@dataclass(frozen=True)
class Recovery:
    """What the scheduler says of a submission interrupted between intent and sbatch's
    answer: the job carrying its token (recovered), or none (abandoned)."""

    token: str
    intent: dict[str, Any]
    job_id: str | None  # None: the scheduler answered and has no such job

    def entry(self) -> tuple[str, dict[str, Any]]:
        """The journal record that settles the intent."""
        intent = self.intent
        if self.job_id is None:
            return "abandoned", {
                "token": self.token,
                "run": intent.get("run"),
                "reason": "no job with this token exists: the submission never reached "
                "the scheduler",
            }
        return "recovered", {
            "token": self.token,
            "run": intent["run"],
            "kind": intent.get("kind", JobKind.DATA),
            "name": intent.get("name", ""),
            "job_id": self.job_id,
            "indices": intent.get("indices"),
            "attempt": intent.get("attempt", 1),
            "memory": intent.get("memory", ""),
            "time_limit": intent.get("time_limit", ""),
            "dependencies": intent.get("dependencies", []),
            "purpose": intent.get("purpose", "submit"),
            "config_sha": intent.get("config_sha", ""),
        }


@dataclass(frozen=True)
class NightSnapshot:
    """Everything a tick knows about a night, read once."""

    config: Config
    plan: Plan
    paths: NightPaths
    journal: JournalView  # with interrupted submissions already settled (``recoveries``)
    recoveries: tuple[Recovery, ...]
    unsettled_intents: bool  # intents the scheduler could not be asked about
    tasks: dict[tuple[str, int | None], TaskState]
    query: QueryResult
    status: NightStatus
    history_mtimes: dict[tuple[int, int], float]
    close_histories: dict[int, tuple[HistorySummary, float]]
    evidence: Evidence
    now: float = field(default_factory=time.time)
    journal_problem: str = ""  # lines of the journal that are not records (needs an operator)

    @property
    def scheduler_ok(self) -> bool:
        return self.status.scheduler_ok

    def without_jobs(self, job_ids: list[str]) -> NightSnapshot:
        """The snapshot as it is once these jobs are gone from the scheduler (ended after
        their end was lost): their subruns are then decided by their histories alone."""
        gone = set(job_ids)
        tasks = {key: task for key, task in self.tasks.items() if task.job_id not in gone}
        evidence = replace(self.evidence, tasks=tasks)
        return replace(
            self,
            tasks=tasks,
            evidence=evidence,
            status=build_status(self.config, self.plan, evidence),
        )


class TaskMemory:
    """What this host remembers of the scheduler's answers for a night, with its times.

    * The last complete answer: when the scheduler does not answer (or only partly:
      slurmdbd down or slow while slurmctld answers), the last complete answer is used,
      overlaid with what did come back, and shown with its age; nothing is concluded from
      a partial answer.
    * When THIS host first saw each submitted task absent from a complete answer (or its
      job id taken by another job), with the host's name: a job is LOST only after
      ``status.LOST_AFTER_SECONDS`` of absence measured on one clock, this host's, never
      against the journal's time, which the submitting host's clock wrote. A task seen
      again leaves the record. Each host keeps its own record in the file and reads only
      its own (another host's clock may be skewed): a host that looks for the first time
      starts its own window.
    """

    def __init__(self, paths: NightPaths, host: str | None = None) -> None:
        self.file = paths.state_dir / "task-cache.json"
        self.absence_file = paths.state_dir / "task-absence.json"
        self.host = host or socket.gethostname()

    def merge(
        self, result: QueryResult, asked: bool
    ) -> tuple[dict[tuple[str, int | None], TaskState], dt.datetime | None]:
        if result.reachable and result.complete:
            tasks = {t.key: t for t in result.tasks}
            if asked:
                self._save(result)
            return tasks, None
        tasks = {}
        stale = None
        try:
            data = json.loads(self.file.read_text())
            stale = dt.datetime.fromisoformat(data["as_of"])
            for item in data["tasks"]:
                task = TaskState(**item)
                tasks[task.key] = task
        except (OSError, ValueError, KeyError, TypeError):
            pass
        for task in result.tasks:
            if task.state in ACTIVE_STATES or task.key not in tasks:
                tasks[task.key] = task
        return tasks, stale

    def absences(
        self,
        view: JournalView,
        tasks: dict[tuple[str, int | None], TaskState],
        complete: bool,
        now: float,
    ) -> dict[tuple[str, int | None], dt.datetime]:
        """(submission token, index) → when this host first saw that task absent, for the
        tasks absent now. Updated only from a complete answer; ``now`` is this host's
        clock (the same clock as the status's ``now``)."""
        hosts = self._load_absences()
        known = hosts.get(self.host, {})
        if not complete:
            current = known
        else:
            current = {}
            for sub in view.submissions:
                for index in sub.indices if sub.indices is not None else (None,):
                    task = tasks.get((sub.job_id, index))
                    if task is None or id_reused(sub, task):
                        key = _absence_key(sub.token, index)
                        current[key] = known.get(key, now)
            if current != known:
                hosts[self.host] = current
                try:
                    write_json_atomic(self.absence_file, {"hosts": hosts})
                except OSError:
                    pass  # a read-only state folder: the window restarts at each look
        return {
            _parse_absence_key(key): dt.datetime.fromtimestamp(since, dt.timezone.utc)
            for key, since in current.items()
        }

    def _load_absences(self) -> dict[str, dict[str, float]]:
        """Host → its record (each host reads only its own: another host's times are
        on another clock; writing keeps the others')."""
        try:
            data = json.loads(self.absence_file.read_text())
            return {
                str(host): {str(k): float(v) for k, v in record.items()}
                for host, record in data["hosts"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}

    def _save(self, result: QueryResult) -> None:
        # by hand, not dataclasses.asdict: 10,000 tasks per refresh
        payload = {
            "as_of": result.as_of.isoformat(),
            "tasks": [{name: getattr(t, name) for name in _TASK_FIELDS} for t in result.tasks],
        }
        try:
            write_json_atomic(self.file, payload)
        except OSError:
            pass  # a read-only state folder only costs the fallback


def _absence_key(token: str, index: int | None) -> str:
    return f"{token}:{'' if index is None else index}"


def _parse_absence_key(key: str) -> tuple[str, int | None]:
    token, _, index = key.rpartition(":")
    return token, int(index) if index else None


class HistoryCache:
    """Summaries of a night's step histories, re-read only when a file changed.

    A refresh of a 10,000-subrun night would otherwise open and parse 10,000 files; a
    ``scandir`` tells size and mtime, and only changed files are read again. Summaries are
    kept in memory for the few most recent nights (a console refreshes every few seconds;
    a campaign walks a thousand nights and must not keep them all) and in
    ``history-cache.json`` in the night's state folder (a CLI call or cron tick).
    """

    MAX_NIGHTS = 8
    _memory: ClassVar[OrderedDict[str, dict[str, Any]]] = OrderedDict()

    def __init__(self, paths: NightPaths) -> None:
        self.paths = paths
        self.file = paths.state_dir / "history-cache.json"
        key = str(self.file)
        entries = self._memory.pop(key, None)
        if entries is None:
            try:
                entries = json.loads(self.file.read_text())
            except (OSError, ValueError):
                entries = {}
        self._memory[key] = entries
        while len(self._memory) > self.MAX_NIGHTS:
            self._memory.popitem(last=False)
        self.entries: dict[str, Any] = entries
        self.changed = False
        try:
            self.present = {
                e.name: e.stat() for e in os.scandir(paths.history_dir) if e.name.endswith(".jsonl")
            }
        except FileNotFoundError:
            self.present = {}

    def mtime(self, path: Path) -> float | None:
        stat = self.present.get(path.name)
        return stat.st_mtime if stat is not None else None

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
                failures=tuple((str(f[0]), int(f[1])) for f in data[3]),
                attempts=data[4],
                last_note=data[5],
                step_notes=tuple((str(n[0]), str(n[1])) for n in data[6]) if len(data) > 6 else (),
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
                [list(n) for n in summary.step_notes],
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


def settle_intents(
    view: JournalView, found: dict[str, list[JobRecord]]
) -> tuple[JournalView, tuple[Recovery, ...]]:
    """Settle interrupted submissions (pure): a job carrying the intent's token was
    submitted (recovered); none means the submission never happened (abandoned)."""
    recoveries = []
    for token, intent in view.intents.items():
        jobs = [j for j in found.get(token, []) if f"token={token}" in j.comment]
        recoveries.append(Recovery(token, intent, jobs[0].job_id if jobs else None))
    if not recoveries:
        return view, ()
    return view.settled([r.entry() for r in recoveries]), tuple(recoveries)


def find_interrupted(executor: Executor, view: JournalView) -> dict[str, list[JobRecord]] | None:
    """Jobs carrying the tokens of unsettled intents; None when the scheduler cannot say."""
    found: dict[str, list[JobRecord]] = {}
    try:
        for token, intent in view.intents.items():
            found[token] = executor.find_jobs(str(intent.get("name", "")))
    except SchedulerUnavailable:
        return None
    return found


def observe(
    config: Config,
    plan: Plan,
    executor: Executor,
    *,
    settle: bool = True,
    journal: JournalView | None = None,
    ask_scheduler: bool = True,
    clock: Callable[[], float] = time.time,
    host: str | None = None,
    asking: Callable[[bool], None] | None = None,
) -> NightSnapshot:
    """Read the night once into a snapshot. ``settle`` looks up interrupted submissions in
    the scheduler (a preview may skip it: it writes nothing). ``ask_scheduler=False`` reads
    only the files: the last known task states, with their age (what a console shows at
    once, before a scheduler that may be down has answered). ``clock`` and ``host`` are
    this host's (tests give others: a skewed clock, another host). ``asking`` is told True
    before the scheduler is asked and False once it answered: a console says which of the
    two, the files or the scheduler, a slow refresh waits for."""
    tell = asking or (lambda now: None)
    paths = NightPaths(config, plan.night)
    view = journal if journal is not None else Journal(paths.journal).read()
    recoveries: tuple[Recovery, ...] = ()
    unsettled = bool(view.intents)
    if settle and ask_scheduler and view.intents:
        tell(True)
        found = find_interrupted(executor, view)
        tell(False)
        if found is not None:
            view, recoveries = settle_intents(view, found)
            unsettled = False
    job_ids = view.job_ids()
    if not ask_scheduler:
        result = QueryResult(reachable=False, complete=False, message=NOT_ASKED)
    elif job_ids:
        tell(True)
        result = executor.query(job_ids)
        tell(False)
    else:
        result = QueryResult()
    memory = TaskMemory(paths, host)
    tasks, stale = memory.merge(result, asked=bool(job_ids) and ask_scheduler)
    now = clock()
    complete = bool(job_ids) and ask_scheduler and result.reachable and result.complete
    absent_since = memory.absences(view, tasks, complete, now)
    cache = HistoryCache(paths)
    histories: dict[tuple[int, int], HistorySummary] = {}
    mtimes: dict[tuple[int, int], float] = {}
    for sequence in plan.sequences:
        for index in sequence.subruns:
            path = paths.history_file(sequence.run, index)
            histories[(sequence.run, index)] = cache.summary(path)
            mtime = cache.mtime(path)
            if mtime is not None:
                mtimes[(sequence.run, index)] = mtime
    run_histories: dict[int, HistorySummary] = {}
    run_calibrations: dict[int, RunCalibration] = {}
    if plan.per_run:
        for sequence in plan.data_sequences:
            run_histories[sequence.run] = cache.summary(paths.run_history(sequence.run))
            record = read_record(paths.run_calibration_record(sequence.run))
            if record is not None:
                run_calibrations[sequence.run] = record
    cache.save()
    close_histories = _close_histories(paths, plan)
    problem = journal_problem(
        view,
        paths.journal,
        (paths.lock, paths.closer_lock),  # its writers: actions, and the closing job
        f"osa journal repair --date {plan.night.isoformat()}",
    )
    evidence = Evidence(
        journal=view,
        tasks=tasks,
        scheduler_ok=result.reachable and result.complete,
        scheduler_message=_scheduler_message(result),
        as_of=result.as_of,
        stale_since=stale,
        histories=histories,
        dl2_percent={run: _dl2_percent(h) for run, (h, _) in close_histories.items()},
        closed=paths.night_finished.exists(),
        executor=executor.describe(),
        now=dt.datetime.fromtimestamp(now, dt.timezone.utc),
        run_histories=run_histories,
        run_calibrations=run_calibrations,
        config_sha=frozen_text(config)[1],
        warnings=(problem,) if problem else (),
        absent_since=absent_since,
        observation=observation_end(
            config, plan.night, dt.datetime.fromtimestamp(now, dt.timezone.utc)
        ),
        declared_since=_declared_since(paths, plan),
    )
    return NightSnapshot(
        config=config,
        plan=plan,
        paths=paths,
        journal=view,
        recoveries=recoveries,
        unsettled_intents=unsettled,
        tasks=tasks,
        query=result,
        status=build_status(config, plan, evidence),
        history_mtimes=mtimes,
        close_histories=close_histories,
        evidence=evidence,
        now=now,
        journal_problem=problem,
    )


def _declared_since(paths: NightPaths, plan: Plan) -> dt.datetime | None:
    """When the RunSummary declaring awaited subruns was written (None: none awaited)."""
    if not any(s.awaited for s in plan.sequences):
        return None
    try:
        mtime = paths.run_summary.stat().st_mtime
    except OSError:
        return None
    return dt.datetime.fromtimestamp(mtime, dt.timezone.utc)


def _scheduler_message(result: QueryResult) -> str:
    """What the status says of the scheduler's answer: a partial answer (squeue answered,
    sacct did not, or not in time) says so, not only which command failed."""
    if result.reachable and not result.complete:
        return f"the scheduler did not answer completely: {result.message or 'a partial answer'}"
    return result.message


def night_status(
    config: Config, plan: Plan, executor: Executor, journal: JournalView | None = None
) -> NightStatus:
    """The night's status (a read-only snapshot's status: nothing is settled or written
    but the caches)."""
    return observe(config, plan, executor, settle=False, journal=journal).status


def _close_histories(paths: NightPaths, plan: Plan) -> dict[int, tuple[HistorySummary, float]]:
    """Each run's close history (DL2 progress, and whether a close job's end was lost)."""
    result = {}
    for sequence in plan.data_sequences:
        path = paths.close.run_history(sequence.run)
        try:
            mtime = path.stat().st_mtime
        except OSError:
            result[sequence.run] = (summarize([]), 0.0)
            continue
        result[sequence.run] = (summarize(read_history(path)), mtime)
    return result


def _dl2_percent(history: HistorySummary) -> float | None:
    """100 once the run's DL2 was made at closing, None when it was skipped (no models)."""
    if "dl2" not in history.done:
        return 0.0
    return None if history.last_note_of.get("dl2", "").startswith("skipped") else 100.0
