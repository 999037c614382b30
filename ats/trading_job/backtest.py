"""Run one backtest job to completion from Python (tests, benchmarks, notebooks)."""

from __future__ import annotations

from ats.data.candles import CandleData
from ats.trading_job.job_config import JobConfig
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import TradingJob


async def run_backtest(
    config: JobConfig, *, data: CandleData | None = None, manager: JobManager | None = None
) -> TradingJob:
    """Create, start and await a job; ``data`` skips re-reading an already loaded file."""
    manager = JobManager() if manager is None else manager
    job = manager.create(config)
    if data is not None:
        if job.capabilities.replay is None:
            raise TypeError(f"exchange {config.exchange.name} does not take preloaded data")
        job.capabilities.replay.load_data(data)
    manager.start(job.id)
    await job.wait()
    return job
