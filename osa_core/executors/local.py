"""The embedded local executor: runs the same batch scripts on this machine.

It is an executor, not a scheduler clone. State lives in one SQLite file under the state
folder (WAL mode, so the console and cron read it while the runner writes). Submitting
inserts rows and makes sure a runner process is alive (``local_runner``); the runner
starts eligible tasks within a core count and a memory budget, honours ``afterok``
dependencies, enforces time and memory limits, and exits when idle. Tasks run in their own
sessions: if the runner is killed they keep going, and the next runner adopts them, so no
finished work is ever lost.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from osa_core.config import Config
from osa_core.errors import SchedulerUnavailable
from osa_core.executors.api import EndResult, JobRecord, QueryResult, SubmitRequest, TaskState
from osa_core.fsio import ensure_dir, open_shared
from osa_core.jobs import JobSpec
from osa_core.locking import FileLock
from osa_core.vocabulary import ACTIVE_STATES, State

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL, comment TEXT NOT NULL, script TEXT NOT NULL, workdir TEXT NOT NULL,
    output TEXT NOT NULL, error TEXT NOT NULL, memory INTEGER NOT NULL,
    time_limit INTEGER NOT NULL, cpus INTEGER NOT NULL, dependencies TEXT NOT NULL,
    is_array INTEGER NOT NULL, submitted REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
    job_id INTEGER NOT NULL, idx INTEGER NOT NULL, state TEXT NOT NULL,
    exit_code INTEGER, signal INTEGER, started REAL, ended REAL, pid INTEGER,
    pid_start TEXT, max_rss INTEGER, cpu REAL, reason TEXT NOT NULL DEFAULT '',
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job_id, idx)
);
CREATE INDEX IF NOT EXISTS tasks_state ON tasks(state);
"""
PLAIN_INDEX = -1  # a job that is not an array has one task with this index


def db_path(config: Config) -> Path:
    return config.paths.state / "local-executor.sqlite"


@contextlib.contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A short-lived connection: WAL, a generous busy timeout, committed on success.

    A database that cannot be used (disk full, unreadable) is the local scheduler being
    unavailable: said in one line, like a SLURM controller that does not answer."""
    try:
        ensure_dir(path.parent)
        if not path.exists():
            # created here with the shared mode (SQLite would follow the umask); SQLite gives
            # its -wal and -shm files the database's mode
            os.close(open_shared(path, os.O_RDWR))
        connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    except (OSError, sqlite3.Error) as err:
        raise SchedulerUnavailable(f"local executor database {path}: {err}") from None
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.executescript(SCHEMA)
        yield connection
    except sqlite3.OperationalError as err:
        raise SchedulerUnavailable(f"local executor database {path}: {err}") from None
    finally:
        connection.close()


def _ts(value: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value, tz=dt.timezone.utc) if value else None


class LocalExecutor:
    """Executor running jobs on this machine (see module doc)."""

    name = "local"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.path = db_path(config)

    def describe(self) -> str:
        return f"local executor ({self.path.parent})"

    def submit(self, spec: JobSpec, request: SubmitRequest | None = None) -> str:
        request = request or SubmitRequest()
        indices = request.indices(spec)
        if indices is not None and not indices:
            raise ValueError("refusing an empty array: it would become a plain job")
        resources = request.resources or spec.resources
        comment = request.comment
        deps = ",".join(str(int(d)) for d in request.dependencies)
        if deps and request.dependency_kind != "afterok":
            deps = f"{request.dependency_kind}:{deps}"
        with connect(self.path) as db:
            db.execute("BEGIN IMMEDIATE")
            cursor = db.execute(
                "INSERT INTO jobs (name, comment, script, workdir, output, error, memory, "
                "time_limit, cpus, dependencies, is_array, submitted) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    spec.name,
                    comment or spec.comment,
                    str(spec.script),
                    str(spec.workdir),
                    str(spec.output),
                    str(spec.error),
                    int(resources.memory),
                    int(resources.time),
                    resources.cpus,
                    deps,
                    int(indices is not None),
                    time.time(),
                ),
            )
            job_id = int(cursor.lastrowid or 0)
            rows = [
                (job_id, i, State.PENDING)
                for i in (indices if indices is not None else (PLAIN_INDEX,))
            ]
            db.executemany("INSERT INTO tasks (job_id, idx, state) VALUES (?,?,?)", rows)
            db.execute("COMMIT")
        ensure_runner(self.config)
        return str(job_id)

    def query(self, job_ids: Iterable[str]) -> QueryResult:
        ids = sorted({int(j) for j in job_ids})
        tasks: list[TaskState] = []
        if not ids or not self.path.exists():
            return QueryResult(tasks=tasks)
        try:
            with connect(self.path) as db:
                marks = ",".join("?" * len(ids))
                rows = db.execute(
                    "SELECT t.job_id, t.idx, t.state, t.exit_code, t.signal, t.started, "
                    "t.ended, t.max_rss, t.cpu, t.reason, j.name, j.comment FROM tasks t "
                    f"JOIN jobs j ON t.job_id = j.job_id WHERE t.job_id IN ({marks})",
                    ids,
                ).fetchall()
        except SchedulerUnavailable as err:
            return QueryResult(reachable=False, complete=False, message=str(err))
        now = time.time()
        for (
            job_id,
            idx,
            state,
            exit_code,
            signal,
            started,
            ended,
            max_rss,
            cpu,
            reason,
            name,
            comment,
        ) in rows:
            elapsed = (ended or now) - started if started else None
            tasks.append(
                TaskState(
                    job_id=str(job_id),
                    index=None if idx == PLAIN_INDEX else idx,
                    state=state,
                    exit_code=exit_code,
                    signal=signal,
                    elapsed=elapsed,
                    cpu=cpu,
                    max_rss=max_rss,
                    reason=reason,
                    name=name,
                    comment=comment,
                    started=_ts(started),
                    ended=_ts(ended),
                )
            )
        if any(task.state in ACTIVE_STATES for task in tasks) and not runner_alive(self.config):
            # work and no runner (it was killed, or the machine rebooted): start one; it
            # adopts the tasks still running and ends those that vanished (NODE_FAIL)
            ensure_runner(self.config)
        return QueryResult(tasks=tasks, reachable=True, complete=True)

    def end_lost(self, job_ids: Iterable[str]) -> EndResult:
        """Never needed here: the runner records every end in SQLite before it exits."""
        return EndResult()

    def release_held(self, job_ids: Iterable[str]) -> list[str]:
        """The local executor never holds a job."""
        return []

    def count_pending(self, name_prefix: str) -> int:
        if not self.path.exists():
            return 0
        with connect(self.path) as db:
            row = db.execute(
                "SELECT COUNT(*) FROM tasks t JOIN jobs j ON t.job_id=j.job_id "
                "WHERE t.state=? AND j.name LIKE ? ESCAPE '\\'",
                (State.PENDING, _like_prefix(name_prefix)),
            ).fetchone()
        return int(row[0])

    def find_jobs(self, name_prefix: str) -> list[JobRecord]:
        if not self.path.exists():
            return []
        with connect(self.path) as db:
            rows = db.execute(
                "SELECT job_id, name, comment FROM jobs WHERE name LIKE ? ESCAPE '\\'",
                (_like_prefix(name_prefix),),
            ).fetchall()
        return [JobRecord(str(job_id), name, comment) for job_id, name, comment in rows]

    def cancel(self, job_ids: Iterable[str], indices: Iterable[int] | None = None) -> None:
        ids = [int(j) for j in job_ids]
        if not ids:
            return
        wanted = None if indices is None else set(indices)
        with connect(self.path) as db:
            db.execute("BEGIN IMMEDIATE")
            for job_id in ids:
                for idx, state in db.execute(
                    "SELECT idx, state FROM tasks WHERE job_id=?", (job_id,)
                ).fetchall():
                    if wanted is not None and idx not in wanted:
                        continue
                    if state == State.PENDING:
                        db.execute(
                            "UPDATE tasks SET state=?, reason=?, ended=? WHERE job_id=? AND idx=?",
                            (State.CANCELLED, "cancelled by user", time.time(), job_id, idx),
                        )
                    elif state == State.RUNNING:
                        db.execute(
                            "UPDATE tasks SET cancel_requested=1 WHERE job_id=? AND idx=?",
                            (job_id, idx),
                        )
            db.execute("COMMIT")
        ensure_runner(self.config)


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def runner_lock_path(config: Config) -> Path:
    return config.paths.state / "local-runner.lock"


def runner_alive(config: Config) -> bool:
    """True when a runner holds the lock (without taking it)."""
    return FileLock(runner_lock_path(config)).is_held()


def ensure_runner(config: Config) -> None:
    """Start a detached runner unless one is alive (it exits by itself when idle)."""
    if runner_alive(config):
        return
    log = ensure_dir(config.paths.state) / "local-runner.log"
    local = config.executor.local
    command = [
        sys.executable,
        "-m",
        "osa_core.executors.local_runner",
        str(db_path(config)),
        "--lock",
        str(runner_lock_path(config)),
        "--max-parallel",
        str(local.max_parallel or os.cpu_count() or 1),
        "--memory-budget",
        str(memory_budget(local.memory_budget)),
        "--enforce-memory",
        "1" if local.enforce_memory else "0",
    ]
    with os.fdopen(open_shared(log, os.O_WRONLY | os.O_APPEND), "a") as handle:
        subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=handle,
            start_new_session=True,
            close_fds=True,
        )
    # Give it a moment to take the lock so a burst of submissions starts only one runner.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not runner_alive(config):
        time.sleep(0.02)


def memory_budget(setting: str) -> int:
    """Bytes the running tasks may ask for in total: ``auto`` is 80% of this machine's RAM."""
    if setting != "auto":
        from osa_core.units import MemorySize

        return int(MemorySize.parse(setting))
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(int(line.split()[1]) * 1024 * 0.8)
    except OSError:
        pass
    return 8 * 1024**3
