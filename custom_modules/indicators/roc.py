"""Worked example of a custom indicator: rate of change in percent (TA-Lib ROC).

``roc[i] = (x[i] / x[i - N] - 1) * 100``; first value at index N. Use it in a strategy with
``self.roc = self.indicator("roc", N=10)`` and read ``self.roc.result``.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ats.indicators.base_indicator import BaseIndicator, ConfigReader, FloatArray


class ROC(BaseIndicator):
    name = "roc"
    panel = "oscillator"  # a percentage, not a price: charts draw it under the candles
    result: float
    _state_fields = ("_window",)

    def _configure(self, cfg: ConfigReader) -> None:
        self.inputs = (cfg.source(),)
        self._n = cfg.integer("N", 10)

    def _reset_state(self) -> None:
        # N + 1 values: the newest and the one N candles before it.
        self._window: deque[float] = deque(maxlen=self._n + 1)

    def update(self, *values: float) -> None:
        (value,) = values
        self._window.append(float(value))
        if len(self._window) > self._n:
            self.result = (self._window[-1] / self._window[0] - 1.0) * 100.0

    def _compute(self, *arrays: FloatArray) -> dict[str, FloatArray]:
        (x,) = arrays
        out = np.full(x.shape[0], np.nan)
        if x.shape[0] > self._n:
            out[self._n :] = (x[self._n :] / x[: -self._n] - 1.0) * 100.0
        return {"result": out}
