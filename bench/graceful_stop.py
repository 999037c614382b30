"""Graceful stop with 8 jobs: time from the signal to a clean exit with every job saved.

    .venv/bin/python bench/graceful_stop.py [--candles N] [--rounds N] [--fast N --slow N]

Saves 8 jobs with ``ats jobs add --start`` in a temporary saved_states directory: 4
back_trading sma_cross(``--fast``, ``--slow``) backtests on ``--candles`` generated
1-minute candles (``--fast 10 --slow 30`` gives tens of thousands of orders per job, the
heaviest snapshots) and 4
paper replays of the same candles at full speed. Then, for SIGTERM, SIGHUP
and SIGINT, ``--rounds`` times each: start ``ats --no-ui`` (which resumes all 8), wait
until every job's snapshot shows progress, send the signal, and time the exit. Each
exit must be status 0 with all 8 snapshots saved as running, further along than before.

Reported: exit time per signal (median and max) against the 2 s target of issue 4, the
snapshot bytes written, and, as the reference from the same run, how long the same
process takes to exit with no job running (start-up and shutdown floor).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ats.persistence.snapshot_store import SnapshotStore
from ats.utils.synthetic_candles import cached_parquet

TARGET_SECONDS = 2.0


def job_yaml(directory: Path, name: str, exchange: dict[str, Any], fast: int, slow: int) -> Path:
    config = {
        "name": name,
        "symbol": "BTC/USDT",
        "balances": {"USDT": 10_000},
        "exchange": exchange,
        "strategy": {"name": "sma_cross", "params": {"fast": fast, "slow": slow}},
        "fees": {"name": "flat_rate", "params": {"rate": 0.001}},
    }
    path = directory / f"{name}.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def ats(*args: str) -> list[str]:
    return [sys.executable, "-m", "ats.cli", *args]


def environment(state: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ATS_")}
    env.update({"ATS_SAVED_STATES_DIR": str(state), "TERM": "dumb", "COLUMNS": "120"})
    env["ATS_SNAPSHOT_INTERVAL_S"] = "0.5"  # progress is read from the snapshots
    return env


def progress(state: Path, job_id: str) -> int:
    payload = SnapshotStore.read(state / f"{job_id}.json", job_id).payload
    if payload is None:
        return -1
    exchange = payload["exchange"]
    return int(exchange["feed"]["cursor"] if "feed" in exchange else exchange["cursor"])


def wait_until(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("jobs made no progress in time")
        time.sleep(0.05)


def one_stop(state: Path, ids: list[str], stop_signal: signal.Signals) -> float:
    before = {job_id: progress(state, job_id) for job_id in ids}
    process = subprocess.Popen(
        ats("--no-ui"),
        env=environment(state),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: all(progress(state, i) > before[i] for i in ids), timeout=120)
        time.sleep(0.5)  # all eight busy, not just started
        began = time.perf_counter()
        process.send_signal(stop_signal)
        process.wait(timeout=30)
        elapsed = time.perf_counter() - began
    finally:
        if process.poll() is None:
            process.kill()
    if process.returncode != 0:
        raise RuntimeError(f"ats exited {process.returncode}: {process.stderr.read()}")  # type: ignore[union-attr]
    for job_id in ids:
        payload = SnapshotStore.read(state / f"{job_id}.json", job_id).payload
        assert payload is not None and payload["status"] == "running", job_id
        assert progress(state, job_id) > before[job_id], job_id
    return elapsed


def idle_exit(state: Path) -> float:
    """Start-up-to-exit floor: the same command with one saved job that is not running."""
    process = subprocess.Popen(
        ats("--no-ui"), env=environment(state), stdout=subprocess.DEVNULL, text=True
    )
    began = time.perf_counter()
    process.wait(timeout=60)
    return time.perf_counter() - began


def main(args: argparse.Namespace) -> dict[str, Any]:
    data = cached_parquet(args.candles)
    with tempfile.TemporaryDirectory(prefix="ats-graceful-") as temporary:
        root = Path(temporary)
        state = root / "state"
        exchanges = {
            "backtest": {"name": "back_trading", "params": {"data": str(data)}},
            "replay": {
                "name": "paper",
                "params": {"feed": "replay", "data": str(data), "speed": 0},
            },
        }
        ids = [f"{kind}-{index}" for kind in exchanges for index in range(4)]
        for job_id in ids:
            exchange = exchanges[job_id.split("-")[0]]
            path = job_yaml(root, job_id, exchange, args.fast, args.slow)
            subprocess.run(
                ats("jobs", "add", str(path), "--start", "--id", job_id),
                env=environment(state),
                check=True,
            )
        timings: dict[str, list[float]] = {}
        for stop_signal in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            timings[stop_signal.name] = [
                one_stop(state, ids, stop_signal) for _ in range(args.rounds)
            ]
        snapshot_bytes = sum(path.stat().st_size for path in state.glob("*.json"))
        floor_state = root / "floor"
        path = job_yaml(
            root, "idle", {"name": "back_trading", "params": {"data": str(data)}}, 10, 30
        )
        subprocess.run(ats("jobs", "add", str(path)), env=environment(floor_state), check=True)
        floor = statistics.median(idle_exit(floor_state) for _ in range(3))
    every = [t for values in timings.values() for t in values]
    return {
        "jobs": f"4 back_trading sma_cross({args.fast},{args.slow}) + 4 paper replays",
        "candles_per_backtest": args.candles,
        "timings_s": timings,
        "median_s": statistics.median(every),
        "max_s": max(every),
        "snapshot_bytes": snapshot_bytes,
        "idle_process_s": floor,
        "target_s": TARGET_SECONDS,
        "target_met": max(every) < TARGET_SECONDS,
    }


def report(results: dict[str, Any]) -> str:
    lines = [
        f"graceful stop, {results['jobs']}, {results['candles_per_backtest']:,} candles each",
    ]
    for name, values in results["timings_s"].items():
        shown = ", ".join(f"{value:.2f}" for value in values)
        lines.append(f"  {name:8} exit after {shown} s")
    lines.append(
        f"  all: median {results['median_s']:.2f} s, max {results['max_s']:.2f} s "
        f"(target < {results['target_s']:g} s); snapshots "
        f"{results['snapshot_bytes'] / 1e6:.1f} MB"
    )
    lines.append(
        f"  reference: start-to-exit of the same command with no job to run "
        f"{results['idle_process_s']:.2f} s; ratio max/reference "
        f"{results['max_s'] / results['idle_process_s']:.2f}"
    )
    lines.append("target met" if results["target_met"] else "TARGET MISSED")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candles", type=int, default=6_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--fast", type=int, default=50)
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--json", type=Path, metavar="OUT")
    arguments = parser.parse_args()
    figures = main(arguments)
    print(report(figures))
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(figures, indent=2) + "\n")
