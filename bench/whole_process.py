"""Whole-process backtest time: ``ats backtest`` on cached candles vs backtesting.py.

    .venv/bin/python bench/whole_process.py [--candles 1000000] [--repeat 3]

Both engines start as fresh processes on the same CSV file (bench/backtest_speed.py's
1,000,000 generated one-minute candles): SMA(50)/SMA(200) crossover, long only,
next-open fills, 0.1% fee, 10,000 USDT. Each is timed from process start to exit, as
``time`` would, best of ``--repeat``:

- ATS: ``ats backtest ... --quiet``, after one first run that parsed the CSV and filled
  the candle cache (that first run is shown too), event-driven and ``--vectorised``;
- backtesting.py: a script that reads the CSV with pandas and runs ``Backtest.run``.

Also shown: what the ATS process spends importing its modules, and the ratio.
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

FAST, SLOW, CASH, FEE = 50, 200, 10_000.0, 0.001

PEER = """
import sys
import pandas as pd
from backtesting import Strategy
from backtesting.lib import FractionalBacktest, crossover

FAST, SLOW, CASH, FEE = {fast}, {slow}, {cash}, {fee}

def sma(values, period):
    return pd.Series(values).rolling(period).mean().to_numpy()

class SmaCross(Strategy):
    def init(self):
        self.fast = self.I(sma, self.data.Close, FAST)
        self.slow = self.I(sma, self.data.Close, SLOW)

    def next(self):
        if crossover(self.fast, self.slow) and not self.position:
            self.buy()
        elif crossover(self.slow, self.fast) and self.position:
            self.position.close()

frame = pd.read_csv(sys.argv[1], index_col="time", parse_dates=True)
frame.index = frame.index.tz_localize(None)
frame.columns = [name.capitalize() for name in frame.columns]
stats = FractionalBacktest(frame, SmaCross, cash=CASH, commission=FEE, finalize_trades=False).run()
print(int(stats["# Trades"]), float(stats["Equity Final [$]"]))
"""

IMPORTS = """
import time
began = time.perf_counter()
import ats.cli, ats.headless.runner, ats.trading_job.job_manager
import ats.exchanges.exchanges.back_trading.exchange, ats.strategies.sma_cross.strategy
print(time.perf_counter() - began)
"""


def make_csv(count: int) -> Path:
    """The generated candles as CSV, written once per size into the temp directory."""
    from ats.data.candle_writer import save_candles_csv
    from ats.data.candles import CandleData
    from ats.utils.synthetic_candles import make_candles

    path = Path(tempfile.gettempdir()) / "ats-bench" / f"candles-{count}.csv"
    if not path.exists():
        columns = make_candles(count)
        save_candles_csv(CandleData(path=path, timeframe_ms=60_000, **columns), path)
    return path


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    began = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - began, result.stdout


def ats_command(data: Path, report: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ats.cli",
        "backtest",
        "--strategy",
        "sma_cross",
        "--param",
        f"fast={FAST}",
        "--param",
        f"slow={SLOW}",
        "--cash",
        str(CASH),
        "--fee",
        str(FEE),
        "--data",
        str(data),
        "--quiet",
        "--json",
        str(report),
        *extra,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]  # the machine may be shared: say how busy
    data = make_csv(args.candles)
    with tempfile.TemporaryDirectory(prefix="ats-whole-process-") as scratch:
        env = {**os.environ, "ATS_CANDLE_CACHE_DIR": str(Path(scratch) / "cache")}
        report = Path(scratch) / "report.json"
        first, _ = timed(ats_command(data, report), env)
        ats = min(timed(ats_command(data, report), env)[0] for _ in range(args.repeat))
        ours = json.loads(report.read_text())
        vectorised = min(
            timed(ats_command(data, report, "--vectorised"), env)[0] for _ in range(args.repeat)
        )
        imports = min(
            float(timed([sys.executable, "-c", IMPORTS], env)[1]) for _ in range(args.repeat)
        )
        peer_script = PEER.format(fast=FAST, slow=SLOW, cash=CASH, fee=FEE)
        runs = [
            timed([sys.executable, "-c", peer_script, str(data)], env) for _ in range(args.repeat)
        ]
        peer = min(seconds for seconds, _ in runs)
        peer_trades, peer_equity = runs[0][1].split()
    print(
        f"{args.candles:,} one-minute candles ({data}), sma_cross({FAST},{SLOW}), whole processes"
    )
    print(f"  ATS first run (parses the CSV, fills the cache) {first:7.2f} s")
    print(
        f"  ATS backtest, cached candles                  {ats:7.2f} s  (imports {imports:.2f} s)"
    )
    print(f"  ATS backtest --vectorised, cached candles      {vectorised:7.2f} s")
    print(f"  backtesting.py (pandas read_csv + run)        {peer:7.2f} s")
    print(
        f"  trades {len(ours['trades'])} vs {peer_trades}, final equity "
        f"{ours['final_equity']:,.2f} vs {float(peer_equity):,.2f}"
    )
    print(f"  ratio backtesting.py / ATS: {peer / ats:.2f}x (vectorised {peer / vectorised:.2f}x)")
    print(f"  load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
