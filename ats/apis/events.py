"""The event stream: ``GET /api/v1/events`` upgrades to a WebSocket that carries the same
coalesced :class:`~ats.trading_job.change_feed.Changes` (≤ 10 a second) the in-process
console gets from ``JobControl.watch``, as JSON text messages.

The first message names every job as changed in every way (and the job set as
changed), so a client re-reads whatever changed between its first look and the
subscription. Summaries are computed for a client that
knows every job; the client marks a status change of a job it does not show as a
structure change itself (:mod:`ats.apis.remote_control`). The one message a client
sends is ``{"hold_foreground": seconds}`` after a key press (see JobControl).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from ats.apis.wire import dump_changes
from ats.trading_job.change_feed import Changes
from ats.trading_job.control import JobControl

log = logging.getLogger(__name__)

HEARTBEAT_S = 20.0
"""Pings keep a quiet stream alive through proxies and drop dead peers."""
MAX_HOLD_S = 0.5
"""The most a client may ask the jobs to step aside per key press."""
MAX_MESSAGE = 4096


def handler(
    control: JobControl, streams: set[web.WebSocketResponse]
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The stream's route; ``streams`` holds the open ones (attached front ends)."""

    async def events(request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_MESSAGE)
        await socket.prepare(request)
        streams.add(socket)

        async def deliver(changes: Changes) -> None:
            if not socket.closed:
                await socket.send_str(dump_changes(changes))

        watch = control.watch(deliver, alive=lambda: not socket.closed)
        watch.start()
        try:
            await socket.send_str(dump_changes(await _everything(control)))
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    _client_message(control, message.data)
        finally:
            streams.discard(socket)
            await watch.stop()
        return socket

    return events


async def _everything(control: JobControl) -> Changes:
    """Every job touched in every way (read after subscribing): a client re-reads what
    may have changed before its subscription started, without a resync's guesswork."""
    ids = set(await control.job_ids())
    return Changes(rows=ids, structure=True, candles=set(ids), account=set(ids), logs=set(ids))


def _client_message(control: JobControl, text: str) -> None:
    try:
        seconds = float(json.loads(text)["hold_foreground"])
    except (ValueError, KeyError, TypeError):
        log.debug("control API: ignored event-stream message %.80r", text)
        return
    if 0 < seconds <= MAX_HOLD_S:
        control.hold_foreground(seconds)
