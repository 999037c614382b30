"""Cooperative run control between a job and the exchange loop that drives it."""

from __future__ import annotations

import asyncio
import contextlib


class StopRequested(Exception):
    """Raised inside an exchange loop at a checkpoint once a stop was requested."""


class RunControl:
    """Pause/stop flags an exchange loop polls between chunks of work.

    The loop calls :meth:`checkpoint` every few thousand candles (back_trading) or every
    candle (paper/live); it yields to the event loop so the UI stays responsive.
    """

    def __init__(self) -> None:
        self._running = asyncio.Event()
        self._running.set()
        self._stopping = asyncio.Event()

    @property
    def stop_requested(self) -> bool:
        return self._stopping.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stopping.set()
        self._running.set()

    async def checkpoint(self) -> None:
        await asyncio.sleep(0)
        if not self._running.is_set():
            await self._running.wait()
        if self.stop_requested:
            raise StopRequested

    async def sleep(self, seconds: float) -> None:
        """Sleep that wakes early on stop and holds while paused."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=max(seconds, 0.0))
        await self.checkpoint()
