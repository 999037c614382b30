"""Backtests share one event-loop turn, step aside for the console, and keep their heavy
start and end (indicators, report) off the loop's thread."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from ats.demo import DEMO_DATA, demo_backtest_config
from ats.exchanges.run_control import MIN_SLICE_SECONDS, CpuShare, RunControl, StopRequested
from ats.indicators.sma import SMA
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import JobStatus, TradingJob


def test_the_turn_is_split_between_running_members() -> None:
    share = CpuShare(turn_seconds=0.004)
    assert share.slice_seconds == pytest.approx(0.004)
    with share.member(), share.member():
        assert share.members == 2
        assert share.slice_seconds == pytest.approx(0.002)
        with share.member(), share.member(), share.member(), share.member():
            assert share.slice_seconds == MIN_SLICE_SECONDS  # never slices of nothing
    assert share.members == 0


async def test_a_hold_parks_cpu_bound_loops_only() -> None:
    share = CpuShare()
    cpu, feed = RunControl(share), RunControl(share)
    share.hold(0.2)
    held_until = time.monotonic() + 0.2
    assert share.held
    cpu_waiting = asyncio.create_task(cpu.cpu_checkpoint())
    await asyncio.wait_for(feed.checkpoint(), 0.05)  # a paper/live loop is never held
    await asyncio.sleep(0.05)
    # (a loaded machine may wake the test after the hold ended: then it may be done)
    assert not cpu_waiting.done() or time.monotonic() >= held_until
    share.hold(0.05)  # a shorter hold never cuts an earlier one short
    await asyncio.sleep(0.08)
    assert not cpu_waiting.done() or time.monotonic() >= held_until
    await asyncio.wait_for(cpu_waiting, 5)
    assert not share.held


async def test_a_stop_still_reaches_a_held_loop() -> None:
    share = CpuShare()
    control = RunControl(share)
    share.hold(0.1)
    waiting = asyncio.create_task(control.cpu_checkpoint())
    await asyncio.sleep(0)
    control.stop()
    with pytest.raises(StopRequested):
        await asyncio.wait_for(waiting, 1.0)


async def test_jobs_of_a_manager_share_its_budget() -> None:
    manager = JobManager()
    jobs = [manager.create(demo_backtest_config()) for _ in range(3)]
    assert all(job.cpu_share is manager.cpu_share for job in jobs)
    manager.hold_foreground(2.0)  # each parks after its first slice, still a member
    for job in jobs:
        manager.start(job.id)
    async with asyncio.timeout(30):
        while manager.cpu_share.members < 3:
            await asyncio.sleep(0.01)
    await asyncio.gather(*(job.wait() for job in jobs))
    assert manager.cpu_share.members == 0
    assert all(job.status is JobStatus.FINISHED for job in jobs)


async def test_hold_foreground_delays_a_backtest_not_a_replay() -> None:
    manager = JobManager()
    backtest = manager.create(demo_backtest_config())
    replay = manager.create(
        parse_job_config(
            {
                "name": "replay",
                "exchange": {
                    "name": "paper",
                    # ~1 ms a candle: still moving after a few held windows (at full
                    # speed a loaded machine could finish it while the test retries)
                    "params": {"feed": "replay", "data": str(DEMO_DATA), "speed": 60_000},
                },
                "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 30}},
            }
        )
    )
    manager.start(backtest.id)
    manager.start(replay.id)
    while not (backtest.exchange and backtest.exchange.progress.done):
        await asyncio.sleep(0.001)
    assert backtest.exchange is not None and replay.exchange is not None
    for _attempt in range(5):
        manager.hold_foreground(0.3)
        held_until = time.monotonic() + 0.3
        await asyncio.sleep(0.01)
        parked, moving = backtest.exchange.progress.done, replay.exchange.progress.done
        await asyncio.sleep(0.15)
        if time.monotonic() < held_until:
            break  # looked within the hold; a loaded machine may outsleep it: again
    assert backtest.exchange.progress.done == parked
    assert replay.exchange.progress.done > moving
    await backtest.wait()
    assert backtest.status is JobStatus.FINISHED
    await manager.stop_all()


async def test_indicators_and_report_are_computed_off_the_loop_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: dict[str, set[str]] = {"compute": set(), "report": set()}
    compute, build_report = SMA.compute, TradingJob.build_report

    def spy_compute(self: SMA, *arrays: object) -> object:
        threads["compute"].add(threading.current_thread().name)
        return compute(self, *arrays)  # type: ignore[arg-type]

    def spy_report(self: TradingJob) -> object:
        threads["report"].add(threading.current_thread().name)
        return build_report(self)

    monkeypatch.setattr(SMA, "compute", spy_compute)
    monkeypatch.setattr(TradingJob, "build_report", spy_report)
    manager = JobManager()
    job = manager.create(demo_backtest_config())
    manager.start(job.id)
    await job.wait()
    assert job.status is JobStatus.FINISHED and job.report is not None
    loop_thread = threading.current_thread().name
    assert threads["compute"] and loop_thread not in threads["compute"]
    assert threads["report"] and loop_thread not in threads["report"]
    assert job.report["metrics"]["num_trades"] == 27  # same result as on the loop
