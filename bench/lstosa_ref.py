"""The reference side of the benchmarks: lstosa's ``sequencer`` on a generated night.

lstosa (the production system osa-console replaces) pins ``numpy<2``, so it lives in its own
venv (``bench/.lstosa-venv``) and is only ever run as a subprocess: this module never imports
it. What it does:

- :func:`ensure_lstosa_venv` creates that venv and installs ``lstosa==0.11.10`` into it;
- :func:`prepare_lstosa_night` writes a night with our generator plus everything else
  lstosa's sequencer reads (merged RunSummary, tail-cut configs, RF model folders,
  Cat-A calibration files, gain-selection flag) and a cfg file pointing lstosa at it;
- :func:`run_lstosa_sequencer` runs ``sequencer --no-submit -t`` on it and measures wall
  time and peak RSS; :func:`time_lstosa_import` measures the import cost alone;
- :func:`run_lstosa_datasequence` runs the per-subrun ``datasequence`` wrapper in simulate
  mode, i.e. lstosa's own overhead per subrun without the lstchain tools;
- :func:`benchmark_lstosa` does all of it with medians; ``python bench/lstosa_ref.py``
  prints that as JSON.

What lstosa reads and why is written up in ``bench/README-lstosa.md``.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from osa_core.generator import NightSpec, generate_night

LSTOSA_VERSION = "0.11.10"
#: ``bench/.lstosa-venv`` of this repository, wherever the caller's working directory is
DEFAULT_VENV = Path(__file__).resolve().parent / ".lstosa-venv"
#: production id written into the cfg (``running_analysis/YYYYMMDD/<PROD_ID>``)
PROD_ID = "v0.12"
#: folder the Cat-A calibration files are put in; lstosa globs ``<major of PROD_ID>*``
CALIB_VERSION = "v0.12.3"
#: lstosa's offline filter-wheel guess in test mode (``get_calib_filters``)
CALIB_FILTERS = 52
#: picture/boundary thresholds of the tail-cut configs: gives the DL1b id ``tailcut84``
TAILCUTS = (8, 4)
#: NSB levels of the RF model folders that go with picture threshold 8 in lstosa
MODEL_NSB_LEVELS = (0.00, 0.07, 0.14, 0.22)
#: declination lines of the all-sky MC (``dec_2276`` = +22.76°, ``dec_min_413`` = -4.13°)
MODEL_DEC_LINES = (
    "dec_min_2924",
    "dec_min_1802",
    "dec_min_413",
    "dec_931",
    "dec_1803",
    "dec_2276",
    "dec_3476",
    "dec_4822",
    "dec_5573",
    "dec_6166",
    "dec_6671",
)
_SLURM_CLIENTS = ("sacct", "squeue", "sbatch", "scancel")
_IGNORED_PIP_NOISE = re.compile(r"is ignored|^\s*$")


def _venv_bin(venv: Path, name: str) -> Path:
    return venv / "bin" / name


def _installed_lstosa_version(venv: Path) -> str | None:
    """The lstosa version in ``venv`` (from its metadata, without importing it), or None."""
    python = _venv_bin(venv, "python")
    if not python.exists():
        return None
    probe = "import importlib.metadata as m; print(m.version('lstosa'))"
    result = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def ensure_lstosa_venv(path: Path = DEFAULT_VENV) -> Path:
    """Create (or reuse) a venv holding ``lstosa==0.11.10``; return the venv's path.

    The venv is made with ``python3 -m venv`` (the interpreter running this module) and
    filled with ``pip install --quiet``; pip's harmless "is ignored" warnings (local index
    paths in the machine's global pip config) are dropped from what is reported. An
    existing venv with the right lstosa version and a ``sequencer`` script is reused.

    Raises:
        RuntimeError: if the venv cannot be made or the install fails.
    """
    venv = path.resolve()
    if _venv_bin(venv, "sequencer").exists() and _installed_lstosa_version(venv) == LSTOSA_VERSION:
        return venv
    if not _venv_bin(venv, "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    result = subprocess.run(
        [
            str(_venv_bin(venv, "python")),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"lstosa=={LSTOSA_VERSION}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    noise_free = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if not _IGNORED_PIP_NOISE.search(line)
    ]
    if result.returncode != 0 or _installed_lstosa_version(venv) != LSTOSA_VERSION:
        tail = "\n".join(noise_free[-20:])
        raise RuntimeError(f"installing lstosa=={LSTOSA_VERSION} into {venv} failed:\n{tail}")
    return venv


def _site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if not found:
        raise FileNotFoundError(f"no site-packages under {venv}: run ensure_lstosa_venv first")
    return found[-1]


def packaged_cfg(venv: Path = DEFAULT_VENV) -> Path:
    """lstosa's own ``osa/configs/sequencer.cfg`` inside the venv (read, never changed)."""
    cfg = _site_packages(venv.resolve()) / "osa" / "configs" / "sequencer.cfg"
    if not cfg.exists():
        raise FileNotFoundError(f"{cfg} missing: run ensure_lstosa_venv first")
    return cfg


def set_cfg_values(text: str, values: dict[tuple[str, str], str]) -> str:
    """Replace ``key: value`` lines of an INI text, section by section, keeping the rest.

    A line-based edit rather than ``configparser.write``: the latter would drop the comments,
    and re-indent the YAML block of ``[PROVENANCE]`` with tabs, which lstosa then fails to
    parse. Every ``(section, key)`` must already exist (keys compare case-insensitively,
    as configparser does).

    Raises:
        KeyError: if a ``(section, key)`` is not in the text.
    """
    wanted = {(section, key.lower()): value for (section, key), value in values.items()}
    done: set[tuple[str, str]] = set()
    section = ""
    lines = []
    for line in text.splitlines(keepends=True):
        header = re.match(r"\[([^\]]+)\]\s*$", line)
        if header:
            section = header.group(1)
        entry = re.match(r"([A-Za-z0-9_\-]+)\s*[:=]", line)
        if entry and (section, entry.group(1).lower()) in wanted:
            where = (section, entry.group(1).lower())
            line = f"{entry.group(1)}: {wanted[where]}\n"
            done.add(where)
        lines.append(line)
    missing = sorted(set(wanted) - done)
    if missing:
        raise KeyError(f"not in the cfg: {missing}")
    return "".join(lines)


def _cfg_value(text: str, section: str, key: str) -> str:
    """A raw (uninterpolated) value from an INI text."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None, allow_no_value=True)
    parser.read_string(text)
    return parser.get(section, key)


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def _write_merged_summary(
    path: Path, night: dt.date, runs: Sequence[Any], history_runs: int
) -> None:
    """``OSA/Catalog/merged_RunSummary.ecsv``: every run ever taken, with its night.

    lstosa reads it (``get_run_date``) to find on which night the calibration runs were
    taken. ``history_runs`` earlier runs (25 a night, going back night by night) make it
    as long as production's, which holds every run since 2019.
    """
    from astropy.table import Table  # lazy: only preparation needs it

    rows = []
    for index in range(history_runs):
        run_id = index + 1
        day = night - dt.timedelta(days=1 + (history_runs - index - 1) // 25)
        run_type = ("DRS4", "PEDCALIB")[index % 25] if index % 25 < 2 else "DATA"
        start = f"{day.isoformat()}T21:{index % 60:02d}:00.000"
        rows.append((day.isoformat(), run_id, run_type, 100, start, 83.6, 22.0, 1.0, 3.0))
    start_of_night = dt.datetime.combine(night, dt.time(21, 0))
    for index, run in enumerate(runs):
        when = start_of_night + dt.timedelta(minutes=22 * index)
        ra, dec = (run.source[1], run.source[2]) if run.source else (0.0, 0.0)
        rows.append(
            (
                night.isoformat(),
                run.run,
                run.run_type,
                run.subruns,
                when.isoformat(timespec="milliseconds"),
                ra,
                dec,
                1.0,
                3.0,
            )
        )
    table = Table(
        rows=rows,
        names=["date", "run_id", "run_type", "n_subruns", "run_start", "ra", "dec", "alt", "az"],
        dtype=["str", "int64", "str", "int64", "str", "float64", "float64", "float64", "float64"],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    table.write(path, format="ascii.ecsv", overwrite=True)


def _write_tailcuts(folder: Path, run: int, nsb: float) -> None:
    """What ``lstchain_find_tailcuts`` leaves per DATA run: a DL1b config and its log."""
    picture, boundary = TAILCUTS
    config = {
        "tailcuts_clean_with_pedestal_threshold": {
            "picture_thresh": picture,
            "boundary_thresh": boundary,
            "sigma": 2.5,
            "keep_isolated_pixels": False,
            "min_number_picture_neighbors": 2,
            "use_only_main_island": False,
            "delta_time": 2,
        },
        "dynamic_cleaning": {
            "apply": True,
            "threshold": 267,
            "fraction_cleaning_intensity": 0.03,
        },
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"dl1ab_Run{run:05d}.json").write_text(json.dumps(config, indent=2) + "\n")
    (folder / f"log_find_tailcuts_Run{run:05d}.log").write_text(
        "Median of 95% quantile of pedestal charge: 5.416 p.e.\n\n"
        f"Additional NSB rate (over dark MC): {nsb:.4f} p.e./ns\n"
        "lstchain_find_tailcuts finished successfully!\n"
    )


def prepare_lstosa_night(
    base: Path,
    night: dt.date,
    runs: int,
    subruns: int,
    *,
    venv: Path = DEFAULT_VENV,
    merged_history_runs: int = 0,
) -> Path:
    """Lay out a night under ``base`` the way lstosa's sequencer wants it; return the cfg.

    Our generator writes the common part (RunSummary, RunCatalog, R0 placeholders, drive
    log: 1 DRS4 + 1 PEDCALIB + ``runs`` DATA runs of ``subruns`` subruns). On top of it:
    ``R0G/`` (gain-selected R0, here a link to ``R0/``), the merged RunSummary, tail-cut
    configs and logs per DATA run, RF model folders, Cat-A DRS4/charge/time/F-factor
    calibration files, the gain-selection "finished" flag, and a cfg derived from lstosa's
    packaged ``sequencer.cfg`` with every path inside ``base``.

    ``merged_history_runs`` pads the merged RunSummary with that many earlier runs (the
    production file holds all runs since 2019, about 20,000); DATA run numbers then start
    above them.
    """
    base = base.resolve()
    venv = venv.resolve()
    folder = night.strftime("%Y%m%d")
    first_run = max(2000, merged_history_runs + 100)
    spec = NightSpec(night=night, data_runs=runs, subruns=subruns, first_run=first_run)
    generated = generate_night(base, spec)

    r0g = base / "R0G" / folder
    r0g.parent.mkdir(parents=True, exist_ok=True)
    if not r0g.exists():
        r0g.symlink_to(base / "R0" / folder, target_is_directory=True)

    _write_merged_summary(
        base / "OSA" / "Catalog" / "merged_RunSummary.ecsv", night, generated, merged_history_runs
    )

    for index, run in enumerate(r for r in generated if r.run_type == "DATA"):
        _write_tailcuts(base / "auxiliary" / "TailCuts", run.run, 0.05 + 0.04 * (index % 5))
    (base / "auxiliary" / "PedestalFinder").mkdir(parents=True, exist_ok=True)

    packaged_text = packaged_cfg(venv).read_text()
    mc_prod = _cfg_value(packaged_text, "lstchain", "mc_prod")
    models = base / "models" / "AllSky"
    for nsb in MODEL_NSB_LEVELS:
        for line in MODEL_DEC_LINES:
            (models / f"{mc_prod}nsb_tuning_{nsb:.2f}" / line).mkdir(parents=True, exist_ok=True)

    cat_a = base / "monitoring" / "PixelCalibration" / "Cat-A"
    drs4 = max(r.run for r in generated if r.run_type == "DRS4")
    pedcal = max(r.run for r in generated if r.run_type == "PEDCALIB")
    _touch(
        cat_a / "drs4_baseline" / folder / CALIB_VERSION / f"drs4_pedestal.Run{drs4:05d}.0000.h5"
    )
    _touch(
        cat_a
        / "calibration"
        / folder
        / CALIB_VERSION
        / f"calibration_filters_{CALIB_FILTERS}.Run{pedcal:05d}.0000.h5"
    )
    _touch(
        cat_a
        / "drs4_time_sampling_from_FF"
        / folder
        / "pro"
        / f"time_calibration.Run{pedcal:05d}.0000.h5"
    )
    _touch(cat_a / "ffactor_systematics" / folder / "pro" / f"ffactor_systematics_{folder}.h5")

    _touch(base / "OSA" / "GainSel" / folder / "GainSelFinished.txt")

    lstchain_data = _site_packages(venv) / "lstchain" / "data"
    standard_config = lstchain_data / "lstchain_standard_config.json"
    cfg_text = set_cfg_values(
        packaged_text,
        {
            ("LST1", "BASE"): str(base),
            ("LST1", "CALIB_ENV"): str(venv),
            ("LST1", "TROUBLESHOOTING_DIR"): str(base / "OSA" / "troubleshooting"),
            ("LST1", "PROD_ID"): PROD_ID,
            ("lstchain", "dl1a_config"): str(standard_config),
            ("lstchain", "dl1b_config"): str(standard_config),
            ("lstchain", "dl2_config"): str(standard_config),
            ("WEBSERVER", "DATACHECK"): str(base / "www" / "datacheck"),
            ("CACHE", "CTAPIPE_CACHE"): str(base / ".cache" / "ctapipe_cache"),
            ("CACHE", "CTAPIPE_SVC_PATH"): str(base / ".cache" / "ctapipe_service"),
            ("CACHE", "MPLCONFIGDIR"): str(base / ".cache" / "matplotlib"),
            ("database", "path"): str(base / "OSA" / "osa.db"),
        },
    )
    cfg = base / "lstosa-sequencer.cfg"
    cfg.write_text(cfg_text)
    return cfg


def _lstosa_env(venv: Path, hide_slurm: bool) -> dict[str, str]:
    """The environment lstosa runs in: its venv first on PATH, nothing of ours leaking.

    With ``hide_slurm`` every PATH entry holding a SLURM client is dropped: lstosa 0.11.10
    calls ``sacct`` even in test mode (``-t``), so a SLURM cluster on this machine (or a
    broken one) would otherwise change what is measured.
    """
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    entries = [p for p in env.get("PATH", "").split(os.pathsep) if p]
    if hide_slurm:
        entries = [p for p in entries if not any((Path(p) / c).exists() for c in _SLURM_CLIENTS)]
    env["PATH"] = os.pathsep.join([str(venv / "bin"), *entries])
    env["VIRTUAL_ENV"] = str(venv)
    env.setdefault("MPLBACKEND", "Agg")
    return env


_RUSAGE_WRAPPER = """
import json, resource, subprocess, sys
proc = subprocess.run(sys.argv[2:])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    json.dump({"peak_kb": usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime}, out)
sys.exit(proc.returncode)
"""


def measure_command(
    cmd: Sequence[str], *, env: dict[str, str], cwd: Path, timeout: float = 1800
) -> dict[str, Any]:
    """Run ``cmd``; return ``returncode``, ``wall_s``, ``cpu_s``, ``peak_rss_mb``, ``output``.

    Peak RSS and CPU time (user + system, the figure least disturbed by other work on
    the machine) come from ``/usr/bin/time -v`` when present, else from
    ``getrusage(RUSAGE_CHILDREN)`` in a fresh wrapper interpreter that only runs ``cmd``.
    The output is stdout and stderr merged (lstosa logs its table on stderr).
    """
    with tempfile.TemporaryDirectory(prefix="lstosa-measure-") as tmp:
        report = Path(tmp) / "rusage"
        gnu_time = Path("/usr/bin/time")
        if gnu_time.exists():
            wrapped = [str(gnu_time), "-v", "-o", str(report), *cmd]
        else:
            wrapped = [sys.executable, "-c", _RUSAGE_WRAPPER, str(report), *cmd]
        started = time.perf_counter()
        proc = subprocess.run(
            wrapped,
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        wall = time.perf_counter() - started
        peak_kb, cpu = _rusage(report.read_text() if report.exists() else "")
    return {
        "returncode": proc.returncode,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": peak_kb / 1024 if peak_kb is not None else None,
        "output": proc.stdout,
    }


def _rusage(report: str) -> tuple[int | None, float | None]:
    """Peak RSS (kB) and CPU seconds from a ``time -v`` report or the wrapper's JSON."""
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    user = re.search(r"User time \(seconds\): ([\d.]+)", report)
    system = re.search(r"System time \(seconds\): ([\d.]+)", report)
    if peak:
        cpu = float(user.group(1)) + float(system.group(1)) if user and system else None
        return int(peak.group(1)), cpu
    try:
        data = json.loads(report)
        return int(data["peak_kb"]), float(data["cpu_s"])
    except (ValueError, KeyError, TypeError):
        return None, None


def parse_sequence_table(output: str) -> list[dict[str, str]]:
    """The rows of the status table the sequencer prints (its last one, if several).

    The header starts ``Tel Seq Parent Type Run Subruns Source Action ...``; a row per
    sequence follows, starting with the telescope (``LST1``). Source names may contain
    spaces, so only the leading fixed columns are split out.
    """
    rows: list[dict[str, str]] = []
    in_table = False
    for line in output.splitlines():
        words = line.split()
        if words[:4] == ["Tel", "Seq", "Parent", "Type"]:
            rows, in_table = [], True
            continue
        if in_table and words[:1] == ["LST1"] and len(words) >= 6:
            rows.append(
                {
                    "tel": words[0],
                    "seq": words[1],
                    "parent": words[2],
                    "type": words[3],
                    "run": words[4],
                    "subruns": words[5],
                }
            )
        elif in_table and words:
            in_table = False
    return rows


def sequencer_command(cfg: Path, night: dt.date, venv: Path, *, test: bool = True) -> list[str]:
    """``sequencer --no-submit -t -c CFG -d YYYY-MM-DD LST1`` (lstosa 0.11.10's CLI).

    ``--no-submit`` writes the job scripts without calling ``sbatch``; ``-t`` ("test")
    skips ``sacct``/``squeue`` for the job table, the database and the filter-wheel
    look-up, and makes job scripts without ``#SBATCH`` lines that process subrun 0 only.
    Without ``test`` the job scripts are production's (a SLURM array per run).
    """
    return [
        str(_venv_bin(venv, "sequencer")),
        "--no-submit",
        *(["-t"] if test else []),
        "-c",
        str(cfg),
        "-d",
        night.isoformat(),
        "LST1",
    ]


def run_lstosa_sequencer(
    cfg: Path,
    night: dt.date,
    venv: Path = DEFAULT_VENV,
    *,
    expected_data_runs: int | None = None,
    hide_slurm: bool = True,
    test: bool = True,
    check: bool = True,
) -> dict[str, Any]:
    """Run lstosa's sequencer on a prepared night and measure it.

    ``test`` adds ``-t`` (see :func:`sequencer_command`); ``hide_slurm`` takes the SLURM
    clients off its PATH (see :func:`_lstosa_env`).

    Returns a dict with ``wall_s``, ``cpu_s``, ``peak_rss_mb``, ``returncode``, ``sequences`` (rows
    in its printed table), ``data_sequences``, ``calibration_sequences``, the ``command``
    and the ``output`` (stdout+stderr). It runs in ``cfg``'s folder so that anything lstosa
    drops in its working directory stays in the night's tree.

    Raises:
        RuntimeError: with ``check``, if it exits non-zero, prints no sequence table, or
            (given ``expected_data_runs``) planned another number of DATA sequences.
    """
    venv = venv.resolve()
    cfg = cfg.resolve()
    cmd = sequencer_command(cfg, night, venv, test=test)
    result = measure_command(cmd, env=_lstosa_env(venv, hide_slurm), cwd=cfg.parent)
    rows = parse_sequence_table(result["output"])
    data_rows = [row for row in rows if row["type"] == "DATA"]
    result.update(
        command=cmd,
        sequences=len(rows),
        data_sequences=len(data_rows),
        calibration_sequences=sum(row["type"] == "PEDCALIB" for row in rows),
        subruns=sum(int(row["subruns"]) for row in data_rows if row["subruns"].isdigit()),
    )
    if check:
        problem = None
        if result["returncode"] != 0:
            problem = f"exit code {result['returncode']}"
        elif not rows:
            problem = "no sequence table in its output"
        elif expected_data_runs is not None and len(data_rows) != expected_data_runs:
            problem = f"{len(data_rows)} DATA sequences, expected {expected_data_runs}"
        if problem:
            tail = "\n".join(result["output"].splitlines()[-30:])
            raise RuntimeError(f"lstosa sequencer failed ({problem}): {' '.join(cmd)}\n{tail}")
    return result


_IMPORT_PROBE = """
import sys, time
sys.argv = ["sequencer", *sys.argv[1:]]
started = time.perf_counter()
import {module}
print(time.perf_counter() - started)
"""


def time_lstosa_import(
    venv: Path = DEFAULT_VENV,
    cfg: Path | None = None,
    *,
    module: str = "osa.scripts.sequencer",
) -> float:
    """Seconds to ``import osa.scripts.sequencer`` (the ``sequencer`` entry point's module).

    Measured inside a fresh interpreter of the lstosa venv, so interpreter start-up is not
    counted. lstosa reads its cfg at import time from ``sys.argv`` (``-c``), so ``cfg`` is
    passed there when given; otherwise its packaged cfg is read.
    """
    venv = venv.resolve()
    args = ["-c", str(cfg.resolve())] if cfg else []
    cwd = cfg.resolve().parent if cfg else Path(tempfile.gettempdir())
    proc = subprocess.run(
        [str(_venv_bin(venv, "python")), "-c", _IMPORT_PROBE.format(module=module), *args],
        env=_lstosa_env(venv, hide_slurm=True),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{proc.stderr[-2000:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def job_script(cfg: Path, night: dt.date, run: int) -> Path:
    """The job script lstosa's sequencer wrote for ``run`` (``sequence_LST1_<run>.py``)."""
    folder = night.strftime("%Y%m%d")
    return (
        cfg.resolve().parent / "running_analysis" / folder / PROD_ID / f"sequence_LST1_{run:05d}.py"
    )


def datasequence_command(script: Path, subrun: int = 0, *, simulate: bool = True) -> list[str]:
    """The ``datasequence`` call in one of the sequencer's job scripts, for ``subrun``.

    The command list of the script's ``subprocess.run([...])`` is read with :mod:`ast`
    (nothing of the script is executed); its only f-string part, ``{subruns:04d}``, is
    filled in with ``subrun``. With ``simulate``, ``-s`` is added: every step is prepared
    and traced but no lstchain tool runs.

    Raises:
        ValueError: if the script has no such command list.
    """
    tree = ast.parse(script.read_text())
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "run"
            and node.args
            and isinstance(node.args[0], ast.List)
        ):
            cmd = [_literal(element, subrun) for element in node.args[0].elts]
            return [cmd[0], "-s", *cmd[1:]] if simulate else cmd
    raise ValueError(f"no subprocess.run([...]) command in {script}")


def _literal(node: ast.expr, subrun: int) -> str:
    """A string constant, or an f-string whose only placeholder is ``subruns``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif (
                isinstance(value, ast.FormattedValue)
                and isinstance(value.value, ast.Name)
                and value.value.id == "subruns"
            ):
                spec = value.format_spec
                fmt = _literal(spec, subrun) if spec is not None else ""
                parts.append(format(subrun, fmt))
            else:
                raise ValueError(f"unexpected f-string part: {ast.dump(value)}")
        return "".join(parts)
    raise ValueError(f"unexpected job-script argument: {ast.dump(node)}")


def run_lstosa_datasequence(
    cfg: Path,
    night: dt.date,
    venv: Path = DEFAULT_VENV,
    *,
    run: int | None = None,
    subrun: int = 0,
    check: bool = True,
) -> dict[str, Any]:
    """Run lstosa's per-subrun ``datasequence`` in simulate mode (``-s``) and measure it.

    This is the overhead lstosa adds around the three lstchain tools of every subrun task
    (imports, cfg, CLI parsing, provenance tracing, history handling); the tools themselves
    are not run. The command is the one in the job script the sequencer wrote for ``run``
    (so :func:`run_lstosa_sequencer` must have run on this night first); ``run`` defaults
    to the first DATA run of the night's RunSummary.

    Raises:
        RuntimeError: with ``check``, if it exits non-zero or does not reach the end.
        FileNotFoundError: if the sequencer has not written that run's job script.
    """
    venv = venv.resolve()
    cfg = cfg.resolve()
    if run is None:
        run = _first_data_run(cfg.parent, night)
    cmd = datasequence_command(job_script(cfg, night, run), subrun)
    result = measure_command(cmd, env=_lstosa_env(venv, hide_slurm=True), cwd=cfg.parent)
    result["command"] = cmd
    finished = "finished without fatal errors" in result["output"]
    result["finished"] = finished
    if check and (result["returncode"] != 0 or not finished):
        tail = "\n".join(result["output"].splitlines()[-30:])
        raise RuntimeError(f"lstosa datasequence failed: {' '.join(cmd)}\n{tail}")
    return result


def _first_data_run(base: Path, night: dt.date) -> int:
    summary = base / "monitoring/RunSummary" / f"RunSummary_{night:%Y%m%d}.ecsv"
    for line in summary.read_text().splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2] == "DATA":
            return int(fields[0])
    raise ValueError(f"no DATA run in {summary}")


def benchmark_lstosa(
    base: Path,
    night: dt.date,
    runs: int,
    subruns: int,
    *,
    repeat: int = 3,
    venv: Path = DEFAULT_VENV,
    merged_history_runs: int = 0,
    with_datasequence: bool = True,
    hide_slurm: bool = True,
    test: bool = True,
) -> dict[str, Any]:
    """Prepare a night and time lstosa on it ``repeat`` times; return medians and samples.

    One unmeasured warm-up run comes first: the very first run in a fresh venv compiles
    thousands of ``.pyc`` files and reads them from a cold disk cache (about 20 s instead
    of 4). ``base`` must be an empty (or absent) folder of its own: the night goes there.
    ``hide_slurm`` and ``test`` are passed to :func:`run_lstosa_sequencer`.
    """
    venv = ensure_lstosa_venv(venv)
    cfg = prepare_lstosa_night(
        base, night, runs, subruns, venv=venv, merged_history_runs=merged_history_runs
    )
    options: dict[str, Any] = {"expected_data_runs": runs, "hide_slurm": hide_slurm, "test": test}
    run_lstosa_sequencer(cfg, night, venv, **options)
    walls: list[float] = []
    cpus: list[float | None] = []
    rsss: list[float | None] = []
    imports: list[float] = []
    last: dict[str, Any] = {}
    for _ in range(repeat):
        imports.append(time_lstosa_import(venv, cfg))
        last = run_lstosa_sequencer(cfg, night, venv, **options)
        walls.append(last["wall_s"])
        cpus.append(last["cpu_s"])
        rsss.append(last["peak_rss_mb"])
    summary: dict[str, Any] = {
        "runs": runs,
        "subruns": subruns,
        "merged_history_runs": merged_history_runs,
        "hide_slurm": hide_slurm,
        "test": test,
        "repeat": repeat,
        "sequences": last["sequences"],
        "data_sequences": last["data_sequences"],
        "planned_subruns": last["subruns"],
        "wall_s": statistics.median(walls),
        "cpu_s": _median_or_none(cpus),
        "peak_rss_mb": _median_or_none(rsss),
        "import_s": statistics.median(imports),
        "samples": {"wall_s": walls, "cpu_s": cpus, "peak_rss_mb": rsss, "import_s": imports},
        "command": " ".join(last["command"]),
    }
    if with_datasequence:
        ds = [run_lstosa_datasequence(cfg, night, venv) for _ in range(repeat)]
        summary["datasequence_wall_s"] = statistics.median(d["wall_s"] for d in ds)
        summary["datasequence_cpu_s"] = _median_or_none([d["cpu_s"] for d in ds])
        summary["datasequence_peak_rss_mb"] = _median_or_none([d["peak_rss_mb"] for d in ds])
        summary["datasequence_command"] = " ".join(ds[-1]["command"])
    return summary


def _median_or_none(values: Sequence[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def main(argv: Sequence[str] | None = None) -> int:
    """``python bench/lstosa_ref.py [--runs N --subruns M ...]``: print the medians as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--subruns", type=int, default=200)
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2024, 3, 15))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--merged-history-runs", type=int, default=0)
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--base", type=Path, help="night folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary night")
    parser.add_argument("--no-datasequence", action="store_true")
    parser.add_argument(
        "--with-slurm", action="store_true", help="leave sacct on PATH (lstosa calls it)"
    )
    parser.add_argument("--no-test", action="store_true", help="run the sequencer without -t")
    args = parser.parse_args(argv)

    base = args.base or Path(tempfile.mkdtemp(prefix="lstosa-night-"))
    try:
        summary = benchmark_lstosa(
            base,
            args.date,
            args.runs,
            args.subruns,
            repeat=args.repeat,
            venv=args.venv,
            merged_history_runs=args.merged_history_runs,
            with_datasequence=not args.no_datasequence,
            hide_slurm=not args.with_slurm,
            test=not args.no_test,
        )
    finally:
        if args.base is None and not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
