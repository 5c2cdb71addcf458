"""``osa --batch``: one cron tick of a night, headless, with the console's own rules.

A tick takes the night's lock, plans (from the snapshot if nothing changed), observes the
night ONCE (journal read once, scheduler asked once), settles what a crash left, submits
what was never submitted, applies the retry policy to failed subruns, and closes the night
when it is ready. It prints log lines for the cron mail (or JSON) and exits with a
documented code (docs/batch.md):

0 progressed or nothing to do · 2 bad input · 3 needs an operator · 4 scheduler
unreachable · 5 another actor holds the night · 6 a file or folder cannot be read or written
"""

from __future__ import annotations

import datetime as dt
import shlex
from dataclasses import dataclass, field
from typing import Any

from osa_core.config import Config
from osa_core.dispatch import act
from osa_core.errors import ExitCode, NeedsOperator, SchedulerUnavailable
from osa_core.executors.api import Executor
from osa_core.executors.factory import get_executor
from osa_core.intents import Decision, EndLost
from osa_core.locking import night_lock
from osa_core.paths import NightPaths
from osa_core.plan import Plan, build_plan
from osa_core.rules.gain_selection import decide_gain_selection_flag
from osa_core.rules.lost_ends import leftovers
from osa_core.rules.readiness import readiness
from osa_core.rules.submission import arm_close, decide_resubmission, decide_submission
from osa_core.snapshot import NightSnapshot, observe
from osa_core.usecases.close import close_from
from osa_core.usecases.common import prepared


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
    journal_problem: str = ""
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
            "journal_problem": self.journal_problem,
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
    report = TickReport(
        night=night.isoformat(),
        started=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    paths = NightPaths(config, night)
    if not paths.run_summary.exists():
        return _without_run_summary(paths, report)
    executor = executor or get_executor(config)
    with night_lock(paths.lock, wait=lock_wait):
        plan = build_plan(config, night)
        for problem in plan.problems:
            report.log(f"PROBLEM {problem}")
        if paths.night_finished.exists():
            _finished_night(config, plan, executor, paths, report)
            return report
        _progress(config, plan, executor, report, auto_close)
    if plan.problems or report.not_retried or report.journal_problem:
        report.exit_code = ExitCode.NEEDS_OPERATOR
    return report


def _without_run_summary(paths: NightPaths, report: TickReport) -> TickReport:
    """No RunSummary: with no R0 either, the telescope did not observe (moon break, bad
    weather): normal, exit 0, so cron raises no alarm. R0 on disk without a RunSummary is
    an operator's matter: say so, with the command that makes one (lstosa runs it)."""
    try:
        r0 = sorted(p.name for p in paths.r0_dir.iterdir() if p.name.endswith(".fits.fz"))
    except FileNotFoundError:
        r0 = []
    if not r0:
        report.log(
            f"no observation: neither a RunSummary ({paths.run_summary}) nor R0 files "
            f"({paths.r0_dir}); nothing to do"
        )
        return report
    if paths.config.night.live:
        # live: the first runs of the night are landing; their rows come when they end
        report.log(f"observing: {len(r0)} R0 file(s) landed, no run ended yet (no RunSummary)")
        return report
    command = [
        "lstchain_create_run_summary",
        "-d",
        paths.folder,
        "--r0-path",
        str(paths.config.paths.r0),
        "-o",
        str(paths.run_summary.parent),
    ]
    report.log(
        f"PROBLEM {len(r0)} R0 file(s) in {paths.r0_dir} but no RunSummary "
        f"({paths.run_summary}): make it with: {shlex.join(command)}"
    )
    report.exit_code = ExitCode.NEEDS_OPERATOR
    return report


def _check_journal(snapshot: NightSnapshot, report: TickReport) -> None:
    """Malformed journal lines need an operator (the tick still acts: a submission whose
    ``submitted`` line was lost is found again by its intent's token)."""
    if snapshot.journal_problem:
        report.journal_problem = snapshot.journal_problem
        report.log(f"PROBLEM {snapshot.journal_problem}")
        report.exit_code = ExitCode.NEEDS_OPERATOR


def _finished_night(
    config: Config, plan: Plan, executor: Executor, paths: NightPaths, report: TickReport
) -> None:
    """A closed night has nothing to do, but jobs SLURM brought back must not linger."""
    report.log("night already closed; nothing to do")
    report.closed = True
    snapshot = observe(config, plan, executor, settle=False)
    _check_journal(snapshot, report)
    ids = leftovers(snapshot, paths.night_finished.stat().st_mtime)
    if not snapshot.query.reachable:
        report.log(f"leftover jobs not checked: {snapshot.query.message}")
        return
    if ids:
        reason = "still active after the night was finished"
        acted = act(snapshot, executor, Decision(intents=[EndLost(tuple(ids), reason)]))
        for job_id in acted.ended:
            report.log(f"ended job {job_id}: still active after the night finished")


def _progress(
    config: Config, plan: Plan, executor: Executor, report: TickReport, auto_close: bool
) -> None:
    snapshot, upkeep = prepared(config, plan, executor)  # raises SchedulerUnavailable
    _check_journal(snapshot, report)
    for line in upkeep.lines:
        report.log(line)
    # What is submitted now cannot have failed: the same snapshot serves the retries, and
    # one close is armed after both.
    decision = decide_submission(snapshot, arm=False)
    retry = decide_resubmission(snapshot, automatic=True, arm=False)
    decision.extend(retry)
    arm_close(snapshot, decision)
    flag = decide_gain_selection_flag(snapshot)
    if flag is not None:
        decision.intents.append(flag)
    acted = act(snapshot, executor, decision) if decision.intents else None
    for line in acted.lines if acted else []:
        report.log(line)
    submitted_jobs = acted.jobs if acted else []
    for job in submitted_jobs:
        if job.purpose == "submit":
            report.log(f"submitted {job.describe()}")
            report.submitted.append(job.to_dict())
        elif job.purpose == "resubmit":
            report.log(f"resubmitted {job.describe()}")
            report.resubmitted.append(job.to_dict())
    for run, why in retry.skipped:
        report.log(f"NOT RETRIED run {run:05d} {why}")
        report.not_retried.append(f"run {run:05d} {why}")
    ready = readiness(snapshot.status)
    if decision.jobs:
        ready.ready = False  # jobs were just submitted: the night is not done
        ready.missing.append("jobs were just submitted")
    report.readiness = ready.to_dict()
    totals = snapshot.status.totals
    report.log(
        "subruns: "
        + ", ".join(f"{n} {s.lower()}" for s, n in sorted(totals.items()))
        + f"; {ready.summary()}"
    )
    if ready.ready and auto_close:
        try:
            for line in close_from(snapshot, executor, automatic=True):
                report.log(line)
        except NeedsOperator as err:
            report.log(f"NOT CLOSED {err}")
            report.not_retried.append(f"close: {err}")
        except SchedulerUnavailable:
            raise
        report.closed = NightPaths(config, plan.night).night_finished.exists()
