"""A tick flows one way: the journal is read once and the scheduler asked once, whatever
the tick decides (submit, retry, close). The scheduler is scripted (an in-process stand-in
that counts calls: tests/helpers/scripted.py); journal, histories and plan are real files."""

from __future__ import annotations

import dataclasses

import pytest

from osa_core.config import Config
from osa_core.history import StepRecord, append_record
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.plan import build_plan
from osa_core.steps import CALIBRATION_STEPS, DATA_STEPS
from osa_core.usecases.tick import tick
from osa_core.vocabulary import JobKind, State
from tests.conftest import NIGHT
from tests.helpers.scripted import ScriptedExecutor

STAMP = "2020-02-19T08:00:00+00:00"


@pytest.fixture
def journal_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    reads = [0]
    real = Journal.read

    def counting(self: Journal):  # type: ignore[no-untyped-def]
        reads[0] += 1
        return real(self)

    monkeypatch.setattr(Journal, "read", counting)
    return reads


def _finish(config: Config, executor: ScriptedExecutor, failed: tuple[int, int]) -> None:
    """Every task ended: histories complete, except one data subrun that failed."""
    paths = NightPaths(config, NIGHT)
    plan = build_plan(config, NIGHT)
    for sequence in plan.sequences:
        steps = CALIBRATION_STEPS if sequence.kind == JobKind.CALIBRATION else DATA_STEPS
        for subrun in sequence.subruns:
            for step in steps:
                rc = 3 if (sequence.run, subrun) == failed and step == "dl1ab" else 0
                append_record(
                    paths.history_file(sequence.run, subrun),
                    StepRecord(sequence.run, subrun, step, "v0.12", STAMP, STAMP, rc),
                )
                if rc:
                    break
    close_kinds = ("osa_20200218_clo",)
    executor.tasks = [
        t
        if t.name.startswith(close_kinds)
        else dataclasses.replace(
            t,
            state=State.FAILED
            if (t.name.endswith(f"{failed[0]:05d}") and t.index == failed[1])
            else State.COMPLETED,
        )
        for t in executor.tasks
    ]


def test_a_tick_reads_the_journal_once_and_asks_the_scheduler_once(
    config: Config, journal_reads: list[int]
) -> None:
    executor = ScriptedExecutor()
    first = tick(config, NIGHT, executor)
    assert len(first.submitted) == 4  # calibration + 3 runs (the armed close is not listed)
    assert journal_reads[0] == 1 and executor.calls["query"] == 0  # nothing to ask yet

    _finish(config, executor, failed=(2003, 1))
    journal_reads[0] = 0
    executor.calls.clear()
    second = tick(config, NIGHT, executor)
    assert [j["run"] for j in second.resubmitted] == [2003]  # the retry policy acted
    assert journal_reads[0] == 1
    assert executor.calls["query"] == 1
    assert executor.calls["find_jobs"] == 0


def test_a_closing_tick_decides_the_close_from_the_same_snapshot(
    config: Config, journal_reads: list[int]
) -> None:
    executor = ScriptedExecutor()
    tick(config, NIGHT, executor)
    _finish(config, executor, failed=(0, -1))  # nothing fails
    executor.tasks = [
        dataclasses.replace(t, state=State.COMPLETED) for t in executor.tasks
    ]  # the armed close ended too (quietly: it found the night not ready when it ran)
    journal_reads[0] = 0
    executor.calls.clear()
    report = tick(config, NIGHT, executor)
    assert any("submitted close_runs job" in line for line in report.lines), report.lines
    assert journal_reads[0] == 1 and executor.calls["query"] == 1
