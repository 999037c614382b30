"""Maker/taker schedule: resting limit orders pay ``maker``, everything else ``taker``."""

from __future__ import annotations

from typing import Any

from ats.exchanges.base_fees import BaseFees
from ats.exchanges.data_classes import FeeQuote, OrderSide, OrderType


class MakerTaker(BaseFees):
    """Defaults are Binance spot's base tier: maker 0.1%, taker 0.1%."""

    name = "maker_taker"
    parameters = ("maker", "taker", "charged_in")

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.maker = self._rate(config, "maker", 0.001)
        self.taker = self._rate(config, "taker", 0.001)
        self.charged_in = self._charged_in(config)

    def calculate(
        self, size: float, price: float, order_type: OrderType, side: OrderSide
    ) -> FeeQuote:
        rate = self.maker if order_type is OrderType.LIMIT else self.taker
        # a buy's fee in what it receives (base) when charged_in is "received"
        if side is OrderSide.BUY and self.charged_in == "received":
            return FeeQuote(abs(size) * rate, "base")
        return FeeQuote(abs(size) * price * rate, "quote")

    def linear_quote_rate(self, order_type: OrderType, side: OrderSide) -> float | None:
        if type(self).calculate is not MakerTaker.calculate:
            return None  # a subclass computes its fees its own way
        if side is OrderSide.BUY and self.charged_in == "received":
            return None
        return self.maker if order_type is OrderType.LIMIT else self.taker
