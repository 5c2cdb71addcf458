"""``osa serve``'s web server: textual-serve with a token, an Origin check, and a page whose
addresses survive an SSH tunnel or a reverse proxy.

textual-serve alone lets anyone who reaches the port drive the console, and any web page
open in the operator's browser too (a websocket is not bound by the same-origin policy).
Here:

* every request needs the **token** (random, printed at start, as Jupyter does): given once
  as ``?token=`` it is swapped for an HttpOnly cookie and the address bar is cleaned;
* the **websocket** that drives the console is refused when its ``Origin`` is not the page's
  own host (the ``Host`` the browser asked for, ``X-Forwarded-Host`` from a proxy, or an
  ``--allow-origin``): a page of another site, or of another port of localhost, cannot open
  it even with the cookie;
* the page may not be framed, loads nothing from elsewhere (the font is served here, and a
  Content-Security-Policy says so), and every address in it is relative to where the browser
  found it, so ``ssh -L 9000:127.0.0.1:8000`` and ``https://proxy/osa/`` both work.

What the console may do is the engine's business: ``--read-only`` reaches the console's
Engine, whose actions refuse to mutate (osa_core.actions).
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import os
import re
import secrets
import signal
import string
import sys
from importlib import resources
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from aiohttp.web_runner import GracefulExit
from textual_serve.server import Server, to_int

from osa_core.errors import InputError

log = logging.getLogger("osa-serve")

TOKEN_ENV = "OSA_SERVE_TOKEN"
MIN_TOKEN_LENGTH = 16
# Query parameters the page itself understands; everything else is dropped on the redirect
# (textual.js would fetch ``?ping=URL`` from anywhere).
KEPT_QUERY = ("fontsize", "delay")
REFUSED = (
    "osa serve: refused. Open the whole address printed where `osa serve` started "
    "(with its ?token=...); see docs/serve.md.\n"
)
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)*$")
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def new_token() -> str:
    """The token of this server: ``$OSA_SERVE_TOKEN`` if set (then removed from the
    environment, so the consoles started below do not inherit it), else a random one."""
    given = os.environ.pop(TOKEN_ENV, "")
    if not given:
        return secrets.token_urlsafe(32)
    if len(given) < MIN_TOKEN_LENGTH:
        raise InputError(f"${TOKEN_ENV} is too short (at least {MIN_TOKEN_LENGTH} characters)")
    return given


def normalise_prefix(prefix: str | None) -> str:
    """``osa`` / ``/osa/`` -> ``/osa``; nothing -> ``""``."""
    if not prefix or prefix.strip("/") == "":
        return ""
    cleaned = "/" + prefix.strip("/")
    if not _PREFIX.match(cleaned):
        raise InputError(f"--prefix {prefix!r}: only letters, digits and . _ ~ - between slashes")
    return cleaned


def _host_port(netloc: str, scheme: str = "") -> str:
    """``Host:443`` and ``https://host`` compare equal: lower case, default port dropped."""
    netloc = netloc.strip().lower()
    for default in (":80", ":443"):
        if netloc.endswith(default) and scheme in ("", "http" if default == ":80" else "https"):
            return netloc[: -len(default)]
    return netloc


def origin_host(origin: str) -> str | None:
    """``https://proxy.site`` -> ``proxy.site``; ``null`` or anything odd -> None."""
    parts = urlsplit(origin.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return _host_port(parts.netloc, parts.scheme)


class OsaServer(Server):
    """textual-serve's Server, guarded (see the module's docstring)."""

    def __init__(
        self,
        command: str,
        *,
        token: str,
        host: str = "127.0.0.1",
        port: int = 8000,
        prefix: str = "",
        allow_origins: tuple[str, ...] = (),
        title: str = "osa-console",
    ) -> None:
        super().__init__(command, host=host, port=port, title=title)
        self.token = token
        self.prefix = normalise_prefix(prefix)
        self.allowed_hosts: set[str] = set()
        for origin in allow_origins:
            allowed = origin_host(origin) or _host_port(origin)
            self.allowed_hosts.add(allowed)
        digest = hashlib.sha256(token.encode()).hexdigest()[:12]
        self.cookie_name = f"osa-serve-{digest}"
        page = resources.files("osa_tui").joinpath("serve_index.html").read_text("utf-8")
        self.page = string.Template(page)

    # --- what to open --------------------------------------------------------------------
    def url(self, host: str | None = None) -> str:
        shown = host or self.host
        if shown in ("0.0.0.0", "::", ""):
            shown = "127.0.0.1"
        if ":" in shown:
            shown = f"[{shown}]"
        return f"http://{shown}:{self.port}/?token={self.token}"

    # --- the checks ----------------------------------------------------------------------
    def authorised(self, request: web.Request) -> bool:
        """The token, from ``?token=`` (once) or from the cookie it became."""
        if "token" in request.query:
            supplied = request.query.get("token", "")
        else:
            supplied = request.cookies.get(self.cookie_name, "")
        return secrets.compare_digest(supplied.encode(), self.token.encode())

    def origin_refusal(self, request: web.Request) -> str | None:
        """Why this websocket's Origin is refused (None: accepted).

        A browser always sends Origin on a websocket; a client that sends none is not a
        page, and it showed the token. The page's own host is the Host it asked for, or the
        proxy's X-Forwarded-Host (a page cannot set either on a websocket)."""
        origin = request.headers.get("Origin")
        if origin is None:
            return None
        host = origin_host(origin)
        accepted = set(self.allowed_hosts)
        if request.host:
            accepted.add(_host_port(request.host))
        for forwarded in request.headers.getall("X-Forwarded-Host", []):
            accepted.update(_host_port(h) for h in forwarded.split(",") if h.strip())
        if host is not None and host in accepted:
            return None
        return f"websocket from Origin {origin!r} refused (this page's host: {sorted(accepted)})"

    @web.middleware
    async def guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not self.authorised(request):
            log.warning("refused %s %s: no or wrong token", request.method, request.path)
            raise web.HTTPForbidden(text=REFUSED, headers=SECURITY_HEADERS)
        response = await handler(request)
        if not isinstance(response, web.WebSocketResponse):
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
        return response

    # --- routes --------------------------------------------------------------------------
    async def _make_app(self) -> web.Application:
        app = web.Application(middlewares=[self.guard])
        roots = [""] + ([self.prefix] if self.prefix else [])
        for root in roots:  # a proxy may strip the prefix or pass it on: serve both
            app.router.add_get(root + "/", self.handle_index)
            app.router.add_get(root + "/ws", self.handle_websocket)
            app.router.add_static(root + "/static", self.statics_path)
            if root:
                app.router.add_get(root, self.handle_slash)
        app.on_startup.append(self.on_startup)
        return app

    async def handle_slash(self, request: web.Request) -> web.StreamResponse:
        query = f"?{request.query_string}" if request.query_string else ""
        raise web.HTTPMovedPermanently(f"{self.prefix}/{query}")

    async def handle_index(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        if "token" in request.query or "ping" in request.query:
            # Swap the token for a cookie and clean the address bar (and the history).
            kept = {key: request.query[key] for key in KEPT_QUERY if key in request.query}
            location = (f"{self.prefix}/" if self.prefix else "./") + (
                f"?{urlencode(kept)}" if kept else ""
            )
            response = web.HTTPSeeOther(location, headers=SECURITY_HEADERS)
            secure = request.secure or request.headers.get("X-Forwarded-Proto") == "https"
            # Path: the prefix, or none at all, and the browser scopes the cookie to the
            # folder it sees (/osa behind a proxy). Lax: another site's page does not send
            # it. HttpOnly: no script reads it.
            response.set_cookie(
                self.cookie_name,
                self.token,
                path=f"{self.prefix}/" if self.prefix else "",
                httponly=True,
                samesite="Lax",
                secure=secure,
            )
            raise response
        nonce = secrets.token_urlsafe(16)
        base = f"{self.prefix}/" if self.prefix else ""
        body = self.page.substitute(
            title=html.escape(self.title),
            static=html.escape(base + "static/"),
            ws_path=html.escape(base + "ws"),
            font_size=to_int(request.query.get("fontsize", "16"), 16),
            nonce=nonce,
        )
        policy = (
            "default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self' 'unsafe-inline'; "
            "font-src 'self'; img-src 'self' data:; connect-src 'self'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'"
        )
        return web.Response(
            text=body,
            content_type="text/html",
            headers={"Content-Security-Policy": policy},
        )

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        refusal = self.origin_refusal(request)
        if refusal:
            log.warning("%s", refusal)
            raise web.HTTPForbidden(text=f"osa serve: {refusal}\n", headers=SECURITY_HEADERS)
        return await super().handle_websocket(request)

    # --- running -------------------------------------------------------------------------
    async def on_startup(self, app: web.Application) -> None:
        lines = [
            f"osa serve: {self.title} on {self.host}:{self.port}",
            "open this address (its token is the key to the console: do not share it):",
            f"    {self.url()}",
        ]
        if self.prefix:
            lines.append(f"behind the proxy: https://<proxy>{self.prefix}/?token={self.token}")
        lines.append("Ctrl+C to stop")
        print("\n".join(lines), flush=True)

    def serve(self, debug: bool = False) -> None:
        """Run until Ctrl+C or SIGTERM. No access log: it would print the token."""
        self.debug = debug
        logging.basicConfig(level="INFO", format="osa serve: %(message)s", stream=sys.stderr)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, self.request_exit)
            except NotImplementedError:  # pragma: no cover - Windows
                pass
        try:
            web.run_app(
                self._make_app(),
                host=self.host,
                port=self.port,
                handle_signals=False,
                loop=loop,
                access_log=None,
                print=lambda *args: None,
            )
        except GracefulExit:  # pragma: no cover - run_app handles it
            pass
