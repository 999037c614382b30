"""The loopback exchange's candles, paper feeds and jobs, and the waits the ccxt tests share."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fake_exchange import FakeBinance

from ats.data.candle_writer import save_candles_csv
from ats.data.candles import CandleData
from ats.exchanges.data_classes import Candle
from ats.exchanges.feeds.ccxt_feed import CcxtFeed
from ats.exchanges.run_control import RunControl
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus, TradingJob

MINUTE = 60_000


START = 1_704_067_200_000  # 2024-01-01 00:00 UTC


N_CANDLES = 300  # candles the jobs trade on; one more is loaded as the in-progress one


WARMUP = 25


LOOPBACK_OPTIONS = {
    "fetchMargins": False,
    "fetchCurrencies": False,
    "adjustForTimeDifference": False,
    "fetchMarkets": {"types": ["spot"]},
}


Row = tuple[int, float, float, float, float, float]


def wavy_candles(n: int = N_CANDLES + 1, seed: int = 7) -> list[Row]:
    """A random walk on a slow sine, so SMA(5)/SMA(20) cross a good few times."""
    rng = random.Random(seed)
    rows: list[Row] = []
    close = 40_000.0
    for i in range(n):
        open_ = close
        close = round(
            40_000 + 800 * math.sin(i / 6) + rng.uniform(-60, 60) + (close - 40_000) * 0.2, 2
        )
        high = round(max(open_, close) + rng.uniform(0, 20), 2)
        low = round(min(open_, close) - rng.uniform(0, 20), 2)
        rows.append((START + i * MINUTE, open_, high, low, close, round(rng.uniform(1, 5), 3)))
    return rows


def feed_params(fake: FakeBinance, **extra: Any) -> dict[str, Any]:
    return {
        "feed": "ccxt",
        "exchange": "binance",
        "timeframe": "1m",
        "poll_seconds": 0.01,
        "urls": fake.base_url,
        "options": LOOPBACK_OPTIONS,
        "enable_rate_limit": False,
        "timeout_ms": 400,
        "backoff_seconds": 0.01,
        "backoff_max": 0.05,
        **extra,
    }


BTCUSDT_MARKET: dict[str, Any] = {
    "amount_step": 0.00001,
    "price_tick": 0.01,
    "cost_step": 0.01,
    "min_amount": 0.00001,
    "max_amount": 9000,
    "min_notional": 5,
    "max_notional": 9_000_000,
    "fee_step": 0.00000001,
}


"""The fake's BTCUSDT filters as a back_trading ``market:`` block: with the same rules the
backtest rounds and refuses exactly like the exchange."""


def job_config(
    name: str, exchange: dict[str, Any], fees: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "symbol": "BTC/USDT",
        "balances": {"USDT": 10_000},
        "exchange": exchange,
        "strategy": {"name": "sma_cross", "params": {"fast": 5, "slow": 20}},
        "fees": fees or {"name": "flat_rate", "params": {"rate": 0.001}},
    }


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    server = FakeBinance(timeout_delay=3.0)
    server.load_klines("BTCUSDT", "1m", wavy_candles())
    server.set_candle_index(WARMUP)
    async with server:
        yield server


def write_csv(rows: list[Row], path: Path) -> Path:
    cols = np.array(rows, dtype=np.float64)
    save_candles_csv(
        CandleData(
            path,
            cols[:, 0].astype(np.int64),
            cols[:, 1],
            cols[:, 2],
            cols[:, 3],
            cols[:, 4],
            cols[:, 5],
            timeframe_ms=MINUTE,
        ),
        path,
    )
    return path


async def backtest_report(
    tmp_path: Path, market: dict[str, Any] | None = None, fees: dict[str, Any] | None = None
) -> dict[str, Any]:
    """back_trading on the candles the fake serves, under ``market`` (default: the fake's
    BTCUSDT rules) and the ``fees`` plugin config (default: flat_rate 0.1 % in quote)."""
    csv = write_csv(wavy_candles()[:N_CANDLES], tmp_path / "candles.csv")
    params = {"data": str(csv), "market": BTCUSDT_MARKET if market is None else market}
    config = job_config("bt", {"name": "back_trading", "params": params}, fees)
    manager = JobManager()
    job = manager.create(parse_job_config(config))
    manager.start(job.id)
    await manager.wait(job.id)
    assert job.status is JobStatus.FINISHED and job.report
    return job.report


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


async def run_paper(
    fake: FakeBinance, faults: bool = False, fees: dict[str, Any] | None = None
) -> TradingJob:
    """Start a paper job, tick the fake clock candle by candle (maybe injecting faults),
    wait until every closed candle was traded on, then stop the job."""
    manager = JobManager()
    exchange = {"name": "paper", "params": feed_params(fake, warmup=WARMUP)}
    job = manager.create(parse_job_config(job_config("paper", exchange, fees)))
    manager.start(job.id)
    feed = job.exchange.feed  # type: ignore[union-attr]
    await wait_for(lambda: feed.count >= WARMUP)
    rng = random.Random(3)
    kinds = ["429", "503", "timeout", "drop", "418"]
    # One candle at a time, like a live market: when several closed candles arrive at
    # once the older ones are history and the exchange refuses orders placed on them.
    while fake.candle_index() < N_CANDLES:
        if faults and rng.random() < 0.15:
            kind = rng.choice(kinds)
            fake.inject(
                "/api/v3/klines", kind, count=rng.randint(1, 3), delay=1.0, retry_after=0.05
            )
        fake.advance(1)
        closed = fake.candle_index()
        await wait_for(lambda closed=closed: feed.count >= closed)  # type: ignore[misc]
    await wait_for(lambda: feed.count >= N_CANDLES, timeout=30.0)
    await asyncio.sleep(0.05)  # a few more polls: the in-progress candle must not appear
    assert job.status is JobStatus.RUNNING
    manager.stop(job.id)
    await manager.wait(job.id)
    assert job.status is JobStatus.STOPPED, job.error
    return job


async def collect(feed: CcxtFeed, control: RunControl, n: int) -> list[Candle]:
    async with asyncio.timeout(5):
        return [c for _ in range(n) if (c := await feed.next_candle(control)) is not None]
