"""Alerts' cost to a job: the same backtest with alerts off, and with every fill alerted to a
channel that refuses connections or hangs.

    .venv/bin/python bench/alert_overhead.py [--candles 200000] [--repeat 5]

sma_cross(5, 20) on generated one-minute candles (thousands of fills, each an alert:
the worst case for the batcher). The variants run interleaved in one process and the
best of ``--repeat`` is kept for each; the figure is the job's wall time, printed beside
the alerts-off run of the same process as a ratio. The hanging endpoint accepts the
connection and never answers, so the delivery thread sits in a socket read for the whole
run; trades must be identical in every variant (checked).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import time
from pathlib import Path
from typing import Any

from ats.alerts.config import AlertConfig
from ats.alerts.service import AlertService
from ats.data.candles import CandleData
from ats.trading_job.job_config import parse_job_config
from ats.trading_job.job_manager import JobManager
from ats.utils.settings import Settings
from ats.utils.synthetic_candles import make_candles

CONFIG = parse_job_config(
    {
        "name": "bench-alerts",
        "balances": {"USDT": 10_000.0},
        "exchange": {"name": "back_trading", "params": {"data": "generated.csv"}},
        "strategy": {"name": "sma_cross", "params": {"fast": 5, "slow": 20}},
        "fees": {"name": "flat_rate", "params": {"rate": 0.001}},
    }
)


async def run(data: CandleData, url: str | None) -> tuple[float, list[Any], str]:
    manager = JobManager()
    service = None
    if url is not None:
        settings = Settings(
            _env_file=None, alert_urls=url, alert_modes="backtest", alert_timeout_s=30.0
        )
        config = AlertConfig.from_settings(settings)
        assert config is not None
        service = AlertService(manager, config)
        service.start()
    job = manager.create(CONFIG)
    job.exchange.load_data(data)  # type: ignore[union-attr]
    began = time.perf_counter()
    manager.start(job.id)
    await job.wait()
    elapsed = time.perf_counter() - began
    note = ""
    if service is not None:
        await service.close(wait_s=0.1)
        sent, failed = service.delivery.sent, service.delivery.failed
        note = f"messages sent {sent}, failed {failed}; hanging {service.delivery.stuck_for:.1f}s"
    fills = [(f.side, f.amount, f.price, f.timestamp) for f in job.exchange.get_fills()]  # type: ignore[union-attr]
    return elapsed, fills, note


async def main(candles: int, repeat: int) -> None:
    data = CandleData(path=Path("generated.csv"), timeframe_ms=60_000, **make_candles(candles))

    async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await reader.read()  # never answers
        writer.close()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    hanging = server.sockets[0].getsockname()[1]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        refused = probe.getsockname()[1]
    variants = {
        "alerts off": None,
        "refusing channel": f"json://127.0.0.1:{refused}/x",
        "hanging channel": f"json://127.0.0.1:{hanging}/x",
    }
    best: dict[str, float] = {}
    trades: dict[str, list[Any]] = {}
    notes: dict[str, str] = {}
    for _ in range(repeat):
        for name, url in variants.items():
            elapsed, fills, note = await run(data, url)
            best[name] = min(best.get(name, elapsed), elapsed)
            trades.setdefault(name, fills)
            notes[name] = note
            assert fills == trades[name] == trades["alerts off"], f"{name}: trades differ"
    server.close()
    base = best["alerts off"]
    print(f"{candles:,} candles, {len(trades['alerts off']):,} fills, best of {repeat}")
    for name, seconds in best.items():
        extra = f"  ({notes[name]})" if notes[name] else ""
        print(f"  {name:<17} {seconds:6.3f} s   {seconds / base:5.2f}x alerts off{extra}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.candles, args.repeat))
