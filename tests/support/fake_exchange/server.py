"""A loopback fake of the Binance spot REST API, for driving ccxt's real binance class.

Typical use::

    async with FakeBinance() as fake:
        fake.load_klines("BTCUSDT", "1m", candles)
        fake.set_candle_index(100)
        fake.set_balance("USDT", 10_000)
        exchange = make_binance(fake.base_url)
        ...
        fake.advance(3)  # three more candles close; resting LIMIT orders may fill

Times: signed requests are checked against the wall clock (plus ``time_offset_ms``);
market data, order and trade times use the simulated clock (``clock_ms``) when it is set,
or the server's wall clock (with the same offset) after ``use_wall_clock()``.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import hashlib
import hmac
import itertools
import json
import re
import secrets
import string
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl

from aiohttp import web

from .limits import Limited, WeightLimits, retry_after_header
from .models import (
    FAULT_KINDS,
    INTERVAL_MS,
    PLAIN_FAULTS,
    ZERO,
    Balance,
    BinanceError,
    Candle,
    Fault,
    Fill,
    LoggedRequest,
    MarketSpec,
    Number,
    Order,
    bad_value,
    dec,
    default_markets,
    floor_to_step,
    fmt,
    interval_start,
    is_multiple,
    mandatory,
)

FillPriceFn = Callable[["FakeBinance", str, str], Number]
FillMode = Literal["last_close", "next_open"]
FeeMode = Literal["quote", "received", "bnb"]
PartialCandle = Literal["open", "progressive", "full", "hide"]
DuplicatePolicy = Literal["open", "any"]

Params = dict[str, str]
Handler = Callable[[Params], Awaitable[Any]]

SIGNED_EXTRA = frozenset({"recvWindow", "timestamp", "signature"})
ORDER_PARAMS = frozenset(
    {
        "symbol",
        "side",
        "type",
        "timeInForce",
        "quantity",
        "quoteOrderQty",
        "price",
        "newClientOrderId",
        "strategyId",
        "strategyType",
        "stopPrice",
        "trailingDelta",
        "icebergQty",
        "newOrderRespType",
        "selfTradePreventionMode",
    }
)
CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
NUMBER_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
ID_ALPHABET = string.ascii_letters + string.digits
EIGHT = Decimal("0.00000001")
UNKNOWN_STATUS_MSG = (
    "Timeout waiting for response from backend server. Send status unknown; "
    "execution status unknown."
)


@dataclass(frozen=True)
class _Route:
    handler: Handler
    params: frozenset[str]
    signed: bool


class FakeBinance:
    """In-memory Binance spot exchange served over HTTP on 127.0.0.1.

    Args:
        api_key / secret: credentials the signed endpoints accept.
        markets: symbol -> MarketSpec; defaults to BTCUSDT and ETHUSDT.
        balances: initial free balances, asset -> amount.
        taker_rate / maker_rate: commission rates.
        fee_mode: "quote" charges every commission in the quote asset (a resting BUY then
            also locks its maximum commission); "received" is Binance's default (commission
            in the asset received); "bnb" is Binance's "use BNB to pay fees": the commission
            is paid in BNB, worth the fee less ``bnb_discount`` at BNBUSDT's last price, as
            long as the account has enough free BNB (else as "received").
        bnb_discount: the BNB fee discount (Binance: 25 %).
        limit_fill_ratio: at most this share of a candle's volume fills a resting LIMIT
            order per candle (floored to the lot step), so large orders fill in parts over
            several candles (PARTIALLY_FILLED in between); None fills them whole.
        market_fill_parts: a MARKET order executes as this many trades (same price), as
            one that walks several resting orders on the book does.
        fill_mode: MARKET fill price when no ``fill_price_fn``: "last_close" (close of the
            last closed candle) or "next_open" (open of the in-progress candle).
        fill_price_fn: ``fn(server, symbol, side) -> price`` overriding the fill price.
        duplicate_client_order_id: "open" rejects a newClientOrderId used by an open order
            (Binance's documented rule); "any" rejects any reuse.
        partial_candle: how the in-progress kline is served: "open" (o=h=l=c=open, v=0),
            "progressive" (high/low/close/volume move from the open towards the loaded
            values as the candle's time passes, as a real still-open candle does), "full"
            (as loaded, i.e. with look-ahead) or "hide".
        timeout_delay: seconds a "timeout" fault stalls (released early by ``stop``).
        check_recv_window: enforce timestamp/recvWindow like Binance (-1021).
        weight_limit / weight_window: REQUEST_WEIGHT allowed per interval of that many
            seconds (Binance: 6000 per 60 s). The default ``None`` counts and reports
            weight without limiting it: most tests poll far faster than a real client.
        ban_seconds / max_ban_seconds: first IP ban and the cap of the doubling bans
            (Binance: 2 minutes to 3 days); see :mod:`.limits`.
        in_flight_grace: requests arriving this soon after a Retry-After window or ban
            began were already on their way: refused, but not counted as violations.
    """

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        secret: str = "test-secret",
        markets: Mapping[str, MarketSpec] | None = None,
        balances: Mapping[str, Number] | None = None,
        taker_rate: Number = "0.001",
        maker_rate: Number = "0.001",
        fee_mode: FeeMode = "quote",
        bnb_discount: Number = "0.25",
        limit_fill_ratio: Number | None = None,
        market_fill_parts: int = 1,
        fill_mode: FillMode = "last_close",
        fill_price_fn: FillPriceFn | None = None,
        duplicate_client_order_id: DuplicatePolicy = "open",
        partial_candle: PartialCandle = "open",
        timeout_delay: float = 10.0,
        check_recv_window: bool = True,
        weight_limit: int | None = None,
        weight_window: float = 60.0,
        ban_seconds: float = 120.0,
        max_ban_seconds: float = 3 * 86_400.0,
        in_flight_grace: float = 0.05,
        host: str = "127.0.0.1",
    ) -> None:
        self.api_key = api_key
        self.secret = secret
        self.markets: dict[str, MarketSpec] = dict(
            markets if markets is not None else default_markets()
        )
        self.taker_rate = dec(taker_rate)
        self.maker_rate = dec(maker_rate)
        self.fee_mode: FeeMode = fee_mode
        self.bnb_discount = dec(bnb_discount)
        self.limit_fill_ratio = None if limit_fill_ratio is None else dec(limit_fill_ratio)
        self.market_fill_parts = market_fill_parts
        self.fill_mode: FillMode = fill_mode
        self.fill_price_fn = fill_price_fn
        self.duplicate_client_order_id: DuplicatePolicy = duplicate_client_order_id
        self.partial_candle: PartialCandle = partial_candle
        self.timeout_delay = timeout_delay
        self.check_recv_window = check_recv_window
        self.time_offset_ms = 0
        self.host = host

        self.balances: dict[str, Balance] = {}
        for asset, amount in (balances or {}).items():
            self.set_balance(asset, amount)
        self.orders: dict[int, Order] = {}
        self.trades: list[Fill] = []
        self.requests: list[LoggedRequest] = []
        self.errors: list[tuple[str, str, int]] = []
        """Binance errors answered, as (method, path, code): -1013 is a filter failure."""
        self.faults: list[Fault] = []
        self.limits = WeightLimits(
            limit=weight_limit,
            window_seconds=weight_window,
            ban_seconds=ban_seconds,
            max_ban_seconds=max_ban_seconds,
            in_flight_grace=in_flight_grace,
            server_ms=self.now_ms,
        )

        self._klines: dict[tuple[str, str], list[Candle]] = {}
        self._kline_ts: dict[tuple[str, str], list[int]] = {}
        self._prices: dict[str, Decimal] = {}
        self._clock: int | None = None
        self._wall_clock = False
        self._matched_to = 0
        self._order_ids = itertools.count(1)
        self._trade_ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._outage_until: float | None = None
        self._offline = False
        self._restore_task: asyncio.Task[None] | None = None
        self._shutdown = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._port = 0
        self._routes = self._build_routes()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> str:
        """Bind 127.0.0.1 on a free port and return the base url (``http://127.0.0.1:PORT``)."""
        if self._runner is not None:
            return self.base_url
        self._shutdown = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await self._open_site(0)
        return self.base_url

    async def stop(self) -> None:
        """Release stalled requests, close all connections and unbind."""
        self._shutdown.set()
        if self._restore_task is not None:
            self._restore_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._restore_task
            self._restore_task = None
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._site = None

    async def __aenter__(self) -> FakeBinance:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound port (0 before ``start``)."""
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self._port}"

    async def _open_site(self, port: int) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, self.host, port, reuse_address=True)
        await self._site.start()
        self._port = int(self._runner.addresses[0][1])

    # ------------------------------------------------------------------ markets

    def add_market(
        self,
        symbol: str,
        base: str,
        quote: str,
        *,
        tick_size: Number = "0.01",
        step_size: Number = "0.00001",
        min_qty: Number | None = None,
        max_qty: Number = "9000",
        min_notional: Number = "5",
        max_notional: Number = "9000000",
        min_price: Number | None = None,
        max_price: Number = "1000000",
        default_price: Number = "100",
        status: str = "TRADING",
    ) -> MarketSpec:
        """Add (or replace) a spot symbol; ``min_qty``/``min_price`` default to the step/tick."""
        spec = MarketSpec(
            symbol=_norm_symbol(symbol),
            base=base,
            quote=quote,
            tick_size=dec(tick_size),
            min_price=dec(min_price if min_price is not None else tick_size),
            max_price=dec(max_price),
            step_size=dec(step_size),
            min_qty=dec(min_qty if min_qty is not None else step_size),
            max_qty=dec(max_qty),
            min_notional=dec(min_notional),
            max_notional=dec(max_notional),
            default_price=dec(default_price),
            status=status,
        )
        self.markets[spec.symbol] = spec
        return spec

    def market(self, symbol: str) -> MarketSpec:
        """The spec of ``symbol`` ("BTCUSDT" or "BTC/USDT")."""
        return self.markets[_norm_symbol(symbol)]

    # ------------------------------------------------------------------ klines and clock

    def load_klines(self, symbol: str, interval: str, candles: Iterable[Any]) -> None:
        """Load candles ``(ts_ms, o, h, l, c, v)`` for ``symbol``/``interval`` (replaces any).

        Intervals that are not loaded are served aggregated from the finest loaded interval
        that divides them (e.g. 5m and 1h from 1m).
        """
        if interval not in INTERVAL_MS:
            raise ValueError(f"unsupported interval {interval!r}")
        sym = _norm_symbol(symbol)
        if sym not in self.markets:
            raise KeyError(f"unknown market {sym}")
        rows = sorted((Candle.of(r) for r in candles), key=lambda c: c.ts)
        self._klines[(sym, interval)] = rows
        self._kline_ts[(sym, interval)] = [c.ts for c in rows]

    def klines(self, symbol: str, interval: str) -> list[Candle]:
        """All candles loaded for ``symbol``/``interval`` (ignores the clock)."""
        return list(self._klines.get((_norm_symbol(symbol), interval), []))

    @property
    def clock_ms(self) -> int | None:
        """Market "now" in ms (simulated, or the server's wall clock after
        ``use_wall_clock``); None means every loaded candle is closed."""
        return self.now_ms() if self._wall_clock else self._clock

    def market_now_ms(self) -> int:
        """Simulated time if the clock is set, else the server's wall clock."""
        clock = self.clock_ms
        return clock if clock is not None else self.now_ms()

    def use_wall_clock(self) -> None:
        """Market data follows the server's wall clock (``now_ms``, so ``time_offset_ms``
        shifts it too): the candle holding "now" is in progress, later ones do not exist
        yet. Resting LIMIT orders are matched as candles close (checked on each request).
        ``set_clock`` goes back to the simulated clock."""
        self._wall_clock = True
        self._matched_to = self.now_ms()

    def now_ms(self) -> int:
        """Server wall clock (``/api/v3/time``), shifted by ``time_offset_ms``."""
        return int(time.time() * 1000) + self.time_offset_ms

    def set_clock(self, ts_ms: int | None, *, match: bool = True) -> list[Order]:
        """Set the simulated time. Moving forward matches resting LIMIT orders against the
        candles that closed in between (unless ``match`` is False); returns filled orders."""
        old = self._clock
        self._clock = ts_ms
        self._wall_clock = False
        if match and old is not None and ts_ms is not None and ts_ms > old:
            return self._match_closed_candles(old, ts_ms)
        return []

    def set_candle_index(
        self,
        index: int,
        *,
        symbol: str | None = None,
        interval: str | None = None,
        match: bool = True,
    ) -> int:
        """Put the clock at the open of candle ``index`` of the reference series (finest loaded
        interval, BTCUSDT first): candles ``[0, index)`` are closed, candle ``index`` is in
        progress. Moving forward matches resting orders like ``set_clock``. Returns the clock."""
        key = self._reference_series(symbol, interval)
        series = self._klines[key]
        if index < len(series):
            ts = series[index].ts
        else:  # past the end: everything closed
            ts = series[-1].ts + INTERVAL_MS[key[1]] * (index - len(series) + 1)
        self.set_clock(ts, match=match)
        return ts

    def candle_index(self, *, symbol: str | None = None, interval: str | None = None) -> int:
        """Index of the in-progress candle of the reference series (= number closed)."""
        key = self._reference_series(symbol, interval)
        clock = self.clock_ms
        if clock is None:
            return len(self._klines[key])
        dur = INTERVAL_MS[key[1]]
        return bisect.bisect_right(self._kline_ts[key], clock - dur)

    def advance(self, n: int = 1, *, interval: str | None = None) -> list[Order]:
        """Move the clock forward by ``n`` candles of ``interval`` (default: the finest loaded
        interval), matching resting LIMIT orders; returns the orders that filled."""
        if self._clock is None or self._wall_clock:
            raise RuntimeError("set the clock (set_clock / set_candle_index) before advancing")
        if interval is None:
            if not self._klines:
                raise RuntimeError("no klines loaded: pass interval= to advance()")
            interval = min((k[1] for k in self._klines), key=INTERVAL_MS.__getitem__)
        return self.set_clock(self._clock + n * INTERVAL_MS[interval])

    def advance_to(self, ts_ms: int) -> list[Order]:
        """Move the clock to ``ts_ms`` (forward only), matching resting orders."""
        return self.set_clock(ts_ms)

    def _reference_series(self, symbol: str | None, interval: str | None) -> tuple[str, str]:
        keys = [
            k
            for k in self._klines
            if (symbol is None or k[0] == _norm_symbol(symbol))
            and (interval is None or k[1] == interval)
        ]
        if not keys:
            raise KeyError("no klines loaded for that symbol/interval")
        return min(keys, key=lambda k: (INTERVAL_MS[k[1]], k[0] != "BTCUSDT", k[0]))

    def _finest(self, symbol: str) -> tuple[str, str] | None:
        keys = [k for k in self._klines if k[0] == symbol and self._klines[k]]
        return min(keys, key=lambda k: INTERVAL_MS[k[1]]) if keys else None

    def _visible(
        self, symbol: str, interval: str, lo_ts: int | None = None, hi_ts: int | None = None
    ) -> list[Candle]:
        """Klines as Binance would serve them at the clock (closed + in-progress), built from
        loaded candles with open time in ``[lo_ts, hi_ts]`` (rows may need re-filtering)."""
        if (symbol, interval) in self._klines:
            base_iv = interval
        else:
            candidates = [
                k[1]
                for k in self._klines
                if k[0] == symbol
                and INTERVAL_MS[k[1]] < INTERVAL_MS[interval]
                and INTERVAL_MS[interval] % INTERVAL_MS[k[1]] == 0
            ]
            if not candidates:
                return []
            base_iv = max(candidates, key=INTERVAL_MS.__getitem__)
        key = (symbol, base_iv)
        series, stamps, dur = self._klines[key], self._kline_ts[key], INTERVAL_MS[base_iv]
        now = self.clock_ms
        lo = bisect.bisect_left(stamps, lo_ts) if lo_ts is not None else 0
        hi = bisect.bisect_right(stamps, hi_ts) if hi_ts is not None else len(series)
        if now is None:
            visible = series[lo:hi]
        else:
            n_closed = bisect.bisect_right(stamps, now - dur)
            visible = series[lo : min(hi, n_closed)]
            if lo <= n_closed < hi and series[n_closed].ts <= now:
                current = series[n_closed]
                if self.partial_candle == "full":
                    visible.append(current)
                elif self.partial_candle == "progressive":
                    visible.append(self._progressive(symbol, current, (now - current.ts) / dur))
                elif self.partial_candle == "open":
                    o = current.open
                    visible.append(Candle(current.ts, o, o, o, o, ZERO))
        if base_iv == interval:
            return visible
        return _aggregate(visible, interval)

    def _progressive(self, symbol: str, candle: Candle, elapsed: float) -> Candle:
        """``candle`` as seen ``elapsed`` (0..1) of the way through: the close walks from
        the open to the final close, the wicks and the volume grow to their final size.
        Equal to the loaded candle only once it has closed."""
        spec = self.markets[symbol]
        f = Decimal(repr(min(max(elapsed, 0.0), 1.0)))
        o = candle.open
        close = _to_step(o + (candle.close - o) * f, spec.tick_size)
        top, bottom = max(candle.open, candle.close), min(candle.open, candle.close)
        high = _to_step(max(o, close) + (candle.high - top) * f, spec.tick_size)
        low = _to_step(min(o, close) - (bottom - candle.low) * f, spec.tick_size)
        volume = _to_step(candle.volume * f, spec.step_size)
        return Candle(candle.ts, o, high, low, close, volume)

    # ------------------------------------------------------------------ prices

    def set_price(self, symbol: str, price: Number | None) -> None:
        """Override the reference (last/fill) price of ``symbol``; None removes the override."""
        sym = _norm_symbol(symbol)
        if price is None:
            self._prices.pop(sym, None)
        else:
            self._prices[sym] = dec(price)

    def last_price(self, symbol: str) -> Decimal:
        """Override, else the close of the last closed candle, else the in-progress open,
        else the market's ``default_price``."""
        sym = _norm_symbol(symbol)
        if sym in self._prices:
            return self._prices[sym]
        key = self._finest(sym)
        if key is None:
            return self.markets[sym].default_price
        closed, current = self._closed_and_current(key)
        if closed is not None:
            return closed.close
        assert current is not None
        return current.open

    def market_fill_price(self, symbol: str, side: str) -> Decimal:
        """Price a MARKET order (and a marketable LIMIT) executes at."""
        sym = _norm_symbol(symbol)
        if self.fill_price_fn is not None:
            return dec(self.fill_price_fn(self, sym, side.upper()))
        if sym not in self._prices and self.fill_mode == "next_open":
            key = self._finest(sym)
            if key is not None:
                _, current = self._closed_and_current(key)
                if current is not None:
                    return current.open
        return self.last_price(sym)

    def _closed_and_current(self, key: tuple[str, str]) -> tuple[Candle | None, Candle | None]:
        series, stamps, dur = self._klines[key], self._kline_ts[key], INTERVAL_MS[key[1]]
        clock = self.clock_ms
        if clock is None:
            return series[-1], None
        n_closed = bisect.bisect_right(stamps, clock - dur)
        closed = series[n_closed - 1] if n_closed else None
        current = None
        if n_closed < len(series) and series[n_closed].ts <= clock:
            current = series[n_closed]
        if closed is None and current is None:
            current = series[0]
        return closed, current

    # ------------------------------------------------------------------ balances and orders

    def set_balance(self, asset: str, free: Number, locked: Number = 0) -> None:
        """Set the free and locked amounts of ``asset``."""
        self.balances[asset] = Balance(dec(free), dec(locked))

    def balance(self, asset: str) -> Balance:
        """Free/locked of ``asset`` (zero if unknown)."""
        return self.balances.setdefault(asset, Balance())

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders, oldest first."""
        sym = _norm_symbol(symbol) if symbol else None
        return [o for o in self.orders.values() if o.is_open and (sym is None or o.symbol == sym)]

    def find_order(
        self, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order | None:
        """By exchange id, or the newest order carrying ``client_order_id``."""
        if order_id is not None:
            return self.orders.get(order_id)
        for order in reversed(self.orders.values()):
            if order.client_order_id == client_order_id:
                return order
        return None

    # ------------------------------------------------------------------ faults and log

    def inject(
        self,
        path: str | None,
        kind: str,
        count: int = 1,
        *,
        method: str | None = None,
        after_processing: bool = False,
        delay: float | None = None,
        payload: Mapping[str, Any] | None = None,
        retry_after: float = 1.0,
    ) -> Fault:
        """Make the next ``count`` matching requests fail (``count=-1``: until cleared).

        ``path``: e.g. "/api/v3/order" (or "order"); None matches every path.
        ``kind``: "429", "418" (Binance -1003 JSON; they open a Retry-After window or a ban
        of ``retry_after`` seconds, and requests arriving inside it are violations, see
        :mod:`.limits`), "400", "403" (a firewall block), "404", "500", "503" (plain-text
        bodies unless ``payload`` gives a JSON body), "-1007" (HTTP 503 with Binance's
        -1007 "execution status unknown"; after ``delay`` seconds if given), "timeout"
        (stall ``delay`` seconds, default ``timeout_delay``) or "drop" (close the
        connection without a response).
        ``after_processing``: the request is executed (an order is stored) before the fault
        hits the response; for "timeout" the real response is sent after the stall.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        fault = Fault(
            kind=kind,
            path=_norm_path(path) if path is not None else None,
            method=method.upper() if method else None,
            remaining=count,
            after_processing=after_processing,
            delay=delay,
            payload=payload,
            retry_after=retry_after,
        )
        self.faults.append(fault)
        return fault

    def unknown_order_status(self, *, accepted: bool, count: int = 1) -> Fault:
        """Answer the next ``count`` POST /api/v3/order with -1007 ("Send status unknown;
        execution status unknown."), the order having been ``accepted`` (stored and
        executed) or not."""
        return self.inject(
            "/api/v3/order", "-1007", count, method="POST", after_processing=accepted
        )

    @property
    def violations(self) -> list[LoggedRequest]:
        """Requests that arrived inside a Retry-After window or a ban (answered 418)."""
        return self.limits.violations

    def lose_order_response(self, kind: str = "timeout", count: int = 1) -> Fault:
        """Accept (store and execute) the next ``count`` POST /api/v3/order but lose the
        response: "timeout" stalls it, "drop" closes the connection."""
        return self.inject("/api/v3/order", kind, count, method="POST", after_processing=True)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self.faults.clear()

    def outage(self, seconds: float) -> None:
        """Answer every request with HTTP 503 for ``seconds``."""
        self._outage_until = time.monotonic() + seconds

    def outage_on(self) -> None:
        """Answer every request with HTTP 503 until ``outage_off``."""
        self._outage_until = float("inf")

    def outage_off(self) -> None:
        """End an outage (503 or offline-503)."""
        self._outage_until = None

    @property
    def in_outage(self) -> bool:
        """Whether requests are currently answered with 503."""
        return self._outage_until is not None and time.monotonic() < self._outage_until

    @property
    def is_offline(self) -> bool:
        """Whether connections are currently refused (``go_offline``)."""
        return self._offline

    async def go_offline(self, seconds: float | None = None) -> None:
        """Refuse connections: close the listening socket and live connections (state and
        port are kept). With ``seconds``, come back online automatically afterwards."""
        if self._runner is None or self._offline:
            return
        self._offline = True
        if self._site is not None:
            await self._site.stop()
            self._site = None
        server = self._runner.server
        if server is not None:
            for conn in server.connections:
                if conn.transport is not None:
                    conn.transport.close()
        if seconds is not None:
            self._restore_task = asyncio.get_running_loop().create_task(self._online_after(seconds))

    async def go_online(self) -> None:
        """Listen again on the same port after ``go_offline``."""
        if self._runner is None or not self._offline:
            return
        await self._open_site(self._port)
        self._offline = False

    async def _online_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._restore_task = None
        await self.go_online()

    def calls(self, path: str | None = None, method: str | None = None) -> list[LoggedRequest]:
        """Logged requests, optionally filtered by path ("order" or "/api/v3/order") and method."""
        want = _norm_path(path) if path is not None else None
        return [
            r
            for r in self.requests
            if (want is None or r.path == want) and (method is None or r.method == method.upper())
        ]

    def clear_log(self) -> None:
        """Forget logged requests."""
        self.requests.clear()

    # ------------------------------------------------------------------ HTTP plumbing

    def _build_routes(self) -> dict[tuple[str, str], _Route]:
        def r(handler: Handler, params: Iterable[str], signed: bool = False) -> _Route:
            allowed = frozenset(params) | (SIGNED_EXTRA if signed else frozenset())
            return _Route(handler, allowed, signed)

        v3 = "/api/v3/"
        return {
            ("GET", v3 + "ping"): r(self._h_ping, ()),
            ("GET", v3 + "time"): r(self._h_time, ()),
            ("GET", v3 + "exchangeInfo"): r(
                self._h_exchange_info,
                ("symbol", "symbols", "permissions", "showPermissionSets", "symbolStatus"),
            ),
            ("GET", v3 + "klines"): r(
                self._h_klines, ("symbol", "interval", "startTime", "endTime", "timeZone", "limit")
            ),
            ("GET", v3 + "ticker/24hr"): r(
                self._h_ticker_24hr, ("symbol", "symbols", "type", "symbolStatus")
            ),
            ("GET", v3 + "ticker/price"): r(
                self._h_ticker_price, ("symbol", "symbols", "symbolStatus")
            ),
            ("GET", v3 + "avgPrice"): r(self._h_avg_price, ("symbol",)),
            ("GET", v3 + "depth"): r(self._h_depth, ("symbol", "limit", "symbolStatus")),
            ("GET", v3 + "account"): r(self._h_account, ("omitZeroBalances",), True),
            ("POST", v3 + "order"): r(self._h_new_order, ORDER_PARAMS, True),
            ("POST", v3 + "order/test"): r(
                self._h_test_order, ORDER_PARAMS | {"computeCommissionRates"}, True
            ),
            ("GET", v3 + "order"): r(
                self._h_get_order, ("symbol", "orderId", "origClientOrderId"), True
            ),
            ("DELETE", v3 + "order"): r(
                self._h_cancel_order,
                (
                    "symbol",
                    "orderId",
                    "origClientOrderId",
                    "newClientOrderId",
                    "cancelRestrictions",
                ),
                True,
            ),
            ("GET", v3 + "openOrders"): r(self._h_open_orders, ("symbol",), True),
            ("GET", v3 + "allOrders"): r(
                self._h_all_orders, ("symbol", "orderId", "startTime", "endTime", "limit"), True
            ),
            ("GET", v3 + "myTrades"): r(
                self._h_my_trades,
                ("symbol", "orderId", "startTime", "endTime", "fromId", "limit"),
                True,
            ),
        }

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        method, path = request.method.upper(), request.path
        raw_query = request.rel_url.raw_query_string
        body = await request.text() if request.can_read_body else ""
        params: Params = dict(parse_qsl(raw_query, keep_blank_values=True))
        params.update(parse_qsl(body, keep_blank_values=True))
        logged = LoggedRequest(method, path, dict(params), dict(request.headers), time.time())
        self.requests.append(logged)
        self._match_to_wall_clock()
        limited = self.limits.check(logged, params)
        if limited is not None:
            return self._limited(limited)

        if self.in_outage:
            return _text(503, "Service Unavailable.")
        early = await self._apply_fault(request, method, path, after=False)
        if early is not None:
            return early

        route = self._routes.get((method, path))
        if route is None:
            return _text(404, "Not Found")
        try:
            if route.signed:
                self._authenticate(request, params, raw_query, body)
            unknown = set(params) - route.params
            if unknown:
                raise BinanceError(
                    -1104,
                    f"Not all sent parameters were read; read '{len(params) - len(unknown)}' "
                    f"parameter(s) but was sent '{len(params)}'.",
                )
            result = await route.handler(params)
            response: web.StreamResponse = self._json(200, result)
        except BinanceError as err:
            self.errors.append((method, path, err.code))
            response = self._json(err.status, err.payload())

        late = await self._apply_fault(request, method, path, after=True)
        return late if late is not None else response

    def _json(self, status: int, payload: Any) -> web.Response:
        return web.Response(
            status=status,
            text=json.dumps(payload, separators=(",", ":")),
            content_type="application/json",
            headers={"X-MBX-USED-WEIGHT-1M": str(self.limits.used_weight())},
        )

    def _limited(self, limited: Limited) -> web.Response:
        response = self._json(limited.status, {"code": -1003, "msg": limited.msg})
        response.headers["Retry-After"] = retry_after_header(limited.retry_after)
        return response

    def _match_to_wall_clock(self) -> None:
        """On the wall clock, fill resting orders against candles closed since last time."""
        if not self._wall_clock:
            return
        now = self.now_ms()
        if now > self._matched_to:
            self._match_closed_candles(self._matched_to, now)
            self._matched_to = now

    async def _apply_fault(
        self, request: web.Request, method: str, path: str, *, after: bool
    ) -> web.StreamResponse | None:
        fault = next((f for f in self.faults if f.matches(method, path, after)), None)
        if fault is None:
            return None
        if fault.remaining > 0:
            fault.remaining -= 1
        fault.fired += 1
        kind = fault.kind
        if kind in ("429", "418"):
            if kind == "429":
                limited = self.limits.open_window(fault.retry_after)
            else:
                limited = self.limits.ban(fault.retry_after)
            if fault.payload is not None:
                limited.msg = str(fault.payload.get("msg", limited.msg))
            return self._limited(limited)
        if kind == "-1007":
            if fault.delay:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._shutdown.wait(), fault.delay)
            return self._json(503, {"code": -1007, "msg": UNKNOWN_STATUS_MSG})
        if kind in PLAIN_FAULTS:
            if fault.payload is not None:
                return self._json(int(kind), fault.payload)
            return _text(int(kind), PLAIN_FAULTS[kind])
        if kind == "timeout":
            delay = fault.delay if fault.delay is not None else self.timeout_delay
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._shutdown.wait(), delay)
            # Before processing: the request never reached the engine. After: the real
            # response goes out late (the caller returns it).
            return None if after else _text(504, "Gateway Timeout")
        # "drop": close the socket; aiohttp then discards the response quietly.
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=500)

    def _authenticate(self, request: web.Request, params: Params, query: str, body: str) -> None:
        key = request.headers.get("X-MBX-APIKEY")
        if not key or not hmac.compare_digest(key, self.api_key):
            raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        if "timestamp" not in params:
            raise mandatory("timestamp")
        signature = params.get("signature")
        if not signature:
            raise mandatory("signature")
        payload = _strip_signature(query) + _strip_signature(body)
        expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise BinanceError(-1022, "Signature for this request is not valid.")
        if not self.check_recv_window:
            return
        ts = _int_param(params, "timestamp")
        recv_window = _int_param(params, "recvWindow") if "recvWindow" in params else 5000
        if recv_window > 60_000:
            raise BinanceError(-1131, "recvWindow must be less than 60000")
        now = self.now_ms()
        if ts >= now + 1000:
            raise BinanceError(
                -1021, "Timestamp for this request was 1000ms ahead of the server's time."
            )
        if now - ts > recv_window:
            raise BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")

    # ------------------------------------------------------------------ public endpoints

    async def _h_ping(self, params: Params) -> Any:
        return {}

    async def _h_time(self, params: Params) -> Any:
        return {"serverTime": self.now_ms()}

    async def _h_exchange_info(self, params: Params) -> Any:
        symbols = self._symbols_param(params)
        return {
            "timezone": "UTC",
            "serverTime": self.now_ms(),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 6000,
                },
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
            ],
            "exchangeFilters": [],
            "symbols": [self.markets[s].to_exchange_info() for s in symbols],
        }

    async def _h_klines(self, params: Params) -> Any:
        symbol = self._symbol(params)
        interval = params.get("interval")
        if not interval:
            raise mandatory("interval")
        if interval not in INTERVAL_MS:
            raise BinanceError(-1120, "Invalid interval.")
        limit = _int_param(params, "limit") if "limit" in params else 500
        if not 1 <= limit <= 1000:
            raise bad_value("limit")
        start = _int_param(params, "startTime") if "startTime" in params else None
        end = _int_param(params, "endTime") if "endTime" in params else None
        if start is not None and end is not None and start > end:
            raise BinanceError(-1023, "Start time is greater than end time.")
        dur = INTERVAL_MS[interval]
        # bound the work to the rows that can be returned
        lo: int | None = None
        hi: int | None = None
        if start is not None:
            lo, hi = start, (end if end is not None else start + (limit + 1) * dur) + dur
        elif end is not None or self.clock_ms is not None:
            top = end if end is not None else self.market_now_ms()
            lo, hi = top - (limit + 1) * dur, top + dur
        rows = [
            c
            for c in self._visible(symbol, interval, lo, hi)
            if (start is None or c.ts >= start) and (end is None or c.ts <= end)
        ]
        rows = rows[:limit] if start is not None else rows[-limit:]
        return [_kline_row(c, dur) for c in rows]

    def _ticker(self, symbol: str, full: bool) -> dict[str, Any]:
        spec = self.markets[symbol]
        last = self.last_price(symbol)
        now = self.market_now_ms()
        key = self._finest(symbol)
        day_ago = now - 86_400_000
        window = (
            [c for c in self._visible(symbol, key[1], day_ago) if c.ts >= day_ago] if key else []
        )
        open_ = window[0].open if window else last
        high = max([c.high for c in window] + [last])
        low = min([c.low for c in window] + [last])
        volume = sum((c.volume for c in window), ZERO)
        quote_volume = sum((c.volume * c.close for c in window), ZERO)
        change = last - open_
        out: dict[str, Any] = {
            "symbol": symbol,
            "openPrice": fmt(open_),
            "highPrice": fmt(high),
            "lowPrice": fmt(low),
            "lastPrice": fmt(last),
            "volume": fmt(volume),
            "quoteVolume": fmt(quote_volume),
            "openTime": window[0].ts if window else now - 86_400_000,
            "closeTime": now,
            "firstId": -1,
            "lastId": -1,
            "count": 0,
        }
        if not full:
            return out
        pct = (change / open_ * 100) if open_ else ZERO
        wavg = quote_volume / volume if volume else last
        return {
            "symbol": symbol,
            "priceChange": fmt(change),
            "priceChangePercent": fmt(pct, 3),
            "weightedAvgPrice": fmt(wavg),
            "prevClosePrice": fmt(window[-2].close if len(window) > 1 else open_),
            "lastPrice": fmt(last),
            "lastQty": fmt(spec.min_qty),
            "bidPrice": fmt(last - spec.tick_size),
            "bidQty": fmt(spec.min_qty * 1000),
            "askPrice": fmt(last + spec.tick_size),
            "askQty": fmt(spec.min_qty * 1000),
            **{k: v for k, v in out.items() if k not in ("symbol", "lastPrice")},
        }

    async def _h_ticker_24hr(self, params: Params) -> Any:
        kind = params.get("type", "FULL")
        if kind not in ("FULL", "MINI"):
            raise bad_value("type")
        single = "symbol" in params
        tickers = [self._ticker(s, kind == "FULL") for s in self._symbols_param(params)]
        return tickers[0] if single else tickers

    async def _h_ticker_price(self, params: Params) -> Any:
        single = "symbol" in params
        rows = [
            {"symbol": s, "price": fmt(self.last_price(s))} for s in self._symbols_param(params)
        ]
        return rows[0] if single else rows

    async def _h_avg_price(self, params: Params) -> Any:
        symbol = self._symbol(params)
        return {"mins": 5, "price": fmt(self.last_price(symbol)), "closeTime": self.market_now_ms()}

    async def _h_depth(self, params: Params) -> Any:
        symbol = self._symbol(params)
        limit = _int_param(params, "limit") if "limit" in params else 100
        if not 1 <= limit <= 5000:
            raise bad_value("limit")
        spec = self.markets[symbol]
        last = self.last_price(symbol)
        levels = min(limit, 20)
        bids, asks = [], []
        for k in range(1, levels + 1):
            qty = fmt(spec.min_qty * 100 * k)
            bid = last - spec.tick_size * k
            if bid > 0:
                bids.append([fmt(bid), qty])
            asks.append([fmt(last + spec.tick_size * k), qty])
        return {"lastUpdateId": next(self._update_ids), "bids": bids, "asks": asks}

    # ------------------------------------------------------------------ signed endpoints

    async def _h_account(self, params: Params) -> Any:
        omit_zero = params.get("omitZeroBalances", "false").lower() == "true"
        assets = dict.fromkeys(
            [a for m in self.markets.values() for a in (m.base, m.quote)] + list(self.balances)
        )
        rows = []
        for asset in assets:
            bal = self.balance(asset)
            if omit_zero and bal.total == 0:
                continue
            rows.append({"asset": asset, "free": fmt(bal.free), "locked": fmt(bal.locked)})
        maker_bp = int(self.maker_rate * 10_000)
        taker_bp = int(self.taker_rate * 10_000)
        return {
            "makerCommission": maker_bp,
            "takerCommission": taker_bp,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": fmt(self.maker_rate),
                "taker": fmt(self.taker_rate),
                "buyer": fmt(ZERO),
                "seller": fmt(ZERO),
            },
            "canTrade": True,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": self.market_now_ms(),
            "accountType": "SPOT",
            "balances": rows,
            "permissions": ["SPOT"],
            "uid": 354937868,
        }

    async def _h_new_order(self, params: Params) -> Any:
        order, resp_type = self._place_order(params, dry_run=False)
        assert order is not None
        return order.to_new_order(resp_type)

    async def _h_test_order(self, params: Params) -> Any:
        self._place_order(params, dry_run=True)
        return {}

    async def _h_get_order(self, params: Params) -> Any:
        order = self._lookup(params)
        if order is None:
            raise BinanceError(-2013, "Order does not exist.")
        return order.to_query()

    async def _h_cancel_order(self, params: Params) -> Any:
        order = self._lookup(params)
        if order is None or not order.is_open:
            raise BinanceError(-2011, "Unknown order sent.")
        cancel_id = params.get("newClientOrderId") or _gen_client_id()
        self._release(order)
        order.status = "CANCELED"
        order.update_time = self.market_now_ms()
        out = order.to_result()
        out.pop("workingTime", None)
        out.update(
            {
                "origClientOrderId": order.client_order_id,
                "clientOrderId": cancel_id,
                "transactTime": order.update_time,
            }
        )
        return out

    async def _h_open_orders(self, params: Params) -> Any:
        symbol = self._symbol(params) if "symbol" in params else None
        return [o.to_query() for o in self.open_orders(symbol)]

    async def _h_all_orders(self, params: Params) -> Any:
        symbol = self._symbol(params)
        rows = [o for o in self.orders.values() if o.symbol == symbol]
        return [
            o.to_query() for o in _page(rows, params, id_key="orderId", id_of=lambda o: o.order_id)
        ]

    async def _h_my_trades(self, params: Params) -> Any:
        symbol = self._symbol(params)
        rows = [t for t in self.trades if t.symbol == symbol]
        if "orderId" in params:
            order_id = _int_param(params, "orderId")
            rows = [t for t in rows if t.order_id == order_id]
        return [
            t.to_my_trade()
            for t in _page(rows, params, id_key="fromId", id_of=lambda t: t.trade_id)
        ]

    # ------------------------------------------------------------------ trading engine

    def _place_order(self, params: Params, *, dry_run: bool) -> tuple[Order | None, str]:
        symbol = self._symbol(params)
        spec = self.markets[symbol]
        side = params.get("side")
        if not side:
            raise mandatory("side")
        if side not in ("BUY", "SELL"):
            raise BinanceError(-1117, "Invalid side.")
        otype = params.get("type")
        if not otype:
            raise mandatory("type")
        if otype not in spec.order_types:
            raise BinanceError(-1116, "Invalid orderType.")
        resp_type = params.get("newOrderRespType", "FULL")
        if resp_type not in ("ACK", "RESULT", "FULL"):
            raise bad_value("newOrderRespType")
        client_id = params.get("newClientOrderId") or _gen_client_id()
        if not CLIENT_ID_RE.match(client_id):
            raise BinanceError(
                -1100,
                "Illegal characters found in parameter 'newClientOrderId'; legal range is "
                "'^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
            )
        tif = params.get("timeInForce")
        ref = self.market_fill_price(symbol, side)

        if otype == "MARKET":
            for name in ("timeInForce", "price"):
                if name in params:
                    raise _not_required(name)
            has_qty, has_quote = "quantity" in params, "quoteOrderQty" in params
            if not has_qty and not has_quote:
                raise BinanceError(
                    -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty!"
                )
            if has_qty and has_quote:
                raise _not_required("quoteOrderQty")
            quote_qty = ZERO
            if has_quote:
                quote_qty = _dec_param(params, "quoteOrderQty")
                qty = floor_to_step(quote_qty / ref, spec.step_size)
            else:
                qty = _dec_param(params, "quantity")
            self._check_lot(spec, qty)
            if qty * ref < spec.min_notional:
                raise BinanceError(-1013, "Filter failure: NOTIONAL")
            price, marketable, tif = ZERO, True, "GTC"
            self._check_funds(spec, side, qty, ref, self.taker_rate)
        else:  # LIMIT / LIMIT_MAKER
            if otype == "LIMIT":
                if not tif:
                    raise mandatory("timeInForce")
                if tif not in ("GTC", "IOC", "FOK"):
                    raise BinanceError(-1115, "Invalid timeInForce.")
            elif tif:
                raise _not_required("timeInForce")
            else:
                tif = "GTC"
            if "quoteOrderQty" in params:
                raise _not_required("quoteOrderQty")
            price = _dec_param(params, "price")
            qty = _dec_param(params, "quantity")
            if (
                price < spec.min_price
                or price > spec.max_price
                or not is_multiple(price, spec.tick_size)
            ):
                raise BinanceError(-1013, "Filter failure: PRICE_FILTER")
            self._check_lot(spec, qty)
            if price * qty < spec.min_notional:
                raise BinanceError(-1013, "Filter failure: NOTIONAL")
            if price * qty > spec.max_notional:
                raise BinanceError(-1013, "Filter failure: NOTIONAL")
            marketable = price >= ref if side == "BUY" else price <= ref
            if otype == "LIMIT_MAKER" and marketable:
                raise BinanceError(-2010, "Order would immediately match and take.")
            rate = self.taker_rate if marketable else self.maker_rate
            self._check_funds(spec, side, qty, price, rate)
            quote_qty = ZERO

        if self._duplicate(client_id):
            raise BinanceError(-2010, "Duplicate order sent.")
        if dry_run:
            return None, resp_type

        now = self.market_now_ms()
        order = Order(
            order_id=next(self._order_ids),
            client_order_id=client_id,
            symbol=symbol,
            side=side,
            type=otype,
            time_in_force=tif,
            price=price,
            orig_qty=qty,
            time=now,
            update_time=now,
            orig_quote_order_qty=quote_qty,
        )
        self.orders[order.order_id] = order
        if marketable:
            for part in _split(qty, self.market_fill_parts, spec.step_size):
                self._execute(order, ref, now, is_maker=False, qty=part)
        elif tif in ("IOC", "FOK"):
            order.status = "EXPIRED"
        else:
            self._reserve(order)
        return order, resp_type

    def _check_lot(self, spec: MarketSpec, qty: Decimal) -> None:
        if qty < spec.min_qty or qty > spec.max_qty or not is_multiple(qty, spec.step_size):
            raise BinanceError(-1013, "Filter failure: LOT_SIZE")

    def _quote_fee_on_buy(self) -> bool:
        return self.fee_mode == "quote"

    def _check_funds(
        self, spec: MarketSpec, side: str, qty: Decimal, price: Decimal, rate: Decimal
    ) -> None:
        if side == "BUY":
            need = price * qty * (1 + rate) if self._quote_fee_on_buy() else price * qty
            ok = self.balance(spec.quote).free >= need
        else:
            ok = self.balance(spec.base).free >= qty
        if not ok:
            raise BinanceError(-2010, "Account has insufficient balance for requested action.")

    def _duplicate(self, client_id: str) -> bool:
        for order in self.orders.values():
            if order.client_order_id == client_id and (
                self.duplicate_client_order_id == "any" or order.is_open
            ):
                return True
        return False

    def _reservation(self, order: Order, qty: Decimal) -> tuple[str, Decimal]:
        """What a resting order of ``qty`` locks: quote (plus its maximum commission when
        fees are in quote) for a BUY, base for a SELL."""
        spec = self.markets[order.symbol]
        if order.side == "SELL":
            return spec.base, qty
        amount = order.price * qty
        if self._quote_fee_on_buy():
            amount += _round_fee(amount * self.maker_rate)
        return spec.quote, amount

    def _reserve(self, order: Order) -> None:
        asset, amount = self._reservation(order, order.orig_qty)
        bal = self.balance(asset)
        bal.free -= amount
        bal.locked += amount
        order.reserved_asset, order.reserved = asset, amount

    def _release(self, order: Order, keep: Decimal = ZERO) -> None:
        """Unlock the reservation down to ``keep`` (all of it by default)."""
        if order.reserved:
            part = order.reserved - keep
            bal = self.balance(order.reserved_asset)
            bal.locked -= part
            bal.free += part
            order.reserved = keep

    def _commission(
        self, spec: MarketSpec, side: str, qty: Decimal, notional: Decimal, rate: Decimal
    ) -> tuple[Decimal, str]:
        """Commission and its asset for one trade, by ``fee_mode``."""
        if self.fee_mode == "bnb":
            bnb_price = self.last_price("BNBUSDT") if "BNBUSDT" in self.markets else ZERO
            if bnb_price > 0:
                in_quote = notional * rate * (1 - self.bnb_discount)
                commission = _round_fee(in_quote / bnb_price)
                if self.balance("BNB").free >= commission:
                    return commission, "BNB"
        if side == "BUY" and self.fee_mode != "quote":
            return _round_fee(qty * rate), spec.base
        return _round_fee(notional * rate), spec.quote

    def _execute(
        self,
        order: Order,
        price: Decimal,
        ts: int,
        *,
        is_maker: bool,
        qty: Decimal | None = None,
    ) -> None:
        """Fill ``qty`` (default: all that remains) of ``order`` at ``price``."""
        spec = self.markets[order.symbol]
        remaining = order.orig_qty - order.executed_qty
        qty = remaining if qty is None else min(qty, remaining)
        notional = price * qty
        rate = self.maker_rate if is_maker else self.taker_rate
        commission, fee_asset = self._commission(spec, order.side, qty, notional, rate)
        if order.reserved:
            self._release(order, keep=self._reservation(order, remaining - qty)[1])
        base, quote = self.balance(spec.base), self.balance(spec.quote)
        if order.side == "BUY":
            quote.free -= notional
            base.free += qty
        else:
            base.free -= qty
            quote.free += notional
        self.balance(fee_asset).free -= commission

        fill = Fill(
            trade_id=next(self._trade_ids),
            order_id=order.order_id,
            symbol=order.symbol,
            side=order.side,
            price=price,
            qty=qty,
            commission=commission,
            commission_asset=fee_asset,
            time=ts,
            is_maker=is_maker,
        )
        order.fills.append(fill)
        self.trades.append(fill)
        order.executed_qty += qty
        order.cummulative_quote_qty += notional
        order.status = "FILLED" if order.executed_qty >= order.orig_qty else "PARTIALLY_FILLED"
        order.update_time = ts

    def _match_closed_candles(self, old: int, new: int) -> list[Order]:
        """Fill resting LIMIT orders against candles that closed in ``(old, new]``."""
        events: list[tuple[int, str, Candle, int]] = []
        for symbol in {o.symbol for o in self.open_orders()}:
            key = self._finest(symbol)
            if key is None:
                continue
            dur = INTERVAL_MS[key[1]]
            stamps = self._kline_ts[key]
            lo = bisect.bisect_right(stamps, old - dur)
            hi = bisect.bisect_right(stamps, new - dur)
            events.extend((c.ts + dur, symbol, c, dur) for c in self._klines[key][lo:hi])
        filled: list[Order] = []
        for close_ts, symbol, candle, dur in sorted(events, key=lambda e: (e[0], e[1])):
            for order in self.open_orders(symbol):
                if order.type not in ("LIMIT", "LIMIT_MAKER") or order.time >= close_ts:
                    continue
                if order.side == "BUY" and candle.low <= order.price:
                    gapped = candle.open <= order.price
                    price = candle.open if gapped else order.price
                elif order.side == "SELL" and candle.high >= order.price:
                    gapped = candle.open >= order.price
                    price = candle.open if gapped else order.price
                else:
                    continue
                when = max(order.time, candle.ts if gapped else candle.ts + dur - 1)
                qty = self._liquidity(order, candle)
                if qty > 0:
                    self._execute(order, price, when, is_maker=True, qty=qty)
                    filled.append(order)
        return filled

    def _liquidity(self, order: Order, candle: Candle) -> Decimal:
        """How much of a resting order one candle can fill (``limit_fill_ratio``)."""
        remaining = order.orig_qty - order.executed_qty
        if self.limit_fill_ratio is None:
            return remaining
        step = self.markets[order.symbol].step_size
        return min(remaining, floor_to_step(candle.volume * self.limit_fill_ratio, step))

    # ------------------------------------------------------------------ param helpers

    def _symbol(self, params: Params) -> str:
        symbol = params.get("symbol")
        if not symbol:
            raise mandatory("symbol")
        if symbol not in self.markets:
            raise BinanceError(-1121, "Invalid symbol.")
        return symbol

    def _symbols_param(self, params: Params) -> list[str]:
        if "symbol" in params:
            if "symbols" in params:
                raise BinanceError(-1128, "Combination of optional parameters invalid.")
            return [self._symbol(params)]
        if "symbols" in params:
            try:
                wanted = json.loads(params["symbols"])
            except ValueError:
                raise bad_value("symbols") from None
            if not isinstance(wanted, list) or not wanted:
                raise bad_value("symbols")
            for s in wanted:
                if s not in self.markets:
                    raise BinanceError(-1121, "Invalid symbol.")
            return [str(s) for s in wanted]
        return list(self.markets)

    def _lookup(self, params: Params) -> Order | None:
        symbol = self._symbol(params)
        if "orderId" not in params and "origClientOrderId" not in params:
            raise BinanceError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        if "orderId" in params:
            order = self.orders.get(_int_param(params, "orderId"))
            cid = params.get("origClientOrderId")
            if order is not None and cid is not None and order.client_order_id != cid:
                return None
        else:
            order = None
            for candidate in reversed(self.orders.values()):
                if (
                    candidate.symbol == symbol
                    and candidate.client_order_id == params["origClientOrderId"]
                ):
                    order = candidate
                    break
        if order is None or order.symbol != symbol:
            return None
        return order


# ---------------------------------------------------------------------- module helpers


def _norm_symbol(symbol: str) -> str:
    return symbol.replace("/", "").upper()


def _norm_path(path: str) -> str:
    return path if path.startswith("/") else "/api/v3/" + path


def _text(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


def _strip_signature(raw: str) -> str:
    if not raw:
        return ""
    return "&".join(p for p in raw.split("&") if not p.startswith("signature="))


def _gen_client_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(22))


def _not_required(name: str) -> BinanceError:
    return BinanceError(-1106, f"Parameter '{name}' sent when not required.")


def _int_param(params: Params, name: str) -> int:
    raw = params.get(name, "")
    if not raw:
        raise mandatory(name)
    try:
        return int(raw)
    except ValueError:
        raise BinanceError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
        ) from None


def _dec_param(params: Params, name: str) -> Decimal:
    raw = params.get(name, "")
    if not raw:
        raise mandatory(name)
    if not NUMBER_RE.match(raw):
        raise BinanceError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is "
            "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
        )
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise bad_value(name) from None
    if value <= 0:
        raise bad_value(name)
    return value


def _split(qty: Decimal, parts: int, step: Decimal) -> list[Decimal]:
    """``qty`` in up to ``parts`` pieces on the lot step (the last takes the rest)."""
    piece = floor_to_step(qty / parts, step) if parts > 1 else qty
    if piece <= 0:
        return [qty]
    pieces = [piece] * (parts - 1)
    return [*pieces, qty - piece * (parts - 1)]


def _to_step(value: Decimal, step: Decimal) -> Decimal:
    """``value`` rounded to a multiple of ``step`` (half up)."""
    if step <= 0:
        return value
    return (value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step


def _round_fee(value: Decimal) -> Decimal:
    return value.quantize(EIGHT, rounding=ROUND_HALF_UP)


def _kline_row(c: Candle, dur: int) -> list[Any]:
    quote_volume = c.volume * c.close
    return [
        c.ts,
        fmt(c.open),
        fmt(c.high),
        fmt(c.low),
        fmt(c.close),
        fmt(c.volume),
        c.ts + dur - 1,
        fmt(quote_volume),
        0,
        fmt(c.volume / 2),
        fmt(quote_volume / 2),
        "0",
    ]


def _aggregate(rows: list[Candle], interval: str) -> list[Candle]:
    out: list[Candle] = []
    for c in rows:
        start = interval_start(c.ts, interval)
        if out and out[-1].ts == start:
            p = out[-1]
            out[-1] = Candle(
                start,
                p.open,
                max(p.high, c.high),
                min(p.low, c.low),
                c.close,
                p.volume + c.volume,
            )
        else:
            out.append(Candle(start, c.open, c.high, c.low, c.close, c.volume))
    return out


def _page(
    rows: list[Any], params: Params, *, id_key: str, id_of: Callable[[Any], int]
) -> list[Any]:
    """Binance paging: ``id_key`` / startTime select the oldest first, else the newest."""
    limit = _int_param(params, "limit") if "limit" in params else 500
    if not 1 <= limit <= 1000:
        raise bad_value("limit")
    start = _int_param(params, "startTime") if "startTime" in params else None
    end = _int_param(params, "endTime") if "endTime" in params else None
    if id_key in params:
        from_id = _int_param(params, id_key)
        rows = [r for r in rows if id_of(r) >= from_id]
    rows = [
        r for r in rows if (start is None or r.time >= start) and (end is None or r.time <= end)
    ]
    if id_key in params or start is not None:
        return rows[:limit]
    return rows[-limit:]
