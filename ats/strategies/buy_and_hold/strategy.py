"""Buys with all free quote on the first candle and holds: the benchmark to beat."""

from __future__ import annotations

from ats.exchanges.data_classes import Candle
from ats.state.simple_state import SimpleState
from ats.strategies.base_strategy import BaseStrategy, StrategyParams


class BuyAndHoldParams(StrategyParams):
    symbol: str | None = None


class BuyAndHoldState(SimpleState):
    bought: bool = False


class Strategy(BaseStrategy):
    name = "buy_and_hold"
    Params = BuyAndHoldParams
    State = BuyAndHoldState
    state: BuyAndHoldState

    def on_candle(self, candle: Candle) -> None:
        if self.state.bought:
            return
        free_quote = self.balance(self.quote).free
        if free_quote > 0:
            self.buy(quote_amount=free_quote)
        self.state.bought = True
