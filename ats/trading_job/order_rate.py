"""Order-rate limits: how many orders a strategy may place per candle and per minute.

A strategy in a loop can place 100,000 orders in one candle; each would be checked,
held, journaled and logged (83 s and 10,031 log lines before this limit). Orders over
the limit are refused before they reach the exchange, at a few microseconds each, and
each candle that refused any gets ONE summary line in the job's log:
``9,900 orders rejected this candle (2022-05-12 00:00:03): max 100 per candle``.

Both limits count in market time (the close time of the candle the strategy handles),
so a backtest, a paper replay and a live run of the same candles refuse the same orders.
Set them per job under ``risk:`` (``max_orders_per_candle``, ``max_orders_per_minute``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

from ats.exchanges.data_classes import ms_to_datetime

_MINUTE_MS = 60_000

LogFunction = Callable[[str, str], None]


class OrderRateLimiter:
    """An order gate for :class:`~ats.strategies.broker.Broker`: :meth:`check` returns
    why an order is refused (None = allowed) and counts it."""

    def __init__(
        self,
        *,
        per_candle: int,
        per_minute: int,
        clock: Callable[[], int],
        log: LogFunction,
    ) -> None:
        self.per_candle = per_candle
        self.per_minute = per_minute
        self._clock = clock
        """Order time in ms: the close of the candle the strategy is handling."""
        self._log = log
        self._candle_time: int | None = None
        self._in_candle = 0
        self._recent: deque[int] = deque()
        """Times of the orders let through within the last minute, oldest first."""
        self._refused = 0
        self._reason = ""
        self._flush_scheduled = False

    def check(self) -> str | None:
        """Why the order about to be placed is refused (counted for the summary), or
        None: it is let through and counted against both limits."""
        now = self._clock()
        if now != self._candle_time:
            self.flush()
            self._candle_time, self._in_candle = now, 0
        if self._in_candle >= self.per_candle:
            return self._refuse(f"max {self.per_candle:,} per candle")
        recent = self._recent
        while recent and (recent[0] <= now - _MINUTE_MS or recent[0] > now):
            recent.popleft()  # (a time after now: the clock went back on a restore)
        if len(recent) >= self.per_minute:
            return self._refuse(f"max {self.per_minute:,} per minute")
        self._in_candle += 1
        recent.append(now)
        return None

    def _refuse(self, reason: str) -> str:
        if not self._refused:
            self._reason = reason
            self._schedule_flush()
        self._refused += 1
        return f"order limit: {reason}"

    def _schedule_flush(self) -> None:
        """Write the summary once the strategy has returned (the candle is over): the
        next order on a later candle, or the event loop's next turn, whichever is first."""
        if self._flush_scheduled:
            return
        with contextlib.suppress(RuntimeError):  # no running loop: the next check flushes
            asyncio.get_running_loop().call_soon(self.flush)
            self._flush_scheduled = True

    def flush(self) -> None:
        """Log the summary line of the candle whose orders were refused, if any."""
        self._flush_scheduled = False
        if not self._refused:
            return
        when = ""
        if self._candle_time is not None:
            when = f" ({ms_to_datetime(self._candle_time):%Y-%m-%d %H:%M:%S})"
        count = f"{self._refused:,} order{'s' if self._refused != 1 else ''}"
        self._log("WARNING", f"{count} rejected this candle{when}: {self._reason}")
        self._refused = 0
