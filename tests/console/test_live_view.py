"""The console on a night written while it is observed, at 80x24 (an SSH terminal): the
DAQ simulator writes the night step by step, the engine ticks as `osa live` does, the real
local executor runs fake_tool.py jobs; the run's grid shows its subruns going from awaited
(`…`: on disk and still being written) to done, and the late ones appear."""

from __future__ import annotations

from pathlib import Path

import pytest

from osa_core.config import load_config
from osa_core.demo.daq import DaqSimulator
from osa_core.generator import NightSpec
from osa_core.usecases.tick import tick
from osa_tui.app import OsaApp
from osa_tui.engine import Engine
from osa_tui.screens.run import RunScreen
from osa_tui.symbols import symbol
from osa_tui.widgets.grid import SubrunGrid
from tests.conftest import NIGHT, fake_steps, write_config
from tests.console.test_pilot import refresh
from tests.integration.test_executors import wait_settled

pytestmark = pytest.mark.console

PACE = 1.0  # seconds per subrun (the simulator is stepped, never slept)
SPEC = NightSpec(night=NIGHT, data_runs=1, subruns=4)  # DRS4 (5), PEDCALIB (10), run 2002 (4)
RUN_2002_STARTS = 15 * PACE  # after the calibration runs' 15 subruns


def grid_states(app: OsaApp) -> dict[int, str]:
    grid = app.screen.query_one(SubrunGrid)
    return {cell.subrun: str(cell.state) for cell in grid.cells}


async def test_subruns_go_from_awaited_to_done_at_80x24(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    extra = fake_steps() + '\n[analysis]\nmodels_dir = "models"\n'
    path = write_config(tmp_path, extra, workflow="per_run")
    with path.open("a") as handle:
        handle.write('live = true\nend_of_observation = ["runsummary_complete"]\n')
    config = load_config(path, check_paths=False)
    daq = DaqSimulator(tmp_path, SPEC, PACE, late_runs=0)
    # run 2002: subruns 0 and 1 written, subrun 2 not begun: 0 is ready, 1 still awaited
    daq.step_until(RUN_2002_STARTS + 2 * PACE)
    tick(config, NIGHT)
    app = OsaApp(Engine(config), NIGHT, live_refresh=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(pilot)
        await pilot.press("down", "enter")
        await refresh(pilot)
        assert isinstance(app.screen, RunScreen)
        first = grid_states(app)
        assert first[1] == "AWAITED" and first[0] != "AWAITED", first
        assert 2 not in first  # not on disk, not declared yet: nothing to show
        grid = app.screen.query_one(SubrunGrid)
        drawn = "".join(grid.render_line(y).text for y in range(len(grid.lines)))
        assert symbol("AWAITED") in drawn, drawn

        daq.step_until(float("inf"))  # the run ends (its RunSummary row), the night too
        for _ in range(4):
            tick(config, NIGHT)
            wait_settled(config, timeout=120)
        await refresh(pilot)
        last = grid_states(app)
        assert last == dict.fromkeys(range(4), "COMPLETED"), last
