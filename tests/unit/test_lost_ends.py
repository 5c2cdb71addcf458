"""Jobs whose end SLURM lost (after kill -9 of slurmctld): which are found, and how their
dependants are freed. The rules read a real snapshot: real journal and history files
(their mtime set), and the scheduler's answer scripted (tests/helpers/scripted.py)."""

from __future__ import annotations

import os
import time

from osa_core.config import Config
from osa_core.executors.api import TaskState
from osa_core.executors.slurm import rewrite_dependency
from osa_core.history import StepRecord, append_record
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.plan import build_plan
from osa_core.rules.lost_ends import (
    LOST_END_AFTER_SECONDS,
    close_jobs_with_lost_end,
    jobs_with_lost_end,
)
from osa_core.snapshot import NightSnapshot, observe
from osa_core.steps import CLOSE_RUN_STEPS, DATA_STEPS
from osa_core.vocabulary import JobKind, State
from tests.conftest import NIGHT
from tests.helpers.scripted import ScriptedExecutor

STAMP = "2020-02-19T08:00:00+00:00"


def test_rewrite_dependency_drops_only_the_lost_jobs() -> None:
    squeue = "afterany:14956(unfulfilled),afterany:14957_*(unfulfilled),afterok:14958_*"
    assert rewrite_dependency(squeue, {"14956"}) == "afterany:14957_*,afterok:14958_*"
    assert rewrite_dependency("afterok:14956(unfulfilled)", {"14956"}) == ""
    assert rewrite_dependency("afterany:1:2:3", {"2"}) == "afterany:1:3"
    assert rewrite_dependency("(null)", {"1"}) == ""


def _aged(path, age: float) -> None:
    then = time.time() - age
    os.utime(path, (then, then))


def _snapshot(config: Config, state: str, steps: tuple[str, ...], age: float) -> NightSnapshot:
    """Run 2003's four subruns submitted as job 77, histories with ``steps`` done ``age``
    seconds ago, and the scheduler saying ``state`` for every task."""
    paths = NightPaths(config, NIGHT)
    plan = build_plan(config, NIGHT)
    Journal(paths.journal).append(
        "submitted", token="t77", run=2003, kind="DATA", job_id="77", indices=[0, 1, 2, 3]
    )
    for subrun in range(4):
        path = paths.history_file(2003, subrun)
        path.unlink(missing_ok=True)
        for step in steps:
            append_record(path, StepRecord(2003, subrun, step, "v0.12", STAMP, STAMP, 0))
        _aged(path, age)
    tasks = [TaskState("77", i, State(state)) for i in range(4)]
    return observe(config, plan, ScriptedExecutor(tasks), settle=False)


def test_a_running_job_whose_steps_all_ended_long_ago_is_lost(config: Config) -> None:
    lost = jobs_with_lost_end(_snapshot(config, "RUNNING", DATA_STEPS, LOST_END_AFTER_SECONDS + 60))
    assert list(lost) == ["77"] and "lost the job's end" in lost["77"]


def test_recent_ends_unfinished_steps_and_ended_jobs_are_left_alone(config: Config) -> None:
    # the payload may still be exiting
    assert not jobs_with_lost_end(_snapshot(config, "RUNNING", DATA_STEPS, 5))
    # a step still to run
    old = LOST_END_AFTER_SECONDS + 60
    assert not jobs_with_lost_end(_snapshot(config, "RUNNING", DATA_STEPS[:2], old))
    assert not jobs_with_lost_end(_snapshot(config, "COMPLETED", DATA_STEPS, old))


def _close_snapshot(config: Config, age: float, steps: tuple[str, ...]) -> NightSnapshot:
    paths = NightPaths(config, NIGHT)
    plan = build_plan(config, NIGHT)
    Journal(paths.journal).append(
        "submitted", token="t90", run=0, kind=JobKind.CLOSE_RUNS, job_id="90", indices=[0, 1, 2]
    )
    for sequence in plan.data_sequences:
        path = paths.close.run_history(sequence.run)
        path.unlink(missing_ok=True)
        for step in steps:
            append_record(path, StepRecord(sequence.run, -1, step, "v0.12", STAMP, STAMP, 0))
        _aged(path, age)
    tasks = [TaskState("90", i, State.RUNNING) for i in range(3)]
    return observe(config, plan, ScriptedExecutor(tasks), settle=False)


def test_a_running_close_runs_job_whose_runs_are_all_closed_is_lost(config: Config) -> None:
    old = LOST_END_AFTER_SECONDS + 60
    assert list(close_jobs_with_lost_end(_close_snapshot(config, old, CLOSE_RUN_STEPS))) == ["90"]
    # just ended: may still be exiting
    assert not close_jobs_with_lost_end(_close_snapshot(config, 5, CLOSE_RUN_STEPS))
    # a step still to do
    assert not close_jobs_with_lost_end(_close_snapshot(config, old, CLOSE_RUN_STEPS[:-1]))
