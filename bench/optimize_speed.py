"""Optimisation speed: ``ats optimize`` vs backtesting.py's ``Backtest.optimize``, same grid.

    .venv/bin/python bench/optimize_speed.py [--candles 200000] [--workers 1,2] [--repeat 3]
    .venv/bin/python bench/optimize_speed.py --scaling-only   # 1 vs 2 workers, nothing else
    .venv/bin/python bench/before_after.py --before CHECKOUT --figure scaling.ratio \
        --figure scaling.amdahl -- bench/optimize_speed.py --scaling-only   # uses --json OUT

The grid: sma_cross with fast = 5, 10, ... 50 and slow = 60, 80, ... 240 (100
combinations, all with fast < slow), on 200,000 one-minute candles generated with a fixed
seed; next-open fills, 0.1% fee per side, 10,000 USDT, maximising the final equity. Each
engine runs in its own child process:

* ATS: the whole ``ats optimize`` command (start-up, loading the candles, the worker
  pool, every trial, and re-running the best trial per candle to check it), ``--repeat``
  times per ``--workers`` value, the counts taking turns, each run with an empty state
  directory so no trial comes from the journal. The parsed-candle cache is warm, as every
  sweep of a file but the first finds it (``--cold-cache``: each run parses the Parquet
  file, about 0.05 s more of serial start-up). By default the trials run sma_cross's
  ``populate_signals`` (it has one);
* backtesting.py 0.6.6: only the ``FractionalBacktest.optimize`` call (its pool uses every
  core), not its imports or building its DataFrame.

ATS also runs the same sweeps with ``--per-candle`` (every trial through ``on_candle``,
same trades). Printed: the fastest time of each (on a shared machine the slower runs are
other processes' doing), the best parameters and final equity of each (they must agree),
the ratios backtesting.py / ATS with the most workers, and the scaling of each path from
the fewest workers to the most, with every run's time and the load average when it
started. Beside the measured scaling, the one Amdahl's law predicts from the one-worker
run's serial part (start-up before the first trial and everything after the last, from
the trial journal's timestamps). Both are wall-clock figures: on a busy machine a second
worker finds no free core, so both read low; measure at a load average below 1.

And the machine's own part in the scaling, measured in the same run: one trial's
backtest (fast=25, slow=160) timed alone and then in two processes at once, taking
turns. On a virtual machine two busy cores may share a physical core or a lower clock,
and a trial is mostly Python: if two at once run each z times slower, two workers can
make the trials at most 2/z times faster, whatever the sweep does.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
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
        load = os.getloadavg()[0]
        began, began_at = time.perf_counter(), time.time()
        # cwd: not a checkout, whose ats/ the fork server's ``python -c`` would import first
        environment = {**os.environ, "ATS_SAVED_STATES_DIR": state}
        subprocess.run(command, check=True, env=environment, cwd=state)
        seconds = time.perf_counter() - began
        sweep = json.loads(out.read_text())
        with sqlite3.connect(Path(state) / "research.sqlite3") as journal:
            finished = sorted(at for (at,) in journal.execute("SELECT finished_at FROM trials"))
    best = sweep["best"]
    return {
        "engine": f"ats optimize --workers {workers}" + (" --per-candle" if per_candle else ""),
        "workers": workers,
        "seconds": seconds,
        "load": load,
        "trials": len(sweep["trials"]),
        "best": best["params"],
        "final_equity": best["final_equity"],
        "checked": sweep.get("per_candle_check"),
        "serial": serial_seconds(seconds, [at - began_at for at in finished]),
    }


def serial_seconds(seconds: float, finished: list[float]) -> float:
    """The part of a one-worker run that is not trials: start-up before the first trial,
    and whatever follows the last (the per-candle check, writing the output, exit).

    One worker runs the trials back to back, so they span from the last one's end back
    to the first one's end plus one mean trial (the first trial's own start is not
    journaled).
    """
    if len(finished) < 2:
        return float("nan")
    mean = (finished[-1] - finished[0]) / (len(finished) - 1)
    return seconds - (finished[-1] - finished[0] + mean)


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


def _time_trial(data: Path, repeat: int) -> list[float]:
    """Seconds of each of ``repeat`` runs of one trial (in this process, candles loaded)."""
    from ats.data.candle_cache import load_candles_cached
    from ats.research.trial import TrialTask, run_trial
    from ats.trading_job.job_config import parse_job_config

    candles = load_candles_cached(data)
    base = parse_job_config(
        {
            "name": "contention",
            "balances": {"USDT": CASH},
            "exchange": {"name": "back_trading", "params": {"data": str(data)}},
            "strategy": {"name": "sma_cross", "params": {"fast": 25, "slow": 160}},
            "fees": {"name": "flat_rate", "params": {"rate": FEE}},
            "vectorised": True,
        }
    )
    times = []
    for number in range(repeat + 1):  # the first run warms up
        began = time.perf_counter()
        run_trial(base, candles, TrialTask(number, {}))
        times.append(time.perf_counter() - began)
    return times[1:]


def trial_contention(data: Path, rounds: int = 3, repeat: int = 10) -> dict[str, float]:
    """Median seconds of a trial alone and with another one running on the other core."""
    import multiprocessing

    alone: list[float] = []
    paired: list[float] = []
    context = multiprocessing.get_context("fork")
    for _ in range(rounds):
        with context.Pool(1) as pool:
            alone += pool.apply(_time_trial, (data, repeat))
        with context.Pool(2) as pool:
            for times in pool.starmap(_time_trial, [(data, repeat)] * 2):
                paired += times
    one, two = statistics.median(alone), statistics.median(paired)
    return {"alone_seconds": one, "paired_seconds": two, "slowdown": two / one}


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


def fastest(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The fastest run of each worker count, fewest workers first (repeated runs: the
    others were slowed by the machine's other processes, not by ATS)."""
    counts = sorted({run["workers"] for run in runs})
    return [min((r for r in runs if r["workers"] == n), key=lambda r: r["seconds"]) for n in counts]


def print_scaling(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Fewest to most workers: the measured ratio, and the one Amdahl's law predicts
    from the one-worker run's serial part (which load disturbs less than the ratio)."""
    best = fastest(runs)
    if len(best) < 2:
        return {}
    few, many = best[0], best[-1]
    serial = few["serial"]
    ratio = many["workers"] / few["workers"]
    predicted = few["seconds"] / (serial + (few["seconds"] - serial) / ratio)
    loads = ", ".join(
        f"{run['seconds']:.2f} s at load {run['load']:.2f}"
        for run in runs
        if run["workers"] in (few["workers"], many["workers"])
    )
    print(
        f"  scaling {few['engine']} -> {many['engine']}: "
        f"{few['seconds'] / many['seconds']:.2f}x (fastest of each; every run: {loads})"
    )
    print(
        f"    serial part of the fastest {few['engine']}: {serial:.2f} s of "
        f"{few['seconds']:.2f} s ({serial / few['seconds']:.0%}); Amdahl's law predicts "
        f"{predicted:.2f}x with {many['workers']} workers on free cores"
    )
    return {
        "ratio": few["seconds"] / many["seconds"],
        "amdahl": predicted,
        "serial_seconds": serial,
        "fewest_seconds": few["seconds"],
        "most_seconds": many["seconds"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candles", type=int, default=200_000)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts for ATS")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each ATS sweep (the fastest counts)"
    )
    parser.add_argument(
        "--scaling-only",
        action="store_true",
        help="only the default sweep at each worker count (no --per-candle, no backtesting.py)",
    )
    parser.add_argument(
        "--cold-cache",
        action="store_true",
        help="every ATS run parses the Parquet file (default: the parsed-candle cache is warm)",
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the figures as JSON")
    engines = ("ats", "backtesting_py", "contention")
    parser.add_argument("--engine", choices=engines, help="internal")
    parser.add_argument("--per-candle", action="store_true", help="internal")
    parser.add_argument("--data", type=Path, help="internal")
    args = parser.parse_args()
    if args.engine == "ats":
        print(json.dumps(run_ats(args.data, int(args.workers), args.per_candle)))
        return
    if args.engine == "contention":
        print(json.dumps(trial_contention(args.data)))
        return
    if args.engine == "backtesting_py":
        print(json.dumps(run_backtesting_py(args.candles)))
        return
    from ats.utils.synthetic_candles import cached_parquet

    load_before = os.getloadavg()[0]  # the machine may be shared: say how busy
    data = cached_parquet(args.candles)
    cache = tempfile.TemporaryDirectory()
    if not args.cold_cache:  # as a trader's second sweep on a file finds it
        from ats.data.candle_cache import load_candles_cached

        os.environ["ATS_CANDLE_CACHE_DIR"] = cache.name  # every run's child inherits it
        load_candles_cached(data)
    counts = sorted({int(n) for n in args.workers.split(",")})

    def sweeps(*flags: str) -> list[dict[str, Any]]:
        """Every run, worker counts taking turns (load that comes and goes hits each)."""
        return [
            child(["--engine", "ats", "--data", str(data), "--workers", str(n), *flags])
            for _ in range(max(args.repeat, 1))
            for n in counts
        ]

    all_ours = sweeps()
    ours = fastest(all_ours)
    all_per_candle = [] if args.scaling_only else sweeps("--per-candle")
    per_candles = fastest(all_per_candle)
    peer = (
        None
        if args.scaling_only
        else child(["--engine", "backtesting_py", "--candles", str(args.candles)])
    )
    grid = len(FAST) * len(SLOW)
    print(
        f"{args.candles:,} one-minute candles, sma_cross grid of {grid}, objective final equity; "
        + ("every ATS run parses the Parquet file" if args.cold_cache else "candle cache warm")
    )
    for result in [*ours, *per_candles, *([peer] if peer else [])]:
        print(
            f"  {result['engine']:<38} {result['seconds']:8.2f} s  {result['trials']} trials"
            f"  best {result['best']}  final equity {result['final_equity']:,.4f}"
        )
    for result in ours:
        checks = result["checked"] or []
        agree = bool(checks) and all(check["identical"] for check in checks)
        print(f"  {result['engine']}: best trial re-run per candle, identical: {agree}")
    runs = [*all_ours, *all_per_candle]
    same = all(result["best"] == ours[-1]["best"] for result in runs)
    if peer is not None:
        fastest_ours, per_candle = ours[-1], per_candles[-1]
        same = same and peer["best"] == fastest_ours["best"]
        drift = abs(fastest_ours["final_equity"] / peer["final_equity"] - 1)
        print(f"  same best parameters: {same}; final equity difference {drift:.1e} (relative)")
        for result in (fastest_ours, per_candle):
            print(
                f"  ratio backtesting.py / {result['engine']}: "
                f"{peer['seconds'] / result['seconds']:.2f}x"
            )
    else:
        print(f"  same best parameters in every run: {same}")
    scaling = {
        "scaling": print_scaling(all_ours),
        "per_candle_scaling": print_scaling(all_per_candle),
    }
    contention = child(["--engine", "contention", "--data", str(data)])
    print(
        f"  this machine: one trial {contention['alone_seconds'] * 1e3:.1f} ms alone, "
        f"{contention['paired_seconds'] * 1e3:.1f} ms with another on the other core "
        f"({contention['slowdown']:.2f}x): two workers can make trials at most "
        f"{2 / contention['slowdown']:.2f}x faster here"
    )
    print(f"  load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    if args.json:
        figures: dict[str, Any] = {
            **scaling,
            "contention": contention,
            "load_before": load_before,
            "runs": runs,
        }
        if peer is not None:
            figures["ratio_backtesting_py"] = peer["seconds"] / ours[-1]["seconds"]
        args.json.write_text(json.dumps(figures, indent=2))
    cache.cleanup()


if __name__ == "__main__":
    main()
