"""Every naming rule of the night (SPEC §1, §3, §4) lives here and nowhere else.

File names are built only from validated integers (run, subrun, stream) and validated
production ids, and every path is checked to stay inside its tree, so nothing read from a
RunSummary, a catalog or a file name can make a path escape the night's folders.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from osa_core.config import Config
from osa_core.errors import InputError

TELESCOPE_FILE_TAG = "LST-1"
NIGHT_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
R0_RE = re.compile(
    r"^LST-1\.(?P<stream>[1-9])\.Run(?P<run>[0-9]{5,6})\.(?P<subrun>[0-9]{4,5})\.fits\.fz$"
)
SUBRUN_FILE_RE = re.compile(r"Run(?P<run>[0-9]{5,6})\.(?P<subrun>[0-9]{4,5})")
RUN_FILE_RE = re.compile(r"Run(?P<run>[0-9]{5,6})")


def parse_night(text: str) -> dt.date:
    """``YYYY-MM-DD`` (or ``YYYYMMDD``) into a date, with a one-line error otherwise."""
    candidate = text.strip()
    if re.fullmatch(r"[0-9]{8}", candidate):
        candidate = f"{candidate[:4]}-{candidate[4:6]}-{candidate[6:]}"
    if not NIGHT_RE.match(candidate):
        raise InputError(f"--date: expected a night like 2020-02-18, got {text!r}")
    try:
        return dt.date.fromisoformat(candidate)
    except ValueError:
        raise InputError(f"--date: not a calendar date: {text!r}") from None


def night_folder(night: dt.date) -> str:
    """Folders use ``YYYYMMDD``."""
    return night.strftime("%Y%m%d")


def _check_run(run: int) -> int:
    if not isinstance(run, int) or isinstance(run, bool) or not 0 <= run < 1_000_000:
        raise ValueError(f"run number out of range: {run!r}")
    return run


def _check_subrun(subrun: int) -> int:
    if not isinstance(subrun, int) or isinstance(subrun, bool) or not 0 <= subrun < 100_000:
        raise ValueError(f"subrun number out of range: {subrun!r}")
    return subrun


def r0_name(stream: int, run: int, subrun: int) -> str:
    """``LST-1.{stream}.Run{run:05d}.{subrun:04d}.fits.fz``."""
    return f"{TELESCOPE_FILE_TAG}.{stream}.{run_tag(run, subrun)}.fits.fz"


def run_tag(run: int, subrun: int | None = None) -> str:
    """``Run02008`` or ``Run02008.0003``: the stem shared by every product name."""
    tag = f"Run{_check_run(run):05d}"
    return tag if subrun is None else f"{tag}.{_check_subrun(subrun):04d}"


def dl1_name(run: int, subrun: int | None = None) -> str:
    return f"dl1_{TELESCOPE_FILE_TAG}.{run_tag(run, subrun)}.h5"


def muons_name(run: int, subrun: int | None = None) -> str:
    return f"muons_{TELESCOPE_FILE_TAG}.{run_tag(run, subrun)}.fits"


def datacheck_name(run: int, subrun: int | None = None) -> str:
    return f"datacheck_dl1_{TELESCOPE_FILE_TAG}.{run_tag(run, subrun)}.h5"


def dl2_name(run: int) -> str:
    return f"dl2_{TELESCOPE_FILE_TAG}.{run_tag(run)}.h5"


def drs4_name(run: int) -> str:
    return f"drs4_pedestal.{run_tag(run, 0)}.h5"


def calibration_name(run: int, filters: int) -> str:
    return f"calibration_filters_{int(filters)}.{run_tag(run, 0)}.h5"


def sequence_name(telescope: str, run: int) -> str:
    """``sequence_LST1_02008``: names the job script and the SLURM job."""
    return f"sequence_{telescope}_{_check_run(run):05d}"


def within(root: Path, path: Path) -> Path:
    """Return ``path`` if it is inside ``root`` (after resolving ``..``), else raise."""
    resolved_root = root.resolve()
    resolved = path.resolve()
    if resolved != resolved_root and resolved_root not in resolved.parents:
        raise InputError(f"{path}: refuses a path outside {root}")
    return path


_SCRIPT_PREFIX = {
    "CALIBRATION": "calibration",
    "GAIN_SELECTION": "gainsel",
    "DATA": "sequence",
    "DL1A": "dl1a",
    "RUN_CALIBRATION": "runcal",
    "DL1B": "dl1b",
}


@dataclass(frozen=True)
class NightPaths:
    """All folders and files of one night for one configuration."""

    config: Config
    night: dt.date

    @property
    def folder(self) -> str:
        return night_folder(self.night)

    # --- inputs -------------------------------------------------------------------------
    @property
    def run_summary(self) -> Path:
        return self.config.paths.run_summary / f"RunSummary_{self.folder}.ecsv"

    @property
    def run_catalog(self) -> Path:
        return self.config.paths.run_catalog / f"RunCatalog_{self.folder}.ecsv"

    @property
    def r0_dir(self) -> Path:
        return self.config.paths.r0 / self.folder

    def r0_file(self, run: int, subrun: int, stream: int = 1) -> Path:
        return self.r0_dir / r0_name(stream, run, subrun)

    @property
    def r0g_dir(self) -> Path:
        """Gain-selected copies (R0G): what everything reads with ``input_state =
        "legacy_raw"``."""
        return self.config.paths.r0g / self.folder

    def r0g_file(self, run: int, subrun: int, stream: int = 1) -> Path:
        return self.r0g_dir / r0_name(stream, run, subrun)

    @property
    def gain_selection_dir(self) -> Path:
        return self.config.paths.gain_selection / self.folder

    @property
    def gain_selection_finished(self) -> Path:
        """Written once every subrun of the night is gain-selected (lstosa's flag)."""
        return self.gain_selection_dir / "GainSelFinished.txt"

    def gain_selection_log(self, run: int, subrun: int) -> Path:
        return self.gain_selection_dir / "log" / f"r0_to_r0g_{run_tag(run, subrun)}.log"

    @property
    def run_summary_complete(self) -> Path:
        """``RunSummary_YYYYMMDD.complete``: the DAQ says the night's RunSummary is final."""
        return self.run_summary.with_suffix(".complete")

    @property
    def drive_log(self) -> Path:
        return self.config.paths.drive_log / f"DrivePosition_log_{self.folder}.txt"

    # --- calibration products (Cat-A) --------------------------------------------------
    @property
    def drs4_dir(self) -> Path:
        base = self.config.paths.pixel_calibration / "drs4_baseline" / self.folder
        return base / self.config.production.calibration_version

    @property
    def calibration_dir(self) -> Path:
        base = self.config.paths.pixel_calibration / "calibration" / self.folder
        return base / self.config.production.calibration_version

    @property
    def catb_dir(self) -> Path:
        """``Cat-B/calibration/YYYYMMDD``: the onsite tool adds its version folder (and a
        ``pro`` link) below."""
        return self.config.paths.catb_calibration / "calibration" / self.folder

    @property
    def tailcuts_dir(self) -> Path:
        """Where the tail-cut finder writes ``dl1ab_RunNNNNN.json`` and its log."""
        root = self.config.paths.tailcuts
        return within(root, root / self.folder / self.config.production.prod_id)

    def drs4_file(self, run: int) -> Path:
        return self.drs4_dir / drs4_name(run)

    def calibration_file(self, run: int, filters: int) -> Path:
        """The Cat-A charge calibration of a PEDCALIB run (its name carries the filters)."""
        return self.calibration_dir / calibration_name(run, filters)

    # --- running analysis tree -----------------------------------------------------------
    @cached_property
    def running(self) -> Path:
        """``running_analysis/YYYYMMDD/<prod_id>``: everything jobs write during the night."""
        root = self.config.paths.running_analysis
        return within(root, root / self.folder / self.config.production.prod_id)

    @property
    def jobs_dir(self) -> Path:
        return self.running / "jobs"

    @property
    def log_dir(self) -> Path:
        return self.running / "log"

    @property
    def history_dir(self) -> Path:
        return self.running / "history"

    @property
    def dl1a_dir(self) -> Path:
        return self.running / "dl1a"

    @property
    def dl1b_dir(self) -> Path:
        return self.running / "dl1b"

    @property
    def datacheck_dir(self) -> Path:
        return self.running / "datacheck"

    @property
    def close_dir(self) -> Path:
        """Where the closer stages merged products before moving them to the final tree."""
        return self.running / "close"

    @cached_property
    def close(self) -> CloseLayout:
        """The closer's staging, products and records."""
        return CloseLayout(self)

    def history_file(self, run: int, subrun: int) -> Path:
        return self.history_dir / f"{run_tag(run, subrun)}.jsonl"

    def run_history(self, run: int) -> Path:
        """The history of a run's phase-2 steps (Cat-B, tail cuts)."""
        return self.history_dir / f"{run_tag(run)}.runcal.jsonl"

    @property
    def run_calibration_dir(self) -> Path:
        return self.running / "runcal"

    def run_calibration_record(self, run: int) -> Path:
        """What a run's phase 2 decided (osa_core.run_calibration)."""
        return self.run_calibration_dir / f"{run_tag(run)}.json"

    def job_script(self, kind: str, run: int) -> Path:
        prefix = _SCRIPT_PREFIX.get(kind, "sequence")
        return self.jobs_dir / f"{prefix}_{self.config.night.telescope}_{_check_run(run):05d}.sh"

    def job_name(self, kind: str, run: int, tag: str) -> str:
        """The scheduler's job name: names the night, the kind and the run, so a job whose
        id was lost is found again by name (``osa_20200218_dat_02008``)."""
        return f"osa_{self.folder}_{tag}_{_check_run(run):05d}"

    def log_pattern(self, run: int, suffix: str) -> Path:
        """SLURM ``--output`` pattern: ``Run02008.%4a_%A.out`` (array index zero-padded)."""
        return self.log_dir / f"{run_tag(run)}.%4a_%A.{suffix}"

    def log_file(self, run: int, subrun: int, job_id: str, suffix: str) -> Path:
        """The concrete log file a task writes (the pattern above, expanded)."""
        return self.log_dir / f"{run_tag(run, subrun)}_{job_id}.{suffix}"

    def run_calibration_log_pattern(self, run: int, suffix: str) -> Path:
        """A run's phase-2 job ``--output``: ``runcal_Run02008_%j.out``."""
        return self.log_dir / f"runcal_{run_tag(run)}_%j.{suffix}"

    def run_calibration_log_file(self, run: int, job_id: str, suffix: str) -> Path:
        return self.log_dir / f"runcal_{run_tag(run)}_{job_id}.{suffix}"

    def calibration_log_pattern(self, run: int, suffix: str) -> Path:
        """The calibration job's ``--output``: ``calibration_Run02006_%j.out``."""
        return self.log_dir / f"calibration_{run_tag(run)}_%j.{suffix}"

    def calibration_log_file(self, run: int, job_id: str, suffix: str) -> Path:
        return self.log_dir / f"calibration_{run_tag(run)}_{job_id}.{suffix}"

    def close_log_pattern(self, which: str, suffix: str) -> Path:
        """Close jobs' ``--output``: an array over runs (``close_runs.%4a_%A.out``), or the
        night's finish (``close_night_%j.out``)."""
        if which == "runs":
            return self.log_dir / f"close_runs.%4a_%A.{suffix}"
        return self.log_dir / f"close_night_%j.{suffix}"

    # --- state -----------------------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        """``OSA/state/YYYYMMDD/<prod_id>``: journal, lock, snapshots of one production of
        the night (a reprocessing campaign never shares them with the nightly one)."""
        root = self.config.paths.state
        return within(root, root / self.folder / self.config.production.prod_id)

    @property
    def journal(self) -> Path:
        return self.state_dir / "journal.jsonl"

    @property
    def lock(self) -> Path:
        return self.state_dir / "actions.lock"

    @property
    def plan_cache(self) -> Path:
        return self.state_dir / "plan-cache.json"

    # --- final tree -------------------------------------------------------------------------
    @property
    def final_dl1(self) -> Path:
        """The final DL1 folder for the configured (fixed) cleaning id."""
        return self.final_dl1_of(self.config.production.dl1_prod_id)

    @property
    def final_dl1_root(self) -> Path:
        """``DL1/YYYYMMDD/<prod_id>``: DL1a, muons, interleaved; one folder per cleaning id
        below it (a night's runs may have different ones)."""
        root = self.config.paths.dl1
        return within(root, root / self.folder / self.config.production.prod_id)

    @property
    def final_night_dl1(self) -> Path:
        """Where the night's own products go (logs, provenance, DQ report): the cleaning
        folder with one cleaning for the night, the production folder with per-run ones."""
        return self.final_dl1 if self.config.night.workflow == "fixed" else self.final_dl1_root

    def final_dl1_of(self, dl1_prod_id: str) -> Path:
        root = self.config.paths.dl1
        return (
            within(root, self.final_dl1_root / dl1_prod_id) if dl1_prod_id else self.final_dl1_root
        )

    def final_dl2_of(self, dl2_prod_id: str) -> Path:
        root = self.config.paths.dl2
        base = root / self.folder / self.config.production.prod_id
        return within(root, base / dl2_prod_id if dl2_prod_id else base)

    @property
    def longterm_file(self) -> Path:
        """The night-wise datacheck where the site's pages read it:
        ``DL1/datacheck_files/night_wise/<prod_id>/YYYYMMDD/DL1_datacheck_YYYYMMDD.h5``."""
        root = self.config.paths.dl1
        return within(
            root,
            root
            / "datacheck_files"
            / "night_wise"
            / self.config.production.prod_id
            / self.folder
            / f"DL1_datacheck_{self.folder}.h5",
        )

    def longterm_link(self, suffix: str = "h5") -> Path:
        """``DL1/datacheck_files/night_wise/DL1_datacheck_YYYYMMDD.<ext>``: the link the
        pages follow to the newest production's night-wise file."""
        return self.longterm_file.parent.parent.parent / f"DL1_datacheck_{self.folder}.{suffix}"

    @property
    def final_dl2(self) -> Path:
        """The final DL2 folder for the configured (fixed) ids."""
        return self.final_dl2_of(self.config.production.dl2_prod_id)

    @property
    def closer_dir(self) -> Path:
        root = self.config.paths.closer
        return within(root, root / self.folder / self.config.production.prod_id)

    @property
    def closer_lock(self) -> Path:
        """Held by the job closing the night (it appends to the journal under it)."""
        return self.closer_dir / "closer.lock"

    @property
    def night_finished(self) -> Path:
        return self.closer_dir / "NightFinished.txt"

    @property
    def manifest(self) -> Path:
        return self.closer_dir / "manifest.json"


@dataclass(frozen=True)
class CloseLayout:
    """Where the closer stages, writes and moves things.

    Before closing, products live in the running tree; per-run close products are made
    under ``running/.../close/``; finalising moves everything to the final DL1/DL2 tree
    (SPEC §4)."""

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
        return self.paths.final_night_dl1 / "log" / "provenance"
