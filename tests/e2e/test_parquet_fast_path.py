"""Plain Parquet candle files are read from Arrow's buffers, without pandas, to the same
arrays and the same error messages as through pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ats.data import candle_readers
from ats.data.candle_readers import load_candles
from ats.data.candles import CandleData, CandleDataError

T0 = 1_652_313_600_000
TIME_TYPES = {
    "epoch ms": pa.int64(),
    "epoch s": pa.int64(),
    "timestamp ms utc": pa.timestamp("ms", tz="UTC"),
    "timestamp ms tokyo": pa.timestamp("ms", tz="Asia/Tokyo"),
    "timestamp ms naive": pa.timestamp("ms"),
}


def _write(path: Path, kind: str, rows: int = 50, chunks: int = 1) -> Path:
    ms = T0 + np.arange(rows, dtype=np.int64) * 60_000
    times = ms // 1000 if kind == "epoch s" else ms
    close = 100 + np.cumsum(np.sin(np.arange(rows)))
    columns = {
        "time": pa.array(times, TIME_TYPES[kind]),
        "open": pa.array(close - 0.25),
        "high": pa.array(close + 1.0),
        "low": pa.array(close - 1.0),
        "close": pa.array(close),
        "volume": pa.array(np.full(rows, 2.5)),
    }
    pq.write_table(pa.table(columns), path, row_group_size=-(-rows // chunks))
    return path


def _through_pandas(monkeypatch: pytest.MonkeyPatch, path: Path) -> CandleData:
    with monkeypatch.context() as patch:
        patch.setattr(candle_readers, "_plain_parquet_columns", lambda table, names: None)
        return load_candles(path)


@pytest.mark.parametrize("kind", TIME_TYPES)
def test_plain_columns_give_the_arrays_pandas_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    path = _write(tmp_path / "c.parquet", kind, chunks=3)
    fast, slow = load_candles(path), _through_pandas(monkeypatch, path)
    for name in ("timestamps", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
        assert getattr(fast, name).dtype == getattr(slow, name).dtype
    assert fast.timeframe_ms == slow.timeframe_ms == 60_000
    assert fast.timestamps[0] == T0


def test_a_bad_row_reads_the_same_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path / "c.parquet", "timestamp ms utc")
    table = pq.read_table(path)
    high = table.column("high").to_numpy().copy()
    high[7] = 1.0  # below its low
    pq.write_table(table.set_column(2, "high", pa.array(high)), path)
    with pytest.raises(CandleDataError) as fast:
        load_candles(path)
    with pytest.raises(CandleDataError) as slow:
        _through_pandas(monkeypatch, path)
    assert str(fast.value) == str(slow.value)
    assert str(fast.value).startswith(f"{path} row 8: ")


def test_loading_a_plain_file_does_not_import_pandas(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.parquet", "timestamp ms utc")
    probe = (
        "import sys\n"
        "from ats.data.candle_readers import load_candles\n"
        f"print(len(load_candles({str(path)!r})), 'pandas' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.split() == ["50", "False"], result.stderr
