"""Metrics as people read them: durations without a wrong unit, and no annualised figure
(CAGR, Sharpe, Sortino, Calmar) on a run too short for it (issue 10, bugs 4 and 10)."""

from __future__ import annotations

import io

from job_configs import backtest_config
from rich.console import Console

from ats.headless.report import metrics_table
from ats.trading_job.job_manager import JobManager
from ats.trading_job.metrics import (
    ANNUALISED,
    METRIC_LABELS,
    MIN_ANNUALISED_DAYS,
    annualised_meaningful,
    shown_metrics,
)
from ats.trading_job.view_builder import view_of
from ats.ui import job_view


async def _finished_demo_metrics() -> tuple[job_view.MetricsView, dict[str, object]]:
    manager = JobManager()
    job = manager.create(backtest_config(name="short"))
    manager.start(job.id)
    await manager.wait(job.id)
    view = view_of(job)
    assert view.metrics is not None
    return job_view.metrics_view(view), dict(view.metrics)


async def test_an_eight_hour_backtest_shows_no_annualised_figure_and_no_ms_unit() -> None:
    panel, raw = await _finished_demo_metrics()
    rows = {label: value for label, value, _sign in panel.rows}
    assert raw["cagr_pct"] is not None  # the report keeps the raw value...
    for key in ANNUALISED:  # ...but the console shows a dash
        assert rows[METRIC_LABELS[key]] == "—", key
    assert not any("[ms]" in label for label in rows)
    assert rows["Max drawdown duration"].endswith("s")  # e.g. "7h 30m 24s"
    assert rows["Total return [%]"] != "—"

    out = io.StringIO()
    Console(file=out, width=100).print(metrics_table(raw))
    text = out.getvalue()
    assert "[ms]" not in text and "-100.00" not in text
    cagr_line = next(line for line in text.splitlines() if "CAGR" in line)
    assert cagr_line.rstrip().endswith("—")


def test_the_rule_for_annualised_figures() -> None:
    long = {"duration_days": MIN_ANNUALISED_DAYS, "sharpe": 1.5, "cagr_pct": 12.0}
    assert annualised_meaningful(long)
    assert shown_metrics(long) == long
    assert annualised_meaningful(long, timeframe_ms=86_400_000)  # 31 daily candles
    assert not annualised_meaningful(long, timeframe_ms=7 * 86_400_000)  # 5 weekly candles
    short = {**long, "duration_days": 0.33}
    assert not annualised_meaningful(short)
    assert shown_metrics(short) == {"duration_days": 0.33, "sharpe": None, "cagr_pct": None}
    assert not annualised_meaningful({"sharpe": 1.0})  # no duration: not shown
