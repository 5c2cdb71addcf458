"""From a night to its sequences (SPEC §2): one calibration sequence, one per DATA run.

The calibration sequence takes the highest-numbered DRS4 and PEDCALIB runs of the night.
With none, it looks back night by night (``[night] calibration_lookback_nights``) for the
last night that had both, and says which one it used. Data sequences are children of the
calibration sequence; their array indices are the subruns found on disk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osa_core.calibration.inputs import Calibration, find_calibration
from osa_core.config import Config
from osa_core.errors import InputError
from osa_core.night.model import Night, load_night
from osa_core.night.runsummary import ANALYSED_TYPES, exclusion_reason
from osa_core.paths import NightPaths, sequence_name
from osa_core.vocabulary import JobKind

CALIBRATION = JobKind.CALIBRATION  # the calibration sequence of a night
DATA = JobKind.DATA  # a data run's sequence (its jobs are DATA, or DL1A/RUN_CALIBRATION/DL1B)


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
    #: declared by the RunSummary, not on disk (yet): they hold the run's calibration and
    #: the close until they land or an operator gives them up (never silently forgotten)
    awaited: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.kind.lower()} {self.run:05d}"

    @property
    def job_name(self) -> str:
        """SLURM job name of the sequence's own kind (see ``job_name_of``)."""
        return self.job_name_of(JobKind(self.kind))

    def job_name_of(self, kind: JobKind) -> str:
        """SLURM job name: names the night, the job kind and the run, so a job whose id was
        lost is found again by name."""
        return f"osa_{self.night:%Y%m%d}_{kind.tag}_{self.run:05d}"

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
            "awaited": list(self.awaited),
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
    workflow: str = "fixed"  # "per_run": Cat-B and tail cuts per run (three phases)
    input_state: str = "gain_selected"  # legacy_raw: gain selection first; catA_calibrated

    @property
    def per_run(self) -> bool:
        return self.workflow == "per_run"

    @property
    def gain_selection(self) -> bool:
        """Raw data with both gains: every subrun is gain-selected (R0 → R0G) first."""
        return self.input_state == "legacy_raw"

    @property
    def needs_cat_a(self) -> bool:
        """A DAQ that calibrates itself (``catA_calibrated``) needs no Cat-A calibration."""
        return self.input_state != "catA_calibrated"

    @property
    def data_sequences(self) -> tuple[Sequence, ...]:
        """The data runs with files on disk: what jobs, merges and the close work on."""
        return tuple(s for s in self.sequences if s.kind == DATA and s.subruns)

    @property
    def awaited_runs(self) -> tuple[Sequence, ...]:
        """Data runs the RunSummary declares and whose files are not on disk yet."""
        return tuple(s for s in self.sequences if s.kind == DATA and not s.subruns)

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
                "drs4_night": self.calibration.drs4_from.isoformat(),
                "lookback": self.calibration.lookback,
                "products_exist": self.calibration.products_exist,
                "description": self.calibration.description,
                "filters": self.calibration.filters,
                "time_calibration": _text(self.calibration.time_calibration),
                "systematics": _text(self.calibration.systematics),
                "choices": [vars(c) for c in self.calibration.choices],
            }
        return {
            "night": self.night.isoformat(),
            "workflow": self.workflow,
            "input_state": self.input_state,
            "calibration": calibration,
            "sequences": [s.to_dict() for s in self.sequences],
            "excluded": [vars(e) for e in self.excluded],
            "total_subruns": self.total_subruns,
            "warnings": list(self.warnings),
            "problems": list(self.problems),
        }


def _text(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def runs_reader(
    config: Config, night: Night, *, use_cache: bool = True, write_cache: bool = True
) -> Callable[[dt.date], list[tuple[int, str]] | None]:
    """The runs of a night (tonight's already read; earlier nights from their RunSummary,
    through the night cache); None for a night without a readable RunSummary."""
    problems: dict[dt.date, str] = {}

    def runs_of(date: dt.date) -> list[tuple[int, str]] | None:
        if date == night.date:
            return [(r.run, r.run_type) for r in night.runs]
        paths = NightPaths(config, date)
        if not paths.run_summary.exists():
            return None
        try:
            earlier = load_night(paths, use_cache=use_cache, write_cache=write_cache)
        except InputError as err:
            problems[date] = str(err)
            return None
        return [(r.run, r.run_type) for r in earlier.runs]

    return runs_of


def plan_night(
    config: Config, night: Night, *, use_cache: bool = True, write_cache: bool = True
) -> Plan:
    """Build the night's sequences from an already-read ``Night``."""
    calibration = None
    warnings = list(night.warnings)
    problems: list[str] = []
    if config.night.input_state != "catA_calibrated":
        reader = runs_reader(config, night, use_cache=use_cache, write_cache=write_cache)
        found = find_calibration(config, night.date, reader)
        calibration = found.calibration
        warnings += found.notes
        if calibration is None:
            problems.append(found.problem)
    sequences: list[Sequence] = []
    excluded: list[Excluded] = []
    parent = None
    if calibration is not None:
        parent = 0
        sequences.append(
            Sequence(
                seq_id=0,
                kind=CALIBRATION,
                run=calibration.pedcal_run,
                parent=None,
                subruns=(0,),
                declared_subruns=1,
                night=calibration.night,
                drs4_run=calibration.drs4_run,
                needs_job=not calibration.products_exist,
            )
        )
    for run in night.runs:
        if run.run_type not in ANALYSED_TYPES:
            used = calibration is not None and (
                (run.run == calibration.drs4_run and calibration.drs4_from == night.date)
                or (run.run == calibration.pedcal_run and calibration.night == night.date)
            )
            if not used:
                excluded.append(Excluded(run.run, run.run_type, exclusion_reason(run.run_type)))
            continue
        # declared and not on disk, or (live) on disk and still being written
        on_disk = set(run.disk_subruns)  # a set: 10,000 subruns × a tuple scan was quadratic
        declared = (i for i in range(run.declared_subruns) if i not in on_disk)
        awaited = tuple(sorted({*declared, *run.writing}))
        if not run.disk_subruns and not awaited:
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
                awaited=awaited,
            )
        )
    return Plan(
        night=night.date,
        calibration=calibration,
        sequences=tuple(sequences),
        excluded=tuple(excluded),
        warnings=tuple(warnings),
        problems=tuple(problems),
        workflow=config.night.workflow,
        input_state=config.night.input_state,
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
