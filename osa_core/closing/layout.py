"""What the closer reads from the running tree: which subruns are complete, and the
staging folders of links its merge tools read. (Where things are: ``osa_core.paths``.)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from osa_core.config import Config
from osa_core.history import read_history, summarize
from osa_core.jobs import compact_ranges
from osa_core.journal import Journal
from osa_core.night.observation import observation_end
from osa_core.paths import CloseLayout, NightPaths, datacheck_name, dl1_name, muons_name
from osa_core.plan import Plan
from osa_core.status import Readiness
from osa_core.steps import DATA_STEPS


def completed_subruns(paths: NightPaths, run: int, subruns: tuple[int, ...]) -> list[int]:
    """Subruns whose every data step succeeded, according to their histories."""
    done = []
    for subrun in subruns:
        summary = summarize(read_history(paths.history_file(run, subrun)))
        if all(step in summary.done for step in DATA_STEPS):
            done.append(subrun)
    return done


def stage_run_inputs(layout: CloseLayout, run: int, subruns: list[int]) -> None:
    """Symlink exactly the completed subruns' files into the run's staging folders, so the
    merge tools (which glob a folder) see those and nothing else (given-up subruns and stale
    partial files stay out). Idempotent."""
    paths = layout.paths
    wanted = {
        layout.staged_dl1_dir(run): {
            dl1_name(run, s): paths.dl1b_dir / dl1_name(run, s) for s in subruns
        },
        layout.staged_muons_dir(run): {
            muons_name(run, s): paths.dl1a_dir / muons_name(run, s) for s in subruns
        },
        layout.staged_datacheck_dir(run): {
            datacheck_name(run, s): paths.datacheck_dir / datacheck_name(run, s) for s in subruns
        },
    }
    for folder, links in wanted.items():
        folder.mkdir(parents=True, exist_ok=True)
        for entry in folder.iterdir():
            if entry.name not in links:
                entry.unlink()
        for name, target in links.items():
            link = folder / name
            if link.is_symlink() and Path(link.readlink()) == target:
                continue
            if link.exists() or link.is_symlink():
                link.unlink()
            link.symlink_to(target)


def disk_readiness(config: Config, plan: Plan, now: dt.datetime | None = None) -> Readiness:
    """Readiness from the files alone (histories, journal, calibration products): what a
    close job checks when it starts, without asking the scheduler anything."""
    paths = NightPaths(config, plan.night)
    view = Journal(paths.journal).read()
    missing: list[str] = list(plan.problems)
    given_up: list[str] = []
    calibration = plan.calibration
    if calibration is not None:
        cal = NightPaths(config, calibration.night)
        drs4 = NightPaths(config, calibration.drs4_from)
        if not (
            drs4.drs4_file(calibration.drs4_run).exists()
            and cal.calibration_file(calibration.pedcal_run, calibration.filters).exists()
        ):
            missing.append("calibration products are not there yet")
    ended = observation_end(config, plan.night, now or dt.datetime.now(dt.timezone.utc))
    if not ended.over:
        missing.insert(0, ended.summary())
    for sequence in (*plan.data_sequences, *plan.awaited_runs):
        done = set(completed_subruns(paths, sequence.run, sequence.subruns))
        every = (*sequence.subruns, *sequence.awaited)
        gave = [s for s in every if (sequence.run, s) in view.given_up]
        left = [s for s in every if s not in done and s not in gave]
        if gave:
            given_up.append(f"run {sequence.run:05d}: subruns {compact_ranges(gave)} given up")
        if left:
            missing.append(f"run {sequence.run:05d}: subruns {compact_ranges(left)} not done")
    return Readiness(
        ready=not missing, missing=missing, given_up=given_up, closed=paths.night_finished.exists()
    )
