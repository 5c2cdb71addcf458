"""A run's phase 2, inside its job: Cat-B calibration, tail cuts, NSB, DL2 models.

It runs once every subrun of the run has its DL1a (the job is chained ``afterok`` on the
run's phase-1 jobs). Two steps, recorded in the run's history like any step:

- ``catb``: ``onsite_create_cat_B_calibration_file`` on the run's interleaved pedestal and
  flat-field events, with the night's Cat-A file and systematics passed explicitly (the
  tool's own finders are not trusted: lstchain #1428);
- ``tailcuts``: ``lstchain_find_tailcuts`` on the run's DL1a files.

A finder that cannot decide (too few interleaved pedestals, as on the real 50-event run
2008) is not a failure of the run: it falls back to the standard cleaning and says why.
A Cat-B calibration that cannot be made likewise, unless ``[analysis] catb_required``.
Then the decision is written once, atomically (``osa_core.run_calibration``): the run's
cleaning and its ``tailcutXY`` id, its additional NSB, its Cat-B file, and the DL2 models
chosen for its NSB and pointing declination, each with its reason.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from osa_core.analysis.models import ModelChoice, choose_rf_model
from osa_core.config import Config
from osa_core.history import TOLERATED, read_history, summarize
from osa_core.paths import NightPaths, run_tag
from osa_core.run_calibration import CatB, Models, RunCalibration, Tailcuts, write_record
from osa_core.steps import (
    CalibrationInputs,
    StepPlan,
    calibration_values,
    command_template,
    night_values,
    render,
)
from osa_core.tailcuts import TailcutError, dl1_prod_id, read_finder, thresholds

NSB_DIR_RE = re.compile(r"nsb_tuning_\d+\.\d+")
#: "flatfield collected statistics = 1 events" (the Cat-B tool, when a sample never filled)
CATB_COLLECTED_RE = re.compile(r"(?:flatfield|pedestal) collected statistics = \d+ events")


def lstchain_version() -> str:
    """The installed lstchain's version: the onsite Cat-B script names its folder so."""
    try:
        return version("lstchain")
    except PackageNotFoundError:
        return "unknown"


def catb_file(config: Config, night: dt.date, run: int, filters: int) -> Path:
    """Where the onsite script writes the run's Cat-B file (its version folder)."""
    name = f"cat_B_calibration_filters_{filters}.{run_tag(run)}.h5"
    return NightPaths(config, night).catb_dir / f"v{lstchain_version()}" / name


def finder_files(config: Config, night: dt.date, run: int) -> tuple[Path, Path]:
    """The finder's cleaning config and log."""
    folder = NightPaths(config, night).tailcuts_dir
    return folder / f"dl1ab_{run_tag(run)}.json", folder / f"log_find_tailcuts_{run_tag(run)}.log"


@dataclass(frozen=True)
class RunContext:
    """The values a run's phase-2 steps are rendered with."""

    config: Config
    night: dt.date
    run: int
    calibration: CalibrationInputs | None
    subrun: int = -1  # run-level records carry subrun -1

    def values(self) -> dict[str, str | None]:
        values = night_values(self.config, self.night, self.run)
        values.update(calibration_values(self.config, self.calibration))
        catb = catb_file(self.config, self.night, self.run, self._filters())
        values["catb_output"] = str(catb)
        return values

    def _filters(self) -> int:
        calibration = self.calibration
        return calibration.filters if calibration else self.config.night.filter_wheels

    def step(self, name: str) -> StepPlan:
        values = self.values()
        argv = render(command_template(self.config, name), values)
        paths = NightPaths(self.config, self.night)
        if name == "catb":
            if not self.config.analysis.apply_catb:
                return StepPlan.skipped(name, "Cat-B not applied ([analysis] apply_catb = false)")
            required = self.config.analysis.catb_required
            return StepPlan(
                name=name,
                argv=argv,
                inputs=(Path(str(values["calib_file"])),),
                outputs=(catb_file(self.config, self.night, self.run, self._filters()),),
                config_file=None,
                create_output_dirs=False,  # the script makes its version folder and pro link
                tolerate=None if required else _catb_tolerated,
            )
        if name == "tailcuts":
            config_file, _ = finder_files(self.config, self.night, self.run)
            return StepPlan(
                name=name,
                argv=argv,
                inputs=(paths.dl1a_dir,),
                outputs=(config_file,),
                config_file=None,
                tolerate=lambda rc: "the finder could not decide: standard cleaning",
            )
        raise KeyError(name)


def _catb_tolerated(rc: int) -> str:
    return "no Cat-B calibration: DL1b with Cat-A only ([analysis] catb_required = false)"


def decide(
    config: Config,
    night: dt.date,
    run: int,
    calibration: CalibrationInputs | None,
    pointing_dec: float | None,
) -> RunCalibration:
    """What the run's phase-2 steps found, as the one decision the night uses."""
    paths = NightPaths(config, night)
    history = summarize(read_history(paths.run_history(run)))
    notes = history.last_note_of
    tailcuts = _tailcuts(config, night, run)
    catb = _catb(config, night, run, calibration, notes.get("catb", ""))
    models = _models(config, run, tailcuts, pointing_dec)
    return RunCalibration(
        run=run,
        tailcuts=tailcuts,
        catb=catb,
        models=models,
        decided=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )


def _tailcuts(config: Config, night: dt.date, run: int) -> Tailcuts:
    config_file, log_file = finder_files(config, night, run)
    found = read_finder(config_file, log_file)
    if found.decided and found.config is not None and found.prod_id:
        assert found.picture is not None and found.boundary is not None
        return Tailcuts(
            config=str(found.config),
            prod_id=found.prod_id,
            picture=found.picture,
            boundary=found.boundary,
            nsb=found.nsb,
        )
    standard = config.analysis.dl1ab_config  # None: lstchain's standard config
    try:
        if standard is None:
            raise TailcutError("lstchain's standard cleaning")
        picture, boundary = thresholds(standard)
        prod_id = dl1_prod_id(picture, boundary)
    except TailcutError:
        picture, boundary, prod_id = 8, 4, str(config.production.dl1_prod_id)
    return Tailcuts(
        config=str(standard) if standard is not None else None,
        prod_id=prod_id,
        picture=picture,
        boundary=boundary,
        nsb=None,
        fallback=found.reason,
    )


def _catb(
    config: Config, night: dt.date, run: int, calibration: CalibrationInputs | None, note: str
) -> CatB:
    if not config.analysis.apply_catb:
        return CatB(None, "not applied ([analysis] apply_catb = false)")
    filters = calibration.filters if calibration else config.night.filter_wheels
    path = catb_file(config, night, run, filters)
    if path.exists() and not note.startswith(TOLERATED):  # a failed script leaves a file
        return CatB(str(path))
    log = path.parent / "log" / f"{path.stem}.log"
    return CatB(None, _catb_reason(note, log))


def _catb_reason(note: str, log: Path) -> str:
    """The Cat-B tool's own reason from its log, else the recorded note.

    ``lstchain_create_cat_B_calibration_file`` says why it wrote nothing at CRITICAL level,
    not ERROR: "No calibration events in the output file", then how many flat-field and
    pedestal events it collected (fewer than one ``--statistics`` sample), then "Caught
    SystemExit". Those counts are what a shifter needs (the real run 2008 of the demo: 1
    flat-field, 0 pedestals); other failures log an error or an exception."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    except OSError:
        lines = []
    collected = [m.group(0) for line in lines if (m := CATB_COLLECTED_RE.search(line))]
    if collected:
        return "no calibration events: " + "; ".join(collected)
    errors = [
        line
        for line in lines
        if any(word in line.lower() for word in ("error", "exception", "critical"))
        and "Caught SystemExit" not in line
    ]
    if errors:
        return errors[-1][:200]
    return note or "the Cat-B script wrote no calibration file"


def _models(config: Config, run: int, tailcuts: Tailcuts, pointing_dec: float | None) -> Models:
    analysis = config.analysis
    if analysis.models_root is not None:
        nsb = tailcuts.nsb
        why_nsb = ""
        if nsb is None:
            nsb, why_nsb = 0.0, "NSB not measured (finder fell back): dark-sky models; "
        chosen = choose_rf_model(
            analysis.models_root,
            analysis.mc_prod,
            run_id=run,
            nsb=nsb,
            picture_thresh=tailcuts.picture,
            pointing_dec=pointing_dec,
        )
        if isinstance(chosen, ModelChoice):
            return Models(
                str(chosen.path),
                f"{tailcuts.prod_id}/{chosen.dl2_prod_id}",
                why_nsb + chosen.reason,
            )
        return Models(None, None, why_nsb + chosen.message)
    if analysis.models_dir is not None:
        match = NSB_DIR_RE.search(str(analysis.models_dir))
        suffix = match.group(0) if match else analysis.models_dir.name
        return Models(
            str(analysis.models_dir),
            f"{tailcuts.prod_id}/{suffix}",
            f"fixed models {analysis.models_dir} ([analysis] models_dir)",
        )
    return Models(None, None, "no DL2 models configured ([analysis] models_root or models_dir)")


def write_decision(config: Config, night: dt.date, record: RunCalibration) -> Path:
    path = NightPaths(config, night).run_calibration_record(record.run)
    write_record(path, record)
    return path
