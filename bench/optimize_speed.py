"""Optimisation speed: ``ats optimize`` vs backtesting.py's ``Backtest.optimize``, same grid.

    .venv/bin/python bench/optimize_speed.py [--candles 200000] [--workers 1,2]

The grid: sma_cross with fast = 5, 10, ... 50 and slow = 60, 80, ... 240 (100
combinations, all with fast < slow), on 200,000 one-minute candles generated with a fixed
seed; next-open fills, 0.1% fee per side, 10,000 USDT, maximising the final equity. Each
engine runs in its own child process:

* ATS: the whole ``ats optimize`` command (start-up, reading the Parquet file, the worker
  pool, every trial, and re-running the best trial per candle to check it), once per
  ``--workers`` value, each with an empty state directory so no trial comes from the
  journal. By default the trials run sma_cross's ``populate_signals`` (it has one);
* backtesting.py 0.6.6: only the ``FractionalBacktest.optimize`` call (its pool uses every
  core), not its imports or building its DataFrame.

ATS also runs the same sweeps with ``--per-candle`` (every trial through ``on_candle``,
same trades). Printed: each time, the best parameters and final equity of each (they must
agree), the ratios backtesting.py / ATS with the most workers, and the scaling of each
path from the fewest workers to the most.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from backtesting import Strategy
from backtesting.lib import crossover

FAST = range(5, 55, 5)
SLOW = range(60, 260, 20)
CASH, FEE = 10_000.0, 0.001


def run_ats(data: Path, workers: int, per_candle: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as state:
        out = Path(state) / "sweep.json"
        command = [
            str(Path(sys.executable).with_name("ats")),
            "optimize",
            "--strategy",
            "sma_cross",
            "--data",
            str(data),
            "--param",
            f"fast={FAST.start}:{FAST.stop - FAST.step}:{FAST.step}",
            "--param",
            f"slow={SLOW.start}:{SLOW.stop - SLOW.step}:{SLOW.step}",
            "--cash",
            str(CASH),
            "--fee",
            str(FEE),
            "--objective",
            "final_equity",
            "--workers",
            str(workers),
            "--json",
            str(out),
            "--quiet",
            *(["--per-candle"] if per_candle else []),
        ]
        began = time.perf_counter()
        subprocess.run(command, check=True, env={**os.environ, "ATS_SAVED_STATES_DIR": state})
        seconds = time.perf_counter() - began
        sweep = json.loads(out.read_text())
    best = sweep["best"]
    return {
        "engine": f"ats optimize --workers {workers}" + (" --per-candle" if per_candle else ""),
        "seconds": seconds,
        "trials": len(sweep["trials"]),
        "best": best["params"],
        "final_equity": best["final_equity"],
        "checked": sweep.get("per_candle_check"),
    }


def _sma(values: np.ndarray, period: int) -> np.ndarray:
    return pd.Series(values).rolling(period).mean().to_numpy()


class SmaCross(Strategy):
    """The peer's sma_cross (at module level: its pool pickles the class by name)."""

    fast = 50
    slow = 200

    def init(self) -> None:
        self.fast_sma = self.I(_sma, self.data.Close, self.fast)
        self.slow_sma = self.I(_sma, self.data.Close, self.slow)

    def next(self) -> None:
        if crossover(self.fast_sma, self.slow_sma) and not self.position:
            self.buy()
        elif crossover(self.slow_sma, self.fast_sma) and self.position:
            self.position.close()


def run_backtesting_py(count: int) -> dict[str, Any]:
    import warnings

    from backtesting.lib import FractionalBacktest

    from ats.utils.synthetic_candles import make_candles

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
    warnings.filterwarnings("ignore")
    backtest = FractionalBacktest(frame, SmaCross, cash=CASH, commission=FEE, finalize_trades=False)
    began = time.perf_counter()
    stats, heatmap = backtest.optimize(
        fast=list(FAST), slow=list(SLOW), maximize="Equity Final [$]", return_heatmap=True
    )
    seconds = time.perf_counter() - began
    strategy = stats["_strategy"]
    return {
        "engine": "backtesting.py " + __import__("backtesting").__version__ + " optimize",
        "seconds": seconds,
        "trials": int(heatmap.notna().sum()),
        "best": {"fast": int(strategy.fast), "slow": int(strategy.slow)},
        "final_equity": float(stats["Equity Final [$]"]),
    }


def child(arguments: list[str]) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, *arguments], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=200_000)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts for ATS")
    parser.add_argument("--engine", choices=("ats", "backtesting_py"), help="internal")
    parser.add_argument("--per-candle", action="store_true", help="internal")
    parser.add_argument("--data", type=Path, help="internal")
    args = parser.parse_args()
    if args.engine == "ats":
        print(json.dumps(run_ats(args.data, int(args.workers), args.per_candle)))
        return
    if args.engine == "backtesting_py":
        print(json.dumps(run_backtesting_py(args.candles)))
        return
    from ats.utils.synthetic_candles import cached_parquet

    load_before = os.getloadavg()[0]  # the machine may be shared: say how busy
    data = cached_parquet(args.candles)
    counts = sorted({int(n) for n in args.workers.split(",")})
    ours = [child(["--engine", "ats", "--data", str(data), "--workers", str(n)]) for n in counts]
    per_candles = [
        child(["--engine", "ats", "--data", str(data), "--workers", str(n), "--per-candle"])
        for n in counts
    ]
    per_candle = per_candles[-1]
    peer = child(["--engine", "backtesting_py", "--candles", str(args.candles)])
    grid = len(FAST) * len(SLOW)
    print(f"{args.candles:,} one-minute candles, sma_cross grid of {grid}, objective final equity")
    for result in [*ours, *per_candles, peer]:
        print(
            f"  {result['engine']:<38} {result['seconds']:8.2f} s  {result['trials']} trials"
            f"  best {result['best']}  final equity {result['final_equity']:,.4f}"
        )
    for result in ours:
        checks = result["checked"] or []
        agree = bool(checks) and all(check["identical"] for check in checks)
        print(f"  {result['engine']}: best trial re-run per candle, identical: {agree}")
    fastest = ours[-1]
    same = all(result["best"] == peer["best"] for result in [*ours, *per_candles])
    drift = abs(fastest["final_equity"] / peer["final_equity"] - 1)
    print(f"  same best parameters: {same}; final equity difference {drift:.1e} (relative)")
    print(
        f"  ratio backtesting.py / {fastest['engine']}: {peer['seconds'] / fastest['seconds']:.2f}x"
    )
    print(
        f"  ratio backtesting.py / {per_candle['engine']}: "
        f"{peer['seconds'] / per_candle['seconds']:.2f}x"
    )
    if len(ours) > 1:
        for runs in (ours, per_candles):
            print(
                f"  scaling {runs[0]['engine']} -> {runs[-1]['engine']}: "
                f"{runs[0]['seconds'] / runs[-1]['seconds']:.2f}x"
            )
    print(f"  load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
