"""Chaining a run's three phases (per-run workflow), as a pure rule over a snapshot.

A run of today's night is three kinds of job: DL1A (an array, one task per subrun), the
run's calibration RUN_CALIBRATION (one job: Cat-B, tail cuts, models), DL1B (an array).
Every job is submitted with its scheduler dependency, so each phase starts the moment the
previous one ends, with no cron pass in between:

- the run calibration waits ``afterok`` on the DL1A jobs of the subruns not done yet
  (all of them at first; exactly the retried ones after a failure). A subrun whose DL1A
  failed and that nobody resubmitted or gave up holds it: the finder samples the whole
  run, and a run calibrated without a subrun by accident is a run calibrated wrong;
- the DL1B array waits ``afterok`` on the run calibration (and on the DL1A job of a
  subrun that arrived late, after the run calibration was made).

The principle that keeps this short: work never attempted, or cancelled before it started
because what it waited on failed ("cancelled by dependency"), is (re)chained here, after
whatever is live; work that ran and failed on its own is for the retry policy
(``decide_resubmission``), never resubmitted silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from osa_core.intents import Decision, Dependency, PlannedJob, Ref
from osa_core.snapshot import NightSnapshot
from osa_core.status import SequenceStatus, cancelled_by_dependency, latest_submission
from osa_core.vocabulary import ACTIVE_STATES, FINISHED_STATES, JobKind, State


@dataclass
class _Live:
    """Jobs of a run that are queued or running, or decided in this decision (by Ref)."""

    dl1a: dict[int, list[Dependency]]  # subrun -> jobs covering it
    runcal: Dependency | None


def chain_phases(snapshot: NightSnapshot, decision: Decision) -> None:
    """Add the run calibrations and DL1B arrays the runs' state and this decision call for
    (see the module doc). Changes ``decision`` in place."""
    if not snapshot.plan.per_run:
        return
    for seq in snapshot.status.data:
        _chain_run(snapshot, seq, decision)


def _chain_run(snapshot: NightSnapshot, seq: SequenceStatus, decision: Decision) -> None:
    run = seq.sequence.run
    runcal = seq.run_calibration
    if runcal is None:
        return
    live = _live(seq, decision)
    given_up = {s.subrun for s in seq.subruns if s.state == State.GIVEN_UP}
    dl1a_done = {s.subrun for s in seq.subruns if "r0_to_dl1" in s.steps_done}
    pending = [
        s.subrun for s in seq.subruns if s.subrun not in given_up and s.subrun not in dl1a_done
    ]
    uncovered = [i for i in pending if not live.dl1a.get(i)]
    runcal_done = runcal.state == State.COMPLETED
    if not runcal_done and live.runcal is None and _chainable_runcal(snapshot, run):
        if uncovered or not (dl1a_done - given_up or pending):
            pass  # held by failed DL1a (the status says which), or nothing to calibrate yet
        else:
            deps = _unique(d for i in pending for d in live.dl1a.get(i, []))
            decision.intents.append(
                PlannedJob(
                    run=run,
                    kind=JobKind.RUN_CALIBRATION,
                    indices=None,
                    resources=snapshot.config.slurm.run_calibration,
                    dependencies=deps,
                    attempt=runcal.attempts + 1,
                    purpose="submit",
                    reason="" if not runcal.attempts else "after the resubmitted DL1a",
                )
            )
            live.runcal = Ref(len(decision.jobs) - 1)
    if not runcal_done and live.runcal is None:
        return
    need = []
    for sub in seq.subruns:
        index = sub.subrun
        if index in given_up or sub.state in FINISHED_STATES:
            continue
        if index not in dl1a_done and not live.dl1a.get(index):
            continue  # its DL1a is not on its way: nothing to chain after
        if _dl1b_live_or_failed(snapshot, decision, run, index):
            continue
        need.append(index)
    if not need:
        return
    after: list[Dependency] = []
    if not runcal_done and live.runcal is not None:
        after.append(live.runcal)
    if runcal_done:  # late subruns: after their own DL1a
        after += [d for i in need for d in live.dl1a.get(i, [])]
    decision.intents.append(
        PlannedJob(
            run=run,
            kind=JobKind.DL1B,
            indices=tuple(sorted(need)),
            resources=snapshot.config.slurm.data,
            dependencies=_unique(after),
            attempt=1,
            purpose="submit",
        )
    )


def _live(seq: SequenceStatus, decision: Decision) -> _Live:
    dl1a: dict[int, list[Dependency]] = {}
    for sub in seq.subruns:
        if sub.phase == JobKind.DL1A and sub.state in ACTIVE_STATES and sub.job_id:
            dl1a.setdefault(sub.subrun, []).append(sub.job_id)
    runcal: Dependency | None = None
    status = seq.run_calibration
    if status is not None and status.state in ACTIVE_STATES and status.job_id:
        runcal = status.job_id
    for position, job in enumerate(decision.jobs):
        if job.run != seq.sequence.run:
            continue
        if job.kind == JobKind.DL1A:
            for index in job.indices or ():
                dl1a.setdefault(index, []).append(Ref(position))
        elif job.kind == JobKind.RUN_CALIBRATION:
            runcal = Ref(position)
    return _Live(dl1a, runcal)


def _chainable_runcal(snapshot: NightSnapshot, run: int) -> bool:
    """Never attempted, or cancelled before it ran: chain it. Failed on its own: no (that
    is for a resubmission, by the retry policy or an operator)."""
    subs = [s for s in snapshot.journal.for_run(run) if s.kind == JobKind.RUN_CALIBRATION]
    if not subs:
        return True
    task = snapshot.tasks.get((subs[-1].job_id, None))
    return task is not None and cancelled_by_dependency(task, subs[-1], snapshot.tasks)


def _dl1b_live_or_failed(snapshot: NightSnapshot, decision: Decision, run: int, index: int) -> bool:
    """A DL1B job covers this subrun that is queued, running, done, or failed on its own."""
    for job in decision.jobs:
        if job.run == run and job.kind == JobKind.DL1B and index in (job.indices or ()):
            return True
    subs = [s for s in snapshot.journal.for_run(run) if s.kind == JobKind.DL1B]
    latest = latest_submission(subs, index)
    if latest is None:
        return False
    task = snapshot.tasks.get((latest.job_id, index))
    if task is None:
        return True  # not visible yet, or lost: the status and retry policy decide
    return not cancelled_by_dependency(task, latest, snapshot.tasks)


def _unique(deps: Iterable[Dependency]) -> tuple[Dependency, ...]:
    seen: list[Dependency] = []
    for dep in deps:
        if dep not in seen:
            seen.append(dep)
    return tuple(seen)
