"""Tests for candle files: readers, checks and writer (ats.data.candles and its siblings)."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ats.data.candle_readers import load_candles
from ats.data.candle_writer import save_candles_csv
from ats.data.candles import CandleData, CandleDataError
from ats.data.timeframes import ms_to_timeframe, timeframe_to_ms

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "BTC_USDT_3s_2022-05-12.csv"
T0 = 1_652_313_600_000  # 2022-05-12 00:00:00 UTC in ms
HEADER = "time,open,high,low,close,volume"
COLUMNS = ("timestamps", "open", "high", "low", "close", "volume")


def _iso(ms: int) -> str:
    return str(pd.Timestamp(ms, unit="ms", tz="UTC"))


def _good_rows(n: int = 6, step_ms: int = 3000) -> list[str]:
    """Valid candle lines; row i is written on line i + 2."""
    return [
        f"{_iso(T0 + i * step_ms)},{100 + i}.5,{102 + i}.0,{99 + i}.0,{101 + i}.25,{i}.5"
        for i in range(n)
    ]


def _write(tmp_path: Path, lines: list[str], name: str = "candles.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _assert_same(a: CandleData, b: CandleData) -> None:
    for column in COLUMNS:
        np.testing.assert_array_equal(getattr(a, column), getattr(b, column), err_msg=column)


# --------------------------------------------------------------------------- sample file


def test_sample_file_loads() -> None:
    data = load_candles(SAMPLE)
    assert len(data) == 10_000  # header + 10,000 rows; the file has no final newline
    assert data.timeframe_ms == 3000
    assert data.timeframe == "3s"
    assert data.timestamps.dtype == np.int64
    for column in ("open", "high", "low", "close", "volume"):
        assert getattr(data, column).dtype == np.float64
        assert not getattr(data, column).flags.writeable
    assert data.timestamps[0] == T0
    assert data.timestamps[-1] == T0 + 9999 * 3000  # 08:19:57
    assert data.open[0] == 29103.94
    assert data.close[-1] == 28136.94
    assert np.all(np.diff(data.timestamps) > 0)
    assert data.path == SAMPLE


def test_slice_shares_memory_and_keeps_timeframe() -> None:
    data = load_candles(SAMPLE)
    part = data.slice(10, 11)
    assert len(part) == 1
    assert part.timeframe == "3s"
    assert part.timestamps[0] == data.timestamps[10]
    assert np.shares_memory(part.close, data.close)
    assert len(data.slice(-5, len(data))) == 5
    assert "10000 candles" in repr(data)


# --------------------------------------------------------------------------- bad inputs


def _replace_row(index: int, line: str) -> list[str]:
    rows = _good_rows()
    rows[index] = line
    return [HEADER, *rows]


t = _iso  # short alias for the table below
BAD_CASES = [
    # (id, lines, line number, expected text)
    (
        "bad number",
        _replace_row(2, f"{t(T0 + 6000)},abc,103,100,102,1"),
        4,
        "cannot parse open value 'abc'",
    ),
    (
        "bad time",
        _replace_row(3, "yesterday,103,105,102,104,1"),
        5,
        "cannot parse time 'yesterday'",
    ),
    ("empty time", _replace_row(1, ",101,103,100,102,1"), 3, "time is empty"),
    ("empty value", _replace_row(1, f"{t(T0 + 3000)},101,103,100,102,"), 3, "volume is empty"),
    ("nan value", _replace_row(4, f"{t(T0 + 12000)},101,103,100,nan,1"), 6, "close is NaN"),
    ("inf value", _replace_row(0, f"{t(T0)},101,inf,100,102,1"), 2, "high is infinite"),
    ("zero price", _replace_row(2, f"{t(T0 + 6000)},1,3,0,2,1"), 4, "low 0.0 is not positive"),
    (
        "negative price",
        _replace_row(5, f"{t(T0 + 15000)},-1,3,1,2,1"),
        7,
        "open -1.0 is not positive",
    ),
    (
        "negative volume",
        _replace_row(3, f"{t(T0 + 9000)},101,103,100,102,-2"),
        5,
        "volume -2.0 is negative",
    ),
    (
        "high below low",
        _replace_row(5, f"{t(T0 + 15000)},101,100,101,101,1"),
        7,
        "high 100.0 < low 101.0",
    ),
    (
        "open outside",
        _replace_row(1, f"{t(T0 + 3000)},99,103,100,102,1"),
        3,
        "open 99.0 outside [low 100.0, high 103.0]",
    ),
    (
        "close outside",
        _replace_row(2, f"{t(T0 + 6000)},101,103,100,104,1"),
        4,
        "close 104.0 outside",
    ),
    (
        "duplicate time",
        _replace_row(4, f"{t(T0 + 9000)},104,106,103,105,1"),
        6,
        "duplicate time 2022-05-12 00:00:09+00:00 (same as line 5)",
    ),
    (
        "unsorted time",
        _replace_row(4, f"{t(T0)},104,106,103,105,1"),
        6,
        "time 2022-05-12 00:00:00+00:00 is not after line 5 (2022-05-12 00:00:09+00:00)",
    ),
    ("blank line", _replace_row(2, ""), 4, "empty line"),
    (
        "too many fields",
        _replace_row(2, f"{t(T0 + 6000)},101,103,100,102,1,7"),
        4,
        "expected 6 fields",
    ),
    ("too few fields", _replace_row(3, f"{t(T0 + 9000)},101,103,100,102"), 5, "volume is empty"),
]


@pytest.mark.parametrize(
    ("lines", "line_no", "text"), [c[1:] for c in BAD_CASES], ids=[c[0] for c in BAD_CASES]
)
def test_bad_input_reports_file_and_line(
    tmp_path: Path, lines: list[str], line_no: int, text: str
) -> None:
    path = _write(tmp_path, lines, name="bad_file.csv")
    with pytest.raises(CandleDataError) as info:
        load_candles(path)
    message = str(info.value)
    assert message.startswith(f"{path} line {line_no}: "), message
    assert text in message, message
    assert "\n" not in message


def test_first_bad_row_wins(tmp_path: Path) -> None:
    rows = _good_rows(8)
    rows[5] = f"{_iso(T0 + 15000)},1,1,2,1,1"  # line 7: high < low
    rows[2] = f"{_iso(T0 + 6000)},x,3,1,2,1"  # line 4: unparseable
    rows[6] = rows[3]  # line 8: unsorted
    path = _write(tmp_path, [HEADER, *rows])
    with pytest.raises(CandleDataError, match=r"line 4: cannot parse open value 'x'"):
        load_candles(path)


def test_several_problems_on_one_row_report_the_value_checks_first(tmp_path: Path) -> None:
    rows = _good_rows()
    rows[3] = f"{_iso(T0)},101,99,100,102,-1"  # line 5: volume < 0, high < low, unsorted
    path = _write(tmp_path, [HEADER, *rows])
    with pytest.raises(CandleDataError, match=r"line 5: volume -1.0 is negative"):
        load_candles(path)


@pytest.mark.parametrize("content", ["", "\n\n", "   \n"])
def test_empty_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content)
    with pytest.raises(CandleDataError, match=r"empty.csv: file is empty"):
        load_candles(path)


def test_header_only(tmp_path: Path) -> None:
    path = _write(tmp_path, [HEADER])
    with pytest.raises(CandleDataError, match=r"candles.csv: file is empty \(header only"):
        load_candles(path)


def test_missing_column(tmp_path: Path) -> None:
    path = _write(tmp_path, ["time,open,high,low,volume", f"{_iso(T0)},1,2,1,3"])
    with pytest.raises(CandleDataError) as info:
        load_candles(path)
    assert str(info.value) == (
        f"{path}: missing column 'close' (have: time, open, high, low, volume)"
    )


def test_missing_time_column(tmp_path: Path) -> None:
    path = _write(tmp_path, ["when,open,high,low,close,volume", f"{_iso(T0)},1,2,1,1,3"])
    with pytest.raises(CandleDataError, match=r"candles.csv: missing time column .*have: when"):
        load_candles(path)


def test_duplicate_column(tmp_path: Path) -> None:
    path = _write(tmp_path, ["time,open,high,low,close,Close,volume", f"{_iso(T0)},1,2,1,1,1,3"])
    with pytest.raises(
        CandleDataError, match=r"candles.csv: column 'close' appears more than once"
    ):
        load_candles(path)


def test_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(CandleDataError, match=r"nope.csv: file not found"):
        load_candles(tmp_path / "nope.csv")
    with pytest.raises(CandleDataError, match=r"is a directory"):
        load_candles(tmp_path)


# --------------------------------------------------------------------------- accepted variants


def test_columns_by_name_case_insensitive_extra_columns_and_order(tmp_path: Path) -> None:
    lines = [
        "Volume,CLOSE,symbol,Low,High,Open,Timestamp",
        f"5,101,BTC,99,102,100,{_iso(T0)}",
        f"6,102,BTC,100,103,101,{_iso(T0 + 60_000)}",
    ]
    data = load_candles(_write(tmp_path, lines))
    np.testing.assert_array_equal(data.timestamps, [T0, T0 + 60_000])
    np.testing.assert_array_equal(data.open, [100, 101])
    np.testing.assert_array_equal(data.volume, [5, 6])
    assert data.timeframe == "1m"


def test_trailing_blank_lines_crlf_and_bom_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "win.csv"
    path.write_bytes(
        b"\xef\xbb\xbf" + "\r\n".join([HEADER, *_good_rows()]).encode() + b"\r\n\r\n\n"
    )
    data = load_candles(path)
    assert len(data) == 6
    assert data.timestamps[-1] == T0 + 15_000


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        ("time", ["1652313600000", "1652313603000"], [T0, T0 + 3000]),
        ("timestamp", ["1652313600", "1652313603"], [T0, T0 + 3000]),
        ("timestamp", ["1652313600.25", "1652313603.5"], [T0 + 250, T0 + 3500]),
        ("date", ["2022-05-12 00:00:00", "2022-05-12T00:00:03"], [T0, T0 + 3000]),
        ("datetime", ["2022-05-12T02:00:00+02:00", "2022-05-12 00:00:03Z"], [T0, T0 + 3000]),
        (
            "time",
            ["2022-05-12 00:00:00.123+00:00", "2022-05-12 00:00:03.5+00:00"],
            [T0 + 123, T0 + 3500],
        ),
        ("date", ["2022-05-12", "2022-05-13"], [T0, T0 + 86_400_000]),
    ],
    ids=["epoch-ms", "epoch-s", "epoch-s-fraction", "naive", "tz-aware", "millis", "date-only"],
)
def test_time_formats(tmp_path: Path, name: str, values: list[str], expected: list[int]) -> None:
    lines = [f"{name},open,high,low,close,volume"] + [f"{v},1,2,0.5,1.5,3" for v in values]
    data = load_candles(_write(tmp_path, lines))
    np.testing.assert_array_equal(data.timestamps, expected)
    assert data.timestamps.dtype == np.int64


@pytest.mark.parametrize(
    ("values", "line_no", "text"),
    [
        (["1652313600000", "nan", "1652313606000"], 3, "cannot parse time 'nan'"),
        (["1652313600000", "1e300", "1652313606000"], 3, "cannot parse time '1e300'"),
        (["1652313600000", "1652313603000", "1652313606"], 4, "is not after line 3"),
    ],
    ids=["nan", "out-of-range", "stray-seconds"],
)
def test_bad_epoch_times(tmp_path: Path, values: list[str], line_no: int, text: str) -> None:
    lines = [HEADER] + [f"{v},1,2,0.5,1.5,3" for v in values]
    path = _write(tmp_path, lines)
    with pytest.raises(CandleDataError, match=rf"candles.csv line {line_no}: .*{text}"):
        load_candles(path)


def test_gzip_file(tmp_path: Path) -> None:
    path = tmp_path / "c.csv.gz"
    path.write_bytes(gzip.compress(("\n".join([HEADER, *_good_rows()]) + "\n").encode()))
    assert len(load_candles(path)) == 6


def test_single_row_takes_timeframe_from_file_name(tmp_path: Path) -> None:
    data = load_candles(_write(tmp_path, [HEADER, *_good_rows(1)], name="ETH_USDT_5m_2024.csv"))
    assert data.timeframe == "5m"
    assert load_candles(_write(tmp_path, [HEADER, *_good_rows(1)])).timeframe_ms == 0


def test_timeframe_is_most_common_step(tmp_path: Path) -> None:
    steps = [60_000, 60_000, 120_000, 60_000, 180_000, 180_000, 180_000, 180_000]
    times = np.cumsum([0, *steps]) + T0
    lines = [HEADER] + [f"{int(ms)},1,2,0.5,1.5,3" for ms in times]
    assert load_candles(_write(tmp_path, lines)).timeframe == "3m"


# --------------------------------------------------------------------------- parquet


def _frame(n: int = 5) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": pd.date_range("2022-05-12", periods=n, freq="1h", tz="UTC"),
            "open": np.arange(n) + 10.5,
            "high": np.arange(n) + 12.0,
            "low": np.arange(n) + 9.0,
            "close": np.arange(n) + 11.25,
            "volume": np.arange(n) * 0.5,
        }
    )


@pytest.mark.parametrize("suffix", [".parquet", ".pq"])
def test_parquet_round_trip(tmp_path: Path, suffix: str) -> None:
    frame = _frame()
    path = tmp_path / f"c{suffix}"
    frame.to_parquet(path)
    data = load_candles(path)
    assert data.timeframe == "1h"
    np.testing.assert_array_equal(data.timestamps, T0 + np.arange(5) * 3_600_000)
    np.testing.assert_array_equal(data.close, frame["close"].to_numpy())
    np.testing.assert_array_equal(data.to_frame()["time"], frame["time"])


def test_parquet_epoch_ms_and_bad_row(tmp_path: Path) -> None:
    frame = _frame().rename(columns={"time": "Timestamp"})
    frame["Timestamp"] = T0 + np.arange(5) * 3_600_000
    path = tmp_path / "c.parquet"
    frame.to_parquet(path)
    assert load_candles(path).timestamps[0] == T0
    frame.loc[2, "open"] = None
    frame.to_parquet(path)
    with pytest.raises(CandleDataError, match=r"c.parquet row 3: open is empty"):
        load_candles(path)


def test_parquet_time_index_and_other_timezone(tmp_path: Path) -> None:
    frame = _frame()
    frame["time"] = frame["time"].dt.tz_convert("Asia/Tokyo")
    path = tmp_path / "c.parquet"
    frame.set_index("time").to_parquet(path)
    np.testing.assert_array_equal(load_candles(path).timestamps, T0 + np.arange(5) * 3_600_000)


def test_corrupt_parquet(tmp_path: Path) -> None:
    path = tmp_path / "c.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(CandleDataError, match=r"c.parquet: cannot read Parquet file"):
        load_candles(path)


# --------------------------------------------------------------------------- saving


def test_save_round_trip_of_sample(tmp_path: Path) -> None:
    data = load_candles(SAMPLE)
    path = tmp_path / "out" / "sample.csv"
    save_candles_csv(data, path)
    lines = path.read_text().splitlines()
    assert lines[0] == HEADER
    assert lines[1].startswith("2022-05-12 00:00:00+00:00,29103.94,29147.73,")
    again = load_candles(path)
    _assert_same(data, again)
    assert again.timeframe == "3s"
    assert not list(path.parent.glob(".*tmp"))


def test_save_dataframe_with_datetime_index(tmp_path: Path) -> None:
    frame = _frame().set_index("time")
    frame.columns = [c.upper() for c in frame.columns]
    path = tmp_path / "f.csv"
    save_candles_csv(frame, path)
    data = load_candles(path)
    np.testing.assert_array_equal(data.high, frame["HIGH"].to_numpy())
    assert data.timestamps[1] == T0 + 3_600_000


def test_save_rejects_invalid_frame_and_keeps_old_file(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("old")
    frame = _frame()
    frame.loc[3, "high"] = 1.0
    with pytest.raises(CandleDataError, match=r"DataFrame for .*f.csv row 4: high 1.0 < low 12.0"):
        save_candles_csv(frame, path)
    assert path.read_text() == "old"
    with pytest.raises(TypeError):
        save_candles_csv([1, 2, 3], path)  # type: ignore[arg-type]


def test_save_validates_candle_data_and_leaves_inputs_writable(tmp_path: Path) -> None:
    frame = _frame()
    save_candles_csv(frame, tmp_path / "ok.csv")
    frame.loc[0, "open"] = 10.75  # still writable after validation
    good = load_candles(tmp_path / "ok.csv")
    bad = CandleData(
        tmp_path / "x.csv",
        good.timestamps[::-1].copy(),
        good.open,
        good.high,
        good.low,
        good.close,
        good.volume,
        3_600_000,
    )
    with pytest.raises(
        CandleDataError, match=r"CandleData for .*x.csv row 2: time .* not after row 1"
    ):
        save_candles_csv(bad, tmp_path / "x.csv")
    assert not (tmp_path / "x.csv").exists()
    assert bad.timestamps.flags.writeable


def test_save_millisecond_times(tmp_path: Path) -> None:
    frame = _frame()
    frame["time"] = T0 + np.array([0, 1, 250, 1000, 2001])
    path = tmp_path / "ms.csv"
    save_candles_csv(frame, path)
    assert path.read_text().splitlines()[2].startswith("2022-05-12 00:00:00.001+00:00,")
    np.testing.assert_array_equal(load_candles(path).timestamps, frame["time"].to_numpy())


positive = st.floats(min_value=5e-324, max_value=1e300, allow_nan=False, allow_infinity=False)


@st.composite
def candle_frames(draw: st.DrawFn) -> pd.DataFrame:
    """Random valid candles: four sorted prices give low <= open, close <= high."""
    n = draw(st.integers(min_value=1, max_value=30))
    starts = draw(st.integers(min_value=0, max_value=4_000_000_000_000))
    steps = draw(st.lists(st.integers(1, 10**10), min_size=n, max_size=n))
    rows = []
    for _ in range(n):
        low, a, b, high = sorted(draw(st.lists(positive, min_size=4, max_size=4)))
        if draw(st.booleans()):
            a, b = b, a
        volume = draw(st.one_of(st.just(0.0), st.floats(0, 1e300, allow_nan=False)))
        rows.append((low, a, b, high, volume))
    lows, opens, closes, highs, volumes = (
        np.array(col, dtype=np.float64) for col in zip(*rows, strict=True)
    )
    return pd.DataFrame(
        {
            "time": pd.to_datetime(starts + np.cumsum(steps), unit="ms", utc=True),
            "open": opens,
            "high": highs,
            "low": lows,
            "close": closes,
            "volume": volumes,
        }
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=candle_frames())
def test_random_frames_round_trip_exactly(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = tmp_path / "random.csv"
    save_candles_csv(frame, path)
    data = load_candles(path)
    expected_ms = frame["time"].to_numpy(dtype="datetime64[ms]").astype(np.int64)
    np.testing.assert_array_equal(data.timestamps, expected_ms)
    for column in ("open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(data, column), frame[column].to_numpy())


# --------------------------------------------------------------------------- timeframes


@pytest.mark.parametrize(
    ("tf", "ms"),
    [
        ("3s", 3000),
        ("1m", 60_000),
        ("5m", 300_000),
        ("1h", 3_600_000),
        ("4h", 14_400_000),
        ("1d", 86_400_000),
        ("1w", 604_800_000),
        ("90s", 90_000),
        ("250ms", 250),
    ],
)
def test_timeframe_helpers_round_trip(tf: str, ms: int) -> None:
    assert timeframe_to_ms(tf) == ms
    assert ms_to_timeframe(ms) == tf


def test_timeframe_helpers_normalise_and_reject() -> None:
    assert ms_to_timeframe(120_000) == "2m"
    assert ms_to_timeframe(7 * 86_400_000 * 2) == "2w"
    assert ms_to_timeframe(1500) == "1500ms"
    assert ms_to_timeframe(0) == "0ms"
    for bad in ["1M", "1y", "0m", "m", "5x", "", "-1m"]:
        with pytest.raises(ValueError):
            timeframe_to_ms(bad)
    with pytest.raises(ValueError):
        ms_to_timeframe(-1)
