"""The parsed-candle cache: hits skip the parser, any change to the source invalidates,
bad files are never cached, and concurrent writers leave one whole entry."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ats.data import candle_cache
from ats.data.candle_cache import CandleCache, default_cache, load_candles_cached
from ats.data.candle_readers import load_candles
from ats.data.candle_writer import save_candles_csv
from ats.data.candles import CandleData, CandleDataError
from ats.exceptions import ConfigError
from ats.utils.synthetic_candles import make_candles

COLUMNS = ("timestamps", "open", "high", "low", "close", "volume")


def _csv(path: Path, count: int = 500, seed: int = 1) -> Path:
    save_candles_csv(CandleData(path=path, timeframe_ms=60_000, **make_candles(count, seed)), path)
    return path


def _same(a: CandleData, b: CandleData) -> None:
    for column in COLUMNS:
        np.testing.assert_array_equal(getattr(a, column), getattr(b, column), err_msg=column)
    assert a.timeframe_ms == b.timeframe_ms


def _no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(path: object) -> CandleData:
        raise AssertionError(f"parsed {path} again")

    monkeypatch.setattr(candle_cache, "load_candles", fail)


def test_second_load_is_a_memory_mapped_hit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _csv(tmp_path / "c.csv")
    cache = CandleCache(tmp_path / "cache")
    first = cache.load(source)
    _same(first, load_candles(source))
    assert len(list((tmp_path / "cache").glob("*.arrow"))) == 1
    _no_parsing(monkeypatch)
    second = cache.load(source)
    _same(second, first)
    assert second.path == source
    assert not second.close.flags.writeable and not second.close.flags.owndata  # a view
    assert second.timeframe == "1m"


def test_a_changed_source_is_parsed_again(tmp_path: Path) -> None:
    source = _csv(tmp_path / "c.csv", seed=1)
    cache = CandleCache(tmp_path / "cache")
    before = cache.load(source)
    mtime = source.stat().st_mtime_ns
    _csv(source, seed=2)  # same row count and, here, the same size in bytes is not assumed
    os.utime(source, ns=(mtime + 1_000_000, mtime + 1_000_000))
    after = cache.load(source)
    _same(after, load_candles(source))
    assert not np.array_equal(after.close, before.close)


def test_same_size_new_mtime_is_a_miss(tmp_path: Path) -> None:
    source = tmp_path / "c.csv"
    source.write_text("time,open,high,low,close,volume\n1000,1,2,0.5,1.5,3\n2000,1,2,0.5,1.5,3\n")
    cache = CandleCache(tmp_path / "cache")
    assert cache.load(source).close.tolist() == [1.5, 1.5]
    size = source.stat().st_size
    source.write_text("time,open,high,low,close,volume\n1000,1,2,0.5,1.5,3\n2000,1,2,0.5,1.7,3\n")
    assert source.stat().st_size == size
    mtime = source.stat().st_mtime_ns + 1_000_000  # coarse clocks: make the change visible
    os.utime(source, ns=(mtime, mtime))
    assert cache.load(source).close.tolist() == [1.5, 1.7]


def test_bad_file_is_not_cached_and_keeps_its_error(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("time,open,high,low,close,volume\n1000,1,2,0.5,1.5,3\n2000,x,2,0.5,1.5,3\n")
    cache = CandleCache(tmp_path / "cache")
    for _ in range(2):
        with pytest.raises(CandleDataError, match=r"bad.csv line 3: cannot parse open value 'x'"):
            cache.load(source)
    assert not list((tmp_path / "cache").glob("*"))
    with pytest.raises(CandleDataError, match=r"nope.csv: file not found"):
        cache.load(tmp_path / "nope.csv")


def test_corrupt_entry_is_a_miss_and_is_rewritten(tmp_path: Path) -> None:
    source = _csv(tmp_path / "c.csv")
    cache = CandleCache(tmp_path / "cache")
    cache.load(source)
    entry = cache.entry_path(source.resolve())
    entry.write_bytes(entry.read_bytes()[:1000])  # torn by something outside ATS
    _same(cache.load(source), load_candles(source))
    assert entry.stat().st_size > 1000


def test_prune_drops_entries_of_deleted_sources_and_least_recently_used(tmp_path: Path) -> None:
    cache = CandleCache(tmp_path / "cache")
    gone, old, recent = (_csv(tmp_path / f"{name}.csv") for name in ("gone", "old", "recent"))
    for source in (gone, old, recent):
        cache.load(source)
    entry_size = cache.entry_path(old.resolve()).stat().st_size
    gone.unlink()
    os.utime(cache.entry_path(old.resolve()), (1, 1))  # least recently used
    cache.max_bytes = 2 * entry_size + 512  # two entries (paths differ by a few bytes)
    cache.load(_csv(tmp_path / "new.csv"))
    left = {path.name for path in (tmp_path / "cache").glob("*.arrow")}
    expected = {cache.entry_path(p.resolve()).name for p in (recent, tmp_path / "new.csv")}
    assert left == expected


def test_default_cache_follows_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATS_CANDLE_CACHE_DIR")
    monkeypatch.setenv("ATS_SAVED_STATES_DIR", str(tmp_path / "state"))
    cache = default_cache()
    assert cache is not None and cache.directory == tmp_path / "state" / "cache" / "candles"
    load_candles_cached(_csv(tmp_path / "c.csv"))
    for directory in (tmp_path / "state", cache.directory):  # saved_states stays private
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for entry in cache.directory.iterdir():
        assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    monkeypatch.setenv("ATS_CANDLE_CACHE_MAX_MB", "0")
    assert default_cache() is None
    monkeypatch.setenv("ATS_CANDLE_CACHE_MAX_MB", "lots")
    with pytest.raises(ConfigError, match=r"^settings \(ATS_\*\): candle_cache_max_mb: .*'lots'"):
        default_cache()


WRITER = """
import json, sys
from pathlib import Path
from ats.data.candle_cache import CandleCache
data = CandleCache(Path(sys.argv[1])).load(sys.argv[2])
print(json.dumps([len(data), float(data.close.sum())]))
"""


def test_concurrent_cold_loads_leave_one_whole_entry(tmp_path: Path) -> None:
    source = _csv(tmp_path / "c.csv", count=20_000)
    cache_dir = tmp_path / "cache"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(cache_dir), str(source)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [json.loads(process.communicate(timeout=60)[0]) for process in processes]
    expected = load_candles(source)
    assert results == [[len(expected), float(expected.close.sum())]] * 4
    assert [path.name for path in cache_dir.iterdir()] == [
        CandleCache(cache_dir).entry_path(source.resolve()).name
    ]  # no temp files left behind
    _same(CandleCache(cache_dir).load(source), expected)
