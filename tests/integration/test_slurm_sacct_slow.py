"""``sacct`` slower than ``[slurm] command_timeout``, on the real local cluster.

The fault is real, not a stand-in: slurmdbd is stopped (SIGSTOP), so its port still
accepts connections but nothing answers, and the real ``sacct`` hangs (measured: still
waiting after 40 s) while slurmctld, ``squeue`` and ``sbatch`` work: what an overloaded or
wedged accounting database looks like. The status must say the scheduler did not answer
completely, keep the last known state with its age, and a cron tick must submit nothing
and exit 4. slurmdbd is continued (SIGCONT) in a ``finally``; the ``slurm_cluster`` fixture
fails the test if a daemon was left stopped.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from osa_core.executors.factory import get_executor
from osa_core.paths import NightPaths
from osa_core.plan import build_plan
from osa_core.snapshot import night_status
from osa_core.usecases.night import submit_night
from osa_core.vocabulary import State
from tests.conftest import NIGHT, fake_steps
from tests.helpers.slurm import cancel_jobs, daemon_pids, night_job_ids
from tests.integration.test_executors import make_night
from tests.integration.test_slurm_node_faults import completed, running, wait_status
from tests.integration.test_slurm_pending_reasons import journal_actions, osa

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
TIMEOUT = 2  # [slurm] command_timeout, seconds


def test_sacct_not_answering_in_time_keeps_the_last_state_and_decides_nothing(
    tmp_path: Path, slurm_cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_night(
        tmp_path,
        fake_steps(extra_args={"r0_to_dl1": "--sleep=25"}),
        runs=1,
        subruns=2,
        kind="slurm",
        extra=f"[closing]\nauto = false\n[slurm]\ncommand_timeout = {TIMEOUT}\n",
    )
    plan = build_plan(config, NIGHT)
    journal = NightPaths(config, NIGHT).journal
    submit_night(config, plan)
    (slurmdbd,) = daemon_pids("slurmdbd")
    try:
        last = wait_status(config, running, 60, "data tasks never ran")
        before = journal_actions(journal)
        os.kill(slurmdbd, signal.SIGSTOP)

        began = time.monotonic()
        status = night_status(config, plan, get_executor(config))
        took = time.monotonic() - began
        assert took < 4 * TIMEOUT + 3, took  # two tries of each command, never a hang
        assert not status.scheduler_ok
        assert status.scheduler_message == (
            f"the scheduler did not answer completely: sacct did not answer within {TIMEOUT} s"
        )
        assert status.stale_since == last.as_of  # the last known state, with its time
        states = {s.state for seq in status.sequences for s in seq.subruns}
        assert states <= {State.RUNNING, State.COMPLETED}, status.to_dict()

        monkeypatch.setenv("COLUMNS", "300")  # one line per message in the CLI's tables
        tick = osa(config.source, "--batch", "--date", "2020-02-18")
        assert tick.returncode == 4, tick.stdout + tick.stderr
        assert tick.stderr.count("\n") == 1 and "Traceback" not in tick.stderr
        assert "sacct did not answer" in tick.stderr and "nothing submitted" in tick.stderr
        assert journal_actions(journal) == before  # no intent: no sbatch was even tried

        shown = osa(config.source, "status", "-d", "2020-02-18")
        assert shown.returncode == 4, shown.stdout + shown.stderr
        assert "did not answer completely" in shown.stdout
        assert "showing the last known state" in shown.stdout
        stale = json.loads(osa(config.source, "status", "-d", "2020-02-18", "--json").stdout)
        assert stale["stale_since"] == last.as_of.isoformat() and not stale["scheduler_ok"]
        print(f"sacct stalled: status in {took:.1f} s; tick: {tick.stderr.strip()}")
    finally:
        os.kill(slurmdbd, signal.SIGCONT)
    try:
        status = wait_status(config, completed, 120, "night not completed once slurmdbd answered")
        assert Counter(s.state for seq in status.sequences for s in seq.subruns) == Counter(
            {State.COMPLETED: 3}
        )
    finally:
        cancel_jobs(night_job_ids(journal))
