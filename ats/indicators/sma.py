"""Simple moving average: mean of the last N values (TA-Lib SMA)."""

from __future__ import annotations

from collections import deque

from ats.indicators import _kernels as k
from ats.indicators.base_indicator import BaseIndicator, ConfigReader, FloatArray


class SMA(BaseIndicator):
    """Mean of the last ``N`` values of ``source``; first value at index N-1.

    Streaming keeps a running window sum and recomputes it from the ring buffer every N
    updates, so rounding drift cannot build up over millions of candles (O(1) amortised).
    """

    name = "sma"
    result: float
    _state_fields = ("_window", "_count", "_sum")

    def _configure(self, cfg: ConfigReader) -> None:
        self.inputs = (cfg.source(),)
        self._n = cfg.integer("N")

    def _reset_state(self) -> None:
        self._window: deque[float] = deque(maxlen=self._n)
        self._count = 0
        self._sum = 0.0

    def update(self, *values: float) -> None:
        (value,) = values
        x = float(value)
        window = self._window
        oldest = window[0] if len(window) == self._n else 0.0
        window.append(x)
        self._count += 1
        if self._count < self._n:
            return
        resync = self._count % self._n == 0  # recompute from the buffer: no drift
        total = k.sequential_sum(window) if resync else self._sum + (x - oldest)
        self._sum = total
        self.result = total / self._n

    def _compute(self, *arrays: FloatArray) -> dict[str, FloatArray]:
        (x,) = arrays
        return {"result": window_means(x, self._n)}


def window_means(x: FloatArray, n: int) -> FloatArray:
    """Vectorised twin of ``SMA.update`` (also used by Bollinger bands)."""
    size = x.shape[0]
    out = k.nan_array(size)
    if size < n:
        return out
    first = n - 1
    starts = k.resync_starts(first, size, n)
    increments = x[first:] - k.lagged(x, n, first)
    sums = k.resync_cumsum(k.row_sums(k.windows_at(x, n, starts)), increments, n)
    out[first:] = sums / n
    return out
