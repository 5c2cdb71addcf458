"""The demo night replayed as the DAQ wrote it (``osa demo --live``).

The demo night is built first, as ``osa demo`` builds it (real run 2008, generated zfits
runs, calibration inputs, models); then its R0 files and its RunSummary are set aside in
``.daq-replay/`` and the DAQ simulator (``osa_core.demo.daq``) brings them back over time:
each subrun's streams at the pace, a run's RunSummary row when it ended (the demo's own
rows, byte for byte: lstchain reads the run's reference times from them), the last DATA
run after a pause, ``RunSummary_YYYYMMDD.complete`` last. Files are moved, not copied: the
night's R0 exists once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from osa_core.demo.daq import DaqEvent, DaqSimulator
from osa_core.demo.night import NIGHT
from osa_core.fsio import ensure_dir, write_text_atomic
from osa_core.generator import GeneratedRun, NightSpec
from osa_core.night.runsummary import read_run_summary
from osa_core.paths import R0_RE, NightPaths, r0_name

STAGING = ".daq-replay"


@dataclass(frozen=True)
class StagedNight:
    """A built demo night with its R0 and RunSummary set aside, ready to be replayed."""

    base: Path
    spec: NightSpec
    header: tuple[str, ...]  # the RunSummary's ECSV header and column line
    rows: dict[int, str]  # run -> its RunSummary line, as the demo wrote it

    @property
    def staging(self) -> Path:
        return self.base / STAGING


def stage_demo_night(base: Path, paths: NightPaths) -> StagedNight:
    """Set the built night's R0 files and RunSummary aside (idempotent: a night already
    staged is read back from its staging folder)."""
    staging = ensure_dir(base / STAGING)
    summary = staging / paths.run_summary.name
    if paths.run_summary.exists():
        os.replace(paths.run_summary, summary)
    for entry in os.scandir(paths.r0_dir) if paths.r0_dir.is_dir() else ():
        if R0_RE.match(entry.name):
            os.replace(entry.path, staging / entry.name)
    header: list[str] = []
    rows: dict[int, str] = {}
    for line in summary.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or (not rows and not line[:1].isdigit()):
            header.append(line)
        elif line.strip():
            rows[int(line.split(",", 1)[0])] = line
    table = read_run_summary(summary, paths.config.night.max_subruns)
    runs = [GeneratedRun(r.run, r.run_type, r.declared_subruns) for r in table.runs]
    spec = NightSpec(
        night=NIGHT,
        data_runs=0,
        with_calibration=False,
        with_catalog=False,
        extra_runs=runs,
        streams=paths.config.night.streams,
    )
    return StagedNight(base, spec, tuple(header), rows)


def demo_replay(
    staged: StagedNight,
    paths: NightPaths,
    pace: float,
    *,
    late_runs: int = 1,
    on_event: Callable[[DaqEvent], None] | None = None,
) -> DaqSimulator:
    """The simulator that brings the staged night back over time."""

    def move_back(target: Path, run: GeneratedRun, subrun: int, stream: int) -> bool:
        staged_file = staged.staging / r0_name(stream, run.run, subrun)
        if not staged_file.is_symlink() and not staged_file.exists():
            return False  # a stream the night does not have (the real run has one)
        os.replace(staged_file, target)
        return True

    def write_rows(ended: list[GeneratedRun]) -> None:
        lines = [*staged.header, *(staged.rows[run.run] for run in ended)]
        write_text_atomic(paths.run_summary, "\n".join(lines) + "\n")

    return DaqSimulator(
        staged.base,
        staged.spec,
        pace,
        late_runs=late_runs,
        r0_writer=move_back,
        run_summary_writer=write_rows,
        auxiliary=False,
        on_event=on_event,
    )
