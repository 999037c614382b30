"""CcxtFeed and paper jobs on candles served by the loopback FakeBinance through ccxt's
real binance class: same trades as back_trading, through faults, with no internet."""

# ruff: noqa: F811  (the fixtures imported from the helpers are test parameters)
from __future__ import annotations

import asyncio
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt.async_support as ccxt
import pytest
from fake_exchange import FakeBinance
from paper_helpers import (
    BTCUSDT_MARKET,
    MINUTE,
    N_CANDLES,
    WARMUP,
    backtest_report,
    collect,
    fake,  # noqa: F401 (fixtures)
    feed_params,
    job_config,
    run_paper,
    wait_for,
    wavy_candles,
)

from ats.exceptions import ConfigError
from ats.exchanges.feeds.ccxt_feed import CcxtFeed
from ats.exchanges.market_rules import MarketRules
from ats.exchanges.run_control import RunControl, StopRequested
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.utils.plugins import PluginLoader


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
        await asyncio.sleep(0.1)  # on purpose: the in-progress candle WARMUP is not handed out
        assert not waiting.done()
        fake.outage_on()  # a gap: 11 candles close while the exchange is down
        fake.advance(11)
        await wait_for(lambda: any("ExchangeNotAvailable" in m for _, m in seen), 15)
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
