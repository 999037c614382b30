"""Cooperative run control between a job and the exchange loop that drives it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

DEFAULT_TURN_SECONDS = 0.004
"""CPU time all CPU-bound loops together may take between two event-loop turns."""
MIN_SLICE_SECONDS = 0.001
"""Below this, per-slice overhead (column slicing, the yield) starts to cost throughput."""


class StopRequested(Exception):
    """Raised inside an exchange loop at a checkpoint once a stop was requested."""


class CpuShare:
    """One event loop's budget for CPU-bound loops (backtests), shared by its jobs.

    Jobs, the console and the journal share one asyncio loop; a key press or redraw waits
    behind every job's work slice of the current loop turn. So the turn is budgeted, not
    each job: with *n* backtests running each one's slice is ``turn_seconds / n``
    (never below ``MIN_SLICE_SECONDS``), and the loop's lag stays about one turn however
    many run. :meth:`hold` lets a console step ahead of them for a moment.
    """

    def __init__(self, turn_seconds: float = DEFAULT_TURN_SECONDS) -> None:
        self.turn_seconds = turn_seconds
        self._members = 0
        self._held_until = 0.0
        self._free: asyncio.Event | None = None
        self._release: asyncio.TimerHandle | None = None

    @property
    def members(self) -> int:
        return self._members

    @property
    def slice_seconds(self) -> float:
        return max(self.turn_seconds / max(self._members, 1), MIN_SLICE_SECONDS)

    @contextlib.contextmanager
    def member(self) -> Iterator[CpuShare]:
        """While a CPU-bound loop runs: counted in the split of the turn."""
        self._members += 1
        try:
            yield self
        finally:
            self._members -= 1

    def hold(self, seconds: float) -> None:
        """CPU-bound loops wait at their next checkpoint until ``seconds`` from now (the
        console calls this on each key press, so the key's few loop turns are not each
        queued behind every backtest's slice). Paper and live loops are never held."""
        loop = asyncio.get_running_loop()
        self._held_until = max(self._held_until, time.monotonic() + seconds)
        if self._free is None:
            self._free = asyncio.Event()
        self._free.clear()
        if self._release is not None:
            self._release.cancel()
        self._release = loop.call_later(max(self._held_until - time.monotonic(), 0.0), self._end)

    def _end(self) -> None:
        self._release = None
        if self._free is not None:
            self._free.set()

    @property
    def held(self) -> bool:
        return self._free is not None and not self._free.is_set()

    async def wait_turn(self) -> None:
        """Yield to the event loop, and wait out a hold."""
        await asyncio.sleep(0)
        if self._free is not None and not self._free.is_set():
            await self._free.wait()


class RunControl:
    """Pause/stop flags an exchange loop polls between chunks of work.

    The loop calls :meth:`checkpoint` every few thousand candles (back_trading) or every
    candle (paper/live); it yields to the event loop so the UI stays responsive.
    CPU-bound loops call :meth:`cpu_checkpoint` instead and size their work slices by
    ``share.slice_seconds``.
    """

    def __init__(self, share: CpuShare | None = None) -> None:
        self._running = asyncio.Event()
        self._running.set()
        self._stopping = asyncio.Event()
        self.share = share if share is not None else CpuShare()

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
        await self._after_yield()

    async def cpu_checkpoint(self) -> None:
        """:meth:`checkpoint` for a CPU-bound loop: also steps aside during a hold."""
        await self.share.wait_turn()
        await self._after_yield()

    async def _after_yield(self) -> None:
        if not self._running.is_set():
            await self._running.wait()
        if self.stop_requested:
            raise StopRequested

    async def sleep(self, seconds: float) -> None:
        """Sleep that wakes early on stop and holds while paused."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=max(seconds, 0.0))
        await self.checkpoint()
