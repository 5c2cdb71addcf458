"""The footer's keys fit beside the command palette's key at the width a browser gives at
1280 px (``osa serve``: 142 columns at the default 16 px font), on every screen: with
Textual's default spacing, "q Quit" was cut under "^p palette"."""

from __future__ import annotations

import time
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


async def _laid_out_keys(pilot, timeout: float = 10.0) -> tuple[list[FooterKey], list[FooterKey]]:
    """The footer's palette key and its other keys, once laid out. The footer recomposes
    after a focus change on a later refresh; a loaded CI machine missed a fixed 0.2 s."""
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause(0.1)
        keys = list(pilot.app.screen.query_one(Footer).query(FooterKey))
        palette = [key for key in keys if key.has_class("-command-palette")]
        others = [key for key in keys if not key.has_class("-command-palette")]
        laid_out = all(key.outer_size.width > 0 for key in keys)
        if (palette and others and laid_out) or time.monotonic() > deadline:
            return palette, others


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
            palette, others = await _laid_out_keys(pilot)
            assert palette and others, f"{screen}: the footer shows no keys after 10 s"
            footer = app.screen.query_one(Footer)
            used = sum(_width(key) for key in others)
            room = footer.size.width - _width(palette[0])
            described = " ".join(f"{key.key_display} {key.description}" for key in others)
            assert used <= room, f"{screen}: {used} columns of keys for {room}: {described}"
