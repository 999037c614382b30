"""Moving average convergence/divergence (TA-Lib MACD)."""

from __future__ import annotations

import numpy as np

from ats.indicators import _kernels as k
from ats.indicators.base_indicator import BaseIndicator, ConfigReader, FloatArray


class MACD(BaseIndicator):
    """``macd = EMA_fast - EMA_slow``, ``signal = EMA_signal(macd)``, ``hist = macd - signal``.

    Reproduces TA-Lib's alignment: the slow EMA is seeded with the SMA of the first
    ``slow`` values, but the fast EMA is seeded with the SMA of the ``fast`` values ending
    at that same index (not of the first ``fast`` values). The signal EMA is seeded with
    the SMA of the first ``signal`` MACD values, and all three outputs stay NaN until the
    signal exists, i.e. up to index ``slow + signal - 2``.
    """

    name = "macd"
    outputs = ("macd", "signal", "hist")
    panel = "oscillator"
    output_styles = {"hist": "bars"}
    macd: float
    signal: float
    hist: float
    _state_fields = ("_count", "_fast_sum", "_slow_sum", "_signal_sum", "_fast", "_slow", "_sig")

    def _configure(self, cfg: ConfigReader) -> None:
        self.inputs = (cfg.source(),)
        self._fast_n = cfg.integer("fast", 12)
        self._slow_n = cfg.integer("slow", 26)
        if self._slow_n <= self._fast_n:
            raise cfg.fail("slow", f"an integer > fast ({self._fast_n})", self._slow_n)
        self._signal_n = cfg.integer("signal", 9)
        self._fast_k = 2.0 / (self._fast_n + 1)
        self._slow_k = 2.0 / (self._slow_n + 1)
        self._signal_k = 2.0 / (self._signal_n + 1)

    @property
    def result(self) -> float:
        """The MACD line (first output)."""
        return self.macd

    def _reset_state(self) -> None:
        self._count = 0
        self._fast_sum = 0.0
        self._slow_sum = 0.0
        self._signal_sum = 0.0
        self._fast = float("nan")
        self._slow = float("nan")
        self._sig = float("nan")

    def update(self, *values: float) -> None:
        (value,) = values
        x = float(value)
        fast_n, slow_n = self._fast_n, self._slow_n
        self._count += 1
        count = self._count
        if count <= slow_n:
            self._slow_sum = x if count == 1 else self._slow_sum + x
            fast_from = slow_n - fast_n + 1
            if count >= fast_from:
                self._fast_sum = x if count == fast_from else self._fast_sum + x
            if count < slow_n:
                return
            fast = self._fast_sum / fast_n
            slow = self._slow_sum / slow_n
        else:
            fast = (x - self._fast) * self._fast_k + self._fast
            slow = (x - self._slow) * self._slow_k + self._slow
        self._fast = fast
        self._slow = slow
        line = fast - slow
        seen = count - slow_n + 1  # MACD values so far
        if seen <= self._signal_n:
            self._signal_sum = line if seen == 1 else self._signal_sum + line
            if seen < self._signal_n:
                return
            sig = self._signal_sum / self._signal_n
        else:
            sig = (line - self._sig) * self._signal_k + self._sig
        self._sig = sig
        self.macd = line
        self.signal = sig
        self.hist = line - sig

    def _compute(self, *arrays: FloatArray) -> dict[str, FloatArray]:
        (x,) = arrays
        size = x.shape[0]
        macd, signal, hist = k.nan_array(size), k.nan_array(size), k.nan_array(size)
        outputs = {"macd": macd, "signal": signal, "hist": hist}
        fast_n, slow_n, signal_n = self._fast_n, self._slow_n, self._signal_n
        lookback = slow_n + signal_n - 2
        if size <= lookback:
            return outputs
        slow_seed = float(np.cumsum(x[:slow_n])[-1]) / slow_n
        fast_seed = float(np.cumsum(x[slow_n - fast_n : slow_n])[-1]) / fast_n
        tail = x[slow_n:]
        slow = np.concatenate(([slow_seed], k.ema_run(slow_seed, tail, self._slow_k)))
        fast = np.concatenate(([fast_seed], k.ema_run(fast_seed, tail, self._fast_k)))
        line = fast - slow  # indices slow_n - 1 .. size - 1
        signal_seed = float(np.cumsum(line[:signal_n])[-1]) / signal_n
        signal[lookback] = signal_seed
        signal[lookback + 1 :] = k.ema_run(signal_seed, line[signal_n:], self._signal_k)
        macd[lookback:] = line[signal_n - 1 :]
        hist[lookback:] = macd[lookback:] - signal[lookback:]
        return outputs
