"""Where a night's datacheck and muon files are right now, and which ones to read.

Why a search and not one path: the files move during the day. Jobs write subrun files to
the running tree (``running/datacheck``, muons in ``running/dl1a``); closing makes one
run-wise file per run (``lstchain_check_dl1`` writes it next to its first input, i.e. in
``close/staged/RunRRRRR/datacheck``; ``close/datacheck`` is also searched), and the
night-wise file in ``close/datacheck``; finalising moves everything to the final tree
(``DL1/.../datacheck`` and ``DL1/.../muons``). Whatever exists is used, final tree first.

Per run, the run-wise file is read instead of the run's subrun files when it is at least
as new as every one of them (one file instead of hundreds); a newer subrun file (e.g. a
subrun re-processed after the merge) means the subrun files are the truth.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from osa_core.dq import layout
from osa_core.paths import CloseLayout, NightPaths


@dataclass(frozen=True)
class FileStat:
    """A file found on disk, with what the cache needs to know it has not changed."""

    path: Path
    mtime_ns: int
    size: int


@dataclass
class RunFiles:
    """The files to read for one run."""

    run: int
    run_file: FileStat | None = None
    subrun_files: dict[int, FileStat] = field(default_factory=dict)
    muon_files: dict[int, FileStat] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return "run-wise file" if self.run_file is not None else "subrun files"


@dataclass
class NightFiles:
    """Everything found for a night, and the folders that were searched."""

    runs: dict[int, RunFiles]
    longterm: FileStat | None
    searched: list[Path]
    closed: bool

    @property
    def empty(self) -> bool:
        return not self.runs and self.longterm is None


def _scan(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return [e for e in entries if not e.name.startswith(".")]
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return []


def _stat(folder: Path, entry: os.DirEntry[str]) -> FileStat | None:
    try:
        info = entry.stat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):  # regular files (symlinks followed)
        return None
    return FileStat(folder / entry.name, info.st_mtime_ns, info.st_size)


def datacheck_folders(paths: NightPaths) -> list[Path]:
    """Folders that may hold datacheck files, most final first."""
    close = CloseLayout(paths)
    staged_root = close.close_dir / "staged"
    staged = sorted(p / "datacheck" for p in (Path(e.path) for e in _scan(staged_root)))
    # each cleaning folder of the night (per-run cleaning: a night may have several)
    finals = sorted(Path(e.path) / "datacheck" for e in _scan(paths.final_dl1_root) if e.is_dir())
    return [*finals, close.run_datacheck_dir, *staged, paths.datacheck_dir]


def muon_folders(paths: NightPaths) -> list[Path]:
    return [paths.final_dl1_root / "muons", paths.final_dl1 / "muons", paths.dl1a_dir]


def find_night_files(paths: NightPaths) -> NightFiles:
    """Stat (never open) every candidate file of the night."""
    runs: dict[int, RunFiles] = {}
    longterm: FileStat | None = None
    longterm_name = layout.longterm_name(paths.folder)
    searched = datacheck_folders(paths)
    for folder in searched:
        for entry in _scan(folder):
            if entry.name == longterm_name:
                if longterm is None and (found := _stat(folder, entry)) is not None:
                    longterm = found
                continue
            match = layout.DATACHECK_RE.match(entry.name)
            if not match or (folder.parent.parent.name == "staged" and entry.is_symlink()):
                continue  # staging links point at files found in their own folder
            found = _stat(folder, entry)
            if found is None:
                continue
            run = int(match.group("run"))
            files = runs.setdefault(run, RunFiles(run))
            if match.group("subrun") is None:
                if files.run_file is None:  # the most final copy wins
                    files.run_file = found
            else:
                files.subrun_files.setdefault(int(match.group("subrun")), found)
    for folder in muon_folders(paths):
        searched.append(folder)
        for entry in _scan(folder):
            match = layout.MUONS_RE.match(entry.name)
            if not match:
                continue
            run = int(match.group("run"))
            if run not in runs:
                continue  # muons without any datacheck: nothing to attach them to
            found = _stat(folder, entry)
            if found is not None:
                runs[run].muon_files.setdefault(int(match.group("subrun")), found)
    for files in runs.values():
        if files.run_file is not None and files.subrun_files:
            newest = max(s.mtime_ns for s in files.subrun_files.values())
            if newest > files.run_file.mtime_ns:
                files.run_file = None  # a subrun changed after the merge
    return NightFiles(
        runs=dict(sorted(runs.items())),
        longterm=longterm,
        searched=searched,
        closed=paths.night_finished.exists(),
    )
