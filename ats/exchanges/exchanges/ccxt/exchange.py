"""ccxt (live): real orders on a real exchange. SKELETON - spot market/limit orders only.

Orders keep the synchronous contract of :class:`BaseExchange`: ``submit_order`` rounds
to the market's precision, checks its minimums, and returns an *open* order at once; a
background task sends it with our client order id, which is also the order's id here,
so a request whose response is lost can be found again instead of being sent twice.
Order status is synced (by client order id) before every candle reaches the strategy.

Params: those of :class:`CcxtFeed` (``exchange``, ``timeframe``, ``urls``, ``options``,
...), plus ``api_key`` / ``secret`` (better: the environment variables named by
``api_key_env`` / ``secret_env``, default ``<EXCHANGE>_API_KEY`` / ``<EXCHANGE>_SECRET``)
and ``client_id_prefix``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from typing import Any

from ats.exceptions import ConfigError
from ats.exchanges.base_exchange import BaseExchange, LogFunction
from ats.exchanges.base_fees import BaseFees
from ats.exchanges.ccxt_support import apply_url_overrides
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
from ats.exchanges.feeds.ccxt_feed import CcxtFeed
from ats.exchanges.run_control import RunControl
from ats.exchanges.trade_ledger import TradeLedger

_STATUS = {
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}
UNCONFIRMED_LIMIT = 3
"""Syncs that must fail to find an order whose send failed before it counts as not sent."""


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
        self.feed = CcxtFeed(symbol, config, log=self.log)
        self.client: Any = None
        self.timeframe_ms = 60_000
        self.orders: dict[str, Order] = {}
        self.fills: list[Fill] = []
        self.ledger = TradeLedger()
        self.balances: dict[str, Balance] = {}
        self.candle: Candle | None = None
        prefix = str(config.get("client_id_prefix", "ats"))
        self._id_prefix = f"{prefix}-{uuid.uuid4().hex[:8]}-"
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._unconfirmed: dict[str, int] = {}
        """Client ids whose send failed in transit -> syncs that did not find them."""

    # -- lifecycle -----------------------------------------------------------------------
    async def connect(self) -> None:
        """Private client with keys, markets (for precision) and balances, then the feed."""
        import ccxt.async_support as ccxt_async

        key_env = str(self.config.get("api_key_env", f"{self.exchange_id.upper()}_API_KEY"))
        secret_env = str(self.config.get("secret_env", f"{self.exchange_id.upper()}_SECRET"))
        api_key = self.config.get("api_key") or os.environ.get(key_env)
        secret = self.config.get("secret") or os.environ.get(secret_env)
        if not api_key or not secret:
            raise ConfigError(f"live trading needs API keys: set {key_env} and {secret_env}")
        exchange_class = getattr(ccxt_async, self.exchange_id, None)
        if exchange_class is None:
            raise ConfigError(f"exchange.params.exchange: ccxt has no {self.exchange_id!r}")
        self.client = exchange_class(
            {
                "apiKey": api_key,
                "secret": secret,
                "enableRateLimit": True,
                "timeout": self.feed.timeout_ms,
                "options": dict(self.config.get("options") or {}),
            }
        )
        apply_url_overrides(self.client, self.config.get("urls"))
        await self.client.load_markets()
        await self._sync_balances()
        await self.feed.open()
        self.timeframe_ms = self.feed.timeframe_ms

    async def disconnect(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        await self.feed.close()
        client, self.client = self.client, None
        if client is not None:
            await client.close()

    async def run(self, control: RunControl) -> None:
        while (candle := await self.feed.next_candle(control)) is not None:
            await self.sync()
            self.candle = candle
            self.ledger.mark(candle.symbol, candle.close)
            if self.on_candle is not None:
                self.on_candle(candle)

    async def sync(self) -> None:
        """Let in-flight requests finish, then refresh open orders and balances."""
        import ccxt.async_support as ccxt_async

        if self._tasks:
            await asyncio.wait(set(self._tasks))
        try:
            for order in [o for o in self.orders.values() if o.is_open]:
                await self._sync_order(order)
            await self._sync_balances()
        except ccxt_async.OperationFailed as exc:  # try again before the next candle
            self.log("WARNING", f"sync failed: {type(exc).__name__}: {exc}")

    async def _sync_order(self, order: Order) -> None:
        import ccxt.async_support as ccxt_async

        try:
            info = await self.client.fetch_order(
                None, order.symbol, params={"origClientOrderId": order.client_order_id}
            )
        except ccxt_async.OrderNotFound:
            if order.client_order_id in self._unconfirmed:
                misses = self._unconfirmed[order.client_order_id] + 1
                self._unconfirmed[order.client_order_id] = misses
                if misses >= UNCONFIRMED_LIMIT:
                    self._finish(order, OrderStatus.REJECTED, "never reached the exchange")
            return
        self._unconfirmed.pop(order.client_order_id, None)
        self._apply(order, info)

    async def _sync_balances(self) -> None:
        raw = await self.client.fetch_balance()
        self.balances = {
            asset: Balance(asset, float(raw["free"].get(asset) or 0.0), float(used or 0.0))
            for asset, used in raw.get("used", {}).items()
        }

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
        now = self.candle.timestamp + self.timeframe_ms if self.candle else 0
        order = Order(cid, cid, symbol, side, type, amount, price, stop_price, quote_amount)
        order.timestamp = order.last_update = now
        self.orders[cid] = order
        request, reason = self._request(order)
        if request is None:
            self._finish(order, OrderStatus.REJECTED, reason)
            return order
        self._notify(order)
        self._spawn(self._place(order, request))
        return order

    def _request(self, order: Order) -> tuple[dict[str, Any] | None, str]:
        """ccxt create_order arguments rounded to the market, or None and why not."""
        import ccxt.async_support as ccxt_async

        if order.type not in (OrderType.MARKET, OrderType.LIMIT):
            return None, f"{order.type} orders are not supported live yet"
        if len(order.client_order_id) > 36:
            return None, "client order id longer than 36 characters"
        client, symbol = self.client, order.symbol
        limits = client.market(symbol).get("limits", {})
        params: dict[str, Any] = {"clientOrderId": order.client_order_id}
        try:
            price = None
            if order.type is OrderType.LIMIT:
                if order.price is None:
                    return None, "a limit order needs a price"
                price = float(client.price_to_precision(symbol, order.price))
            if order.quote_amount is not None and order.side is OrderSide.BUY:
                # quote_amount includes fees; the exchange charges them on top of the cost
                rate = self.fees.rate_for(OrderType.MARKET, OrderSide.BUY)
                params["cost"] = order.quote_amount / (1 + rate)
                amount = 0.0
            else:
                amount = float(client.amount_to_precision(symbol, order.amount))
                order.amount = amount
                minimum = (limits.get("amount") or {}).get("min")
                if minimum and amount < minimum:
                    return None, f"amount {amount} below the minimum {minimum}"
        except ccxt_async.BaseError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        if price is not None:
            order.price = price
        return {"type": str(order.type), "side": str(order.side), "amount": amount,
                "price": price, "params": params}, ""  # fmt: skip

    async def _place(self, order: Order, request: dict[str, Any]) -> None:
        import ccxt.async_support as ccxt_async

        try:
            info = await self.client.create_order(order.symbol, **request)
        except ccxt_async.OperationFailed as exc:  # maybe placed: find it by client id later
            self._unconfirmed[order.client_order_id] = 0
            self.log("WARNING", f"order {order.id}: {type(exc).__name__}; will look it up")
            return
        except ccxt_async.BaseError as exc:
            self._finish(order, OrderStatus.REJECTED, f"{type(exc).__name__}: {exc}")
            return
        self._apply(order, info)
        await self._refresh_balances()

    async def _refresh_balances(self) -> None:
        """After a fill or cancel, so the strategy does not size from stale balances."""
        import ccxt.async_support as ccxt_async

        try:
            await self._sync_balances()
        except ccxt_async.OperationFailed as exc:  # the sync before the next candle retries
            self.log("WARNING", f"balance refresh failed: {type(exc).__name__}: {exc}")

    def cancel_order(self, order_id: str) -> Order:
        order = self.get_order(order_id)
        if order.is_open:
            self._spawn(self._cancel(order))
        return order

    async def _cancel(self, order: Order) -> None:
        import ccxt.async_support as ccxt_async

        try:
            info = await self.client.cancel_order(
                None, order.symbol, params={"origClientOrderId": order.client_order_id}
            )
        except ccxt_async.BaseError as exc:  # the next sync tells what really happened
            self.log("WARNING", f"cancel {order.id}: {type(exc).__name__}: {exc}")
            return
        self._apply(order, info)
        await self._refresh_balances()

    def _apply(self, order: Order, info: dict[str, Any]) -> None:
        """Take the exchange's view of ``order``: status, and a Fill for any new quantity."""
        filled = float(info.get("filled") or 0.0)
        cost = float(info.get("cost") or 0.0)
        if order.quote_amount is not None and info.get("amount"):
            order.amount = float(info["amount"])
        if filled > order.filled + 1e-15:
            delta, delta_cost = filled - order.filled, cost - order.cost
            fee = info.get("fee") or {}
            fee_cost = float(fee.get("cost") or 0.0) * delta / filled
            fill = Fill(
                order.id,
                order.symbol,
                order.side,
                delta,
                delta_cost / delta,
                fee_cost,
                str(fee.get("currency") or split_symbol(order.symbol)[1]),
                int(info.get("lastTradeTimestamp") or info.get("timestamp") or 0),
                True,
            )
            order.filled, order.cost = filled, cost
            order.fee += fee_cost
            order.fee_currency = fill.fee_currency
            self.fills.append(fill)
            self.ledger.on_fill(fill)
            for listener in self.fill_listeners:
                listener(fill, order)
        status = _STATUS.get(str(info.get("status")))
        if status is None:
            status = OrderStatus.PARTIALLY_FILLED if order.filled else OrderStatus.OPEN
        order.last_update = int(info.get("lastUpdateTimestamp") or order.last_update)
        order.status = status
        self._notify(order)

    def _finish(self, order: Order, status: OrderStatus, reason: str) -> None:
        order.status, order.reason = status, reason
        self._unconfirmed.pop(order.client_order_id, None)
        if status is OrderStatus.REJECTED:
            self.log("WARNING", f"order {order.id} rejected: {reason}")
        self._notify(order)

    def _notify(self, order: Order) -> None:
        for listener in self.order_listeners:
            listener(order)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def get_order(self, order_id: str) -> Order:
        try:
            return self.orders[order_id]
        except KeyError:
            raise KeyError(f"unknown order id {order_id!r}") from None

    def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open and symbol in (None, o.symbol)]

    def get_orders(self) -> list[Order]:
        return list(self.orders.values())

    # -- account -------------------------------------------------------------------------
    def get_wallet_balance(self, asset: str) -> Balance:
        return self.balances.get(asset) or Balance(asset)

    def get_balances(self) -> dict[str, Balance]:
        return dict(self.balances)

    def get_position(self, symbol: str) -> Position:
        position = self.ledger.positions.get(symbol)
        return position or Position(symbol, 0.0, 0.0, self.last_price(symbol) or 0.0)

    def get_trades(self) -> list[Trade]:
        return list(self.ledger.trades)

    def get_fills(self) -> list[Fill]:
        return list(self.fills)

    def last_price(self, symbol: str) -> float | None:
        return self.candle.close if self.candle is not None else None

    @property
    def progress(self) -> Progress:
        progress = self.feed.progress
        progress.timestamp = self.candle.timestamp if self.candle else None
        return progress
