"""Exponential moving average seeded like TA-Lib's EMA."""

from __future__ import annotations

import numpy as np

from ats.indicators import _kernels as k
from ats.indicators.base_indicator import BaseIndicator, ConfigReader, FloatArray


class EMA(BaseIndicator):
    """EMA with ``k = 2 / (N + 1)``, seeded with the SMA of the first N values.

    That seed (TA-Lib's default compatibility mode) puts the first value at index N-1;
    the recursion ``(x - prev) * k + prev`` is TA-Lib's own form.
    """

    name = "ema"
    result: float
    _state_fields = ("_count", "_sum", "_prev")

    def _configure(self, cfg: ConfigReader) -> None:
        self.inputs = (cfg.source(),)
        self._n = cfg.integer("N")
        self._k = 2.0 / (self._n + 1)

    def _reset_state(self) -> None:
        self._count = 0
        self._sum = 0.0
        self._prev = float("nan")

    def update(self, *values: float) -> None:
        (value,) = values
        x = float(value)
        self._count += 1
        if self._count <= self._n:
            total = x if self._count == 1 else self._sum + x
            self._sum = total
            if self._count < self._n:
                return
            prev = total / self._n
        else:
            prev = self._prev
            prev = (x - prev) * self._k + prev
        self._prev = prev
        self.result = prev

    def _compute(self, *arrays: FloatArray) -> dict[str, FloatArray]:
        (x,) = arrays
        return {"result": ema_series(x, self._n)}


def ema_series(x: FloatArray, n: int) -> FloatArray:
    """Vectorised twin of ``EMA.update`` (also the building block of MACD)."""
    out = k.nan_array(x.shape[0])
    if x.shape[0] < n:
        return out
    seed = float(np.cumsum(x[:n])[-1]) / n
    out[n - 1] = seed
    out[n:] = k.ema_run(seed, x[n:], 2.0 / (n + 1))
    return out
