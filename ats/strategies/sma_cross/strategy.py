"""Long-only moving-average crossover.

Buys with all free quote when SMA(fast) crosses above SMA(slow) on a close, sells the
whole position when it crosses back below. A cross means: the previous close had
fast < slow (resp. >) and this close has fast > slow (resp. <), the same definition as
backtesting.py's ``crossover``.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from ats.data.candles import CandleData
from ats.exchanges.data_classes import Candle
from ats.state.simple_state import SimpleState
from ats.strategies.base_strategy import BaseStrategy, Signals, StrategyParams


class SmaCrossParams(StrategyParams):
    fast: int = Field(10, ge=1, description="period of the fast SMA")
    slow: int = Field(30, ge=2, description="period of the slow SMA")
    symbol: str | None = Field(None, description="defaults to the job's symbol")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> SmaCrossParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be smaller than slow ({self.slow})")
        return self


class SmaCrossState(SimpleState):
    prev_diff: float = float("nan")
    """SMA(fast) - SMA(slow) on the previous close, or an earlier one of the same sign
    (above, below, neither): only its sign is used, a flip from below to above (or back)
    is a cross."""


class Strategy(BaseStrategy):
    name = "sma_cross"
    Params = SmaCrossParams
    State = SmaCrossState
    params: SmaCrossParams
    state: SmaCrossState

    def setup(self) -> None:
        self.fast = self.indicator("sma", N=self.params.fast)
        self.slow = self.indicator("sma", N=self.params.slow)

    def on_candle(self, candle: Candle) -> None:
        # fast - slow < 0 exactly when fast < slow (IEEE subtraction is exact in sign),
        # so comparing differences is the strict crossover test; NaN never crosses.
        diff = self.fast.result - self.slow.result
        prev_diff = self.state.prev_diff
        # The state is written only when the sign changes: an assignment to a State is
        # validated (~0.1 us), a tenth of this loop's time per candle when done on every
        # candle (bench/backtest_speed.py). Crossings depend on the sign alone.
        if diff > 0.0:
            if prev_diff > 0.0:
                return
            self.state.prev_diff = diff
            if prev_diff < 0.0:
                free_quote = self.balance(self.quote).free
                if free_quote > 0 and self.position.is_flat:
                    self.buy(quote_amount=free_quote)
        elif diff < 0.0:
            if prev_diff < 0.0:
                return
            self.state.prev_diff = diff
            if prev_diff > 0.0:
                self.sell_all()
        elif prev_diff > 0.0 or prev_diff < 0.0:  # now neither above nor below (0 or NaN)
            self.state.prev_diff = diff

    def populate_signals(self, data: CandleData) -> Signals:
        diff = self.fast.compute(data.close)["result"] - self.slow.compute(data.close)["result"]
        below, above = diff < 0.0, diff > 0.0  # NaN is neither: it never crosses
        entries = np.zeros(len(diff), dtype=bool)
        exits = np.zeros(len(diff), dtype=bool)
        np.logical_and(below[:-1], above[1:], out=entries[1:])
        np.logical_and(above[:-1], below[1:], out=exits[1:])
        return Signals(entries=entries, exits=exits)
