"""SuperTrend: ATR trailing bands that flip with the trend."""

from __future__ import annotations

import math

import numpy as np

# Module, not class, import so this module defines exactly one indicator class.
from ats.indicators import atr as _atr
from ats.indicators.base_indicator import BaseIndicator, ConfigReader, FloatArray


class SuperTrend(BaseIndicator):
    """Textbook SuperTrend (the TradingView ``ta.supertrend`` definition).

    * basic bands: ``hl2 +/- multiplier * ATR(N)`` with Wilder's ATR (as ``talib.ATR``);
    * final upper band: the basic one if it is lower than the previous final upper band or
      the previous close broke above that band, else it carries over (lower band mirrored);
    * direction (+1 up / -1 down) starts at -1 on the first candle with an ATR (index N),
      turns up when the close rises above the final upper band and down when it falls
      below the final lower band;
    * ``supertrend`` is the final lower band in an uptrend and the upper one in a downtrend.
    """

    name = "supertrend"
    inputs = ("high", "low", "close")
    outputs = ("supertrend", "direction")
    output_styles = {"direction": "hidden"}
    supertrend: float
    direction: float
    _state_fields = ("_atr", "_prev_close", "_upper", "_lower", "_dir")

    def _configure(self, cfg: ConfigReader) -> None:
        self._n = cfg.integer("N", 10)
        self._multiplier = cfg.number("multiplier", 3.0)
        self._atr = _atr.ATR(N=self._n)

    @property
    def result(self) -> float:
        """The SuperTrend line (first output)."""
        return self.supertrend

    @property
    def atr(self) -> float:
        """Latest streaming ATR value (NaN during warm-up)."""
        return self._atr.result

    def _reset_state(self) -> None:
        self._atr.reset()
        self._prev_close = math.nan
        self._upper = math.nan
        self._lower = math.nan
        self._dir = math.nan

    def update(self, *values: float) -> None:
        high, low, close = values
        h, lo, c = float(high), float(low), float(close)
        self._atr.update(h, lo, c)
        atr = self._atr.result
        prev_close = self._prev_close
        self._prev_close = c
        if math.isnan(atr):
            return
        hl2 = (h + lo) / 2.0
        basic_upper = hl2 + self._multiplier * atr
        basic_lower = hl2 - self._multiplier * atr
        direction = self._dir
        if math.isnan(direction):
            upper, lower, direction = basic_upper, basic_lower, -1.0
        else:
            upper, lower = self._upper, self._lower
            if basic_upper < upper or prev_close > upper:
                upper = basic_upper
            if basic_lower > lower or prev_close < lower:
                lower = basic_lower
            if direction > 0.0:
                if c < lower:
                    direction = -1.0
            elif c > upper:
                direction = 1.0
        self._upper, self._lower, self._dir = upper, lower, direction
        self.supertrend = lower if direction > 0.0 else upper
        self.direction = direction

    def compute_bands(
        self, high: np.ndarray, low: np.ndarray, close: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Vectorised ATR and final upper/lower bands (for plotting and checks)."""
        arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (high, low, close)]
        atr, upper, lower = self._bands(*arrays)
        return {"atr": atr, "upper": upper, "lower": lower}

    def _bands(
        self, high: FloatArray, low: FloatArray, close: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        atr = _atr.atr_series(high, low, close, n=self._n)
        upper = np.full_like(atr, np.nan)
        lower = np.full_like(atr, np.nan)
        first = self._n
        if close.shape[0] <= first:
            return atr, upper, lower
        hl2 = (high[first:] + low[first:]) / 2.0
        offset = self._multiplier * atr[first:]
        prev_close = close[first:-1].tolist()
        basic_upper = (hl2 + offset).tolist()
        basic_lower = (hl2 - offset).tolist()
        # The carry rules depend on the previous final band: inherently sequential.
        band = basic_upper[0]
        upper[first] = band
        upper[first + 1 :] = [
            band := (b if (b < band or pc > band) else band)
            for b, pc in zip(basic_upper[1:], prev_close, strict=True)
        ]
        band = basic_lower[0]
        lower[first] = band
        lower[first + 1 :] = [
            band := (b if (b > band or pc < band) else band)
            for b, pc in zip(basic_lower[1:], prev_close, strict=True)
        ]
        return atr, upper, lower

    def _compute(self, *arrays: FloatArray) -> dict[str, FloatArray]:
        high, low, close = arrays
        _, upper, lower = self._bands(high, low, close)
        supertrend = np.full_like(upper, np.nan)
        direction = np.full_like(upper, np.nan)
        first = self._n
        if close.shape[0] <= first:
            return {"supertrend": supertrend, "direction": direction}
        c = close[first:]
        # Per candle the state machine either sets the direction (only one band broken),
        # keeps it (none broken) or toggles it (both broken: only possible once the carried
        # bands have crossed). So the direction is the last "set" value, flipped once per
        # toggle since then - a vectorised scan. The first candle sets "down".
        rise = c > upper[first:]
        fall = c < lower[first:]
        rise[0], fall[0] = False, True
        sets = rise ^ fall
        toggles = np.cumsum(rise & fall)
        last_set = np.maximum.accumulate(np.where(sets, np.arange(c.shape[0]), 0))
        flips = (toggles - toggles[last_set]) % 2 == 1
        base = np.where(rise[last_set], 1.0, -1.0)
        direction[first:] = np.where(flips, -base, base)
        supertrend[first:] = np.where(direction[first:] > 0.0, lower[first:], upper[first:])
        return {"supertrend": supertrend, "direction": direction}
