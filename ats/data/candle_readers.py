"""Reading candle files: CSV (also gzip-compressed) and Parquet, by column name.

The CSV fast path parses with pyarrow straight into float64 columns; only a file that
does not parse cleanly is re-read as text, to say exactly which line is wrong. Every
file goes through :func:`ats.data.candle_columns.validated`.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ats.data.candle_columns import (
    NUMBER_RE,
    Columns,
    SeriesCells,
    Source,
    columns_from_series,
    epoch_to_ms,
    line_cells,
    pick_columns,
    positions,
    quote,
    series_floats,
    series_times,
    validated,
)
from ats.data.candles import PARQUET_SUFFIXES, VALUE_COLUMNS, CandleData, CandleDataError
from ats.utils.lazy_module import LazyModule
from ats.utils.validation import one_line

if TYPE_CHECKING:
    import pandas as pd
else:  # only parsing text or frames needs it, not cached candles (bench/whole_process.py)
    pd = LazyModule("pandas")

__all__ = ["check_candle_file", "load_candles"]

_TOKENIZE_LINE_RE = re.compile(r"line (\d+), saw (\d+)")


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
    source = Source(str(path))
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
    names = pick_columns(header, str(path))
    n_rows = data.count(b"\n") - 1  # data lines: every line now ends with a newline
    if n_rows == 0:
        raise CandleDataError(f"{path}: file is empty (header only, no candles)")

    columns = _read_csv_arrow(data, header, names, n_rows)
    if columns is None:  # the fast reader could not map rows to lines: read everything as text
        columns = _read_csv_text(data, header, names, source)
    return validated(path, columns, source)


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
    return quote(raw[: limit * 4].decode("utf-8", errors="backslashreplace"), limit)


def _read_csv_arrow(
    data: bytes, header: list[str], names: dict[str, str], n_rows: int
) -> Columns | None:
    """Fast multi-threaded parse with pyarrow; ``None`` if rows cannot be mapped to lines.

    Numbers are read as float64 directly; if some cell is not a number the values
    are re-read as text so the bad row can still be found without the slow path.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    fields = [f"c{i}" for i in range(len(header))]
    pos = positions(header, names)

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
    return Columns(ms, bad, values, names, line_cells(data, header, names))


def _arrow_floats(column: Any) -> np.ndarray:
    """Float64 values of a pyarrow column; text that is not a number becomes NaN."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_floating(column.type):
        try:
            column = pc.cast(column, pa.float64())
        except pa.ArrowInvalid:
            return series_floats(column.to_pandas())
    return np.asarray(column.to_numpy(), dtype=np.float64)


def _arrow_times(column: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Parse a pyarrow string column with vectorised casts, falling back to pandas."""
    import pyarrow as pa
    import pyarrow.compute as pc

    first = column[0].as_py() if len(column) else ""
    try:
        if NUMBER_RE.match(first):
            try:
                return epoch_to_ms(pc.cast(column, pa.int64()).to_numpy())
            except pa.ArrowInvalid:
                return epoch_to_ms(pc.cast(column, pa.float64()).to_numpy())
        for target in (pa.timestamp("ms", tz="UTC"), pa.timestamp("ms")):
            try:
                stamps = pc.cast(column, target)
            except pa.ArrowInvalid:
                continue
            return np.asarray(stamps.cast(pa.int64()).to_numpy(), dtype=np.int64), None
    except pa.ArrowInvalid:
        pass
    return series_times(column.to_pandas())


def _read_csv_text(
    data: bytes, header: list[str], names: dict[str, str], source: Source
) -> Columns:
    """Slow, exact parse keeping every cell's text, used to explain a bad file.

    Blank lines are kept as rows so row ``i`` is always line ``i + 2``.
    """
    fields = [f"c{i}" for i in range(len(header))]
    pos = positions(header, names)
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
    return columns_from_series(raw, names)


def _load_parquet(path: Path) -> CandleData:
    """Read a Parquet file by column name; rows are reported 1-based (no lines)."""
    import pyarrow as pa
    import pyarrow.parquet as pa_pq

    try:
        schema = pa_pq.read_schema(path)
        header = list(schema.names)
        names = pick_columns(header, str(path))
        # ParquetFile, not read_table: that one imports pyarrow.dataset, which imports
        # pandas (see _plain_parquet_columns)
        table = pa_pq.ParquetFile(path).read(columns=list(names.values()))
    except (pa.ArrowException, OSError) as exc:
        raise CandleDataError(one_line(f"{path}: cannot read Parquet file: {exc}")) from exc
    if table.num_rows == 0:
        raise CandleDataError(f"{path}: file is empty (no candles)")
    source = Source(str(path), unit="row", first=1)
    plain = _plain_parquet_columns(table, names)
    if plain is not None:
        return validated(path, plain, source)
    raw = {c: table.column(name).to_pandas() for c, name in names.items()}
    return validated(path, columns_from_series(raw, names), source)


def _plain_parquet_columns(table: Any, names: dict[str, str]) -> Columns | None:
    """The columns of a Parquet file as ATS and most tools write it (times as int64 epoch
    numbers or millisecond timestamps, prices as float64, no missing cells) read straight
    from Arrow's buffers: the same arrays as through pandas, without importing it (a
    quarter of a second of every first sweep on a file, bench/optimize_speed.py). None:
    any other file goes through pandas."""
    time = table.column(names["time"])
    kind = str(time.type)
    if not (kind == "int64" or kind.startswith("timestamp[ms")):
        return None
    stamps = _arrow_numbers(time, np.int64)
    values: dict[str, np.ndarray] = {}
    for canon in VALUE_COLUMNS:
        column = _arrow_numbers(table.column(names[canon]), np.float64)
        if column is None:
            return None
        values[canon] = column
    if stamps is None:
        return None
    ms, bad = epoch_to_ms(stamps) if kind == "int64" else (stamps, None)
    return Columns(ms, bad, values, names, _ArrowCells(table, names))


def _arrow_numbers(column: Any, dtype: type[np.int64 | np.float64]) -> np.ndarray | None:
    """A column of ``dtype`` values without nulls, copied from its buffers; else None."""
    wanted = ("double",) if dtype is np.float64 else ("int64", "timestamp[ms")
    if column.null_count or not str(column.type).startswith(wanted):
        return None
    size = np.dtype(dtype).itemsize
    parts = [
        np.frombuffer(chunk.buffers()[1], dtype, len(chunk), chunk.offset * size)
        for chunk in column.chunks
    ]
    return np.concatenate(parts) if parts else np.empty(0, dtype)


@dataclass(slots=True)
class _ArrowCells:
    """Cells of a Parquet table for messages: converted to pandas only when one quotes a
    cell (the file then has a problem anyway)."""

    table: Any
    names: dict[str, str]
    _series: SeriesCells | None = None

    def _cells(self) -> SeriesCells:
        if self._series is None:
            raw = {c: self.table.column(name).to_pandas() for c, name in self.names.items()}
            self._series = SeriesCells(raw)
        return self._series

    def get(self, canon: str, row: int) -> Any:
        return self._cells().get(canon, row)

    def blank_row(self, row: int) -> bool:
        return self._cells().blank_row(row)
