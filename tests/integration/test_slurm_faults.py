"""Killing slurmctld/slurmdbd (kill -9) during submission and status, on the real local
cluster: no duplicate, no lost submission, a clear message meanwhile, the right final state.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from osa_core.errors import SchedulerUnavailable
from osa_core.executors.factory import get_executor
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.plan import build_plan
from osa_core.snapshot import night_status
from osa_core.usecases.night import submit_night
from tests.conftest import NIGHT, fake_steps
from tests.integration.test_executors import make_night, wait_settled

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "slurm-local"


def kill(daemon: str) -> None:
    subprocess.run(["pkill", "-9", "-x", daemon], check=False)
    deadline = time.monotonic() + 10
    while subprocess.run(["pgrep", "-x", daemon], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, f"{daemon} survived kill -9"
        time.sleep(0.1)


def restart(daemon: str) -> None:
    subprocess.run([str(SCRIPT), "restart", daemon], check=True, capture_output=True, timeout=180)


@pytest.fixture
def cluster(slurm_cluster):
    yield
    subprocess.run([str(SCRIPT), "up"], check=False, capture_output=True, timeout=300)


def our_jobs(name_prefix: str, since: str) -> list[str]:
    """Jobs of this name SUBMITTED since the test started (names repeat across tests)."""
    out = subprocess.run(
        ["sacct", "-X", "--parsable2", "--noheader", "-S", since, "-o", "JobID,JobName,Submit"],
        capture_output=True,
        text=True,
        check=True,
    )
    jobs = set()
    for line in out.stdout.splitlines():
        job, name, submitted = line.split("|")[:3]
        if name.startswith(name_prefix) and submitted >= since:
            jobs.add(job.split("_")[0])
    return sorted(jobs)


def test_slurmctld_killed_during_submission(tmp_path: Path, cluster, monkeypatch) -> None:
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() - 1))
    config = make_night(tmp_path, fake_steps(), runs=2, subruns=2, kind="slurm")
    plan = build_plan(config, NIGHT)
    executor = get_executor(config)
    real_submit = executor.submit
    calls = []

    def submit_then_crash(spec, request=None):
        calls.append(spec.name)
        if len(calls) == 2:  # the controller dies before the second sbatch
            kill("slurmctld")
        return real_submit(spec, request)

    monkeypatch.setattr(executor, "submit", submit_then_crash)
    executor.timeout = 15
    with pytest.raises(SchedulerUnavailable) as err:
        submit_night(config, plan, executor)
    assert "\n" not in str(err.value) and "sbatch" in str(err.value)
    # while down: a clear status, nothing decided
    status = night_status(config, plan, executor)
    assert not status.scheduler_ok and status.scheduler_message
    restart("slurmctld")
    monkeypatch.undo()
    # A job submitted within ~1 s of the crash can be lost by SLURM (docs/slurm-local.md):
    # then it is UNKNOWN, and LOST once both squeue and sacct have had time to show it; the
    # next ticks resubmit it. Tick like cron until everything is submitted.
    from osa_core.usecases.tick import tick

    deadline = time.monotonic() + 120
    while True:
        tick(config, NIGHT)
        view = Journal(NightPaths(config, NIGHT).journal).read()
        analysis = {s.run for s in view.submissions if s.kind in ("CALIBRATION", "DATA")}
        if analysis == {2001, 2002, 2003} or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert analysis == {2001, 2002, 2003}
    assert not view.intents
    for name in ("osa_20200218_cal_02001", "osa_20200218_dat_02002", "osa_20200218_dat_02003"):
        deadline = time.monotonic() + 20  # sacct learns of a new job ~1 s after sbatch
        while not our_jobs(name, since) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(our_jobs(name, since)) == 1, name
    status = wait_settled(config, timeout=120)
    assert all(seq.state == "COMPLETED" for seq in status.sequences), status.to_dict()


def test_slurmctld_killed_during_status(tmp_path: Path, cluster) -> None:
    config = make_night(
        tmp_path, fake_steps(extra_args={"r0_to_dl1": "--sleep=8"}), runs=1, subruns=3, kind="slurm"
    )
    plan = build_plan(config, NIGHT)
    submit_night(config, plan)
    time.sleep(4)
    executor = get_executor(config)
    executor.timeout = 15
    before = night_status(config, plan, executor)
    assert before.scheduler_ok
    kill("slurmctld")
    during = night_status(config, plan, executor)
    assert not during.scheduler_ok
    assert during.stale_since is not None  # the last known state, with its age
    assert not any(s.is_failed for seq in during.sequences for s in seq.subruns)
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "osa_core.cli.main",
            "-c",
            str(config.source),
            "status",
            "-d",
            "2020-02-18",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 4 and "Traceback" not in cli.stderr + cli.stdout
    assert "Scheduler unreachable" in cli.stdout
    restart("slurmctld")
    # Cron ticks (they release jobs SLURM held after a launch failure, and resubmit what
    # the restarted controller lost: it recovers its last saved state, so jobs submitted
    # seconds before the kill can be gone and their ids reused) until every subrun is done.
    from osa_core.usecases.tick import tick

    deadline = time.monotonic() + 240
    while True:
        tick(config, NIGHT)
        status = night_status(config, plan, get_executor(config))
        if all(seq.state == "COMPLETED" for seq in status.sequences):
            break
        assert time.monotonic() < deadline, status.to_dict()
        time.sleep(5)


def test_slurmdbd_killed_partial_answer_decides_nothing(tmp_path: Path, cluster) -> None:
    config = make_night(tmp_path, fake_steps(fail={"dl1ab": "1"}), runs=1, subruns=2, kind="slurm")
    plan = build_plan(config, NIGHT)
    submit_night(config, plan)
    wait_settled(config, timeout=120)
    time.sleep(2)
    kill("slurmdbd")
    executor = get_executor(config)
    status = night_status(config, plan, executor)
    assert not status.scheduler_ok and "sacct" in status.scheduler_message
    with pytest.raises(SchedulerUnavailable):
        submit_night(config, plan, executor)
    restart("slurmdbd")
    status = night_status(config, plan, get_executor(config))
    assert status.scheduler_ok
    assert [s.subrun for s in status.sequence(2002).failed] == [1]
