"""Where the closer stages, writes and moves things (one place, like osa_core.paths).

Before closing, products live in the running tree; per-run close products are made under
``running/.../close/``; finalising moves everything to the final DL1/DL2 tree (SPEC §4).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from osa_core.history import read_history, summarize
from osa_core.paths import NightPaths, datacheck_name, dl1_name, dl2_name, muons_name, run_tag
from osa_core.steps import DATA_STEPS


@dataclass(frozen=True)
class CloseLayout:
    paths: NightPaths

    @property
    def close_dir(self) -> Path:
        return self.paths.close_dir

    def run_dir(self, run: int) -> Path:
        return self.close_dir / "staged" / run_tag(run)

    def staged_dl1_dir(self, run: int) -> Path:
        return self.run_dir(run) / "dl1"

    def staged_muons_dir(self, run: int) -> Path:
        return self.run_dir(run) / "muons"

    def staged_datacheck_dir(self, run: int) -> Path:
        return self.run_dir(run) / "datacheck"

    def merged_dl1_file(self, run: int) -> Path:
        return self.close_dir / "dl1" / dl1_name(run)

    def merged_muons_file(self, run: int) -> Path:
        return self.close_dir / "muons" / muons_name(run)

    @property
    def run_datacheck_dir(self) -> Path:
        return self.close_dir / "datacheck"

    def run_datacheck_file(self, run: int) -> Path:
        return self.run_datacheck_dir / datacheck_name(run)

    @property
    def dl2_dir(self) -> Path:
        return self.close_dir / "dl2"

    def dl2_file(self, run: int) -> Path:
        return self.dl2_dir / dl2_name(run)

    @property
    def longterm_file(self) -> Path:
        return self.run_datacheck_dir / f"DL1_datacheck_{self.paths.folder}.h5"

    def run_history(self, run: int) -> Path:
        return self.paths.history_dir / f"close_{run_tag(run)}.jsonl"

    @property
    def night_history(self) -> Path:
        return self.paths.history_dir / "close_night.jsonl"

    @property
    def moves_record(self) -> Path:
        """Append-only record of every verified copy: the closer's memory across crashes."""
        return self.paths.closer_dir / "moves.jsonl"

    @property
    def provenance_dir(self) -> Path:
        return self.paths.final_dl1 / "log" / "provenance"


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
