"""Step contexts of the close jobs: per run (merges, run-wise datacheck, DL2) and per night."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from functools import partial

from osa_core.config import Config
from osa_core.paths import CloseLayout, NightPaths, datacheck_name, dl1_name, muons_name
from osa_core.run_calibration import read_record
from osa_core.steps import StepPlan, command_template, render


def run_models(config: Config, night: dt.date, run: int) -> tuple[str | None, str]:
    """(models folder, why none) for a run's DL2: the models its phase 2 chose with the
    per-run workflow, the configured folder otherwise."""
    if config.night.workflow == "per_run":
        record = read_record(NightPaths(config, night).run_calibration_record(run))
        if record is None:
            return None, "the run's calibration (phase 2) decided nothing: no models"
        return record.models.path, f"no DL2 models: {record.models.reason}"
    models = config.analysis.models_dir
    return (str(models) if models else None), "no DL2 models configured ([analysis] models_dir)"


@dataclass(frozen=True)
class CloseRunContext:
    config: Config
    night: dt.date
    run: int
    subruns: tuple[int, ...]  # the completed subruns that go into the run's products
    subrun: int = -1  # run-level records carry subrun -1

    def values(self) -> dict[str, str | None]:
        paths = NightPaths(self.config, self.night)
        layout = CloseLayout(paths)
        analysis = self.config.analysis
        return {
            "base": str(self.config.paths.base),
            "night": self.night.isoformat(),
            "night_folder": paths.folder,
            "run": str(self.run),
            "run05": f"{self.run:05d}",
            "close_dir": str(layout.close_dir),
            "staged_dl1_dir": str(layout.staged_dl1_dir(self.run)),
            "staged_muons_dir": str(layout.staged_muons_dir(self.run)),
            "staged_datacheck_dir": str(layout.staged_datacheck_dir(self.run)),
            "merged_dl1_file": str(layout.merged_dl1_file(self.run)),
            "merged_muons_file": str(layout.merged_muons_file(self.run)),
            "run_datacheck_dir": str(layout.run_datacheck_dir),
            "run_datacheck_file": str(layout.run_datacheck_file(self.run)),
            "dl2_dir": str(layout.dl2_dir),
            "dl2_file": str(layout.dl2_file(self.run)),
            "models_dir": run_models(self.config, self.night, self.run)[0],
            "dl2_config": str(analysis.dl2_config) if analysis.dl2_config else None,
            "dl1a_dir": str(paths.dl1a_dir),
            "python": __import__("sys").executable,
            "longterm_file": str(layout.longterm_file),
        }

    def step(self, name: str) -> StepPlan:
        values = self.values()
        layout = CloseLayout(NightPaths(self.config, self.night))
        run = self.run
        argv = render(command_template(self.config, name), values)
        skip = ""
        paths = NightPaths(self.config, self.night)
        if not self.subruns:
            skip = "no completed subrun in this run"
        # Inputs are the real files (not the staging folder of links the tools read), so the
        # provenance links every merged product to each subrun product it contains.
        if name == "merge_dl1":
            inputs = tuple(paths.dl1b_dir / dl1_name(run, s) for s in self.subruns)
            outputs = (layout.merged_dl1_file(run),)
        elif name == "merge_muons":
            inputs = tuple(paths.dl1a_dir / muons_name(run, s) for s in self.subruns)
            outputs = (layout.merged_muons_file(run),)
        elif name == "run_datacheck":
            inputs = tuple(paths.datacheck_dir / datacheck_name(run, s) for s in self.subruns)
            outputs = (layout.run_datacheck_file(run),)
        elif name == "dl2":
            inputs, outputs = (layout.merged_dl1_file(run),), (layout.dl2_file(run),)
            models, why = run_models(self.config, self.night, run)
            if not skip and models is None:
                skip = why
        else:
            raise KeyError(name)
        if skip:
            return StepPlan.skipped(name, skip)
        config_file = self.config.analysis.dl2_config if name == "dl2" else None
        if name == "run_datacheck":
            return StepPlan(
                name=name,
                argv=argv,
                inputs=inputs,
                outputs=outputs,
                config_file=None,
                finish=partial(collect_run_datacheck, layout, run, self.subruns),
            )
        return StepPlan(
            name=name, argv=argv, inputs=inputs, outputs=outputs, config_file=config_file
        )


def collect_run_datacheck(layout: CloseLayout, run: int, subruns: tuple[int, ...]) -> None:
    """lstchain_check_dl1 writes the run-wise file next to its inputs (our staging folder),
    and with a single subrun writes none at all (the subrun file is the run's): put the
    run-wise file where the close expects it, atomically."""
    target = layout.run_datacheck_file(run)
    made = layout.staged_datacheck_dir(run) / target.name
    target.parent.mkdir(parents=True, exist_ok=True)
    if made.is_file() and not made.is_symlink():
        made.replace(target)
    elif not target.exists() and len(subruns) == 1:
        single = layout.paths.datacheck_dir / datacheck_name(run, subruns[0])
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(single, tmp)
        tmp.replace(target)


@dataclass(frozen=True)
class CloseNightContext:
    """The night's close steps: the night-wise datacheck, then the Cherenkov transparency
    written into it. Both are data-quality products: a tool that fails on a night (the
    longterm check crashes in its plots on runs without interleaved pedestals, an upstream
    bug) must not keep the night from closing. Its failure is recorded and shown, and what
    it could write is kept."""

    config: Config
    night: dt.date
    has_run_datacheck: bool
    run: int = 0
    subrun: int = -1

    def step(self, name: str) -> StepPlan:
        layout = CloseLayout(NightPaths(self.config, self.night))
        values = CloseRunContext(self.config, self.night, 0, ()).values()
        if not self.has_run_datacheck:
            return StepPlan.skipped(name, "no run-wise datacheck to summarise")
        argv = render(command_template(self.config, name), values)
        if name == "longterm":
            return StepPlan(
                name=name,
                argv=argv,
                inputs=(layout.run_datacheck_dir,),
                outputs=(layout.longterm_file,),
                config_file=None,
                tolerate=partial(_longterm_tolerated, layout),
                keep_partial=True,
            )
        if name == "cherenkov":
            if not layout.longterm_file.exists():
                return StepPlan.skipped(name, "no night-wise datacheck file to update")
            return StepPlan(
                name=name,
                argv=argv,
                # it updates the night-wise file in place: an input, never an output to
                # clear before it runs
                inputs=(layout.longterm_file, layout.run_datacheck_dir),
                outputs=(),
                config_file=None,
                tolerate=lambda rc: "the Cherenkov transparency could not be computed",
            )
        raise KeyError(name)


def _longterm_tolerated(layout: CloseLayout, rc: int) -> str:
    made = layout.longterm_file.exists()
    return "lstchain_longterm_dl1_check failed" + (
        " after writing the night-wise file (kept)" if made else " (no night-wise file)"
    )
