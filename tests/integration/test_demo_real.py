"""The demo night on the real lstchain chain, end to end, as `make demo` runs it — today's
night in three phases per run — plus the shifter's story on real data: a corrupt R0 file
fails its subrun (and only it), the run's calibration waits, the file is repaired, exactly
that subrun is resubmitted with its run's calibration and DL1b chained after it, and the
night closes.

Slow (~8-10 min on 2 cores): real LST-1 data (run 2008, fetched from the package registry
and cached), generated runs, real Cat-A calibration; per run DL1a (``r0_to_dl1``), then the
run's calibration with the real tools (``onsite_create_cat_B_calibration_file``,
``lstchain_find_tailcuts``, models chosen from a toy AllSky tree by NSB and declination),
then DL1b with the run's own cleaning and Cat-B; the close into per-run trees (merge, DL2,
run-wise and night-wise datacheck, provenance, manifest).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from osa_core.config import load_config
from osa_core.demo.night import NIGHT, build_demo_night, default_cache
from osa_core.executors.factory import get_executor
from osa_core.history import read_history
from osa_core.paths import NightPaths
from osa_core.plan import build_plan
from osa_core.run_calibration import RunCalibration, read_record
from osa_core.snapshot import night_status
from osa_core.usecases.night import resubmit_failed, submit_night
from osa_core.vocabulary import ACTIVE_STATES, JobKind, State

pytestmark = [pytest.mark.lstchain, pytest.mark.slow]
CACHE = Path(os.environ.get("OSA_DEMO_CACHE", default_cache()))

#: What each run's phase 2 decides on the demo night (osa_core/demo/NOTES.md): the
#: finder's cleaning on the generated runs (NSB 0.13 and 0.46 p.e./ns over dark MC), the
#: standard one on the real run 2008 (no interleaved pedestals); the DL2 models follow the
#: NSB and the RunCatalog declination (+22.0, +52.3, +25.0).
EXPECTED = {
    2008: ("tailcut84", "nsb_tuning_0.14", "dec_2276"),
    2009: ("tailcut84", "nsb_tuning_0.14", "dec_3476"),
    2010: ("tailcut1005", "nsb_tuning_0.50", "dec_2276"),
}


def settle(config, timeout: float = 1500):
    """Wait until no subrun and no run calibration is queued or running."""
    plan = build_plan(config, NIGHT)
    executor = get_executor(config)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = night_status(config, plan, executor)
        active = sum(
            seq.counts.get(s, 0) for seq in status.sequences for s in ("PENDING", "RUNNING")
        ) + sum(
            1
            for seq in status.data
            if seq.run_calibration is not None and seq.run_calibration.state in ACTIVE_STATES
        )
        if not active:
            return status
        time.sleep(2)
    raise AssertionError("the demo night did not settle in time")


def steps_of(history: Path) -> list[str]:
    return [r.step for r in read_history(history) if r.rc == 0]


def test_demo_night_with_a_corrupt_subrun(tmp_path: Path) -> None:
    base = tmp_path / "demo"
    config_path = build_demo_night(base, CACHE, say=lambda _: None)
    config = load_config(config_path)
    assert config.night.workflow == "per_run"
    paths = NightPaths(config, NIGHT)
    # corrupt one generated subrun: half of its stream-1 file
    victim = paths.r0_file(2010, 1, 1)
    good = victim.read_bytes()
    victim.write_bytes(good[: len(good) // 2])
    plan = build_plan(config, NIGHT)
    submit_night(config, plan)
    status = settle(config)
    failed = [(s.run, s.subrun) for seq in status.sequences for s in seq.subruns if s.is_failed]
    assert failed == [(2010, 1)], status.to_dict()
    bad = status.sequence(2010).subruns[1]
    assert bad.failed_step == "r0_to_dl1" and bad.failed_rc not in (None, 0)
    assert [(r.step, r.rc != 0) for r in read_history(paths.history_file(2010, 1))] == [
        ("r0_to_dl1", True)
    ]
    # run 2010's calibration is held by its failed subrun: its good subrun has only DL1a
    runcal = status.sequence(2010).run_calibration
    assert runcal is not None and runcal.state == State.WAITING and runcal.record is None
    assert "held: subrun(s) 1 failed in r0_to_dl1" in runcal.reason
    assert steps_of(paths.history_file(2010, 0)) == ["r0_to_dl1"]
    # the other runs went through the three phases with the real tools
    for run in (2008, 2009):
        assert steps_of(paths.run_history(run)) == ["catb", "tailcuts"]
        for sub in status.sequence(run).subruns:
            assert sub.steps_done == ("r0_to_dl1", "dl1ab", "datacheck"), sub
    time.sleep(3)
    assert not paths.night_finished.exists()  # the armed close waited
    # repair, resubmit exactly that subrun, its run's calibration and DL1b chained after it,
    # and the night closes by itself
    victim.write_bytes(good)
    report = resubmit_failed(config, plan)
    assert [(j.run, j.kind, j.indices) for j in report.jobs][:2] == [
        (2010, JobKind.DL1A, (1,)),
        (2010, JobKind.RUN_CALIBRATION, None),
    ]
    assert [(j.run, j.kind) for j in report.jobs][2:] == [(2010, JobKind.DL1B)]
    assert report.armed
    settle(config)
    deadline = time.monotonic() + 600
    while not paths.night_finished.exists():
        assert time.monotonic() < deadline, "the night did not close"
        time.sleep(2)

    # phase 2, real tools: what each run's calibration decided
    records: dict[int, RunCalibration] = {}
    for run in EXPECTED:
        record = read_record(paths.run_calibration_record(run))
        assert record is not None, run
        records[run] = record
    # the finder decides on the generated runs, each with its own cleaning and NSB
    for run, low, high in ((2009, 0.05, 0.25), (2010, 0.3, 0.7)):
        cuts = records[run].tailcuts
        assert cuts.fallback == "" and cuts.prod_id == EXPECTED[run][0], cuts
        assert cuts.nsb is not None and low < cuts.nsb < high, cuts
        assert cuts.config is not None and cuts.config.endswith(f"dl1ab_Run{run:05d}.json")
        # Cat-B made from the run's interleaved events
        assert records[run].catb.ok and Path(str(records[run].catb.file)).stat().st_size > 0
    # the real run has no interleaved events: the standard cleaning, said why; no Cat-B
    cuts = records[2008].tailcuts
    assert cuts.fallback == "0 pedestal events < 100 in every sampled subrun"
    assert cuts.prod_id == "tailcut84" and cuts.nsb is None
    assert cuts.config == str(config.analysis.dl1ab_config)
    assert not records[2008].catb.ok
    assert "pedestal collected statistics = 0 events" in records[2008].catb.reason
    # the models follow each run's NSB and pointing declination
    for run, (_, nsb, line) in EXPECTED.items():
        models = records[run].models
        assert models.path is not None and Path(models.path).parts[-2:] == (
            f"{config.analysis.mc_prod}{nsb}",
            line,
        ), models
        assert models.dl2_prod_id == f"{EXPECTED[run][0]}/{nsb}"
    assert "dark-sky models" in records[2008].models.reason
    # the status tells the same story
    final = night_status(config, plan, get_executor(config))
    assert all(seq.state == State.COMPLETED for seq in final.sequences)
    phase2 = final.sequence(2008).run_calibration
    assert phase2 is not None and phase2.record == records[2008]
    assert "fallback: 0 pedestal events < 100" in phase2.summary()

    # phase 3 with each run's own cleaning and Cat-B (histories are in the final tree now)
    history_dir = paths.final_night_dl1 / "log" / "history"
    for run, record in records.items():
        history = read_history(history_dir / f"Run{run:05d}.0000.jsonl")
        command = [r for r in history if r.step == "dl1ab" and r.rc == 0][-1].command
        assert f"--config={record.tailcuts.config}" in command
        catb = [a for a in command if a.startswith("--catB-calibration-file=")]
        assert catb == ([f"--catB-calibration-file={record.catb.file}"] if run != 2008 else [])

    # products of SPEC §4 in the per-run final trees
    root = paths.final_dl1_root
    closed = paths.night_finished.read_text()
    for run, (dl1_id, nsb, _) in EXPECTED.items():
        dl1, dl2 = paths.final_dl1_of(dl1_id), paths.final_dl2_of(f"{dl1_id}/{nsb}")
        assert (dl1 / f"dl1_LST-1.Run{run:05d}.h5").stat().st_size > 0
        assert (dl2 / f"dl2_LST-1.Run{run:05d}.h5").stat().st_size > 0
        assert (dl1 / "datacheck" / f"datacheck_dl1_LST-1.Run{run:05d}.h5").exists()
        assert (root / "muons" / f"muons_LST-1.Run{run:05d}.fits").exists()
        assert (root / "log" / "provenance" / f"Run{run:05d}.prov.json").exists()
        assert f"run {run:05d} " in closed and f"dl1 {dl1_id} dl2 {dl1_id}/{nsb}" in closed
        # DL2 made with the models phase 2 chose
        close = read_history(history_dir / f"close_Run{run:05d}.jsonl")
        dl2_step = [r for r in close if r.step == "dl2" and r.rc == 0][-1]
        assert f"--path-models={records[run].models.path}" in dl2_step.command
    assert paths.longterm_file.exists()
    manifest = json.loads(paths.manifest.read_text())
    assert len(manifest["files"]) > 50
    # the real run's DL2 really holds reconstructed events
    import pandas as pd

    real_dl2 = paths.final_dl2_of("tailcut84/nsb_tuning_0.14") / "dl2_LST-1.Run02008.h5"
    events = pd.read_hdf(real_dl2, "dl2/event/telescope/parameters/LST_LSTCam")
    assert len(events) > 0 and {"reco_energy", "gammaness"} <= set(events.columns)
    # "where does this DL2 come from" reaches the R0 file, Cat-A and (run 2010) its Cat-B
    for dl2, expected in (
        (real_dl2, ("LST-1.1.Run02008.0000.fits.fz", "calibration_filters_52.Run02006.0000.h5")),
        (
            paths.final_dl2_of("tailcut1005/nsb_tuning_0.50") / "dl2_LST-1.Run02010.h5",
            ("LST-1.1.Run02010.0001.fits.fz", "cat_B_calibration_filters_52.Run02010.h5"),
        ),
    ):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "osa_core.cli.main",
                "-c",
                str(config_path),
                "provenance",
                str(dl2),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "COLUMNS": "300"},  # long paths on one line each
        )
        assert out.returncode == 0, out.stderr
        for name in expected:
            assert name in out.stdout, (name, out.stdout[-3000:])
