"""A market's trading rules (precision and limits), shared by back_trading, paper and live.

Real exchanges refuse orders that break their filters (Binance's PRICE_FILTER, LOT_SIZE,
NOTIONAL) and round what they execute: an amount bought with a quote budget is floored to
the lot step, a commission is rounded to the asset's precision. When the simulated
exchanges apply the very same rules as the live one, the three modes keep giving
identical trades on identical candles, to the last digit.

Rounding is done on decimal strings, as exchanges (and ccxt) do, never on binary floats:
``0.1 + 0.2`` floored to a step of ``0.1`` must be ``0.3``. Each method is called once per
order or fill, never per candle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from ats.exceptions import ConfigError
from ats.exchanges.data_classes import OrderSide, OrderType

_FEE_NOISE_DIGITS = 12
"""A fee computed in floats is snapped to this many decimals before it is rounded to the
market's fee step: a product like ``0.01234 * 40123.45 * 0.001`` is off by ~1e-17 in
binary, which would tip an exact half (``...5``) to the wrong side."""


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def floor_to_step(value: float, step: float | None) -> float:
    """``value`` rounded down to a multiple of ``step`` (unchanged without a step)."""
    return _to_step(value, step, ROUND_FLOOR)


def ceil_to_step(value: float, step: float | None) -> float:
    return _to_step(value, step, ROUND_CEILING)


def _to_step(value: float, step: float | None, rounding: str) -> float:
    if not step or not math.isfinite(value):
        return value
    step_dec = _decimal(step)
    units = (_decimal(value) / step_dec).to_integral_value(rounding=rounding)
    return float(units * step_dec)


@dataclass(frozen=True, slots=True)
class MarketRules:
    """Precision and limits of one market; ``None`` means the exchange sets no such rule.

    - ``amount_step``: lot size; amounts are floored to it (never more than asked or held).
    - ``price_tick``: limit/stop prices are rounded the safe way: a buy down (never pay
      more than asked), a sell up (never sell for less).
    - ``cost_step``: precision of a quote budget sent with a market buy (Binance truncates
      ``quoteOrderQty`` to the price tick).
    - ``min_amount``/``max_amount``, ``min_notional``/``max_notional``: order limits, the
      notional (amount x price) checked for limit and market orders alike.
    - ``fee_step``: precision commissions are rounded to (half up, as Binance books them).
    """

    amount_step: float | None = None
    price_tick: float | None = None
    cost_step: float | None = None
    min_amount: float | None = None
    max_amount: float | None = None
    min_notional: float | None = None
    max_notional: float | None = None
    fee_step: float | None = None

    # -- construction --------------------------------------------------------------------
    @classmethod
    def from_config(cls, raw: Any, where: str = "exchange.params.market") -> MarketRules:
        """From a job config's ``market:`` block; ConfigError names the offending key."""
        if raw is None:
            return NO_RULES  # shared (frozen): is_empty is then one identity test
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a mapping of rules, got {raw!r}")
        known = {field.name for field in fields(cls)}
        values: dict[str, float] = {}
        for key, value in raw.items():
            if key not in known:
                raise ConfigError(f"{where}.{key}: unknown rule (use {', '.join(sorted(known))})")
            if value is None:
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ConfigError(f"{where}.{key}: must be a positive number, got {value!r}")
            values[key] = float(value)
        return cls(**values) if values else NO_RULES

    @classmethod
    def from_ccxt_market(cls, market: dict[str, Any], precision_mode: int) -> MarketRules:
        """From a ccxt unified market (``client.market(symbol)``) and the client's
        ``precisionMode`` (ccxt's TICK_SIZE = 4: precisions are steps; otherwise they are
        numbers of decimal places)."""
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}

        def step(value: Any) -> float | None:
            if value is None:
                return None
            number = float(value)
            return number if precision_mode == 4 else 10.0 ** -int(number)

        def limit(kind: str, bound: str) -> float | None:
            value = (limits.get(kind) or {}).get(bound)
            return float(value) if value else None

        price_tick = step(precision.get("price"))
        return cls(
            amount_step=step(precision.get("amount")),
            price_tick=price_tick,
            cost_step=step(precision.get("cost")) or price_tick,
            min_amount=limit("amount", "min"),
            max_amount=limit("amount", "max"),
            min_notional=limit("cost", "min"),
            max_notional=limit("cost", "max"),
            fee_step=step(precision.get("quote")) or step(precision.get("base")),
        )

    def to_dict(self) -> dict[str, float]:
        """The rules that are set, as :meth:`from_config` reads them (for snapshots)."""
        return {
            field.name: value
            for field in fields(self)
            if (value := getattr(self, field.name)) is not None
        }

    @property
    def is_empty(self) -> bool:
        # Asked on every order and fill: an identity test for the shared NO_RULES (which
        # from_config gives for a config without rules), else one tuple comparison, never
        # a walk over fields() (a tenth of bench/backtest_speed.py's vectorised run).
        return self is NO_RULES or self == NO_RULES

    # -- rounding ------------------------------------------------------------------------
    def round_amount(self, amount: float) -> float:
        return floor_to_step(amount, self.amount_step)

    def round_price(self, price: float, side: OrderSide) -> float:
        """The safe way: a buy's limit rounds down, a sell's up."""
        if side is OrderSide.BUY:
            return floor_to_step(price, self.price_tick)
        return ceil_to_step(price, self.price_tick)

    def round_stop(self, stop_price: float, side: OrderSide) -> float:
        """A buy stop triggers no earlier than asked (up), a sell stop no later (down)."""
        if side is OrderSide.BUY:
            return ceil_to_step(stop_price, self.price_tick)
        return floor_to_step(stop_price, self.price_tick)

    def round_fee(self, fee: float) -> float:
        """A commission as the exchange books it: rounded half up to ``fee_step``."""
        if not self.fee_step or not fee:
            return fee
        step = _decimal(self.fee_step)
        exact = Decimal(repr(round(fee, _FEE_NOISE_DIGITS)))
        return float((exact / step).to_integral_value(rounding=ROUND_HALF_UP) * step)

    def budget_cost(self, budget: float, fee_rate_on_cost: float) -> float:
        """What a market buy sends to spend ``budget`` quote, fees included: the cost the
        exchange may trade, with the fee (``fee_rate_on_cost``, 0 when it is paid in
        another asset) left on top, truncated to the budget precision."""
        return floor_to_step(budget / (1.0 + fee_rate_on_cost), self.cost_step)

    def budget_amount(self, cost: float, price: float) -> float:
        """The amount a market buy of ``cost`` quote gets at ``price``, as the exchange
        computes it (floored to the lot step)."""
        return floor_to_step(cost / price, self.amount_step)

    # -- checks --------------------------------------------------------------------------
    def check(
        self,
        order_type: OrderType,
        amount: float,
        price: float | None,
        reference_price: float,
        *,
        cost: float | None = None,
    ) -> str | None:
        """Why the exchange would refuse this (already rounded) order, or None.

        ``price`` is the limit price (None for market orders, which are valued at
        ``reference_price``); ``cost`` is a market buy's quote budget instead of an amount.
        """
        if cost is not None:
            return self._check_notional(cost, "cost")
        if not amount > 0:
            return f"amount {amount:.10g} rounds to nothing at the market's lot step (LOT_SIZE)"
        if self.min_amount is not None and amount < self.min_amount:
            return _outside("amount", amount, "below the minimum", self.min_amount, "LOT_SIZE")
        if self.max_amount is not None and amount > self.max_amount:
            return _outside("amount", amount, "above the maximum", self.max_amount, "LOT_SIZE")
        if price is not None and not price > 0:
            return f"price {price:.10g} rounds to nothing at the market's tick (PRICE_FILTER)"
        value_price = price if price is not None else reference_price
        if order_type is OrderType.MARKET and not value_price:
            return None  # no price seen yet: the exchange decides
        return self._check_notional(amount * value_price, "notional")

    def _check_notional(self, value: float, what: str) -> str | None:
        if self.min_notional is not None and value < self.min_notional:
            return _outside(what, value, "below the minimum", self.min_notional, "NOTIONAL")
        if self.max_notional is not None and value > self.max_notional:
            return _outside(what, value, "above the maximum", self.max_notional, "NOTIONAL")
        return None

    def sellable(self, amount: float, price: float | None) -> float:
        """How much of a holding of ``amount`` can be sold: floored to the lot step, and 0
        if that is below the minimum amount or (at ``price``) the minimum notional. What is
        left is dust: it cannot be sold, so a strategy should treat it as flat."""
        if not amount > 0:
            return 0.0
        rounded = self.round_amount(amount)
        if not rounded > 0 or (self.min_amount is not None and rounded < self.min_amount):
            return 0.0
        if price and self.min_notional is not None and rounded * price < self.min_notional:
            return 0.0
        return rounded


def _outside(what: str, value: float, where: str, bound: float, rule: str) -> str:
    return f"{what} {value:.10g} is {where} {bound:g} of the market ({rule})"


NO_RULES = MarketRules()
"""A market without precision or limits (plain backtests)."""
