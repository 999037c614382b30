"""Live metrics in the read model (issue 10, item 4): realised and unrealised P&L, fees,
drawdown, win rate and trades, kept up while the job runs and agreeing with the final
report at its end."""

from __future__ import annotations

import asyncio

import pytest
from job_configs import backtest_config

from ats.trading_job.job_manager import JobManager
from ats.trading_job.view_builder import view_of
from ats.trading_job.views import JobView, from_json, to_json


async def test_live_metrics_grow_while_running_and_match_the_report() -> None:
    manager = JobManager()
    job = manager.create(backtest_config(name="live"))
    manager.start(job.id)
    seen: list[int] = []
    while job.status.is_active or not seen:
        live = view_of(job).live_metrics
        if live is not None:
            seen.append(live.trades)
        await asyncio.sleep(0)
    await manager.wait(job.id)
    view = view_of(job)
    live = view.live_metrics
    assert live is not None and view.metrics is not None
    metrics = view.metrics
    assert (
        live.trades == metrics["num_trades"] and live.closed_trades == metrics["num_closed_trades"]
    )
    assert live.fees_paid == pytest.approx(metrics["fees_paid"])
    assert live.win_rate_pct == pytest.approx(metrics["win_rate_pct"])
    closed = [t for t in job.exchange.get_trades() if t.exit_time is not None]  # type: ignore[union-attr]
    assert live.realised_pnl == pytest.approx(sum(t.pnl for t in closed))
    # sampled only when views are built: never deeper than the exact figure
    assert metrics["max_drawdown_pct"] - 1e-9 <= live.max_drawdown_pct <= 0
    assert live.drawdown_pct <= 0
    assert seen == sorted(seen)  # counted as it went, never recounted from zero
    assert from_json(JobView, to_json(view)) == view  # travels as JSON


def test_the_metrics_panel_shows_them_while_running() -> None:
    from dataclasses import replace

    from ats.trading_job.status import JobStatus
    from ats.trading_job.views import LiveMetricsView
    from ats.ui.job_view import metrics_view

    view = JobView(
        job_id="j", name="j", strategy="s", strategy_params={}, symbol="BTC/USDT",
        base="BTC", quote="USDT", exchange="paper", venue=None, mode="paper", live=False,
        built=True, status=JobStatus.RUNNING, equity=10_100.0, initial_equity=10_000.0,
        pnl=100.0, pnl_pct=1.0,
    )  # fmt: skip
    live = LiveMetricsView(
        realised_pnl=120.0, unrealised_pnl=-20.0, fees_paid=3.5, drawdown_pct=-0.5,
        max_drawdown_pct=-2.25, win_rate_pct=66.666, trades=4, closed_trades=3,
    )  # fmt: skip
    rows = {label: value for label, value, _ in metrics_view(replace(view, live_metrics=live)).rows}
    assert rows["Realised P&L [quote]"] == "120.00" and rows["Unrealised P&L [quote]"] == "-20.00"
    assert rows["Fees paid [quote]"] == "3.50" and rows["Max drawdown [%]"] == "-2.25"
    assert rows["Win rate [%]"] == "66.7" and rows["# Trades"] == "4"
    assert rows["P&L [quote]"] == "100.00"
