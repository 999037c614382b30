"""Technical indicators with matching streaming and vectorised implementations.

``BUILTIN_INDICATORS`` maps each built-in's ``name`` (also its module name) to its class;
see ``base_indicator`` for the contract the engine relies on.
"""

from __future__ import annotations

from ats.indicators.atr import ATR
from ats.indicators.base_indicator import BaseIndicator, ConfigReader, IndicatorConfigError
from ats.indicators.bbands import BBANDS
from ats.indicators.ema import EMA
from ats.indicators.macd import MACD
from ats.indicators.obv import OBV
from ats.indicators.rsi import RSI
from ats.indicators.sma import SMA
from ats.indicators.std import STD
from ats.indicators.supertrend import SuperTrend
from ats.indicators.wma import WMA

BUILTIN_INDICATORS: dict[str, type[BaseIndicator]] = {
    cls.name: cls for cls in (SMA, EMA, WMA, RSI, STD, OBV, MACD, BBANDS, ATR, SuperTrend)
}

__all__ = [
    "ATR",
    "BBANDS",
    "BUILTIN_INDICATORS",
    "EMA",
    "MACD",
    "OBV",
    "RSI",
    "SMA",
    "STD",
    "WMA",
    "BaseIndicator",
    "ConfigReader",
    "IndicatorConfigError",
    "SuperTrend",
]
