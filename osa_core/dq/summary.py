"""A night's data quality: the figures, the flags, and how to show them.

``night_dq(config, night)`` is what the console (osa_tui/screens/dq.py, in a worker
thread at every refresh), ``osa dq`` and the report call. It finds the night's datacheck
files wherever they are at that moment (osa_core.dq.locate), reads each one at most once
per change (osa_core.dq.cache), and returns a ``NightDQ`` that also exists when there is
nothing to read yet, saying so, so that every caller can show it without special cases.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from osa_core.config import Config, DQConfig
from osa_core.dq.cache import FileCache
from osa_core.dq.frames import run_frame, subrun_frame
from osa_core.dq.locate import FileStat, NightFiles, RunFiles, find_night_files
from osa_core.dq.longterm import read_longterm
from osa_core.dq.muons import MUON_COLUMNS, read_muons
from osa_core.dq.reader import RECORD_COLUMNS, Columns, DatacheckError, read_datacheck
from osa_core.dq.rules import ORDER, Flag, evaluate
from osa_core.paths import NightPaths

if TYPE_CHECKING:
    import pandas as pd  # the frames come from dq.frames (which imports pandas to build them)

_T = TypeVar("_T")

CACHE_NAME = "dq-cache.json"
SUMMARY_KINDS = 3  # flag kinds shown in a run's one-line summary before "+N"


@dataclass
class ReadStats:
    """How much work a ``night_dq`` call did (shown by ``osa dq``; checked by tests)."""

    files_read: int = 0
    files_cached: int = 0
    seconds: float = 0.0


@dataclass
class NightDQ:
    """Everything known about a night's data quality at one moment."""

    night: dt.date
    config: DQConfig
    subruns: pd.DataFrame
    runs: pd.DataFrame
    flags: list[Flag]
    notes: list[str] = field(default_factory=list)
    files: NightFiles | None = None
    stats: ReadStats = field(default_factory=ReadStats)

    @property
    def available(self) -> bool:
        """False when there is no datacheck file for the night yet."""
        return not self.subruns.empty

    def run_numbers(self) -> list[int]:
        return [int(r) for r in self.runs["run"]] if self.available else []

    def flags_for(self, run: int) -> list[Flag]:
        return [flag for flag in self.flags if flag.run == run]

    def flag_summary(self) -> dict[int, str]:
        """Run -> a short text for a table column ("rate↓ 3, ped σ" or "" when clean)."""
        summary = {run: "" for run in self.run_numbers()}
        for run in summary:
            summary[run] = summarize_flags(self.flags_for(run))
        return summary

    def run_subruns(self, run: int) -> pd.DataFrame:
        return self.subruns[self.subruns["run"] == run]

    def to_json(self, run: int | None = None) -> dict[str, Any]:
        """Plain data for ``osa dq --json`` (with every subrun of ``run`` when given)."""
        summary = self.flag_summary()
        runs = [
            {**_plain_row(row), "flags": summary.get(int(row["run"]), "")}
            for row in self.runs.to_dict("records")
            if run is None or int(row["run"]) == run
        ]
        data: dict[str, Any] = {
            "night": self.night.isoformat(),
            "available": self.available,
            "notes": self.notes,
            "read": {
                "files_read": self.stats.files_read,
                "files_cached": self.stats.files_cached,
                "seconds": round(self.stats.seconds, 3),
            },
            "runs": runs,
            "flags": [f.as_dict() for f in self.flags if run is None or f.run == run],
        }
        if run is not None:
            data["subruns"] = [_plain_row(row) for row in self.run_subruns(run).to_dict("records")]
        return data


def _plain_row(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, (float, np.floating)):
            out[key] = None if math.isnan(value) else round(float(value), 6)
        elif isinstance(value, np.integer):
            out[key] = int(value)
        else:
            out[key] = value
    return out


def summarize_flags(flags: list[Flag]) -> str:
    """``rate↓ 3, ped σ, +2``: each kind of flag once, with its number of subruns."""
    counts: dict[str, int] = {}
    order: dict[str, int] = {}
    for flag in flags:
        counts[flag.label] = counts.get(flag.label, 0) + 1
        order.setdefault(flag.label, ORDER[flag.rule])
    labels = sorted(counts, key=lambda label: order[label])
    parts = [f"{label} {counts[label]}" if counts[label] > 1 else label for label in labels]
    if len(parts) > SUMMARY_KINDS:
        parts = [*parts[:SUMMARY_KINDS], f"+{len(parts) - SUMMARY_KINDS}"]
    return ", ".join(parts)


# --- reading -------------------------------------------------------------------------------
class _Reader:
    """Reads files through the cache and collects notes about unreadable ones."""

    def __init__(self, cache: FileCache) -> None:
        self.cache = cache
        self.stats = ReadStats()
        self.errors: list[str] = []

    def _cached(self, kind: str, stat: FileStat, read: Callable[[Path], _T]) -> _T | None:
        """What ``read`` returns for the file (kept in the cache as JSON), or None when the
        file could not be read (the error is noted, and cached too)."""
        value = self.cache.get(kind, stat)
        if value is not None:
            self.stats.files_cached += 1
        else:
            self.stats.files_read += 1
            try:
                value = read(stat.path)
            except DatacheckError as err:
                value = {"error": str(err)}
            except (OSError, ValueError, KeyError, RuntimeError) as err:
                value = {"error": f"{stat.path.name}: unreadable ({type(err).__name__}: {err})"}
            self.cache.put(kind, stat, value)
        if isinstance(value, dict) and "error" in value:
            self.errors.append(str(value["error"]))
            return None
        return cast(_T, value)  # what ``read`` returned, now or at an earlier reading

    def datacheck(self, stat: FileStat) -> Columns | None:
        return self._cached("datacheck", stat, read_datacheck)

    def muons(self, stat: FileStat) -> dict[str, float] | None:
        return self._cached("muons", stat, read_muons)

    def longterm(self, stat: FileStat) -> Columns | None:
        return self._cached("longterm", stat, read_longterm)

    def run_columns(self, files: RunFiles) -> tuple[Columns, str] | None:
        if files.run_file is not None:
            columns = self.datacheck(files.run_file)
            if columns is not None:
                return columns, "run-wise file"
        merged: Columns = {name: [] for name in RECORD_COLUMNS}
        for subrun in sorted(files.subrun_files):
            columns = self.datacheck(files.subrun_files[subrun])
            if columns is None:
                continue
            for name in RECORD_COLUMNS:
                merged[name].extend(columns[name])
        if not merged["run"]:
            return None
        return merged, "subrun files"


def _muon_table(
    reader: _Reader, files: NightFiles, longterm: Columns | None
) -> dict[tuple[int, int], tuple[float, ...]]:
    """(run, subrun) -> (rings, efficiency, width), longterm file first, then FITS files."""
    table: dict[tuple[int, int], tuple[float, ...]] = {}
    longterm_runs: set[int] = set()
    if longterm is not None:
        for i, run in enumerate(longterm["run"]):
            key = (int(run), int(longterm["subrun"][i]))
            table[key] = tuple(float(longterm[c][i]) for c in MUON_COLUMNS)
            longterm_runs.add(int(run))
    for run, run_files in files.runs.items():
        if run in longterm_runs:
            continue
        for subrun, stat in run_files.muon_files.items():
            muons = reader.muons(stat)
            if muons is not None:
                table[(run, subrun)] = tuple(muons[c] for c in MUON_COLUMNS)
    return table


def night_dq(
    config: Config,
    night: dt.date,
    *,
    runs: Iterable[int] | None = None,
    use_cache: bool = True,
) -> NightDQ:
    """The night's data quality as the files on disk say right now (see module doc)."""
    started = time.perf_counter()
    paths = NightPaths(config, night)
    files = find_night_files(paths)
    wanted = set(runs) if runs is not None else None
    if wanted is not None:
        files.runs = {r: f for r, f in files.runs.items() if r in wanted}
    cache = FileCache(paths.state_dir / CACHE_NAME if use_cache else None, enabled=use_cache)
    reader = _Reader(cache)
    notes: list[str] = []
    parts: list[tuple[Columns, str]] = []
    for run_files in files.runs.values():
        found = reader.run_columns(run_files)
        if found is not None:
            parts.append(found)
    longterm = reader.longterm(files.longterm) if files.longterm is not None else None
    if longterm is not None:
        have = {int(columns["run"][0]) for columns, _ in parts if columns["run"]}
        keep = [
            i
            for i, run in enumerate(longterm["run"])
            if int(run) not in have and (wanted is None or int(run) in wanted)
        ]
        if keep:
            parts.append(
                ({k: [v[i] for i in keep] for k, v in longterm.items()}, "night-wise file")
            )
    subruns = subrun_frame(parts)
    if not subruns.empty:
        muons = _muon_table(reader, files, longterm)
        keys = list(zip(subruns["run"], subruns["subrun"], strict=True))
        for index, column in enumerate(MUON_COLUMNS):
            subruns[column] = [muons.get(key, (np.nan,) * 3)[index] for key in keys]
        if not muons:
            notes.append("no muon files found: muon figures unknown")
    runs_table = run_frame(subruns)
    flags = evaluate(subruns, runs_table, config.dq)
    if subruns.empty:
        notes.insert(0, _nothing_yet(files, paths))
    if reader.errors:
        notes.append(
            f"{len(reader.errors)} unreadable file(s), skipped: {reader.errors[0]}"
            + (" …" if len(reader.errors) > 1 else "")
        )
    cache.save()
    reader.stats.seconds = time.perf_counter() - started
    return NightDQ(
        night=night,
        config=config.dq,
        subruns=subruns,
        runs=runs_table,
        flags=flags,
        notes=notes,
        files=files,
        stats=reader.stats,
    )


def _nothing_yet(files: NightFiles, paths: NightPaths) -> str:
    if files.empty:
        return (
            f"no datacheck yet for {paths.night.isoformat()} (looked in "
            f"{paths.datacheck_dir} and {paths.final_dl1 / 'datacheck'})"
        )
    return f"no readable datacheck file for {paths.night.isoformat()}"
