"""Bus events in, at most ~10 coalesced updates a second out: what front ends watch.

Jobs can publish thousands of events a second (a full-speed backtest fills on every
crossover). The pump drains the bounded subscription queue in one asyncio task, folds
everything into a :class:`Changes` summary (which jobs changed, in what way, plus the
status transitions, themselves bounded), and hands one summary per refresh period to a
callback. A front end then re-reads the views of the jobs that changed
(:class:`~ats.trading_job.control.JobControl`), so widgets redraw at a bounded rate
however busy the jobs are, and key presses never queue behind a flood of per-event
redraws. ``Changes`` is plain data (sets of job ids and status events): the control API
can send the same summaries over a socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ats.trading_job.events import (
    BalanceChanged,
    CandleClosed,
    EventBus,
    Filled,
    JobEvent,
    JobLog,
    JobProgress,
    JobRemoved,
    JobReport,
    JobStatusChanged,
    OrderUpdated,
    Subscription,
)

log = logging.getLogger(__name__)


Deliver = Callable[["Changes"], Awaitable[None] | None]
"""Takes one summary; may be a coroutine function (awaited before the next one)."""
REFRESH_HZ = 10.0
PROMPT_PERIOD = 0.02
"""A status change (a job started, paused, finished, failed) is delivered this soon
after the previous summary instead of waiting for the next 10 Hz slot: a key's effect
or a job's end shows at once, in process and through ``ats attach``
(bench/attach_latency.py: p99 of both latencies from ~120 ms to the transport's few ms)."""
PROMPT_KINDS = (JobStatusChanged, JobRemoved)
QUEUE_SIZE = 5_000
"""Events buffered between two drains; beyond that the bus drops the oldest."""


@dataclass(slots=True)
class Changes:
    """What happened since the last refresh, by kind, as sets of job ids."""

    rows: set[str] = field(default_factory=set)
    """Jobs whose table row may have changed (status, progress, equity, position)."""
    structure: bool = False
    """A job appeared or was removed: the table's row set must be rebuilt."""
    statuses: set[str] = field(default_factory=set)
    candles: set[str] = field(default_factory=set)
    """New candles or progress: the chart of these jobs is stale."""
    account: set[str] = field(default_factory=set)
    """Orders, fills or balances changed."""
    reports: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    logs: set[str] = field(default_factory=set)
    """Jobs that logged: their log view re-reads the job's own bounded ``logs``."""
    status_events: deque[JobStatusChanged] = field(default_factory=lambda: deque(maxlen=200))
    """Status transitions in order, for the log's status lines."""
    resync: bool = False
    """Events were lost (a slow tick under a flood of fills, or a failed refresh): every
    view must re-read its job instead of trusting this summary."""

    def __bool__(self) -> bool:
        return bool(self.rows or self.structure or self.logs or self.removed or self.resync)

    def touches(self, job_id: str | None) -> bool:
        """Anything at all changed for ``job_id``."""
        return job_id is not None and (
            job_id in self.rows
            or job_id in self.candles
            or job_id in self.account
            or job_id in self.reports
            or job_id in self.removed
        )

    def add(self, event: JobEvent, known: Callable[[str], bool]) -> None:
        job_id = event.job_id
        if isinstance(event, JobLog):
            self.logs.add(job_id)
            return
        self.rows.add(job_id)
        if isinstance(event, JobProgress | CandleClosed):
            self.candles.add(job_id)
        elif isinstance(event, OrderUpdated | Filled | BalanceChanged):
            self.account.add(job_id)
            if isinstance(event, Filled):
                self.candles.add(job_id)
        elif isinstance(event, JobStatusChanged):
            self.statuses.add(job_id)
            self.status_events.append(event)
            self.candles.add(job_id)
            self.account.add(job_id)
            if not known(job_id):
                self.structure = True
        elif isinstance(event, JobReport):
            self.reports.add(job_id)
            self.candles.add(job_id)
        elif isinstance(event, JobRemoved):
            self.removed.add(job_id)
            self.structure = True


async def deliver_safely(deliver: Deliver, changes: Changes) -> bool:
    """Hand ``changes`` to a front end; False (logged) if it failed, so the next delivery
    is a resync: a front end's bug must not stop future updates."""
    try:
        delivered = deliver(changes)
        if inspect.isawaitable(delivered):
            await delivered
    except Exception:
        log.exception("refresh failed; resynchronising")
        return False
    return True


class EventPump:
    """Consumes a bus subscription and calls ``deliver(changes)`` at most ``hz`` times/s.

    Runs as a task on the app's event loop; :meth:`stop` ends it and unsubscribes.
    """

    def __init__(
        self,
        bus: EventBus,
        deliver: Deliver,
        *,
        known: Callable[[str], bool] = lambda job_id: True,
        alive: Callable[[], bool] = lambda: True,
        hz: float = REFRESH_HZ,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self._bus = bus
        self._deliver = deliver
        self._known = known
        self._alive = alive
        self._period = 1.0 / hz
        self._queue_size = queue_size
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0
        self.events = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Subscribe now (so no event published after this call is missed) and run."""
        if not self.running:
            subscription = self._bus.subscribe(self._queue_size)
            prompt = self._bus.subscribe(64, kinds=PROMPT_KINDS)
            self._task = asyncio.create_task(self.run(subscription, prompt), name="ui-event-pump")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run(self, subscription: Subscription, prompt: Subscription | None = None) -> None:
        """``prompt`` (status changes, also queued in ``subscription``) cuts the wait for
        the next slot short (see :data:`PROMPT_PERIOD`)."""
        last = 0.0
        seen_dropped = 0
        resync = False
        try:
            while True:
                events: list[JobEvent] = []
                if resync:
                    # The last delivery failed half-way: redraw everything soon, even
                    # if no new event comes, so the screen does not stay stale.
                    with contextlib.suppress(TimeoutError):
                        events.append(await asyncio.wait_for(subscription.get(), self._period))
                else:
                    events.append(await subscription.get())
                # Let more events accumulate until the next refresh slot.
                wait = last + self._period - time.monotonic()
                if wait > 0 and prompt is None:
                    await asyncio.sleep(wait)
                elif wait > 0 and prompt is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(prompt.get(), wait)
                        soon = last + PROMPT_PERIOD - time.monotonic()
                        if soon > 0:
                            await asyncio.sleep(soon)
                if prompt is not None:
                    prompt.drain()
                events.extend(subscription.drain())
                changes = Changes()
                for event in events:
                    changes.add(event, self._known)
                self.events += len(events)
                if subscription.dropped != seen_dropped or resync:
                    # Lost events: re-read everything from the jobs' own bounded views.
                    seen_dropped = subscription.dropped
                    changes.resync = True
                last = time.monotonic()
                if not self._alive():
                    break  # the screen went away (app closing): nobody to deliver to
                resync = not await deliver_safely(self._deliver, changes)
                self.delivered += 1
        finally:
            subscription.close()
            if prompt is not None:
                prompt.close()
