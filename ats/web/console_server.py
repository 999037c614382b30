"""The textual-serve server behind ``ats web``, with the control API's token in front.

textual-serve (1.x) has no access control: whoever reaches its port gets the console,
which can start live jobs. Here every request needs the token (``ATS_API_TOKEN``, the one
the control API's TCP listener takes), given one of three ways:

- ``GET /?token=...`` once: answered with a redirect to ``/`` and a session cookie
  (HttpOnly, SameSite=Strict, a random value per ``ats web`` run, not the token), so the
  token leaves the address bar and the history;
- that cookie, which the page's WebSocket sends back;
- ``Authorization: Bearer <token>`` (scripts, tests).

Tokens are compared in constant time and never logged. The WebSocket also needs an
``Origin`` naming the host it was served from (another site's page cannot drive it).
The page's URLs are built from the request's ``Host``, so an ssh tunnel on another local
port (``ssh -L 9000:127.0.0.1:8642``) works.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server

log = logging.getLogger(__name__)

COOKIE = "ats_web_session"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNAUTHORIZED = (
    "ATS web console: this needs the control API's token. Open /?token=<ATS_API_TOKEN> "
    "once (the address you tunnelled, e.g. http://127.0.0.1:8642/?token=...).\n"
)


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class ConsoleServer(Server):
    """textual-serve's server running ``command`` per browser tab, behind ``token``."""

    def __init__(self, command: str, *, token: str, title: str = "ATS") -> None:
        super().__init__(command, host="127.0.0.1", port=0, title=title)
        self._token = token
        self._session = secrets.token_urlsafe(32)

    async def make_app(self) -> web.Application:
        app = await self._make_app()
        app.middlewares.append(self._guard)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.query.get("token")
        if given is not None and request.method == "GET" and request.path == "/":
            if not same_secret(given, self._token):
                return _refused(request)
            response = web.HTTPSeeOther(location="/")
            response.set_cookie(COOKIE, self._session, httponly=True, samesite="Strict", path="/")
            return response
        if not self._authorized(request):
            return _refused(request)
        if request.path == "/ws" and not _same_origin(request):
            log.warning("ats web: WebSocket refused (origin %s)", request.headers.get("Origin"))
            return web.Response(status=403, text="cross-origin WebSocket refused\n")
        return await handler(request)

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer ") and same_secret(header[7:], self._token):
            return True
        cookie = request.cookies.get(COOKIE)
        return cookie is not None and same_secret(cookie, self._session)

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """textual-serve's page, its URLs on the host the browser asked for."""
        ws = "wss" if request.secure else "ws"
        font_size = request.query.get("fontsize", "16")
        return {
            "font_size": int(font_size) if font_size.isdigit() else 16,
            "app_websocket_url": f"{ws}://{request.host}/ws",
            "config": {"static": {"url": f"{request.scheme}://{request.host}/static/"}},
            "application": {"name": self.title},
        }

    async def on_startup(self, app: web.Application) -> None:
        """(textual-serve prints its logo here; ``ats web`` prints its own line.)"""


def _refused(request: web.Request) -> web.Response:
    log.warning("ats web: %s %s refused (no or wrong token)", request.method, request.path)
    return web.Response(status=401, text=UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:  # not a browser: the token or cookie was checked already
        return True
    return urlsplit(origin).netloc == request.host
