"""Jobs whose end the scheduler lost: SLURM still says RUNNING, the work is long done.

Found by the fault trials (tests/integration/test_slurm_fault_trials.py): slurmctld killed
with -9 recovers the state it saved last. A job that ended after that save is recovered as
RUNNING, slurmd no longer knows it, and SLURM 22.05 leaves it so until its time limit
(hours). Worse, the jobs chained ``afterok`` on it (every data array on the calibration,
the close on the data) wait for ever. The payload's own record says the truth: every step
of every subrun of that job succeeded, and its history has not moved for minutes.

Such a job is ended by the next tick: the dependency on it is removed from our pending
jobs (its work is done, so what waited for it may start), then it is cancelled (its
subruns stay COMPLETED: the histories decide once the scheduler no longer says RUNNING),
and the journal says so. Nothing is resubmitted and no finished work runs again.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from osa_core.config import Config
from osa_core.executors.base import ACTIVE_STATES, Executor
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.plan import CALIBRATION, Plan
from osa_core.status import RUNNING, NightStatus
from osa_core.steps import CALIBRATION_STEPS, DATA_STEPS

# A payload exits within a second of its last step; two minutes of silence after all
# steps succeeded, while the scheduler says RUNNING, is a lost end, not a slow exit.
LOST_END_AFTER_SECONDS = 120.0


def jobs_with_lost_end(
    config: Config, plan: Plan, status: NightStatus, now: float | None = None
) -> dict[str, str]:
    """Job id → why, for analysis jobs SLURM reports RUNNING although every subrun of the
    job finished all its steps more than ``LOST_END_AFTER_SECONDS`` ago."""
    now = time.time() if now is None else now
    paths = NightPaths(config, plan.night)
    by_job: dict[str, list[tuple[int, int, bool, bool]]] = {}
    for sequence in status.sequences:
        steps = CALIBRATION_STEPS if sequence.sequence.kind == CALIBRATION else DATA_STEPS
        for subrun in sequence.subruns:
            if subrun.job_id:
                complete = set(subrun.steps_done) >= set(steps)
                running = subrun.scheduler_state == RUNNING
                by_job.setdefault(subrun.job_id, []).append(
                    (subrun.run, subrun.subrun, complete, running)
                )
    lost: dict[str, str] = {}
    for job_id, members in by_job.items():
        if not any(running for *_, running in members):
            continue
        if not all(complete for _, _, complete, _ in members):
            continue
        quiet = min(now - _mtime(paths.history_file(run, subrun)) for run, subrun, _, _ in members)
        if quiet > LOST_END_AFTER_SECONDS:
            lost[job_id] = (
                f"SLURM says RUNNING but every step ended {quiet:.0f} s ago "
                "(the controller lost the job's end)"
            )
    return lost


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()  # no history: not provably finished


def rewrite_dependency(dependency: str, gone: set[str]) -> str:
    """A squeue ``%E`` dependency without the jobs in ``gone``, in ``--dependency`` form:
    ``afterok:14956(unfulfilled),afterany:14957_*(unfulfilled)`` minus {14956} →
    ``afterany:14957_*``. Empty when nothing is left."""
    kept = []
    for entry in dependency.split(","):
        entry = entry.split("(")[0].strip()
        if not entry or entry == "(null)" or ":" not in entry:
            continue
        kind, *ids = entry.split(":")
        ids = [i for i in ids if i.split("_")[0] not in gone]
        if ids:
            kept.append(":".join([kind, *ids]))
    return ",".join(kept)


def end_leftovers(config: Config, night: dt.date, executor: Executor) -> list[str]:
    """Jobs of a FINISHED night still active in the scheduler 120 s after it finished.

    The night's products are in the final tree, so nothing of that night has work left:
    such a job is one SLURM brought back from a state saved before it ended (slurmctld
    killed with -9), or a close re-armed just before the end. Left alone it holds its
    CPUs until its time limit. Ended like a lost end; returns the ids ended.
    """
    paths = NightPaths(config, night)
    try:
        finished = paths.night_finished.stat().st_mtime
    except OSError:
        return []
    if time.time() - finished < LOST_END_AFTER_SECONDS:
        return []
    journal = Journal(paths.journal)
    ids = sorted({s.job_id for s in journal.read().submissions if s.job_id}, key=_numeric)
    if not ids:
        return []
    result = executor.query(ids)
    if not result.reachable:
        return []
    active = sorted({t.job_id for t in result.tasks if t.state in ACTIVE_STATES}, key=_numeric)
    ended = executor.end_lost(active) if active else []
    if ended:
        journal.append(
            "ended_lost", job_ids=ended, reason="still active after the night was finished"
        )
    return ended


def _numeric(job_id: str) -> tuple[int, str]:
    return (int(job_id), "") if job_id.isdigit() else (0, job_id)


def close_jobs_with_lost_end(
    config: Config, plan: Plan, tasks: list, close_jobs: list, now: float | None = None
) -> dict[str, str]:
    """Job id → why, for close_runs jobs SLURM reports RUNNING although every run's close
    history records every per-run close step done, untouched for the same two minutes.
    Their close_night (chained ``afterok``) would otherwise wait for ever."""
    from osa_core.closing.close import CLOSE_RUNS
    from osa_core.closing.layout import CloseLayout
    from osa_core.history import read_history, summarize
    from osa_core.steps import CLOSE_RUN_STEPS

    now = time.time() if now is None else now
    running = {t.job_id for t in tasks if t.state == RUNNING}
    candidates = [s.job_id for s in close_jobs if s.kind == CLOSE_RUNS and s.job_id in running]
    if not candidates:
        return {}
    layout = CloseLayout(NightPaths(config, plan.night))
    histories = [layout.run_history(s.run) for s in plan.data_sequences]
    if not all(set(CLOSE_RUN_STEPS) <= summarize(read_history(h)).done for h in histories):
        return {}
    quiet = min((now - _mtime(h) for h in histories), default=0.0)
    if quiet <= LOST_END_AFTER_SECONDS:
        return {}
    why = f"SLURM says RUNNING but every run was closed {quiet:.0f} s ago (end lost)"
    return {job_id: why for job_id in candidates}
