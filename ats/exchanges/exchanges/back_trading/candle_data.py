"""Historical candle files for the back-trading exchange.

The loader reads one symbol's OHLCV candles from CSV (or Parquet) into plain numpy
column arrays, because back-tests walk millions of rows and per-row Python objects
would dominate the run time.  Files are validated up front and every problem is
reported as a one-line :class:`CandleDataError` naming the file and the offending
line, so a bad download fails loudly instead of producing a silently wrong back-test.

``ats data download`` writes the same CSV format through :func:`save_candles_csv`.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from ats.data.timeframes import ms_to_timeframe, timeframe_to_ms
from ats.exceptions import DataError
from ats.utils.validation import one_line

__all__ = [
    "CandleData",
    "CandleDataError",
    "check_candle_file",
    "load_candles",
    "ms_to_timeframe",
    "save_candles_csv",
    "timeframe_to_ms",
]

#: Value columns every candle file must have (matched case-insensitively).
VALUE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
#: Accepted names of the time column, in order of preference.
TIME_COLUMNS: tuple[str, ...] = ("time", "timestamp", "date", "datetime")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")

PARQUET_SUFFIXES: frozenset[str] = frozenset({".parquet", ".pq"})
CSV_HEADER = "time,open,high,low,close,volume"

_NUMBER_RE = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_TOKENIZE_LINE_RE = re.compile(r"line (\d+), saw (\d+)")
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


class CandleDataError(DataError, ValueError):
    """A candle file (or frame) is missing, unreadable or invalid.

    The message is a single line that starts with the file name and, where it
    applies, the 1-based line number (header = line 1), so it can be shown as is:
    non-printable bytes are escaped and quoted file content is cut short.
    """


# --------------------------------------------------------------------------- data class


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
                f", {_format_ms(int(self.timestamps[0]))} .. {_format_ms(int(self.timestamps[-1]))}"
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


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True, slots=True)
class _Source:
    """Where rows come from, to turn a 0-based row index into ``"x.csv line 17"``."""

    label: str
    unit: str = "line"
    first: int = 2  # number of row 0; CSV data starts on line 2 after the header

    def at(self, row: int) -> str:
        return f"{self.label} {self.unit} {row + self.first}"

    def error(self, row: int, message: str) -> CandleDataError:
        return CandleDataError(one_line(f"{self.at(row)}: {message}"))


@dataclass(slots=True)
class _Columns:
    """Parsed columns before validation.

    ``bad_time`` marks times that could not be parsed; ``cells`` gives the original
    cell text so error messages can quote what is in the file.
    """

    ms: np.ndarray
    bad_time: np.ndarray | None
    values: dict[str, np.ndarray]
    names: dict[str, str]
    cells: _Cells


class _Cells(Protocol):
    """Original cell values by canonical column name and 0-based row (for messages only)."""

    def get(self, canon: str, row: int) -> Any: ...

    def blank_row(self, row: int) -> bool: ...


@dataclass(frozen=True, slots=True)
class _SeriesCells:
    """Cells of columns already held as pandas Series (careful CSV path, Parquet, frames)."""

    raw: Mapping[str, pd.Series]

    def get(self, canon: str, row: int) -> Any:
        return self.raw[canon].iloc[row]

    def blank_row(self, row: int) -> bool:
        return all(_is_blank(series.iloc[row]) for series in self.raw.values())


@dataclass(slots=True)
class _LineCells:
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


def load_candles(path: str | Path) -> CandleData:
    """Load and validate one symbol's candles from a CSV or Parquet file.

    Columns are found by name (case-insensitive, extra columns ignored).  The time
    column may be called time/timestamp/date/datetime and hold ISO-8601 strings
    (naive means UTC) or epoch seconds/milliseconds.  Raises :class:`CandleDataError`
    for the first bad row instead of dropping anything.
    """
    p = Path(path)
    if not p.exists():
        raise CandleDataError(f"{p}: file not found")
    if p.is_dir():
        raise CandleDataError(f"{p}: is a directory, not a candle file")
    if p.suffix.lower() in PARQUET_SUFFIXES:
        return _load_parquet(p)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise CandleDataError(f"{p}: cannot read file: {exc.strerror or exc}") from exc
    if data[:2] == b"\x1f\x8b":  # gzip magic: accept compressed downloads transparently
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise CandleDataError(f"{p}: corrupt gzip data: {exc}") from exc
    if data[:4] == b"PAR1":
        return _load_parquet(p)
    return _load_csv_bytes(p, data)


def check_candle_file(path: str | Path, max_bytes: int = 1 << 16) -> None:
    """Check the start of a candle file (header, columns, the first rows) in about a
    millisecond, for forms that must answer at once; :func:`load_candles` checks it all.
    Raises :class:`CandleDataError` like it."""
    p = Path(path)
    if not p.exists():
        raise CandleDataError(f"{p}: file not found")
    if p.is_dir():
        raise CandleDataError(f"{p}: is a directory, not a candle file")
    try:
        with p.open("rb") as handle:
            data = handle.read(max_bytes)
        if data[:2] == b"\x1f\x8b":
            with gzip.open(p, "rb") as handle:
                data = handle.read(max_bytes)
    except (OSError, EOFError) as exc:
        raise CandleDataError(f"{p}: cannot read file: {exc}") from exc
    if p.suffix.lower() in PARQUET_SUFFIXES or data[:4] == b"PAR1":
        return  # columns are checked when the job loads it (needs pyarrow, not a form)
    if len(data) == max_bytes and b"\n" in data:
        data = data[: data.rfind(b"\n") + 1]  # whole lines only
    _load_csv_bytes(p, data)


def _load_csv_bytes(path: Path, data: bytes) -> CandleData:
    """Parse CSV bytes with a fast typed reader; read all text only if lines would drift."""
    source = _Source(str(path))
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    end = len(data)
    while end and data[end - 1 : end] in (b"\n", b"\r", b" ", b"\t"):
        end -= 1  # trailing blank lines are not rows
    if end == 0:
        raise CandleDataError(f"{path}: file is empty")
    if data[end:] not in (b"\n", b"\r\n"):
        data = data[:end] + b"\n"  # copy only when there is more than one line terminator
    header_end = data.find(b"\n")
    header = _parse_header(data[:header_end], str(path))
    names = _pick_columns(header, str(path))
    n_rows = data.count(b"\n") - 1  # data lines: every line now ends with a newline
    if n_rows == 0:
        raise CandleDataError(f"{path}: file is empty (header only, no candles)")

    columns = _read_csv_arrow(data, header, names, n_rows)
    if columns is None:  # the fast reader could not map rows to lines: read everything as text
        columns = _read_csv_text(data, header, names, source)
    return _build(path, columns, source)


def _parse_header(raw: bytes, label: str) -> list[str]:
    """Split the header line the way the CSV readers will; a line that is not CSV text
    (binary data, another encoding) is refused here, quoted short and escaped."""
    line = raw.rstrip(b"\r")
    if b"\x00" in line or b"\r" in line:
        raise CandleDataError(f"{label} line 1: not a CSV text file (header {_quote_bytes(line)})")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise CandleDataError(
            f"{label} line 1: not UTF-8 CSV text (header {_quote_bytes(line)})"
        ) from None
    try:
        row = next(csv.reader([text]), [])
    except csv.Error as exc:
        raise CandleDataError(f"{label} line 1: cannot read the CSV header: {exc}") from None
    return [name.strip() for name in row]


def _quote_bytes(raw: bytes, limit: int = 60) -> str:
    """File bytes for a message: undecodable bytes as ``\\xNN``, cut to ``limit``."""
    return _quote(raw[: limit * 4].decode("utf-8", errors="backslashreplace"), limit)


def _pick_columns(header: list[str], label: str) -> dict[str, str]:
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


def _positions(header: list[str], names: dict[str, str]) -> dict[str, str]:
    """Canonical name -> positional field name ``c<i>`` used when reading by position."""
    return {canon: f"c{header.index(name)}" for canon, name in names.items()}


def _line_cells(data: bytes, header: list[str], names: dict[str, str]) -> _LineCells:
    return _LineCells(data, {canon: header.index(name) for canon, name in names.items()})


def _read_csv_arrow(
    data: bytes, header: list[str], names: dict[str, str], n_rows: int
) -> _Columns | None:
    """Fast multi-threaded parse with pyarrow; ``None`` if rows cannot be mapped to lines.

    Numbers are read as float64 directly; if some cell is not a number the values
    are re-read as text so the bad row can still be found without the slow path.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    fields = [f"c{i}" for i in range(len(header))]
    pos = _positions(header, names)

    def read(number_type: Any) -> Any:
        types = {pos[c]: number_type for c in VALUE_COLUMNS}
        types[pos["time"]] = pa.string()
        return pa_csv.read_csv(
            pa.py_buffer(data),
            # One thread: on a small VPS it is as fast and needs half the memory.
            read_options=pa_csv.ReadOptions(skip_rows=1, column_names=fields, use_threads=False),
            parse_options=pa_csv.ParseOptions(ignore_empty_lines=False),  # keep line numbers
            convert_options=pa_csv.ConvertOptions(
                include_columns=list(pos.values()),
                column_types=types,
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )

    try:
        table = read(pa.float64())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        try:
            table = read(pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None  # e.g. a line with a different number of fields
    if table.num_rows != n_rows:  # e.g. quoted newlines: row i would not be line i + 2
        return None
    ms, bad = _arrow_times(table.column(pos["time"]))
    values = {c: _arrow_floats(table.column(pos[c])) for c in VALUE_COLUMNS}
    return _Columns(ms, bad, values, names, _line_cells(data, header, names))


def _arrow_floats(column: Any) -> np.ndarray:
    """Float64 values of a pyarrow column; text that is not a number becomes NaN."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_floating(column.type):
        try:
            column = pc.cast(column, pa.float64())
        except pa.ArrowInvalid:
            return _series_floats(column.to_pandas())
    return np.asarray(column.to_numpy(), dtype=np.float64)


def _read_csv_text(
    data: bytes, header: list[str], names: dict[str, str], source: _Source
) -> _Columns:
    """Slow, exact parse keeping every cell's text, used to explain a bad file.

    Blank lines are kept as rows so row ``i`` is always line ``i + 2``.
    """
    fields = [f"c{i}" for i in range(len(header))]
    pos = _positions(header, names)
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            engine="c",
            header=None,
            skiprows=1,
            names=fields,
            index_col=False,
            dtype=str,
            na_filter=False,
            skip_blank_lines=False,
            encoding_errors="backslashreplace",  # shown escaped in messages
        )
    except pd.errors.ParserError as exc:
        match = _TOKENIZE_LINE_RE.search(str(exc))
        if match:
            raise CandleDataError(
                f"{source.label} line {match.group(1)}: expected {len(header)} fields "
                f"like the header, found {match.group(2)}"
            ) from exc
        raise CandleDataError(one_line(f"{source.label}: cannot parse CSV: {exc}")) from exc
    raw = {c: frame[pos[c]] for c in names}
    return _columns_from_series(raw, names)


def _load_parquet(path: Path) -> CandleData:
    """Read a Parquet file by column name; rows are reported 1-based (no lines)."""
    import pyarrow as pa
    import pyarrow.parquet as pa_pq

    try:
        schema = pa_pq.read_schema(path)
        header = list(schema.names)
        names = _pick_columns(header, str(path))
        table = pa_pq.read_table(path, columns=list(names.values()))
    except (pa.ArrowException, OSError) as exc:
        raise CandleDataError(one_line(f"{path}: cannot read Parquet file: {exc}")) from exc
    if table.num_rows == 0:
        raise CandleDataError(f"{path}: file is empty (no candles)")
    raw = {c: table.column(name).to_pandas() for c, name in names.items()}
    source = _Source(str(path), unit="row", first=1)
    return _build(path, _columns_from_series(raw, names), source)


def _columns_from_series(raw: Mapping[str, pd.Series], names: dict[str, str]) -> _Columns:
    """Convert cell values of any dtype (text, numbers, datetimes) to the column arrays."""
    ms, bad = _series_times(raw["time"])
    values = {c: _series_floats(raw[c]) for c in VALUE_COLUMNS}
    return _Columns(ms, bad, values, names, _SeriesCells(raw))


def _series_floats(series: pd.Series) -> np.ndarray:
    """Float64 values; unparseable or missing cells become NaN (reported by validation)."""
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.to_numeric(_stripped_text(series), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )


# --------------------------------------------------------------------------- time parsing


def _arrow_times(column: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Parse a pyarrow string column with vectorised casts, falling back to pandas."""
    import pyarrow as pa
    import pyarrow.compute as pc

    first = column[0].as_py() if len(column) else ""
    try:
        if _NUMBER_RE.match(first):
            try:
                return _epoch_to_ms(pc.cast(column, pa.int64()).to_numpy())
            except pa.ArrowInvalid:
                return _epoch_to_ms(pc.cast(column, pa.float64()).to_numpy())
        for target in (pa.timestamp("ms", tz="UTC"), pa.timestamp("ms")):
            try:
                stamps = pc.cast(column, target)
            except pa.ArrowInvalid:
                continue
            return np.asarray(stamps.cast(pa.int64()).to_numpy(), dtype=np.int64), None
    except pa.ArrowInvalid:
        pass
    return _series_times(column.to_pandas())


def _series_times(series: pd.Series) -> tuple[np.ndarray, np.ndarray | None]:
    """Times of any representation -> (int64 ms UTC, mask of unparseable cells or None)."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return _datetimes_to_ms(series)
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        if pd.api.types.is_integer_dtype(dtype) and not series.hasnans:
            values = series.to_numpy(dtype=np.int64)
        else:
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return _epoch_to_ms(values)
    first = next((v for v in series if isinstance(v, str) and v.strip()), None)
    if first is not None and _NUMBER_RE.match(first):
        numbers = pd.to_numeric(_stripped_text(series), errors="coerce")
        if pd.api.types.is_integer_dtype(numbers.dtype) and not numbers.hasnans:
            values = numbers.to_numpy(dtype=np.int64)
        else:
            values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
        return _epoch_to_ms(values)
    stamps = pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce")
    if stamps.hasnans and first is not None:  # maybe only padding spaces; retry stripped
        stamps = pd.to_datetime(_stripped_text(series), format="ISO8601", utc=True, errors="coerce")
    return _datetimes_to_ms(stamps)


def _stripped_text(series: pd.Series) -> pd.Series:
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


def _epoch_to_ms(values: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
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


# --------------------------------------------------------------------------- validation


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


def _build(path: Path, columns: _Columns, source: _Source) -> CandleData:
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
        if _is_blank(text):
            return f"{names['time']} is empty"
        return f"cannot parse time {_quote(text)} in column {names['time']!r}"

    if columns.bad_time is not None:
        problem.offer(columns.bad_time, bad_time)

    for canon in VALUE_COLUMNS:
        column = values[canon]
        problem.offer(
            ~np.isfinite(column[: problem.limit]),
            _describe_non_finite(canon, names, values, cells),
        )

    def not_positive(canon: str) -> Callable[[int], str]:
        return lambda row: f"{names[canon]} {_num(values[canon][row])} is not positive"

    for canon in PRICE_COLUMNS:
        problem.offer(values[canon][: problem.limit] <= 0, not_positive(canon))
    problem.offer(
        values["volume"][: problem.limit] < 0,
        lambda row: f"{names['volume']} {_num(values['volume'][row])} is negative",
    )
    lim = problem.limit
    high, low = values["high"], values["low"]
    problem.offer(
        high[:lim] < low[:lim],
        lambda row: f"{names['high']} {_num(high[row])} < {names['low']} {_num(low[row])}",
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
    cells: _Cells,
) -> Callable[[int], str]:
    def describe(row: int) -> str:
        value = float(values[canon][row])
        name = names[canon]
        if np.isinf(value):
            return f"{name} is infinite ({_num(value)})"
        if cells.blank_row(row):
            return "empty line"
        text = cells.get(canon, row)
        if _is_blank(text):
            return f"{name} is empty"
        if isinstance(text, str) and not _NUMBER_RE.match(text) and text.strip().lower() != "nan":
            return f"cannot parse {name} value {_quote(text)} as a number"
        return f"{name} is NaN"

    return describe


def _describe_outside(
    canon: str, names: dict[str, str], values: dict[str, np.ndarray]
) -> Callable[[int], str]:
    def describe(row: int) -> str:
        low = f"{names['low']} {_num(values['low'][row])}"
        high = f"{names['high']} {_num(values['high'][row])}"
        return f"{names[canon]} {_num(values[canon][row])} outside [{low}, {high}]"

    return describe


def _describe_order(row: int, ms: np.ndarray, names: dict[str, str], source: _Source) -> str:
    now, before = int(ms[row]), int(ms[row - 1])
    earlier = f"{source.unit} {row - 1 + source.first}"
    if now == before:
        return f"duplicate {names['time']} {_format_ms(now)} (same as {earlier})"
    return f"{names['time']} {_format_ms(now)} is not after {earlier} ({_format_ms(before)})"


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


# --------------------------------------------------------------------------- saving


def save_candles_csv(data: CandleData | pd.DataFrame, path: str | Path) -> None:
    """Write candles as ``time,open,high,low,close,volume`` with ISO-8601 UTC times.

    The output loads back through :func:`load_candles` to identical arrays.  The
    data is validated first (so a download never leaves a file that will not load)
    and the file is replaced atomically, so readers never see half a file.
    """
    target = Path(path)
    if isinstance(data, pd.DataFrame):
        candles = _candles_from_frame(data, target)
    elif isinstance(data, CandleData):
        raw = {"time": pd.Series(data.timestamps, dtype=np.int64)}
        raw.update({c: pd.Series(getattr(data, c), dtype=np.float64) for c in VALUE_COLUMNS})
        columns = _Columns(
            np.asarray(data.timestamps, dtype=np.int64),
            None,
            {c: raw[c].to_numpy() for c in VALUE_COLUMNS},
            {c: c for c in raw},
            _SeriesCells(raw),
        )
        candles = _build(target, columns, _Source(f"CandleData for {target}", "row", 1))
    else:
        raise TypeError(f"expected CandleData or pandas.DataFrame, got {type(data).__name__}")

    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        _write_csv_arrow(candles, temp)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def _candles_from_frame(frame: pd.DataFrame, target: Path) -> CandleData:
    """Validate a DataFrame by column name (the time may also be the index)."""
    label = f"DataFrame for {target}"
    columns = {str(c): c for c in frame.columns}
    header = list(columns)
    lowered = {h.lower() for h in header}
    index = frame.index
    time_from_index = not lowered.intersection(TIME_COLUMNS) and (
        isinstance(index, pd.DatetimeIndex) or str(index.name).lower() in TIME_COLUMNS
    )
    if time_from_index:
        header = ["time", *header]
    names = _pick_columns(header, label)
    raw: dict[str, pd.Series] = {}
    for canon, name in names.items():
        if time_from_index and canon == "time":
            raw[canon] = pd.Series(index, copy=False).reset_index(drop=True)
        else:
            raw[canon] = frame[columns[name]].reset_index(drop=True)
    source = _Source(label, unit="row", first=1)
    return _build(target, _columns_from_series(raw, names), source)


def _write_csv_arrow(candles: CandleData, temp: Path) -> None:
    """Fast writer: arrow formats floats as shortest round-trip text."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv

    ms = np.asarray(candles.timestamps, dtype=np.int64)
    stamps = pa.array(ms, type=pa.timestamp("ms"))
    if not np.any(ms % 1000):
        stamps = stamps.cast(pa.timestamp("s"))
    times = pc.binary_join_element_wise(pc.cast(stamps, pa.string()), "+00:00", "")
    table = pa.table(
        {"time": times, **{c: np.asarray(getattr(candles, c), np.float64) for c in VALUE_COLUMNS}}
    )
    with temp.open("wb") as handle:
        handle.write(f"{CSV_HEADER}\n".encode())
        pa_csv.write_csv(
            table,
            handle,
            write_options=pa_csv.WriteOptions(include_header=False, quoting_style="none"),
        )


# --------------------------------------------------------------------------- helpers


def _format_ms(ms: int) -> str:
    """Epoch ms as the file format writes it (``2022-05-12 00:00:03+00:00``), for messages."""
    unit: Literal["s", "ms"] = "s" if ms % 1000 == 0 else "ms"
    text = np.datetime_as_string(np.datetime64(ms, "ms"), unit=unit)
    return f"{str(text).replace('T', ' ')}+00:00"


def _num(value: Any) -> str:
    return repr(float(value))


def _is_blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _quote(value: Any, limit: int = 40) -> str:
    """A cell or header for a message, quoted: non-printable characters escaped (bytes
    that were not UTF-8 already read as ``\\xNN``), cut to ``limit``."""
    text = value if isinstance(value, str) else str(value)
    shown = "'" + "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: limit * 4]) + "'"
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"
