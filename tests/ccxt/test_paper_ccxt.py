"""CcxtFeed and paper jobs on candles served by the loopback FakeBinance through ccxt's
real binance class: same trades as back_trading, through faults, with no internet."""

from __future__ import annotations

import asyncio
import math
import random
import subprocess
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt
import numpy as np
import pytest
from fake_exchange import FakeBinance

from ats.data.candle_writer import save_candles_csv
from ats.data.candles import CandleData
from ats.exceptions import ConfigError
from ats.exchanges.data_classes import Candle
from ats.exchanges.feeds.ccxt_feed import CcxtFeed
from ats.exchanges.market_rules import MarketRules
from ats.exchanges.run_control import RunControl, StopRequested
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus, TradingJob
from ats.utils.plugins import PluginLoader

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


async def test_paper_ccxt_matches_back_trading(fake: FakeBinance, tmp_path: Path) -> None:
    expected = await backtest_report(tmp_path)
    assert len(expected["trades"]) >= 4
    job = await run_paper(fake)
    assert job.report is not None
    assert job.exchange is not None  # the exchange's filters, read through ccxt
    assert job.exchange.market_rules == MarketRules.from_config(BTCUSDT_MARKET)
    # Issue 9, item 9: paper amounts are on the market's lot step, as live ones are.
    amounts = [Decimal(repr(fill.amount)) for fill in job.exchange.get_fills()]
    assert amounts and all(amount % Decimal("0.00001") == 0 for amount in amounts)
    assert job.exchange.feed.count == N_CANDLES  # type: ignore[union-attr]
    assert job.report["trades"] == expected["trades"]
    assert job.report["final_equity"] == pytest.approx(expected["final_equity"], rel=1e-12)


async def test_paper_ccxt_survives_faults(fake: FakeBinance, tmp_path: Path) -> None:
    expected = await backtest_report(tmp_path)
    job = await run_paper(fake, faults=True)
    assert job.report is not None
    assert job.report["trades"] == expected["trades"]
    # Retries are reported in the job's own log, where the console and journal see them;
    # rate limits and bans once each, by the shared limiter, which waits them out.
    warnings = " ".join(log.message for log in job.logs if log.level == "WARNING")
    assert "(HTTP 429)" in warnings and "(HTTP 418)" in warnings and "retry" in warnings
    assert fake.violations == []
    assert "RequestTimeout" in warnings or "NetworkError" in warnings


async def collect(feed: CcxtFeed, control: RunControl, n: int) -> list[Candle]:
    async with asyncio.timeout(5):
        return [c for _ in range(n) if (c := await feed.next_candle(control)) is not None]


async def test_feed_yields_closed_candles_once_in_order_and_backfills(
    fake: FakeBinance,
) -> None:
    rows = wavy_candles()
    seen: list[tuple[str, str]] = []
    feed = CcxtFeed("BTC/USDT", feed_params(fake, warmup=3, limit=4), log=lambda *a: seen.append(a))
    control = RunControl()
    await feed.open()
    try:
        assert feed.timeframe_ms == MINUTE
        first = await collect(feed, control, 3)
        assert [c.timestamp for c in first] == [rows[i][0] for i in range(WARMUP - 3, WARMUP)]
        waiting = asyncio.create_task(feed.next_candle(control))
        await asyncio.sleep(0.1)  # the in-progress candle WARMUP must not be handed out
        assert not waiting.done()
        fake.outage_on()  # a gap: 11 candles close while the exchange is down
        fake.advance(11)
        await asyncio.sleep(0.1)
        assert not waiting.done() and any("ExchangeNotAvailable" in m for _, m in seen)
        fake.outage_off()
        first_new = await waiting
        assert first_new is not None
        got = [first_new, *await collect(feed, control, 10)]
        assert [c.timestamp for c in got] == [rows[i][0] for i in range(WARMUP, WARMUP + 11)]
        assert got[-1].close == rows[WARMUP + 10][4] and got[0].open == rows[WARMUP][1]
        snapshot = feed.snapshot()
        assert snapshot["last_ts"] == rows[WARMUP + 10][0]
        waiting = asyncio.create_task(feed.next_candle(control))
        await asyncio.sleep(0.05)
        control.stop()
        with pytest.raises(StopRequested):
            await waiting
    finally:
        await feed.close()

    restarted = CcxtFeed("BTC/USDT", feed_params(fake, limit=5))
    restarted.restore(snapshot)
    fake.advance(7)
    await restarted.open()
    try:
        again = await collect(restarted, RunControl(), 7)
        assert [c.timestamp for c in again] == [rows[i][0] for i in range(WARMUP + 11, WARMUP + 18)]
    finally:
        await restarted.close()


def test_importing_the_feed_does_not_import_ccxt() -> None:
    code = (
        "import sys, ats.exchanges.feeds.ccxt_feed, ats.exchanges.exchanges.paper.exchange;"
        "assert 'ccxt' not in sys.modules, 'ccxt imported eagerly'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


async def test_json_5xx_is_retried_and_exchange_errors_propagate(fake: FakeBinance) -> None:
    seen: list[str] = []
    feed = CcxtFeed("BTC/USDT", feed_params(fake, warmup=1), log=lambda _, m: seen.append(m))
    await feed.open()
    try:
        fake.inject(
            "/api/v3/klines", "500", count=2, payload={"code": -1001, "msg": "Internal error"}
        )
        candle = await collect(feed, RunControl(), 1)
        assert candle[0].timestamp == wavy_candles()[WARMUP - 1][0]
        assert sum("OperationFailed" in m for m in seen) == 2 and "working again" in seen[-1]
    finally:
        await feed.close()
    bad = CcxtFeed("DOGE/USDT", feed_params(fake))
    await bad.open()
    try:
        with pytest.raises(ccxt.BadSymbol):
            await collect(bad, RunControl(), 1)
    finally:
        await bad.close()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"exchange": "nosuchexchange"}, "no exchange"),
        ({"timeframe": "7m"}, "timeframe"),
        ({"warmup": -1}, "warmup"),
        ({"poll_seconds": "soon"}, "poll_seconds"),
    ],
)
async def test_bad_params_are_config_errors(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        feed = CcxtFeed("BTC/USDT", {"exchange": "binance", **params})
        try:
            await feed.open()
        finally:
            await feed.close()


async def test_orders_on_catch_up_candles_are_refused(fake: FakeBinance, tmp_path: Path) -> None:
    """Warm-up and back-filled candles are history: trading on them would fill at
    today's price, so the exchange refuses; the latest closed candle trades normally."""
    folder = tmp_path / "strategies" / "eager"
    folder.mkdir(parents=True)
    (folder / "strategy.py").write_text(
        "from ats.strategies.base_strategy import BaseStrategy\n\n"
        "class Strategy(BaseStrategy):\n"
        "    def on_candle(self, candle):\n"
        "        self.buy(0.001)\n"
    )
    config = job_config("eager", {"name": "paper", "params": feed_params(fake, warmup=5)})
    config["strategy"] = {"name": "eager"}
    manager = JobManager(loader=PluginLoader(tmp_path))
    job = manager.create(parse_job_config(config))
    manager.start(job.id)
    feed = job.exchange.feed  # type: ignore[union-attr]
    await wait_for(lambda: feed.count >= 5)
    fake.advance(1)
    await wait_for(lambda: feed.count >= 6)
    manager.stop(job.id)
    await manager.wait(job.id)
    orders = job.exchange.get_orders()  # type: ignore[union-attr]
    refused = [log for log in job.logs if "candle is history" in log.message]
    assert len(refused) == 4  # refused before reaching the (simulated) exchange
    assert len(orders) == 2  # the last warm-up candle and the new one were traded
