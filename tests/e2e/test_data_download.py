"""Acceptance (issue 5, item 5): ``ats data download`` against the loopback fake Binance.

100k one-minute candles are fetched in pages of 1000 through ccxt's real binance class;
the download is killed with SIGKILL midway, resumed, and must end with every candle
exactly once, in order, identical to what the server holds; the file then backtests.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from fake_exchange import FakeBinance

from ats.data.candle_readers import load_candles
from ats.trading_job.backtest import run_backtest
from ats.trading_job.job_config import parse_job_config
from ats.utils.synthetic_candles import make_candles

COUNT = 100_000
OPTIONS = [
    "--option", "fetchMargins=false", "--option", "fetchCurrencies=false",
    "--option", "adjustForTimeDifference=false", "--option", "fetchMarkets={types: [spot]}",
]  # fmt: skip


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    columns = make_candles(COUNT)
    prices = {k: np.round(columns[k], 2) for k in ("open", "high", "low", "close")}
    rows = zip(
        columns["timestamps"].tolist(),
        *(prices[k].tolist() for k in ("open", "high", "low", "close")),
        np.round(columns["volume"], 5).tolist(),
        strict=True,
    )
    server = FakeBinance()
    server.load_klines("BTC/USDT", "1m", rows)
    server.set_clock(None)
    await server.start()
    yield server
    await server.stop()


def _command(fake: FakeBinance, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "ats.cli", "data", "download", "--exchange", "binance",
        "--symbol", "BTC/USDT", "--timeframe", "1m", "--since", "2020-01-01",
        "--until", "2020-03-10T10:40", "--out", str(out), "--url", fake.base_url, *OPTIONS,
    ]  # fmt: skip


async def _lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


async def test_download_resumes_after_kill_without_gaps_or_duplicates(
    fake: FakeBinance, tmp_path: Path
) -> None:
    out = tmp_path / "btc.csv"
    first = await asyncio.create_subprocess_exec(
        *_command(fake, out), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    async with asyncio.timeout(60):
        while await _lines(out) < 30_000:
            assert first.returncode is None, "finished before it could be killed"
            await asyncio.sleep(0.02)
    os.kill(first.pid, signal.SIGKILL)
    await first.wait()
    killed_at = await _lines(out)
    assert 30_000 <= killed_at < COUNT

    second = await asyncio.create_subprocess_exec(
        *_command(fake, out), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(second.communicate(), 120)
    assert second.returncode == 0, stderr.decode()[-2000:]
    assert "resuming after" in stderr.decode()

    data = load_candles(out)  # validates order, no duplicates, OHLC sanity
    served = fake.klines("BTC/USDT", "1m")
    until = 1_577_836_800_000 + 99_999 * 60_000 + 60_000  # 2020-03-10T10:40
    expected = [c for c in served if c.ts + 60_000 <= until]
    assert len(data) == len(expected) == COUNT
    assert np.array_equal(data.timestamps, [c.ts for c in expected])
    assert np.diff(data.timestamps).max() == np.diff(data.timestamps).min() == 60_000
    for name in ("open", "high", "low", "close", "volume"):
        served_values = np.array([float(getattr(c, name)) for c in expected])
        assert np.array_equal(getattr(data, name), served_values), name
    pages = [r for r in fake.requests if r.path == "/api/v3/klines"]
    assert 100 <= len(pages) <= 110  # paged by 1000, not refetched from the start

    again = await asyncio.create_subprocess_exec(
        *_command(fake, out), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(again.communicate(), 60)
    assert b"0 new candles" in stderr  # already complete: nothing fetched twice
    assert len(load_candles(out)) == COUNT

    config = parse_job_config(
        {
            "name": "downloaded",
            "exchange": {"name": "back_trading", "params": {"data": str(out)}},
            "strategy": {"name": "sma_cross", "params": {"fast": 50, "slow": 200}},
        }
    )
    job = await run_backtest(config)
    assert job.report is not None and job.report["metrics"]["num_trades"] > 100


async def test_torn_last_line_is_repaired(fake: FakeBinance, tmp_path: Path) -> None:
    out = tmp_path / "btc.csv"
    out.write_text("time,open,high,low,close,volume\n2020-01-01 00:00:00+00:00,30000.0,30")
    command = _command(fake, out)
    command[command.index("--until") + 1] = "2020-01-01T01:00"
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    data = load_candles(out)
    assert len(data) == 60 and data.timestamps[0] == 1_577_836_800_000


async def test_parquet_is_written_directly_resumes_after_kill_and_extends(
    fake: FakeBinance, tmp_path: Path
) -> None:
    out = tmp_path / "btc.parquet"
    command = [*_command(fake, out), "--format", "parquet"]
    command[command.index("--until") + 1] = "2020-01-15"  # 14 days: 21 pages
    first = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    parts = tmp_path / "btc.parquet.parts"
    async with asyncio.timeout(60):
        while len(list(parts.glob("*.parquet")) if parts.is_dir() else []) < 5:
            assert first.returncode is None, "finished before it could be killed"
            await asyncio.sleep(0.01)
    os.kill(first.pid, signal.SIGKILL)
    await first.wait()
    assert not out.exists()
    assert not list(tmp_path.rglob("*.csv"))  # Parquet pages, never a CSV in between

    served = fake.klines("BTC/USDT", "1m")
    for until, count in (("2020-01-15", 14 * 1440), ("2020-01-16", 15 * 1440)):
        command[command.index("--until") + 1] = until  # the second run extends the file
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 120)
        assert process.returncode == 0, stderr.decode()[-2000:]
        assert "resuming after" in stderr.decode()
        assert out.read_bytes()[:4] == b"PAR1" and not parts.exists()
        data = load_candles(out)
        assert np.array_equal(data.timestamps, [c.ts for c in served[:count]])
        for name in ("open", "high", "low", "close", "volume"):
            expected = [float(getattr(c, name)) for c in served[:count]]
            assert np.array_equal(getattr(data, name), expected), name
    pages = [r for r in fake.requests if r.path == "/api/v3/klines"]
    assert 22 <= len(pages) <= 26  # resumed after the last part, never from the start


async def test_parquet_rerun_replaces_a_last_row_written_while_open(
    fake: FakeBinance, tmp_path: Path
) -> None:
    """A file that ends in a candle written while it was still open: the rerun fetches that
    candle again and its final values replace the row (a later part wins at the join)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pa_pq

    from ats.data.downloader import download_candles

    out = tmp_path / "btc.parquet"
    options = {"fetchMargins": False, "fetchCurrencies": False}
    options |= {"adjustForTimeDifference": False, "fetchMarkets": {"types": ["spot"]}}
    day = 1_577_836_800_000
    for until in (day + 1_440 * 60_000, day + 2 * 1_440 * 60_000):
        await download_candles(
            exchange_id="binance",
            symbol="BTC/USDT",
            timeframe="1m",
            since=day,
            until=until,
            out=out,
            urls=fake.base_url,
            options=options,
            file_format="parquet",
        )
        if until == day + 1_440 * 60_000:  # as if the last candle was caught while open
            table = pa_pq.read_table(out)
            close = table.column("close").to_numpy().copy()
            close[-1] -= 0.75
            table = table.set_column(
                table.schema.get_field_index("close"), "close", pa.array(close)
            )
            pa_pq.write_table(table, out)
            assert pc.max(table.column("time")).value == until - 60_000
    data = load_candles(out)
    served = fake.klines("BTC/USDT", "1m")[: 2 * 1_440]
    assert np.array_equal(data.timestamps, [c.ts for c in served])
    assert np.array_equal(data.close, [float(c.close) for c in served])
    assert not (tmp_path / "btc.parquet.parts").exists()
