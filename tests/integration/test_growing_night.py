"""A night that grows while it is processed, driven from outside as cron does (`osa
--batch` in a subprocess), on the local executor and on SLURM.

Before: a run's subruns that landed after its array was submitted were never processed,
and the night was closed as soon as the subruns known at planning were done (issue 15:
5 of run 1807's 11 subruns in a night marked finished). Now the subruns the RunSummary
declares and the disk lacks are AWAITED: they hold the run's calibration and the close
until they land (then exactly they are submitted) or an operator gives them up; and the
night closes only once its observation is over (``[night] end_of_observation``).
The tools are tests/helpers/fake_tool.py (lstchain's run time is not what is tested).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
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

#: run 2002 lands subrun 0 only at first; run 2003 lands nothing at first (a late run)
LATE = {2002: (1, 2), 2003: (0, 1, 2)}


def growing_night(base: Path, kind: str, end: str = "morning") -> Config:
    """The demo-sized night with the LATE subruns' files held back (declared by the
    RunSummary, not on disk yet), today's three-phase workflow."""
    generate_night(base, NightSpec(night=NIGHT, data_runs=2, subruns=3))
    (base / "models").mkdir()
    held = base / "held"
    held.mkdir()
    for run, subruns in LATE.items():
        for subrun in subruns:
            for path in (base / "R0" / "20200218").glob(f"LST-1.*.Run{run:05d}.{subrun:04d}.*"):
                shutil.move(path, held / path.name)
    extra = fake_steps() + '\n[analysis]\nmodels_dir = "models"\n'
    path = write_config(base, extra, kind=kind, workflow="per_run")
    with path.open("a") as handle:  # [night] is the file's last table
        handle.write(f'end_of_observation = ["{end}"]\n')
    return load_config(path)


def land(base: Path) -> None:
    """The held-back files land (as the DAQ copies them: all streams of each subrun)."""
    for path in sorted((base / "held").iterdir()):
        shutil.move(path, base / "R0" / "20200218" / path.name)


def status_json(base: Path) -> dict:
    out = osa(base, "status", "--date", "2020-02-18", "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def ticks_until_closed(base: Path, config: Config, ticks: int = 6) -> None:
    """Cron's ticks until the night is closed (each exits 0), waiting for the jobs between."""
    paths = NightPaths(config, NIGHT)
    said = []
    for _ in range(ticks):
        result = tick(base)
        said.append(result.stdout)
        assert result.returncode == 0, result.stdout + result.stderr
        if paths.night_finished.exists():
            return
        wait_settled(config, timeout=180)
    assert paths.night_finished.exists(), "\n".join(said)


def first_phase_indices(config: Config) -> Counter[tuple[int, int]]:
    """How many first-phase (DL1a) submissions covered each subrun."""
    journal = Journal(NightPaths(config, NIGHT).journal).read()
    counts: Counter[tuple[int, int]] = Counter()
    for sub in journal.of_kind(JobKind.DL1A):
        for index in sub.indices or ():
            counts[(sub.run, index)] += 1
    return counts


def test_late_subruns_and_a_late_run_are_processed_once_then_the_night_closes(
    tmp_path: Path, kind: str
) -> None:
    config = growing_night(tmp_path, kind)
    paths = NightPaths(config, NIGHT)
    first = tick(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    wait_settled(config, timeout=180)
    second = tick(tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert not paths.night_finished.exists(), "closed with subruns still awaited"
    assert "subruns 1-2 awaited" in second.stdout, second.stdout
    status = status_json(tmp_path)
    runs = {seq["run"]: seq for seq in status["sequences"]}
    assert runs[2003]["state"] == "AWAITED"
    # subrun 0 has its DL1a and waits, with its DL1b, on the run's calibration
    assert [s["state"] for s in runs[2002]["subruns"]] == ["WAITING", "AWAITED", "AWAITED"]
    # the run's calibration samples the whole run: it waits for the awaited subruns
    assert runs[2002]["run_calibration"]["state"] == "WAITING"
    assert "not on disk yet" in runs[2002]["run_calibration"]["reason"]

    land(tmp_path)
    ticks_until_closed(tmp_path, config)
    every = {(r, s) for r in (2002, 2003) for s in range(3)}
    assert first_phase_indices(config) == Counter({key: 1 for key in every})
    # every declared subrun went through to DL1b, none lost and none twice
    for run, subrun in every:
        history = paths.history_file(run, subrun).read_text().splitlines()
        steps = Counter(json.loads(line)["step"] for line in history)
        assert steps["dl1ab"] == 1 and steps["r0_to_dl1"] == 1, (run, subrun, steps)


def test_the_night_waits_for_the_end_of_observation_and_a_forced_close_is_journaled(
    tmp_path: Path,
) -> None:
    config = growing_night(tmp_path, "local", end="runsummary_complete")
    land(tmp_path)  # every file is there: only the end signal is missing
    paths = NightPaths(config, NIGHT)
    tick(tmp_path)
    wait_settled(config, timeout=180)
    waiting = tick(tmp_path)
    assert waiting.returncode == 0  # cron raises no alarm while the telescope observes
    assert "waiting for the end of observation: RunSummary_20200218.complete absent" in (
        waiting.stdout
    )
    assert not paths.night_finished.exists()
    assert not Journal(paths.journal).read().of_kind(JobKind.CLOSE_NIGHT), "armed too early"

    forced = osa(
        tmp_path, "close", "--date", "2020-02-18", "--override", "--reason", "shift ends, DAQ down"
    )
    assert forced.returncode == 0, forced.stdout + forced.stderr
    entries = [json.loads(line) for line in paths.journal.read_text().splitlines()]
    override = [e for e in entries if e.get("action") == "close_override"]
    assert override and override[0]["reason"] == "shift ends, DAQ down"
    assert any("end of observation" in m for m in override[0]["missing"])


def test_subruns_that_never_land_are_given_up_by_an_operator_then_the_night_closes(
    tmp_path: Path,
) -> None:
    """The disk decides what is processed, an operator what is forgotten (journaled)."""
    config = growing_night(tmp_path, "local")
    paths = NightPaths(config, NIGHT)
    tick(tmp_path)
    wait_settled(config, timeout=180)
    assert not paths.night_finished.exists()
    for run, subruns in (("2002", "1-2"), ("2003", "0-2")):
        gave = osa(
            tmp_path,
            "give-up",
            "--date",
            "2020-02-18",
            "--run",
            run,
            "--subruns",
            subruns,
            "--reason",
            "lost by the DAQ",
        )
        assert gave.returncode == 0, gave.stdout + gave.stderr
    ticks_until_closed(tmp_path, config)
    # run 2002 was calibrated and cleaned from the one subrun it has
    history = paths.history_file(2002, 0).read_text()
    assert '"dl1ab"' in history
    entries = [json.loads(line) for line in paths.journal.read_text().splitlines()]
    given = {(e["run"], tuple(e["indices"])) for e in entries if e.get("action") == "give_up"}
    assert given == {(2002, (1, 2)), (2003, (0, 1, 2))}
