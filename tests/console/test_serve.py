"""``osa serve``'s guards, in process (aiohttp's test client, no browser): the token, the
cookie it becomes, the websocket's Origin check, the page's addresses and headers.

The same checks through a real Chromium, a tunnel and a proxy: tests/console/test_browser.py.
"""

from __future__ import annotations

import re

import pytest
from aiohttp import WSServerHandshakeError
from aiohttp.test_utils import TestClient, TestServer

from osa_core.errors import InputError
from osa_tui.serve import OsaServer, new_token, normalise_prefix, origin_host

pytestmark = pytest.mark.console

TOKEN = "t0ken-for-the-tests-only-0123456789"


async def _client(**options) -> TestClient:
    server = OsaServer("true", token=TOKEN, **options)  # each websocket would run `true`
    client = TestClient(TestServer(await server._make_app()))
    await client.start_server()
    client.osa = server  # type: ignore[attr-defined]
    return client


@pytest.fixture
async def client():
    client = await _client()
    yield client
    await client.close()


async def _login(client: TestClient, path: str = "/") -> None:
    response = await client.get(f"{path}?token={TOKEN}", allow_redirects=False)
    assert response.status == 303


@pytest.mark.parametrize("path", ["/", "/ws", "/static/js/textual.js", "/nothing"])
async def test_no_token_is_refused(client: TestClient, path: str) -> None:
    response = await client.get(path, allow_redirects=False)
    assert response.status == 403
    assert "token" in await response.text()


@pytest.mark.parametrize("path", ["/", "/static/js/textual.js"])
async def test_a_wrong_token_is_refused(client: TestClient, path: str) -> None:
    response = await client.get(f"{path}?token=not-{TOKEN}", allow_redirects=False)
    assert response.status == 403
    client.session.cookie_jar.update_cookies({client.osa.cookie_name: "wrong"})
    assert (await client.get(path, allow_redirects=False)).status == 403


async def test_the_token_becomes_a_cookie_and_leaves_the_address(client: TestClient) -> None:
    response = await client.get(
        f"/?token={TOKEN}&fontsize=14&ping=http://elsewhere.example/", allow_redirects=False
    )
    assert response.status == 303
    assert response.headers["Location"] == "./?fontsize=14"  # no token, no ping
    cookie = response.cookies[client.osa.cookie_name]
    assert cookie.value == TOKEN
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert not cookie["path"]  # the browser scopes it to the folder it sees
    page = await client.get("/?fontsize=14")
    assert page.status == 200
    assert (await client.get("/static/js/textual.js")).status == 200


async def test_the_page_asks_nothing_from_elsewhere(client: TestClient) -> None:
    await _login(client)
    page = await client.get("/")
    text = await page.text()
    assert "googleapis" not in text
    addresses = re.findall(r'(?:href|src)="([^"]+)"', text) + re.findall(r'url\("([^"]+)"\)', text)
    assert addresses and all(a.startswith("static/") or a == "data:," for a in addresses), addresses
    assert 'new URL("ws", document.baseURI)' in text
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert f'<script nonce="{nonce}">' in text
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "no-referrer"


async def test_websocket_from_another_origin_is_refused(client: TestClient) -> None:
    await _login(client)
    host = f"{client.host}:{client.port}"
    for origin in (
        "http://evil.example",
        f"http://{client.host}:1",  # another port of the same host: same site, other origin
        "null",
    ):
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws", headers={"Origin": origin})
        assert refused.value.status == 403, origin
    ws = await client.ws_connect("/ws", headers={"Origin": f"http://{host}"})
    await ws.close()


async def test_websocket_needs_the_token_even_from_the_right_origin(client: TestClient) -> None:
    origin = {"Origin": f"http://{client.host}:{client.port}"}
    for path in ("/ws", f"/ws?token=not-{TOKEN}"):
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect(path, headers=origin)
        assert refused.value.status == 403
    ws = await client.ws_connect(f"/ws?token={TOKEN}", headers=origin)  # a script's way
    await ws.close()


async def test_proxy_host_and_allowed_origins() -> None:
    client = await _client(allow_origins=("https://gateway.example",))
    try:
        await _login(client)
        ws = await client.ws_connect(
            "/ws",
            headers={"Origin": "https://proxy.example", "X-Forwarded-Host": "proxy.example"},
        )
        await ws.close()
        ws = await client.ws_connect("/ws", headers={"Origin": "https://gateway.example"})
        await ws.close()
        with pytest.raises(WSServerHandshakeError):
            await client.ws_connect("/ws", headers={"Origin": "https://proxy.example"})
    finally:
        await client.close()


async def test_prefix_serves_under_it_and_at_the_root() -> None:
    client = await _client(prefix="/osa/")
    try:
        response = await client.get(f"/osa?token={TOKEN}", allow_redirects=False)
        assert response.status == 301
        assert response.headers["Location"] == f"/osa/?token={TOKEN}"
        response = await client.get(f"/osa/?token={TOKEN}", allow_redirects=False)
        assert response.headers["Location"] == "/osa/"
        assert response.cookies[client.osa.cookie_name]["path"] == "/osa/"
        for root in ("/osa/", "/"):  # a proxy that passes the prefix on, or strips it
            client.session.cookie_jar.update_cookies({client.osa.cookie_name: TOKEN})
            text = await (await client.get(root)).text()
            assert 'href="/osa/static/css/xterm.css"' in text
            assert 'new URL("/osa/ws", document.baseURI)' in text
            assert (await client.get(f"{root}static/js/textual.js")).status == 200
    finally:
        await client.close()


def test_prefix_and_origin_parsing() -> None:
    assert normalise_prefix(None) == normalise_prefix("/") == ""
    assert normalise_prefix("osa") == normalise_prefix("/osa/") == "/osa"
    with pytest.raises(InputError):
        normalise_prefix('/osa"><script>')
    assert origin_host("https://Proxy.Example:443") == "proxy.example"
    assert origin_host("http://localhost:9000") == "localhost:9000"
    assert origin_host("null") is None


def test_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSA_SERVE_TOKEN", TOKEN)
    assert new_token() == TOKEN
    import os

    assert "OSA_SERVE_TOKEN" not in os.environ  # the consoles below do not inherit it
    monkeypatch.setenv("OSA_SERVE_TOKEN", "short")
    with pytest.raises(InputError):
        new_token()
    assert len(new_token()) >= 32 and new_token() != new_token()
