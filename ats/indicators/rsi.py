"""Relative strength index with Wilder smoothing (TA-Lib RSI)."""

from __future__ import annotations

import numpy as np

from ats.indicators import _kernels as k
from ats.indicators.base_indicator import BaseIndicator, ConfigReader, FloatArray


class RSI(BaseIndicator):
    """``100 * avg_gain / (avg_gain + avg_loss)``; first value at index N.

    As in TA-Lib: the averages are seeded with the plain mean of the first N changes,
    then smoothed as ``(avg * (N - 1) + change) / N``; a window without any change gives 0.
    """

    name = "rsi"
    panel = "oscillator"
    result: float
    _state_fields = ("_count", "_prev", "_gain", "_loss")

    def _configure(self, cfg: ConfigReader) -> None:
        self.inputs = (cfg.source(),)
        self._n = cfg.integer("N", 14)
        self._keep = float(self._n - 1)
        self._divisor = float(self._n)

    def _reset_state(self) -> None:
        self._count = 0
        self._prev = float("nan")
        self._gain = 0.0
        self._loss = 0.0

    def update(self, *values: float) -> None:
        (value,) = values
        x = float(value)
        self._count += 1
        change = x - self._prev
        self._prev = x
        if self._count == 1:
            return
        up = change if change > 0.0 else 0.0
        down = -change if change < 0.0 else 0.0
        n = self._n
        if self._count <= n + 1:
            gain = up if self._count == 2 else self._gain + up
            loss = down if self._count == 2 else self._loss + down
            if self._count <= n:
                self._gain = gain
                self._loss = loss
                return
            gain /= n
            loss /= n
        else:
            gain = (self._gain * self._keep + up) / self._divisor
            loss = (self._loss * self._keep + down) / self._divisor
        self._gain = gain
        self._loss = loss
        total = gain + loss
        self.result = 100.0 * (gain / total) if total != 0.0 else 0.0

    def _compute(self, *arrays: FloatArray) -> dict[str, FloatArray]:
        (x,) = arrays
        n = self._n
        out = k.nan_array(x.shape[0])
        if x.shape[0] <= n:
            return {"result": out}
        change = np.diff(x)
        up = np.where(change > 0.0, change, 0.0)
        down = np.where(change < 0.0, -change, 0.0)
        gain = np.empty(x.shape[0] - n)
        loss = np.empty_like(gain)
        gain[0] = np.cumsum(up[:n])[-1] / n
        loss[0] = np.cumsum(down[:n])[-1] / n
        gain[1:] = k.wilder_run(float(gain[0]), up[n:], n)
        loss[1:] = k.wilder_run(float(loss[0]), down[n:], n)
        total = gain + loss
        with np.errstate(divide="ignore", invalid="ignore"):
            out[n:] = np.where(total != 0.0, 100.0 * (gain / total), 0.0)
        return {"result": out}
