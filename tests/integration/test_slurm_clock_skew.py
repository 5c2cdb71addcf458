"""Clock skew between the submitting host and the observing host, on the real local
cluster: a job is LOST only after LOST_AFTER_SECONDS of absence from complete scheduler
answers measured on the OBSERVING host's clock, whatever time the submitting host's clock
wrote in the journal.

The skewed host is simulated by rewriting the journal's times (a day behind or ahead, as
that host would have written them); the observing host's clock is injected into
``observe`` instead of sleeping through the window. The job that is gone is a journaled id
SLURM never handed out (what a controller killed right after ``sbatch`` leaves: an id it
printed and forgot)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from pathlib import Path

import pytest

from osa_core.executors.factory import get_executor
from osa_core.paths import NightPaths
from osa_core.plan import build_plan
from osa_core.rules.submission import decide_resubmission
from osa_core.snapshot import NightSnapshot, observe
from osa_core.status import LOST_AFTER_SECONDS
from osa_core.usecases.night import submit_night
from osa_core.usecases.tick import tick
from osa_core.vocabulary import ACTIVE_STATES, State
from tests.conftest import NIGHT, fake_steps
from tests.helpers.slurm import cancel_jobs, night_job_ids, squeue_tasks, wait_for
from tests.integration.test_executors import make_night

pytestmark = pytest.mark.slurm

DAY = 86400
GONE = "67000000"  # below MaxJobId (67043328): an id this cluster has not handed out


def _skew_journal(journal: Path, skew: float, gone_run: int) -> str:
    """Shift every record's time by ``skew`` seconds (the submitting host's clock) and give
    ``gone_run``'s submission an id the scheduler never had; return that run's real id."""
    lines = []
    real = ""
    for line in journal.read_text().splitlines():
        entry = json.loads(line)
        moment = dt.datetime.fromisoformat(entry["time"]) + dt.timedelta(seconds=skew)
        entry["time"] = moment.isoformat(timespec="seconds")
        if entry.get("run") == gone_run and entry.get("job_id"):
            real, entry["job_id"] = entry["job_id"], GONE
        lines.append(json.dumps(entry))
    journal.write_text("\n".join(lines) + "\n")
    return real


def _states(snapshot: NightSnapshot, run: int) -> set[State]:
    return {s.state for s in snapshot.status.sequence(run).subruns}


@pytest.mark.parametrize("skew", [-DAY, DAY], ids=["journal-a-day-behind", "journal-a-day-ahead"])
def test_lost_only_after_the_window_on_the_observing_hosts_clock(
    tmp_path: Path, slurm_cluster, skew: int
) -> None:
    steps = fake_steps(extra_args={"r0_to_dl1": "--sleep=60"})
    config = make_night(
        tmp_path, steps, runs=2, subruns=2, kind="slurm", extra="[closing]\nauto = false\n"
    )
    plan = build_plan(config, NIGHT)
    journal = NightPaths(config, NIGHT).journal
    try:
        report = submit_night(config, plan)
        assert [j.run for j in report.jobs] == [2001, 2002, 2003]
        real = _skew_journal(journal, skew, gone_run=2003)
        cancel_jobs([real])  # gone for the scheduler: only the journal remembers it
        assert wait_for(lambda: all(s == "CANCELLED" for s, _ in squeue_tasks(real).values()), 30)

        # cron ticks right away: nothing is LOST yet, nothing is resubmitted
        before = time.time()
        done = tick(config, NIGHT)
        after = time.time()
        assert not done.submitted and not done.resubmitted, done.lines

        executor = get_executor(config)

        def look(at: float, host: str = "observer") -> NightSnapshot:
            return observe(config, plan, executor, settle=False, clock=lambda: at, host=host)

        # the tick observed as this host; the window runs from its first look
        seen_by = socket.gethostname()
        saved = NightPaths(config, NIGHT).state_dir / "task-absence.json"
        assert list(json.loads(saved.read_text())["hosts"]) == [seen_by]
        for offset, expected in (
            (0, State.UNKNOWN),
            (LOST_AFTER_SECONDS - 2, State.UNKNOWN),
        ):
            snapshot = look(before + offset, seen_by)
            assert _states(snapshot, 2002) <= ACTIVE_STATES, snapshot.status.to_dict()
            assert _states(snapshot, 2003) == {expected}, (skew, offset)
        lost = look(after + LOST_AFTER_SECONDS + 1, seen_by)
        assert _states(lost, 2002) <= ACTIVE_STATES  # the running job is never LOST
        assert _states(lost, 2003) == {State.LOST}
        retry = decide_resubmission(lost, automatic=True, arm=False)
        assert [(j.run, j.indices, j.attempt) for j in retry.jobs] == [(2003, (0, 1), 2)]
        assert retry.jobs[0].resources == config.slurm.data  # an infrastructure loss

        # another host does not use this host's window: its own starts at its first look
        later = after + 2 * LOST_AFTER_SECONDS
        assert _states(look(later, "elsewhere"), 2003) == {State.UNKNOWN}
        far = look(later + LOST_AFTER_SECONDS + 1, "elsewhere")
        assert _states(far, 2003) == {State.LOST}
        assert _states(far, 2002) <= ACTIVE_STATES
    finally:
        cancel_jobs(night_job_ids(journal))
