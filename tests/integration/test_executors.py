"""Both executors (local, and SLURM on the real local cluster) with the real payload and
real processes. tests/helpers/fake_tool.py stands in for lstchain so orchestration runs in
seconds (the real chain has its own test); the same behaviour is asserted on both
executors wherever the test takes the ``kind`` fixture.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from osa_core.config import Config, load_config
from osa_core.executors.factory import get_executor
from osa_core.executors.local import LocalExecutor, runner_alive, runner_lock_path
from osa_core.generator import NightSpec, generate_night
from osa_core.history import read_history
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.plan import build_plan
from osa_core.snapshot import night_status
from osa_core.status import NightStatus
from osa_core.usecases.night import resubmit_failed, submit_night
from osa_core.vocabulary import ACTIVE_STATES
from tests.conftest import NIGHT, fake_steps, write_config


def make_night(
    base: Path,
    steps: str,
    runs: int = 2,
    subruns: int = 3,
    extra: str = "",
    kind: str = "local",
) -> Config:
    generate_night(base, NightSpec(night=NIGHT, data_runs=runs, subruns=subruns))
    return load_config(write_config(base, steps + "\n" + extra, kind=kind))


def wait_settled(config: Config, timeout: float = 60) -> NightStatus:
    """Poll the status until nothing is queued or running."""
    plan = build_plan(config, NIGHT)
    executor = get_executor(config)
    deadline = time.monotonic() + timeout
    while True:
        status = night_status(config, plan, executor)
        # every active state: a cancelled task is COMPLETING for a moment on a busy cluster
        active = sum(seq.counts.get(s, 0) for seq in status.sequences for s in ACTIVE_STATES)
        if not active or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_failing_subrun_alone_fails_then_resubmit_runs_only_it(tmp_path: Path, kind: str) -> None:
    flag = tmp_path / "fail-dl1ab"
    flag.touch()
    steps = fake_steps(extra_args={"dl1ab": f"--fail-file={flag}"})
    # only subrun 1 of run 2002 sees the flag: the others are given a flag path that is absent
    steps = steps.replace(
        f"--fail-file={flag}", "--fail-file={history_dir}/../../../../fail-{run}-{subrun}"
    )
    config = make_night(tmp_path, steps, kind=kind)
    marker = tmp_path / "fail-2002-1"
    marker.touch()
    plan = build_plan(config, NIGHT)
    report = submit_night(config, plan)
    assert [job.kind for job in report.jobs] == ["CALIBRATION", "DATA", "DATA"]
    assert report.jobs[1].dependencies == (report.jobs[0].job_id,)
    status = wait_settled(config)
    failed = [(s.run, s.subrun) for seq in status.sequences for s in seq.subruns if s.is_failed]
    assert failed == [(2002, 1)]
    bad = status.sequence(2002).subruns[1]
    assert (bad.failed_step, bad.failed_rc, bad.exit_code) == ("dl1ab", 3, 3)
    assert bad.steps_done == ("r0_to_dl1",)
    # the partial output written by the failing tool was removed
    paths = NightPaths(config, NIGHT)
    assert not (paths.dl1b_dir / "dl1_LST-1.Run02002.0001.h5").exists()

    # A second submission is a no-op: everything was submitted already.
    again = submit_night(config, plan)
    assert again.jobs == [] and len(again.skipped) == 2

    marker.unlink()
    preview = resubmit_failed(config, plan, dry_run=True)
    assert [(j.run, j.indices) for j in preview.jobs] == [(2002, (1,))]
    done = resubmit_failed(config, plan)
    assert [(j.run, j.indices, j.attempt) for j in done.jobs] == [(2002, (1,), 2)]
    status = wait_settled(config)
    sub = status.sequence(2002).subruns[1]
    assert sub.state == "COMPLETED" and sub.attempts == 2
    history = read_history(paths.history_file(2002, 1))
    # the rerun started after the last good step: r0_to_dl1 ran once
    assert [(r.step, r.rc) for r in history] == [
        ("r0_to_dl1", 0),
        ("dl1ab", 3),
        ("dl1ab", 0),
        ("datacheck", 0),
    ]
    # exactly one new task ran: the other subruns' histories were untouched
    assert len(read_history(paths.history_file(2002, 0))) == 3
    entries = Journal(paths.journal).read()
    analysis = [s for s in entries.submissions if s.kind in ("CALIBRATION", "DATA")]
    assert [s.action for s in analysis] == [
        "submit",
        "submit",
        "submit",
        "resubmit",
    ]


def test_killing_the_runner_loses_no_finished_work(tmp_path: Path) -> None:
    config = make_night(
        tmp_path,
        fake_steps(extra_args={"r0_to_dl1": "--sleep=1.5"}),
        runs=1,
        subruns=4,
        extra="[executor.local]\nmax_parallel = 2\n",
    )
    plan = build_plan(config, NIGHT)
    submit_night(config, plan)
    lock = runner_lock_path(config)
    deadline = time.monotonic() + 30
    executor = get_executor(config)
    while time.monotonic() < deadline:  # wait until data tasks run
        status = night_status(config, plan, executor)
        if status.sequence(2002).counts.get("RUNNING"):
            break
        time.sleep(0.1)
    pid = int(lock.read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    assert not runner_alive(config)
    # Tasks keep running in their own sessions. Nobody restarts the runner by hand: the
    # next look at the night (a status refresh, a tick, the console) finds work and no
    # runner, and starts one, which adopts them (a laptop rebooted mid-demo is the same).
    status = wait_settled(config)
    assert runner_alive(config) or status.sequence(2002).counts == {"COMPLETED": 4}
    assert status.sequence(2002).counts == {"COMPLETED": 4}
    paths = NightPaths(config, NIGHT)
    for subrun in range(4):
        steps = [r.step for r in read_history(paths.history_file(2002, subrun))]
        assert steps == ["r0_to_dl1", "dl1ab", "datacheck"], steps


def test_out_of_memory_is_detected_and_retried_with_more_memory(tmp_path: Path) -> None:
    config = make_night(
        tmp_path,
        fake_steps(extra_args={"r0_to_dl1": "--alloc-mb={subrun}50"}),
        runs=1,
        subruns=2,
        extra='[slurm.data]\nmemory = "150MB"\n[retry]\nmemory_factor = 4.0\n',
    )
    plan = build_plan(config, NIGHT)
    submit_night(config, plan)
    status = wait_settled(config)
    subs = status.sequence(2002).subruns
    # subrun 0 allocates 50 MB, subrun 1 150 MB + Python (> the 150 MB asked for)
    assert subs[0].state == "COMPLETED"
    assert subs[1].state == "OUT_OF_MEMORY", subs[1]
    report = resubmit_failed(config, plan, automatic=True)
    assert [(j.indices, str(j.resources.memory)) for j in report.jobs] == [((1,), "600MB")]
    status = wait_settled(config)
    assert status.sequence(2002).subruns[1].state == "COMPLETED"


def test_timeout_then_more_time(tmp_path: Path) -> None:
    config = make_night(
        tmp_path,
        fake_steps(extra_args={"dl1ab": "--sleep=90"}),
        runs=1,
        subruns=1,
        extra='[slurm.data]\ntime = "00:00:02"\n',
    )
    plan = build_plan(config, NIGHT)
    submit_night(config, plan)
    status = wait_settled(config, timeout=40)
    sub = status.sequence(2002).subruns[0]
    assert sub.state == "TIMEOUT"
    assert sub.steps_done == ("r0_to_dl1",)
    preview = resubmit_failed(config, plan, automatic=True, dry_run=True)
    assert preview.jobs[0].resources.time.slurm() == "00:01:00"


def test_repeated_science_failure_stops_automatic_retries(tmp_path: Path, kind: str) -> None:
    config = make_night(tmp_path, fake_steps(fail={"datacheck": "0"}), runs=1, subruns=2, kind=kind)
    plan = build_plan(config, NIGHT)
    submit_night(config, plan)
    wait_settled(config)
    first = resubmit_failed(config, plan, automatic=True)
    assert [j.indices for j in first.jobs] == [(0,)]
    wait_settled(config)
    second = resubmit_failed(config, plan, automatic=True)
    assert second.jobs == []
    assert "datacheck failed with exit code 3 2 times" in second.skipped[0][1]
    # an operator can still insist (not automatic)
    assert resubmit_failed(config, plan, dry_run=True).jobs[0].indices == (0,)


def test_failed_calibration_cancels_data_and_resubmission_chains_them(
    tmp_path: Path, kind: str
) -> None:
    flag = tmp_path / "fail-calibration"
    flag.touch()
    config = make_night(
        tmp_path,
        fake_steps(extra_args={"calibration": f"--fail-file={flag}"}),
        runs=2,
        subruns=2,
        kind=kind,
    )
    plan = build_plan(config, NIGHT)
    submit_night(config, plan)
    status = wait_settled(config, timeout=120)
    assert status.sequences[0].state == "FAILED"
    for seq in status.data:
        seen = [(s.state, s.reason) for s in seq.subruns]
        assert all(s == "CANCELLED" and "Dependency" in r for s, r in seen), seen
    flag.unlink()
    report = resubmit_failed(config, plan, automatic=True)
    kinds = [(j.kind, j.dependencies) for j in report.jobs]
    calibration_id = report.jobs[0].job_id
    assert kinds == [("CALIBRATION", ()), ("DATA", (calibration_id,)), ("DATA", (calibration_id,))]
    status = wait_settled(config)
    assert all(seq.state == "COMPLETED" for seq in status.sequences)


def test_crash_between_sbatch_and_journal_is_recovered_not_duplicated(
    tmp_path: Path, monkeypatch
) -> None:
    config = make_night(tmp_path, fake_steps(), runs=1, subruns=2)
    plan = build_plan(config, NIGHT)
    journal = Journal(NightPaths(config, NIGHT).journal)
    original = journal.append

    class Crash(Exception):
        pass

    def crash_after_submit(action: str, **fields):
        if action == "submitted":
            raise Crash  # the job exists in the executor, the journal never heard of it
        return original(action, **fields)

    monkeypatch.setattr(
        Journal, "append", lambda self, action, **f: crash_after_submit(action, **f)
    )
    with pytest.raises(Crash):
        submit_night(config, plan)
    monkeypatch.undo()
    executor = LocalExecutor(config)
    assert len(executor.find_jobs("osa_20200218")) == 1  # the calibration job got through
    report = submit_night(config, plan)
    assert [j.kind for j in report.jobs] == ["DATA"]  # calibration recovered, not resubmitted
    view = journal.read()
    assert [e["action"] for e in view.entries][:2] == ["intent", "recovered"]
    assert len(executor.find_jobs("osa_20200218_cal")) == 1
    wait_settled(config)


def test_cancel_marks_pending_and_kills_running(tmp_path: Path, kind: str) -> None:
    from osa_core.usecases.night import cancel

    config = make_night(
        tmp_path,
        fake_steps(extra_args={"r0_to_dl1": "--sleep=30"}),
        runs=1,
        subruns=3,
        extra="[executor.local]\nmax_parallel = 1\n",
        kind=kind,
    )
    plan = build_plan(config, NIGHT)
    submit_night(config, plan)
    time.sleep(2)
    ids = cancel(config, plan, reason="test")
    assert ids
    status = wait_settled(config, timeout=20)
    states = {s.state for seq in status.sequences for s in seq.subruns}
    assert states <= {"CANCELLED", "COMPLETED"} and "CANCELLED" in states


def test_previews_are_what_runs(tmp_path: Path) -> None:
    """A preview is the decision itself: the jobs a dry run lists are the jobs submitted,
    and the jobs the cancel preview names are the jobs cancelled (all active states, on
    the executor that runs them)."""
    from osa_core.actions import ACTIONS, Context, Selection
    from osa_core.usecases.night import cancel

    config = make_night(
        tmp_path,
        fake_steps(extra_args={"r0_to_dl1": "--sleep=20"}),
        runs=2,
        subruns=3,
        extra="[executor.local]\nmax_parallel = 1\n",
    )
    plan = build_plan(config, NIGHT)
    preview = submit_night(config, plan, dry_run=True)
    done = submit_night(config, plan)
    assert [j.describe() for j in preview.jobs] == [
        j.describe()
        .split(" -> job")[0]
        .replace(f"--dependency=afterok:{done.jobs[0].job_id}", "--dependency=afterok:#1")
        for j in done.jobs
    ]
    assert len(preview.armed) == len(done.armed) == 2
    time.sleep(1.5)  # one task running, the others pending
    executor = get_executor(config)
    context = Context(config, plan, executor, selection=Selection())
    shown = ACTIONS["cancel"].preview(context)
    assert "local executor" in shown.lines[0] and "scancel" not in shown.lines[0]
    cancelled = cancel(config, plan, reason="test")
    assert shown.data == cancelled
    assert len(cancelled) >= 3  # calibration/data jobs and the armed close chain
    wait_settled(config, timeout=40)


def test_jobs_run_with_the_config_the_night_was_submitted_with(tmp_path: Path) -> None:
    """An expert edits the config while the night runs: the jobs already queued still run
    with the configuration they were submitted with, and the status says they differ."""
    config = make_night(
        tmp_path,
        fake_steps(extra_args={"r0_to_dl1": "--sleep=1"}),
        runs=1,
        subruns=2,
        extra="[executor.local]\nmax_parallel = 1\n\n[closing]\nauto = false\n",
    )
    plan = build_plan(config, NIGHT)
    submit_night(config, plan)
    source = config.source.read_text()
    config.source.write_text(
        source.replace('"dl1ab", "{dl1b_file}"', '"dl1ab", "{dl1b_file}", "--fail-subruns=0,1"')
    )
    assert "--fail-subruns=0,1" in config.source.read_text()
    edited = load_config(config.source)
    status = wait_settled(edited, timeout=60)
    assert status.sequence(2002).counts == {"COMPLETED": 2}  # the edit would fail dl1ab
    history = read_history(NightPaths(edited, NIGHT).history_file(2002, 1))
    dl1ab = [r for r in history if r.step == "dl1ab"][-1]
    assert "--fail-subruns=0,1" not in dl1ab.command
    assert any("configuration changed after the night was submitted" in w for w in status.warnings)
