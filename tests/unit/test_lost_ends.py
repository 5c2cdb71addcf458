"""Jobs whose end SLURM lost (after kill -9 of slurmctld): which are found, and how their
dependants are freed. The status object is built by hand (a SimpleNamespace with the
fields the finder reads); histories are real files whose mtime is set."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

from osa_core.config import Config
from osa_core.lost_ends import LOST_END_AFTER_SECONDS, jobs_with_lost_end, rewrite_dependency
from osa_core.paths import NightPaths
from osa_core.plan import build_plan
from osa_core.steps import DATA_STEPS
from tests.conftest import NIGHT


def test_rewrite_dependency_drops_only_the_lost_jobs() -> None:
    squeue = "afterany:14956(unfulfilled),afterany:14957_*(unfulfilled),afterok:14958_*"
    assert rewrite_dependency(squeue, {"14956"}) == "afterany:14957_*,afterok:14958_*"
    assert rewrite_dependency("afterok:14956(unfulfilled)", {"14956"}) == ""
    assert rewrite_dependency("afterany:1:2:3", {"2"}) == "afterany:1:3"
    assert rewrite_dependency("(null)", {"1"}) == ""


def _status(job_id: str, run: int, subruns: int, done: tuple[str, ...], state: str):
    subs = [
        SimpleNamespace(run=run, subrun=i, job_id=job_id, steps_done=done, scheduler_state=state)
        for i in range(subruns)
    ]
    return SimpleNamespace(
        sequences=[SimpleNamespace(sequence=SimpleNamespace(kind="DATA"), subruns=subs)]
    )


def _histories(config: Config, run: int, subruns: int, age: float) -> None:
    paths = NightPaths(config, NIGHT)
    for i in range(subruns):
        path = paths.history_file(run, i)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")
        then = time.time() - age
        os.utime(path, (then, then))


def test_a_running_job_whose_steps_all_ended_long_ago_is_lost(config: Config) -> None:
    plan = build_plan(config, NIGHT)
    _histories(config, 2003, 4, age=LOST_END_AFTER_SECONDS + 60)
    status = _status("77", 2003, 4, DATA_STEPS, "RUNNING")
    lost = jobs_with_lost_end(config, plan, status)
    assert list(lost) == ["77"] and "lost the job's end" in lost["77"]


def test_recent_ends_unfinished_steps_and_ended_jobs_are_left_alone(config: Config) -> None:
    plan = build_plan(config, NIGHT)
    _histories(config, 2003, 4, age=5)  # the payload may still be exiting
    assert not jobs_with_lost_end(config, plan, _status("77", 2003, 4, DATA_STEPS, "RUNNING"))
    _histories(config, 2003, 4, age=LOST_END_AFTER_SECONDS + 60)
    partial = _status("77", 2003, 4, DATA_STEPS[:2], "RUNNING")  # a step still to run
    assert not jobs_with_lost_end(config, plan, partial)
    assert not jobs_with_lost_end(config, plan, _status("77", 2003, 4, DATA_STEPS, "COMPLETED"))


def _close_histories(config: Config, age: float, steps: tuple[str, ...]) -> None:
    from osa_core.closing.layout import CloseLayout
    from osa_core.history import StepRecord

    layout = CloseLayout(NightPaths(config, NIGHT))
    plan = build_plan(config, NIGHT)
    for sequence in plan.data_sequences:
        path = layout.run_history(sequence.run)
        path.parent.mkdir(parents=True, exist_ok=True)
        stamp = "2020-02-19T08:00:00+00:00"
        path.write_text(
            "".join(
                StepRecord(sequence.run, -1, step, "v0.12", stamp, stamp, 0).to_json() + "\n"
                for step in steps
            )
        )
        then = time.time() - age
        os.utime(path, (then, then))


def test_a_running_close_runs_job_whose_runs_are_all_closed_is_lost(config: Config) -> None:
    from osa_core.lost_ends import close_jobs_with_lost_end
    from osa_core.steps import CLOSE_RUN_STEPS

    plan = build_plan(config, NIGHT)
    tasks = [SimpleNamespace(job_id="90", state="RUNNING")]
    jobs = [SimpleNamespace(kind="CLOSE_RUNS", job_id="90")]
    _close_histories(config, LOST_END_AFTER_SECONDS + 60, CLOSE_RUN_STEPS)
    assert list(close_jobs_with_lost_end(config, plan, tasks, jobs)) == ["90"]
    _close_histories(config, 5, CLOSE_RUN_STEPS)  # just ended: may still be exiting
    assert not close_jobs_with_lost_end(config, plan, tasks, jobs)
    _close_histories(config, LOST_END_AFTER_SECONDS + 60, CLOSE_RUN_STEPS[:-1])
    assert not close_jobs_with_lost_end(config, plan, tasks, jobs)  # a step still to do
