"""Journal overhead on the 1M-candle backtest: the same job with and without the journal.

    .venv/bin/python bench/journal_overhead.py [--candles 1000000] [--repeat 5]

Both variants run interleaved (plain, journaled, plain, ...) in one process on the same
in-memory candles (bench/backtest_speed.py's generator and seed), and the best of
``--repeat`` is kept for each. Reported per strategy: the job's wall time without and
with the journal, the overhead (what must stay under 10%), the same measured in CPU time
of the event-loop thread (steadier on a shared machine; SQLite's own work runs on its
thread), and the wall overhead until the journal has committed everything (the writer
catches up after the job ends).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from ats.data.candles import CandleData
from ats.database.journal import Journal
from ats.trading_job.job_config import JobConfig, parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import TradingJob
from ats.utils.synthetic_candles import make_candles


def config(fast: int, slow: int) -> JobConfig:
    return parse_job_config(
        {
            "name": f"bench-{fast}-{slow}",
            "balances": {"USDT": 10_000.0},
            "exchange": {"name": "back_trading", "params": {"data": "generated.csv"}},
            "strategy": {"name": "sma_cross", "params": {"fast": fast, "slow": slow}},
            "fees": {"name": "flat_rate", "params": {"rate": 0.001}},
        }
    )


async def run(manager: JobManager, job_config: JobConfig, data: CandleData) -> TradingJob:
    """run_backtest's steps on a given manager (``run_backtest(manager=...)`` swaps an
    empty JobManager for a new one: ``manager or JobManager()`` is falsy when empty)."""
    job = manager.create(job_config)
    job.exchange.load_data(data)  # type: ignore[union-attr]
    manager.start(job.id)
    await job.wait()
    return job


Run = tuple[float, float, float, int]
"""(wall s, wall s until committed, loop-thread CPU s, fills)"""


async def plain(job_config: JobConfig, data: CandleData) -> Run:
    began, cpu = time.perf_counter(), time.thread_time()
    job = await run(JobManager(), job_config, data)
    elapsed, cpu = time.perf_counter() - began, time.thread_time() - cpu
    assert job.exchange is not None
    return elapsed, elapsed, cpu, len(job.exchange.get_fills())


async def journaled(job_config: JobConfig, data: CandleData) -> Run:
    with tempfile.TemporaryDirectory() as scratch:
        manager = JobManager()
        journal = await Journal(Path(scratch) / "journal.sqlite3").open()
        journal.attach(manager)
        began, cpu = time.perf_counter(), time.thread_time()
        job = await run(manager, job_config, data)
        elapsed, cpu = time.perf_counter() - began, time.thread_time() - cpu
        await journal.flush()
        await journal.flush()
        caught_up = time.perf_counter() - began
        assert job.exchange is not None
        fills = len(await journal.fills(job.id))
        assert fills == len(job.exchange.get_fills()), "journal missed fills"
        await journal.close()
    return elapsed, caught_up, cpu, fills


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    data = CandleData(path=Path("generated.csv"), timeframe_ms=60_000, **make_candles(args.candles))
    print(f"sma_cross on {args.candles:,} candles, best of {args.repeat} (interleaved runs)")
    print(
        f"{'strategy':<14}{'fills':>8}{'plain s':>10}{'journal s':>11}{'overhead':>10}"
        f"{'loop CPU':>10}{'until committed':>17}"
    )
    for fast, slow in ((50, 200), (10, 30)):
        job_config = config(fast, slow)
        await plain(job_config, data)  # warm-up: imports, caches
        runs: dict[str, list[Run]] = {"plain": [], "journal": []}
        for _ in range(args.repeat):
            runs["plain"].append(await plain(job_config, data))
            runs["journal"].append(await journaled(job_config, data))
        base = min(run[0] for run in runs["plain"])
        with_journal = min(run[0] for run in runs["journal"])
        caught_up = min(run[1] for run in runs["journal"])
        cpu = min(run[2] for run in runs["journal"]) / min(run[2] for run in runs["plain"])
        fills = runs["journal"][0][3]
        print(
            f"{f'sma({fast},{slow})':<14}{fills:>8,}{base:>10.3f}{with_journal:>11.3f}"
            f"{(with_journal / base - 1) * 100:>9.1f}%{(cpu - 1) * 100:>9.1f}%"
            f"{(caught_up / base - 1) * 100:>16.1f}%"
        )


if __name__ == "__main__":
    asyncio.run(main())
