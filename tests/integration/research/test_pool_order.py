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

STARTS_LOGGED = '''
from pathlib import Path

from ats.strategies.sma_cross.strategy import Strategy as SmaCross

STARTS = Path({log!r})


class Strategy(SmaCross):
    """sma_cross that notes each backtest's fast period as it starts."""

    name = "logged_cross"

    def setup(self) -> None:
        super().setup()
        with STARTS.open("a") as log:
            log.write(f"{{self.params.fast}}\\n")
'''


def test_a_check_handed_over_mid_sweep_starts_before_the_trials_not_yet_handed_over(
    tmp_path: Path, candles_5k: Path
) -> None:
    """Which task starts when is the pool's order, whatever the machine's speed; which
    ends first is not (a loaded machine ran the slower per-candle check behind a dozen
    5,000-candle trials on the other worker)."""
    starts = tmp_path / "starts.txt"
    strategy = tmp_path / "custom" / "strategies" / "logged_cross" / "strategy.py"
    strategy.parent.mkdir(parents=True)
    strategy.write_text(STARTS_LOGGED.format(log=str(starts)))
    base = parse_job_config(
        {
            "name": "order",
            "exchange": {"name": "back_trading", "params": {"data": str(candles_5k)}},
            "strategy": {"name": "logged_cross", "params": {}},
            "vectorised": True,
        }
    )
    pool = ProcessPool(
        base,
        load_candles(candles_5k),
        workers=2,
        custom_root=PluginLoader(tmp_path / "custom").custom_root,
    )
    trials = [TrialTask(number, {"fast": 5 + number, "slow": 60}) for number in range(24)]
    check = TrialTask(99, {"fast": 4, "slow": 60}, per_candle=True)

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
    started = [int(line) for line in starts.read_text().split()]
    assert sorted(started) == [4, *range(5, 29)]
    # Handed over once the first trial ended: behind the four trials the pool held and
    # those handed over as the first ones ended (eight at most; two workers may swap two
    # neighbours' starts). Handed every trial at once, the pool started it last (24).
    assert started.index(4) <= 9, started
