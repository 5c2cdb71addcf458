"""Can the night be closed? A structured answer that says exactly what is missing.

Closable when the observation is over (``[night] end_of_observation``), the scheduler
answers, the calibration is done, and every data subrun (those the RunSummary declares and
the disk still lacks included: AWAITED) is COMPLETED or explicitly given up by an operator
(journal, with a reason). lstosa's closer
scraped its own printed table for this and blocked forever on any old failed job; here an
operator decision (give up) unblocks it, and an override closes what is there.
"""

from __future__ import annotations

from osa_core.jobs import compact_ranges
from osa_core.status import NightStatus, Readiness
from osa_core.vocabulary import JobKind, State


def readiness(status: NightStatus) -> Readiness:
    missing: list[str] = []
    given_up: list[str] = []
    if not status.scheduler_ok:
        missing.append(f"scheduler unreachable ({status.scheduler_message})")
    if status.plan.problems:
        missing.extend(status.plan.problems)
    if status.observation is not None and not status.observation.over:
        missing.insert(0, status.observation.summary())
    for seq in status.sequences:
        kind = "calibration" if seq.sequence.kind == JobKind.CALIBRATION else "run"
        label = f"{kind} {seq.sequence.run:05d}"
        by_state: dict[str, list[int]] = {}
        for sub in seq.subruns:
            by_state.setdefault(sub.state, []).append(sub.subrun)
        for state, subruns in sorted(by_state.items()):
            if state == State.COMPLETED:
                continue
            if state == State.GIVEN_UP:
                given_up.append(f"{label}: subruns {compact_ranges(subruns)} given up")
                continue
            what = "subrun" if len(subruns) == 1 else "subruns"
            missing.append(f"{label}: {what} {compact_ranges(subruns)} {state.lower()}")
    return Readiness(ready=not missing, missing=missing, given_up=given_up, closed=status.closed)
