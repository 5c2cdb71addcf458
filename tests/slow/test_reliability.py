"""Reliability: a cron tick killed at random points, a disk that fills mid-step, two
ticks and a console at once, file permissions. Real processes, real files; the analysis
tools are tests/helpers/fake_tool.py so that dozens of trials fit in minutes.
"""

from __future__ import annotations

import os
import random
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from osa_core.config import Config, load_config
from osa_core.executors.local import LocalExecutor
from osa_core.generator import NightSpec, generate_night
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.plan import build_plan
from osa_core.usecases.night import resubmit_failed, submit_night
from tests.conftest import NIGHT, fake_steps, write_config
from tests.helpers.night_copy import copy_night
from tests.integration.test_closing import product_digests as all_digests
from tests.integration.test_closing import wait_finished
from tests.integration.test_executors import wait_settled


def product_digests(config: Config) -> dict[str, str]:
    """Products of two separate runs: provenance is left out (it records each run's own
    times, hosts and job ids) but must exist."""
    digests = all_digests(config)
    provenance = [k for k in digests if "/log/provenance/" in k]
    assert len(provenance) >= 2
    return {k: v for k, v in digests.items() if k not in provenance}


pytestmark = pytest.mark.slow


def night(base: Path, extra: str = "", runs: int = 2, subruns: int = 3) -> Config:
    generate_night(base, NightSpec(night=NIGHT, data_runs=runs, subruns=subruns))
    (base / "models").mkdir(exist_ok=True)
    return load_config(
        write_config(base, fake_steps() + '\n[analysis]\nmodels_dir = "models"\n' + extra)
    )


def tick_command(base: Path) -> list[str]:
    """`osa --batch` for the night of ``base``, as cron runs it."""
    return [
        sys.executable,
        "-m",
        "osa_core.cli.main",
        "--config",
        str(base / "osa.toml"),
        "--batch",
        "--date",
        "2020-02-18",
    ]


def tick(base: Path, fault_after: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSA_FAULT")}
    if fault_after is not None:
        env["OSA_FAULT_AFTER"] = str(fault_after)
    return subprocess.run(tick_command(base), capture_output=True, text=True, timeout=180, env=env)


def test_batch_tick_killed_at_random_points(tmp_path: Path) -> None:
    """kill -9 of the tick at each submission point (intent written, job submitted but not
    journaled, journaled), then at random moments; rerun: same final tree, no duplicate."""
    pristine = tmp_path / "pristine"
    pristine.mkdir()
    night(pristine)
    reference = tmp_path / "reference"
    copy_night(pristine, reference)
    assert tick(reference).returncode == 0
    ref_config = load_config(reference / "osa.toml")
    assert wait_finished(ref_config, timeout=60)
    expected = product_digests(ref_config)
    rng = random.Random(7)
    plan_points = list(range(1, 13))  # every fault point of the first submissions
    timed = [rng.uniform(0.05, 1.5) for _ in range(6)]  # and kills at random moments
    trials = killed = 0
    for trial, point in enumerate(plan_points + [None] * len(timed)):
        base = tmp_path / f"trial-{trial}"
        copy_night(pristine, base)
        if point is not None:
            result = tick(base, fault_after=point)
            was_killed = result.returncode == -9
        else:
            process = subprocess.Popen(
                tick_command(base),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(timed[trial - len(plan_points)])
            process.kill()
            was_killed = process.wait() == -9
        trials += 1
        killed += was_killed
        # the next cron tick (and the one after, if the first had nothing left to do)
        config = load_config(base / "osa.toml")
        for _ in range(3):
            assert tick(base).returncode in (0, 3), f"trial {trial}: tick after kill failed"
            wait_settled(config, timeout=60)
            if NightPaths(config, NIGHT).night_finished.exists() or wait_finished(config, 15):
                break
        assert NightPaths(config, NIGHT).night_finished.exists(), f"trial {trial}: not closed"
        assert product_digests(config) == expected, f"trial {trial}: final tree differs"
        view = Journal(NightPaths(config, NIGHT).journal).read()
        first = [(s.run, s.kind) for s in view.submissions if s.kind in ("CALIBRATION", "DATA")]
        assert len(first) == len(set(first)) == 3, f"trial {trial}: {first}"  # no duplicate
        names = [j.name for j in LocalExecutor(config).find_jobs("osa_20200218_")]
        analysis = [n for n in names if "_clo_" not in n]
        assert len(analysis) == len(set(analysis)) == 3, f"trial {trial}: {names}"
        shutil.rmtree(base, ignore_errors=True)  # a runner may still be exiting
    assert trials == 18 and killed >= 12
    print(f"tick crash test: {trials} trials, {killed} kills, 0 duplicates, 0 files lost")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_disk_full_mid_step_then_space_freed(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], check=True)
    try:
        generate_night(mount, NightSpec(night=NIGHT, data_runs=1, subruns=6, streams=1))
        steps = fake_steps(extra_args={"dl1ab": "--output-kb=600"})
        # the data fill up; the state (journal, local executor database) is elsewhere
        extra = "\n[closing]\nauto = false\n"
        config = load_config(write_config(mount, steps + extra))
        state = tmp_path / "state"
        text = config.source.read_text().replace('base = "."', f'base = "."\nstate = "{state}"')
        config.source.write_text(text)
        config = load_config(config.source)
        plan = build_plan(config, NIGHT)
        submit_night(config, plan)
        status = wait_settled(config)
        failed = [s for seq in status.data for s in seq.subruns if s.is_failed]
        assert failed, "the 3 MB disk should have filled"
        assert all("disk full" in s.reason or "could not write" in s.reason for s in failed), [
            s.reason for s in failed
        ]
        paths = NightPaths(config, NIGHT)
        for sub in failed:  # no partial file is taken for a product
            partial = paths.dl1b_dir / f"dl1_LST-1.Run02002.{sub.subrun:04d}.h5"
            assert not partial.exists() or sub.state == "COMPLETED"
        subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)
        resubmit_failed(config, plan)
        status = wait_settled(config)
        assert all(s.state == "COMPLETED" for s in status.sequence(2002).subruns)
        for sub in status.sequence(2002).subruns:
            size = (paths.dl1b_dir / f"dl1_LST-1.Run02002.{sub.subrun:04d}.h5").stat().st_size
            assert size > 600 * 1024  # whole products, not the truncated ones
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_two_ticks_and_a_console_at_once_submit_once(tmp_path: Path) -> None:
    config = night(tmp_path, runs=3, subruns=2)
    plan = build_plan(config, NIGHT)
    results: list[object] = []

    def console_action() -> None:
        from osa_core.actions import ACTIONS, Context
        from osa_core.executors.factory import get_executor

        context = Context(config=config, plan=plan, executor=get_executor(config))
        try:
            results.append(ACTIONS["submit"].run(context))
        except Exception as err:  # Locked is a fine answer too
            results.append(err)

    ticks = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "osa_core.cli.main",
                "--config",
                str(config.source),
                "--batch",
                "--date",
                "2020-02-18",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    thread = threading.Thread(target=console_action)
    thread.start()
    codes = [p.wait(timeout=180) for p in ticks]
    thread.join(timeout=180)
    assert all(code in (0, 5) for code in codes), codes
    wait_settled(config)
    view = Journal(NightPaths(config, NIGHT).journal).read()
    analysis = [(s.run, s.kind) for s in view.submissions if s.kind in ("CALIBRATION", "DATA")]
    assert sorted(analysis) == sorted(set(analysis)) and len(analysis) == 4, analysis
    names = [
        j.name for j in LocalExecutor(config).find_jobs("osa_20200218_") if "_clo_" not in j.name
    ]
    assert len(names) == len(set(names)) == 4


def test_files_are_group_readable_never_world_writable(tmp_path: Path) -> None:
    config = night(tmp_path, runs=1, subruns=2)
    submit_night(config, build_plan(config, NIGHT))
    wait_settled(config)
    assert wait_finished(config, timeout=60)
    ours = [tmp_path / "OSA", tmp_path / "running_analysis", tmp_path / "DL1", tmp_path / "DL2"]
    checked = 0
    for root in ours:
        for path in root.rglob("*"):
            if path.is_symlink():
                continue
            mode = stat.S_IMODE(path.stat().st_mode)
            assert not mode & stat.S_IWOTH, f"{path} is world-writable ({oct(mode)})"
            assert mode & stat.S_IRGRP, f"{path} is not group-readable ({oct(mode)})"
            checked += 1
    assert checked > 50


def test_serve_binds_to_localhost_by_default() -> None:
    from osa_core.cli.main import build_parser

    args = build_parser(only="serve").parse_args(["serve"])
    assert args.host == "127.0.0.1"
