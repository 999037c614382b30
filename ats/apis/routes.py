"""The control API's aiohttp application: one route per JobControl operation, the event
stream, the OpenAPI document, and the rules every request goes through.

- TCP listeners get a bearer token (compared in constant time, never logged); the unix
  socket relies on its 0600 mode instead (:mod:`ats.apis.server`).
- Bodies are capped (:data:`MAX_BODY`, 413 beyond); bad JSON or a mistyped argument is
  a 400, an unknown route a 404, all with a one-line JSON error like the commands' own
  (JobError 409, other ATSErrors 422). An unexpected exception is logged and answered
  500 without its details: the jobs are not affected either way.
- An edited config keeps the credentials its sender was shown masked
  (:func:`~ats.apis.wire.unmask_config`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, web

from ats.apis import events, openapi
from ats.apis.operations import (
    EVENTS_PATH,
    OPENAPI_PATH,
    OPERATIONS,
    STOP_PROCESS_PATH,
    Operation,
)
from ats.apis.wire import BadRequest, dump_answer, dump_error, parse_arguments, unmask_config
from ats.exceptions import ATSError, JobError
from ats.trading_job.control import JobControl

log = logging.getLogger(__name__)

STOP_AFTER_S = 0.05
"""The stop-process answer is sent before the stop begins (it closes the server)."""
MAX_BODY = 1024 * 1024
"""Bytes a request body may have (a job config is a few kB)."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(
    control: JobControl,
    *,
    token: str | None,
    streams: set[web.WebSocketResponse] | None = None,
    stop_process: Callable[[], object] | None = None,
) -> web.Application:
    """The API for ``control``; ``token`` (TCP) is required from every request;
    ``streams`` collects the open event streams (closed on shutdown). ``stop_process``
    (the process's owner's graceful stop) is served on :data:`STOP_PROCESS_PATH`;
    without it that route is a 404."""
    streams = set() if streams is None else streams
    middlewares: list[Any] = [_errors]
    if token is not None:
        middlewares.insert(0, _bearer(token))
    app = web.Application(client_max_size=MAX_BODY, middlewares=middlewares)
    for operation in OPERATIONS:
        app.router.add_route(operation.method, operation.url_path, _handler(control, operation))
    app.router.add_get(OPENAPI_PATH, _openapi)
    app.router.add_get(EVENTS_PATH, events.handler(control, streams))

    async def close_streams(_app: web.Application) -> None:
        for stream in list(streams):
            await stream.close(code=WSCloseCode.GOING_AWAY, message=b"ATS is stopping")

    app.on_shutdown.append(close_streams)
    if stop_process is not None:
        app.router.add_post(STOP_PROCESS_PATH, _stop_handler(stop_process))
    return app


def error_response(status: int, exc: BaseException) -> web.Response:
    return web.Response(status=status, body=dump_error(exc), content_type="application/json")


def _status_of(exc: ATSError) -> int:
    if isinstance(exc, BadRequest):
        return 400
    if isinstance(exc, JobError):
        return 409
    return 422


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    length = request.content_length
    if length is not None and length > MAX_BODY:
        return error_response(413, BadRequest(f"body too large ({length} > {MAX_BODY} bytes)"))
    try:
        return await handler(request)
    except ATSError as exc:
        return error_response(_status_of(exc), exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        reason = "unknown route" if exc.status == 404 else exc.reason
        return error_response(exc.status, BadRequest(f"{reason}: {request.method} {request.path}"))
    except Exception:
        log.exception("control API: %s %s failed", request.method, request.path)
        return error_response(500, ATSError("internal error (see the ATS log)"))


def _bearer(token: str) -> Any:
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            response = error_response(401, ATSError("missing or wrong bearer token"))
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return await handler(request)

    return check


def _handler(control: JobControl, operation: Operation) -> Handler:
    method = getattr(control, operation.name)
    path_params = [param.name for param in operation.params if param.where == "path"]
    query_lists = {
        param.name
        for param in operation.params
        if param.where == "query" and getattr(param.type, "__origin__", None) is list
    }

    async def handle(request: web.Request) -> web.Response:
        if operation.method == "GET":
            raw: dict[str, Any] = {
                name: request.query.getall(name) if name in query_lists else value
                for name, value in request.query.items()
            }
        else:
            raw = await _json_object(request)
        raw.update({name: request.match_info[name] for name in path_params})
        arguments = parse_arguments(operation, raw)
        if operation.name == "edit":  # made from the masked config the job_config route gave
            stored = await control.job_config(arguments["job_id"])
            arguments["config"] = unmask_config(arguments["config"], stored)
        result = await method(**arguments)
        return web.Response(body=dump_answer(operation, result), content_type="application/json")

    return handle


def _stop_handler(stop_process: Callable[[], object]) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        log.warning("control API: stop requested (every job stops, is saved, then exit)")
        # After this answer is on its way: the stop closes this server first.
        asyncio.get_running_loop().call_later(STOP_AFTER_S, stop_process)
        return web.json_response({"stopping": os.getpid()}, status=202)

    return handle


async def _json_object(request: web.Request) -> dict[str, Any]:
    data = await request.read()  # HTTPRequestEntityTooLarge beyond client_max_size
    if not data.strip():
        return {}
    try:
        body = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"bad JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi.document())
