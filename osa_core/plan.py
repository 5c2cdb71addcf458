"""From a night to its sequences (SPEC §2): one calibration sequence, one per DATA run.

The calibration sequence takes the highest-numbered DRS4 and PEDCALIB runs of the night.
With none, it looks back night by night (``[night] calibration_lookback_nights``) for the
last night that had both, and says which one it used. Data sequences are children of the
calibration sequence; their array indices are the subruns found on disk.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from osa_core.config import Config
from osa_core.errors import InputError
from osa_core.night.model import Night, Run, load_night
from osa_core.night.runsummary import ANALYSED_TYPES, exclusion_reason
from osa_core.paths import NightPaths, sequence_name

CALIBRATION = "CALIBRATION"
DATA = "DATA"


@dataclass(frozen=True)
class Calibration:
    """Which DRS4 + PEDCALIB pair calibrates the night, and from which night it comes."""

    night: dt.date
    drs4_run: int
    pedcal_run: int
    lookback: int  # 0 = tonight
    products_exist: bool  # the calibration files are already there (no job needed)

    @property
    def description(self) -> str:
        where = (
            "tonight"
            if self.lookback == 0
            else f"from {self.night} ({self.lookback} night(s) back)"
        )
        return f"DRS4 {self.drs4_run} + PEDCALIB {self.pedcal_run} {where}"


@dataclass(frozen=True)
class Sequence:
    """One unit of work: the calibration job, or one data run as a job array."""

    seq_id: int
    kind: str
    run: int
    parent: int | None
    subruns: tuple[int, ...]
    declared_subruns: int
    night: dt.date
    source_name: str = ""
    source_ra: float | None = None
    source_dec: float | None = None
    drs4_run: int | None = None
    mismatch: bool = False
    needs_job: bool = True

    @property
    def label(self) -> str:
        return f"{self.kind.lower()} {self.run:05d}"

    @property
    def job_name(self) -> str:
        """SLURM job name: names the night and the run so a lost job id can be found."""
        return f"osa_{self.night:%Y%m%d}_{self.kind[:3].lower()}_{self.run:05d}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq_id": self.seq_id,
            "kind": self.kind,
            "run": self.run,
            "parent": self.parent,
            "subruns": list(self.subruns),
            "n_subruns": len(self.subruns),
            "declared_subruns": self.declared_subruns,
            "night": self.night.isoformat(),
            "source": self.source_name,
            "source_ra": self.source_ra,
            "source_dec": self.source_dec,
            "drs4_run": self.drs4_run,
            "mismatch": self.mismatch,
            "needs_job": self.needs_job,
            "job_name": self.job_name,
        }


@dataclass(frozen=True)
class Excluded:
    run: int
    run_type: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """The night's work; ``problems`` block submission until an operator acts."""

    night: dt.date
    calibration: Calibration | None
    sequences: tuple[Sequence, ...]
    excluded: tuple[Excluded, ...]
    warnings: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def data_sequences(self) -> tuple[Sequence, ...]:
        return tuple(s for s in self.sequences if s.kind == DATA)

    @property
    def calibration_sequence(self) -> Sequence | None:
        return next((s for s in self.sequences if s.kind == CALIBRATION), None)

    def sequence_for_run(self, run: int) -> Sequence:
        for sequence in self.sequences:
            if sequence.run == run:
                return sequence
        raise InputError(f"run {run} is not a sequence of the night {self.night}")

    @property
    def total_subruns(self) -> int:
        return sum(len(s.subruns) for s in self.data_sequences)

    def to_dict(self) -> dict[str, Any]:
        calibration = None
        if self.calibration:
            calibration = {
                "night": self.calibration.night.isoformat(),
                "drs4_run": self.calibration.drs4_run,
                "pedcal_run": self.calibration.pedcal_run,
                "lookback": self.calibration.lookback,
                "products_exist": self.calibration.products_exist,
                "description": self.calibration.description,
            }
        return {
            "night": self.night.isoformat(),
            "calibration": calibration,
            "sequences": [s.to_dict() for s in self.sequences],
            "excluded": [vars(e) for e in self.excluded],
            "total_subruns": self.total_subruns,
            "warnings": list(self.warnings),
            "problems": list(self.problems),
        }


def _calibration_pair(night: Night) -> tuple[Run, Run] | None:
    drs4 = [r for r in night.runs if r.run_type == "DRS4"]
    pedcal = [r for r in night.runs if r.run_type == "PEDCALIB"]
    if not drs4 or not pedcal:
        return None
    return max(drs4, key=lambda r: r.run), max(pedcal, key=lambda r: r.run)


def find_calibration(
    config: Config, night: Night, *, use_cache: bool = True, write_cache: bool = True
) -> tuple[Calibration | None, list[str], Run | None]:
    """Tonight's pair, else the last good pair within the look-back window."""
    notes: list[str] = []
    for back in range(0, config.night.calibration_lookback_nights + 1):
        if back == 0:
            candidate = night
        else:
            earlier = night.date - dt.timedelta(days=back)
            paths = NightPaths(config, earlier)
            if not paths.run_summary.exists():
                continue
            try:
                candidate = load_night(paths, use_cache=use_cache, write_cache=write_cache)
            except InputError as err:
                notes.append(f"look-back {earlier}: {err}")
                continue
        pair = _calibration_pair(candidate)
        if pair is None:
            continue
        drs4, pedcal = pair
        cal_paths = NightPaths(config, candidate.date)
        exist = (
            cal_paths.drs4_file(drs4.run).exists()
            and cal_paths.calibration_file(pedcal.run).exists()
        )
        calibration = Calibration(
            night=candidate.date,
            drs4_run=drs4.run,
            pedcal_run=pedcal.run,
            lookback=back,
            products_exist=exist,
        )
        if back:
            notes.append(f"no calibration runs tonight; using {calibration.description}")
        return calibration, notes, pedcal
    return None, notes, None


def plan_night(
    config: Config, night: Night, *, use_cache: bool = True, write_cache: bool = True
) -> Plan:
    """Build the night's sequences from an already-read ``Night``."""
    calibration, notes, pedcal_run = find_calibration(
        config, night, use_cache=use_cache, write_cache=write_cache
    )
    warnings = list(night.warnings) + notes
    problems: list[str] = []
    sequences: list[Sequence] = []
    excluded: list[Excluded] = []
    parent = None
    if calibration is None:
        problems.append(
            f"no DRS4+PEDCALIB pair tonight nor in the "
            f"{config.night.calibration_lookback_nights} previous night(s); "
            "data sequences cannot be calibrated"
        )
    else:
        parent = 0
        sequences.append(
            Sequence(
                seq_id=0,
                kind=CALIBRATION,
                run=calibration.pedcal_run,
                parent=None,
                subruns=(0,),
                declared_subruns=pedcal_run.declared_subruns if pedcal_run else 1,
                night=calibration.night,
                drs4_run=calibration.drs4_run,
                needs_job=not calibration.products_exist,
            )
        )
    for run in night.runs:
        if run.run_type not in ANALYSED_TYPES:
            if (
                calibration is None
                or run.run not in (calibration.drs4_run, calibration.pedcal_run)
                or calibration.night != night.date
            ):
                excluded.append(Excluded(run.run, run.run_type, exclusion_reason(run.run_type)))
            continue
        if not run.disk_subruns:
            excluded.append(Excluded(run.run, run.run_type, "no R0 files on disk"))
            continue
        source = run.source
        sequences.append(
            Sequence(
                seq_id=len(sequences),
                kind=DATA,
                run=run.run,
                parent=parent,
                subruns=run.disk_subruns,
                declared_subruns=run.declared_subruns,
                night=night.date,
                source_name=source.name if source else "",
                source_ra=source.ra if source else None,
                source_dec=source.dec if source else None,
                mismatch=run.subrun_mismatch,
                drs4_run=calibration.drs4_run if calibration else None,
            )
        )
    return Plan(
        night=night.date,
        calibration=calibration,
        sequences=tuple(sequences),
        excluded=tuple(excluded),
        warnings=tuple(warnings),
        problems=tuple(problems),
    )


def build_plan(
    config: Config, night_date: dt.date, *, use_cache: bool = True, write_cache: bool = True
) -> Plan:
    """Read (or reuse) the night and plan it: the one call every face makes."""
    paths = NightPaths(config, night_date)
    night = load_night(paths, use_cache=use_cache, write_cache=write_cache)
    return plan_night(config, night, use_cache=use_cache, write_cache=write_cache)


__all__ = [
    "CALIBRATION",
    "DATA",
    "Calibration",
    "Excluded",
    "Plan",
    "Sequence",
    "build_plan",
    "plan_night",
    "sequence_name",
]
