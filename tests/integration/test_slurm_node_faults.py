"""SLURM's own failure states on the real local cluster (22.05): a node set DOWN while our
tasks run, and an operator's ``scontrol requeue`` / ``requeuehold``.

What SLURM 22.05 does here (seen on this cluster, docs/reliability.md):

* node set DOWN (``scontrol update nodename=localhost state=down reason=...``) while a
  task runs: its run ends ``NODE_FAIL`` (sacct), and, batch jobs being requeueable by
  default (``JobRequeue=1``), SLURM requeues it under the same id: ``PENDING`` with reason
  ``BeginTime``, running again ~13 s later. The node, its slurmd answering, is back in
  service within a second (``ReturnToService=2``). osa shows the task PENDING "requeued
  after NODE_FAIL (BeginTime)" and submits nothing: SLURM retries it.
* the same with a job that may not be requeued (``--no-requeue``, or a cluster with
  ``JobRequeue=0``): the task ends ``NODE_FAIL`` (squeue reason ``NodeDown``), osa shows it
  and the retry policy resubmits it as an infrastructure failure, with the same resources.
* ``scontrol requeue``: the run's record ends ``REQUEUED``, the task is PENDING
  (``BeginTime``) and runs again; ``scontrol requeuehold``: PENDING "job requeued in held
  state", an operator's hold that osa never releases.

Not produced on a single-node cluster with the shared configuration: ``PREEMPTED`` (needs
``PreemptType`` other than ``preempt/none``, read by slurmctld at start only) and
``BOOT_FAIL`` (needs power saving or a ``RebootProgram``: ``state=POWER_DOWN`` is refused
with "Invalid node state specified", ``scontrol reboot`` with "RebootProgram isn't
defined"). Their classification and retry are tested on plain data (tests/unit/test_retry.py).

Every test puts the node back in service in a ``finally``; the ``slurm_cluster`` fixture
then fails the test if a node, partition or reservation was left changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from osa_core.config import Config
from osa_core.executors.factory import get_executor
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.plan import build_plan
from osa_core.rules.retry import INFRA, classify, decide
from osa_core.snapshot import night_status
from osa_core.status import NightStatus, SubrunStatus
from osa_core.usecases.night import submit_night
from osa_core.usecases.tick import tick
from osa_core.vocabulary import State
from tests.conftest import NIGHT, fake_steps
from tests.helpers.slurm import cancel_jobs, night_job_ids, nodes, resume_node, run, wait_for
from tests.integration.test_executors import make_night

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
NODE = "localhost"


def night(base: Path, sleep: float) -> Config:
    steps = fake_steps(extra_args={"r0_to_dl1": f"--sleep={sleep}"})
    return make_night(
        base, steps, runs=1, subruns=2, kind="slurm", extra="[closing]\nauto = false\n"
    )


def data(status: NightStatus) -> list[SubrunStatus]:
    return status.sequence(2002).subruns


def wait_status(
    config: Config, until: Callable[[NightStatus], bool], timeout: float, why: str
) -> NightStatus:
    plan = build_plan(config, NIGHT)
    executor = get_executor(config)
    deadline = time.monotonic() + timeout
    while True:
        status = night_status(config, plan, executor)
        if status.scheduler_ok and until(status):
            return status
        assert time.monotonic() < deadline, f"{why}: {status.to_dict()['sequences']}"
        time.sleep(0.5)


def running(status: NightStatus) -> bool:
    return all(s.state == State.RUNNING for s in data(status))


def completed(status: NightStatus) -> bool:
    return all(s.state == State.COMPLETED for seq in status.sequences for s in seq.subruns)


def submissions(config: Config) -> list[tuple[int, str, tuple[int, ...] | None, int, str, str]]:
    view = Journal(NightPaths(config, NIGHT).journal).read()
    return [(s.run, s.kind, s.indices, s.attempt, s.memory, s.time_limit) for s in view.submissions]


def node_down(reason: str) -> None:
    done = run("scontrol", "update", f"nodename={NODE}", "state=down", f"reason={reason}")
    assert done.returncode == 0, done.stderr


def test_node_down_mid_run_slurm_requeues_and_osa_submits_nothing(
    tmp_path: Path, slurm_cluster
) -> None:
    config = night(tmp_path, sleep=8)
    submit_night(config, build_plan(config, NIGHT))
    journal = NightPaths(config, NIGHT).journal
    try:
        wait_status(config, running, 60, "data tasks never ran")
        before = submissions(config)
        node_down("osa test: node down mid-run")
        status = wait_status(
            config,
            lambda s: all(x.state == State.PENDING and "requeued" in x.reason for x in data(s)),
            20,
            "requeued tasks not PENDING",
        )
        for subrun in data(status):
            assert subrun.reason.startswith("requeued after NODE_FAIL"), subrun
            assert not subrun.is_failed and subrun.attempts == 1
        sacct = run("sacct", "-D", "-X", "-n", "--parsable2", "-o", "JobID,State", "-j",
                    status.sequence(2002).job_ids[-1])  # fmt: skip
        assert "NODE_FAIL" in sacct.stdout, sacct.stdout  # the run SLURM requeued
        # the node came back by itself (ReturnToService=2: its slurmd answers)
        assert wait_for(lambda: nodes()[NODE][0] in ("idle", "mixed", "allocated"), 10), nodes()
        report = tick(config, NIGHT)
        assert not report.submitted and not report.resubmitted, report.lines
        status = wait_status(config, completed, 120, "requeued tasks never completed")
        assert submissions(config) == before  # SLURM retried them, osa did not
        assert {s.attempts for s in data(status)} == {1}
    finally:
        resume_node(NODE)
        cancel_jobs(night_job_ids(journal))


def test_node_fail_without_requeue_is_retried_with_the_same_resources(
    tmp_path: Path, slurm_cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SBATCH_NO_REQUEUE=1 (sbatch's own input variable, = ``--no-requeue``) stands in for
    a cluster where jobs are not requeued (``JobRequeue=0``): the node failure is final."""
    config = night(tmp_path, sleep=8)
    monkeypatch.setenv("SBATCH_NO_REQUEUE", "1")
    submit_night(config, build_plan(config, NIGHT))
    monkeypatch.delenv("SBATCH_NO_REQUEUE")
    journal = NightPaths(config, NIGHT).journal
    try:
        wait_status(config, running, 60, "data tasks never ran")
        node_down("osa test: node failure")
        status = wait_status(
            config,
            lambda s: all(x.state == State.NODE_FAIL for x in data(s)),
            20,
            "no NODE_FAIL",
        )
        policy = config.retry
        for subrun in data(status):
            assert subrun.is_failed and subrun.reason == "NodeDown", subrun
            assert classify(subrun) == INFRA
            verdict = decide(subrun, config.slurm.data, policy)
            assert verdict.retry and verdict.resources == config.slurm.data
        resume_node(NODE)
        report = tick(config, NIGHT)
        assert [(j["run"], j["indices"], j["attempt"]) for j in report.resubmitted] == [
            (2002, [0, 1], 2)
        ], report.lines
        first, again = [s for s in submissions(config) if s[1] == "DATA"]
        assert again[2:] == ((0, 1), 2, first[4], first[5])  # same memory, same time
        status = wait_status(config, completed, 120, "resubmitted tasks never completed")
        assert {s.attempts for s in data(status)} == {2}
    finally:
        resume_node(NODE)
        cancel_jobs(night_job_ids(journal))


def test_operator_requeue_and_requeuehold(tmp_path: Path, slurm_cluster) -> None:
    """Task 0 requeued (``scontrol requeue``): SLURM runs it again. Task 1 requeued and
    held (``scontrol requeuehold``): an operator's hold, shown and never released by osa
    (it used to release any job whose reason said "held")."""
    config = night(tmp_path, sleep=8)
    submit_night(config, build_plan(config, NIGHT))
    journal = NightPaths(config, NIGHT).journal
    try:
        status = wait_status(config, running, 60, "data tasks never ran")
        job = status.sequence(2002).job_ids[-1]
        before = submissions(config)
        assert run("scontrol", "requeue", f"{job}_0").returncode == 0
        assert run("scontrol", "requeuehold", f"{job}_1").returncode == 0
        # sacct lags squeue by about a second: "requeued" once it has the REQUEUED record
        status = wait_status(
            config,
            lambda s: all(x.state == State.PENDING and "requeued" in x.reason for x in data(s)),
            20,
            "requeued tasks not PENDING",
        )
        requeued, held = data(status)
        assert requeued.reason == "requeued (BeginTime)", requeued
        assert held.reason == "requeued (job requeued in held state)", held
        for _ in range(2):
            report = tick(config, NIGHT)
            assert not report.submitted and not report.resubmitted, report.lines
        actions = [e["action"] for e in Journal(journal).read().entries]
        assert "released" not in actions, actions
        status = wait_status(
            config, lambda s: data(s)[0].state == State.COMPLETED, 90, "requeued task"
        )
        assert data(status)[1].state == State.PENDING  # still held: the operator's to release
        assert run("scontrol", "release", f"{job}_1").returncode == 0
        wait_status(config, completed, 90, "released task never completed")
        assert submissions(config) == before
    finally:
        cancel_jobs(night_job_ids(journal))
