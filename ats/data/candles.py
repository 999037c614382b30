"""Candles in memory: one symbol's OHLCV columns (:class:`CandleData`) and the error every
candle file problem is reported as.

Back-tests walk millions of rows, so candles are plain numpy column arrays, never one
Python object per row. Files are read by :mod:`ats.data.candle_readers` (CSV, gzip,
Parquet), checked by :mod:`ats.data.candle_columns` and written by
:mod:`ats.data.candle_writer`; the exchanges, strategies, feeds, research and the
downloader all use these. Candle lengths are :mod:`ats.data.timeframes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from ats.data.timeframes import ms_to_timeframe
from ats.exceptions import DataError
from ats.utils.lazy_module import LazyModule

if TYPE_CHECKING:
    import pandas as pd
else:  # only parsing text or frames needs it, not cached candles (bench/whole_process.py)
    pd = LazyModule("pandas")

__all__ = [
    "CSV_HEADER",
    "PARQUET_SUFFIXES",
    "PRICE_COLUMNS",
    "TIME_COLUMNS",
    "VALUE_COLUMNS",
    "CandleData",
    "CandleDataError",
    "format_ms",
]

#: Value columns every candle file must have (matched case-insensitively).
VALUE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
#: Accepted names of the time column, in order of preference.
TIME_COLUMNS: tuple[str, ...] = ("time", "timestamp", "date", "datetime")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
PARQUET_SUFFIXES: frozenset[str] = frozenset({".parquet", ".pq"})
CSV_HEADER = "time,open,high,low,close,volume"


class CandleDataError(DataError, ValueError):
    """A candle file (or frame) is missing, unreadable or invalid.

    The message is a single line that starts with the file name and, where it
    applies, the 1-based line number (header = line 1), so it can be shown as is:
    non-printable bytes are escaped and quoted file content is cut short.
    """


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class CandleData:
    """Column arrays of one symbol's candles, oldest first.

    ``timestamps`` are int64 milliseconds since the epoch (UTC), strictly increasing;
    the value columns are float64.  Arrays built by :func:`load_candles` are
    read-only, so slices can share memory safely.
    """

    path: Path
    timestamps: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    timeframe_ms: int = field(default=0)

    def __post_init__(self) -> None:
        """Reject columns of different lengths: every consumer indexes them together."""
        n = len(self.timestamps)
        for name in VALUE_COLUMNS:
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"CandleData column {name!r} has {len(getattr(self, name))} rows, "
                    f"timestamps have {n}"
                )

    def __len__(self) -> int:
        return len(self.timestamps)

    def __repr__(self) -> str:
        span = ""
        if len(self):
            span = (
                f", {format_ms(int(self.timestamps[0]))} .. {format_ms(int(self.timestamps[-1]))}"
            )
        return f"CandleData({str(self.path)!r}, {len(self)} candles, {self.timeframe}{span})"

    @property
    def timeframe(self) -> str:
        """The ccxt-style timeframe (e.g. ``"3s"``) derived from ``timeframe_ms``."""
        return ms_to_timeframe(self.timeframe_ms)

    def slice(self, start: int, stop: int) -> CandleData:
        """Rows ``start:stop`` (Python slice rules) as views; keeps the parent's timeframe."""
        part = slice(start, stop)
        return CandleData(
            path=self.path,
            timestamps=self.timestamps[part],
            open=self.open[part],
            high=self.high[part],
            low=self.low[part],
            close=self.close[part],
            volume=self.volume[part],
            timeframe_ms=self.timeframe_ms,
        )

    def to_frame(self) -> pd.DataFrame:
        """A DataFrame with a tz-aware UTC ``time`` column, for pandas-based tooling."""
        times = pd.to_datetime(np.asarray(self.timestamps, dtype=np.int64), unit="ms", utc=True)
        return pd.DataFrame(
            {
                "time": times,
                "open": self.open,
                "high": self.high,
                "low": self.low,
                "close": self.close,
                "volume": self.volume,
            }
        )


def format_ms(ms: int) -> str:
    """Epoch ms as the file format writes it (``2022-05-12 00:00:03+00:00``), for messages."""
    unit: Literal["s", "ms"] = "s" if ms % 1000 == 0 else "ms"
    text = np.datetime_as_string(np.datetime64(ms, "ms"), unit=unit)
    return f"{str(text).replace('T', ' ')}+00:00"
