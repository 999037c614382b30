"""Long-only mean reversion on RSI (Wilder).

Buys with all free quote when RSI closes below ``oversold`` while flat; sells the whole
position when RSI closes above ``overbought``.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from ats.exchanges.data_classes import Candle
from ats.strategies.base_strategy import BaseStrategy, StrategyParams


class RsiReversionParams(StrategyParams):
    N: int = Field(14, ge=2, description="RSI period")
    oversold: float = Field(30.0, gt=0, lt=100)
    overbought: float = Field(70.0, gt=0, lt=100)
    symbol: str | None = None

    @model_validator(mode="after")
    def _bands_ordered(self) -> RsiReversionParams:
        if self.oversold >= self.overbought:
            raise ValueError(
                f"oversold ({self.oversold}) must be below overbought ({self.overbought})"
            )
        return self


class Strategy(BaseStrategy):
    name = "rsi_reversion"
    Params = RsiReversionParams
    params: RsiReversionParams

    def setup(self) -> None:
        self.rsi = self.indicator("rsi", N=self.params.N)

    def on_candle(self, candle: Candle) -> None:
        rsi = self.rsi.result
        if rsi < self.params.oversold:
            if self.position.is_flat:
                free_quote = self.balance(self.quote).free
                if free_quote > 0:
                    self.buy(quote_amount=free_quote)
        elif rsi > self.params.overbought:
            self.sell_all()
