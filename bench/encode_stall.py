"""Event-loop stalls while a worker thread encodes a finished backtest's snapshot.

    .venv/bin/python bench/encode_stall.py [--orders 10000] [--rounds 20]

Snapshots of jobs that are not running, and reports, are encoded in worker threads
(ats.persistence.persistent_jobs, ats.database.writer), but the C JSON encoder holds the
GIL for a whole call, so the console's loop waits anyway. This bench runs a 1 ms ticker on
the loop while a thread encodes ``--orders`` order dicts (and half as many fills), and
reports the loop's worst lag and the encode time for: ``sliced_dumps`` (what ATS uses,
ats.utils.json_slices), one ``json.dumps`` call (its peer: the same text), and orjson
(installed with ccxt; faster, but not the same text: ``1e-5`` for ``1e-05``, raw UTF-8,
``null`` for NaN, so snapshot checksums and tests/integration/test_history_json.py rule it out).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from ats.exchanges.data_classes import Order
from ats.utils.json_slices import sliced_dumps


def payload(orders: int) -> dict[str, Any]:
    sample = Order(
        id="1", client_order_id="c1", symbol="BTC/USDT", side="buy", type="limit",
        amount=0.001, price=20_000.0, timestamp=1_600_000_000_000,
    ).to_dict()  # fmt: skip
    rows = []
    for i in range(orders):
        row = dict(sample)
        row.update(id=str(i), client_order_id=f"c{i}", price=20_000.0 + i * 0.37)
        row.update(timestamp=1_600_000_000_000 + i * 60_000, amount=0.001 * (i % 7 + 1))
        rows.append(row)
    return {"exchange": {"orders": rows, "fills": rows[: orders // 2]}}


async def stalls(encode: Callable[[], object], rounds: int) -> tuple[float, float]:
    """(worst loop lag, median encode time) in ms over ``rounds`` encodes in a thread."""
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            began = time.perf_counter()
            await asyncio.sleep(0.001)
            lags.append(time.perf_counter() - began - 0.001)

    task = asyncio.create_task(ticker())
    durations = []
    for _ in range(rounds):
        began = time.perf_counter()
        await asyncio.to_thread(encode)
        durations.append(time.perf_counter() - began)
    done.set()
    await task
    return 1000 * max(lags), 1000 * statistics.median(durations)


async def main(args: argparse.Namespace) -> None:
    data = payload(args.orders)
    options: dict[str, Any] = {"separators": (",", ":"), "allow_nan": False}
    assert sliced_dumps(data, **options) == json.dumps(data, **options)
    candidates = {
        "sliced_dumps (ATS)": lambda: sliced_dumps(data, **options),
        "json.dumps (peer)": lambda: json.dumps(data, **options),
        "orjson.dumps": lambda: orjson.dumps(data),
    }
    results = {name: await stalls(encode, args.rounds) for name, encode in candidates.items()}
    print(f"encoding {args.orders:,} orders + {args.orders // 2:,} fills in a worker thread")
    print(f"{'':22} {'loop lag max':>13} {'encode':>9}")
    for name, (lag, seconds) in results.items():
        print(f"{name:22} {lag:10.1f} ms {seconds:6.1f} ms")
    ours, peer = results["sliced_dumps (ATS)"][0], results["json.dumps (peer)"][0]
    print(f"worst loop lag, json.dumps / sliced_dumps: {peer / ours:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
