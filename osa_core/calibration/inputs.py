"""The calibration of a night, found rather than typed: each input with where it came from.

For a night the plan needs: the DRS4 run and the PEDCALIB run (found separately, each with
the bounded look-back: they may come from different nights), the Cat-A version folder,
the time-calibration file of the PEDCALIB run, the F-factor systematics file of the date
and the filter wheels of the calibration run. A path pinned in the configuration wins and
says so; otherwise ``osa_core.calibration.finders`` choose, with the rules written there
(lstchain issue #1428: never a later file, never another version unless allowed). Every
choice carries a one-line reason that ``osa sequencer --simulate`` prints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from osa_core.calibration.finders import (
    PRO,
    CalibFile,
    CalibVersion,
    FoundRun,
    MissingRun,
    NotFound,
    VersionPolicy,
    calibration_filters,
    calibration_version,
    find_calibration_runs,
    find_systematics_file,
    find_time_calibration,
)
from osa_core.config import Config
from osa_core.paths import NightPaths

RunsOf = Callable[[dt.date], Sequence[tuple[int, str]] | None]


@dataclass(frozen=True)
class Choice:
    """One calibration input: what was chosen and why."""

    what: str
    value: str
    reason: str

    def line(self) -> str:
        return f"{self.what}: {self.value} ({self.reason})"


@dataclass(frozen=True)
class Calibration:
    """How the night is calibrated (Cat-A), and from which nights and files."""

    night: dt.date  # the PEDCALIB run's night (where the charge calibration lives)
    drs4_run: int
    pedcal_run: int
    lookback: int  # how many nights back the older of the two runs is (0 = tonight)
    products_exist: bool  # the Cat-A products are already there (no job needed)
    drs4_night: dt.date | None = None  # None: the same night as the PEDCALIB run
    filters: int = 52
    time_calibration: Path | None = None
    systematics: Path | None = None
    choices: tuple[Choice, ...] = ()

    @property
    def drs4_from(self) -> dt.date:
        return self.drs4_night or self.night

    @property
    def description(self) -> str:
        def where(night: dt.date, back: int) -> str:
            return "tonight" if back == 0 else f"from {night} ({back} night(s) back)"

        if self.drs4_from == self.night:
            here = where(self.night, self.lookback)
            return f"DRS4 {self.drs4_run} + PEDCALIB {self.pedcal_run} {here}"
        return (
            f"DRS4 {self.drs4_run} (of {self.drs4_from}) + PEDCALIB {self.pedcal_run} "
            f"(of {self.night})"
        )


@dataclass(frozen=True)
class Found:
    """The night's calibration, or why there is none; notes for the plan's warnings."""

    calibration: Calibration | None
    problem: str
    notes: tuple[str, ...]


def find_calibration(config: Config, night: dt.date, runs_of: RunsOf) -> Found:
    """Find every calibration input of ``night`` (see the module doc)."""
    look_back = config.night.calibration_lookback_nights
    runs = find_calibration_runs(night, runs_of, look_back)
    drs4, pedcal = runs.drs4, runs.pedcalib
    if isinstance(drs4, MissingRun) or isinstance(pedcal, MissingRun):
        missing = [r.message for r in (drs4, pedcal) if isinstance(r, MissingRun)]
        return Found(None, "; ".join(missing) + ": data sequences cannot be calibrated", ())
    notes: list[str] = []
    choices = [
        Choice("DRS4 run", str(drs4.run_id), drs4.reason),
        Choice("PEDCALIB run", str(pedcal.run_id), pedcal.reason),
    ]
    cat_a = config.paths.pixel_calibration
    wanted_version = str(config.production.calibration_version)
    version = calibration_version(cat_a, pedcal.night, wanted_version)
    if isinstance(version, CalibVersion):
        version_name = version.version
        choices.append(Choice("Cat-A version", version_name, version.reason))
    else:
        version_name = wanted_version
        choices.append(
            Choice("Cat-A version", version_name, f"{version.message}; searching '{PRO}' links")
        )
    time_file = _time_calibration(config, cat_a, pedcal.run_id, version_name, choices)
    systematics = _systematics(config, cat_a, pedcal.night, version_name, choices)
    filters = _filters(config, cat_a, pedcal, version_name, night, choices)
    calibration = Calibration(
        night=pedcal.night,
        drs4_night=drs4.night if drs4.night != pedcal.night else None,
        drs4_run=drs4.run_id,
        pedcal_run=pedcal.run_id,
        lookback=max(drs4.nights_back, pedcal.nights_back),
        products_exist=False,
        filters=filters,
        time_calibration=time_file,
        systematics=systematics,
        choices=tuple(choices),
    )
    drs4_paths = NightPaths(config, calibration.drs4_from)
    pedcal_paths = NightPaths(config, calibration.night)
    exists = (
        drs4_paths.drs4_file(calibration.drs4_run).exists()
        and pedcal_paths.calibration_file(calibration.pedcal_run, filters).exists()
    )
    if calibration.lookback:
        notes.append(f"no calibration runs tonight; using {calibration.description}")
    return Found(replace(calibration, products_exist=exists), "", tuple(notes))


def _time_calibration(
    config: Config, cat_a: Path, pedcal_run: int, version: str, choices: list[Choice]
) -> Path | None:
    return _pinned_or_found(
        "time calibration",
        config.analysis.time_calibration_file,
        lambda: find_time_calibration(cat_a, pedcal_run, version, allow=_allow(config)),
        choices,
    )


def _systematics(
    config: Config, cat_a: Path, night: dt.date, version: str, choices: list[Choice]
) -> Path | None:
    return _pinned_or_found(
        "systematics",
        config.analysis.systematics_file,
        lambda: find_systematics_file(cat_a, night, version, allow=_allow(config)),
        choices,
    )


def _pinned_or_found(
    what: str,
    pinned: Path | None,
    find: Callable[[], CalibFile | NotFound],
    choices: list[Choice],
) -> Path | None:
    """A file pinned in ``[analysis]`` wins (and says so); otherwise the finder chooses."""
    if pinned is not None:
        choices.append(Choice(what, str(pinned), "pinned in the configuration"))
        return pinned
    return _chosen(what, find(), choices)


def _chosen(what: str, found: CalibFile | NotFound, choices: list[Choice]) -> Path | None:
    if isinstance(found, NotFound):
        choices.append(Choice(what, "none", found.message))
        return None
    choices.append(Choice(what, str(found.path), found.reason))
    return found.path


def _filters(
    config: Config,
    cat_a: Path,
    pedcal: FoundRun,
    version: str,
    night: dt.date,
    choices: list[Choice],
) -> int:
    override = config.calibration.filters_by_night.get(night.isoformat())
    found = calibration_filters(
        cat_a,
        pedcal.run_id,
        pedcal.night,
        version,
        override=override,
        default=config.night.filter_wheels,
    )
    if isinstance(found, NotFound):
        # disagreeing products: refuse to guess, use the configured default and say so
        choices.append(
            Choice("filters", str(config.night.filter_wheels), f"{found.message}; default used")
        )
        return config.night.filter_wheels
    reason = found.reason
    if found.source == "default":
        reason = f"{reason} ([night] filter_wheels)"
    choices.append(Choice("filters", found.filters, reason))
    return int(found.filters)


def _allow(config: Config) -> VersionPolicy:
    return config.calibration.versions
