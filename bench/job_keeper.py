"""Keeps the console benchmarks' jobs running: each one is started again as it ends."""

from __future__ import annotations

import asyncio

from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus, TradingJob


class JobKeeper:
    """Starts every job of ``jobs`` that is not running, every ``interval`` seconds, and
    counts the candles they fed (finished runs plus the current ones)."""

    def __init__(self, manager: JobManager, jobs: list[TradingJob], interval: float) -> None:
        self.manager = manager
        self.jobs = jobs
        self.interval = interval
        self.starts = 0
        self.finished_runs = 0
        self._finished_candles = 0

    def all_running(self) -> bool:
        return all(job.status.is_active for job in self.jobs)

    def candles(self) -> int:
        return self._finished_candles + sum(
            job.exchange.progress.done for job in self.jobs if job.exchange is not None
        )

    async def keep_running(self) -> None:
        while True:
            for job in self.jobs:
                if job.status.is_active:
                    continue
                if job.exchange is not None and job.status is not JobStatus.CREATED:
                    self._finished_candles += job.exchange.progress.done
                    self.finished_runs += 1
                self.manager.start(job.id)
                self.starts += 1
            await asyncio.sleep(self.interval)
