"""A task handed to the process pool during a sweep starts after the few trials the pool
holds, not after every trial of the sweep (the per-candle check of the best trial runs
beside the last trials, bench/optimize_speed.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ats.data.candle_readers import load_candles
from ats.research.process_pool import ProcessPool
from ats.research.trial import TrialResult, TrialTask
from ats.trading_job.job_config import parse_job_config
from ats.utils.plugins import PluginLoader


def test_a_check_handed_over_mid_sweep_overtakes_the_trials_not_yet_handed_over(
    candles_5k: Path,
) -> None:
    base = parse_job_config(
        {
            "name": "order",
            "exchange": {"name": "back_trading", "params": {"data": str(candles_5k)}},
            "strategy": {"name": "sma_cross", "params": {}},
            "vectorised": True,
        }
    )
    pool = ProcessPool(
        base, load_candles(candles_5k), workers=2, custom_root=PluginLoader().custom_root
    )
    trials = [TrialTask(number, {"fast": 5 + number, "slow": 60}) for number in range(24)]
    check = TrialTask(99, {"fast": 5, "slow": 60}, per_candle=True)

    async def sweep() -> list[int]:
        finished: list[int] = []
        handed: asyncio.Task[TrialResult] | None = None

        async def run_check() -> TrialResult:
            async for result in pool.run([check]):
                finished.append(result.number)
                return result
            raise AssertionError("no row for the check")

        async for result in pool.run(trials):
            finished.append(result.number)
            if handed is None:
                handed = asyncio.create_task(run_check())
        assert handed is not None
        await handed
        return finished

    try:
        finished = asyncio.run(sweep())
    finally:
        pool.close()
    assert sorted(finished) == [*range(24), 99]
    # Handed over after the first trial ended, behind the four the pool held: it ends
    # long before the last trials (handed every trial at once, the pool ran it last).
    assert finished.index(99) < 12, finished
