"""Live processing from outside: `osa simulate-daq` writes a night over time (runs and
subruns at a pace, a RunSummary that grows, a run added late, the DAQ's `.complete` last)
while `osa live` ticks on each change; on the local executor and on SLURM.

Every subrun is processed exactly once (none lost, none twice, the late run included),
while the night is observed; the night is closed only after the end of observation.
The tools are tests/helpers/fake_tool.py (their run time is not what is tested).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from osa_core.config import Config, load_config
from osa_core.generator import NightSpec, generate_night
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.vocabulary import JobKind
from tests.conftest import NIGHT, fake_steps, write_config

PACE = 0.4  # seconds per subrun
RUNS, SUBRUNS, LATE = 3, 3, 1  # the last LATE of the RUNS come after a pause


def live_config(base: Path, kind: str) -> Config:
    base.mkdir(parents=True, exist_ok=True)
    (base / "models").mkdir()
    extra = fake_steps() + '\n[analysis]\nmodels_dir = "models"\n'
    path = write_config(base, extra, kind=kind, workflow="per_run")
    with path.open("a") as handle:  # [night] is the file's last table
        handle.write(
            'live = true\nlive_poll_seconds = 5\nend_of_observation = ["runsummary_complete"]\n'
        )
    return load_config(path, check_paths=False)


def osa(base: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "osa_core.cli.main", "--config", str(base / "osa.toml"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def expected_subruns(tmp_path: Path) -> set[tuple[int, int]]:
    """The DATA subruns of the same night written at once by the generator."""
    reference = tmp_path / "reference"
    runs = generate_night(reference, NightSpec(night=NIGHT, data_runs=RUNS, subruns=SUBRUNS))
    return {(r.run, s) for r in runs if r.run_type == "DATA" for s in range(r.subruns)}


def test_a_night_written_over_time_is_processed_once_and_closed_after_it_ends(
    tmp_path: Path, kind: str
) -> None:
    base = tmp_path / "night"
    config = live_config(base, kind)
    paths = NightPaths(config, NIGHT)
    live = osa(base, "live", "--date", "2020-02-18")
    daq = osa(
        base,
        "simulate-daq",
        "--dir",
        str(base),
        "--pace",
        str(PACE),
        "--runs",
        str(RUNS),
        "--subruns",
        str(SUBRUNS),
        "--late-runs",
        str(LATE),
    )
    try:
        daq_out, _ = daq.communicate(timeout=120)
        assert daq.returncode == 0, daq_out
        live_out, _ = live.communicate(timeout=400)
    finally:
        for process in (daq, live):
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
    assert live.returncode == 0, live_out
    assert paths.night_finished.exists(), live_out
    assert paths.run_summary_complete.exists()
    # closed after the end of observation, never before
    assert paths.night_finished.stat().st_mtime >= paths.run_summary_complete.stat().st_mtime
    journal = Journal(paths.journal).read()
    covered: Counter[tuple[int, int]] = Counter()
    for sub in journal.of_kind(JobKind.DL1A):
        covered.update((sub.run, index) for index in sub.indices or ())
    every = expected_subruns(tmp_path)
    assert covered == Counter({key: 1 for key in every}), live_out
    for run, subrun in sorted(every):
        steps = Counter(
            json.loads(line)["step"]
            for line in paths.history_file(run, subrun).read_text().splitlines()
        )
        assert steps["r0_to_dl1"] == 1 and steps["dl1ab"] == 1, (run, subrun, steps)
    # processed while observed: the first subrun's DL1a began before the DAQ finished
    first_dl1a = json.loads(paths.history_file(min(every)[0], 0).read_text().splitlines()[0])
    started = first_dl1a["start"]
    complete_at = paths.run_summary_complete.stat().st_mtime
    from datetime import datetime

    assert datetime.fromisoformat(started).timestamp() < complete_at, live_out
    assert "live:" in live_out and "ticks" in live_out
