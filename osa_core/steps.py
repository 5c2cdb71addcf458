"""The analysis steps (SPEC §3, §4): names, argument-list templates, inputs and outputs.

Each step's command is a list of strings with ``{placeholders}``. The default lists here
are lstchain's tools with the arguments found to work (docs/jobs.md); ``[steps.<name>]
command`` in the config replaces one. Placeholders are filled only from validated values
(integers, dates, paths built by ``osa_core.paths``), one argument at a time: no shell is
ever involved. An argument whose placeholder has no value (an optional config file that is
not set) is dropped, so optional flags are written ``--flag={value}``.
"""

from __future__ import annotations

import datetime as dt
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol

from osa_core.config import Config
from osa_core.errors import ConfigError
from osa_core.paths import NightPaths, datacheck_name, dl1_name, muons_name
from osa_core.run_calibration import read_record

GAIN_SELECTION_STEPS = ("r0_to_r0g",)  # with input_state = "legacy_raw", before all
DATA_STEPS = ("r0_to_dl1", "dl1ab", "datacheck")
DL1A_STEPS = DATA_STEPS[:1]  # phase 1 of a run (per subrun)
DL1B_STEPS = DATA_STEPS[1:]  # phase 3 of a run (per subrun), with the run's own cleaning
RUN_CALIBRATION_STEPS = ("catb", "tailcuts")  # phase 2 of a run (one job)
CALIBRATION_STEPS = ("drs4_baseline", "calibration")
CLOSE_RUN_STEPS = ("merge_dl1", "merge_muons", "run_datacheck", "dl2")
CLOSE_NIGHT_STEPS = ("longterm", "cherenkov")

DEFAULT_COMMANDS: dict[str, tuple[str, ...]] = {
    # Cat-A calibration (lstchain's onsite scripts; they find R0, the time-sampling and
    # F-factor files under --base_dir and write under monitoring/PixelCalibration/Cat-A)
    "drs4_baseline": (
        "onsite_create_drs4_pedestal_file",
        "--run_number={drs4_run}",
        "--base_dir={base}",
        "--yes",
        "--no-progress",
    ),
    "calibration": (
        "onsite_create_calibration_file",
        "--run_number={pedcal_run}",
        "--pedestal_run={drs4_run}",
        "--base_dir={base}",
        "--filters={filters}",
        "--config={calibration_config}",
        "--yes",
    ),
    # per subrun, first (input_state = "legacy_raw"): the four streams, gain-selected
    "r0_to_r0g": (
        "lstchain_r0_to_r0g",
        "--R0-file={r0_raw_file}",
        "--output-dir={r0g_dir}",
        "--log={gain_selection_log}",
    ),
    # per subrun
    "r0_to_dl1": (
        "lstchain_data_r0_to_dl1",
        "--input-file={r0_file}",
        "--output-dir={dl1a_dir}",
        "--pedestal-file={drs4_file}",
        "--calibration-file={calib_file}",
        "--time-calibration-file={time_calib_file}",
        "--systematic-correction-file={systematics_file}",
        "--pointing-file={drive_log}",
        "--run-summary-path={run_summary}",
        "--config={lstchain_config}",
    ),
    "dl1ab": (
        "lstchain_dl1ab",
        "--input-file={dl1a_file}",
        "--output-file={dl1b_file}",
        "--config={dl1ab_config}",
        "--catB-calibration-file={catb_file}",
    ),
    "datacheck": (
        "lstchain_check_dl1",
        "--input-file={dl1b_file}",
        "--output-dir={datacheck_dir}",
        "--muons-dir={dl1a_dir}",
        "--omit-pdf",
        "--batch",
    ),
    # per run, phase 2: Cat-B calibration from the run's interleaved events (the onsite
    # script finds the R0 date and writes under <base>/monitoring/PixelCalibration/Cat-B)
    "catb": (
        "onsite_create_cat_B_calibration_file",
        "--run_number={run}",
        "--base_dir={base}",
        "--interleaved-dir={interleaved_dir}",
        "--r0-dir={r0_root}",
        "--filters={filters}",
        "--cat_A_calibration_file={calib_file}",
        "--systematics_file={systematics_file}",
        "{no_systematics_flag}",
        "--yes",
    ),
    # per run, phase 2: the run's cleaning and additional NSB from its pedestal events
    "tailcuts": (
        "lstchain_find_tailcuts",
        "--input-dir={dl1a_dir}",
        "--run={run}",
        "--output-dir={tailcuts_dir}",
    ),
    # per run, at closing
    "merge_dl1": (
        "lstchain_merge_hdf5_files",
        "--input-dir={staged_dl1_dir}",
        "--output-file={merged_dl1_file}",
        "--run-number={run}",
        "--no-image",
        "--no-progress",
    ),
    "merge_muons": (
        "lstchain_merge_muon_files",
        "--input-dir={staged_muons_dir}",
        "--output-file={merged_muons_file}",
        "--run-number={run}",
    ),
    # the tool expands the quoted glob itself; its run-wise file lands next to its inputs
    "run_datacheck": (
        "lstchain_check_dl1",
        "--input-file={staged_datacheck_dir}/datacheck_dl1_LST-1.Run{run05}.*.h5",
        "--output-dir={run_datacheck_dir}",
        "--muons-dir={staged_muons_dir}",
        "--omit-pdf",
        "--batch",
    ),
    "dl2": (
        "lstchain_dl1_to_dl2",
        "--input-files={merged_dl1_file}",
        "--path-models={models_dir}",
        "--output-dir={dl2_dir}",
        "--config={dl2_config}",
    ),
    # per night
    "longterm": (
        "lstchain_longterm_dl1_check",
        "--input-dir={run_datacheck_dir}",
        "--muons-dir={dl1a_dir}",
        "--output-file={longterm_file}",
        "--batch",
    ),
    # per night, after it: the cosmic intensity spectrum (atmospheric transparency) of every
    # run, written into the night-wise file
    "cherenkov": (
        "lstchain_cherenkov_transparency",
        "--update-datacheck-file={longterm_file}",
        "--input-dir={run_datacheck_dir}",
    ),
}

PLACEHOLDERS = frozenset(
    {
        "close_dir",
        "staged_dl1_dir",
        "staged_muons_dir",
        "staged_datacheck_dir",
        "merged_dl1_file",
        "merged_muons_file",
        "run_datacheck_dir",
        "run_datacheck_file",
        "dl2_dir",
        "dl2_file",
        "models_dir",
        "dl2_config",
        "longterm_file",
        "base",
        "night",
        "night_folder",
        "run",
        "subrun",
        "run05",
        "subrun04",
        "python",
        "r0_file",
        "r0_dir",
        "dl1a_dir",
        "dl1a_file",
        "muons_file",
        "dl1b_dir",
        "dl1b_file",
        "datacheck_dir",
        "datacheck_file",
        "drs4_file",
        "calib_file",
        "drs4_run",
        "pedcal_run",
        "filters",
        "time_calib_file",
        "systematics_file",
        "drive_log",
        "run_summary",
        "run_summary_dir",
        "lstchain_config",
        "dl1ab_config",
        "calibration_config",
        "calibration_night_folder",
        "r0_dir_calibration",
        "run_summary_calibration",
        "pixel_calibration",
        "log_dir",
        "history_dir",
        "catb_file",
        "interleaved_dir",
        "r0_root",
        "tailcuts_dir",
        "no_systematics_flag",
        "catb_output",
        "r0_raw_file",
        "r0g_dir",
        "gain_selection_log",
    }
)


@dataclass(frozen=True)
class StepPlan:
    """One step ready to run: its argument list, inputs and outputs."""

    name: str
    argv: tuple[str, ...]
    inputs: tuple[Path, ...]
    outputs: tuple[Path, ...]
    config_file: Path | None
    skip_reason: str = ""
    #: called after the tool succeeded, before its outputs are checked (moves a product a
    #: tool writes somewhere unexpected to where we expect it)
    finish: Callable[[], None] | None = None
    #: False when the tool makes its own folders (the onsite scripts create a version
    #: folder and a ``pro`` symlink: a folder we made in its place would break that)
    create_output_dirs: bool = True
    #: a failure the run can go on without (the tail-cut finder that cannot decide falls
    #: back to the standard cleaning): given the exit code, the reason it is tolerated, or
    #: "" when it is not. A tolerated failure is recorded as done, with the reason.
    tolerate: Callable[[int], str] | None = None
    #: keep what a tolerated failure wrote (a data-quality file written before a plotting
    #: crash is still the night's); otherwise partial outputs are removed
    keep_partial: bool = False
    #: after a success, what the shifter should know that the exit code does not say (a
    #: warning in the tool's log), recorded as the step's note; "" when nothing
    notice: Callable[[], str] | None = None

    @classmethod
    def skipped(cls, name: str, reason: str) -> StepPlan:
        """A step that has nothing to do here: recorded as done, with the reason."""
        return cls(name=name, argv=(), inputs=(), outputs=(), config_file=None, skip_reason=reason)


class StepContext(Protocol):
    """What the payload needs from a context: whose history, and each step's plan."""

    run: int
    subrun: int

    def step(self, name: str) -> StepPlan: ...


def command_template(config: Config, step: str) -> tuple[str, ...]:
    """The step's argument list: ``[steps.<name>] command`` or the default, then its
    ``extra_args`` (a site adds a flag without copying the whole command)."""
    override = config.steps.get(step)
    if override is None:
        return DEFAULT_COMMANDS[step]
    return (override.command or DEFAULT_COMMANDS[step]) + override.extra_args


def check_templates(config: Config) -> None:
    """Unknown step names or placeholders in the config fail at start, not in a job."""
    formatter = string.Formatter()
    for step, spec in config.steps.items():
        if step not in DEFAULT_COMMANDS:
            raise ConfigError(
                f"{config.source.name}: [steps.{step}]: unknown step (known: "
                f"{', '.join(DEFAULT_COMMANDS)})"
            )
        for arg in spec.command + spec.extra_args:
            try:
                names = [field for _, field, _, _ in formatter.parse(arg) if field is not None]
            except ValueError as err:
                raise ConfigError(
                    f"{config.source.name}: [steps.{step}] command: {arg!r}: {err}"
                ) from None
            for name in names:
                if name not in PLACEHOLDERS:
                    raise ConfigError(
                        f"{config.source.name}: [steps.{step}] command: unknown "
                        f"placeholder {{{name}}}"
                    )


def render(template: tuple[str, ...], values: dict[str, str | None]) -> tuple[str, ...]:
    """Fill each argument separately; drop an argument whose placeholder has no value."""
    formatter = string.Formatter()
    argv: list[str] = []
    for arg in template:
        names = [field for _, field, _, _ in formatter.parse(arg) if field]
        if any(values.get(name) is None for name in names):
            missing = [n for n in names if n not in values]
            if missing:
                raise ConfigError(f"unknown placeholder {{{missing[0]}}} in {arg!r}")
            continue
        argv.append(arg.format_map(values))
    return tuple(argv)


@dataclass(frozen=True)
class CalibrationInputs:
    """The Cat-A calibration a job uses, as the plan found it (passed to the payload as
    arguments, so a job never searches again and every job of the night agrees)."""

    night: dt.date  # the PEDCALIB run's night
    drs4_night: dt.date
    drs4_run: int
    pedcal_run: int
    filters: int
    time_calibration: Path | None = None
    systematics: Path | None = None

    def values(self, config: Config) -> dict[str, str | None]:
        cal = NightPaths(config, self.night)
        drs4 = NightPaths(config, self.drs4_night)
        return {
            "drs4_file": str(drs4.drs4_file(self.drs4_run)),
            "calib_file": str(cal.calibration_file(self.pedcal_run, self.filters)),
            "drs4_run": str(self.drs4_run),
            "pedcal_run": str(self.pedcal_run),
            "filters": str(self.filters),
            "time_calib_file": _opt(self.time_calibration),
            "systematics_file": _opt(self.systematics),
            "no_systematics_flag": None if self.systematics else "--no_sys_correction",
            "calibration_night_folder": cal.folder,
            "r0_dir_calibration": str(cal.r0_dir),
            "run_summary_calibration": str(cal.run_summary),
        }


CALIBRATION_PLACEHOLDERS = (
    "drs4_file",
    "calib_file",
    "drs4_run",
    "pedcal_run",
    "filters",
    "time_calib_file",
    "systematics_file",
    "no_systematics_flag",
    "calibration_night_folder",
    "r0_dir_calibration",
    "run_summary_calibration",
)


def calibration_values(
    config: Config, calibration: CalibrationInputs | None
) -> dict[str, str | None]:
    """The calibration's placeholders; all unset on a DAQ-calibrated night (its optional
    arguments are then dropped from the tools' command lines)."""
    if calibration is None:
        return dict.fromkeys(CALIBRATION_PLACEHOLDERS)
    return calibration.values(config)


def _opt(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def night_values(config: Config, night: dt.date, run: int) -> dict[str, str | None]:
    """What every step of a run may use: the night's folders and the run's identity."""
    paths = NightPaths(config, night)
    analysis = config.analysis
    return {
        "base": str(config.paths.base),
        "night": night.isoformat(),
        "night_folder": paths.folder,
        "run": str(run),
        "run05": f"{run:05d}",
        "python": sys.executable,
        "r0_dir": str(paths.r0_dir),
        "r0_root": str(config.paths.r0),
        "dl1a_dir": str(paths.dl1a_dir),
        "interleaved_dir": str(paths.dl1a_dir / "interleaved"),
        "dl1b_dir": str(paths.dl1b_dir),
        "datacheck_dir": str(paths.datacheck_dir),
        "tailcuts_dir": str(paths.tailcuts_dir),
        "drive_log": str(paths.drive_log),
        "run_summary": str(paths.run_summary),
        "run_summary_dir": str(paths.run_summary.parent),
        "lstchain_config": _opt(analysis.lstchain_config),
        "dl1ab_config": _opt(analysis.dl1ab_config),
        "calibration_config": _opt(analysis.calibration_config),
        "pixel_calibration": str(config.paths.pixel_calibration),
        "log_dir": str(paths.log_dir),
        "history_dir": str(paths.history_dir),
        "catb_file": None,
    }


@dataclass(frozen=True)
class SubrunContext:
    """The values a subrun's steps are rendered with.

    With the per-run workflow, DL1b is made with the run's own cleaning and Cat-B file, as
    its phase 2 decided (``runcal/RunNNNNN.json``): that record is an input of ``dl1ab``,
    so a DL1b job started without it fails with "missing input", never runs a default."""

    config: Config
    night: dt.date
    run: int
    subrun: int
    calibration: CalibrationInputs | None  # None: a DAQ-calibrated night (catA_calibrated)

    def values(self) -> dict[str, str | None]:
        paths = NightPaths(self.config, self.night)
        values = night_values(self.config, self.night, self.run)
        values.update(calibration_values(self.config, self.calibration))
        values.update(
            {
                "subrun": str(self.subrun),
                "subrun04": f"{self.subrun:04d}",
                "r0_file": str(r0_input(paths, self.run, self.subrun)),
                "r0_raw_file": str(paths.r0_file(self.run, self.subrun, 1)),
                "r0g_dir": str(paths.r0g_dir),
                "gain_selection_log": str(paths.gain_selection_log(self.run, self.subrun)),
                "dl1a_file": str(paths.dl1a_dir / dl1_name(self.run, self.subrun)),
                "muons_file": str(paths.dl1a_dir / muons_name(self.run, self.subrun)),
                "dl1b_file": str(paths.dl1b_dir / dl1_name(self.run, self.subrun)),
                "datacheck_file": str(paths.datacheck_dir / datacheck_name(self.run, self.subrun)),
            }
        )
        if self.config.night.workflow == "per_run":
            record = read_record(paths.run_calibration_record(self.run))
            values["dl1ab_config"] = record.tailcuts.config if record else None
            if record and record.catb.ok and self.config.analysis.apply_catb:
                values["catb_file"] = record.catb.file
        return values

    def step(self, name: str) -> StepPlan:
        values = self.values()
        argv = render(command_template(self.config, name), values)
        inputs, outputs, config_file = _io(name, values, self.config)
        if name == "dl1ab" and self.config.night.workflow == "per_run":
            record = NightPaths(self.config, self.night).run_calibration_record(self.run)
            inputs = (*inputs, record)
            config_file = Path(values["dl1ab_config"]) if values["dl1ab_config"] else None
            if values["catb_file"]:
                inputs = (*inputs, Path(values["catb_file"]))
        return StepPlan(
            name=name,
            argv=argv,
            inputs=inputs,
            outputs=outputs,
            config_file=config_file,
            create_output_dirs=name not in CALIBRATION_STEPS,
            notice=(
                partial(gain_selection_notice, Path(str(values["gain_selection_log"])))
                if name == "r0_to_r0g"
                else None
            ),
        )


#: What lstosa looks for in lstchain_r0_to_r0g's logs: flat-field-like events the DAQ did
#: not tag as such are gain-selected as if they were showers (a DAQ trigger problem).
GAIN_SELECTION_WARNINGS = ("FlatField(FF)-like events are not tagged as FF",)


def gain_selection_notice(log_file: Path) -> str:
    """The gain selection's warnings worth a shifter's eye, from the tool's log."""
    try:
        with log_file.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                for warning in GAIN_SELECTION_WARNINGS:
                    if warning in line:
                        return f"warning: {warning}"
    except OSError:
        return ""
    return ""


def r0_input(paths: NightPaths, run: int, subrun: int) -> Path:
    """Stream 1 of the subrun, or the lowest stream present (the reader finds the others):
    in R0G once gain-selected (``input_state = "legacy_raw"``), else in R0."""
    file = paths.r0g_file if paths.config.night.input_state == "legacy_raw" else paths.r0_file
    first = file(run, subrun, 1)
    if first.exists():
        return first
    for stream in range(2, paths.config.night.streams + 1):
        candidate = file(run, subrun, stream)
        if candidate.exists():
            return candidate
    return first


def _io(
    name: str, values: dict[str, str | None], config: Config
) -> tuple[tuple[Path, ...], tuple[Path, ...], Path | None]:
    """Inputs, outputs and config file of a subrun or calibration step."""
    p = {
        k: Path(v)
        for k, v in values.items()
        if v is not None and (k.endswith(("_file", "_dir")) or k in ("drive_log", "run_summary"))
    }
    analysis = config.analysis
    if name == "r0_to_dl1":
        # every file the tool reads, so the provenance links DL1 to its calibration too
        inputs = [p["r0_file"], p["drive_log"], p["run_summary"]]
        inputs += [
            p[k]
            for k in ("drs4_file", "calib_file", "time_calib_file", "systematics_file")
            if k in p
        ]
        return tuple(inputs), (p["dl1a_file"], p["muons_file"]), analysis.lstchain_config
    if name == "r0_to_r0g":
        raw = p["r0_raw_file"]
        streams = range(1, config.night.streams + 1)
        outputs = tuple(p["r0g_dir"] / raw.name.replace("LST-1.1.", f"LST-1.{s}.") for s in streams)
        return (raw,), outputs, None
    if name == "dl1ab":
        return (p["dl1a_file"],), (p["dl1b_file"],), analysis.dl1ab_config
    if name == "datacheck":
        return (p["dl1b_file"],), (p["datacheck_file"],), None
    if name == "drs4_baseline":
        return (), (p["drs4_file"],), None
    if name == "calibration":
        return (p["drs4_file"],), (p["calib_file"],), analysis.calibration_config
    raise KeyError(name)
