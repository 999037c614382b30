"""On-balance volume (TA-Lib OBV)."""

from __future__ import annotations

import numpy as np

from ats.indicators import _kernels as k
from ats.indicators.base_indicator import BaseIndicator, FloatArray


class OBV(BaseIndicator):
    """Running total of volume, added on up closes and subtracted on down closes.

    Like TA-Lib it starts at the first candle's volume (not at 0), so it is ready
    immediately. It has no parameters.
    """

    name = "obv"
    inputs = ("close", "volume")
    panel = "oscillator"
    result: float
    _state_fields = ("_count", "_prev_close", "_total")

    def _reset_state(self) -> None:
        self._count = 0
        self._prev_close = float("nan")
        self._total = 0.0

    def update(self, *values: float) -> None:
        close_value, volume_value = values
        close, volume = float(close_value), float(volume_value)
        self._count += 1
        if self._count == 1:
            total = volume
        else:
            total = self._total
            if close > self._prev_close:
                total += volume
            elif close < self._prev_close:
                total -= volume
        self._prev_close = close
        self._total = total
        self.result = total

    def _compute(self, *arrays: FloatArray) -> dict[str, FloatArray]:
        close, volume = arrays
        out = k.nan_array(close.shape[0])
        if close.shape[0] == 0:
            return {"result": out}
        change = np.diff(close)
        steps = np.empty_like(volume)
        steps[0] = volume[0]
        steps[1:] = np.where(change > 0.0, volume[1:], np.where(change < 0.0, -volume[1:], 0.0))
        out[:] = np.cumsum(steps)
        return {"result": out}
