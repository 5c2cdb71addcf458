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

CACHE_VERSION = 2  # 2: live reading (runs in progress, subruns being written)


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
    #: live reading only: not in the RunSummary yet (a DATA run of the RunCatalog whose
    #: files are landing), and subruns on disk still being written (not ready)
    in_progress: bool = False
    writing: tuple[int, ...] = ()

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
                        "writing": tuple(item.get("writing", ())),
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
        "live": config.night.live,
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
    if config.night.live:
        runs, undeclared = _live_runs(runs, undeclared, disk, catalog, config.night.streams)
    if undeclared:
        shown = ", ".join(map(str, undeclared[:10]))
        warnings.append(f"R0 on disk for runs not in the RunSummary: {shown}")
    return Night(date=paths.night, runs=tuple(runs), warnings=tuple(warnings))


def ready_subruns(files: RunFiles, streams: int, ended: bool) -> tuple[int, ...]:
    """The subruns whose files are complete, while a run is being written.

    A subrun is ready once all its streams are there and the next subrun of its run has
    begun (the DAQ writes a run's subruns one after the other), or once its run ended (it
    is in the RunSummary). Sizes and mtimes are not used: on Lustre another client's
    attributes are cached and a writer may pause longer than any "stable for N s" window,
    while "the next one was opened" is a fact of the DAQ's own order. The price is one
    subrun of latency (seconds)."""
    if ended:
        return files.subruns
    complete = [s for s in files.subruns if s not in files.incomplete]
    begun = set(files.subruns)
    return tuple(s for s in complete if s + 1 in begun)


def _live_runs(
    runs: list[Run],
    undeclared: list[int],
    disk: dict[int, RunFiles],
    catalog: dict[int, Source],
    streams: int,
) -> tuple[list[Run], list[int]]:
    """Live reading: a run on disk that the RunCatalog lists (a DATA run: the catalog
    names its source) and the RunSummary does not yet is in progress; only its ready
    subruns are processed, the others are being written. Runs neither lists stay
    undeclared (their type is unknown)."""
    in_progress = []
    for number in undeclared:
        if number not in catalog:
            continue
        files = disk[number]
        ready = ready_subruns(files, streams, ended=False)
        in_progress.append(
            Run(
                run=number,
                run_type="DATA",
                declared_subruns=0,
                disk_subruns=ready,
                incomplete_subruns=(),
                source=catalog[number],
                in_progress=True,
                writing=tuple(s for s in files.subruns if s not in ready),
            )
        )
    taken = {run.run for run in in_progress}
    merged = sorted([*runs, *in_progress], key=lambda run: run.run)
    return merged, [n for n in undeclared if n not in taken]


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
