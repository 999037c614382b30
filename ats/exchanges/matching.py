"""The simulated matching engine shared by back_trading and paper.

Rules (also in the README):
- an order placed while the strategy handles candle *i* is stamped with *i*'s close
  time and is only matched against candles that open at or after it, so *i+1* at the
  earliest;
- market: fills at the next candle's open, moved against the trader by ``slippage_bps``;
- limit: fills at its price when a candle's range reaches it, or at the open if the open
  is already through the price;
- stop-market: triggers when the range reaches the stop (or the open is through it) and
  fills at the stop (or that open) with slippage;
- stop-limit: triggers like a stop, then rests as a limit; in the triggering candle it
  only fills if the trigger price itself satisfies the limit;
- fees come from the fee plugin, charged once per fill at the fill price, rounded as the
  exchange books them;
- funds are held at submission and released on cancel, reject and expiry;
- the market's rules (:class:`MarketRules`: lot step, tick, minimum amount and notional)
  round and check every order at submission, exactly as the live exchange does, and a
  market buy with a quote budget gets the amount the exchange would compute.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from ats.exceptions import InsufficientFunds
from ats.exchanges.base_fees import BaseFees
from ats.exchanges.data_classes import (
    FeeQuote,
    Fill,
    Order,
    OrderSide,
    OrderStatus,
    OrderType,
    split_symbol,
)
from ats.exchanges.market_rules import NO_RULES, MarketRules
from ats.exchanges.wallet import Wallet

OrderListener = Callable[[Order], None]
FillListener = Callable[[Fill, Order], None]

# A market buy sized in base units is held at the reference price plus this margin, so a
# modest gap up at the next open is still covered; a bigger gap is paid from free balance.
MARKET_HOLD_MARGIN = 0.05

# Enum members as module constants: a member lookup on an enum class costs ~40 ns, and
# an order took about thirty of them (bench/backtest_speed.py).
_BUY, _SELL = OrderSide.BUY, OrderSide.SELL
_MARKET, _LIMIT = OrderType.MARKET, OrderType.LIMIT
_STOP_MARKET, _STOP_LIMIT = OrderType.STOP_MARKET, OrderType.STOP_LIMIT
_PRICED = (_LIMIT, _STOP_LIMIT)
"""Types with a limit price."""
_STOPS = (_STOP_MARKET, _STOP_LIMIT)
_OPEN, _FILLED, _REJECTED = OrderStatus.OPEN, OrderStatus.FILLED, OrderStatus.REJECTED
_CANCELED, _EXPIRED = OrderStatus.CANCELED, OrderStatus.EXPIRED


class MatchingEngine:
    """Holds, matches and settles simulated orders against candles."""

    def __init__(
        self,
        wallet: Wallet,
        fees: BaseFees,
        *,
        slippage_bps: float = 0.0,
        id_prefix: str = "",
        rules: MarketRules = NO_RULES,
    ) -> None:
        if slippage_bps < 0:
            raise ValueError(f"slippage_bps must not be negative, got {slippage_bps}")
        self.wallet = wallet
        self.fees = fees
        self.rules = rules
        self.slippage = slippage_bps / 10_000.0
        self.orders: dict[str, Order] = {}
        self.open_orders: dict[str, Order] = {}
        self.fills: list[Fill] = []
        self.fees_paid: dict[str, float] = {}
        self.order_listeners: list[OrderListener] = []
        self.fill_listeners: list[FillListener] = []
        self._id_prefix = id_prefix
        self._ids = itertools.count(1)

    # -- submission ----------------------------------------------------------------------
    def submit(
        self,
        symbol: str,
        side: OrderSide | str,
        type: OrderType | str,
        amount: float,
        price: float | None = None,
        *,
        now: int,
        reference_price: float,
        stop_price: float | None = None,
        quote_amount: float | None = None,
        client_order_id: str | None = None,
        expires_at: int | None = None,
    ) -> Order:
        """Validate, hold funds and queue an order. Rejections come back as an Order with
        status ``rejected`` and a ``reason``; malformed requests raise ValueError."""
        order_id = f"{self._id_prefix}{next(self._ids)}"
        # Positional: matching 12 keywords against Order's 19 fields took twice as long as
        # building it, and enum lookups only for plain strings (bench/backtest_speed.py).
        order = Order(
            order_id,  # id
            client_order_id or f"ats-{order_id}",
            symbol,
            side if isinstance(side, OrderSide) else OrderSide(side),
            type if isinstance(type, OrderType) else OrderType(type),
            float(amount),
            None if price is None else float(price),
            None if stop_price is None else float(stop_price),
            None if quote_amount is None else float(quote_amount),
            _OPEN,  # status
            0.0,  # filled
            0.0,  # cost
            0.0,  # fee
            None,  # fee_currency
            now,  # timestamp
            now,  # last_update
            expires_at,
        )
        self._validate(order)
        self.orders[order_id] = order
        if self.rules is not NO_RULES:  # the call only when there may be rules (per order)
            refused = self._apply_rules(order, reference_price)
            if refused is not None:
                return self._refuse(order, refused)
        asset, needed = self._hold_needed(order, reference_price)
        try:
            self.wallet.hold(order_id, asset, needed)
        except InsufficientFunds as exc:
            return self._refuse(order, str(exc))
        self.open_orders[order_id] = order
        for listener in self.order_listeners:  # _notify(), inline (bench/backtest_speed.py)
            listener(order)
        return order

    def place_market(
        self, symbol: str, side: OrderSide, amount: float, quote_amount: float | None, now: int
    ) -> Order:
        """:meth:`submit` of a market sell of ``amount`` or a market buy of ``quote_amount``
        (a budget) without market rules: the same order, hold and event, without the
        checks and branches for what such an order cannot be. An all-in signal replay
        places two per trade (bench/backtest_speed.py, vectorised)."""
        order_id = f"{self._id_prefix}{next(self._ids)}"
        order = Order(
            order_id, f"ats-{order_id}", symbol, side, _MARKET, amount, None, None,
            quote_amount, _OPEN, 0.0, 0.0, 0.0, None, now, now, None,
        )  # fmt: skip
        if (side is _BUY) is (quote_amount is None) or not (quote_amount or amount) > 0:
            self._validate(order)  # says what is wrong
            raise ValueError("place_market: a market sell by amount or buy by budget")
        self.orders[order_id] = order
        base, quote = split_symbol(symbol)
        try:
            if quote_amount is None:
                self.wallet.hold(order_id, base, amount)
            else:
                self.wallet.hold(order_id, quote, quote_amount)
        except InsufficientFunds as exc:
            return self._refuse(order, str(exc))
        self.open_orders[order_id] = order
        for listener in self.order_listeners:
            listener(order)
        return order

    def _refuse(self, order: Order, reason: str) -> Order:
        order.status = _REJECTED
        order.reason = reason
        self._notify(order)
        return order

    def _apply_rules(self, order: Order, reference_price: float) -> str | None:
        """Round the order to the market's precision the safe way; why it would be
        refused (naming the rule), or None."""
        rules = self.rules
        if rules.is_empty:
            return None
        side = order.side
        if order.price is not None:
            order.price = rules.round_price(order.price, side)
        if order.stop_price is not None:
            order.stop_price = rules.round_stop(order.stop_price, side)
        if order.quote_amount is not None:
            cost = rules.budget_cost(order.quote_amount, self.fees.budget_rate())
            return rules.check(order.type, 0.0, None, reference_price, cost=cost)
        order.amount = rules.round_amount(order.amount)
        price = order.price if order.type in _PRICED else None
        reference = order.stop_price if order.type is _STOP_MARKET else reference_price
        return rules.check(order.type, order.amount, price, reference or 0.0)

    @staticmethod
    def _validate(order: Order) -> None:
        split_symbol(order.symbol)
        if order.quote_amount is not None:
            if order.type is not _MARKET or order.side is not _BUY:
                raise ValueError("quote_amount is only for market buys")
            if not order.quote_amount > 0:
                raise ValueError(f"quote_amount must be positive, got {order.quote_amount}")
        elif not order.amount > 0:
            raise ValueError(f"amount must be positive, got {order.amount}")
        if order.type in _PRICED and not (order.price is not None and order.price > 0):
            raise ValueError(f"a {order.type} order needs a positive price")
        if order.type in _STOPS and not (order.stop_price is not None and order.stop_price > 0):
            raise ValueError(f"a {order.type} order needs a positive stop_price")

    def _hold_needed(self, order: Order, reference_price: float) -> tuple[str, float]:
        base, quote = split_symbol(order.symbol)
        if order.side is _SELL:
            return base, order.amount
        if order.quote_amount is not None:
            return quote, order.quote_amount
        if order.type in _PRICED:
            assert order.price is not None
            worst_price = order.price
        else:
            trigger = order.stop_price if order.type is _STOP_MARKET else None
            worst_price = max(reference_price, trigger or 0.0) * (
                1 + self.slippage + MARKET_HOLD_MARGIN
            )
        rate = self.fees.rate_for(order.type, order.side)
        return quote, order.amount * worst_price * (1 + rate)

    # -- cancel / expire -----------------------------------------------------------------
    def cancel(self, order_id: str, now: int, reason: str = "canceled") -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise KeyError(f"unknown order id {order_id!r}")
        if order.is_open:
            self._close(order, _CANCELED, now, reason)
        return order

    def cancel_all(self, now: int, reason: str = "canceled") -> list[Order]:
        return [self.cancel(order_id, now, reason) for order_id in list(self.open_orders)]

    def _close(self, order: Order, status: OrderStatus, now: int, reason: str | None) -> None:
        order.status = status
        order.reason = reason
        order.last_update = now
        self.open_orders.pop(order.id, None)
        self.wallet.release(order.id)
        for listener in self.order_listeners:  # _notify(), inline (bench/backtest_speed.py)
            listener(order)

    # -- matching ------------------------------------------------------------------------
    def match(self, timestamp: int, open: float, high: float, low: float) -> None:
        """Match every eligible open order against one new candle (before the strategy
        sees that candle). Callers skip this when ``open_orders`` is empty."""
        for order in list(self.open_orders.values()):
            if order.timestamp > timestamp:
                continue
            if order.expires_at is not None and timestamp >= order.expires_at:
                self._close(order, _EXPIRED, timestamp, "expired")
                continue
            if order.type is _MARKET:  # the common case, without a call
                slippage = self.slippage
                if order.side is _BUY:
                    self._fill(order, open * (1 + slippage), timestamp)
                else:
                    self._fill(order, open * (1 - slippage), timestamp)
                continue
            fill_price = self._fill_price(order, open, high, low)
            if fill_price is not None:
                self._fill(order, fill_price, timestamp)

    def fill_market(self, order: Order, timestamp: int, open: float) -> None:
        """:meth:`match` when ``order``, a market order, is the only open order: no walk
        over the open orders (a signal replay; bench/backtest_speed.py, vectorised)."""
        if order.timestamp > timestamp:
            return
        if order.expires_at is not None and timestamp >= order.expires_at:
            self._close(order, _EXPIRED, timestamp, "expired")
        elif order.side is _BUY:
            self._fill(order, open * (1 + self.slippage), timestamp)
        else:
            self._fill(order, open * (1 - self.slippage), timestamp)

    def _fill_price(self, order: Order, open: float, high: float, low: float) -> float | None:
        buy = order.side is _BUY
        kind = order.type
        if kind is _MARKET:
            return self._slipped(open, buy)
        if kind is _LIMIT or (kind is _STOP_LIMIT and order.triggered):
            return _limit_price(order.price, buy, open, high, low)  # type: ignore[arg-type]
        trigger = _stop_price(order.stop_price, buy, open, high, low)  # type: ignore[arg-type]
        if trigger is None:
            return None
        order.triggered = True
        if kind is _STOP_MARKET:
            return self._slipped(trigger, buy)
        assert order.price is not None
        if trigger == open:
            return _limit_price(order.price, buy, open, high, low)
        satisfied = trigger <= order.price if buy else trigger >= order.price
        return trigger if satisfied else None

    def _slipped(self, price: float, buy: bool) -> float:
        return price * (1 + self.slippage) if buy else price * (1 - self.slippage)

    def _fill(self, order: Order, price: float, timestamp: int) -> None:
        # Once per fill, so written with locals (bench/backtest_speed.py): same arithmetic.
        side = order.side
        rate = self.fees.linear_quote_rate(order.type, side)
        if rate is not None and self.rules.is_empty:
            self._fill_in_quote(order, price, timestamp, rate)
            return
        base, quote = split_symbol(order.symbol)
        if order.quote_amount is None:
            amount = order.remaining
        else:
            amount, refused = self._amount_for_budget(order, price, rate)
            if refused is not None:
                self._close(order, _REJECTED, timestamp, refused)
                return
        cost = amount * price
        if side is _BUY:
            pay, receive = cost, amount
            pay_asset, receive_asset = quote, base
        else:
            pay, receive = amount, cost
            pay_asset, receive_asset = base, quote
        fee: FeeQuote | None = None
        if rate is None:
            fee = self.fees.calculate(amount, price, order.type, side)
            fee_amount, fee_currency = fee.amount, fee.currency
            if fee_currency == "quote":
                fee_currency = quote
            elif fee_currency == "base":
                fee_currency = base
        else:  # what calculate() would say, without the call (see linear_quote_rate)
            fee_amount, fee_currency = abs(amount) * price * rate, quote
        rules = self.rules
        if rules.fee_step is not None:
            fee_amount = rules.round_fee(fee_amount)
        fee_value: float | None = None
        wallet = self.wallet
        if fee is not None and fee_currency != base and fee_currency != quote:
            fee_value = self._third_asset_value(fee, fee_currency)
            if wallet.free(fee_currency) < fee_amount:
                # As on Binance: without enough of the fee asset, the fee is taken from
                # what the fill brings in, at the same value.
                in_base = receive_asset == base
                fee_amount = rules.round_fee(fee_value / price if in_base else fee_value)
                fee_currency, fee_value = receive_asset, None
        if fee_currency == pay_asset:
            pay += fee_amount
        elif fee_currency == receive_asset:
            receive = max(receive - fee_amount, 0.0)
        order_id = order.id
        try:
            wallet.settle(order_id, pay_asset, pay, receive_asset, receive)
        except InsufficientFunds as exc:
            self._close(order, _REJECTED, timestamp, str(exc))
            return
        if fee_value is not None:
            wallet.charge(fee_currency, fee_amount)
        order.filled += amount
        order.cost += cost
        order.fee += fee_amount
        order.fee_currency = fee_currency
        fill = Fill(
            order_id,
            order.symbol,
            side,
            amount,
            price,
            fee_amount,
            fee_currency,
            timestamp,
            order.type is not _LIMIT,  # taker
            fee_value,
        )
        self.fills.append(fill)
        fees_paid = self.fees_paid
        fees_paid[fee_currency] = fees_paid.get(fee_currency, 0.0) + fee_amount
        if order.quote_amount is not None:
            order.amount = order.filled
        # _close(order, FILLED), inline
        order.status = _FILLED
        order.reason = None
        order.last_update = timestamp
        self.open_orders.pop(order_id, None)
        wallet.release(order_id)
        for order_listener in self.order_listeners:
            order_listener(order)
        for fill_listener in self.fill_listeners:
            fill_listener(fill, order)

    def _fill_in_quote(self, order: Order, price: float, timestamp: int, rate: float) -> None:
        """:meth:`_fill` of a fill whose fee is ``abs(amount) * price * rate`` in quote,
        without market rules: the branches of the general case that cannot apply left
        out (fee plugin calls, rounding, third-asset fees), the same operations in the
        same order otherwise, so the same figures to the bit. Most backtests fill this
        way: about 1 µs less per fill of bench/backtest_speed.py's vectorised run."""
        base, quote = split_symbol(order.symbol)
        side = order.side
        budget = order.quote_amount
        if budget is None:
            amount = order.remaining
        else:
            amount = _largest_affordable_at_rate(budget, price, rate)
            if not amount > 0:
                self._close(order, _REJECTED, timestamp, "budget does not cover the fee")
                return
        cost = amount * price
        fee = abs(amount) * price * rate
        order_id = order.id
        wallet = self.wallet
        try:
            if side is _BUY:
                wallet.settle(order_id, quote, cost + fee, base, amount, True)
            else:
                wallet.settle(order_id, base, amount, quote, max(cost - fee, 0.0), True)
        except InsufficientFunds as exc:
            self._close(order, _REJECTED, timestamp, str(exc))
            return
        order.filled += amount
        order.cost += cost
        order.fee += fee
        order.fee_currency = quote
        taker = order.type is not _LIMIT
        fill = Fill(order_id, order.symbol, side, amount, price, fee, quote, timestamp, taker, None)
        self.fills.append(fill)
        fees_paid = self.fees_paid
        fees_paid[quote] = fees_paid.get(quote, 0.0) + fee
        if budget is not None:
            order.amount = order.filled
        order.status = _FILLED  # _close(order, FILLED), inline
        order.reason = None
        order.last_update = timestamp
        self.open_orders.pop(order_id, None)  # its hold went with the settlement
        for order_listener in self.order_listeners:
            order_listener(order)
        for fill_listener in self.fill_listeners:
            fill_listener(fill, order)

    @staticmethod
    def _third_asset_value(fee: FeeQuote, currency: str) -> float:
        if fee.value is None:
            raise ValueError(
                f"a fee in {currency} needs its value in quote (FeeQuote.value) to be booked"
            )
        return fee.value

    def _amount_for_budget(
        self, order: Order, price: float, rate: float | None
    ) -> tuple[float, str | None]:
        """The amount a market buy with a quote budget gets at ``price``, or why none.

        With market rules, as the exchange computes it: the budget less room for the fee,
        truncated to the budget precision, then floored to the lot step (and checked
        against the market's minimums at this price). Without, the largest amount whose
        cost plus fee fits the budget exactly.
        """
        budget = order.quote_amount
        assert budget is not None
        rules = self.rules
        if not rules.is_empty:
            cost = rules.budget_cost(budget, self.fees.budget_rate())
            amount = rules.budget_amount(cost, price)
            return amount, rules.check(order.type, amount, None, price)
        if rate is not None:  # the fee's linear_quote_rate()
            amount = _largest_affordable_at_rate(budget, price, rate)
        else:
            amount = self._largest_affordable(budget, order, price)
        return amount, None if amount > 0 else "budget does not cover the fee"

    def _largest_affordable(self, budget: float, order: Order, price: float) -> float:
        """Solves ``amount * price + fee(amount) = budget`` by fixed-point iteration, which
        converges fast for any fee that grows slower than the cost (factor = fee rate)."""
        amount = budget / price
        for _ in range(8):
            fee = self.fees.calculate(amount, price, order.type, order.side)
            if fee.currency == "base":
                return amount  # paid out of what is bought, not from the budget
            previous, amount = amount, max((budget - fee.amount) / price, 0.0)
            if amount == previous:
                break  # a fixed point: every further step gives the same amount
        while amount > 0:
            fee = self.fees.calculate(amount, price, order.type, order.side)
            if amount * price + fee.amount <= budget:
                break
            amount *= 1 - 1e-12
        return amount

    def _notify(self, order: Order) -> None:
        for listener in self.order_listeners:
            listener(order)

    # -- persistence -------------------------------------------------------------------
    def restore_orders(self, orders: list[Order], next_id: int) -> None:
        """Put orders back after a restart; their holds come back with the wallet."""
        for order in orders:
            self.orders[order.id] = order
            if order.is_open:
                self.open_orders[order.id] = order
        self._ids = itertools.count(next_id)

    def peek_next_id(self) -> int:
        value = next(self._ids)
        self._ids = itertools.count(value)
        return value


def _largest_affordable_at_rate(budget: float, price: float, rate: float) -> float:
    """:meth:`MatchingEngine._largest_affordable` for a fee of exactly ``abs(amount) *
    price * rate`` in quote, spelled out: the same steps and comparisons, so the same
    amount to the last bit, without a fee plugin call and a FeeQuote per step (eight of
    them per all-in buy were a third of bench/backtest_speed.py's vectorised run)."""
    amount = budget / price
    for _ in range(8):
        previous, amount = amount, max((budget - abs(amount) * price * rate) / price, 0.0)
        if amount == previous:
            break
    while amount > 0:
        if amount * price + abs(amount) * price * rate <= budget:
            break
        amount *= 1 - 1e-12
    return amount


def _limit_price(limit: float, buy: bool, open: float, high: float, low: float) -> float | None:
    if buy:
        if open <= limit:
            return open
        return limit if low <= limit else None
    if open >= limit:
        return open
    return limit if high >= limit else None


def _stop_price(stop: float, buy: bool, open: float, high: float, low: float) -> float | None:
    if buy:
        if open >= stop:
            return open
        return stop if high >= stop else None
    if open <= stop:
        return open
    return stop if low <= stop else None
