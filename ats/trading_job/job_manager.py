"""JobManager: the one interface the console and the headless runner use.

Commands go in (create, start, stop, pause, resume, reload, edit, delete); events come out
on :attr:`bus`. Neither front end touches exchanges or strategies directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ats.exceptions import JobError
from ats.exchanges.run_control import CpuShare
from ats.trading_job.events import EventBus, JobRemoved, JobStatusChanged, KillSwitchUsed
from ats.trading_job.job_config import JobConfig
from ats.trading_job.job_ids import new_job_id
from ats.trading_job.trading_job import JobStatus, TradingJob
from ats.utils.plugins import PluginLoader, default_loader

if TYPE_CHECKING:
    from ats.trading_job.trade_pages import TradeHistory


class JobManager:
    def __init__(self, *, bus: EventBus | None = None, loader: PluginLoader | None = None) -> None:
        self.bus = bus or EventBus()
        self.loader = loader or default_loader
        self._jobs: dict[str, TradingJob] = {}
        self.cpu_share = CpuShare()
        """One event-loop budget split between all running backtests (see CpuShare)."""
        self.trade_history: TradeHistory | None = None
        """Where the jobs' trades and fills are also written (the journal, set by
        persistence): trade pages read it (:mod:`ats.trading_job.trade_pages`)."""

    # -- queries -------------------------------------------------------------------------
    def get(self, job_id: str) -> TradingJob:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise JobError(f"no job with id {job_id!r}") from None

    def __iter__(self) -> Iterator[TradingJob]:
        return iter(list(self._jobs.values()))

    def __len__(self) -> int:
        return len(self._jobs)

    @property
    def jobs(self) -> list[TradingJob]:
        return list(self._jobs.values())

    # -- commands ------------------------------------------------------------------------
    def create(self, config: JobConfig, *, job_id: str | None = None) -> TradingJob:
        """Validate by building the plugins now, so a bad config fails at creation."""
        job = TradingJob(
            job_id or new_job_id(config.name), config, bus=self.bus, loader=self.loader
        )
        job.build()
        self._add(job)
        self.bus.publish(JobStatusChanged(job.id, job.status))
        return job

    def _add(self, job: TradingJob) -> None:
        """Jobs are kept in the order they were first created, restored ones included
        (saved with the job), so a restart shows them in the same order."""
        job.cpu_share = self.cpu_share
        jobs = self._jobs
        last = next(reversed(jobs.values()), None)
        jobs[job.id] = job
        if last is not None and last is not job and job.created_at < last.created_at:
            self._jobs = dict(sorted(jobs.items(), key=lambda item: item[1].created_at))

    def add_failed(self, config: JobConfig, job_id: str, error: str) -> TradingJob:
        """Keep a job that cannot be built (e.g. a saved job whose strategy vanished)
        visible in the error state instead of losing it."""
        job = TradingJob(job_id, config, bus=self.bus, loader=self.loader)
        job.error = error
        job.status = JobStatus.ERROR
        job.log("ERROR", error)
        self._add(job)
        self.bus.publish(JobStatusChanged(job.id, job.status, error))
        return job

    def add_restored(self, job: TradingJob) -> TradingJob:
        """Register a job rebuilt from saved state (see ats.persistence.persistent_jobs)."""
        if job.id in self._jobs:
            raise JobError(f"a job with id {job.id!r} already exists")
        self._add(job)
        self.bus.publish(JobStatusChanged(job.id, job.status, job.error))
        return job

    def start(self, job_id: str) -> TradingJob:
        job = self.get(job_id)
        job.start()
        return job

    def stop(self, job_id: str) -> TradingJob:
        job = self.get(job_id)
        job.stop()
        return job

    def toggle(self, job_id: str) -> TradingJob:
        """Start a job that is not running, stop one that is (the console's ``s``)."""
        job = self.get(job_id)
        if job.status.is_active:
            job.stop()
        else:
            job.start()
        return job

    def pause(self, job_id: str) -> TradingJob:
        job = self.get(job_id)
        job.pause()
        return job

    def resume(self, job_id: str) -> TradingJob:
        job = self.get(job_id)
        job.resume()
        return job

    def toggle_pause(self, job_id: str) -> TradingJob:
        job = self.get(job_id)
        if job.status is JobStatus.PAUSED:
            job.resume()
        else:
            job.pause()
        return job

    def set_speed(self, job_id: str, factor: float) -> float:
        """Set a replay feed's pace (1.0 = real time); returns the speed now in force."""
        job = self.get(job_id)
        pace = job.capabilities.pace
        if pace is None:
            raise JobError(f"job {job.config.name} has no adjustable speed (not a replay)")
        return float(pace.set_speed(factor))

    def hold_foreground(self, seconds: float) -> None:
        """Let the console go first: running backtests wait at their next checkpoint
        until ``seconds`` from now (paper and live jobs are never held)."""
        self.cpu_share.hold(seconds)

    def kill_switch(self, modes: tuple[str, ...] = ("live",)) -> int:
        """Cancel every open order of every job in ``modes`` (the console's ``K``).

        Jobs keep running; returns how many orders were cancelled.
        """
        cancelled = 0
        for job in self._jobs.values():
            if job.exchange is None or job.mode not in modes:
                continue
            orders = job.exchange.get_open_orders()
            for order in orders:
                job.exchange.cancel_order(order.id)
            cancelled += len(orders)
            job.log("WARNING", "kill switch: all open orders cancelled")
            self.bus.publish(KillSwitchUsed(job.id, len(orders)))
        return cancelled

    def reload(self, job_id: str) -> TradingJob:
        job = self.get(job_id)
        job.reload()
        return job

    def edit(self, job_id: str, config: JobConfig) -> TradingJob:
        """Replace a stopped job's config; the job is rebuilt from scratch."""
        job = self.get(job_id)
        if job.status.is_active:
            raise JobError(f"stop job {job.config.name} before editing it")
        replacement = TradingJob(job.id, config, bus=self.bus, loader=self.loader)
        replacement.created_at = job.created_at  # keeps its place among the jobs
        replacement.build()
        self._add(replacement)  # the manager's CPU share, like every other job
        job.discard()
        self.bus.publish(JobStatusChanged(job.id, replacement.status))
        return replacement

    async def delete(self, job_id: str) -> None:
        job = self.get(job_id)
        if job.status.is_active:
            job.stop()
            await job.wait()
        del self._jobs[job_id]
        job.discard()
        self.bus.publish(JobRemoved(job_id))

    async def wait(self, job_id: str) -> TradingJob:
        job = self.get(job_id)
        await job.wait()
        return job

    async def wait_all(self) -> None:
        tasks = [job.task for job in self._jobs.values() if job.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def stop_all(self) -> None:
        """Ask every running job to stop and wait until they have."""
        for job in self._jobs.values():
            if job.status.is_active:
                job.stop()
        await self.wait_all()
