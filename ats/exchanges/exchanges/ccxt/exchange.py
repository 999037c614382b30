"""ccxt (live): real spot market/limit orders on a real exchange, through ccxt.

Why it can be trusted with money:

- Orders keep the synchronous contract of :class:`BaseExchange`: ``submit_order`` rounds
  to the market's precision, checks its minimums and returns an *open* order at once; a
  background task sends it with our client order id (which is also the order's id here).
- Placement is idempotent: after a transient error or a lost response the order is
  looked up by client order id before anything is resent. It is only sent again once the
  exchange provably cannot still accept the earlier request (the request's ``recvWindow``
  has passed, see ``order_grace_ms``) and does not know the order; never blindly.
- Before each candle reaches the strategy, in-flight requests settle, open orders are
  synced by client order id and balances are mirrored from ``fetch_balance`` (the job
  config's balances are ignored: the account is the truth).
- Fills come from the exchange's own trades (``fetch_order_trades``): price, fee, fee
  currency and the maker/taker flag exactly as the exchange booked them.
- :meth:`snapshot` / :meth:`restore` keep orders (with client ids and send state), fills,
  the last candle and the feed position; :meth:`connect` after a restore runs
  :meth:`reconcile`, which adopts what really happened while the job was down.
- Credentials only ever come from environment settings named in the params (see
  :mod:`.credentials`); literal keys in a config are refused.

Params: those of :class:`CcxtFeed` (``exchange``, ``timeframe``, ``urls``, ``options``,
``timeout_ms``, ``backoff_seconds``/``backoff_max``, ...), plus

- ``api_key_env`` / ``secret_env`` (default ``<EXCHANGE>_API_KEY`` / ``<EXCHANGE>_SECRET``),
  ``password_env`` for exchanges that need a passphrase;
- ``client_id_prefix`` (default ``ats``); ``enable_rate_limit`` (default true): ccxt's
  client-side throttle, for the private client and the feed's (tests turn it off);
- ``order_grace_ms``: how long after a send attempt the exchange may still accept it;
  default the client's ``recvWindow`` option (10 s on Binance) plus 1 s of clock margin;
- ``order_retry_seconds`` (default 60): how long a failing placement is retried before
  the order is given up (only once the exchange confirms it does not have it);
- ``sync_max_failures`` (default 5): transient failures in a row before the pre-candle
  sync goes on with the last known view; ``connect_max_failures`` (default 20);
- ``disconnect_grace_seconds`` (default 10): how long a stop waits for requests in flight
  (the rest are settled by :meth:`reconcile` at the next connect).

Stop orders are not supported live yet and are rejected with that reason.

This module is kept as one piece on purpose (it is over 600 lines): sending, looking up
after a lost response, adopting, filling, cancelling and reconciling all read and change
the same book (``orders``, ``tracking``, ``fills``, balances) between await points, and
the rules above hold only across all of them together. Split into mixins, each part
would still reach into that shared state, and the invariants would be harder to see.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any, TypeVar

from ats.exceptions import ConfigError
from ats.exchanges.base_exchange import BaseExchange, LogFunction
from ats.exchanges.base_fees import BaseFees
from ats.exchanges.ccxt_support import (
    Backoff,
    http_status,
    is_retryable,
    is_spot,
    make_client,
    retry_transient,
    short_error,
)
from ats.exchanges.data_classes import (
    Balance,
    Candle,
    Fill,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    Progress,
    Trade,
    split_symbol,
)
from ats.exchanges.exchanges.ccxt.credentials import (
    env_names,
    load_credentials,
    reject_literal_credentials,
)
from ats.exchanges.exchanges.ccxt.tracking import (
    Tracking,
    client_id_of,
    fill_from_trade,
    filled_of,
    status_of,
)
from ats.exchanges.feeds.ccxt_feed import CcxtFeed
from ats.exchanges.lazy_ccxt import ccxt, load_ccxt
from ats.exchanges.market_rules import MarketRules
from ats.exchanges.rate_limit import AccountLimiter, limiter_of
from ats.exchanges.run_control import RunControl
from ats.exchanges.trade_ledger import TradeLedger
from ats.utils.redaction import redact

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]

SNAPSHOT_VERSION = 1
CLOCK_MARGIN_MS = 1_000
"""Added to recvWindow: our clock and the exchange's may disagree by this much."""
DEFAULT_RECV_WINDOW_MS = 10_000
MAX_CLIENT_ID = 36
_EPSILON = 1e-12


def now_ms() -> int:
    return int(time.time() * 1000)


def _number(config: dict[str, Any], key: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"exchange.params.{key} must be a number >= 0, got {value!r}")
    return float(value)


class Exchange(BaseExchange):
    name = "ccxt"
    mode = "live"

    def __init__(
        self,
        *,
        symbol: str,
        fees: BaseFees,
        balances: dict[str, float],
        config: dict[str, Any],
        log: LogFunction | None = None,
    ) -> None:
        super().__init__(symbol=symbol, fees=fees, balances=balances, config=config, log=log)
        split_symbol(symbol)
        self.exchange_id = str(config.get("exchange", "binance"))
        reject_literal_credentials(config, self.exchange_id)
        self.feed = CcxtFeed(symbol, config, log=self.log)
        self.refuse_orders_on_history(self.feed)
        self.client: Any = None
        self.limiter: AccountLimiter | None = None
        self.timeframe_ms: int = 60_000
        self.orders: dict[str, Order] = {}
        self.tracking: dict[str, Tracking] = {}
        self.fills: list[Fill] = []
        self.ledger = TradeLedger()
        self.balances: dict[str, Balance] = {}
        self.candle = None
        self.first_close = None
        self.handled = 0
        """Candles handed to the strategy (tests and progress use it)."""
        self.order_retry_seconds = _number(config, "order_retry_seconds", 60.0)
        self.sync_max_failures = int(_number(config, "sync_max_failures", 5)) or 1
        self.connect_max_failures = int(_number(config, "connect_max_failures", 20)) or 1
        self.disconnect_grace = _number(config, "disconnect_grace_seconds", 10.0)
        self._grace_param = config.get("order_grace_ms")
        if self._grace_param is not None:
            _number(config, "order_grace_ms", 0)
        prefix = str(config.get("client_id_prefix", "ats"))
        self._id_prefix = f"{prefix}-{uuid.uuid4().hex[:8]}-"
        self._prefixes = [self._id_prefix]
        """Our client id prefixes, this session's and restored ones (to adopt orphans)."""
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._placing: dict[str, asyncio.Task[None]] = {}
        self._created_ms = now_ms()

    # -- lifecycle -----------------------------------------------------------------------
    async def connect(self) -> None:
        """Private client from env credentials, markets, reconcile a restored book, balances,
        then the feed. An API key the exchange refuses is a ConfigError (no traceback)."""
        credentials = load_credentials(self.config, self.exchange_id)
        if self.client is None:
            await load_ccxt()
            self.client = make_client(
                self.exchange_id,
                timeout_ms=self.feed.timeout_ms,
                options=self.feed.options,
                urls=self.feed.urls,
                credentials=credentials,
                enable_rate_limit=self.feed.enable_rate_limit,
                sandbox=self.feed.sandbox,
                spot=is_spot(self.symbol),
            )
            self.limiter = limiter_of(self.client)
            if self.limiter is not None:
                self.limiter.watch(self.log)
        if self.initial_balances:
            self.log(
                "INFO",
                "live: balances are mirrored from the exchange account (fetch_balance); "
                "the job config's balances are ignored",
            )
        try:
            limit = self.connect_max_failures
            await self._call("load markets", self.client.load_markets, limit)
            self.market_rules = self.ledger.rules = MarketRules.from_ccxt_market(
                self.client.market(self.symbol), self.client.precisionMode
            )
            if self.orders:  # restored, or started again after a stop
                await self.reconcile()
            else:
                await self._sync_balances(limit)
        except (ccxt.AuthenticationError, ccxt.PermissionDenied) as exc:
            key_env, secret_env, _ = env_names(self.config, self.exchange_id)
            raise ConfigError(
                f"the exchange refused the API key from {key_env}/{secret_env}: "
                f"{type(exc).__name__}: {redact(short_error(exc))}"
            ) from None
        await self.feed.open()
        self.timeframe_ms = self.feed.timeframe_ms

    async def disconnect(self, *, grace: float | None = None) -> None:
        """Let requests in flight finish for ``grace`` seconds, then cancel them: what they
        did is found out by :meth:`reconcile` at the next connect. ``grace=0`` is how a
        test simulates a crash."""
        wait = self.disconnect_grace if grace is None else grace
        pending = set(self._tasks)
        if pending and wait > 0:
            _, pending = await asyncio.wait(pending, timeout=wait)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
            self.log(
                "WARNING",
                f"{len(pending)} request(s) unresolved at shutdown; "
                "the next connect reconciles them with the exchange",
            )
        client, self.client = self.client, None
        if self.limiter is not None:
            self.limiter.unwatch(self.log)
            self.limiter = None
        closing = [self.feed.close()] + ([client.close()] if client is not None else [])
        await asyncio.gather(*closing)  # each may linger a moment for TLS teardown

    async def run(self, control: RunControl) -> None:
        while (candle := await self.feed.next_candle(control)) is not None:
            await self.sync(control)
            self._take_candle(candle)
            if self.on_candle is not None:
                self.on_candle(candle)
            self.handled += 1

    def _take_candle(self, candle: Candle) -> None:
        self.candle = candle
        if self.first_close is None:
            self.first_close = candle.close
        self.ledger.mark(candle.symbol, candle.close)
        now = candle.timestamp + self.timeframe_ms
        for order in self.get_open_orders():
            if order.expires_at is not None and now >= order.expires_at:
                self._spawn(self._cancel(order, "expired"))

    @property
    def connection_state(self) -> str | None:
        """E.g. "banned until 12:03:00" while the exchange bans or rate-limits this IP."""
        return self.feed.connection_state

    @property
    def pending_requests(self) -> int:
        """Order requests (placements, cancels) still running in the background."""
        return len(self._tasks)

    # -- syncing -------------------------------------------------------------------------
    async def sync(self, control: RunControl | None = None) -> None:
        """Before a candle: let in-flight requests settle, then refresh open orders and
        balances. After ``sync_max_failures`` transient failures it goes on with the last
        known view (and says so) rather than stall the strategy."""
        await self._settle(control)
        sleep = control.sleep if control is not None else asyncio.sleep
        try:
            for order in self.get_open_orders():
                await self._refresh(order, sleep)
            await self._sync_balances(self.sync_max_failures, sleep)
        except ccxt.OperationFailed as exc:
            self.log(
                "WARNING",
                f"sync failed ({type(exc).__name__}: {short_error(exc)}); "
                "going on with the last known orders and balances",
            )

    async def _settle(self, control: RunControl | None) -> None:
        """Wait (stop-aware) until no order request is in flight."""
        while self._tasks:
            await asyncio.wait(set(self._tasks), timeout=0.05)
            if control is not None:
                await control.checkpoint()

    async def _refresh(self, order: Order, sleep: Sleep) -> None:
        info = await self._lookup(order, self.sync_max_failures, sleep)
        if info is not None:
            await self._adopt(order, info)
            return
        track = self.tracking[order.id]
        if track.confirmed:
            self._finish(order, OrderStatus.CANCELED, "no longer known to the exchange")
        elif now_ms() >= self._safe_after_ms(track):
            self._finish(order, OrderStatus.REJECTED, "never reached the exchange")

    async def _sync_balances(
        self, max_failures: int | None = None, sleep: Sleep | None = None
    ) -> None:
        raw = await self._call("fetch balance", self.client.fetch_balance, max_failures, sleep)
        free, used = raw.get("free") or {}, raw.get("used") or {}
        balances = {
            asset: Balance(asset, float(free.get(asset) or 0.0), float(used.get(asset) or 0.0))
            for asset in sorted({*free, *used})
        }
        if balances != self.balances:
            self.balances = balances
            self._balances_changed()  # the journal follows the account, holds included

    async def _refresh_balances(self) -> None:
        """After a placement, fill or cancel, so the strategy does not size from stale
        balances (and the journal and snapshots show the exchange's holds)."""
        try:
            await self._sync_balances(self.sync_max_failures)
        except ccxt.OperationFailed as exc:  # the sync before the next candle retries
            self.log("WARNING", f"balance refresh failed: {type(exc).__name__}: {short_error(exc)}")

    async def _call(
        self,
        what: str,
        call: Callable[[], Awaitable[T]],
        max_failures: int | None = None,
        sleep: Sleep | None = None,
    ) -> T:
        """A safe-to-repeat request, retried on transient errors with backoff (logged);
        never sent inside a Retry-After window or ban."""
        return await retry_transient(
            call,
            what=what,
            backoff=Backoff(self.feed.backoff_seconds, self.feed.backoff_max),
            sleep=sleep or asyncio.sleep,
            log=self.log,
            max_failures=max_failures,
            limiter=self.limiter,
            resync_clock=self._resync_clock,
        )

    async def _resync_clock(self) -> None:
        """Compare clocks with the exchange again: ccxt signs with the difference it
        measured at ``load_markets`` (``adjustForTimeDifference``), which drifts."""
        if not (self.client.options or {}).get("adjustForTimeDifference"):
            return
        try:
            difference = await self.client.load_time_difference()
        except ccxt.BaseError as exc:
            self.log("WARNING", f"could not read the exchange's clock: {type(exc).__name__}")
            return
        self.log(
            "INFO", f"the exchange refused our timestamp; its clock is {-difference} ms from ours"
        )

    # -- orders --------------------------------------------------------------------------
    def _submit_order(
        self,
        symbol: str,
        side: OrderSide | str,
        type: OrderType | str,
        amount: float,
        price: float | None = None,
        *,
        stop_price: float | None = None,
        quote_amount: float | None = None,
        client_order_id: str | None = None,
        expires_at: int | None = None,
    ) -> Order:
        if symbol != self.symbol:
            raise ValueError(f"this exchange trades {self.symbol}, not {symbol}")
        side, type = OrderSide(side), OrderType(type)
        cid = client_order_id or f"{self._id_prefix}{next(self._ids)}"
        if cid in self.orders:
            raise ValueError(f"client order id {cid!r} was already used")
        order = Order(cid, cid, symbol, side, type, amount, price, stop_price, quote_amount)
        order.timestamp = order.last_update = self._now()
        order.expires_at = expires_at
        self.orders[cid] = order
        self.tracking[cid] = Tracking()
        request, reason = self._request(order)
        if request is None:
            self._finish(order, OrderStatus.REJECTED, reason)
            return order
        self._notify(order)
        self._placing[cid] = self._spawn(self._place(order, request))
        return order

    def _now(self) -> int:
        """Order time: the close of the candle the strategy is handling."""
        return self.candle.timestamp + self.timeframe_ms if self.candle else now_ms()

    def _request(self, order: Order) -> tuple[dict[str, Any] | None, str]:
        """ccxt create_order arguments rounded to the market, or None and why not."""
        if order.type not in (OrderType.MARKET, OrderType.LIMIT):
            return None, f"{order.type} orders are not supported live yet"
        if len(order.client_order_id) > MAX_CLIENT_ID:
            return None, f"client order id longer than {MAX_CLIENT_ID} characters"
        try:
            return self._rounded_request(order)
        except ccxt.BaseError as exc:
            return None, f"{type(exc).__name__}: {short_error(exc)}"

    def _rounded_request(self, order: Order) -> tuple[dict[str, Any] | None, str]:
        """Rounded and checked by the market's rules, as the simulated exchanges do: an
        order the exchange would refuse for a filter is never sent."""
        rules = self.market_rules
        params: dict[str, Any] = {"clientOrderId": order.client_order_id}
        price = None
        if order.type is OrderType.LIMIT:
            if order.price is None:
                return None, "a limit order needs a price"
            price = order.price = rules.round_price(order.price, order.side)
        reference = self.last_price(order.symbol) or 0.0
        if order.quote_amount is not None and order.side is OrderSide.BUY:
            # quote_amount includes fees; the exchange charges them on top of the cost
            cost = rules.budget_cost(order.quote_amount, self.fees.budget_rate())
            refused = rules.check(order.type, 0.0, None, reference, cost=cost)
            params["cost"] = cost
            amount = 0.0
        else:
            amount = order.amount = rules.round_amount(order.amount)
            refused = rules.check(order.type, amount, price, reference)
        if refused is not None:
            return None, refused
        request = {
            "type": str(order.type),
            "side": str(order.side),
            "amount": amount,
            "price": price,
            "params": params,
        }
        return request, ""

    async def _place(self, order: Order, request: dict[str, Any]) -> None:
        """Send until the exchange has the order or definitely refused it. Every retry is
        preceded by a look-up by client order id, so it is never placed twice."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.order_retry_seconds
        backoff = Backoff(self.feed.backoff_seconds, self.feed.backoff_max)
        try:
            while True:
                refused = await self._send_once(order, request)
                if refused is None or await self._found_after_failure(order, refused):
                    return
                track = self.tracking[order.id]
                if loop.time() >= deadline:
                    reason = f"never reached the exchange ({track.send_attempts} attempts)"
                    self._finish(order, OrderStatus.REJECTED, reason)
                    return
                await asyncio.sleep(backoff.next_delay())
                self.log("INFO", f"order {order.id}: not on the exchange; sending it again")
        finally:
            self._placing.pop(order.id, None)

    async def _send_once(self, order: Order, request: dict[str, Any]) -> bool | None:
        """One create_order. None: settled (adopted or rejected). Otherwise the outcome is
        unknown (a timeout, a 5xx, Binance's -1007 "execution status unknown": the order
        is then looked up by client order id, never blindly resent); True if the exchange
        certainly refused the request (rate limit)."""
        if self.limiter is not None:
            await self.limiter.wait()  # never into a Retry-After window or a ban
        track = self.tracking[order.id]
        track.sending, track.send_attempts = True, track.send_attempts + 1
        try:
            info = await self.client.create_order(order.symbol, **request)
        except ccxt.OperationFailed as exc:
            if not is_retryable(exc):
                self._reject(order, exc)
                return None
            self._log_send_failure(order, exc)
            if isinstance(exc, ccxt.InvalidNonce):  # refused for its timestamp
                await self._resync_clock()
            return isinstance(exc, ccxt.DDoSProtection | ccxt.InvalidNonce)
        except ccxt.InvalidOrder as exc:
            if "duplicate" not in str(exc).lower():
                self._finish(
                    order, OrderStatus.REJECTED, f"{type(exc).__name__}: {short_error(exc)}"
                )
                return None
            self._log_send_failure(order, exc)  # an earlier attempt of ours is open there
            return False
        except ccxt.BaseError as exc:
            self._reject(order, exc)
            return None
        finally:
            track.sending, track.last_send_ms = False, now_ms()
        if track.send_attempts > 1:
            attempts = track.send_attempts
            self.log("INFO", f"order {order.id}: accepted on attempt {attempts}; recovered")
        await self._adopt(order, info)
        return None

    def _reject(self, order: Order, exc: Exception) -> None:
        self._finish(order, OrderStatus.REJECTED, f"{type(exc).__name__}: {short_error(exc)}")

    def _log_send_failure(self, order: Order, exc: Exception) -> None:
        status = http_status(exc)
        if status in (418, 429) or getattr(exc, "ats_not_sent", False):
            why = f"rate limited (HTTP {status})" if status else "held back by the rate limit"
        else:  # the exchange's own words: timeouts, 5xx, -1007 "execution status unknown"
            why = f"{type(exc).__name__}: {short_error(exc)}"
        self.log(
            "WARNING",
            f"order {order.id}: {why}; looking it up by client order id before any resend",
        )

    async def _found_after_failure(self, order: Order, refused: bool) -> bool:
        """Look the order up; if absent and the request may still be accepted, wait until it
        cannot (recvWindow) and look again. True if found (and adopted)."""
        info = await self._lookup(order)
        if info is None and not refused:
            wait_ms = self._safe_after_ms(self.tracking[order.id]) - now_ms()
            if wait_ms > 0:
                self.log(
                    "INFO",
                    f"order {order.id}: not found yet; checking again in {wait_ms / 1000:.2f}s, "
                    "when the request can no longer arrive",
                )
                await asyncio.sleep(wait_ms / 1000)
                info = await self._lookup(order)
        if info is None:
            return False
        self.log("INFO", f"order {order.id}: found on the exchange by client order id; recovered")
        await self._adopt(order, info)
        return True

    def _grace_ms(self) -> int:
        """How long after a request was signed the exchange may still accept it."""
        if self._grace_param is not None:
            return int(self._grace_param)
        options = getattr(self.client, "options", None) or {}
        recv_window = options.get("recvWindow") or DEFAULT_RECV_WINDOW_MS
        return int(recv_window) + CLOCK_MARGIN_MS

    def _safe_after_ms(self, track: Tracking) -> int:
        """Wall time after which an order the exchange does not know never will be known."""
        if not track.maybe_sent:
            return 0
        # A request in flight when a snapshot was taken was signed before this instance
        # existed (the process that sent it is gone); otherwise before its attempt ended.
        sent = self._created_ms if track.sending else (track.last_send_ms or 0)
        return sent + self._grace_ms()

    async def _lookup(
        self, order: Order, max_failures: int | None = None, sleep: Sleep | None = None
    ) -> dict[str, Any] | None:
        """The exchange's view of ``order`` by client order id, or None if it has none."""
        params = {"clientOrderId": order.client_order_id}
        try:
            info: dict[str, Any] = await self._call(
                f"look up order {order.id}",
                lambda: self.client.fetch_order(None, order.symbol, params=params),
                max_failures,
                sleep,
            )
        except ccxt.OrderNotFound:
            return None
        return info

    def cancel_order(self, order_id: str) -> Order:
        order = self.get_order(order_id)
        if order.is_open:
            self._spawn(self._cancel(order))
        return order

    async def _cancel(self, order: Order, reason: str | None = None) -> None:
        """Cancel by client order id once its placement settled, then adopt the exchange's
        view (a cancel whose response was lost still ends in the right state)."""
        placing = self._placing.get(order.id)
        if placing is not None:
            await asyncio.wait({placing})
        if not order.is_open:
            return
        self.tracking[order.id].cancel_reason = reason
        params = {"clientOrderId": order.client_order_id}
        try:
            await self._call(
                f"cancel order {order.id}",
                lambda: self.client.cancel_order(None, order.symbol, params=params),
                self.sync_max_failures,
            )
        except ccxt.BaseError as exc:  # e.g. already filled: the look-up tells
            self.log("WARNING", f"cancel {order.id}: {type(exc).__name__}: {short_error(exc)}")
        try:
            info = await self._lookup(order, self.sync_max_failures)
        except ccxt.OperationFailed:
            return  # the sync before the next candle looks again
        if info is not None:
            await self._adopt(order, info)

    # -- applying the exchange's view ----------------------------------------------------
    async def _adopt(self, order: Order, info: dict[str, Any]) -> None:
        """Take the exchange's view of ``order``: status, and fills from its trades. The
        order only turns final once every traded quantity has its fill recorded."""
        track = self.tracking[order.id]
        track.exchange_id = str(info.get("id") or track.exchange_id or "") or None
        first_seen, track.confirmed = not track.confirmed, True
        if order.quote_amount is not None and info.get("amount"):
            order.amount = float(info["amount"])
        new_fills: list[Fill] = []
        if filled_of(info) > order.filled + _EPSILON:
            new_fills = await self._new_fills(order)
        complete = order.filled >= filled_of(info) - _EPSILON
        status = status_of(info, order)
        if status.is_final and not complete:
            status = OrderStatus.PARTIALLY_FILLED if order.filled else OrderStatus.OPEN
        if status is OrderStatus.CANCELED and track.cancel_reason == "expired":
            status, order.reason = OrderStatus.EXPIRED, "expired"
        changed = status is not order.status
        # The exchange placed a hold (first seen), settled fills or released what was left.
        if new_fills or first_seen or (changed and status.is_final):
            await self._refresh_balances()
        order.status = status
        order.last_update = int(info.get("lastUpdateTimestamp") or order.last_update)
        if changed or new_fills:
            self._notify(order)
        for fill in new_fills:
            for listener in self.fill_listeners:
                listener(fill, order)

    async def _new_fills(self, order: Order) -> list[Fill]:
        """Record the order's trades not seen yet (fee and maker/taker from the exchange)."""
        track = self.tracking[order.id]
        try:
            trades = await self._call(
                f"fetch trades of order {order.id}",
                lambda: self.client.fetch_order_trades(track.exchange_id, order.symbol),
                self.sync_max_failures,
            )
        except ccxt.OperationFailed as exc:
            self.log("WARNING", f"order {order.id}: fills not fetched yet ({type(exc).__name__})")
            return []
        fills = []
        for trade in sorted(trades, key=lambda t: (t.get("timestamp") or 0, str(t.get("id")))):
            trade_id = str(trade.get("id"))
            if trade_id in track.trade_ids:
                continue
            track.trade_ids.append(trade_id)
            fill = fill_from_trade(order, trade)
            if fill.fee_currency not in split_symbol(order.symbol):
                fill = replace(fill, fee_in_quote=await self._fee_value(fill))
            fills.append(self._record_fill(order, fill))
        return fills

    async def _fee_value(self, fill: Fill) -> float:
        """A fee in a third asset (BNB) valued in quote at the exchange's price now."""
        asset, quote = fill.fee_currency, split_symbol(fill.symbol)[1]
        pair = f"{asset}/{quote}"
        try:
            ticker = await self._call(
                f"price of {pair}", lambda: self.client.fetch_ticker(pair), self.sync_max_failures
            )
            price = float(ticker.get("last") or ticker.get("close") or 0.0)
        except ccxt.BaseError as exc:
            price = 0.0
            self.log("WARNING", f"price of {pair}: {type(exc).__name__}: {short_error(exc)}")
        if price > 0:
            self.asset_prices[asset] = price
        else:
            price = self.asset_prices.get(asset, 0.0)
            self.log(
                "WARNING",
                f"fee of {fill.fee:.8g} {asset} valued at the last known price {price:g}",
            )
        return fill.fee * price

    def _record_fill(self, order: Order, fill: Fill) -> Fill:
        order.filled += fill.amount
        order.cost += fill.cost
        order.fee += fill.fee
        order.fee_currency = fill.fee_currency
        self.fills.append(fill)
        self.ledger.on_fill(fill)
        return fill

    def _finish(self, order: Order, status: OrderStatus, reason: str) -> None:
        order.status, order.reason = status, reason
        if status is OrderStatus.REJECTED:
            self.log("WARNING", f"order {order.id} rejected: {reason}")
        elif status is OrderStatus.CANCELED:
            self.log("WARNING", f"order {order.id} canceled: {reason}")
        self._notify(order)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        """A bug in a request task must not vanish: log it (the next sync looks the order
        up again, so the book still converges on the exchange's truth)."""
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self.log("ERROR", f"order request failed: {type(exc).__name__}: {exc}")

    # -- restart safety ------------------------------------------------------------------
    async def reconcile(self) -> None:
        """Adopt the exchange's truth for a restored book: every order that was open or in
        flight is looked up by client order id; one the exchange does not know is rejected
        ("never reached the exchange") if it was never confirmed, once the exchange can no
        longer accept it. Orders of ours placed after the snapshot are adopted too. Then
        balances."""
        limit = self.connect_max_failures
        for order in self.get_open_orders():
            await self._reconcile_order(order, limit)
        await self._adopt_orphans(limit)
        await self._sync_balances(limit)
        summary = ", ".join(f"{o.id} {o.status}" for o in self.orders.values()) or "none"
        self.log("INFO", f"reconciled with the exchange: orders {summary}")

    async def _reconcile_order(self, order: Order, limit: int) -> None:
        track = self.tracking[order.id]
        info = await self._lookup(order, limit)
        wait_ms = self._safe_after_ms(track) - now_ms()
        if info is None and not track.confirmed and wait_ms > 0:
            await asyncio.sleep(wait_ms / 1000)  # the old process's request may still land
            info = await self._lookup(order, limit)
        # Said per order: after a crash the operator needs to know what became of each one.
        where = f"order {order.id}: {'open' if track.confirmed else 'in flight'} when last saved"
        if info is not None:
            await self._adopt(order, info)
            self.log("INFO", f"{where}; found on the exchange by client order id: {order.status}")
        else:
            self.log("INFO", f"{where}; not on the exchange by client order id")
            if track.confirmed:
                self._finish(order, OrderStatus.CANCELED, "no longer known to the exchange")
            else:
                self._finish(order, OrderStatus.REJECTED, "never reached the exchange")

    async def _adopt_orphans(self, limit: int) -> None:
        """Orders with one of our client id prefixes that the book does not have: placed
        after the last snapshot, before a crash. Adopted so no position goes unseen."""
        if not (self.client.has or {}).get("fetchOrders"):
            return
        since = self.candle.timestamp if self.candle is not None else None
        try:
            infos = await self._call(
                "list recent orders", lambda: self.client.fetch_orders(self.symbol, since), limit
            )
        except ccxt.BaseError as exc:
            self.log("WARNING", f"could not list recent orders: {type(exc).__name__}")
            return
        for info in infos:
            cid = client_id_of(info)
            if cid and cid not in self.orders and cid.startswith(tuple(self._prefixes)):
                order = self._order_from(info, cid)
                self.log("WARNING", f"adopted order {cid} placed after the last snapshot")
                await self._adopt(order, info)

    def _order_from(self, info: dict[str, Any], cid: str) -> Order:
        kind = OrderType.LIMIT if info.get("type") == "limit" else OrderType.MARKET
        price = float(info["price"]) if kind is OrderType.LIMIT and info.get("price") else None
        order = Order(cid, cid, self.symbol, OrderSide(info["side"]), kind, 0.0, price)
        order.amount = float(info.get("amount") or 0.0)
        order.timestamp = order.last_update = int(info.get("timestamp") or 0)
        self.orders[cid] = order
        self.tracking[cid] = Tracking(confirmed=True)
        return order

    def snapshot(self) -> dict[str, Any]:
        """Orders (with client ids and send state), fills, balances seen, the last candle
        and the feed position. No credentials: those live in the environment only."""
        candle = self.candle
        return {
            "version": SNAPSHOT_VERSION,
            "client_id_prefixes": list(self._prefixes),
            "orders": [
                {**order.to_dict(), "tracking": self.tracking[order.id].to_dict()}
                for order in self.orders.values()
            ],
            "fills": [fill.to_dict() for fill in self.fills],
            "balances": {a: [b.free, b.used] for a, b in self.balances.items()},
            "asset_prices": dict(self.asset_prices),
            "market_rules": self.market_rules.to_dict(),
            "candle": None if candle is None else candle.to_row(),
            "first_close": self.first_close,
            "handled": self.handled,
            "feed": self.feed.snapshot(),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Rebuild the book from :meth:`snapshot`; :meth:`connect` then reconciles it."""
        self._prefixes = [self._id_prefix, *data.get("client_id_prefixes", [])]
        self.orders, self.tracking = {}, {}
        for raw in data.get("orders", []):
            values = {key: value for key, value in raw.items() if key != "tracking"}
            order = Order.from_dict(values)
            self.orders[order.id] = order
            self.tracking[order.id] = Tracking.from_dict(raw.get("tracking"))
        self.market_rules = MarketRules.from_config(data.get("market_rules"))
        self.asset_prices = {
            str(asset): float(price) for asset, price in (data.get("asset_prices") or {}).items()
        }
        self.fills, self.ledger = [], TradeLedger(self.market_rules)
        for fill_data in data.get("fills", []):
            fill = Fill.from_dict(fill_data)
            self.fills.append(fill)
            self.ledger.on_fill(fill)
        self.balances = {
            asset: Balance(asset, float(free), float(used))
            for asset, (free, used) in (data.get("balances") or {}).items()
        }
        if data.get("candle"):
            self.candle = Candle.from_row(data["candle"])
            self.ledger.mark(self.symbol, self.candle.close)
        self.first_close = data.get("first_close")
        self.handled = int(data.get("handled") or 0)
        self.feed.restore(data.get("feed") or {})

    # -- queries -------------------------------------------------------------------------
    def get_order(self, order_id: str) -> Order:
        try:
            return self.orders[order_id]
        except KeyError:
            raise KeyError(f"unknown order id {order_id!r}") from None

    def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open and symbol in (None, o.symbol)]

    def get_orders(self) -> list[Order]:
        return list(self.orders.values())

    def get_wallet_balance(self, asset: str) -> Balance:
        return self.balances.get(asset) or Balance(asset)

    def get_balances(self) -> dict[str, Balance]:
        return dict(self.balances)

    def _ledger_position(self, symbol: str) -> Position:
        return self.ledger.position(symbol, self.last_price(symbol))

    def get_trades(self) -> list[Trade]:
        if self.candle is not None:
            self.ledger.mark(self.symbol, self.candle.close)
        return list(self.ledger.trades)

    def get_fills(self) -> list[Fill]:
        return list(self.fills)

    def fill_count(self) -> int:
        return len(self.fills)

    def trade_count(self) -> int:
        return len(self.ledger.trades)

    def trade_slice(self, start: int, stop: int) -> list[Trade]:
        if self.candle is not None:
            self.ledger.mark(self.symbol, self.candle.close)
        return self.ledger.trades[start:stop]

    def fill_slice(self, start: int, stop: int) -> list[Fill]:
        return self.fills[start:stop]

    def last_price(self, symbol: str) -> float | None:
        return self.candle.close if self.candle is not None else None

    @property
    def progress(self) -> Progress:
        progress = self.feed.progress
        progress.timestamp = self.candle.timestamp if self.candle else None
        return progress
