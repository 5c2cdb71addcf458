"""The night as the engine sees it: runs with their declared and on-disk subruns.

Reading a night costs an astropy import (~0.4 s) and an R0 ``scandir``; a cron tick every
20 minutes on an unchanged night should cost neither. ``load_night`` therefore keeps a
small JSON snapshot keyed by the inputs' fingerprints (size, mtime, inode of the RunSummary
and RunCatalog; mtime of the R0 folder, which changes whenever a file is added or removed)
and re-reads only when one of them changed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from osa_core.errors import InputError
from osa_core.fsio import write_json_atomic
from osa_core.night.r0scan import RunFiles, scan_r0
from osa_core.night.runsummary import Source, read_run_catalog, read_run_summary
from osa_core.paths import NightPaths

CACHE_VERSION = 1


@dataclass(frozen=True)
class Run:
    """A run of the night, joining RunSummary, RunCatalog and disk."""

    run: int
    run_type: str
    declared_subruns: int
    disk_subruns: tuple[int, ...]
    incomplete_subruns: tuple[int, ...] = ()
    source: Source | None = None
    run_start_ns: int | None = None
    line: int = 0

    @property
    def subrun_mismatch(self) -> bool:
        """True when the disk disagrees with the declaration (count or numbering)."""
        return self.disk_subruns != tuple(range(self.declared_subruns))

    @property
    def start(self) -> dt.datetime | None:
        if self.run_start_ns is None:
            return None
        try:
            return dt.datetime.fromtimestamp(self.run_start_ns / 1e9, tz=dt.timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None


@dataclass(frozen=True)
class Night:
    date: dt.date
    runs: tuple[Run, ...]
    warnings: tuple[str, ...] = field(default=())

    def run(self, number: int) -> Run:
        for run in self.runs:
            if run.run == number:
                return run
        raise KeyError(number)

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "runs": [asdict(r) for r in self.runs],
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Night:
        runs = []
        for item in data["runs"]:
            source = Source(**item["source"]) if item.get("source") else None
            runs.append(
                Run(
                    **{
                        **item,
                        "source": source,
                        "disk_subruns": tuple(item["disk_subruns"]),
                        "incomplete_subruns": tuple(item["incomplete_subruns"]),
                    }
                )
            )
        return cls(
            date=dt.date.fromisoformat(data["date"]),
            runs=tuple(runs),
            warnings=tuple(data["warnings"]),
        )


def _fingerprint(path: Path) -> list[int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def night_fingerprint(paths: NightPaths) -> dict[str, Any]:
    """Everything whose change must trigger a re-read."""
    config = paths.config
    return {
        "version": CACHE_VERSION,
        "run_summary": _fingerprint(paths.run_summary),
        "run_catalog": _fingerprint(paths.run_catalog),
        "r0_dir": _fingerprint(paths.r0_dir),
        "streams": config.night.streams,
        "max_subruns": config.night.max_subruns,
    }


def read_night(paths: NightPaths) -> Night:
    """Read the night's inputs from scratch (no cache)."""
    config = paths.config
    summary = read_run_summary(paths.run_summary, config.night.max_subruns)
    try:
        catalog, catalog_warnings = read_run_catalog(paths.run_catalog)
    except InputError as err:
        # A broken catalog only costs source names; the night can still be processed.
        catalog, catalog_warnings = {}, [f"{err} (sources unknown)"]
    disk = scan_r0(paths.r0_dir, config.night.streams)
    warnings = list(summary.warnings) + catalog_warnings
    if not paths.r0_dir.is_dir():
        warnings.append(f"{paths.r0_dir}: no R0 folder for this night")
    runs = []
    for record in summary.runs:
        files = disk.get(record.run, RunFiles(subruns=(), incomplete=()))
        run = Run(
            run=record.run,
            run_type=record.run_type,
            declared_subruns=record.declared_subruns,
            disk_subruns=files.subruns,
            incomplete_subruns=files.incomplete,
            source=catalog.get(record.run),
            run_start_ns=record.run_start_ns,
            line=record.line,
        )
        runs.append(run)
        if run.run_type == "DATA" and run.subrun_mismatch:
            warnings.append(
                f"run {run.run}: RunSummary declares {run.declared_subruns} subruns, "
                f"{len(run.disk_subruns)} on disk; the disk wins"
            )
        if run.incomplete_subruns:
            warnings.append(
                f"run {run.run}: {len(run.incomplete_subruns)} subrun(s) lack some "
                f"of the {config.night.streams} streams"
            )
    undeclared = sorted(set(disk) - {r.run for r in summary.runs})
    if undeclared:
        shown = ", ".join(map(str, undeclared[:10]))
        warnings.append(f"R0 on disk for runs not in the RunSummary: {shown}")
    return Night(date=paths.night, runs=tuple(runs), warnings=tuple(warnings))


def load_night(paths: NightPaths, *, use_cache: bool = True, write_cache: bool = True) -> Night:
    """The night, from the snapshot when nothing changed, else re-read (and snapshot)."""
    fingerprint = night_fingerprint(paths)
    if use_cache:
        try:
            cached = json.loads(paths.plan_cache.read_text(encoding="utf-8"))
            if cached.get("fingerprint") == fingerprint:
                return Night.from_dict(cached["night"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # no snapshot or a stale/corrupt one: read for real
    night = read_night(paths)
    if write_cache and fingerprint["run_summary"] is not None:
        try:
            write_json_atomic(
                paths.plan_cache, {"fingerprint": fingerprint, "night": night.to_dict()}
            )
        except OSError:
            pass  # a read-only state dir only costs speed
    return night
