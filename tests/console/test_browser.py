"""The console in a real browser: ``osa serve`` on a small generated night, driven by
headless Chromium (Playwright, with the system's browser), directly, through a tunnel on
another port and through a reverse proxy under ``/osa/``; and what it must refuse.

Without Chromium or Playwright these tests skip, except under OSA_REQUIRE_BROWSER=1 (CI),
where that is a failure. ``OSA_UPDATE_SCREENSHOTS=1`` also writes the screenshots into
docs/screenshots/serve-*.png (docs/serve.md shows them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from osa_core.config import load_config
from osa_core.executors.factory import get_executor
from osa_core.generator import NightSpec, generate_night
from tests.conftest import NIGHT
from tests.console.browser import (
    CHROMIUM_ARGS,
    Forwarder,
    PrefixProxy,
    Served,
    Tab,
    foreign_site,
    need_browser,
)

pytestmark = pytest.mark.console

VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def night_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated night (calibration + 3 data runs x 4 subruns), nothing submitted:
    a local executor that has run nothing, so the console shows the plan as it stands."""
    base = tmp_path_factory.mktemp("served-night")
    generate_night(base, NightSpec(night=NIGHT, data_runs=3, subruns=4))
    path = base / "osa.toml"
    path.write_text('[paths]\nbase = "."\n\n[executor]\nkind = "local"\n')
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def served(night_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    log = tmp_path_factory.mktemp("serve-log") / "serve.err"
    server = Served(night_config, NIGHT.isoformat(), log=log)
    yield server
    server.stop()


@pytest.fixture
def tab(browser: Any) -> Iterator[Tab]:
    """A fresh browser context (no cookie) and page."""
    context = browser.new_context(viewport=VIEWPORT)
    yield Tab(context.new_page())
    context.close()


def _open(tab: Tab, url: str) -> None:
    response = tab.page.goto(url)
    assert response is not None and response.status == 200, url
    tab.wait_for("Night 2020-02-18")
    tab.wait_for("Mrk 421")  # the night's table: a data run's source


def test_console_with_the_token(tab: Tab, served: Served, tmp_path: Path) -> None:
    _open(tab, served.url())
    page = tab.page
    # The token left the address bar for a cookie; the console is drawn and connected.
    assert page.url == f"{served.origin}/"
    assert "token" not in page.url
    assert tab.drawn()
    for text in ("02002", "Crab", "1ES 1959+650", "NOT_SUBMITTED", "q Quit", "^p palette"):
        assert text in tab.text(), text
    tab.screenshot("serve-night.png", tmp_path)
    # Nothing asked from anywhere else (the font is served here), nothing refused by the CSP.
    assert tab.outside(served.origin) == []
    assert not [m for m in tab.messages if "Content Security Policy" in m or "Failed" in m]
    # A key acts: the help screen, then back.
    tab.press("?", then="Binding id")
    assert "drill_down" in tab.text()
    tab.screenshot("serve-help.png", tmp_path)
    tab.press("Escape", then="Mrk 421")


def test_no_token_or_a_wrong_one_is_refused(tab: Tab, served: Served) -> None:
    for url in (f"{served.origin}/", served.url(token="not-the-token")):
        response = tab.page.goto(url)
        assert response is not None and response.status == 403, url
        assert "token" in tab.page.inner_text("body")
    tab.page.wait_for_timeout(300)
    assert tab.sockets == []  # no page, so no console


def test_a_page_of_another_origin_cannot_open_the_console(tab: Tab, served: Served) -> None:
    """Even with the cookie in the browser (another port of the same host is the same site,
    so the browser sends it), the websocket from another origin is refused."""
    _open(tab, served.url())
    target = f"ws://127.0.0.1:{served.port}/ws?width=80&height=24"
    with foreign_site(target) as foreign:
        page = tab.page.context.new_page()
        page.goto(foreign)
        for _ in range(100):
            if page.title() != "trying":
                break
            page.wait_for_timeout(100)
        assert page.title() == "refused"
    assert "websocket from Origin 'http://127.0.0.1:" in served.errors()


def test_through_a_tunnel_on_another_port(tab: Tab, served: Served, tmp_path: Path) -> None:
    """``ssh -L 9000:127.0.0.1:8000``: the page is on another port (and another name)."""
    tunnel = Forwarder(served.port)
    try:
        origin = f"http://localhost:{tunnel.port}"
        _open(tab, served.url(origin=origin))
        assert tab.page.url == f"{origin}/"
        assert tab.sockets and all(
            s.startswith(f"ws://localhost:{tunnel.port}/") for s in tab.sockets
        )
        assert tab.outside(origin) == []
        tab.press("ArrowDown", then="02002")  # the cursor on the first data run
        tab.press("Enter", then="Run 02002")  # a key acts: its run screen
        tab.screenshot("serve-tunnel.png", tmp_path)
    finally:
        tunnel.close()


def test_through_a_proxy_under_a_prefix(tab: Tab, served: Served, tmp_path: Path) -> None:
    """``https://proxy/osa/`` -> the server's ``/``: relative addresses do the rest, and the
    proxy's X-Forwarded-Host makes the websocket's Origin the page's own."""
    proxy = PrefixProxy(served.port, "/osa")
    try:
        origin = f"http://127.0.0.1:{proxy.port}"
        _open(tab, f"{origin}/osa/?token={served.token}")
        assert tab.page.url == f"{origin}/osa/"
        assert tab.sockets == [
            f"ws://127.0.0.1:{proxy.port}/osa/ws?" + tab.sockets[0].split("?")[1]
        ]
        assert tab.outside(f"{origin}/osa") == []
        tab.screenshot("serve-proxy.png", tmp_path)
        tab.press("?", then="Binding id")  # a key acts through the proxy too
    finally:
        proxy.close()


def test_read_only_refuses_in_the_browser(tab: Tab, night_config: Path, tmp_path: Path) -> None:
    server = Served(night_config, NIGHT.isoformat(), "--read-only", log=tmp_path / "ro.err")
    try:
        _open(tab, server.url())
        assert "READ-ONLY" in tab.text()
        tab.press("s", then="read-only")  # submit: refused
        tab.screenshot("serve-read-only.png", tmp_path)
        config = load_config(night_config)
        assert get_executor(config).find_jobs("osa_") == []  # nothing was submitted
    finally:
        server.stop()
