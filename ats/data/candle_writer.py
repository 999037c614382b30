"""Writing candles: ``time,open,high,low,close,volume`` CSV that loads back identically.

``ats data download`` and tests write through :func:`save_candles_csv`: the candles
are validated first (a download never leaves a file that will not load) and the file
is replaced atomically (readers never see half a file).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ats.data.candle_columns import (
    Columns,
    SeriesCells,
    Source,
    columns_from_series,
    pick_columns,
    validated,
)
from ats.data.candles import CSV_HEADER, TIME_COLUMNS, VALUE_COLUMNS, CandleData
from ats.utils.lazy_module import LazyModule

if TYPE_CHECKING:
    import pandas as pd
else:  # only parsing text or frames needs it, not cached candles (bench/whole_process.py)
    pd = LazyModule("pandas")

__all__ = ["save_candles_csv"]


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
        columns = Columns(
            np.asarray(data.timestamps, dtype=np.int64),
            None,
            {c: raw[c].to_numpy() for c in VALUE_COLUMNS},
            {c: c for c in raw},
            SeriesCells(raw),
        )
        candles = validated(target, columns, Source(f"CandleData for {target}", "row", 1))
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
    names = pick_columns(header, label)
    raw: dict[str, pd.Series] = {}
    for canon, name in names.items():
        if time_from_index and canon == "time":
            raw[canon] = pd.Series(index, copy=False).reset_index(drop=True)
        else:
            raw[canon] = frame[columns[name]].reset_index(drop=True)
    source = Source(label, unit="row", first=1)
    return validated(target, columns_from_series(raw, names), source)


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
