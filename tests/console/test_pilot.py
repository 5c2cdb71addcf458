"""The console driven key by key (Textual Pilot) on a real night processed by the real
local executor (fake_tool.py in place of lstchain): every key of the shifter's walk."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from osa_core.config import load_config
from osa_core.generator import NightSpec, generate_night
from osa_core.journal import Journal
from osa_core.paths import NightPaths
from osa_core.plan import build_plan
from osa_core.usecases.night import submit_night
from osa_tui.app import OsaApp
from osa_tui.engine import Engine
from osa_tui.screens.logs import LogsScreen
from osa_tui.screens.modals import ConfirmScreen, ReasonScreen
from osa_tui.screens.night import NightScreen
from osa_tui.screens.run import RunScreen
from osa_tui.widgets.grid import SubrunGrid
from tests.conftest import NIGHT, fake_steps, write_config
from tests.integration.test_executors import wait_settled

pytestmark = pytest.mark.console


@pytest.fixture
def night(tmp_path: Path):
    """2 runs x 4 subruns; run 2002 subrun 1 fails in dl1ab while a marker file exists."""
    generate_night(tmp_path, NightSpec(night=NIGHT, data_runs=2, subruns=4))
    (tmp_path / "models").mkdir()
    steps = fake_steps(
        extra_args={"dl1ab": "--fail-file={history_dir}/../../../../fail-{run}-{subrun}"}
    )
    marker = tmp_path / "fail-2002-1"
    marker.touch()
    extra = '\n[analysis]\nmodels_dir = "models"\n[closing]\nauto = false\n'
    config = load_config(write_config(tmp_path, steps + extra))
    submit_night(config, build_plan(config, NIGHT))
    wait_settled(config)
    return config, marker


async def settle(app) -> None:
    """Wait for workers; a refresh superseded by a newer one is cancelled, which is fine."""
    from textual.worker import WorkerCancelled

    for _ in range(20):
        try:
            await app.workers.wait_for_complete()
            return
        except WorkerCancelled:
            continue


async def refresh(pilot) -> None:
    pilot.app.refresh_view()
    await settle(pilot.app)
    await pilot.pause(0.05)


async def wait_until(pilot, predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.3)
        await refresh(pilot)


def table_runs(app) -> list[str]:
    from textual.widgets import DataTable

    table = app.screen.query_one(DataTable)
    return [str(table.get_row_at(i)[0]).split()[0] for i in range(table.row_count)]


async def test_shifter_walk(night) -> None:
    config, marker = night
    app = OsaApp(Engine(config), NIGHT, live_refresh=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await refresh(pilot)
        assert isinstance(app.screen, NightScreen)
        assert table_runs(app) == ["02001", "02002", "02003"]
        # "/" filters, escape clears
        await pilot.press("slash", *"2003", "enter")
        assert table_runs(app) == ["02003"]
        await pilot.press("escape")
        assert len(table_runs(app)) == 3
        # the cursor stayed on 2003 (selection survives re-rendering); up, enter -> 2002
        await pilot.press("up", "enter")
        assert isinstance(app.screen, RunScreen)
        await pilot.press("f")
        grid = app.screen.query_one(SubrunGrid)
        assert grid.current.key == (2002, 1)
        detail = str(app.screen.query_one("#detail").render())
        assert "FAILED" in detail and "dl1ab exited 3" in detail
        # "l" opens the log of that subrun, "/" searches it
        await pilot.press("l")
        assert isinstance(app.screen, LogsScreen)
        await pilot.pause(0.2)
        assert any("dl1ab: rc=3" in line for line in app.screen.lines)  # the payload's log
        assert any("[history]" in line and "dl1ab rc=3" in line for line in app.screen.lines)
        await pilot.press("e")  # stderr holds the tool's message
        await pilot.pause(0.2)
        assert any("failing on purpose" in line for line in app.screen.lines)
        await pilot.press("slash", *"purpose", "enter")
        assert app.screen.matches
        await pilot.press("escape")
        assert isinstance(app.screen, RunScreen)
        # space selects, "r" previews exactly the failed index and asks; "y" submits
        await pilot.press("space")
        assert grid.selected == {(2002, 1)}
        marker.unlink()
        await pilot.press("r")
        await settle(app)
        await pilot.pause(0.1)
        assert isinstance(app.screen, ConfirmScreen)
        preview = str(app.screen.query_one("#preview").render())
        assert "run 02002 --array=1 " in preview
        await pilot.press("y")
        await settle(app)
        status = lambda: app.view.status.sequence(2002).subruns[1]  # noqa: E731
        await wait_until(pilot, lambda: status().state == "COMPLETED")
        assert status().attempts == 2
        # "m" with nothing failed says so, no dialog
        await pilot.press("m")
        await settle(app)
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ConfirmScreen)
        # "g" gives up the cursor subrun with a reason (journaled)
        await pilot.press("right", "g")
        assert isinstance(app.screen, ReasonScreen)
        await pilot.press(*"bad pointing", "enter")
        await settle(app)
        await pilot.pause(0.1)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await settle(app)
        entries = Journal(NightPaths(config, NIGHT).journal).read()
        assert any(
            e.get("action") == "give_up" and e.get("reason") == "bad pointing"
            for e in entries.entries
        )
        # "j" journal, "d" DQ, "?" help, then back to the night
        await pilot.press("escape", "j")
        assert type(app.screen).__name__ == "JournalScreen"
        await pilot.press("escape", "d")
        assert type(app.screen).__name__ == "DQScreen"
        await pilot.press("escape", "question_mark")
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        assert isinstance(app.screen, NightScreen)
        # "t" cycles the theme
        before = app.theme
        await pilot.press("t")
        assert app.theme != before
        # "c" closes: preview, confirm, jobs run, the night is finished
        await refresh(pilot)
        await pilot.press("c")
        await settle(app)
        await pilot.pause(0.1)
        assert isinstance(app.screen, ConfirmScreen)
        assert "ready to close" in str(app.screen.query_one("#preview").render())
        await pilot.press("y")
        await settle(app)
        finished = NightPaths(config, NIGHT).night_finished
        await wait_until(pilot, finished.exists, timeout=60)
        # "c" again on the closed night: a notice, not an override prompt (found in tmux)
        await refresh(pilot)
        await pilot.press("c")
        await pilot.pause(0.2)
        assert isinstance(app.screen, NightScreen)
        assert any("already closed" in n.message for n in app._notifications)
        # "n"/"p" move between nights
        await pilot.press("n")
        await settle(app)
        await pilot.pause(0.1)
        assert app.night.isoformat() == "2020-02-19"
        assert "RunSummary not found" in app.view.error
        await pilot.press("p")
        await settle(app)
        assert app.night == NIGHT
        # ctrl+p opens the command palette listing the same actions
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "CommandPalette"
        await pilot.press("escape")
        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_read_only_refuses_actions(night) -> None:
    config, _ = night
    app = OsaApp(Engine(config, read_only=True), NIGHT, live_refresh=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(pilot)
        await pilot.press("down", "r")
        await settle(app)
        await pilot.pause(0.1)
        assert not isinstance(app.screen, ConfirmScreen)
        assert any("read-only" in n.message for n in app._notifications)


async def test_keys_are_remappable_by_binding_id(night) -> None:
    config, _ = night
    path = Path(config.source)
    path.write_text(path.read_text() + '\n[console.keys]\nresubmit = "R"\n')
    config = load_config(path)
    app = OsaApp(Engine(config), NIGHT, live_refresh=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(pilot)
        await pilot.press("down", "r")  # the old key does nothing now
        await settle(app)
        assert not isinstance(app.screen, ConfirmScreen)
        await pilot.press("R")
        await settle(app)
        await pilot.pause(0.1)
        assert isinstance(app.screen, ConfirmScreen)


async def test_scheduler_unreachable_banner(night, monkeypatch) -> None:
    config, _ = night
    engine = Engine(config)
    from osa_core.executors.api import QueryResult

    monkeypatch.setattr(
        engine.executor,
        "query",
        lambda ids: QueryResult(
            reachable=False, complete=False, message="slurmctld: Connection refused"
        ),
    )
    app = OsaApp(engine, NIGHT, live_refresh=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await refresh(pilot)
        text = str(app.screen.query_one("#header").render())
        assert "SCHEDULER UNREACHABLE" in text and "Connection refused" in text
        assert "old" in text  # the age of the last known state is shown


async def test_malformed_journal_banner(night) -> None:
    config, _ = night
    journal = NightPaths(config, NIGHT).journal
    with journal.open("ab") as handle:
        handle.write(b"garbage from a bad disk\n")
    app = OsaApp(Engine(config), NIGHT, live_refresh=False)
    async with app.run_test(size=(200, 24)) as pilot:
        await refresh(pilot)
        text = str(app.screen.query_one("#header").render())
        assert "malformed line skipped" in text and "osa journal repair" in text
