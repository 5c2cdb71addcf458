"""Submitting, resubmitting, cancelling and giving up: every change of a night's jobs.

Each runs under the night's lock (a preview takes none: it writes nothing) and lands in
the journal. Submission is idempotent: a run that already has a submission is never
submitted again by ``submit_night`` (that is ``resubmit_failed``'s job, for exactly the
failed subruns).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable

from osa_core.config import Config
from osa_core.dispatch import act
from osa_core.errors import InputError
from osa_core.executors.api import Executor
from osa_core.executors.factory import get_executor
from osa_core.intents import Decision, SubmitReport
from osa_core.journal import Journal
from osa_core.locking import night_lock
from osa_core.paths import NightPaths
from osa_core.plan import Plan
from osa_core.rules.submission import decide_cancel, decide_resubmission, decide_submission
from osa_core.snapshot import NightSnapshot
from osa_core.usecases.common import observed, prepared

LOCK_WAIT_SECONDS = 30


def submit_night(
    config: Config, plan: Plan, executor: Executor | None = None, dry_run: bool = False
) -> SubmitReport:
    """Submit every sequence that has never been submitted (idempotent)."""
    return _submission(config, plan, executor, decide_submission, dry_run)


def _submission(
    config: Config,
    plan: Plan,
    executor: Executor | None,
    decide: Callable[[NightSnapshot], Decision],
    dry_run: bool,
) -> SubmitReport:
    """A preview decides on a fresh snapshot and stops; the real thing takes the lock,
    settles what a crash left, decides on that snapshot and acts: the same rule both ways."""
    executor = executor or get_executor(config)
    if dry_run:
        decision = decide(observed(config, plan, executor, settle=False))
        return SubmitReport.of(decision.jobs, decision.skipped, dry_run=True)
    with night_lock(NightPaths(config, plan.night).lock, wait=LOCK_WAIT_SECONDS):
        snapshot, _ = prepared(config, plan, executor)
        return carry_out(snapshot, executor, decide(snapshot))


def carry_out(snapshot: NightSnapshot, executor: Executor, decision: Decision) -> SubmitReport:
    """Act on a submission decision; the report of what was submitted."""
    if not decision.jobs:
        return SubmitReport.of([], decision.skipped, dry_run=True)
    acted = act(snapshot, executor, decision)
    return SubmitReport.of(acted.jobs, decision.skipped, dry_run=False)


def resubmit_failed(
    config: Config,
    plan: Plan,
    executor: Executor | None = None,
    *,
    runs: list[int] | None = None,
    indices: dict[int, list[int]] | None = None,
    automatic: bool = False,
    more_memory: bool = False,
    dry_run: bool = False,
) -> SubmitReport:
    """Resubmit exactly the failed subruns (one compact array per run and resources)."""

    def decide(snapshot: NightSnapshot) -> Decision:
        return decide_resubmission(
            snapshot, runs, indices, automatic=automatic, more_memory=more_memory
        )

    return _submission(config, plan, executor, decide, dry_run)


def cancel(
    config: Config,
    plan: Plan,
    executor: Executor | None = None,
    *,
    runs: list[int] | None = None,
    reason: str = "",
    dry_run: bool = False,
) -> list[str]:
    """Cancel our active jobs of the night (or of some runs); returns the job ids."""
    executor = executor or get_executor(config)
    if dry_run:
        decision = decide_cancel(observed(config, plan, executor, settle=False), runs, reason)
        return [job for intent in decision.intents for job in getattr(intent, "job_ids", ())]
    with night_lock(NightPaths(config, plan.night).lock, wait=LOCK_WAIT_SECONDS):
        snapshot, _ = prepared(config, plan, executor)
        return act(snapshot, executor, decide_cancel(snapshot, runs, reason)).cancelled


def give_up(config: Config, plan: Plan, run: int, indices: list[int], reason: str) -> None:
    """An operator decides these subruns will not be processed (closing may go on)."""
    if not reason.strip():
        raise InputError("give up needs a reason (it is recorded in the journal)")
    sequence = plan.sequence_for_run(run)
    # the awaited ones too: subruns the RunSummary declares that will never land
    unknown = sorted(set(indices) - set(sequence.subruns) - set(sequence.awaited))
    if unknown:
        raise InputError(f"run {run} has no subrun(s) {unknown}")
    paths = NightPaths(config, plan.night)
    with night_lock(paths.lock, wait=LOCK_WAIT_SECONDS):
        Journal(paths.journal).append(
            "give_up", run=run, indices=sorted(indices), reason=reason.strip()
        )


def repair_journal(config: Config, night: dt.date) -> list[int]:
    """Set the journal's malformed lines aside (``journal.malformed.jsonl``) under the locks
    of its writers: the night's lock, and the closer's while a closing job may be running
    (it records the close); returns the line numbers moved (none: nothing was written)."""
    paths = NightPaths(config, night)
    with night_lock(paths.lock, wait=LOCK_WAIT_SECONDS), contextlib.ExitStack() as stack:
        if paths.closer_dir.is_dir():
            stack.enter_context(night_lock(paths.closer_lock, wait=LOCK_WAIT_SECONDS))
        return Journal(paths.journal).repair()
