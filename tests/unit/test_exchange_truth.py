"""An exchange is always true, whatever its ``len`` (a replay's candle count) says."""

from __future__ import annotations

from job_configs import backtest_config

from ats.trading_job.job_manager import JobManager


def test_a_backtest_exchange_without_candles_loaded_is_still_true() -> None:
    job = JobManager().create(backtest_config(name="not-loaded"))
    assert job.exchange is not None and len(job.exchange) == 0  # candles not loaded yet
    assert job.exchange
