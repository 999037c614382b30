"""What a streaming job (paper, live) keeps of its recent past for charts and reports.

A backtest's history is its candle file up to the cursor; a streamed candle is gone
once handled, so the job keeps the latest ones here, bounded: the candles, each
indicator output by overlay label, and the equity after every candle.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ats.exchanges.data_classes import Candle
from ats.indicators.base_indicator import BaseIndicator

CANDLE_HISTORY = 2_000
"""Candles (and overlay values) kept in memory for charts of streaming jobs."""
EQUITY_SAMPLES = 100_000
"""Equity samples kept for streaming jobs (paper/live); older ones are dropped."""


def overlay_label(indicator: BaseIndicator, output: str) -> str:
    """``sma(50)``, ``bbands(20,2).upper``: how an indicator output is named on charts."""
    params = ",".join(
        f"{value:g}" if isinstance(value, float) else str(value)
        for key, value in indicator.config.items()
        if not (key == "source" and value == "close")
    )
    suffix = "" if output == "result" else f".{output}"
    return f"{indicator.name}({params}){suffix}"


class StreamHistory:
    """The latest streamed candles, indicator values and equity, each bounded."""

    def __init__(self) -> None:
        self._candles: deque[Candle] = deque(maxlen=CANDLE_HISTORY)
        self._overlays: dict[str, deque[float]] = {}
        self._equity: deque[tuple[int, float]] = deque(maxlen=EQUITY_SAMPLES)

    def overlay(self, label: str) -> deque[float]:
        """The values kept of one indicator output (the streaming handler appends)."""
        values = self._overlays.get(label)
        if values is None:
            values = self._overlays[label] = deque(maxlen=CANDLE_HISTORY)
        return values

    def record(self, candle: Candle, equity: float) -> None:
        """A handled candle (a copy the caller no longer changes) and the equity after it."""
        self._candles.append(candle)
        self._equity.append((candle.timestamp, equity))

    def clear_equity(self) -> None:
        """A new run starts its equity curve afresh."""
        self._equity.clear()

    def recent_candles(self, count: int) -> list[Candle]:
        return list(self._candles)[-count:] if count > 0 else []

    def overlays(self, count: int) -> dict[str, list[float]]:
        """The last ``count`` values of each indicator output, by overlay label."""
        return {
            label: list(values)[-count:] if count > 0 else []
            for label, values in self._overlays.items()
        }

    def equity_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(timestamps ms, equity) of the candles kept."""
        if not self._equity:
            return np.empty(0, dtype=np.int64), np.empty(0)
        times, values = zip(*self._equity, strict=True)
        return np.asarray(times, dtype=np.int64), np.asarray(values, dtype=np.float64)
