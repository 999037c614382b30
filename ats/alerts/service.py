"""The alert service: a bus subscriber that turns job events into batched messages.

It reads the JobManager's events like the journal does (a bounded subscription, drained
in one task), keeps what the daily summary needs (each job's last equity and fills), and
hands due messages to :class:`~ats.alerts.delivery.Delivery`. Publishing to the bus never
waits for it, and it never waits for a channel.

Status alerts are about changes: the first status seen of a job (a restored job, a new
one being created) is not news; "created" never is.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ats.alerts.compose import (
    Alert,
    Batcher,
    Message,
    connection_line,
    fill_line,
    kill_switch_line,
    status_line,
)
from ats.alerts.config import AlertConfig
from ats.alerts.delivery import Delivery, ReportFunction
from ats.exceptions import JobError
from ats.trading_job.events import (
    ConnectionChanged,
    Filled,
    JobEvent,
    JobProgress,
    JobRemoved,
    JobStatusChanged,
    KillSwitchUsed,
    Subscription,
)
from ats.trading_job.job_manager import JobManager
from ats.utils.redaction import redact
from ats.utils.settings import Settings

QUEUE_SIZE = 10_000
_EVENTS = (JobStatusChanged, Filled, KillSwitchUsed, ConnectionChanged, JobRemoved)
CLOSE_WAIT_S = 2.0
"""How long a stop waits for the last messages to go out (within the stop deadline)."""


class AlertService:
    def __init__(
        self,
        manager: JobManager,
        config: AlertConfig,
        *,
        delivery: Delivery | None = None,
        report: ReportFunction | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.manager = manager
        self.config = config
        self._report = report
        self.delivery = delivery or Delivery(
            config.urls, timeout_s=config.timeout_s, report=self._report_on_loop
        )
        self.batcher = Batcher(interval_s=config.interval_s, batch_s=config.batch_s)
        self._clock = clock
        self._wall_clock = wall_clock
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._status: dict[str, str] = {}
        self._equity: dict[str, float] = {}
        self._summary_base: dict[str, float] = {}
        self._fills: dict[str, int] = {}
        self._next_summary: datetime | None = None

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Subscribe now (on the running loop) and start delivering."""
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._subscription = self._subscribe()
        self.delivery.start()
        self._schedule_summary()
        self._task = asyncio.create_task(self._run(), name="alerts")

    def _subscribe(self) -> Subscription:
        """A subscription that only queues what alerts read: the events of every candle,
        order change and log line would cost a queue put on the job's hot path for
        nothing (bench/alert_overhead.py), as the persistence's status watch does."""
        wanted: list[type[JobEvent]] = list(_EVENTS)
        if self.config.summary_at is not None:
            wanted.append(JobProgress)
        return self.manager.bus.subscribe(QUEUE_SIZE, kinds=wanted)

    async def close(self, wait_s: float = CLOSE_WAIT_S) -> None:
        """Read the last events, send the last batch at once, and give the worker at most
        ``wait_s`` seconds to send it. Idempotent."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        await task
        assert self._subscription is not None
        self._handle_all(self._subscription.drain())
        self._subscription.close()
        message = self.batcher.take(self._clock(), force=True)
        if message is not None:
            self.delivery.send(message)
        await self.delivery.close(wait_s)

    # -- the loop ------------------------------------------------------------------------
    async def _run(self) -> None:
        """Until :meth:`close`: read events, send what is due. The stop is an event, not
        a cancellation, which ``wait_for`` could swallow when a read completes with it."""
        subscription = self._subscription
        assert subscription is not None
        stop: asyncio.Future[Any] = asyncio.ensure_future(self._stop.wait())
        reading: asyncio.Future[Any] | None = None
        try:
            while True:
                if reading is None:
                    reading = asyncio.ensure_future(subscription.get())
                done, _ = await asyncio.wait(
                    {reading, stop},
                    timeout=self._seconds_to_next(),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                events = []
                if reading in done:
                    events.append(reading.result())
                    reading = None
                self._handle_all(events + subscription.drain())
                if stop in done:
                    return
                self._send_due()
        finally:
            for future in (reading, stop):
                if future is not None:
                    future.cancel()

    def _seconds_to_next(self) -> float | None:
        waits = []
        batch = self.batcher.due_in(self._clock())
        if batch is not None:
            waits.append(batch)
        if self._next_summary is not None:
            seconds = (self._next_summary - self._wall_clock()).total_seconds()
            waits.append(min(max(seconds, 0.0), 60.0))  # the wall clock may jump
        return min(waits) if waits else None

    def _send_due(self) -> None:
        message = self.batcher.take(self._clock())
        if message is not None:
            self.delivery.send(message)
        if self._next_summary is not None and self._wall_clock() >= self._next_summary:
            self.delivery.send(self.summary())
            self._schedule_summary()

    def _handle_all(self, events: list[JobEvent]) -> None:
        assert self._subscription is not None
        if self._subscription.dropped:
            self.batcher.lost_events += self._subscription.dropped
            self._subscription.dropped = 0
        for event in events:
            self.handle(event)

    # -- events --------------------------------------------------------------------------
    def handle(self, event: JobEvent) -> None:
        job_id = event.job_id
        if isinstance(event, JobProgress):
            self._equity[job_id] = event.equity
            self._summary_base.setdefault(job_id, event.equity)
            return
        if isinstance(event, JobRemoved):
            for table in (self._status, self._equity, self._summary_base, self._fills):
                table.pop(job_id, None)
            return
        if isinstance(event, JobStatusChanged):
            previous = self._status.get(job_id)
            self._status[job_id] = event.status
            if previous is None or previous == event.status or event.status == "created":
                return
            kind = "error" if event.status == "error" else "status"
            if label := self._label(kind, job_id):
                self._add(kind, status_line(label, previous, event.status, event.error))
        elif isinstance(event, Filled):
            self._fills[job_id] = self._fills.get(job_id, 0) + 1
            if label := self._label("fill", job_id):
                self._add("fill", fill_line(label, event.fill))
        elif isinstance(event, KillSwitchUsed):
            if label := self._label("kill_switch", job_id):
                self._add("kill_switch", kill_switch_line(label, event.cancelled))
        elif isinstance(event, ConnectionChanged) and (label := self._label("connection", job_id)):
            self._add("connection", connection_line(label, event.state))

    def _add(self, kind: str, text: str) -> None:
        self.batcher.add(Alert(kind, text), self._clock())

    def _label(self, kind: str | None, job_id: str) -> str | None:
        """``[mode] name`` of a job that alerts (about ``kind``), else None."""
        if kind is not None and kind not in self.config.kinds:
            return None
        try:
            job = self.manager.get(job_id)
        except JobError:
            return None
        name, mode = job.config.name, job.mode
        if not self.config.wants_job(name, job_id, mode):
            return None
        return f"[{mode}] {name}"

    # -- daily summary -------------------------------------------------------------------
    def _schedule_summary(self) -> None:
        at = self.config.summary_at
        if at is None:
            return
        now = self._wall_clock()
        due = now.replace(hour=at[0], minute=at[1], second=0, microsecond=0)
        if due <= now:
            due += timedelta(days=1)
        self._next_summary = due

    def summary(self) -> Message:
        """Every alerting job: status, equity and its change since the last summary, fills."""
        lines = []
        for job in self.manager:
            label = self._label(None, job.id)
            if label is None:
                continue
            line = f"{label}: {job.status}"
            equity = self._equity.get(job.id)
            if equity is not None:
                line += f", equity {equity:,.2f}"
                base = self._summary_base.get(job.id)
                if base:
                    line += f" ({100 * (equity / base - 1):+.2f}% since the last summary)"
                self._summary_base[job.id] = equity
            line += f", {self._fills.pop(job.id, 0)} fill(s)"
            if job.error:
                line += f", error: {job.error.strip().splitlines()[0][:200]}"
            lines.append(line)
        body = "\n".join(lines) if lines else "no alerting job"
        return Message("ATS daily summary", redact(body), "info")

    # -- delivery problems ---------------------------------------------------------------
    def _report_on_loop(self, text: str) -> None:
        """From the delivery thread: hand a problem to ``report`` on the loop."""
        if self._report is None or self._loop is None or self._loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self._loop.call_soon_threadsafe(self._report, text)


def alert_service(
    manager: JobManager, settings: Settings, *, report: ReportFunction | None = None
) -> AlertService | None:
    """The service ``ATS_ALERT_*`` asks for, or None without URLs (apprise is then never
    imported). Raises ConfigError naming the setting for a bad value or an unknown URL
    scheme, before any job starts."""
    config = AlertConfig.from_settings(settings)
    if config is None:
        return None
    return AlertService(manager, config, report=report)


def warn_on_stderr(text: str) -> None:
    """The headless front ends' report of a failing (or recovered) channel."""
    print(f"ats: warning: {text}", file=sys.stderr)


@contextlib.asynccontextmanager
async def alerts_running(service: AlertService | None) -> AsyncIterator[None]:
    """Run ``service`` (if any) for the duration of the block; close it at the end."""
    if service is None:
        yield
        return
    service.start()
    try:
        yield
    finally:
        await service.close()
