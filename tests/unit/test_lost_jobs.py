"""LOST is decided on one clock: how long THIS host has seen a job absent from complete
scheduler answers, never the journal's submission time (written by the submitting host's
clock, which may be skewed). The scheduler's answer is scripted (tests/helpers/scripted.py)
and the observing host's clock is injected; the real-cluster version of the same fault is
tests/integration/test_slurm_clock_skew.py."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from osa_core.config import Config
from osa_core.executors.api import TaskState
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.plan import build_plan
from osa_core.rules.submission import decide_resubmission
from osa_core.snapshot import NightSnapshot, observe
from osa_core.status import LOST_AFTER_SECONDS
from osa_core.vocabulary import State
from tests.conftest import NIGHT
from tests.helpers.scripted import ScriptedExecutor

DAY = 86400.0


def _journal(config: Config, skew: float) -> None:
    """The calibration as job 76 and run 2002 as job 77 (the scheduler has them RUNNING),
    run 2003 as job 78 (the scheduler has no record of it), journaled by a host whose
    clock is ``skew`` seconds off."""
    journal = Journal(NightPaths(config, NIGHT).journal)
    written = dt.datetime.fromtimestamp(time.time() + skew, dt.timezone.utc)
    for run, kind, job, indices in (
        (2001, "CALIBRATION", "76", None),
        (2002, "DATA", "77", [0, 1, 2, 3]),
        (2003, "DATA", "78", [0, 1, 2, 3]),
    ):
        journal.append(
            "submitted",
            time=written.isoformat(timespec="seconds"),
            token=f"t{job}",
            run=run,
            kind=kind,
            job_id=job,
            indices=indices,
        )


def _running() -> ScriptedExecutor:
    return ScriptedExecutor(
        [
            TaskState("76", None, State.RUNNING, comment="token=t76"),
            *(TaskState("77", i, State.RUNNING, comment="token=t77") for i in range(4)),
        ]
    )


def _look(
    config: Config, executor: ScriptedExecutor, at: float, host: str = "here"
) -> NightSnapshot:
    plan = build_plan(config, NIGHT)
    return observe(config, plan, executor, settle=False, clock=lambda: at, host=host)


def _states(snapshot: NightSnapshot, run: int) -> set[State]:
    return {s.state for s in snapshot.status.sequence(run).subruns}


@pytest.mark.parametrize("skew", [-DAY, -3 * LOST_AFTER_SECONDS, 5.0, DAY])
def test_lost_only_after_the_window_on_the_observing_hosts_clock(
    config: Config, skew: float
) -> None:
    _journal(config, skew)
    executor = _running()
    start = time.time()
    for offset, gone in (
        (0, State.UNKNOWN),
        (LOST_AFTER_SECONDS - 1, State.UNKNOWN),
        (LOST_AFTER_SECONDS + 1, State.LOST),
        (10 * LOST_AFTER_SECONDS, State.LOST),
    ):
        snapshot = _look(config, executor, start + offset)
        assert _states(snapshot, 2002) == {State.RUNNING}, (skew, offset)  # never LOST
        assert _states(snapshot, 2003) == {gone}, (skew, offset)
    lost = snapshot.status.sequence(2003).subruns[0]
    assert "no record of this job for 300 s" in lost.reason


def test_a_just_submitted_job_is_not_retried_whatever_the_journal_time(config: Config) -> None:
    _journal(config, -DAY)  # written by a host a day behind
    executor = _running()
    start = time.time()
    first = _look(config, executor, start)
    assert not decide_resubmission(first, automatic=True, arm=False).jobs
    later = _look(config, executor, start + LOST_AFTER_SECONDS + 1)
    retry = decide_resubmission(later, automatic=True, arm=False)
    assert [(j.run, j.indices, j.attempt) for j in retry.jobs] == [(2003, (0, 1, 2, 3), 2)]
    assert "infrastructure failure" in retry.jobs[0].reason


def test_another_host_has_its_own_window(config: Config) -> None:
    _journal(config, 0.0)
    executor = _running()
    start = time.time()
    _look(config, executor, start, host="here")
    # another host (its clock maybe skewed) does not use this host's window: its own starts
    there = _look(config, executor, start + LOST_AFTER_SECONDS + 1, host="there")
    assert _states(there, 2003) == {State.UNKNOWN}
    saved = json.loads((NightPaths(config, NIGHT).state_dir / "task-absence.json").read_text())
    assert set(saved["hosts"]) == {"here", "there"}  # each its own window, on its own clock
    there = _look(config, executor, start + 2 * LOST_AFTER_SECONDS + 2, host="there")
    assert _states(there, 2003) == {State.LOST}
    # this host's window went on meanwhile: another host looking did not reset it
    assert _states(_look(config, executor, start + LOST_AFTER_SECONDS + 1), 2003) == {State.LOST}


def test_a_job_seen_again_restarts_the_window(config: Config) -> None:
    _journal(config, 0.0)
    executor = _running()
    start = time.time()
    _look(config, executor, start)
    executor.tasks += [TaskState("78", i, State.PENDING, comment="token=t78") for i in range(4)]
    assert _states(_look(config, executor, start + 10), 2003) == {State.PENDING}
    executor.tasks = executor.tasks[:5]
    _look(config, executor, start + 20)
    assert _states(_look(config, executor, start + 45), 2003) == {State.UNKNOWN}
    assert _states(_look(config, executor, start + 51), 2003) == {State.LOST}


def test_no_window_runs_while_the_scheduler_does_not_answer(config: Config) -> None:
    _journal(config, -DAY)
    executor = _running()
    start = time.time()
    executor.reachable = False
    down = _look(config, executor, start)
    assert _states(down, 2003) == {State.UNKNOWN} and not down.status.scheduler_ok
    executor.reachable = True
    back = _look(config, executor, start + 5 * LOST_AFTER_SECONDS)
    assert _states(back, 2003) == {State.UNKNOWN}  # first seen absent only now
    assert _states(_look(config, executor, start + 6 * LOST_AFTER_SECONDS + 1), 2003) == {
        State.LOST
    }


def test_an_id_taken_by_another_job_counts_as_absent(config: Config) -> None:
    """After slurmctld lost our job in a crash, the next submission got its id: the job
    with our id carries another token."""
    _journal(config, DAY)
    executor = _running()
    executor.tasks += [
        TaskState("78", i, State.RUNNING, name="someone_else", comment="token=other")
        for i in range(4)
    ]
    start = time.time()
    assert _states(_look(config, executor, start), 2003) == {State.UNKNOWN}
    assert _states(_look(config, executor, start + LOST_AFTER_SECONDS + 1), 2003) == {State.LOST}
