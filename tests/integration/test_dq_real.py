"""osa_core.dq on datacheck files written by the real lstchain tools, during this test.

What is real, and why this way (the budget is ~1-2 minutes):

- ``lstchain_check_dl1`` runs here on a DL1 file (with images, which it needs) and writes
  the subrun datacheck file every other test reads. The DL1 file is only ever one this
  test made: on a previous run (kept in pytest's cache, keyed by the lstchain version),
  else now, by the real chain on generated demo R0 (osa_core.demo): DRS4 run ->
  ``onsite_create_drs4_pedestal_file``, PEDCALIB run -> ``onsite_create_calibration_file``,
  one 60-event DATA subrun -> ``lstchain_data_r0_to_dl1``. That costs ~2 minutes once.
- The subruns of a longer run are copies of that real file with a few values changed in
  place (tests/helpers/dq_files.py keeps lstchain's exact layout): running the chain for
  each subrun would cost ~30 s apiece. One copy has its cosmic counts scaled down: the
  injected anomaly the rate-drop rule must catch, on exactly that subrun.
- ``lstchain_check_dl1`` then merges those subrun files into the run-wise file, and
  ``lstchain_longterm_dl1_check`` makes the night-wise file, both read back here.

Tools run with astropy's IERS download off (no network here; otherwise each coordinate
transform waits for a failed download and the datacheck takes a minute).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from datetime import timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from osa_core.config import load_config
from osa_core.dq.cache import clear_memory
from osa_core.dq.longterm import read_longterm
from osa_core.dq.reader import read_datacheck
from osa_core.dq.summary import night_dq
from osa_core.paths import NightPaths
from tests.conftest import write_config
from tests.helpers.dq_files import clone_subrun, datacheck_file_name

pytestmark = [pytest.mark.lstchain, pytest.mark.timeout(900)]

NIGHT = dt.date(2020, 2, 18)
RUN = 3001  # the run made of copies
DROP_SUBRUN = 5


def _env(tmp: Path) -> dict[str, str]:
    from osa_core.demo.auxiliary import tool_environment, write_offline_astropy_config

    write_offline_astropy_config(tmp / "xdg")
    return tool_environment(tmp / "xdg")


def _tool(argv: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("w") as out:
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=600)
    assert result.returncode == 0, f"{argv[0]} failed:\n{log.read_text()[-3000:]}"


def _has_images(path: Path) -> bool:
    import tables

    try:
        with tables.open_file(path) as h5:
            return (
                "/dl1/event/telescope/image/LST_LSTCam" in h5
                and "/dl1/event/telescope/parameters/LST_LSTCam" in h5
            )
    except (OSError, ValueError, tables.HDF5ExtError):
        return False


def _found_dl1(cache_dir: Path) -> Path | None:
    """The DL1 file this test made on a previous run (never a user's tree: a demo night
    or anything else outside what the tests build)."""
    for path in sorted(cache_dir.glob("dl1_LST-1.Run?????.????.h5")):
        if _has_images(path):
            return path
    return None


def _make_dl1(base: Path, env: dict[str, str]) -> Path:
    """The real chain on generated R0: DRS4 baseline, calibration, r0_to_dl1 of one subrun."""
    from osa_core.demo import auxiliary as aux
    from osa_core.demo import r0_writer as rw

    date = "20200218"
    r0_dir = base / "R0" / date
    runs = {
        2005: ("DRS4", rw.MIN_DRS4_EVENTS, dt.datetime(2020, 2, 18, 20, 40, tzinfo=timezone.utc)),
        2006: ("PEDCALIB", 100, dt.datetime(2020, 2, 18, 20, 50, tzinfo=timezone.utc)),
        2009: ("DATA", 60, dt.datetime(2020, 2, 18, 21, 25, tzinfo=timezone.utc)),
    }
    for run, (kind, events, start) in runs.items():
        rw.write_r0_subrun(r0_dir, run, 0, events, kind, run_start=start, seed=7)
    rows = [
        aux.RunSummaryRow(run, 1, kind, start, r0_dir / rw.r0_file_name(run, 0, 1))
        for run, (kind, _, start) in runs.items()
    ]
    summary = aux.write_run_summary(
        base / "monitoring" / "RunSummary" / f"RunSummary_{date}.ecsv", rows, date
    )
    drive = aux.write_drive_log(
        base / "monitoring" / "DrivePositioning" / f"DrivePosition_log_{date}.txt",
        dt.datetime(2020, 2, 18, 20, 30, tzinfo=timezone.utc),
        dt.datetime(2020, 2, 18, 22, 30, tzinfo=timezone.utc),
    )
    import lstchain

    version = f"v{lstchain.__version__}"
    time_calib = aux.write_time_calibration_file(
        aux.time_calibration_path(base, date, version, 2006)
    )
    systematics = aux.write_systematics_file(aux.systematics_path(base, date, version))
    configs = aux.write_lstchain_configs(base / "config")
    logs = base / "log"
    logs.mkdir(exist_ok=True)
    _tool(
        [
            "onsite_create_drs4_pedestal_file",
            "--run_number=2005",
            f"--base_dir={base}",
            f"--max_events={rw.MIN_DRS4_EVENTS}",
            "--yes",
            "--no-progress",
        ],
        env,
        logs / "drs4.log",
    )
    _tool(
        [
            "onsite_create_calibration_file",
            "--run_number=2006",
            "--pedestal_run=2005",
            f"--base_dir={base}",
            "--filters=52",
            "--statistics=40",
            f"--config={configs['calibration']}",
            "--yes",
        ],
        env,
        logs / "calibration.log",
    )
    cat_a = base / aux.CAT_A_DIR
    drs4 = cat_a / "drs4_baseline" / date / version / "drs4_pedestal.Run02005.0000.h5"
    calibration = cat_a / "calibration" / date / version / "calibration_filters_52.Run02006.0000.h5"
    _tool(
        [
            "lstchain_data_r0_to_dl1",
            f"--input-file={r0_dir / rw.r0_file_name(2009, 0, 1)}",
            f"--output-dir={base / 'dl1'}",
            f"--pedestal-file={drs4}",
            f"--calibration-file={calibration}",
            f"--time-calibration-file={time_calib}",
            f"--systematic-correction-file={systematics}",
            f"--config={configs['analysis']}",
            f"--pointing-file={drive}",
            f"--run-summary-path={summary}",
        ],
        env,
        logs / "r0_to_dl1.log",
    )
    return base / "dl1" / "dl1_LST-1.Run02009.0000.h5"


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dq_real")


@pytest.fixture(scope="module")
def env(work: Path) -> dict[str, str]:
    return _env(work)


@pytest.fixture(scope="module")
def dl1_file(request: pytest.FixtureRequest, work: Path, env: dict[str, str]) -> Path:
    import lstchain

    name = f"osa-dq-dl1-lstchain-{lstchain.__version__}"
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    cache_dir = Path(cache.mkdir(name)) if cache is not None else work / name
    cache_dir.mkdir(exist_ok=True)
    found = _found_dl1(cache_dir)
    if found is not None:
        assert _has_images(found), f"{found}: not a DL1 file with images"
        return found
    made = _make_dl1(work / "chain", env)
    assert _has_images(made)
    kept = cache_dir / made.name  # only the small DL1 file is kept for the next run
    shutil.copyfile(made, kept)
    return kept


@pytest.fixture(scope="module")
def real_subrun(work: Path, env: dict[str, str], dl1_file: Path) -> Path:
    """The subrun datacheck file ``lstchain_check_dl1`` writes for the DL1 file."""
    out = work / "check"
    out.mkdir()
    _tool(
        [
            "lstchain_check_dl1",
            f"--input-file={dl1_file}",
            f"--output-dir={out}",
            "--omit-pdf",
            "--batch",
            "--max-cores=1",
        ],
        env,
        work / "check.log",
    )
    files = sorted(out.glob("datacheck_dl1_LST-1.Run?????.????.h5"))
    assert len(files) == 1, list(out.iterdir())
    return files[0]


@pytest.fixture(scope="module")
def night(work: Path, env: dict[str, str], real_subrun: Path) -> Path:
    """A night tree: the real subrun file as its own run, and run 3001 made of 8 copies
    (10 s subruns at ~6 kHz, subrun 5 at 40 % of that), merged by lstchain."""
    base = work / "night"
    base.mkdir()
    config = load_config(write_config(base))
    paths = NightPaths(config, NIGHT)
    paths.datacheck_dir.mkdir(parents=True)
    shutil.copyfile(real_subrun, paths.datacheck_dir / real_subrun.name)
    cosmics = read_datacheck(real_subrun)["cosmics_events"][0]
    rng = np.random.default_rng(3)
    for subrun in range(8):
        rate = 6000.0 * rng.normal(1.0, 0.01) * (0.4 if subrun == DROP_SUBRUN else 1.0)
        clone_subrun(
            real_subrun,
            paths.datacheck_dir,
            RUN,
            subrun,
            elapsed=10.0,
            start_time=1582061000.0 + 10 * subrun,
            cosmics_scale=rate * 10 / cosmics,
        )
    return base


def _config(base: Path):
    return load_config(base / "osa.toml")


def _merge(night: Path, env: dict[str, str], work: Path) -> Path:
    """The run-wise file, made as the closer does: staged links, then lstchain merges."""
    paths = NightPaths(_config(night), NIGHT)
    staged = paths.close_dir / "staged" / f"Run{RUN:05d}" / "datacheck"
    if not staged.is_dir():
        staged.mkdir(parents=True)
        for path in sorted(paths.datacheck_dir.glob(f"datacheck_dl1_LST-1.Run{RUN:05d}.*.h5")):
            (staged / path.name).symlink_to(path)
        _tool(
            [
                "lstchain_check_dl1",
                f"--input-file={staged}/datacheck_dl1_LST-1.Run{RUN:05d}.*.h5",
                f"--output-dir={paths.close_dir / 'datacheck'}",
                "--omit-pdf",
                "--batch",
            ],
            env,
            work / "merge.log",
        )
    # lstchain writes the merged file next to its first input, not in --output-dir
    return staged / datacheck_file_name(RUN)


def test_reader_reads_what_lstchain_wrote(real_subrun: Path, dl1_file: Path) -> None:
    """Our figures agree with the DL1 events lstchain classified, on both read paths."""
    import tables

    fast = pd.DataFrame(read_datacheck(real_subrun))
    slow = pd.DataFrame(read_datacheck(real_subrun, fast=False))
    pd.testing.assert_frame_equal(fast, slow)
    assert len(fast) == 1
    row = fast.iloc[0]
    with tables.open_file(dl1_file) as h5:
        params = h5.get_node("/dl1/event/telescope/parameters/LST_LSTCam").read()
    # lstchain_check_dl1's split: pedestals by event type (SKY_PEDESTAL = 2), flat-field
    # by type (FLATFIELD = 0) and looks, cosmics the rest; a type needs > 1 event.
    pedestal = params["event_type"] == 2
    flatfield = (
        (params["event_type"] == 0)
        & (params["intensity"] > 50000)
        & (params["concentration_pixel"] < 0.005)
    )
    cosmics = ~(pedestal | flatfield)
    expected = {
        "cosmics_events": cosmics.sum(),
        "ped_events": pedestal.sum() if pedestal.sum() > 1 else 0,
        "ff_events": flatfield.sum() if flatfield.sum() > 1 else 0,
    }
    assert {k: int(row[k]) for k in expected} == {k: int(v) for k, v in expected.items()}
    assert row["elapsed"] == pytest.approx(params["dragon_time"][-1] - params["dragon_time"][0])
    assert row["alt"] == pytest.approx(np.degrees(params["alt_tel"][len(params) // 2]))
    assert row["subrun"] == int(real_subrun.name.split(".")[-2])
    assert 0 <= row["cosmics_frac30"] <= row["cosmics_frac10"] <= 1
    assert row["tagged_events"] == sum(expected.values())
    if expected["ped_events"]:
        assert 0 < row["ped_charge_std"] < 50


def test_injected_rate_drop_fires_on_exactly_that_subrun(night: Path) -> None:
    clear_memory()
    dq = night_dq(_config(night), NIGHT)
    assert dq.available and RUN in dq.run_numbers()
    drops = [(f.run, f.subrun) for f in dq.flags if f.rule == "rate_drop"]
    assert drops == [(RUN, DROP_SUBRUN)]
    assert dq.flag_summary()[RUN].startswith("rate↓")
    flag = next(f for f in dq.flags if f.rule == "rate_drop")
    assert flag.value == pytest.approx(0.4 * 6000.0, rel=0.05)
    assert set(dq.runs["source"]) == {"subrun files"}
    again = night_dq(_config(night), NIGHT)
    assert again.stats.files_read == 0 and again.stats.files_cached == dq.stats.files_read


def test_run_wise_file_gives_the_same_records(night: Path, env: dict[str, str], work: Path) -> None:
    run_file = _merge(night, env, work)
    assert run_file.is_file()
    merged = pd.DataFrame(read_datacheck(run_file))
    paths = NightPaths(_config(night), NIGHT)
    parts = [
        pd.DataFrame(read_datacheck(paths.datacheck_dir / datacheck_file_name(RUN, s)))
        for s in range(8)
    ]
    pd.testing.assert_frame_equal(merged, pd.concat(parts, ignore_index=True))
    clear_memory()
    dq = night_dq(_config(night), NIGHT)
    assert dq.runs.set_index("run").loc[RUN, "source"] == "run-wise file"
    assert [(f.run, f.subrun) for f in dq.flags if f.rule == "rate_drop"] == [(RUN, DROP_SUBRUN)]


def test_night_wise_file_agrees(night: Path, env: dict[str, str], work: Path) -> None:
    run_file = _merge(night, env, work)
    paths = NightPaths(_config(night), NIGHT)
    longterm = paths.close_dir / "datacheck" / f"DL1_datacheck_{paths.folder}.h5"
    inputs = work / "longterm_in"
    inputs.mkdir(exist_ok=True)
    shutil.copyfile(run_file, inputs / run_file.name)
    _tool(
        [
            "lstchain_longterm_dl1_check",
            f"--input-dir={inputs}",
            f"--muons-dir={inputs}",
            f"--output-file={longterm}",
            "--batch",
        ],
        env,
        work / "longterm.log",
    )
    ours = pd.DataFrame(read_datacheck(run_file))
    theirs = pd.DataFrame(read_longterm(longterm))
    assert theirs["subrun"].tolist() == ours["subrun"].tolist()
    for column in (
        "cosmics_events",
        "elapsed",
        "time",
        "alt",
        "cosmics_frac10",
        "ped_events",
        "ped_charge_std",
        "ff_charge_mean",
        "wrong_ucts",
    ):
        np.testing.assert_allclose(theirs[column], ours[column], rtol=1e-5, err_msg=column)
    assert theirs["mu_rings"].tolist() == [0.0] * 8  # no muon file: lstchain counts 0
    clear_memory()
    dq = night_dq(_config(night), NIGHT)
    assert dq.files is not None and dq.files.longterm is not None
    assert dq.run_subruns(RUN)["mu_rings"].tolist() == [0.0] * 8
    assert "muon_rings" in {f.rule for f in dq.flags_for(RUN)}


def test_osa_dq_cli_and_report(night: Path) -> None:
    cfg = str(night / "osa.toml")
    osa = [sys.executable, "-m", "osa_core.cli.main", "-c", cfg, "dq", "-d", "2020-02-18"]
    text = subprocess.run(osa, capture_output=True, text=True, timeout=300)
    assert text.returncode == 0, text.stderr
    assert f"{RUN:05d}" in text.stdout and "rate↓" in text.stdout
    data = json.loads(subprocess.run([*osa, "--json"], capture_output=True, text=True).stdout)
    assert any(f["rule"] == "rate_drop" and f["subrun"] == DROP_SUBRUN for f in data["flags"])
    detail = subprocess.run([*osa, "--run", str(RUN)], capture_output=True, text=True)
    assert detail.returncode == 0 and "cosmic rate" in detail.stdout
    report = subprocess.run([*osa, "--report"], capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr
    html = Path(report.stdout.strip())
    paths = NightPaths(_config(night), NIGHT)
    assert html.parent == paths.close_dir / "dq"
    content = html.read_text()
    assert "data:image/png;base64," in content and f"Run {RUN:05d}" in content
    pngs = sorted(html.parent.glob("*.png"))
    assert len(pngs) == len(data["runs"]) + 1
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)
