"""Shared fixtures: generated nights and configs pointing at them."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from osa_core.config import Config, load_config
from osa_core.generator import NightSpec, generate_night
from tests.helpers.slurm import cluster_problem, restore_cluster

NIGHT = dt.date(2020, 2, 18)


def write_config(base: Path, extra: str = "", kind: str = "local", workflow: str = "fixed") -> Path:
    """A config file inside ``base`` pointing at it. Orchestration tests default to the
    fixed-cleaning workflow (one job per subrun); the per-run phases have their own."""
    path = base / "osa.toml"
    path.write_text(
        f'[paths]\nbase = "."\n\n[executor]\nkind = "{kind}"\n\n{extra}\n'
        f'\n[night]\nworkflow = "{workflow}"\n'
    )
    return path


@pytest.fixture
def night_base(tmp_path: Path) -> Path:
    """A small generated night (2 calibration runs + 3 DATA runs x 4 subruns)."""
    generate_night(tmp_path, NightSpec(night=NIGHT, data_runs=3, subruns=4))
    return tmp_path


@pytest.fixture
def config(night_base: Path) -> Config:
    return load_config(write_config(night_base))


FAKE_TOOL = Path(__file__).resolve().parent / "helpers" / "fake_tool.py"
CLOSE_STEPS = ("merge_dl1", "merge_muons", "run_datacheck", "dl2", "longterm", "cherenkov")
RUN_STEPS = ("catb", "tailcuts")


def fake_steps(fail: dict[str, str] | None = None, extra_args: dict[str, str] | None = None) -> str:
    """``[steps.*]`` tables running tests/helpers/fake_tool.py instead of lstchain.

    ``fail`` maps a step to its ``--fail-subruns`` list (e.g. ``{"dl1ab": "1"}``);
    ``extra_args`` adds raw arguments to a step (e.g. ``{"r0_to_dl1": "--sleep=2"}``).
    """
    fail = fail or {}
    extra_args = extra_args or {}
    outputs = {
        # the real tool's arguments: it writes every stream of the subrun, and its log
        "r0_to_r0g": [
            "--R0-file={r0_raw_file}",
            "--output-dir={r0g_dir}",
            "--log={gain_selection_log}",
        ],
        "drs4_baseline": ["{drs4_file}"],
        "calibration": ["{calib_file}"],
        "r0_to_dl1": ["{dl1a_file}", "{muons_file}"],
        "dl1ab": ["{dl1b_file}"],
        "datacheck": ["{datacheck_file}"],
        "merge_dl1": ["{merged_dl1_file}"],
        "merge_muons": ["{merged_muons_file}"],
        "run_datacheck": ["{run_datacheck_file}"],
        "dl2": ["{dl2_file}"],
        "longterm": ["{longterm_file}"],
        "cherenkov": ["{longterm_file}"],
        "catb": ["{catb_output}"],
        "tailcuts": ["{tailcuts_dir}/dl1ab_Run{run05}.json"],
    }
    # what each step reads: the fake's outputs carry its inputs' checksum, so "the same
    # checksums" in the fault trials means the same content, not the same words
    inputs = {
        "calibration": ["{drs4_file}"],
        "r0_to_dl1": ["{r0_file}", "{calib_file}"],
        "dl1ab": ["{dl1a_file}"],
        "datacheck": ["{dl1b_file}"],
        "merge_dl1": ["{staged_dl1_dir}"],
        "merge_muons": ["{staged_muons_dir}"],
        "run_datacheck": ["{staged_datacheck_dir}"],
        "dl2": ["{merged_dl1_file}"],
        "longterm": ["{run_datacheck_dir}"],
    }
    blocks = []
    for step, outs in outputs.items():
        subrun = "--subrun={subrun}" if step not in CLOSE_STEPS + RUN_STEPS else "--subrun=-1"
        args = ["{python}", str(FAKE_TOOL), step, *outs, subrun]
        if step in RUN_STEPS:
            args.append("--run={run}")
        args += [f"--input={item}" for item in inputs.get(step, [])]
        if step in fail:
            args.append(f"--fail-subruns={fail[step]}")
        if step in extra_args:
            args.extend(extra_args[step].split())
        quoted = ", ".join(f'"{a}"' for a in args)
        blocks.append(f"[steps.{step}]\ncommand = [{quoted}]\n")
    return "\n".join(blocks)


def slurm_required() -> bool:
    """CI (``.ci/run``) sets OSA_REQUIRE_SLURM=1: there a SLURM test may not skip."""
    return os.environ.get("OSA_REQUIRE_SLURM") == "1"


@pytest.fixture
def slurm_cluster() -> Iterator[None]:
    """The local cluster, usable (skipped without one, except in CI where that is a
    failure); afterwards, whatever the test left changed on it (a node DOWN or DRAINED, a
    partition DOWN, a test reservation, a daemon stopped) is put back and the test FAILS
    with what it was. Every test marked ``slurm`` gets this fixture (``_slurm_guard``)."""
    problem = cluster_problem()
    if problem:
        if slurm_required():
            pytest.fail(f"OSA_REQUIRE_SLURM=1 but the SLURM cluster is not usable: {problem}")
        pytest.skip(problem)
    yield
    left = restore_cluster()
    if left:
        pytest.fail("the test left the SLURM cluster changed (put back now): " + "; ".join(left))


@pytest.fixture(autouse=True)
def _slurm_guard(request: pytest.FixtureRequest) -> None:
    """Every SLURM test goes through ``slurm_cluster`` (its check and its guard)."""
    if request.node.get_closest_marker("slurm"):
        request.getfixturevalue("slurm_cluster")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Under OSA_REQUIRE_SLURM=1 a skipped SLURM test is a failure, whatever skipped it (a
    fixture of its own, an importorskip...)."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and slurm_required() and item.get_closest_marker("slurm"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"SLURM test skipped under OSA_REQUIRE_SLURM=1: {reason}"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With pytest-xdist (`make test` runs two workers): every SLURM test in one worker, in
    order (they share the one local cluster and some kill its daemons), and the console
    snapshots in one worker (they share a fixed night folder, whose path is on screen), and
    the browser tests in one worker (they share one Chromium and one ``osa serve``)."""
    for item in items:
        if item.get_closest_marker("slurm"):
            item.add_marker(pytest.mark.xdist_group("slurm"))
        elif "test_snapshots" in item.nodeid:
            item.add_marker(pytest.mark.xdist_group("snapshots"))
        elif "test_browser" in item.nodeid:  # one browser and one `osa serve` for them all
            item.add_marker(pytest.mark.xdist_group("browser"))
