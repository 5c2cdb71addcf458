"""What the browser tests need around ``osa serve``: the server itself (a subprocess on a
free port), headless Chromium through Playwright (the system's /usr/bin/chromium, never a
browser Playwright downloads), a tunnel-like TCP forwarder and a reverse proxy with a path
prefix, all on this machine.

Textual draws into xterm.js's canvas, so the page's DOM has no text: what the console shows
is read from the websocket frames the browser receives (the terminal stream, ANSI removed),
and looked at in screenshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()#][0-9A-Za-z]|\x1b."
)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def chromium_path() -> str | None:
    return (
        os.environ.get("OSA_CHROMIUM")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


def need_browser() -> str:
    """The Chromium to drive; without one (or without Playwright) the test is skipped, except
    under OSA_REQUIRE_BROWSER=1 (CI), where that is a failure."""
    missing = []
    path = chromium_path()
    if path is None:
        missing.append("chromium (apt: chromium; scripts/install-system-deps)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip: the dev extra)")
    if missing:
        message = f"no browser for the console tests: {', '.join(missing)}"
        if os.environ.get("OSA_REQUIRE_BROWSER") == "1":
            pytest.fail(f"OSA_REQUIRE_BROWSER=1 but {message}")
        pytest.skip(message)
    assert path is not None
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """``osa serve`` in its own process group (its consoles with it), on a free port."""

    def __init__(self, config: Path, date: str, *options: str, log: Path) -> None:
        self.port = free_port()
        self.log = log
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("OSA_SERVE_TOKEN", None)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "osa_core.cli.main",
                "--config",
                str(config),
                "serve",
                "--date",
                date,
                "--port",
                str(self.port),
                *options,
            ],
            stdout=subprocess.PIPE,
            stderr=log.open("wb"),
            text=True,
            env=env,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        self.printed: list[str] = []
        self.token = ""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.printed.append(line)
            found = re.search(r"\?token=(\S+)", line)
            if found:
                self.token = found.group(1)
                break
        if not self.token:
            self.stop()
            raise AssertionError(f"osa serve printed no address: {self.printed} {self.errors()}")
        # Keep reading what it prints (a full pipe would block it).
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.printed.append(line)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, origin: str | None = None, token: str | None = None) -> str:
        return f"{origin or self.origin}/?token={self.token if token is None else token}"

    def errors(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


class Tab:
    """A browser page on the console, with what it received and what it asked for."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.frames: list[bytes] = []
        self.sockets: list[str] = []
        self.requests: list[str] = []
        self.messages: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("console", lambda message: self.messages.append(message.text))
        page.on("websocket", self._socket)

    def _socket(self, websocket: Any) -> None:
        self.sockets.append(websocket.url)

        def received(payload: str | bytes) -> None:
            if isinstance(payload, bytes):
                self.frames.append(payload)

        websocket.on("framereceived", received)

    def text(self, since: int = 0) -> str:
        raw = b"".join(self.frames[since:]).decode("utf-8", "replace")
        return ANSI.sub("", raw)

    def wait_for(self, needle: str, since: int = 0, timeout: float = 45) -> None:
        """Until the console has drawn ``needle`` (the page's events run while we wait)."""
        deadline = time.monotonic() + timeout
        while needle not in self.text(since):
            if time.monotonic() > deadline:
                tail = self.text(since)[-1500:]
                raise AssertionError(f"{needle!r} never drawn; last text: {tail!r}")
            self.page.wait_for_timeout(100)

    def drawn(self) -> bool:
        return bool(self.page.evaluate("() => document.body.classList.contains('-first-byte')"))

    def press(self, key: str, then: str, timeout: float = 30) -> None:
        """Press ``key`` in the terminal and wait until ``then`` is drawn after it."""
        since = len(self.frames)
        self.page.focus(".xterm-helper-textarea")
        self.page.keyboard.press(key)
        self.wait_for(then, since=since, timeout=timeout)

    def settle(self, quiet: float = 0.6, timeout: float = 10) -> None:
        """Until no frame came for ``quiet`` seconds (before a screenshot)."""
        deadline = time.monotonic() + timeout
        count, since = len(self.frames), time.monotonic()
        while time.monotonic() < deadline:
            self.page.wait_for_timeout(100)
            if len(self.frames) != count:
                count, since = len(self.frames), time.monotonic()
            elif time.monotonic() - since >= quiet:
                return

    def screenshot(self, name: str, out: Path) -> Path:
        """Into ``out``; also into docs/screenshots with OSA_UPDATE_SCREENSHOTS=1."""
        self.settle()
        path = out / name
        self.page.screenshot(path=str(path))
        if os.environ.get("OSA_UPDATE_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, SCREENSHOTS / name)
        return path

    def outside(self, *origins: str) -> list[str]:
        """Requests (and websockets) to anywhere but ``origins``: there must be none."""
        allowed = tuple(o.rstrip("/") + "/" for o in origins)
        ws = tuple("ws" + o.removeprefix("http").rstrip("/") + "/" for o in origins)
        return [
            url
            for url in self.requests + self.sockets
            if not url.startswith(allowed + ws) and not url.startswith("data:")
        ]


# --- a tunnel and a proxy -------------------------------------------------------------
class Forwarder:
    """What ``ssh -L OTHER:127.0.0.1:PORT`` does, in a thread: bytes both ways."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.running = False
        self.listener.close()


class PrefixProxy:
    """A reverse proxy publishing the server under ``/osa/``, as a site's proxy would: it
    strips the prefix, sends the upstream's own Host with the browser's in X-Forwarded-Host
    (nginx's default, plus the header docs/serve.md asks for), and passes websockets on with
    the browser's Origin. aiohttp, in a thread with its own event loop."""

    HOP = frozenset(
        {"host", "connection", "upgrade", "keep-alive", "transfer-encoding", "content-length"}
    )

    def __init__(self, target_port: int, prefix: str = "/osa") -> None:
        self.upstream = f"127.0.0.1:{target_port}"
        self.prefix = prefix
        self.port = free_port()
        self.sockets: list[Any] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(15), "proxy did not start"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        from aiohttp import ClientSession, web

        self.session = ClientSession(auto_decompress=False)
        app = web.Application()
        app.router.add_route("*", self.prefix, self._slash)
        app.router.add_route("*", self.prefix + "/{tail:.*}", self._forward)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def _slash(self, request: Any) -> Any:
        from aiohttp import web

        raise web.HTTPMovedPermanently(f"{self.prefix}/?{request.query_string}")

    def _headers(self, request: Any) -> dict[str, str]:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in self.HOP}
        headers["Host"] = self.upstream
        headers["X-Forwarded-Host"] = request.host
        headers["X-Forwarded-Proto"] = "http"
        return headers

    async def _forward(self, request: Any) -> Any:
        from aiohttp import WSMsgType, web

        path = "/" + request.match_info["tail"]
        query = f"?{request.query_string}" if request.query_string else ""
        url = f"http://{self.upstream}{path}{query}"
        if request.headers.get("Upgrade", "").lower() == "websocket":
            headers = self._headers(request)
            headers.pop("Sec-WebSocket-Key", None)
            headers.pop("Sec-WebSocket-Version", None)
            headers.pop("Sec-WebSocket-Extensions", None)
            try:
                upstream = await self.session.ws_connect(url, headers=headers)
            except Exception as err:  # refused upstream: refused here too
                raise web.HTTPForbidden(text=f"upstream refused: {err}") from err
            browser = web.WebSocketResponse()
            await browser.prepare(request)
            self.sockets += [browser, upstream]

            async def pump(source: Any, sink: Any) -> None:
                async for message in source:
                    if message.type == WSMsgType.TEXT:
                        await sink.send_str(message.data)
                    elif message.type == WSMsgType.BINARY:
                        await sink.send_bytes(message.data)
                await sink.close()

            await asyncio.gather(pump(browser, upstream), pump(upstream, browser))
            return browser
        async with self.session.request(
            request.method,
            url,
            headers=self._headers(request),
            data=await request.read(),
            allow_redirects=False,
        ) as upstream_response:
            body = await upstream_response.read()
            headers = {
                k: v
                for k, v in upstream_response.headers.items()
                if k.lower() not in self.HOP and k.lower() != "set-cookie"
            }
            response = web.Response(status=upstream_response.status, body=body, headers=headers)
            for cookie in upstream_response.headers.getall("Set-Cookie", []):
                response.headers.add("Set-Cookie", cookie)
            return response

    def close(self) -> None:
        async def stop() -> None:
            for websocket in self.sockets:
                await websocket.close()
            await self.runner.cleanup()
            await self.session.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(15)


@contextlib.contextmanager
def foreign_site(target: str) -> Iterator[str]:
    """A page of another origin (another port of this host: the same *site*, so the
    browser sends the console's cookie along) that tries to open the console's websocket
    and writes what happened in its title."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    page = (
        "<!DOCTYPE html><title>trying</title><script>"
        f'const ws = new WebSocket("{target}");'
        'ws.onopen = () => { document.title = "opened"; };'
        'ws.onerror = () => { document.title = "refused"; };'
        "</script>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
