"""What a streaming job (paper, live) keeps of its recent past for charts and reports.

A backtest's history is its candle file up to the cursor; a streamed candle is gone
once handled, so the job keeps the latest ones here, bounded: the candles, each
indicator output by overlay label, and the equity after every candle.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from ats.exchanges.data_classes import Candle
from ats.indicators.base_indicator import BaseIndicator

CANDLE_HISTORY = 2_000
"""Candles (and overlay values) kept in memory for charts of streaming jobs."""
EQUITY_SAMPLES = 100_000
"""Equity samples kept for streaming jobs (paper/live); older ones are dropped."""
SAVED_CANDLES = 600
"""Candles (and indicator values) a snapshot keeps, so the chart after a restart shows
what it showed before (a 160-column chart zoomed out 4x); the rest are not saved."""
SAVED_EQUITY = 2_000
"""Equity samples a snapshot keeps, evenly thinned over the whole curve."""


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

    def to_dict(self) -> dict[str, Any]:
        """What a snapshot keeps (JSON data, NaN as null), bounded by :data:`SAVED_CANDLES`
        and :data:`SAVED_EQUITY`: the chart and equity curve continue after a restart."""
        count = min(len(self._candles), SAVED_CANDLES)
        candles = [candle.to_row() for candle in list(self._candles)[-count:]] if count else []
        overlays = {
            label: [None if math.isnan(value) else value for value in list(values)[-count:]]
            for label, values in self._overlays.items()
        }
        kept = list(self._equity)  # one C-level copy; only the picked samples become lists
        if len(kept) > SAVED_EQUITY:
            picks = np.linspace(0, len(kept) - 1, SAVED_EQUITY).astype(np.int64).tolist()
            kept = [kept[index] for index in picks]
        equity = [[time, value] for time, value in kept]
        return {"candles": candles, "overlays": overlays, "equity": equity}

    def restore(self, data: dict[str, Any]) -> None:
        """Take up what :meth:`to_dict` saved (a snapshot without it leaves this empty)."""
        self._candles.clear()
        self._candles.extend(Candle.from_row(row) for row in data.get("candles") or ())
        self._overlays.clear()
        for label, values in (data.get("overlays") or {}).items():
            self.overlay(label).extend(math.nan if v is None else float(v) for v in values)
        self._equity.clear()
        self._equity.extend((int(time), float(value)) for time, value in data.get("equity") or ())

    def equity_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(timestamps ms, equity) of the candles kept."""
        if not self._equity:
            return np.empty(0, dtype=np.int64), np.empty(0)
        times, values = zip(*self._equity, strict=True)
        return np.asarray(times, dtype=np.int64), np.asarray(values, dtype=np.float64)
