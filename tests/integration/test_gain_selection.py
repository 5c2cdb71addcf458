"""Gain selection as a stage of the night (``input_state = "legacy_raw"``), driven from
outside as cron does (`osa --batch`), on the local executor and on SLURM.

Every subrun is gain-selected (R0 → R0G) by its own array task first; its analysis reads
R0G and is submitted by the first tick after its gain selection ended; a failed gain
selection of one subrun holds that run only (its calibration samples the whole run) and
the other run goes through to DL1b; the tool's FF warning reaches the status; the night's
``GainSelFinished`` is written once every declared subrun is gain-selected, and with
``end_of_observation = ["gain_selection"]`` the night closes only after it.
The tools are tests/helpers/fake_tool.py (lstchain_r0_to_r0g needs both gains' raw
data, which the demo's files do not have).
"""

from __future__ import annotations

import json
from pathlib import Path

from osa_core.config import Config, load_config
from osa_core.generator import NightSpec, generate_night
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.vocabulary import JobKind
from tests.conftest import NIGHT, fake_steps, write_config
from tests.helpers.cli import osa
from tests.integration.test_executors import wait_settled
from tests.slow.test_reliability import tick

FAIL_FILE = "--fail-file={history_dir}/../../../../fail-{run}-{subrun}"


def raw_night(base: Path, kind: str) -> Config:
    generate_night(base, NightSpec(night=NIGHT, data_runs=2, subruns=3))
    (base / "models").mkdir()
    steps = fake_steps(extra_args={"r0_to_r0g": f"{FAIL_FILE} --ff-warning-subruns=1"})
    extra = steps + '\n[analysis]\nmodels_dir = "models"\n'
    path = write_config(base, extra, kind=kind, workflow="per_run")
    with path.open("a") as handle:  # [night] is the file's last table
        handle.write('input_state = "legacy_raw"\nend_of_observation = ["gain_selection"]\n')
    return load_config(path)


def ticks_until_quiet(base: Path, config: Config, count: int) -> list[str]:
    outputs = []
    for _ in range(count):
        wait_settled(config, timeout=180)
        outputs.append(tick(base).stdout)
    wait_settled(config, timeout=180)
    return outputs


def test_gain_selection_gates_each_subrun_and_a_failure_holds_only_its_run(
    tmp_path: Path, kind: str
) -> None:
    config = raw_night(tmp_path, kind)
    paths = NightPaths(config, NIGHT)
    (tmp_path / "fail-2003-2").touch()  # run 2003's subrun 2 cannot be gain-selected
    first = tick(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    journal = Journal(paths.journal).read()
    selection = {s.run: s.indices for s in journal.of_kind(JobKind.GAIN_SELECTION)}
    assert selection == {2002: (0, 1, 2), 2003: (0, 1, 2)}
    assert not journal.of_kind(JobKind.DL1A), "analysis submitted before its gain selection"

    ticks_until_quiet(tmp_path, config, 5)
    status = json.loads(osa(tmp_path, "status", "--date", "2020-02-18", "--json").stdout)
    runs = {seq["run"]: seq for seq in status["sequences"]}
    assert runs[2002]["state"] == "COMPLETED"  # the other run went through
    assert [s["phase"] for s in runs[2003]["subruns"]][2] == "GAIN_SELECTION"
    assert runs[2003]["subruns"][2]["state"] == "FAILED"
    assert "failed in gain selection" in runs[2003]["run_calibration"]["reason"]
    assert any("FlatField(FF)-like events are not tagged as FF" in w for w in status["warnings"])
    assert not paths.gain_selection_finished.exists()
    assert not paths.night_finished.exists()
    # the analysis read R0G, never the raw R0
    dl1a = json.loads(paths.history_file(2002, 0).read_text().splitlines()[1])
    assert dl1a["step"] == "r0_to_dl1" and str(paths.r0g_dir) in " ".join(dl1a["inputs"])

    (tmp_path / "fail-2003-2").unlink()  # the operator fixed it, and resubmits
    again = osa(tmp_path, "resubmit", "--date", "2020-02-18", "--run", "2003")
    assert again.returncode == 0, again.stdout + again.stderr
    outputs = ticks_until_quiet(tmp_path, config, 6)
    assert paths.gain_selection_finished.exists(), "\n".join(outputs)
    assert paths.night_finished.exists(), "\n".join(outputs)
    entries = [json.loads(line) for line in paths.journal.read_text().splitlines()]
    flag = [i for i, e in enumerate(entries) if e.get("action") == "gain_selection_finished"]
    close = [i for i, e in enumerate(entries) if e.get("kind") == JobKind.CLOSE_NIGHT]
    assert flag and close and flag[0] < close[0], "closed before the gain selection ended"
