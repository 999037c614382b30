"""Quitting with 8 busy jobs: how long until every one is saved as running.

    .venv/bin/python bench/quit_with_jobs.py [--candles 1000000] [--rounds 3]

Two figures against the 2 s target (issue 4), each the median of ``--rounds``:

- headless: 8 sma_cross(10, 30) backtests on ``--candles`` generated 1-minute candles,
  all running and some way in (thousands of orders each, multi-MB snapshots), then
  ``PersistentJobs.on_quit()`` (what a stop signal ends with);
- console: the real console (``AtsApp`` with persistence, under Textual's ``run_test``)
  with 4 such backtests and 4 paper replays running, then ``q`` until the app has exited.

The peer, from the same run: encoding the same 8 snapshots with one ``json.dumps`` each
(the work a quit cannot avoid), as a ratio. tests/integration/persistence/test_persistence.py and
tests/e2e/ui/test_ui_persistence.py check that the jobs are saved; how fast is measured here,
not with a wall-clock limit in a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from console_state import persistence_hooks
from ui_latency import replay

from ats.persistence.persistent_jobs import PersistentJobs
from ats.trading_job.job_config import JobConfig, parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.trading_job.trading_job import TradingJob
from ats.utils.settings import Settings
from ats.utils.synthetic_candles import cached_parquet

TARGET_SECONDS = 2.0
IN_BEFORE_QUIT = 200_000
"""Candles each backtest has replayed before the quit (its orders are in the snapshot)."""


def backtest(name: str, data: Path) -> JobConfig:
    return parse_job_config(
        {
            "name": name,
            "exchange": {"name": "back_trading", "params": {"data": str(data)}},
            "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 30}},
        }
    )


async def some_way_in(jobs: list[TradingJob], candles: int) -> None:
    def far_enough(job: TradingJob) -> bool:
        return job.exchange is not None and job.exchange.progress.done >= candles

    while not all(map(far_enough, jobs)):
        await asyncio.sleep(0.02)


def encode_all(jobs: list[TradingJob]) -> float:
    """The peer: one ``json.dumps`` of each job's snapshot."""
    began = time.perf_counter()
    for job in jobs:
        json.dumps(job.snapshot(), separators=(",", ":"))
    return time.perf_counter() - began


async def headless_quit(data: Path) -> tuple[float, float, int]:
    """(on_quit seconds, peer seconds, snapshot bytes)."""
    with tempfile.TemporaryDirectory(prefix="ats-bench-quit-") as state:
        settings = Settings(_env_file=None, saved_states_dir=Path(state))  # type: ignore[call-arg]
        manager = JobManager()
        persistence = PersistentJobs(manager, settings)
        await persistence.open()
        jobs = [manager.create(backtest(f"bt-{i}", data)) for i in range(8)]
        for job in jobs:
            manager.start(job.id)
        await some_way_in(jobs, IN_BEFORE_QUIT)
        began = time.perf_counter()
        await persistence.on_quit()
        seconds = time.perf_counter() - began
        size = sum(path.stat().st_size for path in Path(state).glob("*.json"))
        for job in jobs:
            payload = persistence.store.read(persistence.store.path(job.id), job.id).payload
            assert payload is not None and payload["status"] == "running", job.id
        return seconds, encode_all(jobs), size


async def console_quit(data: Path) -> float:
    from ats.ui.app import AtsApp

    with tempfile.TemporaryDirectory(prefix="ats-bench-quit-") as state:
        manager = JobManager()
        hooks = persistence_hooks(manager, Path(state))
        app = AtsApp(manager, demo=False, settings_path=None, **hooks)
        async with app.run_test(size=(120, 40)) as pilot:
            while not app.started:
                await pilot.pause(0.05)
            jobs = [manager.create(backtest(f"bt-{i}", data)) for i in range(4)]
            jobs += [manager.create(replay(f"replay-{i}", 50.0)) for i in range(4)]
            for job in jobs:
                manager.start(job.id)
            await some_way_in(jobs[:4], IN_BEFORE_QUIT)
            await some_way_in(jobs[4:], 1)
            began = time.perf_counter()
            await pilot.press("q")
            while app.return_code is None:
                await asyncio.sleep(0.005)
            seconds = time.perf_counter() - began
        assert app.return_code == 0
        return seconds


async def main(args: argparse.Namespace) -> None:
    data = cached_parquet(args.candles)
    headless = [await headless_quit(data) for _ in range(args.rounds)]
    console = [await console_quit(data) for _ in range(args.rounds)]
    ours = statistics.median(seconds for seconds, _peer, _size in headless)
    peer = statistics.median(peer for _seconds, peer, _size in headless)
    size = statistics.median(size for _seconds, _peer, size in headless)
    on_q = statistics.median(console)
    print(f"8 running jobs, {args.candles:,} candles each, median of {args.rounds}")
    megabytes = size / 1e6
    print(f"headless on_quit:  {ours:6.2f} s  (target {TARGET_SECONDS} s; {megabytes:.1f} MB)")
    print(f"console q to exit: {on_q:6.2f} s  (target {TARGET_SECONDS} s)")
    print(f"json.dumps of 8 snapshots (peer): {peer:6.2f} s")
    print(f"on_quit / json.dumps: {ours / peer:.2f}x   console q / json.dumps: {on_q / peer:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
