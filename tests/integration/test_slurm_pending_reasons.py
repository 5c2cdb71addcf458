"""Jobs SLURM keeps PENDING for a reason of its own, on the real local cluster: a partition
set DOWN, a maintenance reservation over the node, a node drained. The status shows
SLURM's reason; cron (``osa --batch``) ticks again and again and submits, resubmits and
cancels nothing (counted in the journal, where every ``sbatch`` is preceded by an
``intent`` record); once the hold is lifted the night completes.

Reasons SLURM 22.05 gives (squeue; sacct's Reason column is stale or cut, e.g.
``ReqNodeNotAvail`` alone for the reservation):

* partition DOWN (``scontrol update partitionname=short state=down``): ``PartitionDown``
  (a job allowed ``--partition=short,long`` runs in ``long`` instead: the test's jobs ask
  for ``short`` only)
* maintenance reservation (``scontrol create reservation ... flags=maint``):
  ``ReqNodeNotAvail, Reserved for maintenance``
* node drained (``scontrol update nodename=localhost state=drain``): ``Nodes required for
  job are DOWN, DRAINED or reserved for jobs in higher priority partitions``

and the data arrays waiting on the calibration: ``Dependency``, or the hold's reason (SLURM
gives either for a job held by both). Each hold is lifted in a
``finally``; the ``slurm_cluster`` fixture fails the test if anything was left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from osa_core.paths import NightPaths
from osa_core.vocabulary import State
from tests.conftest import NIGHT, fake_steps
from tests.helpers.slurm import (
    TEST_RESERVATION_PREFIX,
    cancel_jobs,
    night_job_ids,
    resume_node,
    run,
)
from tests.integration.test_executors import make_night
from tests.integration.test_slurm_node_faults import completed, wait_status

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
RESERVATION = f"{TEST_RESERVATION_PREFIX}_maint"
TICKS = 4

HOLDS = {
    "partition-down": (
        ("update", "partitionname=short", "state=down"),
        ("update", "partitionname=short", "state=up"),
        "PartitionDown",
    ),
    "maintenance-reservation": (
        ("create", "reservation", f"reservationname={RESERVATION}", "starttime=now",
         "duration=30", "nodes=localhost", "users=root", "flags=maint,ignore_jobs"),
        ("delete", f"reservationname={RESERVATION}"),
        "ReqNodeNotAvail, Reserved for maintenance",
    ),
    "node-drained": (
        ("update", "nodename=localhost", "state=drain", "reason=osa test: drained"),
        ("update", "nodename=localhost", "state=resume"),
        "Nodes required for job are DOWN, DRAINED or reserved for jobs in higher priority "
        "partitions",
    ),
}  # fmt: skip


def osa(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``osa`` command line, as cron and a shifter run it (this worktree's code)."""
    return subprocess.run(
        [sys.executable, "-m", "osa_core.cli.main", "-c", str(config), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def journal_actions(path: Path) -> Counter[str]:
    return Counter(json.loads(line)["action"] for line in path.read_text().splitlines())


@pytest.mark.parametrize("hold", list(HOLDS))
def test_pending_for_slurms_reason_shows_it_and_cron_submits_nothing(
    tmp_path: Path, slurm_cluster, hold: str
) -> None:
    apply, lift, reason = HOLDS[hold]
    config = make_night(
        tmp_path,
        fake_steps(),
        runs=2,
        subruns=2,
        kind="slurm",
        extra='[closing]\nauto = false\n[slurm.calibration]\npartition = "short"\n'
        '[slurm.data]\npartition = "short"\n',
    )
    journal = NightPaths(config, NIGHT).journal
    lifted = False
    done = run("scontrol", *apply)
    assert done.returncode == 0, done.stderr
    try:
        first = osa(config.source, "--batch", "--date", "2020-02-18", "--json")
        assert first.returncode == 0, first.stderr
        assert len(json.loads(first.stdout)["submitted"]) == 3  # calibration + 2 runs
        submitted = journal_actions(journal)
        assert submitted["intent"] == 3 == submitted["submitted"]

        status = wait_status(
            config,
            lambda s: s.calibration.subruns[0].reason == reason,
            30,
            f"calibration not pending for {reason!r}",
        )
        calibration = status.calibration.subruns[0]
        assert calibration.state == State.PENDING
        for seq in status.data:
            for subrun in seq.subruns:  # SLURM gives either reason of a job held by both,
                # or, for a node it cannot use, its own wording of it (seen in a full run)
                assert subrun.state == State.PENDING
                assert subrun.reason in ("Dependency", reason) or subrun.reason.startswith(
                    "ReqNodeNotAvail"
                ), subrun

        for _ in range(TICKS):  # cron keeps ticking: no retry storm
            again = osa(config.source, "--batch", "--date", "2020-02-18", "--json")
            assert again.returncode == 0, again.stderr
            report = json.loads(again.stdout)
            assert not report["submitted"] and not report["resubmitted"], report["log"]
        assert journal_actions(journal) == submitted  # no sbatch, no scancel, nothing

        shown = osa(config.source, "status", "-d", "2020-02-18", "--json")
        assert shown.returncode == 0, shown.stderr
        calib = json.loads(shown.stdout)["sequences"][0]["subruns"][0]
        assert (calib["state"], calib["reason"]) == ("PENDING", reason)

        assert run("scontrol", *lift).returncode == 0
        lifted = True
        if hold == "node-drained":
            resume_node("localhost")
        wait_status(config, completed, 120, f"night not completed after lifting {hold}")
        assert journal_actions(journal) == submitted
    finally:
        if not lifted:
            run("scontrol", *lift)
        cancel_jobs(night_job_ids(journal))
