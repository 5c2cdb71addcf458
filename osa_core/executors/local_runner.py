"""The local executor's runner: one process per state folder, started on demand.

Loop: reap finished tasks, enforce time/memory limits and cancellations, cancel tasks
whose ``afterok`` dependency failed (SLURM's ``kill_invalid_depend``), start eligible
tasks within the core and memory budget, exit when idle. Tasks run in their own session
through a tiny bash wrapper that writes the exit code to a file, so a task survives the
runner and a later runner can adopt it and still learn how it ended.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from osa_core.executors.local import PLAIN_INDEX, connect
from osa_core.fsio import SHARED_UMASK, ensure_dir, open_shared
from osa_core.locking import FileLock
from osa_core.vocabulary import State

POLL_SECONDS = 0.2
IDLE_EXIT_SECONDS = 5.0
MEMORY_CHECK_SECONDS = 1.0
KILL_GRACE_SECONDS = 5.0
# Runs the batch script, then records its exit status atomically next to it.
WRAPPER = 'bash "$1"; rc=$?; printf "%s" "$rc" > "$2.tmp" && mv -f "$2.tmp" "$2"; exit "$rc"'
_PATTERN_RE = re.compile(r"%(\d*)([AajxN%])")


@dataclass
class Running:
    job_id: int
    idx: int
    pid: int
    memory_limit: int
    deadline: float
    popen: subprocess.Popen[bytes] | None
    exit_file: Path
    peak: int = 0
    kill_state: State | None = None
    kill_time: float = 0.0


def split_dependencies(deps: str) -> tuple[str, str]:
    """``"afterany:3,4"`` -> ("afterany", "3,4"); a bare list is afterok. The ids were
    written by ``LocalExecutor.submit`` from integers, so they are safe in SQL."""
    kind, _, ids = deps.rpartition(":")
    return (kind or "afterok"), ids


def dependencies_pending(db: sqlite3.Connection, deps: str) -> bool:
    """afterok waits until every dependency task COMPLETED; afterany until all ended."""
    kind, ids = split_dependencies(deps)
    if kind == "afterany":
        query = f"SELECT 1 FROM tasks WHERE job_id IN ({ids}) AND state IN (?,?) LIMIT 1"
        return db.execute(query, (State.PENDING, State.RUNNING)).fetchone() is not None
    query = f"SELECT 1 FROM tasks WHERE job_id IN ({ids}) AND state != ? LIMIT 1"
    return db.execute(query, (State.COMPLETED,)).fetchone() is not None


def expand_pattern(pattern: str, job_id: int, idx: int, name: str) -> str:
    """SLURM's filename patterns: %A array job id, %a index (``%4a`` zero-padded), %j, %x."""

    def replace(match: re.Match[str]) -> str:
        width, letter = match.group(1), match.group(2)
        if letter == "%":
            return "%"
        value = {
            "A": str(job_id),
            "a": str(max(idx, 0)),
            "j": str(job_id),
            "x": name,
            "N": "localhost",
        }[letter]
        return value.zfill(int(width)) if width else value

    return _PATTERN_RE.sub(replace, pattern)


def process_start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat: tells a reused pid from the process we started."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            data = handle.read()
    except OSError:
        return None
    return data.rsplit(")", 1)[1].split()[19]


def session_memory(sid: int) -> int:
    """Proportional set size (bytes) of every process in the session: fork-shared pages
    counted once, like the kernel's cgroup accounting and unlike a plain RSS sum."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            if int(fields[3]) != sid:
                continue
            with open(f"/proc/{entry.name}/smaps_rollup") as handle:
                for line in handle:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError, IndexError):
            continue
    return total


class Runner:
    def __init__(
        self, db: Path, max_parallel: int, memory_budget: int, enforce_memory: bool
    ) -> None:
        self.db = db
        self.max_parallel = max_parallel
        self.memory_budget = memory_budget
        self.enforce_memory = enforce_memory
        self.running: dict[tuple[int, int], Running] = {}
        self.last_memory_check = 0.0

    # --- life cycle ------------------------------------------------------------------
    def adopt(self) -> None:
        """Take over tasks a previous runner started (they run in their own sessions)."""
        with connect(self.db) as db:
            rows = db.execute(
                "SELECT t.job_id, t.idx, t.pid, t.pid_start, t.started, j.memory, j.cpus, "
                "j.time_limit, j.workdir FROM tasks t JOIN jobs j ON t.job_id=j.job_id "
                "WHERE t.state=?",
                (State.RUNNING,),
            ).fetchall()
        for job_id, idx, pid, pid_start, started, memory, cpus, limit, _ in rows:
            exit_file = self.exit_file(job_id, idx)
            alive = pid and process_start_time(pid) == pid_start
            if alive:
                self.running[(job_id, idx)] = Running(
                    job_id,
                    idx,
                    pid,
                    memory * cpus,
                    (started or time.time()) + limit,
                    None,
                    exit_file,
                )
            else:
                self.finish_from_exit_file(job_id, idx, exit_file, None)

    def exit_file(self, job_id: int, idx: int) -> Path:
        return self.db.parent / "local-exits" / f"{job_id}_{idx}.rc"

    def loop(self) -> None:
        idle_since: float | None = None
        while True:
            self.reap()
            self.enforce()
            self.cancel_broken_dependencies()
            started = self.start_eligible()
            busy = bool(self.running) or started or self.has_pending()
            if busy:
                idle_since = None
            else:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > IDLE_EXIT_SECONDS:
                    return
            time.sleep(POLL_SECONDS)

    def has_pending(self) -> bool:
        with connect(self.db) as db:
            return (
                db.execute("SELECT 1 FROM tasks WHERE state=? LIMIT 1", (State.PENDING,)).fetchone()
                is not None
            )

    # --- finishing -------------------------------------------------------------------
    def reap(self) -> None:
        for key, task in list(self.running.items()):
            if task.popen is not None:
                try:
                    pid, status, usage = os.wait4(task.pid, os.WNOHANG)
                except ChildProcessError:
                    pid, status, usage = task.pid, 0, None
                if pid == 0:
                    continue
                task.popen.returncode = status  # reaped by us; keep Popen from waiting
                rc = os.waitstatus_to_exitcode(status) if usage is not None else None
                cpu = usage.ru_utime + usage.ru_stime if usage else None
                peak = max(task.peak, usage.ru_maxrss * 1024 if usage else 0)
                self.finish(task, rc, cpu, peak)
            elif process_start_time(task.pid) is None:
                self.finish_from_exit_file(task.job_id, task.idx, task.exit_file, task)
            else:
                continue
            del self.running[key]

    def finish(self, task: Running, rc: int | None, cpu: float | None, peak: int) -> None:
        sig: int | None
        state, exit_code, sig, reason = State.COMPLETED, rc, None, ""
        if task.kill_state:
            state, reason = (
                task.kill_state,
                {
                    State.TIMEOUT: "time limit reached",
                    State.OUT_OF_MEMORY: "memory limit exceeded",
                    State.CANCELLED: "cancelled by user",
                }[task.kill_state],
            )
            sig, exit_code = signal.SIGKILL if task.kill_state == State.OUT_OF_MEMORY else None, 0
        elif rc is None:
            state, reason = State.NODE_FAIL, "task vanished"
        elif rc < 0:
            state, sig, exit_code, reason = State.FAILED, -rc, 0, f"killed by signal {-rc}"
        elif rc != 0:
            state = State.FAILED
        self.record(task.job_id, task.idx, state, exit_code, sig, cpu, peak, reason)
        with contextlib.suppress(FileNotFoundError):
            task.exit_file.unlink()

    def finish_from_exit_file(
        self, job_id: int, idx: int, exit_file: Path, task: Running | None
    ) -> None:
        try:
            rc: int | None = int(exit_file.read_text().strip())
        except (OSError, ValueError):
            rc = None
        if task is not None:
            self.finish(task, rc, None, task.peak)
            return
        state = State.NODE_FAIL if rc is None else State.COMPLETED if rc == 0 else State.FAILED
        reason = "task lost while no runner watched it" if rc is None else ""
        self.record(job_id, idx, state, rc if rc is not None else None, None, None, None, reason)

    def record(
        self,
        job_id: int,
        idx: int,
        state: str,
        exit_code: int | None,
        sig: int | None,
        cpu: float | None,
        peak: int | None,
        reason: str,
    ) -> None:
        with connect(self.db) as db:
            db.execute(
                "UPDATE tasks SET state=?, exit_code=?, signal=?, ended=?, cpu=?, "
                "max_rss=?, reason=?, pid=NULL WHERE job_id=? AND idx=?",
                (state, exit_code, sig, time.time(), cpu, peak or None, reason, job_id, idx),
            )

    # --- limits and cancellations ------------------------------------------------------
    def enforce(self) -> None:
        now = time.time()
        check_memory = self.enforce_memory and now - self.last_memory_check >= MEMORY_CHECK_SECONDS
        if check_memory:
            self.last_memory_check = now
        with connect(self.db) as db:
            cancel = {
                (j, i)
                for j, i in db.execute(
                    "SELECT job_id, idx FROM tasks WHERE state=? AND cancel_requested=1",
                    (State.RUNNING,),
                ).fetchall()
            }
        for key, task in self.running.items():
            if task.kill_state:
                if now - task.kill_time > KILL_GRACE_SECONDS:
                    self.kill(task, signal.SIGKILL)
                continue
            if key in cancel:
                self.start_kill(task, State.CANCELLED, signal.SIGTERM)
            elif now > task.deadline:
                self.start_kill(task, State.TIMEOUT, signal.SIGTERM)
            elif check_memory:
                used = session_memory(task.pid)
                task.peak = max(task.peak, used)
                if used > task.memory_limit:
                    self.start_kill(task, State.OUT_OF_MEMORY, signal.SIGKILL)

    def start_kill(self, task: Running, state: State, sig: int) -> None:
        task.kill_state, task.kill_time = state, time.time()
        self.kill(task, sig)

    @staticmethod
    def kill(task: Running, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(task.pid, sig)

    def cancel_broken_dependencies(self) -> None:
        """A pending job whose afterok dependency ended badly can never run: cancel it
        (SLURM's ``--kill-on-invalid-dep=yes``). ``afterany`` dependencies never break."""
        with connect(self.db) as db:
            rows = db.execute(
                "SELECT DISTINCT j.job_id, j.dependencies FROM jobs j JOIN tasks t "
                "ON t.job_id=j.job_id WHERE t.state=? AND j.dependencies != ''",
                (State.PENDING,),
            ).fetchall()
            for job_id, deps in rows:
                kind, ids = split_dependencies(deps)
                if kind != "afterok":
                    continue
                bad = db.execute(
                    f"SELECT 1 FROM tasks WHERE job_id IN ({ids}) AND state NOT IN (?,?,?) LIMIT 1",
                    (State.PENDING, State.RUNNING, State.COMPLETED),
                ).fetchone()
                if bad:
                    db.execute(
                        "UPDATE tasks SET state=?, reason=?, ended=? WHERE job_id=? AND state=?",
                        (
                            State.CANCELLED,
                            "DependencyNeverSatisfied",
                            time.time(),
                            job_id,
                            State.PENDING,
                        ),
                    )

    # --- starting --------------------------------------------------------------------
    def start_eligible(self) -> bool:
        free = self.max_parallel - len(self.running)
        if free <= 0:
            return False
        used = sum(t.memory_limit for t in self.running.values())
        started = False
        with connect(self.db) as db:
            candidates = db.execute(
                "SELECT t.job_id, t.idx, j.name, j.script, j.workdir, j.output, j.error, "
                "j.memory, j.cpus, j.time_limit, j.dependencies, t.cancel_requested "
                "FROM tasks t JOIN jobs j ON t.job_id=j.job_id WHERE t.state=? "
                "ORDER BY t.job_id, t.idx LIMIT 500",
                (State.PENDING,),
            ).fetchall()
            waiting_on: dict[str, bool] = {}
            for (
                job_id,
                idx,
                name,
                script,
                workdir,
                output,
                error,
                memory,
                cpus,
                limit,
                deps,
                _,
            ) in candidates:
                if free <= 0:
                    break
                if deps:
                    if deps not in waiting_on:
                        waiting_on[deps] = dependencies_pending(db, deps)
                    if waiting_on[deps]:
                        continue
                need = memory * cpus
                if used + need > self.memory_budget and self.running:
                    break  # wait for memory; keep order so big tasks are not starved
                self.launch(db, job_id, idx, name, script, workdir, output, error, need, limit)
                used += need
                free -= 1
                started = True
        return started

    def launch(
        self,
        db: sqlite3.Connection,
        job_id: int,
        idx: int,
        name: str,
        script: str,
        workdir: str,
        output: str,
        error: str,
        memory_limit: int,
        limit: int,
    ) -> None:
        out_path = Path(expand_pattern(output, job_id, idx, name))
        err_path = Path(expand_pattern(error, job_id, idx, name))
        exit_file = self.exit_file(job_id, idx)
        ensure_dir(exit_file.parent)
        with contextlib.suppress(FileNotFoundError):
            exit_file.unlink()
        env = dict(os.environ)
        env.update(
            {
                "SLURM_JOB_ID": str(job_id),
                "SLURM_JOB_NAME": name,
                "OSA_EXECUTOR": "local",
                "SLURM_MEM_PER_NODE": str(memory_limit // 2**20),
            }
        )
        if idx != PLAIN_INDEX:
            env.update({"SLURM_ARRAY_JOB_ID": str(job_id), "SLURM_ARRAY_TASK_ID": str(idx)})
        else:
            env.pop("SLURM_ARRAY_TASK_ID", None)
        try:
            ensure_dir(out_path.parent)
            ensure_dir(err_path.parent)
            flags = os.O_WRONLY | os.O_APPEND
            with (
                os.fdopen(open_shared(out_path, flags), "ab") as out,
                os.fdopen(open_shared(err_path, flags), "ab") as err,
            ):
                popen = subprocess.Popen(
                    ["bash", "-c", WRAPPER, "osa-task", script, str(exit_file)],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    cwd=workdir,
                    env=env,
                    start_new_session=True,
                    close_fds=True,
                    umask=SHARED_UMASK,  # what the task creates is the group's (fsio)
                )
        except OSError as exc:
            db.execute(
                "UPDATE tasks SET state=?, reason=?, started=?, ended=? WHERE job_id=? AND idx=?",
                (State.FAILED, f"could not start: {exc}", time.time(), time.time(), job_id, idx),
            )
            return
        now = time.time()
        db.execute(
            "UPDATE tasks SET state=?, started=?, pid=?, pid_start=? WHERE job_id=? AND idx=?",
            (State.RUNNING, now, popen.pid, process_start_time(popen.pid), job_id, idx),
        )
        self.running[(job_id, idx)] = Running(
            job_id, idx, popen.pid, memory_limit, now + limit, popen, exit_file
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db", type=Path)
    parser.add_argument("--lock", type=Path, required=True)
    parser.add_argument("--max-parallel", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--memory-budget", type=int, default=8 * 1024**3)
    parser.add_argument("--enforce-memory", type=int, default=1)
    args = parser.parse_args(argv)
    lock = FileLock(args.lock)
    if not lock.try_acquire(f"{os.getpid()}"):
        return 0  # another runner is alive: nothing to do
    runner = Runner(
        args.db, max(1, args.max_parallel), args.memory_budget, bool(args.enforce_memory)
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    runner.adopt()
    while True:
        runner.loop()
        # Release, then look once more: a submission that raced our exit is never orphaned
        # (its submitter either sees the lock free and starts a runner, or we see its task).
        lock.release()
        if not runner.has_pending():
            return 0
        if not lock.try_acquire(f"{os.getpid()}"):
            return 0


if __name__ == "__main__":
    sys.exit(main())
