"""The footer's keys fit beside the command palette's key at the width a browser gives at
1280 px (``osa serve``: 142 columns at the default 16 px font), on every screen: with
Textual's default spacing, "q Quit" was cut under "^p palette"."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from osa_core.config import load_config
from osa_core.generator import NightSpec, generate_night
from osa_tui.app import OsaApp
from osa_tui.engine import Engine
from tests.conftest import NIGHT, write_config

pytestmark = pytest.mark.console

BROWSER_1280 = (142, 38)
SCREENS = {"night": [], "run": ["down", "enter"], "journal": ["j"], "dq": ["d"]}


def _width(key: FooterKey) -> int:
    margin = key.styles.margin
    return key.outer_size.width + margin.left + margin.right


@pytest.mark.parametrize("screen", list(SCREENS))
async def test_footer_fits_at_1280px(tmp_path: Path, screen: str) -> None:
    generate_night(tmp_path, NightSpec(night=NIGHT, data_runs=2, subruns=3))
    config = load_config(write_config(tmp_path))
    app = OsaApp(Engine(config, read_only=True), NIGHT, live_refresh=False)
    async with app.run_test(size=BROWSER_1280) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press(*SCREENS[screen])
        await app.workers.wait_for_complete()
        # With the focus where it is (the run's grid adds its keys) and nowhere (in the
        # browser the table's own bindings may not hide the screen's: enter, Open run).
        for focused in (app.screen.focused, None):
            app.screen.set_focus(focused)
            await pilot.pause(0.2)
            footer = app.screen.query_one(Footer)
            keys = list(footer.query(FooterKey))
            palette = [key for key in keys if key.has_class("-command-palette")]
            others = [key for key in keys if not key.has_class("-command-palette")]
            assert palette and others
            used = sum(_width(key) for key in others)
            room = footer.size.width - _width(palette[0])
            described = " ".join(f"{key.key_display} {key.description}" for key in others)
            assert used <= room, f"{screen}: {used} columns of keys for {room}: {described}"
