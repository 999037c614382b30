"""Worked example of a custom strategy: Bollinger band breakout, long only.

Buys with all free quote when a candle closes above the upper band, sells everything when
one closes below the middle band. Run it with
``ats backtest --strategy bollinger_breakout --param N=40 --data data/BTC_USDT_3s_2022-05-12.csv``.
"""

from __future__ import annotations

from pydantic import Field

from ats.exchanges.data_classes import Candle
from ats.state.simple_state import SimpleState
from ats.strategies.base_strategy import BaseStrategy, StrategyParams


class BreakoutParams(StrategyParams):
    N: int = Field(20, ge=2, description="band period")
    nbdev: float = Field(2.0, gt=0, description="band width in standard deviations")
    symbol: str | None = None


class BreakoutState(SimpleState):
    breakouts: int = 0


class Strategy(BaseStrategy):
    name = "bollinger_breakout"
    Params = BreakoutParams
    State = BreakoutState
    params: BreakoutParams
    state: BreakoutState

    def setup(self) -> None:
        self.bands = self.indicator(
            "bbands", N=self.params.N, nbdev_up=self.params.nbdev, nbdev_dn=self.params.nbdev
        )

    def on_candle(self, candle: Candle) -> None:
        flat = self.position.is_flat  # dust the market will not take counts as flat
        if flat and candle.close > self.bands.upper:
            free_quote = self.balance(self.quote).free
            if free_quote > 0:
                self.buy(quote_amount=free_quote)
                self.state.breakouts += 1
        elif not flat and candle.close < self.bands.middle:
            self.sell_all()
