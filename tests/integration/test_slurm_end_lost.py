"""``end_lost`` never cancels a job whose dependants it could not unhook, on the real local
cluster: a RUNNING job taken for lost (its end lost by the controller), a PENDING job
chained ``afterok`` on it with ``--kill-on-invalid-dep=yes`` (as ours are), and an
``scontrol update`` that refuses to rewrite the dependency.

The refusal is a wrapper ``scontrol`` put first on PATH for the ``end_lost`` call only: it
stands in for a controller refusing the update (permission, a job changing state under
it, a controller busy or restarting), which cannot be provoked on demand. Every other
command, ``squeue`` and ``scancel`` included, is the real one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from osa_core.dispatch import act
from osa_core.executors.factory import get_executor
from osa_core.intents import Decision, EndLost
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.plan import build_plan
from osa_core.snapshot import observe
from tests.conftest import NIGHT, fake_steps
from tests.helpers.slurm import cancel_jobs, run, squeue_tasks, wait_for
from tests.integration.test_executors import make_night

pytestmark = pytest.mark.slurm

REFUSING_SCONTROL = """#!/bin/sh
# Stands in for slurmctld refusing a job update (cannot be provoked on demand).
if [ "$1" = "update" ]; then
    echo "slurm_update error: Access/permission denied" >&2
    exit 1
fi
exec {real} "$@"
"""


def _sbatch(tmp_path: Path, *args: str) -> str:
    done = run(
        "sbatch",
        "--parsable",
        "--time=10",
        "--mem-per-cpu=100M",
        f"--output={tmp_path}/%j.out",
        "--kill-on-invalid-dep=yes",
        *args,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split(";")[0]


def _dependency(job: str) -> str:
    return run("squeue", "-h", "-j", job, "-o", "%E").stdout.strip()


def test_a_lost_job_whose_dependant_cannot_be_unhooked_is_not_cancelled(
    tmp_path: Path, slurm_cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_night(tmp_path, fake_steps(), runs=1, subruns=1, kind="slurm")
    plan = build_plan(config, NIGHT)
    executor = get_executor(config)
    lost = _sbatch(tmp_path, "--job-name=osa_test_lost_end", "--wrap", "sleep 300")
    waiting = _sbatch(
        tmp_path, "--job-name=osa_test_dependant", f"--dependency=afterok:{lost}", "--wrap", "true"
    )
    try:
        assert wait_for(lambda: squeue_tasks(lost).get(lost, ("",))[0] == "RUNNING", 30)
        assert squeue_tasks(waiting)[waiting][0] == "PENDING"
        assert _dependency(waiting) == f"afterok:{lost}(unfulfilled)"

        snapshot = observe(config, plan, executor, settle=False)
        intent = Decision(intents=[EndLost((lost,), "test: SLURM lost this job's end")])
        wrapper = tmp_path / "bin" / "scontrol"
        wrapper.parent.mkdir()
        wrapper.write_text(REFUSING_SCONTROL.format(real=shutil.which("scontrol")))
        wrapper.chmod(0o755)
        with monkeypatch.context() as patch:
            patch.setenv("PATH", f"{wrapper.parent}:{shutil.which('scontrol').rsplit('/', 1)[0]}")
            acted = act(snapshot, executor, intent)

        assert acted.ended == [] and list(acted.refused) == [lost]
        assert "could not unhook job" in acted.refused[lost]
        assert "Access/permission denied" in acted.refused[lost]
        entries = Journal(NightPaths(config, NIGHT).journal).read().entries
        assert [e["action"] for e in entries] == ["end_refused"]
        assert entries[0]["job_ids"] == [lost] and "not cancelled" in entries[0]["reason"]
        # nothing was cancelled: the lost job runs, its dependant waits on it, alive
        assert squeue_tasks(lost)[lost][0] == "RUNNING"
        assert squeue_tasks(waiting)[waiting][0] == "PENDING"
        assert _dependency(waiting) == f"afterok:{lost}(unfulfilled)"

        # the same intent with the real scontrol: unhooked, then ended; the dependant runs
        acted = act(observe(config, plan, executor, settle=False), executor, intent)
        assert acted.ended == [lost] and not acted.refused
        assert wait_for(lambda: squeue_tasks(waiting).get(waiting, ("",))[0] == "COMPLETED", 30)
        assert squeue_tasks(lost)[lost][0] == "CANCELLED"
    finally:
        cancel_jobs([lost, waiting])
