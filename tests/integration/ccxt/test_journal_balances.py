"""The journal follows every balance change, holds included (issue 9, item 7): at a stop
with a resting limit order, the journal's balances equal the snapshot's and the
exchange's, for a paper and a live job against the loopback FakeBinance.

Before, balances reached the journal only on a fill: after a market buy and then a resting
limit buy, the journal still showed the quote as all free while the snapshot and the
exchange held the limit order's funds."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fake_exchange import FakeBinance
from fake_exchange.models import fmt
from live_helpers import (
    API_KEY,
    KEY_ENV,
    SECRET,
    SECRET_ENV,
    live_params,
    sma_cross_server,
)
from paper_helpers import feed_params, job_config, wait_for
from persist_helpers import read_payload, settings_for

from ats.database.journal import Journal
from ats.exchanges.data_classes import OrderStatus, OrderType
from ats.exchanges.exchanges.ccxt.exchange import Exchange
from ats.persistence.persistent_jobs import PersistentJobs
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import TradingJob
from ats.utils.plugins import PluginLoader

RESTER = """\
from ats.strategies.base_strategy import BaseStrategy


class Strategy(BaseStrategy):
    \"\"\"A market buy; a candle after its fill, a limit buy far below the market that rests.\"\"\"

    candles_held = 0

    def on_candle(self, candle):
        if self.open_orders():
            return
        if self.balance(self.base).total == 0:
            self.buy(0.01)
            return
        self.candles_held += 1
        if self.candles_held == 2:
            self.buy(0.1, price=round(candle.close * 0.75, 2))
"""

Balances = dict[str, tuple[float, float]]


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeBinance]:
    monkeypatch.setenv(KEY_ENV, API_KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    async with sma_cross_server() as server:
        yield server


def loader(tmp_path: Path) -> PluginLoader:
    folder = tmp_path / "custom" / "strategies" / "rester"
    folder.mkdir(parents=True)
    (folder / "strategy.py").write_text(textwrap.dedent(RESTER))
    return PluginLoader(tmp_path / "custom")


async def run_until_resting(
    tmp_path: Path, fake: FakeBinance, exchange: dict[str, Any]
) -> tuple[TradingJob, Path]:
    """Run the job with persistence, one candle at a time, until its limit buy rests and a
    candle more went by; then quit like the console's ``q`` (or a SIGTERM): the job is
    stopped, snapshotted and journaled. Returns the job and the state directory."""
    state = tmp_path / "state"
    manager = JobManager(loader=loader(tmp_path))
    persistence = PersistentJobs(manager, settings_for(state))
    await persistence.open()
    journal = persistence.journal
    assert journal is not None
    config = {**job_config("rester", exchange), "strategy": {"name": "rester"}}
    if exchange["name"] == "ccxt":
        config["mode"] = "live"
    job = manager.create(parse_job_config(config), job_id="rester")
    manager.start(job.id)
    try:
        for _ in range(8):
            fake.advance(1)
            await wait_for(lambda: settled(job, fake), timeout=20.0)
            await journal.flush()  # candles are minutes apart: the journal keeps up
            if job.exchange is not None and any(
                order.type is OrderType.LIMIT for order in job.exchange.get_open_orders()
            ):
                break
        fake.advance(1)  # one more candle: nothing new happens, balances stay right
        await wait_for(lambda: settled(job, fake), timeout=20.0)
        await journal.flush()
    finally:
        await persistence.on_quit(timeout=10.0)
    return job, state


def settled(job: TradingJob, fake: FakeBinance) -> bool:
    """The job handled the fake's last closed candle and no order request is in flight."""
    exchange = job.exchange
    assert exchange is not None, job.error
    last_closed = fake.klines("BTCUSDT", "1m")[fake.candle_index() - 1].ts
    if exchange.progress.timestamp != last_closed:
        return False
    return not (isinstance(exchange, Exchange) and exchange.pending_requests)


async def journal_balances(state: Path, job_id: str) -> Balances:
    journal = await Journal(settings_for(state).journal_file, readonly=True).open()
    try:
        rows = await journal.balances(job_id)
    finally:
        await journal.close()
    return {row["asset"]: (row["free"], row["used"]) for row in rows}


def snapshot_wallet(payload: dict[str, Any]) -> Balances:
    """A paper snapshot's wallet as (free, held) per asset."""
    wallet = payload["exchange"]["wallet"]
    balances = {asset: [float(free), 0.0] for asset, free in wallet["free"].items()}
    for asset, amount in wallet["holds"].values():
        balances.setdefault(asset, [0.0, 0.0])[1] += amount
    return {asset: (free, used) for asset, (free, used) in balances.items()}


def exchange_balances(job: TradingJob) -> Balances:
    assert job.exchange is not None
    return {a: (b.free, b.used) for a, b in job.exchange.get_balances().items()}


async def test_paper_journal_balances_follow_holds(fake: FakeBinance, tmp_path: Path) -> None:
    exchange = {"name": "paper", "params": feed_params(fake, warmup=1)}
    job, state = await run_until_resting(tmp_path, fake, exchange)
    assert job.exchange is not None
    limit = [o for o in job.exchange.get_orders() if o.type is OrderType.LIMIT]
    assert [o.status for o in limit] == [OrderStatus.OPEN]
    held = exchange_balances(job)
    assert held["USDT"][1] > 2_000  # the limit buy's hold (0.1 BTC at 75% of ~40k)
    payload = read_payload(state, "rester")
    assert payload is not None and payload["status"] == "running"  # a quit: it resumes
    assert snapshot_wallet(payload) == held
    assert await journal_balances(state, "rester") == held


async def test_live_journal_balances_equal_the_exchange_and_the_snapshot(
    fake: FakeBinance, tmp_path: Path
) -> None:
    exchange = {"name": "ccxt", "params": live_params(fake, poll_seconds=0.01)}
    job, state = await run_until_resting(tmp_path, fake, exchange)
    served = {
        asset: (float(fmt(balance.free)), float(fmt(balance.locked)))
        for asset, balance in fake.balances.items()
    }
    assert served["USDT"][1] > 2_000 and len(fake.open_orders()) == 1
    payload = read_payload(state, "rester")
    assert payload is not None and payload["status"] == "running"
    saved = {a: (free, used) for a, (free, used) in payload["exchange"]["balances"].items()}
    assert saved == served
    assert exchange_balances(job) == served
    assert await journal_balances(state, "rester") == served
