"""From parsed cells to checked candles: the column arrays a reader produces, and the
validation every candle file and frame goes through before it becomes
:class:`~ats.data.candles.CandleData`.

Every problem is reported as a one-line :class:`~ats.data.candles.CandleDataError`
naming the file and the offending line (or row), quoting what is there, so a bad
download fails loudly instead of producing a silently wrong back-test. Checks run
vectorised over whole columns; only the first bad row is described.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ats.data.candles import (
    PRICE_COLUMNS,
    TIME_COLUMNS,
    VALUE_COLUMNS,
    CandleData,
    CandleDataError,
    format_ms,
)
from ats.data.timeframes import timeframe_to_ms
from ats.utils.lazy_module import LazyModule
from ats.utils.validation import one_line

if TYPE_CHECKING:
    import pandas as pd
else:  # only parsing text or frames needs it, not cached candles (bench/whole_process.py)
    pd = LazyModule("pandas")

NUMBER_RE = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


# Epoch units by magnitude: (values below, multiply by, divide by) to get milliseconds.
_EPOCH_UNITS: tuple[tuple[float, int, int], ...] = (
    (1e11, 1000, 1),  # seconds
    (1e14, 1, 1),  # milliseconds
    (1e17, 1, 1000),  # microseconds
    (float("inf"), 1, 1_000_000),  # nanoseconds
)


# Times outside years 1..9999 are certainly wrong (and cannot be printed as ISO).
_MIN_MS = -62_135_596_800_000
_MAX_MS = 253_402_300_799_999


@dataclass(frozen=True, slots=True)
class Source:
    """Where rows come from, to turn a 0-based row index into ``"x.csv line 17"``."""

    label: str
    unit: str = "line"
    first: int = 2  # number of row 0; CSV data starts on line 2 after the header

    def at(self, row: int) -> str:
        return f"{self.label} {self.unit} {row + self.first}"

    def error(self, row: int, message: str) -> CandleDataError:
        return CandleDataError(one_line(f"{self.at(row)}: {message}"))


@dataclass(slots=True)
class Columns:
    """Parsed columns before validation.

    ``bad_time`` marks times that could not be parsed; ``cells`` gives the original
    cell text so error messages can quote what is in the file.
    """

    ms: np.ndarray
    bad_time: np.ndarray | None
    values: dict[str, np.ndarray]
    names: dict[str, str]
    cells: Cells


class Cells(Protocol):
    """Original cell values by canonical column name and 0-based row (for messages only)."""

    def get(self, canon: str, row: int) -> Any: ...

    def blank_row(self, row: int) -> bool: ...


@dataclass(frozen=True, slots=True)
class SeriesCells:
    """Cells of columns already held as pandas Series (careful CSV path, Parquet, frames)."""

    raw: Mapping[str, pd.Series]

    def get(self, canon: str, row: int) -> Any:
        return self.raw[canon].iloc[row]

    def blank_row(self, row: int) -> bool:
        return all(is_blank(series.iloc[row]) for series in self.raw.values())


@dataclass(slots=True)
class LineCells:
    """Cells re-read from the CSV bytes on demand, so fast paths keep no text columns.

    Only valid when row ``i`` is known to be line ``i + 2`` (the fast paths check it).
    """

    data: bytes
    positions: dict[str, int]
    _newlines: np.ndarray | None = None

    def _fields(self, row: int) -> list[str]:
        if self._newlines is None:  # one vectorised scan, only when a message needs it
            self._newlines = np.flatnonzero(np.frombuffer(self.data, dtype=np.uint8) == 10)
        newlines = self._newlines
        start = int(newlines[row]) + 1  # line row + 2 starts after newline number row
        end = int(newlines[row + 1])  # every line ends with a newline (see _load_csv_bytes)
        line = self.data[start:end].decode("utf-8", errors="backslashreplace").rstrip("\r")
        return next(csv.reader([line]), [])

    def get(self, canon: str, row: int) -> Any:
        fields = self._fields(row)
        index = self.positions[canon]
        return fields[index] if index < len(fields) else ""

    def blank_row(self, row: int) -> bool:
        return all(not value.strip() for value in self._fields(row))


def pick_columns(header: list[str], label: str) -> dict[str, str]:
    """Map canonical names (time/open/...) to the file's column names, case-insensitively."""
    lowered: dict[str, str] = {}
    duplicates: set[str] = set()
    for name in header:
        key = name.lower()
        if key in lowered:
            duplicates.add(key)
        lowered.setdefault(key, name)
    have = one_line(", ".join(header), 80) if any(header) else "none"
    picked: dict[str, str] = {}
    time_name = next((lowered[t] for t in TIME_COLUMNS if t in lowered), None)
    if time_name is None:
        hint = ""
        if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
            hint = "; columns must be separated by commas"
        raise CandleDataError(
            f"{label}: missing time column (one of {', '.join(TIME_COLUMNS)}) (have: {have}){hint}"
        )
    picked["time"] = time_name
    for canon in VALUE_COLUMNS:
        if canon not in lowered:
            raise CandleDataError(f"{label}: missing column {canon!r} (have: {have})")
        picked[canon] = lowered[canon]
    for name in picked.values():
        if name.lower() in duplicates:
            raise CandleDataError(f"{label}: column {name!r} appears more than once")
    return picked


def positions(header: list[str], names: dict[str, str]) -> dict[str, str]:
    """Canonical name -> positional field name ``c<i>`` used when reading by position."""
    return {canon: f"c{header.index(name)}" for canon, name in names.items()}


def line_cells(data: bytes, header: list[str], names: dict[str, str]) -> LineCells:
    return LineCells(data, {canon: header.index(name) for canon, name in names.items()})


def columns_from_series(raw: Mapping[str, pd.Series], names: dict[str, str]) -> Columns:
    """Convert cell values of any dtype (text, numbers, datetimes) to the column arrays."""
    ms, bad = series_times(raw["time"])
    values = {c: series_floats(raw[c]) for c in VALUE_COLUMNS}
    return Columns(ms, bad, values, names, SeriesCells(raw))


def series_floats(series: pd.Series) -> np.ndarray:
    """Float64 values; unparseable or missing cells become NaN (reported by validation)."""
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(stripped_text(series), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )


def series_times(series: pd.Series) -> tuple[np.ndarray, np.ndarray | None]:
    """Times of any representation -> (int64 ms UTC, mask of unparseable cells or None)."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return _datetimes_to_ms(series)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        if pd.api.types.is_integer_dtype(dtype) and not series.hasnans:
            values = series.to_numpy(dtype=np.int64)
        else:
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return epoch_to_ms(values)
    first = next((v for v in series if isinstance(v, str) and v.strip()), None)
    if first is not None and NUMBER_RE.match(first):
        numbers = pd.to_numeric(stripped_text(series), errors="coerce")
        if pd.api.types.is_integer_dtype(numbers.dtype) and not numbers.hasnans:
            values = numbers.to_numpy(dtype=np.int64)
        else:
            values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
        return epoch_to_ms(values)
    stamps = pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce")
    if stamps.hasnans and first is not None:  # maybe only padding spaces; retry stripped
        stamps = pd.to_datetime(stripped_text(series), format="ISO8601", utc=True, errors="coerce")
    return _datetimes_to_ms(stamps)


def stripped_text(series: pd.Series) -> pd.Series:
    """Cells as stripped strings; missing cells become empty strings."""
    if not pd.api.types.is_string_dtype(series.dtype) or series.hasnans:
        series = series.astype(object).where(series.notna(), "").astype(str)
    return series.str.strip()


def _datetimes_to_ms(stamps: pd.Series) -> tuple[np.ndarray, np.ndarray | None]:
    """Datetime series (naive = UTC) -> int64 ms, flooring sub-millisecond parts."""
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = stamps.isna().to_numpy()
    ms = stamps.to_numpy(dtype="datetime64[ms]").astype(np.int64)
    return ms, (bad if bad.any() else None)


def epoch_to_ms(values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Epoch numbers -> (int64 ms, mask of missing/out-of-range values or ``None``).

    The unit (s, ms, us, ns) is chosen by the median magnitude, so one stray value
    cannot change it: seconds below 1e11 reach year 5138 while milliseconds above it
    start in 1973, so the thresholds separate the units for realistic market data.
    """
    is_float = values.dtype.kind == "f"
    finite = values[np.isfinite(values)] if is_float else values
    magnitude = float(np.median(np.abs(finite))) if len(finite) else 0.0
    multiply, divide = next((m, d) for limit, m, d in _EPOCH_UNITS if magnitude < limit)
    if is_float:
        with np.errstate(invalid="ignore", over="ignore"):
            scaled = np.round(values * multiply / divide)
        bad = ~((scaled >= _MIN_MS) & (scaled <= _MAX_MS))  # also catches NaN and inf
        ms = np.where(bad, 0.0, scaled).astype(np.int64)
    else:
        ints = values.astype(np.int64, copy=False)
        if multiply != 1:  # check before multiplying so nothing can overflow
            bad = (ints < _MIN_MS // multiply) | (ints > _MAX_MS // multiply)
            ms = np.where(bad, 0, ints) * multiply
        else:
            ms = ints // divide
            bad = (ms < _MIN_MS) | (ms > _MAX_MS)
    return ms, (bad if bad.any() else None)


class _FirstProblem:
    """Keeps the earliest bad row seen so far; later checks only scan rows before it.

    Checks run in priority order, so of several problems on one row the first
    check's message wins (a tie does not replace).
    """

    __slots__ = ("describe", "limit", "row")

    def __init__(self, n: int) -> None:
        self.limit = n
        self.row: int | None = None
        self.describe: Callable[[int], str] | None = None

    def offer(self, mask: np.ndarray, describe: Callable[[int], str], offset: int = 0) -> None:
        """``mask`` covers rows ``offset .. offset + len(mask)``; record its first True."""
        if not len(mask):
            return
        index = int(np.argmax(mask))
        if mask[index] and index + offset < self.limit:
            self.limit = index + offset
            self.row = index + offset
            self.describe = describe


def validated(path: Path, columns: Columns, source: Source) -> CandleData:
    """Validate parsed columns and wrap them, or raise for the first bad row."""
    ms, values, cells, names = columns.ms, columns.values, columns.cells, columns.names
    n = len(ms)
    if n == 0:
        raise CandleDataError(f"{source.label}: file is empty (no candles)")
    problem = _FirstProblem(n)

    def bad_time(row: int) -> str:
        if cells.blank_row(row):
            return "empty line"
        text = cells.get("time", row)
        if is_blank(text):
            return f"{names['time']} is empty"
        return f"cannot parse time {quote(text)} in column {names['time']!r}"

    if columns.bad_time is not None:
        problem.offer(columns.bad_time, bad_time)

    for canon in VALUE_COLUMNS:
        column = values[canon]
        problem.offer(
            ~np.isfinite(column[: problem.limit]),
            _describe_non_finite(canon, names, values, cells),
        )

    def not_positive(canon: str) -> Callable[[int], str]:
        return lambda row: f"{names[canon]} {number_text(values[canon][row])} is not positive"

    for canon in PRICE_COLUMNS:
        problem.offer(values[canon][: problem.limit] <= 0, not_positive(canon))
    problem.offer(
        values["volume"][: problem.limit] < 0,
        lambda row: f"{names['volume']} {number_text(values['volume'][row])} is negative",
    )
    lim = problem.limit
    high, low = values["high"], values["low"]
    problem.offer(
        high[:lim] < low[:lim],
        lambda row: (
            f"{names['high']} {number_text(high[row])} < {names['low']} {number_text(low[row])}"
        ),
    )
    for canon in ("open", "close"):
        lim = problem.limit
        column = values[canon]
        problem.offer(
            (column[:lim] < low[:lim]) | (column[:lim] > high[:lim]),
            _describe_outside(canon, names, values),
        )

    lim = problem.limit
    step = np.diff(ms[:lim])
    problem.offer(step <= 0, lambda row: _describe_order(row, ms, names, source), offset=1)

    if problem.row is not None and problem.describe is not None:
        raise source.error(problem.row, problem.describe(problem.row))

    timestamps = _frozen(np.ascontiguousarray(ms, dtype=np.int64))
    floats = {c: _frozen(np.ascontiguousarray(values[c], dtype=np.float64)) for c in VALUE_COLUMNS}
    return CandleData(
        path=path,
        timestamps=timestamps,
        **floats,
        timeframe_ms=_infer_timeframe(timestamps, path),
    )


def _frozen(array: np.ndarray) -> np.ndarray:
    """A read-only view: CandleData is shared by slices and must not change.

    A view leaves the caller's own array (e.g. a DataFrame column) writable.
    """
    view = array.view()
    view.setflags(write=False)
    return view


def _describe_non_finite(
    canon: str,
    names: dict[str, str],
    values: dict[str, np.ndarray],
    cells: Cells,
) -> Callable[[int], str]:
    def describe(row: int) -> str:
        value = float(values[canon][row])
        name = names[canon]
        if np.isinf(value):
            return f"{name} is infinite ({number_text(value)})"
        if cells.blank_row(row):
            return "empty line"
        text = cells.get(canon, row)
        if is_blank(text):
            return f"{name} is empty"
        if isinstance(text, str) and not NUMBER_RE.match(text) and text.strip().lower() != "nan":
            return f"cannot parse {name} value {quote(text)} as a number"
        return f"{name} is NaN"

    return describe


def _describe_outside(
    canon: str, names: dict[str, str], values: dict[str, np.ndarray]
) -> Callable[[int], str]:
    def describe(row: int) -> str:
        low = f"{names['low']} {number_text(values['low'][row])}"
        high = f"{names['high']} {number_text(values['high'][row])}"
        return f"{names[canon]} {number_text(values[canon][row])} outside [{low}, {high}]"

    return describe


def _describe_order(row: int, ms: np.ndarray, names: dict[str, str], source: Source) -> str:
    now, before = int(ms[row]), int(ms[row - 1])
    earlier = f"{source.unit} {row - 1 + source.first}"
    if now == before:
        return f"duplicate {names['time']} {format_ms(now)} (same as {earlier})"
    return f"{names['time']} {format_ms(now)} is not after {earlier} ({format_ms(before)})"


def _infer_timeframe(ms: np.ndarray, path: Path) -> int:
    """The most common step between candles; for a single candle, a token in the file name."""
    if len(ms) < 2:
        for token in re.split(r"[_\-.\s]+", path.stem):
            try:
                return timeframe_to_ms(token)
            except ValueError:
                continue
        return 0
    steps = np.diff(ms)
    first = steps[0]
    if np.count_nonzero(steps == first) * 2 > len(steps):  # a majority is the mode; skip sort
        return int(first)
    uniques, counts = np.unique(steps, return_counts=True)
    return int(uniques[int(np.argmax(counts))])


def number_text(value: Any) -> str:
    return repr(float(value))


def is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def quote(value: Any, limit: int = 40) -> str:
    """A cell or header for a message, quoted: non-printable characters escaped (bytes
    that were not UTF-8 already read as ``\\xNN``), cut to ``limit``."""
    text = value if isinstance(value, str) else str(value)
    shown = "'" + "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: limit * 4]) + "'"
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"
