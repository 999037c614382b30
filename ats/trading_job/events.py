"""Events a job emits and the non-blocking bus that carries them to the UI, the headless
printer and the journal.

Publishing never blocks the job: each subscriber has a bounded queue and, when a slow
consumer lets it fill up, the oldest event is dropped (and counted) so memory stays
bounded however long a job runs.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from ats.exchanges.data_classes import Balance, Candle, Fill, Order


@dataclass(frozen=True, slots=True)
class JobEvent:
    job_id: str


@dataclass(frozen=True, slots=True)
class JobStatusChanged(JobEvent):
    status: str
    error: str | None = None


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


class Subscription:
    """One consumer's bounded queue. Iterate with ``async for event in subscription``."""

    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
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


class EventBus:
    """Fan-out of job events to subscribers, without ever blocking the publisher."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []

    def subscribe(self, maxsize: int = 10_000) -> Subscription:
        subscription = Subscription(self, maxsize)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    @property
    def has_subscribers(self) -> bool:
        """False in sweeps and benches: per-order events need not even be built."""
        return bool(self._subscriptions)

    def publish(self, event: JobEvent) -> None:
        for subscription in self._subscriptions:
            subscription.put(event)
