"""Simple moving average: mean of the last N values (TA-Lib SMA)."""

from __future__ import annotations

from collections import deque

import numpy as np

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
    """Vectorised twin of ``SMA.update`` (also used by Bollinger bands).

    The same sums as the streaming loop: recomputed left to right at ``t = n-1, 2n-1, ...``
    and carried by ``x[t] - x[t-n]`` in between (a cumsum restarted every ``n`` steps).
    The recomputed windows are the consecutive blocks ``x[k*n:(k+1)*n]``, so they are a
    reshaped view, and both left-to-right passes go column by column when the rows are
    short (:func:`~ats.indicators._kernels.row_sums`): the SMA pair of sma_cross's
    ``populate_signals`` was a sixth of bench/backtest_speed.py's vectorised figure.
    """
    size = x.shape[0]
    if size < n:
        return k.nan_array(size)
    out = np.empty(size, dtype=np.float64)
    first = n - 1
    m = size - first
    rows = -(-m // n)
    grid = np.empty(rows * n, dtype=np.float64)
    grid[m:] = 0.0  # the last run's padding
    np.subtract(x[n:], x[: size - n], out=grid[1:m])  # x[t] - x[t - n] for t = n .. size-1
    runs = grid.reshape(rows, n)
    runs[:, 0] = k.row_sums(x[: rows * n].reshape(rows, n))  # the recomputed window sums
    k.accumulate_rows(runs)
    out[:first] = np.nan
    np.divide(grid[:m], n, out=out[first:])
    return out
