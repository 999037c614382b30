"""One proportional rate for every fill, charged in quote (or in the asset received)."""

from __future__ import annotations

from typing import Any

from ats.exchanges.base_fees import BaseFees
from ats.exchanges.data_classes import FeeQuote, OrderSide, OrderType


class FlatRate(BaseFees):
    """``rate`` (default 0.001 = 0.1%) of the fill's quote value."""

    name = "flat_rate"
    parameters = ("rate", "charged_in")

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.rate = self._rate(config, "rate", 0.001)
        self.charged_in = self._charged_in(config)

    def calculate(
        self, size: float, price: float, order_type: OrderType, side: OrderSide
    ) -> FeeQuote:
        # a buy's fee in what it receives (base) when charged_in is "received"
        if side is OrderSide.BUY and self.charged_in == "received":
            return FeeQuote(abs(size) * self.rate, "base")
        return FeeQuote(abs(size) * price * self.rate, "quote")

    def linear_quote_rate(self, order_type: OrderType, side: OrderSide) -> float | None:
        if type(self).calculate is not FlatRate.calculate:
            return None  # a subclass computes its fees its own way
        if side is OrderSide.BUY and self.charged_in == "received":
            return None
        return self.rate
