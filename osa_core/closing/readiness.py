"""Can the night be closed? A structured answer that says exactly what is missing.

Closable when the scheduler answers, the calibration is done, and every data subrun is
COMPLETED or explicitly given up by an operator (journal, with a reason). lstosa's closer
scraped its own printed table for this and blocked forever on any old failed job; here an
operator decision (give up) unblocks it, and an override closes what is there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from osa_core.executors.base import COMPLETED
from osa_core.jobs import compact_ranges
from osa_core.plan import CALIBRATION
from osa_core.status import GIVEN_UP, NightStatus


@dataclass
class Readiness:
    ready: bool
    missing: list[str] = field(default_factory=list)
    given_up: list[str] = field(default_factory=list)
    closed: bool = False

    def summary(self) -> str:
        if self.closed:
            return "night already closed"
        if self.ready:
            extra = f" ({len(self.given_up)} run(s) with given-up subruns)" if self.given_up else ""
            return "ready to close" + extra
        return (
            "not ready: "
            + "; ".join(self.missing[:4])
            + (f"; and {len(self.missing) - 4} more" if len(self.missing) > 4 else "")
        )

    def to_dict(self) -> dict:
        return {
            "ready": self.ready,
            "closed": self.closed,
            "missing": self.missing,
            "given_up": self.given_up,
        }


def readiness(status: NightStatus) -> Readiness:
    missing: list[str] = []
    given_up: list[str] = []
    if not status.scheduler_ok:
        missing.append(f"scheduler unreachable ({status.scheduler_message})")
    if status.plan.problems:
        missing.extend(status.plan.problems)
    for seq in status.sequences:
        label = (
            f"{'calibration' if seq.sequence.kind == CALIBRATION else 'run'} {seq.sequence.run:05d}"
        )
        by_state: dict[str, list[int]] = {}
        for sub in seq.subruns:
            by_state.setdefault(sub.state, []).append(sub.subrun)
        for state, subruns in sorted(by_state.items()):
            if state == COMPLETED:
                continue
            if state == GIVEN_UP:
                given_up.append(f"{label}: subruns {compact_ranges(subruns)} given up")
                continue
            what = "subrun" if len(subruns) == 1 else "subruns"
            missing.append(f"{label}: {what} {compact_ranges(subruns)} {state.lower()}")
    return Readiness(ready=not missing, missing=missing, given_up=given_up, closed=status.closed)


def disk_readiness(config, plan) -> Readiness:
    """Readiness from the files alone (histories, journal, calibration products): what a
    close job checks when it starts, without asking the scheduler anything."""
    from osa_core.closing.layout import completed_subruns
    from osa_core.journal import Journal
    from osa_core.paths import NightPaths

    paths = NightPaths(config, plan.night)
    view = Journal(paths.journal).read()
    missing: list[str] = list(plan.problems)
    given_up: list[str] = []
    calibration = plan.calibration
    if calibration is not None:
        cal = NightPaths(config, calibration.night)
        if not (
            cal.drs4_file(calibration.drs4_run).exists()
            and cal.calibration_file(calibration.pedcal_run).exists()
        ):
            missing.append("calibration products are not there yet")
    for sequence in plan.data_sequences:
        done = set(completed_subruns(paths, sequence.run, sequence.subruns))
        gave = [s for s in sequence.subruns if (sequence.run, s) in view.given_up]
        left = [s for s in sequence.subruns if s not in done and s not in gave]
        if gave:
            given_up.append(f"run {sequence.run:05d}: subruns {compact_ranges(gave)} given up")
        if left:
            missing.append(f"run {sequence.run:05d}: subruns {compact_ranges(left)} not done")
    return Readiness(
        ready=not missing, missing=missing, given_up=given_up, closed=paths.night_finished.exists()
    )
