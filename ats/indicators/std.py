"""Rolling population standard deviation (TA-Lib STDDEV)."""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from ats.indicators import _kernels as k
from ats.indicators.base_indicator import BaseIndicator, ConfigReader, FloatArray


class STD(BaseIndicator):
    """``nbdev * sqrt(mean(x^2) - mean(x)^2)`` over the last N values (ddof=0).

    The naive running sums of x and x^2 lose about 9 significant digits on BTC prices
    (x^2 ~ 1e9 against a variance ~ 1e1), so the sums run over ``x - K`` with the shift
    ``K`` re-anchored to the newest value whenever the sums are recomputed from the ring
    buffer (every N updates, O(1) amortised): deviations then stay within the local price
    range and the result matches TA-Lib to ~1e-12. A window of identical values gives
    exactly 0 (tracked with a run length) and tiny negative variances are clamped to 0.
    """

    name = "std"
    panel = "oscillator"
    result: float
    _state_fields = ("_window", "_count", "_shift", "_s1", "_s2", "_last", "_run")

    def _configure(self, cfg: ConfigReader) -> None:
        self.inputs = (cfg.source(),)
        self._n = cfg.integer("N")
        self._nbdev = cfg.number("nbdev", 1.0)

    def _reset_state(self) -> None:
        self._window: deque[float] = deque(maxlen=self._n)
        self._count = 0
        self._shift = 0.0
        self._s1 = 0.0
        self._s2 = 0.0
        self._last = math.nan
        self._run = 0

    def update(self, *values: float) -> None:
        (value,) = values
        x = float(value)
        n = self._n
        window = self._window
        oldest = window[0] if len(window) == n else 0.0
        window.append(x)
        self._count += 1
        self._run = min(self._run + 1, n) if x == self._last else 1
        self._last = x
        if self._count < n:
            return
        if self._count % n == 0:
            shift = self._shift = x
            s1 = k.sequential_sum(v - shift for v in window)
            s2 = k.sequential_sum((v - shift) * (v - shift) for v in window)
        else:
            shift = self._shift
            new = x - shift
            old = oldest - shift
            s1 = self._s1 + (new - old)
            s2 = self._s2 + (new * new - old * old)
        self._s1 = s1
        self._s2 = s2
        mean = s1 / n
        variance = s2 / n - mean * mean
        if self._run >= n or variance < 0.0:
            variance = 0.0
        self.result = math.sqrt(variance) * self._nbdev

    def _compute(self, *arrays: FloatArray) -> dict[str, FloatArray]:
        (x,) = arrays
        return {"result": rolling_std(x, self._n, self._nbdev)}


def rolling_std(x: FloatArray, n: int, nbdev: float) -> FloatArray:
    """Vectorised twin of ``STD.update`` (also used by Bollinger bands)."""
    size = x.shape[0]
    out = k.nan_array(size)
    if size < n:
        return out
    first = n - 1
    starts = k.resync_starts(first, size, n)
    shifts = x[starts]
    deviations = k.windows_at(x, n, starts) - shifts[:, None]
    per_step_shift = np.repeat(shifts, n)[: size - first]
    new = x[first:] - per_step_shift
    old = k.lagged(x, n, first) - per_step_shift
    s1 = k.resync_cumsum(k.row_sums(deviations), new - old, n)
    s2 = k.resync_cumsum(k.row_sums(deviations * deviations), new * new - old * old, n)
    mean = s1 / n
    variance = s2 / n - mean * mean
    variance[(k.run_lengths(x)[first:] >= n) | (variance < 0.0)] = 0.0
    out[first:] = np.sqrt(variance) * nbdev
    return out
