"""Closed candles of a real exchange, polled through ccxt's public REST API.

Params (``exchange.params`` of a ``paper`` job with ``feed: ccxt``):

- ``exchange``: ccxt id (default ``binance``); ``timeframe`` (default ``1m``).
- ``poll_seconds``: pause between polls when nothing new has closed.
- ``warmup``: how many already-closed candles to replay first, so indicators are warm.
- ``urls`` / ``options``: overrides for ccxt (tests point ``urls`` at a loopback server).
  ``urls`` is either a dict deep-merged into ``exchange.urls`` or a base url string that
  replaces the scheme and host of every REST url while keeping its path.
- ``sandbox``: true uses the exchange's test network (ccxt's ``set_sandbox_mode``).
- ``timeout_ms``, ``limit`` (candles per request), ``backoff_seconds`` / ``backoff_max``.

A candle counts as closed once the exchange has returned a newer one: the exchange's
clock decides, never the local one (which may be off by seconds, or be a test's clock),
and the in-progress candle, whose high/low/close/volume still move, is never yielded.
Each closed candle is yielded exactly once, in order; after a gap (network error, pause,
restart) the missed ones are back-filled.
ccxt is imported in :meth:`CcxtFeed.open` only: importing it costs ~0.5 s and ~100 MB.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from ats.exceptions import ConfigError
from ats.exchanges.ccxt_support import Backoff, is_spot, make_client, retry_transient
from ats.exchanges.data_classes import Candle, Progress
from ats.exchanges.feeds.base_feed import CandleFeed
from ats.exchanges.lazy_ccxt import load_ccxt
from ats.exchanges.market_rules import MarketRules
from ats.exchanges.rate_limit import AccountLimiter, limiter_of
from ats.exchanges.run_control import RunControl

if TYPE_CHECKING:
    from ats.exchanges.base_exchange import LogFunction

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 500


class CcxtFeed(CandleFeed):
    """Polls ``fetch_ohlcv`` and hands out closed candles one at a time."""

    def __init__(self, symbol: str, params: dict[str, Any], log: LogFunction | None = None) -> None:
        self.symbol = symbol
        self.exchange_id = str(params.get("exchange", "binance"))
        self.timeframe = str(params.get("timeframe", "1m"))
        self.urls: dict[str, Any] | str | None = params.get("urls")
        self.options: dict[str, Any] = dict(params.get("options") or {})
        self.sandbox = params.get("sandbox", False)
        if not isinstance(self.sandbox, bool):
            raise ConfigError(
                f"exchange.params.sandbox must be true or false, got {self.sandbox!r}"
            )
        self.timeout_ms = self._positive_int(params, "timeout_ms", 10_000)
        self.limit = self._positive_int(params, "limit", DEFAULT_LIMIT)
        self.warmup = self._positive_int(params, "warmup", 0, allow_zero=True)
        self.poll_seconds = self._number(params, "poll_seconds", None)
        self.backoff_seconds = self._number(params, "backoff_seconds", 1.0)
        self.backoff_max = self._number(params, "backoff_max", 60.0)
        self.enable_rate_limit = bool(params.get("enable_rate_limit", True))
        self.catching_up = False
        """True while newer closed candles are already queued (warm-up or a back-fill
        after a gap): the current candle is history, not the market now."""
        self.log: LogFunction = log or _log_to_logging
        self.client: Any = None
        self.limiter: AccountLimiter | None = None
        self.last_ts: int | None = None
        """Open time of the last candle handed out (or skipped at start); None before."""
        self.count = 0
        self._backoff = Backoff(self.backoff_seconds, self.backoff_max)
        self._pending: deque[Candle] = deque()

    @staticmethod
    def _positive_int(
        params: dict[str, Any], key: str, default: int, *, allow_zero: bool = False
    ) -> int:
        value = params.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < (0 if allow_zero else 1)
        ):
            raise ConfigError(f"exchange.params.{key} must be a whole number, got {value!r}")
        return value

    @staticmethod
    def _number(params: dict[str, Any], key: str, default: float | None) -> float:
        value = params.get(key, default)
        if value is None:
            return -1.0  # resolved once the timeframe is known
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(f"exchange.params.{key} must be a number >= 0, got {value!r}")
        return float(value)

    # -- lifecycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        """Build the ccxt client (no request yet: the first poll loads markets, with retry)."""
        if self.client is not None:
            return
        await load_ccxt()
        client = make_client(
            self.exchange_id,
            timeout_ms=self.timeout_ms,
            options=self.options,
            urls=self.urls,
            enable_rate_limit=self.enable_rate_limit,
            sandbox=self.sandbox,
            spot=is_spot(self.symbol),
        )
        try:
            if self.timeframe not in (client.timeframes or {}):
                raise ConfigError(
                    f"exchange.params.timeframe: {self.exchange_id} has no {self.timeframe!r}"
                )
            self.timeframe_ms = int(client.parse_timeframe(self.timeframe) * 1000)
        except BaseException:
            await client.close()
            raise
        if self.poll_seconds < 0:  # default: a few polls per candle, at most every 10 s
            self.poll_seconds = min(10.0, max(1.0, self.timeframe_ms / 1000 / 6))
        self.client = client
        self.limiter = limiter_of(client)
        if self.limiter is not None:
            self.limiter.watch(self.log)

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            if self.limiter is not None:
                self.limiter.unwatch(self.log)
            await client.close()

    async def market_rules(self) -> MarketRules:
        """The symbol's precision and limits from the exchange's market list."""
        if self.client is None:
            await self.open()
        await retry_transient(
            self.client.load_markets,
            what=f"{self.exchange_id} load markets",
            backoff=self._backoff,
            sleep=asyncio.sleep,
            log=self.log,
            limiter=self.limiter,
        )
        market = self.client.market(self.symbol)
        return MarketRules.from_ccxt_market(market, self.client.precisionMode)

    @property
    def connection_state(self) -> str | None:
        """E.g. "banned until 12:03:00" while the exchange bans or rate-limits this IP,
        "reconnecting after 3 failed attempts" while market data fails."""
        state = self.limiter.state_text() if self.limiter is not None else None
        if state is None and self._backoff.failures:
            state = f"reconnecting after {self._backoff.failures} failed attempts"
        return state

    # -- candles ---------------------------------------------------------------------------
    async def next_candle(self, control: RunControl) -> Candle | None:
        """The next closed candle; waits (stop-aware) until one closes.

        A stop surfaces as :class:`StopRequested` from ``control`` like every other feed,
        so the job ends as *stopped*; the feed never ends on its own.
        """
        if self.client is None:
            await self.open()
        await control.checkpoint()
        while not self._pending:
            await self._poll(control)
            if not self._pending:
                await control.sleep(self.poll_seconds)
        candle = self._pending.popleft()
        self.catching_up = bool(self._pending)
        self.last_ts = candle.timestamp
        self.count += 1
        return candle

    def _horizon(self) -> int | None:
        """Open time of the newest candle already handed out or queued."""
        return self._pending[-1].timestamp if self._pending else self.last_ts

    async def _poll(self, control: RunControl) -> None:
        """One fetch (retried on network trouble); queues the newly closed candles.

        After a gap the fetch starts right after the newest known candle, so missed
        candles come back in order; a full page is simply followed by another poll.
        """
        horizon = self._horizon()
        since = None if horizon is None else horizon + 1
        limit = self.limit if horizon is not None else self.warmup + 1
        fetched = await self._fetch(control, since, limit)
        rows = sorted(
            (r for r in fetched if len(r) >= 6 and all(v is not None for v in r[:6])),
            key=lambda r: int(r[0]),
        )
        if not rows:
            return
        closed = rows[:-1]  # the newest row may still be in progress
        if horizon is None:  # first poll: replay only the warm-up window
            self.last_ts = horizon = int(rows[-1][0]) - 1
            closed = closed[-self.warmup :] if self.warmup else []
            if closed:
                self.last_ts = horizon = int(closed[0][0]) - 1
        for row in closed:
            ts = int(row[0])
            if ts <= horizon:
                continue
            horizon = ts
            self._pending.append(
                Candle(
                    self.symbol,
                    ts,
                    float(row[1]),
                    float(row[2]),
                    float(row[3]),
                    float(row[4]),
                    float(row[5]),
                )
            )

    async def _fetch(self, control: RunControl, since: int | None, limit: int) -> list[list[Any]]:
        """``fetch_ohlcv`` retried forever on transient errors: a market-data outage must
        not kill the job, and a stop still ends the wait at once (it sleeps through
        ``control``)."""
        rows: list[list[Any]] = await retry_transient(
            lambda: self.client.fetch_ohlcv(self.symbol, self.timeframe, since=since, limit=limit),
            what=f"{self.exchange_id} {self.symbol} {self.timeframe}",
            backoff=self._backoff,
            sleep=control.sleep,
            log=self.log,
            limiter=self.limiter,
        )
        return rows

    # -- progress and state ------------------------------------------------------------------
    @property
    def progress(self) -> Progress:
        return Progress(self.count, None)

    def snapshot(self) -> dict[str, object]:
        return {"last_ts": self.last_ts, "count": self.count}

    def restore(self, data: dict[str, object]) -> None:
        last_ts, count = data.get("last_ts"), data.get("count", 0)
        self.last_ts = int(last_ts) if isinstance(last_ts, int | float) else None
        self.count = int(count) if isinstance(count, int | float) else 0
        self._pending.clear()


def _log_to_logging(level: str, message: str) -> None:
    logger.log(logging.getLevelName(level), message)
