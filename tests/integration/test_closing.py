"""Closing a night: readiness, jobs, final tree, manifest, provenance, crash safety.

The analysis tools are tests/helpers/fake_tool.py (real processes writing real files) so the
closer's own logic can be killed at dozens of points in seconds; the real lstchain closing
chain runs in tests/integration/test_demo_real.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from osa_core.closing.finalize import sha256
from osa_core.config import Config, load_config
from osa_core.errors import NeedsOperator
from osa_core.generator import NightSpec, generate_night
from osa_core.paths import NightPaths
from osa_core.plan import build_plan
from osa_core.usecases.close import close_night
from osa_core.usecases.night import give_up, submit_night
from tests.conftest import NIGHT, fake_steps, write_config
from tests.helpers.night_copy import copy_night
from tests.integration.test_executors import wait_settled


def closed_night(
    base: Path,
    fail: dict[str, str] | None = None,
    runs: int = 2,
    subruns: int = 3,
    auto: bool = False,
) -> Config:
    """A night processed with fake tools (models dir present so DL2 runs); the automatic
    close is off unless asked, so these tests drive the close themselves."""
    generate_night(base, NightSpec(night=NIGHT, data_runs=runs, subruns=subruns))
    (base / "models").mkdir()
    extra = f'\n[analysis]\nmodels_dir = "models"\n[closing]\nauto = {str(auto).lower()}\n'
    config = load_config(write_config(base, fake_steps(fail=fail) + extra))
    submit_night(config, build_plan(config, NIGHT))
    wait_settled(config)
    return config


def test_armed_close_finishes_the_night_seconds_after_the_last_subrun(tmp_path: Path) -> None:
    from osa_core.closing.layout import CloseLayout
    from osa_core.history import read_history

    config = closed_night(tmp_path, auto=True)
    assert wait_finished(config, timeout=60)
    paths = NightPaths(config, NIGHT)
    plan = build_plan(config, NIGHT)
    last_end = max(
        r.end
        for s in plan.data_sequences
        for i in s.subruns
        for r in read_history(paths.history_file(s.run, i))
    )
    import datetime as dt

    finished = dt.datetime.fromtimestamp(paths.night_finished.stat().st_mtime, tz=dt.timezone.utc)
    latency = (finished - dt.datetime.fromisoformat(last_end)).total_seconds()
    assert 0 < latency < 30, latency
    assert (paths.final_dl2 / "dl2_LST-1.Run02002.h5").exists()
    assert read_history(CloseLayout(paths).night_history)


def test_armed_close_waits_when_a_subrun_failed(tmp_path: Path) -> None:
    config = closed_night(tmp_path, fail={"dl1ab": "1"}, runs=1, auto=True)
    time.sleep(3)  # the armed close ran after the data job ended, and found it not ready
    paths = NightPaths(config, NIGHT)
    assert not paths.night_finished.exists()
    logs = "".join(p.read_text() for p in paths.log_dir.glob("close_*.out"))
    assert "not closing yet" in logs and "subruns 1 not done" in logs


def wait_finished(config: Config, timeout: float = 60) -> bool:
    paths = NightPaths(config, NIGHT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if paths.night_finished.exists():
            return True
        time.sleep(0.2)
    return False


def product_digests(config: Config) -> dict[str, str]:
    """Every product in the final tree (logs excluded: they hold timestamps)."""
    base = config.paths.base
    out = {}
    for root in (config.paths.dl1, config.paths.dl2):
        for path in root.rglob("*"):
            if (
                path.is_file()
                and "/log/log/" not in str(path)
                and "/log/history/" not in str(path)
                and "/log/jobs/" not in str(path)
            ):
                out[str(path.relative_to(base))] = sha256(path)
    return out


def test_close_moves_products_writes_manifest_and_provenance(tmp_path: Path) -> None:
    config = closed_night(tmp_path)
    plan = build_plan(config, NIGHT)
    paths = NightPaths(config, NIGHT)
    preview = close_night(config, plan, dry_run=True)
    assert preview[0] == "ready to close"
    assert any("merge 3 DL1b subruns" in line for line in preview)
    running_products = sorted(p.name for p in paths.dl1b_dir.iterdir())
    lines = close_night(config, plan)
    assert lines[0].startswith("submitted close_runs job")
    assert wait_finished(config)
    final = paths.final_dl1
    assert sorted(p.name for p in final.glob("dl1_*.h5")) == sorted(
        [*running_products, "dl1_LST-1.Run02002.h5", "dl1_LST-1.Run02003.h5"]
    )
    assert (paths.final_dl2 / "dl2_LST-1.Run02002.h5").exists()
    assert (paths.final_dl1_root / "muons" / "muons_LST-1.Run02003.fits").exists()
    # the night-wise datacheck where the site's pages read it, and their link to it
    assert paths.longterm_file.exists()
    assert paths.longterm_link().resolve() == paths.longterm_file.resolve()
    assert not any(paths.dl1b_dir.iterdir())  # moved, not copied
    # DL1a is not kept twice: its DL1b (with images) is in the final tree, a link remains
    dl1a = paths.dl1a_dir / "dl1_LST-1.Run02002.0000.h5"
    assert dl1a.is_symlink() and dl1a.resolve() == (final / dl1a.name).resolve()
    assert not (paths.final_dl1_root / dl1a.name).exists()
    manifest = json.loads(paths.manifest.read_text())
    for entry in manifest["files"]:
        assert sha256(config.paths.base / entry["dst"]) == entry["sha256"]
    assert "manifest.json sha256" in paths.night_finished.read_text()
    prov = final / "log" / "provenance" / "Run02002.prov.json"
    document = json.loads(prov.read_text())
    assert any(e.endswith("dl2_LST-1.Run02002.h5") for e in document["entity"])
    assert (final / "log" / "provenance" / "Run02002.prov.png").exists() or shutil.which(
        "dot"
    ) is None
    # "where does this DL2 file come from": walks back to the R0 files
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "osa_core.cli.main",
            "-c",
            str(config.source),
            "provenance",
            str(paths.final_dl2 / "dl2_LST-1.Run02002.h5"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "LST-1.1.Run02002.0001.fits.fz" in result.stdout
    assert (
        "merge_dl1" in result.stdout or "lstchain" in result.stdout or "fake_tool" in result.stdout
    )
    # closing twice is harmless
    before = product_digests(config)
    assert close_night(config, plan)[0].startswith("night already closed")
    assert product_digests(config) == before


def test_close_is_guarded_until_failed_subruns_are_given_up(tmp_path: Path) -> None:
    config = closed_night(tmp_path, fail={"dl1ab": "1"}, runs=1)
    plan = build_plan(config, NIGHT)
    with pytest.raises(NeedsOperator, match="run 02002: subrun 1 failed"):
        close_night(config, plan)
    with pytest.raises(NeedsOperator, match="needs a reason"):
        close_night(config, plan, override=True)
    give_up(config, plan, 2002, [1], "corrupted R0 (test)")
    close_night(config, plan)
    assert wait_finished(config)
    paths = NightPaths(config, NIGHT)
    merged_inputs = sorted(p.name for p in paths.final_dl1.glob("dl1_LST-1.Run02002.000*.h5"))
    assert merged_inputs == ["dl1_LST-1.Run02002.0000.h5", "dl1_LST-1.Run02002.0002.h5"]


def test_run_without_completed_subruns_closes(tmp_path: Path) -> None:
    config = closed_night(tmp_path, fail={"r0_to_dl1": "0"}, runs=1, subruns=1)
    plan = build_plan(config, NIGHT)
    close_night(config, plan, override=True, reason="no good subrun tonight")
    assert wait_finished(config)
    paths = NightPaths(config, NIGHT)
    assert not (paths.final_dl2 / "dl2_LST-1.Run02002.h5").exists()
    assert paths.manifest.exists()


def _close_runs_then_snapshot(tmp_path: Path) -> tuple[Config, Path]:
    """A night whose per-run close products exist; the night step is what we kill."""
    base = tmp_path / "pristine"
    base.mkdir()
    config = closed_night(base)
    plan = build_plan(config, NIGHT)
    runs = ",".join(str(s.run) for s in plan.data_sequences)
    for index in range(len(plan.data_sequences)):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "osa_core.closing.payload",
                "--config",
                str(config.source),
                "--date",
                "2020-02-18",
                "runs",
                "--runs",
                runs,
                "--index",
                str(index),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return config, base


def _run_night(base: Path, fault_after: int | None, trace: Path | None = None) -> int:
    env = dict(os.environ)
    env.pop("OSA_FAULT_AFTER", None)
    if fault_after is not None:
        env["OSA_FAULT_AFTER"] = str(fault_after)
        if trace is not None:
            env["OSA_FAULT_TRACE"] = str(trace)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "osa_core.closing.payload",
            "--config",
            str(base / "osa.toml"),
            "--date",
            "2020-02-18",
            "night",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode


@pytest.mark.slow
def test_closer_killed_at_many_points_completes_identically(tmp_path: Path) -> None:
    _, pristine = _close_runs_then_snapshot(tmp_path)
    reference = tmp_path / "reference"
    copy_night(pristine, reference)
    assert _run_night(reference, None) == 0
    expected = product_digests(load_config(reference / "osa.toml"))
    assert len(expected) > 30
    trials = killed = 0
    points = list(range(1, 26)) + list(range(26, 200, 9))
    for point in points:
        trial = tmp_path / f"trial-{point}"
        copy_night(pristine, trial)
        trace = tmp_path / "trace.txt"
        rc = _run_night(trial, point, trace)
        trials += 1
        if rc == 0:  # the close had fewer fault points than this: it completed
            shutil.rmtree(trial)
            break
        assert rc == -9, f"point {point}: the closer exited {rc}, not killed"
        killed += 1
        assert _run_night(trial, None) == 0, f"rerun after a kill at point {point} failed"
        got = product_digests(load_config(trial / "osa.toml"))
        assert got == expected, f"kill at point {point}: final tree differs"
        assert NightPaths(load_config(trial / "osa.toml"), NIGHT).night_finished.exists()
        shutil.rmtree(trial)
    assert killed >= 20, f"only {killed} kill points exercised"
    print(f"closer crash test: {trials} trials, {killed} kills survived, 0 files lost")
