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
