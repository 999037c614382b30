"""RemoteJobControl: the JobControl of a process reached through its control API.

The console (``ats attach``) and ``ats jobs`` drive a running ATS through this exactly
as the in-process console drives its own JobManager through LocalJobControl: same
queries, same commands, same views, same exceptions (an error the server raised comes
back as the same ATSError subclass with the same one-line message). Transport failures
raise :class:`~ats.apis.wire.ApiUnavailable`, also an ATSError, so a front end shows them
like any refused command.

``watch`` reads the server's event stream. Summaries that arrive while the front end is
still applying the previous one are merged, so a slow screen never works through a
backlog. When the stream ends (the process stopped), :attr:`RemoteJobControl.on_lost`
is called once with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from ats.apis.operations import BY_NAME, EVENTS_PATH, PREFIX, STOP_PROCESS_PATH
from ats.apis.wire import ApiUnavailable, arguments_model, load_answer, load_changes, load_error
from ats.trading_job.change_feed import Changes, Deliver, deliver_safely
from ats.trading_job.sweep_host import PromoteMode
from ats.trading_job.sweep_views import SweepHeatmap, SweepView, TrialPage
from ats.trading_job.views import (
    ChartWindow,
    EquityCurve,
    FillPage,
    JobView,
    LogPage,
    ParamField,
    PluginInfo,
    TradePage,
)

if TYPE_CHECKING:
    from ats.trading_job.job_config import JobConfig

log = logging.getLogger(__name__)

TIMEOUT_S = 60.0
"""A command may wait for a job to stop (delete): generous, but bounded."""
HEARTBEAT_S = 20.0


class RemoteJobControl:
    """JobControl over the control API: a unix socket (default) or a URL plus token."""

    def __init__(
        self,
        *,
        socket_file: Path | None = None,
        url: str | None = None,
        token: str | None = None,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        if (socket_file is None) == (url is None):
            raise ValueError("give socket_file or url")
        self.socket_file = socket_file
        self.base = url.rstrip("/") if url is not None else "http://ats"
        self.where = str(socket_file) if socket_file is not None else self.base
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._events: aiohttp.ClientWebSocketResponse | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self.on_lost: Callable[[str], object] | None = None
        """Called once when the event stream ends (the process stopped or went away)."""

    # -- transport -------------------------------------------------------------------------
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = (
                aiohttp.UnixConnector(path=str(self.socket_file))
                if self.socket_file is not None
                else aiohttp.TCPConnector()
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, headers=self._headers
            )
        return self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> RemoteJobControl:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def unreachable(self, exc: BaseException) -> ApiUnavailable:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return ApiUnavailable(f"cannot reach ATS at {self.where}: {reason}")

    async def call(self, name: str, **arguments: Any) -> Any:
        """Run JobControl method ``name`` on the server; its answer, or its exception."""
        operation = BY_NAME[name]
        path = operation.path.format(
            **{p.name: arguments.pop(p.name) for p in operation.params if p.where == "path"}
        )
        params: list[tuple[str, str]] = []
        body: bytes | None = None
        if operation.method == "GET":
            for key, value in arguments.items():
                values = value if isinstance(value, list | tuple) else [value]
                params += [(key, str(item)) for item in values if item is not None]
        elif any(p.where == "body" for p in operation.params):
            body = arguments_model(operation).model_validate(arguments).model_dump_json().encode()
        headers = {"Content-Type": "application/json"} if body is not None else None
        url = self.base + PREFIX + path
        try:
            async with self.session().request(
                operation.method, url, params=params, data=body, headers=headers
            ) as response:
                data = await response.read()
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise self.unreachable(exc) from None
        if status != 200:
            raise load_error(status, data)
        return load_answer(operation, data)

    # -- queries: jobs ---------------------------------------------------------------------
    async def job_ids(self) -> list[str]:
        result: list[str] = await self.call("job_ids")
        return result

    async def jobs(self) -> list[JobView]:
        result: list[JobView] = await self.call("jobs")
        return result

    async def job(self, job_id: str) -> JobView:
        result: JobView = await self.call("job", job_id=job_id)
        return result

    async def views(self, job_ids: Iterable[str]) -> list[JobView]:
        result: list[JobView] = await self.call("views", job_ids=list(job_ids))
        return result

    async def job_config(self, job_id: str) -> JobConfig:
        return await self.call("job_config", job_id=job_id)

    async def chart_window(
        self, job_id: str, bars: int, factor: int = 1, offset: int = 0, around: int | None = None
    ) -> ChartWindow:
        result: ChartWindow = await self.call(
            "chart_window", job_id=job_id, bars=bars, factor=factor, offset=offset, around=around
        )
        return result

    async def equity_curve(self, job_id: str, points: int) -> EquityCurve:
        result: EquityCurve = await self.call("equity_curve", job_id=job_id, points=points)
        return result

    async def logs(self, job_id: str, after: int | None = None) -> LogPage:
        result: LogPage = await self.call("logs", job_id=job_id, after=after)
        return result

    async def trades(self, job_id: str, offset: int = 0, limit: int = 100) -> TradePage:
        result: TradePage = await self.call("trades", job_id=job_id, offset=offset, limit=limit)
        return result

    async def fills(self, job_id: str, offset: int = 0, limit: int = 100) -> FillPage:
        result: FillPage = await self.call("fills", job_id=job_id, offset=offset, limit=limit)
        return result

    # -- queries: what a new job can be made of --------------------------------------------
    async def plugins(self, kind: str) -> list[PluginInfo]:
        result: list[PluginInfo] = await self.call("plugins", kind=kind)
        return result

    async def strategy_params(self, strategy: str) -> list[ParamField]:
        result: list[ParamField] = await self.call("strategy_params", strategy=strategy)
        return result

    async def check_strategy_params(self, strategy: str, params: dict[str, Any]) -> None:
        await self.call("check_strategy_params", strategy=strategy, params=params)

    async def data_files(self) -> list[str]:
        result: list[str] = await self.call("data_files")
        return result

    async def check_data_file(self, path: str) -> str | None:
        result: str | None = await self.call("check_data_file", path=path)
        return result

    # -- commands ----------------------------------------------------------------------------
    async def create(self, config: JobConfig) -> str:
        result: str = await self.call("create", config=config)
        return result

    async def edit(self, job_id: str, config: JobConfig) -> str:
        result: str = await self.call("edit", job_id=job_id, config=config)
        return result

    async def start(self, job_id: str) -> None:
        await self.call("start", job_id=job_id)

    async def stop(self, job_id: str) -> None:
        await self.call("stop", job_id=job_id)

    async def toggle(self, job_id: str) -> None:
        await self.call("toggle", job_id=job_id)

    async def pause(self, job_id: str) -> None:
        await self.call("pause", job_id=job_id)

    async def resume(self, job_id: str) -> None:
        await self.call("resume", job_id=job_id)

    async def toggle_pause(self, job_id: str) -> None:
        await self.call("toggle_pause", job_id=job_id)

    async def reload(self, job_id: str) -> None:
        await self.call("reload", job_id=job_id)

    async def delete(self, job_id: str) -> None:
        await self.call("delete", job_id=job_id)

    async def set_speed(self, job_id: str, factor: float) -> float:
        result: float = await self.call("set_speed", job_id=job_id, factor=factor)
        return result

    async def kill_switch(self) -> int:
        result: int = await self.call("kill_switch")
        return result

    # -- sweeps ------------------------------------------------------------------------------
    async def sweep_specs(self) -> list[str]:
        result: list[str] = await self.call("sweep_specs")
        return result

    async def create_sweep(self, spec: str) -> str:
        result: str = await self.call("create_sweep", spec=spec)
        return result

    async def sweep(self, sweep_id: str) -> SweepView:
        result: SweepView = await self.call("sweep", sweep_id=sweep_id)
        return result

    async def sweep_trials(
        self,
        sweep_id: str,
        sort: str = "objective",
        descending: bool | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> TrialPage:
        result: TrialPage = await self.call(
            "sweep_trials",
            sweep_id=sweep_id,
            sort=sort,
            descending=descending,
            offset=offset,
            limit=limit,
        )
        return result

    async def sweep_heatmap(
        self, sweep_id: str, x: str | None = None, y: str | None = None
    ) -> SweepHeatmap:
        result: SweepHeatmap = await self.call("sweep_heatmap", sweep_id=sweep_id, x=x, y=y)
        return result

    async def trial_job_config(
        self, sweep_id: str, trial: int, mode: PromoteMode = "backtest"
    ) -> JobConfig:
        result: JobConfig = await self.call(
            "trial_job_config", sweep_id=sweep_id, trial=trial, mode=mode
        )
        return result

    # -- the process --------------------------------------------------------------------------
    async def stop_process(self) -> int:
        """Ask the process to stop every job, save and exit (``q`` in ``ats attach``); its
        pid. The event stream then ends (:attr:`on_lost`) as the process closes the API."""
        try:
            async with self.session().post(self.base + STOP_PROCESS_PATH) as response:
                data = await response.read()
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise self.unreachable(exc) from None
        if status != 202:
            raise load_error(status, data)
        return int(json.loads(data)["stopping"])

    # -- changes -----------------------------------------------------------------------------
    def watch(
        self,
        deliver: Deliver,
        *,
        known: Callable[[str], bool] = lambda job_id: True,
        alive: Callable[[], bool] = lambda: True,
    ) -> RemoteWatch:
        return RemoteWatch(self, deliver, known=known, alive=alive)

    def hold_foreground(self, seconds: float) -> None:
        """Sent on the event stream without waiting (dropped when there is none)."""
        events = self._events
        if events is None or events.closed:
            return
        task = asyncio.ensure_future(events.send_str(json.dumps({"hold_foreground": seconds})))
        self._sends.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sends.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("hold_foreground not sent: %s", task.exception())

    def _lost(self, reason: str) -> None:
        log.warning("control API at %s: %s", self.where, reason)
        if self.on_lost is not None:
            self.on_lost(reason)


class RemoteWatch:
    """The server's change summaries for one front end (see :meth:`JobControl.watch`)."""

    def __init__(
        self,
        control: RemoteJobControl,
        deliver: Deliver,
        *,
        known: Callable[[str], bool],
        alive: Callable[[], bool],
    ) -> None:
        self._control = control
        self._deliver = deliver
        self._known = known
        self._alive = alive
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._run(), name="remote-event-stream")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        control = self._control
        try:
            async with control.session().ws_connect(
                control.base + EVENTS_PATH, heartbeat=HEARTBEAT_S, timeout=aiohttp.ClientWSTimeout()
            ) as events:
                control._events = events
                await self._relay(events)
            reason = "the ATS process closed the connection (it stopped?)"
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            reason = str(control.unreachable(exc))
        finally:
            control._events = None
        if self._alive():
            control._lost(reason)

    async def _relay(self, events: aiohttp.ClientWebSocketResponse) -> None:
        """Read summaries as they come; deliver one merged summary at a time."""
        pending: list[Changes] = []
        arrived = asyncio.Event()

        async def read() -> None:
            async for message in events:
                if message.type == aiohttp.WSMsgType.TEXT:
                    pending.append(load_changes(message.data))
                    arrived.set()

        reader = asyncio.create_task(read())
        failed = False
        try:
            while True:
                waiter = asyncio.ensure_future(arrived.wait())
                await asyncio.wait({reader, waiter}, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if not pending:
                    if reader.done():
                        return
                    continue
                arrived.clear()
                changes = _merged(pending)
                pending.clear()
                changes.resync |= failed
                if any(not self._known(job_id) for job_id in changes.statuses):
                    changes.structure = True  # a job this front end does not show yet
                if not self._alive():
                    return
                failed = not await deliver_safely(self._deliver, changes)
                self.delivered += 1
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError, OSError):
                await reader


def _merged(summaries: list[Changes]) -> Changes:
    first = summaries[0]
    for more in summaries[1:]:
        for name in ("rows", "statuses", "candles", "account", "reports", "removed", "logs"):
            getattr(first, name).update(getattr(more, name))
        first.structure |= more.structure
        first.resync |= more.resync
        first.status_events.extend(more.status_events)
    return first
