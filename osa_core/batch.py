"""``osa --batch``: one cron tick of a night, headless, with the console's own actions.

A tick: take the night's lock, plan (from the snapshot if nothing changed), heal
interrupted submissions, submit what was never submitted, apply the retry policy to failed
subruns, and close the night when it is ready. It prints log lines for the cron mail (or
JSON) and exits with a documented code (docs/batch.md):

0 progressed or nothing to do · 2 bad input · 3 needs an operator · 4 scheduler
unreachable · 5 another actor holds the night
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from osa_core.config import Config
from osa_core.errors import ExitCode
from osa_core.executors.base import Executor, get_executor
from osa_core.locking import night_lock
from osa_core.paths import NightPaths
from osa_core.plan import build_plan


@dataclass
class TickReport:
    night: str
    started: str
    lines: list[str] = field(default_factory=list)
    submitted: list[dict[str, Any]] = field(default_factory=list)
    resubmitted: list[dict[str, Any]] = field(default_factory=list)
    not_retried: list[str] = field(default_factory=list)
    closed: bool = False
    readiness: dict[str, Any] = field(default_factory=dict)
    exit_code: int = ExitCode.OK

    def log(self, message: str) -> None:
        self.lines.append(
            f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} {self.night} {message}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "night": self.night,
            "started": self.started,
            "exit_code": self.exit_code,
            "submitted": self.submitted,
            "resubmitted": self.resubmitted,
            "not_retried": self.not_retried,
            "closed": self.closed,
            "readiness": self.readiness,
            "log": self.lines,
        }


def default_night(now: dt.datetime | None = None) -> dt.date:
    """Cron runs in the morning for the night that started the previous evening (UTC)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return (now - dt.timedelta(hours=12)).date()


def tick(
    config: Config,
    night: dt.date,
    executor: Executor | None = None,
    lock_wait: float = 60.0,
    auto_close: bool = True,
) -> TickReport:
    """One tick; raises OsaError subclasses for bad input, lock, unreachable scheduler."""
    from osa_core.closing.readiness import readiness
    from osa_core.submission import (
        fresh_status,
        resubmit_failed_locked,
        submit_night_locked,
    )

    report = TickReport(
        night=night.isoformat(),
        started=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    executor = executor or get_executor(config)
    paths = NightPaths(config, night)
    with night_lock(paths.lock, wait=lock_wait):
        plan = build_plan(config, night)
        for problem in plan.problems:
            report.log(f"PROBLEM {problem}")
        if paths.night_finished.exists():
            report.log("night already closed; nothing to do")
            report.closed = True
            from osa_core.errors import SchedulerUnavailable
            from osa_core.lost_ends import end_leftovers

            try:
                for job_id in end_leftovers(config, night, executor):
                    report.log(f"ended job {job_id}: still active after the night finished")
            except SchedulerUnavailable as err:
                report.log(f"leftover jobs not checked: {err}")
            return report
        fresh = fresh_status(config, plan, executor)  # raises SchedulerUnavailable
        status = fresh[1]
        submitted = submit_night_locked(config, plan, executor, fresh)
        for job in submitted.jobs:
            report.log(f"submitted {job.describe()}")
            report.submitted.append(job.to_dict())
        # The same answer serves the retries: what was just submitted cannot have failed.
        retried = resubmit_failed_locked(config, plan, executor, automatic=True, fresh=fresh)
        for job in retried.jobs:
            report.log(f"resubmitted {job.describe()}")
            report.resubmitted.append(job.to_dict())
        for run, why in retried.skipped:
            report.log(f"NOT RETRIED run {run:05d} {why}")
            report.not_retried.append(f"run {run:05d} {why}")
        ready = readiness(status)
        if submitted.jobs or retried.jobs:
            ready.ready = False  # jobs were just submitted: the night is not done
            ready.missing.append("jobs were just submitted")
        report.readiness = ready.to_dict()
        totals = status.totals
        report.log(
            "subruns: "
            + ", ".join(f"{n} {s.lower()}" for s, n in sorted(totals.items()))
            + f"; {ready.summary()}"
        )
        if ready.ready and auto_close:
            from osa_core.closing.close import close_night_locked

            for line in close_night_locked(config, plan, executor):
                report.log(line)
            report.closed = paths.night_finished.exists()
    if plan.problems or report.not_retried:
        report.exit_code = ExitCode.NEEDS_OPERATOR
    return report
