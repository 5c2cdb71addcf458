"""Which holds the upkeep releases: only SLURM's own after a launch failure, never one an
operator or admin put (reasons as SLURM 22.05 prints them on the local cluster)."""

from __future__ import annotations

import pytest

from osa_core.config import Config
from osa_core.executors.api import TaskState
from osa_core.intents import Release
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.plan import build_plan
from osa_core.rules.submission import decide_upkeep, held_by_launch_failure
from osa_core.snapshot import NightSnapshot, observe
from osa_core.vocabulary import JobKind, State
from tests.conftest import NIGHT
from tests.helpers.scripted import ScriptedExecutor


@pytest.mark.parametrize(
    ("reason", "ours"),
    [
        ("launch failed requeued held", True),
        ("requeued after NODE_FAIL (launch failed requeued held)", True),
        ("job requeued in held state", False),  # scontrol requeuehold
        ("JobHeldUser", False),  # scontrol hold / requeuehold, as the job's user
        ("JobHeldAdmin", False),  # scontrol hold, as an admin
        ("BeginTime", False),
        ("", False),
    ],
)
def test_only_launch_failure_holds_are_released(reason: str, ours: bool) -> None:
    assert held_by_launch_failure(reason) is ours


def _snapshot(config: Config, tasks: list[TaskState]) -> NightSnapshot:
    journal = Journal(NightPaths(config, NIGHT).journal)
    journal.append("submitted", token="td", run=2002, kind="DATA", job_id="11", indices=[0, 1])
    journal.append(
        "submitted", token="tc", run=0, kind=JobKind.CLOSE_RUNS, job_id="12", indices=[0, 1, 2]
    )
    journal.append("submitted", token="tn", run=0, kind=JobKind.CLOSE_NIGHT, job_id="13")
    plan = build_plan(config, NIGHT)
    return observe(config, plan, ScriptedExecutor(tasks), settle=False)


def test_held_close_jobs_are_released_too(config: Config) -> None:
    """Found by the fault trials: a close_runs job launching while slurmctld restarted was
    requeued and held ("launch failed requeued held") and the night never closed."""
    held = "launch failed requeued held"
    snapshot = _snapshot(
        config,
        [
            TaskState("11", 0, State.PENDING, reason=held, comment="token=td"),
            TaskState("11", 1, State.RUNNING, comment="token=td"),
            *(TaskState("12", i, State.PENDING, reason=held, comment="token=tc") for i in range(3)),
            TaskState("13", None, State.PENDING, reason="Dependency", comment="token=tn"),
        ],
    )
    releases = [i for i in decide_upkeep(snapshot).intents if isinstance(i, Release)]
    assert [r.job_ids for r in releases] == [("11", "12")]


def test_a_held_job_that_is_not_ours_is_left_alone(config: Config) -> None:
    """Our id taken by another job (a controller crash lost ours): its hold is not ours."""
    held = "launch failed requeued held"
    snapshot = _snapshot(
        config,
        [TaskState("12", i, State.PENDING, reason=held, comment="token=x") for i in range(3)],
    )
    assert not [i for i in decide_upkeep(snapshot).intents if isinstance(i, Release)]
