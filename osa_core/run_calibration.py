"""A run's own calibration, as decided by its phase-2 job and read by everything after.

Phase 2 of a run (one job, after every subrun's R0 → DL1a) makes the run's Cat-B
calibration, finds its tail cuts and additional NSB, and chooses its DL2 models. What it
decided is written once, atomically, as ``runcal/RunNNNNN.json`` in the running tree: the
phase-3 jobs (DL1a → DL1b), the close (merges, DL2, final tree) and the status read this
record instead of recomputing, so the whole night agrees on one decision per run, and the
reason of every fallback travels with it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from osa_core.fsio import write_json_atomic


@dataclass(frozen=True)
class CatB:
    """The run's Cat-B calibration file, or why there is none."""

    file: str | None
    reason: str = ""  # why not (when file is None)

    @property
    def ok(self) -> bool:
        return self.file is not None


@dataclass(frozen=True)
class Tailcuts:
    """The run's cleaning: found by the finder, or the standard one with the reason."""

    config: str | None  # the dl1ab config the run's DL1b is made with (None: lstchain's own)
    prod_id: str  # tailcutXY
    picture: int
    boundary: int
    nsb: float | None  # additional NSB over dark MC (p.e./ns); None when not measured
    fallback: str = ""  # why the standard cleaning is used ("" when the finder decided)

    def describe(self) -> str:
        if self.fallback:
            return f"{self.prod_id} (fallback: {self.fallback})"
        nsb = f", NSB {self.nsb:.2f}" if self.nsb is not None else ""
        return f"{self.prod_id}{nsb}"


@dataclass(frozen=True)
class Models:
    """The run's DL2 models, or why there are none."""

    path: str | None
    dl2_prod_id: str | None
    reason: str  # the choice explained, or what was searched

    @property
    def ok(self) -> bool:
        return self.path is not None


@dataclass(frozen=True)
class RunCalibration:
    run: int
    tailcuts: Tailcuts
    catb: CatB
    models: Models
    decided: str  # ISO time
    notes: tuple[str, ...] = field(default=())

    @property
    def dl1_prod_id(self) -> str:
        return self.tailcuts.prod_id

    @property
    def dl2_prod_id(self) -> str | None:
        return self.models.dl2_prod_id

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunCalibration:
        return cls(
            run=int(data["run"]),
            tailcuts=Tailcuts(**data["tailcuts"]),
            catb=CatB(**data["catb"]),
            models=Models(**data["models"]),
            decided=str(data["decided"]),
            notes=tuple(data.get("notes") or ()),
        )


def write_record(path: Path, record: RunCalibration) -> None:
    write_json_atomic(path, record.to_json())


def read_record(path: Path) -> RunCalibration | None:
    """The run's record, or None when phase 2 has not decided (or wrote no whole file)."""
    try:
        return RunCalibration.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):
        return None
