"""The demo night on the real lstchain chain, end to end, as `make demo` runs it — plus the
shifter's story on real data: a corrupt R0 file fails its subrun (and only it), the night
waits, the file is repaired, exactly that subrun is resubmitted and the night closes.

Slow (~4-6 min on 2 cores): real LST-1 data (run 2008, fetched from the package registry
and cached), generated runs, real calibration, DL1a/DL1b/datacheck, merge, DL2 with toy
models, night-wise datacheck, provenance, manifest.
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
from osa_core.snapshot import night_status
from osa_core.usecases.night import resubmit_failed, submit_night

pytestmark = [pytest.mark.lstchain, pytest.mark.slow]
CACHE = Path(os.environ.get("OSA_DEMO_CACHE", default_cache()))


def settle(config, timeout: float = 1500):
    plan = build_plan(config, NIGHT)
    executor = get_executor(config)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = night_status(config, plan, executor)
        active = sum(
            seq.counts.get(s, 0) for seq in status.sequences for s in ("PENDING", "RUNNING")
        )
        if not active:
            return status
        time.sleep(2)
    raise AssertionError("the demo night did not settle in time")


def test_demo_night_with_a_corrupt_subrun(tmp_path: Path) -> None:
    base = tmp_path / "demo"
    config_path = build_demo_night(base, CACHE, say=lambda _: None)
    config = load_config(config_path)
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
    history = read_history(paths.history_file(2010, 1))
    assert [(r.step, r.rc != 0) for r in history] == [("r0_to_dl1", True)]
    # every other subrun went through all three steps with the real tools
    for seq in status.data:
        for sub in seq.subruns:
            if (sub.run, sub.subrun) != (2010, 1):
                assert sub.steps_done == ("r0_to_dl1", "dl1ab", "datacheck"), sub
    time.sleep(3)
    assert not paths.night_finished.exists()  # the armed close waited
    # repair, resubmit exactly that subrun, and the night closes by itself
    victim.write_bytes(good)
    report = resubmit_failed(config, plan)
    assert [(j.run, j.indices) for j in report.jobs] == [(2010, (1,))]
    assert report.armed
    settle(config)
    deadline = time.monotonic() + 600
    while not paths.night_finished.exists():
        assert time.monotonic() < deadline, "the night did not close"
        time.sleep(2)
    # products of SPEC §4 in the final tree
    dl1, dl2 = paths.final_dl1, paths.final_dl2
    for run in (2008, 2009, 2010):
        assert (dl1 / f"dl1_LST-1.Run{run:05d}.h5").stat().st_size > 0
        assert (dl2 / f"dl2_LST-1.Run{run:05d}.h5").stat().st_size > 0
        assert (dl1 / "muons" / f"muons_LST-1.Run{run:05d}.fits").exists()
        assert (dl1 / "datacheck" / f"datacheck_dl1_LST-1.Run{run:05d}.h5").exists()
        assert (dl1 / "log" / "provenance" / f"Run{run:05d}.prov.json").exists()
    assert (dl1 / "datacheck" / "DL1_datacheck_20200218.h5").exists()
    manifest = json.loads(paths.manifest.read_text())
    assert len(manifest["files"]) > 50
    # the real run's DL2 really holds reconstructed events
    import pandas as pd

    events = pd.read_hdf(dl2 / "dl2_LST-1.Run02008.h5", "dl2/event/telescope/parameters/LST_LSTCam")
    assert len(events) > 0 and {"reco_energy", "gammaness"} <= set(events.columns)
    # "where does this DL2 come from" reaches the real R0 file and the calibration
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "osa_core.cli.main",
            "-c",
            str(config_path),
            "provenance",
            str(dl2 / "dl2_LST-1.Run02008.h5"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "300"},  # long paths on one line each
    )
    assert out.returncode == 0, out.stderr
    assert "LST-1.1.Run02008.0000.fits.fz" in out.stdout
    assert "calibration_filters_52.Run02006.0000.h5" in out.stdout
