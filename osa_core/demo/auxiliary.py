"""Auxiliary inputs of the lstchain chain that no lstchain tool makes for a demo night.

On site these come from other systems: the drive log from the telescope drive, the RunSummary
from the DAQ (``lstchain_create_run_summary``, which needs the TCU database to type runs),
the DRS4 time-sampling calibration from a dedicated long flat-field run, the F-factor
systematics from an intensity scan, and random-forest models from a Monte Carlo production.
For the demo we write neutral stand-ins that the real tools accept:

- drive log: constant pointing, one row per second, the format ``PointingSource`` reads;
- time calibration: Fourier coefficients all zero (= no DRS4 time-sampling correction);
- F-factor systematics: quadratic term ``B_term`` zero (= no systematic correction);
- RunSummary: the columns ``lstchain_create_run_summary`` writes, with the dragon reference
  counters of old-format (LSTCam) files read by lstchain itself and run types given by us;
- lstchain JSON configs derived from lstchain's own defaults with the few changes that
  tiny runs need;
- toy random-forest models trained by ``lstchain_mc_trainpipe`` on generated MC-like DL1,
  and the same forests laid out as the site's AllSky tree (NSB tunings x declination lines)
  so that each run's models are chosen as on site.
  They are **toy models**: their DL2 numbers mean nothing physically.

Every heavy import (numpy, astropy, h5py, lstchain) is inside the function that needs it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "CAT_A_DIR",
    "TOY_MODELS_README",
    "RunSummaryRow",
    "lstchain_tool",
    "systematics_path",
    "time_calibration_path",
    "train_toy_models",
    "write_drive_log",
    "write_lstchain_configs",
    "write_run_summary",
    "write_systematics_file",
    "write_time_calibration_file",
    "write_toy_allsky_tree",
    "write_toy_mc_dl1",
]

#: Cat-A pixel calibration tree below the base dir (lstchain.onsite.CAT_A_PIXEL_DIR).
CAT_A_DIR = Path("monitoring/PixelCalibration/Cat-A")

N_PIXELS = 1855
N_GAINS = 2
#: Number of Fourier harmonics lstchain's time calibration writes (TimeCorrectionCalculate).
N_HARMONICS = 16

TOY_MODELS_README = "README_TOY_MODELS.txt"


def _atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary sibling and rename (no half-written files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp.{path.name}")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def lstchain_tool(name: str) -> str:
    """Absolute path of an lstchain console script installed next to this interpreter.

    The ``onsite_*`` scripts start ``lstchain_*`` tools by bare name, so the directory of the
    interpreter's scripts must also be on ``PATH`` of whatever runs them (see NOTES.md).
    """
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    return found or name


# ----------------------------------------------------------------------------- drive log


def write_drive_log(
    path: Path,
    start: datetime,
    end: datetime,
    azimuth_deg: float = 160.0,
    zenith_deg: float = 30.0,
    step_s: int = 1,
) -> Path:
    """Write a drive log ``DrivePosition_log_YYYYMMDD.txt`` covering ``[start, end]``.

    Format read by ``ctapipe_io_lst.PointingSource``: space separated, no header, one row
    ``unix_time azimuth_deg zenith_deg`` per report. Pointing is interpolated linearly
    between rows, so every event time must fall inside the covered span (else r0_to_dl1
    fails on interpolation out of range). The telescope here tracks nothing: it stays at a
    fixed alt/az, enough for DL1 pointing columns and for the RF features alt/az.
    """
    t0 = int(start.timestamp())
    t1 = int(end.timestamp()) + 1
    rows = (f"{t} {azimuth_deg:.6f} {zenith_deg:.6f}\n" for t in range(t0, t1 + 1, step_s))
    return _atomic_write_text(Path(path), "".join(rows))


# ------------------------------------------------------------------ calibration stand-ins


def time_calibration_path(base_dir: Path, date: str, prod_id: str, run: int) -> Path:
    """Where ``onsite_create_calibration_file`` looks for the DRS4 time-sampling file.

    It searches ``<Cat-A>/drs4_time_sampling_from_FF/*/<pro>/time_calibration.Run*.0000.h5``
    and takes the last run not after the flat-field run (``<pro>`` is ``pro``, a symlink, by
    default, or the version with ``--no_pro_symlink``).
    """
    return (
        Path(base_dir) / CAT_A_DIR / "drs4_time_sampling_from_FF" / date / prod_id
        / f"time_calibration.Run{run:05d}.0000.h5"
    )  # fmt: skip


def systematics_path(base_dir: Path, date: str, prod_id: str) -> Path:
    """Where ``onsite_create_calibration_file`` looks for the F-factor systematics file.

    Pattern ``<Cat-A>/ffactor_systematics/<date>/<pro>/ffactor_systematics_<date>.h5``; the
    newest date not after the night is used (else the oldest one).
    """
    return (
        Path(base_dir) / CAT_A_DIR / "ffactor_systematics" / date / prod_id
        / f"ffactor_systematics_{date}.h5"
    )  # fmt: skip


def _point_pro_link(version_dir: Path) -> None:
    """Make ``<version_dir>/../pro`` a relative symlink to ``version_dir`` (as lstchain does)."""
    link = version_dir.parent / "pro"
    if link.is_symlink() or link.exists():
        if link.is_symlink() and os.readlink(link) == version_dir.name:
            return
        link.unlink()
    link.symlink_to(version_dir.name)


def write_time_calibration_file(path: Path, pro_link: bool = True) -> Path:
    """Write a neutral DRS4 time-sampling calibration (all Fourier coefficients zero).

    Same layout as ``lstchain_data_create_time_calibration_file``: HDF5 datasets ``fan`` and
    ``fbn`` of shape (gains, pixels, harmonics) and attribute ``n_harm``. The real file needs
    a long flat-field run (tens of thousands of events) to fill per-capacitor histograms;
    zeros make ``ctapipe_io_lst`` apply a zero time correction. With ``pro_link`` the
    version folder also gets the ``pro`` symlink the onsite scripts search through.
    """
    # heavy (h5py, numpy): importing this module must stay cheap for the engine
    import h5py
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp.{path.name}")
    zeros = np.zeros((N_GAINS, N_PIXELS, N_HARMONICS))
    with h5py.File(tmp, "w") as f:
        f.create_dataset("fan", data=zeros)
        f.create_dataset("fbn", data=zeros)
        f.attrs["n_harm"] = N_HARMONICS
        f.attrs["osa_demo"] = "neutral stand-in: no DRS4 time-sampling correction"
    os.replace(tmp, path)
    if pro_link:
        _point_pro_link(path.parent)
    return path


def write_systematics_file(path: Path, pro_link: bool = True) -> Path:
    """Write a neutral F-factor systematics file (quadratic term zero in every pixel).

    Layout of ``lstchain_fit_intensity_scan``: datasets ``gain`` and ``B_term`` of shape
    (gains, pixels); ``LSTCalibrationCalculator`` reads ``B_term`` only. The real file comes
    from fitting a flat-field intensity scan.
    """
    # heavy (h5py, numpy): importing this module must stay cheap for the engine
    import h5py
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp.{path.name}")
    with h5py.File(tmp, "w") as f:
        f.create_dataset("gain", data=np.ones((N_GAINS, N_PIXELS)))
        f.create_dataset("B_term", data=np.zeros((N_GAINS, N_PIXELS)))
        f.attrs["osa_demo"] = "neutral stand-in: no F-factor systematic correction"
    os.replace(tmp, path)
    if pro_link:
        _point_pro_link(path.parent)
    return path


# ----------------------------------------------------------------------------- RunSummary


@dataclass(frozen=True)
class RunSummaryRow:
    """One run of the night as the RunSummary lists it.

    ``first_file`` is stream 1 of subrun 0; for old-format (LSTCam protobuf) files it is
    opened to read the dragon reference counters that ``EventTimeCalculator`` needs.
    """

    run_id: int
    n_subruns: int
    run_type: str
    run_start: datetime
    first_file: Path


def write_run_summary(path: Path, rows: Iterable[RunSummaryRow], date: str) -> Path:
    """Write ``RunSummary_YYYYMMDD.ecsv`` with the columns of ``lstchain_create_run_summary``.

    Columns: ``run_id, n_subruns, run_type, data_format, evb_preprocessing, ucts_timestamp,
    run_start, dragon_reference_time, dragon_reference_module_id,
    dragon_reference_module_index, dragon_reference_counter, dragon_reference_source``.

    What the tools read: ``EventTimeCalculator`` (r0_to_dl1, calibration) indexes by
    ``run_id`` and uses ``dragon_reference_time/counter/module_index/source`` - only for
    old-format files; CTA-R1 files carry absolute event times and ignore them. The values
    must come from the first event of the run's subrun 0, so we let lstchain's own reader
    extract them. ``run_type`` is ours to give: lstchain's guess needs >= 500 events.
    """
    # heavy (numpy, astropy, lstchain): importing this module must stay cheap for the engine
    import numpy as np
    from astropy.table import Table
    from astropy.time import Time
    from lstchain import __version__ as lstchain_version
    from lstchain.scripts import lstchain_create_run_summary as lcrs

    dtypes = {
        "ucts_timestamp": np.int64,
        "run_start": np.int64,
        "dragon_reference_time": np.int64,
        "dragon_reference_module_id": np.int16,
        "dragon_reference_module_index": np.int16,
        "dragon_reference_counter": np.uint64,
        "dragon_reference_source": str,
    }
    rows = sorted(rows, key=lambda r: r.run_id)
    columns: dict[str, list[Any]] = {name: [] for name in dtypes}
    formats, preprocessing = [], []
    for row in rows:
        counters = _dragon_reference(Path(row.first_file))
        if counters["run_start"] == -1:
            counters["run_start"] = round(Time(row.run_start).unix_tai) * 1_000_000_000
        for name in dtypes:
            columns[name].append(counters[name])
        date_path, run = Path(row.first_file).parent, row.run_id
        formats.append(lcrs.get_data_format(date_path, run))
        preprocessing.append(lcrs.get_evb_preprocessing(date_path, run))

    table = Table({name: np.array(columns[name], dtype=dt) for name, dt in dtypes.items()})
    table.add_column([r.run_id for r in rows], name="run_id", index=0)
    table.add_column([r.n_subruns for r in rows], name="n_subruns", index=1)
    table.add_column([r.run_type for r in rows], name="run_type", index=2)
    table.add_column(formats, name="data_format", index=3)
    table.add_column(preprocessing, name="evb_preprocessing", index=4)
    table.meta["date"] = datetime.strptime(date, "%Y%m%d").date().isoformat()
    table.meta["lstchain_version"] = lstchain_version
    table.meta["osa_demo"] = "written by osa_core.demo, not by lstchain_create_run_summary"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp.{path.name}")
    table.write(tmp, format="ascii.ecsv", delimiter=",", overwrite=True)
    os.replace(tmp, path)
    return path


def _dragon_reference(first_file: Path) -> dict[str, Any]:
    """Dragon/UCTS reference values of a run from the first event of its stream-1 file.

    Old-format (LSTCam protobuf, before 2022) files need them to turn dragon counters into
    event times; CTA-R1 files carry absolute times, and the columns stay at lstchain's
    defaults (-1, source ``none``). lstchain's own reader insists on event_id 1, which is in
    another stream for the 50-event real file (ids 3, 7, 11, ...): any event of the run
    gives a valid (time, counter) pair, so we take the first event of the given file.
    """
    # heavy (numpy, astropy, ctapipe, protozfits): importing this module must stay cheap
    import numpy as np
    from astropy.time import Time
    from ctapipe_io_lst.anyarray_dtypes import (
        CDTS_AFTER_37201_DTYPE,
        CDTS_BEFORE_37201_DTYPE,
        DRAGON_COUNTERS_DTYPE,
    )
    from ctapipe_io_lst.event_time import combine_counters
    from protozfits import File

    defaults: dict[str, Any] = {
        "ucts_timestamp": -1,
        "run_start": -1,
        "dragon_reference_time": -1,
        "dragon_reference_module_id": -1,
        "dragon_reference_module_index": -1,
        "dragon_reference_counter": 0,
        "dragon_reference_source": "none",
    }
    with File(str(first_file)) as f:
        if not hasattr(f, "CameraConfig"):  # CTA-R1 (EVBv6) layout
            return defaults
        config = f.CameraConfig[0]
        event = next(iter(f.Events))
    lstcam = event.lstcam
    module_index = int(np.flatnonzero(lstcam.module_status)[0])
    module_id = int(config.lstcam.expected_modules_id[module_index])
    counters = lstcam.counters.view(DRAGON_COUNTERS_DTYPE)
    counter = combine_counters(
        counters["pps_counter"][module_index], counters["tenMHz_counter"][module_index]
    )
    run_start = round(Time(config.date, format="unix").unix_tai) * 1_000_000_000
    if lstcam.extdevices_presence & 2:
        new_cdts = int(config.lstcam.idaq_version) > 37201
        dtype = CDTS_AFTER_37201_DTYPE if new_cdts else CDTS_BEFORE_37201_DTYPE
        ucts = int(lstcam.cdts_data.view(dtype)["timestamp"][0])
        reference, source = ucts, "ucts"
    else:
        ucts, reference, source = -1, run_start, "run_start"
    return {
        "ucts_timestamp": ucts,
        "run_start": run_start,
        "dragon_reference_time": reference,
        "dragon_reference_module_id": module_id,
        "dragon_reference_module_index": module_index,
        "dragon_reference_counter": int(counter),
        "dragon_reference_source": source,
    }


# ------------------------------------------------------------------------ lstchain configs


def _deep_update(target: dict[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Recursively merge ``changes`` into ``target`` (dicts merged, other values replaced)."""
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value
    return target


#: Changes to lstchain's standard analysis config for the demo: none are needed. Tiny
#: subruns never reach the 10000 interleaved events after which r0_to_dl1 would update the
#: calibration, so the Cat-A file is used throughout, as on site for a short subrun.
STANDARD_CONFIG_CHANGES: dict[str, Any] = {}

#: Changes to lstchain's onsite calibration config for tiny PEDCALIB runs.
CALIBRATION_CONFIG_CHANGES: dict[str, Any] = {
    # the default skips the first 1000 events (badly DRS4-corrected at run start); a demo
    # PEDCALIB run has ~100 events, so skip none.
    "CalibrationHDF5Writer": {"events_to_skip": 0},
    # read only the subrun that is given (the default iterates over all subruns).
    "LSTEventSource": {"MultiFiles": {"all_subruns": False}},
}


def write_lstchain_configs(config_dir: Path) -> dict[str, Path]:
    """Write the demo's lstchain JSON configs and return them by role.

    Roles: ``analysis`` (r0_to_dl1, dl1ab, dl1_to_dl2 and mc_trainpipe: lstchain's
    standard config, written out so the demo records exactly what ran) and ``calibration``
    (onsite calibration config with ``events_to_skip`` 0). Both start from the files that
    ship with the installed lstchain, so they follow its version.
    """
    # heavy (lstchain imports ctapipe): importing this module must stay cheap for the engine
    from lstchain.io.config import get_standard_config
    from lstchain.onsite import DEFAULT_CONFIG

    config_dir = Path(config_dir)
    analysis = _deep_update(get_standard_config(), STANDARD_CONFIG_CHANGES)
    calibration = _deep_update(
        json.loads(Path(DEFAULT_CONFIG).read_text()), CALIBRATION_CONFIG_CHANGES
    )
    out = {
        "analysis": config_dir / "lstchain_demo_analysis.json",
        "calibration": config_dir / "lstchain_demo_calibration.json",
    }
    _atomic_write_text(out["analysis"], json.dumps(analysis, indent=2, default=_json_default))
    _atomic_write_text(out["calibration"], json.dumps(calibration, indent=2))
    return out


def _json_default(value: Any) -> Any:
    """Serialise the few non-JSON values lstchain's config holds (Paths)."""
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


# ---------------------------------------------------------------------------- toy models


#: Pointing of the toy MC and of the demo drive log (alt 60 deg = zenith 30 deg).
TOY_POINTING_ALT_DEG = 60.0
TOY_POINTING_AZ_DEG = 160.0
_MC_TYPE = {"gamma": 0, "proton": 101}
_DEG_TO_M = 29.30565 * 3.141592653589793 / 180.0  # camera metres per degree (f_eff)


def write_toy_mc_dl1(
    path: Path,
    particle: str,
    n_events: int,
    seed: int = 0,
    alt_deg: float = TOY_POINTING_ALT_DEG,
    az_deg: float = TOY_POINTING_AZ_DEG,
) -> Path:
    """Write an MC-like DL1 file with the columns ``lstchain_mc_trainpipe`` reads.

    Not a simulation: Hillas-like parameters are drawn from simple distributions that make
    gammas (``mc_type`` 0, point source 0.4 deg off axis, narrow images whose major axis
    points back to the source, intensity growing with energy) separable from protons
    (``mc_type`` 101, diffuse, broader images). What matters is the file contract:
    table ``/dl1/event/telescope/parameters/LST_LSTCam`` with the DL1 image parameters,
    pointing (``alt_tel``, ``az_tel``, ``mc_alt_tel``, ``mc_az_tel``) and truth
    (``mc_energy``, ``log_mc_energy``, ``mc_alt``, ``mc_az``, ``mc_type``), plus the LST
    subarray description (training reads the effective focal length from it and fails on
    a file without one).
    """
    # heavy (numpy, pandas, ctapipe): importing this module must stay cheap for the engine
    import numpy as np
    import pandas as pd
    from ctapipe_io_lst import LSTEventSource

    if particle not in _MC_TYPE:
        raise ValueError(f"particle must be one of {sorted(_MC_TYPE)}")
    rng = np.random.default_rng([seed, _MC_TYPE[particle]])
    n = n_events
    gamma = particle == "gamma"
    alt_tel, az_tel = np.radians(alt_deg), np.radians(az_deg)

    # energy: E^-2 between 20 GeV and 20 TeV (protons shifted up: they yield less light)
    log_e = np.log10(0.02) + 3.0 * (1.0 - np.sqrt(rng.uniform(0.0, 1.0, n)))
    if not gamma:
        log_e = log_e + 0.5
    light = 2.3 + log_e - (0.0 if gamma else 0.45)
    log_intensity = np.clip(light + rng.normal(0.0, 0.15, n), 1.3, 5.0)

    # true direction: gammas from a point source 0.4 deg off axis, protons diffuse (< 4 deg)
    offset: NDArray[np.float64]
    angle: NDArray[np.float64]
    if gamma:
        offset = np.full(n, 0.4)
        angle = np.full(n, np.pi / 2.0)
    else:
        offset = 4.0 * np.sqrt(rng.uniform(0.0, 1.0, n))
        angle = rng.uniform(0.0, 2.0 * np.pi, n)
    mc_alt = alt_tel + np.radians(offset * np.sin(angle))
    mc_az = az_tel + np.radians(offset * np.cos(angle)) / np.cos(alt_tel)
    src_x = -offset * np.sin(angle) * _DEG_TO_M  # approximate camera frame, metres
    src_y = -offset * np.cos(angle) * _DEG_TO_M

    # image: centroid displaced from the source along the major axis by disp
    psi = rng.uniform(-np.pi / 2.0, np.pi / 2.0, n)
    disp = np.clip(rng.normal(0.5 + 0.25 * (log_intensity - 2.0), 0.15, n), 0.05, 1.5)
    sign = rng.choice([-1.0, 1.0], n)
    x = src_x + sign * disp * np.cos(psi)
    y = src_y + sign * disp * np.sin(psi)
    if not gamma:  # hadron images point nowhere in particular
        psi = rng.uniform(-np.pi / 2.0, np.pi / 2.0, n)
    width = np.abs(rng.normal(0.02 if gamma else 0.05, 0.006 if gamma else 0.02, n)) + 0.005
    width = width * (1.0 + 0.15 * (log_intensity - 2.0))
    length = width * np.abs(rng.normal(2.5 if gamma else 1.8, 0.6, n)) + 0.01
    # gammas: the time gradient points along the shower axis, away from the source
    gradient = np.abs(rng.normal(6.0, 3.0, n))
    time_gradient = sign * gradient if gamma else rng.normal(0.0, 6.0, n)
    leakage = np.clip(rng.exponential(0.02, n) * (np.hypot(x, y) / 0.8) ** 2, 0.0, 1.0)

    intensity = 10.0**log_intensity
    df = pd.DataFrame(
        {
            "obs_id": np.ones(n, dtype=np.int64),
            "event_id": np.arange(1, n + 1, dtype=np.int64),
            "tel_id": np.ones(n, dtype=np.int64),
            "intensity": intensity,
            "log_intensity": log_intensity,
            "x": x,
            "y": y,
            "r": np.hypot(x, y),
            "phi": np.arctan2(y, x),
            "length": length,
            "length_uncertainty": 0.01 * length,
            "width": width,
            "width_uncertainty": 0.01 * width,
            "psi": psi,
            "skewness": rng.normal(0.3 * sign if gamma else 0.0, 0.3, n),
            "kurtosis": np.abs(rng.normal(2.5 if gamma else 3.0, 0.5, n)),
            "time_gradient": time_gradient,
            "intercept": rng.normal(18.0, 2.0, n),
            "leakage_intensity_width_1": 0.5 * leakage,
            "leakage_intensity_width_2": leakage,
            "leakage_pixels_width_1": 0.5 * leakage,
            "leakage_pixels_width_2": leakage,
            "n_pixels": np.maximum(5, (intensity / 15.0).astype(np.int64)),
            "n_islands": rng.choice([1, 2], n, p=[0.9, 0.1]) if gamma else rng.integers(1, 4, n),
            "concentration_cog": rng.uniform(0.1, 0.4, n),
            "concentration_core": rng.uniform(0.1, 0.4, n),
            "concentration_pixel": rng.uniform(0.05, 0.2, n),
            "wl": width / length,
            "event_type": np.full(n, 32, dtype=np.int64),
            "alt_tel": np.full(n, alt_tel),
            "az_tel": np.full(n, az_tel),
            "sin_az_tel": np.full(n, np.sin(az_tel)),
            "mc_alt_tel": np.full(n, alt_tel),
            "mc_az_tel": np.full(n, az_tel),
            "mc_energy": 10.0**log_e,
            "log_mc_energy": log_e,
            "mc_alt": mc_alt,
            "mc_az": mc_az,
            "mc_core_x": rng.uniform(-300.0, 300.0, n),
            "mc_core_y": rng.uniform(-300.0, 300.0, n),
            "mc_h_first_int": rng.uniform(1.5e4, 3.5e4, n),
            "mc_x_max": rng.normal(300.0, 50.0, n),
            "mc_type": np.full(n, _MC_TYPE[particle], dtype=np.int64),
        }
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp.{path.name}")
    tmp.unlink(missing_ok=True)
    LSTEventSource.create_subarray(tel_id=1).to_hdf(tmp)
    df.to_hdf(tmp, key="/dl1/event/telescope/parameters/LST_LSTCam", format="table")
    os.replace(tmp, path)
    return path


TOY_MODELS_TEXT = """TOY MODELS - NOT FOR SCIENCE

The random forests in this folder were trained by lstchain_mc_trainpipe on generated,
MC-LIKE DL1 parameters (osa_core.demo.auxiliary.write_toy_mc_dl1), not on a Monte Carlo
simulation of LST-1. They exist only so that lstchain_dl1_to_dl2 can run end to end in the
osa-console demo. Energies, directions and gammaness they produce are meaningless.
"""


def train_toy_models(
    out_dir: Path,
    config: Path | None = None,
    n_events: int = 3000,
    seed: int = 0,
    env: Mapping[str, str] | None = None,
) -> Path:
    """Train toy random forests with ``lstchain_mc_trainpipe`` into ``out_dir``; return it.

    Writes ``n_events`` toy gammas and protons to ``out_dir/toy_mc/`` and runs::

        lstchain_mc_trainpipe --fg {gamma} --fp {proton} -o {out_dir} [-c {config}]

    which saves ``reg_energy.sav``, ``reg_disp_norm.sav``, ``cls_disp_sign.sav`` and
    ``cls_gh.sav`` (the files ``lstchain_dl1_to_dl2 --path-models`` loads; no
    ``training_dirs.ecsv``, so DL2 runs without zenith interpolation and says so). A
    ``README_TOY_MODELS.txt`` marks the folder. Takes ~10-20 s and ~1 GB on 2 cores.
    """
    out_dir = Path(out_dir)
    mc_dir = out_dir / "toy_mc"
    gamma = write_toy_mc_dl1(mc_dir / "dl1_toy_gamma.h5", "gamma", n_events, seed)
    proton = write_toy_mc_dl1(mc_dir / "dl1_toy_proton.h5", "proton", n_events, seed)
    _atomic_write_text(out_dir / TOY_MODELS_README, TOY_MODELS_TEXT)
    cmd = [
        lstchain_tool("lstchain_mc_trainpipe"),
        f"--input-file-gamma={gamma}",
        f"--input-file-proton={proton}",
        f"--output-dir={out_dir}",
    ]
    if config is not None:
        cmd.append(f"--config={config}")
    subprocess.run(cmd, check=True, env=dict(env) if env is not None else None)
    return out_dir


TOY_ALLSKY_TEXT = """TOY MODELS - NOT FOR SCIENCE

This folder stands in for {what} of a Monte Carlo AllSky production, laid out as the
site lays its models out (<mc_prod>nsb_tuning_X.XX/dec_<line>/) so that the osa-console
demo chooses each run's models by its NSB and pointing declination. Every dec_* folder
holds the SAME toy random forests (links to {toy}), trained on generated MC-like DL1
parameters, not on a simulation of LST-1 at that NSB or declination. Energies, directions
and gammaness they produce are meaningless.
"""


def write_toy_allsky_tree(
    root: Path,
    toy_dir: Path,
    mc_prod: str,
    nsb_levels: Iterable[float],
    dec_lines: Iterable[str],
) -> Path:
    """Lay the toy models out as ``<root>/<mc_prod>nsb_tuning_X.XX/dec_<line>/``; return root.

    Production chooses a run's random forests from such a tree (one NSB tuning per tail-cut
    level, one declination line per pointing band); the demo has one set of toy forests, so
    every ``dec_*`` folder links to the ``*.sav`` files of ``toy_dir`` (relative links: the
    demo folder can be moved) instead of copying them. Each level of the tree gets its own
    README saying these are toys and what it stands in for, so nobody mistakes a folder
    for real models when browsing it alone.
    """
    root, toy_dir = Path(root), Path(toy_dir)
    forests = sorted(toy_dir.glob("*.sav"))
    if not forests:
        raise FileNotFoundError(f"no toy models (*.sav) in {toy_dir}: train them first")
    _atomic_write_text(
        root / TOY_MODELS_README,
        TOY_ALLSKY_TEXT.format(what="the models tree", toy=toy_dir.name),
    )
    for level in nsb_levels:
        nsb_dir = root / f"{mc_prod}nsb_tuning_{level:.2f}"
        _atomic_write_text(
            nsb_dir / TOY_MODELS_README,
            TOY_ALLSKY_TEXT.format(what=f"the NSB tuning {level:.2f}", toy=toy_dir.name),
        )
        for line in dec_lines:
            dec_dir = nsb_dir / line
            what = f"the NSB tuning {level:.2f}, declination line {line}"
            _atomic_write_text(
                dec_dir / TOY_MODELS_README, TOY_ALLSKY_TEXT.format(what=what, toy=toy_dir.name)
            )
            for forest in forests:
                link = dec_dir / forest.name
                if link.is_symlink() or link.exists():
                    link.unlink()
                link.symlink_to(os.path.relpath(forest, dec_dir))
    return root


# ------------------------------------------------------------------------ tool environment


def write_offline_astropy_config(config_home: Path) -> Path:
    """Write ``<config_home>/astropy/astropy.cfg`` turning off IERS auto-download.

    Without network, astropy tries to download IERS-A tables on every coordinate transform
    that needs polar motion and waits for each failure: ``lstchain_check_dl1`` spent 45 of
    56 s on 276 failed downloads for one 60-event subrun. Pointing ``XDG_CONFIG_HOME`` of the
    tools at ``config_home`` makes them use the bundled IERS-B table at once.
    """
    text = "[utils.iers.iers]\nauto_download = False\n"
    return _atomic_write_text(Path(config_home) / "astropy" / "astropy.cfg", text)


def tool_environment(
    config_home: Path | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment for lstchain tools started by the demo.

    - ``PATH`` starts with this interpreter's scripts folder: ``onsite_create_*`` start
      ``lstchain_create_*`` by bare name and fail with FileNotFoundError otherwise;
    - ``XDG_CONFIG_HOME`` (if given) holds the offline astropy config
      (:func:`write_offline_astropy_config`);
    - ``MPLBACKEND=Agg``: the onsite scripts and datachecks draw PDFs, no display needed.
    """
    env = dict(os.environ if base is None else base)
    scripts = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([scripts, env.get("PATH", "")]).rstrip(os.pathsep)
    if config_home is not None:
        env["XDG_CONFIG_HOME"] = str(config_home)
    env["MPLBACKEND"] = "Agg"
    return env
