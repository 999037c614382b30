"""Common base of back_trading and paper: a simulated wallet filled by the matching engine.

The two differ only in where candles come from (a file vs. a live or replayed feed).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ats.exceptions import ConfigError
from ats.exchanges.base_exchange import BaseExchange, LogFunction
from ats.exchanges.base_fees import BaseFees
from ats.exchanges.data_classes import (
    Balance,
    Candle,
    Fill,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    Trade,
    split_symbol,
)
from ats.exchanges.market_rules import MarketRules
from ats.exchanges.matching import MatchingEngine
from ats.exchanges.trade_ledger import TradeLedger
from ats.exchanges.wallet import Wallet
from ats.utils.encoded_history import HistoryCache

_REJECTED = OrderStatus.REJECTED  # asked per order event: a constant, not an enum lookup


class SimulatedExchange(BaseExchange):
    """Order API over a :class:`Wallet`, a :class:`MatchingEngine` and a :class:`TradeLedger`."""

    DEFAULT_TIMEFRAME_MS = 60_000
    """Order times before the data or feed has said its candle length."""

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
        self.wallet = Wallet(balances)
        self.market_rules = MarketRules.from_config(config.get("market"))
        self.engine = MatchingEngine(
            self.wallet,
            fees,
            slippage_bps=_slippage_bps(config),
            rules=self.market_rules,
        )
        self._order_history = HistoryCache(Order.to_dict, lambda order: not order.is_open)
        self._fill_history = HistoryCache(Fill.to_dict, lambda _fill: True)
        self.ledger = TradeLedger(self.market_rules)
        self.candle: Candle = Candle(symbol, 0, 0.0, 0.0, 0.0, 0.0, 0.0)
        """The latest candle; reused and overwritten in place by the feed."""
        self.engine.order_listeners.append(self._order_changed)
        self.engine.fill_listeners.append(self._filled)

    def release(self) -> None:
        super().release()
        self.engine.order_listeners.clear()
        self.engine.fill_listeners.clear()

    def _order_changed(self, order: Order) -> None:
        if order.status is _REJECTED:
            self.log("WARNING", f"order {order.id} rejected: {order.reason}")
        for listener in self.order_listeners:
            listener(order)

    def use_market_rules(self, rules: MarketRules) -> None:
        """Trade under ``rules`` from now on (a paper job's exchange published them)."""
        self.market_rules = self.engine.rules = self.ledger.rules = rules

    def _filled(self, fill: Fill, order: Order) -> None:
        if fill.fee_in_quote is not None and fill.fee:
            self.asset_prices[fill.fee_currency] = fill.fee_in_quote / fill.fee
        self.ledger.on_fill(fill)
        for listener in self.fill_listeners:
            listener(fill, order)

    @property
    def now(self) -> int:
        """Order time: the close of the candle the strategy is handling."""
        return self.candle.timestamp + (self.timeframe_ms or self.DEFAULT_TIMEFRAME_MS)

    def process_candle(self, candle: Candle) -> None:
        """Match open orders against a new closed candle, then hand it to the strategy."""
        if self.engine.open_orders:
            self.engine.match(candle.timestamp, candle.open, candle.high, candle.low)
        self.candle = candle.copy()  # the strategy gets ``candle``: its writes stay its own
        self.ledger.mark(candle.symbol, candle.close)
        if self.on_candle is not None:
            self.on_candle(candle)

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
        return self.engine.submit(
            symbol,
            side,
            type,
            amount,
            price,
            now=self.now,
            reference_price=self.candle.close,
            stop_price=stop_price,
            quote_amount=quote_amount,
            client_order_id=client_order_id,
            expires_at=expires_at,
        )

    def cancel_order(self, order_id: str) -> Order:
        return self.engine.cancel(order_id, self.now)

    def get_order(self, order_id: str) -> Order:
        try:
            return self.engine.orders[order_id]
        except KeyError:
            raise KeyError(f"unknown order id {order_id!r}") from None

    def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o for o in self.engine.open_orders.values() if symbol in (None, o.symbol)]

    def get_orders(self) -> list[Order]:
        return list(self.engine.orders.values())

    # -- account -------------------------------------------------------------------------
    def get_wallet_balance(self, asset: str) -> Balance:
        return self.wallet.balance(asset)

    def get_balances(self) -> dict[str, Balance]:
        return self.wallet.balances()

    def _ledger_position(self, symbol: str) -> Position:
        return self.ledger.position(symbol, self.last_price(symbol))

    def get_trades(self) -> list[Trade]:
        self.ledger.mark(self.symbol, self.candle.close)
        return list(self.ledger.trades)

    def get_fills(self) -> list[Fill]:
        return list(self.engine.fills)

    def fill_count(self) -> int:
        return len(self.engine.fills)

    def trade_count(self) -> int:
        return len(self.ledger.trades)

    def trade_slice(self, start: int, stop: int) -> list[Trade]:
        self.ledger.mark(self.symbol, self.candle.close)
        return self.ledger.trades[start:stop]

    def fill_slice(self, start: int, stop: int) -> list[Fill]:
        return self.engine.fills[start:stop]

    def last_price(self, symbol: str) -> float | None:
        return self.candle.close if self.candle.timestamp else None

    # -- persistence ---------------------------------------------------------------------
    async def warm_history(self) -> None:
        """Encode the finished orders and fills no snapshot has encoded yet, in a worker
        thread: they can no longer change, so the next :meth:`snapshot` (on the event
        loop) only encodes what is still open. A finished 1M-candle backtest's first
        snapshot would otherwise stall the console for tens of ms."""
        order_cache, fill_cache = self._order_history, self._fill_history
        orders = list(self.engine.orders.values())
        fills = list(self.engine.fills)
        order_start, fill_start = order_cache.done, fill_cache.done
        new_orders = orders[order_start : order_cache.final_run(orders)]
        new_fills = fills[fill_start : fill_cache.final_run(fills)]
        if not new_orders and not new_fills:
            return

        def encode() -> tuple[str, str]:
            return order_cache.encode_final(new_orders), fill_cache.encode_final(new_fills)

        orders_text, fills_text = await asyncio.to_thread(encode)
        order_cache.adopt(order_start, len(new_orders), orders_text)
        fill_cache.adopt(fill_start, len(new_fills), fills_text)

    def snapshot(self) -> dict[str, Any]:
        """Everything needed to resume: wallet, orders, fills and the latest candle."""
        orders, fills = self._order_history, self._fill_history
        return self._snapshot(
            orders.encode(list(self.engine.orders.values())), fills.encode(self.engine.fills)
        )

    def snapshot_encoded(self) -> dict[str, Any]:
        """:meth:`snapshot` for the snapshot file: finished orders and fills as the JSON
        text :meth:`warm_history` made, not as dicts made again."""
        orders, fills = self._order_history, self._fill_history
        return self._snapshot(
            orders.encode_text(list(self.engine.orders.values())),
            fills.encode_text(self.engine.fills),
        )

    def _snapshot(self, orders: Any, fills: Any) -> dict[str, Any]:
        return {
            "wallet": self.wallet.to_dict(),
            # Finished orders and fills never change: encoded once (ats.utils.encoded_history).
            "orders": orders,
            "fills": fills,
            "next_order_id": self.engine.peek_next_id(),
            "market_rules": self.market_rules.to_dict(),
            "candle": None if not self.candle.timestamp else self.candle.to_row(),
            **self._snapshot_extra(),
        }

    def _snapshot_extra(self) -> dict[str, Any]:
        """What a kind of simulated exchange adds to its snapshot (its place in the data)."""
        return {}

    def restore(self, data: dict[str, Any]) -> None:
        self._order_history.clear()
        self._fill_history.clear()
        if data.get("market_rules") is not None:  # as the exchange published them then
            self.use_market_rules(MarketRules.from_config(data["market_rules"]))
        self.wallet = Wallet.from_dict(data["wallet"])
        self.engine.wallet = self.wallet
        self.engine.restore_orders(
            [Order.from_dict(order) for order in data["orders"]], int(data["next_order_id"])
        )
        self.ledger = TradeLedger(self.market_rules)
        for fill_data in data["fills"]:
            fill = Fill.from_dict(fill_data)
            self.engine.fills.append(fill)
            self.engine.fees_paid[fill.fee_currency] = (
                self.engine.fees_paid.get(fill.fee_currency, 0.0) + fill.fee
            )
            self.ledger.on_fill(fill)
        if data.get("candle"):
            self.candle = Candle.from_row(data["candle"])
            self.ledger.mark(self.symbol, self.candle.close)


def _slippage_bps(config: dict[str, Any]) -> float:
    value = config.get("slippage_bps", 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 10_000:
        raise ConfigError(
            f"exchange.params.slippage_bps: must be a number in [0, 10000), got {value!r}"
        )
    return float(value)
