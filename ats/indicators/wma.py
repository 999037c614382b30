"""Linearly weighted moving average (TA-Lib WMA)."""

from __future__ import annotations

from collections import deque

import numpy as np

from ats.indicators import _kernels as k
from ats.indicators.base_indicator import BaseIndicator, ConfigReader, FloatArray


class WMA(BaseIndicator):
    """Weights 1..N, newest value heaviest, divided by N(N+1)/2; first value at N-1.

    Streaming keeps the plain window sum S and the weighted sum W, using
    ``W_t = W_{t-1} - S_{t-1} + N * x_t`` (TA-Lib's trick), and recomputes both from the
    ring buffer every N updates to stop rounding drift (O(1) amortised).
    """

    name = "wma"
    result: float
    _state_fields = ("_window", "_count", "_sum", "_wsum")

    def _configure(self, cfg: ConfigReader) -> None:
        self.inputs = (cfg.source(),)
        self._n = cfg.integer("N")
        self._weights = [float(w) for w in range(1, self._n + 1)]
        self._divider = float(self._n * (self._n + 1) // 2)

    def _reset_state(self) -> None:
        self._window: deque[float] = deque(maxlen=self._n)
        self._count = 0
        self._sum = 0.0
        self._wsum = 0.0

    def update(self, *values: float) -> None:
        (value,) = values
        x = float(value)
        window = self._window
        oldest = window[0] if len(window) == self._n else 0.0
        window.append(x)
        self._count += 1
        if self._count < self._n:
            return
        if self._count % self._n == 0:
            total = k.sequential_sum(window)
            weighted = k.sequential_sum(w * v for w, v in zip(self._weights, window, strict=True))
        else:
            weighted = self._wsum + (self._n * x - self._sum)
            total = self._sum + (x - oldest)
        self._sum = total
        self._wsum = weighted
        self.result = weighted / self._divider

    def _compute(self, *arrays: FloatArray) -> dict[str, FloatArray]:
        (x,) = arrays
        n = self._n
        size = x.shape[0]
        out = k.nan_array(size)
        if size < n:
            return {"result": out}
        first = n - 1
        starts = k.resync_starts(first, size, n)
        windows = k.windows_at(x, n, starts)
        sums = k.resync_cumsum(k.row_sums(windows), x[first:] - k.lagged(x, n, first), n)
        weights = np.arange(1, n + 1, dtype=np.float64)
        # W_t - W_{t-1} = N * x_t - S_{t-1}; the first element is replaced by a resync.
        increments = np.empty_like(sums)
        increments[0] = 0.0
        increments[1:] = n * x[n:] - sums[:-1]
        wsums = k.resync_cumsum(k.row_sums(windows * weights), increments, n)
        out[first:] = wsums / self._divider
        return {"result": out}
