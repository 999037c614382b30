"""The Trades pane (issue 10, item 2): every round trip of the selected job, newest first,
read a page at a time through JobControl.trades; enter shows a trade on the chart; ``f``
switches to fills; ``ats jobs show JOB --trades [--csv]`` prints the same rows.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from job_configs import backtest_config
from persistent_console import persistent_app, quit_app
from ui_helpers import press, screen_text, wait_for, write_candles

from ats.trading_job.job_manager import JobManager
from ats.trading_job.status import JobStatus
from ats.ui.app import AtsApp
from ats.ui.screens.main import MainScreen
from ats.ui.widgets.trades_pane import MAX_PAGES, PAGE_SIZE, TradesPane


def main_screen(app: AtsApp) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    return screen


async def open_trades(pilot: object, app: AtsApp, total: int) -> TradesPane:
    screen = main_screen(app)
    await press(pilot, "h")  # type: ignore[arg-type]
    pane = screen.trades
    await wait_for(pilot, lambda: pane.has_focus and pane.total == total)  # type: ignore[arg-type]
    await wait_for(pilot, lambda: pane.selected is not None)  # type: ignore[arg-type]
    return pane


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_trades_pane_lists_every_round_trip_newest_first(
    make_app: Callable[..., AtsApp], size: tuple[int, int]
) -> None:
    manager = JobManager()
    job = manager.create(backtest_config(name="demo-sma-cross"))
    app = make_app(manager)
    async with app.run_test(size=size) as pilot:
        manager.start(job.id)
        await manager.wait(job.id)
        pane = await open_trades(pilot, app, 27)
        trades = (await app.control.trades(job.id, 0, 100)).trades
        assert pane.selected == trades[0] and trades[0].exit_time is None  # the open one
        region = pane.content_region
        lines = screen_text(app).splitlines()[region.y : region.bottom]
        assert lines[0][region.x :].split()[:3] == ["#", "Entry", "Entry"]
        first = lines[1][region.x :].split()
        assert first[0] == "27" and first[2] == f"{trades[0].entry_price:,.2f}"
        assert "27 trades" in str(pane.border_subtitle)

        await press(pilot, "end")
        assert pane.cursor == 26 and pane.selected == trades[-1]
        await pilot.pause(0.05)
        bottom = screen_text(app).splitlines()[region.bottom - 1][region.x :].split()
        assert bottom[0] == "1"

        chart = main_screen(app).chart
        frames = chart.frames
        await press(pilot, "enter")  # the oldest trade on the chart
        await wait_for(pilot, lambda: chart.frames > frames and chart.bars_back > 0)
        window = await app.control.chart_window(
            job.id, chart._bars(), chart.factor, chart.bars_back
        )
        assert window.timestamps[0] <= trades[-1].entry_time <= window.timestamps[-1]
        assert window.buys[0], "the trade's buy is marked"

        await press(pilot, "h", "f")
        await wait_for(pilot, lambda: pane.mode == "fills" and pane.total == 53)


async def test_a_job_with_thousands_of_trades_is_read_a_page_at_a_time(
    make_app: Callable[..., AtsApp], tmp_path: Path
) -> None:
    data = write_candles(tmp_path / "busy.parquet", 20_000)
    manager = JobManager()
    job = manager.create(backtest_config(data, name="busy", fast=2, slow=3))
    app = make_app(manager)
    async with app.run_test(size=(120, 40)) as pilot:
        manager.start(job.id)
        await manager.wait(job.id)
        total = (await app.control.trades(job.id, 0, 0)).total
        assert total > PAGE_SIZE * (MAX_PAGES + 2)
        pane = await open_trades(pilot, app, total)
        first_fetches = pane.fetches
        assert first_fetches <= 3  # the newest page, the oldest (time format), no more
        await press(pilot, "pagedown", "pagedown", "pagedown")
        await press(pilot, "end")
        await wait_for(pilot, lambda: pane.selected is not None)
        assert pane.cursor == total - 1
        assert pane.fetches <= first_fetches + 2
        assert len(pane._pages) <= MAX_PAGES
        oldest = (await app.control.trades(job.id, total - 1, 1)).trades[0]
        assert pane.selected == oldest
        await press(pilot, "home")
        await wait_for(pilot, lambda: pane.cursor == 0 and pane.selected is not None)


async def test_new_trades_keep_the_cursor_on_its_trade(
    make_app: Callable[..., AtsApp], long_data: Path
) -> None:
    manager = JobManager()
    job = manager.create(backtest_config(long_data, name="running"))
    app = make_app(manager)
    async with app.run_test(size=(120, 40)) as pilot:
        manager.start(job.id)
        exchange = job.exchange
        assert exchange is not None
        await wait_for(pilot, lambda: len(exchange.get_trades()) >= 5, 20)
        manager.pause(job.id)
        await wait_for(pilot, lambda: job.status is JobStatus.PAUSED)
        count = len(exchange.get_trades())
        pane = await open_trades(pilot, app, count)
        await press(pilot, "down", "down")
        picked = pane.selected
        assert picked is not None
        manager.resume(job.id)
        await wait_for(pilot, lambda: len(exchange.get_trades()) >= count + 2, 20)
        manager.pause(job.id)
        await wait_for(pilot, lambda: job.status is JobStatus.PAUSED)
        now = len(exchange.get_trades())
        await wait_for(pilot, lambda: pane.total == now and pane.selected is not None)
        assert pane.cursor == 2 + now - count
        selected = pane.selected
        assert selected is not None and selected.entry_time == picked.entry_time
        manager.stop(job.id)
        await manager.wait(job.id)


def test_jobs_show_trades_prints_the_panes_rows(tmp_path: Path) -> None:
    """``ats jobs show --trades`` and ``--csv`` on a saved finished backtest."""
    import asyncio

    from ats.persistence.persistent_jobs import PersistentJobs
    from ats.utils.settings import Settings

    state = tmp_path / "state"

    async def save_a_finished_backtest() -> str:
        manager = JobManager()
        settings = Settings(_env_file=None, saved_states_dir=state)  # type: ignore[call-arg]
        async with PersistentJobs(manager, settings) as persistence:
            job = manager.create(backtest_config(name="demo-sma-cross"))
            manager.start(job.id)
            await manager.wait(job.id)
            assert job.status is JobStatus.FINISHED
            await persistence.snapshot(job.id, force=True)
        return job.id

    job_id = asyncio.run(save_a_finished_backtest())
    env = {**os.environ, "ATS_SAVED_STATES_DIR": str(state), "COLUMNS": "80"}

    def ats(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "ats.cli", "jobs", "show", "demo-sma", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    table = ats("--trades").splitlines()
    assert table[0] == f"demo-sma-cross ({job_id}): 27 trades, newest first"
    header = "# Entry Entry px Exit Exit px Amount Fees P&L P&L %"
    assert table[1].split() == header.split()
    assert [line.split()[0] for line in table[2:]] == [str(n) for n in range(27, 0, -1)]
    assert max(len(line) for line in table) <= 80
    rows = list(csv.DictReader(io.StringIO(ats("--trades", "--csv"))))
    assert len(rows) == 27 and rows[0]["number"] == "27" and rows[0]["exit_time"] == ""
    assert rows[-1]["entry_time_utc"].startswith("2022-05-12T")
    fills = list(csv.DictReader(io.StringIO(ats("--fills", "--csv"))))
    assert len(fills) == 53 and {row["side"] for row in fills} == {"buy", "sell"}


async def test_the_trades_pane_shows_the_same_after_a_restart(
    make_app: Callable[..., AtsApp], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    app, manager = persistent_app(make_app, state)
    job = manager.create(backtest_config(name="demo-sma-cross"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.started)
        manager.start(job.id)
        await manager.wait(job.id)
        await wait_for(pilot, lambda: main_screen(app).selected_job_id == job.id)
        pane = await open_trades(pilot, app, 27)
        before = await app.control.trades(job.id, 0, 100)
        await quit_app(pilot, app)
    again, manager2 = persistent_app(make_app, state)
    async with again.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(manager2) == 1)
        await wait_for(pilot, lambda: main_screen(again).selected_job_id == job.id)
        pane = await open_trades(pilot, again, 27)
        assert await again.control.trades(job.id, 0, 100) == before
        assert pane.selected == before.trades[0]
        await quit_app(pilot, again)


async def every_row(pilot: object, pane: TradesPane) -> list[object]:
    """Every row the pane shows, newest first, once it has read all their pages."""
    assert pane.total <= PAGE_SIZE * MAX_PAGES
    await wait_for(pilot, lambda: all(pane._row(i) is not None for i in range(pane.total)))  # type: ignore[arg-type]
    return [pane._row(i, fetch=False) for i in range(pane.total)]


async def test_a_journaled_jobs_pane_shows_the_engines_rows_written_or_not(
    make_app: Callable[..., AtsApp], long_data: Path, tmp_path: Path
) -> None:
    """With a journal (as ``ats`` runs), pages come from it; the rows made since its last
    batch come from the engine: newest first, no gap, no duplicate."""
    from ats.database.journal import Journal
    from ats.trading_job import view_builder

    manager = JobManager()
    job = manager.create(backtest_config(long_data, name="journaled"))
    app = make_app(manager)
    async with app.run_test(size=(120, 40)) as pilot:
        # As the journal keeper does, but writing a batch only when flushed.
        journal = await Journal(tmp_path / "journal.sqlite3", flush_interval=3600).open()
        journal.attach(manager)
        manager.trade_history = journal
        manager.start(job.id)
        exchange = job.exchange
        assert exchange is not None
        await wait_for(pilot, lambda: exchange.trade_count() >= 4, 20)
        manager.pause(job.id)
        await wait_for(pilot, lambda: job.status is JobStatus.PAUSED)
        await journal.flush()
        written = journal.written_trades(job.id, exchange)
        assert written is not None and written >= 3
        manager.resume(job.id)
        await wait_for(pilot, lambda: exchange.trade_count() >= written + 4, 20)
        manager.pause(job.id)
        await wait_for(pilot, lambda: job.status is JobStatus.PAUSED)
        total = exchange.trade_count()
        statements: list[str] = []
        await journal.reader.set_trace_callback(statements.append)  # pages: the reader

        pane = await open_trades(pilot, app, total)
        engine = view_builder.trade_page(job, 0, total).trades
        assert await every_row(pilot, pane) == list(engine)
        assert any("FROM trades" in sql for sql in statements), "older rows: the journal's"
        assert journal.written_trades(job.id, exchange) == written < total  # newest: engine's

        await press(pilot, "f")
        fills = exchange.fill_count()
        await wait_for(pilot, lambda: pane.mode == "fills" and pane.total == fills)
        engine_fills = view_builder.fill_page(job, 0, fills).fills
        assert await every_row(pilot, pane) == list(engine_fills)
        assert any("FROM fills" in sql for sql in statements)
        assert (journal.written_fills(job.id, exchange) or 0) < fills
        await journal.reader.set_trace_callback(None)
        manager.stop(job.id)
        await manager.wait(job.id)
        await journal.close()
