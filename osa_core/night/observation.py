"""Is the night's observation over? The condition that lets a night close.

A night is not complete when it is first planned: on site the R0 files land while the
telescope observes, are gain-selected after data taking, and the RunSummary may be written
or extended late. A close that fires as soon as the subruns *known so far* are done marks
finished a night that is still growing, and whatever lands after it is never processed.
The site chooses which signal ends the observation (``[night] end_of_observation``, any
one suffices): the morning after the night at ``morning_utc``, the gain-selection flag
(``GainSelFinished``), or the DAQ's ``RunSummary_YYYYMMDD.complete``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from osa_core.config import Config
from osa_core.paths import NightPaths


@dataclass(frozen=True)
class ObservationEnd:
    """Whether the observation is over, which signal said so, and what is awaited if not."""

    over: bool
    by: str = ""  # the signal that ended it ("morning 2020-02-19 08:00 UTC passed", ...)
    waiting_for: tuple[str, ...] = ()  # each configured signal not seen yet

    def summary(self) -> str:
        if self.over:
            return f"observation over ({self.by})"
        return "waiting for the end of observation: " + "; ".join(self.waiting_for)

    def to_dict(self) -> dict[str, object]:
        return {"over": self.over, "by": self.by, "waiting_for": list(self.waiting_for)}


def morning_after(config: Config, night: dt.date) -> dt.datetime:
    """The UTC time on the day after the night from which its observation is over."""
    hour, minute = (int(part) for part in config.night.morning_utc.split(":"))
    day = night + dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.timezone.utc)


def observation_end(
    config: Config,
    night: dt.date,
    now: dt.datetime,
    signals: tuple[str, ...] | None = None,
) -> ObservationEnd:
    """Check each end signal (files and clock; the configured ones unless ``signals``
    narrows them); the first seen ends the night."""
    paths = NightPaths(config, night)
    waiting: list[str] = []
    for signal in config.night.end_of_observation if signals is None else signals:
        if signal == "morning":
            morning = morning_after(config, night)
            if now >= morning:
                return ObservationEnd(True, f"morning {morning:%Y-%m-%d %H:%M} UTC passed")
            waiting.append(f"morning {morning:%Y-%m-%d %H:%M} UTC not reached")
        elif signal == "gain_selection":
            flag = paths.gain_selection_finished
            if flag.exists():
                return ObservationEnd(True, f"{flag.name} written")
            waiting.append(f"{flag.name} absent")
        elif signal == "runsummary_complete":
            flag = paths.run_summary_complete
            if flag.exists():
                return ObservationEnd(True, f"{flag.name} written")
            waiting.append(f"{flag.name} absent")
    return ObservationEnd(False, waiting_for=tuple(waiting))
