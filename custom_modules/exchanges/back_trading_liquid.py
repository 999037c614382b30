"""Worked example of a custom exchange: back_trading that skips zero-volume candles.

Some exchanges publish candles with no trades (open = high = low = close, volume 0); a
fill at such a price could never have happened. Use it with
``exchange: {name: back_trading_liquid, params: {data: FILE}}``.
"""

from __future__ import annotations

import dataclasses

from ats.data.candles import CandleData
from ats.exchanges.exchanges.back_trading.exchange import Exchange as BackTrading


class Exchange(BackTrading):
    name = "back_trading_liquid"

    def load_data(self, data: CandleData) -> None:
        traded = data.volume > 0
        skipped = int((~traded).sum())
        if skipped:
            self.log("INFO", f"skipping {skipped} zero-volume candles of {len(data)}")
            data = dataclasses.replace(
                data,
                timestamps=data.timestamps[traded],
                open=data.open[traded],
                high=data.high[traded],
                low=data.low[traded],
                close=data.close[traded],
                volume=data.volume[traded],
            )
        super().load_data(data)
