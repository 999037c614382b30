"""Bollinger bands: SMA middle band +/- a multiple of the rolling std (TA-Lib BBANDS)."""

from __future__ import annotations

# Modules, not classes, are imported so this module defines exactly one indicator class.
from ats.indicators import sma as _sma
from ats.indicators import std as _std
from ats.indicators.base_indicator import BaseIndicator, ConfigReader, FloatArray


class BBANDS(BaseIndicator):
    """``middle = SMA(N)``, ``upper/lower = middle +/- nbdev_up/dn * population std(N)``.

    Matches ``talib.BBANDS(..., matype=0)``; all three bands start at index N-1.
    """

    name = "bbands"
    outputs = ("upper", "middle", "lower")
    upper: float
    middle: float
    lower: float
    _state_fields = ("_sma", "_std")

    def _configure(self, cfg: ConfigReader) -> None:
        source = cfg.source()
        self.inputs = (source,)
        self._n = cfg.integer("N", 20)
        self._up = cfg.number("nbdev_up", 2.0, strict=False)
        self._dn = cfg.number("nbdev_dn", 2.0, strict=False)
        self._sma = _sma.SMA(N=self._n, source=source)
        self._std = _std.STD(N=self._n, source=source)

    @property
    def result(self) -> float:
        """The upper band (first output)."""
        return self.upper

    def _reset_state(self) -> None:
        self._sma.reset()
        self._std.reset()

    def update(self, *values: float) -> None:
        self._sma.update(*values)
        self._std.update(*values)
        middle = self._sma.result
        deviation = self._std.result
        self.upper = middle + self._up * deviation
        self.middle = middle
        self.lower = middle - self._dn * deviation

    def _compute(self, *arrays: FloatArray) -> dict[str, FloatArray]:
        (x,) = arrays
        middle = _sma.window_means(x, self._n)
        deviation = _std.rolling_std(x, self._n, 1.0)
        return {
            "upper": middle + self._up * deviation,
            "middle": middle,
            "lower": middle - self._dn * deviation,
        }
