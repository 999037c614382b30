"""Worked example of a fee plugin: a fixed fee per fill plus a proportional rate.

Use it in a job with ``fees: {name: fixed_plus_rate, params: {fixed: 0.5, rate: 0.0005}}``.
"""

from __future__ import annotations

from typing import Any

from ats.exceptions import ConfigError
from ats.exchanges.base_fees import BaseFees
from ats.exchanges.data_classes import FeeQuote, OrderSide, OrderType


class FixedPlusRate(BaseFees):
    """``fixed`` quote per fill plus ``rate`` of the fill's value, charged in quote."""

    name = "fixed_plus_rate"
    parameters = ("fixed", "rate")

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.rate = self._rate(config, "rate", 0.0005)
        self.fixed = float(config.get("fixed", 0.5))
        if self.fixed < 0:
            raise ConfigError(f"fees.fixed must not be negative, got {self.fixed}")

    def calculate(
        self, size: float, price: float, order_type: OrderType, side: OrderSide
    ) -> FeeQuote:
        return FeeQuote(self.fixed + abs(size) * price * self.rate, "quote")

    def rate_for(self, order_type: OrderType, side: OrderSide) -> float:
        # Holds are sized with a proportional rate; the fixed part comes from free balance.
        return self.rate
