"""Unit tests of the console's plain parts: event coalescing, view adapters, footer packing,
theme/settings files."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import numpy as np
from job_configs import backtest_config

from ats.trading_job.change_feed import Changes, EventPump
from ats.trading_job.events import EventBus, JobLog, JobProgress, JobStatusChanged
from ats.trading_job.job_manager import JobManager
from ats.trading_job.view_builder import candle_window, chart_window, equity_curve, view_of
from ats.ui import job_view
from ats.ui.settings import UISettings
from ats.ui.widgets.jobs_table import COLUMNS, columns_for


async def test_pump_coalesces_a_flood_into_few_refreshes() -> None:
    bus = EventBus()
    delivered: list[Changes] = []
    pump = EventPump(bus, delivered.append, hz=10, queue_size=1_000)
    pump.start()
    for i in range(20_000):  # far more than the queue holds, in one burst
        bus.publish(JobProgress("a" if i % 2 else "b", i, 20_000, 1.0, None))
    bus.publish(JobLog("a", "INFO", "hello"))
    await asyncio.sleep(0.35)
    await pump.stop()
    assert 1 <= len(delivered) <= 4
    merged = Changes()
    for changes in delivered:
        merged.rows |= changes.rows
        merged.logs |= changes.logs
        merged.resync |= changes.resync
    assert merged.rows == {"a", "b"} and merged.logs == {"a"}
    assert merged.resync  # events were dropped: views must re-read their jobs
    assert not bus._subscriptions  # unsubscribed on stop


async def test_pump_flags_unknown_jobs_as_structure_changes() -> None:
    bus = EventBus()
    delivered: list[Changes] = []
    pump = EventPump(bus, delivered.append, known=lambda job_id: job_id == "old")
    pump.start()
    bus.publish(JobStatusChanged("old", "running"))
    await asyncio.sleep(0.05)
    bus.publish(JobStatusChanged("new", "created"))
    await asyncio.sleep(0.25)
    await pump.stop()
    assert not delivered[0].structure
    assert delivered[-1].structure and [e.status for e in delivered[-1].status_events] == [
        "created"
    ]


async def test_views_of_a_finished_backtest() -> None:
    manager = JobManager()
    job = manager.create(backtest_config(name="views"))
    row = job_view.job_row(view_of(job))
    assert (row.status, row.progress, row.equity, row.position) == (
        "created",
        "",
        "10,000.00",
        "flat",
    )
    manager.start(job.id)
    await manager.wait(job.id)
    row = job_view.job_row(view_of(job))
    assert row.market == "BTC/USDT 3s" and row.progress == "100%"
    assert row.pnl_pct is not None and round(row.pnl_pct, 2) == -3.79

    view = chart_window(job, bars=50, factor=4)
    assert len(view) == 50 and view.factor == 4
    window = candle_window(job, 200)
    assert view.high[-1] == window.high[-4:].max() and view.low[-1] == window.low[-4:].min()
    assert view.open[-1] == window.open[-4] and view.close[-1] == window.close[-1]
    assert len(view.overlays) == 2  # the two SMAs, whatever the engine calls them
    assert all(len(values) == len(view) for values in view.overlays.values())
    back = chart_window(job, bars=50, factor=1, offset=10)
    assert back.timestamps[-1] == window.timestamps[-11]

    wide = chart_window(job, bars=120, factor=64)  # markers fall in their bar
    xs, prices = wide.buys
    assert xs and all(0 <= x < len(wide) for x in xs)
    assert all(wide.low[x] <= p <= wide.high[x] for x, p in zip(xs, prices, strict=True))

    equity = equity_curve(job, points=100)
    assert len(equity) == 100 and np.isclose(equity.equity[-1], 9620.99, atol=0.01)
    metrics = job_view.metrics_view(view_of(job))
    assert metrics.title.startswith("Report") and len(metrics.rows) > 20


def test_views_of_a_job_without_exchange_are_empty() -> None:
    manager = JobManager()
    job = manager.add_failed(backtest_config(name="broken"), "broken-1", "boom")
    assert job_view.job_row(view_of(job)).error == "boom"
    assert len(chart_window(job, 50)) == 0
    assert len(equity_curve(job, 50)) == 0
    assert job_view.account_view(view_of(job)).orders == ()
    assert job_view.metrics_view(view_of(job)).error == "boom"


def test_columns_fit_the_terminal() -> None:
    for width in (79, 97, 117, 157, 197):
        columns = columns_for(width)
        assert sum(column.width + 2 for column in columns) <= width
        assert columns[0].key == "name"
    assert {column.key for column in columns_for(79)} >= {"name", "status", "equity", "pnl"}
    assert [column.key for column in columns_for(197)] == [column.key for column in COLUMNS]


def test_settings_file_is_private_and_atomic(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ui.json"
    UISettings(theme="ats-light").save(path)
    assert UISettings.load(path).theme == "ats-light"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [entry.name for entry in path.parent.iterdir()] == ["ui.json"]


def test_formatting_helpers() -> None:
    assert job_view.format_timeframe(3_000) == "3s"
    assert job_view.format_timeframe(3_600_000) == "1h"
    assert job_view.format_timeframe(None) == ""
    assert job_view.format_amount(0.3419346) == "0.341935"
    assert job_view.format_amount(2.5) == "2.5" and job_view.format_amount(12_345.6) == "12,345.60"
    assert job_view.format_speed(20.0) == "x20" and job_view.format_speed(0) == "max"
    assert job_view.format_duration(27_024_000) == "7h 30m 24s"
