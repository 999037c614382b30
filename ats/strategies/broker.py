"""The strategy's one way to the market: orders, balances, position and price.

A strategy used to hold the exchange object itself, and with it the wallet, the
matching engine and the ledger: ``self.exchange.wallet.deposit(1e12)`` made a backtest
report 15 billion of equity. The broker passes on what a strategy may do and returns
copies, so changing what it hands out changes nothing in the books. The job puts an
order gate in front of it (the per-candle and per-minute order limits).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ats.exchanges.data_classes import (
    Balance,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
)

if TYPE_CHECKING:
    from ats.exchanges.base_exchange import BaseExchange

OrderGate = Callable[[], "str | None"]
"""Called before each order: a reason to refuse it, or None to let it through."""


class Broker:
    """Orders, balances, position and last price of the job's symbol, for a strategy."""

    __slots__ = ("_exchange", "_gate", "_refused", "symbol")

    def __init__(self, exchange: BaseExchange, *, gate: OrderGate | None = None) -> None:
        self._exchange = exchange
        self._gate = gate
        self._refused = 0
        self.symbol: str = exchange.symbol

    # -- orders --------------------------------------------------------------------------
    def submit(
        self,
        side: OrderSide,
        amount: float,
        *,
        price: float | None = None,
        stop_price: float | None = None,
        quote_amount: float | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Place an order; it comes back at once, *open* or *rejected* with a reason.

        The type follows from the prices: none = market, ``price`` = limit,
        ``stop_price`` = stop-market, both = stop-limit.
        """
        if stop_price is not None:
            order_type = OrderType.STOP_LIMIT if price is not None else OrderType.STOP_MARKET
        else:
            order_type = OrderType.LIMIT if price is not None else OrderType.MARKET
        if self._gate is not None and (reason := self._gate()) is not None:
            # Refused before the exchange sees it: no event, no log line per order (the
            # gate summarises), so a flood of orders costs microseconds each.
            self._refused += 1
            order_id = f"refused-{self._refused}"
            return Order(
                order_id, client_order_id or order_id, self.symbol, side, order_type,
                amount, price, stop_price, quote_amount,
                status=OrderStatus.REJECTED, reason=reason,
            )  # fmt: skip
        order = self._exchange.submit_order(
            self.symbol,
            side,
            order_type,
            amount,
            price,
            stop_price=stop_price,
            quote_amount=quote_amount,
            client_order_id=client_order_id,
        )
        return order.copy()

    def cancel(self, order: Order | str) -> Order:
        """Cancel an open order (an :class:`Order` or its id); returns its new state."""
        order_id = order if isinstance(order, str) else order.id
        return self._exchange.cancel_order(order_id).copy()

    def order(self, order_id: str) -> Order:
        """The current state of one of the job's orders."""
        return self._exchange.get_order(order_id).copy()

    def open_orders(self) -> list[Order]:
        return [order.copy() for order in self._exchange.get_open_orders(self.symbol)]

    # -- account -------------------------------------------------------------------------
    def balance(self, asset: str) -> Balance:
        balance = self._exchange.get_wallet_balance(asset)
        return Balance(balance.asset, balance.free, balance.used)

    def balances(self) -> dict[str, Balance]:
        return {
            asset: Balance(balance.asset, balance.free, balance.used)
            for asset, balance in self._exchange.get_balances().items()
        }

    def position(self) -> Position:
        p = self._exchange.get_position(self.symbol)
        # Spelled out: copy.copy costs 20x more, on every cross of bench/backtest_speed.py.
        return Position(p.symbol, p.amount, p.entry_price, p.mark_price, p.held, p.dust, p.sellable)

    def last_price(self) -> float | None:
        """Close of the latest candle (None before the first)."""
        return self._exchange.last_price(self.symbol)
