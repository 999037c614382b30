"""Live jobs (sma_cross) on candles served by the loopback FakeBinance, through ccxt's real
binance class: the same trades as back_trading and paper, through faults and outages.

The fake's clock is the exchange's clock: the tests advance it one candle at a time and
wait until the job handled that candle and its orders settled, so a market order placed
on candle *i* executes at candle *i+1*'s open (``fill_mode="next_open"``), exactly the
back_trading rule. Outages are simulated in fast time: the fake clock moves on by two
minutes (two 1m candles close) while the server refuses service for ~0.3 s of real time.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fake_exchange import FakeBinance
from live_helpers import (
    API_KEY,
    KEY_ENV,
    SECRET,
    SECRET_ENV,
    assert_balances_mirror,
    assert_one_server_order_per_client_id,
    live_params,
    sma_cross_server,
)
from paper_helpers import N_CANDLES, WARMUP, backtest_report, job_config, run_paper, wait_for

from ats.exceptions import ConfigError
from ats.exchanges.data_classes import OrderStatus
from ats.exchanges.exchanges.ccxt.exchange import Exchange
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus, TradingJob

Step = Callable[[FakeBinance, Exchange], Awaitable[None]]


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBinance]:
    """BTCUSDT with Binance's filters (the backtests get them as a ``market:`` block),
    market orders filled at the next candle's open and the same 0.1 % taker fee (in
    quote) as the jobs' flat_rate fee plugin."""
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    async with sma_cross_server(timeout_delay=1.0) as server:
        yield server


def live_job(
    manager: JobManager, fake: FakeBinance, fees: dict[str, Any] | None = None, **params: Any
) -> TradingJob:
    params = {"warmup": WARMUP, "poll_seconds": 0.002, **params}
    exchange = {"name": "ccxt", "params": live_params(fake, **params)}
    config = {**job_config("live", exchange, fees), "mode": "live"}
    return manager.create(parse_job_config(config))


async def run_live(
    fake: FakeBinance, step: Step | None = None, fees: dict[str, Any] | None = None
) -> TradingJob:
    """Start a live job, move the fake clock one candle at a time (``step`` may inject
    faults first), each time waiting until the job handled the candle and its order
    requests settled; then stop the job."""
    manager = JobManager()
    job = live_job(manager, fake, fees)
    manager.start(job.id)
    ex = job.exchange
    assert isinstance(ex, Exchange)
    await wait_for(lambda: ex.handled >= WARMUP)
    while fake.candle_index() < N_CANDLES:
        if step is not None:
            await step(fake, ex)
        fake.advance(1)
        await settled(ex, fake.candle_index(), step)
        assert job.status is JobStatus.RUNNING, job.error
    manager.stop(job.id)
    await manager.wait(job.id)
    assert job.status is JobStatus.STOPPED, job.error
    return job


async def settled(ex: Exchange, candles: int, step: Step | None = None) -> None:
    """Until the job handled ``candles`` candles and no order request is in flight; an
    outage that starts meanwhile is played out by ``step`` (it cannot settle before)."""
    async with asyncio.timeout(15):
        while ex.handled < candles or ex.pending_requests:
            if step is not None and isinstance(step, FaultPlan) and step.fake.in_outage:
                await step.play_outage()
            await asyncio.sleep(0.001)


def assert_same_trades(live: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """The very same round trips: times, prices, amounts (floored to the lot step by the
    exchange and by back_trading's market rules alike), fees and P&L, to the last bit."""
    assert len(live) == len(expected) >= 4
    assert live == expected


def assert_mirrors_server(job: TradingJob, fake: FakeBinance) -> None:
    ex = job.exchange
    assert isinstance(ex, Exchange)
    assert all(o.status is OrderStatus.FILLED for o in ex.get_orders())
    assert_one_server_order_per_client_id(fake, ex.get_orders())
    fills = [(f.amount, f.price, f.fee, f.timestamp, f.taker) for f in ex.get_fills()]
    booked = [
        (float(t.qty), float(t.price), float(t.commission), t.time, not t.is_maker)
        for t in fake.trades
    ]
    assert fills == booked
    assert_balances_mirror(fake, ex)


async def test_live_job_trades_sma_cross_like_back_trading_and_paper(
    fake: FakeBinance, tmp_path: Path
) -> None:
    expected = await backtest_report(tmp_path)
    paper = await run_paper(fake)  # public candles only: nothing is sent to the fake
    assert paper.report is not None and paper.report["trades"] == expected["trades"]
    assert fake.orders == {}
    fake.set_candle_index(WARMUP)

    job = await run_live(fake)
    assert job.report is not None and job.report["mode"] == "live"
    assert_same_trades(job.report["trades"], expected["trades"])
    # The account's balances are the exchange's decimals, the simulated wallet sums floats.
    assert job.report["final_equity"] == pytest.approx(expected["final_equity"], rel=1e-12)
    assert_mirrors_server(job, fake)
    assert len(fake.orders) == 2 * len(expected["trades"])
    assert any("config's balances are ignored" in log.message for log in job.logs)


async def test_with_fees_taken_from_what_is_bought_all_three_modes_trade_alike(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 9, items 2 and 4: Binance takes a buy's fee from the coins bought, so selling
    "everything" leaves dust below the lot step. sma_cross sells what it can and treats
    the dust as flat (it used to stop trading for good), and back_trading with the same
    market rules and fee rule, paper and live give the very same trades."""
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    fees = {"name": "flat_rate", "params": {"rate": 0.001, "charged_in": "received"}}
    expected = await backtest_report(tmp_path, fees=fees)
    async with sma_cross_server(timeout_delay=1.0, fee_mode="received") as fake:
        paper = await run_paper(fake, fees=fees)
        assert paper.report is not None and paper.report["trades"] == expected["trades"]
        fake.set_candle_index(WARMUP)
        job = await run_live(fake, fees=fees)
        assert job.report is not None
        assert_same_trades(job.report["trades"], expected["trades"])
        assert_mirrors_server(job, fake)
        assert len(fake.orders) == 2 * len(expected["trades"])
        dust = fake.balance("BTC").total
        assert 0 < dust < Decimal("0.00001") * len(expected["trades"])  # dust stayed behind
        assert {fill.fee_currency for fill in job.exchange.get_fills()} == {"BTC", "USDT"}  # type: ignore[union-attr]
        assert job.exchange is not None and job.exchange.get_position("BTC/USDT").is_flat


class FaultPlan:
    """Faults on every order's create request (one kind per order, in turn), on reads now
    and then, a two-minute outage that starts while an order is being executed (its
    response is lost too) and a two-minute spell of refused connections."""

    ORDER_FAULTS: list[dict[str, Any]] = [
        {"kind": "429", "count": 2, "retry_after": 0.05},
        {"kind": "503"},
        {"kind": "timeout", "delay": 0.6},
        {"kind": "drop", "after_processing": True},
        {"kind": "timeout", "after_processing": True},
        {"kind": "500", "payload": {"code": -1001, "msg": "Internal error"}},
        {"kind": "drop"},
    ]
    OUTAGE_ON_ORDER = 6
    OFFLINE_AT_CANDLE = 140

    def __init__(self, fake: FakeBinance) -> None:
        self.fake = fake
        self.orders_seen = 0
        self.outages = 0
        next_open = fake.market_fill_price

        def fill_price(server: FakeBinance, symbol: str, side: str) -> Decimal:
            server.fill_price_fn = None  # ask the fake's own rule, without recursing
            try:
                price = next_open(symbol, side)
            finally:
                server.fill_price_fn = fill_price
            if len(server.orders) + 1 == self.OUTAGE_ON_ORDER:
                server.lose_order_response("drop")
                server.outage_on()  # this order executes; everything after gets 503
            return price

        fake.fill_price_fn = fill_price

    async def __call__(self, fake: FakeBinance, ex: Exchange) -> None:
        if len(fake.orders) != self.orders_seen and len(fake.orders) < len(self.ORDER_FAULTS):
            self.orders_seen = len(fake.orders)
            fake.inject("/api/v3/order", method="POST", **self.ORDER_FAULTS[self.orders_seen])
        if fake.candle_index() % 9 == 0:
            kind = "429" if fake.candle_index() % 2 else "503"
            fake.inject("/api/v3/klines", kind, retry_after=0.05)
            fake.inject("/api/v3/account", "503")
        if fake.candle_index() == self.OFFLINE_AT_CANDLE:
            await fake.go_offline()
            fake.advance(2)
            await asyncio.sleep(0.3)
            await fake.go_online()

    async def play_outage(self) -> None:
        """Two minutes of exchange time pass (two candles close) while it is down."""
        self.outages += 1
        self.fake.advance(2)
        await asyncio.sleep(0.3)
        self.fake.outage_off()


async def test_live_job_survives_faults_and_outages_without_duplicates(
    fake: FakeBinance, tmp_path: Path
) -> None:
    expected = await backtest_report(tmp_path)
    plan = FaultPlan(fake)
    fake.inject("/api/v3/order", method="POST", **plan.ORDER_FAULTS[0])
    job = await run_live(fake, plan)
    assert plan.outages == 1 and job.error is None
    assert_mirrors_server(job, fake)
    assert len(fake.orders) == 2 * len(expected["trades"])  # every intended order, once
    # The outages only delayed candles; no order was placed on a late one, so the fills
    # are still at each next candle's open and the trades match back_trading's.
    assert job.report is not None
    assert_same_trades(job.report["trades"], expected["trades"])
    messages = [log.message for log in job.logs]
    warnings = " ".join(log.message for log in job.logs if log.level == "WARNING")
    for symptom in ("(HTTP 429)", "ExchangeNotAvailable", "RequestTimeout", "OperationFailed"):
        assert symptom in warnings, symptom
    assert any("looking it up by client order id" in m for m in messages)
    assert any("found on the exchange by client order id; recovered" in m for m in messages)
    assert any("working again" in m for m in messages)
    assert not any(log.level == "ERROR" for log in job.logs)


async def test_secrets_never_appear_in_job_logs_errors_or_snapshots(
    fake: FakeBinance, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = JobManager()
    job = live_job(manager, fake)
    manager.start(job.id)
    ex = job.exchange
    assert isinstance(ex, Exchange)
    await wait_for(lambda: ex.handled >= WARMUP)
    fake.inject("/api/v3/account", "503", count=2)  # a few retries get logged
    fake.advance(1)
    await wait_for(lambda: ex.handled > WARMUP)
    manager.stop(job.id)
    await manager.wait(job.id)
    assert job.status is JobStatus.STOPPED

    # A key the exchange refuses, with an error body that echoes it back.
    wrong = "wrong-live-key-Hh3390"
    monkeypatch.setenv(KEY_ENV, wrong)
    echo = {"code": -2015, "msg": f"Invalid API-key {wrong}, IP, or permissions; {SECRET}"}
    fake.inject("/api/v3/account", "500", payload=echo)
    refused = live_job(manager, fake)
    manager.start(refused.id)
    await manager.wait(refused.id)
    assert refused.status is JobStatus.ERROR and "refused the API key" in (refused.error or "")

    raised: list[str] = []
    with pytest.raises(ConfigError) as literal:
        exchange = {"name": "ccxt", "params": {**live_params(fake), "secret": SECRET}}
        manager.create(parse_job_config({**job_config("bad", exchange), "mode": "live"}))
    raised.append(str(literal.value))
    monkeypatch.delenv(KEY_ENV)
    direct = Exchange(symbol="BTC/USDT", fees=ex.fees, balances={}, config=live_params(fake))
    with pytest.raises(ConfigError) as missing:
        await direct.connect()
    await direct.disconnect()
    raised.append(str(missing.value))

    for each in (job, refused):
        text = " ".join(
            [json.dumps(each.snapshot()), each.error or "", *(log.message for log in each.logs)]
        )
        for secret in (API_KEY, SECRET, wrong):
            assert secret not in text, f"{secret} leaked from job {each.id}"
    assert all(s not in " ".join(raised) for s in (API_KEY, SECRET, wrong))
    assert any(KEY_ENV in log for log in raised)


def test_a_live_exchange_needs_an_explicit_live_mode(fake: FakeBinance) -> None:
    exchange = {"name": "ccxt", "params": live_params(fake)}
    with pytest.raises(ConfigError, match="mode: live"):
        JobManager().create(parse_job_config(job_config("no-mode", exchange)))
    with pytest.raises(ConfigError, match="does not match"):
        JobManager().create(
            parse_job_config({**job_config("paper-mode", exchange), "mode": "paper"})
        )
