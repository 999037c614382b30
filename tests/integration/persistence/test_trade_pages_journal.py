"""Trade and fill pages read from the journal (issue 10, What to build 2): one search of a
primary key per page, the same cost for 50,000 trades as for 50, and the rows the journal
has not written yet taken from the engine, newest first, with no gap or duplicate."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from job_configs import backtest_config
from persist_helpers import eventually

from ats.database.journal import Journal
from ats.database.queries import FILL_RANGE, TRADE_RANGE
from ats.exchanges.data_classes import Fill, OrderSide, Trade
from ats.exchanges.simulated_exchange import SimulatedExchange
from ats.trading_job import trade_pages, view_builder
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import TradingJob

START_MS = 1_650_000_000_000


def round_trips(count: int, first: int = 0) -> Iterator[tuple[Trade, Fill, Fill]]:
    """``count`` closed round trips (a buy and a sell each), numbered from ``first``."""
    for number in range(first, first + count):
        entry, exit_ = START_MS + number * 120_000, START_MS + number * 120_000 + 60_000
        price = 100.0 + number % 7
        yield (
            Trade("BTC/USDT", entry, price, 1.0, exit_, price + 1, 0.2, 0.8),
            Fill(str(2 * number), "BTC/USDT", OrderSide.BUY, 1.0, price, 0.1, "USDT", entry, True),
            Fill(str(2 * number + 1), "BTC/USDT", OrderSide.SELL, 1.0, price + 1, 0.1, "USDT",
                 exit_, False),
        )  # fmt: skip


def add_trades(job: TradingJob, count: int) -> None:
    """``count`` more round trips in the job's own lists, as its run would have made them."""
    exchange = job.exchange
    assert isinstance(exchange, SimulatedExchange)
    for trade, buy, sell in round_trips(count, exchange.trade_count()):
        exchange.ledger.trades.append(trade)
        exchange.engine.fills.extend((buy, sell))


async def journaled_job(journal: Journal, manager: JobManager, trades: int) -> TradingJob:
    """A built backtest job holding ``trades`` round trips, all written to the journal."""
    job = manager.create(backtest_config(name=f"job-{trades}"))
    add_trades(job, trades)
    await journal.reconcile(job)  # what a restore does: every row written
    return job


class SqlCost:
    """Statements run and SQLite VM steps taken on the journal's connection."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.steps = 0

    def step(self) -> int:
        self.steps += 1
        return 0

    async def watch(self, journal: Journal) -> None:
        await journal.reader.set_trace_callback(self.statements.append)
        await journal.reader.set_progress_handler(self.step, 1)

    async def stop(self, journal: Journal) -> None:
        await journal.reader.set_trace_callback(None)
        await journal.reader.set_progress_handler(None, 1)


@pytest.fixture
async def journal(tmp_path: Path) -> Any:
    async with Journal(tmp_path / "journal.sqlite3") as opened:
        yield opened


@pytest.mark.parametrize(("sql", "table", "key"), [(TRADE_RANGE, "trades", "idx"),
                                                   (FILL_RANGE, "fills", "seq")])  # fmt: skip
async def test_a_page_is_one_search_of_the_primary_key(
    journal: Journal, sql: str, table: str, key: str
) -> None:
    plan = [row[-1] for row in await journal.db.execute_fetchall(f"EXPLAIN QUERY PLAN {sql}",
                                                                 ("job", 10, 20))]  # fmt: skip
    assert plan == [f"SEARCH {table} USING PRIMARY KEY (job_id=? AND {key}>? AND {key}<?)"]


async def test_a_page_of_50000_trades_costs_what_a_page_of_50_does(journal: Journal) -> None:
    manager = JobManager()
    small = await journaled_job(journal, manager, 50)
    big = await journaled_job(journal, manager, 50_000)
    for job in (small, big):  # a page never copies the engine's whole lists
        exchange = job.exchange
        assert exchange is not None
        exchange.get_trades = exchange.get_fills = None  # type: ignore[method-assign,assignment]
    costs: dict[tuple[str, str], SqlCost] = {}
    for job, where in ((small, "newest"), (big, "newest"), (big, "oldest"), (big, "middle")):
        offset = {"newest": 0, "oldest": 50_000 - 50, "middle": 25_000}[where]
        cost = costs[job.id, where] = SqlCost()
        await cost.watch(journal)
        trades = await trade_pages.trade_page(job, journal, offset, 50)
        fills = await trade_pages.fill_page(job, journal, 2 * offset, 100)
        await cost.stop(journal)
        assert len(trades.trades) == 50 and len(fills.fills) == 100
        assert trades.total == job.exchange.trade_count()  # type: ignore[union-attr]
        assert fills.fills[0].timestamp == trades.trades[0].exit_time
    small_cost = costs[small.id, "newest"]
    assert len(small_cost.statements) == 2  # one query per page, no COUNT(*)
    for (job_id, _where), cost in costs.items():
        assert len(cost.statements) == 2
        assert cost.steps <= small_cost.steps * 1.2, (job_id, cost.steps, small_cost.steps)


async def test_rows_not_written_yet_come_from_the_engine_newest_first(journal: Journal) -> None:
    manager = JobManager()
    job = await journaled_job(journal, manager, 120)
    add_trades(job, 30)  # made since the journal's last batch
    exchange = job.exchange
    assert exchange is not None
    assert journal.written_trades(job.id, exchange) == 120 and exchange.trade_count() == 150
    cost = SqlCost()
    await cost.watch(journal)
    for limit in (1, 7, 50, 200):
        for offset in range(0, 160, limit):
            page = await trade_pages.trade_page(job, journal, offset, limit)
            assert page == view_builder.trade_page(job, offset, limit), (offset, limit)
            fill_page = await trade_pages.fill_page(job, journal, offset, limit)
            assert fill_page == view_builder.fill_page(job, offset, limit), (offset, limit)
    await cost.stop(journal)
    assert any("FROM trades" in sql for sql in cost.statements)  # the older rows: journal
    assert any("FROM fills" in sql for sql in cost.statements)


async def test_another_run_than_the_journals_is_paged_from_the_engine(journal: Journal) -> None:
    manager = JobManager()
    job = await journaled_job(journal, manager, 40)
    job.build()  # a new run: its exchange is not the one the journal wrote
    add_trades(job, 3)
    exchange = job.exchange
    assert exchange is not None and journal.written_trades(job.id, exchange) is None
    page = await trade_pages.trade_page(job, journal, 0, 100)
    assert page.total == 3 and page == view_builder.trade_page(job, 0, 100)


async def test_a_journal_that_cannot_be_read_leaves_the_page_to_the_engine(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = await Journal(tmp_path / "journal.sqlite3").open()
    job = await journaled_job(journal, JobManager(), 30)
    await journal.close()  # e.g. closing on quit while the pane asked for a page
    assert journal.written_trades(job.id, job.exchange) == 30
    for _ in range(2):
        assert await trade_pages.trade_page(job, journal, 5, 10) == view_builder.trade_page(
            job, 5, 10
        )
        assert await trade_pages.fill_page(job, journal, 5, 10) == view_builder.fill_page(
            job, 5, 10
        )
    said = [r.getMessage() for r in caplog.records if "not the journal" in r.getMessage()]
    assert said == [f"job {job.id}: trades read from the job, not the journal: "
                    "StateError: journal is not open"]  # fmt: skip


async def test_a_page_does_not_wait_for_the_journal_writer(journal: Journal) -> None:
    """Pages are read on a connection of their own: with the writer's connection (and its
    thread) stuck in a statement, a page still comes back (it used to queue behind
    every batch of running backtests: bench/ui_latency.py, opening the Trades pane)."""
    manager = JobManager()
    job = await journaled_job(journal, manager, 300)
    gate, inside = threading.Event(), threading.Event()

    def hold() -> int:
        inside.set()
        return int(gate.wait(10))

    await journal.db.create_function("held", 0, hold)
    held = asyncio.create_task(journal.db.execute("SELECT held()"))
    try:
        assert await eventually(inside.is_set, 15)  # the writer's thread is inside held()
        assert not held.done()
        page = await asyncio.wait_for(trade_pages.trade_page(job, journal, 0, 50), 5)
        assert not held.done()  # answered while the writer's connection was still busy
        assert page == view_builder.trade_page(job, 0, 50)
    finally:
        gate.set()
        await held
