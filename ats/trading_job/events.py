"""Events a job emits and the non-blocking bus that carries them to the UI, the headless
printer and the journal.

Publishing never blocks the job: each subscriber has a bounded queue and, when a slow
consumer lets it fill up, the oldest event is dropped (and counted) so memory stays
bounded however long a job runs. Subscribers name the event kinds they want (the bus
routes each kind only to them), or pass a direct handler that the bus calls in place of
a queue (for consumers that do their own batching, like the journal).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ats.exchanges.data_classes import Balance, Candle, Fill, Order
from ats.trading_job.status import JobStatus


@dataclass(frozen=True, slots=True)
class JobEvent:
    job_id: str


@dataclass(frozen=True, slots=True)
class JobStatusChanged(JobEvent):
    status: JobStatus
    """A :class:`JobStatus` (a plain string given here is converted)."""
    error: str | None = None

    def __post_init__(self) -> None:
        if type(self.status) is not JobStatus:
            object.__setattr__(self, "status", JobStatus(self.status))


@dataclass(frozen=True, slots=True)
class JobLog(JobEvent):
    level: str
    message: str
    time: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class JobProgress(JobEvent):
    done: int
    total: int | None
    equity: float
    timestamp: int | None


@dataclass(frozen=True, slots=True)
class OrderUpdated(JobEvent):
    order: Order
    """A copy taken when the event was raised."""


@dataclass(frozen=True, slots=True)
class Filled(JobEvent):
    fill: Fill


@dataclass(frozen=True, slots=True)
class BalanceChanged(JobEvent):
    """After a fill, and whenever balances change without an order event (a live account
    mirrored after a sync). Every :class:`OrderUpdated` may move balances too (a hold
    placed or released): a consumer that follows them exactly, like the journal, reads
    the balances again on either."""

    balances: dict[str, Balance]


@dataclass(frozen=True, slots=True)
class CandleClosed(JobEvent):
    candle: Candle


@dataclass(frozen=True, slots=True)
class ConnectionChanged(JobEvent):
    """The exchange connection is held back (``state``: "banned until 12:03:00", "rate
    limited until ...", "reconnecting after 3 failed attempts") or back to normal (None).
    Sampled with the job's progress, so a blip shorter than that never shows."""

    state: str | None


@dataclass(frozen=True, slots=True)
class KillSwitchUsed(JobEvent):
    """The kill switch cancelled this job's open orders (the job keeps running)."""

    cancelled: int


@dataclass(frozen=True, slots=True)
class JobRemoved(JobEvent):
    pass


@dataclass(frozen=True, slots=True)
class JobReport(JobEvent):
    report: dict[str, Any]


Handler = Callable[[JobEvent], None]
Kinds = tuple[type[JobEvent], ...]


class Subscription:
    """One consumer's bounded queue. Iterate with ``async for event in subscription``."""

    def __init__(self, bus: EventBus, maxsize: int, kinds: Kinds | None = None) -> None:
        self._bus = bus
        self.kinds = kinds
        """The event kinds (and their subclasses) queued here; None for every event."""
        self.queue: asyncio.Queue[JobEvent] = asyncio.Queue(maxsize)
        self.dropped = 0

    def put(self, event: JobEvent) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def get(self) -> JobEvent:
        return await self.queue.get()

    def drain(self) -> list[JobEvent]:
        events = []
        while not self.queue.empty():
            events.append(self.queue.get_nowait())
        return events

    def close(self) -> None:
        self._bus.unsubscribe(self)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> JobEvent:
        return await self.queue.get()


class Listener:
    """A direct handler on the bus: called in the publisher's frame, so it must be quick
    and must not raise (the journal's intake appends to its batch, nothing more)."""

    dropped = 0
    """Never drops: the handler decides what to keep."""

    def __init__(self, bus: EventBus, handler: Handler, kinds: Kinds | None = None) -> None:
        self._bus = bus
        self.kinds = kinds
        self.put = handler

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    """Fan-out of job events to subscribers, without ever blocking the publisher.

    Each event kind is routed to the handlers that asked for it, looked up once per kind,
    so a subscriber that wants two kinds costs nothing on the others (every order change
    and fill is published on the job's hot path: bench/backtest_speed.py)."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription | Listener] = []
        self._routes: dict[type[JobEvent], tuple[Handler, ...]] = {}

    def subscribe(
        self, maxsize: int = 10_000, *, kinds: Iterable[type[JobEvent]] | None = None
    ) -> Subscription:
        """A bounded queue of the events of ``kinds`` (every event when None)."""
        subscription = Subscription(self, maxsize, _kinds(kinds))
        self._add(subscription)
        return subscription

    def listen(
        self, handler: Handler, *, kinds: Iterable[type[JobEvent]] | None = None
    ) -> Listener:
        """Call ``handler(event)`` for each event of ``kinds`` as it is published."""
        listener = Listener(self, handler, _kinds(kinds))
        self._add(listener)
        return listener

    def _add(self, subscriber: Subscription | Listener) -> None:
        self._subscriptions.append(subscriber)
        self._routes.clear()

    def unsubscribe(self, subscription: Subscription | Listener) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
            self._routes.clear()

    def wants(self, kind: type[JobEvent]) -> bool:
        """Whether anyone receives events of ``kind``: False in sweeps and benches, and
        for the order and fill events ``ats backtest`` does not read, so those need not
        even be built (asked three times per order: one dict lookup once routed;
        bench/backtest_speed.py, bench/whole_process.py)."""
        return bool(self._handlers(kind))

    def publish(self, event: JobEvent) -> None:
        for handler in self._handlers(type(event)):
            handler(event)

    def _handlers(self, kind: type[JobEvent]) -> tuple[Handler, ...]:
        handlers = self._routes.get(kind)
        if handlers is None:
            handlers = self._routes[kind] = tuple(
                subscriber.put
                for subscriber in self._subscriptions
                if subscriber.kinds is None or issubclass(kind, subscriber.kinds)
            )
        return handlers


def _kinds(kinds: Iterable[type[JobEvent]] | None) -> Kinds | None:
    return None if kinds is None else tuple(kinds)
