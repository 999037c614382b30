"""Serving the control API on sockets bound by :mod:`ats.apis.listen`, in the event loop
of the process that runs the jobs.

Limits: at most :data:`MAX_CONNECTIONS` connections per listener (more are closed at
once) and connections idle for :data:`IDLE_S` are dropped (the event stream's pings keep
an attached console's connection busy), so a flood of idle connections costs the jobs
nothing but a few file descriptors.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from ats.apis.listen import Listening
from ats.apis.routes import build_app

if TYPE_CHECKING:
    from ats.trading_job.control import JobControl

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 64
IDLE_S = 30.0
SHUTDOWN_S = 1.0


class ControlServer:
    """Serves ``control`` on every socket of ``listening`` until :meth:`close`."""

    def __init__(
        self,
        control: JobControl,
        listening: Listening,
        *,
        max_connections: int = MAX_CONNECTIONS,
        idle_s: float = IDLE_S,
        stop_process: Callable[[], object] | None = None,
    ) -> None:
        self.control = control
        self.stop_process = stop_process
        """The owner's graceful stop (POST /api/v1/process/stop), e.g. :func:`terminate_self`."""
        self.listening = listening
        self.max_connections = max_connections
        self.idle_s = idle_s
        self._runners: list[web.AppRunner] = []
        self.streams: set[web.WebSocketResponse] = set()
        """Open event streams: the front ends attached right now."""

    @property
    def attached(self) -> int:
        return len(self.streams)

    async def start(self) -> None:
        for sock in self.listening.sockets:
            unix = sock.family == socket.AF_UNIX
            token = None if unix else self.listening.token
            app = build_app(
                self.control, token=token, streams=self.streams, stop_process=self.stop_process
            )
            runner = web.AppRunner(
                app, access_log=None, keepalive_timeout=self.idle_s, shutdown_timeout=SHUTDOWN_S
            )
            await runner.setup()
            await _Listener(runner, sock, self.max_connections).start()
            self._runners.append(runner)
        where = [str(self.listening.socket_file)] if self.listening.socket_file else []
        if self.listening.tcp_address is not None:
            where.append("http://{}:{}".format(*self.listening.tcp_address))
        if where:
            log.info("control API listening on %s", ", ".join(where))

    async def close(self) -> None:
        runners, self._runners = self._runners, []
        for runner in runners:
            try:
                await runner.cleanup()
            except Exception:
                log.exception("control API: closing failed")
        self.listening.close()

    async def __aenter__(self) -> ControlServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def serve(
    control: JobControl, listening: Listening, stop_process: Callable[[], object] | None = None
) -> ControlServer:
    """Start serving ``control`` on ``listening``'s sockets; the caller closes it."""
    server = ControlServer(control, listening, stop_process=stop_process)
    await server.start()
    return server


def terminate_self() -> None:
    """A stop asked through the API, as SIGTERM: the console and ``ats --no-ui`` both
    stop every job, save and exit within the stop deadline on it (and the console does
    so even when it runs headless after a hang-up)."""
    os.kill(os.getpid(), signal.SIGTERM)


class _Listener(web.BaseSite):
    """A site on an already bound socket that closes connections past the limit."""

    def __init__(self, runner: web.AppRunner, sock: socket.socket, limit: int) -> None:
        super().__init__(runner)
        self._sock = sock
        self._limit = limit

    @property
    def name(self) -> str:
        return str(self._sock.getsockname())

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        limit = self._limit

        def protocol() -> asyncio.BaseProtocol:
            if len(server.connections) >= limit:
                return _Refused()
            return server()

        loop = asyncio.get_running_loop()
        if self._sock.family == socket.AF_UNIX:
            self._server = await loop.create_unix_server(protocol, sock=self._sock)
        else:
            self._server = await loop.create_server(protocol, sock=self._sock)


class _Refused(asyncio.Protocol):
    """A connection past the limit: closed at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()
