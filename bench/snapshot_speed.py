"""Snapshot save and restore time for a job with 10,000 orders.

    .venv/bin/python bench/snapshot_speed.py [--orders 10000] [--repeat 5]

Builds a back_trading job and places ``--orders`` orders through its exchange: half are
market orders that fill on the next candle (so the snapshot also holds their fills), half
are limit buys far below the price that stay open (holding funds). Then measures, best of
``--repeat``: building the payload (TradingJob.snapshot + persistence extras), encoding the
checksummed envelope, the atomic write (temp file, fsync, rename, directory fsync), and the
way back: read + decode + validate, and TradingJob.restore + the account cross-checks.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from ats.data.candles import CandleData
from ats.exchanges.data_classes import Candle
from ats.exchanges.simulated_exchange import SimulatedExchange
from ats.persistence.persistent_jobs import PersistentJobs
from ats.persistence.restore import restore_job
from ats.persistence.snapshot_store import SnapshotStore
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.utils.settings import Settings
from ats.utils.synthetic_candles import make_candles


def best(samples: list[float]) -> str:
    return f"{min(samples) * 1000:8.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        state = Path(scratch) / "state"
        settings = Settings(_env_file=None, saved_states_dir=state, journal_enabled=False)  # type: ignore[call-arg]
        manager = JobManager()
        persistence = PersistentJobs(manager, settings)
        await persistence.open()
        config = parse_job_config(
            {
                "name": "snapshot-bench",
                "balances": {"USDT": 1_000_000_000.0},
                "exchange": {"name": "back_trading", "params": {"data": "generated.csv"}},
                "strategy": {"name": "sma_cross", "params": {"fast": 50, "slow": 200}},
            }
        )
        job = manager.create(config, job_id="snapshot-bench")
        exchange = job.exchange
        assert isinstance(exchange, SimulatedExchange)
        columns = make_candles(1_000)
        exchange.load_data(  # type: ignore[attr-defined]
            CandleData(path=Path("generated.csv"), timeframe_ms=60_000, **columns)
        )
        price = float(columns["close"][0])
        exchange.process_candle(
            Candle("BTC/USDT", int(columns["timestamps"][0]), price, price, price, price, 1.0)
        )
        for index in range(args.orders):
            if index % 2:
                exchange.submit_order("BTC/USDT", "buy", "limit", 0.001, price * 0.5)
            else:
                exchange.submit_order("BTC/USDT", "buy", "market", 0.001)
        nxt = float(columns["open"][1])
        exchange.process_candle(
            Candle(
                "BTC/USDT", int(columns["timestamps"][1]), nxt, nxt * 1.001, nxt * 0.999, nxt, 1.0
            )
        )
        orders, fills = len(exchange.get_orders()), len(exchange.get_fills())
        open_orders = len(exchange.get_open_orders())

        timings: dict[str, list[float]] = {}

        def timed(name: str, began: float) -> float:
            now = time.perf_counter()
            timings.setdefault(name, []).append(now - began)
            return now

        store = persistence.store
        size = 0
        for _ in range(args.repeat):
            began = time.perf_counter()
            payload = persistence.payload(job)
            mark = timed("payload (job.snapshot)", began)
            data = store.encode(job.id, payload)
            mark = timed("encode (JSON + sha256)", mark)
            store.write(job.id, data)
            mark = timed("atomic write + fsync", mark)
            timings.setdefault("save total", []).append(mark - began)
            size = len(data)

            began = time.perf_counter()
            (candidate, *_) = store.candidates(job.id)
            assert candidate.payload is not None, candidate.error
            mark = timed("read + decode + validate", began)
            restored = restore_job(manager, job.id, candidate.payload)
            mark = timed("restore + integrity checks", mark)
            timings.setdefault("load total", []).append(mark - began)
            assert restored.exchange is not None
            assert len(restored.exchange.get_orders()) == orders

        print(
            f"snapshot of a job with {orders:,} orders ({open_orders:,} open) and "
            f"{fills:,} fills: {size / 1e6:.2f} MB, best of {args.repeat}"
        )
        for name, samples in timings.items():
            print(f"  {name:<28}{best(samples)}")
        await persistence.close()
        assert SnapshotStore(state).job_ids() == ["snapshot-bench"]


if __name__ == "__main__":
    asyncio.run(main())
