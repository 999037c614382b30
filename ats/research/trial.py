"""One trial: an ordinary backtest of the base job with some parameters changed.

The trial runs through :func:`ats.trading_job.backtest.run_backtest` on candles that are
already loaded, so its figures are those of ``ats backtest`` with the same parameters,
bit for bit; only the candle file is not read again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ats.data.candles import CandleData
from ats.exceptions import ATSError
from ats.exchanges.data_classes import split_symbol
from ats.research.space import Params
from ats.trading_job.job_config import JobConfig, parse_job_config
from ats.trading_job.status import JobStatus
from ats.utils.plugins import PluginLoader

if TYPE_CHECKING:
    from ats.trading_job.trading_job import TradingJob


@dataclass(frozen=True, slots=True)
class TrialTask:
    """What to run: parameters, the window of the loaded candles, the starting cash."""

    number: int
    params: Params
    start: int = 0
    stop: int | None = None
    """Candles ``start:stop`` of the loaded data (walk-forward windows); None: to the end."""
    cash: float | None = None
    """Starting quote balance instead of the job's balances (walk-forward chaining)."""
    per_candle: bool = False
    """Through ``on_candle`` even when the base job runs ``populate_signals`` (the
    per-candle check of a sweep's best trial, :mod:`ats.research.signals_check`)."""


@dataclass(frozen=True, slots=True)
class TrialResult:
    """A trial's row in the trials table (the report without its trade list)."""

    number: int
    params: Params
    final_equity: float | None
    trades: int
    metrics: dict[str, Any] | None = field(default=None)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "trial": self.number,
            "params": dict(self.params),
            "final_equity": self.final_equity,
            "trades": self.trades,
            "metrics": self.metrics,
        }
        if self.error is not None:
            row["error"] = self.error
        return row

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> TrialResult:
        return cls(
            number=int(row["trial"]),
            params=dict(row["params"]),
            final_equity=row["final_equity"],
            trades=int(row["trades"]),
            metrics=row["metrics"],
            error=row.get("error"),
        )


def trial_config(base: JobConfig, task: TrialTask) -> JobConfig:
    """The base job with the trial's parameters (validated like any job config)."""
    settings = base.model_dump()
    settings["strategy"]["params"] = {**settings["strategy"]["params"], **task.params}
    if task.cash is not None:
        settings["balances"] = {split_symbol(base.symbol)[1]: task.cash}
    if task.per_candle:
        settings["vectorised"] = False
    return parse_job_config(settings, source=f"trial {task.number}")


def window(data: CandleData, task: TrialTask) -> CandleData:
    if task.start == 0 and (task.stop is None or task.stop >= len(data)):
        return data
    return data.slice(task.start, len(data) if task.stop is None else task.stop)


async def backtest_trial(
    base: JobConfig, data: CandleData, task: TrialTask, loader: PluginLoader | None = None
) -> TradingJob:
    """Run the trial's backtest; the finished job keeps its equity curve and trades."""
    # Imported here: a sweep's parent process runs no backtest until it starts its workers
    # (serial time, bench/optimize_speed.py); workers have them (worker_start.WORKER_MODULES).
    from ats.trading_job.backtest import run_backtest
    from ats.trading_job.job_manager import JobManager

    manager = JobManager(loader=loader) if loader is not None else None
    return await run_backtest(trial_config(base, task), data=window(data, task), manager=manager)


def result_of(task: TrialTask, job: TradingJob) -> TrialResult:
    report = job.report
    if job.status is JobStatus.ERROR or report is None:
        error = job.error or "the backtest produced no report"
        return TrialResult(task.number, task.params, None, 0, None, error)
    return TrialResult(
        task.number, task.params, report["final_equity"], len(report["trades"]), report["metrics"]
    )


def run_trial(
    base: JobConfig,
    data: CandleData,
    task: TrialTask,
    loader: PluginLoader | None = None,
    runner: asyncio.Runner | None = None,
) -> TrialResult:
    """Run one trial to its row; a bad parameter or a strategy error is the row's error.

    ``runner``: an event loop kept from trial to trial (a worker's), else a new one.
    """
    trial = backtest_trial(base, data, task, loader)
    try:
        job = runner.run(trial) if runner is not None else asyncio.run(trial)
    except ATSError as exc:
        return TrialResult(task.number, task.params, None, 0, None, str(exc))
    try:
        return result_of(task, job)
    finally:
        # Its orders, fills and trades go now, by reference counting, rather than wait in
        # reference cycles for a full collection to walk them (bench/optimize_speed.py).
        job.discard()
