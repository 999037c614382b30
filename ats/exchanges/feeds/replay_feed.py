"""Replays a candle file paced like a live market, for demos and paper-trading drills.

``speed`` multiplies real time: 1.0 waits a full timeframe between candles, 60.0 plays
a 1-minute file at one candle a second, and 0 (or less) plays as fast as possible while
still yielding to the event loop after every candle.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from ats.data.candle_cache import load_candles_cached
from ats.data.candles import CandleData
from ats.exceptions import ConfigError
from ats.exchanges.data_classes import Candle, Progress
from ats.exchanges.feeds.base_feed import CandleFeed
from ats.exchanges.run_control import RunControl

MAX_SPEED = 1_000_000.0


class ReplayFeed(CandleFeed):
    def __init__(self, path: str | Path, symbol: str, speed: float = 1.0) -> None:
        self.path = Path(path)
        self.symbol = symbol
        self.speed = self._checked_speed(speed)
        self.data: CandleData | None = None
        self.cursor = 0

    @staticmethod
    def _checked_speed(speed: float) -> float:
        try:
            value = float(speed)
        except (TypeError, ValueError):
            raise ConfigError(f"exchange.params.speed must be a number, got {speed!r}") from None
        return min(value, MAX_SPEED)

    def set_speed(self, speed: float) -> float:
        self.speed = self._checked_speed(speed)
        return self.speed

    async def open(self) -> None:
        if self.data is None:
            self.data = await asyncio.to_thread(load_candles_cached, self.path)
            self.timeframe_ms = self.data.timeframe_ms

    async def next_candle(self, control: RunControl) -> Candle | None:
        data = self.data
        if data is None or self.cursor >= len(data):
            return None
        if self.speed > 0 and self.cursor > 0:
            await control.sleep(self.timeframe_ms / 1000 / self.speed)
        else:
            await control.checkpoint()
        i = self.cursor
        self.cursor += 1
        return Candle(
            self.symbol,
            int(data.timestamps[i]),
            float(data.open[i]),
            float(data.high[i]),
            float(data.low[i]),
            float(data.close[i]),
            float(data.volume[i]),
        )

    @property
    def progress(self) -> Progress:
        total = len(self.data) if self.data is not None else None
        return Progress(self.cursor, total)

    def snapshot(self) -> dict[str, object]:
        return {"cursor": self.cursor, "speed": self.speed}

    def restore(self, data: dict[str, object]) -> None:
        self.cursor = int(data.get("cursor", 0))  # type: ignore[call-overload]
        if data.get("speed") is not None:  # the pace chosen while it ran (+/-), not the config's
            self.speed = self._checked_speed(data["speed"])  # type: ignore[arg-type]
