"""Backtest speed: ATS's event-driven sma_cross vs backtesting.py, same data, same run.

    .venv/bin/python bench/backtest_speed.py [--candles 1000000] [--repeat 3]

Each engine runs in its own child process (so peak RSS is its own) on the same
1,000,000 one-minute candles generated with a fixed seed: SMA(50)/SMA(200) crossover,
long only, next-open fills, 0.1% fee per side, 10,000 USDT. Reported: candles/s (best of
``--repeat``, wall clock) and candles per CPU-second of the process (best of ``--repeat``:
on a shared machine the wall clock also counts the time other processes held the
cores), peak RSS, trades and final equity, and the ratio ATS / backtesting.py.
The vectorised fast path (``populate_signals``) is measured separately on the same data.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ats.utils.synthetic_candles import make_candles

FAST, SLOW, CASH, FEE = 50, 200, 10_000.0, 0.001


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ats(count: int, repeat: int, *, vectorised: bool = False) -> dict[str, Any]:
    from ats.data.candles import CandleData
    from ats.trading_job.backtest import run_backtest
    from ats.trading_job.job_config import parse_job_config
    from ats.trading_job.watchdog import install

    install()  # guarded by the loop watchdog, as under `ats backtest`
    columns = make_candles(count)
    data = CandleData(path=Path("generated.csv"), timeframe_ms=60_000, **columns)
    config = parse_job_config(
        {
            "name": "bench",
            "vectorised": vectorised,
            "balances": {"USDT": CASH},
            "exchange": {"name": "back_trading", "params": {"data": "generated.csv"}},
            "strategy": {"name": "sma_cross", "params": {"fast": FAST, "slow": SLOW}},
            "fees": {"name": "flat_rate", "params": {"rate": FEE}},
        }
    )
    best, best_cpu, report = float("inf"), float("inf"), None
    for _ in range(repeat):
        job = None
        gc.collect()  # the previous run's job is cyclic garbage: peak RSS is one run's
        began, began_cpu = time.perf_counter(), time.process_time()
        job = asyncio.run(run_backtest(config, data=data))
        best = min(best, time.perf_counter() - began)
        best_cpu = min(best_cpu, time.process_time() - began_cpu)
        report = job.report
        assert report is not None, job.error
    assert report is not None
    return {
        "engine": "ATS vectorised signals" if vectorised else "ATS event-driven",
        "seconds": best,
        "candles_per_s": count / best,
        "cpu_seconds": best_cpu,
        "peak_rss_mb": peak_rss_mb(),
        "trades": len(report["trades"]),
        "final_equity": report["final_equity"],
    }


def run_backtesting_py(count: int, repeat: int) -> dict[str, Any]:
    import pandas as pd
    from backtesting import Strategy
    from backtesting.lib import FractionalBacktest, crossover

    def sma(values: np.ndarray, period: int) -> np.ndarray:
        return pd.Series(values).rolling(period).mean().to_numpy()

    class SmaCross(Strategy):
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, FAST)
            self.slow = self.I(sma, self.data.Close, SLOW)

        def next(self) -> None:
            if crossover(self.fast, self.slow) and not self.position:
                self.buy()
            elif crossover(self.slow, self.fast) and self.position:
                self.position.close()

    columns = make_candles(count)
    frame = pd.DataFrame(
        {
            "Open": columns["open"],
            "High": columns["high"],
            "Low": columns["low"],
            "Close": columns["close"],
            "Volume": columns["volume"],
        },
        index=pd.to_datetime(columns["timestamps"], unit="ms"),
    )
    best, best_cpu, stats = float("inf"), float("inf"), None
    for _ in range(repeat):
        backtest = FractionalBacktest(
            frame, SmaCross, cash=CASH, commission=FEE, finalize_trades=False
        )
        began, began_cpu = time.perf_counter(), time.process_time()
        stats = backtest.run()
        best = min(best, time.perf_counter() - began)
        best_cpu = min(best_cpu, time.process_time() - began_cpu)
    assert stats is not None
    return {
        "engine": "backtesting.py " + __import__("backtesting").__version__,
        "seconds": best,
        "candles_per_s": count / best,
        "cpu_seconds": best_cpu,
        "peak_rss_mb": peak_rss_mb(),
        "trades": int(stats["# Trades"]),
        "final_equity": float(stats["Equity Final [$]"]),
    }


def run_ats_vectorised(count: int, repeat: int) -> dict[str, Any]:
    return run_ats(count, repeat, vectorised=True)


ENGINES = {
    "ats": run_ats,
    "backtesting_py": run_backtesting_py,
    "ats_vectorised": run_ats_vectorised,
}


def child(engine: str, count: int, repeat: int) -> dict[str, Any]:
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--engine",
            engine,
            "--candles",
            str(count),
            "--repeat",
            str(repeat),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engine", choices=ENGINES, help="internal: run one engine and print JSON")
    args = parser.parse_args()
    if args.engine:
        print(json.dumps(ENGINES[args.engine](args.candles, args.repeat)))
        return
    load_before = os.getloadavg()[0]  # the machine may be shared: say how busy
    results = [child(engine, args.candles, args.repeat) for engine in ENGINES]
    ours, peer, vectorised = results
    print(f"{args.candles:,} one-minute candles, sma_cross({FAST},{SLOW}), best of {args.repeat}")
    for result in results:
        print(
            f"  {result['engine']:<26} {result['candles_per_s']:>12,.0f} candles/s"
            f"  {result['seconds']:7.3f} s ({args.candles / result['cpu_seconds']:>11,.0f}"
            f" per CPU-second)  peak RSS {result['peak_rss_mb']:6.1f} MB"
            f"  trades {result['trades']:>6}  final equity {result['final_equity']:,.2f}"
        )
    print(f"  ratio ATS / backtesting.py: {ours['candles_per_s'] / peer['candles_per_s']:.2f}x")
    print(
        "  ratio ATS vectorised / backtesting.py: "
        f"{vectorised['candles_per_s'] / peer['candles_per_s']:.2f}x"
    )
    drift = abs(ours["final_equity"] / peer["final_equity"] - 1)
    print(f"  final equity difference: {drift:.2e} (relative)")
    print(f"  load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
