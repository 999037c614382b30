"""Average true range with Wilder smoothing (TA-Lib ATR)."""

from __future__ import annotations

import numpy as np

from ats.indicators import _kernels as k
from ats.indicators.base_indicator import BaseIndicator, ConfigReader, FloatArray


class ATR(BaseIndicator):
    """Wilder-smoothed true range; first value at index N (the first candle has no TR).

    As in TA-Lib: seeded with the plain mean of TR[1..N], then ``(atr * (N - 1) + tr) / N``.
    """

    name = "atr"
    inputs = ("high", "low", "close")
    panel = "oscillator"
    result: float
    _state_fields = ("_count", "_prev_close", "_sum", "_atr")

    def _configure(self, cfg: ConfigReader) -> None:
        self._n = cfg.integer("N", 14)
        self._keep = float(self._n - 1)
        self._divisor = float(self._n)

    def _reset_state(self) -> None:
        self._count = 0
        self._prev_close = float("nan")
        self._sum = 0.0
        self._atr = float("nan")

    def update(self, *values: float) -> None:
        high, low, close = values
        h, lo, c = float(high), float(low), float(close)
        prev_close = self._prev_close
        self._prev_close = c
        self._count += 1
        if self._count == 1:
            return
        tr = max(h - lo, abs(h - prev_close), abs(lo - prev_close))
        n = self._n
        if self._count <= n + 1:
            total = tr if self._count == 2 else self._sum + tr
            self._sum = total
            if self._count <= n:
                return
            atr = total / n
        else:
            atr = (self._atr * self._keep + tr) / self._divisor
        self._atr = atr
        self.result = atr

    def _compute(self, *arrays: FloatArray) -> dict[str, FloatArray]:
        return {"result": atr_series(*arrays, n=self._n)}


def atr_series(high: FloatArray, low: FloatArray, close: FloatArray, *, n: int) -> FloatArray:
    """Vectorised twin of ``ATR.update`` (also used by SuperTrend)."""
    out = k.nan_array(close.shape[0])
    if close.shape[0] <= n:
        return out
    tr = k.true_range(high, low, close)
    seed = float(np.cumsum(tr[1 : n + 1])[-1]) / n
    out[n] = seed
    out[n + 1 :] = k.wilder_run(seed, tr[n + 1 :], n)
    return out
