"""What a backtest's report costs: compute_metrics on 1M equity samples and 10k trades.

    .venv/bin/python bench/metrics_speed.py [--samples 1000000] [--trades 10000] [--rounds 5]

Every finished backtest computes its metrics once (ats/trading_job/metrics.py); a sweep
does it once per trial. The target is ~0.03 s for 1M samples (it was a test's 0.25 s
limit, which a loaded machine could break; tests/unit/test_metrics.py now checks the figures).

The peer, from the same run: the vectorised floor of the same work in pandas (returns,
running-maximum drawdown, Sharpe and Sortino of the same curve, no trade statistics), as
a ratio.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from ats.exchanges.data_classes import Trade
from ats.trading_job.metrics import compute_metrics


def best_of(rounds: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(rounds):
        began = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - began)
    return best


def main(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(0)
    timestamps = np.arange(args.samples, dtype=np.int64) * 60_000
    equity = 10_000 * np.cumprod(1 + rng.normal(0, 1e-3, args.samples))
    spacing = args.samples // args.trades
    trades = [
        Trade("BTC/USDT", int(timestamps[i]), 100.0, 1.0, int(timestamps[i + 5]), 100.0, 0.0, p)
        for i, p in zip(np.arange(args.trades) * spacing, rng.normal(size=args.trades), strict=True)
    ]

    def ats() -> object:
        return compute_metrics(
            timestamps=timestamps,
            equity=equity,
            trades=trades,
            fees_paid=0.0,
            timeframe_ms=60_000,
            first_price=1.0,
            last_price=1.0,
        )

    def pandas_floor() -> object:
        curve = pd.Series(equity)
        returns = curve.pct_change().dropna()
        drawdown = (curve / curve.cummax() - 1).min()
        yearly = np.sqrt(365 * 24 * 60)
        sharpe = returns.mean() / returns.std() * yearly
        sortino = returns.mean() / returns[returns < 0].std() * yearly
        return drawdown, sharpe, sortino

    ours, peer = best_of(args.rounds, ats), best_of(args.rounds, pandas_floor)
    print(f"{args.samples:,} equity samples, {args.trades:,} trades (best of {args.rounds})")
    print(f"compute_metrics (ATS):          {1000 * ours:7.1f} ms   (target ~30 ms)")
    print(f"pandas returns/drawdown (peer): {1000 * peer:7.1f} ms")
    print(f"compute_metrics / pandas floor: {ours / peer:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    main(parser.parse_args())
