"""The close killed from outside, then cron: kill -9 of the close job's processes at a
random moment of its move to the final tree, then `osa --batch` ticks as cron runs them.

Before the fix, a night killed mid-move never closed: the next tick re-ran close_runs,
whose merge had succeeded but whose output had already moved, so it ran again on inputs
that were gone (rc 66); close_night (afterok) never ran, and every tick submitted a new
close pair. Now a close resumes from its move record, never remakes what moved, and a
close that fails twice in a row stops and asks an operator instead of storming the
scheduler. Real processes, real files; the tools are tests/helpers/fake_tool.py with
outputs big enough that the move takes a while.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from osa_core.config import Config, load_config
from osa_core.executors.factory import get_executor
from osa_core.fsio import read_json_lines
from osa_core.generator import NightSpec, generate_night
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.vocabulary import JobKind
from tests.conftest import NIGHT, fake_steps, write_config
from tests.helpers.night_copy import copy_night
from tests.integration.test_executors import wait_settled
from tests.slow.test_reliability import product_digests, tick

pytestmark = pytest.mark.slow
TRIALS = 4


def processed_night(base: Path) -> None:
    """Every subrun processed, the night not closed yet (no armed close)."""
    generate_night(base, NightSpec(night=NIGHT, data_runs=2, subruns=6))
    (base / "models").mkdir(exist_ok=True)
    big = "--output-kb=3072"
    steps = fake_steps(extra_args={"r0_to_dl1": big, "dl1ab": big})
    config = load_config(
        write_config(
            base, steps + '\n[analysis]\nmodels_dir = "models"\n\n[closing]\nauto = false\n'
        )
    )
    assert tick(base).returncode in (0, 3)
    status = wait_settled(config, timeout=300)
    assert status.all_finished, "the night was not processed before it is copied"


def wait_close_settled(config: Config, timeout: float = 180) -> None:
    """Wait until every task of the night, close jobs included, is final. The status's
    sequences hold no close job: on a loaded CI machine four ticks went by while the
    close still ran, and the reference night was judged not closed."""
    wait_settled(config, timeout=timeout)
    journal = Journal(NightPaths(config, NIGHT).journal)
    executor = get_executor(config)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        closes = journal.read().of_kind(JobKind.CLOSE_RUNS, JobKind.CLOSE_NIGHT)
        tasks = executor.query([c.job_id for c in closes]).tasks
        if all(task.is_final for task in tasks):
            return
        time.sleep(0.2)
    raise AssertionError(f"the close jobs did not end in {timeout} s")


def close_processes(base: Path) -> list[int]:
    """PIDs of this night's close payloads (matched on its own config path)."""
    out = subprocess.run(
        ["pgrep", "-f", f"osa_core.closing.payload --config {base / 'osa.toml'}"],
        capture_output=True,
        text=True,
    )
    return [int(pid) for pid in out.stdout.split()]


def test_close_killed_mid_move_resumes_under_cron(tmp_path: Path) -> None:
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    print(f"seed {seed}")
    pristine = tmp_path / "pristine"
    processed_night(pristine)
    reference = tmp_path / "reference"
    copy_night(pristine, reference)
    ref_config = load_config(reference / "osa.toml")
    outputs = []
    for _ in range(4):
        outputs.append(tick(reference).stdout)
        wait_close_settled(ref_config)
        if NightPaths(ref_config, NIGHT).night_finished.exists():
            break
    assert NightPaths(ref_config, NIGHT).night_finished.exists(), "\n".join(outputs)
    expected = product_digests(ref_config)
    moves_total = len(read_json_lines(NightPaths(ref_config, NIGHT).close.moves_record))
    assert moves_total > 30
    killed_mid_move = 0
    for trial in range(TRIALS):
        base = tmp_path / f"trial-{trial}"
        copy_night(pristine, base)
        config = load_config(base / "osa.toml")
        paths = NightPaths(config, NIGHT)
        at = rng.randrange(1, moves_total - 1)
        assert tick(base).returncode == 0  # ready: submits the close chain
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if len(read_json_lines(paths.close.moves_record)) >= at:
                for pid in close_processes(base):
                    os.kill(pid, signal.SIGKILL)
                break
            if paths.night_finished.exists():
                break
            time.sleep(0.01)
        killed_mid_move += not paths.night_finished.exists()
        for _ in range(6):  # cron ticks
            wait_close_settled(config)
            if paths.night_finished.exists():
                break
            result = tick(base)
            assert result.returncode in (0, 3), result.stderr
        assert paths.night_finished.exists(), f"trial {trial} (kill at move {at}): not closed"
        assert product_digests(config) == expected, f"trial {trial}: final tree differs"
        closes = Journal(paths.journal).read().of_kind(JobKind.CLOSE_NIGHT)
        assert len(closes) <= 3, f"trial {trial}: {len(closes)} close chains (a storm)"
        shutil.rmtree(base, ignore_errors=True)
    assert killed_mid_move >= TRIALS // 2, "the kills did not land during the move"
    print(f"{TRIALS} trials, {killed_mid_move} killed mid-move, all closed identically")


def test_a_close_failing_twice_stops_and_asks_an_operator(tmp_path: Path) -> None:
    """A close that fails the same way every time is not resubmitted by every tick."""
    base = tmp_path / "night"
    generate_night(base, NightSpec(night=NIGHT, data_runs=1, subruns=2))
    (base / "models").mkdir()
    steps = fake_steps(fail={"merge_dl1": "-1"})  # the merge fails for every run
    config = load_config(write_config(base, steps + '\n[analysis]\nmodels_dir = "models"\n'))
    paths = NightPaths(config, NIGHT)
    results = []
    for _ in range(6):
        wait_settled(config, timeout=60)
        results.append(tick(base))
    closes = Journal(paths.journal).read().of_kind(JobKind.CLOSE_NIGHT)
    assert len(closes) <= 3  # the armed one, and at most two more
    assert results[-1].returncode == 3
    assert "the close failed" in results[-1].stdout
    assert not paths.night_finished.exists()
