"""Snapshot tests (pytest-textual-snapshot): every screen, at 80×24 and 160×50, in every
theme, on the frozen night (and the frozen campaign) of tests/console/fixtures.py. Update
after a deliberate change with ``pytest tests/console --snapshot-update`` and look at the
report before committing.
"""

from __future__ import annotations

import pytest

import osa_tui.widgets.header as header
from osa_tui.app import OsaApp
from osa_tui.themes import load_themes
from tests.console.fixtures import (
    FROZEN,
    NIGHT,
    FrozenCampaignEngine,
    FrozenEngine,
    frozen_view,
    snapshot_campaign,
    snapshot_config,
)

# one worker: every snapshot reads the same frozen night folder (its paths are in them)
pytestmark = [pytest.mark.console, pytest.mark.xdist_group("snapshots")]

THEMES = sorted(load_themes())
SIZES = [(80, 24), (160, 50)]
# screen -> keys that reach it from the night screen
SCREENS = {
    "night": [],
    "run": ["down", "down", "enter", "f"],
    "all_subruns": ["a"],
    "journal": ["j"],
    "dq": ["d"],
    "help": ["question_mark"],
    "logs": ["down", "down", "enter", "f", "l"],
}


@pytest.fixture
def frozen_app(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(header, "now", lambda: FROZEN)

    def make(theme: str) -> OsaApp:
        config = snapshot_config()
        return OsaApp(
            FrozenEngine(config, frozen_view(config)), NIGHT, theme=theme, live_refresh=False
        )

    return make


async def _settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(0.1)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(snap_compare, frozen_app, screen: str, size: tuple[int, int], theme: str) -> None:
    assert snap_compare(
        frozen_app(theme), press=SCREENS[screen], terminal_size=size, run_before=_settle
    )


@pytest.fixture
def campaign_app(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(header, "now", lambda: FROZEN)

    def make(theme: str) -> OsaApp:
        config, campaign = snapshot_campaign()
        return OsaApp(
            FrozenCampaignEngine(config), NIGHT, theme=theme, live_refresh=False, campaign=campaign
        )

    return make


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_campaign_screen(snap_compare, campaign_app, size: tuple[int, int], theme: str) -> None:
    """``osa console --campaign``: 40 nights in every state, the cursor moved to the first
    night that needs an operator (``f``)."""
    assert snap_compare(campaign_app(theme), press=["f"], terminal_size=size, run_before=_settle)
