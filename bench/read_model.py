"""What the read model costs: building a job's views, and dataclasses against pydantic.

    .venv/bin/python bench/read_model.py [--candles 200000] [--rounds 2000]

Eight jobs as the console has them in bench/ui_latency.py: four sma_cross backtests run
to their end on ``--candles`` 1-minute candles (thousands of fills each) and four paper
replays stopped part-way. For each view the console asks for (the job view behind a
row, the account and the metrics, at up to 10 Hz per changed job; a 150-bar chart
window at 4 Hz for the selected job), the time to build it from the job and to encode
it as JSON (what the control API will send).

The peer, from the same run: the same JobView built as a validated pydantic
``BaseModel`` instead of a frozen dataclass (the choice views.py made), as a ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, create_model

from ats.demo import DEMO_DATA
from ats.trading_job import view_builder
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import TradingJob
from ats.trading_job.views import JobView, to_json
from ats.utils.synthetic_candles import cached_parquet


def per_call_us(call: Callable[[], object], rounds: int) -> float:
    """Median of 5 timings of ``rounds`` calls, in µs per call."""
    samples = []
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(rounds):
            call()
        samples.append((time.perf_counter() - began) / rounds * 1e6)
    return statistics.median(samples)


async def jobs(candles: Path) -> list[TradingJob]:
    manager = JobManager()
    made = []
    for i in range(4):
        config = {
            "name": f"bt-{i}",
            "exchange": {"name": "back_trading", "params": {"data": str(candles)}},
            "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 30}},
        }
        made.append(manager.create(parse_job_config(config)))
    for i in range(4):
        config = {
            "name": f"replay-{i}",
            "exchange": {
                "name": "paper",
                "params": {"feed": "replay", "data": str(DEMO_DATA), "speed": 0},
            },
            "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 30}},
        }
        made.append(manager.create(parse_job_config(config)))
    for job in made:
        manager.start(job.id)
    await asyncio.gather(*(made[i].wait() for i in range(4)))
    await asyncio.sleep(0.5)  # the replays get part-way
    await manager.stop_all()
    return made


def pydantic_twin() -> type[BaseModel]:
    """JobView's fields, with their types, as a validated pydantic model."""
    hints = get_type_hints(JobView)
    spec: dict[str, Any] = {field.name: (hints[field.name], ...) for field in fields(JobView)}
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        "JobViewModel", __config__=ConfigDict(frozen=True), **spec
    )
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=2_000)
    args = parser.parse_args()
    candles = cached_parquet(args.candles)
    made = asyncio.run(jobs(candles))
    backtest, replay = made[0], made[-1]
    fills = backtest.exchange.fill_count() if backtest.exchange else 0
    rounds = args.rounds
    figures = {
        "job view, finished backtest": per_call_us(lambda: view_builder.view_of(backtest), rounds),
        "job view, stopped replay": per_call_us(lambda: view_builder.view_of(replay), rounds),
        "chart window 150 bars, backtest": per_call_us(
            lambda: view_builder.chart_window(backtest, 150), max(rounds // 10, 10)
        ),
        "chart window 150 bars, replay": per_call_us(
            lambda: view_builder.chart_window(replay, 150), max(rounds // 10, 10)
        ),
        "job view to JSON": per_call_us(lambda: to_json(view_builder.view_of(backtest)), rounds),
    }
    view = view_builder.view_of(backtest)
    values = {field.name: getattr(view, field.name) for field in fields(JobView)}
    model = pydantic_twin()
    dataclass_us = per_call_us(lambda: JobView(**values), rounds * 5)
    pydantic_us = per_call_us(lambda: model(**values), rounds * 5)
    assert asdict(JobView(**values)) == asdict(view)
    print(f"{args.candles:,} candles per backtest, {fills:,} fills in the first")
    for what, us in figures.items():
        print(f"  {what:<34} {us:9.1f} µs")
    all_rows = 8 * 10 * figures["job view, finished backtest"] / 1e6
    print(f"  8 job views at 10 Hz: {100 * all_rows:.2f}% of one core")
    print(
        f"  JobView construction: dataclass {dataclass_us:.2f} µs, pydantic model "
        f"{pydantic_us:.2f} µs (pydantic / dataclass = {pydantic_us / dataclass_us:.1f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
